/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for rfbflow (broker/gateway/rfbflow.h): the client's RFB stream is followed through
 * the handshake and across feeds split anywhere; while the client is behind its update requests
 * wait (merged, input ahead of them, everything else in order); message lengths, including
 * the extended clipboard's and hostile ones; unknown types end the pacing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ab_test.h"

#include "ab_util.h"
#include "rfbflow.h"

/* ---- a client stream, a buffer as proxy.c and vncgw.c keep it, what reached the server ---- */

#define SIM_CAP (1u << 20)

struct sim {
	struct rfbflow f;
	uint8_t *buf; /* the client's bytes not yet sent */
	size_t len;
	uint8_t *out; /* what went to the server (the first SIM_CAP bytes) */
	size_t out_len;
};

static struct sim *
sim_new(enum rfbflow_start start)
{
	struct sim *s = ab_xcalloc(1, sizeof(*s));
	rfbflow_init(&s->f, start);
	s->buf = ab_xmalloc(SIM_CAP);
	s->out = ab_xmalloc(SIM_CAP);
	return s;
}

static void
sim_free(struct sim *s)
{
	free(s->buf);
	free(s->out);
	free(s);
}

/* Scans and sends up to `most` of what may go (SIZE_MAX: all of it). */
static void
sim_pump_n(struct sim *s, bool behind, size_t most)
{
	size_t fwd = rfbflow_scan(&s->f, s->buf, &s->len, behind);
	assert_true(fwd <= s->len);
	assert_int_equal(fwd, s->f.fwd);
	size_t n = AB_MIN(fwd, most);
	if (s->out_len < SIM_CAP)
		memcpy(s->out + s->out_len, s->buf, AB_MIN(n, SIM_CAP - s->out_len));
	s->out_len += n;
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	rfbflow_sent(&s->f, n);
}

static void
sim_pump(struct sim *s, bool behind)
{
	sim_pump_n(s, behind, SIZE_MAX);
}

