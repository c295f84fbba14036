#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A stalled SMB server holds only its own user's requests (docs/files.md, "Off the loop"):
# the real broker with two SMB homes (bea, cid) on a real smbd of the test's own on loopback.
# bea's smbd (the process serving her connection, and the listener, so that no reconnect
# gets around it) is SIGSTOPped during a listing, during a tus upload and under a tus HEAD;
# meanwhile GET /api/me, cid's own listing and /healthz answer within a second, bea's stalled
# request gets 504 within files.op_timeout_ms (audited), her next request a 503 at once (audited); after
# SIGCONT everything works again, the upload resumes from HEAD's offset and is intact, and
# nothing was ever visible under its final name; DELETE and a download (with its length and a
# range) go through the worker too. Needs root and /dev/fuse (77 otherwise).
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "mounts a FUSE file system"
[ -c /dev/fuse ] || skip "no /dev/fuse"
need_tools smbd smbpasswd jq curl ss
need_built "$B/broker/argobox-broker" "$B/broker/argobox-smbfs"
ab_tmpdir ab-smbstall 755
PW='stall-s3cret'
start_smbd homes nobody "$PW"
for u in bea cid; do
	mkdir -p "$T/smbd/homes/$u/Docs" && echo "$u's file" >"$T/smbd/homes/$u/Docs/readme.txt"
done
chown -R nobody "$T/smbd/homes"
H=$T/smbd/homes/bea
printf '%s\n' "$PW" >"$T/smb.pw" && chmod 600 "$T/smb.pw"
OPT=1500 # files.op_timeout_ms
broker_config <<EOT
$(local_users s3cret-pw bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}},
 "files": {"backend": "smb", "quota_bytes": 67108864, "op_timeout_ms": $OPT,
   "smb": {"server": "127.0.0.1", "port": $SMB_PORT, "share": "homes", "path": "%u",
           "username": "nobody", "password_file": "$T/smb.pw", "timeout_ms": 4000}}
EOT
at_exit "umount -l '$T/data/home/bea' '$T/data/home/cid' 2>/dev/null"
start_broker "$T/broker.log"
for u in bea cid; do
	[ "$(login $u s3cret-pw)" = 200 ] || { bad "$u cannot sign in"; finish smb_stall; }
	st=$(get_as $u /api/files/Docs)
	[ "$st" = 200 ] && jq -e '.entries[] | select(.name == "readme.txt")' "$T/resp" >/dev/null &&
		ok "$u's SMB home is mounted and listed" || bad "$u's first listing: $st $(cat "$T/resp")"
done
csrf=$(jq -r .csrf_token "$T/bea.login")

# the smbd process serving bea's argobox-smbfs: the one whose TCP peer is its local port
bea_smbd() {
	local fs port
	fs=$(pgrep -f "argobox-smbfs .*$T/data/home/bea\$" | head -1)
	[ -n "$fs" ] || return 1
	port=$(ss -tnpH state established "dport = :$SMB_PORT" | grep "pid=$fs," |
		awk '{split($3, a, ":"); print a[2]}' | head -1)
	[ -n "$port" ] || return 1
	ss -tnpH state established "sport = :$SMB_PORT" | awk -v p=":$port" '$4 ~ p"$"' |
		grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}
STOPPED=
stall() { # SIGSTOP bea's smbd and the listener (no new connection either)
	STOPPED="$(bea_smbd) $SMBD_PID"
	[ "$(wc -w <<<"$STOPPED")" = 2 ] || bad "bea's smbd not found ($STOPPED)"
	kill -STOP $STOPPED
}
unstall() { [ -z "$STOPPED" ] || kill -CONT $STOPPED; STOPPED=; }
at_exit 'unstall'
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# the others while bea's storage is stalled: each answers within a second (curl's own time,
# from its connect to the last byte: the machine's load does not count curl's start)
timed() { # timed OUT CURL-ARGS...: prints "STATUS MS"
	local out=$1
	shift
	curl -s -o "$out" -w '%{http_code} %{time_total}' -m 20 "$@" | awk '{printf "%s %d", $1, $2 * 1000}'
}
others_fast() { # others_fast WHAT
	local st w
	read -r st w < <(timed "$T/who" -b "$T/cid.jar" "$URL/api/me")
	[ "$st" = 200 ] && [ "$w" -lt 1000 ] && jq -e '.user == "cid"' "$T/who" >/dev/null &&
		ok "$1: GET /api/me answers in $w ms" || bad "$1: /api/me $st in $w ms"
	read -r st w < <(timed "$T/cidl" -b "$T/cid.jar" "$URL/api/files/Docs")
	[ "$st" = 200 ] && [ "$w" -lt 1000 ] && jq -e '.entries[0].name == "readme.txt"' "$T/cidl" >/dev/null &&
		ok "$1: cid's own SMB listing answers in $w ms" || bad "$1: cid's listing $st in $w ms"
	read -r st w < <(timed /dev/null "$URL/healthz")
	[ "$st" = 200 ] && [ "$w" -lt 1000 ] && ok "$1: /healthz answers in $w ms" || bad "$1: healthz $st in $w ms"
}

