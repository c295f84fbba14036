/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-wm: the window manager and desktop shell of an ArgoBox desktop.
 *
 * It runs inside argobox-session on the session's Xvfb. It reparents every
 * top-level window into a frame drawn with cairo/pango (frame.c), keeps
 * ICCCM/EWMH properties (ewmh.c), draws the taskbar, launcher, desktop menu,
 * notification pop-ups and wallpaper (taskbar.c, launcher.c, bgmenu.c,
 * notify.c, wallpaper.c, theme.c), and exports/restores the desktop state
 * (state.c, deskstate.c) over the control channel to the session (ctl.c).
 *
 * Start reading at main() below, then event.c (one handler per X event type)
 * and client.c (what happens to a window). One process, one poll() loop: the
 * X connection and the control socket are watched by ab_loop_poll; queued X
 * events are drained before every poll, timers drive the clock, the
 * debounced export, notification expiry and reconnects. No threads.
 */
#include "wm.h"
#include "kbd.h"
#include "ab_config.h"
#include "ab_log.h"
#include "ab_paths.h"
#include "ab_util.h"

#include <X11/cursorfont.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifndef AB_WALLPAPER_DIR
#define AB_WALLPAPER_DIR "" /* "": <ab_assets_dir()>/wallpapers */
#endif

struct wm wm;

/*
 * Under LeakSanitizer (the CI build): fontconfig, pango, glib, cairo and Xlib
 * keep process-wide caches that they never free; they are not our leaks.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\nleak:libpango\nleak:libglib\nleak:libgobject\n"
	       "leak:libharfbuzz\nleak:libcairo.so\nleak:libX11.so\nleak:libxcb.so\n";
}

struct wm_config {
	char apps[2048];
	char wallpaper_dir[512];
	char socket[256];
	char state_out[512];
	char font[64];
	char log_level[8];
};

static const struct wm_config defaults = {
    .apps = "",
    .wallpaper_dir = AB_WALLPAPER_DIR,
    .socket = "",
    .state_out = "",
    .font = AB_THEME_FONT,
    .log_level = "info",
};

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const struct ab_cfg_field fields[] = {
    AB_CFG_STR("apps", struct wm_config, apps,
               "allowed apps: .desktop ids or names, comma separated; '*' = all (env "
               "ARGOBOX_APPS wins)"),
    AB_CFG_STR("wallpaper_dir", struct wm_config, wallpaper_dir, "directory of wallpaper PNGs"),
    AB_CFG_STR("socket", struct wm_config, socket,
               "control socket of argobox-session (env ARGOBOX_WM_SOCKET wins)"),
    AB_CFG_STR("state_out", struct wm_config, state_out,
               "also write the exported state to this file (atomically)"),
    AB_CFG_STR("font", struct wm_config, font, "Pango font of titles and the shell"),
    AB_CFG_ENUM("log.level", struct wm_config, log_level, levels, "log level"),
    {0},
};

static bool other_wm;

static int
startup_error(Display *dpy, XErrorEvent *e)
{
	other_wm = true;
	return 0;
}

static int
x_io_error(Display *dpy)
{
	ab_error("lost the connection to the X server");
	exit(1);
}

static void
on_x(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	/* events are drained by the main loop before each poll */
}

static int sig_fd = -1;

static void
on_signal(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		ab_info("signal %u: exiting", si.ssi_signo);
		wm.running = false;
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: argobox-wm [options]\n"
	           "  --restore FILE        desktop state to restore (env ARGOBOX_STATE_FILE)\n"
	           "  --state-out FILE      also write every exported state to FILE\n"
	           "  --socket PATH         session control socket (env ARGOBOX_WM_SOCKET)\n"
	           "  --apps LIST           allowed apps (env ARGOBOX_APPS), '*' = all\n"
	           "  --wallpaper-dir DIR   wallpaper PNGs (env ARGOBOX_WALLPAPER_DIR)\n"
	           "  --restore-timeout MS  give up waiting for restored windows after MS\n"
	           "                        (env ARGOBOX_RESTORE_TIMEOUT_MS, default 30000)\n"
	           "  --validate-state FILE check a state file and exit (0 = valid)\n"
	           "  --config FILE, --check-config, --print-default-config\n"
	           "  --log-level LEVEL     debug, info, warn, error\n");
}

static const char *
pick(const char *cli, const char *env, const char *cfg)
{
	if (cli)
		return cli;
	const char *e = env ? getenv(env) : NULL;
	if (e)
		return e;
	return cfg && *cfg ? cfg : NULL;
}

