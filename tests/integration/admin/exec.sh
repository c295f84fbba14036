#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# argoboxctl exec (issue 20 item 4, docs/argoboxctl.md): a command inside a running desktop
# container (runc; a real broker, session, Xvfb and window manager) with the container's
# namespaces, cgroups, credentials, capabilities, seccomp filter and the desktop's Landlock
# policy: id is the desktop user; /proc/self/status shows the session's CapEff, CapBnd,
# NoNewPrivs and Seccomp 2; ps sees the container's processes with the session as pid 1 and
# none of the host's; a host-only file is not there; a syscall the profile denies fails;
# Landlock's signal scoping keeps it from signalling the session; stdin, stdout and the exit
# status pass through, and a terminal gets a pseudo-terminal of its own; admin.exec is audited
# (grant with the command line, then the status). No desktop: exit 3 and a deny line.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
S=${AB_SOURCE_DIR:?run through ctest}
. "$S/tests/lib/sh/lib.sh"
need_root "entering a container: setns, cgroups, ptrace of the container's first process"
need_tools runc ip nft jq script
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/wm/argobox-wm" "$B/bench/ab-rfbbench"
oci_setup ex runc
broker_config_oci 800x600 "[\"$B/wm/argobox-wm\"]" </dev/null
start_broker "$T/broker.log"
A=$T/audit.log
N "$B/bench/ab-rfbbench" first-frame "ws://127.0.0.1:$PORT/websockify" >/dev/null 2>&1
wait_for 30 desk_ready local || { bad "no desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"; exit 1; }
pid=$(desk_pid local)
ok "the desktop runs in its container (session pid $pid on the host)"
field() { awk -v k="$1:" '$1 == k {print $2}' "$2"; }
grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/$pid/status >"$T/session.status"

out=$(ctl exec local -- id)
[ "$out" = "uid=1000(local) gid=1000(local) groups=1000(local)" ] && ok "id: $out" || bad "id: $out"
ctl exec local cat /proc/self/status | grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' >"$T/exec.status"
[ "$(field Seccomp "$T/exec.status")" = 2 ] && ok "Seccomp: 2 (a filter)" || bad "seccomp: $(cat "$T/exec.status")"
for k in CapEff CapBnd NoNewPrivs; do
	[ "$(field $k "$T/exec.status")" = "$(field $k "$T/session.status")" ] &&
		ok "$k $(field $k "$T/exec.status"), as the container's session" ||
		bad "$k: exec $(field $k "$T/exec.status") vs session $(field $k "$T/session.status")"
done
[ "$(field Uid "$T/exec.status")" = 1000 ] && ok "uid 1000 inside the user namespace" || bad "uid: $(field Uid "$T/exec.status")"

ps_out=$(ctl exec local ps -e -o pid=,comm=)
awk '$1 == 1 {print $2}' <<<"$ps_out" | grep -q '^argobox-sessio' && ok "ps: the session is pid 1 (the container's pid namespace)" ||
	bad "ps: $ps_out"
grep -q argobox-wm <<<"$ps_out" && ok "ps: the container's window manager is there" || bad "no wm in: $ps_out"
grep -qE 'argobox-broker|runc|sshd' <<<"$ps_out" && bad "ps sees host processes: $ps_out" ||
	ok "ps: no host process (the broker, runc) in sight ($(wc -l <<<"$ps_out") processes)"

echo "host only" >"$T/host-secret"
chmod 644 "$T/host-secret"
ctl exec local cat "$T/host-secret" >/dev/null 2>&1 && bad "a host-only file ($T/host-secret) is readable" ||
	ok "a host-only file ($T/host-secret) is not there"
[ "$(ctl exec local cat /proc/self/cgroup | grep -c ':/$')" -ge 1 ] &&
	ok "in the container's cgroups (at the root of its cgroup namespace)" || bad "cgroup: $(ctl exec local cat /proc/self/cgroup)"
# the command is counted in the container's pids cgroup on the host while it runs
cg=/sys/fs/cgroup/pids$(awk -F: '$2 == "pids" {print $3}' /proc/$pid/cgroup)
before=$(wc -l <"$cg/cgroup.procs")
ctl exec local sleep 3 &
sleeper=$!
more() { [ "$(wc -l <"$cg/cgroup.procs")" -gt "$before" ]; }
wait_for 3 more && ok "the command is in the container's pids cgroup ($cg: $before -> $(wc -l <"$cg/cgroup.procs") processes)" ||
	bad "not in $cg"
wait "$sleeper"
ctl exec local unshare -U true 2>/dev/null && bad "unshare(2) allowed (the seccomp profile denies it)" ||
	ok "unshare(2) is refused (the container's seccomp filter)"
if jq -es 'any(.[]; .event == "session.landlock" and .detail.signals_scoped == true)' "$A" >/dev/null; then
	ctl exec local sh -c 'kill -0 1' 2>/dev/null && bad "signalled the session (no Landlock scoping)" ||
		ok "kill -0 1 refused: Landlock's signal scoping, as for the desktop"
else
	ok "(this kernel's Landlock does not scope signals: the scoping check is left out)"
fi

printf 'from stdin\n' | ctl exec local sh -c 'read l; echo "got: $l"; echo to-stderr >&2; exit 7' >"$T/o" 2>"$T/e"
rc=$?
[ "$rc" = 7 ] && [ "$(cat "$T/o")" = "got: from stdin" ] && grep -q to-stderr "$T/e" &&
	ok "stdin, stdout, stderr pass through; exit status 7" || bad "passthrough: rc $rc, out $(cat "$T/o"), err $(cat "$T/e")"
script -qec "$B/broker/argoboxctl --socket $T/broker.sock exec local sh -c 'test -t 0 && test -t 1 && echo on-a-tty'" /dev/null >"$T/tty" 2>&1
grep -q on-a-tty "$T/tty" && ok "from a terminal: the command gets a pseudo-terminal" || bad "tty: $(cat "$T/tty")"

jq -es 'any(.[]; .event == "admin.exec" and .outcome == "grant" and .user == "local" and
	.detail.argv == ["id"] and .detail.by_uid == 0)' "$A" >/dev/null &&
	ok "audit: admin.exec grant (by uid 0, argv [\"id\"])" || bad "no admin.exec grant: $(grep admin.exec "$A" | head -2)"
jq -es 'any(.[]; .event == "admin.exec" and .outcome == "info" and .detail.status == 7)' "$A" >/dev/null &&
	ok "audit: admin.exec info with the exit status 7" || bad "no exit status line"
[ "$(ctl exec nobody -- id >/dev/null 2>&1; echo $?)" = 3 ] && ok "exec into a user without a desktop: exit 3" ||
	bad "exec nobody"
jq -es 'any(.[]; .event == "admin.exec" and .outcome == "deny" and .user == "nobody")' "$A" >/dev/null &&
	ok "audit: admin.exec deny for nobody" || bad "no deny line"
[ "$(ctl exec local >/dev/null 2>&1; echo $?)" = 2 ] && ok "exec without a command: exit 2" || bad "no command"
stop_broker_ok
sanitizer_check "$T/broker.log"
finish "admin exec"
