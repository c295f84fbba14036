// SPDX-License-Identifier: GPL-2.0-or-later
// The admin console (/admin.html, docs/admin.md). Nothing but GET /api/me is asked for unless
// the signed-in user is an admin; every other request is under /api/admin/ (admins only, the
// broker refuses the rest with 403) or the existing state and services routes.
//   GET  /api/me                                  who, role, csrf_token
//   GET  /api/admin/events                        server-sent "desktops" snapshots (live)
//   POST /api/admin/desktops/{stop,restart,destroy} {"users":[...]} -> per-user results
//   GET  /api/admin/users, POST /api/admin/users[/<name>/<action>]
//   GET|DELETE /api/desktops/<user>/state         the saved layout, reset
//   POST /api/admin/broadcast                     a notification on desktops
//   GET  /api/admin/audit[?...], /api/admin/audit/tail, /api/admin/audit/report
//   GET  /api/services, POST /api/services/<name>/restart, POST /api/admin/services/reload

// bench/admin_bench.mjs reads these marks: the critical path of a load, step by step
performance.mark('admin:script');
const $ = (id) => document.getElementById(id);
let csrf = null;

export async function api(method, path, body) {
	const headers = { Accept: 'application/json' };
	if (method !== 'GET') headers['X-CSRF-Token'] = csrf ?? '';
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	const res = await fetch(path, {
		method, headers, credentials: 'same-origin', cache: 'no-store',
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	let data = null;
	try {
		data = await res.json();
	} catch {
		// no JSON body
	}
	return { status: res.status, data };
}

function say(id, text, isError = false) {
	$(id).textContent = text;
	$(id).classList.toggle('error', Boolean(isError));
}

function el(tag, attrs = {}, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k === 'text') e.textContent = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v);
	}
	for (const k of kids) e.append(k);
	return e;
}

function confirmDialog(title, text, okLabel) {
	const d = $('confirm-dialog');
	$('confirm-title').textContent = title;
	$('confirm-text').textContent = text;
	$('confirm-ok').textContent = okLabel;
	d.returnValue = '';
	d.showModal();
	return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}

// ---- formatting ----

