/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auditsvc: the store's wiring, the admins' audit API and the live tail (see auditsvc.h).
 *
 * routes:
 *   GET /api/admin/audit
 *   GET /api/admin/audit/tail
 *   GET /api/admin/audit/status
 *   GET /api/admin/audit/report
 * end routes
 */
#include "auditsvc.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "alerts.h"
#include "audit.h"
#include "auditdb.h"
#include "auditquery.h"
#include "auditreport.h"
#include "broker_config.h"
#include "desktop.h"
#include "httpc.h"
#include "kv.h"
#include "mirror.h"
#include "settings.h"
#include "server.h"
#include "users.h"

#include <errno.h>
#include <libwebsockets.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#define MAX_PARAM_BYTES AUDITQUERY_PARAM_BYTES
#define MAX_PARAMS      16
#define TAIL_MAX        32         /* live tails at once */
#define TAIL_BUFFER     (1u << 20) /* per tail; a slower client loses events (counted) */
#define KEEPALIVE_MS    15000

struct tail;

struct auditsvc {
	const struct broker_config *cfg;
	struct ab_loop *loop;
	struct server *srv;
	char db_path[PATH_MAX];
	char key_path[PATH_MAX];
	struct auditdb *db;
	char db_error[1024]; /* why there is no store */
	struct ab_watch *efd_watch;
	bool was_failing;
	uint64_t dropped_reported;
	struct auditdb_reader *reader;
	struct httpc *httpc;
	struct alerts *alerts;
	struct tail *tails;
	unsigned n_tails;
	struct ab_timer *keepalive;
	bool sink_added;
	struct desktop_manager *desktops; /* borrowed, for notifications */
	const struct users_db *users;     /* borrowed; NULL: "local" is the admin */
	struct mirror *mirror;            /* NULL: audit.mirror.mode says off */
};

/* ---- filters ---- */

/*
 * The i-th query parameter, URL-decoded by lws, split into *key and *val (inside frag):
 * 1, 0 after the last, -1 with msg filled when it is a 400. Each is bounded before it is
 * copied, so a huge filter is refused rather than cut.
 */
static int
query_param(struct http_request *req, int i, char frag[MAX_PARAM_BYTES + 32], const char **key,
            const char **val, char *msg, size_t msg_len)
{
	int len = lws_hdr_fragment_length(req->wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
	if (len <= 0)
		return 0;
	if (i >= MAX_PARAMS) {
		snprintf(msg, msg_len, "more than %d query parameters", MAX_PARAMS);
		return -1;
	}
	if (len > MAX_PARAM_BYTES + 16) {
		snprintf(msg, msg_len,
		         "query parameter %d is %d bytes long; a filter is at most %d bytes", i + 1,
		         len, MAX_PARAM_BYTES);
		return -1;
	}
	if (lws_hdr_copy_fragment(req->wsi, frag, MAX_PARAM_BYTES + 32, WSI_TOKEN_HTTP_URI_ARGS,
	                          i) < 0)
		return 0;
	/* an empty query string ("...audit?") reaches us as one fragment "/": no parameter */
	if (i == 0 && strcmp(frag, "/") == 0 &&
	    lws_hdr_fragment_length(req->wsi, WSI_TOKEN_HTTP_URI_ARGS, 1) <= 0)
		return 0;
	char *eq = strchr(frag, '=');
	*key = frag;
	*val = "";
	if (eq) {
		*eq = '\0';
		*val = eq + 1;
	}
	if (strlen(*val) > MAX_PARAM_BYTES) {
		snprintf(msg, msg_len, "'%.32s' is %zu bytes long; a filter is at most %d bytes",
		         *key, strlen(*val), MAX_PARAM_BYTES);
		return -1;
	}
	return 1;
}

/* Reads the query string into f. Returns 0, or fills msg with why it is a 400. */
static int
parse_filter(struct http_request *req, struct auditquery *f, bool tail, char *msg, size_t msg_len)
{
	auditquery_init(f, tail);
	for (int i = 0;; i++) {
		char frag[MAX_PARAM_BYTES + 32];
		const char *key, *val;
		int qp = query_param(req, i, frag, &key, &val, msg, msg_len);
		if (qp < 0)
			return -1;
		if (qp == 0)
			break;
		if (auditquery_param(f, key, val, msg, msg_len) < 0)
			return -1;
	}
	return auditquery_finish(f, msg, msg_len);
}

static bool
filter_matches(const struct auditquery *f, const struct audit_event *ev)
{
	if (f->q.user && (!ev->user || strcmp(ev->user, f->q.user) != 0))
		return false;
	if (f->q.role && (!ev->role || strcmp(ev->role, f->q.role) != 0))
		return false;
	if (f->q.source && (!ev->source || strcmp(ev->source, f->q.source) != 0))
		return false;
	if (f->q.event_prefix && strncmp(ev->event, f->q.event_prefix, strlen(f->q.event_prefix)))
		return false;
	if (f->q.outcome >= 0 && (int)ev->outcome != f->q.outcome)
		return false;
	if (f->q.text && f->q.text[0] && !strcasestr(ev->detail, f->q.text))
		return false;
	return true;
}

/* ---- the store ---- */

static int
reader(struct auditsvc *a, struct ab_err *err)
{
	if (a->reader)
		return 0;
	if (!a->db)
		return ab_err_set(err, ENOENT, "the audit store is not available: %s",
		                  a->db_error[0] ? a->db_error : "disabled (audit.store.enabled)");
	return auditdb_reader_open(a->db_path, (int)a->cfg->audit_query_budget_ms, &a->reader, err);
}

static void
store_progress(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct auditsvc *a = data;
	struct auditdb_stats st;
	auditdb_stats(a->db, &st);
	if (st.failing && !a->was_failing) {
		a->was_failing = true;
		audit_log("audit.store", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssssI}", "reason",
		                    "the audit store cannot write; events are kept in memory up to "
		                    "audit.store.queue_max",
		                    "error", st.error, "queued", (json_int_t)st.queued));
	} else if (!st.failing && a->was_failing) {
		a->was_failing = false;
		audit_log("audit.store", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssI}", "reason", "the audit store writes again", "dropped",
		                    (json_int_t)(st.dropped - a->dropped_reported)));
		a->dropped_reported = st.dropped;
	}
	if (st.dropped > a->dropped_reported && !st.failing) {
		uint64_t n = st.dropped - a->dropped_reported;
		a->dropped_reported = st.dropped;
		audit_log(
		    "audit.store", AUDIT_FAILURE, NULL, NULL, NULL,
		    json_pack("{sssI}", "reason",
		              "events were dropped from the store (queue full); the JSON-lines "
		              "file has them",
		              "dropped", (json_int_t)n));
	}
	mirror_progress(a->mirror);
}

