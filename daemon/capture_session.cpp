#include "daemon/capture_session.hpp"

#include "dataplane/drop.hpp"
#include "dataplane/packet_meta.hpp"

#include <rte_cycles.h>
#include <rte_pcapng.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace vxmesh::control {

namespace {

const char* direction_name(dp::CaptureDirection d) {
    switch (d) {
    case dp::CaptureDirection::Rx:
        return "rx";
    case dp::CaptureDirection::Tx:
        return "tx";
    case dp::CaptureDirection::Drop:
        return "drop";
    }
    return "?";
}

int64_t tsc_to_ns(uint64_t tsc) {
    return static_cast<int64_t>(static_cast<__int128>(tsc) * 1000000000 / rte_get_tsc_hz());
}

void put32(std::string& b, uint32_t v) {
    b.append(reinterpret_cast<const char*>(&v), 4);
}
void put16(std::string& b, uint16_t v) {
    b.append(reinterpret_cast<const char*>(&v), 2);
}
void pad4(std::string& b) {
    b.append((4 - b.size() % 4) % 4, '\0');
}

} // namespace

CaptureSession::CaptureSession(CaptureRequest request, rte_ring* ring)
    : request_(std::move(request)), ring_(ring) {
    if (!request_.filter.empty()) {
        pcap_t* dead = pcap_open_dead(DLT_EN10MB, static_cast<int>(request_.snaplen));
        if (pcap_compile(dead, &filter_, request_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
            std::string err = pcap_geterr(dead);
            pcap_close(dead);
            throw std::runtime_error(fmt::format("filter: {}", err));
        }
        pcap_close(dead);
        has_filter_ = true;
    }
    // Non-blocking: opening a FIFO without a reader would wait for one, and writing to a
    // full pipe would wait for its reader, both on the control thread.
    fd_ = open(request_.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd_ < 0) {
        const int err = errno;
        if (has_filter_) pcap_freecode(&filter_);
        if (err == ENXIO)
            throw std::runtime_error(fmt::format(
                "file: {}: a FIFO with no reader (start the reader first)", request_.file));
        throw std::runtime_error(fmt::format("file: {}: {}", request_.file, std::strerror(err)));
    }
    std::string comment = fmt::format("vxmesh capture: port {} {}{}{}", request_.port_name,
                                      direction_name(request_.direction),
                                      request_.filter.empty() ? "" : ", filter: ", request_.filter);
    errno = 0;
    pcapng_ = rte_pcapng_fdopen(fd_, nullptr, nullptr, "vxmesh", comment.c_str());
    if (pcapng_ == nullptr) {
        const int err = errno;
        close(fd_);
        if (has_filter_) pcap_freecode(&filter_);
        throw std::runtime_error(fmt::format("file: {}: cannot write the pcapng header: {}",
                                             request_.file,
                                             err != 0 ? std::strerror(err) : "unknown error"));
    }
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    realtime_minus_tsc_ns_ =
        int64_t{now.tv_sec} * 1000000000 + now.tv_nsec - tsc_to_ns(rte_get_tsc_cycles());
}

CaptureSession::~CaptureSession() {
    // Whatever is still queued is freed unwritten: the session is over.
    rte_mbuf* m;
    while (rte_ring_dequeue(ring_, reinterpret_cast<void**>(&m)) == 0)
        rte_pktmbuf_free(m);
    rte_pcapng_close(pcapng_); // closes fd_
    if (has_filter_) pcap_freecode(&filter_);
}

dp::CaptureSpec CaptureSession::spec(rte_mempool* copy_pool) const {
    dp::CaptureSpec s;
    s.ports[static_cast<int>(request_.direction)] = uint32_t{1} << request_.port;
    s.snaplen = request_.snaplen;
    s.ring = ring_;
    s.pool = copy_pool;
    return s;
}

void CaptureSession::write_packet(rte_mbuf* c) {
    const dp::PacketMeta& md = dp::meta(c);
    auto direction = static_cast<dp::CaptureDirection>(md.capture_direction);
    std::string comment;
    if (direction == dp::CaptureDirection::Drop)
        comment = fmt::format("drop: {}", md.drop_reason < static_cast<uint8_t>(dp::Drop::Count)
                                              ? dp::drop_name(static_cast<dp::Drop>(md.drop_reason))
                                              : std::string_view("?"));
    uint64_t ns = static_cast<uint64_t>(realtime_minus_tsc_ns_ + tsc_to_ns(md.capture_tsc));
    uint32_t caplen = rte_pktmbuf_pkt_len(c);
    // Enhanced Packet Block (draft-ietf-opsawg-pcapng §4.3); interfaces were declared
    // by rte_pcapng in port-id order, with nanosecond resolution.
    std::string b;
    put32(b, 0x00000006);
    put32(b, 0); // total length, set below
    put32(b, md.capture_port);
    put32(b, static_cast<uint32_t>(ns >> 32));
    put32(b, static_cast<uint32_t>(ns));
    put32(b, caplen);
    put32(b, md.capture_original_length);
    b.append(rte_pktmbuf_mtod(c, const char*), caplen); // copies are one segment
    pad4(b);
    if (!comment.empty()) {
        put16(b, 1); // opt_comment
        put16(b, static_cast<uint16_t>(comment.size()));
        b += comment;
        pad4(b);
    }
    // epb_flags: bits 0-1 direction, 1 inbound, 2 outbound. A drop is inbound on the port
    // it came in on, outbound on the port it was leaving by (dataplane/capture.hpp).
    put16(b, 2);
    put16(b, 4);
    put32(b, md.capture_outbound ? 2 : 1);
    put16(b, 0); // opt_endofopt
    put16(b, 0);
    put32(b, static_cast<uint32_t>(b.size() + 4));
    uint32_t total = static_cast<uint32_t>(b.size());
    std::memcpy(&b[4], &total, 4);
    if (!pending_.empty() && !write_some(pending_)) {
        lost_++; // the reader is slow: this copy is lost, the thread does not wait
        return;
    }
    if (!write_some(b)) {
        lost_++;
        return;
    }
    written_++;
}

// Writes what it can of `bytes` without blocking; the rest of a block already begun is
// kept in pending_ (a pcapng block is never left half-written by a later one). Returns
// false when nothing could be written because a pipe is full; throws on an error, with
// its errno (ENOSPC for a full disk, EPIPE for a reader that went away).
bool CaptureSession::write_some(std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            throw std::runtime_error(
                fmt::format("{}: write: {}", request_.file, std::strerror(errno)));
        }
        done += static_cast<size_t>(n);
    }
    if (done == 0 && !bytes.empty()) return false;
    if (&bytes == &pending_) {
        pending_.erase(0, done);
        return pending_.empty();
    }
    pending_.assign(bytes, done, std::string::npos);
    return true;
}

