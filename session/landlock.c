/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "landlock.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The ruleset attribute as of ABI 6. The build's <linux/landlock.h> may only
 * know handled_access_fs; the kernel takes the size we pass and reads that
 * much (we pass only what the running ABI knows).
 */
struct landlock_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4; left 0: the network is netpol's */
	uint64_t scoped;             /* ABI 6 */
};

int
landlock_mode_from_string(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return LANDLOCK_MODE_AUTO;
	if (strcmp(s, "on") == 0)
		return LANDLOCK_MODE_ON;
	if (strcmp(s, "off") == 0)
		return LANDLOCK_MODE_OFF;
	return -EINVAL;
}

int
landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (v < 0)
		return -errno;
	return v < 1 ? -ENOSYS : (int)v;
}

uint64_t
landlock_fs_handled(int abi)
{
	if (abi < 1)
		return 0;
	uint64_t m = (LANDLOCK_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE..MAKE_SYM */
	if (abi >= 2)
		m |= LANDLOCK_FS_REFER;
	if (abi >= 3)
		m |= LANDLOCK_FS_TRUNCATE;
	if (abi >= 5)
		m |= LANDLOCK_FS_IOCTL_DEV;
	return m;
}

uint64_t
landlock_scoped(int abi)
{
	return abi >= 6 ? LANDLOCK_SCOPE_SIG : 0;
}

uint64_t
landlock_downgrade(uint64_t access, int abi)
{
	return access & landlock_fs_handled(abi);
}

void
landlock_policy_init(struct landlock_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->scope_signals = true;
}

void
landlock_policy_free(struct landlock_policy *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->rules[i].path);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

int
landlock_policy_add(struct landlock_policy *p, const char *path, uint64_t access,
                    struct ab_err *err)
{
	if (!path || path[0] != '/')
		return ab_err_set(err, EINVAL, "landlock: path '%s' is not absolute",
		                  path ? path : "(null)");
	struct stat st;
	if (stat(path, &st) < 0)
		return 0; /* missing (or unreachable): nothing to allow */
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->rules[i].path, path) == 0) {
			p->rules[i].access |= access;
			return 1;
		}
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->rules = ab_xrealloc(p->rules, p->cap * sizeof(*p->rules));
	}
	p->rules[p->n].path = ab_xstrdup(path);
	p->rules[p->n].access = access;
	p->n++;
	return 1;
}

static int
add_list(struct landlock_policy *p, const char *const *list, uint64_t access, struct ab_err *err)
{
	for (size_t i = 0; list && list[i]; i++) {
		int r = landlock_policy_add(p, list[i], access, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int
landlock_policy_default(struct landlock_policy *p, const struct landlock_paths *in,
                        struct ab_err *err)
{
	static const char *const ro[] = {"/usr",   "/etc",   "/bin",    "/sbin", "/lib",
	                                 "/lib32", "/lib64", "/libx32", "/opt",  "/var",
	                                 "/run",   "/proc",  "/sys",    NULL};
	static const char *const rw[] = {"/tmp", "/var/tmp", "/dev/shm", NULL};
	int r;
	if ((r = add_list(p, ro, LANDLOCK_FS_RO, err)) < 0 ||
	    (r = landlock_policy_add(p, "/dev", LANDLOCK_FS_DEV, err)) < 0 ||
	    (r = add_list(p, rw, LANDLOCK_FS_RW, err)) < 0)
		return r;
	_cleanup_free_ char *run_user = ab_xasprintf("/run/user/%u", (unsigned)getuid());
	if ((r = landlock_policy_add(p, run_user, LANDLOCK_FS_RW, err)) < 0)
		return r;
	const char *own[] = {in->home, in->runtime_dir, in->xdg_runtime};
	for (size_t i = 0; i < AB_ARRAY_SIZE(own); i++) {
		if (!own[i] || !own[i][0])
			continue;
		/* a home of "/" (or any root alias) would make everything writable */
		const char *q = own[i];
		while (*q == '/')
			q++;
		if (!*q)
			return ab_err_set(err, EINVAL,
			                  "landlock: refusing '%s' as a read-write directory "
			                  "(the whole file system)",
			                  own[i]);
		if ((r = landlock_policy_add(p, own[i], LANDLOCK_FS_RW, err)) < 0)
			return r;
	}
	if ((r = add_list(p, in->own_ro, LANDLOCK_FS_RO, err)) < 0 ||
	    (r = add_list(p, in->extra_rw, LANDLOCK_FS_RW, err)) < 0 ||
	    (r = add_list(p, in->extra_ro, LANDLOCK_FS_RO, err)) < 0)
		return r;
	return 0;
}

char *
landlock_which(const char *cmd)
{
	if (!cmd || !cmd[0])
		return NULL;
	if (strchr(cmd, '/'))
		return realpath(cmd, NULL);
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs =
	    ab_xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *c = ab_xasprintf("%s/%s", d, cmd);
		if (access(c, X_OK) == 0)
			return realpath(c, NULL);
	}
	return NULL;
}

/* 0: read-write (may create files), 1: devices (write existing nodes only), 2: read-only */
static int
rule_class(uint64_t access)
{
	if (access & LANDLOCK_FS_MAKE_REG)
		return 0;
	return access & LANDLOCK_FS_WRITE_FILE ? 1 : 2;
}

char *
landlock_policy_describe(const struct landlock_policy *p)
{
	static const char *const names[] = {"read-write", "devices", "read-only"};
	char *s = ab_xstrdup("");
	for (int c = 0; c < 3; c++) {
		bool any = false;
		for (size_t i = 0; i < p->n; i++) {
			if (rule_class(p->rules[i].access) != c)
				continue;
			char *t =
			    ab_xasprintf("%s%s%s%s %s", s, !any && s[0] ? "; " : "",
			                 any ? "" : names[c], any ? "" : ":", p->rules[i].path);
			free(s);
			s = t;
			any = true;
		}
	}
	return s;
}

int
landlock_apply(const struct landlock_policy *p, int abi, struct ab_err *err)
{
	if (abi < 1)
		return ab_err_set(err, EOPNOTSUPP, "landlock: not supported by this kernel");
	struct landlock_attr attr = {
	    .handled_access_fs = landlock_fs_handled(abi),
	    .scoped = p->scope_signals ? landlock_scoped(abi) : 0,
	};
	size_t size = abi >= 6   ? sizeof(attr)
	              : abi >= 4 ? offsetof(struct landlock_attr, scoped)
	                         : offsetof(struct landlock_attr, handled_access_net);
	_cleanup_close_ int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rfd < 0)
		return ab_err_errno(err, errno, "landlock: creating the ruleset (ABI %d)", abi);
	for (size_t i = 0; i < p->n; i++) {
		const struct landlock_rule *rule = &p->rules[i];
		_cleanup_close_ int fd = open(rule->path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* gone since the policy was built */
			return ab_err_errno(err, errno, "landlock: opening '%s'", rule->path);
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			return ab_err_errno(err, errno, "landlock: stat '%s'", rule->path);
		uint64_t access = landlock_downgrade(rule->access, abi);
		if (!S_ISDIR(st.st_mode))
			access &= LANDLOCK_FS_FILE_ONLY;
		if (!access)
			continue;
		struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
		if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			return ab_err_errno(err, errno, "landlock: adding a rule for '%s'",
			                    rule->path);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ab_err_errno(err, errno, "landlock: setting no_new_privs");
	if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		return ab_err_errno(err, errno, "landlock: restricting the desktop command");
	return 0;
}
