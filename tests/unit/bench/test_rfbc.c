/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rfbc (bench/rfbc.c), the benchmark's RFB client, against a scripted server
 * on a socketpair: the encodings lists it sends (noVNC's exactly), every kind
 * of Tight rectangle (fill, JPEG, basic with the copy, palette and gradient
 * filters, data under 12 bytes sent as it is, 1- to 3-byte compact lengths,
 * all four zlib streams and their resets) decoded into the framebuffer and
 * counted, corrupt Tight data refused with a clear error, and the protocol
 * noVNC's encodings bring along: fences answered, continuous updates turned
 * on, ExtendedDesktopSize, cursors, QEMU key events, extended clipboard.
 * The Tight data is made here with zlib and libjpeg, independently of any
 * server's encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "ab_util.h"
#include "rfbc.h"

#define W 128
#define H 96

/* ---- a byte builder for the server's side ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void
put(struct buf *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = ab_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void
put8(struct buf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;
	put(b, &c, 1);
}

static void
put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void
put32(struct buf *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}

static void
rect_hdr(struct buf *b, int x, int y, int w, int h, int32_t enc)
{
	put16(b, (unsigned)x);
	put16(b, (unsigned)y);
	put16(b, (unsigned)w);
	put16(b, (unsigned)h);
	put32(b, (uint32_t)enc);
}

/* A FramebufferUpdate's header: type 0, padding, N rectangles (0xffff: ended by LastRect). */
static void
fbu_hdr(struct buf *b, unsigned n)
{
	put8(b, 0);
	put8(b, 0);
	put16(b, n);
}

/* The compact length written the way the spec draws it. */
static void
put_clen(struct buf *b, size_t len)
{
	put8(b, (len & 0x7f) | (len > 0x7f ? 0x80 : 0));
	if (len > 0x7f) {
		put8(b, ((len >> 7) & 0x7f) | (len > 0x3fff ? 0x80 : 0));
		if (len > 0x3fff)
			put8(b, len >> 14);
	}
}

/* The server's four zlib streams. */
static z_stream zs[4];
static int clen_bytes;    /* size of the last compact length written */
static bool clen_seen[4]; /* which sizes were written */

static void
zs_reset(int i)
{
	deflateEnd(&zs[i]);
	memset(&zs[i], 0, sizeof(zs[i]));
	assert_int_equal(deflateInit(&zs[i], 6), Z_OK);
}

static void
put_tight_data(struct buf *b, int sid, const uint8_t *data, size_t n)
{
	if (n < 12) {
		put(b, data, n);
		clen_bytes = 0;
		return;
	}
	size_t cap = deflateBound(&zs[sid], n) + 64;
	uint8_t *out = ab_xmalloc(cap);
	zs[sid].next_in = (uint8_t *)data;
	zs[sid].avail_in = (uInt)n;
	zs[sid].next_out = out;
	zs[sid].avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs[sid], Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(zs[sid].avail_in, 0);
	size_t len = cap - zs[sid].avail_out;
	size_t before = b->n;
	put_clen(b, len);
	clen_bytes = (int)(b->n - before);
	clen_seen[clen_bytes] = true;
	put(b, out, len);
	free(out);
}

/* ---- the connection ---- */

struct t {
	struct rfbc *r;
	int srv; /* the server's end */
	int32_t *encs;
};

static void
srv_send(struct t *t, struct buf *b)
{
	assert_int_equal(ab_write_all(t->srv, b->p, b->n), 0);
	b->n = 0;
}

/* Reads exactly n bytes the client wrote (1 s at most). */
static void
srv_read(struct t *t, void *out, size_t n)
{
	uint8_t *p = out;
	while (n) {
		struct pollfd pf = {.fd = t->srv, .events = POLLIN};
		assert_int_equal(poll(&pf, 1, 1000), 1);
		ssize_t k = read(t->srv, p, n);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

static void
srv_nothing(struct t *t)
{
	struct pollfd pf = {.fd = t->srv, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 50), 0);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Connects a client with `encodings` (NULL: its default) to the scripted server. */
static void
t_open(struct t *t, const char *encodings, size_t *ret_nencs)
{
	memset(t, 0, sizeof(*t));
	t->r = ab_xcalloc(1, sizeof(*t->r));
	t->r->track_lossy = true;
	size_t n = 0;
	if (encodings) {
		struct ab_err err = {0};
		assert_int_equal(rfbc_parse_encodings(encodings, &t->encs, &n, &err), 0);
		t->r->encodings = t->encs;
		t->r->n_encodings = n;
	}
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	t->r->conn.fd = sv[0];
	t->r->conn.deadline_us = ab_now_us() + 5000000;
	t->srv = sv[1];
	struct buf b = {0};
	put(&b, "RFB 003.008\n", 12);
	put8(&b, 1); /* one security type: None */
	put8(&b, 1);
	put32(&b, 0); /* SecurityResult OK */
	put16(&b, W);
	put16(&b, H);
	uint8_t pf[16] = {32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
	put(&b, pf, sizeof(pf));
	put32(&b, 4);
	put(&b, "test", 4);
	srv_send(t, &b);
	free(b.p);
	struct ab_err err = {0};
	assert_int_equal(rfbc_handshake(t->r, &err), 0);
	uint8_t hello[14 + 20 + 4];
	srv_read(t, hello, sizeof(hello));
	assert_memory_equal(hello, "RFB 003.008\n\x01\x01", 14);
	assert_int_equal(hello[14], 0);      /* SetPixelFormat */
	assert_int_equal(hello[14 + 4], 32); /* bpp */
	assert_int_equal(hello[34], 2);      /* SetEncodings */
	size_t ne = (size_t)(hello[36] << 8 | hello[37]);
	if (ret_nencs)
		*ret_nencs = ne;
	for (int i = 0; i < 4; i++)
		zs_reset(i);
}

/* t_open, then the server side reads the SKIP bytes the client sent first (its
 * SetEncodings: a 4-byte header and 4 bytes an encoding). */
static void
t_open_past(struct t *t, const char *encodings, size_t skip)
{
	uint8_t buf[64];
	assert_true(skip <= sizeof(buf));
	t_open(t, encodings, NULL);
	srv_read(t, buf, skip);
}

static void
t_close(struct t *t)
{
	rfbc_free(t->r);
	free(t->r);
	free(t->encs);
	close(t->srv);
}

/* The client reads one message; it must be a FramebufferUpdate. */
static void
read_update(struct t *t)
{
	struct ab_err err = {0};
	int ret = rfbc_read_msg(t->r, &err);
	if (ret != 1)
		fail_msg("rfbc_read_msg: %d (%s)", ret, err.msg);
}

static uint32_t
px(struct t *t, int x, int y)
{
	return t->r->fb[(size_t)y * W + (size_t)x];
}

/* ---- tests ---- */

/* noVNC 1.7.0's RFB._sendEncodings() at depth 24 (core/encodings.js numbers), quality 6,
 * compression 2. */
static const int32_t novnc[] = {1,
                                7,
                                -260,
                                16,
                                21,
                                5,
                                2,
                                6,
                                0,
                                -26,
                                -254,
                                -223,
                                -224,
                                -258,
                                -261,
                                -308,
                                -309,
                                -312,
                                -313,
                                -307,
                                (int32_t)0xc0a1e5ce,
                                -316,
                                (int32_t)0x574d5664,
                                -239};

static void
test_novnc_encodings_on_the_wire(void **state)
{
	struct t t;
	size_t ne;
	t_open(&t, "novnc", &ne);
	assert_int_equal(ne, AB_ARRAY_SIZE(novnc));
	uint8_t *e = ab_xmalloc(4 * ne);
	srv_read(&t, e, 4 * ne);
	for (size_t i = 0; i < ne; i++)
		assert_int_equal((int32_t)be32(e + 4 * i), novnc[i]);
	free(e);
	t_close(&t);

	/* the default stays what the benchmark always asked for */
	t_open(&t, NULL, &ne);
	assert_int_equal(ne, 5);
	uint8_t d[20];
	srv_read(&t, d, sizeof(d));
	assert_int_equal((int32_t)be32(d), 16);
	assert_int_equal((int32_t)be32(d + 4), 1);
	assert_int_equal((int32_t)be32(d + 8), 0);
	t_close(&t);
}

static void
test_parse_encodings(void **state)
{
	struct ab_err err = {0};
	int32_t *v = NULL;
	size_t n = 0;
	assert_int_equal(rfbc_parse_encodings("tight,copyrect,quality=0,compress=9,cursor,"
	                                      "0x574d5664,-5,raw",
	                                      &v, &n, &err),
	                 0);
	const int32_t want[] = {7, 1, -32, -247, -239, 0x574d5664, -5, 0};
	assert_int_equal(n, AB_ARRAY_SIZE(want));
	assert_memory_equal(v, want, sizeof(want));
	free(v);
	v = NULL;
	assert_int_equal(rfbc_parse_encodings("zrle,novnc", &v, &n, &err), 0);
	assert_int_equal(n, 1 + AB_ARRAY_SIZE(novnc));
	assert_int_equal(v[1], 1);
	free(v);
	v = NULL;
	assert_int_equal(rfbc_parse_encodings("tight,hexagon", &v, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'hexagon'"));
	assert_int_equal(rfbc_parse_encodings("quality=10", &v, &n, &err), -EINVAL);
	assert_int_equal(rfbc_parse_encodings(",", &v, &n, &err), -EINVAL);
	assert_null(v);
}

/* A pseudo-random but repeatable picture. */
static uint32_t
noise(int x, int y)
{
	uint32_t v = (uint32_t)x * 73856093u ^ (uint32_t)y * 19349663u;
	v ^= v >> 13;
	v *= 0x5bd1e995;
	v ^= v >> 15;
	return v & 0xffffff;
}

static uint32_t
smooth(int x, int y)
{
	return (uint32_t)((x * 2) & 255) << 16 | (uint32_t)((y * 3) & 255) << 8 |
	       (uint32_t)((x + y) & 255);
}

static void
put_rgb(uint8_t *p, uint32_t c)
{
	p[0] = (uint8_t)(c >> 16);
	p[1] = (uint8_t)(c >> 8);
	p[2] = (uint8_t)c;
}

static void
test_tight_lossless(void **state)
{
	struct t t;
	t_open_past(&t, "tight,copyrect,raw,desktopsize,lastrect", 20);
	struct buf b = {0};
	uint8_t *data = ab_xmalloc((size_t)W * H * 3);

	/* 1: fill the whole screen */
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 0, W, H, 7);
	put8(&b, 0x80);
	put8(&b, 0x12);
	put8(&b, 0x34);
	put8(&b, 0x56);
	srv_send(&t, &b);
	read_update(&t);
	assert_int_equal(px(&t, 0, 0), 0x123456);
	assert_int_equal(px(&t, W - 1, H - 1), 0x123456);
	assert_int_equal(t.r->last_changed, W * H);
	assert_int_equal(t.r->tight_kind[RFBC_T_FILL], 1);
	assert_int_equal(t.r->enc[RFBC_E_TIGHT].bytes, 12 + 4);

	/* 2: several rectangles ended by LastRect */
	fbu_hdr(&b, 0xffff);
	/* a: copy filter implied (no filter flag), 3 pixels = 9 bytes: sent as they are */
	rect_hdr(&b, 5, 5, 3, 1, 7);
	put8(&b, 0x00);
	for (int i = 0; i < 3; i++)
		put_rgb(data + 3 * i, 0x010203u * (uint32_t)(i + 1));
	put_tight_data(&b, 0, data, 9);
	/* b: copy filter named, stream 1, the whole screen of noise: 3-byte compact length */
	rect_hdr(&b, 0, 10, W, H - 10, 7);
	put8(&b, 0x40 | 0x10);
	put8(&b, 0);
	for (int y = 10; y < H; y++)
		for (int x = 0; x < W; x++)
			put_rgb(data + 3 * ((size_t)(y - 10) * W + (size_t)x), noise(x, y));
	put_tight_data(&b, 1, data, (size_t)W * (H - 10) * 3);
	assert_int_equal(clen_bytes, 3);
	/* c: 2-colour palette, stream 2, 13x5: 2 bytes a row, 10 bytes sent as they are */
	rect_hdr(&b, 20, 0, 13, 5, 7);
	put8(&b, 0x40 | 0x20);
	put8(&b, 1);
	put8(&b, 1);
	put_rgb(data, 0xff0000);
	put_rgb(data + 3, 0x00ff00);
	put(&b, data, 6);
	uint8_t mono[10];
	for (int y = 0; y < 5; y++) { /* pixel (x, y) is colour (x + y) % 2 */
		mono[2 * y] = y % 2 ? 0xaa : 0x55;
		mono[2 * y + 1] = y % 2 ? 0xa8 : 0x50;
	}
	put_tight_data(&b, 2, mono, sizeof(mono));
	/* d: 8-colour palette, stream 3, 50x10 = 500 bytes: zlib, 2-byte compact length */
	rect_hdr(&b, 40, 0, 50, 10, 7);
	put8(&b, 0x40 | 0x30);
	put8(&b, 1);
	put8(&b, 7);
	static const uint32_t pal8[8] = {0x000000, 0xffffff, 0x808080, 0x0000ff,
	                                 0xabcdef, 0x00ff00, 0xff00ff, 0x0f0f0f};
	for (int k = 0; k < 8; k++)
		put_rgb(data + 3 * k, pal8[k]);
	put(&b, data, 24);
	uint8_t idx[500];
	for (int i = 0; i < 500; i++)
		idx[i] = (uint8_t)(noise(i, 7) % 8);
	put_tight_data(&b, 3, idx, sizeof(idx));
	assert_int_equal(clen_bytes, 2);
	/* e: gradient filter, stream 0, 36x8 of a smooth picture */
	rect_hdr(&b, 90, 1, 36, 8, 7);
	put8(&b, 0x40);
	put8(&b, 2);
	uint8_t *g = data;
	for (int y = 0; y < 8; y++) {
		for (int x = 0; x < 36; x++) {
			for (int c = 0; c < 3; c++) {
				int sh = 16 - 8 * c;
				int left = x ? (int)(smooth(90 + x - 1, 1 + y) >> sh & 255) : 0;
				int up = y ? (int)(smooth(90 + x, y) >> sh & 255) : 0;
				int ul = x && y ? (int)(smooth(90 + x - 1, y) >> sh & 255) : 0;
				int est = AB_MAX(0, AB_MIN(255, left + up - ul));
				*g++ = (uint8_t)((int)(smooth(90 + x, 1 + y) >> sh & 255) - est);
			}
		}
	}
	put_tight_data(&b, 0, data, 36 * 8 * 3);
	assert_int_equal(clen_bytes, 1); /* the residuals of a ramp: a short stream */
	rect_hdr(&b, 0, 0, 0, 0, -224);
	srv_send(&t, &b);
	read_update(&t);

	assert_int_equal(px(&t, 5, 5), 0x010203);
	assert_int_equal(px(&t, 7, 5), 0x030609);
	assert_int_equal(px(&t, 8, 5), 0x123456);
	for (int y = 10; y < H; y++)
		for (int x = 0; x < W; x++)
			if (px(&t, x, y) != noise(x, y))
				fail_msg("copy filter: pixel %d,%d", x, y);
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 13; x++)
			assert_int_equal(px(&t, 20 + x, y), (x + y) % 2 ? 0x00ff00 : 0xff0000);
	assert_int_equal(px(&t, 33, 0), 0x123456); /* the padding bits drew nothing */
	for (int i = 0; i < 500; i++)
		assert_int_equal(px(&t, 40 + i % 50, i / 50), pal8[idx[i]]);
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 36; x++)
			if (px(&t, 90 + x, 1 + y) != smooth(90 + x, 1 + y))
				fail_msg("gradient filter: pixel %d,%d is %06x, want %06x", 90 + x,
				         1 + y, px(&t, 90 + x, 1 + y), smooth(90 + x, 1 + y));
	assert_int_equal(t.r->tight_kind[RFBC_T_COPY], 2);
	assert_int_equal(t.r->tight_kind[RFBC_T_MONO], 1);
	assert_int_equal(t.r->tight_kind[RFBC_T_PALETTE], 1);
	assert_int_equal(t.r->tight_kind[RFBC_T_GRADIENT], 1);
	assert_int_equal(t.r->tight_kind[RFBC_T_JPEG], 0);
	assert_int_equal(t.r->enc[RFBC_E_TIGHT].rects, 6);
	assert_int_equal(t.r->enc[RFBC_E_PSEUDO].rects, 1);
	assert_int_equal(t.r->lossy[(size_t)20 * W + 20], 0);

	/* 3: stream 1 reset (control bit 1): the server starts a new zlib stream */
	zs_reset(1);
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 40, 10, 10, 7);
	put8(&b, 0x10 | 0x02);
	for (int i = 0; i < 100; i++)
		put_rgb(data + 3 * i, 0x00ff00u + (uint32_t)i);
	put_tight_data(&b, 1, data, 300);
	srv_send(&t, &b);
	read_update(&t);
	assert_int_equal(px(&t, 9, 49), 0x00ff00 + 99);
	assert_true(clen_seen[1] && clen_seen[2] && clen_seen[3]);

	free(data);
	free(b.p);
	t_close(&t);
}

static size_t
jpeg_of(uint8_t **ret, int w, int h, int quality)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	unsigned long len = 0;
	*ret = NULL;
	jpeg_mem_dest(&c, ret, &len);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	jpeg_start_compress(&c, TRUE);
	uint8_t *row = ab_xmalloc((size_t)w * 3);
	while (c.next_scanline < c.image_height) {
		for (int x = 0; x < w; x++)
			put_rgb(row + 3 * x, smooth(x, (int)c.next_scanline));
		JSAMPROW rows[1] = {row};
		jpeg_write_scanlines(&c, rows, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	return len;
}

static void
test_tight_jpeg(void **state)
{
	struct t t;
	t_open_past(&t, "tight,quality=6", 8);
	struct buf b = {0};
	uint8_t *jpg;
	size_t len = jpeg_of(&jpg, 64, 32, 95);
	fbu_hdr(&b, 1);
	rect_hdr(&b, 8, 16, 64, 32, 7);
	put8(&b, 0x90);
	put_clen(&b, len);
	put(&b, jpg, len);
	srv_send(&t, &b);
	read_update(&t);
	for (int y = 0; y < 32; y++) {
		for (int x = 0; x < 64; x++) {
			uint32_t got = px(&t, 8 + x, 16 + y), want = smooth(x, y);
			for (int c = 0; c < 24; c += 8) {
				int d = (int)(got >> c & 255) - (int)(want >> c & 255);
				if (d < -12 || d > 12)
					fail_msg("JPEG pixel %d,%d: %06x, want about %06x", x, y,
					         got, want);
			}
		}
	}
	assert_int_equal(t.r->tight_kind[RFBC_T_JPEG], 1);
	assert_int_equal(t.r->tight_jpeg_px, 64 * 32);
	assert_int_equal(t.r->tight_jpeg_bytes, len);
	assert_int_equal(t.r->lossy[(size_t)16 * W + 8], 1);
	assert_int_equal(t.r->lossy[(size_t)15 * W + 8], 0);

	/* a CopyRect of JPEG pixels is lossy where it lands */
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 60, 16, 4, 1);
	put16(&b, 8);
	put16(&b, 16);
	srv_send(&t, &b);
	read_update(&t);
	assert_int_equal(px(&t, 0, 60), px(&t, 8, 16));
	assert_int_equal(t.r->lossy[(size_t)60 * W], 1);

	/* a broken JPEG is an error that says so, not a crash */
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 0, 64, 32, 7);
	put8(&b, 0x90);
	put_clen(&b, 40);
	uint8_t junk[40] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3};
	put(&b, junk, sizeof(junk));
	srv_send(&t, &b);
	struct ab_err err = {0};
	assert_true(rfbc_read_msg(t.r, &err) < 0);
	assert_non_null(strstr(err.msg, "JPEG"));
	free(jpg);
	free(b.p);
	t_close(&t);
}

