/* SPDX-License-Identifier: GPL-2.0-or-later */
/* files: what files.c, files_upload.c and files_usage.c share (not a public interface). */
#ifndef BROKER_FILES_INTERNAL_H
#define BROKER_FILES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "files.h"
#include "server.h"
#include "users.h"

#define FILES_PATH_MAX         4000 /* bytes of a path relative to the home */
#define FILES_NAME_MAX         255  /* bytes of one name */
#define FILES_UPLOAD_DIR       ".argobox-uploads"
#define FILES_UPLOAD_TTL       (24 * 3600 * 1000LL)
#define FILES_DEFAULT_DIR      "Uploads"
#define FILES_UPLOADS_PER_USER 64    /* unfinished uploads one user may hold */
#define FILES_OP_TIMEOUT_MS    10000 /* files.op_timeout_ms: a request's file-system calls */

/* One tus upload (files_upload.c). */
struct files_upload {
	char id[33];
	char user[USERS_NAME_MAX + 1];
	int64_t length, offset;
	char filename[FILES_NAME_MAX + 1];
	char dest[FILES_PATH_MAX + 1]; /* directory relative to the home, "" = the home */
	int64_t created_ms;            /* wall clock */
	bool busy;                     /* a PATCH is writing it */
	bool gone;                     /* finished or terminated: freed once not busy */
	struct files_upload *next;
};

/* One user's home usage (files_usage.c). */
struct files_usage {
	char user[USERS_NAME_MAX + 1];
	bool known;
	int64_t used;
	int64_t scanned_ms; /* monotonic, when the last scan ended */
	pid_t pid;          /* a du running, or 0 */
	int pidfd, out;
	struct ab_watch *watch;
	struct files *f;
	struct files_usage *next;
};

/*
 * A piece of a request that runs on its user's worker thread (files_worker.c): embed it
 * first in the request's own struct. The caller sets run, done, expired and release.
 */
enum files_op_state { FILES_OP_QUEUED, FILES_OP_RUNNING, FILES_OP_FINISHED, FILES_OP_STATE_MAX };
struct files_op {
	void (*run)(struct files_op *op);     /* on the worker: file-system calls only */
	void (*done)(struct files_op *op);    /* on the loop, when run() returned in time */
	void (*expired)(struct files_op *op); /* on the loop, when the timeout passed first */
	void (*release)(struct files_op *op); /* on the loop, always last: frees */
	/* files_worker.c's */
	struct files *f;
	char user[USERS_NAME_MAX + 1];
	int64_t timeout_ms;
	struct files_worker *worker;
	struct ab_timer *timer;
	json_t *audits;
	enum files_op_state state; /* under the workers' mutex */
	bool expired_ran;
	struct files_op *next;
};

struct files {
	struct ab_loop *loop;
	struct files_workers *workers;
	int64_t op_timeout_ms; /* files.op_timeout_ms */
	json_t *mounted;       /* users whose home a worker opened: no mount wait */
	json_t *config;
	char records[4096]; /* <data_dir>/files/uploads */
	files_home_fn home;
	void *home_data;
	struct desktop_manager *desktops;
	int64_t quota_default, upload_max, refresh_ms;
	struct files_upload *uploads;
	struct files_usage *usage;
	struct files_job *jobs; /* copies and archives running (files_jobs.c) */
	unsigned njobs;
	char smbfs[4096];      /* argobox-smbfs, "" = not installed */
	char audit_path[4096]; /* handed to argobox-smbfs ("" = its stderr) */
	int64_t smb_wait_ms;   /* how long a mount may take */
	char images[4096];     /* <data_dir>/files/images: local homes as ext4 images */
};

/* ---- files.c ---- */
/*
 * Checks a path relative to the home ("" is the home itself): no leading '/', no empty,
 * "." or ".." segment, no NUL or control character, valid UTF-8, names <= 255 bytes and
 * <= FILES_PATH_MAX in all. Returns 0, or -EINVAL with *why set.
 */