export function fmtDuration(ms) {
	if (ms === null || ms === undefined) return '—';
	const s = Math.floor(ms / 1000);
	if (s < 60) return `${s} s`;
	if (s < 3600) return `${Math.floor(s / 60)} min`;
	if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
	return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function fmtBytes(n) {
	if (n === null || n === undefined) return '—';
	if (n < 1 << 20) return `${Math.round(n / 1024)} KiB`;
	if (n < 1 << 30) return `${Math.round(n / (1 << 20))} MiB`;
	return `${(n / (1 << 30)).toFixed(1)} GiB`;
}

// The figures a row shows, and the values its columns sort by.
export function rowView(d, now = Date.now()) {
	const u = d.usage ?? {}, l = d.limits ?? {};
	const cpuOfLimit = u.cpu_percent != null && l.cpu_millis ? (u.cpu_percent * 10) / l.cpu_millis * 100 : null;
	const memOfLimit = u.memory_bytes != null && l.memory_mb ? (u.memory_bytes / (l.memory_mb * 1048576)) * 100 : null;
	return {
		user: d.user,
		profile: d.profile ?? '—',
		state: d.state,
		uptime: fmtDuration(now - d.started * 1000),
		cpu: u.cpu_percent == null ? '—' : `${u.cpu_percent} %${cpuOfLimit == null ? '' : ` (${cpuOfLimit.toFixed(0)} % of limit)`}`,
		memory: u.memory_bytes == null ? '—' : `${fmtBytes(u.memory_bytes)}${l.memory_mb ? ` / ${l.memory_mb} MiB` : ''}`,
		pids: u.pids == null ? '—' : `${u.pids}${l.pids ? ` / ${l.pids}` : ''}`,
		clients: `${d.browser_clients} web, ${d.vnc_clients} VNC`,
		input: d.last_input == null ? 'none' : `${fmtDuration(now - d.last_input * 1000)} ago`,
		network: d.network ?? '—',
		warn: (cpuOfLimit ?? 0) >= 90 || (memOfLimit ?? 0) >= 90,
		sort: {
			user: d.user, profile: d.profile ?? '', state: d.state, uptime_ms: -d.started,
			cpu: u.cpu_percent ?? -1, memory: u.memory_bytes ?? -1, pids: u.pids ?? -1,
			clients: d.browser_clients + d.vnc_clients,
			input: d.last_input == null ? Number.MAX_SAFE_INTEGER : -d.last_input, network: d.network ?? '',
		},
	};
}

// ---- desktops dashboard ----
// Cost (bench/admin_bench.sh): the first snapshot is drawn as soon as it arrives, rows cloned
// from one template; afterwards a snapshot only marks the table dirty and the next animation
// frame draws it (none while the tab is hidden), writing just the cells whose text changed.
// Each row is a layout and paint boundary (admin.css), so a changed cell costs its row only,
// and rows off screen cost nothing. No timer runs while nothing on screen can change.

const COLS = ['profile', 'state', 'uptime', 'cpu', 'memory', 'pids', 'clients', 'input', 'network'];
const desk = {
	list: [],
	rows: new Map(), // user -> {tr, cells, check, thumb, view}
	selected: new Set(),
	sortKey: 'user',
	sortDir: 1,
	source: null,
	names: '',
	updates: 0,
	frame: 0, // a requestAnimationFrame pending
	clock: 0, // the timer that redraws uptimes and last inputs
};
window.abAdminDesk = desk;

const rowTemplate = document.createElement('template');
rowTemplate.innerHTML = `<tr role="row"><td role="cell"><input type="checkbox"></td><td role="cell" class="user"></td><td role="cell" class="col-thumb"><img class="thumb" alt="" width="96" height="60"></td>${
	COLS.map((c) => `<td role="cell" class="col-${c}"></td>`).join('')
}<td role="cell"><a class="button small" target="_blank" rel="noopener">Watch</a></td></tr>`;

function deskRow(user) {
	const tr = rowTemplate.content.firstElementChild.cloneNode(true);
	tr.dataset.user = user;
	const [checkTd, userTd, thumbTd, ...rest] = tr.children;
	const check = checkTd.firstElementChild;
	check.setAttribute('aria-label', `Select ${user}`);
	userTd.textContent = user;
	const thumb = thumbTd.firstElementChild;
	thumb.title = `${user}'s screen`;
	const cells = {};
	COLS.forEach((c, i) => (cells[c] = rest[i]));
	const watch = rest[COLS.length].firstElementChild;
	watch.href = `/desktop.html?watch=${encodeURIComponent(user)}`;
	watch.title = `Open ${user}'s desktop read-only`;
	if (thumbs.on) thumbs.seen.observe(tr);
	return { tr, cells, check, thumb, view: {} };
}

// ---- thumbnails: GET /api/admin/desktops/<user>/thumbnail (a few KB of JPEG from the
// session's framebuffer), every 3 s, only for rows on screen while the page is visible and the
// box is ticked; at most 2 requests at a time so that they never hold up the console's own.
// No timer and no observer while the box is not ticked.
const thumbs = {
	on: true,
	visible: new Set(),
	queue: [],
	inflight: 0,
	n: 0,
	timer: 0,
	seen: new IntersectionObserver((entries) => {
		for (const e of entries) {
			if (e.isIntersecting) thumbs.visible.add(e.target.dataset.user);
			else thumbs.visible.delete(e.target.dataset.user);
		}
	}),
};

function thumbDone(img, ok) {
	img.classList.toggle('none', !ok);
	if (img.dataset.loading) {
		delete img.dataset.loading;
		thumbs.inflight--;
	}
	thumbNext();
}

function thumbNext() {
	while (thumbs.inflight < 2 && thumbs.queue.length) {
		const user = thumbs.queue.shift();
		const r = desk.rows.get(user);
		if (!r || !r.tr.isConnected || r.thumb.dataset.loading) continue;
		r.thumb.dataset.loading = '1';
		thumbs.inflight++;
		r.thumb.src = `/api/admin/desktops/${encodeURIComponent(user)}/thumbnail?width=192&n=${++thumbs.n}`;
	}
}

function thumbTick() {
	if (!thumbs.on || document.hidden) return;
	for (const user of thumbs.visible) if (!thumbs.queue.includes(user)) thumbs.queue.push(user);
	thumbNext();
}

function thumbsSet(on) {
	thumbs.on = on;
	$('desk-table').classList.toggle('thumbs-on', on);
	clearInterval(thumbs.timer);
	thumbs.timer = 0;
	thumbs.seen.disconnect();
	thumbs.visible.clear();
	if (!on) return;
	for (const r of desk.rows.values()) thumbs.seen.observe(r.tr);
	thumbs.timer = setInterval(thumbTick, 3000);
	setTimeout(thumbTick, 300);
}

function deskMatches(d) {
	const q = $('desk-search').value.trim().toLowerCase();
	const p = $('desk-profile').value, s = $('desk-state').value;
	return (!q || d.user.includes(q)) && (!p || d.profile === p) && (!s || d.state === s);
}

function fillSelect(id, values) {
	const sel = $(id);
	const have = new Set([...sel.options].map((o) => o.value));
	for (const v of values) if (v && !have.has(v)) sel.append(el('option', { value: v, text: v }));
}

// How long until a duration shown by fmtDuration() changes its text.
function fmtDurationNext(ms) {
	const unit = ms < 60000 ? 1000 : ms < 86400000 ? 60000 : 3600000;
	return unit - (ms % unit);
}

// The next redraw of the times a row shows (uptime, last input): when the soonest of them on
// screen changes its text, at most every 10 s; none when no row is shown or the tab is hidden
// (visibilitychange draws again).
function deskClock(shown, now) {
	clearTimeout(desk.clock);
	desk.clock = 0;
	if (!shown.length || document.hidden) return;
	let next = Infinity;
	for (const d of shown) {
		next = Math.min(next, fmtDurationNext(now - d.started * 1000));
		if (d.last_input != null) next = Math.min(next, fmtDurationNext(now - d.last_input * 1000));
	}
	desk.clock = setTimeout(deskRender, Math.max(next, 10000));
}

// Draws desk.list at the next animation frame (once however many snapshots came before it).
function deskSchedule() {
	if (!desk.frame) {
		desk.frame = requestAnimationFrame(() => {
			desk.frame = 0;
			deskRender();
		});
	}
}

// Renders desk.list: rows are kept by user and only changed cells are written.
function deskRender() {
	if (desk.frame) {
		cancelAnimationFrame(desk.frame);
		desk.frame = 0;
	}
	const now = Date.now();
	const views = desk.list.map((d) => rowView(d, now));
	fillSelect('desk-profile', [...new Set(views.map((v) => v.sort.profile))].sort());
	fillSelect('desk-state', [...new Set(views.map((v) => v.state))].sort());
	const shownList = desk.list.filter(deskMatches);
	const shown = views.filter((v, i) => deskMatches(desk.list[i]));
	shown.sort((a, b) => {
		const x = a.sort[desk.sortKey], y = b.sort[desk.sortKey];
		return (x < y ? -1 : x > y ? 1 : a.user < b.user ? -1 : 1) * desk.sortDir;
	});
	const live = new Set(views.map((v) => v.user));
	for (const [user, r] of desk.rows) {
		if (!live.has(user)) {
			r.tr.remove();
			if (thumbs.on) thumbs.seen.unobserve(r.tr);
			desk.rows.delete(user);
			desk.selected.delete(user);
		}
	}
	const body = $('desk-rows');
	let prev = null;
	for (const v of shown) {
		let r = desk.rows.get(v.user);
		if (!r) {
			r = deskRow(v.user);
			desk.rows.set(v.user, r);
		}
		for (const c of COLS) {
			if (r.view[c] !== v[c]) {
				r.cells[c].textContent = v[c];
				r.view[c] = v[c];
			}
		}
		if (r.view.warn !== v.warn) {
			r.tr.classList.toggle('warn', v.warn);
			r.view.warn = v.warn;
		}
		if (r.view.state !== v.state) {
			r.tr.dataset.state = v.state;
			r.view.state = v.state;
		}
		const sel = desk.selected.has(v.user);
		if (r.check.checked !== sel) r.check.checked = sel;
		// keep the order without moving rows that are already in place
		const want = prev ? prev.nextSibling : body.firstChild;
		if (want !== r.tr) body.insertBefore(r.tr, want);
		prev = r.tr;
	}
	const shownSet = new Set(shown.map((v) => v.user));
	for (const [user, r] of desk.rows) if (!shownSet.has(user) && r.tr.isConnected) r.tr.remove();
	if ($('desk-empty').hidden !== shown.length > 0) $('desk-empty').hidden = shown.length > 0;
	const count = `${shown.length} of ${views.length} desktops`;
	if ($('desk-count').textContent !== count) $('desk-count').textContent = count;
	const names = views.map((v) => v.user).join(' ');
	if (names !== desk.names) {
		// the state viewer's user suggestions, rebuilt only when the set of desktops changes
		desk.names = names;
		$('state-users').replaceChildren(...views.map((v) => el('option', { value: v.user })));
	}
	deskButtons();
	deskClock(shownList, now);
}

function deskSelectedShown() {
	return [...desk.selected].filter((u) => desk.rows.get(u)?.tr.isConnected);
}

function deskButtons() {
	const n = deskSelectedShown().length;
	for (const id of ['bulk-stop', 'bulk-restart', 'bulk-destroy']) if ($(id).disabled !== (n === 0)) $(id).disabled = n === 0;
	let shown = 0;
	for (const r of desk.rows.values()) if (r.tr.isConnected) shown++;
	const all = shown > 0 && n === shown;
	if ($('desk-all').checked !== all) $('desk-all').checked = all;
}

async function deskBulk(action) {
	const users = deskSelectedShown().sort();
	const n = users.length;
	const what = { stop: 'Stop', restart: 'Restart', destroy: 'Destroy' }[action];
	const text = {
		stop: 'Each desktop saves its layout, then stops. Homes are kept.',
		restart: 'Each desktop saves its layout, stops and starts again.',
		destroy: 'Each desktop stops at once and its saved layout is reset. Unsaved window positions are lost; homes are kept.',
	}[action];
	if (!(await confirmDialog(`${what} ${n} desktop${n === 1 ? '' : 's'}?`, `${users.join(', ')}. ${text}`, `${what} ${n}`))) return;
	const r = await api('POST', `/api/admin/desktops/${action}`, { users });
	if (r.status !== 200) {
		say('desk-message', r.data?.error ?? `failed (HTTP ${r.status})`, true);
		return;
	}
	const failed = r.data.results.filter((x) => !x.ok);
	say('desk-message', `${what}: ${r.data.results.length - failed.length} done${failed.length ? `; ${failed.map((x) => `${x.user}: ${x.error}`).join('; ')}` : ''}.`, failed.length > 0);
	desk.selected.clear();
	deskRender();
}

// The live channel: a snapshot of every desktop when one changed (docs/admin.md). The first one
// is drawn at once (the page's first full table), the later ones at the next frame.
function deskLive() {
	const es = new EventSource('/api/admin/events');
	desk.source = es;
	es.addEventListener('open', () => {
		if (!performance.getEntriesByName('admin:live').length) performance.mark('admin:live');
		$('desk-live').classList.add('on');
	});
	es.addEventListener('desktops', (e) => {
		const first = desk.updates === 0;
		if (first) performance.mark('admin:snapshot');
		desk.list = JSON.parse(e.data);
		desk.updates++; // bench/admin_bench.mjs counts the snapshots an idle console gets
		if (first) deskRender();
		else deskSchedule();
	});
	es.addEventListener('error', () => $('desk-live').classList.remove('on'));
}

function deskInit() {
	const body = $('desk-rows');
	// one listener each for every row's checkbox and thumbnail (load and error do not bubble:
	// caught on the way down)
	body.addEventListener('change', (e) => {
		const tr = e.target.closest('tr[data-user]');
		if (!tr || e.target.type !== 'checkbox') return;
		if (e.target.checked) desk.selected.add(tr.dataset.user);
		else desk.selected.delete(tr.dataset.user);
		deskButtons();
	});
	body.addEventListener('load', (e) => e.target.matches?.('img.thumb') && thumbDone(e.target, true), true);
	body.addEventListener('error', (e) => e.target.matches?.('img.thumb') && thumbDone(e.target, false), true);
	// ?thumbs=0 starts without thumbnails (bench/admin_bench.mjs)
	const on = new URLSearchParams(location.search).get('thumbs') !== '0';
	$('desk-thumbs').checked = on;
	$('desk-thumbs').addEventListener('change', () => thumbsSet($('desk-thumbs').checked));
	thumbsSet(on);
	document.addEventListener('visibilitychange', () => {
		if (!document.hidden && desk.list.length) deskSchedule();
	});
	for (const id of ['desk-search', 'desk-profile', 'desk-state']) $(id).addEventListener('input', deskRender);
	$('desk-all').addEventListener('change', () => {
		for (const [user, r] of desk.rows) {
			if (!r.tr.isConnected) continue;
			if ($('desk-all').checked) desk.selected.add(user);
			else desk.selected.delete(user);
		}
		deskRender();
	});
	for (const th of document.querySelectorAll('#desk-table th[data-sort]')) {
		th.addEventListener('click', () => {
			const k = th.dataset.sort;
			desk.sortDir = desk.sortKey === k ? -desk.sortDir : 1;
			desk.sortKey = k;
			for (const o of document.querySelectorAll('#desk-table th[data-sort]')) o.removeAttribute('aria-sort');
			th.setAttribute('aria-sort', desk.sortDir > 0 ? 'ascending' : 'descending');
			deskRender();
		});
	}
	for (const a of ['stop', 'restart', 'destroy']) $(`bulk-${a}`).addEventListener('click', () => deskBulk(a));
}

// ---- users ----

async function usersLoad() {
	const r = await api('GET', '/api/admin/users');
	if (r.status !== 200) {
		say('users-message', r.data?.error ?? `User management is not available (HTTP ${r.status}).`, true);
		return;
	}
	const profiles = r.data.profiles ?? [];
	$('user-add-profile').replaceChildren(...profiles.map((p) => el('option', { value: p, text: p })));
	$('users-rows').replaceChildren(...r.data.users.map((u) => userRow(u, profiles)));
}

async function userAction(name, action, body, done) {
	const r = await api('POST', `/api/admin/users/${encodeURIComponent(name)}/${action}`, body);
	if (r.status !== 200) say('users-message', `${name}: ${r.data?.error ?? `HTTP ${r.status}`}`, true);
	else say('users-message', `${name}: ${done}.`);
	await usersLoad();
	return r;
}

function userRow(u, profiles) {
	const status = u.disabled ? 'disabled' : u.locked_s > 0 ? 'locked out' : 'active';
	const role = el('select', { 'aria-label': `Role of ${u.name}` },
		...['admin', 'member'].map((x) => el('option', { value: x, text: x })));
	role.value = u.role;
	role.addEventListener('change', () => userAction(u.name, 'role', { role: role.value }, `role is now ${role.value}`));
	const prof = el('select', { 'aria-label': `Profile of ${u.name}` },
		...profiles.map((x) => el('option', { value: x, text: x })));
	prof.value = u.profile;
	prof.addEventListener('change', () => userAction(u.name, 'profile', { profile: prof.value }, `profile is now ${prof.value}`));
	const btn = (label, fn, cls = '') => el('button', { type: 'button', class: `button small ${cls}`, text: label, onclick: fn });
	const actions = el('td', { class: 'actions' },
		btn(u.disabled ? 'Enable' : 'Disable', () => userAction(u.name, u.disabled ? 'enable' : 'disable', {}, u.disabled ? 'enabled' : 'disabled (signed out, desktop stopped)')),
		btn('Password…', async () => {
			const pw = prompt(`New password for ${u.name} (at least 8 characters)`);
			if (pw) await userAction(u.name, 'password', { password: pw }, 'password changed');
		}),
		btn('Clear lockout', () => userAction(u.name, 'unlock', {}, 'lockout cleared')),
		btn('Reset VNC password', () => userAction(u.name, 'vnc-reset', {}, 'native VNC password revoked')),
		btn('Delete…', async () => {
			const keep = await confirmDialog(`Delete ${u.name}?`,
				'The account goes and its desktop stops. OK keeps the home directory (files stay on the server); Cancel does nothing. To remove the home as well, use "Delete with home".', 'Delete, keep home');
			if (keep) await userAction(u.name, 'delete', { home: 'keep' }, 'deleted, home kept');
		}, 'danger'),
		btn('Delete with home…', async () => {
			if (await confirmDialog(`Delete ${u.name} and their home?`, 'The account, its desktop and every file in its home directory are removed. This cannot be undone.', 'Delete everything'))
				await userAction(u.name, 'delete', { home: 'remove' }, 'deleted, home removed');
		}, 'danger'));
	return el('tr', { 'data-user': u.name },
		el('td', { text: u.name }), el('td', { text: u.email ?? '' }), el('td', {}, role), el('td', {}, prof),
		el('td', { text: status, class: `status ${status.replace(' ', '-')}` }), actions);
}

function usersInit() {
	$('user-add').addEventListener('submit', async (e) => {
		e.preventDefault();
		const f = new FormData(e.target);
		const body = Object.fromEntries(f.entries());
		if (!body.email) delete body.email;
		const r = await api('POST', '/api/admin/users', body);
		if (r.status !== 200) say('users-message', r.data?.error ?? `HTTP ${r.status}`, true);
		else {
			say('users-message', `${body.name} added.`);
			e.target.reset();
		}
		await usersLoad();
	});
}

// ---- desktop state viewer ----

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
	const e = document.createElementNS(SVGNS, tag);
	for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
	if (text !== undefined) e.textContent = text;
	return e;
}

