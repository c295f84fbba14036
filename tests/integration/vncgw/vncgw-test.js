#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// The VNC gateway (broker/gateway/vncgw.c) against real peers: argobox-broker with the process launcher,
// real argobox-session desktops (Xvfb; ab_xprobe draws red/green/blue at the top left), the
// libvncclient client ab_vncgw_client (VNC Authentication), TigerVNC's vncviewer on a
// throwaway Xvfb, a websocket RFB client (the browser's path) and raw sockets.
//
//   node vncgw-test.js shared|auth|lockout|restart|hostile|native|slow|slow_drop
'use strict';
const assert = require('assert');
const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');
const WebSocket = require('ws');
const lib = require('../../lib/node/broker.cjs');

const { build, brokerBin } = lib.paths;
const clientBin = path.join(build, 'tests', 'integration', 'vncgw', 'ab_vncgw_client');
const xprobe = path.join(build, 'tests', 'integration', 'session', 'ab_xprobe');
const sample = lib.paths.sample;
const tmp = lib.harness({ prefix: 'ab-vncgw-', uncaught: true });
const which = process.argv[2];
const children = [];
const { fail, sleep } = lib;

function skip(why) {
	console.log(`SKIP: ${why}`);
	process.exit(77);
}
lib.onCleanup(() => {
	for (const c of children) if (c.exitCode === null && c.signalCode === null) try { process.kill(-c.pid, 'SIGKILL'); } catch (e) { /* gone */ }
	// sessions the broker started (their own process groups): found by their runtime dir
	for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
		try {
			if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${path.join(tmp, 'run')}/`)) {
				// the session leads its own process group (Xvfb, the desktop command)
				try { process.kill(-Number(pid), 'SIGKILL'); } catch (e) { process.kill(Number(pid), 'SIGKILL'); }
			}
		} catch (e) { /* gone */ }
	}
});
const waitFor = (what, fn, ms = 20000) => lib.waitFor(what, fn, ms);

/* ---- the broker ---- */

const dataDir = path.join(tmp, 'data');
const auditPath = path.join(tmp, 'audit.log');
function audit() {
	try {
		return fs.readFileSync(auditPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	} catch (e) {
		return [];
	}
}
const auditHas = (pred) => audit().some(pred);

async function startBroker(vnc = {}, session = {}) {
	const cfg = lib.brokerConfig(tmp, {
		auth: sample.auth,
		users: sample.users,
		profiles: sample.profiles,
		vnc_gateway: { listen: '127.0.0.1:0', ...vnc },
	});
	delete cfg.session.binary; // the real argobox-session beside the broker
	delete cfg.control; // the broker's default heartbeat
	Object.assign(cfg.session, { desktop_command: [xprobe], start_timeout_ms: 20000 }, session);
	const started = await lib.startBroker({ tmp, cfg });
	const b = { proc: started.p, port: started.port, get log() { return started.log(); } };
	const g = /vnc gateway listening on 127\.0\.0\.1:(\d+)/.exec(b.log);
	assert.ok(g, 'the gateway logs its address');
	b.gport = Number(g[1]);
	return b;
}
async function stopBroker(b) {
	process.kill(b.proc.pid, 'SIGTERM');
	await waitFor('the broker to stop', () => b.proc.exitCode !== null || b.proc.signalCode !== null);
	assert.strictEqual(b.proc.exitCode, 0, 'the broker stopped cleanly');
}

/* One HTTP/1.1 request from the page's origin, always with a Content-Length; resolves
 * {status, head, body, json}. */
const http = (port, method, target, headers = {}, body) =>
	lib.http(port, method, target, { headers, body, origin: true, contentLength: true });
async function login(b, user) {
	const r = await http(b.port, 'POST', '/api/login', {}, { user, password: `${user}-argobox` });
	assert.strictEqual(r.status, 200, `login ${user}: ${r.body}`);
	return { user, cookie: /argobox_session=[0-9a-f]+/.exec(r.head)[0], csrf: r.json.csrf_token };
}
const api = (b, who, method, body, extra = {}) =>
	http(b.port, method, '/api/vnc-password', who ? { Cookie: who.cookie, 'X-CSRF-Token': who.csrf, ...extra } : extra, body);
async function newPassword(b, who) {
	const r = await api(b, who, 'POST');
	assert.strictEqual(r.status, 200, `POST /api/vnc-password as ${who.user}: ${r.body}`);
	assert.match(r.json.password, /^[a-zA-Z2-9]{8}$/);
	assert.strictEqual(r.json.host, '127.0.0.1');
	assert.strictEqual(r.json.port, b.gport);
	assert.ok(Date.parse(r.json.expires) > Date.now(), 'expires in the future');
	return r.json.password;
}

/* ---- clients ---- */

/* ab_vncgw_client: resolves {code, out, frame:{w,h,px}} (frame when code 0). */
function nativeClient(gport, password, opts = {}) {
	const out = path.join(tmp, `frame-${crypto.randomBytes(4).toString('hex')}`);
	const args = ['127.0.0.1', String(gport), password, out];
	if (opts.rgb) args.push(opts.rgb);
	if (opts.hold) args.push(opts.hold);
	const p = spawn(clientBin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
	children.push(p);
	const res = { proc: p, stdout: '', stderr: '' };
	p.stdout.on('data', (d) => { res.stdout += d; });
	p.stderr.on('data', (d) => { res.stderr += d; });
	res.done = new Promise((resolve) => p.on('exit', (code) => {
		res.code = code;
		resolve(res);
	}));
	res.frame = () => readFrame(out);
	return res;
}
function readFrame(file) {
	const d = fs.readFileSync(file);
	const nl = d.indexOf(10);
	const [w, h] = d.subarray(0, nl).toString().split(' ').map(Number);
	const px = new Uint32Array(w * h);
	for (let i = 0; i < w * h; i++) px[i] = d.readUInt32LE(nl + 1 + 4 * i) & 0xffffff;
	return { w, h, px };
}

/* A byte reader over 'data' events (sockets and websockets alike). */
function reader() {
	const r = { chunks: [], len: 0, waiters: [], closed: false };
	r.push = (b) => {
		r.chunks.push(b);
		r.len += b.length;
		r.wake();
	};
	r.close = () => {
		r.closed = true;
		r.wake();
	};
	r.wake = () => { const w = r.waiters; r.waiters = []; w.forEach((f) => f()); };
	r.read = async (n, ms = 15000) => {
		const end = Date.now() + ms;
		while (r.len < n) {
			if (r.closed) throw new Error(`closed while reading ${n} bytes (${r.len} there)`);
			if (Date.now() > end) throw new Error(`timed out reading ${n} bytes`);
			await new Promise((res) => { r.waiters.push(res); setTimeout(res, 100); });
		}
		const all = Buffer.concat(r.chunks);
		r.chunks = [all.subarray(n)];
		r.len -= n;
		return all.subarray(0, n);
	};
	return r;
}

/* The browser's path: RFB (security None) over the broker's websocket, Raw + RichCursor. */
async function wsClient(b, who) {
	const ws = new WebSocket(`ws://127.0.0.1:${b.port}/ws/desktop`, [], { headers: { Cookie: who.cookie }, origin: `http://127.0.0.1:${b.port}` });
	const r = reader();
	ws.on('message', (d) => r.push(Buffer.from(d)));
	ws.on('close', () => r.close());
	ws.on('error', () => r.close());
	await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
	const send = (buf) => ws.send(buf);
	assert.strictEqual((await r.read(12, 30000)).toString(), 'RFB 003.008\n');
	send(Buffer.from('RFB 003.008\n'));
	const n = (await r.read(1))[0];
	assert.ok([...(await r.read(n))].includes(1), 'the session offers None to the broker');
	send(Buffer.from([1]));
	assert.strictEqual((await r.read(4)).readUInt32BE(0), 0);
	send(Buffer.from([1])); // shared
	const si = await r.read(24);
	const c = { ws, r, w: si.readUInt16BE(0), h: si.readUInt16BE(2) };
	await r.read(si.readUInt32BE(20));
	c.px = new Uint32Array(c.w * c.h);
	const pf = Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
	const enc = Buffer.alloc(12);
	enc.writeUInt8(2, 0);
	enc.writeUInt16BE(2, 2);
	enc.writeInt32BE(0, 4); // Raw
	enc.writeInt32BE(-239, 8); // RichCursor: the cursor is not drawn into the pixels
	send(pf);
	send(enc);
	c.update = async (w = c.w, h = c.h) => {
		const q = Buffer.alloc(10);
		q.writeUInt8(3, 0);
		q.writeUInt8(0, 1); // full
		q.writeUInt16BE(w, 6);
		q.writeUInt16BE(h, 8);
		send(q);
		for (;;) {
			const t = (await r.read(1))[0];
			if (t === 2) continue; // bell
			if (t === 3) {
				const h = await r.read(7);
				await r.read(h.readUInt32BE(3));
				continue;
			}
			assert.strictEqual(t, 0, `server message type ${t}`);
			const nr = (await r.read(3)).readUInt16BE(1);
			for (let i = 0; i < nr; i++) {
				const h = await r.read(12);
				const [x, y, w, hh, e] = [h.readUInt16BE(0), h.readUInt16BE(2), h.readUInt16BE(4), h.readUInt16BE(6), h.readInt32BE(8)];
				if (e === -239) {
					await r.read(w * hh * 4 + Math.ceil(w / 8) * hh);
					continue;
				}
				assert.strictEqual(e, 0, `encoding ${e}`);
				const d = await r.read(w * hh * 4, 30000);
				for (let yy = 0; yy < hh; yy++)
					for (let xx = 0; xx < w; xx++) c.px[(y + yy) * c.w + x + xx] = d.readUInt32LE((yy * w + xx) * 4) & 0xffffff;
			}
			return;
		}
	};
	c.close = () => ws.terminate();
	return c;
}

/* VNC Authentication's DES: the password's bytes bit-reversed as the key (triple DES, one key). */
function desResponse(password, challenge) {
	const key = Buffer.alloc(8);
	for (let i = 0; i < 8 && i < password.length; i++) {
		let v = password.charCodeAt(i), o = 0;
		for (let j = 0; j < 8; j++) o |= ((v >> j) & 1) << (7 - j);
		key[i] = o;
	}
	const c = crypto.createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
	c.setAutoPadding(false);
	return Buffer.concat([c.update(challenge), c.final()]);
}

function rawConn(gport, localAddress) {
	const s = net.connect({ port: gport, host: '127.0.0.1', localAddress });
	const r = reader();
	s.on('data', (d) => r.push(d));
	s.on('close', () => r.close());
	s.on('error', () => r.close());
	return { s, r, closed: () => r.closed };
}

/* A hand-written native client of RFB 3.3, 3.7 or 3.8. Resolves the SecurityResult and ServerInit. */
async function rawAuth(gport, minor, password) {
	const c = rawConn(gport);
	assert.strictEqual((await c.r.read(12)).toString(), 'RFB 003.008\n');
	c.s.write(`RFB 003.00${minor}\n`);
	if (minor === 3) {
		assert.strictEqual((await c.r.read(4)).readUInt32BE(0), 2, '3.3: the server decides on VNC auth');
	} else {
		const n = (await c.r.read(1))[0];
		assert.deepStrictEqual([...(await c.r.read(n))], [2], 'only VNC Authentication is offered');
		c.s.write(Buffer.from([2]));
	}
	const challenge = await c.r.read(16);
	c.s.write(desResponse(password, challenge));
	const result = (await c.r.read(4)).readUInt32BE(0);
	const res = { result };
	if (result === 0) {
		c.s.write(Buffer.from([0])); // not shared: the gateway makes it shared
		const si = await c.r.read(24, 30000);
		res.w = si.readUInt16BE(0);
		res.h = si.readUInt16BE(2);
	} else if (minor === 8) {
		const n = (await c.r.read(4)).readUInt32BE(0);
		res.reason = (await c.r.read(n)).toString();
	}
	c.s.destroy();
	return res;
}

function pixel(f, x, y) {
	return f.px[y * f.w + x].toString(16).padStart(6, '0');
}
async function wsWaitRed(c) {
	await waitFor('the websocket client to see the desktop', async () => {
		await c.update();
		return pixel(c, 50, 50) === 'ff0000';
	});
}

/* ---- tests ---- */

async function testShared() {
	const b = await startBroker();
	const bea = await login(b, 'bea');
	let g = await api(b, bea, 'GET');
	assert.strictEqual(g.status, 200, g.body);
	assert.deepStrictEqual([g.json.enabled, g.json.exists, g.json.port], [true, false, b.gport]);
	const pw = await newPassword(b, bea);
	g = await api(b, bea, 'GET');
	assert.strictEqual(g.json.exists, true);
	assert.ok(!('password' in g.json) && !g.body.includes(pw), 'GET never shows the password');
	const st = fs.statSync(path.join(dataDir, 'vnc-passwords.json'));
	assert.strictEqual(st.mode & 0o777, 0o600, 'vnc-passwords.json is 0600');
	console.log('ok: POST issues a password (shown once), GET says it exists, the file is 0600');

	// the browser's path and a native client on the same desktop at the same time
	const ws = await wsClient(b, bea);
	await wsWaitRed(ws);
	const hold = path.join(tmp, 'hold');
	const n = nativeClient(b.gport, pw, { rgb: 'ff0000', hold });
	await waitFor('the native client to see the desktop', () => /frame \d+x\d+/.test(n.stdout) || n.code !== undefined, 30000);
	assert.ok(/frame 1280x800/.test(n.stdout), `native client: ${n.stdout} ${n.stderr}`);
	const nf = n.frame();
	await ws.update();
	assert.deepStrictEqual([nf.w, nf.h], [ws.w, ws.h]);
	for (const [x, y, want] of [[50, 50, 'ff0000'], [150, 50, '00ff00'], [100, 150, '0000ff']]) {
		assert.strictEqual(pixel(nf, x, y), want, `native (${x},${y})`);
		assert.strictEqual(pixel(ws, x, y), want, `websocket (${x},${y})`);
	}
	let diff = 0;
	for (let i = 0; i < nf.px.length; i++) if (nf.px[i] !== ws.px[i]) diff++;
	assert.strictEqual(diff, 0, `${diff} pixels differ between the native and the websocket client`);
	const ds = await http(b.port, 'GET', '/api/desktops/bea', { Cookie: bea.cookie });
	assert.strictEqual(ds.json.clients, 2, `two clients on bea's desktop: ${ds.body}`);
	console.log('ok: a native client and a websocket client see the same pixels of one desktop at once');
	fs.writeFileSync(hold, '');
	await n.done;
	assert.strictEqual(n.code, 0, `native client: ${n.stderr}`);
	await ws.update(); // the websocket client was not pushed off
	assert.strictEqual(pixel(ws, 50, 50), 'ff0000');
	ws.close();
	assert.ok(auditHas((e) => e.event === 'vncgw.auth' && e.outcome === 'grant' && e.user === 'bea'));
	assert.ok(auditHas((e) => e.event === 'vncgw.session' && e.outcome === 'grant' && e.user === 'bea'));
	assert.ok(auditHas((e) => e.event === 'vncgw.password' && e.outcome === 'grant' && e.user === 'bea'));
	await waitFor('the session record', () => auditHas((e) => e.event === 'vncgw.session' && e.outcome === 'info' && e.detail.bytes_out > 0));
	console.log('ok: sign-in, session start and end audited');
	await stopBroker(b);
}

async function testAuth() {
	// a password file from before: mauve's valid, bogie's expired
	fs.mkdirSync(dataDir, { recursive: true });
	const now = Date.now();
	fs.writeFileSync(path.join(dataDir, 'vnc-passwords.json'), JSON.stringify({
		version: 1,
		passwords: [
			{ user: 'mauve', password: 'Mauve234', created: now - 1000, expires: now + 3600e3 },
			{ user: 'bogie', password: 'bugtexyz', created: now - 7200e3, expires: now - 1000 },
		],
	}), { mode: 0o600 });
	const b = await startBroker();
	let n = await nativeClient(b.gport, 'Mauve234', { rgb: 'ff0000' }).done;
	assert.strictEqual(n.code, 0, `mauve's stored password: ${n.stderr}`);
	n = await nativeClient(b.gport, 'bugtexyz').done;
	assert.strictEqual(n.code, 3, 'an expired password is refused');
	assert.ok(auditHas((e) => e.event === 'vncgw.password' && e.user === 'bogie' && e.detail.action === 'expired'));
	assert.ok(!fs.readFileSync(path.join(dataDir, 'vnc-passwords.json'), 'utf8').includes('bugtexyz'), 'expired passwords leave the file');
	console.log('ok: a stored password works, an expired one is refused, audited and dropped');

	n = await nativeClient(b.gport, 'wrongpw1').done;
	assert.strictEqual(n.code, 3, 'a wrong password is refused');
	assert.ok(auditHas((e) => e.event === 'vncgw.auth' && e.outcome === 'deny' && e.detail.reason === 'no VNC access password matches'));
	console.log('ok: a wrong password is refused and audited');

	// who may have one
	assert.strictEqual((await api(b, null, 'POST')).status, 401, 'anonymous');
	assert.strictEqual((await api(b, null, 'GET')).status, 401, 'anonymous GET');
	const bea = await login(b, 'bea');
	assert.strictEqual((await http(b.port, 'POST', '/api/vnc-password', { Cookie: bea.cookie })).status, 403, 'no CSRF token');
	assert.strictEqual((await api(b, bea, 'POST', undefined, { Origin: 'http://evil.example' })).status, 403, 'cross-origin');
	const dr = await http(b.port, 'POST', '/api/demo', {}, { profile: 'demo-homelab' });
	assert.strictEqual(dr.status, 200, dr.body);
	const demo = { user: dr.json.user, cookie: /argobox_session=[0-9a-f]+/.exec(dr.head)[0], csrf: dr.json.csrf_token };
	assert.strictEqual((await api(b, demo, 'POST')).status, 403, 'demo POST');
	assert.strictEqual((await api(b, demo, 'GET')).status, 403, 'demo GET');
	assert.ok(auditHas((e) => e.event === 'authz' && e.outcome === 'deny' && e.user === demo.user && e.detail.endpoint === 'vnc.password'));
	const daniel = await login(b, 'daniel');
	await newPassword(b, daniel);
	console.log('ok: anonymous 401, no CSRF / cross-origin 403, demo 403 (audited), admin and member 200');

	// replace, then revoke
	const first = await newPassword(b, bea);
	const second = await newPassword(b, bea);
	assert.notStrictEqual(first, second);
	assert.strictEqual((await nativeClient(b.gport, first).done).code, 3, 'a replaced password is refused');
	assert.strictEqual((await nativeClient(b.gport, second, { rgb: 'ff0000' }).done).code, 0, 'the new one works');
	const del = await api(b, bea, 'DELETE');
	assert.deepStrictEqual([del.status, del.json.revoked], [200, true]);
	assert.strictEqual((await api(b, bea, 'GET')).json.exists, false);
	assert.strictEqual((await nativeClient(b.gport, second).done).code, 3, 'a revoked password is refused');
	assert.ok(auditHas((e) => e.event === 'vncgw.password' && e.user === 'bea' && e.detail.action === 'revoked'));
	console.log('ok: a replaced or revoked password is refused; revocation audited');
	await stopBroker(b);
}

async function testLockout() {
	const b = await startBroker({ max_failures: 3, lockout_s: 2 });
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	for (let i = 0; i < 3; i++) assert.strictEqual((await nativeClient(b.gport, `wrong00${i}`).done).code, 3);
	assert.ok(auditHas((e) => e.event === 'vncgw.auth' && e.detail.locked_out === true));
	const locked = await rawConn(b.gport);
	assert.strictEqual((await locked.r.read(12)).toString(), 'RFB 003.008\n');
	locked.s.write('RFB 003.008\n');
	assert.strictEqual((await locked.r.read(1))[0], 0, 'a locked-out address is offered no security type');
	const reason = (await locked.r.read((await locked.r.read(4)).readUInt32BE(0))).toString();
	assert.match(reason, /too many failed/);
	locked.s.destroy();
	assert.notStrictEqual((await nativeClient(b.gport, pw).done).code, 0, 'even the right password is refused while locked out');
	assert.ok(auditHas((e) => e.event === 'vncgw.connect' && e.outcome === 'deny' && e.detail.reason === 'source locked out'));
	console.log('ok: three failures lock the address out (audited), even the right password is refused');
	await waitFor('the lockout to end', async () => (await nativeClient(b.gport, pw, { rgb: 'ff0000' }).done).code === 0, 20000);
	console.log('ok: after lockout_s the right password works again');
	await stopBroker(b);
}

async function testRestart() {
	let b = await startBroker();
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	const before = (await api(b, bea, 'GET')).json.expires;
	await stopBroker(b);
	b = await startBroker();
	assert.ok(/1 access password/.test(b.log), 'the password was loaded');
	const n = await nativeClient(b.gport, pw, { rgb: 'ff0000' }).done;
	assert.strictEqual(n.code, 0, `the password works after a restart: ${n.stderr}`);
	const bea2 = await login(b, 'bea');
	assert.strictEqual((await api(b, bea2, 'GET')).json.expires, before, 'same expiry');
	console.log('ok: the password survives a broker restart (file 0600, same expiry)');
	// a corrupt file is kept aside, not lost, and the broker starts
	await stopBroker(b);
	fs.writeFileSync(path.join(dataDir, 'vnc-passwords.json'), '{not json');
	b = await startBroker();
	const aside = fs.readdirSync(dataDir).filter((f) => f.startsWith('vnc-passwords.json.corrupt-'));
	assert.strictEqual(aside.length, 1, 'the corrupt file is moved aside');
	assert.strictEqual(fs.readFileSync(path.join(dataDir, aside[0]), 'utf8'), '{not json');
	assert.strictEqual((await nativeClient(b.gport, pw).done).code, 3);
	console.log('ok: a corrupt password file is kept aside and the broker starts without passwords');
	await stopBroker(b);
}

async function testHostile() {
	const b = await startBroker({ max_pending: 4, max_pending_per_source: 2, handshake_timeout_ms: 1500 });
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	const closes = async (what, fn) => {
		const c = rawConn(b.gport);
		await fn(c);
		await waitFor(`the gateway to close ${what}`, () => c.closed(), 10000);
		console.log(`ok: ${what}: closed`);
	};
	await closes('an HTTP request', async (c) => { await c.r.read(12); c.s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); });
	await closes('1 MiB of random bytes', async (c) => { await c.r.read(12); c.s.write(crypto.randomBytes(1 << 20)); });
	await closes('RFB 4.0', async (c) => { await c.r.read(12); c.s.write('RFB 004.000\n'); });
	await closes('a security type not offered', async (c) => {
		await c.r.read(12);
		c.s.write('RFB 003.008\n');
		await c.r.read(2);
		c.s.write(Buffer.from([1]));
		assert.strictEqual((await c.r.read(4)).readUInt32BE(0), 1, 'SecurityResult failed');
	});
	{
		const c = rawConn(b.gport); // a truncated handshake
		await c.r.read(12);
		c.s.end('RFB 003.0');
	}
	assert.ok(auditHas((e) => e.event === 'vncgw.connect' && e.detail.reason === 'not an RFB 3.x ProtocolVersion'));

	for (const minor of [3, 7, 8]) {
		const ok = await rawAuth(b.gport, minor, pw);
		assert.deepStrictEqual([ok.result, ok.w, ok.h], [0, 1280, 800], `RFB 3.${minor}`);
		const bad = await rawAuth(b.gport, minor, 'xxxxxxxx');
		assert.strictEqual(bad.result, 1, `RFB 3.${minor} wrong password`);
		if (minor === 8) assert.strictEqual(bad.reason, 'authentication failed');
		console.log(`ok: RFB 3.${minor} client: right password in, wrong one out`);
	}

	// at most max_pending_per_source unauthenticated connections from one address, and
	// max_pending in all; idle ones time out
	const idle = [];
	for (let i = 0; i < 2; i++) {
		const c = rawConn(b.gport, '127.0.0.1');
		await c.r.read(12);
		idle.push(c);
	}
	const third = rawConn(b.gport, '127.0.0.1');
	await waitFor('the third connection from one source to be refused', () => third.closed(), 10000);
	assert.strictEqual(third.r.len, 0, 'no banner for the connection over the per-source limit');
	assert.ok(auditHas((e) => e.event === 'vncgw.connect' && e.source === '127.0.0.1' &&
		e.detail.reason === 'too many unauthenticated connections from this source'));
	console.log('ok: one source over max_pending_per_source is refused and audited');
	for (let i = 0; i < 2; i++) {
		const c = rawConn(b.gport, '127.0.0.2');
		await c.r.read(12);
		idle.push(c);
	}
	console.log('ok: another source still gets in while the first holds its share');
	const extra = rawConn(b.gport, '127.0.0.3');
	await waitFor('the fifth connection to be refused', () => extra.closed(), 10000);
	assert.strictEqual(extra.r.len, 0, 'no banner for the connection over the limit');
	assert.ok(auditHas((e) => e.event === 'vncgw.connect' && e.detail.reason === 'too many unauthenticated connections'));
	console.log('ok: the connection over max_pending is refused and audited');
	await waitFor('idle connections to time out', () => idle.every((c) => c.closed()), 15000);
	assert.ok(auditHas((e) => e.event === 'vncgw.connect' && e.detail.reason === 'handshake timeout'));
	console.log('ok: connections idle in the handshake are dropped (audited)');

	assert.strictEqual(b.proc.exitCode, null, 'the broker is still running');
	const n = await nativeClient(b.gport, pw, { rgb: 'ff0000' }).done;
	assert.strictEqual(n.code, 0, 'a real client still gets in');
	assert.strictEqual((await http(b.port, 'GET', '/healthz')).status, 200);
	console.log('ok: the broker is unharmed');
	await stopBroker(b);
}

/* XWD (xwd -root): the number of pixels of colour rgb. */
function xwdCount(buf, rgb) {
	const u = (i) => buf.readUInt32BE(i * 4);
	const [hsize, w, h, order, bpp, bpl, ncolors] = [u(0), u(4), u(5), u(7), u(11), u(12), u(19)];
	assert.strictEqual(bpp, 32, 'a 24-bit Xvfb screen');
	const base = hsize + ncolors * 12;
	let n = 0;
	for (let y = 0; y < h; y++)
		for (let x = 0; x < w; x++) {
			const o = base + y * bpl + x * 4;
			const v = (order === 0 ? buf.readUInt32LE(o) : buf.readUInt32BE(o)) & 0xffffff;
			if (v === rgb) n++;
		}
	return n;
}

async function testNative() {
	for (const tool of ['vncviewer', 'vncpasswd', 'Xvfb', 'xwd'])
		if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) skip(`${tool} not installed (tigervnc-viewer, tigervnc-tools, xvfb, x11-apps)`);
	const b = await startBroker();
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	const pwfile = path.join(tmp, 'passwd');
	const vp = spawnSync('vncpasswd', ['-f'], { input: `${pw}\n${pw}\n` });
	assert.strictEqual(vp.status, 0, String(vp.stderr));
	fs.writeFileSync(pwfile, vp.stdout, { mode: 0o600 });
	// a throwaway X server for the viewer
	const [rfd, wfd] = [fs.openSync(path.join(tmp, 'displayfd'), 'w+'), null];
	const xvfb = spawn('Xvfb', ['-displayfd', String(3), '-screen', '0', '1600x1000x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', rfd], detached: true });
	children.push(xvfb);
	void wfd;
	const display = await waitFor('Xvfb', () => {
		const t = fs.readFileSync(path.join(tmp, 'displayfd'), 'utf8').trim();
		return t ? `:${t}` : null;
	});
	const viewer = spawn('vncviewer', ['-passwd', pwfile, '-Shared=1', `127.0.0.1::${b.gport}`],
		{ stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: { ...process.env, DISPLAY: display, HOME: tmp } });
	children.push(viewer);
	await waitFor('the viewer to sign in', () => auditHas((e) => e.event === 'vncgw.session' && e.outcome === 'grant' && e.user === 'bea'), 30000);
	console.log('ok: TigerVNC vncviewer signed in with the issued password');
	await waitFor("the viewer's window to show the desktop", () => {
		const x = spawnSync('xwd', ['-root', '-silent', '-display', display], { maxBuffer: 64 << 20 });
		if (x.status !== 0) return false;
		return xwdCount(x.stdout, 0xff0000) >= 5000 && xwdCount(x.stdout, 0x00ff00) >= 5000;
	}, 30000);
	console.log("ok: the viewer's screen shows the desktop's red and green squares");
	const wrong = path.join(tmp, 'wrong');
	fs.writeFileSync(wrong, spawnSync('vncpasswd', ['-f'], { input: 'nothere1\nnothere1\n' }).stdout, { mode: 0o600 });
	const v2 = spawn('vncviewer', ['-passwd', wrong, `127.0.0.1::${b.gport}`],
		{ stdio: ['ignore', 'ignore', 'ignore'], detached: true, env: { ...process.env, DISPLAY: display, HOME: tmp } });
	children.push(v2);
	await waitFor('the wrong password to be refused', () => auditHas((e) => e.event === 'vncgw.auth' && e.outcome === 'deny'), 20000);
	console.log('ok: vncviewer with a wrong password is refused (audited)');
	await stopBroker(b);
}

