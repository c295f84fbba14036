/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_icon: the Icon Theme Specification's lookup, PNG/SVG decoding and a cache (ab_icon.h).
 *
 * A theme is read once, when a lookup first needs it: index.theme (GKeyFile) from the first base
 * directory that has one, its Directories and ScaledDirectories (scale 1 only), and for each of
 * those which base directories actually hold it, so a lookup stats only files that can exist.
 */
#include "ab_icon.h"
#include "ab_cairo.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <glib.h>
#include <librsvg/rsvg.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_BASES     32
#define MAX_THEMES    12 /* the preferred theme, what it inherits, hicolor */
#define MAX_THEME_DIR 4096
#define MAX_CACHE     256
#define MAX_FILE      (8u << 20)
#define MAX_PIXELS    4096
#define MAX_NAME      255

enum dir_type {
	DIR_FIXED,
	DIR_SCALABLE,
	DIR_THRESHOLD,
};

struct theme_dir {
	char *sub; /* "48x48/apps" */
	int size, min, max, threshold;
	enum dir_type type;
	uint32_t in_bases; /* bit i: base i holds <base>/<theme>/<sub> */
};

struct theme {
	char *name;
	bool missing; /* no index.theme anywhere */
	struct theme_dir *dirs;
	size_t n_dirs;
	char **parents; /* Inherits=, NULL-terminated (g_strfreev) */
};

struct cache_entry {
	char *name;
	int size;
	cairo_surface_t *surf; /* NULL: no usable icon */
};

struct ab_icons {
	char *bases[MAX_BASES];
	size_t n_bases;
	char *preferred;
	struct theme themes[MAX_THEMES];
	size_t n_themes;
	struct cache_entry cache[MAX_CACHE];
	size_t n_cache, next_evict;
	struct ab_icons_stats stats;
};

static void
add_base(struct ab_icons *ic, const char *dir)
{
	if (!dir || dir[0] != '/' || ic->n_bases >= MAX_BASES)
		return;
	for (size_t i = 0; i < ic->n_bases; i++) {
		if (strcmp(ic->bases[i], dir) == 0)
			return;
	}
	ic->bases[ic->n_bases++] = ab_xstrdup(dir);
}

static void
add_base_list(struct ab_icons *ic, const char *list, const char *suffix)
{
	_cleanup_free_ char *copy = ab_xstrdup(list);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = ab_xasprintf("%s%s", d, suffix);
		add_base(ic, p);
	}
}

static void
default_bases(struct ab_icons *ic)
{
	const char *home = getenv("HOME");
	if (home && home[0] == '/') {
		_cleanup_free_ char *dot = ab_xasprintf("%s/.icons", home);
		add_base(ic, dot);
	}
	const char *data_home = getenv("XDG_DATA_HOME");
	if (data_home && data_home[0] == '/') {
		_cleanup_free_ char *p = ab_xasprintf("%s/icons", data_home);
		add_base(ic, p);
	} else if (home && home[0] == '/') {
		_cleanup_free_ char *p = ab_xasprintf("%s/.local/share/icons", home);
		add_base(ic, p);
	}
	const char *xdg = getenv("XDG_DATA_DIRS");
	add_base_list(ic, xdg && *xdg ? xdg : "/usr/local/share:/usr/share", "/icons");
	add_base(ic, "/usr/share/pixmaps");
}

struct ab_icons *
ab_icons_new(const char *base_dirs, const char *extra, const char *theme)
{
	struct ab_icons *ic = ab_xcalloc(1, sizeof(*ic));
	if (base_dirs && *base_dirs)
		add_base_list(ic, base_dirs, "");
	else
		default_bases(ic);
	if (extra && *extra)
		add_base_list(ic, extra, "");
	if (!theme || !*theme)
		theme = getenv("ARGOBOX_ICON_THEME");
	ic->preferred = ab_xstrdup(theme && *theme ? theme : "Adwaita");
	return ic;
}

static void
theme_free(struct theme *t)
{
	for (size_t i = 0; i < t->n_dirs; i++)
		free(t->dirs[i].sub);
	free(t->dirs);
	g_strfreev(t->parents);
	free(t->name);
}

