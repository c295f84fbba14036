#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// Integration tests of argobox-broker against real processes on loopback:
//   broker-test.js http|rfb|subprotocol|slow|slow_cutoff|close|lifecycle|heartbeat|timeout|slow_viewer
// Each starts its own broker (listen.port 0, temp dirs) with fake-session.js as
// the session binary (or the real argobox-session with AB_REAL_SESSION=1; slow_viewer
// always uses the real one: Xvfb, libvncserver, an xterm that keeps printing).
'use strict';
const assert = require('assert');
const { spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const WebSocket = require('ws');
const lib = require('../../lib/node/broker.cjs');

const { ctl, fail, waitFor } = lib;
const { build } = lib.paths;
const brokers = [];
lib.onCleanup(() => {
	for (const c of brokers) {
		const below = lib.descendants(c.pid);
		try { process.kill(-c.pid, 'SIGKILL'); } catch (e) { /* gone */ }
		try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
		// sessions, their X servers and desktops: left running they would also keep ctest
		// waiting on our output after a failure
		for (const p of below) try { process.kill(p, 'SIGKILL'); } catch (e) { /* gone */ }
	}
});
lib.harness({ sigterm: true });

async function startBroker(extra = {}, env = {}, opts = {}) {
	const tmp = lib.tmpDir('ab-broker-');
	const web = path.join(tmp, 'web');
	fs.mkdirSync(path.join(web, 'node_modules/@novnc/novnc/core'), { recursive: true });
	fs.mkdirSync(path.join(web, 'sub'));
	fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>argobox</title>');
	fs.writeFileSync(path.join(web, 'app.js'), 'console.log(1);');
	fs.writeFileSync(path.join(web, 'style.css'), 'body{}');
	fs.writeFileSync(path.join(web, '.hidden'), 'hidden');
	fs.writeFileSync(path.join(web, 'sub', 'index.html'), 'sub');
	fs.writeFileSync(path.join(web, 'node_modules/@novnc/novnc/core/rfb.js'), 'export default 1;');
	fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOPSECRET');
	const real = opts.real || process.env.AB_REAL_SESSION === '1';
	// the process launcher: containers are tested in tests/integration/cont
	const cfg = lib.brokerConfig(tmp, { web: { root: web }, proxy: { ping_interval_s: 1 } });
	if (real) {
		cfg.session.binary = path.join(build, 'session', 'argobox-session');
		cfg.session.desktop_command = ['xterm'];
	}
	for (const [k, v] of Object.entries(extra)) cfg[k] = Object.assign(cfg[k] || {}, v);
	const b = await lib.startBroker({ tmp, cfg, env, logPattern: /listening on http:\/\/127\.0\.0\.1:(\d+)\// });
	brokers.push(b.p);
	return b;
}

/* One raw HTTP/1.1 GET; resolves {status, headers, body} (body as latin1). */
const rawGet = (port, target, headers = {}) => lib.http(port, 'GET', target, { headers, latin1: true });

/* A websocket RFB client: does the handshake, returns helpers. */
async function rfbConnect(port, opts = {}) {
	const ws = new WebSocket(`ws://127.0.0.1:${port}${opts.path || '/websockify'}`,
		opts.protocols === undefined ? ['binary'] : opts.protocols, opts.wsopts || {});
	// what arrived: a list of chunks (concatenated only when read: large frames stay linear)
	let chunks = [], buffered = 0;
	let waiters = [];
	ws.on('message', (d) => { chunks.push(d); buffered += d.length; waiters.forEach((w) => w()); });
	let isClosed = false;
	const closed = new Promise((r) => ws.on('close', (code, reason) => {
		isClosed = true; waiters.forEach((w) => w()); r({ code, reason: reason.toString() });
	}));
	await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); ws.on('unexpected-response', (q, r) => rej(new Error(`HTTP ${r.statusCode}`))); });
	const read = (n) => new Promise((res, rej) => {
		const t = setTimeout(() => rej(new Error(`timeout reading ${n} bytes`)), 15000);
		const check = () => {
			if (buffered < n && isClosed) {
				clearTimeout(t);
				rej(new Error('websocket closed'));
			} else if (buffered >= n) {
				clearTimeout(t);
				waiters = waiters.filter((w) => w !== check);
				const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
				chunks = [all.subarray(n)];
				buffered -= n;
				res(all.subarray(0, n));
			}
		};
		waiters.push(check); check();
	});
	const ver = (await read(12)).toString();
	assert.strictEqual(ver, 'RFB 003.008\n', 'RFB version');
	ws.send(Buffer.from('RFB 003.008\n'));
	const nt = (await read(1))[0];
	const types = [...(await read(nt))];
	assert.ok(types.includes(1), 'security None offered');
	ws.send(Buffer.from([1]));
	assert.strictEqual((await read(4)).readUInt32BE(0), 0, 'security result OK');
	ws.send(Buffer.from([1])); // shared
	const si = await read(24);
	const w = si.readUInt16BE(0), h = si.readUInt16BE(2);
	await read(si.readUInt32BE(20));
	const request = (incremental, x, y, rw, rh) => {
		const m = Buffer.alloc(10);
		m[0] = 3; m[1] = incremental ? 1 : 0;
		m.writeUInt16BE(x, 2); m.writeUInt16BE(y, 4); m.writeUInt16BE(rw, 6); m.writeUInt16BE(rh, 8);
		ws.send(m);
	};
	const readUpdate = async () => {
		let t;
		while ((t = (await read(1))[0]) !== 0) {
			if (t === 2) continue; // Bell
			assert.strictEqual(t, 3, `server message type ${t}`); // ServerCutText
			await read((await read(7)).readUInt32BE(3));
		}
		const hd = Buffer.concat([Buffer.from([0]), await read(3)]);
		const rects = [];
		for (let i = 0; i < hd.readUInt16BE(2); i++) {
			const r = await read(12);
			const rc = { x: r.readUInt16BE(0), y: r.readUInt16BE(2), w: r.readUInt16BE(4), h: r.readUInt16BE(6), enc: r.readInt32BE(8) };
			assert.strictEqual(rc.enc, 0, 'raw encoding');
			rc.pixels = await read(rc.w * rc.h * 4);
			rects.push(rc);
		}
		return rects;
	};
	return { ws, w, h, request, readUpdate, closed, buffered: () => buffered, isClosed: () => isClosed };
}

