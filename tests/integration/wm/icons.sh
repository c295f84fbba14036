#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# App icons from the freedesktop icon theme: the launcher, a window's title bar and its taskbar
# button draw the Icon= of the app's .desktop entry (an SVG in a hicolor theme under
# XDG_DATA_DIRS, and ArgoBox's own in assets/icons); an app whose icon is missing or broken gets
# a letter tile, a broken .desktop file is skipped, and the wm says why and keeps running.
. "$(dirname "$0")/lib.sh"
need_tools import convert
start_x 1024x768
A=$T/share/applications I=$T/share/icons/hicolor/scalable/apps
mkdir -p "$A" "$I"
cat >"$I/abtest-red.svg" <<EOT
<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#ff0000"/></svg>
EOT
printf '<svg xmlns="http://www.w3.org/2000/svg"><rect' >"$I/abtest-broken.svg"
entry() { # entry FILE NAME ICON [CLASS]
	printf '[Desktop Entry]\nType=Application\nName=%s\nExec=%s\nIcon=%s\nStartupWMClass=%s\nCategories=Utility;\n' \
		"$2" "$TC --class ${4:-x}" "$3" "${4:-}" >"$A/$1"
}
entry abtest-a.desktop "Abtest Red" abtest-red AbRed
entry abtest-b.desktop "Abtest Missing" abtest-no-such-icon
entry abtest-c.desktop "Abtest Broken" abtest-broken
entry abtest-d.desktop "Abtest Own" argobox-terminal
head -c 3000 /dev/urandom >"$A/abtest-junk.desktop" # a broken .desktop file
printf '[Desktop Entry]\nType=Application\nName=Abtest No Exec\n' >"$A/abtest-noexec.desktop"
start_wm

# the launcher, filtered to the four test apps (sorted by name: Broken, Missing, Own, Red)
xdotool key super
wait_for 10 sh -c "xwininfo -root -children | grep -q '440x540'" || fail "Super did not open the launcher"
xdotool type --delay 20 abtest
read -r LX LY < <(xwininfo -root -children | awk '/440x540/{split($0, a, "+"); print a[2], a[3]; exit}')
row_icon() { echo $((LX + 34)) $((LY + 64 + $1 * 44 + 22)); } # centre of row N's 28 px icon
wait_for 10 grep -q "abtest-broken.svg' is not a readable SVG" "$T/wm.log" ||
	fail "no message naming the broken icon"
read -r x y < <(row_icon 3)
check "$x" "$y" "#ff0000" "the SVG icon of 'Abtest Red'"
# ArgoBox's own terminal icon (assets/icons): its dark body, then its green prompt
read -r x y < <(row_icon 2)
check "$((x - 10))" "$((y + 8))" "#21262f" "assets' argobox-terminal icon"
# missing and broken icons: letter tiles (a palette colour with a white letter), not red
for r in 0 1; do
	read -r x y < <(row_icon "$r")
	got=$(px "$((x - 11))" "$((y - 11))")
	near "$got" "#ff0000" 60 && fail "row $r drew red where a letter tile belongs"
	near "$got" "#000000" 40 && fail "row $r drew nothing where a letter tile belongs"
done
wm_alive
xdotool key Escape

# a window of the app: its title bar and taskbar button show the app's icon
client --class AbRed --title "red window" --geometry 300x200+200+150
wait_for 10 managed "$WIN" || fail "client not managed"
read -r cx cy _ _ < <(geom "$WIN")
check "$((cx + 18))" "$((cy - 15))" "#ff0000" "the title bar icon"
check 204 746 "#ff0000" "the taskbar button's icon"
# the cache: each icon file is decoded once per size however often it is drawn
xdotool key super Escape super Escape
n=$(grep -c "abtest-broken.svg' is not a readable SVG" "$T/wm.log")
[ "$n" = 1 ] || fail "the broken icon was read $n times"
wm_alive
stop_wm
echo PASS
