/* SPDX-License-Identifier: GPL-2.0-or-later */
/* auditreport: the compliance report over the audit store (see auditreport.h). */
#include "auditreport.h"
#include "ab_util.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

/* How far before the period a session may have started and still be reported. */
#define SESSION_LOOKBACK_MS (31LL * 86400000)

/*
 * The plans (EXPLAIN QUERY PLAN at 1 M events): sign-ins, transfers, restarts and sessions
 * read the (event, ts) index; denials the (outcome, ts) one; admin actions the day's range
 * of (ts); with a user, every query reads (user, ts). The unary + on outcome (and the %o
 * marker) keep SQLite, which has no statistics here, from choosing the outcome index where
 * it would read most of the period.
 */

/* A detail field, NULL when the detail is not JSON (a hand-edited row must not fail it). */
#define JX(field) "(CASE WHEN json_valid(detail) THEN json_extract(detail, '$." field "') END)"
#define OUTCOME_NAME                                                                               \
	"(CASE outcome WHEN 0 THEN 'grant' WHEN 1 THEN 'deny' WHEN 2 THEN 'info' "                 \
	"WHEN 3 THEN 'failure' END)"
#define IN_PERIOD " ts_ms >= :from AND ts_ms < :to "

#define SIGNIN_WHERE                                                                               \
	" event IN ('auth.login', 'auth.access', 'vncgw.auth', 'demo.start') AND "                 \
	"+outcome IN (0, 1) "
#define SIGNIN_METHOD                                                                              \
	"coalesce(" JX("method") ", CASE event WHEN 'vncgw.auth' THEN 'vnc' WHEN 'demo.start' "    \
	                         "THEN 'demo' WHEN 'auth.access' THEN 'cloudflare-access' ELSE "   \
	                         "'local' END)"
/* admin.*, whatever came through the admin socket (argoboxctl), and services reloads */
#define ADMIN_WHERE                                                                                \
	" (event >= 'admin.' AND event < 'admin/' OR source = 'argoboxctl' OR "                    \
	"event = 'service.reload') "
#define DENY_WHERE " %ooutcome = 1 "
#define TRANSFER_WHERE                                                                             \
	" event IN ('files.upload', 'files.download', 'files.archive') AND +outcome IN (0, 2) "    \
	"AND "                                                                                     \
	"(event = 'files.download' AND outcome = 0 OR " JX("step") " IN ('complete', 'done')) "
/* a folder downloaded as a tar (files.archive, step done) is a download */
#define IS_UPLOAD     "event = 'files.upload'"
#define RESTART_WHERE " event IN ('service.restart', 'service.recovered', 'service.escalate') "

/*
 * Each desktop.start with the user's next desktop start or stop. The window reads only the
 * desktop.start/stop rows (the (event, ts) index) from a month before the period on, so a
 * session that began before the period and ended in it is found, and one still running
 * (no next row) is open.
 */
#define SESSIONS_CTE                                                                               \
	"WITH d AS (SELECT user, ts_ms, event, LEAD(event) OVER w AS next_event,"                  \
	" LEAD(ts_ms) OVER w AS next_ts FROM events"                                               \
	" WHERE event IN ('desktop.start', 'desktop.stop') AND +outcome = 2"                       \
	" AND ts_ms >= :lookfrom %s WINDOW w AS (PARTITION BY user ORDER BY ts_ms, seq)),"         \
	" s AS (SELECT user, ts_ms AS start,"                                                      \
	" CASE WHEN next_event = 'desktop.stop' THEN next_ts END AS \"end\","                      \
	" CASE WHEN next_event = 'desktop.stop' THEN (next_ts - ts_ms) / 1000"                     \
	" WHEN next_event IS NULL THEN (:now - ts_ms) / 1000 END AS seconds,"                      \
	" CASE WHEN next_event = 'desktop.stop' THEN 'ended' WHEN next_event IS NULL THEN 'open'"  \
	" ELSE 'no stop recorded' END AS state"                                                    \
	" FROM d WHERE event = 'desktop.start' AND ts_ms < :to"                                    \
	" AND (next_ts IS NULL OR next_ts >= :from)) "

struct ctx {
	struct auditdb_reader *r;
	sqlite3 *h;
	const struct auditreport_params *p;
	int64_t now_ms;
	struct ab_err *err;
};

/*
 * The query with its markers replaced: "%s" by the user clause, which goes in only when
 * asked for so that the planner can use the (user, ts) index, and "%o" by "+" when there
 * is a user (a unary + keeps SQLite from choosing the (outcome, ts) index over it).
 */
