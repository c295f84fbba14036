#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-services and the desktop's services_request (docs/control-channel.md), for real:
#  1. under a private Xvfb + argobox-wm with no control channel, the app says the desktop is
#     not connected (503 from the wm) and shows no invented service;
#  2. through a real broker with a registry of local HTTP services and two real desktops
#     (argobox-session + Xvfb + argobox-wm, process launcher): a request from the desktop gets
#     exactly the services GET /api/services gives that user (same names and fields), for the
#     desktop's owner whatever the request says; restart by the owner starts the command,
#     by another member is refused (403, or 404 for a service they cannot see) and every
#     answer is audited with peer "desktop"; malformed requests get 400;
#  3. the app on bea's desktop lists her services with their state drawn, R restarts hers,
#     R on one she may not restart shows the broker's refusal, Enter opens the URL (xdg-open).
. "$(dirname "$0")/lib.sh"
need_tools jq curl openssl python3
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session"
REQ=$B/tests/integration/apps/apps-ctlreq
list_req='{"v":1,"type":"services_request","id":7,"op":"list"}'

# --- 1. no broker behind the wm
start_desktop 1024x768
"$REQ" "$list_req" >"$T/nobroker.json" || fail "no answer without a broker"
jq -e '.type == "services_answer" and .id == 7 and .status == 503 and
	(.error | test("not connected"))' "$T/nobroker.json" >/dev/null || fail "without a broker: $(cat "$T/nobroker.json")"
start_app argobox-services services
wait_file 10 "$T/argobox-services.log" "The broker answered 503: the desktop is not connected" ||
	fail "the app does not say the desktop is not connected: $(cat "$T/argobox-services.log")"
kill "$APP_PID"
stop_wm
echo "ok   without a broker: 503, said so"

# --- 2. a real broker, a registry of local HTTP services, two desktops
P=$(free_port)
mkdir -p "$T/www/shared"
python3 -m http.server "$P" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
PIDS+=($!)
wait_for 10 curl -sf "http://127.0.0.1:$P/" >/dev/null || fail "the services' server did not start"
printf '#!/bin/sh\necho "$1" >>%s/restarts\n' "$T" >"$T/restart.sh"
chmod +x "$T/restart.sh"
chk='"check": {"interval_ms": 300, "timeout_ms": 1000, "failures": 2, "successes": 1}'
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}},
 "services": [
   {"name": "mine", "title": "Bea's wiki", "url": "http://127.0.0.1:$P/", "owner": "bea", $chk,
    "restart": {"command": ["$T/restart.sh", "mine"]}},
   {"name": "shared", "title": "Shared board", "url": "http://127.0.0.1:$P/shared/",
    "access": {"roles": ["member"]}, $chk, "restart": {"command": ["$T/restart.sh", "shared"]}},
   {"name": "secret", "url": "http://127.0.0.1:$P/", $chk}]
EOT
start_broker "$T/broker.log"
at_exit 'sanitizer_check "$T/broker.log"'
A=$T/audit.log
for u in bea cid; do
	[ "$(login $u s3cret-pw)" = 200 ] || fail "$u cannot sign in: $(cat "$T/$u.login")"
done
# the display of USER's desktop: the DISPLAY its session gave its window manager
wm_of() { ps -o pid=,comm= --ppid "$(desk_pid "$1")" | awk '$2 ~ /^argobox-wm/ {print $1; exit}'; }
declare -A DPY
for u in bea cid; do
	wait_for 40 desk_ready $u || fail "$u's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"
	wait_for 20 sh -c "[ -n \"\$(ps -o comm= --ppid $(desk_pid $u) | grep '^argobox-wm')\" ]" ||
		fail "$u: no window manager under its session"
	DPY[$u]=$(tr '\0' '\n' <"/proc/$(wm_of $u)/environ" | sed -n 's/^DISPLAY=//p')
	[ -n "${DPY[$u]}" ] || fail "$u: no DISPLAY"
done
on() { # on USER CMD...: CMD on USER's desktop
	DISPLAY=${DPY[$1]} "${@:2}"
}
for u in bea cid; do
	wait_for 20 on $u sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" ||
		fail "$u: no window manager"
done
up() { get_as bea /api/services >/dev/null && jq -e '[.services[].state] | all(. == "up")' "$T/resp" >/dev/null; }
wait_for 10 up || fail "services not up: $(cat "$T/resp")"

# the desktop's list is the API's, field for field (volatile figures aside)
on bea "$REQ" "$list_req" >"$T/bea.list" || fail "bea: no answer: $(tail -5 "$T/broker.log")"
get_as bea /api/services >/dev/null
norm='[.services[] | {name, title, url, owner, tags, state, keys: keys}]'
[ "$(jq -c "$norm" "$T/bea.list")" = "$(jq -c "$norm" "$T/resp")" ] ||
	fail "desktop list differs from the API: $(jq -c "$norm" "$T/bea.list") vs $(jq -c "$norm" "$T/resp")"
