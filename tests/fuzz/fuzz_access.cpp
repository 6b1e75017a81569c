// Fuzz target `access`: a burst of frames from a container's port through the whole
// transmit path (access_input → arp_proxy / switch / vxlan_encap → transmit buffers),
// on node1's tables with node2 resolved. Every mbuf must come back to the pool.
#include "tests/fuzz/frames.hpp"

using namespace vxmesh;

namespace {
testing::Node* node = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::start_eal("fuzz_access");
    node = new testing::Node(); // lives as long as the process
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<fuzz::Frame> frames = fuzz::split_frames(data, size);
    // access_input takes one port's burst: the first frame's flag picks the port.
    uint16_t port =
        !frames.empty() && (frames[0].flags & fuzz::flag_port_c2) ? testing::c2 : testing::c1;
    rte_mbuf* pkts[dp::burst_size];
    for (size_t i = 0; i < frames.size(); i++)
        pkts[i] = testing::Node::received(port, frames[i].bytes);
    dp::access_input(*node->snapshot, node->lc, port, pkts, uint16_t(frames.size()));
    fuzz::release_and_check(*node);
    return 0;
}
