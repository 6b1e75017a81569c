#include "control/network_state.hpp"

#include "control/config_load.hpp"
#include "control/model_json.hpp"
#include "control/rpc.hpp"
#include "control/text_checks.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

namespace vxmesh::control {

namespace {

using json = nlohmann::json;
using model::format_ipv4;
using model::format_prefix;

constexpr uint64_t kStateVersion = 1;

bool overlap(const model::Ipv4Prefix& a, const model::Ipv4Prefix& b) {
    const unsigned shorter = std::min(a.length, b.length);
    const model::Ipv4Prefix wide{a.address, static_cast<uint8_t>(shorter)};
    return wide.contains(b.address);
}

// The IPAM network that `n` needs: one subnet with its gateway, ip-range and VNI.
bool same_allocation(const NetworkInfo& info, const model::Network& n) {
    if (info.ingress != n.ingress || info.subnets.size() != 1) return false;
    const SubnetInfo& s = info.subnets[0];
    return s.subnet == n.subnet && s.gateway == n.gateway && s.vni == n.vni &&
           s.ip_range == n.ip_range;
}

NetworkRequest request_for(const model::Network& n) {
    NetworkRequest r;
    r.name = n.name;
    r.subnets = {n.subnet};
    if (n.ip_range) r.ip_ranges = {*n.ip_range};
    r.gateways = {n.gateway};
    r.vnis = {n.vni};
    r.ingress = n.ingress;
    return r;
}

std::string describe(const model::Network& n) {
    return fmt::format("VNI {}, subnet {}, gateway {}", n.vni, format_prefix(n.subnet),
                       format_ipv4(n.gateway));
}

std::string describe(const model::Peer& p) {
    return fmt::format("address {}", format_ipv4(p.address));
}

std::string describe(const model::Endpoint& e) {
    std::string out = fmt::format("network {}, IP {}, MAC {}, node {}", e.network,
                                  format_ipv4(e.ip), model::format_mac(e.mac), e.node);
    if (!e.port.empty()) out += fmt::format(", port {}", e.port);
    if (!e.service.empty()) out += fmt::format(", service {}", e.service);
    return out;
}

bool same_endpoint(const model::Endpoint& a, const model::Endpoint& b) {
    return a.network == b.network && a.ip == b.ip && a.mac == b.mac && a.node == b.node &&
           a.port == b.port && a.service == b.service;
}

std::string vip_owner(const model::Service& s) {
    return s.name + " (VIP)";
}

std::string describe(const model::PublishedPort& p) {
    return fmt::format("{}:{}/{} {}", p.published, p.target, model::to_string(p.protocol),
                       model::to_string(p.mode));
}

std::string describe(const model::Service& s) {
    std::vector<std::string> ports;
    for (const auto& p : s.ports)
        ports.push_back(describe(p));
    return fmt::format("endpoint mode {}, networks {}, ports {}", model::to_string(s.endpoint_mode),
                       s.networks.empty() ? "none" : fmt::format("{}", fmt::join(s.networks, " ")),
                       ports.empty() ? "none" : fmt::format("{}", fmt::join(ports, " ")));
}

// The same service, as far as the config file can say: a VIP it gives must match.
bool same_service(const model::Service& file, const model::Service& kept) {
    if (file.endpoint_mode != kept.endpoint_mode || file.networks != kept.networks ||
        file.ports != kept.ports)
        return false;
    for (const auto& [network, vip] : file.vips) {
        auto it = kept.vips.find(network);
        if (it == kept.vips.end() || it->second != vip) return false;
    }
    return true;
}

// How each kind of object came over the socket, for messages.
const char* arrival(const model::Network&) {
    return "created";
}
const char* arrival(const model::Peer&) {
    return "added";
}
const char* arrival(const model::Endpoint&) {
    return "attached";
}
const char* arrival(const model::Service&) {
    return "created";
}

// "FILE:LINE:COLUMN: " for a network read from a file, as the loader's messages start.
std::string position(const model::Origin& o) {
    std::string out = o.file;
    if (o.line > 0) out += fmt::format("{}{}:{}", out.empty() ? "" : ":", o.line, o.column);
    return out.empty() ? "" : out + ": ";
}

std::string read_text(const std::string& path, bool& exists) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error(
            fmt::format("{}: is a directory, not a state file (--state names a file)", path));
    std::ifstream in(path, std::ios::binary);
    exists = in.is_open();
    if (!exists) {
        if (errno == ENOENT) return {};
        throw std::runtime_error(
            fmt::format("{}: cannot read the state file: {}", path, std::strerror(errno)));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::runtime_error(fmt::format("{}: cannot read the state file", path));
    return ss.str();
}

} // namespace

std::string random_network_id() {
    // swarmkit's identity.NewID: 128 random bits, base 36, zero-padded to 25 digits
    // (36^25 > 2^128, so 25 digits always suffice).
    static std::random_device random;
    std::array<uint8_t, 16> n{};
    for (std::size_t i = 0; i < n.size(); i += 4) {
        const uint32_t r = random();
        for (std::size_t k = 0; k < 4; ++k)
            n[i + k] = static_cast<uint8_t>(r >> (8 * k));
    }
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out(25, '0');
    for (std::size_t d = 0; d < out.size(); ++d) {
        uint32_t remainder = 0;
        for (uint8_t& byte : n) { // long division of the big-endian number by 36
            const uint32_t current = remainder * 256 + byte;
            byte = static_cast<uint8_t>(current / 36);
            remainder = current % 36;
        }
        out[out.size() - 1 - d] = digits[remainder];
    }
    return out;
}

std::string rfc3339_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       static_cast<long>(ts.tv_nsec));
}

void reconcile(Ipam& ipam, const model::Config& config) {
    std::map<std::string, const model::Network*> wanted;
    for (const auto& n : config.networks)
        wanted[n.name] = &n;

    // Networks: those that are gone or changed first, so that their subnets and VNIs are
    // free for what replaces them.
    std::set<std::string> kept;
    for (const auto& name : ipam.network_names()) {
        const auto it = wanted.find(name);
        if (it != wanted.end() && same_allocation(ipam.network(name), *it->second)) {
            kept.insert(name);
        } else {
            ipam.remove_network(name);
        }
    }
    for (const auto& n : config.networks) {
        if (!kept.count(n.name)) ipam.create_network(request_for(n));
    }

    // Addresses: every endpoint's, owned by the endpoint's name; VIPs and load balancers.
    std::map<std::string, std::map<uint32_t, std::string>> addresses;
    for (const auto& e : config.endpoints)
        addresses[e.network][e.ip.value] = e.name;
    for (const auto& s : config.services)
        for (const auto& [network, vip] : s.vips)
            addresses[network][vip.value] = vip_owner(s);
    for (const auto& lb : config.load_balancers)
        addresses[lb.network][lb.ip.value] = load_balancer_name(lb);
    for (const auto& n : config.networks) {
        auto& want = addresses[n.name];
        for (const auto& a : ipam.network(n.name).addresses) {
            const auto it = want.find(a.address.value);
            if (it != want.end() && it->second == a.owner) {
                want.erase(it); // already there
            } else {
                ipam.release_address(n.name, a.address);
            }
        }
        for (const auto& [address, owner] : want)
            ipam.reserve_address(n.name, model::Ipv4{address}, owner);
    }
}

