#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/stack.sh NAME DIR PORT GEOMETRY
# Starts one desktop stack of the streaming benchmark in the foreground and
# stays until SIGTERM, then stops everything it started. Every stack shows the
# same desktop, as a user's really looks: the ArgoBox wallpaper photo
# (assets/wallpapers/calm-dusk.png scaled to the screen, set by ab-xroot) on the
# root window, an 80x24 xterm (title "bterm") at +0+0 with a directory listing
# above a plain bash, and a window of text over the photo (xmessage, title
# "abtext", the first lines of LICENSE) at +560+120. $AB_BENCH_WALLPAPER may
# name the scaled picture (a PPM) made once for a whole run; without it, it is
# made in DIR. It writes the X display to DIR/display once known.
#   xvnc            TigerVNC's Xvnc, RFB on 127.0.0.1:PORT
#   x11vnc          Xvfb + x11vnc, RFB on 127.0.0.1:PORT
#   x11vnc-ws       the same + websockify on 127.0.0.1:PORT (x11vnc on PORT+1)
#   argobox-direct  argobox-session, RFB on DIR/rfb.sock
#   argobox-ws      argobox-broker on 127.0.0.1:PORT (it starts argobox-session)
# The binaries come from $AB_BUILD_DIR (default: build/ at the top of the tree).
set -euo pipefail
name=$1 dir=$2 port=$3 geom=${4:-1280x800}
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
build=${AB_BUILD_DIR:-$top/build}
mkdir -p "$dir"
rm -f "$dir/display" "$dir/dfd"

pids=()
cleanup() {
	trap - TERM INT EXIT
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	exit 0
}
trap cleanup TERM INT EXIT

w=${geom%x*} h=${geom#*x}
wallpaper=${AB_BENCH_WALLPAPER:-$dir/wallpaper.ppm}
if [ ! -s "$wallpaper" ]; then
	convert "$top/assets/wallpapers/calm-dusk.png" -resize "${w}x${h}!" "$wallpaper"
fi
head -n 36 "$top/LICENSE" >"$dir/text.txt"

# The desktop, given the display: same commands for every stack.
desktop_cmd() { # prints a sh command line that sets up the desktop and then waits on the xterm
	printf "echo \"\$DISPLAY\" > '%s/display'; '%s/bench/ab-xroot' '%s'; " "$dir" "$build" "$wallpaper"
	printf "xmessage -title abtext -geometry +560+120 -file '%s/text.txt' & " "$dir"
	printf "exec xterm -T bterm -geometry 80x24+0+0 -e bash --norc --noprofile -c "
	printf "'ls -l /usr/bin | head -n 16; exec bash --norc --noprofile'"
}

# Xvfb (or Xvnc) on a free display, readiness via -displayfd (no sleeps).
start_x() { # start_x BINARY args...
	local bin=$1
	shift
	mkfifo "$dir/dfd"
	"$bin" -displayfd 9 -nolisten tcp -noreset "$@" 9>"$dir/dfd" 2>"$dir/$(basename "$bin").log" &
	pids+=($!)
	local n
	read -r -t 30 n <"$dir/dfd"
	rm -f "$dir/dfd"
	display=":$n"
}

start_desktop() {
	DISPLAY=$display sh -c "$(desktop_cmd)" 2>"$dir/xterm.log" &
	pids+=($!)
}

case "$name" in
xvnc)
	start_x Xvnc -geometry "$geom" -depth 24 -rfbport "$port" -interface 127.0.0.1 \
		-SecurityTypes None -AlwaysShared
	start_desktop
	;;
x11vnc | x11vnc-ws)
	vport=$port
	[ "$name" = x11vnc-ws ] && vport=$((port + 1))
	start_x Xvfb -screen 0 "${w}x${h}x24"
	x11vnc -display "$display" -rfbport "$vport" -localhost -nopw -forever -shared -quiet \
		-noipv6 >"$dir/x11vnc.log" 2>&1 &
	pids+=($!)
	if [ "$name" = x11vnc-ws ]; then
		websockify 127.0.0.1:"$port" 127.0.0.1:"$vport" 2>"$dir/websockify.log" >&2 &
		pids+=($!)
	fi
	start_desktop
	;;
argobox-direct)
	"$build/session/argobox-session" --runtime-dir "$dir" --geometry "$geom" \
		-- sh -c "$(desktop_cmd)" 2>"$dir/session.log" &
	pids+=($!)
	;;
argobox-ws)
	# Keys as in broker/broker_config.c (argobox-broker --print-default-config).
	jq -n --arg bin "$build/session/argobox-session" --arg base "$dir/run" --arg geom "$geom" \
		--arg desk "$(desktop_cmd)" --argjson port "$port" --arg data "$dir/data" '{
		listen: {address: "127.0.0.1", port: $port}, data: {dir: $data},
		session: {binary: $bin, runtime_base: $base, geometry: $geom, launcher: "process",
		          desktop_command: ["sh", "-c", $desk]}}' >"$dir/broker.json"
	"$build/broker/argobox-broker" --config "$dir/broker.json" 2>"$dir/broker.log" &
	pids+=($!)
	;;
*)
	echo "stack.sh: unknown stack '$name'" >&2
	exit 2
	;;
esac
wait "${pids[0]}"
