/* SPDX-License-Identifier: GPL-2.0-or-later */
/* thumb: a small JPEG of the framebuffer (see thumb.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"
#include "thumb.h"

int
thumb_scale(const struct thumb_src *src, int width, uint8_t **ret, int *ret_width, int *ret_height,
            struct ab_err *err)
{
	if (!src->pixels || src->width < 1 || src->height < 1 || src->stride < src->width * 4)
		return ab_err_set(err, EINVAL, "no framebuffer to take a thumbnail of");
	if (width < THUMB_WIDTH_MIN || width > THUMB_WIDTH_MAX)
		return ab_err_set(err, EINVAL, "thumbnail width %d: %d to %d", width,
		                  THUMB_WIDTH_MIN, THUMB_WIDTH_MAX);
	int tw = AB_MIN(width, src->width);
	int th = AB_MAX(1, (int)((long long)src->height * tw / src->width));
	uint8_t *out = ab_xmalloc((size_t)tw * th * 3);
	for (int y = 0; y < th; y++) {
		int y0 = (int)((long long)y * src->height / th);
		int y1 = AB_MAX(y0 + 1, (int)((long long)(y + 1) * src->height / th));
		for (int x = 0; x < tw; x++) {
			int x0 = (int)((long long)x * src->width / tw);
			int x1 = AB_MAX(x0 + 1, (int)((long long)(x + 1) * src->width / tw));
			uint32_t r = 0, g = 0, b = 0, n = 0;
			for (int sy = y0; sy < y1; sy++) {
				const uint32_t *row =
				    (const uint32_t *)(src->pixels + (size_t)sy * src->stride);
				for (int sx = x0; sx < x1; sx++) {
					uint32_t p = row[sx];
					r += (p >> src->red_shift) & 0xff;
					g += (p >> src->green_shift) & 0xff;
					b += (p >> src->blue_shift) & 0xff;
					n++;
				}
			}
			uint8_t *o = out + ((size_t)y * tw + x) * 3;
			o[0] = (uint8_t)(r / n);
			o[1] = (uint8_t)(g / n);
			o[2] = (uint8_t)(b / n);
		}
	}
	*ret = out;
	*ret_width = tw;
	*ret_height = th;
	return 0;
}

char *
thumb_base64(const void *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = data;
	char *out = ab_xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}
