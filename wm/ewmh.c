/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ewmh: atoms, ICCCM/EWMH properties and client messages. */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <string.h>

static const char *const atom_names[ATOM_MAX] = {
    [A_WM_PROTOCOLS] = "WM_PROTOCOLS",
    [A_WM_DELETE_WINDOW] = "WM_DELETE_WINDOW",
    [A_WM_TAKE_FOCUS] = "WM_TAKE_FOCUS",
    [A_WM_STATE] = "WM_STATE",
    [A_WM_CHANGE_STATE] = "WM_CHANGE_STATE",
    [A_UTF8_STRING] = "UTF8_STRING",
    [A_NET_SUPPORTED] = "_NET_SUPPORTED",
    [A_NET_SUPPORTING_WM_CHECK] = "_NET_SUPPORTING_WM_CHECK",
    [A_NET_WM_NAME] = "_NET_WM_NAME",
    [A_NET_CLIENT_LIST] = "_NET_CLIENT_LIST",
    [A_NET_CLIENT_LIST_STACKING] = "_NET_CLIENT_LIST_STACKING",
    [A_NET_ACTIVE_WINDOW] = "_NET_ACTIVE_WINDOW",
    [A_NET_WM_STATE] = "_NET_WM_STATE",
    [A_NET_WM_STATE_MAXIMIZED_VERT] = "_NET_WM_STATE_MAXIMIZED_VERT",
    [A_NET_WM_STATE_MAXIMIZED_HORZ] = "_NET_WM_STATE_MAXIMIZED_HORZ",
    [A_NET_WM_STATE_FULLSCREEN] = "_NET_WM_STATE_FULLSCREEN",
    [A_NET_WM_STATE_HIDDEN] = "_NET_WM_STATE_HIDDEN",
    [A_NET_WM_STATE_ABOVE] = "_NET_WM_STATE_ABOVE",
    [A_NET_WM_STATE_DEMANDS_ATTENTION] = "_NET_WM_STATE_DEMANDS_ATTENTION",
    [A_NET_WM_WINDOW_TYPE] = "_NET_WM_WINDOW_TYPE",
    [A_NET_WM_WINDOW_TYPE_NORMAL] = "_NET_WM_WINDOW_TYPE_NORMAL",
    [A_NET_WM_WINDOW_TYPE_DIALOG] = "_NET_WM_WINDOW_TYPE_DIALOG",
    [A_NET_WM_WINDOW_TYPE_DOCK] = "_NET_WM_WINDOW_TYPE_DOCK",
    [A_NET_WM_WINDOW_TYPE_SPLASH] = "_NET_WM_WINDOW_TYPE_SPLASH",
    [A_NET_WM_WINDOW_TYPE_NOTIFICATION] = "_NET_WM_WINDOW_TYPE_NOTIFICATION",
    [A_NET_WM_WINDOW_TYPE_MENU] = "_NET_WM_WINDOW_TYPE_MENU",
    [A_NET_WM_WINDOW_TYPE_UTILITY] = "_NET_WM_WINDOW_TYPE_UTILITY",
    [A_NET_WM_WINDOW_TYPE_TOOLBAR] = "_NET_WM_WINDOW_TYPE_TOOLBAR",
    [A_NET_WORKAREA] = "_NET_WORKAREA",
    [A_NET_CURRENT_DESKTOP] = "_NET_CURRENT_DESKTOP",
    [A_NET_NUMBER_OF_DESKTOPS] = "_NET_NUMBER_OF_DESKTOPS",
    [A_NET_DESKTOP_NAMES] = "_NET_DESKTOP_NAMES",
    [A_NET_DESKTOP_GEOMETRY] = "_NET_DESKTOP_GEOMETRY",
    [A_NET_DESKTOP_VIEWPORT] = "_NET_DESKTOP_VIEWPORT",
    [A_NET_WM_DESKTOP] = "_NET_WM_DESKTOP",
    [A_NET_FRAME_EXTENTS] = "_NET_FRAME_EXTENTS",
    [A_NET_REQUEST_FRAME_EXTENTS] = "_NET_REQUEST_FRAME_EXTENTS",
    [A_NET_CLOSE_WINDOW] = "_NET_CLOSE_WINDOW",
    [A_NET_MOVERESIZE_WINDOW] = "_NET_MOVERESIZE_WINDOW",
    [A_NET_WM_ICON] = "_NET_WM_ICON",
    [A_NET_WM_PID] = "_NET_WM_PID",
    [A_XROOTPMAP_ID] = "_XROOTPMAP_ID",
    [A_ARGOBOX_STATE] = "_ARGOBOX_STATE",
};

