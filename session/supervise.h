/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervise: runs the desktop command (the window manager) in its own process
 * group with DISPLAY, ARGOBOX_RUNTIME_DIR and ARGOBOX_WM_SOCKET set, and
 * restarts it with exponential backoff when it exits (if configured).
 * The caller reaps children (SIGCHLD) and reports exits with supervise_exited().
 * With supervise_set_landlock(), the child confines itself (landlock.c) right
 * before execvp; the parent learns the outcome through a close-on-exec pipe.
 */
#ifndef SESSION_SUPERVISE_H
#define SESSION_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "landlock.h"

struct supervise {
	struct ab_loop *loop;
	char **argv; /* borrowed, NULL-terminated */
	char **env;  /* owned: extra "K=V" strings, NULL-terminated */
	pid_t pid;   /* running desktop command (group leader), 0 if none */
	bool restart;
	int64_t min_ms, max_ms, backoff_ms;
	int64_t started_ms;
	unsigned starts;
	struct ab_timer *timer;
	bool stopping;
	/* Landlock (supervise_set_landlock) */
	const struct landlock_policy *ll_policy; /* borrowed, NULL = none */
	int ll_abi;                              /* landlock_abi() */
	enum landlock_mode ll_mode;
	int ll_result; /* last start: 0 applied, -errno failed, 1 not attempted */
	/* supervise_on_landlock */
	void (*ll_cb)(void *data, int result);
	void *ll_cb_data;
	/* supervise_on_restart */
	void (*restart_cb)(void *data);
	void *restart_cb_data;
};

void supervise_init(struct supervise *s, struct ab_loop *loop, char **argv, bool restart,
                    int64_t min_ms, int64_t max_ms);
/* Sets "name=value" in the command's environment (replacing an earlier value of `name`). */
void supervise_setenv(struct supervise *s, const char *name, const char *value);
/*
 * Confines every later start of the command with `policy` (borrowed: must
 * outlive `s`) under `abi` (landlock_abi()). AUTO: a failure is logged by the
 * child, which runs unconfined; ON: the child exits 126 instead; OFF: nothing.
 */
void supervise_set_landlock(struct supervise *s, const struct landlock_policy *policy, int abi,
                            enum landlock_mode mode);
/*
 * Calls fn(data, result) with the first start's Landlock outcome, and again
 * whenever a restart's differs: 0 applied, -errno not applied, 1 off.
 */
void supervise_on_landlock(struct supervise *s, void (*fn)(void *data, int result), void *data);
/*
 * Calls fn(data) right before every restart of the command (not before the
 * first start): the session hands the restarted window manager its latest
 * state there (supervise_setenv() then applies to this very start).
 */
void supervise_on_restart(struct supervise *s, void (*fn)(void *data), void *data);
/* Starts the command now. */
int supervise_start(struct supervise *s, struct ab_err *err);
/* Reports that `pid` exited with wait status `status`; returns true if it was ours. */
bool supervise_exited(struct supervise *s, pid_t pid, int status);
/* SIGTERM to the process group, SIGKILL after `grace_ms`, reaps it. No more restarts. */
void supervise_stop(struct supervise *s, int grace_ms);
void supervise_free(struct supervise *s);

/* The next backoff delay after an exit (pure; unit tested). */
int64_t supervise_next_backoff(int64_t cur, int64_t min_ms, int64_t max_ms, int64_t ran_ms);

#endif
