#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-terminal's tabs under a real Xvfb + argobox-wm, driven by xdotool (real X key and
# button events): Ctrl+Shift+T opens a tab with a shell of its own (its own pty), the tab bar
# appears; Ctrl+Page Up/Down, Ctrl+Tab, Alt+N and a click on a tab switch; the "+" button adds
# one and a middle click closes one; the window's title is the shown tab's; each tab's text is
# saved under the window's key (<key>.txt, <key>.1.txt) and comes back, tab by tab, when the
# wm restores the layout, with each tab's title and working directory (<key>.tabs.json) and the
# tab that was shown shown again; Ctrl+Shift+W closes a tab (and its text); `exit` in the last closes
# the window and removes the rest.
. "$(dirname "$0")/lib.sh"
start_terminal
shells() { pgrep -P "$1" | wc -l; }
title() { xprop -id "$W" _NET_WM_NAME | sed -n 's/.*= "\(.*\)"$/\1/p'; }
# in_tab N: types `tty` into the shown tab and checks it is the pty of tab N (TTY_N)
in_tab() {
	rm -f "$T/tty-now"
	type_line "tty > $T/tty-now"
	wait_file 10 "$T/tty-now" /dev/ || fail "no answer from the shown tab"
	[ "$(cat "$T/tty-now")" = "$(eval echo "\$TTY_$1")" ] ||
		fail "${2:-}: the shown tab is $(cat "$T/tty-now"), not tab $1 ($(eval echo "\$TTY_$1"))"
}
sleep 0.5
type_line "tty > $T/tty1; echo tab-one-\$((6 * 7))"
wait_file 10 "$T/tty1" /dev/ || fail "first tab's shell did not answer"
TTY_1=$(cat "$T/tty1")
[ "$(shells "$APP_PID")" = 1 ] || fail "one tab, $(shells "$APP_PID") shells"
shot "$W" "$T/one.png"
convert "$T/one.png" -crop 1000x30+0+0 +repage "$T/one-bar.png"

# 1. Ctrl+Shift+T: a second tab, a second shell on its own pty, shown, the tab bar drawn
xdotool key ctrl+shift+t
wait_for 10 sh -c "[ \$(pgrep -P $APP_PID | wc -l) = 2 ]" || fail "Ctrl+Shift+T: no second shell"
sleep 0.5
type_line "tty > $T/tty2; echo tab-two-\$((7 * 8)); printf '\\033]0;second-tab\\007'"
wait_file 10 "$T/tty2" /dev/ || fail "second tab's shell did not answer"
TTY_2=$(cat "$T/tty2")
[ "$TTY_1" != "$TTY_2" ] || fail "both tabs on one pty ($TTY_1)"
wait_for 5 sh -c "xprop -id $W _NET_WM_NAME | grep -q second-tab" ||
	fail "the window's title is not the shown tab's: $(title)"
shot "$W" "$T/two.png"
convert "$T/two.png" -crop 1000x30+0+0 +repage "$T/two-bar.png"
# the bar: the active tab underlined in the accent (the first window had no bar)
has_colour "$T/two-bar.png" "#3d8bfd" 400 || fail "no tab bar with the active tab in the accent"
has_colour "$T/one-bar.png" "#3d8bfd" 400 && fail "a tab bar with a single tab"

# 2. keyboard: Ctrl+Page Up / Down, Ctrl+Tab, Alt+1 / Alt+2
xdotool key ctrl+Prior
in_tab 1 "Ctrl+Page Up"
[ "$(title)" != second-tab ] || fail "title still the second tab's after switching"
xdotool key ctrl+Next
in_tab 2 "Ctrl+Page Down"
xdotool key ctrl+Tab
in_tab 1 "Ctrl+Tab (wraps)"
xdotool key alt+2
in_tab 2 "Alt+2"
xdotool key alt+1
in_tab 1 "Alt+1"

# 3. mouse: a click on the second tab shows it; "+" adds a third; a middle click closes it
eval "$(xdotool getwindowgeometry --shell "$W")"
TW=$(((WIDTH - 30) / 2))
((TW > 220)) && TW=220
xdotool mousemove --window "$W" $((TW + 40)) 15 click 1
in_tab 2 "click on the second tab"
xdotool mousemove --window "$W" $((2 * TW + 12)) 15 click 1
wait_for 10 sh -c "[ \$(pgrep -P $APP_PID | wc -l) = 3 ]" || fail "the + button: no third shell"
sleep 0.5
type_line "tty > $T/tty3"
wait_file 10 "$T/tty3" /dev/ || fail "third tab's shell did not answer"
TTY_3=$(cat "$T/tty3")
TW3=$(((WIDTH - 30) / 3))
((TW3 > 220)) && TW3=220
xdotool mousemove --window "$W" $((2 * TW3 + 40)) 15 click 2
wait_for 10 sh -c "[ \$(pgrep -P $APP_PID | wc -l) = 2 ]" || fail "middle click did not close the third tab"
in_tab 2 "after closing the third tab"

