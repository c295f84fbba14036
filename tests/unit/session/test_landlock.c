/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_util.h"
#include "landlock.h"

static void
test_mode(void **state)
{
	assert_int_equal(landlock_mode_from_string("auto"), LANDLOCK_MODE_AUTO);
	assert_int_equal(landlock_mode_from_string("on"), LANDLOCK_MODE_ON);
	assert_int_equal(landlock_mode_from_string("off"), LANDLOCK_MODE_OFF);
	assert_int_equal(landlock_mode_from_string("yes"), -EINVAL);
	assert_int_equal(landlock_mode_from_string(""), -EINVAL);
}

/* Each ABI handles exactly the rights it knows; newer bits are dropped, not passed on. */
static void
test_downgrade(void **state)
{
	uint64_t abi1 = 0x1fff; /* EXECUTE .. MAKE_SYM */
	assert_int_equal(landlock_fs_handled(0), 0);
	assert_int_equal(landlock_fs_handled(-38), 0);
	assert_int_equal(landlock_fs_handled(1), abi1);
	assert_int_equal(landlock_fs_handled(2), abi1 | LANDLOCK_FS_REFER);
	assert_int_equal(landlock_fs_handled(3), abi1 | LANDLOCK_FS_REFER | LANDLOCK_FS_TRUNCATE);
	assert_int_equal(landlock_fs_handled(4), landlock_fs_handled(3));
	assert_int_equal(landlock_fs_handled(5), landlock_fs_handled(3) | LANDLOCK_FS_IOCTL_DEV);
	assert_int_equal(landlock_fs_handled(7), landlock_fs_handled(5));
	assert_int_equal(landlock_fs_handled(7), LANDLOCK_FS_RW);

	assert_int_equal(landlock_downgrade(LANDLOCK_FS_RW, 1), abi1);
	assert_false(landlock_downgrade(LANDLOCK_FS_RW, 2) & LANDLOCK_FS_TRUNCATE);
	assert_true(landlock_downgrade(LANDLOCK_FS_RW, 3) & LANDLOCK_FS_TRUNCATE);
	assert_int_equal(landlock_downgrade(LANDLOCK_FS_DEV, 3),
	                 LANDLOCK_FS_READ_FILE | LANDLOCK_FS_WRITE_FILE | LANDLOCK_FS_READ_DIR |
	                     LANDLOCK_FS_TRUNCATE);
	assert_int_equal(landlock_downgrade(LANDLOCK_FS_DEV, 5), LANDLOCK_FS_DEV);
	assert_int_equal(landlock_downgrade(LANDLOCK_FS_RO, 1), LANDLOCK_FS_RO);
	assert_int_equal(landlock_downgrade(LANDLOCK_FS_RW, 0), 0);

	assert_int_equal(landlock_scoped(5), 0);
	assert_int_equal(landlock_scoped(6), LANDLOCK_SCOPE_SIG);
	assert_int_equal(landlock_scoped(7), LANDLOCK_SCOPE_SIG);
}

static const struct landlock_rule *
find(const struct landlock_policy *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->rules[i].path, path) == 0)
			return &p->rules[i];
	return NULL;
}

