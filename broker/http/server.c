/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * server: libwebsockets context, HTTP routing, static files and the
 * websocket endpoint (see server.h).
 *
 * One protocol, named "binary" and first in the list, handles HTTP and the
 * websocket: with no Sec-WebSocket-Protocol lws binds it by default, with
 * "binary" by name; anything else has no match and is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "broker_config.h"
#include "loop_lws.h"
#include "server.h"

#define SERVER_MAX_ROUTES        64
#define SERVER_MAX_BODY          (1u << 20)
#define SERVER_MAX_HEALTH        8
#define SERVER_MAX_BODY_HANDLERS 8
#define SERVER_FD_SLICE          (64u << 10)
#define SERVER_SENDFILE_SLICE    (1u << 20) /* at most this per sendfile (it may send less) */
#define SERVER_SENDFILE_BURST    (8u << 20) /* at most this per writable callback */
/*
 * lws reads a connection's bytes into its per-thread service buffer, 4 KiB by default: a
 * streamed request body (an upload) then arrived 4 KiB per recv, one body callback and one
 * pwrite each, which capped uploads at half of cp's speed (one FUSE round trip per 4 KiB on
 * an SMB home). One buffer per service thread, not per connection.
 */
#define SERVER_SERV_BUF (256u << 10)
/*
 * lws guards an HTTP transaction with a timeout of a few seconds that writing does not
 * renew, so a long response (a slow client, a big file or tar) was cut mid-body: each piece
 * sent renews it, and only a client that takes nothing for this long is dropped.
 */
#define SERVER_SEND_TIMEOUT_S 60
#define NOVNC_PREFIX          "/vendor/novnc/"
#define NOVNC_DIR             "node_modules/@novnc/novnc/"

struct route {
	char *method;
	char *path;
	bool prefix;
	http_handler_fn fn;
	void *data;
};

struct server {
	const struct broker_config *cfg;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct ab_loop *loop;
	/* the websocket endpoint's handler (server_set_ws_handler) */
	const struct server_ws_ops *ws;
	void *ws_data;
	/* /healthz figures (server_add_health) */
	struct {
		server_health_fn fn;
		void *data;
	} health[SERVER_MAX_HEALTH];
	unsigned nhealth;
	struct route routes[SERVER_MAX_ROUTES];
	unsigned nroutes;
	/* streamed request bodies (server_body_handler_add) */
	struct {
		char *method, *path;
		bool prefix;
		const struct server_body_ops *ops;
		void *data;
	} body_handlers[SERVER_MAX_BODY_HANDLERS];
	unsigned nbody_handlers;
	http_authorize_fn authorize;
	void *authorize_data;
	char web_root[PATH_MAX]; /* realpath of cfg->web_root, "" when unusable */
	lws_retry_bo_t retry;
	struct lws_protocols protocols[3];
	struct conn *ws_conns; /* open websockets */
};

struct http_stream {
	struct lws *wsi;
};

struct http_deferred {
	struct http_response *resp; /* the connection's */
	struct lws *wsi;            /* NULL until the request's dispatch returned */
	void (*cancel)(void *ctx);
	void *ctx;
	bool done;
};

struct http_deferred *
http_response_defer(struct http_response *resp, void (*cancel)(void *ctx), void *ctx)
{
	AB_ASSERT(!resp->deferred);
	struct http_deferred *d = ab_xcalloc(1, sizeof(*d));
	d->resp = resp;
	d->cancel = cancel;
	d->ctx = ctx;
	resp->deferred = d;
	return d;
}

struct http_response *
server_deferred_response(struct http_deferred *d)
{
	return d->resp;
}

void
server_deferred_done(struct http_deferred *d)
{
	d->done = true;
	if (d->wsi)
		lws_callback_on_writable(d->wsi);
}

/* The client left before the answer: the handler forgets it. */
static void
deferred_drop(struct http_response *resp)
{
	struct http_deferred *d = resp->deferred;
	if (!d)
		return;
	resp->deferred = NULL;
	if (!d->done && d->cancel)
		d->cancel(d->ctx);
	free(d);
}

void
server_body_resume(struct lws *wsi)
{
	lws_rx_flow_control(wsi, 1);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_SEND_TIMEOUT_S);
}

void
server_stream_wake(struct http_stream *h)
{
	if (h && h->wsi)
		lws_callback_on_writable(h->wsi);
}

/* Per-connection state of the "binary" protocol (HTTP, then maybe websocket). */
struct conn {
	/* HTTP */
	char method[8];
	char *path;
	char *body;
	size_t body_len;
	bool body_too_big;
	/* a streamed body (server_body_handler_add): its handler, context, who asked */
	const struct server_body_ops *bops;
	void *bctx;
	char buser[64], brole[16];
	bool answered; /* respond() ran for this request */
	/* a POST/PUT/PATCH without Content-Length or Transfer-Encoding: its connection closes
	 * after the answer (lws would otherwise wait out its timeout for a body, 5 s or more,
	 * before it honours "Connection: close" or reads the next request) */
	bool close_after;
	struct http_response resp;
	size_t sent;
	struct http_stream stream_handle; /* a streamed response's wake handle */
	/* websocket */
	char user[64]; /* whose desktop */
	char peer[64];
	bool view_only;
	void *ws; /* the handler's connection */
	/* the authorize hook's tag (server_ws_close_tagged), and the list of open websockets */
	char tag[48];
	struct lws *wsi;
	struct conn *ws_next;
};

/* ---- requests and responses ---- */

