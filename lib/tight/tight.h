/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tight: our own Tight encoder (the TightVNC encoding, RFB 7; noVNC's first
 * choice). Two users: the session, instead of libvncserver's for clients
 * that prefer Tight in a 24-bit colour format and take LastRect (session/vnc.c
 * interposes it), and the broker's preview fan-out (broker/gateway/fanout.c),
 * which encodes each update once for every viewer with every rectangle's
 * stream reset first (tight_enc_reset_each), so that any rectangle decodes
 * on its own.
 *
 * Why our own: libvncserver's Tight searches every rectangle for large solid
 * areas and tests each part for smoothness before it picks JPEG, which made a
 * browser's first frame of a desktop with a wallpaper photo slower than
 * TigerVNC's. Here a rectangle is cut into TIGHT_TILE x TIGHT_TILE tiles that
 * are classified once by their colours (one: fill; up to the palette limit:
 * palette, 1 bit a pixel for two colours, else 1 byte, through zlib; more:
 * photographic), neighbours of a kind in a tile row are joined (at most
 * TIGHT_MAX_AREA pixels and TIGHT_MAX_WIDTH columns a rectangle, as TightVNC
 * and TigerVNC keep them), and photographic runs go to libjpeg-turbo straight
 * from the framebuffer's rows (JCS_EXT_BGRX: no copy), or losslessly through
 * zlib (basic copy filter) when the client set no quality level or the caller
 * asks for it (lossless refinement, vnc.c).
 *
 * Input pixels are 32 bpp 0x00RRGGBB words in host order (the session's
 * server format); a TPIXEL is R, G, B as every 24-bit colour client takes it.
 * Each client has its own encoder: the four zlib streams live as long as the
 * connection, as the protocol asks. No RFB or X here (unit tested).
 */
#ifndef AB_TIGHT_H
#define AB_TIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIGHT_TILE      64
#define TIGHT_MAX_AREA  65536
#define TIGHT_MAX_WIDTH 2048
/* a tile of up to this many colours is sent with a palette while JPEG is allowed… */
#define TIGHT_PALETTE_JPEG 24
/* …and of up to this many when everything must be lossless */
#define TIGHT_PALETTE_MAX 256

/* Rectangle kinds, for the statistics and the caller's lossy bookkeeping. */
enum tight_kind { TIGHT_FILL, TIGHT_MONO, TIGHT_PALETTE, TIGHT_COPY, TIGHT_JPEG, TIGHT_KIND_MAX };

/*
 * Called for every rectangle the encoder makes, in order: its place on the
 * screen and the bytes that follow its rectangle header (compression control
 * onward; owned by the encoder, valid during the call). Returns false to stop.
 */
typedef bool (*tight_emit_fn)(void *data, int x, int y, int w, int h, enum tight_kind kind,
                              const uint8_t *bytes, size_t len);

struct tight_enc;

/* A new encoder with its zlib streams not yet started. Aborts on OOM. */
struct tight_enc *tight_enc_new(void);
/* Frees e (NULL is fine). */
void tight_enc_free(struct tight_enc *e);

/*
 * Encodes the w x h pixels at px (rows `stride` bytes apart) whose top left
 * is (x, y) on the screen. quality: the client's Tight quality level 0..9
 * (JPEG for photographic runs), or -1 for none (everything lossless).
 * compress: its compression level 0..9 (the zlib level; 0 still compresses
 * at level 1, as TightVNC does). Returns the number of rectangles emitted,
 * -EIO when zlib or libjpeg failed (the encoder is unusable then), or
 * -ECANCELED when emit returned false.
 */
int tight_encode(struct tight_enc *e, const uint8_t *px, size_t stride, int x, int y, int w, int h,
                 int quality, int compress, tight_emit_fn emit, void *data);

/*
 * True when no zlib stream of e holds history the client shares: what e
 * encodes now decodes in a client whose streams are fresh (or reset).
 */
bool tight_enc_pristine(const struct tight_enc *e);

/*
 * True when e has never sent zlib data nor been told the client's streams
 * hold another encoder's (tight_enc_reset_streams): the client's four zlib
 * streams are as new.
 */
bool tight_enc_fresh(const struct tight_enc *e);

/*
 * A new encoder whose zlib streams continue exactly where e's are
 * (deflateCopy): what it encodes next decodes in a client that was sent
 * everything e sent so far. Nothing else is shared with e. Aborts on OOM.
 * vnc.c's first-frame cache: a client sent the cached frame continues with
 * a copy of the recording encoder's streams, so its streams are never reset
 * (noVNC's inflater, pako's inflateReset(), cannot restart a stream it has
 * used: "zlib inflate failed").
 */
struct tight_enc *tight_enc_dup(const struct tight_enc *e);

/*
 * The client's zlib streams are in a state e does not know (it was sent
 * bytes of another encoder), or what e encodes next must decode whatever
 * they hold: every stream is reset before its next use, and that
 * rectangle's compression control tells the client to reset its own.
 * noVNC cannot reset a stream it has used (tight_enc_dup above): for
 * clients that may be noVNC, reset only streams they have not used.
 */
void tight_enc_reset_streams(struct tight_enc *e);

/*
 * With on, every rectangle that uses a zlib stream resets it first (and
 * says so in its compression control): each rectangle decodes on its own,
 * after any other, in any client, noVNC's too (its inflater restarts a
 * stream for one use: a second rectangle on a stream reset in the same
 * update fails). Costs the history between rectangles. The preview fan-out
 * sends the same bytes to viewers that skipped different updates.
 */
void tight_enc_reset_each(struct tight_enc *e, bool on);

/* Rectangles of each kind made so far. */
void tight_enc_counts(const struct tight_enc *e, uint64_t ret_counts[TIGHT_KIND_MAX]);

#endif
