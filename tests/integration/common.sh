# shellcheck shell=bash
# Shared helpers for tests/integration/*.sh. Source it, then call t_begin NAME.
# Each assertion prints one line, "PASS: name" or "FAIL: name: why"; t_end exits
# non-zero when any assertion failed. tests/integration/run_all.sh counts those lines.

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LAB_ROOT=$T_ROOT
# shellcheck source=tools/lab/lab.sh
. "$T_ROOT/tools/lab/lab.sh"
# shellcheck source=tools/lab/topology.sh
. "$T_ROOT/tools/lab/topology.sh"

T_PASSED=0
T_FAILED=0
T_NAME="test"

t_begin() { T_NAME=$1; echo "=== $T_NAME (pid $$)"; }

pass() { echo "PASS: $1"; T_PASSED=$((T_PASSED + 1)); }

fail() { echo "FAIL: $1: $2"; T_FAILED=$((T_FAILED + 1)); }

# check NAME CMD...: PASS if CMD exits 0, else FAIL with the tail of its output.
check() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "'$*' exited $?: $(printf '%s' "$out" | tail -n 3 | tr '\n' '|')"
    fi
}

# check_not NAME CMD...: PASS if CMD fails.
check_not() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then
        fail "$name" "'$*' unexpectedly succeeded: $(printf '%s' "$out" | tail -n 2 | tr '\n' '|')"
    else
        pass "$name"
    fi
}

# fatal NAME WHY: a FAIL that makes the rest of the test pointless; exits (cleanup runs).
fatal() { fail "$1" "$2"; t_end; }

t_end() {
    echo "--- $T_NAME: $T_PASSED passed, $T_FAILED failed"
    [ "$T_FAILED" = 0 ] && exit 0
    exit 1
}

# require_vxmesh: the vxmesh binary must exist. A FAIL unless LAB_SKIP_MISSING_VXMESH=1,
# which turns it into a SKIP line and exit 0 (for running the lab before vxmesh is built).
require_vxmesh() {
    [ -x "$VXMESH_BIN" ] && return 0
    if [ "${LAB_SKIP_MISSING_VXMESH:-0}" = 1 ]; then
        echo "SKIP: $T_NAME: vxmesh binary not found at $VXMESH_BIN"
        exit 0
    fi
    fatal "$T_NAME: vxmesh binary" "not found at $VXMESH_BIN (build with ninja -C build, or set VXMESH_BIN)"
}

# ping_ok NODE CNAME IP: 3 echo requests from container NODE-CNAME; success if replies came.
ping_ok() {
    lab_exec "$1-$2" ping -n -c 3 -i 0.3 -W 2 "$3"
}

# ping_fails NODE CNAME IP: 3 echo requests that must all go unanswered.
ping_fails() {
    ! lab_exec "$1-$2" ping -n -c 3 -i 0.3 -W 1 "$3"
}

# tcp_transfer NAME SRC_NODE SRC_C DST_NODE DST_C DST_IP BYTES [PORT]: random data of
# BYTES bytes sent with socat over TCP; PASS when the received sha256 matches.
tcp_transfer() {
    local name=$1 sn=$2 sc=$3 dn=$4 dc=$5 dip=$6 bytes=$7 port=${8:-5001}
    local tag
    tag=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_')
    local in="$LAB_DIR/$tag.in" out="$LAB_DIR/$tag.out" t0 t1
    head -c "$bytes" /dev/urandom >"$in"
    rm -f "$out"
    lab_bg "$dn-$dc" "$LAB_DIR/$tag.listener.log" \
        timeout 120 socat -u "TCP-LISTEN:$port,reuseaddr" "CREATE:$out"
    local lpid=$LAB_LAST_PID
    if ! lab_wait_listen "$dn-$dc" "$port" 10; then
        lab_kill "$lpid"
        fail "$name" "listener on $dn-$dc:$port did not come up: $(tail -n 2 "$LAB_DIR/$tag.listener.log")"
        return 1
    fi
    t0=$(date +%s.%N)
    if ! timeout 90 ip netns exec "$(lab_ns "$sn-$sc")" socat -u "OPEN:$in" "TCP:$dip:$port,connect-timeout=5" \
        >"$LAB_DIR/$tag.sender.log" 2>&1; then
        lab_kill "$lpid"
        fail "$name" "sender failed: $(tail -n 2 "$LAB_DIR/$tag.sender.log" | tr '\n' '|')"
        return 1
    fi
    # The listener exits once it has the EOF; give it a bounded time to finish.
    local i
    for ((i = 0; i < 300; i++)); do
        _lab_alive "$lpid" || break
        sleep 0.1
    done
    lab_kill "$lpid"
    t1=$(date +%s.%N)
    local s1 s2
    s1=$(sha256sum <"$in" | cut -d' ' -f1)
    s2=$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)
    local got
    got=$(stat -c %s "$out" 2>/dev/null || echo 0)
    if [ "$s1" = "$s2" ]; then
        pass "$name ($bytes bytes, sha256 ${s1:0:16}…, $(awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN{printf "%.1f MB/s", n/(b-a)/1e6}'))"
        rm -f "$in" "$out"
    else
        fail "$name" "sha256 mismatch: sent $bytes bytes ${s1:0:16}, received $got bytes ${s2:0:16}"
        return 1
    fi
}

