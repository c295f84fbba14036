// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page: one full-window noVNC view of the user's desktop.
//
// Start reading at connect(). The page opens the websocket itself (same origin,
// /websockify) and hands it to noVNC's RFB, so it can tell the stages apart:
//   connect    websocket opening             (the broker is reachable?)
//   boot       websocket open, no bytes yet  (the broker is starting the desktop)
//   handshake  RFB bytes flowing             (version, security, ServerInit)
//   frame      RFB connected, waiting for the first framebuffer update
// When a connection ends the page works out why (describeEnd), shows it, and reconnects
// with exponential backoff and a visible countdown, unless waiting cannot help.
//
// State for tests and debugging: <body data-state> is one of idle, connecting, booting,
// handshake, waiting-frame, connected, reconnecting, failed, disconnected; window.argobox
// exposes the RFB object and counters.

import RFB from '/vendor/novnc/core/rfb.js';
import { Backoff, describeEnd, websocketUrl } from './connection.js';
import { browserLayout, validLayoutName } from './keyboard.js';

const $ = (id) => document.getElementById(id);
const ui = {
	body: document.body,
	screen: $('screen'),
	title: $('status-title'),
	detail: $('status-detail'),
	steps: $('progress'),
	countdown: $('countdown'),
	reconnectNow: $('reconnect-now'),
	signIn: $('sign-in-link'),
	clipPanel: $('clipboard-panel'),
	clipText: $('clipboard-text'),
	clipButton: $('btn-clipboard'),
	fullscreenButton: $('btn-fullscreen'),
	keysToggle: $('btn-keep-keys'),
	keysMenu: $('menu-keep-keys'),
	toast: $('toast'),
};

const params = new URLSearchParams(location.search);
const backoff = new Backoff();

const app = {
	rfb: null,
	state: 'idle',
	history: [], // states in order (the first 200), for tests
	timing: null, // ms from connect() to each stage of the current connection
	connects: 0, // connections that reached the first frame
	attempts: 0, // websocket connections opened by the page
	remoteClipboard: '', // last text the desktop put on its clipboard
	sentClipboard: '', // last text we sent to the desktop
	progress: null, // how far the current connection got (see describeEnd)
	userDisconnect: false,
	retryTimer: null,
	tickTimer: null,
	retryAt: 0,
};
window.argobox = app;

// ---------- status overlay ----------

function setState(state) {
	if (app.history.length < 200) {
		app.history.push(state);
	}
	app.state = state;
	ui.body.dataset.state = state;
	setLeaveGuard(state === 'connected');
}

function showStep(active, failed = false) {
	const idx = ['connect', 'boot', 'handshake', 'frame'].indexOf(active);
	ui.steps.querySelectorAll('li').forEach((li, i) => {
		li.classList.toggle('done', i < idx);
		li.classList.toggle('active', i === idx && !failed);
		li.classList.toggle('failed', i === idx && failed);
	});
}

function setStatus(title, detail) {
	ui.title.textContent = title;
	ui.detail.textContent = detail;
}

let toastTimer = null;
function toast(text) {
	ui.toast.textContent = text;
	ui.toast.hidden = false;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => {
		ui.toast.hidden = true;
	}, 2500);
}

// ---------- connecting ----------

function clearRetry() {
	clearTimeout(app.retryTimer);
	clearInterval(app.tickTimer);
	app.retryTimer = app.tickTimer = null;
	ui.countdown.hidden = true;
	ui.reconnectNow.hidden = true;
}