static const struct {
	const char *name;
	enum lws_token_indexes tok;
} known_headers[] = {
    {"host", WSI_TOKEN_HOST},
    {"origin", WSI_TOKEN_ORIGIN},
    {"cookie", WSI_TOKEN_HTTP_COOKIE},
    {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
    {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
    {"content-type", WSI_TOKEN_HTTP_CONTENT_TYPE},
    {"content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH},
    {"if-none-match", WSI_TOKEN_HTTP_IF_NONE_MATCH},
    {"x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR},
    {"referer", WSI_TOKEN_HTTP_REFERER},
    {"accept", WSI_TOKEN_HTTP_ACCEPT},
    {"range", WSI_TOKEN_HTTP_RANGE},
    {"sec-websocket-protocol", WSI_TOKEN_PROTOCOL},
};

static const char *
hdr_copy(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t len)
{
	if (lws_hdr_total_length(wsi, tok) <= 0)
		return NULL;
	if (lws_hdr_copy(wsi, buf, (int)len, tok) < 0)
		return NULL;
	return buf;
}

const char *
http_request_header(const struct http_request *req, const char *name, char *buf, size_t len)
{
	if (!req->wsi) /* server_dispatch_local's requests have no headers */
		return NULL;
	for (size_t i = 0; i < AB_ARRAY_SIZE(known_headers); i++)
		if (strcasecmp(name, known_headers[i].name) == 0)
			return hdr_copy(req->wsi, known_headers[i].tok, buf, len);
#if defined(LWS_WITH_CUSTOM_HEADERS)
	/* lws keeps custom header names as sent: try lower case, then Title-Case. */
	char n[128];
	size_t nl = strlen(name);
	if (nl + 2 > sizeof(n))
		return NULL;
	for (int form = 0; form < 2; form++) {
		for (size_t i = 0; i < nl; i++) {
			char c = name[i];
			bool up = form == 1 && (i == 0 || name[i - 1] == '-');
			n[i] = up ? (char)((c >= 'a' && c <= 'z') ? c - 32 : c)
			          : (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		}
		n[nl] = ':';
		n[nl + 1] = '\0';
		if (lws_hdr_custom_length(req->wsi, n, (int)nl + 1) > 0 &&
		    lws_hdr_custom_copy(req->wsi, buf, (int)len, n, (int)nl + 1) >= 0)
			return buf;
	}
#endif
	return NULL;
}

const char *
http_request_cookie(const struct http_request *req, const char *name, char *buf, size_t len)
{
	char all[4096];
	if (!http_request_header(req, "cookie", all, sizeof(all)))
		return NULL;
	size_t nl = strlen(name);
	char *save = NULL;
	for (char *tok = strtok_r(all, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ')
			tok++;
		if (strncmp(tok, name, nl) == 0 && tok[nl] == '=') {
			snprintf(buf, len, "%s", tok + nl + 1);
			return buf;
		}
	}
	return NULL;
}

const char *
http_request_query(const struct http_request *req, const char *name, char *buf, size_t len)
{
	char key[128];
	snprintf(key, sizeof(key), "%s=", name);
	if (!req->wsi)
		return NULL;
	return lws_get_urlarg_by_name(req->wsi, key, buf, (int)len);
}

void
http_response_set(struct http_response *resp, int status, const char *content_type,
                  const void *body, size_t len)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
	free(resp->body);
	resp->body = ab_xmalloc(len + 1);
	memcpy(resp->body, body, len);
	resp->body[len] = '\0';
	resp->body_len = len;
}

void
http_response_json(struct http_response *resp, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	AB_ASSERT(s);
	http_response_set(resp, status, "application/json", s, strlen(s));
	free(s);
}

void
http_response_error(struct http_response *resp, int status, const char *msg)
{
	http_response_json(resp, status, json_pack("{ss}", "error", msg));
}

int
http_response_add_header(struct http_response *resp, const char *name, const char *value)
{
	if (resp->nheaders >= HTTP_RESPONSE_MAX_HEADERS)
		return -ENOSPC;
	resp->header_names[resp->nheaders] = ab_xasprintf("%s:", name);
	resp->header_values[resp->nheaders] = ab_xstrdup(value);
	resp->nheaders++;
	return 0;
}

void
http_response_fd(struct http_response *resp, int status, const char *content_type, int fd,
                 unsigned long long offset, unsigned long long len)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
	if (resp->fd_set)
		close(resp->fd);
	resp->fd_set = true;
	resp->fd = fd;
	resp->fd_offset = offset;
	resp->fd_len = len;
}

void
http_response_stream(struct http_response *resp, int status, const char *content_type,
                     const struct http_stream_ops *ops, void *ctx)
{
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->stream = ops;
	resp->stream_ctx = ctx;
}

void
http_response_clear(struct http_response *resp)
{
	deferred_drop(resp);
	if (resp->stream && resp->stream->close)
		resp->stream->close(resp->stream_ctx);
	free(resp->body);
	free(resp->file);
	if (resp->fd_set)
		close(resp->fd);
	for (unsigned i = 0; i < resp->nheaders; i++) {
		free(resp->header_names[i]);
		free(resp->header_values[i]);
	}
	*resp = (struct http_response){0};
}

static void
conn_http_reset(struct conn *c)
{
	if (c->bops && c->bctx)
		c->bops->release(c->bctx);
	c->bops = NULL;
	c->bctx = NULL;
	http_response_clear(&c->resp);
	free(c->path);
	free(c->body);
	c->path = NULL;
	c->body = NULL;
	c->body_len = 0;
	c->body_too_big = false;
	c->close_after = false;
	c->sent = 0;
	c->answered = false;
	c->stream_handle.wsi = NULL;
	c->method[0] = '\0';
}

/* ---- static files ---- */

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".otf", "font/otf"},
    {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},
    {".webmanifest", "application/manifest+json"},
};

const char *
server_mime_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	if (dot)
		for (size_t i = 0; i < AB_ARRAY_SIZE(mime_types); i++)
			if (strcasecmp(dot, mime_types[i].ext) == 0)
				return mime_types[i].type;
	return "application/octet-stream";
}

int
server_path_check(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/' || memchr(path, '\0', len) || memchr(path, '\\', len))
		return -EACCES;
	/* Every segment but a trailing empty one must be a plain name. */
	const char *p = path + 1, *end = path + len;
	while (p < end) {
		const char *q = memchr(p, '/', (size_t)(end - p));
		size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
		if (n == 0 && q)
			return -EACCES; /* "//" */
		if (n > 0 && p[0] == '.')
			return -EACCES; /* ".", "..", dotfiles */
		if (!q)
			break;
		p = q + 1;
	}
	return 0;
}

/* Fills resp to serve `path` (a checked request path) from the web root, or a 404. */
static void
static_file(struct server *s, struct http_request *req, struct http_response *resp)
{
	if (!s->web_root[0]) {
		http_response_error(resp, 404, "not found");
		return;
	}
	const char *rel = req->path + 1;
	_cleanup_free_ char *mapped = NULL;
	if (strncmp(req->path, NOVNC_PREFIX, strlen(NOVNC_PREFIX)) == 0) {
		mapped = ab_xasprintf(NOVNC_DIR "%s", req->path + strlen(NOVNC_PREFIX));
		rel = mapped;
	}
	size_t rl = strlen(rel);
	_cleanup_free_ char *full = ab_xasprintf(
	    "%s/%s%s", s->web_root, rel, (rl == 0 || rel[rl - 1] == '/') ? "index.html" : "");
	char real[PATH_MAX];
	struct stat st;
	size_t root_len = strlen(s->web_root);
	if (!realpath(full, real) || strncmp(real, s->web_root, root_len) != 0 ||
	    real[root_len] != '/' || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		http_response_error(resp, 404, "not found");
		return;
	}
	char etag[64], inm[128];
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
	             (unsigned long long)st.st_mtim.tv_nsec);
	http_response_add_header(resp, "ETag", etag);
	const char *type = server_mime_type(real);
	bool html = strncmp(type, "text/html", 9) == 0;
	http_response_add_header(resp, "Cache-Control",
	                         html ? "no-cache"
	                              : (mapped ? "public, max-age=86400" : "public, max-age=300"));
	if (http_request_header(req, "if-none-match", inm, sizeof(inm)) && strcmp(inm, etag) == 0) {
		http_response_set(resp, 304, type, "", 0);
		return;
	}
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", type);
	resp->file = ab_xstrdup(real);
}

