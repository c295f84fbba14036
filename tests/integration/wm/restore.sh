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

client_as A1 Alpha Alpha 300x200+100+100
client_as B1 Beta Beta 320x240+400+150
client_as A2 Alpha Alpha 200x150+600+300
XT=
if command -v xterm >/dev/null; then
	xterm_at 80x24+150+400
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
# a stand-in for the session records every state frame the window manager publishes
SOCK=$T/wm.sock
start_peer "$T/peer.jsonl"
wait_for 10 test -S "$SOCK" || fail "test peer did not listen"
start_wm --restore "$T/saved.json" --socket "$SOCK"
wait_for 30 grep -q "restore: placed $n of $n windows" "$T/wm.log" || fail "restore did not complete"
wait_for 10 state_has "(.windows | length) == $n" || fail "restored state not exported"
wait_for 10 grep -q '"type":"state"' "$T/peer.jsonl" || fail "restored state not sent to the session"
# never a partial layout on the control channel while the restore ran
jq -e -s --argjson n "$n" '[.[] | select(.type == "state")] | length >= 1 and
	all(.[]; (.state.windows | length) == $n)' "$T/peer.jsonl" >/dev/null ||
	fail "a state with fewer than $n windows was published during the restore: $(jq -c 'select(.type == "state") | .state.windows | length' "$T/peer.jsonl" | tr '\n' ' ')"
before=$(jq -S '.windows | map(del(.title))' "$T/saved.json")
after=$(jq -S '.windows | map(del(.title))' "$T/state.json")
[ "$before" = "$after" ] || fail "restored layout differs:
before: $before
after:  $after"
[ "$(x_view)" = "$(expected_view "$T/saved.json")" ] ||
	fail "restored X geometry differs: $(x_view) vs $(expected_view "$T/saved.json")"
grep -o "restore: placed.*" "$T/wm.log"
wm_alive

# 3. live restore ({"type":"restore"} on the control channel): existing windows take the
# saved geometry, workspace and state; settings apply; then the result is exported
jq -c '{v: 1, type: "restore", state: (.
	| .windows |= map(if .app.class == "Beta" then .x = 77 | .y = 88 | .w = 250 | .h = 180
		| .workspace = 2 | .maximized = false else . end)
	| .theme = {"mode": "light", "accent": "#e5484d"}
	| .taskbar.position = "top")}' "$T/saved.json" >"$T/send.jsonl"
# the peer sends send.jsonl after each hello: restart the peer and the window manager
stop_wm
kill "$PEER_PID"
wait "$PEER_PID" 2>/dev/null || true
rm -f "$SOCK"
: >"$T/peer.jsonl"
start_peer "$T/peer.jsonl" "$T/send.jsonl"
wait_for 10 test -S "$SOCK" || fail "test peer did not listen"
start_wm --socket "$SOCK"
wait_for 10 grep -q "restore (live): $n of $n saved windows matched" "$T/wm.log" ||
	fail "live restore not applied"
wait_for 10 state_has '[.windows[] | select(.app.class == "Beta")][0] |
	.x == 77 and .y == 88 and .w == 250 and .h == 180 and .workspace == 2' ||
	fail "live restore geometry not exported: $(cat "$T/state.json")"
state_has '.theme.mode == "light" and .taskbar.position == "top"' || fail "live settings not applied"
BW=$(xdotool search --class '^Beta$' | head -n1)
[ "$(xprop -id "$BW" _NET_WM_DESKTOP | awk '{print $NF}')" = 2 ] || fail "Beta not on workspace 2"
wait_for 10 sh -c "jq -e -s 'any(.[]; .type == \"state\" and .state.theme.mode == \"light\")' '$T/peer.jsonl'" ||
	fail "live restore not published"
wm_alive

# 4. a restore that never completes (an app whose window never appears) still ends
# after the timeout, and only then publishes
stop_wm
cat >"$T/share/applications/wmtest-ghost.desktop" <<EOT
[Desktop Entry]
Type=Application
Name=Ghost
Exec=/bin/true
StartupWMClass=Ghost
EOT
jq '.windows += [{"app": {"class": "Ghost", "instance": "", "desktop_id": "wmtest-ghost.desktop"},
	"title": "Ghost", "workspace": 0, "x": 10, "y": 10, "w": 100, "h": 100, "stack": (.windows | length)}]' \
	"$T/saved.json" >"$T/ghost.json"
: >"$T/send.jsonl"
: >"$T/peer.jsonl"
rm -f "$T/state.json"
start_wm --restore "$T/ghost.json" --socket "$SOCK" --restore-timeout 1500
wait_for 30 grep -q "restore: gave up waiting for 1 windows" "$T/wm.log" || fail "restore never ended"
wait_for 10 grep -q '"type":"state"' "$T/peer.jsonl" || fail "no state published after the timeout"
jq -e -s --argjson n "$n" '[.[] | select(.type == "state")] | all(.[]; (.state.windows | length) == $n)' \
	"$T/peer.jsonl" >/dev/null || fail "partial state published during the restore"
# the log line order: no export before the restore ended
! awk '/restore: gave up/{exit} /state: exported/{found=1} END{exit !found}' "$T/wm.log" ||
	fail "exported before the restore ended"
wm_alive
echo PASS
