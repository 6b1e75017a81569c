// A node's tables compiled from YAML, a resolved (or not) neighbour table, and a
// worker context with its own counters: what a packet test runs the stages against.
#pragma once

#include "control/config_load.hpp"
#include "control/snapshot_build.hpp"
#include "dataplane/lcore.hpp"
#include "dataplane/neighbour_service.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/stages.hpp"
#include "tests/packet/packet_builder.hpp"

#include <rte_ring.h>

#include <memory>
#include <string>

namespace vxmesh::testing {

// node1 of a lab: blue (VNI 4097) and red (VNI 4098); local endpoints on ports c1
// (id 1) and c2 (id 2); node2 (10.99.0.2) holds the remote ones.
inline const char* node1_yaml = R"(
node:
  name: node1
  data_path_addr: 10.99.0.1/24
  underlay:
    device: net_null0
    mac: 02:00:00:00:00:01
ports:
  - name: c1
    device: net_null1
  - name: c2
    device: net_null2
networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
  - name: red
    vni: 4098
    subnet: 10.0.2.0/24
peers:
  - name: node2
    address: 10.99.0.2
endpoints:
  - {name: n1c1, network: blue, ip: 10.0.1.2, node: node1, port: c1}
  - {name: n1c3, network: blue, ip: 10.0.1.4, node: node1, port: c2}
  - {name: n1c2, network: red, ip: 10.0.2.2, node: node1, port: c2}
  - {name: n2c1, network: blue, ip: 10.0.1.3, node: node2}
  - {name: n2c2, network: red, ip: 10.0.2.3, node: node2}
)";

inline constexpr uint16_t underlay_port = 0, c1 = 1, c2 = 2;
inline const MacBytes underlay_mac = mac(2, 0, 0, 0, 0, 1);
inline const MacBytes node2_mac = mac(2, 0, 0, 0, 0, 2);
inline constexpr uint32_t vtep1 = ipv4(10, 99, 0, 1), vtep2 = ipv4(10, 99, 0, 2);
inline constexpr uint32_t n1c1_ip = ipv4(10, 0, 1, 2), n1c3_ip = ipv4(10, 0, 1, 4),
                          n1c2_ip = ipv4(10, 0, 2, 2), n2c1_ip = ipv4(10, 0, 1, 3),
                          n2c2_ip = ipv4(10, 0, 2, 3);

inline rte_mempool* test_pool() {
    static rte_mempool* pool = dp::create_mbuf_pool(4095);
    return pool;
}

struct Node {
    dp::NeighbourTable neighbours;
    std::unique_ptr<dp::Snapshot> snapshot;
    dp::LcoreStats stats{};
    dp::Lcore lc;
    rte_ring* punt_ring = nullptr;
    std::vector<uint32_t> interned; // next-hop addresses, network order, by slot
    // With a neighbour service (the control thread's side), next hops are interned by it.
    rte_ring* control_tx = nullptr;
    std::unique_ptr<dp::NeighbourService> service;
    static constexpr unsigned service_lcore = RTE_MAX_LCORE - 1;

    explicit Node(bool resolved = true, const char* yaml = node1_yaml,
                  const dp::NeighbourSettings* settings = nullptr, uint32_t neighbour_slots = 64)
        : neighbours(neighbour_slots) {
        static uint64_t generation = 0;
        generation++;
        std::string punt_name = "test_punt_" + std::to_string(generation);
        punt_ring = rte_ring_create(punt_name.c_str(), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
        if (settings != nullptr) {
            std::string name = "test_ctl_tx_" + std::to_string(generation);
            control_tx = rte_ring_create(name.c_str(), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
            dp::lcore_stats[service_lcore] = {};
            service = std::make_unique<dp::NeighbourService>(neighbours, punt_ring, control_tx,
                                                             test_pool(), service_lcore, *settings);
        }
        model::Config config = control::load_config_string(yaml, "test.yaml");
        control::BuildContext ctx;
        ctx.generation = generation;
        ctx.underlay_port = underlay_port;
        std::memcpy(ctx.underlay_mac.addr_bytes, underlay_mac.data(), 6);
        ctx.access_ports = {{"c1", c1}, {"c2", c2}};
        ctx.neighbours = &neighbours;
        ctx.nexthop_slot = [this](rte_be32_t ip) {
            if (service) return service->slots().intern(ip);
            for (uint32_t i = 0; i < interned.size(); i++)
                if (interned[i] == ip) return i;
            interned.push_back(ip);
            neighbours.slot(uint32_t(interned.size() - 1)).ip = ip;
            return uint32_t(interned.size() - 1);
        };
        snapshot = control::build_snapshot(config, ctx);
        if (resolved) {
            rte_ether_addr m;
            std::memcpy(m.addr_bytes, node2_mac.data(), 6);
            neighbours.slot(0).mac_state.store(dp::neighbour_valid | dp::mac_pack(m));
        }
        lc.stats = &stats;
        lc.punt = punt_ring;
    }
    ~Node() {
        clear_tx();
        service.reset();
        for (rte_ring* r : {punt_ring, control_tx}) {
            if (r == nullptr) continue;
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
            rte_ring_free(r);
        }
    }

    // What the neighbour service sent toward the underlay, in order.
    std::vector<Bytes> control_sent() {
        std::vector<Bytes> out;
        rte_mbuf* m;
        while (rte_ring_dequeue(control_tx, reinterpret_cast<void**>(&m)) == 0) {
            out.push_back(from_mbuf(m));
            rte_pktmbuf_free(m);
        }
        return out;
    }
    const dp::LcoreStats& service_stats() const { return dp::lcore_stats[service_lcore]; }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    uint64_t dropped(dp::Drop d) const { return stats.drops[static_cast<size_t>(d)]; }
    uint64_t dropped_total() const {
        uint64_t n = 0;
        for (uint64_t d : stats.drops) n += d;
        return n;
    }
    uint16_t tx_count(uint16_t port) const { return lc.tx[port].count; }
    Bytes tx_frame(uint16_t port, uint16_t i = 0) const { return from_mbuf(lc.tx[port].pkts[i]); }
    void clear_tx() {
        for (auto& b : lc.tx) {
            for (uint16_t i = 0; i < b.count; i++) rte_pktmbuf_free(b.pkts[i]);
            b.count = 0;
        }
        lc.tx_pending = 0;
    }

    // The frames as received on `port`: mbuf->port set, as the PMD sets it.
    void from_access(uint16_t port, const std::vector<Bytes>& frames) {
        rte_mbuf* pkts[dp::burst_size];
        for (size_t i = 0; i < frames.size(); i++) pkts[i] = received(port, frames[i]);
        dp::access_input(*snapshot, lc, port, pkts, uint16_t(frames.size()));
    }
    void from_underlay(const std::vector<Bytes>& frames) {
        rte_mbuf* pkts[dp::burst_size];
        for (size_t i = 0; i < frames.size(); i++) pkts[i] = received(underlay_port, frames[i]);
        dp::underlay_input(*snapshot, lc, pkts, uint16_t(frames.size()));
    }
    static rte_mbuf* received(uint16_t port, const Bytes& frame) {
        rte_mbuf* m = to_mbuf(test_pool(), frame);
        m->port = port;
        return m;
    }
};

// Neighbour timers short enough for a test to run through them in simulated time.
inline dp::NeighbourSettings fast_neighbour_settings() {
    dp::NeighbourSettings s;
    s.reachable_ms = 1000;
    s.retry_ms = 100;
    s.max_requests = 3;
    s.hold_packets = 4;
    return s;
}

} // namespace vxmesh::testing
