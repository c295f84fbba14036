#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// /api/messages over real HTTP on loopback (argobox-broker with the sample config's users and
// the fake session from tests/integration/broker, which logs the control messages it gets).
// Cases (argv[2]):
//   send      a member writes to another: 201, delivered live on the recipient's desktop
//             (control "message"), in the inbox (paged, newest first); hostile markup is
//             stored and returned byte for byte as text; audited as metadata, never the text
//   bad       bad bodies, too long, invalid UTF-8, control characters, unknown and own
//             recipient, no CSRF token, anonymous: clear 4xx, nothing stored, denials audited
//   flood     a sender beyond the burst gets 429 with Retry-After, audited; others still send
//   block     the recipient blocks a member: 403 + audit; unblocking lets it through; an
//             admin is never blocked
//   policy    demo identities may write to admins only; members not to demo identities; a user
//             the admin console adds can be written to at once
//   offline   a message to a user without a desktop is kept and handed over when the
//             recipient signs in (and survives a broker restart)
//   desktop   a desktop's own message_send (the wm's messages panel, through the session's
//             control channel) is sent as the desktop's owner with the browser's rules: 201
//             and delivered; a block, the rate limit (429 + retry_s), a demo desktop writing
//             to a member, a bad id: the answer names why, audited with source "desktop"
'use strict';
const assert = require('assert');
const lib = require('../../lib/node/broker.cjs');

const { waitFor } = lib;
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-messages-' });

const MARKUP = '<b>bold</b> <span foreground="red">red</span> & <script>alert(1)</script> \u00e9\u2713';

async function start(extra = {}) {
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles, ...extra });
	const b = await lib.startBroker({ tmp, cfg });
	await waitFor('the mailboxes to load', () => /messages: \d+ mailbox/.test(b.log()));
	return b;
}
const req = (b, who, method, target, body, extra = {}) =>
	lib.http(b.port, method, target, { headers: lib.as(who, extra), body, origin: true });
const send = (b, who, to, text) => req(b, who, 'POST', '/api/messages', { to, text });
const audits = (b, ev) => lib.auditLines(b).filter((l) => l.event === ev);
// the fake session's control messages of type "message"
const received = (b, user) => [...b.fakeLog(user).matchAll(/^control message (.*)$/gm)].map((m) => JSON.parse(m[1]));

async function ready(b, who) {
	await waitFor(`${who.user}'s desktop`, async () => (await req(b, who, 'GET', '/api/desktop')).json?.state === 'ready');
}

