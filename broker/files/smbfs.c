/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-smbfs: one user's SMB home as a FUSE3 file system, with the quota enforced on
 * every write (docs/files.md, "SMB homes").
 *
 *   argobox-smbfs --config-fd N [--status-fd M] [--audit FILE] MOUNTPOINT
 *
 * The broker starts one per user whose home is on SMB, before the desktop's container, and
 * mounts it on the user's home directory on the host (<storage.home_base>/<user>); the
 * container's bind mount of the home then shows the share, and the broker's files API reaches
 * it through the same mount. It runs as root outside the container, in its own session, so
 * it outlives a broker restart (the next broker finds the mount live and keeps it).
 *
 * Everything it needs comes as one JSON object on fd N, read to its end and closed:
 *   {"user","server","port","share","path","username","password","workgroup",
 *    "uid","gid","quota","timeout_ms"}
 * so the password is never in argv or the environment (both readable in /proc) and never
 * reaches the container. The buffer that held it is wiped once libsmbclient has a copy.
 * "mounted\n" (or "error: ...\n") is written to fd M once the mount is in place.
 *
 * Files appear owned by uid/gid (the host ids of the desktop's user), 0600 and directories
 * 0700; chmod is accepted and ignored, chown to anyone else is EPERM, links and special
 * files are not supported (SMB without POSIX extensions has none). The kernel checks those
 * permissions (default_permissions); allow_other lets the container's user and the broker in.
 *
 * Quota: the bytes of the home are summed once over SMB after mounting, then moved by every
 * write, truncate, fallocate, unlink and rename that goes through the mount; a write or
 * size change that would go over "quota" fails with EDQUOT and a "files.quota" audit line.
 * statfs reports the quota as the file system's size, so df inside the desktop and the
 * broker's usage figure (statvfs) see used/limit.
 *
 * Writes: sequential writes to an open file are gathered (up to 1 MiB) and sent as one SMB
 * write (one round trip instead of one per 64 KiB): sent when the next write does not follow,
 * on read, stat, rename, truncate, fsync and close; a failure is reported by the next of
 * those (close(2) and fsync(2) included, as NFS and the kernel's SMB client do) and the bytes
 * stay buffered until they can be sent. The quota is checked when the write is accepted.
 *
 * Connection loss: libsmbclient reconnects by itself on the next call; a call that fails
 * because the server went away is retried once (open files are reopened by path), and
 * when that fails too the caller gets EHOSTDOWN ("Host is down") at once rather than a hang
 * (the SMB timeout bounds every call). The first loss and the recovery are "files.smb"
 * audit lines. The loop is single-threaded: libsmbclient's context is not thread-safe.
 */
#define FUSE_USE_VERSION 35
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "smbfs_core.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <jansson.h>
#include <libsmbclient.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#define SMBFS_URL_MAX     8192 /* the base URL and a whole encoded path */
#define SMBFS_CONFIG_MAX  65536
#define SMBFS_USAGE_XATTR "user.argobox.usage"
#define SMBFS_WBUF        (1 << 20) /* write-behind per open file */

struct smbfs {
	SMBCCTX *ctx;
	char user[256];
	char base[SMBFS_URL_MAX]; /* smb://server/share/path, no trailing '/' */
	char username[256], workgroup[256];
	char *password; /* mlock'ed */
	uid_t uid;
	gid_t gid;
	struct smbfs_usage usage; /* the quota (bytes, 0 = none) and the home's bytes */
	bool down;                /* the last call failed because the server was unreachable */
	struct smbfs_file *files;
};

/* One open file: the path and flags to reopen it with after a reconnect. */
struct smbfs_file {
	struct smbfs_file *next, *prev; /* every open file (S.files) */
	int fd;                         /* -1 while closed around a rename or unlink */
	int flags;
	int64_t size; /* as this handle knows it: what writes beyond it add to the usage */
	bool quota_audited;
	char *path; /* the FUSE path, "/..." */
	/* write-behind: sequential writes gathered up to SMBFS_WBUF bytes, sent as one */
	char *wbuf;
	int64_t wbuf_off;
	size_t wbuf_len;
};

static struct smbfs S;

/*
 * The attributes of the last directory listed, while used (1 s after the last use, 30 s at
 * most): a listing is usually
 * followed by a stat of every entry (the broker's files API, ls -l), which would otherwise be
 * one SMB round trip each. Any change through the mount drops it.
 */
#define SMBFS_LIST_TTL_MS 1000  /* since it was last used */
#define SMBFS_LIST_MAX_MS 30000 /* since it was listed */
struct smbfs_entry {
	char *name;
	struct stat st;
};
static struct {
	char *dir; /* FUSE path of the directory, NULL = empty */
	struct smbfs_entry *v;
	size_t n, cap;
	int64_t at_ms, used_ms; /* when listed, when last used */
} L;

static void
list_cache_drop(void)
{
	for (size_t i = 0; i < L.n; i++)
		free(L.v[i].name);
	free(L.dir);
	L.dir = NULL;
	L.n = 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct smbfs_entry *)a)->name, ((const struct smbfs_entry *)b)->name);
}

