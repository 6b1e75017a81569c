# shellcheck shell=bash
# vxmesh network-namespace lab: a bash library, sourced by tests/integration/*.sh
# and tools/demo. It never sends anything itself; it builds namespaces and veths.
#
# Safety properties (keep them when editing):
#   * Every namespace this library creates is named "$LAB_PREFIX<something>"; the
#     prefix is unique per run ("vxt<PID>-" by default), so parallel or leftover
#     runs never collide, and lab_cleanup removes exactly the namespaces that
#     carry it.
#   * Every veth is created *inside* lab namespaces ("ip -n NS link add X type
#     veth peer name Y netns NS2"), never in the root namespace, so no interface
#     of this lab ever exists outside its own namespaces and no traffic can leave
#     them. The root namespace is never modified.
#   * Processes are started through lab_bg / lab_start_vxmesh, which record their
#     PIDs; lab_cleanup kills those PIDs and any process still living in one of
#     this run's namespaces (all of which the run started), by PID.
#   * lab_init installs EXIT/INT/TERM traps that call lab_cleanup, so all of the
#     above is undone on success, failure and Ctrl-C.
#
# Topology vocabulary:
#   underlay namespace  "${LAB_PREFIX}ul": Linux bridge br0, no IP.
#   node namespace      "${LAB_PREFIX}NODE": veth "ul" whose peer "u-NODE" is a
#                       port of br0. vxmesh nodes: no IP on ul (vxmesh owns it).
#                       Kernel nodes: UL_IP/24 on ul plus vxlan+bridge per VNI.
#   container namespace "${LAB_PREFIX}NODE-CNAME": eth0 with IP/24 + MAC; its peer
#                       "CNAME" lives in the node namespace.
#
# Functions (see each one's comment):
#   lab_init [PREFIX]            lab_underlay           lab_node NAME UL_IP
#   lab_container NODE CNAME IP MAC      lab_kernel_node NAME UL_IP
#   lab_kernel_vni NODE VNI      lab_kernel_container NODE CNAME IP MAC VNI
#   lab_kernel_fdb NODE VNI MAC VTEP_IP  lab_neigh NODE CNAME IP MAC
#   lab_start_vxmesh NODE CONFIG [ARGS..]   lab_stop_vxmesh NODE
#   lab_stats NODE KEY.PATH      lab_bg NSNAME LOG CMD..   lab_kill PID
#   lab_wait_file FILE TIMEOUT [PID]        lab_wait_listen NSNAME PORT TIMEOUT
#   lab_ns NAME   lab_exec NAME CMD..   lab_mac NAME   lab_node_ip NAME
#   lab_vxmesh_pid NODE   lab_cleanup   lab_cleanup_prefix PREFIX
# (tools/lab/README.md has a table of them.)
#
# Environment:
#   LAB_PREFIX          namespace prefix (default "vxt$$-"); must end in "-".
#   VXMESH_BIN          vxmesh binary (default $LAB_ROOT/build/vxmesh).
#   LAB_MTU             container/access MTU (default 1450: 1500 underlay - VXLAN).
#   LAB_READY_TIMEOUT   seconds to wait for vxmesh's ready file (default 30).
#   LAB_STOP_TIMEOUT    seconds to wait for vxmesh to exit on SIGTERM (default 15).
#   LAB_KEEP            1: always keep $LAB_DIR (configs, logs, stats, captures);
#                       0: never; unset: keep it only when the script failed.
#   LAB_QUIET           1: less chatter from lab_* functions.

LAB_ROOT=${LAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VXMESH_BIN=${VXMESH_BIN:-$LAB_ROOT/build/vxmesh}
LAB_MTU=${LAB_MTU:-1450}
LAB_READY_TIMEOUT=${LAB_READY_TIMEOUT:-30}
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-15}
LAB_PY=/usr/bin/python3   # the pyenv python3 on PATH has no scapy; always use this one

_lab_log() { [ "${LAB_QUIET:-0}" = 1 ] || echo "lab: $*" >&2; }
_lab_err() { echo "lab: ERROR: $*" >&2; }

