// SPDX-License-Identifier: GPL-2.0-or-later
// End to end through the real stack: argobox-broker (temp config, free loopback port) starts
// argobox-session with a known desktop (root colour + xterm); Chromium opens /desktop.html
// and the test checks the connection stages, pixels, typing, resize, clipboard both ways,
// and that the page reconnects by itself after the broker restarts.
// The broker is a real dependency: without build/broker/argobox-broker this test fails and
// says so.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkClipboard, checkFocus, checkPixels, checkResize, checkTyping, openDesktop } from './checks.mjs';
import { buildDirOrFail, desktopDisplay, e2eTest, launchChromium, log, newPage, startBroker, stopProcess, waitFor, writeDesktopScript } from './lib.mjs';

const buildDir = buildDirOrFail();

await e2eTest('desktop', async (t) => {
	const { dir } = t;
	const desktopCommand = [writeDesktopScript(dir)];
	let broker = (t.broker = await startBroker({ buildDir, dir, desktopCommand }));
	log(`broker at ${broker.url}`);
	const browser = (t.browser = await launchChromium());
	const page = (t.page = await newPage(browser, { clipboard: broker.url }));
	const ctx = page.context();

	// The landing page links to the desktop.
	await page.goto(`${broker.url}/`);
	assert.equal(await page.getAttribute('#open-desktop', 'href'), '/desktop.html');
	// The sign-in state is resolved from /api/me, and the demo picker offers the four profiles.
	await page.waitForSelector('body:not([data-auth="unknown"])', { timeout: 10000 });
	log(`landing page: data-auth=${await page.getAttribute('body', 'data-auth')}`);
	assert.deepEqual(
		await page.$$eval('#demo-form input[name="profile"]', (els) => els.map((e) => e.value)),
		['homelab', 'developer', 'media', 'ai-operations']
	);
	await page.click('#open-desktop');
	await page.waitForURL('**/desktop.html');

	await openDesktop(page, broker.url);
	const display = await desktopDisplay(dir);
	log(`desktop on X display ${display}`);
	await checkFocus(page);
	await checkPixels(page);
	await checkTyping(page, dir);
	await checkResize(page, display);
	await checkClipboard(page, display);

	// Reconnect: the broker goes away → the page says so and counts down; the broker comes
	// back on the same port → the page reconnects by itself.
	fs.rmSync(path.join(dir, 'display'), { force: true });
	await stopProcess(broker.proc);
	await page.waitForSelector('body[data-state="reconnecting"]', { timeout: 20000 });
	await waitFor('a visible reconnect countdown', () => page.isVisible('#countdown'));
	const title = await page.textContent('#status-title');
	log(`while the broker is down the page says: '${title}' / '${await page.textContent('#countdown')}'`);
	assert.match(title, /lost|reach|refused|start|answering/i);
	broker = t.broker = await startBroker({ buildDir, dir, desktopCommand, port: broker.port, logFile: path.join(dir, 'broker2.log') });
	await page.waitForSelector('body[data-state="connected"]', { timeout: 60000 });
	log(`reconnect timing (ms): ${JSON.stringify(await page.evaluate(() => window.argobox.timing))}`);
	// A second tab shares the running desktop: a warm connect (no desktop start).
	const tab = await ctx.newPage();
	await tab.goto(`${broker.url}/desktop.html`);
	await tab.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	log(`warm connect timing, second tab (ms): ${JSON.stringify(await tab.evaluate(() => window.argobox.timing))}`);
	await tab.close();
	await desktopDisplay(dir);
	await checkPixels(page);
	assert.ok((await page.evaluate(() => window.argobox.connects)) >= 2, 'the page reconnected');
	log('reconnect ok');
}, { logs: ['broker.log', 'broker2.log'] });
