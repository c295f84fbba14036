/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thumbs: desktop thumbnails for the admin console (see thumbs.h).
 *
 * routes:
 *   GET /api/admin/desktops/{user}/thumbnail
 * end routes
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "ab_log.h"
#include "ab_metrics.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "server.h"
#include "thumbs.h"

#define THUMBS_PREFIX      "/api/admin/desktops/"
#define THUMBS_GRANT_EVERY (3600 * 1000)
#define THUMBS_GRANT_SLOTS 64

struct thumb_wait;

/* One desktop's latest thumbnail and the request in flight. */
struct thumb_entry {
	struct thumbs *t;
	char user[40];
	unsigned char *jpeg; /* owned; NULL: none yet */
	size_t len;
	int width, height, asked_width;
	int64_t taken_ms;
	int64_t pending_id; /* 0: nothing asked */
	struct ab_timer *timeout;
	struct thumb_wait *waiters;
	struct thumb_entry *next;
};

/*
 * A request waiting for the session's answer: a deferred response, answered with the JPEG
 * (200) when it comes or with a clear error (502/504) when it does not.
 */
struct thumb_wait {
	struct thumb_entry *e;
	struct http_deferred *d;
	struct thumb_wait *next;
};

struct thumbs {
	struct ab_loop *loop;
	struct desktop_manager *desktops;
	struct thumb_entry *entries;
	int64_t next_id;
	struct audit_seen granted[THUMBS_GRANT_SLOTS];
};

static void
count(const char *result)
{
	char labels[48];
	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	ab_metrics_count("argobox_thumbnails_total", labels, 1);
}

static struct thumb_entry *
entry_get(struct thumbs *t, const char *user, bool create)
{
	for (struct thumb_entry *e = t->entries; e; e = e->next)
		if (strcmp(e->user, user) == 0)
			return e;
	if (!create)
		return NULL;
	struct thumb_entry *e = ab_xcalloc(1, sizeof(*e));
	e->t = t;
	snprintf(e->user, sizeof(e->user), "%s", user);
	e->next = t->entries;
	t->entries = e;
	return e;
}

static void serve(struct http_response *resp, const struct thumb_entry *e);

/*
 * Answers every waiter of e: with e's JPEG when `status` is 200, else with `status` and
 * {"error": why}.
 */
static void
waiters_answer(struct thumb_entry *e, int status, const char *why)
{
	while (e->waiters) {
		struct thumb_wait *w = e->waiters;
		e->waiters = w->next;
		struct http_response *resp = server_deferred_response(w->d);
		if (status == 200 && e->jpeg)
			serve(resp, e);
		else
			http_response_error(resp, status == 200 ? 502 : status, why);
		server_deferred_done(w->d);
		free(w);
	}
}

static int64_t
entry_timeout(struct ab_loop *loop, void *data)
{
	struct thumb_entry *e = data;
	e->timeout = NULL;
	ab_warn("thumbnail of '%s': no answer from the session in %d ms", e->user,
	        THUMBS_TIMEOUT_MS);
	e->pending_id = 0;
	count("failed");
	waiters_answer(e, 504, "the desktop did not send a thumbnail in time");
	return AB_TIMER_STOP;
}

/* Asks e's session for a thumbnail `width` wide, unless one is on its way. */
static int
entry_ask(struct thumb_entry *e, int width)
{
	if (e->pending_id)
		return 0;
	struct thumbs *t = e->t;
	int64_t id = ++t->next_id;
	int r = desktop_send(
	    t->desktops, e->user,
	    ab_proto_msg("thumb", json_pack("{sIsi}", "id", (json_int_t)id, "width", width)));
	if (r < 0)
		return r;
	e->pending_id = id;
	e->asked_width = width;
	e->timeout = ab_loop_timer(t->loop, THUMBS_TIMEOUT_MS, entry_timeout, e);
	return 0;
}

/* Decodes base64 into a new buffer; NULL when it is not base64 or larger than max bytes. */
static unsigned char *
base64_decode(const char *s, size_t *ret_len, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4 || n / 4 * 3 > max)
		return NULL;
	unsigned char *out = ab_xmalloc(n / 4 * 3 + 1);
	int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	len -= (s[n - 1] == '=') + (s[n - 2] == '=');
	*ret_len = (size_t)len;
	return out;
}

/* desktop_message_fn for "thumb": the session's answer (input: validated before use). */
static void
on_thumb(void *data, const char *user, json_t *msg)
{
	struct thumbs *t = data;
	struct thumb_entry *e = entry_get(t, user, false);
	json_t *id = json_object_get(msg, "id");
	if (!e || !e->pending_id || !json_is_integer(id) || json_integer_value(id) != e->pending_id)
		return; /* late, or not asked for */
	e->pending_id = 0;
	ab_loop_timer_cancel(t->loop, e->timeout);
	e->timeout = NULL;
	const char *b64 = json_string_value(json_object_get(msg, "data"));
	const char *fmt = json_string_value(json_object_get(msg, "format"));
	json_int_t w = json_integer_value(json_object_get(msg, "width"));
	json_int_t h = json_integer_value(json_object_get(msg, "height"));
	size_t len = 0;
	unsigned char *jpeg = NULL;
	if (b64 && fmt && strcmp(fmt, "jpeg") == 0 && w > 0 && w <= 640 && h > 0 && h <= 4096)
		jpeg = base64_decode(b64, &len, THUMBS_MAX_BYTES);
	if (!jpeg || len < 4 || jpeg[0] != 0xff || jpeg[1] != 0xd8) {
		const char *why = json_string_value(json_object_get(msg, "error"));
		ab_warn("thumbnail of '%s': %s", user, why ? why : "not a JPEG");
		free(jpeg);
		count("failed");
		waiters_answer(e, 502, "the desktop could not make a thumbnail");
		return;
	}
	free(e->jpeg);
	e->jpeg = jpeg;
	e->len = len;
	e->width = (int)w;
	e->height = (int)h;
	e->taken_ms = ab_now_ms();
	waiters_answer(e, 200, NULL);
}

