#include "control/control_socket.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>
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

// The socket's directory: created 0700 when missing. An existing one is used only when
// no other user can replace the socket in it (owned by root or by us, not writable by
// group or others, unless sticky like /tmp); vxmesh never changes a directory it did not
// create, so a wrong one is refused with what to do about it.
void check_directory(const std::string& path, const std::string& dir) {
    if (mkdir(dir.c_str(), 0700) == 0) return;
    if (errno != EEXIST) fail(path, fmt::format("mkdir {}", dir).c_str());
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0) fail(path, fmt::format("stat {}", dir).c_str());
    if (!S_ISDIR(st.st_mode))
        throw std::runtime_error(fmt::format(
            "control socket {}: {} is not a directory (a symbolic link is not followed)", path,
            dir));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        throw std::runtime_error(fmt::format(
            "control socket {}: its directory {} belongs to uid {}, who could replace the "
            "socket; use a directory owned by root or by uid {}",
            path, dir, st.st_uid, geteuid()));
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
        throw std::runtime_error(fmt::format(
            "control socket {}: its directory {} is writable by others (mode {:04o}), who "
            "could replace the socket; make it 0700 (chmod 700 {}) or choose another --socket",
            path, dir, st.st_mode & 07777, dir));
}

// What is at the socket's path: nothing, or a socket nobody serves (removed). A live
// socket, a socket of another user, or anything that is not a socket is never removed.
void clear_stale_socket(const std::string& path, const sockaddr_un& addr) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        fail(path, "stat");
    }
    if (!S_ISSOCK(st.st_mode)) {
        const char* kind = S_ISREG(st.st_mode)   ? "a regular file"
                           : S_ISDIR(st.st_mode) ? "a directory"
                           : S_ISLNK(st.st_mode) ? "a symbolic link"
                                                 : "not a socket";
        throw std::runtime_error(fmt::format(
            "control socket {}: the path exists and is {}; vxmesh removes only a stale socket "
            "(remove it yourself or choose another --socket)",
            path, kind));
    }
    if (st.st_uid != 0 && st.st_uid != geteuid())
        throw std::runtime_error(
            fmt::format("control socket {}: an existing socket belongs to uid {}; not removed",
                        path, st.st_uid));
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) fail(path, "socket");
    bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    int err = errno;
    close(probe);
    if (live)
        throw std::runtime_error(
            fmt::format("control socket {}: another process is serving it", path));
    if (err != ECONNREFUSED) {
        errno = err;
        fail(path, "probing the existing socket");
    }
    // A socket file left by a process that died.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) fail(path, "removing the stale socket");
}

uint64_t monotonic_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1000 + uint64_t(t.tv_nsec) / 1000000;
}

} // namespace

ControlSocket::ControlSocket(std::string path, Handler handler, Sync sync)
    : path_(std::move(path)), handler_(std::move(handler)), sync_(std::move(sync)) {
    sockaddr_un addr = address_of(path_);
    if (auto slash = path_.rfind('/'); slash != std::string::npos && slash > 0)
        check_directory(path_, path_.substr(0, slash));
    clear_stale_socket(path_, addr);

    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) fail(path_, "socket");
    mode_t old = umask(0177); // the file is born 0600: no window where others can connect
    int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    umask(old);
    if (rc != 0) {
        int err = errno;
        close(listen_fd_);
        listen_fd_ = -1;
        errno = err;
        fail(path_, "bind");
    }
    if (listen(listen_fd_, 64) != 0) {
        int err = errno;
        close(listen_fd_);
        unlink(path_.c_str());
        listen_fd_ = -1;
        errno = err;
        fail(path_, "listen");
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

ControlSocket::~ControlSocket() {
    for (Client& c : clients_)
        close(c.fd);
    if (reserve_fd_ >= 0) close(reserve_fd_);
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        unlink(path_.c_str());
    }
}

void ControlSocket::refuse(int fd, const char* why) {
    std::string line = fmt::format("{{\"ok\": false, \"error\": \"{}\"}}\n", why);
    (void)!send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

void ControlSocket::accept_clients() {
    // Bounded per turn, so that a flood of connections cannot keep the loop here.
    for (unsigned i = 0; i < max_clients; i++) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EMFILE && errno != ENFILE) return;
            // Out of file descriptors: the connection stays queued and the listener
            // readable, so poll would wake at once, forever. Take it with the reserve
            // descriptor and refuse it; when even that fails, stop listening a moment.
            if (!fd_shortage_logged_)
                fmt::print(stderr,
                           "vxmesh: control socket {}: accept: {}; refusing connections "
                           "until descriptors are free\n",
                           path_, std::strerror(errno));
            fd_shortage_logged_ = true;
            if (reserve_fd_ >= 0) {
                close(reserve_fd_);
                reserve_fd_ = -1;
                fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) refuse(fd, "vxmesh is out of file descriptors; try again later");
                reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
            }
            if (fd < 0 || reserve_fd_ < 0) {
                listener_paused_until_ = monotonic_ms() + listener_pause_ms;
                return;
            }
            continue;
        }
        if (fd_shortage_logged_) {
            fmt::print(stderr, "vxmesh: control socket {}: accepting connections again\n", path_);
            fd_shortage_logged_ = false;
        }
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != geteuid())) {
            refuse(fd, "permission denied: uid not allowed");
            continue;
        }
        if (clients_.size() >= max_clients) {
            refuse(
                fd,
                fmt::format("too many clients (at most {}); try again later", max_clients).c_str());
            continue;
        }
        clients_.push_back({fd, {}, {}, false, {}, 0});
    }
}

