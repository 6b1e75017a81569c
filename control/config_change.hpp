// A typed change of the model: endpoints, peers and load balancers added or removed, what
// an orchestrator's churn is made of (attach, detach, scale, a node joining or leaving).
// control/network_state.hpp checks one against the model's index and IPAM, in O(size of
// the change); the plane applies it to its configuration in place (apply_change), and
// to the dataplane without recompiling what did not change.
#pragma once

#include "control/model.hpp"

#include <string>
#include <vector>

namespace vxmesh::control {

struct ConfigChange {
    // Removals are applied first, by name (load balancers by network and node), then
    // additions at the end of their lists, in this order.
    std::vector<model::Peer> removed_peers;
    std::vector<model::Endpoint> removed_endpoints;
    std::vector<model::LoadBalancer> removed_load_balancers;
    std::vector<model::Peer> added_peers;
    std::vector<model::Endpoint> added_endpoints;
    std::vector<model::LoadBalancer> added_load_balancers;

    bool touches_peers() const { return !removed_peers.empty() || !added_peers.empty(); }
};

// `config` with `change` made: what a plane's apply_change() runs, and what a change is
// checked to equal in tests. Removing what is not there does nothing.
void apply_change(model::Config& config, const ConfigChange& change);

} // namespace vxmesh::control
