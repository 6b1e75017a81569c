// The control plane's state beside the desired configuration: IPAM (subnets, VNIs and
// addresses, handed out as Docker swarm does), the ids and creation times of networks,
// and the state file that keeps them, with the networks created over the control
// socket, across restarts.
//
// One rule keeps IPAM and the desired configuration consistent: every change of the
// desired configuration (apply, patch, network_create, SIGHUP reload) goes through
// commit(), which reconciles a copy of IPAM with the new configuration (reserving its
// subnets, VNIs and endpoint addresses, freeing what is gone), applies the
// configuration to the plane, and only then replaces IPAM and saves the state file. A
// change that IPAM or the plane rejects leaves both untouched.
//
// Which networks come from where (docs: config/README.md, "State file"):
//  - the config file's networks are always used as the file says; the state file only
//    lends them their id and creation time (same name, VNI and subnet);
//  - every other network of the desired state (created with network_create, or added by
//    patch or apply) is kept in the state file and merged with the config file's at
//    start-up and on SIGHUP. A config-file network with the same name, VNI and subnet
//    takes it over; any other clash (same name, same VNI, overlapping subnets, two
//    ingress networks) is an error naming both;
//  - endpoints and peers are not kept: those added over the socket last until the next
//    restart or reload, as before, and IPAM is rebuilt from the merged configuration at
//    start-up (with its cursors at the bottom, as Docker's after a restart).
#pragma once

#include "control/ipam.hpp"
#include "control/model.hpp"

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace vxmesh::control {

class ControlPlane;

struct StateSettings {
    IpamConfig ipam;
    std::string path;                    // the state file; "" keeps nothing across restarts
    std::function<std::string()> new_id; // default: random_network_id
    std::function<std::string()> now;    // default: rfc3339_now
};

// A swarm-style id: 128 random bits in base 36, 25 characters of 0-9 a-z.
std::string random_network_id();
// The current UTC time in RFC 3339 with nanoseconds: 2024-05-01T12:00:00.123456789Z.
std::string rfc3339_now();

// Makes `ipam` hold exactly the networks of `config` (subnet, gateway, ip_range, VNI,
// ingress) and its endpoints' addresses (owner: the endpoint's name), keeping the cursors
// of what stays. Throws IpamError, leaving `ipam` half-way: callers work on a copy.
void reconcile(Ipam& ipam, const model::Config& config);

class NetworkState {
public:
    explicit NetworkState(StateSettings settings = {});

    const Ipam& ipam() const { return ipam_; }
    const std::string& path() const { return settings_.path; }
    std::string new_id() const { return settings_.new_id(); }
    std::string now() const { return settings_.now(); }

    // Start-up: the config file's configuration merged with the state file's networks,
    // ids assigned, IPAM built from the result and the state file written. Returns the
    // configuration to run. Throws std::runtime_error (a corrupt state file, a clash
    // between the two files, a state file that cannot be written).
    model::Config restore(const model::Config& from_file);

    // SIGHUP: `from_file` merged with the running networks that are not the config
    // file's, then committed. Throws as commit() does, or on a clash; returns commit()'s
    // warnings.
    std::vector<std::string> reload(ControlPlane& plane, const model::Config& from_file);

    // Networks without an id or creation time get those of the network with the same
    // name, VNI and subnet in `previous` (else in the state file read at start-up), or
    // new ones.
    void assign_identity(model::Config& next, const model::Config& previous) const;

    // Puts `next` in place: `work` (a copy of ipam(), possibly with allocations made for
    // `next`) is reconciled with it, the plane applies it (unless dry_run), then IPAM is
    // replaced by `work` and the state file saved. Throws IpamError or what the plane's
    // apply() throws, and nothing has changed then. A state file that cannot be saved
    // does not undo the change: it is returned as a warning.
    std::vector<std::string> commit(ControlPlane& plane, const model::Config& next, Ipam work,
                                    bool dry_run);

    // The state file's text for `running`.
    std::string state_json(const model::Config& running) const;

private:
    std::vector<std::string> commit_with(ControlPlane& plane, const model::Config& next, Ipam work,
                                         bool dry_run, const std::set<std::string>* file_networks);
    model::Config merge(const model::Config& from_file, const std::vector<model::Network>& kept,
                        const std::string& where) const;
    void save(const model::Config& running);

    StateSettings settings_;
    Ipam ipam_;
    std::set<std::string> file_networks_;    // names of the config file's networks
    std::vector<model::Network> remembered_; // the state file's networks, read at start-up
    std::string saved_;                      // what the state file holds now
};

} // namespace vxmesh::control
