#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Desktop state benchmark: time from a change in the window manager (xdotool moves an xterm
# on the session's display) to the new state being durable in the broker's embedded store
# (fsync'ed; GET /api/desktops/local/state says "durable": true with the new position).
# Path measured: xdotool -> X -> argobox-wm -> wm.sock -> argobox-session -> control.sock ->
# argobox-broker (validate) -> kv_put -> fdatasync -> ack. p50/p99, target < 50 ms.
# Usage: bench/state_bench.sh [BUILD_DIR]   (STATE_BENCH_N=60 moves by default)
# Moves are 600 ms apart: the wm exports at most every 500 ms, and the first change after a
# quiet period immediately, so every sample sees the unthrottled path.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export AB_BUILD_DIR=$(cd "${1:-$top/build}" && pwd) AB_SOURCE_DIR=$top
. "$top/tests/integration/state/lib.sh"
# The store on the build directory's file system: /tmp is often tmpfs, where fsync is free.
DATA=$(mktemp -d "$B/state-bench.XXXXXX")
trap 'rm -rf "$DATA"; cleanup' EXIT
jq --arg d "$DATA" '.data.dir = $d' "$T/broker.json" >"$T/b.json"
mv "$T/b.json" "$T/broker.json"
start_broker
start_desktop
xterm -T bench -geometry 80x24+10+10 &
PIDS+=($!)
W=$(xdotool search --sync --name '^bench$' | head -n1)
python3 - "$PORT" "$W" "${STATE_BENCH_N:-60}" <<'PY'
import http.client, json, subprocess, sys, time
port, win, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
def get():
    c.request("GET", "/api/desktops/local/state")
    return json.loads(c.getresponse().read())
lat = []
for i in range(n + 3):
    x, y = 100 + (i % 2) * 300 + i, 100 + i
    time.sleep(0.6)
    t0 = time.monotonic()
    subprocess.run(["xdotool", "windowmove", win, str(x), str(y)], check=True)
    deadline = t0 + 5
    while True:
        r = get()
        ws = r["state"]["windows"]
        if r["durable"] and any(w["x"] == x and w["y"] == y for w in ws):
            break
        if time.monotonic() > deadline:
            sys.exit(f"move {i} to {x},{y} not durable within 5 s: {ws}")
    if i >= 3:  # warm-up
        lat.append((time.monotonic() - t0) * 1000)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"samples={len(lat)} p50_ms={p(0.5):.1f} p99_ms={p(0.99):.1f} max_ms={lat[-1]:.1f}")
PY
