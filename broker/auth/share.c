/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * share: view-only sharing links (share.h, docs/sharing.md). Links live in memory (struct
 * link), loaded from the kv store at start and written there one key each; an expired or
 * revoked link stays in memory as a tombstone for a day, so its viewers hear 410 (not 404).
 * Start reading at share_viewer() (the websocket check) and api_create().
 */
#include "share.h"
#include "ab_config.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "kv.h"
#include "server.h"
#include "users.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define KEY_PREFIX   "share/"
#define API_SHARE    "/api/share"
#define API_SHARE_ID "/api/share/"
#define TOKEN_BYTES  32
#define ID_BYTES     8
#define TOMBSTONE_MS (24LL * 3600 * 1000)
#define VIEWERS_KEPT 20

struct share_config {
	bool require_sign_in;
	long long min_ttl_s, max_ttl_s, default_ttl_s, max_links, max_viewers;
};

static const struct ab_cfg_field fields[] = {
    AB_CFG_BOOL("require_sign_in", struct share_config, require_sign_in,
                "viewers must be signed in (any role) to open a link"),
    AB_CFG_INT("min_ttl_s", struct share_config, min_ttl_s, 1, 30LL * 86400,
               "shortest lifetime of a link, in seconds"),
    AB_CFG_INT("max_ttl_s", struct share_config, max_ttl_s, 60, 30LL * 86400,
               "longest lifetime of a link, in seconds"),
    AB_CFG_INT("default_ttl_s", struct share_config, default_ttl_s, 60, 30LL * 86400,
               "lifetime of a link created without expires_in_s"),
    AB_CFG_INT("max_links", struct share_config, max_links, 1, 1000, "live links per owner"),
    AB_CFG_INT("max_viewers", struct share_config, max_viewers, 1, 1000,
               "viewers watching through one link at once"),
    {0},
};

static const struct share_config defaults = {
    .require_sign_in = false,
    .min_ttl_s = 60,
    .max_ttl_s = 7 * 86400,
    .default_ttl_s = 3600,
    .max_links = 10,
    .max_viewers = 5,
};

struct link {
	char id[2 * ID_BYTES + 1];
	char hash[65]; /* SHA-256 of the token, hex */
	char owner[USERS_NAME_MAX + 1];
	int64_t created_ms; /* wall clock, as shown */
	/*
	 * The link ends when CLOCK_MONOTONIC reaches deadline_ms: a wall clock
	 * jump while the broker runs neither shortens nor stretches a link's
	 * lifetime. Its wall-clock expiry (shown, stored) is derived from it
	 * (link_expires_wall), so it moves with the jump; a jump while the
	 * broker is down counts as time passed, like the sessions' snapshot.
	 */
	int64_t deadline_ms;
	bool gone;       /* revoked or expired: a tombstone */
	int64_t gone_ms; /* when (CLOCK_MONOTONIC) */
	json_t *viewers; /* [{"user","peer","time"}], the last VIEWERS_KEPT */
	struct link *next;
};

struct share {
	struct ab_loop *loop;
	struct share_params p;
	struct share_config cfg;
	struct link *links;
	struct ab_timer *timer;
	unsigned load_pending;
	bool loaded;
};

/* ---- pure ---- */

void
share_token_hash(const char *token, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL);
	ab_hex(md, sizeof(md), out);
}

/* ---- links ---- */

static void
tag_of(const struct link *l, char *buf, size_t len)
{
	snprintf(buf, len, "share:%s", l->id);
}

static void
link_free(struct link *l)
{
	json_decref(l->viewers);
	free(l);
}

static void
stored(int error, const char *errmsg, void *data)
{
	if (error < 0 && error != -ENOENT)
		ab_error("share: storing a link: %s", errmsg);
}

/* The link's expiry on today's wall clock. */
static int64_t
link_expires_wall(const struct link *l)
{
	return ab_wall_ms() + (l->deadline_ms - ab_now_ms());
}

