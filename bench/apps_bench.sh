#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Desktop apps benchmark (issue 15), argobox-terminal against xterm in the same run, on one
# private Xvfb with nothing else drawing (no window manager, so no clock):
#   key -> glyph   XTest key press to the first damage on the screen (apps-keylat), median/p95
#   cat 50 MB      wall time of `TERM -e cat FILE` (start-up included for both)
#   idle RSS       VmRSS of the terminal process (its shell excluded) 2 s after start, and
#                  again 2 s after the key latency run
#   files          argobox-files: start to "(100 items)" in the title for a 100-file folder
#   key -> glyph through the broker's websocket (the browser's path): for each terminal a broker
#                  (the same config as bench/stack.sh's argobox-ws: process launcher, this build's
#                  argobox-session, the loopback user) whose desktop runs only that terminal;
#                  ab-rfbbench latency over ws://.../websockify: RFB KeyEvent to the end of the
#                  first FramebufferUpdate that changes a pixel, letters and BackSpace alternately
# Prints a table. Usage: bench/apps_bench.sh [--quick]
# AB_BUILD_DIR picks the build (default build/); numbers from an ASan build are not meaningful:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && \
#   cmake --build build-rel --target argobox-terminal argobox-files apps-keylat && \
#   AB_BUILD_DIR=build-rel bench/apps_bench.sh
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
build=$B
keys=200
[ "${1:-}" = --quick ] && keys=40
TERMBIN=$build/apps/bin/argobox-terminal
FILESBIN=$build/apps/bin/argobox-files
KEYLAT=$build/tests/integration/apps/apps-keylat
need_built "$TERMBIN" "$FILESBIN" "$KEYLAT"
RFB=$build/bench/ab-rfbbench BROKER=$build/broker/argobox-broker SESSION=$build/session/argobox-session
ws=1
for f in "$RFB" "$BROKER" "$SESSION"; do [ -x "$f" ] || { echo "apps_bench: $f not built: no websocket rows" >&2; ws=0; }; done
need_tools Xvfb xterm xdotool xprop
ab_tmpdir ab-apps-bench
tmp=$T
pids=()
at_exit 'kill_wait "${pids[@]}"'
export ASAN_OPTIONS=detect_leaks=0
start_xvfb 1280x800
export HOME=$tmp/home
mkdir -p "$HOME"

