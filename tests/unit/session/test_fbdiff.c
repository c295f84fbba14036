/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <stdlib.h>
#include <string.h>

#include "fbdiff.h"

#define W      300
#define H      200
#define STRIDE (W * 4 + 16) /* padded, like Xvfb's may be */

static uint8_t *
fb_new(void)
{
	uint8_t *fb = calloc(1, (size_t)STRIDE * H);
	assert_non_null(fb);
	return fb;
}

static void
put(uint8_t *fb, int x, int y, uint32_t p)
{
	memcpy(fb + (size_t)y * STRIDE + (size_t)x * 4, &p, 4);
}

/* a "terminal": each 10-row text line has a distinct pattern on its rows */
static void
draw_text(uint8_t *fb, int first_line, int y0, int y1)
{
	for (int y = y0; y < y1; y++) {
		int line = first_line + (y - y0) / 10, r = (y - y0) % 10;
		for (int x = 0; x < W; x++) {
			uint32_t k = (uint32_t)(line * 40503 + r * 977 + x / 6);
			k = (k ^ (k >> 16)) * 0x85ebca6bu;
			k = (k ^ (k >> 13)) * 0xc2b2ae35u;
			k ^= k >> 16;
			uint32_t p = (r == 9 || (k >> 28) < 11) ? 0 : 0xffffff;
			put(fb, x, y, p);
		}
	}
}

struct marks {
	int n;
	struct fbdiff_rect r[64];
};

static void
mark(void *data, const struct fbdiff_rect *r)
{
	struct marks *m = data;
	assert_true(m->n < 64);
	m->r[m->n++] = *r;
}

static void
test_unchanged_damage_marks_nothing(void **state)
{
	uint8_t *a = fb_new(), *b = fb_new();
	draw_text(a, 0, 0, H);
	draw_text(b, 0, 0, H);
	struct marks m = {0};
	struct fbdiff_rect all = {0, 0, W, H};
	assert_int_equal(fbdiff_update(a, STRIDE, b, STRIDE, &all, mark, &m), 0);
	assert_int_equal(m.n, 0);
	free(a);
	free(b);
}

static void
test_one_pixel_change_is_one_pixel_rect(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	put(cur, 100, 70, 0x123456);
	struct marks m = {0};
	struct fbdiff_rect all = {0, 0, W, H};
	assert_int_equal(fbdiff_update(shadow, STRIDE, cur, STRIDE, &all, mark, &m), 1);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.r[0].x1, 100);
	assert_int_equal(m.r[0].x2, 101);
	assert_int_equal(m.r[0].y1, 70);
	assert_int_equal(m.r[0].y2, 71);
	/* the shadow took the change: a second pass finds nothing */
	assert_memory_equal(shadow, cur, (size_t)STRIDE * H);
	m.n = 0;
	assert_int_equal(fbdiff_update(shadow, STRIDE, cur, STRIDE, &all, mark, &m), 0);
	free(shadow);
	free(cur);
}

static void
test_changes_split_per_tile_and_clipped_to_rect(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	put(cur, 10, 10, 1);   /* tile (0,0) */
	put(cur, 130, 10, 2);  /* tile (2,0) */
	put(cur, 131, 100, 3); /* tile (2,1) */
	put(cur, 299, 199, 4); /* outside the damage rect below */
	struct marks m = {0};
	struct fbdiff_rect r = {5, 5, 200, 150};
	assert_int_equal(fbdiff_update(shadow, STRIDE, cur, STRIDE, &r, mark, &m), 3);
	assert_int_equal(m.n, 3);
	for (int i = 0; i < m.n; i++) {
		assert_int_equal(m.r[i].x1 / FBDIFF_TILE, (m.r[i].x2 - 1) / FBDIFF_TILE);
		assert_int_equal(m.r[i].y1 / FBDIFF_TILE, (m.r[i].y2 - 1) / FBDIFF_TILE);
	}
	/* undamaged pixels are left alone (the next damage event reports them) */
	uint32_t p;
	memcpy(&p, shadow + (size_t)199 * STRIDE + 299 * 4, 4);
	assert_int_equal(p, 0);
	free(shadow);
	free(cur);
}

