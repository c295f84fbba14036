#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-terminal under a real Xvfb + argobox-wm, driven by xdotool: typing reaches the
# pty, history is written as commands run, non-ASCII text, binary cat, scrollback search,
# PRIMARY/CLIPBOARD copy and paste, bracketed paste, zoom, and the theme followed live.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x700
# Ctrl+click on a URL runs xdg-open: a stand-in records what it was given
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "$1" > %s/opened-url\n' "$T" >"$T/fakebin/xdg-open"
chmod +x "$T/fakebin/xdg-open"
export PATH=$T/fakebin:$PATH
start_app argobox-terminal terminal
W=$APP_WIN
xprop -id "$W" WM_CLASS | grep -q '"terminal-[0-9a-f]\{8\}", "ArgoBoxTerminal"' || fail "WM_CLASS: $(xprop -id "$W" WM_CLASS)"
wait_for 5 sh -c "xprop -id $W _NET_WM_ICON | grep -q 'Icon (16 x 16)'" || fail "no _NET_WM_ICON"
xprop -id "$W" WM_PROTOCOLS | grep -q WM_DELETE_WINDOW || fail "no WM_DELETE_WINDOW"
# its text is drawn with cairo-ft and fontconfig: pango and its glib/gio/harfbuzz stay unloaded
# (4.6 MB of idle RSS, docs/apps.md)
! grep -E 'libpango|libgio|libharfbuzz' "/proc/$APP_PID/maps" >/dev/null ||
	fail "the terminal maps $(grep -oE 'lib(pango|gio|harfbuzz)[^ ]*' "/proc/$APP_PID/maps" | sort -u | tr '\n' ' ')"

# 1. typing reaches the shell on the pty
sleep 0.5
type_line "echo hi > $T/out1"
wait_file 10 "$T/out1" hi || fail "typed command did not run"

# 2. history written as the command runs (terminal still open)
wait_file 10 "$HOME/.bash_history" "echo hi > $T/out1" ||
	fail "history not written to \$HOME/.bash_history while running"

# 3. non-ASCII through the input method, on a German layout (ü ß on their own keys, € on
# AltGr+E), as a user with that layout types them
if command -v setxkbmap >/dev/null && setxkbmap de 2>/dev/null; then
	sleep 0.3
	type_line "echo 'grüße €' > $T/out2"
	wait_file 10 "$T/out2" "grüße €" || fail "non-ASCII text typed wrong: $(cat "$T/out2" 2>&1)"
	setxkbmap us
	sleep 0.3
else
	echo "note: setxkbmap missing, the German layout case is skipped"
fi

# 3b. compose: the dead keys of us(intl) make é and ü through the input method
if command -v setxkbmap >/dev/null && setxkbmap us intl 2>/dev/null; then
	sleep 0.3
	xdotool type --delay 8 "echo "
	xdotool key dead_acute e dead_diaeresis u
	xdotool type --delay 8 " > $T/out2b"
	xdotool key Return
	wait_file 10 "$T/out2b" "éü" || fail "dead keys did not compose: $(cat "$T/out2b" 2>&1)"
	setxkbmap us
	sleep 0.3
fi

# 4. binary data: nothing crashes, the shell still answers
head -c 3000000 /dev/urandom >"$T/bin"
type_line "cat $T/bin; reset; echo after-binary > $T/out3"
wait_file 60 "$T/out3" after-binary || fail "terminal stuck after binary cat"
app_alive || fail "terminal died on binary data"

# 5. scrollback search: a line 5000 lines up (out of the screen, in the scrollback)
type_line "clear; seq 1 12000"
sleep 2
xdotool key ctrl+shift+f
xdotool type -- "5555"
xdotool key Return
sleep 0.5
xdotool key Escape
# the match is the selection; Ctrl+Shift+C puts it on CLIPBOARD
xdotool key ctrl+shift+f
xdotool type -- "5555"
xdotool key Return
xdotool key Escape ctrl+shift+c
wait_for 5 sh -c "xclip -o -selection clipboard | grep -qx 5555" ||
	fail "search did not find '5555' in the scrollback (clipboard: $(xclip -o -selection clipboard 2>&1))"

# 6. paste from CLIPBOARD (Ctrl+Shift+V) and PRIMARY (Shift+Insert)
type_line "clear"
printf 'echo from-clip > %s/out4' "$T" | xclip -selection clipboard
xdotool key ctrl+shift+v Return
wait_file 10 "$T/out4" from-clip || fail "Ctrl+Shift+V did not paste CLIPBOARD"
printf 'echo from-primary > %s/out5' "$T" | xclip -selection primary
xdotool key shift+Insert Return
wait_file 10 "$T/out5" from-primary || fail "Shift+Insert did not paste PRIMARY"

# 6b. a 6 MB paste (more than xclip sends at once: it uses INCR) arrives whole
head -c 4600000 /dev/urandom | base64 -w 76 >"$T/bigpaste"
xclip -selection clipboard <"$T/bigpaste"
type_line "clear; stty -echo; cat > $T/pasted; stty echo"
xdotool key ctrl+shift+v
wait_for 60 sh -c "[ \$(stat -c %s $T/pasted) -ge $(stat -c %s "$T/bigpaste") ]" ||
	fail "6 MB paste: $(stat -c %s "$T/pasted") of $(stat -c %s "$T/bigpaste") bytes"
