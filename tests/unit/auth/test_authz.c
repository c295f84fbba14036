/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz: the whole matrix of roles x endpoints x owners against an
 * independent statement of the policy, plus routing of odd paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ab_util.h"
#include "audit.h"
#include "authz.h"

static json_t *last_event;

static void
on_audit(json_t *ev, void *data)
{
	json_decref(last_event);
	last_event = json_incref(ev);
}

struct who {
	const char *label;
	const char *user;
	enum users_role role;
};

static const struct who people[] = {
    {"anonymous", NULL, USERS_ROLE_MEMBER},      {"admin", "daniel", USERS_ROLE_ADMIN},
    {"member(owner)", "bea", USERS_ROLE_MEMBER}, {"member(other)", "bogie", USERS_ROLE_MEMBER},
    {"demo", "demo-0a1b2c3d", USERS_ROLE_DEMO},
};

/* The policy in words, as HTTP status: 200 allow, 206 view-only, 401, 403. */
static int
expected(const struct who *w, enum authz_endpoint ep, const char *owner)
{
	bool anon = !w->user;
	bool foreign = owner && (!w->user || strcmp(owner, w->user) != 0);
	switch (ep) {
	case AUTHZ_PUBLIC:
	case AUTHZ_LOGIN:
		return 200;
	case AUTHZ_DEMO_START:
		return anon ? 200 : 403; /* signed-in users sign out first */
	case AUTHZ_LOGOUT:
	case AUTHZ_ME:
	case AUTHZ_SERVICES:
		return anon ? 401 : 200;
	case AUTHZ_DESKTOP_STATUS:
	case AUTHZ_DESKTOP_WS:
	case AUTHZ_STATE_READ:
		if (anon)
			return 401;
		if (!foreign)
			return 200;
		return w->role == USERS_ROLE_ADMIN ? 206 : 403;
	case AUTHZ_DESKTOP_CTL: /* restart: own; an admin anyone's (issue 13) */
	case AUTHZ_STATE_WRITE:
		if (anon)
			return 401;
		return !foreign || w->role == USERS_ROLE_ADMIN ? 200 : 403;
	case AUTHZ_DESKTOP_DESTROY:
		if (anon)
			return 401;
		return !foreign || w->role == USERS_ROLE_ADMIN ? 200 : 403;
	case AUTHZ_ADMIN_READ:
	case AUTHZ_ADMIN_WRITE:
	case AUTHZ_ADMIN_THUMB: /* grants audited by the thumbnails, not here */
		if (anon)
			return 401;
		return w->role == USERS_ROLE_ADMIN ? 200 : 403;
	case AUTHZ_FILES_READ: /* the own home only: no path names another's (docs/files.md) */
	case AUTHZ_FILES_WRITE:
	case AUTHZ_MESSAGES: /* the own inbox; whom one may write to: docs/messages.md */
		return anon ? 401 : 200;
	case AUTHZ_PREVIEW_WS: /* the landing page's preview: anyone, only ever watching */
		return 206;
	case AUTHZ_SHARE: /* own share links; a demo desktop is not shared */
		if (anon)
			return 401;
		return w->role == USERS_ROLE_DEMO ? 403 : 200;
	case AUTHZ_SHARE_WS: /* the token decides (share.c); always view-only */
		return 206;
	case AUTHZ_VNC_PASSWORD: /* own VNC access password; demo identities get none */
		if (anon)
			return 401;
		return w->role == USERS_ROLE_DEMO ? 403 : 200;
	default:
		return 403;
	}
}

static int
status_of(const struct who *w, enum authz_decision d)
{
	if (d == AUTHZ_ALLOW)
		return 200;
	if (d == AUTHZ_VIEW_ONLY)
		return 206;
	return w->user ? 403 : 401;
}

static char *
expand(const char *pattern, const char *owner)
{
	/* "{user}" -> owner, trailing "*" -> "x" */
	char buf[256] = "";
	for (const char *p = pattern; *p;) {
		if (strncmp(p, "{user}", 6) == 0) {
			strncat(buf, owner, sizeof(buf) - strlen(buf) - 1);
			p += 6;
		} else if (*p == '*') {
			strncat(buf, "users", sizeof(buf) - strlen(buf) - 1);
			p++;
		} else {
			strncat(buf, p, 1);
			p++;
		}
	}
	return ab_xstrdup(buf);
}

