// FlatTable: the snapshot's exact-match tables (FDB, sources, ARP, VNIs).
//
// A snapshot is built once by the control thread and only read after it is published,
// so its tables need none of what rte_hash carries for concurrent writers (signature
// arrays, buckets of eight with a separate key store, cuckoo displacement, lock-free
// readers during updates). Measured under callgrind, rte_hash_lookup_bulk_data cost
// ~150 instructions per key, more than half of VXLAN encapsulation (bench/README.md).
//
// This table is open addressing with linear probing, never more than half full, of
// 16-byte slots {key, value} (four per cache line) with 64-bit keys and values. The
// hash is one CRC32 instruction; a lookup reads one slot and almost always stops
// there. Bulk lookups first hash every key and prefetch its slot, then probe, so a
// burst's misses to memory overlap (the 100k-endpoint tables do not fit in cache).
//
// Keys are packed by the callers (key helpers in snapshot.hpp); the all-ones key marks
// an empty slot and can never be inserted. Not thread-safe while building; immutable
// (and safe to read from any thread) once built. A change of a few endpoints is built
// from the previous snapshot's tables: clone() copies one, erase() takes keys out (by
// backward shift, so lookups go as if they had never been inserted).
#pragma once

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include <sys/mman.h>

namespace vxmesh::dp {

// CRC32C of 8 bytes. The build targets SSE4.2 (DPDK asks for -march=corei7), so the
// instruction is used directly, without rte_hash_crc_8byte's per-call check of which
// implementation was chosen at start-up.
inline uint32_t crc32c_u64(uint64_t data, uint32_t init) {
#ifdef __SSE4_2__
    return static_cast<uint32_t>(_mm_crc32_u64(init, data));
#else
    return rte_hash_crc_8byte(data, init);
#endif
}

namespace flat_table_detail {

inline constexpr size_t huge_page = size_t{2} << 20;

// `bytes` (a multiple of huge_page) of fresh anonymous memory, 2 MB aligned, advised for
// transparent huge pages (advice the kernel may refuse).
inline void* map_huge(size_t bytes) {
    size_t span = bytes + huge_page;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto start = reinterpret_cast<uintptr_t>(raw);
    uintptr_t aligned = (start + huge_page - 1) & ~(uintptr_t{huge_page} - 1);
    if (aligned > start) munmap(raw, aligned - start);
    if (uintptr_t end = start + span; end > aligned + bytes)
        munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
    madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(aligned);
}

// Frees what map_huge (mapped: its size) or aligned_alloc (mapped: 0) gave.
template <typename T> struct Free {
    size_t mapped = 0;
    void operator()(T* p) const {
        if (mapped != 0)
            munmap(p, mapped);
        else
            std::free(p);
    }
};

} // namespace flat_table_detail

class FlatTable {
public:
    static constexpr uint64_t empty_key = ~uint64_t{0};
    static constexpr uint32_t hash_seed = 0x5f3759df;
    static constexpr size_t huge_page = flat_table_detail::huge_page;

    struct Slot {
        uint64_t key;
        uint64_t value;
    };

    FlatTable() : FlatTable(0) {}

    // A table for up to `entries` keys: 2 × entries slots rounded up to a power of two
    // (at least 16).
    explicit FlatTable(size_t entries) : FlatTable(Uninitialised{}, capacity_for(entries)) {
        for (size_t i = 0; i < capacity(); i++)
            slots_[i] = {empty_key, 0};
    }

    FlatTable(FlatTable&&) noexcept = default;
    FlatTable& operator=(FlatTable&&) noexcept = default;

    // A copy that holds at least `entries` keys. When they fit this table's limit, its
    // slots are copied as they are, one memcpy: what a change of a few endpoints costs on
    // a node with 100k of them, instead of inserting every key again. Otherwise every key
    // is inserted into a table sized as FlatTable(entries) would be.
    FlatTable clone(size_t entries) const {
        if (entries > limit_) {
            FlatTable bigger(entries);
            for_each([&bigger](uint64_t key, uint64_t value) { bigger.insert(key, value); });
            return bigger;
        }
        FlatTable copy(Uninitialised{}, capacity());
        std::memcpy(copy.slots_.get(), slots_.get(), bytes());
        copy.size_ = size_;
        return copy;
    }

    size_t size() const { return size_; }
    // Whether the table can hold `entries` keys (it is kept at most half full).
    bool fits(size_t entries) const { return entries <= limit_; }
    size_t capacity() const { return size_t{mask_} + 1; }
    size_t bytes() const { return capacity() * sizeof(Slot); }

    enum class Insert { Added, Exists, Full, BadKey };

