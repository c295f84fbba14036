// SPDX-License-Identifier: GPL-2.0-or-later
// The landing page's live OS preview and its "Maximize" button (docs/web.md "Live preview").
//
// The preview is noVNC, view-only and scaled into its box, on GET /ws/preview: the broker's one
// showcase desktop, started for the first viewer and shared by everyone (broker/auth/showcase.c;
// the broker drops any input from that socket, this page sends none). The page holds the
// connection only while the preview is on screen and the tab visible, so nobody's idle tab
// keeps the showcase running.
//
// "Maximize" turns the preview into the visitor's own demo desktop of the profile picked in
// the demo form, without a page reload: POST /api/demo (the warm pool usually has one
// running), the preview box grows to the whole window, and the same element reconnects to
// /websockify as the new demo user, with input. "Open full page" goes on to /desktop.html
// (clipboard, keyboard options) with the same session.
//
// State for tests and debugging: <section id="preview" data-state> is one of idle,
// connecting, live, paused, unavailable, maximizing, desktop, failed; window.argoboxPreview
// has the RFB object and the Maximize timing (ms from the click to the demo sign-in answer
// and to the first frame of the visitor's own desktop).

import RFB from '/vendor/novnc/core/rfb.js';
import { websocketUrl } from './connection.js';

const $ = (id) => document.getElementById(id);
const box = $('preview');
const screen = $('preview-screen');
const status = $('preview-status');
const maxButton = $('preview-maximize');
const fullLink = $('preview-full-page');

const state = {
	rfb: null,
	mode: 'preview', // "preview" (view-only showcase) or "desktop" (the visitor's own)
	timing: null, // {demo, frame}: ms after the Maximize click
	frames: 0, // framebuffer updates received on the current connection
	retry: null,
	visible: true,
	user: null,
};
window.argoboxPreview = state;

function setState(s, text) {
	box.dataset.state = s;
	status.textContent = text || '';
	status.hidden = !text;
}

/* Opens a websocket to `path` and hands it to noVNC; counts the updates as they arrive. */
function open(path, { viewOnly, onFirstFrame }) {
	close();
	const ws = new WebSocket(websocketUrl(location, path));
	ws.binaryType = 'arraybuffer';
	let rfbReady = false;
	state.frames = 0;
	// Added before noVNC's handlers: after ServerInit every message starts with updates.
	ws.addEventListener('message', () => {
		if (!rfbReady) return;
		if (state.frames++ === 0 && onFirstFrame) {
			requestAnimationFrame(() => requestAnimationFrame(onFirstFrame));
		}
	});
	// each connection draws into a holder of its own, removed with it: a closing connection's
	// canvas never sits over the next one's
	const holder = document.createElement('div');
	holder.className = 'preview-rfb';
	screen.append(holder);
	const rfb = new RFB(holder, ws, { shared: true });
	rfb.holder = holder;
	rfb.viewOnly = viewOnly;
	rfb.scaleViewport = viewOnly; // the preview fits its box; the desktop is 1:1
	rfb.resizeSession = !viewOnly; // the visitor's desktop follows the window
	rfb.clipViewport = false;
	rfb.focusOnClick = !viewOnly;
	rfb.showDotCursor = false;
	rfb.background = '#10151c';
	rfb.qualityLevel = 6;
	rfb.compressionLevel = 2;
	rfb.addEventListener('connect', () => {
		rfbReady = true;
	});
	rfb.addEventListener('disconnect', () => {
		if (state.rfb !== rfb) return;
		state.rfb = null;
		holder.remove();
		onDropped();
	});
	state.rfb = rfb;
	return rfb;
}

function close() {
	const rfb = state.rfb;
	state.rfb = null;
	if (!rfb) return;
	rfb.disconnect();
	rfb.holder.remove();
}

function onDropped() {
	if (state.mode === 'desktop') {
		setState('failed', 'The connection to your demo desktop ended.');
		fullLink.hidden = false;
		return;
	}
	if (!wanted()) return setState('paused', 'Preview paused.');
	setState('unavailable', 'The live preview is not available right now.');
	clearTimeout(state.retry);
	state.retry = setTimeout(startPreview, 15000);
}

/* The preview is wanted while it is on screen and the tab is visible. */
function wanted() {
	return state.mode === 'preview' && state.visible && document.visibilityState === 'visible';
}

function startPreview() {
	clearTimeout(state.retry);
	if (!wanted() || state.rfb) return;
	setState('connecting', 'Connecting to the live preview…');
	open('/ws/preview', {
		viewOnly: true,
		onFirstFrame: () => setState('live', ''),
	});
}

function pausePreview() {
	if (state.mode !== 'preview') return;
	clearTimeout(state.retry);
	close();
	setState('paused', 'Preview paused.');
}

function updateWanted() {
	if (wanted()) startPreview();
	else pausePreview();
}

/* The demo profile picked in the demo form (its radio value, matched by landing.js). */
function pickedProfile() {
	const r = document.querySelector('#demo-form input[name="profile"]:checked');
	return { value: r?.value ?? 'homelab', title: r?.closest('label')?.querySelector('strong')?.textContent ?? 'Homelab' };
}

function labelMaximize() {
	maxButton.textContent = `Maximize: try ${pickedProfile().title}`;
}

async function maximize() {
	const t0 = performance.now();
	const ms = () => Math.round(performance.now() - t0);
	state.timing = {};
	maxButton.disabled = true;
	setState('maximizing', 'Starting your demo desktop…');
	let r;
	try {
		r = await startDemo(pickedProfile().value);
	} catch {
		r = { status: 0 };
	}
	state.timing.demo = ms();
	if (r.status !== 200) {
		maxButton.disabled = false;
		setState(state.rfb ? 'live' : 'unavailable', r.message || 'The demo desktop could not be started.');
		return;
	}
	state.user = r.data?.user ?? null;
	state.mode = 'desktop';
	clearTimeout(state.retry);
	document.body.classList.add('preview-maximized');
	box.classList.add('maximized');
	open('/websockify', {
		viewOnly: false,
		onFirstFrame: () => {
			state.timing.frame = ms();
			setState('desktop', '');
			console.info(`argobox: demo desktop ${state.user}: first frame ${state.timing.frame} ms after Maximize (sign-in ${state.timing.demo} ms)`);
			state.rfb?.focus();
		},
	});
	fullLink.hidden = false;
}

let startDemo = null;

/* deps.startDemo(radioValue) -> {status, data, message}: landing.js's demo sign-in. */
export function initPreview(deps) {
	if (!box || !screen) return;
	startDemo = deps.startDemo;
	labelMaximize();
	for (const r of document.querySelectorAll('#demo-form input[name="profile"]')) {
		r.addEventListener('change', labelMaximize);
	}
	maxButton.addEventListener('click', maximize);
	document.addEventListener('visibilitychange', updateWanted);
	if ('IntersectionObserver' in window) {
		new IntersectionObserver((entries) => {
			state.visible = entries.some((e) => e.isIntersecting);
			updateWanted();
		}).observe(box);
	}
	startPreview();
}
