/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_upload: resumable uploads, tus 1.0.0 core + creation + termination
 * (https://tus.io/protocols/resumable-upload; docs/files.md).
 *
 *   POST   /api/uploads        Upload-Length, Upload-Metadata "filename <b64>,destination <b64>"
 *                              -> 201, Location: /api/uploads/<id>
 *   HEAD   /api/uploads/<id>   -> Upload-Offset, Upload-Length (resume from there)
 *   PATCH  /api/uploads/<id>   Upload-Offset, Content-Type: application/offset+octet-stream;
 *                              the body streams into the temporary file (server_body_ops)
 *   DELETE /api/uploads/<id>   terminate: the temporary file goes
 *
 * Bytes go to <home>/.argobox-uploads/<id>.part (owned by the user, opened beneath the
 * home); when the last byte is in, the file is fsync'ed and renamed into the destination
 * directory without replacing anything ("name (2).ext" when taken), so no partial file ever
 * shows under the final name. The upload's record (who, length, names) is kept in
 * <data_dir>/files/uploads/<id>.json, written atomically; after a broker restart the offset
 * is the temporary file's size.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_safe.h"
#include "ab_util.h"
#include "desktop.h"
#include "files_internal.h"

#define API_UPLOADS       "/api/uploads"
#define API_UPLOADS_SLASH "/api/uploads/"
#define TUS_VERSION       "1.0.0"
#define TUS_MAX_META      4096

/* ---- records ---- */

static struct files_upload *
upload_find(struct files *f, const char *id)
{
	for (struct files_upload *u = f->uploads; u; u = u->next)
		if (!u->gone && strcmp(u->id, id) == 0)
			return u;
	return NULL;
}

static void
record_path(const struct files *f, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.json", f->records, id);
}

static int
record_save(struct files *f, const struct files_upload *u, struct ab_err *err)
{
	char path[4200];
	record_path(f, u->id, path, sizeof(path));
	json_t *o = json_pack("{sssssIsssssI}", "id", u->id, "user", u->user, "length",
	                      (json_int_t)u->length, "filename", u->filename, "destination",
	                      u->dest, "created_ms", (json_int_t)u->created_ms);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int r = ab_write_file_atomic(path, s, strlen(s), 0600, err);
	free(s);
	return r;
}

static void
record_remove(struct files *f, const char *id)
{
	char path[4200];
	record_path(f, id, path, sizeof(path));
	unlink(path);
}

static void
tmp_name(const struct files_upload *u, char *buf, size_t len)
{
	snprintf(buf, len, FILES_UPLOAD_DIR "/%s.part", u->id);
}

/* Removes the temporary file (best effort) and marks the upload gone. */
static void
upload_drop(struct files *f, struct files_upload *u)
{
	struct files_home h;
	const char *why;
	_cleanup_close_ int homefd = files_open_home(f, u->user, &h, &why);
	char tmp[64];
	tmp_name(u, tmp, sizeof(tmp));
	if (homefd >= 0) {
		_cleanup_close_ int dfd =
		    ab_open_beneath(homefd, FILES_UPLOAD_DIR, O_PATH | O_DIRECTORY, 0);
		if (dfd >= 0)
			unlinkat(dfd, tmp + strlen(FILES_UPLOAD_DIR) + 1, 0);
	}
	record_remove(f, u->id);
	u->gone = true;
}

/* Frees the uploads that are gone and not being written. */
static void
uploads_reap(struct files *f)
{
	for (struct files_upload **pp = &f->uploads; *pp;) {
		struct files_upload *u = *pp;
		if (u->gone && !u->busy) {
			*pp = u->next;
			free(u);
		} else {
			pp = &u->next;
		}
	}
}

static bool
id_valid(const char *id)
{
	if (strlen(id) != 32)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int
files_upload_load(struct files *f, struct ab_err *err)
{
	DIR *d = opendir(f->records);
	if (!d)
		return ab_err_errno(err, errno, "opening '%s'", f->records);
	struct dirent *de;
	int64_t now = ab_wall_ms();
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n != 37 || strcmp(de->d_name + 32, ".json") != 0)
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", f->records, de->d_name);
		json_t *o = json_load_file(path, 0, NULL);
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *user = json_string_value(json_object_get(o, "user"));
		const char *fn = json_string_value(json_object_get(o, "filename"));
		const char *dest = json_string_value(json_object_get(o, "destination"));
		const char *why;
		if (!id || !id_valid(id) || strncmp(id, de->d_name, 32) != 0 || !user ||
		    !users_name_valid(user) || !fn || files_path_check(fn, &why) < 0 ||
		    strchr(fn, '/') || !dest || files_path_check(dest, &why) < 0) {
			ab_warn("files: dropping the unreadable upload record '%s'", path);
			unlink(path);
			json_decref(o);
			continue;
		}
		struct files_upload *u = ab_xcalloc(1, sizeof(*u));
		snprintf(u->id, sizeof(u->id), "%s", id);
		snprintf(u->user, sizeof(u->user), "%s", user);
		snprintf(u->filename, sizeof(u->filename), "%s", fn);
		snprintf(u->dest, sizeof(u->dest), "%s", dest);
		u->length = json_integer_value(json_object_get(o, "length"));
		u->created_ms = json_integer_value(json_object_get(o, "created_ms"));
		json_decref(o);
		u->next = f->uploads;
		f->uploads = u;
		if (now - u->created_ms > FILES_UPLOAD_TTL) {
			upload_drop(f, u);
			continue;
		}
		/* the offset is what reached the disk */
		struct files_home h;
		_cleanup_close_ int homefd = files_open_home(f, u->user, &h, &why);
		char tmp[64];
		tmp_name(u, tmp, sizeof(tmp));
		_cleanup_close_ int fd =
		    homefd >= 0 ? ab_open_beneath(homefd, tmp, O_RDONLY | O_NONBLOCK, 0) : -1;
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			upload_drop(f, u);
			continue;
		}
		u->offset = AB_MIN((int64_t)st.st_size, u->length);
	}
	closedir(d);
	uploads_reap(f);
	return 0;
}

