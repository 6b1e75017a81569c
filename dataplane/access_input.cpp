// From an access port (DESIGN.md, "From an access port").
//
// Every frame must come from an endpoint attached to this port (source MAC check:
// a container cannot speak for another). ARP goes to the proxy; other broadcast and
// multicast is dropped (the control plane knows every endpoint, so nothing needs
// flooding); unicast is looked up in the network's FDB: local → switch, remote →
// encapsulate. The source check compares the port's few endpoint MACs inline (a table lookup only for ports with many); the FDB lookup is done in bulk for the burst.
#include "dataplane/stages.hpp"

#include <rte_prefetch.h>

#include <cstring>

namespace vxmesh::dp {

// The source check: which network each frame's endpoint is on, or a drop. Returns the
// frames that passed, their network ids in `networks`.
static uint16_t source_check(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts,
                             uint16_t n, rte_mbuf** known, uint16_t* networks) {
    const PortSources& ps = s.port_sources[port];
    uint16_t n_known = 0;
    if (likely(!ps.overflow)) {
        for (uint16_t i = 0; i < n; i++) {
            rte_mbuf* m = pkts[i];
            if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
                drop(lc, Drop::Truncated, m);
                continue;
            }
            // Bytes 6..13 are the source MAC and the ethertype: keep the 48 MAC bits.
            uint64_t src = load_mac48(rte_pktmbuf_mtod_offset(m, const uint8_t*, RTE_ETHER_ADDR_LEN));
            uint8_t e = 0;
            while (e < ps.count && ps.mac[e] != src) e++;
            if (unlikely(e == ps.count)) {
                drop(lc, Drop::UnknownSource, m);
                continue;
            }
            networks[n_known] = ps.network[e];
            known[n_known++] = m;
        }
        return n_known;
    }

    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    rte_mbuf* candidates[burst_size];
    uint16_t n_candidates = 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
            drop(lc, Drop::Truncated, m);
            continue;
        }
        keys[n_candidates] = source_key(
            port, load_mac48(rte_pktmbuf_mtod_offset(m, const uint8_t*, RTE_ETHER_ADDR_LEN)));
        candidates[n_candidates++] = m;
    }
    if (n_candidates == 0) return 0;
    uint64_t hits = s.sources.lookup_bulk(keys, n_candidates, values);
    for (uint16_t i = 0; i < n_candidates; i++) {
        if (unlikely(!(hits & (uint64_t{1} << i)))) {
            drop(lc, Drop::UnknownSource, candidates[i]);
            continue;
        }
        networks[n_known] = static_cast<uint16_t>(values[i]);
        known[n_known++] = candidates[i];
    }
    return n_known;
}

void access_input(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n) {
    rte_mbuf* known[burst_size];
    uint16_t networks[burst_size];
    uint16_t n_known = source_check(s, lc, port, pkts, n, known, networks);
    if (n_known == 0) return;

    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    rte_mbuf* unicast[burst_size];
    rte_mbuf* arp[burst_size];
    uint16_t n_unicast = 0, n_arp = 0;

    for (uint16_t i = 0; i < n_known; i++) {
        rte_mbuf* m = known[i];
        uint16_t network = networks[i];
        PacketMeta& md = meta(m);
        md.network = network;

        auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
            arp[n_arp++] = m;
        } else if (unlikely(rte_is_multicast_ether_addr(&eth->dst_addr))) {
            drop(lc, Drop::FloodSuppressed, m);
        } else {
            keys[n_unicast] = fdb_key(network, load_mac48(eth));
            unicast[n_unicast++] = m;
        }
    }

    if (n_unicast) {
        rte_mbuf* remote[burst_size];
        uint16_t n_remote = 0;
        uint64_t hits = s.fdb.lookup_bulk(keys, n_unicast, values);
        for (uint16_t i = 0; i < n_unicast; i++) {
            rte_mbuf* m = unicast[i];
            if (unlikely(!(hits & (uint64_t{1} << i)))) {
                drop(lc, Drop::L2UnknownDestination, m);
                continue;
            }
            uint64_t v = values[i];
            if (FdbValue::is_remote(v)) {
                meta(m).peer = FdbValue::peer(v);
                rte_prefetch0(&s.peers[FdbValue::peer(v)]); // read by vxlan_encap below
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
