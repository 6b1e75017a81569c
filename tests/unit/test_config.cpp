// Unit tests for the YAML configuration loader (control/config_load.cpp).
//
// Every bad case asserts the exact error text, "FILE:LINE:COLUMN: PATH: REASON", so a
// change in wording or position is a deliberate, visible change.
#include "control/config_load.hpp"
#include "control/model_json.hpp"

#include <catch2/catch.hpp>

#include <string>

using vxmesh::control::ConfigError;
using vxmesh::control::load_config_file;
using vxmesh::control::load_config_string;
using vxmesh::control::validate_config;
namespace model = vxmesh::model;

namespace {

// Line numbers in the expectations below refer to this text (line 1 is "node:").
const std::string kBase = R"(node:
  name: node1
  data_path_addr: 10.99.0.1/24
  underlay:
    device: net_af_packet0,iface=ul
ports:
  - name: c1
    device: net_af_packet1,iface=c1
  - name: c2
    device: net_af_packet2,iface=c2
networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
  - name: red
    vni: 4098
    subnet: 10.0.2.0/24
peers:
  - name: node2
    address: 10.99.0.2
endpoints:
  - name: n1c1
    network: blue
    ip: 10.0.1.2
    node: node1
    port: c1
  - name: n2c1
    network: blue
    ip: 10.0.1.3
    node: node2
  - name: n1c2
    network: red
    ip: 10.0.2.2
    mac: 02:00:00:00:02:02
    node: node1
    port: c2
)";

// `text` with the single occurrence of `from` replaced by `to`.
std::string with(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(text.find(from, at + 1) == std::string::npos);
    text.replace(at, from.size(), to);
    return text;
}

// The ConfigError message loading `text` as "t.yaml" produces, or "" if it loads.
std::string error_of(const std::string& text) {
    try {
        (void)load_config_string(text, "t.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

model::Ipv4 ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return model::Ipv4{uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d};
}

model::Mac mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
    return model::Mac{{a, b, c, d, e, f}};
}

} // namespace

TEST_CASE("a good config loads with its values and defaults", "[config]") {
    const model::Config c = load_config_string(kBase, "t.yaml");

    CHECK(c.node.name == "node1");
    CHECK(c.node.data_path_addr == ip(10, 99, 0, 1));
    CHECK(c.node.prefix_length == 24);
    CHECK_FALSE(c.node.gateway.has_value());
    CHECK(c.node.underlay.device == "net_af_packet0,iface=ul");
    CHECK_FALSE(c.node.underlay.mac.has_value());
    CHECK(c.node.vxlan_port == 4789);
    CHECK(c.node.ttl == 64);
    CHECK(c.node.dont_fragment);
    CHECK_FALSE(c.node.accept_unknown_peers); // only configured peers are heard
    CHECK(c.node.origin.file == "t.yaml");
    CHECK(c.node.origin.line == 2);
    CHECK(c.node.origin.column == 3);

    REQUIRE(c.ports.size() == 2);
    CHECK(c.ports[0].name == "c1");
    CHECK(c.ports[0].device == "net_af_packet1,iface=c1");
    CHECK(c.ports[1].name == "c2");
    CHECK(c.ports[1].origin.line == 9);
    CHECK(c.ports[1].origin.column == 5);

    REQUIRE(c.networks.size() == 2);
    CHECK(c.networks[0].name == "blue");
    CHECK(c.networks[0].vni == 4097);
    CHECK(c.networks[0].subnet == model::Ipv4Prefix{ip(10, 0, 1, 0), 24});
    CHECK(c.networks[0].gateway == ip(10, 0, 1, 1)); // first host address
    CHECK(c.networks[0].mtu == 1450);
    CHECK(c.networks[1].vni == 4098);
    CHECK(c.networks[1].gateway == ip(10, 0, 2, 1));

    REQUIRE(c.peers.size() == 1);
    CHECK(c.peers[0].name == "node2");
    CHECK(c.peers[0].address == ip(10, 99, 0, 2));

    REQUIRE(c.endpoints.size() == 3);
    CHECK(c.endpoints[0].name == "n1c1");
    CHECK(c.endpoints[0].network == "blue");
    CHECK(c.endpoints[0].ip == ip(10, 0, 1, 2));
    CHECK(c.endpoints[0].mac == mac(0x02, 0x42, 10, 0, 1, 2)); // Docker's rule
    CHECK(c.endpoints[0].node == "node1");
    CHECK(c.endpoints[0].port == "c1");
    CHECK(c.endpoints[1].mac == mac(0x02, 0x42, 10, 0, 1, 3));
    CHECK(c.endpoints[1].node == "node2");
    CHECK(c.endpoints[1].port.empty());
    CHECK(c.endpoints[2].mac == mac(0x02, 0, 0, 0, 2, 2)); // given explicitly
    CHECK(c.endpoints[2].origin.line == 31);
    CHECK(c.endpoints[2].origin.column == 5);

    CHECK_NOTHROW(validate_config(c));
}

TEST_CASE("every optional field can be set", "[config]") {
    const std::string text = R"(node:
  name: node-1.a_b
  data_path_addr: 10.99.0.1/16
  gateway: 10.99.255.254
  underlay:
    device: 0000:03:00.0
    mac: 02:AA:bb:00:01:01
  vxlan_port: 8472
  ttl: 255
  dont_fragment: false
  accept_unknown_peers: true
ports: []
networks:
  - name: blue
    vni: 16777215
    subnet: 10.0.1.0/30
    gateway: 10.0.1.2
    mtu: 9000
  - name: red
    vni: 1
    subnet: 172.16.0.0/12
    mtu: 576
peers:
  - name: far
    address: 10.98.0.2
endpoints:
  - name: e1
    network: blue
    ip: 10.0.1.1
    node: far
)";
    const model::Config c = load_config_string(text, "t.yaml");
    CHECK(c.node.name == "node-1.a_b");
    CHECK(c.node.prefix_length == 16);
    CHECK(c.node.gateway == ip(10, 99, 255, 254));
    CHECK(c.node.underlay.device == "0000:03:00.0");
    CHECK(c.node.underlay.mac == mac(0x02, 0xaa, 0xbb, 0, 1, 1));
    CHECK(c.node.vxlan_port == 8472);
    CHECK(c.node.ttl == 255);
    CHECK_FALSE(c.node.dont_fragment);
    CHECK(c.node.accept_unknown_peers);
    CHECK(c.ports.empty());
    CHECK(c.networks[0].vni == 16777215);
    CHECK(c.networks[0].gateway == ip(10, 0, 1, 2));
    CHECK(c.networks[0].mtu == 9000);
    CHECK(c.networks[1].subnet == model::Ipv4Prefix{ip(172, 16, 0, 0), 12});
    CHECK(c.networks[1].mtu == 576);
    CHECK(c.endpoints[0].ip == ip(10, 0, 1, 1)); // allowed: the gateway is .2 here
}

