// vxmesh: the program. The main thread is the control thread: it loads and validates
// the configuration before touching any port, starts EAL and the ports, compiles and
// publishes the first snapshot, launches the workers and the neighbour service (each on
// its own lcore), then serves the control socket, captures and signals (SIGHUP reloads,
// SIGINT/SIGTERM stop) until told to stop.
#include "control/build_info.hpp"
#include "control/config_load.hpp"
#include "control/control_socket.hpp"
#include "control/metrics_http.hpp"
#include "control/network_state.hpp"
#include "control/rpc.hpp"
#include "control/snapshot_build.hpp"
#include "control/stats_format.hpp"
#include "control/stats_text.hpp"
#include "control/telemetry.hpp"
#include "daemon/capture_session.hpp"
#include "dataplane/neighbour_service.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/port_watch.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/publish.hpp"
#include "dataplane/stats.hpp"
#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>
#include <unordered_set>

#include <unistd.h>

namespace po = boost::program_options;
using namespace vxmesh;

namespace {

volatile std::sig_atomic_t stop_signal = 0;
volatile std::sig_atomic_t reload_signal = 0;

void on_signal(int sig) {
    if (sig == SIGHUP)
        reload_signal = 1;
    else
        stop_signal = sig;
}

// Standard output may be a pipe whose reader has gone (SIGPIPE is ignored, so a write
// fails with EPIPE instead of killing vxmesh): the failure is said once on stderr and
// vxmesh goes on; its final counters still reach --stats-json.
void say(std::string_view text) {
    static bool broken = false;
    if (broken) return;
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
        broken = true;
        std::fprintf(stderr, "vxmesh: standard output: %s; nothing more is written there\n",
                     std::strerror(errno));
    }
}

struct Options {
    std::string config;
    unsigned workers = 1;
    bool busy_poll = false;
    std::string ready_file;
    std::string stats_json;
    unsigned stats_interval_ms = 0;
    std::string socket;
    std::string metrics_listen;
    unsigned mbufs = 16383; // at least what the ports need (dp::mbufs_needed) unless given
    bool mbufs_given = false;
    unsigned large_mbufs = 1023;
    unsigned neighbours = 65536;
    std::vector<std::string> eal;
    std::string state;                      // IPAM state file (see config/README.md)
    std::vector<std::string> address_pools; // --default-addr-pool
    unsigned pool_mask_length = 24;
};

// Returns false when the program should exit (help/version printed) with `code`.
bool parse_options(int argc, char** argv, Options& o, int& code) {
    po::options_description desc(
        "Usage: vxmesh --config FILE [options] [-- EAL arguments]\n\n"
        "vxmesh carries Docker-swarm-style overlay networks in VXLAN on DPDK ports.\n"
        "Without EAL arguments it runs with --no-huge -m 256 --no-pci --no-shconf and\n"
        "one lcore per worker plus one for control and one for the neighbour service,\n"
        "floating over every CPU.\n\nOptions");
    desc.add_options()("help,h", "print this help and exit")("version", "print the version")(
        "config,c", po::value(&o.config), "YAML configuration file (see config/README.md)")(
        "workers,w", po::value(&o.workers)->default_value(1), "number of worker lcores")(
        "busy-poll", po::bool_switch(&o.busy_poll), "never back off when idle")(
        "ready-file", po::value(&o.ready_file),
        "create this file once ports are up and the first tables are published")(
        "stats-json", po::value(&o.stats_json), "write the final counters as JSON here at exit")(
        "stats-interval", po::value(&o.stats_interval_ms)->default_value(0),
        "also rewrite --stats-json every this many milliseconds while running (0: at exit only)")(
        "metrics-listen", po::value(&o.metrics_listen),
        "serve Prometheus text on http://ADDR:PORT/metrics (loopback addresses only)")(
        "socket", po::value(&o.socket),
        "control socket path (default /run/vxmesh/NODE.sock; \"none\" disables it)")(
        "mbufs", po::value(&o.mbufs)->default_value(16383),
        "size of the mbuf pool (by default raised to what the ports' queues and descriptors "
        "need)")("large-mbufs", po::value(&o.large_mbufs)->default_value(1023),
                 "size of the pool of 68 KB mbufs for af_packet ports (GSO super-frames)")(
        "neighbours", po::value(&o.neighbours)->default_value(65536),
        "capacity of the underlay neighbour table")(
        "state", po::value(&o.state),
        "state file: IPAM allocations and what was added over the socket (default "
        "/var/lib/vxmesh/NODE.state.json; \"none\" keeps nothing across restarts)")(
        "default-addr-pool", po::value(&o.address_pools),
        "address pool for network subnets, repeatable (default 10.0.0.0/8)")(
        "default-addr-pool-mask-length", po::value(&o.pool_mask_length)->default_value(24),
        "prefix length of the subnets taken from the pools (16..29)")(
        "eal", po::value(&o.eal)->multitoken(), "EAL arguments (or give them after --)");
    po::positional_options_description positional;
    positional.add("eal", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "vxmesh: " << e.what() << "\n(see vxmesh --help)\n";
        code = 2;
        return false;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        code = 0;
        return false;
    }
    o.mbufs_given = !vm["mbufs"].defaulted();
    if (vm.count("version")) {
        std::cout << "vxmesh " << VXMESH_VERSION << " (" << VXMESH_COMMIT << ")\n";
        code = 0;
        return false;
    }
    if (o.config.empty()) {
        std::cerr << "vxmesh: --config is required (see vxmesh --help)\n";
        code = 2;
        return false;
    }
    if (!o.metrics_listen.empty()) {
        try {
            control::parse_metrics_listen(o.metrics_listen);
        } catch (const std::exception& e) {
            std::cerr << "vxmesh: " << e.what() << "\n";
            code = 2;
            return false;
        }
    }
    if (o.workers == 0 || o.workers >= RTE_MAX_LCORE) {
        std::cerr << "vxmesh: --workers must be between 1 and " << RTE_MAX_LCORE - 1 << "\n";
        code = 2;
        return false;
    }
    return true;
}

