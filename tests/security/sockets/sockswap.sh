#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Issue 12 H1: a desktop user can write their runtime dir (/run/argobox in the container, the
# host's <runtime_base>/<user>), so every name the broker reaches through it may be swapped.
# From inside real runc containers, as the desktop's own uid, for a member (bea) and a demo
# identity, against another member's desktop (cid):
#   - rfb.sock -> a symlink to cid's rfb.sock: the browser (websocket) and a native VNC client
#     (gateway, own password) must not get cid's desktop;
#   - rfb.sock -> a symlink to a root-only host socket (a listener in a 0700 root dir): nothing
#     is relayed to it;
#   - rfb.sock replaced by a listener of the user's own that speaks RFB: refused;
#   - control.sock -> a symlink to cid's control.sock, found by a restarted broker at
#     re-adoption: no control channel to cid's session under bea's name.
# Each refusal must leave a desktop.socket_attack deny audit line naming the user, the socket,
# who asked (via) and who answered. Undoing the swap brings the user's own desktop back.
# Root only (user namespaces, cgroups, nftables); everything in a network namespace of its own.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
H=$(cd "$(dirname "$0")" && pwd)
. "${AB_SOURCE_DIR:-$(cd "$H/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_oci_broker python3
VNCC=$B/tests/integration/vncgw/ab_vncgw_client

ROOT_PID=
oci_setup k
# on failure the logs stay in /tmp/ab-sock-last; the root-only listener goes too
at_exit '[ -n "$ROOT_PID" ] && kill "$ROOT_PID" 2>/dev/null'
at_exit '[ "$fails" = 0 ] || { rm -rf /tmp/ab-sock-last; mkdir -p /tmp/ab-sock-last; cp "$T"/*.log /tmp/ab-sock-last/ 2>/dev/null; }'

hash=$(openssl passwd -6 -salt absock "s3cret-pw")
broker_config_oci 640x480 '["/usr/bin/sleep", "3600"]' <<EOT
 "vnc_gateway": {"listen": "127.0.0.1:0"},
 "auth": {"local": {"enabled": true}, "demo": {"enabled": true}},
 "users": [
   {"name": "bea", "role": "member", "profile": "dev", "uid": 1003, "gid": 1003, "password_hash": "$hash"},
   {"name": "cid", "role": "member", "profile": "dev", "uid": 1004, "gid": 1004, "password_hash": "$hash"}],
 "profiles": {
   "dev": $(oci_profile Developer services 1000 512 300),
   "trial": $(oci_profile Trial services 1000 512 200 demo)}
EOT

start_gw_broker() { # start_broker LOG, and the VNC gateway's port in GPORT
	start_broker "$1"
	GPORT=$(sed -n 's|.*vnc gateway listening on 127.0.0.1:\([0-9]*\).*|\1|p' "$1" | tail -n1)
}
declare -A COOKIE CSRF
signin() { # signin PATH BODY -> sets WHO, COOKIE[WHO], CSRF[WHO]
	local hdr=$T/hdr.$RANDOM
	local code
	code=$(N curl -s -D "$hdr" -o "$T/resp" -w '%{http_code}' -H "Origin: $URL" \
		-H 'Content-Type: application/json' -d "$2" "$URL$1")
	[ "$code" = 200 ] || { bad "sign-in $1: $code $(cat "$T/resp")"; return 1; }
	WHO=$(jq -r .user "$T/resp")
	COOKIE[$WHO]=$(grep -io 'argobox_session=[0-9a-f]*' "$hdr" | head -n1)
	CSRF[$WHO]=$(jq -r .csrf_token "$T/resp")
}
ws() { N python3 "$H/wsrfb.py" "$PORT" "${COOKIE[$1]}"; } # ws USER: "rfb ..." (0) / "closed ..." (2)
vnc() { # vnc USER: the native client with USER's gateway password; 0 = got a frame
	N timeout 20 "$VNCC" 127.0.0.1 "$GPORT" "${VNCPW[$1]}" "$T/frame.ppm" >"$T/vnc.out" 2>&1
}
declare -A VNCPW
vnc_password() { # issues USER's gateway password through the API
	local code
	code=$(N curl -s -o "$T/resp" -w '%{http_code}' -H "Origin: $URL" -H "Cookie: ${COOKIE[$1]}" \
		-H "X-CSRF-Token: ${CSRF[$1]}" -H 'Content-Type: application/json' -d '{}' "$URL/api/vnc-password")
	[ "$code" = 200 ] && VNCPW[$1]=$(jq -r .password "$T/resp")
}
# Runs a shell command inside USER's container (its user, mount, pid, net, ipc and uts
# namespaces) as the desktop's own uid. (Not `runc exec`: the container's seccomp profile names
# a listener, the argobox-seccomp-shim, that serves the container's own start only.)
inside() { # inside USER CMD [ARG0]
	local pid=${SESSION_PID[$1]}
	local hu=$(awk '/^Uid:/ {print $2}' /proc/$pid/status) base=$(awk '$1 == 0 {print $2}' /proc/$pid/uid_map)
	local hg=$(awk '/^Gid:/ {print $2}' /proc/$pid/status) gbase=$(awk '$1 == 0 {print $2}' /proc/$pid/gid_map)
	nsenter -t "$pid" -U -m -p -n -i -u -S "$((hu - base))" -G "$((hg - gbase))" /bin/sh -c "$2" "${3:-sh}"
}
declare -A SESSION_PID
# Audit lines desktop.socket_attack for USER with detail.via VIA, as a count.
attacks() { jq -c --arg u "$1" --arg v "$2" 'select(.event == "desktop.socket_attack" and .outcome == "deny" and .user == $u and .detail.via == $v)' "$T/audit.log" 2>/dev/null | wc -l; }
more_attacks() { [ "$(attacks "$1" "$2")" -gt "$3" ]; }
last_attack() { jq -c --arg u "$1" 'select(.event == "desktop.socket_attack" and .user == $u)' "$T/audit.log" | tail -n1; }

