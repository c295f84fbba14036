/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_smb: SMB homes (docs/files.md, "SMB homes"). With files.backend "smb", a user's home
 * directory on the host is the mount point of an argobox-smbfs process (smbfs.c) that this
 * module starts before anything uses the home (the desktop's container, the files API):
 * the share, path and credentials come from files.smb (per-user overrides in
 * files.smb.users), the password goes to the helper through a pipe (never argv or the
 * environment) and is never logged. A live mount (a FUSE file system on the home) is kept
 * as it is, also one left by a previous broker; a dead one (the helper gone: ENOTCONN) is
 * detached and mounted again.
 */
#include "files_internal.h"

#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
#define SMB_PASSWORD_MAX 1024

static const char *const smb_keys[] = {"server",     "port",     "share",         "path",
                                       "username",   "password", "password_file", "workgroup",
                                       "timeout_ms", "users"};
static const char *const smb_user_keys[] = {"server",   "port",     "share",         "path",
                                            "username", "password", "password_file", "workgroup"};

static bool
key_in(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* Checks one object of SMB settings (files.smb or one of its users) at `path`. */
static int
check_smb_object(json_t *o, const char *path, bool top, struct ab_err *err)
{
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object", path);
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (top ? !key_in(key, smb_keys, AB_ARRAY_SIZE(smb_keys))
		        : !key_in(key, smb_user_keys, AB_ARRAY_SIZE(smb_user_keys)))
			return ab_err_set(err, EINVAL, "%s.%s: unknown key", path, key);
		if (strcmp(key, "users") == 0) {
			const char *user;
			json_t *uv;
			if (!json_is_object(v))
				return ab_err_set(err, EINVAL, "%s.users: must be an object", path);
			json_object_foreach(v, user, uv)
			{
				char sub[160];
				snprintf(sub, sizeof(sub), "%s.users.%.40s", path, user);
				if (check_smb_object(uv, sub, false, err) < 0)
					return -EINVAL;
			}
		} else if (strcmp(key, "port") == 0 || strcmp(key, "timeout_ms") == 0) {
			long long lo = key[0] == 'p' ? 1 : 100, hi = key[0] == 'p' ? 65535 : 600000;
			if (!json_is_integer(v) || json_integer_value(v) < lo ||
			    json_integer_value(v) > hi)
				return ab_err_set(err, EINVAL, "%s.%s: must be %lld..%lld", path,
				                  key, lo, hi);
		} else if (!json_is_string(v) || json_string_length(v) > 1000 ||
		           (strcmp(key, "path") != 0 && !json_string_length(v))) {
			return ab_err_set(err, EINVAL, "%s.%s: must be a string", path, key);
		} else if (strcmp(key, "password_file") == 0 && json_string_value(v)[0] != '/') {
			return ab_err_set(err, EINVAL, "%s.password_file: must be an absolute path",
			                  path);
		}
	}
	if (json_object_get(o, "password") && json_object_get(o, "password_file"))
		return ab_err_set(err, EINVAL, "%s: password and password_file together", path);
	return 0;
}

int
files_smb_check_config(json_t *files, struct ab_err *err)
{
	json_t *b = json_object_get(files, "backend");
	json_t *smb = json_object_get(files, "smb");
	if (b && (!json_is_string(b) || (strcmp(json_string_value(b), "local") != 0 &&
	                                 strcmp(json_string_value(b), "smb") != 0)))
		return ab_err_set(err, EINVAL, "files.backend: must be \"local\" or \"smb\"");
	if (smb && check_smb_object(smb, "files.smb", true, err) < 0)
		return -EINVAL;
	if (b && strcmp(json_string_value(b), "smb") == 0) {
		if (!smb)
			return ab_err_set(err, EINVAL, "files.smb: needed with backend \"smb\"");
		if (!json_object_get(smb, "server") || !json_object_get(smb, "share") ||
		    !json_object_get(smb, "username"))
			return ab_err_set(err, EINVAL,
			                  "files.smb: server, share and username are needed");
	}
	return 0;
}

bool
files_smb_has_password(json_t *files)
{
	json_t *smb = json_object_get(files, "smb");
	if (json_object_get(smb, "password"))
		return true;
	const char *user;
	json_t *v;
	json_object_foreach(json_object_get(smb, "users"), user, v)
	{
		if (json_object_get(v, "password"))
			return true;
	}
	return false;
}

bool
files_smb_enabled(const struct files *f)
{
	json_t *b = json_object_get(f->config, "backend");
	return b && strcmp(json_string_value(b), "smb") == 0;
}

/* A key of user's SMB settings: their own entry's, else files.smb's (borrowed, may be NULL). */
static json_t *
smb_get(const struct files *f, const char *user, const char *key)
{
	json_t *smb = json_object_get(f->config, "smb");
	json_t *v = json_object_get(json_object_get(json_object_get(smb, "users"), user), key);
	return v ? v : json_object_get(smb, key);
}

/* s with every "%u" replaced by user and "%%" by "%" (new string). */
static char *
expand(const char *s, const char *user)
{
	size_t n = 0, cap = strlen(s) + 1;
	for (const char *p = s; (p = strstr(p, "%u")); p += 2)
		cap += strlen(user);
	char *out = ab_xmalloc(cap);
	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			memcpy(out + n, user, strlen(user));
			n += strlen(user);
			p++;
		} else {
			out[n++] = *p;
			if (p[0] == '%' && p[1] == '%')
				p++;
		}
	}
	out[n] = '\0';
	return out;
}

