// Unit tests for services as control-plane objects: IPAM's order (a service's VIPs, then
// its tasks, then each node's load-balancer endpoint), Docker's rules on removal and
// published ports, `network inspect -v`'s Services and `service inspect`, LocalLBIndex,
// and services across restarts. A fake ControlPlane stands in for the running process.
//
// Errors are compared in full, with their paths, so a change of wording is deliberate.
#include "control/model_json.hpp"
#include "control/network_inspect.hpp"
#include "tests/unit/control_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

using nlohmann::json;
namespace control = vxmesh::control;
namespace model = vxmesh::model;
using vxmesh::testing::error_of;
using vxmesh::testing::kNode;
using vxmesh::testing::ok_or_error;
using vxmesh::testing::read_file;
using vxmesh::testing::settings;
using vxmesh::testing::stored_state;
using vxmesh::testing::TempDir;

namespace {

// The shared Node (tests/unit/control_fixture.hpp) with services' helpers.
struct Node : vxmesh::testing::Node {
    using vxmesh::testing::Node::Node;
    json task(const std::string& name, const std::string& service, const std::string& network,
              const std::string& node) {
        json object = {{"name", name}, {"network", network}, {"node", node}, {"service", service}};
        if (node == "node1") object["port"] = "c1";
        return add("endpoint", object);
    }
    // IPAM's addresses of `network`, as "IP OWNER".
    std::vector<std::string> held(const std::string& network) const {
        std::vector<std::string> out;
        for (const auto& a : state.ipam().network(network).addresses)
            out.push_back(model::format_ipv4(a.address) + " " + a.owner);
        return out;
    }
    const model::Service& service(const std::string& name) const {
        for (const auto& s : plane.desired.services)
            if (s.name == name) return s;
        throw std::logic_error("no service " + name);
    }
    std::vector<std::string> load_balancers() const {
        std::vector<std::string> out;
        for (const auto& lb : plane.desired.load_balancers)
            out.push_back(control::load_balancer_name(lb) + " " + model::format_ipv4(lb.ip));
        return out;
    }
};

json service(const std::string& name, std::vector<std::string> networks, json ports = json::array(),
             const std::string& mode = "vip") {
    return {{"name", name}, {"networks", networks}, {"ports", ports}, {"endpoint_mode", mode}};
}

} // namespace

TEST_CASE("a service's VIP comes before its tasks, the tasks before the nodes' load balancers",
          "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok"); // 10.0.0.0/24, id ...1

    // One patch: the service and two tasks (one here, one on node2), no addresses given.
    json r = n.patch(json::array(
        {{{"op", "add"}, {"kind", "service"}, {"object", service("s", {"web"})}},
         {{"op", "add"},
          {"kind", "endpoint"},
          {"object",
           {{"name", "s.1"},
            {"network", "web"},
            {"node", "node1"},
            {"port", "c1"},
            {"service", "s"}}}},
         {{"op", "add"},
          {"kind", "endpoint"},
          {"object",
           {{"name", "s.2"}, {"network", "web"}, {"node", "node2"}, {"service", "s"}}}}}));
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["allocated_vips"] ==
          json::parse(R"([{"service": "s", "network": "web", "ip": "10.0.0.2"}])"));
    CHECK(r["result"]["allocated"] == json::parse(R"([
        {"name": "s.1", "network": "web", "ip": "10.0.0.3", "mac": "02:42:0a:00:00:03"},
        {"name": "s.2", "network": "web", "ip": "10.0.0.4", "mac": "02:42:0a:00:00:04"}])"));
    CHECK(r["result"]["allocated_load_balancers"] == json::parse(R"([
        {"network": "web", "node": "node1", "ip": "10.0.0.5", "mac": "02:42:0a:00:00:05"},
        {"network": "web", "node": "node2", "ip": "10.0.0.6", "mac": "02:42:0a:00:00:06"}])"));
    CHECK(r["result"]["changes"] == json::parse(R"([
        {"action": "add", "kind": "endpoint", "name": "s.1"},
        {"action": "add", "kind": "endpoint", "name": "s.2"},
        {"action": "add", "kind": "service", "name": "s"},
        {"action": "add", "kind": "load_balancer", "name": "lb-web@node1"},
        {"action": "add", "kind": "load_balancer", "name": "lb-web@node2"}])"));
    CHECK(n.held("web") == std::vector<std::string>{"10.0.0.2 s (VIP)", "10.0.0.3 s.1",
                                                    "10.0.0.4 s.2", "10.0.0.5 lb-web@node1",
                                                    "10.0.0.6 lb-web@node2"});
    CHECK(n.service("s").id == "0000000000000000000000002"); // a swarm-style id, as networks'
    CHECK(n.service("s").created == "2024-05-01T12:00:00.000000002Z");

    // Request by request: the VIP, then the task; node1 already has its load balancer.
    r = n.add("service", service("t", {"web"}));
    CHECK(r["result"]["allocated_vips"][0]["ip"] == "10.0.0.7");
    CHECK(r["result"].count("allocated_load_balancers") == 0); // no task yet
    r = n.task("t.1", "t", "web", "node1");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.8");
    CHECK(r["result"].count("allocated_load_balancers") == 0);

    // node2's last task goes: so does its load balancer, and IPAM frees both addresses,
    // which come back only after the serial cursor wraps (as Docker's).
    r = n.remove("endpoint", "s.2");
    CHECK(r["result"]["changes"] == json::parse(R"([
        {"action": "remove", "kind": "endpoint", "name": "s.2"},
        {"action": "remove", "kind": "load_balancer", "name": "lb-web@node2"}])"));
    CHECK(n.load_balancers() == std::vector<std::string>{"lb-web@node1 10.0.0.5"});
    r = n.task("t.2", "t", "web", "node2");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.9");
    CHECK(r["result"]["allocated_load_balancers"][0]["ip"] == "10.0.0.10");
    CHECK(n.held("web").size() == 7);
}

