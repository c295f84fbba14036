/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auditsvc: the audit area above the ground floor (docs/audit.md). It registers one sink
 * with audit.c and from it
 *   - hands every event to the store (broker/audit/auditdb.h: SQLite, its own writer
 *     thread, a bounded queue, progress on an eventfd this loop watches),
 *   - checks the alert rules (alerts.h) and
 *   - feeds the live tails;
 * and serves the admins' API:
 *   GET /api/admin/audit          query (JSON page + cursor) or export (NDJSON, CSV; streamed)
 *   GET /api/admin/audit/tail     live tail, server-sent events
 *   GET /api/admin/audit/status   store, alerts and tail figures
 *   GET /api/admin/audit/report   the compliance report (broker/audit/auditreport.h)
 * The store failing (disk full, file unwritable, corrupt at start) never stops the broker:
 * the JSON-lines file stays complete, what the store could not take is counted and audited.
 */
#ifndef BROKER_AUDITSVC_H
#define BROKER_AUDITSVC_H

#include <jansson.h>

#include "ab_err.h"
#include "ab_loop.h"

struct auditsvc;
struct broker_config;
struct server;

/* Checks the "audit" keys that the table cannot (the alert rules, the webhook). */
int auditsvc_check_config(const struct broker_config *cfg, struct ab_err *err);

/*
 * Opens the store (a failure is logged and audited; the broker goes on without it), starts
 * the alerts, adds the routes and the /healthz figures, and registers the sink.
 */
int auditsvc_new(const struct broker_config *cfg, struct ab_loop *loop, struct server *srv,
                 struct auditsvc **ret, struct ab_err *err);
/*
 * The areas started after it (all borrowed; each may be NULL): the admins' desktops for the
 * alerts' notifications (admins: the users table's, or "local" without one) and the kv
 * store the events are mirrored to. auditsvc_detach() forgets them again: call it before
 * any of them is freed.
 */
struct desktop_manager;
struct users_db;
struct kv;
void auditsvc_attach(struct auditsvc *a, struct desktop_manager *desktops,
                     const struct users_db *users, struct kv *kv);
void auditsvc_detach(struct auditsvc *a);
/* The users table changed (the admin console): alerts go to its admins from now on. The table
 * is borrowed as in auditsvc_attach(). */
void auditsvc_set_users(struct auditsvc *a, const struct users_db *users);

/* Unregisters the sink, flushes the store (bounded), frees. Accepts NULL. */
void auditsvc_free(struct auditsvc *a);

/*
 * A compliance report (auditreport.h) for [from, to) (RFC 3339, a date, or ms since the
 * epoch; the query API's bounds) and optionally one user, asked for by by_user from source
 * (the admin socket: "argoboxctl"). Audited as admin.audit.report: grant with the summary,
 * deny with the reason. -EINVAL (bad input, err says which), -ETIMEDOUT (over the query
 * budget: narrow it), -ENOENT (no store), -EIO. *ret is a new reference.
 */
struct auditsvc_report_req {
	const char *from, *to, *user; /* user NULL or "": everyone */
	const char *format;           /* for the audit line only: "json", "csv", "html" */
	unsigned limit;               /* rows per list; 0: the default */
	const char *by_user, *by_role, *source;
};
int auditsvc_report(struct auditsvc *a, const struct auditsvc_report_req *rq, json_t **ret,
                    struct ab_err *err);

/*
 * A query for the admin socket (argoboxctl audit query) and POST /api/admin/audit/query:
 * `params` is an object of the query
 * API's parameters as strings (from, to, user, role, source, event, outcome, q, limit, cursor,
 * order; docs/audit.md), asked for by by_user from source. Audited as admin.audit.query: grant
 * with the filters and the count, deny with the reason. -EINVAL (bad input, err says which),
 * -ETIMEDOUT (over the query budget), -ENOENT (no store), -EIO. *ret is a new reference:
 * {"events": [...], "count": n, "next_cursor": "..." or null}.
 */
int auditsvc_query(struct auditsvc *a, json_t *params, const char *by_user, const char *source,
                   json_t **ret, struct ab_err *err);

/* {"store": {...}, "alerts": {...}, "tails": n} */
json_t *auditsvc_status(struct auditsvc *a);

#endif