/* Bytes arrive from the client. */
static void
sim_put(struct sim *s, const void *p, size_t n)
{
	assert_true(s->len + n <= SIM_CAP);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* Bytes arrive, and all that may go is sent. */
static void
sim_feed(struct sim *s, const void *p, size_t n, bool behind)
{
	sim_put(s, p, n);
	sim_pump(s, behind);
}

/* ---- messages ---- */

struct msg {
	uint8_t b[64];
	size_t n;
};

static struct msg
fbur(int incremental, unsigned x, unsigned y, unsigned w, unsigned h)
{
	return (struct msg){{3, (uint8_t)incremental, (uint8_t)(x >> 8), (uint8_t)x,
	                     (uint8_t)(y >> 8), (uint8_t)y, (uint8_t)(w >> 8), (uint8_t)w,
	                     (uint8_t)(h >> 8), (uint8_t)h},
	                    10};
}

static struct msg
key(int down, uint32_t sym)
{
	return (struct msg){{4, (uint8_t)down, 0, 0, (uint8_t)(sym >> 24), (uint8_t)(sym >> 16),
	                     (uint8_t)(sym >> 8), (uint8_t)sym},
	                    8};
}

static struct msg
pointer(int mask, unsigned x, unsigned y)
{
	return (struct msg){
	    {5, (uint8_t)mask, (uint8_t)(x >> 8), (uint8_t)x, (uint8_t)(y >> 8), (uint8_t)y}, 6};
}

static struct msg
pixel_format(void)
{
	return (struct msg){{0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0},
	                    20};
}

static void
feed_msg(struct sim *s, struct msg m, bool behind)
{
	sim_feed(s, m.b, m.n, behind);
}

static void
handshake(struct sim *s)
{
	sim_feed(s, "RFB 003.008\n", 12, false);
	sim_feed(s, "\x01", 1, false); /* security None */
	sim_feed(s, "\x01", 1, false); /* ClientInit: shared */
	assert_int_equal(s->out_len, 14);
	assert_int_equal(s->len, 0);
	s->out_len = 0;
}

/* ---- tests ---- */

static void
test_msg_len(void **state)
{
	static const struct {
		uint8_t p[12];
		size_t avail;
		int64_t want;
	} rows[] = {
	    {{0}, 1, 20},                           /* SetPixelFormat */
	    {{2}, 1, 0},                            /* SetEncodings: the count is not there yet */
	    {{2, 0, 0}, 3, 0},                      /* nor here */
	    {{2, 0, 0, 0}, 4, 4},                   /* no encodings */
	    {{2, 0, 0, 3}, 4, 16},                  /* three */
	    {{2, 0, 0xff, 0xff}, 4, 4 + 4 * 65535}, /* the most a client can claim */
	    {{3}, 1, 10},
	    {{4}, 1, 8},
	    {{5}, 1, 6},
	    {{6, 0, 0, 0, 0, 0, 0}, 7, 0},                 /* ClientCutText: no length yet */
	    {{6, 0, 0, 0, 0, 0, 0, 5}, 8, 13},             /* "hello" */
	    {{6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf4}, 8, 20}, /* extended clipboard: -12 */
	    {{6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}, 8, 8 + 0x7fffffffll},
	    {{6, 0, 0, 0, 0x80, 0, 0, 0}, 8, 8 + 0x80000000ll}, /* INT32_MIN: no overflow */
	    {{150}, 1, 10},                                     /* EnableContinuousUpdates */
	    {{248, 0, 0, 0, 0, 0, 0, 0}, 8, 0},                 /* Fence: no length yet */
	    {{248, 0, 0, 0, 0, 0, 0, 0, 255}, 9, 9 + 255},
	    {{250}, 1, 4},                   /* xvp */
	    {{251, 0, 0, 0, 0, 0, 0}, 7, 0}, /* SetDesktopSize: no count yet */
	    {{251, 0, 0, 0, 0, 0, 255, 0}, 8, 8 + 16 * 255},
	    {{255}, 1, 0},     /* QEMU: no subtype yet */
	    {{255, 0}, 2, 12}, /* extended key event */
	    {{255, 1}, 2, -1}, /* audio: not known */
	    {{1}, 1, -1},
	    {{7}, 1, -1},
	    {{127}, 1, -1},
	    {{249}, 1, -1},
	    {{252}, 1, -1},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(rows); i++) {
		int64_t got = rfbflow_msg_len(rows[i].p, rows[i].avail);
		if (got != rows[i].want)
			fail_msg("row %zu (type %u, %zu bytes): %lld, want %lld", i, rows[i].p[0],
			         rows[i].avail, (long long)got, (long long)rows[i].want);
	}
}

static void
test_behind(void **state)
{
	assert_false(rfbflow_behind(0, 0, 1000));
	assert_false(rfbflow_behind(0, 1000, 1000));
	assert_true(rfbflow_behind(0, 1001, 1000));
	assert_true(rfbflow_behind(1, 0, 1000));
}

/* Not behind: every byte passes at once, in order, untouched. */
static void
test_not_behind_passes_all(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	struct msg ms[] = {pixel_format(),   fbur(0, 0, 0, 640, 480), key(1, 'a'),
	                   pointer(1, 3, 4), fbur(1, 0, 0, 640, 480), fbur(1, 0, 0, 640, 480)};
	uint8_t want[256];
	size_t wn = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(ms); i++) {
		feed_msg(s, ms[i], false);
		memcpy(want + wn, ms[i].b, ms[i].n);
		wn += ms[i].n;
	}
	assert_int_equal(s->out_len, wn);
	assert_memory_equal(s->out, want, wn);
	assert_int_equal(s->len, 0);
	assert_int_equal(s->f.held, 0);
	assert_int_equal(s->f.inputs, 2); /* the key and the pointer event: "last input" */
	sim_free(s);
}

/* The handshake passes while behind; the first request after it waits. */
static void
test_handshake_then_hold(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	sim_feed(s, "RFB 003.008\n\x01\x01", 14, true);
	assert_int_equal(s->out_len, 14);
	feed_msg(s, fbur(1, 0, 0, 10, 10), true);
	assert_int_equal(s->out_len, 14);
	assert_int_equal(s->len, 10);
	assert_true(s->f.holding);
	assert_int_equal(s->f.held, 1);
	sim_pump(s, false);
	assert_int_equal(s->out_len, 24);
	assert_false(s->f.holding);
	sim_free(s);
}

