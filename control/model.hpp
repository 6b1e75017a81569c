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
    bool operator==(const Origin&) const = default;
};

struct Underlay {
    std::string device;     // DPDK device string: PCI address or vdev with its args
    std::optional<Mac> mac; // source MAC on the underlay; default: the port's own
};

struct Node {
    std::string name;
    Ipv4 data_path_addr;         // our VTEP address
    uint8_t prefix_length = 24;  // on-link underlay prefix around data_path_addr
    std::optional<Ipv4> gateway; // underlay next hop for peers outside that prefix
    Underlay underlay;
    uint16_t vxlan_port = 4789;
    uint8_t ttl = 64;
    bool dont_fragment = true;
    // Decapsulate VXLAN from senders that are no configured peer (never from a martian
    // address); their inner source must be no known endpoint. Off: only peers are heard.
    bool accept_unknown_peers = false;
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
    Ipv4 gateway;        // default: first host address of the subnet
    uint16_t mtu = 1450; // default: 1450, or 1424 when encrypted
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
    bool operator==(const Network&) const = default;
};

struct Peer {
    std::string name; // the peer node's name
    Ipv4 address;     // its VTEP (data-path) address
    Origin origin;
    bool operator==(const Peer&) const = default;
};

struct Endpoint {
    std::string name;
    std::string network;
    Ipv4 ip;
    Mac mac;
    std::string node;    // this node's name or a peer's name
    std::string port;    // access port name; required when node is this node
    std::string service; // the service this endpoint is a task of; "" for a plain container
    Origin origin;
    bool operator==(const Endpoint&) const = default;
};

// Services, as Docker swarm's, as control-plane objects: names, ids, VIPs and published
// ports that IPAM and `network inspect -v` account for. The load-balancing data path
// (VIPs, the routing mesh, DNS) is a later issue: nothing here reaches the dataplane.
enum class EndpointMode : uint8_t { Vip, Dnsrr }; // --endpoint-mode
enum class Protocol : uint8_t { Tcp, Udp };
enum class PublishMode : uint8_t { Ingress, Host }; // --publish mode=

// --publish published=P,target=T,protocol=tcp|udp,mode=ingress|host
struct PublishedPort {
    Protocol protocol = Protocol::Tcp;
    uint16_t target = 0;    // the port inside the tasks
    uint16_t published = 0; // the port on the nodes
    PublishMode mode = PublishMode::Ingress;
    bool operator==(const PublishedPort&) const = default;
};

struct Service {
    std::string name;
    // As a network's: 25 characters of 0-9 a-z and an RFC 3339 time, assigned by the
    // control plane when absent.
    std::string id;
    std::string created;
    EndpointMode endpoint_mode = EndpointMode::Vip;
    // The networks it is attached to, as given. Never the ingress network: a service that
    // publishes a port in ingress mode is attached to it implicitly (attached_networks()).
    std::vector<std::string> networks;
    std::vector<PublishedPort> ports;
    // network -> VIP, for each attached network of a vip service; assigned by IPAM when
    // absent, none for dnsrr.
    std::map<std::string, Ipv4> vips;
    Origin origin;
    bool operator==(const Service&) const = default;

    bool publishes_ingress() const {
        for (const auto& p : ports)
            if (p.mode == PublishMode::Ingress) return true;
        return false;
    }
};

// Docker's load-balancer endpoint of a node on a network ("lb-NETWORK", "ingress-sbox" on
// the ingress network): one address for each node that has a task on the network. The
// control plane keeps exactly those, allocating them after the tasks' addresses.
struct LoadBalancer {
    std::string network;
    std::string node; // this node's name or a peer's name
    Ipv4 ip;
    Origin origin;
    bool operator==(const LoadBalancer&) const = default;
};

// A decimal digit; a hex digit's value (-1 for anything else).
inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

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

// "vip"/"dnsrr", "tcp"/"udp", "ingress"/"host", and back (nullopt for anything else).
std::string_view to_string(EndpointMode mode);
std::string_view to_string(Protocol protocol);
std::string_view to_string(PublishMode mode);
std::optional<EndpointMode> parse_endpoint_mode(std::string_view text);
std::optional<Protocol> parse_protocol(std::string_view text);
std::optional<PublishMode> parse_publish_mode(std::string_view text);

struct Config {
    Node node;
    std::vector<AccessPort> ports;
    std::vector<Network> networks;
    std::vector<Peer> peers;
    std::vector<Endpoint> endpoints;
    std::vector<Service> services;
    std::vector<LoadBalancer> load_balancers;

    const Network* ingress_network() const; // nullptr when there is none
};

// The networks `service` is attached to: its own, then the ingress network when it
// publishes a port in ingress mode (as swarmkit attaches it) and there is one.
std::vector<std::string> attached_networks(const Config& config, const Service& service);

// The MAC Docker gives an address: 02:42 followed by its four bytes.
Mac default_mac(Ipv4 ip);

} // namespace vxmesh::model
