/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * desktop: desktop lifecycle (see desktop.h) and the fork/exec launcher.
 *
 * Objects are never freed under a callback that runs for them: a desktop
 * that is gone is unlinked and handed to a 0 ms timer that frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_safe.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop_control.h"
#include "desktop.h"

/* ---- the fork/exec launcher ---- */

struct launch {
	struct process_launcher *pl;
	pid_t pid;
	int pidfd;
	int ready_fd;
	struct ab_watch *pid_watch, *ready_watch;
	struct ab_timer *kill_timer;
	launch_event_fn fn;
	void *data;
	char ready_buf[16];
	size_t ready_len;
	bool ready, exited;
	bool adopted;  /* not our child: exit seen on the pidfd, never waitpid */
	bool detached; /* left running at shutdown (keep_running): never killed */
	struct ab_timer *adopt_timer;
	struct launch *prev, *next;
};

struct process_launcher {
	struct launcher base;
	struct ab_loop *loop;
	char *binary;
	int64_t stop_timeout_ms;
	bool keep_running; /* shutdown leaves the sessions running (adopted by the next broker) */
	struct launch *launches;
};

static void
launch_unlink(struct process_launcher *pl, struct launch *la)
{
	if (la->prev)
		la->prev->next = la->next;
	else if (pl->launches == la)
		pl->launches = la->next;
	if (la->next)
		la->next->prev = la->prev;
	la->prev = la->next = NULL;
}

static void
launch_close_ready(struct launch *la)
{
	ab_loop_unwatch(la->pl->loop, la->ready_watch);
	la->ready_watch = NULL;
	if (la->ready_fd >= 0)
		close(la->ready_fd);
	la->ready_fd = -1;
}

/* The child is gone: reap it and report once. */
static void
launch_reaped(struct launch *la, int status)
{
	la->exited = true;
	launch_close_ready(la);
	ab_loop_unwatch(la->pl->loop, la->pid_watch);
	la->pid_watch = NULL;
	ab_loop_timer_cancel(la->pl->loop, la->kill_timer);
	la->kill_timer = NULL;
	launch_unlink(la->pl, la);
	la->fn(la, LAUNCH_EXITED, status, la->data);
}

static void
launch_pid_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct launch *la = data;
	if (la->adopted) {
		launch_reaped(la, 0); /* the pidfd is readable: it exited (its parent reaps it) */
		return;
	}
	int status = 0;
	pid_t r = waitpid(la->pid, &status, WNOHANG);
	if (r == 0)
		return;
	launch_reaped(la, r < 0 ? -errno : status);
}

static void
launch_ready_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct launch *la = data;
	ssize_t n = read(fd, la->ready_buf + la->ready_len, sizeof(la->ready_buf) - la->ready_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		la->ready_len += (size_t)n;
		if (la->ready_len >= 6 && memcmp(la->ready_buf, "READY\n", 6) == 0) {
			launch_close_ready(la);
			la->ready = true;
			la->fn(la, LAUNCH_READY, 0, la->data);
			return;
		}
		if (la->ready_len < 6 && memcmp(la->ready_buf, "READY\n", la->ready_len) == 0)
			return;
		ab_warn("session %d: unexpected bytes on its ready fd", (int)la->pid);
	} else {
		ab_warn("session %d: closed its ready fd without saying READY", (int)la->pid);
	}
	/* Not ready and never will be: stop it; LAUNCH_EXITED follows. */
	launch_close_ready(la);
	la->pl->base.ops->stop(&la->pl->base, la);
}

static int
launch_spawn(struct process_launcher *pl, const struct launch_request *req, int ready_w,
             pid_t *ret_pid, struct ab_err *err)
{
	size_t ncmd = 0;
	while (req->desktop_command[ncmd])
		ncmd++;
	const char **argv = ab_xcalloc(ncmd + 10, sizeof(char *));
	size_t i = 0;
	argv[i++] = pl->binary;
	argv[i++] = "--runtime-dir";
	argv[i++] = req->runtime_dir;
	argv[i++] = "--geometry";
	argv[i++] = req->geometry;
	argv[i++] = "--ready-fd";
	argv[i++] = "3";
	argv[i++] = "--";
	for (size_t k = 0; k < ncmd; k++)
		argv[i++] = req->desktop_command[k];
	argv[i] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		free(argv);
		return ab_err_errno(err, errno, "fork");
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (dup2(ready_w, 3) < 0)
			_exit(127);
		for (size_t k = 0; req->env && req->env[k]; k++)
			putenv((char *)req->env[k]);
		close_range(4, ~0U, 0);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "argobox-broker: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	*ret_pid = pid;
	return 0;
}

static int
process_start(struct launcher *l, const struct launch_request *req, launch_event_fn fn, void *data,
              struct launch **ret, struct ab_err *err)
{
	struct process_launcher *pl = (struct process_launcher *)l;
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return ab_err_errno(err, errno, "pipe");
	_cleanup_close_ int rd = p[0];
	_cleanup_close_ int wr = p[1];
	/* The child's end must block: the session writes READY with a plain write. */
	ab_fd_set_nonblock(wr, false);
	pid_t pid = -1;
	int r = launch_spawn(pl, req, wr, &pid, err);
	if (r < 0)
		return r;
	_cleanup_close_ int pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return ab_err_errno(err, e, "pidfd_open");
	}
	struct launch *la = ab_xcalloc(1, sizeof(*la));
	la->pl = pl;
	la->pid = pid;
	la->fn = fn;
	la->data = data;
	la->pidfd = TAKE_FD(pidfd);
	la->ready_fd = TAKE_FD(rd);
	la->pid_watch = ab_loop_watch(pl->loop, la->pidfd, AB_LOOP_READ, launch_pid_io, la);
	la->ready_watch = ab_loop_watch(pl->loop, la->ready_fd, AB_LOOP_READ, launch_ready_io, la);
	la->next = pl->launches;
	if (pl->launches)
		pl->launches->prev = la;
	pl->launches = la;
	ab_info("session for '%s' started: pid %d, %s", req->user, (int)pid, pl->binary);
	*ret = la;
	return 0;
}

