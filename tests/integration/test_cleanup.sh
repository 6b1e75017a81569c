#!/bin/bash
# The lab cleans up after itself: child lab scripts that fail on purpose, are sent
# SIGTERM or SIGINT mid-run, or are SIGKILLed (leftovers then removed by prefix)
# must leave no namespace with their prefix and none of the processes they started.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin cleanup
[ "$(id -u)" = 0 ] || fatal "cleanup: root" "needs root"

WORK=$(mktemp -d /tmp/vxc$$-work.XXXXXX)
CHILD_PIDS=()
on_exit() {
    local p
    for p in "${CHILD_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # Safety net for this test's own prefixes only.
    for p in a b c d; do lab_cleanup_prefix "vxc$$$p-" >/dev/null 2>&1; done
    rm -rf "$WORK"
}
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The child: builds a small lab, starts long-running processes in three namespaces
# (and vxmesh when available), records their PIDs, then does what $1 says.
cat >"$WORK/child.sh" <<'CHILD'
#!/bin/bash
set -u
. "$LAB_ROOT/tools/lab/lab.sh"
mode=$1 info=$2
lab_init "$CHILD_PREFIX" || exit 3
lab_underlay && lab_node n1 10.99.0.1 && lab_container n1 c1 10.0.1.2 02:42:0a:00:01:02 || exit 4
lab_kernel_node k1 10.99.0.3 || exit 4
lab_bg n1-c1 /dev/null sleep 600;  echo "$LAB_LAST_PID" >>"$info"
lab_bg n1 /dev/null sleep 600;     echo "$LAB_LAST_PID" >>"$info"
lab_bg k1 /dev/null socat -u TCP-LISTEN:7000,reuseaddr - ; echo "$LAB_LAST_PID" >>"$info"
# A process started in a lab namespace but not through lab_bg (not recorded): the
# namespace sweep must still find it.
ip netns exec "$(lab_ns n1-c1)" setsid sleep 600 </dev/null >/dev/null 2>&1 &
echo "$!" >>"$info"
if [ "${WITH_VXMESH:-0}" = 1 ]; then
    cat >"$LAB_DIR/n1.yaml" <<YAML
node:
  name: n1
  data_path_addr: 10.99.0.1/24
  underlay:
    device: net_af_packet0,iface=ul
ports:
  - name: c1
    device: net_af_packet1,iface=c1
networks:
  - name: blue
    vni: 4097
    subnet: 10.0.1.0/24
peers: []
endpoints:
  - name: n1c1
    network: blue
    ip: 10.0.1.2
    node: n1
    port: c1
YAML
    lab_start_vxmesh n1 "$LAB_DIR/n1.yaml" && lab_vxmesh_pid n1 >>"$info"
fi
case $mode in
fail)
    echo ready >>"$info.ready"
    false || { echo "FAIL: child: deliberate failure"; exit 1; }
    ;;
wait)
    # A process outside the lab namespaces, known only from the run's pid file.
    lab_bg - /dev/null sleep 600
    echo "$LAB_LAST_PID" >>"$info"
    echo ready >>"$info.ready"
    wait "$LAB_LAST_PID"
    ;;
esac
CHILD
chmod +x "$WORK/child.sh"

# pids_gone INFO: none of the recorded PIDs is still the process we started.
pids_gone() {
    local p left=""
    while read -r p; do
        [ -n "$p" ] || continue
        local state
        state=$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$p/stat" 2>/dev/null)
        if [ -n "$state" ] && [ "$state" != Z ]; then
            left+="$p($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)) "
        fi
    done <"$1"
    [ -z "$left" ] || { echo "left running: $left"; return 1; }
}

ns_gone() {
    local left
    left=$(ip netns list | awk '{print $1}' | grep "^$1" | tr '\n' ' ')
    [ -z "$left" ] || { echo "namespaces left: $left"; return 1; }
}

# run_case LETTER MODE SIGNAL: start the child, (signal it,) check what remains.
run_case() {
    local letter=$1 mode=$2 sig=$3 prefix="vxc$$$1-" info="$WORK/$1.pids" pid i rc
    : >"$info"
    # Start with SIGINT/SIGTERM at their defaults (a non-interactive shell's
    # background jobs would otherwise ignore SIGINT, and so could not trap it).
    CHILD_PREFIX=$prefix LAB_QUIET=1 "$LAB_PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execv("/bin/bash", ["bash"] + sys.argv[1:])' "$WORK/child.sh" "$mode" "$info" >"$WORK/$letter.log" 2>&1 &
    pid=$!
    CHILD_PIDS+=("$pid")
    for ((i = 0; i < 600; i++)); do
        [ -e "$info.ready" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    local what="child ($mode${sig:+, SIG$sig})"
    if [ ! -e "$info.ready" ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        fail "cleanup: $what set up its lab" "$(tail -n 3 "$WORK/$letter.log" | tr '\n' '|')"
        return
    fi
    local np
    np=$(grep -c . "$info")
    [ -n "$sig" ] && kill "-$sig" "$pid"
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        fail "cleanup: $what exited" "still running after 30 s"
    else
        { wait "$pid"; } 2>/dev/null
        rc=$?
        if [ "$sig" = KILL ]; then
            # No trap can run: remove the leftovers by prefix, as a later run would.
            check "cleanup: $what left namespaces (expected)" bash -c "ip netns list | grep -q '^$prefix'"
            lab_cleanup_prefix "$prefix"
        elif [ "$rc" != 0 ]; then
            pass "cleanup: $what exited non-zero ($rc)"
        else
            fail "cleanup: $what exited non-zero" "exited 0"
        fi
    fi
    check "cleanup: $what left no namespace $prefix*" ns_gone "$prefix"
    check "cleanup: $what left none of its $np processes" pids_gone "$info"
    rm -rf /tmp/"$prefix"lab.*
}

WITH_VXMESH=0
[ -x "$VXMESH_BIN" ] && WITH_VXMESH=1
export WITH_VXMESH LAB_ROOT VXMESH_BIN
[ "$WITH_VXMESH" = 1 ] || echo "NOTE: $VXMESH_BIN not built: cleanup cases run without a vxmesh process"
run_case a fail ""
run_case b wait TERM
run_case c wait INT
run_case d wait KILL
t_end
