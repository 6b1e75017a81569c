#include "control/network_state.hpp"

#include "control/config_load.hpp"
#include "control/model_json.hpp"
#include "control/rpc.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace vxmesh::control {

namespace {

using json = nlohmann::json;
using model::format_ipv4;
using model::format_prefix;

constexpr uint64_t kStateVersion = 1;

bool overlap(const model::Ipv4Prefix& a, const model::Ipv4Prefix& b) {
    const unsigned shorter = std::min(a.length, b.length);
    const model::Ipv4Prefix wide{a.address, static_cast<uint8_t>(shorter)};
    return wide.contains(b.address);
}

// The IPAM network that `n` needs: one subnet with its gateway, ip-range and VNI.
bool same_allocation(const NetworkInfo& info, const model::Network& n) {
    if (info.ingress != n.ingress || info.subnets.size() != 1) return false;
    const SubnetInfo& s = info.subnets[0];
    return s.subnet == n.subnet && s.gateway == n.gateway && s.vni == n.vni &&
           s.ip_range == n.ip_range;
}

NetworkRequest request_for(const model::Network& n) {
    NetworkRequest r;
    r.name = n.name;
    r.subnets = {n.subnet};
    if (n.ip_range) r.ip_ranges = {*n.ip_range};
    r.gateways = {n.gateway};
    r.vnis = {n.vni};
    r.ingress = n.ingress;
    return r;
}

std::string describe(const model::Network& n) {
    return fmt::format("VNI {}, subnet {}, gateway {}", n.vni, format_prefix(n.subnet),
                       format_ipv4(n.gateway));
}

// "FILE:LINE:COLUMN: " for a network read from a file, as the loader's messages start.
std::string position(const model::Origin& o) {
    std::string out = o.file;
    if (o.line > 0) out += fmt::format("{}{}:{}", out.empty() ? "" : ":", o.line, o.column);
    return out.empty() ? "" : out + ": ";
}

std::string read_text(const std::string& path, bool& exists) {
    std::ifstream in(path, std::ios::binary);
    exists = in.is_open();
    if (!exists) {
        if (errno == ENOENT) return {};
        throw std::runtime_error(
            fmt::format("{}: cannot read the state file: {}", path, std::strerror(errno)));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::runtime_error(fmt::format("{}: cannot read the state file", path));
    return ss.str();
}

} // namespace

std::string random_network_id() {
    // swarmkit's identity.NewID: 128 random bits, base 36, zero-padded to 25 digits
    // (36^25 > 2^128, so 25 digits always suffice).
    static std::random_device random;
    std::array<uint8_t, 16> n{};
    for (std::size_t i = 0; i < n.size(); i += 4) {
        const uint32_t r = random();
        for (std::size_t k = 0; k < 4; ++k)
            n[i + k] = static_cast<uint8_t>(r >> (8 * k));
    }
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out(25, '0');
    for (std::size_t d = 0; d < out.size(); ++d) {
        uint32_t remainder = 0;
        for (uint8_t& byte : n) { // long division of the big-endian number by 36
            const uint32_t current = remainder * 256 + byte;
            byte = static_cast<uint8_t>(current / 36);
            remainder = current % 36;
        }
        out[out.size() - 1 - d] = digits[remainder];
    }
    return out;
}

std::string rfc3339_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       static_cast<long>(ts.tv_nsec));
}

void reconcile(Ipam& ipam, const model::Config& config) {
    std::map<std::string, const model::Network*> wanted;
    for (const auto& n : config.networks)
        wanted[n.name] = &n;

    // Networks: those that are gone or changed first, so that their subnets and VNIs are
    // free for what replaces them.
    std::set<std::string> kept;
    for (const auto& name : ipam.network_names()) {
        const auto it = wanted.find(name);
        if (it != wanted.end() && same_allocation(ipam.network(name), *it->second)) {
            kept.insert(name);
        } else {
            ipam.remove_network(name);
        }
    }
    for (const auto& n : config.networks) {
        if (!kept.count(n.name)) ipam.create_network(request_for(n));
    }

    // Addresses: every endpoint's, owned by the endpoint's name.
    std::map<std::string, std::map<uint32_t, std::string>> addresses;
    for (const auto& e : config.endpoints)
        addresses[e.network][e.ip.value] = e.name;
    for (const auto& n : config.networks) {
        auto& want = addresses[n.name];
        for (const auto& a : ipam.network(n.name).addresses) {
            const auto it = want.find(a.address.value);
            if (it != want.end() && it->second == a.owner) {
                want.erase(it); // already there
            } else {
                ipam.release_address(n.name, a.address);
            }
        }
        for (const auto& [address, owner] : want)
            ipam.reserve_address(n.name, model::Ipv4{address}, owner);
    }
}

