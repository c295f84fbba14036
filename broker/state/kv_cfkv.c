/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv_cfkv: Cloudflare Workers KV over the REST API (docs/kv.md).
 *
 *   put/delete ──► queue (kvdb log in <dir>/cfkv-queue.log, fsync'ed) ──► ack
 *                    │ pump: per key at most one write per min_interval_ms,
 *                    ▼       one request in flight per key, latest value wins
 *                  PUT/DELETE {base}/accounts/{a}/storage/kv/namespaces/{n}/values/{key}
 *                    │ 2xx: drop the queue entry if no newer write replaced it
 *                    │ 429/5xx/transport: keep it; back off (Retry-After honoured),
 *                    ▼ probe with one request at a time until the service answers
 *
 * Reads consult the queue, then a memory cache of this process's recent
 * writes (cache_ttl_ms, covering the service's eventual consistency), then
 * the service. Lists merge the same overlay into each page; the cursor we
 * hand out is "<service cursor>\n<last name returned>".
 */
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "httpc.h"
#include "kv_internal.h"

#include <errno.h>
#include <string.h>

#define CF_MAX_INFLIGHT   8
#define CF_BACKOFF_MIN_MS 250
#define CF_TTL_MIN        60

struct flight {
	struct kv_cf *cf;
	char *key;
	uint64_t seq;
	bool is_delete;
	struct httpc_call *call;
	struct flight *next;
};

struct sync_waiter {
	kv_done_fn fn;
	void *data;
	struct sync_waiter *next;
};

struct kv_cf {
	struct kv_backend base;
	struct kv_cf_config cfg;
	struct httpc *http;
	struct kvdb *queue; /* persisted pending writes (KVDB_F_TOMBSTONE: delete) */
	struct kvdb *cache; /* recent writes of this process */
	struct kvdb *sent;  /* key -> stamp_ms of its last request */
	struct flight *flights;
	size_t n_flights;
	struct kv_acks acks;
	struct ab_timer *commit_timer;
	struct ab_timer *pump_timer;
	int64_t pump_due;
	struct sync_waiter *waiters;
	int64_t next_attempt_ms;
	int64_t backoff_ms;
	bool online;
	int64_t offline_since_ms; /* when the service stopped answering (online false) */
	struct kv_stats st;
	char *auth_header;
};

static struct kv_cf *
to_cf(struct kv_backend *b)
{
	return (struct kv_cf *)b;
}

static void pump_schedule(struct kv_cf *cf, int64_t delay);
static void check_waiters(struct kv_cf *cf);

/* --- URLs ------------------------------------------------------------------------------ */

static void
urlenc(struct ab_err *unused, char **out, const char *s)
{
	size_t n = strlen(s);
	char *o = ab_xmalloc(3 * n + 1), *p = o;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' || *c == '~')
			*p++ = (char)*c;
		else
			p += sprintf(p, "%%%02X", *c);
	}
	*p = '\0';
	*out = o;
}

static char *
ns_url(struct kv_cf *cf, const char *tail)
{
	return ab_xasprintf("%s/accounts/%s/storage/kv/namespaces/%s/%s", cf->cfg.base_url,
	                    cf->cfg.account_id, cf->cfg.namespace_id, tail);
}

static char *
value_url(struct kv_cf *cf, const char *key)
{
	_cleanup_free_ char *k = NULL;
	urlenc(NULL, &k, key);
	_cleanup_free_ char *tail = ab_xasprintf("values/%s", k);
	return ns_url(cf, tail);
}

/* --- acks (group commit of the queue) ------------------------------------------------- */

static int64_t
cf_commit(struct ab_loop *loop, void *data)
{
	struct kv_cf *cf = data;
	cf->commit_timer = NULL;
	kv_acks_commit(&cf->acks, cf->queue);
	check_waiters(cf);
	return AB_TIMER_STOP;
}

static void
queue_ack(struct kv_cf *cf, kv_done_fn fn, void *data)
{
	kv_acks_add(&cf->acks, fn, data);
	if (!cf->commit_timer)
		cf->commit_timer = ab_loop_timer(cf->base.loop, 0, cf_commit, cf);
}

/* --- flushing -------------------------------------------------------------------------- */

static struct flight *
flight_find(struct kv_cf *cf, const char *key)
{
	for (struct flight *f = cf->flights; f; f = f->next)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static void
flight_remove(struct kv_cf *cf, struct flight *fl)
{
	for (struct flight **p = &cf->flights; *p; p = &(*p)->next)
		if (*p == fl) {
			*p = fl->next;
			break;
		}
	cf->n_flights--;
	free(fl->key);
	free(fl);
}

static void
check_waiters(struct kv_cf *cf)
{
	if (kvdb_count(cf->queue) || cf->n_flights || kvdb_dirty(cf->queue))
		return;
	struct sync_waiter *w = cf->waiters;
	cf->waiters = NULL;
	while (w) {
		struct sync_waiter *next = w->next;
		kv_defer_done(&cf->base, w->fn, w->data, 0, NULL);
		free(w);
		w = next;
	}
}

static void
on_write_done(const struct httpc_resp *r, void *data)
{
	struct flight *fl = data;
	struct kv_cf *cf = fl->cf;
	int64_t now = ab_now_ms();
	bool ok = r->error == 0 &&
	          ((r->status >= 200 && r->status < 300) || (fl->is_delete && r->status == 404));
	bool permanent = r->error == 0 && r->status >= 400 && r->status < 500 && r->status != 429 &&
	                 r->status != 401 && r->status != 403 && r->status != 408 && !ok;
	if (ok || permanent) {
		if (permanent)
			ab_error(
			    "kv: Workers KV refused %s of '%s' (HTTP %ld: %.200s); dropping it",
			    fl->is_delete ? "delete" : "write", fl->key, r->status, r->body);
		const struct kvdb_entry *q = kvdb_find(cf->queue, fl->key);
		if (q && q->seq == fl->seq) {
			struct ab_err err = {0};
			if (kvdb_del(cf->queue, fl->key, &err) < 0)
				ab_error("kv: %s", err.msg);
			queue_ack(cf, NULL, NULL); /* make the removal durable (batched) */
		}
		if (!cf->online) {
			int64_t down = now - cf->offline_since_ms;
			ab_info(
			    "kv: Workers KV reachable again after %lld ms; %zu keys still queued",
			    (long long)down, kvdb_count(cf->queue));
			audit_log("kv.remote", AUDIT_INFO, NULL, NULL, NULL,
			          json_pack("{sssIsI}", "reason", "Workers KV reachable again",
			                    "down_ms", (json_int_t)down, "queued",
			                    (json_int_t)kvdb_count(cf->queue)));
		}
		cf->online = true;
		cf->backoff_ms = 0;
		cf->next_attempt_ms = 0;
	} else {
		cf->st.remote_retries++;
		int64_t backoff = cf->backoff_ms ? cf->backoff_ms * 2 : CF_BACKOFF_MIN_MS;
		backoff = AB_MIN(backoff, cf->cfg.backoff_max_ms);
		if (r->status == 401 || r->status == 403)
			backoff = cf->cfg.backoff_max_ms;
		const char *ra = r->error == 0 ? httpc_resp_header(r, "Retry-After") : NULL;
		if (ra) {
			long secs = strtol(ra, NULL, 10);
			if (secs > 0 && secs < 3600)
				backoff = AB_MAX(backoff, secs * 1000);
		}
		cf->backoff_ms = backoff;
		cf->next_attempt_ms = now + backoff;
		if (cf->online) {
			ab_warn("kv: Workers KV write of '%s' failed (%s%ld%s); queueing, retry in "
			        "%lld ms",
			        fl->key, r->error ? r->errmsg : "HTTP ", r->error ? 0L : r->status,
			        "", (long long)backoff);
			/* once per outage: what failed; acknowledged writes wait in the queue */
			_cleanup_free_ char *why =
			    r->error ? ab_xstrdup(r->errmsg) : ab_xasprintf("HTTP %ld", r->status);
			audit_log(
			    "kv.remote", AUDIT_FAILURE, NULL, NULL, NULL,
			    json_pack("{sssssI}", "reason",
			              "Workers KV unreachable: writes are kept in the local queue "
			              "and retried",
			              "error", why, "queued", (json_int_t)kvdb_count(cf->queue)));
			cf->offline_since_ms = now;
		}
		cf->online = false;
	}
	flight_remove(cf, fl);
	pump_schedule(cf, 0);
	check_waiters(cf);
}

static void
send_entry(struct kv_cf *cf, const struct kvdb_entry *q)
{
	struct flight *fl = ab_xcalloc(1, sizeof(*fl));
	fl->cf = cf;
	fl->key = ab_xstrdup(q->key);
	fl->seq = q->seq;
	fl->is_delete = q->flags & KVDB_F_TOMBSTONE;
	_cleanup_free_ char *url = value_url(cf, q->key);
	_cleanup_free_ char *body = NULL;
	_cleanup_free_ char *ctype = NULL;
	size_t body_len = 0;
	struct httpc_req req = {
	    .url = url, .timeout_ms = cf->cfg.timeout_ms, .max_response = 65536};
	if (fl->is_delete) {
		req.method = "DELETE";
	} else {
		req.method = "PUT";
		if (q->expiration) {
			int64_t ttl = q->expiration - kv_wall_ms() / 1000;
			char *u = ab_xasprintf("%s?expiration_ttl=%lld", url,
			                       (long long)AB_MAX(ttl, (int64_t)CF_TTL_MIN));
			free(url);
			url = u;
			req.url = url;
		}
		if (q->meta) {
			unsigned char rnd[12];
			char hex[25];
			ab_random_bytes(rnd, sizeof(rnd));
			ab_hex(rnd, sizeof(rnd), hex);
			_cleanup_free_ char *head = ab_xasprintf(
			    "--%s\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
			    "Content-Type: application/json\r\n\r\n%s\r\n--%s\r\n"
			    "Content-Disposition: form-data; name=\"value\"; filename=\"value\"\r\n"
			    "Content-Type: application/octet-stream\r\n\r\n",
			    hex, q->meta, hex);
			_cleanup_free_ char *tail = ab_xasprintf("\r\n--%s--\r\n", hex);
			size_t hl = strlen(head), tl = strlen(tail);
			body_len = hl + q->len + tl;
			body = ab_xmalloc(body_len);
			memcpy(body, head, hl);
			memcpy(body + hl, q->val, q->len);
			memcpy(body + hl + q->len, tail, tl);
			ctype = ab_xasprintf("Content-Type: multipart/form-data; boundary=%s", hex);
			req.body = body;
			req.body_len = body_len;
		} else {
			ctype = ab_xstrdup("Content-Type: application/octet-stream");
			req.body = q->val;
			req.body_len = q->len;
		}
	}
	const char *hdrs[] = {cf->auth_header, ctype, NULL};
	req.headers = hdrs;
	struct ab_err err = {0};
	if (httpc_request(cf->http, &req, on_write_done, fl, &fl->call, &err) < 0) {
		ab_error("kv: %s", err.msg);
		free(fl->key);
		free(fl);
		return;
	}
	fl->next = cf->flights;
	cf->flights = fl;
	cf->n_flights++;
	cf->st.remote_writes++;
	struct ab_err e2 = {0};
	kvdb_put(cf->sent, q->key, "", 0, NULL, 0, 0, &e2);
}

static int64_t
pump(struct ab_loop *loop, void *data)
{
	struct kv_cf *cf = data;
	cf->pump_timer = NULL;
	int64_t now = ab_now_ms();
	if (cf->next_attempt_ms > now) {
		pump_schedule(cf, cf->next_attempt_ms - now);
		return AB_TIMER_STOP;
	}
	int64_t next_due = -1;
	/* Offline: one probe at a time. */
	size_t max_inflight = cf->online ? CF_MAX_INFLIGHT : 1;
	for (size_t i = 0; i < kvdb_count(cf->queue) && cf->n_flights < max_inflight; i++) {
		const struct kvdb_entry *q = kvdb_at(cf->queue, i);
		if (flight_find(cf, q->key))
			continue; /* one request per key at a time; re-pumped when it ends */
		const struct kvdb_entry *s = kvdb_find(cf->sent, q->key);
		if (s && now - s->stamp_ms < cf->cfg.min_interval_ms) {
			int64_t due = s->stamp_ms + cf->cfg.min_interval_ms - now;
			next_due = next_due < 0 ? due : AB_MIN(next_due, due);
			continue;
		}
		if (q->expiration && !(q->flags & KVDB_F_TOMBSTONE) &&
		    q->expiration <= kv_wall_ms() / 1000) {
			/* Expired before it could be sent: nothing to write. */
			struct ab_err err = {0};
			_cleanup_free_ char *k = ab_xstrdup(q->key);
			kvdb_del(cf->queue, k, &err);
			queue_ack(cf, NULL, NULL);
			i--;
			continue;
		}
		send_entry(cf, q);
	}
	/* Forget send times older than the interval so `sent` stays small. */
	for (size_t i = 0; i < kvdb_count(cf->sent);) {
		const struct kvdb_entry *s = kvdb_at(cf->sent, i);
		if (now - s->stamp_ms > cf->cfg.min_interval_ms && !kvdb_find(cf->queue, s->key)) {
			_cleanup_free_ char *k = ab_xstrdup(s->key);
			kvdb_del(cf->sent, k, NULL);
		} else
			i++;
	}
	if (next_due >= 0)
		pump_schedule(cf, next_due);
	check_waiters(cf);
	return AB_TIMER_STOP;
}

static void
pump_schedule(struct kv_cf *cf, int64_t delay)
{
	int64_t due = ab_now_ms() + delay;
	if (cf->pump_timer && cf->pump_due <= due)
		return;
	ab_loop_timer_cancel(cf->base.loop, cf->pump_timer);
	cf->pump_due = due;
	cf->pump_timer = ab_loop_timer(cf->base.loop, delay, pump, cf);
}

/* --- the backend ops ------------------------------------------------------------------- */

static int
cf_write(struct kv_cf *cf, const char *key, const void *value, size_t len, int64_t expiration,
         const char *metadata, uint32_t flags, kv_done_fn fn, void *data, struct ab_err *err)
{
	const struct kvdb_entry *q = kvdb_find(cf->queue, key);
	if (!q && ((long long)kvdb_count(cf->queue) >= cf->cfg.queue_max_keys ||
	           (long long)(kvdb_bytes(cf->queue) + len) > cf->cfg.queue_max_bytes))
		return ab_err_set(err, ENOSPC,
		                  "Workers KV write queue is full (%zu keys, %zu bytes%s); '%s' "
		                  "not stored",
		                  kvdb_count(cf->queue), kvdb_bytes(cf->queue),
		                  cf->online ? "" : ", service unreachable", key);
	if (q)
		cf->st.coalesced++;
	int r = kvdb_put(cf->queue, key, value, len, metadata, expiration, flags, err);
	if (r < 0)
		return r;
	kvdb_put(cf->cache, key, value, len, metadata, expiration, flags, NULL);
	queue_ack(cf, fn, data);
	pump_schedule(cf, 0);
	return 0;
}

static int
cf_put(struct kv_backend *b, const char *key, const void *value, size_t len, int64_t expiration,
       const char *metadata, kv_done_fn fn, void *data, struct ab_err *err)
{
	return cf_write(to_cf(b), key, value, len, expiration, metadata, 0, fn, data, err);
}

static int
cf_del(struct kv_backend *b, const char *key, kv_done_fn fn, void *data, struct ab_err *err)
{
	return cf_write(to_cf(b), key, "", 0, 0, NULL, KVDB_F_TOMBSTONE, fn, data, err);
}

/* The newest local knowledge of key: the queue, then a fresh cache entry. */
static const struct kvdb_entry *
overlay_find(struct kv_cf *cf, const char *key)
{
	const struct kvdb_entry *e = kvdb_find(cf->queue, key);
	if (e)
		return e;
	e = kvdb_find(cf->cache, key);
	if (e && ab_now_ms() - e->stamp_ms <= cf->cfg.cache_ttl_ms)
		return e;
	return NULL;
}

static bool
entry_expired(const struct kvdb_entry *e)
{
	return e->expiration && e->expiration <= kv_wall_ms() / 1000;
}

struct get_ctx {
	struct kv_cf *cf;
	kv_get_fn fn;
	void *data;
};

static void
on_get_done(const struct httpc_resp *r, void *data)
{
	struct get_ctx *g = data;
	if (r->error < 0)
		g->fn(-EAGAIN, r->errmsg, NULL, g->data);
	else if (r->status == 404)
		g->fn(-ENOENT, "no such key", NULL, g->data);
	else if (r->status != 200) {
		char msg[128];
		snprintf(msg, sizeof(msg), "Workers KV answered HTTP %ld", r->status);
		g->fn(r->status == 429 || r->status >= 500 ? -EAGAIN : -EIO, msg, NULL, g->data);
	} else {
		struct kv_value v = {r->body, r->body_len, NULL, 0};
		g->fn(0, "", &v, g->data);
	}
	free(g);
}

static int
cf_get(struct kv_backend *b, const char *key, kv_get_fn fn, void *data)
{
	struct kv_cf *cf = to_cf(b);
	const struct kvdb_entry *e = overlay_find(cf, key);
	if (e) {
		if ((e->flags & KVDB_F_TOMBSTONE) || entry_expired(e)) {
			kv_defer_get(b, fn, data, -ENOENT, "no such key", NULL);
		} else {
			struct kv_value v = {e->val, e->len, e->meta, e->expiration};
			kv_defer_get(b, fn, data, 0, NULL, &v);
		}
		return 0;
	}
	_cleanup_free_ char *url = value_url(cf, key);
	const char *hdrs[] = {cf->auth_header, NULL};
	struct httpc_req req = {.url = url,
	                        .headers = hdrs,
	                        .timeout_ms = cf->cfg.timeout_ms,
	                        .max_response = 25u << 20};
	struct get_ctx *g = ab_xcalloc(1, sizeof(*g));
	*g = (struct get_ctx){cf, fn, data};
	struct ab_err err = {0};
	if (httpc_request(cf->http, &req, on_get_done, g, NULL, &err) < 0) {
		free(g);
		kv_defer_get(b, fn, data, -EIO, err.msg, NULL);
	}
	return 0;
}

struct list_ctx {
	struct kv_cf *cf;
	kv_list_fn fn;
	void *data;
	char *prefix;
	char *after; /* last name of the previous page, or NULL */
	unsigned limit;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv_list_entry *)a)->name,
	              ((const struct kv_list_entry *)b)->name);
}

