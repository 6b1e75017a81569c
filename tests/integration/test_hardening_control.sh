#!/bin/bash
# Hostile clients, files and operators against the control thread's edges (issue 9),
# on two running vxmesh nodes whose containers keep pinging across the overlay:
#   1. bytes that are not UTF-8, a name cut inside a character, JSON and YAML nested
#      100,000 levels deep: error replies, vxmesh keeps serving (#1, #2);
#   2. SIGPIPE: a capture FIFO whose reader exits ends the capture with EPIPE, and a
#      vxmesh whose stdout reader exits still stops cleanly with its final stats (#3);
# Env: VXMESHCTL_BIN (default build/tools/vxmeshctl), VXMESH_BIN.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin hardening_control
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC"
lab_init "${LAB_PREFIX:-vxh$$-}" || fatal "lab: init" "lab_init failed"
# Private copies of both binaries, so that a rebuild during the run cannot break it.
cp "$VXMESH_BIN" "$LAB_DIR/vxmesh" || fatal "vxmesh: copy to $LAB_DIR" "cp failed"
VXMESH_BIN=$LAB_DIR/vxmesh
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $LAB_DIR" "cp failed"

topo_overlay || fatal "lab: topology" "topo_overlay failed"
RUN=$LAB_DIR/run
SOCK1=$RUN/node1.sock
SOCK2=$RUN/node2.sock
METRICS=127.0.0.1:9324
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" --metrics-listen "$METRICS" ||
    fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: start node2" "see log above"
PID1=$(lab_vxmesh_pid node1)
pass "vxmesh: node1 (pid $PID1) and node2 ready"

PYH=$LAB_DIR/hard.py
cat >"$PYH" <<'PYEOF'
import json, os, socket, sys, time

def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s

def readline(s):
    buf = b""
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("vxmesh closed the connection")
        buf += d
    return buf.split(b"\n", 1)[0]

def raw(path, line):
    """Send LINE (a Python bytes literal) and check the reply is one JSON object with ok
    false; print its error."""
    s = connect(path)
    s.sendall(eval(line) + b"\n")
    reply = readline(s)
    d = json.loads(reply.decode("utf-8"))  # strict: raises on invalid UTF-8
    s.close()
    if d.get("ok") is not False:
        print("unexpected reply: %r" % reply[:200]); return 1
    print(d["error"][:160])
    return 0

def call(path, req):
    s = connect(path)
    s.sendall((json.dumps(req) + "\n").encode())
    d = json.loads(readline(s))
    s.close()
    return d

def q(path, req, expr):
    d = call(path, json.loads(req))
    v = eval(expr)
    print(json.dumps(v) if isinstance(v, (dict, list)) else v)

def wait_capture_end(path, timeout):
    """Poll capture_status until no capture runs; print the last one."""
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        r = call(path, {"op": "capture_status"})["result"]
        if not r.get("running"):
            print(json.dumps(r.get("last")))
            return 0
        time.sleep(0.05)
    print("still running"); return 1

if __name__ == "__main__":
    sys.exit(globals()[sys.argv[1]](*sys.argv[2:]) or 0)
PYEOF
py() { "$LAB_PY" "$PYH" "$@"; }
alive1() { _lab_alive "$PID1"; }

# ---------------------------------------------------------------------------------
# 1. Bytes that are not UTF-8 and deep nesting (#1, #2).
for line in "b'\\xff'" "b'{\"op\": \"get\\xff\"}'" "b'{\"op\": \"version\", \"id\": \"\\xc3\"}'" \
    "b'[' * 100000 + b']' * 100000" "b'{\"op\": \"version\", \"id\": ' + b'[' * 100000 + b']' * 100000 + b'}'" \
    "b'{\"op\": \"version\", \"params\": ' + b'{\"a\":' * 100000 + b'1' + b'}' * 100000 + b'}'"; do
    if out=$(py raw "$SOCK1" "$line" 2>&1) && alive1; then
        pass "hostile line ${line:0:40}: error reply ($out)"
    else
        fail "hostile line ${line:0:40}" "$out; vxmesh alive: $(alive1 && echo yes || echo no)"
    fi
