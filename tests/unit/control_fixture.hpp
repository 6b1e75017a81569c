// What the control-plane unit tests share: node1's configuration, a ControlPlane that
// records what it is given, deterministic ids and times, a Node (a plane and its
// NetworkState, started as vxmesh starts) and a temporary directory.
#pragma once

#include "control/config_load.hpp"
#include "control/network_state.hpp"
#include "control/rpc.hpp"
#include "tests/unit/fake_plane.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace vxmesh::testing {

using nlohmann::json;

// node1 with two access ports and one peer; networks as each test needs.
inline const std::string kNode = R"(node:
  name: node1
  data_path_addr: 10.99.0.1/24
  underlay:
    device: net_af_packet0,iface=ul
ports:
  - name: c1
    device: net_af_packet1,iface=c1
  - name: c2
    device: net_af_packet2,iface=c2
peers:
  - name: node2
    address: 10.99.0.2
)";

// A plane and its state, started as vxmesh starts: state.restore() of the file's config.
struct Node {
    control::NetworkState state;
    FakePlane plane;
    explicit Node(const std::string& yaml, control::StateSettings s = settings())
        : state(std::move(s)) {
        plane.desired = state.restore(control::load_config_string(yaml, "node1.yaml"));
    }
    json call(const json& request) { return control::handle_request(plane, state, request.dump()); }
    json call(const std::string& line) { return control::handle_request(plane, state, line); }
    json create(json params) {
        return call(json{{"op", "network_create"}, {"params", std::move(params)}});
    }
    json patch(json ops, bool dry_run = false) {
        return call(
            json{{"op", "patch"}, {"params", {{"ops", std::move(ops)}, {"dry_run", dry_run}}}});
    }
    json add(const std::string& kind, json object) {
        return patch(json::array({{{"op", "add"}, {"kind", kind}, {"object", std::move(object)}}}));
    }
    json remove(const std::string& kind, const std::string& name) {
        return patch(json::array({{{"op", "remove"}, {"kind", kind}, {"name", name}}}));
    }
    // An endpoint without an address; on this node it goes on port c1.
    json attach(const std::string& name, const std::string& network,
                const std::string& node = "node1") {
        json object = {{"name", name}, {"network", network}, {"node", node}};
        if (node == "node1") object["port"] = "c1";
        return add("endpoint", object);
    }
    const model::Network& network(const std::string& name) const {
        for (const auto& n : plane.desired.networks)
            if (n.name == name) return n;
        FAIL("no network " << name);
        throw std::logic_error("unreachable");
    }
};

// The reply's error and path, as one string "PATH | MESSAGE", or "ok".
inline std::string error_of(const json& reply) {
    if (reply.value("ok", false)) return "ok";
    return reply.value("path", "") + " | " + reply.value("error", "");
}

// "ok", or the whole reply.
inline std::string ok_or_error(const json& reply) {
    return reply.value("ok", false) ? "ok" : reply.dump();
}

// A fresh directory under $TMPDIR (or /tmp), removed with the state files the tests
// write in it (also in its sub/) at scope exit.
struct TempDir {
    std::string path;
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/vxmesh-test-XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        for (const char* name : {"/state.json", "/state.json.tmp", "/state.json.journal",
                                 "/sub/state.json", "/sub/state.json.journal"})
            ::unlink((path + name).c_str());
        ::rmdir((path + "/sub").c_str());
        ::rmdir(path.c_str());
    }
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// What a restart would read from the state file at `path`: the file, with its journal's
// records (PATH.journal) made to its peers, endpoints and load balancers.
inline json stored_state(const std::string& path) {
    json state = json::parse(read_file(path));
    json objects = {{"peers", state["peers"]},
                    {"endpoints", state["endpoints"]},
                    {"load_balancers", state["load_balancers"]}};
    control::NetworkState::replay_journal(read_file(path + ".journal"),
                                          state.value("journal", uint64_t{0}), objects);
    for (const char* key : {"peers", "endpoints", "load_balancers"})
        state[key] = objects[key];
    return state;
}

} // namespace vxmesh::testing
