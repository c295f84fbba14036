// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers for ArgoBox's end-to-end tests: temp dirs, free ports, bounded waits, starting the
// real broker (or the classic Xvfb + x11vnc + websockify stack), a known desktop, Chromium
// through playwright-core, and reading pixels off noVNC's canvas.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.AB_SOURCE_DIR || path.resolve(here, '../..');
export const webRoot = path.join(sourceDir, 'web');

// The page imports noVNC from web/node_modules (npm ci in web/, done by ./argobox deps).
export function requireNoVNC() {
	const rfb = path.join(webRoot, 'node_modules/@novnc/novnc/core/rfb.js');
	if (!fs.existsSync(rfb)) {
		throw new Error(`noVNC is not installed: ${rfb} is missing (run ./argobox deps, or npm ci in web/)`);
	}
}

// Colours of the known desktop (see writeDesktopScript): the X root window and the xterm.
export const ROOT_RGB = [0x28, 0x78, 0xc8];
export const XTERM_BG_RGB = [0xf0, 0xc0, 0x20];
export const XTERM_GEOMETRY = { x: 40, y: 40 };

export const SKIP = 77;

export function log(...args) {
	console.log(`[e2e ${new Date().toISOString().slice(11, 23)}]`, ...args);
}

export function skip(reason) {
	console.log(`SKIP: ${reason}`);
	process.exit(SKIP);
}

export function fail(reason) {
	console.error(`FAIL: ${reason}`);
	process.exit(1);
}

export function makeTempDir(prefix = 'argobox-e2e-') {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A TCP port that was free a moment ago on 127.0.0.1.
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

// Polls fn() until it returns a truthy value; throws after timeout with what we waited for
// and the last value seen. This is a bounded wait on a condition, never a fixed sleep.
export async function waitFor(what, fn, { timeout = 20000, interval = 50 } = {}) {
	const end = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last) {
				return last;
			}
		} catch (e) {
			last = e;
		}
		if (Date.now() > end) {
			throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${fmt(last)})`);
		}
		await new Promise((r) => setTimeout(r, interval));
	}
}

function fmt(v) {
	if (v instanceof Error) {
		return v.message;
	}
	try {
		return JSON.stringify(v);
	} catch {
		return String(v);
	}
}

// Every process a test starts is tracked here and killed (process group) on exit.
const children = new Set();
export function track(child) {
	children.add(child);
	child.on('exit', () => children.delete(child));
	return child;
}

export function killAll() {
	for (const c of children) {
		try {
			process.kill(-c.pid, 'SIGKILL');
		} catch {
			try {
				c.kill('SIGKILL');
			} catch {
				// already gone
			}
		}
	}
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => {
		killAll();
		process.exit(1);
	});
}

export function spawnLogged(cmd, args, { logFile, env, stdio } = {}) {
	const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
	const child = spawn(cmd, args, {
		detached: true, // own process group, so killAll gets its children too
		env: { ...process.env, ...env },
		stdio: stdio ?? ['ignore', out, out],
	});
	if (logFile) {
		fs.closeSync(out);
	}
	return track(child);
}

// Stops a process with SIGTERM and waits (bounded) for it to exit; SIGKILL after that.
export async function stopProcess(child, timeout = 10000) {
	if (child.exitCode !== null || child.signalCode !== null) {
		return;
	}
	const exited = new Promise((r) => child.once('exit', r));
	child.kill('SIGTERM');
	const t = setTimeout(() => {
		try {
			process.kill(-child.pid, 'SIGKILL');
		} catch {
			// gone
		}
	}, timeout);
	await exited;
	clearTimeout(t);
}

async function httpOk(url) {
	try {
		const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
		return r.ok;
	} catch {
		return false;
	}
}

// The desktop command the tests run: it records its DISPLAY (so the test can inspect the X
// server with xdpyinfo/xclip), paints the root window a known colour and starts an xterm
// with a known background at a known place, running a plain shell in the temp dir.
export function writeDesktopScript(dir) {
	const hex = (rgb) => '#' + rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
	return writeDesktopCommand(
		dir,
		`# ArgoBox e2e desktop: known colours, one xterm.