bool ControlSocket::flush(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.out.erase(0, static_cast<size_t>(n));
    }
    return true;
}

bool ControlSocket::has_work(const Client& c) const {
    return output(c) < max_output && c.in.find('\n') != std::string::npos;
}

// Read while the client is under its bounds: its unread replies, and what it sent beyond
// the request being answered (up to one whole request line when none is complete yet).
bool ControlSocket::wants_input(const Client& c) const {
    return !c.eof && output(c) < max_output &&
           (c.in.size() < 65536 || c.in.find('\n') == std::string::npos);
}

bool ControlSocket::read(Client& c) {
    char buf[65536];
    while (wants_input(c)) {
        ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n == 0) {
            c.eof = true;
            break;
        }
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.in.append(buf, static_cast<size_t>(n));
        if (c.in.size() > max_request && c.in.find('\n') == std::string::npos) {
            c.out += fmt::format("{{\"ok\": false, \"error\": \"request longer than {} bytes\"}}\n",
                                 max_request);
            flush(c);
            return false;
        }
    }
    return true;
}

void ControlSocket::answer_lines(Client& c) {
    size_t end;
    unsigned answered = 0;
    while (answered < max_requests_per_poll && output(c) < max_output &&
           (end = c.in.find('\n')) != std::string::npos) {
        std::string line = c.in.substr(0, end);
        c.in.erase(0, end + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        Reply r = answer(line);
        answered++;
        if (sync_ && (r.durable || !c.held.empty())) {
            // Behind a durable reply, in order, until the turn's sync.
            c.held_bytes += r.text.size() + 1;
            c.held.push_back({std::move(r.text), r.durable});
            continue;
        }
        c.out += r.text;
        c.out += '\n';
    }
}

void ControlSocket::release_held(const std::string& warning) {
    for (Client& c : clients_) {
        for (Held& h : c.held) {
            if (h.durable && !warning.empty()) {
                // The change is applied but not on disk: say so in the reply, as an
                // immediate save would have (control/network_state.hpp's commit()).
                try {
                    auto reply = nlohmann::ordered_json::parse(h.text);
                    if (reply.value("ok", false) && reply["result"].is_object()) {
                        reply["result"]["warnings"].push_back(warning);
                        h.text =
                            reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                    }
                } catch (const std::exception&) {
                    // not our JSON: sent as it is
                }
            }
            c.out += h.text;
            c.out += '\n';
        }
        c.held.clear();
        c.held_bytes = 0;
    }
}

ControlSocket::Reply ControlSocket::answer(const std::string& line) {
    // The handler answers every request itself (control/rpc.hpp); should it throw all the
    // same, the client gets an error and the loop goes on: nothing a client sends ends it.
    try {
        return handler_(line);
    } catch (const std::exception& e) {
        fmt::print(stderr, "vxmesh: control socket: request not handled: {}\n", e.what());
    } catch (...) {
        fmt::print(stderr, "vxmesh: control socket: request not handled\n");
    }
    return {R"({"ok": false, "error": "internal error: the request was not handled"})", false};
}

void ControlSocket::poll(int timeout_ms) {
    std::vector<pollfd> fds;
    const bool listening = monotonic_ms() >= listener_paused_until_;
    fds.push_back({listening ? listen_fd_ : -1, POLLIN, 0}); // poll ignores a negative fd
    bool work = false;
    for (const Client& c : clients_) {
        fds.push_back(
            {c.fd,
             static_cast<short>((wants_input(c) ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT)), 0});
        work = work || has_work(c);
    }
    // Requests already read and not answered yet (a client over its per-turn share) are
    // served without waiting.
    int ready = ::poll(fds.data(), fds.size(), work ? 0 : timeout_ms);
    if (ready < 0) return;
    // Read and answer every client first; then one sync makes the turn's changes durable
    // before any reply that acknowledges one is sent.
    std::vector<bool> keep(clients_.size(), true);
    bool held = false;
    for (size_t i = 0; i < clients_.size(); i++) {
        Client& c = clients_[i];
        short ev = fds[i + 1].revents;
        keep[i] = (ev & (POLLNVAL | POLLERR)) == 0;
        if (keep[i] && (ev & (POLLIN | POLLHUP)) && wants_input(c)) keep[i] = read(c);
        if (keep[i]) answer_lines(c);
        held = held || !c.held.empty();
    }
    if (held) {
        std::string warning;
        try {
            warning = sync_();
        } catch (const std::exception& e) {
            warning = e.what();
        }
        release_held(warning);
    }
    std::vector<Client> kept;
    kept.reserve(clients_.size());
    for (size_t i = 0; i < clients_.size(); i++) {
        Client& c = clients_[i];
        if (keep[i]) keep[i] = flush(c);
        // A peer that stopped sending is kept until its complete requests are answered
        // and the replies are out; a partial last line is dropped with the connection.
        if (keep[i] && c.eof && c.out.empty() && c.in.find('\n') == std::string::npos)
            keep[i] = false;
        if (keep[i])
            kept.push_back(std::move(c));
        else
            close(c.fd);
    }
    clients_ = std::move(kept);
    if (listening && (fds[0].revents & POLLIN)) accept_clients();
}

} // namespace vxmesh::control