function vmRssKb(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) : 0;
}

/*
 * A hand-written RFB 3.8 client that keeps its connection: Raw pixels only, so every byte of
 * every update is checked (message types, rectangles inside the screen, exact lengths).
 */
async function rawViewer(gport, password) {
	const c = rawConn(gport);
	assert.strictEqual((await c.r.read(12)).toString(), 'RFB 003.008\n');
	c.s.write('RFB 003.008\n');
	assert.deepStrictEqual([...(await c.r.read((await c.r.read(1))[0]))], [2]);
	c.s.write(Buffer.from([2]));
	c.s.write(desResponse(password, await c.r.read(16)));
	assert.strictEqual((await c.r.read(4)).readUInt32BE(0), 0, 'SecurityResult OK');
	c.s.write(Buffer.from([0]));
	const si = await c.r.read(24, 30000);
	c.w = si.readUInt16BE(0);
	c.h = si.readUInt16BE(2);
	await c.r.read(si.readUInt32BE(20));
	c.s.write(Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]));
	c.s.write(Buffer.from([2, 0, 0, 1, 0, 0, 0, 0])); // SetEncodings: Raw only
	c.request = (incremental, w = c.w, h = c.h) => {
		const q = Buffer.alloc(10);
		q.writeUInt8(3, 0);
		q.writeUInt8(incremental ? 1 : 0, 1);
		q.writeUInt16BE(w, 6);
		q.writeUInt16BE(h, 8);
		c.s.write(q);
	};
	/*
	 * Reads one FramebufferUpdate (skipping bells and cut text); resolves its pixel count,
	 * or null when no message starts within idleMs (when given).
	 */
	c.update = async (ms = 30000, idleMs = 0) => {
		for (;;) {
			if (idleMs) {
				const end = Date.now() + idleMs;
				while (c.r.len === 0 && !c.r.closed && Date.now() < end) await sleep(20);
				if (c.r.len === 0) return null;
			}
			const t = (await c.r.read(1, ms))[0];
			if (t === 2) continue;
			if (t === 3) {
				const h = await c.r.read(7, ms);
				await c.r.read(h.readUInt32BE(3), ms);
				continue;
			}
			assert.strictEqual(t, 0, `server message type ${t}`);
			const nr = (await c.r.read(3, ms)).readUInt16BE(1);
			let px = 0;
			for (let i = 0; i < nr; i++) {
				const h = await c.r.read(12, ms);
				const [x, y, w, hh, e] = [h.readUInt16BE(0), h.readUInt16BE(2), h.readUInt16BE(4), h.readUInt16BE(6), h.readInt32BE(8)];
				assert.strictEqual(e, 0, `rectangle ${i}: encoding ${e}, only Raw was asked`);
				assert.ok(x + w <= c.w && y + hh <= c.h, `rectangle ${x},${y} ${w}x${hh} inside ${c.w}x${c.h}`);
				await c.r.read(w * hh * 4, ms);
				px += w * hh;
			}
			return px;
		}
	};
	return c;
}

