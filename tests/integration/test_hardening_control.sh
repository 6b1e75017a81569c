#!/bin/bash
# Hostile clients, files and operators against the control thread's edges (issue 9),
# on two running vxmesh nodes whose containers keep pinging across the overlay:
#   1. bytes that are not UTF-8, a name cut inside a character, JSON and YAML nested
#      100,000 levels deep: error replies, vxmesh keeps serving (#1, #2);
#   2. SIGPIPE: a capture FIFO whose reader exits ends the capture with EPIPE, and a
#      vxmesh whose stdout reader exits still stops cleanly with its final stats (#3);
#   3. clients: one pipelining 300,000 requests without reading keeps vxmesh's RSS
#      bounded while others are served; connections past the limit are refused with a
#      line; out of file descriptors (prlimit on the running process) the control thread
#      does not spin and serves again once descriptors are free (#14);
#   4. options checked before EAL: a file, directory or symlink at --socket is refused
#      and kept, a second vxmesh on a live socket or a taken metrics port exits before
#      any port is opened, a stale socket is replaced, a bad --metrics-listen port is a
#      usage error (#12); a socket directory writable by others or owned by another user
#      is refused (#13);
#   5. nothing slow blocks the control thread: 25 idle metrics connections a second,
#      a capture FIFO without a reader and one whose reader never reads, while node1
#      pings node2: the control socket answers within 1 s and the pings keep flowing (#7);
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
    # A Unix socket whose accept backlog is full answers EAGAIN at once, whatever the
    # timeout: retry as a client library would, for up to `timeout` seconds.
    deadline = time.time() + float(timeout)
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.time() >= deadline:
                raise
            time.sleep(0.01)

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

PYEOF
cat >>"$PYH" <<'PYEOF'

def rss_kb(pid):
    """Print the process's resident set in kB (the exit status is 0, or 1 if not found)."""
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            print(int(l.split()[1]))
            return 0
    return 1

