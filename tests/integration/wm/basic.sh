#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm: EWMH root properties, reparenting, drags (move, resize, edge snap),
# double-click maximize, size hints, stacking and EWMH client messages.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
start_wm

# root properties
sup=$(xprop -root _NET_SUPPORTED)
for a in _NET_CLIENT_LIST _NET_ACTIVE_WINDOW _NET_WM_STATE_FULLSCREEN _NET_WM_WINDOW_TYPE_DIALOG \
	_NET_WORKAREA _NET_FRAME_EXTENTS _NET_CLOSE_WINDOW _NET_MOVERESIZE_WINDOW _NET_WM_ICON \
	_NET_WM_STATE_HIDDEN _NET_WM_STATE_ABOVE _NET_WM_DESKTOP; do
	grep -q "$a" <<<"$sup" || fail "_NET_SUPPORTED lacks $a"
done
check=$(xprop -root _NET_SUPPORTING_WM_CHECK | awk '{print $NF}')
xprop -id "$check" _NET_WM_NAME | grep -q '"argobox-wm"' || fail "_NET_SUPPORTING_WM_CHECK window has no name"
xprop -root _NET_NUMBER_OF_DESKTOPS | grep -q '= 4$' || fail "not 4 workspaces"
xprop -root _NET_WORKAREA | grep -q '= 0, 0, 1280, 756' || fail "workarea: $(xprop -root _NET_WORKAREA)"

# a window is framed where it asked to be, focused and listed
client --class Alpha --title "Alpha window" --geometry 300x200+200+150 --icon
A=$WIN
wait_for 10 managed "$A" || fail "window not managed"
expect_geom "$A" "200 150 300 200" "initial geometry"
frame=$(frame_of "$A")
same_win "$frame" "$(xwininfo -root -children | awk '/Root window id/{print $4}')" &&
	fail "window was not reparented"
xprop -id "$A" _NET_FRAME_EXTENTS | grep -q '= 4, 4, 32, 4' || fail "frame extents: $(xprop -id "$A" _NET_FRAME_EXTENTS)"
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $A ]" || fail "new window not active"
xprop -id "$A" _NET_WM_DESKTOP | grep -q '= 0$' || fail "_NET_WM_DESKTOP"

# drag the title bar by (+100, +50)
xdotool mousemove 260 134 mousedown 1 mousemove 300 160 mousemove 360 184 mouseup 1
expect_geom "$A" "300 200 300 200" "after title drag"

# resize from the bottom-right corner by (+60, +40)
xdotool mousemove 603 403 mousedown 1 mousemove 640 420 mousemove 663 443 mouseup 1
expect_geom "$A" "300 200 360 240" "after corner resize"
# and from the left edge by -50 (the right edge stays)
xdotool mousemove 297 300 mousedown 1 mousemove 250 300 mousemove 247 300 mouseup 1
expect_geom "$A" "250 200 410 240" "after left-edge resize"

# double-click the title: maximized to the work area, again: back
xdotool mousemove 300 184 click --repeat 2 --delay 80 1
expect_geom "$A" "4 32 1272 720" "maximized"
xprop -id "$A" _NET_WM_STATE | grep -q _NET_WM_STATE_MAXIMIZED_HORZ || fail "no maximized state"
xdotool mousemove 300 16 click --repeat 2 --delay 80 1
expect_geom "$A" "250 200 410 240" "unmaximized"

# dragging to the left screen edge snaps to the left half
xdotool mousemove 300 184 mousedown 1 mousemove 100 184 mousemove 0 184 mouseup 1
expect_geom "$A" "4 32 632 720" "snapped left"
wait_for 10 state_has '.windows[0].x == 4 and .windows[0].w == 632' || fail "state not exported after snap"

# minimum size and increments are honoured while resizing
client_as B Beta Beta 300x300+700+200 --min 200x150 --inc 10x20 --base 0x0
wait_for 10 managed "$B" || fail "second window not managed"
xdotool mousemove 1003 503 mousedown 1 mousemove 800 400 mousemove 703 303 mouseup 1
expect_geom "$B" "700 200 200 160" "min size / increments"

# stacking: clicking A raises it and focuses it
xdotool mousemove 200 16 click 1
wait_for 10 sh -c "xprop -root _NET_CLIENT_LIST_STACKING | awk '{print \$NF}' | grep -qi $(printf '0x%x' "$A")" ||
	fail "click did not raise A: $(xprop -root _NET_CLIENT_LIST_STACKING)"
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $A ]" || fail "click did not focus A"

