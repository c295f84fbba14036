// SPDX-License-Identifier: GPL-2.0-or-later
// Files dropped on the desktop page go to the home (~/Uploads) with tus 1.0.0 (docs/files.md):
// a small client of our own (creation, PATCH in chunks with progress, HEAD to resume after a
// network cut or a reload, termination on cancel), a progress list, and a files panel whose
// entries are download links (GET /api/files/...). No dependency: the protocol is four
// requests, and the broker is its only server.

const CHUNK = 8 << 20; // one PATCH; a cut costs at most this much
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
const $ = (id) => document.getElementById(id);

let csrf = null;
// The session's CSRF token (from /api/me, once): every POST/PUT/PATCH/DELETE sends it.
export async function token() {
	if (csrf !== null) return csrf;
	try {
		const r = await fetch('/api/me', { credentials: 'same-origin' });
		csrf = r.ok ? ((await r.json()).csrf_token ?? '') : '';
	} catch {
		csrf = null; // try again next time
	}
	return csrf ?? '';
}

function b64(s) {
	const bytes = new TextEncoder().encode(s);
	let bin = '';
	for (const b of bytes) bin += String.fromCharCode(b);
	return btoa(bin);
}

async function tusHeaders(extra = {}) {
	return { 'Tus-Resumable': '1.0.0', 'X-CSRF-Token': await token(), ...extra };
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

// A tus upload of one File. onProgress(sent, total); resolves the final path in the home.
// The upload URL is kept in localStorage under the file's fingerprint, so a reload resumes.
export class TusUpload {
	constructor(file, { destination = 'Uploads', onProgress = () => {}, chunk = CHUNK } = {}) {
		this.file = file;
		this.destination = destination;
		this.onProgress = onProgress;
		this.chunk = chunk;
		this.xhr = null;
		this.cancelled = false;
		this.key = `argobox.tus:${destination}/${file.name}:${file.size}:${file.lastModified}`;
	}

	async create() {
		const meta = `filename ${b64(this.file.name)},destination ${b64(this.destination)}`;
		const r = await fetch('/api/uploads', {
			method: 'POST',
			credentials: 'same-origin',
			headers: await tusHeaders({ 'Upload-Length': String(this.file.size), 'Upload-Metadata': meta }),
		});
		if (r.status !== 201) throw new UploadError(r.status, await message(r));
		this.url = r.headers.get('Location');
		localStorage.setItem(this.key, this.url);
	}

	async offset() {
		const r = await fetch(this.url, { method: 'HEAD', credentials: 'same-origin', headers: await tusHeaders() });
		if (r.status === 404 || r.status === 410) return -1;
		if (!r.ok) throw new UploadError(r.status, `resuming: HTTP ${r.status}`);
		return Number(r.headers.get('Upload-Offset'));
	}

	// One PATCH of [offset, end): resolves {offset, final}.
	async patch(offset) {
		const end = Math.min(offset + this.chunk, this.file.size);
		const headers = await tusHeaders({
			'Upload-Offset': String(offset),
			'Content-Type': 'application/offset+octet-stream',
		});
		return new Promise((resolve, reject) => {
			const x = new XMLHttpRequest();
			this.xhr = x;
			x.open('PATCH', this.url);
			for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
			x.upload.onprogress = (e) => this.onProgress(offset + e.loaded, this.file.size);
			x.onload = () => {
				if (x.status === 204) {
					resolve({ offset: Number(x.getResponseHeader('Upload-Offset')), final: x.getResponseHeader('Upload-Final-Path') });
				} else {
					let m = `HTTP ${x.status}`;
					try { m = JSON.parse(x.responseText).error || m; } catch { /* not JSON */ }
					reject(new UploadError(x.status, m));
				}
			};
			x.onerror = () => reject(new UploadError(0, 'network error'));
			x.onabort = () => reject(new UploadError(0, 'cancelled'));
			x.send(this.file.slice(offset, end));
		});
	}

	async start() {
		this.url = localStorage.getItem(this.key);
		let offset = this.url ? await this.offset().catch(() => -1) : -1;
		if (offset < 0) {
			await this.create();
			offset = 0;
		}
		let attempt = 0;
		for (;;) {
			if (this.cancelled) throw new UploadError(0, 'cancelled');
			try {
				const r = await this.patch(offset);
				attempt = 0;
				offset = r.offset;
				this.onProgress(offset, this.file.size);
				if (offset >= this.file.size) {
					localStorage.removeItem(this.key);
					return r.final;
				}
			} catch (e) {
				// 4xx other than a conflict are final (quota, size, auth); the network is retried
				if (this.cancelled || (e.status >= 400 && e.status < 500 && e.status !== 409 && e.status !== 423)) {
					if (e.status !== 0) localStorage.removeItem(this.key);
					throw e;
				}
				this.onRetry?.(e, attempt);
				await sleep(RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
				const o = await this.offset().catch(() => null);
				if (o === -1) throw new UploadError(410, 'the upload expired on the server');
				if (o !== null) offset = o;
			}
		}
	}

	async cancel() {
		this.cancelled = true;
		this.xhr?.abort();
		localStorage.removeItem(this.key);
		if (this.url) {
			await fetch(this.url, { method: 'DELETE', credentials: 'same-origin', headers: await tusHeaders() }).catch(() => {});
		}
	}
}

class UploadError extends Error {
	constructor(status, msg) {
		super(msg);
		this.status = status;
	}
}

async function message(r) {
	try {
		return (await r.json()).error || `HTTP ${r.status}`;
	} catch {
		return `HTTP ${r.status}`;
	}
}

function fmtBytes(n) {
	const u = ['B', 'KB', 'MB', 'GB', 'TB'];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function fileUrl(p) {
	return `/api/files/${p.split('/').map(encodeURIComponent).join('/')}`;
}

// ---- the page: drop zone, progress list, files panel ----

function uploadRow(file) {
	const li = document.createElement('li');
	li.className = 'upload';
	li.innerHTML = '<span class="name"></span><progress max="1" value="0"></progress><span class="state"></span><button type="button" class="cancel" aria-label="Cancel">×</button>';
	li.querySelector('.name').textContent = file.name;
	$('uploads-list').append(li);
	$('uploads').hidden = false;
	return li;
}

export function uploadFiles(files, destination = 'Uploads') {
	for (const file of files) {
		const li = uploadRow(file);
		const bar = li.querySelector('progress');
		const state = li.querySelector('.state');
		const up = new TusUpload(file, {
			destination,
			onProgress: (sent, total) => {
				bar.value = total ? sent / total : 1;
				state.textContent = `${fmtBytes(sent)} / ${fmtBytes(total)}`;
			},
		});
		up.onRetry = () => {
			li.dataset.state = 'retrying';
			state.textContent = 'connection lost, resuming…';
		};
		li.querySelector('.cancel').onclick = () => up.cancel();
		li.dataset.state = 'uploading';
		up.start().then((final) => {
			li.dataset.state = 'done';
			bar.value = 1;
			state.textContent = '';
			const a = document.createElement('a');
			a.href = fileUrl(final);
			a.textContent = `~/${final}`;
			a.setAttribute('download', '');
			state.append(a);
			li.querySelector('.cancel').remove();
			if ($('files-panel') && !$('files-panel').hidden) showDir(current);
		}, (e) => {
			li.dataset.state = 'failed';
			state.textContent = e.message;
		});
	}
}

let current = '';
async function showDir(dir) {
	current = dir;
	const list = $('files-list');
	$('files-path').textContent = `~/${dir}`;
	const r = await fetch(dir ? fileUrl(dir) : '/api/files', { credentials: 'same-origin' });
	const body = await r.json().catch(() => ({}));
	list.textContent = '';
	if (!r.ok) {
		list.textContent = body.error || `HTTP ${r.status}`;
		return;
	}
	const u = body.usage;
	$('files-usage').textContent = u?.known ? `${fmtBytes(u.used)}${u.limit ? ` of ${fmtBytes(u.limit)}` : ''} used` : '';
	if (dir) {
		const li = document.createElement('li');
		const b = document.createElement('button');
		b.type = 'button';
		b.textContent = '..';
		b.onclick = () => showDir(dir.split('/').slice(0, -1).join('/'));
		li.append(b);
		list.append(li);
	}
	for (const e of body.entries || []) {
		const li = document.createElement('li');
		const p = dir ? `${dir}/${e.name}` : e.name;
		if (e.type === 'directory') {
			const b = document.createElement('button');
			b.type = 'button';
			b.textContent = `${e.name}/`;
			b.onclick = () => showDir(p);
			li.append(b);
		} else if (e.type === 'file') {
			const a = document.createElement('a');
			a.href = fileUrl(p);
			a.setAttribute('download', e.name);
			a.textContent = e.name;
			const s = document.createElement('span');
			s.textContent = ` ${fmtBytes(e.size)}`;
			li.append(a, s);
		} else {
			li.textContent = `${e.name} (${e.type})`;
		}
		list.append(li);
	}
}

function setup() {
	const drop = $('drop-zone');
	let depth = 0;
	const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
	window.addEventListener('dragenter', (e) => {
		if (!hasFiles(e)) return;
		e.preventDefault();
		depth++;
		drop.hidden = false;
	});
	window.addEventListener('dragleave', () => {
		if (--depth <= 0) {
			depth = 0;
			drop.hidden = true;
		}
	});
	window.addEventListener('dragover', (e) => {
		if (hasFiles(e)) e.preventDefault();
	});
	window.addEventListener('drop', (e) => {
		if (!e.dataTransfer?.files?.length) return;
		e.preventDefault();
		depth = 0;
		drop.hidden = true;
		uploadFiles([...e.dataTransfer.files], current && !$('files-panel').hidden ? current : 'Uploads');
	});
	$('uploads-clear').onclick = () => {
		for (const li of [...$('uploads-list').children]) if (li.dataset.state === 'done' || li.dataset.state === 'failed') li.remove();
		if (!$('uploads-list').children.length) $('uploads').hidden = true;
	};
	const toggle = () => {
		const p = $('files-panel');
		p.hidden = !p.hidden;
		$('btn-files').setAttribute('aria-pressed', String(!p.hidden));
		if (!p.hidden) showDir(current);
	};
	$('btn-files').onclick = toggle;
	$('files-close').onclick = toggle;
	$('files-upload').onchange = (e) => {
		uploadFiles([...e.target.files], current || 'Uploads');
		e.target.value = '';
	};
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
else setup();
window.argoboxUploads = { uploadFiles, TusUpload };
