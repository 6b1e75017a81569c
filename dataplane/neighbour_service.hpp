// Underlay neighbour resolution, on its own lcore.
//
// Workers punt underlay ARP and packets whose next hop has no MAC yet to a ring;
// this service answers ARP requests for our VTEP address, learns replies into the
// NeighbourTable, resolves next hops with retries, holds a few packets per
// unresolved neighbour and releases (or drops, under a counter) them, and refreshes
// entries before they expire. What it sends goes through a ring that worker 0 drains
// onto the underlay, so no queue is shared between threads. Its drops are counted on
// its own lcore block and copied to a running drop capture like the workers'
// (dataplane/capture.hpp says to which port each belongs). The states follow RFC 4861
// §7.3.2's neighbour unreachability detection, applied to ARP as Linux does.
//
// It runs on an lcore of its own (neighbour_main) so that nothing slow on the control
// thread (a client, a file, a big apply) delays the node's ARP. It reads snapshots as
// an RCU reader like the workers. Slots are allocated by the control thread, which
// compiles snapshots (NeighbourSlots), and announced to the service through a
// single-producer single-consumer ring of commands; the service owns everything else.
#pragma once

#include "dataplane/lcore.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <set>
#include <unordered_map>
#include <vector>

namespace vxmesh::dp {

class SnapshotPublisher;

struct NeighbourSettings {
    uint32_t reachable_ms = 30000;        // a resolved MAC is re-confirmed after this long
    uint32_t retry_ms = 1000;             // between ARP requests for one neighbour
    uint32_t max_requests = 3;            // requests before giving up
    uint32_t hold_packets = 16;           // packets held per unresolved neighbour
    uint32_t max_punts_per_poll = 4 * 32; // punted packets handled per poll at most
};

enum class NeighbourState : uint8_t { Unused, Incomplete, Reachable, Probe, Failed };

// The control thread's side of the slots: which next-hop address has which slot, and
// which slots the published snapshot references. A compile interns its next hops;
// once its snapshot is published (after the RCU grace period that retired the one
// before) the slots only the old snapshot used are released; a compile that is
// rejected releases the slots it alone took. A released slot goes back to the free
// list only after the service has forgotten it (NeighbourSlot::owner), so a slot has at
// most one command of each kind in the ring, which is sized for that.
class NeighbourSlots {
public:
    NeighbourSlots(NeighbourTable& table, rte_ring* commands);

    // The slot of a next-hop address, created unresolved on first use. Throws
    // std::runtime_error when the table is full.
    uint32_t intern(rte_be32_t ip);
    // The snapshot compiled since the last call is now the one in force (published,
    // and the one it replaced retired): slots no longer referenced are released.
    void published();
    // The snapshot compiled since the last call was not published.
    void rejected();
    // Slots interned and not released (by the control thread's count).
    size_t in_use() const { return by_ip_.size(); }

private:
    void release(uint32_t slot);
    void reclaim(); // slots the service has forgotten, back to the free list

    NeighbourTable& table_;
    rte_ring* commands_;
    std::unordered_map<rte_be32_t, uint32_t> by_ip_;
    std::set<uint32_t> live_;         // referenced by the published snapshot
    std::set<uint32_t> pending_;      // referenced by the snapshot being compiled
    std::deque<uint32_t> free_;       // oldest freed first: a reused slot has been idle longest
    std::vector<uint32_t> releasing_; // released, not yet forgotten by the service
    uint32_t next_unused_ = 0;        // slots never used start here
};

class NeighbourService {
public:
    NeighbourService(NeighbourTable& table, rte_ring* punt, rte_ring* control_tx, rte_mempool* pool,
                     unsigned lcore, NeighbourSettings settings = {});
    ~NeighbourService();
    NeighbourService(const NeighbourService&) = delete;
    NeighbourService& operator=(const NeighbourService&) = delete;

    // For the control thread only.
    NeighbourSlots& slots() { return slots_; }
    // Announce our VTEP address (a gratuitous ARP) at the next poll, with the underlay
    // MAC of the snapshot then in force: publish it first.
    void announce() { announce_.store(true, std::memory_order_release); }

    // Handle announced slots, punted packets (at most max_punts_per_poll) and due
    // timers. `s` is the snapshot in force. Returns whether there was work.
    bool poll(const Snapshot& s, uint64_t now_ms);

    NeighbourState state(uint32_t slot) const { return entries_[slot].state; }

private:
    struct Entry {
        NeighbourState state = NeighbourState::Unused;
        uint32_t requests = 0;
        uint64_t deadline_ms = 0; // next request (Incomplete/Probe) or re-confirmation
        uint32_t used_index = 0;  // position in used_ while announced
        std::vector<rte_mbuf*> held;
    };

    void take_commands(const Snapshot& s);
    void handle_arp(const Snapshot& s, rte_mbuf* m, uint64_t now_ms);
    void hold(const Snapshot& s, rte_mbuf* m, uint64_t now_ms);
    void learn(uint32_t slot, const rte_ether_addr& mac, uint64_t now_ms);
    void start_resolution(const Snapshot& s, uint32_t slot, uint64_t now_ms);
    void send_request(const Snapshot& s, uint32_t slot);
    bool may_request() const;
    bool send_arp_request(const Snapshot& s, rte_be32_t target); // false: no mbuf
    void run_timers(const Snapshot& s, uint64_t now_ms);
    void send(rte_mbuf* m);

    NeighbourTable& table_;
    rte_ring* punt_;
    rte_ring* control_tx_;
    rte_ring* commands_;
    rte_mempool* pool_;
    NeighbourSettings settings_;
    NeighbourSlots slots_;
    Lcore lc_;                         // this thread's counters; capture set during poll()
    uint16_t underlay_port_ = no_port; // of the snapshot in force, for send()'s drops
    std::unordered_map<rte_be32_t, uint32_t> by_ip_;
    std::vector<uint32_t> used_; // announced slots, for the timers
    std::vector<Entry> entries_;
    uint64_t next_timer_ms_ = 0;
    bool requests_waiting_ = false; // requests due that the ring had no room for
    std::atomic<bool> announce_{false};
};

// The service's lcore: polls until `stop`, reading the publisher's snapshot as RCU
// reader `qsbr_id` (the publisher is sized for the workers and this thread).
struct NeighbourThreadConfig {
    NeighbourService* service = nullptr;
    const SnapshotPublisher* publisher = nullptr;
    unsigned qsbr_id = 0;
    const std::atomic<bool>* stop = nullptr;
};
int neighbour_main(void* arg); // rte_lcore_function_t

} // namespace vxmesh::dp
