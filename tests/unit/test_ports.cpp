// Port set-up's arithmetic (dataplane/ports.hpp): the mbuf pool's size, RSS hash types.
#include "dataplane/ports.hpp"

#include <rte_ethdev.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

TEST_CASE("ports: the mbuf pool holds what NIC queues' descriptors and lcores take; RSS on "
          "addresses and ports",
          "[ports]") {
    using vxmesh::dp::mbufs_needed;
    // af_packet ports hold no mbufs in their descriptors: only the lcores' caches and
    // bursts count.
    const std::vector<std::string> lab{"net_af_packet0,iface=ul", "net_af_packet1,iface=c1"};
    CHECK(mbufs_needed(lab, 1, 3) == 3 * (256 + 2 * 32 * 2));
    // Four NIC ports with four workers: 16 queues of 1024 + 1024 descriptors, more than
    // the default pool of 16383 ever held.
    const std::vector<std::string> nics{"0000:03:00.0", "0000:03:00.1", "0000:04:00.0",
                                        "0000:04:00.1"};
    CHECK(mbufs_needed(nics, 4, 6) == 4 * 4 * 2048 + 6 * (256 + 2 * 32 * 4));
    CHECK(mbufs_needed(nics, 4, 6) > 16383);

    using vxmesh::dp::rss_hash_types;
    CHECK(rss_hash_types(0) == 0); // no RSS on the device: none asked
    const uint64_t nic = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                         RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L2_PAYLOAD;
    CHECK(rss_hash_types(nic) ==
          (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP));
}
