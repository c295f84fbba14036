/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tight: what the encoder writes decodes (with an independent decoder
 * written from the Tight specification here: fill, JPEG, basic compression
 * with the copy and palette filters, compact lengths, four zlib streams and
 * their resets) to the input pixels: exactly for every lossless kind, within
 * JPEG's tolerance for photographic areas; rectangles cover the input once,
 * none larger than 65536 pixels or 2048 columns; few-colour areas never go
 * to JPEG; stream resets after tight_enc_reset_streams() decode in fresh
 * streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <jpeglib.h>
#include <string.h>
#include <zlib.h>

#include "tight.h"

#define W 700
#define H 300

struct dec {
	z_stream zs[4];
	bool on[4];
	uint32_t fb[W * H]; /* decoded 0x00RRGGBB */
	uint8_t cover[W * H];
	int rects, kinds[TIGHT_KIND_MAX];
	bool jpeg_px[W * H];
};

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static size_t
compact_len(const uint8_t *p, size_t *len)
{
	size_t n = p[0] & 0x7f, k = 1;
	if (p[0] & 0x80) {
		n |= (size_t)(p[1] & 0x7f) << 7;
		k = 2;
		if (p[1] & 0x80) {
			n |= (size_t)p[2] << 14;
			k = 3;
		}
	}
	*len = n;
	return k;
}

/* data of `want` bytes after the filter: raw when short, else zlib on stream s */
static const uint8_t *
basic_data(struct dec *d, int s, const uint8_t *p, const uint8_t *end, size_t want, uint8_t *out)
{
	if (want < 12) {
		assert_true(p + want <= end);
		memcpy(out, p, want);
		return p + want;
	}
	size_t zlen;
	p += compact_len(p, &zlen);
	assert_true(p + zlen == end);
	if (!d->on[s]) {
		memset(&d->zs[s], 0, sizeof(d->zs[s]));
		assert_int_equal(inflateInit(&d->zs[s]), Z_OK);
		d->on[s] = true;
	}
	d->zs[s].next_in = (uint8_t *)p;
	d->zs[s].avail_in = (uInt)zlen;
	d->zs[s].next_out = out;
	d->zs[s].avail_out = (uInt)want;
	int r = inflate(&d->zs[s], Z_SYNC_FLUSH);
	assert_true(r == Z_OK || r == Z_STREAM_END);
	assert_int_equal(d->zs[s].avail_out, 0);
	assert_int_equal(d->zs[s].avail_in, 0);
	return p + zlen;
}

static bool
emit(void *data, int x, int y, int w, int h, enum tight_kind kind, const uint8_t *p, size_t len)
{
	struct dec *d = data;
	const uint8_t *end = p + len;
	assert_true(w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= W && y + h <= H);
	assert_true((long)w * h <= 65536 || kind == TIGHT_FILL);
	assert_true(w <= 2048);
	d->rects++;
	d->kinds[kind]++;
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			d->cover[j * W + i]++;
	uint8_t ctl = *p++;
	for (int s = 0; s < 4; s++)
		if (ctl & (1 << s) && d->on[s]) {
			inflateEnd(&d->zs[s]);
			d->on[s] = false;
		}
	ctl >>= 4;
	static uint8_t buf[W * H * 3];
	if (ctl == 8) { /* fill */
		assert_int_equal(kind, TIGHT_FILL);
		assert_true(p + 3 == end);
		uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		for (int j = y; j < y + h; j++)
			for (int i = x; i < x + w; i++)
				d->fb[j * W + i] = c;
		return true;
	}
	if (ctl == 9) { /* JPEG */
		assert_int_equal(kind, TIGHT_JPEG);
		size_t n;
		p += compact_len(p, &n);
		assert_true(p + n == end);
		struct jpeg_decompress_struct jd;
		struct jpeg_error_mgr jerr;
		jd.err = jpeg_std_error(&jerr);
		jpeg_create_decompress(&jd);
		jpeg_mem_src(&jd, p, (unsigned long)n);
		assert_int_equal(jpeg_read_header(&jd, TRUE), JPEG_HEADER_OK);
		jd.out_color_space = JCS_RGB;
		jpeg_start_decompress(&jd);
		assert_int_equal((int)jd.output_width, w);
		assert_int_equal((int)jd.output_height, h);
		for (int j = 0; j < h; j++) {
			JSAMPROW row = buf;
			assert_int_equal(jpeg_read_scanlines(&jd, &row, 1), 1);
			for (int i = 0; i < w; i++) {
				d->fb[(y + j) * W + x + i] = (uint32_t)buf[3 * i] << 16 |
				                             (uint32_t)buf[3 * i + 1] << 8 |
				                             buf[3 * i + 2];
				d->jpeg_px[(y + j) * W + x + i] = true;
			}
		}
		jpeg_finish_decompress(&jd);
		jpeg_destroy_decompress(&jd);
		return true;
	}
	assert_true(ctl < 8);
	int s = ctl & 3;
	int filter = 0;
	if (ctl & 4)
		filter = *p++;
	if (filter == 0) { /* copy: R, G, B a pixel */
		assert_int_equal(kind, TIGHT_COPY);
		basic_data(d, s, p, end, (size_t)w * h * 3, buf);
		for (int j = 0; j < h; j++)
			for (int i = 0; i < w; i++) {
				const uint8_t *q = buf + 3 * (j * w + i);
				d->fb[(y + j) * W + x + i] =
				    (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
			}
		return true;
	}
	assert_int_equal(filter, 1); /* palette */
	int n = *p++ + 1;
	assert_true(n >= 2 && n <= 256);
	uint32_t pal[256];
	for (int i = 0; i < n; i++, p += 3)
		pal[i] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	assert_int_equal(kind, n == 2 ? TIGHT_MONO : TIGHT_PALETTE);
	size_t rowb = n == 2 ? (size_t)(w + 7) / 8 : (size_t)w;
	basic_data(d, s, p, end, rowb * h, buf);
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++) {
			int k =
			    n == 2 ? buf[j * rowb + i / 8] >> (7 - i % 8) & 1 : buf[j * rowb + i];
			assert_true(k < n);
			d->fb[(y + j) * W + x + i] = pal[k];
		}
	return true;
}

