#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# preview benchmark: what the landing page's live preview costs per visitor, streamed
# (GET /ws/preview, the broker's one showcase desktop, noVNC's encodings) with 1 and with 50
# visitors at once, beside the alternative of thumbnails (a JPEG of the preview-sized desktop
# sent to every visitor at 1 or 2 frames per second), in one run.
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
need_tools convert jq
ab_tmpdir ab-preview-bench
tmp=$T
sample_broker_config "$tmp" '{"preview": {"max_viewers": 7, "per_ip_per_minute": 1000}}'
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
run_viewers() { # run_viewers N: "served bytes_per_s_per_served cpu_pct" for N viewers at once
	local n=$1 i c0 c1 t0 t1
	c0=$(cpu_of "$pids")
	t0=$(date +%s%N)
	for i in $(seq "$n"); do
		"$rfb" idle "$target" --encodings novnc --pids $$ --seconds "$secs" >"$tmp/v$n.$i" 2>&1 &
	done
	wait
	t1=$(date +%s%N)
	c1=$(cpu_of "$pids")
	cat "$tmp"/v"$n".* | sed -n 's/.*idle_bytes=\([0-9]*\).*/\1/p' | awk -v s="$secs" \
		-v c="$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN { print 100 * (b - a) / ((t1 - t0) / 1e9) }')" \
		'{ sum += $1; k++ } END { printf "%d %.0f %.1f\n", k, k ? sum / k / s : 0, c }'
}
# the session serves at most vnc.max_clients (8) RFB clients: the broker's preview cap is 7
read -r n1 b1 c1 <<<"$(run_viewers 1)"
read -r n7 b7 c7 <<<"$(run_viewers 7)"
read -r n50 b50 c50 <<<"$(run_viewers 50)"

# Thumbnails of the same desktop, at the preview box's size.
"$rfb" snapshot "$target" --encodings novnc --out "$tmp/shot.ppm" >/dev/null
t0=$(date +%s%N)
for i in $(seq 20); do convert "$tmp/shot.ppm" -resize 1050x656 -quality 75 "$tmp/thumb.jpg"; done
enc_ms=$(( ($(date +%s%N) - t0) / 20000000 ))
jpg=$(stat -c %s "$tmp/thumb.jpg")

kb() { awk -v b="$1" 'BEGIN { print b / 1024 }'; }
per() { awk -v ms="$1" -v n="$2" 'BEGIN { print ms / 1000 * n * 100 }'; } # per MS RATE: CPU % at RATE/s
printf '%-56s %8s %12s %12s\n' "live preview, ${secs} s per run (1280x800 showcase)" served 'KB/s/visitor' 'CPU % (all)'
printf '%-56s %8s %12.1f %12.1f\n' "stream, 1 visitor (noVNC encodings)" "$n1/1" "$(kb "$b1")" "$c1"
printf '%-56s %8s %12.1f %12.1f\n' "stream, 7 visitors (the preview's cap)" "$n7/7" "$(kb "$b7")" "$c7"
printf '%-56s %8s %12.1f %12.1f\n' "stream, 50 visitors" "$n50/50" "$(kb "$b50")" "$c50"
printf '%-56s %8s %12.1f %12.1f\n' "thumbnails 1/s (JPEG q75 1050x656, ${jpg} B, ${enc_ms} ms)" any \
	"$(kb "$jpg")" "$(per "$enc_ms" 1)"
printf '%-56s %8s %12.1f %12.1f\n' "thumbnails 2/s" any "$(kb $((2 * jpg)))" "$(per "$enc_ms" 2)"