void
ewmh_init(void)
{
	XInternAtoms(wm.dpy, (char **)atom_names, ATOM_MAX, False, wm.atoms);
	Atom *a = wm.atoms;
	/* everything from _NET_SUPPORTED up to _NET_WM_PID is supported */
	XChangeProperty(wm.dpy, wm.root, a[A_NET_SUPPORTED], XA_ATOM, 32, PropModeReplace,
	                (unsigned char *)&a[A_NET_SUPPORTED], A_NET_WM_PID - A_NET_SUPPORTED + 1);
	wm.check = XCreateSimpleWindow(wm.dpy, wm.root, -10, -10, 1, 1, 0, 0, 0);
	XChangeProperty(wm.dpy, wm.check, a[A_NET_SUPPORTING_WM_CHECK], XA_WINDOW, 32,
	                PropModeReplace, (unsigned char *)&wm.check, 1);
	XChangeProperty(wm.dpy, wm.check, a[A_NET_WM_NAME], a[A_UTF8_STRING], 8, PropModeReplace,
	                (unsigned char *)"argobox-wm", 10);
	long geo[2] = {wm.sw, wm.sh}, vp[2] = {0, 0};
	XChangeProperty(wm.dpy, wm.root, a[A_NET_DESKTOP_GEOMETRY], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)geo, 2);
	XChangeProperty(wm.dpy, wm.root, a[A_NET_DESKTOP_VIEWPORT], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)vp, 2);
}

/* Tells clients (and tests) that the window manager is ready: the last step of start-up. */
void
ewmh_announce(void)
{
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_SUPPORTING_WM_CHECK], XA_WINDOW, 32,
	                PropModeReplace, (unsigned char *)&wm.check, 1);
}

void
ewmh_update_client_list(void)
{
	Window *list = ab_xcalloc(wm.n_stack + 1, sizeof(Window));
	size_t n = 0;
	for (struct client *c = wm.clients; c; c = c->next)
		list[n++] = c->win;
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_CLIENT_LIST], XA_WINDOW, 32,
	                PropModeReplace, (unsigned char *)list, (int)n);
	for (size_t i = 0; i < wm.n_stack; i++)
		list[i] = wm.stack[i]->win;
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_CLIENT_LIST_STACKING], XA_WINDOW, 32,
	                PropModeReplace, (unsigned char *)list, (int)wm.n_stack);
	free(list);
}

void
ewmh_update_desktops(void)
{
	long n = wm.ds.ws_count, cur = wm.ds.ws_current;
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_NUMBER_OF_DESKTOPS], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)&n, 1);
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_CURRENT_DESKTOP], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)&cur, 1);
	char names[DESKSTATE_MAX_WS * 4];
	size_t len = 0;
	for (int i = 0; i < wm.ds.ws_count; i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%d", i + 1) + 1;
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_DESKTOP_NAMES], wm.atoms[A_UTF8_STRING], 8,
	                PropModeReplace, (unsigned char *)names, (int)len);
	ewmh_update_workarea();
}

void
ewmh_update_workarea(void)
{
	int x, y, w, h;
	client_workarea(&x, &y, &w, &h);
	long wa[DESKSTATE_MAX_WS * 4];
	for (int i = 0; i < wm.ds.ws_count; i++) {
		wa[i * 4] = x;
		wa[i * 4 + 1] = y;
		wa[i * 4 + 2] = w;
		wa[i * 4 + 3] = h;
	}
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_WORKAREA], XA_CARDINAL, 32, PropModeReplace,
	                (unsigned char *)wa, wm.ds.ws_count * 4);
}

void
ewmh_update_active(void)
{
	Window w = wm.focus ? wm.focus->win : None;
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_NET_ACTIVE_WINDOW], XA_WINDOW, 32,
	                PropModeReplace, (unsigned char *)&w, 1);
}

