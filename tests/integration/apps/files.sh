#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-files under a real Xvfb + argobox-wm, driven by xdotool: open a folder, new folder,
# rename, delete to the freedesktop Trash (.trashinfo), live update by inotify, hidden toggle,
# open with the .desktop entry for the MIME type (a broken .desktop skipped), copy and move
# (Ctrl+C/X, Ctrl+V, a big copy's progress, a folder into itself refused, drag and drop onto a
# folder), a folder of
# 100 000 entries loaded without freezing, a folder the user cannot read.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
title() { xprop -id "$1" _NET_WM_NAME | sed 's/.*= "\(.*\)"$/\1/'; }
title_has() { title "$1" | grep -qF -- "$2"; }

W0=$HOME/work
mkdir -p "$W0/sub"
echo a >"$W0/alpha.txt"
echo b >"$W0/beta.txt"
echo h >"$W0/.hidden"
# open-with: one broken entry, one that records what it was asked to open
mkdir -p "$T/share/applications"
printf '[Desktop Entry]\nType=Application\nMimeType=text/plain;\n' >"$T/share/applications/aa-broken.desktop"
printf 'garbage\0\n' >"$T/share/applications/ab-binary.desktop"
printf '#!/bin/sh\necho "$1" > %s/opened\n' "$T" >"$T/rec.sh"
chmod +x "$T/rec.sh"
printf '[Desktop Entry]\nType=Application\nName=Rec\nExec=%s/rec.sh %%f\nMimeType=text/plain;\n' "$T" \
	>"$T/share/applications/rec.desktop"
export XDG_DATA_DIRS=$T/share
export ARGOBOX_APPS='*' # every app: the profile's filter is checked at the end

start_app argobox-files files "$W0"
W=$APP_WIN
wait_for 10 title_has "$W" "$W0 (3 items)" || fail "title: $(title "$W")"
drawn "$W" "$T/f0.png" "files look blank"
has_colour "$T/f0.png" "#3d8bfd" 100 || fail "no selection in the accent colour"

# hidden toggle
xdotool key ctrl+h
wait_for 5 title_has "$W" "(4 items)" || fail "Ctrl+H did not show hidden files: $(title "$W")"
xdotool key ctrl+h
wait_for 5 title_has "$W" "(3 items)" || fail "Ctrl+H did not hide again"

# edit KEYS WHAT TEXT: KEYS open the name editor (the app logs WHAT once it is editing), TEXT
# is typed into it and Return ends it; waits for the app's answer in its log and prints it.
LOG=$T/argobox-files.log
edit() {
	local before
	before=$(grep -cF -- "$2" "$LOG" || true)
	xdotool key $1
	wait_for 10 sh -c '[ "$(grep -cF -- "$1" "$2")" -gt "$3" ]' sh "$2" "$LOG" "$before" ||
		fail "$1 did not open the name editor: $(tail -2 "$LOG")"
	xdotool type --delay 15 -- "$3"
	before=$(wc -l <"$LOG")
	xdotool key Return
	wait_for 10 sh -c "tail -n +$((before + 1)) '$LOG' | grep -qE \"created|renamed to|already exists|not a valid name|new folder '|rename: \"" ||
		fail "no answer to '$3': $(tail -2 "$LOG")"
}
# xdotool types a character the keymap lacks (ö) by mapping a spare keycode to it for one key
# press and mapping it back at once: an app slow to read the press looks it up after the
# mapping went back and gets no ö. The test gives ö a keycode of its own, so xdotool presses a
# key that stays mapped (still a real key event through the app's input method).
KC=$(xmodmap -pke | awk 'NF == 3 && $1 == "keycode" && $2 > 200 && !k {k = $2} END {print k}')
[ -n "$KC" ] && xmodmap -e "keycode $KC = odiaeresis Odiaeresis" || fail "no spare keycode for ö"

# new folder (typed through the input method, non-ASCII included)
edit ctrl+n "new folder: editing" "Neu-ördner"
grep -qF "folder 'Neu-ördner' created" "$LOG" || fail "new folder not created: $(tail -1 "$LOG")"
wait_for 5 test -d "$W0/Neu-ördner" || fail "new folder not created"
wait_for 5 title_has "$W" "(4 items)" || fail "new folder not listed"

# the order is folders first, then names: Neu-ördner, sub, alpha.txt, beta.txt
# rename alpha.txt (row 3)
xdotool key Home Down Down
edit "F2 ctrl+u" "rename 'alpha.txt': editing" "gamma.txt"
grep -qF "renamed to 'gamma.txt'" "$LOG" || fail "rename did not happen: $(tail -1 "$LOG")"
wait_for 5 test -f "$W0/gamma.txt" || fail "rename did not happen"
[ ! -e "$W0/alpha.txt" ] || fail "old name still there"

