/* SPDX-License-Identifier: GPL-2.0-or-later */
/* authn: identity wired into the broker (see authn.h, docs/auth.md). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "auth_config.h"
#include "auth_request.h"
#include "authn.h"
#include "auth_hash.h"
#include "demo_pool.h"
#include "showcase.h"
#include "share.h"
#include "httpc.h"
#include "proxy.h"

#define AUTHN_EXPIRE_MS 60000
#define AUTHN_CF_MAX    (16 * 1024 + 1)
/* the whole Cookie header (Access's CF_Authorization JWT and others): up to the largest
 * listen.max_header_bytes, so a cookie the server accepted is never cut here */
#define AUTHN_COOKIE_MAX ((256 << 10) + 1)

struct authn {
	const struct broker_config *cfg;
	struct server *srv;
	struct ab_loop *loop;
	struct desktop_manager *desktops;
	struct kv *kv;
	struct users_db *db;
	struct httpc *httpc;
	struct auth_ctx ctx;
	bool tls;
	struct ab_timer *expire_timer;
	char sessions_path[PATH_MAX];
	char demo_path[PATH_MAX];
	/* the request being dispatched: the hook's decision for the route handlers */
	const struct http_request *last_req;
	struct auth_decision last;
	/* header copies (one request at a time on the loop) */
	char host[256], origin[256], csrf[160], path[512];
	char cookie[AUTHN_COOKIE_MAX];
	char cf[AUTHN_CF_MAX];
	struct authn_cleanup *cleanups;
	struct demo_pool *pool;
	struct showcase *showcase;
	struct share *share; /* view-only share links (share.h), or NULL */
	authn_state_forget_fn state_forget;
	void *state_forget_data;
	struct authn_login *logins; /* sign-ins whose password is being checked */
};

/* POST /api/login while its password is checked off the loop (auth_hash.h). */
struct authn_login {
	struct authn *a;
	struct http_deferred *d;
	struct auth_request_login_wait *w;
	bool form; /* answer as the form came (303) */
	struct authn_login *next;
};

/* A finished demo whose desktop is stopping: its data goes when it is gone. */
struct authn_cleanup {
	struct authn *a;
	char user[USERS_NAME_MAX + 1];
	struct ab_timer *timer;
	int64_t deadline_ms;
	struct authn_cleanup *next;
};

/* ---- requests ---- */

static void
authn_fill(struct authn *a, const struct http_request *req, struct auth_request *rq)
{
	*rq = (struct auth_request){
	    .method = req->method,
	    .path = req->path,
	    .peer = req->peer,
	    .host = http_request_header(req, "host", a->host, sizeof(a->host)),
	    .origin = http_request_header(req, "origin", a->origin, sizeof(a->origin)),
	    .cookie = http_request_header(req, "cookie", a->cookie, sizeof(a->cookie)),
	    .cf_assertion =
	        http_request_header(req, "cf-access-jwt-assertion", a->cf, sizeof(a->cf)),
	    .csrf_token = http_request_header(req, "x-csrf-token", a->csrf, sizeof(a->csrf)),
	    .tls = a->tls,
	};
	if (!rq->host)
		rq->host = "";
	/*
	 * deskstate_sync's /api/desktops/<user>/state is checked as the state
	 * endpoints: GET as "/api/state/<user>" (own, admin view), writes as
	 * "PUT /api/state" (signed in + CSRF; the handler allows owner or admin).
	 * Other /api/desktops/ paths go to authz as they are (GET/DELETE
	 * /api/desktops/<user>: desktop status and destroy).
	 */
	static const char pre[] = "/api/desktops/";
	const char *slash = strncmp(req->path, pre, sizeof(pre) - 1) == 0
	                        ? strchr(req->path + sizeof(pre) - 1, '/')
	                        : NULL;
	if (slash && strcmp(slash, "/state") == 0) {
		const char *u = req->path + sizeof(pre) - 1;
		if (auth_local_method_safe(req->method)) {
			snprintf(a->path, sizeof(a->path), "/api/state/%.*s", (int)(slash - u), u);
		} else {
			snprintf(a->path, sizeof(a->path), "/api/state");
			rq->method = "PUT";
		}
		rq->path = a->path;
	}
}

static void
authn_add_retry_after(struct http_response *resp, int s)
{
	if (s <= 0)
		return;
	char b[24];
	snprintf(b, sizeof(b), "%d", s);
	http_response_add_header(resp, "Retry-After", b);
}

