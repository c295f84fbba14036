#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Desktops in containers through the real broker (session.launcher "oci"): websocket connect
# of a cold desktop (container created, Xvfb + window manager started) to the first complete
# frame, and of a warm one; median and p95 over N runs. Root; runs in a network namespace of
# its own. usage: bench/container_broker_bench.sh [BUILD_DIR] [N]   (RUNTIME=crun for crun)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
n=${2:-10}
rt=${RUNTIME:-runc}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
for f in "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/bench/ab-rfbbench"; do
	[ -x "$f" ] || { echo "$f is not built"; exit 1; }
done
wm=$B/wm/argobox-wm
[ -x "$wm" ] || wm=/usr/bin/sleep
tag=$$
T=$(mktemp -d /tmp/ab-cbb.XXXXXX)
chmod 755 "$T"
ns=abcbb-$tag
BROKER_PID=
cleanup() {
	[ -z "$BROKER_PID" ] || { kill "$BROKER_PID"; wait "$BROKER_PID"; } 2>/dev/null
	"$rt" --root "$T/state" delete --force "cbb$tag-local" >/dev/null 2>&1
	ip netns del "$ns" 2>/dev/null
	for c in /sys/fs/cgroup/*/"cbb$tag"; do rmdir "$c"/* "$c" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1
cat >"$T/broker.json" <<EOT
{"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "oci", "desktop_command": ["$wm"]},
 "storage": {"home_base": "$T/home"},
 "runtime": {"runtime": "$rt", "state_root": "$T/state", "bundle_root": "$T/bundles",
             "id_prefix": "cbb$tag-", "cgroup_parent": "cbb$tag"},
 "netpol": {"netns_dir": "$T/netns", "netns_prefix": "cbb$tag-", "table": "cbb$tag"},
 "data": {"dir": "$T/data"}, "admin": {"socket": "$T/broker.sock"}, "audit": {"path": "$T/audit.log"}}
EOT
nsenter --net=/run/netns/$ns "$B/broker/argobox-broker" --config "$T/broker.json" >"$T/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 200); do grep -q "listening on" "$T/broker.log" && break; sleep 0.05; done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/broker.log")
[ -n "$port" ] || { cat "$T/broker.log"; exit 1; }
ms() { echo $(($(date +%s%N) / 1000000)); }
frame() { nsenter --net=/run/netns/$ns "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$port/websockify" --repeat 1; }
gone() { ! "$rt" --root "$T/state" list -q 2>/dev/null | grep -q .; }
cold=() warm=()
for i in $(seq "$n"); do
	t0=$(ms)
	frame >/dev/null || { echo "run $i: no frame"; tail -5 "$T/broker.log"; exit 1; }
	cold+=($(($(ms) - t0)))
	warm+=($(frame | sed -n 's/.*first_frame_ms=\([0-9.]*\).*/\1/p'))
	"$B/broker/argoboxctl" --socket "$T/broker.sock" stop local >/dev/null
	for _ in $(seq 400); do gone && break; sleep 0.05; done
done
stats() { sort -n | awk '{a[NR] = $1} END {m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]; printf "%7.1f %7.1f", m, p}'; }
printf "%-52s %7s %7s\n" "broker + $rt, $n runs ($( [ "$wm" = /usr/bin/sleep ] && echo session only || echo session + wm))" median p95
printf "%-52s %s ms\n" "cold: ws connect -> container -> first full frame" "$(printf '%s\n' "${cold[@]}" | stats)"
printf "%-52s %s ms\n" "warm: ws connect -> first full frame" "$(printf '%s\n' "${warm[@]}" | stats)"
