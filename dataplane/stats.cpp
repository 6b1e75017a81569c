#include "dataplane/stats.hpp"

#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

namespace vxmesh::dp {

LcoreStats stats_total() {
    LcoreStats total{};
    for (const LcoreStats& s : lcore_stats) {
        for (uint16_t p = 0; p < max_ports; p++) {
            total.port_rx[p] += s.port_rx[p];
            total.port_tx[p] += s.port_tx[p];
        }
        total.encap += s.encap;
        total.decap += s.decap;
        total.switched += s.switched;
        total.arp_proxied += s.arp_proxied;
        total.arp_replied += s.arp_replied;
        total.arp_requests += s.arp_requests;
        total.arp_learned += s.arp_learned;
        total.punted += s.punted;
        total.l4_completed += s.l4_completed;
        total.segmented += s.segmented;
        total.segments += s.segments;
        total.capture_lost += s.capture_lost;
        for (size_t d = 0; d < static_cast<size_t>(Drop::Count); d++) total.drops[d] += s.drops[d];
    }
    return total;
}

namespace {

// DPDK 22.11's af_packet PMD never reads its sockets' PACKET_STATISTICS, so what the
// kernel could not put in a port's receive ring is reported nowhere (imissed stays 0).
// vxmesh reads them itself: the PMD's sockets are this process's AF_PACKET sockets,
// each bound to its interface's index. Reading the statistics resets them (packet(7)),
// so they are summed here, under a lock: the control and telemetry threads both ask.
struct KernelRingDrops {
    std::recursive_mutex lock; // reopen_port holds it while open_port tracks the new sockets
    std::array<int, max_ports> ifindex{}; // 0: not an af_packet port
    std::array<uint64_t, max_ports> dropped{};
    // What the devices of ports since reopened had counted (dataplane/ports.hpp).
    std::array<PortCounters, max_ports> retired{};

    void collect() {
        DIR* dir = opendir("/proc/self/fd");
        if (dir == nullptr) return;
        while (dirent* e = readdir(dir)) {
            int fd = std::atoi(e->d_name);
            if (fd <= 2 || fd == dirfd(dir)) continue;
            int domain = 0;
            socklen_t len = sizeof(domain);
            if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET)
                continue;
            sockaddr_ll addr{};
            len = sizeof(addr);
            if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
            auto port = std::find(ifindex.begin(), ifindex.end(), addr.sll_ifindex);
            if (addr.sll_ifindex == 0 || port == ifindex.end()) continue;
            tpacket_stats st{};
            len = sizeof(st);
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
                dropped[static_cast<size_t>(port - ifindex.begin())] += st.tp_drops;
        }
        closedir(dir);
    }
};

KernelRingDrops kernel_ring_drops;

} // namespace

void port_track_kernel_drops(uint16_t port, const std::string& device) {
    if (port >= max_ports || device.rfind("net_af_packet", 0) != 0) return;
    auto at = device.find("iface=");
    if (at == std::string::npos) return;
    std::string iface = device.substr(at + 6, device.find(',', at) - (at + 6));
    std::lock_guard guard(kernel_ring_drops.lock);
    kernel_ring_drops.ifindex[port] = static_cast<int>(if_nametoindex(iface.c_str()));
}

namespace {

// Adds what `port`'s device counted (rte_eth_stats) to `out`; nothing when it has none.
void add_device_counters(uint16_t port, PortCounters& out) {
    rte_eth_stats st{};
    if (rte_eth_dev_is_valid_port(port) && rte_eth_stats_get(port, &st) == 0)
        for (size_t i = 0; i < port_counter_fields.size(); i++)
            out[i] += st.*port_counter_fields[i];
}

} // namespace

// Under kernel_ring_drops.lock, which also keeps a port from being reopened meanwhile.
PortCounters port_device_counters(uint16_t port) {
    PortCounters out{};
    if (port >= max_ports) return out;
    std::lock_guard guard(kernel_ring_drops.lock);
    out = kernel_ring_drops.retired[port];
    add_device_counters(port, out);
    if (kernel_ring_drops.ifindex[port] != 0) {
        kernel_ring_drops.collect();
        out[0] += kernel_ring_drops.dropped[port]; // rx_missed: the ring had no room
    }
    return out;
}

std::recursive_mutex& port_device_lock() {
    return kernel_ring_drops.lock;
}

void port_retire_counters(uint16_t port) {
    if (port >= max_ports) return;
    add_device_counters(port, kernel_ring_drops.retired[port]);
    if (kernel_ring_drops.ifindex[port] != 0) kernel_ring_drops.collect();
    kernel_ring_drops.ifindex[port] = 0; // its sockets close with it
}

} // namespace vxmesh::dp