/* The landing page's first demo profile (the preview's default), or NULL. */
static const struct users_profile *
authn_first_demo_profile(const struct users_db *db)
{
	for (size_t i = 0; i < users_profile_count(db); i++)
		if (users_profile_at(db, i)->demo)
			return users_profile_at(db, i);
	return NULL;
}

/* GET /ws/preview: the showcase desktop, view-only, within the preview's limits. */
static int
authn_preview(struct authn *a, struct http_request *req, struct http_response *deny)
{
	struct ab_err err = {0};
	const char *user = NULL;
	int r = a->showcase ? showcase_viewer(a->showcase, req->peer, &user, &err)
	                    : ab_err_set(&err, ENOENT, "the preview is disabled");
	if (r < 0) {
		a->last_req = NULL;
		http_response_error(deny, r == -EAGAIN ? 429 : r == -EUSERS ? 503 : 404, err.msg);
		authn_add_retry_after(deny, r == -EAGAIN || r == -EUSERS ? 30 : 0);
		return r;
	}
	snprintf(req->desktop, sizeof(req->desktop), "%s", user);
	/* served by the gateway's fan-out: one connection to the desktop for every viewer */
	snprintf(req->ws_tag, sizeof(req->ws_tag), "preview");
	req->view_only = true;
	return 0;
}

/* GET /ws/share/<token>: the owner's desktop, view-only, while the link lives (share.h). */
static int
authn_share(struct authn *a, struct http_request *req, struct http_response *deny)
{
	struct ab_err err = {0};
	int status = 404;
	const char *token = req->path + strlen("/ws/share/");
	int r = a->share ? share_viewer(a->share, token, req->user[0] ? req->user : NULL, req->peer,
	                                req->desktop, sizeof(req->desktop), req->ws_tag,
	                                sizeof(req->ws_tag), &status, &err)
	                 : ab_err_set(&err, ENOENT, "sharing is off");
	if (r < 0) {
		a->last_req = NULL;
		http_response_error(deny, status, err.msg);
		return r;
	}
	req->view_only = true;
	return 0;
}

static int
authn_authorize(struct http_request *req, struct http_response *deny, void *data)
{
	struct authn *a = data;
	struct auth_request rq;
	authn_fill(a, req, &rq);
	struct auth_decision *d = &a->last;
	auth_request_check(&a->ctx, &rq, ab_now_ms(), d);
	a->last_req = req;
	if (d->clear_cookie) {
		_cleanup_free_ char *c = auth_local_clear_cookie(a->tls);
		http_response_add_header(deny, "Set-Cookie", c);
	}
	/* who asked, also on a refusal (the websocket's deny audit line names them) */
	snprintf(req->user, sizeof(req->user), "%s", d->id.user);
	snprintf(req->role, sizeof(req->role), "%s",
	         d->id.user[0] ? users_role_name(d->id.role) : "");
	if (d->status) {
		a->last_req = NULL;
		http_response_error(deny, d->status, d->message ? d->message : "forbidden");
		authn_add_retry_after(deny, d->retry_after_s);
		return -EACCES;
	}
	if (req->websocket && d->endpoint == AUTHZ_PREVIEW_WS)
		return authn_preview(a, req, deny);
	if (req->websocket && d->endpoint == AUTHZ_SHARE_WS)
		return authn_share(a, req, deny);
	if (req->websocket) {
		/* another user's desktop: only one that exists (a registered user or a live demo)
		 */
		if (d->owner[0] && strcmp(d->owner, d->id.user) != 0 &&
		    !users_find(a->ctx.db, d->owner) &&
		    !(a->ctx.demo && demo_find(a->ctx.demo, d->owner))) {
			/* server.c's websocket filter audits the refusal ("desktop.connect") */
			a->last_req = NULL;
			http_response_error(deny, 404, "no such desktop");
			return -ENOENT;
		}
		snprintf(req->desktop, sizeof(req->desktop), "%s",
		         d->owner[0] ? d->owner : d->id.user);
		req->view_only = d->access == AUTHZ_VIEW_ONLY;
		if (req->view_only)
			audit_log("desktop.view", AUDIT_GRANT, d->id.user, req->role, req->peer,
			          json_pack("{sssb}", "owner", req->desktop, "view_only", true));
	}
	return 0;
}

/* The hook's decision for this request (route handlers run right after it). */
static const struct auth_decision *
authn_decision(struct authn *a, const struct http_request *req)
{
	return a->last_req == req ? &a->last : NULL;
}

static void
authn_send(struct http_response *resp, struct auth_reply *r)
{
	http_response_json(resp, r->status, r->body ? r->body : json_object());
	r->body = NULL;
	if (r->set_cookie)
		http_response_add_header(resp, "Set-Cookie", r->set_cookie);
	authn_add_retry_after(resp, r->retry_after_s);
	http_response_add_header(resp, "Cache-Control", "no-store");
	auth_reply_free(r);
}

