// SPDX-License-Identifier: GPL-2.0-or-later
// share.html: watches a desktop shared with a view-only link (docs/sharing.md). The token is
// the URL's fragment (#TOKEN, never sent in a request line or Referer by the browser); it goes
// to the broker as the websocket path /ws/share/TOKEN, checked there on every connect. The
// broker drops any input from this viewer; noVNC is view-only here as well. When the owner
// revokes the link or it expires, the broker closes the websocket and the page says so.
import RFB from '/vendor/novnc/core/rfb.js';
import { websocketUrl } from './connection.js';

const $ = (id) => document.getElementById(id);

function state(s, text) {
	document.body.dataset.state = s;
	$('share-status').textContent = text;
}

function start() {
	const token = location.hash.slice(1);
	if (!/^[0-9a-f]{64}$/.test(token)) {
		state('invalid', 'This share link is not valid: ask its owner for a new one.');
		return;
	}
	const ws = new WebSocket(websocketUrl(location, `/ws/share/${token}`));
	ws.binaryType = 'arraybuffer';
	let opened = false;
	ws.addEventListener('open', () => {
		opened = true;
	});
	const rfb = new RFB($('screen'), ws, { shared: true });
	rfb.viewOnly = true;
	rfb.scaleViewport = true;
	rfb.clipViewport = false;
	rfb.showDotCursor = false;
	rfb.background = '#000';
	rfb.addEventListener('connect', () => state('watching', 'Watching a shared desktop (view only).'));
	rfb.addEventListener('disconnect', () => {
		state('ended', opened
			? 'The share ended: the owner revoked the link, it expired, or the connection dropped.'
			: 'This link does not open (expired, revoked, or the desktop is not running).');
	});
	window.argoboxShare = { rfb };
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
