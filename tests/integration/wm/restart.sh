#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 13: nothing of a desktop's state is lost when the window manager restarts or crashes.
# The real argobox-session runs argobox-wm (restarting it when it exits) on a desktop that
# was started from a stored state (ARGOBOX_STATE_FILE: wallpaper, light theme, one xterm at
# 40,60); wm-testpeer plays the broker on control.sock and records every state the session
# relays (what the broker would store). After the restored start the layout is changed: the
# xterm is moved to 60,80, a window is maximized (its normal geometry is 300,330 580x355),
# one minimized, one sent to workspace 2, stacking changed. Then the window manager is
# stopped with SIGTERM, and killed with SIGKILL; after each restart:
#   - X: every window's geometry, _NET_WM_STATE, _NET_WM_DESKTOP and the stacking order
#     (_NET_CLIENT_LIST_STACKING) are what they were;
#   - the stored state (the last one relayed) is what it was, and no state published after
#     the restart ever carried defaults (dark theme, built-in wallpaper), the start-time
#     layout (xterm back at 40,60) or fewer windows;
#   - un-maximizing the maximized window returns it to 300,330 580x355.
. "$(dirname "$0")/lib.sh"
SESSION=$B/session/argobox-session
[ -x "$SESSION" ] || { echo "SKIP: argobox-session is not built"; exit 77; }
command -v xterm >/dev/null || { echo "SKIP: xterm is not installed"; exit 77; }
RUN=$T/run
mkdir -p "$T/share/applications"

# the stored state the desktop starts from (written by the broker before the first start)
cat >"$T/start.json" <<'EOT'
{"version":1,
 "windows":[{"app":{"class":"XTerm","instance":"xterm","desktop_id":"xterm.desktop"},
   "title":"xterm","workspace":0,"x":40,"y":60,"w":484,"h":316,"stack":0}],
 "wallpaper":{"image":"mist.png","fit":"fit"},
 "theme":{"mode":"light","accent":"#e5484d"},
 "workspaces":{"count":4,"current":0}}
EOT
ARGOBOX_APPS='*' XDG_DATA_DIRS=$T/share:$S/assets ARGOBOX_STATE_FILE=$T/start.json \
	ARGOBOX_WALLPAPER_DIR=$S/assets/wallpapers \
	"$SESSION" --runtime-dir "$RUN" --geometry 1280x800 --ready-fd 8 -- \
	"$WM" --state-out "$T/state.json" --log-level debug 8>"$T/ready" >"$T/wm.log" 2>&1 &
SPID=$!
PIDS+=($SPID)
wait_for 30 grep -q READY "$T/ready" || fail "session not ready"
"$PEER" --broker "$RUN/control.sock" "$T/broker.jsonl" 2>"$T/peer.log" &
PIDS+=($!)

wm_child() { ps -o pid=,comm= --ppid "$SPID" | awk '$2 ~ /^argobox-wm/ {print $1; exit}'; }
wait_for 20 sh -c "ps -o comm= --ppid $SPID | grep -q '^argobox-wm'" || fail "no window manager process"
WPID=$(wm_child)
export DISPLAY=$(tr '\0' '\n' <"/proc/$WPID/environ" | sed -n 's/^DISPLAY=//p')
wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" || fail "wm not running"
wait_for 30 grep -q "restore: placed 1 of 1 windows" "$T/wm.log" || fail "restored start did not complete"
XT=$(printf "0x%x" "$(xdotool search --class "^XTerm$" | head -n1)")
[ -n "$XT" ] || fail "the restored xterm is not there"
# (xterm rounds its size to its character cell: only the position is checked)
read -r x y _ <<<"$(geom "$XT")"
[ "$x $y" = "40 60" ] || fail "restored xterm at $x,$y, not 40,60"

