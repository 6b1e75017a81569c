#!/bin/bash
# vxmeshctl capture against two running vxmesh nodes, every file read back by tshark:
#   1. a ping across the overlay: `capture --port c1 --count 3 --filter icmp` on node1
#      holds exactly echo requests 1..3 from 10.0.1.2 to 10.0.1.3 (inbound, interface
#      c1); `--port underlay --direction tx` (with --format json) holds VXLAN, VNI 4097,
#      I flag, node1 -> node2 outer headers around those requests; --snaplen cuts frames;
#      each capture publishes one generation when it starts and one when it stops;
#   2. drops, provoked deterministically with scapy: ten underlay reasons on node2
#      (frames sent on the bridge port u-node2 straight to its `ul`) and seven access
#      reasons on node1/c1 (sent from the container's eth0), each captured once with
#      `--direction drop --count N`, the reason in frame.comment, and vxmesh's drop
#      counters moved by exactly those packets;
#   2b. drops counted on the control thread (the neighbour service): node1 gets a
#      ghost peer whose next hop never answers ARP and an endpoint on it; one
#      unfiltered `--port underlay --direction drop --count 21` holds exactly an
#      underlay ARP request for another address (arp_not_for_us, inbound) and the 20
#      frames c1 sent the ghost, encapsulated (4 neighbour_queue_full, 16
#      neighbour_unresolved after the retries, outbound); the counters moved by exactly
#      those, all on lcore 2 (the neighbour service's); a drop capture on c1 then holds the
#      next two held packets as neighbour_unresolved, inbound on c1;
#   3. a second capture while one runs is refused (no file, no generation); SIGINT to
#      a capture without --count stops it, everything received up to then is written
#      and the file is valid pcapng;
#   4. a bad --filter is refused naming the filter (no file, no generation); -w with a
#      relative path is resolved by vxmeshctl against its working directory.
# Fixed bugs, now counted (set to 1 to see them as XFAIL again):
#   CAPTURE_TS_XFAIL      rx/tx frames carried timestamps ~280 years in the future;
#   CAPTURE_ORPHAN_XFAIL  a vxmeshctl killed by SIGHUP left its capture running;
#   CAPTURE_SNAPLEN_XFAIL rx/tx frames cut by --snaplen recorded the cut length as the
#                         original length.
# (CAPTURE_CTLDROP_XFAIL is gone: drops counted on the control thread reach a drop
# capture now, and 2b asserts it without a switch.)
# An outer IP fragment cannot be provoked here: net_af_packet's fanout socket asks the
# kernel to defragment (PACKET_FANOUT_FLAG_DEFRAG), so a lone fragment never reaches
# vxmesh.
# Env: VXMESHCTL_BIN (default build/tools/vxmeshctl), VXMESH_BIN, the XFAIL switches.
set -u
CAPTURE_TS_XFAIL=${CAPTURE_TS_XFAIL:-0}
CAPTURE_ORPHAN_XFAIL=${CAPTURE_ORPHAN_XFAIL:-0}
CAPTURE_SNAPLEN_XFAIL=${CAPTURE_SNAPLEN_XFAIL:-0}
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin capture
command -v tshark >/dev/null 2>&1 || fatal "tshark: installed" "tshark not found (tools/lab/install.sh)"
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC (build with ninja -C build, or set VXMESHCTL_BIN)"
"$LAB_PY" -c 'import scapy.all' >/dev/null 2>&1 || fatal "scapy: importable by $LAB_PY" "install it (tools/lab/install.sh)"
T_START=$(date +%s)
lab_init "${LAB_PREFIX:-vxp$$-}" || fatal "lab: init" "lab_init failed"

# Private copies of both binaries, so that a rebuild during the run cannot break it.
cp "$VXMESH_BIN" "$LAB_DIR/vxmesh" || fatal "vxmesh: copy to $LAB_DIR" "cp failed"
VXMESH_BIN=$LAB_DIR/vxmesh
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $LAB_DIR" "cp failed"

topo_overlay || fatal "lab: topology" "topo_overlay failed"
RUN=$LAB_DIR/run
SOCK1=$RUN/node1.sock
SOCK2=$RUN/node2.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$SOCK2" || fatal "vxmesh: start node2" "see log above"
PID1=$(lab_vxmesh_pid node1)
PID2=$(lab_vxmesh_pid node2)
pass "vxmesh: node1 (pid $PID1) and node2 (pid $PID2) ready with control sockets in $RUN"

# vxmesh's underlay MAC is its `ul` veth's (the config sets none) and its VTEP the
# node's data_path_addr.
UL_MAC1=$(lab_mac node1/ul)
UL_MAC2=$(lab_mac node2/ul)
C1_MAC=02:42:0a:00:01:02
CAPDIR=$LAB_DIR/cap
mkdir -p "$CAPDIR"

# ---------------------------------------------------------------------------------
# Python helpers (/usr/bin/python3): socket queries, capture readiness, scapy senders.
PYH=$LAB_DIR/cap.py
cat >"$PYH" <<'PYEOF'
import json, os, socket, sys, time

