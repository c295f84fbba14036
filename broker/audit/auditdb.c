/* SPDX-License-Identifier: GPL-2.0-or-later */
/* auditdb: the indexed, tamper-evident audit store (see auditdb.h). */
#include "auditdb.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX    4096
#define RETRY_MAX_MS 30000
#define SIG_MAX      128

static const char *const outcome_names[] = {"grant", "deny", "info", "failure"};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS events ("
    " seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, user TEXT, role TEXT, source TEXT,"
    " event TEXT NOT NULL, outcome INTEGER NOT NULL, detail TEXT NOT NULL, prev BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms);"
    "CREATE INDEX IF NOT EXISTS events_user_ts ON events(user, ts_ms);"
    "CREATE INDEX IF NOT EXISTS events_event_ts ON events(event, ts_ms);"
    "CREATE INDEX IF NOT EXISTS events_source_ts ON events(source, ts_ms);"
    /* the compliance report's denials (auditreport.c) */
    "CREATE INDEX IF NOT EXISTS events_outcome_ts ON events(outcome, ts_ms);"
    /* signed statements: 'head' (the newest record), 'pruned' (the last one removed) */
    "CREATE TABLE IF NOT EXISTS seals ("
    " kind TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL, ts_ms INTEGER NOT NULL,"
    " sig BLOB NOT NULL);"
    /* one per UTC day: the newest record when the day's first batch was committed */
    "CREATE TABLE IF NOT EXISTS anchors ("
    " day INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL,"
    " ts_ms INTEGER NOT NULL, sig BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);"
    "INSERT OR IGNORE INTO info VALUES ('format', 'argobox-audit 1');";

struct qitem {
	struct qitem *next;
	int64_t ts_ms;
	int outcome;
	char *user, *role, *source, *event, *detail; /* inside this allocation */
};

struct auditdb {
	struct auditdb_params p;
	char *path;
	sqlite3 *w; /* the writer's connection (used by the writer thread only, once started) */
	sqlite3_stmt *ins, *head, *anchor;
	EVP_PKEY *key;
	int efd;
	pthread_t thread;
	bool thread_started;
	/* chain state: writer thread only */
	int64_t next_seq;
	unsigned char prev[AUDITDB_HASH_LEN];
	int64_t anchor_day;
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* the writer waits for work */
	pthread_cond_t done_cv; /* flushers wait for progress */
	struct qitem *q_head, **q_tail;
	unsigned q_len;
	unsigned in_flight; /* taken by the writer, not yet committed */
	bool stop;
	struct auditdb_stats st;
	/* the mirror: under mu */
	struct auditdb_chunk *m_ready; /* prepared, not yet taken */
	bool m_out;                    /* taken, not yet done */
	bool m_wake;                   /* done: the writer may prepare the next one */
	int64_t m_next;                /* the next chunk starts after this record */
	int64_t m_out_first;           /* the first record of the chunk ready or out */
	unsigned m_out_count;
	/* the mirror: writer thread only */
	int64_t m_last_chunk; /* mono ms */
	int64_t m_persisted;  /* the position as stored in info */
};

/* ---- small helpers ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
auditdb_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
auditdb_time_text(int64_t ts_ms, char *buf, size_t size)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	char base[32];
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%.30s.%03dZ", base, (int)(ts_ms % 1000));
}

void
auditdb_buf_add(struct auditdb_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = AB_MAX(b->cap * 2, b->len + n + 1 + 256);
		b->data = ab_xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
auditdb_buf_addf(struct auditdb_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n > 0)
		auditdb_buf_add(b, s, (size_t)n);
}

/* ---- hashing ---- */

static void
put_be(struct auditdb_buf *b, uint64_t v, int bytes)
{
	unsigned char x[8];
	for (int i = 0; i < bytes; i++)
		x[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	auditdb_buf_add(b, x, (size_t)bytes);
}

static void
put_field(struct auditdb_buf *b, const char *s)
{
	if (!s) {
		put_be(b, 0xffffffffu, 4);
		return;
	}
	size_t n = strlen(s);
	put_be(b, n, 4);
	auditdb_buf_add(b, s, n);
}

void
auditdb_record_hash(const struct auditdb_record *r, unsigned char out[AUDITDB_HASH_LEN])
{
	unsigned char stackbuf[1024];
	struct auditdb_buf b = {0};
	auditdb_buf_add(&b, r->prev, AUDITDB_HASH_LEN);
	put_be(&b, (uint64_t)r->seq, 8);
	put_be(&b, (uint64_t)r->ts_ms, 8);
	put_be(&b, (uint32_t)r->outcome, 4);
	put_field(&b, r->user);
	put_field(&b, r->role);
	put_field(&b, r->source);
	put_field(&b, r->event);
	put_field(&b, r->detail);
	(void)stackbuf;
	SHA256((const unsigned char *)b.data, b.len, out);
	free(b.data);
}

/* ---- signatures ---- */

static size_t
seal_message(char *buf, size_t size, const char *kind, int64_t seq,
             const unsigned char hash[AUDITDB_HASH_LEN], int64_t ts_ms)
{
	char hex[2 * AUDITDB_HASH_LEN + 1];
	auditdb_hex(hash, AUDITDB_HASH_LEN, hex);
	int n = snprintf(buf, size, "argobox-audit-v1|%s|%lld|%s|%lld", kind, (long long)seq, hex,
	                 (long long)ts_ms);
	return n < 0 ? 0 : AB_MIN((size_t)n, size - 1);
}

static int
sign(EVP_PKEY *key, const char *msg, size_t len, unsigned char *sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	         EVP_DigestSign(ctx, sig, sig_len, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static bool
sig_ok(EVP_PKEY *key, const char *msg, size_t len, const void *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
	          EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, bool private, struct ab_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ab_err_errno(err, errno, "creating '%s'", path);
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return ab_err_errno(err, errno, "creating '%s'", path);
	}
	int ok = private ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	                 : PEM_write_PUBKEY(f, key);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return ab_err_set(err, EIO, "writing '%s' failed", path);
	}
	return 0;
}

/* Loads the signing key, creating it (0600, and <key>.pub 0644) when missing. */
static int
load_key(const char *path, EVP_PKEY **ret, struct ab_err *err)
{
	FILE *f = fopen(path, "re");
	if (f) {
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
			fclose(f);
			return ab_err_set(err, EPERM,
			                  "audit signing key '%s' is readable by others (mode %o): "
			                  "chmod 600 it",
			                  path, (unsigned)(st.st_mode & 0777));
		}
		EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
			EVP_PKEY_free(k);
			return ab_err_set(err, EINVAL, "'%s' is not an Ed25519 private key (PEM)",
			                  path);
		}
		*ret = k;
		return 0;
	}
	if (errno != ENOENT)
		return ab_err_errno(err, errno, "opening the audit signing key '%s'", path);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k)
		return ab_err_set(err, EIO, "generating an Ed25519 key failed");
	int r = write_pem(path, 0600, k, true, err);
	if (r >= 0) {
		_cleanup_free_ char *pub = ab_xasprintf("%s.pub", path);
		unlink(pub);
		r = write_pem(pub, 0644, k, false, err);
	}
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	ab_info("audit: created the signing key %s (public half %s.pub)", path, path);
	*ret = k;
	return 0;
}

