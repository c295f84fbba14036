// SPDX-License-Identifier: GPL-2.0-or-later
// ArgoBox's own apps in Chromium through the broker (issue 15): a newcomer (the sample
// "bogie", homelabber profile) signs in on the landing page; on the desktop the test opens each
// app from the wm's launcher with the mouse and keyboard on the noVNC canvas (the launcher
// button, a search, Enter), waits for its window in the desktop state, and checks the canvas:
// the window's content is drawn (many colours, not a blank rectangle) and its title bar shows
// the app's own icon (the icon's colour, app by app). In the terminal, a typed command runs and
// its output is drawn; the services app's request reaches the broker through the desktop's
// control channel (audited for bogie, source "desktop"). The apps come from <build>/apps/bin, put
// on the desktop's PATH.
//   AB_APPS_SHOT=FILE: also saves the desktop with the apps open (README's picture).
import fs from 'node:fs';
import path from 'node:path';
import { buildDirOrFail, e2eTest, launchChromium, log, near, newPage, sampleAccounts, signIn, startBroker, toPage, waitFor } from './lib.mjs';

const buildDir = buildDirOrFail();
const wm = path.join(buildDir, 'wm', 'argobox-wm');
const appsBin = path.join(buildDir, 'apps', 'bin');
const W = 1280, H = 800, BAR_H = 44; // wm/wm.h THEME_BAR_H
const L_W = 440, L_H = 540; // wm/launcher.c
// query, WM_CLASS, a colour of the app's icon (apps/*: *_icon), how many pixels of it the
// 20 px icon in the title bar has at least, within what tolerance (the stream is lossy)
const APPS = [
	['argobox-terminal', 'ArgoBoxTerminal', [92, 200, 140], 6, 40], // its green prompt glyph
	['argobox-files', 'ArgoBoxFiles', [250, 194, 77], 12, 16],
	['argobox-monitor', 'ArgoBoxMonitor', [31, 59, 92], 12, 16],
	['argobox-settings', 'ArgoBoxSettings', [61, 66, 79], 12, 16],
	['argobox-services', 'ArgoBoxServices', [43, 89, 77], 12, 16],
];
for (const [name] of APPS) {
	if (!fs.existsSync(path.join(appsBin, name))) throw new Error(`not built: ${appsBin}/${name}`);
}

const stateOf = (page) =>
	page.evaluate(async () => (await fetch('/api/desktops/bogie/state', { cache: 'no-store' })).json());

// Colours in a framebuffer rectangle: how many distinct ones, and how many pixels are near rgb.
function region(page, r, rgb, tol = 16) {
	return page.evaluate(([r, rgb, tol]) => {
		const d = document.querySelector('#screen canvas').getContext('2d').getImageData(r.x, r.y, r.w, r.h).data;
		const seen = new Set();
		let match = 0;
		for (let i = 0; i < d.length; i += 4) {
			seen.add((d[i] >> 3) * 1024 + (d[i + 1] >> 3) * 32 + (d[i + 2] >> 3));
			if (Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol && Math.abs(d[i + 2] - rgb[2]) <= tol) match++;
		}
		return { colours: seen.size, match };
	}, [r, rgb, tol]);
}

async function pixelAt(page, x, y) {
	return page.evaluate(([px, py]) => [...document.querySelector('#screen canvas').getContext('2d').getImageData(px, py, 1, 1).data].slice(0, 3), [x, y]);
}

async function openFromLauncher(page, query, wmClass) {
	const before = (await stateOf(page)).state.windows.length;
	const ly = H - BAR_H - L_H - 8;
	const probe = [8 + L_W - 30, ly + L_H - 30];
	const bg = await pixelAt(page, ...probe);
	const button = await toPage(page, 8 + 16, H - BAR_H / 2);
	await page.mouse.click(button.x, button.y);
	await waitFor('the launcher to open', async () => !near(await pixelAt(page, ...probe), bg, 6), { timeout: 10000 });
	await page.keyboard.type(query, { delay: 20 });
	await page.keyboard.press('Enter');
	const st = await waitFor(`${wmClass} on the desktop`, async () => {
		const s = (await stateOf(page)).state;
		return s.windows.length > before && s.windows.find((w) => w.app.class === wmClass);
	}, { timeout: 30000, interval: 250 });
	return st;
}

await e2eTest('apps', async (t) => {
	process.env.PATH = `${appsBin}:${process.env.PATH}`; // the broker's, the session's, the wm's
	t.broker = await startBroker({
		buildDir, dir: t.dir, base: sampleAccounts(),
		desktopCommand: [wm, '--log-level', 'debug'],
		config: { session: { geometry: `${W}x${H}`, start_timeout_ms: 30000 } },
	});
	t.browser = await launchChromium();
	t.page = await newPage(t.browser, { width: W, height: H });
	const page = t.page;
	await signIn(page, t.broker.url, 'bogie', 'bogie-argobox');
	await page.waitForSelector('body[data-state="connected"]', { timeout: 60000 });
	await page.addStyleTag({ content: '#toolbar{display:none}' });
	for (const [query, wmClass, tile, least, tol] of APPS) {
		const w = await openFromLauncher(page, query, wmClass);
		if (wmClass === 'ArgoBoxTerminal') {
			// it works: what is typed reaches its shell, whose output is drawn
			await new Promise((r) => setTimeout(r, 1000));
			await page.keyboard.type('echo Hello from ArgoBox; ls -la /', { delay: 15 });
			await page.keyboard.press('Enter');
		}
		// drawn: its content has many colours; its title bar shows its own icon
		const content = await waitFor(`${wmClass} drawn`, async () => {
			const r = await region(page, { x: w.x + 4, y: w.y + 4, w: Math.min(w.w, 400) - 8, h: Math.min(w.h, 240) - 8 }, [0, 0, 0]);
			return r.colours > 8 && r;
		}, { timeout: 20000, interval: 250 });
		const icon = await waitFor(`${wmClass}'s icon in its title bar`, async () => {
			const r = await region(page, { x: w.x + 2, y: w.y - 30, w: 32, h: 28 }, tile, tol);
			return r.match >= least && r;
		}, { timeout: 10000, interval: 250 });
		log(`${wmClass}: ${w.w}x${w.h}+${w.x}+${w.y}, ${content.colours} colours drawn, ${icon.match} icon pixels`);
		if (wmClass === 'ArgoBoxServices') {
			// it works: it asked the broker through the desktop's control channel, for bogie
			await waitFor('the services app\'s request audited', () => fs.readFileSync(path.join(t.dir, 'audit.log'), 'utf8')
				.split('\n').some((l) => l.includes('"service.access"') && l.includes('"user":"bogie"') && l.includes('"endpoint":"desktop"')),
			{ timeout: 10000, interval: 250 });
		}
	}
	if (process.env.AB_APPS_SHOT) {
		await new Promise((r) => setTimeout(r, 1500));
		await page.screenshot({ path: process.env.AB_APPS_SHOT });
		log(`saved ${process.env.AB_APPS_SHOT}`);
	}
});