/* The cached attributes of path, if its directory was listed less than the TTL ago. */
static bool
list_cache_get(const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	int64_t now = ab_now_ms();
	if (!L.dir || !slash || now - L.used_ms > SMBFS_LIST_TTL_MS ||
	    now - L.at_ms > SMBFS_LIST_MAX_MS)
		return false;
	size_t dlen = slash == path ? 1 : (size_t)(slash - path);
	if (strlen(L.dir) != dlen || strncmp(L.dir, path, dlen) != 0)
		return false;
	struct smbfs_entry key = {.name = (char *)slash + 1};
	const struct smbfs_entry *e = bsearch(&key, L.v, L.n, sizeof(*L.v), entry_cmp);
	if (!e)
		return false;
	*st = e->st;
	L.used_ms = now; /* a stat pass over a big folder keeps it while it goes on */
	return true;
}

/*
 * LeakSanitizer (the ASan build): libsmbclient keeps a talloc stack frame for the process's
 * life, which it never frees. Not ours to fix; everything else is still checked.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libtalloc.so\n";
}

static void
smbfs_auth(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen, char *un, int unlen,
           char *pw, int pwlen)
{
	(void)c, (void)srv, (void)shr;
	if (S.workgroup[0])
		snprintf(wg, (size_t)wglen, "%s", S.workgroup);
	snprintf(un, (size_t)unlen, "%s", S.username);
	snprintf(pw, (size_t)pwlen, "%s", S.password ? S.password : "");
}

/* The smb:// URL of a FUSE path ("/..."): the base URL and the path, percent-encoded. */
static int
smbfs_url(const char *path, char *out, size_t len)
{
	return smbfs_url_encode(S.base, path, out, len);
}

static void
smbfs_audit(const char *event, enum audit_outcome o, json_t *detail)
{
	audit_log(event, o, S.user, NULL, "smbfs", detail);
}

/* The result of a call after its retry: marks the server down or back up (audited once). */
static int
smbfs_result(int r, const char *op)
{
	if (smbfs_errno_map(r) == -EHOSTDOWN) {
		if (!S.down) {
			S.down = true;
			smbfs_audit("files.smb", AUDIT_FAILURE,
			            json_pack("{ssssssss}", "step", "lost", "op", op, "reason",
			                      strerror(-r), "server", S.base));
			ab_warn("smbfs '%s': %s: %s", S.user, op, strerror(-r));
		}
		return -EHOSTDOWN;
	}
	if (S.down) {
		S.down = false;
		smbfs_audit(
		    "files.smb", AUDIT_INFO,
		    json_pack("{ssssss}", "step", "reconnected", "op", op, "server", S.base));
		ab_info("smbfs '%s': reconnected", S.user);
	}
	return r;
}

/* Runs `call` (an int expression, < 0 with errno on failure) once more after a lost link. */
#define SMBFS_RETRY(r, call)                                                                       \
	for (int attempt_ = 0;; attempt_++) {                                                      \
		(r) = (call) < 0 ? -errno : 0;                                                     \
		if ((r) == 0 || attempt_ > 0 || !smbfs_conn_error(-(r)))                           \
			break;                                                                     \
	}

static void
smbfs_fix_stat(struct stat *st)
{
	smbfs_stat_fix(st, S.uid, S.gid);
}

/* ---- quota ---- */

/* Sums the sizes of everything below url (depth-first over SMB). */
static int
smbfs_scan(const char *url, int depth, int64_t *sum)
{
	if (depth > 64)
		return 0;
	int dh = smbc_opendir(url);
	if (dh < 0)
		return -errno;
	struct stat st;
	const struct libsmb_file_info *e;
	int r = 0;
	while ((e = smbc_readdirplus2((unsigned)dh, &st)) != NULL) {
		if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *sub = ab_xasprintf("%s/%s", url, e->name);
			/* names from the server are already plain; encode them like a path */
			char enc[SMBFS_URL_MAX];
			_cleanup_free_ char *rel =
			    ab_xasprintf("%s/%s", url + strlen(S.base), e->name);
			if (smbfs_url(rel, enc, sizeof(enc)) < 0)
				continue;
			if ((r = smbfs_scan(enc, depth + 1, sum)) < 0)
				break;
		} else {
			*sum += st.st_size;
		}
	}
	smbc_closedir(dh);
	return r;
}

static void
smbfs_usage_scan(void)
{
	int64_t sum = 0;
	int r = smbfs_scan(S.base, 0, &sum);
	if (r < 0) {
		smbfs_result(r, "scan");
		return;
	}
	S.usage.used = sum;
	S.usage.known = true;
	smbfs_result(0, "scan");
}

