#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# kill -9 of the broker while a desktop's runc container is starting (issue 23), at three
# points of the start, each landed by the runtime wrapper below (runtime.runtime_path), which
# runs the real runc:
#
#   before   the broker has added the user's network (netns, veth, nftables chains), written
#            the bundle and started the seccomp shim; runc has not created the container yet
#   created  `runc create` is done (the container's init waits for `runc start`); not started
#   running  the container runs (`runc run --detach` returned), its session is not ready yet
#
# The wrapper dies with the broker in the first two (as the broker's own processes do when
# systemd ends its unit), so the window stays as the kill left it. After each kill a new
# broker starts; the test asserts that it re-adopts or cleans up what the dead one left (no
# runc state, cgroup, veth, netns, nftables chain, runtime-dir mount, bundle or shim of a
# container that does not run), audits it, and that the next connection gets a working desktop
# (a first frame) with exactly one container. Each prints its recovery time (kill -> first
# frame). Root only; everything lives in a network namespace, state root, cgroup parent and
# nftables table of the test's own.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
S=${AB_SOURCE_DIR:?run through ctest}

. "$S/tests/lib/sh/lib.sh"
need_oci_broker
need_built "$B/bench/ab-rfbbench" "$B/wm/argobox-wm"

oci_setup fk runc
broker_config_oci 800x600 "[\"$B/wm/argobox-wm\"]" </dev/null
# the wrapper in front of the real runc
jq --arg p "$T/runc-wrap" '.runtime.runtime_path = $p' "$T/broker.json" >"$T/b.json" &&
	mv "$T/b.json" "$T/broker.json"
