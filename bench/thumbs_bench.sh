#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# thumbnails benchmark: what the admin console's live thumbnails cost each desktop (issue 20:
# at most 1 % of a core while a console is open, nothing when none is), in one run.
#   - N real desktops (argobox-session + Xvfb + argobox-wm, 1280x800, process launcher) of N
#     signed-in members, and an admin;
#   - windows of S seconds, interleaved: "none" (no console: nobody asks) and "console" (the
#     admin's GET /api/admin/desktops/<user>/thumbnail for every desktop every 3 s, as the
#     console does), twice each;
#   - CPU is each session's (utime + stime from /proc, where the JPEG is made) as % of one
#     core, the mean over the desktops, and the broker's; plus the thumbnails served, their
#     mean size and the request's mean latency.
# Usage: bench/thumbs_bench.sh [--quick] [DESKTOPS]   (AB_BUILD_DIR picks the build)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
secs=30
[ "${1:-}" = --quick ] && secs=9 && shift
n=${1:-3}
need_built "$B/broker/argobox-broker" "$B/session/argobox-session" "$B/wm/argobox-wm"
need_tools curl jq openssl
ab_tmpdir ab-thumbs-bench
users=(ada:admin:p:1000)
for i in $(seq "$n"); do users+=("m$i:member:p:$((1000 + i))"); done
broker_config <<EOT
$(local_users bench-pw "${users[@]}")
 "profiles": {"p": {}}
EOT
start_broker "$T/broker.log"
for u in "${users[@]}"; do
	[ "$(login "${u%%:*}" bench-pw)" = 200 ] || skip "${u%%:*} cannot sign in"
done
for i in $(seq "$n"); do
	wait_for 60 desk_ready "m$i" || skip "m$i's desktop did not start"
done
sleep 3 # the window managers have drawn
sessions=$(for i in $(seq "$n"); do desk_pid "m$i"; done | paste -sd,)

cpu_of() { # cpu_of PID: CPU seconds (utime + stime)
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
window() { # window MODE: "session_cpu_pct broker_cpu_pct thumbs bytes latency_ms"
	local mode=$1 t0 t1 b0 b1 p s0=() s1=() shots=0 bytes=0 lat=0 k
	for p in ${sessions//,/ }; do s0+=("$(cpu_of "$p")"); done
	b0=$(cpu_of "$BROKER_PID")
	t0=$(date +%s%N)
	local end=$((t0 + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		local tick
		tick=$(date +%s%N)
		if [ "$mode" = console ]; then
			for i in $(seq "$n"); do
				read -r code size ms < <(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' \
					-b "$T/ada.jar" "$URL/api/admin/desktops/m$i/thumbnail")
				[ "$code" = 200 ] || skip "thumbnail of m$i: HTTP $code"
				shots=$((shots + 1))
				bytes=$((bytes + size))
				lat=$(awk -v a="$lat" -v b="$ms" 'BEGIN { print a + b * 1000 }')
			done
		fi
		# the console's period: 3 s from the start of this round
		sleep "$(awk -v t="$tick" -v now="$(date +%s%N)" 'BEGIN { d = 3 - (now - t) / 1e9; print (d > 0 ? d : 0) }')"
	done
	t1=$(date +%s%N)
	for p in ${sessions//,/ }; do s1+=("$(cpu_of "$p")"); done
	b1=$(cpu_of "$BROKER_PID")
	local sum=0
	for k in "${!s0[@]}"; do sum=$(awk -v s="$sum" -v a="${s0[$k]}" -v b="${s1[$k]}" 'BEGIN { print s + b - a }'); done
	awk -v s="$sum" -v n="$n" -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v shots="$shots" \
		-v bytes="$bytes" -v lat="$lat" 'BEGIN { w = (t1 - t0) / 1e9;
		printf "%.3f %.3f %d %.0f %.1f\n", 100 * s / n / w, 100 * (b1 - b0) / w, shots,
			shots ? bytes / shots : 0, shots ? lat / shots : 0 }'
}
declare -A res
for round in 1 2; do
	for mode in none console; do
		res[$mode$round]=$(window "$mode")
	done
done
printf '%-44s %12s %12s %8s %10s %10s\n' "thumbnails, $n desktops 1280x800, ${secs} s windows" \
	'session CPU%' 'broker CPU%' 'thumbs' 'bytes' 'latency ms'
for round in 1 2; do
	for mode in none console; do
		read -r sc bc shots bytes lat <<<"${res[$mode$round]}"
		label="no console (nobody asks), run $round"
		[ "$mode" = console ] && label="console open: every 3 s, run $round"
		printf '%-44s %12.3f %12.3f %8d %10s %10s\n' "$label" "$sc" "$bc" "$shots" \
			"$([ "$shots" -gt 0 ] && echo "$bytes" || echo -)" "$([ "$shots" -gt 0 ] && echo "$lat" || echo -)"
	done
done
read -r n1 _ <<<"${res[none1]}"
read -r n2 _ <<<"${res[none2]}"
read -r c1 _ <<<"${res[console1]}"
read -r c2 _ <<<"${res[console2]}"
awk -v n1="$n1" -v n2="$n2" -v c1="$c1" -v c2="$c2" 'BEGIN {
	d = (c1 + c2) / 2 - (n1 + n2) / 2
	printf "%-44s %12.3f   (target: <= 1 %% of a core per desktop: %s)\n",
		"cost of the console per desktop (console - none)", d, d <= 1 ? "met" : "NOT met" }'
