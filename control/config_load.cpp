// YAML configuration loader: strict parsing into the model, then whole-config validation.
//
// Two passes. The reader turns YAML into model objects, rejecting syntax errors, unknown
// or duplicate keys, missing required fields and values of the wrong type; it records
// where every value came from (path -> file:line:column). The model's rules
// (control/model_index.hpp: names, references, ranges, addresses, uniqueness) then check
// each object against those before it. When they run on a freshly loaded file they point
// at the offending value via that record; on a Config built some other way
// (validate_config) at each object's Origin. Either way the first problem found is thrown
// as ConfigError, its ErrorInfo saying what and where ("FILE:LINE:COLUMN: PATH: REASON"
// as text).
#include "control/config_load.hpp"

#include "control/model_index.hpp"
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
#include <deque>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

namespace vxmesh::control {

namespace {

using namespace rules;
using model::AccessPort;
using model::Config;
using model::Endpoint;
using model::Ipv4;
using model::Ipv4Prefix;
using model::Mac;
using model::Network;
using model::Origin;
using model::Peer;

// ---------------------------------------------------------------------------------------
// Formatting

using model::format_ipv4;
using model::format_mac;
using model::format_prefix;

std::string index_path(std::string_view list, std::size_t i) {
    return fmt::format("{}[{}]", list, i);
}

std::string field_path(std::string_view object, std::string_view field) {
    return object.empty() ? std::string(field) : fmt::format("{}.{}", object, field);
}

// ---------------------------------------------------------------------------------------
// Strict textual parsers

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
// Reader: YAML -> model, with types, required fields and unknown keys checked.

// A YAML document as a tree of plain nodes, built from the parser's events in one pass
// (DocumentBuilder) instead of yaml-cpp's Load: a 7.3 MB configuration was parsed twice
// (the depth and second-document scan, then Load) into a tree of shared nodes whose
// building and destruction took as long again. Aliases point at their anchor's node, as
// yaml-cpp's do; nothing is copied.
struct DocNode {
    YAML::NodeType::value type = YAML::NodeType::Null;
    std::string tag; // "?" plain, "!" quoted, or the explicit tag, as yaml-cpp gives it
    std::string scalar;
    YAML::Mark mark;
    // A list's items; a mapping's keys and values, alternately.
    std::vector<const DocNode*> children;
};

class Document {
public:
    DocNode* add() { return &nodes_.emplace_back(); }
    void set_root(const DocNode* root) { root_ = root; }
    const DocNode* root() const { return root_; }

private:
    std::deque<DocNode> nodes_; // stable addresses
    const DocNode* root_ = nullptr;
};

// Builds the first document; in the second only notes where its first node starts.
// Refuses collections nested deeper than max_config_depth, as it meets them (before
// anything recurses over the tree). Two documents at most: YAML::LoadAll loops forever,
// allocating, on some inputs (yaml-cpp 0.7: a lone "," at the top level).
class DocumentBuilder final : public YAML::EventHandler {
public:
    struct TooDeep {
        YAML::Mark mark;
    };
    explicit DocumentBuilder(Document& document) : document_(document) {}
    std::optional<YAML::Mark> second; // the second document's first node

