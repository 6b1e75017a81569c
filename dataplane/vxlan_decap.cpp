// VXLAN decapsulation (RFC 7348 §5): the I flag must be set (the other flag bits are
// reserved and ignored on receipt); the inner destination must be an endpoint of
// that VNI attached to this node. The VNI names the network (one lookup per
// change of VNI in the burst); the FDB lookup is done in bulk for the burst.
#include "dataplane/l4_offload.hpp"
#include "dataplane/stages.hpp"

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
    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    rte_mbuf* valid[burst_size];
    uint16_t offsets[burst_size];
    uint16_t networks[burst_size];
    uint16_t n_valid = 0;
    // A burst usually carries few VNIs: remember the last one's network.
    rte_be32_t last_vni = 0;
    uint16_t last_network = 0;
    bool have_last = false;

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
        if (!have_last || word != last_vni) {
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
            have_last = true;
        }
        keys[n_valid] =
            fdb_key(last_network, load_mac48(rte_pktmbuf_mtod_offset(m, const uint8_t*, offset)));
        offsets[n_valid] = static_cast<uint16_t>(offset);
        networks[n_valid] = last_network;
        valid[n_valid++] = m;
    }
    if (n_valid == 0) return;

    uint64_t hits = s.fdb.lookup_bulk(keys, n_valid, values);
    for (uint16_t i = 0; i < n_valid; i++) {
        rte_mbuf* m = valid[i];
        if (likely((hits & (uint64_t{1} << i)) && !FdbValue::is_remote(values[i]))) {
            rte_pktmbuf_adj(m, offsets[i]);
            lc.stats->decap++;
            l4_offload_tx(lc, FdbValue::port(values[i]), s.networks[networks[i]].mtu, m);
            continue;
        }
        drop(lc, Drop::VxlanUnknownDestination, m);
    }
}

} // namespace vxmesh::dp
