// YAML configuration loader: strict parsing into the model, then whole-config validation.
//
// Two passes. The reader turns YAML into model objects, rejecting syntax errors, unknown
// or duplicate keys, missing required fields and values of the wrong type; it records
// where every value came from (path -> file:line:column). The validator then checks the
// model as a whole (names, references, ranges, addresses, uniqueness). When it runs on
// a freshly loaded file it points at the offending value via that record; when it runs
// on a Config built some other way (validate_config) it falls back to each object's
// Origin. Either way the first problem found is thrown as ConfigError, formatted as
// "FILE:LINE:COLUMN: PATH: REASON".
#include "control/config_load.hpp"

#include "control/text_checks.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vxmesh::control {

namespace {

using model::AccessPort;
using model::Config;
using model::Endpoint;
using model::Ipv4;
using model::Ipv4Prefix;
using model::Mac;
using model::Network;
using model::Origin;
using model::Peer;

// Where each loaded value came from, keyed by its field path ("networks[1].vni").
using FieldOrigins = std::map<std::string, Origin>;

constexpr std::size_t kMaxNameLength = 63;
constexpr uint32_t kMaxVni = 16777215;
constexpr int kMinMtu = 576;
constexpr int kMaxMtu = 9000;
constexpr int kEncryptedMtu = 1424;
constexpr std::size_t kIdLength = 25;
constexpr int kMinSubnetLength = 8;
constexpr int kMaxSubnetLength = 30;
constexpr int kMinUnderlayLength = 8;
constexpr int kMaxUnderlayLength = 31;

// ---------------------------------------------------------------------------------------
// Formatting

using model::format_ipv4;
using model::format_mac;
using model::format_prefix;

// User text echoed in a message: quoted, control characters and bytes that are not
// UTF-8 escaped, long text cut (never inside a character: the message must stay UTF-8).
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

std::string format_error(const Origin& origin, std::string_view path, std::string_view reason) {
    std::string out;
    if (!origin.file.empty()) out = origin.file;
    if (origin.line > 0) {
        if (!out.empty()) out += ':';
        out += fmt::format("{}:{}", origin.line, origin.column);
    }
    if (!out.empty()) out += ": ";
    if (!path.empty()) {
        out += path;
        out += ": ";
    }
    out += reason;
    return out;
}

std::string index_path(std::string_view list, std::size_t i) {
    return fmt::format("{}[{}]", list, i);
}

std::string field_path(std::string_view object, std::string_view field) {
    return object.empty() ? std::string(field) : fmt::format("{}.{}", object, field);
}

// ---------------------------------------------------------------------------------------
// Strict textual parsers

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

using model::parse_ipv4;
using model::parse_mac;

// "a.b.c.d/len" (or "a.b.c.d" when the prefix is optional). The length is one or two
// decimal digits; its range is the validator's business.
struct AddrLen {
    Ipv4 address;
    std::optional<uint8_t> length;
};

std::optional<AddrLen> parse_addr_len(std::string_view s) {
    const auto slash = s.find('/');
    const auto ip = parse_ipv4(s.substr(0, slash));
    if (!ip) return std::nullopt;
    if (slash == std::string_view::npos) return AddrLen{*ip, std::nullopt};
    const std::string_view len = s.substr(slash + 1);
    if (len.empty() || len.size() > 2 || (len.size() == 2 && len[0] == '0')) return std::nullopt;
    unsigned value = 0;
    for (char c : len) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return AddrLen{*ip, static_cast<uint8_t>(value)};
}

// Docker's rule: 02:42 followed by the four bytes of the IPv4 address.
using model::default_mac;

// ---------------------------------------------------------------------------------------
// Semantic predicates shared by the validator

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
bool is_unicast(Ipv4 ip) {
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
uint32_t network_of(Ipv4 ip, unsigned length) {
    return ip.value & mask_of(length);
}
uint32_t broadcast_of(Ipv4 ip, unsigned length) {
    return ip.value | ~mask_of(length);
}

bool is_unicast_mac(const Mac& mac) {
    return (mac.bytes[0] & 0x01) == 0;
}
bool is_zero_mac(const Mac& mac) {
    return mac == Mac{};
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

// ---------------------------------------------------------------------------------------
// Reader: YAML -> model, with types, required fields and unknown keys checked.

class Reader {
public:
    Reader(std::string file, FieldOrigins& origins) : file_(std::move(file)), origins_(origins) {}

    Config read_document(const std::string& text);
    // The tree of a document, however it was made (parsed from text, or built from JSON).
    Config read_root(const YAML::Node& root);

private:
    // Before the tree is built: a NUL byte or bytes that are not UTF-8, at their own
    // position, and nesting deeper than max_config_depth.
    void check_text(const std::string& text) const;
    // One pass of the parser over the text before it is loaded: refuses nesting deeper
    // than max_config_depth; says where a second document starts, or the syntax error
    // in it.
    struct Scan {
        std::optional<YAML::Mark> second;
        std::optional<YAML::Exception> second_error;
    };
    Scan scan(const std::string& text) const;

    // One "key: value" entry of a mapping.
    struct Entry {
        YAML::Node key;
        YAML::Node value;
    };

    // A mapping whose keys have been checked against the schema.
    class Mapping {
    public:
        Mapping(Reader& reader, const YAML::Node& node, std::string path,
                std::initializer_list<std::string_view> allowed);

        const std::string& path() const { return path_; }
        const YAML::Node& node() const { return node_; }

        // The entry for `key`; nullopt when absent or, for optional fields, null.
        std::optional<Entry> optional(std::string_view key) const;
        // The entry for `key`; fails when absent or null.
        Entry required(std::string_view key) const;

    private:
        Reader& reader_;
        YAML::Node node_;
        std::string path_;
        std::vector<std::pair<std::string, Entry>> entries_;
    };

    Origin origin(const YAML::Node& node) const;
    // Position of an entry's value; an empty value has no useful mark of its own, so it
    // points at its key.
    Origin origin(const Entry& e) const {
        return e.value.IsNull() ? origin(e.key) : origin(e.value);
    }

    [[noreturn]] void fail(const Origin& at, std::string_view path, std::string_view reason) const {
        throw ConfigError(format_error(at, path, reason));
    }
    [[noreturn]] void fail(const YAML::Node& at, std::string_view path,
                           std::string_view reason) const {
        fail(origin(at), path, reason);
    }

    static std::string describe(const YAML::Node& node);
    void record(const std::string& path, const Origin& at) { origins_[path] = at; }

    // Typed values. Each records the value's origin under `path`.
    std::string get_string(const Entry& e, const std::string& path);
    int64_t get_integer(const Entry& e, const std::string& path, int64_t min, int64_t max);
    bool get_bool(const Entry& e, const std::string& path);
    Ipv4 get_ipv4(const Entry& e, const std::string& path);
    AddrLen get_addr_len(const Entry& e, const std::string& path, bool length_required);
    Mac get_mac(const Entry& e, const std::string& path);
    // The items of an optional list (absent or null: none).
    std::vector<YAML::Node> get_list(const std::optional<Entry>& e, const std::string& path);
    // A mapping keyed by names (labels, networks): each key a scalar, given once; `read`
    // gets each key and its value. `kind` names the keys in messages ("label").
    template <typename Read>
    void for_each_named(const Entry& e, const std::string& path, const char* kind, Read read);
    // A mapping of label names to string values.
    std::map<std::string, std::string> get_labels(const Entry& e, const std::string& path);

    void read_node(const Mapping& top, Config& config);
    AccessPort read_port(const YAML::Node& item, const std::string& path);
    Network read_network(const YAML::Node& item, const std::string& path);
    Peer read_peer(const YAML::Node& item, const std::string& path);
    Endpoint read_endpoint(const YAML::Node& item, const std::string& path);
    model::Service read_service(const YAML::Node& item, const std::string& path);
    model::PublishedPort read_published_port(const YAML::Node& item, const std::string& path);
    model::LoadBalancer read_load_balancer(const YAML::Node& item, const std::string& path);
    // A mapping of network names to IPv4 addresses (a service's VIPs).
    std::map<std::string, Ipv4> get_vips(const Entry& e, const std::string& path);
    // One of `names` (`parse` turns the text into the value), else "expected A or B".
    template <typename Parse>
    auto get_choice(const Entry& e, const std::string& path, const char* names, Parse parse);

    std::string file_;
    FieldOrigins& origins_;
};

Origin Reader::origin(const YAML::Node& node) const {
    if (file_.empty()) return Origin{}; // a tree built from JSON: the path says where
    const YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return Origin{file_, 1, 1};
    return Origin{file_, mark.line + 1, mark.column + 1};
}

std::string Reader::describe(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Null:
        return "an empty value";
    case YAML::NodeType::Sequence:
        return "a list";
    case YAML::NodeType::Map:
        return "a mapping";
    case YAML::NodeType::Scalar:
        // A plain scalar is shown as written; a quoted or tagged one is a string.
        if (node.Tag() == "?") return quote(node.Scalar());
        return "the string " + quote(node.Scalar());
    case YAML::NodeType::Undefined:
        break;
    }
    return "nothing";
}

Reader::Mapping::Mapping(Reader& reader, const YAML::Node& node, std::string path,
                         std::initializer_list<std::string_view> allowed)
    : reader_(reader), node_(node), path_(std::move(path)) {
    if (!node.IsMap()) reader.fail(node, path_, "expected a mapping, got " + describe(node));
    for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node key = it->first;
        if (!key.IsScalar()) {
            reader.fail(key, path_, "expected a field name, got " + describe(key));
        }
        const std::string& name = key.Scalar();
        bool known = false;
        for (std::string_view a : allowed)
            known = known || a == name;
        if (!known) reader.fail(key, path_, fmt::format("unknown field {}", quote(name)));
        for (const auto& [seen, entry] : entries_) {
            if (seen == name) {
                reader.fail(key, path_,
                            fmt::format("duplicate field {} (first at line {})", quote(name),
                                        reader.origin(entry.key).line));
            }
        }
        entries_.emplace_back(name, Entry{key, it->second});
    }
    reader.record(path_, reader.origin(node));
}

std::optional<Reader::Entry> Reader::Mapping::optional(std::string_view key) const {
    for (const auto& [name, entry] : entries_) {
        if (name == key) {
            if (entry.value.IsNull()) return std::nullopt;
            return entry;
        }
    }
    return std::nullopt;
}

Reader::Entry Reader::Mapping::required(std::string_view key) const {
    for (const auto& [name, entry] : entries_) {
        if (name == key) {
            if (entry.value.IsNull())
                reader_.fail(entry.key, field_path(path_, key), "missing value");
            return entry;
        }
    }
    reader_.fail(node_, path_, fmt::format("missing required field '{}'", key));
}

std::string Reader::get_string(const Entry& e, const std::string& path) {
    record(path, origin(e));
    if (!e.value.IsScalar()) fail(origin(e), path, "expected a string, got " + describe(e.value));
    return e.value.Scalar();
}

int64_t Reader::get_integer(const Entry& e, const std::string& path, int64_t min, int64_t max) {
    record(path, origin(e));
    const YAML::Node& v = e.value;
    const bool plain = v.IsScalar() && (v.Tag() == "?" || v.Tag() == "tag:yaml.org,2002:int");
    const std::string text = plain ? v.Scalar() : std::string();
    std::size_t pos = text.size() > 1 && text[0] == '-' ? 1 : 0;
    bool digits = plain && pos < text.size();
    for (std::size_t i = pos; digits && i < text.size(); ++i)
        digits = is_digit(text[i]);
    if (!digits) fail(origin(e), path, "expected an integer, got " + describe(v));

    // Accumulate with saturation: anything past int64 is simply out of range.
    int64_t magnitude = 0;
    for (; pos < text.size(); ++pos) {
        const int d = text[pos] - '0';
        if (magnitude > (std::numeric_limits<int64_t>::max() - d) / 10) {
            magnitude = std::numeric_limits<int64_t>::max();
            break;
        }
        magnitude = magnitude * 10 + d;
    }
    const int64_t value = text[0] == '-' ? -magnitude : magnitude;
    if (value < min || value > max || magnitude == std::numeric_limits<int64_t>::max()) {
        fail(origin(e), path, fmt::format("{} is out of range {}..{}", text, min, max));
    }
    return value;
}

bool Reader::get_bool(const Entry& e, const std::string& path) {
    record(path, origin(e));
    const YAML::Node& v = e.value;
    if (v.IsScalar() && (v.Tag() == "?" || v.Tag() == "tag:yaml.org,2002:bool")) {
        const std::string& s = v.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(origin(e), path, "expected true or false, got " + describe(v));
}

Ipv4 Reader::get_ipv4(const Entry& e, const std::string& path) {
    const std::string s = get_string(e, path);
    const auto ip = parse_ipv4(s);
    if (!ip) fail(origin(e), path, fmt::format("{} is not a valid IPv4 address", quote(s)));
    return *ip;
}

AddrLen Reader::get_addr_len(const Entry& e, const std::string& path, bool length_required) {
    const std::string s = get_string(e, path);
    const auto al = parse_addr_len(s);
    if (!al || (length_required && !al->length)) {
        fail(origin(e), path,
             quote(s) + (length_required ? " is not a valid IPv4 prefix (a.b.c.d/len)"
                                         : " is not a valid IPv4 address (a.b.c.d[/len])"));
    }
    return *al;
}

Mac Reader::get_mac(const Entry& e, const std::string& path) {
    const std::string s = get_string(e, path);
    const auto mac = parse_mac(s);
    if (!mac) {
        fail(origin(e), path,
             fmt::format("{} is not a valid MAC address (six hex pairs separated by ':')",
                         quote(s)));
    }
    return *mac;
}

std::vector<YAML::Node> Reader::get_list(const std::optional<Entry>& e, const std::string& path) {
    std::vector<YAML::Node> items;
    if (!e) return items;
    record(path, origin(*e));
    if (!e->value.IsSequence())
        fail(origin(*e), path, "expected a list, got " + describe(e->value));
    for (const auto& item : e->value)
        items.push_back(item);
    return items;
}

void Reader::read_node(const Mapping& top, Config& config) {
    const Entry entry = top.required("node");
    const Mapping m(*this, entry.value, "node",
                    {"name", "data_path_addr", "gateway", "underlay", "vxlan_port", "ttl",
                     "dont_fragment", "accept_unknown_peers"});
    model::Node& node = config.node;
    node.origin = origin(m.node());
    node.name = get_string(m.required("name"), "node.name");

    const AddrLen addr = get_addr_len(m.required("data_path_addr"), "node.data_path_addr", false);
    node.data_path_addr = addr.address;
    node.prefix_length = addr.length.value_or(24);

    if (auto e = m.optional("gateway")) node.gateway = get_ipv4(*e, "node.gateway");

    const Mapping u(*this, m.required("underlay").value, "node.underlay", {"device", "mac"});
    node.underlay.device = get_string(u.required("device"), "node.underlay.device");
    if (auto e = u.optional("mac")) node.underlay.mac = get_mac(*e, "node.underlay.mac");

    if (auto e = m.optional("vxlan_port")) {
        node.vxlan_port = static_cast<uint16_t>(get_integer(*e, "node.vxlan_port", 1, 65535));
    }
    if (auto e = m.optional("ttl"))
        node.ttl = static_cast<uint8_t>(get_integer(*e, "node.ttl", 1, 255));
    if (auto e = m.optional("dont_fragment"))
        node.dont_fragment = get_bool(*e, "node.dont_fragment");
    if (auto e = m.optional("accept_unknown_peers"))
        node.accept_unknown_peers = get_bool(*e, "node.accept_unknown_peers");
}

AccessPort Reader::read_port(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "device"});
    AccessPort port;
    port.origin = origin(item);
    port.name = get_string(m.required("name"), path + ".name");
    port.device = get_string(m.required("device"), path + ".device");
    return port;
}

