// The neighbour service: ARP for our VTEP answered, next hops resolved with retries,
// packets held while unresolved and released or dropped under a counter.
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n2c1_mac = docker_mac(n2c1_ip);

Bytes request_for(uint32_t target) {
    return arp_frame(RTE_ARP_OP_REQUEST, broadcast, underlay_mac, vtep1, MacBytes{}, target);
}

uint64_t dropped(const dp::LcoreStats& s, Drop d) { return s.drops[static_cast<size_t>(d)]; }

} // namespace

TEST_CASE("neighbour: ARP request for our VTEP is answered") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.service->poll(*node.snapshot, 0); // initial resolution request for node2
    node.control_sent();
    node.from_underlay({arp_request(node2_mac, vtep2, vtep1)});
    node.service->poll(*node.snapshot, 1);
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == arp_frame(RTE_ARP_OP_REPLY, node2_mac, underlay_mac, vtep1, node2_mac, vtep2));
    CHECK(node.service_stats().arp_replied == 1);
    // node2 is our next hop: its request taught us its MAC (RFC 826 merge).
    CHECK(node.neighbours.lookup(0) != 0);
}

TEST_CASE("neighbour: ARP for another address is not ours") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.from_underlay({arp_request(mac(2, 0, 0, 0, 0, 7), ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8))});
    node.service->poll(*node.snapshot, 0);
    CHECK(dropped(node.service_stats(), Drop::ArpNotForUs) == 1);
}

TEST_CASE("neighbour: a held packet leaves once the next hop resolves") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.service->poll(*node.snapshot, 0);
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == request_for(vtep2));

    Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2);
    node.from_access(c1, {inner, inner});
    REQUIRE(rte_ring_count(node.punt_ring) == 2);
    node.service->poll(*node.snapshot, 10);
    CHECK(node.control_sent().empty());

    node.from_underlay({arp_frame(RTE_ARP_OP_REPLY, underlay_mac, node2_mac, vtep2, underlay_mac, vtep1)});
    node.service->poll(*node.snapshot, 20);
    sent = node.control_sent();
    REQUIRE(sent.size() == 2);
    for (const Bytes& f : sent) {
        CHECK(MacBytes{f[0], f[1], f[2], f[3], f[4], f[5]} == node2_mac);
        CHECK(Bytes(f.begin() + 50, f.end()) == inner);
    }
    CHECK(node.service->state(0) == dp::NeighbourState::Reachable);
    CHECK(node.service_stats().arp_learned == 1);

    // From now on the worker sends directly.
    node.from_access(c1, {inner});
    CHECK(node.tx_count(underlay_port) == 1);
}

TEST_CASE("neighbour: unresolved after the retries, held packets dropped under a counter") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2);
    node.from_access(c1, {inner, inner, inner, inner, inner, inner});
    uint64_t now = 0;
    size_t requests = 0;
    for (; now <= 1000; now += 10) {
        node.service->poll(*node.snapshot, now);
        requests += node.control_sent().size();
    }
    CHECK(requests == settings.max_requests);
    CHECK(dropped(node.service_stats(), Drop::NeighbourQueueFull) == 2);
    CHECK(dropped(node.service_stats(), Drop::NeighbourUnresolved) == 4);
    CHECK(node.service->state(0) == dp::NeighbourState::Failed);

    // New traffic starts a new resolution.
    node.from_access(c1, {inner});
    node.service->poll(*node.snapshot, now);
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == request_for(vtep2));
}

TEST_CASE("neighbour: a reachable entry is re-confirmed, and expires when the peer is gone") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.service->poll(*node.snapshot, 0);
    node.control_sent();
    node.from_underlay({arp_frame(RTE_ARP_OP_REPLY, underlay_mac, node2_mac, vtep2, underlay_mac, vtep1)});
    node.service->poll(*node.snapshot, 0);
    REQUIRE(node.neighbours.lookup(0) != 0);

    node.service->poll(*node.snapshot, 1100); // past reachable: probe, MAC still used
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == request_for(vtep2));
    CHECK(node.service->state(0) == dp::NeighbourState::Probe);
    CHECK(node.neighbours.lookup(0) != 0);

    for (uint64_t now = 1100; now <= 2000; now += 50) node.service->poll(*node.snapshot, now);
    CHECK(node.service->state(0) == dp::NeighbourState::Failed);
    CHECK(node.neighbours.lookup(0) == 0);
}
