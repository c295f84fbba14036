/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jwks.h"
#include "auth_local.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- key sets ------------------------------------------------------------------------ */

struct jwks_key {
	char *kid;
	EVP_PKEY *pkey;
};

struct jwks_keyset {
	struct jwks_key *keys;
	size_t n;
};

void
jwks_keyset_free(struct jwks_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].pkey);
	}
	free(ks->keys);
	free(ks);
}

size_t
jwks_keyset_count(const struct jwks_keyset *ks)
{
	return ks ? ks->n : 0;
}

EVP_PKEY *
jwks_keyset_find(const struct jwks_keyset *ks, const char *kid)
{
	for (size_t i = 0; ks && kid && i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return ks->keys[i].pkey;
	return NULL;
}

static BIGNUM *
b64_bn(json_t *v)
{
	if (!json_is_string(v))
		return NULL;
	unsigned char *raw = NULL;
	long n = jwt_b64url_decode(json_string_value(v), json_string_length(v), &raw);
	if (n <= 0 || n > 1024) {
		free(raw);
		return NULL;
	}
	BIGNUM *bn = BN_bin2bn(raw, (int)n, NULL);
	free(raw);
	return bn;
}

/* An RSA public key from a JWK's n and e; NULL with a reason in err. */
static EVP_PKEY *
rsa_from_jwk(json_t *jwk, size_t idx, struct ab_err *err)
{
	BIGNUM *n = b64_bn(json_object_get(jwk, "n"));
	BIGNUM *e = b64_bn(json_object_get(jwk, "e"));
	EVP_PKEY *pkey = NULL;
	if (!n || !e) {
		ab_err_set(err, EINVAL, "keys[%zu]: \"n\" and \"e\" must be base64url numbers",
		           idx);
		goto out;
	}
	if (BN_num_bits(n) < 2048 || BN_num_bits(n) > 8192 || !BN_is_odd(e) || BN_num_bits(e) < 2 ||
	    BN_num_bits(e) > 64) {
		ab_err_set(err, EINVAL,
		           "keys[%zu]: RSA key of %d bits (2048..8192) or bad exponent", idx,
		           BN_num_bits(n));
		goto out;
	}
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	AB_ASSERT(bld);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		pkey = NULL;
		ab_err_set(err, EINVAL, "keys[%zu]: OpenSSL rejected the RSA key", idx);
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
out:
	BN_free(n);
	BN_free(e);
	return pkey;
}

int
jwks_parse(const char *json, size_t len, struct jwks_keyset **ret, struct ab_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ab_err_set(err, EINVAL, "JWKS is not JSON: %s", je.text);
	json_t *keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		json_decref(root);
		return ab_err_set(err, EINVAL, "JWKS has no \"keys\" array");
	}
	struct jwks_keyset *ks = ab_xcalloc(1, sizeof(*ks));
	ks->keys = ab_xcalloc(JWKS_MAX_KEYS, sizeof(*ks->keys));
	struct ab_err kerr = {0};
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k)
	{
		if (ks->n == JWKS_MAX_KEYS)
			break;
		json_t *kty = json_object_get(k, "kty"), *kid = json_object_get(k, "kid");
		json_t *alg = json_object_get(k, "alg"), *use = json_object_get(k, "use");
		/* only RSA signing keys meant for RS256 */
		if (!json_is_object(k) || !json_is_string(kty) ||
		    strcmp(json_string_value(kty), "RSA") != 0)
			continue;
		if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") != 0))
			continue;
		if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
			continue;
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
		    json_string_length(kid) > 256 ||
		    strlen(json_string_value(kid)) != json_string_length(kid)) {
			ab_err_set(&kerr, EINVAL, "keys[%zu]: no usable \"kid\"", i);
			continue;
		}
		if (jwks_keyset_find(ks, json_string_value(kid))) {
			ab_err_set(&kerr, EINVAL, "keys[%zu]: duplicate kid", i);
			continue;
		}
		EVP_PKEY *pkey = rsa_from_jwk(k, i, &kerr);
		if (!pkey)
			continue;
		ks->keys[ks->n].kid = ab_xstrdup(json_string_value(kid));
		ks->keys[ks->n].pkey = pkey;
		ks->n++;
	}
	json_decref(root);
	if (ks->n == 0) {
		jwks_keyset_free(ks);
		return ab_err_set(err, EINVAL, "JWKS has no usable RS256 key%s%s",
		                  kerr.code ? ": " : "", kerr.code ? kerr.msg : "");
	}
	*ret = ks;
	return 0;
}

