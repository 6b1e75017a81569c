#include "dataplane/capture.hpp"

#include "dataplane/lcore.hpp"
#include "dataplane/packet_meta.hpp"

#include <rte_cycles.h>

namespace vxmesh::dp {

namespace {

rte_mbuf* copy_for_capture(Lcore& lc, const rte_mbuf* m, uint16_t port, CaptureDirection dir,
                           uint8_t reason, bool outbound) {
    const CaptureSpec& spec = *lc.capture;
    uint32_t len = RTE_MIN(rte_pktmbuf_pkt_len(m), spec.snaplen);
    rte_mbuf* c = rte_pktmbuf_copy(m, spec.pool, 0, len);
    if (c == nullptr) {
        lc.stats->capture_lost++;
        return nullptr;
    }
    PacketMeta& md = meta(c);
    md.capture_port = port;
    md.capture_direction = static_cast<uint8_t>(dir);
    md.drop_reason = reason;
    md.capture_outbound = outbound;
    md.capture_original_length = rte_pktmbuf_pkt_len(m);
    md.capture_tsc = rte_rdtsc();
    return c;
}

} // namespace

void capture_burst(Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n,
                   CaptureDirection direction) {
    const CaptureSpec& spec = *lc.capture;
    if (!(spec.ports[static_cast<int>(direction)] & (uint32_t{1} << port))) return;
    rte_mbuf* copies[burst_size * 2];
    unsigned count = 0;
    bool outbound = direction == CaptureDirection::Tx;
    for (uint16_t i = 0; i < n && count < RTE_DIM(copies); i++)
        if (rte_mbuf* c = copy_for_capture(lc, pkts[i], port, direction, 0, outbound))
            copies[count++] = c;
    unsigned queued = rte_ring_enqueue_burst(spec.ring, reinterpret_cast<void**>(copies), count, nullptr);
    for (unsigned i = queued; i < count; i++) rte_pktmbuf_free(copies[i]);
    lc.stats->capture_lost += count - queued;
}

void capture_drop(Lcore& lc, uint8_t reason, const rte_mbuf* m, uint16_t out_port) {
    const CaptureSpec& spec = *lc.capture;
    uint32_t selected = spec.ports[static_cast<int>(CaptureDirection::Drop)];
    auto is_selected = [selected](uint16_t p) {
        return p < max_ports && (selected & (uint32_t{1} << p)) != 0;
    };
    // The port it came in on first: a packet dropped leaving by the port it came in on
    // (an ARP reply, a frame switched back) is an inbound drop there.
    uint16_t port;
    bool outbound;
    if (is_selected(m->port)) {
        port = m->port;
        outbound = false;
    } else if (is_selected(out_port)) {
        port = out_port;
        outbound = true;
    } else {
        return;
    }
    rte_mbuf* c = copy_for_capture(lc, m, port, CaptureDirection::Drop, reason, outbound);
    if (c != nullptr && rte_ring_enqueue(spec.ring, c) != 0) {
        rte_pktmbuf_free(c);
        lc.stats->capture_lost++;
    }
}

} // namespace vxmesh::dp
