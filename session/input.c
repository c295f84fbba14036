/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "input.h"
#include "ab_log.h"

#include <X11/XKBlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <string.h>

/* E0-prefixed XT scancodes (qnum 0x80 | code) → evdev codes. */
static const struct {
	uint8_t qnum;
	uint16_t evdev;
} extended[] = {
    {0x9c, 96},  /* KP Enter */
    {0x9d, 97},  /* Right Ctrl */
    {0xb5, 98},  /* KP / */
    {0xb7, 99},  /* Print / SysRq */
    {0xb8, 100}, /* Right Alt (AltGr) */
    {0xc6, 119}, /* Pause (Ctrl+Break form) */
    {0xc7, 102}, /* Home */
    {0xc8, 103}, /* Up */
    {0xc9, 104}, /* Page Up */
    {0xcb, 105}, /* Left */
    {0xcd, 106}, /* Right */
    {0xcf, 107}, /* End */
    {0xd0, 108}, /* Down */
    {0xd1, 109}, /* Page Down */
    {0xd2, 110}, /* Insert */
    {0xd3, 111}, /* Delete */
    {0xdb, 125}, /* Left Meta */
    {0xdc, 126}, /* Right Meta */
    {0xdd, 127}, /* Menu */
    {0xa0, 113}, /* Mute */
    {0xae, 114}, /* Volume Down */
    {0xb0, 115}, /* Volume Up */
};

unsigned
input_qnum_to_evdev(uint32_t qnum)
{
	if (qnum == 0 || qnum > 0xff)
		return 0;
	/* Set 1 scancodes 0x01..0x58 equal the evdev codes (Esc=1 ... F12=88). */
	if (qnum < 0x59)
		return qnum;
	if (qnum == 0x59)
		return 117; /* KP = */
	if (qnum == 0x70)
		return 93; /* Katakana/Hiragana */
	if (qnum == 0x73)
		return 89; /* RO (Brazilian/Japanese /?) */
	if (qnum == 0x7d)
		return 124; /* Yen */
	if (qnum == 0x79)
		return 92; /* Henkan */
	if (qnum == 0x7b)
		return 94; /* Muhenkan */
	if (qnum == 0x7e)
		return 121; /* KP , (Brazilian) */
	for (size_t i = 0; i < sizeof(extended) / sizeof(extended[0]); i++)
		if (extended[i].qnum == qnum)
			return extended[i].evdev;
	return 0;
}

unsigned
input_qnum_to_xkeycode(uint32_t qnum)
{
	unsigned e = input_qnum_to_evdev(qnum);
	return e ? e + 8 : 0;
}

void
input_init(struct input *in, Display *dpy)
{
	memset(in, 0, sizeof(*in));
	in->dpy = dpy;
	/* The X server must not repeat keys itself. VNC clients send their own repeats (a held
	 * key arrives as repeated key-downs, which XTEST passes on as repeats), so the server's
	 * autorepeat only adds wrong ones: when a key-up reaches us later than the repeat delay
	 * (660 ms in Xvfb; a loaded machine or a slow network is enough), the server would have
	 * typed the key again and again ("xxxterm" for "xterm"). x11vnc turns it off for the
	 * same reason. A desktop user who wants server repeats back can run `xset r on`. */
	XAutoRepeatOff(dpy);
	input_keymap_changed(in);
}

void
input_keymap_changed(struct input *in)
{
	Display *dpy = in->dpy;
	in->spare_kc = 0;
	in->spare_sym = NoSymbol;
	XDisplayKeycodes(dpy, &in->min_kc, &in->max_kc);
	in->shift_kc = XKeysymToKeycode(dpy, XK_Shift_L);
	in->altgr_kc = XKeysymToKeycode(dpy, XK_ISO_Level3_Shift);
	/* a spare keycode: one without any keysym */
	int per = 0;
	KeySym *map =
	    XGetKeyboardMapping(dpy, (KeyCode)in->min_kc, in->max_kc - in->min_kc + 1, &per);
	if (map) {
		for (int kc = in->max_kc; kc >= in->min_kc && !in->spare_kc; kc--) {
			bool empty = true;
			for (int i = 0; i < per; i++)
				if (map[(kc - in->min_kc) * per + i] != NoSymbol)
					empty = false;
			if (empty)
				in->spare_kc = (unsigned)kc;
		}
		XFree(map);
	}
}

static void
fake_key(struct input *in, unsigned kc, bool down)
{
	if (kc == 0 || kc > 255)
		return;
	XTestFakeKeyEvent(in->dpy, kc, down ? True : False, CurrentTime);
	in->down[kc] = down;
}

