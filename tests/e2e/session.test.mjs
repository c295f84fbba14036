// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page against the real argobox-session behind websockify (no broker): pixels,
// typing, resize (SetDesktopSize → RandR), clipboard both ways, a photo on the root that the
// canvas shows exactly once the session refined its JPEG areas, and a reconnecting page given
// the cached first frame that converges exactly too, from Chromium.

import { checkClipboard, checkFocus, checkPhotoExact, checkPixels, checkReplay, checkResize, checkTyping, openDesktop } from './checks.mjs';
import { buildDirOrFail, desktopDisplay, e2eTest, launchChromium, log, newPage, startSessionStack, stopProcess } from './lib.mjs';

const buildDir = buildDirOrFail();
await e2eTest('session', async (t) => {
	const stack = await startSessionStack({ dir: t.dir, buildDir });
	t.stop = () => stopProcess(stack.session);
	log(`argobox-session behind websockify at ${stack.url}`);
	const browser = (t.browser = await launchChromium());
	const page = (t.page = await newPage(browser, { clipboard: stack.url }));
	await openDesktop(page, stack.url);
	const display = await desktopDisplay(t.dir);
	await checkFocus(page);
	await checkPixels(page);
	await checkTyping(page, t.dir);
	await checkResize(page, display);
	await checkClipboard(page, display);
	await checkPhotoExact(page, display, buildDir, t.dir);
	await checkReplay(browser, stack.url, display, stack.logFile);
}, { logs: ['session.log'] });
