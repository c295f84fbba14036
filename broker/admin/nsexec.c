/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nsexec: a command inside a running desktop container (see nsexec.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ab_util.h"
#include "nsexec.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NSEXEC_MAX_FILTERS 32

/* ---- parsing /proc ---- */

static const char *
status_field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ':')
			return p + kl + 1;
	return NULL;
}

static int
status_hex(const char *text, const char *key, uint64_t *ret)
{
	const char *v = status_field(text, key);
	char *end;
	if (!v)
		return -EINVAL;
	*ret = strtoull(v, &end, 16);
	return end == v ? -EINVAL : 0;
}

int
nsexec_parse_status(const char *text, struct nsexec_creds *ret, struct ab_err *err)
{
	struct nsexec_creds c = {0};
	const char *u = status_field(text, "Uid"), *g = status_field(text, "Gid");
	const char *gr = status_field(text, "Groups"), *nnp = status_field(text, "NoNewPrivs");
	const char *sc = status_field(text, "Seccomp");
	unsigned long uid, gid;
	if (!u || !g || !gr || !nnp || !sc || sscanf(u, "%lu", &uid) != 1 ||
	    sscanf(g, "%lu", &gid) != 1 || status_hex(text, "CapInh", &c.cap_inh) < 0 ||
	    status_hex(text, "CapPrm", &c.cap_prm) < 0 ||
	    status_hex(text, "CapEff", &c.cap_eff) < 0 ||
	    status_hex(text, "CapBnd", &c.cap_bnd) < 0 ||
	    status_hex(text, "CapAmb", &c.cap_amb) < 0)
		return ab_err_set(err, EINVAL, "unexpected /proc/PID/status");
	c.uid = (uid_t)uid;
	c.gid = (gid_t)gid;
	c.no_new_privs = atoi(nnp);
	c.seccomp = atoi(sc);
	const char *end = strchr(gr, '\n');
	for (const char *p = gr; (!end || p < end) && *p;) {
		char *e;
		unsigned long v = strtoul(p, &e, 10);
		if (e == p) {
			p++;
			continue;
		}
		if (c.n_groups == (int)AB_ARRAY_SIZE(c.groups))
			return ab_err_set(err, E2BIG, "more than %zu supplementary groups",
			                  AB_ARRAY_SIZE(c.groups));
		c.groups[c.n_groups++] = (gid_t)v;
		p = e;
	}
	*ret = c;
	return 0;
}

int
nsexec_map_id(const char *map, uint32_t id, uint32_t *ret)
{
	for (const char *p = map; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned long in, out, count;
		if (sscanf(p, "%lu %lu %lu", &in, &out, &count) != 3)
			continue;
		if (id >= out && id - out < count) {
			*ret = (uint32_t)(in + (id - out));
			return 0;
		}
	}
	return -ERANGE;
}