/* The same stream fed one byte at a time gives the same result. */
static void
test_handshake_split_every_byte(void **state)
{
	static const uint8_t stream[] = "RFB 003.008\n\x01\x01";
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	for (size_t i = 0; i < 14; i++)
		sim_feed(s, stream + i, 1, true);
	assert_int_equal(s->out_len, 14);
	struct msg q = fbur(1, 1, 2, 3, 4);
	for (size_t i = 0; i < q.n; i++) {
		sim_feed(s, q.b + i, 1, true);
		assert_int_equal(s->out_len, 14); /* never a partial request */
	}
	assert_true(s->f.holding);
	assert_int_equal(s->len, 10);
	sim_free(s);
}

/* VNC Authentication: the 16-byte response (here all 0x03, like requests) passes whole. */
static void
test_handshake_vnc_auth(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	uint8_t st[12 + 1 + 16 + 1];
	memcpy(st, "RFB 003.008\n", 12);
	st[12] = 2;
	memset(st + 13, 3, 16);
	st[29] = 0;
	for (size_t i = 0; i < sizeof(st); i += 5)
		sim_feed(s, st + i, AB_MIN((size_t)5, sizeof(st) - i), true);
	assert_int_equal(s->out_len, sizeof(st));
	assert_memory_equal(s->out, st, sizeof(st));
	assert_false(s->f.transparent);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_true(s->f.holding);
	sim_free(s);
}

/* 3.3: no security type from the client (the server chose None); 3.7: one byte, as 3.8. */
static void
test_handshake_33_37(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	sim_feed(s, "RFB 003.003\n\x01", 13, true);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_int_equal(s->out_len, 13);
	assert_true(s->f.holding);
	sim_free(s);

	s = sim_new(RFBFLOW_START_VERSION);
	sim_feed(s, "RFB 003.007\n\x01\x01", 14, true);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_int_equal(s->out_len, 14);
	assert_true(s->f.holding);
	sim_free(s);

	/* UltraVNC's 3.6 speaks 3.3, Apple's 3.889 speaks 3.8 */
	s = sim_new(RFBFLOW_START_VERSION);
	sim_feed(s, "RFB 003.006\n\x00", 13, true);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_int_equal(s->out_len, 13);
	assert_true(s->f.holding);
	sim_free(s);
	s = sim_new(RFBFLOW_START_VERSION);
	sim_feed(s, "RFB 003.889\n\x01\x00", 14, true);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_int_equal(s->out_len, 14);
	assert_true(s->f.holding);
	sim_free(s);
}

/* What it cannot follow, it forwards: no pacing, never a byte held back. */
static void
test_handshake_unknown(void **state)
{
	static const char *const streams[] = {
	    "RFB 004.000\n\x01\x01", /* another major version */
	    "GET / HTTP/1.1\r\n",    /* not RFB */
	    "RFB 003.0x8\n\x01\x01", /* not digits */
	    "RFB 003.008\n\x10\x01", /* security type 16 (Tight) */
	    "RFB 003.008\n\x13\x01", /* VeNCrypt */
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(streams); i++) {
		struct sim *s = sim_new(RFBFLOW_START_VERSION);
		size_t n = strlen(streams[i]);
		sim_feed(s, streams[i], n, true);
		assert_true(s->f.transparent);
		assert_int_equal(s->f.unknown, -1);
		feed_msg(s, fbur(0, 0, 0, 1, 1), true);
		assert_int_equal(s->out_len, n + 10);
		assert_false(s->f.holding);
		sim_free(s);
	}
}

/* The VNC gateway starts at the ClientInit (it did the handshake itself). */
static void
test_start_at_clientinit(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_CLIENTINIT);
	sim_feed(s, "\x03", 1, true); /* ClientInit byte 3 (any non-zero: shared), not a request */
	assert_int_equal(s->out_len, 1);
	feed_msg(s, fbur(0, 0, 0, 1, 1), true);
	assert_int_equal(s->out_len, 1);
	assert_true(s->f.holding);
	sim_free(s);
}

