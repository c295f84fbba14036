// SPDX-License-Identifier: GPL-2.0-or-later
// The README's quick start end to end: what `./argobox run` does on a fresh machine, with the
// test build's binaries instead of building build/ (./argobox run itself is never run here).
//
//  0. ./argobox: `bash -n` passes, `./argobox help` prints the usage (no deps, no build);
//  1. scripts/first-run-config into a temp var/: both files 0600, a one-line password of 20+
//     characters, one admin "admin" and the demo user, local sign-in on, Cloudflare Access
//     off, loopback; a second run refuses and leaves both files alone (also when only one of
//     them, or a dangling symlink, is there); `argobox-broker --check-config` accepts it;
//  2. the broker on that config, changed only where a test must (free port, data/runtime/
//     admin socket/audit under the temp dir, the process launcher, the test build's session
//     and argobox-wm), auth/users/profiles exactly as generated, --web-root web/;
//  3. Chromium: a wrong password is refused with a visible message; the generated password
//     signs in as admin; the canvas shows the wm's taskbar (launcher button in the wm's accent
//     colour); its launcher lists apps (letter icons counted on the canvas); sign out from the
//     desktop menu; the landing page's demo link starts a demo desktop (role demo) with the
//     taskbar and exactly the demo profile's apps in the launcher.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildDirOrFail, brokerBinary, canvasSize, fail, launchChromium, log, makeTempDir, near } from './lib.mjs';
import { pixel, requireNoVNC, skip, sourceDir, startBroker, stopProcess, tail, toPage, waitFor } from './lib.mjs';

const buildDir = buildDirOrFail();
const broker = brokerBinary(buildDir);
const sessionBin = path.join(buildDir, 'session', 'argobox-session');
const wmBin = path.join(buildDir, 'wm', 'argobox-wm');
for (const f of [broker, sessionBin, wmBin]) {
	if (!fs.existsSync(f)) fail(`not built: ${f}`);
}
const firstRun = path.join(sourceDir, 'scripts', 'first-run-config');
const argobox = path.join(sourceDir, 'argobox');
for (const tool of ['mkpasswd', 'python3']) {
	if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
		skip(`${tool} is not installed (deps/debian/run.txt: scripts/first-run-config needs it)`);
	}
}
requireNoVNC();

// wm/theme.c (bar_h) and wm/launcher.c (L_W, L_H, TOP_H); the taskbar's launcher button is
// the square (8, 6)-(40, 38) of the bar with a 3x3 grid of white dots around its centre.
const BAR_H = 44;
const L_W = 440;
const L_H = 540;
const TOP_H = 64;

const dir = makeTempDir('argobox-e2e-quickstart-');
let browser;
let proc;
let logFile;

const mode = (f) => fs.lstatSync(f).mode & 0o777;
const snapshot = (f) => {
	const st = fs.lstatSync(f);
	return { mode: st.mode, ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, text: fs.readFileSync(f, 'utf8') };
};
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000, ...opts });

