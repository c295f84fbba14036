#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// Fault injection (issue 23, item 2): the real argobox-broker (and, where a desktop has to be
// real, argobox-session + argobox-wm on a private Xvfb) hit by one fault per case:
//
//   faults-test.js state     kill -9 of the broker while four writers PUT desktop states
//   faults-test.js upload    kill -9 of the broker in the middle of a tus PATCH body
//   faults-test.js start     kill -9 of the broker while a desktop is starting (real session)
//   faults-test.js wm        kill -9 of argobox-wm (the session restarts it; the viewer stays)
//   faults-test.js session   kill -9 of argobox-session (the viewer is told, reconnects, gets a
//                            new desktop with the same stored state)
//   faults-test.js kv        Workers KV (miniflare) behind a fault proxy: 503, slow (timeout),
//                            unreachable, and a broker kill -9 while writes are queued
//   faults-test.js diskfull  the data directory on a 6 MiB tmpfs, filled to the last byte
//   faults-test.js clock     the wall clock jumps 2 h forward and 1 h back (libfaketime) while a
//                            desktop, a share link, a session, a lockout and a demo are live
//
// Each case asserts that nothing acknowledged is lost, what the user is told, that ArgoBox
// recovers by itself, and the audit lines; each prints "recovery <what>: N ms" (the time from
// the fault, or from its end, to working again). Needs root (77 otherwise): files belong to
// the users' mapped ids, diskfull mounts a tmpfs.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { createRequire } = require('module');
const { execFileSync } = require('child_process');
const lib = require('../../lib/node/broker.cjs');

const mode = process.argv[2] || '';
if (process.getuid() !== 0) {
	console.log('SKIP: needs root (homes belong to the users\' mapped ids; diskfull mounts a tmpfs)');
	process.exit(77);
}
// ws and miniflare are the authn and kv test folders' pinned npm dependencies
const here = __dirname;
function peer(folder, name) {
	try {
		return createRequire(path.join(here, '..', folder, 'package.json'))(name);
	} catch (e) {
		console.log(`SKIP: ${name} is not installed in tests/integration/${folder} (./argobox deps test)`);
		process.exit(77);
	}
}
const WebSocket = peer('authn', 'ws');

const tmp = lib.harness({ prefix: 'ab-faults-', uncaught: true });
lib.onCleanup(() => lib.killFakeSessions(tmp));
const { waitFor, sleep, fail } = lib;
const sample = lib.paths.sample;
const B = lib.paths.build;

function ok(msg) { console.log(`ok   ${msg}`); }
function recovery(what, ms) { console.log(`recovery ${what}: ${Math.round(ms)} ms`); }
const req = (b, method, target, opts = {}) => lib.http(b.port, method, target, { origin: true, ...opts });

/* The audit lines (JSON objects) of event `ev`, optionally filtered. */
function audit(b, ev, fn = () => true) {
	return lib.auditLines(b).filter((l) => l.event === ev && fn(l));
}
function detail(l) { return l.detail || {}; }

/* kill -9 of the broker; resolves once it is gone. */
async function killBroker(b) {
	process.kill(b.p.pid, 'SIGKILL');
	await b.exited;
	return b.p.pid;
}

/* The broker's start after an unclean end is audited as one: broker.start says so. */
async function lastStart(b) {
	// "listening on" is logged just before broker.start is audited: wait for this run's line
	return waitFor('broker.start of this run', () => audit(b, 'broker.start').filter((l) => detail(l).port === b.port).pop(), 5000);
}
async function assertUncleanStart(b, killedPid) {
	const last = await lastStart(b);
	assert.strictEqual(detail(last).previous_run, 'unclean', `broker.start: ${JSON.stringify(last)}`);
	assert.strictEqual(detail(last).previous_pid, killedPid, `broker.start: ${JSON.stringify(last)}`);
	ok(`broker.start after the kill says previous_run "unclean", previous_pid ${killedPid}`);
}

/* A websocket to the desktop (with c's cookie, or as the loopback user without one). */
function wsOpen(b, c, target = '/websockify') {
	return new Promise((resolve) => {
		const ws = new WebSocket(`ws://127.0.0.1:${b.port}${target}`, [],
			{ headers: c ? { Cookie: c.cookie } : {}, origin: `http://127.0.0.1:${b.port}` });
		ws.early = [];
		ws.earlyListener = (d) => ws.early.push(d);
		ws.on('message', ws.earlyListener);
		ws.on('open', () => resolve({ ok: true, ws }));
		ws.on('unexpected-response', (q, r) => resolve({ ok: false, status: r.statusCode }));
		ws.on('error', (e) => resolve({ ok: false, status: 0, error: String(e) }));
	});
}
/* Like the desktop page (web/js/connection.js): open, handshake, first update; on failure
 * try again every 250 ms until `ms` have passed. Resolves {ws, view, tries}. */
async function connectRetrying(b, c, ms = 30000) {
	const end = Date.now() + ms;
	let last = '';
	for (let tries = 1; Date.now() < end; tries++) {
		const o = await wsOpen(b, c);
		if (o.ok) {
			try {
				const view = await lib.rfb(o.ws);
				await view.update();
				return { ws: o.ws, view, tries };
			} catch (e) {
				last = String(e);
				o.ws.terminate();
			}
		} else {
			last = `status ${o.status} ${o.error || ''}`;
		}
		await sleep(250);
	}
	fail(`no desktop within ${ms} ms: ${last}`);
}