void
files_upload_free_all(struct files *f)
{
	while (f->uploads) {
		struct files_upload *u = f->uploads;
		f->uploads = u->next;
		free(u);
	}
}

/* ---- tus helpers ---- */

static void
tus_headers(struct http_response *resp)
{
	http_response_add_header(resp, "Tus-Resumable", TUS_VERSION);
	http_response_add_header(resp, "Cache-Control", "no-store");
}

static void
tus_error(struct http_response *resp, int status, const char *msg)
{
	http_response_error(resp, status, msg);
	tus_headers(resp);
}

static void
deny(const char *event, struct http_request *req, struct http_response *resp, int status,
     const char *why, json_t *detail)
{
	if (!detail)
		detail = json_object();
	json_object_set_new(detail, "reason", json_string(why));
	json_object_set_new(detail, "status", json_integer(status));
	files_audit(event, AUDIT_DENY, req, detail);
	tus_error(resp, status, why);
}

static bool
tus_version_ok(struct http_request *req, struct http_response *resp)
{
	char v[32];
	if (http_request_header(req, "tus-resumable", v, sizeof(v)) && strcmp(v, TUS_VERSION) == 0)
		return true;
	http_response_error(resp, 412, "Tus-Resumable: 1.0.0 required");
	http_response_add_header(resp, "Tus-Version", TUS_VERSION);
	return false;
}

int64_t
files_tus_parse_u53(const char *s)
{
	if (!s || !*s || strlen(s) > 16)
		return -1;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v < (1LL << 53) ? v : -1;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes base64 (padding optional) into out (NUL-terminated). -1 on bad input or no room. */
static int
b64_decode(const char *in, size_t n, char *out, size_t size)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=')
			break;
		int v = b64_val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return memchr(out, '\0', o) ? -1 : (int)o;
}

