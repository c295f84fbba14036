/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auditdb: the indexed, tamper-evident audit store (docs/audit.md, "The store").
 *
 * One SQLite database in WAL mode. Every event is a row of `events`:
 *
 *   seq (INTEGER PRIMARY KEY, contiguous from 1), ts_ms, user, role, source, event,
 *   outcome (0 grant, 1 deny, 2 info, 3 failure), detail (compact JSON), prev (32 bytes)
 *
 * `prev` is the SHA-256 of the previous record (a chain); a record's own hash is
 *
 *   SHA-256(prev || be64 seq || be64 ts_ms || be32 outcome ||
 *           field user || field role || field source || field event || field detail)
 *
 * where a field is be32 length + bytes, or be32 0xffffffff for NULL. Signed statements
 * (Ed25519, with a key only the broker holds: auditdb_params.key_path, 0600, its public half
 * beside it as <key>.pub) pin the chain: the head (last seq and hash, re-signed with every
 * commit), one anchor per UTC day, and the prune point (the last record retention removed).
 * auditdb_verify() walks the chain and names every record that was edited, deleted,
 * reordered or cut off.
 *
 * Writing never blocks the caller: auditdb_submit() copies the event into a bounded queue;
 * one writer thread inserts what has queued in one transaction per batch, prunes expired
 * records in small batches, and signals progress on an eventfd. When the disk is full or
 * the file unwritable, the batch is kept and retried with backoff; new events queue up to
 * the bound and beyond it are dropped and counted. The JSON-lines file (audit.c) is written
 * before the store sees an event, so it stays complete either way.
 *
 * Reading (auditdb_reader, queries and exports) uses its own read-only connection on the
 * caller's thread: WAL readers never wait for the writer. Each query has a budget
 * (SQLite's progress handler) so a filter that scans too much ends with -ETIMEDOUT instead
 * of stalling the caller.
 */
#ifndef BROKER_AUDITDB_H
#define BROKER_AUDITDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ab_err.h"

#define AUDITDB_HASH_LEN 32

struct auditdb;

struct auditdb_params {
	const char *path;        /* the database file (its directory is created 0700) */
	const char *key_path;    /* Ed25519 private key, PEM; created 0600 when missing */
	int64_t retention_ms;    /* records older than this are pruned; 0: kept forever */
	unsigned queue_max;      /* events waiting for the writer; beyond: dropped, counted */
	unsigned prune_batch;    /* records removed per prune step */
	int64_t max_db_bytes;    /* 0: no cap; reaching it behaves as a full disk */
	size_t max_detail_bytes; /* a larger detail is stored as {"truncated":true,...} */
	int64_t retry_ms;        /* first wait before retrying a failed batch (doubles, max 30 s) */
	/* the mirror (auditdb_mirror_take): off when mirror_chunk is 0 */
	unsigned mirror_chunk;      /* records per chunk at most */
	size_t mirror_chunk_bytes;  /* bytes per chunk at most (one record may exceed it) */
	int64_t mirror_interval_ms; /* a chunk smaller than mirror_chunk waits this long */
	uint64_t mirror_max_lag;    /* records not yet mirrored beyond this are skipped, counted */
};

struct auditdb_record {
	int64_t seq;
	int64_t ts_ms;
	const char *user, *role, *source; /* NULL for null */
	const char *event;
	int outcome;        /* enum audit_outcome */
	const char *detail; /* JSON object text */
	unsigned char prev[AUDITDB_HASH_LEN];
};

struct auditdb_stats {
	uint64_t submitted;   /* accepted into the queue */
	uint64_t stored;      /* committed */
	uint64_t dropped;     /* refused because the queue was full */
	uint64_t pruned;      /* removed by retention */
	uint64_t batches;     /* committed transactions */
	uint64_t failures;    /* failed transactions (retried) */
	int64_t last_seq;     /* the newest committed record */
	unsigned queued;      /* waiting now (including a batch being retried) */
	bool failing;         /* the last attempt failed */
	char error[256];      /* why, while failing */
	int64_t max_batch_ms; /* slowest commit */
	/* the mirror */
	int64_t mirrored_seq;    /* every record up to here was mirrored (or skipped) */
	uint64_t mirror_chunks;  /* chunks acknowledged */
	uint64_t mirror_dropped; /* records never mirrored: skipped (lag) or pruned first */
	bool mirror_pending;     /* a chunk is ready or out */
	int64_t mirror_next;     /* the next chunk starts after this record */
	unsigned mirror_out;     /* records in the chunk ready or out */
};

/*
 * Opens (creating when missing) the store and starts its writer. A file that is not a
 * usable database fails with a clear message (-EBADMSG); the caller keeps serving without it.
 */
int auditdb_open(const struct auditdb_params *p, struct auditdb **ret, struct ab_err *err);

/* Queues one event (copied). Never blocks. false when the queue is full (counted dropped). */
bool auditdb_submit(struct auditdb *db, int64_t ts_ms, const char *user, const char *role,
                    const char *source, const char *event, int outcome, const char *detail);

/* Readable when the writer made progress or failed; auditdb_stats() clears it. */
int auditdb_eventfd(struct auditdb *db);
void auditdb_stats(struct auditdb *db, struct auditdb_stats *st);

/* Waits (at most timeout_ms) until everything submitted so far is committed or failed. */
int auditdb_flush(struct auditdb *db, int timeout_ms);

/* Flushes (at most 5 s), stops the writer, closes. Accepts NULL. */
void auditdb_close(struct auditdb *db);

const char *auditdb_path(const struct auditdb *db);

/*
 * The mirror: the records, in order, in chunks the broker copies elsewhere (the kv store,
 * so the trail survives the loss of this disk). The writer thread prepares each chunk from
 * the database (rendering included) and signals the eventfd; the caller takes it, copies
 * it, and says so with auditdb_mirror_done(), after which the next one is prepared. The
 * position is kept in the database, so a restart or an outage of the copy resumes where it
 * was: the records not yet mirrored wait in the store itself, up to mirror_max_lag of them
 * (beyond, the oldest are skipped and counted, as are records retention removed first).
 *
 * A chunk is NDJSON: one auditdb_record_json() object per record with "prev" (hex) added,
 * so the chain can be checked from the copy alone.
 */
struct auditdb_chunk {
	int64_t first_seq, last_seq;
	unsigned count;
	char *data; /* NDJSON, len bytes */
	size_t len;
};
/* The prepared chunk (owned by the caller until auditdb_mirror_done), or NULL. */
struct auditdb_chunk *auditdb_mirror_take(struct auditdb *db);
/* The chunk was copied: the position moves past it; frees it. */
void auditdb_mirror_done(struct auditdb *db, struct auditdb_chunk *c);
void auditdb_chunk_free(struct auditdb_chunk *c);

/* ---- hashing and signatures (shared with verify) ---- */

void auditdb_record_hash(const struct auditdb_record *r, unsigned char out[AUDITDB_HASH_LEN]);
void auditdb_hex(const unsigned char *in, size_t n, char *out /* 2n + 1 */);

/* ---- queries ---- */

struct auditdb_reader;

/* A read-only connection; `budget_ms` bounds the work of each step of a query. */
int auditdb_reader_open(const char *path, int budget_ms, struct auditdb_reader **ret,
                        struct ab_err *err);
void auditdb_reader_close(struct auditdb_reader *r);

/*
 * For a module computing over the store with SQL of its own (auditreport.c): the reader's
 * connection (read-only), and a deadline for everything run on it until it is cleared
 * (budget_ms 0): a statement that runs past it ends with SQLITE_INTERRUPT.
 */
struct sqlite3 *auditdb_reader_sqlite(struct auditdb_reader *r);
void auditdb_reader_deadline(struct auditdb_reader *r, int64_t budget_ms);
int auditdb_reader_budget_ms(const struct auditdb_reader *r);

/* Binds each named parameter the statement uses (":from", ...); the others are skipped. */
struct auditdb_bind {
	const char *name;
	const char *text; /* with is_text (NULL binds null) */
	bool is_text;
	int64_t num; /* without is_text */
};
struct sqlite3_stmt;
void auditdb_bind(struct sqlite3_stmt *s, const struct auditdb_bind *b, size_t n);

struct auditdb_query {
	int64_t from_ms, to_ms;           /* [from, to); 0, 0: everything */
	const char *user, *role, *source; /* exact; NULL: any */
	const char *event_prefix;         /* "auth." or "auth.login"; NULL: any */
	int outcome;                      /* -1: any */
	const char *text;                 /* substring of detail (case-insensitive ASCII) */
	bool ascending;                   /* oldest first (exports); else newest first */
	int64_t after_ts, after_seq;      /* the cursor: rows strictly past (ts, seq); 0: none */
	unsigned limit;                   /* 0: no limit */
};

struct auditdb_cursor;

/* Prepares a query. -EINVAL for a query it cannot express. */
int auditdb_query(struct auditdb_reader *r, const struct auditdb_query *q,
                  struct auditdb_cursor **ret, struct ab_err *err);

/*
 * The next row (valid until the next call): 1, 0 at the end, -ETIMEDOUT when this step
 * went over the budget (the cursor is then finished), other -errno on errors.
 */
int auditdb_cursor_next(struct auditdb_cursor *c, struct auditdb_record *row, struct ab_err *err);
void auditdb_cursor_free(struct auditdb_cursor *c);

/* ---- rendering (exports, reports) ---- */

/* The record as one compact JSON object, in the JSON-lines format plus "seq". */
char *auditdb_record_json(const struct auditdb_record *r);

/*
 * Appends one CSV field to `out` (a growing buffer): quoted per RFC 4180, control characters
 * shown as \xNN, and a cell that a spreadsheet would read as a formula (= + - @ TAB CR at
 * its start) prefixed with a single quote.
 */
struct auditdb_buf {
	char *data;
	size_t len, cap;
};
void auditdb_buf_add(struct auditdb_buf *b, const void *p, size_t n);
void auditdb_buf_addf(struct auditdb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void auditdb_csv_field(struct auditdb_buf *b, const char *s);
void auditdb_csv_header(struct auditdb_buf *b);
void auditdb_csv_row(struct auditdb_buf *b, const struct auditdb_record *r);
/* The time as RFC 3339 with milliseconds. */
void auditdb_time_text(int64_t ts_ms, char *buf, size_t size);

/* ---- verification ---- */

struct auditdb_verify_result {
	uint64_t records; /* records checked */
	int64_t first_seq, last_seq;
	unsigned anchors;  /* signed anchors checked */
	unsigned problems; /* everything found (at most max_problems are reported) */
	bool head_ok;      /* the signed head matches the last record */
};

/*
 * Verifies the database at `path` with the public key at `pub_path` (PEM; a private key
 * works too). Every problem is reported as one line to `report` (naming the seq, and the
 * day of an anchor). Returns 0 when intact, 1 when tampering was found, < 0 when it could
 * not verify (err set).
 */
int auditdb_verify(const char *path, const char *pub_path, FILE *report, unsigned max_problems,
                   struct auditdb_verify_result *res, struct ab_err *err);

#endif
