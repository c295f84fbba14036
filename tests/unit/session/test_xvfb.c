/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* the pixel (x, y) of the pattern: never 0, so a hole (zeros) in the visible area shows */
static uint32_t
pattern(int x, int y)
{
	return 0x01000000u | (uint32_t)(y * 4099 + x);
}

/*
 * xvfb_release_outside() on a real tmpfs file shaped like Xvfb's (3840x2160 screen): the
 * visible pixels stay as they were, the rest of the file is given back to the kernel (its
 * allocated blocks drop to what the visible rows need), and a larger size later is just
 * drawn on again.
 */
static void
test_release_outside(void **state)
{
	const int W = 3840, H = 2160;
	struct xvfb x = {0};
	snprintf(x.fbdir, sizeof(x.fbdir), "/dev/shm/ab-test-xvfb-XXXXXX");
	if (!mkdtemp(x.fbdir))
		skip(); /* no /dev/shm */
	size_t len;
	unsigned char *b = xwd(W, H, 32, 256, &len);
	char path[300];
	snprintf(path, sizeof(path), "%s/Xvfb_screen0", x.fbdir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len); /* every page allocated, as Xvfb does */
	close(fd);
	free(b);
	x.max_width = W;
	x.max_height = H;
	struct ab_err err = {0};
	assert_int_equal(xvfb_map(&x, &err), 0);
	assert_int_equal(x.bytes_per_line, W * 4);
	int64_t full = xvfb_resident(&x);
	assert_true(full >= (int64_t)len - 4096);
	for (int y = 0; y < H; y++)
		for (int i = 0; i < W; i++)
			((uint32_t *)(x.pixels + (size_t)y * x.bytes_per_line))[i] = pattern(i, y);

	int64_t given = xvfb_release_outside(&x, 1920, 1080, &err);
	int64_t left = xvfb_resident(&x);
	assert_true(given > 0);
	assert_int_equal(given, full - left);
	/* the visible rows at the full stride, less at least one whole page right of each */
	int64_t bpl = x.bytes_per_line, page = sysconf(_SC_PAGESIZE);
	assert_true(left <= 1080 * (bpl - page) + 8 * page);
	assert_true(left >= 1920 * 1080 * 4);
	for (int y = 0; y < 1080; y++)
		for (int i = 0; i < 1920; i++)
			assert_int_equal(((uint32_t *)(x.pixels + (size_t)y * bpl))[i],
			                 pattern(i, y));
	/* below the visible rows: holes, read as zeros */
	assert_int_equal(((uint32_t *)(x.pixels + (size_t)2000 * bpl))[100], 0);

	/* grown: X draws the new rows; a smaller height later gives them back again */
	for (int y = 1080; y < 1440; y++)
		for (int i = 0; i < 2560; i++)
			((uint32_t *)(x.pixels + (size_t)y * bpl))[i] = pattern(i, y);
	assert_true(xvfb_resident(&x) >= left + 360 * 2560 * 4);
	assert_true(xvfb_release_outside(&x, 2560, 1440, &err) >= 0);
	for (int y = 0; y < 1440; y += 7)
		assert_int_equal(((uint32_t *)(x.pixels + (size_t)y * bpl))[y < 1080 ? 1919 : 2559],
		                 pattern(y < 1080 ? 1919 : 2559, y));
	assert_true(xvfb_release_outside(&x, 1920, 1080, &err) > 0);
	assert_true(xvfb_resident(&x) <= left);
	/* the whole screen visible: nothing to give back, nothing lost */
	assert_int_equal(xvfb_release_outside(&x, W, H, &err), 0);
	assert_int_equal(((uint32_t *)(x.pixels + (size_t)1079 * bpl))[1919], pattern(1919, 1079));

	x.pid = 0;     /* no Xvfb to stop */
	xvfb_stop(&x); /* unmaps, removes the file and the directory */
	assert_int_equal(access(path, F_OK), -1);

	struct xvfb unmapped = {0};
	assert_true(xvfb_release_outside(&unmapped, 10, 10, &err) < 0);
}

AB_TEST_MAIN(NULL, NULL, test_parse_ok, test_parse_rejects, test_release_outside);
