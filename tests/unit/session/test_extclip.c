/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "extclip.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CJK, emoji (4 bytes), a combining mark, RTL (Hebrew, Arabic), two lines */
static const char *unicode = "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82 e\xcc\x81 "
                             "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd8\xb3\xd9\x84\xd8\xa7\xd9\x85\n"
                             "line two\n";

static void
test_provide_round_trip(void **state)
{
	size_t n;
	uint8_t *m = extclip_provide_message(unicode, strlen(unicode), &n);
	assert_int_equal(m[0], 3);
	int32_t len = (int32_t)get32(m + 4);
	assert_true(len < 0);
	assert_int_equal((size_t)-len, n - 8);
	uint32_t flags = get32(m + 8);
	assert_int_equal(flags, EXTCLIP_PROVIDE | EXTCLIP_TEXT);

	/* on the wire: CRLF and a NUL, as the spec asks */
	uint8_t plain[256];
	uLongf pn = sizeof(plain);
	z_stream zs = {0};
	assert_int_equal(inflateInit(&zs), Z_OK);
	zs.next_in = m + 12;
	zs.avail_in = (uInt)(n - 12);
	zs.next_out = plain;
	zs.avail_out = (uInt)pn;
	int r = inflate(&zs, Z_SYNC_FLUSH);
	assert_int_equal(r, Z_OK); /* flushed, not finished */
	size_t got = pn - zs.avail_out;
	inflateEnd(&zs);
	assert_int_equal(get32(plain), strlen(unicode) + 2 + 1);
	assert_int_equal(got, 4 + strlen(unicode) + 3);
	assert_memory_equal(plain + 4 + strlen(unicode) + 2 - 12, "\r\nline two\r\n", 12);
	assert_int_equal(plain[got - 1], 0);

	char *text;
	size_t tlen;
	assert_int_equal(extclip_provide_text(flags, m + 12, n - 12, 1024, &text, &tlen), 0);
	assert_int_equal(tlen, strlen(unicode));
	assert_string_equal(text, unicode);
	free(text);
	/* over the limit */
	assert_int_equal(extclip_provide_text(flags, m + 12, n - 12, 10, &text, &tlen), -EMSGSIZE);
	free(m);
}

/* A finished zlib stream (Python's zlib.compress) is fine too, and the NUL is optional. */
static void
test_provide_finished_stream(void **state)
{
	const char *t = "a\r\nb\rc";
	uint8_t plain[64];
	plain[0] = plain[1] = plain[2] = 0;
	plain[3] = (uint8_t)strlen(t);
	memcpy(plain + 4, t, strlen(t));
	uint8_t z[128];
	uLongf zn = sizeof(z);
	assert_int_equal(compress(z, &zn, plain, 4 + strlen(t)), Z_OK);
	char *text;
	size_t tlen;
	assert_int_equal(
	    extclip_provide_text(EXTCLIP_PROVIDE | EXTCLIP_TEXT, z, zn, 64, &text, &tlen), 0);
	assert_string_equal(text, "a\nb\nc");
	free(text);
}

static void
test_provide_refused(void **state)
{
	char *text = NULL;
	size_t tlen;
	/* no text format */
	assert_int_equal(
	    extclip_provide_text(EXTCLIP_PROVIDE | (1u << 2), (uint8_t *)"x", 1, 64, &text, &tlen),
	    -ENOENT);
	/* garbage, and a stream cut short */
	assert_int_equal(extclip_provide_text(EXTCLIP_PROVIDE | EXTCLIP_TEXT, (uint8_t *)"garbage!",
	                                      8, 64, &text, &tlen),
	                 -EBADMSG);
	size_t n;
	uint8_t *m = extclip_provide_message("hello world", 11, &n);
	assert_int_equal(extclip_provide_text(EXTCLIP_TEXT, m + 12, 6, 64, &text, &tlen), -EBADMSG);
	free(m);
	/* a size that promises more than max, before anything is allocated */
	uint8_t plain[8] = {0x7f, 0xff, 0xff, 0xff, 'a'};
	uint8_t z[64];
	uLongf zn = sizeof(z);
	assert_int_equal(compress(z, &zn, plain, 5), Z_OK);
	assert_int_equal(extclip_provide_text(EXTCLIP_TEXT, z, zn, 1 << 20, &text, &tlen),
	                 -EMSGSIZE);
	/* not UTF-8 */
	m = extclip_provide_message("\xff\xfe", 2, &n);
	assert_int_equal(extclip_provide_text(EXTCLIP_TEXT, m + 12, n - 12, 64, &text, &tlen),
	                 -EBADMSG);
	free(m);
	assert_null(text);
}

static void
test_caps(void **state)
{
	size_t n;
	uint8_t *m = extclip_caps_message(1 << 20, &n);
	assert_int_equal(n, 16);
	uint32_t flags = get32(m + 8);
	assert_true(flags & EXTCLIP_NOTIFY);
	assert_true(flags & EXTCLIP_REQUEST);
	assert_true(flags & EXTCLIP_PROVIDE);
	assert_true(flags & EXTCLIP_CAPS);
	assert_int_equal(flags & EXTCLIP_FORMATS, EXTCLIP_TEXT);
	uint32_t max = 0;
	assert_int_equal(extclip_caps_text_max(flags, m + 12, 4, &max), 0);
	assert_int_equal(max, 1 << 20);
	free(m);
	/* noVNC 1.7 announces format bit 1 with size 0: no text limit at all */
	uint8_t zero[4] = {0};
	assert_int_equal(extclip_caps_text_max(EXTCLIP_CAPS | 2, zero, 4, &max), 0);
	assert_int_equal(max, 0);
	/* two formats, one size */
	assert_int_equal(extclip_caps_text_max(EXTCLIP_CAPS | 3, zero, 4, &max), -EBADMSG);
}

static void
test_to_lf(void **state)
{
	char s[] = "a\r\nb\rc\n\r\n";
	assert_int_equal(extclip_to_lf(s, strlen(s)), 7);
	assert_memory_equal(s, "a\nb\nc\n\n", 7);
}

AB_TEST_MAIN(NULL, NULL, test_provide_round_trip, test_provide_finished_stream,
             test_provide_refused, test_caps, test_to_lf);