    void OnDocumentStart(const YAML::Mark&) override {
        depth_ = 0;
        documents_++;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        node(mark, YAML::NodeType::Null, "", anchor);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (!first(mark)) return;
        auto it = anchors_.find(anchor);
        attach(it == anchors_.end() ? node(mark, YAML::NodeType::Null, "", 0) : it->second);
    }
    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        if (DocNode* n = node(mark, YAML::NodeType::Scalar, tag, anchor)) n->scalar = value;
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, YAML::NodeType::Sequence, tag, anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, YAML::NodeType::Map, tag, anchor);
    }
    void OnMapEnd() override { close(); }

private:
    // Whether a node at `mark` belongs to the first document (in the second, the first
    // node's mark is noted).
    bool first(const YAML::Mark& mark) {
        if (documents_ == 2 && !second) second = mark;
        return documents_ == 1;
    }
    void attach(const DocNode* n) {
        if (open_.empty())
            document_.set_root(n);
        else
            open_.back()->children.push_back(n);
    }
    DocNode* node(const YAML::Mark& mark, YAML::NodeType::value type, const std::string& tag,
                  YAML::anchor_t anchor) {
        if (!first(mark)) return nullptr;
        DocNode* n = document_.add();
        n->type = type;
        n->tag = tag;
        n->mark = mark;
        if (anchor != 0) anchors_[anchor] = n;
        attach(n);
        return n;
    }
    void open(const YAML::Mark& mark, YAML::NodeType::value type, const std::string& tag,
              YAML::anchor_t anchor) {
        if (++depth_ > max_config_depth) throw TooDeep{mark};
        if (DocNode* n = node(mark, type, tag, anchor)) open_.push_back(n);
    }
    void close() {
        --depth_;
        if (documents_ == 1 && !open_.empty()) open_.pop_back();
    }

    Document& document_;
    int depth_ = 0;
    int documents_ = 0;
    std::vector<DocNode*> open_;
    std::unordered_map<YAML::anchor_t, const DocNode*> anchors_;
};

// A DocNode seen through the part of yaml-cpp's Node interface the Reader uses.
class YamlNode {
public:
    YamlNode() = default;
    explicit YamlNode(const DocNode* node) : node_(node) {}

    bool IsNull() const { return node_ == nullptr || node_->type == YAML::NodeType::Null; }
    bool IsMap() const { return node_ != nullptr && node_->type == YAML::NodeType::Map; }
    bool IsSequence() const { return node_ != nullptr && node_->type == YAML::NodeType::Sequence; }
    bool IsScalar() const { return node_ != nullptr && node_->type == YAML::NodeType::Scalar; }
    const std::string& Scalar() const { return node_ != nullptr ? node_->scalar : empty(); }
    const std::string& Tag() const { return node_ != nullptr ? node_->tag : empty(); }
    YAML::NodeType::value Type() const {
        return node_ != nullptr ? node_->type : YAML::NodeType::Null;
    }
    YAML::Mark Mark() const { return node_ != nullptr ? node_->mark : YAML::Mark::null_mark(); }

    // Iteration as yaml-cpp's: a mapping's entries as (key, value) pairs, a list's items.
    class iterator;
    iterator begin() const;
    iterator end() const;

private:
    static const std::string& empty() {
        static const std::string none;
        return none;
    }
    const DocNode* const* children() const {
        return node_ != nullptr ? node_->children.data() : nullptr;
    }
    const DocNode* node_ = nullptr;
};

class YamlNode::iterator {
public:
    iterator(const DocNode* const* at, bool map) : at_(at), map_(map) {}
    bool operator!=(const iterator& o) const { return at_ != o.at_; }
    iterator& operator++() {
        at_ += map_ ? 2 : 1;
        return *this;
    }
    const std::pair<YamlNode, YamlNode>* operator->() {
        entry_ = {YamlNode(at_[0]), YamlNode(map_ ? at_[1] : nullptr)};
        return &entry_;
    }
    YamlNode operator*() const { return YamlNode(*at_); }

private:
    const DocNode* const* at_;
    bool map_;
    std::pair<YamlNode, YamlNode> entry_;
};

YamlNode::iterator YamlNode::begin() const {
    return {children(), IsMap()};
}

YamlNode::iterator YamlNode::end() const {
    // A mapping's children come in pairs (the parser gives a value for every key).
    const std::size_t n = node_ != nullptr ? node_->children.size() : 0;
    return {children() + (IsMap() ? n - n % 2 : n), IsMap()};
}

