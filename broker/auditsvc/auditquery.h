/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auditquery: the audit API's query string (GET /api/admin/audit[/tail], docs/audit.md),
 * parsed into an auditdb query. Pure (no HTTP, no store): auditsvc.c hands it each
 * parameter as lws split and URL-decoded it, tests/fuzz/fuzz_auditquery.c fuzzed ones.
 *
 *   struct auditquery f;
 *   auditquery_init(&f, tail);
 *   for each key=value: if (auditquery_param(&f, key, val, msg, len) < 0) -> 400 msg
 *   if (auditquery_finish(&f, msg, len) < 0) -> 400 msg
 *   f.q is the query; its strings point into f.
 */
#ifndef BROKER_AUDITQUERY_H
#define BROKER_AUDITQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditdb.h"

#define AUDITQUERY_PARAM_BYTES  256 /* one filter value */
#define AUDITQUERY_PAGE_DEFAULT 100
#define AUDITQUERY_PAGE_MAX     1000
#define AUDITQUERY_MIN_TIME_MS  946684800000LL /* 2000-01-01 */
#define AUDITQUERY_MAX_RANGE_MS (3660LL * 86400000)

enum auditquery_format {
	AUDITQUERY_JSON,
	AUDITQUERY_NDJSON,
	AUDITQUERY_CSV,
	AUDITQUERY_FORMAT_MAX,
};

struct auditquery {
	struct auditdb_query q;
	char user[AUDITQUERY_PARAM_BYTES + 1], role[AUDITQUERY_PARAM_BYTES + 1];
	char source[AUDITQUERY_PARAM_BYTES + 1], event[AUDITQUERY_PARAM_BYTES + 1];
	char text[AUDITQUERY_PARAM_BYTES + 1];
	enum auditquery_format format;
	bool tail; /* the live tail: no format, no order */
	bool have_from, have_to, have_limit, asc_set;
};

/* Everything, newest first, a page of AUDITQUERY_PAGE_DEFAULT. */
void auditquery_init(struct auditquery *f, bool tail);
/* One parameter. Returns 0, or -1 with msg saying why the request is a 400. */
int auditquery_param(struct auditquery *f, const char *key, const char *val, char *msg,
                     size_t msg_len);
/* After the last parameter: the range is checked, exports get their defaults. 0 or -1. */
int auditquery_finish(struct auditquery *f, char *msg, size_t msg_len);

/*
 * A from/to value: RFC 3339 ("2026-11-28T12:00:00.123Z", "...+01:00"), a date, or ms since
 * the epoch, between 2000-01-01 and a year from now. Returns true with *ret in ms, else false
 * with msg naming `key`.
 */
bool auditquery_time(const char *key, const char *val, int64_t *ret, char *msg, size_t msg_len);
/* [from, to) must be ordered and at most AUDITQUERY_MAX_RANGE_MS long. */
bool auditquery_range_ok(int64_t from, int64_t to, char *msg, size_t msg_len);

#endif
