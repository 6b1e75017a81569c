#include "control/model_index.hpp"

#include "control/text_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <set>

namespace vxmesh::control {

namespace rules {

std::string quote(std::string_view text) {
    constexpr std::size_t kMax = 48;
    const std::string_view shown = utf8_prefix(text, kMax);
    std::string out = "'";
    for (std::size_t i = 0; i < shown.size();) {
        const unsigned char c = static_cast<unsigned char>(shown[i]);
        const std::size_t n = utf8_sequence_length(shown, i);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (n == 0 || c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out.append(shown.substr(i, n));
            i += n;
            continue;
        }
        ++i;
    }
    if (shown.size() < text.size()) out += "...";
    out += "'";
    return out;
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                        c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// A swarm-style id: 25 characters of 0-9 a-z.
bool valid_id(std::string_view id) {
    if (id.size() != kIdLength) return false;
    for (char c : id) {
        if (!is_digit(c) && !(c >= 'a' && c <= 'z')) return false;
    }
    return true;
}

bool has_control(std::string_view text) {
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS, an optional fraction of 1..9 digits, then Z or +hh:mm /
// -hh:mm. Upper-case T and Z only; the fields' ranges are checked (a leap second is 60).
bool valid_rfc3339(std::string_view t) {
    auto number = [&](std::size_t at, std::size_t digits, int min, int max) {
        if (at + digits > t.size()) return false;
        int value = 0;
        for (std::size_t i = at; i < at + digits; ++i) {
            if (!is_digit(t[i])) return false;
            value = value * 10 + (t[i] - '0');
        }
        return value >= min && value <= max;
    };
    auto at = [&](std::size_t i, char c) { return i < t.size() && t[i] == c; };
    if (!number(0, 4, 0, 9999) || !at(4, '-') || !number(5, 2, 1, 12) || !at(7, '-') ||
        !number(8, 2, 1, 31) || !at(10, 'T') || !number(11, 2, 0, 23) || !at(13, ':') ||
        !number(14, 2, 0, 59) || !at(16, ':') || !number(17, 2, 0, 60)) {
        return false;
    }
    const int year = std::stoi(std::string(t.substr(0, 4)));
    const int month = std::stoi(std::string(t.substr(5, 2)));
    const int day = std::stoi(std::string(t.substr(8, 2)));
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const int days[] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day > days[month - 1]) return false;
    std::size_t i = 19;
    if (at(i, '.')) {
        const std::size_t start = ++i;
        while (i < t.size() && is_digit(t[i]))
            ++i;
        if (i == start || i - start > 9) return false;
    }
    if (at(i, 'Z')) return i + 1 == t.size();
    if (!at(i, '+') && !at(i, '-')) return false;
    return number(i + 1, 2, 0, 23) && at(i + 3, ':') && number(i + 4, 2, 0, 59) &&
           i + 6 == t.size();
}

// Not in 0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) or
// 240.0.0.0/4 (reserved, including the limited broadcast address).
bool is_unicast(model::Ipv4 ip) {
    const uint32_t first = ip.value >> 24;
    return first != 0 && first != 127 && first < 224;
}

// Like Ipv4Prefix::mask(), but defined for any length (the model may hold a bad one
// until the validator has rejected it).
uint32_t mask_of(unsigned length) {
    if (length == 0) return 0;
    if (length >= 32) return ~uint32_t{0};
    return ~uint32_t{0} << (32 - length);
}
uint32_t network_of(model::Ipv4 ip, unsigned length) {
    return ip.value & mask_of(length);
}
uint32_t broadcast_of(model::Ipv4 ip, unsigned length) {
    return ip.value | ~mask_of(length);
}

bool is_unicast_mac(const model::Mac& mac) {
    return (mac.bytes[0] & 0x01) == 0;
}
bool is_zero_mac(const model::Mac& mac) {
    return mac == model::Mac{};
}

// A DPDK device string: a PCI address ([DDDD:]BB:DD.F) or a vdev name starting with
// "net_", optionally followed by ",devargs". Returns the device's identity (PCI address
// with its domain, lower case; or the vdev name), which must be unique; nullopt when the
// string is malformed.
std::optional<std::string> device_identity(std::string_view dev) {
    const auto comma = dev.find(',');
    const std::string_view id = dev.substr(0, comma);
    if (comma != std::string_view::npos) {
        const std::string_view args = dev.substr(comma + 1);
        if (args.empty()) return std::nullopt;
        for (char c : args) {
            if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                return std::nullopt;
        }
    }

    // PCI: four hex digits of domain (optional), two of bus, two of device, one function.
    auto is_pci = [](std::string_view s) {
        auto hex_run = [&](std::size_t at, std::size_t n) {
            if (at + n > s.size()) return false;
            for (std::size_t i = 0; i < n; ++i) {
                if (hex_value(s[at + i]) < 0) return false;
            }
            return true;
        };
        return s.size() == 12 && hex_run(0, 4) && s[4] == ':' && hex_run(5, 2) && s[7] == ':' &&
               hex_run(8, 2) && s[10] == '.' && s[11] >= '0' && s[11] <= '7' &&
               hex_value(s[8]) <= 1; // device number 0x00..0x1f
    };
    std::string pci = id.size() == 7 ? "0000:" + std::string(id) : std::string(id);
    if (is_pci(pci)) {
        for (char& c : pci) {
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        }
        return pci;
    }

    if (id.size() > 4 && id.substr(0, 4) == "net_") {
        for (char c : id) {
            const bool ok =
                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
            if (!ok) return std::nullopt;
        }
        return std::string(id);
    }
    return std::nullopt;
}

} // namespace rules

using namespace rules;
using model::format_ipv4;
using model::format_mac;
using model::format_prefix;

namespace {

uint64_t mac_key(const model::Mac& mac) {
    uint64_t v = 0;
    for (uint8_t b : mac.bytes)
        v = v << 8 | b;
    return v;
}

// The position of the first object named `name` in `list`, as "LIST[I]" ("LIST" alone
// when it is not there: an object the index holds is always in the context's list, but a
// wrong context must not turn an error into a crash).
template <typename T>
std::string position(const std::vector<T>& list, const char* list_name, const std::string& name) {
    for (std::size_t i = 0; i < list.size(); ++i)
        if (list[i].name == name) return fmt::format("{}[{}]", list_name, i);
    return list_name;
}

std::string lb_position(const model::Config& config, const std::string& network,
                        const std::string& node) {
    for (std::size_t i = 0; i < config.load_balancers.size(); ++i) {
        const auto& lb = config.load_balancers[i];
        if (lb.network == network && lb.node == node) return fmt::format("load_balancers[{}]", i);
    }
    return "load_balancers";
}

// The first of `names` in `list` order (for a message naming one of several holders).
template <typename T>
std::string first_in_order(const std::vector<T>& list, const std::set<std::string>& names) {
    for (const auto& o : list)
        if (names.count(o.name)) return o.name;
    return names.empty() ? std::string() : *names.begin();
}

} // namespace

// One object's check: where it is, and how its errors are made.
class Rule {
public:
    Rule(const RuleContext& ctx, const char* object, const std::string& name, const Place* at,
         const model::Origin& origin)
        : ctx_(ctx), object_(object), name_(name), at_(at), origin_(origin) {}