void
ewmh_set_client_state(struct client *c)
{
	Atom st[6];
	int n = 0;
	if (c->maximized) {
		st[n++] = wm.atoms[A_NET_WM_STATE_MAXIMIZED_VERT];
		st[n++] = wm.atoms[A_NET_WM_STATE_MAXIMIZED_HORZ];
	}
	if (c->fullscreen)
		st[n++] = wm.atoms[A_NET_WM_STATE_FULLSCREEN];
	if (c->minimized)
		st[n++] = wm.atoms[A_NET_WM_STATE_HIDDEN];
	if (c->above)
		st[n++] = wm.atoms[A_NET_WM_STATE_ABOVE];
	if (c->urgent)
		st[n++] = wm.atoms[A_NET_WM_STATE_DEMANDS_ATTENTION];
	XChangeProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_STATE], XA_ATOM, 32, PropModeReplace,
	                (unsigned char *)st, n);
	long desk = c->ws < 0 ? 0xFFFFFFFFL : c->ws;
	XChangeProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_DESKTOP], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)&desk, 1);
	/*
	 * _ARGOBOX_STATE: workspace, flags and the normal (restore) geometry
	 * behind a maximized, fullscreen or snapped window, kept up to date
	 * while the window is managed, so that the next window manager adopts
	 * the window exactly even when this one is killed (SIGKILL, a crash)
	 * and never gets to client_release().
	 */
	long v[6] = {c->ws,
	             (c->minimized ? 1 : 0) | (c->maximized ? 2 : 0) | (c->fullscreen ? 4 : 0) |
	                 (c->saved ? 8 : 0),
	             c->sx,
	             c->sy,
	             c->sw,
	             c->sh};
	XChangeProperty(wm.dpy, c->win, wm.atoms[A_ARGOBOX_STATE], XA_CARDINAL, 32, PropModeReplace,
	                (unsigned char *)v, 6);
}

void
ewmh_set_frame_extents(struct client *c)
{
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	long ext[4] = {l, r, t, b};
	XChangeProperty(wm.dpy, c->win, wm.atoms[A_NET_FRAME_EXTENTS], XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)ext, 4);
}

void
ewmh_set_wm_state(Window w, long state)
{
	long data[2] = {state, None};
	XChangeProperty(wm.dpy, w, wm.atoms[A_WM_STATE], wm.atoms[A_WM_STATE], 32, PropModeReplace,
	                (unsigned char *)data, 2);
}

bool
ewmh_get_atoms(Window w, Atom prop, Atom *out, int max, int *ret_n)
{
	Atom type;
	int fmt;
	unsigned long n, after;
	unsigned char *data = NULL;
	*ret_n = 0;
	if (XGetWindowProperty(wm.dpy, w, prop, 0, max, False, XA_ATOM, &type, &fmt, &n, &after,
	                       &data) != Success ||
	    !data)
		return false;
	if (fmt == 32) {
		for (unsigned long i = 0; i < n && (int)i < max; i++)
			out[(*ret_n)++] = ((Atom *)data)[i];
	}
	XFree(data);
	return *ret_n > 0;
}

enum win_type
ewmh_window_type(Window w)
{
	Atom types[8];
	int n;
	if (!ewmh_get_atoms(w, wm.atoms[A_NET_WM_WINDOW_TYPE], types, 8, &n))
		return WT_NORMAL;
	for (int i = 0; i < n; i++) {
		Atom t = types[i];
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_DIALOG])
			return WT_DIALOG;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_DOCK])
			return WT_DOCK;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_SPLASH])
			return WT_SPLASH;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_NOTIFICATION])
			return WT_NOTIFICATION;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_MENU])
			return WT_MENU;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_UTILITY] ||
		    t == wm.atoms[A_NET_WM_WINDOW_TYPE_TOOLBAR])
			return WT_UTILITY;
		if (t == wm.atoms[A_NET_WM_WINDOW_TYPE_NORMAL])
			return WT_NORMAL;
	}
	return WT_NORMAL;
}

/* Latin-1 (ICCCM STRING) to UTF-8. */
static void
latin1_to_utf8(const unsigned char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 3 < cap; i++) {
		if (s[i] < 0x80) {
			out[o++] = (char)s[i];
		} else {
			out[o++] = (char)(0xC0 | (s[i] >> 6));
			out[o++] = (char)(0x80 | (s[i] & 0x3F));
		}
	}
	out[o] = '\0';
}

