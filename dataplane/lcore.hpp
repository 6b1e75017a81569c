// Per-lcore state: counters and transmit buffers, owned by one worker each.
//
// Counters live in one cache-aligned block per lcore id (lcore_stats), so workers
// never share a line; readers sum them (dataplane/stats.hpp). The control thread has
// its block too (the neighbour service counts its own drops there, and copies them to a
// running drop capture as the workers do).
#pragma once

#include "dataplane/capture.hpp"
#include "dataplane/drop.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

namespace vxmesh::dp {

inline constexpr uint16_t max_ports = 32;
inline constexpr uint16_t no_port = UINT16_MAX; // as mbuf->port of a packet vxmesh made
static_assert(max_ports == max_ports_snapshot);
inline constexpr uint16_t burst_size = 32;
inline constexpr uint16_t tx_buffer_size = 64;

struct alignas(RTE_CACHE_LINE_SIZE) LcoreStats {
    uint64_t port_rx[max_ports];
    uint64_t port_tx[max_ports];
    uint64_t encap;        // packets encapsulated toward a peer
    uint64_t decap;        // VXLAN packets decapsulated and delivered
    uint64_t switched;     // frames switched between local endpoints
    uint64_t arp_proxied;  // ARP requests answered from the endpoint table
    uint64_t arp_replied;  // underlay ARP requests for our address answered
    uint64_t arp_requests; // ARP requests sent to resolve neighbours
    uint64_t arp_learned;  // underlay ARP messages that resolved or refreshed a neighbour
    uint64_t punted;       // packets handed to the control thread
    uint64_t l4_completed; // partial TCP/UDP checksums completed (dataplane/l4_offload.hpp)
    uint64_t segmented;    // TCP super-frames or reassembled datagrams cut to the MTU
    uint64_t segments;     // segments those made
    uint64_t capture_lost; // capture copies lost (pool or ring full): not packet drops
    uint64_t drops[static_cast<size_t>(Drop::Count)];
};

// Indexed by lcore id; zero-initialised; each block written by one thread only.
extern std::array<LcoreStats, RTE_MAX_LCORE> lcore_stats;

// Ports whose interface is gone, down or without carrier (dataplane/port_watch.hpp):
// workers neither poll them nor send to them (what was for them is dropped as
// port_down). Set by the control thread only; a port it reopens is marked down first
// and the RCU grace period after that store is what lets it touch the device.
extern std::array<std::atomic<bool>, max_ports> port_down;
inline bool port_is_down(uint16_t port) {
    return port_down[port].load(std::memory_order_relaxed);
}

struct TxBuffer {
    uint16_t count = 0;
    rte_mbuf* pkts[tx_buffer_size];
};

struct Lcore {
    LcoreStats* stats = nullptr;
    uint16_t queue = 0;       // this worker's rx/tx queue on every port
    rte_ring* punt = nullptr; // to the control thread (multi-producer)
    uint32_t tx_pending = 0;  // bit per port with packets in its buffer
    uint16_t ip_id = 0;       // next outer IPv4 identification when DF is off (RFC 6864)
    uint16_t ip_id_step = 1;  // how far ip_id moves per datagram: see ip_id_init
    const CaptureSpec* capture = nullptr; // set per loop iteration while a capture runs
    // Bit per port whose PMD hands over kernel buffers (net_af_packet): frames from it may
    // carry partial checksums and GSO super-frames (dataplane/l4_offload.hpp).
    uint32_t offload_ports = 0;
    rte_mempool* segment_pool = nullptr; // segments of super-frames (null: the frame's pool)
    std::array<TxBuffer, max_ports> tx{};
};

// Outer IPv4 identification when DF is off. RFC 6864 §4.1: the ID of a datagram that
// may be fragmented must not repeat for a source, destination and protocol while its
// fragments may still be reassembled, and every worker sends from the same VTEP address
// to the same peers. Worker w of n takes the IDs ≡ w modulo the power of two ≥ n: the
// workers' sets never meet, and each still cycles through 65536 / step IDs.
inline void ip_id_init(Lcore& lc, unsigned worker, unsigned workers) {
    unsigned step = std::bit_ceil(std::max(workers, 1u));
    lc.ip_id = static_cast<uint16_t>(worker % step);
    lc.ip_id_step = static_cast<uint16_t>(step);
}

// Count a drop, copy it to a running drop capture, free it. `out_port` is the port the
// packet was already leaving by (a full transmit queue, a next hop that never
// resolved), for the capture's port match (dataplane/capture.hpp); it costs nothing
// while no capture runs.
inline void drop(Lcore& lc, Drop reason, rte_mbuf* m, uint16_t out_port = no_port) {
    lc.stats->drops[static_cast<size_t>(reason)]++;
    if (unlikely(lc.capture != nullptr))
        capture_drop(lc, static_cast<uint8_t>(reason), m, out_port);
    rte_pktmbuf_free(m);
}

inline void tx_enqueue(Lcore& lc, uint16_t port, rte_mbuf* m) {
    TxBuffer& b = lc.tx[port];
    if (unlikely(b.count == tx_buffer_size)) {
        drop(lc, Drop::TxFull, m, port);
        return;
    }
    b.pkts[b.count++] = m;
    lc.tx_pending |= uint32_t{1} << port;
}

// tx_enqueue for n packets to one port; what does not fit is dropped as TxFull.
inline void tx_enqueue_burst(Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n) {
    if (n == 0) return;
    TxBuffer& b = lc.tx[port];
    uint16_t fit = std::min<uint16_t>(n, tx_buffer_size - b.count);
    std::memcpy(&b.pkts[b.count], pkts, fit * sizeof(rte_mbuf*));
    b.count += fit;
    lc.tx_pending |= uint32_t{1} << port;
    for (uint16_t i = fit; i < n; i++)
        drop(lc, Drop::TxFull, pkts[i], port);
}

// Send what the stages left in the buffers; what a queue refuses is dropped as TxFull.
void tx_flush(Lcore& lc);

// Send port's buffer now unless it has room for n more: a super-frame's segments
// (dataplane/l4_offload.hpp) may not fit beside the rest of a burst.
void tx_flush_port(Lcore& lc, uint16_t port);
inline void tx_reserve(Lcore& lc, uint16_t port, uint16_t n) {
    if (unlikely(lc.tx[port].count + n > tx_buffer_size)) tx_flush_port(lc, port);
}

} // namespace vxmesh::dp
