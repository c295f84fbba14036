#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The native-VNC password from argobox-settings, for real: the app asks the broker through the
# desktop's control channel (services_request, op "vnc_password"; never a browser cookie), the
# broker answers for the desktop's owner with the rules and audit events of /api/vnc-password:
#  1. without a broker the app says so (503 from the wm);
#  2. a real broker with the VNC gateway on loopback and real desktops (argobox-session + Xvfb
#     + argobox-wm, process launcher): the app on bea's desktop shows no password, Enter on
#     its row makes one (audited: vncgw.password grant, endpoint "desktop"), Ctrl+C copies it,
#     and a libvncclient client (ab_vncgw_client) gets bea's desktop with it through the
#     gateway while a wrong one is refused; the web API sees the same password; Delete revokes
#     it (audited) and the client is refused with it after; a demo identity's desktop is
#     refused (403, audited deny) whatever its request says; a bad action gets 400.
. "$(dirname "$0")/lib.sh"
need_tools jq curl openssl
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session"
REQ=$B/tests/integration/apps/apps-ctlreq
VNC=$B/tests/integration/vncgw/ab_vncgw_client
need_built "$REQ" "$VNC"
vreq() { printf '{"v":1,"type":"services_request","id":%s,"op":"vnc_password","action":"%s"%s}' "$1" "$2" "${3:-}"; }

# --- 1. no broker behind the wm
start_desktop 1024x768
start_app argobox-settings settings
wait_file 10 "$T/argobox-settings.log" "VNC access: 503" ||
	fail "without a broker: $(cat "$T/argobox-settings.log")"
kill "$APP_PID"
stop_wm
echo "ok   without a broker: 503, said so"

# --- 2. a real broker with the VNC gateway, two desktops
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003)
 "profiles": {"p": {}, "trial": {"persistent": false, "ttl_minutes": 30, "demo": true}},
 "vnc_gateway": {"listen": "127.0.0.1:0"}
EOT
start_broker "$T/broker.log"
at_exit 'sanitizer_check "$T/broker.log"'
A=$T/audit.log
GPORT=$(sed -n 's/.*vnc gateway listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/broker.log" | head -n1)
[ -n "$GPORT" ] || fail "no VNC gateway port in the broker's log: $(head -20 "$T/broker.log")"
[ "$(login bea s3cret-pw)" = 200 ] || fail "bea cannot sign in: $(cat "$T/bea.login")"
# a demo identity (the landing page's demo link)
code=$(N curl -s -o "$T/demo.json" -w '%{http_code}' -c "$T/demo.jar" -H "Origin: $URL" \
	-H 'Content-Type: application/json' -d '{"profile":"trial"}' "$URL/api/demo")
[ "$code" = 200 ] || fail "demo sign-in: $code $(cat "$T/demo.json")"
dee=$(jq -r '.user // empty' "$T/demo.json")
[ -n "$dee" ] || fail "no demo user in $(cat "$T/demo.json")"
wm_of() { ps -o pid=,comm= --ppid "$(desk_pid "$1")" | awk '$2 ~ /^argobox-wm/ {print $1; exit}'; }
declare -A DPY
for u in bea $dee; do
	wait_for 40 desk_ready $u || fail "$u's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"
	wait_for 20 sh -c "[ -n \"\$(ps -o comm= --ppid $(desk_pid $u) | grep '^argobox-wm')\" ]" ||
		fail "$u: no window manager under its session"
	DPY[$u]=$(tr '\0' '\n' <"/proc/$(wm_of $u)/environ" | sed -n 's/^DISPLAY=//p')
	[ -n "${DPY[$u]}" ] || fail "$u: no DISPLAY"
	wait_for 20 env DISPLAY="${DPY[$u]}" sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" ||
		fail "$u: no window manager"
done
on() { DISPLAY=${DPY[$1]} "${@:2}"; }

# the desktop's status is the API's
on bea "$REQ" "$(vreq 1 status)" >"$T/st.json" || fail "bea: no answer: $(tail -5 "$T/broker.log")"
jq -e '.type == "services_answer" and .id == 1 and .op == "vnc_password" and .status == 200 and
	.enabled == true and .exists == false and .port == '"$GPORT" "$T/st.json" >/dev/null ||
	fail "bea's status: $(cat "$T/st.json")"
[ "$(get_as bea /api/vnc-password)" = 200 ] && jq -e '.exists == false' "$T/resp" >/dev/null ||
	fail "the API's status: $(cat "$T/resp")"

# the app on bea's desktop: Enter on the VNC row makes a password, Ctrl+C copies it
export DISPLAY=${DPY[bea]}
: >"$T/argobox-settings.log"
start_app argobox-settings settings
wait_file 10 "$T/argobox-settings.log" "VNC access: none" ||
	fail "the app's status: $(cat "$T/argobox-settings.log")"
xdotool key End Return
wait_file 10 "$T/argobox-settings.log" "VNC access: a new password, for 127.0.0.1:$GPORT until" ||
	fail "Enter did not make a password: $(tail -3 "$T/argobox-settings.log")"
xdotool key ctrl+c
wait_for 5 sh -c "xclip -o -selection clipboard | grep -qE '^[a-zA-Z0-9]{8}$'" ||
	fail "Ctrl+C did not copy the password: $(xclip -o -selection clipboard 2>&1)"
PW=$(xclip -o -selection clipboard)
! grep -qF -- "$PW" "$T/argobox-settings.log" "$T/broker.log" || fail "the password is in a log"
jq -es 'any(.[]; .event == "vncgw.password" and .outcome == "grant" and .user == "bea" and
	.source == "desktop" and .detail.action == "created" and .detail.endpoint == "desktop")' "$A" >/dev/null ||
	fail "no vncgw.password grant from bea's desktop: $(grep vncgw.password "$A" | tail -3)"