const cases = {
	async send() {
		const b = await start();
		const bogie = await lib.login(b, 'bogie');
		const bea = await lib.login(b, 'bea');
		await ready(b, bea);
		const r = await send(b, bogie, 'bea', MARKUP);
		assert.strictEqual(r.status, 201, r.body);
		assert.match(r.json.id, /^[0-9a-f]{29}$/);
		assert.strictEqual(r.json.delivered, true);
		await waitFor('the message on bea\'s desktop', () => received(b, 'bea').length === 1);
		const got = received(b, 'bea')[0];
		assert.deepStrictEqual([got.from, got.text, got.id], ['bogie', MARKUP, r.json.id]);
		// paging: three more, newest first, two a page
		for (const t of ['two', 'three', 'four']) assert.strictEqual((await send(b, bogie, 'bea', t)).status, 201);
		const p1 = await req(b, bea, 'GET', '/api/messages?limit=2');
		assert.strictEqual(p1.status, 200, p1.body);
		assert.deepStrictEqual(p1.json.messages.map((m) => m.text), ['four', 'three']);
		assert.strictEqual(p1.json.total, 4);
		const p2 = await req(b, bea, 'GET', `/api/messages?limit=2&before=${p1.json.next}`);
		assert.deepStrictEqual(p2.json.messages.map((m) => m.text), ['two', MARKUP]);
		assert.strictEqual(p2.json.next, null);
		assert.strictEqual(p2.json.messages[1].from, 'bogie');
		assert.strictEqual((await req(b, bea, 'GET', '/api/messages?before=nope')).status, 400);
		assert.strictEqual((await req(b, bea, 'GET', '/api/messages?limit=0')).status, 400);
		// the sender's inbox is their own: empty
		assert.strictEqual((await req(b, bogie, 'GET', '/api/messages')).json.total, 0);
		// audited as metadata: who, to whom, size; never the text
		const a = audits(b, 'message.send').filter((l) => l.outcome === 'grant');
		assert.strictEqual(a.length, 4);
		assert.strictEqual(a[0].user, 'bogie');
		assert.strictEqual(a[0].detail.to, 'bea');
		assert.strictEqual(a[0].detail.bytes, Buffer.byteLength(MARKUP));
		assert.ok(!b.audit().includes('alert(1)') && !b.audit().includes('"three"'), 'message text in the audit log');
		await lib.stopBroker(b);
	},

	async bad() {
		const b = await start({ messages: { rate_burst: 100 } });
		const bogie = await lib.login(b, 'bogie');
		const cases = [
			[{ to: 'bea' }, 400, /JSON object/],
			[{ to: 'bea', text: 'x', cc: 'mauve' }, 400, /JSON object/],
			[{ to: 'bea', text: 7 }, 400, /JSON object/],
			[{ to: '../etc', text: 'x' }, 400, /not a user name/],
			[{ to: 'bea', text: '   \n ' }, 400, /empty/],
			[{ to: 'bea', text: 'a\u0007b' }, 400, /control character/],
			[{ to: 'bea', text: 'x'.repeat(2001) }, 400, /2001 characters long, more than 2000/],
			[{ to: 'nobody', text: 'x' }, 404, /no such user/],
			[{ to: 'bogie', text: 'x' }, 400, /yourself/],
		];
		for (const [body, status, re] of cases) {
			const r = await req(b, bogie, 'POST', '/api/messages', body);
			assert.strictEqual(r.status, status, `${JSON.stringify(body).slice(0, 60)}: ${r.body}`);
			assert.match(r.json.error, re);
		}
		// 2000 characters of 4-byte UTF-8 are fine
		assert.strictEqual((await send(b, bogie, 'bea', '\u{1F600}'.repeat(2000))).status, 201);
		// invalid UTF-8 and a broken body
		let r = await lib.http(b.port, 'POST', '/api/messages', {
			headers: lib.as(bogie, { 'Content-Type': 'application/json' }), origin: true,
			body: Buffer.concat([Buffer.from('{"to":"bea","text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
		});
		assert.strictEqual(r.status, 400, r.body);
		r = await lib.http(b.port, 'POST', '/api/messages', { headers: lib.as(bogie), origin: true, body: '{"to":' });
		assert.strictEqual(r.status, 400, r.body);
		// no CSRF token, anonymous
		r = await lib.http(b.port, 'POST', '/api/messages', { headers: { Cookie: bogie.cookie }, origin: true, body: { to: 'bea', text: 'x' } });
		assert.strictEqual(r.status, 403, r.body);
		r = await lib.http(b.port, 'GET', '/api/messages', { origin: true });
		assert.strictEqual(r.status, 401, r.body);
		// nothing but the one good message is stored; the denials are audited with a reason
		const bea = await lib.login(b, 'bea');
		assert.strictEqual((await req(b, bea, 'GET', '/api/messages')).json.total, 1);
		const denied = audits(b, 'message.send').filter((l) => l.outcome === 'deny');
		assert.ok(denied.length >= cases.length, `denials audited: ${denied.length}`);
		assert.ok(denied.some((l) => /more than 2000/.test(l.detail.reason) && l.detail.to === 'bea'));
		assert.ok(lib.auditLines(b).some((l) => l.event === 'auth.csrf' && l.outcome === 'deny'));
		await lib.stopBroker(b);
	},

	async flood() {
		const b = await start({ messages: { rate_burst: 3, rate_per_minute: 6 } });
		const bogie = await lib.login(b, 'bogie');
		const mauve = await lib.login(b, 'mauve');
		const codes = [];
		let last;
		for (let i = 0; i < 6; i++) {
			last = await send(b, bogie, 'bea', `flood ${i}`);
			codes.push(last.status);
		}
		assert.deepStrictEqual(codes, [201, 201, 201, 429, 429, 429]);
		assert.match(last.json.error, /too many messages: try again in \d+ s/);
		const ra = Number(last.headers['retry-after']);
		assert.ok(ra >= 1 && ra <= 10, `Retry-After ${last.headers['retry-after']}`);
		const a = audits(b, 'message.send').filter((l) => l.outcome === 'deny');
		assert.strictEqual(a.length, 3);
		assert.ok(a.every((l) => l.detail.bytes > 0));
		assert.deepStrictEqual([a[0].user, a[0].detail.reason, a[0].detail.to], ['bogie', 'rate limited', 'bea']);
		// refused attempts draw on the bucket too: a flood of bad requests is held up as well
		const bad = await req(b, bogie, 'POST', '/api/messages', { to: 'nobody', text: '' });
		assert.strictEqual(bad.status, 429, bad.body);
		// another sender is not held up
		assert.strictEqual((await send(b, mauve, 'bea', 'hello')).status, 201);
		await lib.stopBroker(b);
	},

	async block() {
		const b = await start();
		const bogie = await lib.login(b, 'bogie');
		const bea = await lib.login(b, 'bea');
		const admin = await lib.login(b, 'daniel');
		let r = await req(b, bea, 'POST', '/api/messages/blocks', { user: 'bogie' });
		assert.strictEqual(r.status, 200, r.body);
		assert.deepStrictEqual(r.json.blocks, ['bogie']);
		assert.strictEqual((await req(b, bea, 'POST', '/api/messages/blocks', { user: 'bea' })).status, 400);
		assert.strictEqual((await req(b, bea, 'POST', '/api/messages/blocks', { user: 'x/y' })).status, 400);
		r = await send(b, bogie, 'bea', 'let me in');
		assert.strictEqual(r.status, 403, r.body);
		assert.match(r.json.error, /does not accept your messages/);
		assert.ok(audits(b, 'message.send').some((l) => l.outcome === 'deny' && /does not accept/.test(l.detail.reason)));
		assert.ok(audits(b, 'message.block').some((l) => l.user === 'bea' && l.detail.blocked === 'bogie'));
		assert.strictEqual((await send(b, admin, 'bea', 'admins get through')).status, 201);
		assert.deepStrictEqual((await req(b, bea, 'GET', '/api/messages/blocks')).json.blocks, ['bogie']);
		r = await req(b, bea, 'DELETE', '/api/messages/blocks?user=bogie');
		assert.strictEqual(r.status, 200, r.body);
		assert.deepStrictEqual(r.json.blocks, []);
		assert.strictEqual((await send(b, bogie, 'bea', 'thanks')).status, 201);
		const texts = (await req(b, bea, 'GET', '/api/messages')).json.messages.map((m) => m.text);
		assert.deepStrictEqual(texts, ['thanks', 'admins get through']);
		await lib.stopBroker(b);
	},

	async policy() {
		const b = await start();
		const bogie = await lib.login(b, 'bogie');
		const admin = await lib.login(b, 'daniel');
		const d = await lib.demo(b, 'demo-homelab');
		assert.strictEqual(d.status, 200);
		let r = await send(b, d, 'bogie', 'hi member');
		assert.strictEqual(r.status, 403, r.body);
		assert.match(r.json.error, /demo identities may write to admins only/);
		assert.strictEqual((await send(b, d, 'daniel', 'hi admin')).status, 201);
		// members cannot write to a demo identity; an admin can (it has a desktop)
		await ready(b, d);
		assert.strictEqual((await send(b, bogie, d.user, 'x')).status, 404);
		r = await send(b, admin, d.user, 'welcome');
		assert.strictEqual(r.status, 201, r.body);
		await waitFor('the demo desktop got it', () => received(b, d.user).some((m) => m.text === 'welcome'));
		// the user table changed by the admin console: a new user can be written to at once
		assert.strictEqual((await send(b, bogie, 'zed', 'x')).status, 404);
		r = await req(b, admin, 'POST', '/api/admin/users', { name: 'zed', role: 'member', profile: 'homelabber', password: 'zed-secret-1' });
		assert.strictEqual(r.status, 200, r.body);
		assert.strictEqual((await send(b, bogie, 'zed', 'welcome zed')).status, 201);
		await lib.stopBroker(b);
		// "demo": "none": demo identities write to nobody
		const b2 = await start({ messages: { demo: 'none' } });
		const d2 = await lib.demo(b2, 'demo-homelab');
		r = await send(b2, d2, 'daniel', 'hi admin');
		assert.strictEqual(r.status, 403, r.body);
		assert.match(r.json.error, /may not send messages/);
		await lib.stopBroker(b2);
		// bad config: named
		const bad = lib.brokerConfig(tmp, { messages: { demo: 'everyone' } });
		require('fs').writeFileSync(`${tmp}/bad.json`, JSON.stringify(bad));
		const out = require('child_process').spawnSync(lib.paths.brokerBin, ['--check-config', '--config', `${tmp}/bad.json`]);
		assert.notStrictEqual(out.status, 0);
		assert.match(out.stderr.toString() + out.stdout.toString(), /demo/);
	},

	async desktop() {
		const b = await start({ messages: { rate_burst: 3, rate_per_minute: 6 } });
		const bogie = await lib.login(b, 'bogie');
		const bea = await lib.login(b, 'bea');
		await ready(b, bogie);
		await ready(b, bea);
		const fs = require('fs');
		const path = require('path');
		let id = 0;
		// what bogie's desktop sends; the answers the broker sends it back
		const fromDesktop = (user, m) => fs.appendFileSync(path.join(b.tmp, 'run', user, 'fake-send.jsonl'),
			JSON.stringify({ v: 1, type: 'message_send', ...m }) + '\n');
		const answers = (user) => [...b.fakeLog(user).matchAll(/^control message_answer (.*)$/gm)].map((m) => JSON.parse(m[1]));
		const ask = async (user, m) => {
			const n = answers(user).length;
			fromDesktop(user, m);
			await waitFor(`${user}'s answer`, () => answers(user).length > n);
			return answers(user)[n];
		};
		// 1. sent as bogie (the desktop's owner: a "from" in the message is no field of it)
		let a = await ask('bogie', { id: ++id, to: 'bea', text: MARKUP, from: 'daniel' });
		assert.deepStrictEqual([a.id, a.status, a.delivered], [id, 201, true], JSON.stringify(a));
		await waitFor('the message on bea\'s desktop', () => received(b, 'bea').some((m) => m.text === MARKUP));
		assert.strictEqual(received(b, 'bea').find((m) => m.text === MARKUP).from, 'bogie');
		let au = audits(b, 'message.send').filter((l) => l.source === 'desktop');
		assert.ok(au.some((l) => l.outcome === 'grant' && l.user === 'bogie' && l.detail.to === 'bea'), JSON.stringify(au));
		assert.ok(!JSON.stringify(au).includes('bold'), 'the text is not audited');
		// 2. blocked by bea: 403 with the reason
		assert.strictEqual((await req(b, bea, 'POST', '/api/messages/blocks', { user: 'bogie' })).status, 200);
		a = await ask('bogie', { id: ++id, to: 'bea', text: 'let me in' });
		assert.strictEqual(a.status, 403, JSON.stringify(a));
		assert.match(a.error, /does not accept your messages/);
		// 3. bad input: no such user, empty text, a bad id
		a = await ask('bogie', { id: ++id, to: 'nobody', text: 'x' });
		assert.deepStrictEqual([a.status, a.error], [404, 'no such user']);
		// 4. the rate limit (burst 3: four attempts above), with retry_s
		a = await ask('bogie', { id: ++id, to: 'daniel', text: 'flood' });
		assert.strictEqual(a.status, 429, JSON.stringify(a));
		assert.match(a.error, /too many messages: try again in \d+ s/);
		assert.ok(a.retry_s >= 1 && a.retry_s <= 10, JSON.stringify(a));
		assert.ok(audits(b, 'message.send').some((l) => l.source === 'desktop' && l.outcome === 'deny' && l.detail.reason === 'rate limited'));
		a = await ask('bea', { id: 'x', to: 'bogie', text: 'x' });
		assert.deepStrictEqual([a.id, a.status], [-1, 400]);
		// 5. a demo desktop may write to admins only
		const d = await lib.demo(b, 'demo-homelab');
		await ready(b, d);
		a = await ask(d.user, { id: 1, to: 'bogie', text: 'hi member' });
		assert.strictEqual(a.status, 403, JSON.stringify(a));
		assert.match(a.error, /demo identities may write to admins only/);
		a = await ask(d.user, { id: 2, to: 'daniel', text: 'hi admin' });
		assert.strictEqual(a.status, 201, JSON.stringify(a));
		await lib.stopBroker(b);
	},

	async offline() {
		let b = await start();
		const bogie = await lib.login(b, 'bogie');
		// mauve has not signed in: kept, not delivered
		let r = await send(b, bogie, 'mauve', 'while you were out');
		assert.strictEqual(r.status, 201, r.body);
		assert.strictEqual(r.json.delivered, false);
		await lib.stopBroker(b);
		// survives a restart; mauve signs in, the desktop starts and gets it
		b = await start();
		const mauve = await lib.login(b, 'mauve');
		await waitFor('the message on mauve\'s new desktop', () => received(b, 'mauve').length === 1, 15000);
		const got = received(b, 'mauve')[0];
		assert.deepStrictEqual([got.from, got.text, got.id], ['bogie', 'while you were out', r.json.id]);
		assert.ok(audits(b, 'message.deliver').some((l) => l.user === 'mauve' && l.detail.from === 'bogie'));
		// delivered once: no repeat
		await lib.sleep(1500);
		assert.strictEqual(received(b, 'mauve').length, 1);
		assert.strictEqual((await req(b, mauve, 'GET', '/api/messages')).json.messages[0].text, 'while you were out');
		await lib.stopBroker(b);
	},
};

lib.runCase('messages', cases);