    [[noreturn]] void fail(std::string field, ErrorKind kind, std::string reason,
                           std::optional<ErrorInfo::Conflict> conflict = std::nullopt) const {
        ErrorInfo info;
        info.kind = kind;
        info.object = object_;
        info.name = name_;
        if (at_ != nullptr) {
            info.list = at_->list;
            info.index = at_->index;
            info.within = at_->within;
        }
        info.field = std::move(field);
        info.reason = std::move(reason);
        info.conflict = std::move(conflict);
        info.origin = origin_;
        if (ctx_.origins != nullptr) {
            if (auto it = ctx_.origins->find(info.path()); it != ctx_.origins->end())
                info.origin = it->second;
        }
        throw ConfigError(std::move(info));
    }

    void check_name(const std::string& field, const std::string& name) const {
        if (!valid_name(name))
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is not a valid name (1..{} of A-Z a-z 0-9 _ . -)", quote(name),
                             kMaxNameLength));
    }

    void check_unicast(const std::string& field, model::Ipv4 ip) const {
        if (!is_unicast(ip))
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is not a unicast host address", format_ipv4(ip)));
    }

    // An address used as a host inside an on-link prefix: not its network or broadcast
    // address (which do not exist as such in a /31).
    void check_host_in(const std::string& field, model::Ipv4 ip, model::Ipv4 prefix_addr,
                       unsigned length) const {
        if (length > 30) return;
        const std::string prefix =
            format_prefix(model::Ipv4{network_of(prefix_addr, length)}, length);
        if (ip.value == network_of(prefix_addr, length))
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is the network address of {}", format_ipv4(ip), prefix));
        if (ip.value == broadcast_of(prefix_addr, length))
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is the broadcast address of {}", format_ipv4(ip), prefix));
    }

    void check_mac(const std::string& field, const model::Mac& mac) const {
        if (is_zero_mac(mac))
            fail(field, ErrorKind::Invalid, "00:00:00:00:00:00 is not a valid MAC address");
        if (!is_unicast_mac(mac))
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is a multicast MAC address", format_mac(mac)));
    }

    std::string check_device(const std::string& field, const std::string& device) const {
        const auto id = device_identity(device);
        if (!id)
            fail(field, ErrorKind::Invalid,
                 fmt::format("{} is not a DPDK device (a PCI address like 0000:03:00.0, or a vdev "
                             "like net_af_packet0,iface=eth0)",
                             quote(device)));
        return *id;
    }

