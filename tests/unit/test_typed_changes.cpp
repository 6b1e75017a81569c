// Typed changes (patches of endpoint and peer operations, NetworkState::change): the
// index kept through them, the rules they share with whole documents, and the journal.
#include "control/config_load.hpp"
#include "control/model_index.hpp"
#include "control/model_json.hpp"
#include "tests/unit/control_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <random>
#include <set>

namespace control = vxmesh::control;
namespace model = vxmesh::model;
using nlohmann::json;
using vxmesh::testing::kNode;
using vxmesh::testing::Node;
using vxmesh::testing::ok_or_error;
using vxmesh::testing::read_file;
using vxmesh::testing::settings;
using vxmesh::testing::stored_state;
using vxmesh::testing::TempDir;

namespace {

const std::string kYaml = kNode + R"(networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
  - name: red
    vni: 4098
    subnet: 10.0.2.0/26
services:
  - name: web
    networks: [blue, red]
)";

json endpoint(const std::string& name, const std::string& network, const std::string& node) {
    json e = {{"name", name}, {"network", network}, {"node", node}};
    if (node == "node1") e["port"] = "c1";
    return e;
}

json op_add(const std::string& kind, json object) {
    return {{"op", "add"}, {"kind", kind}, {"object", std::move(object)}};
}

json op_remove(const std::string& kind, const std::string& name) {
    return {{"op", "remove"}, {"kind", kind}, {"name", name}};
}

// The error a whole document gives with `object` appended to its list, as the reply
// gives an error: the fields that do not depend on where the object is.
json document_error(const model::Config& config, const std::string& list, const json& object) {
    json doc = control::config_to_json(config);
    doc[list].push_back(object);
    try {
        control::load_config_json(doc);
    } catch (const control::ConfigError& e) {
        const control::ErrorInfo& i = e.info();
        json out = {{"kind", control::to_string(i.kind)}, {"reason", i.reason}};
        if (!i.object.empty()) out["object"] = i.object;
        if (!i.name.empty()) out["name"] = i.name;
        if (!i.field.empty()) out["field"] = i.field;
        if (i.conflict)
            out["conflict"] = {{"object", i.conflict->object},
                               {"name", i.conflict->name},
                               {"path", i.conflict->path}};
        return out;
    }
    return "accepted";
}

json reply_error(const json& reply) {
    json out;
    for (const char* key : {"kind", "reason", "object", "name", "field", "conflict"})
        if (reply.contains(key)) out[key] = reply[key];
    return out;
}

// Everything the kept state must agree with: the index, IPAM, the rules, and the load
// balancers (one per network and node with tasks, in Docker's order).
void check_consistent(Node& n) {
    const model::Config& c = n.plane.desired;
    CHECK(n.state.index(n.plane) == control::ModelIndex::of(c));
    CHECK_NOTHROW(control::validate_config(c));
    control::Ipam fresh = n.state.ipam();
    control::reconcile(fresh, c);
    CHECK(fresh.to_json() == n.state.ipam().to_json());
    std::vector<std::pair<std::string, std::string>> wanted, have;
    std::vector<std::string> nodes{c.node.name};
    for (const auto& p : c.peers)
        nodes.push_back(p.name);
    for (const auto& net : c.networks)
        for (const auto& node : nodes)
            for (const auto& e : c.endpoints)
                if (!e.service.empty() && e.network == net.name && e.node == node) {
                    wanted.emplace_back(net.name, node);
                    break;
                }
    for (const auto& lb : c.load_balancers)
        have.emplace_back(lb.network, lb.node);
    CHECK(have == wanted);
}

} // namespace

