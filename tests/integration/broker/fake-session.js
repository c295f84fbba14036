#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// A stand-in for argobox-session with the same CLI contract:
//   fake-session.js --runtime-dir DIR [--geometry WxH] [--ready-fd N] -- CMD...
// It serves a minimal RFB 3.8 server (security None, raw encoding, a known
// colour pattern) on DIR/rfb.sock and the control channel on DIR/control.sock,
// writes READY to the ready fd, and records what happened in DIR/fake.log.
// FAKE_SESSION_MODE: "" (normal), "noready" (never READY), "mute" (control
// channel accepts but never answers).
// What the desktop itself would send the broker (the wm's messages panel: message_send) is
// taken from DIR/fake-send.jsonl: each line appended there goes to the broker as a frame.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');

const args = process.argv.slice(2);
let dir = null, readyFd = -1, geometry = '256x192';
for (let i = 0; i < args.length; i++) {
	if (args[i] === '--runtime-dir') dir = args[++i];
	else if (args[i] === '--ready-fd') readyFd = parseInt(args[++i], 10);
	else if (args[i] === '--geometry') geometry = args[++i];
	else if (args[i] === '--') break;
}
const mode = process.env.FAKE_SESSION_MODE || '';
const [W, H] = (process.env.FAKE_SESSION_GEOMETRY || '256x192').split('x').map(Number);
const logf = path.join(dir, 'fake.log');
const log = (s) => fs.appendFileSync(logf, s + '\n');
log(`start pid=${process.pid} geometry=${geometry} apps=${process.env.ARGOBOX_APPS ?? '(unset)'}`);

// Pixel (x, y) is BGRX little-endian 32 bpp: r = x & 255, g = y & 255, b = 0x80.
// The last rectangle is kept: the same request is answered at once (large frames too).
let last = { key: '', buf: null };
function rect(x0, y0, w, h) {
	const key = `${x0} ${y0} ${w} ${h}`;
	if (last.key === key) return last.buf;
	const b = Buffer.alloc(w * h * 4);
	let o = 0;
	for (let y = y0; y < y0 + h; y++)
		for (let x = x0; x < x0 + w; x++) {
			b[o] = 0x80; b[o + 1] = y & 255; b[o + 2] = x & 255; b[o + 3] = 0;
			o += 4;
		}
	last = { key, buf: b };
	return b;
}

function rfbClient(sock) {
	let buf = Buffer.alloc(0), state = 'version', backpressure = false;
	log('rfb client connected');
	sock.write('RFB 003.008\n');
	// "stalled": bytes wait in this process and the socket has taken none of them for 300 ms
	// (everything on the way to the client is full)
	let watch = null;
	sock.on('drain', () => { backpressure = false; clearInterval(watch); watch = null; log('drained'); });
	sock.on('close', () => clearInterval(watch));
	const watchStall = () => {
		if (watch) return;
		let last = -1, logged = false;
		watch = setInterval(() => {
			const n = sock.writableLength;
			if (n > 0 && n === last && !logged) { logged = true; log('stalled'); }
			last = n;
		}, 300);
	};
	sock.on('close', () => log('rfb client closed'));
	sock.on('error', () => {});
	const need = (n) => buf.length >= n;
	const take = (n) => { const r = buf.subarray(0, n); buf = buf.subarray(n); return r; };
	sock.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		for (;;) {
			if (state === 'version') {
				if (!need(12)) return;
				take(12);
				sock.write(Buffer.from([1, 1]));
				state = 'sec';
			} else if (state === 'sec') {
				if (!need(1)) return;
				take(1);
				sock.write(Buffer.from([0, 0, 0, 0]));
				state = 'init';
			} else if (state === 'init') {
				if (!need(1)) return;
				take(1);
				const name = Buffer.from('fake');
				const si = Buffer.alloc(24);
				si.writeUInt16BE(W, 0); si.writeUInt16BE(H, 2);
				// 32 bpp, depth 24, little endian, true colour, max 255, shifts 16/8/0
				Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]).copy(si, 4);
				si.writeUInt32BE(name.length, 20);
				sock.write(Buffer.concat([si, name]));
				state = 'msgs';
			} else {
				if (!need(1)) return;
				const t = buf[0];
				if (t === 0) { if (!need(20)) return; take(20); }
				else if (t === 2) { if (!need(4)) return; const n = buf.readUInt16BE(2); if (!need(4 + 4 * n)) return; take(4 + 4 * n); }
				else if (t === 3) {
					if (!need(10)) return;
					const m = take(10);
					const x = m.readUInt16BE(2), y = m.readUInt16BE(4);
					log(`request ${m[1]} ${x} ${y} ${m.readUInt16BE(6)} ${m.readUInt16BE(8)}`);
					const w = Math.min(m.readUInt16BE(6), W - x), h = Math.min(m.readUInt16BE(8), H - y);
					const hd = Buffer.alloc(16);
					hd[0] = 0; hd.writeUInt16BE(1, 2);
					hd.writeUInt16BE(x, 4); hd.writeUInt16BE(y, 6); hd.writeUInt16BE(w, 8); hd.writeUInt16BE(h, 10);
					hd.writeInt32BE(0, 12);
					if (!sock.write(Buffer.concat([hd, rect(x, y, w, h)])) && !backpressure) {
						backpressure = true;
						log('backpressure');
						watchStall();
					}
				} else if (t === 4) { if (!need(8)) return; const k = take(8); log(`key ${k[1]} ${k.readUInt32BE(4)}`); }
				else if (t === 5) { if (!need(6)) return; take(6); }
				else if (t === 6) { if (!need(8)) return; const n = buf.readUInt32BE(4); if (!need(8 + n)) return; take(8 + n); }
				else { log(`bad message type ${t}`); sock.destroy(); return; }
			}
		}
	});
}

