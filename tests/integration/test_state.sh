#!/bin/bash
# The state file across restarts of vxmesh (config/README.md, "State file"):
#   1. an endpoint attached to node1 over the socket without an address (IPAM gives it
#      one, and Docker's MAC), whose container is then given that address and MAC, and a
#      peer added over the socket, are still there after node1 restarts: the same IP and
#      MAC, and pings across the overlay both ways work before and after the restart;
#   2. IPAM reserves the kept address again: the next endpoint gets another one;
#   3. a config file that clashes with the state file (another endpoint on the kept
#      address) stops the start with an error naming both; with the right file it starts;
#   4. detached over the socket: gone from the state file, and after the next restart.
# Env: VXMESHCTL_BIN (default build/tools/vxmeshctl).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin state
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC (build with ninja -C build, or set VXMESHCTL_BIN)"
lab_init "${LAB_PREFIX:-vxs$$-}" || fatal "lab: init" "lab_init failed"

topo_overlay || fatal "lab: topology" "topo_overlay failed"
# node1 gets a third access port, c3, for an endpoint that only the socket knows about.
# Its container's address is a placeholder until IPAM has chosen one.
lab_container node1 c3 192.0.2.3/24 02:00:00:00:00:03 || fatal "lab: container node1-c3" "lab_container failed"
sed -i 's/^ports:$/ports:\n  - name: c3\n    device: net_af_packet7,iface=c3/' "$LAB_DIR/node1.yaml"
RUN=$LAB_DIR/run
SOCK1=$RUN/node1.sock
SOCK2=$RUN/node2.sock
STATE1=$LAB_DIR/node1.state.json   # lab_start_vxmesh's --state
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $CTL" "cp failed"
ctl1() { timeout 30 "$CTL" -s "$SOCK1" "$@"; }
ctl2() { timeout 30 "$CTL" -s "$SOCK2" "$@"; }
# jf EXPR: evaluate a Python expression over the JSON on stdin (bound to d).
jf() { "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"; }
# state1: node1's state file as a restart reads it (with its journal).
state1() { "$LAB_PY" "$T_ROOT/tests/integration/state_file.py" "$STATE1"; }
# endpoint_of NAME: "IP MAC" of endpoint NAME in node1's desired state ("none" if absent).
endpoint_of() {
    ctl1 --format json endpoint ls | jf "' '.join([e['ip'] + ' ' + e['mac'] for e in d if e['name'] == '$1'] or ['none'])"
}
start1() { lab_start_vxmesh node1 "${1:-$LAB_DIR/node1.yaml}" --socket "$SOCK1"; }

start1 || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: start node2" "see log above"
pass "vxmesh: node1 and node2 ready, node1 with port c3 and state file $STATE1"

# ---------------------------------------------------------------------------------
echo "--- 1. an endpoint and a peer added over the socket, then a restart"
out=$(ctl1 endpoint attach w1 --network blue --node node1 --port c3 2>&1); rc=$?
read -r _ IP MAC < <(grep '^w1 ' <<<"$out")
if [ "$rc" = 0 ] && [ "${IP:-}" = 10.0.1.4 ] && [ "${MAC:-}" = 02:42:0a:00:01:04 ]; then
    pass "endpoint attach w1 without --ip: IPAM gives $IP (after the gateway and the config file's .2, .3), MAC $MAC"
else
    fatal "endpoint attach w1 without --ip" "exit $rc: $(tr '\n' '|' <<<"$out")"
fi
# node2 learns w1 (behind node1) with the address node1 chose, as an orchestrator would
# tell it; the container is given the address and MAC.
check "node2: endpoint attach w1 --ip $IP (remote, on node1)" ctl2 endpoint attach w1 --network blue --node node1 --ip "$IP"
lab_exec node1-c3 ip link set eth0 down
lab_exec node1-c3 ip addr flush dev eth0
lab_exec node1-c3 ip link set eth0 address "$MAC"
lab_exec node1-c3 ip addr add "$IP/24" dev eth0
lab_exec node1-c3 ip link set eth0 up
check "peer add node3 10.99.0.3 over the socket" ctl1 peer add node3 10.99.0.3
check "before the restart: ping node2/c1 -> w1 ($IP) across the overlay" ping_ok node2 c1 "$IP"
check "before the restart: ping w1 (node1/c3) -> node2/c1" ping_ok node1 c3 10.0.1.3
kept=$(jf '[e["name"] + " " + e["ip"] + " " + e["mac"] for e in d["endpoints"]] + [p["name"] + " " + p["address"] for p in d["peers"]]' < <(state1) 2>&1)
[ "$kept" = "[\"w1 $IP $MAC\", \"node3 10.99.0.3\"]" ] && pass "state file holds w1 ($IP $MAC) and peer node3, not the config file's endpoints" || fail "state file holds w1 and node3" "$kept"