[ "$(get_as bea /api/vnc-password)" = 200 ] && jq -e '.exists == true' "$T/resp" >/dev/null ||
	fail "the API does not see the desktop's password: $(cat "$T/resp")"

# the password works with a VNC client, through the gateway, to bea's desktop; a wrong one not
"$VNC" 127.0.0.1 "$GPORT" "$PW" "$T/frame" >"$T/vnc.out" 2>&1 ||
	fail "a VNC client with the settings' password: status $? $(cat "$T/vnc.out")"
read -r fw fh < <(head -n1 "$T/frame")
((fw >= 640 && fh >= 480)) || fail "the VNC client's frame: ${fw}x$fh"
jq -es 'any(.[]; .event == "vncgw.auth" and .outcome == "grant" and .user == "bea")' "$A" >/dev/null ||
	fail "no vncgw.auth grant for bea"
rc=0
"$VNC" 127.0.0.1 "$GPORT" "wrongpw2" "$T/frame2" >"$T/vnc2.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a wrong password: status $rc, not 3 (refused): $(cat "$T/vnc2.out")"
echo "ok   the settings' password works with a VNC client; audited; the web API sees it"

# Delete revokes it: audited, and the client is refused with it
xdotool key Delete
wait_file 10 "$T/argobox-settings.log" "VNC access: password revoked" ||
	fail "Delete did not revoke: $(tail -3 "$T/argobox-settings.log")"
jq -es 'any(.[]; .event == "vncgw.password" and .outcome == "info" and .user == "bea" and
	.detail.action == "revoked" and .detail.endpoint == "desktop")' "$A" >/dev/null ||
	fail "no vncgw.password revoked line"
rc=0
"$VNC" 127.0.0.1 "$GPORT" "$PW" "$T/frame3" >"$T/vnc3.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "the revoked password: status $rc, not 3 (refused)"
echo "ok   Delete revokes it (audited), the client is refused after"

# refusals: a demo identity's desktop, whatever its request says; a bad action
on "$dee" "$REQ" "$(vreq 2 create ',"user":"bea","role":"admin"')" >"$T/dee.json" || fail "$dee: no answer"
jq -e '.status == 403 and (.error | test("demo")) and (has("password") | not)' "$T/dee.json" >/dev/null ||
	fail "$dee's request: $(cat "$T/dee.json")"
jq -es --arg d "$dee" 'any(.[]; .event == "vncgw.password" and .outcome == "deny" and .user == $d and
	.source == "desktop" and .detail.endpoint == "desktop" and .detail.action == "POST")' "$A" >/dev/null ||
	fail "no vncgw.password deny for $dee: $(grep vncgw.password "$A" | tail -3)"
jq -es 'any(.[]; .event == "vncgw.password" and .user == "bea" and .outcome == "grant") and
	([.[] | select(.event == "vncgw.password" and .outcome == "grant")] | length == 1)' "$A" >/dev/null ||
	fail "the demo's request made a password for someone"
on bea "$REQ" "$(vreq 3 steal)" '{"v":1,"type":"services_request","id":4,"op":"vnc_password"}' >"$T/bad.json"
jq -es 'sort_by(.id) | map(.status) == [400, 400]' "$T/bad.json" >/dev/null || fail "bad actions: $(cat "$T/bad.json")"
echo "ok   refused: a demo desktop (403, audited), bad actions (400)"
kill "$APP_PID"
stop_broker_ok
echo "PASS: settings vnc"
