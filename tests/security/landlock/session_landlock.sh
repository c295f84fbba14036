#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# session_landlock: the real argobox-session confines its desktop command with
# Landlock. The desktop command is probe.py, which tries to write, read,
# rename, link and signal inside and outside what the policy allows, and to
# reach the X display and wm.sock. Run once with landlock.enabled "auto" (every
# escape refused, everything legitimate works) and once with "off" (the same
# escapes succeed: proof that the test sees the layer). Prints a table.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${AB_BUILD_DIR:?AB_BUILD_DIR not set}
session=$build/session/argobox-session
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$session" ] || skip "argobox-session not built"
command -v Xvfb >/dev/null || skip "Xvfb not installed"
command -v xdpyinfo >/dev/null || skip "xdpyinfo not installed (x11-utils)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 not installed"

# The "outside" tree must not lie under a path the policy allows: /tmp, /var, /run,
# /dev, /usr, /etc, /opt, and ArgoBox's own trees (the build and source directories).
allowed_prefix() {
	case "$1/" in /tmp/* | /var/* | /dev/* | /run/* | /usr/* | /etc/* | /opt/* | /proc/* | /sys/*)
		return 0 ;;
	esac
	case "$1/" in "$build"/* | "${AB_SOURCE_DIR:-/nonexistent}"/*) return 0 ;; esac
	return 1
}
base=""
for b in /srv /mnt /root "${HOME:-/nonexistent}"; do
	[ -d "$b" ] && [ -w "$b" ] || continue
	b=$(cd "$b" && pwd -P)
	if ! allowed_prefix "$b"; then
		base=$b
		break
	fi
done
[ -n "$base" ] || skip "no writable directory outside the paths Landlock allows (/srv, /mnt, /root, \$HOME)"
root=$(mktemp -d -p "$base" ll.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$root"
}
trap cleanup EXIT

fail=0
declare -A out_auto out_off

# run_session MODE: runs the session with landlock.enabled MODE until the probe reports.
run_session() {
	local mode=$1
	rm -rf "$root/home" "$root/outside" "$root/ro" "$root/rt"
	mkdir -p "$root/home" "$root/outside" "$root/ro" "$root/rt"
	echo secret >"$root/outside/secret"
	echo conf >"$root/ro/conf"
	chmod 0755 "$root/ro" "$root/outside"
	printf '{"landlock": {"enabled": "%s", "read_only": ["%s"]}, "desktop": {"restart": false}}\n' \
		"$mode" "$root/ro" >"$root/session.json"
	HOME=$root/home LL_OUTSIDE=$root/outside LL_RO=$root/ro \
		"$session" --config "$root/session.json" --runtime-dir "$root/rt" --geometry 640x480 \
		-- "$here/probe.py" >"$root/session-$mode.log" 2>&1 &
	pid=$!
	local deadline=$((SECONDS + 60))
	while [ ! -s "$root/home/probe.json" ]; do
		if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "FAIL: the probe did not report (landlock.enabled $mode); session log:"
			cat "$root/session-$mode.log"
			exit 1
		fi
		sleep 0.1
	done
	kill "$pid"
	wait "$pid"
	pid=""
	cp "$root/home/probe.json" "$root/probe-$mode.json"
}

run_session auto
log=$root/session-auto.log
if grep -q 'landlock: NOT applied' "$log"; then
	grep -Eq 'Function not implemented|Operation not supported' "$log" &&
		skip "this kernel has no Landlock ($(grep -o 'NOT applied.*' "$log"))"
	echo "FAIL: Landlock available but not applied:"
	cat "$log"
	exit 1
fi
abi=$(sed -n 's/.*landlock: ABI \([0-9]*\) applied.*/\1/p' "$log" | head -1)
if [ -z "$abi" ]; then
	echo "FAIL: the session did not log which Landlock ABI it applied:"
	cat "$log"
	exit 1
fi
echo "session log: $(grep -o 'landlock: ABI.*' "$log")"
# bad extra paths are refused with the JSON path named
echo '{"landlock": {"read_write": ["relative/dir"]}}' >"$root/bad.json"
if msg=$("$session" --config "$root/bad.json" --check-config 2>&1); then
	echo "FAIL: a relative landlock.read_write path was accepted"
	fail=1
elif ! grep -q "landlock.read_write\[0\]" <<<"$msg"; then
	echo "FAIL: the error does not name landlock.read_write[0]: $msg"
	fail=1
fi
# the confined run left the outside tree as it was
left=$(ls -A "$root/outside")
[ "$left" = secret ] || { echo "FAIL: the confined desktop changed the outside tree: $left"; fail=1; }
run_session on
grep -q "landlock: ABI $abi applied" "$root/session-on.log" &&
	grep -q '"write a file outside the allowed paths": "EACCES"' "$root/probe-on.json" ||
	{ echo "FAIL: landlock.enabled on did not confine the desktop: $(cat "$root/probe-on.json")"; fail=1; }
run_session off
grep -q 'landlock: off for the desktop command' "$root/session-off.log" ||
	{ echo "FAIL: landlock.enabled off not logged"; fail=1; }

while IFS=$'\t' read -r k v; do out_auto[$k]=$v; done < <(/usr/bin/python3 -c '
import json, sys
for k, v in json.load(open(sys.argv[1])).items(): print(f"{k}\t{v}")' "$root/probe-auto.json")
while IFS=$'\t' read -r k v; do out_off[$k]=$v; done < <(/usr/bin/python3 -c '
import json, sys
for k, v in json.load(open(sys.argv[1])).items(): print(f"{k}\t{v}")' "$root/probe-off.json")

# attempt | expected with Landlock (regex) | expected without (regex, "" = not asserted)
sig_on="EPERM"
[ "$abi" -lt 6 ] && sig_on="ok" # signal scoping needs ABI 6
rows=(
	"write a file in \$HOME|ok|ok"
	"write a file in /tmp|ok|ok"
	"write a file outside the allowed paths|EACCES|ok"
	"read a file outside the listed paths|EACCES|ok"
	"read a file in landlock.read_only|ok|ok"
	"write a file in landlock.read_only|EACCES|ok"
	"create a file in landlock.read_only|EACCES|ok"
	"rename a file from \$HOME to outside|EACCES|EXDEV|ok"
	"hard-link a file from \$HOME to outside|EACCES|EXDEV|ok"
	"signal the session (kill -0)|$sig_on|ok"
	"signal Xvfb (kill -0)|$sig_on|ok"
	"signal its own child (kill -0)|ok|ok"
	"connect to the X display (xdpyinfo)|ok|ok"
	"connect to wm.sock|ok|ok"
)
printf '\nLandlock ABI %s\n%-42s | %-15s | %-14s | %-14s | %s\n' "$abi" attempt expected \
	"landlock auto" "landlock off" result
printf -- '-%.0s' $(seq 1 100)
echo
for row in "${rows[@]}"; do
	name=${row%%|*}
	rest=${row#*|}
	want_off=${rest##*|}
	want_on=${rest%|*}
	got_on=${out_auto[$name]:-missing}
	got_off=${out_off[$name]:-missing}
	res=PASS
	[[ "$got_on" =~ ^($want_on)$ ]] || res=FAIL
	[[ "$got_off" =~ ^($want_off)$ ]] || res=FAIL
	[ $res = FAIL ] && fail=1
	printf '%-42s | %-15s | %-14s | %-14s | %s\n' "$name" "${want_on//|/ or }" "$got_on" \
		"$got_off" "$res"
done
[ "$fail" = 0 ] && echo "all attempts as expected" || echo "FAIL: see the table"
exit $fail
