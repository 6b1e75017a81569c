// IPAM allocator: see ipam.hpp for what Docker does and what this mirrors.
//
// Subnets in use are kept as disjoint intervals sorted by first address, so that the
// pool search jumps over a used subnet instead of stepping through it, and overlap
// checks are one map lookup. Addresses and VNIs in use are sorted maps; a serial search
// walks them alongside the candidates, so it costs what is in use, not the range size.
#include "control/ipam.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace vxmesh::control {

namespace {

using model::format_ipv4;
using model::format_prefix;
using model::Ipv4;
using model::Ipv4Prefix;
using model::parse_ipv4;
using model::parse_prefix;
using json = nlohmann::ordered_json;

// As the config loader allows, so that what is allocated here can be configured there.
constexpr uint8_t kMinSubnetLength = 8;
constexpr uint8_t kMaxSubnetLength = 30;
constexpr uint64_t kMinMtu = 576;
constexpr uint64_t kMaxMtu = 9000;
constexpr uint64_t kStateVersion = 1;

// Callers check length <= 32 first: mask() shifts by 32 - length.
uint32_t first_of(const Ipv4Prefix& p) {
    return p.address.value & p.mask();
}
uint32_t last_of(const Ipv4Prefix& p) {
    return first_of(p) | ~p.mask();
}
bool is_canonical(const Ipv4Prefix& p) {
    return p.address.value == first_of(p);
}
Ipv4Prefix masked(const Ipv4Prefix& p) {
    return {Ipv4{first_of(p)}, p.length};
}
bool overlap(const Ipv4Prefix& a, const Ipv4Prefix& b) {
    return first_of(a) <= last_of(b) && first_of(b) <= last_of(a);
}

// Where addresses are handed out: the ip-range if any, else the whole subnet.
Ipv4Prefix span_of(const SubnetInfo& s) {
    return s.ip_range ? *s.ip_range : s.subnet;
}

// Addresses no endpoint may have. Subnets are /30 at most, so network and broadcast
// addresses always exist (no RFC 3021 /31 case).
bool is_network_or_broadcast(const SubnetInfo& s, uint32_t a) {
    return a == first_of(s.subnet) || a == last_of(s.subnet);
}

std::string join(const std::vector<Ipv4Prefix>& prefixes) {
    std::string out;
    for (const auto& p : prefixes)
        out += (out.empty() ? "" : ", ") + format_prefix(p);
    return out;
}

[[noreturn]] void fail(const std::string& network, const std::string& why, const char* field,
                       ErrorKind kind = ErrorKind::Invalid) {
    throw IpamError(fmt::format("network {}: {}", network, why), field, kind);
}

// The first value in [from, last] that is neither a key of `used` nor `skip`ped. Walks
// `used` alongside, so it costs the keys in the way, not the width of the range.
template <class Map, class Skip>
std::optional<uint32_t> first_free(const Map& used, uint64_t from, uint64_t last, Skip skip) {
    auto it = used.lower_bound(static_cast<uint32_t>(std::min<uint64_t>(from, UINT32_MAX)));
    for (uint64_t v = from; v <= last; ++v) {
        if (it != used.end() && it->first == v) {
            ++it;
            continue;
        }
        if (!skip(static_cast<uint32_t>(v))) return static_cast<uint32_t>(v);
    }
    return std::nullopt;
}

// Serial allocation as in libnetwork's bitmap: from the cursor up to `last`, then from
// `first` up to the cursor. Freed values are thus reused only after the wrap.
template <class Map, class Skip>
std::optional<uint32_t> next_serial(const Map& used, uint32_t first, uint32_t last, uint64_t cursor,
                                    Skip skip) {
    if (cursor < first || cursor > last) cursor = first;
    if (auto v = first_free(used, cursor, last, skip)) return v;
    if (cursor > first) return first_free(used, first, cursor - 1, skip);
    return std::nullopt;
}

// All-digit text as a number, saturating (the caller's range check rejects it), or
// nullopt when it is not all digits.
std::optional<uint64_t> parse_decimal(std::string_view s) {
    if (s.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        value = std::min<uint64_t>(value * 10 + static_cast<uint64_t>(c - '0'), UINT32_MAX + 1ull);
    }
    return value;
}

// Reads the state file's JSON; every complaint names the file and the field's path.
struct StateReader {
    const std::string& source;

