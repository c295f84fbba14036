// SPDX-License-Identifier: GPL-2.0-or-later
// ArgoBox's node test helpers: the real argobox-broker on a temporary config, sign-in (local,
// Access JWT, demo), raw HTTP, websockets, the audit log, and teardown by pid.
// CommonJS so that both the integration tests (require) and the e2e tests (import) load it:
//   const lib = require('../../lib/node/broker.cjs');
//   import lib from '../lib/node/broker.cjs';
//
// API
//   paths                     build, src, brokerBin, ctlBin, fakeSession, sample (the sample config)
//   harness({prefix, sigterm, uncaught})
//                             a temp dir (kept on failure) + exit/unhandledRejection handlers;
//                             returns the dir
//   cleanup()                 the teardown (also run on exit)
//   fail(msg)                 prints FAIL: msg (and where the files are), tears down, exits 1
//   onCleanup(fn)             fn runs at teardown (before the tracked process groups are killed)
//   track(child)              its process group is SIGKILLed at teardown
//   waitFor(what, fn, ms=15000, interval=25)
//                             polls fn until truthy; fail()s on timeout
//   sleep(ms)
//   http(port, method, target, {headers, body, origin, latin1, contentLength})
//                             one HTTP/1.1 request: {status, head, headers, body, json}; origin:
//                             send the broker's own Origin; contentLength: Content-Length: 0 too
//   brokerConfig(tmp, over)   the usual test config (port 0, process launcher with the fake
//                             session, admin socket, audit log, data dir in tmp) with over's
//                             top-level keys replacing the defaults
//   startBroker({tmp, cfg, env, logPattern})
//                             writes tmp/broker.json, starts the broker (own process group,
//                             tracked), waits for "listening on http(s)://127.0.0.1:PORT/";
//                             returns {p, port, tmp, cfg, exited, log(), audit(), fakeLog(user)}
//   stopBroker(b)             SIGTERM, then asserts it exits 0 within 20 s
//   login(b, user, password)  {user, cookie, csrf, role, setCookie}
//   demo(b, profile)          {status, user, cookie, csrf, role, json}
//   as(c, extra)              headers carrying c's cookie and CSRF token
//   auditLines(b)             the audit log's lines as objects
//   ctl(b, ...args)           argoboxctl --json on b's admin socket, parsed
//   wsOpen(port, target, c)   websocket with c's cookie: {ok, ws} or {ok: false, status}
//   wsTry(port, target, {cookie, origin, protocols, headers})
//                             websocket with full control of its headers: {ok, ws} or
//                             {ok: false, status, headers, body}
//   rfb(ws)                   the RFB handshake on a wsOpen() websocket: {update, key, pointer,
//                             cut, resize, closed}
//   descendants(pid)          every process below pid
//   fakeSessionPids(tmp)      the pids of the fake sessions started under tmp/run (fake.log)
//   killFakeSessions(tmp)     SIGKILLs those still alive (register with onCleanup: sessions lead
//                             process groups of their own and outlive a killed broker)
//   alive(pid)                pid exists and is no zombie
//   runCase(label, cases)     runs cases[argv[2]]() (an unknown name fail()s, listing the cases):
//                             "PASS label NAME", teardown, exit 0; a throw fail()s with its stack
'use strict';
const assert = require('assert');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const { createRequire } = require('module');
const net = require('net');
const os = require('os');
const path = require('path');

const src = process.env.AB_SOURCE_DIR || path.resolve(__dirname, '../../..');
const build = process.env.AB_BUILD_DIR || '';
const paths = {
	src,
	build,
	brokerBin: path.join(build, 'broker', 'argobox-broker'),
	ctlBin: path.join(build, 'broker', 'argoboxctl'),
	fakeSession: path.join(src, 'tests/integration/broker/fake-session.js'),
	get sample() {
		return JSON.parse(fs.readFileSync(path.join(src, 'config/argobox.sample.json'), 'utf8'));
	},
};

const children = [];
const cleanups = [];
const tmps = [];
let failed = false;
let cleaned = false;

