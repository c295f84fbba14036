/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-settings: theme (light/dark), accent, wallpaper, keyboard layout, notifications (on, or
 * do not disturb) and the screen size.
 *
 * It changes nothing itself: each choice is a control message (docs/control-channel.md:
 * theme, wallpaper, keyboard) appended to the root window's _ARGOBOX_CTL_REQUEST, which
 * argobox-wm takes like one from the control channel (wm/ctl.c ctl_handle_property), so the
 * change lands in the desktop state and goes to KV like any other. What is shown is read
 * back from the desktop: _ARGOBOX_THEME (theme, accent), _XKB_RULES_NAMES (layout),
 * _ARGOBOX_NOTIFICATIONS (do not disturb). The screen size is set with RandR on the desktop's
 * own X server (XRRSetScreenSize, within the sizes it allows); argobox-session follows it and
 * tells the viewers, and the wm moves windows back on screen (docs/wm.md).
 *
 * The native-VNC access password (docs/vnc.md): asked of the broker through the desktop's
 * control channel (ab_app_request, op "vnc_password"; the broker decides for the desktop's
 * owner and audits, as for the web page), never with the browser's cookie. A new password is
 * shown once (Ctrl+C copies it); Delete revokes it.
 *
 * Keys: Up/Down choose a row, Left/Right (or Enter/Space) change it.
 */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_paths.h"
#include "ab_randr.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/extensions/Xrandr.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ROW_H 44

enum row { R_THEME, R_ACCENT, R_FONT, R_WALLPAPER, R_KEYBOARD, R_NOTIFY, R_SCREEN, R_VNC, R_MAX };

static const char *const accents[] = {"#3d8bfd", "#22a06b", "#e5484d", "#f5a524",
                                      "#8e4ec6", "#0ea5b7", "#d6409f", "#6b7280"};
static const char *const layouts[] = {"us", "us(intl)", "gb", "de", "fr", "es", "it", "ch", "pt",
                                      "nl", "se",       "no", "dk", "fi", "pl", "cz", "ru"};
/* what is offered, within the range the X server allows (Xvfb: up to its initial size) */
static const int sizes[][2] = {{800, 600},  {1024, 768}, {1280, 720}, {1280, 800},
                               {1366, 768}, {1440, 900}, {1600, 900}, {1920, 1080}};

struct settings {
	struct ab_app app;
	struct ab_list list;
	char **walls;
	size_t n_walls, wall;
	char layout[32];
	char message[256];
	Atom a_xkb, a_notify;
	bool dnd;
	/* the native-VNC password, as the broker last said */
	json_int_t next_id;
	char vnc[160];      /* the row's value */
	char vnc_pw[32];    /* a new password, shown until the window closes */
	char vnc_where[96]; /* host:port and expiry of the new one */
};

static bool x_failed;

static int
x_error(Display *dpy, XErrorEvent *e)
{
	x_failed = true;
	return 0;
}

/* The size at the end of the theme's font description ("Noto Sans 10"), 10 when none. */
static int
font_size(const struct ab_theme *t)
{
	const char *sp = strrchr(t->font, ' ');
	int v = sp ? atoi(sp + 1) : 0;
	return v > 0 ? v : 10;
}

/* Do not disturb, as the wm publishes it ("dnd": true near the start of its JSON). */
static void
settings_read_dnd(struct settings *s)
{
	size_t n = 0;
	_cleanup_free_ char *data = ab_app_root_text(&s->app, s->a_notify, &n);
	s->dnd = data && strstr(data, "\"dnd\":true");
}

static void
screen_size(struct settings *s, int *w, int *h)
{
	Window r;
	int x, y;
	unsigned uw = 0, uh = 0, b, d;
	XGetGeometry(s->app.dpy, s->app.root, &r, &x, &y, &uw, &uh, &b, &d);
	*w = (int)uw;
	*h = (int)uh;
}

