/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * launcher: the app menu. Lists the allowed .desktop apps by category, or the
 * ones matching what is typed (search as you type); Up/Down/Enter/Escape,
 * click to start, wheel to scroll.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/keysym.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define L_W     440
#define L_H     540
#define ROW_H   44
#define HEAD_H  28
#define TOP_H   64
#define MAX_ROW 256

struct row {
	const struct desktop_entry *e; /* NULL for a category header */
	enum desktop_category cat;
	int y; /* in list coordinates */
};

/* Apps started recently, so their windows get the .desktop id they came from. */
static struct {
	pid_t pid;
	char id[129];
} launched[32];
static size_t next_launch;

const char *
launcher_desktop_id_for_pid(pid_t pid)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(launched); i++) {
		if (pid > 0 && launched[i].pid == pid)
			return launched[i].id;
	}
	return NULL;
}

static struct row rows[MAX_ROW];
static size_t n_rows;
static int list_h;

static void
build_rows(void)
{
	n_rows = 0;
	int y = 0;
	if (wm.query[0]) {
		for (size_t i = 0; i < wm.apps.n && n_rows < MAX_ROW; i++) {
			if (desktop_match(&wm.apps.v[i], wm.query)) {
				rows[n_rows++] =
				    (struct row){&wm.apps.v[i], wm.apps.v[i].category, y};
				y += ROW_H;
			}
		}
	} else {
		for (int cat = 0; cat < DESKTOP_CAT_MAX; cat++) {
			bool header = false;
			for (size_t i = 0; i < wm.apps.n && n_rows < MAX_ROW - 1; i++) {
				if ((int)wm.apps.v[i].category != cat)
					continue;
				if (!header) {
					rows[n_rows++] = (struct row){NULL, cat, y};
					y += HEAD_H;
					header = true;
				}
				rows[n_rows++] = (struct row){&wm.apps.v[i], cat, y};
				y += ROW_H;
			}
		}
	}
	list_h = y;
}

static int
first_selectable(int from, int dir)
{
	for (int i = from; i >= 0 && i < (int)n_rows; i += dir) {
		if (rows[i].e)
			return i;
	}
	return -1;
}

static void
keep_visible(void)
{
	if (wm.sel < 0)
		return;
	int vis = L_H - TOP_H - 12;
	int y = rows[wm.sel].y;
	if (y < wm.scroll)
		wm.scroll = y;
	if (y + ROW_H > wm.scroll + vis)
		wm.scroll = y + ROW_H - vis;
}

static void
reset_selection(void)
{
	build_rows();
	wm.scroll = 0;
	wm.sel = first_selectable(0, 1);
}

void
launcher_draw(void)
{
	if (!wm.launcher_open)
		return;
	const struct ab_theme *t = &wm.theme;
	cairo_t *cr = cairo_create(wm.launcher_surf);
	theme_card(cr, L_W, L_H);
	/* search field */
	ab_cairo_rounded(cr, 14, 14, L_W - 28, 36, 10);
	theme_set_rgba(cr, t->hover);
	cairo_fill(cr);
	ab_cairo_rounded(cr, 14.5, 14.5, L_W - 29, 35, 10);
	theme_set_rgb(cr, t->accent);
	cairo_stroke(cr);
	if (wm.query[0]) {
		char shown[80];
		snprintf(shown, sizeof(shown), "%s\xe2\x96\x8f", wm.query);
		theme_set_rgb(cr, t->text);
		theme_text(cr, shown, t->font, 28, 14, L_W - 56, 36, false);
	} else {
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, "Type to search apps", t->font, 28, 14, L_W - 56, 36, false);
	}
	cairo_rectangle(cr, 0, TOP_H, L_W, L_H - TOP_H - 6);
	cairo_clip(cr);
	for (size_t i = 0; i < n_rows; i++) {
		double y = TOP_H + rows[i].y - wm.scroll;
		if (y + ROW_H < TOP_H || y > L_H)
			continue;
		if (!rows[i].e) {
			theme_set_rgb(cr, t->text_dim);
			theme_text(cr, desktop_category_name(rows[i].cat),
			           "Noto Sans,DejaVu Sans Bold 8.5", 20, y + 4, L_W - 40,
			           HEAD_H - 4, false);
			continue;
		}
		if ((int)i == wm.sel)
			theme_row_selected(cr, 8, y, L_W - 16, ROW_H);
		theme_app_icon(cr, rows[i].e, 20, y + 8, 28);
		theme_set_rgb(cr, t->text);
		theme_text(cr, rows[i].e->name, t->font, 60, y + 3, L_W - 80, 20, false);
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, rows[i].e->comment[0] ? rows[i].e->comment : rows[i].e->id,
		           "Noto Sans,DejaVu Sans 8.5", 60, y + 21, L_W - 80, 18, false);
	}
	if (n_rows == 0) {
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, wm.apps.n ? "No app matches" : "No apps are available", t->font, 0,
		           TOP_H + 20, L_W, 30, true);
	}
	cairo_destroy(cr);
	cairo_surface_flush(wm.launcher_surf);
}

