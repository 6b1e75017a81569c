// Group commit: the control socket holds the replies of requests that changed the state
// until one save for the whole turn has returned (control/control_socket.hpp), and
// NetworkState saves only when flushed (control/network_state.hpp).
#include "control/control_socket.hpp"
#include "tests/unit/control_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

using namespace vxmesh;
using namespace vxmesh::testing;

namespace {

int connect_to(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    return fd;
}

// What is readable on fd now, without waiting.
std::string readable(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        out.append(buf, size_t(n));
    return out;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    for (std::string l; std::getline(ss, l);)
        out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("group commit: a turn's changes are saved once, before any of them is acknowledged",
          "[group_commit]") {
    TempDir dir;
    const std::string path = dir.path + "/ctl.sock";
    int syncs = 0;
    std::string seen_at_sync = "(not called)";
    std::string warning;
    int client = -1;
    // "change N" changes the state (a durable reply); "read N" does not.
    control::ControlSocket socket(
        path,
        [](const std::string& line) {
            bool change = line.rfind("change", 0) == 0;
            return control::ControlSocket::Reply{
                fmt::format(R"({{"ok":true,"result":{{"echo":"{}"}}}})", line), change};
        },
        [&] {
            syncs++;
            seen_at_sync = readable(client); // nothing may have been sent yet
            return warning;
        });
    client = connect_to(path);
    socket.poll(0); // accept

    SECTION("every reply waits for the one save; order kept") {
        std::string burst = "read 0\nchange 1\nread 2\nchange 3\nchange 4\n";
        REQUIRE(send(client, burst.data(), burst.size(), 0) == ssize_t(burst.size()));
        pollfd p{client, POLLOUT, 0};
        ::poll(&p, 1, 100);
        socket.poll(100);
        CHECK(syncs == 1);
        // "read 0" came before any change: it may leave at once, but not before the
        // turn's sync (replies are flushed after it); the rest were held.
        CHECK(seen_at_sync.empty());
        auto got = lines(readable(client));
        REQUIRE(got.size() == 5);
        for (size_t i = 0; i < 5; i++)
            CHECK(got[i].find(fmt::format(R"("echo":"{})", i == 0 || i == 2 ? "read" : "change")) !=
                  std::string::npos);
        CHECK(got[3] == R"({"ok":true,"result":{"echo":"change 3"}})");
    }
    SECTION("no change, no save") {
        std::string burst = "read 0\nread 1\n";
        REQUIRE(send(client, burst.data(), burst.size(), 0) == ssize_t(burst.size()));
        socket.poll(100);
        CHECK(syncs == 0);
        CHECK(lines(readable(client)).size() == 2);
    }
    SECTION("a save that fails: each change says so, the other replies do not") {
        warning = "applied, but not kept across a restart: disk full";
        std::string burst = "change 1\nread 2\n";
        REQUIRE(send(client, burst.data(), burst.size(), 0) == ssize_t(burst.size()));
        socket.poll(100);
        auto got = lines(readable(client));
        REQUIRE(got.size() == 2);
        CHECK(
            got[0] ==
            R"({"ok":true,"result":{"echo":"change 1","warnings":["applied, but not kept across a restart: disk full"]}})");
        CHECK(got[1] == R"({"ok":true,"result":{"echo":"read 2"}})");
    }
    close(client);
}

TEST_CASE("group commit: NetworkState saves at flush(), and only what changed", "[group_commit]") {
    TempDir dir;
    auto s = settings();
    s.path = dir.path + "/state.json";
    s.group_commit = true;
    Node n(kNode + "networks:\n  - name: blue\n    vni: 4097\n    subnet: 10.0.1.0/24\n", s);
    const std::string at_start = read_file(s.path); // restore() saves at once
    REQUIRE(!at_start.empty());
    uint64_t changes = n.state.changes();
    REQUIRE(ok_or_error(n.attach("a", "blue", "node2")) == "ok");
    REQUIRE(ok_or_error(n.attach("b", "blue", "node2")) == "ok");
    CHECK(n.state.changes() == changes + 2);
    CHECK(read_file(s.path) == at_start); // not saved yet
    CHECK(read_file(n.state.journal_path()).empty());
    CHECK(n.state.flush(n.plane.desired).empty());
    // Attaches are typed changes: the state file stays, the journal gets one record each.
    CHECK(read_file(s.path) == at_start);
    const std::string journal = read_file(n.state.journal_path());
    CHECK(std::count(journal.begin(), journal.end(), '\n') == 2);
    const json saved = stored_state(s.path);
    REQUIRE(saved["endpoints"].size() == 2);
    CHECK(saved["endpoints"][0]["name"] == "a");
    CHECK(saved["endpoints"][1]["name"] == "b");
    // The whole file written now holds both, and empties the journal.
    REQUIRE(ok_or_error(n.create({{"name", "green"}})) == "ok");
    CHECK(n.state.flush(n.plane.desired).empty());
    CHECK(read_file(s.path) == n.state.state_json(n.plane.desired));
    CHECK(read_file(n.state.journal_path()).empty());
    CHECK(stored_state(s.path)["endpoints"] == saved["endpoints"]);
    // A dry run is no change.
    REQUIRE(
        ok_or_error(n.patch(json::array({{{"op", "remove"}, {"kind", "endpoint"}, {"name", "a"}}}),
                            true)) == "ok");
    CHECK(n.state.changes() == changes + 3); // the two attaches and the network
}
