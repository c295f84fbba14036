/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_jobs: the files API's work that walks a whole tree — copy, and a directory as a
 * streamed tar — done by child processes, so the loop never waits for a big directory.
 *
 * The broker opens what the child works on beneath the home (files_open_parent(), no link
 * on the way) and forks; the child keeps only those fds (everything else closed, so no
 * client socket lives on in it), drops to the uid/gid the desktop sees as the home's owner
 * (so the kernel's permissions apply and what it creates is the user's) and dies with the
 * broker. It reaches every name with *at() calls and O_NOFOLLOW from those fds: a link is
 * copied or archived as a link, never followed.
 *
 * Copy: the child sums the source's sizes and refuses when they do not fit the quota
 * (before writing a byte), copies to ".argobox-copy-<pid>" beside the target and renames
 * it into place without replacing, removing the temporary tree on any failure; it reports
 * one line on a pipe when done. The answer is 202 with a streamed JSON body that arrives
 * when the copy is over: {"path","to","bytes"} or {"error","status"}. The copy goes on
 * when the client leaves.
 *
 * Archive: the child writes a pax tar or a zip (libarchive; the zip's entries are stored
 * with their sizes in data descriptors after the data, so it streams) to a pipe; the loop
 * reads the pipe only
 * when the client can take more (the pipe's 64 KiB are the buffer; the child blocks when it
 * is full), so memory stays flat for any tree. A client that leaves kills the child.
 *
 * Both are watched through a pidfd, at most JOBS_MAX at once, each audited when it starts
 * and when it ends ("files.copy", "files.archive").
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "files_internal.h"

#define JOBS_MAX      16  /* copies and archives running at once, all users */
#define JOB_DEPTH_MAX 256 /* nested folders a job walks */
#define JOB_SLICE     (64 << 10)

enum job_kind { JOB_COPY, JOB_ARCHIVE };

struct files_job {
	struct files *f;
	enum job_kind kind;
	char user[64], role[16], peer[64]; /* as in struct http_request */
	char *path, *to;
	pid_t pid;
	int pidfd, out; /* out: the tar bytes (archive), the result line (copy) */
	struct ab_watch *pidw, *outw;
	struct http_stream *h;
	bool child_done, stream_gone, eof;
	int status;    /* the child's wait status */
	int64_t bytes; /* archive: bytes sent */
	char *answer;  /* copy: the JSON body, once done */
	size_t answer_len, answer_off;
	struct files_job *next;
};

/* ---- in the child ---- */

struct walk_count {
	int64_t bytes, skipped;
};

