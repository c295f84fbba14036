/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv: configuration, argument validation and dispatch to a backend
 * (kv_embedded.c, kv_cfkv.c), plus the deferred-completion helper that lets
 * backends report results from the loop rather than inside the call.
 */
#include "kv.h"
#include "ab_config.h"
#include "ab_log.h"
#include "ab_metrics.h"
#include "ab_util.h"
#include "kv_internal.h"

#include <errno.h>
#include <string.h>

struct kv_config {
	char backend[16];
	char dir[512];
	long long max_value;
	struct kv_cf_config cf;
};

static const char *const backends[] = {"embedded", "cfkv", NULL};

static const struct kv_config kv_defaults = {
    .backend = "embedded",
    .dir = "/var/lib/argobox/kv",
    .max_value = 1 << 20,
    .cf =
        {
            .base_url = "https://api.cloudflare.com/client/v4",
            .min_interval_ms = 1100,
            .timeout_ms = 10000,
            .queue_max_keys = 10000,
            .queue_max_bytes = 64LL << 20,
            .backoff_max_ms = 30000,
            .cache_ttl_ms = 60000,
        },
};

static const struct ab_cfg_field kv_fields[] = {
    AB_CFG_ENUM("backend", struct kv_config, backend, backends, "store backend"),
    AB_CFG_STR("dir", struct kv_config, dir,
               "embedded store directory (cfkv: its persisted write queue)"),
    AB_CFG_INT("max_value", struct kv_config, max_value, 1, 25LL << 20, "largest value, bytes"),
    AB_CFG_STR("cf.base_url", struct kv_config, cf.base_url, "Cloudflare API base URL"),
    AB_CFG_STR("cf.account_id", struct kv_config, cf.account_id, "Cloudflare account id"),
    AB_CFG_STR("cf.namespace_id", struct kv_config, cf.namespace_id, "Workers KV namespace id"),
    AB_CFG_STR("cf.api_token", struct kv_config, cf.api_token, "Cloudflare API token"),
    AB_CFG_INT("cf.min_interval_ms", struct kv_config, cf.min_interval_ms, 0, 3600000,
               "least time between two writes of one key (Workers KV allows 1/s; 10% margin)"),
    AB_CFG_INT("cf.timeout_ms", struct kv_config, cf.timeout_ms, 100, 600000,
               "per request timeout"),
    AB_CFG_INT("cf.queue_max_keys", struct kv_config, cf.queue_max_keys, 1, 10000000,
               "most keys waiting in the write queue"),
    AB_CFG_INT("cf.queue_max_bytes", struct kv_config, cf.queue_max_bytes, 1024, 1LL << 34,
               "most bytes waiting in the write queue"),
    AB_CFG_INT("cf.backoff_max_ms", struct kv_config, cf.backoff_max_ms, 100, 3600000,
               "longest retry backoff"),
    AB_CFG_INT("cf.cache_ttl_ms", struct kv_config, cf.cache_ttl_ms, 0, 86400000,
               "how long a written value is served from the local cache"),
    {0},
};

struct kv_timed;

struct kv {
	struct kv_backend *b;
	size_t max_value;
	struct kv_timed *timed; /* operations in flight (freed by kv_close when never completed) */
};

static void kv_timed_free(struct kv_timed *t);

static int64_t (*clock_fn)(void);

void
kv_set_clock(int64_t (*wall_ms)(void))
{
	clock_fn = wall_ms;
}

int64_t
kv_wall_ms(void)
{
	return clock_fn ? clock_fn() : ab_wall_ms();
}

static void
env_default(char *slot, size_t size, const char *env)
{
	const char *v = getenv(env);
	if (!slot[0] && v && strlen(v) < size)
		snprintf(slot, size, "%s", v);
}