    [[noreturn]] void corrupt(const std::string& why) const {
        throw IpamError(fmt::format("{}: corrupt IPAM state: {}", source, why));
    }
    const json& field(const json& object, const std::string& path, const char* key,
                      bool (json::*is_type)() const noexcept, const char* type) const {
        const auto it = object.find(key);
        if (it == object.end()) corrupt(fmt::format("{}.{}: missing", path, key));
        if (!((*it).*is_type)()) corrupt(fmt::format("{}.{}: not {}", path, key, type));
        return *it;
    }
    const json& array(const json& o, const std::string& path, const char* key) const {
        return field(o, path, key, &json::is_array, "an array");
    }
    std::string string(const json& o, const std::string& path, const char* key) const {
        return field(o, path, key, &json::is_string, "a string").get<std::string>();
    }
    bool boolean(const json& o, const std::string& path, const char* key) const {
        return field(o, path, key, &json::is_boolean, "a boolean").get<bool>();
    }
    uint64_t number(const json& o, const std::string& path, const char* key) const {
        return field(o, path, key, &json::is_number_unsigned, "an unsigned number").get<uint64_t>();
    }
    Ipv4 ipv4(const json& o, const std::string& path, const char* key) const {
        const std::string text = string(o, path, key);
        const auto ip = parse_ipv4(text);
        if (!ip) corrupt(fmt::format("{}.{}: \"{}\" is not an IPv4 address", path, key, text));
        return *ip;
    }
    Ipv4Prefix prefix(const json& o, const std::string& path, const char* key) const {
        const std::string text = string(o, path, key);
        const auto p = parse_prefix(text);
        if (!p) corrupt(fmt::format("{}.{}: \"{}\" is not an IPv4 prefix", path, key, text));
        return *p;
    }
};

std::string errno_text() {
    return std::strerror(errno);
}

} // namespace

// ---------------------------------------------------------------------------------------
// Configuration

Ipam::Ipam(IpamConfig config) : config_(std::move(config)) {
    const auto& pools = config_.pools;
    const uint8_t mask = config_.mask_length;
    if (pools.empty()) throw IpamError("default-addr-pool: no address pool given");
    if (mask < kMinPoolMaskLength || mask > kMaxPoolMaskLength) {
        throw IpamError(fmt::format("default-addr-pool-mask-length {} is out of range {}..{}", mask,
                                    kMinPoolMaskLength, kMaxPoolMaskLength));
    }
    for (std::size_t i = 0; i < pools.size(); ++i) {
        const auto& p = pools[i];
        if (p.length > mask) {
            throw IpamError(fmt::format("default-addr-pool {} cannot hold a /{} subnet "
                                        "(default-addr-pool-mask-length)",
                                        format_prefix(p), mask));
        }
        if (!is_canonical(p)) {
            throw IpamError(fmt::format("default-addr-pool {} is not a network address "
                                        "(did you mean {}?)",
                                        format_prefix(p), format_prefix(masked(p))));
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (overlap(p, pools[j])) {
                throw IpamError(fmt::format("default-addr-pool {} overlaps default-addr-pool {}",
                                            format_prefix(p), format_prefix(pools[j])));
            }
        }
    }
    if (config_.first_auto_vni < 1 || config_.first_auto_vni > config_.last_auto_vni ||
        config_.last_auto_vni > kLastVni) {
        throw IpamError(fmt::format("automatic VNI range {}..{} is not within 1..{}",
                                    config_.first_auto_vni, config_.last_auto_vni, kLastVni));
    }
    block_cursor_ = first_of(pools[0]);
    vni_cursor_ = config_.first_auto_vni;
}

// ---------------------------------------------------------------------------------------
// Networks

Ipam::Network& Ipam::find(const std::string& name) {
    const auto it = networks_.find(name);
    if (it == networks_.end()) throw IpamError(fmt::format("no network named {}", name));
    return it->second;
}

const Ipam::Network& Ipam::find(const std::string& name) const {
    return const_cast<Ipam*>(this)->find(name);
}