/* ---- the live tail ---- */

struct tail {
	struct tail *next;
	struct auditsvc *a;
	struct http_stream *h;
	struct auditquery f;
	struct auditdb_buf buf;
	size_t off;
	uint64_t lost;
};

static void
tail_add(struct tail *t, const char *s, size_t n)
{
	if (t->buf.len - t->off + n > TAIL_BUFFER) {
		t->lost++;
		return;
	}
	if (t->lost) {
		auditdb_buf_addf(&t->buf, ": %llu events lost (client too slow)\n\n",
		                 (unsigned long long)t->lost);
		t->lost = 0;
	}
	auditdb_buf_add(&t->buf, s, n);
	server_stream_wake(t->h);
}

static void
tail_start(void *ctx, struct http_stream *h)
{
	struct tail *t = ctx;
	t->h = h;
	tail_add(t, ": argobox audit tail\nretry: 3000\n\n", 34);
}

static long
tail_read(void *ctx, char *out, size_t cap)
{
	struct tail *t = ctx;
	size_t n = AB_MIN(cap, t->buf.len - t->off);
	memcpy(out, t->buf.data + t->off, n);
	t->off += n;
	if (t->off == t->buf.len)
		t->off = t->buf.len = 0;
	return (long)n;
}

static void
tail_close(void *ctx)
{
	struct tail *t = ctx;
	struct auditsvc *a = t->a;
	for (struct tail **p = &a->tails; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			a->n_tails--;
			break;
		}
	free(t->buf.data);
	free(t);
}

static const struct http_stream_ops tail_ops = {tail_start, tail_read, tail_close};

static void
tails_push(struct auditsvc *a, const struct audit_event *ev)
{
	for (struct tail *t = a->tails; t; t = t->next) {
		if (!t->h || !filter_matches(&t->f, ev))
			continue;
		struct auditdb_buf b = {0};
		auditdb_buf_addf(&b, "event: audit\ndata: %.*s\n\n", (int)ev->line_len, ev->line);
		tail_add(t, b.data, b.len);
		free(b.data);
	}
}

static int64_t
keepalive(struct ab_loop *loop, void *data)
{
	struct auditsvc *a = data;
	for (struct tail *t = a->tails; t; t = t->next)
		if (t->h)
			tail_add(t, ": keepalive\n\n", 13);
	return KEEPALIVE_MS;
}

