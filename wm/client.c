/* SPDX-License-Identifier: GPL-2.0-or-later */
/* client: managed windows (manage/unmanage, geometry, focus, stacking, states). */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <string.h>

struct client *
client_find(Window w)
{
	if (!w)
		return NULL;
	for (struct client *c = wm.clients; c; c = c->next) {
		if (c->win == w || c->frame == w)
			return c;
	}
	return NULL;
}

void
client_workarea(int *x, int *y, int *w, int *h)
{
	int bh = taskbar_reserved();
	*x = 0;
	*w = wm.sw;
	*h = wm.sh - bh;
	*y = wm.ds.tb_position == DESKSTATE_TOP ? bh : 0;
}

static int
clampi(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

void
client_read_hints(struct client *c)
{
	XSizeHints sh;
	long supplied = 0;
	c->minw = c->minh = 1;
	c->maxw = c->maxh = 0;
	c->incw = c->inch = 1;
	c->basew = c->baseh = 0;
	if (XGetWMNormalHints(wm.dpy, c->win, &sh, &supplied)) {
		/* hostile or absurd values are clamped, never trusted */
		if (sh.flags & PMinSize) {
			c->minw = clampi(sh.min_width, 1, 4096);
			c->minh = clampi(sh.min_height, 1, 4096);
		}
		if (sh.flags & PMaxSize) {
			c->maxw = clampi(sh.max_width, 0, DESKSTATE_SIZE_MAX);
			c->maxh = clampi(sh.max_height, 0, DESKSTATE_SIZE_MAX);
			if (c->maxw && c->maxw < c->minw)
				c->maxw = c->minw;
			if (c->maxh && c->maxh < c->minh)
				c->maxh = c->minh;
		}
		if (sh.flags & PResizeInc) {
			c->incw = clampi(sh.width_inc, 1, 256);
			c->inch = clampi(sh.height_inc, 1, 256);
		}
		if (sh.flags & PBaseSize) {
			c->basew = clampi(sh.base_width, 0, 4096);
			c->baseh = clampi(sh.base_height, 0, 4096);
		} else if (sh.flags & PMinSize) {
			c->basew = c->minw;
			c->baseh = c->minh;
		}
		if (c->basew > c->minw)
			c->basew = c->minw;
		if (c->baseh > c->minh)
			c->baseh = c->minh;
	}
	XWMHints *h = XGetWMHints(wm.dpy, c->win);
	if (h) {
		c->urgent = (h->flags & XUrgencyHint) != 0;
		XFree(h);
	}
}

/* Applies minimum, maximum and increments (ICCCM 4.1.2.3) to a content size. */
void
client_apply_hints(struct client *c, int *w, int *h)
{
	int W = AB_MAX(*w, c->minw), H = AB_MAX(*h, c->minh);
	if (c->maxw)
		W = AB_MIN(W, c->maxw);
	if (c->maxh)
		H = AB_MIN(H, c->maxh);
	if (!c->maximized && !c->fullscreen && !c->snapped) {
		W = c->basew + (W - c->basew) / c->incw * c->incw;
		H = c->baseh + (H - c->baseh) / c->inch * c->inch;
		if (W < c->minw)
			W += c->incw;
		if (H < c->minh)
			H += c->inch;
	}
	*w = clampi(W, 1, DESKSTATE_SIZE_MAX);
	*h = clampi(H, 1, DESKSTATE_SIZE_MAX);
}

void
client_send_configure(struct client *c)
{
	XConfigureEvent ce = {
	    .type = ConfigureNotify,
	    .display = wm.dpy,
	    .event = c->win,
	    .window = c->win,
	    .x = c->x,
	    .y = c->y,
	    .width = c->w,
	    .height = c->h,
	    .border_width = 0,
	    .above = None,
	    .override_redirect = False,
	};
	XSendEvent(wm.dpy, c->win, False, StructureNotifyMask, (XEvent *)&ce);
}

void
client_move_resize(struct client *c, int x, int y, int w, int h)
{
	client_apply_hints(c, &w, &h);
	c->x = clampi(x, DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX);
	c->y = clampi(y, DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX);
	bool resized = w != c->w || h != c->h;
	c->w = w;
	c->h = h;
	frame_place(c);
	client_send_configure(c);
	if (resized)
		frame_draw(c);
}

bool
client_visible(struct client *c)
{
	return !c->minimized && (c->ws < 0 || c->ws == wm.ds.ws_current);
}

void
client_show_hide(struct client *c)
{
	if (client_visible(c))
		XMapWindow(wm.dpy, c->frame);
	else
		XUnmapWindow(wm.dpy, c->frame);
}

static void
list_remove(struct client **v, size_t *n, struct client *c)
{
	for (size_t i = 0; i < *n; i++) {
		if (v[i] == c) {
			memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
			(*n)--;
			return;
		}
	}
}

/* Takes c out of the list *v (n entries, cap allocated) and makes room for one more. */
static void
list_take(struct client ***v, size_t *n, size_t *cap, struct client *c)
{
	list_remove(*v, n, c);
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ab_xrealloc(*v, *cap * sizeof(**v));
	}
}