# 1. a listing while bea's smbd is stopped
n504=$(grep -c '"reason":"the home.s storage did not answer' "$T/audit.log")
stall
timed "$T/l1" -b "$T/bea.jar" "$URL/api/files/Docs" >"$T/l1.st" &
cpid=$!
sleep 0.3
others_fast "listing stalled"
wait "$cpid"
read -r st w <"$T/l1.st"
[ "$st" = 504 ] && [ "$w" -lt $((OPT + 1500)) ] && jq -r .error "$T/l1" | grep -q "did not answer within $OPT ms" &&
	ok "bea's stalled listing: 504 in $w ms '$(jq -r .error "$T/l1")'" || bad "stalled listing: $st in $w ms $(cat "$T/l1")"
grep '"event":"files.download"' "$T/audit.log" | grep '"user":"bea"' | grep '"outcome":"failure"' |
	grep -q "\"timeout_ms\":$OPT" && ok "the 504 is audited (files.download failure, timeout_ms)" ||
	bad "no audit line for the 504"
read -r st w < <(timed "$T/resp" -b "$T/bea.jar" "$URL/api/files")
[ "$st" = 503 ] && [ "$w" -lt 1000 ] && jq -r .error "$T/resp" | grep -q "not answering" &&
	ok "bea's next request while her storage is stuck: 503 at once ($w ms)" || bad "next request: $st in $w ms $(cat "$T/resp")"
grep '"user":"bea"' "$T/audit.log" | grep '"outcome":"failure"' | grep -q "is not answering" &&
	ok "that refusal is audited" || bad "no audit line for the 503"
others_fast "still stalled"
unstall
wait_for 30 bash -c "[ \"\$(curl -s -o '$T/back' -w '%{http_code}' -b '$T/bea.jar' '$URL/api/files/Docs')\" = 200 ]" &&
	jq -e '.entries[] | select(.name == "readme.txt")' "$T/back" >/dev/null &&
	ok "after SIGCONT bea's listing works again" || bad "bea's listing after SIGCONT: $(cat "$T/back")"

# 2. an upload whose storage stalls while the PATCH body streams in
. "$(dirname "$0")/tus.sh"
SIZE=8388608
head -c $SIZE /dev/urandom >"$T/up.bin"
tus_create up.bin $SIZE
st=$TUS_ST loc=$TUS_LOC
[ "$st" = 201 ] && [ -n "$loc" ] && ok "upload created" || bad "create: $st $(cat "$T/resp")"
a=$(date +%s%N)
tus_patch_bg p1 2M "$T/up.bin" "$loc"
cpid=$TUS_PID
sleep 1
stall
s=$(date +%s%N)
sleep 0.3
others_fast "upload stalled"
[ ! -e "$H/Uploads/up.bin" ] && ok "nothing under the final name while stalled" || bad "Uploads/up.bin exists"
wait "$cpid"
w=$(ms "$s")
st=$(cat "$T/p1.st")
[ "$st" = 504 ] && [ "$w" -lt $((OPT + 4000)) ] &&
	ok "bea's stalled PATCH: 504 $((w)) ms after the stall '$(jq -r .error "$T/p1")'" ||
	bad "stalled PATCH: $st, $w ms after the stall: $(cat "$T/p1")"
grep '"event":"files.upload"' "$T/audit.log" | grep '"outcome":"failure"' | grep -q "did not answer within" &&
	ok "the upload's 504 is audited (files.upload failure)" || bad "no files.upload failure line"
st=$(tus PATCH "$loc" -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' --data-binary 'x')
[ "$st" = 503 ] || [ "$st" = 423 ] || [ "$st" = 409 ] &&
	ok "another PATCH while the write is stuck: $st $(jq -r .error "$T/resp")" || bad "PATCH while stuck: $st"
[ ! -e "$H/Uploads/up.bin" ] && ok "still nothing under the final name" || bad "Uploads/up.bin exists"
unstall
wait_for 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -b '$T/bea.jar' '$URL/api/files/Docs')\" = 200 ]" ||
	bad "bea's storage did not come back"
