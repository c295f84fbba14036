#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# GET /metrics (issue 20 item 3, docs/metrics.md) from a real broker with real desktops
# (argobox-session + Xvfb + argobox-wm, process launcher): every scrape is parsed strictly
# (promparse.py: a strict line grammar and the reference prometheus_client parser must agree),
# and the figures move with what happens: a good and a failed sign-in, a desktop becoming
# ready (by state and profile), a browser websocket opened and closed (clients, connections,
# bytes), kv operations (the histogram), audit events. Who may scrape: loopback without a
# proxy's header, an admin session, the bearer token; a member behind a proxy, a wrong token
# and an anonymous proxied request get 403 and an metrics.access deny line. No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_tools curl jq openssl python3 Xvfb
# Debian's python3 (a python3 earlier on PATH may not see Debian's packages)
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import prometheus_client' 2>/dev/null && PY=$p && break
done
[ -n "$PY" ] || skip "python3-prometheus-client is not installed (deps/debian/test.txt)"
need_built "$B/broker/argobox-broker" "$B/session/argobox-session" "$B/wm/argobox-wm"
ab_tmpdir ab-metrics
D=$(dirname "$0")
TOKEN=tok-$(openssl rand -hex 16)
printf '%s\n' "$TOKEN" >"$T/metrics.token"
chmod 600 "$T/metrics.token"
broker_config <<EOT
$(local_users s3cret-pw ada:admin:staff:1000 bea:member:p:1003)
 "profiles": {"p": {}, "staff": {}},
 "metrics": {"token_file": "$T/metrics.token"}
EOT
start_broker "$T/broker.log"
A=$T/audit.log

# scrape [CURL-ARGS...]: GET /metrics from loopback, parsed into $T/m.json; prints the status
scrape() {
	local code
	code=$(curl -s -o "$T/m.txt" -w '%{http_code}' "$@" "$URL/metrics")
	if [ "$code" = 200 ] && ! "$PY" "$D/promparse.py" <"$T/m.txt" >"$T/m.json"; then
		cp "$T/m.txt" "$T/bad-metrics.txt"
		echo parse-error
		return
	fi
	echo "$code"
}
# val SERIES: the value of SERIES (as promparse.py keys it) in the last scrape, 0 when absent
val() { jq -r --arg k "$1" '.[$k] // 0' "$T/m.json"; }
ge() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }

[ "$(scrape)" = 200 ] && ok "loopback scrape: 200, parsed by both parsers" ||
	{ bad "loopback scrape: $(head -c 300 "$T/m.txt")"; exit 1; }
curl -s -D - -o /dev/null "$URL/metrics" | grep -qi '^content-type: text/plain; version=0.0.4' &&
	ok "Content-Type text/plain; version=0.0.4" || bad "content type: $(curl -s -D - -o /dev/null "$URL/metrics")"
for fam in argobox_desktops argobox_websocket_clients argobox_stream_bytes_total argobox_signins_total \
	argobox_kv_op_seconds argobox_kv_queue_depth argobox_audit_events_total argobox_audit_store_queue \
	argobox_service_up argobox_vnc_clients; do
	grep -q "^# TYPE $fam " "$T/m.txt" || bad "no family $fam"
done
ok "every documented family is declared"
ok_before=$(val 'argobox_signins_total{method="local",result="ok"}')
den_before=$(val 'argobox_signins_total{method="local",result="denied"}')
deny_before=$(val 'argobox_audit_events_total{outcome="deny"}')

[ "$(login bea wrong-pw)" = 401 ] || [ "$(cat "$T/bea.login" | jq -r .error 2>/dev/null)" != null ] ||
	bad "a wrong password was not refused"
[ "$(login bea s3cret-pw)" = 200 ] || bad "bea cannot sign in: $(cat "$T/bea.login")"
wait_for 40 desk_ready bea || { bad "bea's desktop: $(ctl --json list)"; exit 1; }
scrape >/dev/null
[ "$(val 'argobox_signins_total{method="local",result="ok"}')" = "$((${ok_before%.*} + 1))" ] &&
	ok "argobox_signins_total{local,ok} +1 after a sign-in" ||
	bad "signins ok: $ok_before -> $(val 'argobox_signins_total{method="local",result="ok"}')"
[ "$(val 'argobox_signins_total{method="local",result="denied"}')" = "$((${den_before%.*} + 1))" ] &&
	ok "argobox_signins_total{local,denied} +1 after a wrong password" ||
	bad "signins denied: $den_before -> $(val 'argobox_signins_total{method="local",result="denied"}')"
ge "$(val 'argobox_audit_events_total{outcome="deny"}')" "$((${deny_before%.*} + 1))" &&
	ok "argobox_audit_events_total{deny} moved" || bad "audit deny events did not move"
