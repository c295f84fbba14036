/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_sock.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int
fill_addr(struct sockaddr_un *sa, const char *path, struct ab_err *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ab_err_set(err, ENAMETOOLONG, "socket path '%s' is longer than %zu bytes",
		                  path, sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int
ab_unix_listen(const char *path, mode_t mode, struct ab_err *err)
{
	struct sockaddr_un sa;
	int r = fill_addr(&sa, path, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ab_err_errno(err, errno, "creating socket");
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ab_err_errno(err, errno, "binding '%s'", path);
	if (chmod(path, mode) < 0)
		return ab_err_errno(err, errno, "setting the mode of '%s'", path);
	if (listen(fd, 64) < 0)
		return ab_err_errno(err, errno, "listening on '%s'", path);
	return TAKE_FD(fd);
}

int
ab_unix_connect(const char *path, struct ab_err *err)
{
	struct sockaddr_un sa;
	int r = fill_addr(&sa, path, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ab_err_errno(err, errno, "creating socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ab_err_errno(err, errno, "connecting to '%s'", path);
	return TAKE_FD(fd);
}

ssize_t
ab_sock_send_some(int fd, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	}
}
