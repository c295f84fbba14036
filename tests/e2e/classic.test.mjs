// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page against the classic stack (Xvfb + x11vnc + websockify): checks the page
// itself — progress, pixels, typing, clipboard, focus — independently of the broker.
// x11vnc cannot resize its X server, so resize is checked only through the broker.

import { checkClipboard, checkFocus, checkPixels, checkTyping, openDesktop } from './checks.mjs';
import { e2eTest, launchChromium, log, newPage, startClassicStack } from './lib.mjs';

await e2eTest('classic', async (t) => {
	const stack = await startClassicStack({ dir: t.dir });
	log(`classic stack at ${stack.url}, X display ${stack.display}`);
	const browser = (t.browser = await launchChromium());
	const page = (t.page = await newPage(browser, { clipboard: stack.url }));
	await openDesktop(page, stack.url);
	await checkFocus(page);
	await checkPixels(page);
	await checkTyping(page, t.dir);
	await checkClipboard(page, stack.display, { cutBuffer: true, toBrowser: false });
}, { logs: ['x11vnc.log', 'websockify.log', 'desktop.log'] });
