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
        node.from_underlay(
            {to_node1(4097, udp_frame(mac(2, 7, 7, 7, 7, 7), n2c1_mac, 1, 2, 3, 4))});
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
        node.from_underlay({vxlan_frame(mac(2, 0, 0, 0, 0, 9), node2_mac, vtep2, vtep1, 50000, 4097,
                                        inner_blue())});
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
        expected = Drop::IpLengthMismatch;
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
        node.from_underlay(
            {vxlan_frame(underlay_mac, node2_mac, vtep2, vtep1, 50000, 4097, inner_blue(), 4790)});
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
    for (uint16_t p : {c1, c2, underlay_port})
        CHECK(node.tx_count(p) == 0);
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

// ---------------------------------------------------------------------------------
// Underlay security: who may send VXLAN, and for which endpoints (issue 9, finding 5).

namespace {

// node1 with a second peer, node3, which holds one blue endpoint.
std::string three_node_yaml(bool accept_unknown_peers = false) {
    std::string yaml = node1_yaml;
    yaml.replace(yaml.find("endpoints:"), 0, "  - name: node3\n    address: 10.99.0.3\n");
    yaml += "  - {name: n3c1, network: blue, ip: 10.0.1.5, node: node3}\n";
    if (accept_unknown_peers)
        yaml.replace(yaml.find("  underlay:"), 0, "  accept_unknown_peers: true\n");
    return yaml;
}
constexpr uint32_t vtep3 = ipv4(10, 99, 0, 3), n3c1_ip = ipv4(10, 0, 1, 5);
const MacBytes n3c1_mac = docker_mac(n3c1_ip), n1c3_mac = docker_mac(n1c3_ip);

// A blue frame to n1c1 from `src_mac`, in VXLAN from `outer_src`.
Bytes blue_from(uint32_t outer_src, const MacBytes& src_mac, size_t size = 98) {
    Bytes inner = udp_frame(n1c1_mac, src_mac, n2c1_ip, n1c1_ip, 7, 8, size);
    return vxlan_frame(underlay_mac, node2_mac, outer_src, vtep1, 50000, 4097, inner);
}

// Outer IPv4 header checksum recomputed after a test changed a field.
void fix_ip_checksum(Bytes& f) {
    uint32_t ihl = (f[14] & 0x0f) * 4u;
    f[24] = f[25] = 0;
    uint16_t ck = static_cast<uint16_t>(~rte_raw_cksum(f.data() + 14, ihl));
    std::memcpy(&f[24], &ck, 2);
}

struct Outcome {
    Drop drop = Drop::Count; // Count: delivered to c1 as `inner`
    Bytes inner;
};

Outcome run_one(Node& node, const Bytes& frame) {
    node.clear_tx();
    uint64_t before = node.dropped_total();
    node.from_underlay({frame});
    Outcome o;
    if (node.tx_count(c1) == 1) o.inner = node.tx_frame(c1);
    if (node.dropped_total() != before)
        for (size_t d = 0; d < static_cast<size_t>(Drop::Count); d++)
            if (node.stats.drops[d] != 0) o.drop = static_cast<Drop>(d);
    node.stats = {};
    node.clear_tx();
    return o;
}

void check_dropped(Node& node, const Bytes& frame, Drop expected) {
    CAPTURE(dp::drop_name(expected));
    Outcome o = run_one(node, frame);
    CHECK(dp::drop_name(o.drop) == dp::drop_name(expected));
    CHECK(o.inner.empty());
}

void check_delivered(Node& node, const Bytes& frame, const Bytes& inner) {
    Outcome o = run_one(node, frame);
    INFO("dropped as " << (o.drop == Drop::Count ? "nothing" : dp::drop_name(o.drop)));
    CHECK(o.drop == Drop::Count);
    CHECK(o.inner == inner);
}

Bytes inner_of(const Bytes& vxlan) {
    uint32_t ihl = (vxlan[14] & 0x0f) * 4u;
    return Bytes(vxlan.begin() + 14 + ihl + 16, vxlan.end());
}

} // namespace

