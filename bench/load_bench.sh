#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# load benchmark (issue 23): many desktops and viewers on one broker, and what the active user
# feels. One broker (process launcher, this build's argobox-session, 1280x800), 1 + N signed-in
# users, each desktop the streaming benchmark's (solid root, an 80x24 xterm "bterm" at +0+0)
# plus a second xterm "dragme" at +0+300:
#   idle   the probe user types into bterm (ab-rfbbench latency through the broker's websocket
#          with noVNC's encodings): key -> pixels p50/p99, nothing else happening
#   load   N desktops each with a browser-protocol viewer (ab-rfbbench workload, noVNC's
#          encodings) while ab-xdrag drags "dragme" (50 moves/s), plus V view-only websocket
#          viewers spread round robin over all desktops (bench/load_viewers.cjs), and the probe
#          user typing meanwhile
#   slow   the N drags again, plus S viewers that never read, round robin over every desktop
#          (the probe's first): broker RSS before, at most and after, whether the probe
#          user's keys and the dragged desktops' active viewers still get through
#          (--slow-raw: they ask for Raw only, 4 MB a full update: more than any socket
#          buffer between the session and the reader holds)
#   knee   (--knee) k = 1..N dragged desktops with their viewers, the probe typing: the first k
#          whose key -> pixels p99 passes 50 ms
# Broker CPU is its utime+stime over the phase (% of one core); RSS is VmRSS sampled every
# 0.5 s. "dropped" is the share of the drag's 50 positions a second an active viewer did not
# see (1 - its updates/s / 50): pacing gives a viewer the newest picture, never a backlog.
#
# Usage: bench/load_bench.sh [--quick] [--desktops N] [--viewers V] [--slow S] [--seconds T]
#                            [--keys K] [--knee] [--slow-raw]
#   defaults: N=20 V=200 S=20 T=20 K=100; --quick: N=3 V=20 S=5 T=8 K=40
# (AB_BUILD_DIR picks the build, default build/: use a release build for figures.)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
N=20 V=200 SLOW=20 SECS=20 K=100 KNEE=0
while (($#)); do
	case "$1" in
	--quick) N=3 V=20 SLOW=5 SECS=8 K=40 ;;
	--desktops) N=$2; shift ;;
	--viewers) V=$2; shift ;;
	--slow) SLOW=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--keys) K=$2; shift ;;
	--knee) KNEE=1 ;;
	--slow-raw) export LOAD_SLOW_RAW=1 ;;
	-h | --help) sed -n '3,27p' "$0" | sed 's/^# \?//'; exit 0 ;;
	*) echo "load_bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/bench/ab-rfbbench" "$B/bench/ab-xdrag"
need_tools jq curl openssl xterm node
NM=$S/tests/integration/authn/node_modules
[ -d "$NM/ws" ] || skip "ws is not installed in tests/integration/authn (./argobox deps test)"
ab_tmpdir ab-load-bench
RFB=$B/bench/ab-rfbbench XDRAG=$B/bench/ab-xdrag
HZ=$(getconf CLK_TCK)

# --- the broker and its users ------------------------------------------------------------------
USERS=(probe)
for ((i = 1; i <= N; i++)); do USERS+=("load$i"); done
hash=$(openssl passwd -6 -salt loadbench load-bench-pw)
desk='echo "$DISPLAY" >"$ARGOBOX_RUNTIME_DIR/display"; xsetroot -solid "#2e3c4c" 2>/dev/null;
xterm -T dragme -geometry 80x24+0+300 -e sh -c "ls -l /usr/bin | head -n 30; exec sleep 100000" &
exec xterm -T bterm -geometry 80x24+0+0 -e bash --norc --noprofile'
# argobox-session serves vnc.max_clients RFB clients (8 by default): V viewers over N + 1
# desktops need more, so the sessions get a config of their own (docs/session.md)
echo '{"vnc": {"max_clients": 64}}' >"$T/session.json"
printf '#!/bin/sh\nexec %q --config %q "$@"\n' "$B/session/argobox-session" "$T/session.json" >"$T/session.sh"
chmod 755 "$T/session.sh"
printf '%s\n' "${USERS[@]}" | jq -R . | jq -s --arg b "$T/session.sh" --arg h "$hash" \
	--arg desk "$desk" --slurpfile sample "$S/config/argobox.sample.json" '{
	listen: {address: "127.0.0.1", port: 0},
	session: {launcher: "process", binary: $b,
	          runtime_base: ($t + "/run"), geometry: "1280x800", start_timeout_ms: 60000,
	          desktop_command: ["sh", "-c", $desk]},
	admin: {socket: ($t + "/broker.sock")}, audit: {path: ($t + "/audit.log")},
	data: {dir: ($t + "/data")}, log: {level: "info"},
	auth: {local: {enabled: true, max_failures_ip: 100000}},
	profiles: $sample[0].profiles,
	users: [to_entries[] | {name: .value, role: "member", profile: "homelabber",
	                        uid: (2000 + .key), password_hash: $h}]}' --arg t "$T" >"$T/broker.json"