TEST_CASE("data_path_addr defaults to /24 and lists may be absent", "[config]") {
    const model::Config c = load_config_string(R"(node:
  name: solo
  data_path_addr: 10.99.0.1
  underlay:
    device: net_tap0
ports:
)",
                                               "t.yaml");
    CHECK(c.node.prefix_length == 24);
    CHECK(c.ports.empty());
    CHECK(c.networks.empty());
    CHECK(c.peers.empty());
    CHECK(c.endpoints.empty());
}

TEST_CASE("the example configs load", "[config]") {
    const std::string dir = std::string(VXMESH_SOURCE_DIR) + "/config/";
    const model::Config n1 = load_config_file(dir + "example-node1.yaml");
    const model::Config n2 = load_config_file(dir + "example-node2.yaml");

    CHECK(n1.node.name == "node1");
    CHECK(n1.node.data_path_addr == ip(10, 99, 0, 1));
    CHECK(n2.node.name == "node2");
    CHECK(n2.node.data_path_addr == ip(10, 99, 0, 2));
    for (const model::Config* c : {&n1, &n2}) {
        REQUIRE(c->networks.size() == 2);
        CHECK(c->networks[0].name == "blue");
        CHECK(c->networks[0].vni == 4097);
        CHECK(c->networks[0].subnet == model::Ipv4Prefix{ip(10, 0, 1, 0), 24});
        CHECK(c->networks[1].name == "red");
        CHECK(c->networks[1].vni == 4098);
        CHECK(c->networks[1].subnet == model::Ipv4Prefix{ip(10, 0, 2, 0), 24});
        REQUIRE(c->peers.size() == 1);
        CHECK(c->ports.size() == 2);
        CHECK(c->endpoints.size() == 4);
    }
    CHECK(n1.peers[0].address == n2.node.data_path_addr);
    CHECK(n2.peers[0].address == n1.node.data_path_addr);
    CHECK(n1.endpoints[0].origin.file == dir + "example-node1.yaml");
}

TEST_CASE("file errors", "[config]") {
    CHECK_THROWS_WITH(load_config_file("/nonexistent/vxmesh.yaml"),
                      "/nonexistent/vxmesh.yaml: cannot read: No such file or directory");
    CHECK_THROWS_WITH(load_config_file("/"), "/: cannot read: Is a directory");
}

// Found by tools/fuzz yaml (tests/fuzz/regression/yaml/lone_comma_hang): yaml-cpp's
// LoadAll never returned on a lone flow separator, allocating until out of memory; an
// `apply` over the control socket could send it. The loader answers it in bounded time.
TEST_CASE("YAML: a lone ',' is an error, not a hang", "[config]") {
    CHECK(error_of(",") == "t.yaml:1:1: the configuration is empty; expected a mapping");
    CHECK(error_of(kBase + ",\n").rfind("t.yaml:", 0) == 0);
}

TEST_CASE("YAML-level errors", "[config]") {
    CHECK(error_of("") == "t.yaml:1:1: the configuration is empty; expected a mapping");
    CHECK(error_of("# only a comment\n") ==
          "t.yaml:1:1: the configuration is empty; expected a mapping");
    CHECK(error_of("- a\n- b\n") == "t.yaml:1:1: expected a mapping at the top level, got a list");
    CHECK(error_of("hello\n") == "t.yaml:1:1: expected a mapping at the top level, got 'hello'");
    CHECK(error_of(kBase + "---\nnode: {}\n") ==
          "t.yaml:38:1: more than one YAML document; expected exactly one");

    SECTION("syntax error") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: [4098\n")) ==
              "t.yaml:17:11: syntax error: end of sequence flow not found");
        CHECK(error_of(with(kBase, "  name: node1\n", "  name: node1: x\n")) ==
              "t.yaml:2:14: syntax error: illegal map value");
    }
    SECTION("unknown field") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vnii: 4098\n")) ==
              "t.yaml:16:5: networks[1]: unknown field 'vnii'");
        CHECK(error_of(kBase + "extra: 1\n") == "t.yaml:37:1: unknown field 'extra'");
        CHECK(error_of(with(kBase, "    device: net_af_packet0,iface=ul\n",
                            "    device: net_af_packet0,iface=ul\n    speed: 10\n")) ==
              "t.yaml:6:5: node.underlay: unknown field 'speed'");
    }
    SECTION("duplicate field") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: 4098\n    vni: 4099\n")) ==
              "t.yaml:17:5: networks[1]: duplicate field 'vni' (first at line 16)");
    }
    SECTION("missing field") {
        CHECK(error_of(with(kBase, "  name: node1\n", "")) ==
              "t.yaml:2:3: node: missing required field 'name'");
        CHECK(error_of(with(kBase, "    subnet: 10.0.2.0/24\n", "")) ==
              "t.yaml:15:5: networks[1]: missing required field 'subnet'");
        CHECK(error_of(with(kBase, "    device: net_af_packet0,iface=ul\n", "    {}\n")) ==
              "t.yaml:5:5: node.underlay: missing required field 'device'");
        CHECK(error_of("ports: []\n") == "t.yaml:1:1: missing required field 'node'");
        CHECK(error_of(with(kBase, "    ip: 10.0.1.3\n", "    ip:\n")) ==
              "t.yaml:29:5: endpoints[1].ip: missing value");
    }
    SECTION("wrong type") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: red\n")) ==
              "t.yaml:16:10: networks[1].vni: expected an integer, got 'red'");
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: \"4098\"\n")) ==
              "t.yaml:16:10: networks[1].vni: expected an integer, got the string '4098'");
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: 4098.0\n")) ==
              "t.yaml:16:10: networks[1].vni: expected an integer, got '4098.0'");
        CHECK(error_of(with(kBase, "  name: node1\n", "  name: [node1]\n")) ==
              "t.yaml:2:9: node.name: expected a string, got a list");
        CHECK(error_of(with(kBase, "peers:\n  - name: node2\n    address: 10.99.0.2\n",
                            "peers:\n  node2: 10.99.0.2\n")) ==
              "t.yaml:19:3: peers: expected a list, got a mapping");
        CHECK(error_of(with(kBase, "  - name: c2\n    device: net_af_packet2,iface=c2\n",
                            "  - c2\n")) == "t.yaml:9:5: ports[1]: expected a mapping, got 'c2'");
        CHECK(error_of(with(kBase, "    device: net_af_packet0,iface=ul\n",
                            "    device: net_af_packet0,iface=ul\n  dont_fragment: yes\n")) ==
              "t.yaml:6:18: node.dont_fragment: expected true or false, got 'yes'");
        CHECK(error_of(with(kBase, "    device: net_af_packet0,iface=ul\n",
                            "    device: net_af_packet0,iface=ul\n  accept_unknown_peers: 1\n")) ==
              "t.yaml:6:25: node.accept_unknown_peers: expected true or false, got '1'");
    }
}