static char *
sql_for(const struct ctx *c, const char *fmt)
{
	struct auditdb_buf b = {0};
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			const char *clause = c->p->user ? " AND user = :user " : "";
			auditdb_buf_add(&b, clause, strlen(clause));
			p++;
		} else if (p[0] == '%' && p[1] == 'o') {
			if (c->p->user)
				auditdb_buf_add(&b, "+", 1);
			p++;
		} else {
			auditdb_buf_add(&b, p, 1);
		}
	}
	return b.data;
}

static int
prepare(struct ctx *c, const char *fmt, sqlite3_stmt **ret)
{
	_cleanup_free_ char *sql = sql_for(c, fmt);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(c->h, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return ab_err_set(c->err, EIO, "preparing the report: %s", sqlite3_errmsg(c->h));
	const struct auditdb_bind binds[] = {
	    {.name = ":from", .num = c->p->from_ms},
	    {.name = ":to", .num = c->p->to_ms},
	    {.name = ":lookfrom", .num = c->p->from_ms - SESSION_LOOKBACK_MS},
	    {.name = ":now", .num = c->now_ms},
	    {.name = ":user", .text = c->p->user, .is_text = true},
	    {.name = ":lim", .num = (int64_t)c->p->max_items + 1},
	};
	auditdb_bind(s, binds, AB_ARRAY_SIZE(binds));
	*ret = s;
	return 0;
}

static int
step_error(struct ctx *c, int rc)
{
	if (rc == SQLITE_INTERRUPT)
		return ab_err_set(c->err, ETIMEDOUT,
		                  "the report scanned the store for more than %d ms: narrow the "
		                  "period or name a user",
		                  auditdb_reader_budget_ms(c->r));
	return ab_err_set(c->err, EIO, "computing the report: %s", sqlite3_errmsg(c->h));
}

static json_t *
text_value(const char *s)
{
	json_t *j = json_string(s);
	return j ? j : json_string("(invalid UTF-8)");
}

static bool
is_time_column(const char *name)
{
	return strcmp(name, "time") == 0 || strcmp(name, "start") == 0 || strcmp(name, "end") == 0;
}

/* The current row as an object keyed by the columns' names; times as RFC 3339 text. */
static json_t *
row_object(sqlite3_stmt *s)
{
	json_t *o = json_object();
	for (int i = 0; i < sqlite3_column_count(s); i++) {
		const char *name = sqlite3_column_name(s, i);
		json_t *v;
		switch (sqlite3_column_type(s, i)) {
		case SQLITE_NULL:
			v = json_null();
			break;
		case SQLITE_INTEGER:
			if (is_time_column(name)) {
				char t[40];
				auditdb_time_text(sqlite3_column_int64(s, i), t, sizeof(t));
				v = json_string(t);
			} else {
				v = json_integer(sqlite3_column_int64(s, i));
			}
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(s, i));
			break;
		default:
			v = text_value((const char *)sqlite3_column_text(s, i));
		}
		json_object_set_new(o, name, v);
	}
	return o;
}

/*
 * Runs the query and appends its rows to `items`; with `limit`, at most max_items of them,
 * and *truncated says whether there were more (the query asks for max_items + 1).
 */
static int
rows(struct ctx *c, const char *fmt, json_t *items, bool limit, bool *truncated)
{
	sqlite3_stmt *s = NULL;
	int r = prepare(c, fmt, &s);
	if (r < 0)
		return r;
	unsigned n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (limit && n == c->p->max_items) {
			*truncated = true;
			rc = SQLITE_DONE;
			break;
		}
		json_array_append_new(items, row_object(s));
		n++;
	}
	if (rc != SQLITE_DONE)
		r = step_error(c, rc);
	sqlite3_finalize(s);
	return r;
}

/* One row of aggregates, merged into `into`. */
static int
totals(struct ctx *c, const char *fmt, json_t *into)
{
	json_t *list = json_array();
	int r = rows(c, fmt, list, false, NULL);
	if (r >= 0 && json_array_size(list) == 1) {
		const char *k;
		json_t *v;
		json_object_foreach(json_array_get(list, 0), k, v)
		{
			/* sum() over no rows is NULL: a count of nothing is 0 */
			json_object_set_new(into, k,
			                    json_is_null(v) ? json_integer(0) : json_incref(v));
		}
	}
	json_decref(list);
	return r;
}

