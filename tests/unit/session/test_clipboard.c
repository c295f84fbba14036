/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <stdlib.h>
#include <string.h>

#include "clipboard.h"

static void
test_latin1_to_utf8(void **state)
{
	size_t n;
	char *u = clipboard_latin1_to_utf8("caf\xe9 \xdf", 6, &n);
	assert_int_equal(n, 8);
	assert_string_equal(u, "caf\xc3\xa9 \xc3\x9f");
	free(u);
}

static void
test_utf8_to_latin1(void **state)
{
	size_t n;
	/* é stays, the snowman (3 bytes) and an emoji (4 bytes) become '?' */
	const char *s = "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80!";
	char *l = clipboard_utf8_to_latin1(s, strlen(s), &n);
	assert_string_equal(l, "caf\xe9 ? ?!");
	assert_int_equal(n, 9);
	free(l);
	/* truncated sequences never read past the end */
	l = clipboard_utf8_to_latin1("a\xc3", 2, &n);
	assert_int_equal(n, 2);
	free(l);
}

AB_TEST_MAIN(NULL, NULL, test_latin1_to_utf8, test_utf8_to_latin1);