/* --- the fetcher --------------------------------------------------------------------- */

struct jwks_wait {
	struct jwt *jwt;
	char source[64];
	int64_t now_s;
	jwks_done_fn done;
	void *data;
	struct jwks_wait *next, *prev;
};

struct jwks {
	struct ab_loop *loop;
	struct httpc *http;
	char *url;
	char *aud, *iss;
	struct jwks_config cfg;
	struct jwks_keyset *keys;
	struct httpc_call *call;
	struct ab_timer *refresh_timer;
	int64_t refresh_in_ms; /* the current periodic interval */
	int64_t last_fetch_ms; /* monotonic; 0: never */
	struct jwks_wait *waiters;
	struct jwks_stats stats;
};

static void on_fetched(const struct httpc_resp *resp, void *data);

static int
fetch_start(struct jwks *j)
{
	if (j->call)
		return 0;
	static const char *const headers[] = {"Accept: application/json", NULL};
	struct httpc_req req = {
	    .method = "GET",
	    .url = j->url,
	    .headers = headers,
	    .timeout_ms = j->cfg.timeout_ms,
	    .max_response = JWKS_MAX_RESPONSE,
	};
	struct ab_err err = {0};
	j->last_fetch_ms = ab_now_ms();
	j->stats.fetches++;
	int r = httpc_request(j->http, &req, on_fetched, j, &j->call, &err);
	if (r < 0) {
		j->call = NULL;
		j->stats.fetch_fail++;
		snprintf(j->stats.last_error, sizeof(j->stats.last_error), "%.255s", err.msg);
		ab_error("JWKS: fetching '%s': %s", j->url, err.msg);
		return r;
	}
	return 0;
}

static int64_t
on_refresh(struct ab_loop *loop, void *data)
{
	struct jwks *j = data;
	fetch_start(j);
	return j->refresh_in_ms;
}

/*
 * The response's Cache-Control lifetime in ms: max-age=N, 0 for no-cache or no-store,
 * -1 when it says neither (or is absent or malformed).
 */
static int64_t
cache_max_age_ms(const struct httpc_resp *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		if (strcasecmp(resp->headers[i].name, "cache-control") != 0)
			continue;
		const char *v = resp->headers[i].value;
		if (strcasestr(v, "no-store") || strcasestr(v, "no-cache"))
			return 0;
		for (const char *p = v; (p = strcasestr(p, "max-age=")); p++) {
			if (p != v && p[-1] != ' ' && p[-1] != ',')
				continue; /* s-maxage= and the like */
			char *end = NULL;
			errno = 0;
			long long n = strtoll(p + 8, &end, 10);
			if (end == p + 8 || errno || n < 0)
				return -1;
			return n > INT64_MAX / 1000 ? INT64_MAX : n * 1000;
		}
	}
	return -1;
}

/* After a good fetch: the next periodic one per the configured bound and Cache-Control. */
static void
refresh_rearm(struct jwks *j, const struct httpc_resp *resp)
{
	if (j->cfg.refresh_ms <= 0)
		return;
	int64_t next = j->cfg.refresh_ms;
	int64_t age = cache_max_age_ms(resp);
	if (age >= 0)
		next = AB_MIN(next, AB_MAX(age, AB_MAX(j->cfg.min_refetch_ms, (int64_t)1000)));
	if (next == j->refresh_in_ms)
		return;
	j->refresh_in_ms = next;
	ab_loop_timer_cancel(j->loop, j->refresh_timer);
	j->refresh_timer = ab_loop_timer(j->loop, next, on_refresh, j);
}

