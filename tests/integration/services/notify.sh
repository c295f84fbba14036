#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Notifications reach the desktops (issue 18 item 4): a real broker runs three real desktops
# (argobox-session + Xvfb + argobox-wm, process launcher): the owner of a service (bea), an admin
# (ada) and another member (cid). The service's server is killed: the broker sees it go down and
# sends a critical notification on the control channel of the owner's and the admin's desktops;
# the session relays it and each window manager shows it (its log says so, under its own pid);
# cid's window manager gets nothing. The restart command fails: after max_attempts the escalation
# ("could not be recovered") reaches the same two. When the server is back, "back up" follows.
# service.notify records who got each one. No root needed.
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_desktop_broker openssl python3
ab_tmpdir ab-svcnot
P=$(free_port)
SRV_PID=
start_server() {
	# a simple command: $! is the server itself
	python3 -m http.server "$P" --bind 127.0.0.1 --directory "$T" >/dev/null 2>&1 &
	SRV_PID=$!
}
at_exit 'kill_wait "$SRV_PID"'
start_server
wait_for 10 curl -sf "http://127.0.0.1:$P/" || { bad "the service's server did not start"; exit 1; }

broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}},
 "services": [
   {"name": "flaky", "title": "Flaky", "url": "http://127.0.0.1:$P/", "owner": "bea",
    "check": {"interval_ms": 300, "timeout_ms": 1000, "failures": 2, "successes": 1},
    "restart": {"command": ["/bin/false"], "max_attempts": 2, "backoff_ms": 200,
                "verify_ms": 1000}}]
EOT
start_broker "$T/broker.log"
A=$T/audit.log
ready() { [ -n "$(desk_pid "$1")" ]; }
for u in ada bea cid; do
	[ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in: $(cat "$T/$u.login")"
done
declare -A WM
for u in ada bea cid; do
	wait_for 40 ready $u || { bad "$u's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"; exit 1; }
	spid=$(desk_pid $u)
	wait_for 20 sh -c "ps -o comm= --ppid $spid | grep -q '^argobox-wm'" ||
		{ bad "$u: no window manager under session $spid"; exit 1; }
	WM[$u]=$(ps -o pid=,comm= --ppid "$spid" | awk '$2 ~ /^argobox-wm/ {print $1; exit}')
done
ok "three desktops with their window managers (wm pids: ada ${WM[ada]}, bea ${WM[bea]}, cid ${WM[cid]})"
is_up() { ctl --json services status flaky | jq -e '.service.state == "up"' >/dev/null; }
wait_for 10 is_up && ok "flaky is up" || bad "flaky: $(ctl --json services status flaky)"

# shown USER TITLE: USER's window manager logged the notification
shown() { grep -q "wm\[${WM[$1]}\]: notification '$2' (critical)" "$T/broker.log"; }
kill_wait "$SRV_PID"
SRV_PID=
for u in bea ada; do
	wait_for 15 shown $u "Service Flaky is down" &&
		ok "$u's window manager shows 'Service Flaky is down' (through the session's control channel)" ||
		bad "$u: no down notification: $(grep -h "notification\|service 'flaky'" "$T/broker.log" | tail -5)"
done
for u in bea ada; do
	wait_for 15 shown $u "Service Flaky could not be recovered" &&
		ok "$u's window manager shows the escalation" ||
		bad "$u: no escalation: $(grep -h "notification\|restart" "$T/broker.log" | tail -5)"
done
grep -q "wm\[${WM[cid]}\]: notification" "$T/broker.log" &&
	bad "cid (neither owner nor admin) was notified" || ok "cid's window manager got nothing"
jq -es '[.[] | select(.event == "service.notify" and .detail.service == "flaky" and
	(.detail.title | test("is down")))] | last | .detail.delivered | sort == ["ada","bea"]' "$A" >/dev/null &&
	ok "audit: service.notify delivered to ada and bea" || bad "audit: $(grep service.notify "$A")"
jq -es 'any(.[]; .event == "service.escalate" and .detail.service == "flaky" and .detail.attempts == 2)' "$A" >/dev/null &&
	ok "audit: service.escalate after 2 failed restarts" || bad "no escalation audited: $(grep flaky "$A" | tail -3)"

# back up: a normal-urgency notification to the same two
start_server
backup() { grep -q "wm\[${WM[$1]}\]: notification 'Service Flaky is back up'" "$T/broker.log"; }
for u in bea ada; do
	wait_for 15 backup $u && ok "$u's window manager shows 'Service Flaky is back up'" ||
		bad "$u: no back-up notification"
done

stop_broker_ok
sanitizer_check "$T/broker.log"
finish "services notify"
