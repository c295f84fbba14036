#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The real argobox-broker with session.launcher "oci" (docs/isolation.md): a websocket to the
# desktop gets a first frame; the session runs inside a container (its own pid/net/user
# namespaces, root mapped to the slot's host range); the user's nftables chain exists while it
# runs; a restarted broker re-adopts the running container (same pid, still one container);
# `argoboxctl stop` removes container, chain and namespace; the audit log has the container and
# network-policy events; a denied syscall inside the container (unshare) is audited by the
# container's argobox-seccomp-shim, before and after the broker restart, and the shim goes with
# the container. Everything lives in a network namespace, state root, cgroup parent and
# nftables table of the test's own.
#
# usage: broker.sh runc|crun
set -uo pipefail
rt=${1:-runc}
B=${AB_BUILD_DIR:?run through ctest}
S=${AB_SOURCE_DIR:?run through ctest}

. "$S/tests/lib/sh/lib.sh"
need_root "user namespaces, cgroups, nftables"
need_tools "$rt" ip nsenter nft jq
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/bench/ab-rfbbench"
wm=$B/wm/argobox-wm
[ -x "$wm" ] || wm=/usr/bin/sleep

oci_setup c "$rt"

# The desktop command: a probe loop in the background (attempts unshare(2), which the seccomp
# profile denies, whenever the test drops a file into the runtime dir), then the wm itself.
probe='while :; do if [ -e /run/argobox/seccomp-probe ]; then rm -f /run/argobox/seccomp-probe; unshare -U true 2>/dev/null; fi; sleep 0.1; done & exec \"$0\"'
broker_config_oci 800x600 "[\"/bin/sh\", \"-c\", \"$probe\", \"$wm\"]" </dev/null

containers() { "$rt" --root "$T/state" list --format json 2>/dev/null | jq -r '.[]? | select(.status == "running") | .id'; }
chain() { N nft list chain inet "$AB_TABLE" local-fwd >/dev/null 2>&1; }
no_chain() { ! chain; }
no_containers() { [ -z "$(containers)" ]; }

# IPv4 forwarding is per network namespace: the test's starts off (the broker turns it on,
# guards it, and sets it back when it stops with no desktop left).
fwd() { N cat /proc/sys/net/ipv4/ip_forward; }
guard() { N nft list chain inet "$AB_TABLE" forward-guard 2>/dev/null; }
fwd0=$(fwd)
start_broker "$T/broker1.log"
grep -q "session launcher: $rt" "$T/broker1.log" && ok "broker uses $rt" ||
	bad "launcher: $(grep 'session launcher' "$T/broker1.log")"
if [ "$fwd0" = 0 ]; then
	[ "$(fwd)" = 1 ] && ok "IPv4 forwarding turned on in the broker's namespace" || bad "ip_forward: $(fwd)"
	g=$(guard)
	grep -q "ip saddr" <<<"$g" && grep -q "ip daddr" <<<"$g" && grep -q "drop" <<<"$g" &&
		ok "forward-guard: the pool passes, every other forwarded IPv4 packet is dropped" ||
		bad "forward-guard chain: $g"
	grep -q '"event":"net.host".*"change":"ip_forward","from":0,"to":1' "$T/audit.log" &&
		ok "audited: net.host ip_forward 0 -> 1" || bad "no net.host audit line for ip_forward"
else
	echo "skip: forwarding was already on in the test's namespace ($fwd0): nothing to scope or restore"
fi

# 1. Websocket -> the desktop starts in its container -> first complete frame.
out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" 2>&1)
if grep -q "first_frame_ms=.*geometry=800x600" <<<"$out"; then ok "first frame over the websocket: $out"; else
	bad "no first frame: $out"
	tail -20 "$T/broker1.log"
fi

