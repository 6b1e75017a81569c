#include "control/model_json.hpp"

namespace vxmesh::control {

using nlohmann::json;

json network_to_json(const model::Network& n) {
    json j = {{"name", n.name},
              {"vni", n.vni},
              {"subnet", model::format_prefix(n.subnet)},
              {"gateway", model::format_ipv4(n.gateway)},
              {"mtu", n.mtu}};
    if (n.ip_range) j["ip_range"] = model::format_prefix(*n.ip_range);
    if (!n.id.empty()) j["id"] = n.id;
    if (!n.created.empty()) j["created"] = n.created;
    j["internal"] = n.internal;
    j["attachable"] = n.attachable;
    j["ingress"] = n.ingress;
    j["encrypted"] = n.encrypted;
    j["labels"] = n.labels; // an object, {} when there are none
    return j;
}

json peer_to_json(const model::Peer& p) {
    return {{"name", p.name}, {"address", model::format_ipv4(p.address)}};
}

json endpoint_to_json(const model::Endpoint& e) {
    json j = {{"name", e.name},
              {"network", e.network},
              {"ip", model::format_ipv4(e.ip)},
              {"mac", model::format_mac(e.mac)},
              {"node", e.node}};
    if (!e.port.empty()) j["port"] = e.port;
    return j;
}

json config_to_json(const model::Config& c) {
    const model::Node& n = c.node;
    json node = {{"name", n.name},
                 {"data_path_addr", model::format_prefix(n.data_path_addr, n.prefix_length)},
                 {"underlay", {{"device", n.underlay.device}}},
                 {"vxlan_port", n.vxlan_port},
                 {"ttl", n.ttl},
                 {"dont_fragment", n.dont_fragment}};
    if (n.gateway) node["gateway"] = model::format_ipv4(*n.gateway);
    if (n.underlay.mac) node["underlay"]["mac"] = model::format_mac(*n.underlay.mac);
    json ports = json::array(), networks = json::array(), peers = json::array(),
         endpoints = json::array();
    for (const auto& p : c.ports) ports.push_back({{"name", p.name}, {"device", p.device}});
    for (const auto& x : c.networks) networks.push_back(network_to_json(x));
    for (const auto& x : c.peers) peers.push_back(peer_to_json(x));
    for (const auto& x : c.endpoints) endpoints.push_back(endpoint_to_json(x));
    return {{"node", node},
            {"ports", ports},
            {"networks", networks},
            {"peers", peers},
            {"endpoints", endpoints}};
}

} // namespace vxmesh::control