/* The next size (dir +1/-1) the X server allows, from the list; false when none other. */
static bool
next_size(struct settings *s, int dir, int *ret_w, int *ret_h)
{
	int minw = 0, minh = 0, maxw = 0, maxh = 0, w, h;
	if (!XRRGetScreenSizeRange(s->app.dpy, s->app.root, &minw, &minh, &maxw, &maxh))
		return false;
	screen_size(s, &w, &h);
	int n = (int)AB_ARRAY_SIZE(sizes), cur = -1;
	for (int i = 0; i < n; i++) {
		if (sizes[i][0] == w && sizes[i][1] == h)
			cur = i;
	}
	for (int step = 1; step <= n; step++) {
		int i = ((cur < 0 ? (dir > 0 ? -1 : 0) : cur) + dir * step + 2 * n) % n;
		if (sizes[i][0] >= minw && sizes[i][0] <= maxw && sizes[i][1] >= minh &&
		    sizes[i][1] <= maxh && (sizes[i][0] != w || sizes[i][1] != h)) {
			*ret_w = sizes[i][0];
			*ret_h = sizes[i][1];
			return true;
		}
	}
	return false;
}

static void
settings_send(struct settings *s, json_t *msg)
{
	ab_app_request(&s->app, msg);
}

/* A vnc_password request (action status, create or revoke) to the broker, for our owner. */
static void
settings_vnc(struct settings *s, const char *action)
{
	ab_app_request(&s->app,
	               json_pack("{sisIssssss}", "v", 1, "id", s->next_id++, "type",
	                         "services_request", "op", "vnc_password", "action", action));
}

/* The broker's answer to a vnc_password request. */
static void
settings_answer(struct ab_app *app, json_t *m)
{
	struct settings *s = app->data;
	const char *op = json_string_value(json_object_get(m, "op"));
	if (!op || strcmp(op, "vnc_password") != 0)
		return;
	json_int_t status = json_integer_value(json_object_get(m, "status"));
	const char *err = json_string_value(json_object_get(m, "error"));
	const char *pw = json_string_value(json_object_get(m, "password"));
	const char *expires = json_string_value(json_object_get(m, "expires"));
	const char *host = json_string_value(json_object_get(m, "host"));
	json_t *exists = json_object_get(m, "exists"), *revoked = json_object_get(m, "revoked");
	if (status != 200) {
		snprintf(s->vnc, sizeof(s->vnc), "unavailable");
		snprintf(s->message, sizeof(s->message), "VNC access: %d %.100s", (int)status,
		         err ? err : "refused");
		ab_warn("%s", s->message);
	} else if (pw) {
		snprintf(s->vnc_pw, sizeof(s->vnc_pw), "%s", pw);
		snprintf(s->vnc_where, sizeof(s->vnc_where), "%.60s:%d until %.24s",
		         host ? host : "?", (int)json_integer_value(json_object_get(m, "port")),
		         expires ? expires : "?");
		snprintf(s->vnc, sizeof(s->vnc), "%s", s->vnc_pw);
		snprintf(s->message, sizeof(s->message),
		         "VNC password %s for %s (shown once; Ctrl+C copies it)", s->vnc_pw,
		         s->vnc_where);
		ab_info("VNC access: a new password, for %s", s->vnc_where);
	} else if (json_is_true(revoked) || json_is_false(revoked)) {
		s->vnc_pw[0] = '\0';
		snprintf(s->vnc, sizeof(s->vnc), "none");
		snprintf(s->message, sizeof(s->message), "VNC access: %s",
		         json_is_true(revoked) ? "password revoked" : "there was no password");
		ab_info("%s", s->message);
	} else if (json_is_boolean(exists)) {
		if (!json_is_true(json_object_get(m, "enabled")))
			snprintf(s->vnc, sizeof(s->vnc), "disabled on this server");
		else if (json_is_true(exists))
			snprintf(s->vnc, sizeof(s->vnc), "a password until %.24s",
			         expires ? expires : "?");
		else
			snprintf(s->vnc, sizeof(s->vnc), "none");
		ab_info("VNC access: %s", s->vnc);
	}
	ab_app_redraw(app);
}