    // A name already held by `holder` (an object of the same kind): "duplicates LIST[J].name".
    template <typename T>
    [[noreturn]] void duplicate_name(const std::vector<T>& list, const char* list_name,
                                     const char* kind) const {
        const std::string other = position(list, list_name, name_);
        fail("name", ErrorKind::Duplicate,
             fmt::format("{} duplicates {}.name", quote(name_), other),
             ErrorInfo::Conflict{kind, name_, other + ".name"});
    }

    const RuleContext& ctx() const { return ctx_; }

private:
    const RuleContext& ctx_;
    const char* object_;
    const std::string& name_;
    const Place* at_;
    const model::Origin& origin_;
};

ModelIndex ModelIndex::validate(const model::Config& config, const FieldOrigins* origins) {
    ModelIndex ix;
    const RuleContext ctx{config, origins};
    ix.check_node(config.node, ctx);
    ix.add(config.node);
    // Each object against those before it, so that an object appended to its list is
    // checked against everything else, as a typed change checks it.
    auto each = [&](const auto& list, const char* name) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            const Place at{name, i, ""};
            using T = std::decay_t<decltype(list[i])>;
            if constexpr (std::is_same_v<T, model::AccessPort>) ix.check_port(list[i], at, ctx);
            if constexpr (std::is_same_v<T, model::Network>) ix.check_network(list[i], at, ctx);
            if constexpr (std::is_same_v<T, model::Peer>) ix.check_peer(list[i], at, ctx);
            if constexpr (std::is_same_v<T, model::Service>) ix.check_service(list[i], at, ctx);
            if constexpr (std::is_same_v<T, model::LoadBalancer>)
                ix.check_load_balancer(list[i], at, ctx);
            if constexpr (std::is_same_v<T, model::Endpoint>) ix.check_endpoint(list[i], at, ctx);
            ix.add(list[i]);
        }
    };
    each(config.ports, "ports");
    each(config.networks, "networks");
    each(config.peers, "peers");
    each(config.services, "services");
    each(config.load_balancers, "load_balancers");
    each(config.endpoints, "endpoints");
    return ix;
}

ModelIndex ModelIndex::of(const model::Config& config) {
    ModelIndex ix;
    ix.add(config.node);
    for (const auto& o : config.ports)
        ix.add(o);
    for (const auto& o : config.networks)
        ix.add(o);
    for (const auto& o : config.peers)
        ix.add(o);
    for (const auto& o : config.services)
        ix.add(o);
    for (const auto& o : config.load_balancers)
        ix.add(o);
    for (const auto& o : config.endpoints)
        ix.add(o);
    return ix;
}

void ModelIndex::check_node(const model::Node& n, const RuleContext& ctx) const {
    const Rule r(ctx, "node", n.name, nullptr, n.origin);
    r.check_name("node.name", n.name);

    const std::string addr = "node.data_path_addr";
    if (n.prefix_length < kMinUnderlayLength || n.prefix_length > kMaxUnderlayLength)
        r.fail(addr, ErrorKind::Range,
               fmt::format("prefix length {} is out of range {}..{}", n.prefix_length,
                           kMinUnderlayLength, kMaxUnderlayLength));
    r.check_unicast(addr, n.data_path_addr);
    r.check_host_in(addr, n.data_path_addr, n.data_path_addr, n.prefix_length);

    if (n.gateway) {
        const std::string field = "node.gateway";
        const model::Ipv4 gw = *n.gateway;
        r.check_unicast(field, gw);
        if (network_of(gw, n.prefix_length) != network_of(n.data_path_addr, n.prefix_length))
            r.fail(field, ErrorKind::Invalid,
                   fmt::format("{} is outside node.data_path_addr {}", format_ipv4(gw),
                               format_prefix(n.data_path_addr, n.prefix_length)));
        if (gw == n.data_path_addr)
            r.fail(field, ErrorKind::Invalid,
                   fmt::format("{} is node.data_path_addr itself", format_ipv4(gw)));
        r.check_host_in(field, gw, n.data_path_addr, n.prefix_length);
    }

    r.check_device("node.underlay.device", n.underlay.device);
    if (n.underlay.mac) r.check_mac("node.underlay.mac", *n.underlay.mac);
    if (n.vxlan_port == 0)
        r.fail("node.vxlan_port", ErrorKind::Range, "0 is out of range 1..65535");
    if (n.ttl == 0) r.fail("node.ttl", ErrorKind::Range, "0 is out of range 1..255");
}

void ModelIndex::check_port(const model::AccessPort& p, const Place& at,
                            const RuleContext& ctx) const {
    const Rule r(ctx, "port", p.name, &at, p.origin);
    r.check_name("name", p.name);
    if (ports_.count(p.name)) r.duplicate_name(ctx.config.ports, "ports", "port");
    const std::string id = r.check_device("device", p.device);
    if (id == underlay_id_)
        r.fail("device", ErrorKind::Duplicate,
               fmt::format("device {} duplicates node.underlay.device", quote(id)),
               ErrorInfo::Conflict{"node", node_name_, "node.underlay.device"});
    if (auto it = port_ids_.find(id); it != port_ids_.end()) {
        const std::string other = position(ctx.config.ports, "ports", it->second);
        r.fail("device", ErrorKind::Duplicate,
               fmt::format("device {} duplicates {}.device", quote(id), other),
               ErrorInfo::Conflict{"port", it->second, other + ".device"});
    }
}

