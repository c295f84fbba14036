/* SPDX-License-Identifier: GPL-2.0-or-later */
/* argobox-terminal's saved scrollback (sbsave): keys, paths, bounded atomic writes, reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "ab_util.h"
#include "sbsave.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *const dir = ab_test_dir;

static int
setup(void **state)
{
	ab_test_dir_setup(state);
	setenv("HOME", dir, 1);
	unsetenv("XDG_STATE_HOME");
	return 0;
}

static void
test_keys(void **state)
{
	(void)state;
	AB_ASSERT_EACH(sbsave_key_valid, true, "terminal-0123abcd", "terminal-ffffffff");
	AB_ASSERT_EACH(sbsave_key_valid, false, "", "terminal", "terminal-0123abc",
	               "terminal-0123abcde", "terminal-0123ABCD", "terminal-../../x",
	               "xterminal-0123abcd", "terminal-0123abc/");
	char a[SBSAVE_KEY_LEN + 1], b[SBSAVE_KEY_LEN + 1];
	sbsave_key_new(a);
	sbsave_key_new(b);
	assert_true(sbsave_key_valid(a));
	assert_string_not_equal(a, b);
	assert_null(sbsave_path("../etc/passwd", 0));
}

static void
test_paths(void **state)
{
	(void)state;
	char want[256];
	char *p = sbsave_path("terminal-0000beef", 0);
	snprintf(want, sizeof(want), "%s/.local/state/argobox/terminal/terminal-0000beef.txt", dir);
	assert_string_equal(p, want);
	free(p);
	setenv("XDG_STATE_HOME", "/st", 1);
	p = sbsave_path("terminal-0000beef", 0);
	assert_string_equal(p, "/st/argobox/terminal/terminal-0000beef.txt");
	free(p);
	setenv("XDG_STATE_HOME", "relative", 1); /* not absolute: ignored */
	p = sbsave_path("terminal-0000beef", 0);
	assert_string_equal(p, want);
	free(p);
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	assert_null(sbsave_path("terminal-0000beef", 0));
	struct ab_err err = {0};
	assert_int_equal(sbsave_write("terminal-0000beef", 0, "x", 1, &err), -EINVAL);
}

