// SPDX-License-Identifier: GPL-2.0-or-later
// The landing page: shows the sign-in form or who is signed in, and starts demo desktops.
//
// The JSON endpoints it talks to belong to the broker's auth area (docs/auth.md):
//   GET  /api/me      200 {"user","role","via","csrf_token","expires_in_s",...} | 401 | 404 (no auth)
//   POST /api/login   {"user","password"} → 200 {"user","role","csrf_token"} | 401 | 429 (Retry-After)
//   POST /api/logout  (X-CSRF-Token header) → 200
//   GET  /api/demo/profiles → {"enabled","profiles":[{"name","title","ttl_minutes"}]}
//   POST /api/demo    {"profile":"demo-homelab"...} → 200 | 400 | 403 | 429 | 503
// The radio values (homelab, developer, media, ai-operations) are matched to the server's
// demo profiles by name ("demo-homelab") or title ("AI Operations").
// When /api/me is missing (404) the server runs without sign-in and the page says so.
// Without JavaScript the forms still post to the same endpoints. The live preview and its
// Maximize button are landing-preview.js.

import { initPreview } from './landing-preview.js';

const $ = (id) => document.getElementById(id);
let csrf = null;

function nextUrl() {
	// Only same-site paths: never send a signed-in user to another origin.
	const next = new URLSearchParams(location.search).get('next');
	return next && /^\/(?!\/)[\w\-./?=&%#]*$/.test(next) ? next : '/desktop.html';
}

async function api(method, path, body) {
	const headers = { Accept: 'application/json' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
	}
	if (csrf && method !== 'GET') {
		headers['X-CSRF-Token'] = csrf;
	}
	const res = await fetch(path, {
		method,
		headers,
		credentials: 'same-origin',
		cache: 'no-store',
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	let data = null;
	try {
		data = await res.json();
	} catch {
		// Not every answer has a body.
	}
	return { status: res.status, data, retryAfter: Number(res.headers.get('Retry-After')) || 0 };
}

function message(el, text, isError) {
	el.textContent = text;
	el.classList.toggle('error', Boolean(isError));
}

function errorText(r, fallback) {
	return r.data?.error || r.data?.message || fallback;
}

function waitText(s) {
	if (!s) return 'a few minutes';
	return s < 90 ? `${s} s` : `${Math.ceil(s / 60)} minutes`;
}

let demoProfiles = null;
/* The server's profile name for a radio value. */
async function demoProfile(value) {
	if (!demoProfiles) {
		try {
			const r = await api('GET', '/api/demo/profiles');
			demoProfiles = r.status === 200 ? r.data?.profiles ?? [] : [];
		} catch {
			demoProfiles = [];
		}
	}
	const slug = (t) => String(t).toLowerCase().replace(/[^a-z0-9]+/g, '-');
	const p = demoProfiles.find(
		(q) => q.name === value || q.name === `demo-${value}` || slug(q.title) === value,
	);
	return p ? p.name : value;
}

async function refreshAuth() {
	let r;
	try {
		r = await api('GET', '/api/me');
	} catch {
		document.body.dataset.auth = 'signed-out';
		return;
	}
	if (r.status === 200 && r.data?.user) {
		document.body.dataset.auth = 'signed-in';
		const u = r.data.user;
		const name = typeof u === 'string' ? u : (u.name ?? u.email ?? '');
		const role = typeof u === 'string' ? r.data.role : u.role;
		$('signed-in-name').textContent = role ? `${name} (${role})` : name;
		csrf = r.data.csrf_token ?? r.data.csrf ?? null;
	} else if (r.status === 404) {
		document.body.dataset.auth = 'none';
	} else {
		document.body.dataset.auth = 'signed-out';
	}
}

$('login-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const msg = $('login-message');
	const username = $('login-username').value.trim();
	const password = $('login-password').value;
	if (!username || !password) {
		message(msg, 'Enter your username and password.', true);
		return;
	}
	$('login-submit').disabled = true;
	message(msg, 'Signing in…');
	try {
		const r = await api('POST', '/api/login', { user: username, password });
		if (r.status >= 200 && r.status < 300) {
			location.assign(nextUrl());
			return;
		}
		const text =
			r.status === 429
				? `Too many attempts. Try again in ${waitText(r.retryAfter)}.`
				: r.status === 404
					? 'Sign-in is not enabled on this server.'
					: errorText(r, 'Wrong username or password.');
		message(msg, text, true);
		$('login-password').value = '';
		$('login-password').focus();
	} catch {
		message(msg, "Can't reach the server. Check your connection.", true);
	} finally {
		$('login-submit').disabled = false;
	}
});

/*
 * Starts a demo of the radio value's profile: {status, data} of POST /api/demo, and on a
 * refusal `message` (what to tell the visitor). The CSRF token of the new session is kept.
 */
async function startDemo(profile) {
	const r = await api('POST', '/api/demo', { profile: await demoProfile(profile) });
	if (r.status >= 200 && r.status < 300) {
		csrf = r.data?.csrf_token ?? csrf;
		return r;
	}
	r.message =
		r.status === 429
			? `You started several demos recently. Try again in ${waitText(r.retryAfter)}.`
			: r.status === 503
				? 'All demo desktops are in use right now. Try again in a little while.'
				: r.status === 404 || r.status === 403
					? 'Demo desktops are not enabled on this server.'
					: errorText(r, 'The demo desktop could not be started.');
	return r;
}

$('demo-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const msg = $('demo-message');
	const profile = new FormData(e.target).get('profile');
	$('demo-start').disabled = true;
	message(msg, 'Preparing your demo desktop…');
	try {
		const r = await startDemo(profile);
		if (r.status >= 200 && r.status < 300) {
			location.assign(r.data?.desktop_url || '/desktop.html');
			return;
		}
		message(msg, r.message, true);
	} catch {
		message(msg, "Can't reach the server. Check your connection.", true);
	} finally {
		$('demo-start').disabled = false;
	}
});

$('sign-out').addEventListener('click', async () => {
	try {
		await api('POST', '/api/logout');
	} finally {
		await refreshAuth();
	}
});

// ?notice=... from the desktop page's menu: say what just happened.
const NOTICES = {
	'desktop-ended': 'Your desktop has ended. Your files and layout are kept; open the desktop to start it again.',
	'signed-out': 'You are signed out. Your desktop keeps running until it is ended.',
};
const notice = NOTICES[new URLSearchParams(location.search).get('notice')];
if (notice) {
	const p = document.createElement('p');
	p.id = 'notice';
	p.className = 'notice';
	p.setAttribute('role', 'status');
	p.textContent = notice;
	document.querySelector('main')?.prepend(p);
}

refreshAuth();
initPreview({ startDemo });
