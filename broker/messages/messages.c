/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * messages: see messages.h (the API and the rules) and docs/messages.md. Start reading at
 * api_send(): the checks in order (rate, body, text, recipient, policy, block), then the
 * mailbox write and the live delivery. Mailboxes live in memory (struct mbox), loaded from
 * the kv store at start (load_page/load_got) and written back whole on every change.
 */
#include "messages.h"
#include "ab_config.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "kv.h"
#include "server.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_PREFIX   "messages/"
#define API_MESSAGES "/api/messages"
#define API_BLOCKS   "/api/messages/blocks"
#define BLOCKS_MAX   100
#define PAGE_MAX     100
#define DEMO_TTL_S   86400 /* a demo identity's mailbox outlives its demo by a day at most */

struct messages_config {
	long long max_chars, rate_burst, rate_per_minute, inbox_max, inbox_max_bytes;
	char demo[8];
};

static const char *const demo_choices[] = {"admins", "none", NULL};

static const struct ab_cfg_field fields[] = {
    AB_CFG_INT("max_chars", struct messages_config, max_chars, 1, 100000,
               "longest message, in characters"),
    AB_CFG_INT("rate_burst", struct messages_config, rate_burst, 1, 10000,
               "messages a sender may send at once"),
    AB_CFG_INT("rate_per_minute", struct messages_config, rate_per_minute, 1, 100000,
               "messages a sender may send a minute after the burst"),
    AB_CFG_INT("inbox_max", struct messages_config, inbox_max, 1, 10000,
               "messages kept per recipient (the oldest go first)"),
    AB_CFG_INT("inbox_max_bytes", struct messages_config, inbox_max_bytes, 4096, 1 << 20,
               "bytes of text kept per recipient (the oldest go first)"),
    AB_CFG_ENUM("demo", struct messages_config, demo, demo_choices,
                "whom demo identities may write to: admins or none"),
    {0},
};

static const struct messages_config defaults = {
    .max_chars = 2000,
    .rate_burst = 5,
    .rate_per_minute = 10,
    .inbox_max = 200,
    .inbox_max_bytes = 512 * 1024,
    .demo = "admins",
};

struct mbox {
	char user[USERS_NAME_MAX + 1];
	json_t *inbox;                 /* oldest first: {"id","from","text","time","delivered"} */
	json_t *blocks;                /* user names */
	size_t pending;                /* not delivered yet */
	bool demo;                     /* a demo identity's: stored with a TTL */
	struct messages_bucket bucket; /* as a sender */
	struct mbox *next;
};

struct messages {
	struct ab_loop *loop;
	struct messages_params p;
	struct messages_config cfg;
	enum messages_demo_policy demo;
	struct mbox *boxes;
	unsigned load_pending;
	bool loaded;
	struct ab_timer *retry;
};

/* ---- pure parts ---- */

int
messages_text_check(const char *text, size_t len, unsigned max_chars, struct ab_err *err)
{
	if (!ab_utf8_valid(text, len))
		return ab_err_set(err, EINVAL, "text is not valid UTF-8");
	size_t chars = 0;
	bool visible = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c & 0xC0) != 0x80)
			chars++;
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return ab_err_set(err, EINVAL,
			                  "text holds a control character (only newline and tab)");
		if (c != ' ' && c != '\n' && c != '\t')
			visible = true;
	}
	if (!visible)
		return ab_err_set(err, EINVAL, "text is empty");
	if (chars > max_chars)
		return ab_err_set(err, EINVAL, "text is %zu characters long, more than %u", chars,
		                  max_chars);
	return 0;
}

const char *
messages_policy(enum users_role from, enum users_role to, enum messages_demo_policy demo)
{
	if (from == USERS_ROLE_ADMIN)
		return NULL;
	if (from == USERS_ROLE_MEMBER)
		return to == USERS_ROLE_DEMO ? "members may not write to demo identities" : NULL;
	if (from == USERS_ROLE_DEMO) {
		if (demo == MESSAGES_DEMO_NONE)
			return "demo identities may not send messages";
		return to == USERS_ROLE_ADMIN ? NULL : "demo identities may write to admins only";
	}
	return "unknown role";
}

