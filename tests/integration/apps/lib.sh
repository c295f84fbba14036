# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers of the app integration tests (sourced): the wm tests' private Xvfb and
# window manager (../wm/lib.sh), plus app start-up, window lookup and screenshots.
. "${AB_SOURCE_DIR:?run through ctest}/tests/integration/wm/lib.sh"
APPS=$B/apps/bin
for tool in import convert xclip; do
	command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# fontconfig and Xlib keep caches for the life of the process: not leaks of ours
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export HOME=$T/home
mkdir -p "$HOME"

# start_desktop GEOMETRY: the private Xvfb and the window manager on it.
start_desktop() {
	start_x "$1"
	start_wm
}

# start_app NAME CLASS [args...]: starts $APPS/NAME and sets APP_PID and APP_WIN.
start_app() {
	local name=$1 class=$2
	shift 2
	"$APPS/$name" "$@" >>"$T/$name.log" 2>&1 &
	APP_PID=$!
	PIDS+=($APP_PID)
	wait_for 20 xdotool search --classname "$class" ||
		{ cat "$T/$name.log" >&2; fail "$name: no window of class '$class'"; }
	APP_WIN=$(xdotool search --classname "$class" | head -n1)
	wait_for 10 managed "$APP_WIN" || fail "$name: window not managed by the wm"
	xdotool windowactivate --sync "$APP_WIN" 2>/dev/null || xdotool windowfocus "$APP_WIN"
	sleep 0.3
}
app_alive() { kill -0 "$APP_PID" 2>/dev/null; }

# start_terminal: argobox-terminal (alone in ARGOBOX_APPS) on a 1024x700 desktop; sets W (its
# window), KEY (its instance, terminal-<8 hex>: the name of its saved text) and D (where that
# text is kept).
start_terminal() {
	export PATH=$APPS:$PATH XDG_DATA_DIRS=$T/share:$S/assets ARGOBOX_APPS=terminal
	D=$HOME/.local/state/argobox/terminal
	start_desktop 1024x700
	start_app argobox-terminal terminal
	W=$APP_WIN
	KEY=$(xprop -id "$W" WM_CLASS | sed -n 's/.*= "\(terminal-[0-9a-f]\{8\}\)", "ArgoBoxTerminal"/\1/p')
	[ -n "$KEY" ] || fail "no terminal-<key> instance: $(xprop -id "$W" WM_CLASS)"
}

# shot WIN FILE: a PNG of the window as it is on screen.
shot() { import -window "$1" "$2" 2>/dev/null; }
# has_colour FILE #rrggbb [min-pixels]: the screenshot has at least min pixels of that colour.
has_colour() {
	local n
	n=$(convert "$1" -fill black +opaque "$2" -fill white -opaque "$2" -format '%[fx:int(mean*w*h)]' info:)
	((n >= ${3:-50}))
}
# colours FILE: the number of distinct colours (a blank window has one or two).
colours() { convert "$1" -format '%k' info:; }
# drawn WIN FILE MESSAGE [MIN]: a shot of WIN in FILE has more than MIN (8) colours, else fail MESSAGE.
drawn() {
	shot "$1" "$2"
	(($(colours "$2") > ${4:-8})) || fail "$3"
}
# wait_file SECONDS FILE TEXT: FILE appears and contains TEXT.
wait_file() { wait_for "$1" grep -qF -- "$3" "$2"; }
# type_line TEXT: types TEXT and Return into the focused window.
type_line() {
	xdotool type --delay 8 -- "$1"
	xdotool key Return
}
