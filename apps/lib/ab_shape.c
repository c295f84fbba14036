/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_shape: the app library's drawing helpers that draw no text (see ab_app.h), apart from
 * ab_draw.c so that an app drawing its text without pango (the terminal) links no pango.
 */
#include "ab_app.h"

void
ab_draw_rgb(cairo_t *cr, const double *c)
{
	cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

void
ab_draw_icon_tile(cairo_t *cr, int s, const double *bg, const double *fg)
{
	ab_cairo_rounded(cr, 0, 0, s, s, s * 0.2);
	ab_draw_rgb(cr, bg);
	cairo_fill(cr);
	ab_draw_rgb(cr, fg);
	cairo_set_line_width(cr, s / 12.0);
}

void
ab_draw_focus_ring(cairo_t *cr, const struct ab_theme *t, double x, double y, double w, double h)
{
	cairo_save(cr);
	cairo_set_line_width(cr, 2);
	ab_draw_rgb(cr, t->accent);
	ab_cairo_rounded(cr, x + 1, y + 1, w - 2, h - 2, 4);
	cairo_stroke(cr);
	cairo_restore(cr);
}
