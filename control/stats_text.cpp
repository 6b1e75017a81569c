#include "control/stats_text.hpp"

#include "dataplane/counter_names.hpp"

#include <fmt/format.h>

#include <cctype>
#include <string_view>

namespace vxmesh::control {

using nlohmann::json;

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

} // namespace

std::string stats_text(const json& doc) {
    std::string out = fmt::format("{:<16} {:>14} {:>14}", "PORT", "RX", "TX");
    for (const dp::CounterName& c : dp::port_counter_names)
        out += fmt::format(" {:>12}", upper(c.name));
    out += fmt::format(" {:>6}\n", "LINK");
    for (const auto& [name, p] : doc["ports"].items()) {
        out += fmt::format("{:<16} {:>14} {:>14}", name, p["rx"].get<uint64_t>(),
                           p["tx"].get<uint64_t>());
        for (const dp::CounterName& c : dp::port_counter_names)
            out += fmt::format(" {:>12}", p.value(c.name, uint64_t{0}));
        out += fmt::format(" {:>6}\n", p.value("link", std::string("up")));
    }
    out += "\n";
    for (const dp::CounterName& c : dp::lcore_counter_names)
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
    for (const dp::CounterName& c : dp::port_counter_names) {
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
    for (const dp::CounterName& c : dp::lcore_counter_names) {
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
