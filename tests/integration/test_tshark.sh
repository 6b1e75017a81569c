#!/bin/bash
# Wire check of vxmesh's VXLAN: capture on the underlay bridge while pinging on
# blue and red, then check with tshark that both VNIs (4097, 4098) appear, each
# carrying only its own network's addresses, that nothing is malformed or has a bad
# checksum, that VXLAN headers are well-formed, that the outer Ethernet/IP headers
# name the right VTEPs, and that no broadcast is flooded into the overlay.
# The malformed/bad-checksum filter is first proven on packets made broken on purpose.
set -u
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"
t_begin tshark
command -v tshark >/dev/null || fatal "tshark: installed" "tshark not found"
require_vxmesh
lab_init "${LAB_PREFIX:-vxw$$-}" || fatal "lab: init" "lab_init failed"

TS_OPTS=(-d 'udp.port==4789,vxlan' -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE
    -o tcp.check_checksum:TRUE)
BAD_FILTER='_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || tcp.checksum.status == "Bad"'

# ts_count FILE FILTER: number of matching frames; fails if tshark fails (e.g. a bad filter).
ts_count() {
    local out
    out=$(tshark -r "$1" "${TS_OPTS[@]}" -Y "$2" -T fields -e frame.number 2>"$LAB_DIR/ts.err") ||
        { echo "tshark failed: $(grep -v 'Running as user' "$LAB_DIR/ts.err" | head -n 2)" >&2; return 1; }
    printf '%s' "$out" | grep -c .
}

# 1. Prove the filter: scapy writes good and deliberately broken VXLAN frames.
"$LAB_PY" - "$LAB_DIR" <<'PY' || fatal "tshark: make reference pcaps" "scapy failed"
import sys
from scapy.all import Ether, IP, UDP, ICMP, Raw, wrpcap
from scapy.layers.vxlan import VXLAN
d = sys.argv[1]
def good(vni):
    return (Ether(src="02:ee:00:00:00:01", dst="02:ee:00:00:00:02") /
            IP(src="10.99.0.1", dst="10.99.0.2") / UDP(sport=49152, dport=4789) /
            VXLAN(vni=vni, flags=0x08) /
            Ether(src="02:42:0a:00:01:02", dst="02:42:0a:00:01:03") /
            IP(src="10.0.1.2", dst="10.0.1.3") / ICMP() / Raw(b"x" * 32))
wrpcap(f"{d}/ref_good.pcap", [good(4097), good(4098)])
bad = []
raw = bytes(good(4097))
bad.append(Ether(raw[:14 + 20 + 8 + 4]))            # cut inside the VXLAN header
bad.append(Ether(raw[:14 + 20 + 8 + 8 + 14 + 10]))  # cut inside the inner IPv4 header
bad.append(Ether(raw[:-10]))                        # outer IP length > frame
for layer in (IP, UDP, ICMP):                       # wrong checksums
    p = good(4097)
    p[layer].chksum = 0x1234
    bad.append(Ether(bytes(p)))
wrpcap(f"{d}/ref_bad.pcap", bad)

PY
nbad=6
c=$(ts_count "$LAB_DIR/ref_bad.pcap" "$BAD_FILTER")
[ "$c" = "$nbad" ] && pass "tshark: filter flags all $nbad broken reference frames" ||
    fail "tshark: filter flags all $nbad broken reference frames" "matched '$c'"
c=$(ts_count "$LAB_DIR/ref_good.pcap" "$BAD_FILTER")
[ "$c" = 0 ] && pass "tshark: filter passes good reference frames" ||
    fail "tshark: filter passes good reference frames" "matched '$c'"

# 2. Lab, capture started (and confirmed capturing) before vxmesh comes up.
topo_overlay || fatal "lab: topology" "topo_overlay failed"
PCAP=$LAB_DIR/underlay.pcap
lab_bg ul "$LAB_DIR/tshark.log" tshark -n -i br0 -w "$PCAP"
TS_PID=$LAB_LAST_PID
for ((i = 0; i < 300; i++)); do
    grep -q "Capturing on" "$LAB_DIR/tshark.log" 2>/dev/null && break
    _lab_alive "$TS_PID" || break
    sleep 0.1
done
grep -q "Capturing on" "$LAB_DIR/tshark.log" ||
    fatal "tshark: capture on underlay br0 started" "$(tail -n 3 "$LAB_DIR/tshark.log" | tr '\n' '|')"
pass "tshark: capture on underlay br0 started"

topo_start_all || fatal "vxmesh: start node1 and node2" "see log above"
check "ping blue node1/c1 -> node2/c1" ping_ok node1 c1 10.0.1.3
check "ping blue node2/c1 -> node1/c1" ping_ok node2 c1 10.0.1.2
check "ping red node1/c2 -> node2/c2" ping_ok node1 c2 10.0.2.3
check "ping red node2/c2 -> node1/c2" ping_ok node2 c2 10.0.2.2
tcp_transfer "TCP 1 MB blue node1/c1 -> node2/c1" node1 c1 node2 c1 10.0.1.3 $((1024 * 1024))

