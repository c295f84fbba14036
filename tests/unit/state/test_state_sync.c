/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * deskstate_sync on a real embedded store: published states are validated
 * and stored (hostile ones rejected, the previous value kept), stored states
 * are handed to a starting desktop as a file or set aside when corrupt, and
 * the HTTP API enforces "a user their own, an admin anyone's".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_test.h"
#include "ab_util.h"
#include "audit.h"
#include "deskstate.h"
#include "deskstate_sync.h"
#include "kv.h"

struct fx {
	char dir[64];
	char rundir[96];
	struct ab_loop *loop;
	json_t *cfg;
	struct kv *kv;
	struct deskstate_sync *s;
};

static unsigned n_rejected, n_denied, n_granted;
static json_t *last_audit; /* the last event, owned */

static void
on_audit(json_t *ev, void *data)
{
	json_decref(last_audit);
	last_audit = json_deep_copy(ev);
	const char *name = json_string_value(json_object_get(ev, "event"));
	const char *outcome = json_string_value(json_object_get(ev, "outcome"));
	if (strcmp(name, "state.rejected") == 0)
		n_rejected++;
	else if (strncmp(name, "state.", 6) == 0 && strcmp(outcome, "deny") == 0)
		n_denied++;
	else if (strncmp(name, "state.", 6) == 0 && strcmp(outcome, "grant") == 0)
		n_granted++;
}

static void
spin_until(struct fx *f, bool (*cond)(struct fx *f, void *d), void *d)
{
	for (int i = 0; i < 2000 && !cond(f, d); i++)
		assert_int_equal(ab_loop_poll_once(f->loop, 5), 0);
	assert_true(cond(f, d));
}

static bool
is_idle(struct fx *f, void *d)
{
	return deskstate_sync_idle(f->s);
}

static void
open_all(struct fx *f)
{
	struct ab_err err = {0};
	if (kv_open(f->cfg, f->loop, &f->kv, &err) < 0)
		fail_msg("kv_open: %s", err.msg);
	if (deskstate_sync_new(f->loop, f->kv, &f->s, &err) < 0)
		fail_msg("deskstate_sync_new: %s", err.msg);
	spin_until(f, is_idle, NULL);
}

static void
close_all(struct fx *f)
{
	deskstate_sync_free(f->s);
	kv_close(f->kv);
	f->s = NULL;
	f->kv = NULL;
}