static void
link_save(struct share *s, const struct link *l)
{
	char key[KV_KEY_MAX];
	snprintf(key, sizeof(key), KEY_PREFIX "%s", l->id);
	json_t *v = json_pack("{sisssssssIsI}", "v", 1, "id", l->id, "hash", l->hash, "owner",
	                      l->owner, "created_ms", (json_int_t)l->created_ms, "expires_ms",
	                      (json_int_t)link_expires_wall(l));
	char *text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	int64_t ttl = (l->deadline_ms - ab_now_ms()) / 1000 + 60;
	struct kv_put_opts o = {.expiration_ttl = AB_MAX(ttl, 60)};
	struct ab_err err = {0};
	if (kv_put(s->p.kv, key, text, strlen(text), &o, stored, NULL, &err) < 0)
		ab_error("share: storing '%s': %s", key, err.msg);
	free(text);
}

static void
link_forget(struct share *s, const struct link *l)
{
	char key[KV_KEY_MAX];
	snprintf(key, sizeof(key), KEY_PREFIX "%s", l->id);
	struct ab_err err = {0};
	if (kv_delete(s->p.kv, key, stored, NULL, &err) < 0)
		ab_error("share: deleting '%s': %s", key, err.msg);
}

static int64_t tick(struct ab_loop *loop, void *data);

/* The timer fires at the next expiry (or tombstone to drop). */
static void
rearm(struct share *s)
{
	int64_t now = ab_now_ms(), next = -1;
	for (struct link *l = s->links; l; l = l->next) {
		int64_t at = l->gone ? l->gone_ms + TOMBSTONE_MS : l->deadline_ms;
		if (next < 0 || at < next)
			next = at;
	}
	ab_loop_timer_cancel(s->loop, s->timer);
	s->timer = next < 0 ? NULL : ab_loop_timer(s->loop, AB_MAX(next - now, 0), tick, s);
}

/* Ends a link: its viewers are cut off, the kv forgets it, a tombstone stays. */
static void
link_end(struct share *s, struct link *l, const char *event, const char *user, const char *role,
         const char *peer)
{
	char tag[64];
	tag_of(l, tag, sizeof(tag));
	unsigned cut = s->p.srv ? server_ws_close_tagged(s->p.srv, tag) : 0;
	l->gone = true;
	l->gone_ms = ab_now_ms();
	link_forget(s, l);
	audit_log(event, AUDIT_INFO, user ? user : l->owner, role, peer,
	          json_pack("{sssssi}", "id", l->id, "owner", l->owner, "viewers_cut", (int)cut));
	ab_info("share: link %s of '%s' ends (%s), %u viewer(s) cut off", l->id, l->owner, event,
	        cut);
}

static int64_t
tick(struct ab_loop *loop, void *data)
{
	struct share *s = data;
	int64_t now = ab_now_ms();
	s->timer = NULL;
	for (struct link **pp = &s->links; *pp;) {
		struct link *l = *pp;
		if (l->gone && l->gone_ms + TOMBSTONE_MS <= now) {
			*pp = l->next;
			link_free(l);
			continue;
		}
		if (!l->gone && l->deadline_ms <= now)
			link_end(s, l, "share.expire", NULL, NULL, NULL);
		pp = &l->next;
	}
	rearm(s);
	return AB_TIMER_STOP;
}

void
share_clock_jumped(struct share *s)
{
	if (!s)
		return;
	for (struct link *l = s->links; l; l = l->next)
		if (!l->gone)
			link_save(s, l);
}

static struct link *
find_id(struct share *s, const char *id)
{
	for (struct link *l = s->links; l; l = l->next) {
		if (strcmp(l->id, id) == 0)
			return l;
	}
	return NULL;
}

static struct link *
find_hash(struct share *s, const char *hash)
{
	struct link *found = NULL;
	for (struct link *l = s->links; l; l = l->next) {
		/* constant time per comparison; every link is compared */
		if (CRYPTO_memcmp(l->hash, hash, 64) == 0)
			found = l;
	}
	return found;
}

/* ---- the websocket ---- */

