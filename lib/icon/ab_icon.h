/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_icon: freedesktop icon themes (the Icon Theme Specification's lookup) and the icons drawn
 * from them, X-free: an app's Icon= name becomes a file (hicolor, Adwaita, ArgoBox's own SVGs in
 * assets/icons, or any installed theme) and that file a cairo surface (SVG through librsvg, PNG
 * through cairo), kept in a cache so a name is looked up and decoded once per size.
 *
 * The lookup is the spec's: the theme, then the themes it inherits (index.theme's Inherits=),
 * then hicolor; in each, first a directory whose size matches exactly (Fixed, Scalable with
 * MinSize/MaxSize, Threshold), else the file from the directory of the closest size; PNG before
 * SVG; last the base directories themselves (/usr/share/pixmaps). XPM files are not read. A
 * theme without index.theme is skipped, except hicolor, which then has a built-in layout (so
 * ArgoBox's own icons are found where the hicolor-icon-theme package is missing).
 *
 * Ownership: ab_icons_new() returns an owned set (free with ab_icons_free()); the surfaces
 * ab_icons_get() returns belong to the set and live as long as it does.
 */
#ifndef AB_ICON_H
#define AB_ICON_H

#include <cairo.h>
#include <stdbool.h>

#include "ab_err.h"

struct ab_icons;

/*
 * A set of icon themes. `base_dirs` is a colon separated list of directories holding themes,
 * searched in order; NULL or "" uses the spec's: $HOME/.icons, $XDG_DATA_HOME/icons (default
 * ~/.local/share/icons), "<dir>/icons" for every dir of $XDG_DATA_DIRS (default
 * /usr/local/share:/usr/share) and /usr/share/pixmaps. `extra` (may be NULL) is appended to the
 * list either way (the wm passes <assets>/icons). `theme` is the preferred theme (NULL or "":
 * $ARGOBOX_ICON_THEME, else "Adwaita"); hicolor always comes last.
 */
struct ab_icons *ab_icons_new(const char *base_dirs, const char *extra, const char *theme);
void ab_icons_free(struct ab_icons *ic);

/*
 * The file for icon `name` at `size` pixels: an owned path in *ret_path. `name` is an Icon=
 * value: a bare name ("argobox-terminal"; a trailing .png/.svg/.xpm is dropped), or an absolute
 * path to a PNG or SVG file. Returns 0, -EINVAL for a name that cannot be an icon (empty, too
 * long, a relative path, "..", control characters) or -ENOENT when no theme has it.
 */
int ab_icons_find(struct ab_icons *ic, const char *name, int size, char **ret_path,
                  struct ab_err *err);

/*
 * Decodes the PNG or SVG file at `path` into a new size x size ARGB surface (the image scaled to
 * fit, centred, aspect kept). Files larger than 8 MiB and images larger than 4096 px are
 * refused. Returns NULL with `err` set when the file cannot be read or decoded.
 */
cairo_surface_t *ab_icon_load_file(const char *path, int size, struct ab_err *err);

/*
 * ab_icons_find() + ab_icon_load_file(), cached by (name, size), misses included: the surface
 * (owned by the set) or NULL when there is no usable icon. A broken icon file is logged once
 * with its path and the reason.
 */
cairo_surface_t *ab_icons_get(struct ab_icons *ic, const char *name, int size);

/* Counters for the tests: lookups that went to the file system, and decodes. */
struct ab_icons_stats {
	unsigned lookups, loads;
};
struct ab_icons_stats ab_icons_stats(const struct ab_icons *ic);

#endif