template <typename Node> class Reader {
public:
    Reader(std::string file, FieldOrigins& origins) : file_(std::move(file)), origins_(origins) {}

    Config read_document(const std::string& text);
    // The tree of a document, however it was made (parsed from text, or built from JSON).
    Config read_root(const Node& root);

private:
    // Before the tree is built: a NUL byte or bytes that are not UTF-8, at their own
    // position, and nesting deeper than max_config_depth.
    void check_text(const std::string& text) const;
    // One pass of the parser over the text before it is loaded: refuses nesting deeper
    // than max_config_depth; says where a second document starts, or the syntax error
    // in it.
    struct Scan {
        Document document; // the first document
        std::optional<YAML::Mark> second;
        std::optional<YAML::Exception> error;
    };
    Scan scan(const std::string& text) const;

    // One "key: value" entry of a mapping.
    struct Entry {
        Node key;
        Node value;
    };

    // A mapping whose keys have been checked against the schema.
    class Mapping {
    public:
        Mapping(Reader& reader, const Node& node, std::string path,
                std::initializer_list<std::string_view> allowed);

        const std::string& path() const { return path_; }
        const Node& node() const { return node_; }

        // The entry for `key`; nullopt when absent or, for optional fields, null.
        std::optional<Entry> optional(std::string_view key) const;
        // The entry for `key`; fails when absent or null.
        Entry required(std::string_view key) const;

    private:
        Reader& reader_;
        Node node_;
        std::string path_;
        std::vector<std::pair<std::string, Entry>> entries_;
    };

    Origin origin(const Node& node) const;
    // Position of an entry's value; an empty value has no useful mark of its own, so it
    // points at its key.
    Origin origin(const Entry& e) const {
        return e.value.IsNull() ? origin(e.key) : origin(e.value);
    }

    [[noreturn]] void fail(const Origin& at, std::string_view path, std::string_view reason,
                           ErrorKind kind = ErrorKind::Type) const;
    [[noreturn]] void fail(const Node& at, std::string_view path, std::string_view reason,
                           ErrorKind kind = ErrorKind::Type) const {
        fail(origin(at), path, reason, kind);
    }

public:
    // The object being read, so that its errors say which it is and where: its kind, list
    // and index, and the path its fields' paths start with ("endpoints[3]", or
    // "ops[0].object" for an object of a request).
    struct Current {
        const char* object = "";
        std::string list;
        std::size_t index = 0;
        std::string within;
        std::string base;
        std::string name;
    };
    // Reads one object of a request (`object`, a JSON object) as the item `index` of
    // `list` would be read, at the path "LIST[INDEX].WITHIN".
    model::Endpoint read_endpoint_at(const Node& item, const std::string& list, std::size_t index,
                                     const std::string& within);
    model::Peer read_peer_at(const Node& item, const std::string& list, std::size_t index,
                             const std::string& within);

private:
    void begin(const char* object, const std::string& list, std::size_t index,
               const std::string& within = "");
    Current current_;

    static std::string describe(const Node& node);
    // A tree built from JSON has no positions: nothing to record (at 100k endpoints the
    // record of every field's path was a large part of reading a document).
    void record(const std::string& path, const Origin& at) {
        if (!file_.empty()) origins_[path] = at;
    }

    // Typed values. Each records the value's origin under `path`.
    std::string get_string(const Entry& e, const std::string& path);
    int64_t get_integer(const Entry& e, const std::string& path, int64_t min, int64_t max);
    bool get_bool(const Entry& e, const std::string& path);
    Ipv4 get_ipv4(const Entry& e, const std::string& path);
    AddrLen get_addr_len(const Entry& e, const std::string& path, bool length_required);
    Mac get_mac(const Entry& e, const std::string& path);
    // The items of an optional list (absent or null: none).
    std::vector<Node> get_list(const std::optional<Entry>& e, const std::string& path);
    // A mapping keyed by names (labels, networks): each key a scalar, given once; `read`
    // gets each key and its value. `kind` names the keys in messages ("label").
    template <typename Read>
    void for_each_named(const Entry& e, const std::string& path, const char* kind, Read read);
    // A mapping of label names to string values.
    std::map<std::string, std::string> get_labels(const Entry& e, const std::string& path);

    void read_node(const Mapping& top, Config& config);
    AccessPort read_port(const Node& item, const std::string& path);
    Network read_network(const Node& item, const std::string& path);
    Peer read_peer(const Node& item, const std::string& path);
    Endpoint read_endpoint(const Node& item, const std::string& path);
    model::Service read_service(const Node& item, const std::string& path);
    model::PublishedPort read_published_port(const Node& item, const std::string& path);
    model::LoadBalancer read_load_balancer(const Node& item, const std::string& path);
    // A mapping of network names to IPv4 addresses (a service's VIPs).
    std::map<std::string, Ipv4> get_vips(const Entry& e, const std::string& path);
    // One of `names` (`parse` turns the text into the value), else "expected A or B".
    template <typename Parse>
    auto get_choice(const Entry& e, const std::string& path, const char* names, Parse parse);

    std::string file_;
    FieldOrigins& origins_;
};