static int
route_tail(struct http_request *req, struct http_response *resp, void *data)
{
	struct auditsvc *a = data;
	char msg[256];
	struct tail *t = ab_xcalloc(1, sizeof(*t));
	if (parse_filter(req, &t->f, true, msg, sizeof(msg)) < 0) {
		free(t);
		http_response_error(resp, 400, msg);
		return 0;
	}
	if (a->n_tails >= TAIL_MAX) {
		free(t);
		http_response_error(resp, 503, "too many live tails open");
		return 0;
	}
	t->a = a;
	t->next = a->tails;
	a->tails = t;
	a->n_tails++;
	http_response_stream(resp, 200, "text/event-stream", &tail_ops, t);
	http_response_add_header(resp, "Cache-Control", "no-cache");
	return 0;
}

/* ---- the sink ---- */

static void
sink(const struct audit_event *ev, void *data)
{
	struct auditsvc *a = data;
	if (a->db)
		auditdb_submit(a->db, ev->time_ms, ev->user, ev->role, ev->source, ev->event,
		               (int)ev->outcome, ev->detail);
	alerts_event(a->alerts, ev);
	if (a->tails)
		tails_push(a, ev);
}

/* ---- queries and exports ---- */

struct export
{
	struct auditsvc *a;
	struct auditdb_cursor *cur;
	bool csv, done;
	struct auditdb_buf buf;
	size_t off;
	uint64_t rows;
};

static long
export_read(void *ctx, char *out, size_t cap)
{
	struct export *x = ctx;
	while (!x->done && x->buf.len - x->off < cap) {
		struct auditdb_record row;
		struct ab_err err = {0};
		int r = auditdb_cursor_next(x->cur, &row, &err);
		if (r == 1) {
			x->rows++;
			if (x->csv) {
				auditdb_csv_row(&x->buf, &row);
			} else {
				_cleanup_free_ char *js = auditdb_record_json(&row);
				if (js) {
					auditdb_buf_add(&x->buf, js, strlen(js));
					auditdb_buf_add(&x->buf, "\n", 1);
				}
			}
			continue;
		}
		x->done = true;
		if (r < 0) {
			/* the status line is gone: the error ends the body, recognisably */
			ab_warn("audit export stopped after %llu rows: %s",
			        (unsigned long long)x->rows, err.msg);
			if (x->csv) {
				auditdb_buf_addf(&x->buf, "# error: export incomplete: %s\r\n",
				                 err.msg);
			} else {
				json_t *e = json_pack("{ssss}", "error", "export incomplete",
				                      "reason", err.msg);
				_cleanup_free_ char *s = json_dumps(e, JSON_COMPACT);
				json_decref(e);
				auditdb_buf_addf(&x->buf, "%s\n",
				                 s ? s : "{\"error\":\"export incomplete\"}");
			}
		}
	}
	size_t n = AB_MIN(cap, x->buf.len - x->off);
	if (n == 0 && x->done)
		return -1;
	memcpy(out, x->buf.data + x->off, n);
	x->off += n;
	if (x->off == x->buf.len)
		x->off = x->buf.len = 0;
	return (long)n;
}

static void
export_close(void *ctx)
{
	struct export *x = ctx;
	auditdb_cursor_free(x->cur);
	free(x->buf.data);
	free(x);
}

static const struct http_stream_ops export_ops = {NULL, export_read, export_close};

/*
 * One page of the JSON answer into b: {"events":[...],"count":n,"next_cursor":...}. Frees
 * cur. Returns 0, or -1 with err (ETIMEDOUT: over the query budget) and b empty.
 */
static int
query_page(struct auditdb_cursor *cur, unsigned limit, struct auditdb_buf *b, struct ab_err *err)
{
	auditdb_buf_addf(b, "{\"events\":[");
	struct auditdb_record row;
	unsigned n = 0;
	int r;
	int64_t last_ts = 0, last_seq = 0;
	while ((r = auditdb_cursor_next(cur, &row, err)) == 1) {
		_cleanup_free_ char *js = auditdb_record_json(&row);
		if (n++)
			auditdb_buf_add(b, ",", 1);
		if (js)
			auditdb_buf_add(b, js, strlen(js));
		last_ts = row.ts_ms;
		last_seq = row.seq;
	}
	auditdb_cursor_free(cur);
	if (r < 0) {
		free(b->data);
		*b = (struct auditdb_buf){0};
		return -1;
	}
	if (n == limit)
		auditdb_buf_addf(b, "],\"count\":%u,\"next_cursor\":\"%lld-%lld\"}", n,
		                 (long long)last_ts, (long long)last_seq);
	else
		auditdb_buf_addf(b, "],\"count\":%u,\"next_cursor\":null}", n);
	return 0;
}

