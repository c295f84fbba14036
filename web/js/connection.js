// SPDX-License-Identifier: GPL-2.0-or-later
// Pure helpers for the desktop page: where the websocket is, how long to wait before the
// next reconnect, and what to tell the user when a connection ends. No DOM here, so
// these run under node's test runner as well as in the browser.

// The broker serves the desktop websocket on the page's own origin at /websockify,
// over wss: when the page came over https:.
export function websocketUrl(loc, path = '/websockify') {
	const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
	return `${scheme}//${loc.host}${path}`;
}

// Exponential backoff with jitter: 1 s, 2 s, 4 s, ... capped at 30 s. reset() after a
// connection that reached the first frame so a later drop starts again at 1 s.
export class Backoff {
	constructor({ base = 1000, factor = 2, max = 30000, jitter = 0.2, random = Math.random } = {}) {
		this.base = base;
		this.factor = factor;
		this.max = max;
		this.jitter = jitter;
		this.random = random;
		this.attempt = 0;
	}

	// Milliseconds to wait before the next attempt; advances the attempt counter.
	next() {
		const raw = Math.min(this.max, this.base * this.factor ** this.attempt);
		this.attempt++;
		const spread = raw * this.jitter * (this.random() * 2 - 1);
		return Math.max(0, Math.round(Math.min(this.max, raw + spread)));
	}

	reset() {
		this.attempt = 0;
	}
}

// Connection stages in the order the page shows them.
export const STAGES = ['connect', 'boot', 'handshake', 'frame'];

// How far a connection got before it ended, as observed by the page:
//   opened    the websocket handshake completed
//   gotData   the desktop sent its first bytes (RFB version), i.e. it had booted
//   rfbReady  noVNC finished the RFB handshake ("connect" event)
//   framed    the first framebuffer update was drawn
// plus what the page learned afterwards:
//   serverUp  GET /healthz answered (null if not checked)
//   signedOut GET /api/me answered 401 (sign-in needed)
//   security  noVNC reported a security failure (its reason, or null)
// Returns {kind, title, detail, retry}: retry false means waiting won't help.
export function describeEnd(p, host) {
	if (p.signedOut) {
		return {
			kind: 'signed-out',
			title: 'Please sign in',
			detail: 'Your session has ended or you are not signed in yet. Sign in to open your desktop.',
			retry: false,
		};
	}
	if (p.security) {
		return {
			kind: 'denied',
			title: 'The desktop refused the connection',
			detail: `The desktop rejected this client: ${p.security}.`,
			retry: false,
		};
	}
	if (p.framed) {
		return {
			kind: 'lost',
			title: 'Connection lost',
			detail: 'The connection to your desktop dropped. Your programs keep running; reconnecting…',
			retry: true,
		};
	}
	if (!p.opened) {
		if (p.serverUp === false) {
			return {
				kind: 'unreachable',
				title: "Can't reach ArgoBox",
				detail: `The server at ${host} isn't answering. Check your network connection; the page keeps trying.`,
				retry: true,
			};
		}
		return {
			kind: 'refused',
			title: 'The desktop connection was refused',
			detail: 'The server is up but did not accept the desktop connection. You may need to sign in again.',
			retry: true,
		};
	}
	if (!p.gotData) {
		return {
			kind: 'boot-failed',
			title: "Your desktop didn't start",
			detail: 'The server accepted the connection, but the desktop did not come up. Trying again…',
			retry: true,
		};
	}
	return {
		kind: 'handshake-failed',
		title: 'The desktop stopped answering',
		detail: 'The desktop started but the connection ended before the first picture arrived. Trying again…',
		retry: true,
	};
}
