// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console's dashboard with N real desktops (bench/admin_bench.sh runs it; docs/admin.md
// "Bench"). One broker, the process launcher with the fake session of tests/integration/broker
// (a real process per desktop, real cgroup/proc readings, a real control channel; no X), a
// user table of N members made for the run, each signed in over HTTP so that each has a
// desktop. Then, in Chromium (playwright-core), with 10 and then with N desktops:
//   - render: navigation start → the table holding every desktop, median and max of R page
//     loads (a fresh tab each, the first load not counted). A MutationObserver installed before
//     any of the page's own scripts runs (an init script) takes the moment the last row is in
//     the DOM, and the frame after it as "painted";
//   - the breakdown of those loads: when each step of the critical path was done (medians),
//     from the navigation timing (the HTML's answer), the page's own performance.mark()s
//     (admin:script, admin:me, admin:live, admin:snapshot; web/js/admin.js) and the observer,
//     and what the broker took to answer /api/me (the resource timing's request to first
//     byte, loopback);
//   - idle CPU: the page's main-thread busy time (CDP Performance.getMetrics TaskDuration;
//     the renderer's ScriptDuration and RecalcStyle+LayoutDuration are inside it) over S
//     seconds of an open, untouched console receiving its live updates, as % of one core, with
//     the layouts those updates cost. Busy time is wall-clock time of the tasks, which grows
//     when other processes take the cores; the main thread's CPU time (ThreadTime) is printed
//     beside it.
// Targets (issue 20): render ≤ 300 ms, idle < 1 %. The load average is printed with the table:
// on a shared machine both figures grow with it.
//   node bench/admin_bench.mjs [--quick]     (AB_BUILD_DIR: the build, default build/)
//   AB_ADMIN_TRACE=PREFIX: Chromium traces (chrome://tracing, Perfetto) of one more load with N
//   desktops, not counted (PREFIX-load.json) and of 10 s of its idle page after the measurement
//   (PREFIX-idle.json)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lib from '../tests/lib/node/broker.cjs';
import { launchChromium, makeTempDir, newPage, sampleAccounts, signIn, sourceDir, startBroker, stopProcess, waitFor } from '../tests/e2e/lib.mjs';

const quick = process.argv.includes('--quick');
const N = 50;
const LOADS = quick ? 3 : 7;
const IDLE_S = quick ? 6 : 20;
const SETTLE_S = quick ? 5 : 15;
const buildDir = process.env.AB_BUILD_DIR || path.join(sourceDir, 'build');
const tracePath = process.env.AB_ADMIN_TRACE || '';
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'loading', 'blink.user_timing', 'netlog', 'v8.execute'];
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

// Runs in the page before its own scripts (page.addInitScript): the moment #desk-rows holds
// `want` rows, and the next frame after it (rAF, then a task: the frame has been produced).
function watchTable(want) {
	let painted;
	const w = (window.abBench = { table: null, painted: null, done: new Promise((r) => (painted = r)) });
	const check = () => {
		if (w.table !== null) return;
		const body = document.getElementById('desk-rows');
		if (!body || body.childElementCount < want) return;
		w.table = performance.now();
		requestAnimationFrame(() => setTimeout(() => painted((w.painted = performance.now())), 0));
	};
	new MutationObserver(check).observe(document, { childList: true, subtree: true });
}

// Milestones of one load, in ms since navigation start.
async function milestones(page) {
	return page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const mark = (n) => performance.getEntriesByName(n, 'mark')[0]?.startTime ?? null;
		const me = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/api/me');
		return {
			html: nav.responseEnd,
			script: mark('admin:script'),
			me: mark('admin:me'),
			live: mark('admin:live'),
			snapshot: mark('admin:snapshot'),
			table: window.abBench.table,
			painted: window.abBench.painted,
			meBroker: me && me.responseStart > 0 ? me.responseStart - me.requestStart : null,
		};
	});
}

const median = (xs) => {
	const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
	return v.length ? v[Math.floor(v.length / 2)] : null;
};

