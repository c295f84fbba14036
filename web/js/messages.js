// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page's Messages and Share panels (docs/messages.md, docs/sharing.md).
//   Messages: the inbox (GET /api/messages, newest first) and a form to write to another user
//   (POST /api/messages). Text is put in the page with textContent only: a message is never
//   markup. While the panel is closed the inbox is polled every 15 s for the unread badge; a new
//   message while the tab is hidden raises a browser notification when the user allowed them
//   (the panel's "Browser notifications" button asks; the desktop's own centre shows it anyway).
//   Share: creates a view-only link (POST /api/share, shown once), lists the live ones with
//   who watches, revokes (DELETE /api/share/<id>).
import { token } from './uploads.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 15000;

async function api(method, path, body) {
	const headers = { 'X-CSRF-Token': await token() };
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	const r = await fetch(path, {
		method,
		credentials: 'same-origin',
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	let json = null;
	try {
		json = await r.json();
	} catch {
		/* no body */
	}
	return { status: r.status, json, retryAfter: r.headers.get('Retry-After') };
}

function fmtTime(unix) {
	return new Date(unix * 1000).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

// ---- messages ----

let seen = localStorage.getItem('argobox.messages.seen') || '';
let newest = '';
let notified = seen; // the newest message a browser notification was raised for

// A browser notification for message m: only while the tab is hidden, only when allowed.
function mirror(m) {
	if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
	const n = new Notification(`Message from ${m.from}`, { body: m.text, tag: `argobox-message-${m.id}` });
	n.onclick = () => {
		window.focus();
		if ($('messages-panel').hidden) $('btn-messages').click();
	};
}

function renderInbox(list) {
	const ul = $('messages-list');
	ul.replaceChildren();
	if (!list.length) {
		const li = document.createElement('li');
		li.textContent = 'No messages yet.';
		ul.append(li);
	}
	for (const m of list) {
		const li = document.createElement('li');
		li.dataset.id = m.id;
		const from = document.createElement('span');
		from.className = 'from';
		from.textContent = m.from;
		const when = document.createElement('time');
		when.dateTime = new Date(m.time * 1000).toISOString();
		when.textContent = fmtTime(m.time);
		const text = document.createElement('div');
		text.className = 'text';
		text.textContent = m.text;
		li.append(from, when, text);
		ul.append(li);
	}
}

async function refreshInbox() {
	const r = await api('GET', '/api/messages?limit=50');
	if (r.status !== 200) return;
	const list = r.json.messages;
	newest = list.length ? list[0].id : '';
	// ids sort by time: what is newer than the last one raised goes to the browser (if hidden)
	for (const m of list.filter((x) => x.id > notified).slice(0, 3)) mirror(m);
	if (newest > notified) notified = newest;
	if (!$('messages-panel').hidden) {
		renderInbox(list);
		seen = newest;
		localStorage.setItem('argobox.messages.seen', seen);
	}
	// everything newer than the last one seen is unread
	const unread = list.filter((m) => m.id > seen).length;
	const badge = $('messages-unread');
	badge.hidden = unread === 0;
	badge.textContent = unread > 9 ? '9+' : String(unread);
}

async function send(e) {
	e.preventDefault();
	const status = $('messages-status');
	const to = $('messages-to').value.trim();
	const text = $('messages-text').value;
	status.className = 'form-message';
	status.textContent = 'Sending…';
	const r = await api('POST', '/api/messages', { to, text });
	if (r.status === 201) {
		status.textContent = r.json.delivered ? `Delivered to ${to}.` : `Sent; ${to} gets it at their next sign-in.`;
		$('messages-text').value = '';
		return;
	}
	status.className = 'form-message error';
	if (r.status === 429) status.textContent = `Too many messages: try again in ${r.retryAfter || 'a few'} s.`;
	else status.textContent = r.json?.error || `Not sent (HTTP ${r.status}).`;
}

// ---- share links ----

function renderLinks(links) {
	const ul = $('share-list');
	ul.replaceChildren();
	for (const l of links) {
		const li = document.createElement('li');
		li.dataset.id = l.id;
		const who = l.viewers.map((v) => (v.user || 'anonymous') + ' (' + v.peer + ')');
		const meta = document.createElement('span');
		meta.className = 'meta';
		meta.textContent = `until ${fmtTime(l.expires)} · ${l.watching} watching` + (who.length ? ` · opened by ${who.join(', ')}` : '');
		const label = document.createElement('span');
		label.textContent = `Link ${l.id}`;
		const revoke = document.createElement('button');
		revoke.type = 'button';
		revoke.className = 'button danger';
		revoke.textContent = 'Revoke';
		revoke.onclick = async () => {
			const r = await api('DELETE', `/api/share/${encodeURIComponent(l.id)}`);
			$('share-status').textContent = r.status === 200 ? 'Revoked: its viewers were cut off.' : r.json?.error || `HTTP ${r.status}`;
			refreshLinks();
		};
		li.append(label, meta, document.createTextNode(' '), revoke);
		ul.append(li);
	}
}

async function refreshLinks() {
	const r = await api('GET', '/api/share');
	if (r.status === 200) renderLinks(r.json.links);
	else $('share-status').textContent = r.json?.error || `Sharing is not available (HTTP ${r.status}).`;
}

async function createLink() {
	const r = await api('POST', '/api/share', { expires_in_s: Number($('share-ttl').value) });
	const status = $('share-status');
	if (r.status !== 201) {
		status.textContent = r.json?.error || `HTTP ${r.status}`;
		return;
	}
	$('share-url').value = new URL(r.json.url, location.href).href;
	$('share-new').hidden = false;
	status.textContent = 'Copy the link now: it is shown only once.';
	refreshLinks();
}

// ---- wiring ----

function panel(id, button, onOpen) {
	const p = $(id);
	const toggle = () => {
		p.hidden = !p.hidden;
		$(button).setAttribute('aria-pressed', String(!p.hidden));
		if (!p.hidden) onOpen();
	};
	$(button).onclick = toggle;
	return toggle;
}

function setup() {
	if (!$('messages-panel')) return;
	const toggleMessages = panel('messages-panel', 'btn-messages', () => {
		refreshInbox();
		$('messages-to').focus();
	});
	$('messages-close').onclick = toggleMessages;
	const allow = $('messages-notify');
	if (typeof Notification === 'undefined' || Notification.permission !== 'default') allow.hidden = true;
	allow.onclick = async () => {
		await Notification.requestPermission();
		allow.hidden = Notification.permission !== 'default';
	};
	$('messages-form').onsubmit = send;
	const toggleShare = panel('share-panel', 'btn-share', () => {
		$('share-new').hidden = true;
		$('share-status').textContent = '';
		refreshLinks();
	});
	$('share-close').onclick = toggleShare;
	$('share-create').onclick = createLink;
	$('share-copy').onclick = () => navigator.clipboard?.writeText($('share-url').value);
	// a demo desktop is not shared (the broker refuses it): no button for it
	fetch('/api/me', { credentials: 'same-origin' })
		.then((r) => (r.ok ? r.json() : null))
		.then((me) => {
			if (me?.role === 'demo') $('btn-share').hidden = true;
		})
		.catch(() => {});
	refreshInbox();
	setInterval(() => {
		refreshInbox();
		if (!$('share-panel').hidden) refreshLinks();
	}, POLL_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
else setup();
window.argoboxMessages = { refreshInbox };
