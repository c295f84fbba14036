/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * users_admin: the admin console's user management (docs/admin.md "Users"). Every change is
 * made on a copy of the users array, validated by users_load(), written to the users store
 * (broker/users/users_store.h: atomic, 0600) and only then applied: the new table goes to
 * every area through the `apply` callback (sign-in, sessions, containers, apps, VNC), without a
 * restart. A change that fails validation or cannot be stored changes nothing.
 *
 *   GET  /api/admin/users                      {"users":[...],"profiles":[...]}
 *   POST /api/admin/users                      {"name","email"?,"role","profile","password"}
 *   POST /api/admin/users/<name>/disable       signed out, desktop stopped
 *   POST /api/admin/users/<name>/enable
 *   POST /api/admin/users/<name>/password      {"password"}
 *   POST /api/admin/users/<name>/role          {"role":"admin"|"member"}
 *   POST /api/admin/users/<name>/profile       {"profile"}
 *   POST /api/admin/users/<name>/unlock        the sign-in lockout cleared
 *   POST /api/admin/users/<name>/vnc-reset     the native VNC password revoked
 *   POST /api/admin/users/<name>/delete        {"home":"keep"|"remove"}
 *
 * Each is audited as admin.user.<action> (grant with the target, deny with the reason).
 * The functions below are what argoboxctl's socket can call with its own `who`.
 */
#ifndef BROKER_USERS_ADMIN_H
#define BROKER_USERS_ADMIN_H

#include <jansson.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "admin_api.h"
#include "server.h"
#include "users.h"

struct authn;
struct vncgw;

/* Hands the new table (borrowed: lives as long as the users_admin) to every area. */
typedef void (*users_admin_apply_fn)(void *data, const struct users_db *db);
/* `user`'s home directory on the host into buf; 0, or -ENOENT when they have none there. */
typedef int (*users_admin_home_fn)(void *data, const char *user, char *buf, size_t len);

struct users_admin_params {
	const char *store_path; /* <data.dir>/users.json */
	json_t *users;          /* the table in use (borrowed; copied) */
	json_t *profiles;       /* borrowed, outlives the users_admin */
	const struct users_db *db;
	users_admin_apply_fn apply;
	void *apply_data;
	users_admin_home_fn home;
	void *home_data;
	struct desktop_manager *desktops;
	admin_desktop_fn stop; /* flush and stop (deskstate_sync_end) */
	void *stop_data;
	struct authn *authn; /* may be NULL */
	struct vncgw *vncgw; /* may be NULL */
	/*
	 * Desktops run in containers whose host id range is their table position (the OCI
	 * launcher): a user is then appended only while no desktop outside the table runs.
	 */
	bool id_slots;
};

struct users_admin;

int users_admin_new(struct ab_loop *loop, const struct users_admin_params *p,
                    struct users_admin **ret, struct ab_err *err);
int users_admin_add_routes(struct users_admin *ua, struct server *srv);
/* Frees the tables it made (call after every area that borrows them). NULL is fine. */
void users_admin_free(struct users_admin *ua);

/* GET /api/admin/users's body (new reference). */
json_t *users_admin_list(struct users_admin *ua);
/*
 * One action (the list above; "add" with no name) with its JSON body. 0 and *ret (new
 * reference) on success; -EINVAL (400), -ENOENT (404), -EEXIST or -EBUSY (409), -EPERM (403)
 * or -EIO (500) with err saying why. Audited either way.
 */
int users_admin_do(struct users_admin *ua, const char *action, const char *name, json_t *body,
                   const struct admin_who *who, json_t **ret, struct ab_err *err);

#endif
