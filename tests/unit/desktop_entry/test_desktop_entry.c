/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_util.h"
#include "desktop_entry.h"

static void
test_parse(void **state)
{
	struct desktop_entry e;
	const char *t = "# comment\n[Desktop Entry]\nType=Application\nName = Files\n"
	                "Comment=Browse files\nExec=nautilus --new-window %U\n"
	                "Categories=GNOME;Utility;Core;\nStartupWMClass=org.gnome.Nautilus\n"
	                "[Desktop Action new]\nName=Other\nExec=bad\n";
	assert_int_equal(desktop_parse("files.desktop", t, &e, NULL), 0);
	assert_string_equal(e.name, "Files");
	assert_string_equal(e.exec, "nautilus --new-window %U");
	assert_string_equal(e.wm_class, "org.gnome.Nautilus");
	assert_int_equal(e.category, DESKTOP_CAT_UTILITY);
	assert_int_equal(desktop_parse("x.desktop",
	                               "[Desktop Entry]\nType=Application\nName=X\n"
	                               "Exec=x\nNoDisplay=true\n",
	                               &e, NULL),
	                 -ENOENT);
	assert_int_equal(
	    desktop_parse("x.desktop", "[Desktop Entry]\nType=Link\nName=X\nExec=x\n", &e, NULL),
	    -ENOENT);
	/* TryExec: shown only when that program is installed (absolute, or on $PATH) */
	assert_int_equal(desktop_parse("x.desktop",
	                               "[Desktop Entry]\nType=Application\nName=X\n"
	                               "TryExec=/nonexistent/ab-no-such-program\nExec=x\n",
	                               &e, NULL),
	                 -ENOENT);
	assert_int_equal(desktop_parse("x.desktop",
	                               "[Desktop Entry]\nType=Application\nName=X\n"
	                               "TryExec=ab-no-such-program-on-path\nExec=x\n",
	                               &e, NULL),
	                 -ENOENT);
	assert_int_equal(desktop_parse("x.desktop",
	                               "[Desktop Entry]\nType=Application\nName=X\n"
	                               "TryExec=/bin/sh\nExec=x\n",
	                               &e, NULL),
	                 0);
	assert_int_equal(desktop_parse("x.desktop",
	                               "[Desktop Entry]\nType=Application\nName=X\n"
	                               "TryExec=sh\nExec=x\n",
	                               &e, NULL),
	                 0);
	assert_int_equal(desktop_parse("x.desktop", "Name=X\n", &e, NULL), -EINVAL);
	assert_int_equal(
	    desktop_parse("x.desktop", "[Desktop Entry]\nType=Application\nExec=x\n", &e, NULL),
	    -EINVAL);
}

static void
test_argv(void **state)
{
	struct desktop_entry e = {.id = "t.desktop"};
	char **argv = NULL;
	snprintf(e.exec, sizeof(e.exec), "%s",
	         "\"/opt/my app/run\" --title \"a \\\"b\\\"\" %U 100%% --x=%f");
	assert_int_equal(desktop_argv(&e, &argv, NULL), 0);
	assert_string_equal(argv[0], "/opt/my app/run");
	assert_string_equal(argv[1], "--title");
	assert_string_equal(argv[2], "a \"b\"");
	assert_string_equal(argv[3], "100%");
	assert_string_equal(argv[4], "--x=");
	assert_null(argv[5]);
	desktop_argv_free(argv);
	snprintf(e.exec, sizeof(e.exec), "%s", "\"unterminated");
	assert_int_equal(desktop_argv(&e, &argv, NULL), -EINVAL);
	snprintf(e.exec, sizeof(e.exec), "%s", "%U %f");
	assert_int_equal(desktop_argv(&e, &argv, NULL), -EINVAL);
}