static void
mru_front(struct client *c)
{
	list_take(&wm.mru, &wm.n_mru, &wm.cap_mru, c);
	memmove(&wm.mru[1], &wm.mru[0], wm.n_mru * sizeof(*wm.mru));
	wm.mru[0] = c;
	wm.n_mru++;
}

static void
stack_top(struct client *c)
{
	list_take(&wm.stack, &wm.n_stack, &wm.cap_stack, c);
	wm.stack[wm.n_stack++] = c;
}

static int
layer_of(struct client *c)
{
	if (c->fullscreen && c == wm.focus)
		return 3;
	if (c->type == WT_NOTIFICATION || c->type == WT_DOCK)
		return 2;
	if (c->above || c->type == WT_SPLASH)
		return 1;
	return 0;
}

/* Puts every frame in order: launcher, pop-ups, taskbar and layers top down. */
void
client_restack(void)
{
	size_t cap = wm.n_stack + 16, n = 0;
	Window *v = ab_xcalloc(cap, sizeof(Window));
	if (wm.bgmenu_open)
		v[n++] = wm.bgmenu;
	if (wm.launcher_open)
		v[n++] = wm.launcher;
	if (wm.cycling && wm.switcher)
		v[n++] = wm.switcher;
	for (struct notification *no = wm.notes; no; no = no->next)
		v[n++] = no->win;
	if (n + 4 >= cap) {
		cap = n + wm.n_stack + 4;
		v = ab_xrealloc(v, cap * sizeof(Window));
	}
	for (int layer = 3; layer >= 0; layer--) {
		if (layer == 2 && wm.bar)
			v[n++] = wm.bar;
		for (size_t i = wm.n_stack; i-- > 0;) {
			if (layer_of(wm.stack[i]) == layer)
				v[n++] = wm.stack[i]->frame;
		}
	}
	XRestackWindows(wm.dpy, v, (int)n);
	free(v);
	ewmh_update_client_list();
}

void
client_raise(struct client *c)
{
	stack_top(c);
	/* dialogs stay above the window they belong to */
	struct client *tr[32];
	size_t nt = 0;
	for (size_t i = 0; i < wm.n_stack && nt < AB_ARRAY_SIZE(tr); i++) {
		if (wm.stack[i] != c && wm.stack[i]->transient_for == c->win)
			tr[nt++] = wm.stack[i];
	}
	for (size_t i = 0; i < nt; i++)
		stack_top(tr[i]);
	client_restack();
	state_changed();
}

/* Sends c a WM_PROTOCOLS message for protocol (WM_TAKE_FOCUS, WM_DELETE_WINDOW). */
static void
send_protocol(struct client *c, Atom protocol)
{
	XEvent ev = {.xclient = {.type = ClientMessage,
	                         .window = c->win,
	                         .message_type = wm.atoms[A_WM_PROTOCOLS],
	                         .format = 32}};
	ev.xclient.data.l[0] = (long)protocol;
	ev.xclient.data.l[1] = CurrentTime;
	XSendEvent(wm.dpy, c->win, False, NoEventMask, &ev);
}

