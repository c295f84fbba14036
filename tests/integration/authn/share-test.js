#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// View-only share links (docs/sharing.md) over real HTTP and websockets on loopback: the real
// argobox-broker with the sample config's users and the fake session from
// tests/integration/broker (which logs the RFB input and control messages it gets). Cases:
//   api       create (token shown once, 256 bits), list, bad bodies, demo 403, anonymous 401,
//             no CSRF token 403, another user's link 404 on revoke; all audited
//   view      an anonymous viewer watches: frames flow, its key/pointer/clipboard never reach
//             the desktop, the owner's desktop is told (notify) and the list shows the viewer
//   forged    a made-up or malformed token, and one whose desktop is not running: denied and
//             audited (share.view deny)
//   revoke    revoking cuts an open viewer off within a second; the link then answers 410
//   expire    a link that expires while watched cuts its viewer off within a second; 410
//   signin    share.require_sign_in: an anonymous viewer 401 (audited), a signed-in one watches
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const lib = require('../../lib/node/broker.cjs');

const { waitFor, rfb, wsOpen, wsTry } = lib;
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-share-' });

async function start(share = {}) {
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles, share });
	const b = await lib.startBroker({ tmp, cfg });
	await waitFor('the share links to load', () => /share: \d+ link/.test(b.log()));
	return b;
}
const req = (b, who, method, target, body) =>
	lib.http(b.port, method, target, { headers: lib.as(who), body, origin: true });
const audits = (b, ev, outcome) => lib.auditLines(b).filter((l) => l.event === ev && (!outcome || l.outcome === outcome));
async function owner(b, user = 'bogie') {
	const c = await lib.login(b, user);
	await waitFor(`${user}'s desktop`, async () => (await req(b, c, 'GET', '/api/desktop')).json?.state === 'ready');
	return c;
}
async function create(b, c, body = { expires_in_s: 600 }) {
	const r = await req(b, c, 'POST', '/api/share', body);
	assert.strictEqual(r.status, 201, r.body);
	return r.json;
}
// An open viewer: watches until closed; closedAt is when the broker cut it off.
async function viewer(b, token, c = null) {
	const v = await wsOpen(b.port, `/ws/share/${token}`, c);
	assert.ok(v.ok, `viewer refused: ${v.status}`);
	const r = await rfb(v.ws);
	await r.update();
	v.closedAt = null;
	v.ws.on('close', () => { v.closedAt = Date.now(); });
	return Object.assign(v, { r });
}

