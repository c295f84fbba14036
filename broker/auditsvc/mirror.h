/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirror: the audit events, copied to the kv store (docs/audit.md, "The KV mirror"), so the
 * trail survives the loss of the host's disk. The store's writer thread prepares each chunk
 * (auditdb_mirror_take: up to N records as NDJSON, read and rendered off the loop); this
 * module, on the loop, puts it under "audit/<first seq, 16 digits>" with expiration_ttl =
 * the retention and metadata {"first","last","count"}, and tells the store once it is
 * durable (for Workers KV: in the kv's persisted queue, flushed from there). A failed put
 * is retried with backoff (1 s doubling to 10 s); meanwhile the records wait in the store,
 * up to audit.mirror.max_lag (beyond, skipped and counted). Audited as "audit.mirror":
 * failure when it stops copying and when records were not mirrored, info when it copies
 * again.
 */
#ifndef BROKER_MIRROR_H
#define BROKER_MIRROR_H

#include <jansson.h>
#include <stdint.h>

#include "ab_loop.h"

struct auditdb;
struct kv;
struct mirror;

/* ttl_s: the kv entries' expiration_ttl (0: none). */
struct mirror *mirror_new(struct ab_loop *loop, struct auditdb *db, int64_t ttl_s);
/* The kv to copy to (borrowed); NULL stops copying (what waits stays in the store). */
void mirror_set_kv(struct mirror *m, struct kv *kv);
/* The store made progress: send a prepared chunk, report what was not mirrored. */
void mirror_progress(struct mirror *m);
/* {"state": "ok"|"failing"|"off", "mirrored_seq", "lag", "chunks", "dropped", "error"} */
json_t *mirror_status(struct mirror *m);
/* Accepts NULL. A put in flight is forgotten (kv_close does not call it back). */
void mirror_free(struct mirror *m);

#endif
