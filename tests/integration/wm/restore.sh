#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm state round trip: arrange windows (moved, maximized, minimized, on another
# workspace, stacked), export the state, kill the window manager and every app, start
# again with --restore: the apps are relaunched from their .desktop entries and every
# window comes back with exactly the same workspace, geometry, state and stacking.
# Also: restarting the window manager alone adopts the running windows unchanged.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
mkdir -p "$T/share/applications"
for app in Alpha Beta; do
	cat >"$T/share/applications/wmtest-${app,,}.desktop" <<EOT
[Desktop Entry]
Type=Application
Name=$app
Exec=$TC --class $app --title $app
StartupWMClass=$app
Categories=Utility;
EOT
done
export XDG_DATA_DIRS=$T/share:$S/assets
start_wm

client --class Alpha --title Alpha --geometry 300x200+100+100
A1=$WIN
client --class Beta --title Beta --geometry 320x240+400+150
B1=$WIN
client --class Alpha --title Alpha --geometry 200x150+600+300
A2=$WIN
XT=
if command -v xterm >/dev/null; then
	xterm -geometry 80x24+150+400 &
	PIDS+=($!)
	wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"XTerm\"'" || fail "xterm did not map"
	XT=$(xwininfo -root -tree | awk '/"XTerm"/{print $1; exit}')
	wait_for 10 managed "$XT" || fail "xterm not managed"
	xdotool windowminimize "$XT"
fi
wait_for 10 managed "$A2" || fail "not managed"
xdotool windowmove "$A1" 123 145
xdotool set_desktop_for_window "$B1" 1
xdotool windowactivate "$A2"
expect_active $A2
xdotool key super+Up
n=3
[ -n "$XT" ] && n=4
wait_for 10 state_has "(.windows | length) == $n and ([.windows[] | select(.maximized)] | length) == 1
	and ([.windows[] | select(.workspace == 1)] | length) == 1
	and ([.windows[] | select(.x == 123 and .y == 145)] | length) == 1" ||
	fail "state not exported: $(cat "$T/state.json")"
[ -z "$XT" ] || wait_for 10 state_has '[.windows[] | select(.minimized)] | length == 1' || fail "minimized xterm not exported"

# X's own view of the geometry, per window: "class x y w h"
x_view() {
	local w cls
	for w in $(xprop -root _NET_CLIENT_LIST | sed 's/.*# //; s/,//g'); do
		cls=$(xprop -id "$w" WM_CLASS | awk -F'"' '{print $4}')
		echo "$cls $(geom "$w")"
	done | sort
}
expected_view() { # from a state file: maximized windows fill the work area
	jq -r '.windows[] | "\(.app.class) " + (if .maximized then "4 32 1272 720"
		else "\(.x) \(.y) \(.w) \(.h)" end)' "$1" | sort
}
cp "$T/state.json" "$T/saved.json"
[ "$(x_view)" = "$(expected_view "$T/saved.json")" ] ||
	fail "exported state does not match X: $(x_view) vs $(expected_view "$T/saved.json")"

# 1. restarting the window manager alone loses nothing
stop_wm
rm -f "$T/state.json"
start_wm
wait_for 10 state_has "(.windows | length) == $n" || fail "windows not adopted after restart"
[ "$(jq -S '[.windows[] | del(.stack)] | sort_by(.app.class, .x)' "$T/state.json")" = \
  "$(jq -S '[.windows[] | del(.stack)] | sort_by(.app.class, .x)' "$T/saved.json")" ] ||
	fail "adoption changed the layout: $(cat "$T/state.json")"

# 2. kill the window manager and every app, then restore from the saved state
stop_wm
for p in "${PIDS[@]:1}"; do
	kill "$p" 2>/dev/null || true
done
wait_for 10 sh -c "! xwininfo -root -tree | grep -Eq '\"(Alpha|Beta|XTerm)\"'" || fail "apps did not exit"
rm -f "$T/state.json"
start_wm --restore "$T/saved.json"
wait_for 30 grep -q "restore: placed $n of $n windows" "$T/wm.log" || fail "restore did not complete"
wait_for 10 state_has "(.windows | length) == $n" || fail "restored state not exported"
before=$(jq -S '.windows | map(del(.title))' "$T/saved.json")
after=$(jq -S '.windows | map(del(.title))' "$T/state.json")
[ "$before" = "$after" ] || fail "restored layout differs:
before: $before
after:  $after"
[ "$(x_view)" = "$(expected_view "$T/saved.json")" ] ||
	fail "restored X geometry differs: $(x_view) vs $(expected_view "$T/saved.json")"
grep -o "restore: placed.*" "$T/wm.log"
wm_alive
echo PASS