void
ewmh_read_title(struct client *c)
{
	Atom type;
	int fmt;
	unsigned long n, after;
	unsigned char *data = NULL;
	char buf[sizeof(c->title)] = "";
	if (XGetWindowProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_NAME], 0, 128, False,
	                       wm.atoms[A_UTF8_STRING], &type, &fmt, &n, &after,
	                       &data) == Success &&
	    data && fmt == 8 && n > 0) {
		size_t len = AB_MIN(n, sizeof(buf) - 1);
		memcpy(buf, data, len);
		buf[len] = '\0';
	} else {
		if (data)
			XFree(data);
		data = NULL;
		XTextProperty tp = {0};
		/* only sane sizes: a hostile client may set megabytes of WM_NAME */
		bool small =
		    XGetWindowProperty(wm.dpy, c->win, XA_WM_NAME, 0, 0, False, AnyPropertyType,
		                       &type, &fmt, &n, &after, &data) == Success &&
		    after <= 64 * 1024;
		if (data)
			XFree(data);
		data = NULL;
		if (small && XGetTextProperty(wm.dpy, c->win, &tp, XA_WM_NAME) && tp.value &&
		    tp.format == 8) {
			char **list = NULL;
			int cnt = 0;
			if (tp.encoding == XA_STRING) {
				latin1_to_utf8(tp.value, AB_MIN(tp.nitems, 1024), buf, sizeof(buf));
			} else if (Xutf8TextPropertyToTextList(wm.dpy, &tp, &list, &cnt) >=
			               Success &&
			           cnt > 0 && list) {
				/* COMPOUND_TEXT and friends, converted by Xlib */
				snprintf(buf, sizeof(buf), "%s", list[0]);
			} else {
				size_t len = AB_MIN(tp.nitems, sizeof(buf) - 1);
				memcpy(buf, tp.value, len);
				buf[len] = '\0';
			}
			if (list)
				XFreeStringList(list);
		}
		if (tp.value)
			XFree(tp.value);
	}
	if (data)
		XFree(data);
	/* a NUL inside the property ends the title; invalid bytes become '?' */
	deskstate_sanitize_utf8(buf);
	for (char *p = buf; *p; p++) {
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	}
	snprintf(c->title, sizeof(c->title), "%s", buf[0] ? buf : c->wm_class);
}

/* Picks the icon closest to 20 px and scales it into a 20x20 ARGB surface. */
void
ewmh_read_icon(struct client *c)
{
	Atom type;
	int fmt;
	unsigned long n, after;
	unsigned char *data = NULL;
	if (c->icon) {
		cairo_surface_destroy(c->icon);
		c->icon = NULL;
	}
	/* at most 1 MiB of icon data */
	if (XGetWindowProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_ICON], 0, 256 * 1024, False,
	                       XA_CARDINAL, &type, &fmt, &n, &after, &data) != Success ||
	    !data || fmt != 32) {
		if (data)
			XFree(data);
		return;
	}
	unsigned long *p = (unsigned long *)data, *end = p + n, *best = NULL;
	unsigned long bw = 0, bh = 0;
	while (end - p >= 2) {
		unsigned long w = p[0], h = p[1];
		if (w == 0 || h == 0 || w > 1024 || h > 1024 ||
		    (unsigned long)(end - p - 2) < w * h)
			break;
		long score = labs((long)w - 20), bscore = best ? labs((long)bw - 20) : 1L << 30;
		if (!best || (bw < 20 && w > bw) || (w >= 20 && score < bscore)) {
			best = p + 2;
			bw = w;
			bh = h;
		}
		p += 2 + w * h;
	}
	if (best) {
		cairo_surface_t *src =
		    cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)bw, (int)bh);
		uint32_t *px = (uint32_t *)cairo_image_surface_get_data(src);
		int stride = cairo_image_surface_get_stride(src) / 4;
		for (unsigned long y = 0; y < bh; y++) {
			for (unsigned long x = 0; x < bw; x++) {
				uint32_t v = (uint32_t)best[y * bw + x];
				uint32_t a = v >> 24, r = (v >> 16) & 0xff, g = (v >> 8) & 0xff,
				         b = v & 0xff;
				r = r * a / 255;
				g = g * a / 255;
				b = b * a / 255;
				px[y * (unsigned long)stride + x] = a << 24 | r << 16 | g << 8 | b;
			}
		}
		cairo_surface_mark_dirty(src);
		c->icon = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 20, 20);
		cairo_t *cr = cairo_create(c->icon);
		cairo_scale(cr, 20.0 / (double)bw, 20.0 / (double)bh);
		cairo_set_source_surface(cr, src, 0, 0);
		cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
		cairo_paint(cr);
		cairo_destroy(cr);
		cairo_surface_destroy(src);
	}
	XFree(data);
}

