/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_config: table-driven JSON configuration.
 *
 * A program describes its configuration as a plain struct, one `const` struct
 * of compiled defaults and one table of fields ({path, type, offset, bounds}).
 * The same table drives loading (with validation that names the JSON path of
 * anything wrong), --print-default-config and --check-config.
 *
 *   struct cfg { int port; char addr[64]; bool tls; json_t *users; };
 *   static const struct ab_cfg_field fields[] = {
 *           AB_CFG_INT("listen.port", struct cfg, port, 1, 65535, "TCP port"),
 *           AB_CFG_STR("listen.address", struct cfg, addr, "address to bind"),
 *           ...
 *           {0},
 *   };
 *
 * Strings live in fixed arrays inside the struct (the bound is their size);
 * JSON subtrees (lists of users, profiles...) are kept as owned json_t
 * references and validated by their module.
 */
#ifndef AB_CONFIG_H
#define AB_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"

enum ab_cfg_type {
	AB_CFG_BOOL,   /* bool */
	AB_CFG_INT,    /* long long within [min, max] */
	AB_CFG_STRING, /* char[max], optionally one of `choices` */
	AB_CFG_JSON,   /* json_t *, of JSON type `json_type` */
	AB_CFG_TYPE_MAX,
};

struct ab_cfg_field {
	const char *path;
	enum ab_cfg_type type;
	size_t offset;
	long long min, max;         /* INT: bounds; STRING: max = buffer size */
	const char *const *choices; /* STRING: NULL-terminated allowed values, or NULL */
	int json_type;              /* JSON: JSON_OBJECT or JSON_ARRAY */
	const char *json_default;   /* JSON: default value as JSON text */
	const char *help;
};

#define AB_CFG_BOOL(p, st, m, h)                                                                   \
	{                                                                                          \
		.path = p, .type = AB_CFG_BOOL, .offset = offsetof(st, m), .help = h               \
	}
#define AB_CFG_INT(p, st, m, lo, hi, h)                                                            \
	{                                                                                          \
		.path = p, .type = AB_CFG_INT, .offset = offsetof(st, m), .min = lo, .max = hi,    \
		.help = h                                                                          \
	}
#define AB_CFG_STR(p, st, m, h)                                                                    \
	{                                                                                          \
		.path = p, .type = AB_CFG_STRING, .offset = offsetof(st, m),                       \
		.max = sizeof(((st *)0)->m), .help = h                                             \
	}
#define AB_CFG_ENUM(p, st, m, ch, h)                                                               \
	{                                                                                          \
		.path = p, .type = AB_CFG_STRING, .offset = offsetof(st, m),                       \
		.max = sizeof(((st *)0)->m), .choices = ch, .help = h                              \
	}
#define AB_CFG_JSON(p, st, m, jt, def, h)                                                          \
	{                                                                                          \
		.path = p, .type = AB_CFG_JSON, .offset = offsetof(st, m), .json_type = jt,        \
		.json_default = def, .help = h                                                     \
	}

/*
 * One list, three expansions: a configuration may be written as one list of its fields, so that
 * each field (its member, its compiled default and its table row) is written once:
 *
 *   #define CFG_FIELDS(INT, BOOL, STR, ENUM, JSON) \
 *           INT("listen.port", port, 8080, 1, 65535, "TCP port") \
 *           STR("listen.address", addr, 64, "127.0.0.1", "address to bind") \
 *           BOOL("tls", tls, false, "HTTPS") \
 *           ENUM("log.level", level, 8, levels, "info", "how much to log") \
 *           JSON("users", users, JSON_ARRAY, "[]", "the user table")
 *   struct cfg { AB_CFG_MEMBERS(CFG_FIELDS) };
 *   const struct cfg cfg_defaults = {AB_CFG_DEFAULTS(CFG_FIELDS)};
 *   #define AB_CFG_STRUCT struct cfg
 *   const struct ab_cfg_field cfg_fields[] = {AB_CFG_ROWS(CFG_FIELDS){0}};
 *
 * INT is a long long within [min, max]; STR and ENUM a char[size] (ENUM one of the choices);
 * JSON an owned json_t * whose default is JSON text. A JSON field's member starts NULL (its
 * default is parsed by ab_config_init()).
 */
