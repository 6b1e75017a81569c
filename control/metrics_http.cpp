#include "control/metrics_http.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace vxmesh::control {

MetricsHttp::MetricsHttp(const std::string& listen, Render render) : render_(std::move(render)) {
    auto colon = listen.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    int port = colon == std::string::npos ? -1 : std::atoi(listen.c_str() + colon + 1);
    if (colon == std::string::npos || port <= 0 || port > 65535 ||
        inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1)
        throw std::runtime_error(fmt::format("metrics listener '{}': expected 127.0.0.1:PORT", listen));
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127)
        throw std::runtime_error(fmt::format(
            "metrics listener '{}': only loopback addresses (127.0.0.0/8) are allowed", listen));
    addr.sin_port = htons(static_cast<uint16_t>(port));
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 8) != 0) {
        std::string err = std::strerror(errno);
        if (fd_ >= 0) close(fd_);
        throw std::runtime_error(fmt::format("metrics listener {}: {}", listen, err));
    }
}

MetricsHttp::~MetricsHttp() {
    if (fd_ >= 0) close(fd_);
}

void MetricsHttp::poll() {
    for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        // A scrape sends its request at once; wait briefly for it, then answer.
        pollfd p{c, POLLIN, 0};
        char buf[2048];
        ssize_t n = ::poll(&p, 1, 100) == 1 ? recv(c, buf, sizeof(buf) - 1, 0) : -1;
        std::string status = "400 Bad Request", type = "text/plain", body = "bad request\n";
        if (n > 0) {
            buf[n] = 0;
            std::string request(buf);
            if (request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0) {
                status = "200 OK";
                type = "text/plain; version=0.0.4";
                body = render_();
            } else {
                status = "404 Not Found";
                body = "vxmesh serves /metrics\n";
            }
        }
        std::string reply = fmt::format("HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                        "Connection: close\r\n\r\n{}",
                                        status, type, body.size(), body);
        for (size_t sent = 0; sent < reply.size();) {
            ssize_t w = send(c, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
            if (w <= 0) break;
            sent += static_cast<size_t>(w);
        }
        close(c);
    }
}

} // namespace vxmesh::control
