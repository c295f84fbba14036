#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Files API benchmark (issue 17, docs/files.md), side by side in one run on the same disk:
#   upload     one SIZE MiB file through the broker's tus API (POST + one streamed PATCH, curl)
#              vs `cp` of the same file into the same home (both end with the data fsync'ed:
#              the broker fsyncs before its rename, cp is followed by sync -f)
#   download   GET /api/files/<file> to /dev/null vs `cat file > /dev/null` (warm cache), and
#              vs the same bytes as a static file of the same broker (lws_serve_http_file from
#              its web root, curl): the same client, loopback and server loop, no files API
#   broker RSS VmRSS of the broker before and after the transfers, and its peak (VmHWM)
#   list       GET of a 100-file and a 10 000-file folder, median of 20 / 5
# then the same on an SMB home (files.backend "smb", argobox-smbfs) served by a real smbd of
# the bench's own on loopback, against smbclient on the same share (put, get, ls): the
# upload, download, listings and broker RSS, side by side with the local figures.
# Prints a table. Needs root (the broker runs as root and owns homes; FUSE). Usage:
#   bench/files_bench.sh [--size MIB]        (default 512; the SMB part needs smbd, smbclient
#                                             and argobox-smbfs, else it is left out)
# AB_BUILD_DIR picks the build (default build/); an ASan build is not meaningful:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=RelWithDebInfo && \
#   cmake --build build-rel --target argobox-broker && AB_BUILD_DIR=build-rel bench/files_bench.sh
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
top=$S
size=512
[ "${1:-}" = --size ] && size=$2
need_built "$B/broker/argobox-broker"
need_root "the broker owns the homes"
need_tools curl python3
ab_tmpdir /var/tmp/ab-files-bench 755 # on disk, not tmpfs; 755: smbd serves a share in it as nobody
tmp=$T

python3 - "$top" "$tmp" <<'EOF'
import json, sys
top, tmp = sys.argv[1], sys.argv[2]
s = json.load(open(f"{top}/config/argobox.sample.json"))
cfg = {"listen": {"address": "127.0.0.1", "port": 0}, "web": {"root": f"{tmp}/www"},
       "session": {"launcher": "process", "runtime_base": f"{tmp}/run",
                   "binary": f"{top}/tests/integration/broker/fake-session.js", "desktop_command": ["true"]},
       "admin": {"socket": f"{tmp}/broker.sock"}, "audit": {"path": f"{tmp}/audit.log"},
       "data": {"dir": f"{tmp}/data"}, "log": {"level": "info"},
       "auth": s["auth"], "users": s["users"], "profiles": s["profiles"]}
json.dump(cfg, open(f"{tmp}/broker.json", "w"))
EOF
mkdir -p "$tmp/www" # the static-file baseline's web root
start_broker "$tmp/broker.log"
bpid=$BROKER_PID url=$URL
[ "$(login bea bea-argobox)" = 200 ] || { echo "files_bench: bea cannot sign in" >&2; exit 1; }
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])' <"$tmp/bea.login")
H=(-b "$tmp/bea.jar" -H "X-CSRF-Token: $csrf" -H "Origin: $url" -H "Tus-Resumable: 1.0.0")
curl -sf "${H[@]}" "$url/api/files" >/dev/null # creates the home
home=$tmp/data/home/bea
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$bpid/status"; }
now() { date +%s.%N; }
mbps() { python3 -c "print(f'{$1 / 1048576 / ($3 - $2):.0f}')"; }

head -c $((size << 20)) /dev/urandom >"$tmp/src.bin"
bytes=$((size << 20))
sync
rss0=$(rss VmRSS)

