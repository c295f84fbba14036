#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// The files API (broker/files, docs/files.md) over real HTTP on loopback, against the real
// broker with the sample users (bea: member, developer profile):
//   files-test.js list|download|delete|stat|copy|archive|upload|resume|quota|oversize|traversal|concurrent
// Each case starts its own broker; every answer is asserted with its audit line.
// Needs root (the broker gives created files to the users' mapped host ids): exits 77 if not.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { execFileSync } = require('child_process');
const lib = require('../../lib/node/broker.cjs');

if (process.getuid() !== 0) {
	console.log('SKIP: needs root (files are created for the users\' mapped host ids)');
	process.exit(77);
}

const tmp = lib.harness({ prefix: 'ab-files-' });
const sample = lib.paths.sample;
const BEA_INDEX = sample.users.findIndex((u) => u.name === 'bea');
const BEA_UID = 100000 + BEA_INDEX * 65536 + sample.users[BEA_INDEX].uid;

async function start(files = {}) {
	const cfg = lib.brokerConfig(tmp, {
		auth: sample.auth, users: sample.users, profiles: sample.profiles, files,
	});
	const b = await lib.startBroker({ tmp, cfg });
	b.home = path.join(tmp, 'data', 'home', 'bea');
	return b;
}

/* One request with a binary body; `cut` sends only that many body bytes, then drops the
 * connection. Resolves {status, headers, body (Buffer), json}. */
function req(b, c, method, target, { headers = {}, body, cut, contentLength } = {}) {
	return new Promise((resolve, reject) => {
		const s = net.connect(b.port, '127.0.0.1');
		let data = Buffer.alloc(0);
		const buf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
		s.on('connect', () => {
			let h = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nConnection: close\r\n` +
				`Origin: http://127.0.0.1:${b.port}\r\n`;
			if (c) h += `Cookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\n`;
			const len = contentLength !== undefined ? contentLength : buf ? buf.length : null;
			if (len !== null) h += `Content-Length: ${len}\r\n`;
			for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
			s.write(h + '\r\n');
			if (buf && cut !== undefined) {
				s.write(buf.subarray(0, cut), () => setTimeout(() => s.destroy(), 200));
				setTimeout(() => resolve({ status: 0, cut: true }), 600);
				return;
			}
			if (buf) s.write(buf);
		});
		s.on('data', (d) => { data = Buffer.concat([data, d]); });
		s.on('error', (e) => (cut !== undefined ? null : reject(e)));
		s.on('close', () => {
			if (cut !== undefined) return;
			const i = data.indexOf('\r\n\r\n');
			const head = (i >= 0 ? data.subarray(0, i) : data).toString('latin1');
			const m = /^HTTP\/1\.[01] (\d+)/.exec(head);
			const hdrs = {};
			for (const l of head.split('\r\n').slice(1)) {
				const j = l.indexOf(':');
				if (j > 0) hdrs[l.slice(0, j).toLowerCase()] = l.slice(j + 1).trim();
			}
			const rest = i >= 0 ? data.subarray(i + 4) : Buffer.alloc(0);
			let json = null;
			try { json = JSON.parse(rest.toString('utf8')); } catch (e) { /* not JSON */ }
			resolve({ status: m ? Number(m[1]) : 0, headers: hdrs, body: rest, json });
		});
	});
}

/* A GET whose client takes nothing for `pauseMs` after the headers, then reads to the end
 * (lws's own transaction timeout is a few seconds: a long response must outlive it).
 * Resolves the body after the headers. */