static int
route_query(struct http_request *req, struct http_response *resp, void *data)
{
	struct auditsvc *a = data;
	char msg[256];
	struct auditquery f;
	if (parse_filter(req, &f, false, msg, sizeof(msg)) < 0) {
		http_response_error(resp, 400, msg);
		return 0;
	}
	struct ab_err err = {0};
	if (reader(a, &err) < 0) {
		http_response_error(resp, 503, err.msg);
		return 0;
	}
	struct auditdb_cursor *cur = NULL;
	if (auditdb_query(a->reader, &f.q, &cur, &err) < 0) {
		http_response_error(resp, 500, err.msg);
		return 0;
	}
	if (f.format != AUDITQUERY_JSON) {
		struct export *x = ab_xcalloc(1, sizeof(*x));
		x->a = a;
		x->cur = cur;
		x->csv = f.format == AUDITQUERY_CSV;
		if (x->csv)
			auditdb_csv_header(&x->buf);
		http_response_stream(resp, 200,
		                     x->csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
		                     &export_ops, x);
		char cd[96];
		snprintf(cd, sizeof(cd), "attachment; filename=\"audit.%s\"",
		         x->csv ? "csv" : "ndjson");
		http_response_add_header(resp, "Content-Disposition", cd);
		http_response_add_header(resp, "Cache-Control", "no-store");
		return 0;
	}
	struct auditdb_buf b = {0};
	if (query_page(cur, f.q.limit, &b, &err) < 0) {
		http_response_error(resp, err.code == ETIMEDOUT ? 400 : 500, err.msg);
		return 0;
	}
	http_response_set(resp, 200, "application/json", b.data, b.len);
	http_response_add_header(resp, "Cache-Control", "no-store");
	free(b.data);
	return 0;
}

static int
query_refuse(const char *by_user, const char *source, json_t *params, int code, const char *why,
             struct ab_err *err)
{
	audit_log("admin.audit.query", AUDIT_DENY, by_user, NULL, source,
	          json_pack("{sssO?}", "reason", why, "filters", params));
	return ab_err_set(err, code, "%s", why);
}

int
auditsvc_query(struct auditsvc *a, json_t *params, const char *by_user, const char *source,
               json_t **ret, struct ab_err *err)
{
	char msg[256];
	struct auditquery f;
	auditquery_init(&f, false);
	if (params && !json_is_object(params))
		return query_refuse(by_user, source, NULL, EINVAL, "params: an object", err);
	if (json_object_size(params) > MAX_PARAMS) {
		snprintf(msg, sizeof(msg), "more than %d query parameters", MAX_PARAMS);
		return query_refuse(by_user, source, NULL, EINVAL, msg, err);
	}
	const char *key;
	json_t *v;
	json_object_foreach(params, key, v)
	{
		const char *val = json_string_value(v);
		if (!val || strcmp(key, "format") == 0) {
			snprintf(msg, sizeof(msg), "'%.32s': %s", key,
			         val ? "exports are for GET /api/admin/audit"
			             : "every parameter is a string");
			return query_refuse(by_user, source, NULL, EINVAL, msg, err);
		}
		if (strlen(key) > 32 || strlen(val) > MAX_PARAM_BYTES) {
			snprintf(msg, sizeof(msg),
			         "'%.32s' is %zu bytes long; a filter is at most %d bytes", key,
			         strlen(val), MAX_PARAM_BYTES);
			return query_refuse(by_user, source, NULL, EINVAL, msg, err);
		}
		if (auditquery_param(&f, key, val, msg, sizeof(msg)) < 0)
			return query_refuse(by_user, source, params, EINVAL, msg, err);
	}
	if (auditquery_finish(&f, msg, sizeof(msg)) < 0)
		return query_refuse(by_user, source, params, EINVAL, msg, err);
	struct ab_err rerr = {0};
	struct auditdb_cursor *cur = NULL;
	if (reader(a, &rerr) < 0)
		return query_refuse(by_user, source, params, ENOENT, rerr.msg, err);
	if (auditdb_query(a->reader, &f.q, &cur, &rerr) < 0)
		return query_refuse(by_user, source, params, EIO, rerr.msg, err);
	struct auditdb_buf b = {0};
	if (query_page(cur, f.q.limit, &b, &rerr) < 0)
		return query_refuse(by_user, source, params,
		                    rerr.code == ETIMEDOUT ? ETIMEDOUT : EIO, rerr.msg, err);
	json_error_t jerr;
	json_t *page = json_loadb(b.data, b.len, 0, &jerr);
	free(b.data);
	if (!page)
		return query_refuse(by_user, source, params, EIO, "the page is not JSON", err);
	audit_log("admin.audit.query", AUDIT_GRANT, by_user, NULL, source,
	          json_pack("{sO?sO}", "filters", params, "count", json_object_get(page, "count")));
	*ret = page;
	return 0;
}

