#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Desktop container lifecycle through the real OCI runtimes: start (with its network namespace
# and rules), ready, the RFB socket answering on the host, re-adoption by a fresh launcher
# (a broker restart), stop and cleanup; then the same with crun; then bad input.
# Runs the real argobox-session in the container when it has been built, else a stand-in.
#
# usage: lifecycle.sh TOOL   (TOOL = ab-runtime-tool)
set -uo pipefail
tool=${1:?usage: lifecycle.sh ab-runtime-tool}
top=${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
build=${AB_BUILD_DIR:-$(dirname "$(dirname "$(dirname "$(dirname "$tool")")")")}

. "$top/tests/lib/sh/lib.sh"
need_root "user namespaces, runc, nftables"
command -v runc >/dev/null || skip "runc is not installed"
command -v ip >/dev/null || skip "iproute2 (ip) is needed"

tag=$$
ab_tmpdir ab-life 755
tmp=$T
hostns=ablife-$tag
user=lc$tag
G=(--netns-dir "$tmp/netns" --bundle-root "$tmp/bundles" --prefix "abl$tag-" --table "abl$tag"
	--audit "$tmp/audit.log")
T() { nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" "$@"; }
netns_add "$hostns"
at_exit 'T --runtime crun stop --user "$user" >/dev/null 2>&1'
at_exit 'T stop --user "$user" >/dev/null 2>&1'
mkdir -p "$tmp/netns" "$tmp/run" "$tmp/home" "$tmp/t"

session=$build/session/argobox-session
if [ -x "$session" ]; then
	cmd=(/opt/argobox/argobox-session --runtime-dir /run/argobox --ready-fd 3 --geometry 800x600
		-- /usr/bin/sleep 3600)
	mnt=(--mount "$session:/opt/argobox/argobox-session")
	echo "# running the real argobox-session in the container"
else
	# Stand-in: a unix socket speaking the RFB banner, then READY on fd 3.
	cat >"$tmp/t/fake.py" <<'EOF'
import os, socket
if os.path.exists("/run/argobox/rfb.sock"):
    os.unlink("/run/argobox/rfb.sock")  # left by the previous run, as the real session does
s = socket.socket(socket.AF_UNIX); s.bind("/run/argobox/rfb.sock"); s.listen(4)
os.write(3, b"READY\n"); os.close(3)
while True:
    c, _ = s.accept(); c.sendall(b"RFB 003.008\n"); c.close()
EOF
	chmod -R a+rX "$tmp/t"
	cmd=(/usr/bin/python3 /opt/t/fake.py)
	mnt=(--mount "$tmp/t:/opt/t")
	echo "# argobox-session not built: running a stand-in RFB socket"
fi

rfb_banner() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
print(s.recv(12).decode().strip())
EOF
}

cycle() { # cycle RUNTIME
	local rt=$1 out
	out=$(T --runtime "$rt" start --user "$user" --role member --index 4 --rundir "$tmp/run" \
		--home "$tmp/home" --memory $((512 << 20)) --pids 256 --cpu 1000 \
		--seccomp "$top/containers/seccomp/default.json" "${mnt[@]}" -- "${cmd[@]}" 2>&1)
	if grep -q "^ready user=$user .*runtime=$rt" <<<"$out"; then ok "$rt: started and ready"; else
		bad "$rt: start: $out"
		return
	fi
	[ "$(rfb_banner "$tmp/run/rfb.sock" 2>&1)" = "RFB 003.008" ] && ok "$rt: RFB socket answers on the host" ||
		bad "$rt: no RFB banner on $tmp/run/rfb.sock"
	[ -e "$tmp/netns/abl$tag-$user" ] && ok "$rt: network namespace pinned" || bad "$rt: no netns"
	nsenter --net=/run/netns/$hostns nft list chain inet "abl$tag" "$user-fwd" >/dev/null 2>&1 &&
		ok "$rt: nftables chains present" || bad "$rt: no nftables chain"
	pid=$(T --runtime "$rt" list 2>/dev/null | awk -v u="$user" '$1 == u && $2 == "running" {print $3}')
	[ -n "$pid" ] && ok "$rt: re-adopted by a fresh launcher (pid $pid)" || bad "$rt: not adopted"
	[ -n "$pid" ] && [ "$(awk '$1 == 0 {print $2}' /proc/$pid/uid_map)" = $((100000 + 4 * 65536)) ] &&
		ok "$rt: user namespace maps root to host uid $((100000 + 4 * 65536))" || bad "$rt: uid map"
	[ -n "$pid" ] && grep -q '^NoNewPrivs:\s*1' /proc/$pid/status && grep -q '^CapEff:\s*0*$' /proc/$pid/status &&
		ok "$rt: no capabilities, no_new_privs" || bad "$rt: privileges"
	[ -n "$pid" ] && grep -q ' /sys sysfs ro,' /proc/$pid/mounts && ok "$rt: /sys is read-only inside" ||
		bad "$rt: /sys is not read-only: $(grep ' /sys ' /proc/$pid/mounts 2>/dev/null)"
	T --runtime "$rt" stop --user "$user" >/dev/null 2>&1 && ok "$rt: stopped" || bad "$rt: stop failed"
	[ ! -e "$tmp/bundles/$user" ] && ok "$rt: bundle removed" || bad "$rt: bundle left behind"
	[ ! -e "$tmp/netns/abl$tag-$user" ] && ok "$rt: netns removed" || bad "$rt: netns left behind"
	nsenter --net=/run/netns/$hostns nft list chain inet "abl$tag" "$user-fwd" >/dev/null 2>&1 &&
		bad "$rt: rules left behind" || ok "$rt: rules removed"
	"$rt" list 2>/dev/null | grep -q "abl$tag-$user" && bad "$rt: container left in '$rt list'" ||
		ok "$rt: runtime state clean"
	grep -q '"event":"container.start","outcome":"grant"' "$tmp/audit.log" &&
		grep -q '"event":"container.stop"' "$tmp/audit.log" && ok "$rt: start and stop audited" ||
		bad "$rt: audit events missing"
	: >"$tmp/audit.log"
}

cycle runc
if command -v crun >/dev/null; then cycle crun; else echo "# crun not installed: skipped"; fi

# Bad input: a clear error, nothing created.
out=$(T start --user "../etc" --rundir "$tmp/run" -- /bin/true 2>&1) && bad "bad user name accepted" ||
	{ grep -q "invalid user name" <<<"$out" && ok "bad user name rejected: $out" || bad "unclear error: $out"; }
out=$(T start --user "$user" --index 4 --rundir relative -- /bin/true 2>&1) && bad "relative rundir accepted" ||
	ok "relative runtime dir rejected"
# (the console logs of the cycles above stay beside the bundles: docs/isolation.md)
[ -z "$(find "$tmp/bundles" -mindepth 1 -maxdepth 1 -not -name '*.console.log*' 2>/dev/null)" ] &&
	ok "no bundle left by rejected starts" || bad "bundles left: $(ls "$tmp/bundles")"
[ -s "$tmp/bundles/$user.console.log" ] && ok "the stopped container's console log is kept" ||
	bad "no console log beside the bundles: $(ls "$tmp/bundles")"
# A command that does not exist: the start fails, is audited, and leaves nothing.
out=$(T start --user "$user" --index 4 --rundir "$tmp/run" -- /nonexistent 2>&1) && bad "bogus command started" ||
	ok "bogus command fails: $(tail -1 <<<"$out")"
grep -q '"event":"container.start","outcome":"failure"' "$tmp/audit.log" && ok "failed start audited" ||
	bad "failed start not audited"
[ ! -e "$tmp/bundles/$user" ] && [ ! -e "$tmp/netns/abl$tag-$user" ] && ok "failed start cleaned up" ||
	bad "failed start left state"

finish lifecycle