function connect() {
	clearRetry();
	if (app.rfb) {
		return;
	}
	app.userDisconnect = false;
	app.attempts++;
	ui.signIn.hidden = true;
	const progress = (app.progress = {
		opened: false,
		gotData: false,
		rfbReady: false,
		framed: false,
		serverUp: null,
		signedOut: false,
		security: null,
	});

	const t0 = performance.now();
	const timing = (app.timing = {});
	const mark = (name) => {
		timing[name] = Math.round(performance.now() - t0);
	};
	setState('connecting');
	showStep('connect');
	setStatus(
		app.connects ? 'Reconnecting to your desktop' : 'Connecting to your desktop',
		`Opening a connection to ${location.host}…`
	);

	// No subprotocol: the broker speaks binary frames only (never base64).
	// ?watch=USER: an admin watches USER's desktop, read-only (/ws/desktop/USER, docs/admin.md)
	const watch = params.get('watch');
	const ws = new WebSocket(watch ? websocketUrl(location, `/ws/desktop/${encodeURIComponent(watch)}`) : websocketUrl(location));
	ws.binaryType = 'arraybuffer';
	// These listeners are added before noVNC's handlers, so they see each message first.
	ws.addEventListener('open', () => {
		progress.opened = true;
		mark('open');
		setState('booting');
		showStep('boot');
		setStatus('Starting your desktop', 'The server is starting your desktop. This usually takes a moment.');
		watchImage(ws, progress);
	});
	ws.addEventListener('message', () => {
		if (!progress.gotData) {
			progress.gotData = true;
			mark('data');
			setState('handshake');
			showStep('handshake');
			setStatus('Securing the session', 'Your desktop is up; agreeing on the connection details…');
		} else if (progress.rfbReady && !progress.framed) {
			// The first message after ServerInit is the first framebuffer update. noVNC
			// draws it while handling this message; two animation frames later it is
			// on screen.
			mark('frameData');
			requestAnimationFrame(() => requestAnimationFrame(() => {
				mark('frame');
				firstFrame(rfb, progress);
			}));
		}
	});

	let rfb;
	try {
		rfb = new RFB(ui.screen, ws, { shared: true });
	} catch (e) {
		setState('failed');
		setStatus('This browser cannot open the desktop', String(e));
		return;
	}
	app.rfb = rfb;
	acceptLayoutHint(rfb);
	rfb.resizeSession = true; // the remote desktop follows the window
	rfb.scaleViewport = false;
	rfb.clipViewport = false;
	rfb.focusOnClick = true;
	rfb.showDotCursor = false;
	rfb.background = '#000';
	rfb.qualityLevel = clampParam('quality', 6, 0, 9);
	rfb.compressionLevel = clampParam('compression', 2, 0, 9);
	rfb.viewOnly = params.get('view_only') === '1' || Boolean(watch);

	rfb.addEventListener('connect', () => {
		progress.rfbReady = true;
		mark('rfb');
		setState('waiting-frame');
		showStep('frame');
		setStatus('Drawing the first frame', 'Almost there…');
	});
	rfb.addEventListener('disconnect', (e) => onDisconnect(rfb, progress, e.detail.clean));
	rfb.addEventListener('securityfailure', (e) => {
		progress.security = e.detail.reason || `security failure (status ${e.detail.status})`;
	});
	rfb.addEventListener('credentialsrequired', () => {
		// ArgoBox authenticates at the broker, never with a VNC password.
		progress.security = 'it asked for a VNC password, which ArgoBox does not use';
		rfb.disconnect();
	});
	rfb.addEventListener('clipboard', (e) => onRemoteClipboard(e.detail.text));
	rfb.addEventListener('desktopname', (e) => {
		document.title = `${e.detail.name} · ArgoBox`;
	});
}

function clampParam(name, def, min, max) {
	const v = Number.parseInt(params.get(name) ?? '', 10);
	return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : def;
}

function firstFrame(rfb, progress) {
	if (app.rfb !== rfb || progress.framed) {
		return;
	}
	progress.framed = true;
	app.connects++;
	backoff.reset();
	setState('connected');
	showStep('frame');
	rfb.focus({ preventScroll: true });
	syncLocalClipboard();
}