/* One corrupt Tight rectangle: the client refuses it with a message containing `want`. */
static void
corrupt(int w, int h, const uint8_t *rect, size_t n, const char *want)
{
	struct t t;
	t_open_past(&t, "tight", 4);
	struct buf b = {0};
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 0, w, h, 7);
	put(&b, rect, n);
	srv_send(&t, &b);
	struct ab_err err = {0};
	t.r->conn.deadline_us = ab_now_us() + 300000;
	assert_true(rfbc_read_msg(t.r, &err) < 0);
	if (!strstr(err.msg, want))
		fail_msg("error '%s' does not say '%s'", err.msg, want);
	free(b.p);
	t_close(&t);
}

static void
test_tight_corrupt(void **state)
{
	static const uint8_t png[] = {0xa0, 1, 0};
	corrupt(4, 4, png, sizeof(png), "compression type 10");
	static const uint8_t filter[] = {0x40, 3};
	corrupt(4, 4, filter, sizeof(filter), "filter 3");
	/* 3 colours, 3x3 indices (9 bytes, sent as they are), the last one 7 */
	static const uint8_t pal[] = {0x40, 1, 2, 0, 0, 0, 1, 1, 1, 2, 2,
	                              2,    0, 1, 2, 0, 1, 2, 0, 1, 7};
	corrupt(3, 3, pal, sizeof(pal), "palette index 7 of 3");
	/* 4x4 copy wants 48 bytes; this zlib data holds 47 */
	uint8_t raw[47] = {0};
	z_stream z = {0};
	assert_int_equal(deflateInit(&z, 6), Z_OK);
	uint8_t out[128], rect[160] = {0x00};
	z.next_in = raw;
	z.avail_in = sizeof(raw);
	z.next_out = out;
	z.avail_out = sizeof(out);
	assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	size_t len = sizeof(out) - z.avail_out;
	deflateEnd(&z);
	rect[1] = (uint8_t)len;
	memcpy(rect + 2, out, len);
	corrupt(4, 4, rect, 2 + len, "47 bytes where the rectangle needs 48");
}

