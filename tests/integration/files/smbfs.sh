#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# argobox-smbfs (broker/files/smbfs.c, docs/files.md "SMB homes") against a real smbd of the
# test's own on loopback: the mount shows the share's files as the desktop user's; write,
# read, rename, delete land on the share; the quota refuses a writer (dd, truncate) with
# EDQUOT and an audit line; df shows used/limit; smbd killed: a clear error (EHOSTDOWN) and
# a "files.smb" audit line, then an automatic reconnect when it is back, an open file
# included; the password is in no argv, environment, audit line or log. Needs root and
# /dev/fuse (77 otherwise).
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "mounts a FUSE file system"
[ -c /dev/fuse ] || skip "no /dev/fuse"
need_tools smbd smbpasswd smbclient
need_built "$B/broker/argobox-smbfs"
ab_tmpdir ab-smbfs 755
PW='s3cret pa%ss'
start_smbd homes nobody "$PW"
H=$T/smbd/homes/alice
mkdir -p "$H/Docs" && echo hello >"$H/Docs/greeting.txt" && chown -R nobody "$H"
M=$T/mnt && mkdir "$M"
UIDH=101000
mount_smbfs() { # mount_smbfs QUOTA
	exec 5< <(jq -n --arg pw "$PW" --argjson port "$SMB_PORT" --argjson q "$1" \
		'{user:"alice",server:"127.0.0.1",port:$port,share:"homes",path:"alice",
		  username:"nobody",password:$pw,uid:101000,gid:101000,quota:$q,timeout_ms:3000}')
	"$B/broker/argobox-smbfs" --config-fd 5 --status-fd 6 --audit "$T/audit.log" "$M" \
		6>"$T/status" 2>>"$T/smbfs.log" &
	SMBFS_PID=$!
	exec 5<&-
	wait_for 20 grep -q . "$T/status" && grep -q '^mounted$' "$T/status" ||
		{ bad "argobox-smbfs did not mount: $(cat "$T/status" "$T/smbfs.log")"; finish smbfs; }
	at_exit "umount -l '$M' 2>/dev/null; kill_wait $SMBFS_PID"
}
mount_smbfs 1048576

# the share's files, as the desktop's user
[ "$(cat "$M/Docs/greeting.txt")" = hello ] && ok "the share's file is read through the mount" ||
	bad "reading Docs/greeting.txt: $(cat "$M/Docs/greeting.txt" 2>&1)"
[ "$(stat -c '%u:%g %a' "$M/Docs/greeting.txt")" = "$UIDH:$UIDH 600" ] &&
	ok "files are the desktop user's, 0600" || bad "owner/mode: $(stat -c '%u:%g %a' "$M/Docs/greeting.txt")"
grep -q "argobox-smbfs:alice $M fuse" /proc/mounts && ok "mounted as argobox-smbfs:alice" ||
	bad "not in /proc/mounts"

# write, read, rename, delete land on the share
echo "from the desktop" >"$M/note.txt"
[ "$(cat "$H/note.txt")" = "from the desktop" ] && ok "a write lands on the share" ||
	bad "the share has: $(cat "$H/note.txt" 2>&1)"
mv "$M/note.txt" "$M/Docs/moved.txt" && [ -f "$H/Docs/moved.txt" ] && [ ! -e "$H/note.txt" ] &&
	ok "rename moves it on the share" || bad "rename"
mkdir "$M/New" && [ -d "$H/New" ] && rmdir "$M/New" && [ ! -e "$H/New" ] &&
	ok "mkdir and rmdir" || bad "mkdir/rmdir"
rm "$M/Docs/moved.txt" && [ ! -e "$H/Docs/moved.txt" ] && ok "delete removes it from the share" ||
	bad "delete"
