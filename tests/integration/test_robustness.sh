#!/bin/bash
# vxmesh under less friendly conditions: two workers per node (af_packet qpairs=2),
# full-MTU packets, a frame larger than the overlay MTU, a peer node restarted
# (traffic stops, then recovers by itself), and stopping with SIGINT.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin robustness
require_vxmesh
lab_init "${LAB_PREFIX:-vxr$$-}" || fatal "lab: init" "lab_init failed"

TOPO_QPAIRS=2 topo_overlay || fatal "lab: topology" "topo_overlay failed"
topo_start_all --workers 2 || fatal "vxmesh: start with --workers 2" "see log above"
pass "vxmesh: node1 and node2 ready with 2 workers"
# Each worker polls its own queue of every port: af_packet spreads them by a fanout hash in
# the kernel (a NIC would be given RSS, dataplane/ports.cpp).
check "2 workers: node1 says how its ports' queues are spread" \
    grep -q "port underlay: 2 rx queues (af_packet: the kernel spreads them)" "$LAB_DIR/node1.log"

check "2 workers: ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
# 1422 bytes of ICMP data = a 1450-byte IP packet, the overlay MTU, DF set.
check "full MTU: 1450-byte packets node1/c1 -> node2/c1" lab_exec node1-c1 ping -n -c 3 -i 0.3 -W 2 -s 1422 -M "do" 10.0.1.3
check "full MTU: 1450-byte packets node2/c2 -> node1/c2" lab_exec node2-c2 ping -n -c 3 -i 0.3 -W 2 -s 1422 -M "do" 10.0.2.2
tcp_transfer "2 workers: TCP 10 MB node2/c1 -> node1/c1" node2 c1 node1 c1 10.0.1.2 $((10 * 1024 * 1024))

# A container whose MTU is wrong (1500) sends a frame that cannot be carried:
# it must be dropped at node1 (and counted), not sent as an oversized underlay frame.
lab_exec node1-c2 ip link set eth0 mtu 1500
ip -n "$(lab_ns node1)" link set c2 mtu 1500
check "oversize: 1500-byte packet from a 1500-MTU container gets no reply" \
    lab_exec node1-c2 bash -c '! ping -n -c 2 -i 0.3 -W 1 -s 1472 -M "do" 10.0.2.3'
lab_exec node1-c2 ip link set eth0 mtu "$LAB_MTU"
ip -n "$(lab_ns node1)" link set c2 mtu "$LAB_MTU"
check "oversize: normal traffic from that container still flows" ping_ok node1 c2 10.0.2.3

# Peer restart.
if lab_stop_vxmesh node2; then pass "restart: node2 stopped (exit 0)"; else fail "restart: node2 stopped (exit 0)" "status $?"; fi
cp "$LAB_DIR/node2.stats.json" "$LAB_DIR/node2.first.stats.json" 2>/dev/null
check "restart: no reply while node2 is down" ping_fails node1 c1 10.0.1.3
if lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --workers 2; then pass "restart: node2 started again"
else fatal "restart: node2 started again" "see log above"; fi
check "restart: ping node1/c1 -> node2/c1 recovers" ping_ok node1 c1 10.0.1.3
check "restart: ping node2/c1 -> node1/c1 recovers" ping_ok node2 c1 10.0.1.2
check "restart: ping red node2/c2 -> node1/c2 recovers" ping_ok node2 c2 10.0.2.2
tcp_transfer "restart: TCP 2 MB node1/c1 -> node2/c1" node1 c1 node2 c1 10.0.1.3 $((2 * 1024 * 1024))

# SIGINT stops as cleanly as SIGTERM.
pid=$(lab_vxmesh_pid node1)
kill -INT "$pid"
for ((i = 0; i < LAB_STOP_TIMEOUT * 10; i++)); do _lab_alive "$pid" || break; sleep 0.1; done
if _lab_alive "$pid"; then
    fail "SIGINT: node1 exits" "still running after ${LAB_STOP_TIMEOUT}s"
else
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] && pass "SIGINT: node1 exits 0" || fail "SIGINT: node1 exits 0" "status $rc"
fi
if [ -s "$LAB_DIR/node1.stats.json" ]; then
    m=$(lab_stats node1 drops.mtu_exceeded 2>/dev/null)
    echo "node1 final counters: $(tr -d '\n ' <"$LAB_DIR/node1.stats.json")"
    if [ "${m:-0}" -gt 0 ] 2>/dev/null; then pass "oversize: node1 counted the dropped frames (drops.mtu_exceeded=$m)"
    else fail "oversize: node1 counted the dropped frames" "drops.mtu_exceeded='$m'"; fi
else
    fail "SIGINT: node1 wrote its stats JSON" "missing"
fi
lab_stop_vxmesh node2 >/dev/null 2>&1
t_end
