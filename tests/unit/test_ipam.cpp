// Unit tests for the IPAM allocator (control/ipam.cpp), written from Docker swarm's
// behaviour: serial subnets from the default address pools, serial VNIs from 4096,
// serial addresses after the gateway, and cursors that restart from the bottom.
//
// Errors are compared in full, so a change of wording is a deliberate, visible change.
#include "control/ipam.hpp"
#include "tests/unit/control_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using vxmesh::control::Ipam;
using vxmesh::control::IpamConfig;
using vxmesh::control::IpamError;
using vxmesh::control::NetworkInfo;
using vxmesh::control::NetworkRequest;
using vxmesh::testing::TempDir;
namespace control = vxmesh::control;
namespace model = vxmesh::model;

namespace {

model::Ipv4 ip(const char* text) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    REQUIRE(std::sscanf(text, "%u.%u.%u.%u", &a, &b, &c, &d) == 4);
    return model::Ipv4{a << 24 | b << 16 | c << 8 | d};
}

model::Ipv4Prefix prefix(const char* text) {
    unsigned a = 0, b = 0, c = 0, d = 0, len = 0;
    REQUIRE(std::sscanf(text, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &len) == 5);
    return model::Ipv4Prefix{model::Ipv4{a << 24 | b << 16 | c << 8 | d},
                             static_cast<uint8_t>(len)};
}

std::string str(model::Ipv4 address) {
    return model::format_ipv4(address);
}
std::string str(model::Ipv4Prefix p) {
    return model::format_prefix(p);
}

IpamConfig pools(std::vector<const char*> list, uint8_t mask_length = 24) {
    IpamConfig config;
    config.pools.clear();
    for (const char* p : list)
        config.pools.push_back(prefix(p));
    config.mask_length = mask_length;
    return config;
}

NetworkRequest request(const std::string& name) {
    NetworkRequest r;
    r.name = name;
    return r;
}

NetworkRequest with_subnet(const std::string& name, const char* subnet) {
    NetworkRequest r = request(name);
    r.subnets.push_back(prefix(subnet));
    return r;
}

// The network's only subnet, as text.
std::string subnet_of(const NetworkInfo& info) {
    REQUIRE(info.subnets.size() == 1);
    return str(info.subnets[0].subnet);
}

std::string created_subnet(Ipam& ipam, const std::string& name) {
    return subnet_of(ipam.create_network(request(name)));
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

} // namespace

// ---------------------------------------------------------------------------------------
// Subnets

TEST_CASE("subnets are handed out serially from 10.0.0.0/8 in /24s", "[ipam]") {
    Ipam ipam;
    NetworkRequest ingress = request("ingress");
    ingress.ingress = true;
    const NetworkInfo in = ipam.create_network(ingress);
    CHECK(subnet_of(in) == "10.0.0.0/24");
    CHECK(in.ingress);
    CHECK(created_subnet(ipam, "a") == "10.0.1.0/24");
    CHECK(created_subnet(ipam, "b") == "10.0.2.0/24");
    CHECK(ipam.network_names() == std::vector<std::string>{"a", "b", "ingress"});
}

TEST_CASE("the cursor skips subnets given by hand", "[ipam]") {
    Ipam ipam;
    CHECK(created_subnet(ipam, "a") == "10.0.0.0/24");
    ipam.create_network(with_subnet("m1", "10.0.1.0/24"));
    CHECK(created_subnet(ipam, "b") == "10.0.2.0/24");
    ipam.create_network(with_subnet("m2", "10.0.4.0/23")); // ahead of the cursor, wider
    CHECK(created_subnet(ipam, "c") == "10.0.3.0/24");
    CHECK(created_subnet(ipam, "d") == "10.0.6.0/24");
    ipam.create_network(with_subnet("outside", "192.168.5.0/24")); // outside the pools: fine
    CHECK(created_subnet(ipam, "e") == "10.0.7.0/24");
}