static int64_t
launch_kill_timer(struct ab_loop *loop, void *data)
{
	struct launch *la = data;
	la->kill_timer = NULL;
	ab_warn("session %d did not stop within %lld ms: SIGKILL", (int)la->pid,
	        (long long)la->pl->stop_timeout_ms);
	kill(la->pid, SIGKILL);
	return AB_TIMER_STOP;
}

static void
process_stop(struct launcher *l, struct launch *la)
{
	struct process_launcher *pl = (struct process_launcher *)l;
	if (la->exited || la->kill_timer)
		return;
	kill(la->pid, SIGTERM);
	la->kill_timer = ab_loop_timer(pl->loop, pl->stop_timeout_ms, launch_kill_timer, la);
}

static void
process_release(struct launcher *l, struct launch *la)
{
	if (!la)
		return;
	ab_loop_timer_cancel(la->pl->loop, la->adopt_timer);
	la->adopt_timer = NULL;
	if (!la->exited) {
		/* Released while running (broker shutting down after shutdown()): kill and reap,
		 * unless shutdown left it running for the next broker. */
		if (!la->detached) {
			kill(la->pid, SIGKILL);
			if (!la->adopted)
				waitpid(la->pid, NULL, 0);
		}
		launch_close_ready(la);
		ab_loop_unwatch(la->pl->loop, la->pid_watch);
		ab_loop_timer_cancel(la->pl->loop, la->kill_timer);
		launch_unlink(la->pl, la);
	}
	if (la->pidfd >= 0)
		close(la->pidfd);
	free(la);
}

static pid_t
process_pid(struct launcher *l, struct launch *la)
{
	return la->exited ? 0 : la->pid;
}

static void
process_shutdown(struct launcher *l, int64_t timeout_ms)
{
	struct process_launcher *pl = (struct process_launcher *)l;
	if (pl->keep_running) {
		for (struct launch *la = pl->launches, *next; la; la = next) {
			next = la->next;
			ab_info("session %d keeps running (session.stop_on_shutdown false)",
			        (int)la->pid);
			la->detached = true;
			launch_close_ready(la);
			ab_loop_unwatch(pl->loop, la->pid_watch);
			la->pid_watch = NULL;
			ab_loop_timer_cancel(pl->loop, la->kill_timer);
			la->kill_timer = NULL;
			launch_unlink(pl, la);
		}
		return;
	}
	for (struct launch *la = pl->launches; la; la = la->next)
		kill(la->pid, SIGTERM);
	int64_t deadline = ab_now_ms() + timeout_ms;
	bool killed = false;
	while (pl->launches) {
		/* Wait on every pidfd at once; SIGKILL what is left at the deadline. */
		size_t n = 0;
		for (struct launch *la = pl->launches; la; la = la->next)
			n++;
		struct pollfd *fds = ab_xcalloc(n, sizeof(*fds));
		size_t i = 0;
		for (struct launch *la = pl->launches; la; la = la->next)
			fds[i++] = (struct pollfd){.fd = la->pidfd, .events = POLLIN};
		int64_t left = deadline - ab_now_ms();
		if (left <= 0 && !killed) {
			for (struct launch *la = pl->launches; la; la = la->next) {
				ab_warn("session %d did not stop in time: SIGKILL", (int)la->pid);
				kill(la->pid, SIGKILL);
			}
			killed = true;
		}
		poll(fds, n, killed ? 1000 : (int)AB_MAX(left, 1));
		free(fds);
		for (struct launch *la = pl->launches, *next; la; la = next) {
			next = la->next;
			if (la->adopted) {
				struct pollfd pf = {.fd = la->pidfd, .events = POLLIN};
				if (poll(&pf, 1, 0) > 0)
					launch_reaped(la, 0);
				continue;
			}
			int status = 0;
			pid_t r = waitpid(la->pid, &status, WNOHANG);
			if (r != 0)
				launch_reaped(la, r < 0 ? -errno : status);
		}
	}
}

static void
process_free(struct launcher *l)
{
	struct process_launcher *pl = (struct process_launcher *)l;
	if (!pl)
		return;
	free(pl->binary);
	free(pl);
}

static int64_t
launch_adopt_ready(struct ab_loop *loop, void *data)
{
	struct launch *la = data;
	la->adopt_timer = NULL;
	la->ready = true;
	la->fn(la, LAUNCH_READY, 0, la->data);
	return AB_TIMER_STOP;
}

/*
 * A socket in a runtime dir answered as someone other than the session:
 * refused by the caller, audited here as an attack (what the name was, who
 * answered, and whose desktop that is when it is one of ours).
 */
static void
socket_attack(const char *user, const char *path, const char *via, const char *source,
              const struct ucred *peer, const char *peer_desktop, const char *why)
{
	_cleanup_free_ char *found = ab_path_describe(path);
	_cleanup_free_ char *exe = ab_pid_exe(peer ? peer->pid : 0);
	ab_error("desktop '%s': '%s' (%s) is not its session: %s; refused", user, path, found, why);
	json_t *detail =
	    json_pack("{ssssssss}", "socket", path, "via", via, "found", found, "reason", why);
	if (peer) {
		json_object_set_new(detail, "peer_pid", json_integer(peer->pid));
		json_object_set_new(detail, "peer_uid", json_integer(peer->uid));
		json_object_set_new(detail, "peer_exe", json_string(exe));
	}
	if (peer_desktop)
		json_object_set_new(detail, "peer_desktop", json_string(peer_desktop));
	audit_log("desktop.socket_attack", AUDIT_DENY, user, NULL, source, detail);
}

