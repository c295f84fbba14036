#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Desktop state round trip through the real broker, session, window manager and store:
# open two xterms, move and resize them with xdotool, wait until the state is durable in
# the store, stop the desktop (argoboxctl) / restart the broker, start again: every
# geometry comes back exactly. Then the HTTP API: PUT a layout, it applies live to the
# running desktop (and at the next start when none runs); DELETE resets to defaults.
. "$(dirname "$0")/lib.sh"

broker_up
# a second broker on the same data.dir is refused (the embedded store is locked)
rc=0
timeout 20 "$B/broker/argobox-broker" --config "$T/broker.json" >"$T/broker2.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "second broker on the same store: status $rc"
grep -q "in use by another process (pid $BROKER_PID)" "$T/broker2.log" ||
	fail "second broker: no clear error: $(cat "$T/broker2.log")"
start_desktop
two_xterms
A=$(xdotool search --sync --name '^alpha$' | head -n1)
Bw=$(xdotool search --sync --name '^beta$' | head -n1)
xdotool windowsize "$A" 500 300 windowmove "$A" 123 145
xdotool windowsize "$Bw" 420 260 windowmove "$Bw" 601 333

state_view() { # "x y w h" of every window of a state (stdin), sorted
	jq -r '.windows[] | "\(.x) \(.y) \(.w) \(.h)"' | sort
}
durable_matches_x() {
	local st
	st=$(stored) || return 1
	[ "$(state_view <<<"$st")" = "$(x_view)" ] || return 1
	[ "$(jq '.windows | length' <<<"$st")" = 2 ]
}
wait_for 20 durable_matches_x || fail "state not durable: $(api GET) vs $(x_view)"
SAVED=$(x_view)
echo "saved layout:"
echo "$SAVED"
grep -q "123 145" <<<"$SAVED" && grep -q "601 333" <<<"$SAVED" || fail "moves not applied: $SAVED"

restored() { # the desktop shows exactly $SAVED and has exported it again
	[ "$(x_view)" = "$1" ] || return 1
	local st
	st=$(stored) || return 1
	[ "$(state_view <<<"$st")" = "$1" ]
}

# 1. stop the desktop, start it again
stop_desktop
[ "$(stored | state_view)" = "$SAVED" ] || fail "stopping the desktop changed the stored state"
start_desktop
wait_for 40 restored "$SAVED" || fail "layout after desktop restart: $(x_view) want $SAVED"
grep -q '"event":"desktop.start".*"restore":true' "$T/audit.log" ||
	fail "desktop.start not audited with restore"
echo "restored after argoboxctl stop: ok"

# 2. restart the broker (it stops the desktop), start again
kill "$WS_PID"
WS_PID=
broker_down
broker_up
start_desktop
wait_for 40 restored "$SAVED" || fail "layout after broker restart: $(x_view) want $SAVED"
echo "restored after broker restart: ok"

# 3. HTTP API: replace the layout of the running desktop: the broker relays it as a
# "restore" control message and the wm applies it at once (then exports it); it also
# survives a stop/start
NEW=$(stored | jq -c '.windows[0].x = 222 | .windows[0].y = 111 | .windows[1].y = 300')
WANT=$(state_view <<<"$NEW")
out=$(api PUT --data-binary "$NEW" -H 'Content-Type: application/json')
[ "$(jq -r .status <<<"$out")" = saved ] || fail "PUT: $out"
[ "$(jq -r .applied <<<"$out")" = now ] || fail "PUT not sent to the running desktop: $out"
wait_for 20 restored "$WANT" || fail "PUT not applied live: $(x_view) want $WANT"
echo "PUT applied live: ok"
out=$(api PUT --data-binary '{"version":1,"windows":"lots"}' -w ' %{http_code}')
[ "${out##* }" = 400 ] || fail "hostile PUT accepted: $out"
grep -q '"event":"state.rejected"' "$T/audit.log" || fail "hostile PUT not audited"
stop_desktop
[ "$(stored | state_view)" = "$WANT" ] || fail "PUT not stored: $(stored)"
# a PUT while no desktop runs applies at the next start
NEW=$(stored | jq -c '.windows[1].x = 244 | .windows[1].y = 122')
WANT=$(state_view <<<"$NEW")
out=$(api PUT --data-binary "$NEW" -H 'Content-Type: application/json')
[ "$(jq -r .applied <<<"$out")" = "next desktop start" ] || fail "PUT without a desktop: $out"
[ "$(stored)" = "$(jq -c . <<<"$NEW")" ] || fail "PUT not stored: $(stored)"
start_desktop
wait_for 40 restored "$WANT" || fail "PUT layout not applied: $(x_view) want $WANT"
echo "PUT applied at next start: ok"

# 4. DELETE resets to defaults
out=$(api DELETE)
[ "$(jq -r .status <<<"$out")" = reset ] || fail "DELETE: $out"
wait_for 10 sh -c "curl -sS '$URL/api/desktops/local/state' | jq -e '.stored == false and .durable'" ||
	fail "DELETE not applied: $(api GET)"
grep -q '"event":"state.reset","outcome":"grant"' "$T/audit.log" || fail "reset not audited"
echo PASS
