// From an access port: encapsulation, local switching, ARP proxy and their drops.
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <set>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n1c3_mac = docker_mac(n1c3_ip),
               n1c2_mac = docker_mac(n1c2_ip), n2c1_mac = docker_mac(n2c1_ip),
               n2c2_mac = docker_mac(n2c2_ip);

uint16_t be16_at(const Bytes& b, size_t off) {
    return uint16_t(b[off] << 8 | b[off + 1]);
}

} // namespace

TEST_CASE("encap: outer headers built from the peer template, inner frame untouched") {
    Node node;
    for (size_t size : {64, 512, 1464}) {
        Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 40000, 53, size);
        node.from_access(c1, {inner});
        REQUIRE(node.dropped_total() == 0);
        REQUIRE(node.tx_count(underlay_port) == 1);
        Bytes out = node.tx_frame(underlay_port);
        REQUIRE(out.size() == inner.size() + 50);

        uint16_t sport = be16_at(out, 34);
        CHECK(sport >= 49152); // RFC 7348 §5: dynamic range
        // The whole frame, byte for byte: what the builder makes with that source port.
        Bytes expected = vxlan_frame(node2_mac, underlay_mac, vtep1, vtep2, sport, 4097, inner);
        CHECK(out == expected);

        // The fields one by one, so that a failure says which.
        CHECK(be16_at(out, 12) == RTE_ETHER_TYPE_IPV4);
        CHECK(out[14] == 0x45);
        CHECK(be16_at(out, 16) == inner.size() + 36);
        CHECK(be16_at(out, 20) == 0x4000); // DF as configured (default on)
        CHECK(out[22] == 64);              // TTL
        CHECK(out[23] == IPPROTO_UDP);
        CHECK(rte_raw_cksum(out.data() + 14, 20) == 0xffff);
        CHECK(be16_at(out, 36) == 4789);
        CHECK(be16_at(out, 38) == inner.size() + 16);
        CHECK(be16_at(out, 40) == 0); // UDP checksum zero (RFC 7348 §5)
        CHECK(out[42] == 0x08);       // I flag
        CHECK(((out[46] << 16) | (out[47] << 8) | out[48]) == 4097);
        CHECK(Bytes(out.begin() + 50, out.end()) == inner);
        CHECK(node.stats.encap == 1);
        node.clear_tx();
        node.stats.encap = 0;
    }
}

TEST_CASE("encap: VNI follows the source network") {
    Node node;
    Bytes inner = udp_frame(n2c2_mac, n1c2_mac, n1c2_ip, n2c2_ip, 1000, 2000);
    node.from_access(c2, {inner});
    REQUIRE(node.tx_count(underlay_port) == 1);
    Bytes out = node.tx_frame(underlay_port);
    CHECK(((out[46] << 16) | (out[47] << 8) | out[48]) == 4098);
}

TEST_CASE("encap: outer source port is a stable hash of the inner flow") {
    Node node;
    std::set<uint16_t> ports;
    for (uint16_t flow = 0; flow < 32; flow++)
        node.from_access(c1, {udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 10000 + flow, 80)});
    REQUIRE(node.tx_count(underlay_port) == 32);
    for (uint16_t i = 0; i < 32; i++)
        ports.insert(be16_at(node.tx_frame(underlay_port, i), 34));
    CHECK(ports.size() >= 24); // entropy: 32 flows over 16k ports rarely collide
    node.clear_tx();

    Bytes same = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 12345, 80);
    node.from_access(c1, {same, same});
    CHECK(be16_at(node.tx_frame(underlay_port, 0), 34) ==
          be16_at(node.tx_frame(underlay_port, 1), 34));
}