static struct dec *
dec_new(void)
{
	return calloc(1, sizeof(struct dec));
}

static void
dec_free(struct dec *d)
{
	for (int s = 0; s < 4; s++)
		if (d->on[s])
			inflateEnd(&d->zs[s]);
	free(d);
}

/*
 * a desktop: solid background, a window of 2-colour text (its own tiles), a 7-colour chart, a
 * photo in tiles of its own (a tile mixing a photo with text is photographic)
 */
static uint32_t *
picture(void)
{
	uint32_t *img = malloc(sizeof(uint32_t) * W * H);
	uint32_t s = 7;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint32_t c = 0x2e3c4c;
			if (x < 320 && y < 192) /* text */
				c = (y % 12 < 9 && rnd(&s) % 4 == 0) ? 0x101010 : 0xf0f0f0;
			else if (x >= 320 && x < 420 && y >= 20 && y < 120) /* chart */
				c = 0x102030 * (uint32_t)(((x / 7) + (y / 9)) % 7);
			else if (x >= 448 && y >= 128) /* photo: smooth, noisy */
				c = (uint32_t)((x * 3 + (int)(rnd(&s) % 9)) & 0xff) << 16 |
				    (uint32_t)((y * 2 + (int)(rnd(&s) % 9)) & 0xff) << 8 |
				    (uint32_t)((x + y) & 0xff);
			img[y * W + x] = c | 0xff000000u; /* the X byte is ignored */
		}
	return img;
}

static void
check_decoded(const struct dec *d, const uint32_t *img, bool lossless)
{
	long err = 0, njpeg = 0;
	for (int i = 0; i < W * H; i++) {
		assert_int_equal(d->cover[i], 1);
		uint32_t want = img[i] & 0xffffff;
		if (!d->jpeg_px[i]) {
			if (d->fb[i] != want)
				fail_msg("pixel %d,%d: %06x, want %06x", i % W, i / W, d->fb[i],
				         want);
			continue;
		}
		assert_false(lossless);
		njpeg++;
		for (int c = 0; c < 24; c += 8)
			err += labs((long)((d->fb[i] >> c) & 0xff) - (long)((want >> c) & 0xff));
	}
	if (njpeg)
		assert_true(err / (3 * njpeg) < 8); /* mean error per channel */
}

static void
test_lossless(void **state)
{
	uint32_t *img = picture();
	struct dec *d = dec_new();
	struct tight_enc *e = tight_enc_new();
	int n = tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H, -1, 2, emit, d);
	assert_int_equal(n, d->rects);
	check_decoded(d, img, true);
	assert_true(d->kinds[TIGHT_FILL] > 0);
	assert_true(d->kinds[TIGHT_MONO] > 0);
	assert_true(d->kinds[TIGHT_COPY] > 0);
	assert_int_equal(d->kinds[TIGHT_JPEG], 0);
	uint64_t counts[TIGHT_KIND_MAX];
	tight_enc_counts(e, counts);
	assert_int_equal(counts[TIGHT_COPY], d->kinds[TIGHT_COPY]);
	tight_enc_free(e);
	dec_free(d);
	free(img);
}

/* with a quality level: JPEG for the photo only; text and chart stay exact */
static void
test_jpeg(void **state)
{
	uint32_t *img = picture();
	struct dec *d = dec_new();
	struct tight_enc *e = tight_enc_new();
	assert_true(tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H, 6, 2, emit, d) > 0);
	check_decoded(d, img, false);
	assert_true(d->kinds[TIGHT_JPEG] > 0);
	assert_int_equal(d->kinds[TIGHT_COPY], 0);
	for (int y = 20; y < 200; y++) /* the text and the chart were not JPEG */
		for (int x = 20; x < 420; x++)
			assert_false(d->jpeg_px[y * W + x]);
	tight_enc_free(e);
	dec_free(d);
	free(img);
}

