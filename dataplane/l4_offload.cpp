// Partial checksums and GSO super-frames finished in software (l4_offload.hpp says why
// and how they are recognised).
#include "dataplane/l4_offload.hpp"

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace vxmesh::dp {

namespace {

constexpr uint8_t tcp_fin = 0x01, tcp_psh = 0x08, tcp_cwr = 0x80;

// The complemented TCP/UDP checksum of an IPv4 packet whose L4 checksum field is zero,
// 0 written as 0xffff (the same value in one's complement; RFC 768 requires it for UDP,
// and for TCP it keeps completion idempotent: see l4_offload.hpp).
inline uint16_t l4_checksum(const rte_ipv4_hdr* ip, const void* l4) {
    uint16_t sum = rte_ipv4_udptcp_cksum(ip, l4);
    return sum == 0 ? 0xffff : sum;
}

} // namespace

L4Action l4_complete(Lcore& lc, rte_mbuf* m, uint16_t mtu) {
    uint32_t len = rte_pktmbuf_data_len(m);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
        len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr))
        return L4Action::Forward;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    uint32_t ihl = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
    uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl)
        return L4Action::Forward; // not ours to judge: the receiver drops it
    // af_packet copies at most its frame size and reports that length: a frame cut short
    // is a super-frame larger than the frame size (framesz), lost beyond repair.
    if (unlikely(sizeof(rte_ether_hdr) + total > len)) {
        drop(lc, Drop::OffloadTruncated, m);
        return L4Action::Dropped;
    }
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
        return L4Action::Forward; // a sender checksums before it fragments
    // A datagram over the MTU other than TCP: the af_packet PMD joins its sockets in a
    // fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel hands it the sender's
    // fragments reassembled. Cut them again (its checksum is already complete); with DF
    // set or IPv4 options it goes on to the MTU check (mtu_exceeded).
    if (total > mtu && ip->next_proto_id != IPPROTO_TCP)
        return (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) || ihl != sizeof(rte_ipv4_hdr)
                   ? L4Action::Forward
                   : L4Action::Segment;
    uint32_t l4_len = total - ihl;
    uint8_t* l4 = reinterpret_cast<uint8_t*>(ip) + ihl;
    uint32_t field; // offset of the checksum in the L4 header
    if (ip->next_proto_id == IPPROTO_TCP) {
        if (l4_len < sizeof(rte_tcp_hdr)) return L4Action::Forward;
        auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(l4);
        uint32_t thl = (tcp->data_off >> 4) * 4u;
        if (thl < sizeof(rte_tcp_hdr) || thl > l4_len) return L4Action::Forward;
        if (total > mtu && total > ihl + thl) return L4Action::Segment;
        field = offsetof(rte_tcp_hdr, cksum);
    } else if (ip->next_proto_id == IPPROTO_UDP) {
        if (l4_len < sizeof(rte_udp_hdr)) return L4Action::Forward;
        field = offsetof(rte_udp_hdr, dgram_cksum);
    } else {
        return L4Action::Forward;
    }
    rte_be16_t checksum;
    std::memcpy(&checksum, l4 + field, sizeof(checksum));
    if (checksum == 0 && ip->next_proto_id == IPPROTO_UDP)
        return L4Action::Forward; // no checksum (RFC 768)
    // Partial: the field holds the folded pseudo-header sum, not complemented.
    if (likely(checksum != rte_ipv4_phdr_cksum(ip, 0))) return L4Action::Forward;
    std::memset(l4 + field, 0, sizeof(checksum));
    checksum = l4_checksum(ip, l4);
    std::memcpy(l4 + field, &checksum, sizeof(checksum));
    lc.stats->l4_completed++;
    return L4Action::Forward;
}

namespace {

// Segments and fragments go to the worker's pool of standard mbufs (the frame came in a
// large one); a network MTU above what those hold takes the frame's own pool.
// One piece of `m` (a fragment or a segment) in the fresh mbuf `piece`: m's first
// `headers` bytes, then `size` bytes of what follows them from `offset` on; the caller
// patches the copied headers. Returns the piece's first byte.
uint8_t* copy_piece(rte_mbuf* piece, const rte_mbuf* m, const uint8_t* frame, uint32_t headers,
                    uint32_t offset, uint32_t size) {
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(piece, headers + size));
    std::memcpy(p, frame, headers);
    std::memcpy(p + headers, frame + headers + offset, size);
    piece->port = m->port;
    return p;
}

rte_mempool* piece_pool(const Lcore& lc, const rte_mbuf* m, uint16_t mtu) {
    rte_mempool* pool = lc.segment_pool;
    if (pool == nullptr ||
        rte_pktmbuf_data_room_size(pool) < RTE_PKTMBUF_HEADROOM + mtu + sizeof(rte_ether_hdr))
        return m->pool;
    return pool;
}

