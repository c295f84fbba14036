/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_safe: see ab_safe.h. */
#include "ab_safe.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* One component at a time with O_NOFOLLOW: the fallback for kernels without openat2. */
static int
open_beneath_walk(int dirfd, const char *name, int flags, mode_t mode)
{
	_cleanup_free_ char *copy = ab_xstrdup(name);
	_cleanup_close_ int cur = -1;
	char *save = NULL;
	char *part = strtok_r(copy, "/", &save);
	if (!part)
		return -EINVAL;
	for (;;) {
		char *next = strtok_r(NULL, "/", &save);
		if (!strcmp(part, "..") || !strcmp(part, "."))
			return -EXDEV;
		int at = cur >= 0 ? cur : dirfd;
		if (!next) {
			int fd = openat(at, part, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			return fd < 0 ? -errno : fd;
		}
		int fd = openat(at, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOTDIR ? -ELOOP : -errno;
		if (cur >= 0)
			close(cur);
		cur = fd;
		part = next;
	}
}

int
ab_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	if (!name || !*name || name[0] == '/')
		return -EXDEV;
	struct open_how how = {
	    .flags = (unsigned)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS && errno != EPERM) /* EPERM: a seccomp filter that predates it */
		return -errno;
	return open_beneath_walk(dirfd, name, flags, mode);
}

int
ab_unix_connect_peer(const char *path, struct ucred *ret_peer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect to a listening socket completes at once (or EAGAIN: backlog). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	struct ucred cr = {0};
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	*ret_peer = cr;
	return TAKE_FD(fd);
}

char *
ab_path_describe(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return ab_xasprintf(errno == ENOENT ? "missing" : "unreadable (%s)",
		                    strerror(errno));
	switch (st.st_mode & S_IFMT) {
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return ab_xstrdup("symlink");
		target[n] = 0;
		return ab_xasprintf("symlink to '%s'", target);
	}
	case S_IFSOCK:
		return ab_xasprintf("socket (owner uid %u)", (unsigned)st.st_uid);
	case S_IFREG:
		return ab_xasprintf("regular file (owner uid %u, %u links)", (unsigned)st.st_uid,
		                    (unsigned)st.st_nlink);
	case S_IFDIR:
		return ab_xstrdup("directory");
	default:
		return ab_xstrdup("special file");
	}
}

char *
ab_pid_exe(pid_t pid)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = pid > 0 ? readlink(link, target, sizeof(target) - 1) : -1;
	if (n < 0)
		return ab_xstrdup("?");
	target[n] = 0;
	return ab_xstrdup(target);
}
