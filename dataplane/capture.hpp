// Packet capture from the workers (vxmeshctl capture). While a capture is active the
// snapshot carries a CaptureSpec; workers copy what it selects (received, sent, or
// dropped on a port) into a separate pool and hand the copies to the control thread
// through a ring, where they are filtered and written as pcapng
// (control/capture_session.cpp). When no capture is active the cost is one
// predictable branch per burst and per drop.
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
    rte_ring* ring = nullptr;      // to the control thread (multi-producer)
    rte_mempool* pool = nullptr;   // where copies come from
    bool active() const { return (ports[0] | ports[1] | ports[2]) != 0; }
};

// Copy the packets of `port` selected for `direction` (a burst on rx or tx).
void capture_burst(Lcore& lc, uint16_t port, rte_mbuf** pkts, uint16_t n,
                   CaptureDirection direction);

// Copy a packet about to be dropped, with its reason, if its port is selected.
void capture_drop(Lcore& lc, uint8_t reason, const rte_mbuf* m);

} // namespace vxmesh::dp
