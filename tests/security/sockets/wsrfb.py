#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A browser's first step on its desktop: websocket upgrade with the session cookie, then read
what the desktop says first. Prints "rfb <banner>" and exits 0 when an RFB server answered,
prints "closed <reason>" and exits 2 when the broker closed the websocket without one, exits 3
on anything else.  usage: wsrfb.py PORT COOKIE [PATH] [--hold]
--hold: after the banner, keep the websocket open until stdin closes (then exit 0)."""
import base64, os, socket, struct, sys

hold = "--hold" in sys.argv
args = [a for a in sys.argv[1:] if a != "--hold"]
port, cookie = int(args[0]), args[1]
path = args[2] if len(args) > 2 else "/websockify"
s = socket.create_connection(("127.0.0.1", port), timeout=20)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Sec-WebSocket-Protocol: binary\r\nOrigin: http://127.0.0.1:{port}\r\n"
           f"Cookie: {cookie}\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        print("no upgrade answer"); sys.exit(3)
    buf += d
head, _, buf = buf.partition(b"\r\n\r\n")
if b" 101 " not in head.split(b"\r\n")[0]:
    print("refused upgrade:", head.split(b"\r\n")[0].decode()); sys.exit(3)

def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    out, buf = buf[:n], buf[n:]
    return out

try:
    while True:
        b0, b1 = need(2)
        ln = b1 & 0x7F
        if ln == 126:
            ln = struct.unpack(">H", need(2))[0]
        elif ln == 127:
            ln = struct.unpack(">Q", need(8))[0]
        payload = need(ln)
        op = b0 & 0x0F
        if op == 8:
            print("closed", payload[2:].decode(errors="replace")); sys.exit(2)
        if op in (1, 2, 0) and payload:
            if payload.startswith(b"RFB "):
                print("rfb", payload[:11].decode(errors="replace"), flush=True)
                if hold:
                    sys.stdin.read()
                sys.exit(0)
            print("data", payload[:32]); sys.exit(3)
except (EOFError, socket.timeout, ConnectionError) as e:
    print("closed", type(e).__name__); sys.exit(2)
