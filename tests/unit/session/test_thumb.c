/* SPDX-License-Identifier: GPL-2.0-or-later */
/* thumb: the box filter, the JPEG it encodes (decoded back here with libjpeg), base64. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "ab_jpeg.h"
#include "thumb.h"

#define W 1280
#define H 800

/* Left half red, right half blue, a white 20-pixel band across the top (xRGB, red at 16). */
static uint32_t *
screen(void)
{
	uint32_t *px = calloc((size_t)W * H, 4);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			px[(size_t)y * W + x] = y < 20 ? 0xffffff : x < W / 2 ? 0xff0000 : 0x0000ff;
	return px;
}

static const struct thumb_src *
src_of(uint32_t *px)
{
	static struct thumb_src s;
	s = (struct thumb_src){.pixels = (const uint8_t *)px,
	                       .width = W,
	                       .height = H,
	                       .stride = W * 4,
	                       .red_shift = 16,
	                       .green_shift = 8,
	                       .blue_shift = 0};
	return &s;
}

static void
scales_with_the_aspect(void **state)
{
	uint32_t *px = screen();
	uint8_t *rgb = NULL;
	int w = 0, h = 0;
	struct ab_err err = {0};
	assert_int_equal(thumb_scale(src_of(px), 240, &rgb, &w, &h, &err), 0);
	assert_int_equal(w, 240);
	assert_int_equal(h, 150);
	const uint8_t *left = rgb + (75 * 240 + 10) * 3, *right = rgb + (75 * 240 + 230) * 3;
	assert_int_equal(left[0], 255);
	assert_int_equal(left[2], 0);
	assert_int_equal(right[0], 0);
	assert_int_equal(right[2], 255);
	/* the top row averages the white band (20 of 800 rows: rows 0..5 -> row 0 is white) */
	assert_int_equal(rgb[(0 * 240 + 10) * 3 + 1], 255);
	free(rgb);
	/* never wider than the source; refused out of bounds */
	struct thumb_src small = *src_of(px);
	small.width = 100;
	assert_int_equal(thumb_scale(&small, 240, &rgb, &w, &h, &err), 0);
	assert_int_equal(w, 100);
	free(rgb);
	assert_int_equal(thumb_scale(src_of(px), 10, &rgb, &w, &h, &err), -EINVAL);
	assert_int_equal(thumb_scale(src_of(px), 641, &rgb, &w, &h, &err), -EINVAL);
	struct thumb_src none = {0};
	assert_int_equal(thumb_scale(&none, 240, &rgb, &w, &h, &err), -EINVAL);
	free(px);
}

static void
encodes_a_jpeg_that_decodes(void **state)
{
	uint32_t *px = screen();
	uint8_t *rgb = NULL;
	int w = 0, h = 0;
	struct ab_err err = {0};
	assert_int_equal(thumb_scale(src_of(px), 240, &rgb, &w, &h, &err), 0);
	unsigned char *jpeg = NULL;
	size_t len = 0;
	assert_int_equal(ab_jpeg_rgb(rgb, w, h, THUMB_QUALITY, &jpeg, &len, &err), 0);
	assert_true(len > 100 && len < 16384); /* a few KB */
	assert_int_equal(jpeg[0], 0xff);
	assert_int_equal(jpeg[1], 0xd8);
	assert_int_equal(jpeg[len - 2], 0xff);
	assert_int_equal(jpeg[len - 1], 0xd9);

	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr jerr;
	d.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, jpeg, len);
	assert_int_equal(jpeg_read_header(&d, TRUE), JPEG_HEADER_OK);
	jpeg_start_decompress(&d);
	assert_int_equal(d.output_width, 240);
	assert_int_equal(d.output_height, 150);
	assert_int_equal(d.output_components, 3);
	uint8_t row[240 * 3];
	JSAMPROW rp = row;
	while (d.output_scanline < 75)
		jpeg_read_scanlines(&d, &rp, 1);
	assert_true(row[10 * 3] > 200 && row[10 * 3 + 2] < 60);   /* red on the left */
	assert_true(row[230 * 3] < 60 && row[230 * 3 + 2] > 200); /* blue on the right */
	jpeg_abort_decompress(&d);
	jpeg_destroy_decompress(&d);
	free(jpeg);
	free(rgb);
	free(px);
}

static void
base64(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {{"", ""},
	         {"f", "Zg=="},
	         {"fo", "Zm8="},
	         {"foo", "Zm9v"},
	         {"foob", "Zm9vYg=="},
	         {"fooba", "Zm9vYmE="},
	         {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *s = thumb_base64(v[i].in, strlen(v[i].in));
		assert_string_equal(s, v[i].out);
		free(s);
	}
	const unsigned char bin[] = {0xff, 0xd8, 0x00, 0xfb};
	char *s = thumb_base64(bin, sizeof(bin));
	assert_string_equal(s, "/9gA+w==");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(scales_with_the_aspect),
	    cmocka_unit_test(encodes_a_jpeg_that_decodes),
	    cmocka_unit_test(base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