def pipeline(path, n, seconds, out):
    """Send n stats requests on one connection without reading a reply, for at most
    `seconds`; write how many bytes went out, then hold the connection until killed."""
    s = connect(path, 0.2)
    data = b'{"op": "stats"}\n' * int(n)
    sent, t0 = 0, time.time()
    while sent < len(data) and time.time() - t0 < float(seconds):
        try:
            sent += s.send(data[sent:sent + 65536])
        except socket.timeout:
            pass
    open(out, "w").write("%d requests sent\n" % (sent // 16))
    time.sleep(600)

def many(path, n, out):
    """Open n connections at once; count those refused with a line, then check that one
    accepted connection is served; hold them until killed."""
    conns, refused = [], []
    for i in range(int(n)):
        conns.append(connect(path, 5))
    time.sleep(0.5)
    for s in conns:
        s.setblocking(False)
        try:
            d = s.recv(4096)
            if d:
                refused.append(json.loads(d.split(b"\n")[0])["error"])
        except BlockingIOError:
            pass
    s = conns[0]
    s.setblocking(True)
    s.sendall(b'{"op": "version"}\n')
    ok = json.loads(readline(s)).get("ok")
    open(out, "w").write(json.dumps({"refused": len(refused), "errors": sorted(set(refused)),
                                     "first_served": ok}) + "\n")
    time.sleep(600)

def hold(path, n, out):
    """Open n connections (some may fail or be refused); hold them until killed."""
    conns, failed = [], 0
    for i in range(int(n)):
        try:
            conns.append(connect(path, 2))
        except OSError:
            failed += 1
    open(out, "w").write("%d open, %d failed\n" % (len(conns), failed))
    time.sleep(600)

def cpu_ticks(pid):
    """utime + stime of the thread PID (the main thread is the control thread)."""
    f = open("/proc/%s/task/%s/stat" % (pid, pid)).read().rsplit(")", 1)[1].split()
    print(int(f[11]) + int(f[12]))

def timed(path, req, limit):
    """One request; fail when the reply takes longer than `limit` seconds."""
    t0 = time.time()
    d = call(path, json.loads(req))
    dt = time.time() - t0
    print("%.3f s" % dt)
    return 0 if d.get("ok") and dt < float(limit) else 1

def metrics_flood(addr, per_second, seconds, out):
    """Open per_second idle TCP connections a second to ADDR:PORT, never sending."""
    host, port = addr.rsplit(":", 1)
    conns, opened, failed = [], 0, 0
    t0 = time.time()
    while time.time() - t0 < float(seconds):
        for i in range(int(per_second)):
            try:
                c = socket.create_connection((host, int(port)), timeout=1)
                conns.append(c); opened += 1
            except OSError:
                failed += 1
        time.sleep(1)
    open(out, "w").write("%d opened, %d failed\n" % (opened, failed))

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
# The reader takes more than the pcapng header (a few hundred bytes), then goes away
# while packets are being written: the capture must start, then end with EPIPE.
lab_bg - "$LAB_DIR/fifo-reader.log" head -c 3000 "$FIFO"
READER=$LAB_LAST_PID
lab_bg node1-c1 "$LAB_DIR/ping-fifo.log" ping -n -i 0.05 -c 400 10.0.1.3
PINGER=$LAB_LAST_PID
# The reader opens the FIFO in its own time: until then the capture is refused (no reader).
# Slow machines: up to 20 s for the reader, and the reply's error is kept for the log.
seen=""
for ((i = 0; i < 200; i++)); do
    out=$(py q "$SOCK1" "{\"op\": \"capture_start\", \"params\": {\"port\": \"c1\", \"file\": \"$FIFO\"}}" 'd["ok"] or d.get("error")' 2>&1)
    [ "$out" = True ] && break
    [[ $seen == *"$out"* ]] || seen+="[$(date +%T.%N | cut -c1-12) after $i tries] $out | "
    sleep 0.1
done
# Every distinct answer is kept: a failure says what came first, not only the last reply.
[ "$out" = True ] || fail "capture to a FIFO with a reader: started" "$seen reader alive: $(_lab_alive "$READER" && echo yes || echo no)"
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

# ---------------------------------------------------------------------------------
# 3. Unbounded clients (#14).
wait_line() { # FILE TIMEOUT: wait until FILE is non-empty
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}
rss0=$(py rss_kb "$PID1") || fail "pipelining client: RSS readable" "no VmRSS for $PID1"
lab_bg - "$LAB_DIR/pipeline.log" "$LAB_PY" "$PYH" pipeline "$SOCK1" 300000 8 "$LAB_DIR/pipeline.out"
PIPER=$LAB_LAST_PID
wait_line "$LAB_DIR/pipeline.out" 30
out=$(py timed "$SOCK1" '{"op": "stats"}' 1 2>&1) && pass "pipelining client that never reads: another client is answered in $out" ||
    fail "pipelining client: another client answered within 1 s" "$out"
rss1=$(py rss_kb "$PID1") || fail "pipelining client: RSS readable" "no VmRSS for $PID1"
if alive1 && [ "${rss0:-0}" -gt 0 ] && [ $((rss1 - rss0)) -lt 65536 ]; then
    pass "pipelining client ($(cat "$LAB_DIR/pipeline.out")): RSS ${rss0} -> ${rss1} kB (< 64 MiB more)"
else
    fail "pipelining client: RSS bounded" "RSS ${rss0} -> ${rss1} kB, $(cat "$LAB_DIR/pipeline.out" 2>/dev/null)"
fi
lab_kill "$PIPER"

lab_bg - "$LAB_DIR/many.log" "$LAB_PY" "$PYH" many "$SOCK1" 100 "$LAB_DIR/many.out"
MANY=$LAB_LAST_PID
wait_line "$LAB_DIR/many.out" 30
out=$(cat "$LAB_DIR/many.out" 2>/dev/null)
if [[ $out == *'"refused": 36,'* && $out == *"too many clients (at most 64)"* && $out == *'"first_served": true'* ]]; then
    pass "100 connections: 36 past the limit of 64 refused with a line, the others served ($out)"
else
    fail "100 connections: refused past the limit" "$out $(tail -n 3 "$LAB_DIR/many.log")"
fi
lab_kill "$MANY"
check "after 100 connections: vxmeshctl stats" "$CTL" --socket "$SOCK1" stats

# Out of file descriptors: the running vxmesh's limit lowered to what it uses + 4.
nofile=$(prlimit --pid "$PID1" --nofile --output SOFT,HARD --noheadings | awk '{print $1":"$2}')
used=$(ls "/proc/$PID1/fd" | wc -l)
prlimit --pid "$PID1" --nofile=$((used + 4)):"${nofile#*:}"
lab_bg - "$LAB_DIR/hold.log" "$LAB_PY" "$PYH" hold "$SOCK1" 40 "$LAB_DIR/hold.out"
HOLD=$LAB_LAST_PID
wait_line "$LAB_DIR/hold.out" 30
t0=$(py cpu_ticks "$PID1")
sleep 3
t1=$(py cpu_ticks "$PID1")
if [ $((t1 - t0)) -lt 90 ]; then
    pass "out of file descriptors ($(cat "$LAB_DIR/hold.out")): control thread used $((t1 - t0)) ticks in 3 s (no spin)"
else
    fail "out of file descriptors: no spin" "control thread used $((t1 - t0)) ticks in 3 s"
fi
lab_kill "$HOLD"
out=$(py timed "$SOCK1" '{"op": "stats"}' 2 2>&1) && alive1 && pass "descriptors free again: served ($out)" ||
    fail "descriptors free again: served" "$out"
prlimit --pid "$PID1" --nofile="$nofile"
# Out of descriptors is not the same as interfaces gone (dataplane/port_watch.cpp keeps
# its socket): no port may have been taken down meanwhile.
if grep -q "interface is gone" "$LAB_DIR/node1.log"; then
    fail "out of file descriptors: ports stay up" "$(grep -m2 'interface is gone' "$LAB_DIR/node1.log" | tr '\n' '|')"
else
    pass "out of file descriptors: no port taken for gone"
fi
grep -q "out of file descriptors\|Too many open files" "$LAB_DIR/node1.log" &&
    pass "the shortage is in vxmesh's log" || fail "the shortage is in vxmesh's log" "$(tail -n 3 "$LAB_DIR/node1.log")"

# ---------------------------------------------------------------------------------
# 4. Options checked before EAL and ports (#12), the socket's directory (#13).
# refused NAME WANT_STATUS WANT_TEXT VXMESH_ARGS...: vxmesh (node1's config, in node1's
# namespace) must exit WANT_STATUS saying WANT_TEXT, before EAL prints anything.
refused() {
    local name=$1 want=$2 text=$3 out rc state=(--state "$LAB_DIR/second.state.json") a; shift 3
    for a in "$@"; do [ "$a" = --state ] && state=(); done
    out=$(timeout 30 ip netns exec "$(lab_ns node1)" "$VXMESH_BIN" --config "$LAB_DIR/node1.yaml" \
        "${state[@]}" "$@" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" = "$want" ] && [[ $out == *"$text"* ]] && [[ $out != *EAL* && $out != *TELEMETRY* ]]; then
        pass "$name: exit $rc before EAL ($(printf '%s' "$out" | head -n 1))"
    else
        fail "$name" "exit $rc (want $want), want '$text' and no EAL line: $(printf '%s' "$out" | head -n 3 | tr '\n' '|')"
    fi
}
refused "a second vxmesh on a live socket" 1 "another process is serving it" --socket "$SOCK1"
check "the first vxmesh still serves its socket" "$CTL" --socket "$SOCK1" version
echo keep >"$LAB_DIR/regular"
refused "--socket at a regular file" 1 "is a regular file" --socket "$LAB_DIR/regular"
[ "$(cat "$LAB_DIR/regular")" = keep ] && pass "--socket at a regular file: the file is kept" || fail "--socket at a regular file: kept" "gone or changed"
mkdir -p "$LAB_DIR/adir"
refused "--socket at a directory" 1 "is a directory" --socket "$LAB_DIR/adir"
ln -sf "$LAB_DIR/regular" "$LAB_DIR/alink"
refused "--socket at a symlink" 1 "is a symbolic link" --socket "$LAB_DIR/alink"
[ -L "$LAB_DIR/alink" ] && pass "--socket at a symlink: the link is kept" || fail "--socket at a symlink: kept" "gone"
refused "--metrics-listen 127.0.0.1:9400x" 2 "the port must be a number" --socket none --metrics-listen 127.0.0.1:9400x
refused "--metrics-listen 127.0.0.1:0" 2 "the port must be a number" --socket none --metrics-listen 127.0.0.1:0
refused "--metrics-listen 10.0.0.1:9400" 2 "only loopback" --socket none --metrics-listen 10.0.0.1:9400
refused "--metrics-listen on a taken port" 1 "Address already in use" --socket none --metrics-listen "$METRICS"
refused "--state at a directory" 1 "is a directory" --socket none --state "$LAB_DIR/adir"
mkdir -m 0777 "$LAB_DIR/open"
chmod 0777 "$LAB_DIR/open"
refused "socket directory writable by others" 1 "is writable by others (mode 0777)" --socket "$LAB_DIR/open/x.sock"
mkdir -m 0700 "$LAB_DIR/theirs"
chown 65534 "$LAB_DIR/theirs"
refused "socket directory of another user" 1 "belongs to uid 65534" --socket "$LAB_DIR/theirs/x.sock"
# A stale socket (its server gone) is replaced.
lab_stop_vxmesh node2 >/dev/null 2>&1
"$LAB_PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK2"
[ -S "$SOCK2" ] || fail "test bug: no stale socket" "$SOCK2"
if lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2"; then
    check "a stale socket is replaced: node2 serves it" "$CTL" --socket "$SOCK2" version
else
    fatal "a stale socket is replaced" "node2 did not start"
fi

# ---------------------------------------------------------------------------------
# 5. Nothing slow blocks the control thread (#7).
# 100 packets/s of 1.4 kB: the stalled FIFO (64 KiB) fills within a second.
lab_bg node1-c1 "$LAB_DIR/ping-slow.log" ping -n -i 0.01 -s 1400 -c 1200 -W 1 10.0.1.3
PINGER=$LAB_LAST_PID
lab_bg node1 "$LAB_DIR/flood.log" "$LAB_PY" "$PYH" metrics_flood "$METRICS" 25 10 "$LAB_DIR/flood.out"
FLOOD=$LAB_LAST_PID
NOREADER=$LAB_DIR/noreader.fifo
mkfifo "$NOREADER"
out=$(timeout 5 "$LAB_PY" "$PYH" timed "$SOCK1" "{\"op\": \"capture_start\", \"params\": {\"port\": \"c1\", \"file\": \"$NOREADER\"}}" 1 2>&1)
r=$(py q "$SOCK1" "{\"op\": \"capture_start\", \"params\": {\"port\": \"c1\", \"file\": \"$NOREADER\"}}" 'd.get("error")' 2>&1)
[[ $r == *"a FIFO with no reader"* ]] && pass "capture to a FIFO without a reader: refused at once ($r)" ||
    fail "capture to a FIFO without a reader: refused at once" "$out / $r"
SLOW=$LAB_DIR/slow.fifo
mkfifo "$SLOW"
lab_bg - "$LAB_DIR/slow-reader.log" bash -c 'exec 3<"$1"; sleep 600' _ "$SLOW"
SLOWREADER=$LAB_LAST_PID
for ((i = 0; i < 50; i++)); do
    r=$(py q "$SOCK1" "{\"op\": \"capture_start\", \"params\": {\"port\": \"c1\", \"file\": \"$SLOW\"}}" 'd["ok"]' 2>&1)
    [ "$r" = True ] && break
    sleep 0.1
done
[ "$r" = True ] && pass "capture to a FIFO whose reader never reads: started" || fail "capture to a slow FIFO: started" "$r"
worst=0 slow=0
for ((i = 0; i < 8; i++)); do
    out=$(py timed "$SOCK1" '{"op": "stats"}' 1 2>&1) || slow=$((slow + 1))
    ms=$(awk '{printf "%d", $1 * 1000}' <<<"$out")
    [ "${ms:-9999}" -gt "$worst" ] && worst=${ms:-9999}
    sleep 1
done
[ "$slow" = 0 ] && pass "during the metrics flood and the stalled capture: stats answered within 1 s (worst $worst ms)" ||
    fail "during the flood: stats within 1 s" "$slow of 8 slower, worst $worst ms"
wait "$PINGER" 2>/dev/null
loss=$(grep -o '[0-9.]*% packet loss' "$LAB_DIR/ping-slow.log" | cut -d% -f1)
if [ -n "$loss" ] && awk -v l="$loss" 'BEGIN{exit !(l <= 5)}'; then
    pass "pings across the overlay kept flowing during it ($loss% loss; flood: $(cat "$LAB_DIR/flood.out" 2>/dev/null))"
else
    fail "pings kept flowing during the flood" "$(tail -n 2 "$LAB_DIR/ping-slow.log" | tr '\n' '|')"
fi
r=$(py q "$SOCK1" '{"op": "capture_stop"}' 'd["result"]["last"]' 2>&1)
[[ $r == *'"lost": '[1-9]* ]] && pass "the stalled FIFO capture counted its lost copies ($r)" ||
    fail "the stalled FIFO capture counted lost copies" "$r"
lab_kill "$SLOWREADER"
lab_kill "$FLOOD"
out=$(lab_exec node1 /usr/bin/python3 -c 'import urllib.request as u; print(u.urlopen("http://'"$METRICS"'/metrics", timeout=5).status)' 2>&1)
[ "$out" = 200 ] && pass "after the flood: GET /metrics answers 200" || fail "after the flood: GET /metrics" "$out"

lab_stop_vxmesh node1 >/dev/null 2>&1
lab_stop_vxmesh node2 >/dev/null 2>&1
t_end
