/* SPDX-License-Identifier: GPL-2.0-or-later */
/* auth_hash: password hashes checked by worker threads (see auth_hash.h). */
#include "auth_hash.h"
#include "ab_log.h"
#include "ab_util.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct auth_hash_job {
	char *password; /* wiped and freed by the worker */
	char *hash;
	bool match, usable;
	bool cancelled; /* under mu: the caller forgot it */
	auth_hash_done_fn done;
	void *data;
	struct auth_hash_job *next;
};

struct auth_hash {
	struct ab_loop *loop;
	int efd; /* results are ready */
	struct ab_watch *watch;
	pthread_t threads[AUTH_HASH_THREADS];
	unsigned n_threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	/* FIFO of queued jobs; LIFO of finished ones; both under mu */
	struct auth_hash_job *queue, **queue_tail, *finished;
	unsigned queued, running;
};

static bool
constant_time_equal(const char *a, const char *b)
{
	size_t n = strlen(b);
	return strlen(a) == n && CRYPTO_memcmp(a, b, n) == 0;
}

static void
job_run(struct auth_hash_job *j)
{
	struct crypt_data *cd = ab_xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn(j->password, j->hash, cd, sizeof(*cd));
	j->usable = out && out[0] != '*';
	j->match = j->usable && constant_time_equal(out, j->hash);
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	OPENSSL_cleanse(j->password, strlen(j->password));
	free(j->password);
	j->password = NULL;
}

static void
job_free(struct auth_hash_job *j)
{
	if (j->password) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->hash);
	free(j);
}

static void *
worker(void *arg)
{
	struct auth_hash *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->stop && !h->queue)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		struct auth_hash_job *j = h->queue;
		h->queue = j->next;
		if (!h->queue)
			h->queue_tail = &h->queue;
		h->queued--;
		h->running++;
		bool skip = j->cancelled;
		pthread_mutex_unlock(&h->mu);
		if (!skip)
			job_run(j);
		pthread_mutex_lock(&h->mu);
		h->running--;
		j->next = h->finished;
		h->finished = j;
		uint64_t one = 1;
		if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			ab_warn("auth: password check: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* On the loop: delivers the finished jobs, oldest first. */
static void
on_results(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct auth_hash *h = data;
	uint64_t n;
	if (read(h->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		ab_warn("auth: password check: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&h->mu);
	struct auth_hash_job *list = h->finished, *rev = NULL;
	h->finished = NULL;
	pthread_mutex_unlock(&h->mu);
	while (list) {
		struct auth_hash_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct auth_hash_job *j = rev;
		rev = j->next;
		/* cancelled is only set on the loop, which is here: no lock needed to read it */
		if (!j->cancelled)
			j->done(j->match, j->usable, j->data);
		job_free(j);
	}
}

struct auth_hash *
auth_hash_new(struct ab_loop *loop)
{
	struct auth_hash *h = ab_xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->queue_tail = &h->queue;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	AB_ASSERT(h->efd >= 0);
	h->watch = ab_loop_watch(loop, h->efd, AB_LOOP_READ, on_results, h);
	for (unsigned i = 0; i < AUTH_HASH_THREADS; i++) {
		int r = pthread_create(&h->threads[i], NULL, worker, h);
		if (r != 0) {
			ab_warn("auth: password check thread: %s", strerror(r));
			break;
		}
		h->n_threads++;
	}
	AB_ASSERT(h->n_threads > 0);
	return h;
}

void
auth_hash_free(struct auth_hash *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	for (unsigned i = 0; i < h->n_threads; i++)
		pthread_join(h->threads[i], NULL);
	for (struct auth_hash_job *j = h->queue, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (struct auth_hash_job *j = h->finished, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	ab_loop_unwatch(h->loop, h->watch);
	close(h->efd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int
auth_hash_check(struct auth_hash *h, const char *password, const char *hash, auth_hash_done_fn done,
                void *data, struct auth_hash_job **ret_job)
{
	pthread_mutex_lock(&h->mu);
	if (h->queued >= AUTH_HASH_QUEUE) {
		pthread_mutex_unlock(&h->mu);
		return -EAGAIN;
	}
	struct auth_hash_job *j = ab_xcalloc(1, sizeof(*j));
	j->password = ab_xstrdup(password);
	j->hash = ab_xstrdup(hash);
	j->done = done;
	j->data = data;
	*h->queue_tail = j;
	h->queue_tail = &j->next;
	h->queued++;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	*ret_job = j;
	return 0;
}

void
auth_hash_cancel(struct auth_hash *h, struct auth_hash_job *job)
{
	if (!job)
		return;
	pthread_mutex_lock(&h->mu);
	job->cancelled = true;
	pthread_mutex_unlock(&h->mu);
}

unsigned
auth_hash_pending(const struct auth_hash *h)
{
	pthread_mutex_lock((pthread_mutex_t *)&h->mu);
	unsigned n = h->queued + h->running;
	pthread_mutex_unlock((pthread_mutex_t *)&h->mu);
	return n;
}
