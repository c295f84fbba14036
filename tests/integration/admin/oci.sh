#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The admin console's API with desktops in real containers (runc, session.launcher "oci"):
# GET /api/admin/desktops reads each desktop's usage from its own cgroup (source "cgroup",
# memory and pids against the profile's limits), and a bulk stop of two of three desktops
# removes exactly those containers, answered and audited per user; no user is appended while a
# demo desktop holds the container slot after the table's. Root only; everything in a network
# namespace of the test's own (docs/admin.md).
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_oci_broker

oci_setup adm

broker_config_oci 800x600 '["/usr/bin/sleep", "3600"]' <<EOT
$(local_users s3cret-pw ada:admin:admin:1000 bea:member:dev:1003 cid:member:dev:1004)
 "profiles": {
   "admin": $(oci_profile Admin any 2000 2048 2048),
   "dev": $(oci_profile Developer none 1500 768 300),
   "trial": $(oci_profile Trial none 1000 512 200 demo)}
EOT

start_broker "$T/broker.log"
for u in ada bea cid; do
	[ "$(login $u s3cret-pw)" = 200 ] || bad "login $u: $(cat "$T/$u.login")"
done
for u in ada bea cid; do
	wait_for 60 desk_ready $u && ok "$u's desktop is ready in its container" ||
		bad "$u's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"
done

code=$(get_as ada /api/admin/desktops)
[ "$code" = 200 ] && ok "GET /api/admin/desktops" || bad "list: $code $(cat "$T/resp")"
row=$(jq -c '.desktops[] | select(.user == "bea")' "$T/resp")
[ "$(jq -r .usage.source <<<"$row")" = cgroup ] && ok "bea's usage read from her container's cgroup" ||
	bad "usage source: $row"
mem=$(jq -r .usage.memory_bytes <<<"$row")
cg=$(cat /sys/fs/cgroup/memory/$AB_TABLE/bea/memory.usage_in_bytes 2>/dev/null || echo 0)
[ "$mem" -gt 0 ] && [ "$mem" -le "$cg" ] && [ $((cg - mem)) -lt $((64 << 20)) ] &&
	ok "memory $mem B, the cgroup's $cg B (to the MiB)" || bad "memory: api $mem, cgroup $cg"
pids=$(jq -r .usage.pids <<<"$row")
[ "$pids" -ge 2 ] && [ "$pids" -le 300 ] && ok "pids $pids of the profile's 300" || bad "pids: $row"
[ "$(jq -r '.limits.memory_mb, .limits.pids, .network' <<<"$row" | tr '\n' ' ')" = "768 300 none " ] &&
	ok "the profile's limits and network policy" || bad "limits: $row"

# a member may not; without the CSRF token neither may the admin
[ "$(get_as bea /api/admin/desktops)" = 403 ] && ok "a member gets 403" || bad "member: $(cat "$T/resp")"

code=$(post_as ada /api/admin/desktops/stop '{"users":["bea","cid"]}')
want='[{"user":"bea","ok":true,"status":"stopping"},{"user":"cid","ok":true,"status":"stopping"}]'
[ "$code" = 200 ] && [ "$(jq -c .results "$T/resp")" = "$want" ] && ok "bulk stop answered per user" ||
	bad "bulk stop: $code $(cat "$T/resp")"
gone() { ! desk_ready bea && ! desk_ready cid; }
wait_for 30 gone && ok "bea's and cid's desktops stopped" || bad "still running: $(ctl --json list)"
containers=$(runc --root "$T/state" list -q 2>/dev/null | tr "\n" " ")
[[ "$containers" != *bea* && "$containers" != *cid* ]] && ok "their containers are gone" ||
	bad "containers: $containers"
desk_ready ada && ok "ada's desktop untouched" || bad "ada's desktop gone"
for u in bea cid; do
	grep -q "\"user\":\"ada\".*\"event\":\"admin.desktop.stop\",\"outcome\":\"grant\",\"detail\":{\"target\":\"$u\"" "$T/audit.log" &&
		ok "admin.desktop.stop of $u audited" || bad "no audit line for $u: $(grep admin.desktop "$T/audit.log")"
done

# A demo desktop runs in the container slot right after the table's: no user may be appended
# (their id ranges would be the same), said clearly, audited, the table unchanged.
code=$(post /api/demo '{"profile":"trial"}')
demo=$(jq -r .user "$T/resp" 2>/dev/null)
[ "$code" = 200 ] && wait_for 60 desk_ready "$demo" && ok "demo desktop $demo runs" ||
	bad "demo: $code $(cat "$T/resp")"
code=$(post_as ada /api/admin/users '{"name":"dan","role":"member","profile":"dev","password":"long-enough"}')
[ "$code" = 409 ] && grep -q "outside the user table is running" "$T/resp" &&
	ok "no user appended while a demo desktop holds the next slot (409)" || bad "add: $code $(cat "$T/resp")"
grep -q '"event":"admin.user.add","outcome":"deny","detail":{"target":"dan","reason":"a desktop outside the user table' "$T/audit.log" &&
	ok "the refusal is audited" || bad "no admin.user.add deny line"
[ ! -e "$T/data/users.json" ] && ok "the table is unchanged" || bad "users.json written"

stop_broker_ok
sanitizer_check "$T/broker.log"
finish "admin oci"
