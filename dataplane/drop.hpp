// Every packet vxmesh does not forward is counted under one of these reasons.
//
// Counted per lcore (dataplane/lcore.hpp), summed when read. The name table is what
// `vxmesh` prints at exit and what the stats JSON and, later, telemetry show.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vxmesh::dp {

enum class Drop : uint8_t {
    // any port
    Truncated,            // shorter than the headers its ethertype promises
    UnsupportedEthertype, // neither IPv4 nor ARP
    // access ports
    UnknownSource,        // source MAC is not an endpoint attached to this port
    FloodSuppressed,      // broadcast/multicast other than ARP: no flooding on an overlay
    ArpUnknownTarget,     // ARP request for an address no endpoint of the network holds
    ArpNotRequest,        // ARP reply/other opcode from a container: nothing to learn
    ArpGratuitous,        // a container announcing its own address: the table already knows
    ArpMalformed,         // not Ethernet/IPv4 ARP of the usual sizes
    ArpProbeOwnAddress,   // RFC 5227 probe for the requester's own address: no conflict
    L2UnknownDestination, // unicast to a MAC not in the network's FDB
    MtuExceeded,          // inner frame longer than the network's MTU allows (either way)
    NoHeadroom,           // mbuf cannot take the outer headers
    // offloads a sender left undone (access ports and decapsulated frames)
    OffloadTruncated, // IPv4 frame shorter than its total length: af_packet's frame size cut it
    SegmentNoMbuf,    // no mbufs for a super-frame's segments
    // underlay
    L2NotForUs,              // destination MAC neither ours nor broadcast
    IpBadHeader,             // version/IHL/length inconsistent
    IpLengthMismatch,        // IPv4 total length beyond the bytes the frame holds
    FrameTooLong,            // IPv4 total length beyond what one receive buffer holds
    IpBadSource,             // outer source 0/8, 127/8, multicast, class E, broadcast or ours
    IpBadChecksum,           // outer IPv4 header checksum wrong
    IpFragment,              // outer fragments are not reassembled
    IpNotForUs,              // destination address is not our VTEP address
    NotVxlan,                // for us but not UDP to the VXLAN port (no exception port yet)
    VxlanUnknownPeer,        // outer source is not a configured peer's VTEP address
    VxlanBadFlags,           // I flag clear (RFC 7348 §5)
    VxlanUnknownVni,         // VNI of no configured network
    VxlanUnknownDestination, // inner destination MAC is not a local endpoint of that VNI
    VxlanInnerSourceInvalid, // inner source MAC multicast, broadcast or zero
    VxlanInnerVlan,          // inner frame carries an 802.1Q/802.1ad tag
    VxlanUnknownSource,      // inner source MAC is no endpoint of that VNI
    VxlanSpoofedSource,      // inner source MAC is an endpoint of another node, or ours
    ArpNotForUs,             // underlay ARP about an address that is not ours
    ArpBadSender,            // underlay ARP whose sender MAC is zero, broadcast or multicast
    ArpAddressConflict,      // underlay ARP from another MAC claiming our VTEP address
    // neighbour resolution and control path
    NeighbourUnresolved, // peer/gateway MAC did not resolve in time
    NeighbourQueueFull,  // too many packets already waiting for that neighbour
    PuntRingFull,        // control thread not keeping up
    // transmit
    TxFull,   // the port's queue did not take the packet
    PortDown, // the port's interface is gone, down or without carrier (dataplane/port_watch.hpp)
    Count
};

inline constexpr std::array<std::string_view, static_cast<size_t>(Drop::Count)> drop_names = {
    "truncated",
    "unsupported_ethertype",
    "unknown_source",
    "flood_suppressed",
    "arp_unknown_target",
    "arp_not_request",
    "arp_gratuitous",
    "arp_malformed",
    "arp_probe_own_address",
    "l2_unknown_destination",
    "mtu_exceeded",
    "no_headroom",
    "offload_truncated",
    "segment_no_mbuf",
    "l2_not_for_us",
    "ip_bad_header",
    "ip_length_mismatch",
    "frame_too_long",
    "ip_bad_source",
    "ip_bad_checksum",
    "ip_fragment",
    "ip_not_for_us",
    "not_vxlan",
    "vxlan_unknown_peer",
    "vxlan_bad_flags",
    "vxlan_unknown_vni",
    "vxlan_unknown_destination",
    "vxlan_inner_source_invalid",
    "vxlan_inner_vlan",
    "vxlan_unknown_source",
    "vxlan_spoofed_source",
    "arp_not_for_us",
    "arp_bad_sender",
    "arp_address_conflict",
    "neighbour_unresolved",
    "neighbour_queue_full",
    "punt_ring_full",
    "tx_full",
    "port_down",
};

constexpr std::string_view drop_name(Drop d) {
    return drop_names[static_cast<size_t>(d)];
}

} // namespace vxmesh::dp
