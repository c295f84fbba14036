/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-files' thumbnails (thumb.c): the freedesktop spec's place and keys, made once and
 * reused, made again when the image changes, failures marked, and the worker thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_err.h"
#include "ab_util.h"
#include "thumb.h"

#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <poll.h>
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
	unsetenv("XDG_CACHE_HOME");
	return 0;
}

/* A w x h PNG of one colour at path. */
static void
make_png(const char *path, int w, int h, guint32 rgba)
{
	GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8, w, h);
	gdk_pixbuf_fill(pb, rgba);
	assert_true(gdk_pixbuf_save(pb, path, "png", NULL, NULL));
	g_object_unref(pb);
}

static void
test_paths(void **state)
{
	(void)state;
	char *uri = NULL, *thumb = NULL, *fail = NULL;
	assert_int_equal(thumb_paths("/home/u/a b/pic.png", &uri, &thumb, &fail), 0);
	/* the spec's example scheme: md5 of the escaped file URI */
	assert_string_equal(uri, "file:///home/u/a%20b/pic.png");
	gchar *md5 = g_compute_checksum_for_string(G_CHECKSUM_MD5, uri, -1);
	char want[512];
	snprintf(want, sizeof(want), "%s/.cache/thumbnails/normal/%s.png", dir, md5);
	assert_string_equal(thumb, want);
	snprintf(want, sizeof(want), "%s/.cache/thumbnails/fail/argobox-files/%s.png", dir, md5);
	assert_string_equal(fail, want);
	g_free(md5);
	free(uri);
	free(thumb);
	free(fail);
	setenv("XDG_CACHE_HOME", "/xc", 1);
	assert_int_equal(thumb_paths("/p.png", NULL, &thumb, NULL), 0);
	assert_true(strncmp(thumb, "/xc/thumbnails/normal/", 22) == 0);
	free(thumb);
	unsetenv("XDG_CACHE_HOME");
	assert_int_equal(thumb_paths("relative.png", NULL, &thumb, NULL), -EINVAL);
	assert_true(thumb_wanted("image/png"));
	assert_true(thumb_wanted("image/jpeg"));
	assert_false(thumb_wanted("text/plain"));
	assert_false(thumb_wanted(NULL));
}

static void
test_make_and_reuse(void **state)
{
	(void)state;
	char img[512];
	snprintf(img, sizeof(img), "%s/big.png", dir);
	make_png(img, 640, 320, 0xff0000ff);
	struct stat st;
	assert_int_equal(stat(img, &st), 0);
	struct ab_err err = {0};
	char *thumb = NULL;
	assert_int_equal(thumb_ensure(img, st.st_mtime, &thumb, &err), 1);
	/* at most 128 px, the aspect kept, the spec's keys, 0600 in a 0700 directory */
	GdkPixbuf *pb = gdk_pixbuf_new_from_file(thumb, NULL);
	assert_non_null(pb);
	assert_int_equal(gdk_pixbuf_get_width(pb), 128);
	assert_int_equal(gdk_pixbuf_get_height(pb), 64);
	char *uri = NULL;
	assert_int_equal(thumb_paths(img, &uri, NULL, NULL), 0);
	assert_string_equal(gdk_pixbuf_get_option(pb, "tEXt::Thumb::URI"), uri);
	char mt[32];
	snprintf(mt, sizeof(mt), "%lld", (long long)st.st_mtime);
	assert_string_equal(gdk_pixbuf_get_option(pb, "tEXt::Thumb::MTime"), mt);
	g_object_unref(pb);
	struct stat ts;
	assert_int_equal(stat(thumb, &ts), 0);
	assert_int_equal(ts.st_mode & 0777, 0600);
	char d[512];
	snprintf(d, sizeof(d), "%s/.cache/thumbnails/normal", dir);
	struct stat ds;
	assert_int_equal(stat(d, &ds), 0);
	assert_int_equal(ds.st_mode & 0777, 0700);
	/* a second time: the same file, not written again */
	struct timespec old = {.tv_sec = 1000000000};
	struct timespec times[2] = {old, old};
	assert_int_equal(utimensat(AT_FDCWD, thumb, times, 0), 0);
	char *again = NULL;
	assert_int_equal(thumb_ensure(img, st.st_mtime, &again, &err), 1);
	assert_string_equal(again, thumb);
	assert_int_equal(stat(thumb, &ts), 0);
	assert_int_equal(ts.st_mtime, 1000000000);
	free(again);
	/* the image changed (another mtime): made again, with the new MTime */
	assert_int_equal(thumb_ensure(img, st.st_mtime + 5, &again, &err), 1);
	assert_int_equal(stat(thumb, &ts), 0);
	assert_true(ts.st_mtime > 1000000000);
	pb = gdk_pixbuf_new_from_file(thumb, NULL);
	snprintf(mt, sizeof(mt), "%lld", (long long)st.st_mtime + 5);
	assert_string_equal(gdk_pixbuf_get_option(pb, "tEXt::Thumb::MTime"), mt);
	g_object_unref(pb);
	/* no temporary file left next to it */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", d);
	assert_int_not_equal(system(cmd), 0);
	free(again);
	free(uri);
	free(thumb);
}