void ModelIndex::check_network(const model::Network& net, const Place& at,
                               const RuleContext& ctx) const {
    const Rule r(ctx, "network", net.name, &at, net.origin);
    const auto& list = ctx.config.networks;
    r.check_name("name", net.name);
    if (networks_.count(net.name)) r.duplicate_name(list, "networks", "network");

    if (net.vni < 1 || net.vni > kMaxVni)
        r.fail("vni", ErrorKind::Range, fmt::format("{} is out of range 1..{}", net.vni, kMaxVni));
    if (auto it = vnis_.find(net.vni); it != vnis_.end()) {
        const std::string other = position(list, "networks", it->second);
        r.fail("vni", ErrorKind::Duplicate, fmt::format("{} duplicates {}.vni", net.vni, other),
               ErrorInfo::Conflict{"network", it->second, other + ".vni"});
    }

    const model::Ipv4Prefix& s = net.subnet;
    if (s.length < kMinSubnetLength || s.length > kMaxSubnetLength)
        r.fail("subnet", ErrorKind::Range,
               fmt::format("prefix length {} is out of range {}..{}", s.length, kMinSubnetLength,
                           kMaxSubnetLength));
    if (network_of(s.address, s.length) != s.address.value)
        r.fail("subnet", ErrorKind::Invalid,
               fmt::format("{} has host bits set (did you mean {}?)", format_prefix(s),
                           format_prefix(model::Ipv4{network_of(s.address, s.length)}, s.length)));
    if (!is_unicast(s.address))
        r.fail("subnet", ErrorKind::Invalid,
               fmt::format("{} is not a unicast address range", format_prefix(s)));
    {
        // The indexed subnets are disjoint: those overlapping [first, last] are the one
        // starting at or before `first` (if it reaches it) and those starting inside.
        const uint32_t first = s.address.value, last = broadcast_of(s.address, s.length);
        std::set<std::string> overlapping;
        auto it = subnets_.upper_bound(first);
        if (it != subnets_.begin()) {
            auto before = std::prev(it);
            if (before->second.first >= first) overlapping.insert(before->second.second);
        }
        for (; it != subnets_.end() && it->first <= last; ++it)
            overlapping.insert(it->second.second);
        if (!overlapping.empty()) {
            const std::string name = first_in_order(list, overlapping);
            const std::string other = position(list, "networks", name);
            r.fail("subnet", ErrorKind::Overlap,
                   fmt::format("{} overlaps {}.subnet {}", format_prefix(s), other,
                               format_prefix(networks_.at(name).subnet)),
                   ErrorInfo::Conflict{"network", name, other + ".subnet"});
        }
    }

    if (!s.contains(net.gateway))
        r.fail("gateway", ErrorKind::Invalid,
               fmt::format("{} is outside subnet {}", format_ipv4(net.gateway), format_prefix(s)));
    r.check_host_in("gateway", net.gateway, s.address, s.length);

    if (net.mtu < kMinMtu || net.mtu > kMaxMtu)
        r.fail("mtu", ErrorKind::Range,
               fmt::format("{} is out of range {}..{}", net.mtu, kMinMtu, kMaxMtu));

    if (net.ip_range) {
        const model::Ipv4Prefix& rg = *net.ip_range;
        if (rg.length > 32)
            r.fail("ip_range", ErrorKind::Range,
                   fmt::format("prefix length {} is out of range {}..32", rg.length, s.length));
        if (network_of(rg.address, rg.length) != rg.address.value)
            r.fail("ip_range", ErrorKind::Invalid,
                   fmt::format(
                       "{} has host bits set (did you mean {}?)", format_prefix(rg),
                       format_prefix(model::Ipv4{network_of(rg.address, rg.length)}, rg.length)));
        if (rg.length < s.length && network_of(s.address, rg.length) == rg.address.value)
            r.fail("ip_range", ErrorKind::Invalid,
                   fmt::format("{} is larger than subnet {}", format_prefix(rg), format_prefix(s)));
        if (rg.length < s.length || !s.contains(rg.address))
            r.fail("ip_range", ErrorKind::Invalid,
                   fmt::format("{} is outside subnet {}", format_prefix(rg), format_prefix(s)));
    }

    if (!net.id.empty()) {
        if (!valid_id(net.id))
            r.fail("id", ErrorKind::Invalid,
                   fmt::format("{} is not a network id ({} characters of 0-9 a-z)", quote(net.id),
                               kIdLength));
        if (auto it = network_ids_.find(net.id); it != network_ids_.end()) {
            const std::string other = position(list, "networks", it->second);
            r.fail("id", ErrorKind::Duplicate,
                   fmt::format("{} duplicates {}.id", quote(net.id), other),
                   ErrorInfo::Conflict{"network", it->second, other + ".id"});
        }
    }
    if (!net.created.empty() && !valid_rfc3339(net.created))
        r.fail("created", ErrorKind::Invalid,
               fmt::format("{} is not an RFC 3339 time (like 2024-05-01T12:00:00.123456789Z)",
                           quote(net.created)));
    if (net.ingress && !ingress_.empty()) {
        const std::string other = position(list, "networks", ingress_);
        r.fail("ingress", ErrorKind::Duplicate,
               fmt::format("{} {} is already the ingress network (there can be only one)", other,
                           quote(ingress_)),
               ErrorInfo::Conflict{"network", ingress_, other + ".ingress"});
    }
    for (const auto& [key, value] : net.labels) {
        if (key.empty()) r.fail("labels", ErrorKind::Invalid, "empty label name");
        if (has_control(key) || key.find('=') != std::string::npos)
            r.fail("labels", ErrorKind::Invalid,
                   fmt::format("label name {} contains '=' or a control character", quote(key)));
        if (has_control(value))
            r.fail("labels." + key, ErrorKind::Invalid,
                   fmt::format("label value {} contains a control character", quote(value)));
    }
}