void allocate_vips(Ipam& work, model::Config& config, ServiceAllocations& out) {
    for (auto& s : config.services) {
        if (s.endpoint_mode != model::EndpointMode::Vip) continue;
        for (const auto& network : model::attached_networks(config, s)) {
            if (s.vips.count(network)) continue;
            const model::Ipv4 vip = work.allocate_address(network, vip_owner(s));
            s.vips[network] = vip;
            out.vips.push_back({s.name, network, vip});
        }
    }
}

void allocate_load_balancers(Ipam& work, model::Config& config, ServiceAllocations& out) {
    // Where tasks are: (network, node).
    std::set<std::pair<std::string, std::string>> needed;
    for (const auto& e : config.endpoints)
        if (!e.service.empty()) needed.insert({e.network, e.node});
    std::map<std::pair<std::string, std::string>, model::LoadBalancer> given;
    for (const auto& lb : config.load_balancers) {
        if (needed.count({lb.network, lb.node})) {
            given.emplace(std::pair{lb.network, lb.node}, lb);
        } else {
            work.release_address(lb.network, lb.ip); // no task there any more
        }
    }
    std::vector<std::string> nodes{config.node.name};
    for (const auto& p : config.peers)
        nodes.push_back(p.name);
    std::vector<model::LoadBalancer> result;
    for (const auto& n : config.networks) {
        for (const auto& node : nodes) {
            if (!needed.count({n.name, node})) continue;
            if (auto it = given.find({n.name, node}); it != given.end()) {
                result.push_back(it->second);
                continue;
            }
            model::LoadBalancer lb{n.name, node, {}, {}};
            lb.ip = work.allocate_address(n.name, load_balancer_name(lb));
            result.push_back(lb);
            out.load_balancers.push_back(lb);
        }
    }
    config.load_balancers = std::move(result);
}

ConfigFileNames ConfigFileNames::of(const model::Config& from_file) {
    ConfigFileNames names;
    for (const auto& n : from_file.networks)
        names.networks.insert(n.name);
    for (const auto& p : from_file.peers)
        names.peers.insert(p.name);
    for (const auto& e : from_file.endpoints)
        names.endpoints.insert(e.name);
    for (const auto& sv : from_file.services)
        names.services.insert(sv.name);
    return names;
}

NetworkState::NetworkState(StateSettings settings)
    : settings_(std::move(settings)), ipam_(settings_.ipam) {
    if (!settings_.new_id) settings_.new_id = random_network_id;
    if (!settings_.now) settings_.now = rfc3339_now;
}

namespace {

// Objects of `items` without an id or creation time get those of the object `match`
// finds, when its id is not taken, or new ones. The ids in use are counted once, so that
// this is linear in the number of objects.
template <typename T, typename Match, typename NewId, typename Now>
void give_identity(std::vector<T>& items, Match match, NewId new_id, Now now) {
    std::unordered_map<std::string, std::size_t> holders; // id -> objects that have it
    for (const auto& o : items)
        if (!o.id.empty()) ++holders[o.id];
    // Whether an object other than `self` has `id`.
    auto id_taken = [&](const std::string& id, const T& self) {
        auto it = holders.find(id);
        const std::size_t others = it == holders.end() ? 0 : it->second - (self.id == id ? 1 : 0);
        return others > 0;
    };
    auto set_id = [&](T& self, std::string id) {
        if (!self.id.empty()) --holders[self.id];
        self.id = std::move(id);
        ++holders[self.id];
    };
    for (auto& n : items) {
        if (!n.id.empty() && !n.created.empty()) continue;
        if (const T* m = match(n)) {
            if (n.id.empty() && !m->id.empty() && !id_taken(m->id, n)) set_id(n, m->id);
            if (n.created.empty() && n.id == m->id) n.created = m->created;
        }
        while (n.id.empty() || id_taken(n.id, n))
            set_id(n, new_id());
        if (n.created.empty()) n.created = now();
    }
}

// The addresses in use in each network of `config`, to lend only free ones.
class UsedAddresses {
public:
    explicit UsedAddresses(const model::Config& config) {
        for (const auto& n : config.networks)
            networks_[n.name] = &n;
        for (const auto& e : config.endpoints)
            used_[e.network].insert(e.ip.value);
        for (const auto& sv : config.services)
            for (const auto& [network, vip] : sv.vips)
                used_[network].insert(vip.value);
        for (const auto& lb : config.load_balancers)
            used_[lb.network].insert(lb.ip.value);
    }
    // Takes `ip` in `network` if it is a free host address there.
    bool take(const std::string& network, model::Ipv4 ip) {
        auto it = networks_.find(network);
        const model::Network* n = it == networks_.end() ? nullptr : it->second;
        if (n == nullptr || !n->subnet.contains(ip) || ip == n->gateway) return false;
        const uint32_t first = n->subnet.address.value & n->subnet.mask();
        if (ip.value == first || ip.value == (first | ~n->subnet.mask())) return false;
        return used_[network].insert(ip.value).second;
    }

private:
    std::unordered_map<std::string, const model::Network*> networks_;
    std::map<std::string, std::set<uint32_t>> used_;
};

} // namespace

void NetworkState::assign_identity(model::Config& next, const model::Config& previous) const {
    auto new_id = [this] { return this->new_id(); };
    auto now = [this] { return this->now(); };
    // The candidates by name, built once per call: `previous` first, then what the state
    // file held (the first of a name wins, as a scan in that order would find it).
    std::unordered_map<std::string, std::vector<const model::Network*>> networks_named;
    for (const auto* list : {&previous.networks, &remembered_})
        for (const auto& o : *list)
            networks_named[o.name].push_back(&o);
    give_identity(
        next.networks,
        [&](const model::Network& n) -> const model::Network* {
            auto it = networks_named.find(n.name);
            if (it == networks_named.end()) return nullptr;
            for (const model::Network* o : it->second)
                if (o->vni == n.vni && o->subnet == n.subnet) return o;
            return nullptr;
        },
        new_id, now);
    std::unordered_map<std::string, const model::Service*> services_named;
    for (const auto* list : {&previous.services, &remembered_services_})
        for (const auto& o : *list)
            services_named.emplace(o.name, &o); // keeps the first of a name
    auto previous_service = [&](const std::string& name) -> const model::Service* {
        auto it = services_named.find(name);
        return it == services_named.end() ? nullptr : it->second;
    };
    give_identity(
        next.services, [&](const model::Service& sv) { return previous_service(sv.name); }, new_id,
        now);

    // VIPs and load-balancer addresses are lent back only where they are still free, so
    // that an address the config file now gives to something else is not taken from it.
    UsedAddresses used(next);
    for (auto& sv : next.services) {
        if (sv.endpoint_mode != model::EndpointMode::Vip) continue;
        const model::Service* before = previous_service(sv.name);
        if (before == nullptr) continue;
        for (const auto& network : model::attached_networks(next, sv)) {
            auto it = before->vips.find(network);
            if (!sv.vips.count(network) && it != before->vips.end() &&
                used.take(network, it->second))
                sv.vips[network] = it->second;
        }
    }
    std::set<std::pair<std::string, std::string>> given;
    for (const auto& lb : next.load_balancers)
        given.insert({lb.network, lb.node});
    auto lend = [&](const std::vector<model::LoadBalancer>& from) {
        for (const auto& lb : from) {
            if (given.count({lb.network, lb.node}) || !used.take(lb.network, lb.ip)) continue;
            given.insert({lb.network, lb.node});
            next.load_balancers.push_back(model::LoadBalancer{lb.network, lb.node, lb.ip, {}});
        }
    };
    lend(previous.load_balancers);
    lend(remembered_load_balancers_);
}

