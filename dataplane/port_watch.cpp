#include "dataplane/port_watch.hpp"

#include "dataplane/lcore.hpp"

#include <fmt/format.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vxmesh::dp {

namespace {

// The socket the interface ioctls go through, made once at the first call (at start-up,
// when descriptors are free) and kept: a process out of descriptors (EMFILE) must not
// take its ports for gone.
int ioctl_socket() {
    static const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return fd;
}

} // namespace

InterfaceState interface_state(const std::string& name) {
    InterfaceState st;
    if (name.empty() || name.size() >= IFNAMSIZ) return st;
    int fd = ioctl_socket();
    if (fd < 0) return st; // not known: known stays false
    st.known = true;
    ifreq req{};
    std::memcpy(req.ifr_name, name.data(), name.size());
    if (ioctl(fd, SIOCGIFINDEX, &req) != 0) {
        if (errno != ENODEV) st.known = false; // only ENODEV says there is no such interface
        return st;
    }
    st.ifindex = static_cast<unsigned>(req.ifr_ifindex);
    if (ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
        st.known = false;
        return st;
    }
    st.up = (req.ifr_flags & IFF_UP) != 0;
    st.carrier = (req.ifr_flags & IFF_RUNNING) != 0;
    if (ioctl(fd, SIOCGIFMTU, &req) == 0) st.mtu = static_cast<uint32_t>(req.ifr_mtu);
    return st;
}

PortWatch::PortWatch(std::vector<OpenPort>& ports, std::function<void()> synchronize)
    : ports_(ports), synchronize_(std::move(synchronize)), reason_(ports.size()),
      last_error_(ports.size()) {}

std::vector<PortChange> PortWatch::poll() {
    std::vector<PortChange> changes;
    for (size_t i = 0; i < ports_.size(); i++) {
        OpenPort& port = ports_[i];
        if (port.iface.empty() || port.id >= max_ports) continue;
        InterfaceState st = interface_state(port.iface);
        if (!st.known) continue; // could not ask (no socket): nothing is concluded
        std::string why = st.ifindex == 0              ? "gone"
                          : st.ifindex != port.ifindex ? "replaced"
                          : !st.up                     ? "down"
                          : !st.carrier                ? "no carrier"
                                                       : "";
        auto name = [&] { return fmt::format("port {} (interface {})", port.name, port.iface); };
        if (!why.empty() && reason_[i].empty()) {
            port_down[port.id].store(true, std::memory_order_release);
            changes.push_back(
                {i, PortChange::Kind::Down,
                 fmt::format("{}: interface {}; its traffic is dropped as port_down "
                             "until it is back",
                             name(), why == "replaced" ? "was replaced" : "is " + why)});
        }
        if (why == "replaced") {
            // Marked down above or at an earlier call: once every worker has passed a
            // quiescent state, none is inside this port's rx or tx burst.
            reason_[i] = why;
            synchronize_();
            unsigned was = port.ifindex;
            try {
                reopen_port(port);
            } catch (const std::exception& e) {
                if (last_error_[i] != e.what()) {
                    last_error_[i] = e.what();
                    changes.push_back(
                        {i, PortChange::Kind::ReopenFailed,
                         fmt::format("{}: cannot reopen ({}); trying again", name(), e.what())});
                }
                continue;
            }
            last_error_[i].clear();
            changes.push_back(
                {i, PortChange::Kind::Reopened,
                 fmt::format("{}: interface is back (index {}, was {}); port reopened, MAC "
                             "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                             name(), port.ifindex, was, port.mac.addr_bytes[0],
                             port.mac.addr_bytes[1], port.mac.addr_bytes[2], port.mac.addr_bytes[3],
                             port.mac.addr_bytes[4], port.mac.addr_bytes[5])});
            continue; // up at the next call that finds it up with carrier
        }
        if (why.empty() && !reason_[i].empty()) {
            port_down[port.id].store(false, std::memory_order_release);
            changes.push_back({i, PortChange::Kind::Up,
                               fmt::format("{}: interface is up; traffic resumes", name())});
        }
        reason_[i] = why;
    }
    return changes;
}

} // namespace vxmesh::dp
