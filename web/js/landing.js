// SPDX-License-Identifier: GPL-2.0-or-later
// The landing page: shows the sign-in form or who is signed in, and starts demo desktops.
//
// The JSON endpoints it talks to belong to the broker's auth area (docs/auth.md):
//   GET  /api/me      200 {"user":{"name":...,"role":...},"csrf":"..."} | 401 | 404 (no auth)
//   POST /api/login   {"username","password"} → 200 | 401 | 429
//   POST /api/logout  (X-CSRF-Token header) → 204/200
//   POST /api/demo    {"profile":"homelab"|"developer"|"media"|"ai-operations"} → 200/201
// When /api/me is missing (404) the server runs without sign-in and the page says so.
// Without JavaScript the forms still post to the same endpoints.

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
	return { status: res.status, data };
}

function message(el, text, isError) {
	el.textContent = text;
	el.classList.toggle('error', Boolean(isError));
}

function errorText(r, fallback) {
	return r.data?.error || r.data?.message || fallback;
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
		$('signed-in-name').textContent = r.data.user.name ?? r.data.user.email ?? '';
		csrf = r.data.csrf ?? null;
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
		const r = await api('POST', '/api/login', { username, password });
		if (r.status >= 200 && r.status < 300) {
			location.assign(nextUrl());
			return;
		}
		const text =
			r.status === 429
				? 'Too many attempts. Wait a few minutes and try again.'
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

$('demo-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const msg = $('demo-message');
	const profile = new FormData(e.target).get('profile');
	$('demo-start').disabled = true;
	message(msg, 'Preparing your demo desktop…');
	try {
		const r = await api('POST', '/api/demo', { profile });
		if (r.status >= 200 && r.status < 300) {
			location.assign(r.data?.desktop_url || '/desktop.html');
			return;
		}
		const text =
			r.status === 429
				? 'Too many demo desktops right now. Try again in a little while.'
				: r.status === 404
					? 'Demo desktops are not enabled on this server.'
					: errorText(r, 'The demo desktop could not be started.');
		message(msg, text, true);
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

refreshAuth();
