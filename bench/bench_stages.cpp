// vxmesh-bench: in-process benchmark of the packet stages (see bench/README.md).
//
// Starts EAL without devices, compiles a snapshot from a model::Config built in
// code (N peers, M endpoints over a few networks, local endpoints on fake access
// ports 1..4, every underlay neighbour resolved), then for each scenario calls the
// stage entry (access_input or underlay_input) on pre-built bursts of 32 mbufs and
// times that call alone with the TSC. Between calls the outputs are taken back out
// of the transmit buffers and restored to their input state (not freed, not
// re-allocated), outside the timed region. Every call is checked: all 32 packets
// must come out where the scenario says, and no drop or punt may be counted.
//
// To add a scenario, write a `build_*` function (one input frame for a flow, and
// what must come out) and add a line to `scenarios()`.
#include "control/build_info.hpp"
#include "control/config_load.hpp"
#include "control/snapshot_build.hpp"
#include "dataplane/lcore.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/stages.hpp"
#include "tests/packet/packet_builder.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#ifdef VXMESH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

namespace po = boost::program_options;
namespace t = vxmesh::testing;
using namespace vxmesh;

namespace {

// ---------------------------------------------------------------------------------
// Topology: the configuration under test, and an index of it for building frames.

constexpr uint16_t n_access_ports = 4;         // DPDK port ids 1..4 (never opened)
constexpr uint16_t underlay_port = 0;
constexpr uint32_t locals_per_network = 8;
const t::MacBytes underlay_mac = t::mac(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
constexpr uint32_t vtep_ip = t::ipv4(172, 16, 0, 1);

t::MacBytes peer_mac(uint32_t vtep) { // what the resolved neighbour slots hold
    return {0x02, 0x01, uint8_t(vtep >> 24), uint8_t(vtep >> 16), uint8_t(vtep >> 8), uint8_t(vtep)};
}

struct Ep {
    uint32_t ip;
    t::MacBytes mac;
    uint16_t net;
    uint16_t port;   // access port id; 0 for a remote endpoint
    uint32_t peer;   // remote: index of its peer
};

struct Topology {
    uint32_t peers = 0;
    uint32_t endpoints = 0;
    model::Config config;
    std::vector<Ep> eps;
    std::vector<uint32_t> peer_vtep;
    std::vector<uint32_t> vni;                            // by network index
    std::vector<std::vector<uint32_t>> locals_by_port;    // [port id] → endpoints
    std::vector<std::vector<uint32_t>> locals_by_net;
    std::vector<std::vector<uint32_t>> remotes_by_net;
    std::vector<std::vector<uint32_t>> all_by_net;
};

model::Mac to_model(const t::MacBytes& m) {
    model::Mac out;
    std::copy(m.begin(), m.end(), out.bytes.begin());
    return out;
}

Topology make_topology(uint32_t peers, uint32_t endpoints) {
    Topology tp;
    tp.peers = peers;
    tp.endpoints = endpoints;
    uint32_t networks = endpoints >= 10000 ? 16 : 4;
    if (peers == 0 || peers > 60000) throw std::runtime_error("peers must be 1..60000");
    if (endpoints < networks * (locals_per_network + 1) || endpoints / networks > 60000)
        throw std::runtime_error(fmt::format("endpoints must be {}..{}",
                                             networks * (locals_per_network + 1), networks * 60000));
    model::Config& c = tp.config;
    c.node.name = "bench";
    c.node.data_path_addr = {vtep_ip};
    c.node.prefix_length = 16;
    c.node.underlay.device = "net_null0";
    c.node.underlay.mac = to_model(underlay_mac);
    for (uint16_t p = 1; p <= n_access_ports; p++)
        c.ports.push_back({fmt::format("p{}", p), fmt::format("net_null{}", p), {}});
    for (uint32_t n = 0; n < networks; n++) {
        model::Network net;
        net.name = fmt::format("net{}", n);
        net.vni = 1000 + n;
        net.subnet = {{t::ipv4(10, uint8_t(n + 1), 0, 0)}, 16};
        net.gateway = {t::ipv4(10, uint8_t(n + 1), 0, 1)};
        net.mtu = 1500; // so that 1500-byte inner frames are carried
        c.networks.push_back(net);
        tp.vni.push_back(net.vni);
    }
    for (uint32_t p = 0; p < peers; p++) {
        uint32_t ip = vtep_ip + 1 + p; // on-link: every peer is its own neighbour
        c.peers.push_back({fmt::format("peer{}", p), {ip}, {}});
        tp.peer_vtep.push_back(ip);
    }
    tp.locals_by_port.resize(n_access_ports + 1);
    tp.locals_by_net.resize(networks);
    tp.remotes_by_net.resize(networks);
    tp.all_by_net.resize(networks);
    uint32_t remote = 0;
    for (uint32_t n = 0; n < networks; n++) {
        uint32_t count = endpoints / networks + (n < endpoints % networks ? 1 : 0);
        for (uint32_t k = 0; k < count; k++) {
            Ep e{};
            e.ip = t::ipv4(10, uint8_t(n + 1), 0, 0) + 2 + k;
            e.mac = t::docker_mac(e.ip);
            e.net = static_cast<uint16_t>(n);
            model::Endpoint me;
            me.name = fmt::format("ep{}-{}", n, k);
            me.network = c.networks[n].name;
            me.ip = {e.ip};
            me.mac = to_model(e.mac);
            auto index = static_cast<uint32_t>(tp.eps.size());
            if (k < locals_per_network) {
                e.port = static_cast<uint16_t>(1 + k % n_access_ports);
                me.node = c.node.name;
                me.port = fmt::format("p{}", e.port);
                tp.locals_by_port[e.port].push_back(index);
                tp.locals_by_net[n].push_back(index);
            } else {
                e.peer = remote++ % peers;
                me.node = c.peers[e.peer].name;
                tp.remotes_by_net[n].push_back(index);
            }
            tp.all_by_net[n].push_back(index);
            c.endpoints.push_back(std::move(me));
            tp.eps.push_back(e);
        }
    }
    control::validate_config(c); // as vxmesh would: about 4 s at 100k endpoints

    return tp;
}

// The snapshot and the neighbour table it points into.
struct Tables {
    dp::NeighbourTable neighbours{65536};
    std::unique_ptr<dp::Snapshot> snapshot;
};

std::unique_ptr<Tables> build_tables(const Topology& tp, uint64_t generation) {
    auto tables = std::make_unique<Tables>();
    std::unordered_map<rte_be32_t, uint32_t> slots;
    control::BuildContext ctx;
    ctx.generation = generation;
    ctx.underlay_port = underlay_port;
    std::memcpy(ctx.underlay_mac.addr_bytes, underlay_mac.data(), 6);
    for (uint16_t p = 1; p <= n_access_ports; p++) ctx.access_ports.emplace(fmt::format("p{}", p), p);
    dp::NeighbourTable& table = tables->neighbours;
    ctx.nexthop_slot = [&](rte_be32_t ip) {
        auto [it, added] = slots.emplace(ip, static_cast<uint32_t>(slots.size()));
        if (added) {
            if (it->second >= table.capacity()) throw std::runtime_error("neighbour table full");
            table.slot(it->second).ip = ip;
        }
        return it->second;
    };
    ctx.neighbours = &table;
    tables->snapshot = control::build_snapshot(tp.config, ctx);
    // Every next hop resolved, as after ARP: no packet is punted.
    for (auto [ip, slot] : slots) {
        rte_ether_addr mac;
        t::MacBytes m = peer_mac(rte_be_to_cpu_32(ip));
        std::memcpy(mac.addr_bytes, m.data(), 6);
        table.slot(slot).mac_state.store(dp::neighbour_valid | dp::mac_pack(mac));
    }
    return tables;
}

// ---------------------------------------------------------------------------------
// Scenarios.

// A flow id → a pseudo-random but fixed choice.
uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb3f9e5e1a34bULL;
    return x ^ (x >> 33);
}

// Inner UDP ports of flow f: distinct for every f < 64000 * 64511.
uint16_t flow_sport(uint64_t f) { return static_cast<uint16_t>(1024 + f % 64000); }
uint16_t flow_dport(uint64_t f) { return static_cast<uint16_t>(1024 + f / 64000); }

struct Built {
    t::Bytes frame;
    uint16_t out_port;     // where it must come out
    uint32_t out_len;      // with this length
    uint32_t peer_vtep;    // encap: the outer destination it must carry (0: not checked)
    uint32_t udp_offset;   // offset of the inner UDP header (for flow rewrites; 0: none)
};

using BuildFn = Built (*)(const Topology&, uint16_t port, uint64_t flow, uint32_t size);

enum class Input { Access, Underlay };
// AdjPartial: Adj, then the inner UDP checksum back to the pseudo-header sum, as a
// sender with TX checksum offload leaves it (dataplane/l4_offload.hpp completes it).
enum class Restore { None, Adj, Prepend, Copy, AdjPartial };

struct Scenario {
    const char* name;
    const char* what;
    Input input;
    Restore restore;            // how an output is turned back into its input
    uint64_t dp::LcoreStats::*counter; // moves by one per packet
    bool fixed_size;            // frame size set by the protocol (ARP)
    uint64_t max_flows;         // flows beyond this are not meaningful
    BuildFn build;
};

const Ep& pick(const Topology& tp, const std::vector<uint32_t>& from, uint64_t x) {
    return tp.eps[from[x % from.size()]];
}

// From a local endpoint on `port` to a remote endpoint of its network.
Built build_encap(const Topology& tp, uint16_t port, uint64_t f, uint32_t size) {
    const Ep& src = pick(tp, tp.locals_by_port[port], mix(f));
    const Ep& dst = pick(tp, tp.remotes_by_net[src.net], mix(f + 0x9e3779b9));
    Built b;
    b.frame = t::udp_frame(dst.mac, src.mac, src.ip, dst.ip, flow_sport(f), flow_dport(f), size);
    b.out_port = underlay_port;
    b.out_len = size + dp::vxlan_outer_size;
    b.peer_vtep = tp.peer_vtep[dst.peer];
    b.udp_offset = 14 + 20;
    return b;
}

// build_encap with the inner UDP checksum partial (the pseudo-header sum), as af_packet
// reads it from a container whose veth keeps TX checksum offload.
Built build_encap_partial(const Topology& tp, uint16_t port, uint64_t f, uint32_t size) {
    Built b = build_encap(tp, port, f, size);
    auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.frame.data() + 14);
    uint16_t partial = rte_ipv4_phdr_cksum(ip, 0);
    std::memcpy(b.frame.data() + 14 + 20 + 6, &partial, 2);
    return b;
}

