/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_proto: framing of the control channel between argobox-session and the
 * broker (see docs/control-channel.md for the messages).
 *
 * A frame is a 4-byte big-endian length N (1 <= N <= AB_PROTO_MAX_FRAME)
 * followed by N bytes holding one JSON object in UTF-8. Every object carries
 * "v" (the protocol version, AB_PROTO_VERSION) and "type".
 */
#ifndef AB_PROTO_H
#define AB_PROTO_H

#include <jansson.h>
#include <stddef.h>

#include "ab_err.h"

#define AB_PROTO_VERSION   1
#define AB_PROTO_MAX_FRAME (1u << 20)

struct ab_proto_reader {
	unsigned char *buf;
	size_t len, cap;
};

void ab_proto_reader_init(struct ab_proto_reader *r);
void ab_proto_reader_free(struct ab_proto_reader *r);

/* Appends received bytes. Never grows beyond one maximal frame plus `n`. */
void ab_proto_reader_feed(struct ab_proto_reader *r, const void *data, size_t n);

/*
 * Takes the next complete message out of the buffer. Returns 1 and sets
 * *ret_msg (a new reference) when one was complete, 0 when more bytes are
 * needed, -EPROTO when the stream is corrupt (bad length, not JSON, not an
 * object, missing "v"/"type", invalid UTF-8): the connection must be closed.
 */
int ab_proto_reader_next(struct ab_proto_reader *r, json_t **ret_msg, struct ab_err *err);

/*
 * Encodes msg as a frame; *ret_buf owns the bytes. Returns -EMSGSIZE when the
 * encoded object would exceed AB_PROTO_MAX_FRAME.
 */
int ab_proto_encode(json_t *msg, char **ret_buf, size_t *ret_len, struct ab_err *err);

/* Builds {"v":1,"type":type} plus the members of `fields` (stolen, may be NULL). */
json_t *ab_proto_msg(const char *type, json_t *fields);

/* The "type" of a message that ab_proto_reader_next() accepted. */
const char *ab_proto_type(json_t *msg);

#endif
