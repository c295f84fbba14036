#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An SMB home inside a real desktop container (runc): the broker mounts bea's home with
# argobox-smbfs from a real smbd (in the test's own network namespace) before her container
# starts; inside, as her uid, the share's files are her home, her writes land on the share,
# df shows her quota and dd over it gets EDQUOT (a files.quota line from smbfs); the SMB
# password is in no process of the container (environ, cmdline), not in the bundle's
# config.json, not in its mounts and not in the broker's log; her files survive the container
# being re-created and the broker restarting. Needs root, runc and /dev/fuse (77 otherwise).
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "user namespaces, cgroups, nftables, FUSE"
[ -c /dev/fuse ] || skip "no /dev/fuse"
need_tools runc ip nsenter nft jq curl openssl smbd smbpasswd
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session" \
	"$B/broker/argobox-smbfs"
oci_setup smbc
PW='cont-smb-s3cret'
start_smbd homes nobody "$PW"
H=$T/smbd/homes/bea
mkdir -p "$H/Docs" && echo "on the share" >"$H/Docs/readme.txt" && chown -R nobody "$H"
printf '%s\n' "$PW" >"$T/smb.pw" && chmod 600 "$T/smb.pw"
hash=$(openssl passwd -6 -salt absmb "s3cret-pw")
broker_config_oci 800x600 '["/usr/bin/sleep", "3600"]' <<EOT
 "auth": {"local": {"enabled": true}},
 "users": [{"name": "bea", "role": "member", "profile": "dev", "uid": 1003, "gid": 1003,
            "password_hash": "$hash"}],
 "profiles": {"dev": {"title": "Developer", "apps": [],
                      "limits": {"cpu_millis": 1000, "memory_mb": 512, "pids": 200},
                      "network": {"egress": "none", "lan": [], "services": []}, "services": [],
                      "read_only_root": false, "persistent": true, "ttl_minutes": 0}},
 "files": {"backend": "smb", "quota_bytes": 2097152,
   "smb": {"server": "127.0.0.1", "port": $SMB_PORT, "share": "homes", "path": "%u",
           "username": "nobody", "password_file": "$T/smb.pw", "timeout_ms": 2000}}
EOT
at_exit "umount -l '$T/home/bea' 2>/dev/null"
start_broker "$T/broker.log"
as_bea() { nsenter -t "$pid" -U -m -S 1003 -G 1003 "$@"; }

start_desktop() {
	local code
	code=$(post /api/login '{"user":"bea","password":"s3cret-pw"}')
	[ "$code" = 200 ] || bad "login: $code $(cat "$T/resp")"
	wait_for 30 desk_ready bea || { bad "no desktop: $(tail -5 "$T/broker.log")"; finish smb_container; }
	pid=$(desk_pid bea)
}
start_desktop
grep -q "argobox-smbfs:bea $T/home/bea fuse" /proc/mounts && ok "bea's home is mounted from SMB" ||
	bad "no argobox-smbfs mount on $T/home/bea"
[ "$(as_bea cat /home/bea/Docs/readme.txt 2>&1)" = "on the share" ] &&
	ok "inside, as bea: the share's file in her home" || bad "inside: $(as_bea cat /home/bea/Docs/readme.txt 2>&1)"
as_bea sh -c 'echo "written in the desktop" >/home/bea/desk.txt' &&
	[ "$(cat "$H/desk.txt" 2>&1)" = "written in the desktop" ] &&
	ok "her write lands on the share" || bad "write: $(cat "$H/desk.txt" 2>&1)"
[ "$(as_bea stat -c %u /home/bea/desk.txt)" = 1003 ] && ok "her files are hers inside (uid 1003)" ||
	bad "owner inside: $(as_bea stat -c %u /home/bea/desk.txt)"
size=$(as_bea df -B1 --output=size /home/bea 2>/dev/null | tail -1 | tr -d ' ')
[ "$size" = 2097152 ] && ok "df in the desktop shows the 2 MiB quota" || bad "df size: $size"
out=$(as_bea dd if=/dev/zero of=/home/bea/big bs=64k count=64 2>&1) && bad "dd over the quota worked" ||
	{ grep -q "Disk quota exceeded" <<<"$out" && ok "dd in the desktop over the quota: EDQUOT" ||
		bad "dd: $out"; }
grep '"event":"files.quota"' "$T/audit.log" | grep '"source":"smbfs"' | grep -q '"path":"big"' &&
	ok "the refusal is a files.quota audit line" || bad "no files.quota line"
as_bea rm -f /home/bea/big

# the password: nowhere in the container, its bundle, its mounts, or the broker's log
leak=
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$(readlink "/proc/$pid/ns/pid")" ] || continue
	grep -qaF "$PW" "$p/environ" "$p/cmdline" 2>/dev/null && leak="$leak ${p#/proc/}"
done
[ -z "$leak" ] && ok "no process of the container has the password in its environment or argv" ||
	bad "password in processes:$leak"
grep -qF "$PW" "$T/bundles/bea/config.json" "/proc/$pid/mounts" "$T/broker.log" "$T/audit.log" &&
	bad "the password is in config.json, the mounts or a log" ||
	ok "the password is not in config.json, the container's mounts or the logs"
grep -qiE 'smb://|password|nobody' "$T/bundles/bea/config.json" &&
	bad "config.json mentions the share or its credentials" ||
	ok "config.json only bind-mounts the home (no share, user or password)"

# re-created container and restarted broker: the files are there
ctl stop bea >/dev/null
wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || bad "the desktop did not stop"
start_desktop
[ "$(as_bea cat /home/bea/desk.txt 2>&1)" = "written in the desktop" ] &&
	ok "after the container is re-created her file is there" || bad "after re-creation: $(as_bea cat /home/bea/desk.txt 2>&1)"
stop_broker_ok
start_broker "$T/broker2.log" # a new log: the old one already says "listening"
wait_for 30 desk_ready bea && pid=$(desk_pid bea)
[ "$(as_bea cat /home/bea/desk.txt 2>&1)" = "written in the desktop" ] &&
	ok "after a broker restart her file is there" || bad "after restart: $(as_bea cat /home/bea/desk.txt 2>&1)"
sanitizer_check "$T/broker.log" "$T/broker2.log"
finish smb_container
