// vxmeshctl: the control socket's client. Verbs follow the docker CLI where they
// overlap (network ls/inspect/rm), tables by default, --format json for machines.
#include "control/stats_format.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace po = boost::program_options;
using nlohmann::json;

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
  network ls                       networks
  network inspect NAME             a network, as docker network inspect prints it
  network rm NAME                  remove a network (refused while endpoints use it)
  peer ls | peer add NAME ADDRESS | peer rm NAME
  endpoint ls
  endpoint attach NAME --network NET --ip IP --node NODE [--port PORT] [--mac MAC]
  endpoint detach NAME
)";

class Client {
public:
    explicit Client(const std::string& path) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error(path + ": path too long");
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
            throw std::runtime_error(fmt::format("cannot connect to {}: {} (is vxmesh running? "
                                                 "see --socket)",
                                                 path, std::strerror(errno)));
    }
    ~Client() { close(fd_); }

    json call(const std::string& op, json params = json::object()) {
        std::string line = json{{"op", op}, {"params", params}}.dump() + "\n";
        for (size_t sent = 0; sent < line.size();) {
            ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break; // refused? the reason may already be waiting to be read
            sent += static_cast<size_t>(n);
        }
        std::string in;
        char buf[65536];
        while (in.find('\n') == std::string::npos) {
            ssize_t n = recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0) throw std::runtime_error("vxmesh closed the connection");
            in.append(buf, static_cast<size_t>(n));
        }
        json reply = json::parse(in.substr(0, in.find('\n')));
        if (!reply.value("ok", false))
            throw std::runtime_error(reply.value("error", std::string("request failed")));
        return reply["result"];
    }

private:
    int fd_ = -1;
};

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

json find_named(const json& list, const std::string& name, const char* kind) {
    for (const json& x : list)
        if (x["name"] == name) return x;
    throw std::runtime_error(fmt::format("Error: No such {}: {}", kind, name));
}

void print_changes(const json& result) {
    for (const json& c : result["changes"])
        fmt::print("{:<7} {:<9} {}\n", c["action"].get<std::string>(), c["kind"].get<std::string>(),
                   c["name"].get<std::string>());
    fmt::print("{}generation {}\n", result.value("dry_run", false) ? "(dry run) " : "",
               result["generation"].get<uint64_t>());
}

// docker network inspect's shape for a swarm overlay network, from what vxmesh knows.
json network_inspect(const json& desired, const json& n) {
    json containers = json::object();
    for (const json& e : desired["endpoints"]) {
        if (e["network"] != n["name"] || e["node"] != desired["node"]["name"]) continue;
        std::string prefix = n["subnet"].get<std::string>();
        std::string len = prefix.substr(prefix.find('/'));
        containers[e["name"].get<std::string>()] = {{"Name", e["name"]},
                                                    {"EndpointID", e["name"]},
                                                    {"MacAddress", e["mac"]},
                                                    {"IPv4Address", e["ip"].get<std::string>() + len},
                                                    {"IPv6Address", ""}};
    }
    json peers = json::array();
    peers.push_back({{"Name", desired["node"]["name"]},
                     {"IP", desired["node"]["data_path_addr"].get<std::string>().substr(
                                0, desired["node"]["data_path_addr"].get<std::string>().find('/'))}});
    for (const json& p : desired["peers"]) peers.push_back({{"Name", p["name"]}, {"IP", p["address"]}});
    return {{"Name", n["name"]},
            {"Id", n["name"]},
            {"Created", "0001-01-01T00:00:00Z"},
            {"Scope", "swarm"},
            {"Driver", "overlay"},
            {"EnableIPv6", false},
            {"IPAM",
             {{"Driver", "default"},
              {"Options", nullptr},
              {"Config", json::array({{{"Subnet", n["subnet"]}, {"Gateway", n["gateway"]}}})}}},
            {"Internal", false},
            {"Attachable", false},
            {"Ingress", false},
            {"ConfigFrom", {{"Network", ""}}},
            {"ConfigOnly", false},
            {"Containers", containers.empty() ? json(nullptr) : containers},
            {"Options",
             {{"com.docker.network.driver.overlay.vxlanid_list", std::to_string(n["vni"].get<uint32_t>())},
              {"com.docker.network.driver.mtu", std::to_string(n["mtu"].get<unsigned>())}}},
            {"Labels", json::object()},
            {"Peers", peers}};
}

int run(const std::string& socket_path, const std::string& format, std::vector<std::string> args) {
    if (args.empty()) throw Usage("no command");
    std::string verb = args[0];
    args.erase(args.begin());
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
    json desired = client.call("get")["desired"];

    auto patch = [&](json ops) {
        json result = client.call("patch", {{"ops", ops}});
        if (as_json) fmt::print("{}\n", result.dump(2));
        else print_changes(result);
        return 0;
    };

    if (verb == "network") {
        if (sub == "ls") {
            if (as_json) { fmt::print("{}\n", desired["networks"].dump(2)); return 0; }
            fmt::print("{:<16} {:<24} {:<10} {:<8} {:<18} {}\n", "NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET", "VNI");
            for (const json& n : desired["networks"])
                fmt::print("{:<16} {:<24} {:<10} {:<8} {:<18} {}\n", n["name"].get<std::string>(),
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
            json out = json::array();
            for (const auto& name : names) out.push_back(network_inspect(desired, find_named(desired["networks"], name, "network")));
            fmt::print("{}\n", out.dump(4));
            return 0;
        }
        if (sub == "rm") {
            if (args.empty()) throw Usage("network rm: missing NAME");
            json ops = json::array();
            for (const auto& name : args) ops.push_back({{"op", "remove"}, {"kind", "network"}, {"name", name}});
            return patch(ops);
        }
        throw Usage("network: unknown subcommand " + sub + " (network create arrives with IPAM)");
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
            fmt::print("{:<24} {:<16} {:<16} {:<18} {:<16} {}\n", "NAME", "NETWORK", "IP", "MAC", "NODE", "PORT");
            for (const json& e : desired["endpoints"])
                fmt::print("{:<24} {:<16} {:<16} {:<18} {:<16} {}\n", e["name"].get<std::string>(),
                           e["network"].get<std::string>(), e["ip"].get<std::string>(),
                           e["mac"].get<std::string>(), e["node"].get<std::string>(), e.value("port", "-"));
            return 0;
        }
        if (sub == "attach") {
            po::options_description desc;
            std::string name, network, ip, node, port, mac;
            desc.add_options()("name", po::value(&name)->required())("network", po::value(&network)->required())(
                "ip", po::value(&ip)->required())("node", po::value(&node)->required())(
                "port", po::value(&port))("mac", po::value(&mac));
            parse_verb(args, desc, {"name"});
            json object = {{"name", name}, {"network", network}, {"ip", ip}, {"node", node}};
            if (!port.empty()) object["port"] = port;
            if (!mac.empty()) object["mac"] = mac;
            return patch(json::array({{{"op", "add"}, {"kind", "endpoint"}, {"object", object}}}));
        }
        if (sub == "detach" && args.size() == 1)
            return patch(json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", args[0]}}}));
        throw Usage("endpoint: expected ls, attach or detach NAME");
    }
    throw Usage("unknown command " + verb);
}

} // namespace

int main(int argc, char** argv) {
    std::string socket_path = "/run/vxmesh/vxmesh.sock", format = "table";
    po::options_description global("Options");
    global.add_options()("help,h", "print this help")(
        "socket,s", po::value(&socket_path), "control socket (default /run/vxmesh/vxmesh.sock, or $VXMESH_SOCKET)")(
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
