/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * messages: short messages between users (docs/messages.md).
 *
 *   POST   /api/messages          {"to","text"} -> 201 {"id","time","delivered"}
 *   GET    /api/messages          the caller's inbox, newest first, paged (?limit=&before=)
 *   GET    /api/messages/blocks   the users the caller blocks
 *   POST   /api/messages/blocks   {"user"}: block one
 *   DELETE /api/messages/blocks   ?user=NAME: unblock one
 *
 * Who may write to whom: admins to anyone (also a demo identity with a desktop), members to
 * members and admins, demo identities to admins only ("messages.demo": "admins") or to
 * nobody ("none"). A recipient's block stops everyone but admins. Each sender has a token
 * bucket (rate_burst, rate_per_minute) that every attempt draws on, refused ones too: beyond
 * it, 429 with Retry-After.
 *
 * Each user's mailbox (inbox + blocks) is one kv value, "messages/<user>", written whole
 * (atomically) on every change and loaded into memory at start. A message goes at once to
 * the recipient's running desktop (control message "message": the wm's messages panel and a
 * notification); one that finds no desktop is handed over when the recipient's desktop is
 * next up (checked every second while any is waiting). Audited as metadata (who, to whom,
 * when, size: message.send, message.deliver, message.block), never the text.
 */
#ifndef BROKER_MESSAGES_H
#define BROKER_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "users.h"

struct kv;
struct server;
struct desktop_manager;
struct messages;

struct messages_params {
	json_t *config; /* the broker config's "messages" object (borrowed), NULL: defaults */
	struct kv *kv;
	struct desktop_manager *desktops;
	const struct users_db *users; /* NULL: no user table (nobody can be written to) */
};

int messages_new(struct ab_loop *loop, const struct messages_params *p, struct messages **ret,
                 struct ab_err *err);
/* Validates the "messages" config object (--check-config); err names the bad key. */
int messages_check_config(json_t *config, struct ab_err *err);
int messages_add_routes(struct messages *m, struct server *srv);
/* The user table changed (the admin console): recipients and roles come from db (borrowed,
 * kept alive by the caller until the next call). NULL m is fine. */
void messages_set_users(struct messages *m, const struct users_db *db);
/* Cancels the timer and frees everything; pending kv writes finish without it. NULL is fine.
 * Call it after desktop_manager_free(): the "message_send" hook is left registered. */
void messages_free(struct messages *m);

/* ---- pure parts (unit tests) ---- */

/*
 * A message's text: valid UTF-8, 1..max_chars characters (code points), not only white
 * space, no control characters but newline and tab. Returns 0 or -EINVAL with err naming
 * what is wrong.
 */
int messages_text_check(const char *text, size_t len, unsigned max_chars, struct ab_err *err);

enum messages_demo_policy {
	MESSAGES_DEMO_ADMINS,
	MESSAGES_DEMO_NONE,
	MESSAGES_DEMO_MAX,
};

/* NULL when `from` may write to `to`, else why not (for the 403 and the audit line). */
const char *messages_policy(enum users_role from, enum users_role to,
                            enum messages_demo_policy demo);

/* A sender's token bucket: burst tokens, refilled at per_minute a minute. */
struct messages_bucket {
	double tokens;
	int64_t last_ms; /* 0: never used (full) */
};
/* Takes one token at now_ms: true, or false with *ret_retry_s (>= 1) until the next. */
bool messages_bucket_take(struct messages_bucket *b, int64_t now_ms, unsigned burst,
                          unsigned per_minute, unsigned *ret_retry_s);

#endif
