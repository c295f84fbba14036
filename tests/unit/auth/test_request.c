/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auth_request: the broker-facing flow end to end on the sample config:
 * sign in, use the cookie, CSRF, sign out; the demo link; admin view-only;
 * dead cookies; lockout and demo limits as HTTP statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"
#include "audit.h"
#include "auth_request.h"

#include "sample_users.h"

static int demo_ends;
static struct auth_local *local_for_cb;

static void
on_demo_end(const struct demo_identity *id, enum demo_end_reason why, void *data)
{
	demo_ends++;
	/* what the broker does: destroy the desktop, delete data, drop sessions */
	auth_local_logout_user(local_for_cb, id->name);
}

struct env {
	struct auth_ctx ctx;
	char cookie[256];
	char csrf[AUTH_LOCAL_ID_LEN + 1];
};

static void
env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->ctx.db = db;
	e->ctx.local = auth_local_new(db, NULL);
	e->ctx.local_login = true;
	struct demo_config dc = demo_defaults;
	dc.max_concurrent = 2;
	dc.per_ip_max = 2;
	e->ctx.demo = demo_new(db, &dc, NULL, on_demo_end, NULL);
	local_for_cb = e->ctx.local;
}

static void
env_free(struct env *e)
{
	demo_free(e->ctx.demo);
	auth_local_free(e->ctx.local);
}

static int
check(struct env *e, const char *method, const char *path, const char *origin, bool csrf,
      struct auth_decision *d)
{
	struct auth_request rq = {
	    .method = method,
	    .path = path,
	    .peer = "192.0.2.10",
	    .host = "box:8080",
	    .origin = origin,
	    .cookie = e->cookie[0] ? e->cookie : NULL,
	    .csrf_token = csrf ? e->csrf : NULL,
	};
	auth_request_check(&e->ctx, &rq, 1000, d);
	return d->status;
}

/* Takes "argobox_session=<id>; Path=..." into e->cookie as a request Cookie header. */
static void
keep_cookie(struct env *e, const char *set_cookie)
{
	assert_non_null(set_cookie);
	size_t n = strcspn(set_cookie, ";");
	snprintf(e->cookie, sizeof(e->cookie), "lang=en; %.*s", (int)n, set_cookie);
}

