/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * frame: the decorations around a client (cairo + pango), hit testing, and
 * moving/resizing by dragging (with edge snapping on release).
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/cursorfont.h>
#include <math.h>
#include <string.h>

#define BUTTON_W 34

enum hit {
	HIT_NONE,
	HIT_TITLE,
	HIT_CLOSE,
	HIT_MAXIMIZE,
	HIT_MINIMIZE,
	HIT_EDGE,
};

void
frame_extents(struct client *c, int *l, int *r, int *t, int *b)
{
	if (!c->decorated || c->fullscreen) {
		*l = *r = *t = *b = 0;
		return;
	}
	*l = *r = *b = THEME_BORDER_W;
	*t = THEME_TITLE_H;
}

void
frame_create(struct client *c)
{
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	XSetWindowAttributes sa = {
	    .override_redirect = True,
	    .background_pixmap = None,
	    .event_mask = SubstructureRedirectMask | SubstructureNotifyMask | ButtonPressMask |
	                  ButtonReleaseMask | Button1MotionMask | ExposureMask,
	};
	c->frame =
	    XCreateWindow(wm.dpy, wm.root, c->x - l, c->y - t, (unsigned)(c->w + l + r),
	                  (unsigned)(c->h + t + b), 0, CopyFromParent, InputOutput, CopyFromParent,
	                  CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
	c->surf =
	    cairo_xlib_surface_create(wm.dpy, c->frame, wm.visual, c->w + l + r, c->h + t + b);
}

void
frame_destroy(struct client *c)
{
	if (c->surf)
		cairo_surface_destroy(c->surf);
	c->surf = NULL;
	XDestroyWindow(wm.dpy, c->frame);
	c->frame = None;
}

void
frame_place(struct client *c)
{
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	int fw = c->w + l + r, fh = c->h + t + b;
	XMoveResizeWindow(wm.dpy, c->frame, c->x - l, c->y - t, (unsigned)fw, (unsigned)fh);
	XMoveResizeWindow(wm.dpy, c->win, l, t, (unsigned)c->w, (unsigned)c->h);
	cairo_xlib_surface_set_size(c->surf, fw, fh);
}

static void
draw_button(cairo_t *cr, enum hit which, double x, double y, bool focused, bool maximized)
{
	double cx = x + BUTTON_W / 2.0, cy = y, s = 5.0;
	const double *fg = focused ? wm.theme.text : wm.theme.text_dim;
	if (which == HIT_CLOSE && focused) {
		cairo_arc(cr, cx, cy, 10, 0, 2 * M_PI);
		theme_set_rgb(cr, wm.theme.close);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 1, 1, 1);
	} else {
		cairo_arc(cr, cx, cy, 10, 0, 2 * M_PI);
		theme_set_rgba(cr, wm.theme.hover);
		cairo_fill(cr);
		theme_set_rgb(cr, fg);
	}
	cairo_set_line_width(cr, 1.5);
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
	switch (which) {
	case HIT_CLOSE:
		cairo_move_to(cr, cx - 4, cy - 4);
		cairo_line_to(cr, cx + 4, cy + 4);
		cairo_move_to(cr, cx + 4, cy - 4);
		cairo_line_to(cr, cx - 4, cy + 4);
		break;
	case HIT_MAXIMIZE:
		if (maximized) {
			cairo_rectangle(cr, cx - s + 0.5, cy - s + 2.5, 7, 7);
			cairo_move_to(cr, cx - s + 2.5, cy - s + 0.5);
			cairo_line_to(cr, cx + s - 0.5, cy - s + 0.5);
			cairo_line_to(cr, cx + s - 0.5, cy + s - 2.5);
		} else {
			cairo_rectangle(cr, cx - s + 0.5, cy - s + 0.5, 2 * s - 1, 2 * s - 1);
		}
		break;
	case HIT_MINIMIZE:
		cairo_move_to(cr, cx - s, cy + 0.5);
		cairo_line_to(cr, cx + s, cy + 0.5);
		break;
	default:
		break;
	}
	cairo_stroke(cr);
}