std::vector<std::string> eal_arguments(const Options& o, const model::Config& config) {
    std::vector<std::string> args{"vxmesh"};
    if (o.eal.empty()) {
        unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
        std::string set = cpus == 1 ? "0" : fmt::format("(0-{})", cpus - 1);
        std::string lcores;
        // lcore 0: control; 1..workers: workers; workers + 1: the neighbour service.
        for (unsigned l = 0; l <= o.workers + 1; l++)
            lcores += fmt::format("{}{}@{}", l ? "," : "", l, set);
        args.insert(args.end(),
                    {"--no-huge", "-m", "256", "--no-shconf", "--lcores", lcores, "--file-prefix",
                     fmt::format("vxmesh-{}", getpid()), "--log-level", "notice"});
        bool pci = !dp::device_is_vdev(config.node.underlay.device);
        for (const auto& p : config.ports)
            pci = pci || !dp::device_is_vdev(p.device);
        if (!pci) args.push_back("--no-pci");
    } else {
        args.insert(args.end(), o.eal.begin(), o.eal.end());
    }
    auto add_device = [&](const std::string& device) {
        args.push_back(dp::device_is_vdev(device) ? "--vdev" : "-a");
        args.push_back(dp::device_with_defaults(device));
    };
    add_device(config.node.underlay.device);
    for (const auto& p : config.ports)
        add_device(p.device);
    return args;
}

// How often the control thread looks at the ports' kernel interfaces.
constexpr uint64_t port_check_interval_ms = 200;

uint64_t now_ms() {
    return rte_get_timer_cycles() * 1000 / rte_get_timer_hz();
}

// What a reload may not change: the ports are opened once.
std::string reload_blocker(const model::Config& running, const model::Config& next) {
    if (next.node.underlay.device != running.node.underlay.device ||
        next.node.underlay.mac != running.node.underlay.mac)
        return "node.underlay cannot change while running; restart vxmesh";
    if (next.ports.size() != running.ports.size()) return "ports cannot change while running";
    for (size_t i = 0; i < next.ports.size(); i++)
        if (next.ports[i].name != running.ports[i].name ||
            next.ports[i].device != running.ports[i].device)
            return "ports cannot change while running; restart vxmesh";
    return {};
}