// Draws a saved state (docs/desktop-state.md) as a picture of a W x H screen: the current
// workspace's windows by stacking order, a taskbar with the pinned apps, the workspaces.
export function drawState(root, state, W = 1280, H = 800) {
	root.replaceChildren();
	root.setAttribute('viewBox', `0 0 ${W} ${H}`);
	const accent = state.theme?.accent ?? '#3d8bfd';
	const dark = (state.theme?.mode ?? 'dark') === 'dark';
	root.append(svg('rect', { x: 0, y: 0, width: W, height: H, fill: dark ? '#1b2733' : '#c9d6e3', class: 'wallpaper' }));
	if (state.wallpaper?.image) root.append(svg('text', { x: W - 12, y: 24, 'text-anchor': 'end', class: 'label' }, `wallpaper: ${state.wallpaper.image}`));
	const ws = state.workspaces ?? { count: 4, current: 0 };
	const bar = state.taskbar ?? { position: 'bottom', pinned: [] };
	const barH = 36, top = bar.position === 'top';
	const wins = (state.windows ?? []).filter((w) => w.workspace === ws.current && !w.minimized)
		.sort((a, b) => a.stack - b.stack);
	for (const w of wins) {
		const g = svg('g', { class: 'window', 'data-title': w.title ?? '' });
		const x = w.maximized || w.fullscreen ? 0 : w.x, y = w.maximized || w.fullscreen ? (top ? barH : 0) : w.y;
		const ww = w.maximized || w.fullscreen ? W : w.w, hh = w.maximized || w.fullscreen ? H - barH : w.h;
		g.append(svg('rect', { x, y, width: ww, height: hh, rx: 6, class: 'frame', fill: dark ? '#26313d' : '#f4f6f8', stroke: accent }));
		g.append(svg('rect', { x, y, width: ww, height: 26, rx: 6, fill: accent, class: 'titlebar' }));
		g.append(svg('text', { x: x + 10, y: y + 18, class: 'title' }, w.title || w.app?.class || 'window'));
		root.append(g);
	}
	const by = top ? 0 : H - barH;
	root.append(svg('rect', { x: 0, y: by, width: W, height: barH, class: 'taskbar', fill: dark ? '#0d1217' : '#e7edf3' }));
	let x = 12;
	for (const p of bar.pinned ?? []) {
		root.append(svg('rect', { x, y: by + 6, width: 110, height: 24, rx: 4, class: 'pinned', fill: accent, opacity: 0.35 }));
		root.append(svg('text', { x: x + 6, y: by + 23, class: 'label' }, p.replace(/\.desktop$/, '')));
		x += 118;
	}
	for (let i = 0; i < ws.count; i++) {
		const cx = W - 20 - (ws.count - 1 - i) * 26;
		root.append(svg('rect', { x: cx - 10, y: by + 8, width: 20, height: 20, rx: 3, class: i === ws.current ? 'ws current' : 'ws', fill: i === ws.current ? accent : 'none', stroke: accent }));
		root.append(svg('text', { x: cx, y: by + 23, 'text-anchor': 'middle', class: 'label' }, String(i + 1)));
	}
	const hidden = (state.windows ?? []).length - wins.length;
	if (hidden > 0) root.append(svg('text', { x: 12, y: top ? H - 12 : 24, class: 'label' }, `${hidden} more window${hidden === 1 ? '' : 's'} on other workspaces or minimized`));
}