function slowGet(b, c, target, pauseMs) {
	return new Promise((resolve, reject) => {
		const s = net.connect(b.port, '127.0.0.1', () => {
			s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nConnection: close\r\nCookie: ${c.cookie}\r\n\r\n`);
			setTimeout(() => s.pause(), 50);
			setTimeout(() => s.resume(), pauseMs);
		});
		const parts = [];
		s.on('data', (d) => parts.push(d));
		s.on('error', reject);
		s.on('close', () => {
			const all = Buffer.concat(parts);
			resolve(all.subarray(all.indexOf('\r\n\r\n') + 4));
		});
	});
}

const TUS = { 'Tus-Resumable': '1.0.0' };
const b64 = (s) => Buffer.from(s).toString('base64');
function meta(o) {
	return Object.entries(o).map(([k, v]) => `${k} ${b64(v)}`).join(',');
}
async function create(b, c, length, m, expect = 201) {
	const r = await req(b, c, 'POST', '/api/uploads', {
		headers: { ...TUS, 'Upload-Length': String(length), 'Upload-Metadata': meta(m) }, contentLength: 0,
	});
	assert.strictEqual(r.status, expect, `create: ${r.status} ${r.body}`);
	return r;
}
function patch(b, c, loc, offset, data, opts = {}) {
	return req(b, c, 'PATCH', loc, {
		headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
		body: data, ...opts,
	});
}
async function head(b, c, loc) {
	const r = await req(b, c, 'HEAD', loc, { headers: TUS });
	assert.strictEqual(r.status, 200, `HEAD ${loc}`);
	return Number(r.headers['upload-offset']);
}
/* Uploads `data` in one PATCH; returns the final path the broker chose. */
async function upload(b, c, name, data, m = {}) {
	const loc = (await create(b, c, data.length, { filename: name, ...m })).headers.location;
	const r = await patch(b, c, loc, 0, data);
	assert.strictEqual(r.status, 204, `PATCH: ${r.status} ${r.body}`);
	assert.strictEqual(Number(r.headers['upload-offset']), data.length);
	return r.headers['upload-final-path'];
}

/* The last audit line of `event` (and outcome), optionally matching detail fields. */
function audited(b, event, outcome, match = {}) {
	const lines = lib.auditLines(b).filter((l) => l.event === event && l.outcome === outcome &&
		Object.entries(match).every(([k, v]) => (v instanceof RegExp ? v.test(String(l.detail && l.detail[k])) : l.detail && l.detail[k] === v)));
	assert.ok(lines.length, `no audit line ${event} ${outcome} ${JSON.stringify(match, (k, v) => (v instanceof RegExp ? String(v) : v))}\n${b.audit()}`);
	return lines[lines.length - 1];
}

const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');

/* Makes bea's home exist (a listing creates it) and waits for its usage figure. */
async function ready(b, c) {
	return lib.waitFor('usage to be known', async () => {
		const r = await req(b, c, 'GET', '/api/files');
		assert.strictEqual(r.status, 200, `list: ${r.body}`);
		return r.json.usage.known && r.json;
	});
}

const cases = {
	async list() {
		const b = await start();
		const anon = await req(b, null, 'GET', '/api/files');
		assert.strictEqual(anon.status, 401, 'anonymous listing');
		const c = await lib.login(b, 'bea');
		const first = await ready(b, c);
		assert.deepStrictEqual(first.entries, []);
		assert.strictEqual(fs.statSync(b.home).uid, BEA_UID, 'home owned by bea\'s mapped uid');
		assert.strictEqual(first.usage.limit, 100 * 2 ** 30, 'default quota 100 GiB');
		let r = await req(b, c, 'POST', '/api/files/Docs/Sub', { body: JSON.stringify({ action: 'mkdir' }), headers: { 'Content-Type': 'application/json' } });
		assert.strictEqual(r.status, 201, `mkdir ${r.body}`);
		audited(b, 'files.mkdir', 'grant', { path: 'Docs/Sub' });
		assert.strictEqual(fs.statSync(path.join(b.home, 'Docs/Sub')).uid, BEA_UID);
		fs.writeFileSync(path.join(b.home, 'b.txt'), 'hello');
		fs.writeFileSync(path.join(b.home, 'a.png'), Buffer.alloc(3000));
		fs.writeFileSync(path.join(b.home, '.hidden'), 'x');
		r = await req(b, c, 'GET', '/api/files');
		assert.deepStrictEqual(r.json.entries.map((e) => e.name), ['Docs', 'a.png', 'b.txt'], 'dirs first, by name, no dotfiles');
		const png = r.json.entries.find((e) => e.name === 'a.png');
		assert.strictEqual(png.type, 'file');
		assert.strictEqual(png.size, 3000);
		assert.strictEqual(png.mime, 'image/png');
		assert.strictEqual(r.json.entries[0].type, 'directory');
		audited(b, 'files.list', 'grant', { path: '' });
		r = await req(b, c, 'GET', '/api/files?sort=size&order=desc&offset=1&limit=2');
		assert.deepStrictEqual(r.json.entries.map((e) => e.name), ['a.png', 'b.txt'], 'sorted by size desc (dirs first), paginated');
		r = await req(b, c, 'GET', '/api/files?sort=size&offset=1&limit=1');
		assert.deepStrictEqual(r.json.entries.map((e) => e.name), ['b.txt'], 'sorted by size asc');
		assert.strictEqual(r.json.total, 3);
		assert.ok(r.json.next, 'a page with more after it has a cursor');
		// pages by cursor: every entry once, in order, each page's memory bounded by its limit
		fs.mkdirSync(path.join(b.home, 'Many'));
		fs.mkdirSync(path.join(b.home, 'Many', 'zdir'));
		for (let i = 0; i < 25; i++) fs.writeFileSync(path.join(b.home, 'Many', `f ${String(i).padStart(2, '0')}&`), Buffer.alloc((i * 7) % 11));
		for (const [sort, order] of [['name', 'asc'], ['size', 'desc'], ['mtime', 'asc']]) {
			const all = (await req(b, c, 'GET', `/api/files/Many?sort=${sort}&order=${order}&limit=100`)).json.entries.map((e) => e.name);
			assert.strictEqual(all.length, 26);
			assert.strictEqual(all[0], 'zdir', 'directories first');
			const paged = [];
			let cursor = null, pages = 0;
			do {
				r = await req(b, c, 'GET', `/api/files/Many?sort=${sort}&order=${order}&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
				assert.strictEqual(r.status, 200, `page: ${r.body}`);
				assert.ok(r.json.entries.length <= 10);
				assert.strictEqual(r.json.total, 26);
				paged.push(...r.json.entries.map((e) => e.name));
				cursor = r.json.next;
				pages++;
			} while (cursor && pages < 10);
			assert.strictEqual(pages, 3, `${sort}: three pages`);
			assert.deepStrictEqual(paged, all, `${sort} ${order}: the cursor pages are the listing`);
		}
		r = await req(b, c, 'GET', '/api/files/Many?limit=10&offset=20');
		assert.strictEqual(r.json.entries.length, 6);
		assert.strictEqual(r.json.next, null);
		for (const q of ['cursor=x', 'cursor=f:1:a&offset=2', 'offset=100001']) {
			r = await req(b, c, 'GET', `/api/files/Many?${q}`);
			assert.strictEqual(r.status, 400, `${q}: ${r.status}`);
			audited(b, 'files.list', 'deny', { path: 'Many', reason: /cursor|offset/ });
		}
		r = await req(b, c, 'GET', '/api/files?hidden=1');
		assert.ok(r.json.entries.some((e) => e.name === '.hidden'), 'hidden=1 shows dotfiles');
		r = await req(b, c, 'GET', '/api/files/Docs');
		assert.deepStrictEqual(r.json.entries.map((e) => e.name), ['Sub']);
		r = await req(b, c, 'POST', '/api/files/b.txt', { body: JSON.stringify({ action: 'rename', to: 'Docs/c.txt' }), headers: { 'Content-Type': 'application/json' } });
		assert.strictEqual(r.status, 200, `rename ${r.body}`);
		audited(b, 'files.rename', 'grant', { path: 'b.txt', to: 'Docs/c.txt' });
		assert.strictEqual(fs.readFileSync(path.join(b.home, 'Docs/c.txt'), 'utf8'), 'hello');
		r = await req(b, c, 'POST', '/api/files/a.png', { body: JSON.stringify({ action: 'rename', to: 'Docs/c.txt' }), headers: { 'Content-Type': 'application/json' } });
		assert.strictEqual(r.status, 409, 'rename onto an existing name');
		audited(b, 'files.rename', 'deny', { path: 'a.png', reason: 'already exists' });
		r = await req(b, c, 'GET', '/api/files/nope');
		assert.strictEqual(r.status, 404);
		audited(b, 'files.download', 'deny', { path: 'nope' });
		await lib.stopBroker(b);
	},

	async download() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const data = crypto.randomBytes(1 << 20);
		fs.writeFileSync(path.join(b.home, 'blob name.bin'), data);
		let r = await req(b, c, 'GET', '/api/files/blob%20name.bin');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(sha(r.body), sha(data), 'whole file');
		assert.strictEqual(r.headers['accept-ranges'], 'bytes');
		assert.match(r.headers['content-disposition'], /^attachment; filename\*=UTF-8''blob%20name\.bin$/);
		assert.ok(r.headers.etag, 'ETag');
		audited(b, 'files.download', 'grant', { path: 'blob name.bin', bytes: data.length });
		const etag = r.headers.etag;
		r = await req(b, c, 'GET', '/api/files/blob%20name.bin', { headers: { Range: 'bytes=100-199' } });
		assert.strictEqual(r.status, 206);
		assert.strictEqual(r.headers['content-range'], `bytes 100-199/${data.length}`);
		assert.ok(r.body.equals(data.subarray(100, 200)), 'range bytes');
		audited(b, 'files.download', 'grant', { range: '100-199', bytes: 100 });
		r = await req(b, c, 'GET', '/api/files/blob%20name.bin', { headers: { Range: 'bytes=-10' } });
		assert.strictEqual(r.status, 206);
		assert.ok(r.body.equals(data.subarray(data.length - 10)), 'suffix range');
		r = await req(b, c, 'GET', '/api/files/blob%20name.bin', { headers: { Range: `bytes=${data.length}-` } });
		assert.strictEqual(r.status, 416);
		assert.strictEqual(r.headers['content-range'], `bytes */${data.length}`);
		audited(b, 'files.download', 'deny', { reason: 'range not satisfiable' });
		r = await req(b, c, 'GET', '/api/files/blob%20name.bin', { headers: { 'If-None-Match': etag } });
		assert.strictEqual(r.status, 304, 'ETag revalidation');
		// a client that stalls longer than lws's transaction timeout still gets every byte
		const big = crypto.randomBytes(48 << 20);
		fs.writeFileSync(path.join(b.home, 'big.bin'), big);
		const got = await slowGet(b, c, '/api/files/big.bin', 7000);
		assert.strictEqual(got.length, big.length, 'a stalled download is not cut');
		assert.strictEqual(sha(got), sha(big));
		await lib.stopBroker(b);
	},

	async delete() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const trash = path.join(b.home, '.local/share/Trash');
		fs.writeFileSync(path.join(b.home, 'gone.txt'), 'bye');
		fs.mkdirSync(path.join(b.home, 'full'));
		fs.writeFileSync(path.join(b.home, 'full', 'x'), 'x');
		// to the trash (freedesktop.org spec): files/<name> + info/<name>.trashinfo
		let r = await req(b, c, 'DELETE', '/api/files/gone.txt');
		assert.strictEqual(r.status, 200, `trash: ${r.body}`);
		assert.strictEqual(r.json.trash, '.local/share/Trash/files/gone.txt');
		assert.ok(!fs.existsSync(path.join(b.home, 'gone.txt')));
		assert.strictEqual(fs.readFileSync(path.join(trash, 'files/gone.txt'), 'utf8'), 'bye');
		const info = fs.readFileSync(path.join(trash, 'info/gone.txt.trashinfo'), 'utf8');
		assert.match(info, /^\[Trash Info\]\nPath=\/home\/bea\/gone\.txt\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n$/);
		assert.strictEqual(fs.statSync(path.join(trash, 'info/gone.txt.trashinfo')).uid, BEA_UID);
		assert.strictEqual(fs.statSync(path.join(trash, 'files')).uid, BEA_UID);
		audited(b, 'files.delete', 'grant', { path: 'gone.txt', type: 'file', bytes: 3, permanent: false, trash: 'gone.txt' });
		// the same name again: a unique name, the first stays; names are escaped in Path
		fs.mkdirSync(path.join(b.home, 'Sub dir'));
		fs.writeFileSync(path.join(b.home, 'Sub dir', 'gone.txt'), 'again');
		r = await req(b, c, 'DELETE', '/api/files/Sub%20dir/gone.txt');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(r.json.trash, '.local/share/Trash/files/gone.2.txt');
		assert.strictEqual(fs.readFileSync(path.join(trash, 'files/gone.2.txt'), 'utf8'), 'again');
		assert.strictEqual(fs.readFileSync(path.join(trash, 'files/gone.txt'), 'utf8'), 'bye');
		assert.match(fs.readFileSync(path.join(trash, 'info/gone.2.txt.trashinfo'), 'utf8'), /\nPath=\/home\/bea\/Sub%20dir\/gone\.txt\n/);
		// a non-empty directory goes whole
		r = await req(b, c, 'DELETE', '/api/files/full');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(fs.readFileSync(path.join(trash, 'files/full/x'), 'utf8'), 'x');
		audited(b, 'files.delete', 'grant', { path: 'full', type: 'directory', trash: 'full' });
		r = await req(b, c, 'DELETE', '/api/files/gone.txt');
		assert.strictEqual(r.status, 404);
		audited(b, 'files.delete', 'deny', { path: 'gone.txt', reason: 'no such file or directory' });
		// permanently: unlinked, audited as such; a non-empty directory is refused
		fs.writeFileSync(path.join(b.home, 'perm.txt'), 'p');
		r = await req(b, c, 'DELETE', '/api/files/perm.txt?permanent=1');
		assert.strictEqual(r.status, 204);
		assert.ok(!fs.existsSync(path.join(b.home, 'perm.txt')));
		assert.ok(!fs.existsSync(path.join(trash, 'files/perm.txt')), 'not in the trash');
		audited(b, 'files.delete', 'grant', { path: 'perm.txt', type: 'file', bytes: 1, permanent: true });
		fs.mkdirSync(path.join(b.home, 'full2'));
		fs.writeFileSync(path.join(b.home, 'full2', 'x'), 'x');
		r = await req(b, c, 'DELETE', '/api/files/full2?permanent=1');
		assert.strictEqual(r.status, 409, 'a non-empty directory');
		audited(b, 'files.delete', 'deny', { path: 'full2', reason: 'directory not empty', permanent: true });
		// no CSRF token: refused before the handler
		r = await req(b, { cookie: c.cookie, csrf: 'x' }, 'DELETE', '/api/files/full2/x');
		assert.strictEqual(r.status, 403);
		assert.ok(fs.existsSync(path.join(b.home, 'full2', 'x')));
		// another user deletes in their own home only: bea's file stays
		const m = await lib.login(b, 'mauve');
		r = await req(b, m, 'DELETE', '/api/files/full2/x');
		assert.strictEqual(r.status, 404, 'no URL names another user\'s home');
		audited(b, 'files.delete', 'deny', { path: 'full2/x' });
		assert.ok(fs.existsSync(path.join(b.home, 'full2', 'x')));
		// a symlink is trashed (or removed) itself, never its target
		fs.writeFileSync(path.join(tmp, 'outside'), 'keep');
		fs.symlinkSync(path.join(tmp, 'outside'), path.join(b.home, 'link'));
		r = await req(b, c, 'DELETE', '/api/files/link');
		assert.strictEqual(r.status, 200);
		assert.ok(fs.lstatSync(path.join(trash, 'files/link')).isSymbolicLink());
		assert.strictEqual(fs.readFileSync(path.join(tmp, 'outside'), 'utf8'), 'keep');
		audited(b, 'files.delete', 'grant', { path: 'link', type: 'symlink' });
		fs.symlinkSync(path.join(tmp, 'outside'), path.join(b.home, 'link2'));
		r = await req(b, c, 'DELETE', '/api/files/link2?permanent=1');
		assert.strictEqual(r.status, 204);
		assert.strictEqual(fs.readFileSync(path.join(tmp, 'outside'), 'utf8'), 'keep');
		// the trash swapped for a link out of the home: refused, nothing moves out
		fs.mkdirSync(path.join(tmp, 'evil-trash'), { recursive: true });
		fs.rmSync(trash, { recursive: true });
		fs.symlinkSync(path.join(tmp, 'evil-trash'), trash);
		fs.writeFileSync(path.join(b.home, 'stay.txt'), 's');
		r = await req(b, c, 'DELETE', '/api/files/stay.txt');
		assert.strictEqual(r.status, 403, 'trash through a symlink');
		audited(b, 'files.delete', 'deny', { path: 'stay.txt', reason: /symbolic link/ });
		assert.ok(fs.existsSync(path.join(b.home, 'stay.txt')));
		assert.deepStrictEqual(fs.readdirSync(path.join(tmp, 'evil-trash')), []);
		await lib.stopBroker(b);
	},

	async stat() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		fs.mkdirSync(path.join(b.home, 'Docs'));
		fs.writeFileSync(path.join(b.home, 'Docs', 'a.png'), Buffer.alloc(1234));
		fs.symlinkSync('/etc/shadow', path.join(b.home, 'shadow'));
		let r = await req(b, c, 'GET', '/api/files/Docs/a.png?stat=1');
		assert.strictEqual(r.status, 200);
		const st = fs.statSync(path.join(b.home, 'Docs', 'a.png'));
		assert.deepStrictEqual(r.json, { name: 'a.png', path: 'Docs/a.png', type: 'file', size: 1234, mtime: Math.floor(st.mtimeMs / 1000), mode: st.mode & 0o7777, mime: 'image/png' });
		audited(b, 'files.stat', 'grant', { path: 'Docs/a.png' });
		// the same shape as the listing's entry
		const l = await req(b, c, 'GET', '/api/files/Docs');
		const { path: _p, ...entry } = r.json;
		assert.deepStrictEqual(l.json.entries[0], entry);
		r = await req(b, c, 'GET', '/api/files/Docs?stat=1');
		assert.strictEqual(r.json.type, 'directory');
		r = await req(b, c, 'GET', '/api/files?stat=1');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(r.json.type, 'directory', 'the home itself');
		// a link is described, not followed
		r = await req(b, c, 'GET', '/api/files/shadow?stat=1');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(r.json.type, 'symlink');
		assert.ok(!('mime' in r.json));
		fs.symlinkSync('/etc', path.join(b.home, 'etcdir'));
		r = await req(b, c, 'GET', '/api/files/etcdir/passwd?stat=1');
		assert.strictEqual(r.status, 403, 'through a symlinked directory');
		audited(b, 'files.stat', 'deny', { path: 'etcdir/passwd', reason: /symbolic link/ });
		r = await req(b, c, 'GET', '/api/files/nope?stat=1');
		assert.strictEqual(r.status, 404);
		audited(b, 'files.stat', 'deny', { path: 'nope', reason: 'no such file or directory' });
		r = await req(b, c, 'GET', `/api/files/${'n'.repeat(300)}?stat=1`);
		assert.strictEqual(r.status, 400);
		const anon = await req(b, null, 'GET', '/api/files/Docs?stat=1');
		assert.strictEqual(anon.status, 401);
		// another user sees their own home only
		const m = await lib.login(b, 'mauve');
		r = await req(b, m, 'GET', '/api/files/Docs/a.png?stat=1');
		assert.strictEqual(r.status, 404, 'another user\'s file');
		await lib.stopBroker(b);
	},

	async copy() {
		const b = await start({ users: { bea: 1 << 20 } });
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const h = b.home;
		const post = (p, body, cc = c) => req(b, cc, 'POST', p, { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
		fs.mkdirSync(path.join(h, 'Docs/deep/er'), { recursive: true });
		const blob = crypto.randomBytes(300 << 10);
		fs.writeFileSync(path.join(h, 'Docs/a.bin'), blob, { mode: 0o640 });
		fs.writeFileSync(path.join(h, 'Docs/deep/er/n.txt'), 'nested');
		fs.symlinkSync('/etc/shadow', path.join(h, 'Docs/shadow'));
		execFileSync('chown', ['-R', `${BEA_UID}:${BEA_UID}`, h]);
		// a file: 202, the answer arrives when it is done
		let r = await post('/api/files/Docs/a.bin', { action: 'copy', to: 'b.bin' });
		assert.strictEqual(r.status, 202, `copy: ${r.body}`);
		assert.deepStrictEqual(r.json, { path: 'Docs/a.bin', to: 'b.bin', bytes: blob.length, skipped: 0 });
		assert.strictEqual(sha(fs.readFileSync(path.join(h, 'b.bin'))), sha(blob));
		const st = fs.statSync(path.join(h, 'b.bin'));
		assert.strictEqual(st.uid, BEA_UID, 'the copy is bea\'s');
		assert.strictEqual(st.mode & 0o777, 0o640, 'mode kept');
		audited(b, 'files.copy', 'grant', { path: 'Docs/a.bin', to: 'b.bin', step: 'start', type: 'file' });
		audited(b, 'files.copy', 'info', { path: 'Docs/a.bin', to: 'b.bin', step: 'done', bytes: blob.length });
		// a folder, recursively; a link is copied as a link, never followed
		r = await post('/api/files/Docs', { action: 'copy', to: 'Copy of Docs' });
		assert.strictEqual(r.status, 202);
		assert.strictEqual(r.json.bytes, blob.length + 6);
		const cd = path.join(h, 'Copy of Docs');
		assert.strictEqual(fs.readFileSync(path.join(cd, 'deep/er/n.txt'), 'utf8'), 'nested');
		assert.strictEqual(sha(fs.readFileSync(path.join(cd, 'a.bin'))), sha(blob));
		assert.ok(fs.lstatSync(path.join(cd, 'shadow')).isSymbolicLink());
		assert.strictEqual(fs.readlinkSync(path.join(cd, 'shadow')), '/etc/shadow');
		assert.strictEqual(fs.lstatSync(path.join(cd, 'shadow')).uid, BEA_UID);
		assert.strictEqual(fs.statSync(path.join(cd, 'deep')).uid, BEA_UID);
		assert.deepStrictEqual(fs.readdirSync(h).filter((n) => n.startsWith('.argobox-copy')), [], 'no temporary left');
		// refusals, each answered and audited
		r = await post('/api/files/Docs/a.bin', { action: 'copy', to: 'b.bin' });
		assert.strictEqual(r.status, 409, 'target exists');
		audited(b, 'files.copy', 'deny', { path: 'Docs/a.bin', to: 'b.bin', reason: 'already exists' });
		assert.strictEqual(sha(fs.readFileSync(path.join(h, 'b.bin'))), sha(blob), 'nothing replaced');
		r = await post('/api/files/Docs', { action: 'copy', to: 'Docs/deep/Docs' });
		assert.strictEqual(r.status, 400, 'into itself');
		audited(b, 'files.copy', 'deny', { to: 'Docs/deep/Docs', reason: /into itself/ });
		r = await post('/api/files/Docs', { action: 'copy' });
		assert.strictEqual(r.status, 400, 'no target');
		fs.symlinkSync('/etc', path.join(h, 'etcdir'));
		fs.symlinkSync('/tmp', path.join(h, 'tmpdir'));
		for (const [src, to, status, why] of [
			['Docs/a.bin', '../x', 400, /'\.' or '\.\.'/],
			['Docs/a.bin', `/tmp/${path.basename(tmp)}-x`, 400, /absolute/],
			['Docs/a.bin', `tmpdir/${path.basename(tmp)}-x`, 403, /symbolic link/],
			['etcdir/passwd', 'passwd', 403, /symbolic link/],
			['nope', 'x', 404, /no such file/],
		]) {
			r = await post(`/api/files/${src}`, { action: 'copy', to });
			assert.strictEqual(r.status, status, `copy ${src} to ${to}: ${r.status} ${r.body}`);
			audited(b, 'files.copy', 'deny', { path: src, to, reason: why });
		}
		assert.ok(!fs.existsSync(`/tmp/${path.basename(tmp)}-x`) && !fs.existsSync(path.join(h, 'passwd')));
		// another user copies in their own home only
		const m = await lib.login(b, 'mauve');
		r = await post('/api/files/Docs/a.bin', { action: 'copy', to: 'mine.bin' }, m);
		assert.strictEqual(r.status, 404, 'another user\'s file');
		audited(b, 'files.copy', 'deny', { path: 'Docs/a.bin', to: 'mine.bin' });
		// the quota (1 MiB here): a file at once, a folder by the child before a byte is written
		fs.writeFileSync(path.join(h, 'big.bin'), Buffer.alloc((1 << 20) + 1));
		r = await post('/api/files/big.bin', { action: 'copy', to: 'big2.bin' });
		assert.strictEqual(r.status, 413, 'a file over the quota');
		audited(b, 'files.quota', 'deny', { path: 'big.bin', reason: 'quota exceeded by a copy' });
		fs.mkdirSync(path.join(h, 'Two'));
		fs.writeFileSync(path.join(h, 'Two/1'), Buffer.alloc(600 << 10));
		fs.writeFileSync(path.join(h, 'Two/2'), Buffer.alloc(600 << 10));
		r = await post('/api/files/Two', { action: 'copy', to: 'Two2' });
		assert.strictEqual(r.status, 202);
		assert.strictEqual(r.json.status, 413, `a folder over the quota: ${r.body}`);
		assert.match(r.json.error, /quota exceeded/);
		audited(b, 'files.quota', 'deny', { path: 'Two', to: 'Two2', bytes: 1200 << 10 });
		assert.ok(!fs.existsSync(path.join(h, 'Two2')));
		// a copy that fails half-way (a file bea may not read): nothing under the final name
		fs.mkdirSync(path.join(h, 'Part'));
		fs.writeFileSync(path.join(h, 'Part/a'), 'a');
		fs.writeFileSync(path.join(h, 'Part/z-root-only'), 'secret', { mode: 0o600 });
		fs.chownSync(path.join(h, 'Part/a'), BEA_UID, BEA_UID);
		r = await post('/api/files/Part', { action: 'copy', to: 'Part2' });
		assert.strictEqual(r.status, 202);
		assert.strictEqual(r.json.status, 403, `unreadable file: ${r.body}`);
		audited(b, 'files.copy', 'failure', { path: 'Part', to: 'Part2', step: 'failed' });
		assert.ok(!fs.existsSync(path.join(h, 'Part2')), 'no partial target under the final name');
		assert.deepStrictEqual(fs.readdirSync(h).filter((n) => n.startsWith('.argobox-copy')), [], 'temporary removed');
		await lib.stopBroker(b);
	},

	async archive() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const h = b.home;
		const t = path.join(h, 'Arch');
		fs.mkdirSync(path.join(t, 'sub/empty'), { recursive: true });
		fs.writeFileSync(path.join(t, 'a.txt'), 'alpha');
		const blob = crypto.randomBytes(3 << 20);
		fs.writeFileSync(path.join(t, 'sub/b.bin'), blob);
		fs.symlinkSync('/etc/shadow', path.join(t, 'shadow'));
		execFileSync('chown', ['-R', `${BEA_UID}:${BEA_UID}`, h]);
		fs.writeFileSync(path.join(tmp, 'root-secret2'), 'secret', { mode: 0o600 });
		fs.linkSync(path.join(tmp, 'root-secret2'), path.join(t, 'hard'));
		let r = await req(b, c, 'GET', '/api/files/Arch?archive=tar');
		assert.strictEqual(r.status, 200);
		assert.strictEqual(r.headers['content-type'], 'application/x-tar');
		assert.match(r.headers['content-disposition'], /^attachment; filename\*=UTF-8''Arch\.tar$/);
		audited(b, 'files.archive', 'grant', { path: 'Arch', step: 'start' });
		const out = path.join(tmp, 'extract');
		fs.mkdirSync(out);
		fs.writeFileSync(path.join(tmp, 'a.tar'), r.body);
		execFileSync('tar', ['-xf', path.join(tmp, 'a.tar'), '-C', out]);
		assert.strictEqual(fs.readFileSync(path.join(out, 'Arch/a.txt'), 'utf8'), 'alpha');
		assert.strictEqual(sha(fs.readFileSync(path.join(out, 'Arch/sub/b.bin'))), sha(blob));
		assert.ok(fs.statSync(path.join(out, 'Arch/sub/empty')).isDirectory());
		assert.ok(fs.lstatSync(path.join(out, 'Arch/shadow')).isSymbolicLink(), 'a link stays a link');
		assert.strictEqual(fs.readlinkSync(path.join(out, 'Arch/shadow')), '/etc/shadow');
		assert.ok(!fs.existsSync(path.join(out, 'Arch/hard')), 'a hard link to root\'s file is left out');
		const list = execFileSync('tar', ['-tf', path.join(tmp, 'a.tar')]).toString().split('\n').filter(Boolean).sort();
		assert.deepStrictEqual(list, ['Arch/', 'Arch/a.txt', 'Arch/shadow', 'Arch/sub/', 'Arch/sub/b.bin', 'Arch/sub/empty/'].sort());
		await lib.waitFor('the archive\'s end audited', () => lib.auditLines(b).some((l) => l.event === 'files.archive' && l.outcome === 'info'));
		audited(b, 'files.archive', 'info', { path: 'Arch', step: 'done', bytes: r.body.length });
		// the same folder as a zip, read back by another implementation (Python's zipfile,
		// which checks every entry's CRC)
		r = await req(b, c, 'GET', '/api/files/Arch?archive=zip');
		assert.strictEqual(r.status, 200, `zip: ${r.status}`);
		assert.strictEqual(r.headers['content-type'], 'application/zip');
		assert.match(r.headers['content-disposition'], /^attachment; filename\*=UTF-8''Arch\.zip$/);
		audited(b, 'files.archive', 'grant', { path: 'Arch', step: 'start', format: 'zip' });
		fs.writeFileSync(path.join(tmp, 'a.zip'), r.body);
		const zinfo = JSON.parse(execFileSync('python3', ['-c', `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, 'a CRC is wrong'
out = {}
for i in z.infolist():
    mode = i.external_attr >> 16
    out[i.filename] = {'sha': hashlib.sha256(z.read(i)).hexdigest(), 'link': (mode & 0o170000) == 0o120000,
                       'data': z.read(i).decode('latin-1') if i.file_size < 64 else ''}
print(json.dumps(out))`, path.join(tmp, 'a.zip')]).toString());
		assert.deepStrictEqual(Object.keys(zinfo).sort(), ['Arch/', 'Arch/a.txt', 'Arch/shadow', 'Arch/sub/', 'Arch/sub/b.bin', 'Arch/sub/empty/'].sort());
		assert.strictEqual(zinfo['Arch/a.txt'].data, 'alpha');
		assert.strictEqual(zinfo['Arch/sub/b.bin'].sha, sha(blob), 'the 3 MiB file intact in the zip');
		assert.ok(zinfo['Arch/shadow'].link, 'a link stays a link in the zip');
		assert.strictEqual(zinfo['Arch/shadow'].data, '/etc/shadow');
		await lib.waitFor('the zip\'s end audited', () => lib.auditLines(b).filter((l) => l.event === 'files.archive' && l.outcome === 'info').length >= 2);
		audited(b, 'files.archive', 'info', { path: 'Arch', step: 'done', bytes: r.body.length });
		r = await req(b, c, 'GET', '/api/files/Arch?archive=rar');
		assert.strictEqual(r.status, 400, 'an unknown archive format');
		assert.match(r.json.error, /archive must be tar or zip/);
		audited(b, 'files.archive', 'deny', { path: 'Arch', reason: /archive must be tar or zip/ });
		// the home itself
		r = await req(b, c, 'GET', '/api/files?archive=tar');
		assert.strictEqual(r.status, 200);
		assert.match(r.headers['content-disposition'], /''bea\.tar$/);
		fs.writeFileSync(path.join(tmp, 'h.tar'), r.body);
		assert.ok(execFileSync('tar', ['-tf', path.join(tmp, 'h.tar')]).toString().split('\n').includes('bea/Arch/sub/b.bin'));
		// a client that stalls longer than lws's transaction timeout still gets the whole tar
		fs.writeFileSync(path.join(t, 'sub/c.bin'), crypto.randomBytes(48 << 20));
		fs.chownSync(path.join(t, 'sub/c.bin'), BEA_UID, BEA_UID);
		const slow = await slowGet(b, c, '/api/files/Arch/sub?archive=tar', 7000);
		fs.writeFileSync(path.join(tmp, 's.tar'), slow);
		const out2 = path.join(tmp, 'extract2');
		fs.mkdirSync(out2);
		execFileSync('tar', ['-xf', path.join(tmp, 's.tar'), '-C', out2]);
		assert.strictEqual(sha(fs.readFileSync(path.join(out2, 'sub/c.bin'))), sha(fs.readFileSync(path.join(t, 'sub/c.bin'))), 'a stalled archive is not cut');
		fs.rmSync(path.join(t, 'sub/c.bin'));
		// refusals
		fs.symlinkSync('/etc', path.join(h, 'etcdir'));
		for (const [p, status, why] of [
			['Arch/a.txt', 400, /only a folder/],
			['etcdir', 403, /symbolic link/],
			['etcdir/ssl', 403, /symbolic link/],
			['nope', 404, /no such file/],
		]) {
			r = await req(b, c, 'GET', `/api/files/${p}?archive=tar`);
			assert.strictEqual(r.status, status, `archive ${p}: ${r.status}`);
			audited(b, 'files.archive', 'deny', { path: p, reason: why });
		}
		const m = await lib.login(b, 'mauve');
		r = await req(b, m, 'GET', '/api/files/Arch?archive=tar');
		assert.strictEqual(r.status, 404, 'another user\'s folder');
		r = await req(b, null, 'GET', '/api/files/Arch?archive=tar');
		assert.strictEqual(r.status, 401);
		// a client that leaves mid-stream: the child is killed, the loop goes on
		fs.writeFileSync(path.join(t, 'sub/big.bin'), crypto.randomBytes(32 << 20));
		fs.chownSync(path.join(t, 'sub/big.bin'), BEA_UID, BEA_UID);
		await new Promise((resolve) => {
			const s = net.connect(b.port, '127.0.0.1', () => s.write(`GET /api/files/Arch?archive=tar HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\n\r\n`));
			let got = 0;
			s.on('data', (d) => { got += d.length; if (got > 1 << 20) { s.destroy(); resolve(); } });
		});
		await lib.waitFor('the cut archive audited', () => lib.auditLines(b).some((l) => l.event === 'files.archive' && l.outcome === 'failure'));
		audited(b, 'files.archive', 'failure', { path: 'Arch', step: 'failed' });
		r = await req(b, c, 'GET', '/api/files/Arch?stat=1');
		assert.strictEqual(r.status, 200, 'the broker still answers');
		await lib.stopBroker(b);
	},

	async upload() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const data = crypto.randomBytes(3 << 20);
		const final = await upload(b, c, 'photo.jpg', data);
		assert.strictEqual(final, 'Uploads/photo.jpg', 'default destination ~/Uploads');
		const file = path.join(b.home, 'Uploads/photo.jpg');
		assert.strictEqual(sha(fs.readFileSync(file)), sha(data));
		const st = fs.statSync(file);
		assert.strictEqual(st.uid, BEA_UID, 'uploaded file owned by bea\'s mapped uid');
		assert.strictEqual(fs.statSync(path.join(b.home, 'Uploads')).uid, BEA_UID);
		audited(b, 'files.upload', 'grant', { step: 'create', filename: 'photo.jpg', length: data.length });
		audited(b, 'files.upload', 'grant', { step: 'complete', path: 'Uploads/photo.jpg', bytes: data.length });
		assert.deepStrictEqual(fs.readdirSync(path.join(b.home, '.argobox-uploads')), [], 'no temporary file left');
		// the same name again: a new name, nothing replaced
		const again = await upload(b, c, 'photo.jpg', Buffer.from('second'), { destination: 'Uploads' });
		assert.strictEqual(again, 'Uploads/photo (2).jpg');
		assert.strictEqual(sha(fs.readFileSync(file)), sha(data), 'first upload untouched');
		// into the home itself, and an empty file
		assert.strictEqual(await upload(b, c, 'empty', Buffer.alloc(0), { destination: '/' }), 'empty');
		// protocol errors
		let r = await req(b, c, 'POST', '/api/uploads', { headers: { 'Upload-Length': '5', 'Upload-Metadata': meta({ filename: 'x' }) }, contentLength: 0 });
		assert.strictEqual(r.status, 412, 'no Tus-Resumable');
		r = await create(b, c, 10, { filename: 'w.bin' });
		const loc = r.headers.location;
		r = await patch(b, c, loc, 3, Buffer.from('abc'));
		assert.strictEqual(r.status, 409, 'wrong offset');
		assert.strictEqual(r.headers['upload-offset'], '0');
		audited(b, 'files.upload', 'deny', { status: 409 });
		r = await req(b, c, 'PATCH', loc, { headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'text/plain' }, body: 'abc' });
		assert.strictEqual(r.status, 415, 'wrong content type');
		// termination
		r = await req(b, c, 'DELETE', loc, { headers: TUS });
		assert.strictEqual(r.status, 204);
		audited(b, 'files.upload', 'info', { step: 'terminate' });
		r = await req(b, c, 'HEAD', loc, { headers: TUS });
		assert.strictEqual(r.status, 404, 'terminated upload is gone');
		// someone else's upload does not exist for another user
		const r2 = await create(b, c, 4, { filename: 'mine' });
		const other = await lib.login(b, 'mauve');
		r = await patch(b, other, r2.headers.location, 0, Buffer.from('evil'));
		assert.strictEqual(r.status, 404, 'another user\'s upload');
		audited(b, 'files.upload', 'deny', { reason: 'no such upload' });
		await lib.stopBroker(b);
	},

	async resume() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const data = crypto.randomBytes(8 << 20);
		const loc = (await create(b, c, data.length, { filename: 'big.bin', destination: 'In/Box' })).headers.location;
		// the connection drops after ~3 MiB of a PATCH announcing all 8
		await patch(b, c, loc, 0, data, { cut: 3 << 20 });
		const off = await lib.waitFor('the cut to be seen', async () => {
			const o = await head(b, c, loc);
			return o > 0 && o;
		});
		assert.ok(off <= 3 << 20, `offset ${off} <= bytes sent`);
		assert.ok(!fs.existsSync(path.join(b.home, 'In/Box/big.bin')), 'nothing under the final name yet');
		// the broker restarts: the upload survives (record + temporary file)
		await lib.stopBroker(b);
		const b2 = await start();
		const c2 = await lib.login(b2, 'bea');
		assert.strictEqual(await head(b2, c2, loc), off, 'offset after a broker restart');
		const r = await patch(b2, c2, loc, off, data.subarray(off));
		assert.strictEqual(r.status, 204, `resume: ${r.body}`);
		assert.strictEqual(sha(fs.readFileSync(path.join(b2.home, 'In/Box/big.bin'))), sha(data), 'resumed file intact');
		audited(b2, 'files.upload', 'grant', { step: 'complete', path: 'In/Box/big.bin', bytes: data.length });
		await lib.stopBroker(b2);
	},

	async quota() {
		const b = await start({ users: { bea: 1 << 20 }, usage_refresh_s: 1 });
		const c = await lib.login(b, 'bea');
		const l = await ready(b, c);
		assert.strictEqual(l.usage.limit, 1 << 20, 'per-user quota in the listing');
		let r = await create(b, c, 2 << 20, { filename: 'huge' }, 413);
		assert.match(r.json.error, /quota exceeded/);
		audited(b, 'files.quota', 'deny', { filename: 'huge', quota: 1 << 20 });
		// two uploads that each fit, not together: the second is refused while writing
		const a = (await create(b, c, 700 << 10, { filename: 'a' })).headers.location;
		const z = (await create(b, c, 700 << 10, { filename: 'z' })).headers.location;
		r = await patch(b, c, a, 0, crypto.randomBytes(700 << 10));
		assert.strictEqual(r.status, 204);
		r = await patch(b, c, z, 0, crypto.randomBytes(700 << 10));
		assert.strictEqual(r.status, 413, 'over quota while writing');
		assert.match(r.json.error, /quota exceeded/);
		audited(b, 'files.quota', 'deny', { quota: 1 << 20 });
		assert.ok(!fs.existsSync(path.join(b.home, 'Uploads/z')));
		const u = (await req(b, c, 'GET', '/api/files')).json.usage;
		assert.ok(u.used >= 700 << 10 && u.used < 1 << 20, `usage ${u.used} counts the upload`);
		await lib.stopBroker(b);
	},

	async oversize() {
		const b = await start({ upload_max_bytes: 1 << 20 });
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		let r = await create(b, c, (1 << 20) + 1, { filename: 'big' }, 413);
		assert.match(r.json.error, /larger than the limit/);
		audited(b, 'files.upload', 'deny', { status: 413, filename: 'big' });
		const loc = (await create(b, c, 10, { filename: 'small' })).headers.location;
		r = await patch(b, c, loc, 0, Buffer.alloc(20));
		assert.strictEqual(r.status, 413, 'more bytes than Upload-Length');
		audited(b, 'files.upload', 'deny', { reason: 'more bytes than Upload-Length' });
		const cfgBad = lib.brokerConfig(tmp, { files: { quota_bytes: -1 } });
		fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify(cfgBad));
		let out = '';
		try {
			execFileSync(lib.paths.brokerBin, ['--config', path.join(tmp, 'bad.json'), '--check-config'], { stdio: 'pipe' });
		} catch (e) { out = String(e.stderr) + String(e.stdout); }
		assert.match(out, /files\.quota_bytes/, 'a bad files config names its path');
		await lib.stopBroker(b);
	},

	async traversal() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const h = b.home;
		// planted by the desktop user: links out of the home, a FIFO, a hard link to root's file
		fs.symlinkSync('/etc/shadow', path.join(h, 'shadow'));
		fs.symlinkSync('/etc', path.join(h, 'etcdir'));
		execFileSync('mkfifo', [path.join(h, 'fifo')]);
		fs.writeFileSync(path.join(tmp, 'root-secret'), 'secret', { mode: 0o600 });
		fs.linkSync(path.join(tmp, 'root-secret'), path.join(h, 'hard'));
		const get = (p) => req(b, c, 'GET', p);
		let r = await get('/api/files/shadow');
		assert.strictEqual(r.status, 403, 'symlink to /etc/shadow');
		audited(b, 'files.download', 'deny', { path: 'shadow', reason: /symbolic link/ });
		r = await get('/api/files/etcdir/passwd');
		assert.strictEqual(r.status, 403, 'through a symlinked directory');
		audited(b, 'files.download', 'deny', { path: 'etcdir/passwd', reason: /symbolic link/ });
		r = await get('/api/files/etcdir');
		assert.strictEqual(r.status, 403, 'listing a symlinked directory');
		r = await get('/api/files/fifo');
		assert.strictEqual(r.status, 403, 'a FIFO (and the broker did not hang)');
		audited(b, 'files.download', 'deny', { path: 'fifo', type: 'fifo' });
		r = await get('/api/files/hard');
		assert.strictEqual(r.status, 403, 'a hard link to root\'s file');
		audited(b, 'files.download', 'deny', { path: 'hard', reason: /hard link/ });
		// dot segments, encoded or not, and an encoded NUL never reach a file
		for (const p of ['/api/files/../../../etc/passwd', '/api/files/%2e%2e/%2e%2e/etc/passwd',
			'/api/files/x/..%2f..%2f..%2fetc%2fpasswd', '/api/files/a%00b', '/api/files//etc/passwd']) {
			r = await get(p);
			// 0: lws itself hangs up on an encoded NUL
			assert.ok(r.status === 0 || r.status >= 400, `${p}: ${r.status}`);
			assert.ok(!/root:/.test(r.body.toString()), `${p} served /etc/passwd`);
		}
		const long = 'n'.repeat(300);
		r = await get(`/api/files/${long}`);
		assert.strictEqual(r.status, 400, 'overlong name');
		audited(b, 'files.download', 'deny', { reason: 'name longer than 255 bytes' });
		r = await get('/api/files/%ff%fe');
		assert.strictEqual(r.status, 400, 'invalid UTF-8');
		// upload destinations and names, rename targets: from headers and bodies
		for (const [m, why] of [
			[{ filename: 'x', destination: '../../etc' }, /'\.' or '\.\.'/],
			[{ filename: 'x', destination: '/etc' }, /absolute/],
			[{ filename: '../x' }, /without '\/'/],
			[{ filename: 'a\u0000b' }, /base64|control/],
			[{ filename: long }, /255/],
		]) {
			r = await create(b, c, 1, m, 400);
			assert.match(r.json.error, why);
			audited(b, 'files.upload', 'deny', { reason: why });
		}
		r = await create(b, c, 1, { filename: 'x', destination: 'etcdir' }, 403);
		audited(b, 'files.upload', 'deny', { reason: /symbolic link/ });
		fs.writeFileSync(path.join(h, 'mine'), 'm');
		for (const to of ['../mine', '/tmp/mine', 'etcdir/mine']) {
			r = await req(b, c, 'POST', '/api/files/mine', { body: JSON.stringify({ action: 'rename', to }), headers: { 'Content-Type': 'application/json' } });
			assert.ok(r.status === 400 || r.status === 403, `rename to ${to}: ${r.status}`);
			audited(b, 'files.rename', 'deny', { to });
		}
		assert.ok(!fs.existsSync('/etc/mine') && !fs.existsSync('/tmp/mine'));
		assert.strictEqual(fs.readFileSync(path.join(h, 'mine'), 'utf8'), 'm');
		r = await req(b, c, 'POST', '/api/files/etcdir/newdir', { body: JSON.stringify({ action: 'mkdir' }), headers: { 'Content-Type': 'application/json' } });
		assert.strictEqual(r.status, 403, 'mkdir through a symlinked directory');
		assert.ok(!fs.existsSync('/etc/newdir'));
		// an upload whose temporary directory was swapped for a link by the user
		const loc = (await create(b, c, 4, { filename: 't' })).headers.location;
		fs.rmSync(path.join(h, '.argobox-uploads'), { recursive: true });
		fs.symlinkSync('/tmp', path.join(h, '.argobox-uploads'));
		r = await patch(b, c, loc, 0, Buffer.from('abcd'));
		assert.strictEqual(r.status, 403, 'temporary directory replaced by a symlink');
		await lib.stopBroker(b);
	},

	async concurrent() {
		const b = await start();
		const c = await lib.login(b, 'bea');
		await ready(b, c);
		const blobs = [0, 1, 2, 3].map(() => crypto.randomBytes(2 << 20));
		const finals = await Promise.all(blobs.map((d, i) => upload(b, c, `c${i}.bin`, d)));
		finals.forEach((f, i) => assert.strictEqual(sha(fs.readFileSync(path.join(b.home, f))), sha(blobs[i])));
		// two clients on the same upload: the second is locked out while the first writes
		const data = crypto.randomBytes(1 << 20);
		const loc = (await create(b, c, data.length, { filename: 'same.bin' })).headers.location;
		const s = net.connect(b.port, '127.0.0.1');
		await new Promise((r) => s.on('connect', r));
		s.write(`PATCH ${loc} HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nOrigin: http://127.0.0.1:${b.port}\r\n` +
			`Cookie: ${c.cookie}\r\nX-CSRF-Token: ${c.csrf}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n` +
			`Content-Type: application/offset+octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`);
		s.write(data.subarray(0, 1000));
		await lib.sleep(300);
		const r = await patch(b, c, loc, 0, data);
		assert.strictEqual(r.status, 423, `second writer: ${r.status}`);
		audited(b, 'files.upload', 'deny', { status: 423 });
		let answer = '';
		s.on('data', (d) => { answer += d; });
		s.write(data.subarray(1000));
		await lib.waitFor('the first writer to finish', () => /^HTTP\/1\.1 204/.test(answer));
		s.destroy();
		assert.strictEqual(sha(fs.readFileSync(path.join(b.home, 'Uploads/same.bin'))), sha(data));
		await lib.stopBroker(b);
	},
};

lib.runCase('files', cases);