int files_path_check(const char *rel, const char **why);
/*
 * Opens `user`'s home (creating it 0700 for uid/gid when missing) and fills *h.
 * Returns a directory fd or -errno with *why set (-ENOENT: no home on the host).
 */
int files_open_home(struct files *f, const char *user, struct files_home *h, const char **why);
/* files_open_home's two halves: where the home is (the loop: the users table), then its
 * mount and opening (file-system calls: a worker). */
int files_home_of(struct files *f, const char *user, struct files_home *h, const char **why);
int files_home_open(struct files *f, const char *user, struct files_home *h, const char **why);
/* How long a request of `user` may wait for its worker (more while the home is not mounted). */
int64_t files_op_timeout(struct files *f, const char *user);
/* A 503 for files_op_submit's -EBUSY/-EAGAIN, with its audit line. */
void files_refuse_busy(struct http_request *req, struct http_response *resp, const char *event,
                       const char *rel, int r);
/* Turns an fd answer (http_response_fd) into a stream read on `user`'s worker (SMB homes). */
void files_download_stream(struct files *f, struct http_response *resp, const char *user);
/* Splits rel into its parent (opened beneath homefd, O_PATH) and last name (into name). */
int files_open_parent(int homefd, const char *rel, char *name, size_t name_len);
/* Opens (creating as needed, owned by h's ids) the directory `rel` beneath homefd. */
int files_mkdirs(int homefd, const char *rel, const struct files_home *h);
/* A message for an -errno from ab_open_beneath and friends. */
const char *files_strerror(int r);
/* The HTTP status for an -errno. */
int files_status(int r);
/* One audit line for a request (detail stolen). */
void files_audit(const char *event, enum audit_outcome outcome, const struct http_request *req,
                 json_t *detail);
/* The quota of `user` in bytes (0 = none). */
int64_t files_quota(const struct files *f, const char *user, const char *profile);

/* ---- files_usage.c ---- */
/*
 * The bytes used in `user`'s home: true with *used when known (a cached scan plus what the
 * API wrote since); starts a background scan (du) when unknown or older than the refresh.
 */
bool files_usage_get(struct files *f, const char *user, const char *dir, int64_t *used);
void files_usage_add(struct files *f, const char *user, int64_t delta);
void files_usage_free_all(struct files *f);
/* {"used":N|null,"limit":N|null,"known":bool} (new reference) */
json_t *files_usage_json(struct files *f, const char *user, const struct files_home *h);

/* ---- files_trash.c ---- */
#define FILES_TRASH ".local/share/Trash" /* the home trash of the freedesktop.org spec */
/*
 * Moves `rel` (a file, link or directory, whole) into the home's trash: an info file
 * info/<n>.trashinfo (Path: /home/<user>/<rel>, DeletionDate) created exclusively first,
 * then rel renamed to files/<n> without replacing; <n> is rel's name, or "stem.N.ext" when
 * taken. The trash directories are created (owned by h's ids) beneath homefd like any path.
 * Returns 0 with the chosen name in ret_name, or -errno.
 */
int files_trash(int homefd, const char *rel, const char *user, const struct files_home *h,
                char *ret_name, size_t ret_len);

/*
 * A Range header: a single "bytes=a-b" | "bytes=a-" | "bytes=-n" of a file of `size` bytes,
 * into [*start, *end]. 1 ok, 0 absent or ignored (other units, several ranges: the whole
 * file), -1 bad or unsatisfiable (416). Pure.
 */
int files_parse_range(const char *h, unsigned long long size, unsigned long long *start,
                      unsigned long long *end);

/* Adds Content-Disposition: attachment with the RFC 5987 file name. */
void files_add_disposition(struct http_response *resp, const char *name);

