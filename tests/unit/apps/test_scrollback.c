/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The terminal's scrollback ring (apps/terminal/scrollback.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "scrollback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
line_of(const char *s, struct sb_cell *c, size_t cols)
{
	memset(c, 0, cols * sizeof(*c));
	for (size_t i = 0; i < cols; i++) {
		c[i].ch[0] = i < strlen(s) ? (unsigned char)s[i] : 0;
		c[i].width = 1;
		c[i].fg = c[i].bg = SB_DEFAULT;
	}
}

static void
test_ring(void **state)
{
	struct scrollback sb;
	struct sb_cell c[20];
	char text[64];
	sb_init(&sb, 3);
	assert_null(sb_pop(&sb));
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "line %d", i);
		line_of(text, c, 20);
		sb_push(&sb, c, 20);
	}
	assert_int_equal(sb.count, 3); /* oldest two dropped */
	sb_line_text(sb_get(&sb, 0), text, sizeof(text));
	assert_string_equal(text, "line 2");
	sb_line_text(sb_get(&sb, 2), text, sizeof(text));
	assert_string_equal(text, "line 4"); /* trailing blanks cut */
	assert_null(sb_get(&sb, 3));
	struct sb_line *l = sb_pop(&sb);
	sb_line_text(l, text, sizeof(text));
	assert_string_equal(text, "line 4");
	free(l);
	assert_int_equal(sb.count, 2);
	sb_free(&sb);
}

static void
test_wide_and_combining(void **state)
{
	struct scrollback sb;
	struct sb_cell c[4] = {0};
	char text[64];
	sb_init(&sb, 10);
	c[0] = (struct sb_cell){.ch = {0x4E2D}, .width = 2}; /* 中 */
	c[1] = (struct sb_cell){.width = 0};
	c[2] = (struct sb_cell){.ch = {'e', 0x301}, .width = 1}; /* e + combining acute */
	c[3] = (struct sb_cell){.ch = {'!'}, .width = 1};
	sb_push(&sb, c, 4);
	sb_line_text(sb_get(&sb, 0), text, sizeof(text));
	assert_string_equal(text, "\xe4\xb8\xad"
	                          "e\xcc\x81!");
	/* a short buffer is cut at a character, never mid-sequence */
	char small[4];
	sb_line_text(sb_get(&sb, 0), small, sizeof(small));
	assert_string_equal(small, "\xe4\xb8\xad");
	sb_free(&sb);
}

static void
test_many(void **state)
{
	struct scrollback sb;
	struct sb_cell c[80];
	sb_init(&sb, 10000);
	line_of("x", c, 80);
	for (int i = 0; i < 25000; i++)
		sb_push(&sb, c, 80);
	assert_int_equal(sb.count, 10000);
	sb_free(&sb);
}

AB_TEST_MAIN(NULL, NULL, test_ring, test_wide_and_combining, test_many);