void ModelIndex::check_peer(const model::Peer& p, const Place& at, const RuleContext& ctx) const {
    const Rule r(ctx, "peer", p.name, &at, p.origin);
    const model::Node& n = ctx.config.node;
    r.check_name("name", p.name);
    if (p.name == node_name_)
        r.fail("name", ErrorKind::Invalid,
               fmt::format("{} is this node's own name (node.name)", quote(p.name)));
    if (peers_.count(p.name)) r.duplicate_name(ctx.config.peers, "peers", "peer");

    r.check_unicast("address", p.address);
    if (p.address == n.data_path_addr)
        r.fail("address", ErrorKind::Invalid,
               fmt::format("{} is this node's own address (node.data_path_addr)",
                           format_ipv4(p.address)));
    if (auto it = peer_addresses_.find(p.address.value); it != peer_addresses_.end()) {
        const std::string other = position(ctx.config.peers, "peers", it->second);
        r.fail("address", ErrorKind::Duplicate,
               fmt::format("{} duplicates {}.address", format_ipv4(p.address), other),
               ErrorInfo::Conflict{"peer", it->second, other + ".address"});
    }
    const bool on_link =
        network_of(p.address, n.prefix_length) == network_of(n.data_path_addr, n.prefix_length);
    if (on_link) {
        r.check_host_in("address", p.address, n.data_path_addr, n.prefix_length);
    } else if (!n.gateway) {
        r.fail("address", ErrorKind::Invalid,
               fmt::format("{} is outside node.data_path_addr {} and node.gateway is not set",
                           format_ipv4(p.address),
                           format_prefix(n.data_path_addr, n.prefix_length)));
    }
}

std::vector<std::string> ModelIndex::attached(const model::Service& s) const {
    std::vector<std::string> out = s.networks;
    if (!ingress_.empty() && s.publishes_ingress()) out.push_back(ingress_);
    return out;
}

std::string ModelIndex::owner_path(const Owner& o, const std::string& network,
                                   const RuleContext& ctx) const {
    switch (o.holder) {
    case Holder::Endpoint:
        return position(ctx.config.endpoints, "endpoints", o.name) + ".ip";
    case Holder::Vip:
        return position(ctx.config.services, "services", o.name) + ".vips." + network;
    case Holder::LoadBalancer:
        return lb_position(ctx.config, network, o.name) + ".ip";
    }
    return "";
}

// An address in `net` given to an endpoint, a VIP or a load balancer: a host of the
// subnet, not its gateway, used once in the network.
void ModelIndex::check_address(const std::string& field, model::Ipv4 address,
                               const model::Network& net, const Rule& r) const {
    const std::string ip = format_ipv4(address);
    if (!net.subnet.contains(address))
        r.fail(field, ErrorKind::Invalid,
               fmt::format("{} is outside subnet {} of network {}", ip, format_prefix(net.subnet),
                           quote(net.name)));
    r.check_host_in(field, address, net.subnet.address, net.subnet.length);
    if (address == net.gateway)
        r.fail(field, ErrorKind::Invalid,
               fmt::format("{} is the gateway of network {}", ip, quote(net.name)));
    if (auto it = addresses_.find({net.name, address.value}); it != addresses_.end()) {
        static const char* const kinds[] = {"endpoint", "service", "load_balancer"};
        const std::string other = owner_path(it->second, net.name, r.ctx());
        r.fail(field, ErrorKind::Duplicate,
               fmt::format("{} duplicates {} in network {}", ip, other, quote(net.name)),
               ErrorInfo::Conflict{kinds[static_cast<int>(it->second.holder)], it->second.name,
                                   other});
    }
}