void
frame_draw(struct client *c)
{
	int l, r, t, b;
	if (!c || !c->surf)
		return;
	frame_extents(c, &l, &r, &t, &b);
	if (t == 0)
		return;
	int fw = c->w + l + r, fh = c->h + t + b;
	bool focused = c == wm.focus;
	cairo_t *cr = cairo_create(c->surf);
	theme_set_rgb(cr, focused ? wm.theme.title_focus : wm.theme.title_blur);
	cairo_paint(cr);
	/* a hairline outline, and an accent line on the focused window */
	cairo_set_line_width(cr, 1);
	theme_set_rgb(cr, wm.theme.border);
	cairo_rectangle(cr, 0.5, 0.5, fw - 1, fh - 1);
	cairo_stroke(cr);
	if (focused) {
		theme_set_rgb(cr, wm.theme.accent);
		cairo_rectangle(cr, 1, 1, fw - 2, 2);
		cairo_fill(cr);
	}
	double x = l + 8;
	theme_client_icon(cr, c, x, (t - 20) / 2.0 + 1, 20, 1);
	x += 28;
	double bx = fw - r - 3 * BUTTON_W - 4;
	cairo_set_source_rgb(cr, 0, 0, 0);
	theme_set_rgb(cr, focused ? wm.theme.text : wm.theme.text_dim);
	theme_text(cr, c->title, wm.theme.font, x, 2, bx - x - 8, t - 2, false);
	double cy = t / 2.0 + 1;
	draw_button(cr, HIT_MINIMIZE, bx, cy, focused, c->maximized);
	draw_button(cr, HIT_MAXIMIZE, bx + BUTTON_W, cy, focused, c->maximized);
	draw_button(cr, HIT_CLOSE, bx + 2 * BUTTON_W, cy, focused, c->maximized);
	cairo_destroy(cr);
	cairo_surface_flush(c->surf);
}

static enum hit
frame_hit(struct client *c, int x, int y, int *ret_edges)
{
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	int fw = c->w + l + r, fh = c->h + t + b;
	*ret_edges = 0;
	if (t == 0)
		return HIT_NONE;
	bool border = x < l || x >= fw - r || y >= fh - b || y < 4;
	if (border && !c->maximized) {
		int e = 0, k = 16;
		if (x < l || x < k)
			e |= EDGE_LEFT;
		if (x >= fw - r || x >= fw - k)
			e |= EDGE_RIGHT;
		if (y < 4 || (y < k && (x < l || x >= fw - r)))
			e |= EDGE_TOP;
		if (y >= fh - b || (y >= fh - k && (x < l || x >= fw - r)))
			e |= EDGE_BOTTOM;
		if ((e & EDGE_LEFT) && (e & EDGE_RIGHT))
			e &= ~(EDGE_LEFT | EDGE_RIGHT);
		*ret_edges = e;
		if (e)
			return HIT_EDGE;
	}
	if (y < t) {
		int bx = fw - r - 3 * BUTTON_W - 4;
		if (x >= bx + 2 * BUTTON_W && x < bx + 3 * BUTTON_W)
			return HIT_CLOSE;
		if (x >= bx + BUTTON_W && x < bx + 2 * BUTTON_W)
			return HIT_MAXIMIZE;
		if (x >= bx && x < bx + BUTTON_W)
			return HIT_MINIMIZE;
		return HIT_TITLE;
	}
	return HIT_NONE;
}

static Cursor
cursor_for(int edges)
{
	static Cursor cache[16];
	static const unsigned shapes[16] = {
	    [0] = XC_fleur,
	    [EDGE_LEFT] = XC_left_side,
	    [EDGE_RIGHT] = XC_right_side,
	    [EDGE_TOP] = XC_top_side,
	    [EDGE_BOTTOM] = XC_bottom_side,
	    [EDGE_LEFT | EDGE_TOP] = XC_top_left_corner,
	    [EDGE_RIGHT | EDGE_TOP] = XC_top_right_corner,
	    [EDGE_LEFT | EDGE_BOTTOM] = XC_bottom_left_corner,
	    [EDGE_RIGHT | EDGE_BOTTOM] = XC_bottom_right_corner,
	};
	edges &= 15;
	if (!cache[edges])
		cache[edges] = XCreateFontCursor(wm.dpy, shapes[edges] ? shapes[edges] : XC_fleur);
	return cache[edges];
}

static void
start_drag(struct client *c, enum drag_mode mode, int edges, XButtonEvent *e)
{
	wm.drag = mode;
	wm.drag_c = c;
	wm.drag_edges = edges;
	wm.drag_px = e->x_root;
	wm.drag_py = e->y_root;
	wm.drag_x = c->x;
	wm.drag_y = c->y;
	wm.drag_w = c->w;
	wm.drag_h = c->h;
	XGrabPointer(wm.dpy, c->frame, False, ButtonReleaseMask | PointerMotionMask, GrabModeAsync,
	             GrabModeAsync, None, cursor_for(mode == DRAG_MOVE ? 0 : edges), CurrentTime);
}