TEST_CASE("the pools are used in order, then exhausted", "[ipam]") {
    Ipam ipam(pools({"10.0.0.0/23", "192.168.0.0/23"}));
    CHECK(created_subnet(ipam, "a") == "10.0.0.0/24");
    CHECK(created_subnet(ipam, "b") == "10.0.1.0/24");
    CHECK(created_subnet(ipam, "c") == "192.168.0.0/24");
    CHECK(created_subnet(ipam, "d") == "192.168.1.0/24");
    REQUIRE_THROWS_WITH(ipam.create_network(request("e")),
                        "network e: address pools exhausted: no free /24 subnet left in "
                        "10.0.0.0/23, 192.168.0.0/23");
    CHECK(ipam.network_names().size() == 4);
}

TEST_CASE("a freed subnet is reused only after the cursor wraps", "[ipam]") {
    Ipam ipam(pools({"10.0.0.0/22"})); // four /24s
    CHECK(created_subnet(ipam, "a") == "10.0.0.0/24");
    CHECK(created_subnet(ipam, "b") == "10.0.1.0/24");
    CHECK(created_subnet(ipam, "c") == "10.0.2.0/24");
    ipam.remove_network("b");
    CHECK(created_subnet(ipam, "d") == "10.0.3.0/24"); // not 10.0.1.0 at once
    CHECK(created_subnet(ipam, "e") == "10.0.1.0/24"); // wrapped to the bottom
    REQUIRE_THROWS_WITH(ipam.create_network(request("f")),
                        "network f: address pools exhausted: no free /24 subnet left in "
                        "10.0.0.0/22");
    ipam.remove_network("a");
    ipam.remove_network("c");
    CHECK(created_subnet(ipam, "g") == "10.0.2.0/24"); // after e's, not the lowest hole
    CHECK(created_subnet(ipam, "h") == "10.0.0.0/24");
}

TEST_CASE("the cursor wraps from the last pool to the first", "[ipam]") {
    Ipam ipam(pools({"10.0.0.0/23", "192.168.0.0/24"}));
    CHECK(created_subnet(ipam, "a") == "10.0.0.0/24");
    CHECK(created_subnet(ipam, "b") == "10.0.1.0/24");
    ipam.remove_network("a");
    CHECK(created_subnet(ipam, "c") == "192.168.0.0/24");
    CHECK(created_subnet(ipam, "d") == "10.0.0.0/24");
}

TEST_CASE("after a restart the subnet search starts from the bottom and fills holes", "[ipam]") {
    Ipam before(pools({"10.0.0.0/22"}));
    created_subnet(before, "a");
    created_subnet(before, "b");
    created_subnet(before, "c");
    before.remove_network("a");

    Ipam after(pools({"10.0.0.0/22"}));
    after.from_json(before.to_json(), "state.json");
    const NetworkInfo d = after.create_network(request("d"));
    CHECK(subnet_of(d) == "10.0.0.0/24"); // the hole
    CHECK(d.subnets[0].vni == 4096);      // VNIs too
    CHECK(created_subnet(after, "e") == "10.0.3.0/24");

    const NetworkInfo d_before = before.create_network(request("d")); // without the restart
    CHECK(subnet_of(d_before) == "10.0.3.0/24");
    CHECK(d_before.subnets[0].vni == 4099);
}

TEST_CASE("a subnet overlapping one in use is rejected, naming its network", "[ipam]") {
    Ipam ipam;
    created_subnet(ipam, "a"); // 10.0.0.0/24
    REQUIRE_THROWS_WITH(ipam.create_network(with_subnet("m", "10.0.0.0/16")),
                        "network m: subnet 10.0.0.0/16 overlaps subnet 10.0.0.0/24 of network a");
    REQUIRE_THROWS_WITH(ipam.create_network(with_subnet("m", "10.0.0.128/25")),
                        "network m: subnet 10.0.0.128/25 overlaps subnet 10.0.0.0/24 of network a");
    REQUIRE_THROWS_WITH(ipam.create_network(with_subnet("m", "10.0.0.0/24")),
                        "network m: subnet 10.0.0.0/24 overlaps subnet 10.0.0.0/24 of network a");

    NetworkRequest two = with_subnet("m", "10.1.0.0/24");
    two.subnets.push_back(prefix("10.1.0.0/16"));
    REQUIRE_THROWS_WITH(ipam.create_network(two),
                        "network m: subnets 10.1.0.0/24 and 10.1.0.0/16 overlap");
    REQUIRE_THROWS_WITH(ipam.create_network(with_subnet("m", "10.1.0.1/24")),
                        "network m: subnet 10.1.0.1/24 is not a network address "
                        "(did you mean 10.1.0.0/24?)");
    REQUIRE_THROWS_WITH(ipam.create_network(with_subnet("m", "10.1.0.0/31")),
                        "network m: subnet 10.1.0.0/31 length is out of range /8../30");
    REQUIRE_THROWS_WITH(ipam.create_network(request("a")), "network a already exists");
    REQUIRE_THROWS_WITH(ipam.create_network(request("")), "network name is empty");

    // The failures took nothing.
    const NetworkInfo b = ipam.create_network(request("b"));
    CHECK(subnet_of(b) == "10.0.1.0/24");
    CHECK(b.subnets[0].vni == 4097);
}