TEST_CASE("node errors", "[config]") {
    CHECK(error_of(with(kBase, "  name: node1\n", "  name: node 1\n")) ==
          "t.yaml:2:9: node.name: 'node 1' is not a valid name (1..63 of A-Z a-z 0-9 _ . -)");
    CHECK(error_of(with(kBase, "  name: node1\n", "  name: " + std::string(64, 'n') + "\n")) ==
          "t.yaml:2:9: node.name: '" + std::string(48, 'n') +
              "...' is not a valid name (1..63 of A-Z a-z 0-9 _ . -)");

    SECTION("bad IPv4") {
        const auto bad = [](const std::string& addr) {
            return error_of(with(kBase, "    address: 10.99.0.2\n", "    address: " + addr + "\n"));
        };
        const std::string prefix = "t.yaml:20:14: peers[0].address: ";
        CHECK(bad("10.99.0.256") == prefix + "'10.99.0.256' is not a valid IPv4 address");
        CHECK(bad("10.99.0") == prefix + "'10.99.0' is not a valid IPv4 address");
        CHECK(bad("10.99.0.2.1") == prefix + "'10.99.0.2.1' is not a valid IPv4 address");
        CHECK(bad("10.99.0.2x") == prefix + "'10.99.0.2x' is not a valid IPv4 address");
        CHECK(bad("+10.99.0.2") == prefix + "'+10.99.0.2' is not a valid IPv4 address");
        CHECK(bad("10.99.0.-2") == prefix + "'10.99.0.-2' is not a valid IPv4 address");
        CHECK(bad("10.99.0.02") == prefix + "'10.99.0.02' is not a valid IPv4 address");
        CHECK(bad("10.99.0.2/24") == prefix + "'10.99.0.2/24' is not a valid IPv4 address");
        CHECK(bad("10..0.2") == prefix + "'10..0.2' is not a valid IPv4 address");
        CHECK(bad("0x0a.99.0.2") == prefix + "'0x0a.99.0.2' is not a valid IPv4 address");
        CHECK(bad("\"10.99.0.2 \"") == prefix + "'10.99.0.2 ' is not a valid IPv4 address");

        CHECK(error_of(with(kBase, "10.99.0.1/24", "10.99.0.1/")) ==
              "t.yaml:3:19: node.data_path_addr: '10.99.0.1/' is not a valid IPv4 address "
              "(a.b.c.d[/len])");
        CHECK(error_of(with(kBase, "10.99.0.1/24", "10.99.0.1/33")) ==
              "t.yaml:3:19: node.data_path_addr: prefix length 33 is out of range 8..31");
        CHECK(error_of(with(kBase, "10.99.0.1/24", "10.99.0.0/24")) ==
              "t.yaml:3:19: node.data_path_addr: 10.99.0.0 is the network address of "
              "10.99.0.0/24");
        CHECK(error_of(with(kBase, "10.99.0.1/24", "127.0.0.1/24")) ==
              "t.yaml:3:19: node.data_path_addr: 127.0.0.1 is not a unicast host address");
    }
    SECTION("gateway outside prefix") {
        const auto gw = [](const std::string& addr) {
            return error_of(
                with(kBase, "10.99.0.1/24\n", "10.99.0.1/24\n  gateway: " + addr + "\n"));
        };
        CHECK(gw("10.98.0.254") ==
              "t.yaml:4:12: node.gateway: 10.98.0.254 is outside node.data_path_addr 10.99.0.1/24");
        CHECK(gw("10.99.0.1") ==
              "t.yaml:4:12: node.gateway: 10.99.0.1 is node.data_path_addr itself");
        CHECK(gw("10.99.0.255") ==
              "t.yaml:4:12: node.gateway: 10.99.0.255 is the broadcast address of 10.99.0.0/24");
        CHECK(gw("10.99.0.254").empty());
    }
    SECTION("bad MAC") {
        const auto bad = [](const std::string& m) {
            return error_of(with(kBase, "    device: net_af_packet0,iface=ul\n",
                                 "    device: net_af_packet0,iface=ul\n    mac: " + m + "\n"));
        };
        const std::string prefix = "t.yaml:6:10: node.underlay.mac: ";
        const std::string rule = " is not a valid MAC address (six hex pairs separated by ':')";
        CHECK(bad("02:00:00:00:01") == prefix + "'02:00:00:00:01'" + rule);
        CHECK(bad("02-00-00-00-01-01") == prefix + "'02-00-00-00-01-01'" + rule);
        CHECK(bad("02:00:00:00:01:0g") == prefix + "'02:00:00:00:01:0g'" + rule);
        CHECK(bad("2:0:0:0:1:1") == prefix + "'2:0:0:0:1:1'" + rule);
        CHECK(bad("\"02:00:00:00:01:01:\"") == prefix + "'02:00:00:00:01:01:'" + rule);
        CHECK(bad("01:00:5e:00:00:01") == prefix + "01:00:5e:00:00:01 is a multicast MAC address");
        CHECK(bad("00:00:00:00:00:00") == prefix + "00:00:00:00:00:00 is not a valid MAC address");
        CHECK(bad("02:00:00:00:01:01").empty());
    }
    SECTION("range") {
        CHECK(error_of(with(kBase, "iface=ul\n", "iface=ul\n  vxlan_port: 0\n")) ==
              "t.yaml:6:15: node.vxlan_port: 0 is out of range 1..65535");
        CHECK(error_of(with(kBase, "iface=ul\n", "iface=ul\n  ttl: 256\n")) ==
              "t.yaml:6:8: node.ttl: 256 is out of range 1..255");
        CHECK(error_of(with(kBase, "iface=ul\n", "iface=ul\n  ttl: -1\n")) ==
              "t.yaml:6:8: node.ttl: -1 is out of range 1..255");
        CHECK(error_of(with(kBase, "iface=ul\n", "iface=ul\n  ttl: 99999999999999999999999\n")) ==
              "t.yaml:6:8: node.ttl: 99999999999999999999999 is out of range 1..255");
    }
    SECTION("devices") {
        CHECK(error_of(with(kBase, "net_af_packet0,iface=ul", "eth0")) ==
              "t.yaml:5:13: node.underlay.device: 'eth0' is not a DPDK device (a PCI address like "
              "0000:03:00.0, or a vdev like net_af_packet0,iface=eth0)");
        CHECK(error_of(with(kBase, "net_af_packet2,iface=c2", "net_af_packet1,iface=c2")) ==
              "t.yaml:10:13: ports[1].device: device 'net_af_packet1' duplicates ports[0].device");
        CHECK(error_of(with(kBase, "net_af_packet1,iface=c1", "net_af_packet0,iface=c1")) ==
              "t.yaml:8:13: ports[0].device: device 'net_af_packet0' duplicates "
              "node.underlay.device");
        CHECK(error_of(with(with(kBase, "net_af_packet0,iface=ul", "03:00.0"),
                            "net_af_packet1,iface=c1", "0000:03:00.0,foo=1")) ==
              "t.yaml:8:13: ports[0].device: device '0000:03:00.0' duplicates "
              "node.underlay.device");
        CHECK(error_of(with(kBase, "  - name: c2\n", "  - name: c1\n")) ==
              "t.yaml:9:11: ports[1].name: 'c1' duplicates ports[0].name");
    }
}

