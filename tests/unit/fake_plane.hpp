// A ControlPlane that records what it is given, and deterministic ids and times: what
// the unit tests (control_fixture.hpp) and the rpc fuzzer (tests/fuzz) drive
// control::handle_request with. Without Catch, so that a fuzzer can include it.
#pragma once

#include "control/network_state.hpp"
#include "control/rpc.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace vxmesh::testing {

using nlohmann::json;

struct FakePlane : control::ControlPlane {
    model::Config desired;
    uint64_t gen = 1;
    std::string reject; // apply() throws this when set
    int applied = 0;

    const model::Config& config() const override { return desired; }
    uint64_t generation() const override { return gen; }
    void apply(const model::Config& next) override {
        if (!reject.empty()) throw std::runtime_error(reject);
        desired = next;
        ++gen;
        ++applied;
    }
    json stats() const override { return {{"generation", gen}}; }
};

// Deterministic ids ("0000000000000000000000001"...) and times.
inline control::StateSettings settings(const std::string& path = "") {
    control::StateSettings s;
    s.path = path;
    auto ids = std::make_shared<int>(0);
    auto ticks = std::make_shared<int>(0);
    s.new_id = [ids] { return fmt::format("{:0>25}", ++*ids); };
    s.now = [ticks] { return fmt::format("2024-05-01T12:00:00.{:09}Z", ++*ticks); };
    return s;
}

} // namespace vxmesh::testing
