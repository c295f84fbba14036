#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The files API on an SMB home (files.backend "smb", docs/files.md "SMB homes"): the real
# broker mounts the user's home with argobox-smbfs from a real smbd of the test's own on
# loopback, then list, download and a tus upload work on it; the usage is argobox-smbfs's
# exact count; smbd killed mid-upload and mid-listing: a clear 503, no partial file under
# the final name, a files.smb audit line, and after smbd is back the upload resumes (HEAD,
# PATCH) and the listing works; a broker restart keeps the mount and the files; a
# configuration holding a password must be 0600; the password is in no log. Needs root and
# /dev/fuse (77 otherwise).
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "mounts a FUSE file system"
[ -c /dev/fuse ] || skip "no /dev/fuse"
need_tools smbd smbpasswd jq curl
need_built "$B/broker/argobox-broker" "$B/broker/argobox-smbfs"
ab_tmpdir ab-smbapi 755
PW='api-s3cret%pw'
start_smbd homes nobody "$PW"
H=$T/smbd/homes/bea
mkdir -p "$H/Docs" && echo "on the share" >"$H/Docs/readme.txt" && chown -R nobody "$H"
printf '%s\n' "$PW" >"$T/smb.pw" && chmod 600 "$T/smb.pw"
broker_config <<EOT
$(local_users s3cret-pw bea:member:p:1003 cid:member:p:1004 dan:member:p:1005 eve:member:p:1006)
 "profiles": {"p": {}},
 "files": {"backend": "smb", "quota_bytes": 8388608,
   "smb": {"server": "127.0.0.1", "port": $SMB_PORT, "share": "homes", "path": "%u",
           "username": "nobody", "password_file": "$T/smb.pw", "timeout_ms": 2000,
           "users": {"cid": {"password_file": "$T/loose.pw"},
                     "dan": {"password": "wrong-password"}}}}
EOT
chmod 600 "$T/broker.json" # it holds dan's password
printf '%s\n' "$PW" >"$T/loose.pw" && chmod 644 "$T/loose.pw"
M=$T/data/home/bea
at_exit "umount -l '$M' 2>/dev/null; umount -l '$T/data/home/cid' '$T/data/home/dan' '$T/data/home/eve' 2>/dev/null"
start_broker "$T/broker.log"
[ "$(login bea s3cret-pw)" = 200 ] || { bad "bea cannot sign in: $(cat "$T/bea.login")"; finish smb_api; }

# list and download through the mount
st=$(get_as bea /api/files/Docs)
[ "$st" = 200 ] && jq -e '.entries[] | select(.name == "readme.txt" and .size == 13)' "$T/resp" \
	>/dev/null && ok "the listing shows the share's file" || bad "list: $st $(cat "$T/resp")"
grep -q "argobox-smbfs:bea $M fuse" /proc/mounts && ok "the home is argobox-smbfs's mount" ||
	bad "no mount on $M"
grep '"event":"files.smb"' "$T/audit.log" | grep -q '"outcome":"grant".*"step":"mount"' &&
	ok "the mount is audited" || bad "no files.smb mount grant"
st=$(get_as bea /api/files/Docs/readme.txt)
[ "$st" = 200 ] && [ "$(cat "$T/resp")" = "on the share" ] && ok "download from the share" ||
	bad "download: $st"

# copy and tar run in child processes as the home's owner: through the mount too
st=$(post_as bea /api/files/Docs '{"action":"copy","to":"Docs2"}')
[ "$st" = 202 ] && jq -e '.bytes == 13' "$T/resp" >/dev/null && [ "$(cat "$H/Docs2/readme.txt")" = "on the share" ] &&
	ok "copy on the SMB home" || bad "copy: $st $(cat "$T/resp")"
st=$(get_as bea "/api/files/Docs2?archive=tar")
[ "$st" = 200 ] && tar -tf "$T/resp" | grep -q "readme.txt" && ok "a folder of the SMB home as tar" ||
	bad "tar: $st"

# refusals: a password file others may read, a wrong password: 503, audited, nothing mounted
[ "$(login cid s3cret-pw)" = 200 ] || bad "cid cannot sign in"
st=$(get_as cid /api/files)
[ "$st" = 503 ] && ! grep -q " $T/data/home/cid " /proc/mounts && ok "a 0644 password_file: 503, not mounted" ||
	bad "cid: $st $(cat "$T/resp")"
grep '"event":"files.smb"' "$T/audit.log" | grep '"user":"cid"' | grep -q "mode 0600 or tighter" &&
	ok "the refused password file is audited" || bad "no files.smb failure for cid"
