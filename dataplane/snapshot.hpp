// The Snapshot: everything a worker needs to forward, compiled by the control plane
// (control/snapshot_build.cpp) and never modified after it is published.
//
// Workers load the current snapshot pointer once per loop iteration (acquire) and
// report an RCU quiescent state after it; the control thread frees a replaced
// snapshot only once every worker has passed one (dataplane/publish.hpp).
#pragma once

#include "dataplane/capture.hpp"
#include "dataplane/neighbour_table.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

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

// Keys are padded to 16 bytes: rte_hash compares 16-byte keys with one vector compare
// and falls back to memcmp for other sizes (measured: bench/README.md). Padding zeroed.

// The tables' hash: two CRC32 instructions over a 16-byte key, where rte_hash_crc's
// generic loop spends ~40 instructions (callgrind, bench/README.md).
inline uint32_t key16_hash(const void* key, uint32_t /*length*/, uint32_t seed) {
    uint64_t w[2];
    std::memcpy(w, key, sizeof(w));
    return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], seed));
}

// Key of the FDB: which MAC, in which VNI.
struct FdbKey {
    uint32_t vni;
    uint8_t mac[6];
    uint16_t zero;
    uint32_t zero2;
};
static_assert(sizeof(FdbKey) == 16);

// An FDB hit packed into the rte_hash data word.
struct FdbValue {
    static constexpr uint64_t remote_bit = uint64_t{1} << 63;
    static uint64_t local(uint16_t port) { return port; }
    static uint64_t remote(uint32_t peer) { return remote_bit | (uint64_t{peer} << 16); }
    static bool is_remote(uint64_t v) { return v & remote_bit; }
    static uint16_t port(uint64_t v) { return static_cast<uint16_t>(v); }
    static uint32_t peer(uint64_t v) { return static_cast<uint32_t>(v >> 16); }
};

// Which local endpoint sent a frame: its access port and source MAC.
struct SourceKey {
    uint16_t port;
    uint8_t mac[6];
    uint64_t zero;
};
static_assert(sizeof(SourceKey) == 16);

// ARP proxy: an overlay address in a VNI → MAC (packed with mac_pack).
struct ArpKey {
    uint32_t vni;
    rte_be32_t ip;
    uint64_t zero;
};
static_assert(sizeof(ArpKey) == 16);

// The endpoints attached to one access port. Most ports carry one endpoint (Docker
// gives each container one veth per network), so the source check compares a few
// MACs inline; a port with more falls back to the `sources` hash.
struct PortSources {
    static constexpr uint8_t inline_max = 4;
    uint8_t count = 0;
    bool overflow = false;                // more than inline_max: use Snapshot::sources
    uint64_t mac[inline_max] = {};       // mac_pack() form
    uint16_t network[inline_max] = {};
};

struct NetworkEntry {
    uint32_t vni;
    uint16_t mtu;           // inner IP MTU; frames up to mtu + 14 bytes are carried
    rte_be32_t gateway;
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

    rte_be32_t vtep = 0;              // our data-path address
    rte_ether_addr underlay_mac{};
    rte_be16_t vxlan_port = 0;        // network order
    uint16_t underlay_port = 0;       // DPDK port id
    bool outer_df = true;             // DF set in the templates; when clear, IDs vary

    std::vector<NetworkEntry> networks; // index = network id
    std::vector<PeerEntry> peers;       // index = peer id

    rte_hash* fdb = nullptr;     // FdbKey → FdbValue
    rte_hash* sources = nullptr; // SourceKey → network id (every local endpoint)
    PortSources port_sources[max_ports_snapshot];
    rte_hash* arp = nullptr;     // ArpKey → packed MAC
    rte_hash* vnis = nullptr;    // VNI (uint32) → network id; for drop accounting on misses

    const NeighbourTable* neighbours = nullptr;
    CaptureSpec capture;              // active only while vxmeshctl capture runs

    Snapshot() = default;
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    ~Snapshot() {
        rte_hash_free(fdb);
        rte_hash_free(sources);
        rte_hash_free(arp);
        rte_hash_free(vnis);
    }
};

} // namespace vxmesh::dp
