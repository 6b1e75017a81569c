#include "control/rpc.hpp"
#include "control/build_info.hpp"

#include "control/config_load.hpp"
#include "control/ipam.hpp"
#include "control/model_json.hpp"
#include "control/text_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace vxmesh::control {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// A request that cannot be carried out; `path` names the request field at fault. An error
// of the configuration's rules carries its ErrorInfo, which the reply gives as data.
struct RequestError {
    std::string message;
    std::string path;
    ErrorKind kind = ErrorKind::Invalid;
    std::optional<ErrorInfo> info = std::nullopt;
};

RequestError from_info(ErrorInfo info) {
    return RequestError{info.message(), info.path(), info.kind, std::move(info)};
}

const char* const kinds[] = {"network", "peer", "endpoint", "service"};

std::string plural(const std::string& kind) {
    return kind + "s";
}

model::Config load_document(const json& params, const char* field) {
    if (!params.contains(field))
        throw RequestError{fmt::format("missing field '{}'", field), field, ErrorKind::Missing};
    const json& doc = params[field];
    // A string is YAML (or JSON) text whose positions mean something to the sender (its
    // errors name the field as their file); an object's errors are placed inside the field.
    try {
        if (doc.is_string()) return load_config_string(doc.get<std::string>(), field);
        if (doc.is_object()) return load_config_json(doc);
    } catch (const ConfigError& e) {
        ErrorInfo info = e.info();
        if (doc.is_string()) throw RequestError{e.what(), field, info.kind, info};
        info.outer = field;
        throw from_info(std::move(info));
    }
    throw RequestError{fmt::format("{}: must be a YAML/JSON string or an object", field), field,
                       ErrorKind::Type};
}

