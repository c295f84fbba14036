#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A stand-in OCI runtime for test_runtime: speaks the subset of runc's CLI that runtime.c uses
# (run --detach (and create/start), kill/delete/list), keeping its state in $FAKE_RT_DIR. $FAKE_RT_FAIL names a
# command that must fail; $FAKE_RT_INIT is the "container" process (default: READY then sleep).
set -u
dir=${FAKE_RT_DIR:?}
[ "${1:-}" = "--root" ] && shift 2
cmd=$1
shift
echo "$cmd $*" >>"$dir/calls"
if [ "${FAKE_RT_FAIL:-}" = "$cmd" ]; then
	echo "fake runtime: $cmd refused" >&2
	exit 1
fi
case "$cmd" in
create | run)
	pidfile="" id=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--detach) ;;
		--pid-file) pidfile=$2; shift ;;
		--bundle | --preserve-fds) shift ;;
		*) id=$1 ;;
		esac
		shift
	done
	init=${FAKE_RT_INIT:-'echo READY >&3; exec 3>&-; exec sleep 60'}
	sh -c "$init" </dev/null >/dev/null 2>&1 &
	echo $! >"$pidfile"
	echo $! >"$dir/$id.pid"
	;;
start) ;;
kill)
	[ "$1" = "--all" ] && shift
	kill -"$2" "$(cat "$dir/$1.pid")" 2>/dev/null
	;;
delete)
	[ "$1" = "--force" ] && shift
	kill -9 "$(cat "$dir/$1.pid" 2>/dev/null)" 2>/dev/null
	rm -f "$dir/$1.pid"
	;;
list)
	printf '['
	sep=""
	for f in "$dir"/*.pid; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .pid)
		pid=$(cat "$f")
		st=running
		kill -0 "$pid" 2>/dev/null || st=stopped
		printf '%s{"id":"%s","pid":%s,"status":"%s"}' "$sep" "$id" "$pid" "$st"
		sep=,
	done
	printf ']\n'
	;;
esac
exit 0
