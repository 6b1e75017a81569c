#include "control/client.hpp"

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vxmesh::control {

Client::Client(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error(path + ": path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int error = errno;
        if (fd_ >= 0) close(fd_);
        throw std::runtime_error(fmt::format("cannot connect to {}: {} (is vxmesh running? "
                                             "see --socket)",
                                             path, std::strerror(error)));
    }
}

Client::~Client() {
    close(fd_);
}

nlohmann::ordered_json Client::call(const std::string& op, const nlohmann::json& params) {
    std::string line = nlohmann::json{{"op", op}, {"params", params}}.dump() + "\n";
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
    nlohmann::ordered_json reply = nlohmann::ordered_json::parse(in.substr(0, in.find('\n')));
    if (!reply.value("ok", false))
        throw std::runtime_error(reply.value("error", std::string("request failed")));
    return reply["result"];
}

} // namespace vxmesh::control