/* The desktop's xterm prints random hex 20 times a second: the screen keeps changing. */
const drawing = ['xterm', '-geometry', '150x55+0+0', '-e', 'sh', '-c',
	'while :; do od -An -N256 -x /dev/urandom; sleep 0.05; done'];

/*
 * A websocket viewer (the browser's path) asking in a loop for the top left 128x128 pixels (the
 * session answers at once, whatever changed); records its longest wait.
 */
function wsWatch(ws) {
	const w = { n: 0, maxGap: 0, stop: false };
	let last = Date.now();
	w.done = (async () => {
		while (!w.stop) {
			await ws.update(128, 128);
			const t = Date.now();
			w.maxGap = Math.max(w.maxGap, t - last);
			last = t;
			w.n++;
		}
	})();
	w.end = async () => { w.stop = true; await w.done; };
	return w;
}

/* Samples the broker's VmRSS for ms while calling tick() every `every` ms; resolves the maximum. */
async function rssWhile(b, ms, tick, every = 100) {
	let max = 0;
	for (let end = Date.now() + ms, next = 0; Date.now() < end; await sleep(10)) {
		if (Date.now() >= next) {
			tick();
			next = Date.now() + every;
		}
		max = Math.max(max, vmRssKb(b.proc.pid));
	}
	return max;
}

