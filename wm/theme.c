/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * theme: the desktop state's mode and accent made into lib/theme's palette, published on the
 * root window for the apps; and the drawing helpers.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * Publishes the theme for apps (apps/lib follows it live): the root window's
 * _ARGOBOX_THEME, UTF8_STRING in ab_theme_format()'s form.
 */
static void
theme_publish(void)
{
	if (!wm.dpy)
		return;
	char buf[160];
	int n = ab_theme_format(&wm.theme, buf, sizeof(buf));
	if (n < 0) {
		ab_warn("theme: the published form is longer than %zu bytes; not published",
		        sizeof(buf) - 1);
		return;
	}
	XChangeProperty(wm.dpy, wm.root, XInternAtom(wm.dpy, "_ARGOBOX_THEME", False),
	                XInternAtom(wm.dpy, "UTF8_STRING", False), 8, PropModeReplace,
	                (unsigned char *)buf, n);
}

/* The font size the user chose (argobox-settings), kept in the state's prefs: 0 when none. */
static int
pref_font_size(void)
{
	json_t *s = json_object_get(json_object_get(wm.ds.prefs, "settings"), "font_size");
	json_int_t v = json_is_integer(s) ? json_integer_value(s) : 0;
	return v >= THEME_FONT_MIN && v <= THEME_FONT_MAX ? (int)v : 0;
}

/* `base` (a Pango description, "Noto Sans,DejaVu Sans 10") with its size set to `size`. */
static void
font_with_size(const char *base, int size, char *out, size_t n)
{
	const char *sp = strrchr(base, ' ');
	size_t keep = strlen(base);
	if (sp && sp[1] && strspn(sp + 1, "0123456789.") == strlen(sp + 1))
		keep = (size_t)(sp - base);
	snprintf(out, n, "%.*s %d", (int)keep, base, size);
}

void
theme_apply(void)
{
	static char base[sizeof(wm.theme.font)];
	if (!base[0])
		snprintf(base, sizeof(base), "%s", wm.theme.font); /* the configured font */
	ab_theme_set(&wm.theme, wm.ds.mode == DESKSTATE_DARK, wm.ds.accent);
	int size = pref_font_size();
	if (size)
		font_with_size(base, size, wm.theme.font, sizeof(wm.theme.font));
	else
		snprintf(wm.theme.font, sizeof(wm.theme.font), "%s", base);
	theme_publish();
}

int
theme_set_font_size(int size)
{
	if (size < THEME_FONT_MIN || size > THEME_FONT_MAX)
		return -EINVAL;
	if (!wm.ds.prefs)
		wm.ds.prefs = json_object();
	json_t *p = json_object_get(wm.ds.prefs, "settings");
	if (!json_is_object(p)) {
		p = json_object();
		json_object_set_new(wm.ds.prefs, "settings", p);
	}
	json_object_set_new(p, "font_size", json_integer(size));
	theme_apply();
	theme_redraw_all();
	state_changed();
	ab_info("font size %d: '%s'", size, wm.theme.font);
	return 0;
}

void
theme_set(enum deskstate_mode mode, const char *accent)
{
	wm.ds.mode = mode;
	if (accent && deskstate_valid_colour(accent))
		snprintf(wm.ds.accent, sizeof(wm.ds.accent), "%s", accent);
	theme_apply();
	wallpaper_apply();
	theme_redraw_all();
	state_changed();
}

void
theme_redraw_all(void)
{
	for (struct client *c = wm.clients; c; c = c->next)
		frame_draw(c);
	taskbar_draw();
	if (wm.launcher_open)
		launcher_draw();
	if (wm.bgmenu_open)
		bgmenu_draw();
	if (wm.centre_open)
		nc_draw();
	for (struct notification *n = wm.notes; n; n = n->next)
		notify_expose(n->win);
}