static void
setup_x(void)
{
	wm.screen = DefaultScreen(wm.dpy);
	wm.root = RootWindow(wm.dpy, wm.screen);
	wm.visual = DefaultVisual(wm.dpy, wm.screen);
	wm.cmap = DefaultColormap(wm.dpy, wm.screen);
	wm.sw = DisplayWidth(wm.dpy, wm.screen);
	wm.sh = DisplayHeight(wm.dpy, wm.screen);
	XSetErrorHandler(startup_error);
	/* a window manager that is exiting may still hold the root for a moment */
	for (int tries = 0;; tries++) {
		other_wm = false;
		XSelectInput(wm.dpy, wm.root,
		             SubstructureRedirectMask | SubstructureNotifyMask |
		                 StructureNotifyMask | ButtonPressMask | PropertyChangeMask |
		                 KeyPressMask | KeyReleaseMask);
		XSync(wm.dpy, False);
		if (!other_wm)
			break;
		if (tries == 20) {
			ab_error("another window manager is running on this display");
			exit(1);
		}
		usleep(100 * 1000);
	}
	XSetErrorHandler(event_x_error);
	XSetIOErrorHandler(x_io_error);
	XDefineCursor(wm.dpy, wm.root, XCreateFontCursor(wm.dpy, XC_left_ptr));
}

static void
shutdown_wm(void)
{
	/* the last state goes out at once; windows go back to the root so that
	 * a restarted window manager adopts them where they are */
	state_export_now();
	ctl_stop();
	launcher_close();
	switcher_free();
	apprelay_stop();
	bgmenu_free();
	notify_dismiss_all();
	nc_free();
	for (struct client *c = wm.clients; c; c = c->next)
		client_release(c);
	while (wm.clients) {
		struct client *c = wm.clients;
		wm.clients = c->next;
		if (c->icon)
			cairo_surface_destroy(c->icon);
		free(c);
	}
	free(wm.stack);
	free(wm.mru);
	free(wm.last_export);
	free(wm.allowed);
	free(wm.wallpaper_dir);
	free(wm.state_out);
	XSetInputFocus(wm.dpy, PointerRoot, RevertToPointerRoot, CurrentTime);
	XDeleteProperty(wm.dpy, wm.root, wm.atoms[A_NET_SUPPORTING_WM_CHECK]);
	XDestroyWindow(wm.dpy, wm.check);
	XSync(wm.dpy, False);
	XCloseDisplay(wm.dpy);
}