/* Requests that follow a waiting one merge into it: the union, incremental only if all were. */
static void
test_merge(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	feed_msg(s, fbur(1, 0, 0, 100, 100), true);
	feed_msg(s, fbur(1, 50, 50, 100, 100), true);
	assert_int_equal(s->len, 10);
	struct msg want = fbur(1, 0, 0, 150, 150);
	assert_memory_equal(s->buf, want.b, 10);
	feed_msg(s, fbur(0, 10, 300, 5, 5), true);
	want = fbur(0, 0, 0, 150, 305);
	assert_int_equal(s->len, 10);
	assert_memory_equal(s->buf, want.b, 10);
	/* the union is clipped to 16 bits */
	feed_msg(s, fbur(1, 65000, 65000, 1000, 1000), true);
	want = fbur(0, 0, 0, 65535, 65535);
	assert_memory_equal(s->buf, want.b, 10);
	assert_int_equal(s->out_len, 0);
	assert_int_equal(s->f.held, 1);
	assert_int_equal(s->f.merged, 3);
	/* caught up: one request goes */
	sim_pump(s, false);
	assert_int_equal(s->out_len, 10);
	assert_memory_equal(s->out, want.b, 10);
	assert_int_equal(s->len, 0);
	sim_free(s);
}

/* Several requests in one feed merge as well. */
static void
test_merge_one_feed(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	uint8_t b[100];
	for (int i = 0; i < 10; i++)
		memcpy(b + 10 * i, fbur(1, 0, 0, 640, 480).b, 10);
	sim_feed(s, b, sizeof(b), true);
	assert_int_equal(s->len, 10);
	assert_int_equal(s->f.merged, 9);
	assert_int_equal(s->out_len, 0);
	sim_free(s);
}

/* Key and pointer events go ahead of a waiting request; requests after them still merge. */
static void
test_input_goes_first(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	struct msg k1 = key(1, 'x'), p1 = pointer(1, 7, 8), k2 = key(0, 'x');
	feed_msg(s, fbur(1, 0, 0, 10, 10), true);
	feed_msg(s, k1, true);
	feed_msg(s, p1, true);
	feed_msg(s, fbur(1, 20, 20, 10, 10), true);
	feed_msg(s, k2, true);
	uint8_t want[22];
	memcpy(want, k1.b, 8);
	memcpy(want + 8, p1.b, 6);
	memcpy(want + 14, k2.b, 8);
	assert_int_equal(s->out_len, sizeof(want));
	assert_memory_equal(s->out, want, sizeof(want));
	assert_int_equal(s->len, 10);
	struct msg m = fbur(1, 0, 0, 30, 30);
	assert_memory_equal(s->buf, m.b, 10);
	assert_true(s->f.holding);
	assert_int_equal(s->f.inputs, 3); /* each counted once, moved ahead or not */
	sim_free(s);
}

/* A key event split across feeds behind a waiting request goes once it is whole. */
static void
test_split_input_behind_request(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	struct msg k = key(1, 0xff0d);
	feed_msg(s, fbur(1, 0, 0, 10, 10), true);
	sim_feed(s, k.b, 3, true);
	assert_int_equal(s->out_len, 0);
	assert_int_equal(s->len, 13);
	sim_feed(s, k.b + 3, 5, true);
	assert_int_equal(s->out_len, 8);
	assert_memory_equal(s->out, k.b, 8);
	assert_int_equal(s->len, 10);
	assert_int_equal(s->buf[0], 3);
	sim_free(s);
}

/* Anything else keeps its place behind a waiting request, and what follows it too. */
static void
test_others_keep_their_place(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	struct msg ms[] = {fbur(1, 0, 0, 10, 10), pixel_format(), fbur(1, 0, 0, 20, 20),
	                   key(1, 'k')};
	uint8_t want[64];
	size_t wn = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(ms); i++) {
		feed_msg(s, ms[i], true);
		memcpy(want + wn, ms[i].b, ms[i].n);
		wn += ms[i].n;
	}
	assert_int_equal(s->out_len, 0);
	assert_int_equal(s->len, wn);
	sim_pump(s, false);
	assert_int_equal(s->out_len, wn);
	assert_memory_equal(s->out, want, wn);
	sim_free(s);
}

