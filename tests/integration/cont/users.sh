#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Users and profiles become containers (broker/isolation/isolation.c): with a users table, signing in
# starts the user's desktop in a container built from their profile: slot = position in the
# table (host id range, subnet), uid inside from the table, cgroup limits, persistent home owned
# by the mapped uid, the profile's LAN range and named service in the user's nftables chain.
# A demo identity (not in the table) gets a slot after the table's, a read-only root and no
# persistent home. Root only; everything in a network namespace of the test's own.
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_oci_broker

oci_setup u

hash=$(openssl passwd -6 -salt abcont "s3cret-pw")
broker_config_oci 800x600 '["/usr/bin/sleep", "3600"]' '"services": {"gitea": "tcp:192.168.77.10:3000"}' <<EOT
 "auth": {"local": {"enabled": true}, "demo": {"enabled": true}},
 "users": [
   {"name": "ada", "role": "admin", "profile": "admin", "uid": 1000, "gid": 1000,
    "password_hash": "$hash"},
   {"name": "bea", "role": "member", "profile": "dev", "uid": 1003, "gid": 1003,
    "password_hash": "$hash"}],
 "profiles": {
   "admin": $(oci_profile Admin any 2000 2048 2048),
   "dev": {"title": "Developer", "apps": [], "limits": {"cpu_millis": 1500, "memory_mb": 768, "pids": 300},
           "network": {"egress": "lan", "lan": ["192.168.77.0/24"], "services": ["gitea"]},
           "services": ["gitea"], "read_only_root": false, "persistent": true, "ttl_minutes": 0},
   "trial": {"title": "Trial", "apps": [], "limits": {"cpu_millis": 1000, "memory_mb": 512, "pids": 200},
             "network": {"egress": "services", "lan": [], "services": ["gitea"]}, "services": [],
             "read_only_root": true, "persistent": false, "ttl_minutes": 30, "demo": true}}
EOT

start_broker "$T/broker.log"

# A member signs in: the desktop starts in a container shaped by the "dev" profile (slot 1).
code=$(post /api/login '{"user":"bea","password":"s3cret-pw"}')
[ "$code" = 200 ] && ok "bea signed in" || bad "login: $code $(cat "$T/resp")"
wait_for 30 desk_ready bea && ok "bea's desktop is ready" || bad "bea's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"
pid=$(desk_pid bea)
base=$((100000 + 65536))
if [ -n "$pid" ]; then
	[ "$(awk '$1 == 0 {print $2}' /proc/$pid/uid_map)" = $base ] &&
		ok "slot 1 (second in the table): root inside = host uid $base" || bad "uid map: $(cat /proc/$pid/uid_map)"
	[ "$(awk '/^Uid:/ {print $2}' /proc/$pid/status)" = $((base + 1003)) ] &&
		ok "session runs as bea's uid 1003 inside" || bad "uid: $(grep Uid: /proc/$pid/status)"
fi
[ "$(stat -c %u:%a "$T/home/bea" 2>/dev/null)" = "$((base + 1003)):700" ] &&
	ok "persistent home $T/home/bea owned by the mapped uid, 0700" || bad "home: $(stat -c '%u %a' "$T/home/bea" 2>&1)"
mem=$(cat /sys/fs/cgroup/memory/$AB_TABLE/bea/memory.limit_in_bytes 2>/dev/null)
[ "$mem" = $((768 << 20)) ] && ok "memory limit 768 MiB from the profile" || bad "memory limit: '$mem'"
pids=$(cat /sys/fs/cgroup/pids/$AB_TABLE/bea/pids.max 2>/dev/null)
[ "$pids" = 300 ] && ok "pids limit 300 from the profile" || bad "pids limit: '$pids'"
# nft prints libnftnl's raw payload matches: 192.168.77.10 = 0xc0a84d0a, 192.168.77.0/24 = 0xc0a84d00.
lan_re='192\.168\.77\.0/24|0xffffff00 == 0xc0a84d00'
# The services a desktop may reach are the elements of its set <user>-svc (broker/isolation/netpol.h).
svc_re='192\.168\.77\.10 \. tcp \. 3000'
rules="$(N nft list chain inet "$AB_TABLE" bea-fwd 2>&1) $(N nft list set inet "$AB_TABLE" bea-svc 2>&1)"
grep -qE "$lan_re" <<<"$rules" && ok "LAN range of the profile in bea's chain" || bad "no LAN rule: $rules"
grep -qE "$svc_re" <<<"$rules" && ok "named service 'gitea' in bea's service set" ||
	bad "no service rule: $rules"

# A demo identity: slot after the table's, read-only root, no persistent home.
code=$(post /api/demo '{"profile":"trial"}')
demo=$(jq -r .user "$T/resp" 2>/dev/null)
[ "$code" = 200 ] && [[ "$demo" == demo-* ]] && ok "demo identity $demo" || bad "demo: $code $(cat "$T/resp")"
wait_for 30 desk_ready "$demo" && ok "demo desktop is ready" || bad "demo desktop: $(ctl --json list)"
dpid=$(desk_pid "$demo")
if [ -n "$dpid" ]; then
	[ "$(awk '$1 == 0 {print $2}' /proc/$dpid/uid_map)" = $((100000 + 2 * 65536)) ] &&
		ok "demo in slot 2 (after the table)" || bad "demo uid map: $(cat /proc/$dpid/uid_map)"
	grep -qE '^[^ ]+ / [^ ]+ ro,' /proc/$dpid/mounts && ok "demo root is read-only" ||
		bad "demo root: $(grep -E '^[^ ]+ / ' /proc/$dpid/mounts)"
	grep -qE " /home/$demo tmpfs " /proc/$dpid/mounts && ok "demo home is a tmpfs" ||
		bad "demo home: $(grep /home /proc/$dpid/mounts)"
fi
[ ! -e "$T/home/$demo" ] && ok "no persistent home for the demo" || bad "demo home created on disk"
drules="$(N nft list chain inet "$AB_TABLE" "$demo-fwd" 2>&1) $(N nft list set inet "$AB_TABLE" "$demo-svc" 2>&1)"
# authn resolves the demo identity to its profile ('trial': the gitea service only):
# the service is reachable, no LAN range, everything else dropped.
grep -q 'deny:egress' <<<"$drules" && grep -qE "$svc_re" <<<"$drules" &&
	! grep -qE "$lan_re" <<<"$drules" &&
	ok "demo chain: its profile's service, no LAN, egress denied" || bad "demo rules: $drules"

stop_broker_ok
sanitizer_check "$T/broker.log"
finish "cont users"
