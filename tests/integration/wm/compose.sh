#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm messages panel: writing (issue 21). Through real X events (xdotool) in the
# notification centre's Messages tab: R replies to the selected message (To filled in), N writes
# a new one, Tab moves between To and Message, BackSpace deletes, Return sends as
# {"type":"message_send","id","to","text"} on the control channel (here a stand-in for the
# session records it), Escape drops the draft. The broker's answer ("message_answer") shows
# under the draft: "Sent to X" (the draft emptied) or the broker's reason (rate limit, block,
# a demo desktop's rule), the draft kept. An answer to no message waiting changes nothing.
. "$(dirname "$0")/lib.sh"
start_x 1280x800
SOCK=$T/wm.sock
cat >"$T/send1.jsonl" <<'EOT'
{"v":1,"type":"message","id":"m1","from":"alice","text":"lunch?","time":1700000000}
EOT
sent() { grep '"type":"message_send"' "$T/peer.jsonl" || true; }

start_wm --socket "$SOCK"
start_peer "$T/peer.jsonl" "$T/send1.jsonl"
wait_for 15 grep -q '"type":"hello"' "$T/peer.jsonl" || fail "window manager did not connect"
wait_for 10 nc_has '.messages | length == 1' || fail "message not in the panel: $(nc)"

# Super+M: the Messages tab; R replies to alice's message: To is filled, the Message field
# has the keyboard
xdotool key super+m
wait_for 10 nc_has '.open == "yes" and .tab == "messages"' || fail "Super+M: $(nc)"
xdotool key r
wait_for 10 nc_has '.compose.open and .compose.to == "alice" and .compose.field == "text"' ||
	fail "R did not open a reply to alice: $(nc)"
xdotool type --delay 30 'yes, at noonX'
xdotool key BackSpace
wait_for 10 nc_has '.compose.text == "yes, at noon"' || fail "typing: $(nc)"
xdotool key Return
wait_for 10 sh -c "grep -q '\"type\":\"message_send\"' '$T/peer.jsonl'" || fail "nothing sent: $(nc)"
m=$(sent | tail -n1)
[ "$(jq -r '.to + "|" + .text' <<<"$m")" = "alice|yes, at noon" ] || fail "sent: $m"
id=$(jq -r .id <<<"$m")
nc_has '.compose.status | startswith("Sending to alice")' || fail "no sending status: $(nc)"
ok "R, typing and Return send {to: alice, text} (id $id)"

# the broker's answers: a stale id changes nothing, 201 empties the draft
printf '{"v":1,"type":"message_answer","id":%d,"status":201,"delivered":true}\n' $((id + 7)) >"$T/a0.jsonl"
printf '{"v":1,"type":"message_answer","id":%d,"status":201,"delivered":true}\n' "$id" >"$T/a1.jsonl"
answer() { # answer FILE: a new stand-in connection sends it (the wm reconnects)
	kill "$PEER_PID"
	wait "$PEER_PID" 2>/dev/null || true
	: >"$T/peer.jsonl"
	start_peer "$T/peer.jsonl" "$1"
	wait_for 15 grep -q '"type":"hello"' "$T/peer.jsonl" || fail "window manager did not reconnect"
}
answer "$T/a0.jsonl"
wait_for 10 grep -q "message answer $((id + 7)) (201) for no message waiting" "$T/wm.log" || fail "stale answer not ignored"
nc_has '.compose.sent == 0 and (.compose.status | startswith("Sending"))' || fail "stale answer acted on: $(nc)"
answer "$T/a1.jsonl"
wait_for 10 nc_has '.compose.sent == 1 and .compose.status == "Sent to alice" and .compose.text == ""' ||
	fail "201 not shown: $(nc)"
ok "the answer 201 shows 'Sent to alice' and empties the draft"

# N: a new message; To first; Tab to the text; refused by the broker (its words shown, the
# draft kept for another try)
xdotool key Escape
wait_for 10 nc_has '.compose.open == false and .open == "yes"' || fail "Escape did not drop the draft: $(nc)"
xdotool key n
wait_for 10 nc_has '.compose.open and .compose.to == "" and .compose.field == "to"' || fail "N: $(nc)"
xdotool type --delay 30 'bob'
xdotool key Tab
xdotool type --delay 30 'hi <b>bob</b>'
wait_for 10 nc_has '.compose.to == "bob" and .compose.text == "hi <b>bob</b>" and .compose.field == "text"' ||
	fail "N, To, Tab, text: $(nc)"
xdotool key Return
wait_for 10 sh -c "grep -q '\"to\":\"bob\"' '$T/peer.jsonl'" || fail "nothing sent to bob: $(cat "$T/peer.jsonl")"
id=$(sent | tail -n1 | jq -r .id)
printf '{"v":1,"type":"message_answer","id":%d,"status":429,"error":"too many messages: try again in 12 s","retry_s":12}\n' "$id" >"$T/a2.jsonl"
answer "$T/a2.jsonl"
wait_for 10 nc_has '.compose.status == "Not sent: too many messages: try again in 12 s" and .compose.text == "hi <b>bob</b>"' ||
	fail "429 not shown or the draft lost: $(nc)"
ok "a refusal shows the broker's reason and keeps the draft"
# an empty To is refused by the panel itself, nothing sent
xdotool key Escape n Tab
xdotool type --delay 30 'x'
: >"$T/peer.jsonl.before"
xdotool key Return
wait_for 10 nc_has '.compose.status | startswith("Whom to?")' || fail "empty To: $(nc)"
[ -z "$(sent | jq -r 'select(.to == "")')" ] || fail "a message without To was sent"
xdotool key Escape Escape
wait_for 10 nc_has '.open == "no"' || fail "Escape did not close: $(nc)"
wm_alive
stop_wm
echo PASS
