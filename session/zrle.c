/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "zrle.h"
#include "ab_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PAL_MAX   127 /* palette RLE holds up to 127 colours */
#define HASH_SIZE 512 /* open addressing, power of two, > 2 * PAL_MAX */

struct pal_slot {
	uint32_t gen; /* slot valid when equal to the encoder's generation */
	uint32_t px;
	uint8_t idx;
};

struct zrle_enc {
	z_stream zs;
	bool broken;
	uint8_t *raw; /* the rectangle's tiles before zlib */
	size_t raw_len, raw_cap;
	uint8_t *out;
	size_t out_cap;
	uint32_t tile[ZRLE_TILE * ZRLE_TILE];
	uint32_t pal[PAL_MAX];
	uint32_t pal_count[PAL_MAX]; /* pixels of each colour */
	int npal;
	uint32_t gen;
	struct pal_slot hash[HASH_SIZE];
	uint64_t counts[ZRLE_KIND_MAX];
};

struct zrle_enc *
zrle_enc_new(int level)
{
	struct zrle_enc *e = ab_xcalloc(1, sizeof(*e));
	if (deflateInit(&e->zs, AB_MAX(0, AB_MIN(level, 9))) != Z_OK)
		abort(); /* only fails without memory */
	return e;
}

void
zrle_enc_free(struct zrle_enc *e)
{
	if (!e)
		return;
	deflateEnd(&e->zs);
	free(e->raw);
	free(e->out);
	free(e);
}

void
zrle_enc_counts(const struct zrle_enc *e, uint64_t ret_counts[ZRLE_KIND_MAX])
{
	memcpy(ret_counts, e->counts, sizeof(e->counts));
}

static inline void
raw_reserve(struct zrle_enc *e, size_t n)
{
	if (e->raw_len + n <= e->raw_cap)
		return;
	e->raw_cap = AB_MAX(e->raw_cap * 2, e->raw_len + n + 4096);
	e->raw = ab_xrealloc(e->raw, e->raw_cap);
}

static inline void
put_u8(struct zrle_enc *e, unsigned v)
{
	e->raw[e->raw_len++] = (uint8_t)v;
}

static inline void
put_cpixel(struct zrle_enc *e, const struct zrle_format *f, uint32_t px)
{
	/* px holds the pixel's bytes as they were in memory (loaded by memcpy) */
	const uint8_t *b = (const uint8_t *)&px + f->cpixel_off;
	for (int i = 0; i < f->cpixel; i++)
		e->raw[e->raw_len++] = b[i];
}

static inline void
put_run(struct zrle_enc *e, long len)
{
	len -= 1;
	while (len >= 255) {
		put_u8(e, 255);
		len -= 255;
	}
	put_u8(e, (unsigned)len);
}

/* Index of px in the tile's palette, adding it; -1 once the palette is full. */
static inline int
pal_index(struct zrle_enc *e, uint32_t px)
{
	uint32_t h = (px * 2654435761u) >> 23; /* 9 bits: HASH_SIZE */
	for (;;) {
		struct pal_slot *s = &e->hash[h];
		if (s->gen != e->gen) {
			if (e->npal == PAL_MAX)
				return -1;
			*s = (struct pal_slot){e->gen, px, (uint8_t)e->npal};
			e->pal[e->npal] = px;
			e->pal_count[e->npal] = 0;
			return e->npal++;
		}
		if (s->px == px)
			return s->idx;
		h = (h + 1) & (HASH_SIZE - 1);
	}
}

static inline struct pal_slot *
pal_slot(struct zrle_enc *e, uint32_t px)
{
	uint32_t h = (px * 2654435761u) >> 23;
	while (e->hash[h].px != px || e->hash[h].gen != e->gen)
		h = (h + 1) & (HASH_SIZE - 1);
	return &e->hash[h];
}

static inline int
pal_lookup(struct zrle_enc *e, uint32_t px)
{
	return pal_slot(e, px)->idx;
}

/*
 * Most frequent colour first: a terminal's background is index 0 in every
 * tile, whatever pixel a tile starts with, so packed glyph rows come out as
 * the same bytes from tile to tile and update to update, which zlib matches.
 */
static void
pal_sort(struct zrle_enc *e)
{
	for (int i = 1; i < e->npal; i++) {
		uint32_t px = e->pal[i], n = e->pal_count[i];
		int j = i;
		for (; j > 0 && e->pal_count[j - 1] < n; j--) {
			e->pal[j] = e->pal[j - 1];
			e->pal_count[j] = e->pal_count[j - 1];
		}
		e->pal[j] = px;
		e->pal_count[j] = n;
	}
	for (int i = 0; i < e->npal; i++)
		pal_slot(e, e->pal[i])->idx = (uint8_t)i;
}