/* ---- dispatch ---- */

static int
default_authorize(struct http_request *req, struct http_response *deny, void *data)
{
	snprintf(req->user, sizeof(req->user), "local");
	snprintf(req->role, sizeof(req->role), "admin");
	/* admin actions fail closed when the audit cannot record them (audit.h) */
	char why[256];
	if (strncmp(req->path, "/api/admin/", 11) == 0 && strcmp(req->method, "GET") != 0 &&
	    !audit_admin_allowed(why, sizeof(why))) {
		audit_log("authz", AUDIT_DENY, req->user, req->role, req->peer,
		          json_pack("{ssss}", "endpoint", "admin.write", "reason", why));
		http_response_error(deny, 403, why);
		return -EACCES;
	}
	return 0;
}

static int
healthz(struct http_request *req, struct http_response *resp, void *data)
{
	struct server *s = data;
	if (!s->nhealth) {
		http_response_error(resp, 503, "starting");
		return 0;
	}
	json_t *out = json_pack("{ss}", "status", "ok");
	for (unsigned i = 0; i < s->nhealth; i++)
		s->health[i].fn(out, s->health[i].data);
	http_response_json(resp, 200, out);
	return 0;
}

/* Runs the first route that matches req (a 500 when it fails); false when none matched. */
static bool
route_run(struct server *s, struct http_request *req, struct http_response *resp)
{
	for (unsigned i = 0; i < s->nroutes; i++) {
		struct route *r = &s->routes[i];
		if (r->method && strcmp(r->method, req->method) != 0)
			continue;
		if (r->prefix ? strncmp(req->path, r->path, strlen(r->path)) != 0
		              : strcmp(req->path, r->path) != 0)
			continue;
		if (r->fn(req, resp, r->data) < 0 || (!resp->status && !resp->deferred)) {
			http_response_clear(resp);
			http_response_error(resp, 500, "internal error");
		}
		return true;
	}
	return false;
}

static void
dispatch(struct server *s, struct http_request *req, struct http_response *resp)
{
	if (server_path_check(req->path, strlen(req->path)) < 0 && strcmp(req->path, "/") != 0) {
		http_response_error(resp, 400, "bad path");
		return;
	}
	if (s->authorize(req, resp, s->authorize_data) < 0) {
		if (!resp->status)
			http_response_error(resp, 403, "forbidden");
		return;
	}
	if (route_run(s, req, resp))
		return;
	if (strcmp(req->method, "GET") != 0) {
		http_response_error(resp, 405, "method not allowed");
		http_response_add_header(resp, "Allow", "GET");
		return;
	}
	static_file(s, req, resp);
}

int
server_dispatch_local(struct server *s, struct http_request *req, struct http_response *resp)
{
	AB_ASSERT(!req->wsi && !req->websocket);
	if (server_path_check(req->path, strlen(req->path)) < 0) {
		http_response_error(resp, 400, "bad path");
		return 0;
	}
	if (!route_run(s, req, resp)) {
		http_response_error(resp, 404, "not found");
		return -ENOENT;
	}
	if (resp->stream || resp->fd_set || resp->file || resp->deferred) {
		http_response_clear(resp);
		http_response_error(resp, 501, "a streamed answer: use the HTTP API");
	}
	return 0;
}

static const struct {
	const char *name;
	enum lws_token_indexes tok;
} methods[] = {
    {"GET", WSI_TOKEN_GET_URI},       {"POST", WSI_TOKEN_POST_URI},
    {"PUT", WSI_TOKEN_PUT_URI},       {"PATCH", WSI_TOKEN_PATCH_URI},
    {"DELETE", WSI_TOKEN_DELETE_URI}, {"OPTIONS", WSI_TOKEN_OPTIONS_URI},
    {"HEAD", WSI_TOKEN_HEAD_URI},
};