struct Runtime final : control::ControlPlane {
    Options options;
    model::Config desired;
    std::vector<dp::OpenPort> ports; // [0] is the underlay
    std::unique_ptr<dp::NeighbourTable> neighbours;
    std::unique_ptr<dp::NeighbourService> neighbour_service;
    std::unique_ptr<dp::SnapshotPublisher> publisher;
    // The snapshot the one in force replaced (no reader holds it), kept after an endpoint
    // change with the delta that made the one in force from it: the next endpoint change
    // updates it in place rather than copying the tables (apply_change).
    std::unique_ptr<dp::Snapshot> spare;
    control::EndpointDelta spare_delta;
    uint64_t generation_ = 0;
    std::unique_ptr<control::ControlSocket> socket;
    std::unique_ptr<control::MetricsHttp> metrics;
    std::unique_ptr<control::NetworkState> state;  // IPAM and the state file
    std::atomic<uint64_t> telemetry_generation{0}; // read by EAL's telemetry thread
    // Packet capture: copies from the workers and the running session.
    rte_ring* capture_ring = nullptr;
    rte_mempool* capture_pool = nullptr;
    std::unique_ptr<control::CaptureSession> capture;
    std::unique_ptr<dp::PortWatch> port_watch;

    std::vector<control::NamedPort> named_ports() const {
        std::vector<control::NamedPort> out;
        for (const auto& p : ports)
            out.push_back({p.name, p.id});
        return out;
    }

    control::BuildContext context(const model::Config& c) {
        control::BuildContext ctx;
        ctx.generation = generation_ + 1;
        ctx.underlay_port = ports[0].id;
        ctx.underlay_mac = ports[0].mac;
        if (c.node.underlay.mac)
            std::memcpy(ctx.underlay_mac.addr_bytes, c.node.underlay.mac->bytes.data(), 6);
        for (size_t i = 1; i < ports.size(); i++)
            ctx.access_ports.emplace(ports[i].name, ports[i].id);
        // What the ports carry now: a network whose MTU they cannot is refused.
        auto limits = [](const dp::OpenPort& p) {
            dp::PortCapacity c = dp::port_capacity(p);
            return control::PortLimits{c.mtu, c.frame};
        };
        ctx.underlay_limits = limits(ports[0]);
        for (size_t i = 1; i < ports.size(); i++)
            ctx.access_limits.emplace(ports[i].name, limits(ports[i]));
        dp::NeighbourSlots& slots = neighbour_service->slots();
        ctx.nexthop_slot = [&slots](rte_be32_t ip) { return slots.intern(ip); };
        ctx.neighbours = neighbours.get();
        if (capture) ctx.capture = capture->spec(capture_pool);
        return ctx;
    }

    std::unique_ptr<dp::Snapshot> compile(const model::Config& c) {
        const control::BuildContext ctx = context(c);
        dp::NeighbourSlots& slots = neighbour_service->slots();
        try {
            return control::build_snapshot(c, ctx);
        } catch (...) {
            slots.rejected(); // what this compile alone interned is released
            throw;
        }
    }

    // Every compiled snapshot is published: compile() and publish() pair up, so the
    // neighbour slots the replaced snapshot alone used are released here, once the
    // publication's grace period has passed and no reader can still use them.
    // A snapshot rebuilt from the one in force (rebuild_endpoints) interned no slot and
    // keeps all of them: `compiled` false, and no slot is released.
    void publish(std::unique_ptr<dp::Snapshot> s, bool compiled = true) {
        generation_ = s->generation;
        telemetry_generation.store(generation_);
        spare = publisher->swap(std::move(s));
        if (compiled) {
            neighbour_service->slots().published();
            spare.reset(); // what made the one in force from it is no endpoint delta
        }
    }