/* The client left before the answer: forget its waiter (server.c frees the deferral). */
static void
wait_cancel(void *ctx)
{
	struct thumb_wait *w = ctx;
	struct thumb_wait **pp = &w->e->waiters;
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	free(w);
}

/* ---- the route ---- */

/* Audits a grant the first time an admin looks at a desktop, then at most once an hour. */
static void
audit_grant(struct thumbs *t, const struct http_request *req, const char *user)
{
	char key[96];
	snprintf(key, sizeof(key), "%s|%s", req->user, user);
	if (audit_seen_due(t->granted, THUMBS_GRANT_SLOTS, key, ab_now_ms(), THUMBS_GRANT_EVERY))
		audit_log("admin.thumbnail", AUDIT_GRANT, req->user, req->role, req->peer,
		          json_pack("{ss}", "target", user));
}

static void
serve(struct http_response *resp, const struct thumb_entry *e)
{
	http_response_set(resp, 200, "image/jpeg", e->jpeg, e->len);
	char v[64];
	snprintf(v, sizeof(v), "%lld", (long long)(ab_now_ms() - e->taken_ms));
	http_response_add_header(resp, "X-Thumbnail-Age-Ms", v);
	http_response_add_header(resp, "Cache-Control", "no-store");
}

static int
route_thumbnail(struct http_request *req, struct http_response *resp, void *data)
{
	struct thumbs *t = data;
	const char *rest = req->path + strlen(THUMBS_PREFIX);
	const char *slash = strchr(rest, '/');
	char user[40];
	if (!slash || strcmp(slash, "/thumbnail") != 0 || slash - rest >= (long)sizeof(user)) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	snprintf(user, sizeof(user), "%.*s", (int)(slash - rest), rest);
	if (strcmp(req->role, "admin") != 0) { /* authz let no one else in; belt and braces */
		audit_log("admin.thumbnail", AUDIT_DENY, req->user[0] ? req->user : NULL,
		          req->role[0] ? req->role : NULL, req->peer,
		          json_pack("{ssss}", "target", user, "reason", "admins only"));
		http_response_error(resp, 403, "admins only");
		return 0;
	}
	if (!desktop_user_valid(user)) {
		http_response_error(resp, 400, "invalid user name");
		return 0;
	}
	char wbuf[32];
	int width = THUMBS_WIDTH_DEFAULT;
	const char *wv = http_request_query(req, "width", wbuf, sizeof(wbuf));
	if (wv) {
		char *end;
		long v = strtol(wv, &end, 10);
		if (!*wv || *end || v < 32 || v > 640) {
			http_response_error(resp, 400, "width: 32 to 640 pixels");
			return 0;
		}
		width = (int)v;
	}
	if (!desktop_exists(t->desktops, user)) {
		audit_log("admin.thumbnail", AUDIT_INFO, req->user, req->role, req->peer,
		          json_pack("{ssss}", "target", user, "reason", "no desktop"));
		http_response_error(resp, 404, "no ready desktop for this user");
		return 0;
	}
	struct thumb_entry *e = entry_get(t, user, true);
	int64_t age = e->jpeg ? ab_now_ms() - e->taken_ms : INT64_MAX;
	if (e->jpeg && e->asked_width == width && age < THUMBS_STALE_MS) {
		audit_grant(t, req, user);
		if (age >= THUMBS_FRESH_MS)
			entry_ask(e, width); /* the next request gets a newer one */
		count(age < THUMBS_FRESH_MS ? "cached" : "stale");
		serve(resp, e);
		return 0;
	}
	if (entry_ask(e, width) < 0) {
		audit_log("admin.thumbnail", AUDIT_INFO, req->user, req->role, req->peer,
		          json_pack("{ssss}", "target", user, "reason", "no ready desktop"));
		http_response_error(resp, 404, "no ready desktop for this user");
		return 0;
	}
	audit_grant(t, req, user);
	count("fresh");
	struct thumb_wait *w = ab_xcalloc(1, sizeof(*w));
	w->e = e;
	w->d = http_response_defer(resp, wait_cancel, w);
	w->next = e->waiters;
	e->waiters = w;
	return 0;
}

int
thumbs_new(struct ab_loop *loop, struct server *srv, struct desktop_manager *desktops,
           struct thumbs **ret, struct ab_err *err)
{
	struct thumbs *t = ab_xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->desktops = desktops;
	if (desktop_manager_on_message(desktops, "thumb", on_thumb, t) < 0) {
		free(t);
		return ab_err_set(err, ENOSPC, "cannot add the thumbnails' message hook");
	}
	if (server_route_add(srv, "GET", THUMBS_PREFIX, route_thumbnail, t) < 0) {
		desktop_manager_on_message(desktops, "thumb", NULL, NULL);
		free(t);
		return ab_err_set(err, ENOMEM, "cannot add the thumbnails' route");
	}
	*ret = t;
	return 0;
}

void
thumbs_free(struct thumbs *t)
{
	if (!t)
		return;
	desktop_manager_on_message(t->desktops, "thumb", NULL, NULL);
	while (t->entries) {
		struct thumb_entry *e = t->entries;
		t->entries = e->next;
		ab_loop_timer_cancel(t->loop, e->timeout);
		waiters_answer(e, 503, "the broker is shutting down");
		free(e->jpeg);
		free(e);
	}
	free(t);
}
