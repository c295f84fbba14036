// SPDX-License-Identifier: GPL-2.0-or-later
// View-only share links in Chromium (issue 21, docs/sharing.md), through the real broker and
// argobox-session (the desktop: a known root colour and an xterm running a shell): bogie creates
// a link from the desktop page's Share panel; an anonymous browser context opens it and sees
// the desktop (pixels of the root and the xterm), while its keys never reach the shell; bogie's
// panel lists the viewer; bogie revokes it and the viewer's page says the share ended within a
// second; a second link made to expire in 10 s cuts its viewer off within a second of the
// expiry; a forged link and a malformed one never show a desktop.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
	ROOT_RGB, XTERM_BG_RGB, buildDirOrFail, e2eTest, launchChromium, log, near, pixel, sampleAccounts, signIn,
	startBroker, waitFor, writeDesktopScript,
} from './lib.mjs';

const buildDir = buildDirOrFail();

// A viewer's page in its own (signed-out) context, watching `url`.
async function watch(browser, url) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log('viewer page error:', e.message));
	await page.goto(url);
	// the moment the page says the share ended, as this browser's clock saw it
	await page.evaluate(() => {
		new MutationObserver(() => {
			if (document.body.dataset.state === 'ended' && !window.endedAt) window.endedAt = Date.now();
		}).observe(document.body, { attributes: true });
	});
	return page;
}

// When the broker ended the link (its share.revoke / share.expire audit line), in ms.
async function endedAtBroker(dir, event) {
	const line = await waitFor(`the ${event} audit line`, () => fs.readFileSync(path.join(dir, 'audit.log'), 'utf8')
		.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === event));
	return Date.parse(line.time);
}

await e2eTest('share', async (t) => {
	const { dir } = t;
	const broker = (t.broker = await startBroker({
		buildDir, dir, desktopCommand: [writeDesktopScript(dir)], base: sampleAccounts(),
		config: { share: { min_ttl_s: 1 } },
	}));
	const browser = (t.browser = await launchChromium());
	const octx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const owner = (t.page = await octx.newPage());
	await signIn(owner, broker.url, 'bogie', 'bogie-argobox');
	await owner.waitForSelector('body[data-state="connected"]', { timeout: 30000 });

	// a link from the Share panel, shown once
	await owner.click('#btn-share');
	await owner.selectOption('#share-ttl', '900');
	await owner.click('#share-create');
	await owner.waitForSelector('#share-new:not([hidden])');
	const link = await owner.inputValue('#share-url');
	assert.match(link, /\/share\.html#[0-9a-f]{64}$/);
	log(`link: ${link.replace(/#.*/, '#…')}`);

	// an anonymous viewer sees the desktop: the root colour and the xterm
	const viewer = await watch(browser, link);
	await viewer.waitForSelector('body[data-state="watching"]', { timeout: 20000 });
	await waitFor('the desktop on the viewer\'s canvas', async () => near(await pixel(viewer, 600, 500), ROOT_RGB));
	await waitFor('the xterm on the viewer\'s canvas', async () => near(await pixel(viewer, 60, 50), XTERM_BG_RGB));
	// typing on the viewer's page reaches nothing
	await viewer.click('#screen');
	await viewer.keyboard.type('touch viewer-typed\n');
	await new Promise((r) => setTimeout(r, 500));
	assert.ok(!fs.existsSync(path.join(dir, 'viewer-typed')), 'the viewer typed into the desktop');
	// the owner sees who watches
	await owner.click('#btn-share');
	await owner.click('#btn-share');
	await waitFor('the viewer in the owner\'s list', async () => /1 watching · opened by anonymous \(127\.0\.0\.1\)/.test(await owner.textContent('#share-list')));

	// revoked while open (the panel's Revoke): the viewer is cut off within a second
	await owner.click('#share-list li button');
	await viewer.waitForSelector('body[data-state="ended"]', { timeout: 5000 });
	const cut = (await viewer.evaluate(() => window.endedAt)) - (await endedAtBroker(dir, 'share.revoke'));
	log(`revoked: viewer cut off after ${cut} ms`);
	assert.ok(cut < 1000, `viewer cut off ${cut} ms after the revoke`);
	assert.match(await viewer.textContent('#share-status'), /share ended/);
	// the same link again: it does not open
	const again = await watch(browser, link);
	await again.waitForSelector('body[data-state="ended"]', { timeout: 10000 });
	assert.match(await again.textContent('#share-status'), /does not open/);

	// a link that expires while watched (10 s, through the API as the page's panel offers 15 min+)
	const csrf = (await (await owner.request.get(`${broker.url}/api/me`)).json()).csrf_token;
	const r = await owner.request.post(`${broker.url}/api/share`, { data: { expires_in_s: 10 }, headers: { 'X-CSRF-Token': csrf } });
	assert.equal(r.status(), 201, await r.text());
	const short = await r.json();
	const v2 = await watch(browser, `${broker.url}${short.url}`);
	await v2.waitForSelector('body[data-state="watching"]', { timeout: 20000 });
	await v2.waitForSelector('body[data-state="ended"]', { timeout: 15000 });
	const late = (await v2.evaluate(() => window.endedAt)) - (await endedAtBroker(dir, 'share.expire'));
	assert.ok((await endedAtBroker(dir, 'share.expire')) - short.expires * 1000 < 1500, 'the link outlived its expiry (expires: whole seconds)');
	log(`expired: viewer cut off ${late} ms after the expiry`);
	assert.ok(late < 1000, `viewer cut off ${late} ms after the expiry`);

	// forged and malformed links show no desktop
	const forged = await watch(browser, `${broker.url}/share.html#${crypto.randomBytes(32).toString('hex')}`);
	await forged.waitForSelector('body[data-state="ended"]', { timeout: 10000 });
	assert.equal(await forged.locator('#screen canvas').count() === 0 || !(await forged.evaluate(() => window.argoboxShare.rfb._rfbConnectionState === 'connected')), true);
	const bad = await watch(browser, `${broker.url}/share.html#not-a-token`);
	await bad.waitForSelector('body[data-state="invalid"]', { timeout: 10000 });
	const audit = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	assert.ok(audit.some((l) => l.event === 'share.view' && l.outcome === 'grant' && l.detail.owner === 'bogie'));
	assert.ok(audit.some((l) => l.event === 'share.view' && l.outcome === 'deny' && l.detail.reason === 'no such share link'));
	assert.ok(audit.some((l) => l.event === 'share.revoke' && l.detail.viewers_cut === 1));
	assert.ok(audit.some((l) => l.event === 'share.expire' && l.detail.viewers_cut === 1));
	assert.ok(!JSON.stringify(audit).includes(link.split('#')[1]), 'the token in the audit log');
}, { logs: ['broker.log'] });