/* ---- desktops ---- */

static void
authn_prestart_done(struct desktop *d, int status, void *data)
{
	if (status < 0)
		ab_warn("a desktop started at sign-in did not start: %s", strerror(-status));
}

/* Starts the user's desktop right after sign-in, so the page finds it booting or ready. */
static void
authn_prestart(struct authn *a, const char *user)
{
	if (!user || !desktop_user_valid(user))
		return;
	struct ab_err err = {0};
	struct desktop_waiter *w = NULL;
	if (desktop_acquire(a->desktops, user, authn_prestart_done, NULL, &w, &err) < 0)
		ab_warn("starting the desktop of '%s': %s", user, err.msg);
}

static const char *
authn_reply_user(const struct auth_reply *r)
{
	return r->status == 200 ? json_string_value(json_object_get(r->body, "user")) : NULL;
}

/* ---- routes ---- */

/* Decodes one application/x-www-form-urlencoded field into a new string, or NULL. */
static char *
authn_form_field(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			char *out = ab_xmalloc((size_t)(e - p) + 1), *o = out;
			for (const char *q = p + nl + 1; q < e; q++) {
				unsigned v;
				if (*q == '+') {
					*o++ = ' ';
				} else if (*q == '%' && e - q >= 3 &&
				           sscanf(q + 1, "%2x", &v) == 1 && v) {
					*o++ = (char)v;
					q += 2;
				} else {
					*o++ = *q;
				}
			}
			*o = '\0';
			return out;
		}
		p = e + 1;
	}
	return NULL;
}

/*
 * The landing page's forms without JavaScript post form-encoded: the fields
 * become the JSON body, and success answers 303 to the desktop page.
 */
