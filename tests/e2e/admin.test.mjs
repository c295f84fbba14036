// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console (/admin.html, docs/admin.md) in Chromium: argobox-broker with the sample's
// users and the fake session of tests/integration/broker (process launcher: desktops start in
// milliseconds; the API's own tests cover the backend).
//  1. the admin signs in on the landing page; the desktop menu offers the admin console;
//  2. /admin.html lists the four running desktops live (and the landing page's showcase
//     desktop, when its preview started one); search, profile filter and sorting;
//     "Watch" opens the read-only view (/desktop.html?watch=USER);
//  3. two desktops selected, Stop: the confirmation names the count and the users; the rows go
//     without a reload (the live channel), the sessions got SIGTERM;
//  4. broadcast to one user: the page says who got it, the session got the notify;
//  5. the desktop state viewer draws a stored layout (windows with titles, taskbar,
//     workspaces) beside its JSON, and Reset clears it;
//  6. the audit pane lists events, filtered by event; the users pane adds a user, sets a
//     password and disables the account (the API agrees); the services pane shows a service's
//     state and history and runs a diagnostic;
//  7. a member: no admin link in the desktop menu, /admin.html says admins only and fetches
//     nothing, every admin route answers 403.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import lib from '../lib/node/broker.cjs';
import { buildDirOrFail, e2eTest, freePort, launchChromium, log, newPage, sampleAccounts, signIn, sourceDir, startBroker, waitFor } from './lib.mjs';

const buildDir = buildDirOrFail();
const fakeSession = path.join(sourceDir, 'tests/integration/broker/fake-session.js');
const fakeLog = (dir, u) => {
	try {
		return fs.readFileSync(path.join(dir, 'run', u, 'fake.log'), 'utf8');
	} catch {
		return '';
	}
};

