// Underlay neighbour resolution, run on the control thread.
//
// Workers punt underlay ARP and packets whose next hop has no MAC yet to a ring;
// this service answers ARP requests for our VTEP address, learns replies into the
// NeighbourTable, resolves next hops with retries, holds a few packets per
// unresolved neighbour and releases (or drops, under a counter) them, and refreshes
// entries before they expire. What it sends goes through a ring that worker 0 drains
// onto the underlay, so no queue is shared between threads. Its drops are counted on
// the control thread's lcore block and copied to a running drop capture like the
// workers' (dataplane/capture.hpp says to which port each belongs). The states follow
// RFC 4861 §7.3.2's neighbour unreachability detection, applied to ARP as Linux does.
#pragma once

#include "dataplane/lcore.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_mempool.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace vxmesh::dp {

struct NeighbourSettings {
    uint32_t reachable_ms = 30000; // a resolved MAC is re-confirmed after this long
    uint32_t retry_ms = 1000;      // between ARP requests for one neighbour
    uint32_t max_requests = 3;     // requests before giving up
    uint32_t hold_packets = 16;    // packets held per unresolved neighbour
};

enum class NeighbourState : uint8_t { Unused, Incomplete, Reachable, Probe, Failed };

class NeighbourService {
public:
    NeighbourService(NeighbourTable& table, rte_ring* punt, rte_ring* control_tx,
                     rte_mempool* pool, unsigned control_lcore, NeighbourSettings settings = {});
    ~NeighbourService();
    NeighbourService(const NeighbourService&) = delete;
    NeighbourService& operator=(const NeighbourService&) = delete;

    // The slot of a next-hop address, created unresolved on first use. Throws
    // std::runtime_error when the table is full.
    uint32_t intern(rte_be32_t ip);

    // Handle punted packets and due timers. `s` is the snapshot in force.
    void poll(const Snapshot& s, uint64_t now_ms);

    NeighbourState state(uint32_t slot) const { return entries_[slot].state; }

private:
    struct Entry {
        NeighbourState state = NeighbourState::Unused;
        uint32_t requests = 0;
        uint64_t deadline_ms = 0;  // next request (Incomplete/Probe) or re-confirmation
        std::vector<rte_mbuf*> held;
    };

    void handle_arp(const Snapshot& s, rte_mbuf* m, uint64_t now_ms);
    void hold(const Snapshot& s, rte_mbuf* m, uint64_t now_ms);
    void learn(uint32_t slot, const rte_ether_addr& mac, uint64_t now_ms);
    void start_resolution(const Snapshot& s, uint32_t slot, uint64_t now_ms);
    void send_request(const Snapshot& s, uint32_t slot);
    void run_timers(const Snapshot& s, uint64_t now_ms);
    void send(rte_mbuf* m);

    NeighbourTable& table_;
    rte_ring* punt_;
    rte_ring* control_tx_;
    rte_mempool* pool_;
    NeighbourSettings settings_;
    Lcore control_;    // the control thread's counters; capture set during poll()
    uint16_t underlay_port_ = no_port; // of the snapshot in force, for send()'s drops
    std::unordered_map<rte_be32_t, uint32_t> by_ip_;
    std::vector<uint32_t> used_;   // interned slots, for the timers
    std::vector<Entry> entries_;
    uint64_t next_timer_ms_ = 0;
};

} // namespace vxmesh::dp
