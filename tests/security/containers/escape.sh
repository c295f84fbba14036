#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Escape suite (issue 5): from inside users' real containers (runc, the default seccomp
# profile, no capabilities, user namespaces, per-user netns + nftables), try each escape and
# require that it fails AND that the broker-side audit log shows it. Prints a table.
#
# Everything network-related happens inside a network namespace this test creates (it stands
# in for the host's), so the test never touches the machine's own firewall or interfaces.
#
# usage: escape.sh TOOL   (TOOL = build/tests/integration/runtime/ab-runtime-tool)
#        escape.sh TOOL --image PROFILE
#   the same attempts against desktops on a desktop image (containers/rootfs/image-build):
#   PROFILE's image (with python3 for the probes) is built, or found up to date, in the test
#   image cache every build dir of the source tree shares (tests/lib/sh/test_images.sh:
#   .cache/test-images) and every container runs on it instead of the host's /usr
set -uo pipefail
tool=${1:?usage: escape.sh ab-runtime-tool}
src=$(cd "$(dirname "$0")" && pwd)
top=${AB_SOURCE_DIR:-$(cd "$src/../../.." && pwd)}
image_profile=
[ "${2:-}" != --image ] || image_profile=${3:?usage: escape.sh TOOL --image PROFILE}

[ "$(id -u)" = 0 ] || { echo "SKIP: the escape suite needs root (user namespaces, runc, nftables)"; exit 77; }
command -v runc >/dev/null || { echo "SKIP: runc is not installed"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is needed for the probes"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) is needed to create the test's namespace"; exit 77; }

tag=$$
tmp=$(mktemp -d /tmp/ab-escape.XXXXXX)
chmod 755 "$tmp"
hostns=abesc-$tag
A=ea$tag B=eb$tag D=ed$tag
idbase=$((2000000 + (tag % 1000) * 65536 * 4))
audit=$tmp/audit.log
pids=()

G=(--netns-dir "$tmp/netns" --bundle-root "$tmp/bundles" --prefix "abe$tag-" --table "abe$tag" --audit "$audit")
T() { nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" "$@"; }

cleanup() {
	for u in $A $B $D; do T stop --user "$u" >/dev/null 2>&1; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$hostns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

wait_for() { # wait_for FILE SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

run_in() { # run_in RUNDIR COMMAND...: runs a shell command through the container's agent
	local rd=$1
	shift
	rm -f "$rd/out"
	printf '%s\n' "$*" >"$rd/cmd"
	wait_for "$rd/out" 90 || { echo "TIMEOUT"; return 1; }
	cat "$rd/out"
}

ip netns add "$hostns" || { echo "cannot create a network namespace"; exit 1; }
ip -n "$hostns" link set lo up
# A stand-in LAN behind the "host", so egress is routed (and filtered) rather than unreachable.
ip -n "$hostns" link add ablan0 type veth peer name ablan1 && ip -n "$hostns" link set ablan0 up &&
	ip -n "$hostns" link set ablan1 up && ip -n "$hostns" addr add 10.77.255.254/16 dev ablan0
mkdir -p "$tmp/netns" "$tmp/t" "$tmp/suid"
cp "$src/agent.sh" "$src/probe.py" "$tmp/t/"
chmod 755 "$tmp/t" "$tmp/t/agent.sh" "$tmp/t/probe.py"

# Host-side services inside the test's "host" namespace: an allowed port, a forbidden one, DNS.
ok_port=$((20000 + tag % 10000)) bad_port=$((30000 + tag % 10000))
ip netns exec "$hostns" python3 - "$ok_port" "$bad_port" <<'EOF' &
import socket, sys, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port))); s.listen(16)
    while True:
        c, _ = s.accept(); c.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
    while True:
        d, a = s.recvfrom(512); s.sendto(d[:2] + b"\x81\x80" + d[4:], a)
for p in sys.argv[1:]:
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
udp()
EOF
pids+=($!)

seccomp=$top/containers/seccomp/default.json
common=(--id-base "$idbase" --seccomp "$seccomp" --mount "$tmp/t:/opt/t" --mount "$tmp/suid:/opt/suid"
	--pids 64 --memory $((128 << 20)))
if [ -n "$image_profile" ]; then
	command -v mmdebstrap >/dev/null || { echo "SKIP: mmdebstrap is not installed (the desktop image)"; exit 77; }
	: "${AB_BUILD_DIR:?--image runs through ctest}"
	# the cache integration_container_image shares (of every build dir: tests/lib/sh/test_images.sh)
	. "$top/tests/lib/sh/test_images.sh"
	images=$(test_images_dir "$top")
	t0=$(date +%s%N)
	if ! EXTRA_PACKAGES=$(test_image_extra) ARGOBOX_BUILD_DIR=$AB_BUILD_DIR "$top/containers/rootfs/image-build" "$image_profile" "$images" >"$tmp/image.log" 2>&1; then
		cat "$tmp/image.log"
		grep -qiE "could not resolve|failed to fetch|temporary failure" "$images/$image_profile/build.log" 2>/dev/null &&
			{ echo "SKIP: the Debian archive is not reachable"; exit 77; }
		echo "FAIL: building the '$image_profile' image"
		exit 1
	fi
	img=$(readlink -f "$images/$image_profile/current")
	echo "desktops on the '$image_profile' image: $img ($(tail -n1 "$tmp/image.log" | cut -c1-60)...: $((($(date +%s%N) - t0) / 1000000)) ms)"
	common+=(--image "$img")
