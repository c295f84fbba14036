/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The compliance report (broker/audit/auditreport.c) over a real audit store filled with a
 * day of events: sign-ins by method and source, desktop sessions (one begun before the
 * period, one still open), admin actions, denials counted by event and reason, file
 * transfers, service restarts; one user's report; lists cut at max_items; hostile strings
 * (formula starts, markup, control characters, invalid UTF-8) inert in CSV and HTML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"
#include "auditdb.h"
#include "auditreport.h"

#define H  3600000LL
#define T0 1796083200000LL /* 2026-12-01T00:00:00Z */

struct fx {
	char dir[64];
	char db[128];
	char key[128];
	struct auditdb_reader *rd;
};

static void
ev(struct auditdb *db, int64_t ts, const char *user, const char *source, const char *event,
   int outcome, const char *detail)
{
	assert_true(
	    auditdb_submit(db, ts, user, user ? "member" : NULL, source, event, outcome, detail));
}

/* The day 2026-12-01 (the period) with a little before and after it. */
static void
scenario(struct auditdb *db)
{
	/* a session begun the evening before, ended in the period */
	ev(db, T0 - 2 * H, "bea", NULL, "desktop.start", 2, "{}");
	ev(db, T0 - 3 * H, "old", NULL, "desktop.start", 2, "{}"); /* ended before: not in */
	ev(db, T0 - 2 * H - 1, "old", NULL, "desktop.stop", 2, "{\"reason\":\"idle\"}");
	ev(db, T0 + 1 * H, "bea", NULL, "desktop.stop", 2, "{\"reason\":\"idle\"}");
	/* sign-ins: local ok and failed, Cloudflare Access, VNC, a demo */
	ev(db, T0 + 2 * H, "bea", "10.0.0.5", "auth.login", 0,
	   "{\"reason\":\"password ok\",\"method\":\"local\"}");
	ev(db, T0 + 2 * H + 1000, "bea", "10.0.0.5", "desktop.start", 2, "{}");
	ev(db, T0 + 3 * H, "bea", "10.0.0.9", "auth.login", 1,
	   "{\"reason\":\"wrong password\",\"method\":\"local\"}");
	ev(db, T0 + 3 * H + 1, "cid@example.org", "10.0.0.7", "auth.access", 0,
	   "{\"reason\":\"valid token\",\"method\":\"cloudflare-access\"}");
	ev(db, T0 + 3 * H + 2, "cid", "10.0.0.8", "vncgw.auth", 0, "{\"rfb_minor\":8}");
	ev(db, T0 + 3 * H + 3, "demo-1a2b3c4d", "10.0.0.6", "demo.start", 0,
	   "{\"reason\":\"demo started\"}");
	ev(db, T0 + 4 * H, "bea", "10.0.0.5", "desktop.stop", 2, "{\"reason\":\"logout\"}");
	/* cid's desktop is still running */
	ev(db, T0 + 5 * H, "cid", NULL, "desktop.start", 2, "{}");
	/* admin actions */
	ev(db, T0 + 6 * H, "argoboxctl", "argoboxctl", "admin.desktop.stop", 0, NULL);
	ev(db, T0 + 6 * H + 1, NULL, "argoboxctl", "admin.connect", 1, "{\"uid\":1000}");
	/* denials */
	ev(db, T0 + 7 * H, "bea", "10.0.0.5", "files.download", 1,
	   "{\"reason\":\"a symbolic link is on the way\",\"path\":\"l\"}");
	ev(db, T0 + 7 * H + 1, "bea", "10.0.0.5", "files.download", 1,
	   "{\"reason\":\"a symbolic link is on the way\",\"path\":\"m\"}");
	/* file transfers; an upload's create step is no transfer */
	ev(db, T0 + 8 * H, "bea", "10.0.0.5", "files.upload", 0,
	   "{\"id\":\"x\",\"step\":\"create\",\"length\":100}");
	ev(db, T0 + 8 * H + 1, "bea", "10.0.0.5", "files.upload", 0,
	   "{\"id\":\"x\",\"step\":\"complete\",\"path\":\"Uploads/a.bin\",\"bytes\":100}");
	ev(db, T0 + 8 * H + 2, "cid", "10.0.0.8", "files.download", 0,
	   "{\"path\":\"=HYPERLINK(\\\"http://evil\\\")\",\"bytes\":7}");
	/* a folder as a tar: started (info), then done with its bytes */
	ev(db, T0 + 8 * H + 3, "cid", "10.0.0.8", "files.archive", 0, "{\"path\":\"Music\"}");
	ev(db, T0 + 8 * H + 4, "cid", "10.0.0.8", "files.archive", 2,
	   "{\"path\":\"Music\",\"step\":\"done\",\"bytes\":4096}");
	/* service restarts */
	ev(db, T0 + 9 * H, "argoboxctl", "argoboxctl", "service.restart", 0,
	   "{\"service\":\"nas\",\"reason\":\"admin\"}");
	ev(db, T0 + 9 * H + 1, NULL, NULL, "service.restart", 2,
	   "{\"service\":\"nas\",\"step\":\"started\",\"attempt\":1,\"method\":\"command\"}");
	ev(db, T0 + 9 * H + 2, NULL, NULL, "service.recovered", 2,
	   "{\"service\":\"nas\",\"attempts\":1}");
	/* hostile strings, denied */
	ev(db, T0 + 10 * H, "<script>alert(1)</script>", "10.0.0.66", "auth.login", 1,
	   "{\"reason\":\"=cmd|' /C calc'!A0 \\u001b[31m<img src=x onerror=alert(2)>\","
	   "\"method\":\"local\"}");
	ev(db, T0 + 10 * H + 1, "caf\xc3\xa9\xff", "10.0.0.66", "auth.login", 1,
	   "{\"reason\":\"unknown user\",\"method\":\"local\"}");
	/* the next day: outside */
	ev(db, T0 + 25 * H, "bea", "10.0.0.5", "auth.login", 0, "{\"method\":\"local\"}");
	assert_int_equal(auditdb_flush(db, 10000), 0);
}