static void
apply_state_atom(struct client *c, long action, Atom a)
{
	/* action: 0 remove, 1 add, 2 toggle */
	bool cur;
	if (a == wm.atoms[A_NET_WM_STATE_MAXIMIZED_VERT] ||
	    a == wm.atoms[A_NET_WM_STATE_MAXIMIZED_HORZ]) {
		cur = c->maximized;
		client_set_maximized(c, action == 2 ? !cur : action == 1);
	} else if (a == wm.atoms[A_NET_WM_STATE_FULLSCREEN]) {
		cur = c->fullscreen;
		client_set_fullscreen(c, action == 2 ? !cur : action == 1);
	} else if (a == wm.atoms[A_NET_WM_STATE_HIDDEN]) {
		cur = c->minimized;
		client_set_minimized(c, action == 2 ? !cur : action == 1);
	} else if (a == wm.atoms[A_NET_WM_STATE_ABOVE]) {
		c->above = action == 2 ? !c->above : action == 1;
		client_restack();
	} else if (a == wm.atoms[A_NET_WM_STATE_DEMANDS_ATTENTION]) {
		c->urgent = action == 2 ? !c->urgent : action == 1;
		taskbar_draw();
	}
}

void
ewmh_client_message(XClientMessageEvent *e)
{
	Atom *a = wm.atoms;
	if (e->window == wm.root && e->message_type == a[A_NET_CURRENT_DESKTOP]) {
		workspace_switch((int)e->data.l[0]);
		return;
	}
	if (e->message_type == a[A_NET_REQUEST_FRAME_EXTENTS]) {
		/* before mapping: extents of a decorated normal window */
		int t = THEME_TITLE_H + THEME_BORDER_W, b = THEME_BORDER_W;
		long ext[4] = {b, b, t, b};
		XChangeProperty(wm.dpy, e->window, a[A_NET_FRAME_EXTENTS], XA_CARDINAL, 32,
		                PropModeReplace, (unsigned char *)ext, 4);
		return;
	}
	struct client *c = client_find(e->window);
	if (!c || c->win != e->window)
		return;
	if (e->message_type == a[A_NET_WM_STATE]) {
		apply_state_atom(c, e->data.l[0], (Atom)e->data.l[1]);
		/* maximized vert+horz in one message must not toggle twice */
		if (e->data.l[2] &&
		    !((Atom)e->data.l[1] == a[A_NET_WM_STATE_MAXIMIZED_VERT] &&
		      (Atom)e->data.l[2] == a[A_NET_WM_STATE_MAXIMIZED_HORZ]) &&
		    !((Atom)e->data.l[1] == a[A_NET_WM_STATE_MAXIMIZED_HORZ] &&
		      (Atom)e->data.l[2] == a[A_NET_WM_STATE_MAXIMIZED_VERT]))
			apply_state_atom(c, e->data.l[0], (Atom)e->data.l[2]);
		ewmh_set_client_state(c);
		state_changed();
	} else if (e->message_type == a[A_NET_ACTIVE_WINDOW]) {
		if (c->ws >= 0 && c->ws != wm.ds.ws_current)
			workspace_switch(c->ws);
		if (c->minimized)
			client_set_minimized(c, false);
		client_raise(c);
		client_focus(c);
	} else if (e->message_type == a[A_NET_CLOSE_WINDOW]) {
		client_close(c);
	} else if (e->message_type == a[A_NET_MOVERESIZE_WINDOW]) {
		long flags = e->data.l[0];
		int x = (flags & (1 << 8)) ? (int)e->data.l[1] : c->x;
		int y = (flags & (1 << 9)) ? (int)e->data.l[2] : c->y;
		int w = (flags & (1 << 10)) ? (int)e->data.l[3] : c->w;
		int h = (flags & (1 << 11)) ? (int)e->data.l[4] : c->h;
		if (c->maximized)
			client_set_maximized(c, false);
		client_move_resize(c, x, y, w, h);
		state_changed();
	} else if (e->message_type == a[A_NET_WM_DESKTOP]) {
		long d = e->data.l[0];
		if (d >= 0 && d < wm.ds.ws_count)
			workspace_send(c, (int)d);
	} else if (e->message_type == a[A_WM_CHANGE_STATE] && e->data.l[0] == IconicState) {
		client_set_minimized(c, true);
	}
}