/* A key-down for a key that is already down is the client's repeat. With the server's
 * autorepeat off, X drops such a press; a release first makes it a press of its own, as
 * held keys repeat in every VNC client. */
static void
press(struct input *in, unsigned kc)
{
	if (kc && kc <= 255 && in->down[kc])
		fake_key(in, kc, false);
	fake_key(in, kc, true);
}

/* The shift level (0..3) at which kc produces sym in group 0, or -1. */
static int
level_of(struct input *in, unsigned kc, KeySym sym)
{
	for (int lvl = 0; lvl < 4; lvl++)
		if (XkbKeycodeToKeysym(in->dpy, (KeyCode)kc, 0, lvl) == sym)
			return lvl;
	return -1;
}

static bool
is_modifier(KeySym sym)
{
	return IsModifierKey(sym) || sym == XK_ISO_Level3_Shift || sym == XK_Mode_switch;
}

void
input_key(struct input *in, bool down, unsigned long keysym)
{
	KeySym sym = (KeySym)keysym;
	unsigned kc = XKeysymToKeycode(in->dpy, sym);
	if (kc && is_modifier(sym)) {
		fake_key(in, kc, down);
		XFlush(in->dpy);
		return;
	}
	if (!down) {
		if (!kc && in->spare_kc && in->spare_sym == keysym)
			kc = in->spare_kc;
		fake_key(in, kc, false);
		XFlush(in->dpy);
		return;
	}
	if (!kc && in->spare_kc) {
		KeySym syms[2] = {sym, sym};
		XChangeKeyboardMapping(in->dpy, (int)in->spare_kc, 2, syms, 1);
		XSync(in->dpy, False);
		in->spare_sym = keysym;
		kc = in->spare_kc;
	} else if (!kc) {
		ab_debug("input: keysym 0x%lx has no keycode", keysym);
		return;
	}
	/* Add (or remove) the modifiers this keysym needs at its level. */
	int lvl = level_of(in, kc, sym);
	XkbStateRec st;
	XkbGetState(in->dpy, XkbUseCoreKbd, &st);
	bool shift_on = st.mods & ShiftMask;
	bool want_shift = lvl == 1 || lvl == 3;
	bool want_altgr = lvl >= 2;
	bool toggled_shift = false, pressed_altgr = false;
	if (lvl >= 0 && want_shift != shift_on && in->shift_kc) {
		if (want_shift) {
			fake_key(in, in->shift_kc, true);
		} else {
			/* release whichever shift keys are down, restore after */
			fake_key(in, in->shift_kc, false);
			unsigned rs = XKeysymToKeycode(in->dpy, XK_Shift_R);
			if (rs)
				fake_key(in, rs, false);
		}
		toggled_shift = true;
	}
	if (lvl >= 0 && want_altgr && in->altgr_kc && !in->down[in->altgr_kc]) {
		fake_key(in, in->altgr_kc, true);
		pressed_altgr = true;
	}
	press(in, kc);
	if (pressed_altgr)
		fake_key(in, in->altgr_kc, false);
	if (toggled_shift)
		fake_key(in, in->shift_kc, !want_shift);
	XFlush(in->dpy);
}

void
input_qemu_key(struct input *in, bool down, unsigned long keysym, uint32_t qnum)
{
	unsigned kc = input_qnum_to_xkeycode(qnum);
	if (!kc || (int)kc < in->min_kc || (int)kc > in->max_kc) {
		input_key(in, down, keysym);
		return;
	}
	if (down && !is_modifier((KeySym)keysym))
		press(in, kc);
	else
		fake_key(in, kc, down);
	XFlush(in->dpy);
}

void
input_pointer(struct input *in, int mask, int x, int y)
{
	XTestFakeMotionEvent(in->dpy, 0, x, y, CurrentTime);
	for (int b = 0; b < 8; b++) {
		int bit = 1 << b;
		if ((mask & bit) != (in->buttons & bit))
			XTestFakeButtonEvent(in->dpy, (unsigned)b + 1, (mask & bit) ? True : False,
			                     CurrentTime);
	}
	in->buttons = mask;
	XFlush(in->dpy);
}

void
input_release_all(struct input *in)
{
	for (unsigned kc = 0; kc < 256; kc++)
		if (in->down[kc])
			fake_key(in, kc, false);
	for (int b = 0; b < 8; b++)
		if (in->buttons & (1 << b))
			XTestFakeButtonEvent(in->dpy, (unsigned)b + 1, False, CurrentTime);
	in->buttons = 0;
	XFlush(in->dpy);
}