/* A section: {"<list>": [...], ..., "items": [...], "truncated": bool}. */
static int
section(struct ctx *c, json_t *report, const char *name, const char *items_sql, json_t **ret)
{
	json_t *sec = json_object();
	json_t *items = json_array();
	bool truncated = false;
	int r = rows(c, items_sql, items, true, &truncated);
	json_object_set_new(sec, "items", items);
	json_object_set_new(sec, "truncated", json_boolean(truncated));
	json_object_set_new(report, name, sec);
	*ret = sec;
	return r;
}

static int
grouped(struct ctx *c, json_t *sec, const char *name, const char *sql)
{
	json_t *list = json_array();
	int r = rows(c, sql, list, false, NULL);
	json_object_set_new(sec, name, list);
	return r;
}

static int
build(struct ctx *c, json_t *rep, json_t *sum)
{
	json_t *sec;
	int r;
	/* sign-ins */
	if ((r = totals(
	         c,
	         "SELECT count(*) AS sign_ins, sum(outcome = 1) AS sign_ins_denied FROM events "
	         "WHERE" SIGNIN_WHERE "AND" IN_PERIOD "%s",
	         sum)) < 0 ||
	    (r = section(c, rep, "sign_ins",
	                 "SELECT ts_ms AS time, user, source, " SIGNIN_METHOD " AS method, "
	                 "event, " OUTCOME_NAME
	                 " AS outcome, " JX("reason") " AS reason FROM events "
	                                              "WHERE" SIGNIN_WHERE "AND" IN_PERIOD
	                                              "%s ORDER BY ts_ms, seq LIMIT :lim",
	                 &sec)) < 0 ||
	    (r = grouped(c, sec, "by_method",
	                 "SELECT " SIGNIN_METHOD " AS method, " OUTCOME_NAME " AS outcome, "
	                 "count(*) AS count FROM events WHERE" SIGNIN_WHERE "AND" IN_PERIOD "%s "
	                 "GROUP BY 1, 2 ORDER BY 1, 2")) < 0 ||
	    (r = grouped(c, sec, "by_source",
	                 "SELECT source, sum(outcome = 0) AS granted, sum(outcome = 1) AS denied "
	                 "FROM events WHERE" SIGNIN_WHERE "AND" IN_PERIOD "%s GROUP BY 1 "
	                 "ORDER BY count(*) DESC, 1 LIMIT 100")) < 0)
		return r;
	/* desktop sessions */
	if ((r = totals(c,
	                SESSIONS_CTE "SELECT count(*) AS sessions, sum(seconds) AS session_seconds "
	                             "FROM s",
	                sum)) < 0 ||
	    (r = section(c, rep, "sessions",
	                 SESSIONS_CTE "SELECT user, start, \"end\", seconds, state FROM s "
	                              "ORDER BY start, user LIMIT :lim",
	                 &sec)) < 0)
		return r;
	/* admin actions */
	if ((r = totals(c,
	                "SELECT count(*) AS admin_actions FROM events WHERE" ADMIN_WHERE
	                "AND" IN_PERIOD "%s",
	                sum)) < 0 ||
	    (r = section(
	         c, rep, "admin_actions",
	         "SELECT ts_ms AS time, user, source, event, " OUTCOME_NAME " AS outcome, "
	         "coalesce(" JX("reason") ", " JX("service") ") AS reason FROM events "
	                                                     "WHERE" ADMIN_WHERE "AND" IN_PERIOD
	                                                     "%s ORDER BY ts_ms, seq LIMIT :lim",
	         &sec)) < 0)
		return r;
	/* denials */
	if ((r = totals(
	         c, "SELECT count(*) AS denials FROM events WHERE" DENY_WHERE "AND" IN_PERIOD "%s",
	         sum)) < 0 ||
	    (r = section(c, rep, "denials",
	                 "SELECT ts_ms AS time, user, source, event, " JX(
	                     "reason") " AS reason "
	                               "FROM events WHERE" DENY_WHERE "AND" IN_PERIOD "%s "
	                               "ORDER BY ts_ms, seq LIMIT :lim",
	                 &sec)) < 0 ||
	    (r = grouped(c, sec, "by_event",
	                 "SELECT event, " JX("reason") " AS reason, count(*) AS count FROM events "
	                                               "WHERE" DENY_WHERE "AND" IN_PERIOD
	                                               "%s GROUP BY 1, 2 "
	                                               "ORDER BY 3 DESC, 1, 2 LIMIT 100")) < 0)
		return r;
	/* file transfers */
	if ((r = totals(
	         c,
	         "SELECT sum(" IS_UPLOAD ") AS uploads, sum(NOT " IS_UPLOAD ") AS downloads, "
	         "sum(CASE WHEN " IS_UPLOAD " THEN " JX(
	             "bytes") " END) AS bytes_uploaded, "
	                      "sum(CASE WHEN NOT " IS_UPLOAD " THEN " JX(
	                          "bytes") " END) "
	                                   "AS bytes_downloaded FROM events WHERE" TRANSFER_WHERE
	                                   "AND" IN_PERIOD "%s",
	         sum)) < 0 ||
	    (r = section(c, rep, "file_transfers",
	                 "SELECT ts_ms AS time, user, source, CASE event WHEN 'files.upload' THEN "
	                 "'upload' WHEN 'files.archive' THEN 'download (tar)' ELSE 'download' END "
	                 "AS direction, " JX("path") " AS path, " JX(
	                     "bytes") " AS bytes FROM events "
	                              "WHERE" TRANSFER_WHERE "AND" IN_PERIOD
	                              "%s ORDER BY ts_ms, seq LIMIT :lim",
	                 &sec)) < 0)
		return r;
	/* service restarts */
	if ((r = totals(c,
	                "SELECT count(*) AS service_restart_events, "
	                "sum(event = 'service.restart' AND " JX(
	                    "step") " = 'started') "
	                            "AS service_restarts FROM events WHERE" RESTART_WHERE
	                            "AND" IN_PERIOD "%s",
	                sum)) < 0 ||
	    (r = section(c, rep, "service_restarts",
	                 "SELECT ts_ms AS time, user, " JX(
	                     "service") " AS service, event, " OUTCOME_NAME
	                                " AS outcome, " JX("step") " AS step, " JX(
	                                    "reason") " AS reason FROM events WHERE" RESTART_WHERE
	                                              "AND" IN_PERIOD "%s "
	                                              "ORDER BY ts_ms, seq LIMIT :lim",
	                 &sec)) < 0)
		return r;
	return 0;
}