static void
login(struct env *e, const char *user, const char *pw, struct auth_reply *r)
{
	struct auth_request rq = {.method = "POST",
	                          .path = "/api/login",
	                          .peer = "192.0.2.10",
	                          .host = "box:8080",
	                          .origin = "http://box:8080"};
	char *body = ab_xasprintf("{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
	auth_request_login(&e->ctx, &rq, body, strlen(body), 1000, r);
	free(body);
}

static void
test_local_flow(void **state)
{
	struct env e;
	env_init(&e);
	struct auth_decision d;
	struct auth_reply r;

	/* anonymous: the landing page yes, the API no */
	assert_int_equal(check(&e, "GET", "/", NULL, false, &d), 0);
	assert_int_equal(check(&e, "GET", "/index.html", NULL, false, &d), 0);
	assert_int_equal(check(&e, "GET", "/api/me", NULL, false, &d), 401);
	assert_int_equal(check(&e, "GET", "/websockify", NULL, false, &d), 401);
	assert_int_equal(check(&e, "POST", "/api/login", "http://box:8080", false, &d), 0);
	assert_int_equal(check(&e, "POST", "/api/login", "http://evil.example", false, &d), 403);
	assert_int_equal(check(&e, "GET", "/api/nope", NULL, false, &d), 404);

	/* sign in (the sample's development password) */
	login(&e, "bea", "wrong", &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(json_string_value(json_object_get(r.body, "error")),
	                    "invalid user name or password");
	assert_null(r.set_cookie);
	auth_reply_free(&r);
	login(&e, "ghost", "x", &r);
	assert_int_equal(r.status, 401); /* same answer for unknown users */
	auth_reply_free(&r);
	login(&e, "bea", "bea-argobox", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "role")), "member");
	snprintf(e.csrf, sizeof(e.csrf), "%s",
	         json_string_value(json_object_get(r.body, "csrf_token")));
	assert_non_null(strstr(r.set_cookie, "HttpOnly; SameSite=Strict"));
	keep_cookie(&e, r.set_cookie);
	auth_reply_free(&r);

	assert_int_equal(check(&e, "GET", "/api/me", NULL, false, &d), 0);
	assert_string_equal(d.id.user, "bea");
	assert_int_equal(d.id.via, AUTH_VIA_SESSION);
	auth_request_me(&e.ctx, &d.id, 1000, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "csrf_token")), e.csrf);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r.body, "profile"), "name")),
	    "developer");
	auth_reply_free(&r);
	assert_int_equal(check(&e, "GET", "/websockify", "http://box:8080", false, &d), 0);
	assert_int_equal(d.access, AUTHZ_ALLOW);
	/* cross-site websocket hijacking */
	assert_int_equal(check(&e, "GET", "/websockify", "http://evil.example", false, &d), 403);
	assert_int_equal(check(&e, "GET", "/ws/desktop/bogie", NULL, false, &d), 403);
	assert_int_equal(check(&e, "GET", "/api/admin/users", NULL, false, &d), 403);
	assert_int_equal(check(&e, "PUT", "/api/state", NULL, false, &d), 403); /* no CSRF */
	assert_int_equal(check(&e, "PUT", "/api/state", NULL, true, &d), 0);

	/* sign out: needs CSRF too */
	assert_int_equal(check(&e, "POST", "/api/logout", NULL, false, &d), 403);
	assert_int_equal(check(&e, "POST", "/api/logout", "http://box:8080", true, &d), 0);
	struct auth_request rq = {.method = "POST", .path = "/api/logout", .peer = "192.0.2.10"};
	auth_request_logout(&e.ctx, &rq, &d.id, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.set_cookie, "Max-Age=0"));
	auth_reply_free(&r);
	/* the old cookie is dead and gets cleared */
	assert_int_equal(check(&e, "GET", "/api/me", NULL, false, &d), 401);
	assert_true(d.clear_cookie);
	env_free(&e);
}

static void
test_admin_view_only(void **state)
{
	struct env e;
	env_init(&e);
	struct auth_decision d;
	struct auth_reply r;
	login(&e, "daniel", "daniel-argobox", &r);
	assert_int_equal(r.status, 200);
	keep_cookie(&e, r.set_cookie);
	auth_reply_free(&r);
	assert_int_equal(check(&e, "GET", "/ws/desktop/bea", NULL, false, &d), 0);
	assert_int_equal(d.access, AUTHZ_VIEW_ONLY);
	assert_string_equal(d.owner, "bea");
	assert_int_equal(check(&e, "GET", "/ws/desktop/daniel", NULL, false, &d), 0);
	assert_int_equal(d.access, AUTHZ_ALLOW);
	assert_int_equal(check(&e, "GET", "/api/admin/audit", NULL, false, &d), 0);
	assert_int_equal(check(&e, "GET", "/ws/desktop/Bad", NULL, false, &d), 400);
	env_free(&e);
}

static void
test_lockout_status(void **state)
{
	struct env e;
	env_init(&e);
	struct auth_reply r;
	for (int i = 0; i < 5; i++) {
		login(&e, "mauve", "nope", &r);
		assert_int_equal(r.status, 401);
		auth_reply_free(&r);
	}
	login(&e, "mauve", "mauve-argobox", &r);
	assert_int_equal(r.status, 429);
	/* a user-name lockout: Retry-After is its length, the figure the body gives (it was 1) */
	const char *msg = json_string_value(json_object_get(r.body, "error"));
	assert_non_null(msg);
	const char *in = strstr(msg, "try again in ");
	assert_non_null(in);
	assert_int_equal(r.retry_after_s, atoi(in + strlen("try again in ")));
	assert_true(r.retry_after_s > 800 && r.retry_after_s <= 900);
	auth_reply_free(&r);
	/* malformed bodies */
	struct auth_request rq = {.method = "POST", .path = "/api/login", .peer = "192.0.2.11"};
	const char *bad[] = {"",
	                     "[]",
	                     "{\"user\":1}",
	                     "not json",
	                     "{\"user\":\"a\"}",
	                     "{\"user\":\"a\\u0000b\",\"password\":\"x\"}"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		auth_request_login(&e.ctx, &rq, bad[i], strlen(bad[i]), 1000, &r);
		assert_int_equal(r.status, 400);
		auth_reply_free(&r);
	}
	e.ctx.local_login = false;
	login(&e, "mauve", "mauve-argobox", &r);
	assert_int_equal(r.status, 403);
	auth_reply_free(&r);
	env_free(&e);
}

