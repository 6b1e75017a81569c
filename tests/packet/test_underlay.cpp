// From the underlay: VXLAN decapsulation and every reason to refuse a packet.
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n1c2_mac = docker_mac(n1c2_ip),
               n2c1_mac = docker_mac(n2c1_ip), n2c2_mac = docker_mac(n2c2_ip);

Bytes inner_blue(size_t size = 98) {
    return udp_frame(n1c1_mac, n2c1_mac, n2c1_ip, n1c1_ip, 7, 8, size);
}

Bytes to_node1(uint32_t vni, const Bytes& inner, uint32_t flags = 0x08000000) {
    return vxlan_frame(underlay_mac, node2_mac, vtep2, vtep1, 50000, vni, inner, 4789, flags);
}

} // namespace

TEST_CASE("decap: the inner frame reaches the endpoint's port unchanged") {
    Node node;
    for (size_t size : {60, 98, 1464}) {
        Bytes inner = inner_blue(size);
        node.from_underlay({to_node1(4097, inner)});
        REQUIRE(node.dropped_total() == 0);
        REQUIRE(node.tx_count(c1) == 1);
        CHECK(node.tx_frame(c1) == inner);
        node.clear_tx();
    }
    CHECK(node.stats.decap == 3);
}

TEST_CASE("decap: one burst mixing VNIs, known and unknown, each frame on its own") {
    // vxlan_decap remembers the network of the last VNI it saw in a burst; a change of
    // VNI, an unknown VNI between two known ones, or a bad flag must not fool it.
    Node node;
    Bytes blue = inner_blue();
    Bytes red = udp_frame(n1c2_mac, n2c2_mac, n2c2_ip, n1c2_ip, 5, 6, 98);
    Bytes red_mac_on_blue = udp_frame(n1c2_mac, n2c1_mac, n2c1_ip, n1c2_ip, 3, 4);
    node.from_underlay({to_node1(4097, blue), to_node1(5000, blue), to_node1(4097, blue),
                        to_node1(4098, red), to_node1(4097, red_mac_on_blue),
                        to_node1(4098, red, 0), to_node1(4098, red), to_node1(5000, red)});
    CHECK(node.stats.decap == 4);
    REQUIRE(node.tx_count(c1) == 2);
    REQUIRE(node.tx_count(c2) == 2);
    CHECK(node.tx_frame(c1, 0) == blue);
    CHECK(node.tx_frame(c1, 1) == blue);
    CHECK(node.tx_frame(c2, 0) == red);
    CHECK(node.tx_frame(c2, 1) == red);
    CHECK(node.dropped(Drop::VxlanUnknownVni) == 2);
    CHECK(node.dropped(Drop::VxlanUnknownDestination) == 1);
    CHECK(node.dropped(Drop::VxlanBadFlags) == 1);
    CHECK(node.dropped_total() == 4);
}

TEST_CASE("decap: two VNIs that share a direct-lookup slot, and the reserved byte") {
    // Red on VNI 4353 = 4097 + 256: blue holds the slot of the snapshot's direct VNI
    // lookup, so red is found through the VNI table. The VNI word's reserved low byte
    // is ignored on receipt (RFC 7348 §5).
    std::string yaml = node1_yaml;
    yaml.replace(yaml.find("vni: 4098"), 9, "vni: 4353");
    Node node(true, yaml.c_str());
    Bytes blue = inner_blue();
    Bytes red = udp_frame(n1c2_mac, n2c2_mac, n2c2_ip, n1c2_ip, 5, 6, 98);
    Bytes red_reserved = to_node1(4353, red);
    red_reserved[14 + 20 + 8 + 7] = 0x5a; // VXLAN header byte 7: reserved
    node.from_underlay({to_node1(4353, red), to_node1(4097, blue), red_reserved,
                        to_node1(4353, blue), to_node1(4098, red)});
    CHECK(node.stats.decap == 3);
    REQUIRE(node.tx_count(c1) == 1);
    REQUIRE(node.tx_count(c2) == 2);
    CHECK(node.tx_frame(c1) == blue);
    CHECK(node.tx_frame(c2, 0) == red);
    CHECK(node.tx_frame(c2, 1) == red);
    CHECK(node.dropped(Drop::VxlanUnknownDestination) == 1); // blue's MAC is not on red
    CHECK(node.dropped(Drop::VxlanUnknownVni) == 1);         // 4098 is no network's now
}

TEST_CASE("decap: reserved VXLAN flag bits are ignored on receipt (RFC 7348 §5)") {
    Node node;
    node.from_underlay({to_node1(4097, inner_blue(), 0xff000000)});
    CHECK(node.tx_count(c1) == 1);
}

TEST_CASE("decap: Ethernet padding after the datagram is removed") {
    Node node;
    Bytes inner = inner_blue(60);
    Bytes frame = to_node1(4097, inner);
    frame.insert(frame.end(), 6, 0); // trailer, as a switch may pad
    node.from_underlay({frame});
    REQUIRE(node.tx_count(c1) == 1);
    CHECK(node.tx_frame(c1) == inner);
}

