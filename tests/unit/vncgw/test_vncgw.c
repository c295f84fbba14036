/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for vncgw's DES response (against libvncserver's d3des) and tailnet ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rfb/rfbproto.h>

#include "ab_util.h"
#include "vncgw.h"

static void
test_des_matches_libvncserver(void **state)
{
	static const char *const passwords[] = {"password", "abc", "Mauve234", "xY7pq2Kd",
	                                        "\x01\x01\x01\x01\x01\x01\x01\x01"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(passwords); i++) {
		for (int round = 0; round < 16; round++) {
			uint8_t challenge[16], ours[16], theirs[16];
			assert_int_equal(ab_random_bytes(challenge, sizeof(challenge)), 0);
			memcpy(theirs, challenge, 16);
			rfbEncryptBytes(theirs, (char *)passwords[i]);
			assert_int_equal(vncgw_des_response(passwords[i], challenge, ours), 0);
			assert_memory_equal(ours, theirs, 16);
		}
	}
}

static void
test_only_eight_characters_count(void **state)
{
	uint8_t challenge[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	uint8_t a[16], b[16], c[16];
	assert_int_equal(vncgw_des_response("abcdefgh", challenge, a), 0);
	assert_int_equal(vncgw_des_response("abcdefghXYZ", challenge, b), 0);
	assert_int_equal(vncgw_des_response("abcdefgi", challenge, c), 0);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, c, 16);
}

static void
test_tailnet(void **state)
{
	assert_true(vncgw_addr_is_tailnet("100.64.0.1"));
	assert_true(vncgw_addr_is_tailnet("100.101.102.103"));
	assert_true(vncgw_addr_is_tailnet("100.127.255.254"));
	assert_true(vncgw_addr_is_tailnet("fd7a:115c:a1e0::1"));
	assert_true(vncgw_addr_is_tailnet("fd7a:115c:a1e0:ab12::53"));
	assert_false(vncgw_addr_is_tailnet("100.63.255.255"));
	assert_false(vncgw_addr_is_tailnet("100.128.0.1"));
	assert_false(vncgw_addr_is_tailnet("0.0.0.0"));
	assert_false(vncgw_addr_is_tailnet("192.168.1.10"));
	assert_false(vncgw_addr_is_tailnet("::"));
	assert_false(vncgw_addr_is_tailnet("fd7a:115c:a1e1::1"));
	assert_false(vncgw_addr_is_tailnet("argobox.example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_des_matches_libvncserver),
	    cmocka_unit_test(test_only_eight_characters_count),
	    cmocka_unit_test(test_tailnet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
