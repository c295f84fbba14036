/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * switcher: the Alt+Tab window switcher. Alt+Tab opens a card (drawn like the launcher's)
 * listing the windows of the current workspace, most recently used first, with the next one
 * selected; Tab / Shift+Tab (or Down / Up) move the selection while Alt is held, releasing Alt
 * (or Enter) raises and focuses the selected window (un-minimizing it), Escape cancels. Focus
 * does not move while the card is open, so the focus history changes only on commit.
 *
 * The candidates are a snapshot taken when the card opens; a window that goes away meanwhile
 * is dropped from it (switcher_forget()).
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/keysym.h>
#include <string.h>

#define S_W     520
#define ROW_H   44
#define PAD     12
#define MAX_ROW 12 /* rows shown; more scroll */

static struct client **cands;
static size_t n_cands, sel, first;
static cairo_surface_t *surf;
static int cur_h;

static bool
candidate(const struct client *c)
{
	return (c->ws == wm.ds.ws_current || c->ws < 0) && c->type != WT_DOCK && c->in_taskbar;
}

static void
collect(void)
{
	free(cands);
	cands = ab_xcalloc(wm.n_mru + 1, sizeof(*cands));
	n_cands = 0;
	for (size_t i = 0; i < wm.n_mru; i++) {
		if (candidate(wm.mru[i]))
			cands[n_cands++] = wm.mru[i];
	}
}

static const char *
subtitle(const struct client *c)
{
	const struct desktop_entry *e =
	    c->desktop_id[0] ? desktop_find(&wm.apps, c->desktop_id) : NULL;
	if (!e)
		e = desktop_find_class(&wm.apps, c->wm_class, c->wm_instance);
	return e ? e->name : c->wm_class;
}

void
switcher_draw(void)
{
	if (!wm.cycling || !surf)
		return;
	const struct ab_theme *t = &wm.theme;
	cairo_t *cr = cairo_create(surf);
	theme_card(cr, S_W, cur_h);
	for (size_t i = first; i < n_cands && i < first + MAX_ROW; i++) {
		const struct client *c = cands[i];
		double y = PAD + (double)(i - first) * ROW_H;
		if (i == sel)
			theme_row_selected(cr, 8, y, S_W - 16, ROW_H);
		theme_client_icon(cr, c, 20, y + 8, 28, c->minimized ? 0.5 : 1);
		theme_set_rgb(cr, c->minimized ? t->text_dim : t->text);
		theme_text(cr, c->title[0] ? c->title : c->wm_class, t->font, 60, y + 3, S_W - 80,
		           20, false);
		char sub[DESKSTATE_NAME_MAX + 32];
		snprintf(sub, sizeof(sub), "%s%s", subtitle(c), c->minimized ? " · minimized" : "");
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, sub, "Noto Sans,DejaVu Sans 8.5", 60, y + 21, S_W - 80, 18, false);
	}
	cairo_destroy(cr);
	cairo_surface_flush(surf);
}

static void
place(void)
{
	size_t rows = AB_MIN(n_cands, (size_t)MAX_ROW);
	cur_h = PAD * 2 + (int)rows * ROW_H;
	int x = (wm.sw - S_W) / 2, y = (wm.sh - cur_h) / 2;
	if (!wm.switcher) {
		XSetWindowAttributes sa = {
		    .override_redirect = True,
		    .background_pixmap = None,
		    .event_mask = ExposureMask,
		};
		wm.switcher = XCreateWindow(wm.dpy, wm.root, x, y, S_W, cur_h, 0, CopyFromParent,
		                            InputOutput, CopyFromParent,
		                            CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
		surf = cairo_xlib_surface_create(wm.dpy, wm.switcher, wm.visual, S_W, cur_h);
	} else {
		XMoveResizeWindow(wm.dpy, wm.switcher, x, y, S_W, cur_h);
		cairo_xlib_surface_set_size(surf, S_W, cur_h);
	}
}

static void
close_card(void)
{
	wm.cycling = false;
	XUngrabKeyboard(wm.dpy, CurrentTime);
	if (wm.switcher)
		XUnmapWindow(wm.dpy, wm.switcher);
	free(cands);
	cands = NULL;
	n_cands = sel = first = 0;
}

void
switcher_commit(void)
{
	if (!wm.cycling)
		return;
	struct client *c = sel < n_cands ? cands[sel] : NULL;
	close_card();
	if (!c) {
		if (wm.focus)
			client_focus(wm.focus);
		return;
	}
	if (c->minimized)
		client_set_minimized(c, false);
	client_raise(c);
	client_focus(c); /* not cycling any more: this puts it first in the history */
}

void
switcher_cancel(void)
{
	if (!wm.cycling)
		return;
	close_card();
	if (wm.focus)
		client_focus(wm.focus);
}

void
switcher_step(int dir)
{
	if (!wm.cycling || n_cands == 0)
		return;
	sel = (sel + n_cands + (size_t)(dir < 0 ? -1 : 1)) % n_cands;
	if (sel < first)
		first = sel;
	if (sel >= first + MAX_ROW)
		first = sel - MAX_ROW + 1;
	switcher_draw();
}

void
switcher_start(int dir)
{
	if (wm.cycling) {
		switcher_step(dir);
		return;
	}
	if (wm.launcher_open)
		launcher_close();
	collect();
	if (n_cands == 0) {
		free(cands);
		cands = NULL;
		return;
	}
	wm.cycling = true;
	/* the focused window is first in the history: start on the one after (or before) it */
	sel = n_cands > 1 ? (dir < 0 ? n_cands - 1 : 1) : 0;
	first = sel >= MAX_ROW ? sel - MAX_ROW + 1 : 0;
	XGrabKeyboard(wm.dpy, wm.root, True, GrabModeAsync, GrabModeAsync, CurrentTime);
	/* Alt may have been released before our grab: then we never see the release, so
	 * commit now rather than keep the keyboard */
	Window rr, cr;
	int rx, ry, wx, wy;
	unsigned mask = 0;
	if (XQueryPointer(wm.dpy, wm.root, &rr, &cr, &rx, &ry, &wx, &wy, &mask) &&
	    !(mask & Mod1Mask)) {
		switcher_commit();
		return;
	}
	place();
	XMapRaised(wm.dpy, wm.switcher);
	client_restack();
	switcher_draw();
}

void
switcher_key(XKeyEvent *e)
{
	KeySym sym = XLookupKeysym(e, 0);
	switch (sym) {
	case XK_Tab:
	case XK_ISO_Left_Tab:
		switcher_step(e->state & ShiftMask ? -1 : 1);
		break;
	case XK_Down:
	case XK_Right:
		switcher_step(1);
		break;
	case XK_Up:
	case XK_Left:
		switcher_step(-1);
		break;
	case XK_Return:
	case XK_KP_Enter:
		switcher_commit();
		break;
	case XK_Escape:
		switcher_cancel();
		break;
	default:
		break;
	}
}

void
switcher_forget(struct client *c)
{
	if (!wm.cycling)
		return;
	for (size_t i = 0; i < n_cands; i++) {
		if (cands[i] != c)
			continue;
		memmove(&cands[i], &cands[i + 1], (n_cands - i - 1) * sizeof(*cands));
		n_cands--;
		if (sel > i || sel >= n_cands)
			sel = sel > 0 ? sel - 1 : 0;
		first = AB_MIN(first, sel);
		break;
	}
	if (n_cands == 0) {
		switcher_cancel();
		return;
	}
	place();
	switcher_draw();
}

void
switcher_free(void)
{
	close_card();
	if (surf)
		cairo_surface_destroy(surf);
	surf = NULL;
}
