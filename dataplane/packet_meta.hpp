// Per-packet metadata, kept in the mbuf private area for what leaves the fast path: a
// packet punted to the control thread, a capture copy. The fast path itself passes
// what a stage needs beside the mbufs (arrays on the stack), never touching this line.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace vxmesh::dp {

enum class PuntReason : uint8_t {
    UnderlayArp,   // ARP seen on the underlay: answered/learned by the neighbour service
    NeighbourHold, // encapsulated packet waiting for its next hop's MAC
};

struct PacketMeta {
    uint32_t neighbour;    // punt: neighbour slot the packet waits for
    uint16_t capture_port; // capture copies: the DPDK port it was seen on
    PuntReason punt;
    uint8_t capture_direction;        // capture copies: dp::CaptureDirection
    uint8_t drop_reason;              // capture copies of drops: dp::Drop
    uint8_t capture_outbound;         // capture copies: 1 if on its way out of the port
    uint32_t capture_original_length; // capture copies: length before snaplen
    uint64_t capture_tsc;             // capture copies: when the worker saw it
};
static_assert(sizeof(PacketMeta) <= 32, "PacketMeta must stay small: it lives in every mbuf");

// The mempool is created with this private size (see dataplane/ports.cpp).
inline constexpr uint16_t packet_meta_size = RTE_ALIGN(sizeof(PacketMeta), RTE_MBUF_PRIV_ALIGN);

inline PacketMeta& meta(rte_mbuf* m) {
    return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}

} // namespace vxmesh::dp