/* ---- the writer ---- */

static int
db_error(struct ab_err *err, sqlite3 *h, int rc, const char *what)
{
	int code = rc == SQLITE_FULL                             ? ENOSPC
	           : rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? EBADMSG
	           : rc == SQLITE_READONLY || rc == SQLITE_PERM  ? EROFS
	           : rc == SQLITE_BUSY || rc == SQLITE_LOCKED    ? EBUSY
	           : rc == SQLITE_INTERRUPT                      ? ETIMEDOUT
	                                                         : EIO;
	return ab_err_set(err, code, "%s: %s", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
}

static int
exec(sqlite3 *h, const char *sql, struct ab_err *err)
{
	int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_error(err, h, rc, sql);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int
put_seal(struct auditdb *db, sqlite3_stmt *st, const char *kind, int64_t key, int64_t seq,
         const unsigned char *hash, int64_t ts_ms, struct ab_err *err)
{
	char msg[256];
	unsigned char sig[SIG_MAX];
	size_t sig_len = sizeof(sig);
	size_t n = seal_message(msg, sizeof(msg), kind, seq, hash, ts_ms);
	if (sign(db->key, msg, n, sig, &sig_len) < 0)
		return ab_err_set(err, EIO, "signing the audit %s failed", kind);
	sqlite3_reset(st);
	if (key >= 0)
		sqlite3_bind_int64(st, 1, key);
	else
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_blob(st, 3, hash, AUDITDB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ts_ms);
	sqlite3_bind_blob(st, 5, sig, (int)sig_len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(err, db->w, rc, "writing a seal");
}

/* Inserts the batch in one transaction. On failure nothing changed (chain state restored). */
static int
commit_batch(struct auditdb *db, struct qitem *batch, struct ab_err *err)
{
	int64_t saved_seq = db->next_seq;
	unsigned char saved_prev[AUDITDB_HASH_LEN];
	memcpy(saved_prev, db->prev, sizeof(saved_prev));
	int r = exec(db->w, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	int64_t last_ts = 0;
	for (struct qitem *it = batch; it && r >= 0; it = it->next) {
		struct auditdb_record rec = {
		    .seq = db->next_seq,
		    .ts_ms = it->ts_ms,
		    .user = it->user,
		    .role = it->role,
		    .source = it->source,
		    .event = it->event,
		    .outcome = it->outcome,
		    .detail = it->detail,
		};
		memcpy(rec.prev, db->prev, AUDITDB_HASH_LEN);
		sqlite3_stmt *s = db->ins;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, rec.seq);
		sqlite3_bind_int64(s, 2, rec.ts_ms);
		bind_text(s, 3, rec.user);
		bind_text(s, 4, rec.role);
		bind_text(s, 5, rec.source);
		bind_text(s, 6, rec.event);
		sqlite3_bind_int(s, 7, rec.outcome);
		bind_text(s, 8, rec.detail);
		sqlite3_bind_blob(s, 9, rec.prev, AUDITDB_HASH_LEN, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			r = db_error(err, db->w, rc, "inserting an audit record");
			break;
		}
		auditdb_record_hash(&rec, db->prev);
		db->next_seq++;
		last_ts = rec.ts_ms;
	}
	int64_t last = db->next_seq - 1;
	if (r >= 0 && last >= saved_seq)
		r = put_seal(db, db->head, "head", -1, last, db->prev, last_ts, err);
	int64_t day = last_ts / 86400000;
	if (r >= 0 && last >= saved_seq && day != db->anchor_day) {
		char kind[32];
		snprintf(kind, sizeof(kind), "anchor:%lld", (long long)day);
		r = put_seal(db, db->anchor, kind, day, last, db->prev, last_ts, err);
	}
	if (r >= 0)
		r = exec(db->w, "COMMIT", err);
	if (r < 0) {
		sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
		db->next_seq = saved_seq;
		memcpy(db->prev, saved_prev, sizeof(saved_prev));
		return r;
	}
	if (last >= saved_seq)
		db->anchor_day = day;
	return 0;
}

static void
row_to_record(sqlite3_stmt *s, int col0, struct auditdb_record *r)
{
	r->seq = sqlite3_column_int64(s, col0 + 0);
	r->ts_ms = sqlite3_column_int64(s, col0 + 1);
	r->user = (const char *)sqlite3_column_text(s, col0 + 2);
	r->role = (const char *)sqlite3_column_text(s, col0 + 3);
	r->source = (const char *)sqlite3_column_text(s, col0 + 4);
	r->event = (const char *)sqlite3_column_text(s, col0 + 5);
	r->outcome = sqlite3_column_int(s, col0 + 6);
	r->detail = (const char *)sqlite3_column_text(s, col0 + 7);
	const void *p = sqlite3_column_blob(s, col0 + 8);
	int n = sqlite3_column_bytes(s, col0 + 8);
	memset(r->prev, 0, AUDITDB_HASH_LEN);
	if (p)
		memcpy(r->prev, p, (size_t)AB_MIN(n, AUDITDB_HASH_LEN));
	if (!r->event)
		r->event = "";
	if (!r->detail)
		r->detail = "{}";
}

#define COLS "seq, ts_ms, user, role, source, event, outcome, detail, prev"

/*
 * Removes up to prune_batch expired records from the start of the chain and seals the new
 * start (the hash of the last record removed). Returns how many were removed, or < 0.
 */
static int
prune_step(struct auditdb *db, struct ab_err *err)
{
	if (db->p.retention_ms <= 0)
		return 0;
	int64_t cutoff = real_ms() - db->p.retention_ms;
	int r = exec(db->w, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db->w, "SELECT " COLS " FROM events ORDER BY seq LIMIT ?", -1,
	                            &s, NULL);
	int64_t last_seq = -1, last_ts = 0;
	unsigned char last_hash[AUDITDB_HASH_LEN];
	int n = 0;
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(s, 1, (int)db->p.prune_batch);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct auditdb_record rec;
			row_to_record(s, 0, &rec);
			if (rec.ts_ms >= cutoff)
				break;
			last_seq = rec.seq;
			last_ts = rec.ts_ms;
			n++;
			/* the hash of every removed row is needed only for the last one */
			auditdb_record_hash(&rec, last_hash);
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		r = db_error(err, db->w, rc, "reading expired audit records");
	if (r >= 0 && n > 0) {
		sqlite3_stmt *d = NULL;
		rc = sqlite3_prepare_v2(db->w, "DELETE FROM events WHERE seq <= ?", -1, &d, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(d, 1, last_seq);
			rc = sqlite3_step(d);
		}
		sqlite3_finalize(d);
		if (rc != SQLITE_DONE)
			r = db_error(err, db->w, rc, "pruning audit records");
		sqlite3_stmt *ps = NULL;
		if (r >= 0 &&
		    sqlite3_prepare_v2(db->w, "INSERT OR REPLACE INTO seals VALUES (?, ?, ?, ?, ?)",
		                       -1, &ps, NULL) != SQLITE_OK)
			r = db_error(err, db->w, SQLITE_ERROR, "preparing the prune seal");
		if (r >= 0)
			r = put_seal(db, ps, "pruned", -1, last_seq, last_hash, last_ts, err);
		sqlite3_finalize(ps);
	}
	if (r >= 0)
		r = exec(db->w, "COMMIT", err);
	if (r < 0) {
		sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return n;
}

static void
signal_progress(struct auditdb *db)
{
	uint64_t one = 1;
	ssize_t w = write(db->efd, &one, sizeof(one));
	(void)w;
	pthread_cond_broadcast(&db->done_cv);
}

static void
free_items(struct qitem *it)
{
	while (it) {
		struct qitem *n = it->next;
		free(it);
		it = n;
	}
}

/* ---- the mirror (writer thread side) ---- */

void
auditdb_chunk_free(struct auditdb_chunk *c)
{
	if (!c)
		return;
	free(c->data);
	free(c);
}

static void
mirror_persist(struct auditdb *db, int64_t pos)
{
	if (pos == db->m_persisted)
		return;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db->w, "INSERT OR REPLACE INTO info VALUES ('mirrored', ?)", -1, &s,
	                       NULL) == SQLITE_OK) {
		char v[24];
		snprintf(v, sizeof(v), "%lld", (long long)pos);
		sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_DONE) /* a full disk: again next time */
			db->m_persisted = pos;
	}
	sqlite3_finalize(s);
}

/* The records after `from`, up to the chunk's bounds, as NDJSON with their prev hash. */
static struct auditdb_chunk *
mirror_read(struct auditdb *db, int64_t from, uint64_t *gap)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db->w,
	                       "SELECT " COLS " FROM events WHERE seq > ? ORDER BY seq LIMIT ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, db->p.mirror_chunk);
	struct auditdb_chunk *c = ab_xcalloc(1, sizeof(*c));
	struct auditdb_buf b = {0};
	while (b.len < db->p.mirror_chunk_bytes && sqlite3_step(s) == SQLITE_ROW) {
		struct auditdb_record rec;
		row_to_record(s, 0, &rec);
		if (!c->count) {
			c->first_seq = rec.seq;
			*gap =
			    (uint64_t)(rec.seq - from - 1); /* removed before they were mirrored */
		}
		c->last_seq = rec.seq;
		c->count++;
		_cleanup_free_ char *js = auditdb_record_json(&rec);
		char hex[2 * AUDITDB_HASH_LEN + 1];
		auditdb_hex(rec.prev, AUDITDB_HASH_LEN, hex);
		size_t n = js ? strlen(js) : 0;
		if (n < 2)
			continue;
		auditdb_buf_add(&b, js, n - 1); /* without its closing brace */
		auditdb_buf_addf(&b, ",\"prev\":\"%s\"}\n", hex);
	}
	sqlite3_finalize(s);
	c->data = b.data;
	c->len = b.len;
	if (!c->count) {
		auditdb_chunk_free(c);
		return NULL;
	}
	return c;
}