static bool
token_well_formed(const char *t)
{
	if (strlen(t) != 2 * TOKEN_BYTES)
		return false;
	for (const char *p = t; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

static int
viewer_deny(const char *viewer, const char *peer, const char *id, const char *owner, int status,
            int *ret_status, int r, struct ab_err *err, const char *why)
{
	json_t *d = json_pack("{sssi}", "reason", why, "status", status);
	if (id)
		json_object_set_new(d, "id", json_string(id));
	if (owner)
		json_object_set_new(d, "owner", json_string(owner));
	audit_log("share.view", AUDIT_DENY, viewer, NULL, peer, d);
	*ret_status = status;
	return ab_err_set(err, -r, "%s", why);
}

int
share_viewer(struct share *s, const char *token, const char *viewer, const char *peer,
             char *ret_owner, size_t owner_len, char *ret_tag, size_t tag_len, int *ret_status,
             struct ab_err *err)
{
	if (!s->loaded)
		return viewer_deny(viewer, peer, NULL, NULL, 503, ret_status, -EAGAIN, err,
		                   "share links are still loading");
	if (!token_well_formed(token))
		return viewer_deny(viewer, peer, NULL, NULL, 404, ret_status, -ENOENT, err,
		                   "no such share link");
	char hash[65];
	share_token_hash(token, hash);
	struct link *l = find_hash(s, hash);
	if (!l)
		return viewer_deny(viewer, peer, NULL, NULL, 404, ret_status, -ENOENT, err,
		                   "no such share link");
	if (l->gone || l->deadline_ms <= ab_now_ms())
		return viewer_deny(viewer, peer, l->id, l->owner, 410, ret_status, -ESTALE, err,
		                   "this share link expired or was revoked");
	if (s->cfg.require_sign_in && !viewer)
		return viewer_deny(viewer, peer, l->id, l->owner, 401, ret_status, -EACCES, err,
		                   "sign in to watch this desktop");
	char tag[64];
	tag_of(l, tag, sizeof(tag));
	if (s->p.srv && server_ws_count_tagged(s->p.srv, tag) >= (unsigned)s->cfg.max_viewers)
		return viewer_deny(viewer, peer, l->id, l->owner, 503, ret_status, -EUSERS, err,
		                   "this share link has as many viewers as it may");
	if (!s->p.desktops || !desktop_exists(s->p.desktops, l->owner))
		return viewer_deny(viewer, peer, l->id, l->owner, 409, ret_status, -ENOENT, err,
		                   "the shared desktop is not running");
	snprintf(ret_owner, owner_len, "%s", l->owner);
	snprintf(ret_tag, tag_len, "%s", tag);
	int64_t now = ab_wall_ms();
	if (json_array_size(l->viewers) >= VIEWERS_KEPT)
		json_array_remove(l->viewers, 0);
	json_array_append_new(l->viewers,
	                      json_pack("{sssssI}", "user", viewer ? viewer : "", "peer",
	                                peer ? peer : "", "time", (json_int_t)(now / 1000)));
	audit_log("share.view", AUDIT_GRANT, viewer, NULL, peer,
	          json_pack("{sssssb}", "id", l->id, "owner", l->owner, "view_only", true));
	char body[256];
	snprintf(body, sizeof(body), "%s%s%s from %s, through share link %s", viewer ? "'" : "",
	         viewer ? viewer : "An anonymous viewer", viewer ? "'" : "", peer ? peer : "?",
	         l->id);
	desktop_send(s->p.desktops, l->owner,
	             ab_proto_msg("notify",
	                          json_pack("{ssssss}", "title", "Someone is watching your desktop",
	                                    "body", body, "urgency", "normal")));
	return 0;
}

/* ---- HTTP ---- */

static bool
owner_ok(struct http_request *req, struct http_response *resp)
{
	int role = users_role_from_string(req->role);
	if (!req->user[0] || role < 0) {
		http_response_error(resp, 401, "sign in first");
		return false;
	}
	if (role == USERS_ROLE_DEMO) {
		audit_log("share.create", AUDIT_DENY, req->user, req->role, req->peer,
		          json_pack("{ss}", "reason", "demo desktops cannot be shared"));
		http_response_error(resp, 403, "demo desktops cannot be shared");
		return false;
	}
	return true;
}

static json_t *
link_json(struct share *s, const struct link *l)
{
	char tag[64];
	tag_of(l, tag, sizeof(tag));
	return json_pack("{sssIsIsOsi}", "id", l->id, "created", (json_int_t)(l->created_ms / 1000),
	                 "expires", (json_int_t)(link_expires_wall(l) / 1000), "viewers",
	                 l->viewers, "watching",
	                 s->p.srv ? (int)server_ws_count_tagged(s->p.srv, tag) : 0);
}

static int
api_create(struct http_request *req, struct http_response *resp, struct share *s)
{
	json_t *body =
	    req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : json_object();
	json_t *e = json_object_get(body, "expires_in_s");
	long long ttl = s->cfg.default_ttl_s;
	const char *bad = NULL;
	if (!json_is_object(body) || json_object_size(body) > (e ? 1u : 0u))
		bad = "the body must be {} or {\"expires_in_s\": seconds}";
	else if (e && (!json_is_integer(e) || json_integer_value(e) < s->cfg.min_ttl_s ||
	               json_integer_value(e) > s->cfg.max_ttl_s))
		bad = "expires_in_s is out of range";
	else if (e)
		ttl = json_integer_value(e);
	json_decref(body);
	if (bad) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s (%lld..%lld)", bad, s->cfg.min_ttl_s,
		         s->cfg.max_ttl_s);
		http_response_error(resp, 400, msg);
		return 0;
	}
	unsigned live = 0;
	for (struct link *l = s->links; l; l = l->next)
		live += !l->gone && strcmp(l->owner, req->user) == 0;
	if (live >= (unsigned)s->cfg.max_links) {
		http_response_error(resp, 409, "you have as many live share links as you may");
		return 0;
	}
	unsigned char rnd[TOKEN_BYTES], rid[ID_BYTES];
	char token[2 * TOKEN_BYTES + 1];
	if (ab_random_bytes(rnd, sizeof(rnd)) < 0 || ab_random_bytes(rid, sizeof(rid)) < 0)
		return -EIO;
	ab_hex(rnd, sizeof(rnd), token);
	struct link *l = ab_xcalloc(1, sizeof(*l));
	ab_hex(rid, sizeof(rid), l->id);
	share_token_hash(token, l->hash);
	snprintf(l->owner, sizeof(l->owner), "%.*s", USERS_NAME_MAX, req->user);
	l->created_ms = ab_wall_ms();
	l->deadline_ms = ab_now_ms() + ttl * 1000;
	l->viewers = json_array();
	l->next = s->links;
	s->links = l;
	link_save(s, l);
	rearm(s);
	audit_log("share.create", AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{sssI}", "id", l->id, "expires_in_s", (json_int_t)ttl));
	char url[128];
	snprintf(url, sizeof(url), "/share.html#%s", token);
	http_response_json(resp, 201,
	                   json_pack("{sssssssI}", "id", l->id, "token", token, "url", url,
	                             "expires", (json_int_t)(link_expires_wall(l) / 1000)));
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}

static int
api_list(struct http_request *req, struct http_response *resp, struct share *s)
{
	json_t *out = json_array();
	for (struct link *l = s->links; l; l = l->next) {
		if (!l->gone && strcmp(l->owner, req->user) == 0)
			json_array_append_new(out, link_json(s, l));
	}
	http_response_json(resp, 200, json_pack("{so}", "links", out));
	return 0;
}

static int
api_revoke(struct http_request *req, struct http_response *resp, struct share *s)
{
	const char *id = req->path + strlen(API_SHARE_ID);
	struct link *l = find_id(s, id);
	/* another owner's link answers as a missing one: ids are not confirmed to strangers */
	if (!l || l->gone || strcmp(l->owner, req->user) != 0) {
		audit_log("share.revoke", AUDIT_DENY, req->user, req->role, req->peer,
		          json_pack("{ssss}", "id", id, "reason", "no such link of yours"));
		http_response_error(resp, 404, "no such share link of yours");
		return 0;
	}
	link_end(s, l, "share.revoke", req->user, req->role, req->peer);
	rearm(s);
	http_response_json(resp, 200, json_pack("{sssb}", "id", l->id, "revoked", true));
	return 0;
}

/* GET, POST /api/share and DELETE /api/share/<id> (the prefix route serves exactly these). */
// routes:
//   GET    /api/share
//   POST   /api/share
//   DELETE /api/share/*
// end routes
static int
share_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct share *s = data;
	if (!owner_ok(req, resp))
		return 0;
	if (!s->loaded) {
		http_response_error(resp, 503, "share links are still loading; try again");
		http_response_add_header(resp, "Retry-After", "1");
		return 0;
	}
	bool exact = strcmp(req->path, API_SHARE) == 0;
	if (exact && strcmp(req->method, "POST") == 0)
		return api_create(req, resp, s);
	if (exact && strcmp(req->method, "GET") == 0)
		return api_list(req, resp, s);
	if (!exact && strcmp(req->method, "DELETE") == 0)
		return api_revoke(req, resp, s);
	http_response_error(resp, 405, "method not allowed");
	return 0;
}

