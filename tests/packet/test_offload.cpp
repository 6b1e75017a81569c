// Offloads a sender left undone (dataplane/l4_offload.hpp): partial TCP/UDP checksums
// completed, valid ones untouched, TCP super-frames cut to the network's MTU, on the
// access path (encapsulated and switched) and on the decapsulation path.
#include "dataplane/l4_offload.hpp"
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>

#include <rte_ip.h>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n1c3_mac = docker_mac(n1c3_ip),
               n2c1_mac = docker_mac(n2c1_ip);

constexpr size_t eth = 14, outer = 50;
constexpr uint8_t fin = 0x01, psh = 0x08, ack = 0x10, cwr = 0x80;

uint16_t be16_at(const Bytes& b, size_t off) {
    return uint16_t(b[off] << 8 | b[off + 1]);
}
uint32_t be32_at(const Bytes& b, size_t off) {
    return uint32_t(be16_at(b, off)) << 16 | be16_at(b, off + 2);
}
void set16(Bytes& b, size_t off, uint16_t v) {
    b[off] = uint8_t(v >> 8);
    b[off + 1] = uint8_t(v);
}

// Reference one's-complement sum (RFC 1071), written independently of vxmesh and DPDK:
// big-endian 16-bit words, end-around carry, folded to 16 bits.
uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += uint32_t(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += uint32_t(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}
// The pseudo-header sum (RFC 793 §3.1, RFC 768) of the IPv4 packet at frame[ip_off].
uint32_t pseudo_sum(const Bytes& f, size_t ip_off) {
    size_t ihl = (f[ip_off] & 0xf) * 4u;
    uint32_t sum = ones_sum(&f[ip_off + 12], 8);
    sum += f[ip_off + 9];
    sum += be16_at(f, ip_off + 2) - ihl;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}
// Offset of the L4 checksum field of the TCP/UDP packet at frame[ip_off].
size_t check_offset(const Bytes& f, size_t ip_off) {
    return ip_off + (f[ip_off] & 0xf) * 4u + (f[ip_off + 9] == IPPROTO_TCP ? 16 : 6);
}
// Whether the TCP/UDP checksum of the IPv4 packet at frame[ip_off] verifies.
bool l4_valid(const Bytes& f, size_t ip_off) {
    size_t ihl = (f[ip_off] & 0xf) * 4u;
    size_t total = be16_at(f, ip_off + 2);
    return ones_sum(&f[ip_off + ihl], total - ihl, pseudo_sum(f, ip_off)) == 0xffff;
}
bool ip_valid(const Bytes& f, size_t ip_off) {
    return ones_sum(&f[ip_off], (f[ip_off] & 0xf) * 4u) == 0xffff;
}
// Fill in the correct checksum (the reference for "completed").
void set_valid(Bytes& f, size_t ip_off) {
    size_t at = check_offset(f, ip_off);
    set16(f, at, 0);
    size_t ihl = (f[ip_off] & 0xf) * 4u;
    uint16_t c =
        uint16_t(~ones_sum(&f[ip_off + ihl], be16_at(f, ip_off + 2) - ihl, pseudo_sum(f, ip_off)));
    set16(f, at, c == 0 ? 0xffff : c);
}
// What a sender with TX checksum offload hands the device: the pseudo-header sum.
void set_partial(Bytes& f, size_t ip_off) {
    set16(f, check_offset(f, ip_off), uint16_t(pseudo_sum(f, ip_off)));
}

// Ethernet/IPv4/TCP with a 12-byte option block (NOP, NOP, timestamps, as Linux sends),
// checksum valid.
Bytes tcp_frame(const MacBytes& dst, const MacBytes& src, uint32_t ip_src, uint32_t ip_dst,
                uint32_t seq, uint8_t flags, const Bytes& payload, uint16_t id = 0x1234) {
    Bytes tcp;
    put16(tcp, 40000);
    put16(tcp, 5001);
    put32(tcp, seq);
    put32(tcp, 0x01020304); // ack
    tcp.push_back(uint8_t((20 + 12) / 4 << 4));
    tcp.push_back(flags);
    put16(tcp, 64240); // window
    put16(tcp, 0);     // checksum
    put16(tcp, 0);     // urgent
    for (uint8_t b : {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9})
        tcp.push_back(b);
    tcp.insert(tcp.end(), payload.begin(), payload.end());
    Bytes f = ethernet(dst, src, RTE_ETHER_TYPE_IPV4);
    Bytes ip = ipv4_packet(ip_src, ip_dst, IPPROTO_TCP, tcp, 64, 0x4000, id);
    f.insert(f.end(), ip.begin(), ip.end());
    set_valid(f, eth);
    return f;
}

Bytes udp_checksummed(const MacBytes& dst, const MacBytes& src, uint32_t ip_src, uint32_t ip_dst,
                      size_t size) {
    Bytes f = udp_frame(dst, src, ip_src, ip_dst, 40000, 53, size);
    set_valid(f, eth);
    return f;
}

// Super-frames need buffers larger than the test pool's.
rte_mempool* large_pool() {
    static rte_mempool* pool = dp::create_large_mbuf_pool(63, dp::af_packet_frame_size);
    return pool;
}

// Frames received on `port`, a port whose PMD reads kernel buffers (af_packet).
struct OffloadNode : Node {
    OffloadNode() {
        lc.offload_ports = ~0u;
        lc.segment_pool = test_pool();
    }
    static rte_mbuf* big(uint16_t port, const Bytes& frame) {
        rte_mbuf* m = to_mbuf(large_pool(), frame);
        m->port = port;
        return m;
    }
    void access(uint16_t port, const Bytes& frame) {
        rte_mbuf* m = big(port, frame);
        dp::access_input(*snapshot, lc, port, &m, 1);
    }
    void underlay(const Bytes& frame) {
        rte_mbuf* m = big(underlay_port, frame);
        dp::underlay_input(*snapshot, lc, &m, 1);
    }
    std::vector<Bytes> sent(uint16_t port, size_t strip = 0) {
        std::vector<Bytes> out;
        for (uint16_t i = 0; i < tx_count(port); i++) {
            Bytes b = tx_frame(port, i);
            out.emplace_back(b.begin() + long(strip), b.end());
        }
        return out;
    }
};

} // namespace