/* 0 when growing the home by `delta` bytes fits the quota, else -EDQUOT (audited). */
static int
smbfs_quota_check(const char *path, const char *op, int64_t delta, bool audit)
{
	if (S.usage.quota > 0 && delta > 0 && !S.usage.known)
		smbfs_usage_scan();
	int r = smbfs_usage_fits(&S.usage, delta); /* usage still unknown: refused, not overrun */
	if (r == -EDQUOT && audit)
		smbfs_audit("files.quota", AUDIT_DENY,
		            json_pack("{sssssssIsIsI}", "path", path[0] == '/' ? path + 1 : path,
		                      "op", op, "reason", "quota exceeded by a desktop write",
		                      "bytes", (json_int_t)delta, "used", (json_int_t)S.usage.used,
		                      "quota", (json_int_t)S.usage.quota));
	return r;
}

static void
smbfs_usage_add(int64_t delta)
{
	smbfs_usage_move(&S.usage, delta);
}

/* The size of path over SMB, or -errno. */
static int64_t
smbfs_size_of(const char *url)
{
	struct stat st;
	int r;
	SMBFS_RETRY(r, smbc_stat(url, &st));
	if (r < 0)
		return r;
	return S_ISDIR(st.st_mode) ? 0 : st.st_size;
}

/* ---- operations ---- */

#define URL_OR_RETURN(url, path)                                                                   \
	char url[SMBFS_URL_MAX];                                                                   \
	do {                                                                                       \
		int ur_ = smbfs_url(path, url, sizeof(url));                                       \
		if (ur_ < 0)                                                                       \
			return ur_;                                                                \
	} while (0)

static struct smbfs_file *
file_of(struct fuse_file_info *fi)
{
	return (struct smbfs_file *)(uintptr_t)fi->fh;
}

/* Reopens f after its server connection was lost (never creating or truncating). */
static int
smbfs_reopen(struct smbfs_file *f)
{
	URL_OR_RETURN(url, f->path);
	if (f->fd >= 0)
		smbc_close(f->fd);
	f->fd = -1;
	int fd = smbc_open(url, f->flags & ~(O_CREAT | O_EXCL | O_TRUNC), 0600);
	if (fd < 0)
		return -errno;
	f->fd = fd;
	return 0;
}

/* A call on an open file, retried once on a reopened handle after a lost connection. */
#define SMBFS_FILE_RETRY(r, f, call)                                                               \
	for (int attempt_ = 0;; attempt_++) {                                                      \
		(r) = (call);                                                                      \
		if ((r) >= 0 || attempt_ > 0 || !smbfs_conn_error(-(int)(r)))                      \
			break;                                                                     \
		if (smbfs_reopen(f) < 0)                                                           \
			break;                                                                     \
	}