TEST_CASE("there is at most one ingress network", "[ipam]") {
    Ipam ipam;
    NetworkRequest r = request("ingress");
    r.ingress = true;
    ipam.create_network(r);
    r.name = "ingress2";
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network ingress2: ingress network ingress already exists");
}

TEST_CASE("pool mask lengths 16 to 29", "[ipam]") {
    for (uint8_t length = 16; length <= 29; ++length) {
        CAPTURE(int(length));
        Ipam ipam(pools({"10.0.0.0/8"}, length));
        const NetworkInfo a = ipam.create_network(request("a"));
        const NetworkInfo b = ipam.create_network(request("b"));
        CHECK(a.subnets[0].subnet == model::Ipv4Prefix{ip("10.0.0.0"), length});
        CHECK(b.subnets[0].subnet ==
              model::Ipv4Prefix{model::Ipv4{ip("10.0.0.0").value + (1u << (32 - length))}, length});
        CHECK(a.subnets[0].gateway == ip("10.0.0.1"));
    }
}

TEST_CASE("bad pool configurations are rejected", "[ipam]") {
    REQUIRE_THROWS_WITH(Ipam(pools({"10.0.0.0/8"}, 15)),
                        "default-addr-pool-mask-length 15 is out of range 16..29");
    REQUIRE_THROWS_WITH(Ipam(pools({"10.0.0.0/8"}, 30)),
                        "default-addr-pool-mask-length 30 is out of range 16..29");
    REQUIRE_THROWS_WITH(Ipam(pools({"10.0.0.0/25"}, 24)),
                        "default-addr-pool 10.0.0.0/25 cannot hold a /24 subnet "
                        "(default-addr-pool-mask-length)");
    REQUIRE_THROWS_WITH(Ipam(pools({"10.1.0.0/8"})),
                        "default-addr-pool 10.1.0.0/8 is not a network address "
                        "(did you mean 10.0.0.0/8?)");
    REQUIRE_THROWS_WITH(Ipam(pools({"10.0.0.0/8", "10.5.0.0/16"})),
                        "default-addr-pool 10.5.0.0/16 overlaps default-addr-pool 10.0.0.0/8");
    REQUIRE_THROWS_WITH(Ipam(pools({})), "default-addr-pool: no address pool given");
    Ipam ok(pools({"10.0.0.0/24"}, 24)); // pool length == mask length: one subnet
    CHECK(created_subnet(ok, "a") == "10.0.0.0/24");
}

// ---------------------------------------------------------------------------------------
// VNIs

TEST_CASE("VNIs: 4096 for the ingress network, then serially, one per subnet", "[ipam]") {
    Ipam ipam;
    NetworkRequest ingress = request("ingress");
    ingress.ingress = true;
    CHECK(ipam.create_network(ingress).subnets[0].vni == 4096);
    CHECK(ipam.create_network(request("a")).subnets[0].vni == 4097);
    CHECK(ipam.create_network(request("b")).subnets[0].vni == 4098);
    NetworkRequest two = with_subnet("two", "10.10.0.0/24");
    two.subnets.push_back(prefix("10.11.0.0/24"));
    const NetworkInfo t = ipam.create_network(two);
    CHECK(t.subnets[0].vni == 4099);
    CHECK(t.subnets[1].vni == 4100);
}

