/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit API's query string (broker/auditsvc/auditquery.c): filters, times in every form
 * the API takes, ranges, limits, cursors, formats; and the refusals, each with its message.
 * test_offset_bounds is the regression test of fuzz_auditquery's finding: a time offset that
 * sscanf's "%2d:%2d" took although shorter than "+HH:MM" ("+1:2") sent the parser 6 bytes on,
 * past the end of the value (a heap read overflow).
 */
#include "ab_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auditquery.h"

/* Parses NULL-terminated "key=value" strings; returns what auditquery returned, msg filled. */
static int
parse(struct auditquery *q, bool tail, char *msg, size_t len, const char *const *params)
{
	auditquery_init(q, tail);
	msg[0] = '\0';
	for (; *params; params++) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", *params);
		char *eq = strchr(buf, '=');
		const char *val = "";
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		if (auditquery_param(q, buf, val, msg, len) < 0)
			return -1;
	}
	return auditquery_finish(q, msg, len);
}

#define PARSE(q, tail, msg, ...)                                                                   \
	parse(q, tail, msg, sizeof(msg), (const char *const[]){__VA_ARGS__, NULL})

static void
test_filters(void **state)
{
	struct auditquery q;
	char msg[256];
	assert_int_equal(PARSE(&q, false, msg, "user=bea", "role=member", "source=10.0.0.1",
	                       "event=auth.", "q=password", "outcome=deny", "limit=50",
	                       "order=asc"),
	                 0);
	assert_string_equal(q.q.user, "bea");
	assert_string_equal(q.q.role, "member");
	assert_string_equal(q.q.source, "10.0.0.1");
	assert_string_equal(q.q.event_prefix, "auth.");
	assert_string_equal(q.q.text, "password");
	assert_int_equal(q.q.outcome, AUDIT_DENY);
	assert_int_equal(q.q.limit, 50);
	assert_true(q.q.ascending);
	assert_int_equal(q.format, AUDITQUERY_JSON);
	/* defaults: everything, newest first, one page */
	assert_int_equal(PARSE(&q, false, msg, "q="), 0);
	assert_int_equal(q.q.outcome, -1);
	assert_int_equal(q.q.limit, AUDITQUERY_PAGE_DEFAULT);
	assert_false(q.q.ascending);
	/* an export: everything that matches, oldest first */
	assert_int_equal(PARSE(&q, false, msg, "format=csv"), 0);
	assert_int_equal(q.format, AUDITQUERY_CSV);
	assert_int_equal(q.q.limit, 0);
	assert_true(q.q.ascending);
}

static void
test_times(void **state)
{
	struct auditquery q;
	char msg[256];
	assert_int_equal(PARSE(&q, false, msg, "from=2026-11-28T12:00:00.123Z", "to=2026-11-29"),
	                 0);
	assert_int_equal(q.q.from_ms, 1795867200123LL);
	assert_int_equal(q.q.to_ms, 1795910400000LL);
	assert_int_equal(PARSE(&q, false, msg, "from=2026-11-28T12:00:00+01:30"), 0);
	assert_int_equal(q.q.from_ms, 1795867200000LL - 90 * 60000LL);
	assert_int_equal(PARSE(&q, false, msg, "from=2026-11-28T12:00:00-02:00"), 0);
	assert_int_equal(q.q.from_ms, 1795867200000LL + 120 * 60000LL);
	assert_int_equal(PARSE(&q, false, msg, "from=1795867200000"), 0);
	assert_int_equal(q.q.from_ms, 1795867200000LL);
	assert_int_equal(PARSE(&q, false, msg, "from=1999-12-31"), -1);
	assert_non_null(strstr(msg, "from: '1999-12-31' is not a time"));
	assert_int_equal(PARSE(&q, false, msg, "from=2026-11-29", "to=2026-11-28"), -1);
	assert_string_equal(msg, "from must be before to");
	assert_int_equal(PARSE(&q, false, msg, "from=2001-01-01", "to=2026-11-28"), -1);
	assert_string_equal(msg, "the range is longer than 3660 days");
}

static void
test_offset_bounds(void **state)
{
	struct auditquery q;
	char msg[256];
	/* each value in a heap block of its own size, so ASan sees a read past its end */
	static const char *const bad[] = {
	    "2026-11-28T11:00:00.123911111111111+1:2", /* the fuzzer's input */
	    "2026-11-28T11:00:00+1:2",
	    "2026-11-28T11:00:00+",
	    "2026-11-28T11:00:00-0",
	    "2026-11-28T11:00:00+01:",
	    "2026-11-28T11:00:00+01:3",
	    "2026-11-28T11:00:00+-1:30",
	    "2026-11-28T11:00:00+ 1:30",
	    "2026-11-28T11:00:00+24:00",
	    "2026-11-28T11:00:00+01:60",
	    "2026-11-28T11:00:00+01:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *v = strdup(bad[i]);
		int64_t ms;
		assert_false(auditquery_time("from", v, &ms, msg, sizeof(msg)));
		assert_non_null(strstr(msg, "is not a time"));
		free(v);
	}
	assert_int_equal(PARSE(&q, false, msg, "from=2026-11-28T11:00:00+1:2"), -1);
}

static void
test_refusals(void **state)
{
	struct auditquery q;
	char msg[256];
	assert_int_equal(PARSE(&q, false, msg, "outcome=maybe"), -1);
	assert_string_equal(msg, "outcome: grant, deny, info or failure");
	assert_int_equal(PARSE(&q, false, msg, "limit=0"), -1);
	assert_string_equal(msg, "limit: 1 to 1000");
	assert_int_equal(PARSE(&q, false, msg, "limit=1001"), -1);
	assert_int_equal(PARSE(&q, false, msg, "limit=5x"), -1);
	assert_int_equal(PARSE(&q, false, msg, "cursor=12-0"), -1);
	assert_string_equal(msg, "cursor: not a cursor this API gave out");
	assert_int_equal(PARSE(&q, false, msg, "cursor=12-3x"), -1);
	assert_int_equal(PARSE(&q, false, msg, "cursor=12-3"), 0);
	assert_int_equal(q.q.after_ts, 12);
	assert_int_equal(q.q.after_seq, 3);
	assert_int_equal(PARSE(&q, false, msg, "format=xml"), -1);
	assert_string_equal(msg, "format: json, ndjson or csv");
	assert_int_equal(PARSE(&q, false, msg, "order=up"), -1);
	assert_int_equal(PARSE(&q, false, msg, "users=bea"), -1);
	assert_string_equal(msg, "unknown query parameter 'users'");
	/* the live tail has no format or order */
	assert_int_equal(PARSE(&q, true, msg, "format=csv"), -1);
	assert_string_equal(msg, "unknown query parameter 'format'");
	assert_int_equal(PARSE(&q, true, msg, "user=bea", "event=desktop."), 0);
}

AB_TEST_MAIN(NULL, NULL, test_filters, test_times, test_offset_bounds, test_refusals)
