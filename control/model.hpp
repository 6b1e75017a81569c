// The model: what the operator (YAML) or an orchestrator says exists on this node.
//
// Plain values with no DPDK types; control/snapshot_build.cpp compiles a validated
// Config into the dataplane's immutable Snapshot. Addresses are held in host byte
// order here and converted to network order only when the snapshot is compiled.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vxmesh::model {

struct Mac {
    std::array<uint8_t, 6> bytes{};
    bool operator==(const Mac&) const = default;
};

// An IPv4 address in host byte order.
struct Ipv4 {
    uint32_t value = 0;
    bool operator==(const Ipv4&) const = default;
};

struct Ipv4Prefix {
    Ipv4 address;
    uint8_t length = 0;
    uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
    bool contains(Ipv4 ip) const { return (ip.value & mask()) == (address.value & mask()); }
    bool operator==(const Ipv4Prefix&) const = default;
};

// Where a YAML value came from, so that errors found after parsing (validation)
// can still name file:line:column.
struct Origin {
    std::string file;
    int line = 0;   // 1-based; 0 when unknown
    int column = 0; // 1-based
};

struct Underlay {
    std::string device;        // DPDK device string: PCI address or vdev with its args
    std::optional<Mac> mac;    // source MAC on the underlay; default: the port's own
};

struct Node {
    std::string name;
    Ipv4 data_path_addr;          // our VTEP address
    uint8_t prefix_length = 24;   // on-link underlay prefix around data_path_addr
    std::optional<Ipv4> gateway;  // underlay next hop for peers outside that prefix
    Underlay underlay;
    uint16_t vxlan_port = 4789;
    uint8_t ttl = 64;
    bool dont_fragment = true;
    Origin origin;
};

struct AccessPort {
    std::string name;
    std::string device;
    Origin origin;
};

struct Network {
    std::string name;
    uint32_t vni = 0;
    Ipv4Prefix subnet;
    Ipv4 gateway;     // default: first host address of the subnet
    uint16_t mtu = 1450;  // default: 1450, or 1424 when encrypted
    // Where IPAM hands out addresses to endpoints attached without one; default: the
    // whole subnet.
    std::optional<Ipv4Prefix> ip_range;
    // What docker network inspect shows. `id` (25 characters of 0-9 a-z, as swarm's) and
    // `created` (RFC 3339, UTC, nanoseconds) are assigned by the control plane when a
    // network has none (control/network_state.hpp).
    std::string id;
    std::string created;
    bool internal = false;
    bool attachable = false;
    bool ingress = false;   // at most one network
    bool encrypted = false; // recorded and shown only: vxmesh does not encrypt
    std::map<std::string, std::string> labels;
    Origin origin;
};

struct Peer {
    std::string name;   // the peer node's name
    Ipv4 address;       // its VTEP (data-path) address
    Origin origin;
};

struct Endpoint {
    std::string name;
    std::string network;
    Ipv4 ip;
    Mac mac;
    std::string node;   // this node's name or a peer's name
    std::string port;   // access port name; required when node is this node
    Origin origin;
};

// Text forms used in messages, JSON and YAML: 10.0.1.2, 10.0.1.0/24, 02:42:0a:00:01:02.
std::string format_ipv4(Ipv4 ip);
std::string format_prefix(Ipv4 ip, unsigned length);
std::string format_prefix(const Ipv4Prefix& p);
std::string format_mac(const Mac& mac);

// Strict parsers for those forms: four decimal octets without leading zeros, signs or
// spaces; "a.b.c.d/len" with len 0..32; six hex pairs separated by ':'. nullopt when
// the text is anything else.
std::optional<Ipv4> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_prefix(std::string_view text);
std::optional<Mac> parse_mac(std::string_view text);

struct Config {
    Node node;
    std::vector<AccessPort> ports;
    std::vector<Network> networks;
    std::vector<Peer> peers;
    std::vector<Endpoint> endpoints;
};

} // namespace vxmesh::model
