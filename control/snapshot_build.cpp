#include "control/snapshot_build.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <fmt/format.h>

#include <cstring>

namespace vxmesh::control {

namespace {

std::string where(const model::Origin& o) {
    if (o.line == 0) return o.file.empty() ? std::string{} : o.file + ": ";
    return fmt::format("{}:{}:{}: ", o.file, o.line, o.column);
}

rte_be32_t be(model::Ipv4 ip) { return rte_cpu_to_be_32(ip.value); }

rte_ether_addr ether(const model::Mac& mac) {
    rte_ether_addr e;
    std::memcpy(e.addr_bytes, mac.bytes.data(), RTE_ETHER_ADDR_LEN);
    return e;
}

// A read-only table: sized for its contents, never resized once published.
rte_hash* make_table(const char* kind, uint64_t generation, uint32_t key_len, size_t entries) {
    std::string name = fmt::format("vxm_{}_{}", kind, generation);
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = static_cast<uint32_t>(std::max<size_t>(64, entries * 2));
    params.key_len = key_len;
    params.hash_func = key_len == 16 ? dp::key16_hash : rte_hash_crc;
    params.socket_id = SOCKET_ID_ANY;
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* h = rte_hash_create(&params);
    if (h == nullptr)
        throw BuildError(fmt::format("cannot create the {} table for {} entries: {}", kind, entries,
                                     rte_strerror(rte_errno)));
    return h;
}

void add(rte_hash* h, const void* key, uint64_t value, const char* kind) {
    int rc = rte_hash_add_key_data(h, key, reinterpret_cast<void*>(static_cast<uintptr_t>(value)));
    if (rc != 0) throw BuildError(fmt::format("cannot add to the {} table: {}", kind, rte_strerror(-rc)));
}

void build_outer_template(dp::PeerEntry& p, const model::Node& node, const BuildContext& ctx) {
    std::memset(p.outer, 0, sizeof(p.outer));
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p.outer);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    auto* vxlan = reinterpret_cast<rte_vxlan_hdr*>(udp + 1);
    eth->src_addr = ctx.underlay_mac; // dst: the next hop's MAC, written per packet
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->fragment_offset = node.dont_fragment ? RTE_BE16(RTE_IPV4_HDR_DF_FLAG) : 0;
    ip->time_to_live = node.ttl;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = be(node.data_path_addr);
    ip->dst_addr = p.vtep;
    udp->dst_port = rte_cpu_to_be_16(node.vxlan_port);
    vxlan->vx_flags = RTE_BE32(0x08000000); // I flag (RFC 7348 §5)
    p.ip_partial_sum = rte_raw_cksum(ip, sizeof(*ip));
}

} // namespace

model::Ipv4 peer_next_hop(const model::Node& node, const model::Peer& peer) {
    model::Ipv4Prefix on_link{node.data_path_addr, node.prefix_length};
    if (on_link.contains(peer.address)) return peer.address;
    if (node.gateway) return *node.gateway;
    throw BuildError(fmt::format(
        "{}peers: {} ({}) is outside node.data_path_addr's /{} and node.gateway is not set",
        where(peer.origin), peer.name, model::format_ipv4(peer.address), node.prefix_length));
}

std::unique_ptr<dp::Snapshot> build_snapshot(const model::Config& config, const BuildContext& ctx) {
    auto s = std::make_unique<dp::Snapshot>();
    const model::Node& node = config.node;
    s->generation = ctx.generation;
    s->vtep = be(node.data_path_addr);
    s->underlay_mac = ctx.underlay_mac;
    s->vxlan_port = rte_cpu_to_be_16(node.vxlan_port);
    s->underlay_port = ctx.underlay_port;
    s->outer_df = node.dont_fragment;
    s->neighbours = ctx.neighbours;
    s->capture = ctx.capture;

    size_t n_endpoints = config.endpoints.size();
    s->fdb = make_table("fdb", ctx.generation, sizeof(dp::FdbKey), n_endpoints);
    s->sources = make_table("src", ctx.generation, sizeof(dp::SourceKey), n_endpoints);
    s->arp = make_table("arp", ctx.generation, sizeof(dp::ArpKey), n_endpoints);
    s->vnis = make_table("vni", ctx.generation, sizeof(uint32_t), config.networks.size());

    std::unordered_map<std::string, uint16_t> network_index;
    for (const model::Network& n : config.networks) {
        auto index = static_cast<uint16_t>(s->networks.size());
        s->networks.push_back({n.vni, n.mtu, be(n.gateway)});
        network_index.emplace(n.name, index);
        add(s->vnis, &n.vni, index, "vni");
    }

    std::unordered_map<std::string, uint32_t> peer_index;
    s->peers.resize(config.peers.size());
    for (size_t i = 0; i < config.peers.size(); i++) {
        const model::Peer& peer = config.peers[i];
        dp::PeerEntry& p = s->peers[i];
        p.vtep = be(peer.address);
        p.neighbour = ctx.nexthop_slot(be(peer_next_hop(node, peer)));
        build_outer_template(p, node, ctx);
        peer_index.emplace(peer.name, static_cast<uint32_t>(i));
    }

    for (const model::Endpoint& e : config.endpoints) {
        auto net = network_index.find(e.network);
        if (net == network_index.end())
            throw BuildError(fmt::format("{}endpoints: {}: unknown network '{}'", where(e.origin),
                                         e.name, e.network));
        uint32_t vni = s->networks[net->second].vni;
        rte_ether_addr mac = ether(e.mac);

        dp::FdbKey fdb{};
        fdb.vni = vni;
        std::memcpy(fdb.mac, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
        uint64_t value;
        if (e.node == node.name) {
            auto port = ctx.access_ports.find(e.port);
            if (port == ctx.access_ports.end())
                throw BuildError(fmt::format("{}endpoints: {}: unknown port '{}'", where(e.origin),
                                             e.name, e.port));
            value = dp::FdbValue::local(port->second);
            dp::SourceKey source{};
            source.port = port->second;
            std::memcpy(source.mac, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
            if (rte_hash_lookup(s->sources, &source) >= 0)
                throw BuildError(fmt::format(
                    "{}endpoints: {}: another endpoint on port '{}' already has MAC {}",
                    where(e.origin), e.name, e.port, model::format_mac(e.mac)));
            add(s->sources, &source, net->second, "source");
            dp::PortSources& ps = s->port_sources[port->second];
            if (ps.count < dp::PortSources::inline_max) {
                ps.mac[ps.count] = dp::mac_pack(mac);
                ps.network[ps.count] = net->second;
            } else {
                ps.overflow = true;
            }
            ps.count++;
        } else {
            auto peer = peer_index.find(e.node);
            if (peer == peer_index.end())
                throw BuildError(fmt::format("{}endpoints: {}: unknown node '{}'", where(e.origin),
                                             e.name, e.node));
            value = dp::FdbValue::remote(peer->second);
        }
        add(s->fdb, &fdb, value, "fdb");
        dp::ArpKey arp{vni, be(e.ip), 0};
        add(s->arp, &arp, dp::mac_pack(mac), "arp");
    }
    return s;
}

} // namespace vxmesh::control
