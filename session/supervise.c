/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "supervise.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A command that ran this long is considered healthy: backoff starts over. */
#define SUPERVISE_HEALTHY_MS 10000

void
supervise_init(struct supervise *s, struct ab_loop *loop, char **argv, bool restart, int64_t min_ms,
               int64_t max_ms)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->argv = argv;
	s->restart = restart;
	s->min_ms = min_ms;
	s->max_ms = max_ms;
	s->backoff_ms = 0;
	s->env = ab_xcalloc(1, sizeof(char *));
	s->ll_mode = LANDLOCK_MODE_OFF;
	s->ll_result = 1;
}

void
supervise_set_landlock(struct supervise *s, const struct landlock_policy *policy, int abi,
                       enum landlock_mode mode)
{
	s->ll_policy = policy;
	s->ll_abi = abi;
	s->ll_mode = mode;
}

void
supervise_on_landlock(struct supervise *s, void (*fn)(void *data, int result), void *data)
{
	s->ll_cb = fn;
	s->ll_cb_data = data;
}

/*
 * In the child: confines it, tells the parent the outcome on `report_fd`.
 * Returns only when the command may run.
 */
static void
child_landlock(struct supervise *s, int report_fd)
{
	int result = 1;
	if (s->ll_policy && s->ll_mode != LANDLOCK_MODE_OFF) {
		struct ab_err err = {0};
		if (s->ll_abi < 1)
			result = ab_err_set(&err, -s->ll_abi,
			                    "landlock: not available in this kernel (%s)",
			                    strerror(-s->ll_abi));
		else
			result = landlock_apply(s->ll_policy, s->ll_abi, &err);
		/* auto on a kernel without Landlock: the parent says so once */
		if (result < 0 && (s->ll_abi >= 1 || s->ll_mode == LANDLOCK_MODE_ON)) {
			fprintf(stderr, "argobox-session: desktop command '%s': %s%s\n", s->argv[0],
			        err.msg,
			        s->ll_mode == LANDLOCK_MODE_ON
			            ? " (landlock.enabled is \"on\": not "
			              "starting it)"
			            : "; running it without Landlock");
		}
	}
	if (report_fd >= 0)
		(void)!write(report_fd, &result, sizeof(result));
	if (result < 0 && s->ll_mode == LANDLOCK_MODE_ON)
		_exit(126);
}

/* In the parent: reads the child's Landlock outcome and logs it (first start, or a change). */
static void
parent_landlock(struct supervise *s, int report_fd)
{
	int result = 1;
	ssize_t n;
	do {
		n = read(report_fd, &result, sizeof(result));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(result))
		result = -ECHILD; /* the child died before reporting */
	bool first = s->starts == 0;
	if (!first && result == s->ll_result)
		return;
	s->ll_result = result;
	if (result == 0) {
		_cleanup_free_ char *d = landlock_policy_describe(s->ll_policy);
		ab_info("landlock: ABI %d applied to the desktop command (%s; signals %s)",
		        s->ll_abi, d,
		        landlock_scoped(s->ll_abi) && s->ll_policy->scope_signals ? "scoped"
		                                                                  : "not scoped");
	} else if (result < 0) {
		ab_warn("landlock: NOT applied to the desktop command (%s; landlock.enabled %s)",
		        strerror(-result), s->ll_mode == LANDLOCK_MODE_ON ? "on" : "auto");
	} else if (first) {
		ab_info("landlock: off for the desktop command");
	}
	if (s->ll_cb)
		s->ll_cb(s->ll_cb_data, result);
}

void
supervise_on_restart(struct supervise *s, void (*fn)(void *data), void *data)
{
	s->restart_cb = fn;
	s->restart_cb_data = data;
}

void
supervise_setenv(struct supervise *s, const char *name, const char *value)
{
	size_t n = 0, len = strlen(name);
	for (; s->env[n]; n++) {
		if (strncmp(s->env[n], name, len) == 0 && s->env[n][len] == '=') {
			free(s->env[n]);
			s->env[n] = ab_xasprintf("%s=%s", name, value);
			return;
		}
	}
	s->env = ab_xrealloc(s->env, (n + 2) * sizeof(char *));
	s->env[n] = ab_xasprintf("%s=%s", name, value);
	s->env[n + 1] = NULL;
}