now_ms() { date +%s%3N; }
wait_class() { # wait_class CLASS: the window id of CLASS once mapped
	for _ in $(seq 200); do
		w=$(xdotool search --onlyvisible --classname "$1" 2>/dev/null | head -n1) && [ -n "$w" ] &&
			{ echo "$w"; return 0; }
		sleep 0.05
	done
	return 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

# one terminal: key latency, idle RSS
measure_term() { # measure_term NAME CLASS CMD...
	local name=$1 class=$2
	shift 2
	"$@" >/dev/null 2>&1 &
	local pid=$!
	pids+=($pid)
	local w
	w=$(wait_class "$class") || { echo "apps_bench: $name did not start" >&2; exit 1; }
	xdotool windowfocus "$w"
	sleep 2
	eval "rss_$name=\$(rss_kb $pid)"
	eval "anon_$name=\$(anon_kb $pid)"
	eval "lat_$name=\"\$($KEYLAT $keys)\""
	sleep 2 # idle again, after typing (input method, glyph caches used)
	eval "rss2_$name=\$(rss_kb $pid)"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
# the shell prompt must not redraw on its own: a plain sh with a fixed prompt
export ENV=/dev/null PS1='$ '
measure_term argobox terminal "$TERMBIN" -e sh
measure_term xterm xterm xterm -geometry 92x26 -e sh

# cat of a 50 MB text file
python3 -c "
import random
random.seed(1)
with open('$tmp/50mb.txt', 'w') as f:
    n = 0
    while n < 50 * 1024 * 1024:
        line = ' '.join('%x' % random.getrandbits(32) for _ in range(9)) + '\n'
        f.write(line); n += len(line)"
t0=$(now_ms)
"$TERMBIN" -e cat "$tmp/50mb.txt" >/dev/null 2>&1
cat_argobox=$(($(now_ms) - t0))
t0=$(now_ms)
xterm -geometry 92x26 -e cat "$tmp/50mb.txt" >/dev/null 2>&1
cat_xterm=$(($(now_ms) - t0))

# files: 100 entries listed and drawn
mkdir "$tmp/hundred"
for i in $(seq -w 1 100); do : >"$tmp/hundred/file$i.txt"; done
files_ms=()
: >"$tmp/files.log"
for _ in 1 2 3 4 5; do
	t0=$(now_ms)
	"$FILESBIN" "$tmp/hundred" >>"$tmp/files.log" 2>&1 &
	p=$!
	pids+=($p)
	w=$(wait_class files)
	until xprop -id "$w" _NET_WM_NAME 2>/dev/null | grep -q '(100 items)'; do sleep 0.005; done
	files_ms+=($(($(now_ms) - t0)))
	# again in the same process (F5): fonts and caches warm, as when opening a folder
	n0=$(grep -c 'listed and drawn' "$tmp/files.log")
	xdotool windowfocus --sync "$w" key F5
	for _ in $(seq 100); do
		[ "$(grep -c 'listed and drawn' "$tmp/files.log")" -gt "$n0" ] && break
		sleep 0.02
	done
	kill "$p"
	wait "$p" 2>/dev/null || true
done
files_med=$(printf '%s\n' "${files_ms[@]}" | sort -n | sed -n 3p)
# the app's own figure: directory opened -> read, sorted and drawn (no process start-up)
drawn=$(sed -n 's/.*100 entries listed and drawn in \([0-9.]*\) ms.*/\1/p' "$tmp/files.log")
files_cold=$(echo "$drawn" | awk 'NR % 2 == 1' | sort -n | sed -n 3p)
files_warm=$(echo "$drawn" | awk 'NR % 2 == 0' | sort -n | sed -n 3p)

# key -> glyph through the broker's websocket, one broker per terminal, one after the other
ws_latency() { # ws_latency NAME COMMAND: sets wsmed_NAME and wsp95_NAME (ms)
	local name=$1 cmd=$2 dir=$tmp/ws-$1 port bp out
	mkdir -p "$dir"
	port=$(free_port)
	jq -n --arg bin "$SESSION" --arg base "$dir/run" --arg desk "$cmd" --argjson port "$port" \
		--arg data "$dir/data" '{
		listen: {address: "127.0.0.1", port: $port}, data: {dir: $data},
		session: {binary: $bin, runtime_base: $base, geometry: "1280x800", launcher: "process",
		          desktop_command: ["sh", "-c", $desk]}}' >"$dir/broker.json"
	"$BROKER" --config "$dir/broker.json" 2>"$dir/broker.log" &
	bp=$!
	pids+=($bp)
	wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" >/dev/null ||
		{ echo "apps_bench: the broker for $name did not start" >&2; tail -5 "$dir/broker.log" >&2; exit 1; }
	out=$("$RFB" latency "ws://127.0.0.1:$port/websockify" --keys "$keys" --at 200,100 2>"$dir/rfb.err") ||
		{ echo "apps_bench: ab-rfbbench latency ($name): $(cat "$dir/rfb.err")" >&2; exit 1; }
	eval "wsmed_$name=$(sed -n 's/.*key_median_ms=\([0-9.]*\).*/\1/p' <<<"$out")"
	eval "wsp95_$name=$(sed -n 's/.*key_p95_ms=\([0-9.]*\).*/\1/p' <<<"$out")"
	kill "$bp"
	wait "$bp" 2>/dev/null || true
}
if [ "$ws" = 1 ]; then
	ws_latency argobox "ENV=/dev/null PS1='\$ ' exec '$TERMBIN' -e sh"
	ws_latency xterm "ENV=/dev/null PS1='\$ ' exec xterm -geometry 92x26+0+0 -e sh"
fi

read -r a_med a_p95 <<<"$lat_argobox"
read -r x_med x_p95 <<<"$lat_xterm"
printf '\n%-34s %18s %18s\n' "apps bench ($(basename "$build"))" "argobox-terminal" "xterm"
printf '%-34s %18s %18s\n' "key -> glyph, median (us)" "$a_med" "$x_med"
printf '%-34s %18s %18s\n' "key -> glyph, p95 (us)" "$a_p95" "$x_p95"
if [ "$ws" = 1 ]; then
	printf '%-34s %18s %18s\n' "key -> glyph via broker ws, med (ms)" "$wsmed_argobox" "$wsmed_xterm"
	printf '%-34s %18s %18s\n' "key -> glyph via broker ws, p95 (ms)" "$wsp95_argobox" "$wsp95_xterm"
	printf '%-34s %18s\n' "  argobox - xterm, median (ms)" "$(awk -v a="$wsmed_argobox" -v x="$wsmed_xterm" 'BEGIN {printf "%.2f", a - x}')"
fi
printf '%-34s %18s %18s\n' "cat 50 MB text (ms, with start-up)" "$cat_argobox" "$cat_xterm"
printf '%-34s %18s %18s\n' "idle RSS (kB, terminal process)" "$rss_argobox" "$rss_xterm"
printf '%-34s %18s %18s\n' "  of it private (RssAnon, kB)" "$anon_argobox" "$anon_xterm"
printf '%-34s %18s %18s\n' "idle RSS after the keys (kB)" "$rss2_argobox" "$rss2_xterm"
printf '%-34s %18s\n' "files: start to 100 entries (ms)" "$files_med"
printf '%-34s %18s\n' "files: 100 listed+drawn, 1st (ms)" "$files_cold"
printf '%-34s %18s\n' "files: 100 listed+drawn, F5 (ms)" "$files_warm"