/* Reads (buf) or writes (wbuf) size bytes at off, as far as it goes: what was done, or -errno. */
static ssize_t
smbfs_io(struct smbfs_file *f, char *buf, const char *wbuf, size_t size, off_t off)
{
	if (smbc_lseek(f->fd, off, SEEK_SET) < 0)
		return -errno;
	size_t done = 0;
	while (done < size) {
		ssize_t n = wbuf ? smbc_write(f->fd, wbuf + done, size - done)
		                 : smbc_read(f->fd, buf + done, size - done);
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * Sends what the write-behind buffer holds. On failure the bytes stay in it (sent again by
 * the next flush, after a reconnect) and the error is returned: a write, fsync or close
 * reports it, as NFS and the kernel's SMB client do.
 */
static int
smbfs_wflush(struct smbfs_file *f)
{
	if (!f->wbuf_len)
		return 0;
	ssize_t n;
	SMBFS_FILE_RETRY(n, f, smbfs_io(f, NULL, f->wbuf, f->wbuf_len, (off_t)f->wbuf_off));
	if (n < 0)
		return smbfs_result((int)n, "write");
	if ((size_t)n < f->wbuf_len) {
		memmove(f->wbuf, f->wbuf + n, f->wbuf_len - (size_t)n);
		f->wbuf_off += n;
		f->wbuf_len -= (size_t)n;
		return -EIO;
	}
	f->wbuf_len = 0;
	return smbfs_result(0, "write");
}

/* Flushes every open file on path (before its attributes are read or it is renamed). */
static int
smbfs_wflush_path(const char *path)
{
	int r = 0;
	for (struct smbfs_file *f = S.files; f; f = f->next)
		if (f->wbuf_len && strcmp(f->path, path) == 0) {
			int q = smbfs_wflush(f);
			r = r < 0 ? r : q;
		}
	return r;
}

/* Whether f is `path` or below it. */
static bool
file_under(const struct smbfs_file *f, const char *path)
{
	size_t n = strlen(path);
	return strncmp(f->path, path, n) == 0 && (f->path[n] == '\0' || f->path[n] == '/');
}

/*
 * SMB refuses to rename or delete a file that is open (a sharing violation): the handles
 * open on `path` or below it are closed first, and smbfs_files_reopen() opens them again
 * (under their new name) afterwards, as POSIX programs expect.
 */
static void
smbfs_files_close(const char *path)
{
	for (struct smbfs_file *f = S.files; f; f = f->next)
		if (f->fd >= 0 && file_under(f, path)) {
			(void)smbfs_wflush(f); /* on failure the bytes wait in the buffer */
			smbc_close(f->fd);
			f->fd = -1;
		}
}

static void
smbfs_files_reopen(const char *from, const char *to)
{
	for (struct smbfs_file *f = S.files; f; f = f->next) {
		if (f->fd >= 0 || !file_under(f, from))
			continue;
		if (to) {
			char *np = ab_xasprintf("%s%s", to, f->path + strlen(from));
			free(f->path);
			f->path = np;
		}
		(void)smbfs_reopen(f); /* on failure fd stays -1: later calls get EBADF */
	}
}

static int
op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	/* by path: SMB's fstat needs read-attributes access a write-only handle lacks */
	(void)fi;
	int w = smbfs_wflush_path(path); /* the server's size must include what is buffered */
	if (w < 0)
		return w;
	if (list_cache_get(path, st))
		return 0;
	URL_OR_RETURN(url, path);
	int r;
	SMBFS_RETRY(r, smbc_stat(url, st));
	r = smbfs_result(r, "stat");
	if (r == 0)
		smbfs_fix_stat(st);
	return r;
}

static int
op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
           enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	URL_OR_RETURN(url, path);
	int dh = -1, r;
	SMBFS_RETRY(r, (dh = smbc_opendir(url)));
	if (r < 0)
		return smbfs_result(r, "list");
	struct stat st;
	const struct libsmb_file_info *e;
	list_cache_drop();
	errno = 0;
	while ((e = smbc_readdirplus2((unsigned)dh, &st)) != NULL) {
		if (strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0) {
			smbfs_fix_stat(&st);
			if (L.n == L.cap) {
				L.cap = L.cap ? 2 * L.cap : 256;
				L.v = ab_xrealloc(L.v, L.cap * sizeof(*L.v));
			}
			L.v[L.n++] = (struct smbfs_entry){.name = ab_xstrdup(e->name), .st = st};
		}
		if (fill(buf, e->name, &st, 0, FUSE_FILL_DIR_PLUS))
			break;
		errno = 0;
	}
	r = errno && errno != ENOENT ? -errno : 0;
	smbc_closedir(dh);
	if (r == 0) {
		qsort(L.v, L.n, sizeof(*L.v), entry_cmp);
		L.dir = ab_xstrdup(path);
		L.at_ms = L.used_ms = ab_now_ms();
	} else {
		list_cache_drop();
	}
	return smbfs_result(r, "list");
}

static int
smbfs_open_file(const char *path, int flags, mode_t mode, struct fuse_file_info *fi)
{
	list_cache_drop();
	URL_OR_RETURN(url, path);
	int64_t old = 0;
	if (flags & O_TRUNC) {
		old = smbfs_size_of(url);
		if (old < 0 && old != -ENOENT)
			return smbfs_result((int)old, "open");
		if (old < 0)
			old = 0;
	}
	/* what SMB can do of the open flags (O_LARGEFILE, O_CLOEXEC, ... are the kernel's) */
	flags &= O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC; /* O_APPEND: op_write */
	int fd = -1, r;
	SMBFS_RETRY(r, (fd = smbc_open(url, flags, mode)));
	if (r < 0)
		return smbfs_result(r, "open");
	struct stat st;
	if (smbc_stat(url, &st) < 0) {
		r = -errno;
		smbc_close(fd);
		return smbfs_result(r, "open");
	}
	struct smbfs_file *f = ab_xmalloc(sizeof(*f));
	*f = (struct smbfs_file){.fd = fd, .flags = flags, .size = st.st_size};
	f->path = ab_xstrdup(path);
	f->next = S.files;
	if (S.files)
		S.files->prev = f;
	S.files = f;
	fi->fh = (uint64_t)(uintptr_t)f;
	if (old > 0)
		smbfs_usage_add(-old);
	return smbfs_result(0, "open");
}

static int
op_open(const char *path, struct fuse_file_info *fi)
{
	return smbfs_open_file(path, fi->flags, 0600, fi);
}

static int
op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	return smbfs_open_file(path, fi->flags | O_CREAT, 0600, fi);
}

static int
op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	struct smbfs_file *f = file_of(fi);
	if (f) {
		if (smbfs_wflush(f) < 0) {
			ab_warn("smbfs '%s': %zu bytes of '%s' could not be written", S.user,
			        f->wbuf_len, f->path);
			/* they were counted when accepted: sum the home again before the next
			 * growth is judged (the share is the truth; refused while it is down) */
			S.usage.known = false;
		}
		free(f->wbuf);
		if (f->fd >= 0)
			smbc_close(f->fd);
		if (f->prev)
			f->prev->next = f->next;
		else
			S.files = f->next;
		if (f->next)
			f->next->prev = f->prev;
		free(f->path);
		free(f);
	}
	return 0;
}