const std::pair<const uint32_t, Ipam::Used>* Ipam::overlapping(uint32_t first,
                                                               uint32_t last) const {
    // Disjoint intervals sorted by start are sorted by end too: only the last one that
    // starts at or before `last` can reach `first`.
    auto it = subnets_.upper_bound(last);
    if (it == subnets_.begin()) return nullptr;
    --it;
    return it->second.last >= first ? &*it : nullptr;
}

// The first free mask-length block of `pool` at or after address `from`.
std::optional<uint32_t> Ipam::free_block(const Ipv4Prefix& pool, uint64_t from) const {
    const uint64_t size = uint64_t{1} << (32 - config_.mask_length);
    const uint64_t last = last_of(pool);
    uint64_t block = std::max<uint64_t>(from, first_of(pool));
    block = (block + size - 1) / size * size; // pools are aligned to the block size
    while (block + size - 1 <= last) {
        const auto* used =
            overlapping(static_cast<uint32_t>(block), static_cast<uint32_t>(block + size - 1));
        if (used == nullptr) return static_cast<uint32_t>(block);
        block = (uint64_t{used->second.last} + size) / size * size; // first block after it
    }
    return std::nullopt;
}

NetworkInfo Ipam::create_network(const NetworkRequest& request) {
    const std::string& name = request.name;
    if (name.empty()) throw IpamError("network name is empty");
    if (networks_.count(name) != 0) throw IpamError(fmt::format("network {} already exists", name));
    if (request.ingress) {
        for (const auto& [other, net] : networks_) {
            if (net.ingress)
                fail(name, fmt::format("ingress network {} already exists", other), "ingress",
                     ErrorKind::Duplicate);
        }
    }

    // Everything is decided into `net` and the new cursors first, and committed only when
    // nothing failed.
    Network net{name, request.ingress, {}, {}};
    auto& subnets = net.subnets;
    for (const auto& s : request.subnets) {
        if (s.length < kMinSubnetLength || s.length > kMaxSubnetLength) {
            fail(name,
                 fmt::format("subnet {} length is out of range /{}../{}", format_prefix(s),
                             kMinSubnetLength, kMaxSubnetLength),
                 "subnet", ErrorKind::Range);
        }
        if (!is_canonical(s)) {
            fail(name,
                 fmt::format("subnet {} is not a network address (did you mean {}?)",
                             format_prefix(s), format_prefix(masked(s))),
                 "subnet", ErrorKind::Invalid);
        }
        for (const auto& other : subnets) {
            if (overlap(other.info.subnet, s)) {
                fail(name,
                     fmt::format("subnets {} and {} overlap", format_prefix(other.info.subnet),
                                 format_prefix(s)),
                     "subnet", ErrorKind::Overlap);
            }
        }
        if (const auto* used = overlapping(first_of(s), last_of(s))) {
            fail(name,
                 fmt::format("subnet {} overlaps subnet {} of network {}", format_prefix(s),
                             format_prefix(used->second.subnet), used->second.network),
                 "subnet", ErrorKind::Overlap);
        }
        subnets.push_back({SubnetInfo{s, std::nullopt, {}, 0}, 0});
    }

    // The docker CLI's matching (cli/command/network/create.go, consolidateIpam).
    if (subnets.empty() && (!request.ip_ranges.empty() || !request.gateways.empty())) {
        fail(name, "every ip-range or gateway must have a corresponding subnet", "subnet",
             ErrorKind::Invalid);
    }
    auto subnet_holding = [&](Ipv4 ip) -> Subnet* {
        for (auto& s : subnets) {
            if (s.info.subnet.contains(ip)) return &s;
        }
        return nullptr;
    };
    for (const auto& r : request.ip_ranges) {
        if (r.length > 32 || !is_canonical(r)) {
            fail(name, fmt::format("ip-range {} is not a network address", format_prefix(r)),
                 "ip_range", ErrorKind::Invalid);
        }
        Subnet* s = subnet_holding(r.address);
        if (s == nullptr)
            fail(name, fmt::format("no matching subnet for ip-range {}", format_prefix(r)),
                 "ip_range", ErrorKind::Invalid);
        if (r.length < s->info.subnet.length) {
            fail(name,
                 fmt::format("ip-range {} is larger than subnet {}", format_prefix(r),
                             format_prefix(s->info.subnet)),
                 "ip_range", ErrorKind::Invalid);
        }
        if (s->info.ip_range) {
            fail(name,
                 fmt::format("cannot configure multiple ip-ranges ({}, {}) on the same "
                             "subnet ({})",
                             format_prefix(r), format_prefix(*s->info.ip_range),
                             format_prefix(s->info.subnet)),
                 "ip_range", ErrorKind::Invalid);
        }
        s->info.ip_range = r;
    }
    std::vector<bool> explicit_gateway(subnets.size(), false);
    for (const auto& g : request.gateways) {
        Subnet* s = subnet_holding(g);
        if (s == nullptr)
            fail(name, fmt::format("no matching subnet for gateway {}", format_ipv4(g)), "gateway",
                 ErrorKind::Invalid);
        const auto i = static_cast<std::size_t>(s - subnets.data());
        if (explicit_gateway[i]) {
            fail(name,
                 fmt::format("cannot configure multiple gateways ({}, {}) for the same "
                             "subnet ({})",
                             format_ipv4(g), format_ipv4(s->info.gateway),
                             format_prefix(s->info.subnet)),
                 "gateway", ErrorKind::Invalid);
        }
        if (g.value == first_of(s->info.subnet) || g.value == last_of(s->info.subnet)) {
            fail(name,
                 fmt::format("gateway {} is the {} address of subnet {}", format_ipv4(g),
                             g.value == first_of(s->info.subnet) ? "network" : "broadcast",
                             format_prefix(s->info.subnet)),
                 "gateway", ErrorKind::Invalid);
        }
        explicit_gateway[i] = true;
        s->info.gateway = g;
    }

    // No subnet given: the next free block of the pools after the cursor; the cursor's
    // own pool is visited twice, the second time from its bottom (the wrap).
    std::size_t pool_cursor = pool_cursor_;
    uint64_t block_cursor = block_cursor_;
    if (subnets.empty()) {
        const auto& pools = config_.pools;
        const uint64_t size = uint64_t{1} << (32 - config_.mask_length);
        for (std::size_t k = 0; k <= pools.size() && subnets.empty(); ++k) {
            const std::size_t p = (pool_cursor_ + k) % pools.size();
            const uint64_t from = k == 0 ? block_cursor_ : first_of(pools[p]);
            if (const auto block = free_block(pools[p], from)) {
                subnets.push_back({SubnetInfo{{Ipv4{*block}, config_.mask_length}, {}, {}, 0}, 0});
                explicit_gateway.push_back(false);
                pool_cursor = p;
                block_cursor = *block + size;
            }
        }
        if (subnets.empty()) {
            // Docker leaves such a network unallocated, silently; say why instead.
            fail(name,
                 fmt::format("address pools exhausted: no free /{} subnet left in {}",
                             config_.mask_length, join(pools)),
                 "subnet", ErrorKind::Capacity);
        }
    }

    // Default gateways: the first address that may be handed out (libnetwork requests
    // the gateway before any endpoint). Address cursors start at the bottom of the span.
    const std::map<uint32_t, std::string> none;
    for (std::size_t i = 0; i < subnets.size(); ++i) {
        auto& s = subnets[i];
        const Ipv4Prefix span = span_of(s.info);
        if (!explicit_gateway[i]) {
            const auto gw = first_free(none, first_of(span), last_of(span), [&](uint32_t a) {
                return is_network_or_broadcast(s.info, a);
            });
            if (!gw)
                fail(name,
                     fmt::format("ip-range {} has no address for the gateway", format_prefix(span)),
                     "ip_range", ErrorKind::Invalid);
            s.info.gateway = Ipv4{*gw};
        }
        s.cursor = first_of(span);
    }

    // VNIs: the vxlanid_list's for the first subnets, serial ones for the rest.
    if (request.vnis.size() > subnets.size()) {
        fail(name,
             fmt::format("vxlanid_list has {} VNIs for {} subnet(s)", request.vnis.size(),
                         subnets.size()),
             "vni", ErrorKind::Invalid);
    }
    std::vector<uint32_t> chosen;
    auto is_chosen = [&](uint32_t v) {
        return std::find(chosen.begin(), chosen.end(), v) != chosen.end();
    };
    for (const uint32_t vni : request.vnis) {
        if (vni < 1 || vni > kLastVni) {
            fail(name, fmt::format("VNI {} is out of range 1..{}", vni, kLastVni), "vni",
                 ErrorKind::Range);
        }
        if (is_chosen(vni))
            fail(name, fmt::format("VNI {} is listed twice", vni), "vni", ErrorKind::Duplicate);
        if (const auto it = vnis_.find(vni); it != vnis_.end()) {
            fail(name, fmt::format("VNI {} is already used by network {}", vni, it->second), "vni",
                 ErrorKind::Duplicate);
        }
        chosen.push_back(vni);
    }
    uint64_t vni_cursor = vni_cursor_;
    while (chosen.size() < subnets.size()) {
        const auto vni = next_serial(vnis_, config_.first_auto_vni, config_.last_auto_vni,
                                     vni_cursor, is_chosen);
        if (!vni) {
            fail(name,
                 fmt::format("no free VNI left in {}..{}", config_.first_auto_vni,
                             config_.last_auto_vni),
                 "vni", ErrorKind::Capacity);
        }
        chosen.push_back(*vni);
        vni_cursor = uint64_t{*vni} + 1;
    }
    for (std::size_t i = 0; i < subnets.size(); ++i)
        subnets[i].info.vni = chosen[i];

    // Commit.
    for (const auto& s : subnets) {
        subnets_.emplace(first_of(s.info.subnet),
                         Used{last_of(s.info.subnet), s.info.subnet, name});
        vnis_.emplace(s.info.vni, name);
    }
    pool_cursor_ = pool_cursor;
    block_cursor_ = block_cursor;
    vni_cursor_ = vni_cursor;
    networks_.emplace(name, std::move(net));
    return network(name);
}

