#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Keyboard layouts in argobox-wm (issue 24): a first desktop takes the browser's layout from the
# _ARGOBOX_KBD_HINT root property (the session sets it), a later hint does not override it; the
# layout is applied with XKB (setxkbmap -query, the keymap: evdev keycode 20 / 24 / 48), kept in
# the exported state, switched by a click on the taskbar indicator and by the control channel's
# "keyboard" message (for a settings app); a restored state brings its layout back; bad names are
# refused.
. "$(dirname "$0")/lib.sh"
for tool in setxkbmap xmodmap; do
	command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
start_x 1280x800
SOCK=$T/wm.sock
layout_is() { setxkbmap -query | grep -q "^layout: *$1\$"; }
variant_is() { setxkbmap -query | grep -q "^variant: *$1\$"; }
# the keysym evdev keycode $1 types (unshifted)
sym() { xmodmap -pke | awk -v k="$1" '$2 == k {print $4}'; }
start_wm --socket "$SOCK"

xprop -root -f _ARGOBOX_KBD_HINT 8u -set _ARGOBOX_KBD_HINT de
wait_for 10 layout_is de || fail "the browser's layout was not taken: $(setxkbmap -query)"
[ "$(sym 20)" = ssharp ] || fail "de: keycode 20 types '$(sym 20)', not ssharp"
[ "$(sym 29)" = z ] || fail "de: keycode 29 (Y) types '$(sym 29)', not z"
wait_for 10 state_has '.keyboard.layout == "de" and .keyboard.layouts == ["de"]' ||
	fail "layout not in the state: $(jq -c .keyboard "$T/state.json")"
echo "ok: first sign-in takes the browser's layout (de)"

xprop -root -f _ARGOBOX_KBD_HINT 8u -set _ARGOBOX_KBD_HINT fr
sleep 0.3
layout_is de || fail "a later browser hint replaced the user's layout"
echo "ok: a later hint leaves the chosen layout"

# the indicator, left of the notification bell (32 px and a gap of 8) on the bottom bar:
# "DE" is 32 px wide
x=$((1280 - 12 - 56 - 94 - 40 - 16)); y=$((800 - 22))
xdotool mousemove $x $y click 1
wait_for 10 layout_is us || fail "indicator click did not switch to us: $(setxkbmap -query)"
[ "$(sym 20)" = minus ] || fail "us: keycode 20 types '$(sym 20)'"
xdotool mousemove $x $y click 1
wait_for 10 layout_is de || fail "second click did not switch back to de"
echo "ok: the taskbar indicator switches de -> us -> de"

# the control channel (what a settings app will use)
cat >"$T/send.jsonl" <<'EOT'
{"v":1,"type":"keyboard","layout":"../../etc/passwd"}
{"v":1,"type":"keyboard","layout":"zz"}
{"v":1,"type":"keyboard","layout":"us(intl)","layouts":["us(intl)","de","fr","gb"]}
EOT
"$PEER" "$SOCK" "$T/peer.jsonl" "$T/send.jsonl" 2>"$T/peer.log" &
PIDS+=($!)
wait_for 10 layout_is us || fail "control channel keyboard message not applied"
wait_for 10 variant_is intl || fail "variant intl not applied: $(setxkbmap -query)"
[ "$(sym 48)" = dead_acute ] || fail "us(intl): keycode 48 types '$(sym 48)', not dead_acute"
grep -q "'../../etc/passwd' is not a keyboard layout name" "$T/wm.log" || fail "bad name not refused"
grep -q "no keyboard layout 'zz'" "$T/wm.log" || fail "unknown layout not refused"
wait_for 10 state_has '.keyboard.layout == "us(intl)" and .keyboard.layouts == ["us(intl)","de","fr","gb"]' ||
	fail "state: $(jq -c .keyboard "$T/state.json")"
echo "ok: control channel sets us(intl) and the list"

# restart with the saved state: the layout comes back
cp "$T/state.json" "$T/saved.json"
stop_wm
setxkbmap us
start_wm --restore "$T/saved.json"
wait_for 10 variant_is intl || fail "restored layout not applied: $(setxkbmap -query)"
grep -q "keyboard layout 'us(intl)' (saved)" "$T/wm.log" || fail "no log of the saved layout"
echo "ok: a restored state brings its layout back"
wm_alive
echo PASS
