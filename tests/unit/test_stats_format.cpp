// Counters as text and Prometheus: the ports' device counters (dataplane/stats.hpp's
// port_counter_names) appear per port, under the same names everywhere.
#include "control/stats_format.hpp"
#include "control/stats_text.hpp"
#include "dataplane/stats.hpp"

#include <catch2/catch.hpp>

using namespace vxmesh;
using nlohmann::json;

namespace {

json sample() {
    json doc = {{"generation", 7},
                {"ports",
                 {{"underlay",
                   {{"rx", 10},
                    {"tx", 12},
                    {"rx_missed", 0},
                    {"rx_nombuf", 0},
                    {"rx_errors", 0},
                    {"tx_errors", 0}}},
                  {"c1",
                   {{"rx", 900},
                    {"tx", 4},
                    {"rx_missed", 582},
                    {"rx_nombuf", 3},
                    {"rx_errors", 2},
                    {"tx_errors", 1},
                    {"link", "down"}}}}},
                {"drops", json::object()}};
    return doc;
}

} // namespace

TEST_CASE("stats: a port's device counters are printed per port in the text table") {
    std::string text = control::stats_text(sample());
    INFO(text);
    CHECK(text.find("PORT                         RX             TX    RX_MISSED    RX_NOMBUF "
                    "   RX_ERRORS    TX_ERRORS   LINK\n") == 0);
    CHECK(text.find("\nc1                          900              4          582            3 "
                    "           2            1   down\n") != std::string::npos);
    CHECK(text.find("\nunderlay                     10             12            0            0 "
                    "           0            0     up\n") != std::string::npos);
}

TEST_CASE("stats: a port's device counters are Prometheus counters with a port label") {
    std::string text = control::stats_prometheus(sample(), "node1");
    INFO(text);
    for (const dp::CounterName& c : dp::port_counter_names) {
        std::string metric = std::string("vxmesh_port_") + c.name + "_packets_total";
        CHECK(text.find("# TYPE " + metric + " counter\n") != std::string::npos);
        CHECK(text.find(metric + "{node=\"node1\",port=\"underlay\"} 0\n") != std::string::npos);
    }
    CHECK(text.find("vxmesh_port_rx_missed_packets_total{node=\"node1\",port=\"c1\"} 582\n") !=
          std::string::npos);
    CHECK(text.find("vxmesh_port_rx_nombuf_packets_total{node=\"node1\",port=\"c1\"} 3\n") !=
          std::string::npos);
    CHECK(text.find("vxmesh_port_rx_errors_packets_total{node=\"node1\",port=\"c1\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("vxmesh_port_tx_errors_packets_total{node=\"node1\",port=\"c1\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("# TYPE vxmesh_port_up gauge\n") != std::string::npos);
    CHECK(text.find("vxmesh_port_up{node=\"node1\",port=\"c1\"} 0\n") != std::string::npos);
    CHECK(text.find("vxmesh_port_up{node=\"node1\",port=\"underlay\"} 1\n") != std::string::npos);
}

TEST_CASE("stats: a port marked down says so in the document") {
    dp::port_down[1].store(true);
    json doc = control::stats_document({{"underlay", 0}, {"c1", 1}}, 3, 0, 1);
    dp::port_down[1].store(false);
    CHECK(doc["ports"]["underlay"]["link"] == "up");
    CHECK(doc["ports"]["c1"]["link"] == "down");
}

TEST_CASE("stats: the document has every device counter for every port") {
    // No port is open in the unit tests: the device reports nothing, the counters are 0.
    json doc = control::stats_document({{"underlay", 0}, {"c1", 1}}, 3, 0, 1);
    for (const char* port : {"underlay", "c1"})
        for (const dp::CounterName& c : dp::port_counter_names) {
            INFO(port << " " << c.name);
            REQUIRE(doc["ports"][port].contains(c.name));
            CHECK(doc["ports"][port][c.name] == 0);
        }
}
