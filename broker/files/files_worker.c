/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_worker: the file-system calls of the files API, off the broker's loop (docs/files.md,
 * "Off the loop").
 *
 * On an SMB home every open, stat, readdir, read and write is a round trip through
 * argobox-smbfs to the SMB server, and a stalled server (a hung NAS, a SIGSTOPped smbd)
 * holds the calling thread for as long as argobox-smbfs waits on it. On the loop that froze
 * every user's sign-in, websocket and API. Here each user gets one worker thread (created on
 * first use, ended after FILES_WORKER_IDLE_MS without work): their requests' file-system
 * calls run there in order, one at a time (argobox-smbfs serves a home one call at a time
 * anyway), and the result comes back to the loop through an eventfd. A stall holds only that
 * user's thread.
 *
 *   files_op_submit(f, user, op, timeout_ms):
 *     op->run(op)      on the user's thread: file-system calls only (no loop state, no
 *                      audit_log: files_audit() collects the lines there, the loop writes them)
 *     op->done(op)     on the loop when run() returned in time
 *     op->expired(op)  on the loop when timeout_ms passed first: answer 504 there. The
 *                      thread is then "wedged": the user's next requests are refused at once
 *                      (files_op_submit: -EBUSY, 503) until the stuck call returns, instead
 *                      of queueing behind it
 *     op->release(op)  on the loop, always last, once run() has returned (after done or
 *                      expired): frees the op
 * The collected audit lines are written on the loop when run() returns, in their order.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "files_internal.h"

#define FILES_WORKER_IDLE_MS 30000
#define FILES_WORKER_QUEUE   32 /* requests one user may have waiting */

struct files_worker {
	struct files_workers *ws;
	char user[USERS_NAME_MAX + 1];
	pthread_t thread;
	/* under ws->mu */
	struct files_op *queue, **queue_tail;
	unsigned queued;
	struct files_op *running;
	bool wedged;  /* running has expired and not returned yet */
	bool exiting; /* idle too long: the thread ends, a new one starts on demand */
	pthread_cond_t cv;
	struct files_worker *next;
};

struct files_workers {
	struct files *f;
	int efd;
	struct ab_watch *watch;
	pthread_mutex_t mu;
	bool stop;
	struct files_worker *list;  /* under mu */
	struct files_op *finished;  /* LIFO, under mu */
	struct files_worker *ended; /* threads that ended: joined on the loop; under mu */
};

/* The lines files_audit() collects on a worker thread (NULL on the loop). */
static __thread json_t *tls_audits;

bool
files_audit_collect(const char *event, enum audit_outcome outcome, const char *user,
                    const char *role, const char *peer, json_t *detail)
{
	if (!tls_audits)
		return false;
	json_array_append_new(tls_audits, json_pack("{sssissssssso}", "event", event, "outcome",
	                                            (int)outcome, "user", user ? user : "", "role",
	                                            role ? role : "", "peer", peer ? peer : "",
	                                            "detail", detail ? detail : json_object()));
	return true;
}

static void
audits_flush(json_t *lines)
{
	size_t i;
	json_t *l;
	json_array_foreach(lines, i, l)
	{
		const char *user = json_string_value(json_object_get(l, "user"));
		const char *role = json_string_value(json_object_get(l, "role"));
		const char *peer = json_string_value(json_object_get(l, "peer"));
		audit_log(json_string_value(json_object_get(l, "event")),
		          (enum audit_outcome)json_integer_value(json_object_get(l, "outcome")),
		          user[0] ? user : NULL, role[0] ? role : NULL, peer[0] ? peer : NULL,
		          json_incref(json_object_get(l, "detail")));
	}
}