/* a column of changes split by a few unchanged rows at a tile boundary: one rectangle */
static void
test_neighbours_joined(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	for (int y = 40; y < 60; y++) /* tile row 0 */
		put(cur, 20 + y % 3, y, 7);
	for (int y = 70; y < 90; y++) /* tile row 1, 10 unchanged rows below */
		put(cur, 24 + y % 5, y, 7);
	for (int y = 150; y < 160; y++) /* tile row 2, 60 rows below: separate */
		put(cur, 20, y, 7);
	struct marks m = {0};
	struct fbdiff_rect r = {0, 0, W, H};
	long n = fbdiff_update(shadow, STRIDE, cur, STRIDE, &r, mark, &m);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.r[0].x1, 20);
	assert_int_equal(m.r[0].x2, 29);
	assert_int_equal(m.r[0].y1, 40);
	assert_int_equal(m.r[0].y2, 90);
	assert_int_equal(m.r[1].y1, 150);
	assert_int_equal(m.r[1].y2, 160);
	assert_int_equal(n, 9 * 50 + 10);
	/* the shadow is the screen now */
	assert_memory_equal(shadow, cur, (size_t)STRIDE * H);
	free(shadow);
	free(cur);
}

static void
test_vscroll_found_and_applied(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	/* rows 20..180 hold a terminal; it scrolls up by 3 text lines (30 rows) */
	draw_text(shadow, 0, 20, 180);
	draw_text(cur, 3, 20, 180);
	struct fbdiff_rect r = {0, 0, W, H}, band;
	int dy = 0;
	int n = fbdiff_find_vscroll(shadow, STRIDE, cur, STRIDE, &r, 8, &dy, &band);
	assert_int_equal(dy, -30);
	assert_true(n >= 130);
	assert_true(band.y1 <= 20 && band.y2 >= 150);
	assert_int_equal(band.x1, 0);
	assert_int_equal(band.x2, W);
	/* after the shift only the three new lines are left to send */
	fbdiff_shift_rows(shadow, STRIDE, &band, dy);
	struct marks m = {0};
	long changed = fbdiff_update(shadow, STRIDE, cur, STRIDE, &r, mark, &m);
	assert_true(changed > 0);
	for (int i = 0; i < m.n; i++)
		assert_true(m.r[i].y1 >= 150 - 1);
	assert_memory_equal(shadow, cur, (size_t)STRIDE * H);
	free(shadow);
	free(cur);
}

static void
test_vscroll_down(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	draw_text(shadow, 10, 0, H);
	draw_text(cur, 9, 0, H); /* content moved down one line */
	struct fbdiff_rect r = {0, 0, W, H}, band;
	int dy = 0;
	int n = fbdiff_find_vscroll(shadow, STRIDE, cur, STRIDE, &r, 8, &dy, &band);
	assert_int_equal(dy, 10);
	assert_true(n >= 180);
	fbdiff_shift_rows(shadow, STRIDE, &band, dy);
	for (int y = band.y1; y < band.y2; y++)
		assert_memory_equal(shadow + (size_t)y * STRIDE, cur + (size_t)y * STRIDE, W * 4);
	free(shadow);
	free(cur);
}

static void
test_no_vscroll_for_unrelated_change(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	draw_text(shadow, 0, 0, H);
	draw_text(cur, 1000, 0, H); /* all new text, nothing moved */
	struct fbdiff_rect r = {0, 0, W, H}, band = {0};
	int dy = 0;
	assert_int_equal(fbdiff_find_vscroll(shadow, STRIDE, cur, STRIDE, &r, 8, &dy, &band), 0);
	/* identical frames: nothing to find either */
	assert_int_equal(fbdiff_find_vscroll(shadow, STRIDE, shadow, STRIDE, &r, 8, &dy, &band), 0);
	/* degenerate rectangles */
	struct fbdiff_rect empty = {10, 10, 10, 50};
	assert_int_equal(fbdiff_find_vscroll(shadow, STRIDE, cur, STRIDE, &empty, 8, &dy, &band),
	                 0);
	assert_int_equal(fbdiff_update(shadow, STRIDE, cur, STRIDE, &empty, mark, NULL), 0);
	free(shadow);
	free(cur);
}

