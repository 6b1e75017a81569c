#!/usr/bin/python3
# Writes the committed seed corpora of the packet fuzzers (tests/fuzz/corpus/underlay,
# access) from node1's lab (tests/packet/fixture.hpp: the same addresses and MACs), in
# the fuzzers' record format (tests/fuzz/frames.hpp): [flags][length:2][frame]...
# Run from the repository root with the system python (scapy): /usr/bin/python3 tests/fuzz/make_seeds.py
import os
import struct

from scapy.all import ARP, IP, TCP, UDP, VXLAN, Ether, raw

UL, N2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
VTEP1, VTEP2 = "10.99.0.1", "10.99.0.2"


def dmac(ip):
    return "02:42:" + ":".join("%02x" % int(b) for b in ip.split("."))


def record(frame, flags=1):
    b = raw(frame)
    return struct.pack("!BH", flags, len(b)) + b


def inner(src, dst, payload=b"x" * 56, proto=UDP(sport=7, dport=8)):
    return Ether(src=dmac(src), dst=dmac(dst)) / IP(src=src, dst=dst) / proto / payload


def vx(vni, frame, flags=0x08, sport=50000, src=VTEP2, dport=4789):
    return (Ether(src=N2, dst=UL) / IP(src=src, dst=VTEP1, flags="DF") /
            UDP(sport=sport, dport=dport, chksum=0) / VXLAN(flags=flags, vni=vni) / frame)


blue = inner("10.0.1.3", "10.0.1.2")
red = inner("10.0.2.3", "10.0.2.2")
underlay = {
    "vxlan_blue": [vx(4097, blue)],
    "vxlan_red_tcp": [vx(4098, inner("10.0.2.3", "10.0.2.2", b"y" * 200, TCP(sport=40000, dport=5001)))],
    "vxlan_unknown_vni": [vx(5000, blue)],
    "vxlan_no_i_flag": [vx(4097, blue, flags=0)],
    "vxlan_inner_arp": [vx(4097, Ether(src=dmac("10.0.1.3"), dst="ff:ff:ff:ff:ff:ff") /
                           ARP(op=1, hwsrc=dmac("10.0.1.3"), psrc="10.0.1.3", pdst="10.0.1.2"))],
    "arp_request_for_vtep": [Ether(src=N2, dst="ff:ff:ff:ff:ff:ff") /
                             ARP(op=1, hwsrc=N2, psrc=VTEP2, pdst=VTEP1)],
    "arp_reply_from_peer": [Ether(src=N2, dst=UL) /
                            ARP(op=2, hwsrc=N2, psrc=VTEP2, hwdst=UL, pdst=VTEP1)],
    "ipv4_options": [Ether(src=N2, dst=UL) / IP(src=VTEP2, dst=VTEP1, ihl=6, options=b"\x01\x01\x01\x00") /
                     UDP(sport=50000, dport=4789) / VXLAN(vni=4097) / blue],
    "burst_mixed": [vx(4097, blue), vx(4098, red), vx(5000, red), vx(4097, red),
                    Ether(src=N2, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=N2, psrc=VTEP2, pdst=VTEP1)],
}
access = {
    "arp_request_remote": [Ether(src=dmac("10.0.1.2"), dst="ff:ff:ff:ff:ff:ff") /
                           ARP(op=1, hwsrc=dmac("10.0.1.2"), psrc="10.0.1.2", pdst="10.0.1.3")],
    "udp_to_remote": [inner("10.0.1.2", "10.0.1.3")],
    "tcp_to_remote": [inner("10.0.1.2", "10.0.1.3", b"z" * 1400, TCP(sport=40000, dport=5001))],
    "udp_to_local": [inner("10.0.1.2", "10.0.1.4")],
    "broadcast": [Ether(src=dmac("10.0.1.2"), dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.1.2", dst="10.0.1.255") / UDP()],
    "burst_mixed": [inner("10.0.1.2", "10.0.1.3"), inner("10.0.1.2", "10.0.1.4"),
                    inner("10.0.1.2", "10.0.2.3"),
                    Ether(src=dmac("10.0.1.2"), dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=dmac("10.0.1.2"), psrc="10.0.1.2", pdst="10.0.1.3")],
}
for target, seeds in (("underlay", underlay), ("access", access)):
    os.makedirs(f"tests/fuzz/corpus/{target}", exist_ok=True)
    for name, frames in seeds.items():
        with open(f"tests/fuzz/corpus/{target}/{name}", "wb") as f:
            f.write(b"".join(record(fr) for fr in frames))
# From the red container on c2 (flags bit 1).
with open("tests/fuzz/corpus/access/from_c2_red", "wb") as f:
    f.write(record(inner("10.0.2.2", "10.0.2.3"), flags=3))