static int
size_tree(int dp, const char *name, int depth, struct walk_count *c)
{
	struct stat st;
	if (depth > JOB_DEPTH_MAX)
		return -EMLINK;
	if (fstatat(dp, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		c->bytes += st.st_size;
	if (!S_ISDIR(st.st_mode))
		return 0;
	int fd = openat(dp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	int r = 0;
	for (struct dirent *de; r >= 0 && (de = readdir(d));)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = size_tree(dirfd(d), de->d_name, depth + 1, c);
	closedir(d);
	return r;
}

static void
rm_tree(int dp, const char *name, int depth)
{
	struct stat st;
	if (depth > JOB_DEPTH_MAX || fstatat(dp, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		for (struct dirent *de; d && (de = readdir(d));)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				rm_tree(dirfd(d), de->d_name, depth + 1);
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
	}
	unlinkat(dp, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

/* Opens a regular file `name` beneath dp for reading: not a link, the one fstatat saw. */
static int
open_file(int dp, const char *name, const struct stat *st, uid_t owner)
{
	if (st->st_nlink > 1 && st->st_uid != owner)
		return -EPERM; /* a hard link to someone else's file, as for downloads */
	int fd = openat(dp, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat now;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino ||
	    now.st_dev != st->st_dev) {
		close(fd);
		return -ESTALE; /* swapped under us */
	}
	return fd;
}

static int
copy_data(int in, int out)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	char buf[JOB_SLICE];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0)
			return -errno;
		int r = ab_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

static int
copy_tree(int sp, const char *sname, int dp, const char *dname, uid_t owner, int depth,
          struct walk_count *c)
{
	struct stat st;
	if (depth > JOB_DEPTH_MAX)
		return -EMLINK;
	if (fstatat(sp, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sp, sname, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, dp, dname) < 0)
			return -errno;
		utimensat(dp, dname, times, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int in = open_file(sp, sname, &st, owner);
		if (in < 0)
			return in;
		_cleanup_close_ int out =
		    openat(dp, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		int r = copy_data(in, out);
		if (r < 0)
			return r;
		fchmod(out, st.st_mode & 0777);
		futimens(out, times);
		c->bytes += st.st_size;
		return 0;
	}
	if (S_ISFIFO(st.st_mode))
		return mkfifoat(dp, dname, st.st_mode & 0777) < 0 ? -errno : 0;
	if (!S_ISDIR(st.st_mode)) {
		c->skipped++; /* sockets and devices are not copied */
		return 0;
	}
	if (mkdirat(dp, dname, 0700) < 0)
		return -errno;
	_cleanup_close_ int dfd =
	    openat(dp, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int sfd = openat(sp, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
	if (dfd < 0 || !d) {
		int e = -errno;
		if (sfd >= 0 && !d)
			close(sfd);
		if (d)
			closedir(d);
		return e;
	}
	int r = 0;
	for (struct dirent *de; r >= 0 && (de = readdir(d));)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = copy_tree(dirfd(d), de->d_name, dfd, de->d_name, owner, depth + 1, c);
	closedir(d);
	if (r >= 0) {
		fchmod(dfd, st.st_mode & 0777);
		futimens(dfd, times);
	}
	return r;
}

/*
 * The copy child: fd 3 the source's parent, 4 the target's parent, 5 the result pipe.
 * Writes "<0 | -errno | 1 (quota)> <bytes of the source> <bytes copied> <skipped>\n".
 */
static void
copy_child(const char *sname, const char *dname, int64_t allowance, uid_t owner)
{
	struct walk_count total = {0}, done = {0};
	int r = size_tree(3, sname, 0, &total);
	if (r >= 0 && allowance >= 0 && total.bytes > allowance)
		r = 1;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".argobox-copy-%d", (int)getpid());
	if (r == 0)
		r = copy_tree(3, sname, 4, tmp, owner, 0, &done);
	if (r == 0 && renameat2(4, tmp, 4, dname, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r != 0)
		rm_tree(4, tmp, 0);
	dprintf(5, "%d %lld %lld %lld\n", r, (long long)total.bytes, (long long)done.bytes,
	        (long long)done.skipped);
}

static int
archive_tree(struct archive *a, int dp, const char *name, const char *apath, uid_t owner, int depth)
{
	struct stat st;
	if (depth > JOB_DEPTH_MAX)
		return -EMLINK;
	if (fstatat(dp, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
		return 0; /* FIFOs, sockets, devices: not in the archive */
	_cleanup_close_ int fd = -1;
	char target[PATH_MAX];
	if (S_ISREG(st.st_mode)) {
		fd = open_file(dp, name, &st, owner);
		if (fd < 0)
			return 0; /* unreadable or someone else's: left out */
	} else if (S_ISDIR(st.st_mode)) {
		fd = openat(dp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return 0;
	} else {
		ssize_t n = readlinkat(dp, name, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = '\0';
	}
	struct archive_entry *e = archive_entry_new();
	archive_entry_copy_stat(e, &st);
	archive_entry_set_uid(e, 0); /* the host's ids mean nothing to the receiver */
	archive_entry_set_gid(e, 0);
	archive_entry_copy_pathname(e, apath);
	if (S_ISLNK(st.st_mode))
		archive_entry_copy_symlink(e, target);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode)) {
		/* at most the size in the header; libarchive pads a file that shrank */
		char buf[JOB_SLICE];
		int64_t left = st.st_size;
		while (left > 0) {
			ssize_t n = read(fd, buf, (size_t)AB_MIN(left, (int64_t)sizeof(buf)));
			if (n <= 0)
				break;
			if (archive_write_data(a, buf, (size_t)n) < 0)
				return -EIO;
			left -= n;
		}
		return archive_write_finish_entry(a) == ARCHIVE_OK ? 0 : -EIO;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	for (struct dirent *de; r >= 0 && (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *sub = ab_xasprintf("%s/%s", apath, de->d_name);
		r = archive_tree(a, fd, de->d_name, sub, owner, depth + 1);
	}
	closedir(d);
	return r;
}

/*
 * The archive child: fd 3 the directory's parent, 4 the pipe the tar or zip goes to. A zip
 * is deflated at level 1 (fast: the link is usually slower than the compressor) with
 * Zip64 extensions where a file needs them; libarchive writes each entry's sizes after its data, so
 * nothing is seeked back and memory stays flat.
 */
static int
archive_child(const char *name, const char *top, uid_t owner, bool zip)
{
	struct archive *a = archive_write_new();
	int r = zip ? archive_write_set_format_zip(a) : archive_write_set_format_pax_restricted(a);
	if (r == ARCHIVE_OK && zip)
		r = archive_write_set_options(a, "zip:compression=deflate,zip:compression-level=1");
	/* one write per 64 KiB block, and no padding of the last (a zip has no blocks) */
	if (r == ARCHIVE_OK && zip)
		r = archive_write_set_bytes_in_last_block(a, 1);
	if (r != ARCHIVE_OK || archive_write_open_fd(a, 4) != ARCHIVE_OK)
		return 1;
	r = archive_tree(a, 3, name, top, owner, 0);
	if (archive_write_close(a) != ARCHIVE_OK)
		r = -EIO;
	archive_write_free(a);
	return r < 0 ? 1 : 0;
}

/*
 * Forks a job's child: fds[i] become i + 3, every other fd is closed, the child dies with
 * the broker and runs as h's uid/gid. Returns the pid (0 in the child) or -errno.
 */
static pid_t
job_fork(const int *fds, int nfds, const struct files_home *h)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	int high[4];
	for (int i = 0; i < nfds; i++)
		high[i] = fcntl(fds[i], F_DUPFD, 64);
	for (int i = 0; i < nfds; i++)
		if (high[i] < 0 || dup2(high[i], i + 3) < 0)
			_exit(126);
	close_range((unsigned)nfds + 3, ~0U, 0);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(h->gid, h->gid, h->gid) < 0 || setresuid(h->uid, h->uid, h->uid) < 0)
		_exit(126);
	umask(022);
	return 0;
}

/* ---- in the broker ---- */

static void
job_audit(struct files_job *j, const char *event, enum audit_outcome o, json_t *detail)
{
	json_object_set_new(detail, "path", json_string(j->path));
	if (j->to)
		json_object_set_new(detail, "to", json_string(j->to));
	audit_log(event, o, j->user, j->role[0] ? j->role : NULL, j->peer, detail);
}

static void
job_free_maybe(struct files_job *j)
{
	if (!j->child_done || !j->stream_gone)
		return;
	struct files *f = j->f;
	if (j->kind == JOB_ARCHIVE) {
		bool ok = j->eof && WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0;
		json_t *det = json_pack("{sssI}", "step", ok ? "done" : "failed", "bytes",
		                        (json_int_t)j->bytes);
		if (!ok)
			json_object_set_new(det, "reason",
			                    json_string(j->eof ? "the archive child failed"
			                                       : "the client left before the end"));
		job_audit(j, "files.archive", ok ? AUDIT_INFO : AUDIT_FAILURE, det);
	}
	for (struct files_job **p = &f->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			f->njobs--;
			break;
		}
	if (j->outw)
		ab_loop_unwatch(f->loop, j->outw);
	if (j->out >= 0)
		close(j->out);
	free(j->path);
	free(j->to);
	free(j->answer);
	free(j);
}

static void
copy_finish(struct files_job *j)
{
	char line[128] = "";
	ssize_t n = read(j->out, line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	int r = -EIO;
	long long total = 0, done = 0, skipped = 0;
	if (sscanf(line, "%d %lld %lld %lld", &r, &total, &done, &skipped) != 4)
		r = -EIO;
	json_t *body;
	if (r == 0) {
		files_usage_add(j->f, j->user, done);
		job_audit(j, "files.copy", AUDIT_INFO,
		          json_pack("{sssIsI}", "step", "done", "bytes", (json_int_t)done,
		                    "skipped", (json_int_t)skipped));
		body = json_pack("{sssssIsI}", "path", j->path, "to", j->to, "bytes",
		                 (json_int_t)done, "skipped", (json_int_t)skipped);
	} else if (r == 1) {
		job_audit(j, "files.quota", AUDIT_DENY,
		          json_pack("{sssI}", "reason", "quota exceeded by a copy", "bytes",
		                    (json_int_t)total));
		body = json_pack("{sssi}", "error", "quota exceeded: the copy does not fit",
		                 "status", 413);
	} else {
		const char *why = r == -EMLINK ? "folders nested too deep" : files_strerror(r);
		job_audit(j, "files.copy", AUDIT_FAILURE,
		          json_pack("{ssss}", "step", "failed", "reason", why));
		body = json_pack("{sssi}", "error", why, "status", files_status(r));
	}
	j->answer = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	j->answer_len = strlen(j->answer);
	if (j->h)
		server_stream_wake(j->h);
}

static void
on_child_exit(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files_job *j = data;
	waitpid(j->pid, &j->status, 0);
	ab_loop_unwatch(loop, j->pidw);
	j->pidw = NULL;
	close(j->pidfd);
	j->pidfd = -1;
	j->child_done = true;
	if (j->kind == JOB_COPY)
		copy_finish(j);
	else if (j->h)
		server_stream_wake(j->h); /* the pipe's last bytes, then the end */
	job_free_maybe(j);
}

static void
on_out_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files_job *j = data;
	ab_loop_watch_update(loop, j->outw, 0); /* until the client takes more */
	if (j->h)
		server_stream_wake(j->h);
}

static void
job_start(void *ctx, struct http_stream *h)
{
	struct files_job *j = ctx;
	j->h = h;
	if (j->kind == JOB_ARCHIVE)
		j->outw = ab_loop_watch(j->f->loop, j->out, AB_LOOP_READ, on_out_readable, j);
	else if (j->answer)
		server_stream_wake(h);
}

static long
job_read(void *ctx, char *buf, size_t cap)
{
	struct files_job *j = ctx;
	if (j->kind == JOB_COPY) {
		if (!j->answer)
			return 0;
		if (j->answer_off == j->answer_len)
			return -1;
		size_t n = AB_MIN(cap, j->answer_len - j->answer_off);
		memcpy(buf, j->answer + j->answer_off, n);
		j->answer_off += n;
		return (long)n;
	}
	ssize_t n = read(j->out, buf, cap);
	if (n > 0) {
		j->bytes += n;
		return (long)n;
	}
	if (n == 0) {
		j->eof = true;
		return -1;
	}
	if (errno == EAGAIN || errno == EINTR) {
		ab_loop_watch_update(j->f->loop, j->outw, AB_LOOP_READ);
		return 0;
	}
	return -1;
}

static void
job_close(void *ctx)
{
	struct files_job *j = ctx;
	j->h = NULL;
	j->stream_gone = true;
	if (j->kind == JOB_ARCHIVE && !j->child_done)
		kill(j->pid, SIGKILL); /* nobody reads it any more */
	job_free_maybe(j);
}

static const struct http_stream_ops job_ops = {job_start, job_read, job_close};

/* Registers a forked child as a job; the pidfd is watched. */
static struct files_job *
job_add(struct files *f, enum job_kind kind, const struct http_request *req, pid_t pid, int out,
        const char *rel, const char *to)
{
	struct files_job *j = ab_xcalloc(1, sizeof(*j));
	j->f = f;
	j->kind = kind;
	snprintf(j->user, sizeof(j->user), "%s", req->user);
	snprintf(j->role, sizeof(j->role), "%s", req->role);
	snprintf(j->peer, sizeof(j->peer), "%s", req->peer);
	j->path = ab_xstrdup(rel);
	j->to = to ? ab_xstrdup(to) : NULL;
	j->pid = pid;
	j->out = out;
	j->pidfd = (int)pidfd_open(pid, 0);
	if (j->pidfd < 0) { /* out of fds: the job fails now rather than go unwatched */
		kill(pid, SIGKILL);
		waitpid(pid, &j->status, 0);
		j->child_done = true;
		if (kind == JOB_COPY)
			copy_finish(j); /* no result line: answers the failure */
	} else {
		j->pidw = ab_loop_watch(f->loop, j->pidfd, AB_LOOP_READ, on_child_exit, j);
	}
	j->next = f->jobs;
	f->jobs = j;
	f->njobs++;
	return j;
}

static void
refuse(const char *event, struct http_request *req, struct http_response *resp, const char *rel,
       const char *to, int status, const char *why)
{
	files_audit(event, AUDIT_DENY, req,
	            json_pack("{ssss?ss}", "path", rel, "to", to, "reason", why));
	http_response_error(resp, status, why);
}

/* The job's pipe (both ends close-on-exec, blocking), unless too many jobs run. */
static int
job_pipe(struct files *f, const char *event, struct http_request *req, struct http_response *resp,
         const char *rel, const char *to, int pfd[2])
{
	if (f->njobs >= JOBS_MAX) {
		refuse(event, req, resp, rel, to, 503, "too many copies and archives running");
		return -EAGAIN;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		refuse(event, req, resp, rel, to, 500, "cannot start a child process");
		return -errno;
	}
	return 0;
}

void
files_copy_start(struct files *f, struct http_request *req, struct http_response *resp, int homefd,
                 const char *rel, const char *to, const struct files_home *h)
{
	const char *why = NULL;
	size_t rl = strlen(rel);
	if (!to) {
		refuse("files.copy", req, resp, rel, to, 400,
		       "copy needs \"to\": the new path relative to the home");
		return;
	}
	if (files_path_check(to, &why) < 0 || !to[0]) {
		refuse("files.copy", req, resp, rel, to, 400, why ? why : "empty target");
		return;
	}
	if (strcmp(to, rel) == 0 || (strncmp(to, rel, rl) == 0 && to[rl] == '/')) {
		refuse("files.copy", req, resp, rel, to, 400,
		       "a folder cannot be copied into itself");
		return;
	}
	char sname[FILES_NAME_MAX + 1], dname[FILES_NAME_MAX + 1];
	_cleanup_close_ int sp = files_open_parent(homefd, rel, sname, sizeof(sname));
	_cleanup_close_ int dp = files_open_parent(homefd, to, dname, sizeof(dname));
	struct stat st, dst;
	int r = sp < 0 ? sp : fstatat(sp, sname, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r >= 0)
		r = dp < 0 ? dp : fstatat(dp, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0 ? -EEXIST : 0;
	if (r < 0) {
		refuse("files.copy", req, resp, rel, to, files_status(r), files_strerror(r));
		return;
	}
	int64_t limit = files_quota(f, req->user, h->profile), used = 0, allowance = -1;
	if (limit > 0)
		allowance = files_usage_get(f, req->user, h->dir, &used) ? limit - used : limit;
	if (allowance >= 0 && S_ISREG(st.st_mode) && st.st_size > allowance) {
		files_audit("files.quota", AUDIT_DENY, req,
		            json_pack("{sssssIsIss}", "path", rel, "to", to, "bytes",
		                      (json_int_t)st.st_size, "quota", (json_int_t)limit, "reason",
		                      "quota exceeded by a copy"));
		http_response_error(resp, 413, "quota exceeded: the copy does not fit");
		return;
	}
	int pfd[2];
	if (job_pipe(f, "files.copy", req, resp, rel, to, pfd) < 0)
		return;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	int fds[] = {sp, dp, pfd[1]};
	pid_t pid = job_fork(fds, 3, h);
	if (pid == 0) {
		copy_child(sname, dname, allowance, h->uid);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		refuse("files.copy", req, resp, rel, to, 500, "cannot start the copy");
		return;
	}
	struct files_job *j = job_add(f, JOB_COPY, req, pid, pfd[0], rel, to);
	files_audit("files.copy", AUDIT_GRANT, req,
	            json_pack("{ssssssss}", "path", rel, "to", to, "step", "start", "type",
	                      S_ISDIR(st.st_mode) ? "directory" : "file"));
	http_response_stream(resp, 202, "application/json", &job_ops, j);
}

void
files_archive_start(struct files *f, struct http_request *req, struct http_response *resp,
                    int homefd, const char *rel, const struct files_home *h, bool zip)
{
	char name[FILES_NAME_MAX + 1];
	_cleanup_close_ int dp = -1;
	if (rel[0]) {
		dp = files_open_parent(homefd, rel, name, sizeof(name));
	} else {
		/* the home itself: its parent is the root-owned base, where only it is the user's
		 */
		dp = openat(homefd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		dp = dp < 0 ? -errno : dp;
		snprintf(name, sizeof(name), "%s", req->user);
	}
	struct stat st;
	int r = dp < 0                                            ? dp
	        : fstatat(dp, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno
	        : S_ISLNK(st.st_mode)                             ? -ELOOP
	        : !S_ISDIR(st.st_mode)                            ? -ENOTDIR
	                                                          : 0;
	if (r < 0) {
		refuse("files.archive", req, resp, rel, NULL, r == -ENOTDIR ? 400 : files_status(r),
		       r == -ENOTDIR ? "only a folder is archived" : files_strerror(r));
		return;
	}
	int pfd[2];
	if (job_pipe(f, "files.archive", req, resp, rel, NULL, pfd) < 0)
		return;
	int fds[] = {dp, pfd[1]};
	pid_t pid = job_fork(fds, 2, h);
	if (pid == 0)
		_exit(archive_child(name, name, h->uid, zip));
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		refuse("files.archive", req, resp, rel, NULL, 500, "cannot start the archive");
		return;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	struct files_job *j = job_add(f, JOB_ARCHIVE, req, pid, pfd[0], rel, NULL);
	files_audit(
	    "files.archive", AUDIT_GRANT, req,
	    json_pack("{ssssss}", "path", rel, "step", "start", "format", zip ? "zip" : "tar"));
	char disp[FILES_NAME_MAX + 8];
	snprintf(disp, sizeof(disp), "%s.%s", name, zip ? "zip" : "tar");
	files_add_disposition(resp, disp);
	http_response_stream(resp, 200, zip ? "application/zip" : "application/x-tar", &job_ops, j);
}

void
files_jobs_free_all(struct files *f)
{
	while (f->jobs) {
		struct files_job *j = f->jobs;
		if (!j->child_done) {
			kill(j->pid, SIGKILL);
			waitpid(j->pid, &j->status, 0);
			if (j->pidw)
				ab_loop_unwatch(f->loop, j->pidw);
			if (j->pidfd >= 0)
				close(j->pidfd);
			j->child_done = true;
		}
		j->stream_gone = true; /* the server closed every connection before */
		job_free_maybe(j);
	}
}
