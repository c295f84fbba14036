// SPDX-License-Identifier: GPL-2.0-or-later
// Drag and drop into the home (web/js/uploads.js, docs/files.md), in Chromium against the real
// broker (sample accounts, the fake session as the desktop): bea signs in, drops a 20 MiB file
// on the desktop page; the connection of the second 8 MiB PATCH is reset (the network cut);
// the upload resumes where the broker says it stopped (HEAD), the file lands in ~/Uploads
// intact, the desktop is sent a notification, the page shows a download link, and the files
// panel lists it and downloads the same bytes.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import lib from '../lib/node/broker.cjs';
import { launchChromium, log, skip, waitFor } from './lib.mjs';

if (process.getuid() !== 0) {
	skip('needs root: the broker gives uploaded files to the user\'s mapped host uid');
}
if (!process.env.AB_BUILD_DIR) {
	lib.fail('AB_BUILD_DIR is not set (run through ctest, or set it to your build directory)');
}
const SIZE = 20 << 20;
const pattern = (n) => {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 12)) & 255;
	return b;
};
const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');

const tmp = lib.harness({ prefix: 'argobox-e2e-files-' });
let browser;
let page;
try {
	const sample = lib.paths.sample;
	const broker = await lib.startBroker({
		tmp,
		cfg: lib.brokerConfig(tmp, { auth: sample.auth, users: sample.users, profiles: sample.profiles }),
	});
	const url = `http://127.0.0.1:${broker.port}`;
	const bea = await lib.login(broker, 'bea');
	browser = await launchChromium();
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const [name, value] = bea.cookie.split('=');
	await ctx.addCookies([{ name, value, url }]);
	page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
	await page.goto(`${url}/desktop.html`);
	await page.waitForFunction(() => window.argoboxUploads);

	// a file dragged over the page: the drop zone shows; dropped: the upload starts
	const dt = await page.evaluateHandle((size) => {
		const b = new Uint8Array(size);
		for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 12)) & 255;
		const d = new DataTransfer();
		d.items.add(new File([b], 'dropped file.bin', { type: 'application/octet-stream' }));
		return d;
	}, SIZE);
	// the network cut: the connection of the second PATCH (of 8 MiB chunks) is reset
	const cut = { patches: 0, aborted: false, headAfterCut: false };
	await page.route('**/api/uploads/*', (route) => {
		const m = route.request().method();
		if (m === 'PATCH' && ++cut.patches === 2) {
			cut.aborted = true;
			return route.abort('connectionreset');
		}
		if (m === 'HEAD' && cut.aborted) cut.headAfterCut = true;
		return route.continue();
	});
	await page.evaluate(() => {
		window.__states = [];
		new MutationObserver((ms) => {
			for (const m of ms) if (m.target.dataset?.state) window.__states.push(m.target.dataset.state);
		}).observe(document.getElementById('uploads-list'), { subtree: true, attributes: true, attributeFilter: ['data-state'], childList: true });
	});
	await page.dispatchEvent('#screen', 'dragenter', { dataTransfer: dt });
	assert.ok(await page.isVisible('#drop-zone'), 'the drop zone shows while dragging');
	await page.dispatchEvent('#screen', 'drop', { dataTransfer: dt });
	assert.ok(!(await page.isVisible('#drop-zone')), 'the drop zone goes after the drop');
	await page.waitForSelector('#uploads li[data-state="uploading"]');

	await page.waitForSelector('#uploads li[data-state="done"]', { timeout: 60000 });
	assert.deepEqual(cut.patches >= 3 && cut.aborted, true, `a PATCH was cut (${JSON.stringify(cut)})`);
	assert.ok(cut.headAfterCut, 'the client asked the broker where to resume (HEAD)');
	assert.ok((await page.evaluate(() => window.__states)).includes('retrying'), 'the page said it resumes');

	const file = path.join(tmp, 'data/home/bea/Uploads/dropped file.bin');
	assert.equal(sha(fs.readFileSync(file)), sha(pattern(SIZE)), 'the dropped file, intact after the cut');
	const href = await page.getAttribute('#uploads li a', 'href');
	assert.equal(href, '/api/files/Uploads/dropped%20file.bin');
	const audit = fs.readFileSync(path.join(tmp, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const done = audit.filter((l) => l.event === 'files.upload' && l.detail.step === 'complete');
	assert.equal(done.length, 1);
	assert.equal(done[0].user, 'bea');
	assert.ok(audit.some((l) => l.event === 'files.upload' && l.outcome === 'deny' && l.detail.status === 409) ||
		audit.filter((l) => l.event === 'files.upload').length >= 2, 'upload audited');
	// the desktop was told (the fake session logs the control messages it gets)
	await waitFor('the notification on the desktop', () => /control notify/.test(
		fs.readFileSync(path.join(tmp, 'run/bea/fake.log'), 'utf8')), { timeout: 10000 });

	// the files panel: into Uploads, the file is a download link with the same bytes
	await page.click('#btn-files');
	await page.click('#files-list button:text("Uploads/")');
	await page.waitForSelector('#files-list a');
	assert.equal(await page.textContent('#files-list a'), 'dropped file.bin');
	const got = await page.evaluate(async (u) => {
		const r = await fetch(u);
		const b = new Uint8Array(await r.arrayBuffer());
		return { status: r.status, len: b.length, cd: r.headers.get('content-disposition') };
	}, await page.getAttribute('#files-list a', 'href'));
	assert.equal(got.status, 200);
	assert.equal(got.len, SIZE);
	assert.match(got.cd, /attachment/);
	log(`usage shown: '${await page.textContent('#files-usage')}'`);
	log('PASS');
	await browser.close();
	await lib.stopBroker(broker);
	process.exit(0);
} catch (e) {
	await page?.screenshot({ path: path.join(tmp, 'failure.png') }).catch(() => {});
	await browser?.close().catch(() => {});
	lib.fail(e.stack || String(e));
}
