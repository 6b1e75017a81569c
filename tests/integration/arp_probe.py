"""ARP who-has TARGET from a host of our own on IFACE, every INTERVAL s for SECONDS s.

One line per request to OUT: "answered SECONDS" (the latency on the wire: capture
timestamps, not scapy's start-up time) or "lost SECONDS". Run with Debian's
/usr/bin/python3 (scapy), inside the namespace that holds IFACE.

  arp_probe.py IFACE TARGET SECONDS OUT [INTERVAL] [SRC_IP] [SRC_MAC]
"""
import sys
import time

from scapy.all import ARP, Ether, conf, srp


def main(iface, target, seconds, out, interval="0.25", src_ip="10.99.0.50",
         src_mac="02:00:00:00:0a:32"):
    conf.verb = 0
    stop = time.time() + float(seconds)
    with open(out, "w") as f:
        while time.time() < stop:
            t0 = time.time()
            req = (Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) /
                   ARP(op=1, hwsrc=src_mac, psrc=src_ip, pdst=target))
            ans, _ = srp(req, iface=iface, timeout=2)
            if ans and ans[0][1][ARP].op == 2:
                sent, reply = ans[0]
                f.write("answered %.6f\n" % (float(reply.time) - float(sent.sent_time)))
            else:
                f.write("lost %.3f\n" % (time.time() - t0))
            f.flush()
            time.sleep(max(0, float(interval) - (time.time() - t0)))


if __name__ == "__main__":
    main(*sys.argv[1:])
