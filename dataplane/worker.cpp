// The worker loop, as DESIGN.md's packet paths read: underlay in, access ports in,
// what the control thread wants sent, flush, quiescent state, back off when idle.
//
// Idle backoff lets several vxmesh instances share a small machine: after a few
// empty polls the worker pauses, then sleeps with a doubling delay up to 1 ms, going
// RCU-offline while asleep so that publications never wait for it.
#include "dataplane/worker.hpp"

#include "dataplane/stages.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>

#include <unistd.h>

namespace vxmesh::dp {

namespace {

constexpr unsigned spin_polls = 64;       // empty polls before pausing
constexpr unsigned pause_polls = 1024;    // empty polls before sleeping
constexpr unsigned max_sleep_us = 1000;

class Backoff {
public:
    void busy() {
        idle_ = 0;
        sleep_us_ = 1;
    }
    template <typename Offline, typename Online>
    void idle(Offline offline, Online online) {
        idle_++;
        if (idle_ < spin_polls) return;
        if (idle_ < pause_polls) {
            rte_pause();
            return;
        }
        offline();
        usleep(sleep_us_);
        online();
        if (sleep_us_ < max_sleep_us) sleep_us_ *= 2;
    }

private:
    unsigned idle_ = 0;
    unsigned sleep_us_ = 1;
};

} // namespace

int worker_main(void* arg) {
    const WorkerConfig& cfg = *static_cast<const WorkerConfig*>(arg);
    Lcore lc;
    lc.stats = &lcore_stats[rte_lcore_id()];
    lc.queue = static_cast<uint16_t>(cfg.index);
    lc.punt = cfg.punt;
    lc.offload_ports = cfg.offload_ports;
    lc.segment_pool = cfg.segment_pool;
    ip_id_init(lc, cfg.index, cfg.workers);
    rte_rcu_qsbr* qsbr = cfg.publisher->qsbr();
    rte_rcu_qsbr_thread_register(qsbr, cfg.index);
    rte_rcu_qsbr_thread_online(qsbr, cfg.index);
    Backoff backoff;
    rte_mbuf* pkts[burst_size];

    while (!cfg.stop->load(std::memory_order_relaxed)) {
        const Snapshot* s = cfg.publisher->load();
        unsigned work = 0;
        lc.capture = s != nullptr && s->capture.active() ? &s->capture : nullptr;
        if (s != nullptr) {
            uint16_t n = port_is_down(cfg.underlay_port)
                             ? 0
                             : rte_eth_rx_burst(cfg.underlay_port, lc.queue, pkts, burst_size);
            if (n) {
                lc.stats->port_rx[cfg.underlay_port] += n;
                if (unlikely(lc.capture != nullptr))
                    capture_burst(lc, cfg.underlay_port, pkts, n, CaptureDirection::Rx);
                underlay_input(*s, lc, pkts, n);
                tx_flush(lc);
                work += n;
            }
            for (uint16_t port : cfg.access_ports) {
                if (unlikely(port_is_down(port))) continue;
                n = rte_eth_rx_burst(port, lc.queue, pkts, burst_size);
                if (n == 0) continue;
                lc.stats->port_rx[port] += n;
                if (unlikely(lc.capture != nullptr))
                    capture_burst(lc, port, pkts, n, CaptureDirection::Rx);
                access_input(*s, lc, port, pkts, n);
                tx_flush(lc);
                work += n;
            }
        }
        if (cfg.control_tx != nullptr) {
            unsigned n = rte_ring_dequeue_burst(cfg.control_tx, reinterpret_cast<void**>(pkts),
                                                burst_size, nullptr);
            for (unsigned i = 0; i < n; i++) tx_enqueue(lc, cfg.underlay_port, pkts[i]);
            if (n) tx_flush(lc);
            work += n;
        }
        lc.capture = nullptr; // the snapshot it points into may go after the quiescent state
        rte_rcu_qsbr_quiescent(qsbr, cfg.index);
        if (work != 0 || cfg.busy_poll) {
            backoff.busy();
        } else {
            backoff.idle([&] { rte_rcu_qsbr_thread_offline(qsbr, cfg.index); },
                         [&] { rte_rcu_qsbr_thread_online(qsbr, cfg.index); });
        }
    }
    rte_rcu_qsbr_thread_offline(qsbr, cfg.index);
    rte_rcu_qsbr_thread_unregister(qsbr, cfg.index);
    return 0;
}

} // namespace vxmesh::dp
