#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench_smoke: ab-rfbbench measures a real stack (TigerVNC's Xvnc, the standard desktop) through
# bench/stack.sh: a first frame arrives at 1280x800, typed keys change pixels, a
# workload is counted in bytes, and the harness prints a table with that column.
set -euo pipefail
build=${AB_BUILD_DIR:?} src=${AB_SOURCE_DIR:?}
tool=$build/bench/ab-rfbbench
for b in Xvnc xterm xdotool xmessage convert; do
	command -v "$b" >/dev/null || { echo "skip: $b is not installed"; exit 77; }
done
dir=$(mktemp -d /tmp/ab-bench-smoke.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$((30000 + RANDOM % 20000))
while ss -Hltn "sport = :$port" | grep -q .; do port=$((30000 + RANDOM % 20000)); done

setsid "$src/bench/stack.sh" xvnc "$dir" "$port" 1280x800 </dev/null &
pid=$!
"$tool" cold "tcp:127.0.0.1:$port" --timeout 30 >/dev/null
out=$("$tool" first-frame "tcp:127.0.0.1:$port" --repeat 2)
echo "$out"
grep -q 'geometry=1280x800' <<<"$out"
for ((i = 0; i < 200; i++)); do [ -s "$dir/display" ] && break; sleep 0.05; done
display=$(cat "$dir/display")
DISPLAY=$display timeout 20 xdotool search --sync --onlyvisible --name '^bterm$' >/dev/null
out=$("$tool" latency "tcp:127.0.0.1:$port" --keys 6 --at 40,40)
echo "$out"
grep -q 'key_n=6 key_lost=0' <<<"$out"
# (the sleep: on a busy machine xterm could see seq exit before it mapped its window: no pixels)
out=$("$tool" workload "tcp:127.0.0.1:$port" --pids "$pid" --timeout 60 \
	--run "DISPLAY=$display xterm -geometry 60x20+300+100 -e sh -c 'seq 1 2000; sleep 0.2'")
echo "$out"
bytes=$(sed 's/.*bytes=\([0-9]*\).*/\1/' <<<"$out")
[ "$bytes" -gt 100 ] || { echo "workload sent only $bytes bytes"; exit 1; }
kill -TERM -- "-$pid"
wait "$pid" 2>/dev/null || true
pid=""

# A bad target is a clear error, not a hang.
if err=$("$tool" first-frame "unix:$dir/nope.sock" --repeat 1 2>&1); then
	echo "connecting to a missing socket succeeded?"
	exit 1
fi
grep -q "nope.sock" <<<"$err"
echo "ok"
