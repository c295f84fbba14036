/* SPDX-License-Identifier: GPL-2.0-or-later */
/* auth_local: sign-in, lockout, sessions, cookies, CSRF; every decision audited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_util.h"
#include "ab_test_audit.h"
#include "audit.h"
#include "auth_local.h"
#include "users.h"

static struct users_db *db;
static char *
make_hash(const char *prefix, const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = {0};
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)));
	const char *h = crypt_rn(password, salt, &cd, sizeof(cd));
	assert_non_null(h);
	return ab_xstrdup(h);
}

static int
setup(void **state)
{
	char *y = make_hash("$y$", "correct horse");
	char *s = make_hash("$6$", "battery staple");
	json_t *users =
	    json_pack("[{s:s,s:s,s:s,s:i,s:s}, {s:s,s:s,s:s,s:i,s:s}, {s:s,s:s,s:s,s:i}]", "name",
	              "daniel", "role", "admin", "profile", "p", "uid", 1000, "password_hash", y,
	              "name", "bea", "role", "member", "profile", "p", "uid", 1003, "password_hash",
	              s, "name", "nopw", "role", "member", "profile", "p", "uid", 1004);
	json_t *profiles = json_pack("{s:{}}", "p");
	struct ab_err err = {0};
	assert_int_equal(users_load(users, profiles, &db, &err), 0);
	json_decref(users);
	json_decref(profiles);
	free(y);
	free(s);
	return 0;
}

static int
teardown(void **state)
{
	users_free(db);
	ab_test_audit_stop();
	audit_close();
	return 0;
}

static int
reset_events(void **state)
{
	ab_test_audit_start();
	return 0;
}

/* The last audit event has this event name and outcome, and its reason contains `why`. */
static void
expect_audit(const char *event, const char *outcome, const char *why)
{
	json_t *events = ab_test_audit_events();
	size_t n = json_array_size(events);
	assert_true(n > 0);
	json_t *ev = json_array_get(events, n - 1);
	assert_string_equal(json_string_value(json_object_get(ev, "event")), event);
	assert_string_equal(json_string_value(json_object_get(ev, "outcome")), outcome);
	const char *r = json_string_value(json_object_get(json_object_get(ev, "detail"), "reason"));
	if (why && (!r || !strstr(r, why)))
		fail_msg("audit reason '%s' does not contain '%s'", r ? r : "(none)", why);
}

static void
test_login(void **state)
{
	struct auth_local *al = auth_local_new(db, NULL);
	const struct auth_session *s = NULL;
	struct ab_err err = {0};
	int64_t now = 1000;

	assert_int_equal(auth_local_login(al, "daniel", "correct horse", "10.0.0.1", now, &s, &err),
	                 0);
	assert_non_null(s);
	assert_string_equal(s->user, "daniel");
	assert_int_equal(s->role, USERS_ROLE_ADMIN);
	assert_int_equal(strlen(s->id), AUTH_LOCAL_ID_LEN);
	assert_int_equal(strlen(s->csrf), AUTH_LOCAL_ID_LEN);
	assert_string_not_equal(s->id, s->csrf);
	expect_audit("auth.login", "grant", "password ok");
	/* sha512-crypt */
	const struct auth_session *s2 = NULL;
	assert_int_equal(auth_local_login(al, "bea", "battery staple", "10.0.0.1", now, &s2, &err),
	                 0);
	assert_string_not_equal(s->id, s2->id);

	struct {
		const char *user, *pw, *why;
		int ret;
	} bad[] = {
	    {"daniel", "wrong", "wrong password", -EACCES},
	    {"daniel", "correct horse ", "wrong password", -EACCES},
	    {"ghost", "correct horse", "unknown user", -EACCES},
	    {"nopw", "", "missing or oversized", -EINVAL},
	    {"nopw", "x", "has no password", -EACCES},
	    {"", "x", "missing or oversized", -EINVAL},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		const struct auth_session *none = NULL;
		ab_err_clear(&err);
		assert_int_equal(
		    auth_local_login(al, bad[i].user, bad[i].pw, "10.0.0.2", now, &none, &err),
		    bad[i].ret);
		assert_null(none);
		expect_audit("auth.login", "deny", bad[i].why);
	}
	char *longpw = ab_xmalloc(AUTH_LOCAL_PASSWORD_MAX + 2);
	memset(longpw, 'x', AUTH_LOCAL_PASSWORD_MAX + 1);
	longpw[AUTH_LOCAL_PASSWORD_MAX + 1] = '\0';
	assert_int_equal(auth_local_login(al, "daniel", longpw, "10.0.0.2", now, &s2, &err),
	                 -EINVAL);
	free(longpw);
	auth_local_free(al);
}

