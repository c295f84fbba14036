/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fbdiff.h"
#include "ab_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline const uint32_t *
row32(const uint8_t *fb, size_t stride, int y)
{
	return (const uint32_t *)(const void *)(fb + (size_t)y * stride);
}

/* per tile column: the extent of the differing pixels in the current tile row */
struct tile_ext {
	int x1, y1, x2, y2; /* x2, y2 exclusive; x1 == x2: unchanged */
};

/* Copies e from cur into the shadow and reports it; returns its area (0: e was empty). */
static long
flush_ext(uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride, struct tile_ext *e,
          fbdiff_mark_fn mark, void *data)
{
	if (e->x1 == e->x2)
		return 0;
	for (int y = e->y1; y < e->y2; y++)
		memcpy(shadow + (size_t)y * sstride + (size_t)e->x1 * 4,
		       cur + (size_t)y * stride + (size_t)e->x1 * 4, (size_t)(e->x2 - e->x1) * 4);
	struct fbdiff_rect m = {e->x1, e->y1, e->x2, e->y2};
	long area = (long)(e->x2 - e->x1) * (e->y2 - e->y1);
	*e = (struct tile_ext){0};
	if (mark)
		mark(data, &m);
	return area;
}

long
fbdiff_update(uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
              const struct fbdiff_rect *r, fbdiff_mark_fn mark, void *data)
{
	if (r->x2 <= r->x1 || r->y2 <= r->y1)
		return 0;
	int tx0 = r->x1 / FBDIFF_TILE, tx1 = (r->x2 + FBDIFF_TILE - 1) / FBDIFF_TILE;
	int ncols = tx1 - tx0;
	_cleanup_free_ struct tile_ext *ext = ab_xcalloc((size_t)ncols, sizeof(*ext));
	_cleanup_free_ struct tile_ext *pend = ab_xcalloc((size_t)ncols, sizeof(*pend));
	long changed = 0;
	size_t span = (size_t)(r->x2 - r->x1) * 4;

	for (int ty = r->y1 - r->y1 % FBDIFF_TILE; ty < r->y2; ty += FBDIFF_TILE) {
		int ya = AB_MAX(ty, r->y1), yb = AB_MIN(ty + FBDIFF_TILE, r->y2);
		memset(ext, 0, (size_t)ncols * sizeof(*ext));
		bool any = false;
		for (int y = ya; y < yb; y++) {
			const uint32_t *o = row32(shadow, sstride, y), *n = row32(cur, stride, y);
			if (!memcmp(o + r->x1, n + r->x1, span))
				continue;
			for (int c = 0; c < ncols; c++) {
				int xa = AB_MAX((tx0 + c) * FBDIFF_TILE, r->x1);
				int xb = AB_MIN((tx0 + c + 1) * FBDIFF_TILE, r->x2);
				if (!memcmp(o + xa, n + xa, (size_t)(xb - xa) * 4))
					continue;
				/*
				 * Bounded: Xvfb draws into `cur` meanwhile, so the
				 * difference memcmp saw may be gone by now.
				 */
				int l = xa, h = xb - 1;
				while (l < xb && o[l] == n[l])
					l++;
				while (h > l && o[h] == n[h])
					h--;
				if (l == xb)
					continue;
				struct tile_ext *e = &ext[c];
				if (e->x1 == e->x2) {
					*e = (struct tile_ext){l, y, h + 1, y + 1};
				} else {
					e->x1 = AB_MIN(e->x1, l);
					e->x2 = AB_MAX(e->x2, h + 1);
					e->y2 = y + 1;
				}
				any = true;
			}
		}
		if (!any)
			continue;
		for (int c = 0; c < ncols; c++) {
			struct tile_ext *e = &ext[c], *p = &pend[c];
			if (e->x1 == e->x2)
				continue;
			/*
			 * Join the column's pending rectangle when this one starts a
			 * few rows below it and the union is not much wider: one
			 * rectangle instead of two (each costs a header and a zlib
			 * flush); the rows and columns added were compared and are
			 * unchanged, cheap to encode.
			 */
			int ux1 = AB_MIN(p->x1, e->x1), ux2 = AB_MAX(p->x2, e->x2);
			if (p->x1 != p->x2 && e->y1 - p->y2 <= FBDIFF_JOIN_ROWS &&
			    ux2 - ux1 <= AB_MAX(p->x2 - p->x1, e->x2 - e->x1) + FBDIFF_JOIN_COLS) {
				*p = (struct tile_ext){ux1, p->y1, ux2, e->y2};
				continue;
			}
			changed += flush_ext(shadow, sstride, cur, stride, p, mark, data);
			*p = *e;
		}
	}
	for (int c = 0; c < ncols; c++)
		changed += flush_ext(shadow, sstride, cur, stride, &pend[c], mark, data);
	return changed;
}