NetworkState::NetworkState(StateSettings settings)
    : settings_(std::move(settings)), ipam_(settings_.ipam) {
    if (!settings_.new_id) settings_.new_id = random_network_id;
    if (!settings_.now) settings_.now = rfc3339_now;
}

void NetworkState::assign_identity(model::Config& next, const model::Config& previous) const {
    auto match = [&](const model::Network& n) -> const model::Network* {
        auto same = [&](const model::Network& o) {
            return o.name == n.name && o.vni == n.vni && o.subnet == n.subnet;
        };
        for (const auto& o : previous.networks)
            if (same(o)) return &o;
        for (const auto& o : remembered_)
            if (same(o)) return &o;
        return nullptr;
    };
    auto id_taken = [&](const std::string& id, const model::Network* self) {
        for (const auto& o : next.networks)
            if (&o != self && o.id == id) return true;
        return false;
    };
    for (auto& n : next.networks) {
        if (!n.id.empty() && !n.created.empty()) continue;
        if (const model::Network* m = match(n)) {
            if (n.id.empty() && !m->id.empty() && !id_taken(m->id, &n)) n.id = m->id;
            if (n.created.empty() && n.id == m->id) n.created = m->created;
        }
        while (n.id.empty() || id_taken(n.id, &n))
            n.id = new_id();
        if (n.created.empty()) n.created = now();
    }
}

model::Config NetworkState::merge(const model::Config& from_file,
                                  const std::vector<model::Network>& kept,
                                  const std::string& where) const {
    model::Config merged = from_file;
    for (const auto& a : kept) {
        bool adopted = false;
        for (std::size_t i = 0; i < from_file.networks.size(); ++i) {
            const model::Network& f = from_file.networks[i];
            std::string why;
            if (f.name == a.name) {
                if (f.vni == a.vni && f.subnet == a.subnet && f.gateway == a.gateway) {
                    adopted = true; // the file now describes it
                    continue;
                }
                why = fmt::format("same name, but the config file says {}", describe(f));
            } else if (f.vni == a.vni) {
                why = fmt::format("both use VNI {}", f.vni);
            } else if (overlap(f.subnet, a.subnet)) {
                why = fmt::format("subnets {} and {} overlap", format_prefix(f.subnet),
                                  format_prefix(a.subnet));
            } else if (f.ingress && a.ingress) {
                why = "both are ingress networks";
            } else {
                continue;
            }
            throw ConfigError(fmt::format(
                "{}networks[{}]: network '{}' conflicts with network '{}' ({}) created over "
                "the control socket{}: {}",
                position(f.origin), i, f.name, a.name, describe(a), where, why));
        }
        if (!adopted) merged.networks.push_back(a);
    }
    return merged;
}