int
files_tus_meta_get(const char *meta, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	for (const char *p = meta; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= kl && strncmp(p, key, kl) == 0 && (n == kl || p[kl] == ' ')) {
			if (n == kl) {
				out[0] = '\0';
				return 1;
			}
			return b64_decode(p + kl + 1, n - kl - 1, out, size) < 0 ? -1 : 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* ---- creation ---- */

static int
upload_create(struct http_request *req, struct http_response *resp, void *data)
{
	struct files *f = data;
	const char *ev = "files.upload";
	if (!tus_version_ok(req, resp))
		return 0;
	if (files_worker_wedged(f, req->user)) {
		/* these calls still run on the loop: never behind a stalled storage */
		files_refuse_busy(req, resp, ev, "", -EBUSY);
		tus_headers(resp);
		return 0;
	}
	char lenbuf[32], meta[TUS_MAX_META];
	int64_t length =
	    files_tus_parse_u53(http_request_header(req, "upload-length", lenbuf, sizeof(lenbuf)));
	if (length < 0) {
		deny(ev, req, resp, 400,
		     "Upload-Length (a number of bytes) required; deferred length is not supported",
		     NULL);
		return 0;
	}
	if (!http_request_header(req, "upload-metadata", meta, sizeof(meta)))
		meta[0] = '\0';
	char filename[FILES_NAME_MAX + 8], dest[FILES_PATH_MAX + 8];
	int k1 = files_tus_meta_get(meta, "filename", filename, sizeof(filename));
	int k2 = files_tus_meta_get(meta, "destination", dest, sizeof(dest));
	const char *why = NULL;
	if (k1 < 0)
		why =
		    "Upload-Metadata 'filename' is not valid base64, holds a NUL or is longer than "
		    "255 bytes";
	else if (k1 == 0 || !filename[0])
		why = "Upload-Metadata needs 'filename' (base64)";
	else if (k2 < 0)
		why = "Upload-Metadata 'destination' is not valid base64 or too long";
	else if (strchr(filename, '/'))
		why = "filename must be a single name, without '/'";
	else
		files_path_check(filename, &why);
	if (!why) {
		if (k2 == 0)
			snprintf(dest, sizeof(dest), "%s", FILES_DEFAULT_DIR);
		/* "" and "/" both mean the home itself; any other absolute path is refused */
		if (strcmp(dest, "/") == 0)
			dest[0] = '\0';
		files_path_check(dest, &why);
	}
	if (why) {
		deny(ev, req, resp, 400, why, json_pack("{ss}", "metadata", meta));
		return 0;
	}
	json_t *det = json_pack("{sssssI}", "filename", filename, "destination", dest, "length",
	                        (json_int_t)length);
	struct files_home h;
	_cleanup_close_ int homefd = files_open_home(f, req->user, &h, &why);
	if (homefd < 0) {
		deny(ev, req, resp, files_status(homefd), why, det);
		return 0;
	}
	unsigned open = 0;
	for (struct files_upload *o = f->uploads; o; o = o->next)
		open += !o->gone && strcmp(o->user, req->user) == 0;
	if (open >= FILES_UPLOADS_PER_USER) {
		deny(ev, req, resp, 429, "too many unfinished uploads: finish or cancel some first",
		     det);
		return 0;
	}
	/* the destination must be a directory reachable without a link (created as needed) */
	_cleanup_close_ int ddir = files_mkdirs(homefd, dest, &h);
	if (ddir < 0) {
		deny(ev, req, resp, files_status(ddir), files_strerror(ddir), det);
		return 0;
	}
	int64_t quota = files_quota(f, req->user, h.profile), used = 0;
	int64_t max = f->upload_max;
	if (max > 0 && length > max) {
		char msg[128];
		snprintf(msg, sizeof(msg), "upload larger than the limit of %" PRId64 " bytes",
		         max);
		deny(ev, req, resp, 413, msg, det);
		return 0;
	}
	bool known = files_usage_get(f, req->user, h.dir, &used);
	if (quota > 0 && (length > quota || (known && used + length > quota))) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "quota exceeded: %" PRId64 " bytes would make %" PRId64 " of %" PRId64
		         " bytes",
		         length, used + length, quota);
		json_object_set_new(det, "used", json_integer(used));
		json_object_set_new(det, "quota", json_integer(quota));
		deny("files.quota", req, resp, 413, msg, det);
		return 0;
	}
	/* the temporary file, the user's own, beneath the home */
	_cleanup_close_ int tdir = files_mkdirs(homefd, FILES_UPLOAD_DIR, &h);
	if (tdir >= 0)
		fchmod(tdir, 0700);
	struct files_upload *u = ab_xcalloc(1, sizeof(*u));
	unsigned char rnd[16];
	ab_random_bytes(rnd, sizeof(rnd));
	ab_hex(rnd, sizeof(rnd), u->id);
	snprintf(u->user, sizeof(u->user), "%.32s", req->user);
	snprintf(u->filename, sizeof(u->filename), "%.255s", filename);
	snprintf(u->dest, sizeof(u->dest), "%.4000s", dest);
	u->length = length;
	u->created_ms = ab_wall_ms();
	char tmp[64];
	tmp_name(u, tmp, sizeof(tmp));
	int fd = tdir < 0 ? tdir : ab_open_beneath(homefd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct ab_err err = {0};
	if (fd >= 0 && fchown(fd, h.uid, h.gid) < 0)
		fd = -errno;
	if (fd < 0 || record_save(f, u, &err) < 0) {
		why = fd < 0 ? files_strerror(fd) : err.msg;
		ab_warn("upload for '%s': %s", req->user, why);
		/* the record is in the data dir: a full disk there is 507 too, said plainly (the
		 * message names no server path); the empty temporary file goes */
		int r = fd < 0 ? fd : -(err.code ? err.code : EIO);
		if (fd >= 0) {
			close(fd);
			unlinkat(tdir, tmp + strlen(FILES_UPLOAD_DIR) + 1, 0);
		}
		bool full = fd >= 0 && (r == -ENOSPC || r == -EDQUOT);
		deny(ev, req, resp, files_status(r),
		     full ? "cannot create the upload: no space left on the server's disk"
		          : "cannot create the upload",
		     det);
		free(u);
		return 0;
	}
	close(fd);
	u->next = f->uploads;
	f->uploads = u;
	json_object_set_new(det, "id", json_string(u->id));
	json_object_set_new(det, "step", json_string("create"));
	files_audit(ev, AUDIT_GRANT, req, det);
	char loc[64];
	snprintf(loc, sizeof(loc), API_UPLOADS_SLASH "%s", u->id);
	http_response_json(resp, 201, json_pack("{ss}", "location", loc));
	http_response_add_header(resp, "Location", loc);
	tus_headers(resp);
	return 0;
}

/* ---- the upload's own URL: HEAD, GET, DELETE ---- */

static struct files_upload *
upload_of(struct files *f, struct http_request *req)
{
	const char *id = req->path + strlen(API_UPLOADS_SLASH);
	struct files_upload *u = id_valid(id) ? upload_find(f, id) : NULL;
	return u && strcmp(u->user, req->user) == 0 ? u : NULL;
}

static void
offset_headers(struct http_response *resp, const struct files_upload *u)
{
	char b[32];
	snprintf(b, sizeof(b), "%" PRId64, u->offset);
	http_response_add_header(resp, "Upload-Offset", b);
	snprintf(b, sizeof(b), "%" PRId64, u->length);
	http_response_add_header(resp, "Upload-Length", b);
}

/*
 * HEAD, GET and DELETE of an upload: its temporary file is reached on the user's worker
 * (files_worker.c), the answer deferred. The upload is busy meanwhile (a PATCH gets 423).
 */
struct uop {
	struct files_op op; /* first */
	struct files *f;
	struct files_upload *u;
	struct files_home h;
	bool del, head;
	int64_t size; /* the temporary file's size, -1 unknown */
	char user[USERS_NAME_MAX + 1], role[16], peer[64];
	struct http_deferred *d;
};

static void
uop_run(struct files_op *op)
{
	struct uop *o = (struct uop *)op;
	const char *why = NULL;
	char tmp[64];
	tmp_name(o->u, tmp, sizeof(tmp));
	_cleanup_close_ int homefd = files_home_open(o->f, o->u->user, &o->h, &why);
	if (homefd < 0)
		return;
	if (o->del) {
		_cleanup_close_ int dfd =
		    ab_open_beneath(homefd, FILES_UPLOAD_DIR, O_PATH | O_DIRECTORY, 0);
		if (dfd >= 0)
			unlinkat(dfd, tmp + strlen(FILES_UPLOAD_DIR) + 1, 0);
		return;
	}
	_cleanup_close_ int fd = ab_open_beneath(homefd, tmp, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		o->size = st.st_size;
}

static void
uop_req(const struct uop *o, struct http_request *req)
{
	*req = (struct http_request){
	    .peer = o->peer, .method = o->del ? "DELETE" : "HEAD", .path = ""};
	snprintf(req->user, sizeof(req->user), "%s", o->user);
	snprintf(req->role, sizeof(req->role), "%s", o->role);
}

/* On the loop once the call returned (in time or not): its result counts either way. */
static void
uop_release(struct files_op *op)
{
	struct uop *o = (struct uop *)op;
	struct files_upload *u = o->u;
	struct files *f = o->f;
	struct http_request req;
	uop_req(o, &req);
	u->busy = false;
	if (o->del) {
		record_remove(f, u->id);
		u->gone = true;
		files_usage_add(f, u->user, -u->offset);
		files_audit("files.upload", AUDIT_INFO, &req,
		            json_pack("{sssssI}", "id", u->id, "step", "terminate", "offset",
		                      (json_int_t)u->offset));
	} else if (o->size >= 0 && o->size < u->offset) {
		/* bytes the storage accepted but then lost (an SMB home's write-behind that could
		 * not be sent before the server went away) are sent again, never zero-filled */
		ab_warn("upload %s: the temporary file holds %lld of %lld bytes: resuming from "
		        "there",
		        u->id, (long long)o->size, (long long)u->offset);
		files_usage_add(f, u->user, o->size - u->offset);
		u->offset = o->size;
	}
	if (o->d) {
		struct http_response *resp = server_deferred_response(o->d);
		if (o->del) {
			http_response_set(resp, 204, "application/json", "", 0);
		} else {
			if (o->head)
				http_response_set(resp, 200, "application/json", "", 0);
			else
				http_response_json(resp, 200,
				                   json_pack("{sssIsIssss}", "id", u->id, "offset",
				                             (json_int_t)u->offset, "length",
				                             (json_int_t)u->length, "filename",
				                             u->filename, "destination", u->dest));
			offset_headers(resp, u);
		}
		tus_headers(resp);
		server_deferred_done(o->d);
	}
	free(o);
	uploads_reap(f);
}

static void
uop_expired(struct files_op *op)
{
	struct uop *o = (struct uop *)op;
	struct http_request req;
	uop_req(o, &req);
	char why[160];
	snprintf(why, sizeof(why),
	         "the home's storage did not answer within %lld ms: try again later",
	         (long long)op->timeout_ms);
	files_audit("files.upload", AUDIT_FAILURE, &req,
	            json_pack("{sssssssI}", "id", o->u->id, "step", o->del ? "terminate" : "offset",
	                      "reason", why, "timeout_ms", (json_int_t)op->timeout_ms));
	if (!o->d)
		return;
	struct http_response *resp = server_deferred_response(o->d);
	tus_error(resp, 504, why);
	server_deferred_done(o->d);
	o->d = NULL;
}

static void
uop_cancel(void *ctx)
{
	((struct uop *)ctx)->d = NULL;
}

static int
upload_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct files *f = data;
	bool head = strcmp(req->method, "HEAD") == 0, get = strcmp(req->method, "GET") == 0;
	bool del = strcmp(req->method, "DELETE") == 0;
	if (!head && !get && !del) {
		tus_error(resp, 405, "method not allowed (HEAD, GET, PATCH or DELETE)");
		http_response_add_header(resp, "Allow", "HEAD, GET, PATCH, DELETE");
		return 0;
	}
	if (!get && !tus_version_ok(req, resp))
		return 0;
	struct files_upload *u = upload_of(f, req);
	if (!u) {
		/* someone else's upload is not found either */
		if (del)
			deny("files.upload", req, resp, 404, "no such upload",
			     json_pack("{ss}", "path", req->path));
		else
			tus_error(resp, 404, "no such upload");
		return 0;
	}
	if (del && u->busy) {
		deny("files.upload", req, resp, 423, "the upload is being written",
		     json_pack("{ss}", "id", u->id));
		return 0;
	}
	if (u->busy) { /* a PATCH writes it: its offset is what the broker counted */
		if (head)
			http_response_set(resp, 200, "application/json", "", 0);
		else
			http_response_json(resp, 200,
			                   json_pack("{sssIsIssss}", "id", u->id, "offset",
			                             (json_int_t)u->offset, "length",
			                             (json_int_t)u->length, "filename", u->filename,
			                             "destination", u->dest));
		offset_headers(resp, u);
		tus_headers(resp);
		return 0;
	}
	const char *why = NULL;
	struct files_home h;
	int r = files_home_of(f, u->user, &h, &why);
	if (r < 0) {
		deny("files.upload", req, resp, files_status(r), why,
		     json_pack("{ss}", "id", u->id));
		return 0;
	}
	struct uop *o = ab_xcalloc(1, sizeof(*o));
	o->f = f;
	o->u = u;
	o->h = h;
	o->del = del;
	o->head = head;
	o->size = -1;
	snprintf(o->user, sizeof(o->user), "%.32s", req->user);
	snprintf(o->role, sizeof(o->role), "%s", req->role);
	snprintf(o->peer, sizeof(o->peer), "%s", req->peer ? req->peer : "");
	o->op = (struct files_op){.run = uop_run, .expired = uop_expired, .release = uop_release};
	r = files_op_submit(f, u->user, &o->op, files_op_timeout(f, u->user));
	if (r < 0) {
		files_refuse_busy(req, resp, "files.upload", u->id, r);
		tus_headers(resp);
		free(o);
		return 0;
	}
	u->busy = true;
	o->d = http_response_defer(resp, uop_cancel, o);
	return 0;
}

/* ---- PATCH: the bytes ---- */

/*
 * A PATCH's file-system calls (open, each chunk's pwrite, the final fsync and rename) run on
 * the user's worker thread (files_worker.c), one at a time: the server reads no more of the
 * body while a chunk is being written (SERVER_BODY_PAUSE), so memory is one chunk, and a
 * stalled SMB server holds this request only. A step that does not finish within
 * files.op_timeout_ms answers 504; the upload stays busy (423 to another PATCH) until the
 * stuck call returns, and what it wrote is counted then (HEAD tells).
 */
enum patch_step { PATCH_OPEN, PATCH_WRITE, PATCH_FINISH, PATCH_STEP_MAX };
struct patch {
	struct files_op op; /* first: one step at a time */
	struct files *f;
	struct files_upload *u;
	struct files_home h;
	int homefd, fd;
	int64_t quota;
	int64_t used0; /* an SMB home: its usage when the PATCH began, else -1 */
	int64_t written;
	int64_t clen; /* the request's Content-Length, -1 unknown */
	char user[USERS_NAME_MAX + 1], role[16], peer[64];
	struct lws *wsi;      /* to resume the body; NULL once the server released us */
	bool busy;            /* a step is on the worker */
	enum patch_step step; /* the step on the worker */
	bool released;        /* the server is done with us (patch_release) */
	bool failed;          /* `fail` holds the answer */
	struct http_response fail;
	char *buf; /* a chunk waiting for, or being written by, the worker */
	size_t len;
	bool ending;             /* the body is over: finish once the last write is in */
	struct http_deferred *d; /* the deferred answer of patch_end, NULL once answered */
	/* the worker's results */
	int64_t size;     /* PATCH_OPEN: the temporary file's size */
	int err;          /* -errno of the step */
	size_t wrote;     /* PATCH_WRITE: bytes written */
	int64_t smb_used; /* PATCH_OPEN: argobox-smbfs's count, -1 unknown */
	char final[FILES_PATH_MAX + FILES_NAME_MAX + 16];
};

static void
patch_audit_req(const struct patch *p, struct http_request *req)
{
	*req = (struct http_request){.peer = p->peer, .method = "PATCH", .path = ""};
	snprintf(req->user, sizeof(req->user), "%s", p->user);
	snprintf(req->role, sizeof(req->role), "%s", p->role);
}

/* Moves p->fail (or a 500) into resp. */
static void
patch_take_fail(struct patch *p, struct http_response *resp)
{
	struct http_deferred *d = resp->deferred;
	resp->deferred = NULL; /* clearing would drop (cancel) it */
	http_response_clear(resp);
	*resp = p->fail;
	resp->deferred = d;
	p->fail = (struct http_response){0};
	if (!resp->status)
		tus_error(resp, 500, "internal error");
}

static int patch_step(struct patch *p, enum patch_step step);
static void patch_answer_end(struct patch *p);
static int upload_finish(struct patch *p, char *final, size_t final_len);

static void
patch_free(struct patch *p)
{
	p->u->busy = false;
	if (p->fd >= 0)
		close(p->fd);
	if (p->homefd >= 0)
		close(p->homefd);
	http_response_clear(&p->fail);
	free(p->buf);
	struct files *f = p->f;
	free(p);
	uploads_reap(f);
}

/* On the worker. */
static void
patch_run(struct files_op *op)
{
	struct patch *p = (struct patch *)op;
	struct files_upload *u = p->u; /* only its immutable fields here */
	p->err = 0;
	if (p->step == PATCH_OPEN) {
		const char *why = NULL;
		p->homefd = files_home_open(p->f, p->user, &p->h, &why);
		char tmp[64];
		tmp_name(u, tmp, sizeof(tmp));
		if (p->homefd >= 0)
			p->fd = ab_open_beneath(p->homefd, tmp, O_WRONLY | O_NONBLOCK, 0);
		struct stat st;
		if (p->homefd < 0 || p->fd < 0 || fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			p->err = p->homefd < 0 ? p->homefd : p->fd < 0 ? p->fd : -EINVAL;
			return;
		}
		/* a cut request may have left more than we counted */
		int64_t counted = p->size;
		p->size = st.st_size;
		if (st.st_size > counted && ftruncate(p->fd, counted) < 0)
			ab_warn("upload %s: ftruncate: %m", u->id);
		int64_t used;
		p->smb_used =
		    files_smb_enabled(p->f) && files_smb_usage(p->h.dir, &used) ? used : -1;
	} else if (p->step == PATCH_WRITE) {
		p->wrote = 0;
		while (p->wrote < p->len) {
			ssize_t n = pwrite(p->fd, p->buf + p->wrote, p->len - p->wrote,
			                   (off_t)(p->size + (int64_t)p->wrote));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p->err = n < 0 ? -errno : -EIO;
				break;
			}
			p->wrote += (size_t)n;
		}
	} else {
		p->err = upload_finish(p, p->final, sizeof(p->final));
	}
}

