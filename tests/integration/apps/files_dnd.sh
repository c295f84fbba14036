#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Drag and drop from argobox-files onto the desktop, under a real Xvfb + argobox-wm, with
# xdotool's button and pointer events (mousedown, mousemove out of the window, mouseup over the
# desktop background): the files app hands the file to the wm by XDND (XdndEnter, XdndPosition,
# XdndDrop to the XdndAware root, the text/uri-list from XdndSelection) and the wm copies it
# into ~/Desktop, byte for byte, the original left in place; the source gets XdndFinished.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
W0=$HOME/work
mkdir -p "$W0"
head -c 300000 /dev/urandom >"$W0/drop me ü.bin"
xprop -root -f XdndAware 32c XdndAware | grep -q '= 5$' ||
	fail "the root is not XdndAware (version 5): $(xprop -root -f XdndAware 32c XdndAware)"

start_app argobox-files files "$W0"
W=$APP_WIN
wait_for 10 sh -c "xprop -id $W _NET_WM_NAME | grep -qF '(1 items)'" || fail "files did not list the file"
# a point of the desktop background: beside the window, on neither side of it the taskbar
eval "$(xdotool getwindowgeometry --shell "$W")"
DX=$((X + WIDTH + 40))
((DX < 1010)) || DX=$((X - 40))
((DX > 10)) || fail "no desktop left beside the window ($X,$WIDTH)"
DY=$((Y + HEIGHT / 2))
# the row (files.c: LIST_Y - 16 + ROW_H / 2), dragged out of the window and let go
xdotool mousemove --window "$W" 200 80 mousedown 1
xdotool mousemove --window "$W" 215 95
sleep 0.2
xdotool mousemove "$((DX - 20))" "$DY"
sleep 0.2
xdotool mousemove "$DX" "$DY"
sleep 0.2
xdotool mouseup 1
wait_file 10 "$T/argobox-files.log" "dropped 'drop me ü.bin' on the desktop" ||
	fail "the files app did not drop: $(tail -2 "$T/argobox-files.log")"
wait_file 10 "$T/wm.log" "xdnd: copying '$W0/drop me ü.bin' into '$HOME/Desktop'" ||
	fail "the wm did not take the drop: $(grep -i xdnd "$T/wm.log" | tail -2)"
wait_for 10 cmp -s "$W0/drop me ü.bin" "$HOME/Desktop/drop me ü.bin" ||
	fail "~/Desktop has no identical copy: $(ls -la "$HOME/Desktop" 2>&1)"
[ -f "$W0/drop me ü.bin" ] || fail "the original went"
app_alive || fail "files died"
echo "PASS: files dnd"