function pidsOf(comm) {
	const out = [];
	for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
		try {
			if (fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) out.push(Number(p));
		} catch (e) { /* gone */ }
	}
	return out;
}
function envOf(pid) {
	try { return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'); } catch (e) { return []; }
}
function cmdlineOf(pid) {
	try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch (e) { return []; }
}
/* This test's sessions (by their runtime dir under tmp/run) and window managers. */
function sessions(user) {
	const dir = path.join(tmp, 'run', user);
	return pidsOf('argobox-session').filter((p) => lib.alive(p) && cmdlineOf(p).includes(dir));
}
function wms(user) {
	const dir = `ARGOBOX_RUNTIME_DIR=${path.join(tmp, 'run', user)}`;
	return pidsOf('argobox-wm').filter((p) => lib.alive(p) && envOf(p).includes(dir));
}
lib.onCleanup(() => {
	for (const comm of ['argobox-session', 'argobox-wm', 'Xvfb'])
		for (const p of pidsOf(comm))
			if (cmdlineOf(p).some((a) => a.startsWith(tmp)) || envOf(p).some((e) => e.includes(tmp)))
				try { process.kill(p, 'SIGKILL'); } catch (e) { /* gone */ }
});

/* A config with the real session and window manager (process launcher). */
function realSessionConfig(over = {}) {
	for (const bin of ['session/argobox-session', 'wm/argobox-wm']) {
		if (!fs.existsSync(path.join(B, bin))) {
			console.log(`SKIP: ${bin} is not built`);
			process.exit(77);
		}
	}
	for (const tool of ['Xvfb'])
		try { execFileSync('sh', ['-c', `command -v ${tool}`]); } catch (e) {
			console.log(`SKIP: ${tool} is not installed`);
			process.exit(77);
		}
	const cfg = lib.brokerConfig(tmp, over);
	cfg.session = Object.assign({}, cfg.session, {
		binary: path.join(B, 'session/argobox-session'),
		desktop_command: [path.join(B, 'wm/argobox-wm')],
		start_timeout_ms: 30000,
		geometry: '800x600',
	});
	return cfg;
}

const STATE = (u) => `/api/desktops/${u}/state`;
const accent = (n) => `#${(n & 0xffffff).toString(16).padStart(6, '0')}`;

// --- kill -9 of the broker during state writes ------------------------------------------

async function caseState() {
	const cfg = lib.brokerConfig(tmp); // no users: the loopback user "local", an admin
	let b = await lib.startBroker({ tmp, cfg });
	const base = (await req(b, 'GET', STATE('local'))).json.state;
	assert(base && base.theme, 'default state');
	const users = ['local', 'ana', 'ben', 'cy'];
	const acked = {}, sent = {};
	let total = 0, stop = false;
	const writer = async (u, k) => {
		for (let n = 1 + k * 100000; !stop; n++) {
			const st = JSON.parse(JSON.stringify(base));
			st.theme.accent = accent(n);
			sent[u] = n;
			let r;
			try {
				r = await req(b, 'PUT', STATE(u), { body: st });
			} catch (e) {
				return; // the broker is gone
			}
			if (r.status === 0) return;
			assert.strictEqual(r.status, 200, `PUT ${u}: ${r.status} ${r.body}`);
			acked[u] = n;
			total++;
		}
	};
	const writers = users.map((u, k) => writer(u, k));
	await waitFor('200 acknowledged writes', () => total >= 200, 30000, 5);
	const killed = await killBroker(b);
	const t0 = Date.now();
	stop = true;
	await Promise.all(writers);
	ok(`broker killed after ${total} acknowledged writes (${users.map((u) => `${u} ${acked[u]}`).join(', ')})`);
	b = await lib.startBroker({ tmp, cfg });
	await waitFor('the states loaded', async () => (await req(b, 'GET', STATE('local'))).status === 200, 20000, 10);
	recovery('broker kill -9 during state writes → states served', Date.now() - t0);
	for (const u of users) {
		const r = await req(b, 'GET', STATE(u));
		assert.strictEqual(r.status, 200);
		assert.strictEqual(r.json.stored, true, `${u}: nothing stored`);
		const got = r.json.state.theme.accent;
		// the last acknowledged write, or the one in flight when the broker died
		assert(got === accent(acked[u]) || got === accent(sent[u]),
			`${u}: stored ${got}, last acknowledged ${accent(acked[u])}, in flight ${accent(sent[u])}`);
		// every acknowledged write was audited before it was answered
		const lines = audit(b, 'state.replace', (l) => detail(l).target === u && l.outcome === 'grant');
		assert(lines.length >= acked[u] - (users.indexOf(u) * 100000), `${u}: ${lines.length} state.replace lines`);
	}
	ok('every user\'s stored state is the last acknowledged one (or the one in flight)');
	await assertUncleanStart(b, killed);
	await lib.stopBroker(b);
	// a clean stop leaves nothing to report
	b = await lib.startBroker({ tmp, cfg });
	const last = await lastStart(b);
	assert.strictEqual(detail(last).previous_run, 'clean', JSON.stringify(last));
	ok('after a clean stop broker.start says previous_run "clean"');
	await lib.stopBroker(b);
}

// --- kill -9 of the broker during an upload -----------------------------------------------

const TUS = { 'Tus-Resumable': '1.0.0' };
const b64 = (s) => Buffer.from(s).toString('base64');

/* A PATCH whose body is written in 64 KiB pieces every 10 ms; resolves when the connection
 * ends (the broker killed: status 0). onProgress(bytesWritten) after each piece. */
function slowPatch(b, c, loc, offset, data, onProgress) {
	return new Promise((resolve) => {
		const s = net.connect(b.port, '127.0.0.1');
		let got = '';
		s.on('connect', async () => {
			s.write(`PATCH ${loc} HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nConnection: close\r\n` +
				`Origin: http://127.0.0.1:${b.port}\r\nCookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n` +
				`Tus-Resumable: 1.0.0\r\nUpload-Offset: ${offset}\r\n` +
				`Content-Type: application/offset+octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`);
			for (let i = 0; i < data.length && !s.destroyed; i += 65536) {
				s.write(data.subarray(i, i + 65536));
				onProgress(Math.min(i + 65536, data.length));
				await sleep(10);
			}
		});
		s.on('data', (d) => { got += d; });
		s.on('error', () => {});
		s.on('close', () => resolve({ status: Number((/^HTTP\/1\.1 (\d+)/.exec(got) || [0, 0])[1]), text: got }));
	});
}

async function caseUpload() {
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles });
	let b = await lib.startBroker({ tmp, cfg });
	let bea = await lib.login(b, 'bea');
	const data = crypto.randomBytes(8 << 20);
	const sha = crypto.createHash('sha256').update(data).digest('hex');
	const meta = `filename ${b64('faults.bin')},destination ${b64('Uploads')}`;
	const cr = await req(b, 'POST', '/api/uploads', {
		headers: lib.as(bea, { ...TUS, 'Upload-Length': String(data.length), 'Upload-Metadata': meta }), contentLength: true,
	});
	assert.strictEqual(cr.status, 201, `create: ${cr.status} ${cr.body}`);
	const loc = cr.headers.location;
	const id = loc.split('/').pop();
	const part = path.join(tmp, 'data', 'home', 'bea', '.argobox-uploads', `${id}.part`);
	const size = () => { try { return fs.statSync(part).size; } catch (e) { return 0; } };
	let written = 0, killed = 0, t0 = 0;
	const patch = slowPatch(b, bea, loc, 0, data, (n) => { written = n; });
	await waitFor('2 MiB in the upload', () => size() >= 2 << 20, 30000, 5);
	killed = await killBroker(b);
	t0 = Date.now();
	const r = await patch;
	assert.strictEqual(r.status, 0, `the PATCH was answered: ${r.text.slice(0, 200)}`);
	ok(`broker killed mid-PATCH: ${size()} bytes on disk of ${written} sent, nothing acknowledged`);
	// no partial file under the final name
	assert(!fs.existsSync(path.join(tmp, 'data', 'home', 'bea', 'Uploads', 'faults.bin')), 'a partial file is visible');
	b = await lib.startBroker({ tmp, cfg });
	let h = await req(b, 'HEAD', loc, { headers: lib.as(bea, TUS) });
	if (h.status === 401) { // the sign-in did not survive: sign in again like the page would
		bea = await lib.login(b, 'bea');
		h = await req(b, 'HEAD', loc, { headers: lib.as(bea, TUS) });
	}
	assert.strictEqual(h.status, 200, `HEAD after the restart: ${h.status} ${h.body}`);
	recovery('broker kill -9 during an upload → HEAD answers the offset', Date.now() - t0);
	const off = Number(h.headers['upload-offset']);
	assert(off > 0 && off <= written, `offset ${off} (sent ${written})`);
	ok(`the upload resumes at ${off} (what arrived before the kill is kept)`);
	const fin = await req(b, 'PATCH', loc, {
		headers: lib.as(bea, { ...TUS, 'Upload-Offset': String(off), 'Content-Type': 'application/offset+octet-stream' }),
		body: data.subarray(off),
	});
	assert.strictEqual(fin.status, 204, `final PATCH: ${fin.status} ${fin.body}`);
	recovery('broker kill -9 during an upload → upload complete', Date.now() - t0);
	const file = path.join(tmp, 'data', 'home', 'bea', 'Uploads', 'faults.bin');
	const gotSha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
	assert.strictEqual(gotSha, sha, 'the uploaded file differs from what was sent');
	ok('the finished file is byte for byte what was sent');
	const done = audit(b, 'files.upload', (l) => l.outcome === 'grant' && JSON.stringify(l).includes('faults.bin'));
	assert(done.length >= 1, 'no files.upload grant line for the finished upload');
	await assertUncleanStart(b, killed);
	await lib.stopBroker(b);
}

