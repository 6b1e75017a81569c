#!/bin/bash
# Self-test of the namespace lab with kernel VTEPs only (no vxmesh needed):
# two plain-Linux VXLAN nodes, blue and red containers on each, static FDB/ARP.
# Proves the lab's underlay, node, container and kernel-VTEP functions, the MTU
# and the kernel-default offloads (10 MB TCP), network isolation, and cleanup.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin lab_selftest
lab_init "${LAB_PREFIX:-vxs$$-}" || fatal "lab: init" "lab_init failed"

topo_reset
topo_add_node k1 10.99.0.1 kernel
topo_add_node k2 10.99.0.2 kernel
topo_add_network blue 4097 10.0.1.0/24
topo_add_network red 4098 10.0.2.0/24
topo_add_ep k1c1 blue 10.0.1.2 k1 c1
topo_add_ep k1c2 red 10.0.2.2 k1 c2
topo_add_ep k2c1 blue 10.0.1.3 k2 c1
topo_add_ep k2c2 red 10.0.2.3 k2 c2
if topo_build; then pass "lab: topology built"; else fatal "lab: topology built" "topo_build failed"; fi

# Structure checks.
check "lab: namespaces carry the prefix" bash -c "[ \$(ip netns list | grep -c '^$LAB_PREFIX') -eq 7 ]"
check "lab: underlay bridge has 2 ports" bash -c "[ \$(ip -n ${LAB_PREFIX}ul -o link show master br0 | wc -l) -eq 2 ]"
check "lab: container eth0 has IP/24 and MAC" bash -c \
    "ip -n ${LAB_PREFIX}k1-c1 -o addr show dev eth0 | grep -q '10.0.1.2/24' && ip -n ${LAB_PREFIX}k1-c1 link show eth0 | grep -q 02:42:0a:00:01:02"
check "lab: container IPv6 disabled" bash -c "[ \$(ip netns exec ${LAB_PREFIX}k1-c1 sysctl -n net.ipv6.conf.eth0.disable_ipv6) = 1 ]"
check "lab: deterministic node MAC" bash -c "ip -n ${LAB_PREFIX}k1 link show ul | grep -q $(lab_mac k1/ul)"
# The lab changes no offload: containers and kernel VTEPs keep the kernel's defaults
# (vxmesh must cope with partial checksums and GSO super-frames; issue 9, finding 4).
if command -v ethtool >/dev/null 2>&1; then
    for f in tx-checksumming tcp-segmentation-offload generic-segmentation-offload; do
        check "lab: container eth0 keeps $f on (kernel default)" bash -c \
            "ip netns exec ${LAB_PREFIX}k1-c1 ethtool -k eth0 | grep -q '^$f: on'"
        check "lab: kernel VTEP ul keeps $f on (kernel default)" bash -c \
            "ip netns exec ${LAB_PREFIX}k1 ethtool -k ul | grep -q '^$f: on'"
    done
else
    fail "lab: offloads at kernel defaults" "ethtool missing (tools/lab/install.sh installs it)"
fi
check "lab: root namespace has no lab interfaces" bash -c "! ip -o link show | grep -Eq ' (u-k1|u-k2|ul|br0)[@:]'"

# Data path through kernel VXLAN.
check "kernel vxlan: ping blue k1 -> k2" ping_ok k1 c1 10.0.1.3
check "kernel vxlan: ping blue k2 -> k1" ping_ok k2 c1 10.0.1.2
check "kernel vxlan: ping red k1 -> k2" ping_ok k1 c2 10.0.2.3
check "kernel vxlan: ping red k2 -> k1" ping_ok k2 c2 10.0.2.2
# Isolation: a route to red from a blue container gets nowhere.
lab_exec k1-c1 ip route add 10.0.2.0/24 dev eth0
check "kernel vxlan: blue cannot reach red" ping_fails k1 c1 10.0.2.3
tcp_transfer "kernel vxlan: TCP 10 MB k1 -> k2" k1 c1 k2 c1 10.0.1.3 $((10 * 1024 * 1024))
tcp_transfer "kernel vxlan: TCP 1 MB k2 -> k1 (red)" k2 c2 k1 c2 10.0.2.2 $((1024 * 1024)) 5002
t_end
