// Port set-up: the mbuf pool and one configured, started ethdev per config port.
// Failures throw std::runtime_error naming the port, its device and DPDK's error.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

namespace vxmesh::dp {

struct PortSpec {
    std::string name;    // the config's name for it ("underlay", "c1", ...)
    std::string device;  // DPDK device string
};

struct OpenPort {
    std::string name;
    std::string device;
    uint16_t id = 0;
    rte_ether_addr mac{};
};

// The ethdev name a device string creates: the part before the first ','.
std::string device_ethdev_name(const std::string& device);

// Whether a device string names a virtual device (passed with --vdev) rather than PCI.
bool device_is_vdev(const std::string& device);

rte_mempool* create_mbuf_pool(unsigned mbufs);

// Configure `queues` rx and tx queues, promiscuous mode on, start the port.
OpenPort open_port(const PortSpec& spec, uint16_t queues, rte_mempool* pool);

void close_port(const OpenPort& port);

} // namespace vxmesh::dp