static int
setup(void **state)
{
	struct fx *f = ab_xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ab-auditreport-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/audit/audit.db", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/audit/signing.key", f->dir);
	struct auditdb_params p = {.path = f->db, .key_path = f->key, .retry_ms = 50};
	struct auditdb *db = NULL;
	struct ab_err err = {0};
	assert_int_equal(auditdb_open(&p, &db, &err), 0);
	scenario(db);
	auditdb_close(db);
	assert_int_equal(auditdb_reader_open(f->db, 5000, &f->rd, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	auditdb_reader_close(f->rd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static json_t *
report(struct fx *f, const char *user, unsigned max_items)
{
	struct auditreport_params p = {.from_ms = T0,
	                               .to_ms = T0 + 24 * H,
	                               .user = user,
	                               .max_items = max_items,
	                               .now_ms = T0 + 12 * H};
	json_t *rep = NULL;
	struct ab_err err = {0};
	int r = auditreport_build(f->rd, &p, &rep, &err);
	if (r < 0)
		fprintf(stderr, "report: %s\n", err.msg);
	assert_int_equal(r, 0);
	return rep;
}

static long long
sum(json_t *rep, const char *key)
{
	json_t *v = json_object_get(json_object_get(rep, "summary"), key);
	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

static json_t *
items(json_t *rep, const char *section)
{
	return json_object_get(json_object_get(rep, section), "items");
}

static const char *
field(json_t *list, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(list, i), key));
}

static void
test_everyone(void **state)
{
	struct fx *f = *state;
	json_t *rep = report(f, NULL, 0);
	assert_string_equal(json_string_value(json_object_get(rep, "from")),
	                    "2026-12-01T00:00:00.000Z");
	/* sign-ins: 7 in the day (the next day's is out), 3 denied */
	assert_int_equal(sum(rep, "sign_ins"), 7);
	assert_int_equal(sum(rep, "sign_ins_denied"), 3);
	json_t *si = items(rep, "sign_ins");
	assert_int_equal(json_array_size(si), 7);
	assert_string_equal(field(si, 0, "method"), "local");
	assert_string_equal(field(si, 0, "source"), "10.0.0.5");
	assert_string_equal(field(si, 0, "outcome"), "grant");
	assert_string_equal(field(si, 2, "method"), "cloudflare-access");
	assert_string_equal(field(si, 3, "method"), "vnc");
	assert_string_equal(field(si, 4, "method"), "demo");
	assert_string_equal(field(si, 6, "user"), "(invalid UTF-8)");
	json_t *bm = json_object_get(json_object_get(rep, "sign_ins"), "by_method");
	bool local_denied = false;
	size_t i;
	json_t *o;
	json_array_foreach(bm, i, o) local_denied =
	    local_denied || (!strcmp(json_string_value(json_object_get(o, "method")), "local") &&
	                     !strcmp(json_string_value(json_object_get(o, "outcome")), "deny") &&
	                     json_integer_value(json_object_get(o, "count")) == 3);
	assert_true(local_denied);
	/* sessions: bea's overnight one (3 h), bea's afternoon one (2 h), cid's still open */
	assert_int_equal(sum(rep, "sessions"), 3);
	json_t *se = items(rep, "sessions");
	assert_int_equal(json_array_size(se), 3);
	assert_string_equal(field(se, 0, "user"), "bea");
	assert_string_equal(field(se, 0, "start"), "2026-11-30T22:00:00.000Z");
	assert_string_equal(field(se, 0, "end"), "2026-12-01T01:00:00.000Z");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(se, 0), "seconds")),
	                 3 * 3600);
	assert_string_equal(field(se, 0, "state"), "ended");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(se, 1), "seconds")),
	                 2 * 3600 - 1);
	assert_string_equal(field(se, 2, "user"), "cid");
	assert_string_equal(field(se, 2, "state"), "open");
	assert_true(json_is_null(json_object_get(json_array_get(se, 2), "end")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(se, 2), "seconds")),
	                 7 * 3600);
	assert_int_equal(sum(rep, "session_seconds"), 3 * 3600 + 2 * 3600 - 1 + 7 * 3600);
	/* admin actions: admin.*, and argoboxctl's service restart */
	assert_int_equal(sum(rep, "admin_actions"), 3);
	assert_string_equal(field(items(rep, "admin_actions"), 2, "event"), "service.restart");
	assert_string_equal(field(items(rep, "admin_actions"), 0, "event"), "admin.desktop.stop");
	/* denials: 2 downloads, 1 admin.connect, 3 sign-ins */
	assert_int_equal(sum(rep, "denials"), 6);
	json_t *be = json_object_get(json_object_get(rep, "denials"), "by_event");
	assert_string_equal(field(be, 0, "event"), "files.download");
	assert_string_equal(field(be, 0, "reason"), "a symbolic link is on the way");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(be, 0), "count")), 2);
	assert_int_equal(json_array_size(be), 5); /* 3 sign-in reasons, admin.connect */
	/* transfers: the completed upload and the download, not the create step */
	assert_int_equal(sum(rep, "uploads"), 1);
	assert_int_equal(sum(rep, "downloads"), 2);
	assert_int_equal(sum(rep, "bytes_uploaded"), 100);
	assert_int_equal(sum(rep, "bytes_downloaded"), 7 + 4096);
	json_t *ft = items(rep, "file_transfers");
	assert_string_equal(field(ft, 0, "direction"), "upload");
	assert_string_equal(field(ft, 0, "path"), "Uploads/a.bin");
	assert_int_equal(json_array_size(ft), 3); /* the tar's start is no transfer */
	assert_string_equal(field(ft, 2, "direction"), "download (tar)");
	assert_string_equal(field(ft, 2, "path"), "Music");
	/* service restarts: the request, the attempt, the recovery */
	assert_int_equal(sum(rep, "service_restart_events"), 3);
	assert_int_equal(sum(rep, "service_restarts"), 1);
	assert_string_equal(field(items(rep, "service_restarts"), 1, "step"), "started");
	assert_string_equal(field(items(rep, "service_restarts"), 2, "service"), "nas");
	json_decref(rep);
}

