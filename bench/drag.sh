#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/drag.sh SECONDS: opens a terminal with static text on $DISPLAY and drags it across
# the screen and back (xdotool, 50 moves a second) for SECONDS, then closes it.
set -euo pipefail
secs=${1:-5}
xterm -T dragme -geometry 80x24+0+300 -e sh -c 'ls -l /usr/bin | head -n 30; exec sleep 600' &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
steps=$((secs * 50))
args=(search --sync --onlyvisible --name '^dragme$')
for ((i = 0; i <= steps; i++)); do
	# triangle wave: 0 → 760 → 0 px
	half=$((steps / 2))
	if ((i <= half)); then x=$((i * 760 / half)); else x=$(((steps - i) * 760 / half)); fi
	args+=(windowmove %1 "$x" 300 sleep 0.02)
done
timeout $((secs + 20)) xdotool "${args[@]}" >/dev/null
