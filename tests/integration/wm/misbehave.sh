#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm against misbehaving clients: a window that never maps, absurd size
# hints, an invalid UTF-8 title, a client that dies mid-request, a window destroyed
# right after mapping, a client without WM_DELETE_WINDOW, override-redirect and
# docks. After each, the window manager must still be alive and managing windows.
. "$(dirname "$0")/lib.sh"
start_x 1024x768
start_wm

responsive() { # a fresh window still gets managed
	client --class Probe --title probe --geometry 100x100+300+300
	wait_for 10 managed "$WIN" || fail "not responsive after $1"
	kill "$CPID"
	wait_for 10 sh -c "! xprop -root _NET_CLIENT_LIST | grep -qi $(printf '0x%x' "$WIN")" ||
		fail "dead client still listed after $1"
	wm_alive
}

client --class Ghost --never-map
G=$WIN
responsive "never-mapped window"
managed "$G" && fail "never-mapped window is managed"

client --class Absurd --title absurd --absurd-hints --geometry 200x100+50+50
wait_for 10 managed "$WIN" || fail "absurd hints window not managed"
read -r x y w h < <(geom "$WIN")
((w >= 1 && w <= 32767 && h >= 1 && h <= 32767)) || fail "absurd size $w x $h"
responsive "absurd hints"

client --class BadTitle --bad-title --geometry 200x100+60+60
BT=$WIN
wait_for 10 managed "$BT" || fail "bad-title window not managed"
wait_for 10 state_has '.windows[] | select(.app.class == "BadTitle") | .title | startswith("bad ")' ||
	fail "bad title not exported (sanitised)"
iconv -f UTF-8 -t UTF-8 "$T/state.json" >/dev/null || fail "exported state is not valid UTF-8"
"$WM" --validate-state "$T/state.json" >/dev/null || fail "exported state does not validate"
responsive "invalid UTF-8 title"

client --class Dying --die-after-map --geometry 200x100+70+70
responsive "client dying mid-request"

"$TC" --class Flash --map-destroy >/dev/null
responsive "map then destroy"

client --class Rude --title rude --no-delete --geometry 200x100+80+80
R=$WIN
RP=$CPID
wait_for 10 managed "$R" || fail "rude client not managed"
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $R ]" || fail "rude client not focused"
xdotool key alt+F4
wait_for 10 sh -c "! kill -0 $RP" || fail "client without WM_DELETE_WINDOW not killed"
responsive "killing a client"

client --class Dock --type dock --geometry 1024x30+0+0
DK=$WIN
wait_for 10 managed "$DK" || fail "dock not managed"
same_win "$(frame_of "$DK")" "$(xwininfo -root | awk '/Window id/{print $4}')" && fail "dock not handled"
xprop -id "$DK" _NET_FRAME_EXTENTS | grep -q '= 0, 0, 0, 0' || fail "dock is decorated"
state_has '[.windows[] | select(.app.class == "Dock")] | length == 0' || fail "dock exported as a window"

# a hostile state file boots the defaults (and says why)
printf '{"version":1,"windows":[{"app":{"class":"X"},"workspace":99,"x":0,"y":0,"w":1,"h":1,"stack":0}]}' >"$T/bad.json"
stop_wm
start_wm --restore "$T/bad.json"
wait_for 10 grep -q "ignoring the state to restore" "$T/wm.log" || fail "hostile state not rejected"
responsive "hostile state"
printf '\xff\xfe garbage' >"$T/bad2.json"
stop_wm
start_wm --restore "$T/bad2.json"
responsive "garbage state"
wm_alive
echo PASS
