// Port set-up: the mbuf pool and one configured, started ethdev per config port.
// Failures throw std::runtime_error naming the port, its device and DPDK's error.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vxmesh::dp {

struct PortSpec {
    std::string name;   // the config's name for it ("underlay", "c1", ...)
    std::string device; // DPDK device string
};

struct OpenPort {
    std::string name;
    std::string device;
    uint16_t id = 0;
    rte_ether_addr mac{};
    // The PMD reads a kernel interface's buffers (net_af_packet): frames may carry what
    // the sender's offloads left undone (dataplane/l4_offload.hpp).
    bool kernel_buffers = false;
    // The kernel interface the PMD's sockets are bound to (net_af_packet's iface=), and
    // its index when the port was opened: dataplane/port_watch.hpp follows it.
    std::string iface;
    unsigned ifindex = 0;
    // What the port was opened with, to open it again.
    uint16_t queues = 0;
    rte_mempool* pool = nullptr;
    // The hash types RSS spreads the rx queues by (rss_hash_types), 0 without RSS: one
    // queue, or a device that has none (af_packet spreads its queues itself, by a fanout
    // hash in the kernel).
    uint64_t rss = 0;
};

// af_packet frames big enough for a GSO super-frame: TCP builds at most 64 KB less its
// header reserve (about 65.27 KB of IPv4 at most), which TPACKET_V2 stores 34 bytes into
// its frame. 65408 is the largest frame (a multiple of 16) whose copy fits one mbuf,
// whose data room is 16 bits: the PMD requires framesz - 32 to fit the pool's buffers.
// The PMD finds frame i at i × framesz, so a block (whole pages) must hold whole frames:
// 32 of them (511 pages). 128 frames: 8 MiB of kernel memory per queue (the PMD's
// defaults, 512 frames of 2 KB, cut every super-frame to 2 KB).
inline constexpr uint32_t af_packet_frame_size = 65408;
inline constexpr uint32_t af_packet_block_size = 32 * af_packet_frame_size;
inline constexpr uint32_t af_packet_frame_count = 128;
static_assert(af_packet_block_size % 4096 == 0 && af_packet_frame_size % 16 == 0);
inline constexpr uint32_t af_packet_frame_header = 32; // framesz not copied to the mbuf

// The device string as given to EAL: a net_af_packet device without framesz, blocksz or
// framecnt gets af_packet_frame_size frames; others are unchanged.
std::string device_with_defaults(const std::string& device);

// The af_packet frame size a device string (after device_with_defaults) asks for, 0 for
// other devices: its receive pool's buffers must hold that many bytes.
uint32_t device_frame_size(const std::string& device);

// The ethdev name a device string creates: the part before the first ','.
std::string device_ethdev_name(const std::string& device);

// Whether a device string names a virtual device (passed with --vdev) rather than PCI.
bool device_is_vdev(const std::string& device);

// Descriptors per queue asked of every port (the PMD may lower them).
inline constexpr uint16_t rx_descriptors = 1024;
inline constexpr uint16_t tx_descriptors = 1024;

// The mbufs the standard pool must hold for `devices` (device strings, each port opened
// with `queues` rx and tx queues) and `lcores` threads that take mbufs from it: a NIC's rx
// descriptors each hold one from the pool and its tx descriptors one until the send
// completes; each lcore keeps a mempool cache and bursts in its hands. af_packet ports
// hold none at rest (the PMD copies frames between the kernel's ring and mbufs).
unsigned mbufs_needed(const std::vector<std::string>& devices, uint16_t queues, unsigned lcores);

// What a port's RSS hashes on, of what the device offers (rte_eth_dev_info's
// flow_type_rss_offloads): IPv4/IPv6 addresses and TCP/UDP ports, so that the flows of one
// VXLAN peer (whose UDP source port varies with the inner flow, RFC 7348) and the
// containers' flows spread over the workers' queues. 0: the device has no RSS.
uint64_t rss_hash_types(uint64_t device_offloads);

rte_mempool* create_mbuf_pool(unsigned mbufs);

// A pool of `mbufs` buffers of data room `frame_size` (plus headroom), for the ports
// whose device_frame_size is larger than a standard mbuf holds.
rte_mempool* create_large_mbuf_pool(unsigned mbufs, uint32_t frame_size);

// Configure `queues` rx and tx queues, promiscuous mode on, start the port.
OpenPort open_port(const PortSpec& spec, uint16_t queues, rte_mempool* pool);

void close_port(const OpenPort& port);

// What `port` carries now: the MTU of its kernel interface (af_packet; 0 for other
// devices), and the longest frame one of its receive buffers holds (0 when unknown).
struct PortCapacity {
    uint32_t mtu = 0;
    uint32_t frame = 0;
};
PortCapacity port_capacity(const OpenPort& port);

// Close `port`, remove its device and probe it again from the same device string, then
// configure and start it as open_port does: how a net_af_packet port binds to an
// interface that was deleted and created again (its sockets stay bound to the old
// index, which nothing reuses). The port keeps its id; its MAC and ifindex are read
// anew. No worker may poll or send to it meanwhile (dataplane/lcore.hpp's port_down).
// Throws std::runtime_error, leaving the port closed, when the device cannot be
// probed or started again.
void reopen_port(OpenPort& port);

} // namespace vxmesh::dp
