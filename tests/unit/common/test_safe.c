/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_safe: opening beneath a directory someone else writes, and who answers a unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ab_test.h"

#include "ab_safe.h"
#include "ab_util.h"

static char dir[] = "/tmp/ab-safe-XXXXXX";
static int dfd = -1;

static int
setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *f = ab_xasprintf("%s/file", dir);
	_cleanup_free_ char *sub = ab_xasprintf("%s/sub", dir);
	_cleanup_free_ char *inner = ab_xasprintf("%s/sub/inner", dir);
	_cleanup_free_ char *link = ab_xasprintf("%s/link", dir);
	_cleanup_free_ char *dlink = ab_xasprintf("%s/dlink", dir);
	close(open(f, O_CREAT | O_WRONLY, 0600));
	mkdir(sub, 0700);
	close(open(inner, O_CREAT | O_WRONLY, 0600));
	if (symlink("/etc/hostname", link) < 0 || symlink(sub, dlink) < 0)
		return -1;
	return dfd >= 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	_cleanup_free_ char *cmd = ab_xasprintf("rm -rf '%s'", dir);
	close(dfd);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_open_beneath(void **state)
{
	int fd = ab_open_beneath(dfd, "file", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = ab_open_beneath(dfd, "sub/inner", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* a symlink as the last component or on the way, wherever it points */
	assert_int_equal(ab_open_beneath(dfd, "link", O_RDONLY, 0), -ELOOP);
	assert_int_equal(ab_open_beneath(dfd, "dlink/inner", O_RDONLY, 0), -ELOOP);
	/* never above the directory, never absolute */
	assert_int_equal(ab_open_beneath(dfd, "../etc/passwd", O_RDONLY, 0), -EXDEV);
	assert_int_equal(ab_open_beneath(dfd, "/etc/passwd", O_RDONLY, 0), -EXDEV);
	/* creating goes through the same checks */
	fd = ab_open_beneath(dfd, "new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ab_open_beneath(dfd, "link", O_WRONLY | O_CREAT, 0600), -ELOOP);
}

static void
test_path_describe(void **state)
{
	_cleanup_free_ char *link = ab_xasprintf("%s/link", dir);
	_cleanup_free_ char *missing = ab_xasprintf("%s/missing", dir);
	_cleanup_free_ char *d1 = ab_path_describe(link);
	_cleanup_free_ char *d2 = ab_path_describe(missing);
	assert_string_equal(d1, "symlink to '/etc/hostname'");
	assert_string_equal(d2, "missing");
}

static void
test_connect_peer(void **state)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/s.sock", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	_cleanup_close_ int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	struct ucred cr = {0};
	_cleanup_close_ int fd = ab_unix_connect_peer(path, &cr);
	assert_true(fd >= 0);
	assert_int_equal(cr.pid, getpid());
	assert_int_equal(cr.uid, getuid());
	/* through a symlink the peer is whoever listens at its target: the caller must check */
	_cleanup_free_ char *link = ab_xasprintf("%s/s.link", dir);
	assert_int_equal(symlink(path, link), 0);
	struct ucred cr2 = {0};
	_cleanup_close_ int fd2 = ab_unix_connect_peer(link, &cr2);
	assert_true(fd2 >= 0);
	assert_int_equal(cr2.pid, getpid());
	assert_int_equal(ab_unix_connect_peer("/nonexistent/x.sock", &cr2), -ENOENT);
}

AB_TEST_MAIN(setup, teardown, test_open_beneath, test_path_describe, test_connect_peer);