def call(path, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("vxmesh closed the connection")
        buf += d
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def q(path, req, expr):
    d = call(path, json.loads(req))
    v = eval(expr)
    print(json.dumps(v) if isinstance(v, (dict, list)) else v)

def wait_running(path, file, pid, timeout):
    """Poll capture_status until the capture writing FILE runs; give up early when the
    vxmeshctl that should start it (PID) has exited."""
    deadline = time.time() + float(timeout)
    r = None
    while time.time() < deadline:
        r = call(path, {"op": "capture_status"})
        res = r.get("result", {})
        if res.get("running") and res.get("file") == file:
            print(json.dumps(res))
            return 0
        if not alive(int(pid)):
            print("vxmeshctl exited before the capture ran; status: %s" % json.dumps(r))
            return 2
        time.sleep(0.05)
    print("not running after %ss; status: %s" % (timeout, json.dumps(r)))
    return 1

def wait_written(path, file, n, timeout):
    """Poll capture_status until the capture writing FILE (running or last) has
    written >= n packets. Prints its status either way."""
    deadline = time.time() + float(timeout)
    res = {}
    while time.time() < deadline:
        r = call(path, {"op": "capture_status"})["result"]
        res = r if r.get("running") else r.get("last") or {}
        if res.get("file") == file and res.get("written", 0) >= int(n):
            print(json.dumps(res))
            return 0
        time.sleep(0.05)
    print(json.dumps(res))
    return 1

def wait_drop(path, reason, above, timeout):
    """Poll stats until drops[reason] > above."""
    deadline = time.time() + float(timeout)
    v = None
    while time.time() < deadline:
        v = call(path, {"op": "stats"})["result"]["drops"][reason]
        if v > int(above):
            print(v)
            return 0
        time.sleep(0.05)
    print(v)
    return 1

def drops_delta(before, after, expected, lcore=None):
    """Drop counters moved by exactly one per expected reason (repeat a reason to expect
    more), nothing else moved; with LCORE, the counters of that lcore only."""
    def drops(path):
        d = json.load(open(path))
        return d["drops"] if lcore is None else d["lcores"].get(lcore, {}).get("drops", {})
    a = drops(before)
    b = drops(after)
    want = {}
    for r in filter(None, expected.split(",")):
        want[r] = want.get(r, 0) + 1
    got = {k: b[k] - a.get(k, 0) for k in b if b[k] != a.get(k, 0)}
    print(json.dumps(got, sort_keys=True))
    return 0 if got == want else 1

def send(kind, iface, *args):
    from scapy.all import Ether, IP, UDP, ICMP, ARP, Raw, sendp
    from scapy.layers.vxlan import VXLAN
    BC = "ff:ff:ff:ff:ff:ff"
    if kind == "underlay":
        # to a vxmesh node's ul, from the bridge port in the underlay namespace
        mymac, vtep, peer, names = args
        SRC = "02:00:00:00:ca:fe"   # nobody's MAC: the capture filter selects these frames
        inner = Ether(src="02:42:0a:00:01:02", dst="02:42:0a:00:01:03") / \
            IP(src="10.0.1.2", dst="10.0.1.3") / ICMP()
        def vx(vni=4097, flags=0x08, dst=vtep, inn=inner, dport=4789, ulen=None, ipv=4, mac=mymac):
            return Ether(src=SRC, dst=mac) / IP(version=ipv, src=peer, dst=dst) / \
                UDP(sport=54321, dport=dport, len=ulen) / VXLAN(flags=flags, vni=vni) / inn
        pk = {
            "l2_not_for_us": vx(mac="02:00:00:00:00:99"),
            "vxlan_unknown_vni": vx(vni=999),
            "vxlan_bad_flags": vx(flags=0x00),
            "vxlan_unknown_destination": vx(inn=Ether(src="02:42:0a:00:01:02", dst="02:42:0a:00:01:63") /
                                            IP(src="10.0.1.2", dst="10.0.1.99") / ICMP()),
            "ip_not_for_us": vx(dst="10.99.0.77"),
            "ip_bad_checksum": Ether(src=SRC, dst=mymac) / IP(src=peer, dst=vtep, chksum=0x1234) /
                UDP(sport=54321, dport=4789) / VXLAN(vni=4097) / inner,
            "ip_bad_header": vx(ipv=5),
            "not_vxlan": vx(dport=4790),
            "truncated": vx(ulen=20),
            "unsupported_ethertype": Ether(src=SRC, dst=mymac, type=0x88b5) / Raw(b"vxmesh-capture-test" * 3),
            "arp_not_for_us": Ether(src=SRC, dst=BC) / ARP(op=1, hwsrc=SRC, psrc="10.99.0.9", pdst="10.99.0.77"),
        }
    elif kind == "ghost":
        # from a container's eth0: COUNT UDP frames to DSTMAC/DSTIP, port 7777, at once
        mymac, myip, dstmac, dstip, count = args
        sendp([Ether(src=mymac, dst=dstmac) / IP(src=myip, dst=dstip) /
               UDP(sport=40000 + i, dport=7777) / Raw(b"vxmesh-ctldrop") for i in range(int(count))],
              iface=iface, verbose=False)
        print("sent %s frames to %s on %s" % (count, dstip, iface))
        return 0
    else:
        # from a container's eth0 into its access port
        mymac, myip, names = args
        peer_mac, peer_ip = "02:42:0a:00:01:03", "10.0.1.3"
        pk = {
            "unknown_source": Ether(src="02:42:0a:00:01:63", dst=peer_mac) / IP(src="10.0.1.99", dst=peer_ip) / ICMP(),
            "flood_suppressed": Ether(src=mymac, dst=BC) / IP(src=myip, dst="10.0.1.255") /
                UDP(sport=5555, dport=5555) / Raw(b"vxmesh-capture-test"),
            "arp_unknown_target": Ether(src=mymac, dst=BC) / ARP(op=1, hwsrc=mymac, psrc=myip, pdst="10.0.1.99"),
            "arp_gratuitous": Ether(src=mymac, dst=BC) / ARP(op=1, hwsrc=mymac, psrc=myip, pdst=myip),
            "arp_not_request": Ether(src=mymac, dst=peer_mac) / ARP(op=2, hwsrc=mymac, psrc=myip,
                                                                 hwdst=peer_mac, pdst=peer_ip),
            "arp_malformed": Ether(src=mymac, dst=BC) / ARP(op=1, ptype=0x86dd, hwsrc=mymac, psrc=myip, pdst="10.0.1.99"),
            "l2_unknown_destination": Ether(src=mymac, dst="02:42:0a:00:01:63") / IP(src=myip, dst="10.0.1.99") / ICMP(),
        }
    for n in names.split(","):
        sendp(pk[n], iface=iface, verbose=False)
    print("sent %s on %s" % (names, iface))
    return 0

if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    f = {"q": q, "wait-running": wait_running, "wait-written": wait_written, "wait-drop": wait_drop,
         "drops-delta": drops_delta, "send": send}[cmd]
    sys.exit(f(*a) or 0)
PYEOF

ctl() { timeout 30 "$CTL" "$@"; }
q() { timeout 30 "$LAB_PY" "$PYH" q "$@"; }
gen_of() { q "$1" '{"op":"get"}' 'd["result"]["generation"]'; }
running_of() { q "$1" '{"op":"capture_status"}' 'd["result"]["running"]'; }
one_line() { tr '\n' '|' <<<"$1" | cut -c1-400; }
now() { date +%s.%N; }

# xfail VAR NAME WHY: a known vxmesh bug: XFAIL (not counted) unless $VAR is 0.
xfail() {
    if [ "${!1:-1}" = 1 ]; then echo "XFAIL: $2: $3 (known vxmesh bug; $1=0 counts it)"
    else fail "$2" "$3"; fi
}

# cap_bg TAG DIR ARGS...: `vxmeshctl ARGS` in the background in the root namespace (it
# only talks to the socket), working directory DIR; stdout in $CAPDIR/TAG.out, stderr
# in $CAPDIR/TAG.err; its PID in CAP_PID (recorded by the lab, so cleanup stops it).
cap_bg() {
    local tag=$1 dir=$2; shift 2
    rm -f "$CAPDIR/$tag.out" "$CAPDIR/$tag.err"
    # shellcheck disable=SC2016
    lab_bg - "$CAPDIR/$tag.out" bash -c 'cd "$1" || exit 99; f=$2; shift 2; exec "$@" 2>"$f"' \
        _ "$dir" "$CAPDIR/$tag.err" "$CTL" "$@"
    CAP_PID=$LAB_LAST_PID
    CAP_TAG=$tag
}

# cap_started SOCK FILE [json]: wait until the capture writing FILE runs (capture_status,
# polled) and, unless json, until vxmeshctl printed its "capturing on" line.
cap_started() {
    local out i
    if ! out=$(timeout 20 "$LAB_PY" "$PYH" wait-running "$1" "$2" "$CAP_PID" 15); then
        echo "$out; vxmeshctl: $(one_line "$(cat "$CAPDIR/$CAP_TAG.err" "$CAPDIR/$CAP_TAG.out" 2>/dev/null)")"
        return 1
    fi
    [ "${3:-}" = json ] && return 0
    for ((i = 0; i < 100; i++)); do
        grep -q '^capturing on ' "$CAPDIR/$CAP_TAG.err" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "running, but no 'capturing on' line: $(one_line "$(cat "$CAPDIR/$CAP_TAG.err")")"
    return 1
}

# cap_finish TIMEOUT: wait for the background vxmeshctl to exit; its status in CAP_RC.
# On timeout: SIGINT (vxmeshctl stops the capture), then SIGTERM/SIGKILL; returns 1.
cap_finish() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        _lab_alive "$CAP_PID" || break
        sleep 0.1
    done
    if _lab_alive "$CAP_PID"; then
        kill -INT "$CAP_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do _lab_alive "$CAP_PID" || break; sleep 0.1; done
        lab_kill "$CAP_PID"
        CAP_RC=timeout
        return 1
    fi
    wait "$CAP_PID" 2>/dev/null
    CAP_RC=$?
    return 0
}
cap_out() { cat "$CAPDIR/$CAP_TAG.out" 2>/dev/null; }

