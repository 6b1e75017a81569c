#include "control/telemetry.hpp"

#include "dataplane/stats.hpp"

#include <rte_telemetry.h>

#include <fmt/format.h>

namespace vxmesh::control {

namespace {

std::vector<NamedPort> telemetry_ports;
const std::atomic<uint64_t>* telemetry_generation = nullptr;

int stats_command(const char*, const char*, rte_tel_data* d) {
    dp::LcoreStats t = dp::stats_total();
    rte_tel_data_start_dict(d);
    for (const NamedPort& p : telemetry_ports) {
        rte_tel_data_add_dict_u64(d, fmt::format("rx_{}", p.name).c_str(), t.port_rx[p.id]);
        rte_tel_data_add_dict_u64(d, fmt::format("tx_{}", p.name).c_str(), t.port_tx[p.id]);
        dp::PortCounters device = dp::port_device_counters(p.id);
        for (size_t i = 0; i < device.size(); i++)
            rte_tel_data_add_dict_u64(
                d, fmt::format("{}_{}", dp::port_counter_names[i].name, p.name).c_str(), device[i]);
        rte_tel_data_add_dict_u64(d, fmt::format("up_{}", p.name).c_str(),
                                  dp::port_is_down(p.id) ? 0 : 1);
    }
    rte_tel_data_add_dict_u64(d, "encap", t.encap);
    rte_tel_data_add_dict_u64(d, "decap", t.decap);
    rte_tel_data_add_dict_u64(d, "switched", t.switched);
    rte_tel_data_add_dict_u64(d, "arp_proxied", t.arp_proxied);
    rte_tel_data_add_dict_u64(d, "arp_replied", t.arp_replied);
    rte_tel_data_add_dict_u64(d, "arp_requests", t.arp_requests);
    rte_tel_data_add_dict_u64(d, "arp_learned", t.arp_learned);
    rte_tel_data_add_dict_u64(d, "punted", t.punted);
    rte_tel_data_add_dict_u64(d, "l4_completed", t.l4_completed);
    rte_tel_data_add_dict_u64(d, "segmented", t.segmented);
    rte_tel_data_add_dict_u64(d, "segments", t.segments);
    uint64_t dropped = 0;
    for (uint64_t n : t.drops)
        dropped += n;
    rte_tel_data_add_dict_u64(d, "dropped", dropped);
    return 0;
}

int drops_command(const char*, const char*, rte_tel_data* d) {
    dp::LcoreStats t = dp::stats_total();
    rte_tel_data_start_dict(d);
    for (size_t i = 0; i < static_cast<size_t>(dp::Drop::Count); i++)
        rte_tel_data_add_dict_u64(d, std::string(dp::drop_names[i]).c_str(), t.drops[i]);
    return 0;
}

int generation_command(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "generation", telemetry_generation->load());
    return 0;
}

} // namespace

void telemetry_register(std::vector<NamedPort> ports, const std::atomic<uint64_t>* generation) {
    telemetry_ports = std::move(ports);
    telemetry_generation = generation;
    rte_telemetry_register_cmd("/vxmesh/stats", stats_command,
                               "vxmesh counters summed over lcores. No parameters");
    rte_telemetry_register_cmd("/vxmesh/drops", drops_command,
                               "vxmesh packets dropped, by reason. No parameters");
    rte_telemetry_register_cmd("/vxmesh/generation", generation_command,
                               "Generation of vxmesh's tables in force. No parameters");
}

} // namespace vxmesh::control