void
client_focus(struct client *c)
{
	struct client *old = wm.focus;
	if (c && (!client_visible(c) || c->type == WT_DOCK))
		c = NULL;
	wm.focus = c;
	if (c) {
		XWMHints *h = XGetWMHints(wm.dpy, c->win);
		bool input = !h || !(h->flags & InputHint) || h->input;
		if (h)
			XFree(h);
		if (input)
			XSetInputFocus(wm.dpy, c->win, RevertToPointerRoot, CurrentTime);
		if (c->take_focus) {
			send_protocol(c, wm.atoms[A_WM_TAKE_FOCUS]);
		}
		if (!wm.cycling)
			mru_front(c);
		c->urgent = false;
	} else {
		XSetInputFocus(wm.dpy, wm.root, RevertToPointerRoot, CurrentTime);
	}
	if (old && old != c)
		frame_draw(old);
	if (c)
		frame_draw(c);
	if ((old && old->fullscreen) || (c && c->fullscreen))
		client_restack();
	ewmh_update_active();
	taskbar_draw();
}

/* Focuses the most recently used visible window. */
void
client_focus_top(void)
{
	for (size_t i = 0; i < wm.n_mru; i++) {
		if (client_visible(wm.mru[i]) && wm.mru[i]->type != WT_DOCK) {
			client_focus(wm.mru[i]);
			return;
		}
	}
	client_focus(NULL);
}

void
client_close(struct client *c)
{
	if (c->delete_window) {
		send_protocol(c, wm.atoms[A_WM_DELETE_WINDOW]);
	} else {
		XKillClient(wm.dpy, c->win);
	}
}

static void
save_geometry(struct client *c)
{
	if (c->saved)
		return;
	c->sx = c->x;
	c->sy = c->y;
	c->sw = c->w;
	c->sh = c->h;
	c->saved = true;
}

static void
restore_geometry(struct client *c)
{
	if (!c->saved)
		return;
	c->saved = false;
	client_move_resize(c, c->sx, c->sy, c->sw, c->sh);
}

/* Re-applies the geometry implied by the state flags (maximized, fullscreen). */
static void
client_relayout(struct client *c)
{
	int l, r, t, b, x, y, w, h;
	frame_extents(c, &l, &r, &t, &b);
	if (c->fullscreen) {
		client_move_resize(c, 0, 0, wm.sw, wm.sh);
	} else if (c->maximized) {
		client_workarea(&x, &y, &w, &h);
		client_move_resize(c, x + l, y + t, w - l - r, h - t - b);
	}
}

void
client_relayout_all(void)
{
	for (struct client *c = wm.clients; c; c = c->next) {
		if (c->maximized || c->fullscreen)
			client_relayout(c);
		else if (c->snapped)
			client_snap(c, c->x > wm.sw / 3 ? EDGE_RIGHT : EDGE_LEFT);
	}
}

void
client_set_maximized(struct client *c, bool on)
{
	if (!c->decorated || on == c->maximized)
		return;
	if (on) {
		save_geometry(c);
		c->maximized = true;
		c->snapped = false;
		client_relayout(c);
	} else {
		c->maximized = false;
		c->snapped = false;
		if (!c->fullscreen)
			restore_geometry(c);
	}
	ewmh_set_client_state(c);
	frame_draw(c);
	state_changed();
}

void
client_set_fullscreen(struct client *c, bool on)
{
	if (on == c->fullscreen)
		return;
	if (on) {
		save_geometry(c);
		c->fullscreen = true;
		ewmh_set_frame_extents(c);
		client_relayout(c);
	} else {
		c->fullscreen = false;
		ewmh_set_frame_extents(c);
		if (c->maximized)
			client_relayout(c);
		else
			restore_geometry(c);
	}
	ewmh_set_client_state(c);
	client_restack();
	state_changed();
}

void
client_set_minimized(struct client *c, bool on)
{
	if (on == c->minimized || c->type == WT_DOCK)
		return;
	c->minimized = on;
	ewmh_set_wm_state(c->win, on ? IconicState : NormalState);
	ewmh_set_client_state(c);
	client_show_hide(c);
	if (on && wm.focus == c)
		client_focus_top();
	else if (!on) {
		client_raise(c);
		client_focus(c);
	}
	taskbar_draw();
	state_changed();
}

