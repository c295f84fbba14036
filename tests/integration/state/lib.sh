# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers of the state integration tests: a real argobox-broker (embedded store in a
# temp data dir) starting real argobox-session + argobox-wm desktops for the user "local".
set -Eeuo pipefail
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR

B=${AB_BUILD_DIR:?run through ctest}
S=${AB_SOURCE_DIR:?run through ctest}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in Xvfb xdotool xprop xwininfo xterm jq curl python3; do
	command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
for f in "$B/broker/argobox-broker" "$B/session/argobox-session" "$B/wm/argobox-wm"; do
	[ -x "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done

T=$(mktemp -d /tmp/abstate-test.XXXXXX)
PIDS=()
BROKER_PID=
WS_PID=
cleanup() {
	local p
	[ -z "$WS_PID" ] || kill "$WS_PID" 2>/dev/null || true
	if [ -n "$BROKER_PID" ]; then
		kill "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- broker log" >&2
	tail -n 60 "$T/broker.log" >&2 2>/dev/null || true
	exit 1
}

wait_for() { # wait_for SECONDS CMD...: polls CMD until it succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
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

start_broker() {
	: >"$T/broker.log"
	"$B/broker/argobox-broker" --config "$T/broker.json" >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	wait_for 20 grep -q "listening on http" "$T/broker.log" || fail "broker did not start"
	PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/broker.log" | tail -n1)
	URL=http://127.0.0.1:$PORT
}

stop_broker() {
	kill "$BROKER_PID"
	local rc=0
	wait "$BROKER_PID" || rc=$?
	BROKER_PID=
	[ "$rc" = 0 ] || fail "broker exited with status $rc"
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
	"$B/broker/argoboxctl" --socket "$T/broker.sock" stop local >/dev/null
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