TEST_CASE("publishing in ingress mode attaches a service to the ingress network", "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "ingress"}, {"ingress", true}})) == "ok"); // 10.0.0.0/24
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");                        // 10.0.1.0/24
    json r = n.add("service", service("api", {"web"}, json::parse(R"([
        {"published": 8080, "target": 80}, {"published": 5353, "target": 53, "protocol": "udp",
         "mode": "host"}])")));
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["allocated_vips"] == json::parse(R"([
        {"service": "api", "network": "web", "ip": "10.0.1.2"},
        {"service": "api", "network": "ingress", "ip": "10.0.0.2"}])"));
    CHECK(n.service("api").networks == std::vector<std::string>{"web"}); // as given
    REQUIRE(ok_or_error(n.task("api.1", "api", "web", "node1")) == "ok");
    REQUIRE(ok_or_error(n.task("api.1-ingress", "api", "ingress", "node1")) == "ok");

    // The rules, with their paths.
    CHECK(error_of(
              n.add("service", service("other", {"web"},
                                       json::parse(R"([{"published": 8080, "target": 8000}])")))) ==
          "ops[0].object.ports[0].published | ops[0].object.ports[0].published: port 8080/tcp is "
          "already in use by services[0] 'api' as an ingress port");
    CHECK(error_of(n.add("service", service("rr", {"web"},
                                            json::parse(R"([{"published": 9000, "target": 9000}])"),
                                            "dnsrr"))) ==
          "ops[0].object.ports[0].mode | ops[0].object.ports[0].mode: port 9000/tcp is published "
          "in ingress mode, which endpoint_mode dnsrr cannot use (the routing mesh balances over "
          "a VIP); publish it in host mode");
    CHECK(error_of(n.add("service", service("x", {"ingress"}))) ==
          "ops[0].object.networks[0] | ops[0].object.networks[0]: 'ingress' is the ingress "
          "network: a service is attached to it by publishing a port in ingress mode, not by "
          "name");
    CHECK(error_of(n.add("service", service("x", {"nosuch"}))) ==
          "ops[0].object.networks[0] | ops[0].object.networks[0]: unknown network 'nosuch'");
    CHECK(error_of(n.add("service", service("api", {"web"}))) ==
          "ops[0].object.name | ops[0].object.name: service 'api' already exists");
    CHECK(error_of(n.add("endpoint", {{"name", "stray"},
                                      {"network", "ingress"},
                                      {"node", "node2"},
                                      {"service", "nosuch"}})) ==
          "ops[0].object.service | ops[0].object.service: unknown service 'nosuch'");
    CHECK(error_of(n.remove("network", "ingress")) ==
          "ops[0] | ops[0]: ingress network 'ingress' cannot be removed while service(s) publish "
          "ports in ingress mode: api");

    // Unpublishing: the ingress VIP goes (once no task needs the attachment), then the
    // ingress network can go.
    json unpublish = json::array({{{"op", "update"},
                                   {"kind", "service"},
                                   {"object", {{"name", "api"}, {"ports", json::array()}}}}});
    CHECK(error_of(n.patch(unpublish)) ==
          "endpoints[1].network | endpoints[1].network: network 'ingress' is not attached to "
          "service 'api' (its networks: web)");
    REQUIRE(ok_or_error(n.remove("endpoint", "api.1-ingress")) == "ok");
    REQUIRE(ok_or_error(n.patch(unpublish)) == "ok");
    CHECK(n.service("api").vips.count("ingress") == 0);
    CHECK(n.held("ingress").empty()); // the VIP and node1's ingress load balancer are free
    CHECK(ok_or_error(n.remove("network", "ingress")) == "ok");
}

