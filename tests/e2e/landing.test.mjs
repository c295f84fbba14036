// SPDX-License-Identifier: GPL-2.0-or-later
// The landing page's live preview and Maximize in Chromium (issue 21 items 1 and 2), through the
// real broker (sample accounts, warm pool of one Homelab desktop, process launcher) and real
// argobox-session desktops running a desktop that moves: an xterm printing the time every
// 300 ms, and one with a shell that would obey typed commands.
//  1. signed out, the preview connects by itself (no sign-in), is scaled into its box and moves
//     (the canvas changes over time);
//  2. bad input: keys sent on a raw /ws/preview websocket from the page (a shell command) have
//     no effect on the showcase desktop (the file is never created) and are audited;
//  3. Maximize (Homelab): the visitor's own demo desktop, the whole window, without a page
//     reload, from the warm pool; the click -> first frame time is measured and logged; typing
//     there works (the same command creates the file), so 2. proves the broker dropped it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT_RGB, buildDirOrFail, e2eTest, launchChromium, log, near, newPage, sampleAccounts, startBroker, waitFor } from './lib.mjs';

const buildDir = buildDirOrFail();

function writeMovingDesktop(dir) {
	const script = path.join(dir, 'desktop.sh');
	const hex = '#' + ROOT_RGB.map((c) => c.toString(16).padStart(2, '0')).join('');
	fs.writeFileSync(script, `#!/bin/sh
# the landing e2e desktop: known root colour, an xterm whose clock moves, one with a shell
xsetroot -solid '${hex}'
cd '${dir}'
export SHELL=/bin/sh PS1='$ ' ENV=
xterm -geometry 40x4+40+200 -fn fixed -bg white -fg black +sb -e /bin/sh -c 'while :; do date +%T.%N; sleep 0.3; done' &
# a screenful of text redrawn every 0.3 s: updates of many rectangles on the same zlib streams
xterm -geometry 90x30+420+40 -fn fixed -bg white -fg black +sb -e /bin/sh -c 'while :; do clear; date +%N; ls -l /usr/bin | head -n 27; sleep 0.3; done' &
exec xterm -geometry 60x8+40+40 -fn fixed -bg white -fg black +sb -e /bin/sh
`, { mode: 0o755 });
	return script;
}

/* A cheap fingerprint of the preview's canvas (null while there is none). */
function canvasHash(page) {
	return page.evaluate(() => {
		const c = document.querySelector('#preview-screen canvas');
		if (!c || !c.width) return null;
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let h = 0;
		for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + d[i + 1] * 7 + d[i + 2] * 13) | 0;
		return h;
	});
}

function previewPixel(page, x, y) {
	return page.evaluate(([px, py]) => {
		const d = document.querySelector('#preview-screen canvas').getContext('2d').getImageData(px, py, 1, 1).data;
		return [d[0], d[1], d[2]];
	}, [x, y]);
}

/* From the page: a raw websocket to /ws/preview, the RFB handshake, then `text` as key events. */
function typeOnPreviewSocket(page, text) {
	return page.evaluate((t) => new Promise((resolve, reject) => {
		const ws = new WebSocket(`ws://${location.host}/ws/preview`);
		ws.binaryType = 'arraybuffer';
		let buf = new Uint8Array(0), stage = 0;
		const take = (n) => { const r = buf.slice(0, n); buf = buf.slice(n); return r; };
		const key = (sym, down) => {
			const m = new Uint8Array(8); m[0] = 4; m[1] = down ? 1 : 0;
			new DataView(m.buffer).setUint32(4, sym); ws.send(m);
		};
		ws.onerror = () => reject(new Error('preview websocket failed'));
		ws.onmessage = (e) => {
			const n = new Uint8Array(buf.length + e.data.byteLength);
			n.set(buf); n.set(new Uint8Array(e.data), buf.length); buf = n;
			for (;;) {
				if (stage === 0 && buf.length >= 12) { take(12); ws.send(new TextEncoder().encode('RFB 003.008\n')); stage = 1; }
				else if (stage === 1 && buf.length >= 1 && buf.length >= 1 + buf[0]) { take(1 + buf[0]); ws.send(new Uint8Array([1])); stage = 2; }
				else if (stage === 2 && buf.length >= 4) { take(4); ws.send(new Uint8Array([1])); stage = 3; }
				else if (stage === 3 && buf.length >= 24) {
					const len = new DataView(buf.buffer, buf.byteOffset).getUint32(20);
					if (buf.length < 24 + len) return;
					take(24 + len);
					for (const ch of t) { const sym = ch === '\n' ? 0xff0d : ch.charCodeAt(0); key(sym, true); key(sym, false); }
					// a pointer click too, and an update request to know the broker read it all
					ws.send(new Uint8Array([5, 1, 0, 60, 0, 60])); ws.send(new Uint8Array([5, 0, 0, 60, 0, 60]));
					const req = new Uint8Array(10); req[0] = 3; req[7] = 8; req[9] = 8; ws.send(req);
					stage = 4;
				} else if (stage === 4 && buf.length > 0) { ws.close(); resolve(true); return; }
				else return;
			}
		};
	}), text);
}