static void
settings_read_layout(struct settings *s)
{
	size_t n = 0;
	_cleanup_free_ char *data = ab_app_root_text(&s->app, s->a_xkb, &n);
	s->layout[0] = '\0';
	if (data) {
		/* rules \0 model \0 layout \0 variant \0 options */
		const char *f[5] = {0};
		size_t k = 0;
		for (size_t i = 0; i < n && k < 5; k++) {
			f[k] = data + i;
			i += strnlen(f[k], n - i) + 1;
		}
		if (f[2] && f[2][0]) {
			if (f[3] && f[3][0])
				snprintf(s->layout, sizeof(s->layout), "%.12s(%.12s)", f[2], f[3]);
			else
				snprintf(s->layout, sizeof(s->layout), "%.30s", f[2]);
		}
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
settings_scan_walls(struct settings *s)
{
	const char *env = getenv("ARGOBOX_WALLPAPER_DIR");
	char dir[4096];
	if (env && env[0])
		snprintf(dir, sizeof(dir), "%s", env);
	else
		snprintf(dir, sizeof(dir), "%s/assets/wallpapers", ab_share_dir());
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".png") == 0) {
			s->walls = ab_xrealloc(s->walls, (s->n_walls + 1) * sizeof(*s->walls));
			s->walls[s->n_walls++] = ab_xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (s->n_walls)
		qsort(s->walls, s->n_walls, sizeof(*s->walls), cmp_str);
}

static size_t
accent_index(const struct settings *s)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(accents); i++) {
		if (strcmp(accents[i], s->app.theme.accent_hex) == 0)
			return i;
	}
	return 0;
}

static void
settings_change(struct settings *s, int dir)
{
	const struct ab_theme *t = &s->app.theme;
	switch ((enum row)s->list.sel) {
	case R_THEME:
		settings_send(s, json_pack("{s:s,s:s,s:s}", "type", "theme", "mode",
		                           t->dark ? "light" : "dark", "accent", t->accent_hex));
		snprintf(s->message, sizeof(s->message), "theme: %s", t->dark ? "light" : "dark");
		break;
	case R_ACCENT: {
		size_t n = AB_ARRAY_SIZE(accents);
		size_t i = (accent_index(s) + n + (size_t)(dir < 0 ? n - 1 : 1)) % n;
		settings_send(s, json_pack("{s:s,s:s,s:s}", "type", "theme", "mode",
		                           t->dark ? "dark" : "light", "accent", accents[i]));
		snprintf(s->message, sizeof(s->message), "accent: %s", accents[i]);
		break;
	}
	case R_WALLPAPER:
		if (!s->n_walls) {
			snprintf(s->message, sizeof(s->message), "no wallpapers found");
			break;
		}
		s->wall = (s->wall + s->n_walls + (dir < 0 ? s->n_walls - 1 : 1)) % s->n_walls;
		settings_send(s, json_pack("{s:s,s:s,s:s}", "type", "wallpaper", "image",
		                           s->walls[s->wall], "fit", "fill"));
		snprintf(s->message, sizeof(s->message), "wallpaper: %.100s", s->walls[s->wall]);
		break;
	case R_KEYBOARD: {
		size_t n = AB_ARRAY_SIZE(layouts), i = 0;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(layouts[k], s->layout) == 0)
				i = k;
		}
		i = (i + n + (size_t)(dir < 0 ? n - 1 : 1)) % n;
		settings_send(s, json_pack("{s:s,s:s}", "type", "keyboard", "layout", layouts[i]));
		snprintf(s->layout, sizeof(s->layout), "%s", layouts[i]);
		snprintf(s->message, sizeof(s->message), "keyboard layout: %s", layouts[i]);
		break;
	}
	case R_FONT: {
		int size = font_size(t) + (dir < 0 ? -1 : 1);
		if (size < 7 || size > 18) {
			snprintf(s->message, sizeof(s->message), "font size: 7 to 18");
			break;
		}
		settings_send(s, json_pack("{s:s,s:i}", "type", "font", "size", size));
		snprintf(s->message, sizeof(s->message), "font size: %d", size);
		break;
	}
	case R_NOTIFY:
		s->dnd = !s->dnd;
		settings_send(s, json_pack("{s:s,s:b}", "type", "notifications", "dnd", s->dnd));
		snprintf(s->message, sizeof(s->message), "notifications: %s",
		         s->dnd ? "do not disturb" : "on");
		break;
	case R_SCREEN: {
		int w, h;
		if (!next_size(s, dir, &w, &h)) {
			snprintf(s->message, sizeof(s->message),
			         "this desktop cannot change its size");
			break;
		}
		XErrorHandler old = XSetErrorHandler(x_error);
		x_failed = false;
		int r = ab_randr_set_size(s->app.dpy, s->app.root, w, h);
		XSync(s->app.dpy, False);
		XSetErrorHandler(old);
		if (r < 0 || x_failed)
			snprintf(s->message, sizeof(s->message), "the X server refused %dx%d", w,
			         h);
		else
			snprintf(s->message, sizeof(s->message), "screen size: %dx%d", w, h);
		ab_info("%s", s->message);
		break;
	}
	case R_VNC:
		if (dir < 0) {
			settings_vnc(s, "revoke");
			snprintf(s->message, sizeof(s->message), "VNC access: revoking…");
		} else {
			settings_vnc(s, "create");
			snprintf(s->message, sizeof(s->message),
			         "VNC access: asking for a password…");
		}
		break;
	case R_MAX:
		break;
	}
	ab_app_redraw(&s->app);
}

