/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_cairo: the rounded rectangle and font cache the wm and the apps share (see ab_cairo.h). */
#include "ab_cairo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A process draws with two or three fonts; 8 slots, replaced in turn. */
PangoFontDescription *
ab_cairo_font(const char *font)
{
	static PangoFontDescription *cache[8];
	static char names[8][64];
	static unsigned next;
	for (int i = 0; i < 8; i++) {
		if (cache[i] && strcmp(names[i], font) == 0)
			return cache[i];
	}
	unsigned i = next++ % 8;
	if (cache[i])
		pango_font_description_free(cache[i]);
	snprintf(names[i], sizeof(names[i]), "%s", font);
	cache[i] = pango_font_description_from_string(font);
	return cache[i];
}

void
ab_cairo_paint_centred(cairo_t *cr, cairo_surface_t *img, double w, double h, double s)
{
	double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
	cairo_save(cr);
	cairo_translate(cr, (w - iw * s) / 2, (h - ih * s) / 2);
	cairo_scale(cr, s, s);
	cairo_set_source_surface(cr, img, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
	cairo_paint(cr);
	cairo_restore(cr);
}
