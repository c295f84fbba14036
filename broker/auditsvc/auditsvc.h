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
/* Unregisters the sink, flushes the store (bounded), frees. Accepts NULL. */
void auditsvc_free(struct auditsvc *a);

/* {"store": {...}, "alerts": {...}, "tails": n} */
json_t *auditsvc_status(struct auditsvc *a);

#endif