unsigned long long
nsexec_starttime(pid_t pid)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct ab_err err = {0};
	if (ab_read_proc(pid, "stat", 4096, &text, &len, &err) < 0)
		return 0;
	/* after the command name's closing parenthesis: field 3 on; start time is field 22 */
	const char *p = strrchr(text, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* ---- what the target has ---- */

struct target {
	pid_t pid;
	struct nsexec_creds creds;
	uint32_t uid, gid; /* inside */
	gid_t groups[64];
	int n_groups;
	bool setgroups_ok;
	char *cgroups;       /* /proc/PID/cgroup */
	char **argv_session; /* the session's binary and its --runtime-dir/--config */
	char *env_buf;       /* /proc/PID/environ */
	char **env;          /* pointers into env_buf, NULL-terminated */
	char home[256];
	struct sock_fprog filters[NSEXEC_MAX_FILTERS]; /* [0]: the most recent */
	int n_filters;
	int ns_flags; /* the namespaces that differ from ours */
	int last_cap;
};

static void
target_free(struct target *t)
{
	free(t->cgroups);
	if (t->argv_session)
		for (char **a = t->argv_session; *a; a++)
			free(*a);
	free(t->argv_session);
	free(t->env_buf);
	free(t->env);
	for (int i = 0; i < t->n_filters; i++)
		free(t->filters[i].filter);
}

static char *
proc_read(pid_t pid, const char *what, size_t *len, struct ab_err *err)
{
	char *text = NULL;
	size_t n = 0;
	if (ab_read_proc(pid, what, 1 << 20, &text, &n, err) < 0)
		return NULL;
	if (len)
		*len = n;
	return text;
}

/* The session's own command line: its binary, then --runtime-dir and --config if given. */
static int
target_session_argv(struct target *t, struct ab_err *err)
{
	size_t len;
	_cleanup_free_ char *cmd = proc_read(t->pid, "cmdline", &len, err);
	if (!cmd)
		return ab_err_wrap(err, "reading the session's command line");
	char **out = ab_xcalloc(8, sizeof(char *));
	int n = 0;
	const char *end = cmd + len;
	const char *args[64];
	int na = 0;
	for (const char *p = cmd; p < end && na < 64; p += strlen(p) + 1)
		args[na++] = p;
	if (na < 1 || args[0][0] != '/' || !strstr(args[0], "argobox-session")) {
		free(out);
		return ab_err_set(err, EINVAL,
		                  "the container's first process is not argobox-session ('%s')",
		                  na ? args[0] : "");
	}
	out[n++] = ab_xstrdup(args[0]);
	for (int i = 1; i + 1 < na && strcmp(args[i], "--") != 0; i++) {
		if (strcmp(args[i], "--runtime-dir") == 0 || strcmp(args[i], "--config") == 0) {
			out[n++] = ab_xstrdup(args[i]);
			out[n++] = ab_xstrdup(args[++i]);
		}
	}
	t->argv_session = out;
	return 0;
}

static int
target_env(struct target *t, struct ab_err *err)
{
	size_t len;
	t->env_buf = proc_read(t->pid, "environ", &len, err);
	if (!t->env_buf)
		return ab_err_wrap(err, "reading the session's environment");
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += t->env_buf[i] == '\0';
	t->env = ab_xcalloc(n + 3, sizeof(char *));
	size_t k = 0;
	for (char *p = t->env_buf; p < t->env_buf + len; p += strlen(p) + 1) {
		if (strncmp(p, "HOME=", 5) == 0)
			snprintf(t->home, sizeof(t->home), "%s", p + 5);
		t->env[k++] = p;
	}
	const char *term = getenv("TERM");
	static char term_env[128];
	if (term && strlen(term) < 64) {
		snprintf(term_env, sizeof(term_env), "TERM=%s", term);
		t->env[k++] = term_env;
	}
	return 0;
}

/* The namespaces of pid that are not ours, as CLONE_NEW* flags. */
static int
target_namespaces(pid_t pid, int *ret, struct ab_err *err)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = {
	    {"user", CLONE_NEWUSER},     {"mnt", CLONE_NEWNS},    {"pid", CLONE_NEWPID},
	    {"net", CLONE_NEWNET},       {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},
	    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
	};
	int flags = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(ns); i++) {
		char a[64], b[64];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		snprintf(b, sizeof(b), "/proc/self/ns/%s", ns[i].name);
		if (stat(b, &sb) < 0)
			continue; /* the kernel has no such namespace */
		if (stat(a, &sa) < 0)
			return ab_err_errno(err, errno, "'%s'", a);
		if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
			flags |= ns[i].flag;
	}
	if (!(flags & CLONE_NEWUSER) || !(flags & CLONE_NEWNS) || !(flags & CLONE_NEWPID))
		return ab_err_set(
		    err, EPERM,
		    "process %d shares the host's user, mount or pid namespace: not a "
		    "desktop container",
		    (int)pid);
	*ret = flags;
	return 0;
}

