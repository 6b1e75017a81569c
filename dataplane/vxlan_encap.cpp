// VXLAN encapsulation toward a peer's VTEP (RFC 7348 §5).
//
// The outer Ethernet/IPv4/UDP/VXLAN headers are the peer's precomputed template;
// per packet only the next hop's MAC, the IPv4 total length and checksum (finished
// from the template's partial sum), the UDP source port (inner flow hash, for ECMP
// entropy), the UDP length and the VNI are written. The UDP checksum stays zero, as
// §5 recommends for IPv4.
#include "dataplane/stages.hpp"

#include <cstring>

#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

namespace vxmesh::dp {

void vxlan_encap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, const uint32_t* peers,
                 const uint16_t* networks, uint16_t n) {
    // The next hops' MAC words: with many peers they are rarely in cache.
    for (uint16_t i = 0; i < n; i++)
        rte_prefetch0(&s.neighbours->slot(s.peers[peers[i]].neighbour));
    rte_mbuf* ready[burst_size];
    uint16_t n_ready = 0;
    uint64_t encapsulated = 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        const PeerEntry& peer = s.peers[peers[i]];
        const NetworkEntry& net = s.networks[networks[i]];
        uint32_t inner_len = rte_pktmbuf_pkt_len(m);
        if (unlikely(inner_len > net.mtu + sizeof(rte_ether_hdr))) {
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
        uint16_t ip_len =
            static_cast<uint16_t>(inner_len + vxlan_outer_size - sizeof(rte_ether_hdr));
        ip->total_length = rte_cpu_to_be_16(ip_len);
        uint32_t sum = peer.ip_partial_sum + ip->total_length;
        if (unlikely(!s.outer_df)) { // fragmentable: each datagram needs its own ID
            ip->packet_id = rte_cpu_to_be_16(lc.ip_id);
            lc.ip_id = static_cast<uint16_t>(lc.ip_id + lc.ip_id_step); // ip_id_init
            sum += ip->packet_id;
        }
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        ip->hdr_checksum = static_cast<uint16_t>(~sum);
        udp->src_port = rte_cpu_to_be_16(vxlan_source_port_base | (hash & vxlan_source_port_mask));
        udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len - sizeof(rte_ipv4_hdr)));
        vxlan->vx_vni = net.vni_word;
        encapsulated++;

        uint64_t mac = s.neighbours->lookup(peer.neighbour);
        if (likely(mac != 0)) {
            rte_memcpy(outer, &mac, RTE_ETHER_ADDR_LEN);
            ready[n_ready++] = m;
        } else {
            meta(m).neighbour = peer.neighbour;
            punt(lc, m, PuntReason::NeighbourHold, s.underlay_port);
        }
    }
    lc.stats->encap += encapsulated;
    tx_enqueue_burst(lc, s.underlay_port, ready, n_ready);
}

} // namespace vxmesh::dp