/* Messages before the first request pass while behind; partial sends keep the place. */
static void
test_partial_sends(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	feed_msg(s, pixel_format(), true);
	feed_msg(s, fbur(1, 0, 0, 10, 10), true);
	assert_int_equal(s->out_len, 20);
	s->out_len = 0;
	sim_put(s, key(1, 1).b, 8);
	/* the socket takes 3 bytes of the key event, then the rest */
	sim_pump_n(s, true, 3);
	assert_int_equal(s->f.fwd, 5);
	sim_pump_n(s, true, 5);
	assert_int_equal(s->out_len, 8);
	assert_int_equal(s->len, 10);
	/* caught up, but the socket takes half the request first */
	sim_pump_n(s, false, 4);
	assert_int_equal(s->f.fwd, 6);
	sim_pump(s, true); /* behind again: the rest of a request under way still goes */
	assert_int_equal(s->out_len, 18);
	assert_int_equal(s->len, 0);
	sim_free(s);
}

/* A holding spell is counted once, however many requests it absorbs. */
static void
test_held_counts_spells(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	for (int spell = 1; spell <= 3; spell++) {
		feed_msg(s, fbur(1, 0, 0, 10, 10), true);
		feed_msg(s, fbur(1, 0, 0, 10, 10), true);
		sim_pump(s, true);
		assert_int_equal(s->f.held, spell);
		sim_pump(s, false);
		assert_false(s->f.holding);
	}
	assert_int_equal(s->f.merged, 3);
	assert_int_equal(s->out_len, 30);
	sim_free(s);
}

/* SetEncodings, ClientCutText (plain and extended), Fence, SetDesktopSize: payloads are skipped. */
static void
test_payload_lengths(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	/* SetEncodings with 3 encodings, split inside the header and inside the payload */
	uint8_t enc[16] = {2, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0x11};
	sim_feed(s, enc, 2, true);
	assert_int_equal(s->out_len, 0); /* the count is not known yet: nothing goes */
	sim_feed(s, enc + 2, 7, true);
	assert_int_equal(s->out_len, 9);
	sim_feed(s, enc + 9, 7, true);
	assert_int_equal(s->out_len, 16);
	/* ClientCutText "hel" + "lo", payload bytes that look like requests */
	uint8_t cut[13] = {6, 0, 0, 0, 0, 0, 0, 5, 3, 3, 3, 3, 3};
	sim_feed(s, cut, 10, true);
	sim_feed(s, cut + 10, 3, true);
	assert_int_equal(s->out_len, 29);
	/* extended clipboard: length -12 */
	uint8_t ext[20] = {6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf4};
	memset(ext + 8, 3, 12);
	sim_feed(s, ext, sizeof(ext), true);
	assert_int_equal(s->out_len, 49);
	/* Fence with 4 bytes of payload, SetDesktopSize with 2 screens */
	uint8_t fence[13] = {248, 0, 0, 0, 0, 0, 0, 0, 4, 3, 3, 3, 3};
	sim_feed(s, fence, sizeof(fence), true);
	uint8_t sds[8 + 32] = {251, 0, 0x04, 0, 0x03, 0, 2, 0};
	memset(sds + 8, 3, 32);
	sim_feed(s, sds, sizeof(sds), true);
	assert_int_equal(s->out_len, 49 + 13 + 40);
	assert_false(s->f.holding);
	assert_false(s->f.transparent);
	/* and the request after all of them is recognised */
	feed_msg(s, fbur(1, 0, 0, 1, 1), true);
	assert_true(s->f.holding);
	assert_int_equal(s->len, 10);
	sim_free(s);
}

/* The largest lengths a client can claim are skipped byte for byte, with no overflow. */
static void
test_hostile_lengths(void **state)
{
	struct sim *s = sim_new(RFBFLOW_START_VERSION);
	handshake(s);
	uint8_t *chunk = ab_xmalloc(1u << 16);
	memset(chunk, 3, 1u << 16);
	/* ClientCutText of INT32_MIN: 2^31 bytes of payload, all 0x03 */
	uint8_t hdr[8] = {6, 0, 0, 0, 0x80, 0, 0, 0};
	sim_feed(s, hdr, 8, true);
	uint64_t rest = 0x80000000ull;
	while (rest) {
		size_t n = (size_t)AB_MIN(rest, (uint64_t)(1u << 16));
		sim_feed(s, chunk, n, true);
		assert_int_equal(s->len, 0);
		rest -= n;
	}
	assert_int_equal(s->out_len, 8 + 0x80000000ull);
	assert_false(s->f.holding);
	/* SetEncodings of 65535 */
	uint8_t enc[4] = {2, 0, 0xff, 0xff};
	sim_feed(s, enc, 4, true);
	rest = 4ull * 65535;
	while (rest) {
		size_t n = (size_t)AB_MIN(rest, (uint64_t)(1u << 16));
		sim_feed(s, chunk, n, true);
		rest -= n;
	}
	assert_int_equal(s->len, 0);
	feed_msg(s, fbur(1, 0, 0, 1, 1), true);
	assert_true(s->f.holding);
	assert_false(s->f.transparent);
	free(chunk);
	sim_free(s);
}

