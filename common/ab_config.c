/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_config.h"
#include "ab_json.h"
#include "ab_util.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define CONFIG_FILE_MAX (4u << 20)

static json_t **
json_slot(const struct ab_cfg_field *f, void *cfg)
{
	return (json_t **)((char *)cfg + f->offset);
}

void
ab_config_init(const struct ab_cfg_field *fields, void *cfg, const void *defaults, size_t size)
{
	memcpy(cfg, defaults, size);
	for (const struct ab_cfg_field *f = fields; f->path; f++) {
		if (f->type != AB_CFG_JSON)
			continue;
		json_error_t je;
		json_t *v =
		    json_loads(f->json_default ? f->json_default : "null", JSON_DECODE_ANY, &je);
		AB_ASSERT(v && (json_is_null(v) || (int)json_typeof(v) == f->json_type));
		*json_slot(f, cfg) = v;
	}
}

void
ab_config_free(const struct ab_cfg_field *fields, void *cfg)
{
	for (const struct ab_cfg_field *f = fields; f->path; f++) {
		if (f->type != AB_CFG_JSON)
			continue;
		json_decref(*json_slot(f, cfg));
		*json_slot(f, cfg) = NULL;
	}
}

static const struct ab_cfg_field *
field_find(const struct ab_cfg_field *fields, const char *path)
{
	for (const struct ab_cfg_field *f = fields; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

/* true when some field lives under "prefix." */
static bool
is_section(const struct ab_cfg_field *fields, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const struct ab_cfg_field *f = fields; f->path; f++)
		if (strncmp(f->path, prefix, n) == 0 && f->path[n] == '.')
			return true;
	return false;
}

const char *
ab_config_json_type_name(int t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int
set_field(const struct ab_cfg_field *f, void *cfg, json_t *v, struct ab_err *err)
{
	char *slot = (char *)cfg + f->offset;
	switch (f->type) {
	case AB_CFG_BOOL:
		if (!json_is_boolean(v))
			return ab_err_set(err, EINVAL, "'%s' must be a boolean, not %s", f->path,
			                  ab_config_json_type_name(json_typeof(v)));
		*(bool *)slot = json_is_true(v);
		return 0;
	case AB_CFG_INT: {
		if (!json_is_integer(v))
			return ab_err_set(err, EINVAL, "'%s' must be an integer, not %s", f->path,
			                  ab_config_json_type_name(json_typeof(v)));
		long long x = json_integer_value(v);
		if (x < f->min || x > f->max)
			return ab_err_set(err, ERANGE, "'%s' is %lld, outside [%lld, %lld]",
			                  f->path, x, f->min, f->max);
		*(long long *)slot = x;
		return 0;
	}
	case AB_CFG_STRING: {
		if (!json_is_string(v))
			return ab_err_set(err, EINVAL, "'%s' must be a string, not %s", f->path,
			                  ab_config_json_type_name(json_typeof(v)));
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (strlen(s) != len)
			return ab_err_set(err, EINVAL, "'%s' must not contain NUL characters",
			                  f->path);
		if (len + 1 > (size_t)f->max)
			return ab_err_set(err, ERANGE,
			                  "'%s' is %zu bytes long, at most %lld allowed", f->path,
			                  len, f->max - 1);
		if (f->choices) {
			bool ok = false;
			for (const char *const *c = f->choices; *c; c++)
				ok = ok || strcmp(*c, s) == 0;
			if (!ok) {
				char list[256] = "";
				for (const char *const *c = f->choices; *c; c++) {
					strncat(list, list[0] ? ", " : "",
					        sizeof(list) - strlen(list) - 1);
					strncat(list, *c, sizeof(list) - strlen(list) - 1);
				}
				return ab_err_set(err, EINVAL, "'%s' is '%s', expected one of: %s",
				                  f->path, s, list);
			}
		}
		memcpy(slot, s, len + 1);
		return 0;
	}
	case AB_CFG_JSON:
		if ((int)json_typeof(v) != f->json_type)
			return ab_err_set(err, EINVAL, "'%s' must be %s, not %s", f->path,
			                  ab_config_json_type_name(f->json_type),
			                  ab_config_json_type_name(json_typeof(v)));
		json_decref(*json_slot(f, cfg));
		*json_slot(f, cfg) = json_incref(v);
		return 0;
	default:
		AB_ASSERT(!"unknown config type");
	}
	return -EINVAL;
}

static int
apply_object(const struct ab_cfg_field *fields, void *cfg, json_t *obj, const char *prefix,
             struct ab_err *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		_cleanup_free_ char *path =
		    prefix[0] ? ab_xasprintf("%s.%s", prefix, key) : ab_xstrdup(key);
		const struct ab_cfg_field *f = field_find(fields, path);
		int r;
		if (f)
			r = set_field(f, cfg, v, err);
		else if (is_section(fields, path)) {
			if (!json_is_object(v))
				return ab_err_set(err, EINVAL, "'%s' must be an object, not %s",
				                  path, ab_config_json_type_name(json_typeof(v)));
			r = apply_object(fields, cfg, v, path, err);
		} else
			r = ab_err_set(err, EINVAL, "unknown key '%s'", path);
		if (r < 0)
			return r;
	}
	return 0;
}

int
ab_config_apply_json(const struct ab_cfg_field *fields, void *cfg, json_t *root, struct ab_err *err)
{
	if (!json_is_object(root))
		return ab_err_set(err, EINVAL, "the configuration must be a JSON object");
	return apply_object(fields, cfg, root, "", err);
}

/* The JSON path an error message starts with ("'listen.port' must be ...", "unknown key
 * 'a.b'", "services[3] ('gitea').url: ..."), copied to buf; false when it starts with none. */
static bool
error_path(const char *msg, char *buf, size_t cap)
{
	const char *from = msg, *to;
	if (strncmp(msg, "unknown key '", 13) == 0)
		from = msg + 12;
	if (*from == '\'') {
		from++;
		to = strchr(from, '\'');
	} else {
		to = strstr(from, ": ");
	}
	if (!to || to == from || (size_t)(to - from) >= cap)
		return false;
	for (const char *q = from; q < to; q++) {
		if (*q == ' ' && q[1] == '(') { /* an annotation: " ('name')" */
			const char *close = memchr(q, ')', (size_t)(to - q));
			if (!close)
				return false;
			q = close;
		} else if (!(isalnum((unsigned char)*q) || strchr("._-[]", *q))) {
			return false;
		}
	}
	snprintf(buf, cap, "%.*s", (int)(to - from), from);
	return true;
}

/* Prefixes err with "'file' line N" where its path is in text, else with "'file'". */
static int
wrap_with_line(struct ab_err *err, const char *file, const char *text, size_t len)
{
	char path[512];
	int line = err && error_path(err->msg, path, sizeof(path))
	               ? ab_json_path_line(text, len, path)
	               : 0;
	if (line > 0)
		return ab_err_wrap(err, "'%s' line %d", file, line);
	return ab_err_wrap(err, "'%s'", file);
}

int
ab_config_load_file(const struct ab_cfg_field *fields, void *cfg, const char *path,
                    struct ab_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = ab_read_file(path, CONFIG_FILE_MAX, &text, &len, err);
	if (r < 0)
		return r;
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ab_err_set(err, EINVAL, "'%s' line %d column %d: %s", path, je.line,
		                  je.column, je.text);
	r = ab_config_apply_json(fields, cfg, root, err);
	json_decref(root);
	if (r < 0)
		return wrap_with_line(err, path, text, len);
	return 0;
}

json_t *
ab_config_to_json(const struct ab_cfg_field *fields, const void *cfg)
{
	json_t *root = json_object();
	for (const struct ab_cfg_field *f = fields; f->path; f++) {
		const char *slot = (const char *)cfg + f->offset;
		json_t *v = NULL;
		switch (f->type) {
		case AB_CFG_BOOL:
			v = json_boolean(*(const bool *)slot);
			break;
		case AB_CFG_INT:
			v = json_integer(*(const long long *)slot);
			break;
		case AB_CFG_STRING:
			v = json_string(slot);
			break;
		case AB_CFG_JSON: {
			json_t *j = *(json_t *const *)slot;
			v = j ? json_deep_copy(j) : json_null();
			break;
		}
		default:
			AB_ASSERT(!"unknown config type");
		}
		/* Walk/create the parent objects of "a.b.c". */
		json_t *parent = root;
		_cleanup_free_ char *path = ab_xstrdup(f->path);
		char *seg = path, *dot;
		while ((dot = strchr(seg, '.'))) {
			*dot = '\0';
			json_t *child = json_object_get(parent, seg);
			if (!child) {
				child = json_object();
				json_object_set_new(parent, seg, child);
			}
			parent = child;
			seg = dot + 1;
		}
		json_object_set_new(parent, seg, v ? v : json_null());
	}
	return root;
}

void
ab_config_print(const struct ab_cfg_field *fields, const void *cfg, FILE *f)
{
	json_t *j = ab_config_to_json(fields, cfg);
	json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(j);
}

void
ab_config_print_reference(const struct ab_cfg_field *fields, const void *cfg, FILE *f)
{
	static const char *const type_names[AB_CFG_TYPE_MAX] = {"boolean", "integer", "string",
	                                                        "JSON"};
	fputs("| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n", f);
	for (const struct ab_cfg_field *fl = fields; fl->path; fl++) {
		const char *slot = (const char *)cfg + fl->offset;
		_cleanup_free_ char *def = NULL, *allowed = NULL;
		const char *type = type_names[fl->type];
		switch (fl->type) {
		case AB_CFG_BOOL:
			def = ab_xstrdup(*(const bool *)slot ? "true" : "false");
			allowed = ab_xstrdup("");
			break;
		case AB_CFG_INT:
			def = ab_xasprintf("%lld", *(const long long *)slot);
			allowed = ab_xasprintf("%lld … %lld", fl->min, fl->max);
			break;
		case AB_CFG_STRING:
			def = ab_xasprintf("\"%s\"", slot);
			if (fl->choices) {
				size_t n = 0;
				for (const char *const *ch = fl->choices; *ch; ch++)
					n += strlen(*ch) + 3;
				allowed = ab_xcalloc(1, n + 1);
				for (const char *const *ch = fl->choices; *ch; ch++) {
					if (ch != fl->choices)
						strcat(allowed, ", ");
					strcat(allowed, *ch);
				}
			} else
				allowed = ab_xasprintf("up to %lld bytes", fl->max - 1);
			break;
		case AB_CFG_JSON: {
			json_t *j = *(json_t *const *)slot;
			def =
			    j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : ab_xstrdup("null");
			if (!def)
				def = ab_xstrdup("?");
			type = fl->json_type == JSON_ARRAY ? "array" : "object";
			allowed = ab_xstrdup("");
			break;
		}
		default:
			AB_ASSERT(!"unknown config type");
		}
		fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", fl->path, type, def, allowed,
		        fl->help ? fl->help : "");
	}
}