#define VSCROLL_PROBES 24 /* changed rows looked up in the shadow */

/*
 * Whether shadow row b equals row a, whose pixels at k1 and k2 differ from
 * its ends: those two reject most rows (text rows all begin with the same
 * background) before memcmp runs.
 */
static inline bool
row_eq(const uint32_t *a, const uint32_t *b, int k1, int k2, size_t span)
{
	return a[k1] == b[k1] && a[k2] == b[k2] && !memcmp(a, b, span);
}

int
fbdiff_find_vscroll(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                    const struct fbdiff_rect *r, int min_rows, int *ret_dy,
                    struct fbdiff_rect *ret_band)
{
	int h = r->y2 - r->y1;
	if (r->x2 <= r->x1 || h < AB_MAX(min_rows, 2) || min_rows < 1)
		return 0;
	size_t off = (size_t)r->x1 * 4, span = (size_t)(r->x2 - r->x1) * 4;
#define CUR(y)    (cur + (size_t)(y)*stride + off)
#define SHADOW(y) (shadow + (size_t)(y)*sstride + off)
	/*
	 * Votes: changed rows sampled over the box, not of one colour (blank
	 * rows match anywhere), are looked up among the shadow's rows; a row
	 * found exactly once votes for its shift. Sampling keeps the common
	 * case (no scroll, a redraw) to a few dozen row compares.
	 */
	int dys[VSCROLL_PROBES], votes[VSCROLL_PROBES], ndys = 0;
	int step = AB_MAX(1, h / (VSCROLL_PROBES * 2)), probes = 0;
	for (int i = 0; i < h && probes < VSCROLL_PROBES; i += step) {
		if (!memcmp(CUR(r->y1 + i), SHADOW(r->y1 + i), span))
			continue;
		const uint32_t *row = (const uint32_t *)(const void *)CUR(r->y1 + i);
		int n = r->x2 - r->x1, k1 = 0, k2 = n - 1;
		while (k1 < n && row[k1] == row[0])
			k1++;
		if (k1 == n)
			continue;                       /* one colour */
		while (k2 > 0 && row[k2] == row[n - 1]) /* bounded: Xvfb draws meanwhile */
			k2--;
		probes++;
		int found = 0, from = 0;
		for (int j = 0; j < h && found < 2; j++) {
			if (j != i && row_eq(row, (const uint32_t *)(const void *)SHADOW(r->y1 + j),
			                     k1, k2, span)) {
				found++;
				from = j;
			}
		}
		if (found != 1)
			continue;
		int d = i - from, k = 0;
		while (k < ndys && dys[k] != d)
			k++;
		if (k == ndys) {
			dys[ndys] = d;
			votes[ndys++] = 0;
		}
		votes[k]++;
	}
	int best = -1;
	for (int k = 0; k < ndys; k++)
		if (votes[k] >= 2 && (best < 0 || votes[k] > votes[best]))
			best = k;
	if (best < 0)
		return 0;
	int dy = dys[best];

	/* the band of consecutive rows explained by dy holding the most changed rows */
	int ya = AB_MAX(r->y1, r->y1 + dy), yb = AB_MIN(r->y2, r->y2 + dy);
	int run_start = ya, run_changed = 0, best_start = 0, best_end = 0, best_changed = 0;
	for (int y = ya; y <= yb; y++) {
		bool match = y < yb && !memcmp(CUR(y), SHADOW(y - dy), span);
		if (match) {
			run_changed += memcmp(CUR(y), SHADOW(y), span) != 0;
			continue;
		}
		if (run_changed > best_changed) {
			best_changed = run_changed;
			best_start = run_start;
			best_end = y;
		}
		run_start = y + 1;
		run_changed = 0;
	}
#undef CUR
#undef SHADOW
	if (best_changed < min_rows)
		return 0;
	*ret_dy = dy;
	*ret_band = (struct fbdiff_rect){r->x1, best_start, r->x2, best_end};
	return best_end - best_start;
}

