#!/usr/bin/python3
"""tools/soak's traffic and update loops (plain sockets; run inside lab namespaces).

  udp_recv PORT READY OUT MAX_S        count loss, reordering, duplicates of one flow
  udp_send DST PORT STOP OUT MAX_S     sequence-numbered datagrams, 1 per ms, until STOP
  tcp_recv PORT READY OUT MAX_S        sha256 of everything received
  tcp_send DST PORT STOP OUT RATE MAX_S  random data at RATE bytes/s, until STOP
  churn SOCK SECONDS SEED OUT          random valid and invalid updates on the control socket
"""
import hashlib, json, os, random, socket, struct, sys, time


def udp_recv(port, ready, out, max_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", int(port)))
    open(ready, "w").close()
    seen = set()
    dups = reordered = 0
    top, sent = -1, None
    deadline = time.time() + float(max_s)
    s.settimeout(1.0)
    while time.time() < deadline:
        try:
            d = s.recv(2048)
        except socket.timeout:
            continue
        if d[:3] == b"END":
            sent = struct.unpack("!Q", d[3:11])[0]
            s.settimeout(0.3)
            deadline = min(deadline, time.time() + 1.0)
            continue
        q = struct.unpack("!Q", d[:8])[0]
        if q in seen:
            dups += 1
            continue
        seen.add(q)
        reordered += q < top
        top = max(top, q)
    expected = sent if sent is not None else top + 1
    missing = [q for q in range(expected) if q not in seen]
    json.dump({"sent": sent, "received": len(seen), "lost": len(missing),
               "missing_first": missing[:10], "reordered": reordered, "duplicates": dups},
              open(out, "w"))


def udp_send(dst, port, stop, out, max_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"s" * 56
    seq, t0 = 0, time.time()
    nxt, end = t0, t0 + float(max_s)
    while not (seq % 50 == 0 and (os.path.exists(stop) or time.time() > end)):
        now = time.time()
        if nxt > now:
            time.sleep(nxt - now)
        s.sendto(struct.pack("!Q", seq) + pad, (dst, int(port)))
        seq += 1
        nxt += 0.001
        if nxt < time.time() - 0.05:  # CPU starved: do not burst to catch up
            nxt = time.time()
    for _ in range(5):
        time.sleep(0.02)
        s.sendto(b"END" + struct.pack("!Q", seq), (dst, int(port)))
    json.dump({"sent": seq, "seconds": round(time.time() - t0, 1)}, open(out, "w"))


def tcp_recv(port, ready, out, max_s):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(port)))
    ls.listen(1)
    ls.settimeout(float(max_s))
    open(ready, "w").close()
    c, _ = ls.accept()
    c.settimeout(60)
    h, total = hashlib.sha256(), 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
        total += len(d)
    c.close()
    json.dump({"bytes": total, "sha256": h.hexdigest()}, open(out, "w"))


def tcp_send(dst, port, stop, out, rate, max_s):
    rate = int(rate)
    s = socket.create_connection((dst, int(port)), timeout=30)
    h, total = hashlib.sha256(), 0
    t0 = time.time()
    end = t0 + float(max_s)
    while not (os.path.exists(stop) or time.time() > end):
        d = os.urandom(16384)
        s.sendall(d)
        h.update(d)
        total += len(d)
        ahead = t0 + total / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
    s.close()
    json.dump({"bytes": total, "sha256": h.hexdigest(), "seconds": round(time.time() - t0, 1)},
              open(out, "w"))


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""
        self.n = 0

    def call(self, op, params=None):
        self.n += 1
        req = {"op": op, "id": self.n}
        if params is not None:
            req["params"] = params
        self.s.sendall((json.dumps(req) + "\n").encode())
        while b"\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError("vxmesh closed the control connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        r = json.loads(line)
        if r.get("id") != self.n:
            raise RuntimeError("reply id %r for request %d" % (r.get("id"), self.n))
        return r