model::Config NetworkState::restore(const model::Config& from_file) {
    const std::string& path = settings_.path;
    std::vector<model::Network> stored;
    std::set<std::string> stored_file_networks;
    bool exists = false;
    const std::string text = path.empty() ? std::string() : read_text(path, exists);
    if (exists) {
        auto corrupt = [&](const std::string& why) {
            return std::runtime_error(fmt::format("{}: corrupt state file: {}", path, why));
        };
        json state;
        try {
            state = json::parse(text);
        } catch (const json::exception& e) {
            throw corrupt(e.what());
        }
        if (!state.is_object()) throw corrupt("not a JSON object");
        if (!state.contains("version") || state["version"] != kStateVersion)
            throw corrupt(fmt::format("version: not {}", kStateVersion));
        for (const char* key : {"networks", "config_file_networks"}) {
            if (!state.contains(key) || !state[key].is_array())
                throw corrupt(fmt::format("{}: missing or not a list", key));
        }
        for (const json& name : state["config_file_networks"]) {
            if (!name.is_string()) throw corrupt("config_file_networks: not a list of names");
            stored_file_networks.insert(name.get<std::string>());
        }
        // The networks are validated by the config loader, in a document of their own.
        json doc = {{"node", config_to_json(from_file)["node"]}, {"networks", state["networks"]}};
        try {
            stored = load_config_string(doc.dump(), "state").networks;
            for (auto& n : stored)
                n.origin = model::Origin{path, 0, 0};
        } catch (const ConfigError& e) {
            static const std::regex at(R"(^state(:\d+:\d+)?: )");
            throw corrupt(std::regex_replace(e.what(), at, ""));
        }
        if (!state.contains("ipam") || !state["ipam"].is_object())
            throw corrupt("ipam: missing or not an object");
        Ipam check(settings_.ipam);
        check.from_json(state["ipam"].dump(), path); // throws "PATH: corrupt IPAM state: ..."
    }

    std::vector<model::Network> kept;
    for (const auto& n : stored)
        if (!stored_file_networks.count(n.name)) kept.push_back(n);
    model::Config merged = merge(from_file, kept, fmt::format(" (state file {})", path));
    remembered_ = stored;
    assign_identity(merged, model::Config{});
    validate_config(merged);

    Ipam fresh(settings_.ipam);
    try {
        reconcile(fresh, merged);
    } catch (const IpamError& e) {
        throw std::runtime_error(fmt::format("IPAM rejects the configuration: {}", e.what()));
    }
    ipam_ = std::move(fresh);
    file_networks_.clear();
    for (const auto& n : from_file.networks)
        file_networks_.insert(n.name);
    if (!path.empty()) save(merged);
    return merged;
}

std::vector<std::string> NetworkState::reload(ControlPlane& plane, const model::Config& from_file) {
    std::vector<model::Network> kept;
    for (const auto& n : plane.config().networks)
        if (!file_networks_.count(n.name)) kept.push_back(n);
    const std::string where =
        settings_.path.empty() ? std::string() : fmt::format(" (state file {})", settings_.path);
    model::Config next = merge(from_file, kept, where);
    assign_identity(next, plane.config());
    std::set<std::string> names;
    for (const auto& n : from_file.networks)
        names.insert(n.name);
    return commit_with(plane, next, ipam_, false, &names);
}

std::vector<std::string> NetworkState::commit(ControlPlane& plane, const model::Config& next,
                                              Ipam work, bool dry_run) {
    return commit_with(plane, next, std::move(work), dry_run, nullptr);
}

std::vector<std::string> NetworkState::commit_with(ControlPlane& plane, const model::Config& next,
                                                   Ipam work, bool dry_run,
                                                   const std::set<std::string>* file_networks) {
    reconcile(work, next);
    if (dry_run) return {};
    plane.apply(next);
    ipam_ = std::move(work);
    if (file_networks != nullptr) file_networks_ = *file_networks;
    if (settings_.path.empty()) return {};
    try {
        save(plane.config());
    } catch (const std::exception& e) {
        return {fmt::format("applied, but not kept across a restart: {}", e.what())};
    }
    return {};
}

std::string NetworkState::state_json(const model::Config& running) const {
    json state;
    state["version"] = kStateVersion;
    json networks = json::array();
    json from_file = json::array();
    for (const auto& n : running.networks) {
        networks.push_back(network_to_json(n));
        if (file_networks_.count(n.name)) from_file.push_back(n.name);
    }
    state["config_file_networks"] = from_file;
    state["networks"] = networks;
    // IPAM's networks in its own format. Endpoint addresses are left out: endpoints are not
    // kept across restarts (IPAM is rebuilt from the config file's), and leaving them out
    // keeps the file small and unchanged by endpoint churn, so that it is not rewritten.
    json ipam = json::parse(ipam_.to_json());
    for (json& n : ipam["networks"])
        n["addresses"] = json::array();
    state["ipam"] = ipam;
    return state.dump(2) + "\n";
}

void NetworkState::save(const model::Config& running) {
    const std::string& path = settings_.path;
    const auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw std::runtime_error(
            fmt::format("cannot save state {}: mkdir {}: {}", path, dir.string(), ec.message()));
    }
    std::string text = state_json(running);
    if (text == saved_) return; // unchanged: no need to write (and fsync) it again
    write_file_atomically(path, text, "state");
    saved_ = std::move(text);
}

} // namespace vxmesh::control
