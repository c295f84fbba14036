#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The authorization table and the broker's routes agree (issue 13).

Every row of broker/auth/authz.c's authz_routes[] must be served by the broker, and every
route the broker serves must have a row, so that docs/auth.md's table (which lists the
rows) never promises an endpoint that answers 405 again. What the broker serves:

  - server_route_add(..., "METHOD", "/exact/path", ...) calls in broker/*.c, and the rows
    {"METHOD", "/exact/path", handler} of struct server_route_def tables (server_routes_add);
  - prefix routes (a path ending in "/", or one any method reaches): the file declares
    exactly what they serve in a comment block "routes:" ... "end routes"
    (e.g. broker/state/deskstate_sync.c), one "METHOD /path/{user}" a line (or "//"
    comment lines, for paths ending in "/*": broker/files/files.c);
  - the websocket paths that broker/http/server.c upgrades (strcmp(uri, "...")), GET;
  - static files: a GET row with endpoint AUTHZ_PUBLIC whose file is in web/.

Rows reserved for areas that are not built yet are listed in RESERVED below with the
reason; such a row must have no route (when one is added, it leaves RESERVED).

  authz_routes.py SOURCE_DIR
"""
import re
import sys
from pathlib import Path

RESERVED = {
    ("GET", "/api/admin/*"): "admin API (not built yet)",
    ("POST", "/api/admin/*"): "admin API (not built yet)",
    ("PUT", "/api/admin/*"): "admin API (not built yet)",
    ("DELETE", "/api/admin/*"): "admin API (not built yet)",
}


def main():
    src = Path(sys.argv[1])
    authz = (src / "broker/auth/authz.c").read_text()
    table = authz[authz.index("authz_routes[] = {"):]
    table = table[:table.index("{NULL, NULL, 0}")]
    rows = {}
    for m in re.finditer(r'\{"([A-Z]+)", "([^"]+)", (AUTHZ_\w+)\}', table):
        rows[(m.group(1), m.group(2))] = m.group(3)
    if len(rows) < 10:
        sys.exit(f"FAIL: only {len(rows)} rows parsed from broker/auth/authz.c")

    served = {}  # (method, path) -> where
    errors = []
    for f in sorted((src / "broker").rglob("*.c")):
        text = f.read_text()
        defines = dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"', text))
        declared = []
        for block in re.findall(r"routes:\n(.*?)end routes", text, re.S):
            for line in block.splitlines():
                m = re.match(r"\s*(?:\*|//)?\s*([A-Z]+)\s+(/\S*)\s*$", line)
                if m:
                    declared.append((m.group(1), m.group(2)))
        calls = [(m.group(1), m.group(2)) for m in re.finditer(
            r'server_route_add\(\s*\w+,\s*(NULL|"[A-Z]+"),\s*("[^"]*"|\w+),', text)]
        # route tables for server_routes_add(): {METHOD or NULL, PATH, handler} rows
        for table in re.findall(r"struct server_route_def \w+\[\] = \{(.*?)\};", text, re.S):
            calls += re.findall(r'\{(NULL|"[A-Z]+"),\s*("[^"]*"|\w+),\s*\w+\}', table)
        for g1, g2 in calls:
            method = None if g1 == "NULL" else g1.strip('"')
            p = g2
            path = p.strip('"') if p.startswith('"') else defines.get(p)
            if path is None:
                errors.append(f"{f.name}: route path {p} is not a string or a #define")
                continue
            if method and not path.endswith("/"):
                served[(method, path)] = f.name
                continue
            # a prefix route, or one any method reaches: what it serves is declared
            mine = [(dm, dp) for dm, dp in declared
                    if (dp == path or dp.startswith(path if path.endswith("/") else path + "/")
                        or (not path.endswith("/") and dp == path))
                    and (method is None or dm == method)]
            if not mine:
                errors.append(f"{f.name}: route {method or '*'} {path} serves nothing declared in a "
                              "'routes: ... end routes' comment")
            for r in mine:
                served[r] = f.name
    server = (src / "broker/http/server.c").read_text()
    for p in re.findall(r'strcmp\(uri, "(/[^"]*)"\)', server):
        served[("GET", p)] = "server.c (websocket)"
    for p in re.findall(r'strncmp\(uri, "(/[^"]*/)", \d+\)', server):
        # a prefix names a desktop ({user}) or carries a token ("*": /ws/share/<token>)
        key = ("GET", p + "*") if ("GET", p + "*") in rows else ("GET", p + "{user}")
        served[key] = "server.c (websocket)"

    for (method, path), ep in sorted(rows.items()):
        if (method, path) in RESERVED:
            if (method, path) in served:
                errors.append(f"{method} {path} is served now ({served[(method, path)]}): "
                              "take it out of RESERVED")
            continue
        if (method, path) in served:
            continue
        if method == "GET" and ep == "AUTHZ_PUBLIC":
            rel = path.strip("/") or "index.html"
            if (src / "web" / rel).is_file():
                continue
        errors.append(f"authz row {method} {path} ({ep}) has no route: the broker answers it "
                      "404/405")
    for (method, path), where in sorted(served.items()):
        if (method, path) not in rows:
            errors.append(f"route {method} {path} ({where}) has no authz row: every request "
                          "to it is refused with 404 (add it to broker/auth/authz.c's table and "
                          "docs/auth.md)")
    for e in errors:
        print("FAIL:", e)
    if errors:
        sys.exit(1)
    print(f"PASS: {len(rows)} authz rows, {len(served)} routes, {len(RESERVED)} reserved rows "
          "without a route")


if __name__ == "__main__":
    main()
