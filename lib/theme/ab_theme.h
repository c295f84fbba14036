/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_theme: the desktop's one theme definition, read by argobox-wm and by the apps (X-free).
 *
 * The theme is a mode (light or dark), an accent colour and a UI font; every colour the
 * shell and the apps draw with follows from the mode and the accent (ab_theme_set()).
 * argobox-wm publishes the theme on the root window as _ARGOBOX_THEME, a UTF8_STRING of
 * "key=value" lines written by ab_theme_format(): mode=dark|light, accent=#rrggbb,
 * font=<pango font description>. Apps read it back with ab_theme_parse() and re-read it on
 * PropertyNotify, so they follow the shell live.
 */
#ifndef AB_THEME_H
#define AB_THEME_H
#include <stdbool.h>
#include <stddef.h>

struct ab_err;

#define AB_THEME_ACCENT "#3d8bfd"                  /* the default accent */
#define AB_THEME_FONT   "Noto Sans,DejaVu Sans 10" /* the default UI font */

/* Every colour is red, green, blue, alpha in 0..1; alpha is 1 but where said. */
struct ab_theme {
	bool dark;
	char accent_hex[8]; /* "#rrggbb" */
	char font[64];      /* UI font, e.g. "Noto Sans,DejaVu Sans 10" */
	/* shell and apps alike */
	double accent[4], text[4], text_dim[4], border[4], close[4], sel_text[4];
	/* the shell (argobox-wm) */
	double desktop[4];                    /* behind the wallpaper; under pop-up cards */
	double title_focus[4], title_blur[4]; /* window title bars */
	double bar[4];                        /* the taskbar (translucent) */
	double popup[4];                      /* pop-up cards over desktop (translucent) */
	double hover[4];                      /* hover highlight (translucent) */
	/* app windows */
	double bg[4], panel[4];
};

/* The theme when no wm publishes one: light, accent AB_THEME_ACCENT, font AB_THEME_FONT. */
void ab_theme_default(struct ab_theme *t);
/*
 * Sets the mode and the accent (when it is "#rrggbb"; otherwise the accent stays) and derives
 * every colour from them. The font is left as it is.
 */
void ab_theme_set(struct ab_theme *t, bool dark, const char *accent);
/*
 * Writes the published form ("mode=...\naccent=...\nfont=...\n") into buf; returns its
 * length, or -ENOSPC when it does not fit in size bytes (buf then holds a truncated copy).
 */
int ab_theme_format(const struct ab_theme *t, char *buf, size_t size);
/*
 * Parses the published form into *t, starting from the defaults. Unknown keys are ignored (a
 * newer wm); a line without '=' is skipped; a bad mode, accent or font is -EINVAL naming it,
 * and leaves *t untouched.
 */
int ab_theme_parse(const char *text, struct ab_theme *t, struct ab_err *err);
/* Parses "#rrggbb" into rgb[3]; false (rgb untouched) when malformed. */
bool ab_theme_hex(const char *s, double *rgb);
#endif
