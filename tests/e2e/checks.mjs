// SPDX-License-Identifier: GPL-2.0-or-later
// The checks the desktop page must pass against any RFB backend: each one drives Chromium
// the way a person would and asserts on what the desktop (X server) and the page show.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	ROOT_RGB,
	XTERM_BG_RGB,
	XTERM_GEOMETRY,
	canvasSize,
	countDark,
	log,
	near,
	pixel,
	screenSize,
	spawnLogged,
	toPage,
	waitFor,
	xrun,
} from './lib.mjs';

// Opens /desktop.html and waits until the page reports the first frame.
export async function openDesktop(page, url) {
	const t0 = Date.now();
	await page.goto(`${url}/desktop.html`);
	await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	const states = await page.evaluate(() => window.argobox.history);
	const timing = await page.evaluate(() => window.argobox.timing);
	log(`connected in ${Date.now() - t0} ms (page load included); states seen: ${[...new Set(states)].join(' → ')}`);
	log(`page timing from websocket start (ms): ${JSON.stringify(timing)}`);
	// The progress stages are shown in order on the way to the first frame.
	const order = ['connecting', 'booting', 'handshake', 'waiting-frame', 'connected'];
	const seen = order.filter((s) => states.includes(s));
	assert.ok(seen.includes('connected'), 'page never reported connected');
	assert.deepEqual(
		states.filter((s) => order.includes(s)).filter((s, i, a) => a.indexOf(s) === i),
		seen,
		'connection stages out of order'
	);
	assert.equal(await page.isVisible('#overlay .status-card'), true, 'overlay element exists');
	return states;
}

// The canvas shows the known desktop: root window colour and the xterm's background.
export async function checkPixels(page) {
	await waitFor('the root window colour on the canvas', async () => near(await pixel(page, 5, 5), ROOT_RGB));
	const inXterm = [XTERM_GEOMETRY.x + 200, XTERM_GEOMETRY.y + 60];
	await waitFor('the xterm background on the canvas', async () => near(await pixel(page, ...inXterm), XTERM_BG_RGB));
	log(`pixels ok: root ${await pixel(page, 5, 5)}, xterm ${await pixel(page, ...inXterm)}`);
}

// Typing reaches the xterm: a command creates a file, and its text appears on the canvas.
export async function checkTyping(page, dir) {
	const rect = { x: XTERM_GEOMETRY.x, y: XTERM_GEOMETRY.y, w: 360, h: 30 };
	const before = await countDark(page, rect);
	const at = await toPage(page, XTERM_GEOMETRY.x + 100, XTERM_GEOMETRY.y + 50);
	await page.mouse.click(at.x, at.y);
	const file = path.join(dir, 'typed.txt');
	await typeWithShift(page, `echo hello-argobox > ${file}`);
	// Text shows up on the canvas before Enter is pressed.
	const after = await waitFor('typed text to appear on the canvas', async () => {
		const n = await countDark(page, rect);
		return n > before + 150 ? n : null;
	});
	log(`text on canvas: ${before} → ${after} dark pixels`);
	await page.keyboard.press('Enter');
	const content = await waitFor(`${file} written by the typed command`, () => {
		try {
			return fs.readFileSync(file, 'utf8');
		} catch {
			return null;
		}
	});
	assert.equal(content, 'hello-argobox\n');
	log('typing ok');
}