/* Writes the response headers, then the body from the writable callback. Returns -1 to close. */
/* The end of an answer: lws's transaction completion, or the close a bodiless POST needs. */
static int
transaction_done(struct lws *wsi, const struct conn *c)
{
	if (c && c->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
respond(struct server *s, struct lws *wsi, struct conn *c)
{
	struct http_response *resp = &c->resp;
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start,
	                                   *end = buf + sizeof(buf) - 1;
	bool ok = true;
	c->answered = true;
	for (unsigned i = 0; ok && i < resp->nheaders; i++)
		ok = !lws_add_http_header_by_name(wsi, (unsigned char *)resp->header_names[i],
		                                  (unsigned char *)resp->header_values[i],
		                                  (int)strlen(resp->header_values[i]), &p, end);
	static const char *const sec[][2] = {
	    {"X-Content-Type-Options:", "nosniff"},
	    {"Referrer-Policy:", "no-referrer"},
	    {"X-Frame-Options:", "DENY"},
	};
	for (size_t i = 0; ok && i < AB_ARRAY_SIZE(sec); i++)
		ok = !lws_add_http_header_by_name(wsi, (const unsigned char *)sec[i][0],
		                                  (const unsigned char *)sec[i][1],
		                                  (int)strlen(sec[i][1]), &p, end);
	if (!ok)
		return -1;
	if (resp->file) {
		int n = lws_serve_http_file(wsi, resp->file, resp->content_type, (char *)start,
		                            (int)(p - start));
		if (n < 0 || (n > 0 && transaction_done(wsi, c) < 0))
			return -1;
		return 0;
	}
	unsigned char hb[LWS_PRE + 4096], *hs = hb + LWS_PRE, *hp = hs, *he = hb + sizeof(hb) - 1;
	unsigned long long len = resp->fd_set ? resp->fd_len : resp->body_len;
	if (lws_add_http_common_headers(wsi, (unsigned)resp->status, resp->content_type,
	                                resp->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : len, &hp, he))
		return -1;
	if ((size_t)(he - hp) < (size_t)(p - start))
		return -1;
	memcpy(hp, start, (size_t)(p - start));
	hp += p - start;
	if (lws_finalize_write_http_header(wsi, hs, &hp, he))
		return -1;
	if (resp->stream) {
		if (strcmp(c->method, "HEAD") == 0)
			return transaction_done(wsi, c);
		c->stream_handle.wsi = wsi;
		if (resp->stream->start)
			resp->stream->start(resp->stream_ctx, &c->stream_handle);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (len == 0 || strcmp(c->method, "HEAD") == 0)
		return transaction_done(wsi, c);
	/*
	 * lws's transaction timeout counts from the request: a handler that took long (a big
	 * folder listed over SMB) left the body to a connection already timed out, and the
	 * client got the headers and a hang-up. Each piece sent renews it from here.
	 */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_SEND_TIMEOUT_S);
	lws_callback_on_writable(wsi);
	return 0;
}

static int
http_request_begin(struct server *s, struct lws *wsi, struct conn *c, const char *uri)
{
	conn_http_reset(c);
	for (size_t i = 0; i < AB_ARRAY_SIZE(methods); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
			snprintf(c->method, sizeof(c->method), "%s", methods[i].name);
			break;
		}
	c->path = ab_xstrdup(uri);
	return 0;
}

/* Fills req from the connection; peer and query are the caller's buffers. */
static void
http_request_fill(struct lws *wsi, struct conn *c, struct http_request *req, char *peer,
                  size_t peer_len, char *query, size_t query_size)
{
	lws_get_peer_simple(wsi, peer, (int)peer_len);
	/* The decoded query fragments, joined by '&'. */
	size_t ql = 0;
	for (int i = 0; ql + 2 < query_size; i++) {
		int n =
		    lws_hdr_copy_fragment(wsi, query + ql + (ql ? 1 : 0),
		                          (int)(query_size - ql - 1), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		if (ql)
			query[ql] = '&';
		ql += (size_t)n + (ql ? 1 : 0);
	}
	query[ql] = '\0';
	*req = (struct http_request){
	    .method = c->method[0] ? c->method : "GET",
	    .path = c->path,
	    .query = query,
	    .body = c->body ? c->body : "",
	    .body_len = c->body_len,
	    .peer = peer,
	    .wsi = wsi,
	};
}

/* Sends the answer; a deferred one that is done is an ordinary answer from here on. */
static int
deferred_respond(struct server *s, struct lws *wsi, struct conn *c, const char *peer,
                 const struct http_request *req)
{
	if (c->resp.deferred) {
		free(c->resp.deferred);
		c->resp.deferred = NULL;
		if (!c->resp.status)
			http_response_error(&c->resp, 500, "internal error");
	}
	if (req)
		ab_debug("%s %s %s -> %d", peer, req->method, req->path, c->resp.status);
	return respond(s, wsi, c);
}

static int
http_request_run(struct server *s, struct lws *wsi, struct conn *c)
{
	char peer[64] = "", query[2048] = "";
	struct http_request req;
	http_request_fill(wsi, c, &req, peer, sizeof(peer), query, sizeof(query));
	if (c->bops) {
		/* a streamed body is over: its handler answers (unless it refused earlier) */
		lws_rx_flow_control(wsi, 1); /* the handler may have paused it on the last piece */
		snprintf(req.user, sizeof(req.user), "%s", c->buser);
		snprintf(req.role, sizeof(req.role), "%s", c->brole);
		if (c->bctx && !c->resp.status)
			c->bops->end(c->bctx, &req, &c->resp);
		if (c->bctx)
			c->bops->release(c->bctx);
		c->bctx = NULL;
		c->bops = NULL;
		struct http_deferred *d = c->resp.deferred;
		if (d && !d->done) {
			/* the handler answers later (server_deferred_done) */
			d->wsi = wsi;
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_DEFER_TIMEOUT_S);
			ab_debug("%s %s %s -> deferred (streamed)", peer, req.method, req.path);
			return 0;
		}
		if (d) {
			free(d);
			c->resp.deferred = NULL;
		}
		if (!c->resp.status)
			http_response_error(&c->resp, 500, "internal error");
		ab_debug("%s %s %s -> %d (streamed)", peer, req.method, req.path, c->resp.status);
		return respond(s, wsi, c);
	}
	if (c->body_too_big)
		http_response_error(&c->resp, 413, "request body too large");
	else
		dispatch(s, &req, &c->resp);
	struct http_deferred *d = c->resp.deferred;
	if (d && !d->done) {
		/* answered later, from the writable callback (server_deferred_done) */
		d->wsi = wsi;
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_DEFER_TIMEOUT_S);
		ab_debug("%s %s %s -> deferred", peer, req.method, req.path);
		return 0;
	}
	return deferred_respond(s, wsi, c, peer, &req);
}

/*
 * A request with a body to a body handler's route: checked and authorized now, from its
 * headers, then handed to the handler (server_body_handler_add). Returns true when it is
 * streamed (c->bops set).
 */
static bool
body_stream_begin(struct server *s, struct lws *wsi, struct conn *c)
{
	unsigned i;
	for (i = 0; i < s->nbody_handlers; i++) {
		size_t n = strlen(s->body_handlers[i].path);
		if (strcmp(s->body_handlers[i].method, c->method) == 0 &&
		    (s->body_handlers[i].prefix ? strncmp(c->path, s->body_handlers[i].path, n) == 0
		                                : strcmp(c->path, s->body_handlers[i].path) == 0))
			break;
	}
	if (i == s->nbody_handlers)
		return false;
	char peer[64] = "", query[2048] = "";
	struct http_request req;
	http_request_fill(wsi, c, &req, peer, sizeof(peer), query, sizeof(query));
	c->bops = s->body_handlers[i].ops;
	if (server_path_check(req.path, strlen(req.path)) < 0) {
		http_response_error(&c->resp, 400, "bad path");
		return true;
	}
	if (s->authorize(&req, &c->resp, s->authorize_data) < 0) {
		if (!c->resp.status)
			http_response_error(&c->resp, 403, "forbidden");
		return true;
	}
	snprintf(c->buser, sizeof(c->buser), "%s", req.user);
	snprintf(c->brole, sizeof(c->brole), "%s", req.role);
	c->bctx = c->bops->begin(&req, &c->resp, s->body_handlers[i].data);
	if (!c->bctx && !c->resp.status)
		http_response_error(&c->resp, 500, "internal error");
	return true;
}

/* ---- websocket upgrade ---- */

/* true when Origin is absent or names the same host:port as Host. */
static bool
origin_ok(struct lws *wsi)
{
	char origin[256], host[256];
	if (!hdr_copy(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)))
		return true;
	if (!hdr_copy(wsi, WSI_TOKEN_HOST, host, sizeof(host)))
		return false;
	const char *o = strstr(origin, "://");
	o = o ? o + 3 : origin;
	return strcasecmp(o, host) == 0;
}