TEST_CASE("network errors", "[config]") {
    SECTION("out-of-range VNI") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: 16777216\n")) ==
              "t.yaml:16:10: networks[1].vni: 16777216 is out of range 1..16777215");
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: 0\n")) ==
              "t.yaml:16:10: networks[1].vni: 0 is out of range 1..16777215");
    }
    SECTION("duplicate VNI") {
        CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: 4097\n")) ==
              "t.yaml:16:10: networks[1].vni: 4097 duplicates networks[0].vni");
    }
    SECTION("duplicate name") {
        CHECK(error_of(with(kBase, "  - name: red\n", "  - name: blue\n")) ==
              "t.yaml:15:11: networks[1].name: 'blue' duplicates networks[0].name");
    }
    SECTION("overlapping subnets") {
        CHECK(error_of(with(kBase, "10.0.2.0/24", "10.0.1.0/25")) ==
              "t.yaml:17:13: networks[1].subnet: 10.0.1.0/25 overlaps networks[0].subnet "
              "10.0.1.0/24");
        CHECK(error_of(with(kBase, "10.0.2.0/24", "10.0.0.0/16")) ==
              "t.yaml:17:13: networks[1].subnet: 10.0.0.0/16 overlaps networks[0].subnet "
              "10.0.1.0/24");
    }
    SECTION("subnet shape") {
        CHECK(error_of(with(kBase, "10.0.2.0/24", "10.0.2.1/24")) ==
              "t.yaml:17:13: networks[1].subnet: 10.0.2.1/24 has host bits set (did you mean "
              "10.0.2.0/24?)");
        CHECK(error_of(with(kBase, "10.0.2.0/24", "10.0.2.0/31")) ==
              "t.yaml:17:13: networks[1].subnet: prefix length 31 is out of range 8..30");
        CHECK(error_of(with(kBase, "10.0.2.0/24", "10.0.2.0")) ==
              "t.yaml:17:13: networks[1].subnet: '10.0.2.0' is not a valid IPv4 prefix "
              "(a.b.c.d/len)");
        CHECK(error_of(with(kBase, "10.0.2.0/24", "224.0.2.0/24")) ==
              "t.yaml:17:13: networks[1].subnet: 224.0.2.0/24 is not a unicast address range");
    }
    SECTION("gateway") {
        CHECK(error_of(with(kBase, "10.0.2.0/24\n", "10.0.2.0/24\n    gateway: 10.0.3.1\n")) ==
              "t.yaml:18:14: networks[1].gateway: 10.0.3.1 is outside subnet 10.0.2.0/24");
        CHECK(error_of(with(kBase, "10.0.2.0/24\n", "10.0.2.0/24\n    gateway: 10.0.2.0\n")) ==
              "t.yaml:18:14: networks[1].gateway: 10.0.2.0 is the network address of 10.0.2.0/24");
    }
    SECTION("mtu") {
        CHECK(error_of(with(kBase, "10.0.2.0/24\n", "10.0.2.0/24\n    mtu: 9001\n")) ==
              "t.yaml:18:10: networks[1].mtu: 9001 is out of range 576..9000");
    }
}

TEST_CASE("peer errors", "[config]") {
    SECTION("peer equal to own address") {
        CHECK(error_of(with(kBase, "    address: 10.99.0.2\n", "    address: 10.99.0.1\n")) ==
              "t.yaml:20:14: peers[0].address: 10.99.0.1 is this node's own address "
              "(node.data_path_addr)");
    }
    SECTION("peer with own name") {
        CHECK(error_of(with(kBase, "  - name: node2\n", "  - name: node1\n")) ==
              "t.yaml:19:11: peers[0].name: 'node1' is this node's own name (node.name)");
    }
    SECTION("duplicate peer address") {
        CHECK(error_of(with(kBase, "    address: 10.99.0.2\n",
                            "    address: 10.99.0.2\n  - name: node3\n    address: 10.99.0.2\n")) ==
              "t.yaml:22:14: peers[1].address: 10.99.0.2 duplicates peers[0].address");
    }
    SECTION("off-link peer needs a gateway") {
        CHECK(error_of(with(kBase, "    address: 10.99.0.2\n", "    address: 10.98.0.2\n")) ==
              "t.yaml:20:14: peers[0].address: 10.98.0.2 is outside node.data_path_addr "
              "10.99.0.1/24 and node.gateway is not set");
    }
}

