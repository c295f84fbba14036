// SPDX-License-Identifier: GPL-2.0-or-later
// The checks the desktop page must pass against any RFB backend: each one drives Chromium
// the way a person would and asserts on what the desktop (X server) and the page show.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
	sourceDir,
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

// The X server's framebuffer as RGB bytes (xwd -root: a 32-bit 0xRRGGBB ZPixmap).
function screenRGB(display) {
	const x = execFileSync('xwd', ['-root', '-silent'], { env: { ...process.env, DISPLAY: display }, maxBuffer: 64 << 20 });
	const hdr = (i) => x.readUInt32BE(4 * i);
	const [headerSize, w, h, byteOrder, bpp, bpl, ncolors] = [hdr(0), hdr(4), hdr(5), hdr(7), hdr(11), hdr(12), hdr(19)];
	assert.equal(bpp, 32, 'xwd: 32 bits a pixel');
	const off = headerSize + ncolors * 12;
	const rgb = Buffer.alloc(w * h * 3);
	for (let y = 0; y < h; y++) {
		for (let i = 0; i < w; i++) {
			const p = off + y * bpl + 4 * i, o = 3 * (y * w + i);
			if (byteOrder === 0) {
				rgb[o] = x[p + 2], rgb[o + 1] = x[p + 1], rgb[o + 2] = x[p];
			} else {
				rgb[o] = x[p + 1], rgb[o + 1] = x[p + 2], rgb[o + 2] = x[p + 3];
			}
		}
	}
	return { w, h, rgb };
}

// The canvas's pixels as RGBA bytes.
async function canvasRGBA(page) {
	const [w, h, b64] = await page.evaluate(() => {
		const cv = document.querySelector('#screen canvas');
		const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
		let s = '';
		for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
		return [cv.width, cv.height, btoa(s)];
	});
	return { w, h, rgba: Buffer.from(b64, 'base64') };
}

// A photo on the root window (the ArgoBox wallpaper, set by bench/ab-xroot): the session sends
// it to noVNC with Tight (JPEG at noVNC's quality 6 for photographic areas, palettes and fills
// elsewhere: session/tight.c), and once the picture stops changing re-sends the JPEG areas
// losslessly, so the canvas converges to the X server's framebuffer pixel for pixel.
export async function checkPhotoExact(page, display, buildDir, dir) {
	const size = screenSize(display);
	const ppm = path.join(dir, 'wallpaper.ppm');
	execFileSync('convert', [path.join(sourceDir, 'assets/wallpapers/calm-dusk.png'), '-resize', `${size.width}x${size.height}!`, ppm]);
	const t0 = Date.now();
	xrun(display, path.join(buildDir, 'bench', 'ab-xroot'), [ppm]);
	const screen = screenRGB(display);
	let worst = 0, polls = 0, lastDiff = -1;
	await waitFor('the canvas to equal the X screen pixel for pixel (lossless refinement)', async () => {
		const c = await canvasRGBA(page);
		polls++;
		if (c.w !== screen.w || c.h !== screen.h) return false;
		let diff = 0, big = 0;
		for (let i = 0, n = c.w * c.h; i < n; i++) {
			const d = Math.max(Math.abs(c.rgba[4 * i] - screen.rgb[3 * i]), Math.abs(c.rgba[4 * i + 1] - screen.rgb[3 * i + 1]), Math.abs(c.rgba[4 * i + 2] - screen.rgb[3 * i + 2]));
			if (d) diff++;
			if (d > 40) big++;
		}
		// not there yet: the old root, or JPEG pixels (close) waiting for their refinement
		if (diff && big < diff / 100) worst = Math.max(worst, diff);
		lastDiff = diff;
		return diff === 0;
	}, { timeout: 60000, interval: 100 });
	log(`photo exact on the canvas after ${Date.now() - t0} ms (${polls} looks; up to ${worst} pixels were close but not exact before: JPEG, then refined; last ${lastDiff})`);
}

// A browser reconnecting to an unchanged screen: once one page's whole first frame was encoded
// (and cached), the next page's comes from the session's first-frame cache (docs/session.md:
// its zlib streams reset, so it decodes whatever noVNC's streams held), and its canvas still
// converges to the X server's framebuffer pixel for pixel (the replayed JPEG areas refined).
export async function checkReplay(browser, url, display, logFile) {
	const replays = () => (fs.readFileSync(logFile, 'utf8').match(/first frame from the cache/g) || []).length;
	const before = replays();
	let after = before, page = null;
	// the first new page's frame may be encoded afresh (the screen changed since the last
	// whole-screen update): then the next one is the reconnect to an unchanged screen
	for (let i = 0; i < 4 && after === before; i++) {
		if (page) await page.context().close();
		page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
		await openDesktop(page, url);
		after = replays();
	}
	assert.ok(after > before, `a reconnecting page got the first frame from the cache (${before} -> ${after})`);
	let lastDiff = -1;
	await waitFor('the replayed canvas to equal the X screen pixel for pixel', async () => {
		const c = await canvasRGBA(page), screen = screenRGB(display);
		if (c.w !== screen.w || c.h !== screen.h) return false;
		let diff = 0;
		for (let i = 0, n = c.w * c.h; i < n; i++) {
			if (c.rgba[4 * i] !== screen.rgb[3 * i] || c.rgba[4 * i + 1] !== screen.rgb[3 * i + 1] || c.rgba[4 * i + 2] !== screen.rgb[3 * i + 2]) diff++;
		}
		lastDiff = diff;
		return diff === 0;
	}, { timeout: 60000, interval: 100 });
	// noVNC kept the connection: its zlib streams took everything after the replay
	const states = await page.evaluate(() => window.argobox.history);
	assert.ok(!states.includes('reconnecting'), `the replayed page stayed connected (states: ${states.join(' → ')})`);
	log(`replay ok: ${after - before} first frame(s) from the cache; the canvas equals the screen (last diff ${lastDiff})`);
	await page.context().close();
}