static void
test_one_user_and_limit(void **state)
{
	struct fx *f = *state;
	json_t *rep = report(f, "bea", 0);
	assert_string_equal(json_string_value(json_object_get(rep, "user")), "bea");
	assert_int_equal(sum(rep, "sign_ins"), 2);
	assert_int_equal(sum(rep, "sessions"), 2);
	assert_int_equal(sum(rep, "admin_actions"), 0);
	assert_int_equal(sum(rep, "denials"), 3);
	assert_int_equal(sum(rep, "downloads"), 0);
	assert_int_equal(sum(rep, "uploads"), 1);
	json_decref(rep);
	/* lists are cut at max_items and say so; the totals still count everything */
	rep = report(f, NULL, 3);
	assert_int_equal(json_array_size(items(rep, "sign_ins")), 3);
	assert_true(json_is_true(json_object_get(json_object_get(rep, "sign_ins"), "truncated")));
	assert_false(
	    json_is_true(json_object_get(json_object_get(rep, "file_transfers"), "truncated")));
	assert_int_equal(sum(rep, "sign_ins"), 7);
	json_decref(rep);
	/* bad periods and limits */
	struct auditreport_params p = {.from_ms = T0, .to_ms = T0};
	json_t *none = NULL;
	struct ab_err err = {0};
	assert_int_equal(auditreport_build(f->rd, &p, &none, &err), -EINVAL);
	p = (struct auditreport_params){.from_ms = T0, .to_ms = T0 + H, .max_items = 10001};
	assert_int_equal(auditreport_build(f->rd, &p, &none, &err), -EINVAL);
	assert_null(none);
}

