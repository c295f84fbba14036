#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The warm demo pool (broker/auth/demo_pool.c) with real desktops in containers (runc): the pool
# fills to its size within the demo cap; a visitor's demo sign-in takes a desktop that was
# already running (hand-over, "warm": true) and the pool refills; the next visitor of the same
# profile gets another container with a new identity (name, uid, hostname), an empty home and no
# stored state, never the first visitor's files; when every slot is taken a pool desktop is
# evicted for a visitor, and with nothing left to evict the visitor gets 503; a logout removes the
# container, its runtime dir and its stored state; pool 0 is the cold path. Everything audited.
# Root only; everything in a network namespace of the test's own.
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_oci_broker

oci_setup dp

hash=$(openssl passwd -6 -salt abpool "s3cret-pw")
profile() { oci_profile "$1" none 1000 512 200 demo; } # profile TITLE: a demo profile
write_config() { # write_config POOL-MEMBERS
	broker_config_oci 800x600 '["/usr/bin/sleep", "3600"]' <<EOT
 "auth": {"local": {"enabled": true},
          "demo": {"enabled": true, "max_concurrent": 3, "per_ip_max": 0$1}},
 "users": [{"name": "ada", "role": "admin", "profile": "admin", "uid": 1000, "gid": 1000,
            "password_hash": "$hash"}],
 "profiles": {
   "admin": $(oci_profile Admin none 2000 1024 1024),
   "trial": $(profile Trial),
   "media": $(profile Media)}
EOT
	# a demo home is a small tmpfs: 8 MiB here (runtime.tmp_home_mb, default 256)
	jq '.runtime.tmp_home_mb = 8' "$T/broker.json" >"$T/broker.json.new" && mv "$T/broker.json.new" "$T/broker.json"
}

# demo_as JAR PROFILE: a visitor's demo sign-in (cookie jar $T/JAR.jar, reply $T/JAR.login)
demo_as() {
	N curl -s -o "$T/$1.login" -w '%{http_code}' -c "$T/$1.jar" -H "Origin: $URL" \
		-H 'Content-Type: application/json' -d "{\"profile\":\"$2\"}" "$URL/api/demo"
}
ready_demos() { ctl --json list | jq -r '[.desktops[] | select(.state == "ready") | .user] | sort | join(" ")'; }
pool_ready() { # pool_ready N: N demo desktops ready
	[ "$(ctl --json list | jq '[.desktops[] | select(.state == "ready" and (.user | startswith("demo-")))] | length')" = "$1" ]
}
audit_has() { # audit_has JQ-FILTER: some audit line matches
	jq -e -s "map(select($1)) | length > 0" "$T/audit.log" >/dev/null
}
home_of() { echo "/proc/$(desk_pid "$1")/root/home/$1"; }

write_config ', "pool": {"trial": 1, "media": 1}'
start_broker "$T/broker.log"

# 1. The pool fills to its size (one per profile) before any visitor.
wait_for 60 pool_ready 2 && ok "pool filled: $(ready_demos)" ||
	bad "pool did not fill: $(ctl --json list) $(tail -5 "$T/broker.log")"
# (warm once the shell is up: this desktop command is no window manager, so it never says
# wm_ready and the pool assumes it after 15 s)
wait_for 40 audit_has '.event == "demo.pool" and .detail.reason == "pool desktop ready" and .detail.start_ms > 0 and .detail.shell == "no wm_ready: assumed"' &&
	ok "pool desktops audited ready with their start time" || bad "no demo.pool ready audit line"
before=$(ready_demos)

# 2. Visitor 1 takes the warm trial desktop: its name was a ready pool desktop before the click.
t0=$(date +%s%N)
code=$(demo_as v1 trial)
ms=$((($(date +%s%N) - t0) / 1000000))
v1=$(jq -r .user "$T/v1.login" 2>/dev/null)
[ "$code" = 200 ] && [[ " $before " == *" $v1 "* ]] && desk_ready "$v1" &&
	ok "visitor 1 got the warm desktop $v1 (sign-in answered in $ms ms, desktop already ready)" ||
	bad "visitor 1: $code $(cat "$T/v1.login"), pool was: $before"
audit_has ".event == \"demo.start\" and .outcome == \"grant\" and .user == \"$v1\" and .detail.warm == true" &&
	ok "demo.start audited warm" || bad "no warm demo.start audit line for $v1"

# 3. The pool refills: a third demo desktop (new name) becomes ready; the cap (3) is then full.
wait_for 60 pool_ready 3 && ok "pool refilled: $(ready_demos)" || bad "no refill: $(ctl --json list)"

