// What the packet fuzzers share: EAL started once, the packet tests' node1 (tables
// compiled from YAML, a resolved neighbour, a worker context), the input cut into a
// burst of frames, and the check that every mbuf went back to its pool.
//
// Input format, so that one input is a burst and a mutation stays inside a frame:
// records of [flags:1][length:2, big-endian][frame bytes], up to a burst; a last record
// that is cut short takes what is left. flags bit 0: recompute the outer IPv4 header
// checksum (a fuzzer cannot guess it, and without it nothing gets past underlay_input);
// bit 1: on an access port, the frame arrives on c2 instead of c1.
#pragma once

#include "tests/packet/fixture.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace vxmesh::fuzz {

inline constexpr uint8_t flag_fix_ipv4_checksum = 1, flag_port_c2 = 2;

struct Frame {
    uint8_t flags;
    testing::Bytes bytes;
};

// At most a burst; each frame at most what one mbuf holds (the PMDs vxmesh uses give
// single-segment mbufs).
inline std::vector<Frame> split_frames(const uint8_t* data, size_t size) {
    std::vector<Frame> frames;
    const size_t room = RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM;
    size_t i = 0;
    while (i < size && frames.size() < dp::burst_size) {
        uint8_t flags = data[i++];
        size_t len = 0;
        if (i + 2 <= size) len = size_t(data[i]) << 8 | data[i + 1];
        i = std::min(i + 2, size);
        len = std::min({len, size - i, room});
        Frame f{flags, testing::Bytes(data + i, data + i + len)};
        i += len;
        if ((flags & flag_fix_ipv4_checksum) &&
            f.bytes.size() >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) {
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.bytes.data() + sizeof(rte_ether_hdr));
            size_t ihl = (ip->version_ihl & 0x0f) * 4u;
            if (ihl >= sizeof(rte_ipv4_hdr) && f.bytes.size() >= sizeof(rte_ether_hdr) + ihl) {
                ip->hdr_checksum = 0;
                ip->hdr_checksum =
                    rte_raw_cksum(ip, ihl) == 0xffff ? 0xffff : uint16_t(~rte_raw_cksum(ip, ihl));
            }
        }
        frames.push_back(std::move(f));
    }
    return frames;
}

// EAL as the packet tests start it (tests/packet/main.cpp). ASan and EAL's --no-huge
// memory live together: EAL maps its 512 MB with plain mmap, which ASan's shadow covers.
inline void start_eal(const char* name) {
    static std::string prefix = "--file-prefix=vxmesh-fuzz-" + std::to_string(getpid());
    const char* eal_argv[] = {name,           "--no-huge",        "-m", "512",
                              "--no-pci",     "--no-shconf",      "-l", "0",
                              prefix.c_str(), "--log-level=error"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char**>(eal_argv)) < 0) {
        std::fprintf(stderr, "%s: EAL init failed: %s\n", name, rte_strerror(rte_errno));
        std::exit(1);
    }
}

// Free what the stages left in the transmit buffers and the punt ring, then every mbuf
// of the test pool must be back: anything else is a leak (or a double free, which
// would show as a count above the pool's size).
inline void release_and_check(testing::Node& node) {
    node.clear_tx();
    rte_mbuf* m;
    while (rte_ring_dequeue(node.punt_ring, reinterpret_cast<void**>(&m)) == 0)
        rte_pktmbuf_free(m);
    unsigned in_use = rte_mempool_in_use_count(testing::test_pool());
    if (in_use != 0) {
        std::fprintf(stderr, "fuzz: %u mbufs not returned to the pool after one input\n", in_use);
        std::abort();
    }
}

} // namespace vxmesh::fuzz
