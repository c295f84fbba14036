#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Failure detection and recovery through a real broker: a service that is down is restarted by
# its command (a real HTTP server comes up on loopback), verified, and audited
# service.recovered; killed again, it is restarted again. A restart command that hangs is
# killed at its timeout; one that fails is retried with exponential backoff up to its limit and
# then escalated (service.escalate). Manual restarts: the owner and admins may, other members
# may not (403), and whoever cannot see the service gets 404. argoboxctl services
# list|status|restart. No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_tools curl jq openssl python3
need_built "$B/broker/argobox-broker"
ab_tmpdir ab-svcrec
# every server a restart started (a later one that could not bind overwrites managed.pid)
at_exit '[ -s "$T/managed.all" ] && kill $(cat "$T/managed.all") 2>/dev/null'
M=$(free_port)
closed=$(free_port)
# The restart command: starts a real HTTP server on port M (in the background) and returns.
cat >"$T/start.sh" <<EOT
#!/bin/sh
cd "$T" && setsid python3 -m http.server $M --bind 127.0.0.1 >/dev/null 2>&1 &
echo \$! | tee -a "$T/managed.all" >"$T/managed.pid"
echo started >>"$T/starts"
EOT
chmod +x "$T/start.sh"
hang_arg=61.$$
busy_arg=62.$$
chk='"interval_ms": 200, "timeout_ms": 500, "failures": 2, "successes": 1'
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}, "trial": {"persistent": false, "ttl_minutes": 30, "demo": true}},
 "services": [
   {"name": "managed", "url": "http://127.0.0.1:$M/", "owner": "bea",
    "access": {"roles": ["member"]}, "check": {$chk},
    "restart": {"command": ["$T/start.sh"], "timeout_ms": 5000, "max_attempts": 3,
                "backoff_ms": 200, "verify_ms": 3000}},
   {"name": "stuck", "url": "tcp://127.0.0.1:$closed", "check": {$chk},
    "restart": {"command": ["/bin/sleep", "$hang_arg"], "timeout_ms": 300, "max_attempts": 2,
                "backoff_ms": 100, "verify_ms": 500}},
   {"name": "busy", "url": "tcp://127.0.0.1:$closed",
    "check": {"interval_ms": 60000, "timeout_ms": 500, "failures": 100},
    "restart": {"command": ["/bin/sleep", "$busy_arg"], "timeout_ms": 20000, "max_attempts": 1}},
   {"name": "failing", "url": "tcp://127.0.0.1:$closed", "check": {$chk},
    "restart": {"command": ["/bin/false"], "max_attempts": 3, "backoff_ms": 300,
                "backoff_max_ms": 5000}}]