void Ipam::remove_network(const std::string& name) {
    const Network& net = find(name);
    for (const auto& s : net.subnets) {
        subnets_.erase(first_of(s.info.subnet));
        vnis_.erase(s.info.vni);
    }
    networks_.erase(name);
}

NetworkInfo Ipam::network(const std::string& name) const {
    const Network& net = find(name);
    NetworkInfo info{net.name, net.ingress, {}, {}};
    for (const auto& s : net.subnets)
        info.subnets.push_back(s.info);
    for (const auto& [address, owner] : net.addresses)
        info.addresses.push_back({Ipv4{address}, owner});
    return info;
}

std::vector<std::string> Ipam::network_names() const {
    std::vector<std::string> names;
    for (const auto& [name, net] : networks_)
        names.push_back(name);
    return names;
}

// ---------------------------------------------------------------------------------------
// Addresses

Ipv4 Ipam::allocate_address(const std::string& network, const std::string& owner) {
    Network& net = find(network);
    std::vector<Ipv4Prefix> spans;
    // Like swarmkit, the first subnet (pool) that has a free address.
    for (auto& s : net.subnets) {
        const Ipv4Prefix span = span_of(s.info);
        const auto address =
            next_serial(net.addresses, first_of(span), last_of(span), s.cursor, [&](uint32_t a) {
                return is_network_or_broadcast(s.info, a) || a == s.info.gateway.value;
            });
        if (address) {
            net.addresses.emplace(*address, owner);
            s.cursor = uint64_t{*address} + 1;
            return Ipv4{*address};
        }
        spans.push_back(span);
    }
    fail(network, fmt::format("no free address left in {}", join(spans)), "address",
         ErrorKind::Capacity);
}

