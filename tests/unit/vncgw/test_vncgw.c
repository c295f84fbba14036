/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for vncgw's DES response (against libvncserver's d3des), tailnet ranges and
 * the vnc_gateway.* checks of --check-config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ab_test.h"
#include <rfb/rfbproto.h>

#include "ab_err.h"
#include "ab_util.h"
#include "broker_config.h"
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
	AB_ASSERT_EACH(vncgw_addr_is_tailnet, true, "100.64.0.1", "100.101.102.103",
	               "100.127.255.254", "fd7a:115c:a1e0::1", "fd7a:115c:a1e0:ab12::53");
	AB_ASSERT_EACH(vncgw_addr_is_tailnet, false, "100.63.255.255", "100.128.0.1", "0.0.0.0",
	               "192.168.1.10", "::", "fd7a:115c:a1e1::1", "argobox.example");
}

static void
test_check_config(void **state)
{
	static const struct {
		const char *listen, *public_host, *error; /* error: NULL when accepted */
	} rows[] = {
	    {"", "", NULL},
	    {"100.101.102.103:5900", "argobox.tail-net.ts.net", NULL},
	    {"127.0.0.1:0", "", NULL},
	    {"0.0.0.0:65535", "100.101.102.103", NULL},
	    {"localhost:5900", "", NULL},
	    {"[::1]:5900", "fd7a:115c:a1e0::1", NULL},
	    {"[fd7a:115c:a1e0::1]:5901", "", NULL},
	    {"100.101.102.103", "", "has no port"},
	    {"100.101.102.103:", "", "the port '' is not a number"},
	    {"100.101.102.103:65536", "", "the port '65536' is not a number in 0..65535"},
	    {"100.101.102.103:-1", "", "is not a number"},
	    {"100.101.102.103:+5", "", "is not a number"},
	    {"100.101.102.103:59x", "", "is not a number"},
	    {":5900", "", "has no address"},
	    {"[]:5900", "", "has no address"},
	    {"argobox.example:5900", "", "is not an IPv4 address or 'localhost'"},
	    {"300.1.1.1:5900", "", "is not an IPv4 address"},
	    {"::1:5900", "", "goes in brackets"},
	    {"[::1]5900", "", "expected ':PORT' after ']'"},
	    {"[::1:5900", "", "no ']'"},
	    {"[127.0.0.1]:5900", "", "is not an IPv6 address"},
	    {"[localhost]:5900", "", "is not an IPv6 address"},
	    {"", "https://argobox.example", "vnc_gateway.public_host"},
	    {"", "argobox.example:5900", "vnc_gateway.public_host"},
	    {"", "-argobox.example", "vnc_gateway.public_host"},
	    {"", "a..b", "vnc_gateway.public_host"},
	    {"", "argo box", "vnc_gateway.public_host"},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(rows); i++) {
		struct broker_config cfg = broker_config_defaults;
		snprintf(cfg.vnc_listen, sizeof(cfg.vnc_listen), "%s", rows[i].listen);
		snprintf(cfg.vnc_public_host, sizeof(cfg.vnc_public_host), "%s",
		         rows[i].public_host);
		struct ab_err err = {0};
		int r = vncgw_check_config(&cfg, &err);
		if (!rows[i].error) {
			if (r < 0)
				fail_msg("'%s' / '%s': %s", rows[i].listen, rows[i].public_host,
				         err.msg);
			continue;
		}
		if (r >= 0)
			fail_msg("'%s' / '%s' accepted", rows[i].listen, rows[i].public_host);
		if (!strstr(err.msg, rows[i].error))
			fail_msg("'%s': '%s' lacks '%s'", rows[i].listen, err.msg, rows[i].error);
		/* every message names the key */
		if (!strstr(err.msg, "vnc_gateway."))
			fail_msg("'%s': '%s' names no key", rows[i].listen, err.msg);
	}
}

AB_TEST_MAIN(NULL, NULL, test_des_matches_libvncserver, test_only_eight_characters_count,
             test_tailnet, test_check_config);
