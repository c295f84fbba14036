// SPDX-License-Identifier: GPL-2.0-or-later
// Native VNC access in Chromium (docs/vncgw.md): argobox-broker with the sample's users, the VNC
// gateway on an ephemeral loopback port and the real argobox-session with the known desktop.
//  1. a member signs in on the landing page and opens /vnc-access.html: the gateway's address,
//     no password yet; "Create password" shows one (once), styled: a visible box in a monospace
//     font that selects whole on a click (web/css/argobox.css: .vnc-facts, .vnc-secret, .vnc-note);
//  2. a native VNC client (libvncclient, VNC Authentication) signs in with it and sees the
//     desktop (the known root colour);
//  3. reloaded, the page no longer shows the password; "Revoke" revokes it and the client is
//     refused;
//  4. a demo identity gets the page's demo message, and no password.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT_RGB, buildDirOrFail, demoSignIn, e2eTest, launchChromium, log, newPage, sampleAccounts, signIn, startBroker, waitFor, writeDesktopScript } from './lib.mjs';

const buildDir = buildDirOrFail();
const client = path.join(buildDir, 'tests', 'integration', 'vncgw', 'ab_vncgw_client');

async function startVncBroker(dir) {
	const broker = await startBroker({ buildDir, dir, desktopCommand: [writeDesktopScript(dir)], base: sampleAccounts(), config: { vnc_gateway: { listen: '127.0.0.1:0' } } });
	broker.gport = await waitFor('the VNC gateway to listen', () => {
		const m = /vnc gateway listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(broker.logFile, 'utf8'));
		return m && Number(m[1]);
	}, { timeout: 30000 });
	return broker;
}

/* The native client: exit status and the share of the frame in the known root colour. */
function native(dir, gport, password) {
	const out = path.join(dir, 'frame');
	const hex = ROOT_RGB.map((c) => c.toString(16).padStart(2, '0')).join('');
	// waits for a frame with the root colour at (5,5), as the desktop page's checks do
	const r = spawnSync(client, ['127.0.0.1', String(gport), password, out, `${hex}@5,5`], { timeout: 30000 });
	if (r.status !== 0) return { code: r.status, stderr: String(r.stderr).slice(-400) };
	const d = fs.readFileSync(out);
	const nl = d.indexOf(10);
	const [w, h] = d.subarray(0, nl).toString().split(' ').map(Number);
	const root = (ROOT_RGB[0] << 16) | (ROOT_RGB[1] << 8) | ROOT_RGB[2];
	let n = 0;
	for (let i = 0; i < w * h; i++) if ((d.readUInt32LE(nl + 1 + 4 * i) & 0xffffff) === root) n++;
	return { code: 0, w, h, rootShare: n / (w * h) };
}

