/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_util.h"

struct ctx {
	int reads;
	int ticks;
	struct ab_watch *w;
	char got[16];
};

static void
on_read(struct ab_loop *loop, int fd, unsigned ev, void *data)
{
	struct ctx *c = data;
	assert_true(ev & AB_LOOP_READ);
	ssize_t n = read(fd, c->got, sizeof(c->got) - 1);
	assert_true(n > 0);
	c->got[n] = '\0';
	c->reads++;
	/* removing our own watch inside the callback is allowed */
	ab_loop_unwatch(loop, c->w);
	ab_loop_poll_stop(loop);
}

static int64_t
on_tick(struct ab_loop *loop, void *data)
{
	struct ctx *c = data;
	return ++c->ticks < 3 ? 1 : AB_TIMER_STOP;
}

static void
test_io_and_timers(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct ab_loop *loop = ab_loop_poll_new();
	struct ctx c = {0};
	c.w = ab_loop_watch(loop, sv[0], AB_LOOP_READ, on_read, &c);
	ab_loop_timer(loop, 0, on_tick, &c);
	for (int i = 0; i < 20 && c.ticks < 3; i++)
		assert_int_equal(ab_loop_poll_once(loop, 50), 0);
	assert_int_equal(c.ticks, 3);
	assert_int_equal(c.reads, 0);
	assert_int_equal(write(sv[1], "hi", 2), 2);
	assert_int_equal(ab_loop_poll_run(loop), 0);
	assert_int_equal(c.reads, 1);
	assert_string_equal(c.got, "hi");
	/* the watch is gone: more data does not call back */
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(ab_loop_poll_once(loop, 10), 0);
	assert_int_equal(c.reads, 1);
	ab_loop_poll_free(loop);
	close(sv[0]);
	close(sv[1]);
}

static int64_t
never(struct ab_loop *loop, void *data)
{
	fail_msg("cancelled timer ran");
	return AB_TIMER_STOP;
}

static void
test_cancel(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	struct ab_timer *t = ab_loop_timer(loop, 0, never, NULL);
	ab_loop_timer_cancel(loop, t);
	assert_int_equal(ab_loop_poll_once(loop, 5), 0);
	ab_loop_poll_free(loop);
}

AB_TEST_MAIN(NULL, NULL, test_io_and_timers, test_cancel);
