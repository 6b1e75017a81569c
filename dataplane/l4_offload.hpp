// What a sender's offloads left for the hardware: partial TCP/UDP checksums and GSO
// super-frames, finished in software before a frame leaves vxmesh.
//
// A Linux veth has TX checksum offload and TSO/GSO on by default (every Docker
// container's does). af_packet then reads what the stack handed the "hardware": the
// TCP/UDP checksum field holds only the folded pseudo-header sum (CHECKSUM_PARTIAL), and
// TCP arrives as super-frames of up to 64 KB that were never cut to the MTU. A kernel
// VXLAN peer whose underlay keeps its offloads sends both inside VXLAN. DPDK 22.11's
// net_af_packet PMD does not say which frames are partial (it reads TPACKET_V2 frames
// without the virtio-net header that would), so vxmesh recognises them by content:
//
//  - Partial checksum: the field equals the folded pseudo-header sum. Completing it
//    (summing the L4 header and payload, complementing) is idempotent for a frame whose
//    checksum was already valid: a valid field that happens to equal the pseudo sum
//    recomputes to the same 16 bits (the complement of a non-zero folded sum is unique,
//    and a result of 0 is written 0xffff, the other zero, so that holds for 0xffff too).
//    So the rule never changes a valid checksum. A corrupted frame whose field happens
//    to equal the pseudo sum (1 in 65536 corrupted frames) would be "repaired"; that is
//    why the stage runs only for ports whose PMD hands over kernel buffers (af_packet:
//    frames from local memory, or from a NIC whose FCS already checked them), never for
//    a real NIC's PMD, whose end-to-end checksums vxmesh leaves alone.
//  - UDP checksum 0 means "none" (RFC 768) and stays 0.
//  - Super-frame: a TCP segment longer than the network's MTU is cut into segments of
//    at most MTU bytes (IP ID +1, sequence number +MSS per segment, FIN/PSH only on the
//    last, CWR only on the first, as TSO does; RFC 3168 §6.1.1), each with its IPv4 and
//    TCP checksums computed. The sender's MSS is not known (no virtio-net header), so
//    segments are as large as the network's MTU allows; the peer's MSS comes from the
//    same MTU.
//  - A datagram over the MTU that is not TCP: the PMD's fanout group asks the kernel to
//    reassemble fragments (PACKET_FANOUT_FLAG_DEFRAG), so the sender's fragments arrive
//    as one datagram; it is fragmented again to the MTU (DF clear, no IPv4 options;
//    otherwise it goes on to the MTU check). Counted with the super-frames.
//  - An IPv4 frame shorter than its total length was cut by the PMD (a super-frame
//    longer than af_packet's frame size): it cannot be completed and is dropped under
//    `offload_truncated`.
//
// IPv4 fragments, non-IP frames and other protocols pass untouched.
#pragma once

#include "dataplane/lcore.hpp"

namespace vxmesh::dp {

// Segments one super-frame can give: 64 KB of IPv4 at the smallest network MTU (576)
// with the longest IPv4 and TCP headers (60 + 60 bytes) makes 144 segments of 456 bytes.
inline constexpr uint16_t l4_max_segments = 144;

enum class L4Action : uint8_t {
    Forward, // m is ready (completed in place, or nothing to do)
    Segment, // m is a TCP super-frame or a reassembled datagram: call l4_segment
    Dropped, // counted and freed
};

// Whether frames received on m's port may carry what a sender's offloads left undone.
inline bool l4_offload_port(const Lcore& lc, const rte_mbuf* m) {
    return m->port < max_ports && (lc.offload_ports >> m->port & 1u);
}

// Checks m (an Ethernet frame) for a network of inner IP MTU `mtu`, completes a partial
// TCP/UDP checksum in place, and says what happens next.
L4Action l4_complete(Lcore& lc, rte_mbuf* m, uint16_t mtu);

// Cuts a TCP super-frame (l4_complete said Segment) into segments of at most `mtu` bytes
// of IPv4, with complete checksums, or a reassembled datagram into fragments, in
// out[0..return); m is freed. Returns 0 when m was
// dropped (no mbufs) instead.
uint16_t l4_segment(Lcore& lc, rte_mbuf* m, uint16_t mtu, rte_mbuf** out);

// A frame leaving by local port `port` on a network of MTU `mtu`: offloads finished,
// then queued (its segments, if it was a super-frame).
void l4_offload_tx(Lcore& lc, uint16_t port, uint16_t mtu, rte_mbuf* m);

} // namespace vxmesh::dp