/* The seccomp filters of pid (the process is stopped for as long as it takes to read them). */
static int
target_filters(struct target *t, struct ab_err *err)
{
	if (ptrace(PTRACE_SEIZE, t->pid, 0, 0) < 0)
		return ab_err_errno(
		    err, errno, "attaching to process %d to read its seccomp filter", (int)t->pid);
	int r = 0, st;
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0 || waitpid(t->pid, &st, __WALL) < 0)
		r = ab_err_errno(err, errno, "stopping process %d", (int)t->pid);
	for (int i = 0; r == 0; i++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, t->pid, (void *)(long)i, NULL);
		if (n < 0 && errno == ENOENT)
			break;
		if (n <= 0 || n > BPF_MAXINSNS) {
			r = ab_err_errno(err, n < 0 ? errno : EINVAL,
			                 "reading seccomp filter %d of process %d", i, (int)t->pid);
			break;
		}
		if (i == NSEXEC_MAX_FILTERS) {
			r = ab_err_set(err, E2BIG, "more than %d seccomp filters",
			               NSEXEC_MAX_FILTERS);
			break;
		}
		struct sock_filter *f = ab_xcalloc((size_t)n, sizeof(*f));
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, t->pid, (void *)(long)i, f) != n) {
			free(f);
			r = ab_err_errno(err, errno, "reading seccomp filter %d", i);
			break;
		}
		t->filters[i] = (struct sock_fprog){.len = (unsigned short)n, .filter = f};
		t->n_filters = i + 1;
	}
	ptrace(PTRACE_DETACH, t->pid, 0, 0);
	if (r == 0 && t->creds.seccomp == 2 && t->n_filters == 0)
		r = ab_err_set(err, EPERM, "process %d has a seccomp filter that could not be read",
		               (int)t->pid);
	return r;
}

static int
target_load(struct target *t, struct ab_err *err)
{
	_cleanup_free_ char *status = proc_read(t->pid, "status", NULL, err);
	_cleanup_free_ char *uid_map = proc_read(t->pid, "uid_map", NULL, err);
	_cleanup_free_ char *gid_map = proc_read(t->pid, "gid_map", NULL, err);
	_cleanup_free_ char *setgroups = proc_read(t->pid, "setgroups", NULL, err);
	if (!status || !uid_map || !gid_map || !setgroups)
		return ab_err_wrap(err, "reading process %d", (int)t->pid);
	if (nsexec_parse_status(status, &t->creds, err) < 0)
		return -EINVAL;
	if (nsexec_map_id(uid_map, t->creds.uid, &t->uid) < 0 ||
	    nsexec_map_id(gid_map, t->creds.gid, &t->gid) < 0)
		return ab_err_set(err, ERANGE, "the session's ids are not mapped in its namespace");
	for (int i = 0; i < t->creds.n_groups; i++) {
		uint32_t g;
		if (nsexec_map_id(gid_map, t->creds.groups[i], &g) == 0)
			t->groups[t->n_groups++] = g;
	}
	t->setgroups_ok = strncmp(setgroups, "allow", 5) == 0;
	if (!t->setgroups_ok)
		return ab_err_set(err, EPERM,
		                  "setgroups is denied in the container's user namespace");
	t->cgroups = proc_read(t->pid, "cgroup", NULL, err);
	if (!t->cgroups)
		return ab_err_wrap(err, "reading the cgroups of process %d", (int)t->pid);
	_cleanup_free_ char *last = NULL;
	size_t len;
	t->last_cap = ab_read_file("/proc/sys/kernel/cap_last_cap", 64, &last, &len, err) < 0
	                  ? 40
	                  : atoi(last);
	ab_err_clear(err);
	int r = target_namespaces(t->pid, &t->ns_flags, err);
	if (r >= 0)
		r = target_session_argv(t, err);
	if (r >= 0)
		r = target_env(t, err);
	if (r >= 0)
		r = target_filters(t, err);
	return r;
}

/* ---- the steps in the child ---- */

