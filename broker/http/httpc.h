/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * httpc: an asynchronous HTTP(S) client on libcurl's multi interface, driven
 * by an ab_loop (ab_loop.h), so it runs on the broker's libwebsockets loop and
 * on ab_loop_poll alike. It never blocks: name resolution, connecting, TLS and
 * transfers all progress from loop callbacks (curl's threaded resolver).
 *
 *   struct httpc_req req = { .method = "GET", .url = "https://example/jwks" };
 *   httpc_request(c, &req, on_done, me, &call, &err);
 *   ...
 *   static void on_done(const struct httpc_resp *r, void *me)
 *   {
 *           if (r->error < 0) ... r->errmsg ...
 *           else if (r->status == 200) ... r->body, r->body_len ...
 *   }
 *
 * Contract:
 *   - `done` runs exactly once per request from the loop (never inside
 *     httpc_request), unless the call is cancelled first. Transport failures
 *     (refused, timeout, TLS, body over max_response) give error < 0 and
 *     status 0; any HTTP status (including 4xx/5xx) gives error 0.
 *   - The response and everything it points to is valid only during `done`.
 *   - The call handle is owned by httpc; it is invalid once `done` has started
 *     or httpc_cancel() returned. Only http and https URLs are allowed and
 *     redirects are not followed.
 *   - `done` may start new requests or cancel other calls; it must not call
 *     httpc_free().
 */
#ifndef BROKER_HTTPC_H
#define BROKER_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"

#define HTTPC_DEFAULT_TIMEOUT_MS   30000
#define HTTPC_DEFAULT_MAX_RESPONSE (1u << 20)

struct httpc;
struct httpc_call;

struct httpc_req {
	const char *method;         /* "GET" when NULL */
	const char *url;            /* http:// or https:// */
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const void *body;           /* copied; may be NULL */
	size_t body_len;
	long timeout_ms;     /* whole transfer; 0: HTTPC_DEFAULT_TIMEOUT_MS */
	size_t max_response; /* body cap; 0: HTTPC_DEFAULT_MAX_RESPONSE */
	const void *ca_pem; /* PEM CA certificates to verify the peer with (copied); NULL: system */
	size_t ca_pem_len;
	const char *unix_socket; /* connect to this unix socket instead (Docker Engine API) */
	bool cert_expiry;        /* https: report the peer certificate's expiry (cert_expiry_s) */
};

/* Where the time of a transfer went, from its start (libcurl's timers), in milliseconds. */
struct httpc_timing {
	double dns_ms;        /* name resolved */
	double connect_ms;    /* TCP connected */
	double tls_ms;        /* TLS handshake done (0 for http) */
	double first_byte_ms; /* first byte of the answer */
	double total_ms;
};

struct httpc_header {
	const char *name;  /* as received */
	const char *value; /* leading/trailing blanks removed */
};

struct httpc_resp {
	long status;      /* HTTP status, 0 on a transport error */
	const char *body; /* NUL-terminated (the NUL is not counted), never NULL */
	size_t body_len;
	int error; /* 0 or -errno: ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, EFBIG, EPROTO, EIO */
	const char *errmsg;                 /* human readable when error < 0, "" otherwise */
	const struct httpc_header *headers; /* of the final response */
	size_t n_headers;
	struct httpc_timing timing; /* also on a transport error: how far it got */
	const char *primary_ip;     /* the address it connected to, "" if none */
	/*
	 * With req.cert_expiry, over https: the peer certificate's notAfter (unix seconds); 0
	 * when unknown (the connection was reused from an earlier transfer, or no TLS).
	 */
	int64_t cert_expiry_s;
};

typedef void (*httpc_done_fn)(const struct httpc_resp *resp, void *data);

/* Creates a client on `loop` (which must outlive it). */
struct httpc *httpc_new(struct ab_loop *loop);

/*
 * Creates a client whose transfers run on a thread of its own (its own poll loop and
 * libcurl multi handle), for many concurrent requests that must cost `loop` nothing but
 * handing them over and running their callbacks: the services' health checks. Same
 * contract as above; every function is called from `loop`'s thread only. NULL with err set
 * when the thread cannot be started.
 */
struct httpc *httpc_new_threaded(struct ab_loop *loop, struct ab_err *err);

/* Cancels every pending call (their callbacks do not run) and frees the client. Accepts NULL. */
void httpc_free(struct httpc *c);

/* Case-insensitive lookup of a response header; the last one wins. NULL when absent. */
const char *httpc_resp_header(const struct httpc_resp *r, const char *name);

/*
 * Starts a request. On success *ret_call (may be NULL) receives a handle for
 * httpc_cancel(). Fails (-EINVAL) only for an unusable request: no URL, a
 * scheme other than http/https, a header without ':' or with CR/LF.
 */
int httpc_request(struct httpc *c, const struct httpc_req *req, httpc_done_fn done, void *data,
                  struct httpc_call **ret_call, struct ab_err *err);

/* Aborts a pending call; its callback will not run. Accepts NULL. */
void httpc_cancel(struct httpc *c, struct httpc_call *call);

/* Number of calls in flight (for tests and metrics). */
size_t httpc_pending(const struct httpc *c);

#endif
