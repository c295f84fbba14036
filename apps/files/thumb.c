/* SPDX-License-Identifier: GPL-2.0-or-later */
/* thumb: freedesktop thumbnails made on a worker thread (see thumb.h). */
#include "thumb.h"
#include "ab_err.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
thumb_wanted(const char *mime)
{
	static const char *const types[] = {"image/png",  "image/jpeg", "image/gif",   "image/bmp",
	                                    "image/webp", "image/tiff", "image/x-icon"};
	for (size_t i = 0; mime && i < AB_ARRAY_SIZE(types); i++) {
		if (strcmp(mime, types[i]) == 0)
			return true;
	}
	return false;
}

/* $XDG_CACHE_HOME/thumbnails, or ~/.cache/thumbnails; NULL without either. Owned. */
static char *
thumb_dir(void)
{
	const char *c = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (c && c[0] == '/')
		return ab_xasprintf("%s/thumbnails", c);
	if (home && home[0] == '/')
		return ab_xasprintf("%s/.cache/thumbnails", home);
	return NULL;
}

int
thumb_paths(const char *abs_path, char **ret_uri, char **ret_thumb, char **ret_fail)
{
	if (!abs_path || abs_path[0] != '/')
		return -EINVAL;
	_cleanup_free_ char *dir = thumb_dir();
	if (!dir)
		return -EINVAL;
	gchar *uri = g_filename_to_uri(abs_path, NULL, NULL);
	if (!uri)
		return -EINVAL;
	gchar *md5 = g_compute_checksum_for_string(G_CHECKSUM_MD5, uri, -1);
	if (ret_thumb)
		*ret_thumb = ab_xasprintf("%s/normal/%s.png", dir, md5);
	if (ret_fail)
		*ret_fail = ab_xasprintf("%s/fail/argobox-files/%s.png", dir, md5);
	if (ret_uri)
		*ret_uri = ab_xstrdup(uri);
	g_free(md5);
	g_free(uri);
	return 0;
}

/* The thumbnail (or failure mark) at path is for uri as modified at mtime. */
static bool
thumb_current(const char *path, const char *uri, time_t mtime)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	GdkPixbuf *pb = gdk_pixbuf_new_from_file(path, NULL);
	if (!pb)
		return false;
	const char *u = gdk_pixbuf_get_option(pb, "tEXt::Thumb::URI");
	const char *m = gdk_pixbuf_get_option(pb, "tEXt::Thumb::MTime");
	bool ok = u && m && strcmp(u, uri) == 0 && strtoll(m, NULL, 10) == (long long)mtime;
	g_object_unref(pb);
	return ok;
}

/* Saves pb as the PNG at path with the spec's keys: a temporary file renamed, mode 0600. */
static int
thumb_save(GdkPixbuf *pb, const char *path, const char *uri, time_t mtime, struct ab_err *err)
{
	_cleanup_free_ char *dir = ab_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	char mt[32];
	snprintf(mt, sizeof(mt), "%lld", (long long)mtime);
	_cleanup_free_ char *tmp = ab_xasprintf("%s.argobox-files.%d.tmp", path, (int)getpid());
	GError *ge = NULL;
	if (!gdk_pixbuf_save(pb, tmp, "png", &ge, "tEXt::Thumb::URI", uri, "tEXt::Thumb::MTime", mt,
	                     "tEXt::Software", "argobox-files", NULL)) {
		r = ab_err_set(err, EIO, "writing thumbnail '%s': %s", tmp,
		               ge ? ge->message : "failed");
		g_clear_error(&ge);
		unlink(tmp);
		return r;
	}
	if (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
		r = ab_err_errno(err, errno, "thumbnail '%s'", path);
		unlink(tmp);
		return r;
	}
	return 0;
}

