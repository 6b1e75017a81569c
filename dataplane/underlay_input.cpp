// From the underlay (DESIGN.md, "From the underlay").
//
// Only frames for our MAC (or broadcast ARP) are looked at. ARP goes to the
// neighbour service on the control thread, which answers requests for our address
// and learns replies. IPv4 must be a well-formed, unfragmented datagram for our VTEP
// address (RFC 791 header checks, RFC 1071 checksum) from an address a VTEP can have,
// carrying UDP to the VXLAN port; those go on to vxlan_decap. Everything else is
// dropped under its reason (config/README.md, "Receive policy", lists them in order).
#include "dataplane/stages.hpp"

#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <cstring>

namespace vxmesh::dp {

// RFC 1071: the one's-complement sum of a correct header is 0xffff. Five 32-bit words
// for the usual 20-byte header (rte_raw_cksum's generic loop costs ~4x as much).
static inline bool ipv4_checksum_ok(const rte_ipv4_hdr* ip, uint32_t ihl) {
    if (likely(ihl == sizeof(rte_ipv4_hdr))) {
        uint32_t w[5];
        std::memcpy(w, ip, sizeof(w));
        uint64_t sum = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return sum == 0xffff;
    }
    return rte_raw_cksum(ip, ihl) == 0xffff;
}

// The stages read a frame in its first buffer; the mbuf pool's buffers hold this much.
static constexpr uint32_t rx_data_room = RTE_MBUF_DEFAULT_DATAROOM;

// RFC 1122 §3.2.1.3: no host sends from "this network" (0/8), loopback, a multicast or
// class E address (240/4, with the limited broadcast), or a directed broadcast; and a
// datagram from our own address is a reflection or a forgery. A peer never has these,
// so they are refused even when node.accept_unknown_peers lets strangers in.
static inline bool martian_source(const Snapshot& s, rte_be32_t src) {
    uint32_t first_octet = rte_be_to_cpu_32(src) >> 24;
    return first_octet == 0 || first_octet == 127 || first_octet >= 224 || src == s.vtep ||
           src == s.underlay_broadcast;
}

// Checks the outer headers; returns the reason to drop, or Drop::Count to go on.
// Options (IHL > 5) are accepted and skipped (RFC 1122 §3.2.1.8), and so is any TTL:
// a host must not discard a datagram for a TTL below 2 (RFC 1122 §3.2.1.7).
static Drop underlay_ipv4_check(const Snapshot& s, rte_mbuf* m) {
    uint32_t len = rte_pktmbuf_data_len(m);
    if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return Drop::Truncated;
    auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    uint32_t ihl = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
    uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl)
        return Drop::IpBadHeader;
    if (unlikely(total > len - sizeof(rte_ether_hdr))) {
        // Oversized: more than one receive buffer holds (the PMD cut the frame or
        // chained it over several buffers); no network MTU needs that. Otherwise the
        // frame is shorter than its header says: cut on the way, or a lie.
        bool oversized =
            sizeof(rte_ether_hdr) + total > rx_data_room || rte_pktmbuf_pkt_len(m) > len;
        return oversized ? Drop::FrameTooLong : Drop::IpLengthMismatch;
    }
    if (ip->dst_addr != s.vtep) return Drop::IpNotForUs;
    if (!ipv4_checksum_ok(ip, ihl)) return Drop::IpBadChecksum;
    if (unlikely(martian_source(s, ip->src_addr))) return Drop::IpBadSource;
    // RFC 7348 §4.3: VTEPs do not fragment; each fragment (first, middle or last) is
    // dropped alone, nothing is reassembled (config/README.md, "Outer fragments").
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
        return Drop::IpFragment;
    if (ip->next_proto_id != IPPROTO_UDP) return Drop::NotVxlan;
    if (total < ihl + sizeof(rte_udp_hdr)) return Drop::IpBadHeader;
    auto* udp = reinterpret_cast<const rte_udp_hdr*>(reinterpret_cast<const uint8_t*>(ip) + ihl);
    if (udp->dst_port != s.vxlan_port) return Drop::NotVxlan;
    // A non-zero UDP checksum is not verified (RFC 7348 §5 lets the receiver skip it):
    // the inner frame carries its own checksums, and summing every datagram would cost
    // more than the rest of decapsulation.
    if (total < ihl + sizeof(rte_udp_hdr) + sizeof(rte_vxlan_hdr) + sizeof(rte_ether_hdr) ||
        rte_be_to_cpu_16(udp->dgram_len) != total - ihl)
        return Drop::Truncated;
    // Ethernet pads short frames: keep only the datagram.
    uint32_t frame = sizeof(rte_ether_hdr) + total;
    if (rte_pktmbuf_pkt_len(m) > frame) rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - frame);
    return Drop::Count;
}

void underlay_input(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n) {
    rte_mbuf* vxlan[burst_size];
    uint16_t n_vxlan = 0;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
            drop(lc, Drop::Truncated, m);
            continue;
        }
        auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        bool to_us = rte_is_same_ether_addr(&eth->dst_addr, &s.underlay_mac);
        if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
            if (to_us || rte_is_broadcast_ether_addr(&eth->dst_addr))
                punt(lc, m, PuntReason::UnderlayArp, no_port);
            else
                drop(lc, Drop::L2NotForUs, m);
            continue;
        }
        if (unlikely(!to_us)) {
            drop(lc, Drop::L2NotForUs, m);
            continue;
        }
        if (unlikely(eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))) {
            drop(lc, Drop::UnsupportedEthertype, m);
            continue;
        }
        Drop reason = underlay_ipv4_check(s, m);
        if (unlikely(reason != Drop::Count)) {
            drop(lc, reason, m);
            continue;
        }
        vxlan[n_vxlan++] = m;
    }
    if (n_vxlan) vxlan_decap(s, lc, vxlan, n_vxlan);
}

} // namespace vxmesh::dp
