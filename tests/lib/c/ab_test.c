// SPDX-License-Identifier: GPL-2.0-or-later
/* The cmocka tests' shared helpers: see ab_test.h. Depends on libc and cmocka only. */
#include "ab_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

char *
ab_test_tmpdir(char *buf, size_t size, const char *tag)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(buf, size, "%s/%s.XXXXXX", base && *base ? base : "/tmp", tag);
	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(buf));
	return buf;
}

char ab_test_dir[64];

int
ab_test_dir_setup(void **state)
{
	(void)state;
	ab_test_tmpdir(ab_test_dir, sizeof(ab_test_dir), program_invocation_short_name);
	return 0;
}

int
ab_test_dir_teardown(void **state)
{
	(void)state;
	ab_test_rmtree(ab_test_dir);
	ab_test_dir[0] = '\0';
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

void
ab_test_rmtree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
ab_test_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

void
ab_test_each(bool (*pred)(const char *), const char *name, bool want, const char *const *s)
{
	for (; *s; s++) {
		if (pred(*s) != want)
			fail_msg("%s('%s') is %s, wanted %s", name, *s, want ? "false" : "true",
			         want ? "true" : "false");
	}
}
