/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * taskbar: launcher button, pinned apps, workspace switcher, a button per
 * window (icon + title; click focuses or minimizes), status items, the
 * keyboard layout, the notification centre's bell and the clock.
 * The bar's background is ParentRelative, so its translucent paint blends
 * over the wallpaper without a compositor.
 */
#include "wm.h"
#include "kbd.h"
#include "ab_log.h"
#include "ab_util.h"

#include <math.h>
#include <string.h>
#include <time.h>

enum hit_kind {
	BH_LAUNCHER,
	BH_PINNED,
	BH_WORKSPACE,
	BH_WINDOW,
	BH_STATUS,
	BH_KBD,
	BH_BELL,
	BH_MAX,
};

struct bar_hit {
	int x, w;
	enum hit_kind kind;
	int idx;
	Window win;
};

static struct bar_hit hits[128];
static size_t n_hits;

int
taskbar_height(void)
{
	return THEME_BAR_H;
}

int
taskbar_reserved(void)
{
	return wm.ds.tb_autohide ? 0 : THEME_BAR_H;
}

static bool bar_shown = true;

static int
bar_y(bool shown)
{
	int h = taskbar_height();
	if (wm.ds.tb_position == DESKSTATE_TOP)
		return shown ? 0 : -(h - 2);
	return shown ? wm.sh - h : wm.sh - 2;
}

/* With autohide, the bar slides in when the pointer reaches its edge. */
void
taskbar_reveal(bool show)
{
	if (!wm.bar || !wm.ds.tb_autohide)
		show = true;
	if (show == bar_shown && wm.bar)
		return;
	bar_shown = show;
	XMoveWindow(wm.dpy, wm.bar, 0, bar_y(show));
	if (show)
		client_restack();
}

static int64_t
clock_tick(struct ab_loop *loop, void *data)
{
	taskbar_draw();
	time_t now = time(NULL);
	return (int64_t)(60 - now % 60) * 1000 + 20;
}

void
taskbar_create(void)
{
	int h = taskbar_height();
	bar_shown = !wm.ds.tb_autohide;
	int y = bar_y(bar_shown);
	if (!wm.bar) {
		XSetWindowAttributes sa = {
		    .override_redirect = True,
		    .background_pixmap = ParentRelative,
		    .event_mask =
		        ButtonPressMask | ExposureMask | EnterWindowMask | LeaveWindowMask,
		};
		wm.bar = XCreateWindow(wm.dpy, wm.root, 0, y, (unsigned)wm.sw, (unsigned)h, 0,
		                       CopyFromParent, InputOutput, CopyFromParent,
		                       CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
		wm.bar_surf = cairo_xlib_surface_create(wm.dpy, wm.bar, wm.visual, wm.sw, h);
		XMapWindow(wm.dpy, wm.bar);
		wm.clock_timer = ab_loop_timer(wm.loop, 0, clock_tick, NULL);
	} else {
		XMoveResizeWindow(wm.dpy, wm.bar, 0, y, (unsigned)wm.sw, (unsigned)h);
		cairo_xlib_surface_set_size(wm.bar_surf, wm.sw, h);
	}
	XClearArea(wm.dpy, wm.bar, 0, 0, 0, 0, True);
}

static void
add_hit(int x, int w, enum hit_kind k, int idx, Window win)
{
	if (n_hits < AB_ARRAY_SIZE(hits))
		hits[n_hits++] = (struct bar_hit){x, w, k, idx, win};
}

static void
draw_launcher_button(cairo_t *cr, double x, double y, double s)
{
	ab_cairo_rounded(cr, x, y, s, s, 9);
	theme_set_rgb(cr, wm.theme.accent);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 1, 1, 1);
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			cairo_arc(cr, x + s / 2 + (i - 1) * 7, y + s / 2 + (j - 1) * 7, 2, 0,
			          2 * M_PI);
			cairo_fill(cr);
		}
	}
}

