// Compile a validated model into the dataplane's immutable Snapshot.
#pragma once

#include "control/model.hpp"
#include "dataplane/snapshot.hpp"

#include <rte_ether.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

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
    dp::CaptureSpec capture; // inactive unless capturing
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

// What changed between the config `previous` was built from and `config`: endpoints
// only (networks, peers, ports, node unchanged).
struct EndpointDelta {
    std::vector<model::Endpoint> added;   // in `config`, not in the previous config
    std::vector<model::Endpoint> removed; // in the previous config, not in `config`
};

// The snapshot build_snapshot(config, ctx) would give, made from `previous` (built from
// the previous config with the same ports/neighbours) by cloning its tables and applying
// `delta`: a memcpy of the tables plus the change, where a full build of 100k endpoints
// inserts every one. Throws BuildError as build_snapshot does, for the added endpoints
// (same messages; a clash is reported against the added endpoint, as build_snapshot
// reports it when the added endpoint comes after the one it clashes with in
// config.endpoints, where an appended one is), and when a removed endpoint is not in
// `previous`.
//
// From ctx it takes the generation, the capture and the access ports (ids and limits,
// for the added endpoints). It keeps `previous`'s peers and so their next-hop slots, and
// interns none (ctx.nexthop_slot is not called): the slots in force stay in force, so
// publishing this snapshot must not be followed by NeighbourSlots::published(), which
// would release every slot that no compile interned since the last one.
std::unique_ptr<dp::Snapshot> rebuild_endpoints(const dp::Snapshot& previous,
                                                const model::Config& config,
                                                const EndpointDelta& delta,
                                                const BuildContext& ctx);

// rebuild_endpoints() without the copy: makes `deltas`, in order, to `s` itself, a
// snapshot no reader holds any more (the one a publication replaced). vxmesh keeps the
// snapshot it last replaced and the delta that replaced it, and brings that one up to
// date with both, instead of copying the tables in force (at 100k endpoints their copy
// was most of an attach's time). The tables must have room (FlatTable::fits) for every
// step. Throws as rebuild_endpoints(), and `s` is then half-changed: discard it.
void patch_endpoints(dp::Snapshot& s, const model::Config& config,
                     std::initializer_list<const EndpointDelta*> deltas, const BuildContext& ctx);

} // namespace vxmesh::control
