// SPDX-License-Identifier: GPL-2.0-or-later
// Sign-in end to end in Chromium: argobox-broker with the sample's users and demo profiles
// (temp config, free loopback port) and the real argobox-session with the known desktop.
//  1. the landing page is signed out; a wrong password shows one message;
//  2. signing in as a member goes to /desktop.html, which reaches the desktop (pixels);
//  3. back on the landing page: signed in as that user; "Sign out" signs out (/api/me 401);
//  4. the demo link (another browser context): a demo desktop with pixels, /api/me role demo.

import assert from 'node:assert/strict';
import { checkPixels, openDesktop } from './checks.mjs';
import { buildDirOrFail, demoSignIn, e2eTest, launchChromium, log, newPage, sampleAccounts, startBroker, waitFor, writeDesktopScript } from './lib.mjs';

const buildDir = buildDirOrFail();

await e2eTest('auth', async (t) => {
	const desktopCommand = [writeDesktopScript(t.dir)];
	const broker = (t.broker = await startBroker({ buildDir, dir: t.dir, desktopCommand, base: sampleAccounts() }));
	log(`broker at ${broker.url}`);
	const browser = (t.browser = await launchChromium());

	// 1. signed out; a wrong password
	let page = (t.page = await newPage(browser));
	const ctx = page.context();
	await page.goto(`${broker.url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	await page.fill('#login-username', 'bogie');
	await page.fill('#login-password', 'wrong');
	await page.click('#login-submit');
	await waitFor('the sign-in error', async () => (await page.textContent('#login-message')).length > 0 &&
		!(await page.textContent('#login-message')).includes('Signing'));
	log(`wrong password: "${await page.textContent('#login-message')}"`);
	assert.equal(new URL(page.url()).pathname, '/');

	// 2. sign in → the desktop
	await page.fill('#login-username', 'bogie');
	await page.fill('#login-password', 'bogie-argobox');
	const t0 = Date.now();
	await page.click('#login-submit');
	await page.waitForURL('**/desktop.html', { timeout: 10000 });
	await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
	log(`signed in to first frame: ${Date.now() - t0} ms`);
	await checkPixels(page);
	const me = await page.evaluate(async () => (await fetch('/api/me')).json());
	assert.equal(me.user, 'bogie');

	// 3. landing page: signed in; sign out
	await page.goto(`${broker.url}/`);
	await page.waitForSelector('body[data-auth="signed-in"]', { timeout: 10000 });
	assert.match(await page.textContent('#signed-in-name'), /bogie/);
	await page.click('#sign-out');
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
	// the desktop page now asks to sign in
	await page.goto(`${broker.url}/desktop.html`);
	await page.waitForSelector('body[data-state="failed"], body[data-state="disconnected"], body[data-state="reconnecting"]', { timeout: 20000 });
	assert.notEqual(await page.getAttribute('body', 'data-state'), 'connected');
	await ctx.close();

	// 4. the demo link
	page = t.page = await demoSignIn(browser, broker.url, 'developer');
	const dctx = page.context();
	await openDesktop(page, broker.url);
	await checkPixels(page);
	const dme = await page.evaluate(async () => (await fetch('/api/me')).json());
	assert.equal(dme.role, 'demo');
	assert.ok(dme.expires_in_s > 0);
	log(`demo user ${dme.user}, profile ${JSON.stringify(dme.profile?.title ?? dme.profile)}`);
	await dctx.close();
});