/*
 * The password from a file: a regular file of root's, 0600 or tighter, not a link; the first
 * line. Returns its length or -errno (why set).
 */
static int
read_password_file(const char *path, char *buf, size_t len, const char **why)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*why = "password_file cannot be opened (a link is refused)";
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
		*why = "password_file must be a regular file of root's, mode 0600 or tighter";
		return -EPERM;
	}
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0) {
		*why = "password_file cannot be read";
		return -errno;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return (int)strlen(buf);
}

/* The helper's configuration (new; holds the password: wipe it with json_object_clear). */
static json_t *
helper_config(struct files *f, const char *user, const struct files_home *h, const char **why)
{
	char pw[SMB_PASSWORD_MAX];
	/* the user's own password or password_file, else the top level's */
	json_t *own =
	    json_object_get(json_object_get(json_object_get(f->config, "smb"), "users"), user);
	if (!json_object_get(own, "password") && !json_object_get(own, "password_file"))
		own = json_object_get(f->config, "smb");
	json_t *p = json_object_get(own, "password"), *pf = json_object_get(own, "password_file");
	if (pf) {
		if (read_password_file(json_string_value(pf), pw, sizeof(pw), why) < 0)
			return NULL;
	} else if (p) {
		snprintf(pw, sizeof(pw), "%s", json_string_value(p));
	} else {
		*why = "no password or password_file for this user in files.smb";
		return NULL;
	}
	_cleanup_free_ char *path = expand(json_string_value(smb_get(f, user, "path"))
	                                       ? json_string_value(smb_get(f, user, "path"))
	                                       : "%u",
	                                   user);
	_cleanup_free_ char *uname = expand(json_string_value(smb_get(f, user, "username")), user);
	json_t *wg = smb_get(f, user, "workgroup"), *port = smb_get(f, user, "port");
	json_t *tmo = json_object_get(json_object_get(f->config, "smb"), "timeout_ms");
	json_t *c = json_pack(
	    "{sssssIsssssssssssIsIsIsI}", "user", user, "server",
	    json_string_value(smb_get(f, user, "server")), "port",
	    (json_int_t)(port ? json_integer_value(port) : 0), "share",
	    json_string_value(smb_get(f, user, "share")), "path", path, "username", uname,
	    "password", pw, "workgroup", wg ? json_string_value(wg) : "", "uid", (json_int_t)h->uid,
	    "gid", (json_int_t)h->gid, "quota", (json_int_t)files_quota(f, user, h->profile),
	    "timeout_ms", (json_int_t)(tmo ? json_integer_value(tmo) : 5000));
	explicit_bzero(pw, sizeof(pw));
	return c;
}

/* 1 when dir is a live FUSE mount, 0 when it is not mounted, -errno otherwise. */
static int
mount_state(const char *dir)
{
	struct statfs sf;
	if (statfs(dir, &sf) == 0)
		return sf.f_type == FUSE_SUPER_MAGIC ? 1 : 0;
	int e = errno;
	if (e == ENOTCONN || e == ECONNABORTED) {
		/* the helper died: its mount is dead, detach it so a new one can go there */
		if (umount2(dir, MNT_DETACH) == 0)
			return 0;
		return -errno;
	}
	return e == ENOENT ? 0 : -e;
}

/*
 * Starts argobox-smbfs on dir, detached (double fork: never the broker's zombie, and it
 * survives the broker), with cfg on its fd 3; waits (bounded) for its status on fd 4.
 */
