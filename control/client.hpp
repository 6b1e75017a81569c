// The control protocol's client (control/PROTOCOL.md): one connection to a vxmesh
// control socket, one request at a time. DPDK-free, for vxmeshctl and other tools.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace vxmesh::control {

class Client {
public:
    // Connects to the socket at `path`; throws std::runtime_error saying why not.
    explicit Client(const std::string& path);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends {"op": op, "params": params} and returns the reply's "result", its keys in the
    // order vxmesh wrote them (the inspect operations keep Docker's); an error reply
    // throws std::runtime_error with its message, as does a closed connection.
    nlohmann::ordered_json call(const std::string& op,
                                const nlohmann::json& params = nlohmann::json::object());

private:
    int fd_ = -1;
};

} // namespace vxmesh::control
