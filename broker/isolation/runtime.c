/* SPDX-License-Identifier: GPL-2.0-or-later */
/* runtime: OCI runtime driver on the event loop (see runtime.h). */
#include "runtime.h"
#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "secnotify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A container console log larger than this is moved to .1 when the next one starts. */
#define RT_CONSOLE_ROTATE (4 << 20)

const struct runtime_config runtime_default_config = {
    .runtime = "auto",
    .runtime_path = "",
    .state_root = "",
    .bundle_root = "/var/lib/argobox/bundles",
    .id_prefix = "argobox-",
    .ready_timeout_ms = 30000,
    .stop_timeout_ms = 5000,
    .seccomp_listener = "",
};

enum rt_state {
	RT_CREATING,
	RT_STARTING,
	RT_WAIT_READY,
	RT_RUNNING,
	RT_STOPPING, /* SIGTERM sent, waiting for init */
	RT_KILLING,  /* SIGKILL sent */
	RT_DELETING,
	RT_GONE,
	RT_STATE_MAX,
};

struct rt_container;
typedef void (*cmd_done_fn)(struct rt_container *c, int status);

struct rt_container {
	struct runtime *rt;
	char *user, *id, *bundle, *ready_path;
	char *cgroup; /* cgroupsPath, e.g. "/argobox/<user>" */
	char role[8];
	unsigned index;
	bool has_net;
	enum rt_state state;
	int fail_status;
	char *fail_msg;
	char *cmd_msg; /* the last failed command's exit status and output */

	pid_t shim_pid; /* argobox-seccomp-shim until the runtime attached, else -1 */

	/* the runtime command in flight */
	pid_t cmd_pid;
	int cmd_pidfd, cmd_out;
	struct ab_watch *cmd_watch;
	cmd_done_fn cmd_done;

	/* the container */
	pid_t init_pid;
	int init_pidfd;
	struct ab_watch *init_watch;
	int ready_fd;
	struct ab_watch *ready_watch;
	char ready_buf[16];
	size_t ready_len;
	struct ab_timer *timer;
	int64_t t0_us;       /* the runtime command spawned */
	int64_t net_us;      /* network namespace, veth and rules (before t0) */
	int64_t bundle_us;   /* bundle and seccomp shim (before t0) */
	int64_t run_done_us; /* `run --detach` returned: the container's process runs */
	bool init_dead;
	bool ready_eof;  /* the ready fd closed (possibly before start finished) */
	bool ready_seen; /* "READY\n" arrived (possibly before start finished) */

	runtime_cb cb;
	void *cb_data;
	struct runtime_limits last_limits;
	struct rt_container *next;
};

struct runtime {
	struct ab_loop *loop;
	struct runtime_config cfg;
	struct netpol *np;
	char *bin;
	bool crun;
	struct secnotify *sn;
	runtime_cb exit_fn;
	void *exit_data;
	struct rt_container *list;

