/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_theme: the palettes, and the theme's published text form (see ab_theme.h). */
#include "ab_theme.h"
#include "ab_err.h"
#include "ab_util.h"
#include "deskstate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * Every colour of both modes, one row a colour: where it goes in struct ab_theme, then the
 * light and the dark value, each "#rrggbb" and an alpha. The accent is not here: it is the
 * theme's own.
 */
#define AT(field) offsetof(struct ab_theme, field)
static const struct colour {
	size_t at;
	const char *light;
	double light_alpha;
	const char *dark;
	double dark_alpha;
} colours[] = {
    {AT(text), "#1f2329", 1, "#eceef3", 1},        {AT(text_dim), "#6b7280", 1, "#8d93a1", 1},
    {AT(border), "#c8ccd4", 1, "#3a3e48", 1},      {AT(close), "#e5484d", 1, "#e5484d", 1},
    {AT(sel_text), "#ffffff", 1, "#ffffff", 1},    {AT(desktop), "#e9edf3", 1, "#1b1e24", 1},
    {AT(title_focus), "#f6f7f9", 1, "#2c2f37", 1}, {AT(title_blur), "#e9eaee", 1, "#24262d", 1},
    {AT(bar), "#fbfbfd", 0.86, "#15171c", 0.90},   {AT(popup), "#ffffff", 0.98, "#23262e", 0.98},
    {AT(hover), "#000000", 0.07, "#ffffff", 0.08}, {AT(bg), "#ffffff", 1, "#1b1e24", 1},
    {AT(panel), "#f6f7f9", 1, "#23262e", 1},
};
#undef AT

bool
ab_theme_hex(const char *s, double *rgb)
{
	if (!s || !deskstate_valid_colour(s))
		return false;
	unsigned v = 0;
	sscanf(s + 1, "%6x", &v);
	rgb[0] = ((v >> 16) & 0xff) / 255.0;
	rgb[1] = ((v >> 8) & 0xff) / 255.0;
	rgb[2] = (v & 0xff) / 255.0;
	return true;
}

void
ab_theme_set(struct ab_theme *t, bool dark, const char *accent)
{
	t->dark = dark;
	if (accent && deskstate_valid_colour(accent))
		snprintf(t->accent_hex, sizeof(t->accent_hex), "%s", accent);
	for (size_t i = 0; i < AB_ARRAY_SIZE(colours); i++) {
		const struct colour *c = &colours[i];
		double *rgba = (double *)((char *)t + c->at);
		ab_theme_hex(dark ? c->dark : c->light, rgba);
		rgba[3] = dark ? c->dark_alpha : c->light_alpha;
	}
	ab_theme_hex(t->accent_hex, t->accent);
	t->accent[3] = 1;
}

void
ab_theme_default(struct ab_theme *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->accent_hex, sizeof(t->accent_hex), "%s", AB_THEME_ACCENT);
	snprintf(t->font, sizeof(t->font), "%s", AB_THEME_FONT);
	ab_theme_set(t, false, NULL);
}

int
ab_theme_format(const struct ab_theme *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "mode=%s\naccent=%s\nfont=%s\n",
	                 deskstate_mode_name(t->dark ? DESKSTATE_DARK : DESKSTATE_LIGHT),
	                 t->accent_hex, t->font);
	return n >= 0 && (size_t)n < size ? n : -ENOSPC;
}

/* One "key=value" line of the published form into *n. */
static int
parse_line(char *line, struct ab_theme *n, struct ab_err *err)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return 0;
	*eq = '\0';
	const char *k = line, *v = eq + 1;
	if (strcmp(k, "mode") == 0) {
		if (strcmp(v, deskstate_mode_name(DESKSTATE_DARK)) == 0)
			n->dark = true;
		else if (strcmp(v, deskstate_mode_name(DESKSTATE_LIGHT)) == 0)
			n->dark = false;
		else
			return ab_err_set(err, EINVAL, "theme: mode '%.16s' is not dark/light", v);
	} else if (strcmp(k, "accent") == 0) {
		if (!deskstate_valid_colour(v))
			return ab_err_set(err, EINVAL, "theme: accent '%.16s' is not #rrggbb", v);
		snprintf(n->accent_hex, sizeof(n->accent_hex), "%s", v);
	} else if (strcmp(k, "font") == 0) {
		if (!v[0] || strlen(v) >= sizeof(n->font))
			return ab_err_set(err, EINVAL, "theme: font is empty or too long");
		snprintf(n->font, sizeof(n->font), "%s", v);
	}
	return 0;
}

int
ab_theme_parse(const char *text, struct ab_theme *t, struct ab_err *err)
{
	struct ab_theme n;
	ab_theme_default(&n);
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
		int r = parse_line(line, &n, err);
		if (r < 0)
			return r;
	}
	ab_theme_set(&n, n.dark, NULL);
	*t = n;
	return 0;
}
