/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thumbs: live thumbnails of the desktops for the admin console.
 *
 *   GET /api/admin/desktops/<user>/thumbnail[?width=N]   (admins: authz AUTHZ_ADMIN_THUMB)
 *     -> 200 image/jpeg, N (32..640, default 240) pixels wide, a few KB
 *
 * The broker asks the desktop's session on its control channel ({"type":"thumb","id",
 * "width"}; the session answers {"type":"thumb","id","format":"jpeg","width","height",
 * "data":<base64>}, docs/control-channel.md) and keeps the answer for a few seconds: a
 * thumbnail younger than THUMBS_FRESH_MS is served as it is; an older one (up to
 * THUMBS_STALE_MS) is served while a new one is asked for; with none, the request waits for
 * the session's answer (at most THUMBS_TIMEOUT_MS; the 200 is already out then, so a session
 * that does not answer gives an empty body). Nothing is asked unless someone asks here: a
 * desktop nobody watches pays nothing.
 *
 * Audit: grants as admin.thumbnail, once per admin, desktop and hour (a console refreshes
 * every few seconds); denials by authz (a member: 403) and here (a desktop that is not
 * ready: 404, audited info). argobox_thumbnails_total{result} counts them (docs/metrics.md).
 */
#ifndef BROKER_THUMBS_H
#define BROKER_THUMBS_H

#include "ab_err.h"
#include "ab_loop.h"

#define THUMBS_FRESH_MS      2000
#define THUMBS_STALE_MS      30000
#define THUMBS_TIMEOUT_MS    3000
#define THUMBS_MAX_BYTES     (256u << 10)
#define THUMBS_WIDTH_DEFAULT 240

struct thumbs;
struct server;
struct desktop_manager;

/* Adds the route and the desktops' "thumb" message hook. Borrowed until thumbs_free(). */
int thumbs_new(struct ab_loop *loop, struct server *srv, struct desktop_manager *desktops,
               struct thumbs **ret, struct ab_err *err);
/* After server_close() (no stream is left), before the desktops go. Accepts NULL. */
void thumbs_free(struct thumbs *t);

#endif
