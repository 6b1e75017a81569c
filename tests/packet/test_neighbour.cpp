// The neighbour service: ARP for our VTEP answered, next hops resolved with retries,
// packets held while unresolved and released or dropped under a counter.
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <set>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n2c1_mac = docker_mac(n2c1_ip);

Bytes request_for(uint32_t target) {
    return arp_frame(RTE_ARP_OP_REQUEST, broadcast, underlay_mac, vtep1, MacBytes{}, target);
}

uint64_t dropped(const dp::LcoreStats& s, Drop d) {
    return s.drops[static_cast<size_t>(d)];
}

uint64_t resolved_to(const MacBytes& m) {
    rte_ether_addr e;
    std::memcpy(e.addr_bytes, m.data(), 6);
    return dp::neighbour_valid | dp::mac_pack(e);
}

// node2, our next hop, asked for at time 0 and resolved by its reply at `now`.
void resolve_node2(Node& node, uint64_t now) {
    node.service->poll(*node.snapshot, 0);
    node.control_sent();
    node.from_underlay(
        {arp_frame(RTE_ARP_OP_REPLY, underlay_mac, node2_mac, vtep2, underlay_mac, vtep1)});
    node.service->poll(*node.snapshot, now);
}

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

TEST_CASE("neighbour: an announcement is one gratuitous ARP request for our VTEP address") {
    auto settings = fast_neighbour_settings();
    Node node(true, node1_yaml, &settings);
    node.service->poll(*node.snapshot, 0);
    node.control_sent();
    node.service->announce();
    node.service->poll(*node.snapshot, 1);
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == request_for(vtep1)); // sender and target: our VTEP (RFC 5227 §3)
    node.service->poll(*node.snapshot, 2);
    CHECK(node.control_sent().empty()); // once
}

TEST_CASE("neighbour: ARP for another address is not ours") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.from_underlay(
        {arp_request(mac(2, 0, 0, 0, 0, 7), ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8))});
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

    node.from_underlay(
        {arp_frame(RTE_ARP_OP_REPLY, underlay_mac, node2_mac, vtep2, underlay_mac, vtep1)});
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
    resolve_node2(node, 0);
    REQUIRE(node.neighbours.lookup(0) != 0);

    node.service->poll(*node.snapshot, 1100); // past reachable: probe, MAC still used
    auto sent = node.control_sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == request_for(vtep2));
    CHECK(node.service->state(0) == dp::NeighbourState::Probe);
    CHECK(node.neighbours.lookup(0) != 0);

    for (uint64_t now = 1100; now <= 2000; now += 50)
        node.service->poll(*node.snapshot, now);
    CHECK(node.service->state(0) == dp::NeighbourState::Failed);
    CHECK(node.neighbours.lookup(0) == 0);
}

TEST_CASE("neighbour: a broadcast, multicast or zero sender MAC is neither learned nor answered") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    resolve_node2(node, 1);
    REQUIRE(node.neighbours.lookup(0) == resolved_to(node2_mac));

    // ARP poisoning: node2's address claimed with a non-unicast MAC, as request and reply.
    const MacBytes multicast = mac(0x01, 0x00, 0x5e, 0, 0, 1);
    node.from_underlay(
        {arp_request(broadcast, vtep2, vtep1),
         arp_frame(RTE_ARP_OP_REPLY, underlay_mac, multicast, vtep2, underlay_mac, vtep1),
         arp_request(MacBytes{}, vtep2, vtep1)});
    node.service->poll(*node.snapshot, 2);
    CHECK(node.control_sent().empty());
    CHECK(dropped(node.service_stats(), Drop::ArpBadSender) == 3);
    CHECK(node.neighbours.lookup(0) == resolved_to(node2_mac));
    CHECK(node.service_stats().arp_learned == 1);
    CHECK(node.service_stats().arp_replied == 0);
}

TEST_CASE("neighbour: ARP from another MAC claiming our VTEP address is a conflict, unanswered") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.service->poll(*node.snapshot, 0);
    node.control_sent();
    const MacBytes intruder = mac(2, 0, 0, 0, 0, 9);
    node.from_underlay(
        {arp_request(intruder, vtep1, vtep2), // asks as if it were us
         arp_request(intruder, vtep1, vtep1), // announces our address
         arp_frame(RTE_ARP_OP_REPLY, underlay_mac, intruder, vtep1, underlay_mac, vtep1)});
    node.service->poll(*node.snapshot, 1);
    CHECK(node.control_sent().empty());
    CHECK(dropped(node.service_stats(), Drop::ArpAddressConflict) == 3);
    CHECK(node.service_stats().arp_replied == 0);
    CHECK(node.neighbours.lookup(0) == 0);
}

