/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * notify: notification pop-ups, stacked at the top right, newest on top.
 * A click on the cross dismisses one; a click elsewhere does its action (if it
 * has one: notifycenter.c's nc_act) and dismisses it. Each expires after its
 * timeout (0: stays until clicked). At most NOTIFY_MAX are shown: a new one
 * pushes out the oldest. The history behind them is notifycenter.c's.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <string.h>

#define N_W        360
#define NOTIFY_MAX 5
#define GAP        10

static int
measure(const char *body)
{
	/* body height with wrapping: measured on a scratch surface */
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
	cairo_t *cr = cairo_create(s);
	PangoLayout *l = pango_cairo_create_layout(cr);
	PangoFontDescription *fd = pango_font_description_from_string(wm.theme.font);
	pango_layout_set_font_description(l, fd);
	pango_layout_set_width(l, (N_W - 40) * PANGO_SCALE);
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_height(l, -5); /* at most 5 lines */
	pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
	pango_layout_set_text(l, body, -1);
	int w, h;
	pango_layout_get_pixel_size(l, &w, &h);
	pango_font_description_free(fd);
	g_object_unref(l);
	cairo_destroy(cr);
	cairo_surface_destroy(s);
	return body[0] ? h : 0;
}

static void
layout_all(void)
{
	int y = (wm.ds.tb_position == DESKSTATE_TOP ? taskbar_reserved() : 0) + 12;
	for (struct notification *n = wm.notes; n; n = n->next) {
		XMoveWindow(wm.dpy, n->win, wm.sw - N_W - 12, y);
		y += n->h + GAP;
	}
}

static void
draw(struct notification *n)
{
	const struct ab_theme *t = &wm.theme;
	cairo_t *cr = cairo_create(n->surf);
	theme_card(cr, N_W, n->h);
	ab_cairo_rounded(cr, 8, 12, 4, n->h - 24, 2);
	theme_set_rgb(cr, n->critical ? t->close : t->accent);
	cairo_fill(cr);
	theme_set_rgb(cr, t->text);
	theme_text(cr, n->title, "Noto Sans,DejaVu Sans Bold 10", 22, 10, N_W - 60, 22, false);
	/* the close cross */
	theme_set_rgb(cr, t->text_dim);
	cairo_set_line_width(cr, 1.4);
	cairo_move_to(cr, N_W - 26, 16);
	cairo_line_to(cr, N_W - 18, 24);
	cairo_move_to(cr, N_W - 18, 16);
	cairo_line_to(cr, N_W - 26, 24);
	cairo_stroke(cr);
	if (n->body[0]) {
		PangoLayout *l = pango_cairo_create_layout(cr);
		PangoFontDescription *fd = pango_font_description_from_string(t->font);
		pango_layout_set_font_description(l, fd);
		pango_layout_set_width(l, (N_W - 40) * PANGO_SCALE);
		pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
		pango_layout_set_height(l, -5);
		pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
		pango_layout_set_text(l, n->body, -1);
		theme_set_rgb(cr, t->text_dim);
		cairo_move_to(cr, 22, 36);
		pango_cairo_show_layout(cr, l);
		pango_font_description_free(fd);
		g_object_unref(l);
	}
	cairo_destroy(cr);
	cairo_surface_flush(n->surf);
}

static void
destroy(struct notification *n)
{
	cairo_surface_destroy(n->surf);
	XDestroyWindow(wm.dpy, n->win);
	free(n);
}

static void remove_note(struct notification *n);

static int64_t
expire_tick(struct ab_loop *loop, void *data)
{
	int64_t now = ab_now_ms(), next = -1;
	struct notification *n = wm.notes;
	while (n) {
		struct notification *nx = n->next;
		if (n->expires_ms && n->expires_ms <= now)
			remove_note(n);
		n = nx;
	}
	for (n = wm.notes; n; n = n->next) {
		if (n->expires_ms && (next < 0 || n->expires_ms - now < next))
			next = n->expires_ms - now;
	}
	if (next < 0) {
		wm.note_timer = NULL;
		return AB_TIMER_STOP;
	}
	return AB_MAX(next, 1);
}

static void
reschedule(void)
{
	ab_loop_timer_cancel(wm.loop, wm.note_timer);
	wm.note_timer = ab_loop_timer(wm.loop, 0, expire_tick, NULL);
}

static void
remove_note(struct notification *n)
{
	for (struct notification **pp = &wm.notes; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	destroy(n);
	layout_all();
}

void
notify_show(const char *title, const char *body, bool critical, int64_t timeout_ms,
            const char *action, uint64_t hist_id)
{
	struct notification *n = ab_xcalloc(1, sizeof(*n));
	snprintf(n->title, sizeof(n->title), "%s", title);
	snprintf(n->body, sizeof(n->body), "%s", body);
	snprintf(n->action, sizeof(n->action), "%s", action ? action : "");
	deskstate_sanitize_utf8(n->title);
	deskstate_sanitize_utf8(n->body);
	n->hist_id = hist_id;
	n->critical = critical;
	n->h = 46 + measure(n->body) + (n->body[0] ? 8 : 0);
	n->expires_ms = timeout_ms > 0 ? ab_now_ms() + timeout_ms : 0;
	XSetWindowAttributes sa = {
	    .override_redirect = True,
	    .background_pixmap = None,
	    .event_mask = ButtonPressMask | ExposureMask,
	};
	n->win = XCreateWindow(wm.dpy, wm.root, wm.sw - N_W - 12, 12, N_W, (unsigned)n->h, 0,
	                       CopyFromParent, InputOutput, CopyFromParent,
	                       CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
	n->surf = cairo_xlib_surface_create(wm.dpy, n->win, wm.visual, N_W, n->h);
	n->next = wm.notes;
	wm.notes = n;
	/* too many: drop the oldest */
	size_t count = 0;
	struct notification *last = NULL;
	for (struct notification *it = wm.notes; it; it = it->next) {
		count++;
		last = it;
	}
	if (count > NOTIFY_MAX)
		remove_note(last);
	layout_all();
	XMapWindow(wm.dpy, n->win);
	client_restack();
	draw(n);
	reschedule();
	ab_info("notification '%s'%s", n->title, critical ? " (critical)" : "");
}

bool
notify_button_press(XButtonEvent *e)
{
	for (struct notification *n = wm.notes; n; n = n->next) {
		if (n->win == e->window) {
			/* the cross (top right) only dismisses; the rest acts too */
			bool cross = e->x >= N_W - 34 && e->y <= 34;
			char action[NOTIFY_ACTION_MAX];
			uint64_t id = n->hist_id;
			snprintf(action, sizeof(action), "%s", cross ? "" : n->action);
			remove_note(n);
			reschedule();
			if (!cross)
				nc_act(action, id);
			return true;
		}
	}
	return false;
}

void
notify_expose(Window w)
{
	for (struct notification *n = wm.notes; n; n = n->next) {
		if (n->win == w || w == None)
			draw(n);
	}
}

void
notify_dismiss_all(void)
{
	while (wm.notes)
		remove_note(wm.notes);
}
