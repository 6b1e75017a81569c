#include "control/config_change.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace vxmesh::control {

namespace {

// Erases the objects `gone` names from `list` in one pass that keeps the order of the
// rest (the list may hold 100k endpoints; erasing one by one would move them each time).
template <typename T, typename Key>
void erase_all(std::vector<T>& list, const std::vector<T>& gone, Key key) {
    if (gone.empty()) return;
    std::unordered_set<std::string> names;
    for (const T& o : gone)
        names.insert(key(o));
    std::erase_if(list, [&](const T& o) { return names.erase(key(o)) > 0; });
}

} // namespace

void apply_change(model::Config& config, const ConfigChange& change) {
    auto name = [](const auto& o) { return o.name; };
    auto lb_key = [](const model::LoadBalancer& lb) { return lb.network + '\n' + lb.node; };
    erase_all(config.peers, change.removed_peers, name);
    erase_all(config.endpoints, change.removed_endpoints, name);
    erase_all(config.load_balancers, change.removed_load_balancers, lb_key);
    config.peers.insert(config.peers.end(), change.added_peers.begin(), change.added_peers.end());
    config.endpoints.insert(config.endpoints.end(), change.added_endpoints.begin(),
                            change.added_endpoints.end());
    if (change.added_load_balancers.empty()) return;
    config.load_balancers.insert(config.load_balancers.end(), change.added_load_balancers.begin(),
                                 change.added_load_balancers.end());
    // In Docker's order, as allocate_load_balancers() lists them: networks in order, this
    // node first, then the peers in order.
    std::unordered_map<std::string, std::size_t> network_rank, node_rank;
    for (std::size_t i = 0; i < config.networks.size(); ++i)
        network_rank.emplace(config.networks[i].name, i);
    node_rank.emplace(config.node.name, 0);
    for (std::size_t i = 0; i < config.peers.size(); ++i)
        node_rank.emplace(config.peers[i].name, i + 1);
    auto rank = [&](const model::LoadBalancer& lb) {
        auto n = network_rank.find(lb.network);
        auto d = node_rank.find(lb.node);
        return std::pair{n == network_rank.end() ? SIZE_MAX : n->second,
                         d == node_rank.end() ? SIZE_MAX : d->second};
    };
    std::stable_sort(config.load_balancers.begin(), config.load_balancers.end(),
                     [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
}

} // namespace vxmesh::control
