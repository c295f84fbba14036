/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wallpaper: paints the root window's background pixmap, from a PNG of the
 * wallpaper directory scaled to fill or fit, or a built-in calm gradient.
 * The image is decoded, painted into the pixmap and freed at once, so the
 * window manager keeps no full-screen buffer of its own.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <string.h>

static Pixmap current;

static void
draw_builtin(cairo_t *cr, int w, int h)
{
	bool dark = wm.ds.mode == DESKSTATE_DARK;
	cairo_pattern_t *p = cairo_pattern_create_linear(0, 0, w, h);
	if (dark) {
		cairo_pattern_add_color_stop_rgb(p, 0, 0.09, 0.11, 0.17);
		cairo_pattern_add_color_stop_rgb(p, 0.55, 0.13, 0.17, 0.27);
		cairo_pattern_add_color_stop_rgb(p, 1, 0.20, 0.18, 0.30);
	} else {
		cairo_pattern_add_color_stop_rgb(p, 0, 0.86, 0.90, 0.96);
		cairo_pattern_add_color_stop_rgb(p, 0.6, 0.80, 0.86, 0.94);
		cairo_pattern_add_color_stop_rgb(p, 1, 0.88, 0.84, 0.93);
	}
	cairo_set_source(cr, p);
	cairo_paint(cr);
	cairo_pattern_destroy(p);
	/* two soft glows tinted by the accent */
	const double *a = wm.theme.accent;
	double spots[2][3] = {{0.78, 0.28, 0.55}, {0.18, 0.85, 0.45}};
	for (int i = 0; i < 2; i++) {
		double cx = spots[i][0] * w, cy = spots[i][1] * h, r = spots[i][2] * fmax(w, h);
		cairo_pattern_t *g = cairo_pattern_create_radial(cx, cy, 0, cx, cy, r);
		cairo_pattern_add_color_stop_rgba(g, 0, a[0], a[1], a[2], dark ? 0.22 : 0.18);
		cairo_pattern_add_color_stop_rgba(g, 1, a[0], a[1], a[2], 0);
		cairo_set_source(cr, g);
		cairo_paint(cr);
		cairo_pattern_destroy(g);
	}
}

static bool
draw_image(cairo_t *cr, int w, int h)
{
	if (!wm.ds.wallpaper[0] || !wm.wallpaper_dir)
		return false;
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", wm.wallpaper_dir, wm.ds.wallpaper);
	cairo_surface_t *img = cairo_image_surface_create_from_png(path);
	if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
		ab_warn("wallpaper '%s': %s", path,
		        cairo_status_to_string(cairo_surface_status(img)));
		cairo_surface_destroy(img);
		return false;
	}
	double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
	double sx = w / iw, sy = h / ih;
	double s = wm.ds.wallpaper_fit == DESKSTATE_FIT ? fmin(sx, sy) : fmax(sx, sy);
	if (wm.ds.wallpaper_fit == DESKSTATE_FIT) {
		theme_set_rgb(cr, wm.theme.desktop);
		cairo_paint(cr);
	}
	ab_cairo_paint_centred(cr, img, w, h, s);
	cairo_surface_destroy(img);
	return true;
}

void
wallpaper_apply(void)
{
	Pixmap pm = XCreatePixmap(wm.dpy, wm.root, (unsigned)wm.sw, (unsigned)wm.sh,
	                          (unsigned)DefaultDepth(wm.dpy, wm.screen));
	cairo_surface_t *s = cairo_xlib_surface_create(wm.dpy, pm, wm.visual, wm.sw, wm.sh);
	cairo_t *cr = cairo_create(s);
	if (!draw_image(cr, wm.sw, wm.sh))
		draw_builtin(cr, wm.sw, wm.sh);
	cairo_destroy(cr);
	cairo_surface_destroy(s);
	XSetWindowBackgroundPixmap(wm.dpy, wm.root, pm);
	XChangeProperty(wm.dpy, wm.root, wm.atoms[A_XROOTPMAP_ID], XA_PIXMAP, 32, PropModeReplace,
	                (unsigned char *)&pm, 1);
	XClearWindow(wm.dpy, wm.root);
	if (current)
		XFreePixmap(wm.dpy, current);
	current = pm;
	malloc_trim(0); /* the decoded image is gone: give its pages back */
	if (wm.bar)
		XClearArea(wm.dpy, wm.bar, 0, 0, 0, 0, True);
}

int
wallpaper_set(const char *image, enum deskstate_fit fit)
{
	if (image[0] && !deskstate_valid_file_name(image))
		return -EINVAL;
	/* image may be wm.ds.wallpaper itself (a new fit for the same picture) */
	if (image != wm.ds.wallpaper)
		snprintf(wm.ds.wallpaper, sizeof(wm.ds.wallpaper), "%s", image);
	wm.ds.wallpaper_fit = fit;
	wallpaper_apply();
	state_changed();
	return 0;
}