# change the layout after the restored start
xdotool windowmove "$XT" 60 80
client_as MON Mon Monitor 580x355+300+330
client_as ED Ed Editor 400x300+500+100
client_as TWO Two Two 350x250+200+200
for w in $MON $ED $TWO; do wait_for 10 managed "$w" || fail "$w not managed"; done
expect_geom "$MON" "300 330 580 355" "monitor before maximizing"
xdotool windowactivate "$MON"
expect_active "$MON"
xdotool key super+Up
expect_geom "$MON" "4 32 1272 720" "maximized monitor"
xdotool windowminimize "$ED"
xdotool set_desktop_for_window "$TWO" 1
xdotool windowactivate "$XT" # the xterm above the maximized window
expect_active "$XT"
broker_state() { jq -c -s '[.[] | select(.type == "state")] | last | .state' "$T/broker.jsonl"; }
stored_ok() {
	broker_state | jq -e '(.windows | length) == 4
	and ([.windows[] | select(.app.class == "XTerm" and .x == 60 and .y == 80)] | length) == 1
	and ([.windows[] | select(.app.class == "Mon" and .maximized and .x == 300 and .y == 330
		and .w == 580 and .h == 355)] | length) == 1
	and ([.windows[] | select(.app.class == "Ed" and .minimized)] | length) == 1
	and ([.windows[] | select(.app.class == "Two" and .workspace == 1)] | length) == 1
	and .windows[-1].app.class == "XTerm"
	and .theme.mode == "light" and .wallpaper.image == "mist.png" and .wallpaper.fit == "fit"'
}
wait_for 15 stored_ok || fail "the layout did not reach the broker: $(broker_state)"

# X's view: per window (sorted by class) geometry, _NET_WM_STATE atoms, _NET_WM_DESKTOP;
# then the stacking order by class
x_view() {
	local w cls
	for w in $(xprop -root _NET_CLIENT_LIST | sed 's/.*# //; s/,//g'); do
		cls=$(xprop -id "$w" WM_CLASS | awk -F'"' '{print $4}')
		echo "$cls $(geom "$w") state=$(xprop -id "$w" _NET_WM_STATE | sed 's/.*= //; s/.*://' |
			tr -d ' ' | tr ',' '\n' | sort | tr '\n' ',') desk=$(xprop -id "$w" _NET_WM_DESKTOP |
			awk '{print $NF}')"
	done | sort
	echo "stacking: $(for w in $(xprop -root _NET_CLIENT_LIST_STACKING | sed 's/.*# //; s/,//g'); do
		xprop -id "$w" WM_CLASS | awk -F'"' '{printf "%s ", $4}'; done)"
	echo "current desktop: $(xprop -root _NET_CURRENT_DESKTOP | awk '{print $NF}')"
}
declare -f geom x_view >"$T/xview"
# what is drawn: the wallpaper (mist.png letterboxed on the light theme's background) and the
# taskbar (light theme), seen on workspace 4, which has no windows
pixels() {
	xdotool set_desktop 3
	wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 3$'"
	sleep 0.3
	echo "wallpaper $(px 640 20) / $(px 100 400) / $(px 1200 700) taskbar $(px 700 795)"
	xdotool set_desktop 0
	wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 0$'"
}
BEFORE_PX=$(pixels)
echo "pixels: $BEFORE_PX"
read -r r g b <<<"${BEFORE_PX##*taskbar }"
[ -n "$b" ] && ((r > 150 && g > 150 && b > 150)) || fail "taskbar not drawn light: $BEFORE_PX"
back_on_ws0() { broker_state | jq -e '.workspaces.current == 0' && stored_ok; }
wait_for 10 back_on_ws0 || fail "workspace switch not stored: $(broker_state)"
# the minimized editor is unmapped: geom reports its last position, which must stay too
BEFORE_X=$(x_view)
BEFORE_STATE=$(broker_state | jq -S 'del(.windows[].title)')
echo "$BEFORE_X" | grep -q "^Mon 4 32 1272 720 state=.*_NET_WM_STATE_MAXIMIZED_HORZ" ||
	fail "maximized window not as expected: $BEFORE_X"