# 4. Visitor 1 leaves a file in their home and a desktop state.
p1=$(desk_pid "$v1")
nsenter -t "$p1" -U -m sh -c "echo 'visitor one was here' >/home/$v1/secret.txt" &&
	ok "visitor 1 wrote ~/secret.txt" || bad "cannot write visitor 1's home"
# the home's size limit: writing 16 MiB into an 8 MiB home stops at the limit with ENOSPC
out=$(nsenter -t "$p1" -U -m sh -c "dd if=/dev/zero of=/home/$v1/big bs=1M count=16 2>&1; echo rc=\$?")
size=$(nsenter -t "$p1" -U -m stat -c %s "/home/$v1/big" 2>/dev/null || echo 0)
[[ "$out" == *"No space left"* ]] && [[ "$out" != *"rc=0"* ]] && [ "$size" -le $((8 << 20)) ] &&
	ok "a demo home is 8 MiB (runtime.tmp_home_mb): dd stopped at $size bytes with ENOSPC" ||
	bad "home limit: $out (file $size bytes)"
nsenter -t "$p1" -U -m rm -f "/home/$v1/big"
state=$(N curl -s -b "$T/v1.jar" -H "Origin: $URL" "$URL/api/desktops/$v1/state" |
	jq -c '.state | .wallpaper = {"image": "mist.png", "fit": "fit"}')