fi
for u in A B D; do mkdir -p "$tmp/run-$u"; done
mkdir -p "$tmp/home-A" "$tmp/home-B"
echo "secret of B" >"$tmp/home-B/secret"

# A's launcher stays up like the broker: it answers and audits A's denied syscalls (seccomp
# user notification) and polls the drop counters and cgroup events.
nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" --seccomp-listener "$tmp/seccomp.sock" start --stay --user $A --role member --index 1 \
	--rundir "$tmp/run-A" --home "$tmp/home-A" "${common[@]}" \
	--service "tcp:10.88.0.5:$ok_port" --lan 192.168.77.0/24 -- /opt/t/agent.sh >"$tmp/a.out" &
pids+=($!)
for ((i = 0; i < 600; i++)); do
	grep -q '^ready' "$tmp/a.out" 2>/dev/null && break
	kill -0 "${pids[-1]}" 2>/dev/null || { echo "starting A failed"; exit 1; }
	sleep 0.05
done
grep -q '^ready' "$tmp/a.out" || { echo "A not ready"; exit 1; }
T start --user $B --role member --index 2 --rundir "$tmp/run-B" --home "$tmp/home-B" "${common[@]}" \
	-- /opt/t/agent.sh || exit 1
T start --user $D --role demo --index 3 --rundir "$tmp/run-D" "${common[@]}" -- /opt/t/agent.sh || exit 1
chown $((idbase + 2 * 65536 + 1000)) "$tmp/home-B/secret"
chmod 600 "$tmp/home-B/secret"

# A setuid-root binary owned by A's container root (mapped), so only nosuid/no_new_privs stop it.
cp /usr/bin/id "$tmp/suid/id"
chown $((idbase + 65536)):$((idbase + 65536)) "$tmp/suid/id"
chmod 4755 "$tmp/suid/id"

# B serves something on its container address and has a VNC-like socket.
run_in "$tmp/run-B" "python3 /opt/t/probe.py serve /run/argobox/rfb.sock 7000" >/dev/null

P="python3 /opt/t/probe.py"
declare -a rows
fail=0
if [ -n "$image_profile" ]; then # every attempt below runs on the image, not the host's /usr
	for u in $A $B $D; do
		ipid=$(cat "$tmp/bundles/$u/init.pid" 2>/dev/null)
		if [ -n "$ipid" ] && [ "$(stat -L -c %d:%i "/proc/$ipid/root/usr" 2>/dev/null)" = "$(stat -c %d:%i "$img/usr")" ]; then
			rows+=("$(printf '%-34s %s' "on the image ($u)" "OK its /usr is $img/usr")")
		else
			rows+=("$(printf '%-34s %s' "on the image ($u)" "NOT ON THE IMAGE")")
			fail=1
		fi
	done
fi
check() { # check NAME OUTPUT: every line must be BLOCKED/OK
	local name=$1 out=$2 line
	while IFS= read -r line; do
		case "$line" in
		BLOCKED* | OK*) rows+=("$(printf '%-34s %s' "$name" "$line")") ;;
		rc=*) ;;
		*) rows+=("$(printf '%-34s %s' "$name" "ESCAPED/UNEXPECTED: $line")"); fail=1 ;;
		esac
	done <<<"$out"
	grep -q '^\(BLOCKED\|OK\)' <<<"$out" || { rows+=("$(printf '%-34s %s' "$name" "NO RESULT")"); fail=1; }
}

check "mount" "$(run_in "$tmp/run-A" "$P mount")"
check "ptrace another process" "$(run_in "$tmp/run-A" "$P ptrace")"
check "setuid binary" "$(run_in "$tmp/run-A" "$P setuid /opt/suid/id")"
check "raw sockets" "$(run_in "$tmp/run-A" "$P raw")"
check "write /proc/sys" "$(run_in "$tmp/run-A" "$P write /proc/sys/kernel/hostname")"
check "write /sys" "$(run_in "$tmp/run-A" "$P write /sys/kernel/uevent_helper")"
check "load kernel module" "$(run_in "$tmp/run-A" "$P module")"
check "reach other user's container" "$(run_in "$tmp/run-A" "$P connect 10.88.0.10 7000")"
check "other user's VNC socket" "$(run_in "$tmp/run-A" "$P unix $tmp/run-B/rfb.sock; $P unix /run/argobox/../../run-B/rfb.sock")"
check "whitelisted host port (control)" "$(run_in "$tmp/run-A" "$P connect 10.88.0.5 $ok_port ok")"
check "non-whitelisted host port" "$(run_in "$tmp/run-A" "$P connect 10.88.0.5 $bad_port")"
check "LAN outside the member's ranges" "$(run_in "$tmp/run-A" "$P connect 10.77.0.1 80")"
check "DNS as non-admin" "$(run_in "$tmp/run-A" "$P dns 10.88.0.5")"
check "demo: host port not whitelisted" "$(run_in "$tmp/run-D" "$P connect 10.88.0.13 $ok_port")"

