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
# again (its desktop warm: audited "pool desktop ready", the shell up) and nothing else runs.
# Target: warm <= 150 ms. A second table gives each step's time from the click (p50 / max):
# POST answered, websocket open, ServerInit, first update's header, whole frame.
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
	PORT=$PORT CTL="$build/broker/argoboxctl" SOCK="$tmp/broker.sock" AUDIT="$tmp/audit.log" N=$n node - <<'JS'
'use strict';
const { firstFrame } = require(process.env.FIRSTFRAME);
const { execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
/* a POST on a connection of its own: fetch's kept-alive one could be the one the broker closes
 * as idle while the next sample sends on it ("other side closed") */
function post(path, body, headers) {
	return new Promise((resolve, reject) => {
		const r = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false,
			headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
			let b = '';
			res.on('data', (d) => { b += d; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b }));
		});
		r.on('error', reject);
		r.end(body);
	});
}
const port = Number(process.env.PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function desktops() {
	const l = JSON.parse(execFileSync(process.env.CTL, ['--socket', process.env.SOCK, '--json', 'list']).toString());
	return l.desktops || [];
}
/* the pool desktop's shell is up (audited "pool desktop ready") */
function warm(user) {
	return fs.readFileSync(process.env.AUDIT, 'utf8').split('\n').some((l) => {
		try {
			const e = JSON.parse(l);
			return e.event === 'demo.pool' && e.user === user && e.detail.reason === 'pool desktop ready';
		} catch (err) { return false; }
	});
}
/* the pool's one desktop is warm and nothing else runs (the last visitor's desktop is gone) */
async function settled() {
	const end = Date.now() + 60000;
	for (;;) {
		const d = desktops();
		if (d.length === 1 && d[0].state === 'ready' && warm(d[0].user)) return;
		if (Date.now() > end) throw new Error(`the pool did not settle: ${JSON.stringify(d)}`);
		await sleep(50);
	}
}
async function visit(profile) {
	const t0 = process.hrtime.bigint();
	const now = () => Number(process.hrtime.bigint() - t0) / 1e6;
	const m = {};
	const r = await post('/api/demo', JSON.stringify({ profile }), {});
	if (r.status !== 200) throw new Error(`demo ${profile}: ${r.status} ${r.body}`);
	const body = JSON.parse(r.body);
	const cookie = /^(argobox_session=[0-9a-f]+)/.exec([].concat(r.headers['set-cookie'])[0])[1];
	m.post = now();
	await firstFrame(port, cookie, '/websockify', m);
	const ms = now();
	for (const k of ['ws_open', 'server_init', 'update_start']) m[k] -= Number(t0) / 1e6;
	m.frame = ms;
	steps[profile].push(m);
	const out = await post('/api/logout', '', { Cookie: cookie, 'X-CSRF-Token': body.csrf_token, Origin: `http://127.0.0.1:${port}` });
	if (out.status !== 200) throw new Error(`logout: ${out.status}`);
	return ms;
}
const steps = { 'demo-homelab': [], 'demo-developer': [] };
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
	console.log('');
	const keys = ['post', 'ws_open', 'server_init', 'update_start', 'frame'];
	console.log(`${'steps from the click, ms (p50 / max)'.padEnd(46)} ` + ['POST', 'ws open', 'ServerInit', 'update', 'frame'].map((k) => k.padStart(13)).join(' '));
	for (const [name, prof] of [['warm', 'demo-homelab'], ['cold', 'demo-developer']]) {
		const cells = keys.map((k) => { const a = steps[prof].map((x) => x[k]); return `${pct(a, 0.5).toFixed(0)} / ${Math.max(...a).toFixed(0)}`.padStart(13); });
		console.log(`${name.padEnd(46)} ${cells.join(' ')}`);
	}
})().catch((e) => { console.error(`demo_pool_bench: ${e.message}`); process.exit(1); });
JS
