# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ArgoBox's shell test helpers, sourced by the shell tests and bench/ scripts:
#   . "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
# It sets nothing but B and S (build and source dirs, from AB_BUILD_DIR/AB_SOURCE_DIR), the
# counters and an EXIT trap that runs the registered teardown; it does not change set -e/-u.
#
# Results
#   ok MSG / bad MSG           "ok   MSG" / "FAIL MSG"; bad counts into $fails
#   finish NAME                prints "NAME: N failure(s)", exits 1 if any
#   skip WHY                   "SKIP: WHY", exit 77 (ctest's skip)
#   need_root WHY              skip unless root
#   need_tools TOOL...         skip unless each is on PATH ("SKIP: TOOL is not installed")
#   need_built FILE...         skip unless each is executable ("SKIP: FILE is not built")
#   need_broker TOOL...        what a test of the broker (process launcher) needs: fail unless
#                              run by ctest (AB_BUILD_DIR), skip unless argobox-broker is built
#                              and curl, jq and each TOOL are installed
#   need_desktop_broker TOOL...
#                              need_broker Xvfb TOOL..., and argobox-session and argobox-wm built:
#                              the broker with real desktops
#   sanitizer_check FILE...    bad if a sanitizer report (ERROR:) is in FILE...
# Waiting and teardown
#   wait_for SECONDS CMD...    runs CMD every 50 ms until it succeeds; 1 on timeout
#   at_exit 'CMD'              CMD runs at exit, the last registered first
#   ab_tmpdir TAG [MODE]       T=$(mktemp -d /tmp/TAG.XXXXXX) (chmod MODE), removed at exit; a TAG
#                              with a slash is the path's start (/var/tmp/x: /var/tmp/x.XXXXXX)
#   kill_wait PID...           SIGTERM to each PID given, then wait for each (empty ones are passed
#                              over)
#   start_xvfb [WxH]           a private Xvfb (1280x800 by default, display by -displayfd, no TCP)
#                              on $T/display, DISPLAY exported, stopped at exit; exit 1 if it
#                              does not start within 20 s
#   free_port                  prints a TCP port on 127.0.0.1 that nothing listens on
#   start_peers TAG DAYS ARG...
#                              real services on loopback (tests/integration/services/peers.py
#                              ARG...) with a self-signed certificate for 127.0.0.1 valid for DAYS
#                              days ($T/TAG.cert.pem, key $T/TAG.key.pem), their ports in
#                              $T/TAG.json; stopped at exit; exit 1 if they do not start in 10 s
# The broker
#   broker_config <<EOT        writes $T/broker.json: port 0, the process launcher, the runtime dir
#     MEMBERS...               ($T/run), data dir ($T/data), admin socket ($T/broker.sock) and
#   EOT                        audit log ($T/audit.log), then the JSON members read from stdin
#                              (</dev/null: none)
#   broker_config_oci GEOMETRY DESKTOP-COMMAND [NETPOL-MEMBERS] <<EOT ... EOT
#                              the same with the oci launcher in oci_sandbox's runtime, prefix and
#                              cgroup/nftables table: bundles, state, homes and netns files in $T
#   local_users PASSWORD NAME:ROLE:PROFILE:UID...
#                              prints the members "auth" (local and demo sign-in on) and "users"
#                              (these, each with PASSWORD), a comma after, for broker_config
#   start_broker LOG [CONFIG [ARG...]]
#                              argobox-broker --config CONFIG (default $T/broker.json) ARG...
#                              inside $AB_NS if set, output to LOG; waits for "listening on http"
#                              (AB_BROKER_WAIT s, default 30) and sets BROKER_PID, PORT, URL;
#                              on failure: FAIL with the log's tail, exit 1. Stopped at exit.
#   stop_broker                SIGTERM, wait; returns the broker's exit status
#   stop_broker_ok             stop_broker, then ok "broker stopped cleanly" or bad
#   ctl ARGS...                argoboxctl on $T/broker.sock
#   desk_pid USER              the pid of USER's ready desktop (argoboxctl list), empty if none
#   desk_ready USER            true once USER has a ready desktop with a pid
#   post PATH JSON             POST to $URL (Origin: $URL) in $AB_NS; body to $T/resp, prints the
#                              HTTP status
#   login USER PASSWORD        local sign-in (POST /api/login) in $AB_NS: cookies in $T/USER.jar,
#                              the answer (with its csrf_token) in $T/USER.login; prints the status
#   get_as USER PATH           GET $URL PATH with USER's cookies; body to $T/resp, prints the status
#   post_as USER PATH [JSON]   POST (with JSON as its body, if given) with USER's cookies and CSRF
#                              token; the answer to $T/resp, prints the status
#   check_config NAME JSON WANT
#                              argobox-broker --check-config on JSON: WANT empty, ok if accepted;
#                              else ok if refused with WANT in what it says; bad otherwise
# Samba
#   start_smbd SHARE USER PASSWORD
#                              a real smbd of the test's own on 127.0.0.1:<free port> ($SMB_PORT):
#                              its smb.conf, private dir (passdb tdb), locks and logs in $T/smbd,
#                              one share [SHARE] on $T/smbd/SHARE (writable by USER), USER (an
#                              existing unix account, e.g. nobody) added with smbpasswd; in $AB_NS
#                              when set; sets
#                              SMBD_PID; stopped at exit; exit 1 if it does not listen in 20 s
#   stop_smbd / restart_smbd   SIGKILL smbd (and its children) / start it again on the same port
# Containers and networks
#   N CMD...                   CMD inside $AB_NS (or as it is when unset)
#   netns_add NS               ip netns add NS (exit 1 if that fails), lo up; deleted at exit
#   oci_sandbox NS PREFIX TABLE [RUNTIME]
#                              a network namespace (lo up) of the test's own, its names in AB_NS,
#                              AB_PREFIX (containers, netns files, veths), AB_TABLE (cgroup
#                              parent, nftables table), AB_RT (default runc); at exit: every
#                              container in $T/state, the namespace, the TABLE cgroups, the
#                              netns files in $T/netns and the tmpfs runtime dirs in $T/run
#   oci_profile TITLE EGRESS CPU_MILLIS MEMORY_MB PIDS [demo]
#                              prints a profile for broker_config_oci: no apps, services or LAN;
#                              a writable root and a persistent home, or with "demo" a read-only
#                              root, no persistent home and 30 minutes of life
#   oci_setup TAG [RUNTIME]    T (ab_tmpdir ab-TAG 755) and oci_sandbox with names from TAG and the
#                              pid: abTAG-PID, abTAGPID-, abTAGPID

