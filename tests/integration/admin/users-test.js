#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console's user management (broker/admin/users_admin.c, docs/admin.md "Users") over
// real HTTP on loopback: argobox-broker with the sample config's users (passwords
// "<name>-argobox") and the fake session of tests/integration/broker.
//   users-test.js actions    add, disable/enable, password, role, profile, unlock, VNC reset,
//                            delete keeping or removing the home: each applied at once (sign-in,
//                            sessions, admin routes) and audited; every refusal (bad input,
//                            your own account, unknown user, a member, no CSRF token) answered
//                            and audited, nothing changed
//   users-test.js restart    changes stored in <data.dir>/users.json (0600) survive a broker
//                            restart: the added user and the new password sign in
'use strict';
const assert = require('assert');
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('../../lib/node/broker.cjs');

const { waitFor } = lib;
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-users-', sigterm: true });
lib.onCleanup(() => lib.killFakeSessions(tmp));
const store = path.join(tmp, 'data', 'users.json');

const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles, vnc_gateway: { listen: '127.0.0.1:0' } });
const start = () => lib.startBroker({ tmp, cfg });
const req = (b, who, method, target, body, extra = {}) =>
	lib.http(b.port, method, target, { headers: lib.as(who, extra), body, origin: true });
const audits = (b, event) => lib.auditLines(b).filter((l) => l.event === event);
const loginStatus = async (b, user, password) =>
	(await lib.http(b.port, 'POST', '/api/login', { body: { user, password } })).status;
const act = (b, admin, user, action, body = {}) => req(b, admin, 'POST', `/api/admin/users/${user}/${action}`, body);

/* The last admin.user.<action> line: asserts its outcome, target and reason. */
function audited(b, action, outcome, target, reason) {
	const l = audits(b, `admin.user.${action}`).pop();
	assert.ok(l, `admin.user.${action} audited`);
	assert.strictEqual(l.outcome, outcome, `admin.user.${action} outcome`);
	assert.strictEqual(l.user, 'daniel');
	if (target !== undefined) assert.strictEqual(l.detail.target, target);
	if (reason) assert.match(l.detail.reason, reason);
	return l;
}

