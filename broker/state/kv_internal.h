/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv internals shared by kv.c and the backends: the backend vtable, the
 * deferred-completion helper and kvdb, the append-only log database behind the
 * embedded backend and the Workers KV backend's persisted queue.
 */
#ifndef BROKER_KV_INTERNAL_H
#define BROKER_KV_INTERNAL_H

#include <stdbool.h>

#include "kv.h"

struct kv_backend;

struct kv_backend_ops {
	const char *name;
	int (*get)(struct kv_backend *b, const char *key, kv_get_fn fn, void *data);
	int (*put)(struct kv_backend *b, const char *key, const void *value, size_t len,
	           int64_t expiration, const char *metadata, kv_done_fn fn, void *data,
	           struct ab_err *err);
	int (*del)(struct kv_backend *b, const char *key, kv_done_fn fn, void *data,
	           struct ab_err *err);
	int (*list)(struct kv_backend *b, const char *prefix, const char *cursor, unsigned limit,
	            kv_list_fn fn, void *data);
	int (*sync)(struct kv_backend *b, kv_done_fn fn, void *data);
	void (*stats)(const struct kv_backend *b, struct kv_stats *ret);
	void (*close)(struct kv_backend *b);
};

struct kv_backend {
	const struct kv_backend_ops *ops;
	struct ab_loop *loop;
	struct kv_defer *deferred; /* pending deferred completions */
	struct ab_timer *defer_timer;
};

/* Wall clock in ms (kv_set_clock seam). */
int64_t kv_wall_ms(void);

/* --- deferred completions: run callbacks from a 0 ms timer, in order ---------------------- */
enum kv_defer_kind { KV_DEFER_DONE, KV_DEFER_GET, KV_DEFER_LIST, KV_DEFER_KIND_MAX };
void kv_defer_done(struct kv_backend *b, kv_done_fn fn, void *data, int error, const char *msg);
/* v may be NULL (with error -ENOENT or another); its strings are copied. */
void kv_defer_get(struct kv_backend *b, kv_get_fn fn, void *data, int error, const char *msg,
                  const struct kv_value *v);
/* r is copied. */
void kv_defer_list(struct kv_backend *b, kv_list_fn fn, void *data, int error, const char *msg,
                   const struct kv_list_result *r);
void kv_defer_clear(struct kv_backend *b);

/* --- kvdb: sorted in-memory map over an append-only, checksummed, fsync'ed log ----------- */
#define KVDB_F_TOMBSTONE 1u /* queue entry meaning "delete" */

struct kvdb_entry {
	char *key;
	char *val; /* NUL-terminated */
	size_t len;
	char *meta;         /* or NULL */
	int64_t expiration; /* unix seconds or 0 */
	uint32_t flags;
	uint64_t seq;     /* order of the write in this process (not persisted) */
	int64_t stamp_ms; /* monotonic time of the write in this process */
};

struct kvdb;
/* Opens/creates `path`, replaying it (a torn tail from a crash is cut off). */
int kvdb_open(const char *path, struct kvdb **ret, struct ab_err *err);
void kvdb_close(struct kvdb *db);
/* A memory-only kvdb (no file; commit is a no-op). */
struct kvdb *kvdb_new_mem(void);
/* The live entry for key (expired ones included; callers check), or NULL. */
const struct kvdb_entry *kvdb_find(struct kvdb *db, const char *key);
/* Appends a record (written, not yet fsync'ed) and updates memory. */
int kvdb_put(struct kvdb *db, const char *key, const void *val, size_t len, const char *meta,
             int64_t expiration, uint32_t flags, struct ab_err *err);
int kvdb_del(struct kvdb *db, const char *key, struct ab_err *err);
/* fsyncs what was appended (no-op when nothing was), compacting when worthwhile. */
int kvdb_commit(struct kvdb *db, struct ab_err *err);
bool kvdb_dirty(const struct kvdb *db);

/*
 * Writers waiting for the next group commit (one fsync) of a kvdb: added in
 * order, acknowledged together with the commit's outcome.
 */
struct kv_ack;
struct kv_acks {
	struct kv_ack *head, **tail;
};
void kv_acks_init(struct kv_acks *q);
void kv_acks_add(struct kv_acks *q, kv_done_fn fn, void *data);
/* Commits db, then calls every waiting writer with the result (logged on failure). */
int kv_acks_commit(struct kv_acks *q, struct kvdb *db);
/* Commits db and forgets the waiters without calling them (the store is closing). */
void kv_acks_close(struct kv_acks *q, struct kvdb *db);
/* Index of the first entry with key > after (or >= prefix when after is NULL). */
size_t kvdb_lower(struct kvdb *db, const char *prefix, const char *after);
size_t kvdb_count(const struct kvdb *db);
const struct kvdb_entry *kvdb_at(struct kvdb *db, size_t i);
size_t kvdb_bytes(const struct kvdb *db); /* live payload bytes */
uint64_t kvdb_log_bytes(const struct kvdb *db);
uint64_t kvdb_fsyncs(const struct kvdb *db);

/* Backends. */
int kv_embedded_open(const char *dir, struct ab_loop *loop, struct kv_backend **ret,
                     struct ab_err *err);
struct kv_cf_config {
	char base_url[512];
	char account_id[128];
	char namespace_id[128];
	char api_token[512];
	long long min_interval_ms;
	long long timeout_ms;
	long long queue_max_keys;
	long long queue_max_bytes;
	long long backoff_max_ms;
	long long cache_ttl_ms;
};
int kv_cfkv_open(const struct kv_cf_config *cfg, const char *dir, struct ab_loop *loop,
                 struct kv_backend **ret, struct ab_err *err);

#endif
