/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_cairo_shape: ab_cairo's shapes, apart from its pango fonts (see ab_cairo.h). */
#include "ab_cairo.h"

#include <math.h>

void
ab_cairo_rounded(cairo_t *cr, double x, double y, double w, double h, double r)
{
	r = fmin(r, fmin(w, h) / 2);
	cairo_new_sub_path(cr);
	cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2, 0);
	cairo_arc(cr, x + w - r, y + h - r, r, 0, M_PI / 2);
	cairo_arc(cr, x + r, y + h - r, r, M_PI / 2, M_PI);
	cairo_arc(cr, x + r, y + r, r, M_PI, 3 * M_PI / 2);
	cairo_close_path(cr);
}