static int
spawn_helper(struct files *f, const char *dir, json_t *cfg, char *status, size_t len)
{
	int cp[2], sp[2];
	if (pipe2(cp, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(sp, O_CLOEXEC) < 0) {
		int e = errno;
		close(cp[0]);
		close(cp[1]);
		return -e;
	}
	const char *argv[] = {f->smbfs,      "--config-fd", "3",
	                      "--status-fd", "4",           f->audit_path[0] ? "--audit" : NULL,
	                      f->audit_path, dir,           NULL};
	if (!f->audit_path[0]) {
		argv[5] = dir;
		argv[6] = NULL;
	}
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() == 0) {
			if (dup2(cp[0], 3) < 0 || dup2(sp[1], 4) < 0)
				_exit(127);
			ab_unblock_signals();
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		_exit(0);
	}
	close(cp[0]);
	close(sp[1]);
	if (mid > 0)
		waitpid(mid, NULL, 0);
	char *text = mid > 0 ? json_dumps(cfg, JSON_COMPACT) : NULL;
	if (text) {
		/* far below a pipe's capacity: never blocks */
		ssize_t w = write(cp[1], text, strlen(text));
		(void)w;
		explicit_bzero(text, strlen(text));
		free(text);
	}
	close(cp[1]);
	int r = mid < 0 ? -errno : 0;
	size_t n = 0;
	int64_t end = ab_now_ms() + f->smb_wait_ms;
	while (r == 0 && n + 1 < len && !memchr(status, '\n', n)) {
		struct pollfd pfd = {.fd = sp[0], .events = POLLIN};
		int64_t left = end - ab_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			r = -ETIMEDOUT;
			break;
		}
		ssize_t k = read(sp[0], status + n, len - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(sp[0]);
	status[n] = '\0';
	status[strcspn(status, "\n")] = '\0';
	return r;
}

int
files_smb_mount(struct files *f, const char *user, const struct files_home *h, struct ab_err *err)
{
	int r = mount_state(h->dir);
	if (r > 0)
		return 0;
	if (r < 0)
		return ab_err_set(err, -r, "home of '%s': %s", user, strerror(-r));
	if (!f->smbfs[0])
		return ab_err_set(err, ENOENT, "argobox-smbfs is not installed next to the broker");
	/* the mount point: root's, 0700, so nothing lands there while it is not mounted */
	if (mkdir(h->dir, 0700) < 0 && errno != EEXIST)
		return ab_err_errno(err, errno, "creating '%s'", h->dir);
	struct stat st;
	if (lstat(h->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return ab_err_set(err, ENOTDIR, "'%s' is not a directory", h->dir);
	if (files_dir_has_entries(h->dir)) {
		/* a local home from before: never hidden under the share */
		files_audit_as("files.smb", AUDIT_FAILURE, user, NULL, NULL,
		               json_pack("{ssss}", "step", "mount", "reason",
		                         "the local home directory holds files"));
		return ab_err_set(
		    err, EEXIST,
		    "home of '%s': the local directory '%s' holds files; move them to "
		    "the share first (docs/files.md)",
		    user, h->dir);
	}
	const char *why = NULL;
	json_t *cfg = helper_config(f, user, h, &why);
	if (!cfg) {
		files_audit_as("files.smb", AUDIT_FAILURE, user, NULL, NULL,
		               json_pack("{ssss}", "step", "mount", "reason", why));
		return ab_err_set(err, EACCES, "home of '%s': %s", user, why);
	}
	char status[512] = "";
	r = spawn_helper(f, h->dir, cfg, status, sizeof(status));
	json_t *pw = json_object_get(cfg, "password");
	explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
	json_decref(cfg);
	if (r == 0 && strcmp(status, "mounted") == 0) {
		files_audit_as("files.smb", AUDIT_GRANT, user, NULL, NULL,
		               json_pack("{ssss}", "step", "mount", "home", h->dir));
		return 0;
	}
	const char *reason = r < 0 ? strerror(-r) : status[0] ? status : "argobox-smbfs exited";
	files_audit_as("files.smb", AUDIT_FAILURE, user, NULL, NULL,
	               json_pack("{ssss}", "step", "mount", "reason", reason));
	return ab_err_set(err, EHOSTDOWN, "mounting the SMB home of '%s': %s", user, reason);
}

int
files_home_ready(struct files *f, const char *user, struct ab_err *err)
{
	bool smb = files_smb_enabled(f), image = files_image_enabled(f);
	if (!smb && !image)
		return 0;
	struct files_home h = {0};
	if (!users_name_valid(user) || f->home(f->home_data, user, &h) < 0)
		return 0; /* no home on the host: nothing to mount */
	char base[sizeof(h.dir)];
	snprintf(base, sizeof(base), "%s", h.dir);
	char *slash = strrchr(base, '/');
	if (slash && slash != base) {
		*slash = '\0';
		(void)ab_mkdir_p(base, 0711, NULL);
	}
	return smb ? files_smb_mount(f, user, &h, err) : files_image_mount(f, user, &h, err);
}

bool
files_smb_usage(const char *dir, int64_t *used)
{
	char text[64];
	ssize_t n = getxattr(dir, "user.argobox.usage", text, sizeof(text) - 1);
	if (n <= 0)
		return false;
	text[n] = '\0';
	long long u;
	if (sscanf(text, "%lld", &u) != 1 || u < 0)
		return false;
	*used = u;
	return true;
}
