/* SPDX-License-Identifier: GPL-2.0-or-later */
/* metrics: GET /metrics in the Prometheus text format (see metrics.h, docs/metrics.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <string.h>

#include "ab_log.h"
#include "ab_metrics.h"
#include "ab_util.h"
#include "audit.h"
#include "auditsvc.h"
#include "desktop.h"
#include "kv.h"
#include "proxy.h"
#include "server.h"
#include "services.h"
#include "metrics.h"

#define METRICS_GRANT_SLOTS    16
#define METRICS_GRANT_EVERY_MS (3600 * 1000)

struct metrics {
	struct metrics_params p;
	char *token; /* NULL: none */
	struct audit_seen granted[METRICS_GRANT_SLOTS];
};

/* A growing text buffer. */
struct text {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) text_printf(struct text *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		AB_ASSERT(n >= 0);
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = AB_MAX(t->cap * 2, t->len + (size_t)n + 1024);
		t->s = ab_xrealloc(t->s, t->cap);
	}
}

/* One sample line: name{labels} value (labels "" or NULL: none). */
static void
sample(struct text *t, const char *name, const char *labels, double v)
{
	if (labels && *labels)
		text_printf(t, "%s{%s} %.17g\n", name, labels, v);
	else
		text_printf(t, "%s %.17g\n", name, v);
}

/* ---- the state read at each scrape ---- */

static void
pull_desktops(struct metrics *m, struct text *t)
{
	if (!m->p.desktops)
		return;
	json_t *list = desktop_manager_list(m->p.desktops);
	/* (state, profile) -> count, in a JSON object keyed by the label text */
	json_t *counts = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		const char *user = json_string_value(json_object_get(d, "user"));
		const char *prof =
		    m->p.profile_of ? m->p.profile_of(m->p.profile_data, user) : NULL;
		char a[96], b[160], key[260];
		ab_metrics_label(a, sizeof(a), "state",
		                 json_string_value(json_object_get(d, "state")));
		ab_metrics_label(b, sizeof(b), "profile", prof ? prof : "none");
		snprintf(key, sizeof(key), "%s,%s", a, b);
		json_int_t n = json_integer_value(json_object_get(counts, key));
		json_object_set_new(counts, key, json_integer(n + 1));
	}
	const char *key;
	json_t *v;
	json_object_foreach(counts, key, v)
	    sample(t, "argobox_desktops", key, (double)json_integer_value(v));
	json_decref(counts);
	json_decref(list);
}

static void
pull_websocket(struct metrics *m, struct text *t, const char *name)
{
	struct proxy_stats ps;
	proxy_get_stats(&ps);
	if (strcmp(name, "argobox_websocket_clients") == 0)
		sample(t, name, NULL, (double)ps.open);
	else if (strcmp(name, "argobox_websocket_connections_total") == 0)
		sample(t, name, NULL, (double)ps.connections);
	else if (strcmp(name, "argobox_stream_bytes_total") == 0) {
		sample(t, name, "via=\"websocket\",direction=\"to_client\"",
		       (double)ps.bytes_to_browser);
		sample(t, name, "via=\"websocket\",direction=\"to_desktop\"",
		       (double)ps.bytes_to_desktop);
	}
}

static void
pull_kv(struct metrics *m, struct text *t, const char *name)
{
	if (!m->p.kv)
		return;
	struct kv_stats st;
	kv_get_stats(m->p.kv, &st);
	char b[96];
	ab_metrics_label(b, sizeof(b), "backend", kv_backend(m->p.kv));
	if (strcmp(name, "argobox_kv_queue_depth") == 0)
		sample(t, name, b, (double)st.queued);
	else if (strcmp(name, "argobox_kv_remote_retries_total") == 0)
		sample(t, name, b, (double)st.remote_retries);
}

static void
pull_audit(struct metrics *m, struct text *t, const char *name)
{
	if (!m->p.auditsvc)
		return;
	json_t *st = auditsvc_status(m->p.auditsvc);
	json_t *store = json_object_get(st, "store");
	if (strcmp(name, "argobox_audit_store_up") == 0)
		sample(t, name, NULL,
		       strcmp(json_string_value(json_object_get(store, "state")) ?: "", "ok") == 0);
	static const struct {
		const char *metric, *key;
	} keys[] = {
	    {"argobox_audit_store_queue", "queued"},
	    {"argobox_audit_store_stored_total", "stored"},
	    {"argobox_audit_store_dropped_total", "dropped"},
	};
	for (size_t k = 0; k < AB_ARRAY_SIZE(keys); k++)
		if (strcmp(name, keys[k].metric) == 0 && json_object_get(store, keys[k].key))
			sample(t, name, NULL,
			       (double)json_integer_value(json_object_get(store, keys[k].key)));
	json_decref(st);
}

