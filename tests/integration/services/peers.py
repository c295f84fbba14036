#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Real (misbehaving) services on loopback for the services tests and bench.

  peers.py --ports FILE [--cert PEM --key PEM] [--slow-ms N] KIND[*COUNT] ...

Each KIND listens on 127.0.0.1 on a port of its own; FILE receives {"KIND": [port, ...]}
once every listener is up. Kinds:
  healthy   HTTP 200 "ok healthy"
  slow      HTTP 200 after --slow-ms (default 400)
  flapping  HTTP 200 and 503 in turn
  error500  HTTP 500
  tls       HTTPS 200 "ok tls" (--cert/--key, e.g. self-signed)
  tcp       accepts and closes: a TCP-only service (HTTP gets nothing)
  hang      accepts, reads, never answers
  endless   HTTP 200 with a body that never ends
  redirect  HTTP 302 to itself (a redirect loop, for a client that follows)
  bigheader HTTP 200 with a 1 MiB header line
One process, one asyncio loop; it runs until killed.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys

flap_state = {}


async def read_head(reader):
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except Exception:
        return False
    return True


def reply(writer, status, body, reason="OK"):
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body))


def handler(kind, slow_s, key):
    async def handle(reader, writer):
        try:
            if kind == "tcp":
                return
            if kind == "hang":
                await reader.read(65536)
                await asyncio.sleep(3600)
                return
            if not await read_head(reader):
                return
            if kind in ("healthy", "tls"):
                reply(writer, 200, b"ok " + kind.encode())
            elif kind == "slow":
                await asyncio.sleep(slow_s)
                reply(writer, 200, b"ok slow")
            elif kind == "flapping":
                n = flap_state.get(key, 0)
                flap_state[key] = n + 1
                if n % 2 == 0:
                    reply(writer, 200, b"ok flapping")
                else:
                    reply(writer, 503, b"flap", "Service Unavailable")
            elif kind == "redirect":
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            elif kind == "bigheader":
                writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * (1 << 20) +
                             b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            elif kind == "error500":
                reply(writer, 500, b"boom", "Internal Server Error")
            elif kind == "endless":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Connection: close\r\n\r\n")
                chunk = b"x" * 16384
                while True:
                    writer.write(chunk)
                    await writer.drain()
            await writer.drain()
        except Exception:
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass
    return handle


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--slow-ms", type=int, default=400)
    ap.add_argument("kinds", nargs="+")
    a = ap.parse_args()
    tls = None
    if a.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.cert, a.key)
    ports = {}
    servers = []
    for spec in a.kinds:
        kind, _, count = spec.partition("*")
        for i in range(int(count or 1)):
            srv = await asyncio.start_server(handler(kind, a.slow_ms / 1000, (kind, i)),
                                             "127.0.0.1", 0, backlog=256,
                                             ssl=tls if kind == "tls" else None)
            servers.append(srv)
            ports.setdefault(kind, []).append(srv.sockets[0].getsockname()[1])
    tmp = a.ports + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, a.ports)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