start_broker "$T/broker.log"
ORIGIN=http://127.0.0.1:$PORT WSURL=ws://127.0.0.1:$PORT/websockify
declare -A COOKIE
for u in "${USERS[@]}"; do
	c=$(curl -s -D - -o /dev/null -H "Origin: $ORIGIN" -H 'Content-Type: application/json' \
		-d "{\"user\":\"$u\",\"password\":\"load-bench-pw\"}" "$URL/api/login" |
		sed -n 's/^[Ss]et-[Cc]ookie: \(argobox_session=[0-9a-f]*\).*/\1/p')
	[ -n "$c" ] || { echo "load_bench.sh: sign-in of $u failed: $(tail -3 "$T/broker.log")" >&2; exit 1; }
	COOKIE[$u]=$c
done
ready() { # every user's desktop ready and its display recorded
	local n
	n=$(ctl --json list | jq '[.desktops[] | select(.state == "ready")] | length')
	[ "$n" = "${#USERS[@]}" ] || return 1
	for u in "${USERS[@]}"; do [ -s "$T/run/$u/display" ] || return 1; done
}
wait_for $((60 + 5 * N)) ready || { echo "load_bench.sh: desktops not ready: $(ctl list)" >&2; exit 1; }
sleep 2 # the xterms drawn

