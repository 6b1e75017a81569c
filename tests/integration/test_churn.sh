#!/bin/bash
# Churn on the control socket (issue 10): an orchestrator's burst of endpoint attaches.
#   1. CHURN_ATTACHES (default 1000) attaches over node1's socket, pipelined on 4
#      connections, while node1/c1 pings node2/c1 every 0.05 s and a host on the
#      underlay asks for node1's VTEP MAC every 0.1 s: every attach acknowledged, no
#      ping lost, every ARP request answered (the slowest and p99 reported).
#   2. kill -9 in the middle of a second burst, then a restart from the same state file:
#      every attach that was acknowledged is there (group commit: a reply is sent only
#      after the state file holds its change), and nothing that was never sent.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin churn
require_vxmesh
N=${CHURN_ATTACHES:-1000}
lab_init "${LAB_PREFIX:-vxc$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
SOCK1=$LAB_DIR/node1.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" || fatal "vxmesh: start node2" "see log above"
ping_ok node1 c1 10.0.1.3 >/dev/null || fatal "overlay: node1/c1 pings node2/c1 before the test" "no reply"
pass "overlay: node1/c1 reaches node2/c1"

PY=$LAB_DIR/churn.py
cat >"$PY" <<'PYEOF'
import json, socket, sys, threading, time

from ctl import request

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def call(path, op, params):
    return request(path, {"op": op, "params": params})

def attach_req(name, i):
    return {"op": "patch", "id": i, "params": {"ops": [{"op": "add", "kind": "endpoint",
            "object": {"name": name, "network": "churn", "node": "node2"}}]}}

def pipelined(path, names, window, acked_file=None):
    """Send attaches for `names`, at most `window` unanswered; returns (ok, errors)."""
    s = connect(path)
    f = s.makefile("rb")
    out = open(acked_file, "a") if acked_file else None
    sent = answered = ok = 0
    errors = []
    try:
        while answered < len(names):
            while sent < len(names) and sent - answered < window:
                s.sendall(json.dumps(attach_req(names[sent], sent)).encode() + b"\n")
                sent += 1
            line = f.readline()
            if not line:
                break
            r = json.loads(line)
            if r.get("ok"):
                ok += 1
                if out:
                    out.write(names[r["id"]] + "\n")
                    out.flush()
            else:
                errors.append(r.get("error"))
            answered += 1
    except (OSError, ValueError):
        pass
    return ok, errors

def burst(path, n, prefix, conns, out):
    """n attaches over `conns` connections at once; prints "ok errors seconds"."""
    r = call(path, "network_create", {"name": "churn", "subnet": "10.80.0.0/16"})
    if not r.get("ok") and "already exists" not in r.get("error", ""):
        raise SystemExit("network_create: %s" % r)
    names = ["%s-%d" % (prefix, i) for i in range(int(n))]
    parts = [names[i::int(conns)] for i in range(int(conns))]
    results = [None] * len(parts)
    def run(k):
        results[k] = pipelined(path, parts[k], 32)
    t0 = time.time()
    ts = [threading.Thread(target=run, args=(k,)) for k in range(len(parts))]
    for t in ts: t.start()
    for t in ts: t.join()
    ok = sum(r[0] for r in results)
    errors = [e for r in results for e in r[1]]
    with open(out, "w") as f:
        f.write("%d %d %.3f %s\n" % (ok, len(errors), time.time() - t0, json.dumps(errors[:3])))

def killable(path, n, prefix, acked):
    """Attaches on one connection until vxmesh goes away; acked names go to `acked`."""
    names = ["%s-%d" % (prefix, i) for i in range(int(n))]
    with open(acked + ".sent", "w") as f:
        f.write("\n".join(names) + "\n")
    pipelined(path, names, 64, acked)

def names(path, prefix, out):
    r = call(path, "get", {})
    with open(out, "w") as f:
        for e in r["result"]["desired"]["endpoints"]:
            if e["name"].startswith(prefix + "-"):
                f.write(e["name"] + "\n")

if __name__ == "__main__":
    {"burst": burst, "killable": killable, "names": names}[sys.argv[1]](*sys.argv[2:])
PYEOF
churn_py() { ip netns exec "$(lab_ns node1)" env PYTHONPATH="$T_ROOT/tests/integration" /usr/bin/python3 "$PY" "$@"; }