// A VXLAN packet from a peer to a local endpoint (size: the inner frame).
Built build_decap(const Topology& tp, uint16_t, uint64_t f, uint32_t size) {
    const Ep& dst = pick(tp, tp.locals_by_net[mix(f) % tp.locals_by_net.size()], mix(f + 1));
    const Ep& src = pick(tp, tp.remotes_by_net[dst.net], mix(f + 0x9e3779b9));
    uint32_t peer = tp.peer_vtep[src.peer];
    t::Bytes inner = t::udp_frame(dst.mac, src.mac, src.ip, dst.ip, flow_sport(f), flow_dport(f), size);
    Built b;
    b.frame = t::vxlan_frame(underlay_mac, peer_mac(peer), peer, vtep_ip,
                             static_cast<uint16_t>(dp::vxlan_source_port_base | (f & dp::vxlan_source_port_mask)),
                             tp.vni[dst.net], inner);
    b.out_port = dst.port;
    b.out_len = size;
    b.peer_vtep = 0;
    b.udp_offset = dp::vxlan_outer_size + 14 + 20;
    return b;
}

// Between two local endpoints of one network (possibly on the same port).
Built build_switch(const Topology& tp, uint16_t port, uint64_t f, uint32_t size) {
    const Ep& src = pick(tp, tp.locals_by_port[port], mix(f));
    const auto& net = tp.locals_by_net[src.net];
    const Ep* dst = &pick(tp, net, mix(f + 0x9e3779b9));
    if (dst == &src) dst = &pick(tp, net, mix(f + 0x9e3779b9) + 1);
    Built b;
    b.frame = t::udp_frame(dst->mac, src.mac, src.ip, dst->ip, flow_sport(f), flow_dport(f), size);
    b.out_port = dst->port;
    b.out_len = size;
    b.peer_vtep = 0;
    b.udp_offset = 14 + 20;
    return b;
}