static void
settings_row(struct ab_app *app, cairo_t *cr, size_t i, bool selected, double x, double y, double w,
             double h)
{
	struct settings *s = app->data;
	const struct ab_theme *t = &app->theme;
	const double *fg = selected ? t->sel_text : t->text;
	static const char *const names[] = {"Theme",       "Accent colour",   "Font size",
	                                    "Wallpaper",   "Keyboard layout", "Notifications",
	                                    "Screen size", "VNC password"};
	int sw, sh;
	char v[160];
	switch ((enum row)i) {
	case R_THEME:
		snprintf(v, sizeof(v), "‹ %s ›", t->dark ? "Dark" : "Light");
		break;
	case R_ACCENT:
		snprintf(v, sizeof(v), "‹ %s ›", t->accent_hex);
		ab_draw_rgb(cr, t->accent);
		ab_cairo_rounded(cr, x + w - 50, y + 10, 24, h - 20, 6);
		cairo_fill(cr);
		break;
	case R_WALLPAPER:
		snprintf(v, sizeof(v), "‹ %s ›",
		         s->n_walls ? (s->wall < s->n_walls ? s->walls[s->wall] : "")
		                    : "none found");
		break;
	case R_KEYBOARD:
		snprintf(v, sizeof(v), "‹ %s ›", s->layout[0] ? s->layout : "default");
		break;
	case R_FONT:
		snprintf(v, sizeof(v), "‹ %d pt ›", font_size(t));
		break;
	case R_NOTIFY:
		snprintf(v, sizeof(v), "‹ %s ›", s->dnd ? "Do not disturb" : "On");
		break;
	case R_SCREEN:
		screen_size(s, &sw, &sh);
		snprintf(v, sizeof(v), "‹ %dx%d ›", sw, sh);
		break;
	case R_VNC:
		snprintf(v, sizeof(v), "%s", s->vnc[0] ? s->vnc : "…");
		break;
	case R_MAX:
		return;
	}
	ab_draw_text(cr, names[i], t->font, fg, x + 16, y + (h - 18) / 2, w / 2 - 16);
	ab_draw_text(cr, v, t->font, fg, x + w / 2, y + (h - 18) / 2, w / 2 - 70);
}