odd='a b%20c ü#.txt'
echo odd >"$M/Docs/$odd" && [ "$(cat "$H/Docs/$odd" 2>&1)" = odd ] && printf "%s\n" "$M/Docs"/* | grep -qxF "$M/Docs/$odd" &&
	ok "a name with spaces, %, # and UTF-8 is the same name on the share"
echo x 2>/dev/null >"$M/Docs/what?.txt" && bad "a name with '?' (not allowed by SMB) was created" ||
	ok "a name SMB does not allow ('?') is refused" || bad "odd name: $(ls "$H/Docs")"
rm -f "$M/Docs/$odd"
chown 0 "$M/Docs/greeting.txt" 2>/dev/null && bad "chown to root was accepted" ||
	ok "chown to another owner is refused"
ln -s /etc/shadow "$M/link" 2>/dev/null && bad "a symbolic link was created" ||
	ok "no symbolic links on the share"

# the quota: df shows it, dd and truncate get EDQUOT, one audit line each
df -B1 --output=size "$M" | tail -1 | grep -q '^ *1048576$' && ok "df shows the quota as the size" ||
	bad "df: $(df -B1 "$M" | tail -1)"
out=$(dd if=/dev/zero of="$M/big" bs=64k count=32 2>&1) && bad "dd over the quota succeeded" ||
	{ grep -q "Disk quota exceeded" <<<"$out" && ok "dd over the quota: Disk quota exceeded" ||
		bad "dd said: $out"; }
size=$(stat -c %s "$H/big")
[ "$size" -le 1048576 ] && ok "what was written fits the quota ($size bytes)" || bad "big is $size"
grep '"event":"files.quota"' "$T/audit.log" | grep -q '"path":"big","op":"write"' &&
	ok "the refusal is a files.quota audit line" || bad "no files.quota line: $(cat "$T/audit.log")"
truncate -s 2M "$M/Docs/greeting.txt" 2>"$T/err" && bad "truncate over the quota succeeded" ||
	{ grep -q "Disk quota exceeded" "$T/err" && ok "truncate over the quota: EDQUOT" ||
		bad "truncate said: $(cat "$T/err")"; }
rm "$M/big" && echo small >"$M/small.txt" && ok "after deleting, writing fits again" ||
	bad "a small write after freeing space failed"

# the count follows writes, rename over a file, truncate and delete exactly
used() { python3 -c "import os; print(os.getxattr('$M', 'user.argobox.usage').decode().split()[0])"; }
u0=$(used)
head -c 100000 /dev/zero >"$M/a.bin" && u1=$(used)
head -c 300 /dev/zero >"$M/b.bin" && mv "$M/b.bin" "$M/a.bin" && u2=$(used)
truncate -s 50 "$M/a.bin" && u3=$(used)
rm "$M/a.bin" && u4=$(used)
[ "$((u1 - u0)) $((u2 - u0)) $((u3 - u0)) $((u4 - u0))" = "100000 300 50 0" ] &&
	ok "usage follows write, rename over, truncate, delete exactly" ||
	bad "usage deltas: $((u1 - u0)) $((u2 - u0)) $((u3 - u0)) $((u4 - u0)) (want 100000 300 50 0)"

# smbd goes away: a clear error and an audit line; it comes back: reconnected, open file too
# a writer holding the file open across the outage (in its own process: smbd, restarted
# from this shell, must not inherit the file)
(
	exec 7>>"$M/small.txt"
	until [ -e "$T/go" ]; do sleep 0.05; done
	echo "after" >&7
) &
holder=$!
sleep 0.3
stop_smbd
sleep 0.2
out=$(ls "$M/Docs/" 2>&1) && bad "listing with smbd down succeeded: $out" ||
	{ grep -q "Host is down" <<<"$out" && ok "smbd down: listing fails with 'Host is down'" ||
		bad "listing said: $out"; }
grep '"event":"files.smb"' "$T/audit.log" | grep -q '"step":"lost"' &&
	ok "the lost connection is audited" || bad "no files.smb lost line"
restart_smbd
wait_for 10 ls "$M/Docs/" && ok "smbd back: the mount reconnects by itself" || bad "no reconnect"
grep '"event":"files.smb"' "$T/audit.log" | grep -q '"step":"reconnected"' &&
	ok "the reconnect is audited" || bad "no files.smb reconnected line"
touch "$T/go"
wait "$holder" && grep -q after "$H/small.txt" &&
	ok "a file open across the outage is written after the reconnect" ||
	bad "write on an open file after the reconnect: $(cat "$H/small.txt")"

# the password: nowhere but the share's passdb
if grep -qF "$PW" "/proc/$SMBFS_PID/cmdline" "/proc/$SMBFS_PID/environ" "$T/audit.log" \
	"$T/smbfs.log" "$T/status"; then
	bad "the password leaked into argv, environment, audit or log"
else
	ok "the password is in no argv, environment, audit line or log"
fi

wait_for 10 umount "$M" && wait_for 10 bash -c "! kill -0 $SMBFS_PID" && ok "umount ends argobox-smbfs" ||
	bad "argobox-smbfs still running after umount"
grep -q '"step":"unmounted"' "$T/audit.log" && ok "unmount audited" || bad "no unmounted line"
sanitizer_check "$T/smbfs.log"
finish smbfs
