/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_loop.h"
#include "supervise.h"

/* Waits for the supervised child, which must have exited; its pid. */
static pid_t
reap_child(const struct supervise *s, int *status)
{
	pid_t pid = s->pid;
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, status, 0), pid);
	assert_true(WIFEXITED(*status));
	return pid;
}

static void
test_backoff(void **state)
{
	assert_int_equal(supervise_next_backoff(0, 250, 30000, 5), 250);
	assert_int_equal(supervise_next_backoff(250, 250, 30000, 5), 500);
	assert_int_equal(supervise_next_backoff(20000, 250, 30000, 5), 30000);
	assert_int_equal(supervise_next_backoff(30000, 250, 30000, 5), 30000);
	/* a command that ran for a while starts over */
	assert_int_equal(supervise_next_backoff(16000, 250, 30000, 60000), 250);
}

/* The command runs in its own process group with the extra environment, and is restarted. */
static void
test_restart(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	char *argv[] = {"sh", "-c", "test \"$AB_TEST\" = yes && test $(ps -o pgid= $$) = $$", NULL};
	struct supervise s;
	supervise_init(&s, loop, argv, true, 10, 20);
	supervise_setenv(&s, "AB_TEST", "yes");
	assert_int_equal(supervise_start(&s, NULL), 0);
	for (int round = 0; round < 3; round++) {
		int status;
		pid_t pid = reap_child(&s, &status);
		assert_int_equal(WEXITSTATUS(status), 0); /* env and process group as promised */
		assert_true(supervise_exited(&s, pid, status));
		assert_int_equal(s.pid, 0);
		/* the restart timer fires within the backoff */
		for (int i = 0; i < 200 && s.pid == 0; i++)
			ab_loop_poll_once(loop, 50);
	}
	assert_true(s.starts >= 4);
	supervise_stop(&s, 1000);
	assert_int_equal(s.pid, 0);
	supervise_free(&s);
	ab_loop_poll_free(loop);
}

struct hook {
	struct supervise *s;
	int calls;
};

static void
on_restart(void *data)
{
	struct hook *h = data;
	h->calls++;
	char v[16];
	snprintf(v, sizeof(v), "%d", h->calls);
	supervise_setenv(h->s, "AB_N", v); /* replaces the value: the last one wins */
}

/* The restart hook runs before every restart (not the first start) and its environment applies. */
static void
test_restart_hook(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	char *argv[] = {"sh", "-c", "exit $AB_N", NULL};
	struct supervise s;
	struct hook h = {.s = &s};
	supervise_init(&s, loop, argv, true, 10, 20);
	supervise_setenv(&s, "AB_N", "0");
	supervise_on_restart(&s, on_restart, &h);
	assert_int_equal(supervise_start(&s, NULL), 0);
	for (int round = 0; round < 3; round++) {
		int status;
		pid_t pid = reap_child(&s, &status);
		assert_int_equal(WEXITSTATUS(status), round);
		assert_int_equal(h.calls, round);
		assert_true(supervise_exited(&s, pid, status));
		for (int i = 0; i < 200 && s.pid == 0; i++)
			ab_loop_poll_once(loop, 50);
	}
	assert_int_equal(h.calls, 3);
	size_t n = 0;
	while (s.env[n])
		n++;
	assert_int_equal(n, 1); /* replaced, not appended */
	supervise_stop(&s, 1000);
	supervise_free(&s);
	ab_loop_poll_free(loop);
}

static void
test_stop_kills_group(void **state)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	struct ab_loop *loop = ab_loop_poll_new();
	char *argv[] = {"sh", "-c", "sleep 100 & sleep 100", NULL};
	struct supervise s;
	supervise_init(&s, loop, argv, false, 10, 20);
	assert_int_equal(supervise_start(&s, NULL), 0);
	pid_t pgid = s.pid;
	supervise_stop(&s, 2000);
	/* nothing of the group is left: orphans come to us (subreaper) and are reaped */
	int alive = 0;
	for (int i = 0; i < 500; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		alive = kill(-pgid, 0) == 0;
		if (!alive)
			break;
		usleep(10000);
	}
	assert_false(alive);
	supervise_free(&s);
	ab_loop_poll_free(loop);
}

AB_TEST_MAIN(NULL, NULL, test_backoff, test_restart, test_restart_hook, test_stop_kills_group);