// ---------- 0. ./argobox without building ----------
function checkArgoboxScript() {
	const syntax = run('bash', ['-n', argobox]);
	assert.equal(syntax.status, 0, `bash -n argobox: ${syntax.stderr}`);
	const help = run(argobox, ['help'], { cwd: dir });
	assert.equal(help.status, 0, `./argobox help: ${help.stderr}`);
	assert.equal(help.stderr, '', './argobox help wrote to stderr (did it try to install or build?)');
	const lines = help.stdout.trim().split('\n');
	for (const cmd of ['run', 'test', 'bench', 'deps', 'build']) {
		assert.ok(lines.some((l) => new RegExp(`^\\s*\\./argobox ${cmd}\\s+\\S`).test(l)), `usage lacks "./argobox ${cmd}":\n${help.stdout}`);
	}
	assert.ok(!/#!|SPDX|set -e|^#/m.test(help.stdout), `usage carries script lines:\n${help.stdout}`);
	// no command at all: the same usage
	assert.equal(run(argobox, [], { cwd: dir }).stdout, help.stdout);
	// an unknown command is an error (exit 2, the usage on stderr), not a silent help
	const bogus = run(argobox, ['bogus'], { cwd: dir });
	assert.equal(bogus.status, 2, `./argobox bogus exited ${bogus.status}`);
	assert.match(bogus.stderr, /unknown command 'bogus'/);
	log(`./argobox help:\n${help.stdout.trimEnd()}`);
}

// ---------- 1. scripts/first-run-config ----------
function checkFirstRun(varDir) {
	const cfgFile = path.join(varDir, 'argobox.json');
	const pwFile = path.join(varDir, 'admin-password');
	const r = run(firstRun, [cfgFile, pwFile]);
	assert.equal(r.status, 0, `first-run-config: ${r.stderr}`);
	assert.equal(mode(cfgFile).toString(8), '600', 'config mode');
	assert.equal(mode(pwFile).toString(8), '600', 'password file mode');
	assert.deepEqual(fs.readdirSync(varDir).sort(), ['admin-password', 'argobox.json'], 'files left in var/');

	const pwText = fs.readFileSync(pwFile, 'utf8');
	assert.match(pwText, /^[^\s]{20,}\n$/, 'the password file holds one line of 20+ characters');
	const password = pwText.trim();

	const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
	const admins = cfg.users.filter((u) => u.role === 'admin');
	assert.equal(admins.length, 1, `admins: ${JSON.stringify(admins.map((u) => u.name))}`);
	assert.equal(admins[0].name, 'admin');
	assert.match(admins[0].password_hash, /^\$y\$/, 'yescrypt hash');
	assert.deepEqual(cfg.users.map((u) => `${u.name}:${u.role}`).sort(), ['admin:admin', 'demo:demo'], 'users: the admin and the demo user only');
	assert.ok(!JSON.stringify(cfg).includes(password), 'the password itself is not in the config');
	assert.equal(cfg.auth.local.enabled, true, 'local sign-in on');
	assert.equal(cfg.auth.access.enabled, false, 'Cloudflare Access off');
	assert.equal(cfg.auth.demo.enabled, true, 'demo on');
	assert.equal(cfg.listen.address, '127.0.0.1');
	assert.equal(cfg.listen.port, 8080);
	assert.ok(cfg.profiles.admin, 'the admin profile');
	assert.ok(Object.values(cfg.profiles).some((p) => p.demo), 'demo profiles');
	if (process.getuid() === 0) assert.equal(cfg.data, undefined, 'as root: the default data dir');
	else assert.equal(cfg.data?.dir, path.join(fs.realpathSync(varDir), 'data'), 'data beside the config');

	// a second run with the same paths refuses and touches neither file
	const before = [snapshot(cfgFile), snapshot(pwFile)];
	const again = run(firstRun, [cfgFile, pwFile]);
	assert.notEqual(again.status, 0, 'a second run must fail');
	assert.match(again.stderr, /exists already/);
	assert.deepEqual([snapshot(cfgFile), snapshot(pwFile)], before, 'a second run changed the files');
	assert.deepEqual(fs.readdirSync(varDir).sort(), ['admin-password', 'argobox.json'], 'a second run left files');

	// either file alone is enough to refuse, and so is a dangling symlink (writing through it
	// would create its target)
	const other = path.join(dir, 'other');
	fs.mkdirSync(other, { mode: 0o700 });
	const only = run(firstRun, [path.join(other, 'new.json'), pwFile]);
	assert.notEqual(only.status, 0, 'refuses when the password file exists');
	assert.deepEqual(snapshot(pwFile), before[1]);
	const only2 = run(firstRun, [cfgFile, path.join(other, 'new-password')]);
	assert.notEqual(only2.status, 0, 'refuses when the config exists');
	assert.deepEqual(snapshot(cfgFile), before[0]);
	const target = path.join(other, 'target');
	fs.symlinkSync(target, path.join(other, 'link'));
	const viaLink = run(firstRun, [path.join(other, 'c.json'), path.join(other, 'link')]);
	assert.notEqual(viaLink.status, 0, 'refuses a dangling symlink as the password file');
	fs.symlinkSync(path.join(other, 'target2'), path.join(other, 'link2'));
	const viaLink2 = run(firstRun, [path.join(other, 'link2'), path.join(other, 'p')]);
	assert.notEqual(viaLink2.status, 0, 'refuses a dangling symlink as the config');
	assert.deepEqual(fs.readdirSync(other).sort(), ['link', 'link2'], `nothing written: ${fs.readdirSync(other)}`);
	// no arguments: a usage line, not a shell error
	const bare = run(firstRun, []);
	assert.notEqual(bare.status, 0);
	assert.match(bare.stderr, /usage: .*first-run-config OUT\.json PASSWORD-FILE/);

	// the broker accepts it as it is; and --check-config does check: a bad port, a user with an
	// unknown role, a user whose profile does not exist are refused, naming the JSON path.
	const check = run(broker, ['--check-config', '--config', cfgFile]);
	assert.equal(check.status, 0, `argobox-broker --check-config: ${check.stdout}${check.stderr}`);
	const bad = path.join(other, 'bad.json');
	fs.writeFileSync(bad, JSON.stringify({ ...cfg, listen: { ...cfg.listen, port: 70000 } }));
	const badCheck = run(broker, ['--check-config', '--config', bad]);
	assert.notEqual(badCheck.status, 0, '--check-config accepted listen.port 70000');
	fs.rmSync(bad);
	const refuse = (mutate, want) => {
		const c = JSON.parse(JSON.stringify(cfg));
		mutate(c);
		fs.writeFileSync(bad, JSON.stringify(c));
		const r = run(broker, ['--check-config', '--config', bad]);
		assert.notEqual(r.status, 0, `--check-config accepted ${want}`);
		assert.match(r.stderr + r.stdout, want);
		fs.rmSync(bad);
	};
	refuse((c) => { c.users[0].role = 'wizard'; }, /users\[0\]\.role/);
	refuse((c) => { c.users[0].profile = 'no-such-profile'; }, /users\[0\]\.profile/);
	log(`first-run-config: ${cfg.users.length} users, password ${password.length} characters; --check-config ok`);
	return { cfg, cfgFile, password };
}

// ---------- 2. the broker on the generated config ----------
async function startGeneratedBroker(cfg) {
	const b = await startBroker({ buildDir, dir, desktopCommand: [wmBin], base: cfg, config: { session: { binary: sessionBin } } });
	({ proc, logFile } = b);
	for (const k of ['auth', 'users', 'profiles']) assert.deepEqual(b.config[k], cfg[k]);
	assert.equal(b.config.listen.address, cfg.listen.address);
	return b.url;
}

// ---------- 3. in Chromium ----------
async function getJson(page, p) {
	return page.evaluate(async (url) => {
		const r = await fetch(url, { cache: 'no-store' });
		let json = null;
		try {
			json = await r.json();
		} catch {
			// no body
		}
		return { status: r.status, json };
	}, p);
}

// The wm's published state (as state.test.mjs recognises a running wm).
async function wmState(page, user) {
	return waitFor(`the window manager of ${user} to publish its state`, async () => {
		const r = await getJson(page, `/api/desktops/${encodeURIComponent(user)}/state`);
		return r.status === 200 && r.json?.stored && r.json.state;
	}, { timeout: 40000, interval: 200 });
}

const hexRgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const barTop = (st, h) => (st.taskbar?.position === 'top' ? 0 : h - BAR_H);

// The taskbar on the canvas: the launcher button in the wm's accent colour with its white
// centre dot, and the bar's own colour (dark or light theme) along its bottom rows.
async function checkTaskbar(page, st) {
	const accent = hexRgb(st.theme.accent);
	const dark = st.theme.mode === 'dark';
	let seen;
	await waitFor('the taskbar on the canvas', async () => {
		const { width: w, height: h } = await canvasSize(page);
		const y = barTop(st, h);
		const [b1, b2, dot, ...bar] = await Promise.all([
			pixel(page, 12, y + 22),
			pixel(page, 36, y + 22),
			pixel(page, 24, y + 22),
			...[0.3, 0.5, 0.7].map((f) => pixel(page, Math.round(w * f), y + BAR_H - 3)),
		]);
		seen = { accent, b1, b2, dot, bar };
		const barOk = bar.every((p) => (dark ? p.every((c) => c <= 60) : p.every((c) => c >= 200)));
		return near(b1, accent) && near(b2, accent) && near(dot, [255, 255, 255], 40) && barOk;
	}, { timeout: 20000, interval: 100 }).catch((e) => {
		throw new Error(`${e.message}; pixels ${JSON.stringify(seen)}`);
	});
	log(`taskbar ok (${st.theme.mode}, accent ${st.theme.accent}): ${JSON.stringify(seen)}`);
}

// The launcher entries the wm lists for an allowed-apps value (mirrors wm/desktop.c:
// $XDG_DATA_DIRS or /usr/local/share:/usr/share, then the source tree's assets/).
// TryExec: an absolute path, or a name on $PATH (the broker's, which the wm inherits).
function installed(prog) {
	const exe = (p) => {
		try {
			fs.accessSync(p, fs.constants.X_OK);
			return true;
		} catch {
			return false;
		}
	};
	if (prog.includes('/')) return prog.startsWith('/') && exe(prog);
	return (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':').some((d) => d && exe(path.join(d, prog)));
}

function launcherEntries(allowed) {
	const ok = (name) => allowed.includes('*') || allowed.includes(name) || allowed.includes(name.replace(/\.desktop$/, ''));
	const dirs = (process.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean);
	dirs.push(path.join(sourceDir, 'assets'));
	const ids = new Map();
	const scan = (d, prefix, depth) => {
		let ents;
		try {
			ents = fs.readdirSync(d, { withFileTypes: true });
		} catch {
			return;
		}
		for (const e of ents) {
			if (e.name.startsWith('.')) continue;
			const id = prefix + e.name;
			if (e.isDirectory()) {
				if (depth < 1) scan(path.join(d, e.name), `${id}-`, depth + 1);
				continue;
			}
			if (!id.endsWith('.desktop') || id.length <= 8 || id.length > 128 || ids.has(id)) continue;
			const kv = {};
			let inEntry = false;
			for (const line of fs.readFileSync(path.join(d, e.name), 'utf8').split('\n')) {
				const l = line.replace(/\r$/, '');
				if (l.startsWith('[')) inEntry = l === '[Desktop Entry]';
				else if (inEntry && l.includes('=') && !l.startsWith('#')) {
					const k = l.slice(0, l.indexOf('=')).trim();
					kv[k] = l.slice(l.indexOf('=') + 1).trim();
				}
			}
			if (kv.Type !== 'Application' || !kv.Exec || !kv.Name) continue;
			if (kv.NoDisplay === 'true' || kv.Hidden === 'true' || kv.Terminal === 'true') continue;
			if (kv.TryExec && !installed(kv.TryExec)) continue; // the wm hides those (lib/desktop_entry)
			if (!ok(id) && !(kv['X-ArgoBox-App'] && ok(kv['X-ArgoBox-App']))) continue;
			ids.set(id, kv.Name);
		}
	};
	for (const d of dirs) scan(path.join(d, 'applications'), '', 0);
	return [...ids.values()].sort();
}

// Opens the wm's launcher with its taskbar button and counts the entries it shows: each row
// has an icon (the theme's, or a coloured letter tile) at x 20..48 of the launcher; the icons
// are counted down that column as runs of pixels unlike the launcher's background (a header
// or "No apps are available" has no icon; their text is shorter than a run).
async function launcherCount(page, st, min, max) {
	const { height: h } = await canvasSize(page);
	const top = st.taskbar?.position === 'top';
	const ly = top ? BAR_H + 8 : h - BAR_H - L_H - 8;
	const probe = [8 + L_W - 30, ly + L_H - 30]; // inside the launcher, below its rows
	const bg = await pixel(page, ...probe);
	const button = await toPage(page, 8 + 16, barTop(st, h) + BAR_H / 2);
	await page.mouse.click(button.x, button.y);
	await waitFor('the launcher to open', async () => !near(await pixel(page, ...probe), bg, 6), { timeout: 15000 });
	const card = await pixel(page, ...probe); // the launcher's own background
	const count = () =>
		page.evaluate(([x0, x1, y0, y1, bg]) => {
			// a row is "on" where any pixel across the icon column differs from the background;
			// an icon is a run of on-rows at least 12 tall, allowing gaps of up to 7 rows (a dark
			// icon like the terminal's shows only its light parts); header text is shorter
			const c = document.querySelector('#screen canvas');
			const w = x1 - x0;
			const d = c.getContext('2d').getImageData(x0, y0, w, y1 - y0).data;
			let runs = 0;
			let start = -1;
			let lastOn = -1;
			for (let r = 0; r <= y1 - y0; r++) {
				let on = false;
				for (let col = 0; r < y1 - y0 && col < w && !on; col++) {
					const i = (r * w + col) * 4;
					on = Math.max(...[0, 1, 2].map((k) => Math.abs(d[i + k] - bg[k]))) > 24;
				}
				if (on) {
					if (start < 0 || r - lastOn > 8) {
						if (start >= 0 && lastOn - start + 1 >= 12) runs++;
						start = r;
					}
					lastOn = r;
				}
			}
			if (start >= 0 && lastOn - start + 1 >= 12) runs++;
			return runs;
		}, [8 + 20, 8 + 49, ly + TOP_H, ly + L_H - 6, card]);
	let last = -1;
	const n = await waitFor(`${min}..${max} entries in the launcher`, async () => {
		const c = await count();
		const stable = c === last;
		last = c;
		return stable && c >= min && c <= max && c;
	}, { timeout: 15000, interval: 250 }).catch((e) => {
		throw new Error(`${e.message} (counted ${last})`);
	});
	await page.keyboard.press('Escape');
	await waitFor('the launcher to close', async () => near(await pixel(page, ...probe), bg, 6), { timeout: 10000 });
	return n;
}

async function quickstart(url, password) {
	browser = await launchChromium();
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log('page error:', e.message));

	// a wrong password: refused, with a visible message, still signed out
	await page.goto(`${url}/`);
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 15000 });
	await page.fill('#login-username', 'admin');
	await page.fill('#login-password', `${password}x`);
	await page.click('#login-submit');
	const msg = await waitFor('the sign-in error', async () => {
		const t = (await page.textContent('#login-message')).trim();
		return t && !t.startsWith('Signing') && t;
	});
	assert.ok(await page.isVisible('#login-message'), 'the error message is visible');
	assert.equal(new URL(page.url()).pathname, '/');
	assert.equal((await getJson(page, '/api/me')).status, 401);
	log(`wrong password: "${msg}"`);

	// the generated password: signed in as admin, on the desktop
	await page.fill('#login-username', 'admin');
	await page.fill('#login-password', password);
	const t0 = Date.now();
	await page.click('#login-submit');
	await page.waitForURL('**/desktop.html', { timeout: 15000 });
	await page.waitForSelector('body[data-state="connected"]', { timeout: 60000 });
	log(`signed in as admin: first frame after ${Date.now() - t0} ms`);
	const me = (await getJson(page, '/api/me')).json;
	assert.equal(me.user, 'admin');
	assert.equal(me.role, 'admin');

	// the window manager's desktop: taskbar, and a launcher that lists apps
	const st = await wmState(page, 'admin');
	await checkTaskbar(page, st);
	const adminApps = launcherEntries(['*']);
	assert.ok(adminApps.length >= 1, 'no launcher entries found on this machine');
	// at least six entries fit in the launcher without scrolling (one category each)
	const nAdmin = await launcherCount(page, st, Math.min(adminApps.length, 6), adminApps.length);
	log(`admin launcher: ${nAdmin} entries shown of ${adminApps.length} (${adminApps.join(', ')})`);

	// sign out from the desktop menu
	await page.click('#btn-menu');
	await page.waitForSelector('#desktop-menu:not([hidden])');
	await page.click('#menu-sign-out');
	await page.waitForURL('**/?notice=signed-out', { timeout: 15000 });
	await page.waitForSelector('body[data-auth="signed-out"]', { timeout: 15000 });
	assert.equal((await getJson(page, '/api/me')).status, 401);
	log('signed out');

	// the landing page's demo link, with its default profile
	await page.click('a[href="#demo"]');
	await page.waitForSelector('#demo-form');
	assert.ok(await page.isVisible('#demo-start'));
	const picked = await page.evaluate(() => document.querySelector('#demo-form input[name="profile"]:checked')?.value);
	await page.click('#demo-start');
	await page.waitForURL('**/desktop.html', { timeout: 15000 });
	await page.waitForSelector('body[data-state="connected"]', { timeout: 60000 });
	const dme = (await getJson(page, '/api/me')).json;
	assert.equal(dme.role, 'demo');
	assert.ok(dme.expires_in_s > 0);
	assert.ok(dme.profile?.demo, `a demo profile: ${JSON.stringify(dme.profile)}`);
	const dst = await wmState(page, dme.user);
	await checkTaskbar(page, dst);
	const demoApps = launcherEntries(dme.profile.apps);
	assert.ok(demoApps.length >= 1, `the ${dme.profile.name} profile (${dme.profile.apps}) has no launcher entries here`);
	const nDemo = await launcherCount(page, dst, demoApps.length, demoApps.length);
	log(`demo ${dme.user} (${picked} → ${dme.profile.name}, ${dme.expires_in_s} s): launcher ${nDemo} entries (${demoApps.join(', ')})`);
	await ctx.close();

	// the broker audited the denial and the grant
	const audit = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const logins = audit.filter((a) => a.event === 'auth.login' && JSON.stringify(a).includes('"admin"'));
	assert.ok(logins.some((a) => a.outcome === 'deny'), 'the wrong password was audited');
	assert.ok(logins.some((a) => a.outcome === 'grant'), 'the sign-in was audited');
}