TEST_CASE("endpoint errors", "[config]") {
    SECTION("endpoint outside subnet") {
        CHECK(error_of(with(kBase, "    ip: 10.0.1.2\n", "    ip: 10.0.2.5\n")) ==
              "t.yaml:24:9: endpoints[0].ip: 10.0.2.5 is outside subnet 10.0.1.0/24 of network "
              "'blue'");
    }
    SECTION("reserved addresses") {
        CHECK(error_of(with(kBase, "    ip: 10.0.1.2\n", "    ip: 10.0.1.1\n")) ==
              "t.yaml:24:9: endpoints[0].ip: 10.0.1.1 is the gateway of network 'blue'");
        CHECK(error_of(with(kBase, "    ip: 10.0.1.2\n", "    ip: 10.0.1.255\n")) ==
              "t.yaml:24:9: endpoints[0].ip: 10.0.1.255 is the broadcast address of 10.0.1.0/24");
    }
    SECTION("unknown network") {
        CHECK(error_of(with(kBase, "    network: red\n", "    network: green\n")) ==
              "t.yaml:32:14: endpoints[2].network: unknown network 'green'");
    }
    SECTION("unknown node") {
        CHECK(error_of(with(kBase, "    node: node2\n", "    node: node3\n")) ==
              "t.yaml:30:11: endpoints[1].node: unknown node 'node3'");
    }
    SECTION("unknown port") {
        CHECK(error_of(with(kBase, "    port: c1\n", "    port: c9\n")) ==
              "t.yaml:26:11: endpoints[0].port: unknown port 'c9'");
    }
    SECTION("local endpoint without port") {
        CHECK(error_of(with(kBase, "    port: c1\n", "")) ==
              "t.yaml:22:5: endpoints[0]: missing required field 'port' (required for an "
              "endpoint on this node)");
    }
    SECTION("remote endpoint with port") {
        CHECK(error_of(with(kBase, "    node: node2\n", "    node: node2\n    port: c1\n")) ==
              "t.yaml:31:11: endpoints[1].port: not allowed on a remote endpoint (node 'node2' "
              "is a peer)");
    }
    SECTION("duplicate IP in network") {
        CHECK(error_of(with(kBase, "    ip: 10.0.1.3\n", "    ip: 10.0.1.2\n")) ==
              "t.yaml:29:9: endpoints[1].ip: 10.0.1.2 duplicates endpoints[0].ip in network "
              "'blue'");
    }
    SECTION("duplicate MAC in network") {
        // n2c1's explicit MAC is n1c1's default one.
        CHECK(error_of(with(kBase, "    ip: 10.0.1.3\n",
                            "    ip: 10.0.1.3\n    mac: 02:42:0A:00:01:02\n")) ==
              "t.yaml:30:10: endpoints[1].mac: 02:42:0a:00:01:02 duplicates endpoints[0].mac in "
              "network 'blue'");
        // The same MAC in another network is fine...
        CHECK(error_of(with(kBase, "02:00:00:00:02:02", "02:42:0a:00:01:02")).empty());
        // ...unless both endpoints are on the same local port.
        CHECK(error_of(with(with(kBase, "02:00:00:00:02:02", "02:42:0a:00:01:02"), "    port: c2\n",
                            "    port: c1\n")) ==
              "t.yaml:34:10: endpoints[2].mac: 02:42:0a:00:01:02 duplicates endpoints[0].mac on "
              "port 'c1'");
    }
    SECTION("bad MAC") {
        CHECK(error_of(with(kBase, "02:00:00:00:02:02", "03:00:00:00:02:02")) ==
              "t.yaml:34:10: endpoints[2].mac: 03:00:00:00:02:02 is a multicast MAC address");
    }
    SECTION("duplicate endpoint name") {
        CHECK(error_of(with(kBase, "  - name: n1c2\n", "  - name: n1c1\n")) ==
              "t.yaml:31:11: endpoints[2].name: 'n1c1' duplicates endpoints[0].name");
    }
}

TEST_CASE("validate_config on a config built in code", "[config]") {
    model::Config c = load_config_string(kBase, "t.yaml");
    CHECK_NOTHROW(validate_config(c));

    // Without the loader's per-field positions, errors point at the object's mapping.
    c.networks[1].vni = 4097;
    CHECK_THROWS_WITH(validate_config(c), "t.yaml:15:5: networks[1].vni: 4097 duplicates "
                                          "networks[0].vni");
    c.networks[1].vni = 4098;

    // Objects without an origin are reported by path alone.
    model::Peer p;
    p.name = "node3";
    p.address = ip(10, 99, 0, 2);
    c.peers.push_back(p);
    CHECK_THROWS_WITH(validate_config(c),
                      "peers[1].address: 10.99.0.2 duplicates peers[0].address");
    c.peers.back().origin.file = "api";
    CHECK_THROWS_WITH(validate_config(c),
                      "api: peers[1].address: 10.99.0.2 duplicates peers[0].address");
    c.peers.pop_back();

    c.endpoints[0].mac = model::Mac{};
    CHECK_THROWS_WITH(
        validate_config(c),
        "t.yaml:22:5: endpoints[0].mac: 00:00:00:00:00:00 is not a valid MAC address");
}

// ---------------------------------------------------------------------------------------
// Docker's network metadata (id, created, flags, labels, ip_range)