void ModelIndex::check_service(const model::Service& s, const Place& at,
                               const RuleContext& ctx) const {
    const Rule r(ctx, "service", s.name, &at, s.origin);
    const auto& list = ctx.config.services;
    r.check_name("name", s.name);
    if (services_.count(s.name)) r.duplicate_name(list, "services", "service");
    if (!s.id.empty()) {
        if (!valid_id(s.id))
            r.fail("id", ErrorKind::Invalid,
                   fmt::format("{} is not a service id ({} characters of 0-9 a-z)", quote(s.id),
                               kIdLength));
        if (auto it = service_ids_.find(s.id); it != service_ids_.end()) {
            const std::string other = position(list, "services", it->second);
            r.fail("id", ErrorKind::Duplicate,
                   fmt::format("{} duplicates {}.id", quote(s.id), other),
                   ErrorInfo::Conflict{"service", it->second, other + ".id"});
        }
    }
    if (!s.created.empty() && !valid_rfc3339(s.created))
        r.fail("created", ErrorKind::Invalid,
               fmt::format("{} is not an RFC 3339 time (like 2024-05-01T12:00:00.123456789Z)",
                           quote(s.created)));

    std::unordered_map<std::string, std::size_t> listed;
    for (std::size_t j = 0; j < s.networks.size(); ++j) {
        const std::string& name = s.networks[j];
        const std::string field = fmt::format("networks[{}]", j);
        const model::Network* net = network(name);
        if (net == nullptr)
            r.fail(field, ErrorKind::Unknown, fmt::format("unknown network {}", quote(name)));
        if (net->ingress)
            // swarmkit refuses it too: the published ports decide who is on ingress.
            r.fail(field, ErrorKind::Invalid,
                   fmt::format("{} is the ingress network: a service is attached to it by "
                               "publishing a port in ingress mode, not by name",
                               quote(name)));
        if (auto [it, added] = listed.try_emplace(name, j); !added)
            r.fail(field, ErrorKind::Duplicate,
                   fmt::format("{} duplicates networks[{}]", quote(name), it->second));
    }

    // Published ports, with Docker's rules (swarmkit's validateEndpointSpec and
    // checkPortConflicts): once per port and protocol within a service; an ingress port
    // is the whole swarm's, so no other service may publish it in either mode, while
    // host-mode ports may repeat across services (the scheduler's business).
    std::map<std::pair<uint16_t, model::Protocol>, std::size_t> own;
    for (std::size_t j = 0; j < s.ports.size(); ++j) {
        const model::PublishedPort& p = s.ports[j];
        const std::string field = fmt::format("ports[{}].published", j);
        const std::string what = fmt::format("{}/{}", p.published, model::to_string(p.protocol));
        const auto key = std::pair{p.published, p.protocol};
        if (auto [it, added] = own.try_emplace(key, j); !added)
            r.fail(field, ErrorKind::Duplicate,
                   fmt::format("port {} duplicates ports[{}] (a port is published once per "
                               "protocol)",
                               what, it->second));
        auto in_use = [&](const auto& first, const char* as) {
            if (auto it = first.find(key); it != first.end()) {
                const std::string other = position(list, "services", it->second);
                r.fail(field, ErrorKind::Duplicate,
                       fmt::format("port {} is already in use by {} {} as {}", what, other,
                                   quote(it->second), as),
                       ErrorInfo::Conflict{"service", it->second, other});
            }
        };
        if (p.mode == model::PublishMode::Ingress) {
            if (s.endpoint_mode == model::EndpointMode::Dnsrr)
                r.fail(fmt::format("ports[{}].mode", j), ErrorKind::Invalid,
                       fmt::format("port {} is published in ingress mode, which endpoint_mode "
                                   "dnsrr cannot use (the routing mesh balances over a VIP); "
                                   "publish it in host mode",
                                   what));
            if (ingress_.empty())
                r.fail(fmt::format("ports[{}].mode", j), ErrorKind::Invalid,
                       fmt::format("port {} is published in ingress mode, but there is no "
                                   "ingress network (create one with network create --ingress)",
                                   what));
            in_use(ingress_ports_, "an ingress port");
            in_use(host_ports_, "a host-published port");
        } else {
            in_use(ingress_ports_, "an ingress port");
        }
    }

    if (s.endpoint_mode == model::EndpointMode::Dnsrr && !s.vips.empty())
        r.fail("vips", ErrorKind::Invalid, "a dnsrr service has no VIPs");
    const auto networks = attached(s);
    for (const auto& [name, vip] : s.vips) {
        const std::string field = "vips." + name;
        if (std::find(networks.begin(), networks.end(), name) == networks.end())
            r.fail(field, ErrorKind::Invalid,
                   fmt::format("service {} is not attached to network {}", quote(s.name),
                               quote(name)));
        check_address(field, vip, *network(name), r);
    }
}