xsetroot -solid '${hex(ROOT_RGB)}'
cd '${dir}'
export SHELL=/bin/sh PS1='$ ' ENV=
exec xterm -geometry 60x8+${XTERM_GEOMETRY.x}+${XTERM_GEOMETRY.y} -fn fixed -bg '${hex(XTERM_BG_RGB)}' -fg black -b 0 -bw 0 +sb -e /bin/sh
`
	);
}

// Writes DIR/desktop.sh (executable), a desktop command that first reports its X display in
// REPORT/display (written whole: display.tmp, then mv; REPORT is shell text, DIR by default)
// for desktopDisplay(), then runs `body` (shell lines). Returns its path.
export function writeDesktopCommand(dir, body, report = `'${dir}'`) {
	const script = path.join(dir, 'desktop.sh');
	const show = `echo "$DISPLAY" > ${report}/display.tmp && mv ${report}/display.tmp ${report}/display`;
	fs.writeFileSync(script, `#!/bin/sh\n${show}\n${body}`, { mode: 0o755 });
	return script;
}

// The X display the desktop script reported, once it has.
export async function desktopDisplay(dir, timeout = 20000) {
	return waitFor('the desktop command to report its DISPLAY', () => {
		try {
			return fs.readFileSync(path.join(dir, 'display'), 'utf8').trim();
		} catch {
			return null;
		}
	}, { timeout });
}

export function xrun(display, cmd, args, input) {
	return execFileSync(cmd, args, {
		env: { ...process.env, DISPLAY: display },
		input,
		encoding: 'utf8',
		timeout: 10000,
		stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
	});
}

export function screenSize(display) {
	const m = /dimensions:\s+(\d+)x(\d+) pixels/.exec(xrun(display, 'xdpyinfo', []));
	return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}

// ---------- the real broker ----------

export function brokerBinary(buildDir) {
	return path.join(buildDir, 'broker', 'argobox-broker');
}

// The sample config's accounts (config/argobox.sample.json): auth, users and profiles.
export function sampleAccounts() {
	const sample = JSON.parse(fs.readFileSync(path.join(sourceDir, 'config/argobox.sample.json'), 'utf8'));
	return { auth: sample.auth, users: sample.users, profiles: sample.profiles };
}

// Starts argobox-broker with a temp config on a free loopback port and waits for /healthz.
// The broker is a real dependency: if it is not built, this throws a clear error.
//   base: a config to start from (sampleAccounts(), or a generated config), its listen address
//         kept; the port, web root, session, audit, data and admin socket are the test's;
//   config: keys to add (session's are merged into the session);
//   port: 0 lets the broker pick (read back from its log); wrap: a command prefix (nsenter ...).
export async function startBroker({ buildDir, dir, desktopCommand, port, logFile, base = {}, config: extra = {}, wrap = [] }) {
	requireNoVNC();
	const bin = brokerBinary(buildDir);
	if (!fs.existsSync(bin)) {
		throw new Error(
			`argobox-broker is not built: expected ${bin}. Build it first (cmake --build <build dir> --target argobox-broker); this test needs the real broker.`
		);
	}
	port = port ?? (await freePort());
	const runBase = path.join(dir, 'run');
	fs.mkdirSync(runBase, { recursive: true, mode: 0o700 });
	const { session: sessionExtra, ...rest } = extra;
	const config = {
		...structuredClone(base),
		listen: { address: '127.0.0.1', ...base.listen, port },
		web: { ...base.web, root: webRoot },
		session: {
			runtime_base: runBase,
			launcher: 'process', // containers: tests/integration/cont, state.test.mjs
			desktop_command: desktopCommand,
			...sessionExtra,
		},
		audit: { path: path.join(dir, 'audit.log') },
		data: { dir: path.join(dir, 'data') }, // never the shared default store
		admin: { socket: path.join(dir, 'broker.sock') },
		...rest,
	};
	const session = path.join(buildDir, 'session', 'argobox-session');
	if (!config.session.binary && fs.existsSync(session)) {
		config.session.binary = session;
	}
	const configFile = path.join(dir, 'broker.json');
	fs.writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
	logFile = logFile ?? path.join(dir, 'broker.log');
	const argv = [...wrap, bin, '--config', configFile, '--web-root', webRoot];
	const proc = spawnLogged(argv[0], argv.slice(1), { logFile });
	let exited = null;
	proc.once('exit', (code, sig) => {
		exited = `exited with ${sig ?? code}`;
	});
	const alive = () => {
		if (exited) {
			throw new Error(`argobox-broker ${exited}; log:\n${tail(logFile)}`);
		}
	};
	try {
		if (port === 0) {
			port = await waitFor('the broker to listen', () => {
				alive();
				const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(fs.readFileSync(logFile, 'utf8'));
				return m && Number(m[1]);
			}, { timeout: 30000, interval: 100 });
		}
		await waitFor(`the broker's /healthz on port ${port}`, async () => {
			alive();
			return httpOk(`http://127.0.0.1:${port}/healthz`);
		}, { timeout: 30000, interval: 100 });
	} catch (e) {
		await stopProcess(proc);
		throw e;
	}
	return { url: `http://127.0.0.1:${port}`, port, proc, logFile, configFile, config };
}

