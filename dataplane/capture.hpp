// Packet capture from the workers and the control thread (vxmeshctl capture). While a
// capture is active the snapshot carries a CaptureSpec; whoever handles a packet it
// selects (received, sent, or dropped on a port) copies it into a separate pool and
// queues the copy on a ring to the control thread, where copies are filtered and
// written as pcapng (daemon/capture_session.cpp). When no capture is active the cost
// is one predictable branch per burst and per drop.
//
// Which port a drop belongs to. A drop capture on port P holds every packet dropped,
// by a worker or by the control thread's neighbour service, that
//   - came in on P (mbuf->port, kept while a packet waits on the control thread), or
//   - was already on its way out of P: a transmit buffer or queue that was full
//     (tx_full), or a VXLAN packet waiting for the underlay next hop's MAC
//     (neighbour_unresolved, neighbour_queue_full, punt_ring_full of a held packet).
// So underlay ARP the neighbour service refuses (arp_not_for_us, a truncated or
// malformed one) belongs to the underlay, where it came in. A container's packet whose
// next hop never answers belongs to its access port (where it came in; flagged
// inbound) and to the underlay (where it was going; flagged outbound); either capture
// shows it as it was when dropped, already encapsulated. ARP requests vxmesh makes
// itself come in nowhere and belong to the underlay only. Drops decided before a
// packet is bound for a port (mtu_exceeded, no_headroom) belong to the input port.
//
// One ring, many producers. The workers and the control thread (which counts the
// neighbour service's drops, dataplane/neighbour_service.cpp) all enqueue copies on
// CaptureSpec::ring; it must be multi-producer (checked where vxmesh creates it), and
// only the control thread dequeues. A second ring just for the control thread's copies
// would spare the workers one more producer to wait for — in MP mode a producer
// preempted between reserving a slot and publishing it holds up the producers behind
// it — but the workers already wait on one another in the same way, only while a
// capture runs, and one ring keeps the copies in the order they were made and the
// session simple. The control thread cannot hand its copies to the session directly:
// the neighbour service is dataplane code and knows only the CaptureSpec.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>

namespace vxmesh::dp {

struct Lcore;

enum class CaptureDirection : uint8_t { Rx = 0, Tx = 1, Drop = 2 };

struct CaptureSpec {
    uint32_t ports[3] = {0, 0, 0}; // by CaptureDirection: bit per DPDK port id
    uint32_t snaplen = 0;          // bytes copied per packet
    rte_ring* ring = nullptr;      // to the control thread (multi-producer, see above)
    rte_mempool* pool = nullptr;   // where copies come from
    bool active() const { return (ports[0] | ports[1] | ports[2]) != 0; }
};

// Copy the packets of `port` selected for `direction` (a burst on rx or tx).
void capture_burst(Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n,
                   CaptureDirection direction);

// Copy a packet about to be dropped, with its reason, if a drop capture runs on the
// port it came in on or on `out_port`, the port it was leaving by (no_port if none).
void capture_drop(Lcore& lc, uint8_t reason, const rte_mbuf* m, uint16_t out_port);

} // namespace vxmesh::dp