void Ipam::reserve_address(const std::string& network, Ipv4 address, const std::string& owner) {
    Network& net = find(network);
    const SubnetInfo* subnet = nullptr;
    std::vector<Ipv4Prefix> all;
    for (const auto& s : net.subnets) {
        if (s.info.subnet.contains(address)) subnet = &s.info;
        all.push_back(s.info.subnet);
    }
    const std::string ip = format_ipv4(address);
    if (subnet == nullptr)
        fail(network, fmt::format("{} is outside its subnets ({})", ip, join(all)), "address",
             ErrorKind::Invalid);
    if (is_network_or_broadcast(*subnet, address.value)) {
        fail(network,
             fmt::format("{} is the {} address of subnet {}", ip,
                         address.value == first_of(subnet->subnet) ? "network" : "broadcast",
                         format_prefix(subnet->subnet)),
             "address", ErrorKind::Invalid);
    }
    if (address == subnet->gateway) {
        fail(network,
             fmt::format("{} is the gateway of subnet {}", ip, format_prefix(subnet->subnet)),
             "gateway", ErrorKind::Invalid);
    }
    if (const auto it = net.addresses.find(address.value); it != net.addresses.end()) {
        fail(network, fmt::format("{} is already allocated to {}", ip, it->second), "address",
             ErrorKind::Duplicate);
    }
    net.addresses.emplace(address.value, owner);
}

