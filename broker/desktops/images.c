/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * images: per-profile desktop images (images.h, docs/images.md). One record per recipe
 * the broker has been asked about; at most one image-build child at a time, the others
 * queued. The child's stdout+stderr come through a pipe watched on the loop: "progress N/M
 * WHAT" lines update the record (and the log: the terminal's progress), "image-build: ..."
 * lines are its error.
 */
#include "images.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "users.h"

extern char **environ;

#define IMAGES_MAX        32
#define IMAGES_RETRY_MS   60000 /* a failed build is tried again at most this often */
#define IMAGES_RECIPE_MAX 32

enum image_state { IMG_UNKNOWN, IMG_QUEUED, IMG_BUILDING, IMG_DONE, IMG_FAILED };

/* A desktop start held until its image is built (images_hold). */
struct image_waiter {
	char user[64];
	images_done_fn done;
	void *token;
	struct image_waiter *next;
};

struct image {
	struct images *im;
	char recipe[IMAGES_RECIPE_MAX + 1];
	enum image_state state;
	int step, steps;
	char detail[256];
	char error[1024];
	char root[PATH_MAX];
	int64_t finished_ms;
	int64_t queued_ms;            /* when the current build was asked for */
	struct image_waiter *waiters; /* desktop starts waiting for it */
	/* the running build */
	pid_t pid;
	int pidfd, out;
	struct ab_watch *pid_watch, *out_watch;
	char line[1024];
	size_t line_len;
};

struct images {
	struct ab_loop *loop;
	bool enabled;
	char *dir, *builder, *programs, *fallback;
	struct image v[IMAGES_MAX];
	size_t n;
	struct image *running;
};

struct images *
images_new(struct ab_loop *loop, const struct images_config *cfg)
{
	struct images *im = ab_xcalloc(1, sizeof(*im));
	im->loop = loop;
	im->enabled = cfg->enabled;
	im->dir = ab_xstrdup(cfg->dir ? cfg->dir : "");
	im->builder = ab_xstrdup(cfg->builder ? cfg->builder : "");
	im->programs = ab_xstrdup(cfg->programs ? cfg->programs : "");
	im->fallback = ab_xstrdup(cfg->fallback ? cfg->fallback : "");
	return im;
}

static void
build_end(struct images *im, struct image *i)
{
	ab_loop_unwatch(im->loop, i->pid_watch);
	ab_loop_unwatch(im->loop, i->out_watch);
	i->pid_watch = i->out_watch = NULL;
	if (i->pidfd >= 0)
		close(i->pidfd);
	if (i->out >= 0)
		close(i->out);
	i->pidfd = i->out = -1;
	i->pid = 0;
	if (im->running == i)
		im->running = NULL;
}

void
images_free(struct images *im)
{
	if (!im)
		return;
	for (size_t k = 0; k < im->n; k++) {
		struct image *i = &im->v[k];
		if (i->pid > 0) {
			kill(-i->pid, SIGTERM);
			waitpid(i->pid, NULL, 0);
		}
		build_end(im, i);
		/* the desktop manager let go of its holds at shutdown; drop what is left */
		while (i->waiters) {
			struct image_waiter *w = i->waiters;
			i->waiters = w->next;
			free(w);
		}
	}
	free(im->dir);
	free(im->builder);
	free(im->programs);
	free(im->fallback);
	free(im);
}

static struct image *
image_get(struct images *im, const char *recipe)
{
	for (size_t k = 0; k < im->n; k++)
		if (strcmp(im->v[k].recipe, recipe) == 0)
			return &im->v[k];
	if (im->n == IMAGES_MAX)
		return NULL;
	struct image *i = &im->v[im->n++];
	memset(i, 0, sizeof(*i));
	snprintf(i->recipe, sizeof(i->recipe), "%s", recipe);
	i->im = im;
	i->pidfd = i->out = -1;
	return i;
}

/*
 * <dir>/<recipe>/current, resolved, into i->root; false when there is none. The broker runs
 * as root: the image must be root's and nobody else's to write (a path a desktop user could
 * have put there is never used), and hold the builder's argobox-image.json.
 */
