/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kbd: the desktop's keyboard layout. The session hands X scancodes (QEMU extended key
 * events from noVNC), so the X server's XKB keymap decides what a key types; this module
 * owns it.
 *
 * The layout lives in the desktop state (wm.ds.kbd_layout, "de" or "us(intl)", and the
 * taskbar indicator's list wm.ds.kbd_layouts). A desktop whose state has none yet takes the
 * browser's: the page sends it over RFB and the session puts it on the root window as
 * _ARGOBOX_KBD_HINT (UTF8_STRING). It is applied with XkbGetKeyboardByName (evdev keycodes,
 * pc105, symbols "pc+LAYOUT(VARIANT)+inet(evdev)"), and _XKB_RULES_NAMES is set as setxkbmap
 * would, so `setxkbmap -query` tells it. The taskbar shows it (kbd_label) and a click
 * switches to the next in the list (kbd_cycle); the control channel's
 * {"type":"keyboard","layout":...,"layouts":[...]} sets both (kbd_set) for a settings app.
 */
#ifndef WM_KBD_H
#define WM_KBD_H

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"

/* After the display is open and wm.ds holds the restored state: applies its layout. */
void kbd_init(void);
/* A root window property changed: true when it was the layout hint (and it was handled). */
bool kbd_handle_property(XPropertyEvent *e);
/*
 * Applies `layout` and makes it the desktop's (kept in the state, first in the list). With
 * `layouts` (n names, n <= DESKSTATE_MAX_KBD) the indicator's list is replaced too. Returns
 * -EINVAL for a name that is not an XKB layout or one this system lacks, -EIO when the X
 * server refuses it; nothing changes then.
 */
int kbd_set(const char *layout, const char *const *layouts, size_t n, struct ab_err *err);
/* The next layout of the list (the taskbar indicator's click). */
void kbd_cycle(void);
/* Short name for the indicator: "DE", "US-INTL"; "" before any layout is set. */
const char *kbd_label(void);

#endif
