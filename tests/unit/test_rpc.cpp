// Unit tests for the control protocol (control/rpc.cpp) with IPAM wired in
// (control/network_state.cpp), and for the inspect builder (control/network_inspect.cpp).
// A fake ControlPlane stands in for the running process.
//
// Errors are compared in full, with their paths, so a change of wording is deliberate.
#include "control/model_json.hpp"
#include "control/network_inspect.hpp"
#include "tests/unit/control_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using nlohmann::json;
using vxmesh::control::config_to_json;
using vxmesh::control::ControlPlane;
using vxmesh::control::handle_request;
using vxmesh::control::NetworkState;
using vxmesh::control::StateSettings;
namespace control = vxmesh::control;
namespace model = vxmesh::model;
using namespace vxmesh::testing;

namespace {

const std::string kBlue = R"(networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
)";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::string with_node_address(const std::string& yaml, const std::string& address) {
    return replace_all(yaml, "data_path_addr: 10.99.0.1/24", "data_path_addr: " + address + "/24");
}

} // namespace

// ---------------------------------------------------------------------------------------
// network_create

TEST_CASE("network_create: subnets and VNIs serially, ingress first takes 4096", "[rpc]") {
    Node n(kNode);
    json r = n.create({{"name", "ingress"}, {"ingress", true}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["network"]["subnet"] == "10.0.0.0/24");
    CHECK(r["result"]["network"]["gateway"] == "10.0.0.1");
    CHECK(r["result"]["network"]["vni"] == 4096);
    CHECK(r["result"]["network"]["ingress"] == true);
    CHECK(r["result"]["network"]["id"] == "0000000000000000000000001");
    CHECK(r["result"]["network"]["created"] == "2024-05-01T12:00:00.000000001Z");
    CHECK(r["result"]["changes"] ==
          json::array({{{"action", "add"}, {"kind", "network"}, {"name", "ingress"}}}));
    CHECK(r["result"]["generation"] == 2);
    CHECK(r["result"]["dry_run"] == false);

    r = n.create({{"name", "web"}, {"driver", "overlay"}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["network"]["subnet"] == "10.0.1.0/24");
    CHECK(r["result"]["network"]["vni"] == 4097);
    CHECK(r["result"]["generation"] == 3);

    // The desired state holds them, as the loader would read them back.
    const model::Network& web = n.network("web");
    CHECK(web.mtu == 1450);
    CHECK(web.id == "0000000000000000000000002");
    CHECK(web.created == "2024-05-01T12:00:00.000000002Z");
    CHECK_FALSE(web.ingress);
    CHECK(n.state.ipam().network_names() == std::vector<std::string>{"ingress", "web"});
    CHECK(n.plane.applied == 2);
}

TEST_CASE("network_create: manual subnet, gateway, ip-range, flags, options and labels", "[rpc]") {
    Node n(kNode + kBlue);
    // Without a subnet: the first free /24, skipping the config file's 10.0.1.0/24.
    json r = n.create({{"name", "a"}});
    CHECK(r["result"]["network"]["subnet"] == "10.0.0.0/24");
    CHECK(r["result"]["network"]["vni"] == 4096); // 4097 is blue's
    r = n.create({{"name", "b"}});
    CHECK(r["result"]["network"]["subnet"] == "10.0.2.0/24");
    CHECK(r["result"]["network"]["vni"] == 4098);

    r = n.create({{"name", "db"},
                  {"subnet", {"172.20.0.0/16"}},
                  {"gateway", {"172.20.0.254"}},
                  {"ip_range", {"172.20.8.0/24"}},
                  {"internal", true},
                  {"attachable", true},
                  {"options",
                   {{"com.docker.network.driver.mtu", "1400"},
                    {"com.docker.network.driver.overlay.vxlanid_list", "9000"}}},
                  {"labels", {{"com.example.team", "db"}}}});
    REQUIRE(ok_or_error(r) == "ok");
    const model::Network& db = n.network("db");
    CHECK(model::format_prefix(db.subnet) == "172.20.0.0/16");
    CHECK(model::format_ipv4(db.gateway) == "172.20.0.254");
    CHECK(model::format_prefix(*db.ip_range) == "172.20.8.0/24");
    CHECK(db.vni == 9000);
    CHECK(db.mtu == 1400);
    CHECK(db.internal);
    CHECK(db.attachable);
    CHECK_FALSE(db.encrypted);
    CHECK(db.labels == std::map<std::string, std::string>{{"com.example.team", "db"}});

    // With an ip-range and no gateway, the gateway is the range's first address.
    r = n.create({{"name", "ranged"}, {"subnet", "172.21.0.0/16"}, {"ip_range", "172.21.8.0/24"}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["network"]["gateway"] == "172.21.8.0");
    CHECK(r["result"]["network"]["ip_range"] == "172.21.8.0/24");

    // encrypted: Docker's MTU, and a warning that vxmesh does not encrypt.
    r = n.create({{"name", "secret"}, {"options", {{"encrypted", ""}}}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["network"]["mtu"] == 1424);
    CHECK(r["result"]["network"]["encrypted"] == true);
    REQUIRE(r["result"]["warnings"].size() == 1);
    CHECK(r["result"]["warnings"][0] ==
          "network secret: vxmesh does not encrypt yet; its VXLAN traffic is sent in the clear "
          "(the encrypted option only lowers the MTU to 1424 and shows in inspect)");
}

TEST_CASE("network_create errors name the field and change nothing", "[rpc]") {
    Node n(kNode + kBlue);
    REQUIRE(ok_or_error(n.create({{"name", "ingress"}, {"ingress", true}})) == "ok");
    const uint64_t generation = n.plane.gen;
    const std::string ipam = n.state.ipam().to_json();

    CHECK(error_of(n.create({{"name", "web"}, {"subnet", {"10.0.1.128/25"}}})) ==
          "subnet | subnet: network web: subnet 10.0.1.128/25 overlaps subnet 10.0.1.0/24 of "
          "network blue");
    CHECK(error_of(n.create({{"name", "ingress2"}, {"ingress", true}})) ==
          "ingress | ingress: network ingress2: ingress network ingress already exists");
    CHECK(error_of(n.create({{"name", "blue"}})) ==
          "name | name: network with name blue already exists");
    CHECK(error_of(n.create(json::object())) == "name | missing field 'name'");
    CHECK(error_of(n.create({{"name", "a b"}})) ==
          "name | name: 'a b' is not a valid name (1..63 of A-Z a-z 0-9 _ . -)");
    CHECK(error_of(n.create({{"name", 5}})) == "name | name: expected a string");
    CHECK(error_of(n.create({{"name", "x"}, {"driver", "bridge"}})) ==
          "driver | driver: only the overlay driver is supported, not \"bridge\"");
    CHECK(error_of(n.create({{"name", "x"}, {"subnets", {"10.9.0.0/24"}}})) ==
          "subnets | subnets: unknown field");
    CHECK(error_of(n.create({{"name", "x"}, {"subnet", {"10.9.0/24"}}})) ==
          "subnet[0] | subnet[0]: '10.9.0/24' is not a valid IPv4 prefix (a.b.c.d/len)");
    CHECK(error_of(n.create({{"name", "x"}, {"subnet", {"10.9.0.0/24", "10.9.1.0/24"}}})) ==
          "subnet[1] | subnet[1]: a vxmesh network has a single subnet");
    CHECK(error_of(n.create({{"name", "x"}, {"subnet", 7}})) ==
          "subnet | subnet: expected a list of strings");
    CHECK(error_of(n.create({{"name", "x"}, {"gateway", {"10.9.0.1"}}})) ==
          "subnet | subnet: network x: every ip-range or gateway must have a corresponding subnet");
    CHECK(error_of(
              n.create({{"name", "x"}, {"subnet", {"10.9.0.0/24"}}, {"gateway", {"10.9.1.1"}}})) ==
          "gateway | gateway: network x: no matching subnet for gateway 10.9.1.1");
    CHECK(error_of(n.create(
              {{"name", "x"}, {"subnet", {"10.9.0.0/24"}}, {"gateway", {"10.9.0.300"}}})) ==
          "gateway[0] | gateway[0]: '10.9.0.300' is not a valid IPv4 address");
    CHECK(error_of(n.create(
              {{"name", "x"}, {"subnet", {"10.9.0.0/24"}}, {"ip_range", {"10.9.0.0/16"}}})) ==
          "ip_range | ip_range: network x: ip-range 10.9.0.0/16 is larger than subnet 10.9.0.0/24");
    CHECK(error_of(n.create({{"name", "x"}, {"subnet", {"224.0.0.0/24"}}})) ==
          "subnet[0] | subnet[0]: 224.0.0.0/24 is not a unicast address range");
    CHECK(error_of(n.create({{"name", "x"}, {"internal", "yes"}})) ==
          "internal | internal: expected true or false");
    CHECK(error_of(n.create({{"name", "x"}, {"options", {{"foo", "bar"}}}})) ==
          "options.foo | options.foo: unknown driver option (known: com.docker.network.driver.mtu, "
          "com.docker.network.driver.overlay.vxlanid_list, encrypted)");
    CHECK(error_of(n.create(
              {{"name", "x"}, {"options", {{"com.docker.network.driver.mtu", "9001"}}}})) ==
          "options.com.docker.network.driver.mtu | options.com.docker.network.driver.mtu: 9001 is "
          "out of range 576..9000");
    CHECK(error_of(
              n.create({{"name", "x"}, {"options", {{"com.docker.network.driver.mtu", 1400}}}})) ==
          "options.com.docker.network.driver.mtu | options.com.docker.network.driver.mtu: expected "
          "a string");
    CHECK(error_of(n.create(
              {{"name", "x"},
               {"options", {{"com.docker.network.driver.overlay.vxlanid_list", "4097"}}}})) ==
          "options.com.docker.network.driver.overlay.vxlanid_list | "
          "options.com.docker.network.driver.overlay.vxlanid_list: network x: VNI 4097 is already "
          "used by network blue");
    CHECK(error_of(
              n.create({{"name", "x"},
                        {"options", {{"com.docker.network.driver.overlay.vxlanid_list", "0"}}}})) ==
          "options.com.docker.network.driver.overlay.vxlanid_list | "
          "options.com.docker.network.driver.overlay.vxlanid_list: VNI 0 is out of range "
          "1..16777215");
    CHECK(error_of(n.create(
              {{"name", "x"},
               {"options", {{"com.docker.network.driver.overlay.vxlanid_list", "5000,5001"}}}})) ==
          "options.com.docker.network.driver.overlay.vxlanid_list | "
          "options.com.docker.network.driver.overlay.vxlanid_list: network x: vxlanid_list has 2 "
          "VNIs for 1 subnet(s)");
    CHECK(error_of(n.create({{"name", "x"}, {"labels", {{"a", 1}}}})) ==
          "labels.a | labels.a: expected a string");
    CHECK(error_of(n.create({{"name", "x"}, {"labels", {{"a=b", "1"}}}})) ==
          "labels | labels: label name 'a=b' contains '=' or a control character");
    CHECK(error_of(n.create({{"name", "x"}, {"dry_run", "no"}})) ==
          "dry_run | dry_run: expected true or false");

    CHECK(n.plane.gen == generation);
    CHECK(n.state.ipam().to_json() == ipam);
    CHECK(n.plane.desired.networks.size() == 2);
}

TEST_CASE("network_create: exhausted pools, a rejecting plane and dry runs change nothing",
          "[rpc]") {
    StateSettings s = settings();
    s.ipam.pools = {model::parse_prefix("192.168.0.0/23").value()};
    Node n(kNode, s);
    REQUIRE(ok_or_error(n.create({{"name", "a"}})) == "ok");

    // A dry run reports what would be created, and creates nothing.
    json dry = n.create({{"name", "b"}, {"dry_run", true}});
    REQUIRE(ok_or_error(dry) == "ok");
    CHECK(dry["result"]["dry_run"] == true);
    CHECK(dry["result"]["network"]["subnet"] == "192.168.1.0/24");
    CHECK(dry["result"]["generation"] == 2);
    CHECK(n.plane.desired.networks.size() == 1);

    // The plane refuses: IPAM keeps nothing of the attempt.
    n.plane.reject = "tables cannot be built";
    CHECK(error_of(n.create({{"name", "b"}})) == " | tables cannot be built");
    n.plane.reject.clear();
    CHECK(n.state.ipam().network_names() == std::vector<std::string>{"a"});

    json b = n.create({{"name", "b"}});
    CHECK(b["result"]["network"]["subnet"] == "192.168.1.0/24");
    CHECK(error_of(n.create({{"name", "c"}})) ==
          "subnet | subnet: network c: address pools exhausted: no free /24 subnet left in "
          "192.168.0.0/23");
    CHECK(n.plane.desired.networks.size() == 2);
}

// ---------------------------------------------------------------------------------------
// Removal, endpoints and addresses

TEST_CASE("network rm: refused while endpoints use it; freed subnets come back after the wrap",
          "[rpc]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    REQUIRE(ok_or_error(n.attach("a", "web")) == "ok");
    REQUIRE(ok_or_error(n.attach("b", "web", "node2")) == "ok");

    json rm = json::array({{{"op", "remove"}, {"kind", "network"}, {"name", "web"}}});
    CHECK(error_of(n.patch(rm)) == "ops[0] | ops[0]: network 'web' is in use by endpoint(s): a, b");
    CHECK(n.state.ipam().network("web").addresses.size() == 2);

    json detach = json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", "a"}},
                               {{"op", "remove"}, {"kind", "endpoint"}, {"name", "b"}}});
    REQUIRE(ok_or_error(n.patch(detach)) == "ok");
    CHECK(n.state.ipam().network("web").addresses.empty());
    json r = n.patch(rm);
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["changes"] ==
          json::array({{{"action", "remove"}, {"kind", "network"}, {"name", "web"}}}));
    CHECK(n.state.ipam().network_names().empty());

    // Serial: the next network does not reuse web's subnet or VNI at once.
    r = n.create({{"name", "web2"}});
    CHECK(r["result"]["network"]["subnet"] == "10.0.1.0/24");
    CHECK(r["result"]["network"]["vni"] == 4097);
}

TEST_CASE("endpoint attach without an ip allocates serially after the gateway", "[rpc]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");

    json r = n.attach("a", "web");
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["allocated"] == json::array({{{"name", "a"},
                                                    {"network", "web"},
                                                    {"ip", "10.0.0.2"},
                                                    {"mac", "02:42:0a:00:00:02"}}}));
    CHECK(r["result"]["changes"] ==
          json::array({{{"action", "add"}, {"kind", "endpoint"}, {"name", "a"}}}));

    // A fixed address is reserved and skipped.
    json fixed = {{"name", "f"}, {"network", "web"}, {"ip", "10.0.0.3"}, {"node", "node2"}};
    REQUIRE(ok_or_error(n.patch(
                json::array({{{"op", "add"}, {"kind", "endpoint"}, {"object", fixed}}}))) == "ok");

    // Two in one patch, in order; the second on the peer.
    json two = json::array(
        {{{"op", "add"},
          {"kind", "endpoint"},
          {"object", {{"name", "b"}, {"network", "web"}, {"node", "node1"}, {"port", "c2"}}}},
         {{"op", "add"},
          {"kind", "endpoint"},
          {"object", {{"name", "c"}, {"network", "web"}, {"node", "node2"}}}}});
    r = n.patch(two);
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.4");
    CHECK(r["result"]["allocated"][1]["ip"] == "10.0.0.5");
    const auto& eps = n.plane.desired.endpoints;
    REQUIRE(eps.size() == 4);
    CHECK(model::format_mac(eps[3].mac) == "02:42:0a:00:00:05");

    // IPAM holds every address, owned by the endpoint's name.
    std::vector<std::string> held;
    for (const auto& a : n.state.ipam().network("web").addresses)
        held.push_back(model::format_ipv4(a.address) + " " + a.owner);
    CHECK(held == std::vector<std::string>{"10.0.0.2 a", "10.0.0.3 f", "10.0.0.4 b", "10.0.0.5 c"});

    // A dry run allocates nothing for good.
    r = n.patch(json::array({{{"op", "add"},
                              {"kind", "endpoint"},
                              {"object", {{"name", "d"}, {"network", "web"}, {"node", "node2"}}}}}),
                true);
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.6");
    CHECK(n.state.ipam().network("web").addresses.size() == 4);
    r = n.attach("d", "web", "node2");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.6");

    // Errors: unknown network, and the rest of the endpoint checked as usual.
    CHECK(error_of(n.attach("e", "nosuch", "node2")) ==
          "ops[0].object.network | ops[0].object.network: unknown network 'nosuch'");
    CHECK(error_of(n.attach("e", "web", "node3")) ==
          "ops[0].object.node | ops[0].object.node: unknown node 'node3'");
    CHECK(n.state.ipam().network("web").addresses.size() == 5);
}

