#!/bin/bash
# The control socket and vxmeshctl against two running vxmesh nodes:
#   1. 1,000 patch requests on one connection to node1 (endpoints and peers added,
#      updated and removed, none of them on the path under test) while a UDP stream
#      with sequence numbers (1 packet/ms) and a paced TCP transfer cross the overlay:
#      no UDP datagram lost or reordered, TCP sha256 intact, every reply ok, and the
#      generation advanced by exactly the number of accepted updates;
#   2. rejected updates (YAML syntax error, duplicate IP, overlapping subnet, unknown
#      network, a patch whose second operation is bad) report a message and a path,
#      leave the generation and the desired state as they were, and do not disturb a
#      UDP stream running meanwhile;
#   3. vxmeshctl end to end: version, get, apply/diff, network ls/inspect/rm,
#      peer add/rm, node ls/add/rm, endpoint attach/detach, stats (table, --format json,
#      --prometheus);
#   4. SIGHUP reloads the --config file (polling get for the new generation), and a
#      broken file is rejected without changing the generation or stopping traffic;
#   5. the socket is 0600, another uid cannot use it (file mode, and the SO_PEERCRED
#      check when the file mode is opened up), and garbage, half-sent requests and
#      abrupt disconnects do not take the server down or block other clients; a
#      complete request followed by shutdown(SHUT_WR) is still answered.
# Env: CONTROL_UPDATES (default 1000), VXMESHCTL_BIN (default build/tools/vxmeshctl).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin control
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC (build with ninja -C build, or set VXMESHCTL_BIN)"
UPDATES=${CONTROL_UPDATES:-1000}
T_START=$(date +%s)
lab_init "${LAB_PREFIX:-vxc$$-}" || fatal "lab: init" "lab_init failed"

topo_overlay || fatal "lab: topology" "topo_overlay failed"
RUN=$LAB_DIR/run
SOCK1=$RUN/node1.sock
SOCK2=$RUN/node2.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" --metrics-listen 127.0.0.1:9323 || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: start node2" "see log above"
PID1=$(lab_vxmesh_pid node1)
# A private copy of vxmeshctl, so that a rebuild during the run cannot break it (the
# other-uid checks use $CTL_SRC, which that uid can execute).
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $CTL" "cp failed"
pass "vxmesh: node1 (pid $PID1) and node2 ready with control sockets in $RUN"
[ -S "$SOCK1" ] || fatal "control socket: $SOCK1 exists" "$(ls -la "$RUN" 2>&1 | tr '\n' '|')"

# ---------------------------------------------------------------------------------
# Python helper (plain sockets, /usr/bin/python3): RPC client, update churn, misuse
# of the socket, UDP sequence stream, paced TCP sender.
PYH=$LAB_DIR/vxc.py
cat >"$PYH" <<'PYEOF'
import hashlib, json, os, socket, struct, sys, time

def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s

