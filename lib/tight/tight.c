/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tight.h"
#include "ab_util.h"

#include <errno.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HASH_SIZE       1024 /* open addressing, power of two, > 2 * (TIGHT_PALETTE_MAX + 1) */
#define MIN_TO_COMPRESS 12   /* shorter filtered data goes out as is (RFB 7.7.5) */

/* Tight's compression control byte */
#define CTL_FILL         0x80
#define CTL_JPEG         0x90
#define CTL_STREAM_SHIFT 4
#define CTL_FILTER       0x40
#define FILTER_PALETTE   1
/* zlib streams, as TightVNC numbers them */
enum { STREAM_COPY, STREAM_MONO, STREAM_PALETTE, STREAM_MAX = 4 };

/* Quality level -> libjpeg quality and chroma subsampling (TigerVNC's and libvncserver's table). */
static const int jpeg_quality[10] = {15, 29, 41, 42, 62, 77, 79, 86, 92, 100};
static const int jpeg_hsub[10] = {2, 2, 2, 2, 2, 2, 1, 1, 1, 1};
static const int jpeg_vsub[10] = {2, 2, 2, 1, 1, 1, 1, 1, 1, 1};

struct pal_slot {
	uint32_t gen; /* valid when equal to the encoder's generation */
	uint32_t px;
	uint8_t idx;
};

struct jerr {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
};

struct tight_enc {
	z_stream zs[STREAM_MAX];
	bool zs_on[STREAM_MAX];
	bool zs_reset[STREAM_MAX]; /* reset (and tell the client) before the next use */
	bool reset_each;           /* reset before every use: each rectangle decodes alone */
	bool broken;
	struct jpeg_compress_struct jc;
	struct jerr jerr;
	bool jc_on;
	uint8_t *raw; /* filtered data before zlib */
	size_t raw_cap;
	uint8_t *out; /* one rectangle's bytes */
	size_t out_len, out_cap;
	unsigned char *jbuf; /* libjpeg's output */
	unsigned long jcap;
	unsigned char *jout; /* … while libjpeg writes (it may grow it) */
	unsigned long jsize;
	uint32_t pal[TIGHT_PALETTE_MAX + 1];
	int npal;
	uint8_t
	    idx[TIGHT_MAX_WIDTH * TIGHT_TILE]; /* a palette run's indices, TIGHT_MAX_WIDTH a row */
	uint8_t tidx[TIGHT_TILE * TIGHT_TILE]; /* one tile's, while it is classified */
	uint32_t gen;
	struct pal_slot hash[HASH_SIZE];
	uint64_t counts[TIGHT_KIND_MAX];
};

/* What a tile (or a run of them) is made of. */
enum cls { CLS_SOLID, CLS_PALETTE, CLS_FULL };

struct tight_enc *
tight_enc_new(void)
{
	return ab_xcalloc(1, sizeof(struct tight_enc));
}

void
tight_enc_free(struct tight_enc *e)
{
	if (!e)
		return;
	for (int i = 0; i < STREAM_MAX; i++)
		if (e->zs_on[i])
			deflateEnd(&e->zs[i]);
	if (e->jc_on)
		jpeg_destroy_compress(&e->jc);
	free(e->raw);
	free(e->out);
	free(e->jbuf);
	free(e);
}

bool
tight_enc_pristine(const struct tight_enc *e)
{
	for (int i = 0; i < STREAM_MAX; i++)
		if (e->zs_on[i] && !e->zs_reset[i])
			return false;
	return !e->broken;
}

bool
tight_enc_fresh(const struct tight_enc *e)
{
	for (int i = 0; i < STREAM_MAX; i++)
		if (e->zs_on[i] || e->zs_reset[i])
			return false;
	return !e->broken;
}

struct tight_enc *
tight_enc_dup(const struct tight_enc *e)
{
	struct tight_enc *d = tight_enc_new();
	for (int i = 0; i < STREAM_MAX; i++) {
		d->zs_reset[i] = e->zs_reset[i];
		if (!e->zs_on[i])
			continue;
		/* deflateCopy() takes a non-const source; it only reads it */
		if (deflateCopy(&d->zs[i], (z_stream *)&e->zs[i]) != Z_OK)
			abort(); /* only fails without memory */
		d->zs_on[i] = true;
	}
	d->broken = e->broken;
	return d;
}

void
tight_enc_reset_each(struct tight_enc *e, bool on)
{
	e->reset_each = on;
}

void
tight_enc_reset_streams(struct tight_enc *e)
{
	for (int i = 0; i < STREAM_MAX; i++)
		e->zs_reset[i] = true;
}

