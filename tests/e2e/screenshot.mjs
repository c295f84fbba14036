// SPDX-License-Identifier: GPL-2.0-or-later
// Saves docs/screenshots/desktop.png: the broker (from AB_BUILD_DIR, default build/) serving
// the desktop in Chromium at 1280x800. The desktop is the window manager with ArgoBox's
// terminal and file manager snapped side by side on a small sample home (with the apps built;
// else one xterm; without a built wm the broker's default), unless ARGOBOX_SCREENSHOT_COMMAND
// gives a shell command to run instead. Usage:
//   node tests/e2e/screenshot.mjs [OUTPUT.png]
// Waits for the first frame, then for the picture to settle.

import fs from 'node:fs';
import path from 'node:path';
import { fail, launchChromium, log, makeTempDir, sourceDir, startBroker, stopProcess, waitFor } from './lib.mjs';

const buildDir = process.env.AB_BUILD_DIR || path.join(sourceDir, 'build');
const out = path.resolve(process.argv[2] || path.join(sourceDir, 'docs/screenshots/desktop.png'));
const dir = makeTempDir('argobox-screenshot-');
// Default: the window manager with apps open, so the picture shows windows.
const wm = path.join(buildDir, 'wm', 'argobox-wm');
const apps = path.join(buildDir, 'apps', 'bin');
const appsShowcase = [
	`export PATH='${apps}':$PATH ASAN_OPTIONS=detect_leaks=0 HOME=$ARGOBOX_RUNTIME_DIR/home`,
	'mkdir -p $HOME/Documents $HOME/Pictures $HOME/Projects $HOME/Music',
	"echo hello >$HOME/notes.txt; printf 'a,b\\n1,2\\n' >$HOME/budget.csv; cd $HOME",
	'(sleep 1.5; argobox-files & sleep 1.2; xdotool key super+Right; sleep 0.3;' +
		" argobox-terminal -e sh -c 'echo Welcome to ArgoBox.; echo; ls -l; echo; exec sh -i' & sleep 1.2;" +
		' xdotool key super+Left) &',
	`exec '${wm}'`,
].join('; ').replace('&;', '&');
const xtermShowcase = `(xterm -T Terminal -geometry 88x24+180+120 -e sh -c 'echo Welcome to ArgoBox.; echo This desktop keeps running when you close the tab.; echo; exec sh') & exec '${wm}'`;
const showcase = !fs.existsSync(wm)
	? undefined
	: fs.existsSync(path.join(apps, 'argobox-terminal')) && fs.existsSync(path.join(apps, 'argobox-files'))
		? appsShowcase
		: xtermShowcase;
const cmd = process.env.ARGOBOX_SCREENSHOT_COMMAND || showcase;
let broker;
let browser;
try {
	broker = await startBroker({ buildDir, dir, desktopCommand: cmd ? ['/bin/sh', '-c', cmd] : undefined });
	browser = await launchChromium();
	const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
	await page.goto(`${broker.url}/desktop.html`);
	await page.waitForSelector('body[data-state="connected"]', { timeout: 60000 });
	// Settled: the picture stayed the same for 3 s (4 reads a second apart); programs the
	// desktop command starts get that long to appear.
	let last = null;
	let same = 0;
	await waitFor('the desktop to settle', async () => {
		const now = await page.evaluate(() => document.querySelector('#screen canvas').toDataURL());
		same = now === last ? same + 1 : 0;
		last = now;
		return same >= 3;
	}, { timeout: 60000, interval: 1000 });
	// The toolbar would sit on the picture: hide it for the shot.
	await page.addStyleTag({ content: '#toolbar{display:none}' });
	fs.mkdirSync(path.dirname(out), { recursive: true });
	await page.screenshot({ path: out });
	log(`saved ${out}`);
} catch (e) {
	fail(e.stack || e.message);
} finally {
	await browser?.close().catch(() => {});
	if (broker) {
		await stopProcess(broker.proc);
	}
	fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