TEST_CASE("an exhausted network refuses an endpoint and keeps the rest", "[rpc]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "tiny"}, {"subnet", "10.5.0.0/30"}})) == "ok");
    REQUIRE(ok_or_error(n.attach("a", "tiny", "node2")) == "ok"); // .1 gateway, .2 a
    CHECK(error_of(n.attach("b", "tiny", "node2")) ==
          "ops[0].object.ip | ops[0].object.ip: network tiny: no free address left in 10.5.0.0/30");
    CHECK(n.plane.desired.endpoints.size() == 1);
}

TEST_CASE("apply and patch keep IPAM in step with the desired state", "[rpc]") {
    Node n(kNode + kBlue);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok"); // 10.0.0.0/24
    json desired = n.call(json{{"op", "get"}})["result"]["desired"];
    CHECK(desired["networks"][0]["id"] == "0000000000000000000000001"); // blue's, at start-up
    CHECK(desired["networks"][1]["id"] == "0000000000000000000000002");

    // Applying the config file again: web goes, blue keeps its id (nothing to update).
    json r = n.call(json{{"op", "apply"}, {"params", {{"config", kNode + kBlue}}}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["changes"] ==
          json::array({{{"action", "remove"}, {"kind", "network"}, {"name", "web"}}}));
    CHECK(n.state.ipam().network_names() == std::vector<std::string>{"blue"});
    CHECK(n.network("blue").id == "0000000000000000000000001");

    // A network added by patch is reserved: network_create skips its subnet and VNI.
    json green = {{"name", "green"}, {"vni", 4096}, {"subnet", "10.0.0.0/24"}};
    REQUIRE(ok_or_error(n.patch(
                json::array({{{"op", "add"}, {"kind", "network"}, {"object", green}}}))) == "ok");
    r = n.create({{"name", "next"}});
    CHECK(r["result"]["network"]["subnet"] == "10.0.2.0/24");
    CHECK(r["result"]["network"]["vni"] == 4098);

    // diff is a dry run of apply.
    r = n.call(json{{"op", "diff"}, {"params", {{"config", kNode + kBlue}}}});
    CHECK(r["result"]["dry_run"] == true);
    CHECK(r["result"]["changes"].size() == 2);
    CHECK(n.state.ipam().network_names().size() == 3);
}

// ---------------------------------------------------------------------------------------
// Bad requests

TEST_CASE("bad requests get error replies with paths", "[rpc]") {
    Node n(kNode);
    json r = n.call(std::string("{\"op\": "));
    CHECK(r["ok"] == false);
    CHECK(r["error"].get<std::string>().starts_with("request is not JSON: "));
    CHECK(error_of(n.call(std::string("[1]"))) == " | request must be a JSON object");
    CHECK(error_of(n.call(json{{"id", 7}})) ==
          "op | op: missing (one of version, get, stats, apply, diff, patch, network_create, "
          "network_inspect, service_inspect, capture_start, capture_status, capture_stop)");
    r = n.call(json{{"op", "frobnicate"}, {"id", "x"}});
    CHECK(error_of(r) == "op | op: unknown operation 'frobnicate'");
    CHECK(r["id"] == "x");
    CHECK(error_of(n.call(json{{"op", "apply"}})) == "config | missing field 'config'");
    CHECK(error_of(n.call(json{{"op", "apply"}, {"params", 3}})) ==
          "params | params: must be an object");
    CHECK(error_of(n.call(json{{"op", "patch"}, {"params", json::object()}})) ==
          "ops | ops: must be a list of operations");
    CHECK(error_of(n.call(
              json{{"op", "patch"}, {"params", {{"ops", {{{"op", "add"}, {"kind", "node"}}}}}}})) ==
          "ops[0].kind | ops[0].kind: must be network, peer, endpoint or service");
    CHECK(error_of(n.call(json{{"op", "network_create"}})) == "name | missing field 'name'");
    CHECK(error_of(n.call(
              json{{"op", "apply"}, {"params", {{"config", {{"node", {{"name", "node1"}}}}}}}})) ==
          "config.node | config.node: missing required field 'data_path_addr'");
    CHECK(n.plane.gen == 1);
}

// ---------------------------------------------------------------------------------------
// The state file

TEST_CASE("the state survives a restart: networks with ids, and no conflicts", "[rpc]") {
    TempDir dir;
    const std::string path = dir.path + "/sub/state.json"; // the directory is created
    std::string before_ids;
    {
        Node n(kNode + kBlue, settings(path));
        REQUIRE(ok_or_error(n.create(
                    {{"name", "a"}, {"labels", {{"k", "v"}}}, {"attachable", true}})) == "ok");
        REQUIRE(ok_or_error(n.create({{"name", "b"}})) == "ok");
        REQUIRE(ok_or_error(n.create({{"name", "c"}, {"options", {{"encrypted", ""}}}})) == "ok");
        REQUIRE(ok_or_error(n.attach("e1", "a")) == "ok");
        CHECK(stored_state(path)["endpoints"][0]["ip"] == "10.0.0.2");
        REQUIRE(ok_or_error(n.patch(json::array(
                    {{{"op", "remove"}, {"kind", "network"}, {"name", "b"}}}))) == "ok");
        CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);

        const json state = json::parse(read_file(path));
        CHECK(state["version"] == 1);
        CHECK(state["config_file_networks"] == json::array({"blue"}));
        CHECK(state["networks"].size() == 3);
        CHECK(state["ipam"]["networks"].size() == 3);
        CHECK(state["ipam"]["networks"][0]["name"] == "a");                // sorted by name
        CHECK(state["ipam"]["networks"][0]["addresses"] == json::array()); // e1's: below
        CHECK(state["endpoints"] == json::array({{{"name", "e1"},
                                                  {"network", "a"},
                                                  {"ip", "10.0.0.2"},
                                                  {"mac", "02:42:0a:00:00:02"},
                                                  {"node", "node1"},
                                                  {"port", "c1"}}}));
        CHECK(state["peers"] == json::array());
        CHECK(state["networks"][1]["name"] == "a");
        CHECK(state["networks"][1]["labels"]["k"] == "v");
        before_ids = config_to_json(n.plane.desired)["networks"].dump();
    }
    // Restart: the same config file, a new process (ids from a fresh generator).
    StateSettings s = settings(path);
    s.new_id = [] { return std::string("zzzzzzzzzzzzzzzzzzzzzzzzz"); };
    Node again(kNode + kBlue, s);
    CHECK(config_to_json(again.plane.desired)["networks"].dump() == before_ids);
    CHECK(again.network("blue").id == "0000000000000000000000001");
    CHECK(again.network("a").attachable);
    CHECK(again.network("c").encrypted);
    CHECK(again.network("c").mtu == 1424);
    REQUIRE(again.plane.desired.endpoints.size() == 1); // kept, with its address
    CHECK(model::format_ipv4(again.plane.desired.endpoints[0].ip) == "10.0.0.2");
    // Cursors start from the bottom: b's freed subnet is filled first.
    json r = again.create({{"name", "d"}});
    CHECK(r["result"]["network"]["subnet"] == "10.0.2.0/24");
    CHECK(again.network("d").id == "zzzzzzzzzzzzzzzzzzzzzzzzz");

    // The config file takes over a created network with the same definition...
    const std::string adopt =
        kNode + kBlue + "  - name: a\n    vni: 4096\n    subnet: 10.0.0.0/24\n";
    Node adopted(adopt, settings(path));
    CHECK(adopted.plane.desired.networks.size() == 4);
    CHECK(adopted.network("a").id == "0000000000000000000000002"); // kept from the state
    CHECK_FALSE(adopted.network("a").attachable);                  // as the file says
    CHECK(json::parse(read_file(path))["config_file_networks"] == json::array({"blue", "a"}));

    // ...and a clash is an error naming both.
    const std::string clash =
        kNode + kBlue + "  - name: x\n    vni: 4099\n    subnet: 10.7.0.0/24\n";
    REQUIRE_THROWS_WITH(Node(clash, settings(path)),
                        "node1.yaml:18:5: networks[1]: network 'x' conflicts with network 'c' "
                        "(VNI 4099, subnet 10.0.3.0/24, gateway 10.0.3.1) created over the control "
                        "socket (state file " +
                            path + "): both use VNI 4099");
}