# tsf FILE TSHARK-ARGS...: tshark -r FILE ...; its stderr, without the running-as-root
# warning, in $LAB_DIR/ts.err; fails when tshark does.
tsf() {
    local f=$1 rc; shift
    tshark -r "$f" "$@" 2>"$LAB_DIR/ts.err.raw"
    rc=$?
    grep -v '^Running as user' "$LAB_DIR/ts.err.raw" >"$LAB_DIR/ts.err"
    return "$rc"
}
VX=(-d 'udp.port==4789,vxlan')
BAD_FILTER='_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == "Bad" || icmp.checksum.status == "Bad"'

_first_ts() {
    local t
    t=$(tsf "$1" -T fields -e frame.time_epoch | head -n 1)
    echo "$t ($(date -u -d "@${t%.*}" +%FT%TZ 2>/dev/null))"
}
# check_times NAME FILE T0 T1 [XFAIL_VAR]: every frame's timestamp within [T0-1, T1+1].
check_times() {
    local name=$1 f=$2 t0=$3 t1=$4 bad
    bad=$(tsf "$f" -T fields -e frame.time_epoch | awk -v a="$t0" -v b="$t1" '$1 < a - 1 || $1 > b + 1' | head -n 3)
    if [ -z "$bad" ] && [ -s "$f" ]; then
        pass "$name: frame timestamps lie within the capture's wall-clock window"
    elif [ -n "${5:-}" ]; then
        xfail "$5" "$name: frame timestamps lie within the capture's wall-clock window" \
            "window $(date -u -d "@${t0%.*}" +%FT%TZ) +$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s; first frame at $(_first_ts "$f")"
    else
        fail "$name: frame timestamps lie within the capture's wall-clock window" "window $t0..$t1, frames at: $(one_line "$bad")"
    fi
}

# ---------------------------------------------------------------------------------
echo "--- 0. baseline"
check "baseline: ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
r=$(running_of "$SOCK1")
[ "$r" = False ] && pass "capture_status on node1: no capture running" || fail "capture_status: no capture running" "running=$r"

# ---------------------------------------------------------------------------------
echo "--- 1. a ping across the overlay"
F=$CAPDIR/c1-rx.pcapng
G=$(gen_of "$SOCK1")
T0=$(now)
cap_bg c1rx "$LAB_DIR" -s "$SOCK1" capture --port c1 --count 3 --filter icmp -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    pass "capture --port c1 --count 3 --filter icmp: started ($(head -n 1 "$CAPDIR/c1rx.err"))"
else
    fatal "capture --port c1 --count 3 --filter icmp: started" "$why"
fi
g=$(gen_of "$SOCK1")
[ "$g" = $((G + 1)) ] && pass "starting a capture publishes a generation ($G -> $g)" || fail "starting a capture publishes a generation" "$G -> $g"
check "ping node1/c1 -> node2/c1 (5 echo requests) during the capture" lab_exec node1-c1 ping -n -c 5 -i 0.2 -W 2 10.0.1.3
cap_finish 15
T1=$(now)
out=$(cap_out)
if [ "$CAP_RC" = 0 ] && [[ $out =~ ^3\ packets\ captured\ \(([0-9]+)\ seen\)\ to\ $F$ ]] && [ "${BASH_REMATCH[1]}" -ge 3 ]; then
    pass "capture --count 3 returned by itself: '$out'"
