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