template <typename Node>
void Reader<Node>::fail(const Origin& at, std::string_view path, std::string_view reason,
                        ErrorKind kind) const {
    ErrorInfo info;
    info.kind = kind;
    info.reason = std::string(reason);
    info.origin = at;
    // Within the object being read, the path is its base and a field; elsewhere (the node,
    // the top level, a list itself) the path is the field.
    const std::string& base = current_.base;
    if (!base.empty() && path.starts_with(base) &&
        (path.size() == base.size() || path[base.size()] == '.')) {
        info.object = current_.object;
        info.name = current_.name;
        info.list = current_.list;
        info.index = current_.index;
        info.within = current_.within;
        info.field = std::string(path.substr(std::min(path.size(), base.size() + 1)));
    } else {
        info.field = std::string(path);
        if (path.starts_with("node")) info.object = "node";
    }
    throw ConfigError(std::move(info));
}

template <typename Node>
void Reader<Node>::begin(const char* object, const std::string& list, std::size_t index,
                         const std::string& within) {
    current_ = {object, list, index, within, index_path(list, index), ""};
    if (!within.empty()) current_.base += "." + within;
}

template <typename Node>
model::Endpoint Reader<Node>::read_endpoint_at(const Node& item, const std::string& list,
                                               std::size_t index, const std::string& within) {
    begin("endpoint", list, index, within);
    return read_endpoint(item, current_.base);
}

template <typename Node>
model::Peer Reader<Node>::read_peer_at(const Node& item, const std::string& list, std::size_t index,
                                       const std::string& within) {
    begin("peer", list, index, within);
    return read_peer(item, current_.base);
}

template <typename Node> Origin Reader<Node>::origin(const Node& node) const {
    if (file_.empty()) return Origin{}; // a tree built from JSON: the path says where
    const YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return Origin{file_, 1, 1};
    return Origin{file_, mark.line + 1, mark.column + 1};
}