static int
setup(void **state)
{
	struct fx *f = ab_xcalloc(1, sizeof(*f));
	ab_test_tmpdir(f->dir, sizeof(f->dir), "ab-state-unit");
	snprintf(f->rundir, sizeof(f->rundir), "%s/run", f->dir);
	assert_int_equal(mkdir(f->rundir, 0700), 0);
	f->loop = ab_loop_poll_new();
	f->cfg = json_pack("{s:s, s:s}", "backend", "embedded", "dir", f->dir);
	n_rejected = n_denied = n_granted = 0;
	audit_set_listener(on_audit, NULL);
	open_all(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	close_all(f);
	audit_set_listener(NULL, NULL);
	json_decref(last_audit);
	last_audit = NULL;
	_cleanup_free_ char *cmd = ab_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	json_decref(f->cfg);
	ab_loop_poll_free(f->loop);
	free(f);
	return 0;
}

/* A valid state with two xterm windows at the given position of the first. */
static json_t *
good_state(int x)
{
	struct deskstate ds;
	deskstate_init_default(&ds);
	ds.windows = ab_xcalloc(2, sizeof(*ds.windows));
	ds.n_windows = 2;
	for (int i = 0; i < 2; i++) {
		struct deskstate_window *w = &ds.windows[i];
		snprintf(w->wm_class, sizeof(w->wm_class), "XTerm");
		snprintf(w->wm_instance, sizeof(w->wm_instance), "xterm");
		snprintf(w->title, sizeof(w->title), "term %d", i);
		w->x = i ? 400 : x;
		w->y = 50 + i;
		w->w = 300 + i;
		w->h = 200 + i;
		w->stack = i;
	}
	json_t *j = deskstate_to_json(&ds);
	deskstate_free(&ds);
	return j;
}

struct got {
	bool done;
	int error;
	char *data;
};

static void
on_get(int error, const char *msg, const struct kv_value *v, void *data)
{
	struct got *g = data;
	g->done = true;
	g->error = error;
	if (v)
		g->data = ab_xstrdup(v->data);
}

static bool
got_done(struct fx *f, void *d)
{
	return ((struct got *)d)->done;
}

static int
kv_get_sync(struct fx *f, const char *key, char **ret)
{
	struct got g = {0};
	assert_int_equal(kv_get(f->kv, key, on_get, &g, NULL), 0);
	spin_until(f, got_done, &g);
	*ret = g.data;
	return g.error;
}

static void
on_put(int error, const char *msg, void *data)
{
	struct got *g = data;
	g->done = true;
	g->error = error;
}

static void
kv_put_sync(struct fx *f, const char *key, const void *v, size_t len)
{
	struct got g = {0};
	assert_int_equal(kv_put(f->kv, key, v, len, NULL, on_put, &g, NULL), 0);
	spin_until(f, got_done, &g);
	assert_int_equal(g.error, 0);
}

static void
assert_stored_equals(struct fx *f, const char *user, json_t *want)
{
	_cleanup_free_ char *key = ab_xasprintf("desktop/%s", user);
	_cleanup_free_ char *data = NULL;
	assert_int_equal(kv_get_sync(f, key, &data), 0);
	json_t *got = json_loads(data, 0, NULL);
	assert_non_null(got);
	assert_true(json_equal(got, want));
	json_decref(got);
}

static void
publish_stores_and_survives_reopen(void **state)
{
	struct fx *f = *state;
	json_t *st = good_state(10);
	assert_int_equal(deskstate_sync_publish(f->s, "bea", st), 0);
	spin_until(f, is_idle, NULL);
	/* the same state again is not written a second time */
	assert_int_equal(deskstate_sync_publish(f->s, "bea", st), 0);
	struct deskstate_sync_stats stats;
	deskstate_sync_get_stats(f->s, &stats);
	assert_int_equal(stats.stored, 1);
	assert_int_equal(stats.unchanged, 1);
	assert_true(stats.last_durable_ms >= 0);
	close_all(f);
	open_all(f);
	assert_stored_equals(f, "bea", st);
	json_decref(st);
}

static void
publish_hostile_rejected_previous_kept(void **state)
{
	struct fx *f = *state;
	json_t *st = good_state(10);
	assert_int_equal(deskstate_sync_publish(f->s, "bea", st), 0);
	spin_until(f, is_idle, NULL);

	json_t *bad[6];
	/* wrong types */
	bad[0] = json_deep_copy(st);
	json_object_set_new(json_array_get(json_object_get(bad[0], "windows"), 0), "x",
	                    json_string("10"));
	/* a huge array */
	bad[1] = json_deep_copy(st);
	json_t *wins = json_object_get(bad[1], "windows");
	for (int i = 0; i < 5000; i++)
		json_array_append(wins, json_array_get(wins, 0));
	/* invalid UTF-8 in a title */
	bad[2] = json_deep_copy(st);
	json_object_set_new(json_array_get(json_object_get(bad[2], "windows"), 0), "title",
	                    json_stringn_nocheck("\xff\xfe bad", 6));
	/* far off-screen */
	bad[3] = good_state(1000000);
	/* not an object, unknown key */
	bad[4] = json_string("windows");
	bad[5] = json_deep_copy(st);
	json_object_set_new(bad[5], "exec", json_string("rm -rf /"));
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		assert_true(deskstate_sync_publish(f->s, "bea", bad[i]) < 0);
		json_decref(bad[i]);
	}
	assert_int_equal(n_rejected, AB_ARRAY_SIZE(bad));
	spin_until(f, is_idle, NULL);
	assert_stored_equals(f, "bea", st);
	json_decref(st);
}

struct prep {
	bool done;
	char env[256];
};

static void
on_prepared(void *token, int status, const char *const *env)
{
	struct prep *p = token;
	p->done = true;
	assert_int_equal(status, 0);
	if (env && env[0])
		snprintf(p->env, sizeof(p->env), "%s", env[0]);
}

static bool
prep_done(struct fx *f, void *d)
{
	return ((struct prep *)d)->done;
}

static void
prepare_writes_the_state_file(void **state)
{
	struct fx *f = *state;
	json_t *st = good_state(33);
	assert_int_equal(deskstate_sync_publish(f->s, "bea", st), 0);
	spin_until(f, is_idle, NULL);
	struct prep p = {0};
	assert_int_equal(deskstate_sync_prepare(f->s, "bea", f->rundir, on_prepared, &p), 0);
	assert_false(p.done); /* never inline */
	spin_until(f, prep_done, &p);
	_cleanup_free_ char *want = ab_xasprintf("ARGOBOX_STATE_FILE=%s/state.json", f->rundir);
	assert_string_equal(p.env, want);
	struct deskstate ds;
	struct ab_err err = {0};
	assert_int_equal(deskstate_load_file(want + strlen("ARGOBOX_STATE_FILE="), &ds, &err), 0);
	assert_int_equal(ds.n_windows, 2);
	assert_int_equal(ds.windows[0].x, 33);
	deskstate_free(&ds);

	/* no stored state: no file, no variable (the wm boots its defaults) */
	struct prep q = {0};
	assert_int_equal(deskstate_sync_prepare(f->s, "cal", f->rundir, on_prepared, &q), 0);
	spin_until(f, prep_done, &q);
	assert_string_equal(q.env, "");
	json_decref(st);
}

