#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""preview_fanout: the landing page's preview serves any number of viewers from one connection.

A real broker (process launcher) whose showcase desktop is argobox-session showing xpattern's
known picture (session.desktop_command), watched through GET /ws/preview by ab-rfbbench:
  - 12 viewers at once (more than the session's 8 RFB clients) are all served, while the
    session has exactly one RFB client, the broker's fan-out (/healthz preview_upstreams 1,
    ss on the session's rfb.sock) and the desktop lists the 12 as its clients;
  - what a viewer gets decodes to the screen: noVNC's encodings (Tight with JPEG: pixels JPEG
    did not draw exact, JPEG ones within tolerance), Tight without a quality level and Raw
    (every pixel exact), compared with the X server's own picture (xwd -root);
  - input from a viewer is dropped and audited once (desktop.input deny);
  - once the last viewer left, the upstream connection is closed (nothing is read or encoded
    while nobody looks) and the showcase ends after the grace period (preview.stop).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../lib/py"))
sys.path.insert(0, HERE)
import ablib  # noqa: E402
from ablib import check, fail, skip, wait_for  # noqa: E402
import tight_test as tt  # noqa: E402

BUILD = tt.BUILD
BROKER = os.path.join(BUILD, "broker", "argobox-broker")
TOP = os.path.abspath(os.path.join(HERE, "../../.."))
VIEWERS = 12

CASES = [
    ("raw", "raw", [("raw_rects", ">", 0), ("tight_rects", "=", 0)]),
    ("tight lossless", "tight,compress=6", [("tight_fill", ">", 0), ("tight_jpeg", "=", 0)]),
    ("novnc", "novnc", [("tight_jpeg", ">", 0), ("raw_rects", "=", 0)]),
]