template <typename Node> std::string Reader<Node>::describe(const Node& node) {
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

template <typename Node>
Reader<Node>::Mapping::Mapping(Reader& reader, const Node& node, std::string path,
                               std::initializer_list<std::string_view> allowed)
    : reader_(reader), node_(node), path_(std::move(path)) {
    if (!node.IsMap()) reader.fail(node, path_, "expected a mapping, got " + describe(node));
    for (auto it = node.begin(); it != node.end(); ++it) {
        const Node key = it->first;
        if (!key.IsScalar()) {
            reader.fail(key, path_, "expected a field name, got " + describe(key));
        }
        const std::string& name = key.Scalar();
        bool known = false;
        for (std::string_view a : allowed)
            known = known || a == name;
        if (!known)
            reader.fail(key, path_, fmt::format("unknown field {}", quote(name)),
                        ErrorKind::UnknownField);
        for (const auto& [seen, entry] : entries_) {
            if (seen == name) {
                reader.fail(key, path_,
                            fmt::format("duplicate field {} (first at line {})", quote(name),
                                        reader.origin(entry.key).line),
                            ErrorKind::Duplicate);
            }
        }
        entries_.emplace_back(name, Entry{key, it->second});
    }
    reader.record(path_, reader.origin(node));
}

template <typename Node>
std::optional<typename Reader<Node>::Entry>
Reader<Node>::Mapping::optional(std::string_view key) const {
    for (const auto& [name, entry] : entries_) {
        if (name == key) {
            if (entry.value.IsNull()) return std::nullopt;
            return entry;
        }
    }
    return std::nullopt;
}

template <typename Node>
typename Reader<Node>::Entry Reader<Node>::Mapping::required(std::string_view key) const {
    for (const auto& [name, entry] : entries_) {
        if (name == key) {
            if (entry.value.IsNull())
                reader_.fail(entry.key, field_path(path_, key), "missing value",
                             ErrorKind::Missing);
            return entry;
        }
    }
    reader_.fail(node_, path_, fmt::format("missing required field '{}'", key), ErrorKind::Missing);
}

template <typename Node>
std::string Reader<Node>::get_string(const Entry& e, const std::string& path) {
    record(path, origin(e));
    if (!e.value.IsScalar()) fail(origin(e), path, "expected a string, got " + describe(e.value));
    return e.value.Scalar();
}

template <typename Node>
int64_t Reader<Node>::get_integer(const Entry& e, const std::string& path, int64_t min,
                                  int64_t max) {
    record(path, origin(e));
    const Node& v = e.value;
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
        fail(origin(e), path, fmt::format("{} is out of range {}..{}", text, min, max),
             ErrorKind::Range);
    }
    return value;
}

template <typename Node> bool Reader<Node>::get_bool(const Entry& e, const std::string& path) {
    record(path, origin(e));
    const Node& v = e.value;
    if (v.IsScalar() && (v.Tag() == "?" || v.Tag() == "tag:yaml.org,2002:bool")) {
        const std::string& s = v.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(origin(e), path, "expected true or false, got " + describe(v));
}

template <typename Node> Ipv4 Reader<Node>::get_ipv4(const Entry& e, const std::string& path) {
    const std::string s = get_string(e, path);
    const auto ip = parse_ipv4(s);
    if (!ip)
        fail(origin(e), path, fmt::format("{} is not a valid IPv4 address", quote(s)),
             ErrorKind::Invalid);
    return *ip;
}

template <typename Node>
AddrLen Reader<Node>::get_addr_len(const Entry& e, const std::string& path, bool length_required) {
    const std::string s = get_string(e, path);
    const auto al = parse_addr_len(s);
    if (!al || (length_required && !al->length)) {
        fail(origin(e), path,
             quote(s) + (length_required ? " is not a valid IPv4 prefix (a.b.c.d/len)"
                                         : " is not a valid IPv4 address (a.b.c.d[/len])"),
             ErrorKind::Invalid);
    }
    return *al;
}

template <typename Node> Mac Reader<Node>::get_mac(const Entry& e, const std::string& path) {
    const std::string s = get_string(e, path);
    const auto mac = parse_mac(s);
    if (!mac) {
        fail(
            origin(e), path,
            fmt::format("{} is not a valid MAC address (six hex pairs separated by ':')", quote(s)),
            ErrorKind::Invalid);
    }
    return *mac;
}

template <typename Node>
std::vector<Node> Reader<Node>::get_list(const std::optional<Entry>& e, const std::string& path) {
    std::vector<Node> items;
    if (!e) return items;
    record(path, origin(*e));
    if (!e->value.IsSequence())
        fail(origin(*e), path, "expected a list, got " + describe(e->value));
    for (const auto& item : e->value)
        items.push_back(item);
    return items;
}

template <typename Node> void Reader<Node>::read_node(const Mapping& top, Config& config) {
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

template <typename Node>
AccessPort Reader<Node>::read_port(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "device"});
    AccessPort port;
    port.origin = origin(item);
    port.name = get_string(m.required("name"), path + ".name");
    current_.name = port.name;
    port.device = get_string(m.required("device"), path + ".device");
    return port;
}

