/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "auth_request.h"
#include "auth_local.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static const char *const via_names[AUTH_VIA_MAX] = {"none", "session", "access"};

const char *
auth_via_name(enum auth_via via)
{
	return via < AUTH_VIA_MAX ? via_names[via] : "unknown";
}

static void
deny(struct auth_decision *d, int status, const char *message)
{
	d->status = status;
	d->message = message;
}

/* Access: 1 identified, 0 no token, < 0 decided (status set in d). */
static int
identify_access(struct auth_ctx *ctx, const struct auth_request *req, struct auth_decision *d)
{
	size_t len = 0;
	const char *tok = jwt_from_request(req->cf_assertion, req->cookie, &len);
	if (!ctx->jwks || !tok)
		return 0;
	struct jwt *t = NULL;
	struct ab_err err = {0};
	int r = jwks_verify(ctx->jwks, tok, len, req->peer, (int64_t)time(NULL), NULL, NULL, NULL,
	                    &t, &err);
	if (r == -EAGAIN) {
		deny(d, 503, "signing keys are being refreshed, retry");
		d->retry_after_s = 1;
		return -EAGAIN;
	}
	if (r < 0) {
		deny(d, 401, "invalid Cloudflare Access token");
		return r;
	}
	const char *email = jwt_claim_string(t, "email");
	const struct users_user *u = email ? users_find_email(ctx->db, email) : NULL;
	if (!u || u->disabled) {
		audit_log(
		    "auth.access", AUDIT_DENY, email, NULL, req->peer,
		    json_pack("{s:s}", "reason",
		              u ? "account disabled by an administrator"
		                : (email ? "no user with this email" : "token has no email")));
		jwt_free(t);
		deny(d, 403, "no ArgoBox account for this identity");
		return -EACCES;
	}
	snprintf(d->id.user, sizeof(d->id.user), "%s", u->name);
	snprintf(d->id.email, sizeof(d->id.email), "%s", email);
	d->id.role = u->role;
	d->id.via = AUTH_VIA_ACCESS;
	d->id.account = u;
	d->id.profile = u->profile;
	jwt_free(t);
	return 1;
}

/* Session cookie: 1 identified, 0 anonymous. */
static int
identify_session(struct auth_ctx *ctx, const struct auth_request *req, int64_t now_ms,
                 struct auth_decision *d)
{
	size_t n = 0;
	if (!auth_local_cookie_find(req->cookie, AUTH_LOCAL_COOKIE, &n))
		return 0;
	const struct auth_session *s = auth_local_session_get(ctx->local, req->cookie, now_ms);
	if (!s) {
		d->clear_cookie = true;
		return 0;
	}
	if (s->role == USERS_ROLE_DEMO) {
		const struct demo_identity *di = ctx->demo ? demo_find(ctx->demo, s->user) : NULL;
		if (!di) {
			d->clear_cookie = true;
			return 0;
		}
		d->id.demo = di;
		d->id.profile = di->profile;
	} else {
		const struct users_user *u = users_find(ctx->db, s->user);
		if (!u || u->role != s->role || u->disabled) {
			/* removed, changed or disabled (config reload, admin console) */
			d->clear_cookie = true;
			return 0;
		}
		d->id.account = u;
		d->id.profile = u->profile;
	}
	snprintf(d->id.user, sizeof(d->id.user), "%s", s->user);
	d->id.role = s->role;
	d->id.via = AUTH_VIA_SESSION;
	d->id.session = s;
	return 1;
}