static int
op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct smbfs_file *f = file_of(fi);
	int r = smbfs_wflush_path(path); /* this handle's and any other's on the same file */
	if (r < 0)
		return r;
	ssize_t n;
	SMBFS_FILE_RETRY(n, f, smbfs_io(f, buf, NULL, size, off));
	return n < 0 ? smbfs_result((int)n, "read") : (smbfs_result(0, "read"), (int)n);
}

static int
op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	list_cache_drop();
	struct smbfs_file *f = file_of(fi);
	if (f->flags & O_APPEND)
		off = (off_t)f->size; /* every write goes to the end this handle knows */
	int64_t grow = smbfs_write_growth(f->size, (int64_t)off, size);
	int r = smbfs_quota_check(path, "write", grow, !f->quota_audited);
	if (r < 0) {
		f->quota_audited = f->quota_audited || r == -EDQUOT;
		return r;
	}
	bool follows = f->wbuf_len && (int64_t)off == f->wbuf_off + (int64_t)f->wbuf_len;
	if (f->wbuf_len && (!follows || f->wbuf_len + size > SMBFS_WBUF) &&
	    (r = smbfs_wflush(f)) < 0)
		return r;
	ssize_t n = (ssize_t)size;
	if (size < SMBFS_WBUF) {
		if (!f->wbuf)
			f->wbuf = ab_xmalloc(SMBFS_WBUF);
		if (!f->wbuf_len)
			f->wbuf_off = off;
		memcpy(f->wbuf + f->wbuf_len, buf, size);
		f->wbuf_len += size;
	} else {
		SMBFS_FILE_RETRY(n, f, smbfs_io(f, NULL, buf, size, off));
		if (n < 0)
			return smbfs_result((int)n, "write");
		smbfs_result(0, "write");
	}
	int64_t end = (int64_t)off + n;
	if (end > f->size) {
		smbfs_usage_add(end - f->size);
		f->size = end;
	}
	return (int)n;
}

static int
smbfs_set_size(const char *path, struct smbfs_file *f, int64_t size, const char *op)
{
	list_cache_drop();
	URL_OR_RETURN(url, path);
	int r = f ? smbfs_wflush(f) : smbfs_wflush_path(path);
	if (r < 0)
		return r;
	int64_t old = f ? f->size : smbfs_size_of(url);
	if (old < 0)
		return smbfs_result((int)old, op);
	r = smbfs_quota_check(path, op, size - old, true);
	if (r < 0)
		return r;
	if (f) {
		SMBFS_FILE_RETRY(r, f, smbc_ftruncate(f->fd, size) < 0 ? -errno : 0);
	} else {
		int fd = -1;
		SMBFS_RETRY(r, (fd = smbc_open(url, O_WRONLY, 0)));
		if (r == 0) {
			r = smbc_ftruncate(fd, size) < 0 ? -errno : 0;
			smbc_close(fd);
		}
	}
	if (r < 0)
		return smbfs_result(r, op);
	smbfs_usage_add(size - old);
	for (struct smbfs_file *g = S.files; g; g = g->next)
		if (strcmp(g->path, path) == 0)
			g->size = size; /* every handle on it: writes beyond count from here */
	return smbfs_result(0, op);
}

static int
op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return smbfs_set_size(path, fi ? file_of(fi) : NULL, size, "truncate");
}

static int
op_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	if (mode != 0)
		return -EOPNOTSUPP;
	struct smbfs_file *f = fi ? file_of(fi) : NULL;
	if (!f)
		return -EBADF;
	int64_t end = (int64_t)off + (int64_t)len;
	return end > f->size ? smbfs_set_size(path, f, end, "fallocate") : 0;
}

static int
op_unlink(const char *path)
{
	list_cache_drop();
	URL_OR_RETURN(url, path);
	smbfs_files_close(path); /* flushed first: the size below is all of it */
	int64_t size = smbfs_size_of(url);
	int r;
	SMBFS_RETRY(r, smbc_unlink(url));
	if (r < 0)
		smbfs_files_reopen(path, NULL);
	if (r == 0 && size > 0)
		smbfs_usage_add(-size);
	return smbfs_result(r, "unlink");
}

static int
op_mkdir(const char *path, mode_t mode)
{
	list_cache_drop();
	(void)mode;
	URL_OR_RETURN(url, path);
	int r;
	SMBFS_RETRY(r, smbc_mkdir(url, 0700));
	return smbfs_result(r, "mkdir");
}

static int
op_rmdir(const char *path)
{
	list_cache_drop();
	URL_OR_RETURN(url, path);
	int r;
	SMBFS_RETRY(r, smbc_rmdir(url));
	return smbfs_result(r, "rmdir");
}

