"""One request to a vxmesh control socket (control/PROTOCOL.md), for the integration
tests' Python: connect, send the request as one JSON line, return the parsed reply.

  from ctl import request      # with tests/integration on PYTHONPATH
  reply = request(path, {"op": "get"})
"""
import json
import socket


def request(path, req, timeout=120):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        d = s.recv(1 << 20)
        if not d:
            raise EOFError("closed")
        buf += d
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])
