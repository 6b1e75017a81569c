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
    if (!e.service.empty()) j["service"] = e.service;
    return j;
}

json service_to_json(const model::Service& s) {
    json j = {{"name", s.name}};
    if (!s.id.empty()) j["id"] = s.id;
    if (!s.created.empty()) j["created"] = s.created;
    j["endpoint_mode"] = model::to_string(s.endpoint_mode);
    j["networks"] = s.networks;
    json ports = json::array();
    for (const auto& p : s.ports) {
        ports.push_back({{"protocol", model::to_string(p.protocol)},
                         {"target", p.target},
                         {"published", p.published},
                         {"mode", model::to_string(p.mode)}});
    }
    j["ports"] = ports;
    json vips = json::object();
    for (const auto& [network, ip] : s.vips)
        vips[network] = model::format_ipv4(ip);
    j["vips"] = vips;
    return j;
}

json load_balancer_to_json(const model::LoadBalancer& lb) {
    return {{"network", lb.network}, {"node", lb.node}, {"ip", model::format_ipv4(lb.ip)}};
}

std::string load_balancer_name(const model::LoadBalancer& lb) {
    return "lb-" + lb.network + "@" + lb.node;
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
    if (n.accept_unknown_peers) node["accept_unknown_peers"] = true; // off unless asked
    if (n.underlay.mac) node["underlay"]["mac"] = model::format_mac(*n.underlay.mac);
    json ports = json::array(), networks = json::array(), peers = json::array(),
         endpoints = json::array(), services = json::array(), load_balancers = json::array();
    for (const auto& p : c.ports)
        ports.push_back({{"name", p.name}, {"device", p.device}});
    for (const auto& x : c.networks)
        networks.push_back(network_to_json(x));
    for (const auto& x : c.peers)
        peers.push_back(peer_to_json(x));
    for (const auto& x : c.endpoints)
        endpoints.push_back(endpoint_to_json(x));
    for (const auto& x : c.services)
        services.push_back(service_to_json(x));
    for (const auto& x : c.load_balancers)
        load_balancers.push_back(load_balancer_to_json(x));
    return {{"node", node},
            {"ports", ports},
            {"networks", networks},
            {"peers", peers},
            {"endpoints", endpoints},
            {"services", services},
            {"load_balancers", load_balancers}};
}

} // namespace vxmesh::control