// An ARP request from a local endpoint for another endpoint of its network.
Built build_arp(const Topology& tp, uint16_t port, uint64_t f, uint32_t) {
    const Ep& src = pick(tp, tp.locals_by_port[port], mix(f));
    const auto& net = tp.all_by_net[src.net];
    const Ep* target = &pick(tp, net, mix(f + 0x9e3779b9));
    if (target == &src) target = &pick(tp, net, mix(f + 0x9e3779b9) + 1);
    Built b;
    b.frame = t::arp_request(src.mac, src.ip, target->ip);
    b.out_port = port;
    b.out_len = static_cast<uint32_t>(b.frame.size());
    b.peer_vtep = 0;
    b.udp_offset = 0;
    return b;
}

const std::vector<Scenario>& scenarios() {
    static const std::vector<Scenario> list = {
        {"encap", "access port -> VXLAN to a peer (source check, FDB, encapsulation)",
         Input::Access, Restore::Adj, &dp::LcoreStats::encap, false, UINT64_MAX, build_encap},
        {"encap-partial",
         "encap of UDP with a partial checksum from an af_packet port (completed in software)",
         Input::Access, Restore::AdjPartial, &dp::LcoreStats::encap, false, UINT64_MAX,
         build_encap_partial},
        {"decap", "underlay VXLAN -> local endpoint (outer checks, FDB, decapsulation)",
         Input::Underlay, Restore::Prepend, &dp::LcoreStats::decap, false, UINT64_MAX, build_decap},
        {"switch", "access port -> local endpoint (source check, FDB)", Input::Access,
         Restore::None, &dp::LcoreStats::switched, false, UINT64_MAX, build_switch},
        {"arp-proxy", "ARP request on an access port answered in place", Input::Access,
         Restore::Copy, &dp::LcoreStats::arp_proxied, true, 1000, build_arp},
    };
    return list;
}

// ---------------------------------------------------------------------------------
// Running one combination.

