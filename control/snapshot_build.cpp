#include "control/snapshot_build.hpp"

#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <cstring>
#include <iterator>
#include <optional>
#include <vector>

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
// have caught, reported rather than silently overwritten. `what()` names the object for
// the error and is called only then: formatting it for each of 100k endpoints cost more
// than inserting them.
template <typename What>
void add(dp::FlatTable& t, uint64_t key, uint64_t value, const char* kind, const What& what) {
    switch (t.insert(key, value)) {
    case dp::FlatTable::Insert::Added:
        return;
    case dp::FlatTable::Insert::Exists:
        throw BuildError(fmt::format("{}: already in the {} table", what(), kind));
    case dp::FlatTable::Insert::Full:
        throw BuildError(
            fmt::format("{}: the {} table is full ({} entries)", what(), kind, t.size()));
    case dp::FlatTable::Insert::BadKey:
        throw BuildError(fmt::format("{}: cannot be a key of the {} table", what(), kind));
    }
}

// Takes a removed endpoint's key out of a table; it must be there, or the snapshot being
// changed was not built from the config the change was computed against.
template <typename What>
void take(dp::FlatTable& t, uint64_t key, const char* kind, const What& what) {
    if (!t.erase(key))
        throw BuildError(
            fmt::format("{}: not in the {} table of the snapshot being changed", what(), kind));
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

// Network and peer names → their ids in the snapshot: their positions in the config, as
// build_snapshot numbers them. Peers are indexed for a full build; rebuild_endpoints,
// placing a few endpoints among maybe 10k peers, finds those few by a scan instead.
class Names {
public:
    Names(const model::Config& config, bool index_peers) : peers_(config.peers) {
        for (size_t i = 0; i < config.networks.size(); i++)
            networks_.emplace(config.networks[i].name, static_cast<uint16_t>(i));
        if (index_peers)
            for (size_t i = 0; i < peers_.size(); i++)
                peer_index_.emplace(peers_[i].name, static_cast<uint32_t>(i));
        indexed_ = index_peers;
    }

    const uint16_t* network(const std::string& name) const {
        auto it = networks_.find(name);
        return it == networks_.end() ? nullptr : &it->second;
    }

    std::optional<uint32_t> peer(const std::string& name) const {
        if (indexed_) {
            auto it = peer_index_.find(name);
            if (it == peer_index_.end()) return std::nullopt;
            return it->second;
        }
        for (size_t i = 0; i < peers_.size(); i++)
            if (peers_[i].name == name) return static_cast<uint32_t>(i);
        return std::nullopt;
    }

private:
    const std::vector<model::Peer>& peers_;
    std::unordered_map<std::string, uint16_t> networks_;
    std::unordered_map<std::string, uint32_t> peer_index_;
    bool indexed_ = false;
};

std::string endpoint_what(const model::Endpoint& e) {
    return fmt::format("{}endpoints: {}", where(e.origin), e.name);
}

uint16_t endpoint_network(const model::Endpoint& e, const Names& names) {
    const uint16_t* network = names.network(e.network);
    if (network == nullptr)
        throw BuildError(fmt::format("{}: unknown network '{}'", endpoint_what(e), e.network));
    return *network;
}

uint16_t endpoint_port(const model::Endpoint& e, const BuildContext& ctx) {
    auto port = ctx.access_ports.find(e.port);
    if (port == ctx.access_ports.end())
        throw BuildError(fmt::format("{}: unknown port '{}'", endpoint_what(e), e.port));
    return port->second;
}

// A local endpoint onto its port's inline list: in MAC order, and cleared once the port
// overflows, so that the entry depends on the port's endpoints and not on their order.
void add_port_source(dp::PortSources& ps, uint64_t mac, uint16_t network) {
    if (ps.count < dp::PortSources::inline_max) {
        unsigned i = ps.count;
        for (; i > 0 && ps.mac[i - 1] > mac; i--) {
            ps.mac[i] = ps.mac[i - 1];
            ps.network[i] = ps.network[i - 1];
        }
        ps.mac[i] = mac;
        ps.network[i] = network;
    } else if (!ps.overflow) {
        ps = {.count = ps.count, .overflow = true};
    }
    ps.count++;
}

// A local endpoint off its port's inline list; false when the port had overflowed and
// no longer does, so that its list must be made again from the config (the sources
// table cannot list one port's MACs).
bool remove_port_source(dp::PortSources& ps, uint64_t mac) {
    if (ps.overflow) {
        if (ps.count <= dp::PortSources::inline_max + 1u) return false;
        ps.count--;
        return true;
    }
    unsigned i = 0;
    while (i < ps.count && ps.mac[i] != mac)
        i++;
    if (i == ps.count) return false;
    for (; i + 1 < ps.count; i++) {
        ps.mac[i] = ps.mac[i + 1];
        ps.network[i] = ps.network[i + 1];
    }
    ps.count--;
    ps.mac[ps.count] = 0;
    ps.network[ps.count] = 0;
    return true;
}

// One endpoint into the snapshot's tables: FDB and ARP for every endpoint, the sources
// table and its port's list for a local one. build_snapshot and rebuild_endpoints both
// place endpoints here, so that they check the same and say the same.
void add_endpoint(dp::Snapshot& s, const model::Endpoint& e, const model::Config& config,
                  const Names& names, const BuildContext& ctx) {
    uint16_t network = endpoint_network(e, names);
    uint64_t mac = dp::mac_pack(ether(e.mac));
    auto what = [&e] { return endpoint_what(e); };

    uint64_t value;
    if (e.node == config.node.name) {
        uint16_t port = endpoint_port(e, ctx);
        if (auto limits = ctx.access_limits.find(e.port); limits != ctx.access_limits.end()) {
            uint32_t mtu = config.networks[network].mtu;
            if (limits->second.mtu != 0 && mtu > limits->second.mtu)
                throw BuildError(fmt::format(
                    "{}: network {} has MTU {}, and port {}'s MTU is {}: its packets would "
                    "be lost on the port; raise the port's MTU or lower the network's",
                    what(), e.network, mtu, e.port, limits->second.mtu));
            if (limits->second.frame != 0 && mtu + sizeof(rte_ether_hdr) > limits->second.frame)
                throw BuildError(fmt::format(
                    "{}: network {} has MTU {}, and port {} receives at most {} bytes into "
                    "one buffer",
                    what(), e.network, mtu, e.port, limits->second.frame));
        }
        value = dp::FdbValue::local(port);
        if (s.sources.insert(dp::source_key(port, mac), network) == dp::FlatTable::Insert::Exists)
            throw BuildError(fmt::format("{}: another endpoint on port '{}' already has MAC {}",
                                         what(), e.port, model::format_mac(e.mac)));
        add_port_source(s.port_sources[port], mac, network);
    } else {
        std::optional<uint32_t> peer = names.peer(e.node);
        if (!peer) throw BuildError(fmt::format("{}: unknown node '{}'", what(), e.node));
        value = dp::FdbValue::remote(*peer);
    }
    add(s.fdb, dp::fdb_key(network, mac), value, "FDB", [&] {
        return fmt::format("{}: MAC {} on network '{}'", what(), model::format_mac(e.mac),
                           e.network);
    });
    add(s.arp, dp::arp_key(network, be(e.ip)), mac, "ARP", [&] {
        return fmt::format("{}: address {} on network '{}'", what(), model::format_ipv4(e.ip),
                           e.network);
    });
}

// One endpoint of the previous config out of the tables. A port whose list must be made
// again from the config (remove_port_source) is marked in `relist`.
void remove_endpoint(dp::Snapshot& s, const model::Endpoint& e, const model::Config& config,
                     const Names& names, const BuildContext& ctx,
                     std::bitset<dp::max_ports_snapshot>& relist) {
    uint16_t network = endpoint_network(e, names);
    uint64_t mac = dp::mac_pack(ether(e.mac));
    auto what = [&e] { return endpoint_what(e); };
    if (e.node == config.node.name) {
        uint16_t port = endpoint_port(e, ctx);
        take(s.sources, dp::source_key(port, mac), "source", what);
        if (!remove_port_source(s.port_sources[port], mac)) relist.set(port);
    }
    take(s.fdb, dp::fdb_key(network, mac), "FDB", what);
    take(s.arp, dp::arp_key(network, be(e.ip)), "ARP", what);
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
    for (const model::Network& n : config.networks) {
        auto index = static_cast<uint16_t>(s->networks.size());
        s->networks.push_back({n.vni, rte_cpu_to_be_32(n.vni << 8), n.mtu, be(n.gateway)});
        dp::VniSlot& direct = s->vni_direct[n.vni % dp::Snapshot::vni_direct_size];
        if (direct.vni_word == dp::VniSlot::empty) direct = {rte_cpu_to_be_32(n.vni << 8), index};
        add(s->vnis, n.vni, index, "VNI",
            [&n] { return fmt::format("{}networks: {}: VNI {}", where(n.origin), n.name, n.vni); });
    }

    s->peers.resize(config.peers.size());
    s->peer_by_vtep = dp::FlatTable(config.peers.size());
    for (size_t i = 0; i < config.peers.size(); i++) {
        const model::Peer& peer = config.peers[i];
        dp::PeerEntry& p = s->peers[i];
        p.vtep = be(peer.address);
        p.neighbour = ctx.nexthop_slot(be(peer_next_hop(node, peer)));
        build_outer_template(p, node, ctx);
        add(s->peer_by_vtep, dp::peer_key(p.vtep), i, "peer", [&peer] {
            return fmt::format("{}peers: {}: address {}", where(peer.origin), peer.name,
                               model::format_ipv4(peer.address));
        });
    }

    Names names(config, true);
    for (const model::Endpoint& e : config.endpoints)
        add_endpoint(*s, e, config, names, ctx);
    return s;
}

void patch_endpoints(dp::Snapshot& s, const model::Config& config,
                     std::initializer_list<const EndpointDelta*> deltas, const BuildContext& ctx) {
    s.generation = ctx.generation;
    s.capture = ctx.capture;
    // Indexing 10k peers' names took about 1 ms, nearly as long as copying the tables; a
    // scan for each of a few remote endpoints takes microseconds.
    constexpr size_t scan_peers_max = 16;
    size_t remote_added = 0;
    for (const EndpointDelta* delta : deltas)
        remote_added += std::count_if(delta->added.begin(), delta->added.end(),
                                      [&](const auto& e) { return e.node != config.node.name; });
    Names names(config, remote_added > scan_peers_max);
    std::bitset<dp::max_ports_snapshot> relist;
    for (const EndpointDelta* delta : deltas) {
        for (const model::Endpoint& e : delta->removed)
            remove_endpoint(s, e, config, names, ctx, relist);
        for (const model::Endpoint& e : delta->added)
            add_endpoint(s, e, config, names, ctx);
    }
    if (relist.any()) {
        for (size_t port = 0; port < relist.size(); port++)
            if (relist[port]) s.port_sources[port] = {};
        for (const model::Endpoint& e : config.endpoints) {
            if (e.node != config.node.name) continue;
            uint16_t port = endpoint_port(e, ctx);
            if (relist[port])
                add_port_source(s.port_sources[port], dp::mac_pack(ether(e.mac)),
                                endpoint_network(e, names));
        }
    }
}

std::unique_ptr<dp::Snapshot> rebuild_endpoints(const dp::Snapshot& previous,
                                                const model::Config& config,
                                                const EndpointDelta& delta,
                                                const BuildContext& ctx) {
    auto s = std::make_unique<dp::Snapshot>();
    s->generation = ctx.generation;
    s->vtep = previous.vtep;
    s->underlay_broadcast = previous.underlay_broadcast;
    s->underlay_mac = previous.underlay_mac;
    s->vxlan_port = previous.vxlan_port;
    s->underlay_port = previous.underlay_port;
    s->outer_df = previous.outer_df;
    s->accept_unknown_peers = previous.accept_unknown_peers;
    s->networks = previous.networks;
    s->peers = previous.peers;
    // Sized as build_snapshot sizes them: removals are taken out before additions go in,
    // so the tables never hold more than the config's endpoints.
    size_t n_endpoints = config.endpoints.size();
    s->fdb = previous.fdb.clone(n_endpoints);
    s->peer_by_vtep = previous.peer_by_vtep.clone(previous.peer_by_vtep.size());
    s->sources = previous.sources.clone(n_endpoints);
    std::copy(std::begin(previous.port_sources), std::end(previous.port_sources),
              std::begin(s->port_sources));
    s->arp = previous.arp.clone(n_endpoints);
    s->vnis = previous.vnis.clone(previous.vnis.size());
    std::copy(std::begin(previous.vni_direct), std::end(previous.vni_direct),
              std::begin(s->vni_direct));
    s->neighbours = previous.neighbours;
    s->capture = ctx.capture;

    patch_endpoints(*s, config, {&delta}, ctx);
    return s;
}

} // namespace vxmesh::control