void
ab_icons_free(struct ab_icons *ic)
{
	if (!ic)
		return;
	for (size_t i = 0; i < ic->n_bases; i++)
		free(ic->bases[i]);
	for (size_t i = 0; i < ic->n_themes; i++)
		theme_free(&ic->themes[i]);
	for (size_t i = 0; i < ic->n_cache; i++) {
		free(ic->cache[i].name);
		if (ic->cache[i].surf)
			cairo_surface_destroy(ic->cache[i].surf);
	}
	free(ic->preferred);
	free(ic);
}

struct ab_icons_stats
ab_icons_stats(const struct ab_icons *ic)
{
	return ic->stats;
}

static bool
is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A theme or directory name from index.theme: no path tricks. */
static bool
safe_component(const char *s)
{
	if (!s || !*s || strlen(s) > MAX_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == '/')
			return false;
	}
	return true;
}

static bool
safe_subdir(const char *s)
{
	if (!s || !*s || s[0] == '/' || strlen(s) > MAX_NAME)
		return false;
	_cleanup_free_ char *copy = ab_xstrdup(s);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!safe_component(c))
			return false;
	}
	return true;
}

static void
theme_add_dir(struct ab_icons *ic, struct theme *t, const char *sub, int size, int min, int max,
              int threshold, enum dir_type type)
{
	uint32_t in = 0;
	for (size_t b = 0; b < ic->n_bases; b++) {
		_cleanup_free_ char *p = ab_xasprintf("%s/%s/%s", ic->bases[b], t->name, sub);
		if (is_dir(p))
			in |= 1u << b;
	}
	if (!in)
		return;
	t->dirs = ab_xrealloc(t->dirs, (t->n_dirs + 1) * sizeof(*t->dirs));
	t->dirs[t->n_dirs++] = (struct theme_dir){
	    .sub = ab_xstrdup(sub),
	    .size = size,
	    .min = min,
	    .max = max,
	    .threshold = threshold,
	    .type = type,
	    .in_bases = in,
	};
}

/* hicolor's layout when no index.theme describes it. */
static void
theme_builtin_hicolor(struct ab_icons *ic, struct theme *t)
{
	static const int sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 256, 512};
	for (size_t i = 0; i < AB_ARRAY_SIZE(sizes); i++) {
		char sub[32];
		snprintf(sub, sizeof(sub), "%dx%d/apps", sizes[i], sizes[i]);
		theme_add_dir(ic, t, sub, sizes[i], sizes[i], sizes[i], 2, DIR_THRESHOLD);
	}
	theme_add_dir(ic, t, "scalable/apps", 128, 1, 512, 2, DIR_SCALABLE);
}

static int
keyfile_int(GKeyFile *kf, const char *group, const char *key, int def)
{
	GError *gerr = NULL;
	int v = g_key_file_get_integer(kf, group, key, &gerr);
	if (gerr) {
		g_error_free(gerr);
		return def;
	}
	return v;
}

static void
theme_add_dirs_from(struct ab_icons *ic, struct theme *t, GKeyFile *kf, const char *key)
{
	gsize n = 0;
	gchar **dirs = g_key_file_get_string_list(kf, "Icon Theme", key, &n, NULL);
	for (gsize i = 0; dirs && i < n && t->n_dirs < MAX_THEME_DIR; i++) {
		const char *sub = dirs[i];
		if (!safe_subdir(sub) || !g_key_file_has_group(kf, sub))
			continue;
		if (keyfile_int(kf, sub, "Scale", 1) != 1)
			continue;
		int size = keyfile_int(kf, sub, "Size", 0);
		if (size <= 0 || size > MAX_PIXELS)
			continue;
		_cleanup_free_ char *type = g_key_file_get_string(kf, sub, "Type", NULL);
		enum dir_type dt = DIR_THRESHOLD;
		if (type && strcmp(type, "Fixed") == 0)
			dt = DIR_FIXED;
		else if (type && strcmp(type, "Scalable") == 0)
			dt = DIR_SCALABLE;
		theme_add_dir(ic, t, sub, size, keyfile_int(kf, sub, "MinSize", size),
		              keyfile_int(kf, sub, "MaxSize", size),
		              keyfile_int(kf, sub, "Threshold", 2), dt);
	}
	g_strfreev(dirs);
}