void
client_snap(struct client *c, int where)
{
	if (!c->decorated || c->fullscreen)
		return;
	if (where == EDGE_TOP) {
		client_set_maximized(c, true);
		return;
	}
	if (where == EDGE_BOTTOM) {
		if (c->maximized)
			client_set_maximized(c, false);
		else if (c->snapped) {
			c->snapped = false;
			restore_geometry(c);
			ewmh_set_client_state(c);
		} else
			client_set_minimized(c, true);
		state_changed();
		return;
	}
	int l, r, t, b, x, y, w, h;
	if (c->maximized) {
		c->maximized = false;
		ewmh_set_client_state(c);
	}
	save_geometry(c);
	c->snapped = true;
	frame_extents(c, &l, &r, &t, &b);
	client_workarea(&x, &y, &w, &h);
	int half = w / 2;
	if (where == EDGE_LEFT)
		client_move_resize(c, x + l, y + t, half - l - r, h - t - b);
	else
		client_move_resize(c, x + half + l, y + t, w - half - l - r, h - t - b);
	ewmh_set_client_state(c); /* the normal geometry behind the snap */
	frame_draw(c);
	state_changed();
}

static void
read_protocols(struct client *c)
{
	Atom *protos = NULL;
	int n = 0;
	c->delete_window = c->take_focus = false;
	if (XGetWMProtocols(wm.dpy, c->win, &protos, &n)) {
		for (int i = 0; i < n; i++) {
			if (protos[i] == wm.atoms[A_WM_DELETE_WINDOW])
				c->delete_window = true;
			else if (protos[i] == wm.atoms[A_WM_TAKE_FOCUS])
				c->take_focus = true;
		}
		XFree(protos);
	}
}

/*
 * Copies the first items (at most max) of the 32-bit property prop, of type type, on w into
 * out; returns how many it copied (0: missing, or not 32-bit).
 */
static unsigned long
get_longs(Window w, Atom prop, Atom type, long *out, unsigned long max)
{
	Atom rtype;
	int fmt;
	unsigned long n = 0, after;
	unsigned char *data = NULL;
	if (XGetWindowProperty(wm.dpy, w, prop, 0, (long)max, False, type, &rtype, &fmt, &n, &after,
	                       &data) != Success ||
	    !data || fmt != 32)
		n = 0;
	n = AB_MIN(n, max);
	if (n)
		memcpy(out, data, n * sizeof(*out));
	if (data)
		XFree(data);
	return n;
}

static long
get_cardinal(Window w, Atom prop, long dflt)
{
	long v = dflt;
	get_longs(w, prop, XA_CARDINAL, &v, 1);
	return v;
}

static void
read_class(struct client *c)
{
	XClassHint ch = {NULL, NULL};
	if (XGetClassHint(wm.dpy, c->win, &ch)) {
		snprintf(c->wm_class, sizeof(c->wm_class), "%s", ch.res_class ? ch.res_class : "");
		snprintf(c->wm_instance, sizeof(c->wm_instance), "%s",
		         ch.res_name ? ch.res_name : "");
		if (ch.res_class)
			XFree(ch.res_class);
		if (ch.res_name)
			XFree(ch.res_name);
	}
	deskstate_sanitize_utf8(c->wm_class);
	deskstate_sanitize_utf8(c->wm_instance);
	if (!c->wm_class[0])
		snprintf(c->wm_class, sizeof(c->wm_class), "unknown");
	const struct desktop_entry *e = desktop_find_class(&wm.apps, c->wm_class, c->wm_instance);
	const char *id = e ? e->id : NULL;
	if (!id) {
		/* started from the launcher: _NET_WM_PID names the process we forked */
		long pid = get_cardinal(c->win, wm.atoms[A_NET_WM_PID], -1);
		id = launcher_desktop_id_for_pid((pid_t)pid);
	}
	snprintf(c->desktop_id, sizeof(c->desktop_id), "%s", id ? id : "");
}