async function onDisconnect(rfb, progress, clean) {
	if (app.rfb !== rfb) {
		return;
	}
	app.rfb = null;
	if (app.userDisconnect) {
		setState('disconnected');
		showStep('connect', true);
		setStatus('Disconnected', 'You disconnected from your desktop. It keeps running on the server.');
		ui.reconnectNow.textContent = 'Connect';
		ui.reconnectNow.hidden = false;
		return;
	}
	setState('reconnecting');
	// Find out why, so the message is useful: is the server there, do we need to sign in?
	if (!progress.framed) {
		progress.serverUp = await probe('/healthz').then((r) => r !== null);
	}
	const me = await probe('/api/me');
	progress.signedOut = me !== null && (me.status === 401 || me.status === 403);

	const end = describeEnd(progress, location.host);
	// Mark the step that failed; a connection that had worked just starts over.
	const stage = !progress.opened ? 'connect' : !progress.gotData ? 'boot' : !progress.rfbReady ? 'handshake' : 'frame';
	showStep(progress.framed ? null : stage, true);
	setStatus(end.title, end.detail);
	// The desktop did not boot: is its profile's image being built (docs/images.md)?
	if (!progress.framed && stage === 'boot' && !progress.signedOut) {
		const image = await imageState();
		if (image?.state === 'building') {
			showStep('boot');
			setStatus(imageTitle(image), imageDetail(image));
			scheduleReconnect(5000);
			return;
		}
		if (image?.state === 'failed') {
			setStatus('Your desktop image could not be built', `${image.error ?? 'The build failed.'} An administrator has the build log.`);
		}
	}
	if (end.kind === 'signed-out') {
		setState('failed');
		ui.signIn.hidden = false;
		return;
	}
	if (!end.retry) {
		setState('failed');
		ui.reconnectNow.textContent = 'Try again';
		ui.reconnectNow.hidden = false;
		return;
	}
	scheduleReconnect(backoff.next());
}

