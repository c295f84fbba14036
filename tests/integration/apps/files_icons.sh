#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-files' icon view under a real Xvfb + argobox-wm, driven by xdotool: Ctrl+2 shows the
# folder as tiles with image thumbnails (the images' colours on screen), made on a worker
# thread (the window answers F5 while a big image is being scaled) and cached as the
# freedesktop thumbnail spec says (~/.cache/thumbnails/normal/<md5 of the URI>.png, at most
# 128 px, Thumb::URI and Thumb::MTime, 0600 in 0700 directories; a file that is no image
# marked in fail/argobox-files/); a second start reuses them, a changed image gets a new one;
# arrows move in the grid and Enter opens a folder; a click selects a tile and a double click
# opens it; Ctrl+1 goes back to the list (no thumbnails drawn).
. "$(dirname "$0")/lib.sh"
command -v md5sum >/dev/null || { echo "SKIP: md5sum is not installed"; exit 77; }
start_desktop 1024x768
title() { xprop -id "$1" _NET_WM_NAME | sed 's/.*= "\(.*\)"$/\1/'; }
title_has() { title "$1" | grep -qF -- "$2"; }
TH=$HOME/.cache/thumbnails
md5_of() { printf 'file://%s' "$1" | md5sum | cut -d' ' -f1; }

P=$HOME/pics
mkdir -p "$P/aaa-folder"
convert -size 300x200 xc:'#ff0000' "$P/red.png"
convert -size 200x300 xc:'#0000ff' "$P/blue.jpg"
echo "no image" >"$P/fake.png"
echo text >"$P/notes.txt"

start_app argobox-files files "$P"
W=$APP_WIN
wait_for 10 title_has "$W" "$P (5 items)" || fail "title: $(title "$W")"
LOG=$T/argobox-files.log

# 1. Ctrl+2: tiles, the images as thumbnails (their own colours drawn), cached per the spec
xdotool key ctrl+2
wait_file 10 "$LOG" "view: icons" || fail "Ctrl+2 did not switch to the icon view"
RED=$TH/normal/$(md5_of "$P/red.png").png
BLUE=$TH/normal/$(md5_of "$P/blue.jpg").png
wait_for 20 test -s "$RED" || fail "no thumbnail of red.png at $RED: $(ls -R "$TH" 2>&1 | head)"
wait_for 20 test -s "$BLUE" || fail "no thumbnail of blue.jpg at $BLUE"
identify -format '%w %h' "$RED" | grep -qx '128 85' || fail "red.png's thumbnail is $(identify -format '%wx%h' "$RED"), not 128x85"
identify -format '%w %h' "$BLUE" | grep -qx '85 128' || fail "blue.jpg's thumbnail is $(identify -format '%wx%h' "$BLUE")"
identify -verbose "$RED" | grep -q "Thumb::URI: file://$P/red.png" || fail "no Thumb::URI in $RED"
identify -verbose "$RED" | grep -q "Thumb::MTime: $(stat -c %Y "$P/red.png")" || fail "no Thumb::MTime in $RED"
[ "$(stat -c %a "$RED")" = 600 ] || fail "thumbnail mode $(stat -c %a "$RED")"
[ "$(stat -c %a "$TH/normal")" = 700 ] || fail "thumbnail directory mode $(stat -c %a "$TH/normal")"
wait_for 10 test -s "$TH/fail/argobox-files/$(md5_of "$P/fake.png").png" || fail "fake.png not marked failed"
[ ! -e "$TH/normal/$(md5_of "$P/notes.txt").png" ] || fail "a thumbnail of a text file"
near_colour() { # near_colour FILE #rrggbb MIN: at least MIN pixels within 10% of the colour (JPEG)
	(($(convert "$1" -fuzz 10% -fill black +opaque "$2" -fill white -opaque "$2" -format "%[fx:int(mean*w*h)]" info:) >= $3))
}
shown() { shot "$W" "$T/icons.png" && near_colour "$T/icons.png" "#ff0000" 2000 && near_colour "$T/icons.png" "#0000ff" 2000; }
wait_for 10 shown || fail "thumbnails not drawn in the icon view"

