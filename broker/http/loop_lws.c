/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop_lws: ab_loop over libwebsockets (see loop_lws.h).
 *
 * A watch owns a dup() of the caller's fd, adopted as a RAW file wsi whose
 * opaque user data points back to the watch. Read interest maps to
 * lws_rx_flow_control(), write interest to lws_callback_on_writable(), which
 * is one-shot in lws and re-armed after each dispatch while it is wanted, so
 * the watch stays level-triggered like poll(2).
 *
 * Freeing: a watch is freed once the user has unwatched it AND its wsi is
 * gone AND no callback is running for it; an unwatched wsi is closed
 * asynchronously (LWS_TO_KILL_ASYNC), never under a running callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "loop_lws.h"

struct ab_watch {
	struct loop_lws *l;
	struct lws *wsi;
	ab_io_fn fn;
	void *data;
	int fd; /* the caller's fd, reported back to fn */
	unsigned events;
	unsigned busy;
	bool dead;
	struct ab_watch *prev, *next;
};

struct ab_timer {
	lws_sorted_usec_list_t sul;
	struct loop_lws *l;
	ab_timer_fn fn;
	void *data;
	bool running, cancelled;
	struct ab_timer *prev, *next;
};

struct loop_lws {
	struct ab_loop base;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	bool detached;
	struct ab_watch *watches;
	struct ab_timer *timers;
};

#define LIST_ADD(head, o)                                                                          \
	do {                                                                                       \
		(o)->prev = NULL;                                                                  \
		(o)->next = (head);                                                                \
		if (head)                                                                          \
			(head)->prev = (o);                                                        \
		(head) = (o);                                                                      \
	} while (0)
#define LIST_DEL(head, o)                                                                          \
	do {                                                                                       \
		if ((o)->prev)                                                                     \
			(o)->prev->next = (o)->next;                                               \
		else                                                                               \
			(head) = (o)->next;                                                        \
		if ((o)->next)                                                                     \
			(o)->next->prev = (o)->prev;                                               \
	} while (0)

static void
watch_maybe_free(struct ab_watch *w)
{
	if (w->dead && !w->wsi && !w->busy) {
		LIST_DEL(w->l->watches, w);
		free(w);
	}
}

static void
watch_dispatch(struct ab_watch *w, unsigned ev)
{
	w->busy++;
	w->fn(&w->l->base, w->fd, ev, w->data);
	w->busy--;
}

static int
loop_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	struct ab_watch *w = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		return -1; /* never a websocket subprotocol or an HTTP handler */
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!w || w->dead || w->l->detached)
			return 0;
		if (w->events & AB_LOOP_READ)
			watch_dispatch(w, AB_LOOP_READ);
		watch_maybe_free(w);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!w || w->dead || w->l->detached)
			return 0;
		if (w->events & AB_LOOP_WRITE)
			watch_dispatch(w, AB_LOOP_WRITE);
		if (!w->dead && w->wsi && (w->events & AB_LOOP_WRITE))
			lws_callback_on_writable(w->wsi);
		watch_maybe_free(w);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!w)
			return 0;
		w->wsi = NULL;
		/* Closed by lws itself (hang-up) while still watched: report it. */
		if (!w->dead && !w->l->detached)
			watch_dispatch(w, AB_LOOP_ERROR);
		watch_maybe_free(w);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols loop_lws_protocol = {
    .name = LOOP_LWS_PROTOCOL_NAME,
    .callback = loop_lws_callback,
};

static void
watch_apply(struct ab_watch *w)
{
	if (!w->wsi)
		return;
	lws_rx_flow_control(w->wsi, (w->events & AB_LOOP_READ) ? 1 : 0);
	if (w->events & AB_LOOP_WRITE)
		lws_callback_on_writable(w->wsi);
}