TEST_CASE("manual VNIs are reserved and skipped; duplicates are rejected", "[ipam]") {
    Ipam ipam;
    CHECK(ipam.create_network(request("ingress")).subnets[0].vni == 4096);
    NetworkRequest m = with_subnet("m", "10.20.0.0/24");
    m.vnis = {4098};
    CHECK(ipam.create_network(m).subnets[0].vni == 4098);
    CHECK(ipam.create_network(request("a")).subnets[0].vni == 4097);
    CHECK(ipam.create_network(request("b")).subnets[0].vni == 4099); // skips 4098

    NetworkRequest low = with_subnet("low", "10.21.0.0/24");
    low.vnis = {100}; // below 4096 is allowed by hand
    CHECK(ipam.create_network(low).subnets[0].vni == 100);

    NetworkRequest n = with_subnet("n", "10.22.0.0/24");
    n.vnis = {4097};
    REQUIRE_THROWS_WITH(ipam.create_network(n), "network n: VNI 4097 is already used by network a");
    n.vnis = {0};
    REQUIRE_THROWS_WITH(ipam.create_network(n), "network n: VNI 0 is out of range 1..16777215");
    n.vnis = {16777216};
    REQUIRE_THROWS_WITH(ipam.create_network(n),
                        "network n: VNI 16777216 is out of range 1..16777215");
    n.vnis = {5000, 5001};
    REQUIRE_THROWS_WITH(ipam.create_network(n),
                        "network n: vxlanid_list has 2 VNIs for 1 subnet(s)");
    n.subnets.push_back(prefix("10.23.0.0/24"));
    n.vnis = {5000, 5000};
    REQUIRE_THROWS_WITH(ipam.create_network(n), "network n: VNI 5000 is listed twice");
    n.vnis = {5000}; // the second subnet gets the next serial one
    const NetworkInfo info = ipam.create_network(n);
    CHECK(info.subnets[0].vni == 5000);
    CHECK(info.subnets[1].vni == 4100);
}

TEST_CASE("freed VNIs are reused only after the wrap", "[ipam]") {
    IpamConfig config;
    config.first_auto_vni = 4096;
    config.last_auto_vni = 4099; // Docker's range ends at 2^24-1; narrowed to reach the wrap
    Ipam ipam(config);
    CHECK(ipam.create_network(request("ingress")).subnets[0].vni == 4096);
    CHECK(ipam.create_network(request("a")).subnets[0].vni == 4097);
    CHECK(ipam.create_network(request("b")).subnets[0].vni == 4098);
    ipam.remove_network("a");
    CHECK(ipam.create_network(request("c")).subnets[0].vni == 4099);
    CHECK(ipam.create_network(request("d")).subnets[0].vni == 4097);
    REQUIRE_THROWS_WITH(ipam.create_network(request("e")),
                        "network e: no free VNI left in 4096..4099");
    ipam.remove_network("b");
    const NetworkInfo f = ipam.create_network(request("f"));
    CHECK(f.subnets[0].vni == 4098);
    CHECK(subnet_of(f) == "10.0.5.0/24"); // e's failure took no subnet
}

TEST_CASE("parse_vxlanid_list", "[ipam]") {
    using control::parse_vxlanid_list;
    CHECK(parse_vxlanid_list("4097") == std::vector<uint32_t>{4097});
    CHECK(parse_vxlanid_list("4097,5000") == std::vector<uint32_t>{4097, 5000});
    CHECK(parse_vxlanid_list("1,16777215") == std::vector<uint32_t>{1, 16777215});
    REQUIRE_THROWS_WITH(parse_vxlanid_list(""), "vxlanid_list: \"\" is not a VNI");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("abc"), "vxlanid_list: \"abc\" is not a VNI");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("4097,"), "vxlanid_list: \"\" is not a VNI");
    REQUIRE_THROWS_WITH(parse_vxlanid_list(" 4097"), "vxlanid_list: \" 4097\" is not a VNI");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("-1"), "vxlanid_list: \"-1\" is not a VNI");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("0"), "vxlanid_list: VNI 0 is out of range 1..16777215");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("16777216"),
                        "vxlanid_list: VNI 16777216 is out of range 1..16777215");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("99999999999999999999999"),
                        "vxlanid_list: VNI 99999999999999999999999 is out of range 1..16777215");
    REQUIRE_THROWS_WITH(parse_vxlanid_list("5,6,5"), "vxlanid_list: VNI 5 is listed twice");
}

// ---------------------------------------------------------------------------------------
// Gateways

