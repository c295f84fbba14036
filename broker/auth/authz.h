/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz: who may call what. One table, role x endpoint -> decision, deny by
 * default: a route that is not in authz_route()'s table, a role without an
 * entry, or an endpoint without a rule is denied.
 *
 * Per request the broker does:
 *
 *   enum authz_endpoint ep; char owner[USERS_NAME_MAX + 1];
 *   if (authz_route(method, path, &ep, owner, sizeof(owner)) < 0) -> 404
 *   struct authz_subject who = {.user = name or NULL, .role = role, .source = peer};
 *   switch (authz_check(&who, ep, owner[0] ? owner : NULL)) {
 *   case AUTHZ_DENY:      401 when who.user is NULL, else 403
 *   case AUTHZ_VIEW_ONLY: serve, but drop the client's input (RFB: no key/pointer events)
 *   case AUTHZ_ALLOW:     serve
 *   }
 *
 * "Owned" endpoints (the desktop websocket, desktop status, desktop state)
 * act on one user's desktop: the owner is taken from the path
 * ("/ws/desktop/bea"); without one, the caller's own desktop is meant. A
 * user reaches only their own; an admin may open another's view-only (and
 * that is audited); an admin may also end another's desktop
 * (DELETE /api/desktops/<user>). Denials and view-only grants are always audited
 * ("authz"), grants of sensitive endpoints too.
 */
#ifndef BROKER_AUTHZ_H
#define BROKER_AUTHZ_H

#include <stddef.h>

#include "users.h"

enum authz_endpoint {
	AUTHZ_PUBLIC,          /* GET /, /api/demo/profiles, /healthz, static files */
	AUTHZ_LOGIN,           /* POST /api/login */
	AUTHZ_DEMO_START,      /* POST /api/demo */
	AUTHZ_LOGOUT,          /* POST /api/logout */
	AUTHZ_ME,              /* GET /api/me */
	AUTHZ_DESKTOP_STATUS,  /* GET /api/desktop[/<user>], /api/desktops/<user> (owned) */
	AUTHZ_DESKTOP_CTL,     /* POST /api/desktop[/<user>]/restart (owned; an admin: anyone's) */
	AUTHZ_DESKTOP_DESTROY, /* DELETE /api/desktops/<user> (owned; an admin: anyone's) */
	AUTHZ_DESKTOP_WS,      /* GET /websockify, /ws, /ws/desktop[/<user>]: websocket (owned) */
	AUTHZ_STATE_READ,      /* GET /api/state[/<user>], /api/desktops/<user>/state (owned) */
	AUTHZ_STATE_WRITE,     /* PUT /api/state, PUT|DELETE /api/desktops/<user>/state (owned) */
	AUTHZ_SERVICES,        /* GET /api/services[/<name>], POST /api/services/<name>/restart */
	AUTHZ_ADMIN_READ,      /* GET /api/admin/... */
	AUTHZ_ADMIN_WRITE,     /* POST, PUT, DELETE /api/admin/... */
	AUTHZ_ADMIN_THUMB,     /* GET /api/admin/desktops/<user>/thumbnail (grants audited there) */
	AUTHZ_VNC_PASSWORD,    /* GET, POST, DELETE /api/vnc-password (own; not demo) */
	AUTHZ_FILES_READ,      /* GET /api/files[/...]: the caller's own home (docs/files.md) */
	AUTHZ_FILES_WRITE,     /* POST, DELETE /api/files/..., /api/uploads[/...]: own home */
	AUTHZ_PREVIEW_WS,      /* GET /ws/preview: the landing page's showcase, view-only, anyone */
	AUTHZ_SHARE,           /* GET, POST /api/share, DELETE /api/share/<id>: own links */
	AUTHZ_SHARE_WS,        /* GET /ws/share/<token>: a share link's viewer, view-only */
	AUTHZ_MESSAGES,        /* GET, POST /api/messages[/blocks], DELETE .../blocks: own inbox */
	AUTHZ_ENDPOINT_MAX,
};

enum authz_decision {
	AUTHZ_DENY,
	AUTHZ_ALLOW,
	AUTHZ_VIEW_ONLY,
	AUTHZ_DECISION_MAX,
};

struct authz_subject {
	const char *user; /* NULL: anonymous */
	enum users_role role;
	const char *source; /* peer address, for the audit log */
};

/*
 * Maps a request to an endpoint. `owner` (a buffer of owner_len bytes)
 * receives the user named in the path, or "" when none. A GET/HEAD outside
 * /api/ and /ws that is not in the table is a static file (AUTHZ_PUBLIC; the
 * static server still checks the path). Returns 0, -ENOENT for a route that
 * does not exist (404), -EINVAL for a malformed owner name.
 */
int authz_route(const char *method, const char *path, enum authz_endpoint *ret_ep, char *owner,
                size_t owner_len);

/* The decision for `who` on `ep` (owner NULL: the caller's own). Audited as described above. */
enum authz_decision authz_check(const struct authz_subject *who, enum authz_endpoint ep,
                                const char *owner);

const char *authz_endpoint_name(enum authz_endpoint ep);
const char *authz_decision_name(enum authz_decision d);

/* Every route known to authz_route(), for the matrix test and docs: {method, path} pairs. */
struct authz_route_example {
	const char *method;
	const char *path; /* "{user}" stands for a user name */
	enum authz_endpoint ep;
};
extern const struct authz_route_example authz_routes[];

#endif
