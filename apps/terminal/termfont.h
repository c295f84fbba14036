/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * termfont: the terminal's text drawing on cairo's FreeType backend and fontconfig, without
 * pango. A terminal draws a grid of cells, one character (and a combining mark) each, so it
 * needs no layout or shaping: glyph indices straight from the font, at their cell. Pango (with
 * glib, gobject, gio, harfbuzz, fribidi, ...) was 4.6 MB of the terminal's 13 MB idle RSS.
 *
 * Characters the monospace font lacks are drawn with a fallback font fontconfig picks for
 * them (FcFontMatch with the character in FC_CHARSET), found once and remembered.
 *
 * The UI text (tab bar, search bar) uses the theme's font through cairo's toy text API,
 * which is the same fontconfig + FreeType underneath.
 */
#ifndef TERM_TERMFONT_H
#define TERM_TERMFONT_H
#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERMFONT_FALLBACKS 16
#define TERMFONT_CACHE     256 /* codepoint -> font slots */

struct termfont {
	cairo_scaled_font_t *font[2]; /* regular, bold (loaded when first drawn) */
	bool bold_failed;
	unsigned long ascii[2][95]; /* glyph indices of U+0020..U+007E */
	int px;
	int cell_w, cell_h, ascent;
	/* fallbacks: fonts fontconfig picked for characters the primary lacks */
	cairo_scaled_font_t *fallback[TERMFONT_FALLBACKS];
	char *fallback_file[TERMFONT_FALLBACKS];
	int nfallback;
	struct {
		uint32_t cp; /* 0: empty slot */
		int8_t font; /* -1 primary, 0.. fallback, -2 none has it */
		uint32_t glyph;
	} cache[TERMFONT_CACHE];
};

/* Opens the terminal's monospace font at px pixels. 0 or -errno (no font at all). */
int termfont_open(struct termfont *f, int px);
/* Frees what termfont_open made; accepts a zeroed struct. */
void termfont_close(struct termfont *f);
/*
 * Draws printable ASCII s[0..n) at the cell grid (cell_w apart) from x, the cell's top y, in
 * the current source colour.
 */
void termfont_ascii(struct termfont *f, cairo_t *cr, const char *s, size_t n, bool bold, double x,
                    double y);
/* Draws one cell's characters (a base and up to one combining mark; 0 ends) at (x, top y). */
void termfont_cell(struct termfont *f, cairo_t *cr, const uint32_t *cps, int n, bool bold, double x,
                   double y);
/*
 * One line of UI text in the theme's font (a pango-style description: "Family[,Family] [Bold]
 * size") at (x, top y), ellipsized to w (w <= 0: no limit), in the current source colour.
 * Returns its width.
 */
double termfont_ui_text(cairo_t *cr, const char *font, const char *text, double x, double y,
                        double w);
#endif