/* true when the client asked for no subprotocol or lists "binary". */
static bool
subprotocol_ok(struct lws *wsi)
{
	char prot[256];
	if (!hdr_copy(wsi, WSI_TOKEN_PROTOCOL, prot, sizeof(prot)))
		return true;
	char *save = NULL;
	for (char *t = strtok_r(prot, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, "binary") == 0)
			return true;
	return false;
}

/*
 * The size of a request's headers as lws keeps them: every known header's name and value,
 * plus the custom ones that carry tokens (Cf-Access-Jwt-Assertion). Other custom headers
 * are not counted; lws's own buffer (4 x listen.max_header_bytes) bounds them, and a request
 * beyond that is closed by lws (logged "Ran out of header data space").
 */
static size_t
header_bytes(struct lws *wsi)
{
	size_t n = 0;
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		if (len > 0) {
			const unsigned char *name = lws_token_to_string((enum lws_token_indexes)t);
			n += (size_t)len + (name ? strlen((const char *)name) : 0) + 3;
		}
	}
#if defined(LWS_WITH_CUSTOM_HEADERS)
	static const char *const custom[] = {"cf-access-jwt-assertion:",
	                                     "Cf-Access-Jwt-Assertion:"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(custom); i++) {
		int len = lws_hdr_custom_length(wsi, custom[i], (int)strlen(custom[i]));
		if (len > 0)
			n += (size_t)len + strlen(custom[i]) + 3;
	}
#endif
	return n;
}

/* True (and audited "http.headers", logged) when the request's headers are over the limit. */
static bool
headers_too_large(struct server *s, struct lws *wsi, const char *path)
{
	size_t n = header_bytes(wsi);
	if (n <= (size_t)s->cfg->listen_max_header_bytes)
		return false;
	char peer[64] = "";
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	ab_warn("request from %s to '%.200s' refused (431): %zu bytes of headers, more than %lld",
	        peer, path, n, s->cfg->listen_max_header_bytes);
	audit_log("http.headers", AUDIT_DENY, NULL, NULL, peer,
	          json_pack("{sssssIsI}", "reason", "request headers too large", "path", path,
	                    "bytes", (json_int_t)n, "limit",
	                    (json_int_t)s->cfg->listen_max_header_bytes));
	return true;
}

#define HEADERS_TOO_LARGE "request headers too large"

/*
 * Answers a refused upgrade with `resp` (status, headers, JSON body) before lws hangs up:
 * the client sees 401/403/404 instead of a reset connection. Best effort: the caller
 * closes the connection either way.
 */
static void
ws_refuse(struct lws *wsi, const struct http_response *resp)
{
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start,
	                                   *end = buf + sizeof(buf) - 1;
	if (lws_add_http_common_headers(wsi, (unsigned)resp->status, "application/json",
	                                resp->body_len, &p, end))
		return;
	for (unsigned i = 0; i < resp->nheaders; i++)
		if (lws_add_http_header_by_name(wsi, (unsigned char *)resp->header_names[i],
		                                (unsigned char *)resp->header_values[i],
		                                (int)strlen(resp->header_values[i]), &p, end))
			return;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
	                                (const unsigned char *)"close", 5, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return;
	if (resp->body_len > (size_t)(end - p))
		return;
	memcpy(p, resp->body, resp->body_len);
	p += resp->body_len;
	lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
}

/* The message of an {"error": "..."} body, or `fallback`. */
static const char *
deny_message(const struct http_response *r, char *buf, size_t size, const char *fallback)
{
	json_t *o = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(o, "error"));
	snprintf(buf, size, "%s", m ? m : fallback);
	json_decref(o);
	return buf;
}

/* Logs, audits ("desktop.connect" deny) and answers one refused upgrade. */
/* A websocket path as logs and audit lines show it: a share link's token is a secret. */
static const char *
ws_log_path(const char *uri)
{
	return strncmp(uri, "/ws/share/", 10) == 0 ? "/ws/share/(token)" : uri;
}

static void
ws_deny(struct lws *wsi, const char *peer, const char *uri, const char *user, const char *role,
        const char *why, const struct http_response *deny)
{
	uri = ws_log_path(uri);
	ab_warn("websocket from %s to '%s' refused (%d): %s", peer, uri, deny->status, why);
	audit_log("desktop.connect", AUDIT_DENY, user && user[0] ? user : NULL,
	          role && role[0] ? role : NULL, peer,
	          json_pack("{sssssi}", "reason", why, "path", uri, "status", deny->status));
	ws_refuse(wsi, deny);
}

/*
 * lws refuses a subprotocol it does not serve before the filter runs, with no answer:
 * this runs first (headers only, no authorization) so that refusal is answered and
 * audited like the others.
 */