static void
test_lockout(void **state)
{
	struct auth_local_config cfg = auth_local_defaults;
	cfg.user_max_failures = 3;
	cfg.ip_max_failures = 5;
	cfg.lockout_ms = 60000;
	cfg.failure_window_ms = 600000;
	struct auth_local *al = auth_local_new(db, &cfg);
	const struct auth_session *s = NULL;
	struct ab_err err = {0};
	int64_t now = 1000;

	/* per user: three failures from different addresses lock the name */
	for (int i = 0; i < 3; i++) {
		char src[32];
		snprintf(src, sizeof(src), "10.1.0.%d", i);
		assert_int_equal(auth_local_login(al, "daniel", "nope", src, now, &s, &err),
		                 -EACCES);
	}
	expect_audit("auth.lockout", "deny", "this user name");
	/* now even the right password is refused, from anywhere */
	assert_int_equal(
	    auth_local_login(al, "daniel", "correct horse", "10.9.9.9", now + 1, &s, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "try again in 60 s"));
	expect_audit("auth.login", "deny", "locked out");
	assert_int_equal(auth_local_locked_for(al, "daniel", NULL, now + 1), 60);
	/* other users are not affected */
	assert_int_equal(
	    auth_local_login(al, "bea", "battery staple", "10.9.9.9", now + 1, &s, &err), 0);
	/* after the lockout the right password works and resets the count */
	assert_int_equal(
	    auth_local_login(al, "daniel", "correct horse", "10.9.9.9", now + 60001, &s, &err), 0);

	/* per address: five failures over different names lock the address */
	const char *names[] = {"a1", "a2", "a3", "a4", "a5"};
	for (int i = 0; i < 5; i++)
		assert_int_equal(auth_local_login(al, names[i], "x", "192.0.2.7", now, &s, &err),
		                 -EACCES);
	expect_audit("auth.lockout", "deny", "this address");
	assert_int_equal(
	    auth_local_login(al, "bea", "battery staple", "192.0.2.7", now + 5, &s, &err), -EBUSY);
	assert_int_equal(
	    auth_local_login(al, "bea", "battery staple", "192.0.2.8", now + 5, &s, &err), 0);
	/* failures outside the window do not add up */
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    auth_local_login(al, "bea", "x", "10.2.0.1", now + i * 700000, &s, &err),
		    -EACCES);
	assert_int_equal(
	    auth_local_login(al, "bea", "x", "10.2.0.1", now + 1400000 + 700000, &s, &err),
	    -EACCES);
	assert_int_equal(auth_local_locked_for(al, "bea", NULL, now + 2100001), 0);
	auth_local_free(al);
}

