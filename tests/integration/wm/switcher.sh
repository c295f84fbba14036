#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Alt+Tab switcher and the app shortcuts, driven with XTest (xdotool) under Xvfb:
# holding Alt, Tab / Shift+Tab move the selection on a card listing the current workspace's
# windows (most recently used first) without moving the focus; releasing Alt focuses the
# selected window (un-minimizing it); Escape cancels; a window closing meanwhile leaves the card.
# Super+T / Super+E start the profile's terminal / files app, or say there is none.
. "$(dirname "$0")/lib.sh"
need_tools import convert
start_x 1024x768
mkdir -p "$T/share/applications"
for a in terminal files; do
	printf '[Desktop Entry]\nType=Application\nName=Test %s\nExec=%s --class Test-%s --title %s\nX-ArgoBox-App=%s\n' \
		"$a" "$TC" "$a" "$a" "$a" >"$T/share/applications/swtest-$a.desktop"
done
ARGOBOX_APPS=swtest-terminal.desktop,swtest-files.desktop start_wm

# Super+T, Super+E: their apps start; the launcher does not open
xdotool key super+t
wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"Test-terminal\"'" || fail "Super+T started no terminal"
xdotool key super+e
wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"Test-files\"'" || fail "Super+E started no file manager"
xwininfo -root -children | grep -q "440x540" && fail "Super+T/E opened the launcher"
for w in $(xwininfo -root -tree | awk '/"Test-/{print $1}'); do xdotool windowclose "$w" 2>/dev/null || true; done
wait_for 10 sh -c "! xwininfo -root -tree | grep -q '\"Test-'" || fail "test apps did not close"

# D goes to workspace 2; A, B, C on workspace 1 (C focused last)
client_as D Delta Delta 300x200+600+400
wait_for 10 managed "$D" || fail "D not managed"
expect_active "$D"
xdotool key ctrl+alt+shift+Right
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 1'" || fail "D not sent to workspace 2"
xdotool key ctrl+alt+Left
wait_for 10 sh -c "xprop -root _NET_CURRENT_DESKTOP | grep -q '= 0'" || fail "not back on workspace 1"
client_as A Alpha Alpha 300x200+50+50
expect_active "$A"
client_as B Beta Beta 300x200+150+150
expect_active "$B"
client_as C Gamma Gamma 300x200+250+250
C_PID=$CPID
expect_active "$C"

card() { xwininfo -root -children | awk '/ 520x[0-9]+\+/{print; exit}'; }
card_rows() { # the rows the mapped card shows (12 px padding, 44 px rows)
	local g
	g=$(xwininfo -root -children | awk '/ 520x[0-9]+\+/{print $0}' | grep -o '520x[0-9]*' | head -n1)
	[ -n "$g" ] && xwininfo -id "$(card | awk '{print $1}')" | grep -q IsViewable && echo $(((${g#520x} - 24) / 44))
}
selected() { # selected ROW: the accent bar is on that row of the card
	local cx cy
	read -r cx cy < <(card | grep -o '+[0-9]*+[0-9]*' | head -n1 | tr '+' ' ')
	check "$((cx + 9))" "$((cy + 12 + $1 * 44 + 22))" "#3d8bfd" "switcher selection on row $1"
}

xdotool keydown alt
xdotool key Tab
wait_for 10 sh -c "[ \"\$($(declare -f card card_rows); card_rows)\" = 3 ]" ||
	fail "switcher card: want 3 rows (workspace 1 only), got '$(card_rows)'"
[ "$("$TC" --probe-keyboard)" = grabbed ] || fail "the switcher does not hold the keyboard"
selected 1 # B, the window before C in the history
same_win "$(active)" "$C" || fail "focus moved while Alt is held"
xdotool key Tab
selected 2 # A
xdotool key shift+Tab shift+Tab
selected 0 # C
xdotool key shift+Tab
selected 2 # wrapped around to A
xdotool keyup alt
expect_active "$A"
wait_for 10 sh -c "[ -z \"\$($(declare -f card card_rows); card_rows)\" ]" || fail "card still shown after Alt release"
wait_for 10 sh -c "[ \"\$('$TC' --probe-keyboard)\" = free ]" || fail "keyboard still grabbed"
xprop -root _NET_CLIENT_LIST_STACKING | awk '{print $NF}' | grep -qi "$(printf '0x%x' "$A")" || fail "A not raised"

# history now A, C, B: Escape cancels
xdotool keydown alt key Tab key Escape keyup alt
sleep 0.3
same_win "$(active)" "$A" || fail "Escape changed the focus"
[ -z "$(card_rows)" ] || fail "card shown after Escape"

# a minimized window is restored when picked (history A, C, B: B is row 2)
xdotool windowminimize "$B"
wait_for 10 sh -c "xprop -id $B _NET_WM_STATE | grep -q HIDDEN" || fail "B not minimized"
expect_active "$A"
xdotool keydown alt key Tab key Tab keyup alt
expect_active "$B"
xprop -id "$B" _NET_WM_STATE | grep -q HIDDEN && fail "B still minimized after the switcher picked it"

# a window that closes while the card is open leaves it (history B, A, C: C on row 2)
xdotool keydown alt key Tab key Tab
selected 2
kill "$C_PID"
wait_for 10 sh -c "[ \"\$($(declare -f card card_rows); card_rows)\" = 2 ]" || fail "closed window still on the card ($(card_rows) rows)"
xdotool keyup alt
expect_active "$A"
wm_alive

# no files app allowed: Super+E says so and starts nothing
stop_wm
ARGOBOX_APPS=swtest-terminal.desktop start_wm
xdotool key super+e
wait_for 10 grep -q "no allowed app provides 'files'" "$T/wm.log" || fail "no message for a missing files app"
xwininfo -root -tree | grep -q '"Test-files"' && fail "a disallowed files app started"
wm_alive
stop_wm
echo PASS