# udp_transfer NAME SRC_NODE SRC_C DST_NODE DST_C DST_IP COUNT [PORT]: COUNT datagrams
# of 1 to 4000 bytes (the larger ones IPv4-fragmented by the sender's stack, which the
# af_packet PMD's fanout group has the kernel reassemble: vxmesh fragments them again), each
# carrying its number and bytes derived from it, sent with the kernel's default
# offloads; PASS when the receiver's socket got every one with the right content (the
# kernel drops a datagram whose UDP checksum is wrong before the socket sees it).
udp_transfer() {
    local name=$1 sn=$2 sc=$3 dn=$4 dc=$5 dip=$6 count=$7 port=${8:-6001}
    local tag
    tag=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_')
    local out="$LAB_DIR/$tag.udp"
    rm -f "$out"
    # Datagram i: 4-byte number then sha256("i") repeated, cut to a size that cycles
    # through small, exactly the MTU (1418 + 4 + 28 = 1450) and fragmented.
    local gen='
import hashlib, struct
def datagram(i):
    size = [1, 64, 700, 1418, 1422, 4000][i % 6]
    body = (hashlib.sha256(str(i).encode()).digest() * 200)[:size]
    return struct.pack("!I", i) + body
'
    lab_bg "$dn-$dc" "$out" "$LAB_PY" -c "$gen"'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("0.0.0.0", '"$port"'))
s.settimeout(10)
seen, bad = set(), 0
try:
    while len(seen) < '"$count"':
        d, _ = s.recvfrom(65535)
        i = struct.unpack("!I", d[:4])[0]
        if d == datagram(i): seen.add(i)
        else: bad += 1
except socket.timeout:
    pass
print("received", len(seen), "bad", bad, flush=True)
'
    local lpid=$LAB_LAST_PID i
    for ((i = 0; i < 100; i++)); do
        [ -n "$(lab_exec "$dn-$dc" ss -Hlun "sport = :$port" 2>/dev/null)" ] && break
        sleep 0.1
    done
    if ! timeout 60 ip netns exec "$(lab_ns "$sn-$sc")" "$LAB_PY" -c "$gen"'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range('"$count"'):
    s.sendto(datagram(i), ("'"$dip"'", '"$port"'))
    if i % 20 == 19: time.sleep(0.01)
' >"$LAB_DIR/$tag.sender.log" 2>&1; then
        lab_kill "$lpid"
        fail "$name" "sender failed: $(tail -n 2 "$LAB_DIR/$tag.sender.log" | tr '\n' '|')"
        return 1
    fi
    for ((i = 0; i < 150; i++)); do
        _lab_alive "$lpid" || break
        sleep 0.1
    done
    lab_kill "$lpid"
    if grep -q "^received $count bad 0$" "$out"; then
        pass "$name ($count datagrams, content checked)"
    else
        fail "$name" "receiver: $(tr '\n' ' ' <"$out")"
        return 1
    fi
}
