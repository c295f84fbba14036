# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers of the argobox-wm integration tests (sourced).
# Each test gets its own temp dir, its own Xvfb (display chosen by -displayfd)
# and its own window manager; everything it starts is killed on exit.
set -Eeuo pipefail
# any unexpected failure says where it happened
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR

: "${AB_BUILD_DIR:?run through ctest}" "${AB_SOURCE_DIR:?run through ctest}"
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/sh/lib.sh"
WM=$B/wm/argobox-wm
TC=$B/tests/integration/wm/wm-testclient
PEER=$B/tests/integration/wm/wm-testpeer

need_tools Xvfb xdotool xprop xwininfo jq

ab_tmpdir abwm-test
PIDS=() # killed at exit, the last started first, then waited for
at_exit _wm_down
_wm_down() {
	local p i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/wm.log" ]; then
		echo "--- wm log" >&2
		tail -n 40 "$T/wm.log" >&2
	fi
	if [ -n "${DISPLAY:-}" ]; then
		echo "--- windows" >&2
		xprop -root _NET_CLIENT_LIST _NET_ACTIVE_WINDOW >&2 2>/dev/null || true
		xwininfo -root -tree 2>/dev/null | head -n 30 >&2 || true
	fi
	exit 1
}

start_x() { # start_x [WxH]
	local size=${1:-1280x800}
	Xvfb -displayfd 9 -screen 0 "${size}x24" -nolisten tcp -noreset 9>"$T/display" \
		2>"$T/xvfb.log" &
	PIDS+=($!)
	wait_for 20 test -s "$T/display" || fail "Xvfb did not start"
	export DISPLAY=:$(head -n1 "$T/display")
	wait_for 20 xprop -root _NET_NONE || true
}

# start_wm [args...]: starts the window manager and waits until it owns the display.
start_wm() {
	: >"$T/wm.log"
	XDG_DATA_DIRS=${XDG_DATA_DIRS:-$T/share:$S/assets} ARGOBOX_APPS=${ARGOBOX_APPS:-*} \
		"$WM" --state-out "$T/state.json" --log-level debug "$@" >>"$T/wm.log" 2>&1 &
	WM_PID=$!
	PIDS+=($WM_PID)
	wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" ||
		fail "window manager did not start"
}

stop_wm() { # SIGTERM: the window manager must exit cleanly (0, no sanitizer report)
	local rc=0
	kill "$WM_PID" 2>/dev/null || true
	wait "$WM_PID" 2>/dev/null || rc=$?
	[ "$rc" = 0 ] || fail "window manager exited with status $rc"
}

wm_alive() {
	kill -0 "$WM_PID" 2>/dev/null || fail "window manager died"
}

# client ARGS...: starts wm-testclient, sets WIN to its window id.
client() {
	local out
	out=$(mktemp "$T/client.XXXXXX")
	"$TC" "$@" >"$out" &
	PIDS+=($!)
	CPID=$!
	wait_for 10 test -s "$out" || fail "test client did not start"
	WIN=$(head -n1 "$out")
}

client_as() { # client_as VAR CLASS TITLE GEOMETRY [ARGS...]: client, and VAR=its window id
	local var=$1
	client --class "$2" --title "$3" --geometry "$4" "${@:5}"
	printf -v "$var" %s "$WIN"
}

xterm_at() { # xterm_at GEOMETRY: an xterm, managed; sets XT to its window id
	xterm -geometry "$1" &
	PIDS+=($!)
	wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"XTerm\"'" || fail "xterm did not map"
	XT=$(xwininfo -root -tree | awk '/"XTerm"/{print $1; exit}')
	wait_for 10 managed "$XT" || fail "xterm not managed"
}

start_session() { # start_session WxH: argobox-session with the window manager, runtime dir $RUN
	mkdir -p "$T/share/applications"
	ARGOBOX_APPS='*' XDG_DATA_DIRS=$T/share:$S/assets \
		"$SESSION" --runtime-dir "$RUN" --geometry "$1" --ready-fd 8 -- \
		"$WM" --state-out "$T/state.json" --log-level debug 8>"$T/ready" >"$T/wm.log" 2>&1 &
	SPID=$!
	PIDS+=($SPID)
	wait_for 30 grep -q READY "$T/ready" || fail "session not ready"
}