// Types text the way a US keyboard does: Shift is held for capitals and shifted symbols.
// (Playwright's keyboard.type sends '>' as Period without Shift, which is not what a person's
// keyboard sends; servers have to cope with that too, but that is the session's own test.)
export async function typeWithShift(page, text) {
	for (const ch of text) {
		const shifted = /[A-Z~!@#$%^&*()_+{}|:"<>?]/.test(ch);
		if (shifted) {
			await page.keyboard.down('Shift');
		}
		await page.keyboard.type(ch);
		if (shifted) {
			await page.keyboard.up('Shift');
		}
	}
}

// Resizing the browser window resizes the remote desktop to match.
export async function checkResize(page, display) {
	const target = { width: 1000, height: 640 };
	await page.setViewportSize(target);
	await waitFor('the canvas to follow the window size', async () => {
		const c = await canvasSize(page);
		return c.width === target.width && c.height === target.height ? c : null;
	});
	const x = screenSize(display);
	assert.deepEqual(x, target, 'X screen size after resize');
	// The newly exposed area is drawn: bottom-right corner shows the root colour.
	await waitFor('the resized framebuffer to be drawn', async () =>
		near(await pixel(page, target.width - 5, target.height - 5), ROOT_RGB)
	);
	log(`resize ok: ${target.width}x${target.height}`);
}

// Clipboard both ways: the panel and the async Clipboard API → X CLIPBOARD; X → page.
// x11vnc (classic stack) stores text from clients in CUT_BUFFER0 rather than owning
// CLIPBOARD, and in this setup never reports X selection changes: pass
// {cutBuffer: true, toBrowser: false} there.
export async function checkClipboard(page, display, { cutBuffer = false, toBrowser = true } = {}) {
	const xclipOut = () => {
		try {
			if (cutBuffer) {
				const m = /^CUT_BUFFER0\(\w+\) = "(.*)"$/m.exec(xrun(display, 'xprop', ['-root', 'CUT_BUFFER0']));
				return m ? m[1] : null;
			}
			return xrun(display, 'xclip', ['-o', '-selection', 'clipboard']);
		} catch {
			return null;
		}
	};
	// Browser → desktop through the clipboard panel.
	await page.click('#btn-clipboard');
	await page.fill('#clipboard-text', 'from-the-panel-123');
	await page.click('#clipboard-send');
	await waitFor('the panel text on the X clipboard', () => xclipOut() === 'from-the-panel-123');
	await page.click('#clipboard-close');

	// Browser → desktop through the async Clipboard API (permission granted by the test).
	await page.evaluate(() => navigator.clipboard.writeText('from-the-browser-456'));
	const at = await toPage(page, 300, 300);
	await page.mouse.move(at.x, at.y);
	await page.evaluate(() => window.dispatchEvent(new Event('focus')));
	await waitFor('the browser clipboard on the X clipboard', () => xclipOut() === 'from-the-browser-456');

	// Ctrl+V on the desktop sends the browser clipboard first, then the key.
	await page.evaluate(() => navigator.clipboard.writeText('from-ctrl-v-321'));
	await page.keyboard.press('Control+KeyV');
	await waitFor('Ctrl+V to carry the browser clipboard to X', () => xclipOut() === 'from-ctrl-v-321');
	await page.keyboard.press('Control+KeyC'); // drop the ^V the xterm got

	if (!toBrowser) {
		log('clipboard ok browser → desktop (desktop → browser not checked on this backend)');
		return;
	}
	// Desktop → browser: xclip owns the X CLIPBOARD; the page shows it and copies it.
	// -quiet keeps xclip in the foreground (tracked, killed at exit) while it owns CLIPBOARD.
	const owner = spawnLogged('xclip', ['-quiet', '-i', '-selection', 'clipboard'], {
		env: { DISPLAY: display },
		stdio: ['pipe', 'ignore', 'ignore'],
	});
	owner.stdin.end('from-the-desktop-789');
	await waitFor('the desktop clipboard in the page', () =>
		page.evaluate(() => window.argobox.remoteClipboard === 'from-the-desktop-789')
	);
	assert.equal(await page.inputValue('#clipboard-text'), 'from-the-desktop-789');
	await waitFor('the desktop clipboard on the browser clipboard', () =>
		page.evaluate(() => navigator.clipboard.readText()).then((t) => t === 'from-the-desktop-789')
	);
	log('clipboard ok both ways');
}

// The desktop has keyboard focus after connecting: keys typed without clicking arrive.
export async function checkFocus(page) {
	const active = await page.evaluate(() => document.activeElement?.tagName);
	assert.equal(active, 'CANVAS', 'keyboard focus should be on the desktop canvas');
}
