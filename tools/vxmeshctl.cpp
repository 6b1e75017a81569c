// vxmeshctl: the control socket's client. Verbs follow the docker CLI where they
// overlap (network ls/inspect/rm), tables by default, --format json for machines.
#include "control/client.hpp"
#include "control/stats_text.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace po = boost::program_options;
using nlohmann::json;
using vxmesh::control::Client;

namespace {

struct Usage : std::runtime_error {
    using std::runtime_error::runtime_error;
};

const char* usage_text = R"(Usage: vxmeshctl [--socket PATH] [--format table|json] COMMAND

Commands:
  version                          vxmesh's version
  get                              the desired state (JSON, the YAML schema)
  apply -f FILE [--dry-run]        replace the desired state with FILE (YAML or JSON)
  diff -f FILE                     what apply -f FILE would change
  stats [--prometheus]             counters: ports, drop reasons, per lcore
  capture --port NAME [--direction rx|tx|drop] [--count N] [--filter EXPR]
          [--snaplen N] -w FILE    write pcapng of what a port receives, sends or
                                   drops (drops carry their reason as the comment);
                                   until N packets, or Ctrl-C
  capture --stop                   end a capture whose vxmeshctl is gone
  network create [OPTIONS] NAME    create an overlay network, as docker network create
        --driver overlay  --subnet CIDR  --gateway IP  --ip-range CIDR  --internal
        --attachable  --ingress  --opt KEY[=VALUE]  --label KEY[=VALUE]  --dry-run
        (options: encrypted, com.docker.network.driver.mtu=N,
         com.docker.network.driver.overlay.vxlanid_list=VNI)
  network ls                       networks
  network inspect [-v] NAME|ID...  networks, as docker network inspect prints them
  network rm NAME|ID...            remove networks (refused while endpoints use them)
  node ls                          this node (marked *) and its peers, with their
                                   data-path (VTEP) addresses, as docker node ls
  node add NAME --addr IP          add a peer node (its VTEP address)
  node rm NAME...                  remove peer nodes (refused while endpoints use them)
  peer ls | peer add NAME ADDRESS | peer rm NAME    the same as node add and rm
  endpoint ls
  endpoint attach NAME --network NET --node NODE [--ip IP] [--port PORT] [--mac MAC]
                  [--service SERVICE]
                                   without --ip: the network's next free address;
                                   with --service the endpoint is a task of SERVICE
  endpoint detach NAME
  service create NAME [--network NET]... [--endpoint-mode vip|dnsrr]
          [--publish published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]]...
                                   a service (control plane only: VIPs from IPAM, no
                                   load balancing yet); --publish P:T[/udp] also works
  service ls                       services, as docker service ls
  service inspect NAME|ID...       services, as docker service inspect prints them
  service rm NAME|ID...            remove services (refused while they have tasks)
)";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Options of one verb, parsed from what follows it.
po::variables_map parse_verb(const std::vector<std::string>& args, po::options_description& desc,
                             const std::vector<std::string>& positional_names = {}) {
    po::positional_options_description pos;
    for (const auto& n : positional_names) pos.add(n.c_str(), 1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
    return vm;
}

void print_warnings(const json& result) {
    if (result.contains("warnings"))
        for (const json& w : result["warnings"]) std::cerr << "vxmeshctl: warning: " << w.get<std::string>() << "\n";
}

void print_changes(const json& result) {
    print_warnings(result);
    for (const json& c : result["changes"])
        fmt::print("{:<7} {:<9} {}\n", c["action"].get<std::string>(), c["kind"].get<std::string>(),
                   c["name"].get<std::string>());
    fmt::print("{}generation {}\n", result.value("dry_run", false) ? "(dry run) " : "",
               result["generation"].get<uint64_t>());
}

// KEY=VALUE (or KEY alone: an empty value), as docker's --opt and --label.
json key_values(const std::vector<std::string>& items) {
    json out = json::object();
    for (const auto& item : items) {
        auto eq = item.find('=');
        out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
}

// What `docker network inspect` / `docker service inspect` print for `names` (names,
// ids or id prefixes), computed by vxmesh from its model ("network_inspect" and
// "service_inspect" in control/PROTOCOL.md); a name that matches nothing is an error
// saying so, as docker's.
nlohmann::ordered_json inspect(Client& client, const char* kind,
                               const std::vector<std::string>& names, bool verbose = false) {
    try {
        return client.call(fmt::format("{}_inspect", kind),
                           {{"names", names}, {"verbose", verbose}});
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(fmt::format("Error: {}", e.what()));
    }
}

// docker service create --publish: published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]
// or the short P:T[/PROTOCOL]. Values are sent as given; vxmesh checks them.
json publish_spec(const std::string& text) {
    auto fail = [&] {
        return Usage(fmt::format("--publish '{}': expected published=P,target=T[,protocol=tcp|udp]"
                                 "[,mode=ingress|host] or P:T[/tcp|udp]", text));
    };
    auto number = [&](const std::string& digits) {
        if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
            throw fail();
        return std::stoi(digits);
    };
    json port = json::object();
    if (text.find('=') == std::string::npos) {
        const auto colon = text.find(':');
        const auto slash = text.find('/');
        if (colon == std::string::npos) throw fail();
        port["published"] = number(text.substr(0, colon));
        port["target"] = number(text.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1));
        if (slash != std::string::npos) port["protocol"] = text.substr(slash + 1);
        return port;
    }
    std::stringstream fields(text);
    for (std::string field; std::getline(fields, field, ',');) {
        const auto eq = field.find('=');
        if (eq == std::string::npos) throw fail();
        const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
        if (key == "published" || key == "target") port[key] = number(value);
        else if (key == "protocol" || key == "mode") port[key] = value;
        else throw fail();
    }
    if (!port.contains("published") || !port.contains("target")) throw fail();
    return port;
}

const char* const commands[] = {"version", "get",  "apply", "diff",     "stats",  "capture",
                                "network", "node", "peer",  "endpoint", "service"};

// Without --socket or $VXMESH_SOCKET: the one socket vxmesh serves in /run/vxmesh
// (vxmesh names it after its node, /run/vxmesh/NODE.sock), or an error listing them.
std::string default_socket() {
    const std::filesystem::path dir = "/run/vxmesh";
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.is_socket(ec) && e.path().extension() == ".sock") found.push_back(e.path());
    std::sort(found.begin(), found.end());
    if (found.size() == 1) return found[0];
    if (found.empty())
        throw std::runtime_error("no control socket in /run/vxmesh (is vxmesh running? give "
                                 "--socket PATH or set VXMESH_SOCKET)");
    throw std::runtime_error(fmt::format("{} control sockets in /run/vxmesh ({}): choose one "
                                         "with --socket PATH or VXMESH_SOCKET",
                                         found.size(), fmt::join(found, ", ")));
}

