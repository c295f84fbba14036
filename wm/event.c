/* SPDX-License-Identifier: GPL-2.0-or-later */
/* event: one handler per X event type (dwm-style table), and the X error handler. */
#include "wm.h"
#include "kbd.h"
#include "screen.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/Xproto.h>

static void
on_map_request(XEvent *ev)
{
	XMapRequestEvent *e = &ev->xmaprequest;
	struct client *c = client_find(e->window);
	if (c) {
		if (c->minimized)
			client_set_minimized(c, false);
		return;
	}
	client_manage(e->window, false);
}

static void
on_configure_request(XEvent *ev)
{
	XConfigureRequestEvent *e = &ev->xconfigurerequest;
	struct client *c = client_find(e->window);
	if (c && c->win == e->window) {
		if (c->fullscreen || c->maximized || c->snapped || wm.drag_c == c) {
			client_send_configure(c);
			return;
		}
		int x = (e->value_mask & CWX) ? e->x : c->x;
		int y = (e->value_mask & CWY) ? e->y : c->y;
		int w = (e->value_mask & CWWidth) ? e->width : c->w;
		int h = (e->value_mask & CWHeight) ? e->height : c->h;
		client_move_resize(c, x, y, w, h);
		if (e->value_mask & CWStackMode && e->detail == Above)
			client_raise(c);
		state_changed();
		return;
	}
	XWindowChanges wc = {
	    .x = e->x,
	    .y = e->y,
	    .width = e->width,
	    .height = e->height,
	    .border_width = e->border_width,
	    .sibling = e->above,
	    .stack_mode = e->detail,
	};
	XConfigureWindow(wm.dpy, e->window, (unsigned)e->value_mask, &wc);
}

static void
on_unmap(XEvent *ev)
{
	XUnmapEvent *e = &ev->xunmap;
	struct client *c = client_find(e->window);
	if (!c || c->win != e->window)
		return;
	/* the copy reported to the window itself (StructureNotify) is not ours */
	if (e->event == e->window && !e->send_event)
		return;
	if (c->ignore_unmap > 0 && !e->send_event) {
		c->ignore_unmap--;
		return;
	}
	client_unmanage(c, false);
}

static void
on_destroy(XEvent *ev)
{
	struct client *c = client_find(ev->xdestroywindow.window);
	if (c && c->win == ev->xdestroywindow.window)
		client_unmanage(c, true);
}

static void
on_property(XEvent *ev)
{
	XPropertyEvent *e = &ev->xproperty;
	if (kbd_handle_property(e) || ctl_handle_property(e))
		return;
	struct client *c = client_find(e->window);
	if (!c || c->win != e->window || e->state == PropertyDelete)
		return;
	if (e->atom == XA_WM_NAME || e->atom == wm.atoms[A_NET_WM_NAME]) {
		ewmh_read_title(c);
		frame_draw(c);
		taskbar_draw();
		state_changed();
	} else if (e->atom == XA_WM_NORMAL_HINTS) {
		client_read_hints(c);
	} else if (e->atom == XA_WM_HINTS) {
		client_read_hints(c);
		taskbar_draw();
	} else if (e->atom == wm.atoms[A_NET_WM_ICON]) {
		ewmh_read_icon(c);
		frame_draw(c);
		taskbar_draw();
	} else if (e->atom == wm.atoms[A_WM_PROTOCOLS]) {
		/* re-read lazily in client_close via the cached flags */
		Atom *p = NULL;
		int n = 0;
		c->delete_window = c->take_focus = false;
		if (XGetWMProtocols(wm.dpy, c->win, &p, &n)) {
			for (int i = 0; i < n; i++) {
				c->delete_window |= p[i] == wm.atoms[A_WM_DELETE_WINDOW];
				c->take_focus |= p[i] == wm.atoms[A_WM_TAKE_FOCUS];
			}
			XFree(p);
		}
	}
}

static void
on_client_message(XEvent *ev)
{
	if (!xdnd_client_message(&ev->xclient))
		ewmh_client_message(&ev->xclient);
}

static void
on_selection_notify(XEvent *ev)
{
	xdnd_selection_notify(&ev->xselection);
}

static void
on_button_press(XEvent *ev)
{
	XButtonEvent *e = &ev->xbutton;
	if (wm.bgmenu_open) {
		bgmenu_button_press(e);
		return;
	}
	if (wm.launcher_open) {
		launcher_button_press(e);
		return;
	}
	if (wm.centre_open) {
		nc_button_press(e);
		return;
	}
	if (e->window == wm.root) {
		wm.last_click_win = None;
		/* the desktop background itself (not a child's click passed up) */
		if (e->subwindow == None && e->button == Button3 && wm.drag == DRAG_NONE)
			bgmenu_open(e->x_root, e->y_root, e->time);
		return;
	}
	if (e->window == wm.bar) {
		taskbar_button_press(e);
		return;
	}
	if (notify_button_press(e))
		return;
	struct client *c = client_find(e->window);
	if (!c || c->frame != e->window)
		wm.last_click_win = None;
	if (!c)
		return;
	if (c != wm.focus)
		client_focus(c);
	client_raise(c);
	if (e->window == c->win) {
		/* click-to-focus grab: let the application have the click */
		XAllowEvents(wm.dpy, ReplayPointer, e->time);
		return;
	}
	frame_button_press(c, e);
}