int
thumb_ensure(const char *abs_path, time_t mtime, char **ret_thumb, struct ab_err *err)
{
	_cleanup_free_ char *uri = NULL, *thumb = NULL, *fail = NULL;
	if (thumb_paths(abs_path, &uri, &thumb, &fail) < 0)
		return ab_err_set(err, EINVAL, "no thumbnail place for '%s' (HOME unset?)",
		                  abs_path ? abs_path : "");
	if (thumb_current(thumb, uri, mtime)) {
		*ret_thumb = TAKE_PTR(thumb);
		return 1;
	}
	if (thumb_current(fail, uri, mtime))
		return 0;
	/* only regular files: a FIFO or device would block the worker */
	struct stat st;
	if (stat(abs_path, &st) < 0)
		return ab_err_errno(err, errno, "cannot read '%s'", abs_path);
	if (!S_ISREG(st.st_mode))
		return 0;
	GError *ge = NULL;
	GdkPixbuf *pb =
	    gdk_pixbuf_new_from_file_at_scale(abs_path, THUMB_SIZE, THUMB_SIZE, TRUE, &ge);
	if (!pb) {
		/* not an image we can read: marked, so it is not tried again while unchanged */
		bool unreadable = ge && ge->domain == G_FILE_ERROR;
		g_clear_error(&ge);
		if (unreadable)
			return ab_err_set(err, EACCES, "cannot read '%s'", abs_path);
		GdkPixbuf *mark = gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8, 1, 1);
		gdk_pixbuf_fill(mark, 0);
		struct ab_err e2 = {0};
		if (thumb_save(mark, fail, uri, mtime, &e2) < 0)
			ab_err_set(err, e2.code, "%s", e2.msg);
		g_object_unref(mark);
		return 0;
	}
	int r = thumb_save(pb, thumb, uri, mtime, err);
	g_object_unref(pb);
	if (r < 0)
		return r;
	*ret_thumb = TAKE_PTR(thumb);
	return 1;
}

/* ---- the worker ---- */

struct thumb_job {
	struct thumb_job *next;
	unsigned gen;
	char *path;
	time_t mtime;
};

static void *
thumb_worker(void *data)
{
	struct thumb_queue *q = data;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stop) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		struct thumb_job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);

		struct thumb_done d = {.gen = j->gen, .path = j->path};
		struct ab_err err = {0};
		d.result = thumb_ensure(j->path, j->mtime, &d.thumb, &err);
		free(j);
		/* the loop frees path and thumb; a closed pipe (stopping) frees them here */
		ssize_t n;
		do {
			n = write(q->fd[1], &d, sizeof(d));
		} while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(d)) {
			free(d.path);
			free(d.thumb);
		}
	}
}

int
thumb_queue_start(struct thumb_queue *q, struct ab_err *err)
{
	memset(q, 0, sizeof(*q));
	q->fd[0] = q->fd[1] = -1;
	if (pipe2(q->fd, O_CLOEXEC) < 0)
		return ab_err_errno(err, errno, "thumbnail pipe");
	ab_fd_set_nonblock(q->fd[0], true);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	int r = pthread_create(&q->thread, NULL, thumb_worker, q);
	if (r != 0) {
		close(q->fd[0]);
		close(q->fd[1]);
		q->fd[0] = q->fd[1] = -1;
		return ab_err_errno(err, r, "thumbnail worker");
	}
	q->started = true;
	return 0;
}

void
thumb_queue_clear(struct thumb_queue *q)
{
	if (!q->started)
		return;
	pthread_mutex_lock(&q->lock);
	struct thumb_job *j = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while (j) {
		struct thumb_job *next = j->next;
		free(j->path);
		free(j);
		j = next;
	}
}

void
thumb_queue_add(struct thumb_queue *q, unsigned gen, const char *abs_path, time_t mtime)
{
	if (!q->started)
		return;
	struct thumb_job *j = ab_xcalloc(1, sizeof(*j));
	j->gen = gen;
	j->path = ab_xstrdup(abs_path);
	j->mtime = mtime;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

bool
thumb_queue_read(struct thumb_queue *q, struct thumb_done *ret)
{
	if (!q->started)
		return false;
	ssize_t n;
	do {
		n = read(q->fd[0], ret, sizeof(*ret));
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*ret);
}

void
thumb_queue_stop(struct thumb_queue *q)
{
	if (!q->started)
		return;
	thumb_queue_clear(q);
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	/* the worker may be blocked writing a result: drain while it finishes */
	struct thumb_done d;
	for (;;) {
		while (thumb_queue_read(q, &d)) {
			free(d.path);
			free(d.thumb);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(q->thread, NULL, &ts) == 0)
			break;
	}
	while (thumb_queue_read(q, &d)) {
		free(d.path);
		free(d.thumb);
	}
	close(q->fd[0]);
	close(q->fd[1]);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	q->started = false;
}