start_gw_broker "$T/broker1.log"
[ -n "$GPORT" ] || bad "no VNC gateway port in the log"
signin /api/login '{"user":"bea","password":"s3cret-pw"}'
signin /api/login '{"user":"cid","password":"s3cret-pw"}'
signin /api/demo '{"profile":"trial"}'
demo=$WHO
[[ "$demo" == demo-* ]] && ok "signed in: bea, cid (members) and $demo (demo)" || bad "demo identity: '$demo'"
for u in bea cid "$demo"; do
	wait_for 40 desk_ready "$u" || bad "$u's desktop is not ready: $(ctl --json list) $(tail -5 "$T/broker1.log")"
done
for u in bea cid "$demo"; do
	vnc_password "$u"
	SESSION_PID[$u]=$(desk_pid "$u")
done

# N8: the host ends of the veths are named from netns_prefix, so two brokers never collide.
links=$(N ip -o link show)
[ "$(grep -cE ": $AB_PREFIX[0-9]+h@" <<<"$links")" = 3 ] && ! grep -qE ': ab[0-9]+h@' <<<"$links" &&
	ok "veths named from the netns prefix: $(grep -oE "$AB_PREFIX[0-9]+h" <<<"$links" | tr '\n' ' ')" ||
	bad "veth names: $(grep -oE ': [^:]+h@' <<<"$links" | tr '\n' ' ')"

# The root-only host socket: a listener in a 0700 directory of root's.
mkdir -m 0700 "$T/rootonly"
python3 "$H/fakerfb.py" "$T/rootonly/host.sock" "$T/rootonly.log" &
ROOT_PID=$!
wait_for 10 test -S "$T/rootonly/host.sock" || bad "root-only listener did not start"