TEST_CASE("inner flow hash: ports matter for TCP/UDP, MACs for non-IP") {
    rte_mbuf* a = to_mbuf(test_pool(), udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2));
    rte_mbuf* b = to_mbuf(test_pool(), udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 3));
    rte_mbuf* c = to_mbuf(test_pool(), udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2));
    CHECK(dp::inner_flow_hash(a) != dp::inner_flow_hash(b));
    CHECK(dp::inner_flow_hash(a) == dp::inner_flow_hash(c));
    Bytes raw = ethernet(n2c1_mac, n1c1_mac, 0x88b5);
    raw.resize(60);
    rte_mbuf* d = to_mbuf(test_pool(), raw);
    raw[0] ^= 1;
    rte_mbuf* e = to_mbuf(test_pool(), raw);
    CHECK(dp::inner_flow_hash(d) != dp::inner_flow_hash(e));
    for (rte_mbuf* m : {a, b, c, d, e})
        rte_pktmbuf_free(m);
}

TEST_CASE("encap with DF off: IPv4 identification varies and the checksum stays right") {
    std::string yaml = node1_yaml;
    yaml.replace(yaml.find("  underlay:"), 0, "  dont_fragment: false\n  ttl: 9\n");
    Node node(true, yaml.c_str());
    Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2);
    node.from_access(c1, {inner, inner});
    REQUIRE(node.tx_count(underlay_port) == 2);
    Bytes a = node.tx_frame(underlay_port, 0), b = node.tx_frame(underlay_port, 1);
    CHECK(be16_at(a, 20) == 0);
    CHECK(a[22] == 9);
    CHECK(be16_at(a, 18) != be16_at(b, 18));
    CHECK(rte_raw_cksum(a.data() + 14, 20) == 0xffff);
    CHECK(rte_raw_cksum(b.data() + 14, 20) == 0xffff);
}

TEST_CASE("encap with DF off: two workers never send the same IPv4 identification") {
    // RFC 6864 §4.1: the ID of a fragmentable datagram must be unique per source,
    // destination and protocol while it may be reassembled; two workers encapsulating
    // toward one peer share all three.
    std::string yaml = node1_yaml;
    yaml.replace(yaml.find("  underlay:"), 0, "  dont_fragment: false\n");
    // Two Lcore contexts over one snapshot's tables, numbered as worker_main numbers them.
    Node worker0(true, yaml.c_str()), worker1(true, yaml.c_str());
    dp::ip_id_init(worker0.lc, 0, 2);
    dp::ip_id_init(worker1.lc, 1, 2);
    std::set<uint16_t> ids[2];
    Node* workers[2] = {&worker0, &worker1};
    for (unsigned w = 0; w < 2; w++) {
        Node& node = *workers[w];
        Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, uint16_t(w), 2);
        for (int round = 0; round < 4; round++) {
            node.from_access(c1, std::vector<Bytes>(16, inner));
            REQUIRE(node.tx_count(underlay_port) == 16);
            for (uint16_t i = 0; i < 16; i++)
                ids[w].insert(be16_at(node.tx_frame(underlay_port, i), 18));
            node.clear_tx();
        }
        CHECK(ids[w].size() == 64); // no repeats within a worker either
    }
    std::vector<uint16_t> both;
    std::set_intersection(ids[0].begin(), ids[0].end(), ids[1].begin(), ids[1].end(),
                          std::back_inserter(both));
    CHECK(both.empty());
}

TEST_CASE("local switch: frame to a local endpoint leaves unchanged on its port") {
    Node node;
    Bytes frame = udp_frame(n1c3_mac, n1c1_mac, n1c1_ip, n1c3_ip, 5, 6, 200);
    node.from_access(c1, {frame});
    REQUIRE(node.tx_count(c2) == 1);
    CHECK(node.tx_frame(c2) == frame);
    CHECK(node.tx_count(underlay_port) == 0);
    CHECK(node.stats.switched == 1);
}