bool
messages_bucket_take(struct messages_bucket *b, int64_t now_ms, unsigned burst, unsigned per_minute,
                     unsigned *ret_retry_s)
{
	double rate = per_minute / 60000.0; /* tokens a millisecond */
	if (b->last_ms == 0) {
		b->tokens = burst;
	} else if (now_ms > b->last_ms) {
		b->tokens = fmin((double)burst, b->tokens + (double)(now_ms - b->last_ms) * rate);
	}
	b->last_ms = AB_MAX(b->last_ms, now_ms);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	double wait_ms = (1.0 - b->tokens) / rate;
	*ret_retry_s = (unsigned)AB_MAX(1.0, ceil(wait_ms / 1000.0));
	return false;
}

/* ---- mailboxes ---- */

static struct mbox *
mbox_find(struct messages *m, const char *user)
{
	for (struct mbox *b = m->boxes; b; b = b->next) {
		if (strcmp(b->user, user) == 0)
			return b;
	}
	return NULL;
}

static struct mbox *
mbox_get(struct messages *m, const char *user)
{
	struct mbox *b = mbox_find(m, user);
	if (b)
		return b;
	b = ab_xcalloc(1, sizeof(*b));
	snprintf(b->user, sizeof(b->user), "%s", user);
	b->inbox = json_array();
	b->blocks = json_array();
	b->next = m->boxes;
	m->boxes = b;
	return b;
}

static void
saved(int error, const char *errmsg, void *data)
{
	if (error < 0)
		ab_error("messages: storing a mailbox: %s", errmsg);
}

/* Writes the mailbox whole (one kv value: atomic). */
static void
mbox_save(struct messages *m, struct mbox *b)
{
	char key[KV_KEY_MAX];
	snprintf(key, sizeof(key), KEY_PREFIX "%s", b->user);
	json_t *v = json_pack("{sisOsO}", "v", 1, "inbox", b->inbox, "blocks", b->blocks);
	char *text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	struct kv_put_opts o = {.expiration_ttl = b->demo ? DEMO_TTL_S : 0};
	struct ab_err err = {0};
	if (kv_put(m->p.kv, key, text, strlen(text), &o, saved, NULL, &err) < 0)
		ab_error("messages: storing '%s': %s", key, err.msg);
	free(text);
}

static bool
blocked(const struct mbox *b, const char *who)
{
	size_t i;
	json_t *v;
	json_array_foreach(b->blocks, i, v)
	{
		if (strcmp(json_string_value(v), who) == 0)
			return true;
	}
	return false;
}

/* Drops the oldest messages beyond the count and the byte budget. */
static void
mbox_trim(struct messages *m, struct mbox *b)
{
	size_t bytes = 0, i;
	json_t *v;
	json_array_foreach(b->inbox, i, v) bytes += json_string_length(json_object_get(v, "text"));
	while (json_array_size(b->inbox) > 1 &&
	       (json_array_size(b->inbox) > (size_t)m->cfg.inbox_max ||
	        bytes > (size_t)m->cfg.inbox_max_bytes)) {
		json_t *old = json_array_get(b->inbox, 0);
		bytes -= json_string_length(json_object_get(old, "text"));
		if (!json_is_true(json_object_get(old, "delivered")))
			b->pending--;
		json_array_remove(b->inbox, 0);
	}
}

/* Hands message `msg` to the recipient's running desktop: true when it took it. */
static bool
deliver(struct messages *m, const char *to, json_t *msg)
{
	if (!m->p.desktops)
		return false;
	json_t *f = json_pack("{sOsOsOsO}", "id", json_object_get(msg, "id"), "from",
	                      json_object_get(msg, "from"), "text", json_object_get(msg, "text"),
	                      "time", json_object_get(msg, "time"));
	return desktop_send(m->p.desktops, to, ab_proto_msg("message", f)) == 0;
}