void ModelIndex::check_load_balancer(const model::LoadBalancer& lb, const Place& at,
                                     const RuleContext& ctx) const {
    const std::string name = lb.network + "@" + lb.node;
    const Rule r(ctx, "load_balancer", name, &at, lb.origin);
    const model::Network* net = network(lb.network);
    if (net == nullptr)
        r.fail("network", ErrorKind::Unknown, fmt::format("unknown network {}", quote(lb.network)));
    if (lb.node != node_name_ && !peers_.count(lb.node))
        r.fail("node", ErrorKind::Unknown, fmt::format("unknown node {}", quote(lb.node)));
    if (load_balancers_.count({lb.network, lb.node})) {
        const std::string other = lb_position(ctx.config, lb.network, lb.node);
        r.fail("", ErrorKind::Duplicate,
               fmt::format("duplicates {} (network {} on node {})", other, quote(lb.network),
                           quote(lb.node)),
               ErrorInfo::Conflict{"load_balancer", name, other});
    }
    check_address("ip", lb.ip, *net, r);
}

void ModelIndex::check_endpoint(const model::Endpoint& ep, const Place& at,
                                const RuleContext& ctx) const {
    const Rule r(ctx, "endpoint", ep.name, &at, ep.origin);
    const auto& list = ctx.config.endpoints;
    r.check_name("name", ep.name);
    if (endpoints_.count(ep.name)) r.duplicate_name(list, "endpoints", "endpoint");

    const model::Network* net = network(ep.network);
    if (net == nullptr)
        r.fail("network", ErrorKind::Unknown, fmt::format("unknown network {}", quote(ep.network)));
    if (!ep.service.empty()) {
        const model::Service* sv = service(ep.service);
        if (sv == nullptr)
            r.fail("service", ErrorKind::Unknown,
                   fmt::format("unknown service {}", quote(ep.service)));
        const auto networks = attached(*sv);
        if (std::find(networks.begin(), networks.end(), ep.network) == networks.end())
            r.fail("network", ErrorKind::Invalid,
                   fmt::format("network {} is not attached to service {} (its networks: {})",
                               quote(ep.network), quote(sv->name),
                               networks.empty() ? std::string("none")
                                                : fmt::format("{}", fmt::join(networks, ", "))));
    }
    check_address("ip", ep.ip, *net, r);

    r.check_mac("mac", ep.mac);
    if (auto it = macs_.find({ep.network, mac_key(ep.mac)}); it != macs_.end()) {
        const std::string other = position(list, "endpoints", it->second);
        r.fail("mac", ErrorKind::Duplicate,
               fmt::format("{} duplicates {}.mac in network {}", format_mac(ep.mac), other,
                           quote(net->name)),
               ErrorInfo::Conflict{"endpoint", it->second, other + ".mac"});
    }

    if (ep.node == node_name_) {
        if (ep.port.empty())
            r.fail("", ErrorKind::Missing,
                   "missing required field 'port' (required for an endpoint on this node)");
        if (!ports_.count(ep.port))
            r.fail("port", ErrorKind::Unknown, fmt::format("unknown port {}", quote(ep.port)));
        // The dataplane tells a port's endpoints apart by source MAC alone, whatever their
        // network.
        if (auto it = port_macs_.find({ep.port, mac_key(ep.mac)}); it != port_macs_.end()) {
            const std::string other = position(list, "endpoints", it->second);
            r.fail("mac", ErrorKind::Duplicate,
                   fmt::format("{} duplicates {}.mac on port {}", format_mac(ep.mac), other,
                               quote(ep.port)),
                   ErrorInfo::Conflict{"endpoint", it->second, other + ".mac"});
        }
    } else {
        if (!peers_.count(ep.node))
            r.fail("node", ErrorKind::Unknown, fmt::format("unknown node {}", quote(ep.node)));
        if (!ep.port.empty())
            r.fail("port", ErrorKind::Invalid,
                   fmt::format("not allowed on a remote endpoint (node {} is a peer)",
                               quote(ep.node)));
    }
}

void ModelIndex::add(const model::Node& node) {
    node_name_ = node.name;
    underlay_id_ = device_identity(node.underlay.device).value_or(node.underlay.device);
}

void ModelIndex::add(const model::AccessPort& port) {
    const std::string id = device_identity(port.device).value_or(port.device);
    ports_.emplace(port.name, id);
    port_ids_.emplace(id, port.name);
}

void ModelIndex::add(const model::Network& n) {
    model::Network copy = n;
    copy.origin = {};
    networks_.emplace(n.name, std::move(copy));
    vnis_.emplace(n.vni, n.name);
    subnets_.emplace(n.subnet.address.value,
                     std::pair{broadcast_of(n.subnet.address, n.subnet.length), n.name});
    if (!n.id.empty()) network_ids_.emplace(n.id, n.name);
    if (n.ingress && ingress_.empty()) ingress_ = n.name;
}

void ModelIndex::add(const model::Peer& p) {
    peers_.emplace(p.name, model::Peer{p.name, p.address, {}});
    peer_addresses_.emplace(p.address.value, p.name);
}