const stateView = { user: null };
async function stateShow(user) {
	stateView.user = null;
	$('state-reset').disabled = true;
	const r = await api('GET', `/api/desktops/${encodeURIComponent(user)}/state`);
	if (r.status !== 200 || !r.data?.state) {
		say('state-message', r.data?.error ?? `No saved state for ${user} (HTTP ${r.status}).`, r.status !== 404);
		$('state-svg').replaceChildren();
		$('state-json').textContent = '';
		return;
	}
	stateView.user = user;
	$('state-reset').disabled = false;
	say('state-message', `${user}'s saved layout.`);
	drawState($('state-svg'), r.data.state);
	$('state-json').textContent = JSON.stringify(r.data.state, null, 2);
}

function stateInit() {
	$('state-form').addEventListener('submit', (e) => {
		e.preventDefault();
		stateShow($('state-user').value.trim());
	});
	$('state-reset').addEventListener('click', async () => {
		const user = stateView.user;
		if (!user || !(await confirmDialog(`Reset ${user}'s layout?`, 'The saved windows, wallpaper, theme and taskbar go back to the defaults at the next start of the desktop.', 'Reset'))) return;
		const r = await api('DELETE', `/api/desktops/${encodeURIComponent(user)}/state`);
		if (r.status < 300) await stateShow(user);
		say('state-message', r.status < 300 ? `${user}'s layout was reset.` : (r.data?.error ?? `HTTP ${r.status}`), r.status >= 300);
	});
}