TEST_CASE("a corrupt state file stops the start naming the file", "[rpc]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    auto start_with = [&](const std::string& text) {
        std::ofstream(path) << text;
        try {
            Node n(kNode, settings(path));
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string("started");
    };
    CHECK(start_with("{").starts_with(path + ": corrupt state file: [json.exception.parse_error"));
    CHECK(start_with("{\"version\": 2}") == path + ": corrupt state file: version: not 1");
    CHECK(start_with("{\"version\": 1, \"networks\": []}") ==
          path + ": corrupt state file: config_file_networks: missing or not a list");
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [{"name": "a", "vni": 0, "subnet": "10.0.0.0/24"}], "ipam": {}})") ==
        path + ": corrupt state file: networks[0].vni: 0 is out of range 1..16777215");
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [], "ipam": {"version": 1}})") ==
        path + ": corrupt IPAM state: state.networks: missing");
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [], "endpoints": [{"name": "e"}], "ipam": {"version": 1, "networks": []}})") ==
        path + ": corrupt state file: endpoints[0]: missing required field 'network'");
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [], "peers": {}, "ipam": {"version": 1, "networks": []}})") ==
        path + ": corrupt state file: peers: not a list");
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [], "services": [{"name": "s", "ports": [{"target": 80}]}], "ipam": {"version": 1, "networks": []}})") ==
        path + ": corrupt state file: services[0].ports[0]: missing required field 'published'");
    CHECK(start_with("{\"version\": 1, \"networks\": " + std::string(100000, '[')) ==
          path + ": corrupt state file: nested deeper than 64 levels");
    // Written before peers and endpoints were kept: none to restore.
    CHECK(
        start_with(
            R"({"version": 1, "config_file_networks": [], "networks": [], "ipam": {"version": 1, "networks": []}})") ==
        "started");
}