// Sessions of this test still running (their runtime dirs are under dir/run): the broker runs
// each in its own process group, so killing the broker's group does not reach them.
function sessionsLeft() {
	const mark = `--runtime-dir\0${path.join(dir, 'run')}/`;
	const pids = [];
	for (const e of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(e)) continue;
		try {
			const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
			const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${e}/status`, 'utf8'))?.[1];
			if (cmd.includes(mark) && state !== 'Z') pids.push(Number(e));
		} catch {
			// gone
		}
	}
	return pids;
}

let failure = null;
try {
	checkArgoboxScript();
	const varDir = path.join(dir, 'var');
	fs.mkdirSync(varDir, { mode: 0o700 }); // as ./argobox run makes it
	const { cfg, password } = checkFirstRun(varDir);
	const url = await startGeneratedBroker(cfg);
	log(`broker at ${url} on the generated config`);
	await quickstart(url, password);
} catch (e) {
	failure = e;
	console.error(e);
	if (logFile) console.error(tail(logFile, 60));
	try {
		const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
		if (pages[0]) await pages[0].screenshot({ path: path.join(dir, 'failure.png') });
	} catch {
		// no page
	}
}
if (browser) await browser.close().catch(() => {});
// SIGTERM, as Ctrl-C on ./argobox run: the broker stops the desktops it started
// (session.stop_on_shutdown defaults to true)
if (proc) await stopProcess(proc, 20000);
try {
	await waitFor('the desktops to stop with the broker', () => sessionsLeft().length === 0, { timeout: 15000, interval: 100 });
} catch {
	const left = sessionsLeft();
	failure = failure ?? new Error(`sessions left running after the broker stopped: ${left.join(' ')}`);
	for (const sig of ['SIGTERM', 'SIGKILL']) {
		for (const pid of sessionsLeft()) {
			try {
				process.kill(pid, sig);
			} catch {
				// gone
			}
		}
		await waitFor('the leftover sessions to stop', () => sessionsLeft().length === 0, { timeout: 10000 }).catch(() => {});
	}
}
if (failure) fail(`${failure.message} (files in ${dir})`);
fs.rmSync(dir, { recursive: true, force: true });
log('PASS');
process.exit(0);
