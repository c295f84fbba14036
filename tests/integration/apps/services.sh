#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-services under a real Xvfb + argobox-wm: with no services registry on the broker it
# says so (title and a drawn card in the theme), and shows no invented service.
. "$(dirname "$0")/lib.sh"
start_x 1024x768
start_wm
start_app argobox-services services
W=$APP_WIN
xprop -id "$W" _NET_WM_NAME | grep -q "no registry on this broker yet" || fail "title"
sleep 0.3
shot "$W" "$T/s.png"
(($(colours "$T/s.png") > 8)) || fail "services window looks blank"
has_colour "$T/s.png" "#3d8bfd" 20 || fail "no accent (status dot) drawn"
xdotool key Escape
wait_for 5 sh -c "! kill -0 $APP_PID" || fail "Escape did not close it"
wait "$APP_PID" || fail "exit status $?"
echo "PASS: services"