static json_t *
authn_form_body(const struct http_request *req, const char *const fields[][2])
{
	char ct[128];
	if (!http_request_header(req, "content-type", ct, sizeof(ct)) ||
	    strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
		return NULL;
	json_t *o = json_object();
	for (size_t i = 0; fields[i][0]; i++) {
		char *v = authn_form_field(req->body, req->body_len, fields[i][0]);
		if (v && !json_object_get(o, fields[i][1]))
			json_object_set_new(o, fields[i][1], json_string(v));
		free(v);
	}
	return o;
}

static void
authn_send_form(struct http_response *resp, struct auth_reply *r)
{
	if (r->status != 200) {
		authn_send(resp, r);
		return;
	}
	json_decref(r->body);
	r->body = NULL;
	http_response_set(resp, 303, "text/plain", "", 0);
	http_response_add_header(resp, "Location", "/desktop.html");
	if (r->set_cookie)
		http_response_add_header(resp, "Set-Cookie", r->set_cookie);
	http_response_add_header(resp, "Cache-Control", "no-store");
	auth_reply_free(r);
}

typedef void (*authn_body_fn)(struct auth_ctx *ctx, const struct auth_request *req,
                              const char *body, size_t len, int64_t now_ms, struct auth_reply *ret);

/*
 * Runs a sign-in request fn on the form's fields as JSON when the page posted a form (form
 * non-NULL), else on the body as sent; then starts the desktop of the user it signed in
 * and answers as the request came (303 for a form, JSON otherwise). extra, when set, adds
 * to a successful reply before it goes. Consumes form.
 */
static int
authn_sign_in(struct authn *a, struct http_request *req, struct http_response *resp, json_t *form,
              authn_body_fn fn, void (*extra)(struct auth_reply *r))
{
	struct auth_request rq;
	authn_fill(a, req, &rq);
	struct auth_reply r;
	if (form) {
		char *body = json_dumps(form, JSON_COMPACT);
		fn(&a->ctx, &rq, body, strlen(body), ab_now_ms(), &r);
		free(body);
	} else {
		fn(&a->ctx, &rq, req->body, req->body_len, ab_now_ms(), &r);
	}
	const char *u = authn_reply_user(&r);
	authn_prestart(a, u);
	if (u && extra)
		extra(&r);
	if (form)
		authn_send_form(resp, &r);
	else
		authn_send(resp, &r);
	json_decref(form);
	return 0;
}

static void
authn_login_unlink(struct authn *a, struct authn_login *l)
{
	for (struct authn_login **p = &a->logins; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			return;
		}
}

/* The client left before its answer: the check is forgotten. */
static void
authn_login_cancel(void *ctx)
{
	struct authn_login *l = ctx;
	auth_request_login_cancel(&l->a->ctx, l->w);
	authn_login_unlink(l->a, l);
	free(l);
}

/* The password was checked: answer as authn_sign_in() does. */
static void
authn_login_done(struct auth_reply *r, void *data)
{
	struct authn_login *l = data;
	struct authn *a = l->a;
	authn_login_unlink(a, l);
	struct http_response *resp = server_deferred_response(l->d);
	authn_prestart(a, authn_reply_user(r));
	if (l->form)
		authn_send_form(resp, r);
	else
		authn_send(resp, r);
	server_deferred_done(l->d);
	free(l);
}

static int
route_login(struct http_request *req, struct http_response *resp, void *data)
{
	struct authn *a = data;
	static const char *const fields[][2] = {
	    {"user", "user"}, {"username", "user"}, {"password", "password"}, {NULL, NULL}};
	json_t *form = authn_form_body(req, fields);
	if (!a->ctx.hash)
		return authn_sign_in(a, req, resp, form, auth_request_login, NULL);
	struct auth_request rq;
	authn_fill(a, req, &rq);
	struct authn_login *l = ab_xcalloc(1, sizeof(*l));
	l->a = a;
	l->form = form != NULL;
	char *body = form ? json_dumps(form, JSON_COMPACT) : NULL;
	struct auth_reply r;
	int p = auth_request_login_start(&a->ctx, &rq, body ? body : req->body,
	                                 body ? strlen(body) : req->body_len, ab_now_ms(),
	                                 authn_login_done, l, &l->w, &r);
	free(body);
	json_decref(form);
	if (p == AUTH_LOCAL_PENDING) {
		l->d = http_response_defer(resp, authn_login_cancel, l);
		l->next = a->logins;
		a->logins = l;
		return 0;
	}
	bool as_form = l->form;
	free(l);
	authn_prestart(a, authn_reply_user(&r));
	if (as_form)
		authn_send_form(resp, &r);
	else
		authn_send(resp, &r);
	return 0;
}

static void
demo_desktop_url(struct auth_reply *r)
{
	json_object_set_new(r->body, "desktop_url", json_string("/desktop.html"));
}

static int
route_demo(struct http_request *req, struct http_response *resp, void *data)
{
	struct authn *a = data;
	static const char *const fields[][2] = {{"profile", "profile"}, {NULL, NULL}};
	json_t *form = authn_form_body(req, fields);
	if (form) {
		/* the page's radio values name the profile without its "demo-" prefix */
		const char *pv = json_string_value(json_object_get(form, "profile"));
		const struct users_profile *pp = pv ? users_profile(a->db, pv) : NULL;
		if (pv && (!pp || !pp->demo)) {
			char name[USERS_NAME_MAX + 8];
			snprintf(name, sizeof(name), "demo-%s", pv);
			if (users_profile(a->db, name))
				json_object_set_new(form, "profile", json_string(name));
		}
	}
	return authn_sign_in(a, req, resp, form, auth_request_demo, demo_desktop_url);
}

static int
route_logout(struct http_request *req, struct http_response *resp, void *data)
{
	struct authn *a = data;
	const struct auth_decision *d = authn_decision(a, req);
	if (!d)
		return -EINVAL;
	struct auth_identity id = d->id;
	struct auth_request rq;
	authn_fill(a, req, &rq);
	struct auth_reply r;
	auth_request_logout(&a->ctx, &rq, &id, &r);
	authn_send(resp, &r);
	return 0;
}

static int
route_me(struct http_request *req, struct http_response *resp, void *data)
{
	struct authn *a = data;
	const struct auth_decision *d = authn_decision(a, req);
	if (!d)
		return -EINVAL;
	struct auth_reply r;
	auth_request_me(&a->ctx, &d->id, ab_now_ms(), &r);
	authn_send(resp, &r);
	return 0;
}

static int
route_demo_profiles(struct http_request *req, struct http_response *resp, void *data)
{
	struct authn *a = data;
	struct auth_reply r;
	auth_request_demo_profiles(&a->ctx, &r);
	authn_send(resp, &r);
	return 0;
}

/* ---- demos ---- */

static void
authn_demo_warn(const struct demo_identity *id, int64_t left_ms, void *data)
{
	struct authn *a = data;
	int64_t min = (left_ms + 30000) / 60000;
	char body[160];
	if (min >= 1)
		snprintf(body, sizeof(body),
		         "This demo desktop ends in %lld minute%s. Files are not kept.",
		         (long long)min, min == 1 ? "" : "s");
	else
		snprintf(body, sizeof(body),
		         "This demo desktop ends in %lld seconds. Files are not kept.",
		         (long long)((left_ms + 999) / 1000));
	int r = desktop_send(
	    a->desktops, id->name,
	    ab_proto_msg("notify", json_pack("{ssssss}", "title", "Demo ending soon", "body", body,
	                                     "urgency", min <= 1 ? "critical" : "normal")));
	if (r < 0)
		ab_info("demo '%s': no desktop to warn (%s)", id->name, strerror(-r));
}

static int
authn_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		ab_warn("removing %s: %m", path);
	return 0;
}