/*
 * POST /api/admin/audit/query: the query API with its parameters in a JSON body instead of
 * the URL ({"user": "ada", "event": "auth.", ...}, the same names, values and bounds), for
 * filters a URL cannot carry; a body over the server's 1 MiB is a 413 before this runs.
 */
static int
route_query_post(struct http_request *req, struct http_response *resp, void *data)
{
	struct auditsvc *a = data;
	json_error_t jerr;
	json_t *params = req->body_len ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
	if (!json_is_object(params)) {
		json_decref(params);
		http_response_error(
		    resp, 400, "the body is a JSON object of query parameters (docs/audit.md)");
		return 0;
	}
	json_t *page = NULL;
	struct ab_err err = {0};
	int r = auditsvc_query(a, params, req->user, req->peer, &page, &err);
	json_decref(params);
	if (r < 0) {
		int st = err.code == EINVAL || err.code == ETIMEDOUT ? 400
		         : err.code == ENOENT                        ? 503
		                                                     : 500;
		http_response_error(resp, st, err.msg);
		return 0;
	}
	http_response_json(resp, 200, page);
	http_response_add_header(resp, "Cache-Control", "no-store");
	return 0;
}

/* ---- compliance reports ---- */

static int
report_refuse(const struct auditsvc_report_req *rq, int code, const char *why, struct ab_err *err)
{
	audit_log("admin.audit.report", AUDIT_DENY, rq->by_user, rq->by_role, rq->source,
	          json_pack("{ssss*ss*ss*}", "reason", why, "from", rq->from, "to", rq->to,
	                    "subject", rq->user));
	return ab_err_set(err, code, "%s", why);
}

int
auditsvc_report(struct auditsvc *a, const struct auditsvc_report_req *rq, json_t **ret,
                struct ab_err *err)
{
	char msg[256];
	int64_t from, to;
	if (!rq->from || !rq->to)
		return report_refuse(rq, EINVAL, "a report needs from and to", err);
	if (strlen(rq->from) > MAX_PARAM_BYTES || strlen(rq->to) > MAX_PARAM_BYTES ||
	    (rq->user && strlen(rq->user) > MAX_PARAM_BYTES))
		return report_refuse(rq, EINVAL, "from, to and user are at most 256 bytes each",
		                     err);
	if (!auditquery_time("from", rq->from, &from, msg, sizeof(msg)) ||
	    !auditquery_time("to", rq->to, &to, msg, sizeof(msg)) ||
	    !auditquery_range_ok(from, to, msg, sizeof(msg)))
		return report_refuse(rq, EINVAL, msg, err);
	if (rq->limit > AUDITREPORT_ITEMS_MAX) {
		snprintf(msg, sizeof(msg), "limit: 1 to %d rows per list", AUDITREPORT_ITEMS_MAX);
		return report_refuse(rq, EINVAL, msg, err);
	}
	struct ab_err rerr = {0};
	if (reader(a, &rerr) < 0)
		return report_refuse(rq, ENOENT, rerr.msg, err);
	struct auditreport_params p = {
	    .from_ms = from,
	    .to_ms = to,
	    .user = rq->user && rq->user[0] ? rq->user : NULL,
	    .max_items = rq->limit,
	};
	json_t *rep = NULL;
	int r = auditreport_build(a->reader, &p, &rep, &rerr);
	if (r < 0)
		return report_refuse(rq, -r, rerr.msg, err);
	json_t *sum = json_object_get(rep, "summary");
	audit_log("admin.audit.report", AUDIT_GRANT, rq->by_user, rq->by_role, rq->source,
	          json_pack("{sssssOsssO}", "from", json_string_value(json_object_get(rep, "from")),
	                    "to", json_string_value(json_object_get(rep, "to")), "subject",
	                    json_object_get(rep, "user"), "format",
	                    rq->format ? rq->format : "json", "summary", sum));
	*ret = rep;
	return 0;
}

