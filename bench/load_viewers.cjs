// SPDX-License-Identifier: GPL-2.0-or-later
// bench/load_viewers.cjs: the load benchmark's many viewers (bench/load_bench.sh), in one
// process. Each viewer is a websocket to the broker's /websockify with a user's cookie that
// does what a view-only noVNC tab does: the RFB handshake, shared ClientInit, ZRLE + CopyRect,
// one full update, then an incremental request for the whole screen after every update. It
// decodes nothing: ZRLE rectangles carry their length, so bytes and updates are counted
// without spending the client's CPU on pixels (the 2 cores belong to the server side).
//
//   node load_viewers.cjs PORT SECONDS VIEWERS COOKIES SLOW SLOW_COOKIES
//     VIEWERS view-only viewers spread round robin over COOKIES (comma-separated
//     "argobox_session=..."), SLOW slow readers round robin over SLOW_COOKIES (the same
//     form): they finish the handshake, ask for a full update every 100 ms and never read
//     another byte.
// Prints one JSON line: viewers connected/failed, updates, bytes, per-viewer updates/s
// (median, min), slow readers connected.
'use strict';
const WebSocket = require('ws');

const [port, seconds, nViewers, cookieList, nSlow, slowCookie] = process.argv.slice(2);
const cookies = (cookieList || '').split(',').filter(Boolean);
const slowCookies = (slowCookie || '').split(',').filter(Boolean);
const secs = Number(seconds);

function viewer(cookie, slow) {
	return new Promise((resolve) => {
		const st = { ok: false, updates: 0, bytes: 0, error: '' };
		const ws = new WebSocket(`ws://127.0.0.1:${port}/websockify`, ['binary'],
			{ headers: { Cookie: cookie }, origin: `http://127.0.0.1:${port}`, perMessageDeflate: false });
		let buf = Buffer.alloc(0), stage = 0, w = 0, h = 0, bpp = 4, timer = null, t0 = 0;
		const request = (inc) => {
			const m = Buffer.alloc(10);
			m[0] = 3; m[1] = inc ? 1 : 0; m.writeUInt16BE(w, 6); m.writeUInt16BE(h, 8);
			ws.send(m);
		};
		const done = () => {
			clearInterval(timer);
			st.seconds = t0 ? (Date.now() - t0) / 1000 : 0;
			try { ws.terminate(); } catch (e) { /* gone */ }
			resolve(st);
		};
		setTimeout(done, secs * 1000);
		ws.on('error', (e) => { st.error = String(e.message || e); });
		ws.on('unexpected-response', (q, r) => { st.error = `HTTP ${r.statusCode}`; });
		ws.on('close', () => { if (!st.error && !st.ok) st.error = 'closed'; });
		ws.on('message', (d) => {
			st.bytes += d.length;
			buf = buf.length ? Buffer.concat([buf, d]) : d;
			for (;;) {
				if (stage === 0 && buf.length >= 12) { // ProtocolVersion
					ws.send(Buffer.from('RFB 003.008\n')); buf = buf.subarray(12); stage = 1;
				} else if (stage === 1 && buf.length >= 1 && buf.length >= 1 + buf[0]) { // security types
					ws.send(Buffer.from([1])); buf = buf.subarray(1 + buf[0]); stage = 2;
				} else if (stage === 2 && buf.length >= 4) { // SecurityResult
					if (buf.readUInt32BE(0) !== 0) { st.error = 'security refused'; done(); return; }
					ws.send(Buffer.from([1])); buf = buf.subarray(4); stage = 3; // shared
				} else if (stage === 3 && buf.length >= 24 && buf.length >= 24 + buf.readUInt32BE(20)) {
					w = buf.readUInt16BE(0); h = buf.readUInt16BE(2); bpp = buf[4] / 8;
					buf = buf.subarray(24 + buf.readUInt32BE(20));
					// ZRLE + CopyRect; a slow reader with LOAD_SLOW_RAW=1 asks for Raw only
					// (a full 1280x800 update is 4 MB: more than any socket buffer holds)
					const raw = slow && process.env.LOAD_SLOW_RAW === '1';
					const enc = Buffer.alloc(raw ? 8 : 12);
					enc[0] = 2; enc.writeUInt16BE(raw ? 1 : 2, 2); enc.writeInt32BE(raw ? 0 : 16, 4);
					if (!raw) enc.writeInt32BE(1, 8);
					ws.send(enc);
					request(false);
					st.ok = true; t0 = Date.now(); stage = 4;
					if (slow) { // never read again; keep asking
						ws._socket.pause();
						timer = setInterval(() => { try { request(false); } catch (e) { /* closed */ } }, 100);
						return;
					}
				} else if (stage === 4) {
					const n = parseUpdate();
					if (n === 0) return;
				} else {
					return;
				}
			}
		});
		// one server message at the front of buf: 0 need more, 1 consumed
		function parseUpdate() {
			if (buf.length < 1) return 0;
			const t = buf[0];
			if (t === 2) { buf = buf.subarray(1); return 1; } // Bell
			if (t === 3) { // ServerCutText
				if (buf.length < 8 || buf.length < 8 + buf.readUInt32BE(4)) return 0;
				buf = buf.subarray(8 + buf.readUInt32BE(4)); return 1;
			}
			if (t !== 0) { st.error = `message type ${t}`; done(); return 0; }
			if (buf.length < 4) return 0;
			let o = 4;
			for (let i = 0, n = buf.readUInt16BE(2); i < n; i++) {
				if (buf.length < o + 12) return 0;
				const rw = buf.readUInt16BE(o + 4), rh = buf.readUInt16BE(o + 6), enc = buf.readInt32BE(o + 8);
				o += 12;
				if (enc === 16) {
					if (buf.length < o + 4) return 0;
					o += 4 + buf.readUInt32BE(o);
				} else if (enc === 1) o += 4;
				else if (enc === 0) o += rw * rh * bpp;
				else { st.error = `encoding ${enc}`; done(); return 0; }
				if (buf.length < o) return 0;
			}
			buf = buf.subarray(o);
			st.updates++;
			request(true);
			return 1;
		}
	});
}

(async () => {
	const all = [];
	for (let i = 0; i < Number(nViewers); i++) all.push(viewer(cookies[i % cookies.length], false));
	for (let i = 0; i < Number(nSlow); i++) all.push(viewer(slowCookies[i % slowCookies.length], true));
	const res = await Promise.all(all);
	const views = res.slice(0, Number(nViewers)), slow = res.slice(Number(nViewers));
	const okv = views.filter((r) => r.ok);
	const rates = okv.map((r) => r.updates / Math.max(0.001, r.seconds)).sort((a, b) => a - b);
	const errors = [...new Set(res.filter((r) => !r.ok || r.error).map((r) => r.error))].slice(0, 3);
	console.log(JSON.stringify({
		viewers: views.length, connected: okv.length,
		updates: okv.reduce((a, r) => a + r.updates, 0), bytes: okv.reduce((a, r) => a + r.bytes, 0),
		ups_median: rates.length ? rates[rates.length >> 1] : 0, ups_min: rates.length ? rates[0] : 0,
		slow: slow.length, slow_connected: slow.filter((r) => r.ok).length, errors,
	}));
	process.exit(0);
})();