struct jwks *
jwks_new(struct ab_loop *loop, struct httpc *http, const struct jwks_config *cfg)
{
	struct jwks *j = ab_xcalloc(1, sizeof(*j));
	j->loop = loop;
	j->http = http;
	j->cfg = *cfg;
	j->url = ab_xstrdup(cfg->url ? cfg->url : "");
	j->aud = cfg->policy.aud ? ab_xstrdup(cfg->policy.aud) : NULL;
	j->iss = cfg->policy.iss ? ab_xstrdup(cfg->policy.iss) : NULL;
	j->cfg.url = j->url;
	j->cfg.policy.aud = j->aud;
	j->cfg.policy.iss = j->iss;
	if (j->cfg.timeout_ms <= 0)
		j->cfg.timeout_ms = 5000;
	if (j->cfg.min_refetch_ms <= 0)
		j->cfg.min_refetch_ms = 30000;
	if (j->cfg.refresh_ms == 0)
		j->cfg.refresh_ms = 300 * 1000;
	j->refresh_in_ms = j->cfg.refresh_ms > 0 ? j->cfg.refresh_ms : -1;
	if (j->cfg.refresh_ms > 0)
		j->refresh_timer = ab_loop_timer(loop, j->cfg.refresh_ms, on_refresh, j);
	fetch_start(j);
	return j;
}

static void
wait_unlink(struct jwks *j, struct jwks_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		j->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	j->stats.waiters--;
}

void
jwks_cancel(struct jwks *j, struct jwks_wait *w)
{
	if (!w)
		return;
	wait_unlink(j, w);
	jwt_free(w->jwt);
	free(w);
}

void
jwks_free(struct jwks *j)
{
	if (!j)
		return;
	while (j->waiters)
		jwks_cancel(j, j->waiters);
	httpc_cancel(j->http, j->call);
	ab_loop_timer_cancel(j->loop, j->refresh_timer);
	jwks_keyset_free(j->keys);
	free(j->url);
	free(j->aud);
	free(j->iss);
	free(j);
}

void
jwks_refresh(struct jwks *j)
{
	fetch_start(j);
}

void
jwks_get_stats(const struct jwks *j, struct jwks_stats *ret)
{
	*ret = j->stats;
	ret->keys = jwks_keyset_count(j->keys);
	ret->fetching = j->call != NULL;
	ret->refresh_in_ms = j->refresh_in_ms;
}

static void
audit_token(const struct jwt *t, const char *source, const struct ab_err *err)
{
	const char *email = t ? jwt_claim_string(t, "email") : NULL;
	json_t *d = json_pack("{s:s}", "reason", err ? err->msg : "valid token");
	json_object_set_new(d, "method", json_string("cloudflare-access"));
	if (t && jwt_kid(t))
		json_object_set_new(d, "kid", json_string(jwt_kid(t)));
	audit_log("auth.access", err ? AUDIT_DENY : AUDIT_GRANT, email, NULL, source, d);
	auth_local_signin_count("cloudflare-access", !err);
}

/* Verifies with the cached keys: 0, -errno, or -ENOKEY when the kid is unknown. */
static int
verify_cached(struct jwks *j, const struct jwt *t, int64_t now_s, struct ab_err *err)
{
	if (!jwt_kid(t))
		return ab_err_set(err, EACCES, "token has no \"kid\"");
	EVP_PKEY *key = jwks_keyset_find(j->keys, jwt_kid(t));
	if (!key)
		return ab_err_set(err, ENOKEY, "unknown kid '%.64s'", jwt_kid(t));
	return jwt_verify(t, key, &j->cfg.policy, now_s, err);
}

