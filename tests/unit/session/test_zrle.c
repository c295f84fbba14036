/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zrle: every tile kind the encoder writes decodes (with an independent
 * decoder written from RFC 6143 7.7.6 here) to exactly the input pixels, for
 * 32 bpp with 3-byte CPIXELs (either end) and 16 bpp, partial edge tiles, and
 * several rectangles on one zlib stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "zrle.h"

struct dec {
	z_stream zs;
	uint8_t buf[1 << 22];
	size_t len, pos;
};

static void
dec_init(struct dec *d)
{
	memset(&d->zs, 0, sizeof(d->zs));
	assert_int_equal(inflateInit(&d->zs), Z_OK);
}

static void
dec_feed(struct dec *d, const uint8_t *data, size_t len)
{
	d->zs.next_in = (uint8_t *)data;
	d->zs.avail_in = (uInt)len;
	d->zs.next_out = d->buf;
	d->zs.avail_out = sizeof(d->buf);
	int z = inflate(&d->zs, Z_SYNC_FLUSH);
	assert_true(z == Z_OK || z == Z_BUF_ERROR);
	assert_int_equal(d->zs.avail_in, 0);
	d->len = sizeof(d->buf) - d->zs.avail_out;
	d->pos = 0;
}

static unsigned
u8(struct dec *d)
{
	assert_true(d->pos < d->len);
	return d->buf[d->pos++];
}

static uint32_t
cpix(struct dec *d, const struct zrle_format *f)
{
	uint32_t v = 0;
	assert_true(d->pos + (size_t)f->cpixel <= d->len);
	memcpy((uint8_t *)&v + f->cpixel_off, d->buf + d->pos, (size_t)f->cpixel);
	d->pos += (size_t)f->cpixel;
	return v;
}

static long
run_len(struct dec *d)
{
	long n = 1;
	unsigned b;
	do {
		b = u8(d);
		n += b;
	} while (b == 255);
	return n;
}

/* Decodes one rectangle's tiles into out (w*h pixels); counts tile kinds. */
static void
dec_rect(struct dec *d, const struct zrle_format *f, int w, int h, uint32_t *out, int kinds[5])
{
	for (int ty = 0; ty < h; ty += 64) {
		for (int tx = 0; tx < w; tx += 64) {
			int tw = w - tx < 64 ? w - tx : 64, th = h - ty < 64 ? h - ty : 64;
			unsigned sub = u8(d);
			uint32_t pal[128];
			int npal = sub >= 128 ? (int)sub - 128 : (int)sub;
			if (sub == 0) {
				kinds[ZRLE_RAW]++;
				for (int y = 0; y < th; y++)
					for (int x = 0; x < tw; x++)
						out[(ty + y) * w + tx + x] = cpix(d, f);
				continue;
			}
			for (int k = 0; k < npal; k++)
				pal[k] = cpix(d, f);
			if (sub == 1) {
				kinds[ZRLE_SOLID]++;
				for (int y = 0; y < th; y++)
					for (int x = 0; x < tw; x++)
						out[(ty + y) * w + tx + x] = pal[0];
			} else if (sub <= 16) {
				kinds[ZRLE_PACKED]++;
				int bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4;
				for (int y = 0; y < th; y++) {
					unsigned byte = 0;
					int left = 0;
					for (int x = 0; x < tw; x++) {
						if (left == 0) {
							byte = u8(d);
							left = 8;
						}
						left -= bits;
						unsigned i = (byte >> left) & ((1u << bits) - 1);
						assert_true((int)i < npal);
						out[(ty + y) * w + tx + x] = pal[i];
					}
				}
			} else {
				assert_true(sub == 128 || sub >= 130);
				kinds[sub == 128 ? ZRLE_RLE : ZRLE_PRLE]++;
				int n = tw * th;
				for (int p = 0; p < n;) {
					uint32_t px;
					long len = 1;
					if (sub == 128) {
						px = cpix(d, f);
						len = run_len(d);
					} else {
						unsigned i = u8(d);
						if (i & 128)
							len = run_len(d);
						assert_true((int)(i & 127) < npal);
						px = pal[i & 127];
					}
					assert_true(len <= n - p);
					for (long k = 0; k < len; k++, p++)
						out[(ty + p / tw) * w + tx + p % tw] = px;
				}
			}
		}
	}
	assert_int_equal(d->pos, d->len); /* nothing left over */
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A test image: solid area, 2-colour text, 5 and 12 colour areas, 60 colours, noise. */
static void
make_image(uint32_t *px, int w, int h, uint32_t mask)
{
	uint32_t s = 12345;
	uint32_t cols[60];
	for (int i = 0; i < 60; i++)
		cols[i] = rnd(&s) & mask;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			uint32_t v;
			int band = x / 64;
			if (y < 64 && band % 2 == 0)
				v = cols[0];
			else if (band == 0)
				v = (rnd(&s) % 7 == 0) ? cols[1] : cols[2];
			else if (band == 1)
				v = cols[3 + rnd(&s) % 5];
			else if (band == 2)
				v = cols[3 + (x + y) % 12];
			else if (band == 3)
				v = cols[(x / 3 + y) % 60]; /* runs of 3 */
			else if (band == 4)
				v = (y / 8 % 2) ? rnd(&s) & mask
				                : (uint32_t)(x / 16) * 0x010101u & mask;
			else
				v = rnd(&s) & mask;
			px[y * w + x] = v;
		}
	}
}