void Ipam::release_address(const std::string& network, Ipv4 address) {
    Network& net = find(network);
    if (net.addresses.erase(address.value) == 0) {
        fail(network, fmt::format("{} is not allocated", format_ipv4(address)), "address",
             ErrorKind::NotFound);
    }
}

std::vector<uint64_t> Ipam::cursors(const std::string& network) const {
    std::vector<uint64_t> out;
    for (const auto& s : find(network).subnets)
        out.push_back(s.cursor);
    return out;
}

void Ipam::restore_cursors(const std::string& network, const std::vector<uint64_t>& cursors) {
    Network& net = find(network);
    for (std::size_t i = 0; i < net.subnets.size() && i < cursors.size(); ++i)
        net.subnets[i].cursor = cursors[i];
}

// ---------------------------------------------------------------------------------------
// State

std::string Ipam::to_json() const {
    json networks = json::array();
    for (const auto& [name, net] : networks_) {
        json subnets = json::array();
        for (const auto& s : net.subnets) {
            json j = {{"subnet", format_prefix(s.info.subnet)}};
            if (s.info.ip_range) j["ip_range"] = format_prefix(*s.info.ip_range);
            j["gateway"] = format_ipv4(s.info.gateway);
            j["vni"] = s.info.vni;
            subnets.push_back(std::move(j));
        }
        json addresses = json::array();
        for (const auto& [address, owner] : net.addresses) {
            addresses.push_back({{"address", format_ipv4(Ipv4{address})}, {"owner", owner}});
        }
        networks.push_back({{"name", name},
                            {"ingress", net.ingress},
                            {"subnets", std::move(subnets)},
                            {"addresses", std::move(addresses)}});
    }
    const json state = {{"version", kStateVersion}, {"networks", std::move(networks)}};
    return state.dump(2) + "\n";
}

void Ipam::from_json(std::string_view text, const std::string& source) {
    const StateReader in{source};
    json state;
    try {
        state = json::parse(text);
    } catch (const json::exception& e) {
        in.corrupt(e.what());
    }
    if (!state.is_object()) in.corrupt("not a JSON object");
    const uint64_t version = in.number(state, "state", "version");
    if (version != kStateVersion) in.corrupt(fmt::format("unsupported version {}", version));

    // Replay the allocations as explicit requests into a fresh allocator: that validates
    // them (overlaps, duplicate VNIs, addresses outside subnets...) and leaves every
    // cursor at the bottom, as Docker's allocator is after a restart.
    Ipam fresh(config_);
    const json& networks = in.array(state, "state", "networks");
    for (std::size_t i = 0; i < networks.size(); ++i) {
        const std::string path = fmt::format("networks[{}]", i);
        const json& n = networks[i];
        if (!n.is_object()) in.corrupt(path + ": not an object");
        NetworkRequest request;
        request.name = in.string(n, path, "name");
        request.ingress = in.boolean(n, path, "ingress");
        const json& subnets = in.array(n, path, "subnets");
        for (std::size_t j = 0; j < subnets.size(); ++j) {
            const std::string sp = fmt::format("{}.subnets[{}]", path, j);
            const json& s = subnets[j];
            if (!s.is_object()) in.corrupt(sp + ": not an object");
            request.subnets.push_back(in.prefix(s, sp, "subnet"));
            if (s.contains("ip_range")) request.ip_ranges.push_back(in.prefix(s, sp, "ip_range"));
            request.gateways.push_back(in.ipv4(s, sp, "gateway"));
            const uint64_t vni = in.number(s, sp, "vni");
            if (vni < 1 || vni > kLastVni) {
                in.corrupt(fmt::format("{}.vni: {} is out of range 1..{}", sp, vni, kLastVni));
            }
            request.vnis.push_back(static_cast<uint32_t>(vni));
        }
        if (request.subnets.empty()) in.corrupt(path + ".subnets: empty");
        const json& addresses = in.array(n, path, "addresses");
        try {
            fresh.create_network(request);
            for (std::size_t j = 0; j < addresses.size(); ++j) {
                const std::string ap = fmt::format("{}.addresses[{}]", path, j);
                const json& a = addresses[j];
                if (!a.is_object()) in.corrupt(ap + ": not an object");
                fresh.reserve_address(request.name, in.ipv4(a, ap, "address"),
                                      in.string(a, ap, "owner"));
            }
        } catch (const IpamError& e) {
            if (std::string_view(e.what()).starts_with(source + ": ")) throw;
            in.corrupt(e.what());
        }
    }
    *this = std::move(fresh);
}

