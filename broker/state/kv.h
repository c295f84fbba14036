/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv: the broker's key-value store (docs/kv.md). One asynchronous interface,
 * two backends chosen by the configuration:
 *   - "embedded" (default): an append-only, fsync'ed log in a local
 *     directory, replayed into memory at open; group commit; compaction.
 *   - "cfkv": Cloudflare Workers KV over its REST API (httpc). Writes go
 *     first to a local persisted queue (an embedded log in `dir`) and are
 *     flushed to Workers KV in the background: at most one write per key per
 *     `cf.min_interval_ms` (coalesced, last write wins), 429/5xx/outages
 *     retried with backoff (Retry-After honoured). Reads see the caller's own
 *     writes through the queue and a local cache.
 *
 * Acknowledgement: a put/delete callback with error 0 means the change is
 * durable on local disk (fsync'ed): in the embedded log, or for cfkv in the
 * persisted queue it will be flushed from. It survives kill -9 and a power
 * cut. kv_sync() waits until everything acknowledged so far has reached the
 * backend's final store (for cfkv: Workers KV answered 200).
 *
 * Every callback runs from the loop, never inside the call that started it.
 * A callback may start new operations. Strings passed in are copied.
 *
 * Keys: 1..512 bytes of valid UTF-8 without NUL or control characters,
 * not "." or "..". Values: up to `max_value` bytes (binary). Metadata: a
 * JSON object, serialised at most 1024 bytes. expiration_ttl: seconds, 0 for
 * none (Workers KV requires >= 60).
 *
 * Configuration (a JSON object, e.g. the broker config's "kv" section; every
 * key optional; CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_KV_NAMESPACE_ID,
 * CLOUDFLARE_API_TOKEN and CLOUDFLARE_API_BASE_URL fill cf.* when unset):
 *   {"backend": "embedded"|"cfkv", "dir": "/var/lib/argobox/kv",
 *    "max_value": 1048576,
 *    "cf": {"base_url": "https://api.cloudflare.com/client/v4",
 *           "account_id": "...", "namespace_id": "...", "api_token": "...",
 *           "min_interval_ms": 1000, "timeout_ms": 10000,
 *           "queue_max_keys": 10000, "queue_max_bytes": 67108864,
 *           "backoff_max_ms": 30000, "cache_ttl_ms": 60000}}
 */
#ifndef BROKER_KV_H
#define BROKER_KV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"

#define KV_KEY_MAX      512
#define KV_METADATA_MAX 1024
#define KV_LIST_MAX     1000

struct kv;

struct kv_value {
	const char *data; /* NUL-terminated (not counted) */
	size_t len;
	const char *metadata; /* JSON object text, or NULL */
	int64_t expiration;   /* unix seconds, 0: none */
};

struct kv_put_opts {
	int64_t expiration_ttl; /* seconds, 0: never expires */
	const char *metadata;   /* JSON object text, or NULL */
};

struct kv_list_entry {
	const char *name;
	int64_t expiration;   /* unix seconds, 0: none */
	const char *metadata; /* JSON text or NULL */
};

struct kv_list_result {
	const struct kv_list_entry *entries; /* sorted by name (bytewise) */
	size_t n;
	const char *cursor; /* pass to the next kv_list(); NULL when this was the last page */
};

/* error: 0, -ENOENT (no such key), or another -errno with errmsg. v is NULL unless error == 0. */
typedef void (*kv_get_fn)(int error, const char *errmsg, const struct kv_value *v, void *data);
/* error: 0 once durable (see above), or -errno (nothing was stored). */
typedef void (*kv_done_fn)(int error, const char *errmsg, void *data);
typedef void (*kv_list_fn)(int error, const char *errmsg, const struct kv_list_result *r,
                           void *data);

/*
 * Opens a store from `config` (a JSON object, borrowed; NULL: defaults).
 * Unknown keys and bad values are errors naming the JSON path.
 * The embedded log is replayed before kv_open returns (blocking, at startup).
 */
int kv_open(json_t *config, struct ab_loop *loop, struct kv **ret_kv, struct ab_err *err);

/* Flushes nothing further and frees the store; pending callbacks do not run. Accepts NULL. */
void kv_close(struct kv *kv);

/* The backend's name: "embedded" or "cfkv". */
const char *kv_backend(const struct kv *kv);

/* Synchronous argument checks (-EINVAL, -E2BIG, -ENOSPC); then the callback reports the outcome. */
int kv_get(struct kv *kv, const char *key, kv_get_fn fn, void *data, struct ab_err *err);
int kv_put(struct kv *kv, const char *key, const void *value, size_t len,
           const struct kv_put_opts *opts, kv_done_fn fn, void *data, struct ab_err *err);
int kv_delete(struct kv *kv, const char *key, kv_done_fn fn, void *data, struct ab_err *err);
/* Lists keys starting with `prefix` (NULL: all) after `cursor` (NULL: from the start). */
int kv_list(struct kv *kv, const char *prefix, const char *cursor, unsigned limit, kv_list_fn fn,
            void *data, struct ab_err *err);

/* Calls fn once everything acknowledged before it reached the final store. */
int kv_sync(struct kv *kv, kv_done_fn fn, void *data, struct ab_err *err);

/* Counters for tests, metrics and the benchmark. */
struct kv_stats {
	uint64_t remote_writes;  /* cfkv: PUT/DELETE requests sent */
	uint64_t remote_retries; /* cfkv: requests answered 429/5xx or failed */
	uint64_t coalesced;      /* cfkv: writes replaced by a later one before being sent */
	uint64_t queued;         /* cfkv: keys waiting in the persisted queue */
	uint64_t fsyncs;         /* embedded log fsyncs */
	uint64_t log_bytes;      /* embedded log size */
	int online;              /* cfkv: 1 when the last request succeeded */
};
void kv_get_stats(const struct kv *kv, struct kv_stats *ret);

/* Validates a key as described above. */
int kv_key_check(const char *key, struct ab_err *err);

/* Test seam: the wall clock (ms) used for expirations. NULL restores the real one. */
void kv_set_clock(int64_t (*wall_ms)(void));

#endif