function auditLines(dir) {
	return fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

await e2eTest('landing', async (t) => {
	const base = sampleAccounts();
	base.auth.demo = { ...base.auth.demo, per_ip_max: 100, pool: { 'demo-homelab': 1 }, preview: { grace_seconds: 5 } };
	const broker = (t.broker = await startBroker({ buildDir, dir: t.dir, desktopCommand: [writeMovingDesktop(t.dir)], base }));
	log(`broker at ${broker.url}`);
	const browser = (t.browser = await launchChromium());
	const page = (t.page = await newPage(browser));
	let reloads = 0;
	page.on('framenavigated', (f) => { if (f === page.mainFrame()) reloads++; });

	// 1. the preview, signed out, live and moving, scaled into its box
	const t0 = Date.now();
	await page.goto(`${broker.url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	await page.waitForSelector('#preview[data-state="live"]', { timeout: 30000 });
	log(`preview live ${Date.now() - t0} ms after the page load began`);
	await waitFor('the showcase root colour in the preview', async () => near(await previewPixel(page, 2, 2), ROOT_RGB));
	const h1 = await canvasHash(page);
	await waitFor('the preview to move', async () => (await canvasHash(page)) !== h1, { timeout: 10000 });
	// it keeps moving on the same connection: every update decodes in noVNC (a zlib stream
	// noVNC cannot decode closes the connection: data-state leaves "live")
	const seen = new Set();
	for (let i = 0; i < 12; i++) {
		await new Promise((r) => setTimeout(r, 250));
		assert.equal(await page.getAttribute('#preview', 'data-state'), 'live', 'the preview stays connected');
		seen.add(await canvasHash(page));
	}
	assert.ok(seen.size >= 3, `the preview kept moving (${seen.size} pictures in 3 s)`);
	const fit = await page.evaluate(() => {
		const box = document.querySelector('#preview-screen').getBoundingClientRect();
		const c = document.querySelector('#preview-screen canvas');
		const r = c.getBoundingClientRect();
		return { box: [box.width, box.height], shown: [r.width, r.height], fb: [c.width, c.height] };
	});
	log(`preview: framebuffer ${fit.fb}, shown ${fit.shown.map(Math.round)} in a box of ${fit.box.map(Math.round)}`);
	assert.ok(fit.shown[0] <= fit.box[0] + 1 && fit.shown[1] <= fit.box[1] + 1, 'scaled into the box');
	assert.ok(fit.shown[0] < fit.fb[0], 'scaled down');
	assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401, 'nobody signed in');
	const show = auditLines(t.dir).find((l) => l.event === 'preview.start')?.user;
	assert.match(show ?? '', /^demo-/, 'preview.start audited');

	// 2. input on the preview socket has no effect
	// a lowercase path (the temp dir's name has capitals, typed keys would need Shift)
	const drop = `/tmp/ab-landing-${process.pid}`;
	fs.mkdirSync(drop, { recursive: true });
	const prevStop = t.stop;
	t.stop = async () => { fs.rmSync(drop, { recursive: true, force: true }); await prevStop?.(); };
	const pwned = path.join(drop, 'pwned');
	await typeOnPreviewSocket(page, `touch ${pwned}\n`);
	await new Promise((r) => setTimeout(r, 1500));
	assert.ok(!fs.existsSync(pwned), 'keys on the preview socket reached the showcase desktop');
	assert.ok(auditLines(t.dir).some((l) => l.event === 'desktop.input' && l.outcome === 'deny' && l.detail.desktop === show),
		'the dropped input is audited');
	// clicking and typing on the preview itself sends nothing either (noVNC view-only)
	await page.click('#preview-screen');
	await page.keyboard.type(`touch ${pwned}\n`);
	await new Promise((r) => setTimeout(r, 1000));
	assert.ok(!fs.existsSync(pwned), 'typing on the preview reached the showcase desktop');

	// 3. Maximize: the visitor's own (warm) Homelab desktop, full window, no reload
	await waitFor('the warm pool desktop', () => auditLines(t.dir).some((l) => l.event === 'demo.pool' && l.detail.reason === 'pool desktop ready'));
	await page.check('#demo-homelab');
	const navBefore = reloads;
	await page.click('#preview-maximize');
	await page.waitForSelector('#preview[data-state="desktop"]', { timeout: 30000 });
	const timing = await page.evaluate(() => window.argoboxPreview.timing);
	const user = await page.evaluate(() => window.argoboxPreview.user);
	log(`Maximize -> first frame of ${user}: ${timing.frame} ms (demo sign-in answered in ${timing.demo} ms), warm pool`);
	assert.equal(reloads, navBefore, 'no page load');
	const start = auditLines(t.dir).find((l) => l.event === 'demo.start' && l.user === user);
	assert.equal(start?.detail?.warm, true, 'the warm pool desktop was handed over');
	assert.notEqual(user, show, 'not the showcase desktop');
	const me = await page.evaluate(async () => (await fetch('/api/me')).json());
	assert.equal(me.user, user);
	assert.equal(me.role, 'demo');
	const full = await page.evaluate(() => {
		const r = document.querySelector('#preview').getBoundingClientRect();
		return [r.left, r.top, r.width, r.height, innerWidth, innerHeight];
	});
	assert.deepEqual(full.slice(0, 4).map(Math.round), [0, 0, full[4], full[5]], 'the whole window');
	await waitFor('the demo desktop root colour', async () => near(await previewPixel(page, 2, 2), ROOT_RGB));
	// typing reaches the visitor's own desktop
	const typed = path.join(drop, `typed-${user}`);
	const c = await page.evaluate(() => {
		const r = document.querySelector('#preview-screen canvas').getBoundingClientRect();
		return [r.left, r.top];
	});
	await page.mouse.click(c[0] + 120, c[1] + 80); // inside the xterm (40,40 .. 400,144)
	await page.keyboard.type(`touch ${typed}\n`, { delay: 20 });
	await waitFor('typing to reach the demo desktop', () => fs.existsSync(typed), { timeout: 15000 });
	assert.ok(!fs.existsSync(pwned));
	log('own desktop takes input; the preview never did');
});