/* Places a new window: dialogs centred on their parent, others cascaded in the work area. */
static void
place_new(struct client *c, bool has_position)
{
	int ax, ay, aw, ah, l, r, t, b;
	client_workarea(&ax, &ay, &aw, &ah);
	frame_extents(c, &l, &r, &t, &b);
	struct client *p = c->transient_for ? client_find(c->transient_for) : NULL;
	if (p) {
		c->x = p->x + (p->w - c->w) / 2;
		c->y = p->y + (p->h - c->h) / 2;
	} else if (c->type == WT_SPLASH || c->type == WT_DIALOG) {
		c->x = ax + (aw - c->w) / 2;
		c->y = ay + (ah - c->h) / 2;
	} else if (!has_position) {
		static int cascade;
		int n = cascade++ % 8;
		c->x = ax + l + 60 + n * 32;
		c->y = ay + t + 40 + n * 32;
		if (c->x + c->w + r > ax + aw)
			c->x = AB_MAX(ax + l, ax + aw - c->w - r);
		if (c->y + c->h + b > ay + ah)
			c->y = AB_MAX(ay + t, ay + ah - c->h - b);
	}
}

/* Keeps the title bar of a decorated window on screen and grabbable. */
static void
keep_reachable(struct client *c)
{
	int ax, ay, aw, ah, l, r, t, b;
	client_workarea(&ax, &ay, &aw, &ah);
	frame_extents(c, &l, &r, &t, &b);
	if (c->decorated) {
		c->y = AB_MAX(c->y, ay + t);
		c->y = AB_MIN(c->y, ay + ah - 8);
		c->x = AB_MIN(c->x, ax + aw - 48);
		c->x = AB_MAX(c->x, ax - c->w + 48);
	}
}

static long
get_wm_state(Window w)
{
	long st[2] = {-1, 0};
	get_longs(w, wm.atoms[A_WM_STATE], wm.atoms[A_WM_STATE], st, 2);
	return st[0];
}

/*
 * What a previous window manager left on the window (_ARGOBOX_STATE, kept up
 * to date by ewmh_set_client_state() while it ran, so it is there after a
 * crash too): flags and the normal geometry behind a maximized window.
 */
static void
adopt_saved(struct client *c)
{
	long v[6];
	if (get_longs(c->win, wm.atoms[A_ARGOBOX_STATE], XA_CARDINAL, v, 6) == 6) {
		if (v[0] >= 0 && v[0] < wm.ds.ws_count && c->ws >= 0)
			c->ws = (int)v[0];
		c->minimized = v[1] & 1;
		c->maximized = (v[1] & 2) && c->decorated;
		c->fullscreen = v[1] & 4;
		if (v[1] & 8) {
			c->saved = true;
			c->sx = clampi(v[2], DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX);
			c->sy = clampi(v[3], DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX);
			c->sw = clampi(v[4], 1, DESKSTATE_SIZE_MAX);
			c->sh = clampi(v[5], 1, DESKSTATE_SIZE_MAX);
		}
	}
}

/*
 * Hands a window back to the root when the window manager exits, leaving
 * enough behind (_ARGOBOX_STATE, WM_STATE) for the next one to adopt it
 * exactly as it was. Hidden windows are unmapped so they stay hidden.
 */
void
client_release(struct client *c)
{
	ewmh_set_client_state(c); /* _ARGOBOX_STATE, as it is now */
	XUngrabButton(wm.dpy, AnyButton, AnyModifier, c->win);
	XReparentWindow(wm.dpy, c->win, wm.root, c->x, c->y);
	if (!client_visible(c)) {
		XUnmapWindow(wm.dpy, c->win);
		ewmh_set_wm_state(c->win, IconicState);
	}
	XRemoveFromSaveSet(wm.dpy, c->win);
	frame_destroy(c);
}

