// The Snapshot: everything a worker needs to forward, compiled by the control plane
// (control/snapshot_build.cpp) and never modified after it is published.
//
// Workers load the current snapshot pointer once per loop iteration (acquire) and
// report an RCU quiescent state after it; the control thread frees a replaced
// snapshot only once every worker has passed one (dataplane/publish.hpp).
#pragma once

#include "dataplane/capture.hpp"
#include "dataplane/flat_table.hpp"
#include "dataplane/neighbour_table.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vxmesh::dp {

inline constexpr uint16_t max_ports_snapshot = 32; // = max_ports in lcore.hpp

// Outer headers of a VXLAN packet: Ethernet + IPv4 + UDP + VXLAN (RFC 7348 §5).
inline constexpr uint16_t vxlan_outer_size = 14 + 20 + 8 + 8;

// RFC 7348 §5: source port from a hash of the inner flow, in the dynamic range.
inline constexpr uint16_t vxlan_source_port_base = 49152;
inline constexpr uint16_t vxlan_source_port_mask = 0x3fff;

// The tables' 64-bit keys (dataplane/flat_table.hpp). A MAC is packed as mac_pack()
// does: its six bytes in the low 48 bits, in wire order from the lowest byte, which is
// what an 8-byte load at the MAC's address gives once masked. Network ids are below
// max_networks, so no key is FlatTable::empty_key.
inline constexpr uint64_t mac48_mask = 0xffffffffffffULL;
static_assert(std::endian::native == std::endian::little, "MAC packing assumes little endian");
inline constexpr size_t max_networks = 0xffff;

// FDB: which MAC, on which network → FdbValue.
inline uint64_t fdb_key(uint16_t network, uint64_t mac48) {
    return uint64_t{network} << 48 | mac48;
}
// Sources: which local endpoint sent a frame, by access port and source MAC → network id.
inline uint64_t source_key(uint16_t port, uint64_t mac48) {
    return uint64_t{port} << 48 | mac48;
}
// Peers: a peer's VTEP address (network order) → peer id.
inline uint64_t peer_key(rte_be32_t vtep) {
    return vtep;
}
// What decapsulation records for a sender that is no configured peer (accepted only with
// node.accept_unknown_peers).
inline constexpr uint32_t no_peer = UINT32_MAX;

// ARP proxy: an overlay address (network order) on a network → packed MAC.
inline uint64_t arp_key(uint16_t network, rte_be32_t ip) {
    return uint64_t{network} << 32 | ip;
}

// The six bytes at `p` as a packed MAC. Reads eight: callers point into a header
// with at least two more bytes after the MAC (an Ethernet header's source MAC and
// ethertype follow its destination; its ethertype follows its source).
inline uint64_t load_mac48(const void* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v & mac48_mask;
}

// An FDB hit packed into a table value.
struct FdbValue {
    static constexpr uint64_t remote_bit = uint64_t{1} << 63;
    static uint64_t local(uint16_t port) { return port; }
    static uint64_t remote(uint32_t peer) { return remote_bit | (uint64_t{peer} << 16); }
    static bool is_remote(uint64_t v) { return v & remote_bit; }
    static uint16_t port(uint64_t v) { return static_cast<uint16_t>(v); }
    static uint32_t peer(uint64_t v) { return static_cast<uint32_t>(v >> 16); }
};

// The endpoints attached to one access port. Most ports carry one endpoint (Docker
// gives each container one veth per network), so the source check compares a few
// MACs inline; a port with more falls back to the `sources` table. The inline MACs are
// kept in ascending order, and cleared when the port overflows, so that the entry depends
// only on which endpoints the port has: an endpoint change applied to the previous
// snapshot gives the same entry as a full build (control/snapshot_build.hpp).
struct PortSources {
    static constexpr uint8_t inline_max = 4;
    uint32_t count = 0;            // endpoints on the port, inline or not
    bool overflow = false;         // more than inline_max: use Snapshot::sources
    uint64_t mac[inline_max] = {}; // mac_pack() form
    uint16_t network[inline_max] = {};
};

struct NetworkEntry {
    uint32_t vni;
    rte_be32_t vni_word; // the VXLAN header's second word: VNI << 8, network order
    uint16_t mtu;        // inner IP MTU; frames up to mtu + 14 bytes are carried
    rte_be32_t gateway;
};

struct VniSlot {
    static constexpr rte_be32_t empty = ~rte_be32_t{0}; // no VNI word has its low byte set
    rte_be32_t vni_word = empty; // VNI << 8, network order, as in the VXLAN header
    uint16_t network = 0;
};

struct alignas(64) PeerEntry {
    uint8_t outer[vxlan_outer_size]; // template: dst MAC patched per packet from the neighbour
    uint32_t ip_partial_sum;         // one's-complement sum of the outer IPv4 header,
                                     // total length and checksum taken as zero
    uint32_t neighbour;              // next-hop slot in the neighbour table
    rte_be32_t vtep;
};

struct Snapshot {
    uint64_t generation = 0;

    rte_be32_t vtep = 0;               // our data-path address
    rte_be32_t underlay_broadcast = 0; // the directed broadcast of vtep's on-link prefix
    rte_ether_addr underlay_mac{};
    rte_be16_t vxlan_port = 0;  // network order
    uint16_t underlay_port = 0; // DPDK port id
    bool outer_df = true;       // DF set in the templates; when clear, IDs vary
    // VXLAN from a sender that is no configured peer is decapsulated (its inner source
    // must then be no known endpoint); off by default (config/README.md).
    bool accept_unknown_peers = false;

    std::vector<NetworkEntry> networks; // index = network id
    std::vector<PeerEntry> peers;       // index = peer id

    FlatTable fdb;          // fdb_key → FdbValue
    FlatTable peer_by_vtep; // peer_key → peer id: who may send us VXLAN
    FlatTable sources;      // source_key → network id (every local endpoint)
    PortSources port_sources[max_ports_snapshot];
    FlatTable arp;  // arp_key → packed MAC
    FlatTable vnis; // VNI → network id
    // Decapsulation's first look for a VNI's network: slot VNI % vni_direct_size holds
    // the first network whose VNI falls there (swarm hands VNIs out serially, so 256
    // networks in a row never share a slot); a VNI not found there is looked up in
    // `vnis`. With many networks in a burst this saves a table lookup per packet.
    static constexpr size_t vni_direct_size = 256;
    VniSlot vni_direct[vni_direct_size];

    const NeighbourTable* neighbours = nullptr;
    CaptureSpec capture; // active only while vxmeshctl capture runs

    // Not copyable (its tables are big); rebuild_endpoints (control/snapshot_build.cpp)
    // copies one field by field, cloning the tables: a new field is copied there too.
    Snapshot() = default;
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
};

} // namespace vxmesh::dp
