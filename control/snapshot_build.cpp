#include "control/snapshot_build.hpp"

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

rte_be32_t be(model::Ipv4 ip) {
    return rte_cpu_to_be_32(ip.value);
}

rte_ether_addr ether(const model::Mac& mac) {
    rte_ether_addr e;
    std::memcpy(e.addr_bytes, mac.bytes.data(), RTE_ETHER_ADDR_LEN);
    return e;
}

// Adds to a snapshot table; a key that is already there is a clash validation should
// have caught, reported rather than silently overwritten.
void add(dp::FlatTable& t, uint64_t key, uint64_t value, const char* kind,
         const std::string& what) {
    switch (t.insert(key, value)) {
    case dp::FlatTable::Insert::Added:
        return;
    case dp::FlatTable::Insert::Exists:
        throw BuildError(fmt::format("{}: already in the {} table", what, kind));
    case dp::FlatTable::Insert::Full:
        throw BuildError(
            fmt::format("{}: the {} table is full ({} entries)", what, kind, t.size()));
    case dp::FlatTable::Insert::BadKey:
        throw BuildError(fmt::format("{}: cannot be a key of the {} table", what, kind));
    }
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
    s->accept_unknown_peers = node.accept_unknown_peers;
    s->underlay_broadcast =
        be(model::Ipv4{node.data_path_addr.value |
                       (node.prefix_length >= 32 ? 0u : ~uint32_t{0} >> node.prefix_length)});
    s->neighbours = ctx.neighbours;
    s->capture = ctx.capture;

    if (config.networks.size() >= dp::max_networks)
        throw BuildError(fmt::format("{} networks: at most {} fit in a snapshot",
                                     config.networks.size(), dp::max_networks - 1));
    size_t n_endpoints = config.endpoints.size();
    s->fdb = dp::FlatTable(n_endpoints);
    s->sources = dp::FlatTable(n_endpoints);
    s->arp = dp::FlatTable(n_endpoints);
    s->vnis = dp::FlatTable(config.networks.size());

    // A network's MTU either fits the ports end to end or the network is refused: vxmesh
    // never fragments the outer packet, and a frame longer than a receive buffer or than
    // an interface's MTU is lost where no counter of vxmesh's sees it.
    constexpr uint32_t vxlan_overhead = 50; // outer IPv4, UDP, VXLAN and inner Ethernet
    const PortLimits& ul = ctx.underlay_limits;
    for (const model::Network& n : config.networks) {
        if (ul.mtu != 0 && n.mtu + vxlan_overhead > ul.mtu)
            throw BuildError(fmt::format(
                "{}networks: {}: MTU {} needs an underlay MTU of at least {} (VXLAN adds {} "
                "bytes), and the underlay's is {}: lower the network's MTU or raise the "
                "underlay's",
                where(n.origin), n.name, n.mtu, n.mtu + vxlan_overhead, vxlan_overhead, ul.mtu));
        if (ul.frame != 0 && n.mtu + vxlan_overhead + sizeof(rte_ether_hdr) > ul.frame)
            throw BuildError(fmt::format(
                "{}networks: {}: MTU {} makes underlay frames of {} bytes, and the underlay "
                "receives at most {} bytes into one buffer",
                where(n.origin), n.name, n.mtu, n.mtu + vxlan_overhead + sizeof(rte_ether_hdr),
                ul.frame));
    }
    std::unordered_map<std::string, uint16_t> network_index;
    for (const model::Network& n : config.networks) {
        auto index = static_cast<uint16_t>(s->networks.size());
        s->networks.push_back({n.vni, rte_cpu_to_be_32(n.vni << 8), n.mtu, be(n.gateway)});
        network_index.emplace(n.name, index);
        dp::VniSlot& direct = s->vni_direct[n.vni % dp::Snapshot::vni_direct_size];
        if (direct.vni_word == dp::VniSlot::empty) direct = {rte_cpu_to_be_32(n.vni << 8), index};
        add(s->vnis, n.vni, index, "VNI",
            fmt::format("{}networks: {}: VNI {}", where(n.origin), n.name, n.vni));
    }

    std::unordered_map<std::string, uint32_t> peer_index;
    s->peers.resize(config.peers.size());
    s->peer_by_vtep = dp::FlatTable(config.peers.size());
    for (size_t i = 0; i < config.peers.size(); i++) {
        const model::Peer& peer = config.peers[i];
        dp::PeerEntry& p = s->peers[i];
        p.vtep = be(peer.address);
        p.neighbour = ctx.nexthop_slot(be(peer_next_hop(node, peer)));
        build_outer_template(p, node, ctx);
        peer_index.emplace(peer.name, static_cast<uint32_t>(i));
        add(s->peer_by_vtep, dp::peer_key(p.vtep), i, "peer",
            fmt::format("{}peers: {}: address {}", where(peer.origin), peer.name,
                        model::format_ipv4(peer.address)));
    }

    for (const model::Endpoint& e : config.endpoints) {
        auto net = network_index.find(e.network);
        if (net == network_index.end())
            throw BuildError(fmt::format("{}endpoints: {}: unknown network '{}'", where(e.origin),
                                         e.name, e.network));
        uint16_t network = net->second;
        uint64_t mac = dp::mac_pack(ether(e.mac));
        std::string what = fmt::format("{}endpoints: {}", where(e.origin), e.name);

        uint64_t value;
        if (e.node == node.name) {
            auto port = ctx.access_ports.find(e.port);
            if (port == ctx.access_ports.end())
                throw BuildError(fmt::format("{}: unknown port '{}'", what, e.port));
            if (auto limits = ctx.access_limits.find(e.port); limits != ctx.access_limits.end()) {
                uint32_t mtu = config.networks[network].mtu;
                if (limits->second.mtu != 0 && mtu > limits->second.mtu)
                    throw BuildError(fmt::format(
                        "{}: network {} has MTU {}, and port {}'s MTU is {}: its packets would "
                        "be lost on the port; raise the port's MTU or lower the network's",
                        what, e.network, mtu, e.port, limits->second.mtu));
                if (limits->second.frame != 0 && mtu + sizeof(rte_ether_hdr) > limits->second.frame)
                    throw BuildError(fmt::format(
                        "{}: network {} has MTU {}, and port {} receives at most {} bytes into "
                        "one buffer",
                        what, e.network, mtu, e.port, limits->second.frame));
            }
            value = dp::FdbValue::local(port->second);
            if (s->sources.insert(dp::source_key(port->second, mac), network) ==
                dp::FlatTable::Insert::Exists)
                throw BuildError(fmt::format("{}: another endpoint on port '{}' already has MAC {}",
                                             what, e.port, model::format_mac(e.mac)));
            dp::PortSources& ps = s->port_sources[port->second];
            if (ps.count < dp::PortSources::inline_max) {
                ps.mac[ps.count] = mac;
                ps.network[ps.count] = network;
            } else {
                ps.overflow = true;
            }
            ps.count++;
        } else {
            auto peer = peer_index.find(e.node);
            if (peer == peer_index.end())
                throw BuildError(fmt::format("{}: unknown node '{}'", what, e.node));
            value = dp::FdbValue::remote(peer->second);
        }
        add(s->fdb, dp::fdb_key(network, mac), value, "FDB",
            fmt::format("{}: MAC {} on network '{}'", what, model::format_mac(e.mac), e.network));
        add(s->arp, dp::arp_key(network, be(e.ip)), mac, "ARP",
            fmt::format("{}: address {} on network '{}'", what, model::format_ipv4(e.ip),
                        e.network));
    }
    return s;
}

} // namespace vxmesh::control