static void
theme_read(struct ab_icons *ic, struct theme *t)
{
	_cleanup_free_ char *index = NULL;
	for (size_t b = 0; b < ic->n_bases && !index; b++) {
		char *p = ab_xasprintf("%s/%s/index.theme", ic->bases[b], t->name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (off_t)MAX_FILE)
			index = p;
		else
			free(p);
	}
	GKeyFile *kf = g_key_file_new();
	g_key_file_set_list_separator(kf, ',');
	GError *gerr = NULL;
	if (index && !g_key_file_load_from_file(kf, index, G_KEY_FILE_NONE, &gerr)) {
		ab_warn("icon theme '%s': %s", index, gerr->message);
		g_error_free(gerr);
		g_key_file_free(kf);
		kf = NULL;
	}
	if (!index || !kf || !g_key_file_has_group(kf, "Icon Theme")) {
		if (strcmp(t->name, "hicolor") == 0)
			theme_builtin_hicolor(ic, t);
		else
			t->missing = true;
		if (kf)
			g_key_file_free(kf);
		return;
	}
	theme_add_dirs_from(ic, t, kf, "Directories");
	theme_add_dirs_from(ic, t, kf, "ScaledDirectories");
	t->parents = g_key_file_get_string_list(kf, "Icon Theme", "Inherits", NULL, NULL);
	g_key_file_free(kf);
}

/* The theme by name, read on first use; NULL when the table is full. */
static struct theme *
theme_get(struct ab_icons *ic, const char *name)
{
	for (size_t i = 0; i < ic->n_themes; i++) {
		if (strcmp(ic->themes[i].name, name) == 0)
			return &ic->themes[i];
	}
	if (ic->n_themes >= MAX_THEMES || !safe_component(name))
		return NULL;
	struct theme *t = &ic->themes[ic->n_themes++];
	*t = (struct theme){.name = ab_xstrdup(name)};
	theme_read(ic, t);
	return t;
}

static bool
dir_matches(const struct theme_dir *d, int size)
{
	switch (d->type) {
	case DIR_FIXED:
		return d->size == size;
	case DIR_SCALABLE:
		return d->min <= size && size <= d->max;
	default:
		return d->size - d->threshold <= size && size <= d->size + d->threshold;
	}
}

static int
dir_distance(const struct theme_dir *d, int size)
{
	switch (d->type) {
	case DIR_FIXED:
		return abs(d->size - size);
	case DIR_SCALABLE:
		if (size < d->min)
			return d->min - size;
		return size > d->max ? size - d->max : 0;
	default:
		/* the spec's formula reads MinSize/MaxSize, which threshold directories
		 * rarely set; the distance to Size is what it means */
		return abs(d->size - size) <= d->threshold ? 0 : abs(d->size - size);
	}
}

static const char *const exts[] = {"png", "svg"};

/* The first existing <base>/<theme>/<sub>/<name>.<ext>, owned, or NULL. */
static char *
dir_file(struct ab_icons *ic, const struct theme *t, const struct theme_dir *d, const char *name)
{
	for (size_t b = 0; b < ic->n_bases; b++) {
		if (!(d->in_bases & (1u << b)))
			continue;
		for (size_t e = 0; e < AB_ARRAY_SIZE(exts); e++) {
			char *p = ab_xasprintf("%s/%s/%s/%s.%s", ic->bases[b], t->name, d->sub,
			                       name, exts[e]);
			if (is_file(p))
				return p;
			free(p);
		}
	}
	return NULL;
}

