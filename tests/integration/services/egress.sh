#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Egress follows visibility, and the registry reloads without restarting desktops (issue 18
# items 1 and 2): a real broker runs desktops in containers (runc) inside a network namespace of
# the test's own, where three services listen on addresses of its loopback. From inside a
# desktop's network namespace, a member reaches exactly the services she may see (her own and
# her profile's), a demo identity its whitelisted one; the registry is then changed and
# reloaded (argoboxctl services reload, SIGHUP, POST /api/admin/services/reload): the running
# desktop's nftables set changes in place (same chains, same rule handles, same container) and
# new connections follow it. Every grant, denial and reload is audited; a bad reload is refused
# and changes nothing. Root only.
set -uo pipefail
S=${AB_SOURCE_DIR:?run through ctest}
. "$S/tests/lib/sh/lib.sh"
need_oci_broker python3

tag=$$
ab_tmpdir ab-svce 755
prefix=abe$tag-
table=abe$tag
oci_sandbox "abse-$tag" "$prefix" "$table"

# The services: addresses of the test namespace's loopback, a listener on each port.
for a in 10 11 12 13; do N ip addr add 192.168.77.$a/32 dev lo || { bad "ip addr"; exit 1; }; done
# (a simple command, not the function N: $! is the listener itself)
nsenter --net="/run/netns/$AB_NS" python3 - "$T/listen.ready" <<'EOF' &
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept()
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nsvc-ok")
        except OSError:
            pass
        c.close()
for p in (3000, 3001, 3002):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
open(sys.argv[1], "w").write("ready")
threading.Event().wait()
EOF
LISTEN_PID=$!
at_exit 'kill_wait "$LISTEN_PID"'
wait_for 10 test -s "$T/listen.ready" || { bad "listeners did not start"; exit 1; }

# reach USER IP PORT: a new TCP connection from inside USER's desktop namespace gets the answer
reach() {
	nsenter --net="$T/netns/$prefix$1" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
sys.exit(0 if b"svc-ok" in s.recv(100) else 1)' "$2" "$3" 2>/dev/null
}
expect_reach() { # expect_reach USER IP PORT yes|no WHAT
	if reach "$1" "$2" "$3"; then r=yes; else r=no; fi
	[ "$r" = "$4" ] && ok "$1 ${5}: $2:$3 $([ "$4" = yes ] && echo reachable || echo blocked)" ||
		bad "$1 $5: $2:$3 reachable=$r, wanted $4"
}

write_config() { # write_config SERVICES-JSON
	cat >"$T/broker.json" <<EOT
{"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "oci", "start_timeout_ms": 30000,
             "geometry": "800x600", "desktop_command": ["/usr/bin/sleep", "3600"]},
 "storage": {"home_base": "$T/home"},
 "runtime": {"runtime": "runc", "state_root": "$T/state", "bundle_root": "$T/bundles",
             "id_prefix": "$prefix", "cgroup_parent": "$table"},
 "netpol": {"netns_dir": "$T/netns", "netns_prefix": "$prefix", "table": "$table"},
 "data": {"dir": "$T/data"}, "admin": {"socket": "$T/broker.sock"},
 "audit": {"path": "$T/audit.log"},
$(local_users s3cret-pw ada:admin:admin:1000 bea:member:dev:1003 cid:member:media:1004)
 "profiles": {
   "admin": {"network": {"egress": "any"}},
   "dev": {"network": {"egress": "services"}},
   "media": {"network": {"egress": "services"}},
   "trial": {"services": ["wiki"], "network": {"egress": "services"}, "persistent": false,
             "ttl_minutes": 30, "demo": true}},
 "services": $1}
