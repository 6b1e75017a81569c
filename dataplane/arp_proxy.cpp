// ARP proxy for the overlay: a container's ARP request is answered from the
// endpoint table on the port it came from, never flooded (Docker's overlay does the
// same from its peer database). RFC 826 packet layout; the reply is built in place.
// A container's RFC 5227 probe for its own address is not answered: only another
// holder of the address is a conflict.
// Requests from a peer's endpoint for one of ours are answered the same way, from the
// decapsulation side, and the reply goes back in VXLAN (arp_proxy_remote).
#include "dataplane/arp.hpp"
#include "dataplane/stages.hpp"

#include <rte_arp.h>

namespace vxmesh::dp {

void arp_proxy(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts,
               const uint16_t* networks, uint16_t n) {
    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    rte_mbuf* requests[burst_size];
    uint16_t n_requests = 0;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))) {
            drop(lc, Drop::Truncated, m);
            continue;
        }
        auto* a = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, sizeof(rte_ether_hdr));
        if (unlikely(!arp_is_ethernet_ipv4(a))) {
            drop(lc, Drop::ArpMalformed, m);
            continue;
        }
        if (a->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST)) {
            drop(lc, Drop::ArpNotRequest, m);
            continue;
        }
        if (a->arp_data.arp_sip == a->arp_data.arp_tip) {
            drop(lc, Drop::ArpGratuitous, m);
            continue;
        }
        keys[n_requests] = arp_key(networks[i], a->arp_data.arp_tip);
        requests[n_requests++] = m;
    }
    if (n_requests == 0) return;

    uint64_t hits = s.arp.lookup_bulk(keys, n_requests, values);
    for (uint16_t i = 0; i < n_requests; i++) {
        rte_mbuf* m = requests[i];
        if (!(hits & (uint64_t{1} << i))) {
            drop(lc, Drop::ArpUnknownTarget, m);
            continue;
        }
        rte_ether_addr target_mac = mac_unpack(values[i]);
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
        // An RFC 5227 probe (sender address 0.0.0.0) for the requester's own address:
        // answering it would tell the container that its address is taken, by itself.
        if (unlikely(a->arp_data.arp_sip == 0 &&
                     rte_is_same_ether_addr(&target_mac, &eth->src_addr))) {
            drop(lc, Drop::ArpProbeOwnAddress, m);
            continue;
        }
        rte_be32_t target_ip = a->arp_data.arp_tip;

        eth->dst_addr = a->arp_data.arp_sha;
        eth->src_addr = target_mac;
        a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        a->arp_data.arp_tha = a->arp_data.arp_sha;
        a->arp_data.arp_tip = a->arp_data.arp_sip;
        a->arp_data.arp_sha = target_mac;
        a->arp_data.arp_sip = target_ip;
        lc.stats->arp_proxied++;
        tx_enqueue(lc, port, m);
    }
}

// ARP requests that arrived in VXLAN from a peer's endpoint (vxlan_decap checked that
// the peer speaks for it), for an address on network networks[i]: answered by proxy
// when the target is an endpoint attached to this node, the reply encapsulated back to
// the requesting peer peers[i]. A kernel VXLAN peer's container resolves ours with a
// broadcast request (the kernel floods it to its all-zeros FDB entries) and re-confirms
// the entry with a unicast one to our endpoint's MAC; both are answered here, as the
// endpoint itself would, so the reply never depends on the container's own ARP (which
// the access side's proxy would drop: containers' replies are not carried).
void arp_proxy_remote(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, const uint16_t* networks,
                      const uint32_t* peers, uint16_t n) {
    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    rte_mbuf* requests[burst_size];
    uint16_t request_networks[burst_size];
    uint32_t request_peers[burst_size];
    uint16_t n_requests = 0;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        // A stranger (node.accept_unknown_peers) has no outer template to answer with.
        if (unlikely(peers[i] == no_peer)) {
            drop(lc, Drop::VxlanUnknownPeer, m);
            continue;
        }
        auto* a = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, sizeof(rte_ether_hdr));
        if (unlikely(!arp_is_ethernet_ipv4(a))) {
            drop(lc, Drop::ArpMalformed, m);
            continue;
        }
        if (a->arp_data.arp_sip == a->arp_data.arp_tip) {
            drop(lc, Drop::ArpGratuitous, m);
            continue;
        }
        keys[n_requests] = arp_key(networks[i], a->arp_data.arp_tip);
        request_networks[n_requests] = networks[i];
        request_peers[n_requests] = peers[i];
        requests[n_requests++] = m;
    }
    if (n_requests == 0) return;

    uint64_t hits = s.arp.lookup_bulk(keys, n_requests, values);
    rte_mbuf* replies[burst_size];
    uint16_t reply_networks[burst_size];
    uint32_t reply_peers[burst_size];
    uint16_t n_replies = 0;
    for (uint16_t i = 0; i < n_requests; i++) {
        rte_mbuf* m = requests[i];
        // Only our own endpoints: a node speaks for its own, the peer asks the others'.
        const uint64_t* fdb = (hits & (uint64_t{1} << i))
                                  ? s.fdb.find(fdb_key(request_networks[i], values[i]))
                                  : nullptr;
        if (fdb == nullptr || FdbValue::is_remote(*fdb)) {
            drop(lc, Drop::ArpUnknownTarget, m);
            continue;
        }
        rte_ether_addr target_mac = mac_unpack(values[i]);
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
        rte_be32_t target_ip = a->arp_data.arp_tip;

        eth->dst_addr = eth->src_addr; // the requester, as vxlan_decap checked it
        eth->src_addr = target_mac;
        a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        a->arp_data.arp_tha = a->arp_data.arp_sha;
        a->arp_data.arp_tip = a->arp_data.arp_sip;
        a->arp_data.arp_sha = target_mac;
        a->arp_data.arp_sip = target_ip;
        lc.stats->arp_proxied++;
        reply_networks[n_replies] = request_networks[i];
        reply_peers[n_replies] = request_peers[i];
        replies[n_replies++] = m;
    }
    if (n_replies) vxlan_encap(s, lc, replies, reply_peers, reply_networks, n_replies);
}

} // namespace vxmesh::dp