ServiceAllocations NetworkState::prepare(model::Config& next, const model::Config& previous,
                                         Ipam& work) const {
    assign_identity(next, previous);
    // Lent load balancers of nodes that are gone are dropped before IPAM sees them.
    std::set<std::string> nodes{next.node.name};
    for (const auto& p : next.peers)
        nodes.insert(p.name);
    std::erase_if(next.load_balancers,
                  [&](const model::LoadBalancer& lb) { return !nodes.count(lb.node); });
    reconcile(work, next);
    ServiceAllocations out;
    allocate_vips(work, next, out);
    allocate_load_balancers(work, next, out);
    return out;
}

void NetworkState::update_lb_indexes(const model::Config& running) {
    std::set<std::pair<std::string, std::string>> live;
    for (const auto& e : running.endpoints) {
        if (e.service.empty()) continue;
        const auto key = std::pair{e.service, e.network};
        live.insert(key);
        if (!lb_indexes_.count(key)) lb_indexes_[key] = next_lb_index_++;
    }
    std::erase_if(lb_indexes_, [&](const auto& entry) { return !live.count(entry.first); });
}

namespace {

// "FILE:LINE:COLUMN: KIND[I]: KIND 'F' conflicts with KIND 'A' (...) VERB over the control
// socket (WHERE): WHY".
template <typename File, typename Kept>
ConfigError clash(const File& file_object, const char* list, std::size_t index, const char* kind,
                  const Kept& kept, const std::string& where, const std::string& why,
                  const char* kept_kind = nullptr) {
    return ConfigError(fmt::format("{}{}[{}]: {} '{}' conflicts with {} '{}' ({}) {} over the "
                                   "control socket{}: {}",
                                   position(file_object.origin), list, index, kind,
                                   file_object.name, kept_kind != nullptr ? kept_kind : kind,
                                   kept.name, describe(kept), arrival(kept), where, why));
}

// A kept object that the validator rejects once merged (its network, node or port is gone,
// its address no longer fits...): named, with the config file, instead of by its index.
template <typename T>
void rethrow_for_kept(const ErrorInfo& error, const std::vector<T>& merged, std::size_t from_file,
                      std::size_t index, const char* kind, const std::string& where,
                      const std::string& config_file) {
    if (index < from_file || index >= merged.size()) return;
    const T& kept = merged[index];
    ErrorInfo info;
    info.kind = error.kind;
    info.object = kind;
    info.name = kept.name;
    info.conflict = error.conflict;
    const std::string reason =
        error.field.empty() ? error.reason : fmt::format("{}: {}", error.field, error.reason);
    info.reason = fmt::format("{} '{}' ({}) {} over the control socket{} cannot be kept with the "
                              "config file{}: {}",
                              kind, kept.name, describe(kept), arrival(kept), where,
                              config_file.empty() ? "" : " " + config_file, reason);
    throw ConfigError(std::move(info));
}

} // namespace

SocketObjects NetworkState::socket_objects(const model::Config& running) const {
    SocketObjects kept;
    for (const auto& n : running.networks)
        if (!file_names_.networks.count(n.name)) kept.networks.push_back(n);
    for (const auto& p : running.peers)
        if (!file_names_.peers.count(p.name)) kept.peers.push_back(p);
    for (const auto& e : running.endpoints)
        if (!file_names_.endpoints.count(e.name)) kept.endpoints.push_back(e);
    for (const auto& sv : running.services)
        if (!file_names_.services.count(sv.name)) kept.services.push_back(sv);
    return kept;
}