void ModelIndex::add(const model::Service& s) {
    model::Service copy = s;
    copy.origin = {};
    services_.emplace(s.name, std::move(copy));
    if (!s.id.empty()) service_ids_.emplace(s.id, s.name);
    for (const auto& p : s.ports)
        (p.mode == model::PublishMode::Ingress ? ingress_ports_ : host_ports_)
            .emplace(std::pair{p.published, p.protocol}, s.name);
    for (const auto& [network, vip] : s.vips)
        addresses_.emplace(std::pair{network, vip.value}, Owner{Holder::Vip, s.name});
}

void ModelIndex::add(const model::LoadBalancer& lb) {
    load_balancers_.emplace(std::pair{lb.network, lb.node},
                            model::LoadBalancer{lb.network, lb.node, lb.ip, {}});
    addresses_.emplace(std::pair{lb.network, lb.ip.value}, Owner{Holder::LoadBalancer, lb.node});
}

void ModelIndex::add(const model::Endpoint& e) {
    model::Endpoint copy = e;
    copy.origin = {};
    endpoints_.emplace(e.name, std::move(copy));
    addresses_.emplace(std::pair{e.network, e.ip.value}, Owner{Holder::Endpoint, e.name});
    macs_.emplace(std::pair{e.network, mac_key(e.mac)}, e.name);
    if (e.node == node_name_) port_macs_.emplace(std::pair{e.port, mac_key(e.mac)}, e.name);
    ++on_node_[e.node];
    if (!e.service.empty()) {
        ++tasks_at_[{e.network, e.node}];
        ++tasks_of_[{e.service, e.network}];
    }
}

namespace {

// Takes one from a count, forgetting the key at zero (so that equal contents compare equal).
template <typename Map, typename Key> void decrement(Map& counts, const Key& key) {
    auto it = counts.find(key);
    if (it != counts.end() && --it->second == 0) counts.erase(it);
}

// Erases `key` only when `value` holds it (a first holder stays when a later one goes).
template <typename Map, typename Key, typename Value>
void erase_if_held(Map& map, const Key& key, const Value& value) {
    auto it = map.find(key);
    if (it != map.end() && it->second == value) map.erase(it);
}

} // namespace

void ModelIndex::remove_endpoint(const std::string& name) {
    auto it = endpoints_.find(name);
    if (it == endpoints_.end()) return;
    const model::Endpoint& e = it->second;
    erase_if_held(addresses_, std::pair{e.network, e.ip.value}, Owner{Holder::Endpoint, e.name});
    erase_if_held(macs_, std::pair{e.network, mac_key(e.mac)}, e.name);
    if (e.node == node_name_) erase_if_held(port_macs_, std::pair{e.port, mac_key(e.mac)}, e.name);
    decrement(on_node_, e.node);
    if (!e.service.empty()) {
        decrement(tasks_at_, std::pair{e.network, e.node});
        decrement(tasks_of_, std::pair{e.service, e.network});
    }
    endpoints_.erase(it);
}

void ModelIndex::remove_peer(const std::string& name) {
    auto it = peers_.find(name);
    if (it == peers_.end()) return;
    erase_if_held(peer_addresses_, it->second.address.value, name);
    peers_.erase(it);
}

void ModelIndex::remove_load_balancer(const std::string& network, const std::string& node) {
    auto it = load_balancers_.find({network, node});
    if (it == load_balancers_.end()) return;
    erase_if_held(addresses_, std::pair{network, it->second.ip.value},
                  Owner{Holder::LoadBalancer, node});
    load_balancers_.erase(it);
}

const model::Network* ModelIndex::network(const std::string& name) const {
    auto it = networks_.find(name);
    return it == networks_.end() ? nullptr : &it->second;
}
const model::Peer* ModelIndex::peer(const std::string& name) const {
    auto it = peers_.find(name);
    return it == peers_.end() ? nullptr : &it->second;
}
const model::Endpoint* ModelIndex::endpoint(const std::string& name) const {
    auto it = endpoints_.find(name);
    return it == endpoints_.end() ? nullptr : &it->second;
}
const model::Service* ModelIndex::service(const std::string& name) const {
    auto it = services_.find(name);
    return it == services_.end() ? nullptr : &it->second;
}
const model::LoadBalancer* ModelIndex::load_balancer(const std::string& network,
                                                     const std::string& node) const {
    auto it = load_balancers_.find({network, node});
    return it == load_balancers_.end() ? nullptr : &it->second;
}
std::size_t ModelIndex::endpoints_on(const std::string& node) const {
    auto it = on_node_.find(node);
    return it == on_node_.end() ? 0 : it->second;
}
std::size_t ModelIndex::tasks_at(const std::string& network, const std::string& node) const {
    auto it = tasks_at_.find({network, node});
    return it == tasks_at_.end() ? 0 : it->second;
}
std::size_t ModelIndex::tasks_of(const std::string& service, const std::string& network) const {
    auto it = tasks_of_.find({service, network});
    return it == tasks_of_.end() ? 0 : it->second;
}

} // namespace vxmesh::control