TEST_CASE("SIGHUP reload keeps the created networks and refuses clashes", "[rpc]") {
    Node n(kNode + kBlue);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    const std::string web_id = n.network("web").id;

    // The file gains a network: web stays, blue keeps its id.
    const std::string more =
        kNode + kBlue + "  - name: red\n    vni: 5000\n    subnet: 10.0.9.0/24\n";
    CHECK(n.state.reload(n.plane, control::load_config_string(more, "node1.yaml")).empty());
    REQUIRE(n.plane.desired.networks.size() == 3);
    CHECK(n.network("web").id == web_id);
    CHECK(n.network("blue").id == "0000000000000000000000001");
    CHECK(n.state.ipam().network_names() == std::vector<std::string>{"blue", "red", "web"});

    const std::string clash =
        kNode + kBlue + "  - name: web\n    vni: 5000\n    subnet: 10.0.9.0/24\n";
    const uint64_t generation = n.plane.gen;
    REQUIRE_THROWS_WITH(n.state.reload(n.plane, control::load_config_string(clash, "node1.yaml")),
                        "node1.yaml:18:5: networks[1]: network 'web' conflicts with network 'web' "
                        "(VNI 4096, subnet 10.0.0.0/24, gateway 10.0.0.1) created over the control "
                        "socket: same name, but the config file says VNI 5000, subnet 10.0.9.0/24, "
                        "gateway 10.0.9.1");
    CHECK(n.plane.gen == generation);
    CHECK(n.state.ipam().network_names() == std::vector<std::string>{"blue", "red", "web"});
}

