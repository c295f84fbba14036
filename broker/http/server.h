/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * server: the broker's libwebsockets context, its HTTP side and the
 * websocket endpoint.
 *
 * HTTP requests become a `struct http_request` and go, in order, through:
 *   1. the authorize hook (server_set_authorize; default: allow as "local",
 *      since the broker serves loopback only),
 *   2. the route table (server_route_add: exact path or prefix, per method),
 *   3. static files under web.root (GET/HEAD only; /vendor/novnc/ maps to
 *      <web.root>/node_modules/@novnc/novnc/).
 * A handler fills a `struct http_response`; the server writes it.
 *
 * Websocket upgrades are accepted on /websockify, /ws, /ws/desktop[/USER], /ws/preview and
 * /ws/share/TOKEN only, with no
 * subprotocol or "binary", from the same origin, after the authorize hook;
 * the connection is then handed to proxy.c.
 */
#ifndef BROKER_SERVER_H
#define BROKER_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"
#include "ab_loop.h"

struct lws;
struct server;
struct broker_config;

struct http_request {
	const char *method; /* "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD" */
	const char *path;   /* URL-decoded, begins with '/' */
	const char *query;  /* raw query string without '?', "" when none */
	const char *body;   /* NUL-terminated; body_len bytes (POST/PUT/PATCH) */
	size_t body_len;
	const char *peer; /* peer IP address */
	bool websocket;   /* this is a websocket upgrade */
	char user[64];    /* set by the authorize hook */
	char role[16];    /* set by the authorize hook */
	/* websocket only, set by the authorize hook: whose desktop to attach ("" = user's) */
	char desktop[64];
	bool view_only;  /* drop the client's input (an admin watching) */
	char ws_tag[48]; /* websocket only, set by the authorize hook: see server_ws_close_tagged */
	struct lws *wsi; /* for header lookups through the helpers below */
};

/* Copies the value of header `name` (case-insensitive, e.g. "cookie") into buf; NULL when absent.
 */
const char *http_request_header(const struct http_request *req, const char *name, char *buf,
                                size_t len);
/* Copies the value of cookie `name` into buf; NULL when absent. */
const char *http_request_cookie(const struct http_request *req, const char *name, char *buf,
                                size_t len);
/* Copies the URL-decoded value of query parameter `name` into buf; NULL when absent. */
const char *http_request_query(const struct http_request *req, const char *name, char *buf,
                               size_t len);

#define HTTP_RESPONSE_MAX_HEADERS 16

/*
 * A streamed body (exports, server-sent events): the response has no Content-Length and the
 * connection closes after it. `start` runs once the headers are out, with the handle to wake
 * the stream; `read` runs whenever the client can take more and fills at most `cap` bytes:
 * > 0 bytes to send, 0 for nothing now (server_stream_wake() when there is), < 0 at the end.
 * `close` runs exactly once when the response ends or the client leaves (also when the
 * response never started); the handle is invalid from then on.
 */
struct http_stream;
struct http_stream_ops {
	void (*start)(void *ctx, struct http_stream *h);
	long (*read)(void *ctx, char *buf, size_t cap);
	void (*close)(void *ctx);
};
void server_stream_wake(struct http_stream *h);

struct http_response {
	int status;
	char content_type[96];
	char *body; /* owned */
	size_t body_len;
	char *file; /* owned: serve this file instead of body */
	/* http_response_fd(): serve fd_len bytes of fd from fd_offset instead of body (owned) */
	bool fd_set;
	int fd;
	unsigned long long fd_offset, fd_len;
	unsigned nheaders;
	char *header_names[HTTP_RESPONSE_MAX_HEADERS]; /* owned */
	char *header_values[HTTP_RESPONSE_MAX_HEADERS];
	const struct http_stream_ops *stream; /* set by http_response_stream() */
	void *stream_ctx;
	struct http_deferred *deferred; /* set by http_response_defer() */
};

/* Sets status, content type and a copy of the body. */
void http_response_set(struct http_response *resp, int status, const char *content_type,
                       const void *body, size_t len);
