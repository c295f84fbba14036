/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auditreport: the compliance report (docs/audit.md, "Compliance reports"). For a period
 * [from, to) and optionally one user, computed with SQL on the audit store (the indexes on
 * (event, ts), (user, ts) and (outcome, ts) keep each query to the rows it reports):
 *
 *   sign_ins          auth.login, auth.access, vncgw.auth, demo.start: method, source, outcome
 *   sessions          each desktop.start and the user's next desktop.stop: start, end, length
 *   admin_actions     every admin.* event, what came through the admin socket (source
 *                     "argoboxctl": argoboxctl services restart, ...), services reloads
 *   denials           every "deny", counted per event and reason, and listed
 *   file_transfers    completed uploads and served downloads: path, bytes
 *   service_restarts  service.restart, service.recovered, service.escalate
 *
 * The report is a JSON object (its shape in docs/audit.md); auditreport_render() turns it
 * into JSON, CSV (RFC 4180, every cell formula-safe: auditdb_csv_field) or a printable HTML
 * page (every string escaped, no script, no external resource).
 */
#ifndef BROKER_AUDITREPORT_H
#define BROKER_AUDITREPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "auditdb.h"

#define AUDITREPORT_ITEMS_DEFAULT 1000
#define AUDITREPORT_ITEMS_MAX     10000

struct auditreport_params {
	int64_t from_ms, to_ms; /* [from, to); both required, from < to */
	const char *user;       /* NULL: everyone */
	unsigned max_items;     /* rows per list (1..AUDITREPORT_ITEMS_MAX); 0: the default */
	int64_t now_ms;         /* the length of sessions still open ends here; 0: the clock */
};

/*
 * Builds the report (a new reference in *ret). The whole report shares the reader's budget:
 * -ETIMEDOUT when it scanned for longer (narrow the period or name a user), -EINVAL for bad
 * params, other -errno from the store. *ret is untouched on failure.
 */
int auditreport_build(struct auditdb_reader *r, const struct auditreport_params *p, json_t **ret,
                      struct ab_err *err);

enum auditreport_format {
	AUDITREPORT_JSON,
	AUDITREPORT_CSV,
	AUDITREPORT_HTML,
	AUDITREPORT_FORMAT_MAX,
};

/* "json", "csv", "html" -> the format; -1 when unknown. */
int auditreport_format_from_name(const char *name);
const char *auditreport_content_type(enum auditreport_format f);

/* The report as text (malloc'ed, NUL-terminated; its length in *ret_len). */
char *auditreport_render(json_t *report, enum auditreport_format f, size_t *ret_len);

#endif