int run(std::string socket_path, const std::string& format, std::vector<std::string> args) {
    if (args.empty()) throw Usage("no command");
    std::string verb = args[0];
    args.erase(args.begin());
    if (std::find(std::begin(commands), std::end(commands), verb) == std::end(commands))
        throw Usage(fmt::format("unknown command '{}' (commands: {})", verb,
                                fmt::join(commands, ", ")));
    if (socket_path.empty()) socket_path = default_socket();
    bool as_json = format == "json";
    Client client(socket_path);

    if (verb == "version") {
        json v = client.call("version");
        if (as_json) fmt::print("{}\n", v.dump(2));
        else fmt::print("vxmesh {} ({})\n", v["version"].get<std::string>(), v["commit"].get<std::string>());
        return 0;
    }
    if (verb == "get") {
        fmt::print("{}\n", client.call("get").dump(2));
        return 0;
    }
    if (verb == "apply" || verb == "diff") {
        po::options_description desc;
        std::string file;
        bool dry_run = false;
        desc.add_options()("file,f", po::value(&file)->required())("dry-run", po::bool_switch(&dry_run));
        parse_verb(args, desc);
        json result = client.call(verb, {{"config", read_file(file)}, {"dry_run", dry_run}});
        if (as_json) fmt::print("{}\n", result.dump(2));
        else print_changes(result);
        return 0;
    }
    if (verb == "capture") {
        po::options_description desc;
        std::string port, direction = "rx", filter, file;
        uint64_t count = 0;
        uint32_t snaplen = 2048;
        bool stop = false;
        desc.add_options()("stop", po::bool_switch(&stop))("port", po::value(&port))("direction", po::value(&direction))(
            "count,c", po::value(&count))("filter", po::value(&filter))(
            "snaplen", po::value(&snaplen))("write,w", po::value(&file));
        parse_verb(args, desc);
        if (stop) { // ends a capture whose vxmeshctl is gone (killed, terminal closed)
            json last = client.call("capture_stop")["last"];
            fmt::print("{}\n", as_json ? last.dump(2)
                                        : fmt::format("capture stopped: {} packets to {}",
                                                      last.value("written", 0),
                                                      last.value("file", std::string())));
            return 0;
        }
        if (port.empty() || file.empty()) throw Usage("capture: --port and -w are required");
        char* absolute = realpath(file.substr(0, file.rfind('/') + 1).empty()
                                      ? "." : file.substr(0, file.rfind('/') + 1).c_str(), nullptr);
        if (absolute == nullptr) throw std::runtime_error(fmt::format("{}: {}", file, std::strerror(errno)));
        std::string path = std::string(absolute) + "/" + file.substr(file.rfind('/') + 1);
        free(absolute);
        static volatile std::sig_atomic_t interrupted = 0;
        std::signal(SIGINT, [](int) { interrupted = 1; });
        std::signal(SIGTERM, [](int) { interrupted = 1; });
        std::signal(SIGHUP, [](int) { interrupted = 1; });
        client.call("capture_start", {{"port", port}, {"direction", direction}, {"count", count},
                                      {"filter", filter}, {"file", path}, {"snaplen", snaplen}});
        if (!as_json) fmt::print(stderr, "capturing on {} ({}) to {}{}\n", port, direction, path,
                                 count ? fmt::format(", {} packets", count) : ", Ctrl-C to stop");
        json status;
        for (;;) {
            status = client.call("capture_status");
            if (!status.value("running", false)) {
                status = status["last"];
                break;
            }
            if (interrupted) {
                status = client.call("capture_stop")["last"];
                break;
            }
            usleep(100000);
        }
        if (as_json) fmt::print("{}\n", status.dump(2));
        else fmt::print("{} packets captured ({} seen) to {}\n", status.value("written", 0),
                        status.value("seen", 0), path);
        return 0;
    }
    if (verb == "stats") {
        po::options_description desc;
        bool prometheus = false;
        desc.add_options()("prometheus", po::bool_switch(&prometheus));
        parse_verb(args, desc);
        json s = client.call("stats");
        if (prometheus) {
            std::string node = client.call("get")["desired"]["node"]["name"];
            fmt::print("{}", vxmesh::control::stats_prometheus(s, node));
        } else if (as_json) {
            fmt::print("{}\n", s.dump(2));
        } else {
            fmt::print("generation {}\n\n{}", s["generation"].get<uint64_t>(), vxmesh::control::stats_text(s));
        }
        return 0;
    }
    if (args.empty()) throw Usage(verb + ": missing subcommand");
    std::string sub = args[0];
    args.erase(args.begin());
    const json got = client.call("get");
    const json& desired = got["desired"];

    auto patch = [&](json ops) {
        json result = client.call("patch", {{"ops", ops}});
        if (as_json) fmt::print("{}\n", result.dump(2));
        else print_changes(result);
        return 0;
    };

    if (verb == "network") {
        if (sub == "ls") {
            if (as_json) { fmt::print("{}\n", desired["networks"].dump(2)); return 0; }
            fmt::print("{:<14} {:<24} {:<10} {:<8} {:<18} {}\n", "NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET", "VNI");
            for (const json& n : desired["networks"])
                fmt::print("{:<14} {:<24} {:<10} {:<8} {:<18} {}\n", n.value("id", "").substr(0, 12),
                           n["name"].get<std::string>(), "overlay", "swarm",
                           n["subnet"].get<std::string>(), n["vni"].get<uint32_t>());
            return 0;
        }
        if (sub == "inspect") {
            po::options_description desc;
            std::vector<std::string> names;
            bool verbose = false;
            desc.add_options()("verbose,v", po::bool_switch(&verbose))("name", po::value(&names)->required());
            po::positional_options_description pos;
            pos.add("name", -1);
            po::variables_map vm;
            po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
            po::notify(vm);
            fmt::print("{}\n", inspect(client, "network", names, verbose).dump(4));
            return 0;
        }
        if (sub == "rm") {
            if (args.empty()) throw Usage("network rm: missing NAME");
            json ops = json::array();
            for (const auto& n : inspect(client, "network", args))
                ops.push_back({{"op", "remove"}, {"kind", "network"}, {"name", n["Name"]}});
            return patch(ops);
        }
        if (sub == "create") {
            po::options_description desc;
            std::string name, driver = "overlay";
            std::vector<std::string> subnets, gateways, ranges, opts, labels;
            bool internal = false, attachable = false, ingress = false, dry_run = false;
            desc.add_options()("name", po::value(&name)->required())("driver,d", po::value(&driver))(
                "subnet", po::value(&subnets))("gateway", po::value(&gateways))("ip-range", po::value(&ranges))(
                "internal", po::bool_switch(&internal))("attachable", po::bool_switch(&attachable))(
                "ingress", po::bool_switch(&ingress))("opt,o", po::value(&opts))("label", po::value(&labels))(
                "dry-run", po::bool_switch(&dry_run));
            parse_verb(args, desc, {"name"});
            json params = {{"name", name}, {"driver", driver}, {"dry_run", dry_run}};
            if (!subnets.empty()) params["subnet"] = subnets;
            if (!gateways.empty()) params["gateway"] = gateways;
            if (!ranges.empty()) params["ip_range"] = ranges;
            if (internal) params["internal"] = true;
            if (attachable) params["attachable"] = true;
            if (ingress) params["ingress"] = true;
            if (!opts.empty()) params["options"] = key_values(opts);
            if (!labels.empty()) params["labels"] = key_values(labels);
            json result = client.call("network_create", params);
            print_warnings(result);
            if (as_json) fmt::print("{}\n", result.dump(2));
            else fmt::print("{}{}\n", dry_run ? "(dry run) " : "", result["network"]["id"].get<std::string>());
            return 0;
        }
        throw Usage("network: unknown subcommand " + sub);
    }
    if (verb == "node") {
        const json& node = desired["node"];
        const std::string self = node["name"];
        if (sub == "ls") {
            // Endpoints per node: what lives behind each VTEP.
            std::map<std::string, size_t> endpoints;
            for (const json& e : desired["endpoints"]) endpoints[e["node"].get<std::string>()]++;
            std::string address = node["data_path_addr"];
            json nodes = json::array();
            nodes.push_back({{"name", self}, {"self", true}, {"address", address.substr(0, address.find('/'))},
                             {"endpoints", endpoints[self]}});
            for (const json& p : desired["peers"])
                nodes.push_back({{"name", p["name"]}, {"self", false}, {"address", p["address"]},
                                 {"endpoints", endpoints[p["name"].get<std::string>()]}});
            if (as_json) { fmt::print("{}\n", nodes.dump(2)); return 0; }
            // docker node ls marks its own node with " *" after the ID; vxmesh nodes have no
            // id, so the mark follows the name.
            fmt::print("{:<26} {:<18} {}\n", "HOSTNAME", "DATA PATH ADDRESS", "ENDPOINTS");
            for (const json& n : nodes)
                fmt::print("{:<26} {:<18} {}\n",
                           n["name"].get<std::string>() + (n["self"].get<bool>() ? " *" : ""),
                           n["address"].get<std::string>(), n["endpoints"].get<size_t>());
            return 0;
        }
        if (sub == "add") {
            po::options_description desc;
            std::string name, addr;
            desc.add_options()("name", po::value(&name)->required())("addr", po::value(&addr)->required());
            parse_verb(args, desc, {"name"});
            return patch(json::array({{{"op", "add"}, {"kind", "peer"}, {"object", {{"name", name}, {"address", addr}}}}}));
        }
        if (sub == "rm" && !args.empty()) {
            json ops = json::array();
            for (const auto& name : args) {
                if (name == self)
                    throw std::runtime_error(fmt::format("{} is this node; only peers can be removed", name));
                ops.push_back({{"op", "remove"}, {"kind", "peer"}, {"name", name}});
            }
            return patch(ops);
        }
        throw Usage("node: expected ls, add NAME --addr IP or rm NAME...");
    }
    if (verb == "peer") {
        if (sub == "ls") {
            if (as_json) { fmt::print("{}\n", desired["peers"].dump(2)); return 0; }
            fmt::print("{:<24} {}\n", "NAME", "ADDRESS");
            for (const json& p : desired["peers"])
                fmt::print("{:<24} {}\n", p["name"].get<std::string>(), p["address"].get<std::string>());
            return 0;
        }
        if (sub == "add" && args.size() == 2)
            return patch(json::array({{{"op", "add"}, {"kind", "peer"}, {"object", {{"name", args[0]}, {"address", args[1]}}}}}));
        if (sub == "rm" && args.size() == 1)
            return patch(json::array({{{"op", "remove"}, {"kind", "peer"}, {"name", args[0]}}}));
        throw Usage("peer: expected ls, add NAME ADDRESS or rm NAME");
    }
    if (verb == "endpoint") {
        if (sub == "ls") {
            if (as_json) { fmt::print("{}\n", desired["endpoints"].dump(2)); return 0; }
            fmt::print("{:<24} {:<16} {:<16} {:<18} {:<16} {:<8} {}\n", "NAME", "NETWORK", "IP", "MAC", "NODE", "PORT",
                       "SERVICE");
            for (const json& e : desired["endpoints"])
                fmt::print("{:<24} {:<16} {:<16} {:<18} {:<16} {:<8} {}\n", e["name"].get<std::string>(),
                           e["network"].get<std::string>(), e["ip"].get<std::string>(),
                           e["mac"].get<std::string>(), e["node"].get<std::string>(), e.value("port", "-"),
                           e.value("service", "-"));
            return 0;
        }
        if (sub == "attach") {
            po::options_description desc;
            std::string name, network, ip, node, port, mac, service;
            desc.add_options()("name", po::value(&name)->required())("network", po::value(&network)->required())(
                "ip", po::value(&ip))("node", po::value(&node)->required())(
                "port", po::value(&port))("mac", po::value(&mac))("service", po::value(&service));
            parse_verb(args, desc, {"name"});
            json object = {{"name", name}, {"network", network}, {"node", node}};
            if (!ip.empty()) object["ip"] = ip; // else IPAM's next address
            if (!port.empty()) object["port"] = port;
            if (!mac.empty()) object["mac"] = mac;
            if (!service.empty()) object["service"] = service;
            json result = client.call("patch", {{"ops", json::array({{{"op", "add"}, {"kind", "endpoint"}, {"object", object}}})}});
            if (as_json) { fmt::print("{}\n", result.dump(2)); return 0; }
            print_changes(result);
            if (result.contains("allocated"))
                for (const json& a : result["allocated"])
                    fmt::print("{} {} {}\n", a["name"].get<std::string>(), a["ip"].get<std::string>(),
                               a["mac"].get<std::string>());
            return 0;
        }
        if (sub == "detach" && args.size() == 1)
            return patch(json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", args[0]}}}));
        throw Usage("endpoint: expected ls, attach or detach NAME");
    }
    if (verb == "service") {
        if (sub == "create") {
            po::options_description desc;
            std::string name, mode = "vip";
            std::vector<std::string> networks, publish;
            desc.add_options()("name", po::value(&name)->required())("network", po::value(&networks))(
                "publish,p", po::value(&publish))("endpoint-mode", po::value(&mode));
            parse_verb(args, desc, {"name"});
            json ports = json::array();
            for (const auto& text : publish) ports.push_back(publish_spec(text));
            json object = {{"name", name}, {"endpoint_mode", mode}, {"networks", networks}, {"ports", ports}};
            json result = client.call("patch", {{"ops", json::array({{{"op", "add"}, {"kind", "service"}, {"object", object}}})}});
            print_warnings(result);
            if (as_json) { fmt::print("{}\n", result.dump(2)); return 0; }
            // docker service create prints the new service's id.
            const json now = client.call("get");
            for (const json& sv : now["desired"]["services"])
                if (sv["name"] == name) fmt::print("{}\n", sv.value("id", ""));
            return 0;
        }
        if (sub == "ls") {
            if (as_json) { fmt::print("{}\n", desired["services"].dump(2)); return 0; }
            std::map<std::string, size_t> tasks;
            for (const json& e : desired["endpoints"])
                if (e.contains("service")) tasks[e["service"].get<std::string>()]++;
            fmt::print("{:<14} {:<24} {:<14} {:<6} {}\n", "ID", "NAME", "ENDPOINT MODE", "TASKS", "PORTS");
            for (const json& sv : desired["services"]) {
                // As docker service ls: the ingress ports only, *:PUBLISHED->TARGET/PROTOCOL.
                std::vector<std::string> ports;
                for (const json& p : sv["ports"])
                    if (p["mode"] == "ingress")
                        ports.push_back(fmt::format("*:{}->{}/{}", p["published"].get<int>(), p["target"].get<int>(),
                                                    p["protocol"].get<std::string>()));
                const std::string name = sv["name"];
                fmt::print("{:<14} {:<24} {:<14} {:<6} {}\n", sv.value("id", "").substr(0, 12), name,
                           sv["endpoint_mode"].get<std::string>(), tasks[name], fmt::join(ports, ","));
            }
            return 0;
        }
        if (sub == "inspect" && !args.empty()) {
            fmt::print("{}\n", inspect(client, "service", args).dump(4));
            return 0;
        }
        if (sub == "rm" && !args.empty()) {
            json ops = json::array();
            std::vector<std::string> names;
            for (const auto& sv : inspect(client, "service", args)) {
                names.push_back(sv["Spec"]["Name"]);
                ops.push_back({{"op", "remove"}, {"kind", "service"}, {"name", names.back()}});
            }
            json result = client.call("patch", {{"ops", ops}});
            print_warnings(result);
            if (as_json) { fmt::print("{}\n", result.dump(2)); return 0; }
            for (const auto& name : names) fmt::print("{}\n", name); // as docker service rm
            return 0;
        }
        throw Usage("service: expected create, ls, inspect NAME... or rm NAME...");
    }
    throw Usage("unknown command " + verb);
}

} // namespace

int main(int argc, char** argv) {
    std::string socket_path, format = "table";
    po::options_description global("Options");
    global.add_options()("help,h", "print this help")(
        "socket,s", po::value(&socket_path), "control socket (default $VXMESH_SOCKET, else the only /run/vxmesh/*.sock)")(
        "format", po::value(&format), "table (default) or json");
    if (const char* env = std::getenv("VXMESH_SOCKET")) socket_path = env;
    try {
        po::parsed_options parsed =
            po::command_line_parser(argc, argv).options(global).allow_unregistered().run();
        po::variables_map vm;
        po::store(parsed, vm);
        po::notify(vm);
        if (vm.count("help") || argc == 1) {
            std::cout << usage_text << "\n" << global << "\n";
            return argc == 1 ? 2 : 0;
        }
        if (format != "table" && format != "json") throw Usage("--format must be table or json");
        return run(socket_path, format, po::collect_unrecognized(parsed.options, po::include_positional));
    } catch (const Usage& e) {
        std::cerr << "vxmeshctl: " << e.what() << "\n\n" << usage_text;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "vxmeshctl: " << e.what() << "\n";
        return 1;
    }
}