[ "$(login dan s3cret-pw)" = 200 ] || bad "dan cannot sign in"
st=$(get_as dan /api/files)
[ "$st" = 503 ] && ! grep -q " $T/data/home/dan " /proc/mounts && ok "a wrong SMB password: 503, not mounted" ||
	bad "dan: $st $(cat "$T/resp")"
grep '"event":"files.smb"' "$T/audit.log" | grep '"user":"dan"' | grep -q '"outcome":"failure"' &&
	ok "the failed mount is audited: $(grep '"user":"dan"' "$T/audit.log" | grep files.smb | jq -r .detail.reason | head -1)" ||
	bad "no files.smb failure for dan"

# eve has a local home from before: it is not hidden under the share
mkdir -p "$T/data/home/eve" && echo local >"$T/data/home/eve/old.txt"
[ "$(login eve s3cret-pw)" = 200 ] || bad "eve cannot sign in"
st=$(get_as eve /api/files)
[ "$st" = 503 ] && [ -f "$T/data/home/eve/old.txt" ] && ! grep -q " $T/data/home/eve " /proc/mounts &&
	ok "a local home holding files is not hidden under the share (503)" || bad "eve: $st"
grep '"event":"files.smb"' "$T/audit.log" | grep '"user":"eve"' | grep -q "holds files" &&
	ok "that refusal is audited" || bad "no files.smb failure for eve"

# a tus upload in two chunks; smbd killed between them
csrf=$(jq -r .csrf_token "$T/bea.login")
. "$(dirname "$0")/tus.sh"
head -c 3145728 /dev/urandom >"$T/up.bin"
head -c 1048576 "$T/up.bin" >"$T/c1" && tail -c +1048577 "$T/up.bin" >"$T/c2"
tus_create up.bin 3145728
st=$TUS_ST loc=$TUS_LOC
[ "$st" = 201 ] && [ -n "$loc" ] && ok "upload created on the SMB home" || bad "create: $st $(cat "$T/resp")"
st=$(tus PATCH "$loc" -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' \
	--data-binary @"$T/c1")
[ "$st" = 204 ] && ok "first chunk written" || bad "PATCH 1: $st $(cat "$T/resp")"
stop_smbd
st=$(tus PATCH "$loc" -H 'Upload-Offset: 1048576' -H 'Content-Type: application/offset+octet-stream' \
	--data-binary @"$T/c2")
[ "$st" -ge 500 ] && ok "smbd down mid-upload: $st $(jq -r .error "$T/resp" 2>/dev/null)" ||
	bad "PATCH with smbd down: $st"
[ ! -e "$H/Uploads/up.bin" ] && ok "no partial file under the final name" || bad "Uploads/up.bin exists"
st=$(get_as bea /api/files/Docs)
[ "$st" = 503 ] && jq -r .error "$T/resp" | grep -q unreachable &&
	ok "smbd down mid-listing: 503 '$(jq -r .error "$T/resp")'" || bad "list with smbd down: $st $(cat "$T/resp")"
grep '"event":"files.smb"' "$T/audit.log" | grep -q '"step":"lost"' &&
	ok "the lost connection is audited" || bad "no files.smb lost line"
restart_smbd
wait_for 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -b '$T/bea.jar' '$URL/api/files/Docs')\" = 200 ]" &&
	ok "smbd back: the listing works again" || bad "listing after smbd came back"
st=$(tus HEAD "$loc")
off=$(grep -i '^upload-offset:' "$T/hdr" | tr -d '\r' | awk '{print $2}')
[ "$st" = 200 ] && [ -n "$off" ] && ok "HEAD after the outage: offset $off" || bad "HEAD: $st"
tail -c +$((off + 1)) "$T/up.bin" >"$T/rest"
st=$(tus PATCH "$loc" -H "Upload-Offset: $off" -H 'Content-Type: application/offset+octet-stream' \
	--data-binary @"$T/rest")
[ "$st" = 204 ] && cmp -s "$T/up.bin" "$H/Uploads/up.bin" &&
	ok "the upload resumed and is intact on the share" || bad "resume: $st $(cat "$T/resp")"
grep '"event":"files.smb"' "$T/audit.log" | grep -q '"step":"reconnected"' &&
	ok "the reconnect is audited" || bad "no files.smb reconnected line"

# smbd killed while a big folder is being listed: the answer is the whole listing or a clear
# 503, never a part of it; the loss and the reconnect are audited again, and the listing
# works by itself once smbd is back
NBIG=6000
mkdir -p "$H/Big" && (cd "$H/Big" && seq -f 'f%05g.txt' "$NBIG" | xargs touch) && chown -R nobody "$H/Big"
lost0=$(grep -c '"step":"lost"' "$T/audit.log")
back0=$(grep -c '"step":"reconnected"' "$T/audit.log")
a=$(date +%s%N)
st=$(get_as bea "/api/files/Big?limit=10000")
full_ms=$((($(date +%s%N) - a) / 1000000))
[ "$st" = 200 ] && [ "$(jq .total "$T/resp")" = "$NBIG" ] && ok "$NBIG files listed in $full_ms ms" ||
	bad "big listing: $st $(jq -c "{total, skipped, n: (.entries | length)}" "$T/resp") $(head -c 300 "$T/resp")"