int
share_add_routes(struct share *s, struct server *srv)
{
	if (server_route_add(srv, NULL, API_SHARE, share_http, s) < 0 ||
	    server_route_add(srv, "DELETE", API_SHARE_ID, share_http, s) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- loading ---- */

static void
load_done_one(struct share *s)
{
	if (--s->load_pending)
		return;
	s->loaded = true;
	unsigned n = 0;
	for (struct link *l = s->links; l; l = l->next)
		n++;
	ab_info("share: %u link(s) loaded", n);
	rearm(s);
}

static void
load_got(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct share *s = data;
	json_t *o = error == 0 ? json_loadb(v->data, v->len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *hash = json_string_value(json_object_get(o, "hash"));
	const char *owner = json_string_value(json_object_get(o, "owner"));
	json_t *c = json_object_get(o, "created_ms"), *e = json_object_get(o, "expires_ms");
	if (id && hash && owner && strlen(id) == 2 * ID_BYTES && strlen(hash) == 64 &&
	    users_name_valid(owner) && json_is_integer(c) && json_is_integer(e) &&
	    !find_id(s, id)) {
		struct link *l = ab_xcalloc(1, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "%s", id);
		snprintf(l->hash, sizeof(l->hash), "%s", hash);
		snprintf(l->owner, sizeof(l->owner), "%s", owner);
		l->created_ms = json_integer_value(c);
		/* the stored wall-clock expiry, counted from now */
		l->deadline_ms = ab_now_ms() + (json_integer_value(e) - ab_wall_ms());
		l->viewers = json_array();
		l->next = s->links;
		s->links = l;
	} else if (error != -ENOENT) {
		ab_error("share: a stored link is unreadable: %s", error ? errmsg : "bad record");
	}
	json_decref(o);
	load_done_one(s);
}

static void
load_page(int error, const char *errmsg, const struct kv_list_result *r, void *data)
{
	struct share *s = data;
	struct ab_err err = {0};
	if (error < 0)
		ab_error("share: listing the links: %s", errmsg);
	for (size_t i = 0; error == 0 && i < r->n; i++) {
		if (kv_get(s->p.kv, r->entries[i].name, load_got, s, &err) < 0) {
			ab_error("share: %s", err.msg);
			ab_err_clear(&err);
			continue;
		}
		s->load_pending++;
	}
	if (error == 0 && r->cursor &&
	    kv_list(s->p.kv, KEY_PREFIX, r->cursor, 100, load_page, s, &err) == 0)
		return;
	load_done_one(s);
}

int
share_check_config(json_t *config, struct ab_err *err)
{
	struct share_config cfg;
	ab_config_init(fields, &cfg, &defaults, sizeof(cfg));
	if (config && ab_config_apply_json(fields, &cfg, config, err) < 0)
		return ab_err_wrap(err, "share");
	if (cfg.min_ttl_s > cfg.default_ttl_s || cfg.default_ttl_s > cfg.max_ttl_s)
		return ab_err_set(err, EINVAL,
		                  "share: min_ttl_s <= default_ttl_s <= max_ttl_s does not hold");
	return 0;
}

int
share_new(struct ab_loop *loop, const struct share_params *p, struct share **ret,
          struct ab_err *err)
{
	int r = share_check_config(p->config, err);
	if (r < 0)
		return r;
	struct share *s = ab_xcalloc(1, sizeof(*s));
	ab_config_init(fields, &s->cfg, &defaults, sizeof(s->cfg));
	if (p->config)
		ab_config_apply_json(fields, &s->cfg, p->config, err);
	s->loop = loop;
	s->p = *p;
	s->load_pending = 1;
	if ((r = kv_list(p->kv, KEY_PREFIX, NULL, 100, load_page, s, err)) < 0) {
		free(s);
		return ab_err_wrap(err, "loading the share links");
	}
	*ret = s;
	return 0;
}

void
share_free(struct share *s)
{
	if (!s)
		return;
	ab_loop_timer_cancel(s->loop, s->timer);
	while (s->links) {
		struct link *l = s->links;
		s->links = l->next;
		link_free(l);
	}
	free(s);
}
