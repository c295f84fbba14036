#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm control channel: starts before the session's socket exists and connects
# when it appears (backoff); says hello; sends valid, debounced state messages; shows
# notification pop-ups (stacked, dismissed by a click); applies theme and status
# messages; answers ping; ignores bad messages without dropping the connection.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
SOCK=$T/wm.sock
cat >"$T/send.jsonl" <<'EOT'
{"v":1,"type":"notify","title":"Time is running out","body":"Your demo desktop ends in 5 minutes.","urgency":"critical","timeout_ms":0}
{"v":1,"type":"notify","title":"Hello","body":"A message from the admin","urgency":"normal","timeout_ms":600000}
{"v":1,"type":"notify","title":"Brief","body":"gone soon","urgency":"low","timeout_ms":200}
{"v":1,"type":"notify","body":"no title: ignored"}
{"v":1,"type":"theme","mode":"purple"}
{"v":1,"type":"theme","mode":"light","accent":"#e5484d"}
{"v":1,"type":"status","id":"ttl","text":"58 min left"}
{"v":1,"type":"wallpaper","image":"../../etc/passwd"}
{"v":1,"type":"ping","seq":7,"t":123}
{"v":1,"type":"taskbar","position":"left"}
{"v":1,"type":"taskbar","position":"top","autohide":true}
EOT
peer_has() { # peer_has FILTER: FILTER holds for the array of received messages
	jq -e -s "$1" "$T/peer.jsonl" >/dev/null 2>&1
}
start_wm --socket "$SOCK"
client --class Alpha --title Alpha --geometry 300x200+100+100
wait_for 10 grep -q "not there yet" "$T/wm.log" || fail "no retry message while the socket is missing"

"$PEER" "$SOCK" "$T/peer.jsonl" "$T/send.jsonl" 2>"$T/peer.log" &
PIDS+=($!)
wait_for 15 grep -q '"type":"hello"' "$T/peer.jsonl" || fail "window manager did not connect"
peer_has 'map(select(.type == "hello"))[0] | .role == "wm" and .v == 1' || fail "bad hello"
wait_for 10 grep -q '"type":"pong"' "$T/peer.jsonl" || fail "no pong"
peer_has 'map(select(.type == "pong"))[0] | .seq == 7 and .t == 123' || fail "bad pong"

# two pop-ups, stacked at the top right (the brief one expired by itself)
wait_for 10 grep -q "notification 'Brief'" "$T/wm.log" || fail "brief notification not shown"
wait_for 10 sh -c "[ \$(xwininfo -root -children | grep -c ' 360x') = 2 ]" || fail "notifications not shown: $(xwininfo -root -children)"
ys=$(xwininfo -root -children | awk '/ 360x/{print $NF}' | sort -u | wc -l)
[ "$ys" = 2 ] || fail "notifications overlap"

# theme and status arrive in the next state; the bad theme and wallpaper were refused
wait_for 10 peer_has 'any(.[]; .type == "state" and .state.theme == {"mode":"light","accent":"#e5484d"})' ||
	fail "theme change not applied/exported"
grep -q "is not dark/light" "$T/wm.log" || fail "bad theme not reported"
if command -v import >/dev/null; then
	# and it shows: a light title bar with the new accent line on the focused window
	check 246 78 "#f6f7f9" "light title bar"
	check 246 69 "#e5484d" "new accent colour"
fi
grep -q "not a plain file name" "$T/wm.log" || fail "hostile wallpaper path not refused"
grep -q "notify needs a string 'title'" "$T/wm.log" || fail "bad notify not reported"

# every state message is valid; states are debounced (not one per event)
i=0
jq -c 'select(.type == "state") | .state' "$T/peer.jsonl" | while read -r st; do
	echo "$st" >"$T/st.$i.json"
	"$WM" --validate-state "$T/st.$i.json" >/dev/null || fail "invalid state sent: $st"
	i=$((i + 1))
done
peer_has 'any(.[]; .type == "state" and (.state.windows | map(.app.class) | index("Alpha")) != null)' ||
	fail "state lacks the window"

# the taskbar moved to the top and hides itself: the work area is the whole screen, and
# the bar slides in when the pointer reaches the top edge
wait_for 10 sh -c "xprop -root _NET_WORKAREA | grep -q '= 0, 0, 1280, 800'" || fail "workarea with autohide: $(xprop -root _NET_WORKAREA)"
wait_for 10 peer_has 'any(.[]; .type == "state" and .state.taskbar.position == "top" and .state.taskbar.autohide)' ||
	fail "taskbar settings not exported"
grep -q "taskbar needs 'position'" "$T/wm.log" || fail "bad taskbar message not reported"
xwininfo -root -children | grep -q ' 1280x44+0+-42 ' ||
	fail "hidden bar not at the top edge: $(xwininfo -root -children | grep 1280x44)"
xdotool mousemove 640 0
wait_for 10 sh -c "xwininfo -root -children | grep -q ' 1280x44+0+0 '" || fail "bar did not slide in"
xdotool mousemove 640 400
wait_for 10 sh -c "xwininfo -root -children | grep -q ' 1280x44+0+-42 '" || fail "bar did not hide again"

# a click dismisses a pop-up
read -r nx ny < <(xwininfo -root -children | awk '/ 360x/{split($NF, a, "+"); print a[2] + 100, a[3] + 30; exit}')
xdotool mousemove "$nx" "$ny" click 1
wait_for 10 sh -c "[ \$(xwininfo -root -children | grep -c ' 360x') = 1 ]" || fail "click did not dismiss"

# changes after connecting keep flowing, debounced
n0=$(grep -c '"type":"state"' "$T/peer.jsonl")
for x in 110 120 130 140 150 160 170 180; do
	xdotool windowmove "$WIN" $x 100
done
wait_for 10 peer_has 'any(.[]; .type == "state" and .state.windows[0].x == 180)' || fail "moves not exported"
n1=$(grep -c '"type":"state"' "$T/peer.jsonl")
((n1 - n0 <= 4)) || fail "state not debounced: $((n1 - n0)) messages for 8 moves"
wm_alive
echo PASS