# upload through the API
t0=$(now)
loc=$(curl -sf -D - -o /dev/null -X POST "${H[@]}" -H "Upload-Length: $bytes" \
	-H "Upload-Metadata: filename $(printf bench.bin | base64),destination $(printf / | base64)" \
	"$url/api/uploads" | tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
curl -sf -o /dev/null -X PATCH "${H[@]}" -H 'Upload-Offset: 0' \
	-H 'Content-Type: application/offset+octet-stream' -H 'Expect:' -T "$tmp/src.bin" "$url$loc"
t1=$(now)
cmp -s "$tmp/src.bin" "$home/bench.bin" || { echo "files_bench: uploaded file differs" >&2; exit 1; }
rss_up=$(rss VmRSS)
# the same bytes with cp (+ fsync of the file, as the broker does)
t2=$(now)
cp "$tmp/src.bin" "$home/cp.bin"
sync -f "$home/cp.bin" 2>/dev/null || sync
t3=$(now)
# download through the API, and cat, warm cache both
cat "$home/bench.bin" >/dev/null
t4=$(now)
curl -sf "${H[@]}" -o /dev/null "$url/api/files/bench.bin"
t5=$(now)
rss_down=$(rss VmRSS)
t6=$(now)
cat "$home/bench.bin" >/dev/null
t7=$(now)
cp "$home/bench.bin" "$tmp/www/static.bin"
cat "$tmp/www/static.bin" >/dev/null
t8=$(now)
curl -sf -o /dev/null "$url/static.bin"
t9=$(now)
hwm=$(rss VmHWM)

# listings
mkdir -p "$home/l100" "$home/l10k"
for i in $(seq 100); do : >"$home/l100/file-$i.txt"; done
python3 -c "
import os
for i in range(10000): open(f'$home/l10k/f{i:05d}.txt', 'w').close()"
list_ms() { # median of N GETs of a folder, in ms
	for _ in $(seq "$2"); do
		curl -s -o /dev/null -w '%{time_total}\n' "${H[@]}" "$url/api/files/$1?limit=10000"
	done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}
l100=$(list_ms l100 20)
l10k=$(list_ms l10k 5)

printf '\nfiles API vs local tools, %d MiB file, %s build (%s)\n\n' "$size" "$(basename "$B")" "$(df --output=fstype "$tmp" | tail -1)"
printf '%-34s %12s %12s %8s\n' measure broker local ratio
up=$(mbps $bytes "$t0" "$t1"); cpv=$(mbps $bytes "$t2" "$t3")
dn=$(mbps $bytes "$t4" "$t5"); catv=$(mbps $bytes "$t6" "$t7")
printf '%-34s %10s/s %10s/s %7s%%\n' "upload (tus PATCH vs cp+fsync), MB" "$up" "$cpv" "$((100 * up / cpv))"
printf '%-34s %10s/s %10s/s %7s%%\n' "download (GET vs cat), MB" "$dn" "$catv" "$((100 * dn / catv))"
stv=$(mbps $bytes "$t8" "$t9")
printf '%-34s %10s/s %10s/s %7s%%\n' "download (GET vs static file), MB" "$dn" "$stv" "$((100 * dn / stv))"
printf '%-34s %12s\n' "broker VmRSS before, kB" "$rss0"
printf '%-34s %12s\n' "broker VmRSS after upload, kB" "$rss_up"
printf '%-34s %12s\n' "broker VmRSS after download, kB" "$rss_down"
printf '%-34s %12s\n' "broker VmHWM (peak), kB" "$hwm"
printf '%-34s %12s\n' "list 100 files, ms (median of 20)" "$l100"
printf '%-34s %12s\n' "list 10 000 files, ms (median of 5)" "$l10k"

# ---- the cost of files.local_quota "image": a loop-mounted ext4 image vs the plain disk ----
if command -v mkfs.ext4 >/dev/null && [ -e /dev/loop-control ]; then
	mkdir -p "$tmp/img.mnt" "$tmp/plain"
	truncate -s $(((size + 64) << 20)) "$tmp/home.img"
	a=$(now)
	mkfs.ext4 -q -F -m 0 -E lazy_itable_init=1,lazy_journal_init=1 "$tmp/home.img"
	mount -o loop,nosuid,nodev,noatime,discard "$tmp/home.img" "$tmp/img.mnt"
	b=$(now)
	imgkb=$(du -k "$tmp/home.img" | cut -f1)
	at_exit "umount '$tmp/img.mnt' 2>/dev/null"
	dd_mbps() { # MB/s of dd (conv=fsync) of the SIZE MiB file into DIR, best of 3
		for _ in 1 2 3; do
			dd if="$tmp/src.bin" of="$1/f" bs=1M conv=fsync 2>&1 | tail -1 |
				awk '{print $(NF-1)}'
			rm -f "$1/f"
		done | sort -n | tail -1
	}
	dplain=$(dd_mbps "$tmp/plain")
	dimg=$(dd_mbps "$tmp/img.mnt")
	printf '\nfiles.local_quota "image" (a %d MiB ext4 image, loop-mounted) vs the plain disk\n\n' "$size"
	printf '%-34s %12s %12s\n' measure image plain
	printf '%-34s %10s/s %10s/s\n' "dd conv=fsync, best of 3, MB" "$dimg" "$dplain"
	printf '%-34s %12s\n' "mkfs.ext4 + mount, ms" "$(python3 -c "print(round(($b - $a) * 1000))")"
	printf '%-34s %12s\n' "image on disk after mkfs, KiB" "$imgkb"
	umount "$tmp/img.mnt"
	rm -f "$tmp/home.img"
fi

# ---- the same on an SMB home -------------------------------------------------------------
if ! command -v smbd >/dev/null || ! command -v smbclient >/dev/null ||
	[ ! -x "$B/broker/argobox-smbfs" ] || [ ! -c /dev/fuse ]; then
	printf '\n(SMB part left out: needs smbd, smbclient, %s and /dev/fuse)\n' "$B/broker/argobox-smbfs"
	exit 0
fi
stop_broker
rm -f "$home/bench.bin" "$home/cp.bin"
PW=bench-smb-pw
start_smbd homes nobody "$PW"
sh=$T/smbd/homes/bea
mkdir -p "$sh/l100" "$sh/l10k"
for i in $(seq 100); do : >"$sh/l100/file-$i.txt"; done
python3 -c "
import os
for i in range(10000): open(f'$sh/l10k/f{i:05d}.txt', 'w').close()"
chown -R nobody "$sh"
printf '%s\n' "$PW" >"$tmp/smb.pw" && chmod 600 "$tmp/smb.pw"
python3 - "$tmp" "$SMB_PORT" <<'EOF2'
import json, sys
tmp, port = sys.argv[1], int(sys.argv[2])
c = json.load(open(f"{tmp}/broker.json"))
c["data"]["dir"] = f"{tmp}/smbdata"
c["files"] = {"backend": "smb", "smb": {"server": "127.0.0.1", "port": port, "share": "homes",
              "path": "%u", "username": "nobody", "password_file": f"{tmp}/smb.pw"}}
json.dump(c, open(f"{tmp}/smb.json", "w"))
EOF2
start_broker "$tmp/smbbroker.log" "$tmp/smb.json"
at_exit "umount -l '$tmp/smbdata/home/bea' 2>/dev/null"
bpid=$BROKER_PID url=$URL
[ "$(login bea bea-argobox)" = 200 ] || { echo "files_bench: bea cannot sign in (SMB)" >&2; exit 1; }
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])' <"$tmp/bea.login")
H=(-b "$tmp/bea.jar" -H "X-CSRF-Token: $csrf" -H "Origin: $url" -H "Tus-Resumable: 1.0.0")
curl -s -o "$tmp/r" -w "%{http_code}" "${H[@]}" "$url/api/files" | grep -q 200 || # mounts the home
	{ echo "files_bench: the SMB home: $(cat "$tmp/r")" >&2; exit 1; }