TEST_CASE("offload: a partial checksum is completed, byte for byte the sender's would be") {
    OffloadNode node;
    for (size_t size : {0, 1, 100, 1398}) {
        Bytes valid = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1000, ack | psh,
                                pattern(size, uint8_t(size)));
        Bytes partial = valid;
        set_partial(partial, eth);
        REQUIRE(partial != valid);
        REQUIRE_FALSE(l4_valid(partial, eth));

        node.access(c1, partial); // remote: encapsulated
        REQUIRE(node.dropped_total() == 0);
        auto out = node.sent(underlay_port, outer);
        REQUIRE(out.size() == 1);
        CHECK(out[0] == valid);
        auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(out[0].data() + eth);
        CHECK(rte_ipv4_udptcp_cksum_verify(ip, out[0].data() + eth + 20) == 0);
        node.clear_tx();
    }
    CHECK(node.stats.l4_completed == 4);

    SECTION("UDP, switched to a local endpoint") {
        Bytes valid = udp_checksummed(n1c3_mac, n1c1_mac, n1c1_ip, n1c3_ip, 300);
        Bytes partial = valid;
        set_partial(partial, eth);
        node.access(c1, partial);
        auto out = node.sent(c2);
        REQUIRE(out.size() == 1);
        CHECK(out[0] == valid);
        CHECK(l4_valid(out[0], eth));
    }
}

TEST_CASE("offload: valid checksums, UDP without one and fragments leave unchanged") {
    OffloadNode node;
    std::vector<Bytes> frames = {
        tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 7, ack, pattern(500)),
        udp_checksummed(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 200),
        udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2, 200), // checksum 0: none
    };
    // A first fragment: its checksum covers bytes it does not hold; left as the sender made it.
    Bytes fragment = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 7, ack, pattern(64));
    set_partial(fragment, eth);
    set16(fragment, eth + 6, 0x2000); // MF
    set16(fragment, eth + 10, 0);
    set16(fragment, eth + 10, uint16_t(~ones_sum(&fragment[eth], 20)));
    frames.push_back(fragment);
    // A valid frame whose checksum happens to equal its pseudo-header sum: two payload
    // bytes chosen so that it does. Completing it must write the same bytes.
    Bytes equal = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 9, ack, pattern(100));
    set_partial(equal, eth);
    size_t word = eth + 20 + 32 + 10;
    set16(equal, word, 0);
    uint32_t rest =
        ones_sum(&equal[eth + 20], be16_at(equal, eth + 2) - 20, pseudo_sum(equal, eth));
    set16(equal, word, uint16_t(~rest));
    REQUIRE(l4_valid(equal, eth));
    REQUIRE(be16_at(equal, check_offset(equal, eth)) == pseudo_sum(equal, eth));
    frames.push_back(equal);

    for (const Bytes& f : frames) {
        node.access(c1, f);
        auto out = node.sent(underlay_port, outer);
        REQUIRE(out.size() == 1);
        CHECK(out[0] == f);
        node.clear_tx();
    }
    CHECK(node.dropped_total() == 0);
}

