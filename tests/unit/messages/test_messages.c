/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the pure parts of broker/messages (messages.h): a message's text (UTF-8,
 * length in characters, control characters, blank), the policy of who may write to whom
 * (both demo settings), and the per-sender token bucket (burst, refill, Retry-After).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ab_test.h"

#include "messages.h"

static int
check(const char *text, unsigned max)
{
	struct ab_err err = {0};
	return messages_text_check(text, strlen(text), max, &err);
}

static void
test_text(void **state)
{
	(void)state;
	struct ab_err err = {0};
	assert_int_equal(check("hello", 2000), 0);
	assert_int_equal(check("line one\n\tline two", 2000), 0);
	assert_int_equal(check("<b>markup</b> & <script>", 2000), 0); /* text, never markup */
	assert_int_equal(check("", 2000), -EINVAL);
	assert_int_equal(check(" \n\t ", 2000), -EINVAL);
	assert_int_equal(check("bell\a", 2000), -EINVAL);
	assert_int_equal(check("cr\r", 2000), -EINVAL);
	assert_int_equal(check("del\x7f", 2000), -EINVAL);
	assert_int_equal(check("\xc3\x28", 2000), -EINVAL);     /* invalid UTF-8 */
	assert_int_equal(check("\xed\xa0\x80", 2000), -EINVAL); /* a surrogate */
	/* characters, not bytes: 3 x 4-byte emoji fit in 3 */
	assert_int_equal(check("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 3), 0);
	assert_int_equal(check("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2), -EINVAL);
	assert_int_equal(messages_text_check("abcd", 4, 3, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "4 characters long, more than 3"));
	/* an embedded NUL (JSON "\u0000") is a control character */
	assert_int_equal(messages_text_check("a\0b", 3, 10, &err), -EINVAL);
}

static void
test_policy(void **state)
{
	(void)state;
	const enum messages_demo_policy A = MESSAGES_DEMO_ADMINS, N = MESSAGES_DEMO_NONE;
	/* admins write to anyone */
	assert_null(messages_policy(USERS_ROLE_ADMIN, USERS_ROLE_ADMIN, A));
	assert_null(messages_policy(USERS_ROLE_ADMIN, USERS_ROLE_MEMBER, N));
	assert_null(messages_policy(USERS_ROLE_ADMIN, USERS_ROLE_DEMO, N));
	/* members to members and admins */
	assert_null(messages_policy(USERS_ROLE_MEMBER, USERS_ROLE_MEMBER, A));
	assert_null(messages_policy(USERS_ROLE_MEMBER, USERS_ROLE_ADMIN, A));
	assert_non_null(messages_policy(USERS_ROLE_MEMBER, USERS_ROLE_DEMO, A));
	/* demo identities: admins only, or nobody */
	assert_null(messages_policy(USERS_ROLE_DEMO, USERS_ROLE_ADMIN, A));
	assert_non_null(messages_policy(USERS_ROLE_DEMO, USERS_ROLE_MEMBER, A));
	assert_non_null(messages_policy(USERS_ROLE_DEMO, USERS_ROLE_DEMO, A));
	assert_non_null(messages_policy(USERS_ROLE_DEMO, USERS_ROLE_ADMIN, N));
	assert_non_null(messages_policy((enum users_role)USERS_ROLE_MAX, USERS_ROLE_ADMIN, A));
}

static void
test_bucket(void **state)
{
	(void)state;
	struct messages_bucket b = {0};
	unsigned retry = 0;
	int64_t t = 1000000;
	/* a burst of 3, then 6 a minute (one every 10 s) */
	for (int i = 0; i < 3; i++)
		assert_true(messages_bucket_take(&b, t, 3, 6, &retry));
	assert_false(messages_bucket_take(&b, t, 3, 6, &retry));
	assert_int_equal(retry, 10);
	assert_false(messages_bucket_take(&b, t + 4000, 3, 6, &retry));
	assert_int_equal(retry, 6);
	assert_true(messages_bucket_take(&b, t + 10000, 3, 6, &retry));
	assert_false(messages_bucket_take(&b, t + 10000, 3, 6, &retry));
	/* a long pause refills to the burst, never beyond */
	t += 3600 * 1000;
	for (int i = 0; i < 3; i++)
		assert_true(messages_bucket_take(&b, t, 3, 6, &retry));
	assert_false(messages_bucket_take(&b, t, 3, 6, &retry));
	/* the clock going back does not mint tokens; Retry-After is at least 1 s */
	assert_false(messages_bucket_take(&b, t - 60000, 3, 6, &retry));
	assert_true(retry >= 1);
	struct messages_bucket fast = {0};
	assert_true(messages_bucket_take(&fast, t, 1, 100000, &retry));
	assert_false(messages_bucket_take(&fast, t, 1, 100000, &retry));
	assert_int_equal(retry, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