static void
test_sessions_and_cookies(void **state)
{
	struct auth_local_config cfg = auth_local_defaults;
	cfg.session_ttl_ms = 10000;
	cfg.max_sessions = 3;
	struct auth_local *al = auth_local_new(db, &cfg);
	const struct auth_session *s = NULL;
	struct ab_err err = {0};
	assert_int_equal(auth_local_login(al, "bea", "battery staple", "10.0.0.1", 0, &s, &err), 0);
	char id[AUTH_LOCAL_ID_LEN + 1];
	strcpy(id, s->id);

	char *c = auth_local_set_cookie(s, 0, false);
	char *want = ab_xasprintf("argobox_session=%s; Path=/; Max-Age=10; HttpOnly; "
	                          "SameSite=Strict",
	                          id);
	assert_string_equal(c, want);
	free(c);
	free(want);
	c = auth_local_set_cookie(s, 0, true);
	assert_non_null(strstr(c, "; HttpOnly; SameSite=Strict; Secure"));
	free(c);
	c = auth_local_clear_cookie(true);
	assert_string_equal(c, "argobox_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; "
	                       "Secure");
	free(c);

	char *hdr = ab_xasprintf("theme=dark; argobox_session=%s; CF_Authorization=x", id);
	assert_ptr_equal(auth_local_session_get(al, hdr, 5000), s);
	assert_null(auth_local_session_get(al, hdr, 10000)); /* expired */
	assert_ptr_equal(auth_local_session_find(al, id, 9999), s);
	free(hdr);
	/* near misses */
	assert_null(auth_local_session_get(al, NULL, 0));
	assert_null(auth_local_session_get(al, "argobox_session=", 0));
	assert_null(auth_local_session_get(al, "argobox_session=zz", 0));
	hdr = ab_xasprintf("argobox_session=%.63s", id);
	assert_null(auth_local_session_get(al, hdr, 0));
	free(hdr);
	hdr = ab_xasprintf("xargobox_session=%s", id);
	assert_null(auth_local_session_get(al, hdr, 0));
	free(hdr);

	/* logout */
	assert_int_equal(auth_local_logout(al, id, "10.0.0.1"), 0);
	expect_audit("auth.logout", "info", "signed out");
	assert_null(auth_local_session_find(al, id, 0));
	assert_int_equal(auth_local_logout(al, id, "10.0.0.1"), -ENOENT);

	/* table bound: the oldest goes */
	const struct auth_session *a =
	    auth_local_session_new(al, "u1", USERS_ROLE_MEMBER, "x", 0, 1);
	strcpy(id, a->id);
	auth_local_session_new(al, "u2", USERS_ROLE_MEMBER, "x", 0, 2);
	auth_local_session_new(al, "u2", USERS_ROLE_MEMBER, "x", 0, 3);
	auth_local_session_new(al, "u3", USERS_ROLE_DEMO, "x", 0, 4);
	assert_int_equal(auth_local_session_count(al), 3);
	assert_null(auth_local_session_find(al, id, 5));
	assert_int_equal(auth_local_logout_user(al, "u2"), 2);
	assert_int_equal(auth_local_session_count(al), 1);
	assert_int_equal(auth_local_expire(al, 4 + 10000), 1);
	assert_int_equal(auth_local_session_count(al), 0);
	auth_local_free(al);
}

static void
test_csrf(void **state)
{
	struct auth_local *al = auth_local_new(db, NULL);
	const struct auth_session *s =
	    auth_local_session_new(al, "bea", USERS_ROLE_MEMBER, "10.0.0.1", 0, 0);
	struct ab_err err = {0};
	/* safe methods pass without a token */
	assert_int_equal(auth_local_check_csrf(s, "GET", NULL, NULL, "h", false, &err), 0);
	assert_int_equal(auth_local_check_csrf(s, "HEAD", NULL, "https://evil", "h", false, &err),
	                 0);
	/* state-changing requests need the token */
	assert_int_equal(auth_local_check_csrf(s, "POST", NULL, NULL, "h", false, &err), -EACCES);
	expect_audit("auth.csrf", "deny", "missing X-CSRF-Token");
	char wrong[AUTH_LOCAL_ID_LEN + 1];
	strcpy(wrong, s->csrf);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	assert_int_equal(auth_local_check_csrf(s, "PUT", wrong, NULL, "h", false, &err), -EACCES);
	expect_audit("auth.csrf", "deny", "wrong X-CSRF-Token");
	assert_int_equal(auth_local_check_csrf(s, "DELETE", "short", NULL, "h", false, &err),
	                 -EACCES);
	assert_int_equal(auth_local_check_csrf(s, "POST", s->csrf, NULL, "box:8080", false, &err),
	                 0);
	assert_int_equal(
	    auth_local_check_csrf(s, "POST", s->csrf, "http://box:8080", "box:8080", false, &err),
	    0);
	/* right token, wrong origin */
	assert_int_equal(auth_local_check_csrf(s, "POST", s->csrf, "http://evil.example",
	                                       "box:8080", false, &err),
	                 -EACCES);
	expect_audit("auth.csrf", "deny", "cross-origin");
	/* under TLS the origin must be https */
	assert_int_equal(auth_local_check_csrf(s, "POST", s->csrf, "http://box", "box", true, &err),
	                 -EACCES);
	assert_int_equal(
	    auth_local_check_csrf(s, "POST", s->csrf, "https://box", "box", true, &err), 0);
	/* login has no session yet: the Origin check alone */
	assert_int_equal(auth_local_check_origin("https://evil", "box", true, &err), -EACCES);
	assert_int_equal(auth_local_check_origin(NULL, "box", true, &err), 0);
	auth_local_free(al);
}