template <typename Node>
Network Reader<Node>::read_network(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path,
                    {"name", "vni", "subnet", "gateway", "mtu", "ip_range", "id", "created",
                     "internal", "attachable", "ingress", "encrypted", "labels"});
    Network net;
    net.origin = origin(item);
    net.name = get_string(m.required("name"), path + ".name");
    current_.name = net.name;
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

template <typename Node>
template <typename Read>
void Reader<Node>::for_each_named(const Entry& e, const std::string& path, const char* kind,
                                  Read read) {
    record(path, origin(e));
    if (!e.value.IsMap()) fail(origin(e), path, "expected a mapping, got " + describe(e.value));
    std::map<std::string, int> lines;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
        const Node key = it->first;
        if (!key.IsScalar())
            fail(key, path, fmt::format("expected a {} name, got {}", kind, describe(key)));
        const std::string& name = key.Scalar();
        if (auto seen = lines.find(name); seen != lines.end()) {
            fail(key, path,
                 fmt::format("duplicate {} {} (first at line {})", kind, quote(name), seen->second),
                 ErrorKind::Duplicate);
        }
        lines[name] = origin(key).line;
        read(key, it->second, path + "." + name);
    }
}

template <typename Node>
std::map<std::string, std::string> Reader<Node>::get_labels(const Entry& e,
                                                            const std::string& path) {
    std::map<std::string, std::string> labels;
    for_each_named(e, path, "label",
                   [&](const Node& key, const Node& value, const std::string& value_path) {
                       record(value_path, value.IsNull() ? origin(key) : origin(value));
                       if (!value.IsScalar()) {
                           fail(value.IsNull() ? origin(key) : origin(value), value_path,
                                "expected a string, got " + describe(value));
                       }
                       labels[key.Scalar()] = value.Scalar();
                   });
    return labels;
}

template <typename Node> Peer Reader<Node>::read_peer(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "address"});
    Peer peer;
    peer.origin = origin(item);
    peer.name = get_string(m.required("name"), path + ".name");
    current_.name = peer.name;
    peer.address = get_ipv4(m.required("address"), path + ".address");
    return peer;
}

template <typename Node>
Endpoint Reader<Node>::read_endpoint(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"name", "network", "ip", "mac", "node", "port", "service"});
    Endpoint ep;
    ep.origin = origin(item);
    ep.name = get_string(m.required("name"), path + ".name");
    current_.name = ep.name;
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

template <typename Node>
template <typename Parse>
auto Reader<Node>::get_choice(const Entry& e, const std::string& path, const char* names,
                              Parse parse) {
    const std::string text = get_string(e, path);
    const auto value = parse(text);
    if (!value)
        fail(origin(e), path, fmt::format("expected {}, got {}", names, quote(text)),
             ErrorKind::Invalid);
    return *value;
}

template <typename Node>
model::Service Reader<Node>::read_service(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path,
                    {"name", "id", "created", "endpoint_mode", "networks", "ports", "vips"});
    model::Service s;
    s.origin = origin(item);
    s.name = get_string(m.required("name"), path + ".name");
    current_.name = s.name;
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

template <typename Node>
model::PublishedPort Reader<Node>::read_published_port(const Node& item, const std::string& path) {
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

template <typename Node>
std::map<std::string, Ipv4> Reader<Node>::get_vips(const Entry& e, const std::string& path) {
    std::map<std::string, Ipv4> vips;
    for_each_named(e, path, "network",
                   [&](const Node& key, const Node& value, const std::string& value_path) {
                       vips[key.Scalar()] = get_ipv4(Entry{key, value}, value_path);
                   });
    return vips;
}

template <typename Node>
model::LoadBalancer Reader<Node>::read_load_balancer(const Node& item, const std::string& path) {
    const Mapping m(*this, item, path, {"network", "node", "ip"});
    model::LoadBalancer lb;
    lb.origin = origin(item);
    lb.network = get_string(m.required("network"), path + ".network");
    lb.node = get_string(m.required("node"), path + ".node");
    lb.ip = get_ipv4(m.required("ip"), path + ".ip");
    return lb;
}

template <typename Node> void Reader<Node>::check_text(const std::string& text) const {
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
         at == nul
             ? "a NUL byte (YAML text cannot hold one)"
             : fmt::format("not valid UTF-8 (byte 0x{:02x})", static_cast<unsigned char>(text[at])),
         ErrorKind::Syntax);
}

