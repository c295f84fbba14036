/* SPDX-License-Identifier: GPL-2.0-or-later */
/* netpol: parsing of ranges and services, slot addressing, config validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ab_test.h"

#include "netpol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static void
test_cidr(void **state)
{
	struct netpol_cidr c;
	struct ab_err err = {0};
	assert_int_equal(netpol_parse_cidr("192.168.1.77/24", &c, &err), 0);
	assert_int_equal(c.prefix, 24);
	assert_int_equal(c.addr, inet_addr("192.168.1.0")); /* host bits cleared */
	assert_int_equal(netpol_parse_cidr("10.0.0.1", &c, &err), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(netpol_parse_cidr("0.0.0.0/0", &c, &err), 0);
	assert_int_equal(c.addr, 0);
	const char *bad[] = {"",    "10.0.0.1/33", "10.0.0/8",    "10.0.0.1/",
	                     "abc", "10.0.0.1/-1", "10.0.0.1/8x", "::1/128"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netpol_parse_cidr(bad[i], &c, &err), -EINVAL);
}

static void
test_service(void **state)
{
	struct netpol_service s;
	struct ab_err err = {0};
	assert_int_equal(netpol_parse_service("tcp:10.1.2.3:443", &s, &err), 0);
	assert_int_equal(s.proto, IPPROTO_TCP);
	assert_int_equal(s.port, 443);
	assert_int_equal(s.addr, inet_addr("10.1.2.3"));
	assert_int_equal(netpol_parse_service("udp:10.1.2.3:53", &s, &err), 0);
	assert_int_equal(s.proto, IPPROTO_UDP);
	const char *bad[] = {"tcp:10.1.2.3",   "icmp:10.1.2.3:1",    "tcp:10.1.2:80",
	                     "tcp:10.1.2.3:0", "tcp:10.1.2.3:65536", "tcp:10.1.2.3:80x",
	                     "10.1.2.3:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netpol_parse_service(bad[i], &s, &err), -EINVAL);
}

static void
test_addresses(void **state)
{
	struct netpol_config cfg = netpol_default_config;
	snprintf(cfg.netns_dir, sizeof(cfg.netns_dir), "/tmp/ab-netpol-unit-%d", (int)getpid());
	cfg.enable_forwarding = false;
	struct netpol *np = NULL;
	struct ab_err err = {0};
	assert_int_equal(netpol_new(&cfg, &np, &err), 0);
	char h[16], c[16];
	assert_int_equal(netpol_addresses(np, 0, h, c, &err), 0);
	assert_string_equal(h, "10.88.0.1");
	assert_string_equal(c, "10.88.0.2");
	assert_int_equal(netpol_addresses(np, 65, h, c, &err), 0);
	assert_string_equal(h, "10.88.1.5"); /* 65 * 4 = 260 = 1.4 */
	assert_string_equal(c, "10.88.1.6");
	assert_int_equal(netpol_addresses(np, 16383, h, c, &err), 0);
	assert_string_equal(c, "10.88.255.254");
	assert_int_equal(netpol_addresses(np, 16384, h, c, &err), -ERANGE); /* pool full */
	netpol_free(np);
	rmdir(cfg.netns_dir);

	cfg = netpol_default_config;
	cfg.enable_forwarding = false;
	snprintf(cfg.pool, sizeof(cfg.pool), "10.88.0.0/30");
	assert_int_equal(netpol_new(&cfg, &np, &err), -EINVAL);
	cfg = netpol_default_config;
	cfg.enable_forwarding = false;
	snprintf(cfg.resolver, sizeof(cfg.resolver), "dns.example");
	assert_int_equal(netpol_new(&cfg, &np, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "resolver"));
}

AB_TEST_MAIN(NULL, NULL, test_cidr, test_service, test_addresses);
