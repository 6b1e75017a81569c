#include "control/network_inspect.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace vxmesh::control {

using nlohmann::ordered_json;

namespace {

constexpr uint16_t kDefaultMtu = 1450;
constexpr uint16_t kDefaultEncryptedMtu = 1424;

// Services of `n` as libnetwork's Network.Services() builds them: from the endpoint
// records of the network's tasks, grouped by service (so a service without a task on the
// network is not listed); the VIP bare, or "<nil>" for dnsrr (libnetwork's
// EndpointRecord.VirtualIP is ep.virtualIP.String(), and a nil net.IP prints "<nil>"); the
// ingress ports ("Target: T, Publish: P") only on the ingress network, where Docker
// gossips them, [] elsewhere; LocalLBIndex from this node's load balancers (0 when it has
// none); each task with the data-path address of its node as "Host IP".
ordered_json services_on(const model::Config& config, const model::Network& n,
                         const LbIndexes& lb_indexes) {
    std::map<std::string, std::string> host_ip{
        {config.node.name, model::format_ipv4(config.node.data_path_addr)}};
    for (const auto& p : config.peers)
        host_ip[p.name] = model::format_ipv4(p.address);
    // The network's tasks grouped by service in one pass over the endpoints, in their order.
    std::unordered_map<std::string, ordered_json> tasks_of;
    for (const auto& e : config.endpoints) {
        if (e.service.empty() || e.network != n.name) continue;
        ordered_json& tasks = tasks_of.try_emplace(e.service, ordered_json::array()).first->second;
        tasks.push_back({{"Name", e.name},
                         {"EndpointID", e.name},
                         {"EndpointIP", model::format_ipv4(e.ip)},
                         {"Info", {{"Host IP", host_ip[e.node]}}}});
    }
    std::map<std::string, ordered_json> services;
    for (const auto& s : config.services) {
        auto found = tasks_of.find(s.name);
        if (found == tasks_of.end()) continue;
        ordered_json& tasks = found->second;
        ordered_json ports = ordered_json::array();
        if (n.ingress)
            for (const auto& p : s.ports)
                if (p.mode == model::PublishMode::Ingress) ports.push_back(docker_port_text(p));
        auto vip = s.vips.find(n.name);
        auto index = lb_indexes.find({s.name, n.name});
        services[s.name] = {
            {"VIP", vip == s.vips.end() ? std::string("<nil>") : model::format_ipv4(vip->second)},
            {"Ports", ports},
            {"LocalLBIndex", index == lb_indexes.end() ? 0 : index->second},
            {"Tasks", std::move(tasks)}};
    }
    ordered_json out = ordered_json::object();
    for (auto& [name, service] : services)
        out[name] = std::move(service);
    return out;
}

} // namespace

ordered_json network_inspect(const model::Config& config, const model::Network& n, bool verbose,
                             const LbIndexes& lb_indexes) {
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
    // This node's load-balancer endpoint, as Docker lists it among the containers.
    for (const auto& lb : config.load_balancers) {
        if (lb.network != n.name || lb.node != config.node.name) continue;
        const std::string key = n.ingress ? "ingress-sbox" : "lb-" + n.name;
        local[key] = {{"Name", n.ingress ? std::string("ingress-endpoint") : n.name + "-endpoint"},
                      {"EndpointID", key},
                      {"MacAddress", model::format_mac(model::default_mac(lb.ip))},
                      {"IPv4Address", model::format_prefix(lb.ip, n.subnet.length)},
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
    if (verbose) out["Services"] = services_on(config, n, lb_indexes);
    return out;
}

ordered_json service_inspect(const model::Config& config, const model::Service& s) {
    auto network_id = [&](const std::string& name) {
        for (const auto& n : config.networks)
            if (n.name == name) return n.id;
        return name;
    };
    ordered_json ports = ordered_json::array();
    for (const auto& p : s.ports) {
        ports.push_back({{"Protocol", model::to_string(p.protocol)},
                         {"TargetPort", p.target},
                         {"PublishedPort", p.published},
                         {"PublishMode", model::to_string(p.mode)}});
    }
    ordered_json endpoint_spec = {{"Mode", model::to_string(s.endpoint_mode)}};
    if (!ports.empty()) endpoint_spec["Ports"] = ports; // omitempty, as Docker's
    ordered_json networks = ordered_json::array();
    for (const auto& name : s.networks)
        networks.push_back({{"Target", network_id(name)}});

    ordered_json spec;
    spec["Name"] = s.name;
    spec["Labels"] = ordered_json::object();
    spec["TaskTemplate"] = {{"Networks", networks}};
    spec["EndpointSpec"] = endpoint_spec;

    ordered_json endpoint;
    endpoint["Spec"] = endpoint_spec;
    if (!ports.empty()) endpoint["Ports"] = ports;
    // The ingress VIP first: swarmkit's allocator puts the ingress network's VIP in
    // Endpoint.VirtualIPs when a service publishes in ingress mode, and allocateService
    // keeps it ahead of the VIPs of the networks the spec names.
    std::vector<std::string> attached = model::attached_networks(config, s);
    const model::Network* ingress = config.ingress_network();
    std::stable_partition(attached.begin(), attached.end(), [&](const std::string& name) {
        return ingress != nullptr && name == ingress->name;
    });
    ordered_json vips = ordered_json::array();
    for (const auto& name : attached) {
        auto vip = s.vips.find(name);
        if (vip == s.vips.end()) continue;
        uint8_t length = 32;
        for (const auto& n : config.networks)
            if (n.name == name) length = n.subnet.length;
        vips.push_back(
            {{"NetworkID", network_id(name)}, {"Addr", model::format_prefix(vip->second, length)}});
    }
    if (!vips.empty()) endpoint["VirtualIPs"] = vips;

    ordered_json out;
    out["ID"] = s.id;
    out["CreatedAt"] = s.created;
    out["Spec"] = spec;
    out["Endpoint"] = endpoint;
    return out;
}

std::string docker_port_text(const model::PublishedPort& port) {
    return "Target: " + std::to_string(port.target) +
           ", Publish: " + std::to_string(port.published);
}

namespace {

template <typename T>
const T* find_by_name_or_id(const std::vector<T>& items, const std::string& name_or_id) {
    if (name_or_id.empty()) return nullptr;
    for (const auto& n : items)
        if (n.name == name_or_id) return &n;
    for (const auto& n : items)
        if (n.id == name_or_id) return &n;
    const T* found = nullptr;
    for (const auto& n : items) {
        if (n.id.starts_with(name_or_id)) {
            if (found != nullptr) return nullptr; // ambiguous
            found = &n;
        }
    }
    return found;
}

} // namespace

const model::Network* find_network(const model::Config& config, const std::string& name_or_id) {
    return find_by_name_or_id(config.networks, name_or_id);
}

const model::Service* find_service(const model::Config& config, const std::string& name_or_id) {
    return find_by_name_or_id(config.services, name_or_id);
}

} // namespace vxmesh::control
