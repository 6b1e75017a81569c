// Compile a validated model into the dataplane's immutable Snapshot.
#pragma once

#include "control/model.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_ether.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace vxmesh::control {

class BuildError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What a port can carry, read when the snapshot is compiled: its MTU (for an af_packet
// port, its interface's), and the longest frame one receive buffer holds. 0: not checked.
struct PortLimits {
    uint32_t mtu = 0;
    uint32_t frame = 0;
};

struct BuildContext {
    uint64_t generation = 0;
    uint16_t underlay_port = 0;
    rte_ether_addr underlay_mac{};
    std::unordered_map<std::string, uint16_t> access_ports; // config name → DPDK port id
    std::function<uint32_t(rte_be32_t)> nexthop_slot;       // interns a next hop's address
    const dp::NeighbourTable* neighbours = nullptr;
    dp::CaptureSpec capture;                                 // inactive unless capturing
    PortLimits underlay_limits;
    std::unordered_map<std::string, PortLimits> access_limits; // config name → limits
};

// The next hop toward a peer's VTEP: the peer itself when it is inside the node's
// on-link prefix, else the node's gateway. Throws BuildError when there is none.
model::Ipv4 peer_next_hop(const model::Node& node, const model::Peer& peer);

// Throws BuildError (with the object's file:line:column) on what validation cannot
// see: unknown access port ids, two endpoints sharing a port and MAC, a peer with no
// route, a network whose MTU the ports cannot carry (its packets plus VXLAN's 50 bytes
// above the underlay's MTU or receive buffers; above the MTU or buffers of a port one
// of its endpoints is on). Allocation failures throw BuildError too.
std::unique_ptr<dp::Snapshot> build_snapshot(const model::Config& config, const BuildContext& ctx);

} // namespace vxmesh::control