# EWMH client messages: activate, move/resize requests, desktop, minimize, close
xdotool windowactivate "$B"
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $B ]" || fail "_NET_ACTIVE_WINDOW request ignored"
xdotool windowmove "$B" 500 300 windowsize "$B" 400 300
expect_geom "$B" "500 300 400 300" "configure request"
xdotool set_desktop_for_window "$B" 2
wait_for 10 sh -c "xprop -id $B _NET_WM_DESKTOP | grep -q '= 2$'" || fail "_NET_WM_DESKTOP request ignored"
wait_for 10 sh -c "xwininfo -id $B | grep -q IsUnviewable" || fail "window on another workspace still shown"
xdotool set_desktop 2
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 2$'" || fail "_NET_CURRENT_DESKTOP request ignored"
wait_for 10 sh -c "xwininfo -id $B | grep -q IsViewable" || fail "window not shown on its workspace"
xdotool windowminimize "$B"
wait_for 10 sh -c "xprop -id $B _NET_WM_STATE | grep -q _NET_WM_STATE_HIDDEN" || fail "minimize ignored"
wait_for 10 state_has '[.windows[] | select(.app.class == "Beta") | .minimized] == [true]' || fail "minimized not exported"
xdotool windowactivate "$B"
wait_for 10 sh -c "! xprop -id $B _NET_WM_STATE | grep -q _NET_WM_STATE_HIDDEN" || fail "activate did not restore"

# dialogs are centred over their parent
xdotool set_desktop 0
client_as D Alpha "Dialog" 200x100 --transient-for "$A"
wait_for 10 managed "$D" || fail "dialog not managed"
# A is snapped at 4,32 632x720: centre (320, 392) -> dialog at (220, 342)
expect_geom "$D" "220 342 200 100" "dialog placement"
xprop -id "$D" _NET_WM_DESKTOP | grep -q '= 0$' || fail "dialog not on its parent's workspace"

# a title in COMPOUND_TEXT (WM_NAME only) is converted to UTF-8
client --class Ctext --ctext-title "café — notes" --geometry 200x100+900+500
wait_for 10 state_has '[.windows[] | select(.app.class == "Ctext") | .title] == ["café — notes"]' ||
	fail "COMPOUND_TEXT title: $(jq -c '[.windows[].title]' "$T/state.json")"
kill "$CPID"

# fullscreen asked for before mapping: the whole screen, no decorations, above the taskbar
client_as F Full full 300x200+100+100 --fullscreen
wait_for 10 managed "$F" || fail "fullscreen window not managed"
expect_geom "$F" "0 0 1280 800" "fullscreen"
xprop -id "$F" _NET_FRAME_EXTENTS | grep -q '= 0, 0, 0, 0' || fail "fullscreen window has decorations"
xprop -id "$F" _NET_WM_STATE | grep -q _NET_WM_STATE_FULLSCREEN || fail "no fullscreen state"
xdotool windowclose "$F" 2>/dev/null || kill "$CPID"
wait_for 10 sh -c "! xprop -root _NET_CLIENT_LIST | grep -qi $(printf '0x%x' "$F")" || fail "fullscreen window not gone"

# EWMH requests sent by the client itself: state toggle, move/resize, close
client_as R Req req 300x200+100+100 --send-state _NET_WM_STATE_MAXIMIZED_VERT
expect_geom "$R" "4 32 1272 720" "_NET_WM_STATE toggle request"
kill "$CPID"
client_as R Req req2 300x200+100+100 --send-moveresize 150,160,350,250
expect_geom "$R" "150 160 350 250" "_NET_MOVERESIZE_WINDOW request"
client_as R Req req3 300x200+100+100 --send-close
RP=$CPID
wait_for 10 sh -c "! kill -0 $RP" || fail "_NET_CLOSE_WINDOW request ignored"

# the close button asks politely (WM_DELETE_WINDOW): the client exits
xdotool windowactivate "$A"
expect_active $A
# A's frame: x 0..640; close button centre at 640-4-4-17 = 615, y 17
xdotool mousemove 615 17 click 1
wait_for 10 sh -c "! xprop -root _NET_CLIENT_LIST | grep -qi $(printf '0x%x' "$A")" || fail "close button did not close A"
# the session resizes the screen (RandR): taskbar, work area and maximized windows follow
if command -v xrandr >/dev/null; then
	client_as M Big big 300x200+100+100 --send-state _NET_WM_STATE_MAXIMIZED_VERT
	expect_geom "$M" "4 32 1272 720" "maximized before resize"
	xrandr --fb 1024x768 >/dev/null 2>&1 || true
	wait_for 10 sh -c "xprop -root _NET_WORKAREA | grep -q '= 0, 0, 1024, 724'" || fail "workarea after resize: $(xprop -root _NET_WORKAREA)"
	expect_geom "$M" "4 32 1016 688" "maximized after resize"
	wait_for 10 sh -c "xwininfo -root -children | grep -q ' 1024x44+0+724 '" || fail "taskbar not moved"
fi
wm_alive
echo "PASS"