TEST_CASE("typed changes: random attaches, detaches and peers keep the index, IPAM and the "
          "journal right",
          "[typed]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    Node n(kYaml, settings(path));
    std::mt19937 rng(GENERATE(1u, 2u, 3u));
    auto pick = [&](std::size_t size) {
        return std::uniform_int_distribution<std::size_t>(0, size - 1)(rng);
    };
    const std::vector<std::string> networks{"blue", "red"};
    int accepted = 0, refused = 0, compared = 0;
    for (int step = 0; step < 300; ++step) {
        const model::Config& c = n.plane.desired;
        std::vector<std::string> peers;
        for (const auto& p : c.peers)
            peers.push_back(p.name);
        std::vector<std::string> nodes = peers;
        nodes.push_back("node1");
        json ops = json::array();
        const std::size_t count = 1 + (pick(4) == 0 ? pick(3) : 0);
        for (std::size_t k = 0; k < count; ++k) {
            const std::size_t what = pick(10);
            const std::string name = fmt::format("e{}", pick(40));
            if (what < 4) { // attach, as a task a third of the time
                json e = endpoint(name, networks[pick(2)], nodes[pick(nodes.size())]);
                if (pick(3) == 0) e["service"] = "web";
                ops.push_back(op_add("endpoint", e));
            } else if (what < 6) { // an address given: it may clash
                const std::string network = networks[pick(2)];
                json e =
                    endpoint(fmt::format("x{}-{}", step, k), network, nodes[pick(nodes.size())]);
                if (pick(4) == 0) e["mac"] = fmt::format("02:00:00:00:00:{:02x}", pick(20));
                e["ip"] = fmt::format("10.0.{}.{}", network == "blue" ? 1 : 2, 1 + pick(70));
                ops.push_back(op_add("endpoint", e));
            } else if (what < 8) {
                ops.push_back(op_remove("endpoint", name));
            } else if (what < 9) {
                ops.push_back(
                    op_add("peer", {{"name", fmt::format("p{}", pick(6))},
                                    {"address", fmt::format("10.99.0.{}", 3 + pick(8))}}));
            } else {
                ops.push_back(op_remove("peer", fmt::format("p{}", pick(6))));
            }
        }
        const bool dry_run = pick(10) == 0;
        const model::Config before = c;
        const json reply = n.patch(ops, dry_run);
        if (reply["ok"] == true) {
            ++accepted;
            if (dry_run)
                CHECK(control::config_to_json(n.plane.desired) == control::config_to_json(before));
        } else {
            ++refused;
            INFO(reply.dump());
            CHECK(control::config_to_json(n.plane.desired) == control::config_to_json(before));
            // One added object: the same error as a document with it appended. (Adding a
            // name that exists is the patch's own refusal, "exists": a document that lists
            // a name twice has a "duplicate".)
            if (ops.size() == 1 && ops[0]["op"] == "add" && ops[0]["object"].contains("ip") &&
                reply["kind"] != "exists" &&
                reply["path"].get<std::string>().starts_with("ops[0].object")) {
                const std::string list = ops[0]["kind"] == "peer" ? "peers" : "endpoints";
                CHECK(reply_error(reply) == document_error(before, list, ops[0]["object"]));
                ++compared;
            }
        }
        check_consistent(n);
    }
    CHECK(accepted > 50);
    CHECK(refused > 20);
    CHECK(compared > 5);
    // A restart reads the state file and its journal back to the same configuration.
    const std::string running = control::config_to_json(n.plane.desired).dump();
    Node again(kYaml, settings(path));
    CHECK(control::config_to_json(again.plane.desired).dump() == running);
    check_consistent(again);
}