B=${AB_BUILD_DIR:-}
S=${AB_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
fails=0
BROKER_PID=
AB_NS=${AB_NS:-}
AB_AT_EXIT=()

ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
finish() {
	echo "$1: $fails failure(s)"
	exit $((fails > 0))
}
skip() {
	echo "SKIP: $*"
	exit 77
}
need_root() { [ "$(id -u)" = 0 ] || skip "needs root ($*)"; }
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
}
need_built() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || skip "$f is not built"
	done
}
need_broker() {
	[ -n "$B" ] || { echo "FAIL AB_BUILD_DIR is not set: run through ctest"; exit 1; }
	need_built "$B/broker/argobox-broker"
	need_tools curl jq "$@"
}
need_desktop_broker() {
	need_broker Xvfb "$@"
	need_built "$B/session/argobox-session" "$B/wm/argobox-wm"
}
sanitizer_check() {
	grep -q ERROR: "$@" 2>/dev/null && bad "sanitizer report: $(grep -h -m1 ERROR: "$@")"
	return 0
}

wait_for() { # wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

at_exit() { AB_AT_EXIT+=("$*"); }
_ab_exit() {
	local i
	for ((i = ${#AB_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${AB_AT_EXIT[i]}" || true
	done
}
trap _ab_exit EXIT

ab_tmpdir() { # ab_tmpdir TAG [MODE]
	T=$(mktemp -d "$([[ $1 == */* ]] || echo /tmp/)$1.XXXXXX")
	[ -z "${2:-}" ] || chmod "$2" "$T"
	at_exit 'rm -rf "$T"'
}
kill_wait() {
	local p
	for p in "$@"; do
		[ -z "$p" ] || kill "$p" 2>/dev/null
	done
	for p in "$@"; do
		[ -z "$p" ] || wait "$p" 2>/dev/null
	done
	return 0
}
start_xvfb() { # start_xvfb [WxH]
	Xvfb -displayfd 9 -screen 0 "${1:-1280x800}x24" -nolisten tcp -noreset 9>"$T/display" \
		2>"$T/xvfb.log" &
	XVFB_PID=$!
	at_exit 'kill_wait "$XVFB_PID"'
	wait_for 20 test -s "$T/display" || {
		bad "Xvfb did not start: $(tail -3 "$T/xvfb.log")"
		exit 1
	}
	export DISPLAY=:$(head -n1 "$T/display")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_peers() { # start_peers TAG DAYS ARG...
	local tag=$1 days=$2
	shift 2
	openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/$tag.key.pem" -out "$T/$tag.cert.pem" \
		2>/dev/null || { bad "openssl could not make a certificate"; exit 1; }
	python3 "$S/tests/integration/services/peers.py" --ports "$T/$tag.json" \
		--cert "$T/$tag.cert.pem" --key "$T/$tag.key.pem" "$@" &
	at_exit "kill_wait $!"
	wait_for 10 test -s "$T/$tag.json" || { bad "peers did not start"; exit 1; }
}

_ab_smbd_run() {
	N smbd --foreground --no-process-group --debug-stdout -d 1 --configfile="$T/smbd/smb.conf" \
		>>"$T/smbd/smbd.log" 2>&1 &
	SMBD_PID=$!
	wait_for 20 N bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMB_PORT" || {
		echo "FAIL smbd did not start: $(tail -5 "$T/smbd/smbd.log")"
		exit 1
	}
}
start_smbd() { # start_smbd SHARE USER PASSWORD
	local d=$T/smbd
	mkdir -p "$d/private" "$d/lock" "$d/state" "$d/cache" "$d/pid" "$d/ncalrpc" "$d/$1"
	chown "$2" "$d/$1"
	SMB_PORT=$(free_port)
	cat >"$d/smb.conf" <<EOT
[global]
	server role = standalone server
	smb ports = $SMB_PORT
	interfaces = 127.0.0.1
	bind interfaces only = yes
	disable netbios = yes
	server min protocol = SMB2_02
	private dir = $d/private
	lock directory = $d/lock
	state directory = $d/state
	cache directory = $d/cache
	pid directory = $d/pid
	ncalrpc dir = $d/ncalrpc
	passdb backend = tdbsam:$d/private/passdb.tdb
	log file = $d/log.%m
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
	restrict anonymous = 2
[$1]
	path = $d/$1
	read only = no
	valid users = $2
EOT
	printf '%s\n%s\n' "$3" "$3" | smbpasswd -c "$d/smb.conf" -s -a "$2" >/dev/null ||
		{ echo "FAIL smbpasswd -a $2"; exit 1; }
	_ab_smbd_run
	at_exit 'stop_smbd'
}
stop_smbd() {
	[ -n "${SMBD_PID:-}" ] || return 0
	pkill -KILL -P "$SMBD_PID" 2>/dev/null
	kill -KILL "$SMBD_PID" 2>/dev/null
	wait "$SMBD_PID" 2>/dev/null
	SMBD_PID=
}
restart_smbd() { _ab_smbd_run; }

N() {
	if [ -n "$AB_NS" ]; then
		nsenter --net="/run/netns/$AB_NS" "$@"
	else
		"$@"
	fi
}

_ab_broker_down() {
	kill_wait "$BROKER_PID"
	BROKER_PID=
}
_ab_config() { # _ab_config BASE-MEMBERS: $T/broker.json = BASE and the members on stdin
	local extra
	extra=$(cat)
	printf '{%s%s}\n' "$1" "${extra:+,
$extra}" >"$T/broker.json"
}
broker_config() {
	_ab_config "$(
		cat <<EOT
"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "process"},
 "data": {"dir": "$T/data"}, "admin": {"socket": "$T/broker.sock"},
 "audit": {"path": "$T/audit.log"}
EOT
	)"
}
broker_config_oci() { # broker_config_oci GEOMETRY DESKTOP-COMMAND [NETPOL-MEMBERS]
	_ab_config "$(
		cat <<EOT
"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "oci", "start_timeout_ms": 30000,
             "geometry": "$1", "desktop_command": $2},
 "storage": {"home_base": "$T/home"},
 "runtime": {"runtime": "$AB_RT", "state_root": "$T/state", "bundle_root": "$T/bundles",
             "id_prefix": "$AB_PREFIX", "cgroup_parent": "$AB_TABLE"},
 "netpol": {"netns_dir": "$T/netns", "netns_prefix": "$AB_PREFIX", "table": "$AB_TABLE"${3:+, $3}},
 "data": {"dir": "$T/data"},
 "admin": {"socket": "$T/broker.sock"},
 "audit": {"path": "$T/audit.log"}
EOT
	)"
}
local_users() {
	local hash u n r p id sep=
	hash=$(openssl passwd -6 -salt abtest "$1")
	shift
	printf ' "auth": {"local": {"enabled": true}, "demo": {"enabled": true}},\n "users": ['
	for u in "$@"; do
		IFS=: read -r n r p id <<<"$u"
		printf '%s\n   {"name": "%s", "role": "%s", "profile": "%s", "uid": %s, "password_hash": "%s"}' \
			"$sep" "$n" "$r" "$p" "$id" "$hash"
		sep=,
	done
	printf '],\n'
}
start_broker() { # start_broker LOG [CONFIG [ARG...]]
	local log=$1 cfg=${2:-$T/broker.json}
	shift
	[ $# = 0 ] || shift
	[ -n "${_AB_BROKER_HOOK:-}" ] || { at_exit _ab_broker_down; _AB_BROKER_HOOK=1; }
	# a simple command (not the function N): $! is the broker's own pid
	if [ -n "$AB_NS" ]; then
		nsenter --net="/run/netns/$AB_NS" "$B/broker/argobox-broker" --config "$cfg" "$@" >"$log" 2>&1 &
	else
		"$B/broker/argobox-broker" --config "$cfg" "$@" >"$log" 2>&1 &
	fi
	BROKER_PID=$!
	if ! wait_for "${AB_BROKER_WAIT:-30}" grep -q "listening on http" "$log"; then
		bad "broker did not start: $(tail -5 "$log")"
		exit 1
	fi
	PORT=$(sed -n 's|.*listening on https\?://[^:]*:\([0-9]*\)/.*|\1|p' "$log" | tail -n1)
	URL=http://127.0.0.1:$PORT
}
stop_broker() {
	kill "$BROKER_PID"
	local rc=0
	wait "$BROKER_PID" || rc=$?
	BROKER_PID=
	return $rc
}
stop_broker_ok() {
	local rc=0
	stop_broker || rc=$?
	[ $rc = 0 ] && ok "broker stopped cleanly" || bad "broker exited with status $rc"
}
ctl() { "$B/broker/argoboxctl" --socket "$T/broker.sock" "$@"; }
desk_pid() { ctl --json list | jq -r --arg u "$1" '.desktops[] | select(.user == $u and .state == "ready") | .pid'; }
desk_ready() { [ -n "$(desk_pid "$1")" ]; }
post() { N curl -s -o "$T/resp" -w '%{http_code}' -H "Origin: $URL" -H 'Content-Type: application/json' -d "$2" "$URL$1"; }
login() { # login USER PASSWORD
	N curl -s -o "$T/$1.login" -w '%{http_code}' -c "$T/$1.jar" -H "Origin: $URL" \
		-H 'Content-Type: application/json' -d "{\"user\":\"$1\",\"password\":\"$2\"}" "$URL/api/login"
}
get_as() { N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/$1.jar" -H "Origin: $URL" "$URL$2"; }
post_as() { # post_as USER PATH [JSON]
	local body=()
	[ $# -lt 3 ] || body=(-H 'Content-Type: application/json' -d "$3")
	N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/$1.jar" -H "Origin: $URL" \
		-H "X-CSRF-Token: $(jq -r .csrf_token "$T/$1.login")" "${body[@]}" -X POST "$URL$2"
}
check_config() { # check_config NAME JSON WANT
	echo "$2" >"$T/c.json"
	local out rc=0
	out=$("$B/broker/argobox-broker" --config "$T/c.json" --check-config 2>&1) || rc=$?
	if [ -z "$3" ]; then
		[ $rc = 0 ] && ok "$1: accepted" || bad "$1: rejected: $out"
	elif [ $rc != 0 ] && grep -qF -- "$3" <<<"$out"; then
		ok "$1: rejected ($out)"
	else
		bad "$1: rc=$rc, wanted '$3' in: $out"
	fi
}

netns_add() {
	ip netns add "$1" || exit 1
	at_exit "ip netns del '$1' 2>/dev/null"
	ip -n "$1" link set lo up
}

need_oci_broker() { # need_oci_broker [TOOL...]: what a test of the broker with runc desktops needs
	need_root "user namespaces, cgroups, nftables"
	need_broker runc ip nsenter nft openssl "$@"
	need_built "$B/broker/argoboxctl" "$B/session/argobox-session"
}
oci_profile() { # oci_profile TITLE EGRESS CPU_MILLIS MEMORY_MB PIDS [demo]
	local ro=false persist=true ttl=0 demo=
	[ "${6:-}" = demo ] && ro=true persist=false ttl=30 demo=', "demo": true'
	printf '{"title": "%s", "apps": [], "limits": {"cpu_millis": %s, "memory_mb": %s, "pids": %s},
	 "network": {"egress": "%s", "lan": [], "services": []}, "services": [],
	 "read_only_root": %s, "persistent": %s, "ttl_minutes": %s%s}' \
		"$1" "$3" "$4" "$5" "$2" "$ro" "$persist" "$ttl" "$demo"
}
oci_setup() { # oci_setup TAG [RUNTIME]
	ab_tmpdir "ab-$1" 755
	oci_sandbox "ab$1-$$" "ab$1$$-" "ab$1$$" "${2:-runc}"
}
oci_sandbox() { # oci_sandbox NS PREFIX TABLE [RUNTIME]
	AB_NS=$1 AB_PREFIX=$2 AB_TABLE=$3 AB_RT=${4:-runc}
	at_exit _ab_sandbox_down
	ip netns add "$AB_NS" || exit 1
	ip -n "$AB_NS" link set lo up
}
_ab_sandbox_down() {
	local id c m
	for id in $("$AB_RT" --root "$T/state" list -q 2>/dev/null); do
		"$AB_RT" --root "$T/state" delete --force "$id" >/dev/null 2>&1
	done
	ip netns del "$AB_NS" 2>/dev/null
	for c in /sys/fs/cgroup/*/"$AB_TABLE"; do rmdir "$c"/* "$c" 2>/dev/null; done
	for m in "$T"/netns/*; do umount "$m" 2>/dev/null; done
	for m in "$T"/run/*; do umount -l "$m" 2>/dev/null; done # runtime dirs are tmpfs mounts
	return 0
}
