#include "control/rpc.hpp"

#include "control/config_load.hpp"
#include "control/model_json.hpp"

#include <fmt/format.h>

#include <map>
#include <regex>

namespace vxmesh::control {

using nlohmann::json;

namespace {

// A request that cannot be carried out; `path` names the request field at fault.
struct RequestError {
    std::string message;
    std::string path;
};

const char* const kinds[] = {"network", "peer", "endpoint"};

std::string plural(const std::string& kind) { return kind + "s"; }

// Split the loader's "FILE:LINE:COLUMN: PATH: REASON" into position, path and reason.
struct LoaderMessage {
    std::string position; // "FILE:LINE:COLUMN" or "FILE"
    std::string path;     // may be empty
    std::string reason;
};

LoaderMessage split_loader_message(const std::string& text) {
    static const std::regex with_position(R"(^([^:]*:\d+:\d+): (.*)$)");
    static const std::regex with_path(R"(^([a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*): (.*)$)");
    LoaderMessage m;
    std::string rest = text;
    std::smatch match;
    if (std::regex_match(text, match, with_position)) {
        m.position = match[1];
        rest = match[2];
    }
    if (std::regex_match(rest, match, with_path)) {
        m.path = match[1];
        m.reason = match[5];
    } else {
        m.reason = rest;
    }
    return m;
}

model::Config load_document(const json& params, const char* field) {
    if (!params.contains(field)) throw RequestError{fmt::format("missing field '{}'", field), field};
    const json& doc = params[field];
    // A string is YAML (or JSON) text whose positions mean something to the sender;
    // an object is re-serialised, so only the field path is worth reporting.
    try {
        if (doc.is_string()) return load_config_string(doc.get<std::string>(), field);
        if (doc.is_object()) return load_config_string(doc.dump(), field);
    } catch (const ConfigError& e) {
        if (doc.is_string()) throw RequestError{e.what(), field};
        LoaderMessage m = split_loader_message(e.what());
        std::string path = m.path.empty() ? field : fmt::format("{}.{}", field, m.path);
        throw RequestError{fmt::format("{}: {}", path, m.reason), path};
    }
    throw RequestError{fmt::format("{}: must be a YAML/JSON string or an object", field), field};
}

int find_by_name(const json& list, const std::string& name) {
    for (size_t i = 0; i < list.size(); i++)
        if (list[i].value("name", "") == name) return static_cast<int>(i);
    return -1;
}

// Objects that still refer to a network or peer about to go (Docker refuses to remove
// a network with attached endpoints).
std::vector<std::string> users_of(const json& doc, const std::string& kind, const std::string& name) {
    std::vector<std::string> users;
    const char* field = kind == "network" ? "network" : "node";
    for (const json& e : doc["endpoints"])
        if (e.value(field, "") == name) users.push_back(e.value("name", "?"));
    return users;
}

model::Config apply_patch(const model::Config& current, const json& params) {
    if (!params.contains("ops") || !params["ops"].is_array())
        throw RequestError{"ops: must be a list of operations", "ops"};
    json doc = config_to_json(current);
    std::map<std::pair<std::string, std::string>, size_t> touched; // (kind, name) → op index
    const json& ops = params["ops"];
    for (size_t i = 0; i < ops.size(); i++) {
        const json& op = ops[i];
        std::string at = fmt::format("ops[{}]", i);
        if (!op.is_object()) throw RequestError{at + ": must be an object", at};
        std::string action = op.value("op", "");
        std::string kind = op.value("kind", "");
        if (std::find(std::begin(kinds), std::end(kinds), kind) == std::end(kinds))
            throw RequestError{fmt::format("{}.kind: must be network, peer or endpoint", at),
                               at + ".kind"};
        json& list = doc[plural(kind)];
        if (action == "remove") {
            std::string name = op.value("name", "");
            int index = find_by_name(list, name);
            if (index < 0)
                throw RequestError{fmt::format("{}.name: no {} '{}'", at, kind, name), at + ".name"};
            if (kind != "endpoint") {
                auto users = users_of(doc, kind, name);
                if (!users.empty())
                    throw RequestError{fmt::format("{}: {} '{}' is in use by endpoint(s): {}", at,
                                                   kind, name, fmt::join(users, ", ")),
                                       at};
            }
            list.erase(static_cast<size_t>(index));
            touched.erase({kind, name});
            continue;
        }
        if (action != "add" && action != "update")
            throw RequestError{fmt::format("{}.op: must be add, update or remove", at), at + ".op"};
        if (!op.contains("object") || !op["object"].is_object() ||
            !op["object"].contains("name") || !op["object"]["name"].is_string())
            throw RequestError{fmt::format("{}.object: must be an object with a name", at),
                               at + ".object"};
        const json& object = op["object"];
        std::string name = object["name"];
        int index = find_by_name(list, name);
        if (action == "add") {
            if (index >= 0)
                throw RequestError{fmt::format("{}.object.name: {} '{}' already exists", at, kind, name),
                                   at + ".object.name"};
            list.push_back(object);
        } else {
            if (index < 0)
                throw RequestError{fmt::format("{}.object.name: no {} '{}'", at, kind, name),
                                   at + ".object.name"};
            list[static_cast<size_t>(index)].update(object); // fields given replace, others stay
            if (kind == "endpoint" && !object.contains("mac") && object.contains("ip"))
                list[static_cast<size_t>(index)].erase("mac"); // recompute Docker's default
        }
        touched[{kind, name}] = i;
    }
    try {
        return load_config_string(doc.dump(), "patch");
    } catch (const ConfigError& e) {
        // Point at the operation that brought the offending object in, where one did.
        LoaderMessage m = split_loader_message(e.what());
        static const std::regex object_path(R"(^([a-z]+)s\[(\d+)\](.*)$)");
        std::smatch match;
        if (std::regex_match(m.path, match, object_path)) {
            std::string kind = match[1];
            const json& list = doc[plural(kind)];
            size_t index = std::stoul(match[2]);
            if (index < list.size()) {
                auto it = touched.find({kind, list[index].value("name", "")});
                if (it != touched.end()) {
                    std::string path = fmt::format("ops[{}].object{}", it->second, match[3].str());
                    throw RequestError{fmt::format("{}: {}", path, m.reason), path};
                }
            }
        }
        std::string path = m.path;
        throw RequestError{path.empty() ? m.reason : fmt::format("{}: {}", path, m.reason), path};
    }
}

template <typename T, typename ToJson>
void diff_list(json& out, const char* kind, const std::vector<T>& from, const std::vector<T>& to,
               ToJson to_json) {
    std::map<std::string, json> before, after;
    for (const T& x : from) before[x.name] = to_json(x);
    for (const T& x : to) after[x.name] = to_json(x);
    for (const auto& [name, j] : before) {
        auto it = after.find(name);
        if (it == after.end())
            out.push_back({{"action", "remove"}, {"kind", kind}, {"name", name}});
        else if (it->second != j)
            out.push_back({{"action", "update"}, {"kind", kind}, {"name", name}});
    }
    for (const auto& [name, j] : after)
        if (!before.count(name)) out.push_back({{"action", "add"}, {"kind", kind}, {"name", name}});
}

json reply_ok(const json& id, json result) {
    json r = {{"ok", true}, {"result", std::move(result)}};
    if (!id.is_null()) r["id"] = id;
    return r;
}

json reply_error(const json& id, const std::string& message, const std::string& path) {
    json r = {{"ok", false}, {"error", message}};
    if (!path.empty()) r["path"] = path;
    if (!id.is_null()) r["id"] = id;
    return r;
}

json apply_and_report(ControlPlane& plane, const model::Config& next, bool dry_run) {
    json changes = config_diff(plane.config(), next);
    if (!dry_run) plane.apply(next);
    return {{"generation", plane.generation()}, {"dry_run", dry_run}, {"changes", changes}};
}

} // namespace

json config_diff(const model::Config& from, const model::Config& to) {
    json out = json::array();
    json node_before = config_to_json(from)["node"], node_after = config_to_json(to)["node"];
    if (node_before != node_after)
        out.push_back({{"action", "update"}, {"kind", "node"}, {"name", to.node.name}});
    diff_list(out, "network", from.networks, to.networks, network_to_json);
    diff_list(out, "peer", from.peers, to.peers, peer_to_json);
    diff_list(out, "endpoint", from.endpoints, to.endpoints, endpoint_to_json);
    return out;
}

json handle_request(ControlPlane& plane, const std::string& line) {
    json request, id;
    try {
        request = json::parse(line);
    } catch (const json::parse_error& e) {
        return reply_error(nullptr, fmt::format("request is not JSON: {}", e.what()), "");
    }
    if (!request.is_object()) return reply_error(nullptr, "request must be a JSON object", "");
    if (request.contains("id")) id = request["id"];
    if (!request.contains("op") || !request["op"].is_string())
        return reply_error(id, "op: missing (one of version, get, stats, apply, diff, patch)", "op");
    std::string op = request["op"];
    const json params = request.value("params", json::object());
    try {
        if (!params.is_object()) throw RequestError{"params: must be an object", "params"};
        bool dry_run = params.value("dry_run", false);
        if (op == "version")
            return reply_ok(id, {{"version", VXMESH_VERSION}, {"commit", VXMESH_COMMIT}});
        if (op == "get")
            return reply_ok(id, {{"generation", plane.generation()},
                                 {"desired", config_to_json(plane.config())}});
        if (op == "stats") return reply_ok(id, plane.stats());
        if (op == "apply") return reply_ok(id, apply_and_report(plane, load_document(params, "config"), dry_run));
        if (op == "diff") return reply_ok(id, apply_and_report(plane, load_document(params, "config"), true));
        if (op == "patch") return reply_ok(id, apply_and_report(plane, apply_patch(plane.config(), params), dry_run));
        return reply_error(id, fmt::format("op: unknown operation '{}'", op), "op");
    } catch (const RequestError& e) {
        return reply_error(id, e.message, e.path);
    } catch (const json::exception& e) {
        return reply_error(id, fmt::format("params: {}", e.what()), "params");
    } catch (const std::exception& e) {
        return reply_error(id, e.what(), "");
    }
}

} // namespace vxmesh::control
