/* SPDX-License-Identifier: GPL-2.0-or-later */
/* argobox-files' model: slices, sort, Trash, MIME, open-with lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "fscopy.h"
#include "fsmodel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *const dir = ab_test_dir;

static void
touch(const char *rel, size_t size)
{
	char p[320];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
}

static void
test_slices_and_sort(void **state)
{
	char p[256];
	for (int i = 0; i < 250; i++) {
		snprintf(p, sizeof(p), "f%03d", i);
		touch(p, (size_t)(i % 7));
	}
	touch(".hidden", 1);
	snprintf(p, sizeof(p), "%s/zdir", dir);
	mkdir(p, 0755);
	struct fs_dir d;
	struct ab_err err = {0};
	assert_int_equal(fs_dir_open(&d, dir, false, &err), 0);
	int rounds = 0;
	while (fs_dir_load(&d, 100) == 0)
		rounds++;
	assert_true(rounds >= 2);   /* read in slices */
	assert_int_equal(d.n, 251); /* no dot file */
	fs_dir_sort(&d, FS_SORT_NAME, false);
	assert_string_equal(d.v[0].name, "zdir"); /* folders first */
	assert_true(d.v[0].dir);
	assert_string_equal(d.v[1].name, "f000");
	fs_dir_sort(&d, FS_SORT_SIZE, true);
	assert_string_equal(d.v[0].name, "zdir");
	assert_int_equal(d.v[1].size, 6);
	fs_dir_free(&d);
	assert_int_equal(fs_dir_open(&d, dir, true, &err), 0);
	while (fs_dir_load(&d, 1000) == 0)
		;
	assert_int_equal(d.n, 252);
	fs_dir_free(&d);
	assert_int_equal(fs_dir_open(&d, "/nonexistent/x", false, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot open '/nonexistent/x'"));
}

static void
test_trash(void **state)
{
	char home[128], p[256], name_info[512];
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0700);
	touch("my file.txt", 3);
	snprintf(p, sizeof(p), "%s/my file.txt", dir);
	struct ab_err err = {0};
	char *name = NULL;
	assert_int_equal(fs_trash(p, home, &name, &err), 0);
	assert_string_equal(name, "my file.txt");
	free(name);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(name_info, sizeof(name_info), "%s/.local/share/Trash/info/my file.txt.trashinfo",
	         home);
	FILE *f = fopen(name_info, "r");
	assert_non_null(f);
	char buf[512] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "[Trash Info]\nPath="));
	assert_non_null(strstr(buf, "/my%20file.txt\n"));
	assert_non_null(strstr(buf, "DeletionDate="));
	/* the same name again gets a new one */
	touch("my file.txt", 3);
	assert_int_equal(fs_trash(p, home, &name, &err), 0);
	assert_string_equal(name, "my file.txt.1");
	free(name);
	assert_int_equal(fs_trash("/nonexistent/zz", home, NULL, &err), -ENOENT);
}

static void
test_mime_open(void **state)
{
	assert_string_equal(fs_mime("a.TXT", false), "text/plain");
	assert_string_equal(fs_mime("x.png", false), "image/png");
	assert_string_equal(fs_mime(".bashrc", false), "application/octet-stream");
	assert_string_equal(fs_mime("d", true), "inode/directory");
	char p[256];
	snprintf(p, sizeof(p), "%s/applications", dir);
	mkdir(p, 0755);
	touch("applications/bad.desktop", 0);
	snprintf(p, sizeof(p), "%s/applications/ed.desktop", dir);
	FILE *f = fopen(p, "w");
	fputs("[Desktop Entry]\nType=Application\nName=Ed\nX-ArgoBox-App=editor\nExec=ed --open %F "
	      "%i "
	      "100%%\nMimeType=text/x-csrc;text/plain;\n",
	      f);
	fclose(f);
	/* a viewer whose program is not installed (TryExec): never offered */
	snprintf(p, sizeof(p), "%s/applications/view.desktop", dir);
	f = fopen(p, "w");
	fputs("[Desktop Entry]\nType=Application\nName=View\nTryExec=/nonexistent/view\n"
	      "Exec=view %f\nMimeType=image/png;\n",
	      f);
	fclose(f);
	char *cmd = fs_open_command(dir, "*", "text/plain", "/h/it's.txt");
	assert_non_null(cmd);
	assert_string_equal(cmd, "ed --open '/h/it'\\''s.txt'  100%");
	free(cmd);
	/* the profile's list: by its profile app name, by its id; nothing else opens it */
	cmd = fs_open_command(dir, "terminal,editor", "text/plain", "/a.txt");
	assert_non_null(cmd);
	free(cmd);
	cmd = fs_open_command(dir, "ed.desktop", "text/plain", "/a.txt");
	assert_non_null(cmd);
	free(cmd);
	assert_null(fs_open_command(dir, "terminal,files", "text/plain", "/a.txt"));
	assert_null(fs_open_command(dir, "", "text/plain", "/a.txt"));
	assert_null(fs_open_command(dir, NULL, "text/plain", "/a.txt"));
	assert_null(fs_open_command(dir, "*", "image/png", "/x.png"));
	char esc[64];
	fs_uri_escape("/a b/ü", esc, sizeof(esc));
	assert_string_equal(esc, "/a%20b/%C3%BC");
}