static int
op_rename(const char *from, const char *to, unsigned int flags)
{
	list_cache_drop();
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT: not over SMB */
	URL_OR_RETURN(ufrom, from);
	URL_OR_RETURN(uto, to);
	struct stat st;
	int r;
	(void)smbfs_wflush_path(to); /* the replaced size below includes what was buffered */
	SMBFS_RETRY(r, smbc_stat(uto, &st));
	if (r == 0 && (flags & RENAME_NOREPLACE))
		return smbfs_result(-EEXIST, "rename");
	if (r < 0 && r != -ENOENT)
		return smbfs_result(r, "rename");
	int64_t replaced = r == 0 && !S_ISDIR(st.st_mode) ? st.st_size : 0;
	smbfs_files_close(from);
	smbfs_files_close(to);
	SMBFS_RETRY(r, smbc_rename(ufrom, uto));
	smbfs_files_reopen(from, r == 0 ? to : NULL);
	if (r < 0)
		smbfs_files_reopen(to, NULL);
	if (r == 0)
		smbfs_usage_add(-replaced);
	return smbfs_result(r, "rename");
}

static int
op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	list_cache_drop();
	(void)fi;
	URL_OR_RETURN(url, path);
	struct timeval t[2];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < 2; i++) {
		struct timespec s = tv[i].tv_nsec == UTIME_NOW ? now : tv[i];
		if (tv[i].tv_nsec == UTIME_OMIT)
			s = now; /* libsmbclient sets both: keep it simple, "now" */
		t[i] = (struct timeval){.tv_sec = s.tv_sec, .tv_usec = s.tv_nsec / 1000};
	}
	int r;
	SMBFS_RETRY(r, smbc_utimes(url, t));
	return smbfs_result(r, "utimes");
}

static int
op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path, (void)mode, (void)fi;
	return 0; /* modes are fixed (0600/0700): accepted so that cp -p and editors work */
}

static int
op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	if ((uid != (uid_t)-1 && uid != S.uid) || (gid != (gid_t)-1 && gid != S.gid))
		return -EPERM;
	return 0;
}

static int
op_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	*st = (struct statvfs){.f_bsize = SMBFS_BSIZE, .f_frsize = SMBFS_BSIZE, .f_namemax = 255};
	if (!S.usage.known)
		smbfs_usage_scan();
	if (S.usage.quota > 0) {
		smbfs_usage_statvfs(&S.usage, st);
	} else {
		struct statvfs sv;
		char url[SMBFS_URL_MAX];
		if (smbfs_url("/", url, sizeof(url)) == 0 && smbc_statvfs(url, &sv) == 0) {
			st->f_blocks = sv.f_blocks * sv.f_frsize / SMBFS_BSIZE;
			st->f_bfree = st->f_bavail = sv.f_bavail * sv.f_frsize / SMBFS_BSIZE;
		}
	}
	return 0;
}

/*
 * "user.argobox.usage" on the root: "<used> <quota>" in bytes, what the broker's files API
 * reports (exact, where statfs rounds to blocks). Nothing else has extended attributes.
 */
static int
op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	if (strcmp(path, "/") != 0 || strcmp(name, SMBFS_USAGE_XATTR) != 0)
		return -ENODATA;
	if (!S.usage.known)
		smbfs_usage_scan();
	if (!S.usage.known)
		return -EHOSTDOWN;
	char text[64];
	int n = snprintf(text, sizeof(text), "%lld %lld", (long long)S.usage.used,
	                 (long long)S.usage.quota);
	if (size == 0)
		return n;
	if ((size_t)n > size)
		return -ERANGE;
	memcpy(value, text, (size_t)n);
	return n;
}

static int
op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return fi ? smbfs_wflush(file_of(fi)) : 0; /* close(2) reports a failed write-behind */
}

static int
op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path, (void)datasync;
	/* what the server has answered is on it; the write-behind buffer goes now */
	return fi ? smbfs_wflush(file_of(fi)) : 0;
}

static void *
op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/*
	 * 1 MiB per FUSE write and read-ahead (the kernel's default is 128 KiB): a big file
	 * costs one request per MiB, and each read-ahead becomes one smbc_read that
	 * libsmbclient splits into pipelined SMB reads.
	 */
	conn->max_write = SMBFS_WBUF;
	conn->max_readahead = SMBFS_WBUF;
	cfg->attr_timeout = 1;
	cfg->entry_timeout = 1;
	cfg->negative_timeout = 0;
	cfg->hard_remove = 1;
	return NULL;
}

static const struct fuse_operations smbfs_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .create = op_create,
    .release = op_release,
    .read = op_read,
    .write = op_write,
    .truncate = op_truncate,
    .fallocate = op_fallocate,
    .unlink = op_unlink,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .utimens = op_utimens,
    .chmod = op_chmod,
    .chown = op_chown,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .flush = op_flush,
    .fsync = op_fsync,
};

