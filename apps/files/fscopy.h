/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fscopy: argobox-files' copy and move (Ctrl+C / Ctrl+X, then Ctrl+V), off the window's loop:
 * the work is done by coreutils' cp -a / mv in a child process, watched through a pipe that
 * closes when it exits; progress is the size found at the target against the source's. Several
 * may run at once, each in its own child: a target name one of them is writing is not handed to
 * another (fs_copy_target skips it). No X: unit-tested.
 */
#ifndef FILES_FSCOPY_H
#define FILES_FSCOPY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ab_err;

struct fs_copy {
	char *src, *dst; /* owned */
	bool move;
	pid_t pid;      /* -1: none running */
	int fd;         /* read end of the pipe the child holds; EOF when it exits, or -1 */
	uint64_t total; /* bytes under src when it started */
};

/*
 * A name in `dir` for `name` that does not exist yet and is not the target of a copy running:
 * name, "name (copy)", "name (copy 2)", ...
 * (before the extension of a file: "a (copy).txt"). 0 and out (PATH_MAX bytes) filled with the
 * full path, or -EEXIST after 999 tries.
 */
int fs_copy_target(const char *dir, const char *name, bool is_dir, char *out, size_t size);

/*
 * Starts copying (move: moving) `src` into the folder `dst_dir` under a free name. A move
 * within one file system is a rename, done at once (c->pid stays -1). Refuses a folder into
 * itself or below itself (-EINVAL) and a missing source (-ENOENT). 0 or -errno with err set.
 */
int fs_copy_start(struct fs_copy *c, const char *src, const char *dst_dir, bool move,
                  struct ab_err *err);
/* Bytes found under the target so far (the progress against c->total). */
uint64_t fs_copy_done_bytes(const struct fs_copy *c);
/*
 * After the pipe's EOF (or to wait for it): reaps the child. 0 when it succeeded, else -EIO
 * with err naming the exit status. Frees what c holds either way.
 */
int fs_copy_finish(struct fs_copy *c, struct ab_err *err);
/*
 * Stops a running copy or move: its child is killed and reaped. A copy's partial target is
 * removed (not following symlinks); a move's target is left as it is (mv may already have
 * removed some of the source: what it moved stays at the target). Frees what c holds; returns
 * 0, or -ESRCH when nothing was running.
 */
int fs_copy_cancel(struct fs_copy *c);
/* Bytes of files under path (a file: its size), stopping after 200 000 entries. */
uint64_t fs_tree_bytes(const char *path);
#endif
