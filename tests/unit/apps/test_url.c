/* SPDX-License-Identifier: GPL-2.0-or-later */
/* text_url_at(): the URL under a terminal column (Ctrl+click in argobox-terminal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_text.h"

#include <string.h>

static void
test_url(void **state)
{
	const char *l = "see https://example.com/a_(b)?q=1. next";
	size_t s, e, n = strlen(l);
	assert_true(text_url_at(l, n, 10, &s, &e));
	assert_int_equal(s, 4);
	assert_memory_equal(l + s, "https://example.com/a_(b)?q=1", e - s);
	assert_int_equal(e - s, strlen("https://example.com/a_(b)?q=1"));
	assert_false(text_url_at(l, n, 1, &s, &e));  /* "see" */
	assert_false(text_url_at(l, n, 36, &s, &e)); /* "next" */
	const char *p = "(http://x.org/y)";
	assert_true(text_url_at(p, strlen(p), 3, &s, &e));
	assert_int_equal(e - s, strlen("http://x.org/y"));
	assert_false(text_url_at("http://", 7, 2, &s, &e)); /* a bare scheme */
	assert_false(text_url_at("ftp://a.b", 9, 2, &s, &e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
