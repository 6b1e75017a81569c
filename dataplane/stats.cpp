#include "dataplane/stats.hpp"

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

} // namespace vxmesh::dp
