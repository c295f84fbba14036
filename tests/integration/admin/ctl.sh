#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# argoboxctl at parity with the console (issue 20 item 2, docs/argoboxctl.md) against a real
# broker with three real desktops (argobox-session + Xvfb + argobox-wm, process launcher): ada
# (admin, profile staff), bea and cid (members, profile p). desktops list with its filters and
# --json; broadcast to a user, a profile and everyone, shown by exactly those window managers
# (their logs say so under their own pids) and audited; state show/reset; restart (a new
# session comes up); stop and destroy by filter; audit query through the broker (paged,
# audited as admin.audit.query) and on the store offline; the exit codes
# (0, 2 usage or invalid input, 3 not found, 1 no broker); and every action audited as
# admin.ctl with the caller's uid. No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_tools curl jq openssl python3 Xvfb
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" "$B/wm/argobox-wm"
ab_tmpdir ab-ctl
broker_config <<EOT
$(local_users s3cret-pw ada:admin:staff:1000 bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}, "staff": {}}
EOT
start_broker "$T/broker.log"
A=$T/audit.log
UID_NOW=$(id -u)
# rc CMD...: runs CMD, prints its exit status (output to $T/out, errors to $T/err)
rc() { "$@" >"$T/out" 2>"$T/err"; echo $?; }

for u in ada bea cid; do
	[ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in: $(cat "$T/$u.login")"
done
declare -A WM
wm_of() { ps -o pid=,comm= --ppid "$(desk_pid "$1")" | awk '$2 ~ /^argobox-wm/ {print $1; exit}'; }
for u in ada bea cid; do
	wait_for 40 desk_ready $u || { bad "$u's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"; exit 1; }
	wait_for 20 sh -c "ps -o comm= --ppid $(desk_pid $u) | grep -q '^argobox-wm'" ||
		{ bad "$u: no window manager"; exit 1; }
	WM[$u]=$(wm_of $u)
done
ok "three desktops (wm pids: ada ${WM[ada]}, bea ${WM[bea]}, cid ${WM[cid]})"

# desktops list and its filters
[ "$(ctl --json desktops list | jq -r '[.desktops[] | "\(.user):\(.profile):\(.state)"] | sort | join(" ")')" = \
	"ada:staff:ready bea:p:ready cid:p:ready" ] && ok "desktops list --json: users, profiles, states" ||
	bad "list: $(ctl --json desktops list)"
[ "$(ctl desktops list --profile p --json | jq -r '[.desktops[].user] | sort | join(" ")')" = "bea cid" ] &&
	ok "desktops list --profile p (--json after the command too)" || bad "--profile: $(ctl desktops list --profile p --json)"
[ "$(ctl --json desktops list --user ada --state ready | jq '.desktops | length')" = 1 ] &&
	ok "desktops list --user ada --state ready" || bad "--user/--state filter"
[ "$(ctl --json desktops list --state stopping | jq '.desktops | length')" = 0 ] &&
	ok "desktops list --state stopping: none" || bad "--state stopping"
ctl desktops list | grep -qE '^bea +p +ready ' && ok "desktops list: a table with the profile" ||
	bad "table: $(ctl desktops list)"

# broadcast: a user, a profile, everyone
shown() { grep -q "wm\[${WM[$1]}\]: notification '$2'" "$T/broker.log"; }
[ "$(rc ctl broadcast --user bea --title 'Maintenance at noon' 'Save your work')" = 0 ] &&
	ok "broadcast --user bea: exit 0 ($(cat "$T/out"))" || bad "broadcast --user: $(cat "$T/err")"
wait_for 5 shown bea 'Maintenance at noon' && ok "bea's window manager shows it" ||
	bad "bea: not shown: $(grep notification "$T/broker.log" | tail -3)"
[ "$(ctl --json broadcast --profile p --urgency critical --title 'Profile p notice' 'For p' | jq -r '.delivered | sort | join(" ")')" = "bea cid" ] &&
	ok "broadcast --profile p: delivered to bea and cid" || bad "broadcast --profile"
for u in bea cid; do
	wait_for 5 shown $u 'Profile p notice' || bad "$u: profile notice not shown"
done
ok "bea's and cid's window managers show the profile notice"
[ "$(rc ctl broadcast --all --title 'Hello everyone' 'Hi')" = 0 ] || bad "broadcast --all: $(cat "$T/err")"
for u in ada bea cid; do
	wait_for 5 shown $u 'Hello everyone' || bad "$u: --all not shown"
done
ok "broadcast --all reaches ada, bea and cid"
sleep 1
shown ada 'Maintenance at noon' || shown ada 'Profile p notice' || shown cid 'Maintenance at noon' &&
	bad "a broadcast reached a desktop it did not name" || ok "ada saw neither bea's nor profile p's notice, cid not bea's"
jq -es 'any(.[]; .event == "admin.broadcast" and .outcome == "grant" and .user == "argoboxctl" and .detail.to == "profile" and .detail.target == "p" and
	(.detail.delivered | sort) == ["bea","cid"])' "$A" >/dev/null && ok "audit: admin.broadcast to profile p" ||
	bad "no admin.broadcast line: $(grep admin.broadcast "$A" | tail -2)"