static void
authn_kv_deleted(int error, const char *errmsg, void *data)
{
	if (error)
		ab_warn("deleting stored state: %s", errmsg ? errmsg : strerror(error));
}

/* Deletes what the demo left: runtime directory (sockets, state file, home), stored state. */
static void
authn_demo_delete_data(struct authn *a, const char *user)
{
	if (!desktop_user_valid(user))
		return;
	_cleanup_free_ char *dir = ab_xasprintf("%s/%s", a->cfg->session_runtime_base, user);
	struct stat st;
	if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		nftw(dir, authn_rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	struct ab_err err = {0};
	if (a->state_forget) {
		if (a->state_forget(a->state_forget_data, user, &err) < 0)
			ab_warn("deleting the stored state of '%s': %s", user, err.msg);
	} else if (a->kv) {
		_cleanup_free_ char *key = ab_xasprintf("desktop/%s", user);
		if (kv_delete(a->kv, key, authn_kv_deleted, NULL, &err) < 0)
			ab_warn("deleting %s: %s", key, err.msg);
	}
	audit_log("demo.cleanup", AUDIT_INFO, user, "demo", NULL,
	          json_pack("{ss}", "runtime_dir", dir));
}

static void
authn_cleanup_free(struct authn_cleanup *c)
{
	struct authn_cleanup **pp = &c->a->cleanups;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	free(c);
}

static int64_t
authn_cleanup_tick(struct ab_loop *loop, void *data)
{
	struct authn_cleanup *c = data;
	struct authn *a = c->a;
	if (desktop_exists(a->desktops, c->user) && ab_now_ms() < c->deadline_ms)
		return 100;
	authn_demo_delete_data(a, c->user);
	authn_cleanup_free(c);
	return AB_TIMER_STOP;
}

static void
authn_demo_end(const struct demo_identity *id, enum demo_end_reason why, void *data)
{
	struct authn *a = data;
	ab_info("demo '%s' ends (%s): stopping its desktop, deleting its data", id->name,
	        demo_end_reason_name(why));
	auth_local_logout_user(a->ctx.local, id->name);
	desktop_stop(a->desktops, id->name);
	struct authn_cleanup *c = ab_xcalloc(1, sizeof(*c));
	c->a = a;
	snprintf(c->user, sizeof(c->user), "%s", id->name);
	c->deadline_ms = ab_now_ms() + a->cfg->session_stop_timeout_ms + 5000;
	c->next = a->cleanups;
	a->cleanups = c;
	c->timer = ab_loop_timer(a->loop, 0, authn_cleanup_tick, c);
}

/* Demo desktops adopted from a previous broker: their identities are gone, so are they. */
static void
authn_reap_orphan_demos(struct authn *a)
{
	json_t *list = desktop_manager_list(a->desktops);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		const char *u = json_string_value(json_object_get(v, "user"));
		if (!u || strncmp(u, "demo-", 5) != 0 || users_find(a->ctx.db, u) ||
		    (a->ctx.demo && demo_find(a->ctx.demo, u)))
			continue;
		ab_info("demo desktop '%s' outlived its identity: stopping it, deleting its data",
		        u);
		struct demo_identity id = {0};
		snprintf(id.name, sizeof(id.name), "%s", u);
		authn_demo_end(&id, DEMO_END_ADMIN, a);
	}
	json_decref(list);
}

static int64_t
authn_expire_tick(struct ab_loop *loop, void *data)
{
	struct authn *a = data;
	auth_local_expire(a->ctx.local, ab_now_ms());
	return AUTHN_EXPIRE_MS;
}

/*
 * Sessions, sign-in failures and lockouts, and the per-address demo counter are saved
 * as they change (atomically: temp file, fsync, rename), so a crash or kill -9 signs no
 * one out and resets no lockout or cap (issue 12). Saving is a few KB and one fsync, on
 * the loop, before the answer goes out.
 */
