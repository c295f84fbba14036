# SPDX-License-Identifier: GPL-2.0-or-later
"""The python tests' helper (tests/lib/py): skip/fail/check in the shell tests' words (exit 77
to skip, 1 to fail, "ok: " for each check), a bounded wait on a condition, `dumping`, a
context manager that prints a peer's logs when the block fails and stops it either way, and
`Broker`, the real argobox-broker on loopback with a temporary config.

A test imports it from its own location:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib/py"))
    from ablib import Broker, check, dumping, fail, skip, wait_for
"""

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

BUILD = os.environ.get("AB_BUILD_DIR", "build")
BROKER = os.path.join(BUILD, "broker", "argobox-broker")
CTL = os.path.join(BUILD, "broker", "argoboxctl")


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def wait_for(pred, what, timeout=15, interval=0.02):
    """pred()'s first true value; fails after timeout seconds (a bounded wait, no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    fail("timed out waiting for " + what)


@contextlib.contextmanager
def dumping(peer, *cleanups):
    """with dumping(Session(...)) as s: ...: on an error, peer.dump() and the error goes on;
    peer.stop() and then each of cleanups() run either way."""
    try:
        yield peer
    except BaseException:
        peer.dump()
        raise
    finally:
        peer.stop()
        for c in cleanups:
            c()


class Broker:
    """argobox-broker on 127.0.0.1 (a port of its own) with tmp/broker.json: the runtime dir,
    admin socket (tmp/broker.sock), data dir (self.data) and audit log (self.log_path) in tmp,
    the process launcher, and each of `extra`'s top-level keys merged over that. Its output goes
    to tmp/broker.err (self.stderr()). stop() wants exit status 0."""

    def __init__(self, tmp, extra=None):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "audit.log")
        cfg = {
            "listen": {"address": "127.0.0.1", "port": 0},
            "session": {"launcher": "process", "runtime_base": os.path.join(tmp, "run")},
            "admin": {"socket": os.path.join(tmp, "broker.sock")},
            "data": {"dir": self.data},
            "audit": {"path": self.log_path},
        }
        for k, v in (extra or {}).items():
            cfg[k] = {**cfg[k], **v} if isinstance(cfg.get(k), dict) else v
        with open(os.path.join(tmp, "broker.json"), "w") as f:
            json.dump(cfg, f)
        self.err = open(os.path.join(tmp, "broker.err"), "w+")
        self.p = subprocess.Popen([BROKER, "--config", os.path.join(tmp, "broker.json")],
                                  stdout=self.err, stderr=self.err)
        end = time.time() + 20
        self.port = None
        while time.time() < end and self.port is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.stderr())
            if m:
                self.port = int(m.group(1))
            elif self.p.poll() is not None:
                fail("broker exited: " + self.stderr())
            time.sleep(0.05)
        check(self.port, "broker listens")

    def stderr(self):
        with open(self.err.name) as f:
            return f.read()

    def get(self, target, headers=None):
        """GET target: (status, headers with lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", target, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body

    def get_json(self, target):
        st, _, body = self.get(target)
        return st, json.loads(body) if body else None

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail("broker did not stop")
        if rc != 0:
            fail(f"broker exit status {rc}: {self.stderr()[-2000:]}")
        print("ok: broker stopped cleanly")
