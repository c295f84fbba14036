// SPDX-License-Identifier: GPL-2.0-or-later
// Sign-in end to end in Chromium: argobox-broker with the sample's users and demo profiles
// (temp config, free loopback port) and the real argobox-session with the known desktop.
//  1. the landing page is signed out; a wrong password shows one message;
//  2. signing in as a member goes to /desktop.html, which reaches the desktop (pixels);
//  3. back on the landing page: signed in as that user; "Sign out" signs out (/api/me 401);
//  4. the demo link (another browser context): a demo desktop with pixels, /api/me role demo.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkPixels, openDesktop } from './checks.mjs';
import {
	brokerBinary,
	fail,
	freePort,
	launchChromium,
	log,
	makeTempDir,
	requireNoVNC,
	sourceDir,
	spawnLogged,
	stopProcess,
	tail,
	waitFor,
	webRoot,
	writeDesktopScript,
} from './lib.mjs';

const buildDir = process.env.AB_BUILD_DIR;
if (!buildDir) fail('AB_BUILD_DIR is not set');

async function startAuthBroker(dir, desktopCommand) {
	requireNoVNC();
	const bin = brokerBinary(buildDir);
	if (!fs.existsSync(bin)) throw new Error(`argobox-broker is not built: ${bin}`);
	const sample = JSON.parse(fs.readFileSync(path.join(sourceDir, 'config/argobox.sample.json'), 'utf8'));
	const port = await freePort();
	const config = {
		listen: { address: '127.0.0.1', port },
		web: { root: webRoot },
		session: { runtime_base: path.join(dir, 'run'), launcher: 'process', desktop_command: desktopCommand },
		audit: { path: path.join(dir, 'audit.log') },
		data: { dir: path.join(dir, 'data') },
		admin: { socket: path.join(dir, 'broker.sock') },
		auth: sample.auth,
		users: sample.users,
		profiles: sample.profiles,
	};
	const session = path.join(buildDir, 'session', 'argobox-session');
	if (fs.existsSync(session)) config.session.binary = session;
	const configFile = path.join(dir, 'broker.json');
	fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
	const logFile = path.join(dir, 'broker.log');
	const proc = spawnLogged(bin, ['--config', configFile], { logFile });
	const url = `http://127.0.0.1:${port}`;
	await waitFor('the broker to answer', async () => {
		try {
			return (await fetch(`${url}/healthz`)).status === 200;
		} catch {
			return false;
		}
	}, { timeout: 30000, interval: 100 });
	return { url, proc, logFile };
}

const dir = makeTempDir('argobox-e2e-auth-');
let browser;
let broker;
let page;
try {
	broker = await startAuthBroker(dir, [writeDesktopScript(dir)]);
	log(`broker at ${broker.url}`);
	browser = await launchChromium();

	// 1. signed out; a wrong password
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
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
	const dctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	page = await dctx.newPage();
	await page.goto(`${broker.url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	await page.check('#demo-developer');
	await page.click('#demo-start');
	await page.waitForURL('**/desktop.html', { timeout: 10000 });
	await openDesktop(page, broker.url);
	await checkPixels(page);
	const dme = await page.evaluate(async () => (await fetch('/api/me')).json());
	assert.equal(dme.role, 'demo');
	assert.ok(dme.expires_in_s > 0);
	log(`demo user ${dme.user}, profile ${JSON.stringify(dme.profile?.title ?? dme.profile)}`);
	await dctx.close();
	log('PASS');
} catch (e) {
	if (page) {
		try {
			await page.screenshot({ path: path.join(dir, 'failure.png') });
		} catch {
			// no page
		}
	}
	if (broker) log(`broker log:\n${tail(broker.logFile)}`);
	fail(e.stack || String(e));
} finally {
	if (browser) await browser.close();
	if (broker) await stopProcess(broker.proc);
}
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
