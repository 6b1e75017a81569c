// The control plane's state beside the desired configuration: IPAM (subnets, VNIs and
// addresses, handed out as Docker swarm does), the ids and creation times of networks,
// and the state file that keeps them, with everything added over the control socket,
// across restarts.
//
// One rule keeps IPAM and the desired configuration consistent: every change of the
// desired configuration goes through one of two doors. A whole change (apply, a patch of
// networks or services, network_create, SIGHUP reload) goes through commit(), which
// reconciles a copy of IPAM with the new configuration (reserving its subnets, VNIs and
// endpoint addresses, freeing what is gone), applies the configuration to the plane, and
// only then replaces IPAM, rebuilds the model's index and saves the state file. A typed
// change (endpoints and peers added or removed) goes through change(), which changes
// IPAM and the index in place, keeping an undo log, and appends to the state file's
// journal. A change that IPAM, the rules or the plane rejects leaves everything untouched.
//
// Which objects come from where (docs: config/README.md, "State file"). An object is the
// config file's when the config file has one of that kind with that name; every other
// object of the desired state came over the control socket (network_create, patch,
// apply: vxmeshctl network create, endpoint attach, peer add...):
//  - the config file's objects are always used as the file says; the state file only
//    lends its networks their id and creation time (same name, VNI and subnet);
//  - the others (networks, peers, endpoints, services) are kept in the state file, merged
//    with the config file's at start-up and on SIGHUP (after them, in their order), and
//    dropped from it when they are removed. So an endpoint attached without an address
//    keeps the address and MAC that IPAM gave it across restarts, and IPAM reserves them
//    again when it is rebuilt at start-up (with its cursors at the bottom, as Docker's
//    after a restart);
//  - what IPAM hands out for services is kept the same way: a vip service's VIPs, and the
//    load-balancer address of each node on each network where it has a task. The state
//    file holds every service and every load balancer; a config-file service that gives
//    no VIP gets back the one the state file remembers for it (same name and network,
//    when the address is still free), as networks get their ids back;
//  - an object of the config file that is identical to a kept one takes it over (the
//    file now describes it); any other clash (same name, same VNI, overlapping subnets,
//    two ingress networks, the same peer address, the same endpoint IP or MAC...) is an
//    error naming both, and so is a kept object that no longer fits the config file (its
//    network, node or port gone): vxmesh does not start, a reload is rejected.
#pragma once

#include "control/config_change.hpp"
#include "control/ipam.hpp"
#include "control/model.hpp"
#include "control/model_index.hpp"
#include "control/network_inspect.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
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
    // Where a failed save is said (vxmesh: its log, stderr); none when empty. Saving never
    // stops vxmesh: at start-up as at run time, what is running stays, and a save that
    // failed is said here (and to the client that caused it) with its reason.
    std::function<void(const std::string&)> log;
    // Group commit: a change does not save the state file itself; the caller saves once for
    // a batch of changes with flush() before it acknowledges any of them (the control
    // socket holds the batch's replies until then). Off: every change saves before commit()
    // returns.
    bool group_commit = false;
};

// A swarm-style id: 128 random bits in base 36, 25 characters of 0-9 a-z.
std::string random_network_id();
// The current UTC time in RFC 3339 with nanoseconds: 2024-05-01T12:00:00.123456789Z.
std::string rfc3339_now();

// Makes `ipam` hold exactly the networks of `config` (subnet, gateway, ip_range, VNI,
// ingress) and its addresses: endpoints' (owner: the endpoint's name), services' VIPs
// ("NAME (VIP)") and load balancers' ("lb-NETWORK@NODE"), keeping the cursors of what
// stays. Throws IpamError, leaving `ipam` half-way: callers work on a copy.
void reconcile(Ipam& ipam, const model::Config& config);

// What IPAM handed out for services in one change.
struct ServiceAllocations {
    struct Vip {
        std::string service;
        std::string network;
        model::Ipv4 ip;
    };
    std::vector<Vip> vips;
    std::vector<model::LoadBalancer> load_balancers;
};

// Docker's order within a network: a service's VIP first, then its tasks, then each
// node's load-balancer endpoint. `work` must hold `config`'s allocations (reconcile()).
//  - allocate_vips: every attached network of every vip service that has no VIP gets the
//    network's next free address, services in order, networks in attached order;
//  - allocate_load_balancers: config.load_balancers becomes exactly one per (network,
//    node) where the node (this one or a peer) has a task of a service on the network:
//    the given ones stay, the missing ones get the next free addresses (networks in
//    order, this node first, then the peers in order), the others are dropped and freed.
// Both throw IpamError (a network with no free address left) and report what they gave.
void allocate_vips(Ipam& work, model::Config& config, ServiceAllocations& out);
void allocate_load_balancers(Ipam& work, model::Config& config, ServiceAllocations& out);