TEST_CASE("offload: a port whose PMD is a real NIC's is never touched") {
    Node node; // offload_ports = 0
    Bytes partial = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, ack, pattern(100));
    set_partial(partial, eth);
    node.from_access(c1, {partial});
    REQUIRE(node.tx_count(underlay_port) == 1);
    Bytes out = node.tx_frame(underlay_port);
    CHECK(Bytes(out.begin() + outer, out.end()) == partial);
    CHECK(node.stats.l4_completed == 0);
}

TEST_CASE("offload: a TCP super-frame is cut to the network's MTU, every segment right") {
    OffloadNode node;
    // blue's MTU is 1450: 1450 - 20 - 32 = 1398 bytes of payload per segment.
    constexpr size_t mss = 1398;
    Bytes payload = pattern(3 * mss + 500, 3);
    const uint32_t seq = 0xfffff000; // wraps inside the frame
    Bytes super = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, seq, ack | psh | fin | cwr,
                            payload, 0xfffe);
    set_partial(super, eth);

    auto check_segments = [&](const std::vector<Bytes>& out) {
        REQUIRE(out.size() == 4);
        Bytes joined;
        for (size_t i = 0; i < out.size(); i++) {
            const Bytes& s = out[i];
            size_t size = i < 3 ? mss : 500;
            INFO("segment " << i);
            REQUIRE(s.size() == eth + 20 + 32 + size);
            CHECK(Bytes(s.begin(), s.begin() + eth) == Bytes(super.begin(), super.begin() + eth));
            CHECK(be16_at(s, eth + 2) == 20 + 32 + size);
            CHECK(be16_at(s, eth + 4) == uint16_t(0xfffe + i)); // IP ID, wrapping
            CHECK(be16_at(s, eth + 6) == 0x4000);               // DF kept
            CHECK(ip_valid(s, eth));
            CHECK(be32_at(s, eth + 24) == uint32_t(seq + i * mss));
            CHECK(be32_at(s, eth + 28) == 0x01020304); // ack number
            uint8_t flags = s[eth + 33];
            CHECK(flags == (i == 0 ? (ack | cwr) : i == 3 ? (ack | psh | fin) : ack));
            CHECK(Bytes(s.begin() + eth + 40, s.begin() + eth + 52) ==
                  Bytes(super.begin() + eth + 40, super.begin() + eth + 52)); // options
            CHECK(l4_valid(s, eth));
            auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(s.data() + eth);
            CHECK(rte_ipv4_udptcp_cksum_verify(ip, s.data() + eth + 20) == 0);
            joined.insert(joined.end(), s.begin() + eth + 52, s.end());
        }
        CHECK(joined == payload);
    };

    SECTION("encapsulated toward the peer") {
        node.access(c1, super);
        CHECK(node.dropped_total() == 0);
        check_segments(node.sent(underlay_port, outer));
        for (const Bytes& f : node.sent(underlay_port))
            CHECK(be16_at(f, 14 + 2) == f.size() - 14); // outer IPv4 length per segment
    }
    SECTION("switched to a local endpoint") {
        Bytes local = super;
        std::copy(n1c3_mac.begin(), n1c3_mac.end(), local.begin());
        set16(local, eth + 16, uint16_t(n1c3_ip >> 16));
        set16(local, eth + 18, uint16_t(n1c3_ip));
        set16(local, eth + 10, 0);
        set16(local, eth + 10, uint16_t(~ones_sum(&local[eth], 20)));
        set_partial(local, eth);
        super = local;
        node.access(c1, local);
        CHECK(node.dropped_total() == 0);
        check_segments(node.sent(c2));
    }
    SECTION("decapsulated from a kernel VXLAN peer with offloads on") {
        node.underlay(vxlan_frame(underlay_mac, node2_mac, vtep2, vtep1, 50000, 4097, [&] {
            // From node2's endpoint to ours: a peer speaks only for its own endpoints.
            Bytes f = super;
            std::copy(n1c1_mac.begin(), n1c1_mac.end(), f.begin());
            std::copy(n2c1_mac.begin(), n2c1_mac.end(), f.begin() + 6);
            return f;
        }()));
        std::copy(n1c1_mac.begin(), n1c1_mac.end(), super.begin());
        std::copy(n2c1_mac.begin(), n2c1_mac.end(), super.begin() + 6);
        CHECK(node.dropped_total() == 0);
        check_segments(node.sent(c1));
    }
    CHECK(node.stats.segmented == 1);
    CHECK(node.stats.segments == 4);
}