TEST_CASE("the gateway: first host, first of the ip-range, or as given", "[ipam]") {
    Ipam ipam;
    CHECK(ipam.create_network(request("auto")).subnets[0].gateway == ip("10.0.0.1"));

    NetworkRequest r = with_subnet("range", "10.1.0.0/24");
    r.ip_ranges = {prefix("10.1.0.128/25")};
    const NetworkInfo range = ipam.create_network(r);
    CHECK(range.subnets[0].gateway == ip("10.1.0.128"));
    CHECK(range.subnets[0].ip_range == prefix("10.1.0.128/25"));

    r = with_subnet("low-range", "10.2.0.0/24");
    r.ip_ranges = {prefix("10.2.0.0/25")}; // its first address is the network address
    CHECK(ipam.create_network(r).subnets[0].gateway == ip("10.2.0.1"));

    r = with_subnet("explicit", "10.3.0.0/24");
    r.ip_ranges = {prefix("10.3.0.0/25")};
    r.gateways = {ip("10.3.0.254")}; // outside the ip-range is fine
    CHECK(ipam.create_network(r).subnets[0].gateway == ip("10.3.0.254"));

    r = with_subnet("two", "10.4.0.0/24");
    r.subnets.push_back(prefix("10.5.0.0/24"));
    r.gateways = {ip("10.5.0.9")}; // matched to the subnet holding it
    const NetworkInfo two = ipam.create_network(r);
    CHECK(two.subnets[0].gateway == ip("10.4.0.1"));
    CHECK(two.subnets[1].gateway == ip("10.5.0.9"));
}