# lab_init [PREFIX]: choose the per-run prefix, make $LAB_DIR, install traps.
# Call it once, before anything else, in the top-level shell of the script.
lab_init() {
    LAB_PREFIX=${1:-${LAB_PREFIX:-vxt$$-}}
    if ! [[ $LAB_PREFIX =~ ^[A-Za-z][A-Za-z0-9]{1,15}-$ ]]; then
        _lab_err "bad prefix '$LAB_PREFIX' (want letters/digits ending in '-', e.g. vxt123-)"
        return 1
    fi
    if [ "$(id -u)" != 0 ]; then
        _lab_err "must run as root (network namespaces)"
        return 1
    fi
    local t
    for t in ip bridge sysctl; do
        command -v "$t" >/dev/null 2>&1 || { _lab_err "missing tool: $t"; return 1; }
    done
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^${LAB_PREFIX}"; then
        if [[ $LAB_PREFIX =~ [^0-9]$$[a-z]?-$ ]]; then
            # Named after our own PID: left by a dead run whose PID we now have.
            _lab_log "removing stale namespaces of an earlier run with prefix $LAB_PREFIX"
            lab_cleanup_prefix "$LAB_PREFIX"
        else
            _lab_err "namespaces with prefix $LAB_PREFIX already exist (another run, or leftovers:"
            _lab_err "remove them with: . tools/lab/lab.sh; lab_cleanup_prefix $LAB_PREFIX)"
            return 1
        fi
    fi
    LAB_DIR=$(mktemp -d "/tmp/${LAB_PREFIX}lab.XXXXXX") || return 1
    export LAB_DIR
    : >"$LAB_DIR/pids"
    : >"$LAB_DIR/namespaces"
    mkdir -p "$LAB_DIR/nodes"
    LAB_CLEANED=0
    trap '_lab_exit_trap' EXIT
    trap '_lab_sig_trap INT 130' INT
    trap '_lab_sig_trap TERM 143' TERM
    _lab_log "prefix $LAB_PREFIX, state in $LAB_DIR"
}

_lab_exit_trap() {
    local rc=$?
    lab_cleanup "$rc"
    exit "$rc"
}

_lab_sig_trap() {
    trap - INT TERM
    echo "lab: caught SIG$1, cleaning up" >&2
    lab_cleanup "$2"
    exit "$2"
}

# lab_ns NAME: the full namespace name for a lab-local name (node1, node1-c1, ul).
lab_ns() { echo "${LAB_PREFIX}$1"; }

# lab_exec NAME CMD...: run CMD inside the lab namespace NAME.
lab_exec() {
    local ns=$1; shift
    ip netns exec "${LAB_PREFIX}$ns" "$@"
}

# lab_mac NAME: a deterministic locally administered unicast MAC derived from NAME
# (the prefix is not part of it, so MACs are the same on every run).
lab_mac() {
    local h
    h=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    printf '02:ee:%02x:%02x:%02x:%02x\n' $(((h >> 24) & 255)) $(((h >> 16) & 255)) $(((h >> 8) & 255)) $((h & 255))
}

# lab_default_mac IP: Docker's convention, 02:42 followed by the IPv4 bytes.
lab_default_mac() {
    local IFS=.
    # shellcheck disable=SC2086
    set -- $1
    printf '02:42:%02x:%02x:%02x:%02x\n' "$1" "$2" "$3" "$4"
}