static void
test_vscroll_within_subrect(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	/* a window at x 40..200 scrolls; the rest of the screen differs elsewhere */
	draw_text(shadow, 0, 0, H);
	memcpy(cur, shadow, (size_t)STRIDE * H);
	uint8_t *tmp = fb_new();
	draw_text(tmp, 2, 0, H);
	for (int y = 0; y < H; y++)
		memcpy(cur + (size_t)y * STRIDE + 40 * 4, tmp + (size_t)y * STRIDE + 40 * 4,
		       160 * 4);
	struct fbdiff_rect r = {40, 0, 200, H}, band;
	int dy = 0;
	assert_true(fbdiff_find_vscroll(shadow, STRIDE, cur, STRIDE, &r, 8, &dy, &band) >= 170);
	assert_int_equal(dy, -20);
	assert_int_equal(band.x1, 40);
	assert_int_equal(band.x2, 200);
	free(shadow);
	free(cur);
	free(tmp);
}

/* a "window" of distinct pixels on a flat background */
static void
draw_window(uint8_t *fb, int x0, int y0, int w, int h)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			put(fb, x, y, 0x2e3c4c);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint32_t k = (uint32_t)(y * 1000 + x);
			k = (k ^ (k >> 16)) * 0x85ebca6bu;
			k ^= k >> 13;
			put(fb, x0 + x, y0 + y, k & 0xffffff);
		}
}

static void
test_window_move_found_and_applied(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	draw_window(shadow, 30, 40, 100, 60);
	draw_window(cur, 57, 71, 100, 60);
	struct fbdiff_rect r = {0, 0, W, H}, m;
	int dx = 0, dy = 0;
	long area = fbdiff_find_move(shadow, STRIDE, cur, STRIDE, &r, 2048, 1000, &dx, &dy, &m);
	assert_int_equal(dx, 27);
	assert_int_equal(dy, 31);
	assert_true(area >= 100 * 60);
	assert_true(m.x1 <= 57 && m.x2 >= 157 && m.y1 <= 71 && m.y2 >= 131);
	/* after the move only the uncovered background is left to send */
	fbdiff_move_rect(shadow, STRIDE, &m, dx, dy);
	for (int y = 71; y < 131; y++)
		assert_memory_equal(shadow + (size_t)y * STRIDE + 57 * 4,
		                    cur + (size_t)y * STRIDE + 57 * 4, 100 * 4);
	struct marks mk = {0};
	long changed = fbdiff_update(shadow, STRIDE, cur, STRIDE, &r, mark, &mk);
	assert_true(changed < 100 * 60);
	assert_memory_equal(shadow, cur, (size_t)STRIDE * H);
	/* a diagonal move is not looked for when only sideways moves are asked for */
	uint8_t *s2 = fb_new();
	draw_window(s2, 30, 40, 100, 60);
	assert_int_equal(fbdiff_find_move(s2, STRIDE, cur, STRIDE, &r, 2048, 0, &dx, &dy, &m), 0);
	draw_window(s2, 30, 71, 100, 60);
	assert_true(fbdiff_find_move(s2, STRIDE, cur, STRIDE, &r, 2048, 0, &dx, &dy, &m) >=
	            100 * 60);
	assert_int_equal(dx, 27);
	assert_int_equal(dy, 0);
	free(s2);
	/* nothing moved: nothing found */
	assert_int_equal(
	    fbdiff_find_move(shadow, STRIDE, cur, STRIDE, &r, 2048, 1000, &dx, &dy, &m), 0);
	free(shadow);
	free(cur);
}