/* Frees a finished list call and the response it parsed. */
static void
list_ctx_free(struct list_ctx *l, json_t *root)
{
	json_decref(root);
	free(l->prefix);
	free(l->after);
	free(l);
}

static void
on_list_done(const struct httpc_resp *r, void *data)
{
	struct list_ctx *l = data;
	struct kv_cf *cf = l->cf;
	json_t *root = NULL;
	char msg[160] = "";
	int error = 0;
	if (r->error < 0) {
		error = -EAGAIN;
		snprintf(msg, sizeof(msg), "%s", r->errmsg);
	} else if (r->status != 200) {
		error = r->status == 429 || r->status >= 500 ? -EAGAIN : -EIO;
		snprintf(msg, sizeof(msg), "Workers KV answered HTTP %ld", r->status);
	} else {
		json_error_t je;
		root = json_loadb(r->body, r->body_len, 0, &je);
		if (!root || !json_is_array(json_object_get(root, "result"))) {
			error = -EPROTO;
			snprintf(msg, sizeof(msg), "Workers KV list: malformed response");
		}
	}
	if (error) {
		/* returns rather than jumps: a goto may not cross the cleanup variables below */
		l->fn(error, msg, NULL, l->data);
		list_ctx_free(l, root);
		return;
	}
	json_t *arr = json_object_get(root, "result");
	const char *rcursor =
	    json_string_value(json_object_get(json_object_get(root, "result_info"), "cursor"));
	bool last_page = !rcursor || !*rcursor;
	size_t cap = json_array_size(arr) + kvdb_count(cf->queue) + kvdb_count(cf->cache) + 1;
	struct kv_list_entry *ents = ab_xcalloc(cap, sizeof(*ents));
	char **metas = ab_xcalloc(cap, sizeof(*metas));
	size_t n = 0;
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it)
	{
		const char *name = json_string_value(json_object_get(it, "name"));
		if (!name)
			continue;
		json_t *m = json_object_get(it, "metadata");
		metas[n] = m && !json_is_null(m) ? json_dumps(m, JSON_COMPACT) : NULL;
		ents[n] = (struct kv_list_entry){
		    name, json_integer_value(json_object_get(it, "expiration")), metas[n]};
		n++;
	}
	/* The page covers (after, last name]; everything after `after` on the last page. */
	const char *hi = n ? ents[n - 1].name : NULL;
	_cleanup_free_ char *hi_copy = hi ? ab_xstrdup(hi) : NULL;
	size_t plen = strlen(l->prefix);
	struct kvdb *srcs[2] = {cf->queue, cf->cache};
	for (int s = 0; s < 2; s++) {
		for (size_t k = kvdb_lower(srcs[s], l->prefix, l->after); k < kvdb_count(srcs[s]);
		     k++) {
			const struct kvdb_entry *e = kvdb_at(srcs[s], k);
			if (strncmp(e->key, l->prefix, plen) != 0)
				break;
			if (!last_page && hi_copy && strcmp(e->key, hi_copy) > 0)
				break;
			if (overlay_find(cf, e->key) != e)
				continue; /* stale cache entry, or superseded by the queue */
			size_t j = 0;
			while (j < n && strcmp(ents[j].name, e->key) != 0)
				j++;
			bool gone = (e->flags & KVDB_F_TOMBSTONE) || entry_expired(e);
			if (gone) {
				if (j < n) {
					free(metas[j]);
					memmove(&ents[j], &ents[j + 1],
					        (n - j - 1) * sizeof(*ents));
					memmove(&metas[j], &metas[j + 1],
					        (n - j - 1) * sizeof(*metas));
					n--;
				}
				continue;
			}
			if (j == n) {
				metas[n] = NULL;
				n++;
			} else {
				free(metas[j]);
				metas[j] = NULL;
			}
			ents[j] = (struct kv_list_entry){e->key, e->expiration, e->meta};
		}
	}
	qsort(ents, n, sizeof(*ents), entry_cmp);
	_cleanup_free_ char *cursor = NULL;
	if (!last_page)
		cursor = ab_xasprintf("%s\n%s", rcursor, hi_copy ? hi_copy : "");
	struct kv_list_result res = {ents, n, cursor};
	l->fn(0, "", &res, l->data);
	for (size_t k = 0; k < cap; k++)
		free(metas[k]);
	free(metas);
	free(ents);
	list_ctx_free(l, root);
}