struct listed {
	bool done;
	size_t n;
};

static void
on_list(int error, const char *msg, const struct kv_list_result *r, void *data)
{
	struct listed *l = data;
	assert_int_equal(error, 0);
	l->n = r->n;
	l->done = true;
}

static bool
list_done(struct fx *f, void *d)
{
	return ((struct listed *)d)->done;
}

static void
prepare_sets_corrupt_values_aside(void **state)
{
	struct fx *f = *state;
	static const char *const hostile[] = {
	    "{\"version\":1,\"windows\":\"many\"}",              /* wrong type */
	    "{\"version\":1,\"windows\":[],\"x\":\"\xff\xfe\"}", /* invalid UTF-8 */
	    "{\"version\":1,",                                   /* torn */
	    "[1,2,3]",                                           /* not an object */
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(hostile); i++) {
		/* a good state.json from an earlier start must not survive either */
		_cleanup_free_ char *old = ab_xasprintf("%s/state.json", f->rundir);
		assert_int_equal(ab_write_file_atomic(old, "{}", 2, 0600, NULL), 0);
		kv_put_sync(f, "desktop/dan", hostile[i], strlen(hostile[i]));
		unsigned before = n_rejected;
		struct prep p = {0};
		assert_int_equal(deskstate_sync_prepare(f->s, "dan", f->rundir, on_prepared, &p),
		                 0);
		spin_until(f, prep_done, &p);
		assert_string_equal(p.env, "");
		assert_int_equal(access(old, F_OK), -1);
		assert_int_equal(n_rejected, before + 1);
		spin_until(f, is_idle, NULL);
		_cleanup_free_ char *data = NULL;
		assert_int_equal(kv_get_sync(f, "desktop/dan", &data), -ENOENT);
	}
	/* every value is kept under desktop-rejected/dan/ */
	struct listed l = {0};
	assert_int_equal(kv_list(f->kv, "desktop-rejected/dan/", NULL, 100, on_list, &l, NULL), 0);
	spin_until(f, list_done, &l);
	assert_int_equal(l.n, AB_ARRAY_SIZE(hostile));
}

/* ---- HTTP ---- */

struct call {
	int status;
	json_t *body;
	char allow[64]; /* the Allow header, "" without one */
};

static struct call
http_to(int (*handler)(struct http_request *req, struct http_response *resp, void *data),
        struct fx *f, const char *method, const char *path, const char *user, const char *role,
        const char *body)
{
	struct http_request req = {
	    .method = method,
	    .path = path,
	    .query = "",
	    .body = body ? body : "",
	    .body_len = body ? strlen(body) : 0,
	    .peer = "127.0.0.1",
	};
	snprintf(req.user, sizeof(req.user), "%s", user);
	snprintf(req.role, sizeof(req.role), "%s", role);
	struct http_response resp = {0};
	assert_int_equal(handler(&req, &resp, f->s), 0);
	struct call c = {.status = resp.status};
	c.body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
	free(resp.body);
	for (unsigned i = 0; i < resp.nheaders; i++) {
		if (strcmp(resp.header_names[i], "Allow:") == 0)
			snprintf(c.allow, sizeof(c.allow), "%s", resp.header_values[i]);
		free(resp.header_names[i]);
		free(resp.header_values[i]);
	}
	free(resp.file);
	return c;
}

static struct call
http(struct fx *f, const char *method, const char *path, const char *user, const char *role,
     const char *body)
{
	return http_to(deskstate_sync_http, f, method, path, user, role, body);
}

/*
 * The answer {"error": error} with `status`, and when `event` is given, the last audit line:
 * that event, denied, for `target`, with `error` as its reason.
 */