TEST_CASE("underlay security: VXLAN only from configured peers, for their own endpoints") {
    std::string yaml = three_node_yaml();
    Node node(true, yaml.c_str());
    SECTION("each peer speaks for its own endpoints") {
        Bytes from2 = blue_from(vtep2, n2c1_mac), from3 = blue_from(vtep3, n3c1_mac);
        check_delivered(node, from2, inner_of(from2));
        check_delivered(node, from3, inner_of(from3));
    }
    SECTION("a host that is no peer") {
        check_dropped(node, blue_from(ipv4(10, 99, 0, 9), n2c1_mac), Drop::VxlanUnknownPeer);
        check_dropped(node, blue_from(ipv4(192, 168, 7, 7), mac(2, 0x42, 1, 2, 3, 4)),
                      Drop::VxlanUnknownPeer);
    }
    SECTION("addresses no VTEP has, whatever the option says") {
        for (uint32_t src :
             {ipv4(0, 0, 0, 0), ipv4(224, 0, 0, 1), ipv4(239, 1, 2, 3), ipv4(255, 255, 255, 255),
              ipv4(240, 0, 0, 1), ipv4(127, 0, 0, 1), vtep1, ipv4(10, 99, 0, 255)}) {
            CAPTURE(src);
            check_dropped(node, blue_from(src, n2c1_mac), Drop::IpBadSource);
        }
    }
    SECTION("a peer speaking for another peer's endpoint, or for ours") {
        check_dropped(node, blue_from(vtep2, n3c1_mac), Drop::VxlanSpoofedSource);
        check_dropped(node, blue_from(vtep3, n2c1_mac), Drop::VxlanSpoofedSource);
        check_dropped(node, blue_from(vtep2, n1c3_mac), Drop::VxlanSpoofedSource);
        // n2c2 is node2's, but on red: on blue it is nobody's.
        check_dropped(node, blue_from(vtep2, n2c2_mac), Drop::VxlanUnknownSource);
    }
    SECTION("a peer speaking for a MAC that is no endpoint") {
        check_dropped(node, blue_from(vtep2, mac(2, 0x42, 10, 0, 1, 99)), Drop::VxlanUnknownSource);
    }
    CHECK(node.stats.decap == 0);
}

TEST_CASE("underlay security: node.accept_unknown_peers lets strangers in, not impostors") {
    std::string yaml = three_node_yaml(true);
    Node node(true, yaml.c_str());
    Bytes stranger = blue_from(ipv4(10, 99, 0, 9), mac(2, 0x42, 10, 0, 1, 99));
    check_delivered(node, stranger, inner_of(stranger));
    // A stranger speaks for no endpoint the snapshot places anywhere.
    check_dropped(node, blue_from(ipv4(10, 99, 0, 9), n2c1_mac), Drop::VxlanSpoofedSource);
    check_dropped(node, blue_from(ipv4(10, 99, 0, 9), n1c3_mac), Drop::VxlanSpoofedSource);
    // Configured peers are still held to their own endpoints.
    check_dropped(node, blue_from(vtep2, n3c1_mac), Drop::VxlanSpoofedSource);
    check_dropped(node, blue_from(vtep2, mac(2, 0x42, 10, 0, 1, 99)), Drop::VxlanUnknownSource);
    for (uint32_t src : {ipv4(0, 0, 0, 0), ipv4(224, 0, 0, 1), ipv4(255, 255, 255, 255),
                         ipv4(240, 0, 0, 1), vtep1, ipv4(10, 99, 0, 255)}) {
        CAPTURE(src);
        check_dropped(node, blue_from(src, mac(2, 0x42, 10, 0, 1, 99)), Drop::IpBadSource);
    }
}

TEST_CASE("underlay security: a burst mixing peers, strangers and impostors") {
    // vxlan_decap remembers the last sender's peer id within a burst, as it does the VNI.
    std::string yaml = three_node_yaml();
    Node node(true, yaml.c_str());
    Bytes good2 = blue_from(vtep2, n2c1_mac), good3 = blue_from(vtep3, n3c1_mac);
    node.from_underlay({good2, blue_from(vtep2, n3c1_mac), good3, blue_from(vtep3, n2c1_mac),
                        blue_from(ipv4(10, 99, 0, 9), n2c1_mac), good2, good3});
    CHECK(node.stats.decap == 4);
    CHECK(node.dropped(Drop::VxlanSpoofedSource) == 2);
    CHECK(node.dropped(Drop::VxlanUnknownPeer) == 1);
    REQUIRE(node.tx_count(c1) == 4);
    CHECK(node.tx_frame(c1, 0) == inner_of(good2));
    CHECK(node.tx_frame(c1, 1) == inner_of(good3));
    CHECK(node.tx_frame(c1, 2) == inner_of(good2));
    CHECK(node.tx_frame(c1, 3) == inner_of(good3));
}

