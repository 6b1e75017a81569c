// The kernel interfaces under net_af_packet ports, followed by the control thread.
//
// A PMD's af_packet sockets are bound to an interface index. Deleting the interface
// leaves them bound to nothing: the kernel takes a ring's worth of frames and sends none
// (a silent blackhole, counted as sent), and an interface created again under the same
// name has another index, which the sockets never see. A port whose interface is gone,
// set down or without carrier is therefore marked down (dataplane/lcore.hpp's
// port_down): workers stop polling it, and what they would send to it is dropped as
// `port_down`. When an interface of that name exists again with another index, the
// port is reopened onto it (dataplane/ports.hpp's reopen_port) once every worker has
// passed a quiescent state, and it comes up again at the next check that finds the
// interface up with carrier. Other devices are not watched (a PCI NIC counts its own
// errors; a vdev's link is whatever its PMD says).
#pragma once

#include "dataplane/ports.hpp"

#include <functional>
#include <string>
#include <vector>

namespace vxmesh::dp {

struct InterfaceState {
    bool known = false;   // the kernel answered (else nothing below means anything)
    unsigned ifindex = 0; // 0: no interface of that name
    bool up = false;      // IFF_UP
    bool carrier = false; // IFF_RUNNING (a veth whose peer is down has none)
    uint32_t mtu = 0;
};

// The kernel's view of interface `name` in this process's network namespace.
InterfaceState interface_state(const std::string& name);

struct PortChange {
    enum class Kind { Down, Reopened, ReopenFailed, Up };
    size_t port = 0; // index into the watched vector
    Kind kind = Kind::Down;
    std::string message; // one line for the log, naming the port and its interface
};

class PortWatch {
public:
    // `synchronize` returns once every worker has passed a quiescent state
    // (SnapshotPublisher::synchronize): after it, none polls or sends to a port marked
    // down before the call.
    PortWatch(std::vector<OpenPort>& ports, std::function<void()> synchronize);

    // Look at every watched port's interface; mark ports down or up, reopen those whose
    // interface was created again. Returns what changed (a failed reopen is reported
    // once per distinct error and tried again at the next call).
    std::vector<PortChange> poll();

    // Why port `i` is down ("" while it is up): "gone", "down", "no carrier",
    // "replaced".
    const std::string& reason(size_t i) const { return reason_[i]; }

private:
    std::vector<OpenPort>& ports_;
    std::function<void()> synchronize_;
    std::vector<std::string> reason_;
    std::vector<std::string> last_error_;
};

} // namespace vxmesh::dp