await e2eTest('vnc', async (t) => {
	const { dir } = t;
	if (!fs.existsSync(client)) throw new Error(`ab_vncgw_client is not built: ${client}`);
	const broker = (t.broker = await startVncBroker(dir));
	log(`broker at ${broker.url}, VNC gateway on port ${broker.gport}`);
	const browser = (t.browser = await launchChromium());

	// 1. sign in, open the page, create a password
	let page = (t.page = await newPage(browser));
	const ctx = page.context();
	await signIn(page, broker.url, 'bogie', 'bogie-argobox');
	await page.goto(`${broker.url}/vnc-access.html`);
	await page.waitForSelector('body[data-state="ready"]', { timeout: 10000 });
	assert.equal(await page.textContent('#vnc-address'), `127.0.0.1::${broker.gport}`);
	assert.equal(await page.textContent('#vnc-password-state'), 'none');
	assert.equal(await page.isDisabled('#vnc-revoke'), true);
	await page.click('#vnc-create');
	const password = await waitFor('the new password', async () => {
		const t = (await page.textContent('#vnc-password')).trim();
		return /^[A-Za-z2-9]{8}$/.test(t) && t;
	});
	await page.waitForSelector('#vnc-revoke:not([disabled])');
	assert.match(await page.textContent('#vnc-password-state'), /set \(shown below/);
	log(`created a VNC password; expires ${await page.textContent('#vnc-expires')}`);
	// the page's own classes are styled: the password in a monospace box, easy to select
	const look = await page.evaluate(() => {
		const css = (sel) => {
			const el = document.querySelector(sel);
			const cs = getComputedStyle(el);
			const r = el.getBoundingClientRect();
			return {
				font: cs.fontFamily, size: parseFloat(cs.fontSize), select: cs.userSelect || cs.webkitUserSelect,
				border: cs.borderTopStyle, display: cs.display, color: cs.color, bg: cs.backgroundColor,
				w: r.width, h: r.height, visible: r.width > 0 && r.height > 0 && cs.visibility === 'visible' && cs.opacity !== '0',
				inView: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth,
			};
		};
		const body = parseFloat(getComputedStyle(document.body).fontSize);
		// the same text in a monospace font and in the body's font: a monospace font gives
		// "iiiiiiii" and "WWWWWWWW" the same width
		const probe = (font) => {
			const c = document.createElement('canvas').getContext('2d');
			c.font = `20px ${font}`;
			return [c.measureText('iiiiiiii').width, c.measureText('WWWWWWWW').width];
		};
		return { secret: css('.vnc-secret'), facts: css('.vnc-facts'), note: css('.vnc-note'), body,
			secretWidths: probe(getComputedStyle(document.querySelector('.vnc-secret')).fontFamily) };
	});
	log(`styles: ${JSON.stringify(look)}`);
	assert.ok(look.secret.visible && look.secret.inView, 'the password box is visible on the first screen');
	assert.match(look.secret.font, /mono/i, 'the password is in a monospace font');
	assert.ok(Math.abs(look.secretWidths[0] - look.secretWidths[1]) < 0.5, `the password's font is monospaced: ${look.secretWidths}`);
	assert.ok(look.secret.size > look.body, 'the password is larger than the text around it');
	assert.equal(look.secret.select, 'all', 'a click selects the whole password');
	assert.notEqual(look.secret.border, 'none', 'the password sits in a box');
	assert.equal(look.facts.display, 'grid', '.vnc-facts lays out label and value side by side');
	assert.ok(look.note.visible, 'the note is visible');
	assert.notEqual(look.note.bg, 'rgba(0, 0, 0, 0)', '.vnc-note is set apart');
	if (process.env.AB_E2E_SHOT) await page.screenshot({ path: process.env.AB_E2E_SHOT, fullPage: true });

	// 2. a native client signs in with it and sees the desktop
	const seen = await waitFor('the native client to see the desktop', () => {
		const r = native(dir, broker.gport, password);
		assert.notEqual(r.code, 3, `the issued password was refused: ${r.stderr}`);
		if (r.code !== 0 || r.rootShare <= 0.3) log(`native client: ${JSON.stringify(r)}`);
		return r.code === 0 && r.rootShare > 0.3 && r;
	}, { timeout: 30000, interval: 200 });
	assert.deepEqual([seen.w, seen.h], [1280, 800]);
	log(`native client: ${seen.w}x${seen.h}, ${(seen.rootShare * 100).toFixed(0)}% root colour`);

	// 3. not shown again; revoke
	await page.reload();
	await page.waitForSelector('body[data-state="ready"]', { timeout: 10000 });
	assert.equal(await page.isHidden('#vnc-new'), true);
	assert.equal(await page.textContent('#vnc-password-state'), 'set (not shown again)');
	assert.ok(!(await page.content()).includes(password), 'the password is not on the page again');
	await page.click('#vnc-revoke');
	await waitFor('the revocation', async () => (await page.textContent('#vnc-password-state')) === 'none');
	assert.match(await page.textContent('#vnc-message'), /revoked/);
	assert.equal(native(dir, broker.gport, password).code, 3, 'a revoked password is refused');
	log('revoked; the native client is refused');
	await ctx.close();

	// 4. a demo identity
	page = t.page = await demoSignIn(browser, broker.url, 'developer');
	const dctx = page.context();
	await page.goto(`${broker.url}/vnc-access.html`);
	await page.waitForSelector('body[data-state="demo"]', { timeout: 10000 });
	assert.match(await page.textContent('#vnc-status'), /Demo desktops cannot/);
	assert.equal(await page.evaluate(async () => (await fetch('/api/vnc-password', { method: 'POST' })).status), 403);
	await dctx.close();
});
