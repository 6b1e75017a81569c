// A small builder for test and benchmark frames, written as data: each function
// returns the bytes of one frame, with correct lengths and IPv4 header checksums.
// Used by the packet tests (tests/packet) and by the benchmark harness (bench/).
#pragma once

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <rte_tcp.h>
#include <rte_vxlan.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vxmesh::testing {

using Bytes = std::vector<uint8_t>;
using MacBytes = std::array<uint8_t, 6>;

inline MacBytes mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
    return {a, b, c, d, e, f};
}
// Docker's rule: 02:42 followed by the IPv4 address.
inline MacBytes docker_mac(uint32_t ip) {
    return {0x02, 0x42, uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip)};
}
constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}
inline const MacBytes broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
inline void put32(Bytes& b, uint32_t v) {
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}
inline void put_mac(Bytes& b, const MacBytes& m) { b.insert(b.end(), m.begin(), m.end()); }

inline Bytes ethernet(const MacBytes& dst, const MacBytes& src, uint16_t type) {
    Bytes b;
    put_mac(b, dst);
    put_mac(b, src);
    put16(b, type);
    return b;
}

// IPv4 header (no options) with a correct checksum, followed by `payload`.
inline Bytes ipv4_packet(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& payload,
                         uint8_t ttl = 64, uint16_t frag = 0x4000, uint16_t id = 0) {
    Bytes b;
    b.push_back(0x45);
    b.push_back(0);
    put16(b, uint16_t(20 + payload.size()));
    put16(b, id);
    put16(b, frag);
    b.push_back(ttl);
    b.push_back(proto);
    put16(b, 0);
    put32(b, src);
    put32(b, dst);
    uint16_t ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(b.data()));
    std::memcpy(&b[10], &ck, 2);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

// UDP with checksum 0 (allowed for IPv4, RFC 768).
inline Bytes udp_datagram(uint16_t sport, uint16_t dport, const Bytes& payload) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, uint16_t(8 + payload.size()));
    put16(b, 0);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

inline Bytes pattern(size_t n, uint8_t seed = 0) {
    Bytes b(n);
    for (size_t i = 0; i < n; i++) b[i] = uint8_t(seed + i * 7);
    return b;
}

// A whole Ethernet/IPv4/UDP frame of exactly `frame_size` bytes (≥ 42).
inline Bytes udp_frame(const MacBytes& dst, const MacBytes& src, uint32_t ip_src, uint32_t ip_dst,
                       uint16_t sport, uint16_t dport, size_t frame_size = 64) {
    if (frame_size < 42) throw std::invalid_argument("udp_frame: frame_size < 42");
    Bytes f = ethernet(dst, src, RTE_ETHER_TYPE_IPV4);
    Bytes ip = ipv4_packet(ip_src, ip_dst, IPPROTO_UDP,
                           udp_datagram(sport, dport, pattern(frame_size - 42, uint8_t(sport))));
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

inline Bytes arp_frame(uint16_t op, const MacBytes& eth_dst, const MacBytes& sha, uint32_t spa,
                       const MacBytes& tha, uint32_t tpa) {
    Bytes f = ethernet(eth_dst, sha, RTE_ETHER_TYPE_ARP);
    put16(f, RTE_ARP_HRD_ETHER);
    put16(f, RTE_ETHER_TYPE_IPV4);
    f.push_back(6);
    f.push_back(4);
    put16(f, op);
    put_mac(f, sha);
    put32(f, spa);
    put_mac(f, tha);
    put32(f, tpa);
    return f;
}

inline Bytes arp_request(const MacBytes& sha, uint32_t spa, uint32_t tpa) {
    return arp_frame(RTE_ARP_OP_REQUEST, broadcast, sha, spa, MacBytes{}, tpa);
}

// An outer Ethernet/IPv4/UDP/VXLAN frame around `inner` (RFC 7348 §5).
inline Bytes vxlan_frame(const MacBytes& dst, const MacBytes& src, uint32_t ip_src,
                         uint32_t ip_dst, uint16_t sport, uint32_t vni, const Bytes& inner,
                         uint16_t dport = 4789, uint32_t flags = 0x08000000) {
    Bytes vx;
    put32(vx, flags);
    put32(vx, vni << 8);
    vx.insert(vx.end(), inner.begin(), inner.end());
    Bytes f = ethernet(dst, src, RTE_ETHER_TYPE_IPV4);
    Bytes ip = ipv4_packet(ip_src, ip_dst, IPPROTO_UDP, udp_datagram(sport, dport, vx));
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

inline rte_mbuf* to_mbuf(rte_mempool* pool, const Bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) throw std::runtime_error("to_mbuf: pool empty");
    char* p = rte_pktmbuf_append(m, uint16_t(frame.size()));
    if (p == nullptr) throw std::runtime_error("to_mbuf: frame too large");
    if (!frame.empty()) std::memcpy(p, frame.data(), frame.size()); // data() may be null
    return m;
}

inline Bytes from_mbuf(const rte_mbuf* m) {
    auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return Bytes(p, p + rte_pktmbuf_data_len(m));
}

} // namespace vxmesh::testing