static void
authn_save_sessions(void *data)
{
	struct authn *a = data;
	struct ab_err err = {0};
	if (auth_local_save(a->ctx.local, a->sessions_path, ab_now_ms(), &err) < 0)
		ab_warn("%s", err.msg);
}

static void
authn_save_demo(void *data)
{
	struct authn *a = data;
	struct ab_err err = {0};
	json_t *o = demo_recent_json(a->ctx.demo, ab_now_ms());
	_cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (ab_write_file_atomic(a->demo_path, text, strlen(text), 0600, &err) < 0)
		ab_warn("saving the demo counters: %s", err.msg);
}

static void
authn_load_demo(struct authn *a)
{
	struct ab_err err = {0};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = ab_read_file(a->demo_path, 1u << 20, &text, &len, &err);
	if (r == -ENOENT)
		return;
	json_t *o = r < 0 ? NULL : json_loadb(text, len, 0, NULL);
	r = o ? demo_recent_restore(a->ctx.demo, o, ab_now_ms()) : -EINVAL;
	json_decref(o);
	if (r < 0)
		ab_warn("%s: %s (demo counters start from zero)", a->demo_path,
		        err.msg[0] ? err.msg : "not a demo counter file");
	else if (r > 0)
		ab_info("%d recent demo start(s) restored from %s", r, a->demo_path);
}

static bool
authn_keep_demo(const char *user, void *data)
{
	/* Demos are not re-adopted across a restart: their sessions go. */
	return false;
}

/*
 * auth.demo.ttl_seconds / auth.demo.warn_seconds (development and tests: a
 * demo shorter than a minute) are taken out before auth_config_load().
 */
static int
authn_demo_overrides(json_t *auth, int64_t *ttl_ms, int64_t warn_ms[DEMO_MAX_WARNINGS + 1],
                     bool *have_warn, json_t **pool_sizes, struct ab_err *err)
{
	json_t *demo = json_object_get(auth, "demo");
	json_t *ttl = json_object_get(demo, "ttl_seconds");
	json_t *pool = json_object_get(demo, "pool");
	if (pool) {
		*pool_sizes = json_incref(pool);
		json_object_del(demo, "pool");
	}
	json_t *warn = json_object_get(demo, "warn_seconds");
	if (ttl) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > 86400)
			return ab_err_set(err, EINVAL,
			                  "auth.demo.ttl_seconds: not an integer in 1..86400");
		*ttl_ms = json_integer_value(ttl) * 1000;
		json_object_del(demo, "ttl_seconds");
	}
	if (warn) {
		size_t i;
		json_t *v;
		int64_t prev = INT64_MAX;
		if (!json_is_array(warn) || json_array_size(warn) > DEMO_MAX_WARNINGS)
			return ab_err_set(
			    err, EINVAL,
			    "auth.demo.warn_seconds: not an array of at most %d numbers",
			    DEMO_MAX_WARNINGS);
		json_array_foreach(warn, i, v)
		{
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) * 1000 >= prev)
				return ab_err_set(
				    err, EINVAL,
				    "auth.demo.warn_seconds[%zu]: not a positive integer "
				    "below the previous one",
				    i);
			prev = warn_ms[i] = json_integer_value(v) * 1000;
		}
		warn_ms[json_array_size(warn)] = 0;
		*have_warn = true;
		json_object_del(demo, "warn_seconds");
	}
	return 0;
}

/* ---- lifecycle ---- */

/* The auth subtree as authn_new() reads it: demo overrides (TTL, warnings) taken out, the rest
 * parsed. */
struct authn_parsed {
	struct auth_config ac;
	int64_t ttl_ms, warn_ms[DEMO_MAX_WARNINGS + 1];
	bool have_warn;
	json_t *pool_sizes; /* auth.demo.pool, owned, or NULL */
};

static int
authn_parse(const struct broker_config *cfg, struct authn_parsed *p, struct ab_err *err)
{
	*p = (struct authn_parsed){0};
	json_t *auth = json_deep_copy(cfg->auth);
	int r =
	    authn_demo_overrides(auth, &p->ttl_ms, p->warn_ms, &p->have_warn, &p->pool_sizes, err);
	if (r >= 0)
		r = auth_config_load(auth, &p->ac, err);
	json_decref(auth);
	if (r < 0) {
		json_decref(p->pool_sizes);
		p->pool_sizes = NULL;
	}
	return r;
}

