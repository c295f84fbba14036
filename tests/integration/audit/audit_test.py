#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The audit area against a real argobox-broker on loopback (issue 19).

    audit_test.py api|alerts|full|corrupt|verify

Each case starts its own broker (no users: loopback, everyone is the admin 'local'; the
admins-only rule is checked by tests/integration/authn's matrix), with its own data dir.
Events are made over real HTTP: a websocket upgrade to a path with no endpoint is refused
404 and audited "desktop.connect" deny, with the path in its detail.
"""
import csv
import hashlib
import hmac
import http.client
import http.server
import io
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib/py"))
import ablib  # noqa: E402
from ablib import BROKER, CTL, check, wait_for  # noqa: E402


class Broker(ablib.Broker):
    """The broker with no users; extra_audit is merged into its "audit" settings."""

    def __init__(self, tmp, extra_audit=None):
        super().__init__(tmp, {"audit": extra_audit or {}})

    def deny(self, path):
        """A refused websocket upgrade: audited desktop.connect deny with this path."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode("latin-1"))
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        s.close()
        return data

    def lines(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return [json.loads(l) for l in f if l.strip()]


def stored(b, n):
    return wait_for(lambda: b.get_json("/api/admin/audit/status")[1]["store"]["stored"] >= n,
                    f"{n} events stored")


def case_api(tmp):
    b = Broker(tmp)
    for i in range(30):
        b.deny(f"/nope/{i}")
    stored(b, 31)
    st, page = b.get_json("/api/admin/audit?event=desktop.&outcome=deny&limit=7")
    check(st == 200, f"query: {st}")
    check(len(page["events"]) == 7 and page["next_cursor"], f"first page: {page}")
    seen = [e["detail"]["path"] for e in page["events"]]
    check(seen[0] == "/nope/29", f"newest first: {seen}")
    cursor = page["next_cursor"]
    while cursor:
        st, page = b.get_json("/api/admin/audit?event=desktop.&outcome=deny&limit=7&cursor=" +
                              cursor)
        check(st == 200, f"next page: {st}")
        seen += [e["detail"]["path"] for e in page["events"]]
        cursor = page["next_cursor"]
    check(seen == [f"/nope/{i}" for i in reversed(range(30))], f"paged: {seen}")
    # filters: free text, source, time range
    st, page = b.get_json("/api/admin/audit?q=" + urllib.parse.quote('"/nope/17"'))
    check([e["detail"]["path"] for e in page["events"]] == ["/nope/17"], f"text: {page}")
    st, page = b.get_json("/api/admin/audit?source=127.0.0.1&limit=1000")
    check(len(page["events"]) == 30, f"source: {len(page['events'])}")
    now = int(time.time() * 1000)
    st, page = b.get_json(f"/api/admin/audit?from={now - 600000}&to={now + 1000}&event=broker.")
    check(st == 200 and [e["event"] for e in page["events"]] == ["broker.start"], f"range: {st} {page}")
    # exports, streamed, oldest first
    st, h, body = b.get("/api/admin/audit?event=desktop.connect&format=ndjson")
    check(st == 200 and h.get("content-type", "").startswith("application/x-ndjson"), f"{st} {h}")
    check("content-length" not in h, "the export is streamed (no Content-Length)")
    rows = [json.loads(l) for l in body.decode().splitlines()]
    check([r["detail"]["path"] for r in rows] == [f"/nope/{i}" for i in range(30)], "ndjson")
    st, h, body = b.get("/api/admin/audit?event=desktop.connect&format=csv")
    check(st == 200 and h.get("content-type", "").startswith("text/csv"), f"csv {st} {h}")
    table = list(csv.reader(io.StringIO(body.decode())))
    check(table[0] == ["seq", "time", "user", "role", "source", "event", "outcome", "detail"],
          f"csv header {table[0]}")
    check(len(table) == 31, f"csv rows {len(table)}")
    # hostile strings: control characters and formula starts in what a client sends
    b.deny("/=HYPERLINK(%22http://evil%22)%01%1b[31m")
    stored(b, 32)
    st, h, body = b.get("/api/admin/audit?event=desktop.connect&format=csv&q=HYPERLINK")
    text = body.decode()
    check("HYPERLINK" in text, f"hostile row exported: {text}")
    for line in text.splitlines()[1:]:
        for cell in next(csv.reader([line])):
            check(not cell[:1] in ("=", "+", "-", "@"), f"formula cell: {cell!r}")
            check(not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", cell), f"control char: {cell!r}")
    # bounded: absurd ranges and huge filters are a clear 400
    for q, why in [("from=1999-01-01", "2000-01-01"), ("from=99999999999999", "a year"),
                   ("from=2026-01-02&to=2026-01-01", "before"), ("limit=100000", "limit"),
                   ("q=" + "x" * 5000, "at most 256 bytes"), ("bogus=1", "unknown"),
                   ("cursor=abc", "cursor"), ("outcome=maybe", "outcome")]:
        st, body = b.get_json("/api/admin/audit?" + q)
        check(st == 400 and why in body["error"], f"{q[:40]}: {st} {body}")
    # a 10 MB filter never reaches the handler: the server refuses the request line
    try:
        st, _, _ = b.get("/api/admin/audit?q=" + "y" * (10 << 20))
        check(st in (400, 414, 431), f"10 MB filter: {st}")
    except (OSError, http.client.HTTPException):
        pass  # closed by the server: bounded too
    check(b.get("/healthz")[0] == 200, "still serving after the 10 MB filter")
    # the live tail (server-sent events): an event reaches it within a second
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.sendall(b"GET /api/admin/audit/tail?event=desktop.connect HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"audit tail" not in got:
        got += s.recv(4096)
    check(b"text/event-stream" in got, f"tail headers: {got[:300]}")
    t0 = time.time()
    b.deny("/tail-me")
    while b"/tail-me" not in got:
        got += s.recv(4096)
    took = time.time() - t0
    check(took < 1.0, f"tail took {took:.3f} s")
    check(b"event: audit\ndata: {" in got, f"SSE framing: {got[-300:]}")
    s.close()
    b.stop()
    print(f"PASS: api (30 events paged by 7, exports, 8 bounded 400s, tail in {took * 1000:.0f} ms)")


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []
    fail_first = 1

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((time.time(), dict(self.headers), body))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def case_alerts(tmp):
    srv = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    secret = "s3cret-for-the-test-only"
    rules = [{"name": "ws-probe", "event": "desktop.connect", "outcome": "deny", "per": "source",
              "threshold": 3, "window_s": 60}]
    b = Broker(tmp, {"alerts": {"rules": rules, "webhook": {
        "url": f"http://127.0.0.1:{srv.server_address[1]}/hook", "secret": secret}}})
    b.deny("/p/1")
    b.deny("/p/2")
    time.sleep(0.3)
    check(not Receiver.got, "not fired below the threshold")
    t0 = time.time()
    b.deny("/p/3")
    wait_for(lambda: Receiver.got, "the webhook", 5)
    first = Receiver.got[0][0] - t0
    check(first < 1.0, f"first delivery after {first:.3f} s")
    wait_for(lambda: len(Receiver.got) >= 2, "the retry", 10)
    for when, headers, body in Receiver.got[:2]:
        ts = headers["X-ArgoBox-Timestamp"]
        want = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        check(headers["X-ArgoBox-Signature"] == want, "HMAC signature")
        alert = json.loads(body)
        check(alert["alert"] == "ws-probe" and alert["count"] == 3 and
              alert["key"] == "127.0.0.1" and alert["event"]["detail"]["path"] == "/p/3",
              f"alert body {alert}")
    check(Receiver.got[1][1]["X-ArgoBox-Attempt"] == "2", "second attempt after a 503")
    check(Receiver.got[1][0] - Receiver.got[0][0] >= 0.9, "backoff before the retry")
    lines = b.lines()
    alerts = [l for l in lines if l["event"] == "audit.alert"]
    check(len(alerts) == 1 and alerts[0]["detail"]["rule"] == "ws-probe", f"audited: {alerts}")
    st, status = b.get_json("/api/admin/audit/status")
    check(status["alerts"]["delivered"] == 1, f"status {status['alerts']}")
    b.stop()
    srv.shutdown()
    # rules are validated at load
    bad = os.path.join(tmp, "bad.json")
    for rule, why in [({"name": "x"}, "event"), ({"name": "x", "event": "a", "per": "ip"}, "per"),
                      ({"name": "x", "event": "a", "threshold": 0}, "threshold"),
                      ({"name": "x", "event": "audit.alert"}, "audit area")]:
        with open(bad, "w") as f:
            json.dump({"audit": {"alerts": {"rules": [rule]}}}, f)
        r = subprocess.run([BROKER, "--config", bad, "--check-config"], capture_output=True,
                           text=True)
        check(r.returncode == 1 and why in r.stderr, f"{rule}: {r.returncode} {r.stderr}")
    with open(bad, "w") as f:
        json.dump({"audit": {"alerts": {"webhook": {"url": "http://127.0.0.1:1/", "secret": "x"}}}}, f)
    r = subprocess.run([BROKER, "--config", bad, "--check-config"], capture_output=True, text=True)
    check(r.returncode == 1 and "16 characters" in r.stderr, f"short secret: {r.stderr}")
    print(f"PASS: alerts (webhook in {first * 1000:.0f} ms, HMAC ok, retried after 503, "
          "audited, bad rules refused at load)")


def case_full(tmp):
    # a 1 MB cap makes the store full as a full disk would (SQLITE_FULL)
    b = Broker(tmp, {"store": {"max_db_mb": 1, "queue_max": 1000}})
    n = 0
    pad = "z" * 150
    t0 = time.time()
    while time.time() - t0 < 60:
        for _ in range(100):
            b.deny(f"/fill/{n}/{pad}")
            n += 1
        st = b.get_json("/api/admin/audit/status")[1]["store"]
        if st["failing"] and st["dropped"] > 0:
            break
    st = b.get_json("/api/admin/audit/status")[1]["store"]
    check(st["failing"] and "full" in st["error"], f"store state {st}")
    check(st["dropped"] > 0, f"dropped counted {st}")
    check(b.get("/healthz")[0] == 200, "still serving")
    health = b.get_json("/healthz")[1]
    check(health["audit"]["store"] == "failing", f"healthz {health}")
    b.deny("/after-full")
    lines = b.lines()
    paths = [l["detail"].get("path") for l in lines if l["event"] == "desktop.connect"]
    check(len(paths) == n + 1 and paths[-1] == "/after-full", "the JSON-lines file is complete")
    check(any(l["event"] == "audit.store" and l["outcome"] == "failure" for l in lines),
          "the failure is audited")
    b.stop()
    print(f"PASS: full ({n} events, {st['stored']} stored, {st['dropped']} dropped and counted, "
          "JSON lines complete, broker kept serving)")


def case_corrupt(tmp):
    os.makedirs(os.path.join(tmp, "data", "audit"), mode=0o700)
    junk = bytes((i * 7 + 3) & 255 for i in range(16384))
    with open(os.path.join(tmp, "data", "audit", "audit.db"), "wb") as f:
        f.write(junk)
    b = Broker(tmp)
    check("not a usable audit database" in b.stderr(), "clear error: " + b.stderr()[-1000:])
    b.deny("/still-audited")
    check(b.get_json("/healthz")[1]["audit"]["store"] == "unavailable", "healthz")
    st, body = b.get_json("/api/admin/audit")
    check(st == 503 and "not a usable audit database" in body["error"], f"API {st} {body}")
    b.stop()
    events = [l["event"] for l in b.lines()]
    check(events[:1] == ["audit.store"] and "broker.start" in events and
          "desktop.connect" in events and events[-1] == "broker.stop", f"JSON lines {events}")
    with open(os.path.join(tmp, "data", "audit", "audit.db"), "rb") as f:
        check(f.read() == junk, "the corrupt file is left for the admin")
    print("PASS: corrupt (clear error, broker serves, JSON lines intact, file untouched)")


def case_verify(tmp):
    b = Broker(tmp)
    for i in range(20):
        b.deny(f"/v/{i}")
    stored(b, 21)
    b.stop()
    ctl = [CTL, "audit", "verify", "--data-dir", os.path.join(tmp, "data")]
    r = subprocess.run(ctl, capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("OK: 22 records"), f"verify: {r.stdout}")
    key = os.path.join(tmp, "data", "audit", "signing.key")
    check(os.stat(key).st_mode & 0o777 == 0o600, "key is 0600")
    db = os.path.join(tmp, "data", "audit", "audit.db")
    pristine = os.path.join(tmp, "pristine.db")
    shutil.copy(db, pristine)
    cases = [
        ("UPDATE events SET detail = '{}' WHERE seq = 9", "record 10 does not follow record 9"),
        ("DELETE FROM events WHERE seq = 12", "records 12..12 are missing (deleted)"),
        ("UPDATE events SET seq = -4 WHERE seq = 4; UPDATE events SET seq = 4 WHERE seq = 5;"
         "UPDATE events SET seq = 5 WHERE seq = -4", "records 4..6 do not follow"),
        ("DELETE FROM events WHERE seq > 18", "truncated: the signed head names record 22, the "
         "last is 18"),
    ]
    for sql, want in cases:
        shutil.copy(pristine, db)
        for ext in ("-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
        h = sqlite3.connect(db)
        h.executescript(sql)
        h.commit()
        h.close()
        r = subprocess.run(ctl, capture_output=True, text=True)
        check(r.returncode == 1 and want in r.stdout, f"{sql}: {r.returncode} {r.stdout}")
    print("PASS: verify (intact: OK; edited, deleted, reordered, truncated: named)")


def main():
    case = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ab-audit-")
    try:
        globals()["case_" + case](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