class Lines:
    def __init__(self, s):
        self.s, self.buf = s, b""
    def readline(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("vxmesh closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

def rpc(path, request):
    """One request line, one reply line (printed)."""
    s = connect(path)
    s.sendall(request.encode() + b"\n")
    print(Lines(s).readline())
    s.close()

def query(path, request, expr):
    """One request; print eval(expr) over the reply (bound to d)."""
    s = connect(path)
    s.sendall(request.encode() + b"\n")
    d = json.loads(Lines(s).readline())
    s.close()
    v = eval(expr)
    print(json.dumps(v) if isinstance(v, (dict, list)) else v)

def first_line(path):
    """Connect and print the first line the server sends without being asked (used
    as another uid: the server's refusal)."""
    s = connect(path, 10)
    try:
        print(Lines(s).readline())
    except (OSError, EOFError) as e:
        print("no line: %s" % e)

def churn(path, n, out):
    """n patch requests over ONE connection, each reply read before the next request.
    Cycle of 5: add peer xp<c>, add endpoint u<c> (behind node2 or behind xp<c>),
    update u<c>'s IP, remove u<c>, remove xp<c>. Nothing touches 10.0.1.2/10.0.1.3."""
    s = connect(path)
    rd = Lines(s)
    ok = failed = 0
    gens, errors = [], []
    t0 = time.time()
    for i in range(n):
        c, k = divmod(i, 5)
        peer, ep = "xp%d" % c, "u%d" % c
        base = 100 + (c % 75) * 2            # 10.0.1.100 .. 10.0.1.249
        if k == 0:
            op = {"op": "add", "kind": "peer",
                  "object": {"name": peer, "address": "10.99.0.%d" % (50 + c % 150)}}
        elif k == 1:
            op = {"op": "add", "kind": "endpoint",
                  "object": {"name": ep, "network": "blue", "ip": "10.0.1.%d" % base,
                             "node": "node2" if c % 2 == 0 else peer}}
        elif k == 2:
            op = {"op": "update", "kind": "endpoint", "object": {"name": ep, "ip": "10.0.1.%d" % (base + 1)}}
        elif k == 3:
            op = {"op": "remove", "kind": "endpoint", "name": ep}
        else:
            op = {"op": "remove", "kind": "peer", "name": peer}
        s.sendall((json.dumps({"op": "patch", "id": i, "params": {"ops": [op]}}) + "\n").encode())
        r = json.loads(rd.readline())
        if r.get("ok") and r.get("id") == i:
            ok += 1
            gens.append(r["result"]["generation"])
        else:
            failed += 1
            if len(errors) < 5:
                errors.append({"i": i, "op": op, "reply": r})
    t1 = time.time()
    s.close()
    # each accepted update must have produced exactly one new generation
    steps_ok = all(b == a + 1 for a, b in zip(gens, gens[1:]))
    res = {"sent": n, "ok": ok, "failed": failed, "errors": errors, "seconds": round(t1 - t0, 3),
           "first_gen": gens[0] if gens else None, "last_gen": gens[-1] if gens else None,
           "gens_consecutive": steps_ok, "t0": t0, "t1": t1}
    json.dump(res, open(out, "w"))

def misuse(path):
    """Garbage, a half-sent request, abrupt disconnects; the server must keep serving.
    Prints one JSON object of findings."""
    f = {}
    # 1. half-sent request, then close
    s = connect(path); s.sendall(b'{"op": "ver'); s.close()
    # 2. request sent, connection closed before the reply is read
    s = connect(path); s.sendall(b'{"op": "get"}\n'); s.close()
    # 3. many requests pipelined, then an abrupt close (unread replies)
    s = connect(path); s.sendall(b'{"op": "get"}\n' * 200); s.close()
    # 4. not JSON, then a valid request on the same connection
    s = connect(path, 10); rd = Lines(s)
    s.sendall(b'this is not json\n')
    r = json.loads(rd.readline()); f["garbage_ok"] = r.get("ok"); f["garbage_error"] = r.get("error", "")
    s.sendall(b'{"op": "nosuchop"}\n')
    r = json.loads(rd.readline()); f["unknown_op_ok"] = r.get("ok"); f["unknown_op_path"] = r.get("path")
    s.sendall(b'{"op": "version", "id": "after-garbage"}\n')
    r = json.loads(rd.readline()); f["after_garbage"] = bool(r.get("ok")) and r.get("id") == "after-garbage"
    s.close()
    # 5. a client holding half a line must not block another client; finishing its
    #    line later gets it an answer
    a = connect(path, 10); a.sendall(b'{"op": "version", "id": "sl')
    b = connect(path, 5); rb = Lines(b)
    t = time.time(); b.sendall(b'{"op": "version", "id": "b"}\n')
    r = json.loads(rb.readline()); f["other_client_ok"] = bool(r.get("ok")) and r.get("id") == "b"
    f["other_client_ms"] = round((time.time() - t) * 1000, 1)
    b.close()
    a.sendall(b'ow"}\n')
    r = json.loads(Lines(a).readline()); f["slow_client_ok"] = bool(r.get("ok")) and r.get("id") == "slow"
    a.sendall(b'{"op": "ge')   # and leave with half a line again
    a.close()
    # 6. connect and close without sending anything
    connect(path).close()
    # 7. a line longer than the server's limit (16 MiB) without a newline: an error
    #    reply, then the server hangs up
    s = connect(path, 20)
    try:
        chunk = b"x" * (1 << 20)
        for _ in range(17):
            s.sendall(chunk)
    except OSError:
        pass   # the server may have hung up already
    try:
        f["oversize_reply"] = Lines(s).readline()
    except (OSError, EOFError) as e:
        f["oversize_reply"] = "no reply: %s" % e
    s.close()
    # 8. a complete request followed by shutdown(SHUT_WR) -- what
    #    `echo REQ | socat - UNIX-CONNECT:SOCK` and `nc -N -U SOCK` do -- must still be
    #    answered. Another client keeps the server busy so that the request and the
    #    end-of-file are read in one go.
    unanswered = 0
    for _ in range(5):
        a = connect(path, 10); b = connect(path, 10)
        time.sleep(0.05)
        a.sendall(b'{"op": "get"}\n' * 1000)
        b.sendall(b'{"op": "version"}\n'); b.shutdown(socket.SHUT_WR)
        got = b""
        try:
            while True:
                d = b.recv(65536)
                if not d:
                    break
                got += d
        except OSError:
            pass
        if b'"ok":true' not in got:
            unanswered += 1
        a.close(); b.close()
    f["half_close_unanswered"] = unanswered
    # 9. after all that: a fresh, normal request
    s = connect(path, 10); s.sendall(b'{"op": "version"}\n')
    r = json.loads(Lines(s).readline()); f["final_ok"] = bool(r.get("ok")); s.close()
    print(json.dumps(f))

def udp_recv(port, ready, out, max_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", int(port)))
    open(ready, "w").close()
    seen, order = set(), []
    dups = reordered = 0
    top = -1
    sent = None
    deadline = time.time() + float(max_s)
    s.settimeout(1.0)
    while time.time() < deadline:
        try:
            d = s.recv(2048)
        except socket.timeout:
            continue
        if d[:3] == b"END":
            sent = struct.unpack("!Q", d[3:11])[0]
            s.settimeout(0.3)   # drain anything still in flight (there should be none)
            deadline = min(deadline, time.time() + 1.0)
            continue
        q = struct.unpack("!Q", d[:8])[0]
        if q in seen:
            dups += 1
            continue
        seen.add(q)
        if q < top:
            reordered += 1
        top = max(top, q)
    expected = sent if sent is not None else top + 1
    missing = [q for q in range(expected) if q not in seen]
    json.dump({"sent": sent, "received": len(seen), "max_seq": top, "lost": len(missing),
               "missing_first": missing[:10], "reordered": reordered, "duplicates": dups}, open(out, "w"))

def udp_send(dst, port, stop, out, max_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"v" * 56
    seq = 0
    t0 = time.time()
    nxt = t0
    end = t0 + float(max_s)
    while True:
        now = time.time()
        if seq % 50 == 0 and (os.path.exists(stop) or now > end):
            break
        if nxt > now:
            time.sleep(nxt - now)
        s.sendto(struct.pack("!Q", seq) + pad, (dst, int(port)))
        seq += 1
        nxt += 0.001
        if nxt < time.time() - 0.05:   # fell far behind (CPU starved): do not burst
            nxt = time.time()
    t1 = time.time()
    for _ in range(5):
        time.sleep(0.02)
        s.sendto(b"END" + struct.pack("!Q", seq), (dst, int(port)))
    json.dump({"sent": seq, "t0": t0, "t1": t1}, open(out, "w"))

def tcp_send(dst, port, stop, out, rate, min_bytes, max_s):
    rate, min_bytes = int(rate), int(min_bytes)
    s = socket.create_connection((dst, int(port)), timeout=30)
    h = hashlib.sha256()
    total = 0
    t0 = time.time()
    end = t0 + float(max_s)
    chunk = 32768
    while True:
        if total >= min_bytes and (os.path.exists(stop) or time.time() > end):
            break
        d = os.urandom(chunk)
        s.sendall(d)
        h.update(d)
        total += len(d)
        ahead = t0 + total / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
    t1 = time.time()
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):   # the receiver closes once it has everything
        pass
    s.close()
    json.dump({"bytes": total, "sha256": h.hexdigest(), "t0": t0, "t1": t1}, open(out, "w"))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"rpc": rpc, "q": query, "first-line": first_line, "churn": lambda p, n, o: churn(p, int(n), o), "misuse": misuse,
     "udp-recv": udp_recv, "udp-send": udp_send, "tcp-send": tcp_send}[cmd](*args)
PYEOF

# rpc SOCK JSON: the raw reply line.
rpc() { timeout 30 "$LAB_PY" "$PYH" rpc "$1" "$2"; }
# jf EXPR: evaluate a Python expression over the JSON on stdin (bound to d).
jf() { "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"; }
# q SOCK REQUEST EXPR: EXPR evaluated over the reply (one process, not two).
q() { timeout 30 "$LAB_PY" "$PYH" q "$1" "$2" "$3"; }
gen_of() { q "$1" '{"op":"get"}' 'd["result"]["generation"]'; }
# has_obj SOCK KIND NAME: the desired state holds an object of that kind and name.
has_obj() { q "$1" '{"op":"get"}' "any(x['name'] == '$3' for x in d['result']['desired']['$2s'])"; }
vlog() { tail -n 3 "$LAB_DIR/node1.log" | tr '\n' '|'; }
alive1() { _lab_alive "$PID1"; }

# wait_pid PID TIMEOUT: poll until PID has exited (then reap it); 1 on timeout.
wait_pid() {
    local pid=$1 t=$2 i
    for ((i = 0; i < t * 10; i++)); do
        _lab_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    return 1
}

# udp_start TAG: receiver in node2/c1 (10.0.1.3:6000), sender in node1/c1, 1 packet/ms
# until $LAB_DIR/TAG.stop exists. udp_stop TAG: stop the sender, collect the result.
udp_start() {
    local tag=$1
    rm -f "$LAB_DIR/$tag".*
    lab_bg node2-c1 "$LAB_DIR/$tag.recv.log" "$LAB_PY" "$PYH" udp-recv 6000 \
        "$LAB_DIR/$tag.ready" "$LAB_DIR/$tag.recv.json" 300
    UDP_RPID=$LAB_LAST_PID
    lab_wait_file "$LAB_DIR/$tag.ready" 10 "$UDP_RPID" || return 1
    lab_bg node1-c1 "$LAB_DIR/$tag.send.log" "$LAB_PY" "$PYH" udp-send 10.0.1.3 6000 \
        "$LAB_DIR/$tag.stop" "$LAB_DIR/$tag.send.json" 240
    UDP_SPID=$LAB_LAST_PID
}
udp_stop() {
    local tag=$1
    touch "$LAB_DIR/$tag.stop"
    wait_pid "$UDP_SPID" 20 || { lab_kill "$UDP_SPID"; echo "udp sender did not stop"; }
    wait_pid "$UDP_RPID" 20 || { lab_kill "$UDP_RPID"; echo "udp receiver did not stop"; }
}
# udp_check NAME TAG: PASS when every datagram arrived, in order, exactly once.
udp_check() {
    local name=$1 tag=$2 r s
    r=$(cat "$LAB_DIR/$tag.recv.json" 2>/dev/null)
    s=$(cat "$LAB_DIR/$tag.send.json" 2>/dev/null)
    if [ -z "$r" ] || [ -z "$s" ]; then
        fail "$name" "no result: receiver '$r' sender '$s' $(tail -n 2 "$LAB_DIR/$tag".*.log 2>/dev/null | tr '\n' '|')"
        return 1
    fi
    local sent rsent recv lost reord dups
    sent=$(jf 'd["sent"]' <<<"$s")
    read -r rsent recv lost reord dups < <(jf '" ".join(str(d[k]) for k in ("sent", "received", "lost", "reordered", "duplicates"))' <<<"$r")
    if [ "$sent" -gt 0 ] && [ "$rsent" = "$sent" ] && [ "$recv" = "$sent" ] && [ "$lost" = 0 ] &&
        [ "$reord" = 0 ] && [ "$dups" = 0 ]; then
        pass "$name ($sent datagrams, 0 lost, 0 reordered)"
    else
        fail "$name" "sender sent $sent; receiver: $r"
    fi
}

# ---------------------------------------------------------------------------------
# Baseline.
check "baseline: ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
check "baseline: ping red node2/c2 -> node1/c2" ping_ok node2 c2 10.0.2.2
v=$(rpc "$SOCK1" '{"op":"version","id":7}')
if [ "$(jf 'd["ok"] and d["id"] == 7 and bool(d["result"]["version"])' <<<"$v")" = True ]; then pass "rpc: version reply carries ok, id and version ($(jf 'd["result"]["version"]' <<<"$v"))"
else fail "rpc: version reply" "'$v'"; fi

# ---------------------------------------------------------------------------------
echo "--- 1. $UPDATES updates through the socket under continuous traffic"
G0=$(gen_of "$SOCK1")
G0_2=$(gen_of "$SOCK2")
udp_start churn || fatal "churn: UDP receiver ready" "$(cat "$LAB_DIR/churn.recv.log" 2>/dev/null)"
lab_bg node1-c1 "$LAB_DIR/churn.tcp.listen.log" timeout 300 socat -u TCP-LISTEN:5001,reuseaddr "CREATE:$LAB_DIR/churn.tcp.out"
TCP_LPID=$LAB_LAST_PID
lab_wait_listen node1-c1 5001 10 || fatal "churn: TCP listener" "$(cat "$LAB_DIR/churn.tcp.listen.log")"
# TCP in the other direction (node2 -> node1, into the node being reconfigured),
# paced at 4 MB/s so that it lasts as long as the updates, at least 8 MB.
lab_bg node2-c1 "$LAB_DIR/churn.tcp.send.log" "$LAB_PY" "$PYH" tcp-send 10.0.1.2 5001 \
    "$LAB_DIR/churn.stop" "$LAB_DIR/churn.tcp.send.json" $((4 * 1024 * 1024)) $((8 * 1024 * 1024)) 240
TCP_SPID=$LAB_LAST_PID
sleep 0.5   # let both flows get going before the first update (not a synchronisation)
timeout 600 "$LAB_PY" "$PYH" churn "$SOCK1" "$UPDATES" "$LAB_DIR/churn.json" >"$LAB_DIR/churn.log" 2>&1
churn_rc=$?
sleep 0.5   # and keep them going a little after the last one
udp_stop churn
wait_pid "$TCP_SPID" 120 || { lab_kill "$TCP_SPID"; echo "tcp sender did not finish"; }
wait_pid "$TCP_LPID" 30 || lab_kill "$TCP_LPID"
G1=$(gen_of "$SOCK1")

if [ "$churn_rc" = 0 ] && [ -s "$LAB_DIR/churn.json" ]; then
    C=$(cat "$LAB_DIR/churn.json")
    read -r c_ok c_failed c_secs c_consec < <(jf '" ".join(str(d[k]) for k in ("ok", "failed", "seconds", "gens_consecutive"))' <<<"$C")
    echo "churn: $UPDATES requests in ${c_secs}s over one connection ($c_ok ok, $c_failed failed); generation $G0 -> $G1"
    if [ "$c_ok" = "$UPDATES" ] && [ "$c_failed" = 0 ]; then pass "churn: all $UPDATES replies ok"
    else fail "churn: all $UPDATES replies ok" "$c_ok ok, $c_failed failed; first errors: $(jf 'd["errors"]' <<<"$C")"; fi
    if [ "$((G1 - G0))" = "$c_ok" ]; then pass "churn: generation advanced by exactly the $c_ok accepted updates ($G0 -> $G1)"
    else fail "churn: generation advanced by exactly the accepted updates" "$G0 -> $G1 (+$((G1 - G0))), $c_ok accepted"; fi
    if [ "$c_consec" = True ] && [ "$(jf 'd["first_gen"]' <<<"$C")" = "$((G0 + 1))" ]; then pass "churn: each reply's generation is the previous one + 1"
    else fail "churn: each reply's generation is the previous one + 1" "first $(jf 'd["first_gen"]' <<<"$C"), consecutive $c_consec"; fi
else
    fail "churn: $UPDATES patch requests over one connection" "exit $churn_rc: $(tail -n 5 "$LAB_DIR/churn.log" | tr '\n' '|')"
fi
G1_2=$(gen_of "$SOCK2")
[ "$G1_2" = "$G0_2" ] && pass "churn: node2's generation untouched ($G1_2)" || fail "churn: node2's generation untouched" "$G0_2 -> $G1_2"
# Everything the churn added was removed again.
left=$(rpc "$SOCK1" '{"op":"get"}' | jf '[x["name"] for k in ("peers", "endpoints") for x in d["result"]["desired"][k] if x["name"][:1] in ("u", "x")]')
[ "$left" = "[]" ] && pass "churn: no churn object left in the desired state" || fail "churn: no churn object left" "$left"

udp_check "churn: UDP stream node1/c1 -> node2/c1 during the updates" churn
if [ -s "$LAB_DIR/churn.send.json" ] && [ -s "$LAB_DIR/churn.json" ]; then
    # The stream must have covered the whole update window.
    cov=$("$LAB_PY" -c 'import json, sys
s = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
print(s["t0"] < c["t0"] and s["t1"] > c["t1"])' "$LAB_DIR/churn.send.json" "$LAB_DIR/churn.json" 2>/dev/null)
    [ "$cov" = True ] && pass "churn: the UDP stream spanned the whole update window" || fail "churn: the UDP stream spanned the whole update window" "sender/churn times do not nest"
fi
if [ -s "$LAB_DIR/churn.tcp.send.json" ]; then
    T=$(cat "$LAB_DIR/churn.tcp.send.json")
    tb=$(jf 'd["bytes"]' <<<"$T"); ts=$(jf 'd["sha256"]' <<<"$T")
    rs=$(sha256sum <"$LAB_DIR/churn.tcp.out" 2>/dev/null | cut -d' ' -f1)
    rb=$(stat -c %s "$LAB_DIR/churn.tcp.out" 2>/dev/null || echo 0)
    if [ "$ts" = "$rs" ] && [ "$tb" = "$rb" ]; then pass "churn: TCP node2/c1 -> node1/c1 during the updates: $tb bytes, sha256 ${ts:0:16}… matches"
    else fail "churn: TCP checksum" "sent $tb bytes ${ts:0:16}, received $rb bytes ${rs:0:16}"; fi
    cov=$("$LAB_PY" -c 'import json, sys
s = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
print(s["t0"] < c["t0"] and s["t1"] > c["t1"])' "$LAB_DIR/churn.tcp.send.json" "$LAB_DIR/churn.json" 2>/dev/null)
    [ "$cov" = True ] && pass "churn: the TCP transfer spanned the whole update window" || fail "churn: the TCP transfer spanned the whole update window" "times do not nest"
    rm -f "$LAB_DIR/churn.tcp.out"
else
    fail "churn: TCP transfer node2/c1 -> node1/c1" "sender: $(tail -n 3 "$LAB_DIR/churn.tcp.send.log" | tr '\n' '|')"
fi
alive1 && pass "churn: node1 still running" || fatal "churn: node1 still running" "$(vlog)"

# ---------------------------------------------------------------------------------
echo "--- 2. rejected updates change nothing"
udp_start reject || fatal "reject: UDP receiver ready" "$(cat "$LAB_DIR/reject.recv.log" 2>/dev/null)"
DESIRED0=$(rpc "$SOCK1" '{"op":"get"}' | jf 'd["result"]["desired"]')
G=$(gen_of "$SOCK1")
# reject NAME REQUEST_JSON WANT_PATH ERROR_REGEX: ok=false, error matches, path equals
# WANT_PATH (when not "-"), and the generation did not move.
reject() {
    local name=$1 req=$2 want_path=$3 re=$4 r ok err path g
    r=$(rpc "$SOCK1" "$req")
    IFS=$'\x1f' read -r ok path err < <(jf '"\x1f".join([str(d["ok"]), d.get("path", "") or "", d.get("error", "")])' <<<"$r" 2>/dev/null)
    g=$(gen_of "$SOCK1")
    if [ "$ok" != False ]; then fail "$name" "not rejected: $r"
    elif ! [[ $err =~ $re ]]; then fail "$name" "error '$err' does not match /$re/"
    elif [ "$want_path" != - ] && [ "$path" != "$want_path" ]; then fail "$name" "path '$path', want '$want_path' (error '$err')"
    elif [ "$g" != "$G" ]; then fail "$name" "generation moved $G -> $g"
    else pass "$name: '$err'${path:+ (path $path)}, generation stays $G"; fi
}
reject "reject: apply with a YAML syntax error (line:column)" \
    '{"op":"apply","params":{"config":"node:\n  name: node1\nnetworks: [\n  - {name: blue\n"}}' \
    - '[0-9]+:[0-9]+:.*(syntax|flow|expected|end)'
reject "reject: duplicate endpoint IP" \
    '{"op":"patch","params":{"ops":[{"op":"add","kind":"endpoint","object":{"name":"dup","network":"blue","ip":"10.0.1.3","node":"node2"}}]}}' \
    'ops[0].object.ip' '10\.0\.1\.3'
reject "reject: network with an overlapping subnet" \
    '{"op":"patch","params":{"ops":[{"op":"add","kind":"network","object":{"name":"green","vni":5000,"subnet":"10.0.1.128/25"}}]}}' \
    'ops[0].object.subnet' 'overlaps'
reject "reject: endpoint on an unknown network" \
    '{"op":"patch","params":{"ops":[{"op":"add","kind":"endpoint","object":{"name":"lost","network":"nosuch","ip":"10.0.9.9","node":"node2"}}]}}' \
    'ops[0].object.network' "unknown network 'nosuch'"
reject "reject: patch whose second operation is bad (all or nothing)" \
    '{"op":"patch","params":{"ops":[{"op":"add","kind":"peer","object":{"name":"okpeer","address":"10.99.0.40"}},{"op":"add","kind":"peer","object":{"name":"badpeer","address":"10.99.0.2"}}]}}' \
    'ops[1].object.address' '10\.99\.0\.2'
reject "reject: removing a network still in use" \
    '{"op":"patch","params":{"ops":[{"op":"remove","kind":"network","name":"red"}]}}' \
    'ops[0]' 'n1c2.*n2c2|n2c2.*n1c2'
reject "reject: removing an unknown endpoint" \
    '{"op":"patch","params":{"ops":[{"op":"remove","kind":"endpoint","name":"ghost"}]}}' \
    'ops[0].name' 'ghost'
reject "reject: apply of a config that changes the ports" \
    "$(jq -cn --rawfile c "$LAB_DIR/node1.yaml" '{op:"apply",params:{config:($c | sub("iface=c2";"iface=c9"))}}')" \
    - 'ports'
# dry runs are not updates either
r=$(rpc "$SOCK1" '{"op":"patch","params":{"dry_run":true,"ops":[{"op":"add","kind":"peer","object":{"name":"drypeer","address":"10.99.0.41"}}]}}')
if [ "$(jf 'd["ok"] and d["result"]["dry_run"] and d["result"]["changes"] == [{"action": "add", "kind": "peer", "name": "drypeer"}]' <<<"$r")" = True ] &&
    [ "$(gen_of "$SOCK1")" = "$G" ] && [ "$(has_obj "$SOCK1" peer drypeer)" = False ]; then
    pass "dry run: patch reports the change, generation stays $G, nothing added"
else fail "dry run: patch" "reply '$r', generation $(gen_of "$SOCK1")"; fi
DESIRED1=$(rpc "$SOCK1" '{"op":"get"}' | jf 'd["result"]["desired"]')
[ "$DESIRED0" = "$DESIRED1" ] && pass "reject: desired state identical after the rejected updates" || fail "reject: desired state identical" "it changed"
udp_stop reject
udp_check "reject: UDP stream during the rejected updates" reject
check "reject: ping blue node1/c1 -> node2/c1 afterwards" ping_ok node1 c1 10.0.1.3
check "reject: ping blue node2/c1 -> node1/c1 afterwards" ping_ok node2 c1 10.0.1.2

# ---------------------------------------------------------------------------------
echo "--- 3. vxmeshctl"
ctl() { timeout 30 "$CTL" -s "$SOCK1" "$@"; }
out=$(ctl version 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == "vxmesh "* ]] && pass "vxmeshctl version: '$out'" || fail "vxmeshctl version" "exit $rc: $out"
out=$(ctl --format json version 2>&1)
[ "$(jf '"version" in d and "commit" in d' <<<"$out" 2>/dev/null)" = True ] && pass "vxmeshctl --format json version parses" || fail "vxmeshctl --format json version" "$out"
out=$(ctl get 2>&1)
[ "$(jf 'd["desired"]["node"]["name"] == "node1" and d["generation"] >= 1' <<<"$out" 2>/dev/null)" = True ] && pass "vxmeshctl get: JSON with node1's desired state" || fail "vxmeshctl get" "$(head -c 300 <<<"$out")"

out=$(ctl network ls 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -Eq '^[0-9a-z]{12} +blue +overlay +swarm +10\.0\.1\.0/24 +4097$' <<<"$out" &&
    grep -Eq '^[0-9a-z]{12} +red +overlay +swarm +10\.0\.2\.0/24 +4098$' <<<"$out"; then pass "vxmeshctl network ls: blue and red"
else fail "vxmeshctl network ls" "exit $rc: $(tr '\n' '|' <<<"$out")"; fi

out=$(ctl network inspect blue 2>&1); rc=$?
echo "$out" >"$LAB_DIR/inspect-blue.json"
ins_ok=$(jf '(len(d) == 1 and d[0]["Name"] == "blue" and d[0]["Scope"] == "swarm" and d[0]["Driver"] == "overlay"
    and d[0]["IPAM"]["Config"][0]["Subnet"] == "10.0.1.0/24" and d[0]["IPAM"]["Config"][0]["Gateway"] == "10.0.1.1"
    and d[0]["Options"]["com.docker.network.driver.overlay.vxlanid_list"] == "4097"
    and sorted((p["Name"], p["IP"]) for p in d[0]["Peers"]) == [("node1", "10.99.0.1"), ("node2", "10.99.0.2")]
    and list(d[0]["Containers"]) == ["n1c1"] and d[0]["Containers"]["n1c1"]["IPv4Address"] == "10.0.1.2/24")' <<<"$out" 2>&1)
[ "$rc" = 0 ] && [ "$ins_ok" = True ] && pass "vxmeshctl network inspect blue: Name, Scope swarm, Driver overlay, IPAM subnet, vxlanid_list 4097, Peers, Containers" ||
    fail "vxmeshctl network inspect blue" "exit $rc, check '$ins_ok': $(head -c 600 <<<"$out" | tr '\n' ' ')"
out=$(ctl network inspect nosuch 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"No such network: nosuch"* ]] && pass "vxmeshctl network inspect nosuch: exit $rc, '$out'" || fail "vxmeshctl network inspect nosuch" "exit $rc: $out"

G=$(gen_of "$SOCK1")
out=$(ctl peer add extra1 10.99.0.77 2>&1); rc=$?
ls_out=$(ctl peer ls 2>&1)
if [ "$rc" = 0 ] && grep -Eq '^extra1 +10\.99\.0\.77$' <<<"$ls_out" && [ "$(gen_of "$SOCK1")" = $((G + 1)) ]; then pass "vxmeshctl peer add extra1: in peer ls, generation $((G + 1))"
else fail "vxmeshctl peer add" "exit $rc: $out; peer ls: $(tr '\n' '|' <<<"$ls_out")"; fi
out=$(ctl peer add extra2 10.99.0.77 2>&1); rc=$?
[ "$rc" != 0 ] && [ "$(gen_of "$SOCK1")" = $((G + 1)) ] && pass "vxmeshctl peer add with a duplicate address fails (exit $rc: $out)" || fail "vxmeshctl peer add duplicate address" "exit $rc: $out"
out=$(ctl peer rm extra1 2>&1); rc=$?
ls_out=$(ctl peer ls 2>&1)
if [ "$rc" = 0 ] && ! grep -q extra1 <<<"$ls_out" && grep -Eq '^node2 +10\.99\.0\.2$' <<<"$ls_out"; then pass "vxmeshctl peer rm extra1: gone from peer ls"
else fail "vxmeshctl peer rm" "exit $rc: $out; peer ls: $(tr '\n' '|' <<<"$ls_out")"; fi

# node: docker node ls's view of the same peers.
out=$(ctl node ls 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$(sed -n 1p <<<"$out" | tr -s ' ')" = "HOSTNAME DATA PATH ADDRESS ENDPOINTS" ] &&
    [ "$(sed -n 2p <<<"$out" | tr -s ' ')" = "node1 * 10.99.0.1 2" ] && [ "$(sed -n 3p <<<"$out" | tr -s ' ')" = "node2 10.99.0.2 2" ] &&
    [ "$(wc -l <<<"$out")" = 3 ]; then pass "vxmeshctl node ls: node1 * (self) first, then node2, with their data-path addresses"
else fail "vxmeshctl node ls" "exit $rc: $(tr '\n' '|' <<<"$out")"; fi
out=$(ctl --format json node ls 2>&1)
[ "$(jf 'd == [{"name": "node1", "self": True, "address": "10.99.0.1", "endpoints": 2}, {"name": "node2", "self": False, "address": "10.99.0.2", "endpoints": 2}]' <<<"$out" 2>/dev/null)" = True ] &&
    pass "vxmeshctl --format json node ls" || fail "vxmeshctl --format json node ls" "$(tr '\n' ' ' <<<"$out")"
G=$(gen_of "$SOCK1")
out=$(ctl node add extra3 --addr 10.99.0.78 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -Eq '^extra3 +10\.99\.0\.78 +0$' <<<"$(ctl node ls)" && grep -Eq '^extra3 +10\.99\.0\.78$' <<<"$(ctl peer ls)" &&
    [ "$(gen_of "$SOCK1")" = $((G + 1)) ]; then pass "vxmeshctl node add extra3 --addr 10.99.0.78: in node ls and peer ls, generation $((G + 1))"
else fail "vxmeshctl node add" "exit $rc: $out"; fi
out=$(ctl node add extra4 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *addr* ]] && pass "vxmeshctl node add without --addr fails: '$out'" || fail "vxmeshctl node add without --addr" "exit $rc: $out"
out=$(ctl node rm extra3 2>&1); rc=$?
[ "$rc" = 0 ] && ! grep -q extra3 <<<"$(ctl node ls)" && pass "vxmeshctl node rm extra3: gone" || fail "vxmeshctl node rm extra3" "exit $rc: $out"
G=$(gen_of "$SOCK1")
out=$(ctl node rm node1 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"node1 is this node"* ]] && [ "$(gen_of "$SOCK1")" = "$G" ] && pass "vxmeshctl node rm node1 (this node) fails: '$out'" || fail "vxmeshctl node rm node1" "exit $rc: $out"
out=$(ctl node rm node2 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"peer 'node2' is in use by endpoint(s): n2c1, n2c2"* ]] && [ "$(gen_of "$SOCK1")" = "$G" ] && [ "$(has_obj "$SOCK1" peer node2)" = True ] &&
    pass "vxmeshctl node rm node2 (endpoints behind it) fails naming them: '$out'" || fail "vxmeshctl node rm node2 must fail naming the endpoints" "exit $rc: $out"

out=$(ctl endpoint attach web1 --network blue --ip 10.0.1.77 --node node2 2>&1); rc=$?
ls_out=$(ctl endpoint ls 2>&1)
if [ "$rc" = 0 ] && grep -Eq '^web1 +blue +10\.0\.1\.77 +02:42:0a:00:01:4d +node2 +- +-$' <<<"$ls_out"; then pass "vxmeshctl endpoint attach web1: in endpoint ls with Docker's MAC"
else fail "vxmeshctl endpoint attach" "exit $rc: $out; endpoint ls: $(tr '\n' '|' <<<"$ls_out")"; fi
out=$(ctl --format json endpoint ls 2>&1)
[ "$(jf '[e["mac"] for e in d if e["name"] == "web1"] == ["02:42:0a:00:01:4d"]' <<<"$out" 2>/dev/null)" = True ] && pass "vxmeshctl --format json endpoint ls parses and shows web1" || fail "vxmeshctl --format json endpoint ls" "$(head -c 300 <<<"$out")"
# The new remote endpoint is reachable for proxy ARP at once: node1/c1 resolves it.
lab_exec node1-c1 ip neigh flush dev eth0 to 10.0.1.77 >/dev/null 2>&1
lab_exec node1-c1 ping -n -c 1 -W 1 10.0.1.77 >/dev/null 2>&1   # no host behind it: no reply expected
m=$(lab_exec node1-c1 ip neigh show 10.0.1.77 dev eth0 | awk '{for (i=1;i<NF;i++) if ($i=="lladdr") print $(i+1)}')
[ "$m" = 02:42:0a:00:01:4d ] && pass "vxmeshctl endpoint attach: node1 answers ARP for 10.0.1.77 with 02:42:0a:00:01:4d" || fail "endpoint attach: proxy ARP for 10.0.1.77" "neighbour '$m'"
out=$(ctl endpoint attach web2 --network blue --ip 10.0.1.77 --node node2 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *10.0.1.77* ]] && pass "vxmeshctl endpoint attach with a taken IP fails (exit $rc: $out)" || fail "vxmeshctl endpoint attach taken IP" "exit $rc: $out"
out=$(ctl endpoint detach web1 2>&1); rc=$?
ls_out=$(ctl endpoint ls 2>&1)
if [ "$rc" = 0 ] && ! grep -q web1 <<<"$ls_out" && grep -q '^n2c1 ' <<<"$ls_out"; then pass "vxmeshctl endpoint detach web1: gone from endpoint ls"
else fail "vxmeshctl endpoint detach" "exit $rc: $out; endpoint ls: $(tr '\n' '|' <<<"$ls_out")"; fi

G=$(gen_of "$SOCK1")
out=$(ctl network rm blue 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ $out == *n1c1* ]] && [[ $out == *n2c1* ]] && [ "$(gen_of "$SOCK1")" = "$G" ] &&
    [ "$(has_obj "$SOCK1" network blue)" = True ]; then pass "vxmeshctl network rm blue (endpoints attached) fails: exit $rc, '$out'"