	/* adopt */
	pid_t list_pid;
	int list_pidfd, list_out;
	struct ab_watch *list_watch;
	runtime_list_cb list_cb;
	runtime_policy_fn policy_for;
	void *list_data;
};

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static char *
find_bin(const char *name)
{
	static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
	                                   "/usr/bin",        "/sbin",          "/bin"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(dirs); i++) {
		char *p = ab_xasprintf("%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

int
runtime_new(struct ab_loop *loop, const struct runtime_config *cfg, struct netpol *np,
            struct runtime **ret, struct ab_err *err)
{
	const char *want = cfg->runtime;
	_cleanup_free_ char *bin = NULL;
	bool crun = false;
	if (cfg->runtime_path[0]) {
		bin = ab_xstrdup(cfg->runtime_path);
		crun = strstr(cfg->runtime_path, "crun") != NULL;
	} else if (!strcmp(want, "runc") || !strcmp(want, "auto")) {
		bin = find_bin("runc");
		if (!bin && !strcmp(want, "auto")) {
			bin = find_bin("crun");
			crun = true;
		}
	} else if (!strcmp(want, "crun")) {
		bin = find_bin("crun");
		crun = true;
	} else {
		return ab_err_set(err, EINVAL, "runtime '%s': expected auto, runc or crun", want);
	}
	if (!bin || access(bin, X_OK) < 0)
		return ab_err_set(err, ENOENT, "no OCI runtime found (wanted '%s')", want);
	if (cfg->id_prefix[0] == '\0' || strchr(cfg->id_prefix, '/'))
		return ab_err_set(err, EINVAL, "runtime: bad id prefix '%s'", cfg->id_prefix);
	int r = ab_mkdir_p(cfg->bundle_root, 0711, err);
	if (r < 0)
		return ab_err_wrap(err, "runtime bundle root");

	struct secnotify *sn = NULL;
	if (cfg->seccomp_listener[0] &&
	    (r = secnotify_new(loop, cfg->seccomp_listener, &sn, err)) < 0)
		return r;
	struct runtime *rt = ab_xcalloc(1, sizeof(*rt));
	rt->sn = sn;
	rt->loop = loop;
	rt->cfg = *cfg;
	rt->np = np;
	rt->bin = TAKE_PTR(bin);
	rt->crun = crun;
	rt->list_pid = -1;
	rt->list_pidfd = rt->list_out = -1;
	*ret = rt;
	return 0;
}

const char *
runtime_name(struct runtime *rt)
{
	return rt->crun ? "crun" : "runc";
}

void
runtime_set_exit_handler(struct runtime *rt, runtime_cb fn, void *data)
{
	rt->exit_fn = fn;
	rt->exit_data = data;
}

static struct rt_container *
find(struct runtime *rt, const char *user)
{
	for (struct rt_container *c = rt->list; c; c = c->next)
		if (!strcmp(c->user, user) && c->state != RT_GONE)
			return c;
	return NULL;
}

bool
runtime_has(struct runtime *rt, const char *user)
{
	return find(rt, user) != NULL;
}

pid_t
runtime_pid(struct runtime *rt, const char *user)
{
	struct rt_container *c = find(rt, user);
	return c && c->init_pid > 0 ? c->init_pid : -ENOENT;
}

static void
close_cmd(struct rt_container *c)
{
	ab_loop_unwatch(c->rt->loop, c->cmd_watch);
	c->cmd_watch = NULL;
	ab_closep(&c->cmd_pidfd);
	ab_closep(&c->cmd_out);
	c->cmd_pid = -1;
}

static void
close_ready(struct rt_container *c)
{
	struct ab_loop *loop = c->rt->loop;
	ab_loop_unwatch(loop, c->ready_watch);
	c->ready_watch = NULL;
	ab_closep(&c->ready_fd);
	if (c->timer)
		ab_loop_timer_cancel(loop, c->timer);
	c->timer = NULL;
}

static void
close_container_fds(struct rt_container *c)
{
	ab_loop_unwatch(c->rt->loop, c->init_watch);
	c->init_watch = NULL;
	ab_closep(&c->init_pidfd);
	close_ready(c);
}

static void
container_free(struct rt_container *c)
{
	free(c->user);
	free(c->id);
	free(c->bundle);
	free(c->ready_path);
	free(c->fail_msg);
	free(c->cmd_msg);
	free(c->cgroup);
	free(c);
}

static void
unlink_container(struct rt_container *c)
{
	struct runtime *rt = c->rt;
	for (struct rt_container **p = &rt->list; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
}

static int64_t
reap_timer(struct ab_loop *loop, void *data)
{
	container_free(data);
	return AB_TIMER_STOP;
}

/* Drops the record; freed on the next loop round, never under a running callback. */
static void stop_shim(struct rt_container *c);

static void
container_gone(struct rt_container *c)
{
	stop_shim(c);
	close_cmd(c);
	close_container_fds(c);
	c->state = RT_GONE;
	unlink_container(c);
	ab_loop_timer(c->rt->loop, 0, reap_timer, c);
}

static void
rt_argv_base(struct runtime *rt, const char **argv, size_t *n)
{
	argv[(*n)++] = rt->bin;
	if (rt->cfg.state_root[0]) {
		argv[(*n)++] = "--root";
		argv[(*n)++] = rt->cfg.state_root;
	}
}

/*
 * Forks and execs argv with stdin an empty pipe, stdout `out_fd`, stderr `err_fd`
 * (-1: /dev/null) and `keep_fd` (-1: none) as fd 3. For crun, hides the
 * cgroup2 mount in a private mount namespace first.
 *
 * stdin is a pipe whose write end is closed (reads see EOF, as from /dev/null), never
 * the host's /dev/null: the container's process inherits the runtime's stdio, crun
 * chowns it to the desktop user, and a user owning the host's /dev/null could fchmod it
 * (0444 broke every container on the host).
 */
static pid_t
spawn(struct runtime *rt, const char *const *argv, int out_fd, int err_fd, int keep_fd)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	close(in[1]);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0) {
		int e = errno;
		close(in[0]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(devnull);
		close(in[0]);
		return -e;
	}
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0 ||
		    dup2(err_fd >= 0 ? err_fd : devnull, 2) < 0)
			_exit(127);
		if (keep_fd >= 0) {
			if (keep_fd != 3) {
				if (dup2(keep_fd, 3) < 0)
					_exit(127);
			} else {
				fcntl(3, F_SETFD, 0);
			}
		}
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (rt->crun) {
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
				_exit(126);
			umount2("/sys/fs/cgroup/unified", MNT_DETACH);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(devnull);
	close(in[0]);
	return pid;
}

static void cmd_ready(struct ab_loop *loop, int fd, unsigned events, void *data);

/* Runs a runtime command for container c; `done` gets its exit status. */
static int
run_cmd(struct rt_container *c, const char *const *args, int err_fd, int keep_fd, cmd_done_fn done)
{
	struct runtime *rt = c->rt;
	const char *argv[24];
	size_t n = 0;
	rt_argv_base(rt, argv, &n);
	for (size_t i = 0; args[i]; i++) {
		AB_ASSERT(n < AB_ARRAY_SIZE(argv) - 1);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	/* With err_fd (create), all output goes there: the container inherits it. */
	_cleanup_close_ int out = err_fd >= 0 ? fcntl(err_fd, F_DUPFD_CLOEXEC, 3)
	                                      : memfd_create("argobox-runtime-out", MFD_CLOEXEC);
	if (out < 0)
		return -errno;
	pid_t pid = spawn(rt, argv, out, out, keep_fd);
	if (pid < 0)
		return (int)pid;
	int pfd = pidfd_open_(pid);
	if (pfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -e;
	}
	c->cmd_pid = pid;
	c->cmd_pidfd = pfd;
	c->cmd_out = TAKE_FD(out);
	c->cmd_done = done;
	c->cmd_watch = ab_loop_watch(rt->loop, pfd, AB_LOOP_READ, cmd_ready, c);
	return 0;
}

/* The last line of the command's output, for error messages. */
static char *
cmd_output(int fd)
{
	char buf[2048];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	if (n <= 0)
		return ab_xstrdup("");
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	char *nl = strrchr(buf, '\n');
	return ab_xstrdup(nl ? nl + 1 : buf);
}

static void
cmd_ready(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct rt_container *c = data;
	int st = 0;
	pid_t r = waitpid(c->cmd_pid, &st, WNOHANG);
	if (r == 0)
		return;
	int status = r < 0 ? -ECHILD : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	cmd_done_fn done = c->cmd_done;
	free(c->cmd_msg);
	c->cmd_msg = NULL;
	if (status) {
		_cleanup_free_ char *out = cmd_output(c->cmd_out);
		c->cmd_msg = ab_xasprintf("exit status %d: %s", status, out);
	}
	close_cmd(c);
	done(c, status);
}

static json_t *
detail_for(struct rt_container *c)
{
	return json_pack("{s:s, s:s}", "container", c->id, "runtime", runtime_name(c->rt));
}

/* ---- teardown (stop, and failed starts) ---- */

static void teardown_finish(struct rt_container *c);

static void
deleted(struct rt_container *c, int status)
{
	if (status)
		ab_warn("runtime: delete '%s': %s", c->id, c->cmd_msg ? c->cmd_msg : "");
	teardown_finish(c);
}

static void
teardown_delete(struct rt_container *c)
{
	close_container_fds(c);
	if (c->cmd_pid > 0) {
		/* A command still in flight (a hung kill): reap it if it is done, else leave it. */
		waitpid(c->cmd_pid, NULL, WNOHANG);
		close_cmd(c);
	}
	c->state = RT_DELETING;
	const char *args[] = {"delete", "--force", c->id, NULL};
	if (run_cmd(c, args, -1, -1, deleted) < 0)
		teardown_finish(c);
}

static void
teardown_finish(struct rt_container *c)
{
	struct runtime *rt = c->rt;
	struct ab_err err = {0};
	if (c->has_net && rt->np && netpol_remove(rt->np, c->user, c->index, &err) < 0)
		ab_warn("runtime: %s", err.msg);
	if (!getenv("AB_KEEP_BUNDLE") && bundle_remove(c->bundle, &err) < 0)
		ab_warn("runtime: %s", err.msg);
	runtime_cb cb = c->cb;
	void *cb_data = c->cb_data;
	int status = c->fail_status;
	_cleanup_free_ char *msg = c->fail_msg && status ? ab_xstrdup(c->fail_msg) : NULL;
	_cleanup_free_ char *user = ab_xstrdup(c->user);
	if (status == 0) {
		json_t *d = detail_for(c);
		audit_log("container.stop", AUDIT_INFO, c->user, c->role, NULL, d);
	}
	c->cb = NULL;
	container_gone(c);
	if (cb)
		cb(rt, user, status, msg, cb_data);
}

/* A start failed at some step: audit, then delete what exists and report. */
static void
start_failed(struct rt_container *c, int status, const char *reason, const char *what)
{
	_cleanup_free_ char *msg =
	    what && what[0] ? ab_xasprintf("%s: %s", reason, what) : ab_xstrdup(reason);
	ab_warn("runtime: starting '%s': %s", c->user, msg);
	json_t *d = detail_for(c);
	json_object_set_new(d, "reason", json_string(msg));
	audit_log("container.start", AUDIT_FAILURE, c->user, c->role, NULL, d);
	c->fail_status = status < 0 ? status : -EIO;
	free(c->fail_msg);
	c->fail_msg = TAKE_PTR(msg);
	teardown_delete(c);
}

/* ---- the running container ---- */

static void
init_exited(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct rt_container *c = data;
	ab_loop_unwatch(loop, c->init_watch);
	c->init_watch = NULL;
	ab_closep(&c->init_pidfd);
	c->init_dead = true;
	if (c->state == RT_STOPPING || c->state == RT_KILLING) {
		if (c->cmd_pid <= 0) /* else killed() moves on */
			teardown_delete(c);
		return;
	}
	if (c->state == RT_WAIT_READY) {
		start_failed(c, -ECHILD, "container exited before it was ready", NULL);
		return;
	}
	if (c->state == RT_STARTING)
		return; /* started() sees init_dead */
	/* Died on its own. */
	json_t *d = detail_for(c);
	json_object_set_new(d, "pid", json_integer(c->init_pid));
	audit_log("container.exit", AUDIT_FAILURE, c->user, c->role, NULL, d);
	ab_warn("runtime: container '%s' exited", c->id);
	c->cb = c->rt->exit_fn;
	c->cb_data = c->rt->exit_data;
	c->fail_status = -ECHILD;
	free(c->fail_msg);
	c->fail_msg = ab_xstrdup("container exited");
	teardown_delete(c);
}

static int
watch_init(struct rt_container *c)
{
	int pfd = pidfd_open_(c->init_pid);
	if (pfd < 0)
		return -errno;
	c->init_pidfd = pfd;
	c->init_watch = ab_loop_watch(c->rt->loop, pfd, AB_LOOP_READ, init_exited, c);
	return 0;
}

static void
became_ready(struct rt_container *c)
{
	close_ready(c);
	c->state = RT_RUNNING;
	int64_t ms = (ab_now_us() - c->t0_us) / 1000;
	json_t *d = detail_for(c);
	json_object_set_new(d, "pid", json_integer(c->init_pid));
	json_object_set_new(d, "ms", json_integer(ms));
	/* where the time went: before the runtime (net, bundle), the runtime, the session */
	int64_t now_us = ab_now_us(), run_us = c->run_done_us ? c->run_done_us : now_us;
	json_object_set_new(d, "steps_us",
	                    json_pack("{sIsIsIsI}", "net", (json_int_t)c->net_us, "bundle",
	                              (json_int_t)c->bundle_us, "runtime",
	                              (json_int_t)(run_us - c->t0_us), "session",
	                              (json_int_t)(now_us - run_us)));
	audit_log("container.ready", AUDIT_INFO, c->user, c->role, NULL, d);
	ab_info("runtime: '%s' ready in %lld ms (before the runtime: network %lld us, bundle "
	        "%lld us; runtime run %lld ms; session %lld ms)",
	        c->user, (long long)ms, (long long)c->net_us, (long long)c->bundle_us,
	        (long long)(run_us - c->t0_us) / 1000, (long long)(now_us - run_us) / 1000);
	runtime_cb cb = c->cb;
	c->cb = NULL;
	if (cb)
		cb(c->rt, c->user, 0, NULL, c->cb_data);
}

static void
ready_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct rt_container *c = data;
	ssize_t n = read(fd, c->ready_buf + c->ready_len, sizeof(c->ready_buf) - 1 - c->ready_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		c->ready_len += (size_t)n;
		c->ready_buf[c->ready_len] = '\0';
		if (strstr(c->ready_buf, "READY\n")) {
			c->ready_seen = true; /* before start finished: started() picks it up */
			if (c->state == RT_WAIT_READY)
				became_ready(c);
			return;
		}
		if (c->ready_len < sizeof(c->ready_buf) - 1)
			return;
	}
	/* EOF or garbage: the process closed its ready fd without READY. */
	ab_loop_unwatch(loop, c->ready_watch);
	c->ready_watch = NULL;
	ab_closep(&c->ready_fd);
	c->ready_eof = true;
	if (c->state == RT_WAIT_READY && !c->ready_path)
		start_failed(c, -EPIPE, "closed its ready fd without READY", NULL);
}

static int64_t
ready_tick(struct ab_loop *loop, void *data)
{
	struct rt_container *c = data;
	if (c->state != RT_WAIT_READY) {
		c->timer = NULL;
		return AB_TIMER_STOP;
	}
	struct stat rst;
	if (c->ready_path && fstatat(AT_FDCWD, c->ready_path, &rst, AT_SYMLINK_NOFOLLOW) == 0) {
		c->timer = NULL;
		became_ready(c);
		return AB_TIMER_STOP;
	}
	if ((ab_now_us() - c->t0_us) / 1000 > c->rt->cfg.ready_timeout_ms) {
		c->timer = NULL;
		start_failed(c, -ETIMEDOUT, "not ready within the timeout", NULL);
		return AB_TIMER_STOP;
	}
	return c->ready_path ? 5 : 100;
}

static void
started(struct rt_container *c, int status)
{
	if (status) {
		start_failed(c, -EIO, "runtime start failed", c->cmd_msg);
		return;
	}
	c->state = RT_WAIT_READY;
	if (c->init_dead) {
		start_failed(c, -ECHILD, "container exited before it was ready", NULL);
		return;
	}
	if (c->ready_seen) {
		became_ready(c);
		return;
	}
	if (c->ready_eof && !c->ready_path) {
		start_failed(c, -EPIPE, "closed its ready fd without READY", NULL);
		return;
	}
	c->timer = ab_loop_timer(c->rt->loop, c->ready_path ? 2 : 100, ready_tick, c);
}

static int
read_pid_file(const char *bundle, pid_t *ret)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/init.pid", bundle);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = ab_read_file(path, 64, &data, &len, NULL);
	if (r < 0)
		return r;
	long v = strtol(data, NULL, 10);
	if (v <= 1)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

/*
 * `run --detach` returned: the container's first process runs (the runtime created the
 * container and started it in one command, one process instead of `create` + `start`).
 */
static void
ran(struct rt_container *c, int status)
{
	c->run_done_us = ab_now_us();
	if (status) {
		start_failed(c, -EIO, "runtime run failed", c->cmd_msg);
		return;
	}
	/* The runtime handed the notify fd to the shim: it now lives as long as the container. */
	c->shim_pid = -1;
	if (read_pid_file(c->bundle, &c->init_pid) < 0) {
		start_failed(c, -EIO, "runtime wrote no pid file", NULL);
		return;
	}
	c->state = RT_STARTING;
	if (watch_init(c) < 0) {
		start_failed(c, -ECHILD, "container exited before it was ready", NULL);
		return;
	}
	started(c, 0);
}

static void
audit_privileges(struct runtime *rt, const struct runtime_spec *spec)
{
	json_t *caps = json_array();
	for (size_t i = 0; spec->caps && spec->caps[i]; i++)
		json_array_append_new(caps, json_string(spec->caps[i]));
	uid_t host = bundle_host_id(spec);
	bool aa = spec->apparmor_profile && bundle_apparmor_enabled();
	json_t *d = json_pack(
	    "{s:o, s:b, s:s?, s:s?, s:s, s:I, s:I, s:b, s:I, s:I, s:I}", "caps", caps,
	    "no_new_privs", 1, "seccomp", spec->seccomp_path, "apparmor",
	    aa ? spec->apparmor_profile : NULL, "apparmor_state",
	    aa ? "enforced" : (spec->apparmor_profile ? "kernel has no AppArmor" : "none"),
	    "host_uid_first", (json_int_t)host, "host_uid_last",
	    (json_int_t)host + BUNDLE_IDS_PER_USER - 1, "read_only_root", spec->read_only_root,
	    "memory_bytes", (json_int_t)spec->memory_bytes, "cpu_millis",
	    (json_int_t)spec->cpu_millis, "pids_max", (json_int_t)spec->pids_max);
	audit_log("container.privileges", AUDIT_INFO, spec->user, runtime_role_name(spec->role),
	          NULL, d);
	(void)rt;
}

/*
 * Binds <bundle>/seccomp.sock and starts argobox-seccomp-shim on it, detached
 * (double fork: it is init's child, never the broker's zombie, and survives
 * the broker). Returns the shim's pid.
 */
static pid_t
start_shim(struct runtime *rt, const char *sock_path, struct ab_err *err)
{
	_cleanup_close_ int lfd = ab_unix_listen(sock_path, 0600, err);
	if (lfd < 0)
		return ab_err_wrap(err, "seccomp shim socket");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return ab_err_errno(err, errno, "pipe");
	char fdarg[16], tmo[24];
	snprintf(fdarg, sizeof(fdarg), "%d", 3);
	snprintf(tmo, sizeof(tmo), "%d", rt->cfg.ready_timeout_ms + 5000);
	const char *argv[] = {
	    rt->cfg.seccomp_shim,  "--listen-fd", fdarg,
	    "--attach-timeout-ms", tmo,           rt->cfg.audit_path[0] ? "--audit" : NULL,
	    rt->cfg.audit_path,    NULL};
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return ab_err_errno(err, e, "fork");
	}
	if (mid == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			if (dup2(lfd, 3) < 0)
				_exit(127);
			ab_unblock_signals();
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		ssize_t w = write(p[1], &pid, sizeof(pid));
		_exit(pid > 0 && w == (ssize_t)sizeof(pid) ? 0 : 1);
	}
	close(p[1]);
	pid_t pid = -1;
	ssize_t n;
	do
		n = read(p[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	waitpid(mid, NULL, 0);
	if (n != (ssize_t)sizeof(pid) || pid <= 0)
		return ab_err_set(err, ECHILD, "could not start %s", rt->cfg.seccomp_shim);
	return pid;
}

static void
stop_shim(struct rt_container *c)
{
	if (c->shim_pid > 0)
		kill(c->shim_pid, SIGTERM);
	c->shim_pid = -1;
}

int
runtime_start(struct runtime *rt, const struct runtime_spec *spec_in, const struct netpol_user *net,
              const char *ready_file, runtime_cb ready, void *data, struct ab_err *err)
{
	int r = bundle_spec_validate(spec_in, err);
	if (r < 0)
		return r;
	if (find(rt, spec_in->user))
		return ab_err_set(err, EBUSY, "user '%s' already has a container", spec_in->user);
	if (ready_file && (strchr(ready_file, '/') || !ready_file[0]))
		return ab_err_set(err, EINVAL, "ready file must be a plain name");

	int64_t t_start = ab_now_us();
	struct runtime_spec spec = *spec_in;
	spec.preserve_fds = 1;
	_cleanup_free_ char *bundle = ab_xasprintf("%s/%s", rt->cfg.bundle_root, spec.user);
	_cleanup_free_ char *shim_sock = NULL;
	if (rt->sn) {
		spec.seccomp_listener = rt->cfg.seccomp_listener;
	} else if (rt->cfg.seccomp_shim[0]) {
		shim_sock = ab_xasprintf("%s/seccomp.sock", bundle);
		spec.seccomp_listener = shim_sock;
	}
	_cleanup_free_ char *netns = NULL;
	if (net && rt->np) {
		if (strcmp(net->user, spec.user) != 0 || net->index != spec.index)
			return ab_err_set(err, EINVAL, "network policy is not for '%s'", spec.user);
		r = netpol_add(rt->np, net, &netns, err);
		if (r < 0)
			return ab_err_wrap(err, "starting '%s'", spec.user);
		spec.netns_path = netns;
	}
	int64_t t_net = ab_now_us();
	r = bundle_write(&spec, bundle, err);
	if (r < 0) {
		if (netns)
			netpol_remove(rt->np, spec.user, spec.index, NULL);
		json_t *d = json_pack("{s:s}", "reason", err ? err->msg : "bundle");
		audit_log("container.start", AUDIT_FAILURE, spec.user, runtime_role_name(spec.role),
		          NULL, d);
		return ab_err_wrap(err, "starting '%s'", spec.user);
	}
	pid_t shim = -1;
	if (shim_sock && (shim = start_shim(rt, shim_sock, err)) < 0) {
		if (netns)
			netpol_remove(rt->np, spec.user, spec.index, NULL);
		bundle_remove(bundle, NULL);
		json_t *d = json_pack("{s:s}", "reason", err ? err->msg : "seccomp shim");
		audit_log("container.start", AUDIT_FAILURE, spec.user, runtime_role_name(spec.role),
		          NULL, d);
		return ab_err_wrap(err, "starting '%s'", spec.user);
	}
	if (shim > 0) {
		/* for the clean-up pass of the next broker, should this one die before the
		 * runtime attaches the container to its shim (sweep_stale_bundles) */
		_cleanup_free_ char *pf = ab_xasprintf("%s/shim.pid", bundle);
		_cleanup_free_ char *txt = ab_xasprintf("%d\n", (int)shim);
		struct ab_err perr = {0};
		if (ab_write_file_atomic(pf, txt, strlen(txt), 0600, &perr) < 0)
			ab_warn("runtime: %s", perr.msg);
	}
	audit_privileges(rt, &spec);

	struct rt_container *c = ab_xcalloc(1, sizeof(*c));
	c->shim_pid = shim;
	c->rt = rt;
	c->user = ab_xstrdup(spec.user);
	c->id = ab_xasprintf("%s%s", rt->cfg.id_prefix, spec.user);
	c->bundle = TAKE_PTR(bundle);
	c->cgroup =
	    ab_xasprintf("/%s/%s", spec.cgroup_parent ? spec.cgroup_parent : "argobox", spec.user);
	c->ready_path = ready_file ? ab_xasprintf("%s/%s", spec.runtime_dir, ready_file) : NULL;
	snprintf(c->role, sizeof(c->role), "%s", runtime_role_name(spec.role));
	c->index = spec.index;
	c->has_net = netns != NULL;
	c->state = RT_CREATING;
	c->cmd_pid = c->init_pid = -1;
	c->cmd_pidfd = c->cmd_out = c->init_pidfd = c->ready_fd = -1;
	c->cb = ready;
	c->cb_data = data;
	c->t0_us = ab_now_us();
	c->net_us = t_net - t_start;
	c->bundle_us = c->t0_us - t_net;
	c->next = rt->list;
	rt->list = c;
	if (c->ready_path)
		unlink(c->ready_path);

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail_early;
	}
	c->ready_fd = p[0];
	ab_fd_set_nonblock(p[0], true);
	c->ready_watch = ab_loop_watch(rt->loop, p[0], AB_LOOP_READ, ready_readable, c);

	/*
	 * Beside the bundle, so it outlives the container for a look after the
	 * fact (the bundle goes when it stops): <bundle_root>/<user>.console.log,
	 * the previous one kept as .1 once it passed RT_CONSOLE_ROTATE bytes.
	 */
	_cleanup_free_ char *log = ab_xasprintf("%s.console.log", c->bundle);
	struct stat lst;
	if (lstat(log, &lst) == 0 && S_ISREG(lst.st_mode) && lst.st_size > RT_CONSOLE_ROTATE) {
		_cleanup_free_ char *old = ab_xasprintf("%s.1", log);
		if (rename(log, old) < 0)
			ab_warn("runtime: rotating '%s': %s", log, strerror(errno));
	}
	_cleanup_close_ int logfd =
	    open(log, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	_cleanup_free_ char *pidfile = ab_xasprintf("%s/init.pid", c->bundle);
	const char *args[] = {"run",   "--detach",       "--bundle", c->bundle, "--pid-file",
	                      pidfile, "--preserve-fds", "1",        c->id,     NULL};
	/* The container inherits runc's stdio: its output lands in console.log. */
	r = run_cmd(c, args, logfd, p[1], ran);
	close(p[1]);
	if (r < 0)
		goto fail_early;
	audit_log("container.start", AUDIT_GRANT, c->user, c->role, NULL, detail_for(c));
	return 0;

fail_early:
	ab_err_errno(err, -r, "starting '%s': spawning the runtime", spec.user);
	c->cb = NULL;
	if (c->has_net)
		netpol_remove(rt->np, c->user, c->index, NULL);
	bundle_remove(c->bundle, NULL);
	container_gone(c);
	return r;
}

/* ---- stop ---- */

static int64_t stop_timeout(struct ab_loop *loop, void *data);

static void
killed(struct rt_container *c, int status)
{
	/* Normally init_exited() moves on to delete; a failed kill means it is already gone. */
	if (status || c->init_dead)
		teardown_delete(c);
}

static int64_t
stop_timeout(struct ab_loop *loop, void *data)
{
	struct rt_container *c = data;
	c->timer = NULL;
	if (c->state != RT_STOPPING)
		return AB_TIMER_STOP;
	c->state = RT_KILLING;
	if (c->cmd_pid > 0) /* a slow kill command: give up on it */
		close_cmd(c);
	const char *args[] = {"kill", "--all", c->id, "KILL", NULL};
	if (run_cmd(c, args, -1, -1, killed) < 0)
		teardown_delete(c);
	return AB_TIMER_STOP;
}

int
runtime_stop(struct runtime *rt, const char *user, runtime_cb done, void *data, struct ab_err *err)
{
	struct rt_container *c = find(rt, user);
	if (!c)
		return ab_err_set(err, ENOENT, "no container for '%s'", user);
	if (c->state >= RT_STOPPING)
		return ab_err_set(err, EALREADY, "container for '%s' is already stopping", user);
	if (c->state != RT_RUNNING) {
		/* Still starting: fail the start, then tear down; `done` runs after. */
		runtime_cb start_cb = c->cb;
		void *start_data = c->cb_data;
		c->cb = NULL;
		if (start_cb)
			start_cb(rt, user, -ECANCELED, "stopped while starting", start_data);
		close_cmd(c);
		c->cb = done;
		c->cb_data = data;
		c->state = RT_STOPPING;
		teardown_delete(c);
		return 0;
	}
	c->cb = done;
	c->cb_data = data;
	c->fail_status = 0;
	c->state = RT_STOPPING;
	if (c->init_pidfd < 0 && watch_init(c) < 0) {
		teardown_delete(c);
		return 0;
	}
	const char *args[] = {"kill", c->id, "TERM", NULL};
	if (run_cmd(c, args, -1, -1, killed) < 0) {
		teardown_delete(c);
		return 0;
	}
	c->timer = ab_loop_timer(rt->loop, rt->cfg.stop_timeout_ms, stop_timeout, c);
	return 0;
}

/* ---- adopt ---- */

static void sweep_stale_bundles(struct runtime *rt);

static void
list_finish(struct runtime *rt, int status)
{
	ab_loop_unwatch(rt->loop, rt->list_watch);
	rt->list_watch = NULL;
	ab_closep(&rt->list_pidfd);
	struct runtime_info *infos = NULL;
	size_t n = 0;
	json_t *arr = NULL;
	if (status == 0) {
		char *text = NULL;
		off_t size = lseek(rt->list_out, 0, SEEK_END);
		if (size >= 0 && size < (1 << 24)) {
			text = ab_xmalloc((size_t)size + 1);
			ssize_t got = pread(rt->list_out, text, (size_t)size, 0);
			text[got > 0 ? got : 0] = '\0';
			arr = json_loads(text, JSON_DECODE_ANY, NULL);
		}
		free(text);
		if (!json_is_array(arr) && !json_is_null(arr))
			status = -EPROTO;
	}
	ab_closep(&rt->list_out);
	size_t plen = strlen(rt->cfg.id_prefix);
	if (json_is_array(arr))
		infos = ab_xcalloc(json_array_size(arr) + 1, sizeof(*infos));
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *st = json_string_value(json_object_get(e, "status"));
		json_int_t pid = json_integer_value(json_object_get(e, "pid"));
		if (!id || !st || strncmp(id, rt->cfg.id_prefix, plen) != 0)
			continue;
		const char *user = id + plen;
		if (strlen(user) > BUNDLE_USER_MAX)
			continue;
		struct runtime_info *inf = &infos[n++];
		snprintf(inf->user, sizeof(inf->user), "%s", user);
		snprintf(inf->status, sizeof(inf->status), "%s", st);
		inf->pid = (pid_t)pid;
		_cleanup_free_ char *bundle = ab_xasprintf("%s/%s", rt->cfg.bundle_root, user);
		_cleanup_free_ char *cfgpath = ab_xasprintf("%s/config.json", bundle);
		json_t *cfg = json_load_file(cfgpath, 0, NULL);
		json_t *ann = json_object_get(cfg, "annotations");
		snprintf(inf->role, sizeof(inf->role), "%s",
		         json_string_value(json_object_get(ann, "org.argobox.role")) ?: "unknown");
		const char *idx = json_string_value(json_object_get(ann, "org.argobox.index"));
		inf->index = idx ? (unsigned)strtoul(idx, NULL, 10) : 0;
		const char *cgpath = json_string_value(
		    json_object_get(json_object_get(cfg, "linux"), "cgroupsPath"));
		_cleanup_free_ char *cg = cgpath && cgpath[0] == '/' && !strstr(cgpath, "..")
		                              ? ab_xstrdup(cgpath)
		                              : ab_xasprintf("/argobox/%s", user);
		json_decref(cfg);
		if (find(rt, user))
			continue;
		struct rt_container *c = ab_xcalloc(1, sizeof(*c));
		c->rt = rt;
		c->user = ab_xstrdup(user);
		c->id = ab_xstrdup(id);
		c->bundle = TAKE_PTR(bundle);
		c->cgroup = TAKE_PTR(cg);
		snprintf(c->role, sizeof(c->role), "%s", inf->role);
		c->index = inf->index;
		c->cmd_pid = -1;
		c->cmd_pidfd = c->cmd_out = c->init_pidfd = c->ready_fd = -1;
		c->init_pid = inf->pid;
		c->state = RT_RUNNING;
		c->next = rt->list;
		rt->list = c;
		/* The namespace and rules outlive the broker; stop removes them. */
		c->has_net = rt->np != NULL;
		const struct netpol_user *pol =
		    rt->policy_for ? rt->policy_for(user, rt->list_data) : NULL;
		if (pol && rt->np) {
			_cleanup_free_ char *ns = NULL;
			struct ab_err nerr = {0};
			if (netpol_adopt(rt->np, pol, &ns, &nerr) < 0)
				ab_warn("runtime: adopting '%s': %s", user, nerr.msg);
		}
		if (strcmp(st, "running") != 0 || inf->pid <= 0 || watch_init(c) < 0) {
			/* Dead (or never started: "created") while we were away: the caller
			 * stops (cleans) it. */
			c->init_pid = -1;
			snprintf(inf->status, sizeof(inf->status), "stopped");
		}
		json_t *d = detail_for(c);
		json_object_set_new(d, "status", json_string(inf->status));
		json_object_set_new(d, "runtime_status", json_string(st));
		json_object_set_new(d, "pid", json_integer(inf->pid));
		audit_log("container.adopt", AUDIT_INFO, user, c->role, NULL, d);
	}
	json_decref(arr);
	if (status == 0)
		sweep_stale_bundles(rt);
	runtime_list_cb cb = rt->list_cb;
	rt->list_cb = NULL;
	rt->list_pid = -1;
	if (cb)
		cb(rt, infos, n, status, rt->list_data);
	free(infos);
}

/*
 * What a broker killed in the middle of runtime_start() leaves when the runtime never created
 * the container (it died before `run`, or with the broker): the user's bundle, network
 * namespace, veth and nftables chains, with no container the runtime knows. After a
 * successful list, every bundle directory under bundle_root whose user has no container here
 * (adopted, being removed, or starting) is such a leftover: its network and the bundle go,
 * audited as "container.cleanup". The slot index comes from the bundle's config.json (written
 * by this broker, outside any container's reach), else from the user's current policy. The
 * container's seccomp shim, if it was started, exits by itself (--attach-timeout-ms).
 */
/* The seccomp shim a dead broker started for a container that never ran (its pid in the
 * bundle's shim.pid, checked to be that program still): SIGTERM. */
static bool
stop_stale_shim(struct runtime *rt, const char *bundle)
{
	_cleanup_free_ char *pf = ab_xasprintf("%s/shim.pid", bundle);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!rt->cfg.seccomp_shim[0] || ab_read_file(pf, 32, &text, &len, NULL) < 0)
		return false;
	long pid = strtol(text, NULL, 10);
	if (pid <= 1)
		return false;
	_cleanup_free_ char *exe = ab_xasprintf("/proc/%ld/exe", pid);
	char target[PATH_MAX];
	ssize_t n = readlink(exe, target, sizeof(target) - 1);
	_cleanup_free_ char *want = realpath(rt->cfg.seccomp_shim, NULL);
	if (n <= 0 || !want)
		return false;
	target[n] = '\0';
	if (strcmp(target, want) != 0)
		return false;
	return kill((pid_t)pid, SIGTERM) == 0;
}

static void
sweep_stale_bundles(struct runtime *rt)
{
	DIR *dir = opendir(rt->cfg.bundle_root);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *user = de->d_name;
		struct stat st;
		if (user[0] == '.' || strlen(user) > BUNDLE_USER_MAX || find(rt, user) ||
		    fstatat(dirfd(dir), user, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		_cleanup_free_ char *bundle = ab_xasprintf("%s/%s", rt->cfg.bundle_root, user);
		_cleanup_free_ char *cfgpath = ab_xasprintf("%s/config.json", bundle);
		json_t *cfg = json_load_file(cfgpath, 0, NULL);
		const char *idx = json_string_value(
		    json_object_get(json_object_get(cfg, "annotations"), "org.argobox.index"));
		const struct netpol_user *pol =
		    rt->policy_for ? rt->policy_for(user, rt->list_data) : NULL;
		bool have_index = idx || pol;
		unsigned index = idx ? (unsigned)strtoul(idx, NULL, 10) : pol ? pol->index : 0;
		json_decref(cfg);
		bool shim = stop_stale_shim(rt, bundle);
		struct ab_err err = {0};
		bool net = false;
		if (rt->np && have_index) {
			net = netpol_remove(rt->np, user, index, &err) == 0;
			if (!net)
				ab_warn("runtime: leftover of '%s': %s", user, err.msg);
			ab_err_clear(&err);
		}
		bool removed = bundle_remove(bundle, &err) == 0;
		if (!removed)
			ab_warn("runtime: leftover of '%s': %s", user, err.msg);
		ab_warn("runtime: '%s' has a bundle but no container (a start cut short): removed "
		        "%s%s",
		        user, removed ? "the bundle" : "nothing of the bundle",
		        net ? ", its network namespace, veth and rules" : "");
		audit_log(
		    "container.cleanup", removed ? AUDIT_INFO : AUDIT_FAILURE, user, NULL, NULL,
		    json_pack("{sssbsbsb}", "reason",
		              "bundle without a container (a start cut short)", "bundle_removed",
		              removed, "network_removed", net, "shim_stopped", shim));
	}
	closedir(dir);
}

static void
list_ready(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct runtime *rt = data;
	int st = 0;
	pid_t r = waitpid(rt->list_pid, &st, WNOHANG);
	if (r == 0)
		return;
	int status = r < 0 ? -ECHILD : (WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : -EIO;
	list_finish(rt, status);
}

int
runtime_adopt(struct runtime *rt, runtime_policy_fn policy_for, runtime_list_cb done, void *data,
              struct ab_err *err)
{
	if (rt->list_pid > 0)
		return ab_err_set(err, EBUSY, "runtime: an adopt is already running");
	const char *argv[12];
	size_t n = 0;
	rt_argv_base(rt, argv, &n);
	argv[n++] = "list";
	argv[n++] = "--format";
	argv[n++] = "json";
	argv[n] = NULL;
	_cleanup_close_ int out = memfd_create("argobox-runtime-list", MFD_CLOEXEC);
	if (out < 0)
		return ab_err_errno(err, errno, "runtime list");
	pid_t pid = spawn(rt, argv, out, -1, -1);
	if (pid < 0)
		return ab_err_errno(err, (int)-pid, "spawning '%s list'", rt->bin);
	int pfd = pidfd_open_(pid);
	if (pfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return ab_err_errno(err, e, "pidfd_open");
	}
	rt->list_pid = pid;
	rt->list_pidfd = pfd;
	rt->list_out = TAKE_FD(out);
	rt->list_cb = done;
	rt->list_data = data;
	rt->policy_for = policy_for;
	rt->list_watch = ab_loop_watch(rt->loop, pfd, AB_LOOP_READ, list_ready, rt);
	return 0;
}

/* ---- limits ---- */

static int64_t
read_key(const char *path, const char *key)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (ab_read_file(path, 65536, &data, &len, NULL) < 0)
		return -1;
	if (!key)
		return strtoll(data, NULL, 10);
	size_t kl = strlen(key);
	for (char *line = data; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			return strtoll(line + kl + 1, NULL, 10);
	return -1;
}

int
runtime_limits(struct runtime *rt, const char *user, struct runtime_limits *ret, struct ab_err *err)
{
	struct rt_container *c = find(rt, user);
	if (!c)
		return ab_err_set(err, ENOENT, "no container for '%s'", user);
	struct runtime_limits l = {0};
	/* cgroup v1 (this machine); a v2 host would read pids.events / memory.events instead. */
	_cleanup_free_ char *pids = ab_xasprintf("/sys/fs/cgroup/pids%s/pids.events", c->cgroup);
	_cleanup_free_ char *oom =
	    ab_xasprintf("/sys/fs/cgroup/memory%s/memory.oom_control", c->cgroup);
	_cleanup_free_ char *mem =
	    ab_xasprintf("/sys/fs/cgroup/memory%s/memory.usage_in_bytes", c->cgroup);
	l.pids_max_hits = AB_MAX(read_key(pids, "max"), 0);
	l.oom_kills = AB_MAX(read_key(oom, "oom_kill"), 0);
	l.memory_bytes = AB_MAX(read_key(mem, NULL), 0);
	*ret = l;
	return 0;
}

int
runtime_poll_limits(struct runtime *rt)
{
	int n = 0;
	for (struct rt_container *c = rt->list; c; c = c->next) {
		struct runtime_limits l;
		if (c->state != RT_RUNNING || runtime_limits(rt, c->user, &l, NULL) < 0)
			continue;
		if (l.pids_max_hits > c->last_limits.pids_max_hits) {
			json_t *d = detail_for(c);
			json_object_set_new(d, "limit", json_string("pids"));
			json_object_set_new(
			    d, "count",
			    json_integer(l.pids_max_hits - c->last_limits.pids_max_hits));
			audit_log("container.limit", AUDIT_DENY, c->user, c->role, NULL, d);
			n++;
		}
		if (l.oom_kills > c->last_limits.oom_kills) {
			json_t *d = detail_for(c);
			json_object_set_new(d, "limit", json_string("memory"));
			json_object_set_new(d, "count",
			                    json_integer(l.oom_kills - c->last_limits.oom_kills));
			audit_log("container.limit", AUDIT_DENY, c->user, c->role, NULL, d);
			n++;
		}
		c->last_limits = l;
	}
	return n;
}

void
runtime_free(struct runtime *rt)
{
	if (!rt)
		return;
	while (rt->list) {
		struct rt_container *c = rt->list;
		rt->list = c->next;
		close_cmd(c);
		close_container_fds(c);
		container_free(c);
	}
	ab_loop_unwatch(rt->loop, rt->list_watch);
	ab_closep(&rt->list_pidfd);
	ab_closep(&rt->list_out);
	secnotify_free(rt->sn);
	free(rt->bin);
	free(rt);
}