function onCleanup(fn) {
	cleanups.push(fn);
}
function track(child) {
	children.push(child);
	return child;
}
function cleanup() {
	if (cleaned) return;
	cleaned = true;
	for (const fn of cleanups) {
		try { fn(); } catch (e) { /* best effort */ }
	}
	// every descendant too: a broker's sessions (and their X servers) run in process groups of
	// their own and, left behind, would keep the test's output open until ctest's timeout
	const all = [];
	for (const c of children) all.push(c.pid, ...descendants(c.pid));
	for (const c of children) {
		try { process.kill(-c.pid, 'SIGKILL'); } catch (e) { /* gone */ }
	}
	for (const pid of all) {
		try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
	}
	if (!failed) for (const t of tmps) fs.rmSync(t, { recursive: true, force: true });
}
function fail(msg) {
	failed = true;
	console.error(`FAIL: ${msg}${tmps.length === 1 ? ` (files in ${tmps[0]})` : ''}`);
	cleanup();
	process.exit(1);
}
function tmpDir(prefix) {
	const t = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	tmps.push(t);
	return t;
}
function harness({ prefix, sigterm = false, uncaught = false } = {}) {
	process.on('exit', cleanup);
	process.on('unhandledRejection', (e) => fail(e && e.stack ? e.stack : String(e)));
	if (uncaught) process.on('uncaughtException', (e) => fail(e && e.stack ? e.stack : String(e)));
	if (sigterm) process.on('SIGTERM', () => fail('terminated (SIGTERM)'));
	return prefix ? tmpDir(prefix) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, fn, ms = 15000, interval = 25) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) fail(`timed out waiting for ${what}`);
		await sleep(interval);
	}
}

/* One HTTP/1.1 request; resolves {status, head, headers, body, json}. A string body goes as it
 * is, anything else as JSON (with Content-Type unless headers name one). */
function http(port, method, target, { headers = {}, body, origin = false, latin1 = false, contentLength = false } = {}) {
	return new Promise((resolve, reject) => {
		const s = net.connect(port, '127.0.0.1');
		let data = Buffer.alloc(0);
		s.on('connect', () => {
			let req = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
			if (origin) req += `Origin: http://127.0.0.1:${port}\r\n`;
			const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
			if (b) req += `${headers['Content-Type'] ? '' : 'Content-Type: application/json\r\n'}Content-Length: ${b.length}\r\n`;
			else if (contentLength) req += 'Content-Length: 0\r\n';
			for (const [k, v] of Object.entries(headers)) if (v !== undefined) req += `${k}: ${v}\r\n`;
			s.write(req + '\r\n');
			if (b) s.write(b);
		});
		s.on('data', (d) => { data = Buffer.concat([data, d]); });
		s.on('error', reject);
		s.on('close', () => {
			const t = data.toString(latin1 ? 'latin1' : 'utf8');
			const i = t.indexOf('\r\n\r\n');
			const head = i >= 0 ? t.slice(0, i) : t;
			const m = /^HTTP\/1\.[01] (\d+)/.exec(head);
			const hdrs = {};
			for (const l of head.split('\r\n').slice(1)) {
				const j = l.indexOf(':');
				if (j > 0) hdrs[l.slice(0, j).toLowerCase()] = l.slice(j + 1).trim();
			}
			const bodyText = i >= 0 ? t.slice(i + 4) : '';
			let json = null;
			try { json = JSON.parse(bodyText); } catch (e) { /* not JSON */ }
			resolve({ status: m ? Number(m[1]) : 0, head, headers: hdrs, body: bodyText, json });
		});
	});
}

function brokerConfig(tmp, over = {}) {
	return {
		listen: { address: '127.0.0.1', port: 0 },
		web: { root: path.join(src, 'web') },
		session: {
			launcher: 'process',
			binary: paths.fakeSession,
			runtime_base: path.join(tmp, 'run'),
			desktop_command: ['true'],
			start_timeout_ms: 15000,
			stop_timeout_ms: 3000,
		},
		control: { heartbeat_ms: 500, timeout_ms: 5000 },
		admin: { socket: path.join(tmp, 'broker.sock') },
		audit: { path: path.join(tmp, 'audit.log') },
		data: { dir: path.join(tmp, 'data') }, // never the shared default store
		log: { level: 'debug' },
		...over,
	};
}

async function startBroker({ tmp, cfg, env = {}, logPattern = /listening on https?:\/\/127\.0\.0\.1:(\d+)\// }) {
	fs.writeFileSync(path.join(tmp, 'broker.json'), JSON.stringify(cfg));
	const p = spawn(paths.brokerBin, ['--config', path.join(tmp, 'broker.json')], {
		env: Object.assign({}, process.env, env), stdio: ['ignore', 'inherit', 'pipe'], detached: true,
	});
	track(p);
	let logText = '';
	p.stderr.on('data', (d) => { logText += d; process.stderr.write(d); });
	const exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
	const port = await waitFor('the broker to listen', () => {
		const m = logPattern.exec(logText);
		return m && Number(m[1]);
	});
	const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch (e) { return ''; } };
	return {
		p, port, tmp, cfg, exited, log: () => logText,
		audit: () => (cfg.audit ? read(cfg.audit.path) : ''),
		fakeLog: (u = 'local') => read(path.join(tmp, 'run', u, 'fake.log')),
	};
}