[ "$(rc ctl broadcast --user nobody 'x')" = 3 ] && ok "broadcast to a user without a desktop: exit 3" ||
	bad "broadcast nobody: $(cat "$T/err")"
[ "$(rc ctl broadcast --user bea)" = 2 ] && ok "broadcast without a message: exit 2" || bad "no message accepted"
[ "$(rc ctl broadcast --user bea --all 'x')" = 2 ] && ok "broadcast to a user and everyone: exit 2" || bad "two targets accepted"
[ "$(rc ctl broadcast --user bea --title "$(printf 'x%.0s' $(seq 201))" 'msg')" = 2 ] && grep -q "title" "$T/err" &&
	ok "a title over the limit: exit 2, refused by the broker ($(cat "$T/err"))" || bad "long title: $(cat "$T/err")"

# state show / reset (through the broker's own /api/desktops/<user>/state route)
[ "$(rc ctl --json state show bea)" = 0 ] && jq -e '.user == "bea" and (.state | type) == "object"' "$T/out" >/dev/null &&
	ok "state show bea --json: the stored layout" || bad "state show: $(cat "$T/out" "$T/err")"
ctl state show bea | jq -e 'type == "object"' >/dev/null && ok "state show: the state as JSON" || bad "state show text"
[ "$(rc ctl state reset bea)" = 0 ] && ok "state reset bea: $(cat "$T/out")" || bad "state reset: $(cat "$T/err")"
jq -es 'any(.[]; .event == "state.reset" and .user == "argoboxctl" and .detail.target == "bea")' "$A" >/dev/null &&
	ok "audit: state.reset by argoboxctl (the state area's own line)" || bad "no state.reset line"
[ "$(rc ctl state show 'Bad/Name')" = 2 ] && ok "state show of a malformed name: exit 2" || bad "bad name: $(cat "$T/err")"

# restart: a new session comes up for bea
old=$(desk_pid bea)
[ "$(rc ctl desktops restart bea)" = 0 ] && ok "desktops restart bea: exit 0" || bad "restart: $(cat "$T/err")"
new_session() { p=$(desk_pid bea); [ -n "$p" ] && [ "$p" != "$old" ]; }
wait_for 40 new_session && ok "bea's desktop restarted (session $old -> $(desk_pid bea))" ||
	bad "no restart: $(ctl --json list)"

# exec: these desktops are processes on the host (session.launcher "process"), nothing to enter
[ "$(rc ctl exec bea -- id)" = 4 ] && ok "exec into a desktop that is not a container: exit 4 ($(cat "$T/err"))" ||
	bad "exec bea: $(cat "$T/out" "$T/err")"
[ "$(id -u)" != 0 ] || jq -es 'any(.[]; .event == "admin.exec" and .outcome == "deny" and .user == "bea" and
	(.detail.reason | test("not run in a container")))' "$A" >/dev/null && ok "audit: admin.exec deny (not a container)" ||
	bad "no admin.exec deny line"

# services: a name that does not exist
[ "$(rc ctl services status nope)" = 3 ] && ok "services status of an unknown service: exit 3" ||
	bad "services status nope: $(cat "$T/err")"

# stop by filter, destroy
[ "$(rc ctl desktops stop)" = 2 ] && ok "desktops stop without a target: exit 2" || bad "stop with no target"
[ "$(rc ctl --json desktops stop --profile staff)" = 0 ] &&
	[ "$(jq -r '[.[].user] | join(" ")' "$T/out")" = ada ] && ok "desktops stop --profile staff: ada" ||
	bad "stop --profile: $(cat "$T/out" "$T/err")"
