/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit: one JSON line per security-relevant decision (docs/audit.md).
 *
 *   {"time":"2026-11-28T12:00:00.123Z","user":"bea","role":"member",
 *    "source":"127.0.0.1","event":"auth.login","outcome":"deny",
 *    "detail":{"reason":"bad password"}}
 *
 * Every grant or denial (login, desktop start/stop, network policy,
 * container and privilege events, admin actions) goes through audit_log().
 * Lines are appended with one write(2) each, so concurrent writers never
 * interleave, and are also handed to an optional in-process listener (the
 * admin console, tests).
 */
#ifndef BROKER_AUDIT_H
#define BROKER_AUDIT_H

#include <jansson.h>

#include "ab_err.h"

enum audit_outcome {
	AUDIT_GRANT,   /* "grant": something was allowed */
	AUDIT_DENY,    /* "deny": something was refused */
	AUDIT_INFO,    /* "info": a lifecycle fact (started, stopped, expired) */
	AUDIT_FAILURE, /* "failure": something broke (container died, policy not applied) */
	AUDIT_OUTCOME_MAX,
};

/*
 * Opens the audit log at `path` (created 0600, appended). With path NULL or
 * "-", lines go to stderr. May be called again to reopen (log rotation).
 */
int audit_open(const char *path, struct ab_err *err);
void audit_close(void);

/*
 * Records one event. `user`, `role`, `source` may be NULL (written as null).
 * `detail` is stolen and may be NULL. Strings that are not valid UTF-8 are
 * replaced by a marker rather than dropping the event.
 */
void audit_log(const char *event, enum audit_outcome outcome, const char *user, const char *role,
               const char *source, json_t *detail);

/* A listener sees every event as a JSON object (borrowed) right after it is written. */
typedef void (*audit_listener_fn)(json_t *event, void *data);
void audit_set_listener(audit_listener_fn fn, void *data);

const char *audit_outcome_name(enum audit_outcome o);

#endif