async function stopBroker(b) {
	process.kill(b.p.pid, 'SIGTERM');
	const r = await Promise.race([b.exited, sleep(20000).then(() => null)]);
	if (!r) fail('broker did not exit after SIGTERM');
	assert.strictEqual(r.code, 0, `broker exit status (signal ${r.sig})`);
}

/* A signed-in client: cookie + CSRF token. */
async function login(b, user, password = `${user}-argobox`) {
	const r = await http(b.port, 'POST', '/api/login', { body: { user, password } });
	assert.strictEqual(r.status, 200, `login ${user}: ${r.body}`);
	const cookie = /^(argobox_session=[0-9a-f]+)/.exec(r.headers['set-cookie'])[1];
	return { user, cookie, csrf: r.json.csrf_token, role: r.json.role, setCookie: r.headers['set-cookie'] };
}
async function demo(b, profile = 'demo-homelab') {
	const r = await http(b.port, 'POST', '/api/demo', { body: { profile } });
	if (r.status !== 200) return { status: r.status, r };
	const cookie = /^(argobox_session=[0-9a-f]+)/.exec(r.headers['set-cookie'])[1];
	return { status: 200, user: r.json.user, cookie, csrf: r.json.csrf_token, role: 'demo', json: r.json };
}
function as(c, extra = {}) {
	if (!c) return extra;
	return Object.assign({ Cookie: c.cookie, 'X-CSRF-Token': c.csrf }, extra);
}