static void
on_fetched(const struct httpc_resp *resp, void *data)
{
	struct jwks *j = data;
	j->call = NULL;
	struct ab_err err = {0};
	struct jwks_keyset *ks = NULL;
	if (resp->error < 0)
		ab_err_set(&err, -resp->error, "fetch failed: %s", resp->errmsg);
	else if (resp->status != 200)
		ab_err_set(&err, EPROTO, "fetch failed: HTTP status %ld", resp->status);
	else if (jwks_parse(resp->body, resp->body_len, &ks, &err) < 0)
		ab_err_wrap(&err, "fetch failed");
	if (ks) {
		jwks_keyset_free(j->keys);
		j->keys = ks;
		j->stats.fetch_ok++;
		j->stats.last_error[0] = '\0';
		refresh_rearm(j, resp);
		ab_info("JWKS: %zu keys from '%s' (next refresh in %" PRId64 " s)", ks->n, j->url,
		        j->refresh_in_ms / 1000);
	} else {
		j->stats.fetch_fail++;
		snprintf(j->stats.last_error, sizeof(j->stats.last_error), "%.255s", err.msg);
		ab_warn("JWKS: '%s': %s (keeping %zu cached keys)", j->url, err.msg,
		        jwks_keyset_count(j->keys));
	}
	/* finish every waiter; detach the list first so callbacks may verify again */
	struct jwks_wait *list = j->waiters;
	j->waiters = NULL;
	j->stats.waiters = 0;
	while (list) {
		struct jwks_wait *w = list;
		list = w->next;
		struct ab_err verr = {0};
		int r = verify_cached(j, w->jwt, w->now_s, &verr);
		if (r == -ENOKEY && !ks)
			ab_err_wrap(&verr, "%s", err.msg);
		audit_token(w->jwt, w->source, r < 0 ? &verr : NULL);
		struct jwt *t = TAKE_PTR(w->jwt);
		if (r < 0) {
			jwt_free(t);
			t = NULL;
		}
		jwks_done_fn done = w->done;
		void *d = w->data;
		free(w);
		done(t, r < 0 ? &verr : NULL, d);
	}
}

int
jwks_verify(struct jwks *j, const char *token, size_t len, const char *source, int64_t now_s,
            jwks_done_fn done, void *data, struct jwks_wait **ret_wait, struct jwt **ret_jwt,
            struct ab_err *err)
{
	struct jwt *t = NULL;
	int r = jwt_decode(token, len, &t, err);
	if (r < 0) {
		audit_token(NULL, source, err);
		return r;
	}
	r = verify_cached(j, t, now_s, err);
	if (r != -ENOKEY) {
		audit_token(t, source, r < 0 ? err : NULL);
		if (r < 0) {
			jwt_free(t);
			return r;
		}
		*ret_jwt = t;
		return 0;
	}
	/* unknown kid: wait for the running fetch, or start one if the rate limit allows */
	int64_t interval = j->keys ? j->cfg.min_refetch_ms : AB_MIN(j->cfg.min_refetch_ms, 5000);
	const char *why = NULL;
	if (!j->call && j->last_fetch_ms && ab_now_ms() - j->last_fetch_ms < interval)
		why = "keys were refetched recently";
	else if (j->stats.waiters >= JWKS_MAX_WAITERS)
		why = "too many verifications waiting for the key set";
	else if (fetch_start(j) < 0)
		why = "cannot fetch the key set";
	if (why) {
		ab_err_wrap(err, "%s", why);
		if (err)
			err->code = EACCES;
		audit_token(t, source, err);
		jwt_free(t);
		return -EACCES;
	}
	if (!done) {
		/* synchronous caller: the fetch runs on; the client retries */
		ab_err_wrap(err, "fetching the key set, retry shortly");
		if (err)
			err->code = EAGAIN;
		audit_token(t, source, err);
		jwt_free(t);
		return -EAGAIN;
	}
	struct jwks_wait *w = ab_xcalloc(1, sizeof(*w));
	w->jwt = t;
	snprintf(w->source, sizeof(w->source), "%s", source ? source : "");
	w->now_s = now_s;
	w->done = done;
	w->data = data;
	w->next = j->waiters;
	if (j->waiters)
		j->waiters->prev = w;
	j->waiters = w;
	j->stats.waiters++;
	if (ret_wait)
		*ret_wait = w;
	return JWKS_PENDING;
}