TEST_CASE("networks and services in use are not removed; the error names who uses them",
          "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok");
    REQUIRE(ok_or_error(n.task("s.1", "s", "web", "node2")) == "ok");
    REQUIRE(ok_or_error(n.task("s.2", "s", "web", "node2")) == "ok");
    CHECK(error_of(n.remove("network", "web")) ==
          "ops[0] | ops[0]: network 'web' is in use by service(s): s and endpoint(s): s.1, s.2");
    // A service's tasks are the orchestrator's endpoints: vxmesh does not remove them with it.
    CHECK(error_of(n.remove("service", "s")) ==
          "ops[0] | ops[0]: service 's' has task(s): s.1, s.2; detach them first (they are the "
          "orchestrator's endpoints, vxmesh does not remove them)");
    REQUIRE(ok_or_error(n.remove("endpoint", "s.1")) == "ok");
    REQUIRE(ok_or_error(n.remove("endpoint", "s.2")) == "ok");
    CHECK(error_of(n.remove("network", "web")) ==
          "ops[0] | ops[0]: network 'web' is in use by service(s): s");
    REQUIRE(ok_or_error(n.remove("service", "s")) == "ok");
    CHECK(n.held("web").empty()); // VIP and load balancer freed
    CHECK(ok_or_error(n.remove("network", "web")) == "ok");

    // All at once: the last tasks, their node, their service and network in one patch (the
    // load balancers go with them).
    REQUIRE(ok_or_error(n.create({{"name", "db"}})) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("d", {"db"}))) == "ok");
    REQUIRE(ok_or_error(n.task("d.1", "d", "db", "node2")) == "ok");
    REQUIRE(n.load_balancers().size() == 1);
    json r = n.patch(json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", "d.1"}},
                                  {{"op", "remove"}, {"kind", "peer"}, {"name", "node2"}},
                                  {{"op", "remove"}, {"kind", "service"}, {"name", "d"}},
                                  {{"op", "remove"}, {"kind", "network"}, {"name", "db"}}}));
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(n.load_balancers().empty());
    CHECK(n.plane.desired.peers.empty());
}

TEST_CASE("a dnsrr service has no VIP; its tasks still get load balancers", "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    json r = n.add("service", service("rr", {"web"}, json::array(), "dnsrr"));
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"].count("allocated_vips") == 0);
    r = n.task("rr.1", "rr", "web", "node2");
    CHECK(r["result"]["allocated"][0]["ip"] == "10.0.0.2");
    CHECK(r["result"]["allocated_load_balancers"][0]["ip"] == "10.0.0.3");
    const auto j = control::network_inspect(n.plane.desired, n.plane.desired.networks[0], true,
                                            n.state.lb_indexes());
    CHECK(j["Services"]["rr"]["VIP"] == "<nil>"); // Docker's nil net.IP, printed
    // Switching to vip gives it one; back to dnsrr frees it.
    json to_vip = {{"name", "rr"}, {"endpoint_mode", "vip"}};
    r = n.patch(json::array({{{"op", "update"}, {"kind", "service"}, {"object", to_vip}}}));
    CHECK(r["result"]["allocated_vips"][0]["ip"] == "10.0.0.4");
    json to_rr = {{"name", "rr"}, {"endpoint_mode", "dnsrr"}};
    REQUIRE(ok_or_error(n.patch(json::array(
                {{{"op", "update"}, {"kind", "service"}, {"object", to_rr}}}))) == "ok");
    CHECK(n.service("rr").vips.empty());
    CHECK(n.held("web") == std::vector<std::string>{"10.0.0.2 rr.1", "10.0.0.3 lb-web@node2"});
}