function vmRssKb(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return Number(m[1]);
}
function alive(pid) {
	try { process.kill(pid, 0); return true; } catch (e) { return false; }
}
const { stopBroker } = lib;

const tests = {
	async http() {
		const b = await startBroker();
		let r = await rawGet(b.port, '/healthz');
		assert.strictEqual(r.status, 200, '/healthz status');
		assert.strictEqual(JSON.parse(r.body).status, 'ok');
		r = await rawGet(b.port, '/');
		assert.strictEqual(r.status, 200, '/ status');
		assert.match(r.headers['content-type'], /^text\/html/);
		assert.strictEqual(r.headers['cache-control'], 'no-cache');
		assert.strictEqual(r.headers['x-content-type-options'], 'nosniff');
		assert.match(r.body, /<title>argobox/);
		const etag = r.headers.etag;
		assert.ok(etag, 'ETag present');
		r = await rawGet(b.port, '/index.html', { 'If-None-Match': etag });
		assert.strictEqual(r.status, 304, 'conditional GET');
		r = await rawGet(b.port, '/app.js');
		assert.strictEqual(r.status, 200);
		assert.match(r.headers['content-type'], /^text\/javascript/);
		r = await rawGet(b.port, '/style.css');
		assert.match(r.headers['content-type'], /^text\/css/);
		r = await rawGet(b.port, '/sub/');
		assert.strictEqual(r.body, 'sub', 'directory index');
		r = await rawGet(b.port, '/vendor/novnc/core/rfb.js');
		assert.strictEqual(r.status, 200, 'noVNC mapping');
		assert.strictEqual(r.body, 'export default 1;');
		assert.strictEqual((await rawGet(b.port, '/nope.html')).status, 404);
		for (const evil of ['/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/..%2fsecret.txt',
			'/sub/../../secret.txt', '/vendor/novnc/../../../secret.txt', '/.hidden', '/%2ehidden',
			'/index.html%00.png', '/app.js%00', '/sub%00/index.html', '/..\\secret.txt', '//etc/passwd',
			'/vendor/novnc/%2e%2e/%2e%2e/%2e%2e/secret.txt']) {
			const e = await rawGet(b.port, evil);
			assert.ok(e.status >= 400 || e.status === 0 && true, `${evil} refused (got ${e.status})`);
			assert.ok(!e.body.includes('TOPSECRET') && !e.body.includes('hidden') && !e.body.includes('console.log') && !e.body.includes('argobox</title>'),
				`${evil} leaked content (status ${e.status})`);
		}
		await stopBroker(b);
	},

	async rfb() {
		const b = await startBroker();
		const c = await rfbConnect(b.port);
		assert.strictEqual(c.ws.protocol, 'binary', 'subprotocol binary echoed');
		assert.strictEqual(c.w, 256); assert.strictEqual(c.h, 192);
		c.request(false, 0, 0, c.w, c.h);
		const rects = await c.readUpdate();
		assert.strictEqual(rects.length, 1);
		const px = (x, y) => rects[0].pixels.subarray((y * c.w + x) * 4, (y * c.w + x) * 4 + 4);
		assert.deepStrictEqual([...px(10, 20)], [0x80, 20, 10, 0], 'pixel (10,20)');
		assert.deepStrictEqual([...px(255, 191)], [0x80, 191, 255, 0], 'pixel (255,191)');
		// A key event reaches the desktop.
		const k = Buffer.alloc(8); k[0] = 4; k[1] = 1; k.writeUInt32BE(0x61, 4);
		c.ws.send(k);
		await waitFor('the key to reach the session', () => b.fakeLog().includes('key 1 97'));
		// Second client with no subprotocol on /ws.
		const c2 = await rfbConnect(b.port, { path: '/ws', protocols: [] });
		assert.strictEqual(c2.ws.protocol, '', 'no subprotocol');
		c2.request(false, 0, 0, 16, 16);
		assert.strictEqual((await c2.readUpdate())[0].w, 16);
		// Websocket pings (proxy.ping_interval_s 1).
		await waitFor('a websocket ping', () => new Promise((res) => {
			c.ws.once('ping', () => res(true));
			setTimeout(() => res(false), 500);
		}), 10000);
		const list = ctl(b, 'list').desktops;
		assert.strictEqual(list.length, 1);
		assert.strictEqual(list[0].user, 'local');
		assert.strictEqual(list[0].clients, 2);
		await waitFor('the control hello', () => ctl(b, 'list').desktops[0].control === true);
		const st = ctl(b, 'status');
		assert.strictEqual(st.connections, 2);
		assert.match(b.audit(), /"event":"desktop.connect","outcome":"grant"/);
		c.ws.close(); c2.ws.close();
		await stopBroker(b);
	},

	async subprotocol() {
		const b = await startBroker();
		for (const [what, opts] of [['base64', { protocols: ['base64'] }],
			['other path', { path: '/other' }],
			['cross origin', { wsopts: { origin: 'http://evil.example' } }]]) {
			let refused = false;
			try { const c = await rfbConnect(b.port, opts); c.ws.close(); } catch (e) { refused = true; }
			assert.ok(refused, `${what} refused`);
		}
		assert.match(b.audit(), /"event":"desktop.connect","outcome":"deny"/);
		// A text frame closes the connection (binary only, never base64).
		const c = await rfbConnect(b.port);
		c.ws.send('hello');
		const cl = await c.closed;
		assert.strictEqual(cl.code, 1003, 'text frame closes with 1003');
		await stopBroker(b);
	},

	/*
	 * A reader that stops while more than its queue's bound (32 x proxy.buffer_bytes: 2 MiB
	 * with the smallest buffer_bytes) is on its way: it is cut off (1008, the reason), the
	 * session is never held by it and serves the next viewer, the broker's memory stays
	 * within the bound.
	 */
	async slow_cutoff() {
		const b = await startBroker({ proxy: { buffer_bytes: 65536, chunk_bytes: 16384 } },
			{ FAKE_SESSION_GEOMETRY: '2048x2048' });
		const c = await rfbConnect(b.port);
		const base = vmRssKb(b.p.pid);
		const closed = new Promise((r) => c.ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
		c.ws._socket.pause();
		c.request(false, 0, 0, c.w, c.h);
		let max = base;
		for (const end = Date.now() + 10000; Date.now() < end && !/cut off/.test(b.log());) {
			max = Math.max(max, vmRssKb(b.p.pid));
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.ok(/cut off/.test(b.log()), 'the reader that reads nothing was not cut off');
		// the session's write to it ended at once: it was not held
		await waitFor('the session to see the viewer gone', () => b.fakeLog().includes('rfb client closed'), 3000);
		c.ws._socket.resume(); // the close frame waits behind what the reader left unread
		const cl2 = await Promise.race([closed, new Promise((r) => setTimeout(() => r(null), 10000))]);
		assert.ok(cl2, 'no close after the cut-off');
		// 1008 with the reason when the close frame gets through behind what the reader left
		// unread; 1006 when lws gives up on the choked socket first (the log says why)
		assert.ok(cl2.code === 1006 || (cl2.code === 1008 && /too slow/.test(cl2.reason)),
			`close code ${cl2.code} (${cl2.reason})`);
		assert.ok(max - base < 8 * 1024, `broker RSS grew by ${max - base} kB (bound 2 MiB)`);
		// the desktop serves the next viewer at once
		const d = await rfbConnect(b.port);
		d.request(false, 0, 0, 64, 64);
		assert.strictEqual((await d.readUpdate()).length, 1);
		console.log(`cut off with ${cl2.code} '${cl2.reason}'; broker RSS +${max - base} kB; the next viewer served`);
		d.ws.close();
		await stopBroker(b);
	},

	/*
	 * A reader that stops, asks for a full 2048x2048 Raw frame (16 MiB, more than every buffer
	 * between the session and the client: the broker takes the rest into the reader's
	 * bounded queue, the session is not held), then keeps asking every 50 ms for 3 s: those
	 * requests wait in the broker and merge (the session is not asked for more than the
	 * client takes), the broker's memory stays within the frame. Reading again, the client
	 * gets the frame under way and one answer to the merged requests, all valid, then fresh
	 * frames.
	 */
	async slow() {
		const b = await startBroker({ proxy: { ping_interval_s: 20 } }, { FAKE_SESSION_GEOMETRY: '2048x2048' });
		const c = await rfbConnect(b.port);
		const check = (rects) => {
			assert.strictEqual(rects.length, 1);
			const r = rects[0];
			assert.deepStrictEqual([r.x, r.y, r.w, r.h], [0, 0, c.w, c.h], 'a full frame');
			for (const [x, y] of [[10, 20], [2047, 2047], [1000, 77]])
				assert.deepStrictEqual([...r.pixels.subarray((y * c.w + x) * 4, (y * c.w + x) * 4 + 4)],
					[0x80, y & 255, x & 255, 0], `pixel (${x},${y})`);
		};
		c.request(false, 0, 0, c.w, c.h);
		check(await c.readUpdate());
		const base = vmRssKb(b.p.pid);
		const asked = () => (b.fakeLog().match(/^request /gm) || []).length;
		// Stop reading, ask for one frame (16 MiB): the broker takes all of it into the
		// reader's queue (bounded by 32 x proxy.buffer_bytes), so the session is never held
		// by a viewer that does not read (its writes are synchronous, one loop for all).
		c.ws._socket.pause();
		const drained = (b.fakeLog().match(/^drained$/gm) || []).length;
		c.request(false, 0, 0, c.w, c.h);
		// the whole frame leaves the session while the reader still reads nothing (before the
		// queue it stayed there until the reader read again); a loaded machine may pause the
		// broker for a moment, so no finer timing than that
		await waitFor('the broker to take the whole frame from the session',
			() => (b.fakeLog().match(/^drained$/gm) || []).length > drained, 10000);
		const before = asked();
		// Then a request every 50 ms for 3 s; watch the broker.
		let max = base, sent = 0;
		for (const end = Date.now() + 3000; Date.now() < end;) {
			c.request(false, 0, 0, c.w, c.h);
			sent++;
			for (let i = 0; i < 5; i++) {
				max = Math.max(max, vmRssKb(b.p.pid));
				await new Promise((r) => setTimeout(r, 10));
			}
		}
		const reached = asked() - before;
		console.log(`broker VmRSS: ${base} kB after connect, max ${max} kB while the reader did not read; ` +
			`${sent} requests sent once the session was stalled, ${reached} reached it`);
		assert.ok(max - base < 48 * 1024, `broker RSS grew by ${max - base} kB`);
		assert.strictEqual(reached, 0, `requests that reached the session while the reader stalled (of ${sent})`);
		// Reading again: the frame under way, then one update for the merged requests.
		c.ws._socket.resume();
		let n = 0;
		for (;;) {
			check(await c.readUpdate());
			n++;
			await new Promise((r) => setTimeout(r, 500));
			if (c.buffered() === 0 && asked() - before + 1 === n) break;
		}
		assert.strictEqual(n, 2, 'updates after the stall: the frame under way, one for the merged requests');
		c.request(false, 0, 0, c.w, c.h);
		check(await c.readUpdate());
		console.log(`reading again: ${n} update(s) for the ${sent} requests, then a fresh frame`);
		c.ws.close();
		const line = await waitFor('the close log line', () => /left the desktop of 'local': .*/.exec(b.log()));
		console.log(line[0]);
		const held = Number(/requests_held=(\d+)/.exec(line[0])[1]);
		const merged = Number(/requests_merged=(\d+)/.exec(line[0])[1]);
		const paused = Number(/paused_ms=(\d+)/.exec(line[0])[1]);
		assert.ok(held >= 1, 'requests waited for the reader');
		assert.strictEqual(merged, sent - 1, 'requests merged');
		assert.ok(paused >= 1000, `the desktop's stream waited for the reader (${paused} ms)`);
		await stopBroker(b);
	},

	/*
	 * The real session (Xvfb + libvncserver, an xterm printing 20 times a second) with two
	 * websocket viewers. One stops reading for 10 s while asking every 50 ms for a 512x192 Raw
	 * region (384 KiB): the kernel's buffers fill within a second or two, then its requests
	 * wait in the broker, so argobox-session (whose writes block its only loop) is never stuck
	 * on it: the other viewer keeps getting updates, no wait over 2.5 s. The broker's memory
	 * stays flat; the slow viewer, reading again, gets valid updates and fresh frames.
	 */
	async slow_viewer() {
		if (!fs.existsSync(path.join(build, 'session', 'argobox-session'))) {
			console.log('SKIP: argobox-session is not built');
			process.exit(77);
		}
		for (const tool of ['xterm', 'Xvfb'])
			if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
				console.log(`SKIP: ${tool} is not installed`);
				process.exit(77);
			}
		const drawing = ['xterm', '-geometry', '150x55+0+0', '-e', 'sh', '-c',
			'while :; do od -An -N256 -x /dev/urandom; sleep 0.05; done'];
		const b = await startBroker({ session: { geometry: '1024x768', desktop_command: drawing } }, {}, { real: true });
		const slow = await rfbConnect(b.port);
		assert.deepStrictEqual([slow.w, slow.h], [1024, 768]);
		const area = (rects) => {
			let px = 0;
			for (const r of rects) {
				assert.ok(r.x + r.w <= slow.w && r.y + r.h <= slow.h, `rectangle ${r.x},${r.y} ${r.w}x${r.h} inside the screen`);
				px += r.w * r.h;
			}
			return px;
		};
		const fullFrame = async (c) => {
			c.request(false, 0, 0, c.w, c.h);
			let got = 0;
			while (got < c.w * c.h) got += area(await c.readUpdate());
			assert.strictEqual(got, c.w * c.h, 'a full frame');
		};
		await fullFrame(slow);
		let changed = 0;
		for (let i = 0; i < 20; i++) {
			slow.request(true, 0, 0, slow.w, slow.h);
			changed += area(await slow.readUpdate());
		}
		assert.ok(changed > 0, 'the desktop keeps changing');
		const watcher = await rfbConnect(b.port);
		await fullFrame(watcher);
		const base = vmRssKb(b.p.pid);
		console.log(`ok: two viewers; 20 incremental updates (${changed} pixels changed); broker VmRSS ${base} kB`);

		// The watcher asks in a loop for the top left 128x128 pixels (answered at once).
		const watch = { n: 0, maxGap: 0, stop: false, error: null };
		watch.done = (async () => {
			let last = Date.now();
			try {
				while (!watch.stop) {
					watcher.request(false, 0, 0, 128, 128);
					area(await watcher.readUpdate());
					const t = Date.now();
					watch.maxGap = Math.max(watch.maxGap, t - last);
					last = t;
					watch.n++;
				}
			} catch (e) {
				watch.error = e;
				watch.maxGap = Math.max(watch.maxGap, Date.now() - last);
			}
		})();
		slow.ws._socket.pause();
		let max = base, asked = 0, next = 0;
		for (const end = Date.now() + 10000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
			if (Date.now() >= next) {
				slow.request(false, 0, 0, 512, 192);
				asked++;
				next = Date.now() + 50;
			}
			max = Math.max(max, vmRssKb(b.p.pid));
		}
		watch.stop = true;
		await watch.done;
		console.log(`broker VmRSS ${base} kB before, at most ${max} kB while a viewer did not read for 10 s ` +
			`(+${max - base} kB; ${asked} regions of 384 KiB asked)`);
		console.log(`the other viewer meanwhile: ${watch.n} updates, longest wait ${watch.maxGap} ms` +
			(watch.error ? `, then: ${watch.error.message}` : ''));
		assert.ok(!watch.error, `the other viewer lost the desktop: ${watch.error}`);
		assert.ok(max - base < 16 * 1024, `the broker grew by ${max - base} kB while a viewer did not read`);
		assert.ok(watch.n >= 10 && watch.maxGap < 2500,
			`the desktop stayed live for the other viewer (${watch.n} updates, longest wait ${watch.maxGap} ms)`);
		assert.ok(!slow.isClosed(), 'the slow viewer is still connected');

		// Reading again: what was asked arrives, valid, then fresh updates.
		slow.ws._socket.resume();
		let n = 0;
		for (;;) {
			assert.strictEqual(area(await slow.readUpdate()), 512 * 192, 'a region asked for during the stall');
			n++;
			const end = Date.now() + 3000;
			while (slow.buffered() === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
			if (slow.buffered() === 0) break;
		}
		assert.ok(n >= 1 && n < asked, `${n} region(s) arrived for the ${asked} asked (they merged)`);
		await fullFrame(slow);
		for (let i = 0; i < 5; i++) {
			slow.request(true, 0, 0, slow.w, slow.h);
			area(await slow.readUpdate());
		}
		console.log(`ok: reading again, the slow viewer got ${n} region(s) it had asked for, then fresh updates`);
		slow.ws.close();
		const line = await waitFor('the close log line', () => /left the desktop of 'local': .*/.exec(b.log()));
		console.log(line[0]);
		assert.ok(Number(/requests_held=(\d+)/.exec(line[0])[1]) >= 1, 'update requests waited for the slow viewer');
		watcher.ws.close();
		await stopBroker(b);
	},

	async close() {
		const b = await startBroker();
		// Browser side closes: the session sees its RFB client go.
		let c = await rfbConnect(b.port);
		c.ws.close(1000);
		await waitFor('the session to see the close', () => b.fakeLog().includes('rfb client closed'));
		await waitFor('the broker to drop the connection', () => ctl(b, 'status').connections === 0);
		// Connections come and go without leaking descriptors (loop_lws dups and closes).
		const fds = () => fs.readdirSync(`/proc/${b.p.pid}/fd`).length;
		const before = fds();
		for (let i = 0; i < 10; i++) {
			const x = await rfbConnect(b.port);
			x.ws.close();
			await x.closed;
		}
		await waitFor('the broker to drop the connections', () => ctl(b, 'status').connections === 0);
		await waitFor('descriptors to be released', () => fds() <= before + 1);
		// Desktop side closes: the browser gets a close frame.
		c = await rfbConnect(b.port);
		const pid = ctl(b, 'list').desktops[0].pid;
		ctl(b, 'stop', 'local');
		const cl = await c.closed;
		assert.strictEqual(cl.code, 1001, 'close code when the desktop goes');
		await waitFor('the session to exit', () => !alive(pid));
		await waitFor('the desktop to be gone', () => ctl(b, 'list').desktops.length === 0);
		// And a new visit starts it again.
		c = await rfbConnect(b.port);
		assert.notStrictEqual(ctl(b, 'list').desktops[0].pid, pid);
		c.ws.close();
		await stopBroker(b);
	},

	async lifecycle() {
		const b = await startBroker();
		const c = await rfbConnect(b.port);
		const pid = ctl(b, 'list').desktops[0].pid;
		assert.ok(pid > 0 && alive(pid));
		// no users table: the loopback "local" user may start every app
		assert.match(b.fakeLog(), /start pid=\d+ .*apps=\*$/m, 'ARGOBOX_APPS=* for local');
		await stopBroker(b);
		assert.ok(!alive(pid), 'session stopped with the broker');
		assert.match(b.fakeLog(), /SIGTERM/, 'session got SIGTERM');
		assert.match(b.audit(), /"event":"desktop.stop"/);
		assert.ok(!fs.existsSync(b.cfg.admin.socket), 'admin socket removed');
		await c.closed;
	},

	async heartbeat() {
		const b = await startBroker({ control: { heartbeat_ms: 100, timeout_ms: 600 } }, { FAKE_SESSION_MODE: 'mute' });
		const c = await rfbConnect(b.port);
		const cl = await c.closed;
		assert.strictEqual(cl.code, 1001);
		await waitFor('the silent desktop to be stopped', () => ctl(b, 'list').desktops.length === 0);
		assert.match(b.audit(), /"event":"desktop.health","outcome":"failure"/);
		await stopBroker(b);
	},

	// The real argobox-session (AB_REAL_SESSION=1): Xvfb + libvncserver through the broker.
	async real() {
		const b = await startBroker({ session: { geometry: '640x480' } });
		const fullFrame = async (c) => {
			c.request(false, 0, 0, c.w, c.h);
			let got = 0;
			while (got < c.w * c.h) for (const r of await c.readUpdate()) got += r.w * r.h;
		};
		let t0 = process.hrtime.bigint();
		const cold = await rfbConnect(b.port);
		await fullFrame(cold);
		const coldMs = Number(process.hrtime.bigint() - t0) / 1e6;
		t0 = process.hrtime.bigint();
		const warm = await rfbConnect(b.port);
		await fullFrame(warm);
		const warmMs = Number(process.hrtime.bigint() - t0) / 1e6;
		console.log(`through the broker: cold start to first full frame ${coldMs.toFixed(1)} ms, ` +
			`connect to first full frame ${warmMs.toFixed(1)} ms (measured, not asserted)`);
		cold.ws.close(); warm.ws.close();
		const c = await rfbConnect(b.port);
		assert.strictEqual(c.w, 640); assert.strictEqual(c.h, 480);
		c.request(false, 0, 0, c.w, c.h);
		let area = 0;
		while (area < c.w * c.h) {
			const rects = await c.readUpdate();
			for (const r of rects) area += r.w * r.h;
			if (area < c.w * c.h) c.request(false, 0, 0, c.w, c.h);
		}
		const pid = ctl(b, 'list').desktops[0].pid;
		await stopBroker(b);
		assert.ok(!alive(pid), 'session stopped with the broker');
		await c.closed;
	},

	async timeout() {
		const b = await startBroker({ session: { start_timeout_ms: 500 } }, { FAKE_SESSION_MODE: 'noready' });
		let refused = false;
		try { await rfbConnect(b.port); } catch (e) { refused = true; }
		assert.ok(refused, 'no RFB stream from a desktop that never became ready');
		await waitFor('the desktop to be stopped', () => ctl(b, 'list').desktops.length === 0);
		assert.match(b.audit(), /"event":"desktop.start","outcome":"failure"/);
		await stopBroker(b);
	},
};

(async () => {
	const name = process.argv[2];
	if (!tests[name]) fail(`unknown test '${name}'`);
	if (process.env.AB_REAL_SESSION === '1' && !fs.existsSync(path.join(build, 'session', 'argobox-session'))) {
		console.log('SKIP: argobox-session is not built');
		process.exit(77);
	}
	try {
		await tests[name]();
	} catch (e) {
		fail(e.stack || String(e));
	}
	console.log(`PASS: ${name}`);
	lib.cleanup();
	process.exit(0);
})();