# 2. keyboard: Home selects the folder (folders first), Right the next tile, Enter on the folder
xdotool key Home Return
wait_for 5 title_has "$W" "$P/aaa-folder (0 items)" || fail "Enter on the first tile: $(title "$W")"
xdotool key BackSpace
wait_for 5 title_has "$W" "$P (5 items)" || fail "BackSpace did not go back up"
# the tiles are 124 x 128 from (8, 68): Right moves the selection (the accent) to the second
selected_at() { # selected_at COLUMN: the accent fills the tile in that column of the first row
	shot "$W" "$T/sel.png"
	convert "$T/sel.png" -crop "110x110+$((8 + $1 * 124 + 6))+74" +repage "$T/tile.png"
	has_colour "$T/tile.png" "#3d8bfd" 1500
}
xdotool key Home
wait_for 5 selected_at 0 || fail "Home: the first tile is not selected"
xdotool key Right
wait_for 5 selected_at 1 || fail "Right: the second tile is not selected"
selected_at 0 && fail "Right: the first tile is still selected"

# 3. mouse: a click selects the third tile, a double click on the folder opens it
eval "$(xdotool getwindowgeometry --shell "$W")"
xdotool mousemove --window "$W" $((8 + 2 * 124 + 60)) 120 click 1
wait_for 5 selected_at 2 || fail "a click did not select the third tile"
sleep 0.5
xdotool mousemove --window "$W" $((8 + 60)) 120 click --repeat 2 --delay 80 1
wait_for 5 title_has "$W" "$P/aaa-folder" || fail "a double click did not open the folder: $(title "$W")"
xdotool key BackSpace
wait_for 5 title_has "$W" "$P (5 items)" || fail "BackSpace did not go back up"

# 5. Ctrl+1: the list again, no thumbnails drawn
xdotool key ctrl+1
wait_file 10 "$LOG" "view: list" || fail "Ctrl+1 did not go back to the list"
sleep 0.5
shot "$W" "$T/list.png"
has_colour "$T/list.png" "#ff0000" 500 && fail "thumbnails drawn in the list view"
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null || true

# 6. a second start reuses the cached thumbnails; a changed image gets a new one
touch -d '2001-01-01' "$RED"
sleep 1
convert -size 300x200 xc:'#00ff00' "$P/blue.jpg"
: >"$LOG"
start_app argobox-files files "$P"
W=$APP_WIN
xdotool key ctrl+2
wait_for 20 sh -c "identify -verbose '$BLUE' | grep -q 'Thumb::MTime: $(stat -c %Y "$P/blue.jpg")'" ||
	fail "the changed image's thumbnail was not made again"
wait_file 20 "$LOG" "thumbnail of '$P/red.png' ready" || fail "red.png's thumbnail not shown again"
[ "$(stat -c %Y "$RED")" = "$(date -d 2001-01-01 +%s)" ] || fail "red.png's current thumbnail was written again"
green() { shot "$W" "$T/again.png" && near_colour "$T/again.png" "#00ff00" 2000; }
wait_for 10 green || fail "the new thumbnail of blue.jpg (now green) is not drawn"
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null || true

# 7. thumbnails are made off the loop: while 30 big images are being scaled one after
# another, F5 is answered (its "listed and drawn" line comes before the last thumbnail's)
M=$HOME/many
mkdir -p "$M"
convert -size 3000x3000 gradient:red-blue "$M/big00.png"
for i in $(seq -w 1 29); do cp "$M/big00.png" "$M/big$i.png"; done
: >"$LOG"
start_app argobox-files files "$M"
W=$APP_WIN
xdotool key ctrl+2
wait_file 10 "$LOG" "thumbnail of '$M/big" || fail "no thumbnail of the big images"
n0=$(grep -c "listed and drawn" "$LOG" || true)
xdotool key F5
wait_for 10 sh -c "[ \$(grep -c 'listed and drawn' '$LOG') -gt $n0 ]" || fail "F5 not answered"
L=$(grep -n "listed and drawn" "$LOG" | tail -n1 | cut -d: -f1)
later() { awk -v l="$L" 'NR > l && /thumbnail of .* ready/ {found = 1} END {exit !found}' "$LOG"; }
wait_for 60 later ||
	fail "F5 was answered only after the thumbnails were made: $(grep -nE 'listed|ready' "$LOG" | tail -5)"
echo "PASS: files icons"
