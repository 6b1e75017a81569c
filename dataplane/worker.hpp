// The worker loop: run-to-completion over bursts of 32 from every port it serves.
#pragma once

#include "dataplane/publish.hpp"

#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace vxmesh::dp {

struct WorkerConfig {
    unsigned index = 0;                 // RCU thread id and queue number on every port
    unsigned workers = 1;               // how many workers run (outer IPv4 ID spaces)
    uint16_t underlay_port = 0;
    std::vector<uint16_t> access_ports;
    rte_ring* punt = nullptr;           // to the control thread
    rte_ring* control_tx = nullptr;     // from the control thread; drained by worker 0
    const SnapshotPublisher* publisher = nullptr;
    const std::atomic<bool>* stop = nullptr;
    bool busy_poll = false;             // never back off when idle
    uint32_t offload_ports = 0;         // Lcore::offload_ports
    rte_mempool* segment_pool = nullptr; // Lcore::segment_pool
};

// rte_eal_remote_launch entry; `arg` is a WorkerConfig*.
int worker_main(void* arg);

} // namespace vxmesh::dp
