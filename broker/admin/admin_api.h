/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * admin_api: the admin console's backend (docs/admin.md). Every route is under /api/admin/,
 * which broker/auth/authz.c gives to the admin role only (admin.read / admin.write, CSRF on
 * every state-changing request, both checked by the authorize hook before a handler runs);
 * each handler checks the role once more and audits what it does with who, what and target.
 *
 *   GET  /api/admin/desktops          every desktop: user, profile, state, uptime, CPU /
 *                                     memory / pids against the profile's limits (cgroup),
 *                                     browser and VNC clients, last input, network policy
 *   POST /api/admin/desktops/stop     {"users":[...]}: per user {"user","ok","status"|"error"}
 *   POST /api/admin/desktops/restart  (the same)
 *   POST /api/admin/desktops/destroy  (the same)
 *   GET  /api/admin/events            server-sent events: "desktops" (the list above) when
 *                                     it changes, at most every ADMIN_API_TICK_MS
 *   POST /api/admin/broadcast         {"to":"user"|"profile"|"all","target","title","body",
 *                                     "urgency"}: a "notify" on each running desktop
 *
 * The actions are functions of their own (desktops_admin_*, admin_broadcast) so that the
 * admin socket (argoboxctl) can call them with its own `who`.
 */
#ifndef BROKER_ADMIN_API_H
#define BROKER_ADMIN_API_H

#include <jansson.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "desktop.h"
#include "server.h"
#include "users.h"

#define ADMIN_API_TICK_MS  2000 /* the live channel's refresh while someone listens */
#define ADMIN_API_BULK_MAX 1000

/* Ends or restarts `user`'s desktop: 0, -ENOENT when none runs, -EBUSY while stopping. */
typedef int (*admin_desktop_fn)(void *data, const char *user);
/* `user`'s profile (a users table user's or a demo identity's), or NULL. Borrowed. */
typedef const struct users_profile *(*admin_profile_fn)(void *data, const char *user);

struct admin_api_params {
	struct desktop_manager *desktops; /* borrowed */
	admin_desktop_fn stop;            /* flush the state, then stop (deskstate_sync_end) */
	admin_desktop_fn restart;         /* flush, stop, start again (deskstate_sync_restart) */
	void *sync_data;
	admin_profile_fn profile_of;
	void *profile_data;
};

/* Who acts: the signed-in admin (or "argoboxctl"), their role and address, for the audit. */
struct admin_who {
	const char *user;
	const char *role;
	const char *source;
};

struct admin_api;

int admin_api_new(struct ab_loop *loop, const struct admin_api_params *p, struct admin_api **ret,
                  struct ab_err *err);
int admin_api_add_routes(struct admin_api *a, struct server *srv);
/* Cancels the timer; call after server_close() (the live streams close there). NULL is fine. */
void admin_api_free(struct admin_api *a);

/* The desktops as GET /api/admin/desktops lists them (new reference). */
json_t *desktops_admin_list(struct admin_api *a);
/*
 * action "stop", "restart" or "destroy" on each user of `users` (a JSON array of names):
 * [{"user","ok":true,"status"} | {"user","ok":false,"error"}] (new reference); each one
 * audited as admin.desktop.<action>. -EINVAL (err says why) when `users` is not an array of
 * at most ADMIN_API_BULK_MAX strings or the action is unknown: nothing is done then.
 */
int desktops_admin_act(struct admin_api *a, const char *action, json_t *users,
                       const struct admin_who *who, json_t **ret, struct ab_err *err);
/*
 * Sends {"type":"notify","title","body","urgency"} to every running desktop that `to`
 * ("user", "profile", "all") and `target` select; *ret: {"delivered":[users],"skipped":n}.
 * Audited as admin.broadcast. -EINVAL with a reason for bad input.
 */
int admin_broadcast(struct admin_api *a, json_t *req, const struct admin_who *who, json_t **ret,
                    struct ab_err *err);

#endif
