/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-smbfs's decisions without SMB or FUSE (broker/files/smbfs_core.c; the whole
 * program against a real smbd is tests/integration/files/smbfs.sh): how a FUSE path becomes
 * an smb:// URL (reserved bytes, UTF-8 and '%' encoded, never a '..' that a server could
 * resolve differently, the length bounded), which libsmbclient errors are a lost server
 * (the desktop gets EHOSTDOWN) and which are the file's own, the quota's accounting at its
 * edges, statfs's used/limit, and the fixed owner and modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smbfs_core.h"

#define BASE "smb://127.0.0.1:4450/homes/bea"

static void
url_is(const char *path, const char *want)
{
	char out[512];
	assert_int_equal(smbfs_url_encode(BASE, path, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void
test_url_plain(void **state)
{
	(void)state;
	url_is("/", BASE);
	url_is("", BASE);
	url_is("/Docs/readme.txt", BASE "/Docs/readme.txt");
	url_is("/Docs/", BASE "/Docs"); /* no trailing slash */
	url_is("/a-b_c.d~e", BASE "/a-b_c.d~e");
}

static void
test_url_encoded(void **state)
{
	(void)state;
	/* what would end or change the URL is encoded: space, '%', '?', '#', '@', ':', ';' */
	url_is("/my file.txt", BASE "/my%20file.txt");
	url_is("/100%", BASE "/100%25");
	url_is("/a?b#c", BASE "/a%3Fb%23c");
	url_is("/u@h:p;x", BASE "/u%40h%3Ap%3Bx");
	url_is("/back\\slash", BASE "/back%5Cslash");
	/* UTF-8 byte by byte, upper-case hex */
	url_is("/caf\xc3\xa9", BASE "/caf%C3%A9");
	url_is("/\xe2\x82\xac", BASE "/%E2%82%AC");
	/* control bytes, and bytes above 0x7f that are not UTF-8, stay distinct */
	url_is("/\x01\x7f\xff", BASE "/%01%7F%FF");
	/* an encoded dot segment in the input stays literal text, never decoded into '..' */
	url_is("/%2e%2e/x", BASE "/%252e%252e/x");
}

static void
test_url_too_long(void **state)
{
	(void)state;
	char out[64];
	/* the base alone does not fit */
	assert_int_equal(smbfs_url_encode(BASE BASE BASE, "/", out, 40), -ENAMETOOLONG);
	/* a path that grows threefold when encoded: refused, not cut */
	char path[40];
	memset(path, ' ', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(smbfs_url_encode(BASE, path, out, sizeof(out)), -ENAMETOOLONG);
	/* the same length of plain names fits exactly up to the bound */
	char big[4200];
	char name[4096];
	memset(name, 'a', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(smbfs_url_encode(BASE, name, big, sizeof(big)), 0);
	assert_int_equal(strlen(big), strlen(BASE) + strlen(name));
}

static void
test_conn_errors(void **state)
{
	(void)state;
	/* a lost server: retried once after a reconnect, then EHOSTDOWN to the desktop */
	int lost[] = {ECONNRESET,   ECONNREFUSED, ECONNABORTED, EPIPE, ETIMEDOUT, ENOTCONN,
	              EHOSTUNREACH, ENETUNREACH,  EHOSTDOWN,    EIO,   EBADF};
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
		assert_true(smbfs_conn_error(lost[i]));
		assert_int_equal(smbfs_errno_map(-lost[i]), -EHOSTDOWN);
	}
	/* the file's own answers reach the desktop as they are */
	int own[] = {ENOENT, EEXIST, EACCES, EPERM,        ENOTEMPTY, EISDIR, ENOTDIR,
	             EINVAL, ENOSPC, EDQUOT, ENAMETOOLONG, EROFS,     EBUSY};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		assert_false(smbfs_conn_error(own[i]));
		assert_int_equal(smbfs_errno_map(-own[i]), -own[i]);
	}
	/* success and counts pass through */
	assert_int_equal(smbfs_errno_map(0), 0);
	assert_int_equal(smbfs_errno_map(4096), 4096);
}

static void
test_quota_edges(void **state)
{
	(void)state;
	struct smbfs_usage u = {.quota = 1000, .used = 900, .known = true};
	assert_int_equal(smbfs_usage_fits(&u, 100), 0);       /* exactly full */
	assert_int_equal(smbfs_usage_fits(&u, 101), -EDQUOT); /* one byte over */
	assert_int_equal(smbfs_usage_fits(&u, 0), 0);         /* a rewrite inside the file */
	assert_int_equal(smbfs_usage_fits(&u, -500), 0);      /* shrinking always fits */
	u.used = 1000;
	assert_int_equal(smbfs_usage_fits(&u, 1), -EDQUOT);
	/* no overflow near the largest sizes */
	u = (struct smbfs_usage){.quota = INT64_MAX - 10, .used = INT64_MAX - 20, .known = true};
	assert_int_equal(smbfs_usage_fits(&u, 10), 0);
	assert_int_equal(smbfs_usage_fits(&u, INT64_MAX), -EDQUOT);
	/* no quota: anything fits, known or not */
	u = (struct smbfs_usage){.quota = 0, .used = 5, .known = false};
	assert_int_equal(smbfs_usage_fits(&u, INT64_MAX), 0);
	/* a quota and the usage not summed yet (server down at mount): refused, not overrun */
	u = (struct smbfs_usage){.quota = 1000, .used = 0, .known = false};
	assert_int_equal(smbfs_usage_fits(&u, 1), -EHOSTDOWN);
	assert_int_equal(smbfs_usage_fits(&u, 0), 0);
}

static void
test_quota_accounting(void **state)
{
	(void)state;
	struct smbfs_usage u = {.quota = 1 << 20, .used = 0, .known = true};
	/* a file written sequentially in 64 KiB pieces, then overwritten in the middle */
	int64_t size = 0;
	for (int i = 0; i < 16; i++) {
		int64_t g = smbfs_write_growth(size, (int64_t)i * 65536, 65536);
		assert_int_equal(g, 65536);
		assert_int_equal(smbfs_usage_fits(&u, g), 0);
		smbfs_usage_move(&u, g);
		size += g;
	}
	assert_int_equal(u.used, 1 << 20);
	assert_int_equal(smbfs_write_growth(size, 4096, 4096), 0);          /* inside: free */
	assert_int_equal(smbfs_write_growth(size, size - 10, 20), 10);      /* straddles the end */
	assert_int_equal(smbfs_write_growth(0, 1 << 20, 1), (1 << 20) + 1); /* a hole counts */
	assert_int_equal(smbfs_usage_fits(&u, 1), -EDQUOT);
	/* truncate to half, unlink: the usage goes down, never below 0 */
	smbfs_usage_move(&u, -(1 << 19));
	assert_int_equal(u.used, 1 << 19);
	assert_int_equal(smbfs_usage_fits(&u, 1 << 19), 0);
	smbfs_usage_move(&u, -(1 << 21)); /* a file the count never saw (written on the server) */
	assert_int_equal(u.used, 0);
}

static void
test_statvfs(void **state)
{
	(void)state;
	struct smbfs_usage u = {.quota = 100 * SMBFS_BSIZE, .used = 1, .known = true};
	struct statvfs st = {0};
	smbfs_usage_statvfs(&u, &st);
	assert_int_equal(st.f_blocks, 100);
	assert_int_equal(st.f_bfree, 99); /* one byte takes a block */
	assert_int_equal(st.f_bavail, 99);
	u.used = 100 * SMBFS_BSIZE + 5; /* over the quota (written on the server): 0 free */
	smbfs_usage_statvfs(&u, &st);
	assert_int_equal(st.f_bfree, 0);
	assert_int_equal(st.f_bavail, 0);
}

static void
test_stat_fix(void **state)
{
	(void)state;
	struct stat st = {.st_mode = S_IFDIR | 0777, .st_uid = 0, .st_gid = 0, .st_size = 0};
	smbfs_stat_fix(&st, 101003, 101003);
	assert_int_equal(st.st_mode, S_IFDIR | 0700);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_uid, 101003);
	assert_int_equal(st.st_gid, 101003);
	/* anything else SMB reports (a setuid bit, a "link", a device) is a plain 0600 file */
	st = (struct stat){.st_mode = S_IFREG | S_ISUID | 0777, .st_size = 513};
	smbfs_stat_fix(&st, 7, 8);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_blocks, 2);
	st = (struct stat){.st_mode = S_IFLNK | 0777};
	smbfs_stat_fix(&st, 7, 8);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	st = (struct stat){.st_mode = S_IFCHR | 0666};
	smbfs_stat_fix(&st, 7, 8);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_plain),    cmocka_unit_test(test_url_encoded),
	    cmocka_unit_test(test_url_too_long), cmocka_unit_test(test_conn_errors),
	    cmocka_unit_test(test_quota_edges),  cmocka_unit_test(test_quota_accounting),
	    cmocka_unit_test(test_statvfs),      cmocka_unit_test(test_stat_fix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