Network Reader::read_network(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path,
                    {"name", "vni", "subnet", "gateway", "mtu", "ip_range", "id", "created",
                     "internal", "attachable", "ingress", "encrypted", "labels"});
    Network net;
    net.origin = origin(item);
    net.name = get_string(m.required("name"), path + ".name");
    net.vni = static_cast<uint32_t>(get_integer(m.required("vni"), path + ".vni", 1, kMaxVni));
    const AddrLen subnet = get_addr_len(m.required("subnet"), path + ".subnet", true);
    net.subnet = Ipv4Prefix{subnet.address, *subnet.length};
    if (auto e = m.optional("gateway")) {
        net.gateway = get_ipv4(*e, path + ".gateway");
    } else {
        // First host address; the validator rejects subnets with host bits set, and for
        // those the default is meaningless anyway.
        net.gateway = Ipv4{network_of(net.subnet.address, net.subnet.length) + 1};
    }
    if (auto e = m.optional("encrypted")) net.encrypted = get_bool(*e, path + ".encrypted");
    if (auto e = m.optional("mtu")) {
        net.mtu = static_cast<uint16_t>(get_integer(*e, path + ".mtu", kMinMtu, kMaxMtu));
    } else if (net.encrypted) {
        net.mtu = kEncryptedMtu; // Docker's overlay driver leaves room for ESP
    }
    if (auto e = m.optional("ip_range")) {
        const AddrLen range = get_addr_len(*e, path + ".ip_range", true);
        net.ip_range = Ipv4Prefix{range.address, *range.length};
    }
    if (auto e = m.optional("id")) net.id = get_string(*e, path + ".id");
    if (auto e = m.optional("created")) net.created = get_string(*e, path + ".created");
    if (auto e = m.optional("internal")) net.internal = get_bool(*e, path + ".internal");
    if (auto e = m.optional("attachable")) net.attachable = get_bool(*e, path + ".attachable");
    if (auto e = m.optional("ingress")) net.ingress = get_bool(*e, path + ".ingress");
    if (auto e = m.optional("labels")) net.labels = get_labels(*e, path + ".labels");
    return net;
}

