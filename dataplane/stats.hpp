// Counters summed over every lcore, for printing and export.
#pragma once

#include "dataplane/lcore.hpp"

namespace vxmesh::dp {

// Sum of every lcore's block (plain reads: each field is written by one thread and a
// 64-bit aligned load is never torn on the platforms DPDK supports).
LcoreStats stats_total();

} // namespace vxmesh::dp