srss0=$(rss VmRSS)
t0=$(now)
loc=$(curl -sf -D - -o /dev/null -X POST "${H[@]}" -H "Upload-Length: $bytes" \
	-H "Upload-Metadata: filename $(printf bench.bin | base64),destination $(printf / | base64)" \
	"$url/api/uploads" | tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
curl -sf -o /dev/null -X PATCH "${H[@]}" -H 'Upload-Offset: 0' \
	-H 'Content-Type: application/offset+octet-stream' -H 'Expect:' -T "$tmp/src.bin" "$url$loc"
t1=$(now)
cmp -s "$tmp/src.bin" "$sh/bench.bin" || { echo "files_bench: uploaded file differs (SMB)" >&2; exit 1; }
srss_up=$(rss VmRSS)
SC=(smbclient -p "$SMB_PORT" -U "nobody%$PW" //127.0.0.1/homes)
t2=$(now)
"${SC[@]}" -c "put $tmp/src.bin bea/sc.bin" >/dev/null 2>&1
t3=$(now)
cmp -s "$tmp/src.bin" "$sh/sc.bin" || { echo "files_bench: smbclient put differs" >&2; exit 1; }
t4=$(now)
curl -sf "${H[@]}" -o /dev/null "$url/api/files/bench.bin"
t5=$(now)
srss_down=$(rss VmRSS)
t6=$(now)
"${SC[@]}" -c "get bea/bench.bin /dev/null" >/dev/null 2>&1
t7=$(now)
shwm=$(rss VmHWM)
smbls_ms() { # median of N `smbclient ls` of a folder, in ms
	for _ in $(seq "$2"); do
		a=$(now)
		"${SC[@]}" -c "ls bea/$1/*" >/dev/null 2>&1 || true
		b=$(now)
		python3 -c "print($b - $a)"
	done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}
s100=$(list_ms l100 20)
s10k=$(list_ms l10k 5)
c100=$(smbls_ms l100 5)
c10k=$(smbls_ms l10k 3)
sup=$(mbps $bytes "$t0" "$t1"); scput=$(mbps $bytes "$t2" "$t3")
sdn=$(mbps $bytes "$t4" "$t5"); scget=$(mbps $bytes "$t6" "$t7")

printf '\nthe same on an SMB home (argobox-smbfs over a local smbd) vs smbclient on the share\n\n'
printf '%-34s %12s %12s %8s\n' measure broker smbclient ratio
printf '%-34s %10s/s %10s/s %7s%%\n' "upload (tus PATCH vs put), MB" "$sup" "$scput" "$((100 * sup / scput))"
printf '%-34s %10s/s %10s/s %7s%%\n' "download (GET vs get), MB" "$sdn" "$scget" "$((100 * sdn / scget))"
printf '%-34s %12s\n' "broker VmRSS before, kB" "$srss0"
printf '%-34s %12s\n' "broker VmRSS after upload, kB" "$srss_up"
printf '%-34s %12s\n' "broker VmRSS after download, kB" "$srss_down"
printf '%-34s %12s\n' "broker VmHWM (peak), kB" "$shwm"
printf '%-34s %12s %12s\n' "list 100 files, ms (local / SMB)" "$l100" "$s100"
printf '%-34s %12s %12s\n' "list 10 000 files, ms (local / SMB)" "$l10k" "$s10k"
printf '%-34s %12s %12s\n' "smbclient ls 100 / 10 000, ms" "$c100" "$c10k"