// Fields of the patched document, read before the loader has checked it: a field that is
// absent or of the wrong type (or null) reads as `fallback`, so the loader, which runs later,
// reports it with its path. (json::value() would throw type_error.302 instead.)
std::string text_field(const json& object, const char* key, const std::string& fallback = "") {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool flag_field(const json& object, const char* key) {
    if (!object.is_object()) return false;
    auto it = object.find(key);
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

// A list field, or an empty list when it is absent or not a list.
const json& list_field(const json& object, const char* key) {
    static const json empty = json::array();
    if (!object.is_object()) return empty;
    auto it = object.find(key);
    return it != object.end() && it->is_array() ? *it : empty;
}

int find_by_name(const json& list, const std::string& name) {
    for (size_t i = 0; i < list.size(); i++)
        if (text_field(list[i], "name") == name) return static_cast<int>(i);
    return -1;
}

std::string names(const std::vector<std::string>& list) {
    return fmt::format("{}", fmt::join(list, ", "));
}

// The ingress network's name in a document, "" when there is none.
std::string ingress_name(const json& doc) {
    for (const json& n : list_field(doc, "networks"))
        if (flag_field(n, "ingress")) return text_field(n, "name");
    return "";
}

bool publishes_ingress(const json& service) {
    for (const json& p : list_field(service, "ports"))
        if (p.is_object() && text_field(p, "mode", "ingress") == "ingress") return true;
    return false;
}

// Why an object cannot be removed while others still refer to it, "" when it can: Docker
// refuses to remove a network with attached endpoints or services, or the ingress network
// while a service publishes ports in ingress mode; a peer with endpoints behind it; and
// (vxmesh's rule, since tasks are the orchestrator's endpoints) a service with tasks.
std::string in_use(const json& doc, const std::string& kind, const std::string& name) {
    std::vector<std::string> endpoints, services;
    if (kind == "network") {
        if (ingress_name(doc) == name) {
            for (const json& sv : list_field(doc, "services"))
                if (publishes_ingress(sv)) services.push_back(text_field(sv, "name", "?"));
            if (!services.empty())
                return fmt::format("ingress network '{}' cannot be removed while service(s) "
                                   "publish ports in ingress mode: {}",
                                   name, names(services));
        }
        for (const json& sv : list_field(doc, "services"))
            for (const json& n : list_field(sv, "networks"))
                if (n == name) services.push_back(text_field(sv, "name", "?"));
        for (const json& e : list_field(doc, "endpoints"))
            if (text_field(e, "network") == name) endpoints.push_back(text_field(e, "name", "?"));
        std::vector<std::string> users;
        if (!services.empty()) users.push_back("service(s): " + names(services));
        if (!endpoints.empty()) users.push_back("endpoint(s): " + names(endpoints));
        if (users.empty()) return "";
        return fmt::format("network '{}' is in use by {}", name, fmt::join(users, " and "));
    }
    if (kind == "peer") {
        for (const json& e : list_field(doc, "endpoints"))
            if (text_field(e, "node") == name) endpoints.push_back(text_field(e, "name", "?"));
        if (endpoints.empty()) return "";
        return fmt::format("peer '{}' is in use by endpoint(s): {}", name, names(endpoints));
    }
    if (kind == "service") {
        for (const json& e : list_field(doc, "endpoints"))
            if (text_field(e, "service") == name) endpoints.push_back(text_field(e, "name", "?"));
        if (endpoints.empty()) return "";
        return fmt::format("service '{}' has task(s): {}; detach them first (they are the "
                           "orchestrator's endpoints, vxmesh does not remove them)",
                           name, names(endpoints));
    }
    return "";
}

// After an update of a service, its VIPs on networks it is no longer attached to (or all of
// them, for dnsrr) go, and IPAM frees them.
void prune_vips(json& service, const std::string& ingress) {
    if (!service.contains("vips") || !service["vips"].is_object()) return;
    if (text_field(service, "endpoint_mode", "vip") == "dnsrr") {
        service.erase("vips");
        return;
    }
    std::set<std::string> attached;
    for (const json& n : list_field(service, "networks"))
        if (n.is_string()) attached.insert(n.get<std::string>());
    if (!ingress.empty() && publishes_ingress(service)) attached.insert(ingress);
    json kept = json::object();
    for (const auto& [network, vip] : service["vips"].items())
        if (attached.count(network)) kept[network] = vip;
    service["vips"] = kept;
}

// Loads a patched document; an error is reported at the operation that brought the
// offending object in, where one did (`touched`: (kind, name) -> op index).
model::Config load_patched(const json& doc,
                           const std::map<std::pair<std::string, std::string>, size_t>& touched) {
    try {
        return load_config_json(doc);
    } catch (const ConfigError& e) {
        ErrorInfo info = e.info();
        if (auto it = touched.find({info.object, info.name});
            !info.list.empty() && it != touched.end()) {
            info.list = "ops";
            info.index = it->second;
            info.within = "object";
        }
        throw from_info(std::move(info));
    }
}

struct Patched {
    model::Config config;
    Ipam work;                   // IPAM with the addresses allocated for the patch
    json allocated;              // [{name, network, ip, mac}] of the endpoints given an address
    ServiceAllocations services; // the VIPs given before the endpoints' addresses
};

bool lacks_ip(const json& endpoint) {
    return !endpoint.contains("ip") || endpoint["ip"].is_null();
}

Patched apply_patch(const model::Config& current, const Ipam& ipam, const json& params) {
    if (!params.contains("ops") || !params["ops"].is_array())
        throw RequestError{"ops: must be a list of operations", "ops"};
    json doc = config_to_json(current);
    std::map<std::pair<std::string, std::string>, size_t> touched; // (kind, name) → op index
    std::set<std::string> updated_services;
    // Whether the patch only adds endpoints without an address (an orchestrator's attach):
    // then the document without them is `current` itself, which need not be loaded again.
    bool only_attaches = true;
    const json& ops = params["ops"];
    for (size_t i = 0; i < ops.size(); i++) {
        const json& op = ops[i];
        std::string at = fmt::format("ops[{}]", i);
        if (!op.is_object()) throw RequestError{at + ": must be an object", at};
        std::string action = text_field(op, "op");
        std::string kind = text_field(op, "kind");
        if (std::find(std::begin(kinds), std::end(kinds), kind) == std::end(kinds))
            throw RequestError{
                fmt::format("{}.kind: must be network, peer, endpoint or service", at),
                at + ".kind"};
        json& list = doc[plural(kind)];
        only_attaches = only_attaches && action == "add" && kind == "endpoint" &&
                        op.contains("object") && lacks_ip(op["object"]);
        if (action == "remove") {
            if (!op.contains("name") || !op["name"].is_string())
                throw RequestError{
                    fmt::format("{}.name: expected the name of the {} to remove", at, kind),
                    at + ".name"};
            std::string name = op["name"];
            int index = find_by_name(list, name);
            if (index < 0)
                throw RequestError{fmt::format("{}.name: no {} '{}'", at, kind, name), at + ".name",
                                   ErrorKind::NotFound};
            if (std::string why = in_use(doc, kind, name); !why.empty())
                throw RequestError{fmt::format("{}: {}", at, why), at, ErrorKind::InUse};
            list.erase(static_cast<size_t>(index));
            touched.erase({kind, name});
            continue;
        }
        if (action != "add" && action != "update")
            throw RequestError{fmt::format("{}.op: must be add, update or remove", at), at + ".op"};
        if (!op.contains("object") || !op["object"].is_object() || !op["object"].contains("name") ||
            !op["object"]["name"].is_string())
            throw RequestError{fmt::format("{}.object: must be an object with a name", at),
                               at + ".object"};
        const json& object = op["object"];
        std::string name = object["name"];
        int index = find_by_name(list, name);
        if (action == "add") {
            if (index >= 0)
                throw RequestError{
                    fmt::format("{}.object.name: {} '{}' already exists", at, kind, name),
                    at + ".object.name", ErrorKind::Exists};
            list.push_back(object);
        } else {
            if (index < 0)
                throw RequestError{fmt::format("{}.object.name: no {} '{}'", at, kind, name),
                                   at + ".object.name", ErrorKind::NotFound};
            list[static_cast<size_t>(index)].update(object); // fields given replace, others stay
            if (kind == "endpoint" && !object.contains("mac") && object.contains("ip"))
                list[static_cast<size_t>(index)].erase("mac"); // recompute Docker's default
            if (kind == "service") updated_services.insert(name);
        }
        touched[{kind, name}] = i;
    }

    const std::string ingress = ingress_name(doc);
    for (json& service : doc["services"])
        if (updated_services.count(text_field(service, "name"))) prune_vips(service, ingress);
    // Load balancers are IPAM's, not the client's: those whose node has no task left on
    // their network go (with the node or network, if the patch removes them too).
    std::set<std::pair<std::string, std::string>> tasks_at;
    for (const json& e : list_field(doc, "endpoints"))
        if (e.is_object() && e.contains("service"))
            tasks_at.insert({text_field(e, "network"), text_field(e, "node")});
    json load_balancers = json::array();
    for (const json& lb : list_field(doc, "load_balancers"))
        if (tasks_at.count({text_field(lb, "network"), text_field(lb, "node")}))
            load_balancers.push_back(lb);
    doc["load_balancers"] = load_balancers;

    // Docker's order: a service's VIPs first, then the endpoints without an address get the
    // next ones of their network from IPAM, serially in the order they were added, once
    // the rest of the patch is known to be valid (the nodes' load balancers come last, in
    // update()).
    Ipam work = ipam;
    json allocated = json::array();
    ServiceAllocations services;
    std::vector<size_t> pending;
    json& endpoints = doc["endpoints"];
    for (size_t i = 0; i < endpoints.size(); i++)
        if (lacks_ip(endpoints[i])) pending.push_back(i);
    bool services_touched = false;
    for (const auto& [key, index] : touched)
        services_touched = services_touched || key.first == "service";
    if (!pending.empty() || services_touched) {
        model::Config without;
        if (only_attaches) {
            without = current;
        } else {
            json rest = doc;
            for (auto it = pending.rbegin(); it != pending.rend(); ++it)
                rest["endpoints"].erase(*it);
            without = load_patched(rest, touched);
        }
        try {
            reconcile(work, without);
            allocate_vips(work, without, services);
        } catch (const IpamError& e) {
            throw RequestError{fmt::format("IPAM: {}", e.what()), "", e.kind()};
        }
        for (const auto& v : services.vips) {
            json& service =
                doc["services"][static_cast<size_t>(find_by_name(doc["services"], v.service))];
            service["vips"][v.network] = model::format_ipv4(v.ip);
        }
        for (size_t index : pending) {
            json& e = endpoints[index];
            const std::string name = e["name"];
            auto op = touched.find({"endpoint", name});
            const std::string at = op != touched.end() ? fmt::format("ops[{}].object", op->second)
                                                       : fmt::format("endpoints[{}]", index);
            if (!e.contains("network") || e["network"].is_null())
                throw RequestError{at + ": missing required field 'network'", at};
            if (!e["network"].is_string())
                throw RequestError{fmt::format("{}.network: expected a network name, got {}", at,
                                               e["network"].dump()),
                                   at + ".network"};
            const std::string network = e["network"];
            bool known = false;
            for (const auto& n : without.networks)
                known = known || n.name == network;
            if (!known)
                throw RequestError{fmt::format("{}.network: unknown network '{}'", at, network),
                                   at + ".network"};
            try {
                e["ip"] = model::format_ipv4(work.allocate_address(network, name));
            } catch (const IpamError& error) {
                throw RequestError{fmt::format("{}.ip: {}", at, error.what()), at + ".ip",
                                   error.kind()};
            }
            allocated.push_back({{"name", name}, {"network", network}, {"ip", e["ip"]}});
        }
    }
    model::Config next = load_patched(doc, touched);
    for (json& a : allocated)
        for (const auto& e : next.endpoints)
            if (e.name == a["name"]) a["mac"] = model::format_mac(e.mac);
    return {std::move(next), std::move(work), std::move(allocated), std::move(services)};
}

json update(ControlPlane& plane, NetworkState& state, model::Config next, Ipam work, bool dry_run,
            ServiceAllocations given = {});

// ---------------------------------------------------------------------------------------
// network_create: docker network create --driver overlay, with IPAM.

const std::string kVxlanPath = fmt::format("options.{}", kVxlanIdListOption);
const std::string kMtuPath = fmt::format("options.{}", kMtuOption);

const json* param(const json& params, const char* key) {
    auto it = params.find(key);
    return it == params.end() || it->is_null() ? nullptr : &*it;
}

bool bool_param(const json& params, const char* key) {
    const json* v = param(params, key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) throw RequestError{fmt::format("{}: expected true or false", key), key};
    return v->get<bool>();
}

// A list of strings; a single string is taken as a list of one.
std::vector<std::string> string_list(const json& params, const char* key) {
    const json* v = param(params, key);
    if (v == nullptr) return {};
    if (v->is_string()) return {v->get<std::string>()};
    if (!v->is_array()) throw RequestError{fmt::format("{}: expected a list of strings", key), key};
    std::vector<std::string> out;
    for (size_t i = 0; i < v->size(); i++) {
        if (!(*v)[i].is_string()) {
            std::string at = fmt::format("{}[{}]", key, i);
            throw RequestError{at + ": expected a string", at};
        }
        out.push_back((*v)[i]);
    }
    return out;
}

std::map<std::string, std::string> string_map(const json& params, const char* key) {
    const json* v = param(params, key);
    if (v == nullptr) return {};
    if (!v->is_object())
        throw RequestError{fmt::format("{}: expected an object of strings", key), key};
    std::map<std::string, std::string> out;
    for (const auto& [k, value] : v->items()) {
        if (!value.is_string()) {
            std::string at = fmt::format("{}.{}", key, k);
            throw RequestError{at + ": expected a string", at};
        }
        out[k] = value.get<std::string>();
    }
    return out;
}

// The request field an IPAM complaint is about.
std::string ipam_error_path(const IpamError& e) {
    if (e.field() == "vni") return kVxlanPath;
    if (e.field() == "address") return "";
    return e.field();
}

// The request field for a field of the new network.
std::string create_field(const std::string& field) {
    if (field == "vni") return kVxlanPath;
    if (field == "mtu") return kMtuPath;
    if (field == "subnet" || field == "gateway" || field == "ip_range") return field + "[0]";
    return field;
}

// params[key] as IPv4 prefixes, each checked in order; past `max` entries the first
// extra one is refused (a vxmesh network has a single subnet).
std::vector<model::Ipv4Prefix> prefix_list(const json& params, const char* key, size_t max) {
    std::vector<model::Ipv4Prefix> out;
    const auto texts = string_list(params, key);
    for (size_t i = 0; i < texts.size(); i++) {
        std::string at = fmt::format("{}[{}]", key, i);
        auto p = model::parse_prefix(texts[i]);
        if (!p)
            throw RequestError{
                fmt::format("{}: '{}' is not a valid IPv4 prefix (a.b.c.d/len)", at, texts[i]), at};
        if (i >= max) throw RequestError{at + ": a vxmesh network has a single subnet", at};
        out.push_back(*p);
    }
    return out;
}

json network_create(ControlPlane& plane, NetworkState& state, const json& params) {
    static const std::set<std::string> known = {"name",     "driver",   "subnet",     "gateway",
                                                "ip_range", "internal", "attachable", "ingress",
                                                "options",  "labels",   "dry_run"};
    for (const auto& [key, value] : params.items()) {
        if (!known.count(key)) throw RequestError{fmt::format("{}: unknown field", key), key};
    }
    const json* name_param = param(params, "name");
    if (name_param == nullptr) throw RequestError{"missing field 'name'", "name"};
    if (!name_param->is_string()) throw RequestError{"name: expected a string", "name"};
    const std::string name = *name_param;
    if (std::string why = name_error(name); !why.empty())
        throw RequestError{"name: " + why, "name"};
    const model::Config& current = plane.config();
    for (const auto& n : current.networks) {
        if (n.name == name)
            throw RequestError{fmt::format("name: network with name {} already exists", name),
                               "name"};
    }
    if (const json* driver = param(params, "driver")) {
        if (!driver->is_string() || *driver != "overlay")
            throw RequestError{
                fmt::format("driver: only the overlay driver is supported, not {}", driver->dump()),
                "driver"};
    }

    NetworkRequest request;
    request.name = name;
    request.ingress = bool_param(params, "ingress");
    request.subnets = prefix_list(params, "subnet", 1);
    request.ip_ranges = prefix_list(params, "ip_range", SIZE_MAX);
    const auto gateways = string_list(params, "gateway");
    for (size_t i = 0; i < gateways.size(); i++) {
        std::string at = fmt::format("gateway[{}]", i);
        auto ip = model::parse_ipv4(gateways[i]);
        if (!ip)
            throw RequestError{fmt::format("{}: '{}' is not a valid IPv4 address", at, gateways[i]),
                               at};
        request.gateways.push_back(*ip);
    }

    const auto options = string_map(params, "options");
    for (const auto& [key, value] : options) {
        if (key != kMtuOption && key != kEncryptedOption && key != kVxlanIdListOption) {
            std::string at = "options." + key;
            throw RequestError{fmt::format("{}: unknown driver option (known: {}, {}, {})", at,
                                           kMtuOption, kVxlanIdListOption, kEncryptedOption),
                               at};
        }
    }
    if (auto it = options.find(std::string(kVxlanIdListOption)); it != options.end()) {
        try {
            request.vnis = parse_vxlanid_list(it->second);
        } catch (const IpamError& e) {
            std::string why = e.what();
            if (why.starts_with("vxlanid_list: ")) why = why.substr(14);
            throw RequestError{fmt::format("{}: {}", kVxlanPath, why), kVxlanPath};
        }
    }
    uint16_t mtu = 0;
    try {
        mtu = resolve_mtu(options);
    } catch (const IpamError& e) {
        throw RequestError{fmt::format("options.{}", e.what()), kMtuPath};
    }

    Ipam work = state.ipam();
    NetworkInfo info;
    try {
        info = work.create_network(request);
    } catch (const IpamError& e) {
        std::string path = ipam_error_path(e);
        throw RequestError{path.empty() ? e.what() : fmt::format("{}: {}", path, e.what()), path,
                           e.kind()};
    }

    model::Network net;
    net.name = name;
    net.vni = info.subnets[0].vni;
    net.subnet = info.subnets[0].subnet;
    net.gateway = info.subnets[0].gateway;
    net.ip_range = info.subnets[0].ip_range;
    net.mtu = mtu;
    net.encrypted = options.count(std::string(kEncryptedOption)) != 0;
    net.internal = bool_param(params, "internal");
    net.attachable = bool_param(params, "attachable");
    net.ingress = request.ingress;
    net.labels = string_map(params, "labels");
    net.id = state.new_id();
    net.created = state.now();

    json doc = config_to_json(current);
    doc["networks"].push_back(network_to_json(net));
    model::Config next;
    try {
        next = load_config_json(doc);
    } catch (const ConfigError& e) {
        // The new network's fields are the request's options, under their request names.
        ErrorInfo info = e.info();
        if (info.list == "networks" && info.name == net.name) {
            info.list.clear();
            info.index.reset();
            info.field = create_field(info.field);
        }
        throw from_info(std::move(info));
    }
    json result =
        update(plane, state, std::move(next), std::move(work), bool_param(params, "dry_run"));
    result["network"] = network_to_json(net);
    if (net.encrypted) {
        result["warnings"].push_back(fmt::format(
            "network {}: vxmesh does not encrypt yet; its VXLAN traffic is sent in the clear "
            "(the encrypted option only lowers the MTU to {} and shows in inspect)",
            name, net.mtu));
    }
    return result;
}

// What changes in one list, by name: removals and updates in name order, then additions
// in name order. Objects are compared as their JSON shows them, that is, without their
// origin; by value, not through JSON (at 100k endpoints that conversion was most of it).
template <typename T, typename Name>
void diff_list(json& out, const char* kind, const std::vector<T>& from, const std::vector<T>& to,
               Name name) {
    auto same = [](const T& a, const T& b) {
        if (a.origin == b.origin) return a == b;
        T moved = b;
        moved.origin = a.origin;
        return a == moved;
    };
    std::unordered_map<std::string, const T*> before;
    for (const T& x : from)
        before.emplace(name(x), &x);
    std::map<std::string, const char*> changed; // removals and updates, by name
    std::set<std::string> added, present;
    for (const T& x : to) {
        std::string n = name(x);
        auto it = before.find(n);
        if (it == before.end())
            added.insert(n);
        else if (!same(*it->second, x))
            changed.emplace(n, "update");
        present.insert(std::move(n));
    }
    for (const auto& [n, x] : before)
        if (!present.count(n)) changed.emplace(n, "remove");
    for (const auto& [n, action] : changed)
        out.push_back({{"action", action}, {"kind", kind}, {"name", n}});
    for (const auto& n : added)
        out.push_back({{"action", "add"}, {"kind", kind}, {"name", n}});
}

// Replies keep their keys in the order written (nlohmann::ordered_json): the inspect
// operations answer with Docker's field order, and errors read as PROTOCOL.md shows them.
ordered_json reply_ok(const json& id, ordered_json result) {
    ordered_json r = {{"ok", true}, {"result", std::move(result)}};
    if (!id.is_null()) r["id"] = id;
    return r;
}

// An error as data: beside the message and the request field, what kind of error it is and,
// for the configuration's rules, the object at fault, its field, the reason alone and the
// object it clashes with (control/PROTOCOL.md, "Errors").
ordered_json reply_error(const json& id, const RequestError& e) {
    ordered_json r = {{"ok", false}, {"error", e.message}};
    if (!e.path.empty()) r["path"] = e.path;
    r["kind"] = to_string(e.kind);
    if (e.info) {
        const ErrorInfo& info = *e.info;
        if (!info.object.empty()) r["object"] = info.object;
        if (!info.name.empty()) r["name"] = info.name;
        if (!info.field.empty()) r["field"] = info.field;
        r["reason"] = info.reason;
        if (info.conflict)
            r["conflict"] = {{"object", info.conflict->object},
                             {"name", info.conflict->name},
                             {"path", info.conflict->path}};
    }
    if (!id.is_null()) r["id"] = id;
    return r;
}

ordered_json reply_error(const json& id, const std::string& message, const std::string& path,
                         ErrorKind kind = ErrorKind::Invalid) {
    return reply_error(id, RequestError{message, path, kind});
}

json load_balancers_json(const std::vector<model::LoadBalancer>& given) {
    json lbs = json::array();
    for (const auto& lb : given)
        lbs.push_back({{"network", lb.network},
                       {"node", lb.node},
                       {"ip", model::format_ipv4(lb.ip)},
                       {"mac", model::format_mac(model::default_mac(lb.ip))}});
    return lbs;
}

// A patch whose operations all add or remove endpoints or peers, each well formed, as typed
// operations (NetworkState::change); nullopt for any other patch, which the whole-document
// path carries out (and whose errors it reports).
std::optional<std::vector<TypedOp>> typed_ops(const json& params) {
    auto it = params.find("ops");
    if (it == params.end() || !it->is_array() || it->empty()) return std::nullopt;
    std::vector<TypedOp> out;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& op = (*it)[i];
        if (!op.is_object()) return std::nullopt;
        const std::string action = text_field(op, "op"), kind = text_field(op, "kind");
        TypedOp t;
        t.op = i;
        if (kind == "endpoint")
            t.kind = TypedOp::Kind::Endpoint;
        else if (kind == "peer")
            t.kind = TypedOp::Kind::Peer;
        else
            return std::nullopt;
        if (action == "add") {
            auto object = op.find("object");
            if (object == op.end() || !object->is_object() || !object->contains("name") ||
                !(*object)["name"].is_string())
                return std::nullopt;
            t.action = TypedOp::Action::Add;
            t.object = *object;
        } else if (action == "remove") {
            auto name = op.find("name");
            if (name == op.end() || !name->is_string()) return std::nullopt;
            t.action = TypedOp::Action::Remove;
            t.name = *name;
        } else {
            return std::nullopt;
        }
        out.push_back(std::move(t));
    }
    return out;
}

json update(ControlPlane& plane, NetworkState& state, model::Config next, Ipam work, bool dry_run,
            ServiceAllocations given) {
    try {
        ServiceAllocations more = state.prepare(next, plane.config(), work);
        given.vips.insert(given.vips.end(), more.vips.begin(), more.vips.end());
        given.load_balancers.insert(given.load_balancers.end(), more.load_balancers.begin(),
                                    more.load_balancers.end());
    } catch (const IpamError& e) {
        throw RequestError{fmt::format("IPAM: {}", e.what()), "", e.kind()};
    }
    json changes = config_diff(plane.config(), next);
    std::vector<std::string> warnings;
    try {
        warnings = state.commit(plane, next, std::move(work), dry_run);
    } catch (const IpamError& e) {
        throw RequestError{fmt::format("IPAM: {}", e.what()), "", e.kind()};
    }
    json result = {{"generation", plane.generation()}, {"dry_run", dry_run}, {"changes", changes}};
    if (!given.vips.empty()) {
        json vips = json::array();
        for (const auto& v : given.vips)
            vips.push_back(
                {{"service", v.service}, {"network", v.network}, {"ip", model::format_ipv4(v.ip)}});
        result["allocated_vips"] = vips;
    }
    if (!given.load_balancers.empty())
        result["allocated_load_balancers"] = load_balancers_json(given.load_balancers);
    if (!warnings.empty()) result["warnings"] = warnings;
    return result;
}

} // namespace

