/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_jpeg: RGB pixels to a JPEG in memory (libjpeg). */
#ifndef AB_JPEG_H
#define AB_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"

/*
 * RGB (w x h, 3 bytes a pixel, rows packed) to a baseline JPEG of `quality` (clamped to
 * 1..100) in a new buffer (*ret, free()). 0, or -EIO with err saying what libjpeg said
 * (err may be NULL).
 */
int ab_jpeg_rgb(const uint8_t *rgb, int w, int h, int quality, unsigned char **ret, size_t *ret_len,
                struct ab_err *err);

#endif
