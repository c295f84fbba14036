// SPDX-License-Identifier: GPL-2.0-or-later
// The native VNC access page: shows where the broker's VNC gateway listens, and lets the
// signed-in user create (shown once), replace and revoke their VNC access password
// (docs/vncgw.md):
//   GET    /api/me           {"user","role","csrf_token",...} | 401 | 404 (no sign-in)
//   GET    /api/vnc-password {"enabled","exists","expires"?,"created"?,"host"?,"port"?} | 401 | 403
//   POST   /api/vnc-password {"password","expires","host","port"} | 403 (demo) | 409 (disabled)
//   DELETE /api/vnc-password {"revoked": bool}

const $ = (id) => document.getElementById(id);
let csrf = null;
let address = '';

async function api(method, path) {
	const headers = { Accept: 'application/json' };
	if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
	const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store' });
	let data = null;
	try {
		data = await res.json();
	} catch {
		// no body
	}
	return { status: res.status, data };
}

function state(s, text) {
	document.body.dataset.state = s;
	$('vnc-status').textContent = text;
	$('vnc-ready').hidden = s !== 'ready';
}

function message(text, isError) {
	$('vnc-message').textContent = text;
	$('vnc-message').classList.toggle('error', Boolean(isError));
}

function when(iso) {
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function hostPort(host, port) {
	return `${host.includes(':') ? `[${host}]` : host}::${port}`;
}

async function copy(text, what) {
	try {
		await navigator.clipboard.writeText(text);
		message(`${what} copied.`);
	} catch {
		message(`Copy did not work here: select the ${what.toLowerCase()} and copy it by hand.`, true);
	}
}

function show(info, fresh = false) {
	if (!info.enabled) {
		state('disabled', 'The VNC gateway is turned off on this server (an administrator sets vnc_gateway.listen).');
		return;
	}
	address = hostPort(info.host, info.port);
	$('vnc-address').textContent = address;
	// while a new password is on the page it is shown; otherwise it never is again
	$('vnc-password-state').textContent = !info.exists ? 'none' : fresh ? 'set (shown below, only this once)' : 'set (not shown again)';
	$('vnc-expires').textContent = info.exists ? when(info.expires) : '—';
	$('vnc-revoke').disabled = !info.exists;
	$('vnc-create').textContent = info.exists ? 'Replace password' : 'Create password';
	state('ready', info.exists
		? 'You have a VNC password. Connect your VNC client to the server below.'
		: 'Create a password, then connect your VNC client to the server below.');
}

async function refresh(fresh = false) {
	const r = await api('GET', '/api/vnc-password');
	if (r.status === 401) {
		state('signed-out', 'Sign in first.');
		location.href = `/?next=${encodeURIComponent('/vnc-access.html')}`;
		return;
	}
	if (r.status === 403) {
		state('demo', 'Demo desktops cannot be opened from VNC clients: native VNC access is for members and admins.');
		return;
	}
	if (r.status !== 200 || !r.data) {
		state('error', r.data?.error || `The server answered ${r.status}.`);
		return;
	}
	show(r.data, fresh);
}

async function create() {
	message('');
	$('vnc-create').disabled = true;
	try {
		const r = await api('POST', '/api/vnc-password');
		if (r.status !== 200 || !r.data?.password) {
			message(r.data?.error || `Could not create a password (${r.status}).`, true);
			return;
		}
		$('vnc-password').textContent = r.data.password;
		$('vnc-new').hidden = false;
		await refresh(true);
		message('Password created. It is shown only now.');
	} finally {
		$('vnc-create').disabled = false;
	}
}

async function revoke() {
	message('');
	const r = await api('DELETE', '/api/vnc-password');
	if (r.status !== 200) {
		message(r.data?.error || `Could not revoke (${r.status}).`, true);
		return;
	}
	$('vnc-new').hidden = true;
	$('vnc-password').textContent = '';
	await refresh();
	message(r.data?.revoked ? 'Password revoked; VNC clients using it were disconnected.' : 'There was no password to revoke.');
}

async function main() {
	const me = await api('GET', '/api/me');
	if (me.status === 401) {
		location.href = `/?next=${encodeURIComponent('/vnc-access.html')}`;
		return;
	}
	if (me.status === 200 && me.data) {
		csrf = me.data.csrf_token ?? null;
		$('who').textContent = me.data.user;
		if (me.data.role === 'demo') {
			state('demo', 'Demo desktops cannot be opened from VNC clients: native VNC access is for members and admins.');
			return;
		}
	} else {
		$('who').textContent = 'local';
	}
	$('vnc-create').addEventListener('click', create);
	$('vnc-revoke').addEventListener('click', revoke);
	$('vnc-copy-password').addEventListener('click', () => copy($('vnc-password').textContent, 'Password'));
	$('vnc-copy-address').addEventListener('click', () => copy(address, 'Address'));
	await refresh();
}

main().catch((e) => state('error', `Something went wrong: ${e.message}`));