int
kv_open(json_t *config, struct ab_loop *loop, struct kv **ret_kv, struct ab_err *err)
{
	struct kv_config cfg;
	ab_config_init(kv_fields, &cfg, &kv_defaults, sizeof(cfg));
	if (config) {
		int r = ab_config_apply_json(kv_fields, &cfg, config, err);
		if (r < 0)
			return ab_err_wrap(err, "kv configuration");
	}
	struct kv_backend *b = NULL;
	int r;
	if (strcmp(cfg.backend, "cfkv") == 0) {
		/* The environment fills what the configuration leaves empty. */
		env_default(cfg.cf.account_id, sizeof(cfg.cf.account_id), "CLOUDFLARE_ACCOUNT_ID");
		env_default(cfg.cf.namespace_id, sizeof(cfg.cf.namespace_id),
		            "CLOUDFLARE_KV_NAMESPACE_ID");
		env_default(cfg.cf.api_token, sizeof(cfg.cf.api_token), "CLOUDFLARE_API_TOKEN");
		const char *base = getenv("CLOUDFLARE_API_BASE_URL");
		if (base &&
		    (!config || !json_object_get(json_object_get(config, "cf"), "base_url")) &&
		    strlen(base) < sizeof(cfg.cf.base_url))
			snprintf(cfg.cf.base_url, sizeof(cfg.cf.base_url), "%s", base);
		if (!cfg.cf.account_id[0] || !cfg.cf.namespace_id[0] || !cfg.cf.api_token[0])
			return ab_err_set(
			    err, EINVAL,
			    "kv configuration: backend 'cfkv' needs cf.account_id, "
			    "cf.namespace_id and cf.api_token (or CLOUDFLARE_ACCOUNT_ID, "
			    "CLOUDFLARE_KV_NAMESPACE_ID, CLOUDFLARE_API_TOKEN)");
		r = kv_cfkv_open(&cfg.cf, cfg.dir, loop, &b, err);
	} else {
		r = kv_embedded_open(cfg.dir, loop, &b, err);
	}
	if (r < 0)
		return ab_err_wrap(err, "opening %s key-value store in '%s'", cfg.backend, cfg.dir);
	b->loop = loop;
	struct kv *kv = ab_xcalloc(1, sizeof(*kv));
	kv->b = b;
	kv->max_value = (size_t)cfg.max_value;
	*ret_kv = kv;
	ab_config_free(kv_fields, &cfg);
	return 0;
}

void
kv_close(struct kv *kv)
{
	if (!kv)
		return;
	kv_defer_clear(kv->b);
	kv->b->ops->close(kv->b);
	while (kv->timed)
		kv_timed_free(kv->timed);
	free(kv);
}

const char *
kv_backend(const struct kv *kv)
{
	return kv->b->ops->name;
}

int
kv_key_check(const char *key, struct ab_err *err)
{
	if (!key || !*key)
		return ab_err_set(err, EINVAL, "empty key");
	size_t len = strlen(key);
	if (len > KV_KEY_MAX)
		return ab_err_set(err, EINVAL, "key of %zu bytes, at most %d allowed", len,
		                  KV_KEY_MAX);
	if (!ab_utf8_valid(key, len))
		return ab_err_set(err, EINVAL, "key is not valid UTF-8");
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return ab_err_set(err, EINVAL, "key contains a control character");
	if (strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
		return ab_err_set(err, EINVAL, "key '%s' is not allowed", key);
	return 0;
}

static int
metadata_check(const char *meta, struct ab_err *err)
{
	if (!meta)
		return 0;
	size_t len = strlen(meta);
	if (len > KV_METADATA_MAX)
		return ab_err_set(err, E2BIG, "metadata of %zu bytes, at most %d allowed", len,
		                  KV_METADATA_MAX);
	json_error_t je;
	json_t *j = json_loadb(meta, len, JSON_REJECT_DUPLICATES, &je);
	bool ok = j && json_is_object(j);
	json_decref(j);
	if (!ok)
		return ab_err_set(err, EINVAL, "metadata must be a JSON object");
	return 0;
}

/*
 * argobox_kv_op_seconds{op,backend} (GET /metrics): each get, put and delete is timed from the
 * call to its completion (a put completes when acknowledged: durable locally, queued for a
 * remote store). A timed operation wraps the caller's callback.
 */
struct kv_timed {
	struct kv *kv;
	struct kv_timed *prev, *next;
	const char *op, *backend;
	int64_t t0_us;
	union {
		kv_get_fn get;
		kv_done_fn done;
	} fn;
	void *data;
};

static struct kv_timed *
kv_timed_new(struct kv *kv, const char *op, void *data)
{
	struct kv_timed *t = ab_xcalloc(1, sizeof(*t));
	t->kv = kv;
	t->next = kv->timed;
	if (t->next)
		t->next->prev = t;
	kv->timed = t;
	t->op = op;
	t->backend = kv->b->ops->name;
	t->t0_us = ab_now_us();
	t->data = data;
	return t;
}

static void
kv_timed_free(struct kv_timed *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->kv->timed = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

static void
kv_timed_observe(struct kv_timed *t)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "op=\"%s\",backend=\"%s\"", t->op, t->backend);
	ab_metrics_observe("argobox_kv_op_seconds", labels, (double)(ab_now_us() - t->t0_us) / 1e6);
}