static int64_t retry_tick(struct ab_loop *loop, void *data);

static void
arm_retry(struct messages *m)
{
	if (!m->retry)
		m->retry = ab_loop_timer(m->loop, 1000, retry_tick, m);
}

/* Every second while messages wait: a recipient whose desktop is up gets them now. */
static int64_t
retry_tick(struct ab_loop *loop, void *data)
{
	struct messages *m = data;
	size_t waiting = 0;
	for (struct mbox *b = m->boxes; b; b = b->next) {
		if (!b->pending)
			continue;
		bool changed = false;
		size_t i;
		json_t *v;
		json_array_foreach(b->inbox, i, v)
		{
			if (json_is_true(json_object_get(v, "delivered")) ||
			    !deliver(m, b->user, v))
				continue;
			json_object_set_new(v, "delivered", json_true());
			b->pending--;
			changed = true;
			audit_log("message.deliver", AUDIT_INFO, b->user, NULL, NULL,
			          json_pack("{sOsOss}", "id", json_object_get(v, "id"), "from",
			                    json_object_get(v, "from"), "via", "desktop start"));
		}
		if (changed)
			mbox_save(m, b);
		waiting += b->pending;
	}
	if (!waiting) {
		m->retry = NULL;
		return AB_TIMER_STOP;
	}
	return 1000;
}

/* ---- loading ---- */

struct load_op {
	struct messages *m;
	char user[USERS_NAME_MAX + 1];
};

static void
load_done_one(struct messages *m)
{
	if (--m->load_pending == 0) {
		m->loaded = true;
		size_t n = 0, pending = 0;
		for (struct mbox *b = m->boxes; b; b = b->next) {
			n++;
			pending += b->pending;
		}
		ab_info("messages: %zu mailbox(es) loaded, %zu message(s) waiting", n, pending);
		if (pending)
			arm_retry(m);
	}
}

static void
load_got(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct load_op *op = data;
	struct messages *m = op->m;
	json_t *root = error == 0 ? json_loadb(v->data, v->len, 0, NULL) : NULL;
	json_t *inbox = json_object_get(root, "inbox"), *blocks = json_object_get(root, "blocks");
	if (error == 0 && json_is_array(inbox) && json_is_array(blocks)) {
		struct mbox *b = mbox_get(m, op->user);
		json_decref(b->inbox);
		json_decref(b->blocks);
		b->inbox = json_incref(inbox);
		b->blocks = json_incref(blocks);
		b->demo = v->expiration != 0;
		size_t i;
		json_t *e;
		b->pending = 0;
		json_array_foreach(b->inbox, i, e) b->pending +=
		    !json_is_true(json_object_get(e, "delivered"));
	} else if (error != -ENOENT) {
		ab_error("messages: mailbox of '%s' unreadable: %s", op->user,
		         error ? errmsg : "not a mailbox");
	}
	json_decref(root);
	free(op);
	load_done_one(m);
}

static void
load_page(int error, const char *errmsg, const struct kv_list_result *r, void *data)
{
	struct messages *m = data;
	struct ab_err err = {0};
	if (error < 0) {
		ab_error("messages: listing the mailboxes: %s", errmsg);
		load_done_one(m);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const char *user = r->entries[i].name + strlen(KEY_PREFIX);
		if (!users_name_valid(user))
			continue;
		struct load_op *op = ab_xcalloc(1, sizeof(*op));
		op->m = m;
		snprintf(op->user, sizeof(op->user), "%s", user);
		if (kv_get(m->p.kv, r->entries[i].name, load_got, op, &err) < 0) {
			ab_error("messages: %s", err.msg);
			ab_err_clear(&err);
			free(op);
			continue;
		}
		m->load_pending++;
	}
	if (r->cursor && kv_list(m->p.kv, KEY_PREFIX, r->cursor, 100, load_page, m, &err) == 0)
		return; /* the next page carries this pending count */
	if (r->cursor)
		ab_error("messages: %s", err.msg);
	load_done_one(m);
}

