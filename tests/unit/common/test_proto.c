/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_proto.h"
#include "ab_util.h"

static void
test_round_trip_byte_by_byte(void **state)
{
	json_t *m = ab_proto_msg("ping", json_pack("{s:i}", "seq", 7));
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(ab_proto_encode(m, &buf, &len, NULL), 0);
	json_decref(m);
	struct ab_proto_reader r;
	ab_proto_reader_init(&r);
	json_t *out = NULL;
	/* two frames back to back, fed one byte at a time */
	for (int rep = 0; rep < 2; rep++) {
		for (size_t i = 0; i < len; i++) {
			assert_int_equal(ab_proto_reader_next(&r, &out, NULL), 0);
			ab_proto_reader_feed(&r, buf + i, 1);
		}
		assert_int_equal(ab_proto_reader_next(&r, &out, NULL), 1);
		assert_string_equal(ab_proto_type(out), "ping");
		assert_int_equal(json_integer_value(json_object_get(out, "seq")), 7);
		assert_int_equal(json_integer_value(json_object_get(out, "v")), AB_PROTO_VERSION);
		json_decref(out);
	}
	assert_int_equal(r.len, 0);
	ab_proto_reader_free(&r);
	free(buf);
}

static void
expect_corrupt(const void *bytes, size_t n)
{
	struct ab_proto_reader r;
	struct ab_err err = {0};
	json_t *out = NULL;
	ab_proto_reader_init(&r);
	ab_proto_reader_feed(&r, bytes, n);
	assert_int_equal(ab_proto_reader_next(&r, &out, &err), -EPROTO);
	assert_null(out);
	assert_true(err.msg[0] != '\0');
	ab_proto_reader_free(&r);
}

static void
test_hostile_frames(void **state)
{
	expect_corrupt("\0\0\0\0", 4);         /* zero length */
	expect_corrupt("\x7f\xff\xff\xff", 4); /* huge length */
	expect_corrupt("\0\0\0\x03"
	               "abc",
	               7);                                  /* not JSON */
	expect_corrupt("\0\0\0\x02[]", 6);                  /* not an object */
	expect_corrupt("\0\0\0\x0e{\"type\":\"x\"}  ", 18); /* no version */
	expect_corrupt("\0\0\0\x0d"
	               "{\"v\":1,\"t\":1}",
	               17); /* no type */
	expect_corrupt("\0\0\0\x0c"
	               "{\"v\":\"\xff\xfe\"}  ",
	               16); /* invalid UTF-8 */
}

static void
test_oversized_message_refused(void **state)
{
	char *big = ab_xmalloc(AB_PROTO_MAX_FRAME + 1);
	memset(big, 'a', AB_PROTO_MAX_FRAME);
	big[AB_PROTO_MAX_FRAME] = '\0';
	json_t *m = ab_proto_msg("state", json_pack("{s:s}", "blob", big));
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(ab_proto_encode(m, &buf, &len, NULL), -EMSGSIZE);
	assert_null(buf);
	json_decref(m);
	free(big);
}

static void
test_msg_fields_cannot_override_type(void **state)
{
	json_t *m = ab_proto_msg("hello", json_pack("{s:s, s:i}", "type", "evil", "v", 99));
	assert_string_equal(ab_proto_type(m), "hello");
	assert_int_equal(json_integer_value(json_object_get(m, "v")), AB_PROTO_VERSION);
	json_decref(m);
}

/* The encoder refuses what every reader refuses: a frame without an integer "v" and a
 * string "type" is never sent (the session closes its channel on one). */
static void
test_encode_refuses_unversioned(void **state)
{
	const char *bad[] = {"{\"type\":\"notify\",\"title\":\"x\"}",
	                     "{\"v\":\"1\",\"type\":\"ping\"}", "{\"v\":1}",
	                     "{\"v\":1,\"type\":7}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *m = json_loads(bad[i], 0, NULL);
		assert_non_null(m);
		char *buf = NULL;
		size_t len = 0;
		struct ab_err err = {0};
		assert_int_equal(ab_proto_encode(m, &buf, &len, &err), -EINVAL);
		assert_null(buf);
		assert_non_null(strstr(err.msg, "lacks an integer 'v' or a string 'type'"));
		json_decref(m);
	}
}

AB_TEST_MAIN(NULL, NULL, test_round_trip_byte_by_byte, test_encode_refuses_unversioned,
             test_hostile_frames, test_oversized_message_refused,
             test_msg_fields_cannot_override_type);
