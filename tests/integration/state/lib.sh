# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers of the state integration tests: a real argobox-broker (embedded store in a
# temp data dir) starting real argobox-session + argobox-wm desktops for the user "local".
set -Eeuo pipefail
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR

: "${AB_BUILD_DIR:?run through ctest}" "${AB_SOURCE_DIR:?run through ctest}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../lib/sh/lib.sh"
need_desktop_broker xdotool xprop xwininfo xterm python3

ab_tmpdir abstate-test
PIDS=() # killed at exit
WS_PID=
at_exit '_state_down'
_state_down() {
	[ -z "$WS_PID" ] || kill "$WS_PID" 2>/dev/null || true
	_ab_broker_down
	[ ${#PIDS[@]} = 0 ] || kill "${PIDS[@]}" 2>/dev/null || true
}

fail() {
	echo "FAIL: $*" >&2
	echo "--- broker log" >&2
	tail -n 60 "$T/broker.log" >&2 2>/dev/null || true
	exit 1
}

# The desktop command records the session's DISPLAY, then becomes the window manager.
cat >"$T/broker.json" <<EOT
{"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "process",
             "desktop_command": ["/bin/sh", "-c",
               "echo \"\$DISPLAY\" >\"\$ARGOBOX_RUNTIME_DIR/display\"; exec \"\$0\" --log-level debug \"\$@\"",
               "$B/wm/argobox-wm"],
             "start_timeout_ms": 30000},
 "data": {"dir": "$T/data"},
 "admin": {"socket": "$T/broker.sock"},
 "audit": {"path": "$T/audit.log"}}
EOT
export XDG_DATA_DIRS=$S/assets ARGOBOX_APPS='*'
RUN=$T/run/local

broker_up() { # the broker on $T/broker.json, log in $T/broker.log (tests/lib/sh: start_broker)
	start_broker "$T/broker.log"
}

broker_down() { # SIGTERM: the broker must exit cleanly
	stop_broker || fail "broker exited with status $?"
}

two_xterms() { # xterms "alpha" and "beta", once the window manager manages both
	xterm -T alpha -geometry 80x24+10+10 &
	PIDS+=($!)
	xterm -T beta -geometry 80x24+20+20 &
	PIDS+=($!)
	wait_for 20 sh -c "[ \$(xprop -root _NET_CLIENT_LIST | tr ',' '\n' | grep -c 0x) = 2 ]" ||
		fail "xterms not managed"
}

start_desktop() { # connects a websocket: the broker starts local's desktop
	rm -f "$RUN/display"
	python3 "$HERE/ws_hold.py" "$PORT" >"$T/ws.out" 2>&1 &
	WS_PID=$!
	wait_for 40 grep -q OPEN "$T/ws.out" || fail "websocket: $(cat "$T/ws.out")"
	wait_for 20 test -s "$RUN/display" || fail "no display recorded"
	export DISPLAY=$(cat "$RUN/display")
	wait_for 20 sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'" ||
		fail "window manager did not start"
}

stop_desktop() { # argoboxctl stop local, then wait until it is gone
	kill "$WS_PID" 2>/dev/null || true
	wait "$WS_PID" 2>/dev/null || true
	WS_PID=
	ctl stop local >/dev/null
	wait_for 20 sh -c "! '$B/broker/argoboxctl' --socket '$T/broker.sock' list | grep -q local" ||
		fail "desktop did not stop"
}

api() { # api METHOD [curl args...]: the state API of "local"; prints the body
	local m=$1
	shift
	curl -sS --max-time 5 -X "$m" "$@" "$URL/api/desktops/local/state"
}

stored() { # the stored state once durable, else fails
	local out
	out=$(api GET) || return 1
	[ "$(jq -r .durable <<<"$out")" = true ] && [ "$(jq -r .stored <<<"$out")" = true ] || return 1
	jq -c .state <<<"$out"
}

# "x y w h" of every managed client window, sorted
x_view() {
	local w
	for w in $(xprop -root _NET_CLIENT_LIST | grep -o '0x[0-9a-f]*'); do
		xwininfo -id "$w" | awk '/Absolute upper-left X/{x=$4} /Absolute upper-left Y/{y=$4}
			/^  Width/{w=$2} /^  Height/{h=$2} END{print x, y, w, h}'
	done | sort
}
