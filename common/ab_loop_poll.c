/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A poll(2) implementation of ab_loop (see ab_loop.h). */
#include "ab_loop.h"
#include "ab_util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

struct ab_watch {
	int fd;
	unsigned events;
	ab_io_fn fn;
	void *data;
	bool dead;
	struct ab_watch *next;
};

struct ab_timer {
	int64_t due_ms;
	ab_timer_fn fn;
	void *data;
	bool dead;
	struct ab_timer *next;
};

struct poll_loop {
	struct ab_loop base;
	struct ab_watch *watches;
	struct ab_timer *timers;
	bool stop;
	struct pollfd *pfds;
	struct ab_watch **pw;
	size_t cap;
};

static struct poll_loop *
to_poll(struct ab_loop *loop)
{
	return (struct poll_loop *)loop;
}

static struct ab_watch *
pl_watch(struct ab_loop *loop, int fd, unsigned events, ab_io_fn fn, void *data)
{
	struct poll_loop *pl = to_poll(loop);
	struct ab_watch *w = ab_xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->data = data;
	w->next = pl->watches;
	pl->watches = w;
	return w;
}

static void
pl_watch_update(struct ab_loop *loop, struct ab_watch *w, unsigned events)
{
	w->events = events;
}

static void
pl_unwatch(struct ab_loop *loop, struct ab_watch *w)
{
	w->dead = true;
}

static struct ab_timer *
pl_timer(struct ab_loop *loop, int64_t delay_ms, ab_timer_fn fn, void *data)
{
	struct poll_loop *pl = to_poll(loop);
	struct ab_timer *t = ab_xcalloc(1, sizeof(*t));
	t->due_ms = ab_now_ms() + AB_MAX(delay_ms, 0);
	t->fn = fn;
	t->data = data;
	t->next = pl->timers;
	pl->timers = t;
	return t;
}

static void
pl_timer_cancel(struct ab_loop *loop, struct ab_timer *t)
{
	t->dead = true;
}

static const struct ab_loop_ops poll_ops = {
    .watch = pl_watch,
    .watch_update = pl_watch_update,
    .unwatch = pl_unwatch,
    .timer = pl_timer,
    .timer_cancel = pl_timer_cancel,
};

struct ab_loop *
ab_loop_poll_new(void)
{
	struct poll_loop *pl = ab_xcalloc(1, sizeof(*pl));
	pl->base.ops = &poll_ops;
	return &pl->base;
}

static void
reap(struct poll_loop *pl)
{
	for (struct ab_watch **w = &pl->watches; *w;) {
		if ((*w)->dead) {
			struct ab_watch *d = *w;
			*w = d->next;
			free(d);
		} else
			w = &(*w)->next;
	}
	for (struct ab_timer **t = &pl->timers; *t;) {
		if ((*t)->dead) {
			struct ab_timer *d = *t;
			*t = d->next;
			free(d);
		} else
			t = &(*t)->next;
	}
}

void
ab_loop_poll_free(struct ab_loop *loop)
{
	if (!loop)
		return;
	struct poll_loop *pl = to_poll(loop);
	for (struct ab_watch *w = pl->watches; w; w = w->next)
		w->dead = true;
	for (struct ab_timer *t = pl->timers; t; t = t->next)
		t->dead = true;
	reap(pl);
	free(pl->pfds);
	free(pl->pw);
	free(pl);
}

int
ab_loop_poll_once(struct ab_loop *loop, int timeout_ms)
{
	struct poll_loop *pl = to_poll(loop);
	int64_t now = ab_now_ms();
	for (struct ab_timer *t = pl->timers; t; t = t->next) {
		if (t->dead)
			continue;
		int64_t d = AB_MAX(t->due_ms - now, 0);
		if (timeout_ms < 0 || d < timeout_ms)
			timeout_ms = (int)AB_MIN(d, 1 << 30);
	}
	size_t n = 0;
	for (struct ab_watch *w = pl->watches; w; w = w->next)
		n += !w->dead;
	if (n > pl->cap) {
		pl->cap = n * 2;
		pl->pfds = ab_xrealloc(pl->pfds, pl->cap * sizeof(*pl->pfds));
		pl->pw = ab_xrealloc(pl->pw, pl->cap * sizeof(*pl->pw));
	}
	n = 0;
	for (struct ab_watch *w = pl->watches; w; w = w->next) {
		if (w->dead)
			continue;
		pl->pfds[n].fd = w->events ? w->fd : -1;
		pl->pfds[n].events = (short)(((w->events & AB_LOOP_READ) ? POLLIN : 0) |
		                             ((w->events & AB_LOOP_WRITE) ? POLLOUT : 0));
		pl->pfds[n].revents = 0;
		pl->pw[n++] = w;
	}
	int r = poll(pl->pfds, n, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -errno;
	for (size_t i = 0; r > 0 && i < n; i++) {
		struct ab_watch *w = pl->pw[i];
		short re = pl->pfds[i].revents;
		if (!re || w->dead)
			continue;
		unsigned ev = 0;
		if (re & (POLLIN | POLLHUP))
			ev |= AB_LOOP_READ;
		if (re & POLLOUT)
			ev |= AB_LOOP_WRITE;
		if (re & (POLLERR | POLLHUP | POLLNVAL))
			ev |= AB_LOOP_ERROR;
		w->fn(loop, w->fd, ev, w->data);
	}
	now = ab_now_ms();
	/* Timers added during this round wait for the next one. */
	struct ab_timer *first = pl->timers;
	for (struct ab_timer *t = first; t; t = t->next) {
		if (t->dead || t->due_ms > now)
			continue;
		int64_t next = t->fn(loop, t->data);
		if (t->dead)
			continue;
		if (next < 0)
			t->dead = true;
		else
			t->due_ms = ab_now_ms() + next;
	}
	reap(pl);
	return 0;
}

int
ab_loop_poll_run(struct ab_loop *loop)
{
	struct poll_loop *pl = to_poll(loop);
	pl->stop = false;
	while (!pl->stop) {
		int r = ab_loop_poll_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void
ab_loop_poll_stop(struct ab_loop *loop)
{
	to_poll(loop)->stop = true;
}
