// Counters as a JSON document (the `stats` reply, --stats-json), read from the lcores'
// blocks and the ports' devices; control/stats_text.hpp prints it.
#pragma once

#include "dataplane/lcore.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vxmesh::control {

struct NamedPort {
    std::string name;
    uint16_t id;
};

// {"generation", "tsc", "tsc_hz", "ports": {name: {"rx", "tx", the device's own
//  counters of dp::port_counter_names: "rx_missed", ..., and "link": "up" or "down"
//  (dataplane/port_watch.hpp)}}, "encap", "decap", ...,
//  "drops": {reason: n}, "lcores": {"ID": {same counters}}} — totals summed over lcores;
// `tsc`/`tsc_hz` date the sample so that two samples give a rate.
nlohmann::json stats_document(const std::vector<NamedPort>& ports, uint64_t generation,
                              uint64_t tsc, uint64_t tsc_hz);

} // namespace vxmesh::control
