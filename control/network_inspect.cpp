#include "control/network_inspect.hpp"

#include <map>

namespace vxmesh::control {

using nlohmann::ordered_json;

namespace {

constexpr uint16_t kDefaultMtu = 1450;
constexpr uint16_t kDefaultEncryptedMtu = 1424;

} // namespace

ordered_json network_inspect(const model::Config& config, const model::Network& n, bool verbose) {
    ordered_json ipam_config = {{"Subnet", model::format_prefix(n.subnet)}};
    if (n.ip_range) ipam_config["IPRange"] = model::format_prefix(*n.ip_range);
    ipam_config["Gateway"] = model::format_ipv4(n.gateway);

    std::map<std::string, ordered_json> local;
    for (const auto& e : config.endpoints) {
        if (e.network != n.name || e.node != config.node.name) continue;
        local[e.name] = {{"Name", e.name},
                         {"EndpointID", e.name},
                         {"MacAddress", model::format_mac(e.mac)},
                         {"IPv4Address", model::format_prefix(e.ip, n.subnet.length)},
                         {"IPv6Address", ""}};
    }
    ordered_json containers = nullptr;
    for (auto& [name, endpoint] : local)
        containers[name] = std::move(endpoint);

    // Docker shows the driver options given at creation; vxmesh keeps what they set.
    std::map<std::string, std::string> options;
    options["com.docker.network.driver.overlay.vxlanid_list"] = std::to_string(n.vni);
    if (n.mtu != (n.encrypted ? kDefaultEncryptedMtu : kDefaultMtu))
        options["com.docker.network.driver.mtu"] = std::to_string(n.mtu);
    if (n.encrypted) options["encrypted"] = "";

    ordered_json labels = ordered_json::object();
    for (const auto& [key, value] : n.labels)
        labels[key] = value;

    ordered_json peers = ordered_json::array();
    peers.push_back(
        {{"Name", config.node.name}, {"IP", model::format_ipv4(config.node.data_path_addr)}});
    for (const auto& p : config.peers)
        peers.push_back({{"Name", p.name}, {"IP", model::format_ipv4(p.address)}});

    ordered_json out;
    out["Name"] = n.name;
    out["Id"] = n.id;
    out["Created"] = n.created;
    out["Scope"] = "swarm";
    out["Driver"] = "overlay";
    out["EnableIPv6"] = false;
    out["IPAM"] = {{"Driver", "default"},
                   {"Options", nullptr},
                   {"Config", ordered_json::array({ipam_config})}};
    out["Internal"] = n.internal;
    out["Attachable"] = n.attachable;
    out["Ingress"] = n.ingress;
    out["ConfigFrom"] = {{"Network", ""}};
    out["ConfigOnly"] = false;
    out["Containers"] = containers;
    ordered_json opts = ordered_json::object();
    for (const auto& [key, value] : options)
        opts[key] = value;
    out["Options"] = opts;
    out["Labels"] = labels;
    out["Peers"] = peers;
    if (verbose) out["Services"] = ordered_json::object();
    return out;
}

const model::Network* find_network(const model::Config& config, const std::string& name_or_id) {
    if (name_or_id.empty()) return nullptr;
    for (const auto& n : config.networks)
        if (n.name == name_or_id) return &n;
    for (const auto& n : config.networks)
        if (n.id == name_or_id) return &n;
    const model::Network* found = nullptr;
    for (const auto& n : config.networks) {
        if (n.id.starts_with(name_or_id)) {
            if (found != nullptr) return nullptr; // ambiguous
            found = &n;
        }
    }
    return found;
}

} // namespace vxmesh::control