/* Under mu: what the stats say is mirrored (or skipped) for sure. */
static void
mirror_position(struct auditdb *db)
{
	bool busy = db->m_ready || db->m_out;
	db->st.mirrored_seq = busy ? db->m_out_first - 1 : db->m_next;
	db->st.mirror_pending = busy;
	db->st.mirror_next = db->m_next;
	db->st.mirror_out = db->m_out_count;
}

/*
 * Prepares the next chunk when none is out and records wait: a full one at once, a smaller
 * one after mirror_interval_ms. Whether one is out or not, records beyond mirror_max_lag
 * (counted from where the next chunk starts) are skipped and counted, so an outage shows
 * its losses while it lasts.
 */
static void
mirror_step(struct auditdb *db, int64_t now)
{
	if (!db->p.mirror_chunk)
		return;
	int64_t last = db->next_seq - 1;
	pthread_mutex_lock(&db->mu);
	bool busy = db->m_ready || db->m_out;
	uint64_t skipped = 0;
	if (db->p.mirror_max_lag && last > db->m_next &&
	    (uint64_t)(last - db->m_next) > db->p.mirror_max_lag) {
		skipped = (uint64_t)(last - db->m_next) - db->p.mirror_max_lag;
		db->m_next += (int64_t)skipped;
		db->st.mirror_dropped += skipped;
		mirror_position(db);
	}
	int64_t from = db->m_next;
	pthread_mutex_unlock(&db->mu);
	if (skipped) {
		ab_warn("audit mirror: %llu records skipped: the mirror was behind by more than "
		        "%llu",
		        (unsigned long long)skipped, (unsigned long long)db->p.mirror_max_lag);
		signal_progress(db);
	}
	if (busy)
		return;
	mirror_persist(db, from);
	if (last <= from)
		return;
	if ((uint64_t)(last - from) < db->p.mirror_chunk &&
	    now - db->m_last_chunk < db->p.mirror_interval_ms)
		return;
	uint64_t gap = 0;
	struct auditdb_chunk *c = mirror_read(db, from, &gap);
	db->m_last_chunk = now;
	if (gap)
		ab_warn("audit mirror: %llu records were removed by retention before they were "
		        "mirrored",
		        (unsigned long long)gap);
	pthread_mutex_lock(&db->mu);
	db->st.mirror_dropped += gap;
	if (c) {
		db->m_out_first = c->first_seq;
		db->m_out_count = c->count;
		db->m_next = c->last_seq;
	}
	db->m_ready = c;
	mirror_position(db);
	pthread_mutex_unlock(&db->mu);
	if (c || gap)
		signal_progress(db);
}

struct auditdb_chunk *
auditdb_mirror_take(struct auditdb *db)
{
	pthread_mutex_lock(&db->mu);
	struct auditdb_chunk *c = db->m_ready;
	db->m_ready = NULL;
	if (c)
		db->m_out = true;
	pthread_mutex_unlock(&db->mu);
	return c;
}

void
auditdb_mirror_done(struct auditdb *db, struct auditdb_chunk *c)
{
	pthread_mutex_lock(&db->mu);
	db->m_out = false;
	db->st.mirror_chunks++;
	mirror_position(db);
	db->m_wake = true;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
	auditdb_chunk_free(c);
}