TEST_CASE("network inspect -v: Docker's Services, and this node's load-balancer endpoint",
          "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "ingress"}, {"ingress", true}})) == "ok"); // 10.0.0.0
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");                        // 10.0.1.0
    REQUIRE(ok_or_error(n.add("service", service("front", {"web"}, json::parse(R"([
        {"published": 8080, "target": 80}, {"published": 8443, "target": 443},
        {"published": 5353, "target": 53, "protocol": "udp", "mode": "host"}])")))) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("back", {"web"}))) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("idle", {"web"}))) == "ok");
    REQUIRE(ok_or_error(n.task("front.1", "front", "web", "node1")) == "ok");
    REQUIRE(ok_or_error(n.task("front.1-ingress", "front", "ingress", "node1")) == "ok");
    REQUIRE(ok_or_error(n.task("back.1", "back", "web", "node2")) == "ok");
    REQUIRE(ok_or_error(n.task("front.2", "front", "web", "node2")) == "ok");

    // LocalLBIndex: libnetwork's fwMark, 256 for the first load balancer, then one more for
    // each (service, network) as its first task appears.
    CHECK(n.state.lb_indexes() == control::LbIndexes{{{"front", "web"}, 256},
                                                     {{"front", "ingress"}, 257},
                                                     {{"back", "web"}, 258}});

    const model::Network* web = control::find_network(n.plane.desired, "web");
    const auto j = control::network_inspect(n.plane.desired, *web, true, n.state.lb_indexes());
    CHECK(j["Containers"].dump(4) == R"({
    "front.1": {
        "Name": "front.1",
        "EndpointID": "front.1",
        "MacAddress": "02:42:0a:00:01:05",
        "IPv4Address": "10.0.1.5/24",
        "IPv6Address": ""
    },
    "lb-web": {
        "Name": "web-endpoint",
        "EndpointID": "lb-web",
        "MacAddress": "02:42:0a:00:01:06",
        "IPv4Address": "10.0.1.6/24",
        "IPv6Address": ""
    }
})");
    // Services with a task on the network, sorted by name; Ports only on ingress.
    CHECK(j["Services"].dump(4) == R"({
    "back": {
        "VIP": "10.0.1.3",
        "Ports": [],
        "LocalLBIndex": 258,
        "Tasks": [
            {
                "Name": "back.1",
                "EndpointID": "back.1",
                "EndpointIP": "10.0.1.7",
                "Info": {
                    "Host IP": "10.99.0.2"
                }
            }
        ]
    },
    "front": {
        "VIP": "10.0.1.2",
        "Ports": [],
        "LocalLBIndex": 256,
        "Tasks": [
            {
                "Name": "front.1",
                "EndpointID": "front.1",
                "EndpointIP": "10.0.1.5",
                "Info": {
                    "Host IP": "10.99.0.1"
                }
            },
            {
                "Name": "front.2",
                "EndpointID": "front.2",
                "EndpointIP": "10.0.1.9",
                "Info": {
                    "Host IP": "10.99.0.2"
                }
            }
        ]
    }
})");
    const model::Network* ingress = control::find_network(n.plane.desired, "ingress");
    const auto i = control::network_inspect(n.plane.desired, *ingress, true, n.state.lb_indexes());
    CHECK(i["Services"]["front"]["VIP"] == "10.0.0.2");
    CHECK(i["Services"]["front"]["Ports"] ==
          json::parse(R"(["Target: 80, Publish: 8080", "Target: 443, Publish: 8443"])"));
    CHECK(i["Services"]["front"]["LocalLBIndex"] == 257);
    CHECK(i["Containers"]["ingress-sbox"]["Name"] == "ingress-endpoint");
    CHECK(i["Containers"]["ingress-sbox"]["IPv4Address"] == "10.0.0.4/24");

    // The index goes with the last task, and a new first task takes the next one.
    REQUIRE(ok_or_error(n.remove("endpoint", "back.1")) == "ok");
    CHECK(n.state.lb_indexes().count({"back", "web"}) == 0);
    REQUIRE(ok_or_error(n.task("back.2", "back", "web", "node1")) == "ok");
    CHECK(n.state.lb_indexes().at({"back", "web"}) == 259);
    // `get` carries them for vxmeshctl.
    const json got = n.call(json{{"op", "get"}})["result"];
    CHECK(got["lb_index"] ==
          json::parse(R"({"back": {"web": 259}, "front": {"ingress": 257, "web": 256}})"));
    CHECK(got["desired"]["services"].size() == 3);
}

TEST_CASE("service inspect: Docker's keys, in Docker's order", "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "ingress"}, {"ingress", true}})) == "ok");
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("front", {"web"}, json::parse(R"([
        {"published": 8080, "target": 80, "protocol": "udp", "mode": "host"},
        {"published": 8443, "target": 443}])")))) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("rr", {"web"}, json::array(), "dnsrr"))) == "ok");
    const model::Service* front = control::find_service(n.plane.desired, "front");
    REQUIRE(front != nullptr);
    CHECK(control::service_inspect(n.plane.desired, *front).dump(4) == R"({
    "ID": "0000000000000000000000003",
    "CreatedAt": "2024-05-01T12:00:00.000000003Z",
    "Spec": {
        "Name": "front",
        "Labels": {},
        "TaskTemplate": {
            "Networks": [
                {
                    "Target": "0000000000000000000000002"
                }
            ]
        },
        "EndpointSpec": {
            "Mode": "vip",
            "Ports": [
                {
                    "Protocol": "udp",
                    "TargetPort": 80,
                    "PublishedPort": 8080,
                    "PublishMode": "host"
                },
                {
                    "Protocol": "tcp",
                    "TargetPort": 443,
                    "PublishedPort": 8443,
                    "PublishMode": "ingress"
                }
            ]
        }
    },
    "Endpoint": {
        "Spec": {
            "Mode": "vip",
            "Ports": [
                {
                    "Protocol": "udp",
                    "TargetPort": 80,
                    "PublishedPort": 8080,
                    "PublishMode": "host"
                },
                {
                    "Protocol": "tcp",
                    "TargetPort": 443,
                    "PublishedPort": 8443,
                    "PublishMode": "ingress"
                }
            ]
        },
        "Ports": [
            {
                "Protocol": "udp",
                "TargetPort": 80,
                "PublishedPort": 8080,
                "PublishMode": "host"
            },
            {
                "Protocol": "tcp",
                "TargetPort": 443,
                "PublishedPort": 8443,
                "PublishMode": "ingress"
            }
        ],
        "VirtualIPs": [
            {
                "NetworkID": "0000000000000000000000001",
                "Addr": "10.0.0.2/24"
            },
            {
                "NetworkID": "0000000000000000000000002",
                "Addr": "10.0.1.2/24"
            }
        ]
    }
})");
    // A dnsrr service without ports: no Ports, no VirtualIPs (Docker's omitempty).
    const auto rr =
        control::service_inspect(n.plane.desired, *control::find_service(n.plane.desired, "rr"));
    CHECK(rr["Endpoint"].dump() == R"({"Spec":{"Mode":"dnsrr"}})");
    // By name, full id or a unique id prefix.
    CHECK(control::find_service(n.plane.desired, "0000000000000000000000003") == front);
    CHECK(control::find_service(n.plane.desired, "00000000000000000000000") == nullptr);
    CHECK(control::find_service(n.plane.desired, "nosuch") == nullptr);
}

