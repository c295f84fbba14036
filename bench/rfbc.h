/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rfbc: a minimal RFB 3.8 client for measuring servers, not for viewing.
 * It speaks security type None, asks for 32-bit true colour (little endian,
 * red at bit 16), and decodes ZRLE, CopyRect and Raw into its own copy of the
 * framebuffer, counting how many pixels each update really changed, which is
 * what "the update that carries the keystroke's pixels" means for latency.
 * DesktopSize and LastRect pseudo-encodings are understood.
 */
#ifndef BENCH_RFBC_H
#define BENCH_RFBC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "conn.h"

struct rfbc {
	struct conn conn;
	int w, h;
	uint32_t *fb; /* w*h pixels, owned */
	char name[128];
	z_stream zs;
	bool zs_init;
	uint8_t *zin, *zout; /* owned scratch buffers */
	size_t zin_cap, zout_cap;
	/* results of the last FramebufferUpdate */
	uint64_t last_changed; /* pixels whose value changed */
	uint64_t last_area;    /* pixels covered by its rectangles */
	uint64_t updates;      /* FramebufferUpdates received */
	/* per encoding (RFBC_E_*): rectangles, wire bytes (header included), pixels */
	struct rfbc_enc_stat {
		uint64_t rects, bytes, pixels;
	} enc[4];
	uint64_t zrle_tiles[4]; /* ZRLE tiles: raw, solid, packed palette, RLE */
	uint64_t zrle_inflated; /* ZRLE bytes after inflate */
};

enum { RFBC_E_RAW, RFBC_E_COPYRECT, RFBC_E_ZRLE, RFBC_E_PSEUDO };

/* Prints the per-encoding counters as key=value pairs with `prefix` (no newline). */
void rfbc_print_stats(const struct rfbc *r, const struct rfbc *base, FILE *f);

/* Connects to target (conn.h), does the RFB handshake and sets the pixel format and encodings. */
int rfbc_connect(struct rfbc *r, const char *target, struct ab_err *err);
void rfbc_free(struct rfbc *r);

int rfbc_request(struct rfbc *r, bool incremental, struct ab_err *err);
/* A key press and release in one write. */
int rfbc_key_tap(struct rfbc *r, uint32_t keysym, struct ab_err *err);
int rfbc_pointer(struct rfbc *r, int x, int y, int buttons, struct ab_err *err);

/*
 * Reads one server message (blocking until r->conn.deadline_us). Returns 1
 * for a FramebufferUpdate (last_changed/last_area set), 0 for another message.
 */
int rfbc_read_msg(struct rfbc *r, struct ab_err *err);

#endif
