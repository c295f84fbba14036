#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-services under a real Xvfb + argobox-wm: with no services registry on the broker it
# says so (title and a drawn card in the theme), and shows no invented service.
. "$(dirname "$0")/lib.sh"
start_desktop 1024x768
start_app argobox-services services
xprop -id "$APP_WIN" _NET_WM_NAME | grep -q "no registry on this broker yet" || fail "title"
sleep 0.3
drawn "$APP_WIN" "$T/s.png" "services window looks blank"
has_colour "$T/s.png" "#3d8bfd" 20 || fail "no accent (status dot) drawn"
xdotool key Escape
wait_for 5 sh -c "! kill -0 $APP_PID" || fail "Escape did not close it"
wait "$APP_PID" || fail "exit status $?"
echo "PASS: services"