def healthz(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as r:
        return json.load(r)


def audit(tmp):
    try:
        with open(os.path.join(tmp, "audit.log")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def rfb_peers(sock):
    """Connections to the session's RFB socket (ss lists the server end with its path)."""
    out = subprocess.run(["ss", "-xH", "state", "connected"], capture_output=True, text=True,
                         check=True).stdout
    return sum(1 for line in out.splitlines() if sock in line.split())


def snapshot(target, tmp, display):
    for name, encs, expect in CASES:
        ppm, pgm = os.path.join(tmp, "fb.ppm"), os.path.join(tmp, "lossy.pgm")
        r = subprocess.run([tt.TOOL, "snapshot", target, "--encodings", encs, "--out", ppm,
                            "--lossy-out", pgm, "--stats"], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            fail("%s: ab-rfbbench snapshot: %s" % (name, r.stderr.strip()))
        stats = dict(kv.split("=", 1) for kv in r.stdout.split())
        x = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, timeout=30,
                           env=dict(os.environ, DISPLAY=display))
        if x.returncode != 0:
            fail("xwd: " + x.stderr.decode(errors="replace"))
        bad, nlossy, mean, mx = tt.compare(tt.read_ppm(ppm, b"P6"), tt.read_ppm(pgm, b"P5"),
                                           tt.read_xwd(x.stdout))
        print("preview, %s: tight_rects=%s fill=%s jpeg=%s raw_rects=%s; JPEG pixels %d, "
              "mean error %.2f, max %d" % (name, stats.get("tight_rects"),
                                          stats.get("tight_fill"), stats.get("tight_jpeg"),
                                          stats.get("raw_rects"), nlossy, mean, mx))
        for k, op, want in expect:
            check(tt.holds(int(stats[k]), op, want),
                  "%s: %s %s %d (%s)" % (name, k, op, want, stats[k]))
        check(bad == 0, "%s: every pixel JPEG did not draw equals the screen (%d differ)" %
              (name, bad))
        if nlossy:
            # bench_tight's bounds: the fan-out encodes with the session's own Tight encoder
            # (lib/tight), so its JPEG rings no more at hard edges than the session's own
            check(mean < tt.JPEG_MEAN and mx <= tt.JPEG_MAX,
                  "%s: JPEG pixels within tolerance (mean %.2f < %.1f, max %d <= %d)" %
                  (name, mean, tt.JPEG_MEAN, mx, tt.JPEG_MAX))


def main():
    for t in (tt.TOOL, tt.XPATTERN, BROKER, tt.SESSION):
        if not os.access(t, os.X_OK):
            skip("%s is not built" % t)
    for t in ("xwd", "xsetroot", "Xvfb", "ss"):
        if not shutil.which(t):
            skip("%s is not installed" % t)
    tmp = tempfile.mkdtemp(prefix="ab-preview-fanout-")
    ready = os.path.join(tmp, "ready")
    with open(os.path.join(TOP, "config", "argobox.sample.json")) as f:
        sample = json.load(f)
    auth = sample["auth"]
    auth["demo"].update({"enabled": True, "preview": {"per_ip_per_minute": 1000,
                                                      "grace_seconds": 8}})
    cfg = {"listen": {"address": "127.0.0.1", "port": 0},
           "session": {"launcher": "process", "binary": tt.SESSION,
                       "runtime_base": os.path.join(tmp, "run"), "geometry": tt.GEOM,
                       "desktop_command": [tt.XPATTERN, ready]},
           "admin": {"socket": os.path.join(tmp, "broker.sock")},
           "audit": {"path": os.path.join(tmp, "audit.log")},
           "data": {"dir": os.path.join(tmp, "data")}, "log": {"level": os.environ.get("AB_LOG_LEVEL", "info")},
           "auth": auth, "users": sample["users"], "profiles": sample["profiles"]}
    with open(os.path.join(tmp, "broker.json"), "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "broker.log"), "w")
    broker = subprocess.Popen([BROKER, "--config", os.path.join(tmp, "broker.json")],
                              stdout=log, stderr=log, start_new_session=True)
    viewers = []
    try:
        port = [0]

        def listening():
            with open(os.path.join(tmp, "broker.log")) as f:
                m = re.search(r"listening on http://[^:]*:(\d+)/", f.read())
            if m:
                port[0] = int(m.group(1))
            return bool(m)
        wait_for(listening, "the broker listening", timeout=30)
        port = port[0]
        target = "ws://127.0.0.1:%d/ws/preview" % port
        # the first viewer starts the showcase; xpattern draws and says where
        r = subprocess.run([tt.TOOL, "first-frame", target, "--encodings", "novnc"],
                           capture_output=True, text=True, timeout=90)
        check(r.returncode == 0, "first viewer: %s" % r.stderr.strip())
        wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0,
                 "xpattern's picture", timeout=30)
        with open(ready) as f:
            display = f.read().strip()
        show = next(e["user"] for e in audit(tmp) if e["event"] == "preview.start")
        sock = os.path.join(tmp, "run", show, "rfb.sock")

        viewers = [subprocess.Popen([tt.TOOL, "idle", target, "--encodings", "novnc", "--pids",
                                     str(os.getpid()), "--seconds", "4"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(VIEWERS)]
        wait_for(lambda: healthz(port).get("preview_viewers") == VIEWERS,
                 "%d preview viewers" % VIEWERS, timeout=20)
        # the screen changes while they watch (the root window around xpattern's picture):
        # every viewer must be sent the updates
        # (for longer than they watch after their first frame: updates must fall in that time)
        for i in range(20):
            subprocess.run(["xsetroot", "-solid", "#%02x4080" % (i * 12)], timeout=10,
                           env=dict(os.environ, DISPLAY=display), check=True)
            time.sleep(0.3)
        h = healthz(port)
        check(h.get("preview_upstreams") == 1, "one upstream connection: %s" % h)
        check(rfb_peers(sock) == 1, "the session has one RFB client (%d)" % rfb_peers(sock))
        out = subprocess.run([os.path.join(BUILD, "broker", "argoboxctl"), "--socket",
                              os.path.join(tmp, "broker.sock"), "--json", "list"],
                             capture_output=True, text=True, check=True).stdout
        clients = [d["clients"] for d in json.loads(out)["desktops"] if d["user"] == show]
        check(clients == [VIEWERS], "the showcase lists %d clients: %s" % (VIEWERS, clients))
        # served: each got its first frame (rc 0) and the updates of the changes (the broker's
        # close line per viewer; ab-rfbbench takes them in while it waits for a quiet screen)
        ok = sum(1 for v in viewers if v.wait(timeout=60) == 0)
        viewers = []
        check(ok == VIEWERS, "every viewer got its first frame: %d of %d" % (ok, VIEWERS))

        def closes():
            with open(os.path.join(tmp, "broker.log")) as f:
                return [int(m.group(1)) for m in re.finditer(
                    r"left the desktop of '[^']+': duration_ms=(?:[3-9]\d{3}|\d{5,}) "
                    r"bytes=\d+ updates=(\d+)", f.read())]
        wait_for(lambda: len(closes()) >= VIEWERS, "the viewers' close lines", timeout=20)
        ups = closes()[-VIEWERS:]
        check(all(u >= 5 for u in ups), "every viewer was sent the updates: %s" % ups)

        snapshot(target, tmp, display)

        # input through the preview: dropped, audited once for the connection
        r = subprocess.run([tt.TOOL, "latency", target, "--encodings", "novnc", "--keys", "2",
                            "--timeout", "3"], capture_output=True, text=True, timeout=60)
        print("latency through the preview: rc %d %s" % (r.returncode, r.stderr.strip()))
        check(r.returncode != 0 and "no key produced a screen change" in r.stderr,
              "keys typed into the preview change nothing")
        wait_for(lambda: any(e["event"] == "desktop.input" and e["outcome"] == "deny" and
                             e["detail"]["desktop"] == show for e in audit(tmp)),
                 "the dropped input audited", timeout=10)

        # nobody watching: no upstream, then the showcase ends
        wait_for(lambda: healthz(port).get("preview_upstreams") == 0 and rfb_peers(sock) == 0,
                 "the upstream closed with the last viewer", timeout=10)
        wait_for(lambda: any(e["event"] == "preview.stop" and e["user"] == show
                             for e in audit(tmp)), "preview.stop", timeout=40)
    finally:
        for v in viewers:
            v.kill()
        tt.stop(broker)
        log.close()
        if os.environ.get("AB_KEEP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
