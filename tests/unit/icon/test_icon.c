/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/icon: the icon theme lookup on temp themes, PNG/SVG decoding, the cache, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_icon.h"
#include "ab_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *const dir = ab_test_dir;

static void
mkdirs(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	for (char *s = p + strlen(dir) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void
write_text(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A w x h PNG of one colour (0xRRGGBB). */
static void
write_png(const char *rel, int w, int h, unsigned rgb)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
	cairo_t *cr = cairo_create(s);
	cairo_set_source_rgb(cr, (rgb >> 16) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
	                     (rgb & 0xff) / 255.0);
	cairo_paint(cr);
	cairo_destroy(cr);
	assert_int_equal(cairo_surface_write_to_png(s, p), CAIRO_STATUS_SUCCESS);
	cairo_surface_destroy(s);
}

static const char svg_green[] =
    "<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16' viewBox='0 0 16 16'>"
    "<rect width='16' height='16' fill='#00ff00'/></svg>\n";

/*
 * base1/T: index.theme (16x16/apps Fixed, 48x48/apps Threshold, scalable/apps Scalable 8..512,
 *          a directory outside the theme and a Scale=2 one ignored), Inherits=P
 * base1/P: index.theme, Inherits=T (a loop)
 * base2/hicolor: no index.theme (the built-in layout)
 * base2/loose.png: a pixmaps-style icon
 */
static void
make_themes(void)
{
	mkdirs("base1/T/16x16/apps");
	mkdirs("base1/T/48x48/apps");
	mkdirs("base1/T/scalable/apps");
	mkdirs("base1/T/32x32@2/apps");
	mkdirs("base1/P/24x24/apps");
	mkdirs("base2/hicolor/scalable/apps");
	mkdirs("base2/hicolor/48x48/apps");
	write_text("base1/T/index.theme",
	           "[Icon Theme]\nName=T\nInherits=P\n"
	           "Directories=16x16/apps,48x48/apps,scalable/apps,../../escape,32x32@2/apps\n"
	           "[16x16/apps]\nSize=16\nType=Fixed\n"
	           "[48x48/apps]\nSize=48\nType=Threshold\n"
	           "[scalable/apps]\nSize=64\nMinSize=8\nMaxSize=512\nType=Scalable\n"
	           "[32x32@2/apps]\nSize=32\nScale=2\nType=Fixed\n"
	           "[../../escape]\nSize=16\n");
	write_text("base1/P/index.theme", "[Icon Theme]\nName=P\nInherits=T\n"
	                                  "Directories=24x24/apps\n[24x24/apps]\nSize=24\n");
	write_png("base1/T/16x16/apps/app.png", 16, 16, 0xff0000);
	write_png("base1/T/48x48/apps/app.png", 48, 48, 0x0000ff);
	write_text("base1/T/16x16/apps/both.svg", svg_green);
	write_png("base1/T/16x16/apps/both.png", 16, 16, 0xff0000);
	write_png("base1/T/48x48/apps/sized.png", 48, 48, 0x0000ff);
	write_png("base1/T/32x32@2/apps/scaled.png", 64, 64, 0xff0000);
	write_png("base1/P/24x24/apps/parent.png", 24, 24, 0xff0000);
	write_text("base2/hicolor/scalable/apps/own.svg", svg_green);
	write_png("base2/hicolor/48x48/apps/app.png", 48, 48, 0x00ff00);
	write_png("base2/loose.png", 10, 10, 0xff0000);
}

static struct ab_icons *
icons_new(void)
{
	make_themes();
	char bases[300];
	snprintf(bases, sizeof(bases), "%s/base1:%s/base2", dir, dir);
	return ab_icons_new(bases, NULL, "T");
}

/* The path found for name at size, relative to the test dir ("" when none). */
static const char *
found(struct ab_icons *ic, const char *name, int size)
{
	static char rel[512];
	char *p = NULL;
	struct ab_err err = {0};
	rel[0] = '\0';
	if (ab_icons_find(ic, name, size, &p, &err) == 0) {
		size_t n = strlen(dir);
		snprintf(rel, sizeof(rel), "%s", strncmp(p, dir, n) == 0 ? p + n + 1 : p);
		free(p);
	}
	return rel;
}

static void
test_lookup_sizes(void **state)
{
	(void)state;
	struct ab_icons *ic = icons_new();
	/* exact matches first */
	assert_string_equal(found(ic, "app", 16), "base1/T/16x16/apps/app.png");
	assert_string_equal(found(ic, "app", 48), "base1/T/48x48/apps/app.png");
	assert_string_equal(found(ic, "app", 50), "base1/T/48x48/apps/app.png"); /* threshold */
	/* no matching directory: the closest size */
	assert_string_equal(found(ic, "sized", 20), "base1/T/48x48/apps/sized.png");
	assert_string_equal(found(ic, "app", 20), "base1/T/16x16/apps/app.png");
	/* PNG before SVG in one directory */
	assert_string_equal(found(ic, "both", 16), "base1/T/16x16/apps/both.png");
	/* Scale=2 directories and directories escaping the theme are not used */
	assert_string_equal(found(ic, "scaled", 32), "");
	ab_icons_free(ic);
}

static void
test_lookup_inherits_hicolor_pixmaps(void **state)
{
	(void)state;
	struct ab_icons *ic = icons_new();
	/* Inherits=P (which inherits T back: the loop ends) */
	assert_string_equal(found(ic, "parent", 24), "base1/P/24x24/apps/parent.png");
	/* hicolor without an index.theme: the built-in layout; scalable matches any size */
	assert_string_equal(found(ic, "own", 28), "base2/hicolor/scalable/apps/own.svg");
	/* the theme's own icon wins over hicolor's */
	assert_string_equal(found(ic, "app", 48), "base1/T/48x48/apps/app.png");
	/* last, the base directories themselves; a trailing extension is dropped */
	assert_string_equal(found(ic, "loose", 32), "base2/loose.png");
	assert_string_equal(found(ic, "loose.png", 32), "base2/loose.png");
	assert_string_equal(found(ic, "loose.xpm", 32), "base2/loose.png");
	ab_icons_free(ic);
}

static void
test_lookup_bad_names(void **state)
{
	(void)state;
	struct ab_icons *ic = icons_new();
	const char *bad[] = {"", "..", "../T/16x16/apps/app", "16x16/apps/app", "a\nb", ".png"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		char *p = NULL;
		struct ab_err err = {0};
		assert_int_equal(ab_icons_find(ic, bad[i], 16, &p, &err), -EINVAL);
		assert_null(p);
		assert_non_null(strstr(err.msg, "icon"));
	}
	char *p = NULL;
	struct ab_err err = {0};
	assert_int_equal(ab_icons_find(ic, "nothing-by-this-name", 16, &p, &err), -ENOENT);
	assert_string_equal(err.msg, "no icon named 'nothing-by-this-name'");
	/* absolute paths: a PNG or SVG that exists */
	char abs[512];
	snprintf(abs, sizeof(abs), "%s/base2/loose.png", dir);
	assert_int_equal(ab_icons_find(ic, abs, 16, &p, &err), 0);
	assert_string_equal(p, abs);
	free(p);
	p = NULL;
	snprintf(abs, sizeof(abs), "%s/base1/T/index.theme", dir);
	assert_int_equal(ab_icons_find(ic, abs, 16, &p, &err), -EINVAL);
	snprintf(abs, sizeof(abs), "%s/missing.svg", dir);
	assert_int_equal(ab_icons_find(ic, abs, 16, &p, &err), -ENOENT);
	assert_null(p);
	ab_icons_free(ic);
}

static unsigned
pixel(cairo_surface_t *s, int x, int y)
{
	cairo_surface_flush(s);
	const unsigned char *d = cairo_image_surface_get_data(s);
	int stride = cairo_image_surface_get_stride(s);
	uint32_t v;
	memcpy(&v, d + y * stride + x * 4, 4);
	return v & 0xffffff;
}

static void
test_load_png_svg(void **state)
{
	(void)state;
	make_themes();
	char p[512];
	struct ab_err err = {0};
	snprintf(p, sizeof(p), "%s/base1/T/48x48/apps/app.png", dir);
	cairo_surface_t *s = ab_icon_load_file(p, 28, &err);
	assert_non_null(s);
	assert_int_equal(cairo_image_surface_get_width(s), 28);
	assert_int_equal(pixel(s, 14, 14), 0x0000ff);
	cairo_surface_destroy(s);
	snprintf(p, sizeof(p), "%s/base2/hicolor/scalable/apps/own.svg", dir);
	s = ab_icon_load_file(p, 40, &err);
	assert_non_null(s);
	assert_int_equal(cairo_image_surface_get_height(s), 40);
	assert_int_equal(pixel(s, 39, 39), 0x00ff00); /* scaled to the whole size */
	cairo_surface_destroy(s);
}

static void
test_load_broken(void **state)
{
	(void)state;
	write_text("broken.svg", "<svg xmlns='http://www.w3.org/2000/svg'><rect");
	write_text("broken.png", "not a png at all");
	char p[512];
	const char *names[] = {"broken.svg", "broken.png", "absent.png"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(names); i++) {
		struct ab_err err = {0};
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		assert_null(ab_icon_load_file(p, 24, &err));
		assert_non_null(strstr(err.msg, names[i])); /* the message names the file */
	}
	/* a file too big to be an icon is not read */
	snprintf(p, sizeof(p), "%s/huge.png", dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 9 << 20), 0);
	fclose(f);
	struct ab_err err = {0};
	assert_null(ab_icon_load_file(p, 24, &err));
	assert_int_equal(err.code, EFBIG);
	assert_null(ab_icon_load_file(p, 0, &err));
}

static void
test_cache(void **state)
{
	(void)state;
	struct ab_icons *ic = icons_new();
	write_text("base1/T/16x16/apps/bad.svg", "<svg");
	cairo_surface_t *a = ab_icons_get(ic, "app", 16);
	assert_non_null(a);
	assert_int_equal(pixel(a, 8, 8), 0xff0000);
	assert_ptr_equal(ab_icons_get(ic, "app", 16), a);
	assert_int_equal(ab_icons_stats(ic).lookups, 1);
	assert_int_equal(ab_icons_stats(ic).loads, 1);
	/* another size is another entry */
	cairo_surface_t *b = ab_icons_get(ic, "app", 48);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(cairo_image_surface_get_width(b), 48);
	/* misses and broken files are cached too: NULL, looked up once */
	assert_null(ab_icons_get(ic, "missing", 16));
	assert_null(ab_icons_get(ic, "missing", 16));
	assert_null(ab_icons_get(ic, "bad", 16));
	assert_null(ab_icons_get(ic, "bad", 16));
	assert_null(ab_icons_get(ic, "../etc/passwd", 16));
	assert_null(ab_icons_get(ic, "", 16));
	assert_int_equal(ab_icons_stats(ic).lookups, 5);
	/* more names than the cache holds: older ones are dropped, nothing leaks */
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_null(ab_icons_get(ic, name, 16));
	}
	assert_non_null(ab_icons_get(ic, "app", 16));
	ab_icons_free(ic);
	ab_icons_free(NULL);
}

static void
test_default_bases(void **state)
{
	(void)state;
	make_themes();
	/* XDG_DATA_DIRS/icons, and the extra directory (the wm's assets/icons) */
	char data[300], extra[300];
	snprintf(data, sizeof(data), "%s/nothing:%s", dir, dir);
	mkdirs("icons/hicolor/scalable/apps");
	write_text("icons/hicolor/scalable/apps/from-data.svg", svg_green);
	snprintf(extra, sizeof(extra), "%s/base2", dir);
	setenv("XDG_DATA_DIRS", data, 1);
	setenv("HOME", dir, 1);
	struct ab_icons *ic = ab_icons_new(NULL, extra, "NoSuchTheme");
	assert_string_equal(found(ic, "from-data", 32),
	                    "icons/hicolor/scalable/apps/from-data.svg");
	assert_string_equal(found(ic, "own", 32), "base2/hicolor/scalable/apps/own.svg");
	ab_icons_free(ic);
}

AB_TEST_MAIN_FIXTURE(ab_test_dir_setup, ab_test_dir_teardown, test_lookup_sizes,
                     test_lookup_inherits_hicolor_pixmaps, test_lookup_bad_names, test_load_png_svg,
                     test_load_broken, test_cache, test_default_bases)
