// SPDX-License-Identifier: GPL-2.0-or-later
// Chromium's side of integration_container_image's held build (image.sh): a user whose profile's
// desktop image is being built signs in on the landing page; the desktop page shows the broker's
// progress ("Preparing the desktop image for profile ...: Step k of n ... elapsed") on the one
// websocket it opened, and the elapsed time moves; then this script writes DIR/progress-seen
// (image.sh finishes the build when it sees it) and waits for the desktop to appear by itself:
// the first frame on the same connection (no refusal, no reconnect), a canvas that is not blank,
// a screenshot in DIR/image-wait.png.
//
// usage: node image-wait.mjs URL USER PASSWORD DIR   (inside the broker's network namespace)
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium, log, newPage, waitFor } from '../../e2e/lib.mjs';

const [url, user, password, dir] = process.argv.slice(2);
if (!dir) {
	console.error('usage: image-wait.mjs URL USER PASSWORD DIR');
	process.exit(2);
}
let browser;
let page;
// The landing page's sign-in form (lib.mjs's signIn, with the time a loaded machine needs).
async function signIn(page, url, user, password) {
	await page.goto(`${url}/`, { timeout: 60000 });
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 60000 });
	await page.fill('#login-username', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
	await page.waitForURL('**/desktop.html', { timeout: 60000 });
}
try {
	browser = await launchChromium();
	page = await newPage(browser, { width: 1024, height: 700 });
	page.on('console', (m) => log(`console: ${m.text()}`));
	await signIn(page, url, user, password);
	const text = async () => `${await page.textContent('#status-title')} | ${await page.textContent('#status-detail')}`;
	const first = await waitFor('the image build progress on the desktop page', async () => {
		const t = await text();
		return /Preparing the desktop image for profile \S+/.test(t) && /Step \d+ of \d+: .* · \d+:\d\d elapsed/.test(t) && t;
	}, { timeout: 60000, interval: 200 });
	log(`progress shown: ${first}`);
	// the page follows the build: the elapsed time it shows moves on
	const later = await waitFor('the elapsed time to move on', async () => {
		const t = await text();
		return t !== first && /elapsed/.test(t) && t;
	}, { timeout: 10000, interval: 200 });
	log(`then: ${later}`);
	const state = await page.evaluate(() => document.body.dataset.state);
	if (state !== 'booting') {
		throw new Error(`the page is '${state}' while the image is built (want booting: the websocket held open)`);
	}
	fs.writeFileSync(path.join(dir, 'progress-seen'), `${first}\n${later}\n`);
	// image.sh finishes the build now; the broker starts the desktop on it
	await page.waitForSelector('body[data-state="connected"]', { timeout: 120000 });
	const attempts = await page.evaluate(() => window.argobox.attempts);
	if (attempts !== 1) {
		throw new Error(`the page opened ${attempts} websockets (want 1: the start waited, nothing was refused)`);
	}
	const lit = await waitFor('the desktop drawn on the canvas', () =>
		page.evaluate(() => {
			const c = document.querySelector('#screen canvas');
			if (!c || !c.width) return 0;
			const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			const seen = new Set();
			for (let i = 0; i < d.length; i += 4 * 97) {
				seen.add((d[i] >> 4) * 256 + (d[i + 1] >> 4) * 16 + (d[i + 2] >> 4));
			}
			return seen.size >= 4 && seen.size;
		}), { timeout: 30000, interval: 250 });
	await page.screenshot({ path: path.join(dir, 'image-wait.png') });
	log(`desktop shown on the same connection (${lit} colours), screenshot image-wait.png`);
	fs.writeFileSync(path.join(dir, 'desktop-seen'), 'ok\n');
	await browser.close();
	process.exit(0);
} catch (e) {
	console.error(`FAIL: ${e.stack || e}`);
	const where = await page
		?.evaluate(() => `${location.href} data-auth=${document.body.dataset.auth} data-state=${document.body.dataset.state}: ${document.body.innerText.slice(0, 300)}`)
		.catch((x) => String(x));
	console.error(`page: ${where}`);
	await page?.screenshot({ path: path.join(dir, 'image-wait-failure.png') }).catch(() => {});
	await browser?.close().catch(() => {});
	process.exit(1);
}