/* Sets a JSON body (the reference is stolen). */
void http_response_json(struct http_response *resp, int status, json_t *body);
/* Sets {"error": msg} with `status`. */
void http_response_error(struct http_response *resp, int status, const char *msg);
/*
 * Serves `len` bytes of `fd` from `offset` with `status` (200, 206): read in 64 KiB slices as
 * the client drains them, so memory stays bounded. The fd is taken over (closed after).
 */
void http_response_fd(struct http_response *resp, int status, const char *content_type, int fd,
                      unsigned long long offset, unsigned long long len);
/* Streams the body from `ops` (see struct http_stream_ops); `ctx` is the handler's. */
void http_response_stream(struct http_response *resp, int status, const char *content_type,
                          const struct http_stream_ops *ops, void *ctx);
/*
 * A deferred answer, for a handler whose answer is worked out off the loop (a password hash,
 * auth_hash.h): the handler calls http_response_defer() and returns 0 with no status; later,
 * on the loop, it fills server_deferred_response(d) and calls server_deferred_done(d), which
 * sends it. When the client leaves first (or SERVER_DEFER_TIMEOUT_S passes), `cancel(ctx)`
 * runs once on the loop instead, and d must not be used after. Only for the HTTP server's
 * own connections (server_dispatch_local answers 501).
 */
#define SERVER_DEFER_TIMEOUT_S 30
struct http_deferred;
struct http_deferred *http_response_defer(struct http_response *resp, void (*cancel)(void *ctx),
                                          void *ctx);
struct http_response *server_deferred_response(struct http_deferred *d);
void server_deferred_done(struct http_deferred *d);

/* Adds a header (copied), e.g. "Set-Cookie". Returns -ENOSPC when full. */
int http_response_add_header(struct http_response *resp, const char *name, const char *value);

/* A route handler: fills resp; returns 0, or -errno for a 500. */
typedef int (*http_handler_fn)(struct http_request *req, struct http_response *resp, void *data);

/*
 * Authorize hook: 0 allows (and may set req->user/role), < 0 denies with
 * `deny` filled (401/403...). Called for every HTTP request and websocket
 * upgrade; the hook audits its own decisions.
 */
typedef int (*http_authorize_fn)(struct http_request *req, struct http_response *deny, void *data);

/* Creates the context and vhost and starts listening. *ret_loop is the broker's ab_loop. */
int server_new(const struct broker_config *cfg, struct server **ret, struct ab_err *err);
struct ab_loop *server_loop(struct server *s);
/* The TCP port actually bound (useful with listen.port 0). */
int server_port(struct server *s);

/*
 * The websocket endpoint (/ws/desktop/<user>, /websockify): after the upgrade is authorized
 * the server hands the connection to one handler, which the gateway registers. `accepts`
 * says whether `user` names a desktop at all (checked before the upgrade); `open` returns
 * the handler's connection (NULL closes); receive/writeable return < 0 to close; `closed`
 * releases the connection. Without a handler every upgrade is refused.
 */
struct lws;
struct server_ws_ops {
	bool (*accepts)(const char *user);
	/* tag: what the authorize hook tagged the upgrade with (http_request.ws_tag), or "" */
	void *(*open)(struct lws *wsi, void *data, const char *user, const char *peer,
	              bool view_only, const char *tag);
	int (*receive)(void *conn, const void *in, size_t len, bool binary);
	int (*writeable)(void *conn);
	void (*closed)(void *conn);
};
void server_set_ws_handler(struct server *s, const struct server_ws_ops *ops, void *data);
/*
 * Open websockets whose upgrade the authorize hook tagged (http_request.ws_tag, e.g. a share
 * link's "share:<id>"): close_tagged closes them from the loop right after the call (their
 * handlers' `closed` run then) and returns how many; count_tagged counts them. "" matches none.
 */
unsigned server_ws_close_tagged(struct server *s, const char *tag);
unsigned server_ws_count_tagged(struct server *s, const char *tag);

/*
 * /healthz: {"status":"ok", ...} with what each registered area adds to the object; 503
 * "starting" until the first is registered. At most 8.
 */
typedef void (*server_health_fn)(json_t *out, void *data);
void server_add_health(struct server *s, server_health_fn fn, void *data);