TEST_CASE("typed changes: each rule gives the same error as in a whole document", "[typed]") {
    Node n(kYaml);
    REQUIRE(ok_or_error(n.add(
                "endpoint",
                {{"name", "a"}, {"network", "blue"}, {"ip", "10.0.1.10"}, {"node", "node2"}})) ==
            "ok");
    REQUIRE(ok_or_error(n.add("endpoint", {{"name", "b"},
                                           {"network", "blue"},
                                           {"ip", "10.0.1.11"},
                                           {"mac", "02:00:00:00:00:0b"},
                                           {"node", "node1"},
                                           {"port", "c1"}})) == "ok");
    struct Case {
        const char* kind;
        json object;
        const char* field;
    };
    const std::vector<Case> cases = {
        {"endpoint",
         {{"name", "x"}, {"network", "blue"}, {"ip", "10.0.1.10"}, {"node", "node2"}},
         "ip"}, // a's address
        {"endpoint",
         {{"name", "x"},
          {"network", "blue"},
          {"ip", "10.0.1.12"},
          {"mac", "02:00:00:00:00:0b"},
          {"node", "node2"}},
         "mac"}, // b's MAC in the network
        {"endpoint",
         {{"name", "x"},
          {"network", "red"},
          {"ip", "10.0.2.12"},
          {"mac", "02:00:00:00:00:0b"},
          {"node", "node1"},
          {"port", "c1"}},
         "mac"}, // b's MAC on port c1
        {"endpoint",
         {{"name", "x"}, {"network", "blue"}, {"ip", "10.0.2.5"}, {"node", "node2"}},
         "ip"}, // outside the subnet
        {"endpoint",
         {{"name", "x"}, {"network", "blue"}, {"ip", "10.0.1.1"}, {"node", "node2"}},
         "ip"}, // the gateway
        {"endpoint",
         {{"name", "x"}, {"network", "green"}, {"ip", "10.0.1.5"}, {"node", "node2"}},
         "network"},
        {"endpoint",
         {{"name", "x"}, {"network", "blue"}, {"ip", "10.0.1.5"}, {"node", "node9"}},
         "node"},
        {"endpoint",
         {{"name", "x"},
          {"network", "blue"},
          {"ip", "10.0.1.5"},
          {"node", "node1"},
          {"port", "c9"}},
         "port"},
        {"endpoint",
         {{"name", "x"},
          {"network", "blue"},
          {"ip", "10.0.1.5"},
          {"node", "node2"},
          {"port", "c1"}},
         "port"}, // a port on a remote endpoint
        {"endpoint",
         {{"name", "x"},
          {"network", "blue"},
          {"ip", "10.0.1.5"},
          {"node", "node2"},
          {"service", "nope"}},
         "service"},
        {"endpoint",
         {{"name", "bad name"}, {"network", "blue"}, {"ip", "10.0.1.5"}, {"node", "node2"}},
         "name"},
        {"peer", {{"name", "p"}, {"address", "10.99.0.2"}}, "address"},  // node2's
        {"peer", {{"name", "p"}, {"address", "10.99.0.1"}}, "address"},  // our own
        {"peer", {{"name", "node1"}, {"address", "10.99.0.7"}}, "name"}, // our name
        {"peer", {{"name", "p"}, {"address", "10.98.0.7"}}, "address"},  // no gateway
    };
    for (const Case& c : cases) {
        INFO(c.object.dump());
        const json reply = n.add(c.kind, c.object);
        REQUIRE(reply["ok"] == false);
        CHECK(reply["path"] == std::string("ops[0].object.") + c.field);
        CHECK(reply_error(reply) ==
              document_error(n.plane.desired, std::string(c.kind) + "s", c.object));
    }
    // The conflict names the other object by its place in the configuration.
    const json reply = n.add("endpoint", cases[0].object);
    CHECK(reply["kind"] == "duplicate");
    CHECK(reply["conflict"] ==
          json{{"object", "endpoint"}, {"name", "a"}, {"path", "endpoints[0].ip"}});
}

TEST_CASE("typed changes: tasks bring their node's load balancer, Docker's LB index, and "
          "take both away with the last one",
          "[typed]") {
    Node n(kYaml);
    json task = endpoint("web.1", "blue", "node2");
    task["service"] = "web";
    json r = n.add("endpoint", task);
    REQUIRE(ok_or_error(r) == "ok");
    // The VIPs came first (10.0.1.2), then the task, then node2's load balancer.
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.1.3");
    CHECK(r["result"]["allocated_load_balancers"] == json::array({{{"network", "blue"},
                                                                   {"node", "node2"},
                                                                   {"ip", "10.0.1.4"},
                                                                   {"mac", "02:42:0a:00:01:04"}}}));
    CHECK(r["result"]["changes"] ==
          json::array({{{"action", "add"}, {"kind", "endpoint"}, {"name", "web.1"}},
                       {{"action", "add"}, {"kind", "load_balancer"}, {"name", "lb-blue@node2"}}}));
    CHECK(n.state.lb_indexes().at({"web", "blue"}) == 256);
    json local = endpoint("web.2", "blue", "node1");
    local["service"] = "web";
    REQUIRE(ok_or_error(n.add("endpoint", local)) == "ok");
    // This node's load balancer goes before the peers' in the list, as Docker orders them.
    REQUIRE(n.plane.desired.load_balancers.size() == 2);
    CHECK(n.plane.desired.load_balancers[0].node == "node1");
    CHECK(n.plane.desired.load_balancers[1].node == "node2");
    r = n.remove("endpoint", "web.1");
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["changes"] ==
          json::array(
              {{{"action", "remove"}, {"kind", "endpoint"}, {"name", "web.1"}},
               {{"action", "remove"}, {"kind", "load_balancer"}, {"name", "lb-blue@node2"}}}));
    CHECK(n.state.lb_indexes().count({"web", "blue"}) == 1); // web.2 still holds it
    REQUIRE(ok_or_error(n.remove("endpoint", "web.2")) == "ok");
    CHECK(n.state.lb_indexes().empty());
    CHECK(n.plane.desired.load_balancers.empty());
    check_consistent(n);
}