static void
test_no_move_for_new_content(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	draw_text(shadow, 0, 0, H);
	draw_text(cur, 5000, 0, H);
	struct fbdiff_rect r = {0, 0, W, H}, m;
	int dx = 0, dy = 0;
	assert_int_equal(
	    fbdiff_find_move(shadow, STRIDE, cur, STRIDE, &r, 2048, 1000, &dx, &dy, &m), 0);
	free(shadow);
	free(cur);
}

/* a known shift (the X server's ConfigureNotify): sampled, then moved and compared in one pass */
static void
test_shift_compare(void **state)
{
	uint8_t *shadow = fb_new(), *cur = fb_new();
	draw_window(shadow, 5, 40, 100, 60);
	draw_window(cur, 190, 40, 100, 60); /* 185 px to the right in one step */
	struct fbdiff_rect dst = {190, 40, 290, 100};
	assert_int_equal(fbdiff_sample_shift(shadow, STRIDE, cur, STRIDE, &dst, 185, 0, 8), 8);
	assert_int_equal(fbdiff_sample_shift(shadow, STRIDE, cur, STRIDE, &dst, 184, 0, 8), 0);
	/* rows drawn inside the window during the move: moved anyway, reported */
	draw_text(cur, 7, 80, 90);
	int y1 = -1, y2 = -1;
	assert_int_equal(fbdiff_shift_compare(shadow, STRIDE, cur, STRIDE, &dst, 185, 0, &y1, &y2),
	                 10);
	assert_int_equal(y1, 80);
	assert_int_equal(y2, 90);
	/* the shadow now holds what a client has after the CopyRect: the window moved */
	uint8_t *want = fb_new();
	draw_window(want, 190, 40, 100, 60);
	for (int y = 40; y < 100; y++)
		assert_memory_equal(shadow + (size_t)y * STRIDE + 190 * 4,
		                    want + (size_t)y * STRIDE + 190 * 4, 100 * 4);
	free(want);
	free(shadow);
	free(cur);
}

/* overlapping moves in every direction equal a copy through a separate buffer */
static void
test_move_rect_overlap(void **state)
{
	static const int shifts[][2] = {{7, 0}, {-7, 0},  {0, 9}, {0, -9},
	                                {5, 6}, {-5, -6}, {5, -6}};
	for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
		int dx = shifts[i][0], dy = shifts[i][1];
		uint8_t *fb = fb_new(), *orig = fb_new();
		draw_text(fb, 3, 0, H);
		memcpy(orig, fb, (size_t)STRIDE * H);
		struct fbdiff_rect dst = {50 + dx, 50 + dy, 150 + dx, 120 + dy};
		fbdiff_move_rect(fb, STRIDE, &dst, dx, dy);
		for (int y = dst.y1; y < dst.y2; y++)
			assert_memory_equal(fb + (size_t)y * STRIDE + (size_t)dst.x1 * 4,
			                    orig + (size_t)(y - dy) * STRIDE +
			                        (size_t)(dst.x1 - dx) * 4,
			                    (size_t)(dst.x2 - dst.x1) * 4);
		/* the same through fbdiff_shift_compare (which also compares) */
		memcpy(fb, orig, (size_t)STRIDE * H);
		int y1, y2;
		fbdiff_shift_compare(fb, STRIDE, orig, STRIDE, &dst, dx, dy, &y1, &y2);
		for (int y = dst.y1; y < dst.y2; y++)
			assert_memory_equal(fb + (size_t)y * STRIDE + (size_t)dst.x1 * 4,
			                    orig + (size_t)(y - dy) * STRIDE +
			                        (size_t)(dst.x1 - dx) * 4,
			                    (size_t)(dst.x2 - dst.x1) * 4);
		free(fb);
		free(orig);
	}
}