function frame(obj) {
	const j = Buffer.from(JSON.stringify(obj));
	const h = Buffer.alloc(4);
	h.writeUInt32BE(j.length, 0);
	return Buffer.concat([h, j]);
}

function controlClient(sock) {
	log('control connected');
	sock.on('error', () => {});
	if (mode === 'mute') return;
	sock.write(frame({ v: 1, type: 'hello', role: 'session', versions: [1, 1], session: 'fake' }));
	let buf = Buffer.alloc(0);
	sock.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		while (buf.length >= 4) {
			const n = buf.readUInt32BE(0);
			if (buf.length < 4 + n) break;
			const m = JSON.parse(buf.subarray(4, 4 + n).toString());
			buf = buf.subarray(4 + n);
			// as session/control.c does: a frame without an integer "v" and a string "type"
			// closes the channel (and the broker stops the desktop)
			if (!Number.isInteger(m.v) || typeof m.type !== 'string') {
				log(`control frame lacks an integer 'v' or a string 'type': ${JSON.stringify(m).slice(0, 200)}`);
				sock.destroy();
				return;
			}
			const detail = m.type === 'notify' ? { title: m.title, body: m.body, urgency: m.urgency }
				: m.type === 'message' ? { id: m.id, from: m.from, text: m.text, time: m.time }
				: m.type === 'message_answer' ? m : null;
			log(`control ${m.type}${detail ? ' ' + JSON.stringify(detail) : ''}`);
			if (m.type === 'ping') sock.write(frame({ v: 1, type: 'pong', seq: m.seq, t: m.t }));
		}
	});
	// the desktop's own messages to the broker, appended to fake-send.jsonl by a test
	let sentLines = 0;
	const outbox = setInterval(() => {
		let lines;
		try {
			lines = fs.readFileSync(path.join(dir, 'fake-send.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
		} catch (e) {
			return;
		}
		for (; sentLines < lines.length; sentLines++) sock.write(frame(JSON.parse(lines[sentLines])));
	}, 50);
	sock.on('close', () => clearInterval(outbox));
}

const servers = [];
function listen(name, fn, cb) {
	const p = path.join(dir, name);
	try { fs.unlinkSync(p); } catch (e) { /* none */ }
	const s = net.createServer(fn);
	s.listen(p, cb);
	servers.push(s);
}

process.on('SIGTERM', () => {
	log('SIGTERM');
	for (const s of servers) s.close();
	process.exit(0);
});

listen('rfb.sock', rfbClient, () => listen('control.sock', controlClient, () => {
	if (mode === 'noready' || readyFd < 0) return;
	fs.writeSync(readyFd, 'READY\n');
	fs.closeSync(readyFd);
	log('ready');
}));
