#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 13: every way a desktop restarts loses nothing of its state. One table, one row per
# restart path, all through the real broker (embedded store), argobox-session, argobox-wm
# and xterms:
#
#   wm-term      the window manager gets SIGTERM; the session restarts it
#   wm-kill      the window manager is killed (SIGKILL); the session restarts it
#   api-restart  POST /api/desktop/local/restart: the broker flushes the wm's state,
#                stops the desktop and starts it again
#   container    the session, its Xvfb and its window manager are all killed -9 at once
#                (a container's death; with the process launcher the session is the
#                container's init); the next sign-in starts a new desktop
#   broker       the broker is killed -9 and started again; it re-adopts the running desktop
#
# Before each row the layout is changed (a window moved) and the row waits until the change
# is durable; after the restart it asserts, against what was there before: X (every
# window's geometry and _NET_WM_STATE; the maximized xterm fills the work area), the stored
# state (GET /api/desktops/local/state, titles aside), and that the wallpaper and theme
# (set once through the state API) are still there. The maximized window's normal
# geometry is in the stored state, so it survives every row too.
. "$(dirname "$0")/lib.sh"
export ARGOBOX_WALLPAPER_DIR=$S/assets/wallpapers

broker_up
start_desktop
two_xterms
Bw=$(xdotool search --sync --name '^beta$' | head -n1)
xdotool windowsize "$Bw" 420 260 windowmove "$Bw" 601 333
has_window_at() { # has_window_at X Y: the durable stored state has a window at X,Y
	api GET | jq -e --argjson x "$1" --argjson y "$2" '.durable and .stored and
		([.state.windows[] | select(.x == $x and .y == $y)] | length) == 1'
}
wait_for 20 has_window_at 601 333 || fail "beta's geometry not stored: $(api GET)"
# wallpaper, theme and a maximized window, through the state API (applied live)
NEW=$(stored | jq -c '.wallpaper = {"image": "mist.png", "fit": "fit"}
	| .theme = {"mode": "light", "accent": "#e5484d"}
	| (.windows[] | select(.x == 601)) |= (.maximized = true)')
out=$(api PUT --data-binary "$NEW" -H 'Content-Type: application/json')
[ "$(jq -r .applied <<<"$out")" = now ] || fail "PUT: $out"
wait_for 20 sh -c "xwininfo -root -tree | grep -q '1272x720+4+32'" || fail "beta not maximized"

# X: per managed window "x y w h <sorted _NET_WM_STATE atoms>", sorted
x_full() {
	local w
	for w in $(xprop -root _NET_CLIENT_LIST | grep -o '0x[0-9a-f]*'); do
		echo "$(xwininfo -id "$w" | awk '/Absolute upper-left X/{x=$4} /Absolute upper-left Y/{y=$4}
			/^  Width/{w=$2} /^  Height/{h=$2} END{print x, y, w, h}') $(xprop -id "$w" _NET_WM_STATE |
			sed 's/.*= //; s/.*://' | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ,)"
	done | sort
}
stored_cmp() { stored | jq -S -c 'del(.windows[].title)'; }
wm_pid() { # the window manager of this test's desktop
	local p
	for p in $(pgrep -x argobox-wm); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "ARGOBOX_RUNTIME_DIR=$RUN" &&
			echo "$p" && return 0
	done
	return 1
}
session_pid() { pgrep -f "argobox-session --runtime-dir $RUN " | head -n1; }
path_wm_term() { kill -TERM "$(wm_pid)"; }
path_wm_kill() { kill -KILL "$(wm_pid)"; }
path_api_restart() {
	local out
	rm -f "$RUN/display"
	out=$(curl -sS --max-time 5 -X POST "$URL/api/desktop/local/restart" -w ' %{http_code}')
	[ "${out##* }" = 202 ] || fail "restart API: $out"
	jq -e '.status == "restarting"' <<<"${out% *}" >/dev/null || fail "restart API: $out"
	# the old desktop goes, a new one starts (the websocket held so far was closed)
	wait_for 20 sh -c "! kill -0 $OLD_SESSION 2>/dev/null" || fail "old session still running"
	wait_for 40 sh -c "pgrep -f 'argobox-session --runtime-dir $RUN ' >/dev/null" || fail "no new session"
	wait_for 20 test -s "$RUN/display" || fail "no display recorded"
	export DISPLAY=$(cat "$RUN/display")
	grep -q '"event":"desktop.restart","outcome":"grant"' "$T/audit.log" || fail "restart not audited"
}
path_container() {
	local s x w
	s=$(session_pid)
	w=$(wm_pid)
	x=$(pgrep -P "$s" -x Xvfb || true)
	kill -KILL "$s" $w $x
	wait_for 20 sh -c "! kill -0 $s 2>/dev/null" || fail "session not dead"
	kill "$WS_PID" 2>/dev/null || true
	wait "$WS_PID" 2>/dev/null || true
	WS_PID=
	# the next sign-in (a websocket) starts a new desktop from the stored state
	wait_for 20 sh -c "! '$B/broker/argoboxctl' --socket '$T/broker.sock' list | grep -q local" ||
		fail "the broker did not notice the desktop died"
	start_desktop
}
path_broker() {
	kill -KILL "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=
	broker_up
	wait_for 20 sh -c "'$B/broker/argoboxctl' --socket '$T/broker.sock' list | grep -q local" ||
		fail "the running desktop was not re-adopted"
	kill -0 "$OLD_SESSION" || fail "the session did not survive the broker"
}