code=$(N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/v1.jar" -H "Origin: $URL" -X PUT \
	-H "X-CSRF-Token: $(jq -r .csrf_token "$T/v1.login")" -H 'Content-Type: application/json' \
	--data-binary "$state" "$URL/api/desktops/$v1/state")
[ "$code" = 200 ] && ok "visitor 1 saved a desktop state" || bad "state PUT: $code $(cat "$T/resp")"

# 5. Visitor 2 (same profile) gets the refilled desktop: another identity, empty home, no state.
code=$(demo_as v2 trial)
v2=$(jq -r .user "$T/v2.login" 2>/dev/null)
[ "$code" = 200 ] && [ "$v2" != "$v1" ] && desk_ready "$v2" &&
	ok "visitor 2 got $v2, already running" || bad "visitor 2: $code $(cat "$T/v2.login")"
p2=$(desk_pid "$v2")
if [ -n "$p2" ] && [ -n "$p1" ]; then
	[ "$p1" != "$p2" ] && [ "$(readlink /proc/$p1/ns/mnt)" != "$(readlink /proc/$p2/ns/mnt)" ] &&
		ok "another container (mount namespace)" || bad "same container for both visitors"
	[ "$(awk '$1 == 0 {print $2}' /proc/$p1/uid_map)" != "$(awk '$1 == 0 {print $2}' /proc/$p2/uid_map)" ] &&
		ok "another host uid range" || bad "same uid map: $(cat /proc/$p2/uid_map)"
	h2=$(nsenter -t "$p2" -u hostname)
	[ "$h2" = "argobox-$v2" ] && ok "hostname $h2 is visitor 2's own" || bad "hostname: '$h2'"
	[ -d "$(home_of "$v2")" ] && [ -z "$(ls -A "$(home_of "$v2")")" ] &&
		ok "visitor 2's home is empty" || bad "visitor 2's home: $(ls -A "$(home_of "$v2")" 2>&1)"
	[ "$(ls /proc/$p2/root/home)" = "$v2" ] && ok "visitor 1's home is not in visitor 2's container" ||
		bad "homes seen by visitor 2: $(ls /proc/$p2/root/home)"
	! grep -rqs "visitor one was here" "/proc/$p2/root/home" "/proc/$p2/root/tmp" "$T/run/$v2" &&
		ok "visitor 1's file is nowhere in visitor 2's desktop" || bad "visitor 1's file leaked"
fi
N curl -s -b "$T/v2.jar" -H "Origin: $URL" "$URL/api/desktops/$v2/state" | jq -e '.stored == false' >/dev/null &&
	ok "visitor 2 has no stored state" || bad "visitor 2's state: $(N curl -s -b "$T/v2.jar" "$URL/api/desktops/$v2/state")"
code=$(N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/v2.jar" -H "Origin: $URL" "$URL/api/desktops/$v1/state")
[ "$code" = 403 ] && ok "visitor 2 may not read visitor 1's state (403)" || bad "cross-visitor state read: $code"

# 6. The cap: v1, v2 and the media pool desktop hold the 3 slots. A trial visitor has no pool
# desktop of their profile: the media one is evicted for them (cold start); the next gets 503.
pm=$(ctl --json list | jq -r --arg a "$v1" --arg b "$v2" '.desktops[] | select(.user != $a and .user != $b and (.user | startswith("demo-"))) | .user')
code=$(demo_as v3 trial)
v3=$(jq -r .user "$T/v3.login" 2>/dev/null)
[ "$code" = 200 ] && [ "$v3" != "$pm" ] && ok "visitor 3 admitted at the cap: pool desktop $pm evicted" ||
	bad "visitor 3: $code $(cat "$T/v3.login")"
audit_has ".event == \"demo.end\" and .user == \"$pm\" and .detail.reason == \"evicted\"" &&
	ok "eviction audited (demo.end evicted)" || bad "no eviction audit line for $pm"
audit_has ".event == \"demo.start\" and .user == \"$v3\" and .detail.warm == false" &&
	ok "visitor 3's start audited cold" || bad "no cold demo.start for $v3"
wait_for 60 desk_ready "$v3" && ok "visitor 3's cold desktop is ready" || bad "visitor 3's desktop"
code=$(demo_as v4 media)
[ "$code" = 503 ] && ok "visitor 4 refused at the cap with nothing to evict (503)" || bad "visitor 4: $code"
audit_has '.event == "demo.start" and .outcome == "deny" and .detail.reason == "concurrent demo cap reached"' &&
	ok "refusal audited" || bad "no demo.start deny audit line"
n=$(ctl --json list | jq '[.desktops[] | select((.user | startswith("demo-")) and .state != "stopping")] | length')
[ "$n" -le 3 ] && ok "$n demo desktops: never more than the cap" || bad "$n demo desktops over the cap of 3"

# 7. Visitor 1 logs out: container, runtime dir and stored state go (audited); the slot refills.
code=$(N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/v1.jar" -H "Origin: $URL" \
	-H "X-CSRF-Token: $(jq -r .csrf_token "$T/v1.login")" -X POST "$URL/api/logout")
[ "$code" = 200 ] || bad "logout: $code"
wait_for 30 sh -c "[ ! -e '$T/run/$v1' ] && ! kill -0 $p1 2>/dev/null" &&
	ok "visitor 1's container and runtime dir are gone" || bad "visitor 1's desktop left: $(ls "$T/run")"
! runc --root "$T/state" list -q 2>/dev/null | grep -q -- "$v1" && ok "no runc container left for $v1" ||
	bad "runc still lists $v1"
[ "$(login ada s3cret-pw)" = 200 ] || bad "admin login: $(cat "$T/ada.login")"
# the runtime dir goes first, then the stored state, then the audit line
state_gone() { get_as ada "/api/desktops/$v1/state" >/dev/null && jq -e '.stored == false' "$T/resp" >/dev/null; }
wait_for 10 state_gone && ok "visitor 1's stored state deleted" ||
	bad "visitor 1's state after logout: $(cat "$T/resp")"
audit_has ".event == \"demo.end\" and .user == \"$v1\" and .detail.reason == \"logout\"" &&
	wait_for 10 audit_has ".event == \"demo.cleanup\" and .user == \"$v1\"" &&
	ok "end and cleanup audited" || bad "no demo.end/demo.cleanup for $v1"
wait_for 60 pool_ready 3 && ok "the freed slot went back to the pool: $(ready_demos)" ||
	bad "no refill after logout: $(ctl --json list)"
stop_broker_ok
sanitizer_check "$T/broker.log"

# 8. Pool 0: nothing starts before a visitor, whose start is cold.
for r in "$T"/run/*; do umount -l "$r" 2>/dev/null; done
: >"$T/audit.log"
write_config ', "pool_size": 0'
start_broker "$T/broker2.log"
sleep 1
[ "$(ctl --json list | jq '[.desktops[] | select(.user | startswith("demo-"))] | length')" = 0 ] &&
	ok "pool 0: no demo desktop before a visitor" ||
	bad "pool 0 started desktops: $(ctl --json list)"
code=$(demo_as v5 trial)
v5=$(jq -r .user "$T/v5.login" 2>/dev/null)
[ "$code" = 200 ] && audit_has ".event == \"demo.start\" and .user == \"$v5\" and .detail.warm == false" &&
	ok "pool 0: cold start" || bad "pool 0 visitor: $code"
wait_for 60 desk_ready "$v5" && ok "pool 0: the visitor's desktop starts" || bad "pool 0 desktop"
stop_broker_ok
sanitizer_check "$T/broker2.log"

# 9. Bad pool configuration is refused, naming the key.
check_config "pool of a non-demo profile" "$(jq '.auth.demo.pool = {"admin": 1}' "$T/broker.json")" \
	"auth.demo.pool.admin: not a demo profile"
check_config "pool size out of range" "$(jq '.auth.demo.pool = {"trial": 99}' "$T/broker.json")" \
	"auth.demo.pool.trial: not an integer in 0..64"
check_config "pool_size out of range" "$(jq '.auth.demo.pool_size = -1' "$T/broker.json")" \
	"'demo.pool_size' is -1, outside [0, 64]"
finish "cont demo pool"
