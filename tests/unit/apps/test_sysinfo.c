/* SPDX-License-Identifier: GPL-2.0-or-later */
/* argobox-monitor's readers against fake /proc and /sys trees: cgroup v1, v2, none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "sysinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *const root = ab_test_dir;

static void
put(const char *rel, const char *text)
{
	char path[512], dir[600];
	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(dir), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_stat(void **state)
{
	struct proc_info p = {0};
	/* a name with spaces and a parenthesis */
	const char *line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 "
	                   "100 1000000 250 18446744073709551615";
	assert_int_equal(sysinfo_parse_stat(line, 4096, &p), 0);
	assert_int_equal(p.pid, 42);
	assert_string_equal(p.name, "my (odd) name");
	assert_int_equal(p.state, 'S');
	assert_int_equal(p.cpu_ticks, 12);
	assert_int_equal(p.rss, 250 * 4096);
	assert_int_equal(sysinfo_parse_stat("garbage", 4096, &p), -EINVAL);
	assert_int_equal(sysinfo_parse_stat("1 (x) S 1", 4096, &p), -EINVAL);
}

static void
test_cgroup_v2(void **state)
{
	put("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
	put("/sys/fs/cgroup/memory.current", "104857600\n");
	put("/sys/fs/cgroup/memory.max", "1073741824\n");
	put("/sys/fs/cgroup/pids.current", "12\n");
	put("/sys/fs/cgroup/pids.max", "max\n");
	put("/sys/fs/cgroup/cpu.max", "150000 100000\n");
	put("/sys/fs/cgroup/cpu.stat", "usage_usec 5000000\nuser_usec 1\n");
	struct cg_info c;
	assert_int_equal(sysinfo_cgroup(root, &c), 2);
	assert_int_equal(c.mem_used, 104857600);
	assert_int_equal(c.mem_limit, 1073741824);
	assert_int_equal(c.pids_cur, 12);
	assert_int_equal(c.pids_limit, 0); /* "max" = none */
	assert_float_equal(c.cpu_limit, 1.5, 1e-9);
	assert_true(c.have_cpu_usage);
	assert_int_equal(c.cpu_usec, 5000000);
}

static void
test_cgroup_v1(void **state)
{
	put("/sys/fs/cgroup/memory/memory.usage_in_bytes", "2048\n");
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("/sys/fs/cgroup/pids/pids.current", "3\n");
	put("/sys/fs/cgroup/pids/pids.max", "256\n");
	put("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
	put("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
	put("/sys/fs/cgroup/cpuacct/cpuacct.usage", "3000000000\n");
	struct cg_info c;
	assert_int_equal(sysinfo_cgroup(root, &c), 1);
	assert_int_equal(c.mem_used, 2048);
	assert_int_equal(c.mem_limit, 0); /* v1's "unlimited" */
	assert_int_equal(c.pids_limit, 256);
	assert_float_equal(c.cpu_limit, 0, 1e-9); /* quota -1 */
	assert_int_equal(c.cpu_usec, 3000000);
}

static void
test_absent_and_net(void **state)
{
	struct cg_info c;
	assert_int_equal(sysinfo_cgroup(root, &c), 0);
	assert_int_equal(c.mem_limit, 0);
	struct net_info n;
	assert_true(sysinfo_net(root, &n) < 0);
	put("/proc/net/dev",
	    "Inter-|   Receive                                                |  Transmit\n"
	    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
	    "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
	    "  eth0: 500 5 0 0 0 0 0 0 300 3 0 0 0 0 0 0\n"
	    "  veth1: 20 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n");
	assert_int_equal(sysinfo_net(root, &n), 0);
	assert_int_equal(n.rx, 520);
	assert_int_equal(n.tx, 310);
	put("/proc/stat",
	    "cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0\n");
	put("/proc/7/stat", "7 (worker) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 9\n");
	put("/proc/self-is-not-a-pid/stat", "x");
	uint64_t ticks;
	int ncpu;
	assert_int_equal(sysinfo_cpu_total(root, &ticks, &ncpu), 0);
	assert_int_equal(ticks, 100);
	assert_int_equal(ncpu, 2);
	struct proc_info *p = NULL;
	struct ab_err err = {0};
	assert_int_equal(sysinfo_procs(root, &p, &err), 1);
	assert_string_equal(p[0].name, "worker");
	assert_int_equal(p[0].cpu_ticks, 7);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat),
	    cmocka_unit_test_setup_teardown(test_cgroup_v2, ab_test_dir_setup,
	                                    ab_test_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_cgroup_v1, ab_test_dir_setup,
	                                    ab_test_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_absent_and_net, ab_test_dir_setup,
	                                    ab_test_dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