// ---------------------------------------------------------------------------------
// The receive policy (config/README.md, "Receive policy"), one case per row.

TEST_CASE("receive policy: what is delivered, byte for byte") {
    Node node;
    Bytes inner = inner_blue();
    SECTION("VXLAN reserved flag bits and reserved byte set: ignored (RFC 7348 §5)") {
        Bytes f = to_node1(4097, inner, 0x7fffffff); // every bit but G
        f[14 + 20 + 8 + 7] = 0xa5;                   // the byte after the VNI
        check_delivered(node, f, inner);
    }
    SECTION("GBP extension (G flag, group policy ID): ignored, no policy is enforced") {
        check_delivered(node, to_node1(4097, inner, 0x88001234), inner);
    }
    SECTION("non-zero outer UDP checksum, wrong: not verified") {
        Bytes f = to_node1(4097, inner);
        f[40] = 0x12;
        f[41] = 0x34;
        check_delivered(node, f, inner);
    }
    SECTION("outer TTL 0: a host may not discard it for that (RFC 1122 §3.2.1.7)") {
        Bytes f = to_node1(4097, inner);
        f[22] = 0;
        fix_ip_checksum(f);
        check_delivered(node, f, inner);
    }
    SECTION("outer IPv4 options (IHL 6): skipped") {
        Bytes f = to_node1(4097, inner);
        const uint8_t options[4] = {1, 1, 1, 0}; // NOP NOP NOP EOL
        f.insert(f.begin() + 34, options, options + 4);
        f[14] = 0x46;
        uint16_t total = uint16_t((f[16] << 8 | f[17]) + 4);
        f[16] = uint8_t(total >> 8);
        f[17] = uint8_t(total);
        fix_ip_checksum(f);
        check_delivered(node, f, inner);
    }
    SECTION("inner frame of exactly 14 bytes: an empty Ethernet frame is still a frame") {
        Bytes header = ethernet(n1c1_mac, n2c1_mac, RTE_ETHER_TYPE_IPV4);
        check_delivered(node, to_node1(4097, header), header);
    }
    SECTION("inner frame of the network's MTU + 14 bytes") {
        Bytes big = inner_blue(1450 + 14);
        check_delivered(node, to_node1(4097, big), big);
    }
}

TEST_CASE("receive policy: what is dropped, and under which name") {
    Node node;
    Bytes inner = inner_blue();
    SECTION("inner frame above the network's MTU") {
        check_dropped(node, to_node1(4097, inner_blue(1450 + 15)), Drop::MtuExceeded);
    }
    SECTION("inner 802.1Q and 802.1ad tags: overlay frames are untagged") {
        for (uint16_t tpid :
             {uint16_t(RTE_ETHER_TYPE_VLAN), uint16_t(RTE_ETHER_TYPE_QINQ), uint16_t(0x9100)}) {
            Bytes tagged = inner;
            tagged[12] = uint8_t(tpid >> 8);
            tagged[13] = uint8_t(tpid);
            const uint8_t tci_and_type[4] = {0, 5, 0x08, 0x00};
            tagged.insert(tagged.begin() + 14, tci_and_type, tci_and_type + 4);
            check_dropped(node, to_node1(4097, tagged), Drop::VxlanInnerVlan);
        }
    }
    SECTION("inner source MAC multicast, broadcast or zero") {
        for (const MacBytes& src :
             {mac(1, 0, 0x5e, 0, 0, 1), mac(0x33, 0x33, 0, 0, 0, 1), broadcast, MacBytes{}}) {
            Bytes f = inner;
            std::copy(src.begin(), src.end(), f.begin() + 6);
            check_dropped(node, to_node1(4097, f), Drop::VxlanInnerSourceInvalid);
        }
    }
    SECTION("inner source MAC of one of this node's endpoints") {
        Bytes f = udp_frame(n1c1_mac, n1c3_mac, n1c3_ip, n1c1_ip, 7, 8);
        check_dropped(node, to_node1(4097, f), Drop::VxlanSpoofedSource);
    }
    SECTION("outer IPv4 length beyond the frame: ip_length_mismatch") {
        Bytes f = to_node1(4097, inner);
        f.resize(f.size() - 20);
        check_dropped(node, f, Drop::IpLengthMismatch);
    }
    SECTION("outer IPv4 length beyond a receive buffer: frame_too_long") {
        Bytes f = to_node1(4097, inner);
        f[16] = 0x0b; // 3000 bytes: more than the 2048-byte data room holds
        f[17] = 0xb8;
        fix_ip_checksum(f);
        check_dropped(node, f, Drop::FrameTooLong);
    }
    SECTION("lone outer fragments, first, middle and last (RFC 7348 §4.3: VTEPs do not fragment)") {
        Bytes vx = to_node1(4097, inner);
        for (uint16_t frag : {uint16_t(0x2000), uint16_t(0x2000 | 100), uint16_t(185)}) {
            Bytes f = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
            Bytes ip =
                ipv4_packet(vtep2, vtep1, IPPROTO_UDP, Bytes(vx.begin() + 34, vx.end()), 64, frag);
            f.insert(f.end(), ip.begin(), ip.end());
            CAPTURE(frag);
            check_dropped(node, f, Drop::IpFragment);
        }
    }
}