// ---- broadcast ----

function broadcastInit() {
	$('bc-to').addEventListener('change', () => {
		$('bc-target').disabled = $('bc-to').value === 'all';
		$('bc-target').required = $('bc-to').value !== 'all';
	});
	$('broadcast-form').addEventListener('submit', async (e) => {
		e.preventDefault();
		const body = Object.fromEntries(new FormData(e.target).entries());
		if (body.to === 'all') delete body.target;
		if (!body.title) delete body.title;
		const r = await api('POST', '/api/admin/broadcast', body);
		if (r.status !== 200) say('bc-message', r.data?.error ?? `HTTP ${r.status}`, true);
		else say('bc-message', `Delivered to ${r.data.delivered.length} desktop${r.data.delivered.length === 1 ? '' : 's'}${r.data.delivered.length ? `: ${r.data.delivered.join(', ')}` : ''}.`);
	});
}

// ---- audit ----

const audit = { tail: null };
function auditQuery() {
	const p = new URLSearchParams();
	for (const [k, v] of new FormData($('audit-form')).entries()) if (v) p.set(k, v);
	return p;
}

function auditRow(ev) {
	return el('tr', { class: `outcome-${ev.outcome}` },
		el('td', { text: ev.time ?? '' }), el('td', { text: ev.event }), el('td', { text: ev.outcome }),
		el('td', { text: ev.user ?? '' }), el('td', { text: ev.source ?? '' }),
		el('td', { class: 'detail', text: ev.detail ? JSON.stringify(ev.detail) : '' }));
}

