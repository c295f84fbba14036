/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keys: the keyboard shortcuts.
 *   Alt+Tab, Alt+Shift+Tab  the window switcher (switcher.c; Alt release commits)
 *   Super              open/close the launcher
 *   Super+T, Super+E   start the terminal, the file manager (the profile's "terminal"/"files" app)
 *   Super+Left/Right   snap to the left/right half; Super+Up maximize; Super+Down restore/minimize
 *   Alt+F4             close
 *   Super+N            the notification centre; Super+M its messages panel
 *   Ctrl+Alt+Left/Right switch workspace; Ctrl+Alt+Shift+Left/Right move the window along
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/XKBlib.h>
#include <X11/keysym.h>

enum action {
	ACT_CYCLE,
	ACT_CYCLE_BACK,
	ACT_TERMINAL,
	ACT_FILES,
	ACT_SNAP_LEFT,
	ACT_SNAP_RIGHT,
	ACT_MAXIMIZE,
	ACT_RESTORE,
	ACT_CLOSE,
	ACT_WS_PREV,
	ACT_WS_NEXT,
	ACT_SEND_PREV,
	ACT_SEND_NEXT,
	ACT_NOTIFICATIONS,
	ACT_MESSAGES,
	ACT_MAX,
};

struct key {
	unsigned mod;
	KeySym sym;
	enum action act;
};

static const struct key keys[] = {
    {Mod1Mask, XK_Tab, ACT_CYCLE},
    {Mod1Mask | ShiftMask, XK_Tab, ACT_CYCLE_BACK},
    {Mod4Mask, XK_t, ACT_TERMINAL},
    {Mod4Mask, XK_e, ACT_FILES},
    {Mod4Mask, XK_Left, ACT_SNAP_LEFT},
    {Mod4Mask, XK_Right, ACT_SNAP_RIGHT},
    {Mod4Mask, XK_Up, ACT_MAXIMIZE},
    {Mod4Mask, XK_Down, ACT_RESTORE},
    {Mod1Mask, XK_F4, ACT_CLOSE},
    {ControlMask | Mod1Mask, XK_Left, ACT_WS_PREV},
    {ControlMask | Mod1Mask, XK_Right, ACT_WS_NEXT},
    {ControlMask | Mod1Mask | ShiftMask, XK_Left, ACT_SEND_PREV},
    {ControlMask | Mod1Mask | ShiftMask, XK_Right, ACT_SEND_NEXT},
    {Mod4Mask, XK_n, ACT_NOTIFICATIONS},
    {Mod4Mask, XK_m, ACT_MESSAGES},
};

static void
update_numlock(void)
{
	XModifierKeymap *mm = XGetModifierMapping(wm.dpy);
	KeyCode nl = XKeysymToKeycode(wm.dpy, XK_Num_Lock);
	wm.numlock = 0;
	for (int i = 0; i < 8; i++) {
		for (int j = 0; j < mm->max_keypermod; j++) {
			if (nl && mm->modifiermap[i * mm->max_keypermod + j] == nl)
				wm.numlock = 1u << i;
		}
	}
	XFreeModifiermap(mm);
}

static unsigned
clean_mask(unsigned m)
{
	return m & ~(wm.numlock | LockMask) &
	       (ShiftMask | ControlMask | Mod1Mask | Mod2Mask | Mod3Mask | Mod4Mask | Mod5Mask);
}

static void
grab(KeyCode code, unsigned mod)
{
	unsigned extra[] = {0, LockMask, wm.numlock, wm.numlock | LockMask};
	for (size_t i = 0; i < AB_ARRAY_SIZE(extra); i++)
		XGrabKey(wm.dpy, code, mod | extra[i], wm.root, True, GrabModeAsync, GrabModeAsync);
}

void
keys_grab(void)
{
	update_numlock();
	XUngrabKey(wm.dpy, AnyKey, AnyModifier, wm.root);
	for (size_t i = 0; i < AB_ARRAY_SIZE(keys); i++) {
		KeyCode code = XKeysymToKeycode(wm.dpy, keys[i].sym);
		if (code)
			grab(code, keys[i].mod);
	}
	KeySym supers[] = {XK_Super_L, XK_Super_R};
	for (size_t i = 0; i < AB_ARRAY_SIZE(supers); i++) {
		KeyCode code = XKeysymToKeycode(wm.dpy, supers[i]);
		if (code) {
			grab(code, 0);
			grab(code, Mod4Mask);
		}
	}
}

static void
do_action(enum action a)
{
	struct client *c = wm.focus;
	switch (a) {
	case ACT_CYCLE:
	case ACT_CYCLE_BACK:
		switcher_start(a == ACT_CYCLE ? 1 : -1);
		break;
	case ACT_TERMINAL:
		launcher_spawn_app("terminal");
		break;
	case ACT_FILES:
		launcher_spawn_app("files");
		break;
	case ACT_SNAP_LEFT:
		if (c)
			client_snap(c, EDGE_LEFT);
		break;
	case ACT_SNAP_RIGHT:
		if (c)
			client_snap(c, EDGE_RIGHT);
		break;
	case ACT_MAXIMIZE:
		if (c)
			client_snap(c, EDGE_TOP);
		break;
	case ACT_RESTORE:
		if (c)
			client_snap(c, EDGE_BOTTOM);
		break;
	case ACT_CLOSE:
		if (c)
			client_close(c);
		break;
	case ACT_WS_PREV:
		workspace_switch((wm.ds.ws_current + wm.ds.ws_count - 1) % wm.ds.ws_count);
		break;
	case ACT_WS_NEXT:
		workspace_switch((wm.ds.ws_current + 1) % wm.ds.ws_count);
		break;
	case ACT_SEND_PREV:
	case ACT_SEND_NEXT:
		if (c && c->ws >= 0) {
			int d = a == ACT_SEND_NEXT ? 1 : wm.ds.ws_count - 1;
			int ws = (wm.ds.ws_current + d) % wm.ds.ws_count;
			workspace_send(c, ws);
			workspace_switch(ws);
			client_raise(c);
			client_focus(c);
		}
		break;
	case ACT_NOTIFICATIONS:
		nc_toggle(NC_TAB_NOTIFICATIONS);
		break;
	case ACT_MESSAGES:
		nc_toggle(NC_TAB_MESSAGES);
		break;
	default:
		break;
	}
}

void
keys_press(XKeyEvent *e)
{
	KeySym sym = XkbKeycodeToKeysym(wm.dpy, (KeyCode)e->keycode, 0, 0);
	unsigned mod = clean_mask(e->state);
	if (sym == XK_Super_L || sym == XK_Super_R) {
		wm.super_alone = true;
		return;
	}
	wm.super_alone = false;
	for (size_t i = 0; i < AB_ARRAY_SIZE(keys); i++) {
		if (keys[i].sym == sym && keys[i].mod == mod) {
			do_action(keys[i].act);
			return;
		}
	}
}

void
keys_release(XKeyEvent *e)
{
	KeySym sym = XkbKeycodeToKeysym(wm.dpy, (KeyCode)e->keycode, 0, 0);
	if ((sym == XK_Super_L || sym == XK_Super_R) && wm.super_alone) {
		wm.super_alone = false;
		launcher_toggle();
		return;
	}
	if (wm.cycling && (sym == XK_Alt_L || sym == XK_Alt_R || sym == XK_Meta_L))
		switcher_commit();
}
