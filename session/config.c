/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const landlock_modes[] = {"auto", "on", "off", NULL};

#define AB_CFG_STRUCT struct session_config
const struct ab_cfg_field session_config_fields[] = {AB_CFG_ROWS(SESSION_CONFIG){0}};
#undef AB_CFG_STRUCT

const struct session_config session_config_defaults = {AB_CFG_DEFAULTS(SESSION_CONFIG)};

/* `a` (a JSON array, or NULL) holds only absolute, non-empty path strings. */
static int
check_paths(const char *name, json_t *a, struct ab_err *err)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *p = json_string_value(v);
		if (!p)
			return ab_err_set(err, EINVAL, "%s[%zu]: expected a string, got %s", name,
			                  i, ab_config_json_type_name(json_typeof(v)));
		if (p[0] != '/' || strlen(p) >= 4096)
			return ab_err_set(err, EINVAL, "%s[%zu]: '%s' is not an absolute path",
			                  name, i, p);
	}
	return 0;
}

int
session_config_validate(void *p, struct ab_err *err)
{
	struct session_config *c = p;
	if (c->min_width > c->max_width || c->min_height > c->max_height)
		return ab_err_set(
		    err, EINVAL,
		    "display.min_width/min_height exceed display.max_width/max_height");
	if (c->width < c->min_width || c->width > c->max_width)
		return ab_err_set(err, EINVAL,
		                  "display.width %lld outside [display.min_width %lld, "
		                  "display.max_width %lld]",
		                  c->width, c->min_width, c->max_width);
	if (c->height < c->min_height || c->height > c->max_height)
		return ab_err_set(err, EINVAL,
		                  "display.height %lld outside [display.min_height %lld, "
		                  "display.max_height %lld]",
		                  c->height, c->min_height, c->max_height);
	if (c->restart_min_ms > c->restart_max_ms)
		return ab_err_set(err, EINVAL,
		                  "desktop.restart_min_ms exceeds desktop.restart_max_ms");
	int r;
	if ((r = check_paths("landlock.read_write", c->landlock_read_write, err)) < 0 ||
	    (r = check_paths("landlock.read_only", c->landlock_read_only, err)) < 0)
		return r;
	return 0;
}

int
session_parse_geometry(const char *s, long long *w, long long *h)
{
	char *end;
	errno = 0;
	long long a = strtoll(s, &end, 10);
	if (errno || end == s || (*end != 'x' && *end != 'X'))
		return -EINVAL;
	const char *p = end + 1;
	long long b = strtoll(p, &end, 10);
	if (errno || end == p || *end || a <= 0 || b <= 0)
		return -EINVAL;
	*w = a;
	*h = b;
	return 0;
}