await e2eTest('admin', async (t) => {
	const { dir } = t;
	t.stop = async () => lib.killFakeSessions(dir);
	const port = await freePort();
	const broker = (t.broker = await startBroker({
		buildDir, dir, port, desktopCommand: ['true'], base: sampleAccounts(),
		// one service: the broker's own /healthz, checked every second
		config: { session: { binary: fakeSession }, services: [{ name: 'self', title: 'Broker', url: `http://127.0.0.1:${port}/healthz`, check: { interval_ms: 1000 } }] },
	}));
	const members = {};
	for (const u of ['bogie', 'mauve', 'bea']) members[u] = await lib.login(broker, u);
	const browser = (t.browser = await launchChromium());

	// 1. the admin signs in; the desktop menu links the console
	const page = (t.page = await newPage(browser));
	await signIn(page, broker.url, 'daniel', 'daniel-argobox');
	await waitFor('the admin link in the menu', () => page.evaluate(() => !document.getElementById('menu-admin').hidden), { timeout: 10000 });
	for (const u of ['daniel', 'bogie', 'mauve', 'bea']) await waitFor(`${u}'s desktop ready`, () => fakeLog(dir, u).includes('ready'));

	// 2. the dashboard
	await page.goto(`${broker.url}/admin.html`);
	await page.waitForSelector('body[data-state="ready"]', { timeout: 10000 });
	// the landing page's showcase desktop (demo-...) may be listed too: left out here
	const users = async () => (await page.$$eval('#desk-rows tr', (rows) => rows.map((r) => r.dataset.user))).filter((u) => !u.startsWith('demo-'));
	await waitFor('four desktops listed', async () => (await users()).length === 4, { timeout: 10000 });
	assert.deepEqual(await users(), ['bea', 'bogie', 'daniel', 'mauve']);
	assert.equal(await page.textContent('#desk-rows tr[data-user="bea"] td.col-profile'), 'developer');
	assert.equal(await page.textContent('#desk-rows tr[data-user="bea"] td.col-state'), 'ready');
	assert.match(await page.textContent('#desk-rows tr[data-user="bea"] td.col-memory'), /MiB \/ \d+ MiB/);
	assert.match(await page.textContent('#desk-rows tr[data-user="bea"] td.col-clients'), /web, 0 VNC/);
	await page.fill('#desk-search', 'mau');
	assert.deepEqual(await users(), ['mauve']);
	await page.fill('#desk-search', '');
	await page.selectOption('#desk-profile', 'homelabber');
	assert.deepEqual(await users(), ['bogie', 'mauve']);
	await page.selectOption('#desk-profile', '');
	await page.click('th[data-sort="user"]'); // already ascending: now descending
	assert.deepEqual(await users(), ['mauve', 'daniel', 'bogie', 'bea']);
	await page.click('th[data-sort="profile"]');
	assert.deepEqual((await users()).slice(0, 1), ['daniel']); // "admin" sorts first
	assert.equal(await page.getAttribute('#desk-rows tr[data-user="bea"] a', 'href'), '/desktop.html?watch=bea');
	// each row on screen asks for its thumbnail (the fake session has no framebuffer to give)
	await waitFor("bea's thumbnail asked for", async () =>
		/^\/api\/admin\/desktops\/bea\/thumbnail\?width=192&n=\d+$/.test(await page.getAttribute('#desk-rows tr[data-user="bea"] img.thumb', 'src') ?? ''), { timeout: 10000 });

	// 3. bulk stop with a confirmation naming the count
	await page.check('#desk-rows tr[data-user="bogie"] input[type="checkbox"]');
	await page.check('#desk-rows tr[data-user="mauve"] input[type="checkbox"]');
	await page.click('#bulk-stop');
	await page.waitForSelector('#confirm-dialog[open]');
	assert.equal(await page.textContent('#confirm-title'), 'Stop 2 desktops?');
	assert.match(await page.textContent('#confirm-text'), /^bogie, mauve\./);
	assert.equal(await page.textContent('#confirm-ok'), 'Stop 2');
	const loads = [];
	page.on('load', () => loads.push(Date.now()));
	await page.click('#confirm-ok');
	await waitFor('the stop answered', async () => /Stop: 2 done/.test(await page.textContent('#desk-message')), { timeout: 10000 });
	await waitFor('the rows gone live', async () => (await users()).length === 2, { timeout: 10000 });
	assert.deepEqual([...(await users())].sort(), ['bea', 'daniel']);
	assert.equal(loads.length, 0, 'no reload');
	assert.ok(fakeLog(dir, 'bogie').includes('SIGTERM') && fakeLog(dir, 'mauve').includes('SIGTERM'));

	// 4. broadcast to one user
	await page.click('#tab-broadcast');
	await page.selectOption('#bc-to', 'user');
	await page.fill('#bc-target', 'bea');
	await page.fill('#broadcast-form textarea[name="body"]', 'Backup at noon');
	await page.click('#broadcast-form button[type="submit"]');
	await waitFor('the broadcast answered', async () => /Delivered to 1 desktop: bea/.test(await page.textContent('#bc-message')), { timeout: 5000 });
	await waitFor('bea got it', () => /control notify .*Backup at noon/.test(fakeLog(dir, 'bea')), { timeout: 5000 }); // within 1 s: admin_api_broadcast

	// 5. the desktop state viewer
	const admin = await lib.login(broker, 'daniel');
	const cur = await lib.http(broker.port, 'GET', '/api/desktops/bea/state', { headers: lib.as(admin), origin: true });
	const state = {
		...cur.json.state,
		windows: [
			{ app: { class: 'XTerm' }, title: 'bea@argobox: ~', workspace: 0, x: 60, y: 90, w: 480, h: 300, stack: 0 },
			{ app: { class: 'Vim' }, title: 'notes.txt', workspace: 0, x: 400, y: 200, w: 500, h: 320, stack: 1 },
		],
		taskbar: { position: 'bottom', pinned: ['xterm.desktop'], autohide: false },
	};
	const put = await lib.http(broker.port, 'PUT', '/api/desktops/bea/state', { headers: lib.as(admin), body: state, origin: true });
	assert.equal(put.status, 200, put.body);
	await page.click('#tab-state');
	await page.fill('#state-user', 'bea');
	await page.click('#state-form button[type="submit"]');
	await page.waitForSelector('#state-svg g.window', { timeout: 5000 });
	assert.deepEqual(await page.$$eval('#state-svg g.window', (g) => g.map((x) => x.dataset.title)), ['bea@argobox: ~', 'notes.txt']);
	assert.equal(await page.$$eval('#state-svg rect.taskbar', (r) => r.length), 1);
	assert.equal(await page.$$eval('#state-svg rect.ws', (r) => r.length), state.workspaces.count);
	assert.equal(JSON.parse(await page.textContent('#state-json')).windows.length, 2);
	await page.click('#state-reset');
	await page.click('#confirm-ok');
	await waitFor('the layout reset', async () => /layout was reset/.test(await page.textContent('#state-message')), { timeout: 5000 });
	const after = await lib.http(broker.port, 'GET', '/api/desktops/bea/state', { headers: lib.as(admin), origin: true });
	assert.ok(!after.json?.state?.windows?.some((w) => w.title === 'notes.txt'), 'reset stored');

	// 6. the audit pane, filtered
	await page.click('#tab-audit');
	await waitFor('audit rows', async () => (await page.$$('#audit-rows tr')).length > 0, { timeout: 10000 });
	await page.fill('#audit-form input[name="event"]', 'admin.desktop.stop');
	await page.click('#audit-form button[type="submit"]');
	await waitFor('the filtered audit', async () => {
		const ev = await page.$$eval('#audit-rows tr td:nth-child(2)', (c) => c.map((x) => x.textContent));
		return ev.length === 2 && ev.every((e) => e === 'admin.desktop.stop');
	}, { timeout: 10000 });

	// 6b. the users pane: add a user, set a password (prompt), disable; the API agrees
	await page.click('#tab-users');
	await page.waitForSelector('#users-rows tr[data-user="bogie"]', { timeout: 10000 });
	await page.fill('#user-add input[name="name"]', 'amy');
	await page.fill('#user-add input[name="email"]', 'amy@argobox.example');
	await page.selectOption('#user-add select[name="profile"]', 'developer');
	await page.fill('#user-add input[name="password"]', 'amy-first-pass');
	await page.click('#user-add button[type="submit"]');
	await page.waitForSelector('#users-rows tr[data-user="amy"]', { timeout: 5000 });
	assert.equal(await page.textContent('#users-message'), 'amy added.');
	assert.equal((await lib.login(broker, 'amy', 'amy-first-pass')).role, 'member');
	page.once('dialog', (d) => d.accept('amy-second-pass'));
	await page.click('#users-rows tr[data-user="amy"] button:has-text("Password…")');
	await waitFor('the password changed', async () => /amy: password changed/.test(await page.textContent('#users-message')), { timeout: 5000 });
	await lib.login(broker, 'amy', 'amy-second-pass');
	await page.click('#users-rows tr[data-user="amy"] button:has-text("Disable")');
	await waitFor('amy disabled', async () => (await page.textContent('#users-rows tr[data-user="amy"] td.status')) === 'disabled', { timeout: 5000 });
	const denied = await lib.http(broker.port, 'POST', '/api/login', { body: { user: 'amy', password: 'amy-second-pass' } });
	assert.equal(denied.status, 401, 'a disabled user cannot sign in');

	// 6c. the services pane: the health board with its history, and a diagnostic
	await page.click('#tab-services');
	await waitFor('the service up with checks in its history', async () => {
		await page.click('#svc-refresh');
		await page.waitForTimeout(300);
		return (await page.textContent('#svc-rows tr[data-service="self"] td.svc-state').catch(() => '')) === 'up' &&
			(await page.$$('#svc-rows tr[data-service="self"] .svc-history span.ok')).length >= 1;
	}, { timeout: 15000 });
	await page.click('#svc-rows tr[data-service="self"] button:has-text("Diagnose")');
	await waitFor('the diagnostic', async () => /self: all steps passed/.test(await page.textContent('#svc-message')), { timeout: 15000 });
	assert.equal(JSON.parse(await page.textContent('#svc-diag')).ok, true);

	// 7. a member: no admin UI, no data
	const mp = await newPage(browser);
	await signIn(mp, broker.url, 'bea', 'bea-argobox');
	await mp.waitForFunction(() => document.getElementById('menu-user').textContent === 'bea', null, { timeout: 10000 });
	assert.equal(await mp.evaluate(() => document.getElementById('menu-admin').hidden), true, 'no admin link for a member');
	const asked = [];
	mp.on('request', (r) => asked.push(new URL(r.url()).pathname));
	await mp.goto(`${broker.url}/admin.html`);
	await mp.waitForSelector('body[data-state="forbidden"]', { timeout: 10000 });
	assert.equal(await mp.isVisible('#admin-ui'), false);
	assert.match(await mp.textContent('#admin-status'), /administrators only/);
	assert.deepEqual(asked.filter((p) => p.startsWith('/api/')), ['/api/me'], 'a member fetches no admin data');
	const codes = await mp.evaluate(async () => {
		const out = {};
		for (const p of ['/api/admin/desktops', '/api/admin/events', '/api/admin/audit', '/api/admin/users'])
			out[p] = (await fetch(p)).status;
		return out;
	});
	assert.deepEqual(codes, { '/api/admin/desktops': 403, '/api/admin/events': 403, '/api/admin/audit': 403, '/api/admin/users': 403 });
	log('admin console: dashboard, bulk stop, broadcast, state viewer, audit; member refused');
});
