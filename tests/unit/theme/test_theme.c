/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/theme: the defaults, the published form both ways, bad values, both modes' palettes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "ab_theme.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
assert_rgba(const double *c, unsigned rgb, double alpha)
{
	assert_float_equal(c[0], ((rgb >> 16) & 0xff) / 255.0, 1e-9);
	assert_float_equal(c[1], ((rgb >> 8) & 0xff) / 255.0, 1e-9);
	assert_float_equal(c[2], (rgb & 0xff) / 255.0, 1e-9);
	assert_float_equal(c[3], alpha, 1e-9);
}

static void
test_parse(void **state)
{
	struct ab_theme t;
	struct ab_err err = {0};
	ab_theme_default(&t);
	assert_false(t.dark);
	assert_string_equal(t.accent_hex, "#3d8bfd");
	assert_string_equal(t.font, "Noto Sans,DejaVu Sans 10");
	assert_int_equal(
	    ab_theme_parse("mode=dark\naccent=#ff8800\nfont=Noto Sans 12\nnew=1\n", &t, &err), 0);
	assert_true(t.dark);
	assert_string_equal(t.accent_hex, "#ff8800");
	assert_string_equal(t.font, "Noto Sans 12");
	assert_float_equal(t.accent[0], 1.0, 1e-9);
	assert_float_equal(t.accent[1], 0x88 / 255.0, 1e-9);
	assert_float_equal(t.bg[0], 0x1b / 255.0, 1e-9); /* the wm's dark background */
	/* errors name the value and leave the theme untouched */
	assert_int_equal(ab_theme_parse("mode=blue\n", &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'blue'"));
	assert_true(t.dark);
	assert_int_equal(ab_theme_parse("accent=#12345g", &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'#12345g'"));
	assert_int_equal(ab_theme_parse("accent=red", &t, &err), -EINVAL);
	assert_int_equal(ab_theme_parse("font=\n", &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "font"));
	char longline[200];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(ab_theme_parse(longline, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than 127 bytes"));
	assert_string_equal(t.accent_hex, "#ff8800");
	/* empty: the defaults */
	assert_int_equal(ab_theme_parse("", &t, &err), 0);
	assert_false(t.dark);
	assert_string_equal(t.accent_hex, "#3d8bfd");
}

/* What the wm publishes is what the apps read back. */
static void
test_format_round_trip(void **state)
{
	struct ab_theme w, a;
	struct ab_err err = {0};
	char buf[160];
	ab_theme_default(&w);
	snprintf(w.font, sizeof(w.font), "DejaVu Sans 11");
	ab_theme_set(&w, true, "#43a58a");
	int n = ab_theme_format(&w, buf, sizeof(buf));
	assert_string_equal(buf, "mode=dark\naccent=#43a58a\nfont=DejaVu Sans 11\n");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(ab_theme_parse(buf, &a, &err), 0);
	assert_true(a.dark);
	assert_string_equal(a.accent_hex, w.accent_hex);
	assert_string_equal(a.font, w.font);
	/* every colour, accent to the last (doubles, no padding between them) */
	assert_memory_equal(a.accent, w.accent, sizeof(a) - offsetof(struct ab_theme, accent));
	/* too small a buffer is said, not silently cut */
	assert_int_equal(ab_theme_format(&w, buf, 16), -ENOSPC);
}

/* Every colour the wm and the apps drew with before lib/theme: light, then dark (rgb, alpha). */
#define AT(field) offsetof(struct ab_theme, field)
static const struct want {
	size_t at;
	unsigned light;
	double light_alpha;
	unsigned dark;
	double dark_alpha;
} wants[] = {
    {AT(text), 0x1f2329, 1, 0xeceef3, 1},        {AT(text_dim), 0x6b7280, 1, 0x8d93a1, 1},
    {AT(border), 0xc8ccd4, 1, 0x3a3e48, 1},      {AT(close), 0xe5484d, 1, 0xe5484d, 1},
    {AT(sel_text), 0xffffff, 1, 0xffffff, 1},    {AT(desktop), 0xe9edf3, 1, 0x1b1e24, 1},
    {AT(title_focus), 0xf6f7f9, 1, 0x2c2f37, 1}, {AT(title_blur), 0xe9eaee, 1, 0x24262d, 1},
    {AT(bar), 0xfbfbfd, 0.86, 0x15171c, 0.90},   {AT(popup), 0xffffff, 0.98, 0x23262e, 0.98},
    {AT(hover), 0x000000, 0.07, 0xffffff, 0.08}, {AT(bg), 0xffffff, 1, 0x1b1e24, 1},
    {AT(panel), 0xf6f7f9, 1, 0x23262e, 1},       {AT(accent), 0x3d8bfd, 1, 0x3d8bfd, 1},
};

/* The palettes of both modes, and a bad accent ignored. */
static void
test_palettes(void **state)
{
	struct ab_theme t;
	ab_theme_default(&t);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		assert_rgba((const double *)((const char *)&t + wants[i].at), wants[i].light,
		            wants[i].light_alpha);
	ab_theme_set(&t, true, "not a colour");
	assert_string_equal(t.accent_hex, "#3d8bfd");
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		assert_rgba((const double *)((const char *)&t + wants[i].at), wants[i].dark,
		            wants[i].dark_alpha);
	double rgb[3] = {7, 7, 7};
	assert_false(ab_theme_hex("#12345", rgb));
	assert_false(ab_theme_hex(NULL, rgb));
	assert_float_equal(rgb[0], 7, 0);
	assert_true(ab_theme_hex("#ff0080", rgb));
	assert_float_equal(rgb[2], 0x80 / 255.0, 1e-9);
}

AB_TEST_MAIN(NULL, NULL, test_parse, test_format_round_trip, test_palettes);