/*
 * Several rectangles on one encoder keep the streams going; after a reset the
 * next rectangle on each stream says so and decodes in a fresh stream (a
 * decoder that never saw the earlier ones: as a client sent a cached frame).
 */
static void
test_streams_and_reset(void **state)
{
	uint32_t *img = picture();
	struct dec *d = dec_new();
	struct tight_enc *e = tight_enc_new();
	assert_true(tight_enc_pristine(e));
	assert_true(tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H / 2, -1, 6, emit, d) >
	            0);
	assert_false(tight_enc_pristine(e));
	const uint8_t *lower = (const uint8_t *)(img + (H / 2) * W);
	assert_true(tight_encode(e, lower, W * 4, 0, H / 2, W, H - H / 2, -1, 6, emit, d) > 0);
	check_decoded(d, img, true);
	dec_free(d);

	tight_enc_reset_streams(e);
	assert_true(tight_enc_pristine(e));
	d = dec_new(); /* fresh streams: works only if the encoder reset its own */
	assert_true(tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H, -1, 6, emit, d) > 0);
	check_decoded(d, img, true);
	tight_enc_free(e);
	dec_free(d);
	free(img);
}

/* emit() into a decoder whose streams are all new for each rectangle */
static bool
emit_fresh(void *data, int x, int y, int w, int h, enum tight_kind kind, const uint8_t *bytes,
           size_t len)
{
	struct dec *d = data;
	for (int s = 0; s < 4; s++)
		if (d->on[s]) {
			inflateEnd(&d->zs[s]);
			d->on[s] = false;
		}
	return emit(data, x, y, w, h, kind, bytes, len);
}

/*
 * tight_enc_reset_each (the preview fan-out): every rectangle decodes in new streams, after a
 * first encoding that left history in them, with and without JPEG
 */
static void
test_reset_each(void **state)
{
	uint32_t *img = picture();
	for (int q = -1; q <= 6; q += 7) {
		struct dec *d = dec_new();
		struct tight_enc *e = tight_enc_new();
		assert_true(
		    tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H, q, 6, emit, d) > 0);
		dec_free(d);
		tight_enc_reset_each(e, true);
		d = dec_new();
		assert_true(tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H, q, 6,
		                         emit_fresh, d) > 1);
		check_decoded(d, img, q < 0);
		tight_enc_free(e);
		dec_free(d);
	}
	free(img);
}

/* a 1-row and a 1-column rectangle of noise (lossless: copy filter, short data raw) */
static void
test_odd_shapes(void **state)
{
	static uint32_t wide[3000 * 3];
	uint32_t s = 3;
	for (int i = 0; i < 3000 * 3; i++)
		wide[i] = rnd(&s) & 0xffffff;
	struct tight_enc *e = tight_enc_new();
	struct dec *d = dec_new();
	assert_true(tight_encode(e, (const uint8_t *)wide, 3000 * 4, 0, 0, W, 1, -1, 1, emit, d) >
	            0);
	assert_true(tight_encode(e, (const uint8_t *)wide, 3000 * 4, 0, 1, 1, 2, -1, 1, emit, d) >
	            0);
	for (int i = 0; i < W; i++)
		assert_int_equal(d->fb[i], wide[i]);
	assert_int_equal(d->fb[W], wide[0]);
	assert_int_equal(d->fb[2 * W], wide[3000]);
	dec_free(d);
	tight_enc_free(e);
}

/*
 * tight_enc_dup(): a copy's streams continue the original's. A decoder that
 * took the upper half from e takes the lower half from the copy, with no
 * reset (vnc.c's first-frame replay: noVNC cannot reset a used stream).
 */
static void
test_dup_continues_streams(void **state)
{
	uint32_t *img = picture();
	struct dec *d = dec_new();
	struct tight_enc *e = tight_enc_new();
	assert_true(tight_enc_fresh(e));
	assert_true(tight_encode(e, (const uint8_t *)img, W * 4, 0, 0, W, H / 2, -1, 6, emit, d) >
	            0);
	assert_false(tight_enc_fresh(e));
	struct tight_enc *c = tight_enc_dup(e);
	assert_false(tight_enc_fresh(c));
	tight_enc_free(e); /* nothing shared */
	const uint8_t *lower = (const uint8_t *)(img + (H / 2) * W);
	assert_true(tight_encode(c, lower, W * 4, 0, H / 2, W, H - H / 2, -1, 6, emit, d) > 0);
	check_decoded(d, img, true);
	tight_enc_free(c);
	dec_free(d);
	/* a reset encoder is not fresh: the client's streams hold something */
	e = tight_enc_new();
	tight_enc_reset_streams(e);
	assert_false(tight_enc_fresh(e));
	tight_enc_free(e);
	free(img);
}

AB_TEST_MAIN(NULL, NULL, test_lossless, test_jpeg, test_streams_and_reset, test_reset_each,
             test_odd_shapes, test_dup_continues_streams);
