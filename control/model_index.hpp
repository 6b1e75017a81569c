// The model's indexes and its per-object rules.
//
// A configuration is valid when every object, taken in order, passes its rules against
// the objects before it: names unique, references resolving, addresses inside their
// subnets and used once, VNIs, MACs and published ports unique, subnets disjoint. The
// rules are written once, here, as checks of one object against a ModelIndex (maps from
// names, addresses, MACs, VNIs, ports to their holders), and every path uses them:
//  - a whole document (a file, `apply`, SIGHUP, start-up): ModelIndex::validate() checks
//    each object and adds it, in the order node, ports, networks, peers, services, load
//    balancers, endpoints;
//  - a typed change (a patch's endpoint or peer operations): the running model's index,
//    kept by control/network_state.hpp, checks the new object, and is updated in place,
//    in O(size of the change).
// An object appended to its list is thus refused with the same error either way (a unit
// test holds them to it). Errors are ConfigError with an ErrorInfo (control/config_error.hpp).
//
// DPDK-free and yaml-free: part of libvxmesh_model.
#pragma once

#include "control/config_error.hpp"
#include "control/model.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vxmesh::control {

// Where each value of a document read from a file came from, by its field path
// ("networks[1].vni"), so that an error found by a rule points at the value itself.
using FieldOrigins = std::map<std::string, model::Origin>;

// Where the object being checked is: its list and index, and for a patch's operation the
// member holding it ("ops", 3, "object").
struct Place {
    std::string list;
    std::size_t index = 0;
    std::string within;
};

// What the rules need besides the index: the configuration whose lists give the other
// objects' positions in messages ("duplicates endpoints[3].mac"), and the file positions.
struct RuleContext {
    const model::Config& config;
    const FieldOrigins* origins = nullptr;
};

class ModelIndex {
public:
    // Checks `config` object by object and returns its index. Throws ConfigError (at the
    // value's position in `origins` when given, else at the object's origin).
    static ModelIndex validate(const model::Config& config, const FieldOrigins* origins = nullptr);
    // The index of a configuration already known to be valid, without the checks.
    static ModelIndex of(const model::Config& config);

    // The rules: whether the object may join the model this index describes. Each throws
    // ConfigError naming `at` (and the object it clashes with, from ctx.config's lists).
    void check_node(const model::Node& node, const RuleContext& ctx) const;
    void check_port(const model::AccessPort& port, const Place& at, const RuleContext& ctx) const;
    void check_network(const model::Network& n, const Place& at, const RuleContext& ctx) const;
    void check_peer(const model::Peer& p, const Place& at, const RuleContext& ctx) const;
    void check_service(const model::Service& s, const Place& at, const RuleContext& ctx) const;
    void check_load_balancer(const model::LoadBalancer& lb, const Place& at,
                             const RuleContext& ctx) const;
    void check_endpoint(const model::Endpoint& e, const Place& at, const RuleContext& ctx) const;

    // Record an object that passed its check, or forget one. Removal takes the object as
    // the index holds it, so an endpoint's keys need no search.
    void add(const model::Node& node);
    void add(const model::AccessPort& port);
    void add(const model::Network& n);
    void add(const model::Peer& p);
    void add(const model::Service& s);
    void add(const model::LoadBalancer& lb);
    void add(const model::Endpoint& e);
    void remove_endpoint(const std::string& name);
    void remove_peer(const std::string& name);
    void remove_load_balancer(const std::string& network, const std::string& node);

    // Lookups for typed changes (nullptr: none).
    const model::Network* network(const std::string& name) const;
    const model::Peer* peer(const std::string& name) const;
    const model::Endpoint* endpoint(const std::string& name) const;
    const model::Service* service(const std::string& name) const;
    const model::LoadBalancer* load_balancer(const std::string& network,
                                             const std::string& node) const;
    // How many endpoints are on a node (this one or a peer); tasks of any service on a
    // (network, node), which need that node's load balancer there; tasks of a service on a
    // network, which hold Docker's LB index of the pair.
    std::size_t endpoints_on(const std::string& node) const;
    std::size_t tasks_at(const std::string& network, const std::string& node) const;
    std::size_t tasks_of(const std::string& service, const std::string& network) const;
    const std::string& node_name() const { return node_name_; }
    std::size_t endpoint_count() const { return endpoints_.size(); }