TEST_CASE("typed changes: a refused change leaves IPAM's cursor where it was", "[typed]") {
    Node n(kYaml);
    // The second op is refused after the first was given 10.0.1.3 (the VIP has .2).
    const json reply = n.patch(json::array({op_add("endpoint", endpoint("a", "blue", "node2")),
                                            op_add("endpoint", endpoint("b", "blue", "node9"))}));
    REQUIRE(reply["ok"] == false);
    CHECK(reply["path"] == "ops[1].object.node");
    CHECK(n.plane.applied == 0);
    const json r = n.add("endpoint", endpoint("c", "blue", "node2"));
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.1.3");
}

TEST_CASE("typed changes: the journal", "[typed][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    {
        Node n(kYaml, settings(path));
        REQUIRE(ok_or_error(n.add("endpoint", endpoint("a", "blue", "node2"))) == "ok");
        REQUIRE(ok_or_error(n.add("endpoint", endpoint("b", "blue", "node2"))) == "ok");
        REQUIRE(ok_or_error(n.remove("endpoint", "a")) == "ok");
    }
    const std::string journal = read_file(path + ".journal");
    REQUIRE(std::count(journal.begin(), journal.end(), '\n') == 3);
    auto restart = [&] {
        Node n(kYaml, settings(path));
        std::vector<std::string> names;
        for (const auto& e : n.plane.desired.endpoints)
            names.push_back(e.name);
        return names;
    };
    auto write = [&](const std::string& text) {
        std::ofstream(path + ".journal", std::ios::trunc) << text;
    };
    SECTION("read back at start-up, then folded into the state file") {
        CHECK(restart() == std::vector<std::string>{"b"});
        CHECK(read_file(path + ".journal").empty());
        CHECK(restart() == std::vector<std::string>{"b"});
    }
    SECTION("a record cut short by a crash was never acknowledged: ignored") {
        write(journal + journal.substr(0, 30));
        CHECK(restart() == std::vector<std::string>{"b"});
    }
    SECTION("records the state file already holds are skipped") {
        restart(); // folds the journal in
        write(journal);
        CHECK(restart() == std::vector<std::string>{"b"});
    }
    SECTION("a damaged record is refused, naming it") {
        write(journal.substr(0, journal.find('\n') + 1) + "{\"seq\": 9, \"change\": 3}\n");
        try {
            restart();
            FAIL("started with a damaged journal");
        } catch (const std::exception& e) {
            CHECK(std::string(e.what()) ==
                  path + ".journal: corrupt journal: record 2: not a change record");
        }
    }
}

TEST_CASE("IPAM's errors carry their field and kind, not only a message", "[typed][ipam]") {
    Node n(kYaml);
    // red is a /26: 61 hosts after its gateway; the service's VIP takes one.
    int attached = 0;
    json reply;
    for (int i = 0; i < 70; ++i) {
        reply = n.add("endpoint", endpoint(fmt::format("r{}", i), "red", "node2"));
        if (reply["ok"] != true) break;
        ++attached;
    }
    CHECK(attached == 60);
    CHECK(reply["kind"] == "capacity");
    CHECK(reply["path"] == "ops[0].object.ip");
    // A subnet taken by another network: the request's subnet, an overlap.
    reply = n.create({{"name", "x"}, {"subnet", json::array({"10.0.1.0/25"})}});
    CHECK(reply["kind"] == "overlap");
    CHECK(reply["path"] == "subnet");
    reply = n.create(
        {{"name", "y"}, {"options", {{"com.docker.network.driver.overlay.vxlanid_list", "4097"}}}});
    CHECK(reply["kind"] == "duplicate");
    CHECK(reply["path"] == "options.com.docker.network.driver.overlay.vxlanid_list");
}

TEST_CASE("typed changes: a journal that went away is made again by writing the whole file",
          "[typed][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    Node n(kYaml, settings(path));
    // Start-up wrote the file and made the journal, empty.
    REQUIRE(::access((path + ".journal").c_str(), F_OK) == 0);
    CHECK(read_file(path + ".journal").empty());
    REQUIRE(ok_or_error(n.add("endpoint", endpoint("a", "blue", "node2"))) == "ok");
    CHECK(!read_file(path + ".journal").empty());
    ::unlink((path + ".journal").c_str());
    REQUIRE(ok_or_error(n.add("endpoint", endpoint("b", "blue", "node2"))) == "ok");
    // Both are in the state file itself now, and the journal is there again, empty.
    const json state = json::parse(read_file(path));
    REQUIRE(state["endpoints"].size() == 2);
    CHECK(state["endpoints"][1]["name"] == "b");
    CHECK(::access((path + ".journal").c_str(), F_OK) == 0);
    CHECK(read_file(path + ".journal").empty());
}
