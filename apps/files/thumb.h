/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thumb: image thumbnails for argobox-files' icon view, cached as the freedesktop thumbnail
 * spec says (https://specifications.freedesktop.org/thumbnail-spec/latest/), so other
 * programs' thumbnails are ours and ours theirs: $XDG_CACHE_HOME/thumbnails (default
 * ~/.cache/thumbnails) normal/<md5 of the file's URI>.png, at most 128x128, a PNG with
 * tEXt Thumb::URI and Thumb::MTime (a thumbnail whose MTime is not the file's is stale and
 * made again), written to a temporary file and renamed, mode 0600 in 0700 directories.
 * A file that cannot be read as an image gets fail/argobox-files/<md5>.png (1x1, same keys),
 * so it is not tried again until it changes. Images are read and scaled with gdk-pixbuf.
 *
 * thumb_ensure() is slow (it decodes images): the app calls it on the worker of a
 * thumb_queue, never on its loop. No X.
 */
#ifndef FILES_THUMB_H
#define FILES_THUMB_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct ab_err;

#define THUMB_SIZE 128 /* "normal" */

/* Whether files of this MIME type (fs_mime) get a thumbnail: the image types. */
bool thumb_wanted(const char *mime);
/*
 * The file's URI (file://, escaped as GLib does), and the paths of its thumbnail and its
 * failure mark; each owned (free()), NULL when not wanted. -EINVAL for a relative path or no
 * cache directory (neither XDG_CACHE_HOME nor HOME).
 */
int thumb_paths(const char *abs_path, char **ret_uri, char **ret_thumb, char **ret_fail);
/*
 * Makes sure the file (modified at mtime) has a current thumbnail, making it when missing or
 * stale. 1 and *ret_thumb (owned) when it has one; 0 when the file is not an image it can
 * read (marked failed: not tried again until its mtime changes); -errno with err set.
 */
int thumb_ensure(const char *abs_path, time_t mtime, char **ret_thumb, struct ab_err *err);

/*
 * A worker thread making thumbnails one at a time, in the order asked. The app's loop watches
 * fd: each finished job is one struct thumb_done written to it (read with thumb_queue_read).
 * thumb_queue_clear() drops the jobs not started (a new folder); jobs carry the app's
 * generation number so results of an old folder are told apart.
 */
struct thumb_job;
struct thumb_queue {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct thumb_job *head, *tail;
	bool stop, started;
	int fd[2]; /* done: the worker writes [1], the loop reads [0] */
};
struct thumb_done {
	unsigned gen;
	int result;  /* thumb_ensure's */
	char *path;  /* the image (owned by the reader) */
	char *thumb; /* its thumbnail when result is 1 (owned by the reader) */
};

int thumb_queue_start(struct thumb_queue *q, struct ab_err *err);
/* Stops the worker after its current job and frees the queue; accepts a zeroed struct. */
void thumb_queue_stop(struct thumb_queue *q);
void thumb_queue_add(struct thumb_queue *q, unsigned gen, const char *abs_path, time_t mtime);
void thumb_queue_clear(struct thumb_queue *q);
/* Reads the next finished job; false when none is ready. */
bool thumb_queue_read(struct thumb_queue *q, struct thumb_done *ret);
#endif
