#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# History and TLS certificate expiry (issue 18 item 3), through a real broker against real
# services on loopback (peers.py): an HTTPS service whose self-signed certificate expires in 3
# days is "degraded" with a warning (cert_warn_days 7) and its days left; one that expires in 60
# days is up; GET /api/services/<name>/history gives the last 24 h in 5-minute buckets (checks,
# availability, latency, worst state) only to those who may see the service; the day's summary
# goes to the kv store and a restarted broker shows it (stored_summary). A cert_warn_days on a
# plain http service is refused by --check-config. No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
S=${AB_SOURCE_DIR:?run through ctest}
. "$S/tests/lib/sh/lib.sh"
need_built "$B/broker/argobox-broker"
need_tools curl jq openssl python3
ab_tmpdir ab-svchist
PEERS=()
at_exit 'kill_wait "${PEERS[@]}"'

for d in 3 60; do
	openssl req -x509 -newkey rsa:2048 -nodes -days $d -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key$d.pem" -out "$T/cert$d.pem" 2>/dev/null ||
		{ bad "openssl could not make a certificate"; exit 1; }
	python3 "$S/tests/integration/services/peers.py" --ports "$T/ports$d.json" --cert "$T/cert$d.pem" \
		--key "$T/key$d.pem" tls healthy &
	PEERS+=($!)
	wait_for 10 test -s "$T/ports$d.json" || { bad "peers did not start"; exit 1; }
done
closed=$(free_port)
chk='"interval_ms": 300, "timeout_ms": 2000, "failures": 2, "successes": 1'
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003)
 "profiles": {"p": {}},
 "services": [
   {"name": "short", "url": "https://127.0.0.1:$(jq '.tls[0]' "$T/ports3.json")/",
    "check": {$chk, "ca_file": "$T/cert3.pem", "cert_warn_days": 7}},
   {"name": "long", "url": "https://127.0.0.1:$(jq '.tls[0]' "$T/ports60.json")/",
    "check": {$chk, "ca_file": "$T/cert60.pem", "cert_warn_days": 7}},
   {"name": "web", "url": "http://127.0.0.1:$(jq '.healthy[0]' "$T/ports3.json")/", "owner": "bea",
    "check": {$chk}},
   {"name": "gone", "url": "tcp://127.0.0.1:$closed", "check": {$chk}}]
EOT
start_broker "$T/broker.log"
for u in ada bea; do [ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in"; done
state() { get_as ada /api/services/"$1" >/dev/null; jq -r .state "$T/resp"; }
is_state() { [ "$(state "$1")" = "$2" ]; }

# --- certificate expiry ----------------------------------------------------------------------
wait_for 10 is_state short degraded && ok "short: degraded ($(jq -r .reason "$T/resp"))" ||
	bad "short: $(jq -c '{state,reason,tls}' "$T/resp")"
jq -e '.tls.days_left == 2 and .tls.warning == true and .tls.warn_days == 7 and
	(.reason | test("TLS certificate expires in 2 day"))' "$T/resp" >/dev/null &&
	ok "short: 2 days left, warning" || bad "short tls: $(jq -c '{reason,tls}' "$T/resp")"
exp=$(openssl x509 -enddate -noout -in "$T/cert3.pem" | cut -d= -f2)
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