struct SizeSpec {
    std::string label;          // "64", "imix"
    std::vector<uint32_t> cycle; // frame sizes, repeated over the burst set
    double mean() const {
        double s = 0;
        for (uint32_t v : cycle) s += v;
        return s / static_cast<double>(cycle.size());
    }
};

SizeSpec parse_size(const std::string& s) {
    if (s == "imix") // 7:4:1 of 64/576/1500, interleaved
        return {s, {64, 576, 64, 64, 576, 64, 1500, 64, 576, 64, 64, 576}};
    unsigned long v = std::stoul(s);
    if (v < 64 || v > 1514) throw std::runtime_error("size must be 64..1514 or imix");
    return {s, {static_cast<uint32_t>(v)}};
}

struct Settings {
    uint32_t mbufs = 1024;      // burst set: mbufs (a multiple of 32 * 4); 1024 = vxmesh's rx ring
    uint32_t iterations = 40000; // stage calls per run
    uint32_t runs = 7;          // median of
    bool callgrind = false;
    bool verbose = false;
};

struct Result {
    std::string scenario;
    std::string size;
    double mean_size = 0;
    uint64_t flows = 0;
    uint32_t peers = 0;
    uint32_t endpoints = 0;
    double cycles_per_packet = 0;
    double mpps = 0;
    double gbps = 0;
    std::vector<double> runs;
    uint64_t packets = 0;       // packets through the stage in all timed runs
    uint64_t discarded = 0;     // calls left out as interrupted
};

uint64_t drops_total(const dp::LcoreStats& s) {
    uint64_t d = 0;
    for (uint64_t v : s.drops) d += v;
    return d;
}

std::string drops_text(const dp::LcoreStats& s) {
    std::string out;
    for (size_t d = 0; d < static_cast<size_t>(dp::Drop::Count); d++)
        if (s.drops[d]) out += fmt::format(" {}={}", dp::drop_names[d], s.drops[d]);
    if (s.punted) out += fmt::format(" punted={}", s.punted);
    return out.empty() ? " nothing" : out;
}

class ScenarioError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

uint64_t tsc_overhead() {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 10000; i++) {
        uint64_t a = rte_rdtsc();
        uint64_t b = rte_rdtsc();
        best = std::min(best, b - a);
    }
    return best;
}

struct Bench {
    rte_mempool* pool;
    dp::Lcore& lc;
    Settings settings;
    uint64_t overhead;
    uint64_t called = 0; // packets given to the stage, warm-up included (for callgrind)