/* Moves the calling process into each of the target's cgroups (v1 hierarchies, unified). */
static int
join_cgroups(const struct target *t, struct ab_err *err)
{
	char *save = NULL;
	_cleanup_free_ char *copy = ab_xstrdup(t->cgroups);
	int joined = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *ctrl = c1 + 1, *path = c2 + 1;
		if (strstr(path, "..") || path[0] != '/')
			return ab_err_set(err, EINVAL, "unexpected cgroup path '%s'", path);
		char dir[PATH_MAX];
		struct stat st;
		if (strcmp(line, "0") == 0)
			snprintf(dir, sizeof(dir), "%s%s",
			         stat("/sys/fs/cgroup/unified", &st) == 0 ? "/sys/fs/cgroup/unified"
			                                                  : "/sys/fs/cgroup",
			         path);
		else
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s",
			         strncmp(ctrl, "name=", 5) == 0 ? ctrl + 5 : ctrl, path);
		char procs[PATH_MAX + 16];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* a hierarchy not mounted here */
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (fd < 0 || write(fd, pid, (size_t)n) != n) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return ab_err_errno(err, e, "joining cgroup '%s'", dir);
		}
		close(fd);
		joined++;
	}
	if (!joined)
		return ab_err_set(err, ENOENT, "no cgroup of process %d could be joined",
		                  (int)t->pid);
	return 0;
}

/* Credentials, capabilities, no_new_privs: the target's, in its user namespace. */
static int
become(const struct target *t, struct ab_err *err)
{
	for (int c = 0; c <= t->last_cap; c++)
		if (!(t->creds.cap_bnd >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return ab_err_errno(err, errno, "dropping capability %d", c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups((size_t)t->n_groups, t->groups) < 0 ||
	    setresgid(t->gid, t->gid, t->gid) < 0 || setresuid(t->uid, t->uid, t->uid) < 0)
		return ab_err_errno(err, errno, "taking uid %u gid %u", t->uid, t->gid);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
	    {(uint32_t)t->creds.cap_eff, (uint32_t)t->creds.cap_prm, (uint32_t)t->creds.cap_inh},
	    {(uint32_t)(t->creds.cap_eff >> 32), (uint32_t)(t->creds.cap_prm >> 32),
	     (uint32_t)(t->creds.cap_inh >> 32)},
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return ab_err_errno(err, errno, "setting the capability sets");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return ab_err_errno(err, errno, "clearing the ambient capabilities");
	for (int c = 0; c <= t->last_cap; c++)
		if ((t->creds.cap_amb >> c & 1) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return ab_err_errno(err, errno, "raising ambient capability %d", c);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ab_err_errno(err, errno, "setting no_new_privs");
	return 0;
}

/* In the target's pid namespace: become it, take its filters, exec the session's --exec. */
static void __attribute__((noreturn))
grandchild(const struct target *t, int tty, char *const argv[])
{
	struct ab_err err = {0};
	if (tty >= 0) {
		setsid();
		if (ioctl(tty, TIOCSCTTY, 0) < 0 || dup2(tty, 0) < 0 || dup2(tty, 1) < 0 ||
		    dup2(tty, 2) < 0) {
			fprintf(stderr, "argoboxctl exec: the terminal: %s\n", strerror(errno));
			_exit(125);
		}
		if (tty > 2)
			close(tty);
	}
	if (become(t, &err) < 0) {
		fprintf(stderr, "argoboxctl exec: %s\n", err.msg);
		_exit(125);
	}
	if (chdir(t->home[0] ? t->home : "/") < 0 && chdir("/") < 0)
		_exit(125);
	/* the oldest filter first, as they were installed */
	for (int i = t->n_filters - 1; i >= 0; i--)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &t->filters[i]) < 0) {
			fprintf(stderr, "argoboxctl exec: installing seccomp filter %d: %s\n", i,
			        strerror(errno));
			_exit(125);
		}
	size_t n = 0, na = 0;
	while (t->argv_session[n])
		n++;
	while (argv[na])
		na++;
	char **args = calloc(n + na + 3, sizeof(char *));
	if (!args)
		_exit(125);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		args[k++] = t->argv_session[i];
	args[k++] = "--exec";
	args[k++] = "--";
	for (size_t i = 0; i < na; i++)
		args[k++] = argv[i];
	execve(args[0], args, t->env);
	fprintf(stderr, "argoboxctl exec: '%s' in the container: %s\n", args[0], strerror(errno));
	_exit(127);
}

static int
status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Joins cgroups and namespaces, forks into the pid namespace, waits, exits with its status. */
static void __attribute__((noreturn))
child(const struct target *t, int pidfd, int tty, char *const argv[])
{
	struct ab_err err = {0};
	if (join_cgroups(t, &err) < 0) {
		fprintf(stderr, "argoboxctl exec: %s\n", err.msg);
		_exit(125);
	}
	if (setns(pidfd, t->ns_flags) < 0) {
		fprintf(stderr, "argoboxctl exec: joining the container's namespaces: %s\n",
		        strerror(errno));
		_exit(125);
	}
	pid_t p = fork();
	if (p < 0)
		_exit(125);
	if (p == 0)
		grandchild(t, tty, argv);
	if (tty >= 0)
		close(tty);
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	_exit(status_of(st));
}

/* ---- the terminal ---- */

static int
pty_open(int *ret_master, int *ret_slave, struct ab_err *err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return ab_err_errno(err, errno, "opening a pseudo-terminal");
	char name[128];
	if (ptsname_r(m, name, sizeof(name)) != 0) {
		close(m);
		return ab_err_errno(err, errno, "ptsname");
	}
	int s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0) {
		close(m);
		return ab_err_errno(err, errno, "opening '%s'", name);
	}
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(m, TIOCSWINSZ, &ws);
	*ret_master = m;
	*ret_slave = s;
	return 0;
}