async function auditLoad() {
	const q = auditQuery();
	const exp = new URLSearchParams(q);
	exp.set('format', 'csv');
	$('audit-export').href = `/api/admin/audit?${exp}`;
	const r = await api('GET', `/api/admin/audit${q.size ? `?${q}` : ''}`);
	if (r.status !== 200) {
		say('audit-message', r.data?.error ?? `HTTP ${r.status}`, true);
		return;
	}
	$('audit-rows').replaceChildren(...r.data.events.map(auditRow));
	say('audit-message', `${r.data.events.length} event${r.data.events.length === 1 ? '' : 's'}${r.data.next_cursor ? ' (newest first; more match)' : ''}.`);
}

function auditLive(on) {
	audit.tail?.close();
	audit.tail = null;
	if (!on) return;
	const q = auditQuery();
	audit.tail = new EventSource(`/api/admin/audit/tail${q.size ? `?${q}` : ''}`);
	audit.tail.addEventListener('audit', (e) => {
		const body = $('audit-rows');
		body.prepend(auditRow(JSON.parse(e.data)));
		while (body.childElementCount > 500) body.lastElementChild.remove();
	});
}

function auditInit() {
	const to = new Date(Date.now() + 60000), from = new Date(Date.now() - 30 * 86400000);
	$('audit-report').href = `/api/admin/audit/report?from=${from.toISOString()}&to=${to.toISOString()}&format=html`;
	$('audit-form').addEventListener('submit', (e) => {
		e.preventDefault();
		auditLoad();
		auditLive($('audit-live').checked);
	});
	$('audit-live').addEventListener('change', () => auditLive($('audit-live').checked));
}

