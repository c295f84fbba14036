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
 * interleave, and are then handed to the registered sinks (audit_add_sink):
 * the indexed store, the alerts and the live tail live in broker/auditsvc/,
 * above this ground floor, and reach the events only through a sink, so this
 * library stays free of any dependency but jansson.
 */
#ifndef BROKER_AUDIT_H
#define BROKER_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One event as the sinks see it; everything is borrowed for the duration of the call. */
struct audit_event {
	int64_t time_ms;    /* the "time" field, in ms since the epoch (UTC) */
	const char *time;   /* RFC 3339 text, as in the line */
	const char *user;   /* NULL when null; never invalid UTF-8 */
	const char *role;   /* NULL when null */
	const char *source; /* NULL when null */
	const char *event;  /* never NULL */
	enum audit_outcome outcome;
	const char *detail; /* compact JSON text of the detail object */
	json_t *object;     /* the whole line as a JSON object */
	const char *line;   /* the line as written, without its newline */
	size_t line_len;
};

/*
 * A sink sees every event right after its line was written, on the thread that called
 * audit_log() (in the broker: its loop). A sink may call audit_log() itself (an alert that
 * is audited); that nested event reaches every sink too, after the current one returns.
 * At most AUDIT_MAX_SINKS; audit_add_sink returns -ENOSPC beyond that.
 */
#define AUDIT_MAX_SINKS 8
typedef void (*audit_sink_fn)(const struct audit_event *ev, void *data);
int audit_add_sink(audit_sink_fn fn, void *data);
/* Removes the sink registered with this fn and data (no-op when absent). */
void audit_remove_sink(audit_sink_fn fn, void *data);

/* A listener sees every event as a JSON object (borrowed): one sink, for tests. NULL removes it. */
typedef void (*audit_listener_fn)(json_t *event, void *data);
void audit_set_listener(audit_listener_fn fn, void *data);

/*
 * Fail-closed admin actions: the gate (registered by the store's owner, broker/auditsvc/)
 * says whether an admin action may go ahead now; false fills `why` (e.g. the store cannot
 * record it). Without a gate every action may. The admin socket and authz ask before an
 * admin action and refuse it, audited, when the gate says no.
 */
typedef bool (*audit_gate_fn)(void *data, char *why, size_t len);
void audit_set_admin_gate(audit_gate_fn fn, void *data);
bool audit_admin_allowed(char *why, size_t len);

/*
 * Grants asked for again and again (a scraper, a console refreshing thumbnails) are audited
 * the first time a key (who|what) is seen and then at most once every `every_ms`: true when
 * `key` is due now (and records it). `slots` is the caller's table of n entries, zeroed at
 * first; when full, the entry seen longest ago is reused.
 */
struct audit_seen {
	char key[96];
	int64_t at_ms;
};
bool audit_seen_due(struct audit_seen *slots, size_t n, const char *key, int64_t now_ms,
                    int64_t every_ms);

/* "grant" -> AUDIT_GRANT ...; -1 when unknown. */
int audit_outcome_from_name(const char *name);

const char *audit_outcome_name(enum audit_outcome o);

#endif
