// Underlay neighbours (peers' and the gateway's MACs) as the workers see them.
//
// A fixed array of slots that outlives snapshots: a snapshot's peer names its next
// hop by slot index, and the neighbour service (dataplane/neighbour_service.cpp, on
// its own lcore) fills the MAC in when ARP resolves it. One 64-bit atomic per slot
// carries MAC and validity together, so a worker never sees half an update. Slots are
// allocated and released by the control thread (NeighbourSlots) and reused.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace vxmesh::dp {

inline constexpr uint64_t neighbour_valid = uint64_t{1} << 63;

inline uint64_t mac_pack(const rte_ether_addr& mac) {
    uint64_t v = 0;
    std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return v;
}

inline rte_ether_addr mac_unpack(uint64_t v) {
    rte_ether_addr mac;
    std::memcpy(mac.addr_bytes, &v, RTE_ETHER_ADDR_LEN);
    return mac;
}

struct alignas(64) NeighbourSlot {
    std::atomic<uint64_t> mac_state{0}; // neighbour_valid | MAC bytes in the low 48 bits
    rte_be32_t ip = 0;                  // written by the control thread when interned
    // Set by the control thread when it releases the slot, cleared by the neighbour
    // service once it has forgotten it: only then may the slot be reused.
    std::atomic<bool> release_pending{false};
};

class NeighbourTable {
public:
    explicit NeighbourTable(uint32_t capacity)
        : slots_(std::make_unique<NeighbourSlot[]>(capacity)), capacity_(capacity) {}

    uint32_t capacity() const { return capacity_; }
    NeighbourSlot& slot(uint32_t i) { return slots_[i]; }
    const NeighbourSlot& slot(uint32_t i) const { return slots_[i]; }

    // Worker side: the MAC word, or 0 when the neighbour is not resolved.
    uint64_t lookup(uint32_t i) const {
        uint64_t v = slots_[i].mac_state.load(std::memory_order_acquire);
        return (v & neighbour_valid) ? v : 0;
    }

private:
    std::unique_ptr<NeighbourSlot[]> slots_;
    uint32_t capacity_;
};

} // namespace vxmesh::dp