static void *
writer_main(void *arg)
{
	struct auditdb *db = arg;
	struct qitem *batch = NULL;
	unsigned nbatch = 0;
	int64_t retry_at = 0, backoff = db->p.retry_ms, next_prune = mono_ms() + 1000;
	pthread_mutex_lock(&db->mu);
	for (;;) {
		int64_t now = mono_ms();
		while (!db->stop && !(nbatch == 0 && db->q_head) && !(nbatch && now >= retry_at) &&
		       now < next_prune && !db->m_wake) {
			int64_t until = next_prune;
			if (nbatch)
				until = AB_MIN(until, retry_at);
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = AB_MAX(until - now, 1);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&db->cv, &db->mu, &ts);
			now = mono_ms();
		}
		bool stopping = db->stop;
		db->m_wake = false;
		if (nbatch == 0 && db->q_head) {
			struct qitem **tail = &batch;
			while (db->q_head && nbatch < BATCH_MAX) {
				struct qitem *it = db->q_head;
				db->q_head = it->next;
				it->next = NULL;
				*tail = it;
				tail = &it->next;
				nbatch++;
				db->q_len--;
			}
			if (!db->q_head)
				db->q_tail = &db->q_head;
			db->in_flight = nbatch;
			retry_at = now;
		}
		pthread_mutex_unlock(&db->mu);

		struct ab_err err = {0};
		bool committed = false, failed = false;
		int64_t took = 0;
		if (nbatch && (now >= retry_at || stopping)) {
			int64_t t0 = mono_ms();
			if (commit_batch(db, batch, &err) < 0) {
				failed = true;
				retry_at = mono_ms() + backoff;
				backoff = AB_MIN(backoff * 2, RETRY_MAX_MS);
			} else {
				committed = true;
				took = mono_ms() - t0;
			}
		}
		if (!stopping)
			mirror_step(db, mono_ms());
		int pruned = 0;
		if (!failed && now >= next_prune) {
			struct ab_err perr = {0};
			pruned = prune_step(db, &perr);
			if (pruned < 0) {
				ab_warn("audit store: %s", perr.msg);
				pruned = 0;
				next_prune = now + 5000;
			} else {
				/* continuously, in small steps, while there is a backlog */
				next_prune = now + (pruned >= (int)db->p.prune_batch ? 20 : 1000);
			}
		}

		pthread_mutex_lock(&db->mu);
		if (committed) {
			db->st.stored += nbatch;
			db->st.batches++;
			db->st.last_seq = db->next_seq - 1;
			db->st.max_batch_ms = AB_MAX(db->st.max_batch_ms, took);
			if (db->st.failing)
				ab_info("audit store: writing again");
			db->st.failing = false;
			db->st.error[0] = '\0';
			free_items(batch);
			batch = NULL;
			nbatch = 0;
			db->in_flight = 0;
			backoff = db->p.retry_ms;
		}
		if (failed) {
			if (!db->st.failing)
				ab_warn("audit store: %s (keeping %u events in memory, retrying)",
				        err.msg, nbatch + db->q_len);
			db->st.failures++;
			db->st.failing = true;
			snprintf(db->st.error, sizeof(db->st.error), "%.250s", err.msg);
		}
		db->st.pruned += (uint64_t)pruned;
		db->st.queued = db->q_len + nbatch;
		if (committed || failed || pruned)
			signal_progress(db);
		if (stopping && (nbatch == 0 ? !db->q_head : failed)) {
			if (failed) {
				uint64_t lost = nbatch + db->q_len;
				ab_error("audit store: %llu events could not be stored at shutdown "
				         "(they are in the JSON-lines log)",
				         (unsigned long long)lost);
				db->st.dropped += lost;
				free_items(db->q_head);
				db->q_head = NULL;
				db->q_tail = &db->q_head;
				db->q_len = 0;
				free_items(batch);
				db->in_flight = 0;
				signal_progress(db);
			}
			break;
		}
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* ---- open, submit, close ---- */

static int
mkdir_parent(const char *path, struct ab_err *err)
{
	_cleanup_free_ char *copy = ab_xstrdup(path);
	char *dir = dirname(copy);
	return ab_mkdir_p(dir, 0700, err);
}

static int
load_state(struct auditdb *db, struct ab_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db->w, "SELECT " COLS " FROM events ORDER BY seq DESC LIMIT 1",
	                            -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_error(err, db->w, rc, "reading the audit store");
	rc = sqlite3_step(s);
	memset(db->prev, 0, sizeof(db->prev));
	db->next_seq = 1;
	if (rc == SQLITE_ROW) {
		struct auditdb_record rec;
		row_to_record(s, 0, &rec);
		auditdb_record_hash(&rec, db->prev);
		db->next_seq = rec.seq + 1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(err, db->w, rc, "reading the audit store");
	bool empty = rc == SQLITE_DONE;
	/* An empty table continues after the prune seal (everything expired). */
	rc = sqlite3_prepare_v2(db->w, "SELECT kind, seq, hash FROM seals", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_error(err, db->w, rc, "reading the audit seals");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		int64_t seq = sqlite3_column_int64(s, 1);
		const void *h = sqlite3_column_blob(s, 2);
		if (!kind || !h || sqlite3_column_bytes(s, 2) != AUDITDB_HASH_LEN)
			continue;
		if (strcmp(kind, "head") == 0 && seq != db->next_seq - 1) {
			ab_warn("audit store: the signed head names record %lld but the newest is "
			        "%lld: run 'argoboxctl audit verify'",
			        (long long)seq, (long long)(db->next_seq - 1));
			if (seq >= db->next_seq) /* never reuse a sequence number */
				db->next_seq = seq + 1;
		}
		if (strcmp(kind, "pruned") == 0 && empty && seq >= db->next_seq) {
			memcpy(db->prev, h, AUDITDB_HASH_LEN);
			db->next_seq = seq + 1;
		}
	}
	sqlite3_finalize(s);
	rc = sqlite3_prepare_v2(db->w, "SELECT value FROM info WHERE key = 'mirrored'", -1, &s,
	                        NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		db->m_next = strtoll((const char *)sqlite3_column_text(s, 0), NULL, 10);
	sqlite3_finalize(s);
	db->m_persisted = db->m_next;
	db->st.mirrored_seq = db->m_next;
	db->st.mirror_next = db->m_next;
	rc = sqlite3_prepare_v2(db->w, "SELECT max(day) FROM anchors", -1, &s, NULL);
	db->anchor_day = -1;
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		db->anchor_day = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

int
auditdb_open(const struct auditdb_params *p, struct auditdb **ret, struct ab_err *err)
{
	if (mkdir_parent(p->path, err) < 0)
		return ab_err_wrap(err, "audit store");
	struct auditdb *db = ab_xcalloc(1, sizeof(*db));
	db->p = *p;
	if (!db->p.queue_max)
		db->p.queue_max = 65536;
	if (!db->p.prune_batch)
		db->p.prune_batch = 1000;
	if (db->p.retry_ms <= 0)
		db->p.retry_ms = 500;
	if (db->p.mirror_chunk && !db->p.mirror_chunk_bytes)
		db->p.mirror_chunk_bytes = 256 << 10;
	if (db->p.mirror_chunk && db->p.mirror_interval_ms <= 0)
		db->p.mirror_interval_ms = 1000;
	db->path = ab_xstrdup(p->path);
	db->p.path = db->path;
	db->efd = -1;
	pthread_mutex_init(&db->mu, NULL);
	/* timed waits on CLOCK_MONOTONIC: a wall clock set back an hour must not hold the
	 * writer's retries and pruning, or a flush at shutdown, for that hour */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cv, &ca);
	pthread_cond_init(&db->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	db->q_tail = &db->q_head;
	int r = 0;
	int rc =
	    sqlite3_open_v2(p->path, &db->w,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = db_error(err, db->w, rc, "opening");
		goto fail;
	}
	chmod(p->path, 0600);
	sqlite3_busy_timeout(db->w, 5000);
	sqlite3_stmt *s = NULL;
	rc = sqlite3_prepare_v2(db->w, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
	bool wal = mode && strcmp(mode, "wal") == 0;
	sqlite3_finalize(s);
	if (!wal) {
		r = db_error(err, db->w, rc == SQLITE_ROW ? SQLITE_ERROR : rc, "WAL mode");
		goto fail;
	}
	if ((r = exec(db->w, "PRAGMA synchronous=NORMAL", err)) < 0 ||
	    (r = exec(db->w, schema, err)) < 0)
		goto fail;
	if (p->max_db_bytes > 0) {
		_cleanup_free_ char *sql = NULL;
		int page = 4096;
		rc = sqlite3_prepare_v2(db->w, "PRAGMA page_size", -1, &s, NULL);
		if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
			page = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		sql = ab_xasprintf("PRAGMA max_page_count=%lld",
		                   (long long)AB_MAX(p->max_db_bytes / AB_MAX(page, 512), 16));
		if ((r = exec(db->w, sql, err)) < 0)
			goto fail;
	}
	if ((r = load_state(db, err)) < 0)
		goto fail;
	if (sqlite3_prepare_v2(db->w, "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1,
	                       &db->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->w, "INSERT OR REPLACE INTO seals VALUES (?, ?, ?, ?, ?)", -1,
	                       &db->head, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->w, "INSERT OR REPLACE INTO anchors VALUES (?, ?, ?, ?, ?)", -1,
	                       &db->anchor, NULL) != SQLITE_OK) {
		r = db_error(err, db->w, SQLITE_ERROR, "preparing statements");
		goto fail;
	}
	if ((r = load_key(p->key_path, &db->key, err)) < 0)
		goto fail_plain;
	db->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (db->efd < 0) {
		r = ab_err_errno(err, errno, "eventfd");
		goto fail_plain;
	}
	db->st.last_seq = db->next_seq - 1;
	if (pthread_create(&db->thread, NULL, writer_main, db) != 0) {
		r = ab_err_set(err, EAGAIN, "cannot start the audit writer thread");
		goto fail_plain;
	}
	db->thread_started = true;
	*ret = db;
	return 0;
fail:
	if (r == -EBADMSG || r == -EIO)
		ab_err_set(err, EBADMSG,
		           "'%s' is not a usable audit database (%s): the broker goes on without "
		           "the store; move the file aside to start a new one (the JSON-lines log "
		           "is complete)",
		           p->path, err->msg);
	else
		ab_err_wrap(err, "audit store '%s'", p->path);
fail_plain:
	auditdb_close(db);
	return r == -EIO ? -EBADMSG : r;
}

static size_t
utf8_cut(const char *s, size_t n)
{
	/* back to the start of a character */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

bool
auditdb_submit(struct auditdb *db, int64_t ts_ms, const char *user, const char *role,
               const char *source, const char *event, int outcome, const char *detail)
{
	_cleanup_free_ char *small = NULL;
	size_t dl = detail ? strlen(detail) : 2;
	if (!detail)
		detail = "{}";
	if (db->p.max_detail_bytes && dl > db->p.max_detail_bytes) {
		size_t keep = utf8_cut(detail, AB_MIN(dl, (size_t)256));
		_cleanup_free_ char *head = ab_xstrndup(detail, keep);
		json_t *o =
		    json_pack("{sbsIss}", "truncated", 1, "bytes", (json_int_t)dl, "head", head);
		small = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		detail = small ? small : "{\"truncated\":true}";
		dl = strlen(detail);
	}
	size_t lens[5] = {user ? strlen(user) + 1 : 0, role ? strlen(role) + 1 : 0,
	                  source ? strlen(source) + 1 : 0, strlen(event) + 1, dl + 1};
	struct qitem *it =
	    ab_xmalloc(sizeof(*it) + lens[0] + lens[1] + lens[2] + lens[3] + lens[4]);
	char *p = (char *)(it + 1);
	const char *src[5] = {user, role, source, event, detail};
	char **dst[5] = {&it->user, &it->role, &it->source, &it->event, &it->detail};
	for (int i = 0; i < 5; i++) {
		*dst[i] = NULL;
		if (lens[i]) {
			memcpy(p, src[i], lens[i]);
			*dst[i] = p;
			p += lens[i];
		}
	}
	it->next = NULL;
	it->ts_ms = ts_ms;
	it->outcome = outcome;
	pthread_mutex_lock(&db->mu);
	bool ok = db->q_len < db->p.queue_max && !db->stop;
	if (ok) {
		*db->q_tail = it;
		db->q_tail = &it->next;
		db->q_len++;
		db->st.submitted++;
		db->st.queued = db->q_len + db->in_flight;
		pthread_cond_signal(&db->cv);
	} else {
		db->st.dropped++;
	}
	pthread_mutex_unlock(&db->mu);
	if (!ok)
		free(it);
	return ok;
}

int
auditdb_eventfd(struct auditdb *db)
{
	return db->efd;
}

void
auditdb_stats(struct auditdb *db, struct auditdb_stats *st)
{
	uint64_t v;
	ssize_t n = read(db->efd, &v, sizeof(v));
	(void)n;
	pthread_mutex_lock(&db->mu);
	*st = db->st;
	pthread_mutex_unlock(&db->mu);
}

int
auditdb_flush(struct auditdb *db, int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* the condition variables' clock */
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	int r = 0;
	pthread_mutex_lock(&db->mu);
	uint64_t target = db->st.submitted;
	while (db->st.stored < target && r == 0) {
		if (db->st.failing) {
			r = -EIO;
			break;
		}
		if (pthread_cond_timedwait(&db->done_cv, &db->mu, &ts) == ETIMEDOUT)
			r = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&db->mu);
	return r;
}

const char *
auditdb_path(const struct auditdb *db)
{
	return db->path;
}

void
auditdb_close(struct auditdb *db)
{
	if (!db)
		return;
	if (db->thread_started) {
		auditdb_flush(db, 5000);
		pthread_mutex_lock(&db->mu);
		db->stop = true;
		pthread_cond_signal(&db->cv);
		pthread_mutex_unlock(&db->mu);
		pthread_join(db->thread, NULL);
	}
	free_items(db->q_head);
	auditdb_chunk_free(db->m_ready);
	sqlite3_finalize(db->ins);
	sqlite3_finalize(db->head);
	sqlite3_finalize(db->anchor);
	if (db->w)
		sqlite3_close_v2(db->w);
	EVP_PKEY_free(db->key);
	if (db->efd >= 0)
		close(db->efd);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	pthread_cond_destroy(&db->done_cv);
	free(db->path);
	free(db);
}

/* ---- queries ---- */

struct auditdb_reader {
	sqlite3 *h;
	int budget_ms;
	int64_t deadline;
};

struct auditdb_cursor {
	struct auditdb_reader *r;
	sqlite3_stmt *s;
	bool done;
};

static int
progress(void *data)
{
	struct auditdb_reader *r = data;
	return r->deadline && mono_ms() > r->deadline;
}

int
auditdb_reader_open(const char *path, int budget_ms, struct auditdb_reader **ret,
                    struct ab_err *err)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "SELECT 1 FROM events LIMIT 1", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = db_error(err, h, rc, "opening the audit store for reading");
		sqlite3_close_v2(h);
		return r;
	}
	sqlite3_busy_timeout(h, 200);
	struct auditdb_reader *r = ab_xcalloc(1, sizeof(*r));
	r->h = h;
	r->budget_ms = budget_ms > 0 ? budget_ms : 1000;
	sqlite3_progress_handler(h, 1000, progress, r);
	*ret = r;
	return 0;
}

struct sqlite3 *
auditdb_reader_sqlite(struct auditdb_reader *r)
{
	return r->h;
}

void
auditdb_reader_deadline(struct auditdb_reader *r, int64_t budget_ms)
{
	r->deadline = budget_ms > 0 ? mono_ms() + budget_ms : 0;
}

int
auditdb_reader_budget_ms(const struct auditdb_reader *r)
{
	return r->budget_ms;
}

void
auditdb_reader_close(struct auditdb_reader *r)
{
	if (!r)
		return;
	sqlite3_close_v2(r->h);
	free(r);
}

void
auditdb_bind(struct sqlite3_stmt *s, const struct auditdb_bind *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int at = sqlite3_bind_parameter_index(s, b[i].name);
		if (at <= 0)
			continue; /* the statement does not use it */
		if (b[i].is_text)
			sqlite3_bind_text(s, at, b[i].text, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(s, at, b[i].num);
	}
}

int
auditdb_query(struct auditdb_reader *r, const struct auditdb_query *q, struct auditdb_cursor **ret,
              struct ab_err *err)
{
	struct auditdb_buf sql = {0};
	auditdb_buf_addf(&sql, "SELECT " COLS " FROM events WHERE 1");
	if (q->from_ms)
		auditdb_buf_addf(&sql, " AND ts_ms >= :from");
	if (q->to_ms)
		auditdb_buf_addf(&sql, " AND ts_ms < :to");
	if (q->user)
		auditdb_buf_addf(&sql, " AND user = :user");
	if (q->role)
		auditdb_buf_addf(&sql, " AND role = :role");
	if (q->source)
		auditdb_buf_addf(&sql, " AND source = :source");
	_cleanup_free_ char *upper = NULL;
	if (q->event_prefix && q->event_prefix[0]) {
		size_t n = strlen(q->event_prefix);
		upper = ab_xstrdup(q->event_prefix);
		if ((unsigned char)upper[n - 1] < 0x7f) {
			upper[n - 1]++;
			auditdb_buf_addf(&sql, " AND event >= :ev AND event < :evup");
		} else {
			auditdb_buf_addf(&sql, " AND substr(event, 1, length(:ev)) = :ev");
		}
	}
	if (q->outcome >= 0)
		auditdb_buf_addf(&sql, " AND outcome = :outcome");
	_cleanup_free_ char *like = NULL;
	if (q->text && q->text[0]) {
		struct auditdb_buf l = {0};
		auditdb_buf_add(&l, "%", 1);
		for (const char *c = q->text; *c; c++) {
			if (*c == '%' || *c == '_' || *c == '\\')
				auditdb_buf_add(&l, "\\", 1);
			auditdb_buf_add(&l, c, 1);
		}
		auditdb_buf_add(&l, "%", 1);
		like = l.data;
		auditdb_buf_addf(&sql, " AND detail LIKE :like ESCAPE '\\'");
	}
	if (q->after_ts || q->after_seq)
		auditdb_buf_addf(
		    &sql, q->ascending ? " AND ts_ms >= :ats AND (ts_ms > :ats OR seq > :aseq)"
		                       : " AND ts_ms <= :ats AND (ts_ms < :ats OR seq < :aseq)");
	auditdb_buf_addf(&sql,
	                 q->ascending ? " ORDER BY ts_ms, seq" : " ORDER BY ts_ms DESC, seq DESC");
	if (q->limit)
		auditdb_buf_addf(&sql, " LIMIT %u", q->limit);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(r->h, sql.data, -1, &s, NULL);
	free(sql.data);
	if (rc != SQLITE_OK)
		return db_error(err, r->h, rc, "preparing the audit query");
	const struct auditdb_bind binds[] = {
	    {.name = ":from", .num = q->from_ms},
	    {.name = ":to", .num = q->to_ms},
	    {.name = ":user", .text = q->user, .is_text = true},
	    {.name = ":role", .text = q->role, .is_text = true},
	    {.name = ":source", .text = q->source, .is_text = true},
	    {.name = ":ev", .text = q->event_prefix, .is_text = true},
	    {.name = ":evup", .text = upper, .is_text = true},
	    {.name = ":outcome", .num = q->outcome},
	    {.name = ":like", .text = like, .is_text = true},
	    {.name = ":ats", .num = q->after_ts},
	    {.name = ":aseq", .num = q->after_seq},
	};
	auditdb_bind(s, binds, AB_ARRAY_SIZE(binds));
	struct auditdb_cursor *c = ab_xcalloc(1, sizeof(*c));
	c->r = r;
	c->s = s;
	*ret = c;
	return 0;
}

int
auditdb_cursor_next(struct auditdb_cursor *c, struct auditdb_record *row, struct ab_err *err)
{
	if (c->done)
		return 0;
	c->r->deadline = mono_ms() + c->r->budget_ms;
	int rc = sqlite3_step(c->s);
	c->r->deadline = 0;
	if (rc == SQLITE_ROW) {
		row_to_record(c->s, 0, row);
		return 1;
	}
	c->done = true;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_INTERRUPT)
		return ab_err_set(err, ETIMEDOUT,
		                  "the query scanned for more than %d ms without finishing: narrow "
		                  "the time range or add a user, event or source filter",
		                  c->r->budget_ms);
	return db_error(err, c->r->h, rc, "audit query");
}

void
auditdb_cursor_free(struct auditdb_cursor *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->s);
	free(c);
}

/* ---- rendering ---- */

static json_t *
jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	return j ? j : json_string("(invalid UTF-8)");
}

char *
auditdb_record_json(const struct auditdb_record *r)
{
	char ts[40];
	auditdb_time_text(r->ts_ms, ts, sizeof(ts));
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_integer(r->seq));
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "user", jstr(r->user));
	json_object_set_new(o, "role", jstr(r->role));
	json_object_set_new(o, "source", jstr(r->source));
	json_object_set_new(o, "event", jstr(r->event));
	json_object_set_new(
	    o, "outcome",
	    json_string(r->outcome >= 0 && r->outcome < 4 ? outcome_names[r->outcome] : "unknown"));
	json_t *d = json_loads(r->detail, JSON_DECODE_ANY, NULL);
	json_object_set_new(o, "detail", d ? d : jstr(r->detail));
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (!n || (s[0] >= 0xf8))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void
auditdb_csv_field(struct auditdb_buf *b, const char *s)
{
	auditdb_buf_add(b, "\"", 1);
	if (!s) {
		auditdb_buf_add(b, "\"", 1);
		return;
	}
	/* A leading character a spreadsheet reads as a formula makes the cell text. */
	if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
	    s[0] == '\r' || s[0] == '\n' || s[0] == '|' || s[0] == '%')
		auditdb_buf_add(b, "'", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			auditdb_buf_add(b, esc, 4);
			p++;
			continue;
		}
		if (*p == '"')
			auditdb_buf_add(b, "\"\"", 2);
		else
			auditdb_buf_add(b, p, n);
		p += n;
	}
	auditdb_buf_add(b, "\"", 1);
}