else
    fail "capture --count 3 returns '3 packets captured (N seen) to $F'" "exit $CAP_RC: $(one_line "$out$(cat "$CAPDIR/c1rx.err")")"
fi
g=$(gen_of "$SOCK1")
[ "$g" = $((G + 2)) ] && pass "the capture's end publishes a generation ($G -> $g)" || fail "the capture's end publishes a generation" "$G -> $g (want $((G + 2)))"
[ "$(running_of "$SOCK1")" = False ] && pass "capture_status after --count is reached: not running" || fail "capture_status after --count" "still running"
rows=$(tsf "$F" -T fields -E separator=' ' -e icmp.type -e ip.src -e ip.dst -e eth.src -e frame.interface_name -e frame.packet_flags_direction -e icmp.seq)
tsrc=$?
want=""
for s in 1 2 3; do want+="8 10.0.1.2 10.0.1.3 $C1_MAC c1 0x00000001 $s"$'\n'; done
if [ "$tsrc" = 0 ] && [ -z "$(cat "$LAB_DIR/ts.err")" ] && [ "$rows"$'\n' = "$want" ]; then
    pass "c1 rx file: exactly echo requests 1, 2, 3 from 10.0.1.2 ($C1_MAC) to 10.0.1.3, inbound on c1"
else
    fail "c1 rx file: exactly 3 echo requests 10.0.1.2 -> 10.0.1.3" "tshark exit $tsrc ($(one_line "$(cat "$LAB_DIR/ts.err")")): $(one_line "$rows")"
fi
comment=$(tsf "$F" -T fields -e frame.comment | grep -c .)
[ "$comment" = 0 ] && pass "c1 rx file: no packet comments (they are for drops)" || fail "c1 rx file: no packet comments" "$comment frames carry one"
check_times "c1 rx file" "$F" "$T0" "$T1" CAPTURE_TS_XFAIL

# The same ping, as node1 sends it to node2 on the underlay.
F=$CAPDIR/ul-tx.pcapng
G=$(gen_of "$SOCK1")
T0=$(now)
cap_bg ultx "$LAB_DIR" -s "$SOCK1" --format json capture --port underlay --direction tx --count 3 \
    --filter 'udp dst port 4789' -w "$F"
