/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv_embedded: the default backend, and kvdb, the log database under it.
 *
 * kvdb keeps every live entry in a sorted array in memory and appends each
 * change to one log file as a checksummed record:
 *   file   = "ABKVLOG1" record*
 *   record = u32 payload_len, u32 crc32(payload), payload        (little endian)
 *   payload= u8 op (1 put, 2 delete), u8 flags, u16 key_len, u32 meta_len,
 *            i64 expiration, u32 value_len, key, meta, value
 * Replay stops at the first short or corrupt record and truncates the file
 * there: only a write that was never acknowledged (its fsync had not
 * returned) can be torn. When the log is more than twice the live data (and
 * over 1 MiB), it is rewritten with ab_write_file_atomic().
 *
 * The backend does group commit: puts/deletes issued in one loop round are
 * appended at once and made durable by one fdatasync in a 0 ms timer, after
 * which their callbacks run. Keys never become file names, so no key can
 * reach outside the directory.
 *
 * One process owns a store directory: kv_embedded_open() takes an exclusive
 * flock on <dir>/lock (which names the owner's pid) for the backend's life,
 * so a second broker on the same data.dir fails with a clear error instead
 * of interleaving appends. (The lock is on its own file because compaction
 * replaces store.log.)
 */
#include "ab_log.h"
#include "ab_util.h"
#include "kv_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KVDB_MAGIC      "ABKVLOG1"
#define KVDB_MAGIC_LEN  8
#define KVDB_FILE_MAX   (1ULL << 31)
#define KVDB_COMPACT_AT (1u << 20)

enum { KVDB_OP_PUT = 1, KVDB_OP_DEL = 2 };

struct kvdb {
	char *path;
	int fd;
	struct kvdb_entry *e;
	size_t n, cap;
	size_t live_bytes;
	uint64_t log_bytes;
	uint64_t fsyncs;
	uint64_t seq;
	bool dirty;
};

/* --- crc32 (IEEE) ---------------------------------------------------------------------- */

static uint32_t
crc32_ieee(const void *buf, size_t len)
{
	static uint32_t table[256];
	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	uint32_t c = 0xffffffffu;
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* --- the sorted array ------------------------------------------------------------------ */

static size_t
entry_bytes(const struct kvdb_entry *e)
{
	return strlen(e->key) + e->len + (e->meta ? strlen(e->meta) : 0) + 32;
}

static void
entry_clear(struct kvdb_entry *e)
{
	free(e->key);
	free(e->val);
	free(e->meta);
}

/* Binary search: index of key, or where it would go (*found false). */
static size_t
kvdb_search(const struct kvdb *db, const char *key, bool *found)
{
	size_t lo = 0, hi = db->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(db->e[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void
mem_put(struct kvdb *db, const char *key, size_t klen, const char *val, size_t len,
        const char *meta, size_t mlen, int64_t exp, uint32_t flags)
{
	char *k = ab_xstrndup(key, klen);
	bool found;
	size_t i = kvdb_search(db, k, &found);
	if (found) {
		db->live_bytes -= entry_bytes(&db->e[i]);
		entry_clear(&db->e[i]);
	} else {
		if (db->n == db->cap) {
			db->cap = AB_MAX(db->cap * 2, (size_t)64);
			db->e = ab_xrealloc(db->e, db->cap * sizeof(*db->e));
		}
		memmove(&db->e[i + 1], &db->e[i], (db->n - i) * sizeof(*db->e));
		db->n++;
	}
	struct kvdb_entry *e = &db->e[i];
	e->key = k;
	e->val = ab_xmalloc(len + 1);
	memcpy(e->val, val, len);
	e->val[len] = '\0';
	e->len = len;
	e->meta = mlen ? ab_xstrndup(meta, mlen) : NULL;
	e->expiration = exp;
	e->flags = flags;
	e->seq = ++db->seq;
	e->stamp_ms = ab_now_ms();
	db->live_bytes += entry_bytes(e);
}

static void
mem_del(struct kvdb *db, const char *key, size_t klen)
{
	_cleanup_free_ char *k = ab_xstrndup(key, klen);
	bool found;
	size_t i = kvdb_search(db, k, &found);
	if (!found)
		return;
	db->live_bytes -= entry_bytes(&db->e[i]);
	entry_clear(&db->e[i]);
	memmove(&db->e[i], &db->e[i + 1], (db->n - i - 1) * sizeof(*db->e));
	db->n--;
}

/* --- records --------------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = AB_MAX(b->cap * 2, b->len + len + 256);
		b->p = ab_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
record_encode(struct buf *b, uint8_t op, uint32_t flags, const char *key, const char *meta,
              int64_t exp, const char *val, size_t vlen)
{
	uint16_t klen = (uint16_t)strlen(key);
	uint32_t mlen = meta ? (uint32_t)strlen(meta) : 0;
	uint32_t vl = (uint32_t)vlen;
	uint32_t plen = 1 + 1 + 2 + 4 + 8 + 4 + klen + mlen + vl;
	size_t start = b->len;
	uint32_t zero = 0;
	buf_add(b, &plen, 4);
	buf_add(b, &zero, 4);
	uint8_t fl = (uint8_t)flags;
	buf_add(b, &op, 1);
	buf_add(b, &fl, 1);
	buf_add(b, &klen, 2);
	buf_add(b, &mlen, 4);
	buf_add(b, &exp, 8);
	buf_add(b, &vl, 4);
	buf_add(b, key, klen);
	if (mlen)
		buf_add(b, meta, mlen);
	if (vl)
		buf_add(b, val, vl);
	uint32_t crc = crc32_ieee(b->p + start + 8, plen);
	memcpy(b->p + start + 4, &crc, 4);
}

/* Applies the records in data; returns the length of the valid prefix. */
static size_t
replay(struct kvdb *db, const char *data, size_t len)
{
	size_t off = KVDB_MAGIC_LEN;
	while (off + 8 <= len) {
		uint32_t plen, crc;
		memcpy(&plen, data + off, 4);
		memcpy(&crc, data + off + 4, 4);
		if (plen < 20 || plen > len - off - 8)
			break;
		const char *p = data + off + 8;
		if (crc32_ieee(p, plen) != crc)
			break;
		uint8_t op = (uint8_t)p[0], flags = (uint8_t)p[1];
		uint16_t klen;
		uint32_t mlen, vlen;
		int64_t exp;
		memcpy(&klen, p + 2, 2);
		memcpy(&mlen, p + 4, 4);
		memcpy(&exp, p + 8, 8);
		memcpy(&vlen, p + 16, 4);
		if ((uint64_t)20 + klen + mlen + vlen != plen || klen == 0)
			break;
		const char *key = p + 20;
		if (op == KVDB_OP_PUT)
			mem_put(db, key, klen, key + klen + mlen, vlen, key + klen, mlen, exp,
			        flags);
		else if (op == KVDB_OP_DEL)
			mem_del(db, key, klen);
		else
			break;
		off += 8 + plen;
	}
	return off;
}

int
kvdb_open(const char *path, struct kvdb **ret, struct ab_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND, 0600);
	if (fd < 0)
		return ab_err_errno(err, errno, "opening '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ab_err_errno(err, errno, "stat '%s'", path);
	struct kvdb *db = ab_xcalloc(1, sizeof(*db));
	db->fd = -1;
	db->path = ab_xstrdup(path);
	if (st.st_size == 0) {
		int r = ab_write_all(fd, KVDB_MAGIC, KVDB_MAGIC_LEN);
		if (r < 0 || fsync(fd) < 0) {
			kvdb_close(db);
			return ab_err_errno(err, r < 0 ? -r : errno, "initialising '%s'", path);
		}
		db->log_bytes = KVDB_MAGIC_LEN;
	} else {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		int r = ab_read_file(path, KVDB_FILE_MAX, &data, &len, err);
		if (r < 0) {
			kvdb_close(db);
			return r;
		}
		if (len < KVDB_MAGIC_LEN || memcmp(data, KVDB_MAGIC, KVDB_MAGIC_LEN) != 0) {
			kvdb_close(db);
			return ab_err_set(err, EINVAL, "'%s' is not a kv log (bad magic)", path);
		}
		size_t good = replay(db, data, len);
		if (good < len) {
			ab_warn(
			    "kv: '%s': cutting %zu bytes of torn or corrupt log tail at offset %zu",
			    path, len - good, good);
			if (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0) {
				kvdb_close(db);
				return ab_err_errno(err, errno, "truncating '%s'", path);
			}
		}
		db->log_bytes = good;
	}
	db->fd = TAKE_FD(fd);
	*ret = db;
	return 0;
}

void
kvdb_close(struct kvdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++)
		entry_clear(&db->e[i]);
	free(db->e);
	if (db->fd >= 0)
		close(db->fd);
	free(db->path);
	free(db);
}

const struct kvdb_entry *
kvdb_find(struct kvdb *db, const char *key)
{
	bool found;
	size_t i = kvdb_search(db, key, &found);
	return found ? &db->e[i] : NULL;
}

struct kvdb *
kvdb_new_mem(void)
{
	struct kvdb *db = ab_xcalloc(1, sizeof(*db));
	db->fd = -1;
	return db;
}

static int
append(struct kvdb *db, struct buf *b, struct ab_err *err)
{
	if (db->fd < 0)
		return 0; /* memory only */
	int r = ab_write_all(db->fd, b->p, b->len);
	if (r < 0) {
		/* Cut a partial record so that later ones stay reachable on replay. */
		if (ftruncate(db->fd, (off_t)db->log_bytes) < 0)
			ab_warn("kv: truncating '%s' after a failed write: %m", db->path);
		return ab_err_errno(err, -r, "appending to '%s'", db->path);
	}
	db->log_bytes += b->len;
	db->dirty = true;
	return 0;
}

int
kvdb_put(struct kvdb *db, const char *key, const void *val, size_t len, const char *meta,
         int64_t expiration, uint32_t flags, struct ab_err *err)
{
	if (db->fd < 0) {
		mem_put(db, key, strlen(key), val, len, meta, meta ? strlen(meta) : 0, expiration,
		        flags);
		return 0;
	}
	struct buf b = {0};
	record_encode(&b, KVDB_OP_PUT, flags, key, meta, expiration, val, len);
	int r = append(db, &b, err);
	free(b.p);
	if (r < 0)
		return r;
	mem_put(db, key, strlen(key), val, len, meta, meta ? strlen(meta) : 0, expiration, flags);
	return 0;
}

int
kvdb_del(struct kvdb *db, const char *key, struct ab_err *err)
{
	if (!kvdb_find(db, key))
		return 0;
	if (db->fd < 0) {
		mem_del(db, key, strlen(key));
		return 0;
	}
	struct buf b = {0};
	record_encode(&b, KVDB_OP_DEL, 0, key, NULL, 0, NULL, 0);
	int r = append(db, &b, err);
	free(b.p);
	if (r < 0)
		return r;
	mem_del(db, key, strlen(key));
	return 0;
}

static int
compact(struct kvdb *db, struct ab_err *err)
{
	struct buf b = {0};
	buf_add(&b, KVDB_MAGIC, KVDB_MAGIC_LEN);
	int64_t now = kv_wall_ms() / 1000;
	for (size_t i = 0; i < db->n; i++) {
		struct kvdb_entry *e = &db->e[i];
		if (e->expiration && e->expiration <= now)
			continue; /* expired: dropped from disk, ignored in memory */
		record_encode(&b, KVDB_OP_PUT, e->flags, e->key, e->meta, e->expiration, e->val,
		              e->len);
	}
	int r = ab_write_file_atomic(db->path, b.p, b.len, 0600, err);
	size_t newlen = b.len;
	free(b.p);
	if (r < 0)
		return r;
	int fd = open(db->path, O_RDWR | O_CLOEXEC | O_APPEND);
	if (fd < 0)
		return ab_err_errno(err, errno, "reopening '%s'", db->path);
	close(db->fd);
	db->fd = fd;
	db->log_bytes = newlen;
	return 0;
}

int
kvdb_commit(struct kvdb *db, struct ab_err *err)
{
	if (db->fd < 0)
		return 0;
	if (db->dirty) {
		if (fdatasync(db->fd) < 0)
			return ab_err_errno(err, errno, "fsync '%s'", db->path);
		db->fsyncs++;
		db->dirty = false;
	}
	if (db->log_bytes > KVDB_COMPACT_AT && db->log_bytes > 2 * (uint64_t)db->live_bytes) {
		struct ab_err cerr = {0};
		if (compact(db, &cerr) < 0)
			ab_warn("kv: compacting '%s': %s (the log stays as it is)", db->path,
			        cerr.msg);
	}
	return 0;
}

bool
kvdb_dirty(const struct kvdb *db)
{
	return db->dirty;
}

size_t
kvdb_lower(struct kvdb *db, const char *prefix, const char *after)
{
	bool found;
	if (after && strcmp(after, prefix) >= 0) {
		size_t i = kvdb_search(db, after, &found);
		return found ? i + 1 : i;
	}
	return kvdb_search(db, prefix, &found);
}

size_t
kvdb_count(const struct kvdb *db)
{
	return db->n;
}

const struct kvdb_entry *
kvdb_at(struct kvdb *db, size_t i)
{
	return i < db->n ? &db->e[i] : NULL;
}

size_t
kvdb_bytes(const struct kvdb *db)
{
	return db->live_bytes;
}

uint64_t
kvdb_log_bytes(const struct kvdb *db)
{
	return db->log_bytes;
}

uint64_t
kvdb_fsyncs(const struct kvdb *db)
{
	return db->fsyncs;
}

/* --- the embedded backend -------------------------------------------------------------- */

struct kv_ack {
	kv_done_fn fn;
	void *data;
	struct kv_ack *next;
};

void
kv_acks_init(struct kv_acks *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

void
kv_acks_add(struct kv_acks *q, kv_done_fn fn, void *data)
{
	struct kv_ack *a = ab_xcalloc(1, sizeof(*a));
	a->fn = fn;
	a->data = data;
	*q->tail = a;
	q->tail = &a->next;
}

int
kv_acks_commit(struct kv_acks *q, struct kvdb *db)
{
	struct ab_err err = {0};
	int r = kvdb_commit(db, &err);
	if (r < 0)
		ab_error("kv: %s", err.msg);
	struct kv_ack *a = q->head;
	kv_acks_init(q);
	while (a) {
		struct kv_ack *next = a->next;
		if (a->fn)
			a->fn(r, r < 0 ? err.msg : "", a->data);
		free(a);
		a = next;
	}
	return r;
}

void
kv_acks_close(struct kv_acks *q, struct kvdb *db)
{
	struct ab_err err = {0};
	if (kvdb_commit(db, &err) < 0)
		ab_error("kv: %s", err.msg);
	while (q->head) {
		struct kv_ack *a = q->head;
		q->head = a->next;
		free(a);
	}
	kv_acks_init(q);
}

struct kv_embedded {
	struct kv_backend base;
	struct kvdb *db;
	struct kv_acks acks;
	struct ab_timer *commit_timer;
	int lock_fd;
};

static struct kv_embedded *
to_emb(struct kv_backend *b)
{
	return (struct kv_embedded *)b;
}

static bool
expired(const struct kvdb_entry *e)
{
	return e->expiration && e->expiration <= kv_wall_ms() / 1000;
}

static int
emb_get(struct kv_backend *b, const char *key, kv_get_fn fn, void *data)
{
	const struct kvdb_entry *e = kvdb_find(to_emb(b)->db, key);
	if (!e || expired(e)) {
		kv_defer_get(b, fn, data, -ENOENT, "no such key", NULL);
		return 0;
	}
	struct kv_value v = {e->val, e->len, e->meta, e->expiration};
	kv_defer_get(b, fn, data, 0, NULL, &v);
	return 0;
}

static int64_t
emb_commit(struct ab_loop *loop, void *data)
{
	struct kv_embedded *e = data;
	e->commit_timer = NULL;
	kv_acks_commit(&e->acks, e->db);
	return AB_TIMER_STOP;
}

static void
emb_queue_ack(struct kv_embedded *e, kv_done_fn fn, void *data)
{
	kv_acks_add(&e->acks, fn, data);
	if (!e->commit_timer)
		e->commit_timer = ab_loop_timer(e->base.loop, 0, emb_commit, e);
}

static int
emb_put(struct kv_backend *b, const char *key, const void *value, size_t len, int64_t expiration,
        const char *metadata, kv_done_fn fn, void *data, struct ab_err *err)
{
	struct kv_embedded *e = to_emb(b);
	int r = kvdb_put(e->db, key, value, len, metadata, expiration, 0, err);
	if (r < 0)
		return r;
	emb_queue_ack(e, fn, data);
	return 0;
}

static int
emb_del(struct kv_backend *b, const char *key, kv_done_fn fn, void *data, struct ab_err *err)
{
	struct kv_embedded *e = to_emb(b);
	int r = kvdb_del(e->db, key, err);
	if (r < 0)
		return r;
	emb_queue_ack(e, fn, data);
	return 0;
}

static int
emb_list(struct kv_backend *b, const char *prefix, const char *cursor, unsigned limit,
         kv_list_fn fn, void *data)
{
	struct kvdb *db = to_emb(b)->db;
	size_t plen = strlen(prefix);
	struct kv_list_entry *out = ab_xcalloc(limit, sizeof(*out));
	size_t n = 0;
	const char *last = NULL;
	bool more = false;
	for (size_t i = kvdb_lower(db, prefix, cursor); i < kvdb_count(db); i++) {
		const struct kvdb_entry *e = kvdb_at(db, i);
		if (strncmp(e->key, prefix, plen) != 0)
			break;
		if (expired(e))
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		out[n++] = (struct kv_list_entry){e->key, e->expiration, e->meta};
		last = e->key;
	}
	/* The cursor is the last key returned: keys are unique and sorted. */
	struct kv_list_result r = {out, n, more ? last : NULL};
	kv_defer_list(b, fn, data, 0, NULL, &r);
	free(out);
	return 0;
}

static int
emb_sync(struct kv_backend *b, kv_done_fn fn, void *data)
{
	/* Acks are ordered: this one runs after every earlier write is durable. */
	emb_queue_ack(to_emb(b), fn, data);
	return 0;
}

static void
emb_stats(const struct kv_backend *b, struct kv_stats *ret)
{
	const struct kv_embedded *e = (const struct kv_embedded *)b;
	ret->fsyncs = kvdb_fsyncs(e->db);
	ret->log_bytes = kvdb_log_bytes(e->db);
	ret->online = 1;
}

static void
emb_close(struct kv_backend *b)
{
	struct kv_embedded *e = to_emb(b);
	ab_loop_timer_cancel(b->loop, e->commit_timer);
	kv_acks_close(&e->acks, e->db);
	kvdb_close(e->db);
	if (e->lock_fd >= 0)
		close(e->lock_fd); /* releases the flock */
	free(e);
}

static const struct kv_backend_ops emb_ops = {
    .name = "embedded",
    .get = emb_get,
    .put = emb_put,
    .del = emb_del,
    .list = emb_list,
    .sync = emb_sync,
    .stats = emb_stats,
    .close = emb_close,
};

/* Takes the store directory's exclusive lock (non-blocking) and records our pid in it. */
static int
lock_dir(const char *dir, int *ret_fd, struct ab_err *err)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/lock", dir);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ab_err_errno(err, errno, "opening '%s'", path);
	/*
	 * A lock whose recorded owner is gone is still held by something of its: a child it had
	 * forked that has not exec'd or exited yet (a broker killed while starting a desktop).
	 * That lasts moments: wait up to 3 s for it before refusing. A live owner is refused at
	 * once.
	 */
	for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		int e = errno;
		if (e != EWOULDBLOCK)
			return ab_err_errno(err, e, "locking '%s'", path);
		char owner[32] = "";
		ssize_t n = pread(fd, owner, sizeof(owner) - 1, 0);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		long opid = atol(owner);
		if (opid > 0 && kill((pid_t)opid, 0) < 0 && errno == ESRCH && tries < 30) {
			usleep(100 * 1000);
			continue;
		}
		return ab_err_set(err, EBUSY,
		                  "the kv store '%s' is in use by another process (pid %s): "
		                  "two brokers must not share one data.dir / kv.dir",
		                  dir, owner[0] ? owner : "unknown");
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		ab_warn("kv: writing '%s': %m", path); /* the lock holds all the same */
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
kv_embedded_open(const char *dir, struct ab_loop *loop, struct kv_backend **ret, struct ab_err *err)
{
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lock_fd = -1;
	r = lock_dir(dir, &lock_fd, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = ab_xasprintf("%s/store.log", dir);
	struct kvdb *db = NULL;
	r = kvdb_open(path, &db, err);
	if (r < 0)
		return r;
	struct kv_embedded *e = ab_xcalloc(1, sizeof(*e));
	e->lock_fd = TAKE_FD(lock_fd);
	e->base.ops = &emb_ops;
	e->base.loop = loop;
	e->db = db;
	kv_acks_init(&e->acks);
	*ret = &e->base;
	return 0;
}