TEST_CASE("network metadata fields load, all optional", "[config]") {
    const model::Config plain = load_config_string(kBase, "t.yaml");
    const model::Network& blue = plain.networks[0];
    CHECK(blue.id.empty());
    CHECK(blue.created.empty());
    CHECK_FALSE(blue.ip_range.has_value());
    CHECK_FALSE(blue.internal);
    CHECK_FALSE(blue.attachable);
    CHECK_FALSE(blue.ingress);
    CHECK_FALSE(blue.encrypted);
    CHECK(blue.labels.empty());

    const std::string text = with(kBase, "    subnet: 10.0.2.0/24\n", R"(    subnet: 10.0.2.0/24
    ip_range: 10.0.2.128/25
    id: 0123456789abcdefghijklmno
    created: 2024-02-29T23:59:60.123456789Z
    internal: true
    attachable: true
    ingress: true
    encrypted: true
    labels:
      com.example.team: "blue team"
      empty: ""
)");
    const model::Config c = load_config_string(text, "t.yaml");
    const model::Network& red = c.networks[1];
    CHECK(red.ip_range == model::Ipv4Prefix{ip(10, 0, 2, 128), 25});
    CHECK(red.gateway == ip(10, 0, 2, 1)); // still the subnet's first host
    CHECK(red.id == "0123456789abcdefghijklmno");
    CHECK(red.created == "2024-02-29T23:59:60.123456789Z");
    CHECK(red.internal);
    CHECK(red.attachable);
    CHECK(red.ingress);
    CHECK(red.encrypted);
    CHECK(red.mtu == 1424); // encrypted: Docker's default leaves room for ESP
    CHECK(red.labels ==
          std::map<std::string, std::string>{{"com.example.team", "blue team"}, {"empty", ""}});

    // An explicit mtu wins over the encrypted default.
    const model::Config m = load_config_string(with(kBase, "    subnet: 10.0.2.0/24\n",
                                                    "    subnet: 10.0.2.0/24\n    encrypted: true\n"
                                                    "    mtu: 1400\n"),
                                               "t.yaml");
    CHECK(m.networks[1].mtu == 1400);

    // Other RFC 3339 forms.
    for (const char* t :
         {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00", "1999-12-31T23:59:59-11:30"}) {
        CAPTURE(t);
        CHECK(error_of(with(kBase, "    subnet: 10.0.2.0/24\n",
                            std::string("    subnet: 10.0.2.0/24\n    created: \"") + t +
                                "\"\n")) == "");
    }
}

TEST_CASE("network metadata errors", "[config]") {
    auto red_with = [](const std::string& lines) {
        return error_of(
            with(kBase, "    subnet: 10.0.2.0/24\n", "    subnet: 10.0.2.0/24\n" + lines));
    };
    SECTION("ip_range") {
        CHECK(red_with("    ip_range: 10.0.2.5/25\n") ==
              "t.yaml:18:15: networks[1].ip_range: 10.0.2.5/25 has host bits set (did you mean "
              "10.0.2.0/25?)");
        CHECK(red_with("    ip_range: 10.0.3.0/25\n") ==
              "t.yaml:18:15: networks[1].ip_range: 10.0.3.0/25 is outside subnet 10.0.2.0/24");
        CHECK(red_with("    ip_range: 10.0.0.0/16\n") ==
              "t.yaml:18:15: networks[1].ip_range: 10.0.0.0/16 is larger than subnet "
              "10.0.2.0/24");
        CHECK(red_with("    ip_range: 10.0.2.0/33\n") ==
              "t.yaml:18:15: networks[1].ip_range: prefix length 33 is out of range 24..32");
        CHECK(red_with("    ip_range: 10.0.2.0\n") ==
              "t.yaml:18:15: networks[1].ip_range: '10.0.2.0' is not a valid IPv4 prefix "
              "(a.b.c.d/len)");
        CHECK(red_with("    ip_range: 10.0.2.0/24\n") == ""); // the whole subnet is fine
        CHECK(red_with("    ip_range: 10.0.2.7/32\n") == "");
    }
    SECTION("id") {
        CHECK(red_with("    id: 0123456789ABCDEFGHIJKLMNO\n") ==
              "t.yaml:18:9: networks[1].id: '0123456789ABCDEFGHIJKLMNO' is not a network id (25 "
              "characters of 0-9 a-z)");
        CHECK(red_with("    id: abc\n") ==
              "t.yaml:18:9: networks[1].id: 'abc' is not a network id (25 characters of 0-9 a-z)");
        const std::string both =
            with(with(kBase, "    subnet: 10.0.1.0/24\n",
                      "    subnet: 10.0.1.0/24\n    id: aaaaaaaaaaaaaaaaaaaaaaaaa\n"),
                 "    subnet: 10.0.2.0/24\n",
                 "    subnet: 10.0.2.0/24\n    id: aaaaaaaaaaaaaaaaaaaaaaaaa\n");
        CHECK(error_of(both) ==
              "t.yaml:19:9: networks[1].id: 'aaaaaaaaaaaaaaaaaaaaaaaaa' duplicates networks[0].id");
    }
    SECTION("created") {
        for (const char* bad :
             {"2024-05-01 12:00:00Z", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z",
              "2023-02-29T12:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z",
              "2024-05-01T12:00:00.1234567890Z", "2024-05-01T12:00:00+2:00",
              "2024-05-01t12:00:00z"}) {
            CAPTURE(bad);
            CHECK(red_with(std::string("    created: \"") + bad + "\"\n") ==
                  std::string("t.yaml:18:14: networks[1].created: '") + bad +
                      "' is not an RFC 3339 time (like 2024-05-01T12:00:00.123456789Z)");
        }
    }
    SECTION("flags") {
        CHECK(red_with("    internal: yes\n") ==
              "t.yaml:18:15: networks[1].internal: expected true or false, got 'yes'");
        CHECK(red_with("    encrypted: 1\n") ==
              "t.yaml:18:16: networks[1].encrypted: expected true or false, got '1'");
    }
    SECTION("only one ingress network") {
        const std::string two =
            with(with(kBase, "    subnet: 10.0.1.0/24\n",
                      "    subnet: 10.0.1.0/24\n    ingress: true\n"),
                 "    subnet: 10.0.2.0/24\n", "    subnet: 10.0.2.0/24\n    ingress: true\n");
        CHECK(error_of(two) == "t.yaml:19:14: networks[1].ingress: networks[0] 'blue' is already "
                               "the ingress network (there can be only one)");
    }
    SECTION("labels") {
        CHECK(red_with("    labels: [a, b]\n") ==
              "t.yaml:18:13: networks[1].labels: expected a mapping, got a list");
        CHECK(red_with("    labels:\n      a: [1]\n") ==
              "t.yaml:19:10: networks[1].labels.a: expected a string, got a list");
        CHECK(red_with("    labels:\n      a:\n") ==
              "t.yaml:19:7: networks[1].labels.a: expected a string, got an empty value");
        CHECK(red_with("    labels:\n      a: x\n      a: y\n") ==
              "t.yaml:20:7: networks[1].labels: duplicate label 'a' (first at line 19)");
        CHECK(red_with("    labels:\n      \"a=b\": x\n") ==
              "t.yaml:19:7: networks[1].labels: label name 'a=b' contains '=' or a control "
              "character");
        CHECK(red_with("    labels:\n      a: \"x\\ny\"\n") ==
              "t.yaml:19:10: networks[1].labels.a: label value 'x\\ny' contains a control "
              "character");
        CHECK(red_with("    labels:\n      \"\": x\n") ==
              "t.yaml:19:7: networks[1].labels: empty label name");
    }
    SECTION("unknown network field") {
        CHECK(red_with("    scope: swarm\n") == "t.yaml:18:5: networks[1]: unknown field 'scope'");
    }
}

// kBase with an ingress network (4 lines before "peers:", so kBase ends at line 40), a
// task of web, two services and a load balancer.
std::string services_base() {
    return with(kBase, "peers:\n",
                "  - name: ingress\n    vni: 4096\n    subnet: 10.255.0.0/16\n    ingress: true\n"
                "peers:\n") +
           R"(  - name: web.1
    network: blue
    ip: 10.0.1.10
    node: node2
    service: web
services:
  - name: web
    networks: [blue]
    ports:
      - {published: 8080, target: 80}
      - {protocol: udp, published: 53, target: 53, mode: host}
    vips: {blue: 10.0.1.5, ingress: 10.255.0.5}
  - name: db
    endpoint_mode: dnsrr
    networks: [red]
load_balancers:
  - {network: blue, node: node2, ip: 10.0.1.6}
)";
}