int
ab_config_cli(const struct ab_cfg_field *fields, void *cfg, int argc, char **argv,
              int (*validate)(void *cfg, struct ab_err *err), int *ret_exit)
{
	bool check = false;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print-default-config") == 0) {
			ab_config_print(fields, cfg, stdout);
			*ret_exit = 0;
			return 0;
		}
		if (strcmp(argv[i], "--print-config-reference") == 0) {
			ab_config_print_reference(fields, cfg, stdout);
			*ret_exit = 0;
			return 0;
		}
		if (strcmp(argv[i], "--check-config") == 0)
			check = true;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		else if (strcmp(argv[i], "--") == 0)
			break;
	}
	struct ab_err err = {0};
	int r = path ? ab_config_load_file(fields, cfg, path, &err) : 0;
	if (r >= 0 && validate) {
		r = validate(cfg, &err);
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (r < 0 && path && ab_read_file(path, CONFIG_FILE_MAX, &text, &len, NULL) >= 0)
			wrap_with_line(&err, path, text, len);
	}
	if (r < 0) {
		fprintf(stderr, "%s: configuration error: %s\n", argv[0], err.msg);
		*ret_exit = 1;
		return r;
	}
	if (check) {
		printf("configuration OK\n");
		*ret_exit = 0;
		return 0;
	}
	*ret_exit = -1;
	return 0;
}