template <typename Read>
void Reader::for_each_named(const Entry& e, const std::string& path, const char* kind, Read read) {
    record(path, origin(e));
    if (!e.value.IsMap()) fail(origin(e), path, "expected a mapping, got " + describe(e.value));
    std::map<std::string, int> lines;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
        const YAML::Node key = it->first;
        if (!key.IsScalar())
            fail(key, path, fmt::format("expected a {} name, got {}", kind, describe(key)));
        const std::string& name = key.Scalar();
        if (auto seen = lines.find(name); seen != lines.end()) {
            fail(
                key, path,
                fmt::format("duplicate {} {} (first at line {})", kind, quote(name), seen->second));
        }
        lines[name] = origin(key).line;
        read(key, it->second, path + "." + name);
    }
}

std::map<std::string, std::string> Reader::get_labels(const Entry& e, const std::string& path) {
    std::map<std::string, std::string> labels;
    for_each_named(
        e, path, "label",
        [&](const YAML::Node& key, const YAML::Node& value, const std::string& value_path) {
            record(value_path, value.IsNull() ? origin(key) : origin(value));
            if (!value.IsScalar()) {
                fail(value.IsNull() ? origin(key) : origin(value), value_path,
                     "expected a string, got " + describe(value));
            }
            labels[key.Scalar()] = value.Scalar();
        });
    return labels;
}

Peer Reader::read_peer(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "address"});
    Peer peer;
    peer.origin = origin(item);
    peer.name = get_string(m.required("name"), path + ".name");
    peer.address = get_ipv4(m.required("address"), path + ".address");
    return peer;
}

Endpoint Reader::read_endpoint(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "network", "ip", "mac", "node", "port", "service"});
    Endpoint ep;
    ep.origin = origin(item);
    ep.name = get_string(m.required("name"), path + ".name");
    ep.network = get_string(m.required("network"), path + ".network");
    ep.ip = get_ipv4(m.required("ip"), path + ".ip");
    if (auto e = m.optional("mac")) {
        ep.mac = get_mac(*e, path + ".mac");
    } else {
        ep.mac = default_mac(ep.ip);
    }
    ep.node = get_string(m.required("node"), path + ".node");
    if (auto e = m.optional("port")) ep.port = get_string(*e, path + ".port");
    if (auto e = m.optional("service")) ep.service = get_string(*e, path + ".service");
    return ep;
}

template <typename Parse>
auto Reader::get_choice(const Entry& e, const std::string& path, const char* names, Parse parse) {
    const std::string text = get_string(e, path);
    const auto value = parse(text);
    if (!value) fail(origin(e), path, fmt::format("expected {}, got {}", names, quote(text)));
    return *value;
}

