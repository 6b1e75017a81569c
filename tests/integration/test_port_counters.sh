#!/bin/bash
# A port's own device counters (issue 9 finding 8): packets lost in a port's receive
# ring are counted and shown per port. node1 (one worker) is stopped with SIGSTOP while
# node1/c1 sends 3,000 frames at it, more than its af_packet receive ring holds; after
# SIGCONT the frames the ring had no room for must appear as c1's rx_missed in
# `vxmeshctl stats` (JSON, table, Prometheus) and, at exit, in --stats-json.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin port_counters
require_vxmesh
CTL=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL" ] || fatal "vxmeshctl binary" "not found at $CTL"
lab_init "${LAB_PREFIX:-vxp$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
SOCK1=$LAB_DIR/node1.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" --workers 1 || fatal "vxmesh: start node1" "see log above"
PID1=$(lab_vxmesh_pid node1)
ctl() { timeout 30 "$CTL" -s "$SOCK1" "$@"; }
missed() { ctl --format json stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"]["c1"]["rx_missed"])'; }

before=$(missed) || fatal "stats: c1's rx_missed readable" "vxmeshctl stats failed"
[ "$before" = 0 ] && pass "stats: c1's rx_missed is 0 at start" || fail "stats: c1's rx_missed at start" "$before"

kill -STOP "$PID1"
lab_exec node1-c1 /usr/bin/python3 - <<'PYEOF'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
frame = bytes.fromhex("0242 0a00 0103 0242 0a00 0102 0800".replace(" ", "")) + bytes(46)
for _ in range(3000):
    s.send(frame)
PYEOF
kill -CONT "$PID1"

got=0
for _ in $(seq 50); do
    got=$(missed) || got=0
    [ "$got" -gt 0 ] && break
    sleep 0.2
done
if [ "$got" -gt 0 ] && [ "$got" -le 3000 ]; then pass "stats: c1's rx_missed counts the frames its receive ring had no room for: $got of 3000"
else fail "stats: c1's rx_missed after 3000 frames at a stopped vxmesh" "$got"; fi

# Every frame sent is accounted for: received by vxmesh, or missed by the ring.
rx=$(ctl --format json stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"]["c1"]["rx"])')
[ $((rx + got)) = 3000 ] && pass "stats: c1's rx ($rx) + rx_missed ($got) = the 3000 frames sent" ||
    fail "stats: c1's rx + rx_missed = 3000" "rx $rx, rx_missed $got"
row=$(ctl stats | awk '$1 == "c1" { print $4 }')
hdr=$(ctl stats | awk '$1 == "PORT" { print $4 }')
[ "$hdr" = RX_MISSED ] && [ "$row" = "$got" ] && pass "vxmeshctl stats: c1's row shows RX_MISSED $row" ||
    fail "vxmeshctl stats: RX_MISSED column" "header '$hdr', c1 '$row', want $got"
line=$(ctl stats --prometheus | grep '^vxmesh_port_rx_missed_packets_total{node="node1",port="c1"} ')
[ "${line##* }" = "$got" ] && pass "vxmeshctl stats --prometheus: $line" || fail "Prometheus rx_missed for c1" "'$line', want $got"

lab_stop_vxmesh node1 && pass "vxmesh: node1 exits 0 on SIGTERM" || fail "vxmesh: node1 exit" "status $?"
at_exit=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"]["c1"]["rx_missed"])' "$LAB_DIR/node1.stats.json" 2>&1)
[ "$at_exit" -ge "$got" ] 2>/dev/null && pass "--stats-json at exit: c1's rx_missed $at_exit" || fail "--stats-json at exit: c1's rx_missed" "$at_exit"
grep -q 'RX_MISSED' "$LAB_DIR/node1.log" && pass "final counters in the log have the RX_MISSED column" || fail "final counters: RX_MISSED column" "not in $LAB_DIR/node1.log"
t_end
