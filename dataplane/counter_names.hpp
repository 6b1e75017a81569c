// The names and help texts of vxmesh's counters, without DPDK: vxmeshctl prints the
// stats document with them (control/stats_text.hpp) and links no DPDK. The fields
// they name are paired with them in dataplane/stats.hpp (ports) and
// control/stats_format.cpp (lcores), in the same order.
#pragma once

#include <array>

namespace vxmesh::dp {

struct CounterName {
    const char* name;
    const char* help;
};

// What a port's device (the PMD) counts and vxmesh cannot (rte_eth_stats).
inline constexpr std::array<CounterName, 4> port_counter_names = {{
    {"rx_missed", "Packets the port received but its receive ring had no room for (imissed)"},
    {"rx_nombuf", "Packets lost because no mbuf was free for them (rx_nombuf)"},
    {"rx_errors", "Packets received in error (ierrors)"},
    {"tx_errors", "Packets the port failed to send (oerrors)"},
}};

// vxmesh's own counters, summed over lcores.
inline constexpr std::array<CounterName, 12> lcore_counter_names = {{
    {"encap", "Frames encapsulated in VXLAN toward a peer"},
    {"decap", "VXLAN packets decapsulated and delivered"},
    {"switched", "Frames switched between local endpoints"},
    {"arp_proxied", "ARP requests answered from the endpoint table"},
    {"arp_replied", "Underlay ARP requests for our VTEP answered"},
    {"arp_requests", "ARP requests sent to resolve next hops"},
    {"arp_learned", "Underlay ARP messages that resolved a next hop"},
    {"punted", "Packets handed to the control thread"},
    {"l4_completed", "Partial TCP/UDP checksums (a sender's offload) completed"},
    {"segmented", "TCP super-frames (GSO) and reassembled datagrams cut to the MTU"},
    {"segments", "Segments and fragments those made"},
    {"capture_lost", "Capture copies lost (pool or ring full); not packet drops"},
}};

} // namespace vxmesh::dp