// --- kill -9 of the broker while a desktop starts -------------------------------------------

async function caseStart() {
	const cfg = realSessionConfig(); // the loopback user "local"
	let b = await lib.startBroker({ tmp, cfg });
	// the first websocket starts the desktop; the broker dies while it is starting
	const first = wsOpen(b, null);
	await waitFor('the desktop starting', () => {
		try { return lib.ctl(b, 'list').desktops.some((d) => d.user === 'local' && d.state === 'starting'); } catch (e) { return false; }
	}, 20000, 5);
	await waitFor('the session spawned', () => sessions('local').length === 1, 10000, 5);
	const killed = await killBroker(b);
	const t0 = Date.now();
	const o = await first;
	if (o.ok) o.ws.terminate();
	ok('broker killed while the desktop was starting');
	b = await lib.startBroker({ tmp, cfg });
	const c = await connectRetrying(b, null);
	recovery('broker kill -9 during a desktop start → first frame', Date.now() - t0);
	ok(`a desktop answers after ${c.tries} attempt(s)`);
	// exactly one session and one window manager for the user: nothing orphaned, nothing twice
	await sleep(1500);
	assert.strictEqual(sessions('local').length, 1, `sessions: ${sessions('local')}`);
	assert.strictEqual(wms('local').length, 1, `window managers: ${wms('local')}`);
	ok('one session and one window manager run for the user');
	const list = lib.ctl(b, 'list').desktops.filter((d) => d.user === 'local');
	assert(list.length === 1 && list[0].state === 'ready', JSON.stringify(list));
	assert.strictEqual(list[0].pid, sessions('local')[0], 'the broker holds a different session than the one running');
	await assertUncleanStart(b, killed);
	const lines = audit(b, 'desktop.adopt').concat(audit(b, 'desktop.start'));
	assert(lines.length >= 1, 'neither desktop.adopt nor desktop.start audited');
	ok(`audited: ${lines.map((l) => `${l.event}/${l.outcome}`).join(', ')}`);
	c.ws.terminate();
	await lib.stopBroker(b);
}