model::Service Reader::read_service(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path,
                    {"name", "id", "created", "endpoint_mode", "networks", "ports", "vips"});
    model::Service s;
    s.origin = origin(item);
    s.name = get_string(m.required("name"), path + ".name");
    if (auto e = m.optional("id")) s.id = get_string(*e, path + ".id");
    if (auto e = m.optional("created")) s.created = get_string(*e, path + ".created");
    if (auto e = m.optional("endpoint_mode")) {
        s.endpoint_mode =
            get_choice(*e, path + ".endpoint_mode", "vip or dnsrr", model::parse_endpoint_mode);
    }
    const auto networks = get_list(m.optional("networks"), path + ".networks");
    for (std::size_t i = 0; i < networks.size(); ++i) {
        s.networks.push_back(
            get_string(Entry{networks[i], networks[i]}, index_path(path + ".networks", i)));
    }
    const auto ports = get_list(m.optional("ports"), path + ".ports");
    for (std::size_t i = 0; i < ports.size(); ++i)
        s.ports.push_back(read_published_port(ports[i], index_path(path + ".ports", i)));
    if (auto e = m.optional("vips")) s.vips = get_vips(*e, path + ".vips");
    return s;
}

model::PublishedPort Reader::read_published_port(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"protocol", "target", "published", "mode"});
    model::PublishedPort p;
    if (auto e = m.optional("protocol"))
        p.protocol = get_choice(*e, path + ".protocol", "tcp or udp", model::parse_protocol);
    p.target = static_cast<uint16_t>(get_integer(m.required("target"), path + ".target", 1, 65535));
    p.published =
        static_cast<uint16_t>(get_integer(m.required("published"), path + ".published", 1, 65535));
    if (auto e = m.optional("mode"))
        p.mode = get_choice(*e, path + ".mode", "ingress or host", model::parse_publish_mode);
    return p;
}

std::map<std::string, Ipv4> Reader::get_vips(const Entry& e, const std::string& path) {
    std::map<std::string, Ipv4> vips;
    for_each_named(
        e, path, "network",
        [&](const YAML::Node& key, const YAML::Node& value, const std::string& value_path) {
            vips[key.Scalar()] = get_ipv4(Entry{key, value}, value_path);
        });
    return vips;
}

model::LoadBalancer Reader::read_load_balancer(const YAML::Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"network", "node", "ip"});
    model::LoadBalancer lb;
    lb.origin = origin(item);
    lb.network = get_string(m.required("network"), path + ".network");
    lb.node = get_string(m.required("node"), path + ".node");
    lb.ip = get_ipv4(m.required("ip"), path + ".ip");
    return lb;
}

