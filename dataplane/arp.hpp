// ARP (RFC 826) helpers shared by the overlay proxy and the underlay neighbour service.
#pragma once

#include <rte_arp.h>
#include <rte_ether.h>

namespace vxmesh::dp {

// Ethernet/IPv4 ARP is the only kind vxmesh speaks; anything else is malformed here.
inline bool arp_is_ethernet_ipv4(const rte_arp_hdr* a) {
    return a->arp_hardware == RTE_BE16(RTE_ARP_HRD_ETHER) &&
           a->arp_protocol == RTE_BE16(RTE_ETHER_TYPE_IPV4) && a->arp_hlen == RTE_ETHER_ADDR_LEN &&
           a->arp_plen == 4;
}

} // namespace vxmesh::dp