// A reassembled datagram (no options, DF clear) cut into IPv4 fragments of at most
// `mtu` bytes (RFC 791 §3.2: fragment data in multiples of 8 bytes).
uint16_t fragment(Lcore& lc, rte_mbuf* m, uint16_t mtu, rte_mbuf** out) {
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + sizeof(rte_ether_hdr));
    constexpr uint32_t headers = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
    uint32_t data = rte_be_to_cpu_16(ip->total_length) - sizeof(rte_ipv4_hdr);
    uint32_t piece = (mtu - sizeof(rte_ipv4_hdr)) & ~7u;
    uint32_t count = (data + piece - 1) / piece;
    if (unlikely(count > l4_max_segments)) {
        drop(lc, Drop::MtuExceeded, m);
        return 0;
    }
    if (unlikely(rte_pktmbuf_alloc_bulk(piece_pool(lc, m, mtu), out, count) != 0)) {
        drop(lc, Drop::SegmentNoMbuf, m);
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t offset = i * piece;
        uint32_t size = std::min(piece, data - offset);
        uint8_t* p = copy_piece(out[i], m, frame, headers, offset, size);
        auto* fip = reinterpret_cast<rte_ipv4_hdr*>(p + sizeof(rte_ether_hdr));
        fip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + size));
        uint16_t field = static_cast<uint16_t>(offset / 8);
        if (i + 1 < count) field |= RTE_IPV4_HDR_MF_FLAG;
        fip->fragment_offset = rte_cpu_to_be_16(field);
        fip->hdr_checksum = 0;
        fip->hdr_checksum = rte_ipv4_cksum(fip);
    }
    lc.stats->segmented++;
    lc.stats->segments += count;
    rte_pktmbuf_free(m);
    return static_cast<uint16_t>(count);
}

} // namespace

uint16_t l4_segment(Lcore& lc, rte_mbuf* m, uint16_t mtu, rte_mbuf** out) {
    // l4_complete checked the headers and that the frame holds all `total` bytes.
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + sizeof(rte_ether_hdr));
    if (ip->next_proto_id != IPPROTO_TCP) return fragment(lc, m, mtu, out);
    uint32_t ihl = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
    auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(frame + sizeof(rte_ether_hdr) + ihl);
    uint32_t thl = (tcp->data_off >> 4) * 4u;
    uint32_t headers = sizeof(rte_ether_hdr) + ihl + thl;
    uint32_t payload = rte_be_to_cpu_16(ip->total_length) - ihl - thl;
    uint32_t mss = mtu - ihl - thl; // mtu ≥ 576 > 120 ≥ ihl + thl
    uint32_t count = (payload + mss - 1) / mss;
    if (unlikely(count > l4_max_segments)) { // only with an MTU below the model's minimum
        drop(lc, Drop::MtuExceeded, m);
        return 0;
    }
    rte_mempool* pool = piece_pool(lc, m, mtu);
    if (unlikely(rte_pktmbuf_alloc_bulk(pool, out, count) != 0)) {
        drop(lc, Drop::SegmentNoMbuf, m);
        return 0;
    }
    uint16_t id = rte_be_to_cpu_16(ip->packet_id);
    uint32_t seq = rte_be_to_cpu_32(tcp->sent_seq);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t offset = i * mss;
        uint32_t size = std::min(mss, payload - offset);
        uint8_t* p = copy_piece(out[i], m, frame, headers, offset, size);
        auto* sip = reinterpret_cast<rte_ipv4_hdr*>(p + sizeof(rte_ether_hdr));
        auto* stcp = reinterpret_cast<rte_tcp_hdr*>(p + sizeof(rte_ether_hdr) + ihl);
        sip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ihl + thl + size));
        sip->packet_id = rte_cpu_to_be_16(static_cast<uint16_t>(id + i));
        sip->hdr_checksum = 0;
        sip->hdr_checksum = rte_ipv4_cksum(sip);
        stcp->sent_seq = rte_cpu_to_be_32(seq + offset);
        if (i + 1 < count) stcp->tcp_flags &= static_cast<uint8_t>(~(tcp_fin | tcp_psh));
        if (i > 0) stcp->tcp_flags &= static_cast<uint8_t>(~tcp_cwr);
        stcp->cksum = 0;
        stcp->cksum = l4_checksum(sip, stcp);
    }
    lc.stats->segmented++;
    lc.stats->segments += count;
    rte_pktmbuf_free(m);
    return static_cast<uint16_t>(count);
}

void l4_offload_tx(Lcore& lc, uint16_t port, uint16_t mtu, rte_mbuf* m) {
    if (likely(!l4_offload_port(lc, m))) {
        tx_enqueue(lc, port, m);
        return;
    }
    switch (l4_complete(lc, m, mtu)) {
    case L4Action::Forward:
        // What could not be cut (DF set, IPv4 options, not IPv4) must still fit the
        // receiving endpoint's interface, which has the network's MTU.
        if (unlikely(rte_pktmbuf_pkt_len(m) > uint32_t{mtu} + sizeof(rte_ether_hdr))) {
            drop(lc, Drop::MtuExceeded, m, port);
            return;
        }
        tx_enqueue(lc, port, m);
        return;
    case L4Action::Dropped:
        return;
    case L4Action::Segment: {
        rte_mbuf* segments[l4_max_segments];
        uint16_t n = l4_segment(lc, m, mtu, segments);
        for (uint16_t i = 0; i < n; i += tx_buffer_size) {
            uint16_t chunk = std::min<uint16_t>(tx_buffer_size, static_cast<uint16_t>(n - i));
            tx_reserve(lc, port, chunk);
            tx_enqueue_burst(lc, port, segments + i, chunk);
        }
        return;
    }
    }
}

} // namespace vxmesh::dp