struct client *
client_manage(Window w, bool adopt)
{
	XWindowAttributes wa;
	if (w == wm.bar || w == wm.launcher || w == wm.check || client_find(w))
		return NULL;
	if (!XGetWindowAttributes(wm.dpy, w, &wa) || wa.override_redirect || wa.class == InputOnly)
		return NULL;
	long wmstate = get_wm_state(w);
	if (adopt && wa.map_state != IsViewable && wmstate != IconicState)
		return NULL;

	struct client *c = ab_xcalloc(1, sizeof(*c));
	c->win = w;
	c->restore_rank = -1;
	c->seq = wm.next_seq++;
	c->x = wa.x;
	c->y = wa.y;
	c->w = AB_MAX(wa.width, 1);
	c->h = AB_MAX(wa.height, 1);
	c->ws = wm.ds.ws_current;
	c->type = ewmh_window_type(w);
	c->decorated = c->type == WT_NORMAL || c->type == WT_DIALOG || c->type == WT_UTILITY;
	c->in_taskbar = c->type == WT_NORMAL || c->type == WT_UTILITY;
	Window tf = None;
	if (XGetTransientForHint(wm.dpy, w, &tf) && tf && tf != w) {
		c->transient_for = tf;
		if (c->type == WT_NORMAL)
			c->type = WT_DIALOG;
		c->in_taskbar = false;
	}
	if (c->type == WT_DOCK)
		c->ws = -1;
	if (c->type == WT_NOTIFICATION || c->type == WT_SPLASH)
		c->above = true;
	read_class(c);
	ewmh_read_title(c);
	client_read_hints(c);
	read_protocols(c);
	ewmh_read_icon(c);
	if (c->transient_for) {
		struct client *p = client_find(c->transient_for);
		if (p)
			c->ws = p->ws;
	}

	XSizeHints sh;
	long supplied;
	bool has_pos = adopt;
	if (XGetWMNormalHints(wm.dpy, w, &sh, &supplied) && (sh.flags & (USPosition | PPosition)))
		has_pos = true;
	/* states the client asked for before mapping (_NET_WM_STATE on the window) */
	Atom st[8];
	int nst = 0;
	if (ewmh_get_atoms(w, wm.atoms[A_NET_WM_STATE], st, 8, &nst)) {
		for (int i = 0; i < nst; i++) {
			if (st[i] == wm.atoms[A_NET_WM_STATE_FULLSCREEN])
				c->fullscreen = true;
			else if (st[i] == wm.atoms[A_NET_WM_STATE_MAXIMIZED_VERT] && c->decorated)
				c->maximized = true;
			else if (st[i] == wm.atoms[A_NET_WM_STATE_ABOVE])
				c->above = true;
		}
	}
	if (adopt) {
		long d = get_cardinal(w, wm.atoms[A_NET_WM_DESKTOP], wm.ds.ws_current);
		if (c->ws >= 0 && d >= 0 && d < wm.ds.ws_count)
			c->ws = (int)d;
		c->minimized = wmstate == IconicState;
		adopt_saved(c);
	}

	bool restored = state_restore_match(c);
	if (!restored) {
		if (!adopt)
			place_new(c, has_pos);
		keep_reachable(c);
	}
	client_apply_hints(c, &c->w, &c->h);

	/* link in before creating the frame so errors on a dying window find it */
	c->next = NULL;
	struct client **pp = &wm.clients;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;

	XSelectInput(wm.dpy, w, PropertyChangeMask | StructureNotifyMask | FocusChangeMask);
	frame_create(c);
	if (wa.map_state == IsViewable)
		c->ignore_unmap++; /* reparenting a mapped window unmaps it once */
	XAddToSaveSet(wm.dpy, w);
	int l, r, t, b;
	frame_extents(c, &l, &r, &t, &b);
	XReparentWindow(wm.dpy, w, c->frame, l, t);
	XSetWindowBorderWidth(wm.dpy, w, 0);
	XGrabButton(wm.dpy, AnyButton, AnyModifier, w, False, ButtonPressMask, GrabModeSync,
	            GrabModeAsync, None, None);
	ewmh_set_frame_extents(c);
	if (c->fullscreen || c->maximized) {
		bool fs = c->fullscreen, mx = c->maximized;
		c->fullscreen = c->maximized = false;
		if (mx)
			client_set_maximized(c, true);
		if (fs)
			client_set_fullscreen(c, true);
	} else {
		frame_place(c);
	}
	XMapWindow(wm.dpy, w);
	ewmh_set_wm_state(w, c->minimized ? IconicState : NormalState);
	ewmh_set_client_state(c);
	client_send_configure(c);
	stack_top(c);
	mru_front(c);
	client_show_hide(c);
	frame_draw(c);
	client_restack();
	if (client_visible(c) && c->type != WT_DOCK && c->type != WT_NOTIFICATION && !wm.restoring)
		client_focus(c);
	else
		taskbar_draw();
	ab_debug("managing 0x%lx '%s' (%s) %dx%d%+d%+d ws %d", w, c->title, c->wm_class, c->w, c->h,
	         c->x, c->y, c->ws);
	state_changed();
	return c;
}

