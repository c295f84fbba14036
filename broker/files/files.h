/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files: home storage and the files API (docs/files.md).
 *
 * Owns every byte the broker reads or writes in a user's home: listing, stat, download
 * (Range), mkdir, rename (files.c), delete to the trash (files_trash.c), copy and folders as
 * tar in child processes (files_jobs.c), resumable uploads over the tus 1.0.0 protocol
 * (files_upload.c) and home usage against a quota (files_usage.c). Start reading at
 * files_new() and files_add_routes() in files.c.
 *
 * The threat model (docs/isolation.md): the desktop user controls every file, link, FIFO
 * and socket in their home, and the broker runs as root. So every name is reached with
 * ab_open_beneath() from a directory fd of the home (no symlink anywhere, never above it),
 * only regular files and directories are served, a hard link to a file the user does not
 * own is refused, and what the broker creates belongs to the uid/gid the desktop sees as
 * its user. Every grant and denial is an audit event ("files.*", docs/audit.md).
 */
#ifndef BROKER_FILES_H
#define BROKER_FILES_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"

struct files;
struct server;
struct users_db;
struct desktop_manager;

/* Where a user's home is and who owns what is created in it (host ids). */
struct files_home {
	char dir[4096]; /* absolute; created (0700, owned by uid/gid) when missing */
	uid_t uid;
	gid_t gid;
	char profile[64]; /* for the quota ("" = none) */
};

/* Returns 0 with *ret filled, -ENOENT when `user` has no home on the host (demo desktops). */
typedef int (*files_home_fn)(void *data, const char *user, struct files_home *ret);

struct files_params {
	json_t *config;       /* the "files" subtree (borrowed; files_check_config'ed) */
	const char *data_dir; /* upload records live in <data_dir>/files/uploads */
	files_home_fn home;
	void *home_data;
	struct desktop_manager *desktops; /* notifications on finished uploads; may be NULL */
	const char *smbfs;                /* argobox-smbfs (SMB homes); NULL = not installed */
	const char *audit_path;  /* the audit log argobox-smbfs appends to (NULL = stderr) */
	const char *config_path; /* the broker's configuration: 0600 when it holds a password */
};

/* Validates the "files" subtree of the broker configuration (errors name the JSON path). */
int files_check_config(json_t *files, struct ab_err *err);

int files_new(struct ab_loop *loop, const struct files_params *p, struct files **ret,
              struct ab_err *err);
/*
 * Makes `user`'s home ready before something uses it (the desktop's container): with
 * files.backend "smb", mounts it (argobox-smbfs) unless it is already; a no-op otherwise.
 */
int files_home_ready(struct files *f, const char *user, struct ab_err *err);
/* /api/files[/...] and /api/uploads[/...]; see the routes block in files.c. */
int files_add_routes(struct files *f, struct server *srv);
void files_free(struct files *f);

#endif
