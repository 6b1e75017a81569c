// The control socket: a Unix stream socket carrying the protocol of control/rpc.hpp,
// one JSON request per line, one reply per line. Served from the control thread's
// loop (poll with a timeout), never blocking on a slow or half-sent client.
//
// Access: the socket file is created mode 0600 in a directory created 0700, and each
// connecting peer's credentials (SO_PEERCRED) must be root's or the owner's uid.
//
// Bounds (control/PROTOCOL.md, "Limits"): at most max_clients connections (one more is
// told so and closed); a client's replies are buffered up to max_output bytes, past
// which vxmesh stops reading its requests until it reads its replies (backpressure);
// at most max_requests_per_poll requests of one client are answered per turn of the
// loop; running out of file descriptors (EMFILE) refuses the connection that found it
// with a reserve descriptor, and pauses the listener if even that fails, never spinning.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vxmesh::control {

class ControlSocket {
public:
    using Handler = std::function<std::string(const std::string& line)>;

    // Throws std::runtime_error naming the path when the socket cannot be created or
    // another live process already serves it.
    ControlSocket(std::string path, Handler handler);
    ~ControlSocket();
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;

    // Wait up to `timeout_ms` for activity and serve it (no wait while requests that
    // arrived are still unanswered).
    void poll(int timeout_ms);

    const std::string& path() const { return path_; }
    size_t clients() const { return clients_.size(); }

    static constexpr size_t max_request = 16 << 20;       // bytes in one request line
    static constexpr size_t max_clients = 64;             // connections at once
    static constexpr size_t max_output = 1 << 20;         // unread reply bytes per client
    static constexpr unsigned max_requests_per_poll = 16; // per client, per turn
    static constexpr int listener_pause_ms = 100;         // after an accept that found no fd

private:
    struct Client {
        int fd;
        std::string in;
        std::string out;
        bool eof; // the peer shut its sending side: answer what it sent whole, then close
    };
    void accept_clients();
    void refuse(int fd, const char* why);
    bool read(Client& c); // false: close it
    void answer_lines(Client& c);
    bool flush(Client& c);
    bool wants_input(const Client& c) const;
    bool has_work(const Client& c) const;        // complete requests it may be answered now
    std::string answer(const std::string& line); // the handler's reply; never throws

    std::string path_;
    Handler handler_;
    int listen_fd_ = -1;
    int reserve_fd_ = -1;                // closed to accept and refuse when out of fds
    uint64_t listener_paused_until_ = 0; // ms, CLOCK_MONOTONIC
    bool fd_shortage_logged_ = false;
    std::vector<Client> clients_;
};

} // namespace vxmesh::control
