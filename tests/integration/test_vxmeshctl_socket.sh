#!/bin/bash
# vxmeshctl out of the box (issue 9, finding 17): without --socket or $VXMESH_SOCKET it
# talks to the only socket in /run/vxmesh (vxmesh serves /run/vxmesh/NODE.sock), names
# every candidate when there are several, and says "unknown command" for a typo. Runs
# in a private mount namespace with a tmpfs on /run/vxmesh, so the host's sockets are
# neither seen nor touched; small socat servers stand in for vxmesh. And vxmeshctl links
# neither DPDK nor yaml-cpp (issue 10: the model library is all it needs).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin vxmeshctl_socket
CTL=${VXMESHCTL_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/tools/vxmeshctl}
[ -x "$CTL" ] || fatal "vxmeshctl: built" "$CTL missing"
command -v socat >/dev/null || fatal "socat: installed" "socat missing"
mkdir -p /run/vxmesh
out=$(mktemp -d /tmp/vxctl$$.XXXXXX)
trap 'rm -rf "$out"' EXIT

# One script in a private mount namespace; it prints one line per case: NAME RC OUTPUT.
unshare -m bash -s "$CTL" "$out" <<'INNER'
CTL=$1 OUT=$2
mount -t tmpfs -o mode=0700 vxctl /run/vxmesh || exit 1
serve() { # serve PATH NAME: answers every request with a version naming NAME
    echo '{"ok": true, "id": 1, "result": {"version": "9.9.9", "commit": "'"$2"'"}}' >"$OUT/$2.json"
    socat UNIX-LISTEN:"$1",fork,mode=0600 SYSTEM:"read -r l; cat $OUT/$2.json" &
    for _ in $(seq 50); do [ -S "$1" ] && return; sleep 0.1; done
}
run() { local name=$1; shift; "$@" >"$OUT/$name.out" 2>&1; echo $? >"$OUT/$name.rc"; }
run none env -u VXMESH_SOCKET "$CTL" version
serve /run/vxmesh/node1.sock node1
run one env -u VXMESH_SOCKET "$CTL" version
run typo env -u VXMESH_SOCKET "$CTL" statz
serve /run/vxmesh/node2.sock node2
run two env -u VXMESH_SOCKET "$CTL" version
run env env VXMESH_SOCKET=/run/vxmesh/node2.sock "$CTL" version
run flag env VXMESH_SOCKET=/run/vxmesh/node2.sock "$CTL" --socket /run/vxmesh/node1.sock version
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null
INNER

rc() { cat "$out/$1.rc" 2>/dev/null; }
has() { grep -q -- "$2" "$out/$1.out" 2>/dev/null; }
check_case() { # NAME WANT_RC PATTERN DESCRIPTION
    if [ "$(rc "$1")" = "$2" ] && has "$1" "$3"; then pass "$4"
    else fail "$4" "exit $(rc "$1"), output: $(head -c 300 "$out/$1.out" 2>/dev/null)"; fi
}
check_case none 1 "no control socket in /run/vxmesh" "no socket: a clear error naming /run/vxmesh"
check_case one 0 "vxmesh 9.9.9 (node1)" "one socket: vxmeshctl finds /run/vxmesh/node1.sock by itself"
check_case typo 2 "unknown command 'statz'" "a typo: unknown command 'statz', not 'missing subcommand'"
check_case two 1 "node1.sock, /run/vxmesh/node2.sock" "two sockets: both named, none chosen"
check_case env 0 "(node2)" "VXMESH_SOCKET chooses node2"
check_case flag 0 "(node1)" "--socket wins over VXMESH_SOCKET"
libs=$(ldd "$CTL" 2>&1)
if ! echo "$libs" | grep -Eq 'librte_|libdpdk|libyaml-cpp' && echo "$libs" | grep -q 'libc.so'; then
    pass "ldd vxmeshctl: no DPDK library and no yaml-cpp ($(echo "$libs" | awk '{print $1}' | tr '\n' ' '))"
else
    fail "ldd vxmeshctl: no DPDK, no yaml-cpp" "$(echo "$libs" | grep -E 'librte_|libdpdk|libyaml-cpp' | head -n 5 | tr '\n' '|')"
fi
t_end
