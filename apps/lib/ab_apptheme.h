/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_apptheme: the desktop theme as apps see it (no X, unit-tested).
 *
 * argobox-wm publishes its theme on the root window as _ARGOBOX_THEME, a
 * UTF8_STRING of "key=value" lines: mode=dark|light, accent=#rrggbb,
 * font=<pango font description>. Apps parse it into a palette matching the
 * wm's (wm/theme.c) and re-read it on PropertyNotify, so they follow live.
 */
#ifndef AB_APPTHEME_H
#define AB_APPTHEME_H
#include <stdbool.h>

struct ab_err;

struct ab_apptheme {
	bool dark;
	char accent_hex[8];
	char font[64]; /* UI font, e.g. "Noto Sans,DejaVu Sans 10" */
	double bg[3], panel[3], text[3], text_dim[3], border[3], accent[3], sel_text[3], hover[3];
};

/* The palette when no wm publishes one: light, accent #3d8bfd. */
void apptheme_default(struct ab_apptheme *t);
/*
 * Parses the property text into *t (which starts from the defaults). Unknown
 * keys are ignored (newer wm); a bad mode or accent is an error naming it, and
 * leaves *t untouched.
 */
int apptheme_parse(const char *text, struct ab_apptheme *t, struct ab_err *err);
/* Parses "#rrggbb" into rgb[3]; false when malformed. */
bool apptheme_hex(const char *s, double *rgb);
#endif
