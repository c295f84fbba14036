/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fbdiff: compare-before-send and scroll detection on 32 bpp framebuffers.
 *
 * The session keeps a shadow copy of the screen: the pixels its RFB clients
 * have been (or are about to be) sent. X damage is often far larger than the
 * real change, so for each damaged rectangle fbdiff_update() compares the
 * live screen with the shadow in FBDIFF_TILE x FBDIFF_TILE tiles, reports
 * only the tiles that truly changed (shrunk to the changed rows and columns)
 * and copies them into the shadow. fbdiff_find_vscroll() looks for a
 * vertical shift of the shadow's rows in the live screen (a terminal or a
 * browser scrolling), so the caller can send it as CopyRect.
 *
 * The shadow's rows are `sstride` bytes apart and the live screen's
 * `stride`: the session packs its shadow at the visible width while Xvfb's
 * rows keep its maximal screen's stride (memory, docs/session.md).
 *
 * Pure functions on caller-owned memory: nothing is allocated that outlives
 * a call, nothing talks to X or RFB.
 */
#ifndef SESSION_FBDIFF_H
#define SESSION_FBDIFF_H

#include <stddef.h>
#include <stdint.h>

#define FBDIFF_TILE 64
/* a tile's changed rectangle joins the one above it across this many unchanged rows… */
#define FBDIFF_JOIN_ROWS 16
/* …when that widens the wider of the two by at most this many columns */
#define FBDIFF_JOIN_COLS 16

/* A rectangle of pixels, x2 and y2 exclusive. */
struct fbdiff_rect {
	int x1, y1, x2, y2;
};

typedef void (*fbdiff_mark_fn)(void *data, const struct fbdiff_rect *r);

/*
 * Compares rectangle r of cur with shadow (both 32 bpp, rows `stride` and
 * `sstride` bytes apart), calls mark() for every tile that differs (the tile shrunk to the
 * differing pixels; a tile's rectangle and the one in the tile above it are
 * reported as one when they are at most FBDIFF_JOIN_ROWS rows apart and
 * their union is at most FBDIFF_JOIN_COLS wider than the wider of them) and
 * copies those pixels into shadow. Returns the number of pixels in the
 * reported rectangles (0: nothing changed).
 */
long fbdiff_update(uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                   const struct fbdiff_rect *r, fbdiff_mark_fn mark, void *data);

/*
 * Looks for a vertical scroll inside r: rows y of cur equal to rows y - dy of
 * shadow (over r's width), dy != 0. On success returns the number of rows of
 * the longest such band (at least min_rows), stores the shift in *ret_dy and
 * the band (destination rows, r's columns) in *ret_band. Returns 0 when no
 * shift explains at least min_rows changed rows.
 */
int fbdiff_find_vscroll(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                        const struct fbdiff_rect *r, int min_rows, int *ret_dy,
                        struct fbdiff_rect *ret_band);

/*
 * Looks for a moved block inside r (a window dragged): a rectangle of cur
 * equal to the shadow's pixels (dx, dy) away, found from a distinctive run
 * of changed pixels and grown while it matches. On success returns its area
 * (at least min_area), stores the destination in *ret_rect (source: shifted
 * by -dx, -dy, inside r) and the shift in *ret_dx, *ret_dy. Only shifts with
 * |dy| <= max_dy are looked for (0: sideways moves only). Returns 0 when
 * nothing moved.
 */
long fbdiff_find_move(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                      const struct fbdiff_rect *r, long min_area, int max_dy, int *ret_dx,
                      int *ret_dy, struct fbdiff_rect *ret_rect);

/*
 * How many of `samples` rows spread evenly over dst equal the shadow's rows
 * shifted by (dx, dy) over dst's width (a cheap look before committing to a
 * move; dst - (dx, dy) must be inside the screen).
 */
int fbdiff_sample_shift(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                        const struct fbdiff_rect *dst, int dx, int dy, int samples);

/*
 * Moves the shadow's rectangle dst - (dx, dy) to dst, as a client does with
 * a CopyRect, comparing each moved row with cur while it is in the cache.
 * Returns how many rows differ from cur and stores the first and last + 1 of
 * them in *ret_y1, *ret_y2 (untouched when 0).
 */
int fbdiff_shift_compare(uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                         const struct fbdiff_rect *dst, int dx, int dy, int *ret_y1, int *ret_y2);

/* Copies rectangle dst - (dx, dy) of fb to dst (overlap allowed). */
void fbdiff_move_rect(uint8_t *fb, size_t stride, const struct fbdiff_rect *dst, int dx, int dy);

/*
 * r minus hole: stores up to 4 disjoint rectangles covering the pixels of r
 * outside hole in out[] (the bands above and below hole, then its left and
 * right sides) and returns how many (r itself when they do not overlap).
 */
int fbdiff_subtract(const struct fbdiff_rect *r, const struct fbdiff_rect *hole,
                    struct fbdiff_rect out[4]);

/* Moves rows of rectangle band (destination) in fb by dy: row y gets row y - dy. */
void fbdiff_shift_rows(uint8_t *fb, size_t stride, const struct fbdiff_rect *band, int dy);

#endif