off=
for _ in $(seq 60); do # HEAD: 200 once the stuck write returned and was counted
	st=$(tus HEAD "$loc")
	off=$(grep -i '^upload-offset:' "$T/hdr" | tr -d '\r' | awk '{print $2}')
	[ "$st" = 200 ] && [ -n "$off" ] && break
	sleep 0.5
done
part=$(stat -c %s "$H/.argobox-uploads/${loc##*/}.part" 2>/dev/null || echo none)
[ "$st" = 200 ] && [ "$off" = "$part" ] && [ "$off" -lt $SIZE ] && cmp -s -n "$off" "$T/up.bin" "$H/.argobox-uploads/${loc##*/}.part" &&
	ok "after SIGCONT HEAD gives offset $off: what the share holds, the file's start" ||
	bad "HEAD after the stall: $st offset '$off', the share holds '$part'"
tail -c +$((off + 1)) "$T/up.bin" >"$T/rest"
st=$(tus PATCH "$loc" -H "Upload-Offset: $off" -H 'Content-Type: application/offset+octet-stream' \
	--data-binary @"$T/rest")
[ "$st" = 204 ] && cmp -s "$T/up.bin" "$H/Uploads/up.bin" &&
	ok "the upload resumed and is intact on the share" || bad "resume: $st $(cat "$T/resp")"

# 3. a tus HEAD as the first request into the stall: on the worker too (504), not the loop
tus_create h.bin 10
st=$TUS_ST loc3=$TUS_LOC
[ "$st" = 201 ] || bad "create 3: $st"
stall
timed "$T/h3" -I -b "$T/bea.jar" -H 'Tus-Resumable: 1.0.0' "$URL$loc3" >"$T/h3.st" &
cpid=$!
sleep 0.3
others_fast "HEAD stalled"
wait "$cpid"
read -r st w <"$T/h3.st"
[ "$st" = 504 ] && [ "$w" -lt $((OPT + 1500)) ] && ok "bea's HEAD into the stall: 504 in $w ms" ||
	bad "HEAD into the stall: $st in $w ms"
grep '"event":"files.upload"' "$T/audit.log" | grep '"outcome":"failure"' | grep -q '"step":"offset"' &&
	ok "that 504 is audited (files.upload failure, step offset)" || bad "no audit line for the HEAD's 504"
unstall
wait_for 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -I -b '$T/bea.jar' -H 'Tus-Resumable: 1.0.0' '$URL$loc3')\" = 200 ]" &&
	ok "after SIGCONT the HEAD answers 200" || bad "HEAD after SIGCONT"
st=$(tus DELETE "$loc3")
[ "$st" = 204 ] && [ ! -e "$H/.argobox-uploads/${loc3##*/}.part" ] && ok "DELETE (terminate) on the worker: 204, the part gone" ||
	bad "DELETE: $st"

# 4. a download from the SMB home goes through the worker too: whole, with its length
head -c 3000000 /dev/urandom >"$H/Docs/big.bin" && chown nobody "$H/Docs/big.bin"
st=$(curl -s -o "$T/dl" -D "$T/dlh" -w '%{http_code}' -b "$T/bea.jar" "$URL/api/files/Docs/big.bin")
[ "$st" = 200 ] && cmp -s "$T/dl" "$H/Docs/big.bin" && grep -qi '^content-length: 3000000' "$T/dlh" &&
	ok "a 3 MB download from the SMB home, whole, with Content-Length" || bad "download: $st $(head -c 200 "$T/dlh")"
st=$(curl -s -o "$T/dlr" -w '%{http_code}' -H 'Range: bytes=1000-1999' -b "$T/bea.jar" "$URL/api/files/Docs/big.bin")
[ "$st" = 206 ] && cmp -s "$T/dlr" <(tail -c +1001 "$H/Docs/big.bin" | head -c 1000) &&
	ok "a range of it (206)" || bad "range: $st"
stop_broker_ok
sanitizer_check "$T/broker.log"
[ "$fails" = 0 ] || { grep -v debug "$T/broker.log" | tail -30; grep -e files.smb -e '"outcome":"failure"' "$T/audit.log" | tail -8; }
finish smb_stall
