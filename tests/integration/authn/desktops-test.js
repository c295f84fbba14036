#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// GET/DELETE /api/desktops/<user> over real HTTP on loopback (argobox-broker with the sample
// config's users, passwords "<name>-argobox", and the fake session from tests/integration/broker):
// who may see and end which desktop (own; an admin anyone's; members, demos others' 403;
// anonymous 401; no CSRF token 403), every grant and denial audited, the session asked for its
// state (get_state) and then stopped, the stored state kept, 404 once nothing runs.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const lib = require('../../lib/node/broker.cjs');

const { waitFor } = lib;
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-desktops-' });
lib.onCleanup(() => lib.killFakeSessions(tmp));

function alive(pid) {
	try {
		process.kill(pid, 0);
	} catch (e) {
		return false;
	}
	try {
		// a reused pid is not our session
		return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fake-session') &&
			!/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	} catch (e) {
		return false;
	}
}
/* One HTTP/1.1 request from the page's origin; resolves {status, head, body, json}. */
const http = (port, method, target, headers = {}, body) => lib.http(port, method, target, { headers, body, origin: true });

async function main() {
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles });
	const { p: broker, port } = await lib.startBroker({ tmp, cfg });
	const req = (who, method, target, body, extra = {}) =>
		http(port, method, target, who ? { Cookie: who.cookie, 'X-CSRF-Token': who.csrf, ...extra } : extra, body);
	async function login(user) {
		const r = await http(port, 'POST', '/api/login', {}, { user, password: `${user}-argobox` });
		assert.strictEqual(r.status, 200, `login ${user}: ${r.body}`);
		return { user, cookie: /argobox_session=[0-9a-f]+/.exec(r.head)[0], csrf: r.json.csrf_token };
	}
	const admin = await login('daniel');
	const bogie = await login('bogie');
	const bea = await login('bea');
	const dr = await http(port, 'POST', '/api/demo', {}, { profile: 'demo-homelab' });
	assert.strictEqual(dr.status, 200, `demo: ${dr.body}`);
	const demo = { user: dr.json.user, cookie: /argobox_session=[0-9a-f]+/.exec(dr.head)[0], csrf: dr.json.csrf_token };

	// sign-in started bogie's and bea's desktops
	const status = async (who, user) => (await req(who, 'GET', `/api/desktops/${user}`)).json;
	await waitFor("bogie's desktop ready", async () => (await status(bogie, 'bogie')).state === 'ready');
	await waitFor("bea's desktop ready", async () => (await status(bea, 'bea')).state === 'ready');
	const st = await status(bogie, 'bogie');
	assert.strictEqual(st.running, true);
	assert.strictEqual(st.user, 'bogie');

	// a state to keep: the defaults with another wallpaper
	const cur = await req(bogie, 'GET', '/api/desktops/bogie/state');
	assert.strictEqual(cur.status, 200, cur.body);
	const state = { ...cur.json.state, wallpaper: { image: 'mist.png', fit: 'fill' } };
	const put = await req(bogie, 'PUT', '/api/desktops/bogie/state', state);
	assert.strictEqual(put.status, 200, put.body);

	// the matrix: [who, method, path, status]
	const rows = [
		['anonymous', null, 'GET', '/api/desktops/bogie', 401],
		['anonymous', null, 'DELETE', '/api/desktops/bogie', 401],
		['member(other)', bea, 'GET', '/api/desktops/bogie', 403],
		['member(other)', bea, 'DELETE', '/api/desktops/bogie', 403],
		['demo', demo, 'GET', '/api/desktops/bogie', 403],
		['demo', demo, 'DELETE', '/api/desktops/bogie', 403],
		['admin', admin, 'GET', '/api/desktops/bogie', 200],
		['admin', admin, 'GET', '/api/desktops/nosuchuser', 200],
		['admin', admin, 'DELETE', '/api/desktops/nosuchuser', 404],
		['admin', admin, 'DELETE', '/api/desktops/Bad', 400],
		['admin', admin, 'DELETE', '/api/desktops/bogie/x', 404],
		['admin', admin, 'PUT', '/api/desktops/bogie', 404],
		['member(own)', bogie, 'GET', '/api/desktops/bogie', 200],
	];
	for (const [label, who, m, p, want] of rows) {
		const r = await req(who, m, p);
		console.log(`${label.padEnd(14)} ${m.padEnd(6)} ${p.padEnd(28)} ${r.status}`);
		assert.strictEqual(r.status, want, `${label} ${m} ${p}: ${r.body}`);
	}
	// without the CSRF token (cookie only): refused
	const nocsrf = await http(port, 'DELETE', '/api/desktops/bogie', { Cookie: bogie.cookie });
	assert.strictEqual(nocsrf.status, 403, `DELETE without CSRF: ${nocsrf.body}`);
	// cross-origin: refused
	const xo = await req(bogie, 'DELETE', '/api/desktops/bogie', undefined, { Origin: 'http://evil.example' });
	assert.strictEqual(xo.status, 403, `cross-origin DELETE: ${xo.body}`);
	assert.strictEqual((await status(bogie, 'bogie')).running, true, 'the refused requests ended nothing');
	const nobody = await status(admin, 'nosuchuser');
	assert.strictEqual(nobody.running, false);

	// the owner ends it: asked for its state, then stopped; the session process is gone
	const log = (u) => fs.readFileSync(path.join(tmp, 'run', u, 'fake.log'), 'utf8');
	const pid = Number(/start pid=(\d+)/.exec(log('bogie'))[1]);
	assert.ok(alive(pid));
	const del = await req(bogie, 'DELETE', '/api/desktops/bogie');
	assert.strictEqual(del.status, 202, del.body);
	assert.strictEqual(del.json.status, 'stopping');
	await waitFor('bogie desktop gone', async () => (await status(bogie, 'bogie')).running === false);
	await waitFor('the session process gone', () => !alive(pid));
	assert.match(log('bogie'), /control get_state[\s\S]*SIGTERM/, 'get_state sent before the stop');
	assert.strictEqual((await req(bogie, 'DELETE', '/api/desktops/bogie')).status, 404, 'nothing to end any more');
	// the stored state stays
	const kept = await req(bogie, 'GET', '/api/desktops/bogie/state');
	assert.strictEqual(kept.json.stored, true);
	assert.deepStrictEqual(kept.json.state, state);
	// bea's is untouched; an admin ends it
	assert.strictEqual((await status(bea, 'bea')).running, true);
	const bpid = Number(/start pid=(\d+)/.exec(log('bea'))[1]);
	assert.strictEqual((await req(admin, 'DELETE', '/api/desktops/bea')).status, 202);
	await waitFor('bea desktop gone', async () => (await status(bea, 'bea')).running === false);
	await waitFor("bea's session process gone", () => !alive(bpid));
	// the desktop starts again on demand (sign-in does it too)
	const again = await http(port, 'POST', '/api/login', {}, { user: 'bogie', password: 'bogie-argobox' });
	assert.strictEqual(again.status, 200);
	await waitFor("bogie's desktop ready again", async () => (await status(bogie, 'bogie')).state === 'ready');

	// audit: grants and denials
	const audit = fs.readFileSync(cfg.audit.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
	const has = (f) => audit.some(f);
	const det = (e) => e.detail || {};
	assert.ok(has((e) => e.event === 'desktop.destroy' && e.outcome === 'grant' && e.user === 'bogie' && det(e).target === 'bogie'), 'own destroy audited');
	assert.ok(has((e) => e.event === 'desktop.destroy' && e.outcome === 'grant' && e.user === 'daniel' && det(e).target === 'bea'), 'admin destroy audited');
	assert.ok(has((e) => e.event === 'authz' && e.outcome === 'grant' && e.user === 'daniel' && det(e).endpoint === 'desktop.destroy' && det(e).owner === 'bea'), 'admin grant audited by authz');
	assert.ok(has((e) => e.event === 'authz' && e.outcome === 'deny' && e.user === 'bea' && det(e).endpoint === 'desktop.destroy' && det(e).owner === 'bogie'), 'member denial audited');
	assert.ok(has((e) => e.event === 'authz' && e.outcome === 'deny' && e.user === demo.user && det(e).endpoint === 'desktop.destroy'), 'demo denial audited');
	assert.ok(has((e) => e.event === 'desktop.destroy' && e.outcome === 'info' && det(e).target === 'nosuchuser'), '404 audited');

	process.kill(broker.pid, 'SIGTERM');
	await waitFor('the broker to exit', () => broker.exitCode !== null || broker.signalCode !== null, 20000);
	assert.strictEqual(broker.exitCode, 0, 'broker exit status');
}

main().then(() => { console.log('PASS: desktops'); lib.cleanup(); process.exit(0); }, (e) => lib.fail(e && e.stack ? e.stack : String(e)));