_lab_newns() {
    local ns="${LAB_PREFIX}$1"
    ip netns add "$ns" || { _lab_err "ip netns add $ns failed"; return 1; }
    echo "$ns" >>"$LAB_DIR/namespaces"
    ip -n "$ns" link set lo up
    # No IPv6 anywhere in the lab: no router solicitations, DAD or MLD noise.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

_lab_noipv6() { # NS IFNAME
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null 2>&1 || true
}

# lab_underlay: the underlay namespace with bridge br0 (no IP, STP off).
lab_underlay() {
    _lab_newns ul || return 1
    local ns="${LAB_PREFIX}ul"
    ip -n "$ns" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0 || return 1
    ip -n "$ns" link set br0 address "$(lab_mac br0)"
    _lab_noipv6 "$ns" br0
    ip -n "$ns" link set br0 up
    _lab_log "underlay $ns (bridge br0)"
}

# lab_ul_link NAME [MAC]: node namespace NAME gets veth "ul" (MAC, default its lab MAC);
# its peer u-NAME joins br0. Also what a test calls to create "ul" again after deleting it.
lab_ul_link() {
    local name=$1 ns="${LAB_PREFIX}$1" uns="${LAB_PREFIX}ul"
    local mac=${2:-$(lab_mac "$1/ul")}
    local peer="u-$name"
    peer=${peer:0:15}
    ip -n "$ns" link add ul type veth peer name "$peer" netns "$uns" || return 1
    ip -n "$ns" link set ul address "$mac"
    ip -n "$uns" link set "$peer" address "$(lab_mac "$name/ul-peer")"
    _lab_noipv6 "$ns" ul
    _lab_noipv6 "$uns" "$peer"
    ip -n "$uns" link set "$peer" master br0
    ip -n "$uns" link set "$peer" up
    ip -n "$ns" link set ul up
}

# lab_node NAME UL_IP: a vxmesh node namespace. "ul" is up with no IP: vxmesh
# (af_packet) owns it and answers ARP for UL_IP itself.
lab_node() {
    local name=$1 ulip=${2%/*}
    [ -n "$ulip" ] || { _lab_err "lab_node NAME UL_IP"; return 1; }
    _lab_newns "$name" || return 1
    lab_ul_link "$name" || return 1
    echo "vxmesh $ulip $(lab_mac "$name/ul")" >"$LAB_DIR/nodes/$name"
    _lab_log "vxmesh node ${LAB_PREFIX}$name (ul $(lab_mac "$name/ul"), VTEP $ulip)"
}

# lab_kernel_node NAME UL_IP: a plain-Linux VTEP namespace with UL_IP/24 on "ul".
lab_kernel_node() {
    local name=$1 ulip=${2%/*}
    [ -n "$ulip" ] || { _lab_err "lab_kernel_node NAME UL_IP"; return 1; }
    _lab_newns "$name" || return 1
    lab_ul_link "$name" || return 1
    local ns="${LAB_PREFIX}$name"
    ip -n "$ns" addr add "$ulip/24" dev ul || return 1
    echo "kernel $ulip $(lab_mac "$name/ul")" >"$LAB_DIR/nodes/$name"
    _lab_log "kernel node $ns (ul $ulip)"
}

# lab_node_ip NAME: the underlay IP given to lab_node / lab_kernel_node.
lab_node_ip() { cut -d' ' -f2 "$LAB_DIR/nodes/$1"; }

# lab_container NODE CNAME IP MAC: container namespace "NODE-CNAME" with eth0
# (IP/24 unless IP has its own /len, MAC, MTU $LAB_MTU, offloads at the kernel's defaults)
# whose veth peer CNAME is in the node namespace, up, no IP.
lab_container() {
    local node=$1 cname=$2 ip=$3
    [ -n "$ip" ] || { _lab_err "lab_container NODE CNAME IP [MAC]"; return 1; }
    _lab_newns "$node-$cname" || return 1
    lab_container_link "$@"
}

# lab_container_link NODE CNAME IP [MAC]: the veth pair between node NODE ("CNAME") and
# its container ("eth0"), as lab_container makes it; also what a test calls to create
# it again after deleting it.
lab_container_link() {
    local node=$1 cname=$2 ip=$3 mac=${4:-}
    local nns="${LAB_PREFIX}$node" cns="${LAB_PREFIX}$node-$cname"
    [ -n "$mac" ] || mac=$(lab_default_mac "${ip%/*}")
    [[ $ip == */* ]] || ip="$ip/24"
    ip -n "$nns" link add "$cname" type veth peer name eth0 netns "$cns" || return 1
    ip -n "$nns" link set "$cname" address "$(lab_mac "$node/$cname")" mtu "$LAB_MTU"
    ip -n "$cns" link set eth0 address "$mac" mtu "$LAB_MTU"
    _lab_noipv6 "$nns" "$cname"
    _lab_noipv6 "$cns" eth0
    ip -n "$cns" addr add "$ip" dev eth0 || return 1
    ip -n "$cns" link set eth0 up
    ip -n "$nns" link set "$cname" up
    _lab_log "container $cns: eth0 $ip $mac <-> $node:$cname"
}