TEST_CASE("neighbour: slots no published snapshot uses are released and reused, none leak") {
    // A table of 4 slots and 40 distinct peers over time, each published snapshot
    // naming two of them, with a rejected compile between publications.
    dp::NeighbourTable table(4);
    rte_ring* punt = rte_ring_create("test_churn_punt", 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    rte_ring* tx = rte_ring_create("test_churn_tx", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    REQUIRE(punt != nullptr);
    REQUIRE(tx != nullptr);
    {
        Node node(true); // only for its snapshot (vtep, underlay MAC and port)
        dp::NeighbourService service(table, punt, tx, test_pool(), Node::service_lcore,
                                     fast_neighbour_settings());
        dp::NeighbourSlots& slots = service.slots();
        uint64_t now = 0;
        auto peer = [](uint32_t i) { return rte_cpu_to_be_32(ipv4(10, 99, 1, uint8_t(i))); };
        for (uint32_t i = 0; i < 40; i++) {
            INFO("publication " << i);
            // A compile that is then rejected: its new slot must not stay taken.
            slots.intern(peer(i));
            slots.intern(rte_cpu_to_be_32(ipv4(10, 99, 2, uint8_t(i))));
            slots.rejected();
            // A compile that is published: peers i and i + 1.
            uint32_t a = slots.intern(peer(i));
            uint32_t b = slots.intern(peer(i + 1));
            CHECK(a != b);
            CHECK(table.slot(a).ip == peer(i));
            CHECK(table.slot(b).ip == peer(i + 1));
            slots.published();
            CHECK(slots.in_use() == 2);
            service.poll(*node.snapshot, now += 10); // forgets what was released
            CHECK(service.state(a) != dp::NeighbourState::Unused);
            CHECK(service.state(b) != dp::NeighbourState::Unused);
            rte_mbuf* m;
            while (rte_ring_dequeue(tx, reinterpret_cast<void**>(&m)) == 0)
                rte_pktmbuf_free(m);
        }
        // The service resolves what the last publication names, and only that: a request
        // for each of its two peers.
        service.poll(*node.snapshot, now += 1000);
        std::multiset<uint32_t> asked;
        rte_mbuf* m;
        while (rte_ring_dequeue(tx, reinterpret_cast<void**>(&m)) == 0) {
            Bytes f = from_mbuf(m);
            rte_pktmbuf_free(m);
            REQUIRE(f.size() >= 42);
            asked.insert(uint32_t(f[38]) << 24 | uint32_t(f[39]) << 16 | uint32_t(f[40]) << 8 |
                         f[41]);
        }
        CHECK(asked == std::multiset<uint32_t>{ipv4(10, 99, 1, 39), ipv4(10, 99, 1, 40)});
    }
    rte_ring_free(punt);
    rte_ring_free(tx);
}

TEST_CASE("neighbour: a released slot's held packets are dropped under a counter") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    node.service->slots().published(); // the fixture's snapshot is in force
    node.service->poll(*node.snapshot, 0);
    node.control_sent();
    Bytes inner = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2);
    node.from_access(c1, {inner, inner});
    node.service->poll(*node.snapshot, 1);
    node.service->slots().published(); // a snapshot without node2 (none interned)
    node.service->poll(*node.snapshot, 2);
    CHECK(node.service->state(0) == dp::NeighbourState::Unused);
    CHECK(dropped(node.service_stats(), Drop::NeighbourUnresolved) == 2);
    CHECK(node.neighbours.lookup(0) == 0);
}

TEST_CASE("neighbour: one poll handles a bounded number of punted packets") {
    auto settings = fast_neighbour_settings();
    settings.max_punts_per_poll = 40;
    Node node(false, node1_yaml, &settings);
    std::vector<Bytes> burst(
        dp::burst_size, arp_request(mac(2, 0, 0, 0, 0, 7), ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8)));
    for (int i = 0; i < 3; i++)
        node.from_underlay(burst);
    REQUIRE(rte_ring_count(node.punt_ring) == 3 * dp::burst_size);
    node.service->poll(*node.snapshot, 0);
    CHECK(dropped(node.service_stats(), Drop::ArpNotForUs) == 40);
    CHECK(rte_ring_count(node.punt_ring) == 3 * dp::burst_size - 40);
    node.service->poll(*node.snapshot, 1);
    node.service->poll(*node.snapshot, 2);
    CHECK(dropped(node.service_stats(), Drop::ArpNotForUs) == 3 * dp::burst_size);
}

TEST_CASE("neighbour: thousands of next hops due at once are asked in turn, none dropped") {
    // 2,000 on-link peers come due together (a start-up at scale). The ring toward the
    // underlay holds 255: requests wait for room instead of being dropped as tx_full,
    // and a quarter of the ring stays free for what cannot wait.
    auto settings = fast_neighbour_settings();
    std::string yaml = R"(
node:
  name: node1
  data_path_addr: 10.99.0.1/16
  underlay:
    device: net_null0
    mac: 02:00:00:00:00:01
peers:
)";
    constexpr uint32_t peers = 2000;
    for (uint32_t i = 0; i < peers; i++)
        yaml +=
            fmt::format("  - {{name: p{}, address: 10.99.{}.{}}}\n", i, 1 + i / 250, 1 + i % 250);
    Node node(false, yaml.c_str(), &settings, 4096);
    std::set<uint32_t> asked; // target addresses (the ARP header's last field)
    size_t most_at_once = 0;
    for (int pass = 0; pass < 100 && asked.size() < peers; pass++) {
        node.service->poll(*node.snapshot, 0); // no time passes: only room decides
        most_at_once = std::max<size_t>(most_at_once, rte_ring_count(node.control_tx));
        for (const Bytes& f : node.control_sent()) {
            REQUIRE(f.size() >= 42);
            asked.insert(uint32_t(f[38]) << 24 | uint32_t(f[39]) << 16 | uint32_t(f[40]) << 8 |
                         f[41]);
        }
    }
    CHECK(asked.size() == peers); // each peer asked once (the retry is not due yet)
    CHECK(dropped(node.service_stats(), Drop::TxFull) == 0);
    CHECK(most_at_once <= 255 - 255 / 4 + 1);
    CHECK(node.service_stats().arp_requests == peers);
}