// --- kill -9 of argobox-wm and argobox-session ---------------------------------------------

async function caseWm() {
	const cfg = realSessionConfig();
	const b = await lib.startBroker({ tmp, cfg });
	const c = await connectRetrying(b, null);
	await waitFor('the window manager', () => wms('local').length === 1, 20000);
	const old = wms('local')[0];
	process.kill(old, 'SIGKILL');
	const t0 = Date.now();
	await waitFor('a new window manager', () => wms('local').some((p) => p !== old), 20000, 5);
	recovery('argobox-wm kill -9 → a new window manager', Date.now() - t0);
	assert(!c.view.closed(), 'the viewer was disconnected by a window manager crash');
	await c.view.update();
	ok('the viewer stayed connected and keeps receiving updates');
	assert.strictEqual(sessions('local').length, 1, 'the session did not survive its window manager');
	await waitFor('desktop.command audited', () => audit(b, 'desktop.command').length > 0, 5000);
	const wmLines = audit(b, 'desktop.command');
	assert(wmLines.some((l) => l.outcome === 'failure' && l.user === 'local' && detail(l).signal === 'KILL' &&
		detail(l).restarting === true), `no desktop.command failure line naming the signal: ${JSON.stringify(wmLines)}`);
	ok('desktop.command failure audited (signal KILL, restarting)');
	c.ws.terminate();
	await lib.stopBroker(b);
}

