// VXLAN decapsulation (RFC 7348 §5) of datagrams underlay_input found well formed.
//
// Who may speak: a node speaks for its own endpoints only. The inner source MAC must be
// an endpoint the snapshot places behind a peer, and the outer source must be that
// peer's VTEP address. Without this any host on the underlay could inject into an
// overlay, Docker's MACs being predictable. With node.accept_unknown_peers, a sender
// that is no peer may speak for MACs the config places nowhere.
//
// The I flag must be set (the other flag bits, GBP's among them, are reserved and
// ignored on receipt); the VNI names the network; the inner frame must be untagged,
// from a unicast source and within the network's MTU; its destination must be an
// endpoint of that VNI attached to this node, except for an ARP request (broadcast or
// unicast), which arp_proxy_remote answers for our endpoints. The VNI is looked up once
// per change in the burst; both FDB lookups (destination, source) are done in one bulk
// call for the burst, and the sender is then checked against the source's peer entry
// (no table lookup on the fast path). config/README.md's "Receive policy" lists every
// outcome.
#include "dataplane/l4_offload.hpp"
#include "dataplane/stages.hpp"

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <cstring>

namespace vxmesh::dp {

// Offset of the inner Ethernet header; the outer IPv4 header was checked before.
static inline uint32_t inner_offset(const rte_mbuf* m) {
    auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    return sizeof(rte_ether_hdr) + (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u +
           sizeof(rte_udp_hdr) + sizeof(rte_vxlan_hdr);
}

static inline rte_be32_t outer_source(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr))->src_addr;
}

// The inner Ethernet header's own checks, before any table (underlay_input made sure
// the datagram holds at least an inner Ethernet header).
static inline Drop inner_frame_check(const Lcore& lc, const rte_mbuf* m, uint32_t offset,
                                     uint16_t mtu) {
    auto* inner = rte_pktmbuf_mtod_offset(m, const uint8_t*, offset);
    // IEEE 802: a group address (I/G bit set: multicast, broadcast) is never a source,
    // and no station has the zero address.
    uint64_t source = load_mac48(inner + RTE_ETHER_ADDR_LEN);
    if (unlikely((source & 1) || source == 0)) return Drop::VxlanInnerSourceInvalid;
    // Docker's overlay carries untagged frames: a tag asks for a VLAN nobody configured.
    rte_be16_t type;
    std::memcpy(&type, inner + 2 * RTE_ETHER_ADDR_LEN, sizeof(type));
    if (unlikely(type == RTE_BE16(RTE_ETHER_TYPE_VLAN) || type == RTE_BE16(RTE_ETHER_TYPE_QINQ) ||
                 type == RTE_BE16(RTE_ETHER_TYPE_QINQ1)))
        return Drop::VxlanInnerVlan;
    // The endpoint's interface has the network's MTU: a bigger frame never fits it. On a
    // port that hands over kernel buffers a bigger frame may be a kernel peer's GSO
    // super-frame: l4_offload_tx cuts it to the MTU, or drops it there under this name.
    if (unlikely(rte_pktmbuf_pkt_len(m) - offset > uint32_t{mtu} + sizeof(rte_ether_hdr)) &&
        !l4_offload_port(lc, m))
        return Drop::MtuExceeded;
    return Drop::Count;
}

// An ARP request: a peer's container resolving one of ours (broadcast) or re-confirming
// it (unicast to the endpoint's MAC); answered by proxy, not by the container, whose
// reply the access side would not carry.
static inline bool is_arp_request(const rte_mbuf* m, uint32_t offset) {
    auto* eth = rte_pktmbuf_mtod_offset(m, const rte_ether_hdr*, offset);
    if (likely(eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_ARP))) return false;
    auto* a = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    return rte_pktmbuf_data_len(m) >= offset + sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) &&
           a->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST);
}

// Off the fast path: the inner source is not an endpoint of the sending peer. Says
// why (or, for a stranger let in by accept_unknown_peers speaking for nobody's MAC,
// Drop::Count: deliver). `found`: whether the inner source is in the FDB at all.
static Drop sender_check(const Snapshot& s, rte_be32_t source, bool found) {
    bool peer = s.peer_by_vtep.find(peer_key(source)) != nullptr;
    if (!peer && !s.accept_unknown_peers) return Drop::VxlanUnknownPeer;
    // Another node's endpoint, one of ours, or (from a stranger) any known endpoint.
    if (found) return Drop::VxlanSpoofedSource;
    // A peer's endpoints are all placed: an unplaced one is not (or no longer) its own.
    return peer ? Drop::VxlanUnknownSource : Drop::Count;
}