// ---------------------------------------------------------------------------------
// ARP from a remote endpoint (issue 9, finding 10): a kernel VXLAN peer's container
// resolves ours by broadcast and re-confirms by unicast to the endpoint's MAC.

namespace {

uint32_t be32_at(const Bytes& b, size_t off) {
    return uint32_t{b[off]} << 24 | uint32_t{b[off + 1]} << 16 | uint32_t{b[off + 2]} << 8 |
           b[off + 3];
}

// n2c1 (behind node2) asks for `target`, the inner frame sent to `eth_dst`.
Bytes remote_arp_request(const MacBytes& eth_dst, uint32_t target) {
    Bytes arp = arp_frame(RTE_ARP_OP_REQUEST, eth_dst, n2c1_mac, n2c1_ip,
                          eth_dst == broadcast ? MacBytes{} : eth_dst, target);
    return to_node1(4097, arp);
}

} // namespace

TEST_CASE("ARP from a remote endpoint for a local one: answered by proxy, back in VXLAN") {
    Node node;
    for (const MacBytes& eth_dst : {broadcast, n1c1_mac}) {
        CAPTURE(eth_dst == broadcast ? "broadcast" : "unicast");
        node.from_underlay({remote_arp_request(eth_dst, n1c1_ip)});
        CHECK(node.tx_count(c1) == 0); // the container is not asked
        CHECK(node.dropped_total() == 0);
        REQUIRE(node.tx_count(underlay_port) == 1);
        Bytes out = node.tx_frame(underlay_port);
        // Outer: node1 → node2's VTEP, VNI 4097, as vxlan_encap writes it.
        REQUIRE(out.size() == dp::vxlan_outer_size + 42);
        CHECK(Bytes(out.begin(), out.begin() + 6) == Bytes(node2_mac.begin(), node2_mac.end()));
        CHECK(be32_at(out, 26) == vtep1);
        CHECK(be32_at(out, 30) == vtep2);
        CHECK(be32_at(out, 46) == 4097u << 8);
        // Inner: n1c1's reply to n2c1, from n1c1's own MAC and address.
        Bytes want = arp_frame(RTE_ARP_OP_REPLY, n2c1_mac, n1c1_mac, n1c1_ip, n2c1_mac, n2c1_ip);
        CHECK(Bytes(out.begin() + dp::vxlan_outer_size, out.end()) == want);
        node.clear_tx();
    }
    CHECK(node.stats.arp_proxied == 2);
    CHECK(node.stats.decap == 0);
}

TEST_CASE("ARP from a remote endpoint: only for our endpoints, only from the peer's own") {
    Node node;
    SECTION("for another node's endpoint") {
        node.from_underlay({remote_arp_request(broadcast, n2c2_ip)});
        CHECK(node.dropped(Drop::ArpUnknownTarget) == 1);
    }
    SECTION("for an address nobody has") {
        node.from_underlay({remote_arp_request(broadcast, ipv4(10, 0, 1, 77))});
        CHECK(node.dropped(Drop::ArpUnknownTarget) == 1);
    }
    SECTION("from a MAC that is not the peer's endpoint") {
        Bytes arp =
            arp_frame(RTE_ARP_OP_REQUEST, broadcast, n1c3_mac, n1c3_ip, MacBytes{}, n1c1_ip);
        node.from_underlay({to_node1(4097, arp)});
        CHECK(node.dropped(Drop::VxlanSpoofedSource) == 1);
    }
    CHECK(node.tx_count(underlay_port) == 0);
    CHECK(node.tx_count(c1) == 0);
    CHECK(node.stats.arp_proxied == 0);
}