void
tight_enc_counts(const struct tight_enc *e, uint64_t ret_counts[TIGHT_KIND_MAX])
{
	memcpy(ret_counts, e->counts, sizeof(e->counts));
}

static void
out_reserve(struct tight_enc *e, size_t more)
{
	if (e->out_len + more <= e->out_cap)
		return;
	e->out_cap = AB_MAX(e->out_len + more, e->out_cap * 2);
	e->out = ab_xrealloc(e->out, e->out_cap);
}

static void
out_put(struct tight_enc *e, const void *p, size_t n)
{
	out_reserve(e, n);
	memcpy(e->out + e->out_len, p, n);
	e->out_len += n;
}

static void
out_byte(struct tight_enc *e, uint8_t b)
{
	out_put(e, &b, 1);
}

/* Tight's compact length: 7 bits a byte, low first, the top bit says another follows. */
static void
out_compact_len(struct tight_enc *e, size_t len)
{
	uint8_t b[3];
	int n = 0;
	b[n++] = (uint8_t)(len & 0x7f);
	if (len > 0x7f) {
		b[0] |= 0x80;
		b[n++] = (uint8_t)((len >> 7) & 0x7f);
		if (len > 0x3fff) {
			b[1] |= 0x80;
			b[n++] = (uint8_t)((len >> 14) & 0xff);
		}
	}
	out_put(e, b, (size_t)n);
}

static void
out_tpixel(struct tight_enc *e, uint32_t px)
{
	uint8_t b[3] = {(uint8_t)(px >> 16), (uint8_t)(px >> 8), (uint8_t)px};
	out_put(e, b, 3);
}

static uint8_t *
raw_reserve(struct tight_enc *e, size_t n)
{
	if (e->raw_cap < n) {
		free(e->raw);
		e->raw = ab_xmalloc(n);
		e->raw_cap = n;
	}
	return e->raw;
}

/* Appends len bytes of filtered data from e->raw: as is when short, else through stream s. */
static int
out_zlib(struct tight_enc *e, int s, int level, size_t len)
{
	if (len < MIN_TO_COMPRESS) {
		out_put(e, e->raw, len);
		return 0;
	}
	z_stream *zs = &e->zs[s];
	if (e->zs_reset[s] || e->reset_each) {
		if (e->zs_on[s] && deflateReset(zs) != Z_OK) {
			e->broken = true;
			return -EIO;
		}
		e->out[0] |= (uint8_t)(1u << s); /* the compression control byte */
		e->zs_reset[s] = false;
	}
	if (!e->zs_on[s]) {
		if (deflateInit(zs, AB_MAX(1, AB_MIN(level, 9))) != Z_OK)
			abort(); /* only fails without memory */
		e->zs_on[s] = true;
	}
	size_t bound = deflateBound(zs, (uLong)len) + 64;
	size_t at = e->out_len;
	out_reserve(e, 3 + bound);
	e->out_len += 3; /* room for the longest compact length, moved down below */
	zs->next_in = e->raw;
	zs->avail_in = (uInt)len;
	for (;;) {
		out_reserve(e, bound);
		zs->next_out = e->out + e->out_len;
		zs->avail_out = (uInt)(e->out_cap - e->out_len);
		int r = deflate(zs, Z_SYNC_FLUSH);
		e->out_len = e->out_cap - zs->avail_out;
		if (r != Z_OK && r != Z_BUF_ERROR) {
			e->broken = true;
			return -EIO;
		}
		if (zs->avail_in == 0 && zs->avail_out > 0)
			break;
	}
	size_t zlen = e->out_len - at - 3;
	uint8_t *z = e->out + at + 3;
	e->out_len = at;
	uint8_t hdr[3];
	size_t save = e->out_len;
	out_compact_len(e, zlen); /* 1..3 bytes, written over the room reserved */
	size_t hl = e->out_len - save;
	memcpy(hdr, e->out + save, hl);
	memmove(e->out + at + hl, z, zlen);
	memcpy(e->out + at, hdr, hl);
	e->out_len = at + hl + zlen;
	return 0;
}

static void
pal_reset(struct tight_enc *e)
{
	e->npal = 0;
	if (++e->gen == 0) { /* wrapped: forget every slot */
		memset(e->hash, 0, sizeof(e->hash));
		e->gen = 1;
	}
}