static void
on_button_release(XEvent *ev)
{
	if (wm.bgmenu_open) {
		bgmenu_button_release(&ev->xbutton);
		return;
	}
	frame_button_release(&ev->xbutton);
}

static void
on_motion(XEvent *ev)
{
	if (wm.bgmenu_open) {
		bgmenu_motion(&ev->xmotion);
		return;
	}
	frame_motion(&ev->xmotion);
}

static void
on_key_press(XEvent *ev)
{
	if (wm.bgmenu_open)
		bgmenu_key(&ev->xkey);
	else if (wm.launcher_open)
		launcher_key(&ev->xkey);
	else if (wm.centre_open)
		nc_key(&ev->xkey);
	else if (wm.cycling)
		switcher_key(&ev->xkey);
	else
		keys_press(&ev->xkey);
}

static void
on_key_release(XEvent *ev)
{
	keys_release(&ev->xkey);
}

static void
on_expose(XEvent *ev)
{
	XExposeEvent *e = &ev->xexpose;
	if (e->count)
		return;
	if (e->window == wm.bar) {
		taskbar_draw();
	} else if (e->window == wm.launcher) {
		launcher_draw();
	} else if (e->window == wm.switcher) {
		switcher_draw();
	} else if (e->window == wm.bgmenu) {
		bgmenu_draw();
	} else if (e->window == wm.centre) {
		nc_draw();
	} else {
		struct client *c = client_find(e->window);
		if (c && c->frame == e->window)
			frame_draw(c);
		else
			notify_expose(e->window);
	}
}

static void
on_configure_notify(XEvent *ev)
{
	XConfigureEvent *e = &ev->xconfigure;
	if (e->window != wm.root || (e->width == wm.sw && e->height == wm.sh))
		return;
	/* the session resized the screen (RandR): re-lay out everything */
	wm.sw = e->width;
	wm.sh = e->height;
	ab_info("screen is now %dx%d", wm.sw, wm.sh);
	bgmenu_close();
	wallpaper_apply();
	taskbar_create();
	ewmh_update_workarea();
	client_relayout_all();
	screen_fit_all(); /* every window at least partly on screen, or back where it was */
	state_changed();
}

static void
on_focus_in(XEvent *ev)
{
	/* an application that grabs focus for itself gets it back from us */
	if (wm.focus && ev->xfocus.window != wm.focus->win && client_find(ev->xfocus.window))
		XSetInputFocus(wm.dpy, wm.focus->win, RevertToPointerRoot, CurrentTime);
}

static void
on_enter(XEvent *ev)
{
	if (ev->xcrossing.window == wm.bar)
		taskbar_reveal(true);
}

static void
on_leave(XEvent *ev)
{
	if (ev->xcrossing.window == wm.bar && ev->xcrossing.detail != NotifyInferior &&
	    !wm.launcher_open)
		taskbar_reveal(false);
}

static void (*const handlers[LASTEvent])(XEvent *) = {
    [EnterNotify] = on_enter,
    [LeaveNotify] = on_leave,
    [MapRequest] = on_map_request,
    [ConfigureRequest] = on_configure_request,
    [UnmapNotify] = on_unmap,
    [DestroyNotify] = on_destroy,
    [PropertyNotify] = on_property,
    [ClientMessage] = on_client_message,
    [SelectionNotify] = on_selection_notify,
    [ButtonPress] = on_button_press,
    [ButtonRelease] = on_button_release,
    [MotionNotify] = on_motion,
    [KeyPress] = on_key_press,
    [KeyRelease] = on_key_release,
    [Expose] = on_expose,
    [ConfigureNotify] = on_configure_notify,
    [FocusIn] = on_focus_in,
};

void
event_dispatch(XEvent *e)
{
	if (e->type >= 0 && e->type < LASTEvent && handlers[e->type])
		handlers[e->type](e);
}

/*
 * Clients die at any moment, so requests about their windows fail all the
 * time: such errors are expected and never fatal. Anything else is logged.
 */
int
event_x_error(Display *dpy, XErrorEvent *e)
{
	char text[128] = "";
	if (e->error_code == BadWindow || e->error_code == BadDrawable ||
	    e->error_code == BadMatch || e->error_code == BadAccess ||
	    (e->request_code == X_ConfigureWindow && e->error_code == BadValue)) {
		ab_debug("ignored X error %d (request %d) on 0x%lx", e->error_code, e->request_code,
		         e->resourceid);
		return 0;
	}
	XGetErrorText(dpy, e->error_code, text, sizeof(text));
	ab_warn("X error: %s (request %d.%d, resource 0x%lx)", text, e->request_code, e->minor_code,
	        e->resourceid);
	return 0;
}
