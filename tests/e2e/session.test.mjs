// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page against the real argobox-session behind websockify (no broker): pixels,
// typing, resize (SetDesktopSize → RandR) and clipboard both ways, from Chromium.

import fs from 'node:fs';
import path from 'node:path';
import { checkClipboard, checkFocus, checkPixels, checkResize, checkTyping, openDesktop } from './checks.mjs';
import { desktopDisplay, fail, launchChromium, log, makeTempDir, startSessionStack, stopProcess, tail } from './lib.mjs';

const buildDir = process.env.AB_BUILD_DIR;
if (!buildDir) {
	fail('AB_BUILD_DIR is not set (run through ctest, or set it to your build directory)');
}
const dir = makeTempDir('argobox-e2e-session-');
let browser;
let page;
let stack;
try {
	stack = await startSessionStack({ dir, buildDir });
	log(`argobox-session behind websockify at ${stack.url}`);
	browser = await launchChromium();
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
	page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
	await openDesktop(page, stack.url);
	const display = await desktopDisplay(dir);
	await checkFocus(page);
	await checkPixels(page);
	await checkTyping(page, dir);
	await checkResize(page, display);
	await checkClipboard(page, display);
	log('PASS');
	await browser.close();
	await stopProcess(stack.session);
	fs.rmSync(dir, { recursive: true, force: true });
	process.exit(0);
} catch (e) {
	console.error(`--- session.log\n${tail(path.join(dir, 'session.log'), 30)}`);
	await page?.screenshot({ path: path.join(dir, 'failure.png') }).catch(() => {});
	console.error(`(logs and failure.png kept in ${dir})`);
	await browser?.close().catch(() => {});
	if (stack) {
		await stopProcess(stack.session);
	}
	fail(e.stack || e.message);
}
