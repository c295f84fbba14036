/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fanout: one desktop's picture served to any number of view-only viewers from
 * one RFB connection to it (the landing page's live preview, GET /ws/preview;
 * docs/broker.md "Preview fan-out").
 *
 * Upstream the broker is one RFB client of the desktop's rfb.sock (shared,
 * 32-bit true colour, Raw and CopyRect, the pointer's shape apart so it is not drawn
 * into the picture: a memcpy for the session), keeping a
 * copy of the framebuffer. Each framebuffer update that arrives is encoded
 * once, whatever the number of viewers, into self-contained RFB messages
 * (fanout_encode_tight(): the session's Tight encoder, lib/tight, with its zlib
 * stream reset for every rectangle; Raw for clients without Tight) kept in a ring of the
 * last FANOUT_RING updates. Every viewer is an RFB server connection of the
 * broker's own (handshake, None security, ServerInit of the desktop's size)
 * that is sent, as it asks for updates, the ring's messages it has not had, or
 * one key frame (the whole screen, encoded once per update however many
 * viewers need it) when it joined, asked for a full update or fell more than
 * the ring behind. So a viewer costs bytes and memcpy, never an encoding, and a
 * slow viewer skips to the present instead of holding anyone up.
 *
 * Upstream updates are asked for at most every FANOUT_FRAME_MS while someone
 * watches; the upstream connection closes with the last viewer (nothing is
 * read or encoded while nobody looks). Viewers' input (key, pointer,
 * clipboard, resize, QEMU and xvp messages) is read and dropped, the first of
 * a connection audited (desktop.input deny, as proxy.c's view-only filter);
 * an unknown message type closes the connection. Each viewer counts as one of
 * the desktop's clients (desktop_client_attach), as a spliced one would.
 */
#ifndef BROKER_FANOUT_H
#define BROKER_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"

struct lws;
struct desktop_manager;
struct fanout_viewer;

#define FANOUT_RING     16 /* encoded updates kept for viewers that are behind */
#define FANOUT_FRAME_MS 50 /* upstream updates at most this often (20 a second) */
#define FANOUT_QUALITY  6  /* Tight quality: noVNC's default (JPEG 79, 4:4:4) */
#define FANOUT_COMPRESS 6  /* Tight compression level: encoded once, sent to every viewer */

/* Where the viewers' desktops come from. Once per process, before fanout_open(). */
void fanout_init(struct ab_loop *loop, struct desktop_manager *m);

/* After the upgrade: a viewer of `user`'s desktop (started if need be). */
struct fanout_viewer *fanout_open(struct lws *ws, const char *user, const char *peer);
/* A websocket frame arrived. Returns < 0 to close the websocket. */
int fanout_receive(struct fanout_viewer *v, const void *in, size_t len, bool binary);
/* The websocket is writable. Returns < 0 to close the websocket. */
int fanout_writeable(struct fanout_viewer *v);
/* The websocket is closed: releases the viewer (and the upstream after the last). NULL ok. */
void fanout_closed(struct fanout_viewer *v);

/* Counters for status and the bench: viewers open, upstreams open, updates encoded. */
struct fanout_stats {
	unsigned long long viewers, upstreams, frames, keyframes, bytes_out;
};
void fanout_get_stats(struct fanout_stats *s);

/*
 * A framebuffer: 32 bits a pixel, little endian, red at bit 16, green 8, blue 0 (B, G, R, X
 * in memory), `stride` bytes a row.
 */
struct fanout_fb {
	uint8_t *px;
	int width, height;
	size_t stride;
};

/* A growing byte buffer (tests and the encoder). */
struct fanout_buf {
	uint8_t *data;
	size_t len, cap;
};
void fanout_buf_free(struct fanout_buf *b);

/*
 * Appends the rectangles that encode fb's (x, y, w, h) as Tight (to a client that asked for
 * Tight and JPEG quality) to *out and adds their number to *n_rects: lib/tight's fills,
 * palettes, zlib and JPEG (photographs) at FANOUT_QUALITY, every rectangle resetting its zlib
 * stream first, so what one call appends decodes on its own. The rectangle must lie within fb.
 */
void fanout_encode_tight(const struct fanout_fb *fb, int x, int y, int w, int h,
                         struct fanout_buf *out, unsigned *n_rects);
/* The same as one Raw rectangle in fb's own pixel format. */
void fanout_encode_raw(const struct fanout_fb *fb, int x, int y, int w, int h,
                       struct fanout_buf *out, unsigned *n_rects);

#endif