# --- measuring --------------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$BROKER_PID/status"; }
RSS_MAX=0
sample_rss() { # in the background: the largest VmRSS while the phase runs, into $T/rss.max
	local m=0 r
	while :; do
		r=$(awk '/^VmRSS/ {print $2}' "/proc/$BROKER_PID/status" 2>/dev/null) || break
		((r > m)) && m=$r && echo "$m" >"$T/rss.max"
		sleep 0.5
	done
}
probe() { # probe KEYS: the probe user's key -> pixels; prints ab-rfbbench's line
	AB_WS_COOKIE=${COOKIE[probe]} AB_WS_ORIGIN=$ORIGIN "$RFB" latency "$WSURL" --encodings novnc \
		--keys "$1" --at 200,100 2>"$T/probe.err" || echo "key_median_ms=- key_p99_ms=- key_lost=$1 error=$(tr '\n' ' ' <"$T/probe.err")"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
drags() { # drags K SECONDS: K desktops dragged, each with its browser-protocol viewer
	local i u
	for ((i = 1; i <= $1; i++)); do
		u=load$i
		AB_WS_COOKIE=${COOKIE[$u]} AB_WS_ORIGIN=$ORIGIN "$RFB" workload "$WSURL" --encodings novnc \
			--pids "$BROKER_PID" --timeout $(($2 + 60)) \
			--run "DISPLAY=$(cat "$T/run/$u/display") $XDRAG dragme $2 50 760 300" \
			>"$T/drag.$i" 2>&1 &
		DRAG_PIDS+=($!)
	done
}
drag_summary() { # ups/s of the active viewers: "median min", from $T/drag.*
	local f u d
	for f in "$T"/drag.*; do
		u=$(field updates "$(cat "$f")") d=$(field duration_s "$(cat "$f")")
		[ -n "$u" ] && [ -n "$d" ] && awk -v u="$u" -v d="$d" 'BEGIN {printf "%.1f\n", u / d}'
	done | sort -n | awk '{v[NR] = $1} END {if (NR) printf "%s %s %d", v[int((NR + 1) / 2)], v[1], NR; else print "- - 0"}'
}
ROWS=()
row() { ROWS+=("$(printf '| %s |' "$(IFS='|'; echo "$*" | sed 's/|/ | /g')")"); }
phase_begin() { rm -f "$T/rss.max" "$T"/drag.*; DRAG_PIDS=(); C0=$(cpu_ticks); W0=$(date +%s%N); sample_rss & RSS_PID=$!; }
phase_end() { # sets CPU (% of a core) and RSS (MB, the largest sample)
	local w1
	w1=$(date +%s%N)
	kill "$RSS_PID" 2>/dev/null; wait "$RSS_PID" 2>/dev/null || true
	CPU=$(awk -v c="$(($(cpu_ticks) - C0))" -v hz="$HZ" -v w="$((w1 - W0))" 'BEGIN {printf "%.0f", 100 * c / hz / (w / 1e9)}')
	RSS=$(awk '{printf "%.1f", $1 / 1024}' "$T/rss.max" 2>/dev/null || true)
	[ -n "$RSS" ] || RSS=$(rss_mb)
}
cookies_all=$(for u in "${USERS[@]}"; do printf '%s,' "${COOKIE[$u]}"; done)

echo "load bench: $((N + 1)) desktops (1 probe + $N), $V view-only viewers, $SLOW slow readers, ${SECS} s phases, $K keys" >&2
# idle
phase_begin
P=$(probe "$K")
phase_end
row idle 0 0 "$CPU" "$RSS" "$(field key_median_ms "$P")" "$(field key_p99_ms "$P")" "$(field key_lost "$P")" - - -
# load
phase_begin
NODE_PATH=$NM node "$S/bench/load_viewers.cjs" "$PORT" $((SECS + 4)) "$V" "$cookies_all" 0 "" >"$T/viewers.json" &
VPID=$!
drags "$N" "$SECS"
sleep 2
P=$(probe "$K")
wait "${DRAG_PIDS[@]}" || true
wait "$VPID" || true
phase_end
read -r dmed dmin dn <<<"$(drag_summary)"
VJ=$(cat "$T/viewers.json" 2>/dev/null || echo '{}')
dropped=$(awk -v u="$dmed" 'BEGIN {if (u == "-") print "-"; else {d = 1 - u / 50; if (d < 0) d = 0; printf "%.0f %%", 100 * d}}')
row load "$N ($dn viewers)" "$(jq -r '"\(.connected)/\(.viewers)"' <<<"$VJ")" "$CPU" "$RSS" \
	"$(field key_median_ms "$P")" "$(field key_p99_ms "$P")" "$(field key_lost "$P")" \
	"$dmed (min $dmin)" "$dropped" "$(jq -r '"\(.ups_median | . * 10 | round / 10) (min \(.ups_min | . * 10 | round / 10))"' <<<"$VJ")"
# slow readers
RSS0=$(rss_mb)
phase_begin
NODE_PATH=$NM node "$S/bench/load_viewers.cjs" "$PORT" $((SECS + 4)) 0 "" "$SLOW" "$cookies_all" >"$T/slow.json" &
SPID=$!
drags "$N" "$SECS"
sleep 2
P=$(probe "$K")
wait "${DRAG_PIDS[@]}" || true
wait "$SPID" || true
phase_end
sleep 2
RSS1=$(rss_mb)
SJ=$(cat "$T/slow.json" 2>/dev/null || echo '{}')
read -r dmed dmin dn <<<"$(drag_summary)"
row "slow readers" "$N" "$(jq -r '"\(.slow_connected)/\(.slow) slow"' <<<"$SJ")" "$CPU" "$RSS" \
	"$(field key_median_ms "$P")" "$(field key_p99_ms "$P")" "$(field key_lost "$P")" "$dmed (min $dmin)" - -
KNEE_TXT=""
if ((KNEE)); then
	knee=""
	for ((k = 1; k <= N; k++)); do
		phase_begin
		drags "$k" $((SECS / 2 + 4))
		sleep 2
		P=$(probe $((K / 2)))
		wait "${DRAG_PIDS[@]}" || true
		phase_end
		p99=$(field key_p99_ms "$P")
		row "knee k=$k" "$k" 0 "$CPU" "$RSS" "$(field key_median_ms "$P")" "$p99" "$(field key_lost "$P")" "$(drag_summary | cut -d' ' -f1)" - -
		if [ "$p99" = - ] || awk -v p="$p99" 'BEGIN {exit !(p > 50)}'; then
			knee=$k
			break
		fi
	done
	if [ -n "$knee" ]; then
		KNEE_TXT="knee: key -> pixels p99 passed 50 ms at $knee dragged desktop(s)"
	else
		KNEE_TXT="knee: p99 stayed under 50 ms up to $N dragged desktops"
	fi
fi

echo
echo "| phase | dragged desktops | viewers | broker CPU % | broker RSS MB (max) | key→pixels p50 ms | p99 ms | keys lost | active viewer updates/s | dropped | view-only updates/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "slow readers: broker RSS $RSS0 MB before, $RSS MB at most, $RSS1 MB after ($SLOW viewers that never read, spread over the $((N + 1)) desktops)"
[ -z "$KNEE_TXT" ] || echo "$KNEE_TXT"
stop_broker || true
