/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zrle: the session's own ZRLE encoder (RFC 6143 7.7.6), used instead of
 * libvncserver's for clients that prefer ZRLE (vnc.c interposes it).
 *
 * Why our own: libvncserver picks each 64x64 tile's sub-encoding by the
 * bytes it would take *before* zlib, which makes it choose palette RLE for
 * terminal text where packed palette pixels compress far better, and it
 * fixes zlib at level 6. Here: one colour -> solid; 2..16 colours -> packed
 * palette (1, 2 or 4 bits a pixel, zlib turns repeated glyph rows into
 * back-references); 17..127 -> palette RLE; more -> plain RLE or raw, the
 * smaller. One zlib stream per client, kept for the whole connection and
 * flushed (Z_SYNC_FLUSH) at the end of each rectangle, as the protocol asks.
 *
 * Pure encoding on caller-owned pixels; no RFB or X here (unit tested).
 */
#ifndef SESSION_ZRLE_H
#define SESSION_ZRLE_H

#include <stddef.h>
#include <stdint.h>

#define ZRLE_TILE 64

/* How pixels are laid out in memory and how CPIXELs are written. */
struct zrle_format {
	int bytes_pp;   /* 1, 2 or 4: bytes of one pixel in memory */
	int cpixel;     /* bytes written per CPIXEL: bytes_pp, or 3 for 32 bpp depth <= 24 */
	int cpixel_off; /* with cpixel 3: first byte of the pixel written (0 or 1) */
};

struct zrle_enc;

/* A new encoder with its own zlib stream at `level` (0..9). Aborts on OOM. */
struct zrle_enc *zrle_enc_new(int level);
/* Frees e (NULL is fine). */
void zrle_enc_free(struct zrle_enc *e);

/*
 * Encodes the w x h pixels at px (rows `stride` bytes apart, in the client's
 * format f) as the zlib data of one ZRLE rectangle. On success returns the
 * number of bytes and points *ret_data at them (owned by e, valid until the
 * next call). Returns -EIO if zlib fails (the stream is then unusable).
 */
long zrle_encode(struct zrle_enc *e, const uint8_t *px, size_t stride, int w, int h,
                 const struct zrle_format *f, const uint8_t **ret_data);

/* Tiles of each sub-encoding written so far: solid, packed palette, palette RLE, RLE, raw. */
enum { ZRLE_SOLID, ZRLE_PACKED, ZRLE_PRLE, ZRLE_RLE, ZRLE_RAW, ZRLE_KIND_MAX };
void zrle_enc_counts(const struct zrle_enc *e, uint64_t ret_counts[ZRLE_KIND_MAX]);

#endif