# Host view: A's host uid cannot open B's socket or home either (per-user id ranges, 0700).
a_uid=$((idbase + 65536 + 1000))
out=$(setpriv --reuid=$a_uid --regid=$a_uid --clear-groups /usr/bin/python3 "$src/probe.py" unix "$tmp/run-B/rfb.sock" 2>&1)
check "B's VNC socket as A's host uid" "$out"
out=$(setpriv --reuid=$a_uid --regid=$a_uid --clear-groups /usr/bin/python3 "$src/probe.py" read "$tmp/home-B/secret" 2>&1)
check "B's home as A's host uid" "$out"
check "read other user's home" "$(run_in "$tmp/run-A" "$P read /home/$B; $P read $tmp/home-B/secret")"

# Fork bomb: the pids limit holds, and the host still starts processes meanwhile.
rm -f "$tmp/run-A/bomb"
printf '%s\n' "$P forkbomb /run/argobox/bomb" >"$tmp/run-A/cmd"
rm -f "$tmp/run-A/out"
if wait_for "$tmp/run-A/bomb" 60 && /bin/true && ps -e >/dev/null; then
	rows+=("$(printf '%-34s %s' "fork bomb (host responsive)" "OK host spawned processes while the container sat at $(cat "$tmp/run-A/bomb") processes")")
else
	rows+=("$(printf '%-34s %s' "fork bomb (host responsive)" "FAILED")")
	fail=1
fi
wait_for "$tmp/run-A/out" 60
check "fork bomb" "$(cat "$tmp/run-A/out")"

out=$(run_in "$tmp/run-A" "$P memhog")
if grep -q '^rc=137' <<<"$out"; then
	check "memory hog" "BLOCKED killed by the OOM killer inside its 128 MiB limit"
else
	check "memory hog" "$out"
fi

check "demo: write root fs" "$(run_in "$tmp/run-D" "$P touch /x; $P touch /usr/x; $P touch /etc/passwd; $P touch /home/$D/ok ok")"
check "member: write root fs" "$(run_in "$tmp/run-A" "$P touch /x")"

# What the broker sees: nftables drop counters and cgroup events, audited by a poll.
T poll >/dev/null
audited() { grep -c "$1" "$audit" 2>/dev/null || true; }
declare -A seen=(
	["net.deny inter-user, under who tried"]='"user":"'$A'".*"event":"net.deny".*"kind":"inter-user"'
	["net.deny inbound, under the target"]='"user":"'$B'".*"event":"net.deny".*"kind":"inbound"'
	["net.deny host-port"]='"event":"net.deny".*"kind":"host-port"'
	["net.deny dns"]='"event":"net.deny".*"kind":"dns"'
	["net.deny egress (LAN)"]='"event":"net.deny".*"kind":"egress"'
	["container.limit pids"]='"event":"container.limit".*"limit":"pids"'
	["container.limit memory"]='"event":"container.limit".*"limit":"memory"'
	["container.privileges"]='"event":"container.privileges"'
	["net.policy grant"]='"event":"net.policy","outcome":"grant"'
)
for k in "${!seen[@]}"; do
	n=$(audited "${seen[$k]}")
	if [ "$n" -gt 0 ]; then
		rows+=("$(printf '%-34s %s' "audit: $k" "OK ($n events)")")
	else
		rows+=("$(printf '%-34s %s' "audit: $k" "MISSING")")
		fail=1
	fi
done
# Seccomp denials reach the broker through the user-notification listener.
for sc in mount unshare ptrace finit_module init_module socket; do
	n=$(audited '"event":"container.seccomp".*"syscall":"'$sc'"')
	if [ "$n" -gt 0 ]; then
		rows+=("$(printf '%-34s %s' "audit: container.seccomp $sc" "OK ($n events)")")
	else
		rows+=("$(printf '%-34s %s' "audit: container.seccomp $sc" "MISSING")")
		fail=1
	fi
done

printf '\n%-34s %s\n' "ATTEMPT" "OUTCOME"
printf '%s\n' "${rows[@]}"
for u in $A $B $D; do T stop --user "$u" >/dev/null || fail=1; done
left=$(ip -n "$hostns" -o link show | grep -cE "abe$tag-[0-9]+h|ab[0-9a-f]{8}[0-9]+h" || true)
[ "$left" = 0 ] || { echo "veths left after stop: $left"; fail=1; }
nsenter --net=/run/netns/$hostns nft list table inet "abe$tag" 2>/dev/null | grep -q chain && { echo "rules left after stop"; fail=1; }
[ "$fail" = 0 ] && echo "escape suite: all attempts failed and were audited" || echo "escape suite: FAILED"
exit $fail
