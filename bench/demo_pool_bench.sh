#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo pool benchmark: a visitor's click on "Try a demo" to the first frame of their own demo
# desktop, with the warm pool (auth.demo.pool: a desktop of the profile already running, handed
# over) and without it (cold: the click starts the desktop), side by side in one run, the samples
# interleaved (warm, cold, warm, cold, ...) so both see the same machine. One broker, the real
# argobox-session with its default desktop (argobox-wm) at 1280x800, process launcher, loopback:
#   POST /api/demo {"profile"} -> websocket /websockify with the cookie -> RFB handshake ->
#   full-screen FramebufferUpdateRequest -> the whole first update received (bench/firstframe.cjs)
# warm: profile demo-homelab (pool 1); cold: demo-developer (pool 0). After each sample the visitor
# signs out (the demo ends: desktop destroyed) and the next sample waits until the pool is full
# again and nothing else runs. Target: warm <= 150 ms.
# Usage: bench/demo_pool_bench.sh [--quick]     (AB_BUILD_DIR picks the build, default build/)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
top=$S build=$B
n=8
[ "${1:-}" = --quick ] && n=3
need_built "$build/broker/argobox-broker" "$build/broker/argoboxctl" "$build/session/argobox-session"
need_tools jq
[ -d "$top/tests/integration/authn/node_modules/ws" ] ||
	(cd "$top/tests/integration/authn" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ab_tmpdir ab-demo-pool-bench
tmp=$T
sample_broker_config "$tmp" '{"enabled": true, "max_concurrent": 4, "per_ip_max": 0, "pool": {"demo-homelab": 1}}'
start_broker "$tmp/broker.log"
NODE_PATH="$top/tests/integration/authn/node_modules" FIRSTFRAME="$top/bench/firstframe.cjs" \
	PORT=$PORT CTL="$build/broker/argoboxctl" SOCK="$tmp/broker.sock" N=$n node - <<'JS'
'use strict';
const { firstFrame } = require(process.env.FIRSTFRAME);
const { execFileSync } = require('child_process');
const port = Number(process.env.PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function desktops() {
	const l = JSON.parse(execFileSync(process.env.CTL, ['--socket', process.env.SOCK, '--json', 'list']).toString());
	return l.desktops || [];
}
/* the pool's one desktop is ready and nothing else runs (the last visitor's desktop is gone) */
async function settled() {
	const end = Date.now() + 60000;
	for (;;) {
		const d = desktops();
		if (d.length === 1 && d[0].state === 'ready') return;
		if (Date.now() > end) throw new Error(`the pool did not settle: ${JSON.stringify(d)}`);
		await sleep(50);
	}
}
async function visit(profile) {
	const t0 = process.hrtime.bigint();
	const r = await fetch(`http://127.0.0.1:${port}/api/demo`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ profile }),
	});
	if (r.status !== 200) throw new Error(`demo ${profile}: ${r.status} ${await r.text()}`);
	const body = await r.json();
	const cookie = /^(argobox_session=[0-9a-f]+)/.exec(r.headers.get('set-cookie'))[1];
	await firstFrame(port, cookie);
	const ms = Number(process.hrtime.bigint() - t0) / 1e6;
	const out = await fetch(`http://127.0.0.1:${port}/api/logout`, {
		method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': body.csrf_token, Origin: `http://127.0.0.1:${port}` },
	});
	if (out.status !== 200) throw new Error(`logout: ${out.status}`);
	return ms;
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
(async () => {
	const warm = [], cold = [];
	for (let i = 0; i < Number(process.env.N); i++) {
		await settled();
		warm.push(await visit('demo-homelab'));
		await settled();
		cold.push(await visit('demo-developer'));
	}
	const row = (name, a, target) => console.log(`${name.padEnd(46)} ${String(a.length).padStart(4)} ${pct(a, 0.5).toFixed(1).padStart(9)} ${Math.max(...a).toFixed(1).padStart(9)} ${target.padStart(9)}`);
	console.log(`${'demo click -> first frame (1280x800, raw)'.padEnd(46)} ${'n'.padStart(4)} ${'p50 ms'.padStart(9)} ${'max ms'.padStart(9)} ${'target'.padStart(9)}`);
	row('warm (pool desktop handed over)', warm, '<= 150');
	row('cold (pool 0: the click starts the desktop)', cold, '');
	console.log(`${'warm / cold (p50)'.padEnd(46)} ${''.padStart(4)} ${(pct(warm, 0.5) / pct(cold, 0.5)).toFixed(3).padStart(9)}`);
})().catch((e) => { console.error(`demo_pool_bench: ${e.message}`); process.exit(1); });
JS