if lab_stop_vxmesh node1; then pass "restart: node1 stopped (exit 0)"; else fail "restart: node1 stopped (exit 0)" "status $?"; fi
start1 || fatal "restart: node1 started again" "see log above"
pass "restart: node1 started again with the same config file and state file"
got=$(endpoint_of w1)
[ "$got" = "$IP $MAC" ] && pass "after the restart: w1 is still $IP $MAC" || fail "after the restart: w1 keeps its address and MAC" "got '$got', want '$IP $MAC'"
out=$(ctl1 peer ls 2>&1)
grep -Eq '^node3 +10\.99\.0\.3$' <<<"$out" && pass "after the restart: peer node3 10.99.0.3 is still there" || fail "after the restart: peer node3" "$(tr '\n' '|' <<<"$out")"
check "after the restart: ping node2/c1 -> w1 ($IP) across the overlay" ping_ok node2 c1 "$IP"
check "after the restart: ping w1 (node1/c3) -> node2/c1" ping_ok node1 c3 10.0.1.3
check "after the restart: ping node1/c1 -> node2/c1 (config file endpoints)" ping_ok node1 c1 10.0.1.3

# ---------------------------------------------------------------------------------
echo "--- 2. IPAM reserves the kept address again"
out=$(ctl1 endpoint attach w2 --network blue --node node2 2>&1); rc=$?
read -r _ IP2 _ < <(grep '^w2 ' <<<"$out")
[ "$rc" = 0 ] && [ "${IP2:-}" = 10.0.1.5 ] && pass "endpoint attach w2 after the restart: $IP2, not w1's $IP" || fail "endpoint attach w2 after the restart" "exit $rc: $(tr '\n' '|' <<<"$out")"
check "endpoint detach w2" ctl1 endpoint detach w2
names=$(jf '[e["name"] for e in d["endpoints"]]' < <(state1) 2>&1)
[ "$names" = '["w1"]' ] && pass "state file after detaching w2: endpoints [w1]" || fail "state file after detaching w2" "$names"

# ---------------------------------------------------------------------------------
echo "--- 3. a config file that clashes with the state file"
lab_stop_vxmesh node1 >/dev/null 2>&1 || fail "clash: node1 stopped" "status $?"
cp "$LAB_DIR/node1.yaml" "$LAB_DIR/clash.yaml"
printf '  - name: other\n    network: blue\n    ip: %s\n    node: node2\n' "$IP" >>"$LAB_DIR/clash.yaml"
if start1 "$LAB_DIR/clash.yaml" 2>/dev/null; then
    fail "clash: vxmesh must refuse to start" "it started"
    lab_stop_vxmesh node1 >/dev/null 2>&1
else
    msg=$(grep -m1 'conflicts with' "$LAB_DIR/node1.log")
    if [[ $msg == *"clash.yaml:"*"endpoint 'other' conflicts with endpoint 'w1' (network blue, IP $IP, MAC $MAC, node node1, port c3) attached over the control socket (state file $STATE1): both use IP $IP in network 'blue'" ]]; then
        pass "clash: vxmesh refuses to start: '$msg'"
    else
        fail "clash: the error names both endpoints and files" "log: $(tail -n 3 "$LAB_DIR/node1.log" | tr '\n' '|')"
    fi
fi
start1 || fatal "clash: node1 starts with its own config file" "see log above"
got=$(endpoint_of w1)
[ "$got" = "$IP $MAC" ] && pass "clash: the failed start changed nothing (w1 still $IP $MAC)" || fail "clash: the failed start changed nothing" "w1 is '$got'"
check "clash: ping node2/c1 -> w1 ($IP) again" ping_ok node2 c1 "$IP"

# ---------------------------------------------------------------------------------
echo "--- 4. detached over the socket: gone for good"
check "endpoint detach w1" ctl1 endpoint detach w1
check "peer rm node3" ctl1 peer rm node3
kept=$(jf 'd["endpoints"] + d["peers"]' < <(state1) 2>&1)
[ "$kept" = "[]" ] && pass "state file: no endpoints or peers left" || fail "state file: no endpoints or peers left" "$kept"
lab_stop_vxmesh node1 >/dev/null 2>&1 || fail "detach: node1 stopped" "status $?"
start1 || fatal "detach: node1 started again" "see log above"
got=$(endpoint_of w1)
[ "$got" = none ] && pass "after another restart: w1 is gone" || fail "after another restart: w1 is gone" "w1 is '$got'"
check_not "after another restart: peer node3 is gone" bash -c "'$CTL' -s '$SOCK1' peer ls | grep -q node3"
check "after another restart: ping node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3

for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?"; fi
done
t_end