gone() { ! ctl --json list | jq -e --arg u "$1" '.desktops[] | select(.user == $u)' >/dev/null; }
wait_for 20 gone ada && ok "ada's desktop is gone" || bad "ada still listed: $(ctl --json list)"
[ "$(rc ctl desktops stop --profile staff)" = 3 ] && ok "nothing left to match: exit 3" || bad "empty match: $(cat "$T/err")"
wait_for 40 desk_ready bea || bad "bea's restarted desktop is not ready"
[ "$(rc ctl desktops destroy cid)" = 0 ] && ok "desktops destroy cid: $(cat "$T/out")" || bad "destroy: $(cat "$T/err")"
wait_for 20 gone cid && ok "cid's desktop is gone" || bad "cid still listed"
jq -es 'any(.[]; .event == "admin.desktop.destroy" and .user == "argoboxctl" and .detail.target == "cid" and .detail.state_reset == true)' "$A" >/dev/null &&
	ok "audit: admin.desktop.destroy with the state reset" || bad "no destroy line: $(grep destroy "$A")"
[ "$(rc ctl desktops stop cid)" = 3 ] && ok "stop of a desktop that is not running: exit 3" || bad "stop cid again: $(cat "$T/err")"

# every action audited with who
jq -es --argjson uid "$UID_NOW" '[.[] | select(.event == "admin.ctl")] |
	any(.detail.command == "broadcast" and .detail.by_uid == $uid and .detail.target == "p" and .outcome == "grant") and
	any(.detail.command == "desktop" and .detail.action == "restart" and .detail.target == "bea") and
	any(.detail.command == "desktop" and .detail.action == "stop" and .detail.target == "cid" and .outcome == "deny" and .detail.result == "not_found") and
	any(.detail.command == "state" and .detail.action == "reset" and .detail.target == "bea")' "$A" >/dev/null &&
	ok "admin.ctl lines: who (uid $UID_NOW), what, target, result" || bad "admin.ctl: $(grep admin.ctl "$A" | tail -3)"

# audit query asks the broker (admin socket), which audits it; paged 200 at a time
wait_for 10 sh -c "'$B/broker/argoboxctl' --socket '$T/broker.sock' --json audit query --event admin.ctl --limit 500 | jq -e 'length >= 8' >/dev/null" &&
	ok "audit query --event admin.ctl --json (through the broker): the actions are in the store" ||
	bad "audit query: $(ctl audit query --event admin.ctl 2>&1 | head -3)"
wait_for 5 jq -es 'any(.[]; .event == "admin.audit.query" and .outcome == "grant" and .user == "argoboxctl" and .detail.filters.event == "admin.ctl" and .detail.count >= 8)' "$A" >/dev/null &&
	ok "audit: admin.audit.query grant with the filters and the count" || bad "no admin.audit.query line: $(grep admin.audit.query "$A" | tail -2)"
# paging: each query is itself a record; make the store hold more than one page of 200
for _ in $(seq 1 140); do ctl audit query --limit 1 >/dev/null 2>&1; done
before=$(ctl --json audit query --limit 100000 | jq 'length')
ctl --json audit query --limit 250 >"$T/page.json"
n=$(jq 'length' "$T/page.json")
distinct=$(jq '[.[].seq] | unique | length' "$T/page.json")
newest_first=$(jq '[.[].seq] == ([.[].seq] | sort | reverse)' "$T/page.json")
[ "$before" -gt 200 ] && [ "$n" = 250 ] && [ "$distinct" = 250 ] && [ "$newest_first" = true ] &&
	ok "audit query --limit 250: 250 distinct records, newest first, over pages of 200 (store: $before)" ||
	bad "paging: $n records, $distinct distinct, newest first $newest_first, store $before"
[ "$(rc ctl audit query --from 1999-01-01)" = 2 ] && grep -q "2000-01-01" "$T/err" &&
	ok "a time before 2000 (the API's bound): exit 2, $(cat "$T/err")" || bad "1999 accepted: $(cat "$T/out" "$T/err")"
wait_for 5 jq -es 'any(.[]; .event == "admin.audit.query" and .outcome == "deny" and (.detail.reason | test("2000-01-01")))' "$A" >/dev/null &&
	ok "audit: admin.audit.query deny with the reason" || bad "no deny line: $(grep admin.audit.query "$A" | tail -2)"