static void
kv_timed_get_done(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct kv_timed *t = data;
	kv_timed_observe(t);
	if (t->fn.get)
		t->fn.get(error, errmsg, v, t->data);
	kv_timed_free(t);
}

static void
kv_timed_done(int error, const char *errmsg, void *data)
{
	struct kv_timed *t = data;
	kv_timed_observe(t);
	if (t->fn.done)
		t->fn.done(error, errmsg, t->data);
	kv_timed_free(t);
}

int
kv_get(struct kv *kv, const char *key, kv_get_fn fn, void *data, struct ab_err *err)
{
	int r = kv_key_check(key, err);
	if (r < 0)
		return r;
	struct kv_timed *t = kv_timed_new(kv, "get", data);
	t->fn.get = fn;
	r = kv->b->ops->get(kv->b, key, kv_timed_get_done, t);
	if (r < 0)
		kv_timed_free(t);
	return r;
}

int
kv_put(struct kv *kv, const char *key, const void *value, size_t len,
       const struct kv_put_opts *opts, kv_done_fn fn, void *data, struct ab_err *err)
{
	int r = kv_key_check(key, err);
	if (r < 0)
		return r;
	if (len > kv->max_value)
		return ab_err_set(err, E2BIG, "value of %zu bytes for '%s', at most %zu allowed",
		                  len, key, kv->max_value);
	if (!value && len)
		return ab_err_set(err, EINVAL, "no value for '%s'", key);
	const char *meta = opts ? opts->metadata : NULL;
	r = metadata_check(meta, err);
	if (r < 0)
		return ab_err_wrap(err, "key '%s'", key);
	int64_t exp = 0;
	if (opts && opts->expiration_ttl) {
		if (opts->expiration_ttl < 0 || opts->expiration_ttl > 10LL * 365 * 86400)
			return ab_err_set(err, EINVAL, "expiration_ttl %lld out of range",
			                  (long long)opts->expiration_ttl);
		exp = kv_wall_ms() / 1000 + opts->expiration_ttl;
	}
	struct kv_timed *t = kv_timed_new(kv, "put", data);
	t->fn.done = fn;
	r = kv->b->ops->put(kv->b, key, value ? value : "", len, exp, meta, kv_timed_done, t, err);
	if (r < 0)
		kv_timed_free(t);
	return r;
}

int
kv_delete(struct kv *kv, const char *key, kv_done_fn fn, void *data, struct ab_err *err)
{
	int r = kv_key_check(key, err);
	if (r < 0)
		return r;
	struct kv_timed *t = kv_timed_new(kv, "delete", data);
	t->fn.done = fn;
	r = kv->b->ops->del(kv->b, key, kv_timed_done, t, err);
	if (r < 0)
		kv_timed_free(t);
	return r;
}

int
kv_list(struct kv *kv, const char *prefix, const char *cursor, unsigned limit, kv_list_fn fn,
        void *data, struct ab_err *err)
{
	if (prefix && strlen(prefix) > KV_KEY_MAX)
		return ab_err_set(err, EINVAL, "prefix longer than %d bytes", KV_KEY_MAX);
	if (cursor && strlen(cursor) > 4096)
		return ab_err_set(err, EINVAL, "cursor too long");
	if (limit == 0 || limit > KV_LIST_MAX)
		limit = KV_LIST_MAX;
	return kv->b->ops->list(kv->b, prefix ? prefix : "", cursor && *cursor ? cursor : NULL,
	                        limit, fn, data);
}

int
kv_sync(struct kv *kv, kv_done_fn fn, void *data, struct ab_err *err)
{
	return kv->b->ops->sync(kv->b, fn, data);
}

void
kv_get_stats(const struct kv *kv, struct kv_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	kv->b->ops->stats(kv->b, ret);
}

/* --- deferred completions -------------------------------------------------------------- */

struct kv_defer {
	enum kv_defer_kind kind;
	void *fn;
	void *data;
	int error;
	char *msg;
	bool has_value;
	struct kv_value v;
	char *vdata, *vmeta;
	struct kv_list_entry *entries;
	size_t n;
	char *cursor;
	struct kv_defer *next;
};

