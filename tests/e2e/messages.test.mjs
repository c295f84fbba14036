// SPDX-License-Identifier: GPL-2.0-or-later
// Messages and notifications between two signed-in users in two browser contexts (issue 21,
// docs/messages.md), through the real broker, argobox-session and argobox-wm: bogie writes to
// bea from the desktop page's Messages panel (a text full of markup); bea's window manager
// shows it at once (the notification centre's mirror on her X root: a "Message from bogie"
// notification with the messages action, the messages panel holding the text as it was typed,
// the unread count), and her desktop page's panel lists it as text (no element made of it);
// with her tab hidden (and notifications allowed), the next one is a browser notification too.
// bea answers; bogie's desktop gets it too. A flood from the page gets the clear 429 message.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	buildDirOrFail, e2eTest, fail, launchChromium, log, sampleAccounts, signIn, startBroker, waitFor, writeDesktopCommand, xrun,
} from './lib.mjs';

const buildDir = buildDirOrFail();
const wmBin = path.join(buildDir, 'wm', 'argobox-wm');
if (!fs.existsSync(wmBin)) {
	fail(`argobox-wm is not built: expected ${wmBin}`);
}
const MARKUP = '<b>bold?</b> <span foreground="red">red?</span> & <script>alert(1)</script> ✓';

// The desktop: argobox-wm and an xterm; each user's DISPLAY lands in their runtime dir.
function writeDesktop(dir) {
	return writeDesktopCommand(dir, `exec '${wmBin}' --log-level debug\n`, '"$ARGOBOX_RUNTIME_DIR"');
}

// The notification centre's mirror on USER's X root (_ARGOBOX_NOTIFICATIONS), or null.
function centre(dir, user) {
	try {
		const display = fs.readFileSync(path.join(dir, 'run', user, 'display'), 'utf8').trim();
		const out = xrun(display, 'xprop', ['-root', '-notype', '_ARGOBOX_NOTIFICATIONS']);
		const i = out.indexOf(' = ');
		if (i < 0) return null;
		// xprop prints the string as a C-like literal: raw UTF-8, or octal escapes (C locale)
		const lit = out.slice(i + 3).trim();
		if (!/\\[0-7]{3}/.test(lit)) return JSON.parse(JSON.parse(lit));
		const bytes = JSON.parse(lit.replace(/\\([0-7]{3})/g, (_, o) => `\\u00${parseInt(o, 8).toString(16).padStart(2, '0')}`));
		return JSON.parse(Buffer.from(bytes, 'latin1').toString('utf8'));
	} catch {
		return null;
	}
}

async function openDesktop(browser, url, user) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log(`${user} page error:`, e.message));
	await signIn(page, url, user, `${user}-argobox`);
	await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	return page;
}

async function write(page, to, text) {
	if (await page.locator('#messages-panel').isHidden()) {
		await page.click('#btn-messages');
	}
	await page.fill('#messages-to', to);
	await page.fill('#messages-text', text);
	await page.click('#messages-send');
	await page.waitForFunction(() => !/Sending/.test(document.querySelector('#messages-status').textContent));
	return page.textContent('#messages-status');
}

await e2eTest('messages', async (t) => {
	const { dir } = t;
	const broker = (t.broker = await startBroker({
		buildDir, dir, desktopCommand: [writeDesktop(dir)], base: sampleAccounts(),
		config: { messages: { rate_burst: 5, rate_per_minute: 6 } },
	}));
	const browser = (t.browser = await launchChromium());
	const bogie = (t.page = await openDesktop(browser, broker.url, 'bogie'));
	const bea = await openDesktop(browser, broker.url, 'bea');
	await waitFor("bea's window manager", () => centre(dir, 'bea') !== null || fs.existsSync(path.join(dir, 'run', 'bea', 'display')));

	// bogie writes; bea's desktop shows it at once
	const sent = await write(bogie, 'bea', MARKUP);
	assert.match(sent, /Delivered to bea/);
	const got = await waitFor("the message on bea's desktop", () => {
		const c = centre(dir, 'bea');
		return c?.messages?.length ? c : null;
	});
	log(`bea's centre: ${JSON.stringify(got).slice(0, 300)}`);
	assert.equal(got.messages[0].from, 'bogie');
	assert.equal(got.messages[0].text, MARKUP);
	assert.equal(got.notifications[0].title, 'Message from bogie');
	assert.equal(got.notifications[0].action, 'messages');
	assert.ok(got.unread >= 1, 'unread count on the bell');

	// bea's page lists it as text
	await bea.click('#btn-messages');
	await bea.waitForSelector('#messages-list li .text');
	assert.equal(await bea.textContent('#messages-list li .text'), MARKUP);
	assert.equal(await bea.textContent('#messages-list li .from'), 'bogie');
	assert.equal(await bea.locator('#messages-list b, #messages-list script, #messages-list span[foreground]').count(), 0,
		'markup became elements');

	// with the tab hidden and notifications allowed, a new message is also a browser notification
	await bea.evaluate(() => {
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		window.raised = [];
		window.Notification = class {
			static permission = 'granted';
			constructor(title, opts) {
				window.raised.push({ title, body: opts.body });
			}
		};
	});
	assert.match(await write(bogie, 'bea', 'while you look away'), /Delivered/);
	await bea.evaluate(() => window.argoboxMessages.refreshInbox());
	assert.deepEqual(await bea.evaluate(() => window.raised), [{ title: 'Message from bogie', body: 'while you look away' }]);

	// bea answers; bogie's desktop gets it
	assert.match(await write(bea, 'bogie', 'got it, thanks'), /Delivered to bogie/);
	await waitFor("the answer on bogie's desktop", () => centre(dir, 'bogie')?.messages?.[0]?.text === 'got it, thanks');

	// a flood: the page says when to try again
	let last = '';
	for (let i = 0; i < 5 && !/Too many/.test(last); i++) {
		last = await write(bogie, 'bea', `flood ${i}`);
	}
	assert.match(last, /Too many messages: try again in \d+ s/);
	assert.equal(await bogie.getAttribute('#messages-status', 'class'), 'form-message error');
	const audit = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8');
	assert.ok(!audit.includes('alert(1)'), 'message text in the audit log');
	assert.match(audit, /"event":"message.send","outcome":"deny".*"rate limited"/);
}, { logs: ['broker.log'] });