static int
cf_list(struct kv_backend *b, const char *prefix, const char *cursor, unsigned limit, kv_list_fn fn,
        void *data)
{
	struct kv_cf *cf = to_cf(b);
	_cleanup_free_ char *rcursor = NULL;
	char *after = NULL;
	if (cursor) {
		const char *nl = strchr(cursor, '\n');
		if (!nl) {
			kv_defer_list(b, fn, data, -EINVAL, "invalid cursor", NULL);
			return 0;
		}
		rcursor = ab_xstrndup(cursor, (size_t)(nl - cursor));
		after = nl[1] ? ab_xstrdup(nl + 1) : NULL;
	}
	_cleanup_free_ char *pe = NULL, *ce = NULL;
	urlenc(NULL, &pe, prefix);
	urlenc(NULL, &ce, rcursor ? rcursor : "");
	_cleanup_free_ char *tail = ab_xasprintf("keys?limit=%u&prefix=%s%s%s", AB_MAX(limit, 10u),
	                                         pe, rcursor ? "&cursor=" : "", ce);
	_cleanup_free_ char *url = ns_url(cf, tail);
	const char *hdrs[] = {cf->auth_header, NULL};
	struct httpc_req req = {.url = url,
	                        .headers = hdrs,
	                        .timeout_ms = cf->cfg.timeout_ms,
	                        .max_response = 8u << 20};
	struct list_ctx *l = ab_xcalloc(1, sizeof(*l));
	*l = (struct list_ctx){cf, fn, data, ab_xstrdup(prefix), after, limit};
	struct ab_err err = {0};
	if (httpc_request(cf->http, &req, on_list_done, l, NULL, &err) < 0) {
		free(l->prefix);
		free(l->after);
		free(l);
		kv_defer_list(b, fn, data, -EIO, err.msg, NULL);
	}
	return 0;
}