// While the websocket is open and the desktop has not answered, the broker may be holding the
// start for the profile's desktop image (its first build takes minutes, docs/images.md): ask
// /api/image every second and say how far the build is. The desktop appears by itself when
// the broker starts it on the new image; a failed build ends the connection (onDisconnect).
async function watchImage(ws, progress) {
	while (ws.readyState === WebSocket.OPEN && !progress.gotData) {
		const image = await imageState();
		if (ws.readyState !== WebSocket.OPEN || progress.gotData) {
			return;
		}
		if (image?.state === 'building') {
			setState('booting');
			setStatus(imageTitle(image), imageDetail(image));
		}
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
}

function imageTitle(image) {
	const profile = image.profile_title || image.profile || image.image;
	return `Preparing the desktop image for profile ${profile}`;
}

function imageDetail(image) {
	const s = Number(image.elapsed_s) || 0;
	const elapsed = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
	const others = image.waiting > 1 ? ` ${image.waiting - 1} other desktop(s) wait for it too.` : '';
	return (
		`Step ${image.step} of ${image.steps}: ${image.detail} · ${elapsed} elapsed. The first desktop ` +
		`of this profile needs its image (a few minutes); your desktop starts by itself when it is ready.${others}`
	);
}

// The caller's desktop image ({image, state, step, steps, detail, error}), or null.
async function imageState() {
	const r = await probe('/api/image');
	if (r?.status !== 200) {
		return null;
	}
	return r.json().catch(() => null);
}

// Resolves to the Response, or null if the request failed outright (network error).
async function probe(path) {
	const ctl = new AbortController();
	const t = setTimeout(() => ctl.abort(), 5000);
	try {
		return await fetch(path, { cache: 'no-store', credentials: 'same-origin', signal: ctl.signal });
	} catch {
		return null;
	} finally {
		clearTimeout(t);
	}
}

function scheduleReconnect(delay) {
	clearRetry();
	app.retryAt = Date.now() + delay;
	ui.reconnectNow.textContent = 'Reconnect now';
	ui.reconnectNow.hidden = false;
	ui.countdown.hidden = false;
	const tick = () => {
		const s = Math.max(0, Math.ceil((app.retryAt - Date.now()) / 1000));
		ui.countdown.textContent = `Retrying in ${s} s (attempt ${backoff.attempt + 1})`;
	};
	tick();
	app.tickTimer = setInterval(tick, 250);
	app.retryTimer = setTimeout(connect, delay);
}

function disconnect() {
	clearRetry();
	if (app.rfb) {
		app.userDisconnect = true;
		app.rfb.disconnect();
	}
}

// ---------- keyboard layout ----------
// The desktop types with its own XKB layout (it receives scancodes). The browser's layout is
// offered to the session, which hands it to the window manager; the wm takes it only while the
// user has none (first sign-in), and keeps it in the desktop state. noVNC 1.7 builds SetEncodings
// itself, so our pseudo-encoding is added there, and the session's acknowledgement (a
// pseudo-rectangle) gets a decoder that sends the layout (docs/web.md).
const KBD_HINT_ENCODING = 0x41424b01;
const KBD_HINT_MSG = 240;
const clientEncodings = RFB.messages.clientEncodings;
RFB.messages.clientEncodings = function (sock, encodings) {
	return clientEncodings.call(this, sock, [...encodings, KBD_HINT_ENCODING]);
};
app.keyboard = { layout: null, source: null, sent: false };

async function sendLayout(rfb) {
	const { layout, source } = await browserLayout();
	app.keyboard.layout = layout;
	app.keyboard.source = source;
	if (app.rfb !== rfb || !validLayoutName(layout) || rfb._rfbConnectionState !== 'connected') {
		return;
	}
	const sock = rfb._sock;
	sock.sQpush8(KBD_HINT_MSG);
	sock.sQpush8(0);
	sock.sQpush16(layout.length);
	sock.sQpushString(layout);
	sock.flush();
	app.keyboard.sent = true;
}

function acceptLayoutHint(rfb) {
	rfb._decoders[KBD_HINT_ENCODING] = {
		decodeRect() {
			sendLayout(rfb);
			return true;
		},
	};
}

// ---------- clipboard ----------
// Desktop → here: noVNC's "clipboard" event; written to the system clipboard when the
// browser lets us (focused page, clipboard-write), always shown in the panel.
// Here → desktop: the system clipboard is read when the desktop gains focus or on
// Ctrl/Cmd+V if the browser grants clipboard-read; the panel works everywhere.

function onRemoteClipboard(text) {
	app.remoteClipboard = text;
	app.sentClipboard = text; // don't echo it back
	if (document.activeElement !== ui.clipText) {
		ui.clipText.value = text;
	}
	if (navigator.clipboard?.writeText && document.hasFocus()) {
		navigator.clipboard.writeText(text).catch(() => {});
	}
}

// The clipboard-read permission, kept current so key handlers can decide synchronously.
let clipboardReadPermission = navigator.clipboard?.readText ? 'prompt' : 'denied';
async function clipboardReadState() {
	if (!navigator.clipboard?.readText) {
		return 'denied';
	}
	try {
		const st = await navigator.permissions.query({ name: 'clipboard-read' });
		clipboardReadPermission = st.state;
		st.onchange = () => {
			clipboardReadPermission = st.state;
		};
		return st.state;
	} catch {
		return 'prompt';
	}
}
clipboardReadState();

function sendClipboard(text) {
	if (!app.rfb || app.state !== 'connected' || text === app.sentClipboard) {
		return false;
	}
	app.sentClipboard = text;
	app.rfb.clipboardPasteFrom(text);
	return true;
}

// Reads the system clipboard without prompting (only when already granted).
async function syncLocalClipboard() {
	if ((await clipboardReadState()) !== 'granted') {
		return;
	}
	try {
		sendClipboard(await navigator.clipboard.readText());
	} catch {
		// Not focused, or the permission changed: the panel remains.
	}
}

// Ctrl/Cmd+V on the desktop: the V is held back while the browser clipboard is read and sent
// (the session holds X paste requests until the text has arrived). Every key pressed or released
// meanwhile is held too, and then the V and the held keys are replayed to noVNC in their order,
// so the desktop sees exactly what the user typed with the modifiers it had: Ctrl down (sent at
// once), V down, and only then Ctrl up, even when Ctrl was let go before the clipboard was read.
const PASTE_READ_TIMEOUT_MS = 5000;
const replayed = new WeakSet(); // our synthetic copies, which noVNC must get
const paste = (app.paste = { busy: false, held: [], count: 0, replayedKeys: 0 });

function replayKey(e) {
	const target = ui.screen.querySelector('canvas');
	if (!target) {
		return;
	}
	const copy = new KeyboardEvent(e.type, {
		key: e.key,
		code: e.code,
		location: e.location,
		repeat: e.repeat,
		ctrlKey: e.ctrlKey,
		shiftKey: e.shiftKey,
		altKey: e.altKey,
		metaKey: e.metaKey,
		bubbles: true,
		cancelable: true,
	});
	replayed.add(copy);
	paste.replayedKeys++;
	target.dispatchEvent(copy);
}

function readClipboardWithin(ms) {
	return Promise.race([
		navigator.clipboard.readText(),
		new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms)),
	]);
}