/* true when /proc/<pid>/cmdline has "--runtime-dir" followed by `dir`. */
static bool
pid_serves_dir(pid_t pid, const char *dir)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (ab_read_proc(pid, "cmdline", 65536, &data, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i < len;) {
		const char *arg = data + i;
		size_t n = strnlen(arg, len - i);
		i += n + 1;
		if (strcmp(arg, "--runtime-dir") == 0 && i < len)
			return strcmp(data + i, dir) == 0;
	}
	return false;
}

static int
process_check_peer(struct launcher *l, struct launch *la, const struct ucred *peer,
                   struct ab_err *err)
{
	if (!la || la->exited)
		return ab_err_set(err, EPERM, "the session is gone");
	if (peer->pid != la->pid)
		return ab_err_set(err, EPERM, "served by pid %d uid %u, the session is pid %d",
		                  (int)peer->pid, (unsigned)peer->uid, (int)la->pid);
	return 0;
}

/*
 * A session a previous broker left running: its control socket must answer
 * from a process of our own uid that is an argobox-session serving exactly
 * this runtime dir; that process (the peer, SO_PEERCRED) is the session,
 * watched through a pidfd from now on, and rfb.sock must answer from it too.
 */
static int
process_adopt(struct launcher *l, const char *user, const char *runtime_dir, launch_event_fn fn,
              void *data, struct launch **ret, struct ab_err *err)
{
	struct process_launcher *pl = (struct process_launcher *)l;
	_cleanup_free_ char *cpath = ab_xasprintf("%s/control.sock", runtime_dir);
	_cleanup_free_ char *rpath = ab_xasprintf("%s/rfb.sock", runtime_dir);
	struct ucred cr;
	_cleanup_close_ int cfd = ab_unix_connect_peer(cpath, &cr);
	if (cfd < 0)
		return ab_err_errno(err, -cfd, "%s", cpath);
	if (cr.pid <= 1 || cr.uid != geteuid() || !pid_serves_dir(cr.pid, runtime_dir)) {
		_cleanup_free_ char *why =
		    ab_xasprintf("served by pid %d uid %u, not a session of uid %u for '%s'",
		                 (int)cr.pid, (unsigned)cr.uid, (unsigned)geteuid(), runtime_dir);
		socket_attack(user, cpath, "adopt", NULL, &cr, NULL, why);
		return ab_err_set(err, EPERM, "%s: %s", cpath, why);
	}
	struct ucred rcr;
	_cleanup_close_ int rfd = ab_unix_connect_peer(rpath, &rcr);
	if (rfd < 0)
		return ab_err_errno(err, -rfd, "%s", rpath);
	if (rcr.pid != cr.pid) {
		_cleanup_free_ char *why =
		    ab_xasprintf("served by pid %d uid %u, the session is pid %d", (int)rcr.pid,
		                 (unsigned)rcr.uid, (int)cr.pid);
		socket_attack(user, rpath, "adopt", NULL, &rcr, NULL, why);
		return ab_err_set(err, EPERM, "%s: %s", rpath, why);
	}
	int pidfd = (int)pidfd_open(cr.pid, 0);
	if (pidfd < 0)
		return ab_err_errno(err, errno, "pidfd_open(%d)", (int)cr.pid);
	struct launch *la = ab_xcalloc(1, sizeof(*la));
	la->pl = pl;
	la->pid = cr.pid;
	la->fn = fn;
	la->data = data;
	la->pidfd = pidfd;
	la->ready_fd = -1;
	la->adopted = true;
	la->pid_watch = ab_loop_watch(pl->loop, la->pidfd, AB_LOOP_READ, launch_pid_io, la);
	la->adopt_timer = ab_loop_timer(pl->loop, 0, launch_adopt_ready, la);
	la->next = pl->launches;
	if (pl->launches)
		pl->launches->prev = la;
	pl->launches = la;
	ab_info("session for '%s' adopted: pid %d", user, (int)cr.pid);
	*ret = la;
	return 0;
}

static const struct launcher_ops process_ops = {
    .start = process_start,
    .stop = process_stop,
    .release = process_release,
    .pid = process_pid,
    .shutdown = process_shutdown,
    .free = process_free,
    .adopt = process_adopt,
    .check_peer = process_check_peer,
};

void
launcher_process_keep_running(struct launcher *l, bool keep)
{
	if (l && l->ops == &process_ops)
		((struct process_launcher *)l)->keep_running = keep;
}

struct launcher *
launcher_process_new(struct ab_loop *loop, const char *binary, int64_t stop_timeout_ms)
{
	struct process_launcher *pl = ab_xcalloc(1, sizeof(*pl));
	pl->base.ops = &process_ops;
	pl->loop = loop;
	pl->binary = ab_xstrdup(binary);
	pl->stop_timeout_ms = stop_timeout_ms;
	return &pl->base;
}

/* ---- desktops ---- */

enum desktop_state {
	DESKTOP_STARTING,
	DESKTOP_READY,
	DESKTOP_STOPPING,
	DESKTOP_GONE,
	DESKTOP_STATE_MAX,
};

static const char *const desktop_state_names[] = {"starting", "ready", "stopping", "gone"};

struct desktop_waiter {
	struct desktop *d;
	desktop_ready_fn fn;
	void *data;
	struct ab_timer *timer; /* set when the answer is due */
	int status;
	struct desktop_waiter *prev, *next;
};

struct desktop {
	struct desktop_manager *m;
	char *user;
	char *runtime_dir;
	char *rfb_path;
	char *control_path;
	enum desktop_state state;
	struct launch *launch;
	struct desktop_control *control;
	struct ab_timer *start_timer;
	struct desktop_waiter *waiters;
	bool preparing; /* params.prepare has not answered yet: no launch */
	bool holding;   /* params.hold has not answered yet: no prepare, no launch, no timer */
	unsigned clients;
	unsigned vnc_clients; /* of clients: native VNC ones (vncgw) */
	int64_t started_ms, ready_ms;
	int64_t input_ms; /* the last key or pointer message from a browser, 0: none yet */
	struct desktop *next;
};

