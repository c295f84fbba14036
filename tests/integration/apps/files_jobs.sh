#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-files runs several copies at once, under a real Xvfb + argobox-wm, driven by xdotool:
# Ctrl+V twice pastes a 640 MiB file twice into a folder; both cp children run at the same
# time (not one after the other), each has its own progress row, and both copies end byte for
# byte the same as the source, under two names. Then two more into another folder, and a click
# on the first row's Cancel: that cp is killed and its partial file removed, while the other
# goes on and finishes whole.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
title() { xprop -id "$1" _NET_WM_NAME | sed 's/.*= "\(.*\)"$/\1/'; }
title_has() { title "$1" | grep -qF -- "$2"; }
LOG=$T/argobox-files.log
W0=$HOME/work
mkdir -p "$W0/a-dst" "$W0/b-dst"
# 640 MiB of random 4 MiB blocks, each block different
head -c $((4 << 20)) /dev/urandom >"$T/block"
for i in $(seq 160); do
	printf '%08d' "$i"
	cat "$T/block"
done >"$W0/big.bin"
copies() { { pgrep -P "$APP_PID" -x cp || true; } | wc -l; }
# hold_two: SIGSTOPs each cp child of the app as soon as it is seen, until two are held (a
# 640 MiB copy takes well under a second on a quiet machine: without the hold it could end
# before the test looked); sets HELD to their pids. False when two never ran at once.
hold_two() {
	local p i
	HELD=""
	for i in $(seq 400); do
		for p in $(pgrep -P "$APP_PID" -x cp || true); do
			case " $HELD " in *" $p "*) continue ;; esac
			kill -STOP "$p" 2>/dev/null && HELD="$HELD $p"
		done
		[ "$(echo $HELD | wc -w)" -ge 2 ] && return 0
		sleep 0.025
	done
	return 1
}

start_app argobox-files files "$W0"
W=$APP_WIN
wait_for 10 title_has "$W" "$W0 (3 items)" || fail "title: $(title "$W")"
eval "$(xdotool getwindowgeometry --shell "$W")"

# 1. two copies at once: rows are a-dst, b-dst, big.bin
xdotool key Home Down Down ctrl+c Home Return
wait_for 5 title_has "$W" "$W0/a-dst" || fail "did not open a-dst: $(title "$W")"
xdotool key ctrl+v ctrl+v
hold_two && [ "$(copies)" = 2 ] ||
	fail "the two pastes do not run at once ($(copies) cp running): $(tail -3 "$LOG")"
grep -qF "copying 'big (copy).bin': " "$LOG" && grep -qF "(2 running)" "$LOG" ||
	fail "no second job: $(tail -3 "$LOG")"
# two progress rows at the bottom, each with its Cancel in the accent
shot "$W" "$T/jobs.png"
convert "$T/jobs.png" -crop "${WIDTH}x$((2 * 26))+0+$((HEIGHT - 8 - 2 * 26))" +repage "$T/rows.png"
has_colour "$T/rows.png" "#3d8bfd" 40 || fail "no progress rows with a Cancel button"
kill -CONT $HELD
wait_for 180 sh -c "[ \$(grep -cF \"copied 'big.bin'\" '$LOG') = 1 ] && [ \$(grep -cF \"copied 'big (copy).bin'\" '$LOG') = 1 ]" ||
	fail "the two copies did not both finish: $(tail -3 "$LOG")"
cmp "$W0/big.bin" "$W0/a-dst/big.bin" || fail "the first copy differs from the source"
cmp "$W0/big.bin" "$W0/a-dst/big (copy).bin" || fail "the second copy differs from the source"
[ "$(copies)" = 0 ] || fail "cp still running after both finished"

# 2. two more at once into b-dst; the first cancelled, the second goes on
xdotool key BackSpace
wait_for 5 title_has "$W" "$W0 (" || fail "did not go back up"
xdotool key Home Down Return
wait_for 5 title_has "$W" "$W0/b-dst" || fail "did not open b-dst: $(title "$W")"
xdotool key ctrl+v ctrl+v
hold_two && [ "$(copies)" = 2 ] || fail "the second pair does not run at once ($(copies) cp running)"
SECOND=$(pgrep -P "$APP_PID" -f "b-dst/big \(copy\)\.bin")
[ -n "$SECOND" ] || fail "no cp for b-dst/big (copy).bin"
FIRST=$(echo $HELD | tr ' ' '\n' | grep -vx "$SECOND")
# the first row's Cancel (rows from the bottom: files.c JOB_H 26, CANCEL_W 96); the held first
# cp takes the Cancel's SIGTERM as it goes on; the second stays held meanwhile
xdotool mousemove --window "$W" $((WIDTH - 50)) $((HEIGHT - 8 - 2 * 26 + 13)) click 1
sleep 0.5
kill -CONT $FIRST
wait_file 10 "$LOG" "copying 'big.bin' cancelled" || fail "Cancel did not stop the first: $(tail -3 "$LOG")"
# the second's cp still copying (alive, not a zombie waiting to be reaped), its row still there
case "$(ps -o stat= -p "$SECOND" 2>/dev/null)" in
"" | Z*) fail "cancelling the first stopped the second (or it ended before the click)" ;;
esac
[ "$(copies)" = 1 ] || fail "$(copies) cp running after one cancel, not 1"
[ ! -e "$W0/b-dst/big.bin" ] || fail "the cancelled copy's partial file was kept"
kill -CONT "$SECOND"
wait_for 180 sh -c "[ \$(grep -cF \"copied 'big (copy).bin'\" '$LOG') = 2 ]" ||
	fail "the second copy did not finish after the first was cancelled: $(tail -3 "$LOG")"
cmp "$W0/big.bin" "$W0/b-dst/big (copy).bin" || fail "the copy that went on differs from the source"
[ ! -e "$W0/b-dst/big.bin" ] || fail "the cancelled copy came back"
cmp "$W0/big.bin" "$W0/a-dst/big.bin" || fail "the source changed"
app_alive || fail "files died"
echo "PASS: files jobs"
