/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nsexec: /proc/PID/status and uid_map parsing (the parts of argoboxctl exec that read text). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsexec.h"

static const char status[] = "Name:\targobox-session\n"
                             "Uid:\t101000\t101000\t101000\t101000\n"
                             "Gid:\t101000\t101000\t101000\t101000\n"
                             "Groups:\t101000 101005 \n"
                             "CapInh:\t0000000000000000\n"
                             "CapPrm:\t0000000000000400\n"
                             "CapEff:\t0000000000000400\n"
                             "CapBnd:\t00000000a80425fb\n"
                             "CapAmb:\t0000000000000000\n"
                             "NoNewPrivs:\t1\n"
                             "Seccomp:\t2\n"
                             "Seccomp_filters:\t1\n";

static void
parses_status(void **state)
{
	struct nsexec_creds c;
	struct ab_err err = {0};
	assert_int_equal(nsexec_parse_status(status, &c, &err), 0);
	assert_int_equal(c.uid, 101000);
	assert_int_equal(c.gid, 101000);
	assert_int_equal(c.n_groups, 2);
	assert_int_equal(c.groups[1], 101005);
	assert_int_equal(c.cap_prm, 0x400);
	assert_int_equal(c.cap_eff, 0x400);
	assert_int_equal(c.cap_bnd, 0xa80425fbULL);
	assert_int_equal(c.no_new_privs, 1);
	assert_int_equal(c.seccomp, 2);
}

static void
refuses_incomplete_status(void **state)
{
	struct nsexec_creds c = {.uid = 7};
	struct ab_err err = {0};
	/* no CapBnd: nothing half-known is used */
	assert_int_equal(nsexec_parse_status("Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t\n"
	                                     "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapAmb:\t0\n"
	                                     "NoNewPrivs:\t1\nSeccomp:\t2\n",
	                                     &c, &err),
	                 -EINVAL);
	assert_int_equal(c.uid, 7);
	assert_string_equal(err.msg, "unexpected /proc/PID/status");
}

static void
maps_ids(void **state)
{
	const char *map = "         0     100000      65536\n";
	uint32_t in = 0;
	assert_int_equal(nsexec_map_id(map, 101000, &in), 0);
	assert_int_equal(in, 1000);
	assert_int_equal(nsexec_map_id(map, 100000, &in), 0);
	assert_int_equal(in, 0);
	assert_int_equal(nsexec_map_id(map, 165536, &in), -ERANGE);
	assert_int_equal(nsexec_map_id(map, 0, &in), -ERANGE);
	/* two ranges */
	assert_int_equal(nsexec_map_id("0 5000 1\n1000 6000 10\n", 6003, &in), 0);
	assert_int_equal(in, 1003);
}

static void
reads_own_starttime(void **state)
{
	unsigned long long t = nsexec_starttime(getpid());
	assert_true(t > 0);
	assert_int_equal(nsexec_starttime(getpid()), t);
	assert_int_equal(nsexec_starttime(0x3fffffff), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_status),
	    cmocka_unit_test(refuses_incomplete_status),
	    cmocka_unit_test(maps_ids),
	    cmocka_unit_test(reads_own_starttime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
