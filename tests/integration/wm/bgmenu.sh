#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm desktop menu (wm/bgmenu.c): a right click on the desktop background opens it;
# picking a wallpaper with the mouse publishes it (control channel and --state-out) and the
# root shows the image's pixels; the keyboard picks one too; the wheel scrolls a long list to
# the fit and theme entries; Escape and a click elsewhere close it without a change; press,
# move, release picks; right clicks on windows open nothing. The wallpaper directory is
# hostile: control characters, a name one byte too long, hidden files, a FIFO, a directory,
# a symlink and a text file named *.png are not listed; of 40 more PNGs only the first 32
# names are; an emptied and then a missing directory leave just "Built-in".
. "$(dirname "$0")/lib.sh"
if ! command -v import >/dev/null || ! command -v convert >/dev/null; then
	echo "SKIP: ImageMagick (import, convert) is not installed"
	exit 77
fi
start_x 1280x800

# the menu's layout (wm/bgmenu.c): M_W, PAD, HEAD_H, ROW_H, GAP
M_W=260 PAD=6 HEAD_H=26 ROW_H=30 GAP=8
ROSE='#c03a7b'
WP=$T/wp
mkdir -p "$WP"
cp "$S/assets/wallpapers/mist.png" "$S/assets/wallpapers/calm-dusk.png" "$WP/"
# a solid wallpaper, wider than the screen (2.5:1): "fit" shows bars above and below it
convert -size 100x40 "xc:$ROSE" "$WP/rose.png"
long128=$(printf 'a%.0s' {1..124}).png # DESKSTATE_NAME_MAX bytes: listed
long129=$(printf 'b%.0s' {1..125}).png # one more: not listed
cp "$WP/rose.png" "$WP/$long128"
cp "$WP/rose.png" "$WP/$long129"
cp "$WP/rose.png" "$WP/bad$(printf '\001')name.png"
cp "$WP/rose.png" "$WP/new$(printf '\nline').png"
cp "$WP/rose.png" "$WP/with space.png"
cp "$WP/rose.png" "$WP/.hidden.png"
cp "$WP/rose.png" "$WP/notes.txt"
echo "not a picture" >"$WP/fake.png"
mkfifo "$WP/fifo.png"
mkdir "$WP/dir.png"
ln -s /etc/passwd "$WP/link.png"
for i in $(seq -w 0 39); do
	ln "$WP/rose.png" "$WP/zz$i.png"
done
expect_list=("$long128" calm-dusk.png mist.png rose.png)
for i in $(seq -w 0 27); do
	expect_list+=("zz$i.png")
done

SOCK=$T/wm.sock
"$PEER" "$SOCK" "$T/peer.jsonl" 2>"$T/peer.log" &
PIDS+=($!)
start_wm --socket "$SOCK" --wallpaper-dir "$WP"
wait_for 15 grep -q '"type":"state"' "$T/peer.jsonl" || fail "no state published"
wait_for 10 state_has '.wallpaper.image == ""' || fail "not on the built-in wallpaper"
published() { # published FILTER: the last state sent to the session satisfies FILTER
	jq -e -s "map(select(.type == \"state\")) | last | .state | $1" "$T/peer.jsonl" >/dev/null 2>&1
}
n_states() { grep -c '"type":"state"' "$T/peer.jsonl"; }

menu_id() { xwininfo -root -children | awk '/"argobox-wm desktop menu"/{print $1; exit}'; }
menu_geom() { # "x y w h" of the menu when it is mapped
	local id
	id=$(menu_id)
	[ -n "$id" ] && xwininfo -id "$id" | grep -q 'Map State: IsViewable' && geom "$id"
}
menu_shown() { [ -n "$(menu_geom)" ]; }
menu_gone() { ! menu_shown; }
open_menu() { # open_menu X Y: right click on the desktop; sets MX MY MH
	xdotool mousemove "$1" "$2" click 3
	wait_for 10 menu_shown || fail "no desktop menu after a right click at $1,$2"
	read -r MX MY MW MH <<<"$(menu_geom)"
}
# entry_y I [SCROLL]: screen y of the middle of wallpaper entry I (0 = Built-in)
entry_y() { echo $((MY + PAD + HEAD_H + $1 * ROW_H + ROW_H / 2 - ${2:-0})); }
logged_list() { grep -a "desktop menu lists" "$T/wm.log" | tail -n "$1" | sed "s/.*lists '\(.*\)'$/\1/"; }

# 1. the menu, at the pointer, and what it lists: 32 names, none of the hostile ones
open_menu 200 150
# 33 wallpaper rows do not fit 800 pixels: the whole height, from the top
[ "$MX $MY $MW $MH" = "200 4 $M_W 792" ] || fail "menu geometry: $(menu_geom)"
grep -aq "desktop menu at 200,4: 32 wallpapers" "$T/wm.log" ||
	fail "not 32 wallpapers listed: $(grep -a 'desktop menu at' "$T/wm.log")"
mapfile -t got < <(logged_list 32)
[ "${got[*]}" = "${expect_list[*]}" ] || fail "listed: ${got[*]}"

# 2. the mouse picks mist.png: published, and the root shows the picture (filled)
xdotool mousemove 300 "$(entry_y 3)"
sleep 0.2
xdotool click 1
wait_for 10 menu_gone || fail "menu still open after a pick"
wait_for 10 published '.wallpaper == {"image":"mist.png","fit":"fill"}' ||
	fail "mist.png not published: $(tail -n 1 "$T/peer.jsonl")"