static int
ws_confirm_upgrade(struct server *s, struct lws *wsi)
{
	char uri[256] = "", peer[64] = "";
	hdr_copy(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
	struct http_response deny = {0};
	if (headers_too_large(s, wsi, uri)) {
		http_response_error(&deny, 431, HEADERS_TOO_LARGE);
		ws_refuse(wsi, &deny);
		http_response_clear(&deny);
		return -1;
	}
	if (subprotocol_ok(wsi))
		return 0;
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	const char *why = "subprotocol refused (only none or 'binary')";
	http_response_error(&deny, 403, why);
	ws_deny(wsi, peer, uri, NULL, NULL, why, &deny);
	http_response_clear(&deny);
	return -1;
}

/*
 * Decides a websocket upgrade. Every refusal is answered with an HTTP status (404 no
 * endpoint, 403 subprotocol or origin, else the authorization hook's 401/403/404/429/503)
 * and audited as a "desktop.connect" deny line with the reason, the path and the status.
 */
static int
ws_filter(struct server *s, struct lws *wsi, struct conn *c)
{
	char uri[256] = "";
	hdr_copy(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	const char *why = NULL;
	char msg[256];
	struct http_response deny = {0};
	if (strcmp(uri, "/websockify") != 0 && strcmp(uri, "/ws") != 0 &&
	    strcmp(uri, "/ws/desktop") != 0 && strncmp(uri, "/ws/desktop/", 12) != 0 &&
	    strcmp(uri, "/ws/preview") != 0 && strncmp(uri, "/ws/share/", 10) != 0) {
		why = "no websocket endpoint at this path";
		http_response_error(&deny, 404, why);
	} else if (!subprotocol_ok(wsi)) {
		why = "subprotocol refused (only none or 'binary')";
		http_response_error(&deny, 403, why);
	} else if (!origin_ok(wsi)) {
		why = "cross-origin websocket refused";
		http_response_error(&deny, 403, why);
	}
	struct http_request req = {
	    .method = "GET",
	    .path = uri,
	    .query = "",
	    .body = "",
	    .peer = c->peer,
	    .websocket = true,
	    .wsi = wsi,
	};
	if (!why && s->authorize(&req, &deny, s->authorize_data) < 0) {
		why = deny_message(&deny, msg, sizeof(msg), "not authorized");
		if (deny.status < 400)
			http_response_error(&deny, 403, why);
	}
	if (!why) {
		snprintf(c->user, sizeof(c->user), "%s", req.desktop[0] ? req.desktop : req.user);
		snprintf(c->tag, sizeof(c->tag), "%s", req.ws_tag);
		c->view_only = req.view_only;
		if (!s->ws || !s->ws->accepts(c->user)) {
			why = "no desktop user";
			http_response_error(&deny, 403, why);
		}
	}
	if (why) {
		ws_deny(wsi, c->peer, uri, req.user, req.role, why, &deny);
		http_response_clear(&deny);
		return -1;
	}
	http_response_clear(&deny);
	audit_log("desktop.connect", AUDIT_GRANT, req.user, req.role[0] ? req.role : NULL, c->peer,
	          json_pack("{sssssb}", "path", ws_log_path(uri), "desktop", c->user, "view_only",
	                    c->view_only));
	return 0;
}

/*
 * Sends the n bytes at buf + LWS_PRE as the next piece of c's response body, the final one when
 * `last`, and frees buf. Returns what the writeable callback returns: -1 closes the connection.
 */
static int
conn_write_piece(struct lws *wsi, struct conn *c, unsigned char *buf, size_t n, bool last)
{
	int w = lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
	free(buf);
	if (w < (int)n)
		return -1;
	c->sent += n;
	if (!last) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_SEND_TIMEOUT_S);
		lws_callback_on_writable(wsi);
		return 0;
	}
	return transaction_done(wsi, c);
}

/*
 * Sends the next piece of an fd response with sendfile(2) straight to the connection's
 * socket (plain HTTP, nothing of lws's own waiting to go out): the page cache's pages go to
 * the socket without passing through the broker, where pread + lws_write copied every byte
 * twice (a download ran at a fifth of cat's speed). The last piece ends the response
 * through lws (an empty final write). Returns what the writeable callback returns.
 */