static void
pull_services(struct metrics *m, struct text *t, const char *name)
{
	if (!m->p.services)
		return;
	json_t *list = services_list_json(m->p.services);
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	{
		char b[160];
		ab_metrics_label(b, sizeof(b), "service",
		                 json_string_value(json_object_get(s, "name")));
		const char *state = json_string_value(json_object_get(s, "state"));
		if (strcmp(name, "argobox_service_up") == 0)
			sample(t, name, b,
			       state &&
			           (strcmp(state, "up") == 0 || strcmp(state, "degraded") == 0));
		else if (strcmp(name, "argobox_service_check_latency_seconds") == 0 &&
		         json_object_get(s, "latency_ms"))
			sample(t, name, b,
			       json_number_value(json_object_get(s, "latency_ms")) / 1000.0);
	}
	json_decref(list);
}

/* ---- the families, in the order they are written ---- */

enum pull {
	PULL_NONE,
	PULL_DESKTOPS,
	PULL_WEBSOCKET,
	PULL_KV,
	PULL_AUDIT,
	PULL_SERVICES,
};

static const struct family {
	const char *name, *type, *help;
	enum pull pull;
} families[] = {
    {"argobox_desktops", "gauge", "Desktops by state and profile.", PULL_DESKTOPS},
    {"argobox_websocket_clients", "gauge", "Browser websockets open on desktops.", PULL_WEBSOCKET},
    {"argobox_websocket_connections_total", "counter",
     "Browser websockets opened on desktops since the broker started.", PULL_WEBSOCKET},
    {"argobox_vnc_clients", "gauge", "Native VNC clients connected through the gateway.",
     PULL_NONE},
    {"argobox_stream_bytes_total", "counter",
     "Bytes streamed between desktops and their clients, by path and direction.", PULL_WEBSOCKET},
    {"argobox_signins_total", "counter", "Sign-in attempts by method and result.", PULL_NONE},
    {"argobox_signin_lockouts_total", "counter",
     "Local sign-in lockouts started after repeated failures.", PULL_NONE},
    {"argobox_kv_op_seconds", "histogram",
     "Key-value store operations, call to completion, by operation and backend.", PULL_NONE},
    {"argobox_kv_queue_depth", "gauge",
     "Keys waiting in the persisted queue for the remote key-value store.", PULL_KV},
    {"argobox_kv_remote_retries_total", "counter",
     "Remote key-value requests answered 429/5xx or failed.", PULL_KV},
    {"argobox_audit_events_total", "counter", "Audit events logged, by outcome.", PULL_NONE},
    {"argobox_audit_store_up", "gauge", "1 when the audit store takes events.", PULL_AUDIT},
    {"argobox_audit_store_queue", "gauge", "Audit events waiting for the store's writer.",
     PULL_AUDIT},
    {"argobox_audit_store_stored_total", "counter", "Audit events written to the store.",
     PULL_AUDIT},
    {"argobox_audit_store_dropped_total", "counter",
     "Audit events the store could not take (the log file still has them).", PULL_AUDIT},
    {"argobox_service_up", "gauge", "1 when a registered service's health check passes.",
     PULL_SERVICES},
    {"argobox_service_check_latency_seconds", "gauge",
     "Latency of each service's last health check.", PULL_SERVICES},
    {"argobox_thumbnails_total", "counter", "Desktop thumbnails served, by source.", PULL_NONE},
};

struct kept {
	struct text *t;
	const char *name;
};