/* ---- start-up ---- */

static int
read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	for (;;) {
		if (n + 1 >= len)
			return -EFBIG;
		ssize_t r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (int)n;
}

static int
copy_str(json_t *cfg, const char *key, bool required, char *out, size_t len, struct ab_err *err)
{
	json_t *v = json_object_get(cfg, key);
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || (required && !json_string_length(v)))
		return ab_err_set(err, EINVAL, "configuration: '%s' must be a string", key);
	if (json_string_length(v) >= len)
		return ab_err_set(err, EINVAL, "configuration: '%s' is too long", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Fills S from the configuration object and sets up the libsmbclient context. */
static int
smbfs_configure(json_t *cfg, struct ab_err *err)
{
	char server[256] = "", share[256] = "", path[2048] = "";
	int r = 0;
	if ((r = copy_str(cfg, "user", true, S.user, sizeof(S.user), err)) < 0 ||
	    (r = copy_str(cfg, "server", true, server, sizeof(server), err)) < 0 ||
	    (r = copy_str(cfg, "share", true, share, sizeof(share), err)) < 0 ||
	    (r = copy_str(cfg, "path", false, path, sizeof(path), err)) < 0 ||
	    (r = copy_str(cfg, "username", true, S.username, sizeof(S.username), err)) < 0 ||
	    (r = copy_str(cfg, "workgroup", false, S.workgroup, sizeof(S.workgroup), err)) < 0)
		return r;
	json_t *pw = json_object_get(cfg, "password");
	if (!json_is_string(pw))
		return ab_err_set(err, EINVAL, "configuration: 'password' must be a string");
	size_t pwlen = json_string_length(pw);
	S.password = ab_xmalloc(pwlen + 1);
	mlock(S.password, pwlen + 1);
	memcpy(S.password, json_string_value(pw), pwlen + 1);
	explicit_bzero((char *)json_string_value(pw), pwlen);
	S.uid = (uid_t)json_integer_value(json_object_get(cfg, "uid"));
	S.gid = (gid_t)json_integer_value(json_object_get(cfg, "gid"));
	S.usage.quota = json_integer_value(json_object_get(cfg, "quota"));
	json_int_t port = json_integer_value(json_object_get(cfg, "port"));
	json_int_t timeout = json_integer_value(json_object_get(cfg, "timeout_ms"));
	if (port < 0 || port > 65535 || S.usage.quota < 0 || timeout < 0 || timeout > 600000)
		return ab_err_set(err, EINVAL,
		                  "configuration: port, quota or timeout_ms out of range");
	/* the share's base URL: the path's segments encoded like every path below it */
	snprintf(S.base, sizeof(S.base), "smb://%s/%s", server, share);
	char enc[SMBFS_URL_MAX];
	_cleanup_free_ char *rel = ab_xasprintf("/%s", path);
	if ((r = smbfs_url(rel, enc, sizeof(enc))) < 0)
		return ab_err_set(err, -r, "configuration: 'path' is too long");
	if (strcmp(enc + strlen(S.base), "/") == 0)
		enc[strlen(S.base)] = '\0';
	snprintf(S.base, sizeof(S.base), "%s", enc);

	S.ctx = smbc_new_context();
	if (!S.ctx)
		return ab_err_errno(err, errno ? errno : ENOMEM, "smbc_new_context");
	smbc_setFunctionAuthDataWithContext(S.ctx, smbfs_auth);
	smbc_setOptionNoAutoAnonymousLogin(S.ctx, 1);
	smbc_setOptionUseKerberos(S.ctx, 0);
	smbc_setOptionFallbackAfterKerberos(S.ctx, 1);
	smbc_setTimeout(S.ctx, timeout ? (int)timeout : 5000);
	if (port)
		smbc_setPort(S.ctx, (uint16_t)port);
	if (!smbc_init_context(S.ctx))
		return ab_err_errno(err, errno ? errno : EINVAL, "smbc_init_context");
	smbc_setOptionProtocols(S.ctx, "SMB2_02", "SMB3");
	smbc_set_context(S.ctx);
	return 0;
}

/* Reads the JSON configuration from fd and fills S; the text is wiped before returning. */
static int
smbfs_load(int fd, struct ab_err *err)
{
	char *text = ab_xmalloc(SMBFS_CONFIG_MAX);
	mlock(text, SMBFS_CONFIG_MAX);
	int n = read_all(fd, text, SMBFS_CONFIG_MAX);
	close(fd);
	json_error_t jerr;
	json_t *cfg = n >= 0 ? json_loadb(text, (size_t)n, 0, &jerr) : NULL;
	explicit_bzero(text, SMBFS_CONFIG_MAX);
	munlock(text, SMBFS_CONFIG_MAX);
	free(text);
	if (n < 0)
		return ab_err_set(err, -n, "reading the configuration fd");
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return ab_err_set(err, EINVAL, "the configuration is not a JSON object");
	}
	int r = smbfs_configure(cfg, err);
	json_decref(cfg);
	return r;
}