/* On the loop, after open: the checks that needed the file (a cut upload, the quota). */
static void
patch_opened(struct patch *p, bool expired)
{
	struct files_upload *u = p->u;
	struct http_request req;
	patch_audit_req(p, &req);
	if (expired)
		return;
	if (p->err < 0) {
		int r = p->err;
		deny("files.upload", &req, &p->fail, r == -ENOENT ? 410 : files_status(r),
		     r == -ENOENT ? "the upload's temporary file is gone" : files_strerror(r),
		     json_pack("{ss}", "id", u->id));
		p->failed = true;
		return;
	}
	if (p->size < u->offset) {
		/* fewer bytes than we counted (lost by the storage, or the user truncated it):
		 * resume from what is there, never fill the gap with zeros */
		char msg[128];
		files_usage_add(p->f, u->user, p->size - u->offset);
		u->offset = p->size;
		snprintf(msg, sizeof(msg),
		         "Upload-Offset must be %" PRId64
		         " (the stored file is shorter; HEAD tells)",
		         u->offset);
		deny("files.upload", &req, &p->fail, 409, msg,
		     json_pack("{sssI}", "id", u->id, "offset", (json_int_t)u->offset));
		offset_headers(&p->fail, u);
		p->failed = true;
		return;
	}
	p->size = u->offset; /* the worker cut what was beyond it */
	p->quota = files_quota(p->f, u->user, p->h.profile);
	int64_t used = 0;
	bool known = files_smb_enabled(p->f) ? (used = p->smb_used) >= 0
	                                     : files_usage_get(p->f, u->user, p->h.dir, &used);
	p->used0 = files_smb_enabled(p->f) ? p->smb_used : -1;
	if (p->quota > 0 && p->clen > 0 && known && used + p->clen > p->quota) {
		char msg[160];
		snprintf(msg, sizeof(msg), "quota exceeded: %" PRId64 " of %" PRId64 " bytes used",
		         used, p->quota);
		deny("files.quota", &req, &p->fail, 413, msg,
		     json_pack("{sssIsI}", "id", u->id, "used", (json_int_t)used, "quota",
		               (json_int_t)p->quota));
		p->failed = true;
	}
}

