/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_cairo: drawing helpers shared by argobox-wm and the apps (no X, no theme): the
 * rounded rectangle every card, button and icon is made of, and the font cache.
 */
#ifndef AB_CAIRO_H
#define AB_CAIRO_H

#include <cairo.h>
#include <pango/pangocairo.h>

/* Adds a closed sub-path: the rectangle (x, y, w, h) with corners of radius r (at most w/2, h/2).
 */
void ab_cairo_rounded(cairo_t *cr, double x, double y, double w, double h, double r);
/*
 * The font description for a Pango font string, from a small cache of the last 8 asked for;
 * the cache owns it (valid until 8 other fonts have been asked for).
 */
PangoFontDescription *ab_cairo_font(const char *font);

/*
 * Paints `img` scaled by `s` and centred in the area (0, 0, w, h) of `cr`, with a good filter
 * (wallpapers, icons). The context's state is kept.
 */
void ab_cairo_paint_centred(cairo_t *cr, cairo_surface_t *img, double w, double h, double s);

#endif