/* The palette index of c, added when new; -1 when the palette already holds max colours. */
static int
pal_index(struct tight_enc *e, uint32_t c, int max)
{
	unsigned h = (c * 2654435761u) >> 22; /* 10 bits: HASH_SIZE */
	for (;; h = (h + 1) & (HASH_SIZE - 1)) {
		struct pal_slot *s = &e->hash[h];
		if (s->gen != e->gen) {
			if (e->npal >= max)
				return -1;
			s->gen = e->gen;
			s->px = c;
			s->idx = (uint8_t)e->npal;
			e->pal[e->npal] = c;
			return e->npal++;
		}
		if (s->px == c)
			return s->idx;
	}
}

/*
 * Adds the colours of the w x h pixels at (x, y) to e->pal (call pal_reset()
 * first for a fresh palette) and writes each pixel's palette index to idx
 * (rows istride bytes apart). Returns how many colours the palette holds
 * then, or max + 1 as soon as it would take more than max (idx is then
 * partly written).
 */
static int
count_into(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int h,
           int max, uint8_t *idx, size_t istride)
{
	uint32_t last = 0;
	int li = -1;
	for (int j = 0; j < h; j++) {
		const uint8_t *row = px + (size_t)(y + j) * stride + (size_t)x * 4;
		uint8_t *o = idx + (size_t)j * istride;
		for (int i = 0; i < w; i++) {
			uint32_t c;
			memcpy(&c, row + (size_t)i * 4, 4);
			c &= 0xffffff;
			if (li < 0 || c != last) {
				last = c;
				li = pal_index(e, c, max);
				if (li < 0)
					return max + 1;
			}
			o[i] = (uint8_t)li;
		}
	}
	return e->npal;
}

/* Starts a rectangle's bytes. */
static void
out_begin(struct tight_enc *e)
{
	e->out_len = 0;
}

static int
enc_fill(struct tight_enc *e, uint32_t c)
{
	out_begin(e);
	out_byte(e, CTL_FILL);
	out_tpixel(e, c);
	e->counts[TIGHT_FILL]++;
	return 0;
}

/* The rectangle's n colours are e->pal[0..n), its pixels' indices idx (rows istride apart). */
static int
enc_palette(struct tight_enc *e, int n, const uint8_t *idx, size_t istride, int w, int h, int level,
            enum tight_kind *ret_kind)
{
	bool mono = n == 2;
	int s = mono ? STREAM_MONO : STREAM_PALETTE;
	out_begin(e);
	out_byte(e, (uint8_t)(s << CTL_STREAM_SHIFT | CTL_FILTER));
	out_byte(e, FILTER_PALETTE);
	out_byte(e, (uint8_t)(n - 1));
	for (int i = 0; i < n; i++)
		out_tpixel(e, e->pal[i]);
	size_t len;
	if (mono) { /* 1 bit a pixel, most significant first, rows padded to a byte */
		size_t rowb = (size_t)(w + 7) / 8;
		len = rowb * (size_t)h;
		uint8_t *d = raw_reserve(e, len);
		memset(d, 0, len);
		for (int j = 0; j < h; j++) {
			const uint8_t *in = idx + (size_t)j * istride;
			uint8_t *o = d + (size_t)j * rowb;
			for (int i = 0; i < w; i++)
				o[i >> 3] |= (uint8_t)(in[i] << (7 - (i & 7)));
		}
	} else {
		len = (size_t)w * (size_t)h;
		uint8_t *d = raw_reserve(e, len);
		for (int j = 0; j < h; j++)
			memcpy(d + (size_t)j * (size_t)w, idx + (size_t)j * istride, (size_t)w);
	}
	*ret_kind = mono ? TIGHT_MONO : TIGHT_PALETTE;
	e->counts[*ret_kind]++;
	return out_zlib(e, s, level, len);
}

/* Lossless full colour: the basic copy filter, R, G, B a pixel, through stream 0. */
static int
enc_copy(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int h,
         int level)
{
	out_begin(e);
	out_byte(e, (uint8_t)(STREAM_COPY << CTL_STREAM_SHIFT));
	size_t len = (size_t)w * (size_t)h * 3;
	uint8_t *d = raw_reserve(e, len);
	for (int j = 0; j < h; j++) {
		const uint8_t *row = px + (size_t)(y + j) * stride + (size_t)x * 4;
		for (int i = 0; i < w; i++) {
			uint32_t c;
			memcpy(&c, row + (size_t)i * 4, 4);
			*d++ = (uint8_t)(c >> 16);
			*d++ = (uint8_t)(c >> 8);
			*d++ = (uint8_t)c;
		}
	}
	e->counts[TIGHT_COPY]++;
	return out_zlib(e, STREAM_COPY, level, len);
}

static void
jpeg_error_exit(j_common_ptr c)
{
	struct jerr *je = (struct jerr *)c->err;
	longjmp(je->jmp, 1);
}

