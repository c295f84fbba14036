#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The audit area against a real argobox-broker on loopback (issue 19).

    audit_test.py api|alerts|full|corrupt|verify|report|notify|mirror|mirror_cfkv|settings

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
import struct
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


HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AB_SOURCE_DIR", os.path.join(HERE, "../../.."))
FAKE_SESSION = os.path.join(SRC, "tests/integration/broker/fake-session.js")


class Broker(ablib.Broker):
    """The broker (no users unless `extra` has some); extra_audit is merged into its "audit"
    settings, `extra`'s other top-level keys over the rest."""

    def __init__(self, tmp, extra_audit=None, extra=None):
        super().__init__(tmp, {"audit": extra_audit or {}, **(extra or {})})

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

    def request(self, method, target, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Origin": f"http://127.0.0.1:{self.port}", **(headers or {})}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        c.request(method, target, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def login(self, user, password):
        """Local sign-in: (status, the Cookie header to send as that user)."""
        st, h, _ = self.request("POST", "/api/login", {"user": user, "password": password})
        return st, "; ".join(c.split(";")[0] for c in h.get("set-cookie", "").split(", ")
                             if "=" in c.split(";")[0])

    def status(self, cookie=None):
        st, _, body = self.get("/api/admin/audit/status", {"Cookie": cookie} if cookie else {})
        check(st == 200, f"audit status: {st}") if st != 200 else None
        return json.loads(body)


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
    st, page = b.get_json(f"/api/admin/audit?from={now - 600000}&to={now + 1000}&event=broker.st")
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
    # an empty query string is no filter at all
    st, body = b.get_json("/api/admin/audit?")
    check(st == 200 and "events" in body, f"empty query string: {st} {body}")
    # a 40 KB filter (over listen.max_header_bytes): a clear 431 and an http.headers line
    st, _, body = b.get("/api/admin/audit?q=" + "z" * 40000)
    check(st == 431 and b"request headers too large" in body, f"40 KB filter: {st} {body[:80]}")
    # a 10 MB filter never reaches the handler: over lws's header buffer (4 x the limit) lws
    # closes the connection (its parser gives no answer); the refusal is audited either way
    try:
        st, _, _ = b.get("/api/admin/audit?q=" + "y" * (10 << 20))
        check(st in (400, 414, 431), f"10 MB filter: {st}")
    except (OSError, http.client.HTTPException):
        pass  # closed by the server: bounded too
    check(b.get("/healthz")[0] == 200, "still serving after the 10 MB filter")
    deadline = time.time() + 5
    while not audit_lines(b, "http.headers", answer="connection closed") and time.time() < deadline:
        time.sleep(0.1)
    check(audit_lines(b, "http.headers", answer="connection closed"),
          "the 10 MB filter's refusal is audited (http.headers, connection closed)")
    check(audit_lines(b, "http.headers", path="/api/admin/audit"), "the 40 KB one too (with its path)")
    # the same query with its parameters in a JSON body (POST /api/admin/audit/query): a 10 MB
    # filter there is a clear 413, a long one a 400 naming the bound, and each is audited
    def post_query(body):
        c = http.client.HTTPConnection("127.0.0.1", b.port, timeout=30)
        c.request("POST", "/api/admin/audit/query", body=body,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data.startswith(b"{") else data
    st, page = post_query(json.dumps({"event": "desktop.connect", "limit": "3"}))
    check(st == 200 and page["count"] == len(page["events"]) <= 3 and
          all(e["event"].startswith("desktop.connect") for e in page["events"]),
          f"POST query: {st} {str(page)[:200]}")
    check(audit_lines(b, "admin.audit.query", count=page["count"]),
          "POST query audited (admin.audit.query grant with the count)")
    st, body = post_query(json.dumps({"q": "y" * (10 << 20)}))
    check(st == 413 and "too large" in body["error"], f"POST 10 MB filter: {st} {str(body)[:120]}")
    st, body = post_query(json.dumps({"q": "x" * 300}))
    check(st == 400 and "at most 256 bytes" in body["error"], f"POST 300-byte filter: {st} {body}")
    check(any(l["outcome"] == "deny" and "256 bytes" in l["detail"]["reason"]
              for l in audit_lines(b, "admin.audit.query")), "the refusal audited with its reason")
    for bad_body, why in [("not json", "JSON object"), ("[1]", "JSON object"),
                          (json.dumps({"format": "csv"}), "exports"),
                          (json.dumps({"limit": 5}), "string"),
                          (json.dumps({"bogus": "1"}), "unknown")]:
        st, body = post_query(bad_body)
        check(st == 400 and why in body["error"], f"POST {bad_body[:30]}: {st} {body}")
    print("PASS: POST /api/admin/audit/query (200, 413 for 10 MB, 400s, audited)")
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
    # a 1 MB cap makes the store full as a full disk would (SQLITE_FULL); admin actions fail
    # closed while it is
    b = Broker(tmp, {"store": {"max_db_mb": 1, "queue_max": 1000, "fail_closed_admin": True}})
    r = subprocess.run([CTL, "--socket", os.path.join(tmp, "broker.sock"), "stop", "nobody"],
                       capture_output=True, text=True)
    check(r.returncode == 3 and "no desktop running" in r.stderr,
          f"before: an admin action goes ahead (and finds no desktop, exit 3): {r.stderr}")
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
    alerts = [l for l in lines if l["event"] == "audit.alert" and
              l["detail"]["rule"] == "audit-failing"]
    check(len(alerts) == 1 and alerts[0]["detail"]["event"] == "audit.store",
          f"the failure raises the built-in alert, once: {alerts}")
    # fail closed: argoboxctl's actions and the admin.write endpoints are refused, audited
    r = subprocess.run([CTL, "--socket", os.path.join(tmp, "broker.sock"), "stop", "nobody"],
                       capture_output=True, text=True)
    check(r.returncode == 4 and "audit store cannot record it" in r.stderr,
          f"argoboxctl stop refused (exit 4): {r.returncode} {r.stderr}")
    code, _, body = b.request("POST", "/api/admin/services/reload")
    check(code == 403, f"POST /api/admin/services/reload refused: {code} {body[:200]}")
    lines = b.lines()
    check(any(l["event"] == "admin.command" and l["outcome"] == "deny" and
              l["detail"]["command"] == "stop" and "fail_closed_admin" in l["detail"]["reason"]
              for l in lines), "the refused command is in the JSON-lines file")
    check(any(l["event"] == "authz" and l["outcome"] == "deny" and
              l["detail"]["endpoint"] == "admin.write" and
              "audit store cannot record it" in l["detail"]["reason"] for l in lines),
          "the refused request is in the JSON-lines file")
    check(b.get("/api/admin/audit/status")[0] == 200, "reading (admin.read) still works")
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
    # 20 denials, broker.settings (the first start's baseline), broker.start, broker.stop
    check(r.returncode == 0 and r.stdout.startswith("OK: 23 records"), f"verify: {r.stdout}")
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
        ("DELETE FROM events WHERE seq > 18", "truncated: the signed head names record 23, the "
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


def audit_lines(b, event, **detail):
    """The audit lines of `event` whose detail has each of `detail`'s items."""
    return [l for l in b.lines() if l["event"] == event and
            all(l["detail"].get(k) == v for k, v in detail.items())]


def day_range():
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    return today, tomorrow


def case_report(tmp):
    """GET /api/admin/audit/report and argoboxctl audit report over real sign-ins."""
    pw = "s3cret-pw"
    h = subprocess.run(["openssl", "passwd", "-6", "-salt", "abtest", pw], capture_output=True,
                       text=True, check=True).stdout.strip()
    users = [{"name": n, "role": r, "profile": "p", "uid": u, "password_hash": h}
             for n, r, u in (("ada", "admin", 1000), ("bea", "member", 1003))]
    b = Broker(tmp, {"alerts": {"rules": []}},
               {"auth": {"local": {"enabled": True}}, "users": users, "profiles": {"p": {}}})
    hostile = '=HYPERLINK("x")<script>'
    check(b.login("bea", "wrong")[0] == 401, "a wrong password is refused")
    check(b.login(hostile, "x")[0] == 401, "a hostile user name is refused")
    st, bea = b.login("bea", pw)
    check(st == 200 and bea, f"bea signs in: {st}")
    st, ada = b.login("ada", pw)
    check(st == 200 and ada, f"ada signs in: {st}")
    check(any(l["event"] == "auth.login" and l["user"] == hostile for l in b.lines()),
          "the hostile name is in the JSON-lines file")
    n = len(b.lines())
    wait_for(lambda: b.status(ada)["store"]["stored"] >= n, "the sign-ins stored")
    frm, to = day_range()
    q = f"/api/admin/audit/report?from={frm}&to={to}"
    st, hd, body = b.get(q + "&format=json", {"Cookie": ada})
    check(st == 200 and hd["content-type"].startswith("application/json"), f"json report {st}")
    rep = json.loads(body)
    s = rep["summary"]
    check(s["sign_ins"] == 4 and s["sign_ins_denied"] == 2, f"sign-ins counted: {s}")
    check([i["user"] for i in rep["sign_ins"]["items"]] == ["bea", hostile, "bea", "ada"],
          f"sign-ins listed in order: {rep['sign_ins']['items']}")
    check(all(i["method"] == "local" and i["source"] == "127.0.0.1"
              for i in rep["sign_ins"]["items"]), "each with its method and source")
    check(s["denials"] >= 2, f"denials counted: {s['denials']}")
    # as CSV: every cell inert for a spreadsheet
    st, hd, body = b.get(q + "&format=csv", {"Cookie": ada})
    check(st == 200 and hd["content-type"].startswith("text/csv"), f"csv report {st} {hd}")
    rows = list(csv.reader(io.StringIO(body.decode())))
    check(rows[0][:5] == ["section", "time", "start", "end", "user"], f"csv header {rows[0]}")
    cells = [c for r in rows[1:] for c in r]
    check("'" + hostile in cells, "the hostile name is a text cell (leading quote)")
    check(not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "no formula cell")
    # as HTML: printable, the hostile name escaped, no script can run
    st, hd, body = b.get(q + "&format=html", {"Cookie": ada})
    page = body.decode()
    check(st == 200 and hd["content-type"].startswith("text/html"), f"html report {st}")
    check("default-src 'none'" in hd.get("content-security-policy", ""), "CSP header")
    check("<script" not in page and "=HYPERLINK(&quot;x&quot;)&lt;script&gt;" in page,
          "the hostile name is escaped in the page")
    check("<h2>Sign-ins</h2>" in page and "@media print" in page, "a printable page")
    check(len(audit_lines(b, "admin.audit.report", format="html")) == 1,
          "the report is audited (admin.audit.report grant)")
    # one user, through argoboxctl on the admin socket
    sock = os.path.join(tmp, "broker.sock")
    ctl = [CTL, "--socket", sock, "audit", "report", "--from", frm, "--to", to]
    r = subprocess.run(ctl + ["--user", "bea", "--format", "csv"], capture_output=True, text=True)
    check(r.returncode == 0, f"argoboxctl audit report: {r.returncode} {r.stderr}")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    signins = [x for x in rows if x[0] == "sign_ins"]
    check(len(signins) == 2 and all(x[4] == "bea" for x in signins), f"bea's sign-ins: {signins}")
    out = os.path.join(tmp, "report.html")
    r = subprocess.run(ctl + ["--format", "html", "--output", out], capture_output=True, text=True)
    check(r.returncode == 0 and "<h2>Desktop sessions</h2>" in open(out).read(),
          f"argoboxctl writes the HTML page: {r.stderr}")
    grants = [l for l in audit_lines(b, "admin.audit.report") if l["outcome"] == "grant"]
    check(any(l["user"] == "argoboxctl" and l["detail"]["subject"] == "bea" for l in grants),
          "argoboxctl's report is audited with its subject")
    # refusals: a clear 400 (or exit 1) and a deny line naming why
    bad = [("from=1999-01-01&to=2000-01-02", "2000-01-01"), (f"from={to}&to={frm}", "before"),
           (f"to={to}", "needs from and to"), (f"from={frm}&to={to}&limit=0", "limit"),
           (f"from={frm}&to={to}&format=xlsx", "format"), (f"from={frm}&to={to}&x=1", "unknown"),
           (f"from={frm}&to={to}&user=" + "u" * 300, "256 bytes"),
           ("from=2001-01-01&to=2026-01-01", "3660 days")]
    for qs, why in bad:
        st, _, body = b.get("/api/admin/audit/report?" + qs, {"Cookie": ada})
        check(st == 400 and why in json.loads(body)["error"], f"{qs[:40]}: 400 naming '{why}'")
        check(any(why in l["detail"].get("reason", "") and l["outcome"] == "deny"
                  for l in audit_lines(b, "admin.audit.report")), f"{qs[:40]}: audited deny")
    r = subprocess.run([CTL, "--socket", sock, "audit", "report", "--from", "1999-01-01", "--to",
                        to], capture_output=True, text=True)
    check(r.returncode == 1 and "2000-01-01" in r.stderr, f"argoboxctl refused: {r.stderr}")
    check(any(l["user"] == "argoboxctl" and l["outcome"] == "deny"
              for l in audit_lines(b, "admin.audit.report")), "argoboxctl's refusal audited")
    st, _, _ = b.get(q, {"Cookie": bea})
    check(st == 403, f"a member gets 403: {st}")
    b.stop()


def desktop_up(b, tmp):
    """Opens the loopback admin's desktop (a websocket to /websockify): the socket, once the
    fake session's control channel is connected."""
    s = socket.create_connection(("127.0.0.1", b.port), timeout=20)
    s.sendall((f"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:{b.port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
    check(got.startswith(b"HTTP/1.1 101"), f"the desktop's websocket opens: {got[:80]}")
    wait_for(lambda: "control connected" in fake_log(tmp), "the desktop's control channel")
    return s


def fake_log(tmp, user="local"):
    try:
        with open(os.path.join(tmp, "run", user, "fake.log")) as f:
            return f.read()
    except OSError:
        return ""


def case_notify(tmp):
    """An alert reaches the admin's running desktop as a notification within a second."""
    rules = [{"name": "ws-probe", "event": "desktop.connect", "outcome": "deny",
              "per": "source", "threshold": 2, "window_s": 60}]
    b = Broker(tmp, {"alerts": {"rules": rules}},
               {"session": {"binary": FAKE_SESSION, "desktop_command": ["true"],
                            "start_timeout_ms": 15000},
                "control": {"heartbeat_ms": 500, "timeout_ms": 5000}})
    # no desktop yet: the alert says so
    b.deny("/probe/1")
    b.deny("/probe/2")
    fired = wait_for(lambda: audit_lines(b, "audit.alert", rule="ws-probe"), "the first alert")
    check(fired[0]["detail"]["notified"] == [] and fired[0]["detail"]["no_desktop"] == ["local"],
          f"no desktop: recorded as such {fired[0]['detail']}")
    ws = desktop_up(b, tmp)
    b.deny("/probe/3")
    t0 = time.time()
    b.deny("/probe/4")
    wait_for(lambda: "Audit alert: ws-probe" in fake_log(tmp), "the notification", 5)
    took = time.time() - t0
    check(took < 1.0, f"the notification is on the desktop {took * 1000:.0f} ms after the event")
    line = [l for l in fake_log(tmp).splitlines() if "Audit alert" in l][-1]
    note = json.loads(line.split("control notify ", 1)[1])
    check(note["urgency"] == "critical" and "desktop.connect" in note["body"] and
          "127.0.0.1" in note["body"], f"the notification says what: {note}")
    fired = audit_lines(b, "audit.alert", rule="ws-probe")
    check(len(fired) == 2 and fired[1]["detail"]["notified"] == ["local"],
          f"the alert is audited with who was notified: {fired[-1]['detail']}")
    ws.close()
    b.stop()


def kv_log_entries(path):
    """The live entries of an embedded kv store's log (broker/state/kv_embedded.c's format):
    {key: (expiration, metadata, value)}."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"ABKVLOG1", "an embedded kv log")
    off = 8
    while off + 8 <= len(data):
        n, _crc = struct.unpack_from("<II", data, off)
        p = data[off + 8:off + 8 + n]
        off += 8 + n
        op, _flags, klen, mlen, exp, vlen = struct.unpack_from("<BBHIqI", p, 0)
        k = p[20:20 + klen].decode()
        meta = p[20 + klen:20 + klen + mlen]
        val = p[20 + klen + mlen:20 + klen + mlen + vlen]
        if op == 1:
            out[k] = (exp, meta, val)
        else:
            out.pop(k, None)
    return out


def mirrored_seqs(values):
    """Every record's seq in the mirror's chunks (NDJSON), in key order."""
    recs = [json.loads(l) for _k, v in sorted(values.items()) for l in v.decode().splitlines()]
    if not all(len(r["prev"]) == 64 and "event" in r for r in recs):
        ablib.fail("a mirrored record without its prev hash or event")
    return [r["seq"] for r in recs]


def case_mirror(tmp):
    """The mirror to the embedded kv store: every record once, in order, with the retention as
    expiration; what was logged after the mirror stopped follows at the next start."""
    cfg = {"mirror": {"mode": "on", "interval_ms": 50, "chunk_events": 10}}
    b = Broker(tmp, cfg, {"kv": {"backend": "embedded"}})
    for i in range(25):
        b.deny(f"/m/{i}")
    wait_for(lambda: (lambda s: s["mirror"]["lag"] == 0 and s["mirror"]["mirrored_seq"] >= 26)(
        b.status()), "the mirror to catch up")
    health = b.get_json("/healthz")[1]["audit"]["mirror"]
    check(health == {"state": "ok", "lag": 0, "dropped": 0}, f"/healthz: {health}")
    b.stop()
    b2 = Broker(tmp, cfg, {"kv": {"backend": "embedded"}})
    b2.deny("/m/after")  # broker.start, broker.stop, 25 denials, broker.start, this one
    caught_up = wait_for(lambda: (lambda s: s if s["mirror"]["mirrored_seq"] ==
                                  s["store"]["last_seq"] >= 29 else None)(b2.status()),
                         "the second broker's mirror")
    last = caught_up["store"]["last_seq"]
    b2.stop()
    kv = kv_log_entries(os.path.join(tmp, "data", "kv", "store.log"))
    chunks = {k: v[2] for k, v in kv.items() if k.startswith("audit/")}
    seqs = mirrored_seqs(chunks)
    # everything up to where the mirror had caught up, once each, in order, nothing missing;
    # what came after (the status requests' own events, the second broker's broker.stop) may
    # have been mirrored on the way out too
    check(len(seqs) >= last and seqs == list(range(1, len(seqs) + 1)),
          f"records 1..{last} (or more) once each, in order: {seqs}")
    exp = [v[0] for k, v in kv.items() if k.startswith("audit/")]
    now = time.time()
    check(all(abs(e - (now + 30 * 86400)) < 3600 for e in exp),
          "each chunk expires after the retention (30 days)")
    meta = json.loads(kv["audit/0000000000000001"][1])
    check(meta["first"] == 1 and meta["count"] >= 1, f"chunk metadata {meta}")
    check(any(l["event"] == "broker.stop" for l in b.lines()), "broker.stop logged")
    print(f"mirror: {len(chunks)} chunks, records 1..{last}")


def start_miniflare(tmp):
    node = shutil.which("node")
    if not node:
        ablib.skip("node is not installed")
    p = subprocess.Popen([node, os.path.join(HERE, "miniflare.mjs")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if p.poll() == 77 or '"skip"' in line:
        ablib.skip(line.strip())
    return p, json.loads(line)


def cf_call(mf, path, method="GET", body=None):
    import urllib.request
    req = urllib.request.Request(mf["base_url"] + f"/accounts/{mf['account_id']}/storage/kv/"
                                 f"namespaces/{mf['namespace_id']}" + path, method=method,
                                 headers={"Authorization": "Bearer " + mf["api_token"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def control(mf, body):
    import urllib.request
    req = urllib.request.Request(mf["control"], data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def worker_kv(mf):
    """{key: (expiration, value)} of every audit/ entry in Workers KV (the simulator)."""
    keys = json.loads(cf_call(mf, "/keys?prefix=audit/&limit=1000"))["result"]
    return {k["name"]: (k.get("expiration"), cf_call(mf, "/values/" + k["name"])) for k in keys}


def case_mirror_cfkv(tmp):
    """The mirror to Workers KV on the simulator: an outage queues (the kv's queue, then the
    store, bounded), the losses beyond the bound are counted, audited and in /healthz, and it
    catches up when Workers KV is back."""
    mfp, mf = start_miniflare(tmp)
    try:
        kv = {"backend": "cfkv", "dir": os.path.join(tmp, "kvq"),
              "cf": {"base_url": mf["base_url"], "account_id": mf["account_id"],
                     "namespace_id": mf["namespace_id"], "api_token": mf["api_token"],
                     "min_interval_ms": 50, "backoff_max_ms": 500, "queue_max_keys": 3}}
        b = Broker(tmp, {"mirror": {"interval_ms": 50, "chunk_events": 5, "max_lag": 30}},
                   {"kv": kv})
        for i in range(12):
            b.deny(f"/c/{i}")
        wait_for(lambda: b.status()["mirror"]["lag"] == 0 and
                 len(mirrored_seqs({k: v[1] for k, v in worker_kv(mf).items()})) >= 13,
                 "the first records in Workers KV")
        exp = [v[0] for v in worker_kv(mf).values()]
        check(all(e and abs(e - (time.time() + 30 * 86400)) < 3600 for e in exp),
              f"expiration_ttl = the retention: {exp}")
        control(mf, {"outage": True})
        for i in range(80):
            b.deny(f"/outage/{i}")
        st = wait_for(lambda: (lambda m: m if m["state"] == "failing" and m["dropped"] > 0
                               else None)(b.status()["mirror"]), "the mirror to fail and drop")
        health = b.get_json("/healthz")[1]["audit"]["mirror"]
        check(health["state"] == "failing" and health["dropped"] > 0 and
              health["lag"] <= 30 + 5, f"/healthz shows the outage: {health}")
        check(audit_lines(b, "audit.mirror") and
              any(l["outcome"] == "failure" and l["detail"].get("dropped")
                  for l in audit_lines(b, "audit.mirror")), "the losses are audited")
        control(mf, {"outage": False})
        m = wait_for(lambda: (lambda m: m if m["state"] == "ok" and m["lag"] == 0 else None)(
            b.status()["mirror"]), "the mirror to catch up", 90)
        last = b.status()["store"]["last_seq"]
        seqs = wait_for(lambda: (lambda s: s if len(s) + m["dropped"] >= m["mirrored_seq"]
                                 else None)(mirrored_seqs({k: v[1] for k, v in
                                                           worker_kv(mf).items()})),
                        "every kept record in Workers KV", 60)
        check(len(seqs) == len(set(seqs)) and seqs == sorted(seqs), "each once, in order")
        missing = sorted(set(range(1, m["mirrored_seq"] + 1)) - set(seqs))
        check(len(missing) == m["dropped"], f"exactly the {m['dropped']} counted are missing: "
              f"{len(missing)}")
        check(any(l["outcome"] == "info" for l in audit_lines(b, "audit.mirror")),
              "the recovery is audited")
        # the audit's own lines about the outage are few: a loss report is itself a record the
        # outage drops, so reporting every loss (and alerting on every report) fed itself, two
        # records a mirror round for as long as the outage lasted
        own = [l for l in audit_lines(b, "audit.mirror") if l["outcome"] == "failure"]
        alerts = audit_lines(b, "audit.alert")
        check(len(own) <= 6 and len(alerts) <= 2,
              f"the outage is reported, not flooded: {len(own)} audit.mirror failures, "
              f"{len(alerts)} audit.alert lines")
        wait_for(lambda: sum(l["detail"].get("dropped", 0) for l in audit_lines(
            b, "audit.mirror") if l["outcome"] == "failure") == b.status()["mirror"]["dropped"],
            "the loss reports to add up to the losses counted")
        b.stop()
        print(f"mirror_cfkv: {len(seqs)} of {last} records in Workers KV, "
              f"{m['dropped']} dropped and counted during the outage")
    finally:
        mfp.stdin.close()
        mfp.wait(20)


def password_hash(pw):
    return subprocess.run(["openssl", "passwd", "-6", "-salt", "abtest", pw], capture_output=True,
                          text=True, check=True).stdout.strip()


def case_settings(tmp):
    """Configuration changes between two starts are audited (admin.settings) with the paths
    that changed; secrets are compared by hash and never written out."""
    h1, h2 = password_hash("first-pw"), password_hash("second-pw")
    secret = "webhook-secret-" + "x" * 16

    def start(role, pw_hash, demo, wh_secret):
        users = [{"name": "ada", "role": "admin", "profile": "p", "uid": 1000,
                  "password_hash": h1},
                 {"name": "bea", "role": role, "profile": "p", "uid": 1003,
                  "password_hash": pw_hash}]
        wh = {"url": "http://127.0.0.1:9/hook", "secret": wh_secret} if wh_secret else {}
        return Broker(tmp, {"alerts": {"rules": [], "webhook": wh}},
                      {"auth": {"local": {"enabled": True}, "demo": {"enabled": demo}},
                       "users": users, "profiles": {"p": {}}})

    def settings_lines():
        return [l for l in ablib_lines(tmp) if l["event"] in ("broker.settings", "admin.settings")]

    b = start("member", h1, False, None)
    b.stop()
    first = settings_lines()
    check(len(first) == 1 and first[0]["event"] == "broker.settings" and
          first[0]["detail"]["first"] is True, f"the first start records a baseline: {first}")
    state = os.path.join(tmp, "data", "audit", "settings.json")
    check(os.stat(state).st_mode & 0o777 == 0o600, "the kept settings are 0600")
    b = start("member", h1, False, None)
    b.stop()
    check(len(settings_lines()) == 1, "an unchanged restart logs nothing")
    b = start("admin", h2, True, secret)
    b.stop()
    changed = settings_lines()[-1]
    check(changed["event"] == "admin.settings", f"a change is an admin action: {changed}")
    paths = changed["detail"]["changed"]
    for want in ("users.bea.role", "users.bea.password_hash", "auth.demo.enabled",
                 "audit.alerts.webhook.secret", "audit.alerts.webhook.url"):
        check(want in paths, f"'{want}' named as changed")
    check("users.ada.password_hash" not in paths, f"what did not change is not named: {paths}")
    with open(b.log_path) as f:
        log = f.read()
    with open(state) as f:
        kept = f.read()
    for v in (h1, h2, secret):
        check(v not in log and v not in kept, "no secret in the audit log or the kept copy")
    check('"sha256:' in kept, "secrets are kept as hashes")
    with open(state, "w") as f:
        f.write("{not json")
    b = start("admin", h2, True, secret)
    b.stop()
    check(settings_lines()[-1]["event"] == "broker.settings" and
          "not JSON" in b.stderr(), "a damaged copy: a new baseline, and the log says why")


def ablib_lines(tmp):
    with open(os.path.join(tmp, "audit.log"), encoding="utf-8", errors="replace") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    case = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ab-audit-")
    try:
        globals()["case_" + case](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