# 2. The session is the container's init: other namespaces, root mapped to slot 0's range.
pid=$(desk_pid local)
if [ -n "$pid" ] && [ -d /proc/$pid ]; then
	ok "desktop ready, session pid $pid"
	for n in pid net user mnt ipc uts; do
		[ "$(readlink /proc/$pid/ns/$n)" != "$(readlink /proc/$BROKER_PID/ns/$n)" ] &&
			ok "session in its own $n namespace" || bad "session shares the broker's $n namespace"
	done
	[ "$(awk '$1 == 0 {print $2, $3}' /proc/$pid/uid_map)" = "100000 65536" ] &&
		ok "uid map: root inside = host uid 100000 (65536 ids)" || bad "uid map: $(cat /proc/$pid/uid_map)"
	[ "$(awk '/^Uid:/ {print $2}' /proc/$pid/status)" = $((100000 + 1000)) ] &&
		ok "session runs as host uid 101000 (local = 1000 inside)" || bad "uid: $(grep Uid: /proc/$pid/status)"
	grep -q '^CapEff:\s*0*$' /proc/$pid/status && grep -q '^NoNewPrivs:\s*1' /proc/$pid/status &&
		ok "no capabilities, no_new_privs" || bad "privileges: $(grep -E 'CapEff|NoNewPrivs' /proc/$pid/status)"
	grep -q '^Seccomp:\s*2' /proc/$pid/status && ok "seccomp filter on" || bad "no seccomp filter"
	# ArgoBox's assets (the wm's .desktop entries and wallpapers) are readable inside, read-only
	a=$(readlink -f "$S/assets")
	nsenter -t "$pid" -m test -r "$a/applications/xterm.desktop" &&
		ok "assets/ visible in the container at $a" || bad "assets/ not visible in the container"
	nsenter -t "$pid" -m touch "$a/.probe" 2>/dev/null && bad "assets/ writable in the container" ||
		ok "assets/ read-only in the container"
	pgrep -P "$pid" -f "$wm" >/dev/null && ok "the desktop command ($wm) runs in the container" ||
		bad "no '$wm' under the session: $(ps -o pid,args --ppid "$pid" 2>&1)"
else
	bad "no ready desktop with a pid: $(ctl --json list)"
fi
[ "$(containers | wc -l)" = 1 ] && ok "one container running" || bad "containers: $(containers)"
# The runtime's stdio is the container's: crun chowns it to the desktop user, so it must
# not be the host's /dev/null (a user owning it could fchmod it: every container then fails).
[ "$(stat -c '%u %a' /dev/null)" = "0 666" ] && ok "the host's /dev/null still root's, 0666" ||
	bad "the host's /dev/null is now $(stat -c '%u:%g %a' /dev/null)"
chain && ok "nftables chain $AB_TABLE local-fwd exists while the desktop runs" || bad "no nftables chain"
[ -e "$T/netns/${AB_PREFIX}local" ] && ok "network namespace pinned" || bad "no network namespace"

# 2b. A denied syscall inside the container is refused and audited by the container's shim.
seccomp_events() { grep -c '"event":"container.seccomp".*"syscall":"unshare"' "$T/audit.log" 2>/dev/null; }
more_events() { [ "$(seccomp_events)" -gt "$1" ]; }
shim_running() { pgrep -f "argobox-seccomp-shim.*$T/audit.log" >/dev/null; }
shim_running && ok "argobox-seccomp-shim runs for the container" || bad "no seccomp shim"
n0=$(seccomp_events)
touch "$T/run/local/seccomp-probe"
wait_for 10 more_events "$n0" && ok "denied unshare() audited (container.seccomp)" ||
	bad "unshare() inside the container not audited: $(grep seccomp "$T/audit.log" | tail -2)"

# 3. Broker restart: the container keeps running and is adopted (same pid, no second container).
stop_broker_ok
[ -n "$pid" ] && [ -d /proc/$pid ] && ok "container outlives the broker" || bad "container died with the broker"
start_broker "$T/broker2.log"
wait_for 15 desk_ready local
pid2=$(desk_pid local)
[ -n "$pid" ] && [ "$pid2" = "$pid" ] && ok "restarted broker adopted the desktop (pid $pid2)" ||
	bad "adoption: pid before '$pid', after '$pid2'"
out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" 2>&1)
grep -q "first_frame_ms=" <<<"$out" && ok "first frame from the adopted desktop" || bad "adopted: $out"
[ "$(containers | wc -l)" = 1 ] && ok "still one container" || bad "containers: $(containers)"
[ "$(desk_pid local)" = "$pid" ] && ok "same session after reconnecting" || bad "session changed: $(desk_pid local)"
chain && ok "nftables chain re-programmed" || bad "chain gone after adoption"
n1=$(seccomp_events)
touch "$T/run/local/seccomp-probe"
wait_for 10 more_events "$n1" && ok "denied unshare() still audited after the broker restart" ||
	bad "seccomp auditing lost after the restart: $(grep seccomp "$T/audit.log" | tail -2)"

# 4. argoboxctl stop: container, chain and namespace go.
ctl stop local >/dev/null || bad "argoboxctl stop failed"
wait_for 20 no_containers && ok "container gone after argoboxctl stop" ||
	bad "container left: $(containers)"
