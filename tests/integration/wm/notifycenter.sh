#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm notification centre (issue 21 item 3): notifications from the control channel
# go into a history with an unread count on the taskbar's bell; the bell (or Super+N) opens
# the centre, which marks them read; do-not-disturb (D in the centre) keeps pop-ups quiet but
# the history grows, and is exported in the desktop state's prefs; a click on a pop-up does
# its action (starts the app); a message from another user lands in the messages panel as
# plain text (hostile markup stays text) and is deduplicated by id; bad actions are dropped;
# the newest notifications persist in the state's prefs and come back, read, after a restart.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
SOCK=$T/wm.sock
cat >"$T/send1.jsonl" <<'EOT'
{"v":1,"type":"notify","title":"Upload finished","body":"report.pdf is in your home","urgency":"normal","timeout_ms":600000,"action":"app:xterm.desktop"}
{"v":1,"type":"notify","title":"Service down","body":"grafana","urgency":"critical","timeout_ms":0,"action":"app:../../bin/sh"}
{"v":1,"type":"message","id":"m1","from":"alice","text":"<b>bold</b> & <script>x</script>","time":1700000000}
{"v":1,"type":"message","id":"m1","from":"alice","text":"<b>bold</b> & <script>x</script>","time":1700000000}
EOT
cat >"$T/send2.jsonl" <<'EOT'
{"v":1,"type":"notify","title":"Quiet one","body":"while busy","urgency":"normal","timeout_ms":600000}
{"v":1,"type":"notify","title":"Loud one","body":"critical still shows","urgency":"critical","timeout_ms":600000}
EOT
popups() { xwininfo -root -children | grep -c ' 360x' || true; }

start_wm --socket "$SOCK"
start_peer "$T/peer.jsonl" "$T/send1.jsonl"
wait_for 15 grep -q '"type":"hello"' "$T/peer.jsonl" || fail "window manager did not connect"

# three notifications (two pop-ups + the message's), one message (the duplicate dropped)
wait_for 10 nc_has '.unread == 3 and (.notifications | length) == 3' || fail "history: $(nc)"
nc_has '.messages | length == 1 and .[0].from == "alice" and .[0].text == "<b>bold</b> & <script>x</script>"' ||
	fail "message not kept as plain text: $(nc)"
nc_has '.notifications[0].title == "Message from alice" and .notifications[0].action == "messages"' ||
	fail "message notification: $(nc)"
nc_has '.notifications[1].action == ""' || fail "a bad action was kept: $(nc)"
grep -q "notify action 'app:../../bin/sh' is not" "$T/wm.log" || fail "bad action not reported"
[ "$(popups)" = 3 ] || fail "expected 3 pop-ups: $(xwininfo -root -children | grep 360x)"

# the bell sits on the taskbar left of the date and the keyboard indicator (the mirror says
# where); a click opens the centre, which reads them all
bx=$(nc | jq -r .bell_x)
((bx > 900 && bx < 1100)) || fail "bell at $bx"
xdotool mousemove $((bx + 16)) 778 click 1
wait_for 10 sh -c "xwininfo -root -children | grep -q ' 400x470+'" || fail "bell click did not open the centre"
wait_for 10 nc_has '.open == "yes" and .unread == 0 and .tab == "notifications"' ||
	fail "opening the centre did not read them: $(nc)"
# keyboard: Tab to the messages panel, D for do-not-disturb, Escape closes
xdotool key Tab
wait_for 10 nc_has '.tab == "messages" and .messages[0].read' || fail "Tab: $(nc)"
xdotool key d
wait_for 10 nc_has '.dnd' || fail "D did not switch do-not-disturb on: $(nc)"
wait_for 10 sh -c "jq -e '.prefs.notifications.dnd == true' '$T/state.json' >/dev/null" ||
	fail "do-not-disturb not exported in the state: $(jq -c .prefs "$T/state.json")"
xdotool key Escape
wait_for 10 nc_has '.open == "no"' || fail "Escape did not close: $(nc)"
wait_for 10 sh -c "! xwininfo -root -children | grep ' 400x470+' | grep -qv unmapped" || true

# a click on a pop-up's body does its action (starts xterm) and dismisses it
read -r nx ny < <(xwininfo -root -children | awk '/"?" *360x|360x/{split($NF, a, "+"); print a[2] + 100, a[3] + 40}' | tail -n1)
xdotool mousemove "$nx" "$ny" click 1
wait_for 10 grep -q "started 'xterm.desktop'" "$T/wm.log" || fail "click on the upload pop-up did not start the app: $(tail -5 "$T/wm.log")"

# do-not-disturb: the next normal notification is only in the history, a critical one pops up
n0=$(popups)
kill "$PEER_PID"
wait "$PEER_PID" 2>/dev/null || true
start_peer "$T/peer2.jsonl" "$T/send2.jsonl"
wait_for 20 grep -q "notification 'Loud one'" "$T/wm.log" || fail "critical notification not shown under do-not-disturb"
grep -q "notification 'Quiet one' kept quiet (do not disturb)" "$T/wm.log" || fail "normal notification not kept quiet"
[ "$(popups)" = $((n0 + 1)) ] || fail "do-not-disturb: expected $((n0 + 1)) pop-ups, got $(popups)"
nc_has '.unread == 2 and .notifications[1].title == "Quiet one"' || fail "quiet one not in the history: $(nc)"

# Super+M opens the messages panel directly
xdotool key super+m
wait_for 10 nc_has '.open == "yes" and .tab == "messages"' || fail "Super+M: $(nc)"
xdotool key Escape
wm_alive

# the newest notifications are kept in the exported state (prefs), and come back, read, in a
# window manager started from it; the state stays valid
wait_for 10 sh -c "jq -e '.prefs.notifications.history_title | index(\"Loud one\") != null' '$T/state.json' >/dev/null" ||
	fail "history not exported: $(jq -c .prefs.notifications "$T/state.json")"
"$WM" --validate-state "$T/state.json" >/dev/null || fail "exported state invalid"
stop_wm
cp "$T/state.json" "$T/restore.json"
start_wm --restore "$T/restore.json"
wait_for 10 nc_has '.unread == 0 and .dnd and (.notifications | length) >= 5 and .notifications[0].title == "Loud one" and .notifications[0].read' ||
	fail "history not restored: $(nc)"
grep -q "notification history: [0-9]* restored" "$T/wm.log" || fail "no restore line"
stop_wm
echo PASS
