# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ArgoBox's shell test helpers, sourced by the shell tests and bench/ scripts:
#   . "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
# It sets nothing but B and S (build and source dirs, from AB_BUILD_DIR/AB_SOURCE_DIR), the
# counters and an EXIT trap that runs the registered teardown; it does not change set -e/-u.
#
# Results
#   ok MSG / bad MSG           "ok   MSG" / "FAIL MSG"; bad counts into $fails
#   finish NAME                prints "NAME: N failure(s)", exits 1 if any
#   skip WHY                   "SKIP: WHY", exit 77 (ctest's skip)
#   need_root WHY              skip unless root
#   need_tools TOOL...         skip unless each is on PATH ("SKIP: TOOL is not installed")
#   need_built FILE...         skip unless each is executable ("SKIP: FILE is not built")
#   sanitizer_check FILE...    bad if a sanitizer report (ERROR:) is in FILE...
# Waiting and teardown
#   wait_for SECONDS CMD...    runs CMD every 50 ms until it succeeds; 1 on timeout
#   at_exit 'CMD'              CMD runs at exit, the last registered first
#   ab_tmpdir TAG [MODE]       T=$(mktemp -d /tmp/TAG.XXXXXX) (chmod MODE), removed at exit
# The broker
#   start_broker LOG [CONFIG]  argobox-broker --config CONFIG (default $T/broker.json) inside
#                              $AB_NS if set, output to LOG; waits for "listening on http"
#                              (AB_BROKER_WAIT s, default 30) and sets BROKER_PID, PORT, URL;
#                              on failure: FAIL with the log's tail, exit 1. Stopped at exit.
#   stop_broker                SIGTERM, wait; returns the broker's exit status
#   stop_broker_ok             stop_broker, then ok "broker stopped cleanly" or bad
#   ctl ARGS...                argoboxctl on $T/broker.sock
#   post PATH JSON             POST to $URL (Origin: $URL) in $AB_NS; body to $T/resp, prints the
#                              HTTP status
# Containers and networks
#   N CMD...                   CMD inside $AB_NS (or as it is when unset)
#   netns_add NS               ip netns add NS (exit 1 if that fails), lo up; deleted at exit
#   oci_sandbox NS PREFIX TABLE [RUNTIME]
#                              a network namespace (lo up) of the test's own; at exit: every
#                              container in $T/state, the namespace, the TABLE cgroups, the
#                              netns files in $T/netns and the tmpfs runtime dirs in $T/run

B=${AB_BUILD_DIR:-}
S=${AB_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
fails=0
BROKER_PID=
AB_NS=${AB_NS:-}
AB_AT_EXIT=()

ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
finish() {
	echo "$1: $fails failure(s)"
	exit $((fails > 0))
}
skip() {
	echo "SKIP: $*"
	exit 77
}
need_root() { [ "$(id -u)" = 0 ] || skip "needs root ($*)"; }
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
}
need_built() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || skip "$f is not built"
	done
}
sanitizer_check() {
	grep -q ERROR: "$@" 2>/dev/null && bad "sanitizer report: $(grep -h -m1 ERROR: "$@")"
	return 0
}

wait_for() { # wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

at_exit() { AB_AT_EXIT+=("$*"); }
_ab_exit() {
	local i
	for ((i = ${#AB_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${AB_AT_EXIT[i]}" || true
	done
}
trap _ab_exit EXIT

ab_tmpdir() { # ab_tmpdir TAG [MODE]
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	[ -z "${2:-}" ] || chmod "$2" "$T"
	at_exit 'rm -rf "$T"'
}

N() {
	if [ -n "$AB_NS" ]; then
		nsenter --net="/run/netns/$AB_NS" "$@"
	else
		"$@"
	fi
}

_ab_broker_down() {
	if [ -n "$BROKER_PID" ]; then
		kill "$BROKER_PID" 2>/dev/null
		wait "$BROKER_PID" 2>/dev/null
	fi
	BROKER_PID=
}
start_broker() { # start_broker LOG [CONFIG]
	local log=$1 cfg=${2:-$T/broker.json}
	[ -n "${_AB_BROKER_HOOK:-}" ] || { at_exit _ab_broker_down; _AB_BROKER_HOOK=1; }
	# a simple command (not the function N): $! is the broker's own pid
	if [ -n "$AB_NS" ]; then
		nsenter --net="/run/netns/$AB_NS" "$B/broker/argobox-broker" --config "$cfg" >"$log" 2>&1 &
	else
		"$B/broker/argobox-broker" --config "$cfg" >"$log" 2>&1 &
	fi
	BROKER_PID=$!
	if ! wait_for "${AB_BROKER_WAIT:-30}" grep -q "listening on http" "$log"; then
		bad "broker did not start: $(tail -5 "$log")"
		exit 1
	fi
	PORT=$(sed -n 's|.*listening on https\?://[^:]*:\([0-9]*\)/.*|\1|p' "$log" | tail -n1)
	URL=http://127.0.0.1:$PORT
}
stop_broker() {
	kill "$BROKER_PID"
	local rc=0
	wait "$BROKER_PID" || rc=$?
	BROKER_PID=
	return $rc
}
stop_broker_ok() {
	local rc=0
	stop_broker || rc=$?
	[ $rc = 0 ] && ok "broker stopped cleanly" || bad "broker exited with status $rc"
}
ctl() { "$B/broker/argoboxctl" --socket "$T/broker.sock" "$@"; }
post() { N curl -s -o "$T/resp" -w '%{http_code}' -H "Origin: $URL" -H 'Content-Type: application/json' -d "$2" "$URL$1"; }

netns_add() {
	ip netns add "$1" || exit 1
	at_exit "ip netns del '$1' 2>/dev/null"
	ip -n "$1" link set lo up
}

oci_sandbox() { # oci_sandbox NS PREFIX TABLE [RUNTIME]
	AB_NS=$1 AB_PREFIX=$2 AB_TABLE=$3 AB_RT=${4:-runc}
	at_exit _ab_sandbox_down
	ip netns add "$AB_NS" || exit 1
	ip -n "$AB_NS" link set lo up
}
_ab_sandbox_down() {
	local id c m
	for id in $("$AB_RT" --root "$T/state" list -q 2>/dev/null); do
		"$AB_RT" --root "$T/state" delete --force "$id" >/dev/null 2>&1
	done
	ip netns del "$AB_NS" 2>/dev/null
	for c in /sys/fs/cgroup/*/"$AB_TABLE"; do rmdir "$c"/* "$c" 2>/dev/null; done
	for m in "$T"/netns/*; do umount "$m" 2>/dev/null; done
	for m in "$T"/run/*; do umount -l "$m" 2>/dev/null; done # runtime dirs are tmpfs mounts
	return 0
}