// The names of the config file's objects. Objects of the desired state with other names
// came over the control socket and are kept in the state file.
struct ConfigFileNames {
    std::set<std::string> networks;
    std::set<std::string> peers;
    std::set<std::string> endpoints;
    std::set<std::string> services;
    static ConfigFileNames of(const model::Config& from_file);
};

// The objects of a desired state that are not the config file's.
struct SocketObjects {
    std::vector<model::Network> networks;
    std::vector<model::Peer> peers;
    std::vector<model::Endpoint> endpoints;
    std::vector<model::Service> services;
};

// One operation of a patch on an endpoint or a peer, as the request gave it: the typed
// path (NetworkState::change) carries these out without touching the rest of the model.
struct TypedOp {
    enum class Action : uint8_t { Add, Remove };
    enum class Kind : uint8_t { Endpoint, Peer };
    Action action = Action::Add;
    Kind kind = Kind::Endpoint;
    std::size_t op = 0;    // its index in the request's "ops", for error paths
    nlohmann::json object; // Add: the object (an endpoint's "ip" may be absent)
    std::string name;      // Remove: the name
};

// What a typed change did, as the patch reply says it.
struct ChangeOutcome {
    nlohmann::json changes = nlohmann::json::array();   // as config_diff() lists them
    nlohmann::json allocated = nlohmann::json::array(); // [{name, network, ip, mac}]
    std::vector<model::LoadBalancer> load_balancers;    // given an address by this change
    std::vector<std::string> warnings;
};

class NetworkState {
public:
    explicit NetworkState(StateSettings settings = {});

    const Ipam& ipam() const { return ipam_; }
    const std::string& path() const { return settings_.path; }
    std::string new_id() const { return settings_.new_id(); }
    std::string now() const { return settings_.now(); }

    // Start-up: the config file's configuration merged with the state file's objects
    // (networks, peers, endpoints), ids assigned, IPAM built from the result and the state
    // file written when it differs. Returns the configuration to run. Throws
    // std::runtime_error (a corrupt state file or a directory in its place, a clash between
    // the two files); a state file that cannot be written is logged, not thrown.
    model::Config restore(const model::Config& from_file);

    // SIGHUP: `from_file` merged with the running objects that are not the config file's,
    // then committed. Throws as commit() does, or on a clash; returns commit()'s
    // warnings.
    std::vector<std::string> reload(ControlPlane& plane, const model::Config& from_file);

    // Networks without an id or creation time get those of the network with the same
    // name, VNI and subnet in `previous` (else in the state file read at start-up), or
    // new ones; services those of the service with the same name. Services also get back
    // the VIPs they lack, and `next` the load balancers it lacks, from `previous` (else,
    // during restore() only, the state file), when those addresses are still free in `next`.
    void assign_identity(model::Config& next, const model::Config& previous) const;

    // assign_identity(), then what IPAM still has to hand out for services, in `work` (a
    // copy of ipam() that already holds `next`'s other allocations, or will): VIPs, then
    // load balancers. Throws IpamError.
    ServiceAllocations prepare(model::Config& next, const model::Config& previous,
                               Ipam& work) const;

    // Docker's LocalLBIndex of each (service, network) with tasks in the running state:
    // the firewall mark libnetwork gives a service's load balancer on a network, from a
    // counter that starts at 256 when the daemon starts and takes the next value each time
    // a service's first task on a network appears; the mark goes with its last task
    // (libnetwork: fwMarkCtr in service.go, taken and dropped by addServiceBinding and
    // rmServiceBinding in service_common.go). Kept in memory only, as Docker keeps it:
    // after a restart the marks are handed out again from 256, in endpoint order.
    const LbIndexes& lb_indexes() const { return lb_indexes_; }

    // Puts `next` in place: `work` (a copy of ipam(), possibly with allocations made for
    // `next`) is reconciled with it, the plane applies it (unless dry_run), then IPAM is
    // replaced by `work` and the state file saved. Throws IpamError or what the plane's
    // apply() throws, and nothing has changed then. A state file that cannot be saved
    // does not undo the change: it is returned as a warning.
    std::vector<std::string> commit(ControlPlane& plane, const model::Config& next, Ipam work,
                                    bool dry_run);