static int
route_report(struct http_request *req, struct http_response *resp, void *data)
{
	struct auditsvc *a = data;
	char msg[256];
	char from[MAX_PARAM_BYTES + 1] = "", to[MAX_PARAM_BYTES + 1] = "";
	char user[MAX_PARAM_BYTES + 1] = "", format[16] = "json";
	struct auditsvc_report_req rq = {
	    .by_user = req->user[0] ? req->user : NULL,
	    .by_role = req->role[0] ? req->role : NULL,
	    .source = req->peer,
	    .format = format,
	};
	for (int i = 0;; i++) {
		char frag[MAX_PARAM_BYTES + 32];
		const char *key, *val;
		int qp = query_param(req, i, frag, &key, &val, msg, sizeof(msg));
		if (qp == 0)
			break;
		if (qp < 0) {
			report_refuse(&rq, EINVAL, msg, NULL);
			http_response_error(resp, 400, msg);
			return 0;
		}
		if (strcmp(key, "from") == 0) {
			snprintf(from, sizeof(from), "%s", val);
			rq.from = from;
		} else if (strcmp(key, "to") == 0) {
			snprintf(to, sizeof(to), "%s", val);
			rq.to = to;
		} else if (strcmp(key, "user") == 0) {
			snprintf(user, sizeof(user), "%s", val);
			rq.user = user;
		} else if (strcmp(key, "format") == 0 && auditreport_format_from_name(val) >= 0) {
			snprintf(format, sizeof(format), "%s", val);
		} else if (strcmp(key, "limit") == 0) {
			char *end;
			long v = strtol(val, &end, 10);
			rq.limit =
			    *end || v < 1 || v > AUDITREPORT_ITEMS_MAX ? UINT_MAX : (unsigned)v;
		} else {
			if (strcmp(key, "format") == 0)
				snprintf(msg, sizeof(msg), "format: json, csv or html");
			else
				snprintf(msg, sizeof(msg),
				         "unknown query parameter '%.32s' (from, to, user, format, "
				         "limit)",
				         key);
			report_refuse(&rq, EINVAL, msg, NULL);
			http_response_error(resp, 400, msg);
			return 0;
		}
	}
	json_t *rep = NULL;
	struct ab_err err = {0};
	int r = auditsvc_report(a, &rq, &rep, &err);
	if (r < 0) {
		http_response_error(resp,
		                    r == -ENOENT                      ? 503
		                    : r == -EINVAL || r == -ETIMEDOUT ? 400
		                                                      : 500,
		                    err.msg);
		return 0;
	}
	enum auditreport_format f = (enum auditreport_format)auditreport_format_from_name(format);
	size_t len;
	_cleanup_free_ char *text = auditreport_render(rep, f, &len);
	json_decref(rep);
	http_response_set(resp, 200, auditreport_content_type(f), text, len);
	http_response_add_header(resp, "Cache-Control", "no-store");
	http_response_add_header(resp, "X-Content-Type-Options", "nosniff");
	if (f == AUDITREPORT_HTML)
		http_response_add_header(resp, "Content-Security-Policy",
		                         "default-src 'none'; style-src 'unsafe-inline'");
	if (f == AUDITREPORT_CSV)
		http_response_add_header(resp, "Content-Disposition",
		                         "attachment; filename=\"audit-report.csv\"");
	return 0;
}

json_t *
auditsvc_status(struct auditsvc *a)
{
	json_t *store;
	if (a->db) {
		struct auditdb_stats st;
		auditdb_stats(a->db, &st);
		store =
		    json_pack("{sbsssssIsIsIsIsIsIsisbsssI}", "enabled", 1, "state",
		              st.failing ? "failing" : "ok", "path", a->db_path, "submitted",
		              (json_int_t)st.submitted, "stored", (json_int_t)st.stored, "dropped",
		              (json_int_t)st.dropped, "pruned", (json_int_t)st.pruned, "batches",
		              (json_int_t)st.batches, "last_seq", (json_int_t)st.last_seq, "queued",
		              (int)st.queued, "failing", st.failing, "error", st.error,
		              "max_batch_ms", (json_int_t)st.max_batch_ms);
	} else {
		store = json_pack("{sbssssss}", "enabled", a->cfg->audit_store_enabled, "state",
		                  a->cfg->audit_store_enabled ? "unavailable" : "off", "path",
		                  a->db_path, "error", a->db_error);
	}
	return json_pack("{sososiso}", "store", store, "alerts", alerts_status(a->alerts), "tails",
	                 (int)a->n_tails, "mirror", mirror_status(a->mirror));
}

static int
route_status(struct http_request *req, struct http_response *resp, void *data)
{
	struct auditsvc *a = data;
	http_response_json(resp, 200, auditsvc_status(a));
	return 0;
}

static void
health(json_t *out, void *data)
{
	struct auditsvc *a = data;
	const char *state = "off";
	json_int_t dropped = 0;
	if (a->db) {
		struct auditdb_stats st;
		auditdb_stats(a->db, &st);
		state = st.failing ? "failing" : "ok";
		dropped = (json_int_t)st.dropped;
	} else if (a->cfg->audit_store_enabled) {
		state = "unavailable";
	}
	/* the mirror's state, lag and dropped (what it could not copy) */
	json_t *m = mirror_status(a->mirror);
	json_object_del(m, "error");
	json_object_del(m, "chunks");
	json_object_del(m, "failures");
	json_object_del(m, "mirrored_seq");
	json_object_set_new(out, "audit",
	                    json_pack("{sssIso}", "store", state, "dropped", dropped, "mirror", m));
}

