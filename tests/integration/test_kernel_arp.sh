#!/bin/bash
# A kernel VXLAN peer whose container has no static neighbour entry resolves a vxmesh
# container by ARP (issue 9, finding 10). The lab's kernel VTEP "kn" (10.99.0.3) gets
# what a plain kernel setup without l2miss/proxy has: all-zeros FDB entries toward the
# vxmesh VTEPs, so the kernel floods a broadcast ARP request to them, and kn/c1's
# neighbour entries come and go by ARP alone. vxmesh answers both the broadcast request
# and the unicast re-confirmation the kernel sends to the endpoint's MAC once the entry
# is STALE (state DELAY, then PROBE), by proxy from the decapsulation side, the reply
# going back in VXLAN. Before: the broadcast was dropped (vxlan_unknown_destination),
# the unicast request reached the container, whose reply the access side dropped
# (arp_not_request).
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin kernel_arp
require_vxmesh
CTL_SRC=${VXMESHCTL_BIN:-$T_ROOT/build/tools/vxmeshctl}
[ -x "$CTL_SRC" ] || fatal "vxmeshctl binary" "not found at $CTL_SRC"
lab_init "${LAB_PREFIX:-vxa$$-}" || fatal "lab: init" "lab_init failed"
CTL=$LAB_DIR/vxmeshctl
cp "$CTL_SRC" "$CTL" || fatal "vxmeshctl: copy to $LAB_DIR" "cp failed"

topo_overlay kernel || fatal "lab: topology" "topo_overlay kernel failed"
KC=$(lab_ns kn-c1)
# kn/c1 forgets the lab's static entries: it resolves by ARP, as a container does.
ip -n "$KC" neigh flush dev eth0 nud permanent || fatal "kn/c1: flush static neighbours" "ip neigh flush failed"
for n in node1 node2; do
    lab_kernel_fdb kn 4097 00:00:00:00:00:00 "$(topo_node_ip "$n")" ||
        fatal "kn: all-zeros FDB entry toward $n" "bridge fdb append failed"
done
# node1/c1 knows kn/c1 statically: node1's arp_proxied then counts kn/c1's requests only.
lab_neigh node1 c1 10.0.1.10 "$(lab_default_mac 10.0.1.10)" || fatal "node1/c1: static entry for kn/c1" "ip neigh failed"
# Short neighbour timers, so that the entry goes STALE within seconds and is
# re-confirmed by unicast one second after its next use.
ip netns exec "$KC" sysctl -qw net.ipv4.neigh.eth0.base_reachable_time_ms=1000 \
    net.ipv4.neigh.eth0.delay_first_probe_time=1 || fatal "kn/c1: neighbour timers" "sysctl failed"
SOCK1=$LAB_DIR/run/node1.sock
lab_start_vxmesh node1 "$LAB_DIR/node1.yaml" --socket "$SOCK1" || fatal "vxmesh: start node1" "see log above"
lab_start_vxmesh node2 "$LAB_DIR/node2.yaml" --socket "$LAB_DIR/run/node2.sock" ||
    fatal "vxmesh: start node2" "see log above"
pass "vxmesh: node1 and node2 ready"

neigh_state() { ip -n "$KC" neigh show "$1" dev eth0 | awk '{print $NF}'; }
neigh_mac() { ip -n "$KC" neigh show "$1" dev eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
proxied() { timeout 30 "$CTL" -s "$SOCK1" --format json stats | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["arp_proxied"])'; }

[ -z "$(neigh_state 10.0.1.2)" ] && pass "kn/c1 starts with no neighbour entry for node1/c1" ||
    fail "kn/c1 starts with no neighbour entry for node1/c1" "state $(neigh_state 10.0.1.2)"
p0=$(proxied)
check "ping kn/c1 -> node1/c1 (broadcast ARP through the all-zeros entry)" ping_ok kn c1 10.0.1.2
check "ping kn/c1 -> node2/c1 (the same request also reaches node2)" ping_ok kn c1 10.0.1.3
mac=$(neigh_mac 10.0.1.2)
[ "$mac" = "$(lab_default_mac 10.0.1.2)" ] && pass "kn/c1 resolved 10.0.1.2 to node1/c1's MAC ($mac)" ||
    fail "kn/c1 resolved 10.0.1.2 to node1/c1's MAC" "got '$mac'"

# Wait (up to 30 s) for the entry to leave REACHABLE (STALE; or DELAY/PROBE when the
# kernel saw it used within delay_first_probe_time), then use it: a unicast PROBE to
# node1/c1's MAC must be answered for the entry to stay usable.
aged=""
for ((i = 0; i < 300; i++)); do
    state=$(neigh_state 10.0.1.2)
    case "$state" in STALE | DELAY | PROBE) aged=$state; break ;; esac
    sleep 0.1
done
[ -n "$aged" ] && pass "kn/c1's entry for node1/c1 left REACHABLE ($aged)" ||
    fail "kn/c1's entry for node1/c1 left REACHABLE" "state $(neigh_state 10.0.1.2)"
p1=$(proxied)
# 10 echo requests over 4.5 s: the probe goes out after 1 s, its retries 1 s apart;
# without an answer the entry fails after 3 probes and replies are lost.
out=$(lab_exec kn-c1 ping -n -c 10 -i 0.5 -W 2 10.0.1.2)
if grep -q " 0% packet loss" <<<"$out"; then pass "ping kn/c1 -> node1/c1 through the re-confirmation: no loss"
else fail "ping kn/c1 -> node1/c1 through the re-confirmation" "$(grep 'packet loss' <<<"$out")"; fi
p2=$(proxied)
state=$(neigh_state 10.0.1.2)
case "$state" in
REACHABLE | STALE | DELAY) pass "kn/c1's entry for node1/c1 was re-confirmed ($state)" ;;
*) fail "kn/c1's entry for node1/c1 was re-confirmed" "state '$state'" ;;
esac
[ $((p1 - p0)) -ge 1 ] && pass "node1 answered the broadcast request by proxy (arp_proxied $p0 -> $p1)" ||
    fail "node1 answered the broadcast request by proxy" "arp_proxied $p0 -> $p1"
[ $((p2 - p1)) -ge 1 ] && pass "node1 answered the unicast re-confirmation by proxy (arp_proxied $p1 -> $p2)" ||
    fail "node1 answered the unicast re-confirmation by proxy" "arp_proxied $p1 -> $p2"
check "ping node1/c1 -> kernel kn/c1 (10.0.1.10)" ping_ok node1 c1 10.0.1.10

for n in node1 node2; do
    if lab_stop_vxmesh "$n"; then pass "vxmesh: $n exits 0 on SIGTERM"
    else fail "vxmesh: $n exits 0 on SIGTERM" "status $?"; fi
done
t_end