int
auditreport_build(struct auditdb_reader *r, const struct auditreport_params *p, json_t **ret,
                  struct ab_err *err)
{
	if (p->from_ms <= 0 || p->to_ms <= p->from_ms)
		return ab_err_set(err, EINVAL, "a report needs a period: from before to");
	struct auditreport_params params = *p;
	if (!params.max_items)
		params.max_items = AUDITREPORT_ITEMS_DEFAULT;
	if (params.max_items > AUDITREPORT_ITEMS_MAX)
		return ab_err_set(err, EINVAL, "at most %d rows per list", AUDITREPORT_ITEMS_MAX);
	struct ctx c = {
	    .r = r,
	    .h = auditdb_reader_sqlite(r),
	    .p = &params,
	    .now_ms = p->now_ms ? p->now_ms : ab_wall_ms(),
	    .err = err,
	};
	char from[40], to[40], now[40];
	auditdb_time_text(p->from_ms, from, sizeof(from));
	auditdb_time_text(p->to_ms, to, sizeof(to));
	auditdb_time_text(c.now_ms, now, sizeof(now));
	json_t *rep = json_object();
	json_t *sum = json_object();
	json_object_set_new(rep, "report", json_string("argobox audit compliance report"));
	json_object_set_new(rep, "from", json_string(from));
	json_object_set_new(rep, "to", json_string(to));
	json_object_set_new(rep, "user", p->user ? text_value(p->user) : json_null());
	json_object_set_new(rep, "generated", json_string(now));
	json_object_set_new(rep, "max_items", json_integer(params.max_items));
	json_object_set_new(rep, "summary", sum);
	/* one budget for the whole report, so its queries together stay bounded */
	auditdb_reader_deadline(r, auditdb_reader_budget_ms(r));
	int res = build(&c, rep, sum);
	auditdb_reader_deadline(r, 0);
	if (res < 0) {
		json_decref(rep);
		return res;
	}
	*ret = rep;
	return 0;
}

/* ---- rendering ---- */

static const struct {
	const char *key, *title;
} sections[] = {
    {"sign_ins", "Sign-ins"},
    {"sessions", "Desktop sessions"},
    {"admin_actions", "Admin actions"},
    {"denials", "Denials"},
    {"file_transfers", "File transfers"},
    {"service_restarts", "Service restarts"},
};

/* The lists inside a section besides its items: sign_ins.by_method ... */
static const char *const groups[] = {"by_method", "by_source", "by_event"};

