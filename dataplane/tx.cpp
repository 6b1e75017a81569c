#include "dataplane/lcore.hpp"

namespace vxmesh::dp {

std::array<LcoreStats, RTE_MAX_LCORE> lcore_stats{};
std::array<std::atomic<bool>, max_ports> port_down{};

void tx_flush_port(Lcore& lc, uint16_t port) {
    TxBuffer& b = lc.tx[port];
    if (unlikely(port_is_down(port))) {
        for (uint16_t i = 0; i < b.count; i++)
            drop(lc, Drop::PortDown, b.pkts[i], port);
        b.count = 0;
        return;
    }
    if (unlikely(lc.capture != nullptr))
        capture_burst(lc, port, b.pkts, b.count, CaptureDirection::Tx);
    uint16_t sent = rte_eth_tx_burst(port, lc.queue, b.pkts, b.count);
    lc.stats->port_tx[port] += sent;
    for (uint16_t i = sent; i < b.count; i++) drop(lc, Drop::TxFull, b.pkts[i], port);
    b.count = 0;
}

void tx_flush(Lcore& lc) {
    while (lc.tx_pending) {
        uint16_t port = static_cast<uint16_t>(__builtin_ctz(lc.tx_pending));
        lc.tx_pending &= lc.tx_pending - 1;
        tx_flush_port(lc, port);
    }
}

} // namespace vxmesh::dp