TEST_CASE("access drops: each under its reason") {
    Node node;
    SECTION("unknown source MAC") {
        node.from_access(c1, {udp_frame(n2c1_mac, mac(2, 9, 9, 9, 9, 9), n1c1_ip, n2c1_ip, 1, 2)});
        CHECK(node.dropped(Drop::UnknownSource) == 1);
    }
    SECTION("source MAC of an endpoint on another port") {
        node.from_access(c2, {udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2)});
        CHECK(node.dropped(Drop::UnknownSource) == 1);
    }
    SECTION("broadcast that is not ARP is not flooded") {
        node.from_access(c1, {udp_frame(broadcast, n1c1_mac, n1c1_ip, ipv4(10, 0, 1, 255), 1, 2)});
        CHECK(node.dropped(Drop::FloodSuppressed) == 1);
    }
    SECTION("unknown destination MAC") {
        node.from_access(c1, {udp_frame(mac(2, 1, 2, 3, 4, 5), n1c1_mac, n1c1_ip, n2c1_ip, 1, 2)});
        CHECK(node.dropped(Drop::L2UnknownDestination) == 1);
    }
    SECTION("networks are isolated: blue cannot reach a red endpoint's MAC") {
        node.from_access(c1, {udp_frame(n2c2_mac, n1c1_mac, n1c1_ip, n2c2_ip, 1, 2)});
        node.from_access(c1, {udp_frame(n1c2_mac, n1c1_mac, n1c1_ip, n1c2_ip, 1, 2)});
        CHECK(node.dropped(Drop::L2UnknownDestination) == 2);
    }
    SECTION("frame longer than the network MTU") {
        node.from_access(c1,
                         {udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2, 1450 + 14 + 1)});
        CHECK(node.dropped(Drop::MtuExceeded) == 1);
    }
    SECTION("runt shorter than an Ethernet header") {
        node.from_access(c1, {Bytes(10, 0x02)});
        CHECK(node.dropped(Drop::Truncated) == 1);
    }
    CHECK(node.dropped_total() == 1 + (node.dropped(Drop::L2UnknownDestination) == 2));
    CHECK(node.tx_count(underlay_port) == 0);
}

TEST_CASE("ARP proxy: requests answered from the endpoint table, in place") {
    Node node;
    SECTION("for a remote endpoint") {
        node.from_access(c1, {arp_request(n1c1_mac, n1c1_ip, n2c1_ip)});
        REQUIRE(node.tx_count(c1) == 1);
        Bytes expected =
            arp_frame(RTE_ARP_OP_REPLY, n1c1_mac, n2c1_mac, n2c1_ip, n1c1_mac, n1c1_ip);
        CHECK(node.tx_frame(c1) == expected);
        CHECK(node.stats.arp_proxied == 1);
    }
    SECTION("for a local endpoint on another port") {
        node.from_access(c1, {arp_request(n1c1_mac, n1c1_ip, n1c3_ip)});
        REQUIRE(node.tx_count(c1) == 1);
        CHECK(node.tx_frame(c1) ==
              arp_frame(RTE_ARP_OP_REPLY, n1c1_mac, n1c3_mac, n1c3_ip, n1c1_mac, n1c1_ip));
    }
    SECTION("an RFC 5227 probe for another endpoint's address: the conflict is reported") {
        node.from_access(c1, {arp_request(n1c1_mac, 0, n2c1_ip)});
        REQUIRE(node.tx_count(c1) == 1);
        CHECK(node.tx_frame(c1) ==
              arp_frame(RTE_ARP_OP_REPLY, n1c1_mac, n2c1_mac, n2c1_ip, n1c1_mac, 0));
    }
    CHECK(node.dropped_total() == 0);
    CHECK(node.tx_count(underlay_port) == 0);
}