/* ---- fail-closed admin actions ---- */

/* The admin gate (audit.h): with audit.store.fail_closed_admin, no admin action the store
 * cannot record. */
static bool
admin_gate(void *data, char *why, size_t len)
{
	struct auditsvc *a = data;
	if (!a->cfg->audit_fail_closed_admin || !a->cfg->audit_store_enabled)
		return true;
	if (!a->db) {
		snprintf(why, len,
		         "the audit store is not available (audit.store.fail_closed_admin)");
		return false;
	}
	struct auditdb_stats st;
	auditdb_stats(a->db, &st);
	if (!st.failing)
		return true;
	snprintf(why, len,
	         "the audit store cannot record it (audit.store.fail_closed_admin): %.160s",
	         st.error);
	return false;
}

/* ---- notifications ---- */

/* An alert fired: every admin with a running desktop gets it as a notification. */
static void
notify_admins(void *data, const char *title, const char *body, json_t *delivered,
              json_t *no_desktop)
{
	struct auditsvc *a = data;
	const char *to[64];
	size_t n = 0;
	if (a->users) {
		for (size_t i = 0; i < users_count(a->users) && n < AB_ARRAY_SIZE(to); i++) {
			const struct users_user *u = users_at(a->users, i);
			if (u->role == USERS_ROLE_ADMIN)
				to[n++] = u->name;
		}
	} else {
		to[n++] = "local"; /* no users table: the loopback user is the admin */
	}
	for (size_t i = 0; i < n; i++) {
		int r = -ENOENT;
		if (a->desktops)
			r = desktop_send(
			    a->desktops, to[i],
			    ab_proto_msg("notify", json_pack("{ssssss}", "title", title, "body",
			                                     body, "urgency", "critical")));
		json_array_append_new(r == 0 ? delivered : no_desktop, json_string(to[i]));
	}
}

void
auditsvc_attach(struct auditsvc *a, struct desktop_manager *desktops, const struct users_db *users,
                struct kv *kv)
{
	if (!a)
		return;
	a->desktops = desktops;
	a->users = users;
	alerts_set_notify(a->alerts, notify_admins, a);
	mirror_set_kv(a->mirror, kv);
	if (a->mirror && kv)
		ab_info("audit mirror: to the %s kv store (expiration_ttl %lld days)",
		        kv_backend(kv), a->cfg->audit_retention_days);
}

void
auditsvc_set_users(struct auditsvc *a, const struct users_db *users)
{
	if (a)
		a->users = users;
}

void
auditsvc_detach(struct auditsvc *a)
{
	if (!a)
		return;
	alerts_set_notify(a->alerts, NULL, NULL);
	mirror_set_kv(a->mirror, NULL);
	a->desktops = NULL;
	a->users = NULL;
}

/* ---- lifecycle ---- */

static void
webhook_params(const struct broker_config *cfg, struct alerts_webhook *wh)
{
	*wh = (struct alerts_webhook){
	    .url = cfg->audit_webhook_url,
	    .secret = cfg->audit_webhook_secret,
	    .timeout_ms = (long)cfg->audit_webhook_timeout_ms,
	    .max_attempts = (int)cfg->audit_webhook_max_attempts,
	};
}

int
auditsvc_check_config(const struct broker_config *cfg, struct ab_err *err)
{
	struct alerts_webhook wh;
	webhook_params(cfg, &wh);
	return alerts_new(cfg->audit_alert_rules, &wh, NULL, NULL, NULL, err);
}

/* "on", or "auto" with Workers KV (off the host; the embedded store is on this disk). */
static bool
mirror_wanted(const struct broker_config *cfg)
{
	const char *backend = json_string_value(json_object_get(cfg->kv, "backend"));
	return strcmp(cfg->audit_mirror, "on") == 0 ||
	       (strcmp(cfg->audit_mirror, "auto") == 0 && backend && !strcmp(backend, "cfkv"));
}

