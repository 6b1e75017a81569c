// FlatTable (dataplane/flat_table.hpp): the snapshot's exact-match tables.
#include "dataplane/flat_table.hpp"
#include "dataplane/snapshot.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <unordered_map>
#include <vector>

using vxmesh::dp::FlatTable;

TEST_CASE("FlatTable: sized at least twice its entries, a power of two") {
    CHECK(FlatTable(0).capacity() == 16);
    CHECK(FlatTable(7).capacity() == 16);
    CHECK(FlatTable(8).capacity() == 16);
    CHECK(FlatTable(9).capacity() == 32);
    CHECK(FlatTable(100000).capacity() == 262144);
}

TEST_CASE("FlatTable: insert, find, duplicates, the empty key and a full table") {
    FlatTable t(4);
    CHECK(t.insert(42, 7) == FlatTable::Insert::Added);
    CHECK(t.insert(0, 9) == FlatTable::Insert::Added); // key 0 is a key like any other
    CHECK(t.insert(42, 8) == FlatTable::Insert::Exists);
    CHECK(t.insert(FlatTable::empty_key, 1) == FlatTable::Insert::BadKey);
    REQUIRE(t.find(42) != nullptr);
    CHECK(*t.find(42) == 7); // the first value stays
    REQUIRE(t.find(0) != nullptr);
    CHECK(*t.find(0) == 9);
    CHECK(t.find(43) == nullptr);
    CHECK(t.size() == 2);
    // At most half full: 16 slots take 8 keys, the 9th is refused.
    for (uint64_t k = 100; t.size() < 8; k++)
        REQUIRE(t.insert(k, k) == FlatTable::Insert::Added);
    CHECK(t.insert(1000, 1) == FlatTable::Insert::Full);
    CHECK(t.find(1000) == nullptr);
}

TEST_CASE("FlatTable: bulk lookups agree with a std::unordered_map at 100k keys") {
    std::mt19937_64 rng(7);
    std::unordered_map<uint64_t, uint64_t> want;
    std::vector<uint64_t> present;
    FlatTable t(100000);
    while (want.size() < 100000) {
        uint64_t key =
            vxmesh::dp::fdb_key(static_cast<uint16_t>(rng() % 50), rng() & vxmesh::dp::mac48_mask);
        uint64_t value = rng();
        bool fresh = want.emplace(key, value).second;
        if (fresh) present.push_back(key);
        CHECK(t.insert(key, value) ==
              (fresh ? FlatTable::Insert::Added : FlatTable::Insert::Exists));
    }
    // Bursts of 32, half of them keys that are not there.
    for (int burst = 0; burst < 2000; burst++) {
        uint64_t keys[32], values[32];
        for (int i = 0; i < 32; i++) {
            if (i % 2) {
                keys[i] = present[rng() % present.size()];
            } else {
                keys[i] = rng() | 1; // almost surely absent; checked below either way
            }
        }
        uint64_t hits = t.lookup_bulk(keys, 32, values);
        for (int i = 0; i < 32; i++) {
            auto it = want.find(keys[i]);
            bool hit = hits & (uint64_t{1} << i);
            REQUIRE(hit == (it != want.end()));
            if (hit) REQUIRE(values[i] == it->second);
        }
    }
}

namespace {

// The table's entries, as for_each lists them.
std::unordered_map<uint64_t, uint64_t> entries(const FlatTable& t) {
    std::unordered_map<uint64_t, uint64_t> out;
    t.for_each([&out](uint64_t key, uint64_t value) { out.emplace(key, value); });
    return out;
}

// Random inserts, erases and finds on `t`, each checked against a std::unordered_map;
// after each erase (and every `full_check_every` steps) every key of `pool` is looked up.
void check_against_map(FlatTable& t, const std::vector<uint64_t>& pool, int steps,
                       int full_check_every, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::unordered_map<uint64_t, uint64_t> want;
    const size_t limit = t.capacity() / 2;
    auto check_all = [&] {
        REQUIRE(t.size() == want.size());
        size_t wrong = 0; // counted, not asserted key by key: this runs 100M lookups
        for (uint64_t key : pool) {
            auto it = want.find(key);
            const uint64_t* v = t.find(key);
            wrong += (v != nullptr) != (it != want.end()) || (v != nullptr && *v != it->second);
        }
        REQUIRE(wrong == 0);
    };
    for (int step = 0; step < steps; step++) {
        uint64_t key = pool[rng() % pool.size()];
        bool present = want.count(key) != 0;
        switch (rng() % 3) {
        case 0: {
            uint64_t value = rng();
            FlatTable::Insert expected = present                ? FlatTable::Insert::Exists
                                         : want.size() >= limit ? FlatTable::Insert::Full
                                                                : FlatTable::Insert::Added;
            REQUIRE(t.insert(key, value) == expected);
            if (expected == FlatTable::Insert::Added) want.emplace(key, value);
            break;
        }
        case 1:
            REQUIRE(t.erase(key) == present);
            want.erase(key);
            check_all();
            break;
        default: {
            const uint64_t* v = t.find(key);
            REQUIRE((v != nullptr) == present);
            if (present) REQUIRE(*v == want[key]);
        }
        }
        if (step % full_check_every == 0) {
            check_all();
            REQUIRE(entries(t) == want);
        }
    }
    check_all();
    REQUIRE(entries(t) == want);
}

} // namespace