void
auth_request_check(struct auth_ctx *ctx, const struct auth_request *req, int64_t now_ms,
                   struct auth_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->access = AUTHZ_DENY;
	int r = authz_route(req->method, req->path, &d->endpoint, d->owner, sizeof(d->owner));
	if (r == -EINVAL)
		return deny(d, 400, "malformed user name in the path");
	if (r < 0)
		return deny(d, 404, "not found");

	r = identify_access(ctx, req, d);
	if (r < 0)
		return;
	if (r == 0)
		identify_session(ctx, req, now_ms, d);

	/* cross-site request forgery */
	struct ab_err err = {0};
	bool safe = auth_local_method_safe(req->method);
	if (d->id.via == AUTH_VIA_SESSION && !safe &&
	    auth_local_check_csrf(d->id.session, req->method, req->csrf_token, req->origin,
	                          req->host, req->tls, &err) < 0)
		return deny(d, 403, "missing or wrong CSRF token, or cross-origin request");
	bool need_origin = d->id.via == AUTH_VIA_ACCESS && !safe;
	if ((need_origin && !req->origin) ||
	    ((!safe || d->endpoint == AUTHZ_DESKTOP_WS || d->endpoint == AUTHZ_PREVIEW_WS) &&
	     auth_local_check_origin(req->origin, req->host, req->tls, &err) < 0)) {
		audit_log("auth.csrf", AUDIT_DENY, d->id.user[0] ? d->id.user : NULL,
		          d->id.user[0] ? users_role_name(d->id.role) : NULL, req->peer,
		          json_pack("{s:s, s:s}", "reason",
		                    req->origin ? err.msg : "missing Origin", "method",
		                    req->method));
		return deny(d, 403, "cross-origin request");
	}

	struct authz_subject who = {
	    .user = d->id.user[0] ? d->id.user : NULL,
	    .role = d->id.role,
	    .source = req->peer,
	};
	d->access = authz_check(&who, d->endpoint, d->owner[0] ? d->owner : NULL);
	if (d->access == AUTHZ_DENY)
		return deny(d, who.user ? 403 : 401, who.user ? "not allowed" : "sign in first");
}

/* --- handlers ------------------------------------------------------------------------ */

void
auth_reply_free(struct auth_reply *r)
{
	json_decref(r->body);
	free(r->set_cookie);
	memset(r, 0, sizeof(*r));
}

static void
reply_error(struct auth_reply *r, int status, const char *msg)
{
	r->status = status;
	r->body = json_pack("{s:s}", "error", msg);
}

static json_t *
parse_body(const char *body, size_t len)
{
	if (!body || len == 0)
		return json_object();
	if (len > 65536)
		return NULL;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The body of POST /api/login: 0 with *ret_j (owned), *user and *password in it; else the reply. */
static int
login_body(struct auth_ctx *ctx, const struct auth_request *req, const char *body, size_t len,
           json_t **ret_j, const char **user, const char **password, struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!ctx->local_login) {
		audit_log("auth.login", AUDIT_DENY, NULL, NULL, req->peer,
		          json_pack("{s:s}", "reason", "local sign-in is disabled"));
		auth_local_signin_count("local", false);
		reply_error(ret, 403, "password sign-in is disabled");
		return -EPERM;
	}
	json_t *j = parse_body(body, len);
	json_t *u = json_object_get(j, "user"), *p = json_object_get(j, "password");
	if (!j || !json_is_string(u) || !json_is_string(p)) {
		json_decref(j);
		audit_log("auth.login", AUDIT_DENY, NULL, NULL, req->peer,
		          json_pack("{s:s}", "reason", "malformed request body"));
		auth_local_signin_count("local", false);
		reply_error(ret, 400, "expected a JSON object {\"user\": ..., \"password\": ...}");
		return -EINVAL;
	}
	/* embedded NULs would silently truncate: refuse them */
	if (strlen(json_string_value(u)) != json_string_length(u) ||
	    strlen(json_string_value(p)) != json_string_length(p)) {
		json_decref(j);
		reply_error(ret, 400, "user name and password must not contain NUL");
		return -EINVAL;
	}
	*ret_j = j;
	*user = json_string_value(u);
	*password = json_string_value(p);
	return 0;
}