void
auditdb_csv_header(struct auditdb_buf *b)
{
	auditdb_buf_addf(b, "seq,time,user,role,source,event,outcome,detail\r\n");
}

void
auditdb_csv_row(struct auditdb_buf *b, const struct auditdb_record *r)
{
	char ts[40];
	auditdb_time_text(r->ts_ms, ts, sizeof(ts));
	auditdb_buf_addf(b, "%lld,", (long long)r->seq);
	auditdb_csv_field(b, ts);
	const char *f[] = {r->user, r->role, r->source, r->event};
	for (size_t i = 0; i < AB_ARRAY_SIZE(f); i++) {
		auditdb_buf_add(b, ",", 1);
		auditdb_csv_field(b, f[i]);
	}
	auditdb_buf_add(b, ",", 1);
	auditdb_csv_field(b, r->outcome >= 0 && r->outcome < 4 ? outcome_names[r->outcome]
	                                                       : "unknown");
	auditdb_buf_add(b, ",", 1);
	auditdb_csv_field(b, r->detail);
	auditdb_buf_add(b, "\r\n", 2);
}

/* ---- verification ---- */

struct seal {
	bool present, sig_ok;
	int64_t seq, ts_ms;
	unsigned char hash[AUDITDB_HASH_LEN];
};

static void problem(FILE *f, struct auditdb_verify_result *res, unsigned max, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(FILE *f, struct auditdb_verify_result *res, unsigned max, const char *fmt, ...)
{
	res->problems++;
	if (!f || res->problems > max)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("TAMPERED: ", f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	va_end(ap);
}

static void
read_seal(sqlite3_stmt *s, EVP_PKEY *key, const char *kind, struct seal *out)
{
	*out = (struct seal){.present = true};
	out->seq = sqlite3_column_int64(s, 1);
	const void *h = sqlite3_column_blob(s, 2);
	if (h && sqlite3_column_bytes(s, 2) == AUDITDB_HASH_LEN)
		memcpy(out->hash, h, AUDITDB_HASH_LEN);
	out->ts_ms = sqlite3_column_int64(s, 3);
	char msg[256];
	size_t n = seal_message(msg, sizeof(msg), kind, out->seq, out->hash, out->ts_ms);
	out->sig_ok =
	    sig_ok(key, msg, n, sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4));
}

/* A run of records whose prev does not match the hash of the record before each. */
static void
report_break(FILE *rep, struct auditdb_verify_result *res, unsigned max, int64_t from, int64_t to)
{
	if (from == to)
		problem(
		    rep, res, max,
		    "record %lld does not follow record %lld: one of them was edited, or records "
		    "were reordered or replaced",
		    (long long)from, (long long)(from - 1));
	else
		problem(rep, res, max,
		        "records %lld..%lld do not follow the records before them: edited, "
		        "reordered, replaced or renumbered (from record %lld on)",
		        (long long)from, (long long)to, (long long)(from - 1));
}

struct anchor {
	int64_t day;
	struct seal seal;
};

int
auditdb_verify(const char *path, const char *pub_path, FILE *rep, unsigned max_problems,
               struct auditdb_verify_result *res, struct ab_err *err)
{
	*res = (struct auditdb_verify_result){0};
	if (!max_problems)
		max_problems = 20;
	FILE *kf = fopen(pub_path, "re");
	if (!kf)
		return ab_err_errno(err, errno, "opening the audit public key '%s'", pub_path);
	EVP_PKEY *key = PEM_read_PUBKEY(kf, NULL, NULL, NULL);
	if (!key) {
		rewind(kf);
		key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
	}
	fclose(kf);
	if (!key)
		return ab_err_set(err, EINVAL, "'%s' is not an Ed25519 key (PEM)", pub_path);
	sqlite3 *h = NULL;
	struct anchor *anchors = NULL;
	size_t n_anchors = 0, next_anchor = 0;
	sqlite3_stmt *s = NULL;
	int r = 0;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "SELECT kind, seq, hash, ts_ms, sig FROM seals", -1, &s,
		                        NULL);
	if (rc != SQLITE_OK) {
		r = db_error(err, h, rc, path);
		goto out;
	}
	struct seal head = {0}, pruned = {0};
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		if (kind && strcmp(kind, "head") == 0)
			read_seal(s, key, "head", &head);
		else if (kind && strcmp(kind, "pruned") == 0)
			read_seal(s, key, "pruned", &pruned);
		else
			problem(rep, res, max_problems, "unknown seal '%s'",
			        kind ? kind : "(null)");
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE) {
		r = db_error(err, h, rc, "reading the seals");
		goto out;
	}
	rc = sqlite3_prepare_v2(h, "SELECT day, seq, hash, ts_ms, sig FROM anchors ORDER BY seq",
	                        -1, &s, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(s)) != SQLITE_ROW)
			break;
		anchors = ab_xrealloc(anchors, (n_anchors + 1) * sizeof(*anchors));
		struct anchor *a = &anchors[n_anchors++];
		a->day = sqlite3_column_int64(s, 0);
		char kind[32];
		snprintf(kind, sizeof(kind), "anchor:%lld", (long long)a->day);
		read_seal(s, key, kind, &a->seal);
		if (!a->seal.sig_ok) {
			char d[40];
			auditdb_time_text(a->day * 86400000, d, sizeof(d));
			problem(
			    rep, res, max_problems,
			    "the daily anchor of %.10s (record %lld) has a bad signature (forged "
			    "or edited)",
			    d, (long long)a->seal.seq);
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		r = db_error(err, h, rc, "reading the anchors");
		goto out;
	}
	if (head.present && !head.sig_ok)
		problem(rep, res, max_problems,
		        "the signed head (record %lld) has a bad signature (forged or edited)",
		        (long long)head.seq);
	if (pruned.present && !pruned.sig_ok)
		problem(rep, res, max_problems,
		        "the prune seal (record %lld) has a bad signature (forged or edited)",
		        (long long)pruned.seq);
	unsigned char expect_prev[AUDITDB_HASH_LEN] = {0}, hash[AUDITDB_HASH_LEN];
	int64_t expect_seq = 1, prev_ts = INT64_MIN;
	if (pruned.present) {
		memcpy(expect_prev, pruned.hash, AUDITDB_HASH_LEN);
		expect_seq = pruned.seq + 1;
	}
	rc = sqlite3_prepare_v2(h, "SELECT " COLS " FROM events ORDER BY seq", -1, &s, NULL);
	bool first = true;
	int64_t last_seq = 0, break_from = 0, break_to = 0;
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(s)) != SQLITE_ROW)
			break;
		struct auditdb_record rec;
		row_to_record(s, 0, &rec);
		if (first) {
			res->first_seq = rec.seq;
			if (rec.seq < expect_seq)
				problem(rep, res, max_problems,
				        "record %lld is before the prune point %lld (re-inserted)",
				        (long long)rec.seq, (long long)(expect_seq - 1));
		}
		if (rec.seq > expect_seq)
			problem(rep, res, max_problems, "records %lld..%lld are missing (deleted)",
			        (long long)expect_seq, (long long)(rec.seq - 1));
		else if (memcmp(rec.prev, expect_prev, AUDITDB_HASH_LEN) != 0) {
			if (!break_from)
				break_from = rec.seq;
			break_to = rec.seq;
		}
		if (break_from && break_to != rec.seq) {
			report_break(rep, res, max_problems, break_from, break_to);
			break_from = 0;
		}
		if (!first && rec.ts_ms < prev_ts - 60000)
			problem(rep, res, max_problems,
			        "record %lld is older than record %lld by %lld s (reordered?)",
			        (long long)rec.seq, (long long)(rec.seq - 1),
			        (long long)((prev_ts - rec.ts_ms) / 1000));
		auditdb_record_hash(&rec, hash);
		while (next_anchor < n_anchors && anchors[next_anchor].seal.seq < rec.seq) {
			struct anchor *a = &anchors[next_anchor++];
			if (a->seal.seq >= res->first_seq && !first) {
				char d[40];
				auditdb_time_text(a->day * 86400000, d, sizeof(d));
				problem(
				    rep, res, max_problems,
				    "record %lld of the daily anchor of %.10s is missing (deleted)",
				    (long long)a->seal.seq, d);
			}
		}
		if (next_anchor < n_anchors && anchors[next_anchor].seal.seq == rec.seq) {
			struct anchor *a = &anchors[next_anchor++];
			res->anchors++;
			if (memcmp(a->seal.hash, hash, AUDITDB_HASH_LEN) != 0) {
				char d[40];
				auditdb_time_text(a->day * 86400000, d, sizeof(d));
				problem(
				    rep, res, max_problems,
				    "record %lld does not match the signed daily anchor of %.10s: "
				    "records up to %lld were edited (and the chain rewritten)",
				    (long long)rec.seq, d, (long long)rec.seq);
			}
		}
		memcpy(expect_prev, hash, AUDITDB_HASH_LEN);
		expect_seq = rec.seq + 1;
		prev_ts = AB_MAX(prev_ts, rec.ts_ms);
		last_seq = rec.seq;
		res->records++;
		first = false;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE) {
		r = db_error(err, h, rc, "reading the records");
		goto out;
	}
	if (break_from)
		report_break(rep, res, max_problems, break_from, break_to);
	res->last_seq = last_seq;
	for (; next_anchor < n_anchors; next_anchor++) {
		struct anchor *a = &anchors[next_anchor];
		if (a->seal.seq > last_seq) {
			char d[40];
			auditdb_time_text(a->day * 86400000, d, sizeof(d));
			problem(
			    rep, res, max_problems,
			    "truncated: the daily anchor of %.10s names record %lld, the last is "
			    "%lld",
			    d, (long long)a->seal.seq, (long long)last_seq);
		}
	}
	if (!head.present) {
		if (res->records || pruned.present)
			problem(rep, res, max_problems, "the signed head is missing (deleted)");
	} else if (head.seq > expect_seq - 1) {
		problem(rep, res, max_problems,
		        "truncated: the signed head names record %lld, the last is %lld (records "
		        "%lld..%lld deleted)",
		        (long long)head.seq, (long long)(expect_seq - 1), (long long)expect_seq,
		        (long long)head.seq);
	} else if (head.seq < expect_seq - 1) {
		problem(rep, res, max_problems,
		        "records %lld..%lld come after the signed head (%lld): added by someone "
		        "other than the broker",
		        (long long)(head.seq + 1), (long long)(expect_seq - 1),
		        (long long)head.seq);
	} else if (memcmp(head.hash, expect_prev, AUDITDB_HASH_LEN) != 0) {
		problem(rep, res, max_problems,
		        "record %lld does not match the signed head: it (or the chain before it) "
		        "was edited",
		        (long long)head.seq);
	} else if (head.sig_ok) {
		res->head_ok = true;
	}
	if (rep && res->problems > max_problems)
		fprintf(rep, "TAMPERED: ... and %u more problems\n", res->problems - max_problems);
	r = res->problems ? 1 : 0;
out:
	sqlite3_finalize(s);
	sqlite3_close_v2(h);
	free(anchors);
	EVP_PKEY_free(key);
	return r;
}
