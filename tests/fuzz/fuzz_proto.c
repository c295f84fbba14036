/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_proto: the control channel's framing (common/ab_proto.c), as the broker, the session
 * and the window manager read it from a peer they do not trust. The input is the byte stream;
 * its first byte picks how it is cut into reads (the reader must not care). Every message
 * accepted must carry an integer "v" and a string "type", and re-encode to a frame that reads
 * back as the same object; after an error the stream is dropped, as the readers do.
 */
#include "ab_proto.h"
#include "fuzz.h"

static void
check_roundtrip(json_t *msg)
{
	FUZZ_CHECK(json_is_integer(json_object_get(msg, "v")));
	FUZZ_CHECK(ab_proto_type(msg) != NULL);
	char *buf = NULL;
	size_t len = 0;
	struct ab_err err = {0};
	if (ab_proto_encode(msg, &buf, &len, &err) < 0)
		return; /* larger once re-encoded (escapes): refused, not sent */
	struct ab_proto_reader r;
	ab_proto_reader_init(&r);
	ab_proto_reader_feed(&r, buf, len);
	json_t *back = NULL;
	FUZZ_CHECK(ab_proto_reader_next(&r, &back, &err) == 1);
	FUZZ_CHECK(json_equal(msg, back));
	FUZZ_CHECK(r.len == 0);
	json_decref(back);
	ab_proto_reader_free(&r);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1; /* 1..17 bytes per read, or all at once */
	if (data[0] >= 17 * 15)
		chunk = size;
	data++;
	size--;
	struct ab_proto_reader r;
	ab_proto_reader_init(&r);
	struct ab_err err = {0};
	bool dead = false;
	for (size_t off = 0; off < size && !dead; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		ab_proto_reader_feed(&r, data + off, n);
		for (;;) {
			json_t *msg = NULL;
			int rc = ab_proto_reader_next(&r, &msg, &err);
			if (rc < 0) {
				dead = true;
				break;
			}
			if (rc == 0)
				break;
			check_roundtrip(msg);
			json_decref(msg);
		}
		/* never more buffered than one maximal frame plus a read */
		FUZZ_CHECK(r.len <= 4 + AB_PROTO_MAX_FRAME + chunk);
	}
	ab_proto_reader_free(&r);
	return 0;
}