/* On the loop, after a write: count what went in. */
static void
patch_wrote(struct patch *p, bool expired)
{
	struct files_upload *u = p->u;
	u->offset += (int64_t)p->wrote;
	p->size += (int64_t)p->wrote;
	p->written += (int64_t)p->wrote;
	files_usage_add(p->f, u->user, (int64_t)p->wrote);
	free(p->buf);
	p->buf = NULL;
	p->len = 0;
	if (p->err < 0 && !expired && !p->failed) {
		struct http_request req;
		patch_audit_req(p, &req);
		deny("files.upload", &req, &p->fail, files_status(p->err), files_strerror(p->err),
		     json_pack("{sssI}", "id", u->id, "offset", (json_int_t)u->offset));
		p->failed = true;
	}
}

/* On the loop, after the finish: the file is in place (or not). */
static void
patch_finished(struct patch *p)
{
	struct files_upload *u = p->u;
	struct http_request req;
	patch_audit_req(p, &req);
	if (p->err < 0) {
		if (!p->failed) {
			deny("files.upload", &req, &p->fail, files_status(p->err),
			     files_strerror(p->err), json_pack("{ss}", "id", u->id));
			p->failed = true;
		}
		return;
	}
	record_remove(p->f, u->id);
	u->gone = true;
	files_audit("files.upload", AUDIT_GRANT, &req,
	            json_pack("{sssssssI}", "id", u->id, "step", "complete", "path", p->final,
	                      "bytes", (json_int_t)u->length));
	if (p->f->desktops) {
		char body[FILES_PATH_MAX + FILES_NAME_MAX + 64];
		snprintf(body, sizeof(body), "'%.255s' is in ~/%.4000s", u->filename, p->final);
		desktop_send(
		    p->f->desktops, u->user,
		    ab_proto_msg("notify", json_pack("{ssssss}", "title", "Upload finished", "body",
		                                     body, "action", "app:argobox-files.desktop")));
	}
}

