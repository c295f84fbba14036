/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files: the files API over a user's home (see files.h; docs/files.md).
 *
 *   GET    /api/files[/<path>]   a directory: JSON listing (+ usage); a file: its bytes
 *                                (Range, ETag, Content-Disposition); ?stat=1: one entry
 *   DELETE /api/files/<path>     into the trash (files_trash.c); ?permanent=1: unlinked (a
 *                                file, a link or an empty directory)
 *   GET    /api/files/<dir>?archive=tar|zip   the folder as a tar or zip streamed from a child
 *   POST   /api/files/<path>     {"action":"mkdir"} | {"action":"rename","to":"<path>"} |
 *                                {"action":"copy","to":"<path>"} (a child: files_jobs.c)
 *
 * Uploads are files_upload.c's (tus), usage and quota files_usage.c's. Every handler opens
 * the home as a directory fd and everything in it with ab_open_beneath() or *at() calls on
 * a parent reached that way, never following a symlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_safe.h"
#include "ab_util.h"
#include "files_internal.h"

#define API_FILES       "/api/files"
#define API_FILES_SLASH "/api/files/"
#define LIST_DEFAULT    1000
#define LIST_MAX        10000
#define LIST_OFFSET_MAX 100000 /* beyond: the cursor (memory is offset + limit entries) */

/* ---- configuration ---- */

static const char *const config_keys[] = {
    "quota_bytes", "upload_max_bytes", "usage_refresh_s", "profiles", "users", "backend",
    "smb",         "local_quota",      "op_timeout_ms"};

static int
check_bytes(json_t *v, const char *path, struct ab_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ab_err_set(err, EINVAL, "%s: must be a number of bytes >= 0", path);
	return 0;
}

int
files_check_config(json_t *c, struct ab_err *err)
{
	if (!c)
		return 0;
	const char *key;
	json_t *v;
	json_object_foreach(c, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < AB_ARRAY_SIZE(config_keys); i++)
			known = known || strcmp(key, config_keys[i]) == 0;
		if (!known)
			return ab_err_set(err, EINVAL, "files.%s: unknown key", key);
		char path[128];
		snprintf(path, sizeof(path), "files.%s", key);
		if (strcmp(key, "profiles") == 0 || strcmp(key, "users") == 0) {
			if (!json_is_object(v))
				return ab_err_set(err, EINVAL, "%s: must be an object", path);
			const char *k2;
			json_t *v2;
			json_object_foreach(v, k2, v2)
			{
				snprintf(path, sizeof(path), "files.%s.%.40s", key, k2);
				if (check_bytes(v2, path, err) < 0)
					return -EINVAL;
			}
		} else if (strcmp(key, "backend") == 0 || strcmp(key, "smb") == 0 ||
		           strcmp(key, "local_quota") == 0) {
			continue; /* files_smb_check_config, files_image_check_config */
		} else if (strcmp(key, "op_timeout_ms") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 100 ||
			    json_integer_value(v) > 600000)
				return ab_err_set(err, EINVAL, "%s: must be 100..600000", path);
		} else if (strcmp(key, "usage_refresh_s") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 86400)
				return ab_err_set(err, EINVAL, "%s: must be 1..86400", path);
		} else if (check_bytes(v, path, err) < 0) {
			return -EINVAL;
		}
	}
	int r = files_smb_check_config(c, err);
	return r < 0 ? r : files_image_check_config(c, err);
}

int64_t
files_quota(const struct files *f, const char *user, const char *profile)
{
	json_t *u = json_object_get(json_object_get(f->config, "users"), user);
	if (json_is_integer(u))
		return json_integer_value(u);
	json_t *p = profile && profile[0]
	                ? json_object_get(json_object_get(f->config, "profiles"), profile)
	                : NULL;
	if (json_is_integer(p))
		return json_integer_value(p);
	return f->quota_default;
}

/* ---- paths and homes ---- */

int
files_path_check(const char *rel, const char **why)
{
	size_t len = strlen(rel);
	*why = NULL;
	if (len > FILES_PATH_MAX)
		*why = "path too long";
	else if (rel[0] == '/')
		*why = "absolute path refused";
	else if (!ab_utf8_valid(rel, len))
		*why = "path is not valid UTF-8";
	for (size_t i = 0; !*why && i < len; i++)
		if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f)
			*why = "control character in path";
	for (const char *p = rel; !*why && *p;) {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0)
			*why = "empty path segment";
		else if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			*why = "'.' or '..' in path refused";
		else if (n > FILES_NAME_MAX)
			*why = "name longer than 255 bytes";
		p = q ? q + 1 : p + n;
		if (q && !*p)
			*why = "empty path segment";
	}
	return *why ? -EINVAL : 0;
}

const char *
files_strerror(int r)
{
	switch (-r) {
	case ELOOP:
		return "a symbolic link on the way (links are not followed)";
	case EXDEV:
		return "outside the home";
	case ENOENT:
		return "no such file or directory";
	case ENOTDIR:
		return "not a directory on the way";
	case EEXIST:
		return "already exists";
	case ENOTEMPTY:
		return "directory not empty";
	case EISDIR:
		return "is a directory";
	case ENOSPC:
	case EDQUOT:
		return "no space left on the home's storage";
	case ENAMETOOLONG:
		return "name too long";
	case EHOSTDOWN:
		return "the home's storage (SMB server) is unreachable: try again later";
	default:
		return strerror(-r);
	}
}

int
files_status(int r)
{
	switch (-r) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case ELOOP:
	case EXDEV:
	case EACCES:
	case EPERM:
		return 403;
	case EEXIST:
	case ENOTEMPTY:
	case EISDIR:
		return 409;
	case ENOSPC:
	case EDQUOT:
		return 507;
	case EINVAL:
	case ENAMETOOLONG:
		return 400;
	case EHOSTDOWN:
		return 503;
	default:
		return 500;
	}
}

void
files_audit_as(const char *event, enum audit_outcome outcome, const char *user, const char *role,
               const char *peer, json_t *detail)
{
	if (!files_audit_collect(event, outcome, user, role, peer, detail))
		audit_log(event, outcome, user, role, peer, detail);
}

