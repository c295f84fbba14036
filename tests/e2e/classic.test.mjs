// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page against the classic stack (Xvfb + x11vnc + websockify): checks the page
// itself — progress, pixels, typing, clipboard, focus — independently of the broker.
// x11vnc cannot resize its X server, so resize is checked only through the broker.

import { checkClipboard, checkFocus, checkPixels, checkTyping, openDesktop } from './checks.mjs';
import { fail, launchChromium, log, makeTempDir, startClassicStack, tail } from './lib.mjs';
import fs from 'node:fs';
import path from 'node:path';

const dir = makeTempDir('argobox-e2e-classic-');
let browser;
let page;
try {
	const stack = await startClassicStack({ dir });
	log(`classic stack at ${stack.url}, X display ${stack.display}`);
	browser = await launchChromium();
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
	page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
	await openDesktop(page, stack.url);
	await checkFocus(page);
	await checkPixels(page);
	await checkTyping(page, dir);
	await checkClipboard(page, stack.display, { cutBuffer: true, toBrowser: false });
	log('PASS');
	fs.rmSync(dir, { recursive: true, force: true });
} catch (e) {
	for (const f of ['x11vnc.log', 'websockify.log', 'desktop.log']) {
		console.error(`--- ${f}\n${tail(path.join(dir, f), 15)}`);
	}
	await page?.screenshot({ path: path.join(dir, 'failure.png') }).catch(() => {});
	console.error(`(logs and failure.png kept in ${dir})`);
	await browser?.close();
	fail(e.stack || e.message);
}
await browser?.close();
process.exit(0);