lab_kill "$TS_PID" INT 10
for n in node1 node2; do lab_stop_vxmesh "$n" >/dev/null 2>&1; done
[ -s "$PCAP" ] || fatal "tshark: capture file written" "$PCAP empty"
echo "capture: $(tshark -r "$PCAP" -T fields -e frame.number 2>/dev/null | wc -l) frames; protocols: $(tshark -r "$PCAP" "${TS_OPTS[@]}" -T fields -e frame.protocols 2>/dev/null | sort | uniq -c | sort -rn | awk '{printf "%s x%s; ", $2, $1}')"

vnis=$(tshark -r "$PCAP" "${TS_OPTS[@]}" -Y vxlan -T fields -e vxlan.vni 2>/dev/null | sort -un | tr '\n' ' ')
[[ " $vnis" == *" 4097 "* ]] && pass "tshark: VNI 4097 (blue) on the wire" || fail "tshark: VNI 4097 (blue) on the wire" "VNIs seen: '$vnis'"
[[ " $vnis" == *" 4098 "* ]] && pass "tshark: VNI 4098 (red) on the wire" || fail "tshark: VNI 4098 (red) on the wire" "VNIs seen: '$vnis'"
[ "$vnis" = "4097 4098 " ] && pass "tshark: no other VNI" || fail "tshark: no other VNI" "VNIs seen: '$vnis'"

c=$(ts_count "$PCAP" "$BAD_FILTER")
if [ "$c" = 0 ]; then pass "tshark: 0 malformed / error / bad-checksum frames"
else
    fail "tshark: 0 malformed / error / bad-checksum frames" "$c frames, e.g.: $(tshark -r "$PCAP" "${TS_OPTS[@]}" -Y "$BAD_FILTER" 2>/dev/null | head -n 3 | tr '\n' '|')"
fi
c=$(ts_count "$PCAP" "vxlan && (vxlan.flag_i == 0 || vxlan.reserved8 != 0 || udp.dstport != 4789)")
[ "$c" = 0 ] && pass "tshark: VXLAN headers have I flag, zero reserved, dport 4789" ||
    fail "tshark: VXLAN headers have I flag, zero reserved, dport 4789" "$c bad headers"

# Each VNI carries only its own subnet (the inner IPv4 header is the second one).
wrong=$(tshark -r "$PCAP" "${TS_OPTS[@]}" -Y "vxlan && ip" -T fields -e vxlan.vni -e ip.src -e ip.dst 2>/dev/null |
    awk -F'\t' '{split($2, s, ","); split($3, d, ","); net = ($1 == 4097) ? "10.0.1." : ($1 == 4098) ? "10.0.2." : "?";
        if (index(s[2], net) != 1 || index(d[2], net) != 1) print $1 " " s[2] ">" d[2]}' | sort | uniq -c | head -n 5)
[ -z "$wrong" ] && pass "tshark: each VNI carries only its own network's addresses" ||
    fail "tshark: each VNI carries only its own network's addresses" "$(echo "$wrong" | tr '\n' '|')"

# Outer headers: VTEP IPs and their ul MACs.
m1=$(lab_mac node1/ul); m2=$(lab_mac node2/ul)
c=$(ts_count "$PCAP" "vxlan && !((ip.src == 10.99.0.1 && ip.dst == 10.99.0.2 && eth.src == $m1 && eth.dst == $m2) || (ip.src == 10.99.0.2 && ip.dst == 10.99.0.1 && eth.src == $m2 && eth.dst == $m1))")
[ "$c" = 0 ] && pass "tshark: outer Ethernet/IP headers name the right VTEPs" ||
    fail "tshark: outer Ethernet/IP headers name the right VTEPs" "$c frames with other outer addresses, e.g. $(tshark -r "$PCAP" -Y vxlan -T fields -e eth.src -e eth.dst -e ip.src -e ip.dst 2>/dev/null | head -n 1)"
c=$(ts_count "$PCAP" "arp.opcode == 2 && !((arp.src.proto_ipv4 == 10.99.0.1 && arp.src.hw_mac == $m1) || (arp.src.proto_ipv4 == 10.99.0.2 && arp.src.hw_mac == $m2))")
r=$(ts_count "$PCAP" "arp.opcode == 2")
[ "$c" = 0 ] && [ "${r:-0}" -gt 0 ] && pass "tshark: underlay ARP replies ($r) give each VTEP's own MAC" ||
    fail "tshark: underlay ARP replies give each VTEP's own MAC" "$r replies, $c wrong"
c=$(ts_count "$PCAP" "vxlan && eth.dst == ff:ff:ff:ff:ff:ff")
[ "$c" = 0 ] && pass "tshark: no broadcast flooded into the overlay (proxy ARP)" ||
    fail "tshark: no broadcast flooded into the overlay (proxy ARP)" "$c VXLAN frames with broadcast inner destination"
t_end