static void
defer_free(struct kv_defer *d)
{
	free(d->msg);
	free(d->vdata);
	free(d->vmeta);
	for (size_t i = 0; i < d->n; i++) {
		free((char *)d->entries[i].name);
		free((char *)d->entries[i].metadata);
	}
	free(d->entries);
	free(d->cursor);
	free(d);
}

static int64_t
defer_run(struct ab_loop *loop, void *data)
{
	struct kv_backend *b = data;
	b->defer_timer = NULL;
	/* Take the whole batch: callbacks may defer more, which runs next round. */
	struct kv_defer *d = b->deferred;
	b->deferred = NULL;
	while (d) {
		struct kv_defer *next = d->next;
		const char *msg = d->msg ? d->msg : "";
		switch (d->kind) {
		case KV_DEFER_DONE:
			((kv_done_fn)d->fn)(d->error, msg, d->data);
			break;
		case KV_DEFER_GET:
			((kv_get_fn)d->fn)(d->error, msg, d->has_value ? &d->v : NULL, d->data);
			break;
		case KV_DEFER_LIST: {
			struct kv_list_result r = {d->entries, d->n, d->cursor};
			((kv_list_fn)d->fn)(d->error, msg, d->error ? NULL : &r, d->data);
			break;
		}
		default:
			AB_ASSERT(!"bad defer kind");
		}
		defer_free(d);
		d = next;
	}
	return AB_TIMER_STOP;
}

static void
defer_push(struct kv_backend *b, struct kv_defer *d)
{
	struct kv_defer **p = &b->deferred;
	while (*p)
		p = &(*p)->next;
	*p = d;
	if (!b->defer_timer)
		b->defer_timer = ab_loop_timer(b->loop, 0, defer_run, b);
}

static struct kv_defer *
defer_new(enum kv_defer_kind kind, void *fn, void *data, int error, const char *msg)
{
	struct kv_defer *d = ab_xcalloc(1, sizeof(*d));
	d->kind = kind;
	d->fn = fn;
	d->data = data;
	d->error = error;
	d->msg = msg && *msg ? ab_xstrdup(msg) : NULL;
	return d;
}

void
kv_defer_done(struct kv_backend *b, kv_done_fn fn, void *data, int error, const char *msg)
{
	if (fn)
		defer_push(b, defer_new(KV_DEFER_DONE, (void *)fn, data, error, msg));
}

void
kv_defer_get(struct kv_backend *b, kv_get_fn fn, void *data, int error, const char *msg,
             const struct kv_value *v)
{
	struct kv_defer *d = defer_new(KV_DEFER_GET, (void *)fn, data, error, msg);
	if (v && !error) {
		d->has_value = true;
		d->vdata = ab_xmalloc(v->len + 1);
		memcpy(d->vdata, v->data, v->len);
		d->vdata[v->len] = '\0';
		d->vmeta = v->metadata ? ab_xstrdup(v->metadata) : NULL;
		d->v = (struct kv_value){d->vdata, v->len, d->vmeta, v->expiration};
	}
	defer_push(b, d);
}

void
kv_defer_list(struct kv_backend *b, kv_list_fn fn, void *data, int error, const char *msg,
              const struct kv_list_result *r)
{
	struct kv_defer *d = defer_new(KV_DEFER_LIST, (void *)fn, data, error, msg);
	if (r && !error) {
		d->entries = ab_xcalloc(r->n ? r->n : 1, sizeof(*d->entries));
		d->n = r->n;
		for (size_t i = 0; i < r->n; i++) {
			d->entries[i].name = ab_xstrdup(r->entries[i].name);
			d->entries[i].expiration = r->entries[i].expiration;
			d->entries[i].metadata =
			    r->entries[i].metadata ? ab_xstrdup(r->entries[i].metadata) : NULL;
		}
		d->cursor = r->cursor ? ab_xstrdup(r->cursor) : NULL;
	}
	defer_push(b, d);
}

void
kv_defer_clear(struct kv_backend *b)
{
	ab_loop_timer_cancel(b->loop, b->defer_timer);
	b->defer_timer = NULL;
	while (b->deferred) {
		struct kv_defer *d = b->deferred;
		b->deferred = d->next;
		defer_free(d);
	}
}