[ "$(val 'argobox_desktops{profile="p",state="ready"}')" = 1 ] &&
	ok "argobox_desktops{state=ready,profile=p} = 1" || bad "desktops: $(grep '^argobox_desktops' "$T/m.txt")"
ge "$(val 'argobox_kv_op_seconds_count{backend="embedded",op="get"}')" 1 &&
	ok "argobox_kv_op_seconds{op=get} counted the desktop state's read" ||
	bad "kv histogram: $(grep '^argobox_kv_op_seconds' "$T/m.txt" | head -5)"
conn_before=$(val argobox_websocket_connections_total)
bytes_before=$(val 'argobox_stream_bytes_total{direction="to_client",via="websocket"}')

# a browser websocket on bea's desktop: clients 1 while it is open, 0 after
cookie=$(awk -F'\t' 'NF == 7 {print $6 "=" $7}' "$T/bea.jar" | paste -sd';')
coproc WS { python3 "$S/tests/security/sockets/wsrfb.py" "$PORT" "$cookie" /ws --hold; }
read -r -t 20 line <&"${WS[0]}"
case $line in rfb*) ok "a websocket on bea's desktop ($line)" ;; *) bad "websocket: $line" ;; esac
wait_for 10 sh -c "curl -s '$URL/metrics' | grep -qx 'argobox_websocket_clients 1'" &&
	ok "argobox_websocket_clients 1 while a websocket is open" || bad "websocket clients: $(curl -s "$URL/metrics" | grep websocket)"
scrape >/dev/null
[ "$(val argobox_websocket_connections_total)" = "$((${conn_before%.*} + 1))" ] &&
	ok "argobox_websocket_connections_total +1" || bad "connections: $conn_before -> $(val argobox_websocket_connections_total)"
wait_for 10 sh -c "[ \"\$(curl -s '$URL/metrics' | awk '/^argobox_stream_bytes_total\\{via=\"websocket\",direction=\"to_client\"\\}/ {print \$2}')\" != '$bytes_before' ]" &&
	ok "argobox_stream_bytes_total{websocket,to_client} moved (the session's RFB greeting)" ||
	bad "bytes did not move from $bytes_before"
exec {WS[1]}>&-
wait_for 10 sh -c "curl -s '$URL/metrics' | grep -qx 'argobox_websocket_clients 0'" &&
	ok "argobox_websocket_clients 0 once it closed" || bad "websocket clients after close"

# who may scrape
[ "$(scrape -H 'X-Forwarded-For: 198.51.100.7')" = 403 ] &&
	ok "anonymous through a proxy (X-Forwarded-For): 403" || bad "proxied anonymous scrape allowed"
[ "$(scrape -b "$T/bea.jar" -H 'Cf-Connecting-Ip: 198.51.100.8')" = 403 ] &&
	ok "member bea through a proxy: 403" || bad "member scrape allowed"
wait_for 5 jq -es 'any(.[]; .event == "metrics.access" and .outcome == "deny" and .user == "bea")' "$A" >/dev/null &&
	ok "audit: metrics.access deny for bea" || bad "no deny audit line: $(grep metrics.access "$A")"
[ "$(scrape -H 'X-Forwarded-For: 198.51.100.7' -H 'Authorization: Bearer wrong-token-wrong-token')" = 403 ] &&
	ok "a wrong bearer token: 403" || bad "a wrong token was let in"
[ "$(scrape -H 'X-Forwarded-For: 198.51.100.7' -H "Authorization: Bearer $TOKEN")" = 200 ] &&
	ok "the metrics token through a proxy: 200" || bad "the token was refused"
[ "$(login ada s3cret-pw)" = 200 ] || bad "ada cannot sign in"
[ "$(scrape -b "$T/ada.jar" -H 'Cf-Connecting-Ip: 198.51.100.9')" = 200 ] &&
	ok "admin ada through a proxy: 200" || bad "admin scrape refused"
wait_for 5 jq -es 'any(.[]; .event == "metrics.access" and .outcome == "grant" and .user == "ada" and .detail.via == "admin")' "$A" >/dev/null &&
	ok "audit: metrics.access grant for ada (via admin)" || bad "no grant audit line for ada"
n=$(jq -s '[.[] | select(.event == "metrics.access" and .outcome == "grant" and .detail.via == "loopback" and .user == null)] | length' "$A")
[ "$n" = 1 ] && ok "anonymous loopback scrapes (a dozen) audited once, not each" || bad "loopback grants audited $n times"

# the Grafana dashboard draws families the broker declares
missing=
for fam in $(grep -o 'argobox_[a-z_]*' "$S/docs/grafana-argobox.json" | sed 's/_bucket$//' | sort -u); do
	grep -q "^# TYPE $fam " "$T/m.txt" || missing="$missing $fam"
done
[ -z "$missing" ] && ok "docs/grafana-argobox.json uses declared families only" || bad "dashboard:$missing"

stop_broker_ok
sanitizer_check "$T/broker.log"
finish "admin metrics"