#define AB_CFG_MEMBER_INT(p, m, def, lo, hi, h)     long long m;
#define AB_CFG_MEMBER_BOOL(p, m, def, h)            bool m;
#define AB_CFG_MEMBER_STR(p, m, size, def, h)       char m[size];
#define AB_CFG_MEMBER_ENUM(p, m, size, ch, def, h)  char m[size];
#define AB_CFG_MEMBER_JSON(p, m, jt, def, h)        json_t *m;
#define AB_CFG_DEFAULT_INT(p, m, def, lo, hi, h)    .m = (def),
#define AB_CFG_DEFAULT_BOOL(p, m, def, h)           .m = (def),
#define AB_CFG_DEFAULT_STR(p, m, size, def, h)      .m = def,
#define AB_CFG_DEFAULT_ENUM(p, m, size, ch, def, h) .m = def,
#define AB_CFG_DEFAULT_JSON(p, m, jt, def, h)
#define AB_CFG_ROW_INT(p, m, def, lo, hi, h)    AB_CFG_INT(p, AB_CFG_STRUCT, m, lo, hi, h),
#define AB_CFG_ROW_BOOL(p, m, def, h)           AB_CFG_BOOL(p, AB_CFG_STRUCT, m, h),
#define AB_CFG_ROW_STR(p, m, size, def, h)      AB_CFG_STR(p, AB_CFG_STRUCT, m, h),
#define AB_CFG_ROW_ENUM(p, m, size, ch, def, h) AB_CFG_ENUM(p, AB_CFG_STRUCT, m, ch, h),
#define AB_CFG_ROW_JSON(p, m, jt, def, h)       AB_CFG_JSON(p, AB_CFG_STRUCT, m, jt, def, h),
#define AB_CFG_MEMBERS(list)                                                                       \
	list(AB_CFG_MEMBER_INT, AB_CFG_MEMBER_BOOL, AB_CFG_MEMBER_STR, AB_CFG_MEMBER_ENUM,         \
	     AB_CFG_MEMBER_JSON)
#define AB_CFG_DEFAULTS(list)                                                                      \
	list(AB_CFG_DEFAULT_INT, AB_CFG_DEFAULT_BOOL, AB_CFG_DEFAULT_STR, AB_CFG_DEFAULT_ENUM,     \
	     AB_CFG_DEFAULT_JSON)
#define AB_CFG_ROWS(list)                                                                          \
	list(AB_CFG_ROW_INT, AB_CFG_ROW_BOOL, AB_CFG_ROW_STR, AB_CFG_ROW_ENUM, AB_CFG_ROW_JSON)

/*
 * Copies `defaults` (of `size` bytes) into `cfg` and parses the default of
 * every JSON field. Free with ab_config_free().
 */
void ab_config_init(const struct ab_cfg_field *fields, void *cfg, const void *defaults,
                    size_t size);

/* Applies the values in `root` on top of what `cfg` holds. */
int ab_config_apply_json(const struct ab_cfg_field *fields, void *cfg, json_t *root,
                         struct ab_err *err);

/* Reads the JSON file at `path` (at most 4 MiB) and applies it. */
int ab_config_load_file(const struct ab_cfg_field *fields, void *cfg, const char *path,
                        struct ab_err *err);

/* Returns a new JSON object holding every field of cfg (nested by path). */
json_t *ab_config_to_json(const struct ab_cfg_field *fields, const void *cfg);

/* Prints ab_config_to_json() to `f`, indented. */
void ab_config_print(const struct ab_cfg_field *fields, const void *cfg, FILE *f);

/*
 * Prints a Markdown table of every field: path, type, default (as held by
 * `cfg`), bounds or choices, and its help text. The README's configuration
 * reference is this output.
 */
void ab_config_print_reference(const struct ab_cfg_field *fields, const void *cfg, FILE *f);

/* "an object", "an array", "a string", ... for error messages about a JSON value of type t. */
const char *ab_config_json_type_name(int t);

/* Releases the JSON references held by cfg. */
void ab_config_free(const struct ab_cfg_field *fields, void *cfg);

/*
 * Handles the options every daemon shares. Scans argv for `--config FILE`,
 * `--check-config`, `--print-default-config` and `--print-config-reference`:
 *   --print-default-config prints the defaults and sets *ret_exit to 0;
 *   --print-config-reference prints ab_config_print_reference() and sets *ret_exit to 0;
 *   --config loads the file, then `validate` (may be NULL) checks the whole;
 *     an error is printed and sets *ret_exit to 1;
 *   --check-config, after loading and validating, prints "configuration OK"
 *     and sets *ret_exit to 0.
 * *ret_exit is -1 when the program should go on. Returns 0 or -errno.
 */
int ab_config_cli(const struct ab_cfg_field *fields, void *cfg, int argc, char **argv,
                  int (*validate)(void *cfg, struct ab_err *err), int *ret_exit);

#endif
