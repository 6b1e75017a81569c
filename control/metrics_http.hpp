// A minimal HTTP/1.0 listener for Prometheus: GET /metrics answers the text exposition
// format (control/stats_format.hpp); anything else is 404. Loopback addresses only —
// it carries no authentication.
//
// Polled from the control loop and never waits there (DESIGN.md: the thread that answers
// the underlay's ARP never waits for a client): each connection has its own state (what
// it sent, what is left to send) advanced without blocking on every poll; at most
// max_connections at once (one more is closed at once), and each has `deadline_ms` from
// its accept to send its request and read the answer, after which it is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vxmesh::control {

class MetricsHttp {
public:
    using Render = std::function<std::string()>;

    // `listen` is "127.0.0.1:PORT" (any 127.0.0.0/8 address). Throws std::runtime_error.
    MetricsHttp(const std::string& listen, Render render);
    ~MetricsHttp();
    MetricsHttp(const MetricsHttp&) = delete;
    MetricsHttp& operator=(const MetricsHttp&) = delete;

    // Serve whatever is pending, without waiting.
    void poll();

    size_t connections() const { return connections_.size(); }

    static constexpr size_t max_connections = 16;
    static constexpr uint64_t deadline_ms = 2000;
    static constexpr size_t max_request = 4096; // bytes of request head read

private:
    struct Connection {
        int fd;
        uint64_t deadline; // ms, CLOCK_MONOTONIC
        std::string in;
        std::string out;
        bool answered;
    };
    void accept_connections(uint64_t now);
    void answer(Connection& c);
    bool advance(Connection& c, short revents); // false: close it

    int fd_ = -1;
    uint64_t paused_until_ = 0; // after an accept that found no file descriptor
    Render render_;
    std::vector<Connection> connections_;
};

// "ADDR:PORT" → address (network order) and port, strictly: a dotted IPv4 address in
// 127.0.0.0/8 and a decimal port 1..65535. Throws std::runtime_error naming the text.
struct LoopbackEndpoint {
    uint32_t address; // network byte order
    uint16_t port;
};
LoopbackEndpoint parse_metrics_listen(const std::string& listen);

} // namespace vxmesh::control