static char *
lookup_in_theme(struct ab_icons *ic, const struct theme *t, const char *name, int size)
{
	for (size_t i = 0; i < t->n_dirs; i++) {
		if (!dir_matches(&t->dirs[i], size))
			continue;
		char *p = dir_file(ic, t, &t->dirs[i], name);
		if (p)
			return p;
	}
	char *best = NULL;
	int best_dist = INT_MAX;
	for (size_t i = 0; i < t->n_dirs; i++) {
		int dist = dir_distance(&t->dirs[i], size);
		if (dist >= best_dist)
			continue;
		char *p = dir_file(ic, t, &t->dirs[i], name);
		if (p) {
			free(best);
			best = p;
			best_dist = dist;
		}
	}
	return best;
}

/* The theme and what it inherits, depth first, each theme once; hicolor is left to the caller. */
static char *
lookup_chain(struct ab_icons *ic, const char *theme, const char *name, int size, int depth,
             const char **seen, size_t *n_seen)
{
	if (depth > 8 || *n_seen >= MAX_THEMES || strcmp(theme, "hicolor") == 0)
		return NULL;
	for (size_t i = 0; i < *n_seen; i++) {
		if (strcmp(seen[i], theme) == 0)
			return NULL;
	}
	struct theme *t = theme_get(ic, theme);
	if (!t || t->missing)
		return NULL;
	seen[(*n_seen)++] = t->name;
	char *p = lookup_in_theme(ic, t, name, size);
	for (size_t i = 0; !p && t->parents && t->parents[i]; i++)
		p = lookup_chain(ic, g_strstrip(t->parents[i]), name, size, depth + 1, seen,
		                 n_seen);
	return p;
}

static bool
has_image_ext(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot && (strcmp(dot, ".png") == 0 || strcmp(dot, ".svg") == 0);
}

/* A bare icon name, its extension dropped, into out (MAX_NAME + 1 bytes). */
static int
clean_name(const char *name, char *out, struct ab_err *err)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > MAX_NAME)
		return ab_err_set(err, EINVAL, "icon name '%s' is empty or too long",
		                  name ? name : "");
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == '/')
			return ab_err_set(err, EINVAL, "icon name '%s' is not a name", name);
	}
	memcpy(out, name, len + 1);
	char *dot = strrchr(out, '.');
	if (dot &&
	    (strcmp(dot, ".png") == 0 || strcmp(dot, ".svg") == 0 || strcmp(dot, ".xpm") == 0))
		*dot = '\0';
	if (!out[0] || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		return ab_err_set(err, EINVAL, "icon name '%s' is not a name", name);
	return 0;
}

int
ab_icons_find(struct ab_icons *ic, const char *name, int size, char **ret_path, struct ab_err *err)
{
	ic->stats.lookups++;
	if (name && name[0] == '/') {
		if (strlen(name) > PATH_MAX || strstr(name, "/../") || !has_image_ext(name))
			return ab_err_set(err, EINVAL, "icon path '%s' is not a PNG or SVG file",
			                  name);
		if (!is_file(name))
			return ab_err_set(err, ENOENT, "icon file '%s' does not exist", name);
		*ret_path = ab_xstrdup(name);
		return 0;
	}
	char clean[MAX_NAME + 1];
	int r = clean_name(name, clean, err);
	if (r < 0)
		return r;
	const char *seen[MAX_THEMES];
	size_t n_seen = 0;
	char *p = lookup_chain(ic, ic->preferred, clean, size, 0, seen, &n_seen);
	if (!p) {
		struct theme *hi = theme_get(ic, "hicolor");
		if (hi && !hi->missing)
			p = lookup_in_theme(ic, hi, clean, size);
	}
	for (size_t b = 0; !p && b < ic->n_bases; b++) {
		for (size_t e = 0; !p && e < AB_ARRAY_SIZE(exts); e++) {
			p = ab_xasprintf("%s/%s.%s", ic->bases[b], clean, exts[e]);
			if (!is_file(p)) {
				free(p);
				p = NULL;
			}
		}
	}
	if (!p)
		return ab_err_set(err, ENOENT, "no icon named '%s'", clean);
	*ret_path = p;
	return 0;
}