TEST_CASE("ARP proxy drops: each under its reason") {
    Node node;
    SECTION("address in another network") {
        node.from_access(c1, {arp_request(n1c1_mac, n1c1_ip, n2c2_ip)});
        CHECK(node.dropped(Drop::ArpUnknownTarget) == 1);
    }
    SECTION("address nobody holds") {
        node.from_access(c1, {arp_request(n1c1_mac, n1c1_ip, ipv4(10, 0, 1, 99))});
        CHECK(node.dropped(Drop::ArpUnknownTarget) == 1);
    }
    SECTION("gratuitous ARP") {
        node.from_access(c1, {arp_request(n1c1_mac, n1c1_ip, n1c1_ip)});
        CHECK(node.dropped(Drop::ArpGratuitous) == 1);
    }
    SECTION("an RFC 5227 probe for the requester's own address") {
        node.from_access(c1, {arp_request(n1c1_mac, 0, n1c1_ip)});
        CHECK(node.dropped(Drop::ArpProbeOwnAddress) == 1);
    }
    SECTION("a reply from a container") {
        node.from_access(
            c1, {arp_frame(RTE_ARP_OP_REPLY, n2c1_mac, n1c1_mac, n1c1_ip, n2c1_mac, n2c1_ip)});
        CHECK(node.dropped(Drop::ArpNotRequest) == 1);
    }
    SECTION("not Ethernet/IPv4 ARP") {
        Bytes f = arp_request(n1c1_mac, n1c1_ip, n2c1_ip);
        f[18] = 8; // hardware address length
        node.from_access(c1, {f});
        CHECK(node.dropped(Drop::ArpMalformed) == 1);
    }
    SECTION("truncated") {
        Bytes f = arp_request(n1c1_mac, n1c1_ip, n2c1_ip);
        f.resize(30);
        node.from_access(c1, {f});
        CHECK(node.dropped(Drop::Truncated) == 1);
    }
    CHECK(node.dropped_total() == 1);
    CHECK(node.tx_count(c1) == 0);
}

TEST_CASE("encap with an unresolved next hop: the packet waits on the control thread") {
    Node node(false);
    node.from_access(c1, {udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2)});
    CHECK(node.tx_count(underlay_port) == 0);
    CHECK(node.dropped_total() == 0);
    REQUIRE(rte_ring_count(node.punt_ring) == 1);
    rte_mbuf* m = nullptr;
    REQUIRE(rte_ring_dequeue(node.punt_ring, reinterpret_cast<void**>(&m)) == 0);
    CHECK(dp::meta(m).punt == dp::PuntReason::NeighbourHold);
    CHECK(dp::meta(m).neighbour == 0);
    CHECK(rte_pktmbuf_pkt_len(m) == 64 + 50);
    rte_pktmbuf_free(m);
}

TEST_CASE("source check: a port with more endpoints than fit inline uses the hash") {
    std::string yaml = node1_yaml;
    std::string extra;
    for (int i = 10; i < 16; i++) // six more blue endpoints on c1: 7 in all
        extra += "  - {name: x" + std::to_string(i) + ", network: blue, ip: 10.0.1." +
                 std::to_string(i) + ", node: node1, port: c1}\n";
    yaml += extra;
    Node node(true, yaml.c_str());
    REQUIRE(node.snapshot->port_sources[c1].overflow);
    REQUIRE_FALSE(node.snapshot->port_sources[c2].overflow);
    std::vector<Bytes> frames;
    for (uint8_t i = 10; i < 16; i++) {
        uint32_t ip = ipv4(10, 0, 1, i);
        frames.push_back(udp_frame(n2c1_mac, docker_mac(ip), ip, n2c1_ip, 1, 2));
    }
    frames.push_back(udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2));
    frames.push_back(udp_frame(n2c1_mac, mac(2, 9, 9, 9, 9, 9), n1c1_ip, n2c1_ip, 1, 2));
    frames.push_back(udp_frame(n2c1_mac, n1c3_mac, n1c3_ip, n2c1_ip, 1, 2)); // lives on c2
    node.from_access(c1, frames);
    CHECK(node.tx_count(underlay_port) == 7);
    CHECK(node.dropped(Drop::UnknownSource) == 2);
    CHECK(node.dropped_total() == 2);
}
