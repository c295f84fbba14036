/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auth_hash: password hashes checked off the broker's loop. One yescrypt check costs tens of
 * milliseconds of CPU by design; run on the loop, a storm of wrong passwords stalled every
 * other user's streams for that long per attempt. Here a small pool of worker threads runs
 * crypt_rn() on a bounded queue, and the verdict comes back to the loop through an eventfd:
 *
 *   r = auth_hash_check(h, password, hash, done, data, &job);
 *   r == 0:        done(match, usable, data) runs later on the loop, exactly once, unless
 *                  auth_hash_cancel(h, job) first
 *   r == -EAGAIN:  the queue is full (AUTH_HASH_QUEUE jobs wait): answer 503, retry later
 *
 * The threads touch nothing but their job (copies of the password and the hash; the
 * password is wiped after use); everything else stays on the loop. docs/auth.md.
 */
#ifndef BROKER_AUTH_HASH_H
#define BROKER_AUTH_HASH_H

#include <stdbool.h>

#include "ab_loop.h"

#define AUTH_HASH_THREADS 2
#define AUTH_HASH_QUEUE   64

struct auth_hash;
struct auth_hash_job;

/* match: the password hashes to `hash`; usable: crypt(3) could use the hash at all. */
typedef void (*auth_hash_done_fn)(bool match, bool usable, void *data);

/* Starts the threads; `loop` must outlive the pool. */
struct auth_hash *auth_hash_new(struct ab_loop *loop);
/* Stops and joins the threads; callbacks of jobs not delivered yet do not run. NULL is fine. */
void auth_hash_free(struct auth_hash *h);

int auth_hash_check(struct auth_hash *h, const char *password, const char *hash,
                    auth_hash_done_fn done, void *data, struct auth_hash_job **ret_job);
/* Forgets a job (queued, running or done but not delivered); its callback will not run. */
void auth_hash_cancel(struct auth_hash *h, struct auth_hash_job *job);

/* Jobs waiting or running now (tests, /metrics). */
unsigned auth_hash_pending(const struct auth_hash *h);

#endif
