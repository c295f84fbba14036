/* SPDX-License-Identifier: GPL-2.0-or-later */
/* deskstate: the desktop state and its strict validator (see deskstate.h). */
#include "deskstate.h"
#include "ab_json.h"
#include "ab_util.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const char *const mode_names[] = {"dark", "light"};
static const char *const fit_names[] = {"fill", "fit"};
static const char *const edge_names[] = {"bottom", "top"};

const char *
deskstate_mode_name(enum deskstate_mode m)
{
	return m < DESKSTATE_MODE_MAX ? mode_names[m] : "dark";
}

const char *
deskstate_fit_name(enum deskstate_fit f)
{
	return f < DESKSTATE_FIT_MAX ? fit_names[f] : "fill";
}

const char *
deskstate_edge_name(enum deskstate_edge e)
{
	return e < DESKSTATE_EDGE_MAX ? edge_names[e] : "bottom";
}

void
deskstate_init_default(struct deskstate *ds)
{
	memset(ds, 0, sizeof(*ds));
	ds->version = DESKSTATE_VERSION;
	ds->wallpaper_fit = DESKSTATE_FILL;
	ds->mode = DESKSTATE_DARK;
	snprintf(ds->accent, sizeof(ds->accent), "#3d8bfd");
	ds->ws_count = 4;
	ds->tb_position = DESKSTATE_BOTTOM;
	ds->prefs = json_object();
}

void
deskstate_free(struct deskstate *ds)
{
	if (!ds)
		return;
	free(ds->windows);
	json_decref(ds->prefs);
	ds->windows = NULL;
	ds->n_windows = 0;
	ds->prefs = NULL;
}

bool
deskstate_valid_desktop_id(const char *s)
{
	size_t n = strlen(s);
	if (n <= 8 || n > DESKSTATE_NAME_MAX || s[0] == '.' || strcmp(s + n - 8, ".desktop") != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '+')
			return false;
	}
	return true;
}

void
deskstate_sanitize_utf8(char *s)
{
	size_t len = strlen(s);
	size_t i = 0;
	while (i < len) {
		/* find the longest valid prefix from i, one character at a time */
		size_t n = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xF0)
			n = 4;
		else if (c >= 0xE0)
			n = 3;
		else if (c >= 0xC0)
			n = 2;
		if (i + n <= len && ab_utf8_valid(s + i, n)) {
			i += n;
			continue;
		}
		s[i++] = '?';
	}
}

