#!/bin/bash
# vxmesh rejects bad configurations before touching any port: exit status 1, a
# "FILE:LINE:COL: path: reason" line on stderr pointing at the offending line, and
# no ready file. Runs vxmesh inside a lab node namespace (nothing is ever sent).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin config_errors
require_vxmesh
lab_init "${LAB_PREFIX:-vxy$$-}" || fatal "lab: init" "lab_init failed"
LAB_QUIET=1
topo_overlay || fatal "lab: topology" "topo_overlay failed"
BASE=$LAB_DIR/node1.yaml

# bad_case NAME FROM TO [SLACK]: replace the first line equal to FROM with TO;
# vxmesh must reject the result at that line (or up to SLACK lines later: a YAML
# parser may only notice an unclosed bracket on the next line).
bad_case() {
    local name=$1 from=$2 to=$3 slack=${4:-0} cfg line out rc
    cfg=$LAB_DIR/bad-$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_').yaml
    line=$(grep -n -x -m1 -- "$from" "$BASE" | cut -d: -f1)
    if [ -z "$line" ]; then fail "config: $name" "test bug: '$from' not in $BASE"; return; fi
    awk -v n="$line" -v to="$to" 'NR == n {print to; next} {print}' "$BASE" >"$cfg"
    rm -f "$LAB_DIR/bad.ready"
    out=$(timeout 30 ip netns exec "$(lab_ns node1)" "$VXMESH_BIN" --config "$cfg" \
        --ready-file "$LAB_DIR/bad.ready" 2>&1 >/dev/null)
    rc=$?
    local first
    first=$(printf '%s\n' "$out" | grep -m1 -F "$cfg:")
    if [ "$rc" != 1 ]; then
        fail "config: $name" "exit status $rc (want 1); stderr: $(printf '%s' "$out" | head -n 2 | tr '\n' '|')"
    elif [ -e "$LAB_DIR/bad.ready" ]; then
        fail "config: $name" "ready file created for a bad config"
    elif ! [[ $first =~ ^"$cfg":([0-9]+):([0-9]+):\ .+ ]]; then
        fail "config: $name" "no 'FILE:LINE:COL: ...' line; stderr: $(printf '%s' "$out" | head -n 2 | tr '\n' '|')"
    elif [ "${BASH_REMATCH[1]}" -lt "$line" ] || [ "${BASH_REMATCH[1]}" -gt $((line + slack)) ]; then
        fail "config: $name" "points at line ${BASH_REMATCH[1]}, the bad value is on line $line: ${first#"$cfg":}"
    else
        pass "config: $name -> ${first#"$LAB_DIR"/}"
    fi
}

# The unmodified configuration is accepted (start and stop it).
if lab_start_vxmesh node1 "$BASE"; then
    pass "config: generated node1.yaml accepted"
    lab_stop_vxmesh node1 >/dev/null 2>&1
else
    fail "config: generated node1.yaml accepted" "$(tail -n 2 "$LAB_DIR/node1.log" | tr '\n' '|')"
fi

bad_case "VNI out of range" "    vni: 4097" "    vni: 16777216"
bad_case "VNI zero" "    vni: 4098" "    vni: 0"
bad_case "endpoint on unknown network" "    network: red" "    network: green"
bad_case "endpoint IP outside its subnet" "    ip: 10.0.1.3" "    ip: 10.0.9.3"
bad_case "malformed IP" "    ip: 10.0.1.2" "    ip: 10.0.1.300"
bad_case "malformed MAC" '    mac: "02:42:0a:00:01:02"' '    mac: "02:42:0a:00:01"'
bad_case "malformed subnet" "    subnet: 10.0.2.0/24" "    subnet: 10.0.2.0/33"
bad_case "local endpoint on unknown port" "    port: c2" "    port: c9"
bad_case "YAML syntax error (unclosed [)" "  vxlan_port: 4789" "  vxlan_port: [4789" 1
bad_case "duplicate endpoint IP" "    ip: 10.0.1.3" "    ip: 10.0.1.2"
t_end
