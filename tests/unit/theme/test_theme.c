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

/* The palettes: the shell's and the apps' colours of both modes, and a bad accent ignored. */
static void
test_palettes(void **state)
{
	struct ab_theme t;
	ab_theme_default(&t);
	assert_rgba(t.desktop, 0xe9edf3, 1);
	assert_rgba(t.title_focus, 0xf6f7f9, 1);
	assert_rgba(t.bar, 0xfbfbfd, 0.86);
	assert_rgba(t.popup, 0xffffff, 0.98);
	assert_rgba(t.hover, 0x000000, 0.07);
	assert_rgba(t.bg, 0xffffff, 1);
	assert_rgba(t.panel, 0xf6f7f9, 1);
	assert_rgba(t.text, 0x1f2329, 1);
	assert_rgba(t.accent, 0x3d8bfd, 1);
	ab_theme_set(&t, true, "not a colour");
	assert_string_equal(t.accent_hex, "#3d8bfd");
	assert_rgba(t.desktop, 0x1b1e24, 1);
	assert_rgba(t.title_blur, 0x24262d, 1);
	assert_rgba(t.bar, 0x15171c, 0.90);
	assert_rgba(t.popup, 0x23262e, 0.98);
	assert_rgba(t.hover, 0xffffff, 0.08);
	assert_rgba(t.panel, 0x23262e, 1);
	assert_rgba(t.text_dim, 0x8d93a1, 1);
	assert_rgba(t.close, 0xe5484d, 1);
	double rgb[3] = {7, 7, 7};
	assert_false(ab_theme_hex("#12345", rgb));
	assert_false(ab_theme_hex(NULL, rgb));
	assert_float_equal(rgb[0], 7, 0);
	assert_true(ab_theme_hex("#ff0080", rgb));
	assert_float_equal(rgb[2], 0x80 / 255.0, 1e-9);
}

AB_TEST_MAIN(NULL, NULL, test_parse, test_format_round_trip, test_palettes);
