// Packet tests run the real stage functions, so EAL must be up: started once here
// with --no-huge and no PCI, before Catch runs the cases.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
    std::string prefix = "--file-prefix=vxmesh-packet-" + std::to_string(getpid());
    const char* eal_argv[] = {"packet_tests", "--no-huge", "-m",   "256",         "--no-pci",
                              "--no-shconf",  "-l",        "0",    prefix.c_str(), "--log-level=warning"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char**>(eal_argv)) < 0) {
        std::fprintf(stderr, "packet_tests: EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    int result = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return result;
}
