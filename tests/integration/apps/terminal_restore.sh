#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-terminal's scrollback comes back with the desktop's layout: a terminal window keeps
# its text in ~/.local/state/argobox/terminal/<key>.txt (key = its WM_CLASS instance, saved
# while it runs); the desktop goes away (wm and terminal killed); argobox-wm restores the saved
# layout, relaunching the terminal with ARGOBOX_RESTORE_INSTANCE, and the new window has the
# same instance and shows the old text above a marker. Closing it for good removes the text.
. "$(dirname "$0")/lib.sh"
start_terminal
sleep 0.5
type_line "echo restore-marker-\$((6 * 7))"
wait_file 15 "$D/$KEY.txt" "restore-marker-42" || fail "scrollback not saved to $D/$KEY.txt"
[ "$(stat -c %a "$D/$KEY.txt")" = 600 ] || fail "saved text is not 0600"
wait_for 10 state_has "[.windows[] | select(.app.class == \"ArgoBoxTerminal\") | .app.instance] == [\"$KEY\"]" ||
	fail "the layout does not keep the instance: $(cat "$T/state.json")"
cp "$T/state.json" "$T/saved.json"

# the desktop goes away: nothing closes the window cleanly
kill -9 "$APP_PID" 2>/dev/null || true
stop_wm
[ -s "$D/$KEY.txt" ] || fail "the text did not survive the desktop"
start_wm --restore "$T/saved.json"
wait_for 20 xdotool search --classname "$KEY" ||
	fail "no restored terminal with instance $KEY: $(grep restore "$T/wm.log" | tail -3)"
W2=$(xdotool search --classname "$KEY" | head -n1)
PID2=$(xprop -id "$W2" _NET_WM_PID | awk '{print $NF}')
# the restored window shows the old text, then a marker: its next save has both, in order
wait_for 15 sh -c "grep -q -- '--- restored (saved ' '$D/$KEY.txt'" || fail "the restored window did not save the marker"
awk '/restore-marker-42/{m=NR} /--- restored \(saved /{r=NR} END{exit !(m && r && m < r)}' "$D/$KEY.txt" ||
	fail "old text not above the marker: $(tail -5 "$D/$KEY.txt")"
# a new terminal (not restored) starts empty under a key of its own
"$APPS/argobox-terminal" >>"$T/argobox-terminal.log" 2>&1 &
PIDS+=($!)
wait_for 20 sh -c "[ \$(xdotool search --classname '^terminal-' | wc -l) = 2 ]" || fail "no second terminal"
for w in $(xdotool search --classname '^terminal-'); do
	k=$(xprop -id "$w" WM_CLASS | sed -n 's/.*= "\(terminal-[0-9a-f]\{8\}\)".*/\1/p')
	[ "$k" = "$KEY" ] || KEY3=$k
done
[ -n "${KEY3:-}" ] || fail "a new window reused the key $KEY"
# closed by its user: the saved text goes
xdotool windowactivate --sync "$W2" 2>/dev/null || xdotool windowfocus "$W2"
expect_active "$(printf 0x%x "$W2")"
type_line exit
wait_for 10 sh -c "! kill -0 $PID2 2>/dev/null" || fail "exit did not close the restored terminal"
wait_for 5 sh -c "[ ! -e '$D/$KEY.txt' ]" || fail "closed window's text was kept"
echo "PASS: terminal restore"