void
files_audit(const char *event, enum audit_outcome outcome, const struct http_request *req,
            json_t *detail)
{
	files_audit_as(event, outcome, req->user[0] ? req->user : NULL,
	               req->role[0] ? req->role : NULL, req->peer, detail);
}

int
files_home_of(struct files *f, const char *user, struct files_home *h, const char **why)
{
	*h = (struct files_home){0};
	if (!users_name_valid(user)) {
		*why = "not a user with a home";
		return -ENOENT;
	}
	int r = f->home(f->home_data, user, h);
	if (r < 0) {
		*why = "no home on the host for this user (demo desktops keep their files in the "
		       "container)";
		return -ENOENT;
	}
	/* The base belongs to root (0711); only the last component is the user's. */
	char base[sizeof(h->dir)];
	snprintf(base, sizeof(base), "%s", h->dir);
	char *slash = strrchr(base, '/');
	if (!slash || slash == base || strcmp(slash + 1, user) != 0) {
		*why = "home directory misconfigured";
		return -EINVAL;
	}
	return 0;
}

int
files_home_open(struct files *f, const char *user, struct files_home *h, const char **why)
{
	char base[sizeof(h->dir)];
	snprintf(base, sizeof(base), "%s", h->dir);
	*strrchr(base, '/') = '\0'; /* files_home_of checked it */
	struct ab_err err = {0};
	if (files_smb_enabled(f)) {
		(void)ab_mkdir_p(base, 0711, NULL);
		if (files_smb_mount(f, user, h, &err) < 0) {
			ab_warn("files: %s", err.msg);
			*why = files_strerror(-EHOSTDOWN);
			return -EHOSTDOWN;
		}
	} else if (files_image_enabled(f)) {
		(void)ab_mkdir_p(base, 0711, NULL);
		if (files_image_mount(f, user, h, &err) < 0) {
			ab_warn("files: %s", err.msg);
			*why = "the home's storage image cannot be mounted";
			return -EIO;
		}
	}
	_cleanup_close_ int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 && errno == ENOENT && ab_mkdir_p(base, 0711, NULL) >= 0)
		bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		*why = "home base directory unusable";
		return -errno;
	}
	int fd = ab_open_beneath(bfd, user, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT) {
		if (mkdirat(bfd, user, 0700) < 0 && errno != EEXIST) {
			*why = "cannot create the home";
			return -errno;
		}
		fd = ab_open_beneath(bfd, user, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0 && (fchown(fd, h->uid, h->gid) < 0 || fchmod(fd, 0700) < 0)) {
			close(fd);
			*why = "cannot give the home to its user";
			return -EPERM;
		}
	}
	if (fd < 0)
		*why = files_strerror(fd);
	return fd;
}

int
files_open_home(struct files *f, const char *user, struct files_home *h, const char **why)
{
	int r = files_home_of(f, user, h, why);
	return r < 0 ? r : files_home_open(f, user, h, why);
}