EOT
start_broker "$T/broker.log"
A=$T/audit.log
ev() { grep "\"event\":\"$1\"" "$A" | grep "\"service\":\"$2\""; }
count_at_least() { [ "$(ev "$1" "$2" | wc -l)" -ge "$3" ]; }
for u in ada bea cid; do [ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in"; done
state() { get_as ada /api/services/"$1" >/dev/null; jq -r .state "$T/resp"; }

# 1. Down at start -> restarted by its command -> verified up.
wait_for 10 ev service.down managed && ok "managed: down detected" || bad "managed: no service.down"
wait_for 10 ev service.recovered managed && ok "managed: restarted and verified (service.recovered)" ||
	bad "managed: not recovered: $(ev service.restart managed | tail -3)"
[ "$(state managed)" = up ] && ok "managed is up" || bad "managed: $(cat "$T/resp")"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M/" | grep -q 200 &&
	ok "the real server the command started answers" || bad "nothing on port $M"

# 2. It dies again: detected and restarted again.
kill "$(cat "$T/managed.pid")"
wait_for 10 count_at_least service.down managed 2 && ok "managed: second failure detected" ||
	bad "managed: second down not seen"
wait_for 10 count_at_least service.recovered managed 2 && ok "managed: recovered again" ||
	bad "managed: not recovered twice"
[ "$(wc -l <"$T/starts")" -ge 2 ] && ok "the restart command ran $(wc -l <"$T/starts") times" || bad "starts: $(cat "$T/starts")"

# 3. A restart command that hangs is killed at its timeout; after max_attempts: escalate.
wait_for 10 ev service.escalate stuck && ok "stuck: escalated" || bad "stuck: no escalation: $(ev service.restart stuck)"
ev service.restart stuck | grep -q 'hung: killed after 300 ms' && ok "stuck: the hanging command was killed at 300 ms" ||
	bad "stuck: $(ev service.restart stuck)"
sleep 0.3
pgrep -f "sleep $hang_arg" >/dev/null && bad "the hung command is still running" || ok "no hung command left behind"
grep '"event":"service.notify"' "$A" | grep '"service":"stuck"' | grep -q 'could not be recovered' &&
	ok "stuck: escalation notified" || bad "no escalation notification"

# 4. A failing command: retried with exponential backoff, then escalated.
wait_for 10 ev service.escalate failing && ok "failing: escalated" || bad "failing: no escalation"
starts=$(ev service.restart failing | grep '"step":"started"' | jq -r .time)
n=$(wc -l <<<"$starts")
[ "$n" = 3 ] && ok "failing: exactly max_attempts (3) attempts" || bad "failing: $n attempts: $starts"
python3 - "$starts" <<'EOP' && ok "failing: backoff doubles" || bad "failing: backoff gaps wrong: $(echo $starts)"
import sys, datetime
ts = [datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in sys.argv[1].split()]
g = [(b - a).total_seconds() for a, b in zip(ts, ts[1:])]
print("gaps", g)
# each wait at least its backoff (0.3 s, then doubled: 0.6 s); the upper bounds only catch a
# runaway (a loaded machine adds seconds to starting a command, never takes time away)
sys.exit(0 if len(g) == 2 and 0.25 <= g[0] < 3.0 and 0.55 <= g[1] < 4.0 else 1)
EOP
ev service.restart failing | grep -q 'exited with status 1' && ok "failing: exit status recorded" || bad "failing: no exit status"

# 5. Manual restarts over the API.
code=$(post_as cid /api/services/managed/restart)
[ "$code" = 403 ] && ok "cid (member, not the owner): 403" || bad "cid restart: $code $(cat "$T/resp")"
code=$(post_as bea /api/services/managed/restart)
[ "$code" = 202 ] && ok "bea (owner): 202" || bad "bea restart: $code $(cat "$T/resp")"
code=$(post_as bea /api/services/stuck/restart)
[ "$code" = 404 ] && ok "bea: a service she cannot see: 404" || bad "bea stuck restart: $code"
code=$(post_as ada /api/services/stuck/restart)
[ "$code" = 202 ] && ok "ada (admin) restarts stuck: 202" || bad "ada restart: $code $(cat "$T/resp")"
# busy's restart command runs for 20 s: a second restart meanwhile is refused, whatever the load
code=$(post_as ada /api/services/busy/restart)
[ "$code" = 202 ] && ok "ada restarts busy: 202" || bad "ada restart busy: $code $(cat "$T/resp")"
code=$(post_as ada /api/services/busy/restart)
[ "$code" = 409 ] && ok "a second restart while one runs: 409" || bad "second restart: $code $(cat "$T/resp")"
grep '"event":"service.restart"' "$A" | grep '"user":"cid"' | grep -q '"outcome":"deny"' &&
	ok "the denial is audited" || bad "no service.restart deny for cid"
grep '"event":"service.restart"' "$A" | grep '"user":"bea"' | grep -q '"outcome":"grant"' &&
	ok "the grant is audited" || bad "no service.restart grant for bea"

# 6. The loop is not blocked while a restart command hangs.
# (busy's command is still running; loose bounds: the machine may be busy)
times=$(for i in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "$URL/healthz"; done)
python3 - "$times" <<'EOP' && ok "/healthz during a hung restart: $(sort -n <<<"$times" | tail -1)s worst" ||
import sys, statistics
v = sorted(map(float, sys.argv[1].split()))
sys.exit(0 if statistics.median(v) < 0.1 and v[-1] < 1.0 else 1)
EOP
	bad "/healthz slow during a hung restart: $times"

# 7. argoboxctl.
if [ -x "$B/broker/argoboxctl" ] && "$B/broker/argoboxctl" --help 2>&1 | grep -q services; then
	ctl services list | grep -qE '^managed +up' && ok "argoboxctl services list" || bad "list: $(ctl services list)"
	ctl --json services status failing | jq -e '.service.restart.escalated == true' >/dev/null &&
		ok "argoboxctl services status (escalated shown)" || bad "status: $(ctl --json services status failing)"
	ctl services restart failing | grep -q "restarting" && ok "argoboxctl services restart" ||
		bad "restart: $(ctl services restart failing)"
	wait_for 5 grep -q '"user":"argoboxctl"' <(ev service.restart failing) && ok "argoboxctl restart audited" ||
		bad "no argoboxctl restart in the audit log"
	ctl services status nosuch >/dev/null 2>&1 && bad "status of an unknown service succeeded" ||
		ok "argoboxctl: unknown service is an error"
else
	bad "argoboxctl has no 'services' command"
fi

finish "services recovery"
