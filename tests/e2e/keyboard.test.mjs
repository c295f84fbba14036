// SPDX-License-Identifier: GPL-2.0-or-later
// "It feels like a local desktop" (issue 24), in Chromium through the real broker and session:
//   - browser → desktop paste keeps every character (extended clipboard, UTF-8): CJK, emoji,
//     combining marks, RTL into an xterm by Ctrl+V, and 1 MB onto the X clipboard;
//   - Ctrl+V is order-safe: quick Ctrl+V presses with Ctrl let go before V always paste,
//     never type a bare "v";
//   - the "keep keys in the desktop" toggle is present and wired; the leave-page guard is set
//     while connected (a close asks first) and not after a disconnect.
// The desktop is an xterm (UTF-8) where Ctrl+V pastes CLIPBOARD, running `cat` into files.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildDirOrFail, desktopDisplay, e2eTest, launchChromium, log, newPage, startBroker, toPage, waitFor, writeDesktopCommand, xrun } from './lib.mjs';
import { typeWithShift } from './checks.mjs';

const buildDir = buildDirOrFail();

export const TEXTS = [
	'Grüße – 東京 – 🙂',
	'日本語のテキスト 한국어 中文',
	'😀👨‍👩‍👧 🏳️‍🌈',
	'é ñ ǟ ẛ̣',
	'שלום עולם مرحبا بالعالم',
];

// An xterm in UTF-8 where Ctrl+V pastes CLIPBOARD (as terminals people use do).
export function writeXtermDesktop(dir, extra = '') {
	return writeDesktopCommand(
		dir,
		`xsetroot -solid '#2878c8'
${extra}
cd '${dir}'
export SHELL=/bin/sh PS1='$ ' ENV= LANG=C.UTF-8 LC_ALL=C.UTF-8
exec xterm -u8 -geometry 80x10+40+40 -fn fixed -bg '#f0c020' -fg black -b 0 -bw 0 +sb \\
	-xrm 'XTerm*VT100.translations: #override Ctrl<Key>v: insert-selection(CLIPBOARD)' -e /bin/sh
`
	);
}

// Runs `cat > file` in the xterm, lets `act` type, ends the input and returns what cat wrote.
export async function catInto(page, dir, name, act) {
	const file = path.join(dir, name);
	await typeWithShift(page, `cat > ${name}`);
	await page.keyboard.press('Enter');
	await new Promise((r) => setTimeout(r, 150)); // cat starts
	await act();
	// an X paste is asynchronous (the xterm asks the selection owner): keys typed at machine
	// speed would overtake it, a person's would not
	await new Promise((r) => setTimeout(r, 300));
	await page.keyboard.press('Enter');
	await page.keyboard.press('Control+KeyD');
	return waitFor(`${name} written by cat`, () => {
		try {
			const t = fs.readFileSync(file, 'utf8');
			return t.endsWith('\n') ? t : null;
		} catch {
			return null;
		}
	});
}

export async function openXtermDesktop(page, url) {
	await page.goto(`${url}/desktop.html`);
	await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	const at = await toPage(page, 200, 80);
	await page.mouse.click(at.x, at.y);
}

