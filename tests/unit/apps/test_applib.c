/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The app library's X-free modules: text helpers, list model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "ab_list.h"
#include "ab_text.h"

#include <errno.h>
#include <string.h>

static void
test_utf8_next(void **state)
{
	uint32_t cp;
	assert_int_equal(text_utf8_next("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(text_utf8_next("\xc3\xbc", 2, &cp), 2); /* ü */
	assert_int_equal(cp, 0xFC);
	assert_int_equal(text_utf8_next("\xe2\x82\xac", 3, &cp), 3); /* € */
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(text_utf8_next("\xf0\x9f\x98\x80", 4, &cp), 4); /* 😀 */
	assert_int_equal(cp, 0x1F600);
	/* invalid: one byte, U+FFFD, so binary data always advances */
	assert_int_equal(text_utf8_next("\xff", 1, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(text_utf8_next("\xe2\x82", 2, &cp), 1); /* truncated */
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(text_utf8_next("\xc0\x80", 2, &cp), 1);     /* overlong */
	assert_int_equal(text_utf8_next("\xed\xa0\x80", 3, &cp), 1); /* surrogate */
	assert_int_equal(cp, 0xFFFD);
	/* every byte string decodes with progress */
	unsigned char buf[256];
	for (int i = 0; i < 256; i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	size_t i = 0, steps = 0;
	while (i < sizeof(buf)) {
		size_t n = text_utf8_next((char *)buf + i, sizeof(buf) - i, &cp);
		assert_true(n >= 1 && n <= 4);
		i += n;
		steps++;
	}
	assert_true(steps <= sizeof(buf));
}

static void
test_utf8_encode_prev(void **state)
{
	char out[8];
	assert_int_equal(text_utf8_encode(0x20AC, out), 3);
	assert_memory_equal(out, "\xe2\x82\xac", 3);
	assert_int_equal(text_utf8_encode(0x1F600, out), 4);
	assert_int_equal(text_utf8_encode(0xD800, out), 0);
	assert_int_equal(text_utf8_encode(0x110000, out), 0);
	const char *s = "a\xc3\xbc\xe2\x82\xac";
	assert_int_equal(text_utf8_prev(s, 6), 3);
	assert_int_equal(text_utf8_prev(s, 3), 1);
	assert_int_equal(text_utf8_prev(s, 1), 0);
	assert_int_equal(text_utf8_prev(s, 0), 0);
}

static void
test_format_find_sanitize(void **state)
{
	char b[32];
	text_format_bytes(512, b, sizeof(b));
	assert_string_equal(b, "512 B");
	text_format_bytes(1536, b, sizeof(b));
	assert_string_equal(b, "1.5 KiB");
	text_format_bytes(200ull << 20, b, sizeof(b));
	assert_string_equal(b, "200 MiB");
	assert_int_equal(text_find_ci("Hello World", 11, "world"), 6);
	assert_int_equal(text_find_ci("abc", 3, "abcd"), -1);
	assert_int_equal(text_find_ci("abc", 3, ""), 0);
	char s[] = "a\tb\x01\xff"
	           "c";
	text_sanitize(s);
	assert_string_equal(s, "a b ?c");
}

static void
test_list(void **state)
{
	struct ab_list l = {0};
	assert_false(list_key(&l, AB_LIST_DOWN)); /* empty: nothing to do */
	list_set_count(&l, 100);
	list_set_visible(&l, 10);
	assert_true(list_key(&l, AB_LIST_DOWN));
	assert_int_equal(l.sel, 1);
	assert_false(list_key(&l, AB_LIST_HOME) && false);
	assert_int_equal(l.sel, 0);
	assert_false(list_key(&l, AB_LIST_UP));
	list_key(&l, AB_LIST_PAGE_DOWN);
	assert_int_equal(l.sel, 10);
	assert_int_equal(l.top, 1); /* row 10 visible as the last of 10 */
	list_key(&l, AB_LIST_END);
	assert_int_equal(l.sel, 99);
	assert_int_equal(l.top, 90);
	list_key(&l, AB_LIST_PAGE_UP);
	assert_int_equal(l.sel, 89);
	assert_int_equal(l.top, 89);
	list_scroll(&l, 1000);
	assert_int_equal(l.top, 90);
	list_scroll(&l, -1000);
	assert_int_equal(l.top, 0);
	assert_int_equal(list_row_at(&l, 25, 10), 2);
	assert_int_equal(list_row_at(&l, -1, 10), -1);
	/* shrinking keeps selection and scroll in range */
	list_set_count(&l, 5);
	assert_int_equal(l.sel, 4);
	assert_int_equal(l.top, 0);
	assert_int_equal(list_row_at(&l, 55, 10), -1);
	list_select(&l, 1000);
	assert_int_equal(l.sel, 4);
	list_set_count(&l, 0);
	assert_int_equal(l.sel, 0);
}

AB_TEST_MAIN(NULL, NULL, test_utf8_next, test_utf8_encode_prev, test_format_find_sanitize,
             test_list);
