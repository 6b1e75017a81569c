#!/bin/bash
# A deleted or downed interface under a port (issue 9 finding 11): detected, logged, its
# traffic counted as port_down, and the port back in service when the interface returns,
# without restarting vxmesh. Standard lab (node1, node2 with c1 on blue):
#   1. node2's access port c1 is set down, then up: port_down counted, ping resumes.
#   2. node2's c1 veth is deleted (the container's link gone), then created again with
#      the same names (a new interface index): vxmesh reopens the port; ping and a
#      1 MB TCP transfer (kernel-default offloads) work again.
#   3. node2's underlay veth is deleted and created again with another MAC: the port is
#      reopened, node2 sends from the new MAC and announces it (gratuitous ARP), so node1
#      reaches node2 at once instead of after its 30 s neighbour re-confirmation.
# Each wait is for vxmesh's own log line or counter (bounded), never a fixed sleep.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin port_recovery
require_vxmesh
CTL=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL" ] || fatal "vxmeshctl binary" "not found at $CTL"
lab_init "${LAB_PREFIX:-vxr$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
SOCK2=$LAB_DIR/node2.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$LAB_DIR/node1.sock" ||
    fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: start node2" "see log above"
LOG2=$LAB_DIR/node2.log
ctl2() { timeout 30 "$CTL" -s "$SOCK2" "$@"; }
# stat2 PATH: a value from node2's `vxmeshctl stats` JSON ("drops.port_down", "ports.c1.link").
stat2() {
    ctl2 --format json stats | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}
# wait_log PATTERN COUNT: until node2's log has COUNT lines matching PATTERN (10 s at most).
wait_log() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c -- "$1" "$LOG2")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# ping_soon NODE C IP: replies within 10 s (a port comes up within 200 ms of its interface).
ping_soon() {
    lab_exec "$1-$2" ping -n -c 1 -w 10 "$3" >/dev/null 2>&1
}

ping_ok node1 c1 10.0.1.3 >/dev/null || fatal "overlay: node1/c1 pings node2/c1 before the test" "no reply"
pass "overlay: node1/c1 reaches node2/c1"
[ "$(stat2 ports.c1.link)" = up ] && pass "stats: node2's c1 is up" || fail "stats: node2's c1 link at start" "$(stat2 ports.c1.link)"

# 1. Interface set down, then up.
ip -n "$(lab_ns node2)" link set c1 down
wait_log "port c1 (interface c1): interface is down" 1 && pass "log: node2 says c1's interface is down" ||
    fail "log: c1 down" "no line in $LOG2"
[ "$(stat2 ports.c1.link)" = down ] && pass "stats: c1's link is down" || fail "stats: c1's link while down" "$(stat2 ports.c1.link)"
before=$(stat2 drops.port_down)
ping_fails node1 c1 10.0.1.3 >/dev/null && pass "ping: node2/c1 unreachable while c1 is down" ||
    fail "ping while c1 is down" "answered"
after=$(stat2 drops.port_down)
[ "$after" -gt "$before" ] && pass "drops: the pings for c1 counted as port_down ($before → $after)" ||
    fail "drops: port_down while c1 is down" "$before → $after"
ip -n "$(lab_ns node2)" link set c1 up
wait_log "port c1 (interface c1): interface is up; traffic resumes" 1 && pass "log: c1 resumes" ||
    fail "log: c1 up" "no line in $LOG2"
ping_soon node1 c1 10.0.1.3 && pass "ping: node2/c1 answers again after c1 is up" || fail "ping after c1 up" "no reply"

# 2. Interface deleted, then created again (another index).
ip -n "$(lab_ns node2)" link del c1
wait_log "port c1 (interface c1): interface is gone" 1 && pass "log: node2 says c1's interface is gone" ||
    fail "log: c1 gone" "no line in $LOG2"
