/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_usage: how many bytes a home holds, for the quota and the listing.
 *
 * The desktop writes its home directly, so the broker cannot count every byte itself: a
 * scan (`du -sbx`, apparent sizes, one file system, links not followed) runs as a child
 * process watched through its pidfd, so the loop never waits for a big home. Between scans
 * the cached figure moves with what the API itself writes and deletes; a figure older than
 * files.usage_refresh_s is served while a new scan runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "files_internal.h"

extern char **environ;

static struct files_usage *
usage_find(struct files *f, const char *user, bool create)
{
	for (struct files_usage *u = f->usage; u; u = u->next)
		if (strcmp(u->user, user) == 0)
			return u;
	if (!create)
		return NULL;
	struct files_usage *u = ab_xcalloc(1, sizeof(*u));
	snprintf(u->user, sizeof(u->user), "%s", user);
	u->pidfd = u->out = -1;
	u->f = f;
	u->next = f->usage;
	f->usage = u;
	return u;
}

static void
scan_stop(struct files_usage *u)
{
	if (u->watch)
		ab_loop_unwatch(u->f->loop, u->watch);
	u->watch = NULL;
	if (u->pidfd >= 0)
		close(u->pidfd);
	if (u->out >= 0)
		close(u->out);
	u->pidfd = u->out = -1;
	u->pid = 0;
}

static void
on_scan_exit(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files_usage *u = data;
	char buf[256];
	ssize_t n = read(u->out, buf, sizeof(buf) - 1);
	int status = 0;
	waitpid(u->pid, &status, WNOHANG);
	buf[n > 0 ? n : 0] = '\0';
	char *end;
	long long used = strtoll(buf, &end, 10);
	if (n > 0 && end != buf && (*end == '\t' || *end == ' ')) {
		u->known = true;
		u->used = used;
	} else {
		/* du still prints the total when some entry vanished or was unreadable */
		ab_warn("home usage of '%s': du gave no total (status %d)", u->user, status);
	}
	u->scanned_ms = ab_now_ms();
	scan_stop(u);
}

static void
scan_start(struct files_usage *u, const char *dir)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[] = {"du", "-sbx", "--", (char *)dir, NULL};
	pid_t pid;
	int r = posix_spawnp(&pid, "du", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r != 0) {
		close(pfd[0]);
		ab_warn("home usage of '%s': cannot run du: %s", u->user, strerror(r));
		return;
	}
	int pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pfd[0]);
		return;
	}
	u->pid = pid;
	u->pidfd = pidfd;
	u->out = pfd[0];
	u->watch = ab_loop_watch(u->f->loop, pidfd, AB_LOOP_READ, on_scan_exit, u);
}

bool
files_usage_get(struct files *f, const char *user, const char *dir, int64_t *used)
{
	/* an SMB home: argobox-smbfs counts every byte written through it, exactly */
	if (files_smb_enabled(f) && files_smb_usage(dir, used))
		return true;
	struct files_usage *u = usage_find(f, user, true);
	if (!u->pid && (!u->known || ab_now_ms() - u->scanned_ms > f->refresh_ms))
		scan_start(u, dir);
	if (u->known)
		*used = u->used;
	return u->known;
}

void
files_usage_add(struct files *f, const char *user, int64_t delta)
{
	struct files_usage *u = usage_find(f, user, false);
	if (u && u->known)
		u->used = u->used + delta < 0 ? 0 : u->used + delta;
}

json_t *
files_usage_json(struct files *f, const char *user, const struct files_home *h)
{
	int64_t used = 0, limit = files_quota(f, user, h->profile);
	bool known = files_usage_get(f, user, h->dir, &used);
	return json_pack("{s:o, s:o, s:b}", "used", known ? json_integer(used) : json_null(),
	                 "limit", limit > 0 ? json_integer(limit) : json_null(), "known", known);
}

void
files_usage_free_all(struct files *f)
{
	while (f->usage) {
		struct files_usage *u = f->usage;
		f->usage = u->next;
		if (u->pid) {
			kill(u->pid, SIGKILL);
			waitpid(u->pid, NULL, 0);
		}
		scan_stop(u);
		free(u);
	}
}
