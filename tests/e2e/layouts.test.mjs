// SPDX-License-Identifier: GPL-2.0-or-later
// Keyboard layouts in Chromium through the broker (issue 24). The desktop is argobox-wm and an
// xterm (UTF-8) that appends every line typed to typed.txt. The browser runs in German without
// navigator.keyboard.getLayoutMap (as Firefox), so on this first sign-in its language decides:
// the page sends "de", the window manager takes it (setxkbmap -query) and keeps it in the desktop
// state. Then the user's list is set through the state API (PUT, applied live) and the layouts
// are switched by clicking the taskbar indicator on the canvas: de, us, fr (AZERTY), gb and
// us(intl) (dead keys), each typed with the physical keys a person with that keyboard presses,
// asserting the characters the xterm received.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildDirOrFail, desktopDisplay, e2eTest, fail, launchChromium, log, startBroker, toPage, waitFor, writeDesktopCommand, xrun } from './lib.mjs';

const buildDir = buildDirOrFail();
const wmBin = path.join(buildDir, 'wm', 'argobox-wm');
if (!fs.existsSync(wmBin)) {
	fail(`argobox-wm is not built: expected ${wmBin}`);
}

// Keys as a person presses them: 'KeyQ', 'Shift+Digit2', 'AltRight+KeyE'.
const TYPING = {
	de: { keys: ['Quote', 'Semicolon', 'BracketLeft', 'Minus', 'AltRight+KeyQ', 'AltRight+KeyE', 'KeyY', 'KeyZ', 'Equal', 'KeyE'], want: 'äöüß@€zyé' },
	us: { keys: ['Shift+Digit2', 'Shift+Digit3', 'KeyY', 'KeyZ', 'Semicolon', 'Backslash', 'Quote'], want: "@#yz;\\'" },
	fr: { keys: ['KeyQ', 'KeyA', 'KeyW', 'Semicolon', 'Digit2', 'Digit7', 'Digit0', 'AltRight+Digit0', 'Shift+Digit1'], want: 'aqzméèà@1' },
	gb: { keys: ['Shift+Digit2', 'Shift+Digit3', 'Backslash', 'Shift+Quote', 'KeyZ'], want: '"£#@z' },
	'us(intl)': { keys: ['Quote', 'KeyE', 'Shift+Quote', 'KeyU', 'Backquote', 'KeyA', 'Shift+Digit6', 'KeyO', 'Quote', 'Space'], want: "éüàô'" },
};

function writeDesktop(dir) {
	return writeDesktopCommand(
		dir,
		`cd '${dir}'
export LANG=C.UTF-8 LC_ALL=C.UTF-8 SHELL=/bin/sh
'${wmBin}' --log-level debug > '${dir}/wm.log' 2>&1 &
exec xterm -u8 -geometry 80x10+40+60 -fn fixed -bg '#f0c020' -fg black +sb \\
	-e sh -c 'while IFS= read -r l; do printf "%s\\n" "$l" >> typed.txt; done'
`
	);
}

async function pressAll(page, keys) {
	for (const k of keys) {
		const parts = k.split('+');
		const key = parts.pop();
		for (const m of parts) {
			await page.keyboard.down(m);
		}
		await page.keyboard.press(key);
		for (const m of parts.reverse()) {
			await page.keyboard.up(m);
		}
	}
}

function lines(dir) {
	try {
		return fs.readFileSync(path.join(dir, 'typed.txt'), 'utf8').split('\n').filter(Boolean);
	} catch {
		return [];
	}
}

await e2eTest('layouts', async (t) => {
	const { dir } = t;
	const broker = (t.broker = await startBroker({ buildDir, dir, desktopCommand: [writeDesktop(dir)] }));
	const browser = (t.browser = await launchChromium());
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
	// as in a browser without the Keyboard Map API: the language decides
	await ctx.addInitScript(() => {
		if (navigator.keyboard) {
			Object.defineProperty(navigator.keyboard, 'getLayoutMap', { value: undefined });
		}
	});
	const page = (t.page = await ctx.newPage());
	page.on('pageerror', (e) => log('page error:', e.message));
	await page.goto(`${broker.url}/desktop.html`);
	await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	const display = await desktopDisplay(dir);
	const query = () => xrun(display, 'setxkbmap', ['-query']);
	const current = () => {
		const q = query();
		const l = /^layout:\s*(\S+)/m.exec(q)?.[1];
		const v = /^variant:\s*(\S+)/m.exec(q)?.[1];
		return l && v ? `${l}(${v})` : l;
	};

	// first sign-in: the browser's layout (from its language) becomes the desktop's
	await waitFor("the browser's layout sent", () => page.evaluate(() => window.argobox.keyboard.sent));
	const kb = await page.evaluate(() => window.argobox.keyboard);
	log(`page: ${JSON.stringify(kb)}`);
	assert.deepEqual(kb, { layout: 'de', source: 'language', sent: true });
	await waitFor('the desktop to take de', () => current() === 'de');
	const me = await (await page.request.get(`${broker.url}/api/me`)).json().catch(() => ({}));
	const csrf = me.csrf_token ?? '';
	const getState = async () => (await (await page.request.get(`${broker.url}/api/desktops/local/state`)).json()).state;
	await waitFor('the layout in the stored desktop state', async () => (await getState())?.keyboard?.layout === 'de');
	log('first sign-in: de taken from the browser and stored');

	// the xterm has the focus (the only window); the canvas has the keyboard
	const at = await toPage(page, 300, 120);
	await page.mouse.click(at.x, at.y);
	const typeLine = async (layout) => {
		const before = lines(dir).length;
		await pressAll(page, TYPING[layout].keys);
		await page.keyboard.press('Enter');
		const got = await waitFor(`the ${layout} line in the xterm`, () => (lines(dir).length > before ? lines(dir).at(-1) : null));
		log(`${layout}: typed ${TYPING[layout].keys.join(' ')} -> ${JSON.stringify(got)}`);
		assert.equal(got, TYPING[layout].want, `characters typed with ${layout}`);
	};
	await typeLine('de');

	// the user's list, through the state API (applied live by the wm)
	const state = await getState();
	state.keyboard = { layout: 'de', layouts: ['de', 'us', 'fr', 'gb', 'us(intl)'] };
	const put = await page.request.put(`${broker.url}/api/desktops/local/state`, {
		data: state,
		headers: { 'X-CSRF-Token': csrf },
	});
	assert.equal(put.status(), 200, `PUT state: ${await put.text()}`);
	await waitFor('the list in the stored state', async () => (await getState())?.keyboard?.layouts?.length === 5);

	// the taskbar indicator, left of the notification bell (32 px and a gap of 8) on the bottom
	// bar, switches to the next layout
	for (const next of ['us', 'fr', 'gb', 'us(intl)']) {
		const label = current().toUpperCase().replace('(', '-').replace(')', '');
		const kw = 16 + 8 * label.length;
		const p = await toPage(page, 1280 - 12 - 56 - 94 - 40 - kw / 2, 800 - 22);
		await page.mouse.click(p.x, p.y);
		await waitFor(`the indicator to switch to ${next}`, () => current() === next);
		await page.mouse.click(at.x, at.y); // back to the xterm
		await typeLine(next);
	}
	await waitFor('the last layout stored', async () => (await getState())?.keyboard?.layout === 'us(intl)');

}, { logs: ['broker.log', 'wm.log'] });