/* The reply to a sign-in that auth_local decided (r, s, err as auth_local_login returns them). */
static void
login_reply(struct auth_ctx *ctx, const char *user, const char *peer, bool tls, int r,
            const struct auth_session *s, const struct ab_err *err, int64_t now_ms,
            struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (r == -EBUSY) {
		/* the user name's lockout or the address's, whichever lasts longer: the same
		 * figure the body gives */
		reply_error(ret, 429, err->msg);
		ret->retry_after_s =
		    (int)AB_MAX(1, auth_local_locked_for(ctx->local, user, peer, now_ms));
		return;
	}
	if (r == -EAGAIN) {
		reply_error(ret, 503, err->msg);
		ret->retry_after_s = 1;
		return;
	}
	if (r == -EINVAL)
		return reply_error(ret, 400, "user name and password are required");
	if (r < 0)
		return reply_error(ret, 401, "invalid user name or password");
	ret->status = 200;
	ret->body = json_pack("{s:s, s:s, s:s}", "user", s->user, "role", users_role_name(s->role),
	                      "csrf_token", s->csrf);
	ret->set_cookie = auth_local_set_cookie(s, now_ms, tls);
}

void
auth_request_login(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                   size_t len, int64_t now_ms, struct auth_reply *ret)
{
	json_t *j = NULL;
	const char *user, *password;
	if (login_body(ctx, req, body, len, &j, &user, &password, ret) < 0)
		return;
	const struct auth_session *s = NULL;
	struct ab_err err = {0};
	int r = auth_local_login(ctx->local, user, password, req->peer, now_ms, &s, &err);
	login_reply(ctx, user, req->peer, req->tls, r, s, &err, now_ms, ret);
	json_decref(j);
}

struct auth_request_login_wait {
	struct auth_ctx *ctx;
	struct auth_local_login *login;
	char user[USERS_NAME_MAX + 1];
	char peer[64];
	bool tls;
	int64_t now_ms, mono_ms; /* the caller's clock at the start, and ours */
	auth_request_login_fn fn;
	void *data;
};

static void
login_done(int r, const struct auth_session *s, const struct ab_err *err, void *data)
{
	struct auth_request_login_wait *w = data;
	struct auth_reply reply;
	int64_t now_ms = w->now_ms + (ab_now_ms() - w->mono_ms);
	login_reply(w->ctx, w->user, w->peer, w->tls, r, s, err, now_ms, &reply);
	auth_request_login_fn fn = w->fn;
	void *fdata = w->data;
	free(w);
	fn(&reply, fdata);
}

int
auth_request_login_start(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                         size_t len, int64_t now_ms, auth_request_login_fn fn, void *data,
                         struct auth_request_login_wait **ret_wait, struct auth_reply *ret)
{
	if (!ctx->hash) {
		auth_request_login(ctx, req, body, len, now_ms, ret);
		return 0;
	}
	json_t *j = NULL;
	const char *user, *password;
	if (login_body(ctx, req, body, len, &j, &user, &password, ret) < 0)
		return 0;
	struct auth_request_login_wait *w = ab_xcalloc(1, sizeof(*w));
	w->ctx = ctx;
	snprintf(w->user, sizeof(w->user), "%s", user);
	snprintf(w->peer, sizeof(w->peer), "%s", req->peer ? req->peer : "");
	w->tls = req->tls;
	w->now_ms = now_ms;
	w->mono_ms = ab_now_ms();
	w->fn = fn;
	w->data = data;
	struct ab_err err = {0};
	int r = auth_local_login_start(ctx->local, ctx->hash, user, password, req->peer, now_ms,
	                               login_done, w, &w->login, &err);
	if (r < 0) {
		login_reply(ctx, user, req->peer, req->tls, r, NULL, &err, now_ms, ret);
		free(w);
		json_decref(j);
		return 0;
	}
	json_decref(j);
	*ret_wait = w;
	return AUTH_LOCAL_PENDING;
}

void
auth_request_login_cancel(struct auth_ctx *ctx, struct auth_request_login_wait *w)
{
	if (!w)
		return;
	/* the verdict still counts and is audited: hanging up does not skip the lockout */
	auth_local_login_abandon(ctx->local, w->login);
	free(w);
}