# 1. A burst of attaches with traffic and underlay ARP meanwhile.
lab_bg node1-c1 "$LAB_DIR/ping.out" ping -n -i 0.05 -W 1 10.0.1.3
PING_PID=$LAB_LAST_PID
lab_bg ul "$LAB_DIR/arp.err" /usr/bin/python3 "$T_ROOT/tests/integration/arp_probe.py" u-node1 10.99.0.1 3600 "$LAB_DIR/arp.out" 0.005 10.99.0.51 02:00:00:00:0a:33
ARP_PID=$LAB_LAST_PID
for _ in $(seq 50); do [ -s "$LAB_DIR/arp.out" ] && break; sleep 0.1; done
churn_py burst "$SOCK1" "$N" burst 4 "$LAB_DIR/burst.out" 2>"$LAB_DIR/burst.err"
lab_kill "$ARP_PID"
kill -INT "$PING_PID" 2>/dev/null
for _ in $(seq 50); do _lab_alive "$PING_PID" || break; sleep 0.1; done
read -r ok errors seconds first_errors <"$LAB_DIR/burst.out" 2>/dev/null || ok=0
if [ "$ok" = "$N" ]; then pass "$N endpoint attaches over 4 pipelined connections, all acknowledged, in ${seconds} s"
else fail "$N endpoint attaches" "$ok acknowledged, $errors errors ($first_errors): $(tail -n 2 "$LAB_DIR/burst.err" | tr '\n' '|')"; fi
# Every request but the one in flight when ping was interrupted has its reply.
tx=$(awk '/packets transmitted/ { print $1 }' "$LAB_DIR/ping.out")
lost=$(grep -o 'icmp_seq=[0-9]*' "$LAB_DIR/ping.out" | cut -d= -f2 | sort -n | uniq |
    awk -v tx="${tx:-0}" '{ got[$1] = 1 } END { n = 0; for (i = 1; i < tx; i++) if (!got[i]) n++; print n }')
stats1=$(timeout 10 "$T_ROOT/build/tools/vxmeshctl" -s "$SOCK1" --format json stats 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print({k: v for k, v in json.load(sys.stdin)["drops"].items() if v})' 2>&1)
if [ -n "$tx" ] && [ "$tx" -gt 10 ] && [ "$lost" = 0 ]; then pass "overlay ping meanwhile: $((tx - 1)) requests, every one answered (node1's drops: $stats1)"
else fail "overlay ping during the attaches: none lost" "$lost of $tx lost; node1's drops: $stats1; $(tail -n 2 "$LAB_DIR/ping.out" | tr '\n' '|')"; fi
sent=$(wc -l <"$LAB_DIR/arp.out")
answered=$(grep -c '^answered' "$LAB_DIR/arp.out")
read -r p99 slowest < <(awk '$1 == "answered" { print $2 }' "$LAB_DIR/arp.out" | sort -g |
    awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f %.2f\n", v[i] * 1000, v[NR] * 1000 }')
if [ "$sent" -ge 5 ] && [ "$answered" = "$sent" ]; then
    pass "underlay ARP for node1's VTEP meanwhile: $answered/$sent answered, p99 ${p99} ms, slowest ${slowest} ms"
else
    fail "underlay ARP during the attaches: every request answered" "$answered/$sent: $(tail -n 2 "$LAB_DIR/arp.err" | tr '\n' '|')"
fi

# 2. kill -9 in the middle of a burst; restart; the acknowledged attaches are there.
ACKED=$LAB_DIR/acked
: >"$ACKED"
churn_py killable "$SOCK1" 2000 kill "$ACKED" 2>"$LAB_DIR/killable.err" &
CLIENT=$!
for _ in $(seq 1200); do [ "$(wc -l <"$ACKED")" -ge 50 ] && break; sleep 0.05; done
PID1=$(lab_vxmesh_pid node1)
kill -KILL "$PID1"
wait "$CLIENT" 2>/dev/null
wait "$PID1" 2>/dev/null
acked=$(wc -l <"$ACKED")
[ "$acked" -ge 50 ] && [ "$acked" -lt 2000 ] && pass "kill -9 after $acked of 2000 attaches were acknowledged" ||
    fail "kill -9 in the middle of a burst" "$acked acknowledged before the kill"
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: restart node1 after kill -9" "see log above"
churn_py names "$SOCK1" kill "$LAB_DIR/restored" 2>"$LAB_DIR/names.err" || fail "get after restart" "$(tail -n 2 "$LAB_DIR/names.err")"
missing=$(sort "$ACKED" | comm -23 - <(sort "$LAB_DIR/restored") | wc -l)
stray=$(sort "$LAB_DIR/restored" | comm -23 - <(sort "$ACKED.sent") | wc -l)
restored=$(wc -l <"$LAB_DIR/restored")
[ "$missing" = 0 ] && pass "after the restart every acknowledged attach is there ($acked acknowledged, $restored restored)" ||
    fail "acknowledged attaches after kill -9 and restart" "$missing of $acked missing: $(sort "$ACKED" | comm -23 - <(sort "$LAB_DIR/restored") | head -n 3 | tr '\n' ' ')"
[ "$stray" = 0 ] && pass "after the restart nothing that was never sent is there" || fail "restored endpoints were all sent" "$stray strays"
[ "$restored" -le "$((acked + 64))" ] && pass "at most a window (64) of unacknowledged attaches survived: $((restored - acked))" ||
    fail "unacknowledged attaches after the restart" "$restored restored for $acked acknowledged"
count=$(churn_py names "$SOCK1" burst /dev/stdout | wc -l)
[ "$count" = "$N" ] && pass "the first burst's $N attaches survived the kill too" || fail "first burst after the restart" "$count of $N"
ping_ok node1 c1 10.0.1.3 >/dev/null && pass "overlay: node1/c1 reaches node2/c1 after the restart" || fail "overlay after the restart" "no reply"
lab_stop_vxmesh node1 && pass "vxmesh: node1 exits 0 on SIGTERM" || fail "vxmesh: node1 exit" "status $?"
lab_stop_vxmesh node2 && pass "vxmesh: node2 exits 0 on SIGTERM" || fail "vxmesh: node2 exit" "status $?"
t_end