void
client_unmanage(struct client *c, bool destroyed)
{
	if (wm.drag_c == c) {
		wm.drag = DRAG_NONE;
		wm.drag_c = NULL;
		XUngrabPointer(wm.dpy, CurrentTime);
	}
	if (!destroyed) {
		XGrabServer(wm.dpy);
		XUngrabButton(wm.dpy, AnyButton, AnyModifier, c->win);
		XReparentWindow(wm.dpy, c->win, wm.root, c->x, c->y);
		XRemoveFromSaveSet(wm.dpy, c->win);
		ewmh_set_wm_state(c->win, WithdrawnState);
		XDeleteProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_STATE]);
		XDeleteProperty(wm.dpy, c->win, wm.atoms[A_NET_WM_DESKTOP]);
		XDeleteProperty(wm.dpy, c->win, wm.atoms[A_ARGOBOX_STATE]);
		XSync(wm.dpy, False);
		XUngrabServer(wm.dpy);
	}
	frame_destroy(c);
	for (struct client **pp = &wm.clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	list_remove(wm.stack, &wm.n_stack, c);
	list_remove(wm.mru, &wm.n_mru, c);
	if (c->icon)
		cairo_surface_destroy(c->icon);
	bool had_focus = wm.focus == c;
	if (had_focus)
		wm.focus = NULL;
	switcher_forget(c);
	free(c);
	ewmh_update_client_list();
	if (had_focus)
		client_focus_top();
	taskbar_draw();
	state_changed();
}

/*
 * Puts `kids` (the root's children) in the stacking order a previous window
 * manager left in _NET_CLIENT_LIST_STACKING (bottom first): windows it did
 * not list first, in X order, then the listed ones in its order. After a
 * crash the frames are gone and X's own order of the reparented windows is
 * not the one the user saw; a restored state's order still wins
 * (restore_finish()).
 */
static void
order_by_old_stacking(Window *kids, unsigned n)
{
	Atom type;
	int fmt;
	unsigned long nl = 0, after;
	unsigned char *data = NULL;
	if (XGetWindowProperty(wm.dpy, wm.root, wm.atoms[A_NET_CLIENT_LIST_STACKING], 0, 4096,
	                       False, XA_WINDOW, &type, &fmt, &nl, &after, &data) != Success ||
	    !data || fmt != 32 || nl == 0) {
		if (data)
			XFree(data);
		return;
	}
	const unsigned long *old = (const unsigned long *)data;
	Window *v = ab_xcalloc(n + 1, sizeof(*v));
	bool *listed = ab_xcalloc(n + 1, sizeof(*listed));
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		for (unsigned long j = 0; j < nl; j++) {
			if (old[j] == kids[i]) {
				listed[i] = true;
				break;
			}
		}
		if (!listed[i])
			v[k++] = kids[i];
	}
	for (unsigned long j = 0; j < nl; j++) {
		for (unsigned i = 0; i < n; i++) {
			if (listed[i] && old[j] == kids[i]) {
				v[k++] = kids[i];
				listed[i] = false;
			}
		}
	}
	AB_ASSERT(k == n);
	memcpy(kids, v, n * sizeof(*v));
	free(v);
	free(listed);
	XFree(data);
}

/* Adopts the windows that exist at start-up (a restarted window manager loses nothing). */
void
client_adopt_all(void)
{
	Window root_ret, parent, *kids = NULL;
	unsigned n = 0;
	if (!XQueryTree(wm.dpy, wm.root, &root_ret, &parent, &kids, &n))
		return;
	if (n)
		order_by_old_stacking(kids, n);
	/* normal windows first, then transients so their parents exist */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n; i++) {
			Window tf = None;
			bool is_transient = XGetTransientForHint(wm.dpy, kids[i], &tf) && tf;
			if ((pass == 0) == is_transient)
				continue;
			client_manage(kids[i], true);
		}
	}
	if (kids)
		XFree(kids);
}
