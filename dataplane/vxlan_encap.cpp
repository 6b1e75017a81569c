// VXLAN encapsulation toward a peer's VTEP (RFC 7348 §5).
//
// The outer Ethernet/IPv4/UDP/VXLAN headers are the peer's precomputed template;
// per packet only the next hop's MAC, the IPv4 total length and checksum (finished
// from the template's partial sum), the UDP source port (inner flow hash, for ECMP
// entropy), the UDP length and the VNI are written. The UDP checksum stays zero, as
// §5 recommends for IPv4.
#include "dataplane/stages.hpp"

#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

namespace vxmesh::dp {

uint32_t inner_flow_hash(const rte_mbuf* m) {
    auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    uint32_t len = rte_pktmbuf_data_len(m);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
        len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) {
        auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        uint32_t ports = ip->next_proto_id;
        uint32_t ihl = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
        bool first_fragment = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
        if ((ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) &&
            first_fragment && len >= sizeof(rte_ether_hdr) + ihl + 4) {
            uint32_t l4;
            std::memcpy(&l4, reinterpret_cast<const uint8_t*>(ip) + ihl, 4);
            ports ^= l4;
        }
        // One CRC32 instruction over both addresses, seeded with protocol and ports.
        return rte_hash_crc_8byte(uint64_t{ip->src_addr} << 32 | ip->dst_addr, ports);
    }
    return rte_hash_crc(eth, 2 * RTE_ETHER_ADDR_LEN, 0);
}

void vxlan_encap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n) {
    // The next hops' MAC words: with many peers they are rarely in cache.
    for (uint16_t i = 0; i < n; i++)
        rte_prefetch0(&s.neighbours->slot(s.peers[meta(pkts[i]).peer].neighbour));
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        PacketMeta& md = meta(m);
        const PeerEntry& peer = s.peers[md.peer];
        uint32_t inner_len = rte_pktmbuf_pkt_len(m);
        if (unlikely(inner_len > s.networks[md.network].mtu + sizeof(rte_ether_hdr))) {
            drop(lc, Drop::MtuExceeded, m);
            continue;
        }
        uint32_t hash = inner_flow_hash(m);
        auto* outer = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, vxlan_outer_size));
        if (unlikely(outer == nullptr)) {
            drop(lc, Drop::NoHeadroom, m);
            continue;
        }
        rte_memcpy(outer, peer.outer, vxlan_outer_size);

        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(outer + sizeof(rte_ether_hdr));
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        auto* vxlan = reinterpret_cast<rte_vxlan_hdr*>(udp + 1);
        uint16_t ip_len = static_cast<uint16_t>(inner_len + vxlan_outer_size - sizeof(rte_ether_hdr));
        ip->total_length = rte_cpu_to_be_16(ip_len);
        uint32_t sum = peer.ip_partial_sum + ip->total_length;
        if (unlikely(!s.outer_df)) { // fragmentable: each datagram needs its own ID
            ip->packet_id = rte_cpu_to_be_16(lc.ip_id++);
            sum += ip->packet_id;
        }
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        ip->hdr_checksum = static_cast<uint16_t>(~sum);
        udp->src_port = rte_cpu_to_be_16(vxlan_source_port_base | (hash & vxlan_source_port_mask));
        udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len - sizeof(rte_ipv4_hdr)));
        vxlan->vx_vni = rte_cpu_to_be_32(md.vni << 8);
        lc.stats->encap++;

        uint64_t mac = s.neighbours->lookup(peer.neighbour);
        if (likely(mac != 0)) {
            rte_memcpy(outer, &mac, RTE_ETHER_ADDR_LEN);
            tx_enqueue(lc, s.underlay_port, m);
        } else {
            md.neighbour = peer.neighbour;
            punt(lc, m, PuntReason::NeighbourHold, s.underlay_port);
        }
    }
}

} // namespace vxmesh::dp