json config_diff(const model::Config& from, const model::Config& to) {
    json out = json::array();
    model::Config node_before, node_after;
    node_before.node = from.node;
    node_after.node = to.node;
    if (config_to_json(node_before)["node"] != config_to_json(node_after)["node"])
        out.push_back({{"action", "update"}, {"kind", "node"}, {"name", to.node.name}});
    auto name = [](const auto& x) { return x.name; };
    diff_list(out, "network", from.networks, to.networks, name);
    diff_list(out, "peer", from.peers, to.peers, name);
    diff_list(out, "endpoint", from.endpoints, to.endpoints, name);
    diff_list(out, "service", from.services, to.services, name);
    // Load balancers have no name of their own: "lb-NETWORK@NODE".
    diff_list(out, "load_balancer", from.load_balancers, to.load_balancers, load_balancer_name);
    return out;
}

namespace {

// network_inspect / service_inspect: {"names": [NAME|ID, ...], "verbose": bool} → the
// list `docker network inspect` / `docker service inspect` prints, one per name, in the
// order asked. A name that matches nothing is an error naming it (as docker's).
ordered_json inspect(const model::Config& config, const NetworkState& state, const std::string& op,
                     const json& params) {
    auto names = params.find("names");
    if (names == params.end() || !names->is_array() || names->empty())
        throw RequestError{"names: expected a non-empty list of names or ids", "names"};
    bool verbose = bool_param(params, "verbose");
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (size_t i = 0; i < names->size(); i++) {
        const json& name = (*names)[i];
        std::string path = fmt::format("names[{}]", i);
        if (!name.is_string())
            throw RequestError{path + ": expected a string", path, ErrorKind::Type};
        if (op == "network_inspect") {
            const model::Network* n = find_network(config, name.get<std::string>());
            if (n == nullptr)
                throw RequestError{fmt::format("No such network: {}", name.get<std::string>()),
                                   path, ErrorKind::NotFound};
            out.push_back(network_inspect(config, *n, verbose, state.lb_indexes()));
        } else {
            const model::Service* s = find_service(config, name.get<std::string>());
            if (s == nullptr)
                throw RequestError{fmt::format("no such service: {}", name.get<std::string>()),
                                   path, ErrorKind::NotFound};
            out.push_back(service_inspect(config, *s));
        }
    }
    return out;
}

} // namespace

