// Fuzz target `underlay`: a burst of frames from the underlay port through the whole
// receive path (underlay_input → vxlan_decap → access ports' transmit buffers, ARP to
// the punt ring), on node1's tables. Every mbuf must come back to the pool.
#include "tests/fuzz/frames.hpp"

using namespace vxmesh;

namespace {
testing::Node* node = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::start_eal("fuzz_underlay");
    node = new testing::Node(); // lives as long as the process
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<fuzz::Frame> frames = fuzz::split_frames(data, size);
    rte_mbuf* pkts[dp::burst_size];
    for (size_t i = 0; i < frames.size(); i++)
        pkts[i] = testing::Node::received(testing::underlay_port, frames[i].bytes);
    dp::underlay_input(*node->snapshot, node->lc, pkts, uint16_t(frames.size()));
    fuzz::release_and_check(*node);
    return 0;
}
