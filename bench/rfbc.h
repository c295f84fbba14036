/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rfbc: a minimal RFB 3.8 client for measuring servers, not for viewing.
 * It speaks security type None, asks for 32-bit true colour (little endian,
 * red at bit 16), and decodes ZRLE, Tight (zlib, fill and JPEG), CopyRect and
 * Raw into its own copy of the framebuffer, counting how many pixels each
 * update really changed, which is what "the update that carries the
 * keystroke's pixels" means for latency.
 *
 * The encodings it asks for are a list (rfbc_parse_encodings): by default
 * ZRLE, CopyRect, Raw, DesktopSize, LastRect; the preset "novnc" is exactly
 * what noVNC 1.7 sends. Whatever the list announces, the client honours the
 * way noVNC does: cursor shapes, ExtendedDesktopSize, DesktopName and QEMU
 * LED rectangles are parsed (and dropped), fence requests are answered,
 * continuous updates are switched on when the server offers them (then no
 * incremental requests are sent), and keys go out as QEMU extended key
 * events once the server has acknowledged them.
 */
#ifndef BENCH_RFBC_H
#define BENCH_RFBC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "conn.h"

/* Per-encoding counters (rfbc.enc[]). */
enum { RFBC_E_RAW, RFBC_E_COPYRECT, RFBC_E_ZRLE, RFBC_E_TIGHT, RFBC_E_PSEUDO, RFBC_E_MAX };

/* Tight rectangles by how they were sent (rfbc.tight_kind[]). */
enum {
	RFBC_T_FILL,     /* one colour */
	RFBC_T_JPEG,     /* JPEG (lossy) */
	RFBC_T_COPY,     /* zlib, pixels as they are (basic, copy filter) */
	RFBC_T_MONO,     /* zlib, 2-colour palette, 1 bit a pixel */
	RFBC_T_PALETTE,  /* zlib, 3 to 256 colours, 1 byte a pixel */
	RFBC_T_GRADIENT, /* zlib, gradient-predicted pixels */
	RFBC_T_MAX
};

struct rfbc {
	struct conn conn;
	int w, h;
	uint32_t *fb; /* w*h pixels 0x00RRGGBB, owned */
	char name[128];
	/* SetEncodings list (not owned); NULL: the default (ZRLE, CopyRect, Raw, ...) */
	const int32_t *encodings;
	size_t n_encodings;
	/* set before connecting: keep lossy[], one byte a pixel, 1 where JPEG drew it */
	bool track_lossy;
	uint8_t *lossy; /* owned, NULL unless track_lossy */
	z_stream zs;    /* ZRLE's stream */
	bool zs_init;
	z_stream tz[4]; /* Tight's four streams */
	bool tz_init[4];
	uint8_t *zin, *zout, *tout; /* owned scratch buffers */
	size_t zin_cap, zout_cap, tout_cap;
	/* protocol state, as noVNC keeps it */
	bool cu_offered; /* we announced ContinuousUpdates */
	bool cu_seen;    /* the server said it has them (EndOfContinuousUpdates) */
	bool cu_on;      /* and we enabled them */
	bool fence_offered, qemu_key_offered;
	bool qemu_keys;  /* the server acknowledged QEMU extended key events */
	uint64_t fences; /* fence requests answered */
	/* results of the last FramebufferUpdate */
	uint64_t last_changed; /* pixels whose value changed */
	uint64_t last_area;    /* pixels covered by its rectangles */
	uint64_t updates;      /* FramebufferUpdates received */
	/* per encoding (RFBC_E_*): rectangles, wire bytes (header included), pixels */
	struct rfbc_enc_stat {
		uint64_t rects, bytes, pixels;
	} enc[RFBC_E_MAX];
	uint64_t zrle_tiles[4]; /* ZRLE tiles: raw, solid, packed palette, RLE */
	uint64_t zrle_inflated; /* ZRLE bytes after inflate */
	uint64_t tight_kind[RFBC_T_MAX];
	uint64_t tight_inflated;   /* Tight basic data bytes after inflate (or as sent) */
	uint64_t tight_jpeg_px;    /* pixels drawn from JPEG */
	uint64_t tight_jpeg_bytes; /* JPEG data bytes */
};

/*
 * Parses a comma-separated encodings list into a newly allocated array
 * (*ret_encs, caller frees). Items: raw, copyrect, rre, hextile, zlib, tight,
 * tightpng, zrle, jpeg, h264, pseudo-encodings quality=N and compress=N
 * (0..9), desktopsize, lastrect, cursor, vmwarecursor, qemukey, qemuled,
 * extdesktopsize, desktopname, xvp, fence, cu, extclipboard, extmouse, an
 * integer (any encoding number), and the presets "novnc" (noVNC 1.7's list,
 * in its order, as sent by a browser without H.264 decoding) and "default".
 */
int rfbc_parse_encodings(const char *list, int32_t **ret_encs, size_t *ret_n, struct ab_err *err);
/* The names rfbc_parse_encodings() knows, for a usage message. */
extern const char rfbc_encoding_names[];

/* Prints the per-encoding counters since `base` as " key=value" pairs (no newline). */
void rfbc_print_stats(const struct rfbc *r, const struct rfbc *base, FILE *f);

/* Connects to target (conn.h), does the RFB handshake and sets the pixel format and encodings. */
int rfbc_connect(struct rfbc *r, const char *target, struct ab_err *err);
/* The same on an already open r->conn. */
int rfbc_handshake(struct rfbc *r, struct ab_err *err);
void rfbc_free(struct rfbc *r);

/*
 * Asks for the whole screen. An incremental request is not sent while
 * continuous updates are on (the server sends without being asked).
 */
int rfbc_request(struct rfbc *r, bool incremental, struct ab_err *err);
/* A key press and release in one write (QEMU extended key events when acknowledged). */
int rfbc_key_tap(struct rfbc *r, uint32_t keysym, struct ab_err *err);
int rfbc_pointer(struct rfbc *r, int x, int y, int buttons, struct ab_err *err);

/*
 * Reads one server message (blocking until r->conn.deadline_us). Returns 1
 * for a FramebufferUpdate (last_changed/last_area set), 0 for another message.
 */
int rfbc_read_msg(struct rfbc *r, struct ab_err *err);

#endif
