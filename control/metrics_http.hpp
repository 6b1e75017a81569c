// A minimal HTTP/1.0 listener for Prometheus: GET /metrics answers the text exposition
// format (control/stats_format.hpp); anything else is 404. Loopback addresses only —
// it carries no authentication. Polled from the control loop, never blocking it: a
// client gets its answer from what it sent within one read, or is closed.
#pragma once

#include <functional>
#include <string>

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

private:
    int fd_ = -1;
    Render render_;
};

} // namespace vxmesh::control