/* `src` (w x h) scaled to fit size x size, centred, on a new surface. */
static cairo_surface_t *
fit(cairo_surface_t *src, double w, double h, int size)
{
	cairo_surface_t *out = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	cairo_t *cr = cairo_create(out);
	ab_cairo_paint_centred(cr, src, size, size, size / AB_MAX(w, h));
	cairo_destroy(cr);
	return out;
}

static cairo_surface_t *
load_png(const char *path, int size, struct ab_err *err)
{
	cairo_surface_t *img = cairo_image_surface_create_from_png(path);
	cairo_status_t st = cairo_surface_status(img);
	if (st != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(img);
		ab_err_set(err, EINVAL, "icon '%s' is not a readable PNG: %s", path,
		           cairo_status_to_string(st));
		return NULL;
	}
	int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
	cairo_surface_t *out = NULL;
	if (w <= 0 || h <= 0 || w > MAX_PIXELS || h > MAX_PIXELS)
		ab_err_set(err, EINVAL, "icon '%s' is %dx%d pixels", path, w, h);
	else
		out = fit(img, w, h, size);
	cairo_surface_destroy(img);
	return out;
}

static cairo_surface_t *
load_svg(const char *path, int size, struct ab_err *err)
{
	GError *gerr = NULL;
	RsvgHandle *h = rsvg_handle_new_from_file(path, &gerr);
	if (!h) {
		ab_err_set(err, EINVAL, "icon '%s' is not a readable SVG: %s", path,
		           gerr ? g_strchomp(gerr->message) : "unknown error");
		if (gerr)
			g_error_free(gerr);
		return NULL;
	}
	cairo_surface_t *out = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	cairo_t *cr = cairo_create(out);
	RsvgRectangle vp = {0, 0, size, size};
	if (!rsvg_handle_render_document(h, cr, &vp, &gerr)) {
		ab_err_set(err, EINVAL, "icon '%s' cannot be drawn: %s", path,
		           gerr ? g_strchomp(gerr->message) : "unknown error");
		if (gerr)
			g_error_free(gerr);
		cairo_surface_destroy(out);
		out = NULL;
	}
	cairo_destroy(cr);
	g_object_unref(h);
	return out;
}

cairo_surface_t *
ab_icon_load_file(const char *path, int size, struct ab_err *err)
{
	if (size <= 0 || size > MAX_PIXELS) {
		ab_err_set(err, EINVAL, "icon size %d is out of range", size);
		return NULL;
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		ab_err_errno(err, errno, "icon '%s'", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE) {
		ab_err_set(err, EFBIG, "icon '%s' is not a regular file of at most %u bytes", path,
		           MAX_FILE);
		return NULL;
	}
	const char *dot = strrchr(path, '.');
	if (dot && strcmp(dot, ".svg") == 0)
		return load_svg(path, size, err);
	return load_png(path, size, err);
}

cairo_surface_t *
ab_icons_get(struct ab_icons *ic, const char *name, int size)
{
	if (!name || !*name)
		return NULL;
	for (size_t i = 0; i < ic->n_cache; i++) {
		if (ic->cache[i].size == size && strcmp(ic->cache[i].name, name) == 0)
			return ic->cache[i].surf;
	}
	struct ab_err err = {0};
	_cleanup_free_ char *path = NULL;
	cairo_surface_t *surf = NULL;
	if (ab_icons_find(ic, name, size, &path, &err) == 0) {
		ic->stats.loads++;
		surf = ab_icon_load_file(path, size, &err);
		if (!surf)
			ab_warn("%s (drawing a letter tile instead)", err.msg);
	} else if (err.code != ENOENT) {
		ab_warn("%s", err.msg);
	}
	struct cache_entry *ce;
	if (ic->n_cache < MAX_CACHE) {
		ce = &ic->cache[ic->n_cache++];
	} else {
		ce = &ic->cache[ic->next_evict];
		ic->next_evict = (ic->next_evict + 1) % MAX_CACHE;
		free(ce->name);
		if (ce->surf)
			cairo_surface_destroy(ce->surf);
	}
	*ce = (struct cache_entry){.name = ab_xstrdup(name), .size = size, .surf = surf};
	return surf;
}