/* ---- HTTP ---- */

/* The caller: name and role (the authorize hook set them), or false after a 401 answer. */
static bool
caller(struct http_request *req, struct http_response *resp, enum users_role *ret_role)
{
	int role = users_role_from_string(req->role);
	if (!req->user[0] || role < 0) {
		http_response_error(resp, 401, "sign in first");
		return false;
	}
	*ret_role = (enum users_role)role;
	return true;
}

static bool
ready(struct messages *m, struct http_response *resp)
{
	if (m->loaded)
		return true;
	http_response_error(resp, 503, "messages are still loading; try again in a moment");
	http_response_add_header(resp, "Retry-After", "1");
	return false;
}

static void
audit_deny(struct http_request *req, const char *to, size_t bytes, const char *why)
{
	json_t *d = json_pack("{sssI}", "reason", why, "bytes", (json_int_t)bytes);
	if (to)
		json_object_set_new(d, "to", json_string(to));
	audit_log("message.send", AUDIT_DENY, req->user, req->role, req->peer, d);
}

static void
deny(struct http_request *req, struct http_response *resp, int status, const char *to, size_t bytes,
     const char *why)
{
	audit_deny(req, to, bytes, why);
	http_response_error(resp, status, why);
}

/* The recipient's role, or -ENOENT: a user of the table, or (for admins) a demo identity
 * with a desktop. */
static int
recipient_role(struct messages *m, const char *to, enum users_role from)
{
	const struct users_user *u = m->p.users ? users_find(m->p.users, to) : NULL;
	if (u)
		return (int)u->role;
	if (from == USERS_ROLE_ADMIN && m->p.desktops && desktop_exists(m->p.desktops, to))
		return USERS_ROLE_DEMO;
	return -ENOENT;
}

