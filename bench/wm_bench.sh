#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm benchmark: resident memory with 20 windows, CPU while idle, and the time
# from a state restore to the last of 20 windows placed. Prints a table.
#   bench/wm_bench.sh            (uses ./build, as `./argobox bench` builds it)
#   AB_BUILD_DIR=build-x bench/wm_bench.sh
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
WM=$B/wm/argobox-wm
TC=$B/tests/integration/wm/wm-testclient
N=${WM_BENCH_WINDOWS:-20}
IDLE_S=${WM_BENCH_IDLE_S:-10}
need_built "$WM" "$TC"
ab_tmpdir abwm-bench
PIDS=()
at_exit 'kill_wait "${PIDS[@]}"'
start_xvfb 1920x1080
mkdir -p "$T/share/applications"
cat >"$T/share/applications/bench.desktop" <<EOT
[Desktop Entry]
Type=Application
Name=Bench
Exec=$TC --class Bench --title Bench
StartupWMClass=Bench
EOT
export XDG_DATA_DIRS=$T/share ARGOBOX_APPS='*'
start_wm() {
	"$WM" --state-out "$T/state.json" "$@" >>"$T/wm.log" 2>&1 &
	WM_PID=$!
	PIDS+=($WM_PID)
	wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'"
}
nwin() { jq '.windows | length' "$T/state.json" 2>/dev/null || echo 0; }
start_wm
for i in $(seq 1 "$N"); do
	"$TC" --class Bench --title "Bench $i" --geometry 400x300+$((20 * i))+$((15 * i)) --icon >/dev/null &
	PIDS+=($!)
done
wait_for 30 sh -c "[ \$(jq '.windows | length' '$T/state.json' 2>/dev/null || echo 0) = $N ]"
rss_kb=$(awk '/VmRSS/{print $2}' /proc/$WM_PID/status)
cpu0=$(awk '{print $14 + $15}' /proc/$WM_PID/stat)
sw0=$(awk '/^voluntary_ctxt_switches/{print $2}' /proc/$WM_PID/status)
sleep "$IDLE_S" # measuring idleness is the point here, not synchronisation
cpu1=$(awk '{print $14 + $15}' /proc/$WM_PID/stat)
sw1=$(awk '/^voluntary_ctxt_switches/{print $2}' /proc/$WM_PID/status)
hz=$(getconf CLK_TCK)
idle_ms=$(((cpu1 - cpu0) * 1000 / hz))
wakeups=$((sw1 - sw0))

# restore: kill everything, start from the exported state
cp "$T/state.json" "$T/saved.json"
kill "$WM_PID"
wait "$WM_PID" 2>/dev/null || true
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait_for 20 sh -c "! xwininfo -root -tree | grep -q '\"Bench\"'"
: >"$T/wm.log"
t0=$(date +%s%N)
start_wm --restore "$T/saved.json"
wait_for 60 grep -q "restore: placed" "$T/wm.log"
t1=$(date +%s%N)
restore_ms=$(grep -o 'placed [0-9]* of [0-9]* windows in [0-9]* ms' "$T/wm.log" | awk '{print $7}')
placed=$(grep -o 'placed [0-9]* of [0-9]*' "$T/wm.log" | awk '{print $2 "/" $4}')
rss2_kb=$(awk '/VmRSS/{print $2}' /proc/$WM_PID/status)

printf '\nargobox-wm benchmark (%s windows, Xvfb 1920x1080, %s)\n' "$N" "$(basename "$B")"
printf '%-44s %14s %12s\n' "metric" "value" "target"
printf '%-44s %11.1f MB %12s\n' "RSS with $N windows" "$(awk "BEGIN{print $rss_kb/1024}")" "< 15 MB"
printf '%-44s %11.1f MB %12s\n' "RSS after restoring $N windows" "$(awk "BEGIN{print $rss2_kb/1024}")" "< 15 MB"
printf '%-44s %11s ms %12s\n' "CPU used while idle for ${IDLE_S} s" "$idle_ms" "0"
printf '%-44s %14s %12s\n' "wake-ups while idle for ${IDLE_S} s" "$wakeups" "~0"
printf '%-44s %11s ms %12s\n' "restore: start to last window placed ($placed)" "$restore_ms" ""
printf '%-44s %11s ms %12s\n' "restore incl. wm start-up (wall clock)" "$(((t1 - t0) / 1000000))" ""