// Addresses of `network` in IPAM, as "IP OWNER".
std::vector<std::string> held_addresses(const NetworkState& state, const std::string& network) {
    std::vector<std::string> held;
    for (const auto& a : state.ipam().network(network).addresses)
        held.push_back(model::format_ipv4(a.address) + " " + a.owner);
    return held;
}

std::vector<std::string> endpoint_lines(const model::Config& c) {
    std::vector<std::string> out;
    for (const auto& e : c.endpoints)
        out.push_back(fmt::format("{} {} {} {} {} {}", e.name, e.network, model::format_ipv4(e.ip),
                                  model::format_mac(e.mac), e.node, e.port));
    return out;
}

TEST_CASE("endpoints and peers added over the socket survive a restart with their addresses",
          "[rpc][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    const std::string yaml = kNode + kBlue + R"(endpoints:
  - name: n2c1
    network: blue
    ip: 10.0.1.9
    node: node2
)";
    {
        Node n(yaml, settings(path));
        REQUIRE(ok_or_error(n.attach("w1", "blue")) == "ok");          // 10.0.1.2, on c1
        REQUIRE(ok_or_error(n.attach("w2", "blue", "node2")) == "ok"); // 10.0.1.3
        json peer = {{"name", "node3"}, {"address", "10.99.0.3"}};
        json w3 = {{"name", "w3"},
                   {"network", "blue"},
                   {"ip", "10.0.1.50"},
                   {"mac", "02:00:00:00:00:50"},
                   {"node", "node3"}};
        REQUIRE(ok_or_error(n.patch(
                    json::array({{{"op", "add"}, {"kind", "peer"}, {"object", peer}},
                                 {{"op", "add"}, {"kind", "endpoint"}, {"object", w3}}}))) == "ok");
        REQUIRE(ok_or_error(n.patch(json::array(
                    {{{"op", "remove"}, {"kind", "endpoint"}, {"name", "w2"}}}))) == "ok");
        // The state file lists what came over the socket, not the config file's n2c1.
        const json state = stored_state(path);
        CHECK(state["peers"] == json::array({peer}));
        REQUIRE(state["endpoints"].size() == 2);
        CHECK(state["endpoints"][0]["name"] == "w1");
        CHECK(state["endpoints"][1] == w3);
    }

    Node again(yaml, settings(path));
    CHECK(endpoint_lines(again.plane.desired) ==
          std::vector<std::string>{"n2c1 blue 10.0.1.9 02:42:0a:00:01:09 node2 ",
                                   "w1 blue 10.0.1.2 02:42:0a:00:01:02 node1 c1",
                                   "w3 blue 10.0.1.50 02:00:00:00:00:50 node3 "});
    REQUIRE(again.plane.desired.peers.size() == 2);
    CHECK(again.plane.desired.peers[1].name == "node3");
    CHECK(model::format_ipv4(again.plane.desired.peers[1].address) == "10.99.0.3");
    // IPAM reserves them again; its cursor starts from the bottom, so w2's freed address
    // is the first one handed out (as Docker's allocator does after a restart).
    CHECK(held_addresses(again.state, "blue") ==
          std::vector<std::string>{"10.0.1.2 w1", "10.0.1.9 n2c1", "10.0.1.50 w3"});
    json r = again.attach("w4", "blue", "node2");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.1.3");

    // Removed over the socket: gone from the state file, and after the next restart.
    REQUIRE(ok_or_error(again.patch(
                json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", "w3"}},
                             {{"op", "remove"}, {"kind", "peer"}, {"name", "node3"}}}))) == "ok");
    const json state = stored_state(path);
    CHECK(state["peers"] == json::array());
    CHECK(state["endpoints"].size() == 2); // w1, w4
    Node third(yaml, settings(path));
    CHECK(third.plane.desired.peers.size() == 1);
    CHECK(endpoint_lines(third.plane.desired).size() == 3); // n2c1, w1, w4

    // A config file that now describes w1 exactly takes it over: no longer kept.
    const std::string adopt = yaml + "  - name: w1\n    network: blue\n    ip: 10.0.1.2\n"
                                     "    node: node1\n    port: c1\n";
    Node adopted(adopt, settings(path));
    CHECK(endpoint_lines(adopted.plane.desired).size() == 3);
    const json after = json::parse(read_file(path));
    REQUIRE(after["endpoints"].size() == 1);
    CHECK(after["endpoints"][0]["name"] == "w4");
}