async function caseSession() {
	const cfg = realSessionConfig();
	const b = await lib.startBroker({ tmp, cfg });
	const c = await connectRetrying(b, null);
	// a state to keep
	const st = (await req(b, 'GET', STATE('local'))).json.state;
	st.theme.accent = '#123456';
	assert.strictEqual((await req(b, 'PUT', STATE('local'), { body: st })).status, 200);
	const old = sessions('local')[0];
	const oldWm = wms('local')[0];
	const oldX = lib.descendants(old).filter((p) => (cmdlineOf(p)[0] || '').endsWith('Xvfb'));
	assert(oldWm && oldX.length === 1, `the desktop's wm ${oldWm} and Xvfb ${oldX}`);
	const closed = new Promise((r) => c.ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
	process.kill(old, 'SIGKILL');
	const t0 = Date.now();
	const cl = await Promise.race([closed, sleep(10000).then(() => null)]);
	assert(cl, 'the viewer was not disconnected when its session died');
	// the session's X server and window manager go with it (nothing left to talk to the next one)
	await waitFor('the old Xvfb and window manager gone', () => !lib.alive(oldWm) && !lib.alive(oldX[0]), 5000);
	ok('the killed session\'s Xvfb and window manager are gone with it');
	ok(`the viewer was told: close ${cl.code} '${cl.reason}' after ${Date.now() - t0} ms`);
	assert(cl.code !== 1005 && cl.code !== 1006, `no close code: ${cl.code}`);
	const c2 = await connectRetrying(b, null);
	recovery('argobox-session kill -9 → reconnected to a new desktop', Date.now() - t0);
	const now = sessions('local');
	assert(now.length === 1 && now[0] !== old, `sessions: ${now} (old ${old})`);
	const back = (await req(b, 'GET', STATE('local'))).json.state;
	assert.strictEqual(back.theme.accent, '#123456', `the stored state was lost: ${JSON.stringify(back.theme)}`);
	ok('a new desktop with the stored state');
	const stops = audit(b, 'desktop.stop', (l) => l.user === 'local');
	assert(stops.length >= 1, 'desktop.stop not audited');
	ok(`desktop.stop audited: ${JSON.stringify(detail(stops[stops.length - 1]))}`);
	c2.ws.terminate();
	await lib.stopBroker(b);
}

// --- Workers KV behind a fault proxy --------------------------------------------------------

async function caseKv() {
	const { Miniflare } = peer('kv', 'miniflare');
	const token = 'faults-' + crypto.randomBytes(8).toString('hex');
	const account = '0123456789abcdef0123456789abcdef', ns = 'fedcba9876543210fedcba9876543210';
	const mf = new Miniflare({
		modules: true, script: fs.readFileSync(path.join(here, '../kv/worker.js'), 'utf8'), host: '127.0.0.1', port: 0,
		kvNamespaces: ['NS'], bindings: { API_TOKEN: token, ACCOUNT_ID: account, NAMESPACE_ID: ns },
	});
	lib.onCleanup(() => { mf.dispose().catch(() => {}); });
	const upstream = new URL(await mf.ready);
	// the fault proxy: pass | 503 | slow (answers after 3 s) | down (connections reset)
	let fault = 'pass';
	const proxy = http.createServer((q, s) => {
		if (fault === 'down') { q.socket.destroy(); return; }
		if (fault === '503') { s.writeHead(503, { 'Retry-After': '1' }); s.end('upstream unavailable'); return; }
		const go = () => {
			const u = http.request({ host: upstream.hostname, port: upstream.port, path: q.url, method: q.method, headers: q.headers }, (ur) => {
				s.writeHead(ur.statusCode, ur.headers);
				ur.pipe(s);
			});
			u.on('error', () => s.destroy());
			q.pipe(u);
		};
		if (fault === 'slow') setTimeout(go, 3000); else go();
	});
	await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
	lib.onCleanup(() => proxy.close());
	const base = `http://127.0.0.1:${proxy.address().port}/client/v4`;
	const cfg = lib.brokerConfig(tmp, {
		kv: { backend: 'cfkv', dir: path.join(tmp, 'data', 'kv'),
			cf: { base_url: base, account_id: account, namespace_id: ns, api_token: token,
				min_interval_ms: 100, timeout_ms: 1000, backoff_max_ms: 1000 } },
	});
	let b = await lib.startBroker({ tmp, cfg });
	// what Workers KV holds for local's state (straight from miniflare, not through the proxy)
	const remote = async () => {
		const r = await fetch(new URL(`/client/v4/accounts/${account}/storage/kv/namespaces/${ns}/values/${encodeURIComponent('desktop/local')}`, upstream),
			{ headers: { Authorization: `Bearer ${token}` } });
		if (r.status !== 200) return null;
		try { return JSON.parse(await r.text()).theme.accent; } catch (e) { return null; }
	};
	const health = async () => (await req(b, 'GET', '/healthz')).json.kv;
	const base0 = (await waitFor('the states loaded', async () => {
		const r = await req(b, 'GET', STATE('local'));
		return r.status === 200 && r;
	}, 20000, 20)).json.state;
	const put = async (acc) => {
		const st = JSON.parse(JSON.stringify(base0));
		st.theme.accent = acc;
		const r = await req(b, 'PUT', STATE('local'), { body: st });
		assert.strictEqual(r.status, 200, `PUT ${acc}: ${r.status} ${r.body}`);
	};
	await put('#000001');
	await waitFor('the first state in Workers KV', async () => (await remote()) === '#000001', 20000, 50);
	ok('online: a state reaches Workers KV');
	let n = 1;
	for (const f of ['503', 'slow', 'down']) {
		const before = audit(b, 'kv.remote').length;
		fault = f;
		const acc = accent(++n);
		await put(acc); // acknowledged from the local queue
		const got = (await req(b, 'GET', STATE('local'))).json.state.theme.accent;
		assert.strictEqual(got, acc, `${f}: read-your-writes: ${got}`);
		await waitFor(`${f}: /healthz says Workers KV is offline`, async () => {
			const h = await health();
			return h && h.online === false && h.queued >= 1;
		}, 15000, 50);
		const down = audit(b, 'kv.remote').slice(before).find((l) => l.outcome === 'failure');
		assert(down, `${f}: no kv.remote failure line`);
		ok(`${f}: the write is acknowledged and readable, /healthz says offline, audited: ${detail(down).error}`);
		assert.notStrictEqual(await remote(), acc, `${f}: the fault proxy let the write through`);
		fault = 'pass';
		const t0 = Date.now();
		await waitFor(`${f}: the queued write in Workers KV`, async () => (await remote()) === acc, 20000, 50);
		recovery(`Workers KV ${f} → queued write delivered`, Date.now() - t0);
		await waitFor(`${f}: /healthz online`, async () => { const h = await health(); return h.online && h.queued === 0; }, 10000, 50);
		await waitFor(`${f}: kv.remote info line`, () => audit(b, 'kv.remote').slice(before).some((l) => l.outcome === 'info'), 5000);
		ok(`${f}: healed; /healthz online, queue empty, kv.remote info audited`);
	}
	// queued writes survive a kill -9 of the broker during the outage
	fault = '503';
	const acc = accent(++n);
	await put(acc);
	await waitFor('offline', async () => (await health()).online === false, 15000, 50);
	const killed = await killBroker(b);
	fault = 'pass';
	const t0 = Date.now();
	b = await lib.startBroker({ tmp, cfg });
	await waitFor('the queued write in Workers KV after the restart', async () => (await remote()) === acc, 20000, 50);
	recovery('broker kill -9 with writes queued for Workers KV → delivered', Date.now() - t0);
	await assertUncleanStart(b, killed);
	await lib.stopBroker(b);
}

// --- the data directory's disk full ---------------------------------------------------------

async function caseDiskfull() {
	const data = path.join(tmp, 'data');
	fs.mkdirSync(data, { recursive: true });
	try {
		execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0711', 'ab-faults', data]);
	} catch (e) {
		console.log(`SKIP: cannot mount a tmpfs on the data dir: ${e.message}`);
		process.exit(77);
	}
	lib.onCleanup(() => { try { execFileSync('umount', ['-l', data]); } catch (e) { /* gone */ } });
	const cfg = lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles });
	const b = await lib.startBroker({ tmp, cfg });
	const bea = await lib.login(b, 'bea');
	const ST = STATE('bea');
	const base0 = (await req(b, 'GET', ST, { headers: lib.as(bea) })).json.state;
	const put = (acc) => {
		const st = JSON.parse(JSON.stringify(base0));
		st.theme.accent = acc;
		return req(b, 'PUT', ST, { headers: lib.as(bea), body: st });
	};
	assert.strictEqual((await put('#0000aa')).status, 200);
	// an upload created while there is space, written once the disk is full
	const up = crypto.randomBytes(1 << 20);
	const cr0 = await req(b, 'POST', '/api/uploads', {
		headers: lib.as(bea, { ...TUS, 'Upload-Length': String(up.length), 'Upload-Metadata': `filename ${b64('full.bin')},destination ${b64('Uploads')}` }),
		contentLength: true,
	});
	assert.strictEqual(cr0.status, 201, `create: ${cr0.status} ${cr0.body}`);
	const loc = cr0.headers.location;
	// fill the file system to the last byte
	const filler = path.join(data, 'filler');
	const fd = fs.openSync(filler, 'w');
	const chunk = Buffer.alloc(64 << 10, 1);
	for (;;) {
		try { fs.writeSync(fd, chunk); } catch (e) { assert.strictEqual(e.code, 'ENOSPC'); break; }
	}
	for (let sz = 4096; sz >= 1; sz >>= 1) for (;;) try { fs.writeSync(fd, chunk.subarray(0, sz)); } catch (e) { break; }
	fs.closeSync(fd);
	ok('the data dir\'s file system is full');
	// a state write is refused with a clear message; the stored state stays
	const big = JSON.parse(JSON.stringify(base0));
	big.theme.accent = '#0000bb';
	let r = await put('#0000bb');
	for (let i = 0; r.status === 200 && i < 50; i++) r = await put(accent(0xbb00 + i)); // a page or two may be left
	assert.strictEqual(r.status, 507, `PUT on a full disk: ${r.status} ${r.body}`);
	assert(/no space left.*not saved.*kept/.test(r.json && r.json.error), `the message: ${r.body}`);
	assert(!r.body.includes(tmp), `the message names a server path: ${r.body}`);
	const sf = audit(b, 'state.replace', (l) => l.outcome === 'failure' && detail(l).target === 'bea');
	assert(sf.length >= 1 && /No space left/.test(detail(sf[0]).error), `state.replace failure: ${JSON.stringify(sf)}`);
	ok(`a state write on the full disk: ${r.status} '${r.json.error}'`);
	const kept = (await req(b, 'GET', ST, { headers: lib.as(bea) })).json.state.theme.accent;
	assert(/^#0000aa$|^#00bb|^#0000bb$/.test(kept), `the stored state: ${kept}`);
	// a new upload is refused with 507; the one begun before gets 507 for its bytes
	const cr = await req(b, 'POST', '/api/uploads', {
		headers: lib.as(bea, { ...TUS, 'Upload-Length': '1000', 'Upload-Metadata': `filename ${b64('no.bin')}` }), contentLength: true,
	});
	ok(`a new upload on the full disk: ${cr.status} ${cr.body.trim()}`);
	assert.strictEqual(cr.status, 507, `create on a full disk answered ${cr.status}`);
	const p = await req(b, 'PATCH', loc, {
		headers: lib.as(bea, { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }), body: up,
	});
	ok(`the upload's bytes on the full disk: ${p.status} ${p.body.trim()}`);
	const status = p.status;
	assert.strictEqual(status, 507, `upload on a full disk answered ${status}`);
	assert(!JSON.stringify(audit(b, 'files.upload', (l) => l.outcome === 'deny').pop() || {}).includes('"status":500'));
	const ud = audit(b, 'files.upload', (l) => l.outcome === 'deny' && detail(l).status === 507);
	assert(ud.length >= 1, `no files.upload deny line with status 507: ${JSON.stringify(audit(b, 'files.upload'))}`);
	// the audit file (outside the data dir here) says what failed
	await waitFor('audit.store failure', () => audit(b, 'audit.store', (l) => l.outcome === 'failure').length > 0, 15000);
	ok('audit.store failure audited (the audit database could not write)');
	// space again: everything works by itself
	fs.unlinkSync(filler);
	const t0 = Date.now();
	await waitFor('a state write succeeding', async () => (await put('#0000cc')).status === 200, 20000, 20);
	recovery('disk full → state writes', Date.now() - t0);
	await waitFor('the audit store writing again', () => audit(b, 'audit.store', (l) => l.outcome === 'info').length > 0, 40000);
	recovery('disk full → audit store writing again', Date.now() - t0);
	{
		const h = await req(b, 'HEAD', loc, { headers: lib.as(bea, TUS) });
		assert.strictEqual(h.status, 200, `HEAD: ${h.status}`);
		const off = Number(h.headers['upload-offset']);
		const fin = await req(b, 'PATCH', loc, {
			headers: lib.as(bea, { ...TUS, 'Upload-Offset': String(off), 'Content-Type': 'application/offset+octet-stream' }),
			body: up.subarray(off),
		});
		assert.strictEqual(fin.status, 204, `resumed upload: ${fin.status} ${fin.body}`);
		const got = fs.readFileSync(path.join(data, 'home', 'bea', 'Uploads', 'full.bin'));
		assert(got.equals(up), 'the resumed upload differs');
		ok(`the upload refused on the full disk resumes at ${off} and completes intact`);
	}
	await lib.stopBroker(b);
	const st = JSON.parse(fs.readFileSync(path.join(tmp, 'audit.log'), 'utf8').trim().split('\n').pop());
	assert.strictEqual(st.event, 'broker.stop');
}

