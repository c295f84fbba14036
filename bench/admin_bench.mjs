// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console's dashboard with N real desktops (bench/admin_bench.sh runs it; docs/admin.md
// "Bench"). One broker, the process launcher with the fake session of tests/integration/broker
// (a real process per desktop, real cgroup/proc readings, a real control channel; no X), a
// user table of N members made for the run, each signed in over HTTP so that each has a
// desktop. Then, in Chromium (playwright-core), with 10 and then with N desktops:
//   - render: navigation start → the table holding every desktop (a MutationObserver in the
//     page marks the moment), median and max of R page loads;
//   - idle CPU: the page's main-thread busy time (CDP Performance.getMetrics TaskDuration +
//     the renderer's ScriptDuration/LayoutDuration are inside it) over S seconds of an open,
//     untouched console receiving its live updates (one snapshot every 2 s), as % of one core.
// Targets (issue 20): render ≤ 300 ms, idle < 1 %. The load average is printed with the table:
// on a shared machine both figures grow with it.
//   node bench/admin_bench.mjs [--quick]     (AB_BUILD_DIR: the build, default build/)
import fs from 'node:fs';
import path from 'node:path';
import lib from '../tests/lib/node/broker.cjs';
import { launchChromium, makeTempDir, newPage, sampleAccounts, signIn, sourceDir, startBroker, stopProcess, waitFor } from '../tests/e2e/lib.mjs';

const quick = process.argv.includes('--quick');
const N = 50;
const LOADS = quick ? 3 : 7;
const IDLE_S = quick ? 6 : 20;
const SETTLE_S = quick ? 5 : 15;
const buildDir = process.env.AB_BUILD_DIR || path.join(sourceDir, 'build');
const fakeSession = path.join(sourceDir, 'tests/integration/broker/fake-session.js');
const dir = makeTempDir('ab-admin-bench-');

function accounts(n) {
	const base = sampleAccounts();
	const admin = base.users.find((u) => u.name === 'daniel');
	const users = [admin];
	const profiles = ['developer', 'homelabber'];
	for (let i = 1; i <= n; i++) {
		users.push({
			name: `u${String(i).padStart(2, '0')}`, role: 'member', profile: profiles[i % 2],
			uid: 2000 + i, password_hash: admin.password_hash, // "daniel-argobox"
		});
	}
	return { ...base, users };
}

async function measure(ctx, url, want) {
	const times = [];
	let page = null;
	for (let i = -1; i < LOADS; i++) { // the first load warms the cache and is not counted
		// a fresh tab each time: no live channel of the previous load holds a connection
		await page?.close();
		page = await ctx.newPage();
		await page.goto(`${url}/admin.html?thumbs=0`); // the fake sessions have no framebuffer
		const t = await page.evaluate((n) => new Promise((resolve) => {
			const done = () => document.querySelectorAll('#desk-rows tr').length >= n;
			if (done()) resolve(performance.now());
			new MutationObserver(() => done() && resolve(performance.now()))
				.observe(document.body, { childList: true, subtree: true });
		}), want);
		if (i >= 0) times.push(t);
	}
	times.sort((a, b) => a - b);
	// idle: the page stays open with its live channel
	const cdp = await page.context().newCDPSession(page);
	await cdp.send('Performance.enable');
	const busy = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
	await new Promise((r) => setTimeout(r, 2000));
	const a = await busy();
	const u0 = await page.evaluate(() => window.abAdminDesk.updates);
	const t0 = Date.now();
	await new Promise((r) => setTimeout(r, IDLE_S * 1000));
	const b = await busy();
	const updates = (await page.evaluate(() => window.abAdminDesk.updates)) - u0;
	const wall = (Date.now() - t0) / 1000;
	await cdp.detach();
	await page.close();
	return {
		median: times[Math.floor(times.length / 2)],
		max: times[times.length - 1],
		cpu: ((b.TaskDuration - a.TaskDuration) / wall) * 100,
		script: ((b.ScriptDuration - a.ScriptDuration) / wall) * 100,
		layout: ((b.LayoutDuration + b.RecalcStyleDuration - a.LayoutDuration - a.RecalcStyleDuration) / wall) * 100,
		updates,
	};
}

let broker, browser;
try {
	broker = await startBroker({
		buildDir, dir, desktopCommand: ['true'], base: accounts(N),
		config: { session: { binary: fakeSession }, log: { level: 'warn' }, auth: { ...sampleAccounts().auth, demo: { enabled: false } } },
	});
	const admin = await lib.login(broker, 'daniel');
	const count = async () => (await lib.http(broker.port, 'GET', '/api/admin/desktops', { headers: lib.as(admin) })).json.desktops.filter((d) => d.state === 'ready').length;
	browser = await launchChromium();
	const page = await newPage(browser);
	await signIn(page, broker.url, 'daniel', 'daniel-argobox');
	await page.goto('about:blank'); // the desktop page's own connection closed
	const rows = [];
	let started = 0;
	for (const n of [10, N]) {
		for (; started < n; started++) await lib.login(broker, `u${String(started + 1).padStart(2, '0')}`, 'daniel-argobox');
		await waitFor(`${n} desktops ready`, async () => (await count()) >= n + 1, { timeout: 120000, interval: 250 });
		// fresh sessions settle (their memory and CPU move while they start): idle desktops
		await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
		rows.push({ n: n + 1, ...(await measure(page.context(), broker.url, n + 1)) });
	}
	const f = (x) => x.toFixed(1);
	console.log(`\nadmin console: dashboard render and idle cost (Chromium ${browser.version()}, ${LOADS} loads, ${IDLE_S} s idle)\n`);
	console.log('| desktops | render median (ms) | render max (ms) | idle CPU (% of a core) | script (%) | style+layout (%) | live updates | ms per update | render vs 300 ms | idle vs 1 % |');
	console.log('|---|---|---|---|---|---|---|---|---|---|');
	for (const r of rows)
		console.log(`| ${r.n} | ${f(r.median)} | ${f(r.max)} | ${r.cpu.toFixed(2)} | ${r.script.toFixed(2)} | ${r.layout.toFixed(2)} | ${r.updates} in ${IDLE_S} s | ${r.updates ? f((r.cpu * IDLE_S * 10) / r.updates) : '—'} | ${(r.median / 300).toFixed(2)}x | ${(r.cpu / 1).toFixed(2)}x |`);
	const [small, big] = rows;
	console.log(`\n${big.n} vs ${small.n} desktops: render ${(big.median / small.median).toFixed(2)}x, idle CPU ${(big.cpu / Math.max(small.cpu, 0.001)).toFixed(2)}x`);
	console.log(big.median <= 300 && big.cpu < 1 ? 'targets met' : 'TARGET MISSED');
	console.log(`load average during the run: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (${(await import('node:os')).cpus().length} cores)`);
} finally {
	await browser?.close().catch(() => {});
	if (broker) await stopProcess(broker.proc);
	lib.killFakeSessions(dir);
	fs.rmSync(dir, { recursive: true, force: true });
}