# --data-dir reads the store directly (offline) and says it is not audited
wait_for 10 sh -c "'$B/broker/argoboxctl' --json audit query --data-dir '$T/data' --event admin.ctl --limit 500 | jq -e 'length >= 8' >/dev/null" &&
	ok "audit query --event admin.ctl --json: the actions are in the store" ||
	bad "audit query: $(ctl audit query --data-dir "$T/data" --event admin.ctl 2>&1 | head -3)"
ctl audit query --data-dir "$T/data" --user argoboxctl --event admin.desktop --outcome grant 2>"$T/err" | grep -q 'admin.desktop.destroy' &&
	grep -q "not audited" "$T/err" &&
	ok "audit query --user argoboxctl --event admin.desktop --outcome grant: a table" || bad "audit query table"
[ "$(rc ctl audit query --data-dir "$T/data" --from yesterday)" = 2 ] && ok "audit query --from yesterday: exit 2" || bad "bad time accepted"

# users: the console's user management (broker/admin/users_admin.h), passwords from stdin
[ "$(ctl --json users list | jq -r '[.users[].name] | sort | join(" ")')" = "ada bea cid" ] &&
	ok "users list --json: ada bea cid" || bad "users list: $(ctl --json users list)"
[ "$(echo 'dan-s3cret-pw' | rc ctl users add dan --role member --profile p)" = 0 ] &&
	ok "users add dan (password from stdin)" || bad "users add: $(cat "$T/out" "$T/err")"
[ "$(login dan dan-s3cret-pw)" = 200 ] && ok "dan signs in at once" || bad "dan cannot sign in: $(cat "$T/dan.login")"
[ "$(rc ctl users role dan admin)" = 0 ] && [ "$(ctl --json users list | jq -r '.users[] | select(.name == "dan") | .role')" = admin ] &&
	ok "users role dan admin" || bad "role: $(cat "$T/err")"
[ "$(rc ctl users disable dan)" = 0 ] && [ "$(login dan dan-s3cret-pw)" != 200 ] && ok "users disable dan: dan cannot sign in" ||
	bad "disable: $(cat "$T/err") $(cat "$T/dan.login")"
[ "$(rc ctl users enable dan)" = 0 ] || bad "enable: $(cat "$T/err")"
[ "$(echo 'dan-new-pw-42' | rc ctl users passwd dan)" = 0 ] && [ "$(login dan dan-new-pw-42)" = 200 ] &&
	ok "users enable + passwd dan: signs in with the new password" || bad "passwd: $(cat "$T/err") $(cat "$T/dan.login")"
[ "$(rc ctl users add eve --role member --profile p </dev/null)" = 2 ] && ok "users add without a password: exit 2" || bad "no password accepted"
[ "$(rc ctl users disable nobody)" = 3 ] && ok "users disable nobody: exit 3" || bad "disable nobody: $(cat "$T/err")"
[ "$(rc ctl users delete dan --home keep)" = 0 ] && [ "$(ctl --json users list | jq '[.users[] | select(.name == "dan")] | length')" = 0 ] &&
	ok "users delete dan --home keep" || bad "delete: $(cat "$T/err")"
jq -es 'any(.[]; (.event | startswith("admin.user.")) and .user == "argoboxctl" and .outcome == "grant")' "$A" >/dev/null &&
	ok "audit: admin.user.* grants by argoboxctl (the users area's lines)" || bad "no admin.user lines: $(grep admin.user "$A" | tail -2)"
grep -q 'dan-s3cret-pw\|dan-new-pw-42' "$A" "$T/broker.log" && bad "a password reached the audit log or the broker's log" ||
	ok "no password in the audit log or the broker's log"

# usage, help, no broker
[ "$(rc ctl frobnicate)" = 2 ] && ok "an unknown command: exit 2" || bad "unknown command"
[ "$(rc ctl --help)" = 0 ] && grep -q "exit status: 0 ok, 1 failed, 2 usage" "$T/out" && ok "--help: exit 0, documents the exit codes" || bad "--help"
stop_broker_ok
[ "$(rc ctl status)" = 1 ] && ok "no broker: exit 1 ($(cat "$T/err"))" || bad "no broker: $(cat "$T/err")"
sanitizer_check "$T/broker.log"
finish "admin ctl"