export function tail(file, lines = 40) {
	try {
		return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
	} catch {
		return '(no log)';
	}
}

// ---------- the classic stack (Xvfb + x11vnc + websockify), for developing the page ----------

function which(cmd) {
	return process.env.PATH.split(':').some((d) => fs.existsSync(path.join(d, cmd)));
}

// Serves web/ (with /vendor/novnc/ mapped to the npm package, like the broker does) and
// proxies /websockify to x11vnc on a private Xvfb running the known desktop.
export async function startClassicStack({ dir, geometry = '1280x800' }) {
	requireNoVNC();
	for (const cmd of ['Xvfb', 'x11vnc']) {
		if (!which(cmd)) {
			skip(`${cmd} is not installed (deps/debian/test.txt)`);
		}
	}
	const xvfb = spawnLogged('Xvfb', ['-displayfd', '3', '-screen', '0', `${geometry}x24`, '-noreset', '-nolisten', 'tcp'], {
		stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
	});
	let num = '';
	await waitFor('Xvfb to print its display number', () => {
		const chunk = xvfb.stdio[3].read();
		if (chunk) {
			num += chunk.toString();
		}
		return num.includes('\n');
	});
	const display = `:${num.trim()}`;
	const script = writeDesktopScript(dir);
	spawnLogged(script, [], { env: { DISPLAY: display }, logFile: path.join(dir, 'desktop.log') });

	const sock = path.join(dir, 'rfb.sock');
	spawnLogged('x11vnc', ['-display', display, '-unixsock', sock, '-rfbport', '0', '-forever', '-shared', '-nopw', '-quiet'], {
		logFile: path.join(dir, 'x11vnc.log'),
	});
	await waitFor('x11vnc to listen', () => fs.existsSync(sock));

	const url = await serveWeb(dir, sock);
	return { url, display };
}

// websockify serving web/ (with /vendor/novnc/ mapped to the npm package, as the broker
// does) and proxying websockets to the RFB unix socket sock.
async function serveWeb(dir, sock) {
	if (!which('websockify')) {
		skip('websockify is not installed (deps/debian/test.txt)');
	}
	const root = path.join(dir, 'webroot');
	fs.mkdirSync(path.join(root, 'vendor'), { recursive: true });
	for (const e of fs.readdirSync(webRoot)) {
		if (e !== 'node_modules' && e !== 'package.json' && e !== 'package-lock.json') {
			fs.symlinkSync(path.join(webRoot, e), path.join(root, e));
		}
	}
	fs.symlinkSync(path.join(webRoot, 'node_modules/@novnc/novnc'), path.join(root, 'vendor/novnc'));
	const port = await freePort();
	spawnLogged('websockify', ['--web', root, `--unix-target=${sock}`, `127.0.0.1:${port}`], {
		logFile: path.join(dir, 'websockify.log'),
	});
	const url = `http://127.0.0.1:${port}`;
	await waitFor('websockify to serve the page', () => httpOk(`${url}/desktop.html`));
	return url;
}

// argobox-session (the real VNC server) with the known desktop, behind websockify: the page
// against the real session before, or without, the broker.
export async function startSessionStack({ dir, buildDir }) {
	requireNoVNC();
	const bin = path.join(buildDir, 'session', 'argobox-session');
	if (!fs.existsSync(bin)) {
		throw new Error(`argobox-session is not built: expected ${bin}`);
	}
	const rt = path.join(dir, 'rt');
	fs.mkdirSync(rt, { mode: 0o700 });
	const script = writeDesktopScript(dir);
	const logFile = path.join(dir, 'session.log');
	const out = fs.openSync(logFile, 'a');
	const session = track(
		spawn(bin, ['--runtime-dir', rt, '--geometry', '1280x800', '--ready-fd', '3', '--', script], {
			detached: true,
			stdio: ['ignore', out, out, 'pipe'],
		})
	);
	fs.closeSync(out);
	let ready = '';
	session.stdio[3].on('data', (d) => (ready += d));
	await waitFor('argobox-session to report READY', () => {
		if (session.exitCode !== null) {
			throw new Error(`argobox-session exited with ${session.exitCode}:\n${tail(logFile)}`);
		}
		return ready.includes('READY');
	}, { timeout: 30000 });
	const url = await serveWeb(dir, path.join(rt, 'rfb.sock'));
	return { url, session, logFile };
}

// ---------- Chromium ----------

export const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