static int
cf_sync(struct kv_backend *b, kv_done_fn fn, void *data)
{
	struct kv_cf *cf = to_cf(b);
	struct sync_waiter *w = ab_xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->data = data;
	w->next = cf->waiters;
	cf->waiters = w;
	pump_schedule(cf, 0);
	return 0;
}

static void
cf_stats(const struct kv_backend *b, struct kv_stats *ret)
{
	const struct kv_cf *cf = (const struct kv_cf *)b;
	*ret = cf->st;
	ret->queued = kvdb_count(cf->queue);
	ret->fsyncs = kvdb_fsyncs(cf->queue);
	ret->log_bytes = kvdb_log_bytes(cf->queue);
	ret->online = cf->online;
}

static void
cf_close(struct kv_backend *b)
{
	struct kv_cf *cf = to_cf(b);
	httpc_free(cf->http);
	while (cf->flights) {
		struct flight *f = cf->flights;
		cf->flights = f->next;
		free(f->key);
		free(f);
	}
	ab_loop_timer_cancel(b->loop, cf->commit_timer);
	ab_loop_timer_cancel(b->loop, cf->pump_timer);
	kv_acks_close(&cf->acks, cf->queue);
	while (cf->waiters) {
		struct sync_waiter *w = cf->waiters;
		cf->waiters = w->next;
		free(w);
	}
	kvdb_close(cf->queue);
	kvdb_close(cf->cache);
	kvdb_close(cf->sent);
	free(cf->auth_header);
	free(cf);
}

