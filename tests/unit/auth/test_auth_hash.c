/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Password hashes checked off the loop (broker/auth/auth_hash.c) and the sign-in built on it
 * (auth_local_login_start): verdicts come back on the loop, a cancelled check never calls
 * back, a full queue says so, the pool shuts down with work queued (ASan: nothing leaks), and
 * a parallel burst on one user name gets no more tries than the lockout allows, audited.
 */
#include "ab_test.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ab_loop.h"
#include "ab_test_audit.h"
#include "ab_util.h"
#include "audit.h"
#include "auth_hash.h"
#include "auth_local.h"
#include "auth_request.h"
#include "users.h"

#include "sample_users.h"

struct verdicts {
	int n, match, usable;
};

static void
on_verdict(bool match, bool usable, void *data)
{
	struct verdicts *v = data;
	v->n++;
	v->match += match;
	v->usable += usable;
}

/* Runs the loop until *count reaches want (or 20 s pass). */
static void
run_until(struct ab_loop *loop, const int *count, int want)
{
	int64_t end = ab_now_ms() + 20000;
	while (*count < want && ab_now_ms() < end)
		ab_loop_poll_once(loop, 50);
	assert_int_equal(*count, want);
}

static char *
hash_of(const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = {0};
	assert_non_null(crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)));
	return ab_xstrdup(crypt_rn(pw, salt, &cd, sizeof(cd)));
}

static void
test_verdicts(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	struct auth_hash *h = auth_hash_new(loop);
	char *hash = hash_of("right");
	struct verdicts ok = {0}, wrong = {0}, bad = {0};
	struct auth_hash_job *j;
	assert_int_equal(auth_hash_check(h, "right", hash, on_verdict, &ok, &j), 0);
	assert_int_equal(auth_hash_check(h, "wrong", hash, on_verdict, &wrong, &j), 0);
	assert_int_equal(auth_hash_check(h, "right", "*", on_verdict, &bad, &j), 0);
	/* nothing is delivered before the loop runs */
	assert_int_equal(ok.n + wrong.n + bad.n, 0);
	int total = 0;
	int64_t end = ab_now_ms() + 20000;
	while ((total = ok.n + wrong.n + bad.n) < 3 && ab_now_ms() < end)
		ab_loop_poll_once(loop, 50);
	assert_int_equal(total, 3);
	assert_int_equal(ok.match, 1);
	assert_int_equal(ok.usable, 1);
	assert_int_equal(wrong.match, 0);
	assert_int_equal(wrong.usable, 1);
	assert_int_equal(bad.match, 0);
	assert_int_equal(bad.usable, 0);
	assert_int_equal(auth_hash_pending(h), 0);
	free(hash);
	auth_hash_free(h);
	ab_loop_poll_free(loop);
}

static void
test_cancel_and_queue(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	struct auth_hash *h = auth_hash_new(loop);
	char *hash = hash_of("right");
	struct verdicts cancelled = {0}, kept = {0};
	struct auth_hash_job *j;
	assert_int_equal(auth_hash_check(h, "x", hash, on_verdict, &cancelled, &j), 0);
	auth_hash_cancel(h, j);
	/* more than the queue holds: the rest is refused, not queued without bound */
	int accepted = 0, refused = 0;
	for (int i = 0; i < AUTH_HASH_QUEUE + 8; i++) {
		int r = auth_hash_check(h, "y", hash, on_verdict, &kept, &j);
		assert_true(r == 0 || r == -EAGAIN);
		accepted += r == 0;
		refused += r == -EAGAIN;
	}
	assert_true(refused >= 8 - AUTH_HASH_THREADS - 1);
	/* the first few complete; the pool then shuts down with the rest queued */
	int64_t end = ab_now_ms() + 20000;
	while (kept.n < 2 && ab_now_ms() < end)
		ab_loop_poll_once(loop, 50);
	assert_true(kept.n >= 2 && kept.n < accepted);
	assert_int_equal(cancelled.n, 0);
	free(hash);
	auth_hash_free(h); /* queued jobs are dropped, callbacks not run */
	ab_loop_poll_free(loop);
}

/* How many kept audit events are EVENT/OUTCOME with detail.reason REASON. */
static int
audit_reasons(const char *event, const char *outcome, const char *reason)
{
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(ab_test_audit_events(), i, e)
	{
		const char *r =
		    json_string_value(json_object_get(json_object_get(e, "detail"), "reason"));
		n += strcmp(json_string_value(json_object_get(e, "event")), event) == 0 &&
		     strcmp(json_string_value(json_object_get(e, "outcome")), outcome) == 0 && r &&
		     strcmp(r, reason) == 0;
	}
	return n;
}

struct logins {
	int n, ok, denied;
};

static void
on_login(int r, const struct auth_session *s, const struct ab_err *err, void *data)
{
	struct logins *l = data;
	l->n++;
	if (r == 0) {
		assert_non_null(s);
		l->ok++;
	} else {
		assert_int_equal(r, -EACCES);
		l->denied++;
	}
}