TEST_CASE("clashes between the state file's endpoints and peers and the config file name both",
          "[rpc][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    {
        Node n(kNode + kBlue, settings(path));
        REQUIRE(ok_or_error(n.attach("w1", "blue")) == "ok"); // 10.0.1.2 on c1
        json peer = {{"name", "node3"}, {"address", "10.99.0.3"}};
        REQUIRE(ok_or_error(n.patch(
                    json::array({{{"op", "add"}, {"kind", "peer"}, {"object", peer}}}))) == "ok");
    }
    const std::string w1 = "endpoint 'w1' (network blue, IP 10.0.1.2, MAC 02:42:0a:00:01:02, node "
                           "node1, port c1) attached over the control socket (state file " +
                           path + ")";
    auto start = [&](const std::string& yaml) {
        try {
            Node n(yaml, settings(path));
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string("started");
    };
    // Line 19 is the first endpoint of the file (kNode: 13 lines, kBlue: 4, "endpoints:").
    CHECK(start(kNode + kBlue +
                "endpoints:\n  - {name: x, network: blue, ip: 10.0.1.2, node: "
                "node2}\n") == "node1.yaml:19:5: endpoints[0]: endpoint 'x' conflicts with " + w1 +
                                   ": both use IP 10.0.1.2 in network 'blue'");
    CHECK(start(kNode + kBlue +
                "endpoints:\n  - {name: w1, network: blue, ip: 10.0.1.7, node: "
                "node2}\n") ==
          "node1.yaml:19:5: endpoints[0]: endpoint 'w1' conflicts with " + w1 +
              ": same name, but the config file says network blue, IP 10.0.1.7, MAC "
              "02:42:0a:00:01:07, node node2");
    CHECK(start(kNode + kBlue +
                "endpoints:\n  - {name: x, network: blue, ip: 10.0.1.7, mac: "
                "\"02:42:0a:00:01:02\", node: node2}\n") ==
          "node1.yaml:19:5: endpoints[0]: endpoint 'x' conflicts with " + w1 +
              ": both use MAC 02:42:0a:00:01:02 in network 'blue'");
    // Peers: line 14 is a second peer of the file.
    CHECK(start(kNode + "  - {name: node3, address: 10.99.0.4}\n" + kBlue) ==
          "node1.yaml:14:5: peers[1]: peer 'node3' conflicts with peer 'node3' (address "
          "10.99.0.3) added over the control socket (state file " +
              path + "): same name, but the config file says address 10.99.0.4");
    CHECK(start(kNode + "  - {name: node4, address: 10.99.0.3}\n" + kBlue) ==
          "node1.yaml:14:5: peers[1]: peer 'node4' conflicts with peer 'node3' (address "
          "10.99.0.3) added over the control socket (state file " +
              path + "): both have address 10.99.0.3");
    CHECK(start(with_node_address(kNode, "10.99.0.3") + kBlue) ==
          "node1.yaml:2:3: node: this node 'node1' (data_path_addr 10.99.0.3) conflicts with peer "
          "'node3' (address 10.99.0.3) added over the control socket (state file " +
              path + "): same address");
    // What the config file no longer has: w1's network.
    CHECK(start(kNode) == w1 + " cannot be kept with the config file node1.yaml: network: "
                               "unknown network 'blue'");
    // ...or its port.
    CHECK(start(replace_all(kNode, "c1", "c9") + kBlue) ==
          w1 + " cannot be kept with the config file node1.yaml: port: unknown port 'c1'");
    // Nothing was written by the failed starts: the original file still starts.
    CHECK(start(kNode + kBlue) == "started");
}

TEST_CASE("SIGHUP reload keeps the endpoints and peers added over the socket", "[rpc][state]") {
    Node n(kNode + kBlue);
    REQUIRE(ok_or_error(n.attach("w1", "blue")) == "ok");
    const std::string more = kNode + kBlue +
                             "endpoints:\n  - {name: e9, network: blue, ip: "
                             "10.0.1.9, node: node2}\n";
    CHECK(n.state.reload(n.plane, control::load_config_string(more, "node1.yaml")).empty());
    CHECK(endpoint_lines(n.plane.desired) ==
          std::vector<std::string>{"e9 blue 10.0.1.9 02:42:0a:00:01:09 node2 ",
                                   "w1 blue 10.0.1.2 02:42:0a:00:01:02 node1 c1"});
    const uint64_t generation = n.plane.gen;
    const std::string clash = kNode + kBlue +
                              "endpoints:\n  - {name: e2, network: blue, ip: "
                              "10.0.1.2, node: node2}\n";
    REQUIRE_THROWS_WITH(
        n.state.reload(n.plane, control::load_config_string(clash, "node1.yaml")),
        "node1.yaml:19:5: endpoints[0]: endpoint 'e2' conflicts with endpoint 'w1' (network blue, "
        "IP 10.0.1.2, MAC 02:42:0a:00:01:02, node node1, port c1) attached over the control "
        "socket: both use IP 10.0.1.2 in network 'blue'");
    CHECK(n.plane.gen == generation);
    // The file's e9 went with the reload; w1 stays.
    CHECK(
        n.state.reload(n.plane, control::load_config_string(kNode + kBlue, "node1.yaml")).empty());
    CHECK(endpoint_lines(n.plane.desired) ==
          std::vector<std::string>{"w1 blue 10.0.1.2 02:42:0a:00:01:02 node1 c1"});
}

TEST_CASE("random ids and times have swarm's and RFC 3339's shapes", "[rpc]") {
    const std::string a = control::random_network_id(), b = control::random_network_id();
    CHECK(control::is_network_id(a));
    CHECK(control::is_network_id(b));
    CHECK(a != b);
    const std::string t = control::rfc3339_now();
    CHECK(control::is_rfc3339(t));
    CHECK(t.size() == 30); // 2024-05-01T12:00:00.123456789Z
}

// ---------------------------------------------------------------------------------------
// docker network inspect

