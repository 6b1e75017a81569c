// DPDK telemetry commands, so that `dpdk-telemetry.py -f vxmesh-PID` shows vxmesh:
//   /vxmesh/stats       counters and per-port rx/tx, summed over lcores
//   /vxmesh/drops       packets dropped, by reason
//   /vxmesh/generation  generation of the tables in force
// The callbacks run on EAL's telemetry thread: they read the per-lcore counters
// (plain 64-bit loads) and an atomic generation, nothing the control thread mutates.
#pragma once

#include "control/stats_format.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace vxmesh::control {

// Register once after the ports are open; `generation` must outlive EAL.
void telemetry_register(std::vector<NamedPort> ports, const std::atomic<uint64_t>* generation);

} // namespace vxmesh::control
