#include "control/metrics_http.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace vxmesh::control {

namespace {

uint64_t monotonic_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1000 + uint64_t(t.tv_nsec) / 1000000;
}

constexpr int kPauseMs = 100; // listener off after running out of file descriptors

} // namespace

LoopbackEndpoint parse_metrics_listen(const std::string& listen) {
    const auto bad = [&](const char* why) {
        return std::runtime_error(fmt::format("--metrics-listen '{}': {}", listen, why));
    };
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw bad("expected 127.0.0.1:PORT");
    const std::string port_text = listen.substr(colon + 1);
    if (port_text.empty() || port_text.size() > 5 ||
        port_text.find_first_not_of("0123456789") != std::string::npos)
        throw bad("the port must be a number 1..65535");
    const unsigned long port = std::stoul(port_text);
    if (port == 0 || port > 65535) throw bad("the port must be a number 1..65535");
    in_addr address{};
    if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &address) != 1)
        throw bad("expected an IPv4 address, as in 127.0.0.1:PORT");
    if ((ntohl(address.s_addr) >> 24) != 127)
        throw bad("only loopback addresses (127.0.0.0/8) are allowed");
    return {address.s_addr, static_cast<uint16_t>(port)};
}

MetricsHttp::MetricsHttp(const std::string& listen, Render render) : render_(std::move(render)) {
    const LoopbackEndpoint at = parse_metrics_listen(listen);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = at.address;
    addr.sin_port = htons(at.port);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0) {
        std::string err = std::strerror(errno);
        if (fd_ >= 0) close(fd_);
        throw std::runtime_error(fmt::format("--metrics-listen {}: {}", listen, err));
    }
}

MetricsHttp::~MetricsHttp() {
    for (const Connection& c : connections_)
        close(c.fd);
    if (fd_ >= 0) close(fd_);
}

void MetricsHttp::accept_connections(uint64_t now) {
    for (size_t i = 0; i < max_connections; i++) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) paused_until_ = now + kPauseMs;
            return;
        }
        if (connections_.size() >= max_connections) {
            close(c); // a scraper retries; a flood gets nothing held open
            continue;
        }
        connections_.push_back({c, now + deadline_ms, {}, {}, false});
    }
}

void MetricsHttp::answer(Connection& c) {
    std::string status = "400 Bad Request", type = "text/plain", body = "bad request\n";
    const std::string& request = c.in;
    if (request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0) {
        status = "200 OK";
        type = "text/plain; version=0.0.4";
        body = render_();
    } else if (request.rfind("GET ", 0) == 0) {
        status = "404 Not Found";
        body = "vxmesh serves /metrics\n";
    }
    c.out = fmt::format("HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                        "Connection: close\r\n\r\n{}",
                        status, type, body.size(), body);
    c.answered = true;
}

bool MetricsHttp::advance(Connection& c, short revents) {
    if (revents & (POLLERR | POLLNVAL)) return false;
    if (!c.answered && (revents & (POLLIN | POLLHUP))) {
        char buf[2048];
        for (;;) {
            ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                return false;
            }
            if (n == 0) { // the client is done sending: answer what it sent
                answer(c);
                break;
            }
            c.in.append(buf, static_cast<size_t>(n));
            // The request line is all that matters; answer once the head is complete.
            if (c.in.find("\r\n\r\n") != std::string::npos ||
                c.in.find("\n\n") != std::string::npos || c.in.size() >= max_request) {
                answer(c);
                break;
            }
        }
    }
    while (c.answered && !c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.out.erase(0, static_cast<size_t>(n));
    }
    return !c.answered; // answered and sent: done
}

void MetricsHttp::poll() {
    const uint64_t now = monotonic_ms();
    std::vector<pollfd> fds;
    fds.push_back({now >= paused_until_ ? fd_ : -1, POLLIN, 0});
    for (const Connection& c : connections_)
        fds.push_back({c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
    if (::poll(fds.data(), fds.size(), 0) < 0) return;
    std::vector<Connection> kept;
    kept.reserve(connections_.size());
    for (size_t i = 0; i < connections_.size(); i++) {
        Connection& c = connections_[i];
        bool keep = now < c.deadline && advance(c, fds[i + 1].revents);
        if (keep)
            kept.push_back(std::move(c));
        else
            close(c.fd);
    }
    connections_ = std::move(kept);
    if (fds[0].revents & POLLIN) accept_connections(now);
}

} // namespace vxmesh::control