struct desktop_manager {
	struct ab_loop *loop;
	struct launcher *launcher;
	struct desktop_params p;
	char *runtime_base;
	char *geometry;
	json_t *command;
	struct desktop *desktops;
	struct desktop *graveyard; /* gone, freed by reap_timer */
	struct ab_timer *reap_timer;
	bool shutting_down;
	struct {
		char type[33];
		desktop_message_fn fn;
		void *data;
	} hooks[DESKTOP_MAX_HOOKS];
};

bool
desktop_user_valid(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > 32 || u[0] == '.' || u[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

static struct desktop *
desktop_find(struct desktop_manager *m, const char *user)
{
	for (struct desktop *d = m->desktops; d; d = d->next)
		if (strcmp(d->user, user) == 0)
			return d;
	return NULL;
}

/* Takes w off its desktop's list of waiters. */
static void
waiter_unlink(struct desktop_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->d->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static int64_t
waiter_fire(struct ab_loop *loop, void *data)
{
	struct desktop_waiter *w = data;
	struct desktop *d = w->d;
	waiter_unlink(w);
	desktop_ready_fn fn = w->fn;
	void *fdata = w->data;
	int status = w->status;
	free(w);
	fn(d, status, fdata);
	return AB_TIMER_STOP;
}

static void
waiters_answer(struct desktop *d, int status)
{
	for (struct desktop_waiter *w = d->waiters; w; w = w->next) {
		if (w->timer)
			continue;
		w->status = status;
		w->timer = ab_loop_timer(d->m->loop, 0, waiter_fire, w);
	}
}

void
desktop_waiter_cancel(struct desktop_waiter *w)
{
	if (!w)
		return;
	ab_loop_timer_cancel(w->d->m->loop, w->timer);
	waiter_unlink(w);
	free(w);
}

static void
desktop_free(struct desktop *d)
{
	AB_ASSERT(!d->waiters);
	desktop_control_close(d->control);
	ab_loop_timer_cancel(d->m->loop, d->start_timer);
	if (d->launch)
		d->m->launcher->ops->release(d->m->launcher, d->launch);
	free(d->user);
	free(d->runtime_dir);
	free(d->rfb_path);
	free(d->control_path);
	free(d);
}

static int64_t
reap_graveyard(struct ab_loop *loop, void *data)
{
	struct desktop_manager *m = data;
	m->reap_timer = NULL;
	/* A gone desktop stays until its last waiter got its answer. */
	struct desktop **pp = &m->graveyard;
	while (*pp) {
		struct desktop *d = *pp;
		if (d->waiters || d->clients) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		desktop_free(d);
	}
	if (m->graveyard)
		return 50;
	return AB_TIMER_STOP;
}

/*
 * As root, a user's runtime directory is a small tmpfs of its own (issue 12 N7): the desktop
 * sees it bind-mounted at /run/argobox, and a tmpfs shows no host path in the desktop's
 * /proc/self/mountinfo (a bind of a plain directory shows where it lives on the host); it also
 * bounds what a desktop can store there. One that is mounted already (a desktop that outlived
 * a broker restart, or whose session died while the broker was down) is kept. Failing to
 * mount is not fatal: the directory works as before, and the broker says so.
 */
#define RUNTIME_TMPFS_OPTS "size=16m,nr_inodes=4096,mode=0700"

static bool
is_mountpoint(const char *dir)
{
	struct stat st, pst;
	_cleanup_free_ char *parent = ab_xasprintf("%s/..", dir);
	return stat(dir, &st) == 0 && stat(parent, &pst) == 0 && st.st_dev != pst.st_dev;
}

static void
runtime_dir_mount(const char *dir)
{
	if (geteuid() != 0 || is_mountpoint(dir))
		return;
	/* nosuid,nodev as the bundle binds it (a flag it does not repeat is locked: EPERM) */
	if (mount("argobox-run", dir, "tmpfs", MS_NOSUID | MS_NODEV, RUNTIME_TMPFS_OPTS) < 0)
		ab_warn("runtime dir '%s': no tmpfs of its own (%m): its host path shows in the "
		        "desktop's mountinfo",
		        dir);
}

static void
runtime_dir_unmount(const char *dir)
{
	if (geteuid() == 0 && is_mountpoint(dir) && umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		ab_warn("runtime dir '%s': unmounting its tmpfs: %m", dir);
}

/* The session is gone: unlink, answer waiters, and free later from the loop. */
static void
desktop_gone(struct desktop *d, const char *why)
{
	struct desktop_manager *m = d->m;
	if (d->state == DESKTOP_GONE)
		return;
	bool was_ready = d->state == DESKTOP_READY;
	d->state = DESKTOP_GONE;
	for (struct desktop **pp = &m->desktops; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	d->next = m->graveyard;
	m->graveyard = d;
	waiters_answer(d, was_ready ? -ECONNRESET : -ECONNREFUSED);
	audit_log("desktop.stop", AUDIT_INFO, d->user, NULL, NULL,
	          json_pack("{ss}", "reason", why));
	/* the user's next desktop may have started already, on the same tmpfs: leave it be */
	bool successor = false;
	for (struct desktop *o = m->desktops; o; o = o->next)
		successor = successor || strcmp(o->user, d->user) == 0;
	if (m->p.runtime_tmpfs && !successor)
		runtime_dir_unmount(d->runtime_dir);
	if (!m->reap_timer && !m->shutting_down)
		m->reap_timer = ab_loop_timer(m->loop, 0, reap_graveyard, m);
}

static void
desktop_control_dead(struct desktop_control *c, const char *why, void *data)
{
	struct desktop *d = data;
	ab_warn("desktop '%s': control channel: %s; stopping the session", d->user, why);
	if (d->preparing)
		return;
	audit_log("desktop.health", AUDIT_FAILURE, d->user, NULL, NULL,
	          json_pack("{ss}", "reason", why));
	if (d->state != DESKTOP_GONE) {
		d->state = DESKTOP_STOPPING;
		d->m->launcher->ops->stop(d->m->launcher, d->launch);
	}
}

/* A string field of at most `max` bytes, else NULL (the session's words are not trusted). */
static const char *
short_string(json_t *o, const char *key, size_t max)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v && strlen(v) <= max ? v : NULL;
}

/*
 * {"type":"isolation","landlock":{mode, abi, applied, rules, signals_scoped,
 * error}}: how the session confined the desktop command, audited as
 * session.landlock (failure when it was not applied, info otherwise). Sent
 * after every hello, so a restarted broker audits it again on adoption.
 */
static void
desktop_isolation(struct desktop *d, json_t *msg)
{
	json_t *ll = json_object_get(msg, "landlock");
	if (!json_is_object(ll)) {
		ab_warn("desktop '%s': isolation message without 'landlock'", d->user);
		return;
	}
	json_t *applied = json_object_get(ll, "applied");
	json_t *abi = json_object_get(ll, "abi");
	const char *mode = short_string(ll, "mode", 8);
	const char *rules = short_string(ll, "rules", 8192);
	const char *error = short_string(ll, "error", 256);
	json_t *detail = json_pack("{sb}", "applied", json_is_true(applied));
	json_object_set_new(detail, "mode", json_string(mode ? mode : "?"));
	if (json_is_integer(abi) && json_integer_value(abi) > 0 && json_integer_value(abi) < 100)
		json_object_set_new(detail, "abi", json_integer(json_integer_value(abi)));
	if (rules)
		json_object_set_new(detail, "rules", json_string(rules));
	if (json_is_boolean(json_object_get(ll, "signals_scoped")))
		json_object_set(detail, "signals_scoped", json_object_get(ll, "signals_scoped"));
	if (error)
		json_object_set_new(detail, "error", json_string(error));
	bool off = mode && strcmp(mode, "off") == 0;
	audit_log("session.landlock", json_is_true(applied) || off ? AUDIT_INFO : AUDIT_FAILURE,
	          d->user, NULL, NULL, detail);
}

/* Messages of a desktop that is stopping (windows closing) must not reach the hooks. */
static void
desktop_control_msg(struct desktop_control *c, json_t *msg, void *data)
{
	struct desktop *d = data;
	if (strcmp(ab_proto_type(msg), "isolation") == 0) {
		if (d->state != DESKTOP_GONE)
			desktop_isolation(d, msg);
		return;
	}
	if (d->state != DESKTOP_READY)
		return;
	for (size_t i = 0; i < DESKTOP_MAX_HOOKS; i++) {
		if (d->m->hooks[i].fn && strcmp(d->m->hooks[i].type, ab_proto_type(msg)) == 0) {
			d->m->hooks[i].fn(d->m->hooks[i].data, d->user, msg);
			return;
		}
	}
	if (d->m->p.on_message)
		d->m->p.on_message(d->m->p.message_data, d->user, msg);
}

int
desktop_manager_on_message(struct desktop_manager *m, const char *type, desktop_message_fn fn,
                           void *data)
{
	size_t free_slot = DESKTOP_MAX_HOOKS;
	for (size_t i = 0; i < DESKTOP_MAX_HOOKS; i++) {
		if (m->hooks[i].fn && strcmp(m->hooks[i].type, type) == 0) {
			m->hooks[i].fn = fn;
			m->hooks[i].data = data;
			return 0;
		}
		if (!m->hooks[i].fn && free_slot == DESKTOP_MAX_HOOKS)
			free_slot = i;
	}
	if (!fn)
		return 0;
	if (free_slot == DESKTOP_MAX_HOOKS || strlen(type) >= sizeof(m->hooks[0].type))
		return -ENOSPC;
	snprintf(m->hooks[free_slot].type, sizeof(m->hooks[free_slot].type), "%s", type);
	m->hooks[free_slot].fn = fn;
	m->hooks[free_slot].data = data;
	return 0;
}

static void
desktop_launch_event(struct launch *launch, enum launch_event ev, int status, void *data)
{
	struct desktop *d = data;
	struct desktop_manager *m = d->m;
	if (ev == LAUNCH_READY) {
		ab_loop_timer_cancel(m->loop, d->start_timer);
		d->start_timer = NULL;
		if (d->state != DESKTOP_STARTING)
			return;
		d->state = DESKTOP_READY;
		d->ready_ms = ab_now_ms();
		ab_info("desktop '%s' ready in %lld ms", d->user,
		        (long long)(d->ready_ms - d->started_ms));
		struct desktop_control_params cp = {
		    .path = d->control_path,
		    .heartbeat_ms = m->p.heartbeat_ms,
		    .timeout_ms = m->p.control_timeout_ms,
		    .on_dead = desktop_control_dead,
		    .on_msg = desktop_control_msg,
		    .data = d,
		};
		struct ab_err err = {0};
		int cfd = desktop_connect(d, "control.sock", "control", NULL, &err);
		if (cfd < 0 || desktop_control_open_fd(m->loop, &cp, cfd, &d->control, &err) < 0)
			ab_warn("desktop '%s': no control channel (%s); relying on process "
			        "supervision only",
			        d->user, err.msg);
		waiters_answer(d, 0);
		return;
	}
	char why[64];
	if (status < 0)
		snprintf(why, sizeof(why), "wait failed: %s", strerror(-status));
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "exited");
	if (d->state == DESKTOP_STOPPING)
		ab_info("desktop '%s' stopped (%s)", d->user, why);
	else
		ab_warn("desktop '%s': session %s", d->user, why);
	desktop_gone(d, why);
}

static int64_t
desktop_start_timeout(struct ab_loop *loop, void *data)
{
	struct desktop *d = data;
	d->start_timer = NULL;
	ab_warn("desktop '%s' not ready after %lld ms: stopping it", d->user,
	        (long long)d->m->p.start_timeout_ms);
	audit_log("desktop.start", AUDIT_FAILURE, d->user, NULL, NULL,
	          json_pack("{ss}", "reason", "start timeout"));
	d->state = DESKTOP_STOPPING;
	/* Waiters learn it now rather than after the grace period. */
	waiters_answer(d, -ETIMEDOUT);
	if (!d->preparing)
		d->m->launcher->ops->stop(d->m->launcher, d->launch);
	return AB_TIMER_STOP;
}

static int
desktop_launch(struct desktop *d, const char *const *env, struct ab_err *err)
{
	struct desktop_manager *m = d->m;
	size_t n = json_array_size(m->command);
	const char **cmd = ab_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		cmd[i] = json_string_value(json_array_get(m->command, i));
	/* the session's environment: the prepare hook's, plus the allowed apps */
	size_t nenv = 0;
	while (env && env[nenv])
		nenv++;
	const char **full_env = ab_xcalloc(nenv + 2, sizeof(char *));
	for (size_t i = 0; i < nenv; i++)
		full_env[i] = env[i];
	_cleanup_free_ char *apps_var = NULL;
	if (m->p.apps) {
		_cleanup_free_ char *apps = m->p.apps(m->p.apps_data, d->user);
		apps_var = ab_xasprintf("ARGOBOX_APPS=%s", apps ? apps : "");
		full_env[nenv] = apps_var;
	}
	struct launch_request req = {
	    .user = d->user,
	    .runtime_dir = d->runtime_dir,
	    .geometry = m->geometry,
	    .desktop_command = cmd,
	    .env = full_env[0] ? full_env : NULL,
	};
	int r =
	    m->launcher->ops->start(m->launcher, &req, desktop_launch_event, d, &d->launch, err);
	free(cmd);
	free(full_env);
	if (r < 0) {
		audit_log("desktop.start", AUDIT_FAILURE, d->user, NULL, NULL,
		          json_pack("{ss}", "reason", err ? err->msg : "?"));
		return r;
	}
	audit_log("desktop.start", AUDIT_INFO, d->user, NULL, NULL,
	          json_pack("{sssIsb}", "runtime_dir", d->runtime_dir, "pid",
	                    (json_int_t)m->launcher->ops->pid(m->launcher, d->launch), "restore",
	                    env != NULL));
	return 0;
}

/* params.prepare answered: start the session now (or give up when stopped meanwhile). */
static void
desktop_prepared(void *token, int status, const char *const *env)
{
	struct desktop *d = token;
	d->preparing = false;
	if (d->state != DESKTOP_STARTING) {
		desktop_gone(d, "stopped before its session started");
		return;
	}
	struct ab_err err = {0};
	if (desktop_launch(d, env, &err) < 0) {
		ab_warn("starting the desktop of '%s': %s", d->user, err.msg);
		desktop_gone(d, err.msg);
	}
}

/* A new desktop of `user`, starting, in runtime_dir (taken over); not on the list yet. */
static struct desktop *
desktop_new(struct desktop_manager *m, const char *user, char *runtime_dir)
{
	struct desktop *d = ab_xcalloc(1, sizeof(*d));
	d->m = m;
	d->user = ab_xstrdup(user);
	d->runtime_dir = runtime_dir;
	d->rfb_path = ab_xasprintf("%s/rfb.sock", d->runtime_dir);
	d->control_path = ab_xasprintf("%s/control.sock", d->runtime_dir);
	d->state = DESKTOP_STARTING;
	d->started_ms = ab_now_ms();
	return d;
}

/* Puts d, launched, being prepared or held, on the list; the timer that gives up on its start
 * runs unless it is held (an image build takes minutes: the timer starts when the hold ends). */
static void
desktop_add(struct desktop *d)
{
	struct desktop_manager *m = d->m;
	if (!d->holding)
		d->start_timer =
		    ab_loop_timer(m->loop, m->p.start_timeout_ms, desktop_start_timeout, d);
	d->next = m->desktops;
	m->desktops = d;
}

/* What follows the hold: prepare (the desktop state), then the launch. */
static int
desktop_begin(struct desktop *d, struct ab_err *err)
{
	struct desktop_manager *m = d->m;
	if (m->p.prepare) {
		d->preparing = true;
		if (m->p.prepare(m->p.prepare_data, d->user, d->runtime_dir, desktop_prepared, d) <
		    0)
			d->preparing = false;
	}
	if (!d->preparing)
		return desktop_launch(d, NULL, err);
	return 0;
}

/* params.hold answered: the image is ready (start now) or will not be (the start fails). */
static void
desktop_held(void *token, int status, const char *msg)
{
	struct desktop *d = token;
	struct desktop_manager *m = d->m;
	d->holding = false;
	if (d->state != DESKTOP_STARTING) {
		desktop_gone(d, "stopped while waiting for its desktop image");
		return;
	}
	if (status < 0) {
		ab_warn("desktop '%s' cannot start: %s", d->user, msg ? msg : strerror(-status));
		desktop_gone(d, msg ? msg : strerror(-status));
		return;
	}
	ab_info("desktop '%s': its image is ready after %lld ms; starting", d->user,
	        (long long)(ab_now_ms() - d->started_ms));
	d->start_timer = ab_loop_timer(m->loop, m->p.start_timeout_ms, desktop_start_timeout, d);
	struct ab_err err = {0};
	if (desktop_begin(d, &err) < 0) {
		ab_warn("starting the desktop of '%s': %s", d->user, err.msg);
		desktop_gone(d, err.msg);
	}
}

static int
desktop_start(struct desktop_manager *m, const char *user, struct desktop **ret, struct ab_err *err)
{
	_cleanup_free_ char *dir = ab_xasprintf("%s/%s", m->runtime_base, user);
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return ab_err_wrap(err, "starting the desktop of '%s'", user);
	if (chmod(dir, 0700) < 0)
		return ab_err_errno(err, errno, "starting the desktop of '%s': chmod '%s'", user,
		                    dir);
	if (m->p.runtime_tmpfs)
		runtime_dir_mount(dir);
	struct desktop *d = desktop_new(m, user, TAKE_PTR(dir));
	/* its image being built: every caller waits on this desktop, which starts after it */
	d->holding = m->p.hold && m->p.hold(m->p.hold_data, user, desktop_held, d) == 1;
	if (!d->holding && desktop_begin(d, err) < 0) {
		desktop_free(d);
		return ab_err_wrap(err, "starting the desktop of '%s'", user);
	}
	desktop_add(d);
	*ret = d;
	return 0;
}

int
desktop_acquire(struct desktop_manager *m, const char *user, desktop_ready_fn fn, void *data,
                struct desktop_waiter **ret, struct ab_err *err)
{
	if (!desktop_user_valid(user))
		return ab_err_set(err, EINVAL, "invalid user name '%s'", user);
	if (m->shutting_down)
		return ab_err_set(err, ESHUTDOWN, "the broker is shutting down");
	struct desktop *d = desktop_find(m, user);
	if (d && d->state == DESKTOP_STOPPING)
		return ab_err_set(err, EAGAIN, "the desktop of '%s' is stopping; retry", user);
	if (!d) {
		int r = desktop_start(m, user, &d, err);
		if (r < 0)
			return r;
	}
	struct desktop_waiter *w = ab_xcalloc(1, sizeof(*w));
	w->d = d;
	w->fn = fn;
	w->data = data;
	w->next = d->waiters;
	if (d->waiters)
		d->waiters->prev = w;
	d->waiters = w;
	if (d->state == DESKTOP_READY) {
		w->status = 0;
		w->timer = ab_loop_timer(m->loop, 0, waiter_fire, w);
	}
	*ret = w;
	return 0;
}

void
desktop_client_attach(struct desktop *d)
{
	d->clients++;
}

void
desktop_client_vnc(struct desktop *d, bool attached)
{
	if (attached) {
		desktop_client_attach(d);
		d->vnc_clients++;
		return;
	}
	AB_ASSERT(d->vnc_clients > 0);
	d->vnc_clients--;
	desktop_client_detach(d);
}

void
desktop_note_input(struct desktop *d)
{
	d->input_ms = ab_now_ms();
}

void
desktop_client_detach(struct desktop *d)
{
	AB_ASSERT(d->clients > 0);
	d->clients--;
}

const char *
desktop_user(const struct desktop *d)
{
	return d->user;
}

const char *
desktop_rfb_path(const struct desktop *d)
{
	return d->rfb_path;
}

/* The user whose desktop's session is `pid`, or NULL. */
static const char *
desktop_of_pid(struct desktop_manager *m, pid_t pid)
{
	for (struct desktop *d = m->desktops; d && pid > 0; d = d->next)
		if (d->launch && m->launcher->ops->pid(m->launcher, d->launch) == pid)
			return d->user;
	return NULL;
}

int
desktop_connect(struct desktop *d, const char *name, const char *via, const char *source,
                struct ab_err *err)
{
	struct desktop_manager *m = d->m;
	_cleanup_free_ char *path = ab_xasprintf("%s/%s", d->runtime_dir, name);
	struct ucred peer;
	_cleanup_close_ int fd = ab_unix_connect_peer(path, &peer);
	if (fd < 0) {
		/* Nothing answered; a symlink there is still someone trying. */
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			socket_attack(d->user, path, via, source, NULL, NULL,
			              "a symlink where the session's socket belongs");
		return ab_err_errno(err, -fd, "connecting to '%s'", path);
	}
	if (!d->launch || d->state == DESKTOP_GONE)
		return ab_err_set(err, ENOENT, "the desktop of '%s' is gone", d->user);
	struct ab_err why = {0};
	if (m->launcher->ops->check_peer(m->launcher, d->launch, &peer, &why) < 0) {
		socket_attack(d->user, path, via, source, &peer, desktop_of_pid(m, peer.pid),
		              why.msg);
		return ab_err_set(err, EPERM, "'%s' is not the session of '%s' (%s)", path, d->user,
		                  why.msg);
	}
	return TAKE_FD(fd);
}

int
desktop_adopt(struct desktop_manager *m, const char *user, struct ab_err *err)
{
	if (!desktop_user_valid(user))
		return ab_err_set(err, EINVAL, "invalid user name '%s'", user);
	if (!m->launcher->ops->adopt)
		return ab_err_set(err, EOPNOTSUPP, "this launcher cannot adopt running desktops");
	if (desktop_find(m, user))
		return ab_err_set(err, EEXIST, "'%s' already has a desktop", user);
	struct desktop *d = desktop_new(m, user, ab_xasprintf("%s/%s", m->runtime_base, user));
	int r = m->launcher->ops->adopt(m->launcher, user, d->runtime_dir, desktop_launch_event, d,
	                                &d->launch, err);
	if (r < 0) {
		desktop_free(d);
		return ab_err_wrap(err, "adopting the desktop of '%s'", user);
	}
	desktop_add(d);
	audit_log(
	    "desktop.adopt", AUDIT_INFO, user, NULL, NULL,
	    json_pack("{sI}", "pid", (json_int_t)m->launcher->ops->pid(m->launcher, d->launch)));
	return 0;
}

int
desktop_manager_adopt_running(struct desktop_manager *m)
{
	if (!m->launcher->ops->adopt)
		return 0;
	DIR *dir = opendir(m->runtime_base);
	if (!dir)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!desktop_user_valid(de->d_name) || desktop_find(m, de->d_name))
			continue;
		_cleanup_free_ char *sock =
		    ab_xasprintf("%s/%s/control.sock", m->runtime_base, de->d_name);
		struct stat st;
		if (lstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		struct ab_err err = {0};
		if (desktop_adopt(m, de->d_name, &err) == 0)
			n++;
		else
			ab_info("not adopting '%s': %s", de->d_name, err.msg);
	}
	closedir(dir);
	return n;
}

int
desktop_manager_release_stale(struct desktop_manager *m)
{
	if (!m->p.runtime_tmpfs || geteuid() != 0)
		return 0;
	DIR *dir = opendir(m->runtime_base);
	if (!dir)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!desktop_user_valid(de->d_name) || desktop_find(m, de->d_name))
			continue;
		_cleanup_free_ char *path = ab_xasprintf("%s/%s", m->runtime_base, de->d_name);
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || !is_mountpoint(path))
			continue;
		runtime_dir_unmount(path);
		if (!is_mountpoint(path)) {
			ab_info("runtime dir of '%s': unmounted its tmpfs (no desktop runs for it)",
			        de->d_name);
			audit_log("desktop.cleanup", AUDIT_INFO, de->d_name, NULL, NULL,
			          json_pack("{ss}", "reason",
			                    "runtime directory of a desktop that no longer runs"));
			n++;
		}
	}
	closedir(dir);
	return n;
}