# open with: Enter on a text file runs the entry for text/plain (the broken ones skipped)
xdotool key Home Down Down Return
wait_file 5 "$T/opened" "$W0/beta.txt" || fail "open with did not run the .desktop Exec"

# delete to the Trash: beta.txt (row 3)
xdotool key Home Down Down Delete
wait_for 5 test -f "$HOME/.local/share/Trash/files/beta.txt" || fail "beta.txt not in the Trash"
grep -q "^Path=$W0/beta.txt$" "$HOME/.local/share/Trash/info/beta.txt.trashinfo" ||
	fail "bad .trashinfo: $(cat "$HOME/.local/share/Trash/info/beta.txt.trashinfo")"
grep -q '^DeletionDate=20[0-9-]*T[0-9:]*$' "$HOME/.local/share/Trash/info/beta.txt.trashinfo" ||
	fail "no DeletionDate"

# live update: a file made by someone else appears by itself
touch "$W0/from-outside"
wait_for 5 title_has "$W" "(4 items)" || fail "inotify: $(title "$W")"

# copy and move (Ctrl+C / Ctrl+X, Ctrl+V), by cp -a / mv in a child: rows are Neu-ördner, sub,
# from-outside, gamma.txt
head -c $((48 << 20)) /dev/urandom >"$W0/sub/big.bin"
xdotool key Home Down Down Down ctrl+c
xdotool key Home Down Return
wait_for 5 title_has "$W" "$W0/sub" || fail "did not open sub: $(title "$W")"
xdotool key ctrl+v
wait_for 10 test -f "$W0/sub/gamma.txt" || fail "Ctrl+V did not copy gamma.txt"
[ -f "$W0/gamma.txt" ] || fail "the copy removed the original"
xdotool key ctrl+v
wait_for 10 test -f "$W0/sub/gamma (copy).txt" || fail "a second paste did not make 'gamma (copy).txt'"
# a big file: progress, then done; the window answers meanwhile
xdotool key Home ctrl+c ctrl+v
wait_file 10 "$T/argobox-files.log" "copying 'big (copy).bin': " || fail "no progress for a big copy"
wait_file 20 "$T/argobox-files.log" "copied 'big (copy).bin'" || fail "big copy not finished"
cmp "$W0/sub/big.bin" "$W0/sub/big (copy).bin" || fail "the copy differs"
# a folder into itself is refused with a clear message
xdotool key BackSpace
wait_for 5 title_has "$W" "$W0 (" || fail "did not go back up"
xdotool key Home Down ctrl+c Return
wait_for 5 title_has "$W" "$W0/sub" || fail "did not open sub again"
xdotool key ctrl+v
wait_file 5 "$T/argobox-files.log" "cannot copy '$W0/sub' into itself" || fail "no refusal: $(tail -2 "$T/argobox-files.log")"
# move: from-outside into sub
xdotool key BackSpace
wait_for 5 title_has "$W" "$W0 (" || fail "did not go back up"
xdotool key Home Down Down ctrl+x Home Down Return
wait_for 5 title_has "$W" "$W0/sub" || fail "did not open sub for the move"
xdotool key ctrl+v
wait_for 10 test -f "$W0/sub/from-outside" || fail "Ctrl+X, Ctrl+V did not move"
[ ! -e "$W0/from-outside" ] || fail "the moved file is still in its old place"
app_alive || fail "files died copying"
# drag and drop within the window: gamma.txt (row 2) dropped on Neu-ördner (row 0) moves it
xdotool key BackSpace
wait_for 5 title_has "$W" "$W0 (3 items)" || fail "not back in $W0: $(title "$W")"
row_y() { echo $((80 + 24 * $1)); } # files.c: LIST_Y - 16 + ROW_H * row + ROW_H / 2
xdotool mousemove --window "$W" 200 "$(row_y 2)" mousedown 1
xdotool mousemove --window "$W" 210 "$(row_y 1)"
sleep 0.2
xdotool mousemove --window "$W" 200 "$(row_y 0)"
sleep 0.2
xdotool mouseup 1
wait_for 10 test -f "$W0/Neu-ördner/gamma.txt" || fail "drag and drop did not move gamma.txt: $(tail -2 "$T/argobox-files.log")"
[ ! -e "$W0/gamma.txt" ] || fail "the dropped file is still in its old place"