// --- the wall clock jumping ---------------------------------------------------------------

/* The broker's CPU time so far (user + system), in ms. */
function cpuMs(pid) {
	const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) * 10; // utime, stime in 100 Hz ticks
}

/*
 * The broker runs under libfaketime (LD_PRELOAD) with CLOCK_MONOTONIC left alone: its wall
 * clock (and its children's) is moved at run time through the control file, as `date -s`
 * would move the machine's. While a desktop, a share link with a viewer, a browser session,
 * a lockout and a demo are live, the wall clock jumps 2 h forward, then 1 h back. Nothing
 * may end early or late (each lifetime is measured on the test's own clock), each jump is
 * audited (clock.jump) with the audit's timestamps on the new wall clock, the broker does
 * not spin (CPU time over the jumps) and it stops cleanly.
 */
async function caseClock() {
	const lib32 = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1']
		.find((f) => fs.existsSync(f));
	if (!lib32) {
		console.log('SKIP: libfaketime is not installed (Debian package libfaketime, deps/debian/test.txt)');
		process.exit(77);
	}
	const ctl = path.join(tmp, 'faketime');
	fs.writeFileSync(ctl, '+0\n');
	const env = {
		LD_PRELOAD: lib32, FAKETIME_TIMESTAMP_FILE: ctl, FAKETIME_DONT_FAKE_MONOTONIC: '1',
		FAKETIME_CACHE_DURATION: '1', // the control file is read again at most every second
		// libfaketime's "monotonic fix" (on by default with this glibc) shifts the deadline of a
		// pthread_cond_timedwait on a CLOCK_MONOTONIC condvar by the fake offset: after the jump
		// back every timed wait of the audit store's writer returned at once (a busy loop the
		// kernel's monotonic condvar never makes). Off: the broker's clocks are the real ones.
		FAKETIME_FORCE_MONOTONIC_FIX: '0',
		// libfaketime is preloaded before the sanitizer runtime of a sanitized build
		ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
	};
	const TTL = 40; // s: browser session, lockout and demo (1 min is the config's smallest: below)
	const auth = JSON.parse(JSON.stringify(sample.auth));
	auth.local = Object.assign({}, auth.local, { session_ttl_minutes: 1, lockout_minutes: 1, max_failures_user: 3 });
	auth.demo = Object.assign({}, auth.demo, { ttl_seconds: TTL, warn_seconds: [10] });
	const cfg = lib.brokerConfig(tmp, { auth, users: sample.users, profiles: sample.profiles, share: { min_ttl_s: 1 } });
	const b = await lib.startBroker({ tmp, cfg, env });
	await waitFor('the share links to load', () => /share: \d+ link/.test(b.log()));
	// how far the broker's wall clock is ahead of the test's (the control file's offset)
	let skew = 0;
	const st0 = Date.parse(audit(b, 'broker.start').pop().time) - Date.now();
	assert(st0 < 0 && st0 > -10000, `the broker's clock before any jump: broker.start ${st0} ms ago`);

	// the live things, each started at a known time on the test's clock
	const t = {};
	const bogie = await lib.login(b, 'bogie');
	t.session = Date.now();
	await waitFor('bogie\'s desktop', async () => (await req(b, 'GET', '/api/desktop', { headers: lib.as(bogie) })).json?.state === 'ready');
	const SHARE = 30;
	const cr = await req(b, 'POST', '/api/share', { headers: lib.as(bogie), body: { expires_in_s: SHARE } });
	assert.strictEqual(cr.status, 201, cr.body);
	t.share = Date.now();
	const link = cr.json;
	const vo = await wsOpen(b, null, `/ws/share/${link.token}`);
	assert(vo.ok, `share viewer: ${vo.status}`);
	const view = await lib.rfb(vo.ws);
	await view.update();
	let viewerCut = 0;
	vo.ws.on('close', () => { viewerCut = Date.now(); });
	for (let i = 0; i < 3; i++) {
		const r = await lib.http(b.port, 'POST', '/api/login', { body: { user: 'mauve', password: 'nope' } });
		assert.strictEqual(r.status, 401, `wrong password ${i}: ${r.status} ${r.body}`);
	}
	t.lockout = Date.now();
	const locked = await lib.http(b.port, 'POST', '/api/login', { body: { user: 'mauve', password: 'mauve-argobox' } });
	assert.strictEqual(locked.status, 429, `mauve locked out: ${locked.status} ${locked.body}`);
	const dm = await lib.demo(b);
	assert.strictEqual(dm.status, 200, `demo: ${JSON.stringify(dm.r && dm.r.body)}`);
	t.demo = Date.now();
	ok(`live: bogie's session and desktop, a ${SHARE} s share link with a viewer, mauve locked out, demo '${dm.user}' (${TTL} s)`);

	const me = async (c) => (await req(b, 'GET', '/api/me', { headers: lib.as(c) })).status;
	const alive = async (when) => {
		assert.strictEqual(await me(bogie), 200, `${when}: bogie's session ended`);
		assert.strictEqual(await me(dm), 200, `${when}: the demo ended`);
		const r = await lib.http(b.port, 'POST', '/api/login', { body: { user: 'mauve', password: 'mauve-argobox' } });
		assert.strictEqual(r.status, 429, `${when}: mauve's lockout ended: ${r.status}`);
		const left = Number(r.headers['retry-after']);
		const want = 60 - (Date.now() - t.lockout) / 1000;
		assert(Math.abs(left - want) <= 2, `${when}: Retry-After ${left} s, the lockout has ${want.toFixed(1)} s left`);
		assert(!view.closed() && !viewerCut, `${when}: the share viewer was cut off`);
		const v2 = await wsOpen(b, null, `/ws/share/${link.token}`); // a new viewer gets in too
		if (v2.ok) v2.ws.terminate();
		assert(v2.ok, `${when}: a new viewer of the share link was refused: ${v2.status}`);
		const l = (await req(b, 'GET', '/api/share', { headers: lib.as(bogie) })).json.links.find((x) => x.id === link.id);
		assert(l, `${when}: the share link is gone from the list`);
		// its expiry on the broker's (jumped) wall clock: still SHARE s from its creation
		const wantExp = (Date.now() + skew) / 1000 + SHARE - (Date.now() - t.share) / 1000;
		assert(Math.abs(l.expires - wantExp) <= 2, `${when}: the link says it expires at ${l.expires}, want ${wantExp.toFixed(0)}`);
		assert.strictEqual((await req(b, 'GET', '/api/desktop', { headers: lib.as(bogie) })).json?.state, 'ready');
	};
	await alive('before the jumps');

	const cpu0 = cpuMs(b.p.pid), w0 = Date.now();
	const jump = async (spec, delta) => {
		const before = audit(b, 'clock.jump').length;
		fs.writeFileSync(ctl, `${spec}\n`);
		const tj = Date.now();
		const line = await waitFor(`clock.jump ${delta} s audited`, () => audit(b, 'clock.jump')[before], 5000);
		const d = detail(line).delta_ms;
		assert(Math.abs(d - delta * 1000) < 2000, `clock.jump delta_ms ${d}, want ${delta * 1000}`);
		skew += delta * 1000;
		// the audit's timestamps are on the new wall clock (the jump is seen within a second)
		const late = Date.parse(line.time) - (tj + skew);
		assert(late > -500 && late < 2500, `clock.jump's time ${line.time}: ${late} ms from the jump on the new clock`);
		ok(`clock.jump audited ${Date.now() - tj} ms after the jump: delta_ms ${d}`);
	};
	await jump('+7200', 7200);
	await sleep(1500);
	await alive('2 h forward');
	ok('2 h forward: the session, the demo, the lockout (Retry-After), the share link and its viewer keep their time');
	await jump('+3600', -3600);
	await sleep(1500);
	await alive('1 h back');
	ok('1 h back: the same');
	const cpu = cpuMs(b.p.pid) - cpu0, wall = Date.now() - w0;
	assert(cpu < wall * 0.5, `the broker used ${cpu} ms of CPU in ${wall} ms across the jumps (a timer storm?)`);
	ok(`no timer storm: ${cpu} ms of CPU in ${wall} ms across the jumps`);

	// each thing ends at its time on the test's clock (polling every 250 ms): not early, not late
	const ends = {};
	const lockEnd = async () => {
		const r = await lib.http(b.port, 'POST', '/api/login', { body: { user: 'mauve', password: 'mauve-argobox' } });
		return r.status === 200;
	};
	await waitFor('everything to end', async () => {
		const now = Date.now();
		if (!ends.share && viewerCut) ends.share = viewerCut;
		if (!ends.session && await me(bogie) === 401) ends.session = now;
		if (!ends.demo && await me(dm) === 401) ends.demo = now;
		if (!ends.lockout && await lockEnd()) ends.lockout = now;
		return ends.share && ends.session && ends.demo && ends.lockout;
	}, 90000, 250);
	const check = (what, start, life) => {
		const got = (ends[what] - start) / 1000;
		ok(`${what}: ended after ${got.toFixed(1)} s (its lifetime ${life} s)`);
		assert(got >= life - 0.5 && got <= life + 2.5, `${what} ended after ${got.toFixed(1)} s, its lifetime is ${life} s`);
	};
	check('share', t.share, SHARE);
	check('demo', t.demo, TTL);
	check('session', t.session, 60);
	check('lockout', t.lockout, 60);
	const ex = audit(b, 'share.expire', (l) => detail(l).id === link.id);
	assert(ex.length === 1 && detail(ex[0]).viewers_cut === 1, `share.expire: ${JSON.stringify(ex)}`);
	const again = await wsOpen(b, null, `/ws/share/${link.token}`);
	if (again.ok) again.ws.terminate();
	assert.strictEqual(again.status, 410, 'the expired link still opens');
	const de = audit(b, 'demo.end', (l) => l.user === dm.user);
	assert(de.length === 1 && JSON.stringify(de[0]).includes('ttl'), `demo.end: ${JSON.stringify(de)}`);
	assert(audit(b, 'auth.login', (l) => l.user === 'mauve' && l.outcome === 'grant').length === 1, 'mauve\'s sign-in after the lockout');
	ok('audited: share.expire (viewers_cut 1), demo.end (ttl), mauve\'s sign-in granted after the lockout');
	await lib.stopBroker(b);
	ok('the broker stops cleanly');
}

const cases = { state: caseState, upload: caseUpload, start: caseStart, wm: caseWm, session: caseSession, kv: caseKv, diskfull: caseDiskfull, clock: caseClock };
if (!cases[mode]) {
	console.error(`usage: faults-test.js ${Object.keys(cases).join('|')}`);
	process.exit(2);
}
cases[mode]().then(() => {
	console.log(`PASS faults ${mode}`);
	lib.cleanup();
	process.exit(0);
}, (e) => fail(e && e.stack ? e.stack : String(e)));