static int
conn_sendfile(struct lws *wsi, struct conn *c, struct http_response *r)
{
	/*
	 * As much as the socket takes now, up to SERVER_SENDFILE_BURST per wake-up (then the
	 * other connections get their turn): one sendfile per slice and one poll round per
	 * burst, instead of a poll round per slice.
	 */
	size_t burst = 0;
	while (c->sent < r->fd_len && burst < SERVER_SENDFILE_BURST) {
		size_t n =
		    (size_t)AB_MIN(r->fd_len - c->sent, (unsigned long long)SERVER_SENDFILE_SLICE);
		off_t off = (off_t)(r->fd_offset + c->sent);
		ssize_t got = sendfile(lws_get_socket_fd(wsi), r->fd, &off, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break; /* the socket is full: on the next writable callback */
		if (got <= 0)  /* the file shrank or broke under us, or the client left: cut it */
			return -1;
		c->sent += (size_t)got;
		burst += (size_t)got;
		if ((size_t)got < n)
			break; /* the socket took part of it: it is full now */
	}
	if (burst)
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_SEND_TIMEOUT_S);
	if (c->sent < r->fd_len) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	unsigned char fin[LWS_PRE + 1];
	if (lws_write(wsi, fin + LWS_PRE, 0, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	return transaction_done(wsi, c);
}

/* ---- the protocol callback ---- */

/*
 * Set by lws_log_emit when lws's parser runs out of header space: lws then closes the
 * connection without an answer, in the same call, and the close callback sees the flag.
 * lws runs on one thread (the broker's loop).
 */
static bool header_overflow;

/*
 * The connection lws is closing overflowed its header buffer (lws_log_emit said so): lws has
 * already shut the socket's write side, so no answer can reach the client (the limits are in
 * docs/http.md); audit the refusal like headers_too_large() does.
 */
static void
refuse_overflow(struct server *s, struct lws *wsi)
{
	char peer[64] = "";
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	size_t limit = (size_t)s->cfg->listen_max_header_bytes * 4;
	ab_warn("request from %s refused: more than %zu bytes of request line and headers "
	        "(the connection is closed without an answer)",
	        peer, limit);
	audit_log("http.headers", AUDIT_DENY, NULL, NULL, peer,
	          json_pack("{sssIss}", "reason", "request headers too large", "bytes",
	                    (json_int_t)limit, "answer", "connection closed"));
}

static int
server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct server *s = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		/* lws gives the URL-decoded path; an encoded NUL shows as a shorter string. */
		const char *uri = in;
		int total = -1;
		for (size_t i = 0; i < AB_ARRAY_SIZE(methods) && total < 0; i++)
			if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
				total = lws_hdr_total_length(wsi, methods[i].tok);
		http_request_begin(s, wsi, c, uri);
		if (total >= 0 && (size_t)total != strlen(uri)) {
			http_response_error(&c->resp, 400, "bad path");
			return respond(s, wsi, c);
		}
		if (headers_too_large(s, wsi, uri)) {
			http_response_error(&c->resp, 431, HEADERS_TOO_LARGE);
			return respond(s, wsi, c);
		}
		if (strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0 ||
		    strcmp(c->method, "PATCH") == 0) {
			if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 ||
			    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
				char cl[24];
				/* lws announces no body completion for an empty streamed PATCH */
				if (body_stream_begin(s, wsi, c) &&
				    hdr_copy(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl)) &&
				    strcmp(cl, "0") == 0)
					return http_request_run(s, wsi, c);
				return 0; /* the body follows */
			}
			c->close_after = true;
		}
		return http_request_run(s, wsi, c);
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (c->bops) {
			if (c->bctx && !c->resp.status && len) {
				int r = c->bops->chunk(c->bctx, in, len, &c->resp);
				if (r < 0 && !c->resp.status)
					http_response_error(&c->resp, 500, "internal error");
				if (r == SERVER_BODY_PAUSE) {
					/* the handler resumes us (server_body_resume) and bounds
					 * its own wait */
					lws_rx_flow_control(wsi, 0);
					lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
					                SERVER_DEFER_TIMEOUT_S);
				}
			}
			return 0;
		}
		if (c->body_too_big || c->body_len + len > SERVER_MAX_BODY) {
			c->body_too_big = true;
			return 0;
		}
		c->body = ab_xrealloc(c->body, c->body_len + len + 1);
		if (len) /* "Content-Length: 0" comes with in == NULL */
			memcpy(c->body + c->body_len, in, len);
		c->body_len += len;
		c->body[c->body_len] = '\0';
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (c->answered)
			return 0;
		return http_request_run(s, wsi, c);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		struct http_response *r = &c->resp;
		if (r->deferred) {
			if (!r->deferred->done || c->answered)
				return 0;
			lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
			return deferred_respond(s, wsi, c, NULL, NULL);
		}
		if (r->fd_set) {
			if (c->sent >= r->fd_len)
				return 0;
			if (!lws_is_ssl(wsi) && !lws_partial_buffered(wsi))
				return conn_sendfile(wsi, c, r);
			size_t n = (size_t)AB_MIN(r->fd_len - c->sent,
			                          (unsigned long long)SERVER_FD_SLICE);
			unsigned char *buf = ab_xmalloc(LWS_PRE + n);
			ssize_t got =
			    pread(r->fd, buf + LWS_PRE, n, (off_t)(r->fd_offset + c->sent));
			if (got <= 0) { /* the file shrank or broke under us: cut the response */
				free(buf);
				return -1;
			}
			n = (size_t)got;
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_SEND_TIMEOUT_S);
			return conn_write_piece(wsi, c, buf, n, c->sent + n == r->fd_len);
		}
		if (r->stream) {
			enum { CHUNK = 32 << 10 };
			unsigned char *buf = ab_xmalloc(LWS_PRE + CHUNK);
			long n = r->stream->read(r->stream_ctx, (char *)buf + LWS_PRE, CHUNK);
			int w = 0;
			if (n > 0)
				w = lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP);
			else if (n < 0)
				w = lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_HTTP_FINAL);
			free(buf);
			if (w < 0 || (n > 0 && w < (int)n))
				return -1;
			if (n > 0) {
				lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
				                SERVER_SEND_TIMEOUT_S);
				lws_callback_on_writable(wsi);
				return 0;
			}
			if (n == 0) { /* the producer waits for data: it bounds its own wait */
				lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
				return 0;
			}
			return -1; /* the end: "Connection: close" was sent */
		}
		if (!r->body || c->sent >= r->body_len)
			return 0;
		size_t n = AB_MIN(r->body_len - c->sent, (size_t)65536);
		unsigned char *buf = ab_xmalloc(LWS_PRE + n);
		memcpy(buf + LWS_PRE, r->body + c->sent, n);
		return conn_write_piece(wsi, c, buf, n, c->sent + n == r->body_len);
	}
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return transaction_done(wsi, c);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (header_overflow) {
			header_overflow = false;
			refuse_overflow(s, wsi);
		}
		if (c)
			conn_http_reset(c);
		return 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return strcasecmp(in, "websocket") == 0 ? ws_confirm_upgrade(s, wsi) : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(s, wsi, c);
	case LWS_CALLBACK_ESTABLISHED:
		if (c)
			conn_http_reset(c);
		c->ws = s->ws ? s->ws->open(wsi, s->ws_data, c->user, c->peer, c->view_only, c->tag)
		              : NULL;
		c->wsi = wsi;
		c->ws_next = s->ws_conns;
		s->ws_conns = c;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!c->ws)
			return -1;
		return s->ws->receive(c->ws, in, len, lws_frame_is_binary(wsi));
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c->ws)
			return -1;
		return s->ws->writeable(c->ws);
	case LWS_CALLBACK_CLOSED:
		if (c->ws)
			s->ws->closed(c->ws);
		c->ws = NULL;
		for (struct conn **pp = &s->ws_conns; *pp; pp = &(*pp)->ws_next) {
			if (*pp == c) {
				*pp = c->ws_next;
				break;
			}
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- lifecycle ---- */

static void
lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (strstr(line, "Ran out of header data space")) /* refuse_overflow() audits it */
		header_overflow = true;
	ab_log(level == LLL_ERR    ? AB_LOG_ERROR
	       : level == LLL_WARN ? AB_LOG_WARN
	                           : AB_LOG_DEBUG,
	       "lws: %.*s", (int)n, line);
}