# 100 000 entries: loads in slices, the window answers meanwhile
mkdir "$T/big"
python3 -c "
import os
for i in range(100000): open(os.path.join('$T/big', 'f%06d' % i), 'w').close()"
xdotool key ctrl+n
xdotool type --delay 15 "x"
xdotool key Escape
kill "$APP_PID"
# the next start_app looks the window up by class: not this one, still closing
wait_for 10 sh -c "! xdotool search --classname files" || fail "the killed files window stayed"
start=$(date +%s%N)
start_app argobox-files files "$T/big"
W=$APP_WIN
wait_for 60 title_has "$W" "(100000 items)" || fail "100000 entries not listed: $(title "$W")"
ms=$((($(date +%s%N) - start) / 1000000))
echo "100000 entries listed in ${ms} ms (with start-up)"
xdotool key End
sleep 0.5
drawn "$W" "$T/big.png" "big folder looks blank"
app_alive || fail "files died on 100000 entries"
kill "$APP_PID"

# a folder the user cannot read: a clear message, no crash (run as nobody)
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	mkdir -m 700 "$T/secret"
	chmod 755 "$T"
	HOME=$T setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$APPS/argobox-files" "$T/secret" >"$T/nobody.log" 2>&1 &
	P=$!
	PIDS+=($P)
	wait_for 20 xdotool search --classname files || fail "files as nobody did not start"
	W=$(xdotool search --classname files | head -n1)
	wait_for 10 title_has "$W" "(error)" || fail "unreadable folder: $(title "$W")"
	drawn "$W" "$T/err.png" "no message drawn" 4
	kill -0 "$P" || fail "files died on an unreadable folder"
	kill "$P"
else
	echo "note: not root, the unreadable-folder case is skipped"
fi
# usage against the home's size: a 4 MiB tmpfs with 1 MiB in it (root: the mount)
if [ "$(id -u)" = 0 ] && mkdir -p "$T/q" && mount -t tmpfs -o size=4m abtest-quota "$T/q" 2>/dev/null; then
	at_exit "umount -l '$T/q'"
	head -c 1048576 /dev/zero >"$T/q/big"
	"$APPS/argobox-files" "$T/q" >"$T/quota.log" 2>&1 &
	PIDS+=($!)
	wait_file 20 "$T/quota.log" "1.0 MiB used of 4.0 MiB (25%)" ||
		fail "no usage against the size: $(cat "$T/quota.log")"
	kill "${PIDS[-1]}"
else
	echo "note: not root (or no tmpfs mount), the usage case is skipped"
fi
# "open with" offers only the profile's apps: the launcher's list (ARGOBOX_APPS, TryExec). A
# host-only viewer handles text and PNG; the profile's "rec" handles text; its "image-viewer"
# (X-ArgoBox-App) is not installed (TryExec): a text file opens with rec, a PNG with nothing.
wait_for 10 sh -c "! xdotool search --classname files" || fail "the last files window stayed"
printf '#!/bin/sh\necho "$1" > %s/host-opened\n' "$T" >"$T/host.sh"
chmod +x "$T/host.sh"
printf '[Desktop Entry]\nType=Application\nName=Host Viewer\nExec=%s/host.sh %%f\nMimeType=text/plain;image/png;\n' "$T" \
	>"$T/share/applications/0-hostviewer.desktop"
printf '[Desktop Entry]\nType=Application\nName=Viewer\nX-ArgoBox-App=image-viewer\nTryExec=/nonexistent/viewer\nExec=%s/host.sh %%f\nMimeType=image/png;\n' "$T" \
	>"$T/share/applications/viewer.desktop"
mkdir -p "$T/ow"
echo t >"$T/ow/note.txt"
printf '\x89PNG\r\n' >"$T/ow/pic.png"
rm -f "$T/opened" "$T/host-opened"
ARGOBOX_APPS=terminal,files,rec,image-viewer start_app argobox-files files "$T/ow"
W=$APP_WIN
wait_for 10 title_has "$W" "$T/ow (2 items)" || fail "title: $(title "$W")"
xdotool key Home Return
wait_file 5 "$T/opened" "$T/ow/note.txt" || fail "the profile's rec did not open note.txt: $(tail -2 "$T/argobox-files.log")"
xdotool key Home Down Return
wait_file 5 "$T/argobox-files.log" "no app of this desktop's profile opens 'pic.png' (image/png)" ||
	fail "pic.png: $(tail -2 "$T/argobox-files.log")"
sleep 0.5
[ ! -e "$T/host-opened" ] || fail "a host-only app the profile does not offer opened $(cat "$T/host-opened")"
echo "open with: note.txt with the profile's app, pic.png with none (the host-only viewer and an uninstalled one left out)"
kill "$APP_PID"
echo "PASS: files"