TEST_CASE("services, tasks and load balancers load with their defaults", "[config][services]") {
    const model::Config c = load_config_string(services_base(), "t.yaml");
    REQUIRE(c.services.size() == 2);
    const model::Service& web = c.services[0];
    CHECK(web.name == "web");
    CHECK(web.id.empty());
    CHECK(web.endpoint_mode == model::EndpointMode::Vip);
    CHECK(web.networks == std::vector<std::string>{"blue"});
    REQUIRE(web.ports.size() == 2);
    CHECK(web.ports[0] ==
          model::PublishedPort{model::Protocol::Tcp, 80, 8080, model::PublishMode::Ingress});
    CHECK(web.ports[1] ==
          model::PublishedPort{model::Protocol::Udp, 53, 53, model::PublishMode::Host});
    CHECK(web.vips == std::map<std::string, model::Ipv4>{{"blue", ip(10, 0, 1, 5)},
                                                         {"ingress", ip(10, 255, 0, 5)}});
    // Publishing in ingress mode attaches the service to the ingress network.
    CHECK(model::attached_networks(c, web) == std::vector<std::string>{"blue", "ingress"});
    const model::Service& db = c.services[1];
    CHECK(db.endpoint_mode == model::EndpointMode::Dnsrr);
    CHECK(db.vips.empty());
    CHECK(model::attached_networks(c, db) == std::vector<std::string>{"red"});
    CHECK(c.endpoints[3].service == "web");
    CHECK(c.endpoints[3].mac == mac(0x02, 0x42, 10, 0, 1, 10)); // a task's MAC: Docker's
    CHECK(c.endpoints[0].service.empty());
    REQUIRE(c.load_balancers.size() == 1);
    CHECK(c.load_balancers[0].node == "node2");
    CHECK(c.load_balancers[0].ip == ip(10, 0, 1, 6));

    // And back from JSON, in the same schema.
    const nlohmann::json j = vxmesh::control::config_to_json(c);
    CHECK(j["services"][0] == nlohmann::json::parse(R"({"name": "web", "endpoint_mode": "vip",
        "networks": ["blue"], "ports": [
          {"protocol": "tcp", "target": 80, "published": 8080, "mode": "ingress"},
          {"protocol": "udp", "target": 53, "published": 53, "mode": "host"}],
        "vips": {"blue": "10.0.1.5", "ingress": "10.255.0.5"}})"));
    CHECK(j["endpoints"][3]["service"] == "web");
    CHECK(j["endpoints"][0].count("service") == 0);
    CHECK(j["load_balancers"] ==
          nlohmann::json::parse(R"([{"network": "blue", "node": "node2", "ip": "10.0.1.6"}])"));
    const model::Config back = load_config_string(j.dump(), "json");
    CHECK(vxmesh::control::config_to_json(back) == j);
}

