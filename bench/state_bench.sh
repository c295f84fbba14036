#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Desktop state benchmark: time from a change in the window manager (xdotool moves an xterm
# on the session's display) to the new state being durable in the broker's embedded store
# (fsync'ed; GET /api/desktops/local/state says "durable": true with the new position).
# Path measured: xdotool -> X -> argobox-wm -> wm.sock -> argobox-session -> control.sock ->
# argobox-broker (validate) -> kv_put -> fdatasync -> ack. p50/p99, target < 50 ms.
# Usage: bench/state_bench.sh [BUILD_DIR]
#   STATE_BENCH_N=60       quiet moves: 600 ms apart. The wm exports at most every 500 ms,
#                          and the first change after a quiet spell at once, so every sample
#                          sees the unthrottled path (the best case).
#   STATE_BENCH_BURSTS=12  bursts of STATE_BENCH_BURST=5 moves 100 ms apart (a drag, a
#                          script moving windows): inside a burst the 500 ms debounce holds
#                          the latest change back, so a change is durable once a state with
#                          it (or a later one of the burst) is durable. Reports every change
#                          of the bursts, and the last change of each burst (the one that
#                          waits longest for the debounce). 0 skips the bursts.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export AB_BUILD_DIR=$(cd "${1:-$top/build}" && pwd) AB_SOURCE_DIR=$top
. "$top/tests/integration/state/lib.sh"
# The store on the build directory's file system: /tmp is often tmpfs, where fsync is free.
DATA=$(mktemp -d "$B/state-bench.XXXXXX")
at_exit 'rm -rf "$DATA"'
jq --arg d "$DATA" '.data.dir = $d' "$T/broker.json" >"$T/b.json"
mv "$T/b.json" "$T/broker.json"
broker_up
start_desktop
xterm -T bench -geometry 80x24+10+10 &
PIDS+=($!)
W=$(xdotool search --sync --name '^bench$' | head -n1)
python3 - "$PORT" "$W" "${STATE_BENCH_N:-60}" "${STATE_BENCH_BURSTS:-12}" "${STATE_BENCH_BURST:-5}" <<'PY'
import http.client, json, subprocess, sys, time
port, win, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bursts, burst = int(sys.argv[4]), int(sys.argv[5])
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
def report(name, v):
    v = sorted(v)
    p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    print(f"{name}: samples={len(v)} p50_ms={p(0.5):.1f} p99_ms={p(0.99):.1f} max_ms={v[-1]:.1f}")
report("quiet (change after >= 600 ms of quiet)", lat)
if bursts:
    every, last = [], []
    for b in range(bursts):
        time.sleep(0.6)
        pos = [(700 + 3 * b + k, 200 + 2 * b + k) for k in range(burst)]
        idx = {p: k for k, p in enumerate(pos)}
        t_move, t_durable = [None] * burst, [None] * burst
        start = time.monotonic()
        k = 0
        while None in t_durable:
            now = time.monotonic()
            if k < burst and now >= start + 0.1 * k:
                t_move[k] = time.monotonic()
                subprocess.run(["xdotool", "windowmove", win, str(pos[k][0]), str(pos[k][1])], check=True)
                k += 1
                continue
            r = get()
            seen = [idx[(w["x"], w["y"])] for w in r["state"]["windows"] if (w["x"], w["y"]) in idx]
            if r["durable"] and seen:
                for i in range(min(max(seen) + 1, k)):
                    if t_durable[i] is None:
                        t_durable[i] = time.monotonic()
            if now - start > 10:
                sys.exit(f"burst {b}: not durable within 10 s: {t_durable}")
        d = [(t_durable[i] - t_move[i]) * 1000 for i in range(burst)]
        every += d
        last.append(d[-1])
    report(f"burst (every change of {bursts} bursts of {burst} moves 100 ms apart)", every)
    report("burst (the last change of each burst)", last)
PY
