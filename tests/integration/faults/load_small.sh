#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The load benchmark at CI size (bench/load_bench.sh: 1 dragged desktop + the probe's, 8
# view-only viewers, 3 slow readers asking for Raw (4 MB a full update, more than the
# socket buffers hold), 3 s phases), asserting what must hold whatever the machine: every
# viewer and slow reader gets in, no key of the probe user is lost in any phase — with the
# slow readers on its desktop too (the session's writes are synchronous: before the broker
# drained a viewer that reads nothing, keys were lost and p99 was ~2 s) — the active viewers
# get updates, and the broker's memory stays bounded while the slow readers read nothing
# (RSS at most 64 MB over what it was before them).
set -uo pipefail
. "$(dirname "$0")/../../lib/sh/lib.sh"
need_root "the broker starts desktops for the users' mapped ids"
need_tools xterm node jq curl openssl Xvfb
need_built "$B/broker/argobox-broker" "$B/session/argobox-session" "$B/bench/ab-rfbbench" "$B/bench/ab-xdrag"
[ -d "$S/tests/integration/authn/node_modules/ws" ] || skip "ws is not installed in tests/integration/authn"
ab_tmpdir ab-load-small
AB_BUILD_DIR=$B bash "$S/bench/load_bench.sh" --desktops 1 --viewers 8 --slow 3 --seconds 3 --keys 12 --slow-raw \
	>"$T/out" 2>&1
rc=$?
cat "$T/out"
[ $rc = 0 ] || { bad "load_bench.sh exited with $rc"; finish faults_load_small; }
col() { # col PHASE N: the Nth column of PHASE's row
	awk -F'|' -v p="$1" -v n="$2" '{gsub(/^ +| +$/, "", $2)} $2 == p {v = $(n + 1); gsub(/^ +| +$/, "", v); print v}' "$T/out"
}
[ "$(col load 3)" = 8/8 ] && ok "8/8 view-only viewers connected" || bad "viewers: $(col load 3)"
[ "$(col 'slow readers' 3)" = "3/3 slow" ] && ok "3/3 slow readers connected" || bad "slow readers: $(col 'slow readers' 3)"
for p in idle load 'slow readers'; do
	[ "$(col "$p" 8)" = 0 ] && ok "$p: no key lost (p99 $(col "$p" 7) ms)" || bad "$p: keys lost: $(col "$p" 8)"
done
u=$(col load 9)
awk -v u="${u%% *}" 'BEGIN {exit !(u + 0 > 0)}' && ok "active viewers got updates ($u/s)" || bad "active viewers: $u"
read -r before most < <(sed -n 's/^slow readers: broker RSS \([0-9.]*\) MB before, \([0-9.]*\) MB at most.*/\1 \2/p' "$T/out")
if [ -n "${most:-}" ] && awk -v a="$before" -v b="$most" 'BEGIN {exit !(b - a < 64)}'; then
	ok "broker RSS bounded with slow readers: $before -> $most MB"
else
	bad "broker RSS with slow readers: ${before:-?} -> ${most:-?} MB"
fi
finish faults_load_small