if why=$(cap_started "$SOCK1" "$F" json); then pass "capture --port underlay --direction tx --format json: started"
else fatal "capture --port underlay --direction tx: started" "$why"; fi
check "ping node1/c1 -> node2/c1 during the underlay capture" lab_exec node1-c1 ping -n -c 5 -i 0.2 -W 2 10.0.1.3
cap_finish 15
T1=$(now)
out=$(cap_out)
js=$("$LAB_PY" -c 'import json, sys
d = json.loads(sys.stdin.read())
print(d["written"], d["seen"] >= d["written"], d["file"], d["port"], d["direction"], d["done"])' <<<"$out" 2>&1)
if [ "$CAP_RC" = 0 ] && [ "$js" = "3 True $F underlay tx True" ]; then
    pass "--format json: {written: 3, seen >= 3, file: $F, port: underlay, direction: tx, done: true}"
else
    fail "--format json capture output" "exit $CAP_RC: $(one_line "$out") -> $js"
fi
g=$(gen_of "$SOCK1")
[ "$g" = $((G + 2)) ] && pass "underlay capture: two generations published ($G -> $g)" || fail "underlay capture: two generations" "$G -> $g"
rows=$(tsf "$F" "${VX[@]}" -T fields -E separator=' ' -E aggregator=' ' -e frame.interface_name -e frame.packet_flags_direction \
    -e eth.src -e eth.dst -e ip.src -e ip.dst -e udp.dstport -e vxlan.flags -e vxlan.vni -e icmp.type -e icmp.seq)
tsrc=$?
want=""
for s in 1 2 3; do
    want+="ul 0x00000002 $UL_MAC1 $C1_MAC $UL_MAC2 02:42:0a:00:01:03 10.99.0.1 10.0.1.2 10.99.0.2 10.0.1.3 4789 0x0800 4097 8 $s"$'\n'
done
if [ "$tsrc" = 0 ] && [ "$rows"$'\n' = "$want" ]; then
    pass "underlay tx file: 3 VXLAN frames, VNI 4097, I flag, $UL_MAC1/10.99.0.1 -> $UL_MAC2/10.99.0.2, inner echo requests 1..3 10.0.1.2 -> 10.0.1.3, outbound on ul"
else
    fail "underlay tx file: VXLAN VNI 4097 around the echo requests" "tshark exit $tsrc: $(one_line "$rows")"
fi
c=$(tsf "$F" "${VX[@]}" -o ip.check_checksum:TRUE -o icmp.check_checksum:TRUE -Y "$BAD_FILTER" -T fields -e frame.number | grep -c .)
[ "$c" = 0 ] && pass "underlay tx file: nothing malformed, outer IPv4 and inner ICMP checksums good" || fail "underlay tx file: nothing malformed" "$c bad frames"
check_times "underlay tx file" "$F" "$T0" "$T1" CAPTURE_TS_XFAIL

# --snaplen: the copy is cut, the original length kept (rx here, drop below).
F=$CAPDIR/snap.pcapng
cap_bg snap "$LAB_DIR" -s "$SOCK1" capture --port c1 --count 1 --filter icmp --snaplen 64 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    lab_exec node1-c1 ping -n -c 1 -s 500 -W 2 10.0.1.3 >/dev/null 2>&1
    cap_finish 15
    rows=$(tsf "$F" -T fields -E separator=' ' -e frame.cap_len -e frame.len -e icmp.type)
    if [ "$CAP_RC" = 0 ] && [[ $rows == "64 "*" 8" ]]; then pass "rx --snaplen 64: the 542-byte echo request is written as 64 bytes"
    else fail "rx --snaplen 64: the echo request is cut to 64 bytes" "exit $CAP_RC, frames: $(one_line "$rows")"; fi
    if [ "$rows" = "64 542 8" ]; then pass "rx --snaplen 64: the original length 542 is recorded"
    else xfail CAPTURE_SNAPLEN_XFAIL "rx --snaplen 64: the original length 542 is recorded" "cap_len, len, icmp.type: $rows"; fi
else
    fail "rx --snaplen 64: capture started" "$why"
fi
F=$CAPDIR/snap-drop.pcapng
cap_bg snapdrop "$LAB_DIR" -s "$SOCK1" capture --port c1 --direction drop --count 1 --snaplen 20 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    lab_exec node1-c1 "$LAB_PY" "$PYH" send access eth0 "$C1_MAC" 10.0.1.2 arp_unknown_target >/dev/null 2>&1
    cap_finish 15
    rows=$(tsf "$F" -T fields -E separator=' ' -e frame.cap_len -e frame.len -e frame.comment)
    if [ "$CAP_RC" = 0 ] && [ "$rows" = "20 42 drop: arp_unknown_target" ]; then pass "drop --snaplen 20: a 42-byte ARP request is written as 20 bytes, original length 42"
    else fail "drop --snaplen 20" "exit $CAP_RC, frames: $(one_line "$rows")"; fi
else
    fail "drop --snaplen 20: capture started" "$why"
fi

# ---------------------------------------------------------------------------------
echo "--- 2. drops, each reason"
# Noise: with IPv6 off in every lab namespace and only two VTEPs on the bridge, no
# drops happen on their own (checked: none in 8 s on either port). The underlay
# capture still selects the provoked frames by their source MAC, so that node1's and
# node2's own ARP exchanges could never count; the c1 capture has no filter.
UL_REASONS=(l2_not_for_us vxlan_unknown_vni vxlan_bad_flags vxlan_unknown_destination ip_not_for_us
    ip_bad_checksum ip_bad_header not_vxlan truncated unsupported_ethertype)
ACC_REASONS=(unknown_source flood_suppressed arp_unknown_target arp_gratuitous arp_not_request
    arp_malformed l2_unknown_destination)
UL_LIST=$(IFS=,; echo "${UL_REASONS[*]}")
ACC_LIST=$(IFS=,; echo "${ACC_REASONS[*]}")

# drop_capture NAME SOCK PORT IFNAME LIST SENDER-ARGS... [-- FILTER]
drop_capture() {
    local name=$1 sock=$2 port=$3 ifname=$4 list=$5; shift 5
    local filter=() sender=() a n
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then filter=(--filter "$2"); break; fi
        sender+=("$1"); shift
    done
    IFS=, read -r -a a <<<"$list"
    n=${#a[@]}
    local F=$CAPDIR/drop-$port-$name.pcapng
    ctl -s "$sock" --format json stats >"$CAPDIR/$name.stats0.json" || { fail "$name: stats before" "vxmeshctl stats failed"; return 1; }
    local t0 t1
    t0=$(now)
    cap_bg "drop-$name" "$LAB_DIR" -s "$sock" capture --port "$port" --direction drop --count "$n" "${filter[@]}" -w "$F"
    local why
    if ! why=$(cap_started "$sock" "$F"); then fail "$name: drop capture on $port started" "$why"; return 1; fi
    pass "$name: capture --port $port --direction drop --count $n ${filter[*]}: started"
    if ! why=$("${sender[@]}" 2>&1); then fail "$name: scapy sends $n frames" "$(one_line "$why")"; fi
    cap_finish 15
    t1=$(now)
    local out
    out=$(cap_out)
    if [ "$CAP_RC" = 0 ] && [[ $out == "$n packets captured ("*") to $F" ]]; then pass "$name: '$out'"
    else fail "$name: the capture ends after $n packets" "exit $CAP_RC: $(one_line "$out$(cat "$CAPDIR/drop-$name.err")")"; fi
    local got want
    got=$(tsf "$F" -T fields -e frame.comment | sort)
    want=$(printf 'drop: %s\n' "${a[@]}" | sort)
    if [ "$got" = "$want" ]; then pass "$name: frame.comment names each reason once: $(tr '\n' ',' <<<"$got" | sed 's/drop: //g; s/,$//')"
    else fail "$name: frame.comment names each reason once" "got: $(one_line "$got") want: $(one_line "$want")"; fi
    local r bad=""
    for r in "${a[@]}"; do grep -qx "drop: $r" <<<"$got" || bad+=" $r"; done
    [ -z "$bad" ] && pass "$name: every provoked reason appears in the file" || fail "$name: every provoked reason appears" "missing:$bad"
    got=$(tsf "$F" -T fields -e frame.interface_name -e frame.packet_flags_direction | sort -u | tr '\t' ' ')
    [ "$got" = "$ifname 0x00000001" ] && pass "$name: every frame on interface $ifname, inbound" || fail "$name: interface $ifname, inbound" "$(one_line "$got")"
    [ -z "$(cat "$LAB_DIR/ts.err")" ] && pass "$name: tshark reads the file without complaint" || fail "$name: tshark reads the file" "$(one_line "$(cat "$LAB_DIR/ts.err")")"
    check_times "$name" "$F" "$t0" "$t1"
    ctl -s "$sock" --format json stats >"$CAPDIR/$name.stats1.json"
    if got=$(timeout 30 "$LAB_PY" "$PYH" drops-delta "$CAPDIR/$name.stats0.json" "$CAPDIR/$name.stats1.json" "$list"); then
        pass "$name: drop counters moved by exactly one per provoked reason, no others ($got)"
    else
        fail "$name: drop counters match the capture" "moved: $got; provoked: $list"
    fi
    DROP_FILE=$F
}

drop_capture underlay "$SOCK2" underlay ul "$UL_LIST" \
    lab_exec ul "$LAB_PY" "$PYH" send underlay u-node2 "$UL_MAC2" 10.99.0.2 10.99.0.1 "$UL_LIST" \
    -- 'ether src 02:00:00:00:ca:fe'
if [ -n "${DROP_FILE:-}" ]; then
    rows=$(tsf "$DROP_FILE" "${VX[@]}" -Y 'frame.comment contains "vxlan_unknown_vni" || frame.comment contains "vxlan_bad_flags"' \
        -T fields -E separator=' ' -e frame.comment -e vxlan.vni -e vxlan.flags)
    [ "$rows" = "drop: vxlan_unknown_vni 999 0x0800"$'\n'"drop: vxlan_bad_flags 4097 0x0000" ] &&
        pass "underlay drops: the frames are the ones sent (VNI 999; flags 0x0000)" || fail "underlay drops: frame contents" "$(one_line "$rows")"
fi
DROP_FILE=
drop_capture access "$SOCK1" c1 c1 "$ACC_LIST" \
    lab_exec node1-c1 "$LAB_PY" "$PYH" send access eth0 "$C1_MAC" 10.0.1.2 "$ACC_LIST"
if [ -n "${DROP_FILE:-}" ]; then
    rows=$(tsf "$DROP_FILE" -Y 'frame.comment contains "unknown_source"' -T fields -e eth.src)
    [ "$rows" = 02:42:0a:00:01:63 ] && pass "access drops: unknown_source is the frame from 02:42:0a:00:01:63" || fail "access drops: unknown_source frame" "$rows"
fi

# ---------------------------------------------------------------------------------
echo "--- 2b. drops counted on the neighbour service's thread"
# The neighbour service runs on its own lcore (2: after the control thread's 0 and the
# one worker's 1) and counts its own drops there.
# A ghost peer, node3 at 10.99.0.66, that nothing on the underlay answers ARP for, and
# a blue endpoint on it; node1/c1 sends it 20 UDP frames at once. Each is encapsulated
# toward node3 and held for its next hop: 16 are held (the limit), 4 dropped at once
# as neighbour_queue_full, the 16 dropped as neighbour_unresolved when the ARP retries
# run out (3 requests, 1 s apart). With them, an underlay ARP request for 10.99.0.77
# (arp_not_for_us). One drop capture on node1's underlay, without a filter, must hold
# exactly those 21 packets, each with its reason: the ARP inbound (it came in on ul),
# the held ones outbound (they were leaving by ul) and already encapsulated; then a
# drop capture on c1 holds the next two held packets, inbound (they came in on c1).
GHOST_IP=10.0.1.66
GHOST_MAC=02:42:0a:00:01:42
out=$(ctl -s "$SOCK1" peer add node3 10.99.0.66 2>&1) && out2=$(ctl -s "$SOCK1" endpoint attach ghost --network blue --ip $GHOST_IP --node node3 2>&1)
if [ $? = 0 ]; then pass "node1: peer node3 (10.99.0.66, never answers) and endpoint ghost ($GHOST_IP) on it added"
else fail "node1: ghost peer and endpoint added" "$(one_line "$out ${out2:-}")"; fi

F=$CAPDIR/drop-ctl-underlay.pcapng
ctl -s "$SOCK1" --format json stats >"$CAPDIR/ctl.stats0.json"
T0=$(now)
cap_bg ctlul "$LAB_DIR" -s "$SOCK1" capture --port underlay --direction drop --count 21 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    pass "control-thread drops: capture --port underlay --direction drop --count 21 (no filter): started"
    lab_exec ul "$LAB_PY" "$PYH" send underlay u-node1 "$UL_MAC1" 10.99.0.1 10.99.0.2 arp_not_for_us >/dev/null 2>&1 ||
        fail "scapy: ARP for 10.99.0.77 sent to node1" "send failed"
    lab_exec node1-c1 "$LAB_PY" "$PYH" send ghost eth0 "$C1_MAC" 10.0.1.2 "$GHOST_MAC" $GHOST_IP 20 >/dev/null 2>&1 ||
        fail "scapy: 20 frames to the ghost endpoint sent from node1/c1" "send failed"
    cap_finish 20
    T1=$(now)
    out=$(cap_out)
    if [ "$CAP_RC" = 0 ] && [[ $out == "21 packets captured ("*") to $F" ]]; then pass "control-thread drops: '$out'"
    else fail "control-thread drops: the capture ends after 21 packets" "exit $CAP_RC: $(one_line "$out$(cat "$CAPDIR/ctlul.err")")"; fi
    got=$(tsf "$F" -T fields -E separator=' ' -e frame.comment -e frame.interface_name -e frame.packet_flags_direction |
        sort | uniq -c | sed 's/^ *//' | sort -k3)
    want="1 drop: arp_not_for_us ul 0x00000001
4 drop: neighbour_queue_full ul 0x00000002
16 drop: neighbour_unresolved ul 0x00000002"
    if [ "$got" = "$want" ]; then
        pass "control-thread drops on ul: 1 arp_not_for_us (inbound), 4 neighbour_queue_full and 16 neighbour_unresolved (outbound), in frame.comment"
    else
        fail "control-thread drops on ul: reasons, interface and direction" "got: $(one_line "$got") want: $(one_line "$want")"
    fi
    [ -z "$(cat "$LAB_DIR/ts.err")" ] && pass "control-thread drops: tshark reads the file without complaint" ||
        fail "control-thread drops: tshark reads the file" "$(one_line "$(cat "$LAB_DIR/ts.err")")"
    rows=$(tsf "$F" -Y 'arp' -T fields -E separator=' ' -e frame.comment -e eth.src -e arp.src.proto_ipv4 -e arp.dst.proto_ipv4)
    [ "$rows" = "drop: arp_not_for_us 02:00:00:00:ca:fe 10.99.0.9 10.99.0.77" ] &&
        pass "control-thread drops: arp_not_for_us is the request for 10.99.0.77 as received" || fail "control-thread drops: the ARP frame" "$(one_line "$rows")"
    rows=$(tsf "$F" "${VX[@]}" -Y 'vxlan' -T fields -E separator=' ' -E aggregator=' ' -e eth.src -e ip.src -e ip.dst \
        -e vxlan.vni -e udp.dstport | sort | uniq -c | sed 's/^ *//')
    [ "$rows" = "20 $UL_MAC1 $C1_MAC 10.99.0.1 10.0.1.2 10.99.0.66 $GHOST_IP 4097 4789 7777" ] &&
        pass "control-thread drops: the 20 held packets are VXLAN from $UL_MAC1/10.99.0.1 to 10.99.0.66, VNI 4097, around UDP 10.0.1.2 -> $GHOST_IP:7777" ||
        fail "control-thread drops: the held packets, encapsulated" "$(one_line "$rows")"
    check_times "control-thread drops" "$F" "$T0" "$T1"
    ctl -s "$SOCK1" --format json stats >"$CAPDIR/ctl.stats1.json"
    list=arp_not_for_us$(printf ',neighbour_queue_full%.0s' 1 2 3 4)$(printf ',neighbour_unresolved%.0s' $(seq 16))
    if got=$(timeout 30 "$LAB_PY" "$PYH" drops-delta "$CAPDIR/ctl.stats0.json" "$CAPDIR/ctl.stats1.json" "$list"); then
        pass "control-thread drops: node1's drop counters moved by exactly those 21, no others ($got)"
    else
        fail "control-thread drops: drop counters match the capture" "moved: $got"
    fi
    if got=$(timeout 30 "$LAB_PY" "$PYH" drops-delta "$CAPDIR/ctl.stats0.json" "$CAPDIR/ctl.stats1.json" "$list" 2); then
        pass "neighbour-service drops: all 21 counted on lcore 2, the neighbour service's ($got)"
    else
        fail "neighbour-service drops: counted on the neighbour service's lcore (2)" "moved there: $got"
    fi
else
    fail "control-thread drops: capture on underlay started" "$why"
fi

F=$CAPDIR/drop-ctl-c1.pcapng
cap_bg ctlc1 "$LAB_DIR" -s "$SOCK1" capture --port c1 --direction drop --count 2 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    lab_exec node1-c1 "$LAB_PY" "$PYH" send ghost eth0 "$C1_MAC" 10.0.1.2 "$GHOST_MAC" $GHOST_IP 2 >/dev/null 2>&1 ||
        fail "scapy: 2 frames to the ghost endpoint sent from node1/c1" "send failed"
    cap_finish 20
    out=$(cap_out)
    got=$(tsf "$F" "${VX[@]}" -T fields -E separator=' ' -e frame.comment -e frame.interface_name -e frame.packet_flags_direction \
        -e vxlan.vni -e ip.dst | sort | uniq -c | sed 's/^ *//')
    if [ "$CAP_RC" = 0 ] && [ "$got" = "2 drop: neighbour_unresolved c1 0x00000001 4097 10.99.0.66,$GHOST_IP" ]; then
        pass "control-thread drops on c1: the 2 held packets from c1, neighbour_unresolved, inbound on c1 ('$out')"
    else
        fail "control-thread drops on c1: 2 neighbour_unresolved inbound on c1" "exit $CAP_RC, '$(one_line "$out")': $(one_line "$got")"
    fi
else
    fail "control-thread drops: capture on c1 started" "$why"
fi
out=$(ctl -s "$SOCK1" endpoint detach ghost 2>&1) && out2=$(ctl -s "$SOCK1" peer rm node3 2>&1)
[ $? = 0 ] && pass "node1: ghost endpoint and peer node3 removed" || fail "node1: ghost endpoint and peer removed" "$(one_line "$out ${out2:-}")"

# ---------------------------------------------------------------------------------
echo "--- 3. one capture at a time; SIGINT"
F=$CAPDIR/int.pcapng
G=$(gen_of "$SOCK1")
cap_bg int "$LAB_DIR" -s "$SOCK1" capture --port c1 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then pass "capture --port c1 without --count: started ($(head -n 1 "$CAPDIR/int.err"))"
else fatal "capture without --count: started" "$why"; fi
g=$(gen_of "$SOCK1")
out=$(ctl -s "$SOCK1" capture --port c2 --count 1 -w "$CAPDIR/second.pcapng" 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ $out == *"a capture is already running"* ]]; then pass "a second capture is refused (exit $rc: $out)"
else fail "a second capture is refused with 'a capture is already running'" "exit $rc: $(one_line "$out")"; fi
[ ! -e "$CAPDIR/second.pcapng" ] && pass "the refused capture created no file" || fail "the refused capture created no file" "$(ls -la "$CAPDIR/second.pcapng")"
[ "$(gen_of "$SOCK1")" = "$g" ] && pass "the refused capture published nothing (generation $g)" || fail "the refused capture published nothing" "$g -> $(gen_of "$SOCK1")"
st=$(q "$SOCK1" '{"op":"capture_status"}' 'd["result"]["running"] and d["result"]["file"]')
[ "$st" = "$F" ] && pass "capture_status: the first capture is still the one running" || fail "capture_status: first capture still running" "$st"
_lab_alive "$CAP_PID" && pass "the first vxmeshctl is still capturing" || fail "the first vxmeshctl is still capturing" "it exited: $(one_line "$(cap_out)")"
check "ping node1/c1 -> node2/c1 (3 echo requests) during the open-ended capture" lab_exec node1-c1 ping -n -c 3 -i 0.2 -W 2 10.0.1.3
kill -INT "$CAP_PID"
cap_finish 10
out=$(cap_out)
if [ "$CAP_RC" = 0 ] && [[ $out =~ ^([0-9]+)\ packets\ captured\ \(([0-9]+)\ seen\)\ to\ $F$ ]]; then
    NW=${BASH_REMATCH[1]}
    pass "SIGINT: vxmeshctl stops the capture and exits 0: '$out'"
else
    NW=-1
    fail "SIGINT: vxmeshctl stops the capture and exits 0" "exit $CAP_RC: $(one_line "$out$(cat "$CAPDIR/int.err")")"
fi
[ "$(running_of "$SOCK1")" = False ] && pass "SIGINT: capture_status says not running" || fail "SIGINT: capture_status not running" "still running"
g2=$(gen_of "$SOCK1")
[ "$g" = $((G + 1)) ] && [ "$g2" = $((G + 2)) ] && pass "open-ended capture: start and stop each published a generation ($G -> $g -> $g2)" ||
    fail "open-ended capture: generations" "$G -> $g -> $g2"
frames=$(tsf "$F" -T fields -e frame.number); tsrc=$?
nframes=$(grep -c . <<<"$frames")
if [ "$tsrc" = 0 ] && [ -z "$(cat "$LAB_DIR/ts.err")" ]; then pass "SIGINT: tshark reads the pcapng without error ($nframes frames)"
else fail "SIGINT: the file is valid pcapng" "tshark exit $tsrc: $(one_line "$(cat "$LAB_DIR/ts.err")")"; fi
[ "$nframes" = "$NW" ] && pass "SIGINT: the file holds the $NW packets reported" || fail "SIGINT: the file holds the packets reported" "$nframes frames, reported $NW"
seqs=$(tsf "$F" -Y 'icmp.type == 8 && ip.src == 10.0.1.2 && ip.dst == 10.0.1.3' -T fields -e icmp.seq | tr '\n' ' ')
[ "$seqs" = "1 2 3 " ] && pass "SIGINT: the echo requests received before it are all written (1 2 3)" || fail "SIGINT: echo requests written" "seq: '$seqs'"

# A vxmeshctl that dies of SIGHUP (its terminal closed) should not leave a capture behind.
F=$CAPDIR/hup.pcapng
cap_bg hup "$LAB_DIR" -s "$SOCK1" capture --port c2 -w "$F"
if why=$(cap_started "$SOCK1" "$F"); then
    kill -HUP "$CAP_PID"
    cap_finish 10
    st=""
    for ((i = 0; i < 20; i++)); do # up to 2 s for vxmesh to notice the closed connection
        st=$(running_of "$SOCK1")
        [ "$st" = False ] && break
        sleep 0.1
    done
    if [ "$st" = False ]; then pass "vxmeshctl killed by SIGHUP (exit $CAP_RC): its capture is gone"
    else
        xfail CAPTURE_ORPHAN_XFAIL "vxmeshctl killed by SIGHUP (exit $CAP_RC): its capture is gone" \
            "still running 2 s later, refusing every new capture; only a raw capture_stop ends it"
        r=$(q "$SOCK1" '{"op":"capture_stop"}' 'd["ok"] and not d["result"]["running"]')
        [ "$r" = True ] && pass "the orphaned capture ends with a raw capture_stop request" || fail "raw capture_stop" "$r"
    fi
else
    fail "capture for the SIGHUP check started" "$why"
fi

# ---------------------------------------------------------------------------------
echo "--- 4. bad filter, relative -w"
G=$(gen_of "$SOCK1")
for expr in 'icmp and and' 'port nonsense'; do
    out=$(ctl -s "$SOCK1" capture --port c1 --count 1 --filter "$expr" -w "$CAPDIR/badfilter.pcapng" 2>&1); rc=$?
    if [ "$rc" != 0 ] && [[ $out == *filter* ]]; then pass "--filter '$expr' is refused: exit $rc, '$out'"
    else fail "--filter '$expr' is refused naming the filter" "exit $rc: $(one_line "$out")"; fi
done
[ ! -e "$CAPDIR/badfilter.pcapng" ] && pass "bad filters: no file created" || fail "bad filters: no file created" "$(ls -la "$CAPDIR/badfilter.pcapng")"
g=$(gen_of "$SOCK1")
[ "$g" = "$G" ] && [ "$(running_of "$SOCK1")" = False ] && pass "bad filters: nothing published (generation $G), no capture running" ||
    fail "bad filters: nothing published" "$G -> $g, running $(running_of "$SOCK1")"
out=$(ctl -s "$SOCK1" capture --port c1 --count 1 -w "$CAPDIR/nosuchdir/x.pcapng" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *nosuchdir* ]] && pass "-w into a missing directory is refused: '$out'" || fail "-w into a missing directory" "exit $rc: $(one_line "$out")"