TEST_CASE("services, their VIPs, tasks and load balancers survive a restart", "[services][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    const std::string yaml = kNode + R"(networks:
  - name: web
    vni: 4097
    subnet: 10.0.1.0/24
services:
  - name: conf
    networks: [web]
)";
    std::string before;
    {
        Node n(yaml, settings(path));
        // The config file's service got its VIP at start-up, before anything else.
        CHECK(model::format_ipv4(n.service("conf").vips.at("web")) == "10.0.1.2");
        REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok");  // 10.0.1.3
        REQUIRE(ok_or_error(n.task("s.1", "s", "web", "node2")) == "ok");       // .4, lb .5
        REQUIRE(ok_or_error(n.task("conf.1", "conf", "web", "node1")) == "ok"); // .6, lb .7
        const json state = stored_state(path);
        CHECK(state["config_file_services"] == json::array({"conf"}));
        CHECK(state["services"].size() == 2);
        CHECK(state["load_balancers"].size() == 2);
        before = control::config_to_json(n.plane.desired).dump();
    }
    Node again(yaml, settings(path));
    // Everything as it was: ids, VIPs (the config file's service's too), tasks and load
    // balancers, in the same order.
    CHECK(control::config_to_json(again.plane.desired).dump() == before);
    CHECK(again.held("web") == std::vector<std::string>{"10.0.1.2 conf (VIP)", "10.0.1.3 s (VIP)",
                                                        "10.0.1.4 s.1", "10.0.1.5 lb-web@node2",
                                                        "10.0.1.6 conf.1",
                                                        "10.0.1.7 lb-web@node1"});
    // LocalLBIndex is in memory only, as Docker's: handed out from 256 again, in endpoint
    // order.
    CHECK(again.state.lb_indexes() ==
          control::LbIndexes{{{"s", "web"}, 256}, {{"conf", "web"}, 257}});

    // A config file that now gives the kept service's VIP to an endpoint: refused, naming
    // both (line 19 is the endpoint).
    const std::string clash =
        yaml + "endpoints:\n  - {name: x, network: web, ip: 10.0.1.3, node: node2}\n";
    REQUIRE_THROWS_WITH(
        Node(clash, settings(path)),
        "node1.yaml:22:5: endpoints[0]: endpoint 'x' conflicts with service 's' (endpoint mode "
        "vip, networks web, ports none) created over the control socket (state file " +
            path + "): both use IP 10.0.1.3 in network 'web' (the service's VIP)");
    // A config-file service with the kept one's name but another definition: refused too.
    const std::string renamed =
        yaml + "  - name: s\n    networks: [web]\n    endpoint_mode: dnsrr\n";
    REQUIRE_THROWS_WITH(
        Node(renamed, settings(path)),
        "node1.yaml:21:5: services[1]: service 's' conflicts with service 's' (endpoint mode vip, "
        "networks web, ports none) created over the control socket (state file " +
            path +
            "): same name, but the config file says endpoint mode dnsrr, networks web, "
            "ports none");
    // The same definition: the config file takes it over, with its VIP.
    Node adopted(yaml + "  - name: s\n    networks: [web]\n", settings(path));
    CHECK(model::format_ipv4(adopted.service("s").vips.at("web")) == "10.0.1.3");
    CHECK(json::parse(read_file(path))["config_file_services"] == json::array({"conf", "s"}));
}

