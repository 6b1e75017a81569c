// What `docker network inspect` and `docker service inspect` print for swarm-scoped
// overlay networks and services, built from vxmesh's desired configuration (used by
// vxmeshctl; docs: control/PROTOCOL.md).
#pragma once

#include "control/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace vxmesh::control {

// Docker's LocalLBIndex of each (service, network): the firewall mark libnetwork gives the
// load balancer of a service on a network on this node (see NetworkState::lb_indexes()).
using LbIndexes = std::map<std::pair<std::string, std::string>, uint32_t>;

// The network's object, keys in Docker's order: Name, Id, Created, Scope, Driver,
// EnableIPv6, IPAM, Internal, Attachable, Ingress, ConfigFrom, ConfigOnly, Containers
// (this node's endpoints, keyed by name, and this node's load-balancer endpoint,
// "lb-NETWORK" or "ingress-sbox"; null when there are none, as Docker prints), Options,
// Labels, Peers (this node, then every peer) and, when `verbose`, Services: each service
// with a task on the network, as libnetwork groups its endpoint records ({VIP, Ports,
// LocalLBIndex, Tasks}). Maps are sorted by key, as Go prints them.
nlohmann::ordered_json network_inspect(const model::Config& config, const model::Network& network,
                                       bool verbose, const LbIndexes& lb_indexes = {});

// The service's object, keys in Docker's order, as far as vxmesh has them: ID, CreatedAt,
// Spec {Name, Labels, TaskTemplate {Networks [{Target}]}, EndpointSpec {Mode, Ports}},
// Endpoint {Spec, Ports, VirtualIPs [{NetworkID, Addr}]}.
nlohmann::ordered_json service_inspect(const model::Config& config, const model::Service& service);

// The network `name_or_id` designates, as docker resolves it: its name, else its full id,
// else a prefix of exactly one network's id. nullptr when none does. The same for services.
const model::Network* find_network(const model::Config& config, const std::string& name_or_id);
const model::Service* find_service(const model::Config& config, const std::string& name_or_id);

// "Target: 80, Publish: 8080", as libnetwork lists a service's ingress ports.
std::string docker_port_text(const model::PublishedPort& port);

} // namespace vxmesh::control
