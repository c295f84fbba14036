#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-settings under a real Xvfb + argobox-wm: each change goes to the wm as a control
# message (_ARGOBOX_CTL_REQUEST) and ends up in the wm's exported desktop state (the path to
# KV): theme, accent, font size, wallpaper, keyboard layout, do not disturb; the screen size changes by
# RandR. A bad request is refused by the wm.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
start_app argobox-settings settings
W=$APP_WIN
xprop -id "$W" WM_CLASS | grep -q '"settings", "ArgoBoxSettings"' || fail "WM_CLASS"
drawn "$W" "$T/s0.png" "settings look blank"

# row 1: theme -> the other mode (and back to dark if the default was light)
wait_for 10 state_has '.theme.mode'
mode=$(jq -r .theme.mode "$T/state.json")
other=$([ "$mode" = dark ] && echo light || echo dark)
xdotool key Right
wait_for 10 state_has ".theme.mode == \"$other\"" || fail "theme $other not in the exported state"
xprop -root _ARGOBOX_THEME | grep -q "mode=$other" || fail "wm did not publish the $other theme"
if [ "$other" = light ]; then
	sleep 0.5
	shot "$W" "$T/s1.png"
	has_colour "$T/s1.png" "#ffffff" 5000 || fail "settings did not follow the light theme"
	xdotool key Right
	wait_for 10 state_has '.theme.mode == "dark"' || fail "theme dark not in the exported state"
fi
sleep 0.5
shot "$W" "$T/s2.png"
has_colour "$T/s2.png" "#1b1e24" 5000 || fail "settings did not follow the dark theme"
# row 2: accent -> the next one (#22a06b)
xdotool key Down Right
wait_for 10 state_has '.theme.accent == "#22a06b"' || fail "accent not in the exported state"
# row 3: font size -> one point larger: published in the theme (the apps follow it) and kept
xdotool key Down Right
wait_for 10 state_has '.prefs.settings.font_size == 11' || fail "font size not in the state's prefs"
xprop -root _ARGOBOX_THEME | grep -q 'font=.* 11' || fail "font size not published: $(xprop -root _ARGOBOX_THEME)"
xdotool key Left
wait_for 10 state_has '.prefs.settings.font_size == 10' || fail "font size not back to 10"
# row 4: wallpaper -> one of the shipped PNGs
xdotool key Down Right
wait_for 10 state_has '.wallpaper.image | test("\\.png$")' || fail "wallpaper not in the state"
# row 5: keyboard layout us -> us(intl)
xdotool key Down Right
wait_for 10 state_has '.keyboard.layout == "us(intl)"' || fail "keyboard layout not in the state"

# row 6: notifications -> do not disturb: the wm publishes it and keeps it in the state's prefs
xdotool key Down Right
wait_for 10 sh -c "xprop -root _ARGOBOX_NOTIFICATIONS | grep -q '\\\\\"dnd\\\\\":true'" ||
	fail "do not disturb not published: $(xprop -root _ARGOBOX_NOTIFICATIONS | head -c 200)"
wait_for 10 state_has '[.. | objects | select(has("dnd")) | .dnd] | any' || fail "dnd not in the exported state"
# row 7: screen size -> another size the X server allows (RandR), which the wm follows
size0=$(xwininfo -root | awk '/-geometry/{print $2}')
xdotool key Down Right
wait_for 10 sh -c "[ \"\$(xwininfo -root | awk '/-geometry/{print \$2}')\" != '$size0' ]" ||
	fail "screen size unchanged ($size0): $(tail -3 "$T/argobox-settings.log")"
size1=$(xwininfo -root | awk '/-geometry/{print $2}')
grep -q "screen size: ${size1%%+*}" "$T/argobox-settings.log" || fail "settings did not set $size1"
echo "screen size: $size0 -> $size1"

# a request the wm must refuse (not a settings message): logged, no effect
xprop -root -f _ARGOBOX_CTL_REQUEST 8u -set _ARGOBOX_CTL_REQUEST '{"type":"restore","state":{}}'
wait_for 5 grep -q "app request: 'restore' is not a settings message" "$T/wm.log" ||
	fail "wm did not refuse a non-settings request"
wm_alive
app_alive || fail "settings died"
kill "$APP_PID"
echo "PASS: settings"
