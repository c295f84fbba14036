/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jwks: the Cloudflare Access signing keys, fetched without blocking the loop.
 *
 * Keys come from https://<team>.cloudflareaccess.com/cdn-cgi/access/certs
 * (cfg.url, any http(s) URL in tests) through httpc. They are cached; a token
 * whose "kid" is unknown triggers a refetch, at most once per
 * cfg.min_refetch_ms, so key rotation just works while a flood of made-up
 * kids costs one request per interval. The set is also refetched every
 * cfg.refresh_ms, sooner when the endpoint's Cache-Control says so, so a key
 * taken out of it stops working within minutes. A fetch that times out,
 * fails or returns junk keeps the keys we had.
 *
 *   r = jwks_verify(j, tok, len, source, time(NULL), on_done, req, &wait, &jwt, &err);
 *   r == 0:            verified now; *ret_jwt is the token (jwt_free() it)
 *   r < 0:             rejected now; err says why
 *   r == JWKS_PENDING: on_done(jwt or NULL, err, req) runs later from the
 *                      loop, exactly once, unless jwks_cancel(j, wait) first
 *   r == -EAGAIN:      only when on_done is NULL (a synchronous caller such
 *                      as an authorize hook): the kid is unknown and a fetch
 *                      was started; answer 503 with Retry-After: 1
 *
 * Every outcome is audited as "auth.access" (user = the token's email when
 * it has one) with the reason.
 */
#ifndef BROKER_JWKS_H
#define BROKER_JWKS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "httpc.h"
#include "jwt.h"

#define JWKS_PENDING      1
#define JWKS_MAX_WAITERS  1024
#define JWKS_MAX_KEYS     64
#define JWKS_MAX_RESPONSE (256u << 10)

struct jwks_config {
	const char *url;          /* copied */
	struct jwt_policy policy; /* strings copied */
	long timeout_ms;          /* per fetch; default 5000 */
	int64_t min_refetch_ms;   /* between fetches caused by unknown kids; default 30000 */
	/*
	 * Periodic refresh, so a key removed from the set stops being trusted: at most this
	 * long between fetches; default 5 min, < 0: never. A shorter Cache-Control max-age
	 * (or no-cache/no-store) on the certs response brings the next fetch forward, but
	 * never below min_refetch_ms (nor 1 s).
	 */
	int64_t refresh_ms;
};

struct jwks;
struct jwks_wait;

/* A parsed key set (pure, for tests and jwks.c). */
struct jwks_keyset;
int jwks_parse(const char *json, size_t len, struct jwks_keyset **ret, struct ab_err *err);
void jwks_keyset_free(struct jwks_keyset *ks);
size_t jwks_keyset_count(const struct jwks_keyset *ks);
/* Borrowed key for kid, NULL when absent. */
EVP_PKEY *jwks_keyset_find(const struct jwks_keyset *ks, const char *kid);

/* jwt ownership passes to the callback (NULL on rejection, then err says why). */
typedef void (*jwks_done_fn)(struct jwt *jwt, const struct ab_err *err, void *data);

/* `loop` and `http` must outlive it. Starts the first fetch right away. */
struct jwks *jwks_new(struct ab_loop *loop, struct httpc *http, const struct jwks_config *cfg);
/* Cancels the fetch and every waiter (their callbacks do not run). Accepts NULL. */
void jwks_free(struct jwks *j);

int jwks_verify(struct jwks *j, const char *token, size_t len, const char *source, int64_t now_s,
                jwks_done_fn done, void *data, struct jwks_wait **ret_wait, struct jwt **ret_jwt,
                struct ab_err *err);
/* Forgets a pending verification; its callback will not run. Accepts NULL. */
void jwks_cancel(struct jwks *j, struct jwks_wait *w);

/* Starts a fetch now unless one is running (admin "reload keys"). */
void jwks_refresh(struct jwks *j);

struct jwks_stats {
	size_t keys;         /* keys cached now */
	unsigned fetches;    /* fetches started */
	unsigned fetch_ok;   /* fetches that replaced the key set */
	unsigned fetch_fail; /* fetches that failed (timeout, HTTP error, junk) */
	size_t waiters;      /* verifications waiting for a fetch */
	bool fetching;
	int64_t refresh_in_ms; /* the interval to the next periodic fetch, -1: none */
	char last_error[256];  /* why the last fetch failed, "" if it did not */
};
void jwks_get_stats(const struct jwks *j, struct jwks_stats *ret);

#endif