static void
test_matrix(void **state)
{
	int checked = 0;
	printf("%-7s %-30s", "method", "path");
	for (size_t w = 0; w < AB_ARRAY_SIZE(people); w++)
		printf(" %-14s", people[w].label);
	printf("\n");
	for (const struct authz_route_example *r = authz_routes; r->method; r++) {
		char *path = expand(r->path, "bea");
		enum authz_endpoint ep;
		char owner[USERS_NAME_MAX + 1];
		assert_int_equal(authz_route(r->method, path, &ep, owner, sizeof(owner)), 0);
		assert_int_equal(ep, r->ep);
		bool has_owner = strstr(r->path, "{user}") != NULL;
		assert_string_equal(owner, has_owner ? "bea" : "");
		printf("%-7s %-30s", r->method, path);
		for (size_t w = 0; w < AB_ARRAY_SIZE(people); w++) {
			const struct who *who = &people[w];
			struct authz_subject s = {
			    .user = who->user, .role = who->role, .source = "192.0.2.1"};
			json_decref(last_event);
			last_event = NULL;
			enum authz_decision d = authz_check(&s, ep, has_owner ? owner : NULL);
			int got = status_of(who, d);
			int want = expected(who, ep, has_owner ? owner : NULL);
			printf(" %-14d", got);
			if (got != want)
				fail_msg("%s %s as %s: got %d, want %d", r->method, path,
				         who->label, got, want);
			/* denials and view-only grants are always audited, with the reason */
			if (d != AUTHZ_ALLOW) {
				assert_non_null(last_event);
				assert_string_equal(
				    json_string_value(json_object_get(last_event, "event")),
				    "authz");
				assert_string_equal(
				    json_string_value(json_object_get(last_event, "outcome")),
				    d == AUTHZ_DENY ? "deny" : "grant");
				assert_string_equal(
				    json_string_value(json_object_get(last_event, "source")),
				    "192.0.2.1");
				json_t *det = json_object_get(last_event, "detail");
				assert_non_null(json_object_get(det, "reason"));
				assert_string_equal(
				    json_string_value(json_object_get(det, "endpoint")),
				    authz_endpoint_name(ep));
			}
			checked++;
		}
		printf("\n");
		free(path);
	}
	/* the admin opening bea's desktop is audited as a view-only grant */
	struct authz_subject admin = {.user = "daniel", .role = USERS_ROLE_ADMIN, .source = "x"};
	assert_int_equal(authz_check(&admin, AUTHZ_DESKTOP_WS, "bea"), AUTHZ_VIEW_ONLY);
	json_t *det = json_object_get(last_event, "detail");
	assert_string_equal(json_string_value(json_object_get(det, "owner")), "bea");
	assert_non_null(strstr(json_string_value(json_object_get(det, "reason")), "view-only"));
	/* ending another's desktop: an admin's grant is audited, a member's denial too */
	json_decref(last_event);
	last_event = NULL;
	assert_int_equal(authz_check(&admin, AUTHZ_DESKTOP_DESTROY, "bea"), AUTHZ_ALLOW);
	assert_non_null(last_event);
	assert_string_equal(json_string_value(json_object_get(last_event, "outcome")), "grant");
	det = json_object_get(last_event, "detail");
	assert_string_equal(json_string_value(json_object_get(det, "owner")), "bea");
	assert_string_equal(json_string_value(json_object_get(det, "endpoint")), "desktop.destroy");
	struct authz_subject bogie = {.user = "bogie", .role = USERS_ROLE_MEMBER, .source = "x"};
	assert_int_equal(authz_check(&bogie, AUTHZ_DESKTOP_DESTROY, "bea"), AUTHZ_DENY);
	assert_string_equal(json_string_value(json_object_get(last_event, "outcome")), "deny");
	struct authz_subject demo = {
	    .user = "demo-0a1b2c3d", .role = USERS_ROLE_DEMO, .source = "x"};
	assert_int_equal(authz_check(&demo, AUTHZ_DESKTOP_DESTROY, "bea"), AUTHZ_DENY);
	json_decref(last_event);
	last_event = NULL;
	assert_int_equal(authz_check(&demo, AUTHZ_DESKTOP_DESTROY, "demo-0a1b2c3d"), AUTHZ_ALLOW);
	assert_non_null(last_event);
	/* a websocket grant for one's own desktop is audited too */
	json_decref(last_event);
	last_event = NULL;
	struct authz_subject bea = {.user = "bea", .role = USERS_ROLE_MEMBER, .source = "x"};
	assert_int_equal(authz_check(&bea, AUTHZ_DESKTOP_WS, NULL), AUTHZ_ALLOW);
	assert_non_null(last_event);
	/* deny by default: unknown endpoint, unknown role */
	assert_int_equal(authz_check(&bea, AUTHZ_ENDPOINT_MAX, NULL), AUTHZ_DENY);
	struct authz_subject odd = {.user = "x", .role = USERS_ROLE_MAX, .source = "x"};
	assert_int_equal(authz_check(&odd, AUTHZ_PUBLIC, NULL), AUTHZ_DENY);
	assert_int_equal(authz_check(NULL, AUTHZ_ME, NULL), AUTHZ_DENY);
	printf("%d decisions checked\n", checked);
	assert_true(checked >= 100);
}