static void
test_policy_add(void **state)
{
	char dir[] = "/tmp/ab-ll-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct landlock_policy p;
	landlock_policy_init(&p);
	assert_true(p.scope_signals);
	struct ab_err err = {0};
	assert_int_equal(landlock_policy_add(&p, "relative/path", LANDLOCK_FS_RO, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'relative/path'"));
	assert_int_equal(landlock_policy_add(&p, "/nonexistent-ab-ll", LANDLOCK_FS_RW, NULL), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(landlock_policy_add(&p, dir, LANDLOCK_FS_RO, NULL), 1);
	assert_int_equal(landlock_policy_add(&p, dir, LANDLOCK_FS_WRITE_FILE, NULL), 1);
	assert_int_equal(p.n, 1); /* same path: one rule, union of rights */
	assert_int_equal(p.rules[0].access, LANDLOCK_FS_RO | LANDLOCK_FS_WRITE_FILE);
	landlock_policy_free(&p);
	rmdir(dir);
}

static void
test_policy_default(void **state)
{
	char home[] = "/tmp/ab-ll-home-XXXXXX";
	char extra[] = "/tmp/ab-ll-extra-XXXXXX";
	assert_non_null(mkdtemp(home));
	assert_non_null(mkdtemp(extra));
	const char *rw[] = {"/nonexistent-ab-ll-rw", NULL};
	const char *ro[] = {extra, "/nonexistent-ab-ll-ro", NULL};
	struct landlock_paths in = {
	    .home = home, .runtime_dir = NULL, .extra_rw = rw, .extra_ro = ro};
	struct landlock_policy p;
	landlock_policy_init(&p);
	struct ab_err err = {0};
	assert_int_equal(landlock_policy_default(&p, &in, &err), 0);
	/* the home and /tmp writable, /usr and the extra read-only, /dev devices only */
	assert_non_null(find(&p, home));
	assert_int_equal(find(&p, home)->access, LANDLOCK_FS_RW);
	assert_int_equal(find(&p, "/tmp")->access, LANDLOCK_FS_RW);
	assert_int_equal(find(&p, "/usr")->access, LANDLOCK_FS_RO);
	assert_int_equal(find(&p, "/proc")->access, LANDLOCK_FS_RO);
	assert_int_equal(find(&p, "/dev")->access, LANDLOCK_FS_DEV);
	assert_non_null(find(&p, extra));
	assert_int_equal(find(&p, extra)->access, LANDLOCK_FS_RO);
	/* missing paths are skipped, not errors */
	assert_null(find(&p, "/nonexistent-ab-ll-rw"));
	assert_null(find(&p, "/nonexistent-ab-ll-ro"));
	/* never the root itself */
	assert_null(find(&p, "/"));
	_cleanup_free_ char *d = landlock_policy_describe(&p);
	assert_non_null(strstr(d, home));
	assert_non_null(strstr(d, "read-only:"));
	landlock_policy_free(&p);

	/* a home of "/" would make everything writable: refused */
	landlock_policy_init(&p);
	in.home = "//";
	assert_int_equal(landlock_policy_default(&p, &in, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'//'"));
	landlock_policy_free(&p);
	rmdir(home);
	rmdir(extra);
}

/* A real domain in a child: writes only where the policy says, reads elsewhere refused. */
static void
test_apply(void **state)
{
	int abi = landlock_abi();
	if (abi < 1) {
		fprintf(stderr, "no Landlock in this kernel (%s): apply not tested\n",
		        strerror(-abi));
		skip();
	}
	char rw[] = "/tmp/ab-ll-rw-XXXXXX";
	char out[] = "/tmp/ab-ll-out-XXXXXX";
	assert_non_null(mkdtemp(rw));
	assert_non_null(mkdtemp(out));
	struct landlock_policy p;
	landlock_policy_init(&p);
	assert_int_equal(landlock_policy_add(&p, rw, LANDLOCK_FS_RW, NULL), 1);
	/* a file rule gets only file rights (directory rights would make add_rule fail) */
	assert_int_equal(landlock_policy_add(&p, "/dev/null", LANDLOCK_FS_RW, NULL), 1);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ab_err err = {0};
		if (landlock_apply(&p, abi, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			_exit(10);
		}
		char path[64];
		snprintf(path, sizeof(path), "%s/f", rw);
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (fd < 0)
			_exit(11);
		close(fd);
		snprintf(path, sizeof(path), "%s/f", out);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0 || errno != EACCES)
			_exit(12);
		if (open("/dev/null", O_WRONLY) < 0)
			_exit(13);
		if (open("/etc/hostname", O_RDONLY) >= 0 || errno != EACCES)
			_exit(14);
		if (abi >= 6 && (kill(getppid(), 0) == 0 || errno != EPERM))
			_exit(15);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	char path[64];
	snprintf(path, sizeof(path), "%s/f", rw);
	unlink(path);
	landlock_policy_free(&p);
	rmdir(rw);
	rmdir(out);
}

AB_TEST_MAIN(NULL, NULL, test_mode, test_downgrade, test_policy_add, test_policy_default,
             test_apply);
