#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# History, TLS certificate expiry and diagnostics (issue 18 items 3, 4), through a real broker against real
# services on loopback (peers.py): an HTTPS service whose self-signed certificate expires in 3
# days is "degraded" with a warning (cert_warn_days 7) and its days left; one that expires in 60
# days is up; GET /api/services/<name>/history gives the last 24 h in 5-minute buckets (checks,
# availability, latency, worst state) only to those who may see the service; the day's summary
# goes to the kv store and a restarted broker shows it (stored_summary). Diagnostics (POST/GET
# /api/services/<name>/diag, argoboxctl services diag): DNS, TCP, TLS and HTTP steps with their
# timings, the failing step named (a closed port, a name that does not resolve), admins and
# owners only, the last 10 kept. A cert_warn_days on a plain http service is refused by
# --check-config. No root needed.
set -uo pipefail
. "${AB_SOURCE_DIR:?run through ctest}/tests/lib/sh/lib.sh"
need_broker openssl python3
ab_tmpdir ab-svchist

for d in 3 60; do
	start_peers "d$d" $d tls healthy
done
closed=$(free_port)
chk='"interval_ms": 300, "timeout_ms": 2000, "failures": 2, "successes": 1'
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003 cid:member:p:1004)
 "profiles": {"p": {}},
 "services": [
   {"name": "short", "url": "https://127.0.0.1:$(jq '.tls[0]' "$T/d3.json")/",
    "check": {$chk, "ca_file": "$T/d3.cert.pem", "cert_warn_days": 7}},
   {"name": "long", "url": "https://127.0.0.1:$(jq '.tls[0]' "$T/d60.json")/",
    "check": {$chk, "ca_file": "$T/d60.cert.pem", "cert_warn_days": 7}},
   {"name": "web", "url": "http://127.0.0.1:$(jq '.healthy[0]' "$T/d3.json")/", "owner": "bea",
    "access": {"users": ["cid"]}, "check": {$chk}},
   {"name": "nxdomain", "url": "http://no-such-host.invalid:8080/", "check": {$chk}},
   {"name": "gone", "url": "tcp://127.0.0.1:$closed", "check": {$chk}}]