if (import.meta.url === `file://${process.argv[1]}`) {
	await e2eTest('keyboard', async (t) => {
		const { dir } = t;
		const broker = (t.broker = await startBroker({ buildDir, dir, desktopCommand: [writeXtermDesktop(dir)] }));
		const browser = (t.browser = await launchChromium());
		const page = (t.page = await newPage(browser, { clipboard: broker.url }));
		await openXtermDesktop(page, broker.url);
		const display = await desktopDisplay(dir);
		const xclipOut = () => {
			try {
				return xrun(display, 'xclip', ['-o', '-selection', 'clipboard']);
			} catch {
				return null;
			}
		};
		// the page has the extended clipboard from the session (noVNC then sends UTF-8)
		assert.ok(
			await page.evaluate(() => window.argobox.rfb._clipboardServerCapabilitiesActions[1 << 27]),
			'the session announces the extended clipboard notify action'
		);

		// 1. Unicode by Ctrl+V into the xterm: what cat writes is exactly the text
		for (const [i, text] of TEXTS.entries()) {
			await page.evaluate((t) => navigator.clipboard.writeText(t), text);
			const got = await catInto(page, dir, `u${i}.txt`, () => page.keyboard.press('Control+KeyV'));
			assert.equal(got, `${text}\n`, `Ctrl+V pasted '${text}' into the xterm`);
			log(`pasted into the xterm: ${text}`);
		}
		// 1 MB through the page onto the X clipboard (an xterm line is not the place for it)
		const unit = 'Grüße 東京 🙂 é שלום\n';
		const big = unit.repeat(Math.ceil(1e6 / Buffer.byteLength(unit))).slice(0, 1e6 / 2);
		const t0 = Date.now();
		await page.evaluate((t) => window.argobox.sendClipboard(t), big);
		await waitFor('1 MB of UTF-8 on the X clipboard', () => xclipOut() === big, { timeout: 30000 });
		log(`${Buffer.byteLength(big)} bytes of UTF-8 on the X clipboard in ${Date.now() - t0} ms`);
		const bigger = unit.repeat(Math.ceil(1e6 / Buffer.byteLength(unit)));
		const full = Buffer.from(bigger).subarray(0, 1000000).toString('utf8').replace(/\uFFFD$/, '');
		const t1 = Date.now();
		await page.evaluate((t) => window.argobox.sendClipboard(t), full);
		await waitFor('1 MB of UTF-8 on the X clipboard', () => xclipOut() === full, { timeout: 30000 });
		log(`${Buffer.byteLength(full)} bytes of UTF-8 on the X clipboard in ${Date.now() - t1} ms`);

		// 2. Ctrl+V race: Ctrl let go before V, quick presses; every one pastes, no bare v
		await page.evaluate(() => navigator.clipboard.writeText('P'));
		const presses = 10;
		// cat without line editing (stty -icanon) writes each pasted character at once, so the
		// test sees every paste arrive, however slowly the machine answers the X requests
		await typeWithShift(page, 'stty -icanon; cat > race.txt');
		await page.keyboard.press('Enter');
		const raceFile = path.join(dir, 'race.txt');
		await waitFor('cat to start', () => fs.existsSync(raceFile));
		// Each press lets Ctrl go while the page still reads the clipboard. Presses are a person's
		// pace apart (150 ms): xterm loses a paste whose selection request overlaps the previous
		// one (same property), which is xterm's, not the race under test.
		for (let i = 0; i < presses; i++) {
			await page.keyboard.down('Control');
			await page.keyboard.down('KeyV');
			await page.keyboard.up('Control');
			await page.keyboard.up('KeyV');
			await waitFor('the held keys to be replayed', () => page.evaluate(() => !window.argobox.paste.busy));
			await new Promise((r) => setTimeout(r, 150));
		}
		const read = () => fs.readFileSync(raceFile, 'utf8');
		await waitFor(`${presses} pastes`, () => read().length >= presses, { timeout: 30000 });
		await new Promise((r) => setTimeout(r, 500)); // anything more (a bare v) would show now
		const raced = read();
		await page.keyboard.press('Control+KeyC');
		await typeWithShift(page, 'stty sane');
		await page.keyboard.press('Enter');
		const p = await page.evaluate(() => window.argobox.paste);
		log(`${presses} quick Ctrl+V (Ctrl released first) gave ${JSON.stringify(raced)} (${p.count} clipboard reads, ${p.replayedKeys} keys held and replayed)`);
		assert.ok(!raced.includes('v'), 'no bare v reached the desktop');
		assert.equal(raced, 'P'.repeat(presses), 'every Ctrl+V pasted');
		// and typing still works normally afterwards (no key left held)
		const after = await catInto(page, dir, 'after.txt', () => typeWithShift(page, 'vVv'));
		assert.equal(after, 'vVv\n');

		// 5. Keep keys in the desktop: present, wired; the leave guard follows the connection
		assert.ok(await page.isVisible('#btn-keep-keys'), 'the keep-keys toggle is in the toolbar');
		assert.equal(await page.getAttribute('#btn-keep-keys', 'aria-pressed'), 'false');
		const supported = await page.evaluate(() => window.argobox.keyLock.supported);
		await page.click('#btn-keep-keys');
		await waitFor('the toggle to switch on', async () =>
			(await page.getAttribute('#btn-keep-keys', 'aria-pressed')) === 'true'
		);
		const st = await waitFor('the key lock applied', () =>
			page.evaluate(() => {
				const k = window.argobox.keyLock;
				return document.fullscreenElement && (k.locked || !k.supported) ? { ...k } : null;
			})
		);
		log(`keep keys: Keyboard Lock API ${supported ? 'present' : 'absent'}, state ${JSON.stringify(st)}, data-keylock=${await page.getAttribute('body', 'data-keylock')}`);
		assert.equal(await page.evaluate(() => localStorage.getItem('argobox.keepKeys')), '1');
		await page.click('#btn-keep-keys');
		await waitFor('the lock released', () => page.evaluate(() => !window.argobox.keyLock.locked));
		assert.equal(await page.getAttribute('#btn-menu', 'aria-expanded'), 'false');
		await page.click('#btn-menu');
		assert.equal(await page.getAttribute('#menu-keep-keys', 'aria-checked'), 'false');
		await page.keyboard.press('Escape');
		if (await page.evaluate(() => Boolean(document.fullscreenElement))) {
			await page.evaluate(() => document.exitFullscreen());
		}

		assert.equal(await page.evaluate(() => window.argobox.leaveGuard), true, 'leave guard set while connected');
		const dialogs = [];
		page.on('dialog', (d) => {
			dialogs.push(d.type());
			d.dismiss(); // stay
		});
		await page.close({ runBeforeUnload: true });
		await waitFor('the leave-page confirmation', () => dialogs.includes('beforeunload'));
		assert.equal(page.isClosed(), false, 'dismissing the confirmation keeps the page');
		log(`closing the connected page asked first (${dialogs.join(', ')})`);
		await page.evaluate(() => window.argobox.disconnect());
		await page.waitForSelector('body[data-state="disconnected"]');
		assert.equal(await page.evaluate(() => window.argobox.leaveGuard), false, 'no guard once disconnected');

	});
}
