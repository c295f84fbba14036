/* SPDX-License-Identifier: GPL-2.0-or-later */
/* termfont: the terminal's text on cairo-ft and fontconfig (see termfont.h). */
#include "termfont.h"
#include "ab_util.h"

#include <cairo-ft.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TERMFONT_FAMILIES "DejaVu Sans Mono,Noto Sans Mono,monospace"

/* The best font fontconfig has for the families at px (bold), having cp when cp != 0. Owned. */
static FcPattern *
termfont_match(int px, bool bold, uint32_t cp)
{
	FcPattern *p = FcNameParse((const FcChar8 *)TERMFONT_FAMILIES);
	if (!p)
		return NULL;
	FcPatternAddDouble(p, FC_PIXEL_SIZE, px);
	FcPatternAddInteger(p, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR);
	if (cp) {
		FcCharSet *cs = FcCharSetCreate();
		FcCharSetAddChar(cs, cp);
		FcPatternAddCharSet(p, FC_CHARSET, cs);
		FcCharSetDestroy(cs);
	}
	FcConfigSubstitute(NULL, p, FcMatchPattern);
	FcDefaultSubstitute(p);
	FcResult res;
	FcPattern *m = FcFontMatch(NULL, p, &res);
	FcPatternDestroy(p);
	return m;
}

static cairo_scaled_font_t *
termfont_load(FcPattern *match, int px)
{
	cairo_font_face_t *face = cairo_ft_font_face_create_for_pattern(match);
	cairo_matrix_t m, ctm;
	cairo_matrix_init_scale(&m, px, px);
	cairo_matrix_init_identity(&ctm);
	cairo_font_options_t *o = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_ON);
	cairo_scaled_font_t *sf = cairo_scaled_font_create(face, &m, &ctm, o);
	cairo_font_options_destroy(o);
	cairo_font_face_destroy(face);
	if (cairo_scaled_font_status(sf) != CAIRO_STATUS_SUCCESS) {
		cairo_scaled_font_destroy(sf);
		return NULL;
	}
	return sf;
}

/* The font's glyph for cp, 0 when it has none. */
static uint32_t
termfont_glyph(cairo_scaled_font_t *sf, uint32_t cp)
{
	FT_Face face = cairo_ft_scaled_font_lock_face(sf);
	if (!face)
		return 0;
	uint32_t g = FT_Get_Char_Index(face, cp);
	cairo_ft_scaled_font_unlock_face(sf);
	return g;
}

/* Loads the regular (0) or bold (1) face and its ASCII glyphs. */
static int
termfont_load_weight(struct termfont *f, int b)
{
	FcPattern *m = termfont_match(f->px, b, 0);
	f->font[b] = m ? termfont_load(m, f->px) : NULL;
	if (m)
		FcPatternDestroy(m);
	if (!f->font[b])
		return -ENOENT;
	for (int c = 0x20; c < 0x7f; c++)
		f->ascii[b][c - 0x20] = termfont_glyph(f->font[b], (uint32_t)c);
	return 0;
}

/*
 * The face for bold text (1), loaded when bold text is first drawn: a terminal that shows
 * none does not keep a second font file mapped. The regular face (0) when there is none.
 */
static int
termfont_weight(struct termfont *f, bool bold)
{
	if (!bold)
		return 0;
	if (!f->font[1] && !f->bold_failed && termfont_load_weight(f, 1) < 0)
		f->bold_failed = true;
	return f->font[1] ? 1 : 0;
}

int
termfont_open(struct termfont *f, int px)
{
	memset(f, 0, sizeof(*f));
	f->px = px;
	if (termfont_load_weight(f, 0) < 0)
		return -ENOENT;
	cairo_font_extents_t fe;
	cairo_scaled_font_extents(f->font[0], &fe);
	cairo_text_extents_t te;
	cairo_glyph_t g = {.index = f->ascii[0]['M' - 0x20]};
	cairo_scaled_font_glyph_extents(f->font[0], &g, 1, &te);
	f->cell_w = AB_MAX(1, (int)lround(te.x_advance));
	f->ascent = (int)ceil(fe.ascent);
	f->cell_h = AB_MAX(1, f->ascent + (int)ceil(fe.descent));
	return 0;
}

void
termfont_close(struct termfont *f)
{
	for (int b = 0; b < 2; b++) {
		if (f->font[b])
			cairo_scaled_font_destroy(f->font[b]);
	}
	for (int i = 0; i < f->nfallback; i++) {
		cairo_scaled_font_destroy(f->fallback[i]);
		free(f->fallback_file[i]);
	}
	memset(f, 0, sizeof(*f));
}

void
termfont_ascii(struct termfont *f, cairo_t *cr, const char *s, size_t n, bool bold, double x,
               double y)
{
	cairo_glyph_t glyphs[256];
	int b = termfont_weight(f, bold);
	cairo_set_scaled_font(cr, f->font[b]);
	while (n) {
		size_t k = AB_MIN(n, AB_ARRAY_SIZE(glyphs));
		for (size_t i = 0; i < k; i++) {
			unsigned char c = (unsigned char)s[i];
			glyphs[i].index = c >= 0x20 && c < 0x7f ? f->ascii[b][c - 0x20] : 0;
			glyphs[i].x = x + (double)i * f->cell_w;
			glyphs[i].y = y + f->ascent;
		}
		cairo_show_glyphs(cr, glyphs, (int)k);
		s += k;
		n -= k;
		x += (double)k * f->cell_w;
	}
}