else fail "vxmeshctl network rm blue must fail and name the endpoints" "exit $rc: $out"; fi
# A network without endpoints can be removed (added with a patch: no network create yet).
rpc "$SOCK1" '{"op":"patch","params":{"ops":[{"op":"add","kind":"network","object":{"name":"green","vni":4099,"subnet":"10.0.3.0/24"}}]}}' >/dev/null
out=$(ctl network rm green 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(has_obj "$SOCK1" network green)" = False ] && pass "vxmeshctl network rm green (unused) succeeds" || fail "vxmeshctl network rm green" "exit $rc: $out"

# apply / diff with files.
G=$(gen_of "$SOCK1")
cp "$LAB_DIR/node1.yaml" "$LAB_DIR/apply.yaml"
printf '  - name: fromfile\n    network: red\n    ip: 10.0.2.50\n    node: node2\n' >>"$LAB_DIR/apply.yaml"
out=$(ctl diff -f "$LAB_DIR/apply.yaml" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -Eq '^add +endpoint +fromfile$' <<<"$out" && [ "$(gen_of "$SOCK1")" = "$G" ] && pass "vxmeshctl diff -f: 'add endpoint fromfile', generation stays" || fail "vxmeshctl diff -f" "exit $rc: $(tr '\n' '|' <<<"$out")"
out=$(ctl apply -f "$LAB_DIR/apply.yaml" --dry-run 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q 'dry run' <<<"$out" && [ "$(gen_of "$SOCK1")" = "$G" ] && [ "$(has_obj "$SOCK1" endpoint fromfile)" = False ] && pass "vxmeshctl apply --dry-run: nothing applied" || fail "vxmeshctl apply --dry-run" "exit $rc: $(tr '\n' '|' <<<"$out")"
out=$(ctl apply -f "$LAB_DIR/apply.yaml" 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(gen_of "$SOCK1")" = $((G + 1)) ] && [ "$(has_obj "$SOCK1" endpoint fromfile)" = True ] && pass "vxmeshctl apply -f: endpoint fromfile added, generation $((G + 1))" || fail "vxmeshctl apply -f" "exit $rc: $(tr '\n' '|' <<<"$out")"
printf 'node:\n  name: node1\n  bogus: [1, 2\n' >"$LAB_DIR/broken-apply.yaml"
out=$(ctl apply -f "$LAB_DIR/broken-apply.yaml" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out =~ [0-9]+:[0-9]+ ]] && [ "$(gen_of "$SOCK1")" = $((G + 1)) ] && pass "vxmeshctl apply -f of broken YAML fails with a position: '$out'" || fail "vxmeshctl apply -f broken YAML" "exit $rc: $out"
out=$(ctl apply -f "$LAB_DIR/node1.yaml" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -Eq '^remove +endpoint +fromfile$' <<<"$out" && pass "vxmeshctl apply -f node1.yaml: back to the original (remove endpoint fromfile)" || fail "vxmeshctl apply -f original" "exit $rc: $(tr '\n' '|' <<<"$out")"

out=$(ctl stats --prometheus 2>&1); rc=$?
n=$(grep -cE '^vxmesh_port_rx_packets_total\{[^}]*\} [0-9]+$' <<<"$out")
[ "$rc" = 0 ] && [ "$n" -ge 3 ] && pass "vxmeshctl stats --prometheus: $n vxmesh_port_rx_packets_total lines" || fail "vxmeshctl stats --prometheus" "exit $rc, $n rx lines: $(head -n 8 <<<"$out" | tr '\n' '|')"
grep -E '^vxmesh_port_rx_packets_total' <<<"$out" | head -n 3 | sed 's/^/    /'
# jf_lines EXPR: True when one JSON line on stdin satisfies EXPR (d is the line's value).
jf_lines() { /usr/bin/python3 -c 'import json, sys
print(any(eval(sys.argv[1], {}, {"d": json.loads(l)}) for l in sys.stdin if l.strip()))' "$1" 2>/dev/null || echo False; }
# DPDK telemetry: dpdk-telemetry.py against the running process (file prefix vxmesh-PID).
tpid=$(lab_vxmesh_pid node1)
out=$(printf '/vxmesh/stats\n/vxmesh/drops\n/vxmesh/generation\n' | timeout 30 dpdk-telemetry.py -f "vxmesh-$tpid" 2>&1); rc=$?
tel=$(grep -E '^\{"/vxmesh/' <<<"$out")
if [ "$rc" = 0 ] && [ "$(jf_lines '"/vxmesh/stats" in d and d["/vxmesh/stats"]["encap"] > 0' <<<"$tel")" = True ] &&
    [ "$(jf_lines '"/vxmesh/drops" in d and "vxlan_unknown_vni" in d["/vxmesh/drops"]' <<<"$tel")" = True ] &&
    [ "$(jf_lines '"/vxmesh/generation" in d and d["/vxmesh/generation"]["generation"] == '"$(gen_of "$SOCK1")" <<<"$tel")" = True ]; then
    pass "dpdk-telemetry.py: /vxmesh/stats (encap > 0), /vxmesh/drops, /vxmesh/generation = $(gen_of "$SOCK1")"
else fail "dpdk-telemetry.py" "exit $rc: $(head -c 400 <<<"$out")"; fi

# The HTTP exposition, on loopback inside node1's namespace.
out=$(lab_exec node1 /usr/bin/python3 -c 'import urllib.request as u; r = u.urlopen("http://127.0.0.1:9323/metrics", timeout=5); print(r.status); print(r.read().decode())' 2>&1); rc=$?
n=$(grep -cE '^vxmesh_drops_total\{node="node1",reason="[a-z_]+"\} [0-9]+$' <<<"$out")
[ "$rc" = 0 ] && [ "$(head -n 1 <<<"$out")" = 200 ] && [ "$n" -ge 20 ] && grep -qE '^vxmesh_encap_total\{node="node1"\} [1-9]' <<<"$out" &&
    pass "--metrics-listen: GET /metrics answers 200 with $n drop-reason series and encap > 0" || fail "--metrics-listen" "exit $rc: $(head -c 300 <<<"$out")"
out=$(ctl --format json stats 2>&1); rc=$?
sg=$(jf 'd["generation"]' <<<"$out" 2>/dev/null)
[ "$rc" = 0 ] && [ "$sg" = "$(gen_of "$SOCK1")" ] && [ "$(jf 'd["ports"]["underlay"]["rx"] > 0 and d["encap"] > 0' <<<"$out" 2>/dev/null)" = True ] &&
    pass "vxmeshctl --format json stats parses (generation $sg, underlay rx > 0, encap > 0)" || fail "vxmeshctl --format json stats" "exit $rc: $(head -c 300 <<<"$out")"
out=$(ctl stats 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == "generation "* ]] && grep -q '^underlay ' <<<"$out" && pass "vxmeshctl stats (table)" || fail "vxmeshctl stats (table)" "exit $rc: $(head -n 3 <<<"$out" | tr '\n' '|')"
out=$(timeout 30 "$CTL" -s "$RUN/nosuch.sock" version 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"cannot connect"* ]] && pass "vxmeshctl without a server fails: '$out'" || fail "vxmeshctl without a server" "exit $rc: $out"
out=$(timeout 30 "$CTL" -s "$SOCK1" frobnicate 2>&1); rc=$?
[ "$rc" = 2 ] && pass "vxmeshctl unknown command: exit 2" || fail "vxmeshctl unknown command: exit 2" "exit $rc: $(head -n 1 <<<"$out")"
out=$(VXMESH_SOCKET=$SOCK2 timeout 30 "$CTL" peer ls 2>&1)
grep -Eq '^node1 +10\.99\.0\.1$' <<<"$out" && pass "vxmeshctl with \$VXMESH_SOCKET talks to node2" || fail "vxmeshctl with \$VXMESH_SOCKET" "$(tr '\n' '|' <<<"$out")"

# ---------------------------------------------------------------------------------
echo "--- 4. SIGHUP reload"
# wait_gen SOCK ABOVE TIMEOUT: poll get until the generation exceeds ABOVE; prints it.
wait_gen() {
    local i g
    for ((i = 0; i < $3 * 10; i++)); do
        g=$(gen_of "$1" 2>/dev/null)
        [ -n "$g" ] && [ "$g" -gt "$2" ] && { echo "$g"; return 0; }
        sleep 0.1
    done
    echo "$g"
    return 1
}
# wait_log PATTERN COUNT TIMEOUT: poll node1's log until PATTERN occurs COUNT times.
wait_log() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(grep -c -- "$1" "$LAB_DIR/node1.log")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
G=$(gen_of "$SOCK1")
cp "$LAB_DIR/node1.yaml" "$LAB_DIR/node1.orig.yaml"
printf '  - name: hup1\n    network: blue\n    ip: 10.0.1.88\n    node: node2\n' >>"$LAB_DIR/node1.yaml"
kill -HUP "$PID1"
if g=$(wait_gen "$SOCK1" "$G" 10); then
    if [ "$(has_obj "$SOCK1" endpoint hup1)" = True ] && [ "$g" = $((G + 1)) ]; then pass "SIGHUP: reloaded, endpoint hup1 present, generation $G -> $g"
    else fail "SIGHUP: reload" "generation $G -> $g, hup1 present: $(has_obj "$SOCK1" endpoint hup1)"; fi
else
    fail "SIGHUP: generation increases within 10 s" "still $g; log: $(vlog)"
fi
grep -q "reloaded $LAB_DIR/node1.yaml" "$LAB_DIR/node1.log" && pass "SIGHUP: vxmesh logged the reload" || fail "SIGHUP: vxmesh logged the reload" "$(vlog)"
check "SIGHUP: ping blue node1/c1 -> node2/c1 after the reload" ping_ok node1 c1 10.0.1.3

G=$(gen_of "$SOCK1")
nrej=$(grep -c 'reload rejected' "$LAB_DIR/node1.log")
printf 'node:\n  name: node1\n  data_path_addr: 10.99.0.1/24\nnetworks: [ {name: blue\n' >"$LAB_DIR/node1.yaml"
kill -HUP "$PID1"
if wait_log 'reload rejected' $((nrej + 1)) 10; then
    pass "SIGHUP with a broken file: rejected ($(grep 'reload rejected' "$LAB_DIR/node1.log" | tail -n 1))"
else
    fail "SIGHUP with a broken file: rejection logged within 10 s" "$(vlog)"
fi
g=$(gen_of "$SOCK1")
[ "$g" = "$G" ] && [ "$(has_obj "$SOCK1" endpoint hup1)" = True ] && pass "SIGHUP with a broken file: generation stays $G, desired state kept" || fail "SIGHUP with a broken file: generation stays" "$G -> $g"
alive1 && pass "SIGHUP with a broken file: node1 still running" || fatal "SIGHUP with a broken file: node1 still running" "$(vlog)"
check "SIGHUP with a broken file: ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
check "SIGHUP with a broken file: ping red node2/c2 -> node1/c2" ping_ok node2 c2 10.0.2.2
# A valid file whose ports differ cannot be reloaded either (ports are opened once).
sed 's/iface=c2/iface=c9/' "$LAB_DIR/node1.orig.yaml" >"$LAB_DIR/node1.yaml"
kill -HUP "$PID1"
if wait_log 'reload rejected' $((nrej + 2)) 10 && [ "$(gen_of "$SOCK1")" = "$G" ]; then pass "SIGHUP with changed ports: rejected, generation stays $G"
else fail "SIGHUP with changed ports: rejected" "generation $(gen_of "$SOCK1"); $(vlog)"; fi
# Back to the original file: hup1 disappears again.
cp "$LAB_DIR/node1.orig.yaml" "$LAB_DIR/node1.yaml"
kill -HUP "$PID1"
if g=$(wait_gen "$SOCK1" "$G" 10) && [ "$(has_obj "$SOCK1" endpoint hup1)" = False ]; then pass "SIGHUP with the original file: generation $g, hup1 gone"
else fail "SIGHUP with the original file" "generation $g; $(vlog)"; fi

# ---------------------------------------------------------------------------------
echo "--- 5. access control and misbehaving clients"
mode=$(stat -c '%a %U %F' "$SOCK1")
[ "$mode" = "600 root socket" ] && pass "socket: $SOCK1 is mode 0600, owned by root" || fail "socket: mode 0600 owned by root" "stat says '$mode'"
dmode=$(stat -c '%a' "$RUN")
[ "$dmode" = 700 ] && pass "socket: its directory is mode 0700" || fail "socket: its directory is mode 0700" "stat says '$dmode'"
AS_NOBODY=()
if command -v setpriv >/dev/null 2>&1; then
    AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
# The other uid must be able to run vxmeshctl at all, or "permission denied" below
# would prove nothing.
if [ "${#AS_NOBODY[@]}" -gt 0 ] && [ "$("${AS_NOBODY[@]}" id -u 2>/dev/null)" = 65534 ] &&
    "${AS_NOBODY[@]}" "$CTL_SRC" --help >/dev/null 2>&1; then
    G=$(gen_of "$SOCK1")
    out=$("${AS_NOBODY[@]}" timeout 30 "$CTL_SRC" -s "$SOCK1" version 2>&1); rc=$?
    [ "$rc" != 0 ] && [[ $out == *"ermission denied"* ]] && pass "uid 65534: vxmeshctl version fails (exit $rc: $out)" || fail "uid 65534: vxmeshctl version must fail" "exit $rc: $out"
    # Let uid 65534 reach the socket file itself (search permission on the directories,
    # which are ours): the 0600 file mode must stop it.
    lmode=$(stat -c %a "$LAB_DIR")
    chmod o+x "$LAB_DIR" "$RUN"
    out=$("${AS_NOBODY[@]}" timeout 30 "$CTL_SRC" -s "$SOCK1" peer add evil 10.99.0.66 2>&1); rc=$?
    [ "$rc" != 0 ] && [[ $out == *"ermission denied"* ]] && pass "uid 65534, directory searchable: the 0600 socket refuses it (exit $rc: $out)" || fail "uid 65534 vs the 0600 socket" "exit $rc: $out"
    # Defence in depth: even with the file opened up, SO_PEERCRED refuses the uid.
    chmod 0666 "$SOCK1"
    out=$("${AS_NOBODY[@]}" timeout 30 "$CTL_SRC" -s "$SOCK1" peer add evil 10.99.0.66 2>&1); rc=$?
    raw=$("${AS_NOBODY[@]}" timeout 30 "$LAB_PY" "$PYH" first-line "$SOCK1" 2>&1)
    chmod 0600 "$SOCK1"
    chmod "$lmode" "$LAB_DIR"; chmod 0700 "$RUN"
    [ "$rc" != 0 ] && [[ $out == *"ermission denied"* || $out == *"closed the connection"* || $out == *"Broken pipe"* ]] &&
        pass "uid 65534, socket file 0666: vxmeshctl fails (exit $rc: $out)" || fail "uid 65534, socket file 0666: vxmeshctl fails" "exit $rc: $out"
    [[ $raw == *'"ok": false'*'permission denied: uid not allowed'* ]] &&
        pass "uid 65534, socket file 0666: the server's SO_PEERCRED check refuses it: $raw" || fail "uid 65534 vs SO_PEERCRED" "first line: $raw"
    [ "$(gen_of "$SOCK1")" = "$G" ] && [ "$(has_obj "$SOCK1" peer evil)" = False ] && pass "uid 65534: nothing changed (generation $G, no peer evil)" || fail "uid 65534: nothing changed" "generation $(gen_of "$SOCK1"), evil: $(has_obj "$SOCK1" peer evil)"
else
    fail "uid 65534: run vxmeshctl as another user" "setpriv missing, or uid 65534 cannot run $CTL_SRC --help"
fi
check "socket: root's vxmeshctl still works" ctl version

G=$(gen_of "$SOCK1")
f=$(timeout 60 "$LAB_PY" "$PYH" misuse "$SOCK1" 2>&1); rc=$?
echo "misuse: $f"
if [ "$rc" = 0 ]; then
    [ "$(jf 'd["garbage_ok"] is False and "not JSON" in d["garbage_error"] and d["after_garbage"]' <<<"$f")" = True ] &&
        pass "misuse: a line that is not JSON gets an error reply; the connection stays usable" || fail "misuse: not JSON" "$f"
    [ "$(jf 'd["unknown_op_ok"] is False and d["unknown_op_path"] == "op"' <<<"$f")" = True ] && pass "misuse: an unknown op is an error with path op" || fail "misuse: unknown op" "$f"
    [ "$(jf 'd["other_client_ok"] and d["slow_client_ok"]' <<<"$f")" = True ] &&
        pass "misuse: a client holding half a line does not block another ($(jf 'd["other_client_ms"]' <<<"$f") ms), and gets its answer when it finishes the line" || fail "misuse: half a line blocks others" "$f"
    [[ $(jf 'd["oversize_reply"]' <<<"$f") == *"request longer than"* ]] && pass "misuse: a 17 MiB line without a newline: '$(jf 'd["oversize_reply"]' <<<"$f")'" || fail "misuse: oversize request" "$f"
    hc=$(jf 'd["half_close_unanswered"]' <<<"$f")
    if [ "$hc" = 0 ]; then
        pass "misuse: a complete request followed by shutdown(SHUT_WR) is answered (5 of 5)"
    else
        fail "misuse: a complete request followed by shutdown(SHUT_WR) is answered" "$hc of 5 got no reply"
    fi
    [ "$(jf 'd["final_ok"]' <<<"$f")" = True ] && pass "misuse: half-sent requests and abrupt disconnects: a normal request still works" || fail "misuse: normal request afterwards" "$f"
else
    fail "misuse: half-sent requests and abrupt disconnects" "exit $rc: $f; log: $(vlog)"
fi
alive1 && pass "misuse: node1 still running" || fatal "misuse: node1 still running" "$(vlog)"
[ "$(gen_of "$SOCK1")" = "$G" ] && pass "misuse: generation unchanged ($G)" || fail "misuse: generation unchanged" "$G -> $(gen_of "$SOCK1")"
check "misuse: vxmeshctl version afterwards" ctl version
check "misuse: ping blue node1/c1 -> node2/c1 afterwards" ping_ok node1 c1 10.0.1.3

# ---------------------------------------------------------------------------------
for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?; log tail: $(tail -n 3 "$LAB_DIR/$n.log" | tr '\n' '|')"; fi
done
[ ! -e "$SOCK1" ] && [ ! -e "$SOCK2" ] && pass "socket: both socket files removed at exit" || fail "socket: socket files removed at exit" "$(ls -la "$RUN" | tr '\n' '|')"
if [ -s "$LAB_DIR/node1.stats.json" ]; then
    echo "node1 drops: $(lab_stats node1 drops | tr -d ' ')"
fi
echo "runtime: $(($(date +%s) - T_START)) s"
t_end