/* What comes after a step: the next write, resuming the body, or the answer. */
static void
patch_continue(struct patch *p, bool expired)
{
	if (p->released && !p->d)
		return; /* nobody to answer: freed by the caller */
	if (expired || p->step == PATCH_FINISH) {
		patch_answer_end(p);
		return;
	}
	if (p->failed) {
		/* the rest of the body is dropped (patch_chunk), then the answer goes */
		free(p->buf);
		p->buf = NULL;
	} else if (p->buf) { /* a chunk came while the file was being opened */
		if (patch_step(p, PATCH_WRITE) == 0)
			return;
	}
	if (p->ending)
		patch_answer_end(p);
	else if (p->wsi)
		server_body_resume(p->wsi);
}

/* On the loop, always once a step's call returned (in time or not). */
static void
patch_step_release(struct files_op *op)
{
	struct patch *p = (struct patch *)op;
	bool expired = op->expired_ran;
	p->busy = false;
	if (p->step == PATCH_OPEN)
		patch_opened(p, expired);
	else if (p->step == PATCH_WRITE)
		patch_wrote(p, expired);
	else
		patch_finished(p);
	patch_continue(p, expired);
	if (p->released && !p->busy && !p->d)
		patch_free(p);
}

static void
patch_step_expired(struct files_op *op)
{
	struct patch *p = (struct patch *)op;
	struct http_request req;
	patch_audit_req(p, &req);
	char why[160];
	snprintf(why, sizeof(why),
	         "the home's storage did not answer within %lld ms: try again later (HEAD tells "
	         "the offset)",
	         (long long)op->timeout_ms);
	if (!p->failed) {
		http_response_clear(&p->fail);
		p->fail = (struct http_response){0};
		files_audit("files.upload", AUDIT_FAILURE, &req,
		            json_pack("{sssssssI}", "id", p->u->id, "step",
		                      p->step == PATCH_OPEN    ? "open"
		                      : p->step == PATCH_WRITE ? "write"
		                                               : "finish",
		                      "reason", why, "timeout_ms", (json_int_t)op->timeout_ms));
		tus_error(&p->fail, 504, why);
		p->failed = true;
	}
	/* the answer goes now: through the deferred end, or once the rest of the body is
	 * dropped (the chunk callback refuses it) */
	if (p->d || p->ending)
		patch_answer_end(p);
	else if (p->wsi)
		server_body_resume(p->wsi);
}

