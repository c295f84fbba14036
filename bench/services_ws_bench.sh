#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Websocket latency through the broker while it polls 23 misbehaving services (issue 18: within
# 1 ms of idle). One broker (process launcher, the real argobox-session), one signed-in user
# with the desktop websocket open; a websocket ping every 10 ms, the pong's round trip measured
# (libwebsockets answers pings on the broker's loop, so the round trip is that loop's
# responsiveness as a browser sees it). Phases alternate on the same broker, 4 of each:
# "idle" (no services) and "polling" (the 23 services of bench/services_peers.sh, checked every
# 500 ms: a cycle is always running), switched by rewriting the config and SIGHUP (the
# services reload).
#   bench/services_ws_bench.sh [--quick]        (AB_BUILD_DIR picks the build, default build/)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
. "$S/bench/services_peers.sh"
phase_s=8 phases=4
[ "${1:-}" = --quick ] && phase_s=3 phases=2
need_built "$B/broker/argobox-broker" "$B/broker/argoboxctl" "$B/session/argobox-session"
need_tools node openssl python3
[ -d "$S/tests/integration/authn/node_modules/ws" ] ||
	(cd "$S/tests/integration/authn" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ab_tmpdir ab-svcws-bench
PEERS=
at_exit '[ -n "$PEERS" ] && kill $PEERS 2>/dev/null'
start_service_peers "$T" 500
write_config() { # write_config SERVICES-FILE|none
	python3 - "$S/config/argobox.sample.json" "$T" "$B" "$1" >"$T/broker.json.new" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
tmp, build, svc = sys.argv[2], sys.argv[3], sys.argv[4]
json.dump({
    "listen": {"address": "127.0.0.1", "port": 0},
    "session": {"launcher": "process", "binary": build + "/session/argobox-session",
                "runtime_base": tmp + "/run", "geometry": "1280x800"},
    "admin": {"socket": tmp + "/broker.sock"}, "audit": {"path": tmp + "/audit.log"},
    "data": {"dir": tmp + "/data"}, "log": {"level": "info"},
    "auth": s["auth"], "users": s["users"], "profiles": s["profiles"],
    "services": json.load(open(svc)) if svc != "none" else [],
}, sys.stdout)
PY
	mv "$T/broker.json.new" "$T/broker.json"
}
write_config none
start_broker "$T/broker.log"
NODE_PATH="$S/tests/integration/authn/node_modules" PORT=$PORT PHASE_S=$phase_s PHASES=$phases \
	T="$T" S="$S" BROKER_PID=$BROKER_PID node - <<'JS'
'use strict';
const WebSocket = require('ws');
const { execFileSync } = require('child_process');
const port = Number(process.env.PORT), T = process.env.T;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function login() {
	const r = await fetch(`http://127.0.0.1:${port}/api/login`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ user: 'bogie', password: 'bogie-argobox' }),
	});
	if (r.status !== 200) throw new Error(`login: ${r.status}`);
	return /^(argobox_session=[0-9a-f]+)/.exec(r.headers.get('set-cookie'))[1];
}
async function services() {
	const r = await fetch(`http://127.0.0.1:${port}/healthz`);
	const j = await r.json();
	const s = j.services || {};
	return (s.up || 0) + (s.degraded || 0) + (s.down || 0) + (s.unknown || 0);
}
// switches the broker's services (rewrites its config, SIGHUP) and waits until they apply
async function phase(name) {
	const want = name === 'polling' ? 23 : 0;
	execFileSync('python3', ['-c', `
import json,sys
c=json.load(open("${T}/broker.json"))
c["services"]=json.load(open("${T}/s1.json")) if ${want} else []
json.dump(c,open("${T}/broker.json.new","w"))
`]);
	execFileSync('mv', [`${T}/broker.json.new`, `${T}/broker.json`]);
	process.kill(Number(process.env.BROKER_PID), 'SIGHUP');
	const end = Date.now() + 10000;
	while ((await services()) !== want) {
		if (Date.now() > end) throw new Error(`services did not become ${want}`);
		await sleep(50);
	}
	if (want) await sleep(1000); // the first cycle under way
}
function pings(ws, seconds) {
	return new Promise((resolve) => {
		const rtt = [];
		let sent = 0n, waiting = false;
		ws.on('pong', () => { rtt.push(Number(process.hrtime.bigint() - sent) / 1e6); waiting = false; });
		const iv = setInterval(() => {
			if (waiting) return; // one in flight at a time
			waiting = true;
			sent = process.hrtime.bigint();
			ws.ping();
		}, 10);
		setTimeout(() => { clearInterval(iv); ws.removeAllListeners('pong'); resolve(rtt); }, seconds * 1000);
	});
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
(async () => {
	const cookie = await login();
	const ws = new WebSocket(`ws://127.0.0.1:${port}/websockify`, [], { headers: { Cookie: cookie } });
	await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
	ws.on('message', () => {}); // the RFB greeting; never answered: the session waits
	await sleep(500);
	const got = { idle: [], polling: [] };
	for (let i = 0; i < Number(process.env.PHASES); i++)
		for (const name of ['idle', 'polling']) {
			await phase(name);
			got[name].push(...(await pings(ws, Number(process.env.PHASE_S))));
		}
	ws.terminate();
	const h = `${'websocket ping -> pong through the broker'.padEnd(48)} ${'n'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`;
	console.log(h);
	console.log('-'.repeat(h.length));
	for (const name of ['idle', 'polling']) {
		const a = got[name];
		const label = name === 'idle' ? 'idle (no services)' : 'polling 23 services (5 hang, every 500 ms)';
		console.log(`${label.padEnd(48)} ${String(a.length).padStart(6)} ${pct(a, 0.5).toFixed(3).padStart(8)} ${pct(a, 0.99).toFixed(3).padStart(8)} ${Math.max(...a).toFixed(3).padStart(8)}`);
	}
	const d50 = pct(got.polling, 0.5) - pct(got.idle, 0.5), d99 = pct(got.polling, 0.99) - pct(got.idle, 0.99);
	console.log(`polling minus idle: p50 ${d50.toFixed(3)} ms, p99 ${d99.toFixed(3)} ms (target: within 1 ms) ${Math.abs(d99) <= 1 ? 'met' : 'MISSED'}`);
})().catch((e) => { console.error(`services_ws_bench: ${e.message}`); process.exit(1); });
JS