static void
test_login_burst(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	struct auth_hash *h = auth_hash_new(loop);
	struct auth_local *al = auth_local_new(db, NULL);
	ab_test_audit_start();
	struct logins res = {0};
	struct auth_local_login *l;
	struct ab_err err = {0};
	int pending = 0, busy = 0;
	/* 10 wrong passwords for one name at once: the 5 in flight count as failures */
	for (int i = 0; i < 10; i++) {
		char pw[16];
		snprintf(pw, sizeof(pw), "wrong%d", i);
		int r = auth_local_login_start(al, h, "mauve", pw, "10.0.0.9", 1000, on_login, &res,
		                               &l, &err);
		if (r == AUTH_LOCAL_PENDING)
			pending++;
		else
			busy += r == -EBUSY;
	}
	assert_int_equal(pending, 5);
	assert_int_equal(busy, 5);
	assert_int_equal(audit_reasons("auth.login", "deny",
	                               "too many sign-ins in flight for this user name or address"),
	                 5);
	run_until(loop, &res.n, 5);
	assert_int_equal(res.denied, 5);
	assert_int_equal(audit_reasons("auth.login", "deny", "wrong password"), 5);
	/* now locked: the right password too, refused before any hash */
	err = (struct ab_err){0};
	assert_int_equal(auth_local_login_start(al, h, "mauve", "mauve-argobox", "10.0.0.9", 2000,
	                                        on_login, &res, &l, &err),
	                 -EBUSY);
	assert_int_equal(ab_test_audit_count("auth.lockout", "deny"), 1);
	/* another name signs in, off the loop, with a session at the end */
	assert_int_equal(auth_local_login_start(al, h, "bea", "bea-argobox", "10.0.0.9", 3000,
	                                        on_login, &res, &l, &err),
	                 AUTH_LOCAL_PENDING);
	run_until(loop, &res.n, 6);
	assert_int_equal(res.ok, 1);
	assert_int_equal(ab_test_audit_count("auth.login", "grant"), 1);
	/* a cancelled sign-in never answers; freeing with one in flight is clean */
	assert_int_equal(auth_local_login_start(al, h, "bogie", "nope", "10.0.0.9", 4000, on_login,
	                                        &res, &l, &err),
	                 AUTH_LOCAL_PENDING);
	auth_local_login_cancel(al, l);
	assert_int_equal(auth_local_login_start(al, h, "bogie", "nope", "10.0.0.9", 4000, on_login,
	                                        &res, &l, &err),
	                 AUTH_LOCAL_PENDING);
	auth_local_free(al);
	auth_hash_free(h);
	assert_int_equal(res.n, 6);
	ab_test_audit_stop();
	ab_loop_poll_free(loop);
}

struct slot {
	struct auth_request_login_wait *w;
	bool done;
	int *answered;
};

static void
on_reply(struct auth_reply *r, void *data)
{
	struct slot *sl = data;
	sl->done = true;
	(*sl->answered)++;
	auth_reply_free(r);
}

/*
 * More sign-ins than the queue holds: 503 + Retry-After, audited, nothing queued beyond it;
 * then a shutdown with the queue full.
 */
static void
test_queue_full(void **state)
{
	struct ab_loop *loop = ab_loop_poll_new();
	struct auth_hash *h = auth_hash_new(loop);
	struct auth_local *al = auth_local_new(db, NULL);
	struct auth_ctx ctx = {.db = db, .local = al, .local_login = true, .hash = h};
	ab_test_audit_start();
	int pending = 0, full = 0, answered = 0;
	struct slot slots[AUTH_HASH_QUEUE + 8] = {0};
	for (int i = 0; i < AUTH_HASH_QUEUE + 8; i++) {
		char body[96], peer[32];
		snprintf(body, sizeof(body), "{\"user\":\"u%d\",\"password\":\"p\"}", i);
		snprintf(peer, sizeof(peer), "10.1.%d.%d", i / 200, i % 200);
		struct auth_request rq = {.method = "POST", .path = "/api/login", .peer = peer};
		struct auth_reply r;
		slots[i].answered = &answered;
		int p = auth_request_login_start(&ctx, &rq, body, strlen(body), 1000, on_reply,
		                                 &slots[i], &slots[i].w, &r);
		if (p == AUTH_LOCAL_PENDING) {
			pending++;
			continue;
		}
		assert_int_equal(r.status, 503);
		assert_int_equal(r.retry_after_s, 1);
		full++;
		auth_reply_free(&r);
	}
	assert_true(full >= 8 - AUTH_HASH_THREADS - 1);
	assert_int_equal(pending + full, AUTH_HASH_QUEUE + 8);
	assert_int_equal(
	    audit_reasons("auth.login", "deny", "too many sign-ins being checked (queue full)"),
	    full);
	/* the first ones are answered (one or more by the time we look: two threads work); the
	 * clients of the rest leave, then a shutdown */
	for (int64_t end = ab_now_ms() + 20000; answered < 1 && ab_now_ms() < end;)
		ab_loop_poll_once(loop, 50);
	assert_true(answered >= 1);
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].w && !slots[i].done)
			auth_request_login_cancel(&ctx, slots[i].w);
	auth_local_free(al);
	auth_hash_free(h);
	ab_test_audit_stop();
	ab_loop_poll_free(loop);
}

AB_TEST_MAIN(sample_users_setup, sample_users_teardown, test_verdicts, test_cancel_and_queue,
             test_login_burst, test_queue_full)
