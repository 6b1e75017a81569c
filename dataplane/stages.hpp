// The packet stages. Each takes a burst, the read-only snapshot and the lcore's
// context, and sends every packet on: to a transmit buffer, to another stage, to
// the control thread, or to a named drop. The worker loop (worker.cpp) calls the two
// inputs; the rest are called by the stage before them, as in DESIGN.md's paths.
#pragma once

#include "dataplane/lcore.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/snapshot.hpp"

namespace vxmesh::dp {

// From an access port: source check, ARP → arp_proxy, local → switch, remote → encap.
void access_input(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n);

// ARP requests from a local endpoint, answered in place from the endpoint table.
void arp_proxy(const Snapshot& s, Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n);

// Frames for a remote endpoint (meta: peer, vni): outer headers from the peer's template.
void vxlan_encap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n);

// From the underlay: L2/IPv4 checks; ARP → control thread; VXLAN to us → decap.
void underlay_input(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n);

// UDP/VXLAN packets for our VTEP (outer headers already checked): strip, deliver.
void vxlan_decap(const Snapshot& s, Lcore& lc, rte_mbuf** pkts, uint16_t n);

// Hand a packet to the control thread (neighbour service). `out_port`: the port a held
// packet waits to leave by, where a drop capture also sees it if the ring is full.
void punt(Lcore& lc, rte_mbuf* m, PuntReason reason, uint16_t out_port);

// Hash of the inner flow for the outer UDP source port (RFC 7348 §5).
uint32_t inner_flow_hash(const rte_mbuf* m);

} // namespace vxmesh::dp
