#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# GET /metrics from another address (docs/metrics.md "Who may scrape"): the broker listens on a
# veth address in a network namespace of the test's own; a client in a second namespace (peer
# 10.x.y.2, not loopback) gets 403 and a metrics.access deny line naming it, and gets in with
# the bearer token (audited via "token"). Root: network namespaces and veth.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_root "network namespaces and a veth pair"
need_tools curl jq ip openssl
need_built "$B/broker/argobox-broker"
ab_tmpdir ab-metrics-remote
srv=abmsrv$$ cli=abmcli$$ net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).
netns_add "$srv"
netns_add "$cli"
ip link add "vm$$a" netns "$srv" type veth peer name "vm$$b" netns "$cli" || { bad "veth"; exit 1; }
ip -n "$srv" addr add "${net}1/24" dev "vm$$a" && ip -n "$srv" link set "vm$$a" up
ip -n "$cli" addr add "${net}2/24" dev "vm$$b" && ip -n "$cli" link set "vm$$b" up
TOKEN=tok-$(openssl rand -hex 16)
printf '%s\n' "$TOKEN" >"$T/metrics.token"
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000)
 "profiles": {"p": {}},
 "metrics": {"token_file": "$T/metrics.token"}
EOT
jq --arg a "${net}1" '.listen.address = $a' "$T/broker.json" >"$T/b2.json" && mv "$T/b2.json" "$T/broker.json"
AB_NS=$srv start_broker "$T/broker.log"
remote="http://${net}1:$PORT/metrics"
code=$(ip netns exec "$cli" curl -s -o "$T/resp" -w '%{http_code}' "$remote")
[ "$code" = 403 ] && ok "from ${net}2 (not loopback, no token): 403" || bad "remote scrape: $code $(cat "$T/resp")"
wait_for 5 jq -es --arg p "${net}2" 'any(.[]; .event == "metrics.access" and .outcome == "deny" and .source == $p and
	(.detail.reason | test("not from loopback")))' "$T/audit.log" >/dev/null &&
	ok "audit: metrics.access deny from ${net}2 with the reason" || bad "no deny line: $(grep metrics.access "$T/audit.log")"
code=$(ip netns exec "$cli" curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$remote")
[ "$code" = 200 ] && grep -q '^# TYPE argobox_desktops gauge' "$T/resp" && ok "with the bearer token: 200 and the exposition" ||
	bad "token scrape: $code"
jq -es --arg p "${net}2" 'any(.[]; .event == "metrics.access" and .outcome == "grant" and .source == $p and .detail.via == "token")' \
	"$T/audit.log" >/dev/null && ok "audit: metrics.access grant via token" || bad "no grant line"
stop_broker_ok
sanitizer_check "$T/broker.log"
finish "admin metrics remote"
