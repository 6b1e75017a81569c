#include "control/stats_format.hpp"

#include <fmt/format.h>

namespace vxmesh::control {

namespace {

struct Counter {
    const char* name;
    uint64_t dp::LcoreStats::*field;
};

constexpr Counter counters[] = {
    {"encap", &dp::LcoreStats::encap},
    {"decap", &dp::LcoreStats::decap},
    {"switched", &dp::LcoreStats::switched},
    {"arp_proxied", &dp::LcoreStats::arp_proxied},
    {"arp_replied", &dp::LcoreStats::arp_replied},
    {"arp_requests", &dp::LcoreStats::arp_requests},
    {"arp_learned", &dp::LcoreStats::arp_learned},
    {"punted", &dp::LcoreStats::punted},
};

} // namespace

std::string stats_text(const dp::LcoreStats& t, const std::vector<NamedPort>& ports) {
    std::string out = fmt::format("{:<16} {:>14} {:>14}\n", "PORT", "RX", "TX");
    for (const NamedPort& p : ports)
        out += fmt::format("{:<16} {:>14} {:>14}\n", p.name, t.port_rx[p.id], t.port_tx[p.id]);
    out += "\n";
    for (const Counter& c : counters) out += fmt::format("{:<26} {:>14}\n", c.name, t.*c.field);
    out += "\nDROP REASON\n";
    uint64_t dropped = 0;
    for (size_t d = 0; d < static_cast<size_t>(dp::Drop::Count); d++) {
        dropped += t.drops[d];
        if (t.drops[d] != 0) out += fmt::format("{:<26} {:>14}\n", dp::drop_names[d], t.drops[d]);
    }
    out += fmt::format("{:<26} {:>14}\n", "total", dropped);
    return out;
}

std::string stats_json(const dp::LcoreStats& t, const std::vector<NamedPort>& ports,
                       uint64_t generation, uint64_t tsc, uint64_t tsc_hz) {
    std::string out = fmt::format("{{\"generation\": {}, \"tsc\": {}, \"tsc_hz\": {}, \"ports\": {{",
                                  generation, tsc, tsc_hz);
    for (size_t i = 0; i < ports.size(); i++)
        out += fmt::format("{}\"{}\": {{\"rx\": {}, \"tx\": {}}}", i ? ", " : "", ports[i].name,
                           t.port_rx[ports[i].id], t.port_tx[ports[i].id]);
    out += "}";
    for (const Counter& c : counters) out += fmt::format(", \"{}\": {}", c.name, t.*c.field);
    out += ", \"drops\": {";
    for (size_t d = 0; d < static_cast<size_t>(dp::Drop::Count); d++)
        out += fmt::format("{}\"{}\": {}", d ? ", " : "", dp::drop_names[d], t.drops[d]);
    out += "}}\n";
    return out;
}

} // namespace vxmesh::control
