// The model as JSON, in the same schema as the YAML file (config/README.md), so that
// what `get` returns can be edited and sent back with `apply`, and a patched
// document is validated by the very same loader.
#pragma once

#include "control/model.hpp"

#include <nlohmann/json.hpp>

namespace vxmesh::control {

nlohmann::json config_to_json(const model::Config& config);
nlohmann::json network_to_json(const model::Network& n);
nlohmann::json peer_to_json(const model::Peer& p);
nlohmann::json endpoint_to_json(const model::Endpoint& e);
nlohmann::json service_to_json(const model::Service& s);
nlohmann::json load_balancer_to_json(const model::LoadBalancer& lb);

// The name a load balancer goes by in changes and messages: "lb-NETWORK@NODE".
std::string load_balancer_name(const model::LoadBalancer& lb);

} // namespace vxmesh::control