    Result run(const Scenario& sc, const Topology& tp, const dp::Snapshot& s, const SizeSpec& size,
               uint64_t flows) {
        const uint32_t K = settings.mbufs;
        const uint32_t bursts = K / dp::burst_size;
        // Only encap-partial reads its ports as af_packet ones (offloads finished in
        // software); the others measure the stages as they run for a real NIC's PMD.
        lc.offload_ports = sc.restore == Restore::AdjPartial ? ~0u : 0u;
        // Flows are spread over the access ports so that each burst (one port) holds
        // flows of its own port; with one flow, one port.
        const uint16_t nports = sc.input == Input::Underlay ? 1
                                : flows % 4 == 0            ? 4
                                : flows % 2 == 0            ? 2
                                                            : 1;
        std::vector<rte_mbuf*> mbufs(K);
        std::vector<uint64_t> flow_of(K);
        std::vector<t::Bytes> original(sc.restore == Restore::Copy ? K : 0);
        std::vector<uint16_t> burst_port(bursts);
        std::unordered_map<rte_mbuf*, Built> expect;
        // On success every mbuf is back in its input state and is freed here; after a
        // failure some may have been freed by a drop, so the caller replaces the pool.
        struct Freer {
            std::vector<rte_mbuf*>& v;
            bool ok = false;
            ~Freer() {
                if (ok)
                    for (rte_mbuf* m : v)
                        if (m) rte_pktmbuf_free(m);
            }
        } freer{mbufs};
        uint32_t udp_offset = 0;
        for (uint32_t b = 0; b < bursts; b++) {
            burst_port[b] = sc.input == Input::Underlay ? underlay_port
                                                         : static_cast<uint16_t>(1 + b % nports);
            for (uint32_t i = 0; i < dp::burst_size; i++) {
                uint32_t j = b * dp::burst_size + i;
                uint64_t f = sc.input == Input::Underlay
                                 ? j % flows
                                 : ((uint64_t{b / nports} * dp::burst_size + i) * nports + b % nports) % flows;
                uint32_t sz = size.cycle[j % size.cycle.size()];
                Built built = sc.build(tp, burst_port[b], f, sz);
                mbufs[j] = t::to_mbuf(pool, built.frame);
                mbufs[j]->port = burst_port[b];
                flow_of[j] = f;
                udp_offset = built.udp_offset;
                if (sc.restore == Restore::Copy) original[j] = built.frame;
                expect.emplace(mbufs[j], std::move(built));
            }
        }
        // The inner UDP ports are rewritten at every reset, even when the flow stays the
        // same, so that the harness touches the same cache lines whatever the flow count.
        const bool rewrite = udp_offset != 0;
        const bool advance = flows > K;

        // One stage call on burst b; returns its cycles. Checks counts, resets.
        auto call = [&](uint32_t b, bool verify) -> uint64_t {
            rte_mbuf** pkts = &mbufs[b * dp::burst_size];
            uint16_t port = burst_port[b];
            uint16_t n = dp::burst_size;
            rte_mbuf* in[dp::burst_size];
            std::copy(pkts, pkts + n, in); // the stage may reorder its array
#ifdef VXMESH_HAVE_CALLGRIND
            if (settings.callgrind) CALLGRIND_TOGGLE_COLLECT;
#endif
            uint64_t t0 = rte_rdtsc();
            if (sc.input == Input::Access)
                dp::access_input(s, lc, port, in, n);
            else
                dp::underlay_input(s, lc, in, n);
            uint64_t t1 = rte_rdtsc();
#ifdef VXMESH_HAVE_CALLGRIND
            if (settings.callgrind) CALLGRIND_TOGGLE_COLLECT;
#endif
            called += n;
            uint32_t out = 0;
            for (uint32_t bits = lc.tx_pending; bits; bits &= bits - 1) {
                auto p = static_cast<uint16_t>(__builtin_ctz(bits));
                dp::TxBuffer& tb = lc.tx[p];
                if (verify) {
                    for (uint16_t i = 0; i < tb.count; i++) check_output(sc, expect, tb.pkts[i], p);
                }
                out += tb.count;
                tb.count = 0;
            }
            lc.tx_pending = 0;
            if (out != n)
                throw ScenarioError(fmt::format("{} of {} packets came out of the stage; counted so far:{}",
                                                out, n, drops_text(*lc.stats)));
            for (uint16_t i = 0; i < n; i++) {
                rte_mbuf* m = pkts[i];
                uint32_t j = b * dp::burst_size + i;
                switch (sc.restore) {
                case Restore::None: break;
                case Restore::Adj: rte_pktmbuf_adj(m, dp::vxlan_outer_size); break;
                case Restore::AdjPartial: {
                    rte_pktmbuf_adj(m, dp::vxlan_outer_size);
                    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
                    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
                    udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, 0);
                    break;
                }
                case Restore::Prepend: rte_pktmbuf_prepend(m, dp::vxlan_outer_size); break;
                case Restore::Copy:
                    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), original[j].data(), original[j].size());
                    break;
                }
                if (rewrite) { // more flows than mbufs: the next use of this mbuf is a new flow
                    if (advance) flow_of[j] = (flow_of[j] + K) % flows;
                    auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, udp_offset);
                    udp->src_port = rte_cpu_to_be_16(flow_sport(flow_of[j]));
                    udp->dst_port = rte_cpu_to_be_16(flow_dport(flow_of[j]));
                }
            }
            return t1 - t0;
        };

        const dp::LcoreStats& st = *lc.stats;
        auto check_clean = [&](uint64_t drops0, uint64_t punted0, uint64_t counter0, uint64_t packets) {
            if (drops_total(st) != drops0 || st.punted != punted0)
                throw ScenarioError(fmt::format("drops or punts counted:{}", drops_text(st)));
            if (st.*sc.counter - counter0 != packets)
                throw ScenarioError(fmt::format("stage counter moved by {}, expected {}",
                                                st.*sc.counter - counter0, packets));
        };

        // Warm-up: two passes over the burst set, the first one checking every output.
        {
            uint64_t d0 = drops_total(st), p0 = st.punted, c0 = st.*sc.counter;
            for (uint32_t pass = 0; pass < 2; pass++)
                for (uint32_t b = 0; b < bursts; b++) call(b, pass == 0);
            check_clean(d0, p0, c0, uint64_t{2} * K);
        }
        expect.clear();

        Result r;
        r.scenario = sc.name;
        r.size = sc.fixed_size ? std::to_string(rte_pktmbuf_pkt_len(mbufs[0])) : size.label;
        r.mean_size = sc.fixed_size ? rte_pktmbuf_pkt_len(mbufs[0]) : size.mean();
        r.flows = flows;
        r.peers = tp.peers;
        r.endpoints = tp.endpoints;
        uint32_t b = 0;
        std::vector<uint64_t> per_call(settings.iterations);
        for (uint32_t run = 0; run < settings.runs; run++) {
            uint64_t d0 = drops_total(st), p0 = st.punted, c0 = st.*sc.counter;
            for (uint32_t it = 0; it < settings.iterations; it++) {
                uint64_t c = call(b, false);
                per_call[it] = c > overhead ? c - overhead : 0;
                if (++b == bursts) b = 0;
            }
            uint64_t packets = uint64_t{settings.iterations} * dp::burst_size;
            check_clean(d0, p0, c0, packets);
            r.packets += packets;
            // A call that took 20 times the median was interrupted (the process was
            // preempted or took an interrupt): leave it out of the mean.
            std::vector<uint64_t> sorted_calls = per_call;
            std::nth_element(sorted_calls.begin(), sorted_calls.begin() + sorted_calls.size() / 2,
                             sorted_calls.end());
            uint64_t limit = 20 * std::max<uint64_t>(sorted_calls[sorted_calls.size() / 2], 1);
            uint64_t cycles = 0, kept = 0;
            for (uint64_t c : per_call)
                if (c <= limit) {
                    cycles += c;
                    kept++;
                }
            r.discarded += settings.iterations - kept;
            r.runs.push_back(static_cast<double>(cycles) / static_cast<double>(kept * dp::burst_size));
        }
        std::vector<double> sorted = r.runs;
        std::sort(sorted.begin(), sorted.end());
        r.cycles_per_packet = sorted[sorted.size() / 2];
        r.mpps = static_cast<double>(rte_get_tsc_hz()) / r.cycles_per_packet / 1e6;
        r.gbps = r.mpps * r.mean_size * 8 / 1e3;
        freer.ok = true;
        return r;
    }

    void check_output(const Scenario& sc, const std::unordered_map<rte_mbuf*, Built>& expect,
                      rte_mbuf* m, uint16_t port) {
        auto it = expect.find(m);
        if (it == expect.end()) throw ScenarioError("an unknown mbuf came out");
        const Built& e = it->second;
        if (port != e.out_port || rte_pktmbuf_pkt_len(m) != e.out_len)
            throw ScenarioError(fmt::format("packet out on port {} with {} bytes, expected port {} "
                                            "with {} bytes",
                                            port, rte_pktmbuf_pkt_len(m), e.out_port, e.out_len));
        if (e.peer_vtep != 0) {
            auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
            auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
            t::MacBytes mac = peer_mac(e.peer_vtep);
            if (rte_be_to_cpu_32(ip->dst_addr) != e.peer_vtep ||
                std::memcmp(eth->dst_addr.addr_bytes, mac.data(), 6) != 0 ||
                rte_raw_cksum(ip, sizeof(*ip)) != 0xffff)
                throw ScenarioError(fmt::format(
                    "{}: outer header not toward the expected peer: ip dst {:08x} (expected {:08x}), "
                    "mac dst {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, header sum {:04x}",
                    sc.name, rte_be_to_cpu_32(ip->dst_addr), e.peer_vtep, eth->dst_addr.addr_bytes[0],
                    eth->dst_addr.addr_bytes[1], eth->dst_addr.addr_bytes[2],
                    eth->dst_addr.addr_bytes[3], eth->dst_addr.addr_bytes[4],
                    eth->dst_addr.addr_bytes[5], rte_raw_cksum(ip, sizeof(*ip))));
        }
    }
};