static void
assert_refused(struct call c, int status, const char *error, const char *event, const char *target)
{
	assert_int_equal(c.status, status);
	assert_string_equal(json_string_value(json_object_get(c.body, "error")), error);
	json_decref(c.body);
	if (!event)
		return;
	assert_non_null(last_audit);
	assert_string_equal(json_string_value(json_object_get(last_audit, "event")), event);
	assert_string_equal(json_string_value(json_object_get(last_audit, "outcome")), "deny");
	json_t *detail = json_object_get(last_audit, "detail");
	assert_string_equal(json_string_value(json_object_get(detail, "target")), target);
	assert_string_equal(json_string_value(json_object_get(detail, "reason")), error);
}

/*
 * Every refusal of the desktop routes (/api/desktops/<user>, its /state, /api/desktop/.../restart):
 * the status, the message, the Allow header of a 405, and the audit line of a 400, 401 or 403.
 * No desktop manager is attached here, so a caller who passes every check gets 503.
 */
static void
desktop_routes_refusals(void **state)
{
	struct fx *f = *state;
	int (*restart)(struct http_request *, struct http_response *, void *) =
	    deskstate_sync_restart_http;
	/* methods the routes do not take */
	struct call c = http(f, "PUT", "/api/desktops/bea", "bea", "member", NULL);
	assert_string_equal(c.allow, "GET, DELETE");
	assert_refused(c, 405, "method not allowed (GET or DELETE)", NULL, NULL);
	c = http(f, "POST", "/api/desktops/bea/state", "bea", "member", NULL);
	assert_string_equal(c.allow, "GET, PUT, DELETE");
	assert_refused(c, 405, "method not allowed (GET, PUT or DELETE)", NULL, NULL);
	c = http_to(restart, f, "DELETE", "/api/desktop/restart", "bea", "member", NULL);
	assert_string_equal(c.allow, "POST");
	assert_refused(c, 405, "method not allowed (POST)", NULL, NULL);

	/* nobody signed in */
	assert_refused(http(f, "GET", "/api/desktops/bea", "", "", NULL), 401, "not signed in",
	               "desktop.status", "bea");
	assert_refused(http(f, "DELETE", "/api/desktops/bea/state", "", "", NULL), 401,
	               "not signed in", "state.reset", "bea");
	assert_refused(http_to(restart, f, "POST", "/api/desktop/restart", "", "", NULL), 401,
	               "not signed in", "desktop.restart", "-");
	assert_refused(http_to(restart, f, "POST", "/api/desktop/bea/restart", "", "", NULL), 401,
	               "not signed in", "desktop.restart", "bea");

	/* a name that is no user name: 400 before anything else, but restart signs in first */
	assert_refused(http(f, "GET", "/api/desktops/Bad", "", "", NULL), 400, "invalid user name",
	               "desktop.status", "Bad");
	assert_refused(http(f, "PUT", "/api/desktops/Bad/state", "", "", NULL), 400,
	               "invalid user name", "state.replace", "Bad");
	assert_refused(
	    http_to(restart, f, "POST", "/api/desktop/Bad/restart", "bea", "member", NULL), 400,
	    "invalid user name", "desktop.restart", "Bad");

	/* someone else's desktop, as a member and as a demo user */
	assert_refused(http(f, "GET", "/api/desktops/bea", "cal", "member", NULL), 403,
	               "only an admin may see another user's desktop", "desktop.status", "bea");
	assert_refused(http(f, "DELETE", "/api/desktops/bea", "cal", "demo", NULL), 403,
	               "only an admin may end another user's desktop", "desktop.destroy", "bea");
	assert_refused(http(f, "GET", "/api/desktops/bea/state", "cal", "member", NULL), 403,
	               "only an admin may access another user's desktop state", "state.read",
	               "bea");
	assert_refused(
	    http_to(restart, f, "POST", "/api/desktop/bea/restart", "cal", "member", NULL), 403,
	    "only an admin may restart another user's desktop", "desktop.restart", "bea");

	/* allowed (own, or an admin), but no desktops here: 503, not audited as a denial */
	unsigned denied = n_denied;
	json_decref(last_audit);
	last_audit = NULL;
	assert_refused(http(f, "GET", "/api/desktops/bea", "bea", "member", NULL), 503,
	               "desktops are not available", NULL, NULL);
	assert_refused(http(f, "DELETE", "/api/desktops/bea", "root", "admin", NULL), 503,
	               "desktops are not available", NULL, NULL);
	assert_refused(http_to(restart, f, "POST", "/api/desktop/restart", "bea", "member", NULL),
	               503, "desktops are not available", NULL, NULL);
	assert_refused(
	    http_to(restart, f, "POST", "/api/desktop/bea/restart", "root", "admin", NULL), 503,
	    "desktops are not available", NULL, NULL);
	assert_null(last_audit);
	assert_int_equal(n_denied, denied);
}

