#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console's API (broker/admin/admin_api.c, docs/admin.md) over real HTTP on loopback:
// argobox-broker with the sample config's users (passwords "<name>-argobox") and the fake
// session from tests/integration/broker (process launcher).
//   admin-test.js desktops   list, bulk stop / restart / destroy of several real desktops
//                            answered per user, each audited; the live channel (SSE)
//   admin-test.js refusals   a member: 403 on every admin route, audited; no CSRF token: 403 on
//                            every state-changing admin route, audited (auth.csrf); bad input
//   admin-test.js broadcast  a message to one user, a profile, everyone: the session gets a
//                            "notify" on its control channel within a second
'use strict';
const assert = require('assert');
const net = require('net');
const lib = require('../../lib/node/broker.cjs');

const { waitFor, sleep } = lib;
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-admin-', sigterm: true });
lib.onCleanup(() => lib.killFakeSessions(tmp));

/* Every state-changing admin route of this area (the users routes join in users-test.js). */
const WRITES = [
	['POST', '/api/admin/desktops/stop', { users: ['bogie'] }],
	['POST', '/api/admin/desktops/restart', { users: ['bogie'] }],
	['POST', '/api/admin/desktops/destroy', { users: ['bogie'] }],
	['POST', '/api/admin/broadcast', { to: 'all', body: 'x' }],
];
const READS = ['/api/admin/desktops', '/api/admin/events'];

async function start() {
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles });
	return lib.startBroker({ tmp, cfg });
}
const req = (b, who, method, target, body, extra = {}) =>
	lib.http(b.port, method, target, { headers: lib.as(who, extra), body, origin: true });
const ready = (b, user) => waitFor(`${user}'s desktop ready`, () => b.fakeLog(user).includes('ready'));
const audits = (b, event) => lib.auditLines(b).filter((l) => l.event === event);

/* Opens GET /api/admin/events; events() returns the parsed {event, data} seen so far. */
function sse(b, who) {
	const got = [];
	let text = '';
	const s = net.connect(b.port, '127.0.0.1', () => {
		s.write(`GET /api/admin/events HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nCookie: ${who.cookie}\r\n\r\n`);
	});
	s.on('data', (d) => {
		text += d;
		for (let i; (i = text.indexOf('\n\n')) >= 0;) {
			const block = text.slice(0, i);
			text = text.slice(i + 2);
			const ev = /^event: (.*)$/m.exec(block), data = /^data: (.*)$/m.exec(block);
			if (ev && data) got.push({ event: ev[1], data: JSON.parse(data[1]) });
		}
	});
	s.on('error', () => {});
	return { events: () => got, close: () => s.destroy() };
}