int
main(int argc, char **argv)
{
	const char *restore = NULL, *state_out = NULL, *sock = NULL, *apps = NULL, *wpdir = NULL,
	           *level = NULL, *restore_to = NULL;
	/* The value-only options, in opts[]'s order (getopt_long returns 0 for them). */
	const char **values[] = {&restore, &state_out, &sock, &apps, &wpdir, &restore_to, &level};
	static const struct option opts[] = {
	    {"restore", required_argument, NULL, 0},
	    {"state-out", required_argument, NULL, 0},
	    {"socket", required_argument, NULL, 0},
	    {"apps", required_argument, NULL, 0},
	    {"wallpaper-dir", required_argument, NULL, 0},
	    {"restore-timeout", required_argument, NULL, 0},
	    {"log-level", required_argument, NULL, 0},
	    {"validate-state", required_argument, NULL, 'V'},
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"print-default-config", no_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct wm_config cfg;
	int ex = -1;

	ab_log_init("wm");
	ab_config_init(fields, &cfg, &defaults, sizeof(cfg));
	if (ab_config_cli(fields, &cfg, argc, argv, NULL, &ex) < 0 || ex >= 0) {
		ab_config_free(fields, &cfg);
		return ex >= 0 ? ex : 1;
	}
	int o, i;
	while ((o = getopt_long(argc, argv, "h", opts, &i)) != -1) {
		switch (o) {
		case 0:
			AB_ASSERT(i >= 0 && (size_t)i < AB_ARRAY_SIZE(values));
			*values[i] = optarg;
			break;
		case 'V': {
			struct deskstate ds;
			struct ab_err err = {0};
			if (deskstate_load_file(optarg, &ds, &err) < 0) {
				fprintf(stderr, "invalid: %s\n", err.msg);
				return 1;
			}
			deskstate_free(&ds);
			printf("valid\n");
			return 0;
		}
		case 'c':
		case 'C':
		case 'P':
			break; /* handled by ab_config_cli */
		default:
			return ab_usage(usage, o == 'h');
		}
	}
	level = level ? level : cfg.log_level;
	int lv = ab_log_level_from_string(level);
	if (lv < 0) {
		ab_error("log level '%s' is not debug, info, warn or error", level);
		return 2;
	}
	ab_log_set_level(lv);
	restore = pick(restore, "ARGOBOX_STATE_FILE", NULL);
	sock = pick(sock, "ARGOBOX_WM_SOCKET", cfg.socket);
	apps = pick(apps, "ARGOBOX_APPS", cfg.apps);
	wpdir = pick(wpdir, "ARGOBOX_WALLPAPER_DIR", cfg.wallpaper_dir);
	_cleanup_free_ char *wpdefault = ab_xasprintf("%s/wallpapers", ab_assets_dir());
	if (!wpdir || !wpdir[0])
		wpdir = wpdefault;
	state_out = pick(state_out, NULL, cfg.state_out);
	restore_to = pick(restore_to, "ARGOBOX_RESTORE_TIMEOUT_MS", NULL);
	wm.restore_timeout_ms = 30000;
	if (restore_to) {
		char *end;
		long v = strtol(restore_to, &end, 10);
		if (*end || end == restore_to || v < 1 || v > 600000) {
			ab_error("restore timeout '%s' is not a number of ms in [1, 600000]",
			         restore_to);
			return 2;
		}
		wm.restore_timeout_ms = (int)v;
	}

	/* Xlib's text conversions (COMPOUND_TEXT titles) need a UTF-8 capable locale */
	if (!setlocale(LC_CTYPE, "") || !XSupportsLocale())
		setlocale(LC_CTYPE, "C.UTF-8");
	wm.dpy = XOpenDisplay(NULL);
	if (!wm.dpy) {
		ab_error("cannot open display '%s'", getenv("DISPLAY") ? getenv("DISPLAY") : "");
		return 1;
	}
	wm.loop = ab_loop_poll_new();
	wm.ctl_fd = -1;
	wm.allowed = ab_xstrdup(apps ? apps : "");
	wm.wallpaper_dir = wpdir ? ab_xstrdup(wpdir) : NULL;
	wm.state_out = state_out ? ab_xstrdup(state_out) : NULL;
	ab_theme_default(&wm.theme);
	if (cfg.font[0])
		snprintf(wm.theme.font, sizeof(wm.theme.font), "%s", cfg.font);
	ab_config_free(fields, &cfg);
	if (!wm.allowed[0])
		ab_warn("no apps are allowed (set ARGOBOX_APPS or 'apps' in the config)");
	/* the apps it starts offer the same list (the files app's "open with") */
	setenv("ARGOBOX_APPS", wm.allowed, 1);
	/* $XDG_DATA_DIRS (or the standard dirs), then ArgoBox's own entries
	 * (assets/applications: they name the profile apps they provide) */
	const char *xdg = getenv("XDG_DATA_DIRS");
	_cleanup_free_ char *dirs = ab_xasprintf(
	    "%s:%s", xdg && *xdg ? xdg : "/usr/local/share:/usr/share", ab_assets_dir());
	desktop_scan(dirs, wm.allowed, &wm.apps);
	_cleanup_free_ char *own_icons = ab_xasprintf("%s/icons", ab_assets_dir());
	wm.icons = ab_icons_new(NULL, own_icons, NULL);
	ab_info("%zu apps in the launcher", wm.apps.n);
	/* which ones, by .desktop id (tests check a desktop image offers exactly its profile's) */
	size_t idlen = 1;
	for (size_t k = 0; k < wm.apps.n; k++)
		idlen += strlen(wm.apps.v[k].id) + 1;
	_cleanup_free_ char *ids = ab_xcalloc(idlen, 1);
	for (size_t k = 0; k < wm.apps.n; k++) {
		if (k)
			strcat(ids, " ");
		strcat(ids, wm.apps.v[k].id);
	}
	ab_info("launcher apps: %s", ids);

	/* the state to restore: invalid or hostile input boots the defaults */
	struct deskstate ds;
	deskstate_init_default(&ds);
	if (restore) {
		struct ab_err err = {0};
		struct deskstate in;
		if (deskstate_load_file(restore, &in, &err) < 0) {
			ab_error("ignoring the state to restore: %s", err.msg);
		} else {
			deskstate_free(&ds);
			ds = in;
			ab_info("restoring '%s': %zu windows", restore, ds.n_windows);
		}
	}
	wm.ds = ds;
	wm.ds.windows = NULL;
	wm.ds.n_windows = 0;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	struct sigaction sa = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT};
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	setup_x();
	theme_apply();
	ewmh_init();
	xdnd_init();
	wallpaper_apply();
	taskbar_create();
	keys_grab();
	kbd_init(); /* the saved layout, or the browser's on a first sign-in */
	ewmh_update_desktops();
	ab_loop_watch(wm.loop, ConnectionNumber(wm.dpy), AB_LOOP_READ, on_x, NULL);
	ab_loop_watch(wm.loop, sig_fd, AB_LOOP_READ, on_signal, NULL);

	XGrabServer(wm.dpy);
	state_restore_begin(&ds);
	client_adopt_all();
	XUngrabServer(wm.dpy);
	state_restore_launch();
	free(ds.windows); /* the rest of ds (prefs) now belongs to wm.ds */
	nc_restore();
	client_focus_top();
	ctl_start(sock);
	state_changed();

	/* draw once (this also loads the fonts) before saying we are ready */
	taskbar_draw();
	ewmh_announce();
	XSync(wm.dpy, False);
	wm.running = true;
	ab_info("running on %dx%d", wm.sw, wm.sh);
	while (wm.running) {
		while (XPending(wm.dpy)) {
			XEvent ev;
			XNextEvent(wm.dpy, &ev);
			event_dispatch(&ev);
		}
		XFlush(wm.dpy);
		if (!wm.running)
			break;
		ab_loop_poll_once(wm.loop, -1);
	}
	shutdown_wm();
	desktop_list_free(&wm.apps);
	ab_icons_free(wm.icons);
	deskstate_free(&wm.ds);
	return 0;
}