ROWS="wm_term wm_kill api_restart container broker"
i=0
for row in $ROWS; do
	i=$((i + 1))
	# change the layout and wait until it is durable
	A=$(xdotool search --name '^alpha$' 2>/dev/null | head -n1 || true)
	[ -n "$A" ] || A=$(xdotool search --class '^XTerm$' | while read -r w; do
		xprop -id "$w" _NET_WM_STATE | grep -q MAXIMIZED || { echo "$w"; break; }; done)
	ax=$((100 + 17 * i)) ay=$((120 + 13 * i))
	xdotool windowmove "$A" "$ax" "$ay"
	wait_for 20 has_window_at "$ax" "$ay" || fail "$row: the move to $ax,$ay was not stored: $(api GET)"
	BEFORE_X=$(x_full)
	[ "$(wc -l <<<"$BEFORE_X")" = 2 ] || fail "$row: X before: $BEFORE_X ($(xprop -root _NET_CLIENT_LIST))"
	BEFORE_S=$(stored_cmp)
	jq -e '.theme.mode == "light" and .wallpaper.image == "mist.png" and
		([.windows[] | select(.maximized)] | length) == 1' <<<"$BEFORE_S" >/dev/null ||
		fail "$row: stored state before: $BEFORE_S"
	OLD_SESSION=$(session_pid)
	OLD_WM=$(wm_pid)
	t0=$(date +%s%N)
	"path_$row"
	# a new window manager (or, for the broker row, the same one) shows the same
	if [ "$row" != broker ]; then
		new_wm() { local p; p=$(wm_pid) && [ "$p" != "$OLD_WM" ]; }
		wait_for 40 new_wm || fail "$row: no new window manager"
	fi
	wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" || fail "$row: wm not up"
	same() { [ "$(x_full)" = "$BEFORE_X" ] && [ "$(stored_cmp)" = "$BEFORE_S" ]; }
	if ! wait_for 60 same; then
		fail "$row: state lost:
X before: $BEFORE_X
X after:  $(x_full)
stored before: $BEFORE_S
stored after:  $(stored_cmp)"
	fi
	echo "$row: layout, maximized window, wallpaper and theme kept ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
done
# the stored state never went back to defaults or to an older layout in between
! grep -q '"event":"state.rejected"' "$T/audit.log" || fail "a state was rejected"
echo PASS