EOT
}
chk='"check": {"interval_ms": 2000, "timeout_ms": 1000}'
write_config "[
   {\"name\": \"gitea\", \"url\": \"http://192.168.77.10:3000/\", \"owner\": \"bea\", $chk},
   {\"name\": \"wiki\", \"url\": \"http://192.168.77.11:3001/\", \"access\": {\"profiles\": [\"dev\"]}, $chk},
   {\"name\": \"grafana\", \"url\": \"tcp://192.168.77.12:3002\", \"access\": {\"roles\": [\"admin\"]}, $chk}]"
start_broker "$T/broker.log"
ready() { [ -n "$(desk_pid "$1")" ]; }
audit_has() { jq -en "[inputs | select($1)] | length > 0" "$T/audit.log" >/dev/null 2>&1; }

# --- egress follows visibility --------------------------------------------------------------
[ "$(login bea s3cret-pw)" = 200 ] || bad "bea cannot sign in: $(cat "$T/bea.login")"
wait_for 40 ready bea && ok "bea's desktop runs in a container" ||
	{ bad "bea's desktop: $(ctl --json list) $(tail -5 "$T/broker.log")"; exit 1; }
pid=$(desk_pid bea)
expect_reach bea 192.168.77.10 3000 yes "(her own service gitea)"
expect_reach bea 192.168.77.11 3001 yes "(her profile's service wiki)"
expect_reach bea 192.168.77.12 3002 no "(grafana: admins only)"
expect_reach bea 192.168.77.13 3000 no "(no service there)"
audit_has '.event == "service.egress" and .outcome == "grant" and .user == "bea" and
	(.detail.reachable | sort) == ["gitea","wiki"]' &&
	ok "audit: service.egress grant for bea (gitea, wiki)" || bad "no egress grant: $(grep service.egress "$T/audit.log")"
audit_has '.event == "service.egress" and .outcome == "deny" and .user == "bea" and
	.detail.unreachable == ["grafana"]' &&
	ok "audit: service.egress deny for bea (grafana)" || bad "no egress deny: $(grep service.egress "$T/audit.log")"

code=$(post /api/demo '{"profile":"trial"}')
demo=$(jq -r .user "$T/resp" 2>/dev/null)
[ "$code" = 200 ] && [[ "$demo" == demo-* ]] || bad "demo: $code $(cat "$T/resp")"
wait_for 40 ready "$demo" && ok "the demo identity's desktop runs" || bad "demo desktop: $(ctl --json list)"
expect_reach "$demo" 192.168.77.11 3001 yes "(demo: its whitelisted wiki)"
expect_reach "$demo" 192.168.77.10 3000 no "(demo: gitea is not whitelisted)"

handles() { N nft -a list chain inet "$table" "$1" | grep -o 'handle [0-9]*' | tr '\n' ' '; }
fwd_before=$(handles bea-fwd)
in_before=$(handles bea-in)

# --- reload: argoboxctl ----------------------------------------------------------------------
# gitea moves to .13 (its address lives in the registry only), wiki is no longer the dev
# profile's, grafana is now also bea's.
write_config "[
   {\"name\": \"gitea\", \"url\": \"http://192.168.77.13:3000/\", \"owner\": \"bea\", $chk},
   {\"name\": \"wiki\", \"url\": \"http://192.168.77.11:3001/\", $chk},
   {\"name\": \"grafana\", \"url\": \"tcp://192.168.77.12:3002\", \"access\": {\"users\": [\"bea\"]}, $chk}]"
out=$(ctl services reload 2>&1)
[[ "$out" == *"reloaded: 3 services"*"changed: gitea"* ]] && ok "argoboxctl services reload: $out" ||
	bad "argoboxctl services reload: $out"
expect_reach bea 192.168.77.13 3000 yes "after reload (gitea at its new address)"
expect_reach bea 192.168.77.10 3000 no "after reload (gitea's old address)"
expect_reach bea 192.168.77.11 3001 no "after reload (wiki no longer hers)"
expect_reach bea 192.168.77.12 3002 yes "after reload (grafana now hers)"
expect_reach "$demo" 192.168.77.11 3001 yes "after reload (demo keeps its whitelist)"
[ "$(desk_pid bea)" = "$pid" ] && ok "bea's desktop was not restarted (pid $pid)" ||
	bad "bea's desktop pid $pid -> $(desk_pid bea)"
[ "$(handles bea-fwd)" = "$fwd_before" ] && [ "$(handles bea-in)" = "$in_before" ] &&
	ok "the chains were not flushed (same rule handles): the set changed in place" ||
	bad "rule handles changed: $fwd_before -> $(handles bea-fwd)"
audit_has '.event == "service.reload" and .user == "argoboxctl" and .detail.changed == ["gitea"]' &&
	ok "audit: service.reload by argoboxctl" || bad "no service.reload: $(grep service.reload "$T/audit.log")"
audit_has '.event == "service.egress" and .user == "bea" and .detail.step == "reload" and
	(.detail.added | sort) == ["tcp:192.168.77.12:3002","tcp:192.168.77.13:3000"] and
	(.detail.removed | sort) == ["tcp:192.168.77.10:3000","tcp:192.168.77.11:3001"]' &&
	ok "audit: bea's egress change (added, removed)" || bad "egress change: $(grep '"reload"' "$T/audit.log")"
audit_has '.event == "service.egress" and .outcome == "deny" and .user == "bea" and .detail.unreachable == ["wiki"]' &&
	ok "audit: wiki now denied to bea" || bad "no deny for wiki"

# --- reload: SIGHUP --------------------------------------------------------------------------
write_config "[
   {\"name\": \"gitea\", \"url\": \"http://192.168.77.13:3000/\", \"owner\": \"bea\", $chk},
   {\"name\": \"wiki\", \"url\": \"http://192.168.77.11:3001/\", $chk}]"
kill -HUP "$BROKER_PID"
wait_for 10 audit_has '.event == "service.reload" and .user == "SIGHUP" and .detail.removed == ["grafana"]' &&
	ok "SIGHUP reloads the registry (grafana removed)" || bad "SIGHUP: $(tail -3 "$T/broker.log")"
expect_reach bea 192.168.77.12 3002 no "after SIGHUP (grafana gone)"
expect_reach bea 192.168.77.13 3000 yes "after SIGHUP (gitea kept)"
[ "$(ctl --json services list | jq -r '[.services[].name] | sort | join(",")')" = gitea,wiki ] &&
	ok "the running registry has gitea and wiki" || bad "registry: $(ctl --json services list | jq -c '[.services[].name]')"

# --- reload: the admin API, and who may not --------------------------------------------------
[ "$(login ada s3cret-pw)" = 200 ] || bad "ada cannot sign in"
write_config "[
   {\"name\": \"gitea\", \"url\": \"http://192.168.77.13:3000/\", \"owner\": \"bea\", $chk},
   {\"name\": \"wiki\", \"url\": \"http://192.168.77.11:3001/\", \"access\": {\"users\": [\"bea\"]}, $chk}]"
code=$(post_as bea /api/admin/services/reload)
[ "$code" = 403 ] && ok "a member may not reload: 403" || bad "bea reload: $code $(cat "$T/resp")"
audit_has '.event == "authz" and .outcome == "deny" and .user == "bea" and .detail.endpoint == "admin.write"' &&
	ok "audit: the member's reload denied (authz admin.write)" || bad "no authz deny for bea"
expect_reach bea 192.168.77.11 3001 no "(the refused reload changed nothing)"
code=$(post_as ada /api/admin/services/reload)
[ "$code" = 200 ] && jq -e '.kept == ["gitea","wiki"] and .services == 2' "$T/resp" >/dev/null &&
	ok "an admin reloads through the API: $(jq -c . "$T/resp")" || bad "ada reload: $code $(cat "$T/resp")"
expect_reach bea 192.168.77.11 3001 yes "after the API reload (wiki hers by name)"

# --- a bad registry is refused and changes nothing -------------------------------------------
write_config "[{\"name\": \"gitea\", \"url\": \"http://192.168.77.13:70000/\", $chk}]"
code=$(post_as ada /api/admin/services/reload)
[ "$code" = 400 ] && jq -e '.error | test("services\\[0\\] \\(.gitea.\\)\\.url: .*port must be 1..65535")' "$T/resp" >/dev/null &&
	ok "a malformed URL: 400 naming the JSON path ($(jq -r .error "$T/resp"))" || bad "bad reload: $code $(cat "$T/resp")"
out=$(ctl services reload 2>&1) && bad "argoboxctl accepted a bad registry" ||
	[[ "$out" == *"port must be 1..65535"* ]] && ok "argoboxctl services reload refuses it too" || bad "ctl: $out"
audit_has '.event == "service.reload" and .outcome == "failure"' &&
	ok "audit: the failed reload" || bad "no failed reload audited: $(grep service.reload "$T/audit.log" | tail -2)"
expect_reach bea 192.168.77.11 3001 yes "(the bad reload changed nothing)"
[ "$(desk_pid bea)" = "$pid" ] && ok "bea's desktop still the same (pid $pid)" || bad "bea's desktop restarted"

stop_broker_ok
sanitizer_check "$T/broker.log"
finish "services egress"
