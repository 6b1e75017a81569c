// From an access port (DESIGN.md, "From an access port").
//
// Every frame must come from an endpoint attached to this port (source MAC check:
// a container cannot speak for another). ARP goes to the proxy; other broadcast and
// multicast is dropped (the control plane knows every endpoint, so nothing needs
// flooding); unicast is looked up in the network's FDB: local → switch, remote →
// encapsulate. Both lookups are done in bulk for the burst.
#include "dataplane/stages.hpp"

#include <rte_hash.h>

namespace vxmesh::dp {

void access_input(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n) {
    SourceKey source_keys[burst_size];
    const void* keys[burst_size];
    void* data[burst_size];
    rte_mbuf* known[burst_size];
    uint16_t n_known = 0;

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
            drop(lc, Drop::Truncated, m);
            continue;
        }
        auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        SourceKey& k = source_keys[n_known];
        k.port = port;
        rte_memcpy(k.mac, eth->src_addr.addr_bytes, RTE_ETHER_ADDR_LEN);
        keys[n_known] = &k;
        known[n_known++] = m;
    }
    if (n_known == 0) return;

    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(s.sources, keys, n_known, &hits, data);

    FdbKey fdb_keys[burst_size];
    rte_mbuf* unicast[burst_size];
    rte_mbuf* arp[burst_size];
    uint16_t n_unicast = 0, n_arp = 0;

    for (uint16_t i = 0; i < n_known; i++) {
        rte_mbuf* m = known[i];
        if (unlikely(!(hits & (uint64_t{1} << i)))) {
            drop(lc, Drop::UnknownSource, m);
            continue;
        }
        auto network = static_cast<uint16_t>(reinterpret_cast<uintptr_t>(data[i]));
        PacketMeta& md = meta(m);
        md.network = network;
        md.vni = s.networks[network].vni;

        auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
            arp[n_arp++] = m;
        } else if (unlikely(rte_is_multicast_ether_addr(&eth->dst_addr))) {
            drop(lc, Drop::FloodSuppressed, m);
        } else {
            FdbKey& k = fdb_keys[n_unicast];
            k.vni = md.vni;
            rte_memcpy(k.mac, eth->dst_addr.addr_bytes, RTE_ETHER_ADDR_LEN);
            k.zero = 0;
            keys[n_unicast] = &k;
            unicast[n_unicast++] = m;
        }
    }

    if (n_unicast) {
        rte_mbuf* remote[burst_size];
        uint16_t n_remote = 0;
        hits = 0;
        rte_hash_lookup_bulk_data(s.fdb, keys, n_unicast, &hits, data);
        for (uint16_t i = 0; i < n_unicast; i++) {
            rte_mbuf* m = unicast[i];
            if (unlikely(!(hits & (uint64_t{1} << i)))) {
                drop(lc, Drop::L2UnknownDestination, m);
                continue;
            }
            auto v = reinterpret_cast<uintptr_t>(data[i]);
            if (FdbValue::is_remote(v)) {
                meta(m).peer = FdbValue::peer(v);
                remote[n_remote++] = m;
            } else {
                lc.stats->switched++;
                tx_enqueue(lc, FdbValue::port(v), m);
            }
        }
        if (n_remote) vxlan_encap(s, lc, remote, n_remote);
    }
    if (n_arp) arp_proxy(s, lc, port, arp, n_arp);
}

} // namespace vxmesh::dp