// With the extended clipboard, noVNC only announces the text (notify) and sends it when the
// session asks: the held keys wait for that (briefly), so the text is there before the V.
let provided = null;
const sendProvide = RFB.messages.extendedClipboardProvide;
RFB.messages.extendedClipboardProvide = function (...args) {
	sendProvide.apply(this, args);
	provided?.();
};
const PROVIDE_WAIT_MS = 1000;

async function pasteThenReplay() {
	try {
		const text = await readClipboardWithin(PASTE_READ_TIMEOUT_MS);
		const sent = new Promise((resolve) => {
			provided = resolve;
			setTimeout(resolve, PROVIDE_WAIT_MS);
		});
		const extended = app.rfb?._clipboardServerCapabilitiesActions?.[1 << 27];
		if (sendClipboard(text) && extended) {
			await sent;
		}
	} catch {
		toast('Clipboard access is blocked here; use the clipboard panel');
	}
	provided = null;
	const held = paste.held;
	paste.held = [];
	paste.busy = false;
	paste.count++;
	for (const e of held) {
		replayKey(e);
	}
}

function onPasteKey(e) {
	if (replayed.has(e)) {
		return; // ours: on to noVNC
	}
	if (paste.busy) {
		e.preventDefault();
		e.stopImmediatePropagation();
		paste.held.push(e);
		return;
	}
	if (e.type !== 'keydown' || e.code !== 'KeyV' || !(e.ctrlKey || e.metaKey) || e.altKey) {
		return;
	}
	if (!app.rfb || app.state !== 'connected' || !ui.screen.contains(document.activeElement)) {
		return;
	}
	// Decided synchronously: noVNC's own handler runs right after this one.
	if (!navigator.clipboard?.readText || clipboardReadPermission === 'denied') {
		return;
	}
	e.preventDefault();
	e.stopImmediatePropagation();
	paste.busy = true;
	paste.held = [e];
	pasteThenReplay();
}
window.addEventListener('keydown', onPasteKey, true);
window.addEventListener('keyup', onPasteKey, true);

window.addEventListener('focus', () => {
	syncLocalClipboard();
	focusDesktop();
});
ui.screen.addEventListener('pointerenter', syncLocalClipboard);

function toggleClipboardPanel(open = ui.clipPanel.hidden) {
	ui.clipPanel.hidden = !open;
	ui.clipButton.setAttribute('aria-pressed', String(open));
	if (open) {
		ui.clipText.value = app.remoteClipboard || ui.clipText.value;
		ui.clipText.focus();
	} else {
		focusDesktop();
	}
}