async function measure(ctx, url, want, trace) {
	const loads = [];
	let page = null;
	// the first load warms the cache and is not counted, nor is the traced one after the rest
	for (let i = -1; i < LOADS + (trace ? 1 : 0); i++) {
		// a fresh tab each time: no live channel of the previous load holds a connection
		await page?.close();
		page = await ctx.newPage();
		await page.addInitScript(watchTable, want);
		const tracing = trace && i === LOADS;
		if (tracing) await ctx.browser().startTracing(page, { path: `${trace}-load.json`, categories: TRACE_CATEGORIES });
		await page.goto(`${url}/admin.html?thumbs=0`, { waitUntil: 'commit' }); // the fake sessions have no framebuffer
		await page.evaluate(() => window.abBench.done);
		if (tracing) await ctx.browser().stopTracing();
		if (i >= 0 && i < LOADS) loads.push(await milestones(page));
	}
	const render = loads.map((l) => l.table).sort((a, b) => a - b);
	// idle: the page stays open with its live channel
	const cdp = await page.context().newCDPSession(page);
	await cdp.send('Performance.enable');
	const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
	await new Promise((r) => setTimeout(r, 2000));
	const a = await metrics();
	const u0 = await page.evaluate(() => window.abAdminDesk.updates);
	const t0 = Date.now();
	await new Promise((r) => setTimeout(r, IDLE_S * 1000));
	const b = await metrics();
	const updates = (await page.evaluate(() => window.abAdminDesk.updates)) - u0;
	const wall = (Date.now() - t0) / 1000;
	await cdp.detach();
	if (trace) {
		await ctx.browser().startTracing(page, { path: `${trace}-idle.json`, categories: TRACE_CATEGORIES });
		await new Promise((r) => setTimeout(r, 10000));
		await ctx.browser().stopTracing();
	}
	await page.close();
	const d = (k) => b[k] - a[k];
	return {
		median: median(render),
		max: render[render.length - 1],
		steps: Object.fromEntries(Object.keys(loads[0]).map((k) => [k, median(loads.map((l) => l[k]))])),
		cpu: (d('TaskDuration') / wall) * 100,
		thread: (d('ThreadTime') / wall) * 100,
		script: (d('ScriptDuration') / wall) * 100,
		layout: ((d('LayoutDuration') + d('RecalcStyleDuration')) / wall) * 100,
		layouts: d('LayoutCount'),
		styles: d('RecalcStyleCount'),
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
		rows.push({ n: n + 1, ...(await measure(page.context(), broker.url, n + 1, n === N ? tracePath : '')) });
	}
	const f = (x, p = 1) => (x === null || x === undefined ? '—' : x.toFixed(p));
	console.log(`\nadmin console: dashboard render and idle cost (Chromium ${browser.version()}, ${LOADS} loads, ${IDLE_S} s idle)\n`);
	console.log('| desktops | render median (ms) | render max (ms) | idle CPU (% of a core) | main thread CPU time (%) | script (%) | style+layout (%) | live updates | ms per update | layouts per update | render vs 300 ms | idle vs 1 % |');
	console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
	for (const r of rows)
		console.log(`| ${r.n} | ${f(r.median)} | ${f(r.max)} | ${f(r.cpu, 2)} | ${f(r.thread, 2)} | ${f(r.script, 2)} | ${f(r.layout, 2)} | ${r.updates} in ${IDLE_S} s | ${r.updates ? f((r.cpu * IDLE_S * 10) / r.updates) : '—'} | ${r.updates ? f(r.layouts / r.updates) : `${r.layouts} (none)`} | ${(r.median / 300).toFixed(2)}x | ${(r.cpu / 1).toFixed(2)}x |`);
	// the critical path: when each step was done (median of the loads) and what it added
	const steps = [
		['html', 'HTML answered (304 after the first load)'],
		['script', 'page script running (CSS, admin.js parsed and run)'],
		['me', 'GET /api/me answered'],
		['live', 'live channel open (GET /api/admin/events)'],
		['snapshot', 'first snapshot received'],
		['table', 'table holds every desktop'],
		['painted', 'the frame after it'],
	];
	console.log(`\nrender breakdown: when each step was done, ms since navigation start (median of ${LOADS} loads), and what it added\n`);
	console.log(`| step | ${rows.map((r) => `${r.n} desktops: done at | added`).join(' | ')} |`);
	console.log(`|---|${rows.map(() => '---|---').join('|')}|`);
	for (const [k, label] of steps) {
		const cells = rows.map((r) => {
			const at = r.steps[k];
			const before = steps.slice(0, steps.findIndex((s) => s[0] === k)).map((s) => r.steps[s[0]]).filter((x) => x !== null);
			const prev = before.length ? Math.max(...before) : 0;
			return `${f(at)} | ${at === null ? '—' : f(Math.max(0, at - prev))}`;
		});
		console.log(`| ${label} | ${cells.join(' | ')} |`);
	}
	console.log(`| (broker: /api/me request to first byte) | ${rows.map((r) => `${f(r.steps.meBroker)} | `).join(' | ')} |`);
	const [small, big] = rows;
	console.log(`\n${big.n} vs ${small.n} desktops: render ${(big.median / small.median).toFixed(2)}x, idle CPU ${(big.cpu / Math.max(small.cpu, 0.001)).toFixed(2)}x`);
	console.log(big.median <= 300 && big.cpu < 1 ? 'targets met' : 'TARGET MISSED');
	console.log(`load average during the run: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (${os.cpus().length} cores)`);
	if (tracePath) console.log(`traces with ${big.n} desktops: ${tracePath}-load.json (one more load), ${tracePath}-idle.json (10 s idle)`);
} finally {
	await browser?.close().catch(() => {});
	if (broker) await stopProcess(broker.proc);
	lib.killFakeSessions(dir);
	fs.rmSync(dir, { recursive: true, force: true });
}
