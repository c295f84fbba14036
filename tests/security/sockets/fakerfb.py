#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A listener that pretends to be a desktop session: binds a unix socket at PATH (replacing
what is there), greets every connection with an RFB 3.8 banner and appends whatever a peer
sends to LOG ("accept" per connection).  usage: fakerfb.py PATH LOG"""
import os, socket, sys

path, log = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
open(log, "a").write("listening\n")
while True:
    c, _ = s.accept()
    with open(log, "a") as f:
        f.write("accept\n")
    try:
        c.sendall(b"RFB 003.008\n")
        c.settimeout(2)
        d = c.recv(4096)
        if d:
            with open(log, "a") as f:
                f.write("got %r\n" % d)
    except OSError:
        pass
    c.close()
