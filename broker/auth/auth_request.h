/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auth_request: the one call the broker's authorize hook makes per request,
 * and the handlers of the auth routes, on top of users, jwks, auth_local,
 * demo and authz. Independent of the HTTP server's types: the caller copies
 * the few headers it needs into a struct auth_request.
 *
 * Per request (HTTP and websocket upgrade alike):
 *
 *   struct auth_request rq = {method, path, peer, Host, Origin, Cookie,
 *                             Cf-Access-Jwt-Assertion, X-CSRF-Token, tls};
 *   struct auth_decision d;
 *   auth_request_check(ctx, &rq, ab_now_ms(), &d);
 *   if (d.status)  -> send d.status with {"error": d.message}
 *                     (+ Retry-After: d.retry_after_s when > 0)
 *   else           -> serve as d.id.user / d.id.role; d.access is
 *                     AUTHZ_VIEW_ONLY when an admin watches someone else's
 *                     desktop (d.owner): drop that client's input
 *   if (d.clear_cookie) add Set-Cookie: auth_local_clear_cookie(rq.tls)
 *
 * Identity: a valid Cloudflare Access token (header, then CF_Authorization
 * cookie) whose "email" is a user in the table; else the argobox_session
 * cookie (local sign-in or demo). Unsafe methods need the session's CSRF
 * token (X-CSRF-Token) and a matching Origin; Access identities and the
 * websocket need a matching Origin when one is sent (and Access identities on
 * unsafe methods must send one).
 */
#ifndef BROKER_AUTH_REQUEST_H
#define BROKER_AUTH_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth_local.h"
#include "authz.h"
#include "demo.h"
#include "jwks.h"
#include "users.h"

struct auth_ctx {
	const struct users_db *db; /* required */
	struct auth_local *local;  /* required: the session table (local sign-in and demos) */
	bool local_login;          /* POST /api/login accepts passwords */
	struct jwks *jwks;         /* NULL: Cloudflare Access disabled */
	struct demo *demo;         /* NULL: demo link disabled */
	struct auth_hash *hash;    /* NULL: passwords are checked on the caller's thread */
};

struct auth_request {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* decoded, may carry "?query" */
	const char *peer;         /* peer address */
	const char *host;         /* Host header */
	const char *origin;       /* Origin header, NULL when absent */
	const char *cookie;       /* Cookie header, NULL when absent */
	const char *cf_assertion; /* Cf-Access-Jwt-Assertion header, NULL when absent */
	const char *csrf_token;   /* X-CSRF-Token header, NULL when absent */
	bool tls;
};

enum auth_via {
	AUTH_VIA_NONE,    /* anonymous */
	AUTH_VIA_SESSION, /* argobox_session cookie (local sign-in or demo link) */
	AUTH_VIA_ACCESS,  /* Cloudflare Access JWT */
	AUTH_VIA_MAX,
};

struct auth_identity {
	char user[USERS_NAME_MAX + 1]; /* "" when anonymous */
	enum users_role role;
	enum auth_via via;
	const struct users_user *account;    /* registered users (NULL for demos) */
	const struct demo_identity *demo;    /* demo identities */
	const struct users_profile *profile; /* either's profile */
	const struct auth_session *session;  /* via session */
	char email[256];                     /* via Access */
};

struct auth_decision {
	int status;          /* 0: serve; else the HTTP status to answer with */
	const char *message; /* static text for {"error": ...} */
	int retry_after_s;   /* > 0: add Retry-After */
	bool clear_cookie;   /* a dead session cookie came in: clear it */
	enum authz_endpoint endpoint;
	enum authz_decision access;     /* AUTHZ_ALLOW or AUTHZ_VIEW_ONLY when status is 0 */
	char owner[USERS_NAME_MAX + 1]; /* desktop owner named in the path, "" = the caller */
	struct auth_identity id;
};

/* Borrowed pointers in *ret stay valid until the next call that changes sessions or demos. */
void auth_request_check(struct auth_ctx *ctx, const struct auth_request *req, int64_t now_ms,
                        struct auth_decision *ret);

/* What a route handler sends back. */
struct auth_reply {
	int status;
	json_t *body;      /* owned; {"error": ...} on failures */
	char *set_cookie;  /* owned Set-Cookie value, or NULL */
	int retry_after_s; /* > 0: add Retry-After */
};
void auth_reply_free(struct auth_reply *r);

/*
 * POST /api/login  body {"user": "...", "password": "..."}
 *   200 {"user","role","csrf_token"} + Set-Cookie; 400 bad body; 401 wrong
 *   name or password (one message for all); 403 local sign-in disabled;
 *   429 locked out (+ Retry-After).
 */
void auth_request_login(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                        size_t len, int64_t now_ms, struct auth_reply *ret);

/*
 * auth_request_login() with the password hash checked off the loop by ctx->hash
 * (auth_hash.h; without one it is auth_request_login()). Returns 0 with *ret filled when
 * answered at once (bad body, locked out, too many in flight: 429, queue full: 503), or
 * AUTH_LOCAL_PENDING: fn(reply, data) runs later on the loop with the reply (fn owns it:
 * auth_reply_free), unless auth_request_login_cancel() first (the client left: the check
 * still counts towards the lockout and is audited, fn does not run).
 */
struct auth_request_login_wait;
typedef void (*auth_request_login_fn)(struct auth_reply *r, void *data);
int auth_request_login_start(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                             size_t len, int64_t now_ms, auth_request_login_fn fn, void *data,
                             struct auth_request_login_wait **ret_wait, struct auth_reply *ret);
void auth_request_login_cancel(struct auth_ctx *ctx, struct auth_request_login_wait *w);

/*
 * POST /api/logout (after auth_request_check allowed it; `id` from there):
 *   200 {} + a clearing Set-Cookie. A demo identity ends at once (the demo
 *   expire callback destroys its desktop and data); members keep theirs.
 */
void auth_request_logout(struct auth_ctx *ctx, const struct auth_request *req,
                         const struct auth_identity *id, struct auth_reply *ret);

/*
 * POST /api/demo  body {"profile": "demo-homelab"} (or {} for the default)
 *   200 {"user","role":"demo","profile","ttl_s","csrf_token"} + Set-Cookie;
 *   400 unknown profile; 403 demo link disabled; 429 rate limit; 503 cap.
 */
void auth_request_demo(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                       size_t len, int64_t now_ms, struct auth_reply *ret);

/* GET /api/me: {"user","role","via","email"?,"csrf_token"?,"expires_in_s"?,"profile":{...}} */
void auth_request_me(struct auth_ctx *ctx, const struct auth_identity *id, int64_t now_ms,
                     struct auth_reply *ret);

/* GET /api/demo/profiles: {"enabled": bool, "profiles": [{"name","title","ttl_minutes"}]} */
void auth_request_demo_profiles(struct auth_ctx *ctx, struct auth_reply *ret);

const char *auth_via_name(enum auth_via via);

#endif