TEST_CASE("bad gateways and ip-ranges are rejected", "[ipam]") {
    Ipam ipam;
    NetworkRequest r = with_subnet("n", "10.1.0.0/24");
    r.gateways = {ip("10.2.0.1")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: no matching subnet for gateway 10.2.0.1");
    r.gateways = {ip("10.1.0.0")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: gateway 10.1.0.0 is the network address of subnet 10.1.0.0/24");
    r.gateways = {ip("10.1.0.255")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: gateway 10.1.0.255 is the broadcast address of subnet "
                        "10.1.0.0/24");
    r.gateways = {ip("10.1.0.1"), ip("10.1.0.2")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for "
                        "the same subnet (10.1.0.0/24)");
    r.gateways = {};
    r.ip_ranges = {prefix("10.9.0.0/25")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: no matching subnet for ip-range 10.9.0.0/25");
    r.ip_ranges = {prefix("10.1.0.0/16")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: ip-range 10.1.0.0/16 is larger than subnet 10.1.0.0/24");
    r.ip_ranges = {prefix("10.1.0.0/25"), prefix("10.1.0.128/25")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: cannot configure multiple ip-ranges (10.1.0.128/25, "
                        "10.1.0.0/25) on the same subnet (10.1.0.0/24)");
    r.ip_ranges = {prefix("10.1.0.0/32")};
    REQUIRE_THROWS_WITH(ipam.create_network(r),
                        "network n: ip-range 10.1.0.0/32 has no address for the gateway");

    NetworkRequest no_subnet = request("n");
    no_subnet.gateways = {ip("10.0.0.1")};
    REQUIRE_THROWS_WITH(ipam.create_network(no_subnet),
                        "network n: every ip-range or gateway must have a corresponding subnet");
    CHECK(ipam.network_names().empty());
}

// ---------------------------------------------------------------------------------------
// Addresses

TEST_CASE("addresses are handed out serially after the gateway", "[ipam]") {
    Ipam ipam;
    ipam.create_network(request("web")); // 10.0.0.0/24, gateway 10.0.0.1
    CHECK(ipam.allocate_address("web", "web VIP") == ip("10.0.0.2"));
    CHECK(ipam.allocate_address("web", "web.1") == ip("10.0.0.3"));
    CHECK(ipam.allocate_address("web", "web.2") == ip("10.0.0.4"));
    CHECK(ipam.allocate_address("web", "lb-node1") == ip("10.0.0.5"));
    ipam.release_address("web", ip("10.0.0.3"));
    CHECK(ipam.allocate_address("web", "web.3") == ip("10.0.0.6")); // not .3 at once

    const NetworkInfo info = ipam.network("web");
    REQUIRE(info.addresses.size() == 4);
    CHECK(info.addresses[0] == control::AddressInfo{ip("10.0.0.2"), "web VIP"});
    CHECK(info.addresses[1] == control::AddressInfo{ip("10.0.0.4"), "web.2"});
    CHECK(info.addresses[2] == control::AddressInfo{ip("10.0.0.5"), "lb-node1"});
    CHECK(info.addresses[3] == control::AddressInfo{ip("10.0.0.6"), "web.3"});
}

TEST_CASE("freed addresses are reused only after the wrap", "[ipam]") {
    Ipam ipam;
    ipam.create_network(with_subnet("n", "10.1.0.0/29")); // gateway .1, then .2 to .6
    CHECK(str(ipam.allocate_address("n", "a")) == "10.1.0.2");
    CHECK(str(ipam.allocate_address("n", "b")) == "10.1.0.3");
    CHECK(str(ipam.allocate_address("n", "c")) == "10.1.0.4");
    ipam.release_address("n", ip("10.1.0.3"));
    CHECK(str(ipam.allocate_address("n", "d")) == "10.1.0.5");
    CHECK(str(ipam.allocate_address("n", "e")) == "10.1.0.6");
    CHECK(str(ipam.allocate_address("n", "f")) == "10.1.0.3"); // wrapped
    REQUIRE_THROWS_WITH(ipam.allocate_address("n", "g"),
                        "network n: no free address left in 10.1.0.0/29");
}

TEST_CASE("addresses come from the ip-range; an explicit gateway is skipped", "[ipam]") {
    Ipam ipam;
    NetworkRequest r = with_subnet("r", "10.1.0.0/24");
    r.ip_ranges = {prefix("10.1.0.248/29")}; // gateway .248; .255 is the broadcast
    ipam.create_network(r);
    for (const char* expected :
         {"10.1.0.249", "10.1.0.250", "10.1.0.251", "10.1.0.252", "10.1.0.253", "10.1.0.254"}) {
        CHECK(str(ipam.allocate_address("r", "t")) == expected);
    }
    REQUIRE_THROWS_WITH(ipam.allocate_address("r", "t"),
                        "network r: no free address left in 10.1.0.248/29");
    ipam.reserve_address("r", ip("10.1.0.10"), "static"); // outside the range, in the subnet

    NetworkRequest g = with_subnet("g", "10.2.0.0/29");
    g.gateways = {ip("10.2.0.3")};
    ipam.create_network(g);
    CHECK(str(ipam.allocate_address("g", "t")) == "10.2.0.1");
    CHECK(str(ipam.allocate_address("g", "t")) == "10.2.0.2");
    CHECK(str(ipam.allocate_address("g", "t")) == "10.2.0.4");
}

TEST_CASE("a full subnet passes on to the network's next one", "[ipam]") {
    Ipam ipam;
    NetworkRequest r = with_subnet("n", "10.1.0.0/30"); // gateway .1, one address: .2
    r.subnets.push_back(prefix("10.2.0.0/30"));
    ipam.create_network(r);
    CHECK(str(ipam.allocate_address("n", "a")) == "10.1.0.2");
    CHECK(str(ipam.allocate_address("n", "b")) == "10.2.0.2");
    REQUIRE_THROWS_WITH(ipam.allocate_address("n", "c"),
                        "network n: no free address left in 10.1.0.0/30, 10.2.0.0/30");
}

TEST_CASE("reserving, releasing and their errors", "[ipam]") {
    Ipam ipam;
    ipam.create_network(request("a")); // 10.0.0.0/24
    ipam.reserve_address("a", ip("10.0.0.4"), "static");
    CHECK(str(ipam.allocate_address("a", "t")) == "10.0.0.2");
    CHECK(str(ipam.allocate_address("a", "t")) == "10.0.0.3");
    CHECK(str(ipam.allocate_address("a", "t")) == "10.0.0.5"); // skips the reserved .4

    REQUIRE_THROWS_WITH(ipam.reserve_address("a", ip("10.0.0.4"), "x"),
                        "network a: 10.0.0.4 is already allocated to static");
    REQUIRE_THROWS_WITH(ipam.reserve_address("a", ip("10.0.0.1"), "x"),
                        "network a: 10.0.0.1 is the gateway of subnet 10.0.0.0/24");
    REQUIRE_THROWS_WITH(ipam.reserve_address("a", ip("10.0.0.0"), "x"),
                        "network a: 10.0.0.0 is the network address of subnet 10.0.0.0/24");
    REQUIRE_THROWS_WITH(ipam.reserve_address("a", ip("10.0.0.255"), "x"),
                        "network a: 10.0.0.255 is the broadcast address of subnet 10.0.0.0/24");
    REQUIRE_THROWS_WITH(ipam.reserve_address("a", ip("10.9.9.9"), "x"),
                        "network a: 10.9.9.9 is outside its subnets (10.0.0.0/24)");
    REQUIRE_THROWS_WITH(ipam.release_address("a", ip("10.0.0.77")),
                        "network a: 10.0.0.77 is not allocated");
    REQUIRE_THROWS_WITH(ipam.allocate_address("zz", "t"), "no network named zz");
    REQUIRE_THROWS_WITH(ipam.remove_network("zz"), "no network named zz");
    REQUIRE_THROWS_WITH(ipam.network("zz"), "no network named zz");

    ipam.release_address("a", ip("10.0.0.4"));
    ipam.remove_network("a"); // frees its subnet, VNI and addresses
    CHECK(ipam.network_names().empty());
    const NetworkInfo again = ipam.create_network(with_subnet("b", "10.0.0.0/24"));
    CHECK(again.addresses.empty());
    ipam.reserve_address("b", ip("10.0.0.4"), "static");
}

TEST_CASE("a task's MAC is 02:42 and its IPv4 address", "[ipam]") {
    const model::Mac mac = control::mac_for_address(ip("10.0.1.2"));
    CHECK(mac == model::Mac{{0x02, 0x42, 0x0a, 0x00, 0x01, 0x02}});
    CHECK(model::format_mac(control::mac_for_address(ip("192.168.255.254"))) ==
          "02:42:c0:a8:ff:fe");
}

TEST_CASE("MTU: 1450, 1424 when encrypted, or as set", "[ipam]") {
    using control::resolve_mtu;
    const std::string mtu(control::kMtuOption);
    CHECK(resolve_mtu({}) == 1450);
    CHECK(resolve_mtu({{"encrypted", ""}}) == 1424);
    CHECK(resolve_mtu({{"encrypted", "true"}}) == 1424);
    CHECK(resolve_mtu({{mtu, "1400"}}) == 1400);
    CHECK(resolve_mtu({{"encrypted", ""}, {mtu, "1500"}}) == 1500);
    CHECK(resolve_mtu({{mtu, "576"}}) == 576);
    CHECK(resolve_mtu({{mtu, "9000"}}) == 9000);
    REQUIRE_THROWS_WITH(resolve_mtu({{mtu, "575"}}),
                        "com.docker.network.driver.mtu: 575 is out of range 576..9000");
    REQUIRE_THROWS_WITH(resolve_mtu({{mtu, "9001"}}),
                        "com.docker.network.driver.mtu: 9001 is out of range 576..9000");
    REQUIRE_THROWS_WITH(resolve_mtu({{mtu, "abc"}}),
                        "com.docker.network.driver.mtu: \"abc\" is not a number");
    REQUIRE_THROWS_WITH(resolve_mtu({{mtu, ""}}),
                        "com.docker.network.driver.mtu: \"\" is not a number");
}

// ---------------------------------------------------------------------------------------
// State

TEST_CASE("the state survives a save and a load", "[ipam]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";

    Ipam ipam;
    NetworkRequest ingress = request("ingress");
    ingress.ingress = true;
    ipam.create_network(ingress);
    ipam.create_network(request("web"));
    NetworkRequest db = with_subnet("db", "172.20.0.0/16");
    db.subnets.push_back(prefix("172.21.0.0/24"));
    db.ip_ranges = {prefix("172.20.8.0/24")};
    db.gateways = {ip("172.21.0.254")};
    db.vnis = {9000};
    ipam.create_network(db);
    ipam.allocate_address("web", "web VIP");
    ipam.allocate_address("web", "web.1");
    ipam.allocate_address("web", "web.2");
    ipam.release_address("web", ip("10.0.1.3"));
    ipam.allocate_address("db", "db.1");
    ipam.reserve_address("db", ip("172.21.0.7"), "static \"quoted\"");
    ipam.save(path);
    CHECK(::access((path + ".tmp").c_str(), F_OK) != 0); // renamed away

    Ipam loaded;
    REQUIRE(loaded.load(path));
    REQUIRE(loaded.network_names() == ipam.network_names());
    for (const auto& name : ipam.network_names()) {
        CAPTURE(name);
        CHECK(loaded.network(name) == ipam.network(name));
    }
    const NetworkInfo d = loaded.network("db");
    CHECK(str(d.subnets[0].gateway) == "172.20.8.0");
    CHECK(*d.subnets[0].ip_range == prefix("172.20.8.0/24"));
    CHECK(d.subnets[1].vni == 4098);
    CHECK(loaded.to_json() == ipam.to_json());

    // Cursors restart from the bottom: the freed .3 is filled, where the running
    // allocator goes on to .5.
    CHECK(str(loaded.allocate_address("web", "web.3")) == "10.0.1.3");
    CHECK(str(ipam.allocate_address("web", "web.3")) == "10.0.1.5");
    CHECK(loaded.create_network(request("next")).subnets[0].vni == 4099);

    // Saving again replaces the file.
    loaded.save(path);
    Ipam reloaded;
    REQUIRE(reloaded.load(path));
    CHECK(reloaded.to_json() == loaded.to_json());

    Ipam fresh;
    CHECK_FALSE(fresh.load(dir.path + "/missing.json"));
    CHECK(fresh.network_names().empty());
}

TEST_CASE("a corrupt state file is named in the error and changes nothing", "[ipam]") {
    TempDir dir;
    const std::string path = dir.path + "/state.json";
    Ipam ipam;
    ipam.create_network(request("keep"));

    write_file(path, "{\"version\": 1, \"networks\": [");
    REQUIRE_THROWS_WITH(ipam.load(path),
                        Catch::Matchers::StartsWith(path + ": corrupt IPAM state: ") &&
                            Catch::Matchers::Contains("parse error"));
    CHECK(ipam.network_names() == std::vector<std::string>{"keep"});

    auto error_for = [&](const std::string& text) {
        write_file(path, text);
        try {
            ipam.load(path);
        } catch (const IpamError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string prefix_ = path + ": corrupt IPAM state: ";
    CHECK(error_for("[]") == prefix_ + "not a JSON object");
    CHECK(error_for(R"({"version": 2, "networks": []})") == prefix_ + "unsupported version 2");
    CHECK(error_for(R"({"version": 1})") == prefix_ + "state.networks: missing");
    CHECK(error_for(R"({"version": 1, "networks": [{"ingress": false}]})") ==
          prefix_ + "networks[0].name: missing");
    CHECK(error_for(R"({"version": 1, "networks": [{"name": "a", "ingress": false,
        "subnets": [{"subnet": "10.0.1/24", "gateway": "10.0.1.1", "vni": 4097}],
        "addresses": []}]})") ==
          prefix_ + "networks[0].subnets[0].subnet: \"10.0.1/24\" is not an IPv4 prefix");
    CHECK(error_for(R"({"version": 1, "networks": [{"name": "a", "ingress": false,
        "subnets": [{"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vni": "x"}],
        "addresses": []}]})") == prefix_ + "networks[0].subnets[0].vni: not an unsigned number");
    CHECK(error_for(R"({"version": 1, "networks": [
        {"name": "blue", "ingress": false, "addresses": [],
         "subnets": [{"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vni": 4097}]},
        {"name": "red", "ingress": false, "addresses": [],
         "subnets": [{"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vni": 4098}]}]})") ==
          prefix_ + "network red: subnet 10.0.1.0/24 overlaps subnet 10.0.1.0/24 of network blue");
    CHECK(error_for(R"({"version": 1, "networks": [
        {"name": "blue", "ingress": false,
         "subnets": [{"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vni": 4097}],
         "addresses": [{"address": "10.0.2.5", "owner": "x"}]}]})") ==
          prefix_ + "network blue: 10.0.2.5 is outside its subnets (10.0.1.0/24)");
    CHECK(ipam.network_names() == std::vector<std::string>{"keep"});
}