static void
jpeg_quiet(j_common_ptr c, int level)
{
}

static int
enc_jpeg(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int h,
         int quality)
{
	struct jpeg_compress_struct *jc = &e->jc;
	if (!e->jc_on) {
		jc->err = jpeg_std_error(&e->jerr.mgr);
		e->jerr.mgr.error_exit = jpeg_error_exit;
		e->jerr.mgr.emit_message = jpeg_quiet;
		jpeg_create_compress(jc);
		e->jc_on = true;
	}
	size_t need = (size_t)w * (size_t)h * 3 + 1024;
	if (e->jcap < need) {
		free(e->jbuf);
		e->jbuf = ab_xmalloc(need);
		e->jcap = (unsigned long)need;
	}
	/* in e, not locals: read after a longjmp */
	e->jout = e->jbuf;
	e->jsize = e->jcap;
	if (setjmp(e->jerr.jmp)) {
		jpeg_abort_compress(jc);
		if (e->jout != e->jbuf)
			free(e->jout);
		e->broken = true;
		return -EIO;
	}
	jpeg_mem_dest(jc, &e->jout, &e->jsize);
	jc->image_width = (JDIMENSION)w;
	jc->image_height = (JDIMENSION)h;
	jc->input_components = 4;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	jc->in_color_space = JCS_EXT_BGRX;
#else
	jc->in_color_space = JCS_EXT_XRGB;
#endif
	jpeg_set_defaults(jc);
	int q = AB_MAX(0, AB_MIN(quality, 9));
	jpeg_set_quality(jc, jpeg_quality[q], TRUE);
	jc->comp_info[0].h_samp_factor = jpeg_hsub[q];
	jc->comp_info[0].v_samp_factor = jpeg_vsub[q];
	jpeg_start_compress(jc, TRUE);
	JSAMPROW rows[TIGHT_TILE];
	for (int j = 0; j < h;) {
		int n = AB_MIN(h - j, TIGHT_TILE);
		for (int k = 0; k < n; k++)
			rows[k] = (JSAMPROW)(px + (size_t)(y + j + k) * stride + (size_t)x * 4);
		j += (int)jpeg_write_scanlines(jc, rows, (JDIMENSION)n);
	}
	jpeg_finish_compress(jc);
	if (e->jout != e->jbuf) { /* libjpeg grew it: keep the larger one */
		free(e->jbuf);
		e->jbuf = e->jout;
		e->jcap = e->jsize;
	}
	out_begin(e);
	out_byte(e, CTL_JPEG);
	out_compact_len(e, e->jsize);
	out_put(e, e->jbuf, e->jsize);
	e->counts[TIGHT_JPEG]++;
	return 0;
}

/* A run of tiles of one kind in a tile row, waiting to be encoded. */
struct run {
	enum cls cls;
	int x, w;        /* columns, relative to the rectangle */
	uint32_t colour; /* CLS_SOLID */
	int npal;        /* CLS_PALETTE: its colours are e->pal[0..npal), its indices e->idx */
};

/* Encodes run r of the tile row at y (h rows) and hands it to emit. */
static int
enc_run(struct tight_enc *e, const uint8_t *px, size_t stride, int ox, int oy, const struct run *r,
        int y, int h, int quality, int level, tight_emit_fn emit, void *data, size_t istride)
{
	enum tight_kind kind;
	int ret;
	if (r->cls == CLS_SOLID) {
		ret = enc_fill(e, r->colour);
		kind = TIGHT_FILL;
	} else if (r->cls == CLS_PALETTE) {
		ret = enc_palette(e, r->npal, e->idx, istride, r->w, h, level, &kind);
	} else if (quality >= 0) {
		ret = enc_jpeg(e, px, stride, r->x, y, r->w, h, quality);
		kind = TIGHT_JPEG;
	} else {
		ret = enc_copy(e, px, stride, r->x, y, r->w, h, level);
		kind = TIGHT_COPY;
	}
	if (ret < 0)
		return ret;
	if (!emit(data, ox + r->x, oy + y, r->w, h, kind, e->out, e->out_len))
		return -ECANCELED;
	return 1;
}

static int encode_band(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w,
                       int y0, int bh, int quality, int lim, int level, tight_emit_fn emit,
                       void *data);

