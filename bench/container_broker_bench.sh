#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sign-in to the first frame with desktops in runc containers, through the real broker
# (session.launcher "oci"), on loopback in a network namespace of its own. Root.
#   cold: a member signs in (POST /api/login: the broker starts their desktop: network
#         namespace, rules, bundle, runc, argobox-session with Xvfb, argobox-wm) and opens the
#         websocket with the session cookie; until the whole first frame has arrived
#         (ab-rfbbench first-frame: RFB handshake, one full-screen update);
#   warm: the desktop runs (2 s after the cold frame); the websocket connect to the whole
#         first frame (a reconnect), three times a run with ZRLE and three with noVNC's
#         encodings (a browser's reload), each with its steps (connect and upgrade, RFB
#         handshake, the frame).
# Median and p95 over N runs of each, and where the cold time goes, step by step (medians):
# the client's clock (sign-in answered, the frame), the broker's log (the desktop's start, the
# runtime's steps from container.ready) and the session's own "ready in" line (console log).
# usage: bench/container_broker_bench.sh [BUILD_DIR] [N]
#   RUNTIME=crun for crun; CBB_GEOMETRY (default 1280x800) the desktop's size
set -uo pipefail
[ -z "${1:-}" ] || export AB_BUILD_DIR=$1
. "$(dirname "$(readlink -f "$0")")/lib.sh"
n=${2:-10}
rt=${RUNTIME:-runc}
geom=${CBB_GEOMETRY:-1280x800}
need_root "containers"
need_tools "$rt" jq curl openssl
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/bench/ab-rfbbench"
wm=$B/wm/argobox-wm
[ -x "$wm" ] || wm=/usr/bin/sleep
oci_setup b "$rt"
broker_config_oci "$geom" "[\"$wm\"]" <<EOT
$(local_users bench-pw bea:member:p:1000)
 "profiles": {"p": {"network": {"egress": "any", "lan": [], "services": []}}}
EOT
start_broker "$T/broker.log"
ms() { echo $(($(date +%s%N) / 1000000)); }
frame() { # frame [ARGS]: ab-rfbbench's first-frame line through the websocket with bea's cookie
	AB_WS_COOKIE=$(awk '$6 == "argobox_session" {print $6 "=" $7}' "$T/bea.jar") AB_WS_ORIGIN=$URL \
		N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" --repeat 1 "$@"
}
gone() { ! "$rt" --root "$T/state" list -q 2>/dev/null | grep -q . && [ -z "$(desk_pid bea)" ]; }
num() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; } # num LABEL: the number after LABEL
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; } # kv KEY: the value of ab-rfbbench's KEY=
epoch_ms() { echo $(($(date -d "$1" +%s%N) / 1000000)); } # epoch_ms ISO-TIME
cold=() warm=() wopen=() wshake=() wupd=() bwarm=() bopen=() bshake=() bupd=() signin=() prep=() net=() bundle=() run=() sess=() xvfb=() disp=() wmcmd=() rest=()
for i in $(seq "$n"); do
	nlog=$(wc -l <"$T/broker.log")
	t0=$(ms)
	code=$(login bea bench-pw)
	[ "$code" = 200 ] || { echo "run $i: sign-in answered $code: $(cat "$T/bea.login")"; exit 1; }
	frame >/dev/null || { echo "run $i: no frame"; tail -5 "$T/broker.log"; exit 1; }
	t2=$(ms)
	cold+=($((t2 - t0)))
	# the broker: "desktop 'bea' ready in E ms" (from the sign-in's start of it) and "runtime:
	# 'bea' ready in X ms (before the runtime: network A us, bundle B us; runtime run C ms;
	# session D ms)"; its log's timestamps are this machine's clock, like ours
	dline=$(tail -n +"$nlog" "$T/broker.log" | grep "desktop 'bea' ready in" | tail -1)
	rtl=$(tail -n +"$nlog" "$T/broker.log" | grep "runtime: 'bea' ready in" | tail -1)
	e=$(num "ready in" <<<"$dline") ready_at=$(epoch_ms "${dline%% *}")
	a=$(num network <<<"$rtl") b=$(num bundle <<<"$rtl") c=$(num "runtime run" <<<"$rtl")
	d=$(num "; session" <<<"$rtl") x=$(num "ready in" <<<"$rtl")
	signin+=($((ready_at - e - t0))) rest+=($((t2 - ready_at)))
	net+=("$(awk -v v="$a" 'BEGIN {print v / 1000}')") bundle+=("$(awk -v v="$b" 'BEGIN {print v / 1000}')")
	run+=("$c") sess+=("$d")
	prep+=("$(awk -v e="$e" -v x="$x" -v a="$a" -v b="$b" 'BEGIN {print e - x - (a + b) / 1000}')")
	# the session: "ready in N ms (Xvfb a ms, display and RFB socket b ms, control socket and
	# desktop command c ms)"
	sl=$(grep "ready in" "$T/bundles/bea.console.log" | tail -1)
	xvfb+=("$(num "(Xvfb" <<<"$sl")") disp+=("$(num "RFB socket" <<<"$sl")")
	wmcmd+=("$(num "desktop command" <<<"$sl")")
	# warm: reconnects once the desktop has settled (its window manager drawn)
	sleep 2
	# (ZRLE, a native client's choice, then noVNC's encodings, a browser's), with their steps
	for _ in 1 2 3; do
		l=$(frame)
		warm+=("$(kv first_frame_ms <<<"$l")") wopen+=("$(kv open_ms <<<"$l")")
		wshake+=("$(kv handshake_ms <<<"$l")") wupd+=("$(kv update_ms <<<"$l")")
		l=$(frame --encodings novnc)
		bwarm+=("$(kv first_frame_ms <<<"$l")") bopen+=("$(kv open_ms <<<"$l")")
		bshake+=("$(kv handshake_ms <<<"$l")") bupd+=("$(kv update_ms <<<"$l")")
	done
	ctl stop bea >/dev/null
	wait_for 20 gone || { echo "run $i: the desktop did not stop"; exit 1; }
done
stats() { sort -n | awk '{a[NR] = $1} END {m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]; printf "%7.1f %7.1f", m, p}'; }
med() { printf '%s\n' "$@" | stats | awk '{print $1}'; }
read -r cold_m cold_p < <(printf '%s\n' "${cold[@]}" | stats)
read -r warm_m warm_p < <(printf '%s\n' "${warm[@]}" | stats)
read -r bwarm_m bwarm_p < <(printf '%s\n' "${bwarm[@]}" | stats)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v <= t ? "met" : "**missed**")}'; }
what="session + $([ "$wm" = /usr/bin/sleep ] && echo sleep || echo argobox-wm)"
printf '\n### Sign-in to first frame, desktops in %s containers through the broker (%s, %s, %d runs, load %s)\n\n' \
	"$rt" "$what" "$geom" "$n" "$(cut -d' ' -f1 /proc/loadavg)"
