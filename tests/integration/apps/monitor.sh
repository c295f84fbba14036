#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-monitor under a real Xvfb + argobox-wm: it lists the processes from /proc, the
# filter is typed through the input method, Delete ends (SIGTERM) an own process, the
# graphs are drawn in the theme's accent, and the theme is followed live.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
# a process with a name we can find: a copy of sleep
cp "$(command -v sleep)" "$T/abmonvictim"
"$T/abmonvictim" 600 &
VICTIM=$!
PIDS+=($VICTIM)
start_app argobox-monitor monitor
W=$APP_WIN
xprop -id "$W" WM_CLASS | grep -q '"monitor", "ArgoBoxMonitor"' || fail "WM_CLASS"
sleep 2.5 # a few samples for the graphs
drawn "$W" "$T/mon.png" "monitor looks blank"
has_colour "$T/mon.png" "#3d8bfd" 100 || fail "no graph/selection in the default accent"

# the filter narrows the list to the victim; Delete sends it SIGTERM
xdotool type --delay 20 abmonvict
sleep 0.5
# '+' renices it (nicer by one)
xdotool key plus
wait_for 5 sh -c "[ \$(ps -o ni= -p $VICTIM) -eq 1 ]" || fail "'+' did not renice: $(ps -o ni= -p $VICTIM)"
xdotool key Delete
wait_for 10 sh -c "! kill -0 $VICTIM 2>/dev/null || grep -q '^State:.*Z' /proc/$VICTIM/status" ||
	fail "Delete did not end the selected own process"
wait "$VICTIM" 2>/dev/null && fail "victim exited 0, not by SIGTERM" || true

# live theme: dark with another accent
xprop -root -f _ARGOBOX_THEME 8u -set _ARGOBOX_THEME "$(printf 'mode=dark\naccent=#22aa55\n')"
sleep 1.5
shot "$W" "$T/dark.png"
has_colour "$T/dark.png" "#1b1e24" 5000 || fail "dark background not drawn"
has_colour "$T/dark.png" "#22aa55" 50 || fail "new accent not drawn"
app_alive || fail "monitor died"
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
echo "PASS: monitor"