function auditLines(b) {
	return b.audit().split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function ctl(b, ...args) {
	return JSON.parse(execFileSync(paths.ctlBin, ['--socket', b.cfg.admin.socket, '--json', ...args]).toString());
}

/* ws is each test folder's own dependency: resolved from the test script. */
function WebSocketClass() {
	return createRequire(path.resolve(process.argv[1]))('ws');
}

/* Websocket upgrade: resolves {ok, ws} or {ok: false, status}. */
function wsOpen(port, target, c) {
	const WebSocket = WebSocketClass();
	return new Promise((resolve) => {
		const ws = new WebSocket(`ws://127.0.0.1:${port}${target}`, [],
			{ headers: c ? { Cookie: c.cookie } : {}, origin: `http://127.0.0.1:${port}` });
		/* The RFB banner may arrive before the test listens: keep it until then. */
		ws.early = [];
		ws.earlyListener = (d) => ws.early.push(d);
		ws.on('message', ws.earlyListener);
		ws.on('open', () => resolve({ ok: true, ws }));
		ws.on('unexpected-response', (q, r) => { resolve({ ok: false, status: r.statusCode }); });
		ws.on('error', () => resolve({ ok: false, status: 0 }));
	});
}

/* A websocket upgrade with full control of its headers: resolves {ok, status, body, ws}. */
function wsTry(port, target, { cookie, origin, protocols = [], headers = {} } = {}) {
	const WebSocket = WebSocketClass();
	return new Promise((resolve) => {
		const h = Object.assign({}, headers);
		if (cookie) h.Cookie = cookie;
		const ws = new WebSocket(`ws://127.0.0.1:${port}${target}`, protocols,
			{ headers: h, origin: origin === undefined ? `http://127.0.0.1:${port}` : origin || undefined });
		ws.on('open', () => resolve({ ok: true, ws }));
		ws.on('unexpected-response', (q, r) => {
			let body = '';
			r.on('data', (d) => { body += d; });
			r.on('end', () => resolve({ ok: false, status: r.statusCode, headers: r.headers, body }));
			r.on('error', () => resolve({ ok: false, status: r.statusCode, headers: r.headers, body }));
		});
		ws.on('error', (e) => resolve({ ok: false, status: 0, error: String(e) }));
	});
}

/* Runs the RFB handshake on a websocket from wsOpen(); returns {update, key, pointer, cut,
 * resize, closed}: update() asks for a 4x4 update and reads it, the others send input. */
async function rfb(ws) {
	let buf = Buffer.concat(ws.early || []);
	if (ws.earlyListener) ws.off('message', ws.earlyListener);
	let waiters = [];
	let closed = false;
	ws.on('message', (d) => { buf = Buffer.concat([buf, d]); waiters.forEach((w) => w()); });
	ws.on('close', () => { closed = true; waiters.forEach((w) => w()); });
	const read = (n) => new Promise((res, rej) => {
		const t = setTimeout(() => rej(new Error(`timeout reading ${n} bytes`)), 15000);
		const check = () => {
			if (buf.length >= n) {
				clearTimeout(t);
				waiters = waiters.filter((w) => w !== check);
				const r = buf.subarray(0, n); buf = buf.subarray(n); res(r);
			} else if (closed) { clearTimeout(t); rej(new Error('websocket closed')); }
		};
		waiters.push(check); check();
	});
	assert.strictEqual((await read(12)).toString(), 'RFB 003.008\n');
	ws.send(Buffer.from('RFB 003.008\n'));
	const nt = (await read(1))[0];
	await read(nt);
	ws.send(Buffer.from([1]));
	assert.strictEqual((await read(4)).readUInt32BE(0), 0, 'security result');
	ws.send(Buffer.from([0])); // exclusive: the view-only filter must force shared
	const si = await read(24);
	await read(si.readUInt32BE(20));
	const update = async () => {
		const m = Buffer.alloc(10); m[0] = 3; m[1] = 0; m.writeUInt16BE(4, 6); m.writeUInt16BE(4, 8);
		ws.send(m);
		const hd = await read(16);
		assert.strictEqual(hd[0], 0, 'FramebufferUpdate');
		await read(hd.readUInt16BE(8) * hd.readUInt16BE(10) * 4);
	};
	const key = (sym) => { const m = Buffer.alloc(8); m[0] = 4; m[1] = 1; m.writeUInt32BE(sym, 4); ws.send(m); };
	const pointer = () => ws.send(Buffer.from([5, 1, 0, 10, 0, 10]));
	const cut = (t) => { const h = Buffer.alloc(8); h[0] = 6; h.writeUInt32BE(t.length, 4); ws.send(Buffer.concat([h, Buffer.from(t)])); };
	const resize = () => { const m = Buffer.alloc(24); m[0] = 251; m.writeUInt16BE(100, 2); m.writeUInt16BE(100, 4); m[6] = 1; ws.send(m); };
	return { update, key, pointer, cut, resize, closed: () => closed };
}

/* Every process below pid (sessions lead process groups of their own). */
function descendants(pid) {
	const kids = new Map();
	for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
		try {
			const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
			const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
			if (!kids.has(ppid)) kids.set(ppid, []);
			kids.get(ppid).push(Number(p));
		} catch (e) { /* gone */ }
	}
	const out = [];
	for (let todo = [pid]; todo.length;) {
		const p = todo.pop();
		for (const k of kids.get(p) || []) { out.push(k); todo.push(k); }
	}
	return out;
}

function alive(pid) {
	try { process.kill(pid, 0); } catch (e) { return false; }
	try { return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch (e) { return false; }
}

function fakeSessionPids(tmp) {
	const pids = [];
	let users = [];
	try {
		users = fs.readdirSync(path.join(tmp, 'run'));
	} catch (e) {
		/* none */
	}
	for (const u of users) {
		try {
			for (const m of fs.readFileSync(path.join(tmp, 'run', u, 'fake.log'), 'utf8').matchAll(/start pid=(\d+)/g)) pids.push(Number(m[1]));
		} catch (e) {
			/* none */
		}
	}
	return pids;
}
function killFakeSessions(tmp) {
	for (const p of fakeSessionPids(tmp)) {
		try {
			// a reused pid is not our session
			if (alive(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('fake-session')) process.kill(p, 'SIGKILL');
		} catch (e) {
			/* gone */
		}
	}
}

function runCase(label, cases) {
	const which = process.argv[2];
	if (!cases[which]) fail(`unknown case '${which}' (${Object.keys(cases).join(', ')})`);
	cases[which]().then(() => {
		console.log(`PASS ${label} ${which}`);
		cleanup();
		process.exit(0);
	}, (e) => fail(e && e.stack ? e.stack : String(e)));
}

module.exports = {
	rfb, runCase,
	paths, harness, fail, cleanup, onCleanup, track, tmpDir, waitFor, sleep, http, brokerConfig, startBroker,
	fakeSessionPids, killFakeSessions,
	stopBroker, login, demo, as, auditLines, ctl, wsOpen, wsTry, descendants, alive,
};
