/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alerts: rules over the audit events (docs/audit.md, "Alerts"), checked on the broker's
 * loop as each event is logged, so an alert fires in the same loop round as its event:
 *
 *   {"name": "failed-sign-ins", "event": "auth.login", "outcome": "deny",
 *    "per": "user", "threshold": 5, "window_s": 300}
 *
 * `event` is a prefix ("admin." matches every admin action); `outcome` and `reason` (a
 * substring of detail.reason) narrow it; `threshold` events for one `per` key ("user",
 * "source" or "all") within `window_s` fire it (then the count starts again). A firing is
 * shown to the admins on their running desktops (the notify hook), audited ("audit.alert",
 * with who was notified) and POSTed to the webhook, signed with HMAC-SHA256, retried with
 * exponential backoff. One rule is built in: "audit-failing" fires on every failure of
 * the audit itself (audit.store: the store cannot write, dropped events; audit.mirror), at
 * most once a minute.
 */
#ifndef BROKER_ALERTS_H
#define BROKER_ALERTS_H

#include <jansson.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "audit.h"

struct alerts;
struct httpc;

struct alerts_webhook {
	const char *url;    /* "": no webhook */
	const char *secret; /* HMAC-SHA256 key */
	long timeout_ms;
	int max_attempts;
	int64_t first_retry_ms; /* doubles per attempt, at most 60 s */
};

/* Checks the rules and the webhook; with ret NULL only checks (--check-config). */
int alerts_new(json_t *rules, const struct alerts_webhook *wh, struct ab_loop *loop,
               struct httpc *httpc, struct alerts **ret, struct ab_err *err);
void alerts_free(struct alerts *a);

/*
 * The notify hook: called once per firing, on the loop, before the firing is audited. It
 * shows `title` and `body` to whoever should see them and appends the user names it reached
 * to `delivered` and those without a running desktop to `no_desktop` (both borrowed).
 */
typedef void (*alerts_notify_fn)(void *data, const char *title, const char *body, json_t *delivered,
                                 json_t *no_desktop);
void alerts_set_notify(struct alerts *a, alerts_notify_fn fn, void *data);

/* Every event, from the audit sink. */
void alerts_event(struct alerts *a, const struct audit_event *ev);

/* {"rules", "fired", "delivered", "failed", "pending", "dropped"} */
json_t *alerts_status(struct alerts *a);

/* "sha256=<hex>" of HMAC-SHA256(secret, timestamp "." body), into out (72 bytes). */
void alerts_signature(const char *secret, const char *timestamp, const char *body, char out[80]);

#endif
