/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_jpeg: RGB pixels to a JPEG in memory (libjpeg), for the session's thumbnails and the
 * broker's preview fan-out. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "ab_jpeg.h"
#include "ab_util.h"

struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
	char msg[JMSG_LENGTH_MAX];
	unsigned char *buf; /* jpeg_mem_dest's, here so a longjmp cannot clobber it */
	unsigned long len;
};

static void
jpeg_fail_exit(j_common_ptr cinfo)
{
	struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
	f->mgr.format_message(cinfo, f->msg);
	longjmp(f->jmp, 1);
}

int
ab_jpeg_rgb(const uint8_t *rgb, int w, int h, int quality, unsigned char **ret, size_t *ret_len,
            struct ab_err *err)
{
	struct jpeg_compress_struct c;
	struct jpeg_fail f = {.buf = NULL};
	c.err = jpeg_std_error(&f.mgr);
	f.mgr.error_exit = jpeg_fail_exit;
	if (setjmp(f.jmp)) {
		jpeg_destroy_compress(&c);
		free(f.buf);
		return ab_err_set(err, EIO, "jpeg: %s", f.msg);
	}
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &f.buf, &f.len);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, AB_MAX(1, AB_MIN(100, quality)), TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	*ret = f.buf;
	*ret_len = f.len;
	return 0;
}
