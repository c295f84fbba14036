/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_json.h"

#include <errno.h>
#include <string.h>

#include "ab_config.h"
#include "ab_util.h"
#include "ab_util.h"

const char *
ab_json_type(const json_t *v)
{
	return ab_config_json_type_name((int)json_typeof(v));
}

int
ab_json_check_keys(json_t *obj, const char *path, const char *const *allowed, struct ab_err *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		const char *const *a = allowed;
		while (*a && strcmp(key, *a) != 0)
			a++;
		if (!*a)
			return ab_err_set(err, EINVAL, "%s: unknown key '%.64s'", path, key);
	}
	return 0;
}

int
ab_json_member(json_t *obj, const char *path, const char *key, bool required, json_t **ret,
               struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v && required)
		return ab_err_set(err, EINVAL, "%s.%s: missing", path, key);
	*ret = v;
	return 0;
}

int
ab_json_get_str(json_t *obj, const char *path, const char *key, bool required, const char **ret,
                struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return ab_err_set(err, EINVAL, "%s.%s: missing", path, key);
		return 0;
	}
	if (!json_is_string(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be a string, not %s", path, key,
		                  ab_json_type(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return ab_err_set(err, EINVAL, "%s.%s: must not contain NUL characters", path, key);
	*ret = json_string_value(v);
	return 0;
}

int
ab_json_get_int(json_t *obj, const char *path, const char *key, long long lo, long long hi,
                bool required, long long *ret, struct ab_err *err)
{
	json_t *v;
	int r = ab_json_member(obj, path, key, required, &v, err);
	if (r < 0 || !v)
		return r;
	if (!json_is_integer(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be an integer, not %s", path, key,
		                  ab_json_type(v));
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return ab_err_set(err, ERANGE, "%s.%s: %lld is outside [%lld, %lld]", path, key, x,
		                  lo, hi);
	*ret = x;
	return 0;
}

int
ab_json_get_bool(json_t *obj, const char *path, const char *key, bool *ret, struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be a boolean, not %s", path, key,
		                  ab_json_type(v));
	*ret = json_is_true(v);
	return 0;
}

json_t *
ab_json_snapshot_new(void)
{
	return json_pack("{s:i, s:I}", "v", 1, "saved_wall_ms", (json_int_t)ab_wall_ms());
}

int64_t
ab_json_snapshot_age_ms(const json_t *o)
{
	if (json_integer_value(json_object_get(o, "v")) != 1)
		return -EINVAL;
	json_int_t saved = json_integer_value(json_object_get(o, "saved_wall_ms"));
	return saved > 0 ? AB_MAX(0, ab_wall_ms() - (int64_t)saved) : 0;
}

int
ab_json_get_strv(json_t *obj, const char *path, const char *key, bool (*valid)(const char *),
                 char ***ret, size_t *ret_n, struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return ab_err_set(err, EINVAL, "%s.%s: must be an array, not %s", path, key,
		                  ab_json_type(v));
	size_t n = json_array_size(v);
	char **list = ab_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(v, i);
		int r = 0;
		if (!json_is_string(s))
			r = ab_err_set(err, EINVAL, "%s.%s[%zu]: must be a string, not %s", path,
			               key, i, ab_json_type(s));
		else if (strlen(json_string_value(s)) != json_string_length(s) ||
		         json_string_length(s) == 0 || json_string_length(s) > 128)
			r = ab_err_set(err, EINVAL, "%s.%s[%zu]: must be 1..128 characters", path,
			               key, i);
		else if (valid && !valid(json_string_value(s)))
			r = ab_err_set(err, EINVAL, "%s.%s[%zu]: '%s' is not a valid name", path,
			               key, i, json_string_value(s));
		if (r < 0) {
			for (size_t k = 0; k < i; k++)
				free(list[k]);
			free(list);
			return r;
		}
		list[i] = ab_xstrdup(json_string_value(s));
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

/* --- where a path is in the text ------------------------------------------------------- */

struct pl_scan {
	const char *p, *end;
	int line;
	const char *want; /* the normalised path */
	size_t best;      /* length of the longest matched prefix of want */
	int best_line;
};

static void
pl_ws(struct pl_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

/* A string token: its raw content (escapes kept) as [*from, *to). */
static bool
pl_string(struct pl_scan *s, const char **from, const char **to)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	*from = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		s->p++;
	}
	*to = s->p;
	if (s->p < s->end)
		s->p++;
	return true;
}

/* Is the value at `here` (the path so far, length n) the wanted one or on the way to it? */
static void
pl_visit(struct pl_scan *s, const char *here, size_t n)
{
	if (n > s->best && strncmp(s->want, here, n) == 0 &&
	    (s->want[n] == '\0' || s->want[n] == '.' || s->want[n] == '[')) {
		s->best = n;
		s->best_line = s->line;
	}
}

static bool pl_value(struct pl_scan *s, char *path, size_t n, size_t cap, int depth);

static bool
pl_value(struct pl_scan *s, char *path, size_t n, size_t cap, int depth)
{
	pl_ws(s);
	if (s->p >= s->end || depth > 64)
		return false;
	pl_visit(s, path, n);
	if (*s->p == '{' || *s->p == '[') {
		bool obj = *s->p++ == '{';
		for (size_t idx = 0;; idx++) {
			pl_ws(s);
			if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
				s->p++;
				return true;
			}
			int w;
			if (obj) {
				const char *k0, *k1;
				if (!pl_string(s, &k0, &k1))
					return false;
				w = snprintf(path + n, cap - n, "%s%.*s", n ? "." : "",
				             (int)(k1 - k0), k0);
				pl_ws(s);
				if (s->p >= s->end || *s->p++ != ':')
					return false;
			} else {
				w = snprintf(path + n, cap - n, "[%zu]", idx);
			}
			size_t m = w > 0 && (size_t)w < cap - n ? n + (size_t)w : n;
			if (!pl_value(s, path, m, cap, depth + 1))
				return false;
			path[n] = '\0';
			pl_ws(s);
			if (s->p < s->end && *s->p == ',')
				s->p++;
		}
	}
	if (*s->p == '"') {
		const char *a, *b;
		return pl_string(s, &a, &b);
	}
	while (s->p < s->end && !strchr(",}] \t\r\n", *s->p))
		s->p++;
	return true;
}

int
ab_json_path_line(const char *text, size_t len, const char *path)
{
	/* normalise: drop " ('name')" annotations and a leading/trailing quote */
	char want[512];
	size_t n = 0;
	for (const char *q = path; *q && n + 1 < sizeof(want); q++) {
		if (q[0] == ' ' && q[1] == '(') {
			const char *close = strchr(q, ')');
			if (!close)
				break;
			q = close;
			continue;
		}
		if (*q == '\'')
			continue;
		want[n++] = *q;
	}
	want[n] = '\0';
	struct pl_scan s = {.p = text, .end = text + len, .line = 1, .want = want};
	char buf[1024] = "";
	pl_value(&s, buf, 0, sizeof(buf), 0);
	return s.best ? s.best_line : 0;
}