int
auditreport_format_from_name(const char *name)
{
	static const char *const names[] = {"json", "csv", "html"};
	for (size_t i = 0; name && i < AB_ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
auditreport_content_type(enum auditreport_format f)
{
	return f == AUDITREPORT_CSV    ? "text/csv; charset=utf-8"
	       : f == AUDITREPORT_HTML ? "text/html; charset=utf-8"
	                               : "application/json";
}

/* A value as text: strings as they are, numbers printed, null empty. */
static const char *
value_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
	else
		buf[0] = '\0';
	return buf;
}

/* One CSV layout for every row of the report: what a row lacks stays empty. */
static const char *const csv_columns[] = {"section", "time",  "start",     "end",     "user",
                                          "source",  "event", "method",    "outcome", "state",
                                          "step",    "path",  "direction", "service", "reason",
                                          "seconds", "bytes", "count",     "granted", "denied"};

static void
csv_row(struct auditdb_buf *b, const char *section_name, json_t *o)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(csv_columns); i++) {
		char num[32];
		if (i)
			auditdb_buf_add(b, ",", 1);
		if (i == 0)
			auditdb_csv_field(b, section_name);
		else
			auditdb_csv_field(
			    b, value_text(json_object_get(o, csv_columns[i]), num, sizeof(num)));
	}
	auditdb_buf_add(b, "\r\n", 2);
}

static void
render_csv(json_t *rep, struct auditdb_buf *b)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(csv_columns); i++) {
		if (i)
			auditdb_buf_add(b, ",", 1);
		auditdb_buf_add(b, csv_columns[i], strlen(csv_columns[i]));
	}
	auditdb_buf_add(b, "\r\n", 2);
	/* the period first: section "report", start/end, the user asked for */
	json_t *head = json_pack("{sOsOsO}", "start", json_object_get(rep, "from"), "end",
	                         json_object_get(rep, "to"), "user", json_object_get(rep, "user"));
	csv_row(b, "report", head);
	json_decref(head);
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rep, "summary"), k, v)
	{
		json_t *o = json_pack("{sssO}", "event", k, "count", v);
		csv_row(b, "summary", o);
		json_decref(o);
	}
	for (size_t s = 0; s < AB_ARRAY_SIZE(sections); s++) {
		json_t *sec = json_object_get(rep, sections[s].key);
		for (size_t g = 0; g < AB_ARRAY_SIZE(groups); g++) {
			json_t *list = json_object_get(sec, groups[g]);
			if (!list)
				continue;
			_cleanup_free_ char *name =
			    ab_xasprintf("%s.%s", sections[s].key, groups[g]);
			size_t i;
			json_t *o;
			json_array_foreach(list, i, o) csv_row(b, name, o);
		}
		size_t i;
		json_t *o;
		json_array_foreach(json_object_get(sec, "items"), i, o)
		    csv_row(b, sections[s].key, o);
		if (json_is_true(json_object_get(sec, "truncated"))) {
			json_t *t =
			    json_pack("{ss}", "reason", "more rows than max_items: truncated");
			csv_row(b, sections[s].key, t);
			json_decref(t);
		}
	}
}

/* Text for an HTML page: & < > " ' escaped, control characters as U+FFFD. */
static void
html_text(struct auditdb_buf *b, const char *s)
{
	static const char *const entity[128] = {
	    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
	};
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		const char *e = *p < 128 ? entity[*p] : NULL;
		if (e)
			auditdb_buf_add(b, e, strlen(e));
		else if (*p < 0x20 || *p == 0x7f)
			auditdb_buf_add(b, "\xef\xbf\xbd", 3);
		else
			auditdb_buf_add(b, p, 1);
	}
}

/* A table of the objects in `list`, its columns those of the first object. */
static void
html_table(struct auditdb_buf *b, json_t *list)
{
	json_t *first = json_array_get(list, 0);
	if (!first) {
		auditdb_buf_addf(b, "<p class=\"none\">None.</p>\n");
		return;
	}
	auditdb_buf_addf(b, "<table>\n<thead><tr>");
	const char *k;
	json_t *v;
	json_object_foreach(first, k, v)
	{
		auditdb_buf_addf(b, "<th>");
		html_text(b, k);
		auditdb_buf_addf(b, "</th>");
	}
	auditdb_buf_addf(b, "</tr></thead>\n<tbody>\n");
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		auditdb_buf_addf(b, "<tr>");
		json_object_foreach(first, k, v)
		{
			char num[32];
			json_t *cell = json_object_get(o, k);
			const char *td = json_is_number(cell) ? "<td class=\"n\">" : "<td>";
			auditdb_buf_add(b, td, strlen(td));
			html_text(b, value_text(cell, num, sizeof(num)));
			auditdb_buf_addf(b, "</td>");
		}
		auditdb_buf_addf(b, "</tr>\n");
	}
	auditdb_buf_addf(b, "</tbody>\n</table>\n");
}