TEST_CASE("network inspect: Docker's keys, in Docker's order", "[rpc]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create(
                {{"name", "web"},
                 {"subnet", "10.0.1.0/24"},
                 {"ip_range", "10.0.1.128/25"},
                 {"attachable", true},
                 {"options", {{"encrypted", ""}, {"com.docker.network.driver.mtu", "1400"}}},
                 {"labels", {{"z", "last"}, {"a", "first"}}}})) == "ok");
    REQUIRE(ok_or_error(n.attach("web.2", "web")) == "ok");
    REQUIRE(ok_or_error(n.attach("web.1", "web")) == "ok");
    REQUIRE(ok_or_error(n.attach("far", "web", "node2")) == "ok");

    const model::Network* web = control::find_network(n.plane.desired, "web");
    REQUIRE(web != nullptr);
    CHECK(control::network_inspect(n.plane.desired, *web, true).dump(4) == R"({
    "Name": "web",
    "Id": "0000000000000000000000001",
    "Created": "2024-05-01T12:00:00.000000001Z",
    "Scope": "swarm",
    "Driver": "overlay",
    "EnableIPv6": false,
    "IPAM": {
        "Driver": "default",
        "Options": null,
        "Config": [
            {
                "Subnet": "10.0.1.0/24",
                "IPRange": "10.0.1.128/25",
                "Gateway": "10.0.1.128"
            }
        ]
    },
    "Internal": false,
    "Attachable": true,
    "Ingress": false,
    "ConfigFrom": {
        "Network": ""
    },
    "ConfigOnly": false,
    "Containers": {
        "web.1": {
            "Name": "web.1",
            "EndpointID": "web.1",
            "MacAddress": "02:42:0a:00:01:82",
            "IPv4Address": "10.0.1.130/24",
            "IPv6Address": ""
        },
        "web.2": {
            "Name": "web.2",
            "EndpointID": "web.2",
            "MacAddress": "02:42:0a:00:01:81",
            "IPv4Address": "10.0.1.129/24",
            "IPv6Address": ""
        }
    },
    "Options": {
        "com.docker.network.driver.mtu": "1400",
        "com.docker.network.driver.overlay.vxlanid_list": "4096",
        "encrypted": ""
    },
    "Labels": {
        "a": "first",
        "z": "last"
    },
    "Peers": [
        {
            "Name": "node1",
            "IP": "10.99.0.1"
        },
        {
            "Name": "node2",
            "IP": "10.99.0.2"
        }
    ],
    "Services": {}
})");

    // Without local endpoints Containers is null; no Services without verbose; the
    // default MTU is not an option.
    REQUIRE(ok_or_error(n.create({{"name", "empty"}})) == "ok");
    const model::Network* empty = control::find_network(n.plane.desired, "empty");
    const auto j = control::network_inspect(n.plane.desired, *empty, false);
    CHECK(j["Containers"].is_null());
    CHECK(j.count("Services") == 0);
    CHECK(j["Options"].dump() == R"({"com.docker.network.driver.overlay.vxlanid_list":"4097"})");
    CHECK(j["Labels"].dump() == "{}");
    CHECK(j["IPAM"]["Config"].dump() == R"([{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}])");

    // By name, full id or a unique id prefix.
    CHECK(control::find_network(n.plane.desired, "0000000000000000000000002") == empty);
    CHECK(control::find_network(n.plane.desired, "00000000000000000000000") == nullptr); // both
    CHECK(control::find_network(n.plane.desired, "0000000000000000000000001") ==
          &n.plane.desired.networks[0]);
    CHECK(control::find_network(n.plane.desired, "nosuch") == nullptr);
}

TEST_CASE("a network changed in place is re-reserved with its endpoints", "[rpc]") {
    Node n(kNode + kBlue + R"(endpoints:
  - name: e1
    network: blue
    ip: 10.0.1.5
    node: node2
)");
    CHECK(n.state.ipam().network("blue").addresses.size() == 1);
    json gw = {{"name", "blue"}, {"gateway", "10.0.1.254"}, {"ip_range", "10.0.1.128/25"}};
    REQUIRE(ok_or_error(n.patch(
                json::array({{{"op", "update"}, {"kind", "network"}, {"object", gw}}}))) == "ok");
    const auto blue = n.state.ipam().network("blue");
    CHECK(model::format_ipv4(blue.subnets[0].gateway) == "10.0.1.254");
    CHECK(model::format_prefix(*blue.subnets[0].ip_range) == "10.0.1.128/25");
    REQUIRE(blue.addresses.size() == 1);
    CHECK(model::format_ipv4(blue.addresses[0].address) == "10.0.1.5");
    CHECK(blue.addresses[0].owner == "e1");
    CHECK(n.network("blue").id == "0000000000000000000000001"); // patched in place: same id
    // New endpoints now come from the ip-range.
    json r = n.attach("e2", "blue", "node2");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.1.128");
}

// ---------------------------------------------------------------------------------------
// Hostile input at the socket's edge (issue 9): whatever a client sends, the reply is one
// line of valid JSON (valid UTF-8) and the process goes on.

namespace {

json reply_line(Node& n, const std::string& line) {
    std::string text;
    REQUIRE_NOTHROW(text = control::handle_request_line(n.plane, n.state, line));
    CHECK(text.find('\n') == std::string::npos);
    json reply;
    REQUIRE_NOTHROW(reply = json::parse(text)); // throws on invalid UTF-8
    return reply;
}

std::string nested(const std::string& open, const std::string& close, size_t depth,
                   const std::string& inner = "1") {
    std::string out;
    for (size_t i = 0; i < depth; i++)
        out += open;
    out += inner;
    for (size_t i = 0; i < depth; i++)
        out += close;
    return out;
}

} // namespace

TEST_CASE("a line that is not valid UTF-8 gets an error reply", "[rpc][hostile]") {
    Node n(kNode);
    for (const std::string& line :
         {std::string("\xff"), std::string("{\"op\": \"get\xff\"}"),
          std::string("{\"op\": \"get\", \"id\": \"\xc3\"}"), std::string("\xc3\xa9\xe2\x82"),
          std::string("{\"op\": \"version\", \"params\": {\"x\": \"\xed\xa0\x80\"}}")}) {
        json r = reply_line(n, line);
        CHECK(r["ok"] == false);
        CHECK(r["error"].get<std::string>().starts_with("request is not JSON: "));
    }
    CHECK(n.plane.gen == 1);
}

TEST_CASE("an error message never cuts a multi-byte character", "[rpc][hostile]") {
    Node n(kNode);
    // 47 ASCII bytes and an é: the name is quoted in the message, cut after 48 bytes.
    const std::string name = std::string(47, 'a') + "\xc3\xa9";
    json r = reply_line(
        n,
        json{{"op", "network_create"}, {"params", {{"name", name}, {"driver", "overlay"}}}}.dump());
    CHECK(error_of(r) ==
          fmt::format("name | name: '{}...' is not a valid name (1..63 of A-Z a-z 0-9 _ . -)",
                      std::string(47, 'a')));
    // A name of 2-byte characters only, cut at 48 bytes: 24 whole characters.
    std::string accents;
    for (int i = 0; i < 30; i++)
        accents += "\xc3\xa9";
    r = reply_line(n, json{{"op", "network_create"}, {"params", {{"name", accents}}}}.dump());
    CHECK(error_of(r) ==
          fmt::format("name | name: '{}...' is not a valid name (1..63 of A-Z a-z 0-9 _ . -)",
                      accents.substr(0, 48)));
}