/*
 * The font (-1: the primary, 0..: a fallback, -2: none) and glyph for cp, from the cache or
 * found now.
 */
static int
termfont_find(struct termfont *f, uint32_t cp, uint32_t *ret_glyph)
{
	size_t slot = cp % TERMFONT_CACHE;
	if (f->cache[slot].cp == cp) {
		*ret_glyph = f->cache[slot].glyph;
		return f->cache[slot].font;
	}
	int font = -2;
	uint32_t glyph = termfont_glyph(f->font[0], cp);
	if (glyph) {
		font = -1;
	} else {
		FcPattern *m = termfont_match(f->px, false, cp);
		FcCharSet *cs = NULL;
		FcChar8 *file = NULL;
		if (m && FcPatternGetCharSet(m, FC_CHARSET, 0, &cs) == FcResultMatch &&
		    FcCharSetHasChar(cs, cp) &&
		    FcPatternGetString(m, FC_FILE, 0, &file) == FcResultMatch) {
			for (int i = 0; i < f->nfallback; i++) {
				if (strcmp(f->fallback_file[i], (const char *)file) == 0)
					font = i;
			}
			if (font == -2 && f->nfallback < TERMFONT_FALLBACKS) {
				cairo_scaled_font_t *sf = termfont_load(m, f->px);
				if (sf) {
					font = f->nfallback++;
					f->fallback[font] = sf;
					f->fallback_file[font] = ab_xstrdup((const char *)file);
				}
			}
			if (font >= 0)
				glyph = termfont_glyph(f->fallback[font], cp);
			if (!glyph)
				font = -2;
		}
		if (m)
			FcPatternDestroy(m);
	}
	f->cache[slot].cp = cp;
	f->cache[slot].font = (int8_t)font;
	f->cache[slot].glyph = glyph;
	*ret_glyph = glyph;
	return font;
}

void
termfont_cell(struct termfont *f, cairo_t *cr, const uint32_t *cps, int n, bool bold, double x,
              double y)
{
	double base_w = f->cell_w;
	for (int i = 0; i < n && cps[i]; i++) {
		uint32_t glyph;
		int font = termfont_find(f, cps[i], &glyph);
		cairo_scaled_font_t *sf =
		    font >= 0 ? f->fallback[font] : f->font[termfont_weight(f, font == -1 && bold)];
		cairo_glyph_t g = {.index = font == -2 ? 0 : glyph, .x = x, .y = y + f->ascent};
		cairo_text_extents_t te;
		cairo_scaled_font_glyph_extents(sf, &g, 1, &te);
		if (i == 0) {
			base_w = AB_MAX(base_w, te.x_advance);
		} else {
			/* a combining mark, without shaping: its ink centred over the base */
			g.x = x + (base_w - te.width) / 2 - te.x_bearing;
		}
		cairo_set_scaled_font(cr, sf);
		cairo_show_glyphs(cr, &g, 1);
	}
}

double
termfont_ui_text(cairo_t *cr, const char *font, const char *text, double x, double y, double w)
{
	/* "Family[,Family...] [Bold] size": the first family, the weight, the size in points */
	char family[64] = "sans-serif";
	double pt = 10;
	bool bold = false;
	char desc[64];
	snprintf(desc, sizeof(desc), "%s", font ? font : "");
	char *sp = strrchr(desc, ' ');
	if (sp && strtod(sp + 1, NULL) > 0) {
		pt = strtod(sp + 1, NULL);
		*sp = '\0';
	}
	size_t dl = strlen(desc);
	if (dl > 5 && strcmp(desc + dl - 5, " Bold") == 0) {
		bold = true;
		desc[dl - 5] = '\0';
	}
	char *comma = strchr(desc, ',');
	if (comma)
		*comma = '\0';
	if (desc[0])
		snprintf(family, sizeof(family), "%s", desc);
	cairo_select_font_face(cr, family, CAIRO_FONT_SLANT_NORMAL,
	                       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, AB_MAX(6.0, AB_MIN(pt, 48.0)) * 96.0 / 72.0);
	cairo_font_extents_t fe;
	cairo_font_extents(cr, &fe);
	cairo_text_extents_t te;
	cairo_text_extents(cr, text, &te);
	char buf[512];
	const char *show = text;
	if (w > 0 && te.x_advance > w) {
		/* ellipsized: whole characters while they and "…" fit */
		size_t n = strlen(text), keep = 0;
		for (size_t i = 0; i < n;) {
			size_t j = i + 1;
			while (j < n && ((unsigned char)text[j] & 0xC0) == 0x80)
				j++;
			if (j + 4 > sizeof(buf))
				break;
			memcpy(buf, text, j);
			memcpy(buf + j, "…", 4);
			cairo_text_extents(cr, buf, &te);
			if (te.x_advance > w)
				break;
			keep = j;
			i = j;
		}
		memcpy(buf, text, keep);
		memcpy(buf + keep, "…", 4);
		show = buf;
		cairo_text_extents(cr, show, &te);
	}
	cairo_move_to(cr, x, y + fe.ascent);
	cairo_show_text(cr, show);
	return te.x_advance;
}