static void
test_subtract(void **state)
{
	struct fbdiff_rect r = {0, 0, 100, 100}, out[4];
	/* a hole in the middle: above, below, left, right; together r minus the hole */
	struct fbdiff_rect hole = {20, 30, 60, 70};
	assert_int_equal(fbdiff_subtract(&r, &hole, out), 4);
	long area = 0;
	for (int i = 0; i < 4; i++)
		area += (long)(out[i].x2 - out[i].x1) * (out[i].y2 - out[i].y1);
	assert_int_equal(area, 100 * 100 - 40 * 40);
	assert_int_equal(out[0].y2, 30);
	assert_int_equal(out[1].y1, 70);
	assert_int_equal(out[2].x2, 20);
	assert_int_equal(out[3].x1, 60);
	/* disjoint: r itself; covered: nothing; an empty hole: r */
	struct fbdiff_rect far = {200, 200, 300, 300}, all = {-5, -5, 105, 105},
	                   none = {0, 0, 0, 0};
	assert_int_equal(fbdiff_subtract(&r, &far, out), 1);
	assert_memory_equal(&out[0], &r, sizeof(r));
	assert_int_equal(fbdiff_subtract(&r, &all, out), 0);
	assert_int_equal(fbdiff_subtract(&r, &none, out), 1);
	/* the hole's lower part: one band above */
	struct fbdiff_rect low = {0, 60, 100, 150};
	assert_int_equal(fbdiff_subtract(&r, &low, out), 1);
	assert_int_equal(out[0].y1, 0);
	assert_int_equal(out[0].y2, 60);
}

/* cur's rows at STRIDE, the shadow packed at W * 4 (the session's layout): same answers */
static void
test_packed_shadow(void **state)
{
	const size_t ss = (size_t)W * 4;
	uint8_t *cur = fb_new(), *shadow = calloc(1, ss * H), *row = fb_new();
	assert_non_null(shadow);
	/* a window moved by (27, 31): found, applied in the packed shadow, the rest sent */
	draw_window(row, 30, 40, 100, 60);
	for (int y = 0; y < H; y++)
		memcpy(shadow + (size_t)y * ss, row + (size_t)y * STRIDE, ss);
	draw_window(cur, 57, 71, 100, 60);
	struct fbdiff_rect r = {0, 0, W, H}, m;
	int dx = 0, dy = 0;
	assert_true(fbdiff_find_move(shadow, ss, cur, STRIDE, &r, 2048, 1000, &dx, &dy, &m) >=
	            100 * 60);
	assert_int_equal(dx, 27);
	assert_int_equal(dy, 31);
	assert_int_equal(fbdiff_sample_shift(shadow, ss, cur, STRIDE, &m, dx, dy, 8), 8);
	int y1 = 0, y2 = 0;
	assert_int_equal(fbdiff_shift_compare(shadow, ss, cur, STRIDE, &m, dx, dy, &y1, &y2), 0);
	struct marks mk = {0};
	assert_true(fbdiff_update(shadow, ss, cur, STRIDE, &r, mark, &mk) < 100 * 60);
	for (int y = 0; y < H; y++)
		assert_memory_equal(shadow + (size_t)y * ss, cur + (size_t)y * STRIDE, ss);
	/* a terminal scrolled by 30 rows */
	draw_text(cur, 0, 0, H);
	for (int y = 0; y < H; y++)
		memcpy(shadow + (size_t)y * ss, cur + (size_t)y * STRIDE, ss);
	draw_text(cur, 3, 0, H);
	int n = fbdiff_find_vscroll(shadow, ss, cur, STRIDE, &r, 8, &dy, &m);
	assert_true(n >= 150);
	assert_int_equal(dy, -30);
	fbdiff_shift_rows(shadow, ss, &m, dy);
	for (int y = m.y1; y < m.y2; y++)
		assert_memory_equal(shadow + (size_t)y * ss, cur + (size_t)y * STRIDE, ss);
	free(cur);
	free(shadow);
	free(row);
}

AB_TEST_MAIN(NULL, NULL, test_unchanged_damage_marks_nothing,
             test_one_pixel_change_is_one_pixel_rect,
             test_changes_split_per_tile_and_clipped_to_rect, test_neighbours_joined,
             test_vscroll_found_and_applied, test_vscroll_down,
             test_no_vscroll_for_unrelated_change, test_vscroll_within_subrect,
             test_window_move_found_and_applied, test_no_move_for_new_content, test_shift_compare,
             test_move_rect_overlap, test_subtract, test_packed_shadow);