echo "$BEFORE_X" | grep -q "^Ed .*_NET_WM_STATE_HIDDEN" || fail "minimized window: $BEFORE_X"
echo "$BEFORE_X" | grep -q "^Two .*desk=1$" || fail "workspace 2 window: $BEFORE_X"

restarts=0
for sig in TERM KILL; do
	old=$(wm_child)
	n_frames=$(wc -l <"$T/broker.jsonl")
	kill -"$sig" "$old"
	restarts=$((restarts + 1))
	wait_for 20 sh -c "[ \$(grep -c 'restarting the window manager from the latest desktop state (4 windows)' '$T/wm.log') -ge $restarts ]" ||
		fail "SIG$sig: the session did not hand the latest state to the restarted wm"
	wait_for 20 sh -c "p=\$(ps -o pid=,comm= --ppid $SPID | awk '\$2 ~ /^argobox-wm/ {print \$1; exit}'); [ -n \"\$p\" ] && [ \"\$p\" != $old ]" ||
		fail "SIG$sig: the wm was not restarted"
	wait_for 30 sh -c "[ \$(grep -c 'restore: placed 4 of 4 windows' '$T/wm.log') -ge $restarts ]" ||
		fail "SIG$sig: the restarted wm did not restore the 4 windows"
	wait_for 10 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" || fail "SIG$sig: wm not up"
	# X: geometry, EWMH state, workspace, stacking as before
	if ! wait_for 10 sh -c "[ \"\$(. '$T/xview'; x_view)\" = '$BEFORE_X' ]"; then
		fail "SIG$sig: X differs after the restart:
before: $BEFORE_X
after:  $(x_view)"
	fi
	# the stored state: the same; and nothing published since the restart was a default,
	# the start-time layout or partial
	after=$(broker_state | jq -S 'del(.windows[].title)')
	[ "$after" = "$BEFORE_STATE" ] || fail "SIG$sig: the stored state changed:
before: $BEFORE_STATE
after:  $after"
	tail -n +$((n_frames + 1)) "$T/broker.jsonl" | jq -e -s 'all(.[] | select(.type == "state") | .state;
		(.windows | length) == 4 and .theme.mode == "light" and .wallpaper.image == "mist.png"
		and ([.windows[] | select(.app.class == "XTerm" and .x == 40)] | length) == 0)' >/dev/null ||
		fail "SIG$sig: a state with defaults, the stale start-time layout or fewer windows was published: $(tail -n +$((n_frames + 1)) "$T/broker.jsonl" | head -c 3000)"
	grep -q "restoring '$RUN/wm-state.json': 4 windows" "$T/wm.log" ||
		fail "SIG$sig: the restarted wm did not read the session's latest state"
	# the wallpaper and the theme are drawn as before (the defaults would be the built-in
	# gradient and the dark taskbar)
	after_px=$(pixels)
	[ "$after_px" = "$BEFORE_PX" ] || fail "SIG$sig: wallpaper/theme pixels differ: before '$BEFORE_PX', after '$after_px'"
done

# the maximized window kept its normal geometry through both restarts
xdotool windowactivate "$MON"
expect_active "$MON"
xdotool key super+Down
expect_geom "$MON" "300 330 580 355" "un-maximized after a SIGTERM and a SIGKILL restart"
wait_for 10 sh -c "! xprop -id $MON _NET_WM_STATE | grep -q MAXIMIZED" || fail "still maximized"
wait_for 15 sh -c "jq -c -s '[.[] | select(.type == \"state\")] | last | .state.windows[] |
	select(.app.class == \"Mon\")' '$T/broker.jsonl' | jq -e '.maximized == false and .x == 300 and .y == 330 and .w == 580 and .h == 355'" ||
	fail "un-maximized geometry not stored: $(broker_state)"
kill -0 "$SPID" || fail "session died"
echo PASS