# lab_kernel_vni NODE VNI: kernel node gets vxlan device vxVNI (nolearning, static
# FDB only) and bridge brVNI containing it. Idempotent.
lab_kernel_vni() {
    local node=$1 vni=$2 ns="${LAB_PREFIX}$1"
    ip -n "$ns" link show "vx$vni" >/dev/null 2>&1 && return 0
    local ulip
    ulip=$(lab_node_ip "$node") || return 1
    ip -n "$ns" link add "vx$vni" type vxlan id "$vni" dstport 4789 local "$ulip" \
        dev ul nolearning || return 1
    ip -n "$ns" link set "vx$vni" address "$(lab_mac "$node/vx$vni")" mtu "$LAB_MTU"
    ip -n "$ns" link add "br$vni" type bridge stp_state 0 forward_delay 0 mcast_snooping 0 || return 1
    ip -n "$ns" link set "br$vni" address "$(lab_mac "$node/br$vni")"
    _lab_noipv6 "$ns" "vx$vni"
    _lab_noipv6 "$ns" "br$vni"
    ip -n "$ns" link set "vx$vni" master "br$vni"
    ip -n "$ns" link set "vx$vni" up
    ip -n "$ns" link set "br$vni" up
}

# lab_kernel_container NODE CNAME IP MAC VNI: a container behind a kernel node,
# bridged onto VNI.
lab_kernel_container() {
    local node=$1 cname=$2 ip=$3 mac=$4 vni=$5
    lab_kernel_vni "$node" "$vni" || return 1
    lab_container "$node" "$cname" "$ip" "$mac" || return 1
    ip -n "${LAB_PREFIX}$node" link set "$cname" master "br$vni"
}

# lab_kernel_fdb NODE VNI MAC VTEP_IP: kernel node sends frames for MAC on VNI to VTEP_IP.
lab_kernel_fdb() {
    local node=$1 vni=$2 mac=$3 vtep=$4
    bridge -n "${LAB_PREFIX}$node" fdb append "$mac" dev "vx$vni" dst "$vtep" self permanent
}

# lab_neigh NODE CNAME IP MAC: static ARP entry in container NODE-CNAME.
lab_neigh() {
    local node=$1 cname=$2 ip=$3 mac=$4
    ip -n "${LAB_PREFIX}$node-$cname" neigh replace "$ip" lladdr "$mac" dev eth0 nud permanent
}

# PIDs are recorded with their start time (field 22 of /proc/PID/stat) so that a
# later cleanup by prefix never signals an unrelated process that reused the PID.
_lab_starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }
_lab_record_pid() { echo "$1 $(_lab_starttime "$1")" >>"$LAB_DIR/pids"; }

# lab_bg NSNAME LOG CMD...: start CMD in the background inside lab namespace NSNAME
# (or in the root namespace when NSNAME is "-"), stdout+stderr to LOG, stdin from
# /dev/null. The PID is recorded for cleanup and left in $LAB_LAST_PID.
# ("ip netns exec" execs CMD, so the PID is CMD's own.)
lab_bg() {
    local ns=$1 log=$2; shift 2
    if [ "$ns" = - ]; then
        "$@" </dev/null >"$log" 2>&1 &
    else
        ip netns exec "${LAB_PREFIX}$ns" "$@" </dev/null >"$log" 2>&1 &
    fi
    LAB_LAST_PID=$!
    _lab_record_pid "$LAB_LAST_PID"
}

_lab_alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

# lab_kill PID [SIGNAL] [TIMEOUT]: signal PID (default TERM), wait up to TIMEOUT
# seconds (default 5), then SIGKILL. Reaps it when it is our child.
lab_kill() {
    local pid=$1 sig=${2:-TERM} t=${3:-5} i
    _lab_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < t * 10; i++)); do
        _lab_alive "$pid" || break
        sleep 0.1
    done
    if _lab_alive "$pid"; then
        _lab_log "pid $pid survived SIG$sig for ${t}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# lab_wait_file FILE TIMEOUT [PID]: poll for FILE; fail early if PID dies.