static void
settings_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	struct settings *s = app->data;
	const struct ab_theme *t = &app->theme;
	ab_draw_page(cr, t, "Settings", 20, 16, w - 40);
	ab_draw_text(
	    cr, "Up/Down: choose · Left/Right or Enter: change (VNC: Enter new, Delete revoke)",
	    t->font, t->text_dim, 20, 46, w - 40);
	s->list.focused = app->focused;
	ab_app_list_draw(app, cr, &s->list, ROW_H, 16, 76, w - 32, ROW_H * R_MAX + 4, settings_row);
	if (s->message[0])
		ab_draw_text(cr, s->message, t->font, t->accent, 20, h - 30, w - 40);
}

static void
settings_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	struct settings *s = app->data;
	if (ab_app_list_keysym(&s->list, sym, NULL)) {
		ab_app_redraw(app);
		return;
	}
	if ((state & ControlMask) && (sym == XK_c || sym == XK_C) && s->vnc_pw[0]) {
		ab_app_own(app, AB_SEL_CLIPBOARD, s->vnc_pw, strlen(s->vnc_pw));
		snprintf(s->message, sizeof(s->message), "VNC password copied");
		ab_app_redraw(app);
	} else if (sym == XK_Delete && s->list.sel == R_VNC)
		settings_change(s, -1);
	else if (sym == XK_Right || sym == XK_Return || sym == XK_space || sym == XK_KP_Enter)
		settings_change(s, 1);
	else if (sym == XK_Left)
		settings_change(s, -1);
	else if (sym == XK_Escape || ((state & ControlMask) && (sym == XK_q || sym == XK_w)))
		ab_app_quit(app);
}

static void
settings_button(struct ab_app *app, int button, bool press, int x, int y, unsigned state)
{
	struct settings *s = app->data;
	long r = list_row_at(&s->list, y - 76, ROW_H);
	if (!press || button != 1 || r < 0)
		return;
	list_select(&s->list, (size_t)r);
	settings_change(s, 1);
}

static void
settings_theme(struct ab_app *app)
{
	struct settings *s = app->data;
	settings_read_layout(s);
	settings_read_dnd(s);
}

static void
settings_icon(cairo_t *cr, int sz)
{
	ab_draw_icon_tile(cr, sz, (const double[]){0.24, 0.26, 0.31},
	                  (const double[]){0.85, 0.87, 0.9});
	for (int i = 0; i < 3; i++) {
		double y = sz * (0.3 + 0.2 * i), kx = sz * (i == 1 ? 0.62 : 0.38);
		cairo_move_to(cr, sz * 0.2, y);
		cairo_line_to(cr, sz * 0.8, y);
		cairo_stroke(cr);
		cairo_arc(cr, kx, y, sz * 0.08, 0, 6.2832);
		cairo_fill(cr);
	}
}

static void
settings_start(struct ab_app *app)
{
	struct settings *s = app->data;
	s->a_xkb = XInternAtom(app->dpy, "_XKB_RULES_NAMES", False);
	s->a_notify = XInternAtom(app->dpy, "_ARGOBOX_NOTIFICATIONS", False);
	settings_read_dnd(s);
	settings_scan_walls(s);
	settings_read_layout(s);
	list_set_count(&s->list, R_MAX);
	s->next_id = 1;
	settings_vnc(s, "status");
}

static void
settings_stop(struct ab_app *app)
{
	struct settings *s = app->data;
	for (size_t i = 0; i < s->n_walls; i++)
		free(s->walls[i]);
	free(s->walls);
}

static const struct ab_app_ops settings_ops = {
    .start = settings_start,
    .stop = settings_stop,
    .draw = settings_draw,
    .key = settings_key,
    .button = settings_button,
    .theme = settings_theme,
    .answer = settings_answer,
};

int
main(int argc, char **argv)
{
	struct settings *s = ab_xcalloc(1, sizeof(*s));
	struct ab_app_config cfg = {.name = "settings",
	                            .title = "Settings",
	                            .width = 560,
	                            .height = 520,
	                            .icon = settings_icon,
	                            .ops = &settings_ops,
	                            .data = s};
	int code = ab_app_main(&s->app, &cfg, argc, argv);
	free(s);
	return code;
}
