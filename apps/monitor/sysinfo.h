/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sysinfo: what argobox-monitor shows, read from /proc and /sys (no X,
 * unit-tested against fake trees: every path is under `root`, "" for /).
 *
 * Limits come from the container's own cgroup: v2 (memory.max, pids.max,
 * cpu.max at /sys/fs/cgroup) or v1 (memory/memory.limit_in_bytes,
 * pids/pids.max, cpu/cpu.cfs_quota_us); a limit that is absent or "max"
 * reads as 0 = none.
 */
#ifndef MON_SYSINFO_H
#define MON_SYSINFO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ab_err;

struct proc_info {
	pid_t pid;
	uid_t uid;
	char name[64];
	char state;
	uint64_t cpu_ticks; /* utime + stime */
	uint64_t rss;       /* bytes */
	int nice;
	double cpu_pct; /* since the previous sample (filled by the caller) */
};

struct cg_info {
	int version;        /* 1, 2, or 0: no cgroup found */
	uint64_t mem_used;  /* bytes */
	uint64_t mem_limit; /* bytes, 0: none */
	uint64_t pids_cur;
	uint64_t pids_limit; /* 0: none */
	double cpu_limit;    /* CPUs (quota / period), 0: none */
	uint64_t cpu_usec;   /* CPU time used by the cgroup, µs */
	bool have_cpu_usage;
};

struct net_info {
	uint64_t rx, tx; /* bytes, all interfaces but lo */
};

/* Reads the processes into a new array (*ret, owned by the caller); returns their count or -errno.
 */
int sysinfo_procs(const char *root, struct proc_info **ret, struct ab_err *err);
/* Parses one /proc/<pid>/stat line into p (name, state, cpu ticks, rss pages). */
int sysinfo_parse_stat(const char *line, long page_size, struct proc_info *p);
int sysinfo_cgroup(const char *root, struct cg_info *ret);
int sysinfo_net(const char *root, struct net_info *ret);
/* Total CPU ticks of the machine (/proc/stat "cpu" line) and the number of CPUs. */
int sysinfo_cpu_total(const char *root, uint64_t *ret_ticks, int *ret_ncpu);
#endif
