#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm under the real argobox-session: the session starts it with ARGOBOX_WM_SOCKET,
# the window manager's state reaches a broker connected to control.sock (relayed by the
# session), and a broker's notification reaches the window manager and pops up.
. "$(dirname "$0")/lib.sh"
SESSION=$B/session/argobox-session
[ -x "$SESSION" ] || { echo "SKIP: argobox-session is not built"; exit 77; }
RUN=$T/run
cat >"$T/send.jsonl" <<'EOT'
{"v":1,"type":"notify","title":"From the broker","body":"relayed by the session","urgency":"normal","timeout_ms":0}
EOT
start_session 1280x800
"$PEER" --broker "$RUN/control.sock" "$T/broker.jsonl" "$T/send.jsonl" 2>"$T/peer.log" &
PIDS+=($!)
broker_has() { jq -e -s "$1" "$T/broker.jsonl" >/dev/null 2>&1; }

# the display the session gave the window manager
wm_child() { ps -o pid=,comm= --ppid "$SPID" | awk '$2 ~ /^argobox-wm/ {print $1; exit}'; }
wait_for 20 sh -c "ps -o comm= --ppid $SPID | grep -q '^argobox-wm'" || fail "no window manager process"
WPID=$(wm_child)
export DISPLAY=$(tr '\0' '\n' <"/proc/$WPID/environ" | sed -n 's/^DISPLAY=//p')
[ -n "$DISPLAY" ] || fail "no DISPLAY in the window manager's environment"
wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" || fail "wm not running under the session"
tr '\0' '\n' <"/proc/$WPID/environ" | grep -q "^ARGOBOX_WM_SOCKET=$RUN/wm.sock$" || fail "ARGOBOX_WM_SOCKET not set"

client --class Alpha --title "Alpha" --geometry 300x200+100+100
wait_for 10 managed "$WIN" || fail "not managed under the session"
wait_for 15 broker_has 'any(.[]; .type == "state" and .state.version == 1 and
	(.state.windows | map(.app.class) | index("Alpha")) != null)' ||
	fail "the broker did not get the state: $(cat "$T/broker.jsonl" 2>/dev/null | head -c 2000)"
wait_for 15 grep -q "notification 'From the broker'" "$T/wm.log" || fail "notification not relayed to the wm"
wait_for 10 sh -c "xwininfo -root -children | grep -q ' 360x'" || fail "no pop-up"
echo PASS