static void
test_cookie_find(void **state)
{
	size_t n = 0;
	const char *v = auth_local_cookie_find("a=1; b=\"two\" ;c=3", "b", &n);
	assert_non_null(v);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "two", 3);
	v = auth_local_cookie_find("a=1;c=3", "c", &n);
	assert_int_equal(n, 1);
	assert_null(auth_local_cookie_find("a=1", "b", &n));
	assert_null(auth_local_cookie_find("ab=1", "a", &n));
	assert_null(auth_local_cookie_find("", "a", &n));
}

static bool
keep_demo(const char *user, void *data)
{
	return strcmp(user, "demo-keep") == 0;
}

static void
count_change(void *data)
{
	(*(int *)data)++;
}

static void
test_persistence(void **state)
{
	char dir[] = "/tmp/ab-auth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = ab_xasprintf("%s/sessions.json", dir);
	struct auth_local *a = auth_local_new(db, NULL);
	const struct auth_session *bea =
	    auth_local_session_new(a, "bea", USERS_ROLE_MEMBER, "10.0.0.1", 60000, 0);
	auth_local_session_new(a, "demo-keep", USERS_ROLE_DEMO, "10.0.0.2", 60000, 0);
	auth_local_session_new(a, "demo-gone", USERS_ROLE_DEMO, "10.0.0.3", 60000, 0);
	auth_local_session_new(a, "ghost", USERS_ROLE_MEMBER, "10.0.0.4", 60000, 0);
	auth_local_session_new(a, "daniel", USERS_ROLE_MEMBER, "10.0.0.5", 60000,
	                       0);                                               /* role changed */
	auth_local_session_new(a, "bea", USERS_ROLE_MEMBER, "10.0.0.6", 500, 0); /* expires */
	struct auth_session saved = *bea;
	struct ab_err err = {0};
	assert_int_equal(auth_local_save(a, path, 1000, &err), 5);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	auth_local_free(a);

	/* a "restarted broker" with a different monotonic clock */
	struct auth_local *b = auth_local_new(db, NULL);
	assert_int_equal(auth_local_load(b, path, 50000, keep_demo, NULL, &err), 2);
	const struct auth_session *s = auth_local_session_find(b, saved.id, 50000);
	assert_non_null(s);
	assert_string_equal(s->csrf, saved.csrf);
	assert_string_equal(s->user, "bea");
	/* the time between save and load (wall clock) counts: a few ms here */
	assert_true(s->expires_ms <= 50000 + 59000 && s->expires_ms > 50000 + 59000 - 1000);
	assert_null(auth_local_session_find(b, saved.id, 50000 + 59000));
	assert_int_equal(auth_local_session_count(b), 2);
	/* loading twice adds nothing */
	assert_int_equal(auth_local_load(b, path, 50000, keep_demo, NULL, &err), 0);
	auth_local_free(b);

	/* failures and lockouts are saved as they change (the change hook) and come back */
	int changes = 0;
	a = auth_local_new(db, NULL);
	auth_local_on_change(a, count_change, &changes);
	for (int i = 0; i < 5; i++)
		assert_int_equal(auth_local_login(a, "mauve", "nope", "10.0.0.7", 1000, &s, &err),
		                 -EACCES);
	assert_true(changes >= 5);
	assert_int_equal(auth_local_login(a, "bea", "nope", "10.0.0.8", 1000, &s, &err), -EACCES);
	assert_true(auth_local_locked_for(a, "mauve", NULL, 1000) > 800);
	int before = changes;
	assert_int_equal(auth_local_login(a, "bea", "battery staple", "10.0.0.8", 1000, &s, &err),
	                 0);
	assert_true(changes > before); /* a new session (and bea's count cleared) */
	assert_int_equal(auth_local_save(a, path, 2000, &err), 1);
	auth_local_free(a);
	b = auth_local_new(db, NULL);
	assert_int_equal(auth_local_load(b, path, 7000, NULL, NULL, &err), 1);
	int64_t left = auth_local_locked_for(b, "mauve", NULL, 7000);
	assert_true(left > 800 && left <= 899); /* 1 s of the 900 had passed at the save */
	assert_int_equal(auth_local_locked_for(b, "bea", NULL, 7000), 0);
	/* the address's count came back too: 19 more failures lock 10.0.0.7 (20 in all) */
	char name[32];
	for (int i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "nosuch%d", i); /* a user name locks after 5 */
		auth_local_login(b, name, "nope", "10.0.0.7", 7000, &s, &err);
	}
	assert_int_equal(auth_local_locked_for(b, NULL, "10.0.0.7", 7000), 0);
	auth_local_login(b, "nosuch-last", "nope", "10.0.0.7", 7000, &s, &err);
	assert_true(auth_local_locked_for(b, NULL, "10.0.0.7", 7000) > 0);
	auth_local_free(b);

	/* missing file: nothing to do; junk: an error, nothing lost */
	b = auth_local_new(db, NULL);
	char *missing = ab_xasprintf("%s/none.json", dir);
	assert_int_equal(auth_local_load(b, missing, 0, NULL, NULL, &err), 0);
	assert_int_equal(ab_write_file_atomic(path, "junk", 4, 0600, NULL), 0);
	assert_int_equal(auth_local_load(b, path, 0, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a sessions file"));
	const char *v2 = "{\"v\":2,\"saved_wall_ms\":1,\"sessions\":[],\"fails\":[]}";
	assert_int_equal(ab_write_file_atomic(path, v2, strlen(v2), 0600, NULL), 0);
	assert_int_equal(auth_local_load(b, path, 0, NULL, NULL, &err), -EINVAL);
	_cleanup_free_ char *want =
	    ab_xasprintf("loading sessions: '%s' is not a sessions file", path);
	assert_string_equal(err.msg, want);
	auth_local_free(b);

	/* a broker down for longer than a session had left: the session does not come back */
	a = auth_local_new(db, NULL);
	auth_local_session_new(a, "bea", USERS_ROLE_MEMBER, "10.0.0.1", 60000, 0);
	assert_int_equal(auth_local_save(a, path, 1000, &err), 1);
	auth_local_free(a);
	json_t *file = json_load_file(path, 0, NULL);
	json_int_t at = json_integer_value(json_object_get(file, "saved_wall_ms"));
	json_object_set_new(file, "saved_wall_ms", json_integer(at - 70000));
	assert_int_equal(json_dump_file(file, path, 0), 0);
	json_decref(file);
	b = auth_local_new(db, NULL);
	assert_int_equal(auth_local_load(b, path, 0, NULL, NULL, &err), 0);
	assert_int_equal(auth_local_session_count(b), 0);
	auth_local_free(b);
	unlink(path);
	rmdir(dir);
	free(path);
	free(missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_login, reset_events),
	    cmocka_unit_test_setup(test_lockout, reset_events),
	    cmocka_unit_test_setup(test_sessions_and_cookies, reset_events),
	    cmocka_unit_test_setup(test_csrf, reset_events),
	    cmocka_unit_test_setup(test_cookie_find, reset_events),
	    cmocka_unit_test_setup(test_persistence, reset_events),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