TEST_CASE("FlatTable: erase of a missing key, of the empty key, and erase then insert") {
    FlatTable t(4);
    CHECK_FALSE(t.erase(42));
    CHECK_FALSE(t.erase(FlatTable::empty_key));
    REQUIRE(t.insert(42, 7) == FlatTable::Insert::Added);
    CHECK(t.erase(42));
    CHECK_FALSE(t.erase(42));
    CHECK(t.find(42) == nullptr);
    CHECK(t.size() == 0);
    REQUIRE(t.insert(42, 8) == FlatTable::Insert::Added);
    CHECK(*t.find(42) == 8);
    // Erasing makes room again in a full table.
    for (uint64_t k = 100; t.size() < 8; k++)
        REQUIRE(t.insert(k, k) == FlatTable::Insert::Added);
    CHECK(t.insert(1000, 1) == FlatTable::Insert::Full);
    CHECK(t.erase(42));
    CHECK(t.insert(1000, 1) == FlatTable::Insert::Added);
}

TEST_CASE("FlatTable: erase keeps every other key reachable in clusters that wrap around") {
    // Keys whose home slots are the last three and the first two of a 64-slot table: kept
    // near its limit of 32, they form one run that wraps from the end to the start, where
    // backward shifts must move entries across the wrap and leave the rest in place.
    FlatTable t(32);
    REQUIRE(t.capacity() == 64);
    const uint32_t mask = uint32_t(t.capacity() - 1);
    std::vector<uint64_t> pool;
    std::vector<int> per_home(t.capacity());
    for (uint64_t k = 0; pool.size() < 200; k++) {
        uint32_t home = t.slot_index(k);
        if (home >= mask - 2 || home <= 1) {
            pool.push_back(k);
            per_home[home]++;
        }
    }
    CHECK(per_home[mask] > 0);
    CHECK(per_home[0] > 0);
    check_against_map(t, pool, 20000, 100, 1);
}

TEST_CASE("FlatTable: random inserts, erases and finds agree with a std::unordered_map") {
    std::mt19937_64 rng(11);
    SECTION("a small table, its pool of keys twice what it holds") {
        FlatTable t(8);
        std::vector<uint64_t> pool;
        for (int i = 0; i < 16; i++)
            pool.push_back(rng() % 64); // some repeated: the same key drawn twice
        check_against_map(t, pool, 20000, 10, 2);
    }
    SECTION("1000 entries of FDB keys") {
        FlatTable t(1000);
        std::vector<uint64_t> pool;
        for (int i = 0; i < 3000; i++)
            pool.push_back(vxmesh::dp::fdb_key(static_cast<uint16_t>(rng() % 4),
                                               rng() & vxmesh::dp::mac48_mask));
        check_against_map(t, pool, 100000, 5000, 3);
    }
}

TEST_CASE("FlatTable: clone copies at the same size and re-inserts into a bigger table") {
    std::mt19937_64 rng(5);
    // 100k entries: 4 MB of slots, on the huge-page path.
    FlatTable t(100000);
    std::vector<uint64_t> keys;
    while (t.size() < 100000) {
        uint64_t key = rng() & vxmesh::dp::mac48_mask;
        if (t.insert(key, key ^ 0x5555) == FlatTable::Insert::Added) keys.push_back(key);
    }
    // Some erased first, so that the copy holds a table whose runs were shifted back.
    for (size_t i = 0; i < keys.size(); i += 10)
        REQUIRE(t.erase(keys[i]));
    auto want = entries(t);

    SECTION("same size: a copy of the slots, independent of the original") {
        FlatTable same = t.clone(t.size() + 1);
        CHECK(same.capacity() == t.capacity());
        CHECK(same.size() == t.size());
        CHECK(entries(same) == want);
        FlatTable smaller = t.clone(10); // fewer entries than it has: still a copy
        CHECK(smaller.capacity() == t.capacity());
        CHECK(entries(smaller) == want);
        REQUIRE(same.erase(keys[1]));
        REQUIRE(same.insert(1, 2) == FlatTable::Insert::Added);
        CHECK(*t.find(keys[1]) == (keys[1] ^ 0x5555));
        CHECK(t.find(1) == nullptr);
        CHECK(t.size() == want.size());
    }
    SECTION("at the limit and past it") {
        CHECK(t.clone(t.capacity() / 2).capacity() == t.capacity());
        FlatTable bigger = t.clone(t.capacity() / 2 + 1);
        CHECK(bigger.capacity() == FlatTable(t.capacity() / 2 + 1).capacity());
        CHECK(bigger.capacity() == 2 * t.capacity());
        CHECK(bigger.size() == t.size());
        CHECK(entries(bigger) == want);
        for (const auto& [key, value] : want)
            REQUIRE(*bigger.find(key) == value);
    }
    SECTION("a small table grown") {
        FlatTable small(4);
        for (uint64_t k = 0; k < 8; k++)
            REQUIRE(small.insert(k * 1000, k) == FlatTable::Insert::Added);
        FlatTable grown = small.clone(9);
        CHECK(grown.capacity() == 32);
        CHECK(entries(grown) == entries(small));
        CHECK(grown.insert(9000, 9) == FlatTable::Insert::Added);
    }
}