curl -s -o "$T/mid" -w '%{http_code}' -b "$T/bea.jar" -H "Origin: $URL" \
	"$URL/api/files/Big?limit=10000" >"$T/mid.st" &
cpid=$!
sleep "$(awk -v m="$full_ms" 'BEGIN {printf "%.3f", m / 4000}')" # a quarter of the way in
stop_smbd
wait "$cpid"
st=$(cat "$T/mid.st")
if [ "$st" = 503 ]; then
	jq -r .error "$T/mid" | grep -q unreachable && ok "smbd killed mid-listing: 503 '$(jq -r .error "$T/mid")'" ||
		bad "mid-listing 503 without the reason: $(cat "$T/mid")"
	grep '"event":"files.list"' "$T/audit.log" | grep '"outcome":"failure"' | grep '"path":"Big"' |
		grep -q unreachable && ok "the cut listing is audited (files.list failure)" ||
		bad "no files.list failure line for the cut listing"
elif [ "$st" = 200 ]; then
	# the enumeration was already over (argobox-smbfs had the folder): then all of it
	[ "$(jq '.entries | length' "$T/mid")" = "$NBIG" ] && [ "$(jq .total "$T/mid")" = "$NBIG" ] &&
		ok "smbd killed after the enumeration: the whole listing ($NBIG)" ||
		bad "a partial listing: $(jq -c '{total, n: (.entries | length)}' "$T/mid") $(ls -l "$T"/mid*) $(head -c 300 "$T/mid")"
else
	bad "smbd killed mid-listing: $st $(head -c 300 "$T/mid")"
fi
st=$(get_as bea /api/files/Big)
[ "$st" = 503 ] && ok "the next listing while it is down: 503" || bad "listing with smbd down: $st"
wait_for 10 bash -c "[ \$(grep -c '\"step\":\"lost\"' '$T/audit.log') -gt $lost0 ]" &&
	ok "the second loss is audited (files.smb lost)" || bad "no new files.smb lost line"
restart_smbd
wait_for 15 bash -c "[ \"\$(curl -s -o '$T/again' -w '%{http_code}' -b '$T/bea.jar' '$URL/api/files/Big?limit=10000')\" = 200 ]" &&
	[ "$(jq .total "$T/again")" = "$NBIG" ] && ok "smbd back: the whole folder is listed again" ||
	bad "listing after the second outage: $(head -c 200 "$T/again")"
[ "$(grep -c '"step":"reconnected"' "$T/audit.log")" -gt "$back0" ] &&
	ok "the second reconnect is audited" || bad "no new files.smb reconnected line"
rm -rf "$H/Big"

# usage: argobox-smbfs's exact count (the readme, its copy and the upload)
get_as bea /api/files >/dev/null
used=$(jq .usage.used "$T/resp")
[ "$used" = $((2 * 13 + 3145728)) ] && [ "$(jq .usage.limit "$T/resp")" = 8388608 ] &&
	ok "usage $used of 8388608 bytes, exact" || bad "usage: $(jq -c .usage "$T/resp")"

# smbd killed while a PATCH body is streaming in (not between two requests): a clear error,
# nothing under the final name; once smbd is back HEAD gives an offset the share really holds
# (bytes argobox-smbfs had buffered but could not send are sent again, not zero-filled) and
# the upload finishes intact
head -c 4194304 /dev/urandom >"$T/up2.bin"
tus_create up2.bin 4194304
st=$TUS_ST loc2=$TUS_LOC
[ "$st" = 201 ] || bad "create 2: $st"
lost0=$(grep -c '"step":"lost"' "$T/audit.log")
tus_patch_bg p2 1M "$T/up2.bin" "$loc2"
cpid=$TUS_PID
sleep 1.5
stop_smbd
wait "$cpid"
st=$(cat "$T/p2.st")
[ "$st" = 503 ] || [ "$st" = 000 ] && ok "smbd killed mid-PATCH: $st $(jq -r .error "$T/p2" 2>/dev/null)" ||
	bad "PATCH cut by smbd: $st $(cat "$T/p2")"
[ ! -e "$H/Uploads/up2.bin" ] && ok "no partial file under the final name (mid-PATCH)" ||
	bad "Uploads/up2.bin exists"