void
auth_request_logout(struct auth_ctx *ctx, const struct auth_request *req,
                    const struct auth_identity *id, struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	char user[USERS_NAME_MAX + 1];
	snprintf(user, sizeof(user), "%s", id->user);
	bool demo = id->role == USERS_ROLE_DEMO && id->demo;
	if (id->session) {
		char sid[AUTH_LOCAL_ID_LEN + 1];
		memcpy(sid, id->session->id, sizeof(sid));
		auth_local_logout(ctx->local, sid, req->peer);
	} else {
		audit_log("auth.logout", AUDIT_INFO, user[0] ? user : NULL,
		          user[0] ? users_role_name(id->role) : NULL, req->peer,
		          json_pack("{s:s}", "reason",
		                    id->via == AUTH_VIA_ACCESS
		                        ? "signed out (Cloudflare Access session continues)"
		                        : "signed out"));
	}
	/* a demo ends with its sign-out: desktop and data go (expire callback) */
	if (demo && ctx->demo)
		demo_end(ctx->demo, user, DEMO_END_LOGOUT);
	ret->status = 200;
	ret->body = json_object();
	ret->set_cookie = auth_local_clear_cookie(req->tls);
}

void
auth_request_demo(struct auth_ctx *ctx, const struct auth_request *req, const char *body,
                  size_t len, int64_t now_ms, struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!ctx->demo) {
		audit_log("demo.start", AUDIT_DENY, NULL, "demo", req->peer,
		          json_pack("{s:s}", "reason", "demo link is disabled"));
		return reply_error(ret, 403, "the demo link is disabled");
	}
	json_t *j = parse_body(body, len);
	json_t *p = json_object_get(j, "profile");
	if (!j || (p && !json_is_string(p))) {
		json_decref(j);
		return reply_error(ret, 400, "expected a JSON object {\"profile\": ...}");
	}
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	int r =
	    demo_start(ctx->demo, p ? json_string_value(p) : NULL, req->peer, now_ms, &id, &err);
	json_decref(j);
	if (r == -EAGAIN) {
		reply_error(ret, 429, err.msg);
		ret->retry_after_s = 60;
		return;
	}
	if (r == -EUSERS) {
		reply_error(ret, 503, err.msg);
		ret->retry_after_s = 60;
		return;
	}
	if (r < 0)
		return reply_error(ret, 400, err.msg);
	const struct auth_session *s = auth_local_session_new(
	    ctx->local, id->name, USERS_ROLE_DEMO, req->peer, id->expires_ms - now_ms, now_ms);
	ret->status = 200;
	ret->body =
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "user", id->name, "role", "demo", "profile",
	              id->profile->name, "title", id->profile->title, "ttl_s",
	              (json_int_t)((id->expires_ms - now_ms) / 1000), "csrf_token", s->csrf);
	ret->set_cookie = auth_local_set_cookie(s, now_ms, req->tls);
}

void
auth_request_me(struct auth_ctx *ctx, const struct auth_identity *id, int64_t now_ms,
                struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!id->user[0])
		return reply_error(ret, 401, "sign in first");
	json_t *o = json_pack("{s:s, s:s, s:s}", "user", id->user, "role",
	                      users_role_name(id->role), "via", auth_via_name(id->via));
	if (id->email[0])
		json_object_set_new(o, "email", json_string(id->email));
	else if (id->account && id->account->email)
		json_object_set_new(o, "email", json_string(id->account->email));
	if (id->session)
		json_object_set_new(o, "csrf_token", json_string(id->session->csrf));
	if (id->demo)
		json_object_set_new(
		    o, "expires_in_s",
		    json_integer(AB_MAX(0, (id->demo->expires_ms - now_ms) / 1000)));
	if (id->profile)
		json_object_set_new(o, "profile", users_profile_to_json(id->profile));
	ret->status = 200;
	ret->body = o;
}

void
auth_request_demo_profiles(struct auth_ctx *ctx, struct auth_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->status = 200;
	ret->body = json_pack("{s:b, s:o}", "enabled", ctx->demo != NULL, "profiles",
	                      demo_profiles_json(ctx->db));
}