/* The home's use against its file system's size: a real statvfs, and a clear error. */
static void
test_usage(void **state)
{
	(void)state;
	char u[96];
	assert_int_equal(fs_usage(dir, u, sizeof(u)), 0);
	assert_non_null(strstr(u, " used of "));
	assert_non_null(strstr(u, "%)"));
	assert_int_equal(fs_usage("/nonexistent/argobox", u, sizeof(u)), -ENOENT);
}

/* Copy and move: free names, cp -a in a child, a rename, a folder into itself refused. */
static void
test_copy(void **state)
{
	(void)state;
	char p[PATH_MAX], want[PATH_MAX];
	touch("a.txt", 5);
	touch(".rc", 1);
	assert_int_equal(fs_copy_target(dir, "a.txt", false, p, sizeof(p)), 0);
	snprintf(want, sizeof(want), "%s/a (copy).txt", dir);
	assert_string_equal(p, want);
	touch("a (copy).txt", 1);
	assert_int_equal(fs_copy_target(dir, "a.txt", false, p, sizeof(p)), 0);
	snprintf(want, sizeof(want), "%s/a (copy 2).txt", dir);
	assert_string_equal(p, want);
	assert_int_equal(fs_copy_target(dir, ".rc", false, p, sizeof(p)), 0);
	snprintf(want, sizeof(want), "%s/.rc (copy)", dir);
	assert_string_equal(p, want);
	assert_int_equal(fs_copy_target(dir, "new", true, p, sizeof(p)), 0);

	char sub[PATH_MAX], src[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	mkdir(sub, 0755);
	snprintf(src, sizeof(src), "%s/a.txt", dir);
	struct fs_copy c;
	struct ab_err err = {0};
	assert_int_equal(fs_copy_start(&c, src, sub, false, &err), 0);
	assert_true(c.pid > 0 && c.fd >= 0);
	assert_int_equal(c.total, 5);
	char b[8];
	while (read(c.fd, b, sizeof(b)) > 0)
		;
	assert_int_equal(fs_copy_finish(&c, &err), 0);
	snprintf(p, sizeof(p), "%s/sub/a.txt", dir);
	assert_int_equal(fs_tree_bytes(p), 5);
	assert_int_equal(access(src, F_OK), 0); /* a copy keeps the original */
	/* a move within one file system is a rename, done at once */
	assert_int_equal(fs_copy_start(&c, src, sub, true, &err), 0);
	assert_int_equal(c.pid, -1);
	assert_int_equal(fs_copy_finish(&c, &err), 0);
	assert_int_equal(access(src, F_OK), -1);
	snprintf(p, sizeof(p), "%s/sub/a (copy).txt", dir);
	assert_int_equal(access(p, F_OK), 0);
	/* refused: a folder into itself, a missing source, a move into its own folder */
	assert_int_equal(fs_copy_start(&c, sub, sub, false, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "into itself"));
	assert_int_equal(fs_copy_start(&c, src, sub, false, &err), -ENOENT);
	snprintf(src, sizeof(src), "%s/sub/a.txt", dir);
	assert_int_equal(fs_copy_start(&c, src, sub, true, &err), -EEXIST);
	assert_int_equal(fs_tree_bytes(dir),
	                 1 + 1 + 5 + 5); /* a (copy).txt .rc sub/a.txt sub/a (copy).txt */
}

/*
 * Two copies of one file into one folder at once get two names (the first's target is taken
 * before its cp creates it); cancelling one kills its cp and removes its partial target, the
 * other finishes whole.
 */
static void
test_copy_concurrent(void **state)
{
	(void)state;
	char src[PATH_MAX], sub[PATH_MAX], p[PATH_MAX];
	touch("big.bin", 8 << 20);
	snprintf(src, sizeof(src), "%s/big.bin", dir);
	snprintf(sub, sizeof(sub), "%s/into", dir);
	mkdir(sub, 0755);
	struct fs_copy a, b;
	struct ab_err err = {0};
	assert_int_equal(fs_copy_start(&a, src, sub, false, &err), 0);
	assert_int_equal(fs_copy_start(&b, src, sub, false, &err), 0);
	assert_true(a.pid > 0 && b.pid > 0 && a.pid != b.pid);
	snprintf(p, sizeof(p), "%s/into/big.bin", dir);
	assert_string_equal(a.dst, p);
	snprintf(p, sizeof(p), "%s/into/big (copy).bin", dir);
	assert_string_equal(b.dst, p);
	/* while they run, a third name is free only after both */
	assert_int_equal(fs_copy_target(sub, "big.bin", false, p, sizeof(p)), 0);
	assert_non_null(strstr(p, "big (copy 2).bin"));
	char *bdst = strdup(b.dst);
	assert_int_equal(fs_copy_cancel(&b), 0);
	assert_int_equal(b.pid, -1);
	assert_null(b.dst);
	assert_int_equal(access(bdst, F_OK), -1); /* its partial target removed */
	char c[8];
	while (read(a.fd, c, sizeof(c)) > 0)
		;
	char *adst = strdup(a.dst);
	assert_int_equal(fs_copy_finish(&a, &err), 0);
	assert_int_equal(fs_tree_bytes(adst), 8 << 20);
	assert_int_equal(fs_tree_bytes(src), 8 << 20); /* the source untouched */
	assert_int_equal(fs_copy_cancel(&a), -ESRCH);  /* nothing running */
	free(adst);
	free(bdst);
}

AB_TEST_MAIN_FIXTURE(ab_test_dir_setup, ab_test_dir_teardown, test_slices_and_sort, test_trash,
                     test_mime_open, test_usage, test_copy, test_copy_concurrent);