printf '| metric | median | p95 | target |\n|---|---:|---:|---|\n'
printf '| **cold: sign-in -> container -> first full frame (ms)** | **%s** | %s | ≤ 250 (%s) |\n' \
	"$cold_m" "$cold_p" "$(verdict "$cold_m" 250)"
printf '| … sign-in until the broker starts the desktop (POST /api/login, password hash) | %s | | |\n' "$(med "${signin[@]}")"
printf '| … the desktop'"'"'s start until the runtime (state, profile) | %s | | |\n' "$(med "${prep[@]}")"
printf '| … network namespace, veth, nftables rules | %s | | |\n' "$(med "${net[@]}")"
printf '| … bundle and seccomp shim | %s | | |\n' "$(med "${bundle[@]}")"
printf '| … %s run --detach | %s | | |\n' "$rt" "$(med "${run[@]}")"
printf '| … session to READY | %s | | |\n' "$(med "${sess[@]}")"
printf '| … … of which Xvfb (exec, keymap, 3840x2160 framebuffer) | %s | | |\n' "$(med "${xvfb[@]}")"
printf '| … … of which X connection, RandR size, RFB socket | %s | | |\n' "$(med "${disp[@]}")"
printf '| … … of which control socket, Landlock, desktop command started | %s | | |\n' "$(med "${wmcmd[@]}")"
printf '| … desktop ready -> control channel -> websocket -> first frame | %s | | |\n' "$(med "${rest[@]}")"
printf '| **warm: websocket connect -> first full frame, noVNC encodings (a browser) (ms)** | **%s** | %s | ≤ 10 (%s) |\n' \
	"$bwarm_m" "$bwarm_p" "$(verdict "$bwarm_m" 10)"
printf '| … TCP connect and websocket upgrade (the broker: cookie, desktop, RFB socket) | %s | | |\n' "$(med "${bopen[@]}")"
printf '| … RFB handshake to ServerInit | %s | | |\n' "$(med "${bshake[@]}")"
printf '| … SetEncodings and request -> the whole frame | %s | | |\n' "$(med "${bupd[@]}")"
printf '| **warm, ZRLE (a native client'"'"'s encoding) (ms)** | **%s** | %s | ≤ 10 (%s) |\n' \
	"$warm_m" "$warm_p" "$(verdict "$warm_m" 10)"
printf '| … TCP connect and websocket upgrade | %s | | |\n' "$(med "${wopen[@]}")"
printf '| … RFB handshake to ServerInit | %s | | |\n' "$(med "${wshake[@]}")"
printf '| … SetEncodings and request -> the whole frame | %s | | |\n' "$(med "${wupd[@]}")"
