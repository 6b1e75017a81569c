#!/bin/bash
# Services as control-plane objects (README, "Services"), driven with vxmeshctl against a
# running vxmesh:
#   1. service create (vip with ingress and udp ports, dnsrr with a host-mode port):
#      docker's outputs (the id; service ls; service inspect with its VirtualIPs), VIPs
#      from IPAM on each attached network, the ingress network attached implicitly;
#   2. tasks (endpoint attach --service): addresses after the VIP, a load balancer for
#      each node with a task, network inspect -v's Services (VIP, Ports, LocalLBIndex,
#      Tasks with Host IP) and the lb-NETWORK endpoint among the Containers;
#   3. refusals, each naming what is in the way, generation unchanged: a port already
#      published, an unknown network, dnsrr with an ingress port, network rm of a network
#      in use, of the ingress network while ports are published, service rm with tasks;
#   4. a restart keeps services, VIPs, tasks and load balancers; then detach, service rm
#      and network rm succeed. Traffic between the config file's containers still flows.
# Env: VXMESHCTL_BIN (default build/tools/vxmeshctl).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin services
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC (build with ninja -C build, or set VXMESHCTL_BIN)"
lab_init "${LAB_PREFIX:-vxv$$-}" || fatal "lab: init" "lab_init failed"
topo_overlay || fatal "lab: topology" "topo_overlay failed"
RUN=$LAB_DIR/run
SOCK1=$RUN/node1.sock
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $CTL" "cp failed"
ctl() { timeout 30 "$CTL" -s "$SOCK1" "$@"; }
# jf EXPR: evaluate a Python expression over the JSON on stdin (bound to d).
jf() { "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"; }
gen() { ctl --format json stats | jf 'd["generation"]'; }
# refused NAME WANT CMD...: CMD fails, its message contains WANT, the generation stays.
refused() {
    local name=$1 want=$2 out rc g0 g1; shift 2
    g0=$(gen)
    out=$("$@" 2>&1); rc=$?
    g1=$(gen)
    if [ "$rc" != 0 ] && [[ $out == *"$want"* ]] && [ "$g0" = "$g1" ]; then pass "$name: '$out'"
    else fail "$name" "exit $rc, generation $g0 -> $g1: $out"; fi
}
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" || fatal "vxmesh: start node2" "see log above"
pass "vxmesh: node1 (control socket) and node2 ready"