$('btn-clipboard').addEventListener('click', () => toggleClipboardPanel());
$('clipboard-close').addEventListener('click', () => toggleClipboardPanel(false));
$('clipboard-send').addEventListener('click', () => {
	const text = ui.clipText.value;
	app.sentClipboard = null; // an explicit send always goes through
	if (sendClipboard(text)) {
		toast('Sent to the desktop clipboard');
	} else {
		toast('Not connected');
	}
});
$('clipboard-copy').addEventListener('click', async () => {
	try {
		await navigator.clipboard.writeText(ui.clipText.value);
	} catch {
		ui.clipText.select();
		document.execCommand('copy');
	}
	toast('Copied to this computer');
});
ui.clipPanel.addEventListener('keydown', (e) => {
	if (e.key === 'Escape') {
		toggleClipboardPanel(false);
	}
});

// ---------- focus, fullscreen, buttons ----------

// Typing goes to the desktop whenever nothing else on the page wants the keyboard.
function focusDesktop() {
	const a = document.activeElement;
	if (a && a !== document.body && !ui.screen.contains(a) && a.closest('#clipboard-panel, #overlay, #desktop-menu, #end-dialog')) {
		return;
	}
	if (app.rfb && app.state === 'connected') {
		app.rfb.focus({ preventScroll: true });
	}
}

$('toolbar').addEventListener('click', (e) => {
	// After a toolbar click, give the keyboard back to the desktop (except for the panel).
	if (!e.target.closest('#btn-clipboard, #btn-menu')) {
		setTimeout(focusDesktop, 0);
	}
});

async function toggleFullscreen() {
	try {
		if (document.fullscreenElement) {
			await document.exitFullscreen();
		} else {
			await document.documentElement.requestFullscreen({ navigationUI: 'hide' });
		}
	} catch {
		toast('Full screen is not available here');
	}
}

// ---------- keeping keys in the desktop ----------
// Browsers keep Ctrl+W, Ctrl+T, Ctrl+N, Alt+Tab… for themselves in a normal window. The
// Keyboard Lock API hands them to the page, but only in full screen (or an installed app's
// window). "Keep keys in the desktop" (toolbar and menu, remembered) locks the keyboard in
// full screen and goes full screen when switched on; in a window, the leave-page guard below
// catches the accidental Ctrl+W.
const keyLock = (app.keyLock = {
	wanted: localStorage.getItem('argobox.keepKeys') === '1',
	locked: false,
	supported: Boolean(navigator.keyboard?.lock),
});

async function applyKeyLock() {
	const want = keyLock.wanted && Boolean(document.fullscreenElement) && keyLock.supported;
	if (want && !keyLock.locked) {
		try {
			await navigator.keyboard.lock();
			keyLock.locked = true;
		} catch {
			keyLock.locked = false;
		}
	} else if (!want && keyLock.locked) {
		navigator.keyboard?.unlock?.();
		keyLock.locked = false;
	}
	ui.body.dataset.keylock = keyLock.locked ? 'locked' : keyLock.wanted ? 'wanted' : 'off';
}

async function setKeepKeys(on) {
	keyLock.wanted = on;
	localStorage.setItem('argobox.keepKeys', on ? '1' : '0');
	ui.keysToggle.setAttribute('aria-pressed', String(on));
	ui.keysMenu.setAttribute('aria-checked', String(on));
	if (on && !document.fullscreenElement) {
		await toggleFullscreen(); // fullscreenchange applies the lock
	} else {
		await applyKeyLock();
	}
	if (on && !keyLock.supported) {
		toast('This browser cannot keep shortcuts from itself; use full screen');
	}
}

document.addEventListener('fullscreenchange', () => {
	const on = Boolean(document.fullscreenElement);
	ui.fullscreenButton.setAttribute('aria-pressed', String(on));
	applyKeyLock();
	focusDesktop();
});

