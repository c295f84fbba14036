// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests for web/js/connection.js (websocket URL, backoff, end-of-connection messages).

import assert from 'node:assert/strict';
import test from 'node:test';
import { Backoff, describeEnd, websocketUrl } from '../../web/js/connection.js';

test('websocket URL follows the page protocol and host', () => {
	assert.equal(websocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/websockify');
	assert.equal(websocketUrl({ protocol: 'https:', host: 'box.example' }), 'wss://box.example/websockify');
});

test('backoff doubles up to the cap and resets', () => {
	const b = new Backoff({ random: () => 0.5 }); // no jitter
	assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000]);
	for (let i = 0; i < 10; i++) {
		b.next();
	}
	assert.equal(b.next(), 30000);
	b.reset();
	assert.equal(b.next(), 1000);
});

test('backoff jitter stays within 20% and under the cap', () => {
	const lo = new Backoff({ random: () => 0 });
	const hi = new Backoff({ random: () => 0.999999 });
	assert.equal(lo.next(), 800);
	assert.equal(hi.next(), 1200);
	for (let i = 0; i < 20; i++) {
		assert.ok(hi.next() <= 30000);
	}
});

test('end of connection: each stage gets its own message', () => {
	const base = { opened: false, gotData: false, rfbReady: false, framed: false, serverUp: null, signedOut: false, security: null };
	const kind = (p) => describeEnd({ ...base, ...p }, 'h').kind;
	assert.equal(kind({ serverUp: false }), 'unreachable');
	assert.equal(kind({ serverUp: true }), 'refused');
	assert.equal(kind({ opened: true }), 'boot-failed');
	assert.equal(kind({ opened: true, gotData: true }), 'handshake-failed');
	assert.equal(kind({ opened: true, gotData: true, rfbReady: true, framed: true }), 'lost');
	assert.equal(kind({ signedOut: true, framed: true }), 'signed-out');
	assert.equal(describeEnd({ ...base, signedOut: true }, 'h').retry, false);
	assert.equal(describeEnd({ ...base, opened: true, gotData: true, security: 'bad' }, 'h').retry, false);
	assert.match(describeEnd({ ...base, serverUp: false }, 'box:1').detail, /box:1/);
});
