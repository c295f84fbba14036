/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_auditquery: the audit API's query string (broker/auditsvc/auditquery.c), which an
 * admin's browser or script sends to GET /api/admin/audit[/tail]: the input is up to 16
 * "key=value" parameters separated by NULs (as lws hands them over, URL-decoded), the
 * first byte says whether it is the live tail. Checks: an accepted query has a range of at
 * most 3660 days inside [2000-01-01, a year from now], a limit within the page size (or 0 for
 * an export), a known outcome, a cursor past (0, 0) if any, and filter strings within bounds.
 */
#include <time.h>

#include "audit.h"
#include "auditquery.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	bool tail = data[0] & 1;
	char *f[16], *block;
	fuzz_split(data + 1, size - 1, f, 16, &block);
	struct auditquery q;
	char msg[256] = "";
	auditquery_init(&q, tail);
	int r = 0;
	for (size_t i = 0; i < 16 && r == 0 && f[i][0]; i++) {
		if (strlen(f[i]) > AUDITQUERY_PARAM_BYTES + 16)
			break; /* auditsvc.c refuses these before parsing */
		char *eq = strchr(f[i], '=');
		const char *val = "";
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		r = auditquery_param(&q, f[i], val, msg, sizeof(msg));
	}
	if (r == 0)
		r = auditquery_finish(&q, msg, sizeof(msg));
	if (r < 0) {
		FUZZ_CHECK(msg[0]);
	} else {
		int64_t now_ms = (int64_t)time(NULL) * 1000;
		if (q.q.from_ms)
			FUZZ_CHECK(q.q.from_ms >= AUDITQUERY_MIN_TIME_MS &&
			           q.q.from_ms <= now_ms + 86400000LL * 367);
		if (q.q.to_ms)
			FUZZ_CHECK(q.q.to_ms >= AUDITQUERY_MIN_TIME_MS &&
			           q.q.to_ms <= now_ms + 86400000LL * 367);
		if (q.have_from && q.have_to)
			FUZZ_CHECK(q.q.from_ms < q.q.to_ms &&
			           q.q.to_ms - q.q.from_ms <= AUDITQUERY_MAX_RANGE_MS);
		FUZZ_CHECK(q.q.limit <= AUDITQUERY_PAGE_MAX);
		FUZZ_CHECK(q.q.outcome >= -1 && q.q.outcome < AUDIT_OUTCOME_MAX);
		FUZZ_CHECK(q.q.after_ts >= 0 && (q.q.after_seq > 0 || q.q.after_ts == 0));
		FUZZ_CHECK(!q.q.user || strlen(q.q.user) <= AUDITQUERY_PARAM_BYTES);
	}
	free(block);
	return 0;
}