static void
new_id(char *buf, size_t len)
{
	unsigned char r[8];
	ab_random_bytes(r, sizeof(r));
	snprintf(buf, len, "%013llx%02x%02x%02x%02x%02x%02x%02x%02x",
	         (unsigned long long)ab_wall_ms(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static int
api_send(struct http_request *req, struct http_response *resp, struct messages *m)
{
	enum users_role role;
	if (!caller(req, resp, &role) || !ready(m, resp))
		return 0;
	json_error_t jerr;
	json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	json_t *jto = json_object_get(body, "to"), *jtext = json_object_get(body, "text");
	const char *to = json_string_value(jto);
	size_t bytes = jtext ? json_string_length(jtext) : 0;
	/* every attempt takes a token, refused ones too: a flood of bad requests is a flood */
	struct mbox *sender = mbox_get(m, req->user);
	unsigned retry_s = 1;
	if (!messages_bucket_take(&sender->bucket, ab_now_ms(), (unsigned)m->cfg.rate_burst,
	                          (unsigned)m->cfg.rate_per_minute, &retry_s)) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", retry_s);
		char msg[128];
		snprintf(msg, sizeof(msg), "too many messages: try again in %u s", retry_s);
		audit_deny(req, to && users_name_valid(to) ? to : NULL, bytes, "rate limited");
		http_response_error(resp, 429, msg);
		http_response_add_header(resp, "Retry-After", ra);
		json_decref(body);
		return 0;
	}
	if (!json_is_object(body) || !json_is_string(jto) || !json_is_string(jtext) ||
	    json_object_size(body) != 2) {
		json_decref(body);
		deny(req, resp, 400, NULL, bytes,
		     "the body must be a JSON object {\"to\": user, \"text\": string}");
		return 0;
	}
	struct ab_err err = {0};
	if (!users_name_valid(to)) {
		deny(req, resp, 400, NULL, bytes, "'to' is not a user name");
		json_decref(body);
		return 0;
	}
	char to_buf[USERS_NAME_MAX + 1];
	snprintf(to_buf, sizeof(to_buf), "%s", to);
	to = to_buf;
	if (messages_text_check(json_string_value(jtext), bytes, (unsigned)m->cfg.max_chars, &err) <
	    0) {
		deny(req, resp, 400, to, bytes, err.msg);
		json_decref(body);
		return 0;
	}
	int to_role = recipient_role(m, to, role);
	const char *why = NULL;
	int status = 403;
	if (strcmp(to, req->user) == 0) {
		why = "you cannot write to yourself";
		status = 400;
	} else if (to_role < 0) {
		why = "no such user";
		status = 404;
	} else if ((why = messages_policy(role, (enum users_role)to_role, m->demo))) {
		status = 403;
	} else if (role != USERS_ROLE_ADMIN && mbox_find(m, to) &&
	           blocked(mbox_find(m, to), req->user)) {
		why = "the recipient does not accept your messages";
	}
	if (why) {
		deny(req, resp, status, to, bytes, why);
		json_decref(body);
		return 0;
	}
	char id[40];
	new_id(id, sizeof(id));
	json_int_t now = (json_int_t)(ab_wall_ms() / 1000);
	json_t *msg = json_pack("{sssssOsIsb}", "id", id, "from", req->user, "text", jtext, "time",
	                        now, "delivered", false);
	json_decref(body);
	struct mbox *b = mbox_get(m, to);
	b->demo = to_role == USERS_ROLE_DEMO && !(m->p.users && users_find(m->p.users, to));
	bool live = deliver(m, to, msg);
	json_object_set_new(msg, "delivered", json_boolean(live));
	if (!live)
		b->pending++;
	json_array_append(b->inbox, msg);
	mbox_trim(m, b);
	mbox_save(m, b);
	if (!live)
		arm_retry(m);
	audit_log("message.send", AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{sssssIsb}", "to", to, "id", id, "bytes", (json_int_t)bytes,
	                    "delivered", live));
	http_response_json(resp, 201,
	                   json_pack("{sssIsb}", "id", id, "time", now, "delivered", live));
	json_decref(msg);
	return 0;
}

/*
 * {"type":"message_send","id","to","text"} from `user`'s desktop (the wm's messages panel,
 * through the session: docs/control-channel.md): the sender is the desktop's owner, never a
 * field of the message. It goes through api_send() itself, so the rules are the browser's
 * (rate limit, who may write to whom, blocks, demo identities, the text check, the audit line,
 * with source "desktop"), and the answer goes back as {"type":"message_answer","id","status",
 * and "error" (+ "retry_s" on 429) or "delivered"}.
 */
static void
desktop_send_msg(void *data, const char *user, json_t *msg)
{
	struct messages *m = data;
	json_t *jid = json_object_get(msg, "id");
	json_t *ans;
	if (!json_is_integer(jid) || json_integer_value(jid) < 0) {
		ans = json_pack("{sisiss}", "id", -1, "status", 400, "error",
		                "a message_send needs an integer 'id' >= 0");
		desktop_send(m->p.desktops, user, ab_proto_msg("message_answer", ans));
		return;
	}
	json_t *body = json_object();
	if (json_object_get(msg, "to"))
		json_object_set(body, "to", json_object_get(msg, "to"));
	if (json_object_get(msg, "text"))
		json_object_set(body, "text", json_object_get(msg, "text"));
	_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	const struct users_user *u = m->p.users ? users_find(m->p.users, user) : NULL;
	struct http_request req = {.method = "POST",
	                           .path = "/api/messages",
	                           .query = "",
	                           .body = text,
	                           .body_len = strlen(text),
	                           .peer = "desktop"};
	snprintf(req.user, sizeof(req.user), "%s", user);
	/* not in the table: a demo identity (only demo desktops run for names outside it) */
	snprintf(req.role, sizeof(req.role), "%s", users_role_name(u ? u->role : USERS_ROLE_DEMO));
	struct http_response resp = {0};
	api_send(&req, &resp, m);
	json_t *rb = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	ans = json_pack("{sOsi}", "id", jid, "status", resp.status);
	if (resp.status == 201) {
		json_object_set(ans, "delivered", json_object_get(rb, "delivered"));
	} else {
		const char *e = json_string_value(json_object_get(rb, "error"));
		json_object_set_new(ans, "error", json_string(e ? e : "refused"));
		for (unsigned i = 0; i < resp.nheaders; i++)
			if (strcasecmp(resp.header_names[i], "Retry-After:") ==
			    0) /* stored with the colon */
				json_object_set_new(ans, "retry_s",
				                    json_integer(atoi(resp.header_values[i])));
	}
	json_decref(rb);
	http_response_clear(&resp);
	desktop_send(m->p.desktops, user, ab_proto_msg("message_answer", ans));
}

/* GET /api/messages?limit=N&before=ID: newest first; "next" is the id to pass as before. */
static int
api_inbox(struct http_request *req, struct http_response *resp, struct messages *m)
{
	enum users_role role;
	if (!caller(req, resp, &role) || !ready(m, resp))
		return 0;
	char lb[32], bb[96];
	long limit = 50;
	const char *lim = http_request_query(req, "limit", lb, sizeof(lb));
	const char *before = http_request_query(req, "before", bb, sizeof(bb));
	if (lim) {
		char *end = NULL;
		limit = strtol(lim, &end, 10);
		if (!lim[0] || *end || limit < 1 || limit > PAGE_MAX) {
			http_response_error(resp, 400, "limit must be 1..100");
			return 0;
		}
	}
	if (!before)
		before = "";
	struct mbox *b = mbox_find(m, req->user);
	size_t n = b ? json_array_size(b->inbox) : 0, start = n;
	if (before[0]) {
		for (start = 0; start < n; start++) {
			const char *id = json_string_value(
			    json_object_get(json_array_get(b->inbox, start), "id"));
			if (strcmp(id, before) == 0)
				break;
		}
		if (start == n) {
			http_response_error(resp, 400, "'before' is not a message of this inbox");
			return 0;
		}
	}
	json_t *out = json_array();
	size_t i = start;
	while (i > 0 && json_array_size(out) < (size_t)limit) {
		json_t *e = json_array_get(b->inbox, --i);
		json_array_append_new(out, json_pack("{sOsOsOsO}", "id", json_object_get(e, "id"),
		                                     "from", json_object_get(e, "from"), "text",
		                                     json_object_get(e, "text"), "time",
		                                     json_object_get(e, "time")));
	}
	json_t *next =
	    i > 0
	        ? json_string(json_string_value(json_object_get(json_array_get(b->inbox, i), "id")))
	        : json_null();
	http_response_json(
	    resp, 200,
	    json_pack("{soso sI}", "messages", out, "next", next, "total", (json_int_t)n));
	return 0;
}

static json_t *
blocks_json(struct mbox *b)
{
	return json_pack("{sO}", "blocks", b->blocks);
}

/* GET/POST/DELETE /api/messages/blocks */
static int
api_blocks(struct http_request *req, struct http_response *resp, struct messages *m)
{
	enum users_role role;
	if (!caller(req, resp, &role) || !ready(m, resp))
		return 0;
	struct mbox *b = mbox_get(m, req->user);
	if (strcmp(req->method, "GET") == 0) {
		http_response_json(resp, 200, blocks_json(b));
		return 0;
	}
	char who[USERS_NAME_MAX + 2] = "";
	bool add = strcmp(req->method, "POST") == 0;
	if (add) {
		json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
		const char *u = json_string_value(json_object_get(body, "user"));
		if (u && json_object_size(body) == 1)
			snprintf(who, sizeof(who), "%s", u);
		json_decref(body);
	} else {
		char qb[USERS_NAME_MAX + 8];
		const char *q = http_request_query(req, "user", qb, sizeof(qb));
		snprintf(who, sizeof(who), "%s", q ? q : "");
	}
	if (!users_name_valid(who) || strcmp(who, req->user) == 0) {
		http_response_error(resp, 400,
		                    add ? "the body must be {\"user\": another user's name}"
		                        : "?user= must name another user");
		return 0;
	}
	bool had = blocked(b, who);
	if (add && !had) {
		if (json_array_size(b->blocks) >= BLOCKS_MAX) {
			http_response_error(resp, 409, "you block 100 users already");
			return 0;
		}
		json_array_append_new(b->blocks, json_string(who));
	} else if (!add && had) {
		size_t i;
		json_t *v;
		json_array_foreach(b->blocks, i, v)
		{
			if (strcmp(json_string_value(v), who) == 0) {
				json_array_remove(b->blocks, i);
				break;
			}
		}
	}
	if (add != had) {
		mbox_save(m, b);
		audit_log(add ? "message.block" : "message.unblock", AUDIT_INFO, req->user,
		          req->role, req->peer, json_pack("{ss}", "blocked", who));
	}
	http_response_json(resp, 200, blocks_json(b));
	return 0;
}

/*
 * routes:
 *   GET    /api/messages
 *   POST   /api/messages
 *   GET    /api/messages/blocks
 *   POST   /api/messages/blocks
 *   DELETE /api/messages/blocks
 * end routes
 */
static int
messages_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct messages *m = data;
	const char *meth = req->method;
	if (strcmp(req->path, API_BLOCKS) == 0 &&
	    (!strcmp(meth, "GET") || !strcmp(meth, "POST") || !strcmp(meth, "DELETE")))
		return api_blocks(req, resp, m);
	if (strcmp(req->path, API_MESSAGES) == 0 && !strcmp(meth, "POST"))
		return api_send(req, resp, m);
	if (strcmp(req->path, API_MESSAGES) == 0 && !strcmp(meth, "GET"))
		return api_inbox(req, resp, m);
	http_response_error(resp, 405, "method not allowed");
	return 0;
}

