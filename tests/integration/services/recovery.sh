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
S=${AB_SOURCE_DIR:?run through ctest}
broker=$B/broker/argobox-broker
ctl_bin=$B/broker/argoboxctl
[ -x "$broker" ] || { echo "SKIP: $broker is not built"; exit 77; }
for t in curl jq openssl python3; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
T=$(mktemp -d /tmp/ab-svcrec.XXXXXX)
BROKER_PID=
cleanup() {
	[ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
	[ -s "$T/managed.pid" ] && kill "$(cat "$T/managed.pid")" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
wait_for() { # wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
M=$(freeport)
closed=$(freeport)
# The restart command: starts a real HTTP server on port M (in the background) and returns.
cat >"$T/start.sh" <<EOT
#!/bin/sh
cd "$T" && setsid python3 -m http.server $M --bind 127.0.0.1 >/dev/null 2>&1 &
echo \$! >"$T/managed.pid"
echo started >>"$T/starts"
EOT
chmod +x "$T/start.sh"
hang_arg=61.$$
hash=$(openssl passwd -6 -salt absvc "s3cret-pw")
chk='"interval_ms": 200, "timeout_ms": 500, "failures": 2, "successes": 1'
cat >"$T/broker.json" <<EOT
{"listen": {"port": 0},
 "session": {"runtime_base": "$T/run", "launcher": "process"},
 "data": {"dir": "$T/data"}, "admin": {"socket": "$T/broker.sock"},
 "audit": {"path": "$T/audit.log"},
 "auth": {"local": {"enabled": true}, "demo": {"enabled": true}},
 "users": [
   {"name": "ada", "role": "admin", "profile": "p", "uid": 1000, "password_hash": "$hash"},
   {"name": "bea", "role": "member", "profile": "p", "uid": 1003, "password_hash": "$hash"},
   {"name": "cid", "role": "member", "profile": "p", "uid": 1004, "password_hash": "$hash"}],
 "profiles": {"p": {}, "trial": {"persistent": false, "ttl_minutes": 30, "demo": true}},
 "services": [
   {"name": "managed", "url": "http://127.0.0.1:$M/", "owner": "bea",
    "access": {"roles": ["member"]}, "check": {$chk},
    "restart": {"command": ["$T/start.sh"], "timeout_ms": 5000, "max_attempts": 3,
                "backoff_ms": 200, "verify_ms": 3000}},
   {"name": "stuck", "url": "tcp://127.0.0.1:$closed", "check": {$chk},
    "restart": {"command": ["/bin/sleep", "$hang_arg"], "timeout_ms": 300, "max_attempts": 2,
                "backoff_ms": 100, "verify_ms": 500}},
   {"name": "failing", "url": "tcp://127.0.0.1:$closed", "check": {$chk},
    "restart": {"command": ["/bin/false"], "max_attempts": 3, "backoff_ms": 300,
                "backoff_max_ms": 5000}}]}
EOT
"$broker" --config "$T/broker.json" >"$T/broker.log" 2>&1 &
BROKER_PID=$!
wait_for 20 grep -q "listening on http" "$T/broker.log" || { bad "broker did not start: $(tail -5 "$T/broker.log")"; exit 1; }
PORT=$(sed -n 's|.*listening on https\?://[^:]*:\([0-9]*\)/.*|\1|p' "$T/broker.log" | tail -n1)
URL=http://127.0.0.1:$PORT
A=$T/audit.log
ev() { grep "\"event\":\"$1\"" "$A" | grep "\"service\":\"$2\""; }
login() { # login USER: cookie in $T/USER.jar, CSRF token in $T/USER.csrf
	curl -s -o "$T/$1.login" -w '%{http_code}' -c "$T/$1.jar" -H "Origin: $URL" \
		-H 'Content-Type: application/json' -d "{\"user\":\"$1\",\"password\":\"s3cret-pw\"}" "$URL/api/login"
}
get() { curl -s -o "$T/resp" -w '%{http_code}' -b "$T/$1.jar" -H "Origin: $URL" "$URL$2"; }
post() {
	curl -s -o "$T/resp" -w '%{http_code}' -b "$T/$1.jar" -H "Origin: $URL" \
		-H "X-CSRF-Token: $(jq -r .csrf_token "$T/$1.login")" -X POST "$URL$2"
}
count_at_least() { [ "$(ev "$1" "$2" | wc -l)" -ge "$3" ]; }
for u in ada bea cid; do [ "$(login $u)" = 200 ] || bad "$u cannot sign in"; done
state() { get ada /api/services/"$1" >/dev/null; jq -r .state "$T/resp"; }

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
python3 - "$starts" <<'EOP' && ok "failing: backoff doubles" || bad "failing: backoff gaps wrong: $starts"
import sys, datetime
ts = [datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in sys.argv[1].split()]
g = [(b - a).total_seconds() for a, b in zip(ts, ts[1:])]
print("gaps", g)
sys.exit(0 if len(g) == 2 and 0.25 <= g[0] < 0.6 and 0.55 <= g[1] < 1.0 else 1)
EOP
ev service.restart failing | grep -q 'exited with status 1' && ok "failing: exit status recorded" || bad "failing: no exit status"

# 5. Manual restarts over the API.
code=$(post cid /api/services/managed/restart)
[ "$code" = 403 ] && ok "cid (member, not the owner): 403" || bad "cid restart: $code $(cat "$T/resp")"
code=$(post bea /api/services/managed/restart)
[ "$code" = 202 ] && ok "bea (owner): 202" || bad "bea restart: $code $(cat "$T/resp")"
code=$(post bea /api/services/stuck/restart)
[ "$code" = 404 ] && ok "bea: a service she cannot see: 404" || bad "bea stuck restart: $code"
code=$(post ada /api/services/stuck/restart)
[ "$code" = 202 ] && ok "ada (admin) restarts stuck: 202" || bad "ada restart: $code $(cat "$T/resp")"
code=$(post ada /api/services/stuck/restart)
[ "$code" = 409 ] && ok "a second restart while one runs: 409" || bad "second restart: $code $(cat "$T/resp")"
grep '"event":"service.restart"' "$A" | grep '"user":"cid"' | grep -q '"outcome":"deny"' &&
	ok "the denial is audited" || bad "no service.restart deny for cid"
grep '"event":"service.restart"' "$A" | grep '"user":"bea"' | grep -q '"outcome":"grant"' &&
	ok "the grant is audited" || bad "no service.restart grant for bea"

# 6. The loop is not blocked while a restart command hangs.
# (loose bounds: the machine may be busy; a loop waiting on the command would take 300 ms+)
times=$(for i in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "$URL/healthz"; done)
python3 - "$times" <<'EOP' && ok "/healthz during a hung restart: $(sort -n <<<"$times" | tail -1)s worst" ||
import sys, statistics
v = sorted(map(float, sys.argv[1].split()))
sys.exit(0 if statistics.median(v) < 0.1 and v[-1] < 1.0 else 1)
EOP
	bad "/healthz slow during a hung restart: $times"

# 7. argoboxctl.
if [ -x "$ctl_bin" ] && "$ctl_bin" --help 2>&1 | grep -q services; then
	ctl() { "$ctl_bin" --socket "$T/broker.sock" "$@"; }
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

[ $fails = 0 ] && echo "PASS" || echo "$fails failure(s)"
exit $((fails > 0))