/* A type it does not know ends the pacing: from then on everything passes as it comes. */
static void
test_unknown_type(void **state)
{
	static const uint8_t odd[][2] = {{7, 0}, {1, 0}, {255, 1}, {200, 0}};
	for (size_t i = 0; i < AB_ARRAY_SIZE(odd); i++) {
		struct sim *s = sim_new(RFBFLOW_START_VERSION);
		handshake(s);
		feed_msg(s, fbur(1, 0, 0, 10, 10), true);
		assert_true(s->f.holding);
		sim_pump(s, false); /* caught up: the request goes, then the odd message */
		sim_feed(s, odd[i], 2, true);
		assert_true(s->f.transparent);
		assert_int_equal(s->f.unknown, odd[i][0]);
		feed_msg(s, fbur(1, 0, 0, 10, 10), true);
		feed_msg(s, fbur(1, 0, 0, 10, 10), true);
		assert_int_equal(s->out_len, 10 + 2 + 20);
		assert_int_equal(s->len, 0);
		assert_false(s->f.holding);
		sim_free(s);
	}
}

/* ---- random streams, random splits, random catching up ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* A random valid client message (no extension that ends the pacing). */
static size_t
random_msg(uint8_t *b)
{
	switch (rnd(8)) {
	case 0:
		memcpy(b, pixel_format().b, 20);
		return 20;
	case 1: {
		unsigned n = rnd(4);
		b[0] = 2, b[1] = 0, b[2] = 0, b[3] = (uint8_t)n;
		memset(b + 4, 3, 4 * n);
		return 4 + 4 * n;
	}
	case 2: {
		unsigned n = rnd(6);
		bool ext = rnd(2);
		int32_t l = ext ? -(int32_t)n : (int32_t)n;
		b[0] = 6, b[1] = b[2] = b[3] = 0;
		b[4] = (uint8_t)((uint32_t)l >> 24), b[5] = (uint8_t)((uint32_t)l >> 16);
		b[6] = (uint8_t)((uint32_t)l >> 8), b[7] = (uint8_t)l;
		memset(b + 8, 3, n);
		return 8 + n;
	}
	case 3:
		memcpy(b, key((int)rnd(2), rnd(0x10000)).b, 8);
		return 8;
	case 4:
		memcpy(b, pointer((int)rnd(8), rnd(640), rnd(480)).b, 6);
		return 6;
	default:
		memcpy(b, fbur((int)rnd(2), rnd(600), rnd(400), 1 + rnd(40), 1 + rnd(80)).b, 10);
		return 10;
	}
}

struct parsed {
	uint8_t input[4096]; /* key and pointer events, in order */
	size_t input_n;
	uint8_t other[8192]; /* everything but requests, in order (input jumps requests only) */
	size_t other_n;
	unsigned requests;
	unsigned x0, y0, x1, y1; /* the union of the requests' rectangles */
};

static void
parse(const uint8_t *b, size_t n, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->x0 = p->y0 = 65535;
	for (size_t i = 0; i < n;) {
		int64_t l = rfbflow_msg_len(b + i, n - i);
		assert_true(l > 0 && (size_t)l <= n - i);
		if (b[i] == 4 || b[i] == 5) {
			memcpy(p->input + p->input_n, b + i, (size_t)l);
			p->input_n += (size_t)l;
		}
		if (b[i] == 3) {
			unsigned x = (unsigned)b[i + 2] << 8 | b[i + 3],
			         y = (unsigned)b[i + 4] << 8 | b[i + 5];
			unsigned w = (unsigned)b[i + 6] << 8 | b[i + 7],
			         h = (unsigned)b[i + 8] << 8 | b[i + 9];
			p->requests++;
			p->x0 = AB_MIN(p->x0, x), p->y0 = AB_MIN(p->y0, y);
			p->x1 = AB_MAX(p->x1, x + w), p->y1 = AB_MAX(p->y1, y + h);
		} else {
			memcpy(p->other + p->other_n, b + i, (size_t)l);
			p->other_n += (size_t)l;
		}
		i += (size_t)l;
	}
}