done
name="$(printf 'a%.0s' {1..47})é"
out=$("$CTL" --socket "$SOCK1" network create --driver overlay "$name" 2>&1)
if alive1 && [[ $out == *"is not a valid name"* ]] && printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null; then
    pass "network create with a 48-byte name ending in é: a clear error ($out)"
else
    fail "network create with a 48-byte name ending in é" "$out; vxmesh alive: $(alive1 && echo yes || echo no)"
fi
deep_yaml=$LAB_DIR/deep.yaml
{ cat "$LAB_DIR/node1.yaml"; printf 'services: '; head -c 100000 /dev/zero | tr '\0' '['; echo; } >"$deep_yaml"
out=$("$CTL" --socket "$SOCK1" apply -f "$deep_yaml" 2>&1)
if alive1 && [[ $out == *"nested deeper than 64 levels"* ]]; then
    pass "apply of YAML nested 100,000 levels deep: refused ($out)"
else
    fail "apply of YAML nested 100,000 levels deep" "$out"
fi
check "after hostile lines: vxmeshctl version answers" "$CTL" --socket "$SOCK1" version
check "after hostile lines: ping node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3

# ---------------------------------------------------------------------------------
# 2. SIGPIPE (#3): a capture FIFO whose reader exits.
FIFO=$LAB_DIR/cap.fifo
mkfifo "$FIFO"
lab_bg - "$LAB_DIR/fifo-reader.log" head -c 100 "$FIFO"
READER=$LAB_LAST_PID
lab_bg node1-c1 "$LAB_DIR/ping-fifo.log" ping -n -i 0.05 -c 400 10.0.1.3
PINGER=$LAB_LAST_PID
out=$(py q "$SOCK1" "{\"op\": \"capture_start\", \"params\": {\"port\": \"c1\", \"file\": \"$FIFO\"}}" 'd["ok"]' 2>&1)
[ "$out" = True ] || fail "capture to a FIFO with a reader: started" "$out"
out=$(py wait_capture_end "$SOCK1" 20 2>&1)
if alive1 && [[ $out == *"Broken pipe"* ]]; then
    pass "capture FIFO whose reader exits: the capture ends with EPIPE, vxmesh runs ($out)"
else
    fail "capture FIFO whose reader exits" "$out; vxmesh alive: $(alive1 && echo yes || echo no)"
fi
lab_kill "$READER"
lab_kill "$PINGER"
check "after EPIPE: ping node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3

# A vxmesh whose standard output is a pipe whose reader exits at once.
lab_stop_vxmesh node2 >/dev/null 2>&1
OUT=$LAB_DIR/stdout.fifo
mkfifo "$OUT"
lab_bg - "$LAB_DIR/stdout-reader.log" head -c 1 "$OUT"
rm -f "$LAB_DIR/node2.ready" "$LAB_DIR/node2.stats.json"
ip netns exec "$(lab_ns node2)" "$VXMESH_BIN" --config "$LAB_DIR/node2.yaml" --socket "$SOCK2" \
    --state "$LAB_DIR/node2.state.json" --ready-file "$LAB_DIR/node2.ready" \
    --stats-json "$LAB_DIR/node2.stats.json" >"$OUT" 2>"$LAB_DIR/node2.log" </dev/null &
PID2=$!
_lab_record_pid "$PID2"
echo "$PID2" >"$LAB_DIR/node2.pid"
if lab_wait_file "$LAB_DIR/node2.ready" "$LAB_READY_TIMEOUT" "$PID2"; then
    check "stdout reader gone: ping node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
    kill -TERM "$PID2"
    wait "$PID2"
    rc=$?
    if [ "$rc" = 0 ] && [ -s "$LAB_DIR/node2.stats.json" ]; then
        pass "stdout reader gone: vxmesh stops with status 0 and writes its final stats"
    else
        fail "stdout reader gone: clean stop" "status $rc, stats $(ls -la "$LAB_DIR/node2.stats.json" 2>&1); log: $(tail -n 3 "$LAB_DIR/node2.log" | tr '\n' '|')"
    fi
else
    wait "$PID2"
    fail "stdout reader gone: vxmesh ready" "status $?; log: $(tail -n 3 "$LAB_DIR/node2.log" | tr '\n' '|')"
fi
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: restart node2" "see log above"

lab_stop_vxmesh node1 >/dev/null 2>&1
lab_stop_vxmesh node2 >/dev/null 2>&1
t_end