    // control::ControlPlane: what the socket and SIGHUP drive.
    const model::Config& config() const override { return desired; }
    uint64_t generation() const override { return generation_; }
    void apply(const model::Config& next) override {
        if (std::string why = reload_blocker(desired, next); !why.empty())
            throw control::ConfigError(why);
        publish(compile(next)); // throws before publishing when the tables cannot be built
        desired = next;
        // Room for attaches to come: the copy has no spare capacity, and the first attach
        // would move every endpoint to a bigger array (19 ms at 100k endpoints).
        desired.endpoints.reserve(desired.endpoints.size() + desired.endpoints.size() / 2 + 64);
        // A copy for the next endpoint change to update in place, made now, as part of this
        // change of the whole configuration, rather than by the first attach after it
        // (fresh 12 MB of tables at 100k endpoints: 11 ms of page faults and copying).
        try {
            spare =
                control::rebuild_endpoints(*publisher->current(), desired, {}, context(desired));
            spare_delta = {};
        } catch (const std::exception&) {
            spare.reset(); // the next change copies the tables then
        }
    }
    // Endpoints and load balancers only: the tables in force are cloned and changed
    // (control::rebuild_endpoints), and `desired` is changed in place; a change of peers is
    // compiled whole. Refused, `desired` is put back as it was, order included.
    void apply_change(const control::ConfigChange& change) override {
        if (change.touches_peers()) {
            ControlPlane::apply_change(change);
            return;
        }
        std::vector<std::pair<size_t, model::Endpoint>> removed_at;
        if (!change.removed_endpoints.empty()) {
            std::unordered_set<std::string> gone;
            for (const auto& e : change.removed_endpoints)
                gone.insert(e.name);
            for (size_t i = 0; i < desired.endpoints.size() && !gone.empty(); i++)
                if (gone.erase(desired.endpoints[i].name) > 0)
                    removed_at.emplace_back(i, desired.endpoints[i]);
        }
        const std::vector<model::LoadBalancer> load_balancers = desired.load_balancers;
        control::apply_change(desired, change);
        try {
            control::EndpointDelta delta{change.added_endpoints, change.removed_endpoints};
            const control::BuildContext ctx = context(desired);
            std::unique_ptr<dp::Snapshot> next;
            // The snapshot last replaced, brought up to date with the delta that replaced
            // it and this one, when its tables have room; else a copy of the one in force.
            const size_t most =
                std::max(desired.endpoints.size(), publisher->current()->fdb.size());
            if (spare && spare->fdb.fits(most) && spare->arp.fits(most) &&
                spare->sources.fits(most)) {
                next = std::move(spare);
                control::patch_endpoints(*next, desired, {&spare_delta, &delta}, ctx);
            } else {
                next = control::rebuild_endpoints(*publisher->current(), desired, delta, ctx);
            }
            publish(std::move(next), false);
            spare_delta = std::move(delta);
        } catch (...) {
            desired.endpoints.resize(desired.endpoints.size() - change.added_endpoints.size());
            for (auto& [at, e] : removed_at)
                desired.endpoints.insert(desired.endpoints.begin() + static_cast<long>(at),
                                         std::move(e));
            desired.load_balancers = load_balancers;
            throw;
        }
    }
    nlohmann::json stats() const override {
        return control::stats_document(named_ports(), generation_, rte_get_tsc_cycles(),
                                       rte_get_tsc_hz());
    }

