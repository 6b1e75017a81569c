#include "control/stats_format.hpp"

#include "dataplane/stats.hpp"

#include <fmt/format.h>

#include <cctype>
#include <string_view>

namespace vxmesh::control {

using nlohmann::json;

namespace {

struct Counter {
    const char* name;
    const char* help;
    uint64_t dp::LcoreStats::*field;
};

constexpr Counter counters[] = {
    {"encap", "Frames encapsulated in VXLAN toward a peer", &dp::LcoreStats::encap},
    {"decap", "VXLAN packets decapsulated and delivered", &dp::LcoreStats::decap},
    {"switched", "Frames switched between local endpoints", &dp::LcoreStats::switched},
    {"arp_proxied", "ARP requests answered from the endpoint table", &dp::LcoreStats::arp_proxied},
    {"arp_replied", "Underlay ARP requests for our VTEP answered", &dp::LcoreStats::arp_replied},
    {"arp_requests", "ARP requests sent to resolve next hops", &dp::LcoreStats::arp_requests},
    {"arp_learned", "Underlay ARP messages that resolved a next hop", &dp::LcoreStats::arp_learned},
    {"punted", "Packets handed to the control thread", &dp::LcoreStats::punted},
    {"l4_completed", "Partial TCP/UDP checksums (a sender's offload) completed",
     &dp::LcoreStats::l4_completed},
    {"segmented", "TCP super-frames (GSO) and reassembled datagrams cut to the MTU",
     &dp::LcoreStats::segmented},
    {"segments", "Segments and fragments those made", &dp::LcoreStats::segments},
    {"capture_lost", "Capture copies lost (pool or ring full); not packet drops",
     &dp::LcoreStats::capture_lost},
};

json counters_json(const dp::LcoreStats& s, const std::vector<NamedPort>& ports) {
    json j = json::object();
    json p = json::object();
    for (const NamedPort& port : ports)
        p[port.name] = {{"rx", s.port_rx[port.id]}, {"tx", s.port_tx[port.id]}};
    j["ports"] = p;
    for (const Counter& c : counters) j[c.name] = s.*c.field;
    json drops = json::object();
    for (size_t d = 0; d < static_cast<size_t>(dp::Drop::Count); d++)
        drops[std::string(dp::drop_names[d])] = s.drops[d];
    j["drops"] = drops;
    return j;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
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
            doc["ports"][port.name][dp::port_counters[i].name] = device[i];
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

std::string stats_text(const json& doc) {
    std::string out = fmt::format("{:<16} {:>14} {:>14}", "PORT", "RX", "TX");
    for (const dp::PortCounter& c : dp::port_counters)
        out += fmt::format(" {:>12}", upper(c.name));
    out += fmt::format(" {:>6}\n", "LINK");
    for (const auto& [name, p] : doc["ports"].items()) {
        out += fmt::format("{:<16} {:>14} {:>14}", name, p["rx"].get<uint64_t>(),
                           p["tx"].get<uint64_t>());
        for (const dp::PortCounter& c : dp::port_counters)
            out += fmt::format(" {:>12}", p.value(c.name, uint64_t{0}));
        out += fmt::format(" {:>6}\n", p.value("link", std::string("up")));
    }
    out += "\n";
    for (const Counter& c : counters)
        out += fmt::format("{:<26} {:>14}\n", c.name, doc.value(c.name, uint64_t{0}));
    out += "\nDROP REASON\n";
    uint64_t dropped = 0;
    for (const auto& [name, n] : doc["drops"].items()) {
        dropped += n.get<uint64_t>();
        if (n.get<uint64_t>() != 0) out += fmt::format("{:<26} {:>14}\n", name, n.get<uint64_t>());
    }
    out += fmt::format("{:<26} {:>14}\n", "total", dropped);
    return out;
}

std::string stats_prometheus(const json& doc, const std::string& node) {
    std::string out;
    auto family = [&](const char* name, const char* help, const char* type) {
        out += fmt::format("# HELP vxmesh_{} {}\n# TYPE vxmesh_{} {}\n", name, help, name, type);
    };
    family("port_rx_packets_total", "Packets received on a port", "counter");
    for (const auto& [name, p] : doc["ports"].items())
        out += fmt::format("vxmesh_port_rx_packets_total{{node=\"{}\",port=\"{}\"}} {}\n", node,
                           name, p["rx"].get<uint64_t>());
    family("port_tx_packets_total", "Packets sent on a port", "counter");
    for (const auto& [name, p] : doc["ports"].items())
        out += fmt::format("vxmesh_port_tx_packets_total{{node=\"{}\",port=\"{}\"}} {}\n", node,
                           name, p["tx"].get<uint64_t>());
    for (const dp::PortCounter& c : dp::port_counters) {
        std::string metric = fmt::format("port_{}_packets_total", c.name);
        family(metric.c_str(), c.help, "counter");
        for (const auto& [name, p] : doc["ports"].items())
            out += fmt::format("vxmesh_{}{{node=\"{}\",port=\"{}\"}} {}\n", metric, node, name,
                               p.value(c.name, uint64_t{0}));
    }
    family("port_up", "Whether the port's interface is usable (0: gone, down or no carrier)",
           "gauge");
    for (const auto& [name, p] : doc["ports"].items())
        out += fmt::format("vxmesh_port_up{{node=\"{}\",port=\"{}\"}} {}\n", node, name,
                           p.value("link", std::string("up")) == "up" ? 1 : 0);
    for (const Counter& c : counters) {
        std::string metric = fmt::format("{}_total", c.name);
        family(metric.c_str(), c.help, "counter");
        out += fmt::format("vxmesh_{}{{node=\"{}\"}} {}\n", metric, node,
                           doc.value(c.name, uint64_t{0}));
    }
    family("drops_total", "Packets dropped, by reason", "counter");
    for (const auto& [name, n] : doc["drops"].items())
        out += fmt::format("vxmesh_drops_total{{node=\"{}\",reason=\"{}\"}} {}\n", node, name,
                           n.get<uint64_t>());
    family("generation", "Generation of the tables in force", "gauge");
    out += fmt::format("vxmesh_generation{{node=\"{}\"}} {}\n", node,
                       doc.value("generation", uint64_t{0}));
    return out;
}

} // namespace vxmesh::control