int
messages_add_routes(struct messages *m, struct server *srv)
{
	if (server_route_add(srv, NULL, API_MESSAGES, messages_http, m) < 0 ||
	    server_route_add(srv, NULL, API_BLOCKS, messages_http, m) < 0)
		return -ENOMEM;
	return 0;
}

int
messages_check_config(json_t *config, struct ab_err *err)
{
	struct messages_config cfg;
	ab_config_init(fields, &cfg, &defaults, sizeof(cfg));
	if (config && ab_config_apply_json(fields, &cfg, config, err) < 0)
		return ab_err_wrap(err, "messages");
	return 0;
}

int
messages_new(struct ab_loop *loop, const struct messages_params *p, struct messages **ret,
             struct ab_err *err)
{
	struct messages_config cfg;
	ab_config_init(fields, &cfg, &defaults, sizeof(cfg));
	if (p->config && ab_config_apply_json(fields, &cfg, p->config, err) < 0)
		return ab_err_wrap(err, "messages");
	struct messages *m = ab_xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->p = *p;
	m->cfg = cfg;
	m->demo = strcmp(cfg.demo, "none") == 0 ? MESSAGES_DEMO_NONE : MESSAGES_DEMO_ADMINS;
	m->load_pending = 1;
	int r = kv_list(p->kv, KEY_PREFIX, NULL, 100, load_page, m, err);
	if (r < 0) {
		free(m);
		return ab_err_wrap(err, "loading the mailboxes");
	}
	if (p->desktops &&
	    desktop_manager_on_message(p->desktops, "message_send", desktop_send_msg, m) < 0)
		ab_warn("messages: no control-channel hook left: desktops cannot send messages");
	*ret = m;
	return 0;
}

void
messages_set_users(struct messages *m, const struct users_db *db)
{
	if (m)
		m->p.users = db;
}

void
messages_free(struct messages *m)
{
	if (!m)
		return;
	ab_loop_timer_cancel(m->loop, m->retry);
	/* the "message_send" hook stays: the desktop manager is freed first (main.c) */
	while (m->boxes) {
		struct mbox *b = m->boxes;
		m->boxes = b->next;
		json_decref(b->inbox);
		json_decref(b->blocks);
		free(b);
	}
	free(m);
}
