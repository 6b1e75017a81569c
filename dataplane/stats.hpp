// Counters summed over every lcore, for printing and export.
#pragma once

#include "dataplane/counter_names.hpp"
#include "dataplane/lcore.hpp"

#include <rte_ethdev.h>

#include <array>
#include <mutex>
#include <string>

namespace vxmesh::dp {

// What a port's device (the PMD) counts and vxmesh cannot: packets its receive ring had
// no room for, receive buffers it could not get, frames in error. Read from
// rte_eth_stats_get, never reset. Named (stats, telemetry and Prometheus all print
// from it) by dataplane/counter_names.hpp's port_counter_names, in this order.
inline constexpr std::array<uint64_t rte_eth_stats::*, port_counter_names.size()>
    port_counter_fields = {&rte_eth_stats::imissed, &rte_eth_stats::rx_nombuf,
                           &rte_eth_stats::ierrors, &rte_eth_stats::oerrors};

using PortCounters = std::array<uint64_t, port_counter_fields.size()>;

// The device's counters for `port`, in port_counter_names' order; zeros when it has none.
// For an af_packet port, rx_missed includes what the kernel dropped because the
// socket's receive ring was full (PACKET_STATISTICS), which the PMD does not report.
PortCounters port_device_counters(uint16_t port);

// Called when `port` is opened from `device` (a DPDK device string): for
// net_af_packet…,iface=NAME, port_device_counters reads the kernel's drops too.
void port_track_kernel_drops(uint16_t port, const std::string& device);

// Held while a port's device counters are read (the control and telemetry threads both
// read them) and while dataplane/ports.hpp's reopen_port replaces the device.
std::recursive_mutex& port_device_lock();

// Called, with port_device_lock() held, before `port` is closed to be opened again: what
// its device and its kernel sockets counted so far is kept, so that the port's counters
// never go back.
void port_retire_counters(uint16_t port);

// Sum of every lcore's block (plain reads: each field is written by one thread and a
// 64-bit aligned load is never torn on the platforms DPDK supports).
LcoreStats stats_total();

} // namespace vxmesh::dp