ui.keysToggle.setAttribute('aria-pressed', String(keyLock.wanted));
ui.keysMenu.setAttribute('aria-checked', String(keyLock.wanted));
applyKeyLock();
ui.keysToggle.addEventListener('click', () => setKeepKeys(!keyLock.wanted));
$('menu-keep-keys').addEventListener('click', () => {
	closeMenu(false);
	setKeepKeys(!keyLock.wanted);
});

// ---------- leave-page guard ----------
// While a desktop is connected, closing or reloading the tab (Ctrl+W in a window) asks first.
// The desktop keeps running on the server either way; this only saves a lost view.
function leaveGuard(e) {
	e.preventDefault();
	e.returnValue = ''; // older Chromium needs it set
	return '';
}
function setLeaveGuard(on) {
	if (on === app.leaveGuard) {
		return;
	}
	app.leaveGuard = on;
	if (on) {
		window.addEventListener('beforeunload', leaveGuard);
	} else {
		window.removeEventListener('beforeunload', leaveGuard);
	}
}
app.leaveGuard = false;

$('btn-fullscreen').addEventListener('click', toggleFullscreen);
$('btn-keys').addEventListener('click', () => app.rfb?.sendCtrlAltDel());
$('btn-disconnect').addEventListener('click', () => (app.rfb ? disconnect() : connect()));
ui.reconnectNow.addEventListener('click', () => {
	backoff.reset();
	connect();
});

// Coming back online or to the tab is a good moment to retry right away.
window.addEventListener('online', () => {
	if (app.retryTimer) {
		connect();
	}
});
document.addEventListener('visibilitychange', () => {
	if (document.visibilityState === 'visible' && app.retryTimer && app.retryAt - Date.now() > 2000) {
		connect();
	}
});

// ---------- the desktop menu: who, full screen, clipboard, native VNC, end desktop, sign out ----------
// GET /api/me names the user (and gives the CSRF token for POST/DELETE); 404 means the server
// runs without sign-in (the desktop is "local" then, and there is nothing to sign out of).

const menu = {
	button: $('btn-menu'),
	panel: $('desktop-menu'),
	dialog: $('end-dialog'),
	user: null,
	role: null,
	csrf: null,
	auth: true,
};
app.menu = menu;

async function loadIdentity() {
	const r = await probe('/api/me');
	if (r?.status === 200) {
		const me = await r.json().catch(() => ({}));
		const u = me.user;
		menu.user = typeof u === 'string' ? u : (u?.name ?? null);
		menu.role = typeof u === 'string' ? me.role : (u?.role ?? me.role ?? null);
		menu.csrf = me.csrf_token ?? me.csrf ?? null;
	} else if (r?.status === 404) {
		menu.auth = false;
		menu.user = 'local';
		menu.role = 'no sign-in on this server';
	}
	$('menu-user').textContent = menu.user ?? 'Not signed in';
	$('menu-role').textContent = menu.role ?? '';
	$('menu-sign-out').hidden = !menu.auth;
	// the admin console: offered to admins only (the API refuses everyone else anyway)
	$('menu-admin').hidden = !(menu.role === 'admin' || !menu.auth);
	return menu.user;
}

function menuItems() {
	return [...menu.panel.querySelectorAll('[role="menuitem"], [role="menuitemcheckbox"]')].filter((el) => !el.hidden);
}

function openMenu(focusFirst = false) {
	menu.panel.hidden = false;
	menu.button.setAttribute('aria-expanded', 'true');
	if (!menu.user) {
		loadIdentity();
	}
	if (focusFirst) {
		menuItems()[0]?.focus();
	}
}

function closeMenu(refocus = true) {
	if (menu.panel.hidden) {
		return;
	}
	menu.panel.hidden = true;
	menu.button.setAttribute('aria-expanded', 'false');
	if (refocus) {
		menu.button.focus();
	}
}