before=$(stat2 drops.port_down)
ping_fails node1 c1 10.0.1.3 >/dev/null
after=$(stat2 drops.port_down)
[ "$after" -gt "$before" ] && pass "drops: traffic for the deleted c1 counted as port_down ($before → $after), not sent" ||
    fail "drops: port_down while c1 is deleted" "$before → $after"
tx_before=$(stat2 ports.c1.tx)
lab_container_link node2 c1 10.0.1.3 "$(lab_default_mac 10.0.1.3)" || fatal "lab: recreate node2's c1" "ip link failed"
wait_log "port c1 (interface c1): interface is back" 1 && pass "log: $(grep -m1 'port c1 (interface c1): interface is back' "$LOG2")" ||
    fail "log: c1 reopened" "no line in $LOG2: $(grep 'port c1' "$LOG2" | tail -n 3 | tr '\n' '|')"
wait_log "port c1 (interface c1): interface is up; traffic resumes" 2 || fail "log: c1 up after recreation" "no line"
ping_soon node1 c1 10.0.1.3 && pass "ping: node2/c1 answers through the recreated c1" || fail "ping through the recreated c1" "no reply"
ping_ok node2 c1 10.0.1.2 >/dev/null && pass "ping: node2/c1 reaches node1/c1 (its frames are read again)" ||
    fail "ping from the recreated c1" "no reply"
tx_after=$(stat2 ports.c1.tx)
[ "$tx_after" -gt "$tx_before" ] && pass "stats: c1's tx counter goes on from $tx_before ($tx_after)" || fail "stats: c1's tx after reopening" "$tx_before → $tx_after"
tcp_transfer "tcp: node1/c1 → node2/c1 through the recreated c1" node1 c1 node2 c1 10.0.1.3 1000000

# 3. Underlay deleted, created again with another MAC.
ip -n "$(lab_ns node2)" link del ul
wait_log "port underlay (interface ul): interface is gone" 1 && pass "log: node2 says its underlay is gone" ||
    fail "log: underlay gone" "no line in $LOG2"
before=$(stat2 drops.port_down)
ping_fails node2 c1 10.0.1.2 >/dev/null
after=$(stat2 drops.port_down)
[ "$after" -gt "$before" ] && pass "drops: encapsulated traffic for the deleted underlay counted as port_down ($before → $after)" ||
    fail "drops: port_down while the underlay is deleted" "$before → $after"
NEWMAC=02:00:00:99:00:02
lab_ul_link node2 "$NEWMAC" || fatal "lab: recreate node2's underlay" "ip link failed"
wait_log "port underlay (interface ul): interface is back" 1 &&
    pass "log: $(grep -m1 'port underlay (interface ul): interface is back' "$LOG2")" || fail "log: underlay reopened" "no line in $LOG2"
grep -q "port underlay (interface ul): interface is back.*MAC $NEWMAC" "$LOG2" && pass "log: the reopened underlay has the new MAC $NEWMAC" ||
    fail "log: underlay's new MAC" "$(grep 'port underlay' "$LOG2" | tail -n 2 | tr '\n' '|')"
wait_log "port underlay (interface ul): interface is up; traffic resumes" 1 || fail "log: underlay up" "no line"
# node1 still has node2's old MAC, learned less than 30 s ago: only node2's announcement
# can move it within 5 s.
lab_exec node1-c1 ping -n -c 1 -w 5 10.0.1.3 >/dev/null 2>&1 && pass "ping: node1/c1 reaches node2/c1 right after node2's underlay came back with another MAC" ||
    fail "ping across the recreated underlay" "no reply"
tcp_transfer "tcp: node2/c1 → node1/c1 across the recreated underlay" node2 c1 node1 c1 10.0.1.2 1000000

lab_stop_vxmesh node2 && pass "vxmesh: node2 exits 0 on SIGTERM after its ports were reopened" || fail "vxmesh: node2 exit" "status $?"
lab_stop_vxmesh node1 && pass "vxmesh: node1 exits 0" || fail "vxmesh: node1 exit" "status $?"
t_end