void
frame_button_press(struct client *c, XButtonEvent *e)
{
	int edges;
	if (e->button != Button1)
		return;
	enum hit h = frame_hit(c, e->x, e->y, &edges);
	if (h != HIT_TITLE)
		wm.last_click_win = None; /* a double-click is two clicks on one title */
	switch (h) {
	case HIT_CLOSE:
		client_close(c);
		break;
	case HIT_MAXIMIZE:
		client_set_maximized(c, !c->maximized);
		break;
	case HIT_MINIMIZE:
		client_set_minimized(c, true);
		break;
	case HIT_EDGE:
		start_drag(c, DRAG_RESIZE, edges, e);
		break;
	case HIT_TITLE:
		if (wm.last_click_win == c->frame && e->time - wm.last_click_time < 400) {
			wm.last_click_win = None;
			client_set_maximized(c, !c->maximized);
			break;
		}
		wm.last_click_win = c->frame;
		wm.last_click_time = e->time;
		start_drag(c, DRAG_MOVE, 0, e);
		break;
	default:
		break;
	}
}

static void
drag_to(int px, int py)
{
	struct client *c = wm.drag_c;
	if (wm.drag == DRAG_NONE || !c)
		return;
	int dx = px - wm.drag_px, dy = py - wm.drag_py;
	if (wm.drag == DRAG_MOVE) {
		if (c->maximized || c->snapped) {
			if (abs(dx) < 8 && abs(dy) < 8)
				return;
			/* tearing a maximized window off: back to its size, under the pointer */
			double fx = c->w > 0 ? (double)(wm.drag_px - c->x) / c->w : 0.5;
			c->maximized = false;
			c->snapped = false;
			c->saved = false;
			int nw = c->sw, nh = c->sh;
			wm.drag_x = wm.drag_px - (int)(fx * nw);
			wm.drag_y = c->y;
			wm.drag_w = nw;
			wm.drag_h = nh;
			client_move_resize(c, wm.drag_x + dx, wm.drag_y + dy, nw, nh);
			ewmh_set_client_state(c);
			frame_draw(c);
			return;
		}
		client_move_resize(c, wm.drag_x + dx, wm.drag_y + dy, c->w, c->h);
	} else {
		int x = wm.drag_x, y = wm.drag_y, w = wm.drag_w, h = wm.drag_h;
		if (wm.drag_edges & EDGE_LEFT) {
			w -= dx;
		}
		if (wm.drag_edges & EDGE_RIGHT)
			w += dx;
		if (wm.drag_edges & EDGE_TOP)
			h -= dy;
		if (wm.drag_edges & EDGE_BOTTOM)
			h += dy;
		int aw = w, ah = h;
		client_apply_hints(c, &aw, &ah);
		/* the opposite edge stays put */
		if (wm.drag_edges & EDGE_LEFT)
			x = wm.drag_x + wm.drag_w - aw;
		if (wm.drag_edges & EDGE_TOP)
			y = wm.drag_y + wm.drag_h - ah;
		bool had_saved = c->saved;
		c->snapped = false;
		c->saved = false;
		client_move_resize(c, x, y, aw, ah);
		if (had_saved)
			ewmh_set_client_state(c); /* no normal geometry behind it any more */
	}
}

void
frame_motion(XMotionEvent *e)
{
	XEvent ev;
	if (wm.drag == DRAG_NONE)
		return;
	/* only the latest position matters */
	while (XCheckTypedEvent(wm.dpy, MotionNotify, &ev))
		e = &ev.xmotion;
	drag_to(e->x_root, e->y_root);
}

void
frame_button_release(XButtonEvent *e)
{
	struct client *c = wm.drag_c;
	enum drag_mode mode = wm.drag;
	if (mode == DRAG_NONE)
		return;
	/* motion may have outrun our grab: the release position is the last word */
	drag_to(e->x_root, e->y_root);
	wm.drag = DRAG_NONE;
	wm.drag_c = NULL;
	XUngrabPointer(wm.dpy, CurrentTime);
	if (!c)
		return;
	if (mode == DRAG_MOVE) {
		bool moved = e->x_root != wm.drag_px || e->y_root != wm.drag_py;
		if (moved)
			wm.last_click_win =
			    None; /* a drag is not the first half of a double-click */
		if (moved && e->x_root <= 0)
			client_snap(c, EDGE_LEFT);
		else if (moved && e->x_root >= wm.sw - 1)
			client_snap(c, EDGE_RIGHT);
		else if (moved && e->y_root <= 0)
			client_snap(c, EDGE_TOP);
	}
	state_changed();
}
