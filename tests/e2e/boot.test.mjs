// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page's boot watchdog (web/js/boot-watchdog.js), in Chromium against the real
// broker and session: a module request of noVNC that never gets an answer (held by the test)
// no longer leaves the page at "Opening a connection…" for good. Held on the first load only:
// the page reloads by itself and connects. Held on every load: after one reload the page says
// it did not finish loading (data-state="load-failed") and stops reloading.

import assert from 'node:assert/strict';
import { buildDirOrFail, e2eTest, launchChromium, log, startBroker, writeDesktopScript } from './lib.mjs';

const buildDir = buildDirOrFail();
const HELD = '**/vendor/novnc/core/input/vkeys.js'; // deep in rfb.js's import graph

await e2eTest('boot', async (t) => {
	const broker = (t.broker = await startBroker({ buildDir, dir: t.dir, desktopCommand: [writeDesktopScript(t.dir)] }));
	const browser = (t.browser = await launchChromium());

	// 1. Held once: one reload, then connected.
	{
		const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
		const page = await ctx.newPage();
		let held = 0;
		const hung = [];
		await page.route(HELD, (route) => {
			if (held++ === 0) {
				hung.push(route); // never answered
				return;
			}
			route.continue();
		});
		let loads = 0;
		page.on('load', () => loads++);
		await page.goto(`${broker.url}/desktop.html?boot_timeout_ms=3000`, { waitUntil: 'commit' });
		await page.waitForSelector('body[data-state="connected"]', { timeout: 45000 });
		assert.equal(held, 2, `the held module was asked for ${held} times (want 2: the first load and the reload)`);
		assert.ok(loads >= 1, 'the page loaded');
		log(`held once: reloaded and connected (module asked ${held} times)`);
		await ctx.close();
	}

	// 2. Held every time: one reload only, then the page says it did not finish loading.
	{
		const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
		const page = await ctx.newPage();
		let held = 0;
		await page.route(HELD, () => {
			held++; // never answered
		});
		await page.goto(`${broker.url}/desktop.html?boot_timeout_ms=2000`, { waitUntil: 'commit' });
		await page.waitForSelector('body[data-state="load-failed"]', { timeout: 30000 });
		assert.match(await page.textContent('#status-detail'), /did not finish loading/);
		const before = held;
		await new Promise((r) => setTimeout(r, 5000));
		assert.equal(held, before, 'the page kept reloading');
		assert.equal(held, 2, `asked ${held} times (want 2: no reload loop)`);
		log(`held always: "${await page.textContent('#status-detail')}" after ${held} loads`);
		await ctx.close();
	}
});