TEST_CASE("invalid UTF-8 and NUL bytes in YAML text are reported at their position",
          "[rpc][hostile]") {
    // kNode has 13 lines; the bad byte is on line 19, column 12.
    const std::string head = kNode + "networks:\n  - name: blue\n    vni: 4097\n"
                                     "    subnet: 10.0.1.0/24\n    labels:\n";
    CHECK_THROWS_WITH(control::load_config_string(head + "      x: \"a\xff\"\n", "f.yaml"),
                      "f.yaml:19:12: not valid UTF-8 (byte 0xff)");
    CHECK_THROWS_WITH(control::load_config_string(head + "      x: \"a\xc3\"\n", "f.yaml"),
                      "f.yaml:19:12: not valid UTF-8 (byte 0xc3)");
    CHECK_THROWS_WITH(control::load_config_string(
                          head + "      x: a\n      y: b" + std::string(1, '\0') + "c\n", "f.yaml"),
                      "f.yaml:20:11: a NUL byte (YAML text cannot hold one)");
    // Valid multi-byte characters are text like any other.
    CHECK_NOTHROW(
        control::load_config_string(head + "      x: \"\xc3\xa9\xe2\x82\xac\"\n", "f.yaml"));
}

TEST_CASE("JSON nested too deep is refused before it is parsed", "[rpc][hostile]") {
    Node n(kNode);
    const std::string limit =
        fmt::format("request nested deeper than {} levels", control::max_request_depth);
    for (const std::string& line :
         {"{\"op\": \"version\", \"id\": " + nested("[", "]", 100000) + "}",
          "{\"op\": \"version\", \"params\": " + nested("{\"a\":", "}", 100000) + "}",
          nested("[", "]", 100000), std::string(200000, '[')}) {
        json r = reply_line(n, line);
        CHECK(error_of(r) == " | " + limit);
    }
    // Brackets inside strings do not count; the limit itself is allowed.
    json r = reply_line(n, "{\"op\": \"version\", \"id\": \"" + std::string(1000, '[') + "\"}");
    CHECK(r["ok"] == true);
    r = reply_line(n, "{\"op\": \"version\", \"id\": " +
                          nested("[", "]", control::max_request_depth - 1) + "}");
    CHECK(r["ok"] == true);
    r = reply_line(
        n, "{\"op\": \"version\", \"id\": " + nested("[", "]", control::max_request_depth) + "}");
    CHECK(error_of(r) == " | " + limit);
    CHECK(n.plane.gen == 1);
}

TEST_CASE("YAML nested too deep is refused, in a file and in an apply request", "[rpc][hostile]") {
    using Catch::Matchers::EndsWith;
    using Catch::Matchers::StartsWith;
    Node n(kNode);
    const std::string limit =
        fmt::format(": nested deeper than {} levels", control::max_config_depth);
    // (text after "networks: ", the line of the error)
    const std::pair<std::string, int> cases[] = {
        {nested("[", "]", 100000), 14},
        {nested("{a: ", "}", 100000), 14},
        {nested("[", "]", control::max_config_depth + 1), 14},
        {"\n" + nested("  - ", "", 2000, "x"), 15}, // block sequences, on one line
    };
    for (const auto& [deep, line] : cases) {
        const std::string yaml = kNode + "networks: " + deep + "\n";
        CHECK_THROWS_WITH(control::load_config_string(yaml, "f.yaml"),
                          StartsWith(fmt::format("f.yaml:{}:", line)) && EndsWith(limit));
        json r = reply_line(n, json{{"op", "apply"}, {"params", {{"config", yaml}}}}.dump());
        CHECK(r.value("path", "") == "config");
        CHECK_THAT(r.value("error", ""),
                   StartsWith(fmt::format("config:{}:", line)) && EndsWith(limit));
    }
    // The limit itself is allowed (and then refused for what it is, not for its depth).
    const std::string at_limit =
        kNode + "networks: " + nested("[", "]", control::max_config_depth - 1) + "\n";
    CHECK_THROWS_WITH(control::load_config_string(at_limit, "f.yaml"), !EndsWith(limit));
    CHECK(n.plane.gen == 1);
}

TEST_CASE("a state file that cannot be written: the start goes on, every failed save is logged",
          "[rpc][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    std::vector<std::string> logged;
    auto with_log = [&] {
        StateSettings s = settings(path);
        s.log = [&](const std::string& line) { logged.push_back(line); };
        return s;
    };
    { Node first(kNode, with_log()); } // writes the state file
    REQUIRE(logged.empty());
    // A directory where the temporary file goes: no save can succeed (even as root).
    REQUIRE(::mkdir((path + ".tmp").c_str(), 0700) == 0);
    {
        // Nothing to save: the start is not refused, and nothing is logged.
        Node n(kNode, with_log());
        CHECK(logged.empty());
        // A change is applied; the failed save is a warning to the client and a log line.
        json r = n.create({{"name", "web"}});
        REQUIRE(ok_or_error(r) == "ok");
        REQUIRE(r["result"]["warnings"].size() == 1);
        CHECK(r["result"]["warnings"][0].get<std::string>().starts_with(
            "applied, but not kept across a restart: cannot save state " + path));
        REQUIRE(logged.size() == 1);
        CHECK(logged[0].starts_with("warning: state not saved after a change: cannot save state " +
                                    path));
    }
    // Something to save at start-up (a network from the config file): started, logged.
    logged.clear();
    Node n(kNode + kBlue, with_log());
    CHECK(n.plane.desired.networks.size() == 1);
    REQUIRE(logged.size() == 1);
    CHECK(logged[0].starts_with("warning: state not saved at start-up: cannot save state " + path));
    ::rmdir((path + ".tmp").c_str());
}

TEST_CASE("a directory at the state path is named as one", "[rpc][state]") {
    TempDir dir;
    REQUIRE(::mkdir((dir.path + "/sub").c_str(), 0700) == 0);
    CHECK_THROWS_WITH(Node(kNode, settings(dir.path + "/sub")),
                      dir.path + "/sub: is a directory, not a state file (--state names a file)");
}

TEST_CASE("a configuration is a regular file of at most 64 MiB", "[rpc][hostile]") {
    CHECK_THROWS_WITH(control::load_config_file("/dev/zero"),
                      "/dev/zero: not a regular file (a configuration is a file)");
    TempDir dir;
    const std::string big = dir.path + "/state.json"; // a name TempDir removes
    REQUIRE(::truncate(big.c_str(), 0) != 0);         // absent so far
    std::ofstream(big).close();
    REQUIRE(::truncate(big.c_str(), static_cast<off_t>(control::max_config_bytes) + 1) == 0);
    CHECK_THROWS_WITH(control::load_config_file(big),
                      big + ": 67108865 bytes, more than the 64 MiB a configuration may have");
}
