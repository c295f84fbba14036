#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# preview benchmark: what the landing page's live preview costs per visitor, streamed
# (GET /ws/preview, the broker's one showcase desktop, noVNC's encodings, served by the broker's
# fan-out: one RFB connection to the session, each update encoded once for every visitor) with 1,
# 10 and 50 visitors at once, beside the alternative of thumbnails (a JPEG of the preview-sized
# desktop made once and sent to every visitor at 1 or 2 frames per second), in one run.
#   - the showcase is the real one: argobox-session + argobox-wm with the seeded layout (System
#     Monitor, Terminal, Files; the monitor redraws every second), 1280x800, process launcher,
#     the apps from <build>/apps/bin;
#   - each visitor is ab-rfbbench idle on ws://.../ws/preview with --encodings novnc (what
#     noVNC asks for: Tight/JPEG quality 6): connected, one incremental request outstanding,
#     for S seconds; bytes/s per visitor is the mean of what they received;
#   - CPU is the broker's + the showcase session's + its X server's, from /proc over the same
#     seconds, as % of one core;
#   - thumbnails: ab-rfbbench snapshot of the same desktop, scaled to the preview box
#     (1050x656) and JPEG-encoded at quality 75 by ImageMagick, timed over 20 encodings; the
#     thumbnail is made once for everyone, so its CPU does not grow with the visitors and its
#     bytes per visitor are the JPEG's size times the rate.
# Usage: bench/preview_bench.sh [--quick]     (AB_BUILD_DIR picks the build, default build/)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
build=$B
secs=10
[ "${1:-}" = --quick ] && secs=4
need_built "$build/broker/argobox-broker" "$build/session/argobox-session" "$build/wm/argobox-wm" \
	"$build/bench/ab-rfbbench" "$build/apps/bin/argobox-monitor"
need_tools convert jq curl
ab_tmpdir ab-preview-bench
tmp=$T
sample_broker_config "$tmp" '{"preview": {"per_ip_per_minute": 1000}}'
PATH=$build/apps/bin:$PATH start_broker "$tmp/broker.log"
target=ws://127.0.0.1:$PORT/ws/preview
rfb=$build/bench/ab-rfbbench

# The first viewer starts the showcase; wait until the layout's windows are up and drawn.
"$rfb" first-frame "$target" --encodings novnc >/dev/null
wait_for 60 sh -c "pgrep -f '$build/apps/bin/argobox-monitor' >/dev/null" || skip "the showcase's apps did not start"
show=$(jq -r 'select(.event == "preview.start") | .user' "$tmp/audit.log" | head -n1)
sess=$(ctl --json list | jq -r --arg u "$show" '.desktops[] | select(.user == $u) | .pid')
xvfb=$(pgrep -P "$sess" Xvfb | head -n1)
sleep 3
pids="$BROKER_PID,$sess${xvfb:+,$xvfb}"

cpu_of() { # cpu_of PIDS: CPU seconds (utime + stime) of those pids and their threads
	local p t=0
	for p in ${1//,/ }; do
		t=$(awk -v t="$t" -v hz="$(getconf CLK_TCK)" '{ print t + ($14 + $15) / hz }' "/proc/$p/stat")
	done
	echo "$t"
}
pct() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN { print 100 * (b - a) / ((t1 - t0) / 1e9) }'; }
run_viewers() { # run_viewers N: "served bytes_per_s_per_served cpu_pct broker_cpu_pct upstreams"
	local n=$1 i c0 c1 b0 b1 t0 t1 up
	c0=$(cpu_of "$pids")
	b0=$(cpu_of "$BROKER_PID")
	t0=$(date +%s%N)
	for i in $(seq "$n"); do
		"$rfb" idle "$target" --encodings novnc --pids $$ --seconds "$secs" >"$tmp/v$n.$i" 2>&1 &
	done
	sleep 1
	up=$(curl -s "http://127.0.0.1:$PORT/healthz" | jq -r '.preview_upstreams')
	wait
	t1=$(date +%s%N)
	c1=$(cpu_of "$pids")
	b1=$(cpu_of "$BROKER_PID")
	cat "$tmp"/v"$n".* | sed -n 's/.*idle_bytes=\([0-9]*\).*/\1/p' | awk -v s="$secs" \
		-v c="$(pct "$c0" "$c1" "$t0" "$t1")" -v b="$(pct "$b0" "$b1" "$t0" "$t1")" -v u="$up" \
		'{ sum += $1; k++ } END { printf "%d %.0f %.2f %.2f %s\n", k, k ? sum / k / s : 0, c, b, u }'
}
# one upstream RFB connection serves them all (the session's own limit, vnc.max_clients, is 8)
read -r n1 b1 c1 p1 u1 <<<"$(run_viewers 1)"
read -r n10 b10 c10 p10 u10 <<<"$(run_viewers 10)"
read -r n50 b50 c50 p50 u50 <<<"$(run_viewers 50)"

# Thumbnails of the same desktop, at the preview box's size.
"$rfb" snapshot "$target" --encodings novnc --out "$tmp/shot.ppm" >/dev/null
t0=$(date +%s%N)
for i in $(seq 20); do convert "$tmp/shot.ppm" -resize 1050x656 -quality 75 "$tmp/thumb.jpg"; done
enc_ms=$(( ($(date +%s%N) - t0) / 20000000 ))
jpg=$(stat -c %s "$tmp/thumb.jpg")

kb() { awk -v b="$1" 'BEGIN { print b / 1024 }'; }
per() { awk -v ms="$1" -v n="$2" 'BEGIN { print ms / 1000 * n * 100 }'; } # per MS RATE: CPU % at RATE/s
div() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.3f", a / n }'; }
printf '%-58s %7s %9s %12s %11s %13s %12s\n' "live preview, ${secs} s per run (1280x800 showcase)" served upstream \
	'KB/s/visitor' 'CPU % (all)' 'CPU %/visitor' 'broker CPU %'
row() { printf '%-58s %7s %9s %12.1f %11.2f %13s %12s\n' "$@"; }
row "stream fan-out, 1 visitor (noVNC encodings)" "$n1/1" "$u1" "$(kb "$b1")" "$c1" "$(div "$c1" 1)" "$p1"
row "stream fan-out, 10 visitors" "$n10/10" "$u10" "$(kb "$b10")" "$c10" "$(div "$c10" 10)" "$p10"
row "stream fan-out, 50 visitors" "$n50/50" "$u50" "$(kb "$b50")" "$c50" "$(div "$c50" 50)" "$p50"
row "thumbnails 1/s (JPEG q75 1050x656, ${jpg} B, ${enc_ms} ms)" any - "$(kb "$jpg")" \
	"$(per "$enc_ms" 1)" "-" "-"
row "thumbnails 2/s" any - "$(kb $((2 * jpg)))" "$(per "$enc_ms" 2)" "-" "-"