static void
roundtrip(const struct zrle_format *f, uint32_t mask, int w, int h)
{
	uint32_t *img = calloc((size_t)w * h, 4), *got = calloc((size_t)w * h, 4);
	uint8_t *mem = calloc((size_t)w * h, 4);
	assert_non_null(img);
	assert_non_null(got);
	assert_non_null(mem);
	make_image(img, w, h, mask);
	for (int i = 0; i < w * h; i++)
		memcpy(mem + (size_t)i * (size_t)f->bytes_pp, &img[i], (size_t)f->bytes_pp);
	struct zrle_enc *e = zrle_enc_new(6);
	static struct dec d;
	dec_init(&d);
	int kinds[5] = {0};
	/* the whole image, then a sub-rectangle on the same stream, twice */
	for (int round = 0; round < 2; round++) {
		const uint8_t *data;
		long len = zrle_encode(e, mem, (size_t)w * (size_t)f->bytes_pp, w, h, f, &data);
		assert_true(len > 0);
		dec_feed(&d, data, (size_t)len);
		memset(got, 0, (size_t)w * h * 4);
		dec_rect(&d, f, w, h, got, kinds);
		assert_memory_equal(got, img, (size_t)w * h * 4);

		int sx = 37, sy = 21, sw = w - 50, sh = h - 30;
		len = zrle_encode(e, mem + ((size_t)sy * w + sx) * (size_t)f->bytes_pp,
		                  (size_t)w * (size_t)f->bytes_pp, sw, sh, f, &data);
		assert_true(len > 0);
		dec_feed(&d, data, (size_t)len);
		uint32_t *sub = calloc((size_t)sw * sh, 4);
		assert_non_null(sub);
		dec_rect(&d, f, sw, sh, sub, kinds);
		for (int y = 0; y < sh; y++)
			assert_memory_equal(sub + y * sw, img + (sy + y) * w + sx, (size_t)sw * 4);
		free(sub);
	}
	/* every kind was exercised */
	for (int k = 0; k < 5; k++)
		assert_true(kinds[k] > 0);
	uint64_t counts[ZRLE_KIND_MAX];
	zrle_enc_counts(e, counts);
	for (int k = 0; k < 5; k++)
		assert_int_equal(counts[k], (uint64_t)kinds[k]);
	inflateEnd(&d.zs);
	zrle_enc_free(e);
	free(img);
	free(got);
	free(mem);
}

static void
test_32bpp_ls3(void **state)
{
	struct zrle_format f = {4, 3, 0};
	roundtrip(&f, 0xffffff, 420, 150);
}

static void
test_32bpp_ms3(void **state)
{
	struct zrle_format f = {4, 3, 1};
	roundtrip(&f, 0xffffff00u, 390, 130);
}

static void
test_32bpp_full(void **state)
{
	struct zrle_format f = {4, 4, 0};
	roundtrip(&f, 0xffffffffu, 400, 70);
}

static void
test_16bpp(void **state)
{
	struct zrle_format f = {2, 2, 0};
	roundtrip(&f, 0xffff, 450, 100);
}

/* terminal text (2 colours) goes out as packed palette, never as palette RLE */
static void
test_text_is_packed(void **state)
{
	int w = 128, h = 64;
	uint32_t img[128 * 64];
	uint32_t s = 99;
	for (int i = 0; i < w * h; i++)
		img[i] = (i / w) % 16 < 12 && rnd(&s) % 5 == 0 ? 0xffffff : 0x000000;
	struct zrle_format f = {4, 3, 0};
	struct zrle_enc *e = zrle_enc_new(6);
	const uint8_t *data;
	assert_true(zrle_encode(e, (const uint8_t *)img, (size_t)w * 4, w, h, &f, &data) > 0);
	uint64_t counts[ZRLE_KIND_MAX];
	zrle_enc_counts(e, counts);
	assert_int_equal(counts[ZRLE_PACKED], 2);
	zrle_enc_free(e);
}

AB_TEST_MAIN(NULL, NULL, test_32bpp_ls3, test_32bpp_ms3, test_32bpp_full, test_16bpp,
             test_text_is_packed);