mkdir -p "$CAPDIR/rel"
cap_bg rel "$CAPDIR/rel" -s "$SOCK1" capture --port c1 --count 1 --filter icmp -w rel.pcapng
if why=$(cap_started "$SOCK1" "$CAPDIR/rel/rel.pcapng"); then
    pass "-w rel.pcapng from $CAPDIR/rel: vxmesh was given $CAPDIR/rel/rel.pcapng"
    lab_exec node1-c1 ping -n -c 1 -W 2 10.0.1.3 >/dev/null 2>&1
    cap_finish 15
    out=$(cap_out)
    rows=$(tsf "$CAPDIR/rel/rel.pcapng" -T fields -E separator=' ' -e icmp.type -e ip.src -e ip.dst)
    [ "$CAP_RC" = 0 ] && [[ $out == "1 packets captured ("*") to $CAPDIR/rel/rel.pcapng" ]] &&
        [ "$rows" = "8 10.0.1.2 10.0.1.3" ] && pass "-w rel.pcapng: the echo request is in $CAPDIR/rel/rel.pcapng ('$out')" ||
        fail "-w rel.pcapng" "exit $CAP_RC: $(one_line "$out"); frames: $(one_line "$rows")"
else
    fail "-w rel.pcapng: capture started with the resolved path" "$why"
