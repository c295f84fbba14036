/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_apptheme: the wm's published theme, parsed into an app palette (no X). */
#include "ab_apptheme.h"
#include "ab_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool
apptheme_hex(const char *s, double *rgb)
{
	if (!s || s[0] != '#' || strlen(s) != 7)
		return false;
	for (int i = 1; i < 7; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	unsigned v = 0;
	sscanf(s + 1, "%6x", &v);
	rgb[0] = ((v >> 16) & 0xff) / 255.0;
	rgb[1] = ((v >> 8) & 0xff) / 255.0;
	rgb[2] = (v & 0xff) / 255.0;
	return true;
}

/* The same colours as wm/theme.c, so apps look like the shell. */
static void
palette(struct ab_apptheme *t)
{
	if (t->dark) {
		apptheme_hex("#1b1e24", t->bg);
		apptheme_hex("#23262e", t->panel);
		apptheme_hex("#eceef3", t->text);
		apptheme_hex("#8d93a1", t->text_dim);
		apptheme_hex("#3a3e48", t->border);
		apptheme_hex("#2c2f37", t->hover);
	} else {
		apptheme_hex("#ffffff", t->bg);
		apptheme_hex("#f6f7f9", t->panel);
		apptheme_hex("#1f2329", t->text);
		apptheme_hex("#6b7280", t->text_dim);
		apptheme_hex("#c8ccd4", t->border);
		apptheme_hex("#e9eaee", t->hover);
	}
	apptheme_hex(t->accent_hex, t->accent);
	apptheme_hex("#ffffff", t->sel_text);
}

void
apptheme_default(struct ab_apptheme *t)
{
	memset(t, 0, sizeof(*t));
	t->dark = false;
	snprintf(t->accent_hex, sizeof(t->accent_hex), "#3d8bfd");
	snprintf(t->font, sizeof(t->font), "Noto Sans,DejaVu Sans 10");
	palette(t);
}

int
apptheme_parse(const char *text, struct ab_apptheme *t, struct ab_err *err)
{
	struct ab_apptheme n;
	apptheme_default(&n);
	const char *p = text;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[128];
		if (len >= sizeof(line))
			return ab_err_set(err, EINVAL, "theme: line longer than %zu bytes",
			                  sizeof(line) - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol ? eol + 1 : NULL;
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		double rgb[3];
		if (strcmp(k, "mode") == 0) {
			if (strcmp(v, "dark") == 0)
				n.dark = true;
			else if (strcmp(v, "light") == 0)
				n.dark = false;
			else
				return ab_err_set(err, EINVAL,
				                  "theme: mode '%.16s' is not dark/light", v);
		} else if (strcmp(k, "accent") == 0) {
			if (!apptheme_hex(v, rgb))
				return ab_err_set(err, EINVAL,
				                  "theme: accent '%.16s' is not #rrggbb", v);
			snprintf(n.accent_hex, sizeof(n.accent_hex), "%s", v);
		} else if (strcmp(k, "font") == 0) {
			if (!v[0] || strlen(v) >= sizeof(n.font))
				return ab_err_set(err, EINVAL, "theme: font is empty or too long");
			snprintf(n.font, sizeof(n.font), "%s", v);
		}
	}
	palette(&n);
	*t = n;
	return 0;
}
