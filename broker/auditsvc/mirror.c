/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mirror: the audit events copied to the kv store (see mirror.h). */
#include "mirror.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "auditdb.h"
#include "kv.h"

#include <errno.h>
#include <string.h>

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   10000 /* a put is local first (the kv's queue): cheap to try */
/*
 * Losses are audited at once, then at most this often while they go on (and once more when
 * the mirror copies again): each report is a record that an outage would drop in turn, so
 * reporting every loss would feed itself (two records a mirror round, the built-in alert's
 * included, for as long as the outage lasts).
 */
#define DROP_REPORT_MS 60000

struct mirror {
	struct ab_loop *loop;
	struct auditdb *db;
	struct kv *kv;
	int64_t ttl_s;
	struct auditdb_chunk *chunk; /* being put, or waiting for its retry */
	bool in_flight;
	struct ab_timer *retry;
	int64_t backoff_ms;
	bool failing;
	uint64_t failures;
	char error[256];
	uint64_t dropped_reported;
	int64_t dropped_report_ms; /* when losses were last audited (monotonic); 0: never */
};

static void send_chunk(struct mirror *m);

static int64_t
retry_now(struct ab_loop *loop, void *data)
{
	struct mirror *m = data;
	m->retry = NULL;
	send_chunk(m);
	return AB_TIMER_STOP;
}

static void
failed(struct mirror *m, const char *why)
{
	m->failures++;
	snprintf(m->error, sizeof(m->error), "%.250s", why);
	if (!m->failing) {
		m->failing = true;
		ab_warn("audit mirror: %s (the records wait in the store; retrying)", m->error);
		audit_log("audit.mirror", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssssI}", "reason",
		                    "the audit mirror cannot write to the kv store; the records "
		                    "wait in the store up to audit.mirror.max_lag",
		                    "error", m->error, "seq", (json_int_t)m->chunk->first_seq));
	}
	m->retry = ab_loop_timer(m->loop, m->backoff_ms, retry_now, m);
	m->backoff_ms = AB_MIN(m->backoff_ms * 2, RETRY_MAX_MS);
}

/* Audits the losses not audited yet; unless now (the mirror is not failing), at most every
 * DROP_REPORT_MS. */
static void
report_dropped(struct mirror *m, bool now)
{
	struct auditdb_stats st;
	auditdb_stats(m->db, &st);
	if (st.mirror_dropped <= m->dropped_reported)
		return;
	int64_t t = ab_now_ms();
	if (!now && m->dropped_report_ms && t - m->dropped_report_ms < DROP_REPORT_MS)
		return;
	uint64_t n = st.mirror_dropped - m->dropped_reported;
	m->dropped_reported = st.mirror_dropped;
	m->dropped_report_ms = t;
	audit_log("audit.mirror", AUDIT_FAILURE, NULL, NULL, NULL,
	          json_pack("{sssI}", "reason",
	                    "records were not mirrored: the mirror was behind by more than "
	                    "audit.mirror.max_lag, or retention removed them first (the "
	                    "store and the JSON-lines file have them)",
	                    "dropped", (json_int_t)n));
}

static void
put_done(int error, const char *errmsg, void *data)
{
	struct mirror *m = data;
	m->in_flight = false;
	if (!m->chunk || !m->kv)
		return; /* detached meanwhile */
	if (error != 0) {
		failed(m, errmsg && errmsg[0] ? errmsg : strerror(-error));
		return;
	}
	struct auditdb_chunk *c = TAKE_PTR(m->chunk);
	int64_t first = c->first_seq;
	auditdb_mirror_done(m->db, c);
	m->backoff_ms = RETRY_FIRST_MS;
	if (m->failing) {
		m->failing = false;
		report_dropped(m, true); /* what the outage lost and was not audited yet */
		ab_info("audit mirror: copying again from record %lld", (long long)first);
		audit_log("audit.mirror", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssIsI}", "reason",
		                    "the audit mirror copies again; the records that waited follow",
		                    "failures", (json_int_t)m->failures, "seq", (json_int_t)first));
	}
}

static void
send_chunk(struct mirror *m)
{
	if (!m->kv || !m->chunk || m->in_flight || m->retry)
		return;
	char key[32], meta[128];
	snprintf(key, sizeof(key), "audit/%016lld", (long long)m->chunk->first_seq);
	snprintf(meta, sizeof(meta), "{\"first\":%lld,\"last\":%lld,\"count\":%u}",
	         (long long)m->chunk->first_seq, (long long)m->chunk->last_seq, m->chunk->count);
	struct kv_put_opts o = {.expiration_ttl = m->ttl_s, .metadata = meta};
	struct ab_err err = {0};
	m->in_flight = true;
	if (kv_put(m->kv, key, m->chunk->data, m->chunk->len, &o, put_done, m, &err) < 0) {
		m->in_flight = false;
		failed(m, err.msg);
	}
}

void
mirror_progress(struct mirror *m)
{
	if (!m)
		return;
	report_dropped(m, !m->failing);
	if (!m->kv)
		return;
	if (!m->chunk)
		m->chunk = auditdb_mirror_take(m->db);
	send_chunk(m);
}

struct mirror *
mirror_new(struct ab_loop *loop, struct auditdb *db, int64_t ttl_s)
{
	struct mirror *m = ab_xmalloc(sizeof(*m));
	*m = (struct mirror){.loop = loop, .db = db, .ttl_s = ttl_s, .backoff_ms = RETRY_FIRST_MS};
	return m;
}

void
mirror_set_kv(struct mirror *m, struct kv *kv)
{
	if (!m)
		return;
	m->kv = kv;
	if (!kv) {
		ab_loop_timer_cancel(m->loop, m->retry);
		m->retry = NULL;
		/* kv_put copied it; a late callback finds no chunk and does nothing */
		auditdb_chunk_free(TAKE_PTR(m->chunk));
		return;
	}
	mirror_progress(m);
}

json_t *
mirror_status(struct mirror *m)
{
	if (!m)
		return json_pack("{ss}", "state", "off");
	struct auditdb_stats st;
	auditdb_stats(m->db, &st);
	return json_pack("{sssIsIsIsIsIss}", "state",
	                 !m->kv       ? "off"
	                 : m->failing ? "failing"
	                              : "ok",
	                 "mirrored_seq", (json_int_t)st.mirrored_seq, "lag",
	                 (json_int_t)(AB_MAX(st.last_seq - st.mirror_next, 0) +
	                              (st.mirror_pending ? st.mirror_out : 0)),
	                 "chunks", (json_int_t)st.mirror_chunks, "dropped",
	                 (json_int_t)st.mirror_dropped, "failures", (json_int_t)m->failures,
	                 "error", m->failing ? m->error : "");
}

void
mirror_free(struct mirror *m)
{
	if (!m)
		return;
	ab_loop_timer_cancel(m->loop, m->retry);
	auditdb_chunk_free(m->chunk);
	free(m);
}
