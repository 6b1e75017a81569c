#!/bin/bash
# A network's MTU works end to end or is refused with a clear error (issue 10).
#   1. Jumbo: the lab's blue network with MTU 9000, containers and access veths at 9000,
#      the underlay veths at 9100: a 9000-byte ping with DF across the nodes, and a TCP
#      transfer at the kernel's default offloads.
#   2. Over the socket, with node1's underlay lowered below what blue needs: a change is
#      refused, naming blue and both MTUs, and the running tables stay; back up, accepted.
#   3. A node whose underlay MTU is back at 1500 refuses to start with the 9000 network.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin mtu
require_vxmesh
CTL=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
LAB_MTU=9000
lab_init "${LAB_PREFIX:-vxm$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
set_ul_mtu() { # NODE MTU: both ends of NODE's underlay veth
    local peer="u-$1"
    ip -n "$(lab_ns ul)" link set "${peer:0:15}" mtu "$2" && ip -n "$(lab_ns "$1")" link set ul mtu "$2"
}
for n in node1 node2; do
    set_ul_mtu "$n" 9100 || fatal "lab: underlay MTU 9100 on $n" "ip link failed"
    sed -i 's/^    vni: 4097$/    vni: 4097\n    mtu: 9000/' "$LAB_DIR/$n.yaml"
done
grep -q "mtu: 9000" "$LAB_DIR/node1.yaml" || fatal "lab: blue with MTU 9000" "not in node1.yaml"
SOCK1=$LAB_DIR/node1.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: start node1 (jumbo)" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" || fatal "vxmesh: start node2 (jumbo)" "see log above"

# 1. End to end.
if lab_exec node1-c1 ping -n -c 3 -W 2 -M do -s 8972 10.0.1.3 >"$LAB_DIR/ping.log" 2>&1; then
    pass "ping: 9000-byte packets with DF from node1/c1 to node2/c1 across the overlay"
else
    fail "ping with 9000-byte packets across a 9000-MTU network" "$(tail -n 3 "$LAB_DIR/ping.log" | tr '\n' '|')"
fi
if lab_exec node1-c1 ping -n -c 2 -W 2 -M do -s 8973 10.0.1.3 >"$LAB_DIR/ping2.log" 2>&1; then
    fail "ping: 9001-byte packets with DF are refused by the container's own MTU" "answered"
else
    pass "ping: 9001-byte packets with DF are refused by the container's own MTU (9000)"
fi
tcp_transfer "tcp: node1/c1 -> node2/c1 on the 9000-MTU network" node1 c1 node2 c1 10.0.1.3 4000000

# 2. Over the socket: the ports' MTUs are read at each change. With node1's underlay
#    lowered to 9040, blue no longer fits and any change is refused, naming it; back at
#    9100, the same change is accepted.
gen() { "$CTL" -s "$SOCK1" --format json stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }
gen_before=$(gen)
set_ul_mtu node1 9040
out=$("$CTL" -s "$SOCK1" network create --opt com.docker.network.driver.mtu=1400 small 2>&1)
rc=$?
if [ "$rc" != 0 ] && [[ $out == *"networks: blue: MTU 9000 needs an underlay MTU of at least 9050"*"the underlay's is 9040"* ]]; then
    pass "a change while node1's underlay MTU (9040) cannot carry blue: refused, naming blue ($out)"
else
    fail "a change while the underlay cannot carry blue: refused" "exit $rc: $out"
fi
[ "$(gen)" = "$gen_before" ] && pass "the refusal changed nothing (generation $gen_before)" || fail "generation after the refusal" "$(gen)"
set_ul_mtu node1 9100
out=$("$CTL" -s "$SOCK1" network create --opt com.docker.network.driver.mtu=1400 small 2>&1) &&
    pass "the same change with the underlay back at 9100: accepted" || fail "network create with the underlay at 9100" "$out"

# 3. Refused at start-up.
lab_stop_vxmesh node2 || fail "vxmesh: node2 exit" "status $?"
set_ul_mtu node2 1500
if lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" 2>/dev/null; then
    fail "node2 with a 1500 underlay and a 9000 network: refused at start" "it started"
    lab_stop_vxmesh node2
elif grep -q "networks: blue: MTU 9000 needs an underlay MTU of at least 9050 (VXLAN adds 50 bytes), and the underlay's is 1500" "$LAB_DIR/node2.log"; then
    pass "node2 with a 1500 underlay and a 9000 network refuses to start: $(grep -m1 'needs an underlay MTU' "$LAB_DIR/node2.log")"
else
    fail "node2's refusal names the MTUs" "$(tail -n 3 "$LAB_DIR/node2.log" | tr '\n' '|')"
fi
lab_stop_vxmesh node1 && pass "vxmesh: node1 exits 0 on SIGTERM" || fail "vxmesh: node1 exit" "status $?"
t_end