def churn(path, seconds, seed, out):
    """Random updates that stay off the traffic path (blue 10.0.1.2/.3, red 10.0.2.2/.3,
    peer node2): peers sp*, endpoints on network soak* (and on red, behind sp*), services,
    networks. Valid ones must be accepted; invalid ones rejected with the generation and
    the desired state unchanged."""
    rnd = random.Random(int(seed))
    c = Client(path)
    peers, nets, eps, svcs = set(), set(), set(), set()
    res = {"valid": 0, "valid_rejected": 0, "invalid": 0, "invalid_accepted": 0,
           "invalid_changed_state": 0, "errors": []}
    counter = 0

    def note(kind, op, r):
        if len(res["errors"]) < 10:
            res["errors"].append({"kind": kind, "op": op, "reply": r})

    def patch(op):
        if "network_create" in op:  # IPAM picks the subnet and the VNI
            return c.call("network_create", op["network_create"])
        return c.call("patch", {"ops": [op]})

    def valid():
        nonlocal counter
        counter += 1
        choice = rnd.randrange(8)
        if choice == 0 or not peers:
            name = "sp%d" % counter
            op = {"op": "add", "kind": "peer",
                  "object": {"name": name, "address": "10.99.0.%d" % (100 + counter % 150)}}
            if any(p[1] == op["object"]["address"] for p in peers):
                return None
            peers.add((name, op["object"]["address"]))
            return op
        if choice == 1 and nets:
            n = rnd.choice(sorted(nets))
            if any(e[1] == n for e in eps) or any(s[1] == n for s in svcs):
                return None
            nets.discard(n)
            return {"op": "remove", "kind": "network", "name": n}
        if choice == 2 and len(nets) < 6:
            name = "soak%d" % counter
            nets.add(name)
            return {"network_create": {"name": name, "attachable": True}}
        if choice == 3 and (nets or peers):
            name = "se%d" % counter
            if nets and rnd.random() < 0.5:
                net = rnd.choice(sorted(nets))
                eps.add((name, net))
                return {"op": "add", "kind": "endpoint",
                        "object": {"name": name, "network": net, "node": "node1", "port": "c1"}}
            peer = rnd.choice(sorted(peers))[0]
            net = rnd.choice(sorted(nets)) if nets else "red"
            eps.add((name, net, peer))
            return {"op": "add", "kind": "endpoint",
                    "object": {"name": name, "network": net, "node": peer}}
        if choice == 4 and eps:
            e = rnd.choice(sorted(eps))
            eps.discard(e)
            return {"op": "remove", "kind": "endpoint", "name": e[0]}
        if choice == 5 and nets and len(svcs) < 4:
            name = "ss%d" % counter
            net = rnd.choice(sorted(nets))
            svcs.add((name, net))
            return {"op": "add", "kind": "service",
                    "object": {"name": name, "networks": [net], "endpoint_mode": "vip"}}
        if choice == 6 and svcs:
            s = rnd.choice(sorted(svcs))
            svcs.discard(s)
            return {"op": "remove", "kind": "service", "name": s[0]}
        if choice == 7 and peers:
            p = rnd.choice(sorted(peers))
            if any(len(e) == 3 and e[2] == p[0] for e in eps):
                return None
            peers.discard(p)
            return {"op": "remove", "kind": "peer", "name": p[0]}
        return None

    def invalid():
        choices = [
            {"op": "add", "kind": "peer", "object": {"name": "bad peer!", "address": "10.99.0.9"}},
            {"op": "add", "kind": "peer", "object": {"name": "node2", "address": "10.99.0.77"}},
            {"op": "add", "kind": "peer", "object": {"name": "bp", "address": "10.99.0.300"}},
            {"op": "add", "kind": "network", "object": {"name": "blue"}},
            {"op": "add", "kind": "network", "object": {"name": "bn", "vni": 4097, "subnet": "10.9.0.0/24"}},
            {"op": "add", "kind": "endpoint", "object": {"name": "be", "network": "nosuch", "node": "node2"}},
            {"op": "add", "kind": "endpoint", "object": {"name": "be", "network": "blue", "ip": "10.0.1.3", "node": "node2"}},
            {"op": "add", "kind": "endpoint", "object": {"name": "be", "network": "blue", "node": "nosuchnode"}},
            {"op": "remove", "kind": "network", "name": "blue"},
            {"op": "remove", "kind": "peer", "name": "node2"},
            {"op": "remove", "kind": "endpoint", "name": "nosuch"},
            {"op": "frobnicate", "kind": "peer", "name": "x"},
            {"op": "add", "kind": "service", "object": {"name": "bs", "networks": ["nosuch"]}},
        ]
        return rnd.choice(choices)

    end = time.time() + float(seconds)
    while time.time() < end:
        if rnd.random() < 0.3:
            op = invalid()
            before = c.call("get")
            r = patch(op)
            res["invalid"] += 1
            if r.get("ok"):
                res["invalid_accepted"] += 1
                note("invalid accepted", op, r)
                break  # the model no longer matches the bookkeeping
            after = c.call("get")
            if before.get("result") != after.get("result"):
                res["invalid_changed_state"] += 1
                note("invalid changed state", op, r)
        else:
            op = valid()
            if op is None:
                continue
            r = patch(op)
            res["valid"] += 1
            if not r.get("ok"):
                res["valid_rejected"] += 1
                note("valid rejected", op, r)
                break
        time.sleep(rnd.uniform(0.01, 0.1))
    json.dump(res, open(out, "w"))


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