xdotool key ctrl+d
cmp -s "$T/bigpaste" "$T/pasted" || fail "6 MB paste arrived changed"
type_line "clear"

# 7. bracketed paste: a program that asked for it gets ESC[200~ ... ESC[201~
type_line "clear; printf '\\e[?2004h'; cat -v > $T/bp"
printf 'PASTED' | xclip -selection clipboard
xdotool key ctrl+shift+v
xdotool key Return ctrl+d
wait_file 10 "$T/bp" "^[[200~PASTED^[[201~" ||
	fail "no bracketed paste markers: $(cat "$T/bp" 2>&1)"
type_line "printf '\\e[?2004l'"

# 8c. characters beyond ASCII are drawn at their cells (cairo-ft, no pango): a combining mark
# over its base, Greek, a check mark (from a fallback font where the monospace one lacks it)
# and a full block, in red: each of the four cells has red pixels of its own
type_line "clear; printf '\\033[31me\\314\\201\\316\\251\\342\\234\\223\\342\\226\\210\\033[0m\\n'"
red_in() { # red_in FILE GEOMETRY: red (#e00000, anti-aliased) pixels in that part
	convert "$1" -crop "$2" +repage -fuzz 30% -fill black +opaque "#e00000" -fill white -opaque "#e00000" \
		-format '%[fx:int(mean*w*h)]' info:
}
uni_drawn() {
	shot "$W" "$T/uni.png"
	# the block fills its cell: its columns (red the whole cell high) give the grid
	local cols left right cw c
	cols=$(convert "$T/uni.png" -crop 300x60+0+0 +repage -fuzz 30% -fill black +opaque "#e00000" \
		-fill white -opaque "#e00000" -colorspace gray -scale 300x1! -depth 8 txt:- |
		awk -F'[,:( ]+' 'NR > 1 && $4 + 0 >= 56 {print $1}')
	[ -n "$cols" ] || return 1
	left=$(head -n1 <<<"$cols")
	right=$(tail -n1 <<<"$cols")
	cw=$((right - left + 1))
	((cw >= 5 && left >= 3 * cw)) || return 1
	for c in 0 1 2; do
		(($(red_in "$T/uni.png" "$((cw - 2))x60+$((left - (3 - c) * cw + 1))+0") >= 4)) || return 1
	done
}
wait_for 10 uni_drawn || fail "non-ASCII cells not drawn each at its column (see $T/uni.png)"

# 8. mouse selection goes to PRIMARY; Ctrl+Shift+C copies it to CLIPBOARD
type_line "clear; echo MARKER-LINE"
sleep 0.5
eval "$(xdotool getwindowgeometry --shell "$W")"
# the drag is repeated until the marker line has been drawn (a loaded machine may take a
# while): what is asserted is that a mouse selection of it lands on PRIMARY
select_marker() {
	sleep 0.6 # apart from the last try's click by more than a double-click's time
	xdotool mousemove --window "$W" 4 10 mousedown 1 mousemove --window "$W" 400 10 mouseup 1
	sleep 0.2
	xclip -o -selection primary 2>/dev/null | grep -q MARKER-LINE
}
wait_for 15 select_marker ||
	fail "mouse selection not on PRIMARY: $(xclip -o -selection primary 2>&1)"
xdotool key ctrl+shift+c
wait_for 5 sh -c "xclip -o -selection clipboard | grep -q MARKER-LINE" || fail "Ctrl+Shift+C"

# 8b. Ctrl+click on a URL opens it (sentence punctuation not included)
type_line "clear; echo 'see https://example.com/x_(y).'"
sleep 0.5
xdotool mousemove --window "$W" 120 10 keydown ctrl click 1 keyup ctrl
wait_file 5 "$T/opened-url" "https://example.com/x_(y)" || fail "Ctrl+click did not open the URL"
grep -qx "https://example.com/x_(y)" "$T/opened-url" || fail "URL cut wrong: $(cat "$T/opened-url")"

# 9. screenshot: drawn (many colours), the theme's background present; then live dark theme
drawn "$W" "$T/light.png" "terminal looks blank"
xprop -root -f _ARGOBOX_THEME 8u -set _ARGOBOX_THEME "$(printf 'mode=dark\naccent=#ff8800\nfont=DejaVu Sans 10\n')"
sleep 0.5
type_line "clear; echo dark"
sleep 0.5
shot "$W" "$T/dark.png"
has_colour "$T/dark.png" "#1b1e24" 5000 || fail "dark theme background not drawn"
has_colour "$T/dark.png" "#ff8800" 20 || fail "accent (cursor) not in the new accent colour"

# 10. zoom: Ctrl+plus makes the grid smaller (fewer columns reported by stty)
type_line "stty size > $T/size1"
wait_file 5 "$T/size1" " "
xdotool key ctrl+plus ctrl+plus ctrl+plus
sleep 0.3
type_line "stty size > $T/size2"
wait_file 5 "$T/size2" " "
c1=$(cut -d' ' -f2 "$T/size1")
c2=$(cut -d' ' -f2 "$T/size2")
((c2 < c1)) || fail "zoom did not change the grid ($c1 -> $c2 columns)"

# 11. exit: the shell exits, the terminal closes cleanly
type_line "exit"
wait_for 10 sh -c "! kill -0 $APP_PID" || fail "terminal did not exit with its shell"
wait "$APP_PID" || fail "terminal exit status $?: $(tail -5 "$T/argobox-terminal.log")"
echo "PASS: terminal"