const tests = {
	async actions() {
		const b = await start();
		const admin = await lib.login(b, 'daniel');
		let r = await req(b, admin, 'GET', '/api/admin/users');
		assert.strictEqual(r.status, 200, r.body);
		assert.deepStrictEqual(r.json.users.map((u) => u.name), ['daniel', 'bogie', 'mauve', 'bea', 'demo']);
		assert.ok(r.json.profiles.includes('developer') && !r.json.profiles.includes('demo-homelab'), 'demo-link profiles are not offered');
		assert.ok(!fs.existsSync(store), 'no store before a change');

		// add: applied at once, stored 0600
		r = await req(b, admin, 'POST', '/api/admin/users', { name: 'zed', email: 'zed@example.org', role: 'member', profile: 'developer', password: 'zed-secret-1' });
		assert.strictEqual(r.status, 200, r.body);
		audited(b, 'add', 'grant', 'zed');
		assert.strictEqual(fs.statSync(store).mode & 0o777, 0o600);
		const stored = JSON.parse(fs.readFileSync(store, 'utf8'));
		const zed = stored.users.find((u) => u.name === 'zed');
		assert.match(zed.password_hash, /^\$y\$/);
		assert.ok(!JSON.stringify(stored).includes('zed-secret-1'), 'no clear-text password stored');
		const z = await lib.login(b, 'zed', 'zed-secret-1');
		assert.strictEqual(z.role, 'member');

		// refusals: answered, audited, nothing changed
		const before = fs.readFileSync(store, 'utf8');
		const bad = [
			['POST', '/api/admin/users', { name: 'Bad Name', role: 'member', profile: 'developer', password: 'long-enough' }, 400, 'add', /name:/],
			['POST', '/api/admin/users', { name: 'zed', role: 'member', profile: 'developer', password: 'long-enough' }, 409, 'add', /exists already/],
			['POST', '/api/admin/users', { name: 'amy', role: 'member', profile: 'developer', password: 'short' }, 400, 'add', /password:/],
			['POST', '/api/admin/users', { name: 'amy', role: 'member', profile: 'nope', password: 'long-enough' }, 400, 'add', /profile:/],
			['POST', '/api/admin/users', { name: 'amy', role: 'demo', profile: 'developer', password: 'long-enough' }, 400, 'add', /role:/],
			['POST', '/api/admin/users', { name: 'amy', role: 'member', profile: 'developer', password: 'long-enough', uid: 0 }, 400, 'add', /unknown field/],
			['POST', '/api/admin/users', { name: 'amy', email: 'BEA@argobox.example', role: 'member', profile: 'developer', password: 'long-enough' }, 400, 'add', /email/],
			['POST', '/api/admin/users/daniel/disable', {}, 403, 'disable', /your own account/],
			['POST', '/api/admin/users/daniel/delete', { home: 'keep' }, 403, 'delete', /your own account/],
			['POST', '/api/admin/users/daniel/role', { role: 'member' }, 403, 'role', /from yourself/],
			['POST', '/api/admin/users/bea/delete', {}, 400, 'delete', /home: say what happens/],
			['POST', '/api/admin/users/nobody/disable', {}, 404, 'disable', /no user 'nobody'/],
			['POST', '/api/admin/users/bea/role', { role: 'root' }, 400, 'role', /role:/],
			['POST', '/api/admin/users/bea/password', { password: 'x' }, 400, 'password', /password:/],
			['POST', '/api/admin/users/bea/frobnicate', {}, 404, 'frobnicate', /unknown action/],
		];
		for (const [method, target, body, status, action, reason] of bad) {
			r = await req(b, admin, method, target, body);
			assert.strictEqual(r.status, status, `${target} ${JSON.stringify(body)}: ${r.body}`);
			assert.match(r.json.error, reason);
			audited(b, action, 'deny', undefined, reason);
		}
		assert.strictEqual(fs.readFileSync(store, 'utf8'), before, 'refusals changed nothing');

		// disable: signed out, no sign-in, desktop stopped; enable again
		const bea = await lib.login(b, 'bea');
		await waitFor("bea's desktop ready", () => b.fakeLog('bea').includes('ready'));
		r = await act(b, admin, 'bea', 'disable');
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(r.json.sessions_ended, 1);
		assert.strictEqual(r.json.desktop, 'stopping');
		audited(b, 'disable', 'grant', 'bea');
		assert.strictEqual((await req(b, bea, 'GET', '/api/me')).status, 401, "bea's session ended");
		assert.strictEqual(await loginStatus(b, 'bea', 'bea-argobox'), 401, 'a disabled user cannot sign in');
		assert.ok(audits(b, 'auth.login').some((l) => l.user === 'bea' && l.detail.reason === 'account disabled by an administrator'));
		await waitFor("bea's desktop stopped", () => b.fakeLog('bea').includes('SIGTERM'));
		assert.strictEqual((await req(b, admin, 'GET', '/api/admin/users')).json.users.find((u) => u.name === 'bea').disabled, true);
		r = await act(b, admin, 'bea', 'enable');
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(await loginStatus(b, 'bea', 'bea-argobox'), 200);

		// password
		r = await act(b, admin, 'bea', 'password', { password: 'new-bea-pass' });
		assert.strictEqual(r.status, 200, r.body);
		audited(b, 'password', 'grant', 'bea');
		assert.ok(!JSON.stringify(audits(b, 'admin.user.password')).includes('new-bea-pass'), 'no password in the audit');
		assert.strictEqual(await loginStatus(b, 'bea', 'bea-argobox'), 401);
		assert.strictEqual(await loginStatus(b, 'bea', 'new-bea-pass'), 200);

		// role: bogie becomes an admin (his old member session ends), and the admin routes open
		const bogieOld = await lib.login(b, 'bogie');
		r = await act(b, admin, 'bogie', 'role', { role: 'admin' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual((await req(b, bogieOld, 'GET', '/api/me')).status, 401);
		const bogie = await lib.login(b, 'bogie');
		assert.strictEqual(bogie.role, 'admin');
		assert.strictEqual((await req(b, bogie, 'GET', '/api/admin/desktops')).status, 200);

		// profile
		r = await act(b, admin, 'mauve', 'profile', { profile: 'developer' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual((await req(b, admin, 'GET', '/api/admin/users')).json.users.find((u) => u.name === 'mauve').profile, 'developer');

		// unlock: five wrong passwords lock mauve out; the admin clears it
		for (let i = 0; i < 5; i++) await loginStatus(b, 'mauve', 'wrong');
		assert.strictEqual(await loginStatus(b, 'mauve', 'mauve-argobox'), 429, 'locked out');
		assert.ok((await req(b, admin, 'GET', '/api/admin/users')).json.users.find((u) => u.name === 'mauve').locked_s > 0, 'the list shows the lockout');
		r = await act(b, admin, 'mauve', 'unlock');
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(r.json.was_locked, true);
		audited(b, 'unlock', 'grant', 'mauve');
		assert.strictEqual(await loginStatus(b, 'mauve', 'mauve-argobox'), 200);

		// VNC reset: mauve's native VNC password revoked
		const mauve = await lib.login(b, 'mauve');
		r = await req(b, mauve, 'POST', '/api/vnc-password');
		assert.strictEqual(r.status, 200, r.body);
		r = await act(b, admin, 'mauve', 'vnc-reset');
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(r.json.revoked, true);
		audited(b, 'vnc-reset', 'grant', 'mauve');
		assert.strictEqual((await req(b, mauve, 'GET', '/api/vnc-password')).json.exists, false);
		r = await act(b, admin, 'mauve', 'vnc-reset');
		assert.strictEqual(r.json.revoked, false, 'nothing left to revoke');

		// delete: the home kept, or removed once the desktop is gone
		const homes = path.join(tmp, 'data', 'home');
		for (const u of ['mauve', 'bea']) {
			fs.mkdirSync(path.join(homes, u, 'docs'), { recursive: true });
			fs.writeFileSync(path.join(homes, u, 'docs', 'note.txt'), 'x');
		}
		fs.symlinkSync('/etc', path.join(homes, 'bea', 'etc-link'));
		r = await act(b, admin, 'mauve', 'delete', { home: 'keep' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(r.json.home, 'kept');
		assert.strictEqual(await loginStatus(b, 'mauve', 'mauve-argobox'), 401);
		assert.ok(fs.existsSync(path.join(homes, 'mauve', 'docs', 'note.txt')));
		await lib.login(b, 'bea', 'new-bea-pass');
		await waitFor("bea's desktop ready again", () => (b.fakeLog('bea').match(/ready/g) || []).length >= 2);
		r = await act(b, admin, 'bea', 'delete', { home: 'remove' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(r.json.home, 'removing');
		await waitFor("bea's home removed", () => !fs.existsSync(path.join(homes, 'bea')));
		assert.ok(fs.existsSync('/etc/passwd'), 'a link in the home was not followed');
		// the line follows the removal (the broker writes it once the last entry is gone)
		await waitFor('admin.user.home audited', () => audits(b, 'admin.user.home').some((l) => l.user === 'bea' && l.detail.reason === 'home removed'));
		const list = (await req(b, admin, 'GET', '/api/admin/users')).json.users.map((u) => u.name);
		assert.deepStrictEqual(list, ['daniel', 'bogie', 'demo', 'zed']);
		// the deleted keep their place (their container id slot) in the stored table
		assert.deepStrictEqual(JSON.parse(fs.readFileSync(store, 'utf8')).users.map((u) => [u.name, Boolean(u.deleted)]),
			[['daniel', false], ['bogie', false], ['mauve', true], ['bea', true], ['demo', false], ['zed', false]]);
		// and a deleted name can be given again (same place, same ids: a kept home comes back)
		r = await req(b, admin, 'POST', '/api/admin/users', { name: 'mauve', role: 'member', profile: 'homelabber', password: 'mauve-again' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual(await loginStatus(b, 'mauve', 'mauve-again'), 200);

		// a member: 403 on every users route, audited; an admin without CSRF: 403, audited
		const zz = await lib.login(b, 'zed', 'zed-secret-1');
		const routes = [['GET', '/api/admin/users'], ['POST', '/api/admin/users'], ...['disable', 'enable', 'password', 'role', 'profile', 'unlock', 'vnc-reset', 'delete'].map((a) => ['POST', `/api/admin/users/bogie/${a}`])];
		for (const [method, target] of routes) {
			const denied = audits(b, 'authz').length;
			r = await req(b, zz, method, target, method === 'POST' ? { home: 'keep', role: 'member', password: 'long-enough-1' } : undefined);
			assert.strictEqual(r.status, 403, `member ${method} ${target}`);
			const l = audits(b, 'authz').slice(denied).pop();
			assert.ok(l && l.outcome === 'deny' && l.user === 'zed', `member ${target} audited`);
			if (method === 'GET') continue;
			const csrf = audits(b, 'auth.csrf').length;
			r = await lib.http(b.port, method, target, { headers: { Cookie: admin.cookie }, body: { home: 'keep' }, origin: true });
			assert.strictEqual(r.status, 403, `no CSRF ${target}`);
			assert.strictEqual(audits(b, 'auth.csrf').length, csrf + 1, `no CSRF ${target} audited`);
		}
		assert.strictEqual(await loginStatus(b, 'bogie', 'bogie-argobox'), 200, 'bogie untouched');
		await lib.stopBroker(b);
	},

	async restart() {
		let b = await start();
		let admin = await lib.login(b, 'daniel');
		let r = await req(b, admin, 'POST', '/api/admin/users', { name: 'zed', role: 'member', profile: 'developer', password: 'zed-secret-1' });
		assert.strictEqual(r.status, 200, r.body);
		r = await act(b, admin, 'bea', 'password', { password: 'new-bea-pass' });
		assert.strictEqual(r.status, 200, r.body);
		r = await act(b, admin, 'bogie', 'disable');
		assert.strictEqual(r.status, 200, r.body);
		await lib.stopBroker(b);
		lib.killFakeSessions(tmp);

		b = await start();
		assert.match(b.log(), /user table: .*users\.json \(changed in the admin console\)/);
		assert.strictEqual(fs.statSync(store).mode & 0o777, 0o600);
		assert.strictEqual(await loginStatus(b, 'zed', 'zed-secret-1'), 200, 'the added user signs in after a restart');
		assert.strictEqual(await loginStatus(b, 'bea', 'new-bea-pass'), 200, 'the new password after a restart');
		assert.strictEqual(await loginStatus(b, 'bea', 'bea-argobox'), 401);
		assert.strictEqual(await loginStatus(b, 'bogie', 'bogie-argobox'), 401, 'still disabled');
		admin = await lib.login(b, 'daniel');
		r = await req(b, admin, 'GET', '/api/admin/users');
		assert.deepStrictEqual(r.json.users.map((u) => [u.name, u.disabled]), [['daniel', false], ['bogie', true], ['mauve', false], ['bea', false], ['demo', false], ['zed', false]]);
		await lib.stopBroker(b);

		// a damaged store: the broker refuses to start and says where
		fs.writeFileSync(store, '{"version":1,"users":[{"name":"x"}]}');
		const run = spawnSync(lib.paths.brokerBin, ['--config', path.join(tmp, 'broker.json')], { timeout: 20000 });
		assert.strictEqual(run.status, 1, 'the broker does not start on a damaged user table');
		assert.match(String(run.stderr), /user table '[^']*users\.json': users\[0\]/);
	},

	/* Audit alerts go to the admins of the current table: promoted, demoted or disabled by the
	 * console, with no restart (they went to the start's admins until the restart). */
	async alerts() {
		const acfg = JSON.parse(JSON.stringify(cfg));
		acfg.audit = Object.assign({}, acfg.audit, {
			alerts: { rules: [{ name: 'user-change', event: 'admin.user.', outcome: 'grant', threshold: 1, window_s: 60 }] },
		});
		const b = await lib.startBroker({ tmp, cfg: acfg });
		const admin = await lib.login(b, 'daniel');
		// daniel's and bogie's desktops run (a sign-in starts one; the fake session logs the
		// notifications it gets)
		await lib.login(b, 'bogie');
		await waitFor('both desktops', () => b.fakeLog('daniel').includes('ready') && b.fakeLog('bogie').includes('ready'));
		// who the alert went to: the admins of the table, with or without a desktop to show it on
		const notified = async (n) => {
			const l = await waitFor(`alert ${n}`, () => audits(b, 'audit.alert').filter((x) => x.detail.rule === 'user-change')[n - 1]);
			return [...l.detail.notified, ...l.detail.no_desktop].sort();
		};
		// promoted: the next alert reaches bogie's desktop too
		assert.strictEqual((await act(b, admin, 'bogie', 'role', { role: 'admin' })).status, 200);
		await notified(1);
		assert.strictEqual((await act(b, admin, 'bea', 'profile', { profile: 'developer' })).status, 200);
		assert.deepStrictEqual(await notified(2), ['bogie', 'daniel'], 'a promoted admin gets the alerts');
		await waitFor('the alert on bogie\'s desktop', () => /Audit alert: user-change/.test(b.fakeLog('bogie')));
		// demoted: no more alerts for him
		assert.strictEqual((await act(b, admin, 'bogie', 'role', { role: 'member' })).status, 200);
		await notified(3);
		const before = (b.fakeLog('bogie').match(/Audit alert/g) || []).length;
		assert.strictEqual((await act(b, admin, 'bea', 'profile', { profile: 'developer' })).status, 200);
		assert.deepStrictEqual(await notified(4), ['daniel'], 'a demoted admin no longer gets the alerts');
		await new Promise((r) => setTimeout(r, 300));
		assert.strictEqual((b.fakeLog('bogie').match(/Audit alert/g) || []).length, before, 'no alert reached the demoted admin\'s desktop');
		await lib.stopBroker(b);
	},
};

lib.runCase('users', tests);
