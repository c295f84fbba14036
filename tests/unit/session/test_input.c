/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "input.h"

static void
test_plain_scancodes(void **state)
{
	assert_int_equal(input_qnum_to_evdev(0x01), 1);     /* Esc */
	assert_int_equal(input_qnum_to_evdev(0x10), 16);    /* Q */
	assert_int_equal(input_qnum_to_evdev(0x1e), 30);    /* A */
	assert_int_equal(input_qnum_to_evdev(0x56), 86);    /* ISO 102nd key (<>|) */
	assert_int_equal(input_qnum_to_evdev(0x58), 88);    /* F12 */
	assert_int_equal(input_qnum_to_xkeycode(0x1e), 38); /* evdev + 8 */
}

static void
test_extended_scancodes(void **state)
{
	assert_int_equal(input_qnum_to_evdev(0xc8), 103); /* Up */
	assert_int_equal(input_qnum_to_evdev(0xd0), 108); /* Down */
	assert_int_equal(input_qnum_to_evdev(0xb8), 100); /* AltGr */
	assert_int_equal(input_qnum_to_evdev(0x9d), 97);  /* Right Ctrl */
	assert_int_equal(input_qnum_to_evdev(0xd3), 111); /* Delete */
	assert_int_equal(input_qnum_to_evdev(0xdb), 125); /* Left Meta */
	assert_int_equal(input_qnum_to_evdev(0x73), 89);  /* ABNT/JIS RO */
}

static void
test_unknown_scancodes(void **state)
{
	assert_int_equal(input_qnum_to_evdev(0), 0);
	assert_int_equal(input_qnum_to_evdev(0xff), 0);
	assert_int_equal(input_qnum_to_evdev(0x100), 0);
	assert_int_equal(input_qnum_to_evdev(0xffffffffu), 0);
	assert_int_equal(input_qnum_to_xkeycode(0x80), 0);
}

AB_TEST_MAIN(NULL, NULL, test_plain_scancodes, test_extended_scancodes, test_unknown_scancodes);