/*
 * Routes: `method` NULL matches any method; `path` is matched exactly, or as
 * a prefix when it ends with '/'. Later routes cannot shadow earlier ones.
 */
int server_route_add(struct server *s, const char *method, const char *path, http_handler_fn fn,
                     void *data);
/* One row of an area's route table, for server_routes_add(). */
struct server_route_def {
	const char *method; /* NULL: any */
	const char *path;
	http_handler_fn fn;
};
/* Adds the n routes of `defs`, each with `data`. 0, or -ENOSPC when the table is full. */
int server_routes_add(struct server *s, const struct server_route_def *defs, size_t n, void *data);
#define SERVER_ROUTES_ADD(s, defs, data) server_routes_add(s, defs, AB_ARRAY_SIZE(defs), data)
void server_set_authorize(struct server *s, http_authorize_fn fn, void *data);

/*
 * Runs `req` through the route table as if it had arrived, without the authorize hook: the
 * caller has authenticated it and set req->user/role/peer (the admin socket: its peer is root
 * or the broker's uid, SO_PEERCRED). req->wsi is NULL, so the handler sees no headers and no
 * query parameters (http_request_header/_query/_cookie answer NULL); only routes that need
 * neither may be reached this way. A streamed, file or fd answer becomes a 501. `resp` must
 * be zeroed; the caller frees it with http_response_clear. 0, or -ENOENT when no route
 * matched (a 404 is in resp).
 */
int server_dispatch_local(struct server *s, struct http_request *req, struct http_response *resp);
/* Frees what a response owns and zeroes it. */
void http_response_clear(struct http_response *resp);

/*
 * Streamed request bodies (uploads): a request whose method and path match a body handler
 * (`path` exact, or a prefix when it ends with '/') is not buffered. Once its headers are
 * in, it is path-checked and authorized like any request, then `begin` runs: it returns the
 * handler's context, or NULL with resp filled (the body is then read and dropped). `chunk`
 * gets the body as it arrives (return < 0 with resp filled to stop: the rest is dropped);
 * `end` runs when the body is complete and fills resp; `release` always runs last, also when
 * the client goes away mid-body. The answer is sent once the body is over. Chunks are handed
 * over synchronously: a handler that cannot keep up must not buffer without bound: its
 * `chunk` may take the bytes and return SERVER_BODY_PAUSE, and the server reads no more of
 * the body until the handler calls server_body_resume(req->wsi of `begin`; never after
 * `release`); meanwhile the connection may wait SERVER_DEFER_TIMEOUT_S. `end` may defer its
 * answer (http_response_defer, answered with server_deferred_done); `release` still runs
 * right after `end`, so the handler keeps what the deferred answer needs.
 * The route must also be served by a server_route_add() route (for authz and the docs).
 */
#define SERVER_BODY_PAUSE 1
void server_body_resume(struct lws *wsi);
struct server_body_ops {
	void *(*begin)(struct http_request *req, struct http_response *resp, void *data);
	int (*chunk)(void *ctx, const void *in, size_t len, struct http_response *resp);
	void (*end)(void *ctx, struct http_request *req, struct http_response *resp);
	void (*release)(void *ctx);
};
int server_body_handler_add(struct server *s, const char *method, const char *path,
                            const struct server_body_ops *ops, void *data);

/* Runs one round of the loop (waits at most timeout_ms). */
int server_service(struct server *s, int timeout_ms);
/*
 * Closes every connection (their handlers' `closed` run now) and destroys the lws context;
 * the loop stays valid but inert: timers and watches can still be cancelled, none fires.
 * Areas that hold timers or watches are freed after this and before server_free().
 */
void server_close(struct server *s);
/* Frees the loop and the server (server_close() first if it was not called). */
void server_free(struct server *s);

/* The MIME type for a file name (by extension), "application/octet-stream" when unknown. */
const char *server_mime_type(const char *path);
/*
 * Checks a URL-decoded request path: begins with '/', no NUL, no '\\', no
 * empty/"."/".." segments, no segment starting with '.'. Returns 0 or -EACCES.
 */
int server_path_check(const char *path, size_t len);

#endif
