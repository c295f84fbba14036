/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_draw: cairo/pango helpers and the list widget's drawing (see ab_app.h). */
#include "ab_app.h"
#include "ab_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int
ab_draw_text(cairo_t *cr, const char *text, const char *font, const double *rgb, double x, double y,
             double w)
{
	PangoLayout *l = pango_cairo_create_layout(cr);
	pango_layout_set_font_description(l, ab_cairo_font(font));
	pango_layout_set_text(l, text, -1);
	pango_layout_set_single_paragraph_mode(l, TRUE);
	if (w > 0) {
		pango_layout_set_width(l, (int)(w * PANGO_SCALE));
		pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
	}
	int tw, th;
	pango_layout_get_pixel_size(l, &tw, &th);
	ab_draw_rgb(cr, rgb);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
	return tw;
}

void
ab_draw_page(cairo_t *cr, const struct ab_theme *t, const char *title, double x, double y, double w)
{
	ab_draw_rgb(cr, t->bg);
	cairo_paint(cr);
	char big[96];
	snprintf(big, sizeof(big), "%s", t->font);
	char *sp = strrchr(big, ' ');
	if (sp)
		snprintf(sp, sizeof(big) - (size_t)(sp - big), " Bold 15");
	ab_draw_text(cr, title, big, t->text, x, y, w);
}

int
ab_draw_line_height(cairo_t *cr, const char *font)
{
	PangoLayout *l = pango_cairo_create_layout(cr);
	pango_layout_set_font_description(l, ab_cairo_font(font));
	pango_layout_set_text(l, "Ag", -1);
	int tw, th;
	pango_layout_get_pixel_size(l, &tw, &th);
	g_object_unref(l);
	return th;
}

void
ab_app_list_draw(struct ab_app *app, cairo_t *cr, struct ab_list *l, int row_h, double x, double y,
                 double w, double h, ab_list_row_fn row)
{
	const struct ab_theme *t = &app->theme;
	size_t vis = row_h > 0 ? (size_t)(h / row_h) : 1;
	list_set_visible(l, vis ? vis : 1);
	cairo_save(cr);
	cairo_rectangle(cr, x, y, w, h);
	cairo_clip(cr);
	ab_draw_rgb(cr, t->bg);
	cairo_paint(cr);
	double sb = l->n > l->visible ? 8 : 0;
	for (size_t k = 0; k < l->visible + 1 && l->top + k < l->n; k++) {
		size_t i = l->top + k;
		double ry = y + (double)k * row_h;
		bool sel = i == l->sel;
		if (sel) {
			ab_draw_rgb(cr, t->accent);
			cairo_rectangle(cr, x, ry, w - sb, row_h);
			cairo_fill(cr);
		}
		row(app, cr, i, sel, x, ry, w - sb, row_h);
	}
	if (sb > 0) {
		double frac = (double)l->visible / (double)l->n;
		double th = fmax(20, h * frac);
		double ty = y + (h - th) * ((double)l->top / (double)(l->n - l->visible));
		ab_draw_rgb(cr, t->border);
		ab_cairo_rounded(cr, x + w - sb + 2, ty, sb - 4, th, 2);
		cairo_fill(cr);
	}
	if (l->focused)
		ab_draw_focus_ring(cr, t, x, y, w, h);
	cairo_restore(cr);
}

bool
ab_app_list_keysym(struct ab_list *l, KeySym sym, bool *changed)
{
	enum ab_list_key k;
	switch (sym) {
	case XK_Up:
	case XK_KP_Up:
		k = AB_LIST_UP;
		break;
	case XK_Down:
	case XK_KP_Down:
		k = AB_LIST_DOWN;
		break;
	case XK_Page_Up:
		k = AB_LIST_PAGE_UP;
		break;
	case XK_Page_Down:
		k = AB_LIST_PAGE_DOWN;
		break;
	case XK_Home:
		k = AB_LIST_HOME;
		break;
	case XK_End:
		k = AB_LIST_END;
		break;
	default:
		return false;
	}
	bool c = list_key(l, k);
	if (changed)
		*changed = c;
	return true;
}
