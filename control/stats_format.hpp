// Counters as text (printed at exit) and as JSON (--stats-json, tests, tools).
#pragma once

#include "dataplane/lcore.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vxmesh::control {

struct NamedPort {
    std::string name;
    uint16_t id;
};

std::string stats_text(const dp::LcoreStats& total, const std::vector<NamedPort>& ports);
// `tsc` and `tsc_hz` date the sample, so that two samples give a rate.
std::string stats_json(const dp::LcoreStats& total, const std::vector<NamedPort>& ports,
                       uint64_t generation, uint64_t tsc, uint64_t tsc_hz);

} // namespace vxmesh::control