/* Puts the next step on the worker; on a refusal p->fail holds the 503 (-errno returned). */
static int
patch_step(struct patch *p, enum patch_step step)
{
	p->step = step;
	p->op = (struct files_op){
	    .run = patch_run, .expired = patch_step_expired, .release = patch_step_release};
	int r = files_op_submit(p->f, p->user, &p->op, files_op_timeout(p->f, p->user));
	if (r < 0) {
		struct http_request req;
		patch_audit_req(p, &req);
		if (!p->failed) {
			files_refuse_busy(&req, &p->fail, "files.upload", p->u->id, r);
			tus_headers(&p->fail);
			p->failed = true;
		}
		free(p->buf);
		p->buf = NULL;
		return r;
	}
	p->busy = true;
	return 0;
}

static void *
patch_begin(struct http_request *req, struct http_response *resp, void *data)
{
	struct files *f = data;
	const char *ev = "files.upload";
	if (!tus_version_ok(req, resp))
		return NULL;
	struct files_upload *u = upload_of(f, req);
	if (!u) {
		deny(ev, req, resp, 404, "no such upload", json_pack("{ss}", "path", req->path));
		return NULL;
	}
	char ct[128], ob[32], cl[32];
	if (!http_request_header(req, "content-type", ct, sizeof(ct)) ||
	    strcmp(ct, "application/offset+octet-stream") != 0) {
		deny(ev, req, resp, 415, "Content-Type must be application/offset+octet-stream",
		     json_pack("{ss}", "id", u->id));
		return NULL;
	}
	int64_t off =
	    files_tus_parse_u53(http_request_header(req, "upload-offset", ob, sizeof(ob)));
	int64_t clen =
	    files_tus_parse_u53(http_request_header(req, "content-length", cl, sizeof(cl)));
	if (u->busy) {
		deny(ev, req, resp, 423, "another request is writing this upload",
		     json_pack("{ss}", "id", u->id));
		return NULL;
	}
	if (off < 0 || off != u->offset) {
		char msg[128];
		snprintf(msg, sizeof(msg), "Upload-Offset must be %" PRId64 " (HEAD tells)",
		         u->offset);
		deny(ev, req, resp, 409, msg,
		     json_pack("{sssIsI}", "id", u->id, "offset", (json_int_t)u->offset, "sent",
		               (json_int_t)off));
		offset_headers(resp, u);
		return NULL;
	}
	if (clen > 0 && off + clen > u->length) {
		deny(ev, req, resp, 413, "more bytes than Upload-Length",
		     json_pack("{sssIsI}", "id", u->id, "length", (json_int_t)u->length, "end",
		               (json_int_t)(off + clen)));
		return NULL;
	}
	const char *why = NULL;
	struct files_home h;
	int r = files_home_of(f, u->user, &h, &why);
	if (r < 0) {
		deny(ev, req, resp, files_status(r), why, json_pack("{ss}", "id", u->id));
		return NULL;
	}
	struct patch *p = ab_xcalloc(1, sizeof(*p));
	p->f = f;
	p->u = u;
	p->h = h;
	p->fd = p->homefd = -1;
	p->used0 = -1;
	p->wsi = req->wsi;
	p->clen = clen;
	p->size = u->offset;
	snprintf(p->user, sizeof(p->user), "%.32s", req->user);
	snprintf(p->role, sizeof(p->role), "%s", req->role);
	snprintf(p->peer, sizeof(p->peer), "%s", req->peer);
	p->step = PATCH_OPEN;
	p->op = (struct files_op){
	    .run = patch_run, .expired = patch_step_expired, .release = patch_step_release};
	r = files_op_submit(f, p->user, &p->op, files_op_timeout(f, p->user));
	if (r < 0) {
		files_refuse_busy(req, resp, ev, u->id, r);
		tus_headers(resp);
		free(p);
		return NULL;
	}
	p->busy = true;
	u->busy = true;
	return p;
}

