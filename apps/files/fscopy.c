/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fscopy: copy and move through cp -a / mv in a child (see fscopy.h). */
#include "fscopy.h"
#include "ab_err.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The copies running (their children not reaped yet), whose targets are taken. */
#define RUNNING_MAX 64
static const struct fs_copy *running[RUNNING_MAX];

static bool
copy_target_taken(const char *path)
{
	for (size_t i = 0; i < RUNNING_MAX; i++) {
		if (running[i] && running[i]->dst && strcmp(running[i]->dst, path) == 0)
			return true;
	}
	return false;
}

static void
copy_running_set(const struct fs_copy *c, bool on)
{
	for (size_t i = 0; i < RUNNING_MAX; i++) {
		if (on ? !running[i] : running[i] == c) {
			running[i] = on ? c : NULL;
			return;
		}
	}
}

int
fs_copy_target(const char *dir, const char *name, bool is_dir, char *out, size_t size)
{
	const char *dot = is_dir ? NULL : strrchr(name, '.');
	if (dot == name)
		dot = NULL; /* ".bashrc" has no extension */
	int base = dot ? (int)(dot - name) : (int)strlen(name);
	for (int i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(out, size, "%s/%s", dir, name);
		else if (i == 1)
			snprintf(out, size, "%s/%.*s (copy)%s", dir, base, name, dot ? dot : "");
		else
			snprintf(out, size, "%s/%.*s (copy %d)%s", dir, base, name, i,
			         dot ? dot : "");
		struct stat st;
		if (lstat(out, &st) < 0 && errno == ENOENT && !copy_target_taken(out))
			return 0;
	}
	return -EEXIST;
}

static uint64_t tree_bytes;
static size_t tree_entries;

static int
tree_add(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F)
		tree_bytes += (uint64_t)st->st_size;
	return ++tree_entries > 200000 ? 1 : 0;
}

uint64_t
fs_tree_bytes(const char *path)
{
	tree_bytes = 0;
	tree_entries = 0;
	nftw(path, tree_add, 16, FTW_PHYS);
	return tree_bytes;
}

uint64_t
fs_copy_done_bytes(const struct fs_copy *c)
{
	return c->dst ? fs_tree_bytes(c->dst) : 0;
}

static void
copy_clear(struct fs_copy *c)
{
	copy_running_set(c, false);
	free(c->src);
	free(c->dst);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct fs_copy){.pid = -1, .fd = -1};
}

int
fs_copy_start(struct fs_copy *c, const char *src, const char *dst_dir, bool move,
              struct ab_err *err)
{
	*c = (struct fs_copy){.pid = -1, .fd = -1, .move = move};
	struct stat st;
	char rsrc[PATH_MAX], rdst[PATH_MAX];
	if (lstat(src, &st) < 0 || !realpath(src, rsrc))
		return ab_err_errno(err, errno, "'%s'", src);
	if (!realpath(dst_dir, rdst))
		return ab_err_errno(err, errno, "'%s'", dst_dir);
	size_t n = strlen(rsrc);
	if (S_ISDIR(st.st_mode) && strncmp(rdst, rsrc, n) == 0 && (rdst[n] == '/' || !rdst[n]))
		return ab_err_set(err, EINVAL, "cannot %s '%s' into itself", move ? "move" : "copy",
		                  src);
	const char *slash = strrchr(rsrc, '/');
	const char *name = slash ? slash + 1 : rsrc;
	char dst[PATH_MAX];
	if (move && slash && strncmp(rsrc, rdst, (size_t)(slash - rsrc)) == 0 &&
	    (size_t)(slash - rsrc) == strlen(rdst))
		return ab_err_set(err, EEXIST, "'%s' is already in this folder", name);
	if (fs_copy_target(rdst, name, S_ISDIR(st.st_mode), dst, sizeof(dst)) < 0)
		return ab_err_set(err, EEXIST, "no free name for '%s' in '%s'", name, rdst);
	c->src = ab_xstrdup(rsrc);
	c->dst = ab_xstrdup(dst);
	if (move && rename(rsrc, dst) == 0)
		return 0; /* one file system: done */
	if (move && errno != EXDEV) {
		int e = errno;
		copy_clear(c);
		return ab_err_errno(err, e, "moving '%s'", name);
	}
	c->total = fs_tree_bytes(rsrc);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		copy_clear(c);
		return ab_err_errno(err, e, "pipe");
	}
	/* the child keeps the write end open (not close-on-exec) until it exits */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char *const cp[] = {"cp", "-a", "-n", "--", c->src, c->dst, NULL};
	char *const mv[] = {"mv", "-n", "--", c->src, c->dst, NULL};
	int r = posix_spawnp(&c->pid, move ? "mv" : "cp", &fa, NULL, move ? mv : cp, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		copy_clear(c);
		return ab_err_errno(err, r, "starting %s", move ? "mv" : "cp");
	}
	c->fd = p[0];
	copy_running_set(c, true);
	return 0;
}

static int
tree_remove(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

int
fs_copy_cancel(struct fs_copy *c)
{
	if (c->pid <= 0) {
		copy_clear(c);
		return -ESRCH;
	}
	kill(c->pid, SIGTERM);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->pid = -1;
	if (!c->move && c->dst)
		nftw(c->dst, tree_remove, 16, FTW_DEPTH | FTW_PHYS);
	copy_clear(c);
	return 0;
}

int
fs_copy_finish(struct fs_copy *c, struct ab_err *err)
{
	int r = 0;
	if (c->pid > 0) {
		int st = 0;
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			r = ab_err_set(err, EIO, "%s of '%s' failed (%s %d)",
			               c->move ? "moving" : "copying", c->src,
			               WIFEXITED(st) ? "exit status" : "signal",
			               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
	copy_clear(c);
	return r;
}
