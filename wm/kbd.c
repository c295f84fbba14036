/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kbd.h"
#include "ab_log.h"
#include "ab_util.h"
#include "wm.h"

#include <X11/XKBlib.h>
#include <X11/Xatom.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define XKB_DIR "/usr/share/X11/xkb"

static Atom hint_atom, rules_atom;
static bool have_xkb;
static char label[16];

/* "us(intl)" -> base "us", variant "intl" */
static void
split(const char *layout, char *base, size_t bn, char *variant, size_t vn)
{
	const char *p = strchr(layout, '(');
	size_t n = p ? (size_t)(p - layout) : strlen(layout);
	snprintf(base, bn, "%.*s", (int)n, layout);
	snprintf(variant, vn, "%s", p ? p + 1 : "");
	char *e = strchr(variant, ')');
	if (e)
		*e = 0;
}

/* The system has the layout's symbols file (when it has XKB data where we look). */
static bool
layout_known(const char *base)
{
	struct stat st;
	if (stat(XKB_DIR "/symbols", &st) < 0)
		return true; /* elsewhere: the X server will say */
	char path[128];
	snprintf(path, sizeof(path), XKB_DIR "/symbols/%s", base);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
update_label(void)
{
	size_t o = 0;
	for (const char *p = wm.ds.kbd_layout; *p && o < sizeof(label) - 1; p++) {
		if (*p == '(')
			label[o++] = '-';
		else if (*p != ')')
			label[o++] = (char)toupper((unsigned char)*p);
	}
	label[o] = 0;
}

/* Loads the keymap for `layout` into the X server, as setxkbmap does. */
static int
apply(const char *layout, struct ab_err *err)
{
	if (!have_xkb)
		return ab_err_set(err, ENOTSUP, "the X server has no XKB");
	char base[32], variant[48];
	split(layout, base, sizeof(base), variant, sizeof(variant));
	if (!layout_known(base))
		return ab_err_set(err, EINVAL, "no keyboard layout '%s' on this system", base);
	char keycodes[] = "evdev+aliases(qwerty)", types[] = "complete", compat[] = "complete",
	     geometry[] = "pc(pc105)", symbols[96];
	snprintf(symbols, sizeof(symbols), "pc+%s+inet(evdev)", layout);
	XkbComponentNamesRec names = {.keycodes = keycodes,
	                              .types = types,
	                              .compat = compat,
	                              .symbols = symbols,
	                              .geometry = geometry};
	XkbDescPtr xkb =
	    XkbGetKeyboardByName(wm.dpy, XkbUseCoreKbd, &names, XkbGBN_AllComponentsMask,
	                         XkbGBN_AllComponentsMask & ~XkbGBN_GeometryMask, True);
	if (!xkb)
		return ab_err_set(err, EIO, "the X server did not load the keymap '%s'", symbols);
	XkbFreeKeyboard(xkb, XkbAllComponentsMask, True);
	/* what setxkbmap -query reads: rules, model, layout, variant, options */
	char rules[128];
	int n = snprintf(rules, sizeof(rules), "evdev%cpc105%c%s%c%s%c", 0, 0, base, 0, variant, 0);
	XChangeProperty(wm.dpy, wm.root, rules_atom, XA_STRING, 8, PropModeReplace,
	                (unsigned char *)rules, n + 1);
	XFlush(wm.dpy);
	return 0;
}

static bool
in_list(const char *layout)
{
	for (size_t i = 0; i < wm.ds.n_kbd_layouts; i++)
		if (strcmp(wm.ds.kbd_layouts[i], layout) == 0)
			return true;
	return false;
}

int
kbd_set(const char *layout, const char *const *layouts, size_t n, struct ab_err *err)
{
	if (!deskstate_valid_kbd_layout(layout) || strlen(layout) > DESKSTATE_KBD_MAX)
		return ab_err_set(err, EINVAL, "'%.48s' is not a keyboard layout name", layout);
	if (n > DESKSTATE_MAX_KBD)
		return ab_err_set(err, EINVAL, "more than %d layouts", DESKSTATE_MAX_KBD);
	for (size_t i = 0; i < n; i++)
		if (!deskstate_valid_kbd_layout(layouts[i]) ||
		    strlen(layouts[i]) > DESKSTATE_KBD_MAX)
			return ab_err_set(err, EINVAL, "'%.48s' is not a keyboard layout name",
			                  layouts[i]);
	int r = apply(layout, err);
	if (r < 0)
		return r;
	snprintf(wm.ds.kbd_layout, sizeof(wm.ds.kbd_layout), "%s", layout);
	if (layouts) {
		for (size_t i = 0; i < n; i++)
			snprintf(wm.ds.kbd_layouts[i], sizeof(wm.ds.kbd_layouts[i]), "%s",
			         layouts[i]);
		wm.ds.n_kbd_layouts = n;
	}
	if (!in_list(layout)) { /* the newest first; the oldest goes when the list is full */
		size_t keep = AB_MIN(wm.ds.n_kbd_layouts, (size_t)DESKSTATE_MAX_KBD - 1);
		memmove(&wm.ds.kbd_layouts[1], &wm.ds.kbd_layouts[0],
		        keep * sizeof(wm.ds.kbd_layouts[0]));
		snprintf(wm.ds.kbd_layouts[0], sizeof(wm.ds.kbd_layouts[0]), "%s", layout);
		wm.ds.n_kbd_layouts = keep + 1;
	}
	update_label();
	ab_info("keyboard layout '%s'", layout);
	taskbar_draw();
	state_changed();
	return 0;
}

void
kbd_cycle(void)
{
	const char *list[DESKSTATE_MAX_KBD + 1];
	size_t n = 0, cur = 0;
	for (size_t i = 0; i < wm.ds.n_kbd_layouts; i++)
		list[n++] = wm.ds.kbd_layouts[i];
	if (n < 2 && strcmp(wm.ds.kbd_layout, "us") != 0 && !in_list("us"))
		list[n++] = "us"; /* something to switch to */
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], wm.ds.kbd_layout) == 0)
			cur = i;
	/* copied: kbd_set may reorder the list it points into */
	char next[DESKSTATE_KBD_MAX + 1];
	snprintf(next, sizeof(next), "%s", list[(cur + 1) % n]);
	struct ab_err err = {0};
	if (kbd_set(next, NULL, 0, &err) < 0)
		ab_warn("keyboard layout '%s': %s", next, err.msg);
}