lab_wait_file() {
    local f=$1 t=$2 pid=${3:-} i
    for ((i = 0; i < t * 10; i++)); do
        [ -e "$f" ] && return 0
        if [ -n "$pid" ] && ! _lab_alive "$pid"; then
            [ -e "$f" ] && return 0
            return 2
        fi
        sleep 0.1
    done
    return 1
}

# lab_wait_listen NSNAME PORT TIMEOUT: poll until a TCP listener on PORT exists.
lab_wait_listen() {
    local ns=$1 port=$2 t=${3:-10} i
    for ((i = 0; i < t * 10; i++)); do
        [ -n "$(ip netns exec "${LAB_PREFIX}$ns" ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

# lab_start_vxmesh NODE CONFIG [VXMESH ARGS...]: run vxmesh in the node namespace
# in the background, record its PID, wait (poll, $LAB_READY_TIMEOUT s) for its
# ready file. Files: $LAB_DIR/NODE.{log,ready,stats.json,pid,state.json}.
lab_start_vxmesh() {
    local node=$1 cfg=$2; shift 2
    if [ ! -x "$VXMESH_BIN" ]; then
        _lab_err "vxmesh binary not found or not executable: $VXMESH_BIN"
        return 1
    fi
    local ready="$LAB_DIR/$node.ready" log="$LAB_DIR/$node.log" a
    local state=(--state "$LAB_DIR/$node.state.json")
    rm -f "$ready" "$LAB_DIR/$node.stats.json"
    # The state file in the run's directory (kept across restarts within the run), unless
    # the caller chose one: never the host's /var/lib/vxmesh.
    for a in "$@"; do [[ $a == --state || $a == --state=* ]] && state=(); done
    lab_bg "$node" "$log" "$VXMESH_BIN" --config "$cfg" --ready-file "$ready" \
        --stats-json "$LAB_DIR/$node.stats.json" "${state[@]}" "$@"
    local pid=$LAB_LAST_PID
    echo "$pid" >"$LAB_DIR/$node.pid"
    echo "$pid" >>"$LAB_DIR/vxmesh.pids"   # every instance, restarts included
    _lab_log "vxmesh on $node: pid $pid, log $log"
    lab_wait_file "$ready" "$LAB_READY_TIMEOUT" "$pid"
    case $? in
    0) _lab_log "vxmesh on $node ready" ;;
    2)
        wait "$pid" 2>/dev/null
        _lab_err "vxmesh on $node exited (status $?) before becoming ready; log:"
        sed 's/^/    /' "$log" | tail -n 40 >&2
        return 1
        ;;
    *)
        _lab_err "vxmesh on $node not ready after ${LAB_READY_TIMEOUT}s; log:"
        sed 's/^/    /' "$log" | tail -n 40 >&2
        return 1
        ;;
    esac
}

# lab_vxmesh_pid NODE
lab_vxmesh_pid() { cat "$LAB_DIR/$1.pid" 2>/dev/null; }

# lab_stop_vxmesh NODE: SIGTERM by PID, wait up to $LAB_STOP_TIMEOUT s (then
# SIGKILL and fail). Returns vxmesh's exit status. The log (with the final
# counters) and $LAB_DIR/NODE.stats.json are kept.
lab_stop_vxmesh() {
    local node=$1 pid i rc
    pid=$(lab_vxmesh_pid "$node") || { _lab_err "no vxmesh pid for $node"; return 1; }
    if ! _lab_alive "$pid"; then
        wait "$pid" 2>/dev/null
        rc=$?
        _lab_err "vxmesh on $node (pid $pid) was already gone (status $rc)"
        return 1
    fi
    kill -TERM "$pid"
    for ((i = 0; i < LAB_STOP_TIMEOUT * 10; i++)); do
        _lab_alive "$pid" || break
        sleep 0.1
    done
    if _lab_alive "$pid"; then
        _lab_err "vxmesh on $node did not exit ${LAB_STOP_TIMEOUT}s after SIGTERM; SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    _lab_log "vxmesh on $node exited with status $rc"
    return "$rc"
}

