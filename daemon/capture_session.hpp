// One capture (vxmeshctl capture): the control thread's side. It drains the copies the
// workers made (dataplane/capture.hpp), keeps those that match the filter (a tcpdump
// expression, compiled by libpcap), and writes them as pcapng. rte_pcapng writes the
// section and interface blocks; the packet blocks are written here, because
// rte_pcapng 22.11 can neither attach the comment that carries a drop reason nor take
// the original length of a cut copy, and its lazily set time base turns a timestamp
// taken by a worker before the first conversion into one 278 years ahead.
#pragma once

#include "dataplane/capture.hpp"

#include <nlohmann/json.hpp>

#include <pcap/pcap.h>

#include <cstdint>
#include <string>

struct rte_pcapng;

namespace vxmesh::control {

struct CaptureRequest {
    std::string port_name;
    uint16_t port = 0; // DPDK port id
    dp::CaptureDirection direction = dp::CaptureDirection::Rx;
    uint64_t count = 0; // stop after this many written packets; 0: until stopped
    std::string filter; // tcpdump syntax; empty: everything
    std::string file;   // pcapng output, created/truncated
    uint32_t snaplen = 2048;
};

class CaptureSession {
public:
    // Opens the file and compiles the filter; throws std::runtime_error naming what failed.
    CaptureSession(CaptureRequest request, rte_ring* ring);
    ~CaptureSession();
    CaptureSession(const CaptureSession&) = delete;
    CaptureSession& operator=(const CaptureSession&) = delete;

    // Write what the workers queued. Returns true once `count` packets are written.
    bool drain();
    bool done() const { return request_.count != 0 && written_ >= request_.count; }

    // The spec workers follow while this session runs.
    dp::CaptureSpec spec(rte_mempool* copy_pool) const;
    nlohmann::json status() const;

private:
    // An enhanced packet block, with the drop reason if any; counted as written, or as
    // lost when the file (a FIFO) cannot take it now. Throws on a write error.
    void write_packet(rte_mbuf* c);
    bool write_some(std::string& bytes);

    CaptureRequest request_;
    rte_ring* ring_;
    int fd_ = -1;
    rte_pcapng* pcapng_ = nullptr;
    bpf_program filter_{};
    bool has_filter_ = false;
    uint64_t seen_ = 0, written_ = 0;
    uint64_t lost_ = 0;   // copies a slow reader had no room for
    std::string pending_; // the unwritten rest of a block begun (a FIFO's reader is slow)
    int64_t realtime_minus_tsc_ns_ = 0; // converts a worker's TSC stamp to wall-clock ns
};

} // namespace vxmesh::control
