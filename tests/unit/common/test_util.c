/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_err.h"
#include "ab_util.h"

static char tmpdir[64];

static int
setup(void **state)
{
	strcpy(tmpdir, "/tmp/ab-test-util-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	_cleanup_free_ char *cmd = ab_xasprintf("rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
test_atomic_write_replaces_and_reads_back(void **state)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/f.json", tmpdir);
	struct ab_err err = {0};
	assert_int_equal(ab_write_file_atomic(path, "one", 3, 0600, &err), 0);
	assert_int_equal(ab_write_file_atomic(path, "second", 6, 0640, &err), 0);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	assert_int_equal(ab_read_file(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "second");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* no temporary file is left behind */
	_cleanup_free_ char *cmd = ab_xasprintf("test $(ls '%s' | wc -l) -eq 1", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static void
test_atomic_write_into_missing_dir_fails_cleanly(void **state)
{
	struct ab_err err = {0};
	_cleanup_free_ char *path = ab_xasprintf("%s/missing/f", tmpdir);
	assert_int_equal(ab_write_file_atomic(path, "x", 1, 0600, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing"));
}

static void
test_read_file_enforces_max(void **state)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/big", tmpdir);
	char buf[10000];
	memset(buf, 'x', sizeof(buf));
	struct ab_err err = {0};
	assert_int_equal(ab_write_file_atomic(path, buf, sizeof(buf), 0600, &err), 0);
	_cleanup_free_ char *data = NULL;
	assert_int_equal(ab_read_file(path, 9999, &data, NULL, &err), -EFBIG);
	assert_null(data);
	assert_int_equal(ab_read_file(path, 10000, &data, NULL, &err), 0);
	assert_non_null(data);
}

static void
test_mkdir_p(void **state)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/a/b/c", tmpdir);
	struct ab_err err = {0};
	assert_int_equal(ab_mkdir_p(path, 0700, &err), 0);
	assert_int_equal(ab_mkdir_p(path, 0700, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void
test_utf8_validation(void **state)
{
	assert_true(ab_utf8_valid("hello", 5));
	assert_true(ab_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	assert_false(ab_utf8_valid("\xc3", 1));             /* truncated */
	assert_false(ab_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(ab_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(ab_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(ab_utf8_valid("a\0b", 3));             /* NUL */
	assert_false(ab_utf8_valid("\xff", 1));
}

static void
test_take_ptr_and_fd(void **state)
{
	_cleanup_free_ char *p = ab_xstrdup("x");
	char *q = TAKE_PTR(p);
	assert_null(p);
	free(q);
	_cleanup_close_ int fd = open("/dev/null", O_RDONLY);
	int g = TAKE_FD(fd);
	assert_int_equal(fd, -1);
	close(g);
}

static void
test_random_and_hex(void **state)
{
	unsigned char a[32] = {0}, b[32] = {0};
	assert_int_equal(ab_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(ab_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	char hex[65];
	unsigned char k[2] = {0xab, 0x01};
	ab_hex(k, 2, hex);
	assert_string_equal(hex, "ab01");
}

/* A write larger than a pipe's buffer goes out whole, in several short writes. */
static void
test_write_all_across_short_writes(void **state)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	size_t len = 1 << 20; /* a pipe holds 64 KiB */
	char *out = ab_xmalloc(len), *in = ab_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 7);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(ab_write_all(fds[1], out, len) == 0 ? 0 : 1);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t n;
	while ((n = read(fds[0], in + got, len - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, len);
	assert_memory_equal(in, out, len);
	free(in);
	free(out);
	/* a reader that is gone: -EPIPE (SIGPIPE ignored, as every daemon does) */
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(ab_write_all(fds[1], "x", 1), -EPIPE);
	close(fds[1]);
}

static FILE *usage_to;

static void
record_usage(FILE *f)
{
	usage_to = f;
}

static void
test_usage_exit_status(void **state)
{
	assert_int_equal(ab_usage(record_usage, true), 0);
	assert_ptr_equal(usage_to, stdout);
	assert_int_equal(ab_usage(record_usage, false), 2);
	assert_ptr_equal(usage_to, stderr);
}

static void
test_percent_encode(void **state)
{
	char out[64];
	assert_int_equal(ab_percent_encode("/a b/ü~x.txt", "/-_.~", out, sizeof(out)), 19);
	assert_string_equal(out, "/a%20b/%C3%BC~x.txt");
	/* what is not kept is escaped, '/' included */
	ab_percent_encode("a/b%c", "-._~", out, sizeof(out));
	assert_string_equal(out, "a%2Fb%25c");
	/* cut before a byte that does not fit with its escape, never mid-escape */
	char small[8];
	assert_int_equal(ab_percent_encode("abc def", "", small, sizeof(small)), 6);
	assert_string_equal(small, "abc%20");
	assert_int_equal(ab_percent_encode("", "", small, 1), 0);
	assert_string_equal(small, "");
}

AB_TEST_MAIN(setup, teardown, test_atomic_write_replaces_and_reads_back,
             test_atomic_write_into_missing_dir_fails_cleanly, test_read_file_enforces_max,
             test_mkdir_p, test_utf8_validation, test_take_ptr_and_fd, test_random_and_hex,
             test_write_all_across_short_writes, test_usage_exit_status, test_percent_encode);
