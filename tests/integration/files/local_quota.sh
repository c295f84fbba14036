#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quotas on the desktop's own writes to a local home (files.local_quota "image", docs/files.md):
# the real broker makes bea's home an ext4 image of her quota's size, loop-mounted on it,
# before the files API (or her container) uses it; a program writing as her host uid gets
# ENOSPC at the quota; df shows it; the API works on it; a broker restart keeps the mount;
# a home that already holds files is refused (audited) rather than hidden. Needs root and
# loop devices (77 otherwise).
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "loop-mounts file system images"
[ -e /dev/loop-control ] || skip "no loop devices (/dev/loop-control)"
need_tools mkfs.ext4 mount setpriv jq curl
need_built "$B/broker/argobox-broker"
ab_tmpdir ab-lquota 755
broker_config <<EOT
$(local_users s3cret-pw bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}},
 "files": {"local_quota": "image", "quota_bytes": 16777216}
EOT
M=$T/data/home/bea
at_exit "umount '$M' 2>/dev/null"
# cid's home already holds a file: it must not vanish under a new image
mkdir -p "$T/data/home/cid" && echo keep >"$T/data/home/cid/old.txt"
start_broker "$T/broker.log"
[ "$(login bea s3cret-pw)" = 200 ] || bad "bea cannot sign in"
st=$(get_as bea /api/files)
[ "$st" = 200 ] && ok "the API lists bea's home" || bad "list: $st $(cat "$T/resp")"
grep -q " $M ext4 " /proc/mounts && ok "her home is an ext4 image mounted on it" ||
	bad "no ext4 mount on $M: $(grep "$M" /proc/mounts)"
[ "$(stat -c '%U %a' "$M" | cut -d' ' -f2)" = 700 ] && [ ! -e "$M/lost+found" ] &&
	ok "the home is 0700 and empty (no lost+found)" || bad "home: $(stat -c '%u %a' "$M"); $(ls -a "$M")"
grep '"event":"files.image"' "$T/audit.log" | grep -q '"step":"mount".*"created":true' &&
	ok "the image's creation and mount are audited" || bad "no files.image line"
hid=$(stat -c %u "$M")
out=$(setpriv --reuid="$hid" --regid="$hid" --clear-groups dd if=/dev/zero of="$M/big" bs=1M count=32 2>&1) &&
	bad "dd over the quota succeeded" || { grep -q "No space left on device" <<<"$out" &&
	ok "a desktop program over the quota: ENOSPC" || bad "dd: $out"; }
size=$(stat -c %s "$M/big")
[ "$size" -le 16777216 ] && ok "what was written fits the quota ($size bytes)" || bad "big is $size"
rm -f "$M/big"
df -B1 --output=size "$M" | tail -1 | awk '{exit !($1 > 12000000 && $1 <= 16777216)}' &&
	ok "df shows about the quota ($(df -B1 --output=size "$M" | tail -1 | tr -d ' ') bytes)" ||
	bad "df: $(df -B1 "$M" | tail -1)"
echo hello >"$M/note.txt" && chown "$hid:$hid" "$M/note.txt"
st=$(get_as bea /api/files/note.txt)
[ "$st" = 200 ] && [ "$(cat "$T/resp")" = hello ] && ok "download from the image" || bad "download: $st"

# cid's home has files: refused, audited, the file still there
[ "$(login cid s3cret-pw)" = 200 ] || bad "cid cannot sign in"
st=$(get_as cid /api/files)
[ "$st" = 500 ] && [ -f "$T/data/home/cid/old.txt" ] && ! grep -q " $T/data/home/cid " /proc/mounts &&
	ok "a home already holding files is not hidden by a new image ($st)" || bad "cid: $st $(cat "$T/resp")"
grep '"event":"files.image"' "$T/audit.log" | grep '"user":"cid"' | grep -q "already holds files" &&
	ok "the refusal is audited" || bad "no files.image failure for cid"

# a broker restart keeps the mounted image and the files
stop_broker_ok
start_broker "$T/broker2.log" # a new log: the old one already says "listening"
[ "$(login bea s3cret-pw)" = 200 ] || bad "bea cannot sign in again"
st=$(get_as bea /api/files/note.txt)
[ "$st" = 200 ] && [ "$(grep -c " $M ext4 " /proc/mounts)" = 1 ] &&
	ok "after a broker restart: the same mount, the file there" || bad "after restart: $st, $(grep -c "$M" /proc/mounts) mounts"
sanitizer_check "$T/broker.log" "$T/broker2.log"
finish local_quota