void
theme_set_rgb(cairo_t *cr, const double *c)
{
	cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

void
theme_set_rgba(cairo_t *cr, const double *c)
{
	cairo_set_source_rgba(cr, c[0], c[1], c[2], c[3]);
}

void
theme_card(cairo_t *cr, double w, double h)
{
	const struct ab_theme *t = &wm.theme;
	theme_set_rgb(cr, t->desktop);
	cairo_paint(cr);
	theme_set_rgba(cr, t->popup);
	cairo_paint(cr);
	cairo_set_line_width(cr, 1);
	theme_set_rgb(cr, t->border);
	cairo_rectangle(cr, 0.5, 0.5, w - 1, h - 1);
	cairo_stroke(cr);
}

void
theme_row_selected(cairo_t *cr, double x, double y, double w, double h)
{
	ab_cairo_rounded(cr, x, y + 2, w, h - 4, 8);
	theme_set_rgba(cr, wm.theme.hover);
	cairo_fill(cr);
	ab_cairo_rounded(cr, x, y + 12, 3, h - 24, 1.5);
	theme_set_rgb(cr, wm.theme.accent);
	cairo_fill(cr);
}

/* Draws one line of text, ellipsized to w, vertically centred in h. */
void
theme_text(cairo_t *cr, const char *text, const char *font, double x, double y, double w, double h,
           bool center)
{
	if (w <= 4)
		return;
	PangoLayout *l = pango_cairo_create_layout(cr);
	pango_layout_set_font_description(l, ab_cairo_font(font));
	pango_layout_set_text(l, text, -1);
	pango_layout_set_width(l, (int)(w * PANGO_SCALE));
	pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
	pango_layout_set_single_paragraph_mode(l, TRUE);
	if (center)
		pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
	int tw, th;
	pango_layout_get_pixel_size(l, &tw, &th);
	cairo_move_to(cr, x, y + (h - th) / 2.0);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
}

/* A rounded square in a colour derived from the name, with its first letter. */
void
theme_letter_icon(cairo_t *cr, const char *name, double x, double y, double size)
{
	static const char *const palette[] = {"#5b8def", "#43a58a", "#d9822b", "#a66bd3",
	                                      "#d65c7a", "#3fa7c4", "#8a9a3b", "#6f7ddb"};
	unsigned hsh = 5381;
	for (const char *p = name; p && *p; p++)
		hsh = hsh * 33 + (unsigned char)*p;
	double c[3];
	ab_theme_hex(palette[hsh % AB_ARRAY_SIZE(palette)], c);
	ab_cairo_rounded(cr, x, y, size, size, size * 0.28);
	theme_set_rgb(cr, c);
	cairo_fill(cr);
	char letter[8] = "?";
	if (name && *name) {
		/* first UTF-8 character, upper-cased when ASCII */
		size_t n = 1;
		unsigned char f = (unsigned char)name[0];
		if (f >= 0xF0)
			n = 4;
		else if (f >= 0xE0)
			n = 3;
		else if (f >= 0xC0)
			n = 2;
		if (strlen(name) >= n) {
			memcpy(letter, name, n);
			letter[n] = '\0';
		}
		if (n == 1 && letter[0] >= 'a' && letter[0] <= 'z')
			letter[0] = (char)(letter[0] - 32);
	}
	char font[80];
	snprintf(font, sizeof(font), "Noto Sans,DejaVu Sans Bold %d", (int)(size * 0.45));
	cairo_set_source_rgb(cr, 1, 1, 1);
	theme_text(cr, letter, font, x, y, size, size, true);
}

void
theme_app_icon(cairo_t *cr, const struct desktop_entry *e, double x, double y, double size)
{
	cairo_surface_t *s =
	    wm.icons && e->icon[0] ? ab_icons_get(wm.icons, e->icon, (int)size) : NULL;
	if (!s) {
		theme_letter_icon(cr, e->name, x, y, size);
		return;
	}
	cairo_set_source_surface(cr, s, x, y);
	cairo_paint(cr);
}

void
theme_client_icon(cairo_t *cr, const struct client *c, double x, double y, double size,
                  double alpha)
{
	cairo_surface_t *s = c->icon;
	if (!s && wm.icons) {
		const struct desktop_entry *e =
		    c->desktop_id[0] ? desktop_find(&wm.apps, c->desktop_id)
		                     : desktop_find_class(&wm.apps, c->wm_class, c->wm_instance);
		if (e && e->icon[0])
			s = ab_icons_get(wm.icons, e->icon, (int)size);
	}
	if (!s) {
		theme_letter_icon(cr, c->wm_class, x, y, size);
		return;
	}
	cairo_save(cr);
	cairo_translate(cr, x, y);
	/* _NET_WM_ICON surfaces are 20 px; scale them to the size asked for */
	double w = cairo_image_surface_get_width(s);
	if (w > 0 && w != size)
		cairo_scale(cr, size / w, size / w);
	cairo_set_source_surface(cr, s, 0, 0);
	cairo_paint_with_alpha(cr, alpha);
	cairo_restore(cr);
}
