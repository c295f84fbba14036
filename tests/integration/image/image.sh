#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The standalone root filesystem recipe (containers/rootfs/build-rootfs.sh) for real: builds the
# "minimal" image with mmdebstrap from the Debian archive, with this build's argobox-session
# and argobox-wm inside, then runs a desktop on it through runc (ab-runtime-tool --image): the
# session answers RFB on the host, a first full frame arrives, the window manager runs, and
# the container's /usr is the image's (argobox-session is in its /usr/bin, not the host's).
#
# usage: image.sh ab-runtime-tool
set -uo pipefail
tool=${1:?usage: image.sh ab-runtime-tool}
S=${AB_SOURCE_DIR:?run through ctest}
B=${AB_BUILD_DIR:?run through ctest}

. "$S/tests/lib/sh/lib.sh"
need_root "mmdebstrap, runc, user namespaces"
need_tools runc mmdebstrap ip nsenter
need_built "$B/session/argobox-session" "$B/wm/argobox-wm" "$B/bench/ab-rfbbench"

tag=$$
ab_tmpdir ab-image 755
tmp=$T
hostns=abimg-$tag
user=im$tag
T() {
	nsenter --net=/run/netns/$hostns "$tool" --netns-dir "$tmp/netns" --bundle-root "$tmp/bundles" \
		--prefix "abi$tag-" --table "abi$tag" --audit "$tmp/audit.log" "$@"
}
netns_add "$hostns"
at_exit 'T stop --user "$user" >/dev/null 2>&1'
mkdir -p "$tmp/netns" "$tmp/run" "$tmp/home"

# A sanitizer build needs its runtime libraries inside the image too.
extra=
ldd "$B/session/argobox-session" | grep -q libasan && extra=libasan8,libubsan1
start=$SECONDS
if ! EXTRA_PACKAGES=$extra bash "$S/containers/rootfs/build-rootfs.sh" minimal "$tmp/image" "$B" \
	>"$tmp/build.log" 2>&1; then
	tail -20 "$tmp/build.log"
	if grep -qiE "could not resolve|failed to fetch|connection (refused|timed out)|temporary failure" "$tmp/build.log"; then
		echo "SKIP: the Debian archive is not reachable from here"
		exit 77
	fi
	echo "FAIL build-rootfs.sh minimal"
	exit 1
fi
ok "image built in $((SECONDS - start)) s: $(tail -n1 "$tmp/build.log")"
[ -x "$tmp/image/usr/bin/argobox-session" ] && [ -x "$tmp/image/usr/bin/argobox-wm" ] &&
	ok "argobox-session and argobox-wm installed in the image" || bad "binaries missing in the image"
suid=$(find "$tmp/image" -xdev -perm /6000 -type f | wc -l)
[ "$suid" = 0 ] && ok "no setuid/setgid files in the image" || bad "$suid setuid/setgid files in the image"

out=$(T start --user "$user" --role member --index 6 --rundir "$tmp/run" --home "$tmp/home" \
	--image "$tmp/image" --seccomp "$S/containers/seccomp/default.json" -- \
	/usr/bin/argobox-session --runtime-dir /run/argobox --ready-fd 3 --geometry 800x600 \
	-- /usr/bin/argobox-wm 2>&1)
if grep -q "^ready user=$user" <<<"$out"; then ok "desktop ready on the image"; else
	bad "start on the image: $(tail -5 <<<"$out")"
	exit 1
fi
pid=$(cat "$tmp/bundles/$user/init.pid")
[ -x "/proc/$pid/root/usr/bin/argobox-session" ] && [ ! -e /usr/bin/argobox-session ] &&
	ok "the container's /usr is the image's" || bad "container /usr is not the image"
ff=$("$B/bench/ab-rfbbench" first-frame "unix:$tmp/run/rfb.sock" 2>&1)
grep -q "first_frame_ms=.*geometry=800x600" <<<"$ff" && ok "first full frame over RFB: $ff" ||
	bad "no first frame: $ff"
wm_up() { pgrep -P "$pid" -f /usr/bin/argobox-wm >/dev/null; }
for _ in $(seq 100); do wm_up && break; sleep 0.1; done
# Running for a while, not crash-looping: same pid a second later.
w1=$(pgrep -P "$pid" -f /usr/bin/argobox-wm)
sleep 1
w2=$(pgrep -P "$pid" -f /usr/bin/argobox-wm)
[ -n "$w1" ] && [ "$w1" = "$w2" ] && ok "argobox-wm runs in the image (pid $w1)" ||
	bad "argobox-wm not running steadily: '$w1' then '$w2'; $(tail -5 "$tmp/bundles/$user.console.log" 2>/dev/null)"
T stop --user "$user" >/dev/null && ok "stopped" || bad "stop failed"

finish image
