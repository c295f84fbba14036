// SPDX-License-Identifier: GPL-2.0-or-later
// The benchmarks' browser-side first frame, as noVNC gets it through the broker's websocket:
// websocket (with the sign-in cookie) -> RFB 3.8 handshake, security None -> ClientInit shared ->
// one full-screen FramebufferUpdateRequest -> the whole first update received (raw encoding).
//   const { firstFrame } = require('.../bench/firstframe.cjs');
//   await firstFrame(port, 'argobox_session=...', '/websockify');   // resolves when it is in
//   marks (optional object): ws_open, version, server_init, update_start (ms, hrtime) are set
// `ws` is resolved through NODE_PATH (tests/integration/authn/node_modules).
'use strict';
const WebSocket = require('ws');

function firstFrame(port, cookie, target = '/websockify', marks = null) {
	const mark = (k) => { if (marks) marks[k] = Number(process.hrtime.bigint()) / 1e6; };
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`ws://127.0.0.1:${port}${target}`, [], { headers: { Cookie: cookie } });
		ws.on('open', () => mark('ws_open'));
		let buf = Buffer.alloc(0), stage = 0, need = 12, w = 0, h = 0, rects = -1, left = 0;
		let settled = false;
		const done = (e) => { if (settled) return; settled = true; ws.terminate(); e ? reject(e) : resolve(); };
		ws.on('error', done);
		ws.on('close', (c) => done(new Error(`websocket closed (${c}) at stage ${stage}`)));
		ws.on('message', (d) => {
			buf = Buffer.concat([buf, d]);
			for (;;) {
				if (stage === 0 && buf.length >= 12) { mark('version'); buf = buf.subarray(12); ws.send(Buffer.from('RFB 003.008\n')); stage = 1; }
				else if (stage === 1 && buf.length >= 1 && buf.length >= 1 + buf[0]) { buf = buf.subarray(1 + buf[0]); ws.send(Buffer.from([1])); stage = 2; }
				else if (stage === 2 && buf.length >= 4) { buf = buf.subarray(4); ws.send(Buffer.from([1])); stage = 3; }
				else if (stage === 3 && buf.length >= 24 && buf.length >= 24 + buf.readUInt32BE(20)) {
					mark('server_init'); w = buf.readUInt16BE(0); h = buf.readUInt16BE(2);
					buf = buf.subarray(24 + buf.readUInt32BE(20));
					const m = Buffer.alloc(10); m[0] = 3; m.writeUInt16BE(w, 6); m.writeUInt16BE(h, 8);
					ws.send(m); stage = 4;
				} else if (stage === 4 && buf.length >= 4) {
					if (buf[0] === 2) { buf = buf.subarray(1); continue; } // Bell
					if (buf[0] !== 0) return done(new Error(`unexpected server message ${buf[0]}`));
					mark('update_start'); rects = buf.readUInt16BE(2); buf = buf.subarray(4); stage = 5;
				} else if (stage === 5 && rects === 0) { return done(); }
				else if (stage === 5 && left === 0 && buf.length >= 12) {
					const rw = buf.readUInt16BE(4), rh = buf.readUInt16BE(6), enc = buf.readInt32BE(8);
					buf = buf.subarray(12);
					if (enc !== 0) return done(new Error(`unexpected encoding ${enc}`));
					left = rw * rh * 4; rects--;
					if (left === 0 && rects === 0) return done();
				} else if (stage === 5 && left > 0 && buf.length > 0) {
					const n = Math.min(left, buf.length); buf = buf.subarray(n); left -= n;
					if (left === 0 && rects === 0) return done();
				} else break;
			}
		});
	});
}

module.exports = { firstFrame };
