#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Opens the broker's desktop websocket (which starts the user's desktop), prints OPEN
# once the upgrade succeeded and holds the connection, discarding data, until killed.
import base64, os, socket, sys

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        sys.exit("closed during the upgrade")
    buf += d
if not buf.startswith(b"HTTP/1.1 101"):
    sys.exit("upgrade refused: " + buf.split(b"\r\n")[0].decode(errors="replace"))
print("OPEN", flush=True)
s.settimeout(None)
while s.recv(65536):
    pass