const sessionEnd = () => audit().find((e) => e.event === 'vncgw.session' && e.outcome === 'info');

/*
 * A client that stops reading for 10 s while asking every 50 ms for a 512x192 Raw region
 * (384 KiB; the kernel's socket buffers fill after a few dozen): once the client is behind, its
 * requests wait in the gateway (the session is not asked for more than the client takes), the
 * broker's memory stays flat, the browser's view of the same desktop keeps moving, and the
 * client gets valid updates when it reads again. vnc_gateway.buffer_bytes: the default, 1 MiB.
 */
async function testSlow() {
	const cap = 1 << 20;
	const b = await startBroker({}, { geometry: '1024x768', desktop_command: drawing });
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	const c = await rawViewer(b.gport, pw);
	assert.deepStrictEqual([c.w, c.h], [1024, 768]);
	c.request(false);
	assert.strictEqual(await c.update(), 1024 * 768, 'a full frame');
	let changed = 0;
	for (let i = 0; i < 20; i++) {
		c.request(true);
		changed += await c.update();
	}
	assert.ok(changed > 0, 'the desktop keeps changing');
	const ws = await wsClient(b, bea);
	await ws.update();
	const base = vmRssKb(b.proc.pid);
	console.log(`ok: signed in; a full frame and 20 incremental updates (${changed} pixels changed); broker VmRSS ${base} kB`);

	c.s.pause();
	const watch = wsWatch(ws);
	let asked = 0;
	const max = await rssWhile(b, 10000, () => { c.request(false, 512, 192); asked++; }, 50);
	await watch.end();
	console.log(`broker VmRSS ${base} kB before, at most ${max} kB while the client did not read for 10 s (+${max - base} kB; ${asked} regions of 384 KiB asked)`);
	console.log(`the websocket viewer of the same desktop meanwhile: ${watch.n} updates, longest wait ${watch.maxGap} ms`);
	assert.ok(max - base < 16 * 1024, `the broker grew by ${max - base} kB while a client did not read`);
	assert.ok(watch.n >= 10 && watch.maxGap < 2500, `the desktop stayed live for the browser (${watch.n} updates, longest wait ${watch.maxGap} ms)`);
	assert.strictEqual(sessionEnd(), undefined, 'the slow client is still connected');

	// reading again: what was asked arrives, valid, and new requests are answered
	c.s.resume();
	let n = 0;
	for (let px; (px = await c.update(30000, n ? 3000 : 30000)) !== null; n++)
		assert.strictEqual(px, 512 * 192, 'a region asked for during the stall');
	assert.ok(n >= 1, 'the regions asked for during the stall arrive');
	c.request(false);
	assert.strictEqual(await c.update(), 1024 * 768, 'a full frame asked after the stall');
	for (let i = 0; i < 5; i++) {
		c.request(true);
		await c.update();
	}
	console.log(`ok: reading again, the client got ${n} region(s) it had asked for, then fresh updates`);
	c.s.destroy();
	const e = await waitFor('the session record', sessionEnd);
	console.log(`vncgw.session: ${JSON.stringify(e.detail)}`);
	assert.strictEqual(e.detail.reason, 'client closed');
	assert.strictEqual(e.detail.buffer_bytes, cap, 'vnc_gateway.buffer_bytes');
	assert.ok(e.detail.buffered_peak <= cap, `at most buffer_bytes buffered (${e.detail.buffered_peak})`);
	assert.ok(e.detail.requests_held >= 1, 'update requests waited for the client');
	console.log('ok: bounded memory, the desktop stayed live, the slow client recovered (audited)');
	await stopBroker(b);
}