wait_for 10 no_chain &&
	ok "nftables chain removed" || bad "nftables chain left behind"
wait_for 10 test ! -e "$T/netns/${AB_PREFIX}local" && ok "network namespace removed" || bad "netns left"
gone() { ! [ -d /proc/$pid ] || grep -q '^State:\s*Z' /proc/$pid/status; }
[ -n "$pid" ] && wait_for 10 gone && ok "session process gone" ||
	bad "session $pid still alive: $(grep -E 'State|PPid' /proc/$pid/status 2>/dev/null | tr '\n' ' ')"
no_shim() { ! shim_running; }
wait_for 10 no_shim && ok "the seccomp shim exited with its container" || bad "seccomp shim left running"
# The container's output outlives it, beside the bundle (docs/isolation.md, container logs).
clog="$T/bundles/local.console.log"
grep -q "ready in" "$clog" 2>/dev/null && ok "console log kept after the container went ($clog)" ||
	bad "no console log with the session's start-up after stop: $(ls "$T/bundles" 2>&1)"

# 4b. The next start restores the desktop state the window manager published: the broker's
# state file is handed over inside the container (/run/argobox) and readable by the user.
if [ "$wm" != /usr/bin/sleep ]; then
	out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" --repeat 1 2>&1)
	grep -q "first_frame_ms=" <<<"$out" && ok "desktop started again" || bad "restart: $out"
	pid3=$(desk_pid local)
	restore=$(grep '"event":"desktop.start"' "$T/audit.log" | tail -n1 | jq -r .detail.restore)
	[ "$restore" = true ] && ok "second start restores the stored state" ||
		bad "no state restore (restore=$restore)"
	# the session's child running the wm itself (by its executable: a child the session has
	# just forked still carries the session's command line, which names the wm too)
	wmpid=
	for c in $(pgrep -P "$pid3"); do
		[ "$(readlink "/proc/$c/exe")" = "$(readlink -f "$wm")" ] && wmpid=$c
	done
	[ -n "$wmpid" ] && tr '\0' '\n' </proc/$wmpid/environ | grep -qx 'ARGOBOX_STATE_FILE=/run/argobox/state.json' &&
		ok "window manager gets ARGOBOX_STATE_FILE=/run/argobox/state.json" ||
		bad "wm environment: $(tr '\0' '\n' </proc/$wmpid/environ 2>&1 | grep ARGOBOX)"
	[ "$(stat -c %u "$T/run/local/state.json" 2>/dev/null)" = 101000 ] &&
		ok "state file owned by the user's mapped uid" || bad "state file: $(ls -ln "$T/run/local" 2>&1)"
	# The runtime dir is a tmpfs of its own: the container's mountinfo names no host path for it.
	rline=$(awk '$5 == "/run/argobox"' "/proc/$pid3/mountinfo")
	case $rline in
	*" - tmpfs argobox-run "*) ok "runtime dir: a tmpfs of its own inside (root '$(awk '{print $4}' <<<"$rline")')" ;;
	*) bad "runtime dir mount inside: '$rline'" ;;
	esac
	grep -q "$T/run" "/proc/$pid3/mountinfo" && bad "the host's runtime path shows in the container's mountinfo" ||
		ok "no host runtime path in the container's mountinfo"
	# ArgoBox's apps of this build are inside, read-only, first on the desktop's PATH.
	if [ -x "$B/apps/bin/argobox-terminal" ]; then
		apps=$(readlink -f "$B/apps/bin")
		[ -n "$wmpid" ] && tr '\0' '\n' </proc/$wmpid/environ | grep -qx "PATH=$apps:/usr/local/bin:/usr/bin:/bin" &&
			ok "apps directory first on the desktop's PATH" ||
			bad "desktop PATH: $(tr '\0' '\n' </proc/$wmpid/environ 2>&1 | grep ^PATH=)"
		[ -x "/proc/$pid3/root$apps/argobox-terminal" ] && awk -v m="$apps" '$5 == m' "/proc/$pid3/mountinfo" | grep -q ' ro[ ,]' &&
			ok "argobox-terminal inside the container, read-only" || bad "apps not bound read-only inside"
	fi
	ctl stop local >/dev/null
	wait_for 20 no_containers || bad "container left after the second stop"
	wait_for 5 eval '! mountpoint -q "$T/run/local"' && ok "runtime tmpfs unmounted when the desktop stopped" ||
		bad "runtime dir still mounted after stop"