static void
encode_tile(struct zrle_enc *e, const struct zrle_format *f, int w, int h)
{
	const uint32_t *t = e->tile;
	int n = w * h;
	int cp = f->cpixel;
	/* palette (colours at run starts cover every pixel) and number of runs */
	e->npal = 0;
	if (++e->gen == 0) {
		memset(e->hash, 0, sizeof(e->hash));
		e->gen = 1;
	}
	bool full = false;
	long runs = 0;
	for (int i = 0; i < n;) {
		uint32_t px = t[i];
		int start = i, k = full ? -1 : pal_index(e, px);
		runs++;
		while (++i < n && t[i] == px)
			;
		if (k < 0)
			full = true;
		else
			e->pal_count[k] += (uint32_t)(i - start);
	}
	if (!full && e->npal > 1)
		pal_sort(e);
	raw_reserve(e, (size_t)n * (size_t)(cp + 1) + 1 + (size_t)PAL_MAX * (size_t)cp + 16);

	if (!full && e->npal == 1) {
		put_u8(e, 1);
		put_cpixel(e, f, t[0]);
		e->counts[ZRLE_SOLID]++;
		return;
	}
	if (!full && e->npal <= 16) {
		int bits = e->npal == 2 ? 1 : e->npal <= 4 ? 2 : 4;
		put_u8(e, (unsigned)e->npal);
		for (int k = 0; k < e->npal; k++)
			put_cpixel(e, f, e->pal[k]);
		uint32_t last = t[0];
		int idx = pal_lookup(e, last);
		for (int y = 0; y < h; y++) {
			unsigned byte = 0;
			int nbits = 0;
			for (int x = 0; x < w; x++) {
				uint32_t px = t[y * w + x];
				if (px != last) {
					last = px;
					idx = pal_lookup(e, px);
				}
				byte = (byte << bits) | (unsigned)idx;
				nbits += bits;
				if (nbits == 8) {
					put_u8(e, byte);
					byte = 0;
					nbits = 0;
				}
			}
			if (nbits)
				put_u8(e, byte << (8 - nbits));
		}
		e->counts[ZRLE_PACKED]++;
		return;
	}
	if (!full) {
		put_u8(e, 128u + (unsigned)e->npal);
		for (int k = 0; k < e->npal; k++)
			put_cpixel(e, f, e->pal[k]);
		for (int i = 0; i < n;) {
			uint32_t px = t[i];
			int start = i;
			while (++i < n && t[i] == px)
				;
			int idx = pal_lookup(e, px);
			if (i - start == 1) {
				put_u8(e, (unsigned)idx);
			} else {
				put_u8(e, (unsigned)idx | 128u);
				put_run(e, i - start);
			}
		}
		e->counts[ZRLE_PRLE]++;
		return;
	}
	if (runs * (cp + 1) < (long)n * cp) {
		put_u8(e, 128);
		for (int i = 0; i < n;) {
			uint32_t px = t[i];
			int start = i;
			while (++i < n && t[i] == px)
				;
			put_cpixel(e, f, px);
			put_run(e, i - start);
		}
		e->counts[ZRLE_RLE]++;
		return;
	}
	put_u8(e, 0);
	for (int i = 0; i < n; i++)
		put_cpixel(e, f, t[i]);
	e->counts[ZRLE_RAW]++;
}

/* One colour (most of a desktop's background)? Checked on the source rows, before any copy. */
static bool
tile_is_solid(const uint8_t *px, size_t stride, int bpp, int w, int h, uint32_t *ret_px)
{
	uint32_t first = 0;
	memcpy(&first, px, (size_t)bpp);
	size_t row = (size_t)w * (size_t)bpp;
	for (int x = 1; x < w; x++)
		if (memcmp(px + (size_t)x * (size_t)bpp, px, (size_t)bpp))
			return false;
	for (int y = 1; y < h; y++)
		if (memcmp(px + (size_t)y * stride, px, row))
			return false;
	*ret_px = first;
	return true;
}

static void
load_tile(struct zrle_enc *e, const uint8_t *px, size_t stride, int bpp, int w, int h)
{
	uint32_t *t = e->tile;
	for (int y = 0; y < h; y++) {
		const uint8_t *row = px + (size_t)y * stride;
		if (bpp == 4) {
			memcpy(t, row, (size_t)w * 4);
		} else {
			for (int x = 0; x < w; x++) {
				uint32_t v = 0;
				memcpy(&v, row + (size_t)x * (size_t)bpp, (size_t)bpp);
				t[x] = v;
			}
		}
		t += w;
	}
}

long
zrle_encode(struct zrle_enc *e, const uint8_t *px, size_t stride, int w, int h,
            const struct zrle_format *f, const uint8_t **ret_data)
{
	if (e->broken)
		return -EIO;
	e->raw_len = 0;
	for (int ty = 0; ty < h; ty += ZRLE_TILE) {
		int th = AB_MIN(ZRLE_TILE, h - ty);
		for (int tx = 0; tx < w; tx += ZRLE_TILE) {
			int tw = AB_MIN(ZRLE_TILE, w - tx);
			const uint8_t *src =
			    px + (size_t)ty * stride + (size_t)tx * (size_t)f->bytes_pp;
			uint32_t solid;
			if (tile_is_solid(src, stride, f->bytes_pp, tw, th, &solid)) {
				raw_reserve(e, 8);
				put_u8(e, 1);
				put_cpixel(e, f, solid);
				e->counts[ZRLE_SOLID]++;
				continue;
			}
			load_tile(e, src, stride, f->bytes_pp, tw, th);
			encode_tile(e, f, tw, th);
		}
	}
	size_t need = e->raw_len + e->raw_len / 500 + 64;
	if (e->out_cap < need) {
		e->out_cap = need;
		e->out = ab_xrealloc(e->out, e->out_cap);
	}
	e->zs.next_in = e->raw;
	e->zs.avail_in = (uInt)e->raw_len;
	size_t len = 0;
	for (;;) {
		e->zs.next_out = e->out + len;
		e->zs.avail_out = (uInt)(e->out_cap - len);
		int z = deflate(&e->zs, Z_SYNC_FLUSH);
		len = e->out_cap - e->zs.avail_out;
		if (z != Z_OK && z != Z_BUF_ERROR) {
			e->broken = true;
			return -EIO;
		}
		if (e->zs.avail_out > 0) /* the flush is complete */
			break;
		e->out_cap *= 2;
		e->out = ab_xrealloc(e->out, e->out_cap);
	}
	*ret_data = e->out;
	return (long)len;
}
