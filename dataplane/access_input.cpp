// From an access port (DESIGN.md, "From an access port").
//
// Every frame must come from an endpoint attached to this port (source MAC check:
// a container cannot speak for another). ARP goes to the proxy; other broadcast and
// multicast is dropped (the control plane knows every endpoint, so nothing needs
// flooding); unicast is looked up in the network's FDB: local → switch, remote →
// encapsulate, after finishing what the container's offloads left undone (partial
// checksums, GSO super-frames: dataplane/l4_offload.hpp). The source check compares the port's few
// endpoint MACs inline (a table lookup only for ports with many) in the pass that sorts the burst;
// the FDB lookup is done in bulk for the burst.
#include "dataplane/l4_offload.hpp"
#include "dataplane/stages.hpp"

#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

namespace vxmesh::dp {

namespace {

// A burst sorted by what happens next, with each frame's network id (kept beside the
// mbufs rather than in their metadata, so that no other cache line of the mbuf is
// written); unicast frames carry their FDB key.
struct Sorted {
    uint64_t keys[burst_size];
    rte_mbuf* unicast[burst_size];
    uint16_t unicast_network[burst_size];
    rte_mbuf* arp[burst_size];
    uint16_t arp_network[burst_size];
    uint16_t n_unicast = 0, n_arp = 0;
};

// Bytes 0..7 of an Ethernet header hold the destination MAC, 6..13 the source MAC and
// the ethertype: two 8-byte loads give all three.
inline uint64_t head_word(const rte_mbuf* m, uint32_t offset) {
    uint64_t v;
    std::memcpy(&v, rte_pktmbuf_mtod_offset(m, const uint8_t*, offset), sizeof(v));
    return v;
}
inline uint16_t ethertype_of(uint64_t src_word) {
    return static_cast<uint16_t>(src_word >> 48);
}

// A frame whose source passed the check, on `network`: ARP, flood or unicast.
inline void sort_frame(Lcore& lc, Sorted& out, rte_mbuf* m, uint16_t network, uint64_t src_word) {
    uint64_t dst_word = head_word(m, 0);
    if (ethertype_of(src_word) == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
        out.arp_network[out.n_arp] = network;
        out.arp[out.n_arp++] = m;
    } else if (unlikely(dst_word & 1)) { // I/G bit of the first byte: group address
        drop(lc, Drop::FloodSuppressed, m);
    } else {
        out.keys[out.n_unicast] = fdb_key(network, dst_word & mac48_mask);
        out.unicast_network[out.n_unicast] = network;
        out.unicast[out.n_unicast++] = m;
    }
}

// The source check (which network each frame's endpoint is on, or a drop) and the
// sorting. Ports with a few endpoints compare them inline, in the same pass.
void check_and_sort(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n,
                    Sorted& out) {
    const PortSources& ps = s.port_sources[port];
    if (likely(!ps.overflow)) {
        for (uint16_t i = 0; i < n; i++) {
            rte_mbuf* m = pkts[i];
            if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
                drop(lc, Drop::Truncated, m);
                continue;
            }
            uint64_t src_word = head_word(m, RTE_ETHER_ADDR_LEN);
            uint64_t src = src_word & mac48_mask;
            uint8_t e = 0;
            while (e < ps.count && ps.mac[e] != src)
                e++;
            if (unlikely(e == ps.count)) {
                drop(lc, Drop::UnknownSource, m);
                continue;
            }
            sort_frame(lc, out, m, ps.network[e], src_word);
        }
        return;
    }

    uint64_t keys[burst_size];
    uint64_t values[burst_size];
    uint64_t words[burst_size];
    rte_mbuf* candidates[burst_size];
    uint16_t n_candidates = 0;
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))) {
            drop(lc, Drop::Truncated, m);
            continue;
        }
        words[n_candidates] = head_word(m, RTE_ETHER_ADDR_LEN);
        keys[n_candidates] = source_key(port, words[n_candidates] & mac48_mask);
        candidates[n_candidates++] = m;
    }
    uint64_t hits = s.sources.lookup_bulk(keys, n_candidates, values);
    for (uint16_t i = 0; i < n_candidates; i++) {
        if (unlikely(!(hits & (uint64_t{1} << i)))) {
            drop(lc, Drop::UnknownSource, candidates[i]);
            continue;
        }
        sort_frame(lc, out, candidates[i], static_cast<uint16_t>(values[i]), words[i]);
    }
}

// A super-frame's segments, encapsulated toward `peer` a burst at a time.
void encap_segments(const Snapshot& s, Lcore& lc, rte_mbuf* m, uint32_t peer, uint16_t network) {
    rte_mbuf* segments[l4_max_segments];
    uint16_t n = l4_segment(lc, m, s.networks[network].mtu, segments);
    uint32_t peers[burst_size];
    uint16_t networks[burst_size];
    std::fill_n(peers, burst_size, peer);
    std::fill_n(networks, burst_size, network);
    for (uint16_t i = 0; i < n; i += burst_size) {
        auto chunk = static_cast<uint16_t>(std::min<int>(burst_size, n - i));
        tx_reserve(lc, s.underlay_port, chunk);
        vxlan_encap(s, lc, segments + i, peers, networks, chunk);
    }
}

} // namespace

void access_input(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n) {
    Sorted sorted;
    check_and_sort(s, lc, port, pkts, n, sorted);

    if (sorted.n_unicast) {
        uint64_t values[burst_size];
        rte_mbuf* remote[burst_size];
        uint32_t remote_peer[burst_size];
        uint16_t remote_network[burst_size];
        uint16_t n_remote = 0;
        uint64_t hits = s.fdb.lookup_bulk(sorted.keys, sorted.n_unicast, values);
        for (uint16_t i = 0; i < sorted.n_unicast; i++) {
            rte_mbuf* m = sorted.unicast[i];
            if (unlikely(!(hits & (uint64_t{1} << i)))) {
                drop(lc, Drop::L2UnknownDestination, m);
                continue;
            }
            uint64_t v = values[i];
            uint16_t network = sorted.unicast_network[i];
            if (FdbValue::is_remote(v)) {
                uint32_t peer = FdbValue::peer(v);
                if (unlikely(l4_offload_port(lc, m))) {
                    L4Action action = l4_complete(lc, m, s.networks[network].mtu);
                    if (action == L4Action::Dropped) continue;
                    if (action == L4Action::Segment) {
                        // What the burst already holds goes first: a flow stays in order.
                        vxlan_encap(s, lc, remote, remote_peer, remote_network, n_remote);
                        n_remote = 0;
                        encap_segments(s, lc, m, peer, network);
                        continue;
                    }
                }
                rte_prefetch0(&s.peers[peer]); // read by vxlan_encap below
                remote_peer[n_remote] = peer;
                remote_network[n_remote] = network;
                remote[n_remote++] = m;
            } else {
                lc.stats->switched++;
                l4_offload_tx(lc, FdbValue::port(v), s.networks[network].mtu, m);
            }
        }
        if (n_remote) vxlan_encap(s, lc, remote, remote_peer, remote_network, n_remote);
    }
    if (sorted.n_arp) arp_proxy(s, lc, port, sorted.arp, sorted.arp_network, sorted.n_arp);
}

} // namespace vxmesh::dp