int
auditsvc_new(const struct broker_config *cfg, struct ab_loop *loop, struct server *srv,
             struct auditsvc **ret, struct ab_err *err)
{
	struct auditsvc *a = ab_xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	a->loop = loop;
	a->srv = srv;
	if (cfg->audit_store_path[0])
		snprintf(a->db_path, sizeof(a->db_path), "%s", cfg->audit_store_path);
	else
		snprintf(a->db_path, sizeof(a->db_path), "%.4000s/audit/audit.db", cfg->data_dir);
	if (cfg->audit_store_key[0])
		snprintf(a->key_path, sizeof(a->key_path), "%s", cfg->audit_store_key);
	else
		snprintf(a->key_path, sizeof(a->key_path), "%.4000s/audit/signing.key",
		         cfg->data_dir);
	struct alerts_webhook wh;
	webhook_params(cfg, &wh);
	if (wh.url[0])
		a->httpc = httpc_new(loop);
	int r = alerts_new(cfg->audit_alert_rules, &wh, loop, a->httpc, &a->alerts, err);
	if (r < 0) {
		httpc_free(a->httpc);
		free(a);
		return r;
	}
	if (cfg->audit_store_enabled) {
		struct auditdb_params p = {
		    .path = a->db_path,
		    .key_path = a->key_path,
		    .retention_ms = cfg->audit_retention_days * 86400000LL,
		    .queue_max = (unsigned)cfg->audit_queue_max,
		    .prune_batch = (unsigned)cfg->audit_prune_batch,
		    .max_db_bytes = cfg->audit_max_db_mb << 20,
		    .max_detail_bytes = (size_t)cfg->audit_max_detail_bytes,
		};
		if (mirror_wanted(cfg)) {
			p.mirror_chunk = (unsigned)cfg->audit_mirror_chunk_events;
			p.mirror_chunk_bytes = (size_t)cfg->audit_mirror_chunk_bytes;
			p.mirror_interval_ms = cfg->audit_mirror_interval_ms;
			p.mirror_max_lag = (uint64_t)cfg->audit_mirror_max_lag;
		}
		struct ab_err serr = {0};
		if (auditdb_open(&p, &a->db, &serr) < 0) {
			snprintf(a->db_error, sizeof(a->db_error), "%s", serr.msg);
			ab_error("audit store: %s", serr.msg);
		} else {
			a->efd_watch = ab_loop_watch(loop, auditdb_eventfd(a->db), AB_LOOP_READ,
			                             store_progress, a);
			if (p.mirror_chunk)
				a->mirror =
				    mirror_new(loop, a->db, cfg->audit_retention_days * 86400);
			ab_info("audit store: %s (retention %lld days)", a->db_path,
			        cfg->audit_retention_days);
		}
	}
	if (audit_add_sink(sink, a) < 0) {
		auditsvc_free(a);
		return ab_err_set(err, ENOSPC, "audit: no room for another sink");
	}
	a->sink_added = true;
	audit_set_admin_gate(admin_gate, a);
	if (!a->db && cfg->audit_store_enabled)
		audit_log("audit.store", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{ssss}", "reason", "the audit store is not available", "error",
		                    a->db_error));
	static const struct server_route_def routes[] = {
	    {"GET", "/api/admin/audit", route_query},
	    {"POST", "/api/admin/audit/query", route_query_post},
	    {"GET", "/api/admin/audit/tail", route_tail},
	    {"GET", "/api/admin/audit/status", route_status},
	    {"GET", "/api/admin/audit/report", route_report},
	};
	if (SERVER_ROUTES_ADD(srv, routes, a) < 0)
		ab_warn("audit: cannot add the /api/admin/audit routes");
	server_add_health(srv, health, a);
	a->keepalive = ab_loop_timer(loop, KEEPALIVE_MS, keepalive, a);
	/* what changed in the configuration since the last start (admin.settings) */
	_cleanup_free_ char *state = ab_xasprintf("%.4000s/audit/settings.json", cfg->data_dir);
	struct ab_err derr = {0};
	_cleanup_free_ char *dir = ab_xasprintf("%.4000s/audit", cfg->data_dir);
	if (ab_mkdir_p(dir, 0700, &derr) < 0)
		ab_warn("audit settings: %s", derr.msg);
	json_t *config = ab_config_to_json(broker_config_fields, cfg);
	settings_audit(config, state);
	json_decref(config);
	*ret = a;
	return 0;
}

void
auditsvc_free(struct auditsvc *a)
{
	if (!a)
		return;
	if (a->sink_added) {
		audit_remove_sink(sink, a);
		audit_set_admin_gate(NULL, NULL);
	}
	/* tails end with their connections (server_close runs before this) */
	for (struct tail *t = a->tails; t; t = t->next)
		t->h = NULL;
	ab_loop_timer_cancel(a->loop, a->keepalive);
	ab_loop_unwatch(a->loop, a->efd_watch);
	mirror_free(a->mirror);
	alerts_free(a->alerts);
	httpc_free(a->httpc);
	auditdb_reader_close(a->reader);
	auditdb_close(a->db);
	free(a);
}
