/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * share: view-only sharing links (docs/sharing.md).
 *
 * The owner of a desktop (a member or an admin) creates a time-limited link:
 *   POST   /api/share          {"expires_in_s": N} -> 201 {"id", "token", "url", "expires"}
 *   GET    /api/share          the caller's links, with their viewers
 *   DELETE /api/share/<id>     revokes: open viewers are cut off at once
 * Anyone holding the link (share.html#<token>) watches the desktop through the websocket
 * /ws/share/<token>, view-only (the proxy drops every input), signed in or not as
 * "share.require_sign_in" says. The token is 256 random bits, shown once; only its SHA-256
 * is kept (memory and the kv store, "share/<id>"), compared in constant time, and checked on
 * every connect. A timer at the next expiry cuts off the viewers of expired links; revocation
 * does it at once (server_ws_close_tagged, tag "share:<id>"). Each viewer is shown to the owner
 * (a notification on their desktop, the link's "viewers" list) and audited (share.view).
 * Audited: share.create, share.revoke, share.expire, share.view (grant and deny).
 */
#ifndef BROKER_SHARE_H
#define BROKER_SHARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"
#include "ab_loop.h"

struct kv;
struct server;
struct desktop_manager;
struct share;

struct share_params {
	json_t *config; /* the broker config's "share" object (borrowed), NULL: defaults */
	struct kv *kv;
	struct desktop_manager *desktops;
	struct server *srv;
};

int share_check_config(json_t *config, struct ab_err *err);
int share_new(struct ab_loop *loop, const struct share_params *p, struct share **ret,
              struct ab_err *err);
int share_add_routes(struct share *s, struct server *srv);
/* Cancels the timer and frees everything. NULL is fine. */
void share_free(struct share *s);
/*
 * The wall clock jumped (main.c's clock watch): each live link keeps its lifetime (it ends on
 * CLOCK_MONOTONIC) and is stored again with its expiry on the new wall clock, so a restart
 * and the kv's own expiration agree with it. NULL is fine.
 */
void share_clock_jumped(struct share *s);

/*
 * A viewer opens /ws/share/<token>: `viewer` is the signed-in user or NULL. On success fills
 * the owner (whose desktop to show, view-only) and the websocket's tag, audits the grant and
 * tells the owner's desktop. Else returns -errno with *ret_status (401 sign-in needed, 404
 * unknown or forged token, 410 expired or revoked, 409 the desktop is not running, 503 too
 * many viewers) and err's message; the denial is audited.
 */
int share_viewer(struct share *s, const char *token, const char *viewer, const char *peer,
                 char *ret_owner, size_t owner_len, char *ret_tag, size_t tag_len, int *ret_status,
                 struct ab_err *err);

/* Pure: SHA-256 of `token` as 64 hex characters (out: 65 bytes). */
void share_token_hash(const char *token, char out[65]);

#endif