int
tight_encode(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int h,
             int quality, int compress, tight_emit_fn emit, void *data)
{
	if (e->broken)
		return -EIO;
	if (w <= 0 || h <= 0)
		return 0;
	int lim = quality < 0 ? TIGHT_PALETTE_MAX : TIGHT_PALETTE_JPEG;
	int level = AB_MAX(1, AB_MIN(compress, 9));
	int total = 0, ret;
	/*
	 * Bands of the rectangle's width, as tall as TIGHT_MAX_AREA allows: a
	 * band of few colours (terminal text, a window's background) goes out
	 * whole, one rectangle (per-rectangle headers and zlib flushes add up:
	 * a scrolling terminal's update is one rectangle, not one a tile row).
	 * Else, one pass over each tile row of the band: a tile's colours are
	 * counted into the palette run waiting to be sent while they fit (its
	 * indices written as they are found), else counted afresh; photographic
	 * tiles stop counting after lim + 1 colours. Fill and photographic tiles
	 * join runs of their kind. Runs never pass TIGHT_MAX_WIDTH columns or
	 * TIGHT_MAX_AREA pixels.
	 */
	int band = w <= TIGHT_MAX_WIDTH ? AB_MAX(1, TIGHT_MAX_AREA / w) : TIGHT_TILE;
	for (int by = 0; by < h; by += band) {
		int bh = AB_MIN(band, h - by);
		if (w <= TIGHT_MAX_WIDTH) {
			pal_reset(e);
			int n = count_into(e, px, stride, 0, by, w, bh, lim, e->idx, (size_t)w);
			if (n <= lim) {
				struct run whole = {n == 1 ? CLS_SOLID : CLS_PALETTE, 0, w,
				                    e->pal[0], n};
				ret = enc_run(e, px, stride, x, y, &whole, by, bh, quality, level,
				              emit, data, (size_t)w);
				if (ret < 0)
					return ret;
				total += ret;
				continue;
			}
		}
		ret = encode_band(e, px, stride, x, y, w, by, bh, quality, lim, level, emit, data);
		if (ret < 0)
			return ret;
		total += ret;
	}
	return total;
}

/* The tiles of the band of rows y0 .. y0 + bh (see tight_encode). */
static int
encode_band(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int y0,
            int bh, int quality, int lim, int level, tight_emit_fn emit, void *data)
{
	int total = 0, ret;
	for (int ty = y0; ty < y0 + bh; ty += TIGHT_TILE) {
		int th = AB_MIN(TIGHT_TILE, y0 + bh - ty);
		int max_w = AB_MIN(TIGHT_MAX_WIDTH, TIGHT_MAX_AREA / th);
		struct run run = {.w = 0};
		for (int tx = 0; tx < w; tx += TIGHT_TILE) {
			int tw = AB_MIN(TIGHT_TILE, w - tx);
			if (run.w && run.cls == CLS_PALETTE) {
				if (run.w + tw <= max_w) {
					int n = count_into(e, px, stride, tx, ty, tw, th, lim,
					                   e->idx + (tx - run.x), TIGHT_MAX_WIDTH);
					/* (a 2-colour run stays one: 1 bit a pixel) */
					if (n <= lim && (run.npal > 2 || n <= 2)) {
						run.w += tw;
						run.npal = n;
						continue;
					}
				}
				/* its colours are still e->pal[0..npal) */
				ret = enc_run(e, px, stride, x, y, &run, ty, th, quality, level,
				              emit, data, TIGHT_MAX_WIDTH);
				if (ret < 0)
					return ret;
				total += ret;
				run.w = 0;
			}
			pal_reset(e);
			int n = count_into(e, px, stride, tx, ty, tw, th, lim, e->tidx, TIGHT_TILE);
			struct run t = {n == 1     ? CLS_SOLID
			                : n <= lim ? CLS_PALETTE
			                           : CLS_FULL,
			                tx, tw, e->pal[0], n};
			if (run.w && run.cls == t.cls && t.cls != CLS_PALETTE &&
			    (t.cls == CLS_FULL || run.colour == t.colour) && run.w + tw <= max_w) {
				run.w += tw;
				continue;
			}
			if (run.w) { /* a fill or photographic run: e->pal is not needed */
				ret = enc_run(e, px, stride, x, y, &run, ty, th, quality, level,
				              emit, data, TIGHT_MAX_WIDTH);
				if (ret < 0)
					return ret;
				total += ret;
			}
			if (t.cls == CLS_PALETTE) /* the tile's indices start the run's */
				for (int j = 0; j < th; j++)
					memcpy(e->idx + (size_t)j * TIGHT_MAX_WIDTH,
					       e->tidx + (size_t)j * TIGHT_TILE, (size_t)tw);
			run = t;
		}
		if (run.w) {
			ret = enc_run(e, px, stride, x, y, &run, ty, th, quality, level, emit, data,
			              TIGHT_MAX_WIDTH);
			if (ret < 0)
				return ret;
			total += ret;
		}
	}
	return total;
}