void Ipam::save(const std::string& path) const {
    write_file_atomically(path, to_json(), "IPAM state");
}

void write_file_atomically(const std::string& path, const std::string& text,
                           std::string_view what) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto failed = [&](const char* step, const std::string& file) {
        const std::string why = errno_text();
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        throw IpamError(fmt::format("cannot save {} {}: {} {}: {}", what, path, step, file, why));
    };
    if (fd < 0) failed("create", tmp);
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) failed("write", tmp);
        done += static_cast<std::size_t>(n);
    }
    // Data on disk before the rename makes it visible, or a crash could leave an empty
    // file under the real name.
    if (::fsync(fd) != 0) failed("fsync", tmp);
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) failed("close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) failed("rename", tmp);

    // And the rename itself on disk.
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path.substr(0, slash);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        const std::string why = errno_text();
        if (dfd >= 0) ::close(dfd);
        throw IpamError(fmt::format("cannot save {} {}: fsync {}: {}", what, path, dir, why));
    }
    ::close(dfd);
}

bool Ipam::load(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        throw IpamError(fmt::format("cannot read IPAM state {}: {}", path, errno_text()));
    }
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string why = errno_text();
            ::close(fd);
            throw IpamError(fmt::format("cannot read IPAM state {}: {}", path, why));
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    from_json(text, path);
    return true;
}

// ---------------------------------------------------------------------------------------
// Helpers

model::Mac mac_for_address(Ipv4 address) {
    return model::default_mac(address);
}

std::vector<uint32_t> parse_vxlanid_list(std::string_view text) {
    std::vector<uint32_t> vnis;
    for (;;) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        const auto value = parse_decimal(item);
        if (!value) throw IpamError(fmt::format("vxlanid_list: \"{}\" is not a VNI", item));
        if (*value < 1 || *value > kLastVni) {
            throw IpamError(
                fmt::format("vxlanid_list: VNI {} is out of range 1..{}", item, kLastVni));
        }
        const auto vni = static_cast<uint32_t>(*value);
        if (std::find(vnis.begin(), vnis.end(), vni) != vnis.end()) {
            throw IpamError(fmt::format("vxlanid_list: VNI {} is listed twice", vni));
        }
        vnis.push_back(vni);
        if (comma == std::string_view::npos) return vnis;
        text.remove_prefix(comma + 1);
    }
}

uint16_t resolve_mtu(const std::map<std::string, std::string>& options) {
    const auto it = options.find(std::string(kMtuOption));
    if (it == options.end()) {
        // Docker's overlay driver: the option's presence means encrypted, whatever its value.
        const bool encrypted = options.count(std::string(kEncryptedOption)) != 0;
        return encrypted ? kEncryptedOverlayMtu : kOverlayMtu;
    }
    const auto value = parse_decimal(it->second);
    if (!value) throw IpamError(fmt::format("{}: \"{}\" is not a number", kMtuOption, it->second));
    if (*value < kMinMtu || *value > kMaxMtu) {
        throw IpamError(
            fmt::format("{}: {} is out of range {}..{}", kMtuOption, it->second, kMinMtu, kMaxMtu));
    }
    return static_cast<uint16_t>(*value);
}

} // namespace vxmesh::control