static struct ab_watch *
loop_lws_watch(struct ab_loop *loop, int fd, unsigned events, ab_io_fn fn, void *data)
{
	struct loop_lws *l = (struct loop_lws *)loop;
	AB_ASSERT(!l->detached);
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		ab_error("loop: dup of fd %d: %m", fd);
		return NULL;
	}
	struct ab_watch *w = ab_xcalloc(1, sizeof(*w));
	*w = (struct ab_watch){.l = l, .fn = fn, .data = data, .fd = fd, .events = events};
	lws_adopt_desc_t desc = {
	    .vh = l->vhost,
	    .type = LWS_ADOPT_RAW_FILE_DESC,
	    .fd.filefd = dfd,
	    .vh_prot_name = LOOP_LWS_PROTOCOL_NAME,
	    .opaque = w,
	};
	w->wsi = lws_adopt_descriptor_vhost_via_info(&desc);
	if (!w->wsi) {
		/* lws closed dfd */
		ab_error("loop: libwebsockets refused to adopt fd %d", fd);
		free(w);
		return NULL;
	}
	LIST_ADD(l->watches, w);
	watch_apply(w);
	return w;
}

static void
loop_lws_watch_update(struct ab_loop *loop, struct ab_watch *w, unsigned events)
{
	if (w->dead || w->events == events)
		return;
	w->events = events;
	if (!w->l->detached)
		watch_apply(w);
}

static void
loop_lws_unwatch(struct ab_loop *loop, struct ab_watch *w)
{
	if (w->dead)
		return;
	w->dead = true;
	w->events = 0;
	if (w->wsi && !w->l->detached) {
		lws_rx_flow_control(w->wsi, 0);
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	watch_maybe_free(w);
}

static void
timer_cb(lws_sorted_usec_list_t *sul)
{
	struct ab_timer *t = lws_container_of(sul, struct ab_timer, sul);
	struct loop_lws *l = t->l;
	t->running = true;
	int64_t next = t->fn(&l->base, t->data);
	t->running = false;
	if (t->cancelled || next < 0 || l->detached) {
		LIST_DEL(l->timers, t);
		free(t);
		return;
	}
	lws_sul_schedule(l->ctx, 0, &t->sul, timer_cb, (lws_usec_t)next * LWS_US_PER_MS);
}

static struct ab_timer *
loop_lws_timer(struct ab_loop *loop, int64_t delay_ms, ab_timer_fn fn, void *data)
{
	struct loop_lws *l = (struct loop_lws *)loop;
	AB_ASSERT(!l->detached);
	struct ab_timer *t = ab_xcalloc(1, sizeof(*t));
	t->l = l;
	t->fn = fn;
	t->data = data;
	LIST_ADD(l->timers, t);
	lws_sul_schedule(l->ctx, 0, &t->sul, timer_cb,
	                 (lws_usec_t)AB_MAX(delay_ms, 0) * LWS_US_PER_MS);
	return t;
}

static void
loop_lws_timer_cancel(struct ab_loop *loop, struct ab_timer *t)
{
	struct loop_lws *l = (struct loop_lws *)loop;
	if (t->running) {
		t->cancelled = true;
		return;
	}
	if (!l->detached)
		lws_sul_cancel(&t->sul);
	LIST_DEL(l->timers, t);
	free(t);
}

static const struct ab_loop_ops loop_lws_ops = {
    .watch = loop_lws_watch,
    .watch_update = loop_lws_watch_update,
    .unwatch = loop_lws_unwatch,
    .timer = loop_lws_timer,
    .timer_cancel = loop_lws_timer_cancel,
};

struct ab_loop *
loop_lws_new(struct lws_context *ctx, struct lws_vhost *vhost)
{
	struct loop_lws *l = ab_xcalloc(1, sizeof(*l));
	l->base.ops = &loop_lws_ops;
	l->ctx = ctx;
	l->vhost = vhost;
	return &l->base;
}

void
loop_lws_detach(struct ab_loop *loop)
{
	struct loop_lws *l = (struct loop_lws *)loop;
	if (!l || l->detached)
		return;
	for (struct ab_timer *t = l->timers; t; t = t->next)
		lws_sul_cancel(&t->sul);
	l->detached = true;
}

void
loop_lws_free(struct ab_loop *loop)
{
	struct loop_lws *l = (struct loop_lws *)loop;
	if (!l)
		return;
	loop_lws_detach(loop);
	while (l->timers) {
		struct ab_timer *t = l->timers;
		LIST_DEL(l->timers, t);
		free(t);
	}
	while (l->watches) {
		struct ab_watch *w = l->watches;
		LIST_DEL(l->watches, w);
		free(w);
	}
	free(l);
}