jq -e '.status == 200 and .id == 7 and ([.services[].name] == ["mine","shared"])' "$T/bea.list" >/dev/null ||
	fail "bea's list: $(cat "$T/bea.list")"
on cid "$REQ" "$list_req" >"$T/cid.list"
jq -e '[.services[].name] == ["shared"]' "$T/cid.list" >/dev/null || fail "cid's list: $(cat "$T/cid.list")"
jq -es 'any(.[]; .event == "service.access" and .user == "bea" and .source == "desktop" and
	.detail.endpoint == "desktop" and .detail.visible == ["mine","shared"] and .detail.hidden == 1)' "$A" >/dev/null ||
	fail "no service.access audit for bea's desktop: $(grep service.access "$A" | tail -3)"
echo "ok   the desktop's list is GET /api/services's, per user, audited"

# restarts: who asks is the desktop's owner, never what the request says
rq() { printf '{"v":1,"type":"services_request","id":%s,"op":"restart","name":"%s"%s}' "$1" "$2" "${3:-}"; }
on cid "$REQ" "$(rq 1 mine ',"user":"bea","role":"admin"')" "$(rq 2 shared)" "$(rq 3 nope)" >"$T/cid.rs"
jq -es '.[0].status == 404 and .[0].error == "no such service" and
	.[1].status == 403 and (.[1].error | test("only admins and the service.s owner")) and
	.[2].status == 404' "$T/cid.rs" >/dev/null || fail "cid's restarts: $(cat "$T/cid.rs")"
jq -es 'any(.[]; .event == "service.restart" and .outcome == "deny" and .user == "cid" and
	.source == "desktop" and .detail.service == "mine" and .detail.reason == "not visible to this user")' "$A" >/dev/null ||
	fail "no deny audit for cid/mine: $(grep service.restart "$A" | tail -3)"
jq -es 'any(.[]; .event == "service.restart" and .outcome == "deny" and .user == "cid" and
	.detail.service == "shared" and (.detail.reason | test("only admins")))' "$A" >/dev/null ||
	fail "no deny audit for cid/shared"
[ ! -e "$T/restarts" ] || fail "a refused restart ran: $(cat "$T/restarts")"
echo "ok   refused restarts: 404/403 answers and audit lines, nothing ran"

# malformed requests get 400 (from the wm or the broker), nothing else happens
on bea "$REQ" '{"v":1,"type":"services_request","id":4}' \
	"$(rq 5 '../x')" '{"v":1,"type":"services_request","id":6,"op":"delete"}' >"$T/bad.json"
jq -es 'sort_by(.id) | map(.status) == [400, 400, 400] and map(.id) == [4, 5, 6]' "$T/bad.json" >/dev/null ||
	fail "malformed requests: $(cat "$T/bad.json")"
echo "ok   malformed requests: 400"

# --- 3. the app on bea's desktop
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$1" >>%s/opened\n' "$T" >"$T/bin/xdg-open"
chmod +x "$T/bin/xdg-open"
export DISPLAY=${DPY[bea]}
PATH=$T/bin:$PATH start_app argobox-services services
wait_file 10 "$T/argobox-services.log" "services: 2 from the broker: mine (up), shared (up)" ||
	fail "the app's list: $(cat "$T/argobox-services.log")"
sleep 0.3
shot "$APP_WIN" "$T/app.png"
has_colour "$T/app.png" "#2eb059" 80 || fail "no 'up' state dots drawn"
xdotool key r
wait_for 10 grep -qx mine "$T/restarts" || fail "R did not restart 'mine': $(tail -3 "$T/argobox-services.log")"
wait_file 10 "$T/argobox-services.log" "restarting 'mine'" || fail "the app did not show the restart"
jq -es 'any(.[]; .event == "service.restart" and .outcome == "grant" and .user == "bea" and
	.source == "desktop" and .detail.service == "mine" and .detail.reason == "owner")' "$A" >/dev/null ||
	fail "no grant audit for bea/mine"
xdotool key Down r
wait_file 10 "$T/argobox-services.log" "cannot restart 'shared': only admins and the service's owner may restart it" ||
	fail "the refusal is not shown: $(tail -3 "$T/argobox-services.log")"
xdotool key Return
wait_for 10 grep -qx "http://127.0.0.1:$P/shared/" "$T/opened" || fail "Enter did not open the URL"
xdotool key Escape
wait_for 5 sh -c "! kill -0 $APP_PID" || fail "Escape did not close it"
wait "$APP_PID" || fail "argobox-services exit status $?"
echo "ok   the app: list, state, restart, refusal, open"
stop_broker_ok
echo "PASS: services"