# ---------------------------------------------------------------------------------
echo "--- 1. service create, ls, inspect"
check "network create --ingress ingress" ctl network create --driver overlay --ingress ingress
out=$(ctl service create web --network blue --publish published=8080,target=80 --publish 5353:53/udp 2>&1); rc=$?
WEB_ID=$out
[ "$rc" = 0 ] && [[ $WEB_ID =~ ^[0-9a-z]{25}$ ]] && pass "service create web: prints its id $WEB_ID" || fail "service create web" "exit $rc: $out"
out=$(ctl service create rr --network red --endpoint-mode dnsrr --publish published=9000,target=9000,mode=host 2>&1); rc=$?
[ "$rc" = 0 ] && pass "service create rr --endpoint-mode dnsrr (host-mode port)" || fail "service create rr" "exit $rc: $out"
out=$(ctl service ls 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$(sed -n 1p <<<"$out" | tr -s ' ')" = "ID NAME ENDPOINT MODE TASKS PORTS" ] &&
    [ "$(sed -n 2p <<<"$out" | tr -s ' ')" = "${WEB_ID:0:12} web vip 0 *:8080->80/tcp,*:5353->53/udp" ] &&
    [ "$(sed -n 3p <<<"$out" | tr -s ' ' | sed 's/ $//')" = "$(ctl --format json service ls | jf 'd[1]["id"][:12]') rr dnsrr 0" ]; then
    pass "service ls: docker's columns, ingress ports as *:P->T/proto (host-mode ones not shown, as docker)"
else fail "service ls" "exit $rc: $(tr '\n' '|' <<<"$out")"; fi
out=$(ctl service inspect web 2>&1); rc=$?
echo "$out" >"$LAB_DIR/inspect-web.json"
ok=$(jf '(len(d) == 1 and d[0]["ID"] == "'"$WEB_ID"'" and d[0]["Spec"]["Name"] == "web"
    and d[0]["Spec"]["EndpointSpec"]["Mode"] == "vip"
    and d[0]["Spec"]["EndpointSpec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 5353, "PublishMode": "ingress"}]
    and [v["Addr"] for v in d[0]["Endpoint"]["VirtualIPs"]] == ["10.0.0.2/24", "10.0.1.4/24"]
    and list(d[0]) == ["ID", "CreatedAt", "Spec", "Endpoint"])' <"$LAB_DIR/inspect-web.json" 2>&1)
[ "$rc" = 0 ] && [ "$ok" = True ] && pass "service inspect web: docker's keys, VIPs 10.0.0.2/24 on ingress (attached implicitly, listed first as swarmkit does) and 10.0.1.4/24 on blue (after n1c1, n2c1)" ||
    fail "service inspect web" "exit $rc, check '$ok': $(head -c 500 <<<"$out" | tr '\n' ' ')"
out=$(ctl service inspect "${WEB_ID:0:6}" 2>&1)
[ "$(jf 'd[0]["Spec"]["Name"]' <<<"$out" 2>/dev/null)" = web ] && pass "service inspect by id prefix" || fail "service inspect by id prefix" "$out"
out=$(ctl service inspect rr 2>&1)
[ "$(jf '"VirtualIPs" not in d[0]["Endpoint"] and d[0]["Endpoint"]["Spec"]["Mode"] == "dnsrr"' <<<"$out" 2>/dev/null)" = True ] &&
    pass "service inspect rr: dnsrr, no VirtualIPs" || fail "service inspect rr" "$(head -c 300 <<<"$out")"
out=$(ctl service inspect nosuch 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"no such service: nosuch"* ]] && pass "service inspect nosuch: '$out'" || fail "service inspect nosuch" "exit $rc: $out"

# ---------------------------------------------------------------------------------
echo "--- 2. tasks, load balancers and network inspect -v"
out=$(ctl endpoint attach web.1 --network blue --node node2 --service web 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q '^web.1 10.0.1.5 02:42:0a:00:01:05$' <<<"$out" && pass "endpoint attach web.1 --service web (on node2): 10.0.1.5, after the VIP" ||
    fail "endpoint attach web.1" "exit $rc: $(tr '\n' '|' <<<"$out")"
out=$(ctl endpoint attach web.2 --network blue --node node1 --port c1 --service web 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q '^web.2 10.0.1.7 02:42:0a:00:01:07$' <<<"$out" && pass "endpoint attach web.2 --service web (on node1): 10.0.1.7, after node2's load balancer (.6)" ||
    fail "endpoint attach web.2" "exit $rc: $(tr '\n' '|' <<<"$out")"
lbs=$(ctl get | jf '[lb["node"] + " " + lb["ip"] for lb in d["desired"]["load_balancers"]]')
[ "$lbs" = '["node1 10.0.1.8", "node2 10.0.1.6"]' ] && pass "load balancers: node2 10.0.1.6, node1 10.0.1.8 (each after its node's first task)" || fail "load balancers" "$lbs"
out=$(ctl endpoint ls 2>&1)
grep -Eq '^web\.1 +blue +10\.0\.1\.5 +02:42:0a:00:01:05 +node2 +- +web$' <<<"$out" && pass "endpoint ls: web.1's SERVICE column" || fail "endpoint ls SERVICE column" "$(tr '\n' '|' <<<"$out")"
out=$(ctl network inspect -v blue 2>&1); rc=$?
echo "$out" >"$LAB_DIR/inspect-blue.json"
ok=$(jf '(d[0]["Services"] == {"web": {"VIP": "10.0.1.4", "Ports": [], "LocalLBIndex": 256, "Tasks": [
        {"Name": "web.1", "EndpointID": "web.1", "EndpointIP": "10.0.1.5", "Info": {"Host IP": "10.99.0.2"}},
        {"Name": "web.2", "EndpointID": "web.2", "EndpointIP": "10.0.1.7", "Info": {"Host IP": "10.99.0.1"}}]}}
    and list(d[0]["Services"]["web"]) == ["VIP", "Ports", "LocalLBIndex", "Tasks"]
    and d[0]["Containers"]["lb-blue"] == {"Name": "blue-endpoint", "EndpointID": "lb-blue",
        "MacAddress": "02:42:0a:00:01:08", "IPv4Address": "10.0.1.8/24", "IPv6Address": ""})' <"$LAB_DIR/inspect-blue.json" 2>&1)
[ "$rc" = 0 ] && [ "$ok" = True ] && pass "network inspect -v blue: Services.web {VIP 10.0.1.4, Ports [], LocalLBIndex 256, Tasks with Host IP}, lb-blue in Containers" ||
    fail "network inspect -v blue" "exit $rc, check '$ok': $(head -c 800 <<<"$out" | tr '\n' ' ')"
out=$(ctl network inspect -v ingress 2>&1)
[ "$(jf 'd[0]["Services"] == {} and d[0]["Containers"] is None' <<<"$out" 2>/dev/null)" = True ] &&
    pass "network inspect -v ingress: no task there yet, so no Services (as libnetwork lists them)" || fail "network inspect -v ingress" "$(head -c 400 <<<"$out" | tr '\n' ' ')"