int
server_new(const struct broker_config *cfg, struct server **ret, struct ab_err *err)
{
	struct server *s = ab_xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->authorize = default_authorize;
	if (cfg->web_root[0] && !realpath(cfg->web_root, s->web_root)) {
		ab_warn("web.root '%s' is unusable (%m): serving no static files", cfg->web_root);
		s->web_root[0] = '\0';
	}
	s->retry = (lws_retry_bo_t){
	    .secs_since_valid_ping = (uint16_t)cfg->proxy_ping_interval_s,
	    .secs_since_valid_hangup = (uint16_t)(cfg->proxy_ping_interval_s * 3 + 10),
	};
	s->protocols[0] = (struct lws_protocols){
	    .name = "binary",
	    .callback = server_callback,
	    .per_session_data_size = sizeof(struct conn),
	    .rx_buffer_size = (size_t)cfg->proxy_chunk_bytes,
	};
	s->protocols[1] = loop_lws_protocol;

	int lws_level = LLL_ERR | LLL_WARN;
	if (ab_log_enabled(AB_LOG_DEBUG))
		lws_level |= LLL_NOTICE;
	lws_set_log_level(lws_level, lws_log_emit);

	struct lws_context_creation_info info = {0};
	info.port = (int)cfg->listen_port;
	info.iface =
	    strcmp(cfg->listen_address, "localhost") == 0 ? "127.0.0.1" : cfg->listen_address;
	info.protocols = s->protocols;
	info.user = s;
	info.vhost_name = "argobox";
	info.retry_and_idle_policy = &s->retry;
	/* lws's header buffer: room for headers up to the limit (answered 431 beyond it) */
	info.max_http_header_data = 0;
	info.max_http_header_data2 = (unsigned)cfg->listen_max_header_bytes * 4;
	info.pt_serv_buf_size = SERVER_SERV_BUF;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (!strchr(info.iface, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->tls_cert[0]) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
	}
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		free(s);
		return ab_err_set(err, EIO, "creating the libwebsockets context failed");
	}
	s->vhost = lws_create_vhost(s->ctx, &info);
	if (!s->vhost) {
		lws_context_destroy(s->ctx);
		free(s);
		return ab_err_set(err, EADDRINUSE, "listening on %s port %lld failed",
		                  cfg->listen_address, cfg->listen_port);
	}
	s->loop = loop_lws_new(s->ctx, s->vhost);
	server_route_add(s, "GET", "/healthz", healthz, s);
	*ret = s;
	return 0;
}

struct ab_loop *
server_loop(struct server *s)
{
	return s->loop;
}

int
server_port(struct server *s)
{
	return lws_get_vhost_listen_port(s->vhost);
}

void
server_set_ws_handler(struct server *s, const struct server_ws_ops *ops, void *data)
{
	s->ws = ops;
	s->ws_data = data;
}

void
server_add_health(struct server *s, server_health_fn fn, void *data)
{
	AB_ASSERT(s->nhealth < SERVER_MAX_HEALTH);
	s->health[s->nhealth].fn = fn;
	s->health[s->nhealth].data = data;
	s->nhealth++;
}

int
server_route_add(struct server *s, const char *method, const char *path, http_handler_fn fn,
                 void *data)
{
	if (s->nroutes >= SERVER_MAX_ROUTES)
		return -ENOSPC;
	size_t n = strlen(path);
	s->routes[s->nroutes++] = (struct route){
	    .method = method ? ab_xstrdup(method) : NULL,
	    .path = ab_xstrdup(path),
	    .prefix = n > 0 && path[n - 1] == '/',
	    .fn = fn,
	    .data = data,
	};
	return 0;
}

int
server_routes_add(struct server *s, const struct server_route_def *defs, size_t n, void *data)
{
	for (size_t i = 0; i < n; i++)
		if (server_route_add(s, defs[i].method, defs[i].path, defs[i].fn, data) < 0)
			return -ENOSPC;
	return 0;
}

int
server_body_handler_add(struct server *s, const char *method, const char *path,
                        const struct server_body_ops *ops, void *data)
{
	if (s->nbody_handlers >= SERVER_MAX_BODY_HANDLERS)
		return -ENOSPC;
	size_t n = strlen(path);
	s->body_handlers[s->nbody_handlers].method = ab_xstrdup(method);
	s->body_handlers[s->nbody_handlers].path = ab_xstrdup(path);
	s->body_handlers[s->nbody_handlers].prefix = n > 0 && path[n - 1] == '/';
	s->body_handlers[s->nbody_handlers].ops = ops;
	s->body_handlers[s->nbody_handlers].data = data;
	s->nbody_handlers++;
	return 0;
}

void
server_set_authorize(struct server *s, http_authorize_fn fn, void *data)
{
	s->authorize = fn ? fn : default_authorize;
	s->authorize_data = data;
}

int
server_service(struct server *s, int timeout_ms)
{
	return lws_service(s->ctx, timeout_ms) < 0 ? -EIO : 0;
}

void
server_close(struct server *s)
{
	if (!s || !s->ctx)
		return;
	loop_lws_detach(s->loop);
	lws_context_destroy(s->ctx);
	s->ctx = NULL;
}

unsigned
server_ws_close_tagged(struct server *s, const char *tag)
{
	unsigned n = 0;
	for (struct conn *c = s->ws_conns; c && tag[0]; c = c->ws_next) {
		if (strcmp(c->tag, tag) == 0) {
			/* closed from the service loop, at once (never inside this call) */
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			n++;
		}
	}
	return n;
}

unsigned
server_ws_count_tagged(struct server *s, const char *tag)
{
	unsigned n = 0;
	for (struct conn *c = s->ws_conns; c && tag[0]; c = c->ws_next)
		n += strcmp(c->tag, tag) == 0;
	return n;
}

void
server_free(struct server *s)
{
	if (!s)
		return;
	server_close(s);
	loop_lws_free(s->loop);
	for (unsigned i = 0; i < s->nroutes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
	}
	for (unsigned i = 0; i < s->nbody_handlers; i++) {
		free(s->body_handlers[i].method);
		free(s->body_handlers[i].path);
	}
	free(s);
}