    // Whether two indexes hold the same objects and keys (the property test compares an
    // index kept through changes with one built afresh).
    bool operator==(const ModelIndex&) const = default;

private:
    // Who holds an address in a network: an endpoint, a service's VIP, or a node's load
    // balancer (name: the endpoint's, the service's, the node's).
    enum class Holder : uint8_t { Endpoint, Vip, LoadBalancer };
    struct Owner {
        Holder holder;
        std::string name;
        bool operator==(const Owner&) const = default;
    };
    struct PairHash {
        template <typename A, typename B> std::size_t operator()(const std::pair<A, B>& p) const {
            return std::hash<A>{}(p.first) * 31 + std::hash<B>{}(p.second);
        }
    };
    template <typename A, typename B, typename V>
    using PairMap = std::unordered_map<std::pair<A, B>, V, PairHash>;

    std::vector<std::string> attached(const model::Service& s) const;
    // The path of the first holder of an address, for "duplicates PATH".
    std::string owner_path(const Owner& o, const std::string& network,
                           const RuleContext& ctx) const;
    void check_address(const std::string& field, model::Ipv4 address, const model::Network& net,
                       const class Rule& rule) const;

    std::string node_name_;
    std::string underlay_id_;
    std::unordered_map<std::string, std::string> ports_;    // name -> device identity
    std::unordered_map<std::string, std::string> port_ids_; // device identity -> name
    std::unordered_map<std::string, model::Network> networks_;
    std::map<uint32_t, std::string> vnis_;                         // VNI -> network
    std::map<uint32_t, std::pair<uint32_t, std::string>> subnets_; // first -> last, network
    std::unordered_map<std::string, std::string> network_ids_;     // id -> network
    std::string ingress_;                                          // the ingress network
    std::unordered_map<std::string, model::Peer> peers_;
    std::unordered_map<uint32_t, std::string> peer_addresses_; // address -> peer
    std::unordered_map<std::string, model::Service> services_;
    std::unordered_map<std::string, std::string> service_ids_; // id -> service
    // Published ports: (port, protocol) -> the first service publishing it in that mode.
    std::map<std::pair<uint16_t, model::Protocol>, std::string> ingress_ports_;
    std::map<std::pair<uint16_t, model::Protocol>, std::string> host_ports_;
    std::unordered_map<std::string, model::Endpoint> endpoints_;
    PairMap<std::string, uint32_t, Owner> addresses_;                       // (network, IP)
    PairMap<std::string, uint64_t, std::string> macs_;                      // (network, MAC)
    PairMap<std::string, uint64_t, std::string> port_macs_;                 // (port, MAC)
    PairMap<std::string, std::string, model::LoadBalancer> load_balancers_; // (network, node)
    std::unordered_map<std::string, std::size_t> on_node_;
    PairMap<std::string, std::string, std::size_t> tasks_at_; // (network, node)
    PairMap<std::string, std::string, std::size_t> tasks_of_; // (service, network)

    friend class Rule;
};

namespace rules {

inline constexpr std::size_t kMaxNameLength = 63;
inline constexpr uint32_t kMaxVni = 16777215;
inline constexpr int kMinMtu = 576;
inline constexpr int kMaxMtu = 9000;
inline constexpr int kEncryptedMtu = 1424;
inline constexpr std::size_t kIdLength = 25;
inline constexpr int kMinSubnetLength = 8;
inline constexpr int kMaxSubnetLength = 30;
inline constexpr int kMinUnderlayLength = 8;
inline constexpr int kMaxUnderlayLength = 31;

// User text echoed in a message: quoted, control characters and bytes that are not UTF-8
// escaped, long text cut (never inside a character: the message must stay UTF-8).
std::string quote(std::string_view text);
using model::hex_value;
using model::is_digit;
bool valid_name(std::string_view name);
bool valid_id(std::string_view id);
bool has_control(std::string_view text);
bool valid_rfc3339(std::string_view t);
bool is_unicast(model::Ipv4 ip);
uint32_t mask_of(unsigned length);
uint32_t network_of(model::Ipv4 ip, unsigned length);
uint32_t broadcast_of(model::Ipv4 ip, unsigned length);
bool is_unicast_mac(const model::Mac& mac);
bool is_zero_mac(const model::Mac& mac);
// What identifies a DPDK device string (its PCI address or vdev name), nullopt when it is
// neither.
std::optional<std::string> device_identity(std::string_view dev);

} // namespace rules

} // namespace vxmesh::control