TEST_CASE("underlay drops: each under its reason") {
    Node node;
    Drop expected = Drop::Count;
    SECTION("unknown VNI") {
        node.from_underlay({to_node1(5000, inner_blue())});
        expected = Drop::VxlanUnknownVni;
    }
    SECTION("I flag clear") {
        node.from_underlay({to_node1(4097, inner_blue(), 0)});
        expected = Drop::VxlanBadFlags;
    }
    SECTION("inner MAC not an endpoint") {
        node.from_underlay({to_node1(4097, udp_frame(mac(2, 7, 7, 7, 7, 7), n2c1_mac, 1, 2, 3, 4))});
        expected = Drop::VxlanUnknownDestination;
    }
    SECTION("inner MAC of a red endpoint on the blue VNI") {
        node.from_underlay({to_node1(4097, udp_frame(n1c2_mac, n2c1_mac, n2c1_ip, n1c2_ip, 3, 4))});
        expected = Drop::VxlanUnknownDestination;
    }
    SECTION("inner destination is a remote endpoint") {
        node.from_underlay({to_node1(4097, udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 3, 4))});
        expected = Drop::VxlanUnknownDestination;
    }
    SECTION("outer destination MAC not ours") {
        node.from_underlay({vxlan_frame(mac(2, 0, 0, 0, 0, 9), node2_mac, vtep2, vtep1, 50000,
                                        4097, inner_blue())});
        expected = Drop::L2NotForUs;
    }
    SECTION("outer destination address not ours") {
        node.from_underlay({vxlan_frame(underlay_mac, node2_mac, vtep2, ipv4(10, 99, 0, 7), 50000,
                                        4097, inner_blue())});
        expected = Drop::IpNotForUs;
    }
    SECTION("outer IPv4 checksum wrong") {
        Bytes f = to_node1(4097, inner_blue());
        f[24] ^= 0x10;
        node.from_underlay({f});
        expected = Drop::IpBadChecksum;
    }
    SECTION("outer IHL below 5") {
        Bytes f = to_node1(4097, inner_blue());
        f[14] = 0x44;
        node.from_underlay({f});
        expected = Drop::IpBadHeader;
    }
    SECTION("outer total length beyond the frame") {
        Bytes f = to_node1(4097, inner_blue());
        f.resize(f.size() - 20);
        node.from_underlay({f});
        expected = Drop::IpBadHeader;
    }
    SECTION("outer fragment") {
        Bytes vx = to_node1(4097, inner_blue());
        Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
        Bytes ip = ipv4_packet(vtep2, vtep1, IPPROTO_UDP, Bytes(vx.begin() + 34, vx.end()), 64,
                               0x2000); // MF
        f.insert(f.end(), ip.begin(), ip.end());
        node.from_underlay({f});
        expected = Drop::IpFragment;
    }
    SECTION("UDP to another port") {
        node.from_underlay({vxlan_frame(underlay_mac, node2_mac, vtep2, vtep1, 50000, 4097,
                                        inner_blue(), 4790)});
        expected = Drop::NotVxlan;
    }
    SECTION("not UDP") {
        Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
        Bytes ip = ipv4_packet(vtep2, vtep1, IPPROTO_TCP, pattern(40));
        f.insert(f.end(), ip.begin(), ip.end());
        node.from_underlay({f});
        expected = Drop::NotVxlan;
    }
    SECTION("VXLAN header cut short") {
        Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
        Bytes ip = ipv4_packet(vtep2, vtep1, IPPROTO_UDP, udp_datagram(50000, 4789, pattern(6)));
        f.insert(f.end(), ip.begin(), ip.end());
        node.from_underlay({f});
        expected = Drop::Truncated;
    }
    SECTION("UDP length disagrees with the IPv4 length") {
        Bytes f = to_node1(4097, inner_blue());
        f[39] ^= 0x01;
        node.from_underlay({f});
        expected = Drop::Truncated;
    }
    SECTION("IPv6 on the underlay") {
        Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV6);
        f.resize(80);
        node.from_underlay({f});
        expected = Drop::UnsupportedEthertype;
    }
    SECTION("runt") {
        node.from_underlay({Bytes(12, 0)});
        expected = Drop::Truncated;
    }
    SECTION("truncated IPv4 header") {
        Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
        f.resize(24);
        node.from_underlay({f});
        expected = Drop::Truncated;
    }
    REQUIRE(expected != Drop::Count);
    CAPTURE(dp::drop_name(expected));
    CHECK(node.dropped(expected) == 1);
    CHECK(node.dropped_total() == 1);
    CHECK(node.stats.decap == 0);
    for (uint16_t p : {c1, c2, underlay_port}) CHECK(node.tx_count(p) == 0);
}

TEST_CASE("underlay ARP goes to the control thread; other MACs' ARP is not ours") {
    Node node;
    node.from_underlay({arp_request(node2_mac, vtep2, vtep1)});
    CHECK(rte_ring_count(node.punt_ring) == 1);
    node.from_underlay({arp_frame(RTE_ARP_OP_REPLY, mac(2, 5, 5, 5, 5, 5), node2_mac, vtep2,
                                  mac(2, 5, 5, 5, 5, 5), ipv4(10, 99, 0, 5))});
    CHECK(node.dropped(Drop::L2NotForUs) == 1);
    CHECK(node.stats.punted == 1);
}
