// Packet tests run the real stage functions, so EAL must be up: started once here
// with --no-huge and no PCI, before Catch runs the cases. A listener checks after every
// test case that each mempool has as many mbufs in use as before it: a packet that a
// stage (or a test) neither sent nor freed is a leak, named with its test case.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

namespace {

int leaking_cases = 0;

std::map<rte_mempool*, unsigned> mbufs_in_use() {
    std::map<rte_mempool*, unsigned> in_use;
    rte_mempool_walk(
        [](rte_mempool* mp, void* arg) {
            (*static_cast<std::map<rte_mempool*, unsigned>*>(arg))[mp] =
                rte_mempool_in_use_count(mp);
        },
        &in_use);
    return in_use;
}

// Catch2 v2 has no assertion outside a test case: a leak is printed and makes the run
// fail (exit status), which tools/test counts as a failure.
struct MbufLeakCheck : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    std::map<rte_mempool*, unsigned> before;

    void testCaseStarting(const Catch::TestCaseInfo&) override { before = mbufs_in_use(); }
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        bool leaked = false;
        for (const auto& [pool, after] : mbufs_in_use()) {
            auto it = before.find(pool);
            unsigned was = it == before.end() ? 0 : it->second;
            if (after == was) continue;
            std::fprintf(stderr,
                         "MBUF LEAK: test case \"%s\": pool %s has %u mbufs in use, %u before\n",
                         stats.testInfo.name.c_str(), pool->name, after, was);
            leaked = true;
        }
        leaking_cases += leaked;
    }
};

} // namespace

CATCH_REGISTER_LISTENER(MbufLeakCheck)

int main(int argc, char** argv) {
    std::string prefix = "--file-prefix=vxmesh-packet-" + std::to_string(getpid());
    const char* eal_argv[] = {"packet_tests", "--no-huge",          "-m", "256",
                              "--no-pci",     "--no-shconf",        "-l", "0",
                              prefix.c_str(), "--log-level=warning"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char**>(eal_argv)) < 0) {
        std::fprintf(stderr, "packet_tests: EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    int result = Catch::Session().run(argc, argv);
    if (leaking_cases > 0) {
        std::fprintf(stderr, "MBUF LEAK: %d test cases left mbufs out of their pool\n",
                     leaking_cases);
        result = result == 0 ? 1 : result;
    }
    rte_eal_cleanup();
    return result;
}