RUNC=$(command -v runc)
cat >"$T/runc-wrap" <<EOF
#!/bin/bash
# runc, with a hold at the point named in $T/hold (before | created) for "run --detach":
# it touches $T/held and waits there until its broker (its parent) is gone, then exits.
runc=$RUNC
hold=\$(cat "$T/hold" 2>/dev/null)
parent=\$PPID
wait_parent() { touch "$T/held"; while kill -0 "\$parent" 2>/dev/null; do sleep 0.05; done; exit 137; }
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do [ "\${args[i]}" = run ] && break; done
if [ \$i = \${#args[@]} ] || [ -z "\$hold" ]; then exec "\$runc" "\$@"; fi
[ "\$hold" = before ] && wait_parent
# created: run --detach = create, then start
pre=("\${args[@]:0:i}") rest=("\${args[@]:i+1}") create=() id=
for a in "\${rest[@]}"; do [ "\$a" = --detach ] || create+=("\$a"); done
id=\${create[-1]}
"\$runc" "\${pre[@]}" create "\${create[@]}" || exit
wait_parent
EOF
chmod 755 "$T/runc-wrap"

rt() { runc --root "$T/state" "$@"; }
containers() { rt list --format json 2>/dev/null | jq -r '.[]? | "\(.id) \(.status)"'; }
running() { rt list --format json 2>/dev/null | jq -r '.[]? | select(.status == "running") | .id'; }
one_running() { [ "$(running | wc -l)" = 1 ] && [ "$(containers | wc -l)" = 1 ]; }
desk_state() { ctl --json list | jq -r --arg u "$1" '.desktops[] | select(.user == $u) | .state'; }
audit_n() { grep -c "\"event\":\"$1\"" "$T/audit.log" 2>/dev/null; }
now_ms() { date +%s%3N; }

# What a user's container leaves on the host, one line each; empty when nothing.
leftovers() {
	local u=$1 c
	containers | grep -q "^$AB_PREFIX$u " && echo "runc state: $(containers | grep "^$AB_PREFIX$u ")"
	for c in /sys/fs/cgroup/"$AB_TABLE"/"$u" /sys/fs/cgroup/*/"$AB_TABLE"/"$u"; do
		[ -d "$c" ] && echo "cgroup $c"
	done
	[ -e "$T/netns/$AB_PREFIX$u" ] && echo "netns $T/netns/$AB_PREFIX$u"
	N ip -o link show type veth 2>/dev/null | grep -q . && echo "veth: $(N ip -o link show type veth | cut -d: -f2 | tr '\n' ' ')"
	N nft list chain inet "$AB_TABLE" "$u-fwd" >/dev/null 2>&1 && echo "nftables chain $u-fwd"
	mountpoint -q "$T/run/$u" && echo "runtime dir mount $T/run/$u"
	[ -d "$T/bundles/$u" ] && echo "bundle $T/bundles/$u"
	return 0
}
clean() { [ -z "$(leftovers local)" ]; }
# this test's seccomp shims (one per container that was started: none once nothing runs)
shims() { pgrep -f "argobox-seccomp-shim.*$T/audit.log" | tr '\n' ' '; }

for point in before created running; do
	echo "--- kill -9 of the broker: $point"
	rm -f "$T/held"
	case $point in before | created) echo "$point" >"$T/hold" ;; running) : >"$T/hold" ;; esac
	start_broker "$T/broker-$point-1.log"
	N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" >"$T/ff-$point-1" 2>&1 &
	ffpid=$!
	case $point in
	before | created)
		wait_for 30 test -e "$T/held" || bad "$point: the wrapper never held"
		[ "$point" = created ] && { containers | grep -q " created$" && ok "$point: container in state created" ||
			bad "$point: containers: $(containers)"; }
		[ "$point" = before ] && { [ -z "$(containers)" ] && ok "$point: no runc container yet" ||
			bad "$point: containers: $(containers)"; }
		;;
	running)
		wait_for 30 eval '[ -n "$(running)" ]' || bad "$point: no running container"
		st=$(desk_state local)
		[ "$st" = starting ] && ok "$point: container running, desktop still '$st'" ||
			echo "note: the desktop was '$st' at the kill (the session was quicker than the test)"
		;;
	esac
	echo "left at the kill: $(leftovers local | tr '\n' ';')"
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null
	t0=$(now_ms)
	BROKER_PID=
	kill "$ffpid" 2>/dev/null
	wait "$ffpid" 2>/dev/null
	: >"$T/hold"
	adopt0=$(audit_n container.adopt) stop0=$(audit_n container.stop)
	start_broker "$T/broker-$point-2.log"
	# the new broker settles: what is not a running desktop goes by itself
	if [ "$point" = running ]; then
		wait_for 30 eval '[ -n "$(desk_state local)" ] || clean' ||
			bad "$point: the running container neither adopted nor cleaned: $(leftovers local | tr '\n' ';')"
	else
		wait_for 30 clean && ok "$point: nothing left behind after the restart, before any new connection ($(($(now_ms) - t0)) ms after the kill)" ||
			bad "$point: left behind: $(leftovers local | tr '\n' ';')"
	fi
	out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" 2>&1)
	if grep -q "first_frame_ms=.*geometry=800x600" <<<"$out"; then
		ok "$point: the next connection gets a desktop (first frame), recovery $(($(now_ms) - t0)) ms after the kill"
		echo "recovery broker kill -9 at '$point' -> first frame: $(($(now_ms) - t0)) ms"
	else
		bad "$point: no desktop after the restart: $out"
		tail -20 "$T/broker-$point-2.log"
	fi
	echo "the new broker's warnings:"
	grep -E ' (warn|error) ' "$T/broker-$point-2.log" | cut -c1-240 | head -20
	# the shim started for a container that never ran: stopped by the clean-up pass ('before'),
	# or attached to its container and gone with it ('created')
	wait_for 10 eval '[ "$(shims | wc -w)" = 1 ]' && ok "$point: one seccomp shim, the new container's" ||
		bad "$point: seccomp shims: $(shims)"
	one_running && ok "$point: exactly one container: $(containers)" || bad "$point: containers: $(containers)"
	pid=$(desk_pid local)
	[ -n "$pid" ] && [ "$pid" = "$(rt state "$(running)" | jq -r .pid)" ] &&
		ok "$point: the broker's desktop is the running container's init ($pid)" ||
		bad "$point: desktop pid '$pid', container $(rt state "$(running)" 2>&1 | jq -c '{pid,status}')"
	n=$(N ip -o link show type veth | wc -l)
	[ "$n" = 1 ] && ok "$point: one veth" || bad "$point: $n veths: $(N ip -o link show type veth)"
	case $point in
	created)
		grep -q '"event":"container.adopt".*"runtime_status":"created"' "$T/audit.log" &&
			ok "$point: audited container.adopt runtime_status created" || bad "$point: no container.adopt line for the created container"
		;;
	before)
		grep -q '"event":"container.cleanup".*"bundle_removed":true,"network_removed":true,"shim_stopped":true' "$T/audit.log" &&
			ok "$point: audited container.cleanup: $(grep -m1 '"event":"container.cleanup"' "$T/audit.log" | jq -c .detail)" ||
			bad "$point: no container.cleanup audit line"
		;;
	running)
		[ "$(audit_n container.adopt)" -gt "$adopt0" ] && ok "$point: audited container.adopt" ||
			bad "$point: no container.adopt line"
		;;
	esac
	[ "$point" != running ] && { [ "$(audit_n container.stop)" -gt "$stop0" ] || [ "$point" = before ]; } &&
		ok "$point: the half-started container's removal audited" || [ "$point" = running ] ||
		bad "$point: no container.stop line"
	# stop it for the next round: nothing may stay
	ctl stop local >/dev/null || bad "$point: argoboxctl stop"
	wait_for 30 clean && ok "$point: stopped cleanly, nothing left" || bad "$point: after stop: $(leftovers local | tr '\n' ';')"
	stop_broker_ok
done
sanitizer_check "$T"/broker-*.log
finish "faults start_oci"