ordered_json handle_request(ControlPlane& plane, NetworkState& state, const std::string& line) {
    json request, id;
    if (json_nesting_exceeds(line, max_request_depth))
        return reply_error(
            nullptr, fmt::format("request nested deeper than {} levels", max_request_depth), "");
    try {
        request = json::parse(line);
    } catch (const json::parse_error& e) {
        return reply_error(nullptr, fmt::format("request is not JSON: {}", e.what()), "",
                           ErrorKind::Syntax);
    }
    if (!request.is_object())
        return reply_error(nullptr, "request must be a JSON object", "", ErrorKind::Type);
    if (request.contains("id")) id = request["id"];
    if (!request.contains("op") || !request["op"].is_string())
        return reply_error(id,
                           "op: missing (one of version, get, stats, apply, diff, patch, "
                           "network_create, network_inspect, service_inspect, capture_start, "
                           "capture_status, capture_stop)",
                           "op", ErrorKind::Missing);
    std::string op = request["op"];
    const json params = request.value("params", json::object());
    try {
        if (!params.is_object()) throw RequestError{"params: must be an object", "params"};
        bool dry_run = bool_param(params, "dry_run");
        if (op == "version")
            return reply_ok(id, {{"version", VXMESH_VERSION}, {"commit", VXMESH_COMMIT}});
        if (op == "get") {
            json lb_index = json::object();
            for (const auto& [key, index] : state.lb_indexes())
                lb_index[key.first][key.second] = index;
            return reply_ok(id, {{"generation", plane.generation()},
                                 {"desired", config_to_json(plane.config())},
                                 {"lb_index", lb_index}});
        }
        if (op == "stats") return reply_ok(id, plane.stats());
        if (op == "capture_start") return reply_ok(id, plane.capture_start(params));
        if (op == "capture_status") return reply_ok(id, plane.capture_status());
        if (op == "capture_stop") return reply_ok(id, plane.capture_stop());
        if (op == "apply" || op == "diff") {
            model::Config next = load_document(params, "config");
            return reply_ok(
                id, update(plane, state, std::move(next), state.ipam(), op == "diff" || dry_run));
        }
        if (op == "patch") {
            if (auto ops = typed_ops(params)) {
                ChangeOutcome c = state.change(plane, *ops, dry_run);
                json result = {{"generation", plane.generation()},
                               {"dry_run", dry_run},
                               {"changes", std::move(c.changes)}};
                if (!c.load_balancers.empty())
                    result["allocated_load_balancers"] = load_balancers_json(c.load_balancers);
                if (!c.warnings.empty()) result["warnings"] = c.warnings;
                if (!c.allocated.empty()) result["allocated"] = std::move(c.allocated);
                return reply_ok(id, result);
            }
            Patched p = apply_patch(plane.config(), state.ipam(), params);
            json result = update(plane, state, std::move(p.config), std::move(p.work), dry_run,
                                 std::move(p.services));
            if (!p.allocated.empty()) result["allocated"] = p.allocated;
            return reply_ok(id, result);
        }
        if (op == "network_create") return reply_ok(id, network_create(plane, state, params));
        if (op == "network_inspect" || op == "service_inspect")
            return reply_ok(id, inspect(plane.config(), state, op, params));
        return reply_error(id, fmt::format("op: unknown operation '{}'", op), "op",
                           ErrorKind::NotFound);
    } catch (const RequestError& e) {
        return reply_error(id, e);
    } catch (const ConfigError& e) {
        return reply_error(id, from_info(e.info()));
    } catch (const json::exception& e) {
        return reply_error(id, fmt::format("params: {}", e.what()), "params", ErrorKind::Type);
    } catch (const std::exception& e) {
        return reply_error(id, e.what(), "", ErrorKind::Other);
    }
}

std::string handle_request_line(ControlPlane& plane, NetworkState& state,
                                const std::string& line) noexcept {
    // Text from the request can reach a reply unchecked (a parse error quotes the bytes it
    // read): dump() replaces what is not UTF-8 instead of throwing type_error.316.
    constexpr auto replace = json::error_handler_t::replace;
    try {
        return handle_request(plane, state, line).dump(-1, ' ', false, replace);
    } catch (const std::exception& e) {
        try {
            return ordered_json{{"ok", false},
                                {"error", fmt::format("internal error: {}", e.what())}}
                .dump(-1, ' ', false, replace);
        } catch (...) {
        }
    } catch (...) {
    }
    return R"({"ok":false,"error":"internal error"})";
}

} // namespace vxmesh::control
