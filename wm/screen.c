/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "screen.h"
#include "ab_log.h"
#include "ab_util.h"
#include "wm.h"

#include <string.h>

/* windows we moved in: where they were, where we put them */
struct pushed {
	Window win;
	int orig_x, orig_y; /* content position before the first push */
	int x, y;           /* where we put it (content) */
};

#define PUSHED_MAX 256
static struct pushed pushed[PUSHED_MAX];
static size_t n_pushed;

bool
screen_rect_inside(const struct screen_rect *f, int w, int h)
{
	return f->x >= 0 && f->y >= 0 && f->x + f->w <= w && f->y + f->h <= h;
}

static int
fit1(int pos, int len, int start, int size)
{
	if (len >= size)
		return start; /* too large: keep the top/left edge (title bar) on screen */
	if (pos + len > start + size)
		pos = start + size - len;
	return pos < start ? start : pos;
}

bool
screen_fit_rect(const struct screen_rect *f, const struct screen_rect *a, int *ret_x, int *ret_y)
{
	*ret_x = fit1(f->x, f->w, a->x, a->w);
	*ret_y = fit1(f->y, f->h, a->y, a->h);
	return *ret_x != f->x || *ret_y != f->y;
}

static struct pushed *
pushed_find(Window w)
{
	for (size_t i = 0; i < n_pushed; i++)
		if (pushed[i].win == w)
			return &pushed[i];
	return NULL;
}

static bool
fits_rules(struct client *c)
{
	return c->type != WT_DOCK && c->ws >= 0 && !c->maximized && !c->fullscreen && !c->snapped;
}

/* the frame of c with its content at (x, y) */
static struct screen_rect
frame_at(struct client *c, int x, int y)
{
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	return (struct screen_rect){x - l, y - t, c->w + l + r, c->h + t + b};
}

void
screen_fit_all(void)
{
	struct screen_rect area;
	client_workarea(&area.x, &area.y, &area.w, &area.h);
	/* drop what we remember of windows that are gone or were moved since */
	for (size_t i = 0; i < n_pushed;) {
		struct client *c = client_find(pushed[i].win);
		if (!c || !fits_rules(c) || c->x != pushed[i].x || c->y != pushed[i].y)
			pushed[i] = pushed[--n_pushed];
		else
			i++;
	}
	for (struct client *c = wm.clients; c; c = c->next) {
		if (!fits_rules(c))
			continue;
		struct pushed *p = pushed_find(c->win);
		int l, r, t, b, fx, fy;
		frame_extents(c, &l, &r, &t, &b);
		if (p) {
			/* back where it was, or as close as the screen allows */
			struct screen_rect f = frame_at(c, p->orig_x, p->orig_y);
			screen_fit_rect(&f, &area, &fx, &fy);
			if (!screen_rect_inside(&f, wm.sw, wm.sh)) {
				f.x = fx;
				f.y = fy;
			}
			if (f.x + l != c->x || f.y + t != c->y) {
				client_move_resize(c, f.x + l, f.y + t, c->w, c->h);
				ab_info("screen: '%s' to %d,%d (%s)", c->title, c->x, c->y,
				        c->x == p->orig_x && c->y == p->orig_y
				            ? "back where it was"
				            : "closer to where it was");
			}
			if (c->x == p->orig_x && c->y == p->orig_y) {
				*p = pushed[--n_pushed];
			} else {
				p->x = c->x;
				p->y = c->y;
			}
			continue;
		}
		struct screen_rect f = frame_at(c, c->x, c->y);
		if (screen_rect_inside(&f, wm.sw, wm.sh) || !screen_fit_rect(&f, &area, &fx, &fy))
			continue;
		int ox = c->x, oy = c->y;
		client_move_resize(c, fx + l, fy + t, c->w, c->h);
		ab_info("screen: '%s' moved in from %d,%d to %d,%d", c->title, ox, oy, c->x, c->y);
		if (n_pushed < PUSHED_MAX)
			pushed[n_pushed++] = (struct pushed){c->win, ox, oy, c->x, c->y};
	}
}