model::Config NetworkState::merge(const model::Config& from_file, SocketObjects kept,
                                  const std::string& where) const {
    model::Config merged = from_file;
    // Kept objects are named by where they were kept, not by the request that brought them.
    const model::Origin kept_origin{settings_.path, 0, 0};

    for (auto& a : kept.networks) {
        bool adopted = false;
        for (std::size_t i = 0; i < from_file.networks.size(); ++i) {
            const model::Network& f = from_file.networks[i];
            std::string why;
            if (f.name == a.name) {
                if (f.vni == a.vni && f.subnet == a.subnet && f.gateway == a.gateway) {
                    adopted = true; // the file now describes it
                    continue;
                }
                why = fmt::format("same name, but the config file says {}", describe(f));
            } else if (f.vni == a.vni) {
                why = fmt::format("both use VNI {}", f.vni);
            } else if (overlap(f.subnet, a.subnet)) {
                why = fmt::format("subnets {} and {} overlap", format_prefix(f.subnet),
                                  format_prefix(a.subnet));
            } else if (f.ingress && a.ingress) {
                why = "both are ingress networks";
            } else {
                continue;
            }
            throw clash(f, "networks", i, "network", a, where, why);
        }
        a.origin = kept_origin;
        if (!adopted) merged.networks.push_back(a);
    }

    const model::Node& node = from_file.node;
    std::unordered_map<std::string, std::size_t> peer_by_name;
    std::unordered_map<uint32_t, std::size_t> peer_by_address;
    for (std::size_t i = 0; i < from_file.peers.size(); ++i) {
        peer_by_name.emplace(from_file.peers[i].name, i);
        peer_by_address.emplace(from_file.peers[i].address.value, i);
    }
    for (auto& a : kept.peers) {
        if (a.name == node.name || a.address == node.data_path_addr) {
            throw ConfigError(fmt::format(
                "{}node: this node '{}' (data_path_addr {}) conflicts with peer '{}' ({}) added "
                "over the control socket{}: {}",
                position(node.origin), node.name, format_ipv4(node.data_path_addr), a.name,
                describe(a), where, a.name == node.name ? "same name" : "same address"));
        }
        std::optional<std::size_t> same_name;
        if (auto it = peer_by_name.find(a.name); it != peer_by_name.end()) same_name = it->second;
        if (same_name && from_file.peers[*same_name].address == a.address) continue; // adopted
        if (same_name) {
            const model::Peer& f = from_file.peers[*same_name];
            throw clash(f, "peers", *same_name, "peer", a, where,
                        fmt::format("same name, but the config file says {}", describe(f)));
        }
        if (auto it = peer_by_address.find(a.address.value); it != peer_by_address.end()) {
            throw clash(from_file.peers[it->second], "peers", it->second, "peer", a, where,
                        fmt::format("both have address {}", format_ipv4(a.address)));
        }
        a.origin = kept_origin;
        merged.peers.push_back(a);
    }

    // The config file's endpoints by name, (network, IP), (network, MAC) and (node, port,
    // MAC): linear in the number of endpoints, as the validator is.
    std::unordered_map<std::string, std::size_t> by_name;
    std::map<std::pair<std::string, uint32_t>, std::size_t> by_ip;
    std::map<std::pair<std::string, std::string>, std::size_t> by_mac, by_port_mac;
    for (std::size_t i = 0; i < from_file.endpoints.size(); ++i) {
        const model::Endpoint& f = from_file.endpoints[i];
        const std::string mac = model::format_mac(f.mac);
        by_name.emplace(f.name, i);
        by_ip.emplace(std::pair{f.network, f.ip.value}, i);
        by_mac.emplace(std::pair{f.network, mac}, i);
        if (!f.port.empty()) by_port_mac.emplace(std::pair{f.node + "/" + f.port, mac}, i);
    }
    for (auto& a : kept.endpoints) {
        const std::string mac = model::format_mac(a.mac);
        if (auto it = by_name.find(a.name); it != by_name.end()) {
            const model::Endpoint& f = from_file.endpoints[it->second];
            if (same_endpoint(f, a)) continue; // adopted: the file now describes it
            throw clash(f, "endpoints", it->second, "endpoint", a, where,
                        fmt::format("same name, but the config file says {}", describe(f)));
        }
        if (auto it = by_ip.find({a.network, a.ip.value}); it != by_ip.end()) {
            throw clash(
                from_file.endpoints[it->second], "endpoints", it->second, "endpoint", a, where,
                fmt::format("both use IP {} in network '{}'", format_ipv4(a.ip), a.network));
        }
        if (auto it = by_mac.find({a.network, mac}); it != by_mac.end()) {
            throw clash(from_file.endpoints[it->second], "endpoints", it->second, "endpoint", a,
                        where, fmt::format("both use MAC {} in network '{}'", mac, a.network));
        }
        if (auto it = by_port_mac.find({a.node + "/" + a.port, mac});
            !a.port.empty() && it != by_port_mac.end()) {
            throw clash(from_file.endpoints[it->second], "endpoints", it->second, "endpoint", a,
                        where, fmt::format("both use MAC {} on port '{}'", mac, a.port));
        }
        a.origin = kept_origin;
        merged.endpoints.push_back(a);
    }

    std::unordered_map<std::string, std::size_t> service_by_name;
    for (std::size_t i = 0; i < from_file.services.size(); ++i)
        service_by_name.emplace(from_file.services[i].name, i);
    for (auto& a : kept.services) {
        if (auto it = service_by_name.find(a.name); it != service_by_name.end()) {
            const model::Service& f = from_file.services[it->second];
            if (same_service(f, a)) continue; // adopted; its VIPs are lent back
            throw clash(f, "services", it->second, "service", a, where,
                        fmt::format("same name, but the config file says {}", describe(f)));
        }
        // A VIP of a kept service that the config file gives an endpoint.
        for (const auto& [network, vip] : a.vips) {
            if (auto it = by_ip.find({network, vip.value}); it != by_ip.end()) {
                throw clash(from_file.endpoints[it->second], "endpoints", it->second, "endpoint", a,
                            where,
                            fmt::format("both use IP {} in network '{}' (the service's VIP)",
                                        format_ipv4(vip), network),
                            "service");
            }
        }
        a.origin = kept_origin;
        merged.services.push_back(a);
    }

    // What is left is what the config file's objects do not show directly: a kept object
    // whose network, node, port or service is gone, whose address no longer fits its
    // network, or whose published port the config file's services now use. (With nothing
    // kept, `merged` is the config file's configuration, which its loading validated.)
    const bool nothing_kept = merged.networks.size() == from_file.networks.size() &&
                              merged.peers.size() == from_file.peers.size() &&
                              merged.endpoints.size() == from_file.endpoints.size() &&
                              merged.services.size() == from_file.services.size();
    if (nothing_kept) return merged;
    try {
        validate_config(merged);
    } catch (const ConfigError& e) {
        const ErrorInfo& info = e.info();
        if (info.index) {
            const std::size_t index = *info.index;
            const std::string& file = from_file.node.origin.file;
            if (info.list == "networks")
                rethrow_for_kept(info, merged.networks, from_file.networks.size(), index, "network",
                                 where, file);
            if (info.list == "peers")
                rethrow_for_kept(info, merged.peers, from_file.peers.size(), index, "peer", where,
                                 file);
            if (info.list == "endpoints")
                rethrow_for_kept(info, merged.endpoints, from_file.endpoints.size(), index,
                                 "endpoint", where, file);
            if (info.list == "services")
                rethrow_for_kept(info, merged.services, from_file.services.size(), index, "service",
                                 where, file);
        }
        throw;
    }
    return merged;
}

namespace {

// A list of the state file's objects (JSON) that journal records change by name.
class NamedList {
public:
    NamedList(json& list, std::function<std::string(const json&)> key)
        : list_(list), key_(std::move(key)) {
        for (std::size_t i = 0; i < list_.size(); ++i)
            at_.emplace(key_(list_[i]), i);
    }
    void remove(const std::string& key) {
        if (auto it = at_.find(key); it != at_.end()) {
            list_[it->second] = nullptr; // dropped by done(), so that positions stay
            at_.erase(it);
        }
    }
    void add(const json& object) {
        at_[key_(object)] = list_.size();
        list_.push_back(object);
    }
    void done() {
        json kept = json::array();
        for (json& o : list_)
            if (!o.is_null()) kept.push_back(std::move(o));
        list_ = std::move(kept);
    }

private:
    json& list_;
    std::function<std::string(const json&)> key_;
    std::unordered_map<std::string, std::size_t> at_;
};

std::string text_of(const json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string())
        throw std::runtime_error(fmt::format("{}: missing or not a string", key));
    return it->get<std::string>();
}

} // namespace

uint64_t NetworkState::replay_journal(const std::string& text, uint64_t written, json& doc) {
    auto name = [](const json& o) { return o.is_object() ? text_of(o, "name") : std::string(); };
    auto lb = [](const json& o) {
        return o.is_object() ? text_of(o, "network") + '\n' + text_of(o, "node") : std::string();
    };
    NamedList peers(doc["peers"], name), endpoints(doc["endpoints"], name),
        load_balancers(doc["load_balancers"], lb);
    uint64_t last = written;
    std::size_t line_no = 0;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = text.find('\n', at);
        // A last record without its newline was being written when vxmesh stopped: it was
        // never acknowledged.
        if (end == std::string::npos) break;
        ++line_no;
        const std::string_view line(text.data() + at, end - at);
        at = end + 1;
        json record;
        try {
            record = json::parse(line);
        } catch (const json::exception& e) {
            throw std::runtime_error(fmt::format("record {}: {}", line_no, e.what()));
        }
        if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() ||
            !record.contains("change") || !record["change"].is_object())
            throw std::runtime_error(fmt::format("record {}: not a change record", line_no));
        const uint64_t seq = record["seq"].get<uint64_t>();
        if (seq <= written) continue; // already in the state file
        last = std::max(last, seq);
        const json& c = record["change"];
        auto each = [&](const char* key, auto apply) {
            if (!c.contains(key)) return;
            if (!c[key].is_array())
                throw std::runtime_error(fmt::format("record {}: {}: not a list", line_no, key));
            for (const json& item : c[key]) {
                try {
                    apply(item);
                } catch (const std::exception& e) {
                    throw std::runtime_error(
                        fmt::format("record {}: {}: {}", line_no, key, e.what()));
                }
            }
        };
        auto text = [](const json& item) {
            if (!item.is_string()) throw std::runtime_error("not a name");
            return item.get<std::string>();
        };
        each("removed_peers", [&](const json& i) { peers.remove(text(i)); });
        each("removed_endpoints", [&](const json& i) { endpoints.remove(text(i)); });
        each("removed_load_balancers", [&](const json& i) { load_balancers.remove(lb(i)); });
        each("added_peers", [&](const json& i) { peers.add(i); });
        each("added_endpoints", [&](const json& i) { endpoints.add(i); });
        each("added_load_balancers", [&](const json& i) { load_balancers.add(i); });
    }
    peers.done();
    endpoints.done();
    load_balancers.done();
    return last;
}