    // Typed operations on endpoints and peers (an orchestrator's attach, detach, node join
    // or leave), in O(size of the change): each object is read as the loader reads one,
    // checked by the model's rules against the index kept here (index()), given its address
    // by IPAM (Docker's order: the tasks, then a node's load balancer on a network where its
    // first task appears); load balancers whose last task went are removed. Then the plane
    // applies it as one generation (ControlPlane::apply_change) and the state file's journal
    // records it. Throws ConfigError (at "ops[N]...") or what the plane throws, and then
    // nothing has changed: IPAM and the index are put back as they were.
    ChangeOutcome change(ControlPlane& plane, const std::vector<TypedOp>& ops, bool dry_run);

    // The model's index (control/model_index.hpp) for `plane`'s configuration, built from it
    // when a change of the whole configuration left it behind.
    const ModelIndex& index(const ControlPlane& plane);

    // Makes the journal's records after `written` (the state file's "journal") to `doc`'s
    // peers, endpoints and load balancers; returns the last record's number. Throws
    // std::runtime_error naming the record at fault.
    static uint64_t replay_journal(const std::string& text, uint64_t written, nlohmann::json& doc);

    // The journal beside the state file: PATH.journal.
    std::string journal_path() const { return settings_.path + ".journal"; }

    // The state file's text for `running`.
    std::string state_json(const model::Config& running) const;

    // Changes committed since this object was made (dry runs excluded): a caller tells by
    // it whether a request changed anything.
    uint64_t changes() const { return changes_; }

    // With settings.group_commit: saves `running` (the configuration in force) if a change
    // since the last successful save left the file behind. Returns the warning for the
    // clients whose changes are not kept (as commit() would have), "" when saved or
    // nothing was due; a failed save is logged and tried again at the next flush().
    std::string flush(const model::Config& running);

    // The warning that says a change was applied but the state file could not keep it.
    static std::string unsaved_warning(const std::string& error);

private:
    std::vector<std::string> commit_with(ControlPlane& plane, const model::Config& next, Ipam work,
                                         bool dry_run, const ConfigFileNames* file_names);
    // `from_file` with `kept` added after its objects, checked for clashes (thrown as
    // ConfigError naming both sides; `where` says where the kept objects come from).
    model::Config merge(const model::Config& from_file, SocketObjects kept,
                        const std::string& where) const;
    SocketObjects socket_objects(const model::Config& running) const;
    void save(const model::Config& running);
    // Appends the journal records waiting in pending_journal_, and syncs them; false when
    // the journal is not there (then the whole file must be written).
    bool append_journal();
    // Saves what is due: the whole file when a change of the whole configuration (or a
    // journal grown past the file) asks for it, else the journal's new records.
    std::string try_save_due(const model::Config& running, const char* when);
    // save(), its failure logged (settings.log) and returned ("" when saved).
    std::string try_save(const model::Config& running, const char* when);
    // Runs a write of the state: its failure logged and returned ("" when it worked).
    std::string attempt(const std::function<void()>& write, const char* when);
    void update_lb_indexes(const model::Config& running);

    StateSettings settings_;
    Ipam ipam_;
    ConfigFileNames file_names_; // the config file's objects
    // What the state file held at start-up, lent to the objects that lack it: networks for
    // as long as the process runs, services and load balancers only within restore().
    std::vector<model::Network> remembered_;
    std::vector<model::Service> remembered_services_;
    std::vector<model::LoadBalancer> remembered_load_balancers_;
    std::string saved_; // what the state file holds now
    uint64_t changes_ = 0;
    bool unsaved_ = false; // group commit: a change is not in the file yet
    LbIndexes lb_indexes_;
    uint32_t next_lb_index_ = 256;
    ModelIndex index_;
    bool index_valid_ = false; // index_ describes the plane's configuration
    // The journal: typed changes since the state file was last written, one JSON line
    // each, numbered; the file says up to which number it holds them ("journal").
    uint64_t journal_seq_ = 0;                 // the last record's number
    std::vector<std::string> pending_journal_; // records not yet appended (group commit)
    std::size_t journal_bytes_ = 0;            // what the journal holds now
    bool full_save_due_ = false;               // a whole-configuration change is not in the file
    bool journal_ready_ = false; // save() made the journal (empty) and synced its directory
};

} // namespace vxmesh::control