void
fbdiff_shift_rows(uint8_t *fb, size_t stride, const struct fbdiff_rect *band, int dy)
{
	size_t off = (size_t)band->x1 * 4, span = (size_t)(band->x2 - band->x1) * 4;
	if (dy > 0) {
		for (int y = band->y2 - 1; y >= band->y1; y--)
			memmove(fb + (size_t)y * stride + off, fb + (size_t)(y - dy) * stride + off,
			        span);
	} else if (dy < 0) {
		for (int y = band->y1; y < band->y2; y++)
			memmove(fb + (size_t)y * stride + off, fb + (size_t)(y - dy) * stride + off,
			        span);
	}
}

#define MOVE_RUN     16  /* pixels of the anchor run searched for */
#define MOVE_ANCHORS 3   /* changed rows tried as anchors */
#define MOVE_MAX     200 /* largest |dx|, |dy| looked for (a drag between two updates) */

static inline uint32_t
px(const uint8_t *fb, size_t stride, int x, int y)
{
	return row32(fb, stride, y)[x];
}

/* Grows the block matching at (dx, dy) from anchor (ax, ay); returns its area. */
static long
grow_match(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
           const struct fbdiff_rect *r, int ax, int ay, int dx, int dy, struct fbdiff_rect *out)
{
	/* destination columns/rows whose source stays inside r */
	int xlo = AB_MAX(r->x1, r->x1 + dx), xhi = AB_MIN(r->x2, r->x2 + dx);
	int ylo = AB_MAX(r->y1, r->y1 + dy), yhi = AB_MIN(r->y2, r->y2 + dy);
	int x1 = ax, x2 = ax;
	while (x1 > xlo && px(cur, stride, x1 - 1, ay) == px(shadow, sstride, x1 - 1 - dx, ay - dy))
		x1--;
	while (x2 < xhi && px(cur, stride, x2, ay) == px(shadow, sstride, x2 - dx, ay - dy))
		x2++;
	if (x2 - x1 < MOVE_RUN)
		return 0;
	size_t span = (size_t)(x2 - x1) * 4;
	int y1 = ay, y2 = ay + 1;
	while (y1 > ylo && !memcmp(&row32(cur, stride, y1 - 1)[x1],
	                           &row32(shadow, sstride, y1 - 1 - dy)[x1 - dx], span))
		y1--;
	while (y2 < yhi && !memcmp(&row32(cur, stride, y2)[x1],
	                           &row32(shadow, sstride, y2 - dy)[x1 - dx], span))
		y2++;
	*out = (struct fbdiff_rect){x1, y1, x2, y2};
	return (long)(x2 - x1) * (y2 - y1);
}

long
fbdiff_find_move(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                 const struct fbdiff_rect *r, long min_area, int max_dy, int *ret_dx, int *ret_dy,
                 struct fbdiff_rect *ret_rect)
{
	if (r->x2 - r->x1 < MOVE_RUN * 2 || r->y2 <= r->y1)
		return 0;
	size_t off = (size_t)r->x1 * 4, span = (size_t)(r->x2 - r->x1) * 4;
	int anchors = 0;
	for (int y = r->y1; y < r->y2 && anchors < MOVE_ANCHORS; y++) {
		const uint32_t *o = row32(shadow, sstride, y), *n = row32(cur, stride, y);
		if (!memcmp((const uint8_t *)o + off, (const uint8_t *)n + off, span))
			continue;
		/* the first changed pixel where a run of MOVE_RUN is not one colour */
		int ax = r->x1;
		while (ax < r->x2 && o[ax] == n[ax])
			ax++;
		/* start at an edge (uncovered background before a window is flat) */
		while (ax + 1 < r->x2 && n[ax + 1] == n[ax])
			ax++;
		ax++;
		while (ax + MOVE_RUN <= r->x2) {
			bool flat = true;
			for (int i = 1; i < MOVE_RUN && flat; i++)
				flat = n[ax + i] == n[ax];
			if (!flat)
				break;
			ax += MOVE_RUN;
		}
		if (ax + MOVE_RUN > r->x2)
			continue;
		anchors++;
		/* where was that run in the shadow (at most MOVE_MAX away)? */
		int ady = AB_MIN(AB_MAX(max_dy, 0), MOVE_MAX);
		int sy1 = AB_MAX(r->y1, y - ady), sy2 = AB_MIN(r->y2, y + ady + 1);
		int sx1 = AB_MAX(r->x1, ax - MOVE_MAX),
		    sx2 = AB_MIN(r->x2, ax + MOVE_MAX + MOVE_RUN);
		for (int sy = sy1; sy < sy2; sy++) {
			const uint32_t *so = row32(shadow, sstride, sy);
			for (int sx = sx1; sx + MOVE_RUN <= sx2; sx++) {
				if (so[sx] != n[ax] || memcmp(&so[sx], &n[ax], MOVE_RUN * 4))
					continue;
				int dx = ax - sx, dy = y - sy;
				if (dx == 0 && dy == 0)
					continue;
				struct fbdiff_rect m;
				long area =
				    grow_match(shadow, sstride, cur, stride, r, ax, y, dx, dy, &m);
				if (area >= min_area) {
					*ret_dx = dx;
					*ret_dy = dy;
					*ret_rect = m;
					return area;
				}
			}
		}
	}
	return 0;
}