template <typename Node>
typename Reader<Node>::Scan Reader<Node>::scan(const std::string& text) const {
    std::istringstream in(text);
    Scan out;
    DocumentBuilder builder(out.document);
    YAML::Mark at;
    try {
        YAML::Parser parser(in);
        if (parser.HandleNextDocument(builder) && parser.HandleNextDocument(builder))
            out.second = builder.second.value_or(YAML::Mark{});
        return out;
    } catch (const DocumentBuilder::TooDeep& e) {
        at = e.mark;
    } catch (const YAML::DeepRecursion& e) { // yaml-cpp's own guard, in case it comes first
        at = e.mark;
    } catch (const YAML::Exception& e) {
        out.error = e; // in the first document or the second: a syntax error either way
        return out;
    }
    fail(at.is_null() || at.line < 0 ? Origin{file_, 1, 1}
                                     : Origin{file_, at.line + 1, at.column + 1},
         "", fmt::format("nested deeper than {} levels", max_config_depth), ErrorKind::Syntax);
}

template <typename Node> Config Reader<Node>::read_document(const std::string& text) {
    check_text(text);
    const Scan scanned = scan(text);
    if (scanned.error) {
        const YAML::Exception& e = *scanned.error;
        Origin at{file_, 0, 0};
        if (!e.mark.is_null() && e.mark.line >= 0)
            at = Origin{file_, e.mark.line + 1, e.mark.column + 1};
        fail(at, "", "syntax error: " + e.msg, ErrorKind::Syntax);
    }
    const Node root(scanned.document.root());
    if (root.IsNull()) {
        fail(Origin{file_, 1, 1}, "", "the configuration is empty; expected a mapping",
             ErrorKind::Syntax);
    }
    if (scanned.second) {
        fail(Origin{file_, scanned.second->line + 1, scanned.second->column + 1}, "",
             "more than one YAML document; expected exactly one", ErrorKind::Syntax);
    }
    return read_root(root);
}

template <typename Node> Config Reader<Node>::read_root(const Node& root) {
    if (!root.IsMap()) {
        fail(root, "", "expected a mapping at the top level, got " + describe(root));
    }
    const Mapping top(
        *this, root, "",
        {"node", "ports", "networks", "peers", "endpoints", "services", "load_balancers"});

    Config config;
    read_node(top, config);
    // Each object's errors name it: its kind, list and index (begin()).
    auto each = [&](const char* list, const char* object, auto read, auto& into) {
        const auto items = get_list(top.optional(list), list);
        for (std::size_t i = 0; i < items.size(); ++i) {
            begin(object, list, i);
            into.push_back((this->*read)(items[i], current_.base));
        }
        current_ = {};
    };
    each("ports", "port", &Reader::read_port, config.ports);
    each("networks", "network", &Reader::read_network, config.networks);
    each("peers", "peer", &Reader::read_peer, config.peers);
    each("endpoints", "endpoint", &Reader::read_endpoint, config.endpoints);
    each("services", "service", &Reader::read_service, config.services);
    each("load_balancers", "load_balancer", &Reader::read_load_balancer, config.load_balancers);
    return config;
}

} // namespace

model::Config load_config_string(const std::string& text, const std::string& source_name) {
    FieldOrigins origins;
    Reader<YamlNode> reader(source_name, origins);
    Config config = reader.read_document(text);
    ModelIndex::validate(config, &origins);
    return config;
}