TEST_CASE("after a restart, a service or load balancer created again is new, as Docker's",
          "[services][state]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    const std::string yaml = kNode + R"(networks:
  - name: web
    vni: 4097
    subnet: 10.0.1.0/24
)";
    std::string id, created;
    {
        Node n(yaml, settings(path));
        REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok"); // 10.0.1.2
        REQUIRE(ok_or_error(n.task("s.1", "s", "web", "node2")) == "ok");      // .3, lb .4
        id = n.service("s").id;
        created = n.service("s").created;
    }
    // New ids and times after the restart differ from those before it.
    control::StateSettings later = settings(path);
    later.new_id = [count = std::make_shared<int>(100)] {
        return fmt::format("{:0>25}", ++*count);
    };
    later.now = [] { return std::string("2024-06-01T12:00:00.000000000Z"); };
    Node n(yaml, later);
    REQUIRE(n.service("s").id == id); // the state file's service, as it was
    REQUIRE(n.load_balancers() == std::vector<std::string>{"lb-web@node2 10.0.1.4"});

    // IPAM's cursors are not persisted: after the restart the search starts from the
    // bottom. A task on node1 moves the cursor past node2's load balancer.
    REQUIRE(ok_or_error(n.task("s.2", "s", "web", "node1")) == "ok"); // .5, lb .6
    // node2's load balancer goes with its last task; with the next task there, a new one
    // gets the next address (freed addresses come back only after the cursor wraps).
    REQUIRE(ok_or_error(n.remove("endpoint", "s.1")) == "ok");
    REQUIRE(n.load_balancers() == std::vector<std::string>{"lb-web@node1 10.0.1.6"});
    REQUIRE(ok_or_error(n.task("s.3", "s", "web", "node2")) == "ok"); // .7
    CHECK(n.load_balancers() ==
          std::vector<std::string>{"lb-web@node1 10.0.1.6", "lb-web@node2 10.0.1.8"});

    // docker service rm, then create: a new id, CreatedAt and VIP.
    REQUIRE(ok_or_error(n.remove("endpoint", "s.2")) == "ok");
    REQUIRE(ok_or_error(n.remove("endpoint", "s.3")) == "ok");
    REQUIRE(ok_or_error(n.remove("service", "s")) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok");
    CHECK(n.service("s").id != id);
    CHECK(n.service("s").created != created);
    CHECK(model::format_ipv4(n.service("s").vips.at("web")) == "10.0.1.9");
}

TEST_CASE("apply and SIGHUP keep the VIPs and load balancers a document leaves out", "[services]") {
    const std::string yaml = kNode + R"(networks:
  - name: web
    vni: 4097
    subnet: 10.0.1.0/24
services:
  - name: conf
    networks: [web]
endpoints:
  - {name: conf.1, network: web, ip: 10.0.1.9, node: node2, service: conf}
)";
    Node n(yaml);
    CHECK(model::format_ipv4(n.service("conf").vips.at("web")) == "10.0.1.2");
    CHECK(n.load_balancers() == std::vector<std::string>{"lb-web@node2 10.0.1.3"});
    REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok"); // 10.0.1.4
    const json s_before = n.call(json{{"op", "get"}})["result"]["desired"]["services"][1];

    // apply of the config file as it is (no VIPs, no load balancers): same addresses, and
    // s, which the document leaves out, goes.
    json r = n.call(json{{"op", "apply"}, {"params", {{"config", yaml}}}});
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(r["result"]["changes"] ==
          json::parse(R"([{"action": "remove", "kind": "service", "name": "s"}])"));
    CHECK(model::format_ipv4(n.service("conf").vips.at("web")) == "10.0.1.2");
    CHECK(n.load_balancers() == std::vector<std::string>{"lb-web@node2 10.0.1.3"});
    // Added again without its VIP, it is a new service to IPAM: the next address, since
    // freed ones come back only after the serial cursor wraps. Its id is the one given.
    json again = s_before;
    again.erase("vips");
    r = n.add("service", again);
    REQUIRE(ok_or_error(r) == "ok");
    CHECK(model::format_ipv4(n.service("s").vips.at("web")) == "10.0.1.5");
    CHECK(n.service("s").id == s_before["id"]);

    // SIGHUP with the same file: nothing moves; s (from the socket) stays.
    CHECK(n.state.reload(n.plane, control::load_config_string(yaml, "node1.yaml")).empty());
    CHECK(model::format_ipv4(n.service("conf").vips.at("web")) == "10.0.1.2");
    CHECK(model::format_ipv4(n.service("s").vips.at("web")) == "10.0.1.5");
    CHECK(n.load_balancers() == std::vector<std::string>{"lb-web@node2 10.0.1.3"});
    CHECK(n.held("web") == std::vector<std::string>{"10.0.1.2 conf (VIP)", "10.0.1.3 lb-web@node2",
                                                    "10.0.1.5 s (VIP)", "10.0.1.9 conf.1"});
}