static void
test_not_an_image(void **state)
{
	(void)state;
	char img[512];
	snprintf(img, sizeof(img), "%s/fake.png", dir);
	FILE *f = fopen(img, "w");
	fputs("not a png at all\n", f);
	fclose(f);
	struct ab_err err = {0};
	char *thumb = NULL;
	assert_int_equal(thumb_ensure(img, 42, &thumb, &err), 0);
	assert_null(thumb);
	char *fail = NULL;
	assert_int_equal(thumb_paths(img, NULL, NULL, &fail), 0);
	assert_int_equal(access(fail, F_OK), 0); /* marked: not tried again while unchanged */
	assert_int_equal(thumb_ensure(img, 42, &thumb, &err), 0);
	free(fail);
	/* a FIFO is not opened (it would block the worker) */
	snprintf(img, sizeof(img), "%s/fifo.png", dir);
	assert_int_equal(mkfifo(img, 0600), 0);
	assert_int_equal(thumb_ensure(img, 1, &thumb, &err), 0);
	assert_null(thumb);
	/* a file that cannot be read is an error, not a mark */
	snprintf(img, sizeof(img), "%s/missing.png", dir);
	assert_true(thumb_ensure(img, 1, &thumb, &err) < 0);
	assert_non_null(strstr(err.msg, "missing.png"));
}

static void
test_queue(void **state)
{
	(void)state;
	struct thumb_queue q;
	struct ab_err err = {0};
	assert_int_equal(thumb_queue_start(&q, &err), 0);
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/a.png", dir);
	snprintf(b, sizeof(b), "%s/b.txt.png", dir);
	make_png(a, 50, 50, 0x00ff00ff);
	FILE *f = fopen(b, "w");
	fputs("text", f);
	fclose(f);
	thumb_queue_add(&q, 7, a, 1);
	thumb_queue_add(&q, 7, b, 1);
	int got = 0;
	for (int tries = 0; got < 2 && tries < 200; tries++) {
		struct pollfd p = {.fd = q.fd[0], .events = POLLIN};
		poll(&p, 1, 50);
		struct thumb_done d;
		while (thumb_queue_read(&q, &d)) {
			assert_int_equal(d.gen, 7);
			if (strcmp(d.path, a) == 0) {
				assert_int_equal(d.result, 1);
				assert_non_null(d.thumb);
			} else {
				assert_string_equal(d.path, b);
				assert_int_equal(d.result, 0);
			}
			free(d.path);
			free(d.thumb);
			got++;
		}
	}
	assert_int_equal(got, 2);
	/* jobs left when it stops are dropped, nothing leaks (ASan) */
	for (int i = 0; i < 20; i++)
		thumb_queue_add(&q, 8, a, 1);
	thumb_queue_stop(&q);
}

AB_TEST_MAIN_FIXTURE(setup, ab_test_dir_teardown, test_paths, test_make_and_reuse,
                     test_not_an_image, test_queue)
