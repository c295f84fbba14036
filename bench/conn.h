/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conn: the byte stream under the benchmark's RFB client. One of
 *   unix:/path/to/rfb.sock         a unix stream socket
 *   tcp:HOST:PORT                  plain TCP (IPv4 literal or name)
 *   ws://HOST:PORT/PATH            a websocket (RFC 6455): handshake with the
 *                                  "binary" subprotocol, masked binary frames out,
 *                                  unmasked frames in, pings answered
 * Reads are buffered and bounded by conn->deadline_us (monotonic, ab_now_us()).
 * conn counts the bytes that arrive on the wire (websocket framing included).
 */
#ifndef BENCH_CONN_H
#define BENCH_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"

#define CONN_BUF 65536

struct conn {
	int fd;
	bool ws;
	uint64_t ws_left;   /* payload bytes left in the current data frame */
	uint8_t ws_mask[4]; /* only if a (misbehaving) server masks */
	bool ws_masked;
	uint64_t ws_off;     /* offset in the current frame, for unmasking */
	uint64_t wire_bytes; /* bytes received on the socket */
	uint64_t sent_bytes; /* bytes written to the socket */
	int64_t deadline_us; /* reads fail with -ETIMEDOUT after this; 0: none */
	size_t rpos, rlen;
	uint8_t rbuf[CONN_BUF];
};

/* Connects to `target` (see above). On failure c->fd stays -1. */
int conn_open(struct conn *c, const char *target, struct ab_err *err);
void conn_close(struct conn *c);

/* Reads exactly n payload bytes. */
int conn_read(struct conn *c, void *buf, size_t n, struct ab_err *err);
/* Writes n payload bytes (one websocket frame). */
int conn_write(struct conn *c, const void *buf, size_t n, struct ab_err *err);
/*
 * Waits up to timeout_ms for something to read. Returns 1 when bytes are
 * buffered or the socket is readable, 0 on timeout, -errno on error.
 */
int conn_wait(struct conn *c, int timeout_ms);

#endif
