// SPDX-License-Identifier: GPL-2.0-or-later
// Desktop state end to end, in Chromium: the broker starts the real argobox-session +
// argobox-wm; the test opens two xterms on the session's display, moves/resizes them
// (xdotool), changes the wallpaper through the state API (PUT, applied live by the running
// wm), stops the desktop (argoboxctl stop), reloads the page: the desktop comes back with the
// same geometry (X query, exact) and the same wallpaper (canvas pixels).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openDesktop } from './checks.mjs';
import {
	fail,
	launchChromium,
	log,
	makeTempDir,
	near,
	pixel,
	skip,
	startBroker,
	stopProcess,
	tail,
	track,
	waitFor,
	xrun,
} from './lib.mjs';

const buildDir = process.env.AB_BUILD_DIR;
if (!buildDir) fail('AB_BUILD_DIR is not set (run through ctest)');
const wm = path.join(buildDir, 'wm', 'argobox-wm');
if (!fs.existsSync(wm)) fail(`argobox-wm is not built: ${wm}`);
for (const tool of ['xterm', 'xdotool', 'xwininfo', 'xprop']) {
	try {
		execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
	} catch {
		skip(`${tool} is not installed`);
	}
}

const dir = makeTempDir('argobox-e2e-state-');
const runDir = path.join(dir, 'run', 'local');
let browser;
let broker;

function display() {
	try {
		return fs.readFileSync(path.join(runDir, 'display'), 'utf8').trim() || null;
	} catch {
		return null;
	}
}

// "x y w h" of every managed window, sorted (X's own view)
function xView(d) {
	const ids = (xrun(d, 'xprop', ['-root', '_NET_CLIENT_LIST']).match(/0x[0-9a-f]+/g)) || [];
	return ids
		.map((id) => {
			const o = xrun(d, 'xwininfo', ['-id', id]);
			const g = (re) => Number(re.exec(o)[1]);
			return `${g(/Absolute upper-left X:\s+(-?\d+)/)} ${g(/Absolute upper-left Y:\s+(-?\d+)/)} ${g(/\n\s+Width:\s+(\d+)/)} ${g(/\n\s+Height:\s+(\d+)/)}`;
		})
		.sort()
		.join('\n');
}

async function api(method, body) {
	const r = await fetch(`${broker.url}/api/desktops/local/state`, {
		method,
		headers: body ? { 'Content-Type': 'application/json' } : {},
		body: body ? JSON.stringify(body) : undefined,
	});
	return { status: r.status, json: await r.json() };
}

// Wallpaper samples: points no window covers (windows end at x <= 1030, y <= 600)
const SAMPLES = [
	[1150, 100],
	[1200, 400],
	[60, 700],
];
const samples = (page) => Promise.all(SAMPLES.map(([x, y]) => pixel(page, x, y)));
const allNear = (a, b, tol = 24) => a.every((p, i) => near(p, b[i], tol));

try {
	// the window manager, recording its display in the runtime dir first
	const desktopCommand = ['/bin/sh', '-c', 'echo "$DISPLAY" >"$ARGOBOX_RUNTIME_DIR/display"; exec "$0" --log-level debug', wm];
	broker = await startBroker({ buildDir, dir, desktopCommand });
	log(`broker at ${broker.url}`);
	browser = await launchChromium();
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
	await openDesktop(page, broker.url);
	const d = await waitFor('the session display', display);
	log(`desktop on X display ${d}`);
	await waitFor('the window manager', () => /window id/.test(xrun(d, 'xprop', ['-root', '_NET_SUPPORTING_WM_CHECK'])));

	// two xterms, moved and resized
	for (const t of ['alpha', 'beta']) {
		track(spawn('xterm', ['-T', t, '-geometry', '80x24+20+20'], { env: { ...process.env, DISPLAY: d }, stdio: 'ignore' }));
	}
	const win = {};
	for (const t of ['alpha', 'beta']) {
		win[t] = await waitFor(`xterm ${t}`, () => {
			try {
				return xrun(d, 'xdotool', ['search', '--name', `^${t}$`]).trim().split('\n')[0] || null;
			} catch {
				return null;
			}
		});
	}
	await waitFor('both xterms managed', () => (xrun(d, 'xprop', ['-root', '_NET_CLIENT_LIST']).match(/0x/g) || []).length === 2);
	xrun(d, 'xdotool', ['windowsize', win.alpha, '500', '300', 'windowmove', win.alpha, '123', '145']);
	xrun(d, 'xdotool', ['windowsize', win.beta, '420', '260', 'windowmove', win.beta, '601', '333']);

	// the moves are in the store before the state is edited (else the PUT, built from an
	// older state, would legitimately put the windows back)
	const stateView = (st) => st.windows.map((w) => `${w.x} ${w.y} ${w.w} ${w.h}`).sort().join('\n');
	await waitFor('the moves durable in the store', async () => {
		const r = await api('GET');
		return r.json.durable && r.json.stored && r.json.state.windows.length === 2 && stateView(r.json.state) === xView(d);
	});

	// the wallpaper, through the state API: applied live by the running window manager
	const before = await samples(page);
	const cur = await api('GET');
	assert.equal(cur.status, 200);
	const wallpaper = cur.json.state.wallpaper.image === 'mist.png' ? 'calm-dusk.png' : 'mist.png';
	const put = await api('PUT', { ...cur.json.state, wallpaper: { image: wallpaper, fit: 'fill' } });
	assert.equal(put.status, 200, JSON.stringify(put.json));
	assert.equal(put.json.applied, 'now', 'PUT not applied to the running desktop');
	await waitFor('the new wallpaper on the canvas', async () => !allNear(await samples(page), before, 8));

	// durable: the stored state has both windows where X has them, and the wallpaper
	await waitFor('the layout durable in the store', async () => {
		const r = await api('GET');
		const st = r.json.state;
		return r.json.durable && r.json.stored && st.windows.length === 2 && st.wallpaper.image === wallpaper && stateView(st) === xView(d);
	});
	const saved = xView(d);
	assert.match(saved, /123 145/);
	assert.match(saved, /601 333/);
	const shown = await samples(page);
	log(`saved layout:\n${saved}\nwallpaper ${wallpaper}: ${JSON.stringify(shown)}`);

	// stop the desktop (the page leaves first, so it does not reconnect meanwhile), then
	// load the page again: the desktop starts again and restores
	await page.goto('about:blank');
	const ctl = (...a) => execFileSync(path.join(buildDir, 'broker', 'argoboxctl'), ['--socket', path.join(dir, 'run', 'broker.sock'), ...a], { encoding: 'utf8' });
	ctl('stop', 'local');
	await waitFor('the desktop gone', () => !/local/.test(ctl('list')), { timeout: 30000 });
	fs.rmSync(path.join(runDir, 'display'), { force: true });
	await openDesktop(page, broker.url);
	const d2 = await waitFor('the new session display', display);
	await waitFor('the restored layout (exact geometry)', () => {
		try {
			return xView(d2) === saved;
		} catch {
			return false;
		}
	}, { timeout: 40000 });
	await waitFor('the same wallpaper on the canvas', async () => {
		const now = await samples(page);
		return allNear(now, shown) && !allNear(now, before, 8);
	}, { timeout: 20000 });
	log('restored: same geometry and wallpaper after stop + reload');
	await browser.close();
	browser = null;
	await stopProcess(broker.proc);
	log('PASS');
	process.exit(0);
} catch (e) {
	console.error(e);
	if (broker) console.error(tail(broker.logFile));
	fail(e.message);
} finally {
	if (browser) await browser.close().catch(() => {});
}
