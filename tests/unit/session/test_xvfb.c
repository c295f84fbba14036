/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xvfb.h"

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* An XWD header as Xvfb writes it: big-endian, 100 + name bytes, 256 colours. */
static unsigned char *
xwd(uint32_t w, uint32_t h, uint32_t bpp, uint32_t ncolors, size_t *ret_len)
{
	size_t len = 160 + ncolors * 12 + (size_t)w * h * 4;
	unsigned char *b = calloc(1, len);
	put32(b, 160);
	put32(b + 4, 7);
	put32(b + 16, w);
	put32(b + 20, h);
	put32(b + 44, bpp);
	put32(b + 48, w * 4);
	put32(b + 76, ncolors);
	*ret_len = len;
	return b;
}

static void
test_parse_ok(void **state)
{
	size_t len;
	unsigned char *b = xwd(64, 32, 32, 256, &len);
	int w, h, bpp, bpl;
	long off = xvfb_parse_xwd(b, len, &w, &h, &bpp, &bpl);
	assert_int_equal(off, 160 + 256 * 12);
	assert_int_equal(w, 64);
	assert_int_equal(h, 32);
	assert_int_equal(bpl, 256);
	free(b);
}

static void
test_parse_rejects(void **state)
{
	size_t len;
	int w, h, bpp, bpl;
	unsigned char *b = xwd(64, 32, 16, 0, &len);
	assert_int_equal(xvfb_parse_xwd(b, len, &w, &h, &bpp, &bpl), -EINVAL); /* 16 bpp */
	free(b);
	b = xwd(64, 32, 32, 0, &len);
	assert_int_equal(xvfb_parse_xwd(b, len - 1, &w, &h, &bpp, &bpl), -EINVAL); /* short */
	assert_int_equal(xvfb_parse_xwd(b, 50, &w, &h, &bpp, &bpl), -EINVAL);
	put32(b + 76, 0x7fffffff); /* absurd colour map */
	assert_int_equal(xvfb_parse_xwd(b, len, &w, &h, &bpp, &bpl), -EINVAL);
	free(b);
}

AB_TEST_MAIN(NULL, NULL, test_parse_ok, test_parse_rejects);