static void
test_round_trip(void **state)
{
	(void)state;
	const char *key = "terminal-12345678";
	struct ab_err err = {0};
	const char text[] = "$ echo hi\nhi\n\x1b[31mred\x07\tgr\xc3\xbc\xc3\x9f\n";
	assert_int_equal(sbsave_write(key, 0, text, sizeof(text) - 1, &err), 0);
	char *p = sbsave_path(key, 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	char *got = NULL;
	size_t len = 0;
	time_t when = 0;
	assert_int_equal(sbsave_read(key, 0, &got, &len, &when, &err), 0);
	/* control characters come back as '?' (the text is fed to a terminal), tabs and UTF-8 stay
	 */
	assert_string_equal(got, "$ echo hi\nhi\n?[31mred?\tgr\xc3\xbc\xc3\x9f\n");
	assert_int_equal(len, strlen(got));
	assert_true(when > 0);
	free(got);
	sbsave_remove(key, 0);
	assert_int_equal(sbsave_read(key, 0, &got, &len, &when, &err), -ENOENT);
	assert_int_equal(sbsave_read("bad", 0, &got, &len, &when, &err), -ENOENT);
}

/* A window's tabs: one file each, in order; removing from a tab on keeps those before it. */
static void
test_tabs(void **state)
{
	(void)state;
	const char *key = "terminal-0000cafe";
	struct ab_err err = {0};
	char want[256];
	char *p = sbsave_path(key, 3);
	snprintf(want, sizeof(want), "%s/.local/state/argobox/terminal/%s.3.txt", dir, key);
	assert_string_equal(p, want);
	free(p);
	assert_null(sbsave_path(key, -1));
	assert_null(sbsave_path(key, SBSAVE_TABS_MAX));
	assert_int_equal(sbsave_write(key, SBSAVE_TABS_MAX, "x", 1, &err), -EINVAL);
	const char *texts[] = {"zero\n", "one\n", "two\n"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(sbsave_write(key, i, texts[i], strlen(texts[i]), &err), 0);
	for (int i = 0; i < 3; i++) {
		char *got = NULL;
		size_t len;
		time_t when;
		assert_int_equal(sbsave_read(key, i, &got, &len, &when, &err), 0);
		assert_string_equal(got, texts[i]);
		free(got);
	}
	/* pruning knows the tabs' names (and leaves other files alone) */
	snprintf(want, sizeof(want), "%s/.local/state/argobox/terminal/%s.99.txt", dir, key);
	FILE *f = fopen(want, "w");
	fclose(f);
	char *two = sbsave_path(key, 2);
	struct timespec ts[2] = {{.tv_sec = time(NULL) - 30 * 86400},
	                         {.tv_sec = time(NULL) - 30 * 86400}};
	assert_int_equal(utimensat(AT_FDCWD, two, ts, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, want, ts, 0), 0);
	sbsave_prune(14 * 86400);
	assert_int_equal(access(two, F_OK), -1);
	assert_int_equal(access(want, F_OK), 0); /* not a name of ours */
	free(two);
	char *got = NULL;
	size_t len;
	time_t when;
	sbsave_remove(key, 1);
	assert_int_equal(sbsave_read(key, 1, &got, &len, &when, &err), -ENOENT);
	assert_int_equal(sbsave_read(key, 0, &got, &len, &when, &err), 0);
	free(got);
	sbsave_remove(key, 0);
	assert_int_equal(sbsave_read(key, 0, &got, &len, &when, &err), -ENOENT);
}

/* The tabs file: round trip, 0600, bad content refused with a message, removed with the window. */
static void
test_meta(void **state)
{
	(void)state;
	const char *key = "terminal-0000abcd";
	struct ab_err err = {0};
	struct sbsave_tab in[2] = {{.title = "vim \"a b\"", .cwd = "/home/u/dir one"},
	                           {.title = "", .cwd = ""}};
	char *text = sbsave_meta_dump(1, 2, in);
	assert_int_equal(sbsave_meta_write(key, text, &err), 0);
	free(text);
	char path[512];
	snprintf(path, sizeof(path), "%s/.local/state/argobox/terminal/%s.tabs.json", dir, key);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	struct sbsave_tab *out = calloc(SBSAVE_TABS_MAX, sizeof(*out));
	int active = -1, n = -1;
	assert_int_equal(sbsave_meta_read(key, &active, &n, out, &err), 0);
	assert_int_equal(active, 1);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].title, "vim \"a b\"");
	assert_string_equal(out[0].cwd, "/home/u/dir one");
	assert_string_equal(out[1].cwd, "");
	/* bad content: a clear error, the outputs untouched; a relative cwd and control
	 * characters in a title are neutralised */
	const struct {
		const char *json;
		int ret;
		const char *msg;
	} cases[] = {
	    {"not json", -EINVAL, "line 1"},
	    {"{\"active\": 2, \"tabs\": [{}, {}]}", -EINVAL, "\"active\""},
	    {"{\"active\": 0, \"tabs\": []}", -EINVAL, "\"tabs\""},
	    {"{\"active\": 0, \"tabs\": [{\"cwd\": 3}]}", -EINVAL, "tabs[0]"},
	    {"{\"active\": 0, \"tabs\": [{\"cwd\": \"../x\", \"title\": \"a\\u001bb\"}]}", 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(cases[i].json, f);
		fclose(f);
		active = n = -1;
		err = (struct ab_err){0};
		assert_int_equal(sbsave_meta_read(key, &active, &n, out, &err), cases[i].ret);
		if (cases[i].msg) {
			assert_non_null(strstr(err.msg, cases[i].msg));
			assert_int_equal(active, -1);
			assert_int_equal(n, -1);
		}
	}
	assert_int_equal(n, 1);
	assert_string_equal(out[0].cwd, "");
	assert_string_equal(out[0].title, "a?b");
	/* a symlink in its place is not followed */
	unlink(path);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(sbsave_meta_read(key, &active, &n, out, &err), -ELOOP);
	unlink(path);
	/* removed with the window's texts, not with a tab's */
	text = sbsave_meta_dump(0, 1, in);
	assert_int_equal(sbsave_meta_write(key, text, &err), 0);
	free(text);
	sbsave_remove(key, 1);
	assert_int_equal(access(path, F_OK), 0);
	/* pruning knows its name */
	struct timespec ts[2] = {{.tv_sec = time(NULL) - 30 * 86400},
	                         {.tv_sec = time(NULL) - 30 * 86400}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	sbsave_prune(14 * 86400);
	assert_int_equal(access(path, F_OK), -1);
	text = sbsave_meta_dump(0, 1, in);
	assert_int_equal(sbsave_meta_write(key, text, &err), 0);
	free(text);
	sbsave_remove(key, 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sbsave_meta_read(key, &active, &n, out, &err), -ENOENT);
	free(out);
}

static void
test_bounded(void **state)
{
	(void)state;
	const char *key = "terminal-aaaaaaaa";
	size_t n = 400 << 10;
	char *big = ab_xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 100 == 99 ? '\n' : (char)('a' + (i / 100) % 26);
	memcpy(big + n - 6, "LAST\n\n", 6);
	struct ab_err err = {0};
	assert_int_equal(sbsave_write(key, 0, big, n, &err), 0);
	free(big);
	char *got = NULL;
	size_t len = 0;
	time_t when;
	assert_int_equal(sbsave_read(key, 0, &got, &len, &when, &err), 0);
	assert_true(len <= SBSAVE_MAX_BYTES);
	assert_true(len > SBSAVE_MAX_BYTES - 100);
	assert_non_null(strstr(got, "LAST\n")); /* the newest lines are kept */
	assert_true(got[0] >= 'a' && got[0] <= 'z' && got[99] == '\n'); /* from a line start */
	free(got);
}

static void
test_symlink_and_prune(void **state)
{
	(void)state;
	struct ab_err err = {0};
	assert_int_equal(sbsave_write("terminal-00000001", 0, "old\n", 4, &err), 0);
	assert_int_equal(sbsave_write("terminal-00000002", 0, "new\n", 4, &err), 0);
	char *old = sbsave_path("terminal-00000001", 0);
	struct timespec ts[2] = {{.tv_sec = time(NULL) - 30 * 86400},
	                         {.tv_sec = time(NULL) - 30 * 86400}};
	assert_int_equal(utimensat(AT_FDCWD, old, ts, 0), 0);
	sbsave_prune(14 * 86400);
	assert_int_equal(access(old, F_OK), -1);
	char *cur = sbsave_path("terminal-00000002", 0);
	assert_int_equal(access(cur, F_OK), 0);
	/* a symlink in place of a saved text is not followed */
	char target[256];
	snprintf(target, sizeof(target), "%s/secret", dir);
	FILE *f = fopen(target, "w");
	fputs("secret\n", f);
	fclose(f);
	unlink(cur);
	assert_int_equal(symlink(target, cur), 0);
	char *got = NULL;
	size_t len;
	time_t when;
	assert_true(sbsave_read("terminal-00000002", 0, &got, &len, &when, &err) < 0);
	assert_null(got);
	free(old);
	free(cur);
}

AB_TEST_MAIN_FIXTURE(setup, ab_test_dir_teardown, test_keys, test_paths, test_round_trip, test_tabs,
                     test_meta, test_bounded, test_symlink_and_prune)
