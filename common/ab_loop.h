/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_loop: the small event-loop interface that modules program against.
 *
 * Modules that wait on file descriptors or time (the Workers KV client, the
 * JWKS fetcher, the container supervisor, the control channel) take a
 * `struct ab_loop *` and never block. Two implementations exist:
 *   - ab_loop_poll (common/ab_loop_poll.c): a poll(2) loop, used by
 *     argobox-session, argobox-wm, tools and unit tests;
 *   - the broker's, on top of libwebsockets' own loop (broker/http/loop_lws.c),
 *     so the broker keeps exactly one event loop.
 *
 * Rules (as in Redis' ae): a callback may add or remove any watch or timer,
 * including its own; removed objects are freed by the loop after the
 * dispatch round, never under a running callback. A timer callback returns
 * the delay until it runs again, in ms, or AB_TIMER_STOP.
 */
#ifndef AB_LOOP_H
#define AB_LOOP_H

#include <stdint.h>

#define AB_LOOP_READ  1u
#define AB_LOOP_WRITE 2u
#define AB_LOOP_ERROR 4u /* reported only: hang-up or error on the fd */

#define AB_TIMER_STOP (-1)

struct ab_loop;
struct ab_watch;
struct ab_timer;

typedef void (*ab_io_fn)(struct ab_loop *loop, int fd, unsigned events, void *data);
typedef int64_t (*ab_timer_fn)(struct ab_loop *loop, void *data);

struct ab_loop_ops {
	struct ab_watch *(*watch)(struct ab_loop *loop, int fd, unsigned events, ab_io_fn fn,
	                          void *data);
	void (*watch_update)(struct ab_loop *loop, struct ab_watch *w, unsigned events);
	void (*unwatch)(struct ab_loop *loop, struct ab_watch *w);
	struct ab_timer *(*timer)(struct ab_loop *loop, int64_t delay_ms, ab_timer_fn fn,
	                          void *data);
	void (*timer_cancel)(struct ab_loop *loop, struct ab_timer *t);
};

struct ab_loop {
	const struct ab_loop_ops *ops;
};

/* Watches fd for `events` (AB_LOOP_READ|AB_LOOP_WRITE). The fd stays the caller's. */
static inline struct ab_watch *
ab_loop_watch(struct ab_loop *loop, int fd, unsigned events, ab_io_fn fn, void *data)
{
	return loop->ops->watch(loop, fd, events, fn, data);
}

static inline void
ab_loop_watch_update(struct ab_loop *loop, struct ab_watch *w, unsigned events)
{
	loop->ops->watch_update(loop, w, events);
}

/* Stops watching; accepts NULL. */
static inline void
ab_loop_unwatch(struct ab_loop *loop, struct ab_watch *w)
{
	if (w)
		loop->ops->unwatch(loop, w);
}

/* Runs fn after delay_ms (0: on the next round). */
static inline struct ab_timer *
ab_loop_timer(struct ab_loop *loop, int64_t delay_ms, ab_timer_fn fn, void *data)
{
	return loop->ops->timer(loop, delay_ms, fn, data);
}

/* Cancels a pending timer; accepts NULL. Not for a timer that already returned AB_TIMER_STOP. */
static inline void
ab_loop_timer_cancel(struct ab_loop *loop, struct ab_timer *t)
{
	if (t)
		loop->ops->timer_cancel(loop, t);
}

/* The poll(2) implementation. */
struct ab_loop *ab_loop_poll_new(void);
void ab_loop_poll_free(struct ab_loop *loop);
/* Runs one round: waits at most timeout_ms (-1: until something happens). Returns 0 or -errno. */
int ab_loop_poll_once(struct ab_loop *loop, int timeout_ms);
/* Runs rounds until ab_loop_poll_stop() is called. */
int ab_loop_poll_run(struct ab_loop *loop);
void ab_loop_poll_stop(struct ab_loop *loop);

#endif