/*
 * 200 random streams of 100 messages, fed in random pieces, sent in random amounts, the client
 * behind at random: whatever the server got is a valid stream with the same messages in the
 * same order once requests are taken out (input only overtakes requests), no more requests than
 * were made (at least one) and covering at least the same area; while behind, no request went.
 */
static void
test_random_streams(void **state)
{
	for (int round = 0; round < 200; round++) {
		uint8_t *stream = ab_xmalloc(8192);
		size_t n = 0;
		for (int i = 0; i < 100; i++)
			n += random_msg(stream + n);
		struct sim *s = sim_new(RFBFLOW_START_CLIENTINIT);
		sim_feed(s, "\x01", 1, false);
		s->out_len = 0;
		/* what was cleared for the server while behind: [from, to) of what it got */
		size_t ranges[512][2], nr = 0;
		for (size_t i = 0; i < n;) {
			size_t piece = 1 + rnd(24); /* not inside AB_MIN: evaluated twice */
			piece = AB_MIN(piece, n - i);
			bool behind = rnd(3) != 0;
			memcpy(s->buf + s->len, stream + i, piece);
			s->len += piece;
			i += piece;
			size_t cleared = s->out_len + s->f.fwd;
			sim_pump_n(s, behind,
			           rnd(4) ? SIZE_MAX : rnd(16)); /* the socket takes some */
			assert_int_equal(s->out_len + s->len, i - 10 * s->f.merged);
			if (behind && s->out_len + s->f.fwd > cleared) {
				ranges[nr][0] = cleared;
				ranges[nr++][1] = s->out_len + s->f.fwd;
			}
		}
		while (s->len)
			sim_pump(s, false);
		assert_int_equal(s->out_len, n - 10 * s->f.merged);
		/* no request started in what was cleared while behind */
		for (size_t off = 0; off < s->out_len;) {
			int64_t l = rfbflow_msg_len(s->out + off, s->out_len - off);
			assert_true(l > 0);
			for (size_t r = 0; s->out[off] == 3 && r < nr; r++)
				if (off >= ranges[r][0] && off < ranges[r][1])
					fail_msg("round %d: a request at %zu went while behind",
					         round, off);
			off += (size_t)l;
		}
		struct parsed *a = ab_xmalloc(sizeof(*a)), *b = ab_xmalloc(sizeof(*b));
		parse(stream, n, a);
		parse(s->out, s->out_len, b);
		assert_int_equal(a->input_n, b->input_n);
		assert_memory_equal(a->input, b->input, a->input_n);
		assert_int_equal(a->other_n, b->other_n);
		assert_memory_equal(a->other, b->other, a->other_n);
		assert_true(b->requests <= a->requests);
		assert_true(b->requests >= (a->requests ? 1u : 0u));
		assert_int_equal(a->requests - b->requests, s->f.merged);
		if (a->requests)
			assert_true(b->x0 <= a->x0 && b->y0 <= a->y0 && b->x1 >= a->x1 &&
			            b->y1 >= a->y1);
		free(a);
		free(b);
		free(stream);
		sim_free(s);
	}
}

AB_TEST_MAIN(NULL, NULL, test_msg_len, test_behind, test_not_behind_passes_all,
             test_handshake_then_hold, test_handshake_split_every_byte, test_handshake_vnc_auth,
             test_handshake_33_37, test_handshake_unknown, test_start_at_clientinit, test_merge,
             test_merge_one_feed, test_input_goes_first, test_split_input_behind_request,
             test_others_keep_their_place, test_partial_sends, test_held_counts_spells,
             test_payload_lengths, test_hostile_lengths, test_unknown_type, test_random_streams);