static void
test_novnc_protocol(void **state)
{
	struct t t;
	size_t ne;
	t_open(&t, "novnc", &ne);
	uint8_t *skip = ab_xmalloc(4 * ne);
	srv_read(&t, skip, 4 * ne);
	free(skip);
	struct ab_err err = {0};
	struct buf b = {0};

	/* a fence request is answered with its payload and the flags noVNC keeps */
	put8(&b, 248);
	put8(&b, 0);
	put16(&b, 0);
	put32(&b, 0x80000000u | 7);
	put8(&b, 3);
	put(&b, "abc", 3);
	srv_send(&t, &b);
	assert_int_equal(rfbc_read_msg(t.r, &err), 0);
	uint8_t f[12];
	srv_read(&t, f, sizeof(f));
	assert_int_equal(f[0], 248);
	assert_int_equal(be32(f + 4), 3);
	assert_int_equal(f[8], 3);
	assert_memory_equal(f + 9, "abc", 3);
	assert_int_equal(t.r->fences, 1);

	/* before continuous updates, incremental requests go out */
	assert_int_equal(rfbc_request(t.r, true, &err), 0);
	uint8_t req[10];
	srv_read(&t, req, sizeof(req));
	assert_int_equal(req[0], 3);
	assert_int_equal(req[1], 1);

	/* EndOfContinuousUpdates: the client enables them for the whole screen, then stops asking
	 */
	put8(&b, 150);
	srv_send(&t, &b);
	assert_int_equal(rfbc_read_msg(t.r, &err), 0);
	uint8_t cu[10];
	srv_read(&t, cu, sizeof(cu));
	const uint8_t want_cu[10] = {150, 1, 0, 0, 0, 0, 0, W, 0, H};
	assert_memory_equal(cu, want_cu, sizeof(cu));
	assert_int_equal(rfbc_request(t.r, true, &err), 0);
	srv_nothing(&t);
	assert_int_equal(rfbc_request(t.r, false, &err), 0); /* a full one still does */
	srv_read(&t, req, sizeof(req));
	assert_int_equal(req[1], 0);

	/* ExtendedDesktopSize (a new size: continuous updates follow it), QEMU key ack,
	 * a cursor, a VMware cursor, a desktop name, an LED state: all parsed */
	fbu_hdr(&b, 6);
	rect_hdr(&b, 0, 0, 64, 48, -308);
	put8(&b, 1);
	put8(&b, 0);
	put16(&b, 0);
	uint8_t screen[16] = {0};
	put(&b, screen, sizeof(screen));
	rect_hdr(&b, 0, 0, 0, 0, -258);
	rect_hdr(&b, 2, 3, 9, 5, -239);
	uint8_t *cur = ab_xcalloc(9 * 5 * 4 + 2 * 5, 1);
	put(&b, cur, 9 * 5 * 4 + 2 * 5);
	rect_hdr(&b, 1, 1, 4, 4, 0x574d5664);
	put8(&b, 0); /* classic: an AND and an XOR mask of 4x4 pixels */
	put8(&b, 0);
	put(&b, cur, 4 * 4 * 4 * 2);
	rect_hdr(&b, 0, 0, 0, 0, -307);
	put32(&b, 5);
	put(&b, "hello", 5);
	rect_hdr(&b, 0, 0, 0, 0, -261);
	put8(&b, 2);
	srv_send(&t, &b);
	read_update(&t);
	free(cur);
	assert_int_equal(t.r->w, 64);
	assert_int_equal(t.r->h, 48);
	assert_string_equal(t.r->name, "hello");
	assert_true(t.r->qemu_keys);
	assert_int_equal(t.r->last_area, 0);
	srv_read(&t, cu, sizeof(cu));
	const uint8_t want_cu2[10] = {150, 1, 0, 0, 0, 0, 0, 64, 0, 48};
	assert_memory_equal(cu, want_cu2, sizeof(cu));

	/* keys now go out as QEMU extended key events (XT scancode of 'a': 0x1e) */
	assert_int_equal(rfbc_key_tap(t.r, 'a', &err), 0);
	uint8_t k[24];
	srv_read(&t, k, sizeof(k));
	assert_int_equal(k[0], 255);
	assert_int_equal(k[1], 0);
	assert_int_equal(k[3], 1); /* down */
	assert_int_equal(be32(k + 4), 'a');
	assert_int_equal(be32(k + 8), 0x1e);
	assert_int_equal(k[15], 0); /* up */

	/* an extended clipboard message (negative length) and XVP init are skipped */
	put8(&b, 3);
	put8(&b, 0);
	put16(&b, 0);
	put32(&b, (uint32_t)-8);
	put32(&b, 0x01000001u);
	put32(&b, 0);
	put8(&b, 250);
	put8(&b, 0);
	put8(&b, 1);
	put8(&b, 1);
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 0, 64, 48, 7);
	put8(&b, 0x80);
	put8(&b, 1);
	put8(&b, 2);
	put8(&b, 3);
	srv_send(&t, &b);
	assert_int_equal(rfbc_read_msg(t.r, &err), 0);
	assert_int_equal(rfbc_read_msg(t.r, &err), 0);
	read_update(&t);
	assert_int_equal(t.r->fb[64 * 48 - 1], 0x010203);

	/* a fence response we never asked for is a protocol error */
	put8(&b, 248);
	put8(&b, 0);
	put16(&b, 0);
	put32(&b, 1);
	put8(&b, 0);
	srv_send(&t, &b);
	assert_true(rfbc_read_msg(t.r, &err) < 0);
	assert_non_null(strstr(err.msg, "fence"));
	free(b.p);
	t_close(&t);
}

static void
test_unknown_encoding_is_named(void **state)
{
	struct t t;
	t_open_past(&t, "hextile", 4);
	struct buf b = {0};
	fbu_hdr(&b, 1);
	rect_hdr(&b, 0, 0, 16, 16, 5);
	srv_send(&t, &b);
	struct ab_err err = {0};
	assert_true(rfbc_read_msg(t.r, &err) < 0);
	assert_non_null(strstr(err.msg, "hextile"));
	free(b.p);
	t_close(&t);
}

AB_TEST_MAIN(NULL, NULL, test_novnc_encodings_on_the_wire, test_parse_encodings,
             test_tight_lossless, test_tight_jpeg, test_tight_corrupt, test_novnc_protocol,
             test_unknown_encoding_is_named);
