// The control socket: a Unix stream socket carrying the protocol of control/rpc.hpp,
// one JSON request per line, one reply per line. Served from the control thread's
// loop (poll with a timeout), never blocking on a slow or half-sent client.
//
// Access: the socket file is created mode 0600 in a directory created 0700, and each
// connecting peer's credentials (SO_PEERCRED) must be root's or the owner's uid.
#pragma once

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

    // Wait up to `timeout_ms` for activity and serve it.
    void poll(int timeout_ms);

    const std::string& path() const { return path_; }

    static constexpr size_t max_request = 16 << 20; // bytes in one request line

private:
    struct Client {
        int fd;
        std::string in;
        std::string out;
        bool closing; // the peer shut its sending side: flush, then close
    };
    void accept_client();
    bool serve(Client& c); // false: close it
    bool flush(Client& c);
    std::string answer(const std::string& line); // the handler's reply; never throws

    std::string path_;
    Handler handler_;
    int listen_fd_ = -1;
    std::vector<Client> clients_;
};

} // namespace vxmesh::control
