// Fuzz target `rpc`: each line of the input is one control-socket request, handled by
// control::handle_request on a fresh node1 (a FakePlane and its NetworkState, no state
// file) and its reply serialised as the control socket does (daemon/vxmesh_main.cpp). Several
// lines make a session: a network created by one line can be patched by the next.
// handle_request never throws; neither may the serialisation of its reply.
#include "control/rpc.hpp"
#include "control/config_load.hpp"
#include "tests/unit/fake_plane.hpp"

#include <string>
#include <string_view>

namespace {

const std::string node1 = R"(node:
  name: node1
  data_path_addr: 10.99.0.1/24
  underlay:
    device: net_af_packet0,iface=ul
ports:
  - name: c1
    device: net_af_packet1,iface=c1
  - name: c2
    device: net_af_packet2,iface=c2
networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
peers:
  - name: node2
    address: 10.99.0.2
endpoints:
  - {name: n1c1, network: blue, ip: 10.0.1.2, node: node1, port: c1}
  - {name: n2c1, network: blue, ip: 10.0.1.3, node: node2}
)";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vxmesh;
    control::NetworkState state(testing::settings());
    testing::FakePlane plane;
    plane.desired = state.restore(control::load_config_string(node1, "node1.yaml"));
    std::string_view input(reinterpret_cast<const char*>(data), size);
    int lines = 0;
    while (!input.empty() && lines++ < 16) {
        size_t end = input.find('\n');
        std::string line(input.substr(0, end));
        input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
        // What the socket sends back (control_socket.cpp): the edge that never throws and
        // always yields valid UTF-8 JSON; a reply that does not parse is a defect too.
        std::string reply = control::handle_request_line(plane, state, line);
        if (!nlohmann::json::accept(reply)) __builtin_trap();
    }
    return 0;
}