/* Every cell of a CSV line, unquoted, for checks on what a spreadsheet would read. */
static void
assert_csv_inert(const char *csv)
{
	const char *p = csv;
	while (*p) {
		const char *cell = p;
		if (*p == '"') {
			cell = p + 1;
			/* a formula start inside a cell is always behind a quote mark */
			assert_false(*cell == '=' || *cell == '+' || *cell == '-' || *cell == '@');
			p++;
			while (*p && !(*p == '"' && p[1] != '"'))
				p += *p == '"' ? 2 : 1;
			assert_int_equal(*p, '"');
			p++;
		} else {
			while (*p && *p != ',' && *p != '\r')
				p++;
		}
		if (*p == ',')
			p++;
		else if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			p += 2;
		}
	}
	for (const unsigned char *c = (const unsigned char *)csv; *c; c++)
		assert_true(*c >= 0x20 || *c == '\r' || *c == '\n');
}

static void
test_render(void **state)
{
	struct fx *f = *state;
	json_t *rep = report(f, NULL, 0);
	size_t len;
	static const char *const in_csv[] = {
	    "section,time,start,end,user,source,event,method,outcome",
	    "\"sessions\",\"\",\"2026-11-30T22:00:00.000Z\",",
	    "\"'=HYPERLINK(\"\"http://evil\"\")\"",
	    "\"'=cmd|' /C calc'!A0 \\x1b[31m",
	    "\"summary\"",
	};
	char *csv = auditreport_render(rep, AUDITREPORT_CSV, &len);
	assert_int_equal(strlen(csv), len);
	for (size_t i = 0; i < AB_ARRAY_SIZE(in_csv); i++)
		assert_non_null(strstr(csv, in_csv[i]));
	assert_csv_inert(csv);
	free(csv);
	/* in the page: escaped markup, the sections, the policy; never live markup or ESC */
	static const char *const in_html[] = {
	    "<h2>Desktop sessions</h2>",
	    "&lt;script&gt;alert(1)&lt;/script&gt;",
	    "&lt;img src=x onerror=alert(2)&gt;",
	    "Content-Security-Policy",
	};
	static const char *const not_in_html[] = {"<script", "<img", "\x1b"};
	char *html = auditreport_render(rep, AUDITREPORT_HTML, &len);
	assert_int_equal(strlen(html), len);
	for (size_t i = 0; i < AB_ARRAY_SIZE(in_html); i++)
		assert_non_null(strstr(html, in_html[i]));
	for (size_t i = 0; i < AB_ARRAY_SIZE(not_in_html); i++)
		assert_null(strstr(html, not_in_html[i]));
	free(html);
	char *js = auditreport_render(rep, AUDITREPORT_JSON, &len);
	json_t *back = json_loads(js, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, rep));
	json_decref(back);
	free(js);
	assert_int_equal(auditreport_format_from_name("html"), AUDITREPORT_HTML);
	assert_int_equal(auditreport_format_from_name("xlsx"), -1);
	json_decref(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_everyone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_user_and_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_render, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