TEST_CASE("config/README.md's services example loads, and gets the VIPs it says", "[services]") {
    std::ifstream in(std::string(VXMESH_SOURCE_DIR) + "/config/README.md");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string doc = ss.str();
    const auto section = doc.find("## `services[]`");
    REQUIRE(section != std::string::npos);
    const auto start = doc.find("```yaml\n", section);
    REQUIRE(start != std::string::npos);
    const auto end = doc.find("```\n", start + 8);
    const std::string example = doc.substr(start + 8, end - start - 8);
    Node n(kNode + example);
    CHECK(model::format_ipv4(n.service("front").vips.at("web")) == "10.0.1.2");
    CHECK(model::format_ipv4(n.service("front").vips.at("ingress")) == "10.0.0.2");
    CHECK(n.service("db").vips.empty());
    CHECK(n.load_balancers() == std::vector<std::string>{"lb-web@node2 10.0.1.3"});
}

TEST_CASE("fields of the wrong type in a patch are reported by the loader, with their paths",
          "[services]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok"); // no ingress network
    CHECK(error_of(n.add(
              "network",
              {{"name", "x"}, {"vni", 5000}, {"subnet", "10.9.0.0/24"}, {"ingress", "yes"}})) ==
          "ops[0].object.ingress | ops[0].object.ingress: expected true or false, got the "
          "string 'yes'");
    CHECK(error_of(n.add("endpoint",
                         {{"name", "s.1"}, {"network", 7}, {"node", "node2"}, {"service", "s"}})) ==
          "ops[0].object.network | ops[0].object.network: expected a network name, got 7");
    CHECK(error_of(n.add("endpoint", {{"name", "s.1"}, {"node", "node2"}, {"service", "s"}})) ==
          "ops[0].object | ops[0].object: missing required field 'network'");
    CHECK(error_of(n.add("endpoint", {{"name", "s.1"},
                                      {"network", 7},
                                      {"ip", "10.0.0.9"},
                                      {"node", "node2"},
                                      {"service", "s"}})) ==
          "ops[0].object.network | ops[0].object.network: unknown network '7'");
    CHECK(error_of(n.add("service", service("s", {"web"}, json::parse(R"([
        {"published": 8080, "target": 80, "mode": 1}])")))) ==
          "ops[0].object.ports[0].mode | ops[0].object.ports[0].mode: expected ingress or host, "
          "got '1'");
    REQUIRE(ok_or_error(n.add("service", service("s", {"web"}))) == "ok");
    CHECK(error_of(n.patch(json::array(
              {{{"op", "update"},
                {"kind", "service"},
                {"object",
                 {{"name", "s"},
                  {"ports",
                   json::parse(R"([{"published": 8080, "target": 80, "mode": 1}])")}}}}}))) ==
          "ops[0].object.ports[0].mode | ops[0].object.ports[0].mode: expected ingress or host, "
          "got '1'");
    CHECK(error_of(n.patch(json::array({{{"op", "update"},
                                         {"kind", "service"},
                                         {"object", {{"name", "s"}, {"endpoint_mode", 2}}}}}))) ==
          "ops[0].object.endpoint_mode | ops[0].object.endpoint_mode: expected vip or dnsrr, got "
          "'2'");
    CHECK(error_of(n.patch(json::array({{{"op", "remove"}, {"kind", "network"}, {"name", 3}}}))) ==
          "ops[0].name | ops[0].name: expected the name of the network to remove");
    CHECK(n.held("web") == std::vector<std::string>{"10.0.0.2 s (VIP)"}); // nothing changed
}

TEST_CASE("network_inspect and service_inspect: what vxmeshctl prints, in Docker's order",
          "[services][rpc]") {
    Node n(kNode);
    REQUIRE(ok_or_error(n.create({{"name", "ingress"}, {"ingress", true}})) == "ok");
    REQUIRE(ok_or_error(n.create({{"name", "web"}})) == "ok");
    REQUIRE(ok_or_error(n.add("service", service("front", {"web"}, json::parse(R"([
        {"published": 8443, "target": 443}])")))) == "ok");
    REQUIRE(ok_or_error(n.attach("front.1", "web")) == "ok");
    const auto call = [&](const json& request) {
        return control::handle_request(n.plane, n.state, request.dump());
    };
    const model::Config& c = n.plane.desired;
    const model::Network& web = *control::find_network(c, "web");
    const model::Service& front = *control::find_service(c, "front");

    // The reply's result is the list, each element what the model library prints (keys in
    // Docker's order), in the order asked; by name or id.
    auto r = call({{"op", "network_inspect"},
                   {"params", {{"names", {"web", web.id}}, {"verbose", true}}},
                   {"id", 4}});
    INFO(r.dump());
    REQUIRE(r["ok"] == true);
    REQUIRE(r["result"].size() == 2);
    const std::string expected =
        control::network_inspect(c, web, true, n.state.lb_indexes()).dump();
    CHECK(r["result"][0].dump() == expected);
    CHECK(r["result"][1].dump() == expected);
    CHECK(r.dump().rfind(R"({"ok":true,"result":[{"Name":"web","Id":)", 0) == 0);
    CHECK(r["id"] == 4);
    r = call({{"op", "service_inspect"}, {"params", {{"names", {"front"}}}}});
    REQUIRE(r["ok"] == true);
    CHECK(r["result"][0].dump() == control::service_inspect(c, front).dump());

    // A name that matches nothing is an error naming it, with its index; so are bad params.
    r = call({{"op", "network_inspect"}, {"params", {{"names", {"web", "nosuch"}}}}});
    CHECK(r.dump() ==
          R"({"ok":false,"error":"No such network: nosuch","path":"names[1]","kind":"not_found"})");
    r = call({{"op", "service_inspect"}, {"params", {{"names", {"nosuch"}}}}});
    CHECK(r.dump() ==
          R"({"ok":false,"error":"no such service: nosuch","path":"names[0]","kind":"not_found"})");
    r = call({{"op", "service_inspect"}, {"params", json::object()}});
    CHECK(r["path"] == "names");
    r = call({{"op", "network_inspect"}, {"params", {{"names", {3}}}}});
    CHECK(r.dump() ==
          R"({"ok":false,"error":"names[0]: expected a string","path":"names[0]","kind":"type"})");
}