for u in bea "$demo"; do
	# Baseline: the user's own desktop, both ways.
	out=$(ws "$u")
	[ $? = 0 ] && ok "$u: browser gets its own desktop ($out)" || bad "$u: baseline websocket: $out"
	if [ -n "${VNCPW[$u]:-}" ]; then
		vnc "$u" && ok "$u: native VNC client gets its own desktop" || bad "$u: baseline VNC: $(cat "$T/vnc.out")"
	fi

	# 1. rfb.sock -> cid's rfb.sock
	inside "$u" "mv /run/argobox/rfb.sock /run/argobox/rfb.sock.orig && ln -s $T/run/cid/rfb.sock /run/argobox/rfb.sock" ||
		bad "$u: could not swap rfb.sock from inside the container"
	n=$(attacks "$u" websocket)
	out=$(ws "$u")
	rc=$?
	[ $rc = 2 ] && ok "$u -> cid's rfb.sock: browser refused ($out)" || bad "$u -> cid's rfb.sock: websocket got '$out' (rc $rc)"
	if wait_for 5 more_attacks "$u" websocket "$n"; then
		a=$(last_attack "$u")
		jq -e '.detail.peer_desktop == "cid" and (.detail.found | startswith("symlink to")) and .detail.socket != null' <<<"$a" >/dev/null &&
			ok "$u: audited desktop.socket_attack (websocket): $a" || bad "$u: audit line lacks what was found: $a"
	else
		bad "$u: no desktop.socket_attack line for the websocket swap"
	fi
	if [ -n "${VNCPW[$u]:-}" ]; then
		n=$(attacks "$u" vncgw)
		vnc "$u" && bad "$u -> cid's rfb.sock: the native VNC client got a desktop" ||
			ok "$u -> cid's rfb.sock: native VNC client refused"
		wait_for 5 more_attacks "$u" vncgw "$n" && ok "$u: audited desktop.socket_attack (vncgw): $(last_attack "$u" | jq -c .detail)" ||
			bad "$u: no desktop.socket_attack line for the gateway swap"
	else
		echo "note: $u has no VNC gateway password (the API refused one); gateway swap not tried"
	fi

	# 2. rfb.sock -> the root-only host socket
	inside "$u" "ln -sfn $T/rootonly/host.sock /run/argobox/rfb.sock" || bad "$u: could not point rfb.sock at the host socket"
	n=$(attacks "$u" websocket)
	out=$(ws "$u")
	rc=$?
	[ $rc = 2 ] && ok "$u -> root-only host socket: browser refused ($out)" || bad "$u -> root-only socket: websocket got '$out' (rc $rc)"
	wait_for 5 more_attacks "$u" websocket "$n" && last_attack "$u" | jq -e '.detail.peer_uid == 0' >/dev/null &&
		ok "$u: audited (peer uid 0, $(last_attack "$u" | jq -r .detail.peer_exe))" || bad "$u: root-socket attack not audited: $(last_attack "$u")"
	if [ -n "${VNCPW[$u]:-}" ]; then
		vnc "$u" && bad "$u -> root-only socket: VNC client got through" || ok "$u -> root-only socket: native VNC client refused"
	fi
	grep -q '^got' "$T/rootonly.log" && bad "bytes reached the root-only socket: $(grep '^got' "$T/rootonly.log")" ||
		ok "not a byte relayed to the root-only socket"

	# 3. the swap undone: the user's own desktop again
	inside "$u" "rm /run/argobox/rfb.sock && mv /run/argobox/rfb.sock.orig /run/argobox/rfb.sock"
	out=$(ws "$u")
	[ $? = 0 ] && ok "$u: own desktop back once the swap is undone" || bad "$u: after undoing the swap: $out"

	# 4. rfb.sock replaced by a listener of the user's own that speaks RFB
	inside "$u" "mv /run/argobox/rfb.sock /run/argobox/rfb.sock.orig"
	(inside "$u" "exec python3 -c \"\$0\" /run/argobox/rfb.sock /run/argobox/fake.log" "$(cat "$H/fakerfb.py")" 2>/dev/null) &
	fake=$!
	wait_for 10 grep -q listening "$T/run/$u/fake.log" || bad "$u: the fake listener did not start: $(cat "$T/run/$u/fake.log" 2>&1)"
	answers() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$T/run/$u/rfb.sock"; }
	wait_for 10 answers || bad "$u: the fake listener does not answer: $(cat "$T/run/$u/fake.log" 2>&1)"
	n=$(attacks "$u" websocket)
	out=$(ws "$u")
	rc=$?
	[ $rc = 2 ] && ok "$u: a pretending listener of the user's own is refused ($out)" ||
		bad "$u: pretending listener: websocket got '$out' (rc $rc)"
	answers || echo "note: $u's fake listener stopped answering: $(cat "$T/run/$u/fake.log"; ls -l "$T/run/$u")"
	wait_for 5 more_attacks "$u" websocket "$n" && last_attack "$u" | jq -e '.detail.reason | test("init")' >/dev/null &&
		ok "$u: audited: $(last_attack "$u" | jq -r .detail.reason)" || bad "$u: pretender not audited: $(last_attack "$u")"
	pkill -f "fake.log" -P "$(pgrep -f "runc --root $T/state exec.*$AB_PREFIX$u" | head -n1)" 2>/dev/null
	for p in $(pgrep -f "/run/argobox/fake.log"); do kill "$p" 2>/dev/null; done
	wait "$fake" 2>/dev/null || true
	inside "$u" "rm -f /run/argobox/rfb.sock /run/argobox/fake.log && mv /run/argobox/rfb.sock.orig /run/argobox/rfb.sock"
	out=$(ws "$u")
	[ $? = 0 ] && ok "$u: own desktop back after the pretender" || bad "$u: after the pretender: $out"
done

# 5. control.sock at re-adoption: bea points it at cid's while no broker runs. (The demo desktop
# goes first: a restarted broker tearing down a demo left over from before is another story.)
ctl stop "$demo" >/dev/null
gone_demo() { [ -z "$(ctl --json list | jq -r --arg u "$demo" '.desktops[] | select(.user == $u) | .user')" ]; }
wait_for 20 gone_demo || bad "$demo's desktop did not stop"
stop_broker 2>/dev/null
inside bea "mv /run/argobox/control.sock /run/argobox/control.sock.orig && ln -s $T/run/cid/control.sock /run/argobox/control.sock" ||
	bad "bea: could not swap control.sock"
n=$(attacks bea control)
start_gw_broker "$T/broker2.log"
wait_for 20 desk_ready bea && wait_for 20 desk_ready cid || bad "desktops not adopted: $(ctl --json list)"
wait_for 10 more_attacks bea control "$n" && ok "bea -> cid's control.sock at re-adoption: audited $(last_attack bea | jq -c .detail)" ||
	bad "bea: control.sock swap at re-adoption not audited: $(grep -i control "$T/broker2.log" | tail -3)"
ctl_of() { ctl --json list | jq -r --arg u "$1" '.desktops[] | select(.user == $u) | .control'; }
cid_ctl() { [ "$(ctl_of cid)" = true ]; }
wait_for 10 cid_ctl
[ "$(ctl_of bea)" = false ] && [ "$(ctl_of cid)" = true ] &&
	ok "bea has no control channel (refused), cid keeps its own" || bad "control channels: bea $(ctl_of bea), cid $(ctl_of cid)"

stop_broker 2>/dev/null
sanitizer_check "$T"/broker*.log
finish "socket swap"