managed() { # managed WIN: the window is in _NET_CLIENT_LIST
	xprop -root _NET_CLIENT_LIST | grep -qi "$(printf '0x%x' "$1")"
}

# geom WIN: "x y w h" of the window's content in root coordinates
geom() {
	xwininfo -id "$1" | awk '/Absolute upper-left X/{x=$4} /Absolute upper-left Y/{y=$4}
		/^  Width/{w=$2} /^  Height/{h=$2} END{print x, y, w, h}'
}

expect_geom() { # expect_geom WIN "x y w h" [what]
	local want=$2 got
	if ! wait_for 10 sh -c "[ \"\$(. '$T/geomfn'; geom $1)\" = '$want' ]"; then
		got=$(geom "$1")
		fail "${3:-geometry} of $1: got '$got', want '$want'"
	fi
}

frame_of() { # the parent (frame) of a client window
	xwininfo -children -id "$1" | awk '/Parent window id/{print $4}'
}

active() {
	xprop -root _NET_ACTIVE_WINDOW | awk '{print $NF}'
}

expect_active() { # expect_active WIN: WIN becomes _NET_ACTIVE_WINDOW
	wait_for 10 sh -c "[ \$(xprop -root _NET_ACTIVE_WINDOW | awk '{print \$NF}') = $1 ]" ||
		fail "$1 is not the active window ($(active))"
}

same_win() { # same_win A B: numeric comparison of window ids
	[ "$(printf '%d' "$1")" = "$(printf '%d' "$2")" ]
}

# nc: the notification centre's mirror on the root window (_ARGOBOX_NOTIFICATIONS) as JSON
nc() {
	xprop -root -notype _ARGOBOX_NOTIFICATIONS | python3 -c '
import sys, ast, re
s = sys.stdin.read().split(" = ", 1)[1].strip()
v = ast.literal_eval(s)  # raw UTF-8, or octal escapes of its bytes (C locale)
print(v.encode("latin-1").decode("utf-8") if re.search(r"\\[0-7]{3}", s) else v)'
}
nc_has() { nc 2>/dev/null | jq -e "$1" >/dev/null 2>&1; } # nc_has JQ-FILTER

# start_peer OUT [SEND]: the stand-in for the session (wm-testpeer) on $SOCK records what the
# window manager sends in OUT and sends it SEND's lines; PEER_PID; its stderr to $T/peer.log.
start_peer() {
	"$PEER" "$SOCK" "$@" 2>>"$T/peer.log" &
	PEER_PID=$!
	PIDS+=($PEER_PID)
}

state_has() { # state_has JQ-FILTER: the exported state satisfies the filter
	[ -s "$T/state.json" ] && jq -e "$1" "$T/state.json" >/dev/null
}

# Pixels of the root window (ImageMagick's `import`), for checks of what is drawn.
px() { # px X Y -> "r g b"
	import -window root "$T/shot.png" 2>/dev/null
	convert "$T/shot.png" -format '%[fx:int(255*p{'"$1"','"$2"'}.r)] %[fx:int(255*p{'"$1"','"$2"'}.g)] %[fx:int(255*p{'"$1"','"$2"'}.b)]' info:
}
near() { # near "r g b" "#rrggbb" [tolerance]
	local r g b tol=${3:-8}
	read -r r g b <<<"$1"
	local er=$((16#${2:1:2})) eg=$((16#${2:3:2})) eb=$((16#${2:5:2}))
	((${r} - er <= tol && er - r <= tol && g - eg <= tol && eg - g <= tol && b - eb <= tol && eb - b <= tol))
}
check() { # check X Y #rrggbb what: polls, since frames are drawn asynchronously
	local got end=$((SECONDS + 10))
	while :; do
		got=$(px "$1" "$2")
		near "$got" "$3" && return 0
		((SECONDS < end)) || fail "$4 at ($1,$2): got rgb($got), want $3"
		sleep 0.1
	done
}

# write the geometry function where sub-shells can source it
declare -f geom >"$T/geomfn"