void vxlan_decap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n) {
    // keys[2i]: the inner destination of valid[i]; keys[2i + 1]: its inner source.
    static_assert(2 * burst_size <= 64, "FlatTable::lookup_bulk takes up to 64 keys");
    uint64_t keys[2 * burst_size];
    uint64_t values[2 * burst_size];
    rte_mbuf* valid[burst_size];
    uint16_t offsets[burst_size];
    rte_be32_t sources[burst_size];
    uint16_t networks[burst_size];
    bool arp_requests[burst_size];
    uint16_t n_valid = 0;
    // A burst usually carries few VNIs: remember the last one's network.
    rte_be32_t last_vni = 0;
    uint16_t last_network = 0;
    bool have_vni = false;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        uint32_t offset = inner_offset(m);
        auto* vxlan =
            rte_pktmbuf_mtod_offset(m, const rte_vxlan_hdr*, offset - sizeof(rte_vxlan_hdr));
        if (unlikely(!(vxlan->vx_flags & RTE_BE32(0x08000000)))) {
            drop(lc, Drop::VxlanBadFlags, m);
            continue;
        }
        // The VNI and its reserved low byte, ignored on receipt (RFC 7348 §5).
        rte_be32_t word = vxlan->vx_vni & RTE_BE32(0xffffff00);
        if (!have_vni || word != last_vni) {
            uint32_t vni = rte_be_to_cpu_32(word) >> 8;
            const VniSlot& direct = s.vni_direct[vni % Snapshot::vni_direct_size];
            if (likely(direct.vni_word == word)) {
                last_network = direct.network;
            } else {
                const uint64_t* network = s.vnis.find(vni);
                if (unlikely(network == nullptr)) {
                    drop(lc, Drop::VxlanUnknownVni, m);
                    continue;
                }
                last_network = static_cast<uint16_t>(*network);
            }
            last_vni = word;
            have_vni = true;
        }
        Drop reason = inner_frame_check(lc, m, offset, s.networks[last_network].mtu);
        if (unlikely(reason != Drop::Count)) {
            drop(lc, reason, m);
            continue;
        }
        auto* inner = rte_pktmbuf_mtod_offset(m, const uint8_t*, offset);
        keys[2 * n_valid] = fdb_key(last_network, load_mac48(inner));
        keys[2 * n_valid + 1] = fdb_key(last_network, load_mac48(inner + RTE_ETHER_ADDR_LEN));
        offsets[n_valid] = static_cast<uint16_t>(offset);
        sources[n_valid] = outer_source(m);
        networks[n_valid] = last_network;
        arp_requests[n_valid] = is_arp_request(m, offset);
        valid[n_valid++] = m;
    }
    if (n_valid == 0) return;

    uint64_t hits = s.fdb.lookup_bulk(keys, 2u * n_valid, values);
    // The source's peer entries, read below: with many peers they are rarely in cache.
    for (uint16_t i = 0; i < n_valid; i++)
        if (((hits >> (2 * i + 1)) & 1) && FdbValue::is_remote(values[2 * i + 1]))
            rte_prefetch0(&s.peers[FdbValue::peer(values[2 * i + 1])].vtep);
    rte_mbuf* arp[burst_size];
    uint16_t arp_networks[burst_size];
    uint32_t arp_peers[burst_size];
    uint16_t n_arp = 0;
    for (uint16_t i = 0; i < n_valid; i++) {
        rte_mbuf* m = valid[i];
        uint64_t destination = values[2 * i], source = values[2 * i + 1];
        bool source_found = (hits >> (2 * i + 1)) & 1;
        bool to_local = ((hits >> (2 * i)) & 1) && !FdbValue::is_remote(destination);
        if (unlikely(!to_local && !arp_requests[i])) {
            // A stranger's frame is its sender's fault before its destination's.
            Drop reason = Drop::VxlanUnknownDestination;
            if (s.peer_by_vtep.find(peer_key(sources[i])) == nullptr && !s.accept_unknown_peers)
                reason = Drop::VxlanUnknownPeer;
            drop(lc, reason, m);
            continue;
        }
        if (unlikely(!source_found || !FdbValue::is_remote(source) ||
                     s.peers[FdbValue::peer(source)].vtep != sources[i])) {
            Drop reason = sender_check(s, sources[i], source_found);
            if (reason != Drop::Count) {
                drop(lc, reason, m);
                continue;
            }
        }
        if (unlikely(arp_requests[i])) {
            rte_pktmbuf_adj(m, offsets[i]);
            arp[n_arp] = m;
            arp_networks[n_arp] = networks[i];
            // The source check passed: a peer's own endpoint, or a stranger's nobody.
            arp_peers[n_arp++] =
                source_found && FdbValue::is_remote(source) ? FdbValue::peer(source) : no_peer;
            continue;
        }
        rte_pktmbuf_adj(m, offsets[i]);
        lc.stats->decap++;
        l4_offload_tx(lc, FdbValue::port(destination), s.networks[networks[i]].mtu, m);
    }
    if (n_arp) arp_proxy_remote(s, lc, arp, arp_networks, arp_peers, n_arp);
}

} // namespace vxmesh::dp
