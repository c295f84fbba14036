#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm keyboard shortcuts, driven with XTest (xdotool): Super+arrows snap and
# maximize, Alt+Tab cycles, Ctrl+Alt+arrows switch workspaces, Alt+F4 closes,
# Super opens the launcher and typing searches it. xterm's increments are kept.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
start_wm

client_as A Alpha Alpha 300x200+100+100
client_as B Beta Beta 300x200+500+100
wait_for 10 managed "$B" || fail "not managed"
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $B ]" || fail "B not active"

xdotool key super+Left
expect_geom "$B" "4 32 632 720" "Super+Left"
xdotool key super+Right
expect_geom "$B" "644 32 632 720" "Super+Right"
xdotool key super+Up
expect_geom "$B" "4 32 1272 720" "Super+Up"
xprop -id "$B" _NET_WM_STATE | grep -q MAXIMIZED_VERT || fail "Super+Up did not set maximized state"
xdotool key super+Down
expect_geom "$B" "500 100 300 200" "Super+Down restores"
# Super alone never fired the launcher during these combinations
xwininfo -root -children | grep -q "440x540" && fail "launcher opened by Super+arrow"

# Alt+Tab: back to A, and again to B (most recently used first)
xdotool key alt+Tab
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $A ]" || fail "Alt+Tab did not focus A"
xprop -root _NET_CLIENT_LIST_STACKING | awk '{print $NF}' | grep -qi "$(printf '0x%x' "$A")" || fail "Alt+Tab did not raise A"
xdotool key alt+Tab
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $B ]" || fail "second Alt+Tab did not go back to B"

# after Alt+Tab the keyboard belongs to the applications again
wait_for 10 sh -c "[ \"\$('$TC' --probe-keyboard)\" = free ]" || fail "keyboard still grabbed after Alt+Tab"

# the taskbar's workspace switcher (pills of 26 px from x = 54, 4 px apart)
xdotool mousemove $((54 + 2 * 30 + 13)) 778 click 1
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 2$'" || fail "switcher click"
xdotool mousemove 67 778 click 1
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 0$'" || fail "switcher click back"
# a taskbar button: click focuses, click again minimizes, click again restores
# (window buttons from x = 184, 220 px each, in manage order: A, B)
xdotool mousemove 250 778 click 1
expect_active "$A"
xdotool mousemove 250 778 click 1
wait_for 10 sh -c "xprop -id $A _NET_WM_STATE | grep -q _NET_WM_STATE_HIDDEN" || fail "taskbar click did not minimize"
xdotool mousemove 250 778 click 1
wait_for 10 sh -c "! xprop -id $A _NET_WM_STATE | grep -q _NET_WM_STATE_HIDDEN" || fail "taskbar click did not restore"
expect_active "$A"

# workspaces
xdotool key ctrl+alt+Right
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 1$'" || fail "Ctrl+Alt+Right"
wait_for 10 sh -c "xwininfo -id $A | grep -q IsUnviewable" || fail "A still shown on workspace 2"
wait_for 10 state_has '.workspaces.current == 1' || fail "workspace not exported"
xdotool key ctrl+alt+Left
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 0$'" || fail "Ctrl+Alt+Left"
wait_for 10 sh -c "xwininfo -id $A | grep -q IsViewable" || fail "A not shown again"

# Alt+F4 closes the focused window
xdotool windowactivate "$A"
expect_active $A
xdotool key alt+F4
wait_for 10 sh -c "! xprop -root _NET_CLIENT_LIST | grep -qi $(printf '0x%x' "$A")" || fail "Alt+F4 did not close A"

# the launcher: Super opens it, typing filters, Enter starts the app
mkdir -p "$T/share/applications"
cat >"$T/share/applications/wmtest-gamma.desktop" <<EOT
[Desktop Entry]
Type=Application
Name=Gamma Tool
Comment=test app
Exec=$TC --class Gamma --title Gamma
Categories=Utility;
EOT
stop_wm
start_wm
xdotool key super
wait_for 10 sh -c "xwininfo -root -children | grep -q '440x540'" || fail "Super did not open the launcher"
[ "$("$TC" --probe-keyboard)" = grabbed ] || fail "launcher does not hold the keyboard"
xdotool key Escape
wait_for 10 sh -c "[ \"\$('$TC' --probe-keyboard)\" = free ]" || fail "Escape did not close the launcher"
xdotool key super
wait_for 10 sh -c "[ \"\$('$TC' --probe-keyboard)\" = grabbed ]" || fail "launcher did not reopen"
xdotool type --delay 20 gamm
xdotool key Return
wait_for 10 sh -c "xprop -root _NET_CLIENT_LIST | tr -d ',' | tr ' ' '\n' | grep -q 0x" || fail "nothing started"
wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"Gamma\"'" || fail "launcher did not start Gamma"
# the window knows the .desktop entry it was started from (via _NET_WM_PID)
wait_for 10 state_has '[.windows[] | select(.app.class == "Gamma") | .app.desktop_id] == ["wmtest-gamma.desktop"]' ||
	fail "launched window lacks its desktop id: $(cat "$T/state.json")"
# right-click on its taskbar button pins the app; right-click on the pin unpins it
# (buttons: launcher 8..40, workspaces 54..174, windows from 184, 220 px each: B, Gamma)
xdotool mousemove 450 778 click 3
wait_for 10 state_has '.taskbar.pinned == ["wmtest-gamma.desktop"]' || fail "pinning failed: $(jq -c .taskbar "$T/state.json")"
xdotool mousemove 60 778 click 3
wait_for 10 state_has '.taskbar.pinned == []' || fail "unpinning failed: $(jq -c .taskbar "$T/state.json")"

# xterm: maximize ignores increments, normal geometry keeps them
if command -v xterm >/dev/null; then
	xterm_at 80x24+200+200
	X=$XT
	g0=$(geom "$X")
	xdotool windowactivate "$X"
	expect_active $X
	xdotool key super+Up
	expect_geom "$X" "4 32 1272 720" "xterm maximized"
	xdotool key super+Down
	expect_geom "$X" "$g0" "xterm restored"
fi
wm_alive
echo PASS
