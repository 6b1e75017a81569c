// What `docker network inspect` prints for a swarm-scoped overlay network, built from
// vxmesh's desired configuration (used by vxmeshctl; docs: control/PROTOCOL.md).
#pragma once

#include "control/model.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace vxmesh::control {

// The network's object, keys in Docker's order: Name, Id, Created, Scope, Driver,
// EnableIPv6, IPAM, Internal, Attachable, Ingress, ConfigFrom, ConfigOnly, Containers
// (this node's endpoints, keyed by name; null when there are none, as Docker prints),
// Options, Labels, Peers (this node, then every peer) and, when `verbose`, Services
// (always {}: vxmesh has no services yet). Maps are sorted by key, as Go prints them.
nlohmann::ordered_json network_inspect(const model::Config& config, const model::Network& network,
                                       bool verbose);

// The network `name_or_id` designates, as docker resolves it: its name, else its full id,
// else a prefix of exactly one network's id. nullptr when none does.
const model::Network* find_network(const model::Config& config, const std::string& name_or_id);

} // namespace vxmesh::control