// ---- services ----

async function servicesLoad() {
	const r = await api('GET', '/api/services');
	if (r.status !== 200) {
		say('svc-message', r.data?.error ?? `HTTP ${r.status}`, true);
		return;
	}
	const list = Array.isArray(r.data) ? r.data : (r.data.services ?? []);
	$('svc-rows').replaceChildren(...list.map((s) => {
		const last = s.history?.length ? s.history[s.history.length - 1] : null;
		const restart = el('button', {
			type: 'button', class: 'button small', text: 'Restart',
			onclick: async () => {
				if (!(await confirmDialog(`Restart ${s.name}?`, 'The service is restarted with its configured method.', 'Restart'))) return;
				const x = await api('POST', `/api/services/${encodeURIComponent(s.name)}/restart`);
				say('svc-message', x.status < 300 ? `${s.name}: restart asked.` : `${s.name}: ${x.data?.error ?? `HTTP ${x.status}`}`, x.status >= 300);
			},
		});
		const diag = el('button', {
			type: 'button', class: 'button small', text: 'Diagnose',
			onclick: () => serviceDiag(s.name),
		});
		// the last checks, oldest first: one dot each, green up, red down
		const history = el('span', { class: 'svc-history', title: 'the last checks' },
			...(s.history ?? []).map((h) => el('span', {
				class: h.ok ? 'ok' : 'bad',
				title: `${new Date(h.time_ms).toLocaleTimeString()}: ${h.ok ? `${h.latency_ms} ms` : (h.error ?? `HTTP ${h.status}`)}`,
			})));
		const avail = s.day?.availability ?? s.availability;
		return el('tr', { 'data-service': s.name, 'data-state': s.state },
			el('td', { text: s.title ? `${s.title} (${s.name})` : s.name }),
			el('td', { class: `svc-state ${s.state}`, text: s.state }),
			el('td', { text: s.latency_ms == null ? '—' : `${s.latency_ms} ms` }),
			el('td', { text: avail == null ? '—' : `${(avail * 100).toFixed(1)} %` }),
			el('td', {}, history),
			el('td', { text: last ? new Date(last.time_ms).toLocaleTimeString() : '—' }),
			el('td', { text: s.reason ?? '' }),
			el('td', { class: 'actions' }, diag, s.restart ? restart : ''));
	}));
	say('svc-message', `${list.length} service${list.length === 1 ? '' : 's'}.`);
}

