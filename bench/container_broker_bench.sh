#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Desktops in containers through the real broker (session.launcher "oci"): websocket connect
# of a cold desktop (container created, Xvfb + window manager started) to the first complete
# frame, and of a warm one; median and p95 over N runs. Root; runs in a network namespace of
# its own. usage: bench/container_broker_bench.sh [BUILD_DIR] [N]   (RUNTIME=crun for crun)
set -uo pipefail
[ -z "${1:-}" ] || export AB_BUILD_DIR=$1
. "$(dirname "$(readlink -f "$0")")/lib.sh"
n=${2:-10}
rt=${RUNTIME:-runc}
need_root "containers"
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/bench/ab-rfbbench"
wm=$B/wm/argobox-wm
[ -x "$wm" ] || wm=/usr/bin/sleep
oci_setup b "$rt"
broker_config_oci 1280x800 "[\"$wm\"]" </dev/null
start_broker "$T/broker.log"
port=$PORT
ms() { echo $(($(date +%s%N) / 1000000)); }
frame() { N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$port/websockify" --repeat 1; }
gone() { ! "$rt" --root "$T/state" list -q 2>/dev/null | grep -q .; }
cold=() warm=()
for i in $(seq "$n"); do
	t0=$(ms)
	frame >/dev/null || { echo "run $i: no frame"; tail -5 "$T/broker.log"; exit 1; }
	cold+=($(($(ms) - t0)))
	warm+=($(frame | sed -n 's/.*first_frame_ms=\([0-9.]*\).*/\1/p'))
	ctl stop local >/dev/null
	for _ in $(seq 400); do gone && break; sleep 0.05; done
done
stats() { sort -n | awk '{a[NR] = $1} END {m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]; printf "%7.1f %7.1f", m, p}'; }
printf "%-52s %7s %7s\n" "broker + $rt, $n runs ($( [ "$wm" = /usr/bin/sleep ] && echo session only || echo session + wm))" median p95
printf "%-52s %s ms\n" "cold: ws connect -> container -> first full frame" "$(printf '%s\n' "${cold[@]}" | stats)"
printf "%-52s %s ms\n" "warm: ws connect -> first full frame" "$(printf '%s\n' "${warm[@]}" | stats)"