static bool
image_current(struct images *im, struct image *i)
{
	char link[PATH_MAX], real[PATH_MAX];
	snprintf(link, sizeof(link), "%s/%s/current", im->dir, i->recipe);
	if (!realpath(link, real))
		return false;
	struct stat st;
	const char *checks[] = {im->dir, real};
	for (size_t k = 0; k < AB_ARRAY_SIZE(checks); k++) {
		if (stat(checks[k], &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
		    (st.st_mode & 022)) {
			ab_warn("image '%s': '%s' is not a directory only root may write; not used",
			        i->recipe, checks[k]);
			return false;
		}
	}
	_cleanup_free_ char *stamp = ab_xasprintf("%s/argobox-image.json", real);
	if (stat(stamp, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	snprintf(i->root, sizeof(i->root), "%s", real);
	return true;
}

static void start_next(struct images *im);

static unsigned
waiters_count(const struct image *i)
{
	unsigned n = 0;
	for (const struct image_waiter *w = i->waiters; w; w = w->next)
		n++;
	return n;
}

/*
 * The build is over: every desktop start held for it goes on (ok) or fails with the build's
 * message, each failure audited for its user. The list is taken first: a callback may start
 * a desktop (and ask images_for) or stop one (images_hold_cancel finds nothing to cancel).
 */
static void
waiters_answer(struct images *im, struct image *i, bool ok)
{
	struct image_waiter *w = i->waiters;
	i->waiters = NULL;
	_cleanup_free_ char *msg =
	    ok ? NULL
	       : ab_xasprintf("the desktop image '%s' could not be built: %s (an administrator "
	                      "can read %s/%s/build.log)",
	                      i->recipe, i->error, im->dir, i->recipe);
	while (w) {
		struct image_waiter *next = w->next;
		if (!ok) {
			audit_log("image.use", AUDIT_DENY, w->user, NULL, NULL,
			          json_pack("{ssss}", "image", i->recipe, "reason", msg));
			audit_log("container.start", AUDIT_DENY, w->user, NULL, NULL,
			          json_pack("{ss}", "reason", "desktop image not ready"));
		}
		w->done(w->token, ok ? 0 : -EIO, msg);
		free(w);
		w = next;
	}
}

static void
build_line(struct image *i, char *line)
{
	int a, b, n = 0;
	if (sscanf(line, "progress %d/%d %n", &a, &b, &n) == 2 && n > 0) {
		i->step = a;
		i->steps = b;
		snprintf(i->detail, sizeof(i->detail), "%s", line + n);
		ab_info("image '%s': %d/%d %s", i->recipe, a, b, i->detail);
	} else if (strncmp(line, "image-build: ", 13) == 0) {
		if (!i->error[0] || strstr(line, "failed"))
			snprintf(i->error, sizeof(i->error), "%s", line + 13);
		ab_warn("image '%s': %s", i->recipe, line + 13);
	} else if (line[0]) {
		ab_info("image '%s': %s", i->recipe, line);
	}
}

static void build_chunk(struct image *i, const char *buf, size_t n);

static void
build_out(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct image *i = data;
	(void)loop;
	(void)events;
	char buf[4096];
	/* until EAGAIN; 0 or an error: the child's end is closed, its exit comes via the pidfd */
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		build_chunk(i, buf, (size_t)n);
	if (n == 0 && i->out_watch) { /* no more output: stop polling a hung-up pipe */
		ab_loop_unwatch(i->im->loop, i->out_watch);
		i->out_watch = NULL;
	}
}

static void
build_chunk(struct image *i, const char *buf, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (buf[k] == '\n' || i->line_len == sizeof(i->line) - 1) {
			i->line[i->line_len] = '\0';
			build_line(i, i->line);
			i->line_len = 0;
			if (buf[k] == '\n')
				continue;
		}
		i->line[i->line_len++] = buf[k];
	}
}

static void
build_exited(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct images *im = data;
	(void)loop;
	(void)events;
	struct image *i = NULL;
	for (size_t k = 0; k < im->n; k++)
		if (im->v[k].pidfd == fd)
			i = &im->v[k];
	if (!i)
		return;
	/* what is left in the pipe */
	build_out(loop, i->out, AB_LOOP_READ, i);
	int st = 0;
	pid_t r = waitpid(i->pid, &st, WNOHANG);
	if (r == 0)
		return;
	bool ok = r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	build_end(im, i);
	i->finished_ms = ab_now_ms();
	if (ok && image_current(im, i)) {
		i->state = IMG_DONE;
		i->error[0] = '\0';
		snprintf(i->detail, sizeof(i->detail), "in service");
		ab_info("image '%s' in service: %s", i->recipe, i->root);
		audit_log("image.build", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssssb}", "image", i->recipe, "root", i->root, "ok", 1));
	} else {
		i->state = IMG_FAILED;
		if (!i->error[0])
			snprintf(i->error, sizeof(i->error), "image-build exited with status %d",
			         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		bool prev = image_current(im, i);
		ab_error("image '%s': the build failed: %s%s%s", i->recipe, i->error,
		         prev ? "; the previous image stays in service: " : "",
		         prev ? i->root : "");
		audit_log("image.build", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssssbss}", "image", i->recipe, "error", i->error, "ok", 0,
		                    "previous", prev ? i->root : ""));
	}
	/* a stale image stays in service when its rebuild fails: the held starts use it */
	waiters_answer(im, i, image_current(im, i));
	start_next(im);
}

static int
build_spawn(struct images *im, struct image *i, struct ab_err *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return ab_err_errno(err, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	ab_spawnattr_init_clean(&at);
	/* the broker's environment (SUITE, MIRROR, EXTRA_PACKAGES, ...) plus the programs */
	size_t n = 0;
	while (environ[n])
		n++;
	_cleanup_free_ char **envp = ab_xcalloc(n + 2, sizeof(char *));
	size_t m = 0;
	for (size_t k = 0; k < n; k++)
		if (strncmp(environ[k], "ARGOBOX_PROGRAMS=", 17) != 0 &&
		    strncmp(environ[k], "ARGOBOX_BUILD_DIR=", 18) != 0)
			envp[m++] = environ[k];
	_cleanup_free_ char *progs = ab_xasprintf("ARGOBOX_PROGRAMS=%s", im->programs);
	envp[m++] = progs;
	char *argv[] = {im->builder, i->recipe, im->dir, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, im->builder, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		return ab_err_set(err, r, "running '%s': %s", im->builder, strerror(r));
	}
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		return ab_err_errno(err, e, "pidfd_open");
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	i->pid = pid;
	i->pidfd = pfd;
	i->out = p[0];
	i->line_len = 0;
	i->state = IMG_BUILDING;
	i->step = 0;
	i->steps = 6;
	snprintf(i->detail, sizeof(i->detail), "checking the image against its recipe");
	i->error[0] = '\0';
	i->out_watch = ab_loop_watch(im->loop, p[0], AB_LOOP_READ, build_out, i);
	i->pid_watch = ab_loop_watch(im->loop, pfd, AB_LOOP_READ, build_exited, im);
	im->running = i;
	ab_info("image '%s': checking it against its recipe (%s)", i->recipe, im->builder);
	audit_log("image.build", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{ssss}", "image", i->recipe, "step", "started"));
	return 0;
}

static void
start_next(struct images *im)
{
	if (im->running)
		return;
	for (size_t k = 0; k < im->n; k++) {
		struct image *i = &im->v[k];
		if (i->state != IMG_QUEUED)
			continue;
		struct ab_err err = {0};
		if (build_spawn(im, i, &err) < 0) {
			i->state = IMG_FAILED;
			i->finished_ms = ab_now_ms();
			snprintf(i->error, sizeof(i->error), "%s", err.msg);
			ab_error("image '%s': %s", i->recipe, err.msg);
			waiters_answer(im, i, image_current(im, i));
			continue;
		}
		return;
	}
}

static void
image_queue(struct images *im, struct image *i)
{
	if (i->state == IMG_QUEUED || i->state == IMG_BUILDING)
		return;
	i->state = IMG_QUEUED;
	i->queued_ms = ab_now_ms();
	i->step = 0;
	i->steps = 6;
	snprintf(i->detail, sizeof(i->detail), "waiting for another image's build");
	start_next(im);
}

int
images_build(struct images *im, const char *recipe, struct ab_err *err)
{
	struct image *i = image_get(im, recipe);
	if (!i)
		return ab_err_set(err, ENOSPC, "too many images");
	if (i->state == IMG_QUEUED || i->state == IMG_BUILDING)
		return -EALREADY;
	image_queue(im, i);
	return 0;
}

/* The recipe of a profile: its "image", else the configured fallback; NULL: host /usr. */
static const char *
recipe_of(struct images *im, const struct users_profile *prof)
{
	const char *r = prof && prof->image ? prof->image : im->fallback;
	if (!im->enabled || !r[0] || strcmp(r, "host") == 0)
		return NULL;
	return r;
}

int
images_for(struct images *im, const char *user, const struct users_profile *prof,
           const char **ret_root, struct ab_err *err)
{
	const char *recipe = recipe_of(im, prof);
	if (!recipe) {
		ab_warn("!!! the desktop of '%s' runs on the HOST's /usr: every program installed "
		        "on this machine is visible in it and its launcher (%s) !!!",
		        user,
		        !im->enabled ? "images are off: set \"images\": {\"enabled\": true}"
		                     : "its profile's \"image\" is \"host\"");
		audit_log("image.use", AUDIT_GRANT, user, NULL, NULL,
		          json_pack("{ssss}", "image", "host", "reason",
		                    !im->enabled ? "images off" : "profile image is host"));
		*ret_root = NULL;
		return 0;
	}
	struct image *i = image_get(im, recipe);
	if (!i)
		return ab_err_set(err, ENOSPC, "too many images");
	/* First use in this broker's life: check it against its recipe (a stale image is
	 * rebuilt while it stays in service); a failed build is retried after a while. */
	if (i->state == IMG_UNKNOWN ||
	    (i->state == IMG_FAILED && ab_now_ms() - i->finished_ms > IMAGES_RETRY_MS))
		image_queue(im, i);
	if (image_current(im, i)) {
		audit_log("image.use", AUDIT_GRANT, user, NULL, NULL,
		          json_pack("{ssss}", "image", recipe, "root", i->root));
		*ret_root = i->root;
		return 0;
	}
	int r;
	if (i->state == IMG_FAILED) {
		r = ab_err_set(err, EIO,
		               "the desktop image '%s' could not be built: %s (an administrator "
		               "can read %s/%s/build.log)",
		               recipe, i->error, im->dir, recipe);
	} else {
		r = ab_err_set(err, EAGAIN,
		               "the desktop image '%s' is being built (step %d of %d: %s); the "
		               "desktop starts once it is ready",
		               recipe, i->step, i->steps, i->detail);
	}
	audit_log("image.use", AUDIT_DENY, user, NULL, NULL,
	          json_pack("{ssss}", "image", recipe, "reason", err->msg));
	return r;
}

int
images_hold(struct images *im, const char *user, const struct users_profile *prof,
            images_done_fn done, void *token)
{
	const char *recipe = recipe_of(im, prof);
	if (!recipe)
		return 0;
	struct image *i = image_get(im, recipe);
	if (!i)
		return 0; /* images_for says why */
	if (i->state == IMG_UNKNOWN ||
	    (i->state == IMG_FAILED && ab_now_ms() - i->finished_ms > IMAGES_RETRY_MS))
		image_queue(im, i);
	/* an image in service (a stale one too, while it is rebuilt) is used at once; a failed
	 * build without an image is refused at once, by images_for, with its message */
	if (image_current(im, i) || (i->state != IMG_QUEUED && i->state != IMG_BUILDING))
		return 0;
	struct image_waiter *w = ab_xcalloc(1, sizeof(*w));
	snprintf(w->user, sizeof(w->user), "%s", user);
	w->done = done;
	w->token = token;
	w->next = i->waiters;
	i->waiters = w;
	ab_info("the desktop of '%s' waits for its image '%s' (step %d of %d: %s; %u waiting)",
	        user, recipe, i->step, i->steps, i->detail, waiters_count(i));
	audit_log("image.wait", AUDIT_INFO, user, NULL, NULL,
	          json_pack("{sssisiss}", "image", recipe, "step", i->step, "steps", i->steps,
	                    "detail", i->detail));
	return 1;
}

void
images_hold_cancel(struct images *im, void *token)
{
	for (size_t k = 0; k < im->n; k++) {
		for (struct image_waiter **pp = &im->v[k].waiters; *pp; pp = &(*pp)->next) {
			if ((*pp)->token != token)
				continue;
			struct image_waiter *w = *pp;
			*pp = w->next;
			free(w);
			return;
		}
	}
}

json_t *
images_status(struct images *im, const struct users_profile *prof)
{
	const char *recipe = recipe_of(im, prof);
	if (!recipe)
		return json_pack("{ssss}", "image", "host", "state", "host");
	struct image *i = image_get(im, recipe);
	if (!i)
		return json_pack("{ssss}", "image", recipe, "state", "missing");
	bool have = image_current(im, i);
	const char *state = i->state == IMG_QUEUED || i->state == IMG_BUILDING ? "building"
	                    : have                                             ? "ready"
	                    : i->state == IMG_FAILED                           ? "failed"
	                                                                       : "missing";
	json_t *o = json_pack("{sssssisiss}", "image", recipe, "state", state, "step", i->step,
	                      "steps", i->steps ? i->steps : 6, "detail", i->detail);
	if (i->error[0])
		json_object_set_new(o, "error", json_string(i->error));
	if (prof && prof->name)
		json_object_set_new(o, "profile", json_string(prof->name));
	if (prof && prof->title)
		json_object_set_new(o, "profile_title", json_string(prof->title));
	if (i->state == IMG_QUEUED || i->state == IMG_BUILDING) {
		json_object_set_new(
		    o, "elapsed_s",
		    json_integer((json_int_t)((ab_now_ms() - i->queued_ms) / 1000)));
		json_object_set_new(o, "waiting", json_integer((json_int_t)waiters_count(i)));
	}
	if (have)
		json_object_set_new(o, "root", json_string(i->root));
	return o;
}