static void
test_demo_flow(void **state)
{
	struct env e;
	env_init(&e);
	struct auth_decision d;
	struct auth_reply r;
	struct auth_request rq = {
	    .method = "POST", .path = "/api/demo", .peer = "192.0.2.10", .host = "box:8080"};
	auth_request_demo_profiles(&e.ctx, &r);
	assert_int_equal(json_array_size(json_object_get(r.body, "profiles")), 4);
	auth_reply_free(&r);

	const char *body = "{\"profile\":\"demo-media\"}";
	auth_request_demo(&e.ctx, &rq, body, strlen(body), 1000, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.body, "title")), "Media");
	assert_int_equal(json_integer_value(json_object_get(r.body, "ttl_s")), 3600);
	snprintf(e.csrf, sizeof(e.csrf), "%s",
	         json_string_value(json_object_get(r.body, "csrf_token")));
	keep_cookie(&e, r.set_cookie);
	assert_non_null(strstr(r.set_cookie, "Max-Age=3600"));
	auth_reply_free(&r);

	assert_int_equal(check(&e, "GET", "/websockify", NULL, false, &d), 0);
	assert_int_equal(d.id.role, USERS_ROLE_DEMO);
	assert_non_null(d.id.demo);
	char name[USERS_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", d.id.user);
	auth_request_me(&e.ctx, &d.id, 1000, &r);
	assert_int_equal(json_integer_value(json_object_get(r.body, "expires_in_s")), 3600);
	auth_reply_free(&r);
	assert_int_equal(check(&e, "GET", "/api/admin/users", NULL, false, &d), 403);
	assert_int_equal(check(&e, "POST", "/api/demo", NULL, false, &d), 403);

	/* bad profile, rate limit, cap */
	body = "{\"profile\":\"admin\"}";
	auth_request_demo(&e.ctx, &rq, body, strlen(body), 1000, &r);
	assert_int_equal(r.status, 400);
	auth_reply_free(&r);
	auth_request_demo(&e.ctx, &rq, "{}", 2, 1000, &r);
	assert_int_equal(r.status, 200);
	auth_reply_free(&r);
	auth_request_demo(&e.ctx, &rq, "{}", 2, 1000, &r);
	assert_int_equal(r.status, 429);
	assert_true(r.retry_after_s > 0);
	auth_reply_free(&r);
	rq.peer = "192.0.2.99";
	auth_request_demo(&e.ctx, &rq, "{}", 2, 1000, &r);
	assert_int_equal(r.status, 503);
	auth_reply_free(&r);

	/* sign-out ends the demo at once */
	assert_int_equal(check(&e, "POST", "/api/logout", NULL, true, &d), 0);
	demo_ends = 0;
	auth_request_logout(&e.ctx, &rq, &d.id, &r);
	assert_int_equal(r.status, 200);
	auth_reply_free(&r);
	assert_int_equal(demo_ends, 1);
	assert_null(demo_find(e.ctx.demo, name));
	assert_int_equal(check(&e, "GET", "/websockify", NULL, false, &d), 401);
	assert_true(d.clear_cookie);

	/* disabled demo link */
	demo_free(e.ctx.demo);
	e.ctx.demo = NULL;
	auth_request_demo(&e.ctx, &rq, "{}", 2, 1000, &r);
	assert_int_equal(r.status, 403);
	auth_reply_free(&r);
	env_free(&e);
}

AB_TEST_MAIN(sample_users_setup, sample_users_teardown, test_local_flow, test_admin_view_only,
             test_lockout_status, test_demo_flow);
