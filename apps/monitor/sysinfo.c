/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sysinfo: /proc and cgroup readers (see sysinfo.h). */
#include "sysinfo.h"
#include "ab_err.h"
#include "ab_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated); false when absent or unreadable. */
static bool
read_small(const char *root, const char *path, char *buf, size_t size)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s%s", root, path);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	return n > 0;
}

/* A number, or "max" (= 0, none); false when absent or malformed. */
static bool
read_u64(const char *root, const char *path, uint64_t *ret)
{
	char buf[64];
	if (!read_small(root, path, buf, sizeof(buf)))
		return false;
	if (strncmp(buf, "max", 3) == 0) {
		*ret = 0;
		return true;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return false;
	*ret = v;
	return true;
}

int
sysinfo_parse_stat(const char *line, long page_size, struct proc_info *p)
{
	/* pid (comm) state ppid ... ; comm may hold spaces and parentheses: take the last ')' */
	const char *open = strchr(line, '(');
	const char *close = strrchr(line, ')');
	if (!open || !close || close < open)
		return -EINVAL;
	size_t n = (size_t)(close - open - 1);
	if (n >= sizeof(p->name))
		n = sizeof(p->name) - 1;
	memcpy(p->name, open + 1, n);
	p->name[n] = '\0';
	p->pid = (pid_t)atol(line);
	char state;
	unsigned long long utime, stime;
	long long rss;
	int nice;
	/* fields after comm: 3 state ... 14 utime 15 stime ... 19 nice ... 24 rss */
	int got = sscanf(close + 2,
	                 "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %d "
	                 "%*d %*d %*u %*u %lld",
	                 &state, &utime, &stime, &nice, &rss);
	if (got != 5)
		return -EINVAL;
	p->nice = nice;
	p->state = state;
	p->cpu_ticks = utime + stime;
	p->rss = rss > 0 ? (uint64_t)rss * (uint64_t)page_size : 0;
	return 0;
}

int
sysinfo_procs(const char *root, struct proc_info **ret, struct ab_err *err)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/proc", root);
	DIR *d = opendir(path);
	if (!d)
		return ab_err_errno(err, errno, "opening '%s'", path);
	long page = sysconf(_SC_PAGESIZE);
	size_t cap = 64, n = 0;
	struct proc_info *v = ab_xcalloc(cap, sizeof(*v));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char rel[300], line[1024];
		snprintf(rel, sizeof(rel), "/proc/%s/stat", de->d_name);
		if (!read_small(root, rel, line, sizeof(line)))
			continue; /* exited meanwhile */
		struct proc_info p = {0};
		if (sysinfo_parse_stat(line, page, &p) < 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/proc/%s", root, de->d_name);
		struct stat st;
		p.uid = stat(rel, &st) == 0 ? st.st_uid : (uid_t)-1;
		if (n == cap) {
			cap *= 2;
			v = ab_xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = p;
	}
	closedir(d);
	*ret = v;
	return (int)n;
}

int
sysinfo_cgroup(const char *root, struct cg_info *ret)
{
	struct cg_info c = {0};
	char buf[4096];
	uint64_t v;
	if (read_small(root, "/sys/fs/cgroup/cgroup.controllers", buf, sizeof(buf)) ||
	    read_u64(root, "/sys/fs/cgroup/memory.current", &v)) {
		c.version = 2;
		read_u64(root, "/sys/fs/cgroup/memory.current", &c.mem_used);
		read_u64(root, "/sys/fs/cgroup/memory.max", &c.mem_limit);
		read_u64(root, "/sys/fs/cgroup/pids.current", &c.pids_cur);
		read_u64(root, "/sys/fs/cgroup/pids.max", &c.pids_limit);
		if (read_small(root, "/sys/fs/cgroup/cpu.max", buf, sizeof(buf))) {
			unsigned long long q, per;
			if (sscanf(buf, "%llu %llu", &q, &per) == 2 && per)
				c.cpu_limit = (double)q / (double)per;
		}
		if (read_small(root, "/sys/fs/cgroup/cpu.stat", buf, sizeof(buf))) {
			const char *u = strstr(buf, "usage_usec ");
			if (u) {
				c.cpu_usec = strtoull(u + 11, NULL, 10);
				c.have_cpu_usage = true;
			}
		}
	} else if (read_u64(root, "/sys/fs/cgroup/memory/memory.usage_in_bytes", &v) ||
	           read_u64(root, "/sys/fs/cgroup/pids/pids.current", &v)) {
		c.version = 1;
		read_u64(root, "/sys/fs/cgroup/memory/memory.usage_in_bytes", &c.mem_used);
		read_u64(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", &c.mem_limit);
		/* v1 says "no limit" with a huge number (page-rounded LONG_MAX) */
		if (c.mem_limit >= (1ull << 62))
			c.mem_limit = 0;
		read_u64(root, "/sys/fs/cgroup/pids/pids.current", &c.pids_cur);
		read_u64(root, "/sys/fs/cgroup/pids/pids.max", &c.pids_limit);
		char q[64];
		uint64_t per = 0;
		if (read_small(root, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", q, sizeof(q)) &&
		    read_u64(root, "/sys/fs/cgroup/cpu/cpu.cfs_period_us", &per) && per &&
		    atoll(q) > 0)
			c.cpu_limit = (double)atoll(q) / (double)per;
		uint64_t ns;
		if (read_u64(root, "/sys/fs/cgroup/cpuacct/cpuacct.usage", &ns) ||
		    read_u64(root, "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", &ns)) {
			c.cpu_usec = ns / 1000;
			c.have_cpu_usage = true;
		}
	}
	*ret = c;
	return c.version;
}

int
sysinfo_net(const char *root, struct net_info *ret)
{
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/proc/net/dev", root);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	struct net_info n = {0};
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		const char *name = line;
		while (*name == ' ')
			name++;
		if (strcmp(name, "lo") == 0)
			continue;
		unsigned long long rx, tx;
		if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &rx, &tx) == 2) {
			n.rx += rx;
			n.tx += tx;
		}
	}
	*ret = n;
	return 0;
}

int
sysinfo_cpu_total(const char *root, uint64_t *ret_ticks, int *ret_ncpu)
{
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/proc/stat", root);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	uint64_t total = 0;
	int ncpu = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu ", 4) == 0) {
			unsigned long long v[8] = {0};
			sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
			for (int i = 0; i < 8; i++)
				total += v[i];
		} else if (strncmp(line, "cpu", 3) == 0 && isdigit((unsigned char)line[3])) {
			ncpu++;
		}
	}
	*ret_ticks = total;
	*ret_ncpu = ncpu ? ncpu : 1;
	return 0;
}