/* ---- files_jobs.c ---- */
/*
 * POST {"action":"copy","to":...}: checks (paths, the target free, a file against the
 * quota) and answers refusals at once; else forks the copy and answers 202 with a JSON body
 * streamed when it is done ({"path","to","bytes","skipped"} or {"error","status"}).
 */
void files_copy_start(struct files *f, struct http_request *req, struct http_response *resp,
                      int homefd, const char *rel, const char *to, const struct files_home *h);
/*
 * GET <dir>?archive=tar|zip: the folder as a pax tar or a zip streamed from a child (rel "" =
 * the home).
 */
void files_archive_start(struct files *f, struct http_request *req, struct http_response *resp,
                         int homefd, const char *rel, const struct files_home *h, bool zip);
/* Kills and reaps every job's child (after server_close(): their streams are closed). */
void files_jobs_free_all(struct files *f);

/* ---- files_worker.c ---- */
int files_workers_new(struct files *f);
/* Stops the threads (a thread stuck on a dead storage is left after 3 s); ops not run are
 * released without done(). */
void files_workers_free(struct files *f);
/*
 * Queues op on `user`'s worker thread (see files_worker.c). 0; -EBUSY when that thread is
 * stuck in a call that already expired, -EAGAIN when too many requests wait (answer 503).
 */
int files_op_submit(struct files *f, const char *user, struct files_op *op, int64_t timeout_ms);
/* Whether `user`'s worker is stuck in a call that expired (their storage is not answering). */
bool files_worker_wedged(struct files *f, const char *user);
/*
 * On a worker thread: keeps an audit line for the loop to write (true); on the loop: false
 * (the caller writes it). detail is stolen either way when true.
 */
bool files_audit_collect(const char *event, enum audit_outcome outcome, const char *user,
                         const char *role, const char *peer, json_t *detail);
/* audit_log(), or collected when called on a worker thread. */
void files_audit_as(const char *event, enum audit_outcome outcome, const char *user,
                    const char *role, const char *peer, json_t *detail);

/* ---- files_smb.c ---- */
int files_smb_check_config(json_t *files, struct ab_err *err);
bool files_smb_enabled(const struct files *f);
/* Whether files.smb holds a password in clear (then the configuration file must be 0600). */
bool files_smb_has_password(json_t *files);
/*
 * Makes sure `user`'s SMB home is mounted on h->dir (starting argobox-smbfs when it is not,
 * waiting at most smb_wait_ms); every mount and failure is a "files.smb" audit line.
 */
int files_smb_mount(struct files *f, const char *user, const struct files_home *h,
                    struct ab_err *err);
/* The bytes used in an SMB home as its argobox-smbfs counts them; false if not an SMB home. */
bool files_smb_usage(const char *dir, int64_t *used);

/* ---- files_image.c ---- */
/* Whether a (not mounted) home directory holds anything that a mount on it would hide. */
bool files_dir_has_entries(const char *dir);
int files_image_check_config(json_t *files, struct ab_err *err);
bool files_image_enabled(const struct files *f);
/*
 * Makes sure `user`'s local home is their ext4 image loop-mounted on h->dir (created with
 * the quota's size the first time), when they have a quota; a "files.image" audit line.
 */
int files_image_mount(struct files *f, const char *user, const struct files_home *h,
                      struct ab_err *err);

/* ---- files_upload.c ---- */
/* A tus header's decimal number of bytes (no sign, no spaces, < 2^53); -1 when not one. */
int64_t files_tus_parse_u53(const char *s);
/*
 * Finds `key` in a tus Upload-Metadata header ("key base64,key2 base64,flag") and decodes
 * its value into out (NUL-terminated; a value holding a NUL is refused). 1 found, 0 absent,
 * -1 bad or larger than size - 1 bytes. Pure.
 */
int files_tus_meta_get(const char *meta, const char *key, char *out, size_t size);
int files_upload_add_routes(struct files *f, struct server *srv);
int files_upload_load(struct files *f, struct ab_err *err);
void files_upload_free_all(struct files *f);

#endif
