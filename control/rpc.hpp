// The control protocol: one JSON request per line in, one JSON reply per line out
// (docs: control/PROTOCOL.md). This file is the part without sockets, so that it can
// be tested directly; control/control_socket.cpp carries the lines.
#pragma once

#include "control/config_change.hpp"
#include "control/model.hpp"
#include "control/network_state.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace vxmesh::control {

// What the protocol drives. Implemented by the running process (daemon/vxmesh_main.cpp) and
// by fakes in tests.
class ControlPlane {
public:
    virtual ~ControlPlane() = default;
    virtual const model::Config& config() const = 0;
    virtual uint64_t generation() const = 0;
    // Compile and publish `next` as one new generation. Throws std::exception with a
    // message when it is rejected; the running tables and config then stay as they were.
    virtual void apply(const model::Config& next) = 0;
    // The same for a typed change (control/config_change.hpp) of config(): one new
    // generation, config() then changed in place. A plane can publish it without compiling
    // what did not change; by default it applies a changed copy.
    virtual void apply_change(const ConfigChange& change) {
        model::Config next = config();
        control::apply_change(next, change);
        apply(next);
    }
    virtual nlohmann::json stats() const = 0;

    // Packet capture (vxmeshctl capture): start one, read its progress, stop it. Each
    // returns the capture's status; they throw std::exception on a bad request.
    virtual nlohmann::json capture_start(const nlohmann::json& params) {
        (void)params;
        throw std::runtime_error("capture is not available here");
    }
    virtual nlohmann::json capture_status() { throw std::runtime_error("no capture"); }
    virtual nlohmann::json capture_stop() { throw std::runtime_error("no capture"); }
};

// Handle one request line. Every change of the desired state goes through
// `state.commit()`, which keeps IPAM consistent with it and saves the state file. Never
// throws: every failure is an error reply
// {"ok": false, "error": MESSAGE, "path": FIELD-PATH-IF-ANY}, keys in that order.
nlohmann::ordered_json handle_request(ControlPlane& plane, NetworkState& state,
                                      const std::string& line);

// Requests nested deeper than this ([ and { levels, the request object being 1) are refused
// before they are parsed: parsing, copying and printing JSON recurse once per level.
constexpr int max_request_depth = 64;

// The socket's edge: handle_request() and its reply as one line of text (without the
// newline), always valid UTF-8 JSON, whatever bytes `line` holds. Never throws.
std::string handle_request_line(ControlPlane& plane, NetworkState& state,
                                const std::string& line) noexcept;

// What changes from `from` to `to`: [{"action": "add"|"remove"|"update", "kind", "name"}].
nlohmann::json config_diff(const model::Config& from, const model::Config& to);

} // namespace vxmesh::control
