#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A JWKS server for the auth integration tests, on 127.0.0.1, any free port.

Usage: jwks_server.py DIR. Prints the port on stdout, then serves:
  GET /certs  depending on DIR/mode: "ok" (default) DIR/certs.json, "hang" never
              answers, "junk" 200 with a body that is not a key set, "500" an error
  GET /hang   never answers;  GET /junk  always junk
A non-empty DIR/cache_control is sent as the Cache-Control header of /certs.
Every request to /certs appends a line to DIR/hits.
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

root = sys.argv[1]


def read(name, default=""):
    try:
        with open(os.path.join(root, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def hang(self):
        time.sleep(120)

    def junk(self):
        body = b"<html>this is not a key set</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hang":
            return self.hang()
        if self.path == "/junk":
            return self.junk()
        if self.path != "/certs":
            self.send_error(404)
            return
        with open(os.path.join(root, "hits"), "a") as f:
            f.write("hit\n")
        mode = read("mode", "ok")
        if mode == "hang":
            return self.hang()
        if mode == "junk":
            return self.junk()
        if mode == "500":
            self.send_error(500)
            return
        body = read("certs.json").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        cc = read("cache_control")
        if cc:
            self.send_header("Cache-Control", cc)
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
# exit when the test closes our stdin (or dies)
sys.stdin.read()
