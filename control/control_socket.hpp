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
//
// Group commit: a reply the handler marks durable (its request changed the state) is
// held, with every reply after it on the same connection, until the turn's requests have
// all been answered and `sync` (saving the state file once for all of them) has returned;
// so an acknowledged change is on disk, and a burst of changes costs one save per turn,
// not one per change. When sync fails, each held durable reply that succeeded carries
// its warning in result.warnings.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vxmesh::control {

class ControlSocket {
public:
    struct Reply {
        std::string text;     // one line of JSON, without the newline
        bool durable = false; // sent only after the next sync
    };
    using Handler = std::function<Reply(const std::string& line)>;
    // Makes what durable replies acknowledge durable; returns a warning for them when it
    // could not ("" when done).
    using Sync = std::function<std::string()>;

    // Throws std::runtime_error naming the path when the socket cannot be created or
    // another live process already serves it. Without `sync`, nothing is held.
    ControlSocket(std::string path, Handler handler, Sync sync = {});
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
    struct Held {
        std::string text;
        bool durable;
    };
    struct Client {
        int fd;
        std::string in;
        std::string out;
        bool eof; // the peer shut its sending side: answer what it sent whole, then close
        std::vector<Held> held; // replies waiting for the turn's sync, in order
        size_t held_bytes = 0;
    };
    size_t output(const Client& c) const { return c.out.size() + c.held_bytes; }
    void release_held(const std::string& warning);
    void accept_clients();
    void refuse(int fd, const char* why);
    bool read(Client& c); // false: close it
    void answer_lines(Client& c);
    bool flush(Client& c);
    bool wants_input(const Client& c) const;
    bool has_work(const Client& c) const;  // complete requests it may be answered now
    Reply answer(const std::string& line); // the handler's reply; never throws

    std::string path_;
    Handler handler_;
    Sync sync_;
    int listen_fd_ = -1;
    int reserve_fd_ = -1;                // closed to accept and refuse when out of fds
    uint64_t listener_paused_until_ = 0; // ms, CLOCK_MONOTONIC
    bool fd_shortage_logged_ = false;
    std::vector<Client> clients_;
};

} // namespace vxmesh::control