namespace {

// A JSON value (a request's document, the state file) seen through the part of
// yaml-cpp's Node interface the Reader uses, so that the one Reader reads both without
// building a YAML tree of the document first (at 100k endpoints that tree took most of
// the time). As yaml-cpp tags them, strings are quoted scalars (tag "!"), numbers and
// booleans plain ones ("?") with JSON's text; object keys are strings.
class JsonNode {
public:
    JsonNode() = default;
    explicit JsonNode(const nlohmann::json* value) : value_(value) {}
    static JsonNode key(const std::string* name) {
        JsonNode n;
        n.key_ = name;
        return n;
    }

    bool IsNull() const { return key_ == nullptr && (value_ == nullptr || value_->is_null()); }
    bool IsMap() const { return key_ == nullptr && value_ != nullptr && value_->is_object(); }
    bool IsSequence() const { return key_ == nullptr && value_ != nullptr && value_->is_array(); }
    bool IsScalar() const { return !IsNull() && !IsMap() && !IsSequence(); }
    std::string Scalar() const {
        if (key_ != nullptr) return *key_;
        if (value_ == nullptr) return {};
        return value_->is_string() ? value_->get_ref<const std::string&>() : value_->dump();
    }
    std::string Tag() const {
        return key_ != nullptr || (value_ != nullptr && value_->is_string()) ? "!" : "?";
    }
    YAML::NodeType::value Type() const {
        if (IsNull()) return YAML::NodeType::Null;
        if (IsMap()) return YAML::NodeType::Map;
        if (IsSequence()) return YAML::NodeType::Sequence;
        return YAML::NodeType::Scalar;
    }
    YAML::Mark Mark() const { return YAML::Mark::null_mark(); }

    // Iteration as yaml-cpp's: a mapping's entries as (key, value) pairs, a list's items.
    class iterator;
    iterator begin() const;
    iterator end() const;

private:
    const nlohmann::json* value_ = nullptr;
    const std::string* key_ = nullptr;
};

class JsonNode::iterator {
public:
    iterator(nlohmann::json::const_iterator it, bool map) : it_(it), map_(map) {}
    bool operator!=(const iterator& o) const { return it_ != o.it_; }
    iterator& operator++() {
        ++it_;
        return *this;
    }
    const std::pair<JsonNode, JsonNode>* operator->() {
        entry_ = {map_ ? key(&it_.key()) : JsonNode(), JsonNode(&*it_)};
        return &entry_;
    }
    JsonNode operator*() const { return JsonNode(&*it_); }

private:
    nlohmann::json::const_iterator it_;
    bool map_;
    std::pair<JsonNode, JsonNode> entry_;
};

JsonNode::iterator JsonNode::begin() const {
    return {value_->cbegin(), value_->is_object()};
}
JsonNode::iterator JsonNode::end() const {
    return {value_->cend(), value_->is_object()};
}

} // namespace

model::Config load_config_json(const nlohmann::json& doc) {
    FieldOrigins origins;
    Reader<JsonNode> reader("", origins);
    Config config = reader.read_root(JsonNode(&doc));
    ModelIndex::validate(config, &origins);
    return config;
}

model::Endpoint read_endpoint_json(const nlohmann::json& object, const Place& at) {
    FieldOrigins origins;
    Reader<JsonNode> reader("", origins);
    return reader.read_endpoint_at(JsonNode(&object), at.list, at.index, at.within);
}

model::Peer read_peer_json(const nlohmann::json& object, const Place& at) {
    FieldOrigins origins;
    Reader<JsonNode> reader("", origins);
    return reader.read_peer_at(JsonNode(&object), at.list, at.index, at.within);
}

model::Config parse_config_string(const std::string& text, const std::string& source_name) {
    FieldOrigins origins;
    Reader<YamlNode> reader(source_name, origins);
    return reader.read_document(text);
}

model::Config parse_config_json(const nlohmann::json& doc) {
    FieldOrigins origins;
    Reader<JsonNode> reader("", origins);
    return reader.read_root(JsonNode(&doc));
}

model::Config load_config_file(const std::string& path) {
    // Only a regular file of a bounded size: /dev/zero or a FIFO would be read forever.
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    }
    struct stat st {};
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
    ModelIndex::validate(config);
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