static void
render_html(json_t *rep, struct auditdb_buf *b)
{
	const char *from = json_string_value(json_object_get(rep, "from"));
	const char *to = json_string_value(json_object_get(rep, "to"));
	const char *user = json_string_value(json_object_get(rep, "user"));
	auditdb_buf_addf(
	    b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	       "style-src 'unsafe-inline'\">\n<title>ArgoBox audit report ");
	html_text(b, from);
	auditdb_buf_addf(b, " to ");
	html_text(b, to);
	auditdb_buf_addf(
	    b,
	    "</title>\n<style>\n"
	    "body{font:10pt/1.35 system-ui,sans-serif;margin:2em;color:#111}\n"
	    "h1{font-size:16pt}h2{font-size:13pt;margin-top:1.6em;border-bottom:1px solid #999}\n"
	    "table{border-collapse:collapse;width:100%%;margin:.5em 0}\n"
	    "th,td{border:1px solid #bbb;padding:2px 5px;text-align:left;vertical-align:top;"
	    "overflow-wrap:anywhere}\n"
	    "th{background:#eee}td.n{text-align:right}.none,.trunc{color:#555}\n"
	    "@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}"
	    "thead{display:table-header-group}}\n"
	    "</style>\n</head>\n<body>\n<h1>ArgoBox audit report</h1>\n<p>Period: ");
	html_text(b, from);
	auditdb_buf_addf(b, " to ");
	html_text(b, to);
	auditdb_buf_addf(b, " (end excluded). User: ");
	html_text(b, user ? user : "everyone");
	auditdb_buf_addf(b, ". Generated ");
	html_text(b, json_string_value(json_object_get(rep, "generated")));
	auditdb_buf_addf(b, ".</p>\n<h2>Summary</h2>\n<table>\n<tbody>\n");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rep, "summary"), k, v)
	{
		char num[32];
		auditdb_buf_addf(b, "<tr><th>");
		html_text(b, k);
		auditdb_buf_addf(b, "</th><td class=\"n\">");
		html_text(b, value_text(v, num, sizeof(num)));
		auditdb_buf_addf(b, "</td></tr>\n");
	}
	auditdb_buf_addf(b, "</tbody>\n</table>\n");
	for (size_t s = 0; s < AB_ARRAY_SIZE(sections); s++) {
		json_t *sec = json_object_get(rep, sections[s].key);
		auditdb_buf_addf(b, "<h2>%s</h2>\n", sections[s].title);
		for (size_t g = 0; g < AB_ARRAY_SIZE(groups); g++) {
			json_t *list = json_object_get(sec, groups[g]);
			if (!list)
				continue;
			auditdb_buf_addf(b, "<h3>%s</h3>\n",
			                 strcmp(groups[g], "by_method") == 0 ? "By method"
			                 : strcmp(groups[g], "by_source") == 0
			                     ? "By source address"
			                     : "By event and reason");
			html_table(b, list);
		}
		html_table(b, json_object_get(sec, "items"));
		if (json_is_true(json_object_get(sec, "truncated")))
			auditdb_buf_addf(
			    b,
			    "<p class=\"trunc\">Truncated: more than %lld rows; narrow "
			    "the period or name a user.</p>\n",
			    (long long)json_integer_value(json_object_get(rep, "max_items")));
	}
	auditdb_buf_addf(b, "</body>\n</html>\n");
}

char *
auditreport_render(json_t *report, enum auditreport_format f, size_t *ret_len)
{
	struct auditdb_buf b = {0};
	if (f == AUDITREPORT_CSV) {
		render_csv(report, &b);
	} else if (f == AUDITREPORT_HTML) {
		render_html(report, &b);
	} else {
		_cleanup_free_ char *s = json_dumps(report, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		if (s)
			auditdb_buf_add(&b, s, strlen(s));
		auditdb_buf_add(&b, "\n", 1);
	}
	if (!b.data)
		auditdb_buf_add(&b, "", 0);
	*ret_len = b.len;
	return b.data;
}