/*
 * A client that stops reading for 10 s while asking for full 2560x1600 Raw frames (16 MiB each,
 * more than every buffer on the way: the kernel's send queue, at most 4 MiB, and a receive
 * buffer that never grew, as the client had read nothing yet): the first one is under way, the
 * others wait in the gateway; the gateway buffers exactly buffer_bytes (256 KiB here) and stops
 * reading the desktop; the session, stuck writing that update, drops the connection after its
 * client wait (docs/session.md); the gateway then closes the client and audits why. The
 * broker's memory stays flat all along.
 */
async function testSlowDrop() {
	const cap = 256 << 10;
	const b = await startBroker({ buffer_bytes: cap }, { geometry: '2560x1600', desktop_command: drawing });
	const bea = await login(b, 'bea');
	const pw = await newPassword(b, bea);
	const ws = await wsClient(b, bea);
	await ws.update();
	const c = await rawViewer(b.gport, pw);
	const base = vmRssKb(b.proc.pid);
	c.s.pause();
	const watch = wsWatch(ws);
	let asked = 0;
	const max = await rssWhile(b, 10000, () => {
		if (!c.closed() && asked++ < 20) c.request(false);
	});
	await watch.end();
	console.log(`broker VmRSS ${base} kB before, at most ${max} kB while the client did not read for 10 s (+${max - base} kB)`);
	console.log(`the websocket viewer of the same desktop meanwhile: ${watch.n} updates, longest wait ${watch.maxGap} ms (the session waits on the stuck client, docs/session.md)`);
	assert.ok(max - base < 16 * 1024, `the broker grew by ${max - base} kB while a client did not read`);
	const e = await waitFor('the session record', sessionEnd, 5000);
	console.log(`vncgw.session: ${JSON.stringify(e.detail)}`);
	assert.strictEqual(e.detail.reason, 'desktop closed while the client was not reading');
	assert.strictEqual(e.detail.buffered_peak, cap, 'the gateway buffered exactly buffer_bytes, no more');
	assert.ok(e.detail.paused_ms >= 3000, `the desktop was not read while the buffer was full (${e.detail.paused_ms} ms)`);
	// reading again: the bytes that were under way, then an orderly end (FIN, not a reset)
	let got = 0, reset = false;
	c.s.on('error', () => { reset = true; });
	c.s.on('data', (d) => { got += d.length; });
	c.s.resume();
	await waitFor('the client to see the end', () => c.closed(), 10000);
	assert.ok(!reset, 'closed with FIN, not reset');
	console.log(`ok: the client read ${got} bytes, then the connection ended; audited`);
	// the desktop and the gateway are fine: the browser's view moves, a new client gets a frame
	await ws.update();
	const n = await nativeClient(b.gport, pw).done;
	assert.strictEqual(n.code, 0, `a new native client: ${n.stderr}`);
	ws.close();
	console.log('ok: bounded memory, the stalled client dropped by the session (audited), the desktop serves on');
	await stopBroker(b);
}

const tests = { shared: testShared, auth: testAuth, lockout: testLockout, restart: testRestart, hostile: testHostile, native: testNative, slow: testSlow, slow_drop: testSlowDrop };
(async () => {
	if (!tests[which]) fail(`unknown test '${which}'`);
	if (!fs.existsSync(xprobe)) skip(`${xprobe} not built`);
	if (!fs.existsSync(path.join(build, 'session', 'argobox-session'))) skip('argobox-session not built');
	await tests[which]();
	console.log(`PASS: vncgw ${which}`);
	lib.cleanup();
	process.exit(0);
})();