/*
 * Before mounting: the home's folder on the share must be reachable with these credentials
 * (created when missing, like a local home), so that a wrong password or an unreachable
 * server fails the mount with its reason instead of giving the desktop a broken home.
 */
static int
smbfs_reach_home(struct ab_err *err)
{
	struct stat st;
	int r;
	SMBFS_RETRY(r, smbc_stat(S.base, &st));
	if (r == -ENOENT) {
		SMBFS_RETRY(r, smbc_mkdir(S.base, 0700));
		if (r == 0)
			SMBFS_RETRY(r, smbc_stat(S.base, &st));
	}
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r < 0)
		return ab_err_set(err, -r, "cannot reach '%s' as '%s': %s", S.base, S.username,
		                  strerror(-r));
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: argobox-smbfs --config-fd N [--status-fd M] [--audit FILE] MOUNTPOINT\n"
	           "Serves one user's SMB home as a FUSE file system (started by argobox-broker;"
	           " docs/files.md).\n");
}

static void
status(int fd, const char *msg)
{
	if (fd < 0)
		return;
	dprintf(fd, "%s\n", msg);
	close(fd);
}

static int
fd_arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 3 || v > 1 << 20 || fcntl((int)v, F_GETFD) < 0)
		return -1;
	return (int)v;
}

int
main(int argc, char **argv)
{
	ab_log_init("smbfs");
	static const struct option opts[] = {
	    {"config-fd", required_argument, NULL, 'c'},
	    {"status-fd", required_argument, NULL, 's'},
	    {"audit", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int config_fd = -1, status_fd = -1, c;
	const char *audit_path = NULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 's':
			if (fd_arg(optarg) < 0) {
				fprintf(stderr, "argobox-smbfs: bad fd '%s'\n", optarg);
				return 2;
			}
			*(c == 'c' ? &config_fd : &status_fd) = fd_arg(optarg);
			break;
		case 'a':
			audit_path = optarg;
			break;
		default:
			return ab_usage(usage, c == 'h');
		}
	}
	if (config_fd < 0 || optind + 1 != argc)
		return ab_usage(usage, false);
	const char *mountpoint = argv[optind];
	if (status_fd >= 0)
		fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	/* Outlive the broker: own session, no terminal signals. */
	(void)setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);

	struct ab_err err = {0};
	char msg[1200];
	if (audit_open(audit_path, &err) < 0 || smbfs_load(config_fd, &err) < 0) {
		snprintf(msg, sizeof(msg), "error: %s", err.msg);
		status(status_fd, msg);
		fprintf(stderr, "argobox-smbfs: %s\n", err.msg);
		return 1;
	}
	if (smbfs_reach_home(&err) < 0) {
		snprintf(msg, sizeof(msg), "error: %s", err.msg);
		status(status_fd, msg);
		fprintf(stderr, "argobox-smbfs: %s\n", err.msg);
		return 1;
	}
	_cleanup_free_ char *fsname = ab_xasprintf("fsname=argobox-smbfs:%s", S.user);
	char *fargv[] = {argv[0], "-o", "allow_other,default_permissions", "-o", fsname,
	                 "-d",    NULL};
	struct fuse_args args = FUSE_ARGS_INIT(5, fargv);
	struct fuse *fuse = fuse_new(&args, &smbfs_ops, sizeof(smbfs_ops), NULL);
	fuse_opt_free_args(&args);
	if (!fuse || fuse_mount(fuse, mountpoint) != 0) {
		snprintf(msg, sizeof(msg), "error: mounting on '%s' failed", mountpoint);
		status(status_fd, msg);
		fprintf(stderr, "argobox-smbfs: %s\n", msg + 7);
		if (fuse)
			fuse_destroy(fuse);
		return 1;
	}
	fuse_set_signal_handlers(fuse_get_session(fuse));
	smbfs_usage_scan();
	status(status_fd, "mounted");
	smbfs_audit("files.smb", AUDIT_INFO,
	            json_pack("{sssssIsIsb}", "step", "mounted", "server", S.base, "used",
	                      (json_int_t)S.usage.used, "quota", (json_int_t)S.usage.quota,
	                      "connected", !S.down));
	int r = fuse_loop(fuse);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	fuse_unmount(fuse);
	fuse_destroy(fuse);
	list_cache_drop();
	free(L.v);
	smbc_free_context(S.ctx, 1);
	if (S.password) {
		explicit_bzero(S.password, strlen(S.password));
		free(S.password);
	}
	smbfs_audit("files.smb", AUDIT_INFO, json_pack("{ss}", "step", "unmounted"));
	audit_close();
	return r == 0 ? 0 : 1;
}