EOT
start_broker "$T/broker.log"
for u in ada bea cid; do [ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in"; done
state() { get_as ada /api/services/"$1" >/dev/null; jq -r .state "$T/resp"; }
is_state() { [ "$(state "$1")" = "$2" ]; }

# --- certificate expiry ----------------------------------------------------------------------
wait_for 10 is_state short degraded && ok "short: degraded ($(jq -r .reason "$T/resp"))" ||
	bad "short: $(jq -c '{state,reason,tls}' "$T/resp")"
# made with -days 3: whole days left are 2, or 3 when checked within the second it was made
jq -e '(.tls.days_left == 2 or .tls.days_left == 3) and .tls.warning == true and .tls.warn_days == 7 and
	(.reason | test("TLS certificate expires in [23] day"))' "$T/resp" >/dev/null &&
	ok "short: 2 days left, warning" || bad "short tls: $(jq -c '{reason,tls}' "$T/resp")"
exp=$(openssl x509 -enddate -noout -in "$T/d3.cert.pem" | cut -d= -f2)
[ "$(jq '.tls.expires_ms / 1000 | floor' "$T/resp")" = "$(date -d "$exp" +%s)" ] &&
	ok "short: expires_ms is the certificate's notAfter ($exp)" || bad "expires_ms $(jq .tls.expires_ms "$T/resp") vs $exp"
wait_for 10 is_state long up && jq -e '.tls.days_left == 59 and .tls.warning == false' "$T/resp" >/dev/null &&
	ok "long: up, 59 days left, no warning" || bad "long: $(jq -c '{state,reason,tls}' "$T/resp")"

# --- 24 h history ----------------------------------------------------------------------------
wait_for 10 is_state gone down || bad "gone: $(state gone)"
sleep 1.5 # a few more checks of each
code=$(get_as ada /api/services/web/history)
[ "$code" = 200 ] && jq -e '.bucket_ms == 300000 and (.buckets | length) >= 1 and .checks >= 3 and
	.availability == 1 and .buckets[-1].worst == "up" and .buckets[-1].mean_latency_ms > 0' "$T/resp" >/dev/null &&
	ok "web history: $(jq -c '{checks,availability,mean_latency_ms,buckets:(.buckets|length)}' "$T/resp")" ||
	bad "web history: $code $(cat "$T/resp")"
get_as ada /api/services/gone/history >/dev/null
jq -e '.availability == 0 and .down_buckets >= 1 and .buckets[-1].worst == "down"' "$T/resp" >/dev/null &&
	ok "gone history: availability 0, a down bucket" || bad "gone history: $(cat "$T/resp")"
get_as ada /api/services/web >/dev/null
jq -e '.day.checks >= 3 and .day.availability == 1' "$T/resp" >/dev/null &&
	ok "the service's JSON carries the day's summary" || bad "day: $(jq -c .day "$T/resp")"
code=$(get_as bea /api/services/web/history)
[ "$code" = 200 ] && ok "bea (owner) reads her service's history" || bad "bea web history: $code"
code=$(get_as bea /api/services/gone/history)
[ "$code" = 404 ] && ok "bea: history of a service she cannot see: 404" || bad "bea gone history: $code"
grep '"event":"service.access"' "$T/audit.log" | grep '"user":"bea"' | grep '"outcome":"deny"' | grep -q '"service":"gone"' &&
	ok "audit: the denied history read" || bad "no service.access deny for bea/gone"
code=$(get_as bea /api/services/web/nothing)
[ "$code" = 404 ] && ok "an unknown sub-path: 404" || bad "web/nothing: $code"

# --- diagnostics (item 4): admins and owners, step by step, never on the loop's time --------
diag() { # diag USER NAME: runs one, leaves its last result in $T/resp; prints the POST's status
	local code
	code=$(post_as "$1" "/api/services/$2/diag")
	[ "$code" = 202 ] || { echo "$code"; return; }
	wait_for 15 sh -c "[ \"\$(curl -s -b '$T/$1.jar' -H 'Origin: $URL' '$URL/api/services/$2/diag' | tee '$T/resp' | jq .running)\" = false ]"
	echo "$code"
}
code=$(diag ada short)
[ "$code" = 202 ] && jq -e '.results[-1] | .ok and .failed_step == null and .address == "127.0.0.1" and
	.steps.dns.ok and .steps.tcp.ok and .steps.tls.ok and .steps.tls.ms > 0 and .steps.http.status == 200 and
	.steps.http.total_ms >= .steps.tls.ms and .cert_expires_ms > 0' "$T/resp" >/dev/null &&
	ok "diag short (https): every step ok, timings $(jq -c '.results[-1].steps | map_values(.ms // .total_ms)' "$T/resp")" ||
	bad "diag short: $code $(cat "$T/resp")"
code=$(diag ada gone)
[ "$code" = 202 ] && jq -e '.results[-1] | .ok == false and .failed_step == "tcp" and (.error | test("refused"))' "$T/resp" >/dev/null &&
	ok "diag gone (tcp): the connect step failed: $(jq -r '.results[-1].error' "$T/resp")" || bad "diag gone: $code $(cat "$T/resp")"
code=$(diag ada nxdomain)
[ "$code" = 202 ] && jq -e '.results[-1] | .ok == false and .failed_step == "dns" and .steps.dns.ok == false' "$T/resp" >/dev/null &&
	ok "diag nxdomain: the DNS step failed: $(jq -r '.results[-1].error' "$T/resp")" || bad "diag nxdomain: $code $(cat "$T/resp")"
code=$(diag bea web)
[ "$code" = 202 ] && jq -e '.results[-1].ok and .results[-1].steps.http.status == 200' "$T/resp" >/dev/null &&
	ok "the owner runs a diagnostic of her service" || bad "bea diag web: $code $(cat "$T/resp")"
code=$(post_as cid /api/services/web/diag)
[ "$code" = 403 ] && ok "another member who can see it may not: 403" || bad "cid diag web: $code"
grep '"event":"service.diag"' "$T/audit.log" | grep '"user":"cid"' | grep -q '"outcome":"deny"' &&
	ok "audit: cid's diagnostic denied" || bad "no service.diag deny for cid"
code=$(post_as bea /api/services/short/diag)
[ "$code" = 404 ] && ok "one who cannot see the service: 404" || bad "bea diag short: $code"
for i in 1 2 3 4 5 6 7 8 9 10; do diag ada gone >/dev/null; done
jq -e '(.results | length) == 10 and .last_id == 11 and .results[0].id == 2' "$T/resp" >/dev/null &&
	ok "the last 10 results are kept (ids up to $(jq .last_id "$T/resp"))" || bad "kept: $(jq -c '[.results[].id], .last_id' "$T/resp")"
out=$(ctl services diag short) && [[ "$out" == *"tls   ok"*"http  ok"*"status 200"* ]] &&
	ok "argoboxctl services diag short: $(tr '\n' ' ' <<<"$out")" || bad "argoboxctl diag short: $out"
out=$(ctl services diag gone) && bad "argoboxctl diag gone succeeded: $out" ||
	{ [[ "$out" == *"tcp   FAIL"*"refused"* ]] && ok "argoboxctl services diag gone: exit 1, the tcp step failed" ||
		bad "argoboxctl diag gone: $out"; }
out=$(ctl services diag nope 2>&1) && bad "argoboxctl diag of an unknown service succeeded" ||
	{ [[ "$out" == *"no service named 'nope'"* ]] && ok "argoboxctl diag of an unknown service: error" || bad "diag nope: $out"; }

# --- the summary in the kv store survives a restart ------------------------------------------
stop_broker_ok
start_broker "$T/broker2.log"
[ "$(login ada s3cret-pw)" = 200 ] || bad "ada cannot sign in again"
get_as ada /api/services/gone >/dev/null
jq -e '.stored_summary.state == "down" and .stored_summary.checks >= 2 and
	.stored_summary.availability == 0' "$T/resp" >/dev/null &&
	ok "the restarted broker shows the stored summary: $(jq -c .stored_summary "$T/resp")" ||
	bad "stored_summary: $(jq -c .stored_summary "$T/resp")"

# --- bad input -------------------------------------------------------------------------------
check_config "cert_warn_days on http" \
	'{"services": [{"name": "a", "url": "http://127.0.0.1:1/", "check": {"cert_warn_days": 3}}]}' \
	"services[0] ('a').check.cert_warn_days: only for https services"
check_config "cert_warn_days on tcp" \
	'{"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "check": {"cert_warn_days": 3}}]}' \
	"services[0] ('a').check.cert_warn_days: only for http(s) services"
check_config "cert_warn_days out of range" \
	'{"services": [{"name": "a", "url": "https://127.0.0.1:1/", "check": {"cert_warn_days": 4000}}]}' \
	"services[0] ('a').check.cert_warn_days: 4000 is outside [0, 3650]"
stop_broker_ok
sanitizer_check "$T/broker.log" "$T/broker2.log"
finish "services history"