int
authn_check_config(const struct broker_config *cfg, struct ab_err *err)
{
	int r = 0;
	struct authn_parsed p = {0};
	bool on = broker_config_auth_enabled(cfg);
	if (on && (r = authn_parse(cfg, &p, err)) < 0)
		return r;
	if (json_array_size(cfg->users) > 0 || on) {
		struct users_db *db = NULL;
		if ((r = users_load(cfg->users, cfg->profiles, &db, err)) >= 0 && on)
			r = demo_pool_sizes_check(db, p.pool_sizes, err);
		const struct users_profile *pp = r >= 0 && on && p.ac.preview_profile[0]
		                                     ? users_profile(db, p.ac.preview_profile)
		                                     : NULL;
		if (r >= 0 && on && p.ac.preview_profile[0] && (!pp || !pp->demo))
			r = ab_err_set(err, EINVAL,
			               "auth.demo.preview.profile: '%.64s' is not a demo profile",
			               p.ac.preview_profile);
		users_free(db);
	}
	json_decref(p.pool_sizes);
	return r < 0 ? r : 0;
}

int
authn_new(const struct broker_config *cfg, struct server *srv, struct desktop_manager *desktops,
          struct kv *kv, struct authn **ret, struct ab_err *err)
{
	*ret = NULL;
	if (!broker_config_auth_enabled(cfg))
		return 0;
	struct authn_parsed parsed;
	int r = authn_parse(cfg, &parsed, err);
	if (r < 0)
		return r;
	json_auto_t *pool_sizes = parsed.pool_sizes;
	const struct auth_config ac = parsed.ac;
	struct authn *a = ab_xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	a->srv = srv;
	a->loop = server_loop(srv);
	a->desktops = desktops;
	a->kv = kv;
	a->tls = cfg->tls_cert[0] != '\0';
	if ((r = users_load(cfg->users, cfg->profiles, &a->db, err)) < 0) {
		free(a);
		return r;
	}
	struct auth_local_config lc;
	auth_config_local(&ac, &lc);
	a->ctx.db = a->db;
	a->ctx.local = auth_local_new(a->db, &lc);
	/* passwords are hashed by worker threads, never on the loop (auth_hash.h) */
	a->ctx.hash = auth_hash_new(a->loop);
	a->ctx.local_login = ac.local_enabled;
	if (ac.access_enabled) {
		struct jwks_config jc;
		auth_config_jwks(&ac, &jc);
		a->httpc = httpc_new(a->loop);
		a->ctx.jwks = jwks_new(a->loop, a->httpc, &jc);
	}
	if (ac.demo_enabled) {
		struct demo_config dc;
		auth_config_demo(&ac, &dc);
		if (parsed.ttl_ms > 0)
			dc.ttl_ms = parsed.ttl_ms;
		if (parsed.have_warn)
			memcpy(dc.warn_before_ms, parsed.warn_ms, sizeof(dc.warn_before_ms));
		a->ctx.demo = demo_new(a->db, &dc, authn_demo_warn, authn_demo_end, a);
		demo_attach_loop(a->ctx.demo, a->loop);
	}

	if (ab_mkdir_p(cfg->data_dir, 0700, err) < 0) {
		ab_warn("data.dir: %s: sessions will not survive a restart", err->msg);
		ab_err_clear(err);
	} else {
		snprintf(a->sessions_path, sizeof(a->sessions_path), "%.4000s/sessions.json",
		         cfg->data_dir);
		struct ab_err lerr = {0};
		int n = auth_local_load(a->ctx.local, a->sessions_path, ab_now_ms(),
		                        authn_keep_demo, a, &lerr);
		if (n < 0)
			ab_warn("%s: %s (starting with no sessions)", a->sessions_path, lerr.msg);
		else if (n > 0)
			ab_info("%d session(s) restored from %s", n, a->sessions_path);
		auth_local_on_change(a->ctx.local, authn_save_sessions, a);
		if (a->ctx.demo) {
			snprintf(a->demo_path, sizeof(a->demo_path), "%.4000s/demo.json",
			         cfg->data_dir);
			authn_load_demo(a);
			demo_on_change(a->ctx.demo, authn_save_demo, a);
		}
	}
	a->expire_timer = ab_loop_timer(a->loop, AUTHN_EXPIRE_MS, authn_expire_tick, a);
	authn_reap_orphan_demos(a);
	if (a->ctx.demo && demo_pool_new(a->loop, a->ctx.demo, a->db, desktops, ac.demo_pool_size,
	                                 pool_sizes, &a->pool, err) < 0) {
		authn_free(a);
		return -EINVAL;
	}
	if (a->ctx.demo && ac.preview_enabled) {
		struct showcase_config sc = {
		    .enabled = true,
		    .profile = ac.preview_profile[0] ? users_profile(a->db, ac.preview_profile)
		                                     : authn_first_demo_profile(a->db),
		    .max_viewers = (int)ac.preview_max_viewers,
		    .per_ip_per_minute = (int)ac.preview_per_ip_per_minute,
		    .grace_ms = ac.preview_grace_seconds * 1000,
		};
		if (ac.preview_profile[0] && (!sc.profile || !sc.profile->demo)) {
			authn_free(a);
			return ab_err_set(
			    err, EINVAL, "auth.demo.preview.profile: '%.64s' is not a demo profile",
			    ac.preview_profile);
		}
		a->showcase = showcase_new(a->loop, a->ctx.demo, desktops, &sc);
	}