// ---------------------------------------------------------------------------------

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            auto p = line.find(':');
            if (p != std::string::npos) return line.substr(line.find_first_not_of(" \t", p + 1));
        }
    return "unknown";
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string json_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        o += c;
    }
    return o;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return buf;
}

std::string flows_label(uint64_t f) {
    if (f >= 1000000 && f % 1000000 == 0) return fmt::format("{}M", f / 1000000);
    if (f >= 1000 && f % 1000 == 0) return fmt::format("{}k", f / 1000);
    return std::to_string(f);
}

uint64_t parse_count(const std::string& s) {
    size_t pos = 0;
    uint64_t v = std::stoull(s, &pos);
    std::string suffix = s.substr(pos);
    if (suffix == "k" || suffix == "K") return v * 1000;
    if (suffix == "M" || suffix == "m") return v * 1000000;
    if (!suffix.empty()) throw std::runtime_error("bad count: " + s);
    return v;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

struct Options {
    bool quick = false;
    std::string scenario;
    std::string json;
    std::string commit = VXMESH_COMMIT;
    std::string sizes = "64,512,1500,imix";
    std::string flows = "1,1k,1M";
    std::string peers = "10:100,10k:100k"; // peers:endpoints
    Settings settings;
    bool list = false;
    unsigned memory_mb = 512;
};

int run(const Options& o) {
    std::string prefix = fmt::format("bench-{}", getpid());
    std::vector<std::string> args = {"vxmesh-bench", "--no-huge", "-m", std::to_string(o.memory_mb), "--no-pci",
                                     "--no-shconf", "--file-prefix", prefix, "--log-level=notice",
                                     "-l", "0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        fmt::print(stderr, "vxmesh-bench: EAL initialisation failed: {}\n", rte_strerror(rte_errno));
        return 1;
    }

    std::vector<Result> results;
    std::vector<std::string> failures;
    int code = 0;
    std::string load_start = loadavg();
    try {
        Settings st = o.settings;
        if (st.mbufs % (dp::burst_size * 4) != 0 || st.mbufs == 0)
            throw std::runtime_error("--mbufs must be a positive multiple of 128");
        rte_mempool* pool = dp::create_mbuf_pool(st.mbufs + 1023);
        rte_ring* punt = rte_ring_create("bench_punt", 4096, rte_socket_id(), RING_F_SC_DEQ);
        if (punt == nullptr) throw std::runtime_error("cannot create the punt ring");
        dp::Lcore lc;
        lc.stats = &dp::lcore_stats[rte_lcore_id()];
        lc.punt = punt;
        Bench bench{pool, lc, st, tsc_overhead()};

        std::vector<SizeSpec> sizes;
        for (auto& s : split(o.sizes)) sizes.push_back(parse_size(s));
        std::vector<uint64_t> flows;
        for (auto& f : split(o.flows)) flows.push_back(parse_count(f));
        std::vector<std::pair<uint32_t, uint32_t>> scales;
        for (auto& p : split(o.peers)) {
            auto colon = p.find(':');
            uint64_t peers = parse_count(p.substr(0, colon));
            uint64_t eps = colon == std::string::npos ? peers * 10 : parse_count(p.substr(colon + 1));
            scales.emplace_back(static_cast<uint32_t>(peers), static_cast<uint32_t>(eps));
        }
        std::vector<std::string> wanted = split(o.scenario);
        auto selected = [&](const Scenario& sc) {
            return wanted.empty() || std::find(wanted.begin(), wanted.end(), sc.name) != wanted.end();
        };
        for (const auto& w : wanted)
            if (std::none_of(scenarios().begin(), scenarios().end(),
                             [&](const Scenario& sc) { return w == sc.name; }))
                throw std::runtime_error("unknown scenario '" + w + "' (see --list)");

        fmt::print("vxmesh-bench {} on {}, TSC {:.3f} GHz, {} mbufs per burst set, {} runs x {} "
                   "bursts of {}, rdtsc overhead {} cycles\n",
                   o.commit, cpu_model(), static_cast<double>(rte_get_tsc_hz()) / 1e9, st.mbufs,
                   st.runs, st.iterations, dp::burst_size, bench.overhead);
        fmt::print("{:<10} {:>5} {:>6} {:>6} {:>7} {:>10} {:>8} {:>8}  {}\n", "SCENARIO", "SIZE",
                   "FLOWS", "PEERS", "ENDPTS", "CYC/PKT", "MPPS", "GBPS", "RUNS (cycles/packet)");
        std::fflush(stdout);

        uint64_t generation = 0;
        for (auto [peers, endpoints] : scales) {
            auto t0 = std::chrono::steady_clock::now();
            Topology tp = make_topology(peers, endpoints);
            auto tables = build_tables(tp, ++generation);
            if (st.verbose)
                fmt::print("  built {} peers / {} endpoints in {:.1f} s\n", peers, endpoints,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            for (const Scenario& sc : scenarios()) {
                if (!selected(sc)) continue;
                std::vector<SizeSpec> sc_sizes = sc.fixed_size ? std::vector<SizeSpec>{sizes[0]} : sizes;
                std::vector<uint64_t> sc_flows;
                for (uint64_t f : flows) {
                    uint64_t capped = std::min(f, sc.max_flows);
                    if (std::find(sc_flows.begin(), sc_flows.end(), capped) == sc_flows.end())
                        sc_flows.push_back(capped);
                }
                for (const SizeSpec& size : sc_sizes)
                    for (uint64_t f : sc_flows) {
                        try {
                            Result r = bench.run(sc, tp, *tables->snapshot, size, f);
                            std::string runs;
                            for (double v : r.runs) runs += fmt::format(" {:.1f}", v);
                            fmt::print("{:<10} {:>5} {:>6} {:>6} {:>7} {:>10.1f} {:>8.2f} {:>8.2f} {}\n",
                                       r.scenario, r.size, flows_label(r.flows), peers, endpoints,
                                       r.cycles_per_packet, r.mpps, r.gbps, runs);
                            std::fflush(stdout);
                            results.push_back(std::move(r));
                        } catch (const ScenarioError& e) {
                            std::string what = fmt::format("{} size {} flows {} peers {}: {}", sc.name,
                                                           size.label, flows_label(f), peers, e.what());
                            fmt::print(stderr, "vxmesh-bench: FAILED {}\n", what);
                            failures.push_back(what);
                            // A failed call may have left packets in the buffers and
                            // freed some of the burst set: start again with a new pool.
                            for (auto& tb : lc.tx) tb.count = 0;
                            lc.tx_pending = 0;
                            rte_mempool_free(bench.pool);
                            bench.pool = dp::create_mbuf_pool(st.mbufs + 1023);
                        }
                    }
            }
        }
        // Every stage call is collected, warm-up included.
        if (st.callgrind) fmt::print("callgrind-packets: {}\n", bench.called);
        if (!o.json.empty()) {
            std::string out = fmt::format(
                "{{\n  \"commit\": \"{}\",\n  \"date\": \"{}\",\n  \"cpu\": \"{}\",\n  \"tsc_hz\": {},\n"
                "  \"loadavg\": [\"{}\", \"{}\"],\n  \"results\": [",
                json_escape(o.commit), utc_now(), json_escape(cpu_model()), rte_get_tsc_hz(),
                load_start, loadavg());
            for (size_t i = 0; i < results.size(); i++) {
                const Result& r = results[i];
                std::string runs;
                for (size_t k = 0; k < r.runs.size(); k++) runs += fmt::format("{}{:.2f}", k ? ", " : "", r.runs[k]);
                out += fmt::format(
                    "{}\n    {{\"scenario\": \"{}\", \"mode\": \"in-process\", \"size\": \"{}\", "
                    "\"mean_size\": {:.1f}, \"flows\": {}, \"peers\": {}, \"endpoints\": {}, "
                    "\"cycles_per_packet\": {:.2f}, \"mpps\": {:.3f}, \"gbps\": {:.3f}, \"runs\": [{}], "
                    "\"packets\": {}, \"discarded_calls\": {}}}",
                    i ? "," : "", r.scenario, r.size, r.mean_size, r.flows, r.peers, r.endpoints,
                    r.cycles_per_packet, r.mpps, r.gbps, runs, r.packets, r.discarded);
            }
            out += "\n  ],\n  \"failures\": [";
            for (size_t i = 0; i < failures.size(); i++)
                out += fmt::format("{}\"{}\"", i ? ", " : "", json_escape(failures[i]));
            out += "]\n}\n";
            std::ofstream f(o.json);
            f << out;
            if (!f) throw std::runtime_error("cannot write " + o.json);
        }
        rte_ring_free(punt);
        rte_mempool_free(pool);
    } catch (const std::exception& e) {
        fmt::print(stderr, "vxmesh-bench: {}\n", e.what());
        code = 1;
    }
    if (code == 0 && !failures.empty()) {
        fmt::print(stderr, "vxmesh-bench: {} combination(s) failed\n", failures.size());
        code = 1;
    }
    if (code == 0 && results.empty()) {
        fmt::print(stderr, "vxmesh-bench: nothing was measured\n");
        code = 1;
    }
    rte_eal_cleanup();
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    po::options_description desc(
        "Usage: vxmesh-bench [options]\n\n"
        "Times vxmesh's packet stages in-process on pre-built bursts (see bench/README.md).\n\n"
        "Options");
    desc.add_options()("help,h", "print this help and exit")(
        "list", po::bool_switch(&o.list), "list the scenarios and exit")(
        "quick", po::bool_switch(&o.quick),
        "smoke test: size 64, 1k flows, 10 peers, few iterations (packets still checked)")(
        "scenario", po::value(&o.scenario), "only these scenarios (comma-separated)")(
        "json", po::value(&o.json), "write the results as JSON here")(
        "commit", po::value(&o.commit), "commit id to record (default: the one built from)")(
        "sizes", po::value(&o.sizes)->default_value(o.sizes), "inner frame sizes, or imix")(
        "flows", po::value(&o.flows)->default_value(o.flows), "distinct inner 5-tuples")(
        "peers", po::value(&o.peers)->default_value(o.peers), "PEERS:ENDPOINTS scales")(
        "runs", po::value(&o.settings.runs)->default_value(o.settings.runs), "runs (median reported)")(
        "iterations", po::value(&o.settings.iterations)->default_value(o.settings.iterations),
        "stage calls (bursts of 32) per run")(
        "mbufs", po::value(&o.settings.mbufs)->default_value(o.settings.mbufs),
        "mbufs in a burst set (multiple of 128)")(
        "memory", po::value(&o.memory_mb)->default_value(o.memory_mb), "EAL memory (-m), MB")(
        "callgrind", po::bool_switch(&o.settings.callgrind),
        "collect callgrind costs around the stage calls only (run under valgrind "
        "--collect-atstart=no)")("verbose,v", po::bool_switch(&o.settings.verbose), "more output");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "vxmesh-bench: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (o.list) {
        for (const Scenario& sc : scenarios()) fmt::print("{:<10} {}\n", sc.name, sc.what);
        return 0;
    }
#ifndef VXMESH_HAVE_CALLGRIND
    if (o.settings.callgrind) {
        std::cerr << "vxmesh-bench: built without valgrind/callgrind.h\n";
        return 2;
    }
#endif
    if (o.quick) {
        if (vm["sizes"].defaulted()) o.sizes = "64";
        if (vm["flows"].defaulted()) o.flows = "1k";
        if (vm["peers"].defaulted()) o.peers = "10:100";
        if (vm["runs"].defaulted()) o.settings.runs = 3;
        if (vm["iterations"].defaulted()) o.settings.iterations = 2000;
    }
    return run(o);
}