wait_for 10 bash -c "[ \$(grep -c '\"step\":\"lost\"' '$T/audit.log') -gt $lost0 ]" &&
	ok "the loss mid-PATCH is audited" || bad "no files.smb lost line mid-PATCH"
restart_smbd
wait_for 15 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -b '$T/bea.jar' '$URL/api/files/Docs')\" = 200 ]" ||
	bad "smbd did not come back"
st=$(tus HEAD "$loc2")
off=$(grep -i '^upload-offset:' "$T/hdr" | tr -d '\r' | awk '{print $2}')
part=$(stat -c %s "$H/.argobox-uploads/${loc2##*/}.part" 2>/dev/null || echo none)
[ "$st" = 200 ] && [ -n "$off" ] && [ "$off" = "$part" ] && [ "$off" -lt 4194304 ] &&
	cmp -s -n "$off" "$T/up2.bin" "$H/.argobox-uploads/${loc2##*/}.part" &&
	ok "HEAD after the cut: offset $off, exactly what the share holds, and it is the file's start" ||
	bad "HEAD after the cut: $st offset '$off', the share holds '$part'"
tail -c +$((off + 1)) "$T/up2.bin" >"$T/rest2"
st=$(tus PATCH "$loc2" -H "Upload-Offset: $off" -H 'Content-Type: application/offset+octet-stream' \
	--data-binary @"$T/rest2")
[ "$st" = 204 ] && cmp -s "$T/up2.bin" "$H/Uploads/up2.bin" &&
	ok "the upload cut mid-PATCH resumed and is intact on the share" ||
	bad "resume after the mid-PATCH cut: $st $(cat "$T/resp")"

# a broker restart keeps the mount (the same argobox-smbfs) and the files
pid=$(pgrep -f "argobox-smbfs .*$M\$" | head -1)
stop_broker_ok
start_broker "$T/broker2.log" # a new log: the old one already says "listening"
[ "$(login bea s3cret-pw)" = 200 ] || bad "bea cannot sign in again"
st=$(get_as bea /api/files/Uploads)
[ "$st" = 200 ] && jq -e '.entries[] | select(.name == "up.bin")' "$T/resp" >/dev/null &&
	ok "after a broker restart the files are there" || bad "list after restart: $st"
[ -n "$pid" ] && [ "$(pgrep -f "argobox-smbfs .*$M\$" | head -1)" = "$pid" ] &&
	ok "the same argobox-smbfs serves the home across the restart" || bad "argobox-smbfs changed"

# the password: in no log or audit line
grep -qF -e "$PW" -e wrong-password "$T/broker.log" "$T/broker2.log" "$T/audit.log" && bad "the password is in a log" ||
	ok "the password is in no log or audit line"
stop_broker_ok

# a configuration holding the password itself must be 0600
jq --arg pw "$PW" '.files.smb |= (del(.password_file) + {password: $pw})' "$T/broker.json" \
	>"$T/inline.json"
chmod 644 "$T/inline.json"
timeout 20 "$B/broker/argobox-broker" --config "$T/inline.json" >"$T/inline.log" 2>&1
grep -q "holds an SMB password and is mode 0644" "$T/inline.log" &&
	ok "a 0644 configuration with a password is refused" || bad "inline: $(tail -3 "$T/inline.log")"

# configuration errors name the JSON path
D='"data": {"dir": "'$T'/cdata"}, "audit": {"path": "'$T'/c.audit"}'
check_config "backend nfs" "{$D, \"files\": {\"backend\": \"nfs\"}}" 'files.backend: must be "local" or "smb"'
check_config "smb without a server" "{$D, \"files\": {\"backend\": \"smb\", \"smb\": {\"share\": \"h\", \"username\": \"u\"}}}" \
	"files.smb: server, share and username are needed"
check_config "unknown smb key" "{$D, \"files\": {\"smb\": {\"sever\": \"x\"}}}" "files.smb.sever: unknown key"
check_config "password and password_file" \
	"{$D, \"files\": {\"smb\": {\"users\": {\"bea\": {\"password\": \"x\", \"password_file\": \"/p\"}}}}}" \
	"files.smb.users.bea: password and password_file together"
check_config "port out of range" "{$D, \"files\": {\"smb\": {\"port\": 70000}}}" "files.smb.port: must be 1..65535"
check_config "relative password_file" "{$D, \"files\": {\"smb\": {\"password_file\": \"pw\"}}}" \
	"files.smb.password_file: must be an absolute path"
sanitizer_check "$T/broker.log" "$T/broker2.log"
[ "$fails" = 0 ] || { tail -30 "$T/broker.log"; grep files.smb "$T/audit.log" | tail -5; }
finish smb_api
