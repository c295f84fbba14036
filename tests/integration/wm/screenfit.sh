#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Windows after the screen shrinks and grows (issue 24), under the real argobox-session: an RFB
# client (vnctest, libvncclient) asks for 1024x700 (SetDesktopSize, RandR in Xvfb); a window at
# x=1150 is moved in, entirely on screen, one already on screen stays; back at 1600x900 (this
# time by xrandr inside the desktop, which the session follows) it returns where it was. A
# window the user moved while the screen was small stays where the user put it.
. "$(dirname "$0")/lib.sh"
SESSION=$B/session/argobox-session
VNC=$B/tests/integration/session/ab_vnctest
[ -x "$SESSION" ] || { echo "SKIP: argobox-session is not built"; exit 77; }
[ -x "$VNC" ] || { echo "SKIP: ab_vnctest is not built"; exit 77; }
command -v xrandr >/dev/null || { echo "SKIP: xrandr is not installed"; exit 77; }
RUN=$T/run
start_session 1600x900
wait_for 20 sh -c "ps -o comm= --ppid $SPID | grep -q '^argobox-wm'" || fail "no window manager process"
WPID=$(ps -o pid=,comm= --ppid "$SPID" | awk '$2 ~ /^argobox-wm/ {print $1; exit}')
WM_PID=$WPID
export DISPLAY=$(tr '\0' '\n' <"/proc/$WPID/environ" | sed -n 's/^DISPLAY=//p')
wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" || fail "wm not running"
vnc() { ASAN_OPTIONS=detect_leaks=0 "$VNC" "$RUN/rfb.sock" "$@" >>"$T/vnc.log" 2>&1 || fail "vnctest $*"; }
# (grep without -q reads to the end: with pipefail, a grep -q that leaves early can fail the
# pipeline when xdpyinfo, still writing, gets SIGPIPE)
screen_is() { xdpyinfo | grep "dimensions: *$1 pixels" >/dev/null; }

client_as FAR Far far 300x200+1150+100
client_as NEAR Near near 300x200+100+100
client_as LOW Low low 400x300+600+560
expect_geom "$FAR" "1150 100 300 200" "far window at first"
expect_geom "$LOW" "600 560 400 300" "low window at first"

# frame of WIN (content plus the decorations) lies within W x H
frame_inside() { # frame_inside WIN W H
	local f x y w h
	f=$(frame_of "$1")
	read -r x y w h <<<"$(geom "$f")"
	((x >= 0 && y >= 0 && x + w <= $2 && y + h <= $3))
}

vnc wait-size 1600 900 resize 1024 700 wait-size 1024 700
wait_for 10 screen_is 1024x700 || fail "screen not 1024x700: $(xdpyinfo | grep dimensions)"
wait_for 10 frame_inside "$FAR" 1024 700 || fail "far window not moved on screen: $(geom "$(frame_of "$FAR")")"
wait_for 10 frame_inside "$LOW" 1024 700 || fail "low window not moved on screen: $(geom "$(frame_of "$LOW")")"
read -r fx fy _ <<<"$(geom "$FAR")"
((fy == 100)) || fail "far window moved up or down ($fx,$fy), only sideways was needed"
expect_geom "$NEAR" "100 100 300 200" "a window that was on screen stays"
echo "ok: 1600x900 -> 1024x700: far window at $(geom "$FAR"), low window at $(geom "$LOW")"

# the user moves the low window while the screen is small (an app's move request counts too)
xdotool windowmove "$LOW" 50 50
expect_geom "$LOW" "50 50 400 300" "low window moved by the user"

# grows again, by xrandr inside the desktop this time (the session follows it)
xrandr --fb 1600x900 >/dev/null 2>&1 || fail "xrandr --fb 1600x900"
wait_for 10 screen_is 1600x900 || fail "screen not back to 1600x900"
expect_geom "$FAR" "1150 100 300 200" "far window back where it was"
expect_geom "$LOW" "50 50 400 300" "the window the user moved stays"
expect_geom "$NEAR" "100 100 300 200" "the on-screen window still in place"
echo "ok: back at 1600x900: far window returned, the moved one stayed"

# in steps: 1600 -> 1024 -> 1280 -> 1600 also ends where it began
vnc resize 1024 700 wait-size 1024 700
wait_for 10 frame_inside "$FAR" 1024 700 || fail "far window not moved in (second time)"
vnc resize 1280 800 wait-size 1280 800
wait_for 10 frame_inside "$FAR" 1280 800 || fail "far window off a 1280x800 screen"
vnc resize 1600 900 wait-size 1600 900
expect_geom "$FAR" "1150 100 300 200" "far window back after two steps"
grep -q "moved in from 1150,100" "$T/wm.log" || fail "no log line for the move"
wm_alive
echo PASS
