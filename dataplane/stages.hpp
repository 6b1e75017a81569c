// The packet stages. Each takes a burst, the read-only snapshot and the lcore's
// context, and sends every packet on: to a transmit buffer, to another stage, to
// the control thread, or to a named drop. The worker loop (worker.cpp) calls the two
// inputs; the rest are called by the stage before them, as in DESIGN.md's paths.
#pragma once

#include "dataplane/lcore.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_ip.h>

#include <cstring>

namespace vxmesh::dp {

// From an access port: source check, ARP → arp_proxy, local → switch, remote → encap.
void access_input(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n);

// ARP requests from a local endpoint on networks[i], answered in place from the endpoint
// table.
void arp_proxy(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts,
               const uint16_t* networks, uint16_t n);

// ARP requests from a peer's endpoint (vxlan_decap: decapsulated frames, on
// networks[i], from peer peers[i]): a request for an endpoint of this node is answered
// in place and encapsulated back to the peer.
void arp_proxy_remote(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, const uint16_t* networks,
                      const uint32_t* peers, uint16_t n);

// Frames for a remote endpoint (peer peers[i], from network networks[i]): outer headers
// from the peer's template.
void vxlan_encap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, const uint32_t* peers,
                 const uint16_t* networks, uint16_t n);

// From the underlay: L2/IPv4 checks; ARP → control thread; VXLAN to us → decap.
void underlay_input(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n);

// UDP/VXLAN packets for our VTEP (outer headers already checked): strip, deliver.
void vxlan_decap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n);

// Hand a packet to the control thread (neighbour service). `out_port`: the port a held
// packet waits to leave by, where a drop capture also sees it if the ring is full.
void punt(Lcore& lc, rte_mbuf* m, PuntReason reason, uint16_t out_port);

// Hash of the inner flow for the outer UDP source port (RFC 7348 §5): IPv4 addresses,
// protocol and, for TCP/UDP first fragments, ports; other frames hash their MACs.
inline uint32_t inner_flow_hash(const rte_mbuf* m) {
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
        return crc32c_u64(uint64_t{ip->src_addr} << 32 | ip->dst_addr, ports);
    }
    // Not IPv4: both MACs (bytes 0..11, read as 0..7 and 4..11).
    uint64_t w0, w1;
    std::memcpy(&w0, eth, 8);
    std::memcpy(&w1, reinterpret_cast<const uint8_t*>(eth) + 4, 8);
    return crc32c_u64(w1, crc32c_u64(w0, 0));
}

} // namespace vxmesh::dp
