/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authn: identity wired into the broker (docs/auth.md "Wiring it into the
 * broker"). Loads the `auth`, `users` and `profiles` config subtrees, installs
 * the authorize hook (auth_request_check on every request and websocket
 * upgrade, deny by default) and the auth routes:
 *   POST /api/login, POST /api/logout, POST /api/demo, GET /api/me,
 *   GET /api/demo/profiles.
 * One desktop per user: a websocket of user X attaches to X's desktop
 * (/ws/desktop/Y: Y's, view-only for an admin); sign-in starts the desktop
 * early. Demo identities get warnings on their desktop (control "notify") at
 * 10/5/1 min and at their end the desktop is stopped and its runtime
 * directory and stored state deleted. Sessions are saved to
 * <data.dir>/sessions.json (0600) at shutdown and loaded at start-up.
 *
 * Without a user table and without Access (broker_config_auth_enabled()
 * false) authn_new() does nothing: the broker keeps the loopback-only,
 * single-user "local" behaviour.
 */
#ifndef BROKER_AUTHN_H
#define BROKER_AUTHN_H

#include "demo.h"

#include "ab_err.h"
#include "broker_config.h"
#include "desktop.h"
#include "kv.h"
#include "server.h"

struct authn;

/*
 * `cfg`, `srv`, `desktops` and `kv` (may be NULL) are borrowed and must
 * outlive it. *ret is NULL (and 0 returned) when auth is not configured.
 * Config errors name the JSON path.
 */
int authn_new(const struct broker_config *cfg, struct server *srv, struct desktop_manager *desktops,
              struct kv *kv, struct authn **ret, struct ab_err *err);
/*
 * What authn_new() would refuse, without starting anything (--check-config):
 * the auth subtree when sign-in is configured, and the users and profiles
 * whenever there are any. Errors name the JSON path.
 */
int authn_check_config(const struct broker_config *cfg, struct ab_err *err);
/* Saves the sessions, then frees. Accepts NULL. Call before the server is freed. */
void authn_free(struct authn *a);

/*
 * How an ended demo's stored desktop state is deleted (main.c: deskstate_sync_forget, so the
 * state API's copy goes too). Without it authn deletes the kv key desktop/<user> itself.
 */
typedef int (*authn_state_forget_fn)(void *data, const char *user, struct ab_err *err);
void authn_set_state_forget(struct authn *a, authn_state_forget_fn fn, void *data);

/* The showcase desktop's layout goes through the state area (showcase.h). a may be NULL. */
void authn_set_showcase_seed(struct authn *a,
                             int (*fn)(void *data, const char *user, json_t *state), void *data);

/* View-only share links (share.h): /ws/share/<token> upgrades are checked there. */
struct share;
void authn_set_share(struct authn *a, struct share *s);

/*
 * The user table changed (the admin console, docs/admin.md): sign-in, sessions and the
 * websocket's owner checks use `db` from now on (borrowed: it must outlive the authn; the
 * profiles must be the same). Sessions of users that are gone, disabled or of another role
 * end at their next request. a may be NULL.
 */
void authn_set_users(struct authn *a, const struct users_db *db);
/* Ends every browser session of `user`; how many. a may be NULL. */
size_t authn_logout_user(struct authn *a, const char *user);
/* Seconds until `user` may try to sign in again after repeated failures (0: not locked). */
int64_t authn_locked_for(struct authn *a, const char *user);
/* Clears `user`'s sign-in lockout; true when there was one (or failures counted). */
bool authn_unlock_user(struct authn *a, const char *user);

/* The live demo identity called `name`, or NULL (a may be NULL). Borrowed. */
const struct demo_identity *authn_demo_find(const struct authn *a, const char *name);

#endif