model::Config NetworkState::restore(const model::Config& from_file) {
    const std::string& path = settings_.path;
    std::vector<model::Network> stored;
    std::set<std::string> stored_file_networks;
    SocketObjects kept;
    bool exists = false;
    const std::string text = path.empty() ? std::string() : read_text(path, exists);
    if (exists) {
        auto corrupt = [&](const std::string& why) {
            return std::runtime_error(fmt::format("{}: corrupt state file: {}", path, why));
        };
        json state;
        if (json_nesting_exceeds(text, max_request_depth))
            throw corrupt(fmt::format("nested deeper than {} levels", max_request_depth));
        try {
            state = json::parse(text);
        } catch (const json::exception& e) {
            throw corrupt(e.what());
        }
        if (!state.is_object()) throw corrupt("not a JSON object");
        if (!state.contains("version") || state["version"] != kStateVersion)
            throw corrupt(fmt::format("version: not {}", kStateVersion));
        for (const char* key : {"networks", "config_file_networks"}) {
            if (!state.contains(key) || !state[key].is_array())
                throw corrupt(fmt::format("{}: missing or not a list", key));
        }
        // Written by vxmesh before it kept peers, endpoints and services: none to restore.
        for (const char* key :
             {"peers", "endpoints", "services", "config_file_services", "load_balancers"}) {
            if (state.contains(key) && !state[key].is_array())
                throw corrupt(fmt::format("{}: not a list", key));
        }
        std::set<std::string> stored_file_services;
        for (const json& name : state.value("config_file_services", json::array())) {
            if (!name.is_string()) throw corrupt("config_file_services: not a list of names");
            stored_file_services.insert(name.get<std::string>());
        }
        for (const json& name : state["config_file_networks"]) {
            if (!name.is_string()) throw corrupt("config_file_networks: not a list of names");
            stored_file_networks.insert(name.get<std::string>());
        }
        // The networks are validated by the config loader, in a document of their own.
        json doc = {{"node", config_to_json(from_file)["node"]}, {"networks", state["networks"]}};
        try {
            stored = load_config_json(doc).networks;
            for (auto& n : stored)
                n.origin = model::Origin{path, 0, 0};
        } catch (const ConfigError& e) {
            throw corrupt(e.info().message());
        }
        // Peers, endpoints, services and load balancers refer to the config file's
        // objects: their form is checked here, the rest once they are merged with it.
        json kept_doc = {{"node", doc["node"]},
                         {"peers", state.value("peers", json::array())},
                         {"endpoints", state.value("endpoints", json::array())},
                         {"services", state.value("services", json::array())},
                         {"load_balancers", state.value("load_balancers", json::array())}};
        // The journal's changes since the file was written, made to the kept objects
        // before they are read.
        uint64_t written = 0;
        if (state.contains("journal")) {
            if (!state["journal"].is_number_unsigned())
                throw corrupt("journal: not a record number");
            written = state["journal"].get<uint64_t>();
        }
        journal_seq_ = written;
        bool journal_exists = false;
        const std::string journal = read_text(journal_path(), journal_exists);
        try {
            journal_seq_ = replay_journal(journal, written, kept_doc);
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(
                fmt::format("{}: corrupt journal: {}", journal_path(), e.what()));
        }
        journal_bytes_ = journal.size();
        try {
            const model::Config objects = parse_config_json(kept_doc);
            kept.peers = objects.peers;
            kept.endpoints = objects.endpoints;
            for (const auto& sv : objects.services)
                if (!stored_file_services.count(sv.name)) kept.services.push_back(sv);
            remembered_services_ = objects.services;
            remembered_load_balancers_ = objects.load_balancers;
        } catch (const ConfigError& e) {
            throw corrupt(e.info().message());
        }
        if (!state.contains("ipam") || !state["ipam"].is_object())
            throw corrupt("ipam: missing or not an object");
        Ipam check(settings_.ipam);
        check.from_json(state["ipam"].dump(), path); // throws "PATH: corrupt IPAM state: ..."
    }

    for (const auto& n : stored)
        if (!stored_file_networks.count(n.name)) kept.networks.push_back(n);
    model::Config merged = merge(from_file, std::move(kept), fmt::format(" (state file {})", path));
    remembered_ = stored;
    Ipam fresh(settings_.ipam);
    try {
        prepare(merged, model::Config{}, fresh);
    } catch (const IpamError& e) {
        throw std::runtime_error(fmt::format("IPAM rejects the configuration: {}", e.what()));
    }
    // The validation's own index is the model's: built once at start-up, not twice.
    ModelIndex checked = ModelIndex::validate(merged);
    // The state file's services and load balancers were lent to the objects restored with
    // it; once those are running, a service or load balancer that comes later is new to
    // IPAM (as Docker's: a new id, and freed addresses back only after the serial cursor
    // wraps).
    remembered_services_.clear();
    remembered_load_balancers_.clear();
    ipam_ = std::move(fresh);
    index_ = std::move(checked);
    index_valid_ = true;
    file_names_ = ConfigFileNames::of(from_file);
    update_lb_indexes(merged);
    // What the file holds already needs no saving (a read-only directory is then no
    // reason to refuse the start); a save that fails is said and the start goes on, as a
    // failed save at run time is a warning, not a refusal.
    if (exists) saved_ = text;
    if (!path.empty()) try_save(merged, "at start-up");
    return merged;
}

std::vector<std::string> NetworkState::reload(ControlPlane& plane, const model::Config& from_file) {
    const std::string where =
        settings_.path.empty() ? std::string() : fmt::format(" (state file {})", settings_.path);
    model::Config next = merge(from_file, socket_objects(plane.config()), where);
    Ipam work = ipam_;
    prepare(next, plane.config(), work);
    const ConfigFileNames names = ConfigFileNames::of(from_file);
    return commit_with(plane, next, std::move(work), false, &names);
}

std::vector<std::string> NetworkState::commit(ControlPlane& plane, const model::Config& next,
                                              Ipam work, bool dry_run) {
    return commit_with(plane, next, std::move(work), dry_run, nullptr);
}

