#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# auth benchmark: sign-in to first frame through argobox-broker with the real argobox-session
# and its default desktop (argobox-wm), 1280x800, loopback:
#   POST /api/login -> websocket /websockify with the cookie -> RFB handshake ->
#   full-screen FramebufferUpdateRequest -> the whole first update received (raw encoding).
# cold: the desktop is not running (stopped with argoboxctl before each sample; sign-in starts it)
# warm: the desktop runs (a new sign-in reattaches). Targets: cold < 1 s, warm < 150 ms.
# Usage: bench/auth_bench.sh [--quick]     (AB_BUILD_DIR picks the build, default build/)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
top=$S build=$B
n_cold=5 n_warm=20
[ "${1:-}" = --quick ] && n_cold=2 n_warm=5
need_built "$build/broker/argobox-broker" "$build/broker/argoboxctl" "$build/session/argobox-session"
need_tools jq
[ -d "$top/tests/integration/authn/node_modules/ws" ] ||
	(cd "$top/tests/integration/authn" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ab_tmpdir ab-auth-bench
tmp=$T
sample_broker_config "$tmp"
start_broker "$tmp/broker.log"
NODE_PATH="$top/tests/integration/authn/node_modules" FIRSTFRAME="$top/bench/firstframe.cjs" PORT=$PORT CTL="$build/broker/argoboxctl" \
	SOCK="$tmp/broker.sock" N_COLD=$n_cold N_WARM=$n_warm node - <<'JS'
'use strict';
const { firstFrame: ff } = require(process.env.FIRSTFRAME);
const { execFileSync } = require('child_process');
const port = Number(process.env.PORT);
const user = 'bogie', password = 'bogie-argobox';

async function login() {
	const r = await fetch(`http://127.0.0.1:${port}/api/login`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ user, password }),
	});
	if (r.status !== 200) throw new Error(`login: ${r.status}`);
	return /^(argobox_session=[0-9a-f]+)/.exec(r.headers.get('set-cookie'))[1];
}

function running() {
	const l = JSON.parse(execFileSync(process.env.CTL, ['--socket', process.env.SOCK, '--json', 'list']).toString());
	const a = Array.isArray(l) ? l : l.desktops || [];
	return a.some((d) => d.user === user);
}
async function stopDesktop() {
	try { execFileSync(process.env.CTL, ['--socket', process.env.SOCK, 'stop', user], { stdio: 'ignore' }); } catch (e) { /* none */ }
	const end = Date.now() + 20000;
	while (running()) {
		if (Date.now() > end) throw new Error('desktop did not stop');
		await new Promise((r) => setTimeout(r, 20));
	}
}
async function sample() {
	const t0 = process.hrtime.bigint();
	const cookie = await login();
	await ff(port, cookie);
	return Number(process.hrtime.bigint() - t0) / 1e6;
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
(async () => {
	const cold = [], warm = [];
	for (let i = 0; i < Number(process.env.N_COLD); i++) { await stopDesktop(); cold.push(await sample()); }
	for (let i = 0; i < Number(process.env.N_WARM); i++) warm.push(await sample());
	const row = (name, a, target) => console.log(`${name.padEnd(44)} ${String(a.length).padStart(4)} ${pct(a, 0.5).toFixed(1).padStart(9)} ${Math.max(...a).toFixed(1).padStart(9)} ${target.padStart(9)}`);
	console.log(`${'sign-in -> first frame (1280x800, raw)'.padEnd(44)} ${'n'.padStart(4)} ${'p50 ms'.padStart(9)} ${'max ms'.padStart(9)} ${'target'.padStart(9)}`);
	row('cold (desktop not running)', cold, '< 1000');
	row('warm (desktop running, reattach)', warm, '< 150');
})().catch((e) => { console.error(`auth_bench: ${e.message}`); process.exit(1); });
JS
