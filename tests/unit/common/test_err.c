/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_err.h"

static void
test_set_returns_negative_errno(void **state)
{
	struct ab_err err = {0};
	assert_int_equal(ab_err_set(&err, ENOENT, "no '%s'", "x"), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "no 'x'");
	/* negative codes are normalised */
	assert_int_equal(ab_err_set(&err, -EPERM, "p"), -EPERM);
	assert_int_equal(err.code, EPERM);
}

static void
test_wrap_prepends_context(void **state)
{
	struct ab_err err = {0};
	ab_err_errno(&err, EEXIST, "creating netns");
	assert_int_equal(ab_err_wrap(&err, "starting session '%s'", "bea"), -EEXIST);
	assert_string_equal(err.msg, "starting session 'bea': creating netns: File exists");
}

static void
test_null_err_is_allowed(void **state)
{
	assert_int_equal(ab_err_set(NULL, EINVAL, "x"), -EINVAL);
	assert_int_equal(ab_err_wrap(NULL, "x"), -EIO);
	ab_err_clear(NULL);
}

static void
test_wrap_truncates_safely(void **state)
{
	struct ab_err err = {0};
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ab_err_set(&err, EIO, "%s", big);
	ab_err_wrap(&err, "%s", big);
	assert_true(strlen(err.msg) < AB_ERR_MSG_MAX);
}

AB_TEST_MAIN(NULL, NULL, test_set_returns_negative_errno, test_wrap_prepends_context,
             test_null_err_is_allowed, test_wrap_truncates_safely);
