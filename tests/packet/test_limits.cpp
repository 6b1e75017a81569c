// A network's MTU against what the ports carry (control/snapshot_build.hpp's PortLimits):
// refused with a clear error when the underlay's MTU or buffers, or those of a port its
// endpoints are on, cannot carry its packets; accepted when they can.
#include "tests/packet/fixture.hpp"

#include <catch2/catch.hpp>

using namespace vxmesh;
using namespace vxmesh::testing;

namespace {

// node1's tables compiled with the given port limits; the error, or "" when built.
std::string build_with(const control::PortLimits& underlay, const control::PortLimits& access,
                       const std::string& blue_mtu = "") {
    std::string yaml = node1_yaml;
    if (!blue_mtu.empty()) {
        auto at = yaml.find("    vni: 4097\n");
        yaml.insert(at, "    mtu: " + blue_mtu + "\n");
    }
    model::Config config = control::load_config_string(yaml, "t.yaml");
    dp::NeighbourTable table(8);
    control::BuildContext ctx;
    ctx.access_ports = {{"c1", c1}, {"c2", c2}};
    ctx.neighbours = &table;
    ctx.nexthop_slot = [&table](rte_be32_t ip) {
        table.slot(0).ip = ip;
        return uint32_t{0};
    };
    ctx.underlay_limits = underlay;
    ctx.access_limits = {{"c1", access}, {"c2", access}};
    try {
        control::build_snapshot(config, ctx);
    } catch (const control::BuildError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("limits: a network's MTU must fit the underlay's MTU plus VXLAN's 50 bytes") {
    CHECK(build_with({1500, 2048}, {1450, 2048}).empty()); // Docker's default: 1450 + 50
    CHECK(build_with({1500, 2048}, {1500, 2048}, "1451") ==
          "t.yaml:14:5: networks: blue: MTU 1451 needs an underlay MTU of at least 1501 (VXLAN "
          "adds 50 bytes), and the underlay's is 1500: lower the network's MTU or raise the "
          "underlay's");
    CHECK(build_with({9100, 65376}, {9000, 65376}, "9000").empty()); // jumbo, end to end
    CHECK(build_with({9100, 2048}, {9000, 65376}, "9000") ==
          "t.yaml:14:5: networks: blue: MTU 9000 makes underlay frames of 9064 bytes, and the "
          "underlay receives at most 2048 bytes into one buffer");
    CHECK(build_with({0, 0}, {0, 0}, "9000").empty()); // unknown limits: not checked
}

TEST_CASE("limits: an endpoint's port must carry its network's MTU") {
    CHECK(build_with({9100, 65376}, {1450, 65376}, "9000") ==
          "t.yaml:25:5: endpoints: n1c1: network blue has MTU 9000, and port c1's MTU is 1450: "
          "its packets would be lost on the port; raise the port's MTU or lower the network's");
    CHECK(build_with({9100, 65376}, {9000, 2048}, "9000") ==
          "t.yaml:25:5: endpoints: n1c1: network blue has MTU 9000, and port c1 receives at "
          "most 2048 bytes into one buffer");
}