check "endpoint attach web.1-ingress (web's task on ingress, node2)" ctl endpoint attach web.1-ingress --network ingress --node node2 --service web
out=$(ctl network inspect -v ingress 2>&1)
[ "$(jf 'd[0]["Services"]["web"]["Ports"] == ["Target: 80, Publish: 8080", "Target: 53, Publish: 5353"] and d[0]["Services"]["web"]["VIP"] == "10.0.0.2" and d[0]["Services"]["web"]["LocalLBIndex"] == 257' <<<"$out" 2>/dev/null)" = True ] &&
    pass "network inspect -v ingress: web's ingress ports as 'Target: 80, Publish: 8080', LocalLBIndex 257" || fail "network inspect -v ingress with a task" "$(head -c 600 <<<"$out" | tr '\n' ' ')"
out=$(ctl service ls 2>&1)
grep -Eq "^${WEB_ID:0:12} +web +vip +3 " <<<"$out" && pass "service ls: web has 3 tasks" || fail "service ls: task count" "$(tr '\n' '|' <<<"$out")"

# ---------------------------------------------------------------------------------
echo "--- 3. refusals"
refused "service create with a port already published" "port 8080/tcp is already in use by services[0] 'web' as an ingress port" \
    ctl service create web2 --network blue --publish 8080:8000
refused "service create on an unknown network" "unknown network 'nosuch'" ctl service create bad --network nosuch
refused "service create dnsrr with an ingress-mode port" "which endpoint_mode dnsrr cannot use" \
    ctl service create rr2 --network red --endpoint-mode dnsrr --publish 9100:9100
refused "service create web again" "service 'web' already exists" ctl service create web --network blue
refused "service create --network ingress (attached only by publishing)" "'ingress' is the ingress network" \
    ctl service create ing --network ingress
refused "network rm blue (a service and endpoints on it)" \
    "network 'blue' is in use by service(s): web and endpoint(s): n1c1, n2c1, web.1, web.2" ctl network rm blue
refused "network rm ingress while web publishes ports in ingress mode" \
    "ingress network 'ingress' cannot be removed while service(s) publish ports in ingress mode: web" ctl network rm ingress
refused "service rm web (it has tasks)" "service 'web' has task(s): web.1, web.2, web.1-ingress; detach them first" ctl service rm web
refused "endpoint attach to a service on a network it is not attached to" "network 'red' is not attached to service 'web'" \
    ctl endpoint attach x --network red --node node2 --service web

# ---------------------------------------------------------------------------------
echo "--- 4. a restart, then everything goes"
before=$(ctl get | jf 'd["desired"]')
if lab_stop_vxmesh node1; then pass "restart: node1 stopped (exit 0)"; else fail "restart: node1 stopped (exit 0)" "status $?"; fi
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "restart: node1 started again" "see log above"
after=$(ctl get | jf 'd["desired"]')
[ -n "$before" ] && [ "$before" = "$after" ] && pass "restart: services, VIPs, tasks and load balancers all as before" || fail "restart: desired state kept" "before: $before | after: $after"
out=$(ctl network inspect -v blue 2>&1)
[ "$(jf 'd[0]["Services"]["web"]["LocalLBIndex"]' <<<"$out" 2>/dev/null)" = 256 ] && pass "restart: LocalLBIndex from 256 again (in memory, as Docker's)" || fail "restart: LocalLBIndex" "$(head -c 300 <<<"$out")"
check "detach web.1, web.2, web.1-ingress" bash -c "'$CTL' -s '$SOCK1' endpoint detach web.1 && '$CTL' -s '$SOCK1' endpoint detach web.2 && '$CTL' -s '$SOCK1' endpoint detach web.1-ingress"
lbs=$(ctl get | jf 'd["desired"]["load_balancers"]')
[ "$lbs" = "[]" ] && pass "no task left: no load balancer left" || fail "load balancers after the last task" "$lbs"
out=$(ctl service rm web rr 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$out" = "$(printf 'web\nrr')" ] && pass "service rm web rr: prints the names, as docker" || fail "service rm web rr" "exit $rc: $out"
out=$(ctl service ls 2>&1)
[ "$(wc -l <<<"$out")" = 1 ] && pass "service ls: empty" || fail "service ls: empty" "$(tr '\n' '|' <<<"$out")"
check "network rm ingress, now that nothing publishes" ctl network rm ingress
check "ping blue node1/c1 -> node2/c1 throughout" ping_ok node1 c1 10.0.1.3

for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?"; fi
done
t_end