int64_t
supervise_next_backoff(int64_t cur, int64_t min_ms, int64_t max_ms, int64_t ran_ms)
{
	if (ran_ms >= SUPERVISE_HEALTHY_MS || cur <= 0)
		return min_ms;
	return AB_MIN(cur * 2, max_ms);
}

int
supervise_start(struct supervise *s, struct ab_err *err)
{
	int report[2] = {-1, -1};
	if (pipe2(report, O_CLOEXEC) < 0)
		return ab_err_errno(err, errno, "pipe");
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(report[0]);
		close(report[1]);
		return ab_err_errno(err, e, "fork");
	}
	if (pid == 0) {
		close(report[0]);
		setpgid(0, 0);
		/* ends with the session: a window manager orphaned by a session killed -9 would
		 * connect to the next session's wm.sock and export its stale state over the
		 * stored one (SIGTERM: it exits as on a normal stop) */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(127);
		ab_unblock_signals();
		signal(SIGPIPE, SIG_DFL);
		for (size_t i = 0; s->env[i]; i++)
			putenv(s->env[i]);
		child_landlock(s, report[1]);
		execvp(s->argv[0], s->argv);
		ab_error("cannot run desktop command '%s': %s", s->argv[0], strerror(errno));
		_exit(127);
	}
	close(report[1]);
	parent_landlock(s, report[0]);
	close(report[0]);
	setpgid(pid, pid);
	s->pid = pid;
	s->started_ms = ab_now_ms();
	s->starts++;
	ab_info("desktop command '%s' started (pid %d)", s->argv[0], (int)pid);
	return 0;
}

static int64_t
restart_cb(struct ab_loop *loop, void *data)
{
	struct supervise *s = data;
	s->timer = NULL;
	if (s->stopping)
		return AB_TIMER_STOP;
	if (s->restart_cb)
		s->restart_cb(s->restart_cb_data);
	struct ab_err err = {0};
	if (supervise_start(s, &err) < 0)
		ab_error("restarting the desktop command: %s", err.msg);
	return AB_TIMER_STOP;
}

bool
supervise_exited(struct supervise *s, pid_t pid, int status)
{
	if (pid <= 0 || pid != s->pid)
		return false;
	s->pid = 0;
	/* the group may still hold children of the command: end them too */
	kill(-pid, SIGTERM);
	int64_t ran = ab_now_ms() - s->started_ms;
	if (WIFEXITED(status))
		ab_warn("desktop command exited with status %d after %lld ms", WEXITSTATUS(status),
		        (long long)ran);
	else if (WIFSIGNALED(status))
		ab_warn("desktop command killed by signal %d after %lld ms", WTERMSIG(status),
		        (long long)ran);
	if (s->stopping || !s->restart)
		return true;
	s->backoff_ms = supervise_next_backoff(s->backoff_ms, s->min_ms, s->max_ms, ran);
	ab_info("restarting the desktop command in %lld ms", (long long)s->backoff_ms);
	s->timer = ab_loop_timer(s->loop, s->backoff_ms, restart_cb, s);
	return true;
}

void
supervise_stop(struct supervise *s, int grace_ms)
{
	s->stopping = true;
	if (s->timer) {
		ab_loop_timer_cancel(s->loop, s->timer);
		s->timer = NULL;
	}
	if (s->pid <= 0)
		return;
	pid_t pid = s->pid;
	kill(-pid, SIGTERM);
	int64_t deadline = ab_now_ms() + grace_ms;
	for (;;) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			break;
		if (ab_now_ms() > deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* stragglers of the group (daemonised helpers) */
	kill(-pid, SIGKILL);
	s->pid = 0;
}

void
supervise_free(struct supervise *s)
{
	if (!s->env)
		return;
	for (size_t i = 0; s->env[i]; i++)
		free(s->env[i]);
	free(s->env);
	s->env = NULL;
}