const char *
kbd_label(void)
{
	return label;
}

/* The browser's layout, which the session put on the root window ("" when none). */
static void
read_hint(char *buf, size_t n)
{
	buf[0] = 0;
	Atom type;
	int format;
	unsigned long items, after;
	unsigned char *data = NULL;
	if (XGetWindowProperty(wm.dpy, wm.root, hint_atom, 0, 16, False, AnyPropertyType, &type,
	                       &format, &items, &after, &data) == Success &&
	    data && format == 8)
		snprintf(buf, n, "%.*s", (int)items, (char *)data);
	if (data)
		XFree(data);
}

static void
take_hint(void)
{
	char hint[DESKSTATE_KBD_MAX + 1];
	read_hint(hint, sizeof(hint));
	if (!hint[0])
		return;
	if (wm.ds.kbd_layout[0]) {
		ab_debug("keyboard: keeping '%s' (the browser has '%s')", wm.ds.kbd_layout, hint);
		return;
	}
	struct ab_err err = {0};
	if (kbd_set(hint, NULL, 0, &err) < 0)
		ab_warn("keyboard: the browser's layout '%.48s' is not usable: %s", hint, err.msg);
	else
		ab_info("keyboard: '%s' taken from the browser (first sign-in)", hint);
}

void
kbd_init(void)
{
	hint_atom = XInternAtom(wm.dpy, "_ARGOBOX_KBD_HINT", False);
	rules_atom = XInternAtom(wm.dpy, "_XKB_RULES_NAMES", False);
	int op, ev, er, maj = XkbMajorVersion, min = XkbMinorVersion;
	have_xkb = XkbQueryExtension(wm.dpy, &op, &ev, &er, &maj, &min);
	if (!have_xkb)
		ab_warn("keyboard: the X server has no XKB; layouts cannot be set");
	if (wm.ds.kbd_layout[0]) {
		struct ab_err err = {0};
		char layout[DESKSTATE_KBD_MAX + 1];
		snprintf(layout, sizeof(layout), "%s", wm.ds.kbd_layout);
		if (apply(layout, &err) < 0)
			ab_warn("keyboard: the saved layout '%s': %s", layout, err.msg);
		update_label();
		ab_info("keyboard layout '%s' (saved)", layout);
	} else {
		take_hint();
	}
}

bool
kbd_handle_property(XPropertyEvent *e)
{
	if (e->window != wm.root || e->atom != hint_atom)
		return false;
	if (e->state == PropertyNewValue)
		take_hint();
	return true;
}
