#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-wm draws what it should: a screenshot of the root window (ImageMagick
# `import`) sampled at the taskbar's launcher button, a focused frame's title bar,
# accent line and close button, an unfocused frame, and the client's own content.
. "$(dirname "$0")/lib.sh"
command -v import >/dev/null || { echo "SKIP: ImageMagick is not installed"; exit 77; }
start_x 1280x800
start_wm
client_as B Beta Beta 300x200+700+150
client_as A Alpha Alpha 300x200+200+150
wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $A ]" || fail "A not focused"
check 14 770 "#3d8bfd" "taskbar launcher button (accent)"
check 380 122 "#2c2f37" "focused title bar"
check 300 119 "#3d8bfd" "focused accent line"
check 473 135 "#e5484d" "close button"
check 880 122 "#24262d" "unfocused title bar"
check 350 250 "#5a6b7c" "client content"
# the taskbar background is dark and translucent over the wallpaper: darker than the desktop
read -r r g b <<<"$(px 640 790)"
((r < 60 && g < 60 && b < 70)) || fail "taskbar background rgb($r $g $b)"
wm_alive
echo PASS