static void
post_finished(struct files_workers *ws, struct files_op *op)
{
	op->next = ws->finished;
	ws->finished = op;
	uint64_t one = 1;
	if (write(ws->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ab_warn("files: worker eventfd: %s", strerror(errno));
}

static void *
worker_main(void *arg)
{
	struct files_worker *w = arg;
	struct files_workers *ws = w->ws;
	pthread_mutex_lock(&ws->mu);
	for (;;) {
		while (!ws->stop && !w->queue) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += FILES_WORKER_IDLE_MS / 1000;
			if (pthread_cond_timedwait(&w->cv, &ws->mu, &until) == ETIMEDOUT &&
			    !w->queue)
				break;
		}
		if (ws->stop || !w->queue)
			break;
		struct files_op *op = w->queue;
		w->queue = op->next;
		if (!w->queue)
			w->queue_tail = &w->queue;
		w->queued--;
		w->running = op;
		op->state = FILES_OP_RUNNING;
		pthread_mutex_unlock(&ws->mu);
		tls_audits = op->audits;
		op->run(op);
		tls_audits = NULL;
		pthread_mutex_lock(&ws->mu);
		w->running = NULL;
		w->wedged = false;
		op->state = FILES_OP_FINISHED;
		post_finished(ws, op);
	}
	/* leave the list (under mu): the loop joins and frees the thread */
	for (struct files_worker **pp = &ws->list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->exiting = true;
	w->next = ws->ended;
	ws->ended = w;
	uint64_t one = 1;
	if (write(ws->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ab_warn("files: worker eventfd: %s", strerror(errno));
	pthread_mutex_unlock(&ws->mu);
	return NULL;
}

static void
op_finish(struct files *f, struct files_op *op)
{
	ab_loop_timer_cancel(f->loop, op->timer);
	op->timer = NULL;
	audits_flush(op->audits);
	json_decref(op->audits);
	op->audits = NULL;
	if (!op->expired_ran && op->done)
		op->done(op);
	op->release(op);
}

static void
join_ended(struct files_workers *ws, struct files_worker *list)
{
	while (list) {
		struct files_worker *w = list;
		list = w->next;
		pthread_join(w->thread, NULL);
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

/* On the loop: delivers the finished ops (oldest first) and joins ended threads. */
static void
on_finished(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files_workers *ws = data;
	uint64_t n;
	if (read(ws->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		ab_warn("files: worker eventfd: %s", strerror(errno));
	pthread_mutex_lock(&ws->mu);
	struct files_op *list = ws->finished, *rev = NULL;
	struct files_worker *ended = ws->ended;
	ws->finished = NULL;
	ws->ended = NULL;
	pthread_mutex_unlock(&ws->mu);
	while (list) {
		struct files_op *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct files_op *op = rev;
		rev = op->next;
		op_finish(ws->f, op);
	}
	join_ended(ws, ended);
}

static int64_t
on_expired(struct ab_loop *loop, void *data)
{
	struct files_op *op = data;
	struct files_workers *ws = op->f->workers;
	op->timer = NULL;
	pthread_mutex_lock(&ws->mu);
	if (op->state == FILES_OP_FINISHED) {
		/* done just now, not delivered yet: on_finished answers it */
		pthread_mutex_unlock(&ws->mu);
		return AB_TIMER_STOP;
	}
	bool running = op->state == FILES_OP_RUNNING;
	if (running)
		op->worker->wedged = true;
	else {
		/* still queued behind a stuck call: take it out, it never runs */
		for (struct files_op **pp = &op->worker->queue; *pp; pp = &(*pp)->next)
			if (*pp == op) {
				*pp = op->next;
				if (!*pp)
					op->worker->queue_tail = pp;
				op->worker->queued--;
				break;
			}
	}
	pthread_mutex_unlock(&ws->mu);
	op->expired_ran = true;
	ab_warn("files: a request of '%s' got no answer from the home's storage in %lld ms",
	        op->user, (long long)op->timeout_ms);
	if (op->expired)
		op->expired(op);
	if (!running) {
		json_decref(op->audits);
		op->audits = NULL;
		op->release(op);
	}
	return AB_TIMER_STOP;
}

int
files_op_submit(struct files *f, const char *user, struct files_op *op, int64_t timeout_ms)
{
	struct files_workers *ws = f->workers;
	op->f = f;
	op->timeout_ms = timeout_ms;
	snprintf(op->user, sizeof(op->user), "%s", user);
	pthread_mutex_lock(&ws->mu);
	struct files_worker *w = ws->list;
	while (w && strcmp(w->user, user) != 0)
		w = w->next;
	if (w && (w->wedged || w->queued >= FILES_WORKER_QUEUE)) {
		int r = w->wedged ? -EBUSY : -EAGAIN;
		pthread_mutex_unlock(&ws->mu);
		return r;
	}
	if (!w) {
		w = ab_xcalloc(1, sizeof(*w));
		w->ws = ws;
		snprintf(w->user, sizeof(w->user), "%s", user);
		w->queue_tail = &w->queue;
		pthread_cond_init(&w->cv, NULL);
		/* the thread takes no signals: they are the loop's */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		int r = pthread_create(&w->thread, NULL, worker_main, w);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r != 0) {
			pthread_mutex_unlock(&ws->mu);
			pthread_cond_destroy(&w->cv);
			free(w);
			ab_warn("files: worker thread: %s", strerror(r));
			return -r;
		}
		w->next = ws->list;
		ws->list = w;
	}
	op->worker = w;
	op->audits = json_array();
	op->expired_ran = false;
	op->state = FILES_OP_QUEUED;
	op->next = NULL;
	*w->queue_tail = op;
	w->queue_tail = &op->next;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&ws->mu);
	op->timer = ab_loop_timer(f->loop, timeout_ms, on_expired, op);
	return 0;
}

bool
files_worker_wedged(struct files *f, const char *user)
{
	struct files_workers *ws = f->workers;
	bool r = false;
	pthread_mutex_lock(&ws->mu);
	for (struct files_worker *w = ws->list; w; w = w->next)
		if (strcmp(w->user, user) == 0)
			r = w->wedged;
	pthread_mutex_unlock(&ws->mu);
	return r;
}

int
files_workers_new(struct files *f)
{
	struct files_workers *ws = ab_xcalloc(1, sizeof(*ws));
	ws->f = f;
	pthread_mutex_init(&ws->mu, NULL);
	ws->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ws->efd < 0) {
		int e = -errno;
		pthread_mutex_destroy(&ws->mu);
		free(ws);
		return e;
	}
	ws->watch = ab_loop_watch(f->loop, ws->efd, AB_LOOP_READ, on_finished, ws);
	f->workers = ws;
	return 0;
}

void
files_workers_free(struct files *f)
{
	struct files_workers *ws = f->workers;
	if (!ws)
		return;
	pthread_mutex_lock(&ws->mu);
	ws->stop = true;
	/* ops still queued never run */
	struct files_op *dropped = NULL;
	for (struct files_worker *w = ws->list; w; w = w->next) {
		while (w->queue) {
			struct files_op *op = w->queue;
			w->queue = op->next;
			op->next = dropped;
			dropped = op;
		}
		w->queue_tail = &w->queue;
		w->queued = 0;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&ws->mu);
	/*
	 * A thread stuck in a call on a dead storage would hold the shutdown: wait for them a
	 * bounded time, then leave them (the process is ending).
	 */
	int64_t end = ab_now_ms() + 3000;
	for (;;) {
		pthread_mutex_lock(&ws->mu);
		bool left = ws->list != NULL;
		pthread_mutex_unlock(&ws->mu);
		if (!left || ab_now_ms() > end)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&ws->mu);
	bool stuck = ws->list != NULL;
	struct files_op *fin = ws->finished;
	struct files_worker *ended = ws->ended;
	ws->finished = NULL;
	ws->ended = NULL;
	pthread_mutex_unlock(&ws->mu);
	join_ended(ws, ended);
	for (struct files_op *op = fin, *next; op; op = next) {
		next = op->next;
		ab_loop_timer_cancel(f->loop, op->timer);
		json_decref(op->audits);
		op->release(op);
	}
	for (struct files_op *op = dropped, *next; op; op = next) {
		next = op->next;
		ab_loop_timer_cancel(f->loop, op->timer);
		json_decref(op->audits);
		op->release(op);
	}
	ab_loop_unwatch(f->loop, ws->watch);
	if (stuck) {
		ab_warn("files: a worker is still stuck in a call on a home's storage at exit");
		return; /* its thread still uses ws: leave it */
	}
	close(ws->efd);
	pthread_mutex_destroy(&ws->mu);
	free(ws);
	f->workers = NULL;
}