static void
test_allowed(void **state)
{
	assert_true(desktop_allowed("*", "anything.desktop"));
	assert_true(desktop_allowed("xterm, chromium", "xterm.desktop"));
	assert_true(desktop_allowed("xterm.desktop,chromium", "chromium.desktop"));
	assert_false(desktop_allowed("xterm", "xterm-evil.desktop"));
	assert_false(desktop_allowed("", "xterm.desktop"));
	assert_false(desktop_allowed(NULL, "xterm.desktop"));
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_scan_match_find(void **state)
{
	char dir[] = "/tmp/abwm-unit.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char apps[256], path[512];
	snprintf(apps, sizeof(apps), "%s/applications", dir);
	assert_int_equal(mkdir(apps, 0700), 0);
	snprintf(path, sizeof(path), "%s/xterm.desktop", apps);
	write_file(path, "[Desktop Entry]\nType=Application\nName=Terminal\nExec=xterm\n"
	                 "StartupWMClass=XTerm\nKeywords=shell;\nCategories=System;\n");
	snprintf(path, sizeof(path), "%s/editor.desktop", apps);
	write_file(path, "[Desktop Entry]\nType=Application\nName=Editor\nExec=/usr/bin/ed %F\n"
	                 "Comment=Edit text\nCategories=Utility;TextEditor;\n");
	snprintf(path, sizeof(path), "%s/secret.desktop", apps);
	write_file(path, "[Desktop Entry]\nType=Application\nName=Secret\nExec=secret\n");
	struct desktop_list l;
	desktop_scan(dir, "xterm,editor", &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "Editor"); /* sorted by name */
	assert_null(desktop_find(&l, "secret.desktop"));
	assert_true(desktop_match(desktop_find(&l, "xterm.desktop"), "she"));
	assert_true(desktop_match(desktop_find(&l, "editor.desktop"), "edit TEXT"));
	assert_false(desktop_match(desktop_find(&l, "editor.desktop"), "edit shell"));
	const struct desktop_entry *e = desktop_find_class(&l, "XTerm", "xterm");
	assert_non_null(e);
	assert_string_equal(e->id, "xterm.desktop");
	e = desktop_find_class(&l, "Ed", "ed");
	assert_non_null(e);
	assert_string_equal(e->id, "editor.desktop");
	assert_null(desktop_find_class(&l, "Nope", "nope"));
	desktop_list_free(&l);
	/* profile app names (X-ArgoBox-App) allow the entries that provide them */
	char path2[512];
	snprintf(path2, sizeof(path2), "%s/my-term.desktop", apps);
	write_file(path2, "[Desktop Entry]\nType=Application\nName=My Term\nExec=xterm\n"
	                  "X-ArgoBox-App=terminal\n");
	desktop_scan(dir, "terminal,files", &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].id, "my-term.desktop");
	assert_string_equal(l.v[0].app, "terminal");
	desktop_list_free(&l);
	desktop_scan(dir, "files", &l);
	assert_int_equal(l.n, 0);
	desktop_list_free(&l);
	unlink(path2);
	unlink(path);
	snprintf(path, sizeof(path), "%s/editor.desktop", apps);
	unlink(path);
	snprintf(path, sizeof(path), "%s/xterm.desktop", apps);
	unlink(path);
	rmdir(apps);
	rmdir(dir);
}

/* Where entries are read from: each dir's applications/, in order; the environment, the defaults.
 */
static void
test_app_dirs(void **state)
{
	char **v = desktop_app_dirs("/a:/b::/c");
	assert_string_equal(v[0], "/a/applications");
	assert_string_equal(v[1], "/b/applications");
	assert_string_equal(v[2], "/c/applications");
	assert_null(v[3]);
	desktop_app_dirs_free(v);
	setenv("XDG_DATA_DIRS", "/x", 1);
	v = desktop_app_dirs(NULL);
	assert_string_equal(v[0], "/x/applications");
	assert_null(v[1]);
	desktop_app_dirs_free(v);
	unsetenv("XDG_DATA_DIRS");
	v = desktop_app_dirs("");
	assert_string_equal(v[0], "/usr/local/share/applications");
	assert_string_equal(v[1], "/usr/share/applications");
	assert_null(v[2]);
	desktop_app_dirs_free(v);
}

AB_TEST_MAIN(NULL, NULL, test_parse, test_argv, test_allowed, test_scan_match_find, test_app_dirs);