TEST_CASE("service, task and load balancer errors", "[config][services]") {
    const std::string base = services_base();
    const std::string api = "  - name: api\n    networks: [blue]\n    ports: [PORT]\n";
    auto with_api = [&](const std::string& port) {
        return with(base, "load_balancers:\n", with(api, "PORT", port) + "load_balancers:\n");
    };
    SECTION("networks") {
        CHECK(error_of(with(base, "networks: [blue]", "networks: [blue, green]")) ==
              "t.yaml:48:22: services[0].networks[1]: unknown network 'green'");
        CHECK(error_of(with(base, "networks: [blue]", "networks: [blue, ingress]")) ==
              "t.yaml:48:22: services[0].networks[1]: 'ingress' is the ingress network: a service "
              "is attached to it by publishing a port in ingress mode, not by name");
        CHECK(error_of(with(base, "networks: [blue]", "networks: [blue, blue]")) ==
              "t.yaml:48:22: services[0].networks[1]: 'blue' duplicates networks[0]");
    }
    SECTION("values") {
        CHECK(error_of(with(base, "endpoint_mode: dnsrr", "endpoint_mode: round-robin")) ==
              "t.yaml:54:20: services[1].endpoint_mode: expected vip or dnsrr, got 'round-robin'");
        CHECK(error_of(with(base, "protocol: udp", "protocol: sctp")) ==
              "t.yaml:51:20: services[0].ports[1].protocol: expected tcp or udp, got 'sctp'");
        CHECK(error_of(with(base, "mode: host", "mode: global")) ==
              "t.yaml:51:58: services[0].ports[1].mode: expected ingress or host, got 'global'");
        CHECK(error_of(with(base, "target: 80}", "target: 0}")) ==
              "t.yaml:50:35: services[0].ports[0].target: 0 is out of range 1..65535");
        CHECK(error_of(with(base, "{published: 8080, target: 80}", "{target: 80}")) ==
              "t.yaml:50:9: services[0].ports[0]: missing required field 'published'");
        CHECK(error_of(with(base, "  - name: db\n", "  - name: web\n")) ==
              "t.yaml:53:11: services[1].name: 'web' duplicates services[0].name");
        CHECK(error_of(with(base, "  - name: db\n", "  - name: db\n    id: ABC\n")) ==
              "t.yaml:54:9: services[1].id: 'ABC' is not a service id (25 characters of 0-9 a-z)");
    }
    SECTION("published ports, as swarmkit checks them") {
        CHECK(error_of(with(base, "{protocol: udp, published: 53, target: 53, mode: host}",
                            "{published: 8080, target: 81, mode: host}")) ==
              "t.yaml:51:21: services[0].ports[1].published: port 8080/tcp duplicates ports[0] (a "
              "port is published once per protocol)");
        CHECK(error_of(with_api("{published: 8080, target: 8000}")) ==
              "t.yaml:58:25: services[2].ports[0].published: port 8080/tcp is already in use by "
              "services[0] 'web' as an ingress port");
        CHECK(error_of(with_api("{published: 8080, target: 8000, mode: host}")) ==
              "t.yaml:58:25: services[2].ports[0].published: port 8080/tcp is already in use by "
              "services[0] 'web' as an ingress port");
        CHECK(error_of(with_api("{protocol: udp, published: 53, target: 53}")) ==
              "t.yaml:58:40: services[2].ports[0].published: port 53/udp is already in use by "
              "services[0] 'web' as a host-published port");
        // Host mode may repeat across services; another protocol is another port.
        CHECK(error_of(with_api("{protocol: udp, published: 53, target: 53, mode: host}")).empty());
        CHECK(error_of(with_api("{protocol: udp, published: 8080, target: 80}")).empty());
    }
    SECTION("ingress mode") {
        CHECK(
            error_of(with(base, "    networks: [red]\n",
                          "    networks: [red]\n    ports: [{published: 9000, target: 9000}]\n")) ==
            "t.yaml:53:5: services[1].ports[0].mode: port 9000/tcp is published in ingress "
            "mode, which endpoint_mode dnsrr cannot use (the routing mesh balances over a VIP); "
            "publish it in host mode");
        CHECK(error_of(with(base, "    ingress: true\n", "")) ==
              "t.yaml:46:5: services[0].ports[0].mode: port 8080/tcp is published in ingress "
              "mode, but there is no ingress network (create one with network create --ingress)");
    }
    SECTION("VIPs") {
        CHECK(error_of(with(base, "    networks: [red]\n",
                            "    networks: [red]\n    vips: {red: 10.0.2.5}\n")) ==
              "t.yaml:56:11: services[1].vips: a dnsrr service has no VIPs");
        CHECK(error_of(with(base, "vips: {blue", "vips: {red: 10.0.2.5, blue")) ==
              "t.yaml:52:17: services[0].vips.red: service 'web' is not attached to network 'red'");
        CHECK(error_of(with(base, "blue: 10.0.1.5", "blue: 10.0.2.5")) ==
              "t.yaml:52:18: services[0].vips.blue: 10.0.2.5 is outside subnet 10.0.1.0/24 of "
              "network 'blue'");
        CHECK(error_of(with(base, "blue: 10.0.1.5", "blue: 10.0.1.1")) ==
              "t.yaml:52:18: services[0].vips.blue: 10.0.1.1 is the gateway of network 'blue'");
        // Addresses are unique across endpoints, VIPs and load balancers.
        CHECK(error_of(with(base, "blue: 10.0.1.5", "blue: 10.0.1.2")) ==
              "t.yaml:28:9: endpoints[0].ip: 10.0.1.2 duplicates services[0].vips.blue in network "
              "'blue'");
    }
    SECTION("tasks") {
        CHECK(error_of(with(base, "    service: web\n", "    service: nosuch\n")) ==
              "t.yaml:45:14: endpoints[3].service: unknown service 'nosuch'");
        CHECK(error_of(with(base, "    network: blue\n    ip: 10.0.1.10\n",
                            "    network: red\n    ip: 10.0.2.10\n")) ==
              "t.yaml:42:14: endpoints[3].network: network 'red' is not attached to service 'web' "
              "(its networks: blue, ingress)");
    }
    SECTION("load balancers") {
        CHECK(error_of(base + "  - {network: blue, node: node2, ip: 10.0.1.7}\n") ==
              "t.yaml:58:5: load_balancers[1]: duplicates load_balancers[0] (network 'blue' on "
              "node 'node2')");
        CHECK(error_of(with(base, "node: node2, ip", "node: node9, ip")) ==
              "t.yaml:57:27: load_balancers[0].node: unknown node 'node9'");
        // Load balancers are checked before endpoints, so that an endpoint appended to the
        // document meets every other object, as an attach does (control/model_index.hpp).
        CHECK(error_of(with(base, "ip: 10.0.1.6}", "ip: 10.0.1.10}")) ==
              "t.yaml:43:9: endpoints[3].ip: 10.0.1.10 duplicates load_balancers[0].ip in network "
              "'blue'");
        CHECK(error_of(with(base, "{network: blue, node", "{network: green, node")) ==
              "t.yaml:57:15: load_balancers[0].network: unknown network 'green'");
    }
}

TEST_CASE("the model's JSON loads back to the same model", "[config]") {
    const std::string text = with(kBase, "    subnet: 10.0.2.0/24\n", R"(    subnet: 10.0.2.0/24
    ip_range: 10.0.2.128/25
    id: 0123456789abcdefghijklmno
    created: 2024-02-29T23:59:59.000000001Z
    attachable: true
    encrypted: true
    labels: {a: "1", com.example.b: two words}
)");
    const model::Config c = load_config_string(text, "t.yaml");
    const nlohmann::json j = vxmesh::control::config_to_json(c);
    CHECK(j["networks"][0]["labels"] == nlohmann::json::object());
    CHECK(j["networks"][0].count("id") == 0);
    CHECK(j["networks"][1]["ip_range"] == "10.0.2.128/25");
    CHECK(j["networks"][1]["mtu"] == 1424);
    CHECK(j["networks"][1]["labels"]["com.example.b"] == "two words");
    const model::Config back = load_config_string(j.dump(), "json");
    CHECK(vxmesh::control::config_to_json(back) == j);
}

TEST_CASE("YAML's anchors, aliases and tags read as yaml-cpp's Load read them", "[config]") {
    // An alias stands for its anchor's value, scalar or mapping.
    const std::string aliased =
        with(with(kBase, "    vni: 4097\n",
                  "    vni: 4097\n    mtu: &mtu 1400\n    labels: &l {a: b}\n"),
             "    vni: 4098\n", "    vni: 4098\n    mtu: *mtu\n    labels: *l\n");
    const model::Config c = load_config_string(aliased, "t.yaml");
    REQUIRE(c.networks.size() == 2);
    CHECK(c.networks[1].mtu == 1400);
    CHECK(c.networks[1].labels == std::map<std::string, std::string>{{"a", "b"}});
    // A mapping that holds itself is read only as deep as the schema goes.
    CHECK(
        error_of(with(kBase, "    vni: 4098\n", "    vni: 4098\n    labels: &self {a: *self}\n")) ==
        "t.yaml:17:13: networks[1].labels.a: expected a string, got a mapping");
    // Tags: !!int reads as an integer; a quoted number does not.
    CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: !!int 4098\n")).empty());
    CHECK(error_of(with(kBase, "    vni: 4098\n", "    vni: \"4098\"\n")) ==
          "t.yaml:16:10: networks[1].vni: expected an integer, got the string '4098'");
    // A second document: refused where it starts, or at its syntax error.
    CHECK(error_of(kBase + "---\nnode: {}\n") ==
          "t.yaml:38:1: more than one YAML document; expected exactly one");
    CHECK(error_of(kBase + "---\n[\n") ==
          "t.yaml:39:1: syntax error: end of sequence flow not found");
}