    // Control thread, while building. An existing key keeps its value.
    Insert insert(uint64_t key, uint64_t value) {
        if (key == empty_key) return Insert::BadKey;
        uint32_t i = slot_index(key);
        for (;; i = (i + 1) & mask_) {
            if (slots_[i].key == key) return Insert::Exists;
            if (slots_[i].key == empty_key) break;
        }
        if (size_ >= limit_) return Insert::Full;
        slots_[i] = {key, value};
        size_++;
        return Insert::Added;
    }

    // Control thread, while building: removes `key`, false when it was not there.
    // Backward-shift deletion (no tombstones, so lookups still stop at the first empty
    // slot): each later entry of the probe run moves back into the hole when its own
    // probe, from its home slot, passes the hole; the run is then one shorter.
    bool erase(uint64_t key) {
        if (key == empty_key) return false;
        uint32_t hole = slot_index(key);
        for (; slots_[hole].key != key; hole = (hole + 1) & mask_)
            if (slots_[hole].key == empty_key) return false;
        for (uint32_t i = (hole + 1) & mask_; slots_[i].key != empty_key; i = (i + 1) & mask_) {
            // It may move back when the hole lies between its home slot and it: distances
            // along the probe direction, modulo the table size, as runs wrap at the end.
            uint32_t home = slot_index(slots_[i].key);
            if (((i - home) & mask_) >= ((i - hole) & mask_)) {
                slots_[hole] = slots_[i];
                hole = i;
            }
        }
        slots_[hole] = {empty_key, 0};
        size_--;
        return true;
    }

    // Calls f(key, value) for every entry, in slot order.
    template <typename F> void for_each(F&& f) const {
        for (size_t i = 0; i < capacity(); i++)
            if (slots_[i].key != empty_key) f(slots_[i].key, slots_[i].value);
    }

    uint32_t slot_index(uint64_t key) const { return crc32c_u64(key, hash_seed) & mask_; }

    // The value of `key`, or nullptr.
    const uint64_t* find(uint64_t key) const {
        return probe(slots_.get(), mask_, key, slot_index(key));
    }

    // Looks up n ≤ 64 keys; bit i of the result is set when keys[i] was found, its
    // value then in values[i].
    uint64_t lookup_bulk(const uint64_t* keys, unsigned n, uint64_t* values) const {
        // Locals, so that the compiler need not reload them after each store.
        const Slot* slots = slots_.get();
        const uint32_t mask = mask_;
        uint32_t index[64];
        for (unsigned i = 0; i < n; i++) {
            index[i] = crc32c_u64(keys[i], hash_seed) & mask;
            rte_prefetch0(&slots[index[i]]);
        }
        uint64_t hits = 0;
        for (unsigned i = 0; i < n; i++) {
            const uint64_t* v = probe(slots, mask, keys[i], index[i]);
            if (likely(v != nullptr)) {
                values[i] = *v;
                hits |= uint64_t{1} << i;
            }
        }
        return hits;
    }

private:
    struct Uninitialised {};

    static size_t capacity_for(size_t entries) {
        return entries < 8 ? 16 : std::bit_ceil(entries * 2);
    }

    // `count` (a power of two) slots, left for the caller to fill.
    FlatTable(Uninitialised, size_t count) {
        size_t bytes = count * sizeof(Slot);
        // A big table is spread over many pages: without hugetlbfs (vxmesh runs with
        // --no-huge on small machines) ask for transparent huge pages, or every lookup
        // may miss the TLB as well as the cache. The memory is mapped fresh and 2 MB
        // aligned so that it is first touched after the advice (malloc could hand back
        // pages already faulted in as 4 KB ones).
        if (bytes >= huge_page) {
            slots_ = {static_cast<Slot*>(flat_table_detail::map_huge(bytes)), {bytes}};
        } else {
            void* p = std::aligned_alloc(RTE_CACHE_LINE_SIZE, bytes);
            if (p == nullptr) throw std::bad_alloc();
            slots_ = {static_cast<Slot*>(p), {0}};
        }
        mask_ = static_cast<uint32_t>(count - 1);
        limit_ = count / 2;
    }

    static const uint64_t* probe(const Slot* slots, uint32_t mask, uint64_t key, uint32_t i) {
        for (;; i = (i + 1) & mask) {
            const Slot& s = slots[i];
            if (likely(s.key == key)) return &s.value;
            if (s.key == empty_key) return nullptr;
        }
    }

    std::unique_ptr<Slot[], flat_table_detail::Free<Slot>> slots_;
    uint32_t mask_ = 0;
    size_t size_ = 0;
    size_t limit_ = 0;
};

} // namespace vxmesh::dp