static bool
copy_once(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return false;
	return ab_write_all(to, buf, (size_t)n) == 0;
}

/* Relays stdin -> master -> stdout until the child is gone; returns its wait status. */
static int
pty_relay(int master, pid_t pid)
{
	struct termios saved, raw;
	bool restore = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (restore) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	bool in_open = true;
	int st = 0;
	for (;;) {
		struct pollfd p[2] = {{master, POLLIN, 0},
		                      {in_open ? STDIN_FILENO : -1, POLLIN, 0}};
		int n = poll(p, 2, 100);
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)) &&
		    !copy_once(master, STDOUT_FILENO))
			break; /* EIO: the last holder of the terminal is gone */
		if (n > 0 && (p[1].revents & (POLLIN | POLLHUP)) &&
		    !copy_once(STDIN_FILENO, master)) {
			in_open = false;
			char eof = 4; /* ^D: end of input for a canonical reader */
			if (write(master, &eof, 1) < 0)
				break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			while (poll(p, 1, 0) > 0 && (p[0].revents & POLLIN) &&
			       copy_once(master, STDOUT_FILENO))
				;
			pid = 0;
			break;
		}
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return st;
}

int
nsexec_run(pid_t pid, unsigned long long starttime, char *const argv[], int *ret_status,
           struct ab_err *err)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return ab_err_errno(err, errno, "process %d", (int)pid);
	if (!starttime || nsexec_starttime(pid) != starttime)
		return ab_err_set(err, ESRCH, "process %d is not the desktop the broker named",
		                  (int)pid);
	struct target t = {.pid = pid};
	int r = target_load(&t, err);
	int master = -1, slave = -1;
	if (r >= 0 && (isatty(STDIN_FILENO) || isatty(STDOUT_FILENO)))
		r = pty_open(&master, &slave, err);
	/* the start time again: the pid still names the same process after all that */
	if (r >= 0 && nsexec_starttime(pid) != starttime)
		r = ab_err_set(err, ESRCH, "the desktop's process %d went away", (int)pid);
	if (r < 0) {
		target_free(&t);
		return r;
	}
	fflush(NULL);
	pid_t c = fork();
	if (c < 0) {
		r = ab_err_errno(err, errno, "fork");
	} else if (c == 0) {
		if (master >= 0)
			close(master);
		child(&t, pidfd, slave, argv);
	} else {
		if (slave >= 0)
			close(slave);
		int st = 0;
		if (master >= 0)
			st = pty_relay(master, c);
		else
			while (waitpid(c, &st, 0) < 0 && errno == EINTR)
				;
		*ret_status = status_of(st);
	}
	if (master >= 0)
		close(master);
	target_free(&t);
	return r;
}
