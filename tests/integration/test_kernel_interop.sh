#!/bin/bash
# Interoperability with the Linux kernel's VXLAN: vxmesh node1 and node2 plus a
# plain-Linux VTEP "kn" (10.99.0.3, static FDB, nolearning) whose container
# 10.0.1.10 is on blue (VNI 4097). Ping, 1 MB TCP (sha256-checked) and UDP
# (content-checked) in both directions between the kernel container and the blue
# container on each vxmesh node, every interface (the kernel VTEP's underlay too) at
# its kernel-default offloads.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin kernel_interop
require_vxmesh
lab_init "${LAB_PREFIX:-vxk$$-}" || fatal "lab: init" "lab_init failed"

topo_overlay kernel || fatal "lab: topology" "topo_overlay kernel failed"
topo_start_all || fatal "vxmesh: start node1 and node2" "see log above"
pass "vxmesh: node1 and node2 ready"

check "ping kernel kn/c1 -> node1/c1 (10.0.1.2)" ping_ok kn c1 10.0.1.2
check "ping kernel kn/c1 -> node2/c1 (10.0.1.3)" ping_ok kn c1 10.0.1.3
check "ping node1/c1 -> kernel kn/c1 (10.0.1.10)" ping_ok node1 c1 10.0.1.10
check "ping node2/c1 -> kernel kn/c1 (10.0.1.10)" ping_ok node2 c1 10.0.1.10

MB=$((1024 * 1024))
tcp_transfer "TCP 1 MB kernel kn/c1 -> node1/c1" kn c1 node1 c1 10.0.1.2 "$MB" 5001
tcp_transfer "TCP 1 MB node1/c1 -> kernel kn/c1" node1 c1 kn c1 10.0.1.10 "$MB" 5002
tcp_transfer "TCP 1 MB kernel kn/c1 -> node2/c1" kn c1 node2 c1 10.0.1.3 "$MB" 5003
tcp_transfer "TCP 1 MB node2/c1 -> kernel kn/c1" node2 c1 kn c1 10.0.1.10 "$MB" 5004
tcp_transfer "TCP 10 MB kernel kn/c1 -> node1/c1" kn c1 node1 c1 10.0.1.2 $((10 * MB)) 5005
udp_transfer "UDP kernel kn/c1 -> node1/c1" kn c1 node1 c1 10.0.1.2 600 6001
udp_transfer "UDP node1/c1 -> kernel kn/c1" node1 c1 kn c1 10.0.1.10 600 6002
check "lab: kernel VTEP's underlay keeps TX checksum offload" bash -c \
    "ip netns exec ${LAB_PREFIX}kn ethtool -k ul | grep -q '^tx-checksumming: on'"

# The kernel VTEP learned the vxmesh VTEPs' underlay MACs by ARP (vxmesh answered).
for n in node1 node2; do
    ip=$(topo_node_ip "$n")
    got=$(ip -n "$(lab_ns kn)" neigh show "$ip" dev ul | awk '{for (i=1;i<NF;i++) if ($i=="lladdr") print $(i+1)}')
    if [ "$got" = "$(lab_mac "$n/ul")" ]; then pass "underlay ARP: kernel VTEP resolved $n ($ip) to its ul MAC"
    else fail "underlay ARP: kernel VTEP resolved $n ($ip) to its ul MAC" "got '$got', want $(lab_mac "$n/ul")"; fi
done

for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?"; fi
    [ -s "$LAB_DIR/$n.stats.json" ] && echo "$n final counters: $(tr -d '\n ' <"$LAB_DIR/$n.stats.json")"
done
t_end
