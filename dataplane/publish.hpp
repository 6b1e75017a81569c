// One pointer publishes a snapshot (STYLE.md rule 4).
//
// The control thread stores a new snapshot with release order; workers load it with
// acquire order once per loop iteration and report a quiescent state afterwards
// (rte_rcu_qsbr). The replaced snapshot is freed only after every online worker has
// reported one, so no worker can still be reading it. Idle workers go offline while
// they sleep, so they never hold a publication up.
#pragma once

#include "dataplane/snapshot.hpp"

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>

namespace vxmesh::dp {

class SnapshotPublisher {
public:
    explicit SnapshotPublisher(unsigned max_workers);
    ~SnapshotPublisher();
    SnapshotPublisher(const SnapshotPublisher&) = delete;
    SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

    // Swap in `next`, wait for every worker to pass a quiescent state, free the old one.
    void publish(std::unique_ptr<Snapshot> next) { swap(std::move(next)); }
    // The same, handing the old one back (nullptr for the first): no reader holds it any
    // more, so the control thread may change it and publish it again.
    std::unique_ptr<Snapshot> swap(std::unique_ptr<Snapshot> next);

    // Wait until every reader has passed a quiescent state: what was stored before the
    // call (a new snapshot, a port marked down) is seen by all of them after it.
    void synchronize() { rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID); }

    // Worker side.
    const Snapshot* load() const { return current_.load(std::memory_order_acquire); }
    rte_rcu_qsbr* qsbr() const { return qsbr_; }

    // Control side: the snapshot in force (only the control thread replaces it).
    const Snapshot* current() const { return current_.load(std::memory_order_relaxed); }

private:
    std::atomic<const Snapshot*> current_{nullptr};
    rte_rcu_qsbr* qsbr_ = nullptr;
};

} // namespace vxmesh::dp
