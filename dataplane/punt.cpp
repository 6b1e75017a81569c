#include "dataplane/stages.hpp"

namespace vxmesh::dp {

void punt(Lcore& lc, rte_mbuf* m, PuntReason reason) {
    meta(m).punt = reason;
    if (unlikely(rte_ring_enqueue(lc.punt, m) != 0)) {
        drop(lc, Drop::PuntRingFull, m);
        return;
    }
    lc.stats->punted++;
}

} // namespace vxmesh::dp