    nlohmann::json capture_start(const nlohmann::json& p) override {
        if (capture)
            throw std::runtime_error("a capture is already running (capture_stop ends it)");
        // Each field checked for its type, with its name (json::value() would answer a
        // wrongly typed one with a raw type_error, and take -1 as 2^64-1).
        auto text = [&](const char* key, const char* fallback) {
            auto it = p.find(key);
            if (it == p.end() || it->is_null()) return std::string(fallback);
            if (!it->is_string())
                throw std::runtime_error(fmt::format("{}: expected a string", key));
            return it->get<std::string>();
        };
        auto number = [&](const char* key, uint64_t fallback, uint64_t max) {
            auto it = p.find(key);
            if (it == p.end() || it->is_null()) return fallback;
            if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
                throw std::runtime_error(fmt::format(
                    "{}: expected an integer 0..{}, got {}", key, max,
                    it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
            return it->get<uint64_t>();
        };
        control::CaptureRequest r;
        r.port_name = text("port", "");
        auto port = std::find_if(ports.begin(), ports.end(),
                                 [&](const dp::OpenPort& o) { return o.name == r.port_name; });
        if (port == ports.end())
            throw std::runtime_error(fmt::format("port: no port '{}'", r.port_name));
        r.port = port->id;
        std::string direction = text("direction", "rx");
        if (direction == "rx")
            r.direction = dp::CaptureDirection::Rx;
        else if (direction == "tx")
            r.direction = dp::CaptureDirection::Tx;
        else if (direction == "drop")
            r.direction = dp::CaptureDirection::Drop;
        else
            throw std::runtime_error("direction: must be rx, tx or drop");
        r.count = number("count", 0, UINT64_MAX);
        r.filter = text("filter", "");
        r.file = text("file", "");
        if (r.file.empty() || r.file[0] != '/')
            throw std::runtime_error("file: an absolute path is required");
        r.snaplen = static_cast<uint32_t>(number("snaplen", 2048, RTE_MBUF_DEFAULT_DATAROOM));
        if (r.snaplen == 0)
            throw std::runtime_error(
                fmt::format("snaplen: must be 1..{}", RTE_MBUF_DEFAULT_DATAROOM));
        capture = std::make_unique<control::CaptureSession>(r, capture_ring);
        try {
            publish(compile(desired)); // a new generation whose workers copy what r selects
        } catch (...) {
            capture.reset();
            throw;
        }
        return capture->status();
    }
    nlohmann::json capture_status() override {
        if (!capture) return {{"running", false}, {"last", last_capture}};
        nlohmann::json s = capture->status();
        s["running"] = true;
        return s;
    }
    nlohmann::json capture_stop() override {
        if (!capture) throw std::runtime_error("no capture is running");
        finish_capture();
        return {{"running", false}, {"last", last_capture}};
    }
    // Workers stop copying (the publication waits for them), then the rest is written.
    // A capture that fails (its file cannot be written) ends, with the error kept in its
    // status; it never takes vxmesh down.
    void finish_capture() {
        std::unique_ptr<control::CaptureSession> session = std::move(capture);
        publish(compile(desired));
        std::string error;
        try {
            session->drain();
        } catch (const std::exception& e) {
            error = e.what();
        }
        last_capture = session->status();
        if (!error.empty()) last_capture["error"] = error;
    }
    void poll_capture() {
        if (!capture) return;
        try {
            if (!capture->drain()) return;
        } catch (const std::exception& e) {
            fmt::print(stderr, "vxmesh: capture stopped: {}\n", e.what());
            std::unique_ptr<control::CaptureSession> session = std::move(capture);
            publish(compile(desired));
            last_capture = session->status();
            last_capture["error"] = e.what();
            return;
        }
        finish_capture();
    }
    nlohmann::json last_capture;

    // Ports whose kernel interface went away or came back (dataplane/port_watch.hpp). An
    // underlay reopened onto a new interface gets a snapshot that sends from its MAC; an
    // underlay that is usable again announces our address (a gratuitous ARP), so that
    // peers move to a new MAC at once rather than when their entry for us expires.
    void check_ports() {
        for (const dp::PortChange& c : port_watch->poll()) {
            fmt::print(stderr, "vxmesh: {}\n", c.message);
            if (c.port != 0) continue;
            if (c.kind == dp::PortChange::Kind::Reopened) {
                try {
                    publish(compile(desired));
                } catch (const std::exception& e) {
                    fmt::print(stderr,
                               "vxmesh: cannot republish after the underlay came back: {}\n",
                               e.what());
                }
            }
            if (c.kind == dp::PortChange::Kind::Up) neighbour_service->announce();
        }
    }

    void reload() {
        try {
            auto warnings = state->reload(*this, control::load_config_file(options.config));
            state->flush(desired); // a failed save is logged by the state itself
            fmt::print(stderr, "vxmesh: reloaded {}, generation {}\n", options.config, generation_);
            for (const auto& w : warnings)
                fmt::print(stderr, "vxmesh: warning: {}\n", w);
        } catch (const std::exception& e) {
            fmt::print(stderr, "vxmesh: reload rejected, generation {} stays: {}\n", generation_,
                       e.what());
        }
    }
};

// Written atomically (control/ipam.hpp's write_file_atomically: a temporary file, every
// write and the fsync checked, renamed only then), so that a reader never sees half a
// file and a full disk never replaces the last good one with an empty one. A failure is
// logged; vxmesh goes on.
void write_stats_json(const Runtime& rt) {
    try {
        control::write_file_atomically(rt.options.stats_json, rt.stats().dump() + "\n",
                                       "--stats-json");
    } catch (const std::exception& e) {
        fmt::print(stderr, "vxmesh: {}\n", e.what());
    }
}

void open_listeners(Runtime& rt) {
    const Options& o = rt.options;
    if (o.socket != "none") {
        std::string path =
            o.socket.empty() ? fmt::format("/run/vxmesh/{}.sock", rt.desired.node.name) : o.socket;
        // Group commit (control/control_socket.hpp): a request that changed the state is
        // acknowledged only after the turn's one save of the state file.
        rt.socket = std::make_unique<control::ControlSocket>(
            path,
            [&rt](const std::string& line) {
                uint64_t before = rt.state->changes();
                std::string reply = control::handle_request_line(rt, *rt.state, line);
                return control::ControlSocket::Reply{std::move(reply),
                                                     rt.state->changes() != before};
            },
            [&rt] { return rt.state->flush(rt.desired); });
        say(fmt::format("vxmesh: control socket {}\n", path));
    }
    if (!o.metrics_listen.empty()) {
        rt.metrics = std::make_unique<control::MetricsHttp>(o.metrics_listen, [&rt] {
            return control::stats_prometheus(rt.stats(), rt.desired.node.name);
        });
        say(fmt::format("vxmesh: metrics on http://{}/metrics\n", o.metrics_listen));
    }
}

int run(Runtime& rt) {
    const Options& o = rt.options;
    std::vector<std::string> args = eal_arguments(o, rt.desired);
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        fmt::print(stderr, "vxmesh: EAL initialisation failed: {}\n", rte_strerror(rte_errno));
        return 1;
    }
    if (rte_lcore_count() < o.workers + 2) {
        fmt::print(stderr,
                   "vxmesh: {} worker(s) need {} lcores (control, workers, neighbour service), "
                   "EAL has {}: give EAL's --lcores or -l enough\n",
                   o.workers, o.workers + 2, rte_lcore_count());
        rte_eal_cleanup();
        return 1;
    }

    int code = 0;
    rte_ring* punt = nullptr;
    rte_ring* control_tx = nullptr;
    std::vector<dp::WorkerConfig> workers(o.workers);
    dp::NeighbourThreadConfig neighbour_thread;
    std::atomic<bool> stop{false};
    bool launched = false;
    try {
        // af_packet ports read frames of up to their frame size into one mbuf: those with
        // frames larger than a standard mbuf (GSO super-frames, dp::device_with_defaults)
        // receive into a pool of large ones.
        std::vector<dp::PortSpec> specs{{"underlay", rt.desired.node.underlay.device}};
        for (const auto& p : rt.desired.ports)
            specs.push_back({p.name, p.device});
        // The pool holds what every queue's descriptors and every lcore's cache take, or
        // the ports would starve at the first burst (4 NIC ports with 4 workers need 33k).
        std::vector<std::string> devices;
        for (const auto& spec : specs)
            devices.push_back(spec.device);
        const unsigned needed =
            dp::mbufs_needed(devices, static_cast<uint16_t>(o.workers), o.workers + 2);
        if (o.mbufs_given && o.mbufs < needed)
            throw std::runtime_error(
                fmt::format("--mbufs {} is too few: {} port(s) with {} queue(s) of {} rx and {} tx "
                            "descriptors and {} lcores take {}",
                            o.mbufs, specs.size(), o.workers, dp::rx_descriptors,
                            dp::tx_descriptors, o.workers + 2, needed));
        rte_mempool* pool = dp::create_mbuf_pool(std::max(o.mbufs, needed));
        uint32_t frame_size = 0;
        for (const auto& spec : specs)
            frame_size =
                std::max(frame_size, dp::device_frame_size(dp::device_with_defaults(spec.device)));
        rte_mempool* large_pool = nullptr;
        if (frame_size > RTE_MBUF_DEFAULT_DATAROOM)
            large_pool = dp::create_large_mbuf_pool(o.large_mbufs, frame_size);
        auto queues = static_cast<uint16_t>(o.workers);
        for (const auto& spec : specs) {
            bool large = dp::device_frame_size(dp::device_with_defaults(spec.device)) >
                         RTE_MBUF_DEFAULT_DATAROOM;
            rt.ports.push_back(dp::open_port(spec, queues, large ? large_pool : pool));
        }
        for (const auto& port : rt.ports)
            if (o.workers > 1)
                say(fmt::format("vxmesh: port {}: {} rx queues{}\n", port.name, o.workers,
                                port.rss != 0 ? fmt::format(", RSS on hash types {:#x}", port.rss)
                                : port.kernel_buffers ? " (af_packet: the kernel spreads them)"
                                                      : ", no RSS (the device has none)"));
        uint32_t offload_ports = 0;
        for (const auto& port : rt.ports)
            if (port.kernel_buffers) offload_ports |= uint32_t{1} << port.id;

        punt = rte_ring_create("vxmesh_punt", 4096, rte_socket_id(), RING_F_SC_DEQ);
        control_tx =
            rte_ring_create("vxmesh_ctl_tx", 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (punt == nullptr || control_tx == nullptr)
            throw std::runtime_error(
                fmt::format("cannot create rings: {}", rte_strerror(rte_errno)));
        // Multi-producer: every worker and the neighbour service (its
        // drops) queue capture copies on it; only the control thread dequeues
        // (dataplane/capture.hpp explains why one ring).
        rt.capture_ring = rte_ring_create("vxmesh_capture", 4096, rte_socket_id(), RING_F_SC_DEQ);
        rt.capture_pool = rte_pktmbuf_pool_create("vxmesh_capture", 4095, 128, dp::packet_meta_size,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
        if (rt.capture_ring == nullptr || rt.capture_pool == nullptr)
            throw std::runtime_error(fmt::format("cannot create the capture ring and pools: {}",
                                                 rte_strerror(rte_errno)));
        if (rte_ring_get_prod_sync_type(rt.capture_ring) == RTE_RING_SYNC_ST)
            throw std::logic_error("the capture ring must be multi-producer");
        rt.neighbours = std::make_unique<dp::NeighbourTable>(o.neighbours);
        // The lcore after the workers' runs the neighbour service.
        unsigned neighbour_lcore = rte_get_next_lcore(-1, 1, 0);
        for (unsigned i = 0; i < o.workers; i++)
            neighbour_lcore = rte_get_next_lcore(neighbour_lcore, 1, 0);
        rt.neighbour_service = std::make_unique<dp::NeighbourService>(
            *rt.neighbours, punt, control_tx, pool, neighbour_lcore);
        // RCU readers: the workers (0..workers-1) and the neighbour service (workers).
        rt.publisher = std::make_unique<dp::SnapshotPublisher>(o.workers + 1);
        rt.publish(rt.compile(rt.desired));
        control::telemetry_register(rt.named_ports(), &rt.telemetry_generation);

        unsigned index = 0;
        unsigned lcore;
        RTE_LCORE_FOREACH_WORKER(lcore) {
            if (index == o.workers) break;
            dp::WorkerConfig& w = workers[index];
            w.index = index;
            w.workers = o.workers;
            w.underlay_port = rt.ports[0].id;
            for (size_t i = 1; i < rt.ports.size(); i++)
                w.access_ports.push_back(rt.ports[i].id);
            w.punt = punt;
            w.control_tx = index == 0 ? control_tx : nullptr;
            w.publisher = rt.publisher.get();
            w.stop = &stop;
            w.busy_poll = o.busy_poll;
            w.offload_ports = offload_ports;
            w.segment_pool = pool;
            if (int rc = rte_eal_remote_launch(dp::worker_main, &w, lcore); rc != 0)
                throw std::runtime_error(fmt::format("cannot launch worker {} on lcore {}: {}",
                                                     index, lcore, rte_strerror(-rc)));
            launched = true;
            index++;
        }
        neighbour_thread.service = rt.neighbour_service.get();
        neighbour_thread.publisher = rt.publisher.get();
        neighbour_thread.qsbr_id = o.workers;
        neighbour_thread.stop = &stop;
        if (int rc = rte_eal_remote_launch(dp::neighbour_main, &neighbour_thread, neighbour_lcore);
            rc != 0)
            throw std::runtime_error(
                fmt::format("cannot launch the neighbour service on lcore {}: {}", neighbour_lcore,
                            rte_strerror(-rc)));

        rt.port_watch =
            std::make_unique<dp::PortWatch>(rt.ports, [&rt] { rt.publisher->synchronize(); });
        rt.check_ports(); // an interface already down at start is reported now

        say(fmt::format("vxmesh: node {} ready: {} port(s), {} worker(s), generation {}\n",
                        rt.desired.node.name, rt.ports.size(), o.workers, rt.generation_));
        if (!o.ready_file.empty()) std::ofstream(o.ready_file) << getpid() << "\n";

        uint64_t next_stats_ms = now_ms() + o.stats_interval_ms;
        uint64_t next_port_check_ms = now_ms() + port_check_interval_ms;
        while (stop_signal == 0) {
            if (reload_signal) {
                reload_signal = 0;
                rt.reload();
            }
            uint64_t now = now_ms();
            rt.poll_capture();
            if (now >= next_port_check_ms) {
                rt.check_ports();
                next_port_check_ms = now + port_check_interval_ms;
            }
            if (rt.metrics) rt.metrics->poll();
            if (o.stats_interval_ms != 0 && !o.stats_json.empty() && now >= next_stats_ms) {
                write_stats_json(rt);
                next_stats_ms = now + o.stats_interval_ms;
            }
            if (rt.socket)
                rt.socket->poll(1);
            else
                usleep(1000);
        }
        say(fmt::format("vxmesh: stopping on signal {}\n", static_cast<int>(stop_signal)));
    } catch (const std::exception& e) {
        fmt::print(stderr, "vxmesh: {}\n", e.what());
        code = 1;
    }

    stop.store(true);
    if (launched) rte_eal_mp_wait_lcore();
    rt.socket.reset();
    if (rt.state) rt.state->flush(rt.desired); // a save that failed is tried once more
    rt.metrics.reset();
    rt.capture.reset();
    say(control::stats_text(rt.stats()));
    if (!o.stats_json.empty()) write_stats_json(rt);
    rt.neighbour_service.reset();
    rt.publisher.reset();
    for (const auto& p : rt.ports)
        dp::close_port(p);
    rte_ring_free(punt);
    rte_ring_free(control_tx);
    rte_ring_free(rt.capture_ring);
    rte_eal_cleanup();
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Runtime rt;
    int code = 0;
    if (!parse_options(argc, argv, rt.options, code)) return code;
    model::Config from_file;
    try {
        from_file = control::load_config_file(rt.options.config);
    } catch (const control::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    control::StateSettings settings;
    try {
        if (!rt.options.address_pools.empty()) settings.ipam.pools.clear();
        for (const auto& text : rt.options.address_pools) {
            auto pool = model::parse_prefix(text);
            if (!pool)
                throw control::IpamError(fmt::format(
                    "default-addr-pool '{}' is not an IPv4 prefix (a.b.c.d/len)", text));
            settings.ipam.pools.push_back(*pool);
        }
        settings.ipam.mask_length =
            static_cast<uint8_t>(std::min(rt.options.pool_mask_length, 255u));
        control::Ipam check(settings.ipam); // throws on a bad pool configuration
    } catch (const control::IpamError& e) {
        std::cerr << "vxmesh: " << e.what() << " (see vxmesh --help)\n";
        return 2;
    }
    const std::string& state = rt.options.state;
    settings.path = state == "none" ? ""
                    : state.empty()
                        ? fmt::format("/var/lib/vxmesh/{}.state.json", from_file.node.name)
                        : state;
    settings.log = [](const std::string& line) { fmt::print(stderr, "vxmesh: {}\n", line); };
    settings.group_commit = true; // saved once per turn of the socket's loop (open_listeners)
    try {
        rt.state = std::make_unique<control::NetworkState>(settings);
        rt.desired = rt.state->restore(from_file);
        rt.desired.endpoints.reserve(rt.desired.endpoints.size() * 3 / 2 + 64); // as apply()
    } catch (const std::exception& e) {
        std::cerr << "vxmesh: " << e.what() << "\n";
        return 1;
    }
    // The control socket and the metrics listener are bound before EAL or any port is
    // touched: a second vxmesh on the same socket, a file in the socket's place or a
    // taken port is refused before it could forward a single packet.
    try {
        open_listeners(rt);
    } catch (const std::exception& e) {
        std::cerr << "vxmesh: " << e.what() << "\n";
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        sigaction(sig, &sa, nullptr);
    // A reader that goes away (a capture FIFO, a pipe on stdout, a client of a socket)
    // is an error on that one file (EPIPE), never the end of vxmesh. Before EAL starts,
    // so that every thread it creates inherits it.
    signal(SIGPIPE, SIG_IGN);
    return run(rt);
}
