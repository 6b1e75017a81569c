#include "control/control_socket.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace vxmesh::control {

namespace {

[[noreturn]] void fail(const std::string& path, const char* what) {
    throw std::runtime_error(
        fmt::format("control socket {}: {}: {}", path, what, std::strerror(errno)));
}

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw std::runtime_error(fmt::format("control socket {}: path longer than {} bytes", path,
                                             sizeof(addr.sun_path) - 1));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

} // namespace

ControlSocket::ControlSocket(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
    sockaddr_un addr = address_of(path_);
    if (auto slash = path_.rfind('/'); slash != std::string::npos && slash > 0) {
        std::string dir = path_.substr(0, slash);
        if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail(path_, "mkdir of its directory");
    }
    // A socket file left by a process that died is removed; a live one is not stolen.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
        close(probe);
        if (live)
            throw std::runtime_error(
                fmt::format("control socket {}: another process is serving it", path_));
    }
    unlink(path_.c_str());

    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) fail(path_, "socket");
    mode_t old = umask(0177); // the file is born 0600: no window where others can connect
    int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    umask(old);
    if (rc != 0) fail(path_, "bind");
    if (listen(listen_fd_, 16) != 0) fail(path_, "listen");
}

ControlSocket::~ControlSocket() {
    for (Client& c : clients_)
        close(c.fd);
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        unlink(path_.c_str());
    }
}

void ControlSocket::accept_client() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != geteuid())) {
            static const char refused[] =
                "{\"ok\": false, \"error\": \"permission denied: uid not allowed\"}\n";
            (void)!write(fd, refused, sizeof(refused) - 1);
            close(fd);
            continue;
        }
        clients_.push_back({fd, {}, {}, false});
    }
}

bool ControlSocket::flush(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        c.out.erase(0, static_cast<size_t>(n));
    }
    return true;
}

std::string ControlSocket::answer(const std::string& line) {
    // The handler answers every request itself (control/rpc.hpp); should it throw all the
    // same, the client gets an error and the loop goes on: nothing a client sends ends it.
    try {
        return handler_(line);
    } catch (const std::exception& e) {
        fmt::print(stderr, "vxmesh: control socket: request not handled: {}\n", e.what());
    } catch (...) {
        fmt::print(stderr, "vxmesh: control socket: request not handled\n");
    }
    return R"({"ok": false, "error": "internal error: the request was not handled"})";
}

bool ControlSocket::serve(Client& c) {
    char buf[65536];
    bool open = true;
    for (;;) {
        ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n == 0) { // peer done sending: answer what it sent whole, then close
            open = false;
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return false;
        }
        c.in.append(buf, static_cast<size_t>(n));
        if (c.in.size() > max_request && c.in.find('\n') == std::string::npos) {
            c.out += fmt::format("{{\"ok\": false, \"error\": \"request longer than {} bytes\"}}\n",
                                 max_request);
            flush(c);
            return false;
        }
    }
    size_t end;
    while ((end = c.in.find('\n')) != std::string::npos) {
        std::string line = c.in.substr(0, end);
        c.in.erase(0, end + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        c.out += answer(line);
        c.out += '\n';
    }
    if (!open) {
        // A half-closed peer still reads: keep it until its replies are out. A partial
        // last line is dropped with the connection.
        c.closing = true;
        return flush(c) && !c.out.empty();
    }
    return flush(c);
}

void ControlSocket::poll(int timeout_ms) {
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_)
        fds.push_back({c.fd,
                       static_cast<short>((c.closing ? 0 : POLLIN) | (c.out.empty() ? 0 : POLLOUT)),
                       0});
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    std::vector<Client> kept;
    for (size_t i = 0; i < clients_.size(); i++) {
        Client& c = clients_[i];
        short ev = fds[i + 1].revents;
        bool keep = true;
        if (c.closing) {
            if (ev & (POLLOUT | POLLHUP | POLLERR))
                keep = flush(c) && !c.out.empty() && !(ev & POLLERR);
        } else if (ev & (POLLIN | POLLHUP | POLLERR)) {
            keep = serve(c);
        } else if (ev & POLLOUT) {
            keep = flush(c);
        }
        if (keep)
            kept.push_back(std::move(c));
        else
            close(c.fd);
    }
    clients_ = std::move(kept);
    if (fds[0].revents & POLLIN) accept_client();
}

} // namespace vxmesh::control