void
taskbar_draw(void)
{
	if (!wm.bar_surf)
		return;
	int H = taskbar_height(), W = wm.sw;
	const struct ab_theme *t = &wm.theme;
	n_hits = 0;
	XClearWindow(wm.dpy, wm.bar); /* the wallpaper behind */
	cairo_t *cr = cairo_create(wm.bar_surf);
	theme_set_rgba(cr, t->bar);
	cairo_paint(cr);
	/* a hairline towards the desktop */
	theme_set_rgba(cr, t->hover);
	cairo_rectangle(cr, 0, wm.ds.tb_position == DESKSTATE_TOP ? H - 1 : 0, W, 1);
	cairo_fill(cr);

	double x = 8, s = H - 12, y = 6;
	draw_launcher_button(cr, x, y, s);
	add_hit((int)x, (int)s, BH_LAUNCHER, 0, None);
	x += s + 8;
	for (size_t i = 0; i < wm.ds.n_pinned; i++) {
		const struct desktop_entry *e = desktop_find(&wm.apps, wm.ds.pinned[i]);
		if (!e)
			continue;
		theme_app_icon(cr, e, x + 4, y + 4, s - 8);
		add_hit((int)x, (int)s, BH_PINNED, (int)i, None);
		x += s + 4;
	}
	/* workspace switcher */
	x += 6;
	for (int i = 0; i < wm.ds.ws_count; i++) {
		double pw = 26, ph = 22, py = (H - ph) / 2;
		bool cur = i == wm.ds.ws_current;
		bool used = false;
		for (struct client *c = wm.clients; c; c = c->next)
			used |= c->ws == i && c->in_taskbar;
		ab_cairo_rounded(cr, x, py, pw, ph, 7);
		if (cur) {
			theme_set_rgb(cr, t->accent);
		} else {
			theme_set_rgba(cr, t->hover);
		}
		cairo_fill(cr);
		char num[16];
		snprintf(num, sizeof(num), "%d", i + 1);
		if (cur)
			cairo_set_source_rgb(cr, 1, 1, 1);
		else
			theme_set_rgb(cr, used ? t->text : t->text_dim);
		theme_text(cr, num, "Noto Sans,DejaVu Sans Bold 9", x, py, pw, ph, true);
		add_hit((int)x, (int)pw, BH_WORKSPACE, i, None);
		x += pw + 4;
	}
	x += 10;

	/* right side: clock, then status items leftwards */
	char clk[32], date[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(clk, sizeof(clk), "%H:%M", &tm);
	strftime(date, sizeof(date), "%a %d %b", &tm);
	double rx = W - 12;
	theme_set_rgb(cr, t->text);
	theme_text(cr, clk, "Noto Sans,DejaVu Sans Bold 10", rx - 52, 0, 52, H, true);
	rx -= 56;
	theme_set_rgb(cr, t->text_dim);
	theme_text(cr, date, t->font, rx - 86, 0, 86, H, true);
	rx -= 94;
	/* the notification centre's bell: unread count, do-not-disturb (notifycenter.c) */
	rx -= s;
	nc_draw_bell(cr, rx, y, s);
	add_hit((int)rx, (int)s, BH_BELL, 0, None);
	rx -= 8;
	/* the keyboard layout: a click switches to the next one (kbd.h) */
	if (kbd_label()[0]) {
		double kw = 16 + 8 * (double)strlen(kbd_label());
		rx -= kw;
		ab_cairo_rounded(cr, rx, 9, kw, H - 18, 6);
		theme_set_rgba(cr, t->hover);
		cairo_fill(cr);
		theme_set_rgb(cr, t->text);
		theme_text(cr, kbd_label(), "Noto Sans,DejaVu Sans Bold 9", rx, 9, kw, H - 18,
		           true);
		add_hit((int)rx, (int)kw, BH_KBD, 0, None);
		rx -= 8;
	}
	for (size_t i = wm.n_status; i-- > 0;) {
		double sw = 14 + 7.5 * (double)strlen(wm.status[i].text);
		sw = fmin(sw, 220);
		rx -= sw;
		ab_cairo_rounded(cr, rx, 9, sw, H - 18, (H - 18) / 2.0);
		theme_set_rgba(cr, t->hover);
		cairo_fill(cr);
		theme_set_rgb(cr, t->text);
		theme_text(cr, wm.status[i].text, t->font, rx + 7, 9, sw - 14, H - 18, true);
		add_hit((int)rx, (int)sw, BH_STATUS, (int)i, None);
		rx -= 6;
	}

	/* window buttons, in manage order, for the current workspace */
	size_t n = 0;
	for (struct client *c = wm.clients; c; c = c->next)
		n += c->in_taskbar && (c->ws == wm.ds.ws_current || c->ws < 0);
	if (n) {
		double avail = rx - 12 - x;
		double bw = fmin(220, avail / (double)n);
		for (struct client *c = wm.clients; c && bw > 36; c = c->next) {
			if (!c->in_taskbar || !(c->ws == wm.ds.ws_current || c->ws < 0))
				continue;
			bool f = c == wm.focus;
			ab_cairo_rounded(cr, x, 5, bw - 4, H - 10, 8);
			if (f || c->urgent) {
				theme_set_rgba(cr, t->hover);
				cairo_fill_preserve(cr);
				cairo_new_path(cr);
				ab_cairo_rounded(cr, x + (bw - 4) / 2 - 10, H - 8, 20, 3, 1.5);
				theme_set_rgb(cr, c->urgent ? t->close : t->accent);
			} else {
				cairo_set_source_rgba(cr, 0, 0, 0, 0);
			}
			cairo_fill(cr);
			double ix = x + 10, iy = (H - 20) / 2.0;
			theme_client_icon(cr, c, ix, iy, 20, c->minimized ? 0.5 : 1);
			theme_set_rgb(cr, c->minimized ? t->text_dim : t->text);
			theme_text(cr, c->title, t->font, ix + 28, 0, bw - 4 - 46, H, false);
			add_hit((int)x, (int)bw - 4, BH_WINDOW, 0, c->win);
			x += bw;
		}
	}
	cairo_destroy(cr);
	cairo_surface_flush(wm.bar_surf);
}

/* Applies a new position/autohide: moves the bar and re-lays out the work area. */
void
taskbar_configure(enum deskstate_edge position, bool autohide)
{
	wm.ds.tb_position = position;
	wm.ds.tb_autohide = autohide;
	taskbar_create();
	ewmh_update_workarea();
	client_relayout_all();
	taskbar_draw();
	state_changed();
}

/* Pins the app (desktop id) to the taskbar, or unpins it. */
static void
toggle_pin(const char *id)
{
	if (!id[0])
		return;
	for (size_t i = 0; i < wm.ds.n_pinned; i++) {
		if (strcmp(wm.ds.pinned[i], id) == 0) {
			memmove(&wm.ds.pinned[i], &wm.ds.pinned[i + 1],
			        (wm.ds.n_pinned - i - 1) * sizeof(wm.ds.pinned[0]));
			wm.ds.n_pinned--;
			goto done;
		}
	}
	if (wm.ds.n_pinned < DESKSTATE_MAX_PINNED)
		snprintf(wm.ds.pinned[wm.ds.n_pinned++], sizeof(wm.ds.pinned[0]), "%s", id);
done:
	taskbar_draw();
	state_changed();
}

void
taskbar_button_press(XButtonEvent *e)
{
	if (e->button != Button1 && e->button != Button3)
		return;
	for (size_t i = 0; i < n_hits; i++) {
		const struct bar_hit *h = &hits[i];
		if (e->x < h->x || e->x >= h->x + h->w)
			continue;
		if (e->button == Button3) {
			/* right click: pin a window's app, or unpin a pinned one */
			if (h->kind == BH_PINNED) {
				toggle_pin(wm.ds.pinned[h->idx]);
			} else if (h->kind == BH_WINDOW) {
				struct client *c = client_find(h->win);
				if (c)
					toggle_pin(c->desktop_id);
			}
			return;
		}
		switch (h->kind) {
		case BH_LAUNCHER:
			launcher_toggle();
			break;
		case BH_PINNED: {
			const struct desktop_entry *de =
			    desktop_find(&wm.apps, wm.ds.pinned[h->idx]);
			if (de)
				launcher_spawn(de);
			break;
		}
		case BH_WORKSPACE:
			workspace_switch(h->idx);
			break;
		case BH_KBD:
			kbd_cycle();
			break;
		case BH_BELL:
			nc_toggle(NC_TAB_NOTIFICATIONS);
			break;
		case BH_WINDOW: {
			struct client *c = client_find(h->win);
			if (!c)
				break;
			if (c->minimized) {
				client_set_minimized(c, false);
			} else if (c == wm.focus) {
				client_set_minimized(c, true);
			} else {
				client_raise(c);
				client_focus(c);
			}
			break;
		}
		default:
			break;
		}
		return;
	}
}