int
files_open_parent(int homefd, const char *rel, char *name, size_t name_len)
{
	const char *slash = strrchr(rel, '/');
	snprintf(name, name_len, "%s", slash ? slash + 1 : rel);
	if (!slash) {
		int fd = fcntl(homefd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	_cleanup_free_ char *parent = ab_xstrndup(rel, (size_t)(slash - rel));
	return ab_open_beneath(homefd, parent, O_PATH | O_DIRECTORY, 0);
}

int
files_mkdirs(int homefd, const char *rel, const struct files_home *h)
{
	int fd = fcntl(homefd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	_cleanup_free_ char *copy = ab_xstrdup(rel);
	char *save = NULL;
	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		int next = ab_open_beneath(fd, seg, O_RDONLY | O_DIRECTORY, 0);
		if (next == -ENOENT) {
			if (mkdirat(fd, seg, 0755) < 0 && errno != EEXIST) {
				int e = -errno;
				close(fd);
				return e;
			}
			next = ab_open_beneath(fd, seg, O_RDONLY | O_DIRECTORY, 0);
			if (next >= 0 && fchown(next, h->uid, h->gid) < 0) {
				int e = -errno;
				close(next);
				close(fd);
				return e;
			}
		}
		close(fd);
		if (next < 0)
			return next;
		fd = next;
	}
	return fd;
}

/* ---- listing ---- */

struct entry {
	char *name;
	struct stat st;
};

static const char *
type_name(mode_t m)
{
	return S_ISREG(m)    ? "file"
	       : S_ISDIR(m)  ? "directory"
	       : S_ISLNK(m)  ? "symlink"
	       : S_ISFIFO(m) ? "fifo"
	       : S_ISSOCK(m) ? "socket"
	                     : "other";
}

/* One listing entry (also the answer of ?stat=1): name, type, size, mtime, mode, MIME. */
static json_t *
entry_json(const char *name, const struct stat *st)
{
	json_t *e = json_pack("{sssssIsIsi}", "name", name, "type", type_name(st->st_mode), "size",
	                      (json_int_t)st->st_size, "mtime", (json_int_t)st->st_mtime, "mode",
	                      (int)(st->st_mode & 07777));
	if (S_ISREG(st->st_mode))
		json_object_set_new(e, "mime", json_string(server_mime_type(name)));
	return e;
}

/* per thread: listings run on the users' worker threads (files_worker.c) */
static __thread int sort_key; /* 0 name, 1 size, 2 mtime */
static __thread int sort_dir; /* 1 asc, -1 desc */

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	/* directories first, then the key, then the name */
	bool dx = S_ISDIR(x->st.st_mode), dy = S_ISDIR(y->st.st_mode);
	if (dx != dy)
		return dx ? -1 : 1;
	int c = 0;
	if (sort_key == 1)
		c = (x->st.st_size > y->st.st_size) - (x->st.st_size < y->st.st_size);
	else if (sort_key == 2)
		c = (x->st.st_mtime > y->st.st_mtime) - (x->st.st_mtime < y->st.st_mtime);
	if (!c)
		c = strcmp(x->name, y->name);
	return c * sort_dir; /* directories stay first either way */
}

/*
 * A request of /api/files on its way through its user's worker thread (files_worker.c):
 * a copy of the request (req.wsi is NULL: the connection is the loop's) with the query
 * parameters and headers the handlers read, taken on the loop.
 */
enum { FREQ_PLAIN, FREQ_COPY, FREQ_ARCHIVE };
static const char *const freq_names[] = {"sort",  "order",   "cursor",        "offset",
                                         "limit", "archive", "if-none-match", "range"};
#define FREQ_NQUERY 6 /* the first six are query parameters, the rest headers */
struct freq {
	struct files_op op; /* first */
	struct files *f;
	struct http_request req;
	char *method, *path, *query, *body, *rel;
	char peer[64];
	char *args[AB_ARRAY_SIZE(freq_names)];
	const char *event;
	struct files_home h;
	/* made on the worker */
	struct http_response resp;
	json_t *listing;  /* a listing: its usage is added on the loop */
	int64_t smb_used; /* an SMB home's usage (argobox-smbfs's count), -1 unknown */
	int64_t usage_delta;
	bool home_ok; /* the home was mounted and opened */
	int next;     /* FREQ_COPY, FREQ_ARCHIVE: started on the loop with homefd */
	int homefd;
	char *copy_to;
	struct http_deferred *d; /* NULL once answered or the client left */
};

/* A query parameter or header of the request, as read on the loop (NULL when absent). */
static const char *
freq_arg(const struct http_request *req, const char *name)
{
	const struct freq *fr =
	    (const struct freq *)(const void *)((const char *)req - offsetof(struct freq, req));
	for (size_t i = 0; i < AB_ARRAY_SIZE(freq_names); i++)
		if (strcmp(freq_names[i], name) == 0)
			return fr->args[i];
	AB_ASSERT(!"a request argument not taken on the loop");
	return NULL;
}

static long
query_long(const struct http_request *req, const char *name, long def, long lo, long hi)
{
	const char *q = freq_arg(req, name);
	if (!q)
		return def;
	char *end;
	long v = strtol(q, &end, 10);
	return (*end || v < lo) ? def : v > hi ? hi : v;
}

/* Whether the query has name=value (from req->query: lws parses no arguments of a DELETE). */
static bool
query_is(const struct http_request *req, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	for (const char *p = req->query; p && *p;) {
		if (strncmp(p, name, n) == 0 && p[n] == '=' && strncmp(p + n + 1, value, v) == 0 &&
		    (p[n + 1 + v] == '&' || !p[n + 1 + v]))
			return true;
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return false;
}

/* The page's heap: the worst kept entry (by entry_cmp) on top. */
static void
heap_sift_down(struct entry *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && entry_cmp(&v[l], &v[m]) > 0)
			m = l;
		if (r < n && entry_cmp(&v[r], &v[m]) > 0)
			m = r;
		if (m == i)
			return;
		struct entry t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

static void
heap_push(struct entry *v, size_t n, struct entry e)
{
	size_t i = n;
	v[i] = e;
	while (i > 0 && entry_cmp(&v[i], &v[(i - 1) / 2]) > 0) {
		struct entry t = v[i];
		v[i] = v[(i - 1) / 2];
		v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* "d|f:<key>:<name>": where the next page starts (after this entry in the sort order). */
static json_t *
cursor_json(const struct entry *e)
{
	long long key = sort_key == 1   ? (long long)e->st.st_size
	                : sort_key == 2 ? (long long)e->st.st_mtime
	                                : 0;
	return json_sprintf("%c:%lld:%s", S_ISDIR(e->st.st_mode) ? 'd' : 'f', key, e->name);
}

static int
cursor_parse(const char *c, struct entry *ret)
{
	char *end;
	if ((c[0] != 'd' && c[0] != 'f') || c[1] != ':')
		return -EINVAL;
	long long key = strtoll(c + 2, &end, 10);
	if (*end != ':' || end == c + 2)
		return -EINVAL;
	*ret = (struct entry){.name = end + 1};
	ret->st.st_mode = c[0] == 'd' ? S_IFDIR : S_IFREG;
	ret->st.st_size = key;
	ret->st.st_mtime = key;
	return 0;
}

/*
 * A directory listing in pages of bounded memory: one pass of readdir + fstatat keeps only
 * the page's entries (offset + limit with ?offset=, limit after ?cursor=) in a heap, so a
 * directory of any size costs O(page) memory; the answer's "next" is the cursor of the page
 * after this one (null at the end).
 */
static void
list_dir(struct files *f, struct http_request *req, struct http_response *resp, int fd,
         const char *rel, const struct files_home *h)
{
	const char *sort = freq_arg(req, "sort");
	const char *order = freq_arg(req, "order");
	const char *cq = freq_arg(req, "cursor");
	sort = sort ? sort : "name";
	order = order ? order : "asc";
	sort_key = strcmp(sort, "size") == 0 ? 1 : strcmp(sort, "mtime") == 0 ? 2 : 0;
	sort_dir = strcmp(order, "desc") == 0 ? -1 : 1;
	long off = query_long(req, "offset", 0, 0, LONG_MAX);
	long lim = query_long(req, "limit", LIST_DEFAULT, 1, LIST_MAX);
	struct entry cursor;
	const char *why = NULL;
	if (cq && (strlen(cq) > FILES_NAME_MAX + 40 || cursor_parse(cq, &cursor) < 0 || off))
		why = off ? "offset and cursor together" : "bad cursor";
	else if (off > LIST_OFFSET_MAX)
		why = "offset too large: page on with the cursor of the answer's \"next\"";
	if (why) {
		files_audit("files.list", AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", why));
		http_response_error(resp, 400, why);
		return;
	}
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		http_response_error(resp, 500, "cannot read the directory");
		return;
	}
	bool hidden = query_is(req, "hidden", "1");
	size_t keep = (size_t)(cq ? lim : off + lim), n = 0, total = 0, skipped = 0, after = 0;
	struct entry *v = ab_xmalloc((keep + 1) * sizeof(*v));
	struct dirent *de;
	int err = 0; /* a failure half-way (the SMB server gone): no partial listing */
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			err = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!hidden && de->d_name[0] == '.')
			continue;
		struct entry e = {.name = de->d_name};
		if (!ab_utf8_valid(de->d_name, strlen(de->d_name))) {
			skipped++;
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &e.st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) /* gone since readdir */
				continue;
			err = -errno;
			break;
		}
		total++;
		if (cq && entry_cmp(&e, &cursor) <= 0)
			continue;
		after++;
		if (n == keep && entry_cmp(&e, &v[0]) >= 0)
			continue;
		e.name = ab_xstrdup(e.name);
		if (n == keep) {
			free(v[0].name);
			v[0] = e;
			heap_sift_down(v, n, 0);
		} else {
			heap_push(v, n++, e);
		}
	}
	closedir(d);
	if (err) {
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		files_audit("files.list", AUDIT_FAILURE, req,
		            json_pack("{ssss}", "path", rel, "reason", files_strerror(err)));
		http_response_error(resp, files_status(err), files_strerror(err));
		return;
	}
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);
	size_t first = cq ? 0 : (size_t)AB_MIN((size_t)off, n);
	json_t *entries = json_array();
	for (size_t i = first; i < n; i++)
		json_array_append_new(entries, entry_json(v[i].name, &v[i].st));
	json_t *next = n > first && after > n ? cursor_json(&v[n - 1]) : json_null();
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	/* the usage is added on the loop (freq_done): files_usage is the loop's */
	struct freq *fr = (struct freq *)(void *)((char *)req - offsetof(struct freq, req));
	fr->listing =
	    json_pack("{sssosIsIsIso}", "path", rel, "entries", entries, "total", (json_int_t)total,
	              "offset", (json_int_t)off, "skipped", (json_int_t)skipped, "next", next);
	files_audit("files.list", AUDIT_GRANT, req,
	            json_pack("{sssI}", "path", rel, "entries", (json_int_t)total));
}

