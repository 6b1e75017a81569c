// The stats document (control/stats_format.hpp) as text and as Prometheus metrics.
// DPDK-free: vxmeshctl prints the document a running vxmesh sends with these.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace vxmesh::control {

// The table `vxmeshctl stats` and vxmesh's final counters print: ports with their
// device counters and link, vxmesh's counters, the drops that happened and their total.
std::string stats_text(const nlohmann::json& doc);

// The Prometheus text format of the document, every metric labelled with `node`.
std::string stats_prometheus(const nlohmann::json& doc, const std::string& node);

} // namespace vxmesh::control
