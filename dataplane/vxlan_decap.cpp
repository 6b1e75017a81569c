// VXLAN decapsulation (RFC 7348 §5): the I flag must be set (the other flag bits are
// reserved and ignored on receipt); the inner destination must be an endpoint of
// that VNI attached to this node. The FDB lookup is done in bulk for the burst.
#include "dataplane/stages.hpp"

#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

namespace vxmesh::dp {

// Offset of the inner Ethernet header; the outer IPv4 header was checked before.
static inline uint32_t inner_offset(const rte_mbuf* m) {
    auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    return sizeof(rte_ether_hdr) + (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u +
           sizeof(rte_udp_hdr) + sizeof(rte_vxlan_hdr);
}

void vxlan_decap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n) {
    FdbKey fdb_keys[burst_size];
    const void* keys[burst_size];
    void* data[burst_size];
    rte_mbuf* valid[burst_size];
    uint16_t offsets[burst_size];
    uint16_t n_valid = 0;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        uint32_t offset = inner_offset(m);
        auto* vxlan = rte_pktmbuf_mtod_offset(m, const rte_vxlan_hdr*,
                                              offset - sizeof(rte_vxlan_hdr));
        if (unlikely(!(vxlan->vx_flags & RTE_BE32(0x08000000)))) {
            drop(lc, Drop::VxlanBadFlags, m);
            continue;
        }
        auto* inner = rte_pktmbuf_mtod_offset(m, const rte_ether_hdr*, offset);
        FdbKey& k = fdb_keys[n_valid];
        k.vni = rte_be_to_cpu_32(vxlan->vx_vni) >> 8;
        rte_memcpy(k.mac, inner->dst_addr.addr_bytes, RTE_ETHER_ADDR_LEN);
        k.zero = 0;
        k.zero2 = 0;
        keys[n_valid] = &k;
        offsets[n_valid] = static_cast<uint16_t>(offset);
        valid[n_valid++] = m;
    }
    if (n_valid == 0) return;

    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(s.fdb, keys, n_valid, &hits, data);
    for (uint16_t i = 0; i < n_valid; i++) {
        rte_mbuf* m = valid[i];
        auto v = reinterpret_cast<uintptr_t>(data[i]);
        if (likely((hits & (uint64_t{1} << i)) && !FdbValue::is_remote(v))) {
            rte_pktmbuf_adj(m, offsets[i]);
            lc.stats->decap++;
            tx_enqueue(lc, FdbValue::port(v), m);
            continue;
        }
        // A miss: tell an unknown VNI from an unknown endpoint (off the fast path).
        bool vni_known = rte_hash_lookup(s.vnis, &fdb_keys[i].vni) >= 0;
        drop(lc, vni_known ? Drop::VxlanUnknownDestination : Drop::VxlanUnknownVni, m);
    }
}

} // namespace vxmesh::dp