/* Writes the kept series of one family (common/ab_metrics.h). */
static void
kept_write(const struct ab_metric_sample *s, void *data)
{
	struct kept *k = data;
	if (strcmp(s->name, k->name) != 0)
		return;
	if (s->kind != AB_METRIC_HISTOGRAM) {
		sample(k->t, s->name, s->labels, s->value);
		return;
	}
	const char *sep = *s->labels ? "," : "";
	for (size_t b = 0; b <= AB_METRICS_BUCKETS; b++) {
		if (b < AB_METRICS_BUCKETS)
			text_printf(k->t, "%s_bucket{%s%sle=\"%.17g\"} %llu\n", s->name, s->labels,
			            sep, ab_metrics_bounds[b], (unsigned long long)s->buckets[b]);
		else
			text_printf(k->t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels,
			            sep, (unsigned long long)s->buckets[b]);
	}
	char name[128];
	snprintf(name, sizeof(name), "%s_sum", s->name);
	sample(k->t, name, s->labels, s->sum);
	snprintf(name, sizeof(name), "%s_count", s->name);
	sample(k->t, name, s->labels, (double)s->buckets[AB_METRICS_BUCKETS]);
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	struct text t = {.cap = 8192};
	t.s = ab_xmalloc(t.cap);
	t.s[0] = '\0';
	for (size_t i = 0; i < AB_ARRAY_SIZE(families); i++) {
		const struct family *f = &families[i];
		text_printf(&t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		switch (f->pull) {
		case PULL_DESKTOPS:
			pull_desktops(m, &t);
			break;
		case PULL_WEBSOCKET:
			pull_websocket(m, &t, f->name);
			break;
		case PULL_KV:
			pull_kv(m, &t, f->name);
			break;
		case PULL_AUDIT:
			pull_audit(m, &t, f->name);
			break;
		case PULL_SERVICES:
			pull_services(m, &t, f->name);
			break;
		case PULL_NONE:
			break;
		}
		struct kept k = {.t = &t, .name = f->name};
		ab_metrics_foreach(kept_write, &k);
	}
	*len = t.len;
	return t.s;
}

/* ---- who may scrape ---- */

static bool
peer_is_loopback(const char *peer)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (!peer)
		return false;
	if (inet_pton(AF_INET, peer, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, peer, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/*
 * The request came through a proxy (its header says so): not a local scraper. The buffer
 * holds any header the server accepts (listen.max_header_bytes is at most 256 KiB), so a
 * long value cannot hide one.
 */
static bool
forwarded(const struct http_request *req)
{
	static const char *const hdrs[] = {"forwarded", "x-forwarded-for", "x-real-ip",
	                                   "cf-connecting-ip", "cf-access-jwt-assertion"};
	size_t size = (256u << 10) + 1;
	_cleanup_free_ char *buf = ab_xmalloc(size);
	for (size_t i = 0; i < AB_ARRAY_SIZE(hdrs); i++)
		if (http_request_header(req, hdrs[i], buf, size))
			return true;
	return false;
}

static bool
token_ok(const struct metrics *m, const struct http_request *req)
{
	char auth[512];
	if (!m->token || !http_request_header(req, "authorization", auth, sizeof(auth)) ||
	    strncmp(auth, "Bearer ", 7) != 0)
		return false;
	size_t n = strlen(auth + 7), tn = strlen(m->token);
	return n == tn && CRYPTO_memcmp(auth + 7, m->token, n) == 0;
}

/* "admin", "token" or "loopback" when `req` may scrape, NULL otherwise (*why says why not). */
static const char *
metrics_access(const struct metrics *m, const struct http_request *req, const char **why)
{
	if (strcmp(req->role, "admin") == 0)
		return "admin";
	if (token_ok(m, req))
		return "token";
	bool lo = peer_is_loopback(req->peer);
	if (lo && !forwarded(req))
		return "loopback";
	*why = lo ? "forwarded by a proxy: sign in as an admin or use the metrics token"
	          : "not an admin, no metrics token, not from loopback";
	return NULL;
}

/* Audits a grant the first time a (via, user, peer) scrapes, then at most once an hour. */
static void
audit_grant(struct metrics *m, const struct http_request *req, const char *via)
{
	char key[128];
	snprintf(key, sizeof(key), "%s|%s|%s", via, req->user, req->peer ? req->peer : "");
	if (!audit_seen_due(m->granted, METRICS_GRANT_SLOTS, key, ab_now_ms(),
	                    METRICS_GRANT_EVERY_MS))
		return;
	audit_log("metrics.access", AUDIT_GRANT, req->user[0] ? req->user : NULL,
	          req->role[0] ? req->role : NULL, req->peer, json_pack("{ss}", "via", via));
}

static int
route_metrics(struct http_request *req, struct http_response *resp, void *data)
{
	struct metrics *m = data;
	const char *why = NULL;
	const char *via = metrics_access(m, req, &why);
	if (!via) {
		audit_log("metrics.access", AUDIT_DENY, req->user[0] ? req->user : NULL,
		          req->role[0] ? req->role : NULL, req->peer,
		          json_pack("{ss}", "reason", why));
		http_response_error(resp, 403, why);
		return 0;
	}
	audit_grant(m, req, via);
	size_t len;
	char *text = metrics_render(m, &len);
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
	         "text/plain; version=0.0.4; charset=utf-8");
	resp->body = text;
	resp->body_len = len;
	return 0;
}

int
metrics_new(struct server *srv, const struct metrics_params *p, struct metrics **ret,
            struct ab_err *err)
{
	_cleanup_free_ char *token = NULL;
	if (p->token_file && p->token_file[0]) {
		size_t len;
		if (ab_read_file(p->token_file, 4096, &token, &len, err) < 0)
			return ab_err_wrap(err, "metrics.token_file");
		while (len &&
		       (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
			token[--len] = '\0';
		if (len < 16)
			return ab_err_set(err, EINVAL,
			                  "metrics.token_file '%s': the token is shorter than 16 "
			                  "characters",
			                  p->token_file);
	}
	struct metrics *m = ab_xcalloc(1, sizeof(*m));
	m->p = *p;
	m->token = TAKE_PTR(token);
	if (srv && server_route_add(srv, "GET", "/metrics", route_metrics, m) < 0) {
		metrics_free(m);
		return ab_err_set(err, ENOMEM, "cannot add the /metrics route");
	}
	*ret = m;
	return 0;
}

void
metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->token)
		OPENSSL_cleanse(m->token, strlen(m->token));
	free(m->token);
	free(m);
}