std::vector<std::string> NetworkState::commit_with(ControlPlane& plane, const model::Config& next,
                                                   Ipam work, bool dry_run,
                                                   const ConfigFileNames* file_names) {
    reconcile(work, next);
    if (dry_run) return {};
    plane.apply(next);
    ipam_ = std::move(work);
    // Built now, so that the next attach does not pay for it.
    index_ = ModelIndex::of(next);
    index_valid_ = true;
    if (file_names != nullptr) file_names_ = *file_names;
    update_lb_indexes(next);
    changes_++;
    if (settings_.path.empty()) return {};
    full_save_due_ = true; // a whole change is written whole, not journaled
    if (settings_.group_commit) {
        unsaved_ = true; // saved by flush(), before the change is acknowledged
        return {};
    }
    if (std::string error = try_save_due(plane.config(), "after a change"); !error.empty())
        return {unsaved_warning(error)};
    return {};
}

std::string NetworkState::unsaved_warning(const std::string& error) {
    return fmt::format("applied, but not kept across a restart: {}", error);
}

std::string NetworkState::flush(const model::Config& running) {
    if (!unsaved_ || settings_.path.empty()) return {};
    if (std::string error = try_save_due(running, "after a change"); !error.empty())
        return unsaved_warning(error);
    unsaved_ = false;
    return {};
}

std::string NetworkState::try_save(const model::Config& running, const char* when) {
    return attempt([&] { save(running); }, when);
}

std::string NetworkState::attempt(const std::function<void()>& write, const char* when) {
    try {
        write();
        return {};
    } catch (const std::exception& e) {
        if (settings_.log)
            settings_.log(fmt::format("warning: state not saved {}: {}; what runs is not kept "
                                      "across a restart until a save succeeds",
                                      when, e.what()));
        return e.what();
    }
}

std::string NetworkState::state_json(const model::Config& running) const {
    json state;
    state["version"] = kStateVersion;
    state["journal"] = journal_seq_; // the journal's records up to this one are in here
    json networks = json::array();
    json from_file = json::array();
    for (const auto& n : running.networks) {
        networks.push_back(network_to_json(n));
        if (file_names_.networks.count(n.name)) from_file.push_back(n.name);
    }
    state["config_file_networks"] = from_file;
    state["networks"] = networks;
    // Peers and endpoints: only those that came over the socket (the config file says
    // what its own are), with the addresses and MACs they were given.
    const SocketObjects kept = socket_objects(running);
    json peers = json::array(), endpoints = json::array();
    for (const auto& p : kept.peers)
        peers.push_back(peer_to_json(p));
    for (const auto& e : kept.endpoints)
        endpoints.push_back(endpoint_to_json(e));
    state["peers"] = peers;
    state["endpoints"] = endpoints;
    // Every service and load balancer, as networks: the config file's services get their
    // ids and VIPs back from here, and load balancers are IPAM's to hand out.
    json services = json::array(), file_services = json::array(), load_balancers = json::array();
    for (const auto& sv : running.services) {
        services.push_back(service_to_json(sv));
        if (file_names_.services.count(sv.name)) file_services.push_back(sv.name);
    }
    for (const auto& lb : running.load_balancers)
        load_balancers.push_back(load_balancer_to_json(lb));
    state["services"] = services;
    state["config_file_services"] = file_services;
    state["load_balancers"] = load_balancers;
    // IPAM's networks in its own format. Addresses are left out: they are the endpoints'
    // (the config file's and those above), reserved again when IPAM is rebuilt at start-up.
    json ipam = json::parse(ipam_.to_json());
    for (json& n : ipam["networks"])
        n["addresses"] = json::array();
    state["ipam"] = ipam;
    return state.dump(2) + "\n";
}

void NetworkState::save(const model::Config& running) {
    const std::string& path = settings_.path;
    std::string text = state_json(running);
    if (text != saved_) { // unchanged: no need to write (and fsync) it again
        const auto dir = std::filesystem::path(path).parent_path();
        std::error_code ec;
        if (!dir.empty()) std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw std::runtime_error(fmt::format("cannot save state {}: mkdir {}: {}", path,
                                                 dir.string(), ec.message()));
        }
        write_file_atomically(path, text, "state");
        saved_ = std::move(text);
    }
    // The file holds every change up to journal_seq_: the journal's records are done with.
    pending_journal_.clear();
    full_save_due_ = false;
    if (journal_bytes_ > 0 || !journal_ready_) {
        // Emptied, or made, here: a journal made by the first append after a save would
        // need its directory synced before that append could be acknowledged (and the
        // file's creation cost the first attach after an apply 10-20 ms).
        const std::string journal = journal_path();
        journal_ready_ = false;
        const int fd = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ::fdatasync(fd) != 0) {
            const std::string why = std::strerror(errno);
            if (fd >= 0) ::close(fd);
            throw std::runtime_error(fmt::format("cannot empty the journal {}: {}", journal, why));
        }
        ::close(fd);
        const auto dir = std::filesystem::path(journal).parent_path();
        const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || ::fsync(dfd) != 0) {
            const std::string why = std::strerror(errno);
            if (dfd >= 0) ::close(dfd);
            throw std::runtime_error(fmt::format("cannot sync {}: {}", dir.string(), why));
        }
        ::close(dfd);
        journal_bytes_ = 0;
        journal_ready_ = true;
    }
}

} // namespace vxmesh::control

// ---------------------------------------------------------------------------------------
// Typed changes and the journal