	server_set_authorize(srv, authn_authorize, a);
	static const struct server_route_def routes[] = {
	    {"POST", "/api/login", route_login},
	    {"POST", "/api/logout", route_logout},
	    {"POST", "/api/demo", route_demo},
	    {"GET", "/api/me", route_me},
	    {"GET", "/api/demo/profiles", route_demo_profiles},
	};
	if (SERVER_ROUTES_ADD(srv, routes, a) < 0) {
		authn_free(a);
		return ab_err_set(err, ENOSPC, "cannot add the auth routes");
	}
	ab_info("sign-in: %zu user(s), local %s, Cloudflare Access %s, demo %s", users_count(a->db),
	        ac.local_enabled ? "on" : "off", ac.access_enabled ? "on" : "off",
	        ac.demo_enabled ? "on" : "off");
	*ret = a;
	return 0;
}

static int
authn_closed(struct http_request *req, struct http_response *deny, void *data)
{
	http_response_error(deny, 503, "shutting down");
	return -EAGAIN;
}

void
authn_free(struct authn *a)
{
	if (!a)
		return;
	if (a->sessions_path[0]) {
		struct ab_err err = {0};
		if (auth_local_save(a->ctx.local, a->sessions_path, ab_now_ms(), &err) < 0)
			ab_warn("saving sessions: %s", err.msg);
	}
	/* what follows (demo data deleted, sessions dropped) is shutdown, not a change */
	auth_local_on_change(a->ctx.local, NULL, NULL);
	if (a->ctx.demo)
		demo_on_change(a->ctx.demo, NULL, NULL);
	/* never fall back to the default hook (everyone "local") */
	server_set_authorize(a->srv, authn_closed, NULL);
	while (a->cleanups) {
		struct authn_cleanup *c = a->cleanups;
		ab_loop_timer_cancel(a->loop, c->timer);
		authn_demo_delete_data(a, c->user);
		authn_cleanup_free(c);
	}
	ab_loop_timer_cancel(a->loop, a->expire_timer);
	demo_pool_free(a->pool);
	showcase_free(a->showcase);
	demo_free(a->ctx.demo);
	jwks_free(a->ctx.jwks);
	httpc_free(a->httpc);
	while (a->logins) {
		struct authn_login *l = a->logins;
		a->logins = l->next;
		auth_request_login_cancel(&a->ctx, l->w);
		http_response_error(server_deferred_response(l->d), 503,
		                    "the broker is shutting down");
		server_deferred_done(l->d);
		free(l);
	}
	auth_local_free(a->ctx.local);
	auth_hash_free(a->ctx.hash);
	users_free(a->db);
	free(a);
}

void
authn_set_showcase_seed(struct authn *a, int (*fn)(void *data, const char *user, json_t *state),
                        void *data)
{
	if (a)
		showcase_set_seed(a->showcase, fn, data);
}

void
authn_set_share(struct authn *a, struct share *s)
{
	if (a)
		a->share = s;
}

void
authn_set_state_forget(struct authn *a, authn_state_forget_fn fn, void *data)
{
	if (!a)
		return;
	a->state_forget = fn;
	a->state_forget_data = data;
}

void
authn_set_users(struct authn *a, const struct users_db *db)
{
	if (!a)
		return;
	a->ctx.db = db;
	auth_local_set_users(a->ctx.local, db);
}

size_t
authn_logout_user(struct authn *a, const char *user)
{
	return a ? auth_local_logout_user(a->ctx.local, user) : 0;
}

int64_t
authn_locked_for(struct authn *a, const char *user)
{
	return a ? auth_local_locked_for(a->ctx.local, user, NULL, ab_now_ms()) : 0;
}

bool
authn_unlock_user(struct authn *a, const char *user)
{
	return a && auth_local_unlock(a->ctx.local, user);
}

const struct demo_identity *
authn_demo_find(const struct authn *a, const char *name)
{
	return a && a->ctx.demo ? demo_find(a->ctx.demo, name) : NULL;
}
