# SPDX-License-Identifier: GPL-2.0-or-later
"""The python tests' helper (tests/lib/py): skip/fail/check in the shell tests' words (exit 77
to skip, 1 to fail, "ok: " for each check), a bounded wait on a condition, and `dumping`, a
context manager that prints a peer's logs when the block fails and stops it either way.

A test imports it from its own location:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib/py"))
    from ablib import check, dumping, fail, skip, wait_for
"""

import contextlib
import sys
import time


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
