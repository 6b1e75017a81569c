#include "control/stats_format.hpp"

#include "dataplane/stats.hpp"

#include <cstring>

namespace vxmesh::control {

using nlohmann::json;

namespace {

// The fields dataplane/counter_names.hpp's lcore_counter_names name, in its order.
constexpr std::array<uint64_t dp::LcoreStats::*, dp::lcore_counter_names.size()> counter_fields = {
    &dp::LcoreStats::encap,       &dp::LcoreStats::decap,       &dp::LcoreStats::switched,
    &dp::LcoreStats::arp_proxied, &dp::LcoreStats::arp_replied, &dp::LcoreStats::arp_requests,
    &dp::LcoreStats::arp_learned, &dp::LcoreStats::punted,      &dp::LcoreStats::l4_completed,
    &dp::LcoreStats::segmented,   &dp::LcoreStats::segments,    &dp::LcoreStats::capture_lost,
};

json counters_json(const dp::LcoreStats& s, const std::vector<NamedPort>& ports) {
    json j = json::object();
    json p = json::object();
    for (const NamedPort& port : ports)
        p[port.name] = {{"rx", s.port_rx[port.id]}, {"tx", s.port_tx[port.id]}};
    j["ports"] = p;
    for (size_t i = 0; i < counter_fields.size(); i++)
        j[dp::lcore_counter_names[i].name] = s.*counter_fields[i];
    json drops = json::object();
    for (size_t d = 0; d < static_cast<size_t>(dp::Drop::Count); d++)
        drops[std::string(dp::drop_names[d])] = s.drops[d];
    j["drops"] = drops;
    return j;
}

bool all_zero(const dp::LcoreStats& s) {
    static const dp::LcoreStats zero{};
    return std::memcmp(&s, &zero, sizeof(s)) == 0;
}

} // namespace

json stats_document(const std::vector<NamedPort>& ports, uint64_t generation, uint64_t tsc,
                    uint64_t tsc_hz) {
    json doc = counters_json(dp::stats_total(), ports);
    for (const NamedPort& port : ports) {
        dp::PortCounters device = dp::port_device_counters(port.id);
        for (size_t i = 0; i < device.size(); i++)
            doc["ports"][port.name][dp::port_counter_names[i].name] = device[i];
        doc["ports"][port.name]["link"] = dp::port_is_down(port.id) ? "down" : "up";
    }
    doc["generation"] = generation;
    doc["tsc"] = tsc;
    doc["tsc_hz"] = tsc_hz;
    json lcores = json::object();
    for (unsigned id = 0; id < RTE_MAX_LCORE; id++)
        if (!all_zero(dp::lcore_stats[id]))
            lcores[std::to_string(id)] = counters_json(dp::lcore_stats[id], ports);
    doc["lcores"] = lcores;
    return doc;
}

} // namespace vxmesh::control