void Reader::check_text(const std::string& text) const {
    const std::size_t nul = text.find('\0');
    const std::size_t bad = first_invalid_utf8(std::string_view(text).substr(0, nul));
    const std::size_t at = std::min(nul, bad);
    if (at == std::string::npos) return;
    // Line and column as yaml-cpp counts them: lines from 1, characters from 1.
    const std::size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    const std::size_t from = line_start == std::string::npos || at == 0 ? 0 : line_start + 1;
    int column = 1;
    for (std::size_t i = from; i < at; ++i)
        if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) ++column;
    const int line = 1 + static_cast<int>(std::count(
                             text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    fail(Origin{file_, line, column}, "",
         at == nul ? "a NUL byte (YAML text cannot hold one)"
                   : fmt::format("not valid UTF-8 (byte 0x{:02x})",
                                 static_cast<unsigned char>(text[at])));
}

namespace {

// One walk of the parser's events over the first two documents, with no tree: the
// depth of collections, refused at the collection that goes too deep, before a tree
// (whose building, copying and destruction recurse) exists; and where a second
// document's first node starts, if there is one. Two documents at most: YAML::LoadAll
// loops forever, allocating, on some inputs (yaml-cpp 0.7: a lone "," at the top level),
// so only the first is ever loaded. Aliases are not followed.
struct Structure final : YAML::EventHandler {
    struct TooDeep {
        YAML::Mark mark;
    };
    int depth = 0;
    int documents = 0;
    std::optional<YAML::Mark> second; // the second document's first node
    void node_at(const YAML::Mark& mark) {
        if (documents == 2 && !second) second = mark;
    }
    void open(const YAML::Mark& mark) {
        node_at(mark);
        if (++depth > max_config_depth) throw TooDeep{mark};
    }
    void OnDocumentStart(const YAML::Mark&) override {
        depth = 0;
        documents++;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node_at(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node_at(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        node_at(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        open(mark);
    }
    void OnSequenceEnd() override { --depth; }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        open(mark);
    }
    void OnMapEnd() override { --depth; }
};

} // namespace

Reader::Scan Reader::scan(const std::string& text) const {
    std::istringstream in(text);
    Structure structure;
    Scan out;
    YAML::Mark at;
    try {
        YAML::Parser parser(in);
        if (parser.HandleNextDocument(structure) && parser.HandleNextDocument(structure))
            out.second = structure.second.value_or(YAML::Mark{});
        return out;
    } catch (const Structure::TooDeep& e) {
        at = e.mark;
    } catch (const YAML::DeepRecursion& e) { // yaml-cpp's own guard, in case it comes first
        at = e.mark;
    } catch (const YAML::Exception& e) {
        // A syntax error: in the first document the loader reports it; one in a second
        // document is reported after the first has loaded.
        if (structure.documents >= 2) out.second_error = e;
        return out;
    }
    fail(at.is_null() || at.line < 0 ? Origin{file_, 1, 1}
                                     : Origin{file_, at.line + 1, at.column + 1},
         "", fmt::format("nested deeper than {} levels", max_config_depth));
}

Config Reader::read_document(const std::string& text) {
    check_text(text);
    const Scan scanned = scan(text);
    const std::optional<YAML::Mark>& second = scanned.second;
    YAML::Node root;
    try {
        root = YAML::Load(text);
        if (scanned.second_error) throw *scanned.second_error;
    } catch (const YAML::Exception& e) {
        Origin at{file_, 0, 0};
        if (!e.mark.is_null() && e.mark.line >= 0)
            at = Origin{file_, e.mark.line + 1, e.mark.column + 1};
        fail(at, "", "syntax error: " + e.msg);
    }
    if (root.IsNull()) {
        fail(Origin{file_, 1, 1}, "", "the configuration is empty; expected a mapping");
    }
    if (second) {
        fail(Origin{file_, second->line + 1, second->column + 1}, "",
             "more than one YAML document; expected exactly one");
    }
    return read_root(root);
}

Config Reader::read_root(const YAML::Node& root) {
    if (!root.IsMap()) {
        fail(root, "", "expected a mapping at the top level, got " + describe(root));
    }
    const Mapping top(
        *this, root, "",
        {"node", "ports", "networks", "peers", "endpoints", "services", "load_balancers"});

    Config config;
    read_node(top, config);
    const auto ports = get_list(top.optional("ports"), "ports");
    for (std::size_t i = 0; i < ports.size(); ++i) {
        config.ports.push_back(read_port(ports[i], index_path("ports", i)));
    }
    const auto networks = get_list(top.optional("networks"), "networks");
    for (std::size_t i = 0; i < networks.size(); ++i) {
        config.networks.push_back(read_network(networks[i], index_path("networks", i)));
    }
    const auto peers = get_list(top.optional("peers"), "peers");
    for (std::size_t i = 0; i < peers.size(); ++i) {
        config.peers.push_back(read_peer(peers[i], index_path("peers", i)));
    }
    const auto endpoints = get_list(top.optional("endpoints"), "endpoints");
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        config.endpoints.push_back(read_endpoint(endpoints[i], index_path("endpoints", i)));
    }
    const auto services = get_list(top.optional("services"), "services");
    for (std::size_t i = 0; i < services.size(); ++i)
        config.services.push_back(read_service(services[i], index_path("services", i)));
    const auto lbs = get_list(top.optional("load_balancers"), "load_balancers");
    for (std::size_t i = 0; i < lbs.size(); ++i) {
        config.load_balancers.push_back(
            read_load_balancer(lbs[i], index_path("load_balancers", i)));
    }
    return config;
}

// ---------------------------------------------------------------------------------------
// Validator: the model as a whole.

class Validator {
public:
    Validator(const Config& config, const FieldOrigins* origins)
        : config_(config), origins_(origins) {}

    void run() {
        check_node();
        for (std::size_t i = 0; i < config_.ports.size(); ++i)
            check_port(i);
        for (std::size_t i = 0; i < config_.networks.size(); ++i)
            check_network(i);
        for (std::size_t i = 0; i < config_.peers.size(); ++i)
            check_peer(i);
        for (std::size_t i = 0; i < config_.services.size(); ++i)
            check_service(i);
        for (std::size_t i = 0; i < config_.endpoints.size(); ++i)
            check_endpoint(i);
        for (std::size_t i = 0; i < config_.load_balancers.size(); ++i)
            check_load_balancer(i);
    }

private:
    // Fails at the value recorded for `path` when the config was loaded from YAML, else
    // at the origin of the object that holds it.
    [[noreturn]] void fail(const Origin& object, const std::string& path,
                           std::string_view reason) const {
        const Origin* at = &object;
        if (origins_ != nullptr) {
            if (auto it = origins_->find(path); it != origins_->end()) at = &it->second;
        }
        throw ConfigError(format_error(*at, path, reason));
    }

    void check_name(const Origin& object, const std::string& path, const std::string& name) const {
        if (!valid_name(name)) {
            fail(object, path,
                 fmt::format("{} is not a valid name (1..{} of A-Z a-z 0-9 _ . -)", quote(name),
                             kMaxNameLength));
        }
    }

    // list[i].name must not repeat an earlier entry's.
    // Checked in list order, so the index kept for a name is its first occurrence; maps
    // keep validation linear (a configuration may hold 100k endpoints).
    template <typename List>
    void check_unique_name(const List& list, std::size_t i, const char* list_name) {
        auto [it, added] = first_name_[list_name].try_emplace(list[i].name, i);
        if (!added) {
            fail(list[i].origin, index_path(list_name, i) + ".name",
                 fmt::format("{} duplicates {}[{}].name", quote(list[i].name), list_name,
                             it->second));
        }
    }

    void check_unicast(const Origin& object, const std::string& path, Ipv4 ip) const {
        if (!is_unicast(ip)) {
            fail(object, path, fmt::format("{} is not a unicast host address", format_ipv4(ip)));
        }
    }

    // An address used as a host inside an on-link prefix: not its network or broadcast
    // address (which do not exist as such in a /31).
    void check_host_in(const Origin& object, const std::string& path, Ipv4 ip, Ipv4 prefix_addr,
                       unsigned length) const {
        if (length > 30) return;
        const std::string prefix = format_prefix(Ipv4{network_of(prefix_addr, length)}, length);
        if (ip.value == network_of(prefix_addr, length)) {
            fail(object, path,
                 fmt::format("{} is the network address of {}", format_ipv4(ip), prefix));
        }
        if (ip.value == broadcast_of(prefix_addr, length)) {
            fail(object, path,
                 fmt::format("{} is the broadcast address of {}", format_ipv4(ip), prefix));
        }
    }

    void check_mac(const Origin& object, const std::string& path, const Mac& mac) const {
        if (is_zero_mac(mac)) fail(object, path, "00:00:00:00:00:00 is not a valid MAC address");
        if (!is_unicast_mac(mac)) {
            fail(object, path, fmt::format("{} is a multicast MAC address", format_mac(mac)));
        }
    }

    std::string check_device(const Origin& object, const std::string& path,
                             const std::string& device) const {
        const auto id = device_identity(device);
        if (!id) {
            fail(object, path,
                 fmt::format("{} is not a DPDK device (a PCI address like 0000:03:00.0, or a vdev "
                             "like net_af_packet0,iface=eth0)",
                             quote(device)));
        }
        return *id;
    }

    void check_node() {
        const model::Node& n = config_.node;
        const Origin& o = n.origin;
        check_name(o, "node.name", n.name);

        const std::string addr_path = "node.data_path_addr";
        if (n.prefix_length < kMinUnderlayLength || n.prefix_length > kMaxUnderlayLength) {
            fail(o, addr_path,
                 fmt::format("prefix length {} is out of range {}..{}", n.prefix_length,
                             kMinUnderlayLength, kMaxUnderlayLength));
        }
        check_unicast(o, addr_path, n.data_path_addr);
        check_host_in(o, addr_path, n.data_path_addr, n.data_path_addr, n.prefix_length);

        if (n.gateway) {
            const std::string path = "node.gateway";
            const Ipv4 gw = *n.gateway;
            check_unicast(o, path, gw);
            if (network_of(gw, n.prefix_length) != network_of(n.data_path_addr, n.prefix_length)) {
                fail(o, path,
                     fmt::format("{} is outside node.data_path_addr {}", format_ipv4(gw),
                                 format_prefix(n.data_path_addr, n.prefix_length)));
            }
            if (gw == n.data_path_addr) {
                fail(o, path, fmt::format("{} is node.data_path_addr itself", format_ipv4(gw)));
            }
            check_host_in(o, path, gw, n.data_path_addr, n.prefix_length);
        }

        underlay_id_ = check_device(o, "node.underlay.device", n.underlay.device);
        if (n.underlay.mac) check_mac(o, "node.underlay.mac", *n.underlay.mac);
        if (n.vxlan_port == 0) fail(o, "node.vxlan_port", "0 is out of range 1..65535");
        if (n.ttl == 0) fail(o, "node.ttl", "0 is out of range 1..255");
    }

    void check_port(std::size_t i) {
        const AccessPort& p = config_.ports[i];
        const std::string path = index_path("ports", i);
        check_name(p.origin, path + ".name", p.name);
        check_unique_name(config_.ports, i, "ports");

        const std::string id = check_device(p.origin, path + ".device", p.device);
        if (id == underlay_id_) {
            fail(p.origin, path + ".device",
                 fmt::format("device {} duplicates node.underlay.device", quote(id)));
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (device_identity(config_.ports[j].device) == id) {
                fail(p.origin, path + ".device",
                     fmt::format("device {} duplicates ports[{}].device", quote(id), j));
            }
        }
    }

    void check_network(std::size_t i) {
        const Network& net = config_.networks[i];
        const Origin& o = net.origin;
        const std::string path = index_path("networks", i);
        check_name(o, path + ".name", net.name);
        check_unique_name(config_.networks, i, "networks");

        if (net.vni < 1 || net.vni > kMaxVni) {
            fail(o, path + ".vni", fmt::format("{} is out of range 1..{}", net.vni, kMaxVni));
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (config_.networks[j].vni == net.vni) {
                fail(o, path + ".vni", fmt::format("{} duplicates networks[{}].vni", net.vni, j));
            }
        }

        const std::string subnet_path = path + ".subnet";
        const Ipv4Prefix& s = net.subnet;
        if (s.length < kMinSubnetLength || s.length > kMaxSubnetLength) {
            fail(o, subnet_path,
                 fmt::format("prefix length {} is out of range {}..{}", s.length, kMinSubnetLength,
                             kMaxSubnetLength));
        }
        if (network_of(s.address, s.length) != s.address.value) {
            fail(o, subnet_path,
                 fmt::format("{} has host bits set (did you mean {}?)", format_prefix(s),
                             format_prefix(Ipv4{network_of(s.address, s.length)}, s.length)));
        }
        if (!is_unicast(s.address)) {
            fail(o, subnet_path,
                 fmt::format("{} is not a unicast address range", format_prefix(s)));
        }
        for (std::size_t j = 0; j < i; ++j) {
            const Ipv4Prefix& other = config_.networks[j].subnet;
            const unsigned shorter = std::min(s.length, other.length);
            if (network_of(s.address, shorter) == network_of(other.address, shorter)) {
                fail(o, subnet_path,
                     fmt::format("{} overlaps networks[{}].subnet {}", format_prefix(s), j,
                                 format_prefix(other)));
            }
        }

        const std::string gw_path = path + ".gateway";
        if (!s.contains(net.gateway)) {
            fail(
                o, gw_path,
                fmt::format("{} is outside subnet {}", format_ipv4(net.gateway), format_prefix(s)));
        }
        check_host_in(o, gw_path, net.gateway, s.address, s.length);

        if (net.mtu < kMinMtu || net.mtu > kMaxMtu) {
            fail(o, path + ".mtu",
                 fmt::format("{} is out of range {}..{}", net.mtu, kMinMtu, kMaxMtu));
        }

        if (net.ip_range) {
            const std::string range_path = path + ".ip_range";
            const Ipv4Prefix& r = *net.ip_range;
            if (r.length > 32) {
                fail(o, range_path,
                     fmt::format("prefix length {} is out of range {}..32", r.length, s.length));
            }
            if (network_of(r.address, r.length) != r.address.value) {
                fail(o, range_path,
                     fmt::format("{} has host bits set (did you mean {}?)", format_prefix(r),
                                 format_prefix(Ipv4{network_of(r.address, r.length)}, r.length)));
            }
            if (r.length < s.length && network_of(s.address, r.length) == r.address.value) {
                fail(
                    o, range_path,
                    fmt::format("{} is larger than subnet {}", format_prefix(r), format_prefix(s)));
            }
            if (r.length < s.length || !s.contains(r.address)) {
                fail(o, range_path,
                     fmt::format("{} is outside subnet {}", format_prefix(r), format_prefix(s)));
            }
        }

        if (!net.id.empty()) {
            const std::string id_path = path + ".id";
            if (!valid_id(net.id)) {
                fail(o, id_path,
                     fmt::format("{} is not a network id ({} characters of 0-9 a-z)", quote(net.id),
                                 kIdLength));
            }
            for (std::size_t j = 0; j < i; ++j) {
                if (config_.networks[j].id == net.id) {
                    fail(o, id_path,
                         fmt::format("{} duplicates networks[{}].id", quote(net.id), j));
                }
            }
        }
        if (!net.created.empty() && !valid_rfc3339(net.created)) {
            fail(o, path + ".created",
                 fmt::format("{} is not an RFC 3339 time (like 2024-05-01T12:00:00.123456789Z)",
                             quote(net.created)));
        }
        if (net.ingress) {
            for (std::size_t j = 0; j < i; ++j) {
                if (config_.networks[j].ingress) {
                    fail(o, path + ".ingress",
                         fmt::format("networks[{}] {} is already the ingress network (there can "
                                     "be only one)",
                                     j, quote(config_.networks[j].name)));
                }
            }
        }
        for (const auto& [key, value] : net.labels) {
            const std::string label_path = path + ".labels." + key;
            if (key.empty()) fail(o, path + ".labels", "empty label name");
            if (has_control(key) || key.find('=') != std::string::npos) {
                fail(o, path + ".labels",
                     fmt::format("label name {} contains '=' or a control character", quote(key)));
            }
            if (has_control(value)) {
                fail(o, label_path,
                     fmt::format("label value {} contains a control character", quote(value)));
            }
        }
    }

    void check_peer(std::size_t i) {
        const Peer& p = config_.peers[i];
        const model::Node& n = config_.node;
        const Origin& o = p.origin;
        const std::string path = index_path("peers", i);

        check_name(o, path + ".name", p.name);
        if (p.name == n.name) {
            fail(o, path + ".name",
                 fmt::format("{} is this node's own name (node.name)", quote(p.name)));
        }
        check_unique_name(config_.peers, i, "peers");

        const std::string addr_path = path + ".address";
        check_unicast(o, addr_path, p.address);
        if (p.address == n.data_path_addr) {
            fail(o, addr_path,
                 fmt::format("{} is this node's own address (node.data_path_addr)",
                             format_ipv4(p.address)));
        }
        if (auto [it, added] = first_peer_address_.try_emplace(p.address.value, i); !added) {
            fail(
                o, addr_path,
                fmt::format("{} duplicates peers[{}].address", format_ipv4(p.address), it->second));
        }
        const bool on_link =
            network_of(p.address, n.prefix_length) == network_of(n.data_path_addr, n.prefix_length);
        if (on_link) {
            check_host_in(o, addr_path, p.address, n.data_path_addr, n.prefix_length);
        } else if (!n.gateway) {
            fail(o, addr_path,
                 fmt::format("{} is outside node.data_path_addr {} and node.gateway is not set",
                             format_ipv4(p.address),
                             format_prefix(n.data_path_addr, n.prefix_length)));
        }
    }

    void check_endpoint(std::size_t i) {
        const Endpoint& ep = config_.endpoints[i];
        const Origin& o = ep.origin;
        const std::string path = index_path("endpoints", i);

        check_name(o, path + ".name", ep.name);
        check_unique_name(config_.endpoints, i, "endpoints");

        const Network* net = network_named(ep.network);
        if (net == nullptr) {
            fail(o, path + ".network", fmt::format("unknown network {}", quote(ep.network)));
        }
        if (!ep.service.empty()) {
            const model::Service* service = service_named(ep.service);
            if (service == nullptr)
                fail(o, path + ".service", fmt::format("unknown service {}", quote(ep.service)));
            const auto attached = model::attached_networks(config_, *service);
            if (std::find(attached.begin(), attached.end(), ep.network) == attached.end()) {
                fail(o, path + ".network",
                     fmt::format("network {} is not attached to service {} (its networks: {})",
                                 quote(ep.network), quote(service->name),
                                 attached.empty() ? std::string("none")
                                                  : fmt::format("{}", fmt::join(attached, ", "))));
            }
        }
        check_address(o, path + ".ip", ep.ip, *net, path + ".ip");

        const std::string mac_path = path + ".mac";
        check_mac(o, mac_path, ep.mac);
        if (auto [it, added] = first_mac_.try_emplace({ep.network, mac_key(ep.mac)}, i); !added) {
            fail(o, mac_path,
                 fmt::format("{} duplicates endpoints[{}].mac in network {}", format_mac(ep.mac),
                             it->second, quote(net->name)));
        }

        const std::string port_path = path + ".port";
        if (ep.node == config_.node.name) {
            if (ep.port.empty()) {
                fail(o, path,
                     "missing required field 'port' (required for an endpoint on this node)");
            }
            if (!first_name_["ports"].count(ep.port))
                fail(o, port_path, fmt::format("unknown port {}", quote(ep.port)));
            // The dataplane tells a port's endpoints apart by source MAC alone, whatever
            // their network.
            if (auto [it, added] = first_port_mac_.try_emplace({ep.port, mac_key(ep.mac)}, i);
                !added) {
                fail(o, mac_path,
                     fmt::format("{} duplicates endpoints[{}].mac on port {}", format_mac(ep.mac),
                                 it->second, quote(ep.port)));
            }
        } else {
            if (!first_name_["peers"].count(ep.node))
                fail(o, path + ".node", fmt::format("unknown node {}", quote(ep.node)));
            if (!ep.port.empty()) {
                fail(o, port_path,
                     fmt::format("not allowed on a remote endpoint (node {} is a peer)",
                                 quote(ep.node)));
            }
        }
    }

    const Network* network_named(const std::string& name) {
        if (networks_by_name_.empty())
            for (const Network& candidate : config_.networks)
                networks_by_name_.emplace(candidate.name, &candidate);
        auto found = networks_by_name_.find(name);
        return found == networks_by_name_.end() ? nullptr : found->second;
    }

    const model::Service* service_named(const std::string& name) {
        if (services_by_name_.empty())
            for (const model::Service& candidate : config_.services)
                services_by_name_.emplace(candidate.name, &candidate);
        auto found = services_by_name_.find(name);
        return found == services_by_name_.end() ? nullptr : found->second;
    }

    // An address in `net` given to an endpoint, a VIP or a load balancer (`owner`, the
    // field's path, names it to later duplicates): a host of the subnet, not its gateway,
    // used once in the network.
    void check_address(const Origin& o, const std::string& path, Ipv4 address, const Network& net,
                       const std::string& owner) {
        const std::string ip = format_ipv4(address);
        if (!net.subnet.contains(address)) {
            fail(o, path,
                 fmt::format("{} is outside subnet {} of network {}", ip, format_prefix(net.subnet),
                             quote(net.name)));
        }
        check_host_in(o, path, address, net.subnet.address, net.subnet.length);
        if (address == net.gateway) {
            fail(o, path, fmt::format("{} is the gateway of network {}", ip, quote(net.name)));
        }
        if (auto [it, added] = first_ip_.try_emplace({net.name, address.value}, owner); !added) {
            fail(o, path,
                 fmt::format("{} duplicates {} in network {}", ip, it->second, quote(net.name)));
        }
    }

    void check_service(std::size_t i) {
        const model::Service& s = config_.services[i];
        const Origin& o = s.origin;
        const std::string path = index_path("services", i);
        check_name(o, path + ".name", s.name);
        check_unique_name(config_.services, i, "services");
        if (!s.id.empty()) {
            if (!valid_id(s.id)) {
                fail(o, path + ".id",
                     fmt::format("{} is not a service id ({} characters of 0-9 a-z)", quote(s.id),
                                 kIdLength));
            }
            if (auto [it, added] = first_service_id_.try_emplace(s.id, i); !added) {
                fail(o, path + ".id",
                     fmt::format("{} duplicates services[{}].id", quote(s.id), it->second));
            }
        }
        if (!s.created.empty() && !valid_rfc3339(s.created)) {
            fail(o, path + ".created",
                 fmt::format("{} is not an RFC 3339 time (like 2024-05-01T12:00:00.123456789Z)",
                             quote(s.created)));
        }

        std::unordered_map<std::string, std::size_t> listed;
        for (std::size_t j = 0; j < s.networks.size(); ++j) {
            const std::string& name = s.networks[j];
            const std::string network_path = index_path(path + ".networks", j);
            const Network* net = network_named(name);
            if (net == nullptr)
                fail(o, network_path, fmt::format("unknown network {}", quote(name)));
            if (net->ingress) {
                // swarmkit refuses it too: the published ports decide who is on ingress.
                fail(o, network_path,
                     fmt::format("{} is the ingress network: a service is attached to it by "
                                 "publishing a port in ingress mode, not by name",
                                 quote(name)));
            }
            if (auto [it, added] = listed.try_emplace(name, j); !added) {
                fail(o, network_path,
                     fmt::format("{} duplicates networks[{}]", quote(name), it->second));
            }
        }

        // Published ports, with Docker's rules (swarmkit's validateEndpointSpec and
        // checkPortConflicts): once per port and protocol within a service; an ingress
        // port is the whole swarm's, so no other service may publish it in either mode,
        // while host-mode ports may repeat across services (the scheduler's business).
        std::map<std::pair<uint16_t, model::Protocol>, std::size_t> own;
        for (std::size_t j = 0; j < s.ports.size(); ++j) {
            const model::PublishedPort& p = s.ports[j];
            const std::string port_path = index_path(path + ".ports", j);
            const std::string what =
                fmt::format("{}/{}", p.published, model::to_string(p.protocol));
            const auto key = std::pair{p.published, p.protocol};
            if (auto [it, added] = own.try_emplace(key, j); !added) {
                fail(o, port_path + ".published",
                     fmt::format("port {} duplicates ports[{}] (a port is published once per "
                                 "protocol)",
                                 what, it->second));
            }
            auto in_use = [&](const auto& first, const char* as) {
                if (auto it = first.find(key); it != first.end()) {
                    fail(o, port_path + ".published",
                         fmt::format("port {} is already in use by services[{}] {} as {}", what,
                                     it->second, quote(config_.services[it->second].name), as));
                }
            };
            if (p.mode == model::PublishMode::Ingress) {
                if (s.endpoint_mode == model::EndpointMode::Dnsrr) {
                    fail(o, port_path + ".mode",
                         fmt::format("port {} is published in ingress mode, which endpoint_mode "
                                     "dnsrr cannot use (the routing mesh balances over a VIP); "
                                     "publish it in host mode",
                                     what));
                }
                if (config_.ingress_network() == nullptr) {
                    fail(o, port_path + ".mode",
                         fmt::format("port {} is published in ingress mode, but there is no "
                                     "ingress network (create one with network create --ingress)",
                                     what));
                }
                in_use(first_ingress_port_, "an ingress port");
                in_use(first_host_port_, "a host-published port");
            } else {
                in_use(first_ingress_port_, "an ingress port");
            }
        }
        for (const model::PublishedPort& p : s.ports) {
            auto& first =
                p.mode == model::PublishMode::Ingress ? first_ingress_port_ : first_host_port_;
            first.try_emplace(std::pair{p.published, p.protocol}, i);
        }

        if (s.endpoint_mode == model::EndpointMode::Dnsrr && !s.vips.empty())
            fail(o, path + ".vips", "a dnsrr service has no VIPs");
        const auto attached = model::attached_networks(config_, s);
        for (const auto& [name, vip] : s.vips) {
            const std::string vip_path = path + ".vips." + name;
            if (std::find(attached.begin(), attached.end(), name) == attached.end()) {
                fail(o, vip_path,
                     fmt::format("service {} is not attached to network {}", quote(s.name),
                                 quote(name)));
            }
            check_address(o, vip_path, vip, *network_named(name), vip_path);
        }
    }

    void check_load_balancer(std::size_t i) {
        const model::LoadBalancer& lb = config_.load_balancers[i];
        const Origin& o = lb.origin;
        const std::string path = index_path("load_balancers", i);
        const Network* net = network_named(lb.network);
        if (net == nullptr)
            fail(o, path + ".network", fmt::format("unknown network {}", quote(lb.network)));
        if (lb.node != config_.node.name && !first_name_["peers"].count(lb.node))
            fail(o, path + ".node", fmt::format("unknown node {}", quote(lb.node)));
        if (auto [it, added] = first_load_balancer_.try_emplace({lb.network, lb.node}, i); !added) {
            fail(o, path,
                 fmt::format("duplicates load_balancers[{}] (network {} on node {})", it->second,
                             quote(lb.network), quote(lb.node)));
        }
        check_address(o, path + ".ip", lb.ip, *net, path + ".ip");
    }

    static uint64_t mac_key(const model::Mac& mac) {
        uint64_t v = 0;
        for (uint8_t b : mac.bytes)
            v = v << 8 | b;
        return v;
    }
    struct PairHash {
        template <typename A, typename B> std::size_t operator()(const std::pair<A, B>& p) const {
            return std::hash<A>{}(p.first) * 31 + std::hash<B>{}(p.second);
        }
    };

    const Config& config_;
    const FieldOrigins* origins_;
    // First occurrences, filled as the lists are checked in order.
    std::map<std::string, std::unordered_map<std::string, std::size_t>> first_name_;
    std::unordered_map<uint32_t, std::size_t> first_peer_address_;
    std::unordered_map<std::string, const Network*> networks_by_name_;
    std::unordered_map<std::string, const model::Service*> services_by_name_;
    // The first user of an address in a network, as its field's path ("endpoints[2].ip").
    std::unordered_map<std::pair<std::string, uint32_t>, std::string, PairHash> first_ip_;
    std::unordered_map<std::string, std::size_t> first_service_id_;
    std::map<std::pair<uint16_t, model::Protocol>, std::size_t> first_ingress_port_;
    std::map<std::pair<uint16_t, model::Protocol>, std::size_t> first_host_port_;
    std::unordered_map<std::pair<std::string, std::string>, std::size_t, PairHash>
        first_load_balancer_;
    std::unordered_map<std::pair<std::string, uint64_t>, std::size_t, PairHash> first_mac_;
    std::unordered_map<std::pair<std::string, uint64_t>, std::size_t, PairHash> first_port_mac_;
    std::string underlay_id_;
};

} // namespace

model::Config load_config_string(const std::string& text, const std::string& source_name) {
    FieldOrigins origins;
    Reader reader(source_name, origins);
    Config config = reader.read_document(text);
    Validator(config, &origins).run();
    return config;
}

namespace {

// The YAML tree that parsing `value`'s JSON text would give, built directly: strings are
// quoted scalars (tag "!"), numbers and booleans plain ones ("?"), as yaml-cpp tags them.
YAML::Node yaml_of(const nlohmann::json& value) {
    switch (value.type()) {
    case nlohmann::json::value_t::object: {
        YAML::Node map(YAML::NodeType::Map);
        for (const auto& [key, item] : value.items()) {
            YAML::Node k(key);
            k.SetTag("!");
            map.force_insert(k, yaml_of(item));
        }
        return map;
    }
    case nlohmann::json::value_t::array: {
        YAML::Node list(YAML::NodeType::Sequence);
        for (const auto& item : value)
            list.push_back(yaml_of(item));
        return list;
    }
    case nlohmann::json::value_t::string: {
        YAML::Node scalar(value.get_ref<const std::string&>());
        scalar.SetTag("!");
        return scalar;
    }
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
        return YAML::Node(YAML::NodeType::Null);
    default: { // numbers and booleans, as JSON writes them
        YAML::Node scalar(value.dump());
        scalar.SetTag("?");
        return scalar;
    }
    }
}

} // namespace

model::Config load_config_json(const nlohmann::json& doc) {
    FieldOrigins origins;
    Reader reader("", origins);
    Config config = reader.read_root(yaml_of(doc));
    Validator(config, &origins).run();
    return config;
}

model::Config parse_config_string(const std::string& text, const std::string& source_name) {
    FieldOrigins origins;
    Reader reader(source_name, origins);
    return reader.read_document(text);
}

model::Config load_config_file(const std::string& path) {
    // Only a regular file of a bounded size: /dev/zero or a FIFO would be read forever.
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    }
    struct stat st{};
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        std::fclose(f);
        if (S_ISDIR(st.st_mode))
            throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(EISDIR)));
        throw ConfigError(fmt::format("{}: not a regular file (a configuration is a file)", path));
    }
    if (static_cast<std::uint64_t>(st.st_size) > max_config_bytes) {
        std::fclose(f);
        throw ConfigError(fmt::format("{}: {} bytes, more than the {} MiB a configuration may have",
                                      path, st.st_size, max_config_bytes >> 20));
    }
    std::string text;
    char buf[16384];
    std::size_t n;
    while (text.size() <= max_config_bytes && (n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(err)));
    if (text.size() > max_config_bytes) // it grew while being read
        throw ConfigError(fmt::format("{}: more than the {} MiB a configuration may have", path,
                                      max_config_bytes >> 20));
    return load_config_string(text, path);
}

void validate_config(const model::Config& config) {
    Validator(config, nullptr).run();
}

std::string name_error(std::string_view name) {
    if (valid_name(name)) return {};
    return fmt::format("{} is not a valid name (1..{} of A-Z a-z 0-9 _ . -)", quote(name),
                       kMaxNameLength);
}

bool is_network_id(std::string_view id) {
    return valid_id(id);
}

bool is_rfc3339(std::string_view time) {
    return valid_rfc3339(time);
}

} // namespace vxmesh::control
