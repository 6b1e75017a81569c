#!/bin/bash
# The neighbour service has its own lcore: nothing slow on the control thread stops the
# node's underlay ARP or its traffic (issue 9 finding 7).
#   For NEIGHBOUR_BUSY_S seconds (default 40: longer than a neighbour's 30 s
#   re-confirmation, so node2 probes node1 meanwhile) node1's control thread is kept
#   busy: 20 idle TCP connections a second to --metrics-listen, each held open, and a
#   document with 3,000 extra endpoints applied and taken back over the control socket
#   again and again. Meanwhile:
#     - node1/c1 pings node2/c1 every 0.2 s: no reply gap above 1 s, no loss;
#     - scapy in the underlay namespace asks node1 for its VTEP's MAC every 0.25 s:
#       every request is answered, each within 1 s (the slowest is reported);
#     - the applies keep succeeding (the control thread is busy, not stuck).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin neighbour_thread
require_vxmesh
BUSY_S=${NEIGHBOUR_BUSY_S:-40}
lab_init "${LAB_PREFIX:-vxn$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
SOCK1=$LAB_DIR/node1.sock
MPORT=$((20000 + $$ % 20000))
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" --metrics-listen 127.0.0.1:$MPORT ||
    fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" || fatal "vxmesh: start node2" "see log above"
lab_exec node1-c1 ping -c 3 -W 2 -q 10.0.1.3 >/dev/null 2>&1 || lab_exec node1-c1 ping -c 3 -W 2 -q 10.0.1.3 >/dev/null 2>&1 ||
    fatal "overlay: node1/c1 pings node2/c1 before the test" "no reply"
pass "overlay: node1/c1 reaches node2/c1"

PYH=$LAB_DIR/busy.py
cat >"$PYH" <<'PYEOF'
import json, socket, sys, threading, time

from ctl import request

def busy(sock_path, mport, seconds, out):
    """Keep vxmesh's control thread busy; print how many applies succeeded."""
    stop = time.time() + float(seconds)
    held = []
    def idle_connections():
        while time.time() < stop:
            for _ in range(20):
                try:
                    c = socket.create_connection(("127.0.0.1", int(mport)), timeout=1)
                    held.append(c)
                except OSError:
                    pass
            time.sleep(1)
            while len(held) > 60:
                held.pop(0).close()
    t = threading.Thread(target=idle_connections, daemon=True)
    t.start()
    def call(req):
        return request(sock_path, req)
    base = call({"op": "get"})["result"]["desired"]
    for k in ("services", "load_balancers"):
        base.pop(k, None)
    big = json.loads(json.dumps(base))
    big["networks"].append({"name": "bulk", "vni": 5000, "subnet": "10.60.0.0/16"})
    for i in range(3000):
        big["endpoints"].append({"name": "bulk%d" % i, "network": "bulk",
                                 "ip": "10.60.%d.%d" % (1 + i // 250, 1 + i % 250),
                                 "mac": "02:42:0a:3c:%02x:%02x" % (1 + i // 250, 1 + i % 250),
                                 "node": "node2"})
    ok = failed = 0
    while time.time() < stop:
        for doc in (big, base):
            r = call({"op": "apply", "params": {"config": doc}})
            if r.get("ok"):
                ok += 1
            else:
                failed += 1
                print("apply failed:", json.dumps(r)[:300], file=sys.stderr)
    t.join()
    for c in held:
        c.close()
    with open(out, "w") as f:
        f.write("%d %d\n" % (ok, failed))

def gaps(ping_out):
    """Largest gap between consecutive replies in `ping -D` output, and the reply count."""
    ts = []
    for line in open(ping_out):
        if "bytes from" in line and line.startswith("["):
            ts.append(float(line[1:line.index("]")]))
    big = max((b - a for a, b in zip(ts, ts[1:])), default=0)
    print("%d %.3f" % (len(ts), big))

if __name__ == "__main__":
    {"busy": busy, "gaps": gaps}[sys.argv[1]](*sys.argv[2:])
PYEOF

lab_bg node1-c1 "$LAB_DIR/ping.out" ping -D -i 0.2 -W 1 -w "$((BUSY_S + 2))" 10.0.1.3
PING_PID=$LAB_LAST_PID
lab_bg ul "$LAB_DIR/arp.err" /usr/bin/python3 "$T_ROOT/tests/integration/arp_probe.py" u-node1 10.99.0.1 "$BUSY_S" "$LAB_DIR/arp.out"
ARP_PID=$LAB_LAST_PID
ip netns exec "$(lab_ns node1)" env PYTHONPATH="$T_ROOT/tests/integration" /usr/bin/python3 "$PYH" busy "$SOCK1" "$MPORT" "$BUSY_S" "$LAB_DIR/busy.out" 2>"$LAB_DIR/busy.err"
wait "$ARP_PID"
wait "$PING_PID"

ok=0 failed=?
[ -f "$LAB_DIR/busy.out" ] && read -r ok failed <"$LAB_DIR/busy.out"
if [ "$ok" -gt 0 ] && [ "$failed" = 0 ]; then pass "control thread kept busy: $ok applies of a 3,000-endpoint document (and back) accepted, idle metrics connections held"
else fail "control thread kept busy: applies succeed" "$ok ok, $failed failed: $(tail -n 2 "$LAB_DIR/busy.err" | tr '\n' '|')"; fi

touch "$LAB_DIR/arp.out"
sent=$(wc -l <"$LAB_DIR/arp.out")
answered=$(grep -c '^answered' "$LAB_DIR/arp.out")
slowest=$(awk '$1 == "answered" && $2 > m { m = $2 } END { printf "%.3f", m + 0 }' "$LAB_DIR/arp.out")
if [ "$sent" -ge 10 ] && [ "$answered" = "$sent" ] && awk -v s="$slowest" 'BEGIN { exit !(s <= 1.0) }'; then pass "underlay ARP for node1's VTEP while its control thread is busy: $answered/$sent answered, slowest ${slowest} s"
else fail "underlay ARP for node1's VTEP while its control thread is busy: every request answered" "$answered/$sent answered, slowest ${slowest} s: $(tail -n 3 "$LAB_DIR/arp.err" | tr '\n' '|')"; fi

read -r replies gap < <(PYTHONPATH="$T_ROOT/tests/integration" /usr/bin/python3 "$PYH" gaps "$LAB_DIR/ping.out")
expected=$((BUSY_S * 5 - 5))
if [ "$replies" -ge "$expected" ] && awk -v g="$gap" 'BEGIN { exit !(g <= 1.0) }'; then
    pass "overlay ping node1/c1 -> node2/c1 meanwhile: $replies replies, largest gap ${gap} s"
else
    fail "overlay ping node1/c1 -> node2/c1 meanwhile: no gap above 1 s" "$replies replies (want >= $expected), largest gap ${gap} s"
fi

lab_stop_vxmesh node1 && pass "vxmesh: node1 exits 0 on SIGTERM" || fail "vxmesh: node1 exit" "status $?"
lab_stop_vxmesh node2 && pass "vxmesh: node2 exits 0 on SIGTERM" || fail "vxmesh: node2 exit" "status $?"
t_end