fi
cap_bg rel2 "$CAPDIR" -s "$SOCK1" capture --port c1 -w rel/../rel/two.pcapng
if why=$(cap_started "$SOCK1" "$CAPDIR/rel/two.pcapng"); then
    pass "-w rel/../rel/two.pcapng from $CAPDIR: vxmesh was given $CAPDIR/rel/two.pcapng"
    kill -INT "$CAP_PID"
    cap_finish 10
    tsf "$CAPDIR/rel/two.pcapng" -T fields -e frame.number >/dev/null && [ "$CAP_RC" = 0 ] &&
        pass "-w rel/../rel/two.pcapng: valid pcapng after SIGINT" || fail "-w rel/../rel/two.pcapng: valid pcapng" "exit $CAP_RC; $(one_line "$(cat "$LAB_DIR/ts.err")")"
else
    fail "-w rel/../rel/two.pcapng: capture started with the resolved path" "$why"
fi

# ---------------------------------------------------------------------------------
for s in "$SOCK1" "$SOCK2"; do
    n=$(q "$s" '{"op":"stats"}' 'd["result"]["capture_lost"]')
    [ "$n" = 0 ] && pass "capture_lost is 0 on $(basename "$s" .sock)" || fail "capture_lost is 0 on $(basename "$s" .sock)" "$n"
done
check "after all captures: ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?; log tail: $(tail -n 3 "$LAB_DIR/$n.log" | tr '\n' '|')"; fi
done
echo "runtime: $(($(date +%s) - T_START)) s"
t_end