// A diagnostic (DNS, TCP, TLS, HTTP with their timings): started, then polled until done.
async function serviceDiag(name) {
	const path = `/api/services/${encodeURIComponent(name)}/diag`;
	const r = await api('POST', path);
	if (r.status >= 300 && r.status !== 409) {
		say('svc-message', `${name}: ${r.data?.error ?? `HTTP ${r.status}`}`, true);
		return;
	}
	say('svc-message', `${name}: diagnosing…`);
	for (let i = 0; i < 60; i++) {
		const g = await api('GET', path);
		const res = g.data?.results?.[g.data.results.length - 1];
		if (g.status === 200 && !g.data.running && res) {
			const steps = Object.entries(res.steps ?? {}).map(([k, v]) => `${k} ${v.ok === false ? 'failed' : 'ok'}${v.ms != null ? ` ${v.ms} ms` : v.total_ms != null ? ` ${v.status} in ${v.total_ms} ms` : ''}`);
			$('svc-diag').textContent = JSON.stringify(res, null, 2);
			say('svc-message', `${name}: ${res.ok ? 'all steps passed' : `failed at ${res.failed_step}: ${res.error ?? ''}`} (${steps.join(', ')})`, !res.ok);
			return;
		}
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	say('svc-message', `${name}: the diagnostic did not finish`, true);
}

function servicesInit() {
	$('svc-refresh').addEventListener('click', servicesLoad);
	$('svc-reload').addEventListener('click', async () => {
		const r = await api('POST', '/api/admin/services/reload');
		say('svc-message', r.status === 200 ? 'Registry reloaded.' : (r.data?.error ?? `HTTP ${r.status}`), r.status !== 200);
		await servicesLoad();
	});
}

// ---- tabs and start ----

const loaders = { users: usersLoad, audit: auditLoad, services: servicesLoad };
function tabsInit() {
	const tabs = [...document.querySelectorAll('.admin-tabs [role="tab"]')];
	for (const t of tabs) {
		t.addEventListener('click', () => {
			for (const o of tabs) {
				o.setAttribute('aria-selected', String(o === t));
				$(o.getAttribute('aria-controls')).hidden = o !== t;
			}
			loaders[t.id.replace('tab-', '')]?.();
		});
	}
}

// GET /api/me as admin.html's <link rel="preload"> asked for it while the page was parsed: the
// same URL, mode and credentials, so that this takes the preloaded answer (no second request).
async function meFetch() {
	const res = await fetch('/api/me', { credentials: 'same-origin' });
	let data = null;
	try {
		data = await res.json();
	} catch {
		// no JSON body
	}
	return { status: res.status, data };
}
const meAsked = meFetch();
const domReady = document.readyState === 'loading'
	? new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }))
	: Promise.resolve();

async function main() {
	const me = await meAsked;
	performance.mark('admin:me');
	await domReady;
	if (me.status === 401) {
		document.body.dataset.state = 'signed-out';
		say('admin-status', 'Sign in first.');
		location.assign(`/?next=${encodeURIComponent('/admin.html')}`);
		return;
	}
	// 404: no sign-in on this broker (loopback "local" user, who is the admin)
	const role = me.status === 404 ? 'admin' : me.data?.role;
	$('who').textContent = me.status === 404 ? 'local' : (me.data?.user ?? '');
	if (role !== 'admin') {
		document.body.dataset.state = 'forbidden';
		say('admin-status', 'The admin console is for administrators only.', true);
		return;
	}
	csrf = me.data?.csrf_token ?? null;
	document.body.dataset.state = 'ready';
	$('admin-status').hidden = true;
	$('admin-ui').hidden = false;
	deskInit();
	deskLive(); // the first snapshot is the table: asked before the other panes are set up
	tabsInit();
	usersInit();
	stateInit();
	broadcastInit();
	auditInit();
	servicesInit();
}

main();