namespace vxmesh::control {

namespace {

// What a refused typed operation says, at "ops[N]" and the field given.
[[noreturn]] void op_error(const TypedOp& op, ErrorKind kind, const std::string& within,
                           const std::string& reason, const std::string& object = "",
                           const std::string& name = "") {
    ErrorInfo info;
    info.kind = kind;
    info.object = object;
    info.name = name;
    info.list = "ops";
    info.index = op.op;
    info.within = within;
    info.reason = reason;
    throw ConfigError(std::move(info));
}

const char* kind_name(TypedOp::Kind kind) {
    return kind == TypedOp::Kind::Endpoint ? "endpoint" : "peer";
}

// The endpoints on `node`, by name, for a message (an error path: a scan is fine).
std::string endpoints_on(const model::Config& config, const ConfigChange& change,
                         const std::string& node) {
    std::set<std::string> gone;
    for (const auto& e : change.removed_endpoints)
        gone.insert(e.name);
    std::vector<std::string> names;
    for (const auto& e : config.endpoints)
        if (e.node == node && !gone.count(e.name)) names.push_back(e.name);
    for (const auto& e : change.added_endpoints)
        if (e.node == node) names.push_back(e.name);
    return fmt::format("{}", fmt::join(names, ", "));
}

// An object a change removes: an addition of the same change is taken back, anything
// else is recorded as removed.
template <typename T>
void record_removal(std::vector<T>& added, std::vector<T>& removed, const T& object) {
    auto it =
        std::find_if(added.begin(), added.end(), [&](const T& a) { return a.name == object.name; });
    if (it != added.end())
        added.erase(it);
    else
        removed.push_back(object);
}

json change_record(uint64_t seq, const ConfigChange& c) {
    json out = json::object();
    auto names = [](const auto& list) {
        json a = json::array();
        for (const auto& o : list)
            a.push_back(o.name);
        return a;
    };
    auto objects = [](const auto& list, auto to_json) {
        json a = json::array();
        for (const auto& o : list)
            a.push_back(to_json(o));
        return a;
    };
    if (!c.removed_peers.empty()) out["removed_peers"] = names(c.removed_peers);
    if (!c.removed_endpoints.empty()) out["removed_endpoints"] = names(c.removed_endpoints);
    if (!c.removed_load_balancers.empty()) {
        json a = json::array();
        for (const auto& lb : c.removed_load_balancers)
            a.push_back({{"network", lb.network}, {"node", lb.node}});
        out["removed_load_balancers"] = a;
    }
    if (!c.added_peers.empty()) out["added_peers"] = objects(c.added_peers, peer_to_json);
    if (!c.added_endpoints.empty())
        out["added_endpoints"] = objects(c.added_endpoints, endpoint_to_json);
    if (!c.added_load_balancers.empty())
        out["added_load_balancers"] = objects(c.added_load_balancers, load_balancer_to_json);
    return {{"seq", seq}, {"change", out}};
}

} // namespace

const ModelIndex& NetworkState::index(const ControlPlane& plane) {
    if (!index_valid_) {
        // IPAM too is made to hold the configuration, as a whole change would (it already
        // does whenever vxmesh made the configuration itself).
        Ipam fresh = ipam_;
        reconcile(fresh, plane.config());
        ipam_ = std::move(fresh);
        index_ = ModelIndex::of(plane.config());
        index_valid_ = true;
    }
    return index_;
}

ChangeOutcome NetworkState::change(ControlPlane& plane, const std::vector<TypedOp>& ops,
                                   bool dry_run) {
    index(plane);
    const model::Config& current = plane.config();
    const RuleContext ctx{current, nullptr};
    ConfigChange change;
    ChangeOutcome out;
    // Everything done to IPAM and the index, undone in reverse when the change is refused.
    std::vector<std::function<void()>> undo;
    auto rollback = [&] {
        for (auto it = undo.rbegin(); it != undo.rend(); ++it)
            (*it)();
    };
    // (network, node) pairs whose tasks changed, in the order first seen.
    std::vector<std::pair<std::string, std::string>> task_places;
    auto task_place = [&](const model::Endpoint& e) {
        if (e.service.empty()) return;
        std::pair place{e.network, e.node};
        if (std::find(task_places.begin(), task_places.end(), place) == task_places.end())
            task_places.push_back(std::move(place));
    };
    auto ipam_step = [&](const TypedOp& op, const std::string& field, auto step) {
        try {
            step();
        } catch (const IpamError& e) {
            op_error(op, e.kind(), field, e.what());
        }
    };
    try {
        for (const TypedOp& op : ops) {
            const char* kind = kind_name(op.kind);
            if (op.action == TypedOp::Action::Remove) {
                if (op.kind == TypedOp::Kind::Endpoint) {
                    const model::Endpoint* found = index_.endpoint(op.name);
                    if (found == nullptr)
                        op_error(op, ErrorKind::NotFound, "name",
                                 fmt::format("no endpoint '{}'", op.name), kind, op.name);
                    const model::Endpoint e = *found;
                    record_removal(change.added_endpoints, change.removed_endpoints, e);
                    ipam_.release_address(e.network, e.ip);
                    undo.push_back([this, e] {
                        ipam_.reserve_address(e.network, e.ip, e.name);
                        index_.add(e);
                    });
                    index_.remove_endpoint(e.name);
                    task_place(e);
                } else {
                    const model::Peer* found = index_.peer(op.name);
                    if (found == nullptr)
                        op_error(op, ErrorKind::NotFound, "name",
                                 fmt::format("no peer '{}'", op.name), kind, op.name);
                    if (index_.endpoints_on(op.name) > 0)
                        op_error(op, ErrorKind::InUse, "",
                                 fmt::format("peer '{}' is in use by endpoint(s): {}", op.name,
                                             endpoints_on(current, change, op.name)),
                                 kind, op.name);
                    const model::Peer p = *found;
                    record_removal(change.added_peers, change.removed_peers, p);
                    undo.push_back([this, p] { index_.add(p); });
                    index_.remove_peer(p.name);
                }
                continue;
            }
            const std::string name = op.object["name"];
            const Place at{"ops", op.op, "object"};
            if (op.kind == TypedOp::Kind::Peer) {
                if (index_.peer(name) != nullptr)
                    op_error(op, ErrorKind::Exists, "object.name",
                             fmt::format("peer '{}' already exists", name), kind, name);
                model::Peer p = read_peer_json(op.object, at);
                index_.check_peer(p, at, ctx);
                index_.add(p);
                undo.push_back([this, name] { index_.remove_peer(name); });
                change.added_peers.push_back(std::move(p));
                continue;
            }
            if (index_.endpoint(name) != nullptr)
                op_error(op, ErrorKind::Exists, "object.name",
                         fmt::format("endpoint '{}' already exists", name), kind, name);
            json object = op.object;
            bool allocated = false;
            if (!object.contains("ip") || object["ip"].is_null()) {
                // Docker's order: the tasks' addresses, serially, as they come.
                if (!object.contains("network") || object["network"].is_null())
                    op_error(op, ErrorKind::Missing, "object", "missing required field 'network'",
                             kind, name);
                if (!object["network"].is_string())
                    op_error(
                        op, ErrorKind::Type, "object.network",
                        fmt::format("expected a network name, got {}", object["network"].dump()),
                        kind, name);
                const std::string network = object["network"];
                if (index_.network(network) == nullptr)
                    op_error(op, ErrorKind::Unknown, "object.network",
                             fmt::format("unknown network '{}'", network), kind, name);
                const std::vector<uint64_t> cursors = ipam_.cursors(network);
                model::Ipv4 ip;
                ipam_step(op, "object.ip", [&] { ip = ipam_.allocate_address(network, name); });
                undo.push_back([this, network, ip, cursors] {
                    ipam_.release_address(network, ip);
                    ipam_.restore_cursors(network, cursors);
                });
                object["ip"] = model::format_ipv4(ip);
                allocated = true;
            }
            model::Endpoint e = read_endpoint_json(object, at);
            if (allocated) {
                // Its address was free in IPAM; the rules still check the rest.
                index_.check_endpoint(e, at, ctx);
                out.allocated.push_back({{"name", e.name},
                                         {"network", e.network},
                                         {"ip", model::format_ipv4(e.ip)},
                                         {"mac", model::format_mac(e.mac)}});
            } else {
                index_.check_endpoint(e, at, ctx);
                ipam_step(op, "object.ip", [&] { ipam_.reserve_address(e.network, e.ip, e.name); });
                undo.push_back([this, e] { ipam_.release_address(e.network, e.ip); });
            }
            index_.add(e);
            undo.push_back([this, name] { index_.remove_endpoint(name); });
            task_place(e);
            change.added_endpoints.push_back(std::move(e));
        }

        // Load balancers follow the tasks: a node's goes with its last task on a network,
        // and one comes, after the tasks' addresses, where its first task appears (networks
        // in their order, this node before the peers, as allocate_load_balancers()).
        std::vector<model::LoadBalancer> wanted;
        for (const auto& [network, node] : task_places) {
            const model::LoadBalancer* lb = index_.load_balancer(network, node);
            const bool tasks = index_.tasks_at(network, node) > 0;
            if (!tasks && lb != nullptr) {
                const model::LoadBalancer gone = *lb;
                change.removed_load_balancers.push_back(gone);
                ipam_.release_address(gone.network, gone.ip);
                index_.remove_load_balancer(gone.network, gone.node);
                undo.push_back([this, gone] {
                    ipam_.reserve_address(gone.network, gone.ip, load_balancer_name(gone));
                    index_.add(gone);
                });
            } else if (tasks && lb == nullptr) {
                wanted.push_back(model::LoadBalancer{network, node, {}, {}});
            }
        }
        if (!wanted.empty()) {
            auto network_rank = [&](const std::string& n) {
                for (std::size_t i = 0; i < current.networks.size(); ++i)
                    if (current.networks[i].name == n) return i;
                return current.networks.size();
            };
            auto node_rank = [&](const std::string& n) -> std::size_t {
                if (n == current.node.name) return 0;
                for (std::size_t i = 0; i < current.peers.size(); ++i)
                    if (current.peers[i].name == n) return i + 1;
                for (std::size_t i = 0; i < change.added_peers.size(); ++i)
                    if (change.added_peers[i].name == n) return current.peers.size() + i + 1;
                return SIZE_MAX;
            };
            std::stable_sort(wanted.begin(), wanted.end(), [&](const auto& a, const auto& b) {
                return std::pair{network_rank(a.network), node_rank(a.node)} <
                       std::pair{network_rank(b.network), node_rank(b.node)};
            });
            for (model::LoadBalancer& lb : wanted) {
                const std::vector<uint64_t> cursors = ipam_.cursors(lb.network);
                try {
                    lb.ip = ipam_.allocate_address(lb.network, load_balancer_name(lb));
                } catch (const IpamError& e) {
                    ErrorInfo info;
                    info.kind = e.kind();
                    info.object = "load_balancer";
                    info.name = load_balancer_name(lb);
                    info.reason = fmt::format("IPAM: {}", e.what());
                    throw ConfigError(std::move(info));
                }
                undo.push_back([this, lb, cursors] {
                    ipam_.release_address(lb.network, lb.ip);
                    ipam_.restore_cursors(lb.network, cursors);
                    index_.remove_load_balancer(lb.network, lb.node);
                });
                index_.add(lb);
                change.added_load_balancers.push_back(lb);
                out.load_balancers.push_back(lb);
            }
        }

        if (!dry_run) plane.apply_change(change);
    } catch (...) {
        rollback();
        throw;
    }

    // What changed, as config_diff() says it: kind by kind, removals (an object removed
    // and added again is an update) then additions, each by name.
    auto list = [&](const char* kind, const auto& removed, const auto& added, auto key) {
        std::map<std::string, const void*> before, after;
        std::map<std::string, bool> same;
        for (const auto& o : removed)
            before[key(o)] = &o;
        for (const auto& o : added) {
            after[key(o)] = &o;
            if (auto it = before.find(key(o)); it != before.end())
                same[key(o)] = *static_cast<const std::decay_t<decltype(o)>*>(it->second) == o;
        }
        for (const auto& [name, p] : before) {
            if (!after.count(name))
                out.changes.push_back({{"action", "remove"}, {"kind", kind}, {"name", name}});
            else if (!same[name])
                out.changes.push_back({{"action", "update"}, {"kind", kind}, {"name", name}});
        }
        for (const auto& [name, p] : after)
            if (!before.count(name))
                out.changes.push_back({{"action", "add"}, {"kind", kind}, {"name", name}});
    };
    auto by_name = [](const auto& o) { return o.name; };
    list("peer", change.removed_peers, change.added_peers, by_name);
    list("endpoint", change.removed_endpoints, change.added_endpoints, by_name);
    list("load_balancer", change.removed_load_balancers, change.added_load_balancers,
         [](const model::LoadBalancer& lb) { return load_balancer_name(lb); });
    if (dry_run) {
        rollback();
        return out;
    }

    // Docker's LB indexes: a (service, network) takes the next mark with its first task
    // and gives it up with its last, as update_lb_indexes() finds them.
    for (const auto& e : change.added_endpoints) {
        if (e.service.empty()) continue;
        if (lb_indexes_.try_emplace(std::pair{e.service, e.network}, next_lb_index_).second)
            ++next_lb_index_;
    }
    for (const auto& e : change.removed_endpoints)
        if (!e.service.empty() && index_.tasks_of(e.service, e.network) == 0)
            lb_indexes_.erase({e.service, e.network});

    changes_++;
    if (settings_.path.empty()) return out;
    pending_journal_.push_back(change_record(++journal_seq_, change).dump());
    if (settings_.group_commit) {
        unsaved_ = true; // in the journal at flush(), before the change is acknowledged
        return out;
    }
    if (std::string error = try_save_due(plane.config(), "after a change"); !error.empty())
        out.warnings.push_back(unsaved_warning(error));
    return out;
}

bool NetworkState::append_journal() {
    if (pending_journal_.empty()) return true;
    std::string text;
    for (const std::string& line : pending_journal_) {
        text += line;
        text += '\n';
    }
    const std::string path = journal_path();
    // Never made here (save() makes it and syncs its directory): gone, the whole file is
    // written instead, which makes it again.
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        journal_ready_ = false;
        return false;
    }
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("cannot append to the journal {}: {}", path, std::strerror(errno)));
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    const int err = errno;
    if (done < text.size() || ::fdatasync(fd) != 0) {
        const std::string why = std::strerror(done < text.size() ? err : errno);
        // A torn record in the middle would make the journal unreadable: cut it off, or,
        // failing that, have the next save rewrite the state file and empty the journal.
        if (::ftruncate(fd, static_cast<off_t>(journal_bytes_)) != 0) full_save_due_ = true;
        ::close(fd);
        throw std::runtime_error(fmt::format("cannot append to the journal {}: {}", path, why));
    }
    ::close(fd);
    journal_bytes_ += text.size();
    pending_journal_.clear();
    return true;
}

std::string NetworkState::try_save_due(const model::Config& running, const char* when) {
    std::size_t pending = 0;
    for (const std::string& line : pending_journal_)
        pending += line.size() + 1;
    // The journal is folded into the file once it holds as much as the file: each whole
    // write is paid for by as many bytes of appended changes.
    const bool compact =
        journal_bytes_ + pending > std::max<std::size_t>(saved_.size(), std::size_t{1} << 20);
    if (full_save_due_ || compact || !journal_ready_) return try_save(running, when);
    bool appended = false;
    if (std::string error = attempt([&] { appended = append_journal(); }, when); !error.empty())
        return error;
    return appended ? std::string() : try_save(running, when);
}

} // namespace vxmesh::control