const cases = {
	async api() {
		const b = await start();
		const bogie = await lib.login(b, 'bogie');
		const mauve = await lib.login(b, 'mauve');
		const l = await create(b, bogie);
		assert.match(l.token, /^[0-9a-f]{64}$/);
		assert.match(l.id, /^[0-9a-f]{16}$/);
		assert.strictEqual(l.url, `/share.html#${l.token}`);
		assert.ok(Math.abs(l.expires - (Date.now() / 1000 + 600)) < 5);
		const list = await req(b, bogie, 'GET', '/api/share');
		assert.strictEqual(list.status, 200);
		assert.deepStrictEqual(list.json.links.map((x) => [x.id, x.watching, x.viewers.length]), [[l.id, 0, 0]]);
		assert.ok(!list.body.includes(l.token), 'the token is shown once, never listed');
		// the token is stored hashed only
		const h = crypto.createHash('sha256').update(l.token).digest('hex');
		const store = require('fs').readdirSync(`${tmp}/data`, { recursive: true }).map((f) => `${tmp}/data/${f}`)
			.filter((f) => require('fs').statSync(f).isFile()).map((f) => require('fs').readFileSync(f, 'latin1')).join('');
		assert.ok(store.includes(h), 'hash stored');
		assert.ok(!store.includes(l.token), 'token stored in the clear');
		for (const [body, re] of [[{ expires_in_s: 5 }, /out of range/], [{ expires_in_s: 'x' }, /out of range/],
			[{ expires_in_s: 99999999 }, /out of range/], [{ ttl: 60 }, /must be/], [[1], /must be/]]) {
			const r = await req(b, bogie, 'POST', '/api/share', body);
			assert.strictEqual(r.status, 400, r.body);
			assert.match(r.json.error, re);
		}
		const d = await lib.demo(b);
		let r = await req(b, d, 'POST', '/api/share', {});
		assert.strictEqual(r.status, 403, r.body);
		r = await lib.http(b.port, 'POST', '/api/share', { origin: true, body: {} });
		assert.strictEqual(r.status, 401);
		r = await lib.http(b.port, 'POST', '/api/share', { headers: { Cookie: bogie.cookie }, origin: true, body: {} });
		assert.strictEqual(r.status, 403, 'no CSRF token');
		// mauve can neither see nor revoke bogie's link
		assert.deepStrictEqual((await req(b, mauve, 'GET', '/api/share')).json.links, []);
		r = await req(b, mauve, 'DELETE', `/api/share/${l.id}`);
		assert.strictEqual(r.status, 404, r.body);
		assert.strictEqual((await req(b, bogie, 'DELETE', `/api/share/${l.id}`)).status, 200);
		assert.strictEqual((await req(b, bogie, 'DELETE', `/api/share/${l.id}`)).status, 404);
		assert.ok(audits(b, 'share.create', 'grant').some((x) => x.user === 'bogie' && x.detail.id === l.id));
		assert.ok(audits(b, 'authz', 'deny').some((x) => x.user === d.user && x.detail.endpoint === 'share'));
		assert.ok(audits(b, 'share.revoke', 'deny').some((x) => x.user === 'mauve'));
		assert.ok(audits(b, 'share.revoke').some((x) => x.outcome === 'info' && x.user === 'bogie'));
		await lib.stopBroker(b);
	},

	async view() {
		const b = await start();
		const bogie = await owner(b);
		const l = await create(b, bogie);
		const v = await viewer(b, l.token);
		v.r.key(0x71);
		v.r.pointer();
		v.r.cut('from the viewer');
		v.r.resize();
		await v.r.update(); // after everything above: any input would be in the log by now
		await v.r.update();
		const log = b.fakeLog('bogie');
		assert.ok(!/^key /m.test(log), 'a viewer key reached the desktop');
		assert.ok(!/^pointer|^cut|bad message/m.test(log), 'viewer input or a broken stream');
		assert.ok(!v.r.closed(), 'view-only connection stays open');
		await waitFor('the owner is told', () => /control notify .*Someone is watching your desktop.*An anonymous viewer from 127\.0\.0\.1/.test(b.fakeLog('bogie')));
		const list = (await req(b, bogie, 'GET', '/api/share')).json.links[0];
		assert.strictEqual(list.watching, 1);
		assert.deepStrictEqual([list.viewers[0].user, list.viewers[0].peer], ['', '127.0.0.1']);
		assert.ok(audits(b, 'share.view', 'grant').some((x) => x.detail.owner === 'bogie' && x.detail.id === l.id && x.detail.view_only));
		assert.ok(audits(b, 'desktop.connect', 'grant').some((x) => x.detail.desktop === 'bogie' && x.detail.view_only));
		v.ws.close();
		await lib.stopBroker(b);
	},

	async forged() {
		const b = await start();
		const bogie = await owner(b);
		const mauve = await lib.login(b, 'mauve');
		const l = await create(b, bogie);
		const fake = crypto.randomBytes(32).toString('hex');
		let r = await wsTry(b.port, `/ws/share/${fake}`);
		assert.strictEqual(r.status, 404, 'forged token');
		r = await wsTry(b.port, `/ws/share/${l.token.toUpperCase()}`);
		assert.strictEqual(r.status, 404, 'malformed token');
		r = await wsTry(b.port, `/ws/share/${l.token.slice(0, 63)}`);
		assert.strictEqual(r.status, 404, 'short token');
		const deny = audits(b, 'share.view', 'deny');
		assert.ok(deny.length >= 3 && deny.every((x) => x.detail.reason === 'no such share link'));
		assert.ok(audits(b, 'desktop.connect', 'deny').some((x) => /no such share link/.test(x.detail.reason)));
		// the token never lands in the audit log
		assert.ok(!b.audit().includes(fake) && !b.audit().includes(l.token), 'token in the audit log');
		assert.ok(!b.log().includes(fake) && !b.log().includes(l.token), 'token in the broker log');
		// mauve's link while her desktop is down: 409
		const m = await create(b, mauve);
		await req(b, mauve, 'DELETE', '/api/desktops/mauve');
		await waitFor('mauve\'s desktop gone', async () => (await req(b, mauve, 'GET', '/api/desktop')).json?.running === false);
		r = await wsTry(b.port, `/ws/share/${m.token}`);
		assert.strictEqual(r.status, 409, 'not running');
		assert.ok(audits(b, 'share.view', 'deny').some((x) => x.detail.owner === 'mauve' && /not running/.test(x.detail.reason)));
		await lib.stopBroker(b);
	},

	async revoke() {
		const b = await start();
		const bogie = await owner(b);
		const l = await create(b, bogie);
		const v = await viewer(b, l.token);
		const r = await req(b, bogie, 'DELETE', `/api/share/${l.id}`);
		assert.strictEqual(r.status, 200, r.body);
		await waitFor('the viewer cut off', () => v.closedAt !== null, 3000);
		// from the revocation (its audit line) to the viewer's socket closing
		const cut = v.closedAt - Date.parse(audits(b, 'share.revoke')[0].time);
		assert.ok(cut < 1000, `cut off after ${cut} ms`);
		assert.strictEqual((await wsTry(b.port, `/ws/share/${l.token}`)).status, 410);
		assert.ok(audits(b, 'share.revoke').some((x) => x.detail.id === l.id && x.detail.viewers_cut === 1));
		assert.ok(audits(b, 'share.view', 'deny').some((x) => /expired or was revoked/.test(x.detail.reason)));
		await lib.stopBroker(b);
	},

	async expire() {
		const b = await start({ min_ttl_s: 1 });
		const bogie = await owner(b);
		const l = await create(b, bogie, { expires_in_s: 3 });
		const v = await viewer(b, l.token);
		assert.strictEqual(v.closedAt, null);
		await waitFor('the viewer cut off at expiry', () => v.closedAt !== null, 8000);
		// the link ends at its expiry (whole seconds in the answer), the viewer right after
		const ended = Date.parse(audits(b, 'share.expire')[0].time);
		assert.ok(ended - l.expires * 1000 < 1500, `ended ${ended - l.expires * 1000} ms after the expiry`);
		assert.ok(v.closedAt - ended < 1000, `cut off ${v.closedAt - ended} ms after the link ended`);
		assert.strictEqual((await wsTry(b.port, `/ws/share/${l.token}`)).status, 410);
		assert.ok(audits(b, 'share.expire').some((x) => x.detail.id === l.id && x.detail.viewers_cut === 1));
		assert.deepStrictEqual((await req(b, bogie, 'GET', '/api/share')).json.links, []);
		await lib.stopBroker(b);
	},

	async signin() {
		const b = await start({ require_sign_in: true });
		const bogie = await owner(b);
		const mauve = await lib.login(b, 'mauve');
		const l = await create(b, bogie);
		assert.strictEqual((await wsTry(b.port, `/ws/share/${l.token}`)).status, 401);
		assert.ok(audits(b, 'share.view', 'deny').some((x) => /sign in/.test(x.detail.reason)));
		const v = await viewer(b, l.token, mauve);
		await waitFor('the owner is told who', () => /Someone is watching your desktop.*'mauve' from/.test(b.fakeLog('bogie')));
		assert.strictEqual((await req(b, bogie, 'GET', '/api/share')).json.links[0].viewers[0].user, 'mauve');
		v.ws.close();
		await lib.stopBroker(b);
	},
};

lib.runCase('share', cases);