menu.button.addEventListener('click', (e) => {
	// detail 0: activated from the keyboard, so the first item takes the focus
	menu.panel.hidden ? openMenu(e.detail === 0) : closeMenu();
});
menu.button.addEventListener('keydown', (e) => {
	if (e.key === 'ArrowDown') {
		e.preventDefault();
		openMenu(true);
	}
});
menu.panel.addEventListener('keydown', (e) => {
	const items = menuItems();
	const i = items.indexOf(document.activeElement);
	const move = { ArrowDown: 1, ArrowUp: -1 }[e.key];
	if (move) {
		e.preventDefault();
		items[(i + move + items.length) % items.length].focus();
	} else if (e.key === 'Home' || e.key === 'End') {
		e.preventDefault();
		items[e.key === 'Home' ? 0 : items.length - 1].focus();
	} else if (e.key === 'Escape') {
		e.preventDefault();
		closeMenu();
	} else if (e.key === 'Tab') {
		closeMenu(false);
	}
});
// a click anywhere else closes it
document.addEventListener('pointerdown', (e) => {
	if (!menu.panel.hidden && !menu.panel.contains(e.target) && !menu.button.contains(e.target)) {
		closeMenu(false);
	}
});

$('menu-fullscreen').addEventListener('click', () => {
	closeMenu(false);
	toggleFullscreen();
});
$('menu-clipboard').addEventListener('click', () => {
	closeMenu(false);
	toggleClipboardPanel(true);
});

// Leaves for the landing page, which shows `notice` (see landing.js).
function leave(notice) {
	clearRetry();
	setLeaveGuard(false); // leaving on purpose
	app.userDisconnect = true;
	app.rfb?.disconnect();
	location.assign(`/?notice=${encodeURIComponent(notice)}`);
}

async function apiCall(method, path) {
	const headers = { Accept: 'application/json' };
	if (menu.csrf) {
		headers['X-CSRF-Token'] = menu.csrf;
	}
	const r = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store' });
	let data = null;
	try {
		data = await r.json();
	} catch {
		// no body
	}
	return { status: r.status, data };
}

$('menu-end').addEventListener('click', async () => {
	closeMenu(false);
	$('end-error').textContent = '';
	$('end-confirm').disabled = false;
	if (!menu.user) {
		await loadIdentity();
	}
	menu.dialog.showModal();
});
$('end-cancel').addEventListener('click', () => menu.dialog.close());
menu.dialog.addEventListener('close', () => focusDesktop());
$('end-confirm').addEventListener('click', async () => {
	const err = $('end-error');
	if (!menu.user) {
		err.textContent = 'Sign in first.';
		return;
	}
	$('end-confirm').disabled = true;
	err.textContent = 'Ending your desktop…';
	try {
		const r = await apiCall('DELETE', `/api/desktops/${encodeURIComponent(menu.user)}`);
		if (r.status === 202 || r.status === 200 || r.status === 404) {
			// 404: it had already ended; either way it is gone
			app.ended = r.status;
			leave('desktop-ended');
			return;
		}
		err.textContent =
			r.status === 401 || r.status === 403
				? `Not allowed: ${r.data?.error ?? 'sign in again'}`
				: `The desktop could not be ended: ${r.data?.error ?? `HTTP ${r.status}`}`;
	} catch {
		err.textContent = "Can't reach the server. Check your connection.";
	}
	$('end-confirm').disabled = false;
});

$('menu-sign-out').addEventListener('click', async () => {
	closeMenu(false);
	try {
		if (!menu.csrf) {
			await loadIdentity();
		}
		const r = await apiCall('POST', '/api/logout');
		if (r.status !== 200) {
			toast(`Sign-out failed: ${r.data?.error ?? `HTTP ${r.status}`}`);
			return;
		}
	} catch {
		toast("Can't reach the server to sign out");
		return;
	}
	leave('signed-out');
});

loadIdentity();

app.connect = connect;
app.disconnect = disconnect;
app.toggleFullscreen = toggleFullscreen;
app.sendClipboard = (text) => {
	app.sentClipboard = null;
	return sendClipboard(text);
};

connect();