const tests = {
	async desktops() {
		const b = await start();
		const admin = await lib.login(b, 'daniel');
		const members = [];
		for (const u of ['bogie', 'mauve', 'bea']) members.push(await lib.login(b, u));
		for (const u of ['daniel', 'bogie', 'mauve', 'bea']) await ready(b, u);

		const live = sse(b, admin);
		let r = await req(b, admin, 'GET', '/api/admin/desktops');
		assert.strictEqual(r.status, 200, r.body);
		const rows = new Map(r.json.desktops.map((d) => [d.user, d]));
		assert.deepStrictEqual([...rows.keys()].sort(), ['bea', 'bogie', 'daniel', 'mauve']);
		const bea = rows.get('bea');
		assert.strictEqual(bea.profile, 'developer');
		assert.strictEqual(bea.state, 'ready');
		assert.strictEqual(bea.network, sample.profiles.developer.network.egress);
		assert.strictEqual(bea.limits.memory_mb, sample.profiles.developer.limits.memory_mb);
		assert.strictEqual(bea.limits.pids, sample.profiles.developer.limits.pids);
		assert.strictEqual(bea.browser_clients, 0);
		assert.strictEqual(bea.vnc_clients, 0);
		assert.strictEqual(bea.last_input, null);
		const nowS = Date.now() / 1000;
		assert.ok(bea.started <= nowS + 1 && bea.started > nowS - 60, `started ${bea.started}`);
		assert.strictEqual(bea.usage.memory_bytes % (1 << 20), 0, 'memory to the MiB');
		// the process launcher: no cgroup of its own, the session's process is measured
		assert.strictEqual(bea.usage.source, 'process');
		assert.ok(bea.usage.memory_bytes > 1 << 20, `memory ${bea.usage.memory_bytes}`);
		assert.ok(bea.usage.pids >= 1);
		assert.ok(audits(b, 'authz').some((l) => l.user === 'daniel' && l.detail.endpoint === 'admin.read'),
			'the admin read is audited');

		// the live channel: a snapshot at once, then changes without asking
		await waitFor('the first live snapshot', () => live.events().length >= 1);
		assert.strictEqual(live.events()[0].event, 'desktops');
		assert.strictEqual(live.events()[0].data.length, 4);

		// bulk: stop two, restart one, destroy one that does not run: an answer per user
		r = await req(b, admin, 'POST', '/api/admin/desktops/stop', { users: ['bogie', 'mauve', 'nobody'] });
		assert.strictEqual(r.status, 200, r.body);
		assert.deepStrictEqual(r.json.results, [
			{ user: 'bogie', ok: true, status: 'stopping' },
			{ user: 'mauve', ok: true, status: 'stopping' },
			{ user: 'nobody', ok: false, error: 'no desktop running' },
		]);
		await waitFor('bogie and mauve stopped', () => b.fakeLog('bogie').includes('SIGTERM') && b.fakeLog('mauve').includes('SIGTERM'));
		const stops = audits(b, 'admin.desktop.stop');
		for (const u of ['bogie', 'mauve'])
			assert.ok(stops.some((l) => l.outcome === 'grant' && l.user === 'daniel' && l.role === 'admin' && l.detail.target === u), `stop ${u} audited`);
		assert.ok(stops.some((l) => l.outcome === 'info' && l.detail.target === 'nobody' && l.detail.reason === 'no desktop running'));
		await waitFor('the live channel shows two desktops', () => live.events().some((e) => e.data.length === 2), 8000);
		const last = live.events().filter((e) => e.data.length === 2).pop().data.map((d) => d.user).sort();
		assert.deepStrictEqual(last, ['bea', 'daniel']);

		const beaStarts = () => (b.fakeLog('bea').match(/start pid=/g) || []).length;
		r = await req(b, admin, 'POST', '/api/admin/desktops/restart', { users: ['bea'] });
		assert.deepStrictEqual(r.json.results, [{ user: 'bea', ok: true, status: 'restarting' }]);
		await waitFor('bea restarted', () => beaStarts() === 2 && b.fakeLog('bea').split('start pid=')[2].includes('ready'));
		assert.ok(audits(b, 'admin.desktop.restart').some((l) => l.detail.target === 'bea' && l.outcome === 'grant'));

		// destroy: at once, and the stored layout goes (the home stays)
		const cur = await req(b, admin, 'GET', '/api/desktops/bea/state');
		assert.strictEqual(cur.status, 200, cur.body);
		const put = await req(b, admin, 'PUT', '/api/desktops/bea/state', { ...cur.json.state, wallpaper: { image: 'mist.png', fit: 'fill' } });
		assert.strictEqual(put.status, 200, put.body);
		r = await req(b, admin, 'POST', '/api/admin/desktops/destroy', { users: ['bea'] });
		assert.deepStrictEqual(r.json.results, [{ user: 'bea', ok: true, status: 'stopping', state_reset: true }]);
		const after = await req(b, admin, 'GET', '/api/desktops/bea/state');
		assert.notStrictEqual(after.json && after.json.state && after.json.state.wallpaper && after.json.state.wallpaper.image, 'mist.png', 'the stored layout was reset');
		await waitFor('bea destroyed', async () => !(await req(b, admin, 'GET', '/api/admin/desktops')).json.desktops.some((d) => d.user === 'bea'));
		assert.ok(audits(b, 'admin.desktop.destroy').some((l) => l.detail.target === 'bea' && l.outcome === 'grant' && l.detail.state_reset === true));
		live.close();
		await lib.stopBroker(b);
	},

	async refusals() {
		const b = await start();
		const admin = await lib.login(b, 'daniel');
		const member = await lib.login(b, 'bogie');
		await ready(b, 'bogie');
		for (const target of READS) {
			const r = await req(b, member, 'GET', target);
			assert.strictEqual(r.status, 403, `member GET ${target}`);
		}
		for (const [method, target, body] of WRITES) {
			const r = await req(b, member, method, target, body);
			assert.strictEqual(r.status, 403, `member ${method} ${target}`);
		}
		const denied = audits(b, 'authz').filter((l) => l.outcome === 'deny' && l.user === 'bogie');
		assert.strictEqual(denied.filter((l) => l.detail.endpoint === 'admin.read').length, READS.length);
		assert.strictEqual(denied.filter((l) => l.detail.endpoint === 'admin.write').length, WRITES.length);

		// an admin without the CSRF token, or from another origin: 403, audited, nothing done
		for (const [method, target, body] of WRITES) {
			const before = audits(b, 'auth.csrf').length;
			let r = await lib.http(b.port, method, target, { headers: { Cookie: admin.cookie }, body, origin: true });
			assert.strictEqual(r.status, 403, `${method} ${target} without a CSRF token`);
			r = await lib.http(b.port, method, target, { headers: lib.as(admin, { Origin: 'http://evil.example' }), body });
			assert.strictEqual(r.status, 403, `${method} ${target} from another origin`);
			const csrf = audits(b, 'auth.csrf').slice(before);
			assert.strictEqual(csrf.length, 2, `${target}: two auth.csrf lines`);
			assert.ok(csrf.every((l) => l.outcome === 'deny' && l.user === 'daniel'));
		}
		assert.ok(!b.fakeLog('bogie').includes('SIGTERM'), 'no refused request stopped a desktop');
		assert.strictEqual(audits(b, 'admin.desktop.stop').length, 0);
		assert.strictEqual(audits(b, 'admin.broadcast').length, 0);

		// anonymous: 401
		assert.strictEqual((await lib.http(b.port, 'GET', '/api/admin/desktops')).status, 401);

		// bad input: a clear 400, nothing done
		const bad = [
			['/api/admin/desktops/stop', '{"users": "bogie"}', /users: a list/],
			['/api/admin/desktops/stop', '{"users": []}', /users: a list/],
			['/api/admin/desktops/stop', '{"users": ["bogie", 3]}', /users\[1\]: not a string/],
			['/api/admin/desktops/stop', 'not json', /JSON object/],
			['/api/admin/broadcast', '{"to": "team", "body": "x"}', /to:/],
			['/api/admin/broadcast', '{"to": "user", "target": "../x", "body": "x"}', /target:/],
			['/api/admin/broadcast', '{"to": "all", "body": ""}', /body:/],
			['/api/admin/broadcast', '{"to": "all", "body": "x", "urgency": "now"}', /urgency:/],
		];
		for (const [target, body, re] of bad) {
			const r = await req(b, admin, 'POST', target, body);
			assert.strictEqual(r.status, 400, `${target} ${body}`);
			assert.match(r.json.error, re);
		}
		assert.ok(!b.fakeLog('bogie').includes('SIGTERM'), 'bad input stopped nothing');
		await lib.stopBroker(b);
	},

	async broadcast() {
		const b = await start();
		const admin = await lib.login(b, 'daniel');
		for (const u of ['bogie', 'mauve', 'bea']) await lib.login(b, u);
		for (const u of ['daniel', 'bogie', 'mauve', 'bea']) await ready(b, u);
		const notes = (u) => b.fakeLog(u).split('\n').filter((l) => l.includes('control notify'));
		const send = async (msg) => {
			const t0 = Date.now();
			const r = await req(b, admin, 'POST', '/api/admin/broadcast', msg);
			assert.strictEqual(r.status, 200, r.body);
			return { r, t0 };
		};

		// one user
		let { r, t0 } = await send({ to: 'user', target: 'bea', title: 'Hello', body: 'Maintenance at 22:00' });
		assert.deepStrictEqual(r.json, { delivered: ['bea'], skipped: 0 });
		await waitFor('bea notified', () => notes('bea').length === 1, 1000);
		assert.ok(Date.now() - t0 < 1000, 'within a second');
		assert.match(notes('bea')[0], /"title":"Hello","body":"Maintenance at 22:00","urgency":"normal"/);
		assert.strictEqual(notes('bogie').length, 0);

		// a profile: homelabber is bogie and mauve
		({ r } = await send({ to: 'profile', target: 'homelabber', body: 'Reboot soon', urgency: 'critical' }));
		assert.deepStrictEqual(r.json.delivered.sort(), ['bogie', 'mauve']);
		await waitFor('homelabbers notified', () => notes('bogie').length === 1 && notes('mauve').length === 1, 1000);
		assert.match(notes('mauve')[0], /"body":"Reboot soon","urgency":"critical"/);
		assert.strictEqual(notes('bea').length, 1);

		// everyone
		({ r } = await send({ to: 'all', body: 'Hi all' }));
		assert.strictEqual(r.json.delivered.length, 4);
		await waitFor('everyone notified', () => ['daniel', 'bogie', 'mauve', 'bea'].every((u) => notes(u).some((l) => l.includes('Hi all'))), 1000);
		const a = audits(b, 'admin.broadcast');
		assert.strictEqual(a.length, 3);
		assert.deepStrictEqual(a.map((l) => [l.user, l.detail.to, l.detail.target || null]),
			[['daniel', 'user', 'bea'], ['daniel', 'profile', 'homelabber'], ['daniel', 'all', null]]);
		await lib.stopBroker(b);
	},
};

lib.runCase('admin', tests);