static void
http_round_trip_and_authorization(void **state)
{
	struct fx *f = *state;
	const char *p = "/api/desktops/bea/state";
	/* nothing stored: the defaults */
	struct call c = http(f, "GET", p, "bea", "member", NULL);
	assert_int_equal(c.status, 200);
	assert_false(json_is_true(json_object_get(c.body, "stored")));
	assert_int_equal(deskstate_validate(json_object_get(c.body, "state"), NULL), 0);
	json_decref(c.body);

	/* replace, read back */
	json_t *st = good_state(77);
	_cleanup_free_ char *text = json_dumps(st, 0);
	c = http(f, "PUT", p, "bea", "member", text);
	assert_int_equal(c.status, 200);
	json_decref(c.body);
	spin_until(f, is_idle, NULL);
	assert_stored_equals(f, "bea", st);
	c = http(f, "GET", p, "bea", "member", NULL);
	assert_int_equal(c.status, 200);
	assert_true(json_is_true(json_object_get(c.body, "stored")));
	assert_true(json_equal(json_object_get(c.body, "state"), st));
	json_decref(c.body);

	/* hostile replacements: 400, nothing changes */
	unsigned rej = n_rejected;
	const char *bad[] = {"not json", "{\"version\":1,\"windows\":7}", "[]", ""};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		c = http(f, "PUT", p, "bea", "member", bad[i]);
		assert_int_equal(c.status, 400);
		json_decref(c.body);
	}
	assert_int_equal(n_rejected, rej + AB_ARRAY_SIZE(bad));
	spin_until(f, is_idle, NULL);
	assert_stored_equals(f, "bea", st);

	/* another member: denied, audited; an admin: allowed; nobody: 401 */
	unsigned denied = n_denied;
	c = http(f, "GET", p, "cal", "member", NULL);
	assert_int_equal(c.status, 403);
	json_decref(c.body);
	c = http(f, "PUT", p, "cal", "demo", text);
	assert_int_equal(c.status, 403);
	json_decref(c.body);
	c = http(f, "DELETE", p, "cal", "member", NULL);
	assert_int_equal(c.status, 403);
	json_decref(c.body);
	c = http(f, "GET", p, "", "", NULL);
	assert_int_equal(c.status, 401);
	json_decref(c.body);
	assert_int_equal(n_denied, denied + 4);
	c = http(f, "GET", p, "root", "admin", NULL);
	assert_int_equal(c.status, 200);
	assert_true(json_equal(json_object_get(c.body, "state"), st));
	json_decref(c.body);

	/* bad paths and methods */
	c = http(f, "GET", "/api/desktops/bea/other", "bea", "member", NULL);
	assert_int_equal(c.status, 404);
	json_decref(c.body);
	c = http(f, "GET", "/api/desktops/../state", "root", "admin", NULL);
	assert_int_equal(c.status, 400);
	json_decref(c.body);
	c = http(f, "POST", p, "bea", "member", text);
	assert_int_equal(c.status, 405);
	json_decref(c.body);

	/* an admin resets it: gone from the store, GET shows defaults */
	c = http(f, "DELETE", p, "root", "admin", NULL);
	assert_int_equal(c.status, 200);
	json_decref(c.body);
	spin_until(f, is_idle, NULL);
	_cleanup_free_ char *data = NULL;
	assert_int_equal(kv_get_sync(f, "desktop/bea", &data), -ENOENT);
	c = http(f, "GET", p, "bea", "member", NULL);
	assert_false(json_is_true(json_object_get(c.body, "stored")));
	json_decref(c.body);
	json_decref(st);
}

static void
load_at_startup_serves_get(void **state)
{
	struct fx *f = *state;
	json_t *st = good_state(5);
	assert_int_equal(deskstate_sync_publish(f->s, "eve", st), 0);
	spin_until(f, is_idle, NULL);
	close_all(f);
	open_all(f);
	struct call c = http(f, "GET", "/api/desktops/eve/state", "eve", "member", NULL);
	assert_int_equal(c.status, 200);
	assert_true(json_equal(json_object_get(c.body, "state"), st));
	json_decref(c.body);
	json_decref(st);
}

int
main(void)
{
	audit_open(NULL, NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(publish_stores_and_survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(publish_hostile_rejected_previous_kept, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(prepare_writes_the_state_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(prepare_sets_corrupt_values_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(http_round_trip_and_authorization, setup, teardown),
	    cmocka_unit_test_setup_teardown(load_at_startup_serves_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(desktop_routes_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