int
fbdiff_sample_shift(const uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                    const struct fbdiff_rect *dst, int dx, int dy, int samples)
{
	int h = dst->y2 - dst->y1;
	if (h <= 0 || dst->x2 <= dst->x1 || samples <= 0)
		return 0;
	size_t span = (size_t)(dst->x2 - dst->x1) * 4;
	int n = AB_MIN(samples, h), hits = 0;
	for (int i = 0; i < n; i++) {
		int y = dst->y1 + (int)(((long)i * h + h / 2) / n);
		hits += !memcmp(&row32(cur, stride, y)[dst->x1],
		                &row32(shadow, sstride, y - dy)[dst->x1 - dx], span);
	}
	return hits;
}

int
fbdiff_shift_compare(uint8_t *shadow, size_t sstride, const uint8_t *cur, size_t stride,
                     const struct fbdiff_rect *dst, int dx, int dy, int *ret_y1, int *ret_y2)
{
	int h = dst->y2 - dst->y1;
	if (h <= 0 || dst->x2 <= dst->x1)
		return 0;
	size_t span = (size_t)(dst->x2 - dst->x1) * 4;
	size_t dst_off = (size_t)dst->x1 * 4, src_off = (size_t)(dst->x1 - dx) * 4;
	int n = 0, y1 = dst->y2, y2 = dst->y1;
	/* bottom up when moving down: every source row is read before it is overwritten */
	for (int i = 0; i < h; i++) {
		int y = dy > 0 ? dst->y2 - 1 - i : dst->y1 + i;
		uint8_t *d = shadow + (size_t)y * sstride + dst_off;
		memmove(d, shadow + (size_t)(y - dy) * sstride + src_off, span);
		if (memcmp(d, cur + (size_t)y * stride + dst_off, span)) {
			n++;
			y1 = AB_MIN(y1, y);
			y2 = AB_MAX(y2, y + 1);
		}
	}
	if (n) {
		*ret_y1 = y1;
		*ret_y2 = y2;
	}
	return n;
}

void
fbdiff_move_rect(uint8_t *fb, size_t stride, const struct fbdiff_rect *dst, int dx, int dy)
{
	size_t w = (size_t)(dst->x2 - dst->x1) * 4;
	int h = dst->y2 - dst->y1;
	if (w == 0 || h <= 0)
		return;
	/*
	 * Row by row in the order that reads every source row before it is
	 * overwritten (bottom up when moving down); memmove covers a sideways
	 * overlap within a row.
	 */
	size_t dst_off = (size_t)dst->x1 * 4, src_off = (size_t)(dst->x1 - dx) * 4;
	for (int i = 0; i < h; i++) {
		int y = dy > 0 ? dst->y2 - 1 - i : dst->y1 + i;
		memmove(fb + (size_t)y * stride + dst_off, fb + (size_t)(y - dy) * stride + src_off,
		        w);
	}
}

int
fbdiff_subtract(const struct fbdiff_rect *r, const struct fbdiff_rect *hole,
                struct fbdiff_rect out[4])
{
	int x1 = AB_MAX(r->x1, hole->x1), y1 = AB_MAX(r->y1, hole->y1);
	int x2 = AB_MIN(r->x2, hole->x2), y2 = AB_MIN(r->y2, hole->y2);
	if (x1 >= x2 || y1 >= y2) {
		out[0] = *r;
		return 1;
	}
	int n = 0;
	if (r->y1 < y1)
		out[n++] = (struct fbdiff_rect){r->x1, r->y1, r->x2, y1};
	if (y2 < r->y2)
		out[n++] = (struct fbdiff_rect){r->x1, y2, r->x2, r->y2};
	if (r->x1 < x1)
		out[n++] = (struct fbdiff_rect){r->x1, y1, x1, y2};
	if (x2 < r->x2)
		out[n++] = (struct fbdiff_rect){x2, y1, r->x2, y2};
	return n;
}