export async function launchChromium() {
	const executablePath = process.env.AB_CHROMIUM || '/usr/bin/chromium';
	if (!fs.existsSync(executablePath)) {
		throw new Error(`Chromium not found at ${executablePath} (Debian package 'chromium', deps/debian/test.txt)`);
	}
	let chromium;
	try {
		({ chromium } = await import('playwright-core'));
	} catch (e) {
		throw new Error(`playwright-core is not installed in tests/e2e (run ./argobox deps): ${e.message}`);
	}
	return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60000 });
}

// ---------- one test's frame ----------

// AB_BUILD_DIR, or the test fails saying so.
export function buildDirOrFail() {
	const buildDir = process.env.AB_BUILD_DIR;
	if (!buildDir) {
		fail('AB_BUILD_DIR is not set (run through ctest, or set it to your build directory)');
	}
	return buildDir;
}

// A page in a new browser context (1280x800 unless told), page errors logged; clipboard: the
// origin to grant clipboard read and write to. page.context() is its context.
export async function newPage(browser, { width = 1280, height = 800, clipboard } = {}) {
	const ctx = await browser.newContext({ viewport: { width, height } });
	if (clipboard) {
		await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: clipboard });
	}
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));
	return page;
}

// The landing page's sign-in form: signed out, then USER/PASSWORD → /desktop.html.
export async function signIn(page, url, user, password) {
	await page.goto(`${url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	await page.fill('#login-username', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
	await page.waitForURL('**/desktop.html', { timeout: 10000 });
}

// The landing page's demo link in a new context: signed out, PROFILE picked → /desktop.html.
export async function demoSignIn(browser, url, profile) {
	const page = await newPage(browser);
	await page.goto(`${url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 10000 });
	await page.check(`#demo-${profile}`);
	await page.click('#demo-start');
	await page.waitForURL('**/desktop.html', { timeout: 10000 });
	return page;
}

// Runs one end-to-end test in a temp dir: body(t) gets t = { dir } and sets t.browser, t.page,
// t.broker (and t.stop, an async teardown of its own) as it goes. On success: PASS, the dir
// removed, exit 0. On an error: the tails of the logs (files in the dir), t.page's screenshot
// (failure.png), the dir kept, exit 1. The browser is closed and the broker stopped either way.
export async function e2eTest(name, body, { logs = ['broker.log'] } = {}) {
	const t = { dir: makeTempDir(`argobox-e2e-${name}-`) };
	let error = null;
	try {
		await body(t);
		log('PASS');
	} catch (e) {
		error = e;
		for (const f of logs) {
			if (fs.existsSync(path.join(t.dir, f))) {
				console.error(`--- ${f}\n${tail(path.join(t.dir, f), 30)}`);
			}
		}
		await t.page?.screenshot({ path: path.join(t.dir, 'failure.png') }).catch(() => {});
		console.error(`(logs and failure.png kept in ${t.dir})`);
	}
	await t.browser?.close().catch(() => {});
	if (t.broker) {
		await stopProcess(t.broker.proc);
	}
	await t.stop?.();
	if (error) {
		fail(error.stack || String(error));
	}
	fs.rmSync(t.dir, { recursive: true, force: true });
	process.exit(0);
}

// ---------- reading the noVNC canvas ----------

// RGB of the framebuffer pixel (x, y), read from noVNC's canvas.
export function pixel(page, x, y) {
	return page.evaluate(
		([px, py]) => {
			const c = document.querySelector('#screen canvas');
			const d = c.getContext('2d').getImageData(px, py, 1, 1).data;
			return [d[0], d[1], d[2]];
		},
		[x, y]
	);
}

export function canvasSize(page) {
	return page.evaluate(() => {
		const c = document.querySelector('#screen canvas');
		return c ? { width: c.width, height: c.height } : null;
	});
}

// Pixels in a framebuffer rectangle darker than a threshold (text on the light xterm).
export function countDark(page, rect, threshold = 90) {
	return page.evaluate(
		([r, t]) => {
			const c = document.querySelector('#screen canvas');
			const d = c.getContext('2d').getImageData(r.x, r.y, r.w, r.h).data;
			let n = 0;
			for (let i = 0; i < d.length; i += 4) {
				if (d[i] + d[i + 1] + d[i + 2] < 3 * t) {
					n++;
				}
			}
			return n;
		},
		[rect, threshold]
	);
}

// Colours match within a tolerance (Tight may send JPEG).
export function near(a, b, tol = 24) {
	return a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

// Page coordinates of framebuffer point (x, y): noVNC may centre a smaller canvas.
export async function toPage(page, x, y) {
	const box = await page.locator('#screen canvas').boundingBox();
	return { x: box.x + x, y: box.y + y };
}