static void
launcher_open(void)
{
	int bh = taskbar_height();
	int y = wm.ds.tb_position == DESKSTATE_TOP ? bh + 8 : wm.sh - bh - L_H - 8;
	if (!wm.launcher) {
		XSetWindowAttributes sa = {
		    .override_redirect = True,
		    .background_pixmap = None,
		    .event_mask = ButtonPressMask | ExposureMask | KeyPressMask,
		};
		wm.launcher = XCreateWindow(wm.dpy, wm.root, 8, y, L_W, L_H, 0, CopyFromParent,
		                            InputOutput, CopyFromParent,
		                            CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
		wm.launcher_surf =
		    cairo_xlib_surface_create(wm.dpy, wm.launcher, wm.visual, L_W, L_H);
	} else {
		XMoveWindow(wm.dpy, wm.launcher, 8, y);
	}
	wm.query[0] = '\0';
	nc_close();
	taskbar_reveal(true);
	reset_selection();
	wm.launcher_open = true;
	XMapRaised(wm.dpy, wm.launcher);
	client_restack();
	XGrabKeyboard(wm.dpy, wm.root, True, GrabModeAsync, GrabModeAsync, CurrentTime);
	XGrabPointer(wm.dpy, wm.launcher, True, ButtonPressMask, GrabModeAsync, GrabModeAsync, None,
	             None, CurrentTime);
	launcher_draw();
}

void
launcher_close(void)
{
	if (!wm.launcher_open)
		return;
	wm.launcher_open = false;
	XUngrabKeyboard(wm.dpy, CurrentTime);
	XUngrabPointer(wm.dpy, CurrentTime);
	XUnmapWindow(wm.dpy, wm.launcher);
	taskbar_reveal(false);
	if (wm.focus)
		client_focus(wm.focus);
}

void
launcher_toggle(void)
{
	if (wm.launcher_open)
		launcher_close();
	else
		launcher_open();
}

int
launcher_spawn(const struct desktop_entry *e)
{
	return launcher_spawn_restore(e, NULL);
}

void
launcher_child_reset(void)
{
	ab_unblock_signals();
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	close(ConnectionNumber(wm.dpy));
}

int
launcher_spawn_restore(const struct desktop_entry *e, const char *instance)
{
	char **argv = NULL;
	struct ab_err err = {0};
	if (desktop_argv(e, &argv, &err) < 0) {
		ab_warn("cannot start %s", err.msg);
		return -EINVAL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		desktop_argv_free(argv);
		ab_warn("starting '%s': fork: %s", e->id, strerror(-r));
		return r;
	}
	if (pid == 0) {
		launcher_child_reset();
		setsid();
		if (instance && *instance)
			setenv("ARGOBOX_RESTORE_INSTANCE", instance, 1);
		else
			unsetenv("ARGOBOX_RESTORE_INSTANCE");
		execvp(argv[0], argv);
		_exit(127);
	}
	ab_info("started '%s' (%s, pid %d)", e->id, argv[0], (int)pid);
	launched[next_launch].pid = pid;
	snprintf(launched[next_launch].id, sizeof(launched[0].id), "%s", e->id);
	next_launch = (next_launch + 1) % AB_ARRAY_SIZE(launched);
	desktop_argv_free(argv);
	return pid;
}

/* The entry providing profile app `app`: ArgoBox's own (argobox-*) before others. */
static const struct desktop_entry *
entry_for_app(const char *app)
{
	const struct desktop_entry *found = NULL;
	for (size_t i = 0; i < wm.apps.n; i++) {
		const struct desktop_entry *e = &wm.apps.v[i];
		if (strcmp(e->app, app) != 0)
			continue;
		if (strncmp(e->id, "argobox-", 8) == 0)
			return e;
		if (!found)
			found = e;
	}
	return found;
}

int
launcher_spawn_app(const char *app)
{
	const struct desktop_entry *e = entry_for_app(app);
	if (!e) {
		ab_warn("no allowed app provides '%s'", app);
		char body[160];
		snprintf(body, sizeof(body), "This desktop's profile has no %s app.", app);
		nc_notify("Not available", body, "normal", 4000, NULL);
		return -ENOENT;
	}
	if (wm.launcher_open)
		launcher_close();
	return launcher_spawn(e);
}

static void
activate(int i)
{
	if (i < 0 || i >= (int)n_rows || !rows[i].e)
		return;
	const struct desktop_entry *e = rows[i].e;
	launcher_close();
	launcher_spawn(e);
}

void
launcher_key(XKeyEvent *e)
{
	char buf[32];
	KeySym sym = NoSymbol;
	int n = XLookupString(e, buf, sizeof(buf) - 1, &sym, NULL);
	buf[n > 0 ? n : 0] = '\0';
	switch (sym) {
	case XK_Super_L:
	case XK_Super_R:
		wm.super_alone = true;
		return;
	case XK_Escape:
		launcher_close();
		return;
	case XK_Return:
	case XK_KP_Enter:
		activate(wm.sel);
		return;
	case XK_Down: {
		int s = first_selectable(wm.sel + 1, 1);
		if (s >= 0)
			wm.sel = s;
		break;
	}
	case XK_Up: {
		int s = first_selectable(wm.sel - 1, -1);
		if (s >= 0)
			wm.sel = s;
		break;
	}
	case XK_BackSpace: {
		size_t len = strlen(wm.query);
		/* drop one UTF-8 character */
		while (len > 0 && ((unsigned char)wm.query[len - 1] & 0xC0) == 0x80)
			len--;
		if (len > 0)
			len--;
		wm.query[len] = '\0';
		reset_selection();
		break;
	}
	default:
		if (n > 0 && (unsigned char)buf[0] >= 0x20 && buf[0] != 0x7f &&
		    !(e->state & (ControlMask | Mod1Mask | Mod4Mask))) {
			size_t len = strlen(wm.query);
			if (len + (size_t)n < sizeof(wm.query)) {
				memcpy(wm.query + len, buf, (size_t)n + 1);
				reset_selection();
			}
		} else {
			return;
		}
	}
	wm.super_alone = false;
	keep_visible();
	launcher_draw();
}

void
launcher_button_press(XButtonEvent *e)
{
	if (e->window != wm.launcher || e->x < 0 || e->y < 0 || e->x >= L_W || e->y >= L_H) {
		launcher_close();
		return;
	}
	if (e->button == Button4 || e->button == Button5) {
		int max = AB_MAX(0, list_h - (L_H - TOP_H - 12));
		wm.scroll += e->button == Button5 ? ROW_H : -ROW_H;
		wm.scroll = AB_MAX(0, AB_MIN(wm.scroll, max));
		launcher_draw();
		return;
	}
	int ly = e->y - TOP_H + wm.scroll;
	if (e->y < TOP_H)
		return;
	for (size_t i = 0; i < n_rows; i++) {
		int h = rows[i].e ? ROW_H : HEAD_H;
		if (ly >= rows[i].y && ly < rows[i].y + h) {
			activate((int)i);
			return;
		}
	}
}