# lab_stats NODE PATH: print a value from NODE's stats JSON, PATH like
# "encap", "ports.ul.rx", "drops" (objects are printed as JSON). Fails if absent.
lab_stats() {
    "$LAB_PY" - "$LAB_DIR/$1.stats.json" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'):
    v = v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
EOF
}

# lab_cleanup [STATUS]: kill recorded PIDs and anything left in this run's
# namespaces, delete every namespace with $LAB_PREFIX and vxmesh's EAL runtime
# dirs, remove $LAB_DIR (kept when STATUS is non-zero, see LAB_KEEP). Idempotent.
lab_cleanup() {
    local rc=${1:-0}
    [ "${LAB_CLEANED:-1}" = 0 ] || return 0
    LAB_CLEANED=1
    [ -n "${LAB_PREFIX:-}" ] || return 0
    local pid st ns pids=() nslist=() pf pidfiles=()
    if [ -n "${LAB_DIR:-}" ]; then
        pidfiles=("$LAB_DIR/pids")
    else
        # Cleanup by prefix of a dead run: its state directories are still in /tmp.
        for pf in /tmp/"${LAB_PREFIX}"lab.*/pids; do [ -f "$pf" ] && pidfiles+=("$pf"); done
    fi
    for pf in "${pidfiles[@]}"; do
        [ -f "$pf" ] || continue
        while read -r pid st; do
            [[ $pid =~ ^[0-9]+$ ]] || continue
            _lab_alive "$pid" && [ "$(_lab_starttime "$pid")" = "${st:-}" ] && pids+=("$pid")
        done <"$pf"
    done
    mapfile -t nslist < <(ip netns list 2>/dev/null | awk '{print $1}' | grep -F -- "$LAB_PREFIX" | grep "^${LAB_PREFIX}")
    for ns in "${nslist[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            [ "$pid" != "$$" ] && pids+=("$pid")
        done
    done
    [ "${#pids[@]}" -gt 0 ] && mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    if [ "${#pids[@]}" -gt 0 ]; then
        _lab_log "cleanup: stopping pids ${pids[*]}"
        for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
        local i alive
        for ((i = 0; i < 50; i++)); do
            alive=0
            for pid in "${pids[@]}"; do _lab_alive "$pid" && alive=1; done
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        for pid in "${pids[@]}"; do
            if _lab_alive "$pid"; then
                _lab_log "cleanup: SIGKILL $pid"
                kill -KILL "$pid" 2>/dev/null
            fi
        done
        for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    fi
    for ns in "${nslist[@]}"; do
        ip netns del "$ns" 2>/dev/null || _lab_err "could not delete namespace $ns"
    done
    # vxmesh's EAL runtime directory is named after its PID (--file-prefix vxmesh-PID).
    local f
    for pf in "${pidfiles[@]}"; do
        [ -f "$(dirname "$pf")/vxmesh.pids" ] || continue
        while read -r pid; do
            [[ $pid =~ ^[0-9]+$ ]] && ! _lab_alive "$pid" && [ -d "/var/run/dpdk/vxmesh-$pid" ] &&
                rm -rf "/var/run/dpdk/vxmesh-$pid"
        done <"$(dirname "$pf")/vxmesh.pids"
    done
    if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
        if [ "${LAB_KEEP:-}" = 1 ] || { [ "$rc" != 0 ] && [ "${LAB_KEEP:-}" != 0 ]; }; then
            _lab_log "cleanup: kept $LAB_DIR"
        else
            rm -rf "$LAB_DIR"
        fi
    fi
    _lab_log "cleanup: done (${#nslist[@]} namespaces removed)"
}

# lab_cleanup_prefix PREFIX: remove what a dead run with PREFIX left behind
# (namespaces and the processes living in them), e.g. after it was SIGKILLed.
lab_cleanup_prefix() {
    [[ ${1:-} =~ ^[A-Za-z][A-Za-z0-9]{1,15}-$ ]] || { _lab_err "lab_cleanup_prefix: bad prefix '${1:-}'"; return 1; }
    (
        LAB_PREFIX=$1
        LAB_DIR=
        LAB_CLEANED=0
        lab_cleanup 0
        rm -rf /tmp/"$1"lab.*
    )
}
