#include "dataplane/stages.hpp"

namespace vxmesh::dp {

void punt(Lcore& lc, rte_mbuf* m, PuntReason reason, uint16_t out_port) {
    meta(m).punt = reason;
    if (unlikely(rte_ring_enqueue(lc.punt, m) != 0)) {
        drop(lc, Drop::PuntRingFull, m, out_port);
        return;
    }
    lc.stats->punted++;
}

} // namespace vxmesh::dp
