#include "dataplane/publish.hpp"

#include <rte_malloc.h>

#include <stdexcept>

namespace vxmesh::dp {

SnapshotPublisher::SnapshotPublisher(unsigned max_workers) {
    size_t size = rte_rcu_qsbr_get_memsize(max_workers);
    qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("vxmesh_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, max_workers) != 0)
        throw std::runtime_error("cannot allocate the RCU state for " +
                                 std::to_string(max_workers) + " workers");
}

SnapshotPublisher::~SnapshotPublisher() {
    delete current_.exchange(nullptr);
    rte_free(qsbr_);
}

std::unique_ptr<Snapshot> SnapshotPublisher::swap(std::unique_ptr<Snapshot> next) {
    std::unique_ptr<Snapshot> old(
        const_cast<Snapshot*>(current_.exchange(next.release(), std::memory_order_acq_rel)));
    if (old) rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
    return old;
}

} // namespace vxmesh::dp