fi

# 4c. The container dies while the broker is down (a crash, a reboot of the runtime's state):
# the next broker removes the stopped container instead of adopting it, lists no desktop for
# it, and the next connection starts a fresh one.
out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" --repeat 1 2>&1)
grep -q "first_frame_ms=" <<<"$out" || bad "desktop for 4c did not start: $out"
stop_broker_ok
if [ "$fwd0" = 0 ]; then
	# a desktop is left running (to be adopted): its egress stays
	[ "$(fwd)" = 1 ] && [ -n "$(guard)" ] &&
		ok "broker stopped with a desktop running: forwarding and its guard stay" ||
		bad "a running desktop lost forwarding: ip_forward $(fwd), guard '$(guard | head -c 60)'"
fi
id=$(containers | head -n1)
if [ -n "$id" ]; then
	"$rt" --root "$T/state" kill "$id" KILL
	stopped() { "$rt" --root "$T/state" state "$id" 2>/dev/null | jq -e '.status == "stopped"'; }
	wait_for 10 stopped || bad "container $id did not stop: $("$rt" --root "$T/state" state "$id" 2>&1)"
	start_broker "$T/broker3.log"
	sleep 1
	listed=$(ctl --json list | jq -r '.desktops[] | select(.user == "local") | "\(.state) \(.pid)"')
	[ -z "$listed" ] && ok "a container stopped while the broker was down is not adopted" ||
		bad "desktop listed for a stopped container: $listed"
	wait_for 10 no_containers && ok "the stopped container was removed" ||
		bad "stopped container left: $("$rt" --root "$T/state" list 2>&1)"
	out=$(N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" --repeat 1 2>&1)
	grep -q "first_frame_ms=" <<<"$out" && [ -n "$(desk_pid local)" ] && [ "$(desk_pid local)" != 0 ] &&
		ok "a fresh desktop starts after it (pid $(desk_pid local))" || bad "no fresh desktop: $out"
	ctl stop local >/dev/null
	wait_for 20 no_containers || bad "container left after the 4c stop"
	# the broker removes the user's rules after the runtime's delete: wait for that too
	listed() { ctl --json list | jq -e '.desktops[] | select(.user == "local")' >/dev/null; }
	wait_for 20 eval '! listed' || bad "desktop still listed after the 4c stop"
else
	bad "no container for 4c"
fi
stop_broker_ok
if [ "$fwd0" = 0 ]; then
	[ "$(fwd)" = 0 ] && ok "stopped with no desktop left: ip_forward back to 0" || bad "ip_forward left at $(fwd)"
	N nft list table inet "$AB_TABLE" >/dev/null 2>&1 && bad "table inet $AB_TABLE left behind: $(N nft list table inet "$AB_TABLE")" ||
		ok "table inet $AB_TABLE removed"
	grep -q '"event":"net.host".*"change":"ip_forward","from":1,"to":0' "$T/audit.log" &&
		ok "audited: net.host ip_forward 1 -> 0" || bad "no net.host audit line for the restore"
fi

# 5. Audit: the container and network-policy events, with their outcomes.
for e in 'container.start","outcome":"grant' 'container.privileges' 'container.ready' \
	'net.policy","outcome":"grant' 'container.adopt' 'desktop.adopt' 'container.stop' \
	'net.policy.remove'; do
	grep -q "\"event\":\"$e" "$T/audit.log" && ok "audited: ${e%%\"*}" || bad "not audited: $e"
done
# The session reports how it confined the desktop command (Landlock): audited on start and
# again after the restarted broker adopted the desktop.
ll=$(grep -c '"event":"session.landlock"' "$T/audit.log")
[ "$ll" -ge 2 ] && ok "session.landlock audited on start and after adoption ($ll events)" ||
	bad "session.landlock events: $ll"
if grep -q '"event":"session.landlock".*"abi":[1-9]' "$T/audit.log"; then
	# the kernel has Landlock: the desktop command must have been confined
	grep '"event":"session.landlock"' "$T/audit.log" | grep -vq '"applied":true' &&
		bad "Landlock available but not applied: $(grep -m1 session.landlock "$T/audit.log")" ||
		ok "session.landlock: applied (ABI $(grep -m1 -o '"abi":[0-9]*' "$T/audit.log" | cut -d: -f2))"
else
	echo "skip: this kernel has no Landlock (session.landlock says abi null, not applied)"
fi
sanitizer_check "$T"/broker*.log

finish "cont ($rt)"
