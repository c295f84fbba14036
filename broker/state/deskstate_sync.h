/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * deskstate_sync: desktop state between the window manager and the store
 * (docs/state-flow.md).
 *
 *   wm -> session -> control "state" -> deskstate_sync_publish() -> validate
 *   (lib/deskstate/deskstate.h) -> kv_put("desktop/<user>")
 *
 *   desktop start -> deskstate_sync_prepare() -> kv_get -> validate ->
 *   <runtime_dir>/state.json (atomic) -> session env ARGOBOX_STATE_FILE
 *
 * A hostile or corrupt value is never stored or handed to a session: a
 * published one is rejected (audit "state.rejected") and the previous good
 * value stays; a stored one is set aside under
 * "desktop-rejected/<user>/<unix ms>" and the desktop boots with defaults.
 *
 * HTTP (route prefix /api/desktops/): GET|PUT|DELETE
 * /api/desktops/<user>/state; a user their own, an admin anyone's; every
 * grant and denial audited. GET and PUT are answered from an in-memory copy
 * of the "desktop/" keys, loaded from the store at start-up (503 until then)
 * and kept current by every write that goes through this module.
 *
 * Also GET /api/desktops/<user> ({"running",...}) and DELETE
 * /api/desktops/<user> (202: ends the desktop after asking its wm for its
 * current state, at most 2 s; the stored state and the home stay; 404 when
 * none runs): own, an admin anyone's, audited "desktop.destroy".
 *
 * And POST /api/desktop/restart, POST /api/desktop/<user>/restart (202: the
 * same flush and stop, then the desktop starts again from the stored state;
 * 404 when none runs): own, an admin anyone's, audited "desktop.restart".
 */
#ifndef BROKER_DESKSTATE_SYNC_H
#define BROKER_DESKSTATE_SYNC_H

#include <jansson.h>
#include <stdbool.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "desktop.h"
#include "kv.h"
#include "server.h"

#define DESKSTATE_SYNC_KEY_PREFIX      "desktop/"
#define DESKSTATE_SYNC_REJECTED_PREFIX "desktop-rejected/"
#define DESKSTATE_SYNC_FILE            "state.json"

struct deskstate_sync;

/* `kv` is borrowed and must outlive the sync. Starts loading the stored states. */
int deskstate_sync_new(struct ab_loop *loop, struct kv *kv, struct deskstate_sync **ret,
                       struct ab_err *err);
/* Pending callbacks are dropped. Accepts NULL. */
void deskstate_sync_free(struct deskstate_sync *s);

/*
 * A state published by `user`'s window manager (borrowed). Valid and new:
 * stored; invalid: audited and dropped (the previous value stays).
 * Returns 0, or -errno when rejected.
 */
int deskstate_sync_publish(struct deskstate_sync *s, const char *user, json_t *state);

/*
 * The running desktops: a PUT for a user whose desktop is ready is also sent
 * to it as a control message {"type":"restore","state":{...}} (applied live).
 */
void deskstate_sync_set_desktops(struct deskstate_sync *s, struct desktop_manager *m);

/* desktop_message_fn (desktop.h): feeds "state" control messages to publish. */
void deskstate_sync_on_message(void *data, const char *user, json_t *msg);

/* desktop_prepare_fn (desktop.h): writes <runtime_dir>/state.json before the session starts. */
int deskstate_sync_prepare(void *data, const char *user, const char *runtime_dir,
                           desktop_prepare_done_fn done, void *token);

/* Registers the /api/desktops/ prefix route. */
int deskstate_sync_add_routes(struct deskstate_sync *s, struct server *srv);
/* The route handler (data: the sync), public for tests. */
int deskstate_sync_http(struct http_request *req, struct http_response *resp, void *data);
/*
 * POST /api/desktop/restart, POST /api/desktop/<user>/restart (data: the
 * sync): flush the wm's state (get_state), stop, start again. Public for tests.
 */
int deskstate_sync_restart_http(struct http_request *req, struct http_response *resp, void *data);

/* true when the stored states are loaded and no write is in flight. */
/*
 * Ends `user`'s desktop as DELETE /api/desktops/<user> does: a ready desktop
 * is asked for its window manager's state, which is stored before it stops
 * (at most a few seconds later it stops anyway). `data` is the
 * deskstate_sync (a admin_socket_stop_fn). 0, or -ENOENT when no desktop runs.
 */
int deskstate_sync_end(void *data, const char *user);
/*
 * Restarts `user`'s desktop as POST /api/desktop/<user>/restart does: the same flush and
 * stop, then a start from the stored state. 0, -ENOENT when none runs, -EBUSY while it is
 * stopping (not by a restart).
 */
int deskstate_sync_restart(void *data, const char *user);
bool deskstate_sync_idle(const struct deskstate_sync *s);
/*
 * Deletes `user`'s stored state, from the store and from the copy GET answers from (an
 * ended demo's: nothing of it may remain). 0 or -errno (the store refused the delete).
 */
int deskstate_sync_forget(struct deskstate_sync *s, const char *user, struct ab_err *err);

struct deskstate_sync_stats {
	unsigned long long published; /* states received from window managers */
	unsigned long long stored;    /* writes acknowledged durable */
	unsigned long long unchanged; /* identical to the stored value: not written */
	unsigned long long rejected;  /* invalid published or stored values */
	unsigned long long failed;    /* store errors */
	long long last_durable_ms;    /* receive -> durable of the last write */
};
void deskstate_sync_get_stats(const struct deskstate_sync *s, struct deskstate_sync_stats *ret);

#endif
