/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * input: RFB keyboard and pointer input injected with XTest.
 *
 * Keysyms: the keycode comes from the current keymap; when the keysym needs
 * Shift (or AltGr, level 3) and the client does not hold it (clients send 'U'
 * or '|' without Shift), the modifier is pressed around the key. A keysym the
 * keymap lacks is bound to a spare keycode first.
 * QEMU extended key events carry the PC scancode ("qnum"): it is turned into
 * the evdev keycode (+8 for X), so the X keymap decides the character and
 * non-US layouts type what their keyboard says.
 */
#ifndef SESSION_INPUT_H
#define SESSION_INPUT_H

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Maps a QEMU "qnum" (XT scancode; 0x80 | code for E0-prefixed keys) to a
 * Linux evdev key code, or 0 when unknown. Pure; unit tested.
 */
unsigned input_qnum_to_evdev(uint32_t qnum);

/* The X keycode for a qnum under Xvfb's evdev keycodes (evdev + 8), or 0. */
unsigned input_qnum_to_xkeycode(uint32_t qnum);

struct input {
	Display *dpy;
	int min_kc, max_kc;
	unsigned spare_kc;       /* keycode we rebind for keysyms the keymap lacks; 0 = none */
	unsigned long spare_sym; /* keysym currently bound there */
	unsigned shift_kc, altgr_kc;
	unsigned char down[256]; /* keys we pressed (per X keycode), released on reset */
	int buttons;             /* last RFB button mask */
};

void input_init(struct input *in, Display *dpy);
/*
 * The keymap changed (a new layout, MappingNotify; the caller has refreshed Xlib's copy):
 * Shift, AltGr and the spare keycode are looked up again.
 */
void input_keymap_changed(struct input *in);
/* RFB KeyEvent. */
void input_key(struct input *in, bool down, unsigned long keysym);
/* QEMU extended key event: keycode is the qnum; keysym is the fallback. */
void input_qemu_key(struct input *in, bool down, unsigned long keysym, uint32_t qnum);
/* RFB PointerEvent (button mask bit 0..7 = buttons 1..8; 4..7 = wheel). */
void input_pointer(struct input *in, int mask, int x, int y);
/* Releases every key and button we hold (last client gone). */
void input_release_all(struct input *in);

#endif