bool
deskstate_valid_colour(const char *s)
{
	if (strlen(s) != 7 || s[0] != '#')
		return false;
	for (int i = 1; i < 7; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool
deskstate_valid_file_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > DESKSTATE_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/*
 * Copies the string at obj[key] into buf (size n, so at most n-1 bytes).
 * Missing keys leave buf alone unless `required`.
 */
static int
get_string(json_t *obj, const char *path, const char *key, bool required, char *buf, size_t n,
           struct ab_err *err)
{
	json_t *v;
	int r = ab_json_member(obj, path, key, required, &v, err);
	if (r < 0 || !v)
		return r;
	if (!json_is_string(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be a string", path, key);
	size_t len = json_string_length(v);
	if (len >= n)
		return ab_err_set(err, EINVAL, "%s.%s: longer than %zu bytes", path, key, n - 1);
	if (!ab_utf8_valid(json_string_value(v), len))
		return ab_err_set(err, EINVAL, "%s.%s: not valid UTF-8 (or contains NUL)", path,
		                  key);
	memcpy(buf, json_string_value(v), len);
	buf[len] = '\0';
	return 0;
}

static int
get_int(json_t *obj, const char *path, const char *key, bool required, long long lo, long long hi,
        int *ret, struct ab_err *err)
{
	json_t *v;
	int r = ab_json_member(obj, path, key, required, &v, err);
	if (r < 0 || !v)
		return r;
	if (!json_is_integer(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be an integer", path, key);
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return ab_err_set(err, EINVAL, "%s.%s: %lld outside [%lld, %lld]", path, key, x, lo,
		                  hi);
	*ret = (int)x;
	return 0;
}

static int
get_bool(json_t *obj, const char *path, const char *key, bool *ret, struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be true or false", path, key);
	*ret = json_is_true(v);
	return 0;
}

static int
get_enum(json_t *obj, const char *path, const char *key, const char *const *names, size_t n,
         int *ret, struct ab_err *err)
{
	char buf[32] = "";
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	int r = get_string(obj, path, key, false, buf, sizeof(buf), err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(buf, names[i]) == 0) {
			*ret = (int)i;
			return 0;
		}
	}
	return ab_err_set(err, EINVAL, "%s.%s: '%s' is not one of the allowed values", path, key,
	                  buf);
}

static int
get_object(json_t *obj, const char *path, const char *key, json_t **ret, struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be an object", path, key);
	*ret = v;
	return 0;
}

static int
parse_window(json_t *o, size_t idx, struct deskstate_window *w, int ws_count, struct ab_err *err)
{
	static const char *const keys[] = {"app",       "title",      "workspace", "x",
	                                   "y",         "w",          "h",         "maximized",
	                                   "minimized", "fullscreen", "stack",     NULL};
	static const char *const app_keys[] = {"class", "instance", "desktop_id", NULL};
	char path[48];
	snprintf(path, sizeof(path), "windows[%zu]", idx);
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object", path);
	int r = ab_json_check_keys(o, path, keys, err);
	if (r < 0)
		return r;
	json_t *app = NULL;
	if ((r = get_object(o, path, "app", &app, err)) < 0)
		return r;
	if (!app)
		return ab_err_set(err, EINVAL, "%s.app: missing", path);
	char apath[64];
	snprintf(apath, sizeof(apath), "%s.app", path);
	if ((r = ab_json_check_keys(app, apath, app_keys, err)) < 0 ||
	    (r = get_string(app, apath, "class", true, w->wm_class, sizeof(w->wm_class), err)) <
	        0 ||
	    (r = get_string(app, apath, "instance", false, w->wm_instance, sizeof(w->wm_instance),
	                    err)) < 0 ||
	    (r = get_string(app, apath, "desktop_id", false, w->desktop_id, sizeof(w->desktop_id),
	                    err)) < 0)
		return r;
	if (w->desktop_id[0] && !deskstate_valid_desktop_id(w->desktop_id))
		return ab_err_set(err, EINVAL, "%s.desktop_id: '%s' is not a desktop file id",
		                  apath, w->desktop_id);
	if ((r = get_string(o, path, "title", false, w->title, sizeof(w->title), err)) < 0 ||
	    (r = get_int(o, path, "workspace", true, 0, ws_count - 1, &w->workspace, err)) < 0 ||
	    (r = get_int(o, path, "x", true, DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX, &w->x,
	                 err)) < 0 ||
	    (r = get_int(o, path, "y", true, DESKSTATE_COORD_MIN, DESKSTATE_COORD_MAX, &w->y,
	                 err)) < 0 ||
	    (r = get_int(o, path, "w", true, 1, DESKSTATE_SIZE_MAX, &w->w, err)) < 0 ||
	    (r = get_int(o, path, "h", true, 1, DESKSTATE_SIZE_MAX, &w->h, err)) < 0 ||
	    (r = get_bool(o, path, "maximized", &w->maximized, err)) < 0 ||
	    (r = get_bool(o, path, "minimized", &w->minimized, err)) < 0 ||
	    (r = get_bool(o, path, "fullscreen", &w->fullscreen, err)) < 0 ||
	    (r = get_int(o, path, "stack", true, 0, DESKSTATE_MAX_WINDOWS - 1, &w->stack, err)) < 0)
		return r;
	return 0;
}

/* Per-app preferences: bounded depth, keys and size; scalars must be sane. */
static int
check_pref_value(json_t *v, const char *path, int depth, struct ab_err *err)
{
	if (depth > DESKSTATE_MAX_PREF_DEPTH)
		return ab_err_set(err, EINVAL, "%s: nested deeper than %d levels", path,
		                  DESKSTATE_MAX_PREF_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (json_object_size(v) > DESKSTATE_MAX_PREF_KEYS)
			return ab_err_set(err, EINVAL, "%s: more than %d keys", path,
			                  DESKSTATE_MAX_PREF_KEYS);
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c)
		{
			size_t kl = strlen(k);
			if (kl == 0 || kl > DESKSTATE_NAME_MAX || !ab_utf8_valid(k, kl))
				return ab_err_set(err, EINVAL, "%s: invalid key", path);
			char sub[160];
			snprintf(sub, sizeof(sub), "%.100s.%.40s", path, k);
			int r = check_pref_value(c, sub, depth + 1, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	case JSON_ARRAY: {
		if (json_array_size(v) > DESKSTATE_MAX_PREF_KEYS)
			return ab_err_set(err, EINVAL, "%s: more than %d items", path,
			                  DESKSTATE_MAX_PREF_KEYS);
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c)
		{
			char sub[160];
			snprintf(sub, sizeof(sub), "%.100s[%zu]", path, i);
			int r = check_pref_value(c, sub, depth + 1, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	case JSON_STRING:
		if (json_string_length(v) > 1024 ||
		    !ab_utf8_valid(json_string_value(v), json_string_length(v)))
			return ab_err_set(err, EINVAL, "%s: string too long or not UTF-8", path);
		return 0;
	default:
		return 0; /* numbers, booleans, null */
	}
}

static int
parse_prefs(json_t *prefs, struct ab_err *err)
{
	if (json_object_size(prefs) > DESKSTATE_MAX_PREFS)
		return ab_err_set(err, EINVAL, "prefs: more than %d apps", DESKSTATE_MAX_PREFS);
	const char *k;
	json_t *v;
	json_object_foreach(prefs, k, v)
	{
		size_t kl = strlen(k);
		if (kl == 0 || kl > DESKSTATE_NAME_MAX || !ab_utf8_valid(k, kl))
			return ab_err_set(err, EINVAL, "prefs: invalid app name");
		char path[160];
		snprintf(path, sizeof(path), "prefs.%.100s", k);
		if (!json_is_object(v))
			return ab_err_set(err, EINVAL, "%s: must be an object", path);
		int r = check_pref_value(v, path, 1, err);
		if (r < 0)
			return r;
	}
	size_t n = json_dumpb(prefs, NULL, 0, JSON_COMPACT);
	if (n > DESKSTATE_MAX_PREF_BYTES)
		return ab_err_set(err, EINVAL, "prefs: %zu bytes, more than %u", n,
		                  DESKSTATE_MAX_PREF_BYTES);
	return 0;
}

bool
deskstate_valid_kbd_layout(const char *s)
{
	size_t n = 0;
	while (s[n] >= 'a' && s[n] <= 'z')
		n++;
	if (n < 2 || n > 12)
		return false;
	if (!s[n])
		return true;
	if (s[n] != '(')
		return false;
	size_t v = 0;
	const char *p = s + n + 1;
	while ((p[v] >= 'a' && p[v] <= 'z') || (p[v] >= '0' && p[v] <= '9') || p[v] == '_')
		v++;
	return v >= 1 && v <= 32 && p[v] == ')' && !p[v + 1];
}

/* keyboard: {"layout": "de", "layouts": ["de", "us"]} */
static int
parse_keyboard(json_t *o, const char *const *keys, struct deskstate *ds, struct ab_err *err)
{
	int r;
	if ((r = ab_json_check_keys(o, "keyboard", keys, err)) < 0 ||
	    (r = get_string(o, "keyboard", "layout", false, ds->kbd_layout, sizeof(ds->kbd_layout),
	                    err)) < 0)
		return r;
	if (ds->kbd_layout[0] && !deskstate_valid_kbd_layout(ds->kbd_layout))
		return ab_err_set(err, EINVAL, "keyboard.layout: '%s' is not an XKB layout name",
		                  ds->kbd_layout);
	json_t *l = json_object_get(o, "layouts");
	if (!l)
		return 0;
	if (!json_is_array(l) || json_array_size(l) > DESKSTATE_MAX_KBD)
		return ab_err_set(err, EINVAL,
		                  "keyboard.layouts: must be an array of at most %d layout names",
		                  DESKSTATE_MAX_KBD);
	size_t i;
	json_t *e;
	json_array_foreach(l, i, e)
	{
		const char *s = json_string_value(e);
		if (!s || json_string_length(e) > DESKSTATE_KBD_MAX ||
		    !deskstate_valid_kbd_layout(s))
			return ab_err_set(err, EINVAL,
			                  "keyboard.layouts[%zu]: not an XKB layout name", i);
		snprintf(ds->kbd_layouts[i], sizeof(ds->kbd_layouts[i]), "%s", s);
	}
	ds->n_kbd_layouts = json_array_size(l);
	return 0;
}

int
deskstate_from_json(json_t *root, struct deskstate *ret, struct ab_err *err)
{
	static const char *const top_keys[] = {"version",  "windows",    "wallpaper",
	                                       "theme",    "workspaces", "taskbar",
	                                       "keyboard", "prefs",      NULL};
	static const char *const kbd_keys[] = {"layout", "layouts", NULL};
	static const char *const wp_keys[] = {"image", "fit", NULL};
	static const char *const theme_keys[] = {"mode", "accent", NULL};
	static const char *const ws_keys[] = {"count", "current", NULL};
	static const char *const tb_keys[] = {"position", "pinned", "autohide", NULL};
	struct deskstate ds;
	int r, tmp;

	if (!json_is_object(root))
		return ab_err_set(err, EINVAL, "state: must be a JSON object");
	if ((r = ab_json_check_keys(root, "state", top_keys, err)) < 0)
		return r;
	json_t *v = json_object_get(root, "version");
	if (!json_is_integer(v))
		return ab_err_set(err, EINVAL, "version: missing or not an integer");
	if (json_integer_value(v) != DESKSTATE_VERSION)
		return ab_err_set(err, EINVAL, "version: %lld is not supported (expected %d)",
		                  (long long)json_integer_value(v), DESKSTATE_VERSION);

	deskstate_init_default(&ds);
	json_t *o;
	/* workspaces first: windows are checked against the count */
	if ((r = get_object(root, "state", "workspaces", &o, err)) < 0)
		goto fail;
	if (o) {
		if ((r = ab_json_check_keys(o, "workspaces", ws_keys, err)) < 0 ||
		    (r = get_int(o, "workspaces", "count", false, 1, DESKSTATE_MAX_WS, &ds.ws_count,
		                 err)) < 0 ||
		    (r = get_int(o, "workspaces", "current", false, 0, DESKSTATE_MAX_WS - 1,
		                 &ds.ws_current, err)) < 0)
			goto fail;
		if (ds.ws_current >= ds.ws_count) {
			r = ab_err_set(err, EINVAL, "workspaces.current: %d but only %d workspaces",
			               ds.ws_current, ds.ws_count);
			goto fail;
		}
	}
	if ((r = get_object(root, "state", "wallpaper", &o, err)) < 0)
		goto fail;
	if (o) {
		tmp = ds.wallpaper_fit;
		if ((r = ab_json_check_keys(o, "wallpaper", wp_keys, err)) < 0 ||
		    (r = get_string(o, "wallpaper", "image", false, ds.wallpaper,
		                    sizeof(ds.wallpaper), err)) < 0 ||
		    (r = get_enum(o, "wallpaper", "fit", fit_names, DESKSTATE_FIT_MAX, &tmp, err)) <
		        0)
			goto fail;
		ds.wallpaper_fit = tmp;
		if (ds.wallpaper[0] && !deskstate_valid_file_name(ds.wallpaper)) {
			r = ab_err_set(err, EINVAL,
			               "wallpaper.image: '%s' is not a plain file name",
			               ds.wallpaper);
			goto fail;
		}
	}
	if ((r = get_object(root, "state", "theme", &o, err)) < 0)
		goto fail;
	if (o) {
		tmp = ds.mode;
		if ((r = ab_json_check_keys(o, "theme", theme_keys, err)) < 0 ||
		    (r = get_enum(o, "theme", "mode", mode_names, DESKSTATE_MODE_MAX, &tmp, err)) <
		        0 ||
		    (r = get_string(o, "theme", "accent", false, ds.accent, sizeof(ds.accent),
		                    err)) < 0)
			goto fail;
		ds.mode = tmp;
		if (!deskstate_valid_colour(ds.accent)) {
			r = ab_err_set(err, EINVAL, "theme.accent: '%s' is not #rrggbb", ds.accent);
			goto fail;
		}
	}
	if ((r = get_object(root, "state", "taskbar", &o, err)) < 0)
		goto fail;
	if (o) {
		tmp = ds.tb_position;
		if ((r = ab_json_check_keys(o, "taskbar", tb_keys, err)) < 0 ||
		    (r = get_enum(o, "taskbar", "position", edge_names, DESKSTATE_EDGE_MAX, &tmp,
		                  err)) < 0 ||
		    (r = get_bool(o, "taskbar", "autohide", &ds.tb_autohide, err)) < 0)
			goto fail;
		ds.tb_position = tmp;
		json_t *p = json_object_get(o, "pinned");
		if (p) {
			if (!json_is_array(p) || json_array_size(p) > DESKSTATE_MAX_PINNED) {
				r = ab_err_set(err, EINVAL,
				               "taskbar.pinned: must be an array of at most %d ids",
				               DESKSTATE_MAX_PINNED);
				goto fail;
			}
			size_t i;
			json_t *e;
			json_array_foreach(p, i, e)
			{
				const char *s = json_string_value(e);
				if (!s || !ab_utf8_valid(s, json_string_length(e)) ||
				    !deskstate_valid_desktop_id(s)) {
					r = ab_err_set(err, EINVAL,
					               "taskbar.pinned[%zu]: not a desktop file id",
					               i);
					goto fail;
				}
				snprintf(ds.pinned[i], sizeof(ds.pinned[i]), "%s", s);
			}
			ds.n_pinned = json_array_size(p);
		}
	}
	if ((r = get_object(root, "state", "keyboard", &o, err)) < 0)
		goto fail;
	if (o && (r = parse_keyboard(o, kbd_keys, &ds, err)) < 0)
		goto fail;
	if ((r = get_object(root, "state", "prefs", &o, err)) < 0)
		goto fail;
	if (o) {
		if ((r = parse_prefs(o, err)) < 0)
			goto fail;
		json_decref(ds.prefs);
		ds.prefs = json_deep_copy(o);
	}
	json_t *wins = json_object_get(root, "windows");
	if (wins) {
		if (!json_is_array(wins)) {
			r = ab_err_set(err, EINVAL, "windows: must be an array");
			goto fail;
		}
		size_t n = json_array_size(wins);
		if (n > DESKSTATE_MAX_WINDOWS) {
			r = ab_err_set(err, EINVAL, "windows: %zu windows, at most %d", n,
			               DESKSTATE_MAX_WINDOWS);
			goto fail;
		}
		ds.windows = ab_xcalloc(n ? n : 1, sizeof(*ds.windows));
		bool seen[DESKSTATE_MAX_WINDOWS] = {false};
		for (size_t i = 0; i < n; i++) {
			if ((r = parse_window(json_array_get(wins, i), i, &ds.windows[i],
			                      ds.ws_count, err)) < 0)
				goto fail;
			int s = ds.windows[i].stack;
			if ((size_t)s >= n || seen[s]) {
				r = ab_err_set(err, EINVAL,
				               "windows[%zu].stack: %d repeats or is not below %zu",
				               i, s, n);
				goto fail;
			}
			seen[s] = true;
		}
		ds.n_windows = n;
	}
	*ret = ds;
	return 0;
fail:
	deskstate_free(&ds);
	return r;
}

int
deskstate_validate(json_t *root, struct ab_err *err)
{
	struct deskstate ds;
	int r = deskstate_from_json(root, &ds, err);
	if (r < 0)
		return r;
	deskstate_free(&ds);
	return 0;
}

int
deskstate_parse(const char *buf, size_t len, struct deskstate *ret, struct ab_err *err)
{
	if (len > DESKSTATE_MAX_BYTES)
		return ab_err_set(err, EFBIG, "state: %zu bytes, more than %u", len,
		                  DESKSTATE_MAX_BYTES);
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ab_err_set(err, EINVAL, "state: not JSON (line %d: %s)", je.line, je.text);
	int r = deskstate_from_json(root, ret, err);
	json_decref(root);
	return r;
}

int
deskstate_load_file(const char *path, struct deskstate *ret, struct ab_err *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = ab_read_file(path, DESKSTATE_MAX_BYTES, &data, &len, err);
	if (r < 0)
		return ab_err_wrap(err, "reading state '%s'", path);
	r = deskstate_parse(data, len, ret, err);
	if (r < 0)
		return ab_err_wrap(err, "state '%s'", path);
	return 0;
}

json_t *
deskstate_to_json(const struct deskstate *ds)
{
	json_t *wins = json_array();
	for (size_t i = 0; i < ds->n_windows; i++) {
		const struct deskstate_window *w = &ds->windows[i];
		json_t *app = json_pack("{s:s}", "class", w->wm_class);
		if (w->wm_instance[0])
			json_object_set_new(app, "instance", json_string(w->wm_instance));
		if (w->desktop_id[0])
			json_object_set_new(app, "desktop_id", json_string(w->desktop_id));
		json_t *o =
		    json_pack("{s:o, s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:b, s:b, s:i}", "app", app,
		              "title", w->title, "workspace", w->workspace, "x", w->x, "y", w->y,
		              "w", w->w, "h", w->h, "maximized", w->maximized, "minimized",
		              w->minimized, "fullscreen", w->fullscreen, "stack", w->stack);
		AB_ASSERT(o);
		json_array_append_new(wins, o);
	}
	json_t *pinned = json_array();
	for (size_t i = 0; i < ds->n_pinned; i++)
		json_array_append_new(pinned, json_string(ds->pinned[i]));
	json_t *root = json_pack(
	    "{s:i, s:o, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:i, s:i}, s:{s:s, s:o, s:b}, s:o}",
	    "version", DESKSTATE_VERSION, "windows", wins, "wallpaper", "image", ds->wallpaper,
	    "fit", deskstate_fit_name(ds->wallpaper_fit), "theme", "mode",
	    deskstate_mode_name(ds->mode), "accent", ds->accent, "workspaces", "count",
	    ds->ws_count, "current", ds->ws_current, "taskbar", "position",
	    deskstate_edge_name(ds->tb_position), "pinned", pinned, "autohide", ds->tb_autohide,
	    "prefs", ds->prefs ? json_incref(ds->prefs) : json_object());
	AB_ASSERT(root);
	if (ds->kbd_layout[0] || ds->n_kbd_layouts) { /* only once there is one */
		json_t *layouts = json_array();
		for (size_t i = 0; i < ds->n_kbd_layouts; i++)
			json_array_append_new(layouts, json_string(ds->kbd_layouts[i]));
		json_object_set_new(
		    root, "keyboard",
		    json_pack("{s:s, s:o}", "layout", ds->kbd_layout, "layouts", layouts));
	}
	return root;
}