bool CaptureSession::drain() {
    rte_mbuf* copies[64];
    unsigned n;
    while (!done() && (n = rte_ring_dequeue_burst(ring_, reinterpret_cast<void**>(copies), 64,
                                                  nullptr)) != 0) {
        for (unsigned i = 0; i < n; i++) {
            rte_mbuf* c = copies[i];
            seen_++;
            bool keep = !done();
            if (keep && has_filter_) {
                pcap_pkthdr h{};
                h.caplen = rte_pktmbuf_pkt_len(c);
                h.len = dp::meta(c).capture_original_length;
                keep = pcap_offline_filter(&filter_, &h, rte_pktmbuf_mtod(c, const u_char*)) != 0;
            }
            try {
                if (keep) write_packet(c);
            } catch (...) {
                // Every copy goes back to the capture pool, on every path.
                rte_pktmbuf_free_bulk(&copies[i], n - i);
                throw;
            }
            rte_pktmbuf_free(c);
        }
    }
    return done();
}

nlohmann::json CaptureSession::status() const {
    return {{"port", request_.port_name},
            {"direction", direction_name(request_.direction)},
            {"filter", request_.filter},
            {"file", request_.file},
            {"count", request_.count},
            {"seen", seen_},
            {"written", written_},
            {"lost", lost_},
            {"done", done()}};
}

} // namespace vxmesh::control
