/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-services: the services the user may see, their state, open and restart.
 *
 * Today the broker has no services registry (a later issue builds it, with health
 * checks), and the session's control channel carries nothing about services to the
 * desktop. So this app says exactly that and shows no made-up data. When the registry
 * lands, the list comes from a 'services' message relayed by the session (the session
 * relays any broker message type to the desktop unchanged, docs/control-channel.md).
 */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"

static void
services_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	const struct ab_theme *t = &app->theme;
	ab_draw_page(cr, t, "Services", 24, 20, w - 48);
	ab_draw_rgb(cr, t->panel);
	ab_cairo_rounded(cr, 20, 64, w - 40, 150, 10);
	cairo_fill_preserve(cr);
	ab_draw_rgb(cr, t->border);
	cairo_set_line_width(cr, 1);
	cairo_stroke(cr);
	ab_draw_rgb(cr, t->accent);
	cairo_arc(cr, 48, 92, 8, 0, 6.2832);
	cairo_fill(cr);
	ab_draw_text(cr, "No services registry on this broker yet", t->font, t->text, 66, 82,
	             w - 110);
	static const char *const lines[] = {
	    "This ArgoBox broker does not keep a list of services, so there is nothing",
	    "to show here: no service states, links or restarts. When the registry",
	    "arrives, the services your profile may use appear here with their health.",
	    "Nothing on this page is invented.",
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(lines); i++)
		ab_draw_text(cr, lines[i], t->font, t->text_dim, 66, 110 + 22.0 * (double)i,
		             w - 110);
	ab_draw_text(cr, "Escape or Ctrl+Q closes this window.", t->font, t->text_dim, 24, h - 34,
	             w - 48);
}

static void
services_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	if (sym == XK_Escape || ((state & ControlMask) && (sym == XK_q || sym == XK_w)))
		ab_app_quit(app);
}

static void
services_icon(cairo_t *cr, int s)
{
	ab_draw_icon_tile(cr, s, (const double[]){0.17, 0.35, 0.3},
	                  (const double[]){0.55, 0.9, 0.75});
	for (int i = 0; i < 3; i++) {
		ab_cairo_rounded(cr, s * 0.18, s * (0.18 + 0.23 * i), s * 0.64, s * 0.16, s * 0.04);
		cairo_fill(cr);
	}
}

static const struct ab_app_ops services_ops = {
    .draw = services_draw,
    .key = services_key,
};

int
main(int argc, char **argv)
{
	struct ab_app app;
	struct ab_app_config cfg = {.name = "services",
	                            .title = "Services — no registry on this broker yet",
	                            .width = 620,
	                            .height = 300,
	                            .icon = services_icon,
	                            .ops = &services_ops};
	return ab_app_main(&app, &cfg, argc, argv);
}