/* ---- download ---- */

int
files_parse_range(const char *h, unsigned long long size, unsigned long long *start,
                  unsigned long long *end)
{
	if (!h)
		return 0;
	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0; /* other units or several ranges: the whole file */
	const char *p = h + 6;
	char *e;
	if (*p == '-') {
		unsigned long long n = strtoull(p + 1, &e, 10);
		if (e == p + 1 || *e || n == 0)
			return -1;
		if (size == 0)
			return -1;
		*start = n >= size ? 0 : size - n;
		*end = size - 1;
		return 1;
	}
	unsigned long long a = strtoull(p, &e, 10);
	if (e == p || *e != '-')
		return -1;
	const char *q = e + 1;
	unsigned long long b = size ? size - 1 : 0;
	if (*q) {
		b = strtoull(q, &e, 10);
		if (*e || b < a)
			return -1;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*start = a;
	*end = b;
	return 1;
}

/* Content-Disposition: attachment; filename*=UTF-8''<percent-encoded> */
void
files_add_disposition(struct http_response *resp, const char *name)
{
	char out[3 * FILES_NAME_MAX + 64] = "attachment; filename*=UTF-8''";
	size_t o = strlen(out);
	ab_percent_encode(name, "-._~", out + o, sizeof(out) - o);
	http_response_add_header(resp, "Content-Disposition", out);
}

static void
download(struct files *f, struct http_request *req, struct http_response *resp, int *fdp,
         const struct stat *st, const char *rel, const struct files_home *h)
{
	const char *why = NULL;
	if (!S_ISREG(st->st_mode))
		why = "not a regular file or directory";
	else if (st->st_nlink > 1 && st->st_uid != h->uid)
		why = "a hard link to a file the user does not own";
	if (why) {
		files_audit("files.download", AUDIT_DENY, req,
		            json_pack("{ssssss}", "path", rel, "reason", why, "type",
		                      type_name(st->st_mode)));
		http_response_error(resp, 403, why);
		return;
	}
	unsigned long long size = (unsigned long long)st->st_size, a = 0, b = size ? size - 1 : 0;
	char etag[96];
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", size,
	         (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
	             (unsigned long long)st->st_mtim.tv_nsec,
	         (unsigned long long)st->st_ino);
	http_response_add_header(resp, "ETag", etag);
	http_response_add_header(resp, "Accept-Ranges", "bytes");
	http_response_add_header(resp, "Cache-Control", "private, no-cache");
	const char *slash = strrchr(rel, '/');
	files_add_disposition(resp, slash ? slash + 1 : rel);
	const char *inm = freq_arg(req, "if-none-match");
	if (inm && strcmp(inm, etag) == 0) {
		http_response_set(resp, 304, "application/octet-stream", "", 0);
		return;
	}
	const char *range = freq_arg(req, "range");
	int k = files_parse_range(range, size, &a, &b);
	if (k < 0) {
		char cr[64];
		snprintf(cr, sizeof(cr), "bytes */%llu", size);
		http_response_add_header(resp, "Content-Range", cr);
		files_audit("files.download", AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", "range not satisfiable"));
		http_response_error(resp, 416, "range not satisfiable");
		return;
	}
	unsigned long long len = size ? b - a + 1 : 0;
	if (k == 1) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", a, b, size);
		http_response_add_header(resp, "Content-Range", cr);
	}
	/* regular file: reads never block on O_NONBLOCK, but drop it anyway */
	fcntl(*fdp, F_SETFL, fcntl(*fdp, F_GETFL) & ~O_NONBLOCK);
	json_t *det = json_pack("{sssI}", "path", rel, "bytes", (json_int_t)len);
	if (k == 1)
		json_object_set_new(det, "range", json_sprintf("%llu-%llu", a, b));
	files_audit("files.download", AUDIT_GRANT, req, det);
	http_response_fd(resp, k == 1 ? 206 : 200, server_mime_type(rel), TAKE_FD(*fdp), a, len);
}

/*
 * An SMB home's file goes out through its user's worker: a read there can stall with the
 * server, and sendfile() on the loop would stall the loop with it. One slice of
 * DL_SLICE bytes is read ahead while the loop sends the other (two buffers), so the
 * broker holds 2 x DL_SLICE per download, whatever the file's size.
 */
#define DL_SLICE (1u << 20)
struct dl {
	struct files_op op; /* first: one read at a time */
	struct files *f;
	int fd;
	unsigned long long off, left; /* the next read's offset, bytes not read yet */
	char *buf[2];
	size_t len[2], pos; /* buf[cur] holds len[cur] bytes, pos of them sent */
	int cur;            /* the buffer being sent */
	int fill;           /* the buffer the worker reads into (set before it runs) */
	ssize_t got;        /* the last read's result (worker) */
	bool busy, failed, closed;
	struct http_stream *h;
	char user[USERS_NAME_MAX + 1];
};

static void
dl_free(struct dl *dl)
{
	close(dl->fd);
	free(dl->buf[0]);
	free(dl->buf[1]);
	free(dl);
}

static void
dl_run(struct files_op *op)
{
	struct dl *dl = (struct dl *)op;
	size_t n = (size_t)AB_MIN(dl->left, (unsigned long long)DL_SLICE);
	ssize_t got;
	do
		got = pread(dl->fd, dl->buf[dl->fill], n, (off_t)dl->off);
	while (got < 0 && errno == EINTR);
	dl->got = got < 0 ? -errno : got;
}

static void
dl_done(struct files_op *op)
{
	struct dl *dl = (struct dl *)op;
	if (dl->got <= 0) {
		ab_warn("files: download of '%s' cut: %s", dl->user,
		        dl->got < 0 ? files_strerror((int)dl->got) : "the file shrank");
		dl->failed = true;
	} else {
		dl->len[dl->fill] = (size_t)dl->got;
		dl->off += (unsigned long long)dl->got;
		dl->left -= (unsigned long long)dl->got;
	}
	server_stream_wake(dl->h);
}

static void
dl_expired(struct files_op *op)
{
	struct dl *dl = (struct dl *)op;
	files_audit_as("files.download", AUDIT_FAILURE, dl->user, NULL, NULL,
	               json_pack("{sssI}", "reason",
	                         "the home's storage did not answer: the download was cut",
	                         "timeout_ms", (json_int_t)op->timeout_ms));
	dl->failed = true;
	server_stream_wake(dl->h);
}

static void
dl_release(struct files_op *op)
{
	struct dl *dl = (struct dl *)op;
	dl->busy = false;
	if (dl->closed)
		dl_free(dl);
	else
		server_stream_wake(dl->h); /* the next slice may be wanted now */
}

/* Starts reading the next slice into the free buffer, if there is one to read. */
static void
dl_next(struct dl *dl)
{
	if (dl->busy || dl->failed || !dl->left || dl->len[!dl->cur])
		return;
	dl->fill = !dl->cur;
	dl->op = (struct files_op){
	    .run = dl_run, .done = dl_done, .expired = dl_expired, .release = dl_release};
	if (files_op_submit(dl->f, dl->user, &dl->op, dl->f->op_timeout_ms) < 0)
		dl->failed = true;
	else
		dl->busy = true;
}

static void
dl_start(void *ctx, struct http_stream *h)
{
	struct dl *dl = ctx;
	dl->h = h;
	dl_next(dl);
}

static long
dl_read(void *ctx, char *buf, size_t cap)
{
	struct dl *dl = ctx;
	if (dl->pos == dl->len[dl->cur] && dl->len[!dl->cur]) {
		/* this buffer is sent, the other is full: swap */
		dl->len[dl->cur] = 0;
		dl->pos = 0;
		dl->cur = !dl->cur;
	}
	if (dl->pos < dl->len[dl->cur]) {
		size_t n = AB_MIN(cap, dl->len[dl->cur] - dl->pos);
		memcpy(buf, dl->buf[dl->cur] + dl->pos, n);
		dl->pos += n;
		if (dl->pos == dl->len[dl->cur]) {
			dl->len[dl->cur] = 0;
			dl->pos = 0;
			if (dl->len[!dl->cur])
				dl->cur = !dl->cur;
		}
		dl_next(dl);
		return (long)n;
	}
	if (dl->failed || (!dl->left && !dl->busy))
		return -1; /* the end; or cut short of Content-Length: the client sees it */
	dl_next(dl);
	return dl->failed ? -1 : 0;
}

static void
dl_close(void *ctx)
{
	struct dl *dl = ctx;
	dl->closed = true;
	dl->h = NULL;
	if (!dl->busy)
		dl_free(dl);
}

static const struct http_stream_ops dl_ops = {
    .start = dl_start, .read = dl_read, .close = dl_close};

void
files_download_stream(struct files *f, struct http_response *resp, const char *user)
{
	struct dl *dl = ab_xcalloc(1, sizeof(*dl));
	dl->f = f;
	dl->fd = resp->fd;
	dl->off = resp->fd_offset;
	dl->left = resp->fd_len;
	dl->buf[0] = ab_xmalloc(DL_SLICE);
	dl->buf[1] = ab_xmalloc(DL_SLICE);
	dl->cur = 1; /* the first read fills buf[0] */
	snprintf(dl->user, sizeof(dl->user), "%s", user);
	resp->fd_set = false;
	resp->fd = -1;
	char cl[32];
	snprintf(cl, sizeof(cl), "%llu", (unsigned long long)dl->left);
	http_response_add_header(resp, "Content-Length", cl);
	char ct[sizeof(resp->content_type)];
	snprintf(ct, sizeof(ct), "%s", resp->content_type);
	http_response_stream(resp, resp->status, ct, &dl_ops, dl);
}

/* ---- delete, mkdir, rename ---- */

static void
remove_path(struct files *f, struct http_request *req, struct http_response *resp, int homefd,
            const char *rel, const struct files_home *h)
{
	char name[FILES_NAME_MAX + 1], trashed[FILES_NAME_MAX + 1];
	bool permanent = query_is(req, "permanent", "1");
	_cleanup_close_ int pfd = files_open_parent(homefd, rel, name, sizeof(name));
	struct stat st;
	int r = pfd < 0 ? pfd : fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r >= 0 && permanent && unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		r = -errno;
	if (r >= 0 && !permanent)
		r = files_trash(homefd, rel, req->user, h, trashed, sizeof(trashed));
	if (r < 0) {
		files_audit("files.delete", AUDIT_DENY, req,
		            json_pack("{sssssb}", "path", rel, "reason", files_strerror(r),
		                      "permanent", permanent));
		http_response_error(resp, files_status(r), files_strerror(r));
		return;
	}
	json_t *det = json_pack("{sssssIsb}", "path", rel, "type", type_name(st.st_mode), "bytes",
	                        (json_int_t)st.st_size, "permanent", permanent);
	if (!permanent) {
		/* still in the home: the usage does not move */
		json_object_set_new(det, "trash", json_string(trashed));
		files_audit("files.delete", AUDIT_GRANT, req, det);
		http_response_json(
		    resp, 200,
		    json_pack("{ssss+}", "path", rel, "trash", FILES_TRASH "/files/", trashed));
		return;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink == 1) {
		struct freq *fr = (struct freq *)(void *)((char *)req - offsetof(struct freq, req));
		fr->usage_delta -= (int64_t)st.st_size; /* applied on the loop */
	}
	files_audit("files.delete", AUDIT_GRANT, req, det);
	http_response_set(resp, 204, "application/json", "", 0);
}

/* GET ?stat=1: one entry, the listing's shape; a link is described, never followed. */
static void
stat_path(struct http_request *req, struct http_response *resp, int homefd, const char *rel)
{
	char name[FILES_NAME_MAX + 1];
	_cleanup_close_ int pfd = rel[0] ? files_open_parent(homefd, rel, name, sizeof(name))
	                                 : fcntl(homefd, F_DUPFD_CLOEXEC, 3);
	struct stat st;
	int r = pfd < 0 ? pfd
	        : fstatat(pfd, rel[0] ? name : "", &st,
	                  AT_SYMLINK_NOFOLLOW | (rel[0] ? 0 : AT_EMPTY_PATH)) < 0
	            ? -errno
	            : 0;
	if (r < 0) {
		files_audit("files.stat", AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", files_strerror(r)));
		http_response_error(resp, files_status(r), files_strerror(r));
		return;
	}
	files_audit("files.stat", AUDIT_GRANT, req, json_pack("{ss}", "path", rel));
	json_t *e = entry_json(rel[0] ? name : "", &st);
	json_object_set_new(e, "path", json_string(rel));
	http_response_json(resp, 200, e);
}

static void
post_action(struct files *f, struct http_request *req, struct http_response *resp, int homefd,
            const char *rel, const struct files_home *h)
{
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
	const char *action = json_string_value(json_object_get(body, "action"));
	const char *why = NULL;
	int r = 0;
	if (action && strcmp(action, "copy") == 0) {
		/* forks and watches a child: the loop starts it (freq_done) */
		struct freq *fr = (struct freq *)(void *)((char *)req - offsetof(struct freq, req));
		const char *to = json_string_value(json_object_get(body, "to"));
		fr->next = FREQ_COPY;
		fr->copy_to = to ? ab_xstrdup(to) : NULL;
		return;
	}
	if (!action || (strcmp(action, "mkdir") != 0 && strcmp(action, "rename") != 0)) {
		why = "body must be {\"action\":\"mkdir\"} or {\"action\":\"rename\"|\"copy\","
		      "\"to\":PATH}";
		r = -EINVAL;
	} else if (strcmp(action, "mkdir") == 0) {
		int fd = files_mkdirs(homefd, rel, h);
		r = fd < 0 ? fd : 0;
		if (fd >= 0)
			close(fd);
		if (r < 0)
			why = files_strerror(r);
		files_audit("files.mkdir", r < 0 ? AUDIT_DENY : AUDIT_GRANT, req,
		            r < 0 ? json_pack("{ssss}", "path", rel, "reason", why)
		                  : json_pack("{ss}", "path", rel));
	} else {
		const char *to = json_string_value(json_object_get(body, "to"));
		char n1[FILES_NAME_MAX + 1], n2[FILES_NAME_MAX + 1];
		if (!to) {
			why = "rename needs \"to\": the new path relative to the home";
			r = -EINVAL;
		} else if (files_path_check(to, &why) < 0 || !to[0]) {
			why = why ? why : "empty target";
			r = -EINVAL;
		} else {
			_cleanup_close_ int p1 = files_open_parent(homefd, rel, n1, sizeof(n1));
			_cleanup_close_ int p2 = files_open_parent(homefd, to, n2, sizeof(n2));
			r = p1 < 0 ? p1 : p2 < 0 ? p2 : 0;
			if (r >= 0 && renameat2(p1, n1, p2, n2, RENAME_NOREPLACE) < 0)
				r = -errno;
			if (r < 0)
				why = files_strerror(r);
		}
		json_t *det = json_pack("{ssss?}", "path", rel, "to", to);
		if (why)
			json_object_set_new(det, "reason", json_string(why));
		files_audit("files.rename", r < 0 ? AUDIT_DENY : AUDIT_GRANT, req, det);
	}
	if (r < 0) {
		if (!action)
			files_audit("files.request", AUDIT_DENY, req,
			            json_pack("{ssss}", "path", rel, "reason", why));
		http_response_error(resp, files_status(r), why);
		return;
	}
	http_response_json(resp, strcmp(action, "mkdir") == 0 ? 201 : 200,
	                   json_pack("{ss}", "path", rel));
}

/* ---- dispatch ---- */

/* On the worker: the request from the home's opening to its answer (or its next step). */
static void
freq_run(struct files_op *op)
{
	struct freq *fr = (struct freq *)op;
	struct files *f = fr->f;
	struct http_request *req = &fr->req;
	struct http_response *resp = &fr->resp;
	const char *rel = fr->rel, *why = NULL;
	_cleanup_close_ int homefd = files_home_open(f, req->user, &fr->h, &why);
	if (homefd < 0) {
		files_audit(fr->event, AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", why));
		http_response_error(resp, files_status(homefd), why);
		return;
	}
	fr->home_ok = true;
	if (strcmp(req->method, "DELETE") == 0) {
		remove_path(f, req, resp, homefd, rel, &fr->h);
	} else if (strcmp(req->method, "POST") == 0) {
		post_action(f, req, resp, homefd, rel, &fr->h);
	} else if (query_is(req, "stat", "1")) {
		stat_path(req, resp, homefd, rel);
	} else if (freq_arg(req, "archive")) {
		fr->next = FREQ_ARCHIVE; /* a child the loop starts and watches */
	} else {
		_cleanup_close_ int fd =
		    rel[0] ? ab_open_beneath(homefd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0)
		           : fcntl(homefd, F_DUPFD_CLOEXEC, 3);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			int r = fd < 0 ? fd : -errno;
			files_audit("files.download", AUDIT_DENY, req,
			            json_pack("{ssss}", "path", rel, "reason", files_strerror(r)));
			http_response_error(resp, files_status(r), files_strerror(r));
		} else if (S_ISDIR(st.st_mode)) {
			list_dir(f, req, resp, fd, rel, &fr->h);
		} else {
			download(f, req, resp, &fd, &st, rel, &fr->h);
		}
	}
	if (fr->listing && files_smb_enabled(f)) {
		int64_t used;
		fr->smb_used = files_smb_usage(fr->h.dir, &used) ? used : -1;
	}
	if (fr->next)
		fr->homefd = TAKE_FD(homefd);
}

static void
freq_release(struct files_op *op)
{
	struct freq *fr = (struct freq *)op;
	if (fr->d) { /* never answered (the broker is stopping) */
		http_response_error(server_deferred_response(fr->d), 503, "the broker is stopping");
		server_deferred_done(fr->d);
	}
	if (fr->homefd >= 0)
		close(fr->homefd);
	http_response_clear(&fr->resp);
	json_decref(fr->listing);
	for (size_t i = 0; i < AB_ARRAY_SIZE(fr->args); i++)
		free(fr->args[i]);
	free(fr->method);
	free(fr->path);
	free(fr->query);
	free(fr->body);
	free(fr->rel);
	free(fr->copy_to);
	free(fr);
}

/* The client left: the worker's call goes on (it cannot be stopped); nobody is answered. */
static void
freq_cancel(void *ctx)
{
	struct freq *fr = ctx;
	fr->d = NULL;
}

/* On the loop: the worker's answer, or the step that needs the loop (copy, archive). */
static void
freq_done(struct files_op *op)
{
	struct freq *fr = (struct freq *)op;
	struct files *f = fr->f;
	if (fr->home_ok && f->mounted)
		json_object_set_new(f->mounted, fr->req.user, json_true());
	if (fr->usage_delta)
		files_usage_add(f, fr->req.user, fr->usage_delta);
	if (!fr->d)
		return;
	struct http_response *resp = server_deferred_response(fr->d);
	if (fr->next && files_worker_wedged(f, fr->req.user)) {
		/* a copy or archive starts on the loop: never behind a stalled storage */
		files_refuse_busy(&fr->req, resp, fr->event, fr->rel, -EBUSY);
	} else if (fr->next == FREQ_COPY) {
		files_copy_start(f, &fr->req, resp, fr->homefd, fr->rel, fr->copy_to, &fr->h);
	} else if (fr->next == FREQ_ARCHIVE) {
		const char *fmt = freq_arg(&fr->req, "archive");
		files_archive_start(f, &fr->req, resp, fr->homefd, fr->rel, &fr->h,
		                    strcmp(fmt, "zip") == 0);
	} else if (fr->listing) {
		json_t *usage;
		if (files_smb_enabled(f)) {
			int64_t limit = files_quota(f, fr->req.user, fr->h.profile);
			usage =
			    json_pack("{s:o, s:o, s:b}", "used",
			              fr->smb_used >= 0 ? json_integer(fr->smb_used) : json_null(),
			              "limit", limit > 0 ? json_integer(limit) : json_null(),
			              "known", fr->smb_used >= 0);
		} else {
			usage = files_usage_json(f, fr->req.user, &fr->h);
		}
		json_object_set_new(fr->listing, "usage", usage);
		http_response_json(resp, 200, TAKE_PTR(fr->listing));
	} else {
		struct http_deferred *d = resp->deferred;
		*resp = fr->resp;
		resp->deferred = d;
		fr->resp = (struct http_response){0};
		if (resp->fd_set && files_smb_enabled(f))
			files_download_stream(f, resp, fr->req.user);
	}
	server_deferred_done(fr->d);
	fr->d = NULL;
}

/* On the loop: the worker did not answer in time (the home's storage is stalled). */
static void
freq_expired(struct files_op *op)
{
	struct freq *fr = (struct freq *)op;
	char why[160];
	snprintf(why, sizeof(why),
	         "the home's storage did not answer within %lld ms: try again later",
	         (long long)op->timeout_ms);
	files_audit(fr->event, AUDIT_FAILURE, &fr->req,
	            json_pack("{sssssssI}", "path", fr->rel, "method", fr->req.method, "reason",
	                      why, "timeout_ms", (json_int_t)op->timeout_ms));
	if (!fr->d)
		return;
	http_response_error(server_deferred_response(fr->d), 504, why);
	server_deferred_done(fr->d);
	fr->d = NULL;
}

int64_t
files_op_timeout(struct files *f, const char *user)
{
	/* the first request of a home may wait for its mount */
	bool mounts = files_smb_enabled(f) || files_image_enabled(f);
	return f->op_timeout_ms +
	       (mounts && !json_object_get(f->mounted, user) ? f->smb_wait_ms : 0);
}

void
files_refuse_busy(struct http_request *req, struct http_response *resp, const char *event,
                  const char *rel, int r)
{
	const char *why = r == -EBUSY ? "the home's storage is not answering (a request is stuck "
	                                "on it): try again later"
	                              : "too many requests on this home at once: try again later";
	files_audit(event, AUDIT_FAILURE, req,
	            json_pack("{ssssss}", "path", rel, "method", req->method, "reason", why));
	http_response_error(resp, 503, why);
	http_response_add_header(resp, "Retry-After", "5");
}

static int
files_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct files *f = data;
	const char *rel =
	    strcmp(req->path, API_FILES) == 0 ? "" : req->path + strlen(API_FILES_SLASH);
	const char *event = strcmp(req->method, "DELETE") == 0 ? "files.delete"
	                    : strcmp(req->method, "POST") == 0 ? "files.request"
	                                                       : "files.download";
	const char *why = NULL;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
	    strcmp(req->method, "DELETE") != 0 && strcmp(req->method, "POST") != 0) {
		http_response_error(resp, 405, "method not allowed (GET, HEAD, DELETE or POST)");
		http_response_add_header(resp, "Allow", "GET, HEAD, DELETE, POST");
		return 0;
	}
	if (files_path_check(rel, &why) < 0) {
		files_audit(event, AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", why));
		http_response_error(resp, 400, why);
		return 0;
	}
	struct files_home h;
	int r = files_home_of(f, req->user, &h, &why);
	if (r < 0) {
		files_audit(event, AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", why));
		http_response_error(resp, files_status(r), why);
		return 0;
	}
	if ((strcmp(req->method, "DELETE") == 0 || strcmp(req->method, "POST") == 0) && !rel[0]) {
		files_audit(event, AUDIT_DENY, req,
		            json_pack("{ssss}", "path", rel, "reason", "the home itself"));
		http_response_error(resp, 400, "the home itself cannot be changed");
		return 0;
	}
	char fb[32];
	const char *fmt = http_request_query(req, "archive", fb, sizeof(fb));
	if (fmt && !query_is(req, "stat", "1") && strcmp(req->method, "GET") == 0 &&
	    strcmp(fmt, "tar") != 0 && strcmp(fmt, "zip") != 0) {
		files_audit(
		    "files.archive", AUDIT_DENY, req,
		    json_pack("{ssss}", "path", rel, "reason", "archive must be tar or zip"));
		http_response_error(resp, 400, "archive must be tar or zip");
		return 0;
	}
	/* the file-system calls run on the user's worker thread, the answer comes deferred */
	struct freq *fr = ab_xcalloc(1, sizeof(*fr));
	fr->f = f;
	fr->homefd = -1;
	fr->smb_used = -1;
	fr->h = h;
	fr->event = event;
	fr->method = ab_xstrdup(req->method);
	fr->path = ab_xstrdup(req->path);
	fr->query = ab_xstrdup(req->query ? req->query : "");
	fr->body = ab_xmalloc(req->body_len + 1);
	memcpy(fr->body, req->body, req->body_len);
	fr->body[req->body_len] = '\0';
	fr->rel = ab_xstrdup(rel);
	snprintf(fr->peer, sizeof(fr->peer), "%s", req->peer ? req->peer : "");
	fr->req = (struct http_request){.method = fr->method,
	                                .path = fr->path,
	                                .query = fr->query,
	                                .body = fr->body,
	                                .body_len = req->body_len,
	                                .peer = fr->peer};
	snprintf(fr->req.user, sizeof(fr->req.user), "%s", req->user);
	snprintf(fr->req.role, sizeof(fr->req.role), "%s", req->role);
	for (size_t i = 0; i < AB_ARRAY_SIZE(freq_names); i++) {
		char buf[FILES_NAME_MAX * 3 + 64];
		const char *v = i < FREQ_NQUERY
		                    ? http_request_query(req, freq_names[i], buf, sizeof(buf))
		                    : http_request_header(req, freq_names[i], buf, sizeof(buf));
		fr->args[i] = v ? ab_xstrdup(v) : NULL;
	}
	fr->op.run = freq_run;
	fr->op.done = freq_done;
	fr->op.expired = freq_expired;
	fr->op.release = freq_release;
	r = files_op_submit(f, req->user, &fr->op, files_op_timeout(f, req->user));
	if (r < 0) {
		files_refuse_busy(req, resp, event, rel, r);
		freq_release(&fr->op);
		return 0;
	}
	fr->d = http_response_defer(resp, freq_cancel, fr);
	return 0;
}

/*
 * The routes, one per authz row: tests/unit/auth/authz_routes.py compares the list below
 * with broker/auth/authz.c's table (line comments, since the paths end in a slash and a star).
 * The prefix route serves exactly these (the uploads' are files_upload.c's).
 */
// routes:
//   GET    /api/files
//   GET    /api/files/*
//   POST   /api/files/*
//   DELETE /api/files/*
// end routes
int
files_add_routes(struct files *f, struct server *srv)
{
	if (server_route_add(srv, "GET", API_FILES, files_http, f) < 0 ||
	    server_route_add(srv, NULL, API_FILES_SLASH, files_http, f) < 0)
		return -ENOSPC;
	return files_upload_add_routes(f, srv);
}

int
files_new(struct ab_loop *loop, const struct files_params *p, struct files **ret,
          struct ab_err *err)
{
	struct files *f = ab_xcalloc(1, sizeof(*f));
	f->loop = loop;
	f->config = p->config ? json_incref(p->config) : json_object();
	f->home = p->home;
	f->home_data = p->home_data;
	f->desktops = p->desktops;
	snprintf(f->smbfs, sizeof(f->smbfs), "%s", p->smbfs ? p->smbfs : "");
	snprintf(f->audit_path, sizeof(f->audit_path), "%s", p->audit_path ? p->audit_path : "");
	if (p->config_path && files_smb_has_password(f->config)) {
		struct stat st;
		if (stat(p->config_path, &st) == 0 && (st.st_mode & 077)) {
			files_free(f);
			return ab_err_set(
			    err, EPERM,
			    "files.smb: '%s' holds an SMB password and is mode %04o: make "
			    "it 0600 (or use password_file)",
			    p->config_path, st.st_mode & 07777);
		}
	}
	json_t *tmo = json_object_get(json_object_get(f->config, "smb"), "timeout_ms");
	f->smb_wait_ms = (tmo ? json_integer_value(tmo) : 5000) * 3 + 5000;
	json_t *otm = json_object_get(f->config, "op_timeout_ms");
	f->op_timeout_ms = otm ? json_integer_value(otm) : FILES_OP_TIMEOUT_MS;
	f->mounted = json_object();
	json_t *q = json_object_get(f->config, "quota_bytes");
	f->quota_default = q ? json_integer_value(q) : 100LL << 30; /* the original's 100 GiB */
	json_t *m = json_object_get(f->config, "upload_max_bytes");
	f->upload_max = m ? json_integer_value(m) : 0;
	json_t *rs = json_object_get(f->config, "usage_refresh_s");
	f->refresh_ms = (rs ? json_integer_value(rs) : 60) * 1000;
	snprintf(f->records, sizeof(f->records), "%.4000s/files/uploads", p->data_dir);
	snprintf(f->images, sizeof(f->images), "%.4000s/files/images", p->data_dir);
	int r = ab_mkdir_p(f->records, 0700, err);
	if (r >= 0 && (r = files_workers_new(f)) < 0)
		ab_err_errno(err, -r, "worker threads");
	if (r >= 0)
		r = files_upload_load(f, err);
	if (r < 0) {
		ab_err_wrap(err, "files");
		files_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

void
files_free(struct files *f)
{
	if (!f)
		return;
	files_workers_free(f);
	files_upload_free_all(f);
	files_usage_free_all(f);
	files_jobs_free_all(f);
	json_decref(f->mounted);
	json_decref(f->config);
	free(f);
}
