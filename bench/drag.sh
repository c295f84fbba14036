#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/drag.sh SECONDS: opens a terminal with static text on $DISPLAY and drags it across
# the screen and back (ab-xdrag: 50 moves a second, each flushed to the X server, x 0 → 760
# → 0 at y 300) for SECONDS, then closes it.
set -euo pipefail
secs=${1:-5}
xdrag=${AB_BUILD_DIR:-$(dirname "$0")/../build}/bench/ab-xdrag
xterm -T dragme -geometry 80x24+0+300 -e sh -c 'ls -l /usr/bin | head -n 30; exec sleep 600' &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
xdotool search --sync --onlyvisible --name '^dragme$' >/dev/null
timeout $((secs + 20)) "$xdrag" dragme "$secs" 50 760 300