# 4. each tab's shell in a directory of its own; the second tab shown when the desktop goes
mkdir -p "$T/dir one" "$T/dir-two"
type_line "cd '$T/dir-two'"
xdotool key ctrl+Prior
in_tab 1 "Ctrl+Page Up before the save"
type_line "cd '$T/dir one'"
xdotool key ctrl+Next
in_tab 2 "Ctrl+Page Down before the save"
wait_for 15 jq -e --arg a "$T/dir one" --arg b "$T/dir-two" \
	'.active == 1 and [.tabs[].cwd] == [$a, $b] and .tabs[1].title == "second-tab"' "$D/$KEY.tabs.json" >/dev/null ||
	fail "the tabs file does not keep the shown tab, titles and directories: $(cat "$D/$KEY.tabs.json")"
[ "$(stat -c %a "$D/$KEY.tabs.json")" = 600 ] || fail "the tabs file is not 0600"

# 5. each tab's text is saved under the window's key, tab by tab
wait_file 15 "$D/$KEY.txt" "tab-one-42" || fail "first tab's text not in $D/$KEY.txt"
wait_file 15 "$D/$KEY.1.txt" "tab-two-56" || fail "second tab's text not in $D/$KEY.1.txt"
grep -q tab-two-56 "$D/$KEY.txt" && fail "second tab's text in the first tab's file"
[ ! -e "$D/$KEY.2.txt" ] || fail "the closed third tab's text was kept"
wait_for 10 state_has "[.windows[] | select(.app.class == \"ArgoBoxTerminal\") | .app.instance] == [\"$KEY\"]" ||
	fail "the layout does not keep the instance: $(cat "$T/state.json")"
cp "$T/state.json" "$T/saved.json"

# 6. the desktop goes away and its layout comes back: two tabs, each with its own old text,
# title and directory, the second shown
kill -9 "$APP_PID" 2>/dev/null || true
stop_wm
start_wm --restore "$T/saved.json"
wait_for 20 xdotool search --classname "$KEY" ||
	fail "no restored terminal with instance $KEY: $(grep restore "$T/wm.log" | tail -3)"
W=$(xdotool search --classname "$KEY" | head -n1)
PID2=$(xprop -id "$W" _NET_WM_PID | awk '{print $NF}')
wait_for 10 sh -c "[ \$(pgrep -P $PID2 | wc -l) = 2 ]" || fail "restored window has $(shells "$PID2") tabs, not 2"
for f in "$KEY.txt:tab-one-42" "$KEY.1.txt:tab-two-56"; do
	wait_for 15 sh -c "grep -q -- '--- restored (saved ' '$D/${f%%:*}'" ||
		fail "restored tab did not save its marker (${f%%:*})"
	awk -v m="${f#*:}" '$0 ~ m {a=NR} /--- restored \(saved /{r=NR} END{exit !(a && r && a < r)}' "$D/${f%%:*}" ||
		fail "old text of ${f%%:*} not above the marker: $(tail -5 "$D/${f%%:*}")"
done
grep -q tab-two-56 "$D/$KEY.txt" && fail "restore mixed the tabs' texts"
[ "$(title)" = second-tab ] || fail "the restored window's title is '$(title)', not the shown tab's 'second-tab'"
xdotool windowactivate --sync "$W" 2>/dev/null || xdotool windowfocus "$W"
expect_active "$(printf 0x%x "$W")"
# pwd_is DIR WHAT: the shown tab's shell is in DIR
pwd_is() {
	rm -f "$T/pwd-now"
	type_line "pwd > $T/pwd-now"
	wait_file 10 "$T/pwd-now" / || fail "$2: no answer from the shown tab"
	[ "$(cat "$T/pwd-now")" = "$1" ] || fail "$2: the shown tab's shell is in $(cat "$T/pwd-now"), not $1"
}
pwd_is "$T/dir-two" "restored: the second tab shown, in its directory"
xdotool key ctrl+Prior
pwd_is "$T/dir one" "restored: the first tab in its directory"
[ "$(title)" != second-tab ] || fail "the first restored tab has the second's title"

# 7. Ctrl+Shift+W closes the shown tab and its text; exit in the last one closes the window
xdotool key ctrl+Next # the second tab
sleep 0.3
xdotool key ctrl+shift+w
wait_for 10 sh -c "[ \$(pgrep -P $PID2 | wc -l) = 1 ]" || fail "Ctrl+Shift+W did not close a tab"
wait_for 5 sh -c "[ ! -e '$D/$KEY.1.txt' ]" || fail "closed tab's text was kept"
[ -e "$D/$KEY.txt" ] || fail "the remaining tab's text went with the closed one"
type_line exit
wait_for 10 sh -c "! kill -0 $PID2 2>/dev/null" || fail "exit in the last tab did not close the window"
wait_for 5 sh -c "[ ! -e '$D/$KEY.txt' ]" || fail "closed window's text was kept"
[ ! -e "$D/$KEY.tabs.json" ] || fail "closed window's tabs file was kept"
echo "PASS: terminal tabs"