wait_for 5 state_has '.wallpaper.image == "mist.png"' || fail "mist.png not in --state-out"
grep -aq "desktop menu: chose wallpaper 'mist.png'" "$T/wm.log" || fail "pick not logged"
convert "$WP/mist.png" -resize '1280x800^' -gravity center -extent 1280x800 "$T/mist-screen.png"
for p in "100 100" "640 300" "1100 600" "300 700"; do
	read -r x y <<<"$p"
	want=$(convert "$T/mist-screen.png" -format "#%[hex:p{$x,$y}]" info: | cut -c1-7)
	check "$x" "$y" "$want" "mist.png on the root"
done

# 3. the keyboard picks rose.png (Down from nothing selected: Built-in, then one per entry)
open_menu 200 150
xdotool key Down Down Down Down Down Return
wait_for 10 menu_gone || fail "menu still open after Return"
wait_for 10 published '.wallpaper == {"image":"rose.png","fit":"fill"}' || fail "rose.png not published"
check 640 100 "$ROSE" "rose.png (fill) at the top"
check 640 400 "$ROSE" "rose.png (fill) in the middle"

# 4. the wheel scrolls to the fit entries; "Show the whole image" letterboxes
open_menu 200 150
xdotool mousemove 300 400 click --repeat 20 --delay 20 5
# scrolled to the end: list 1204 high, 780 shown
sc=$((1204 - (MH - 2 * PAD)))
fit_y=$((MY + PAD + HEAD_H + 33 * ROW_H + GAP + HEAD_H + ROW_H + ROW_H / 2 - sc))
xdotool mousemove 300 "$fit_y"
sleep 0.2
xdotool click 1
wait_for 10 published '.wallpaper == {"image":"rose.png","fit":"fit"}' || fail "fit not published"
check 640 100 "#1b1e24" "letterbox bar (dark theme background)"
check 640 400 "$ROSE" "rose.png (fit) in the middle"

# 5. End + Return: the last entry, the light theme
open_menu 200 150
xdotool key End Return
wait_for 10 published '.theme.mode == "light"' || fail "light theme not published"
check 640 100 "#e9edf3" "letterbox bar (light theme background)"

# 6. Escape closes without a change; so does a click elsewhere; a right click elsewhere
# on the desktop moves the menu there
sleep 0.7 # past the export debounce
n0=$(n_states)
cp "$T/state.json" "$T/state.before"
open_menu 700 200
xdotool key Down Down Escape
wait_for 10 menu_gone || fail "Escape did not close the menu"
open_menu 700 200
xdotool mousemove 1200 700 click 1
wait_for 10 menu_gone || fail "a click outside did not close the menu"
open_menu 100 100
xdotool mousemove 1100 300 click 3
wait_for 10 sh -c "$(declare -f geom menu_id menu_geom); [ \"\$(menu_geom | cut -d' ' -f1)\" = 840 ]" ||
	fail "a right click elsewhere did not move the menu: $(menu_geom)"
xdotool key Escape
wait_for 10 menu_gone || fail "Escape did not close the moved menu"
sleep 1
[ "$(n_states)" = "$n0" ] || fail "closing the menu published a state: $(tail -n 1 "$T/peer.jsonl")"
cmp -s "$T/state.json" "$T/state.before" || fail "closing the menu changed the state"
check 640 400 "$ROSE" "wallpaper kept after Escape"

# 7. press, move, release on "Built-in" picks it
xdotool mousemove 400 150 mousedown 3
wait_for 10 menu_shown || fail "no menu on a right press"
read -r MX MY _ MH <<<"$(menu_geom)"
sleep 0.4
xdotool mousemove 500 "$(entry_y 0)" sleep 0.1 mouseup 3
wait_for 10 published '.wallpaper.image == ""' || fail "built-in not published"
wait_for 10 menu_gone || fail "menu open after press-move-release"
read -r r g b <<<"$(px 640 400)"
near "$r $g $b" "$ROSE" 40 && fail "the root still shows rose.png"

# 8. right clicks on a window (content or frame) open no menu
client --class Alpha --title Alpha --geometry 300x200+300+300
wait_for 10 managed "$WIN" || fail "window not managed"
xdotool mousemove 400 400 click 3 mousemove 400 284 click 3
sleep 0.5
menu_gone || fail "a right click on a window opened the desktop menu"

# 9. an emptied, then a missing, wallpaper directory: just Built-in (and fit, theme)
find "$WP" -mindepth 1 -delete
open_menu 900 150
want_h=$((2 * PAD + HEAD_H + ROW_H + 2 * (GAP + HEAD_H + 2 * ROW_H)))
[ "$MH" = "$want_h" ] || fail "empty dir: menu height $MH, want $want_h"
grep -aq "desktop menu at 900,150: 0 wallpapers" "$T/wm.log" || fail "empty dir lists wallpapers"
xdotool key Escape
wait_for 10 menu_gone || fail "menu did not close"
rmdir "$WP"
open_menu 900 150
[ "$MH" = "$want_h" ] || fail "missing dir: menu height $MH, want $want_h"
# and picking Built-in again changes nothing that was published
xdotool mousemove 1000 "$(entry_y 0)"
sleep 0.2
xdotool click 1
wait_for 10 menu_gone || fail "menu did not close after Built-in"
wm_alive
stop_wm
echo PASS