static const struct kv_backend_ops cf_ops = {
    .name = "cfkv",
    .get = cf_get,
    .put = cf_put,
    .del = cf_del,
    .list = cf_list,
    .sync = cf_sync,
    .stats = cf_stats,
    .close = cf_close,
};

int
kv_cfkv_open(const struct kv_cf_config *cfg, const char *dir, struct ab_loop *loop,
             struct kv_backend **ret, struct ab_err *err)
{
	if (strncmp(cfg->base_url, "https://", 8) != 0 && strncmp(cfg->base_url, "http://", 7) != 0)
		return ab_err_set(err, EINVAL, "cf.base_url '%s' is not an http(s) URL",
		                  cfg->base_url);
	for (const char *s = cfg->api_token; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return ab_err_set(err, EINVAL, "cf.api_token contains invalid characters");
	for (const char *s = cfg->account_id; *s; s++)
		if (!strchr("0123456789abcdefABCDEF-_", *s))
			return ab_err_set(err, EINVAL, "cf.account_id '%s' is not an id",
			                  cfg->account_id);
	for (const char *s = cfg->namespace_id; *s; s++)
		if (!strchr("0123456789abcdefABCDEF-_", *s))
			return ab_err_set(err, EINVAL, "cf.namespace_id '%s' is not an id",
			                  cfg->namespace_id);
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = ab_xasprintf("%s/cfkv-queue.log", dir);
	struct kvdb *queue = NULL;
	r = kvdb_open(path, &queue, err);
	if (r < 0)
		return r;
	struct kv_cf *cf = ab_xcalloc(1, sizeof(*cf));
	cf->base.ops = &cf_ops;
	cf->base.loop = loop;
	cf->cfg = *cfg;
	size_t bl = strlen(cf->cfg.base_url);
	while (bl && cf->cfg.base_url[bl - 1] == '/')
		cf->cfg.base_url[--bl] = '\0';
	cf->http = httpc_new(loop);
	cf->queue = queue;
	cf->cache = kvdb_new_mem();
	cf->sent = kvdb_new_mem();
	kv_acks_init(&cf->acks);
	cf->online = true;
	cf->auth_header = ab_xasprintf("Authorization: Bearer %s", cfg->api_token);
	if (kvdb_count(queue))
		ab_info("kv: %zu writes queued from before; flushing them to Workers KV",
		        kvdb_count(queue));
	pump_schedule(cf, 0);
	*ret = &cf->base;
	return 0;
}