TEST_CASE("offload: a partial checksum inside VXLAN is completed on delivery") {
    OffloadNode node;
    Bytes valid = tcp_frame(n1c1_mac, n2c1_mac, n2c1_ip, n1c1_ip, 5, ack, pattern(700));
    Bytes partial = valid;
    set_partial(partial, eth);
    node.underlay(vxlan_frame(underlay_mac, node2_mac, vtep2, vtep1, 50000, 4097, partial));
    auto out = node.sent(c1);
    REQUIRE(out.size() == 1);
    CHECK(out[0] == valid);
    CHECK(node.stats.decap == 1);
}

TEST_CASE("offload: a frame shorter than its IPv4 length (cut by af_packet) is dropped") {
    OffloadNode node;
    Bytes f = tcp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 5, ack, pattern(3000));
    f.resize(2048); // what the PMD's default 2 KB frame keeps of a 3 KB super-frame
    node.access(c1, f);
    CHECK(node.tx_count(underlay_port) == 0);
    CHECK(node.dropped(Drop::OffloadTruncated) == 1);
    CHECK(node.dropped_total() == 1);
}

TEST_CASE("offload: a datagram af_packet reassembled is fragmented again to the MTU") {
    OffloadNode node;
    // 4000 bytes of UDP payload, checksum valid, DF clear: what the kernel hands a
    // PACKET_FANOUT_FLAG_DEFRAG socket for the sender's three fragments.
    Bytes payload = pattern(4000, 5);
    Bytes f = ethernet(n2c1_mac, n1c1_mac, RTE_ETHER_TYPE_IPV4);
    Bytes ip =
        ipv4_packet(n1c1_ip, n2c1_ip, IPPROTO_UDP, udp_datagram(7, 8, payload), 64, 0, 0x4242);
    f.insert(f.end(), ip.begin(), ip.end());
    set_valid(f, eth);
    node.access(c1, f);
    CHECK(node.dropped_total() == 0);
    auto out = node.sent(underlay_port, outer);
    // blue's MTU 1450: 1424 bytes of data per fragment (a multiple of 8).
    REQUIRE(out.size() == 3);
    Bytes joined;
    for (size_t i = 0; i < out.size(); i++) {
        INFO("fragment " << i);
        const Bytes& s = out[i];
        size_t size = i < 2 ? 1424 : 4008 - 2 * 1424;
        CHECK(s.size() == eth + 20 + size);
        CHECK(be16_at(s, eth + 2) == 20 + size);
        CHECK(be16_at(s, eth + 4) == 0x4242);
        CHECK(be16_at(s, eth + 6) == ((i < 2 ? 0x2000 : 0) | (i * 1424 / 8)));
        CHECK(ip_valid(s, eth));
        joined.insert(joined.end(), s.begin() + eth + 20, s.end());
    }
    CHECK(joined == Bytes(f.begin() + eth + 20, f.end())); // UDP header and payload
    CHECK(node.stats.segmented == 1);

    SECTION("with DF set it is not fragmented: over the MTU") {
        node.clear_tx();
        Bytes df = f;
        set16(df, eth + 6, 0x4000);
        set16(df, eth + 10, 0);
        set16(df, eth + 10, uint16_t(~ones_sum(&df[eth], 20)));
        node.access(c1, df);
        CHECK(node.tx_count(underlay_port) == 0);
        CHECK(node.dropped(Drop::MtuExceeded) == 1);
    }
}