int
desktop_send(struct desktop_manager *m, const char *user, json_t *msg)
{
	struct desktop *d = desktop_find(m, user);
	if (!d || d->state != DESKTOP_READY || !d->control) {
		json_decref(msg);
		return -ENOENT;
	}
	return desktop_control_send(d->control, msg);
}

bool
desktop_exists(struct desktop_manager *m, const char *user)
{
	return desktop_find(m, user) != NULL;
}

int
desktop_stop(struct desktop_manager *m, const char *user)
{
	struct desktop *d = desktop_find(m, user);
	if (!d)
		return -ENOENT;
	if (d->state != DESKTOP_STOPPING) {
		d->state = DESKTOP_STOPPING;
		waiters_answer(d, -ECONNREFUSED);
		if (d->holding) {
			/* nothing runs yet: the hold lets go of it, and it is gone now */
			m->p.hold_cancel(m->p.hold_data, d);
			d->holding = false;
			desktop_gone(d, "stopped while waiting for its desktop image");
		} else if (!d->preparing) {
			m->launcher->ops->stop(m->launcher, d->launch);
		}
	}
	return 0;
}

json_t *
desktop_manager_list(struct desktop_manager *m)
{
	json_t *a = json_array();
	int64_t now = ab_now_ms();
	for (struct desktop *d = m->desktops; d; d = d->next) {
		json_t *o = json_pack(
		    "{sssssIsssIsIsb}", "user", d->user, "state", desktop_state_names[d->state],
		    "pid",
		    (json_int_t)(d->launch ? m->launcher->ops->pid(m->launcher, d->launch) : 0),
		    "runtime_dir", d->runtime_dir, "clients", (json_int_t)d->clients, "uptime_ms",
		    (json_int_t)(now - d->started_ms), "control",
		    desktop_control_hello_seen(d->control));
		json_object_set_new(o, "vnc_clients", json_integer((json_int_t)d->vnc_clients));
		if (d->holding)
			json_object_set_new(o, "waiting_for", json_string("image"));
		json_object_set_new(o, "input_ago_ms",
		                    d->input_ms ? json_integer((json_int_t)(now - d->input_ms))
		                                : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

unsigned
desktop_manager_count(struct desktop_manager *m)
{
	unsigned n = 0;
	for (struct desktop *d = m->desktops; d; d = d->next)
		n++;
	return n;
}

struct desktop_manager *
desktop_manager_new(struct ab_loop *loop, struct launcher *launcher, const struct desktop_params *p)
{
	struct desktop_manager *m = ab_xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->launcher = launcher;
	m->p = *p;
	m->runtime_base = ab_xstrdup(p->runtime_base);
	m->geometry = ab_xstrdup(p->geometry);
	m->command = json_deep_copy(p->desktop_command);
	return m;
}

void
desktop_manager_shutdown(struct desktop_manager *m, int64_t timeout_ms)
{
	m->shutting_down = true;
	for (struct desktop *d = m->desktops; d; d = d->next) {
		if (d->state != DESKTOP_GONE)
			d->state = DESKTOP_STOPPING;
		desktop_control_close(d->control);
		d->control = NULL;
		/* the loop goes before desktop_manager_free(): no timers past this point */
		ab_loop_timer_cancel(m->loop, d->start_timer);
		d->start_timer = NULL;
		if (d->holding) /* no answer from the image builds after this */
			m->p.hold_cancel(m->p.hold_data, d);
		d->holding = false;
	}
	ab_loop_timer_cancel(m->loop, m->reap_timer);
	m->reap_timer = NULL;
	if (m->desktops)
		ab_info("stopping %u desktop(s)", desktop_manager_count(m));
	m->launcher->ops->shutdown(m->launcher, timeout_ms);
}

void
desktop_manager_free(struct desktop_manager *m)
{
	if (!m)
		return;
	/* After shutdown every desktop is in the graveyard; waiters are dropped. */
	struct desktop *lists[2] = {m->desktops, m->graveyard};
	for (int i = 0; i < 2; i++) {
		for (struct desktop *d = lists[i], *next; d; d = next) {
			next = d->next;
			while (d->waiters) {
				struct desktop_waiter *w = d->waiters;
				d->waiters = w->next;
				free(w);
			}
			desktop_free(d);
		}
	}
	ab_loop_timer_cancel(m->loop, m->reap_timer);
	json_decref(m->command);
	free(m->runtime_base);
	free(m->geometry);
	free(m);
}