static void
test_routing(void **state)
{
	enum authz_endpoint ep;
	char owner[USERS_NAME_MAX + 1];
	struct {
		const char *method, *path;
		int ret;
		enum authz_endpoint ep;
		const char *owner;
	} cases[] = {
	    {"GET", "/api/me?x=1", 0, AUTHZ_ME, ""},
	    {"HEAD", "/", 0, AUTHZ_PUBLIC, ""},
	    {"GET", "/static/app.js", 0, AUTHZ_PUBLIC, ""},
	    {"GET", "/ws/desktop/bea", 0, AUTHZ_DESKTOP_WS, "bea"},
	    {"POST", "/api/desktop/bea/restart", 0, AUTHZ_DESKTOP_CTL, "bea"},
	    {"GET", "/api/admin/audit?since=1", 0, AUTHZ_ADMIN_READ, ""},
	    {"DELETE", "/api/desktops/bea", 0, AUTHZ_DESKTOP_DESTROY, "bea"},
	    {"GET", "/api/desktops/bea", 0, AUTHZ_DESKTOP_STATUS, "bea"},
	    {"DELETE", "/api/desktops/bea/", -ENOENT, 0, ""},
	    {"DELETE", "/api/desktops", -ENOENT, 0, ""},
	    {"PUT", "/api/desktops/bea", -ENOENT, 0, ""},
	    {"DELETE", "/api/desktops/Bea", -EINVAL, 0, ""},
	    {"DELETE", "/api/desktops/bea/state/x", -ENOENT, 0, ""},
	    {"DELETE", "/api/admin/users/bea", 0, AUTHZ_ADMIN_WRITE, ""},
	    {"GET", "/api/login", -ENOENT, 0, ""},
	    {"POST", "/api/me", -ENOENT, 0, ""},
	    {"GET", "/api/me/", -ENOENT, 0, ""},
	    {"GET", "/api/admin", -ENOENT, 0, ""},
	    {"GET", "/api/admin/", -ENOENT, 0, ""},
	    {"GET", "/static/../broker.conf", -ENOENT, 0, ""},
	    {"GET", "/static/./x", -ENOENT, 0, ""},
	    {"GET", "/index.html", 0, AUTHZ_PUBLIC, ""},
	    {"GET", "/a", 0, AUTHZ_PUBLIC, ""},
	    {"GET", "/vendor/novnc/core/rfb.js", 0, AUTHZ_PUBLIC, ""},
	    {"GET", "/websockify", 0, AUTHZ_DESKTOP_WS, ""},
	    {"GET", "/ws", 0, AUTHZ_DESKTOP_WS, ""},
	    {"GET", "/wsx", -ENOENT, 0, ""},
	    {"GET", "/api", -ENOENT, 0, ""},
	    {"GET", "/api/nothing", -ENOENT, 0, ""},
	    {"POST", "/index.html", -ENOENT, 0, ""},
	    {"GET", "/ws/desktop/../api/admin/x", -ENOENT, 0, ""},
	    {"GET", "//api/me", -ENOENT, 0, ""},
	    {"GET", "/api//admin/x", -ENOENT, 0, ""},
	    {"GET", "/ws/desktop/Bea", -EINVAL, 0, ""},
	    {"GET", "/ws/desktop/bea/extra", -ENOENT, 0, ""},
	    {"GET", "/ws/desktop/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -EINVAL, 0, ""},
	    {"GET", "api/me", -ENOENT, 0, ""},
	    {"GET", "/ws/desktop/", -ENOENT, 0, ""},
	    {"BREW", "/", -ENOENT, 0, ""},
	    {"GET", "", -ENOENT, 0, ""},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(cases); i++) {
		int r = authz_route(cases[i].method, cases[i].path, &ep, owner, sizeof(owner));
		if (r != cases[i].ret)
			fail_msg("%s %s: got %d, want %d", cases[i].method, cases[i].path, r,
			         cases[i].ret);
		if (r == 0) {
			assert_int_equal(ep, cases[i].ep);
			assert_string_equal(owner, cases[i].owner);
		}
	}
}

int
main(void)
{
	audit_open("/dev/null", NULL);
	audit_set_listener(on_audit, NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matrix),
	    cmocka_unit_test(test_routing),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(last_event);
	audit_close();
	return r;
}
