/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thumb: a small JPEG of the desktop's framebuffer for the admin console's live thumbnails
 * (docs/control-channel.md: the "thumb" request and answer). Taken only when the broker asks,
 * which it does only while someone looks at the console: no cost otherwise.
 *
 * The frame is box-filtered down (every source pixel counted once: a 1280x800 screen to 240 px
 * wide takes a few milliseconds) into RGB and encoded with libjpeg.
 */
#ifndef SESSION_THUMB_H
#define SESSION_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"

#define THUMB_WIDTH_MIN     32
#define THUMB_WIDTH_MAX     640
#define THUMB_WIDTH_DEFAULT 240
#define THUMB_QUALITY       70

/* A 32-bit framebuffer: width x height pixels, `stride` bytes a row, channels at these shifts. */
struct thumb_src {
	const uint8_t *pixels;
	int width, height, stride;
	int red_shift, green_shift, blue_shift;
};

/*
 * Scales `src` to `width` pixels wide (at most the source's; the height keeps the aspect,
 * at least 1) into RGB, 3 bytes a pixel, into a new buffer (*ret, owned by the caller).
 */
int thumb_scale(const struct thumb_src *src, int width, uint8_t **ret, int *ret_width,
                int *ret_height, struct ab_err *err);

/* The JPEG of a thumbnail: ab_jpeg_rgb() (lib/jpeg). */

/* Base64 (RFC 4648, padded) of len bytes, NUL-terminated, malloc'ed. */
char *thumb_base64(const void *data, size_t len);

#endif