static int
patch_chunk(void *ctx, const void *in, size_t len, struct http_response *resp)
{
	struct patch *p = ctx;
	struct files_upload *u = p->u;
	if (p->failed) {
		patch_take_fail(p, resp);
		return -1;
	}
	struct http_request req;
	patch_audit_req(p, &req);
	if (u->offset + (int64_t)len > u->length) {
		deny("files.upload", &req, resp, 413, "more bytes than Upload-Length",
		     json_pack("{ss}", "id", u->id));
		return -1;
	}
	/*
	 * An SMB home's figure is argobox-smbfs's (an xattr read through FUSE: one round trip):
	 * read once when the PATCH began and moved by what it writes here; argobox-smbfs itself
	 * refuses (EDQUOT) a write that the desktop's own writes meanwhile pushed over.
	 */
	int64_t used = 0;
	bool known = p->busy ? false /* still opening: checked against Content-Length there */
	             : p->used0 >= 0           ? (used = p->used0 + p->written, true)
	             : files_smb_enabled(p->f) ? false
	                                       : files_usage_get(p->f, u->user, p->h.dir, &used);
	if (p->quota > 0 && known && used + (int64_t)len > p->quota) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "quota exceeded while writing: %" PRId64 " of %" PRId64 " bytes used",
		         used, p->quota);
		deny("files.quota", &req, resp, 413, msg,
		     json_pack("{sssIsI}", "id", u->id, "used", (json_int_t)used, "quota",
		               (json_int_t)p->quota));
		return -1;
	}
	AB_ASSERT(!p->buf);
	p->buf = ab_xmalloc(len);
	memcpy(p->buf, in, len);
	p->len = len;
	if (!p->busy)
		patch_step(p, PATCH_WRITE);
	if (p->failed) {
		patch_take_fail(p, resp);
		return -1;
	}
	return SERVER_BODY_PAUSE;
}

/* Moves the finished file into its destination; *final gets its path. */
static int
upload_finish(struct patch *p, char *final, size_t final_len)
{
	struct files_upload *u = p->u;
	if (fsync(p->fd) < 0 || fchmod(p->fd, 0644) < 0)
		return -errno;
	_cleanup_close_ int dfd = files_mkdirs(p->homefd, u->dest, &p->h);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int tdir =
	    ab_open_beneath(p->homefd, FILES_UPLOAD_DIR, O_PATH | O_DIRECTORY, 0);
	if (tdir < 0)
		return tdir;
	char tmp[64], name[FILES_NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), "%s.part", u->id);
	const char *dot = strrchr(u->filename, '.');
	if (!dot || dot == u->filename)
		dot = u->filename + strlen(u->filename);
	for (int i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s", u->filename);
		else
			snprintf(name, sizeof(name), "%.*s (%d)%s",
			         (int)AB_MIN((size_t)(dot - u->filename), (size_t)200), u->filename,
			         i, dot);
		if (renameat2(tdir, tmp, dfd, name, RENAME_NOREPLACE) == 0) {
			snprintf(final, final_len, "%s%s%s", u->dest, u->dest[0] ? "/" : "", name);
			fsync(dfd);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Answers the PATCH: the failure, the finish, or 204 with the new offset. */
static void
patch_answer_end(struct patch *p)
{
	if (!p->d)
		return; /* not deferred yet: patch_end answers */
	struct http_response *resp = server_deferred_response(p->d);
	struct files_upload *u = p->u;
	if (p->failed) {
		patch_take_fail(p, resp);
	} else if (u->offset == u->length && p->step != PATCH_FINISH) {
		patch_step(p, PATCH_FINISH);
		if (!p->failed)
			return; /* answered when it is done */
		patch_take_fail(p, resp);
	} else {
		if (p->step == PATCH_FINISH)
			http_response_add_header(resp, "Upload-Final-Path", p->final);
		http_response_set(resp, 204, "application/json", "", 0);
		offset_headers(resp, u);
		tus_headers(resp);
	}
	server_deferred_done(p->d);
	p->d = NULL;
}

static void
patch_cancel(void *ctx)
{
	struct patch *p = ctx;
	p->d = NULL;
	if (p->released && !p->busy)
		patch_free(p);
}

static void
patch_end(void *ctx, struct http_request *req, struct http_response *resp)
{
	struct patch *p = ctx;
	p->ending = true;
	if (p->failed && !p->busy) {
		patch_take_fail(p, resp);
		return;
	}
	if (!p->busy && p->u->offset != p->u->length && !p->failed) {
		http_response_set(resp, 204, "application/json", "", 0);
		offset_headers(resp, p->u);
		tus_headers(resp);
		return;
	}
	/* a write still on the worker, or the finish to run: answered from there */
	p->d = http_response_defer(resp, patch_cancel, p);
	if (!p->busy)
		patch_answer_end(p);
}

static void
patch_release(void *ctx)
{
	struct patch *p = ctx;
	p->released = true;
	p->wsi = NULL;
	if (!p->busy && !p->d)
		patch_free(p);
}

static const struct server_body_ops patch_ops = {
    .begin = patch_begin,
    .chunk = patch_chunk,
    .end = patch_end,
    .release = patch_release,
};

/*
 * The routes, one per authz row (tests/unit/auth/authz_routes.py; line comments since the
 * paths end in a slash and a star). The PATCH comes through the server's streamed body.
 */
// routes:
//   POST   /api/uploads
//   GET    /api/uploads/*
//   PATCH  /api/uploads/*
//   DELETE /api/uploads/*
// end routes
int
files_upload_add_routes(struct files *f, struct server *srv)
{
	if (server_route_add(srv, "POST", API_UPLOADS, upload_create, f) < 0 ||
	    server_route_add(srv, NULL, API_UPLOADS_SLASH, upload_http, f) < 0 ||
	    server_body_handler_add(srv, "PATCH", API_UPLOADS_SLASH, &patch_ops, f) < 0)
		return -ENOSPC;
	return 0;
}
