/* SPDX-License-Identifier: GPL-2.0-or-later */
/* auditquery: the audit API's query string (see auditquery.h). */
#include "auditquery.h"
#include "audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
parse_ms(const char *s, int64_t *ret)
{
	char *end;
	if (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (errno || *end)
			return false;
		*ret = v;
		return true;
	}
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p) {
		memset(&tm, 0, sizeof(tm));
		p = strptime(s, "%Y-%m-%d", &tm);
		if (!p || *p)
			return false;
	}
	int ms = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (!digits)
			return false;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/*
		 * Exactly "+HH:MM". sscanf's "%2d:%2d" also took "+1:2" (and signs, blanks), and
		 * the 6 bytes skipped then ran past the end of the string (found by fuzzing).
		 */
		if (!digit(p[1]) || !digit(p[2]) || p[3] != ':' || !digit(p[4]) || !digit(p[5]))
			return false;
		int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
		if (hh > 23 || mm > 59)
			return false;
		off = (hh * 60 + mm) * 60000LL * (*p == '+' ? 1 : -1);
		p += 6;
	}
	if (*p)
		return false;
	time_t t = timegm(&tm);
	*ret = (int64_t)t * 1000 + ms - off;
	return true;
}

bool
auditquery_time(const char *key, const char *val, int64_t *ret, char *msg, size_t msg_len)
{
	int64_t ms;
	if (!parse_ms(val, &ms) || ms < AUDITQUERY_MIN_TIME_MS ||
	    ms > (int64_t)time(NULL) * 1000 + 86400000LL * 366) {
		snprintf(msg, msg_len,
		         "%.16s: '%.64s' is not a time between 2000-01-01 and a year from now "
		         "(RFC 3339, a date, or ms since the epoch)",
		         key, val);
		return false;
	}
	*ret = ms;
	return true;
}

bool
auditquery_range_ok(int64_t from, int64_t to, char *msg, size_t msg_len)
{
	if (from >= to) {
		snprintf(msg, msg_len, "from must be before to");
		return false;
	}
	if (to - from > AUDITQUERY_MAX_RANGE_MS) {
		snprintf(msg, msg_len, "the range is longer than 3660 days");
		return false;
	}
	return true;
}

void
auditquery_init(struct auditquery *f, bool tail)
{
	memset(f, 0, sizeof(*f));
	f->q.outcome = -1;
	f->q.limit = AUDITQUERY_PAGE_DEFAULT;
	f->tail = tail;
}

int
auditquery_param(struct auditquery *f, const char *key, const char *val, char *msg, size_t msg_len)
{
	char *dst = NULL;
	if (strcmp(key, "user") == 0) {
		dst = f->user;
		f->q.user = f->user;
	} else if (strcmp(key, "role") == 0) {
		dst = f->role;
		f->q.role = f->role;
	} else if (strcmp(key, "source") == 0) {
		dst = f->source;
		f->q.source = f->source;
	} else if (strcmp(key, "event") == 0) {
		dst = f->event;
		f->q.event_prefix = f->event;
	} else if (strcmp(key, "q") == 0) {
		dst = f->text;
		f->q.text = f->text;
	} else if (strcmp(key, "outcome") == 0) {
		f->q.outcome = audit_outcome_from_name(val);
		if (f->q.outcome < 0) {
			snprintf(msg, msg_len, "outcome: grant, deny, info or failure");
			return -1;
		}
	} else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
		int64_t ms;
		if (!auditquery_time(key, val, &ms, msg, msg_len))
			return -1;
		if (key[0] == 'f') {
			f->q.from_ms = ms;
			f->have_from = true;
		} else {
			f->q.to_ms = ms;
			f->have_to = true;
		}
	} else if (strcmp(key, "cursor") == 0) {
		long long ts, seq;
		char tail_c;
		if (sscanf(val, "%lld-%lld%c", &ts, &seq, &tail_c) != 2 || ts < 0 || seq <= 0) {
			snprintf(msg, msg_len, "cursor: not a cursor this API gave out");
			return -1;
		}
		f->q.after_ts = ts;
		f->q.after_seq = seq;
	} else if (strcmp(key, "limit") == 0) {
		char *end;
		long v = strtol(val, &end, 10);
		if (*end || v < 1 || v > AUDITQUERY_PAGE_MAX) {
			snprintf(msg, msg_len, "limit: 1 to %d", AUDITQUERY_PAGE_MAX);
			return -1;
		}
		f->q.limit = (unsigned)v;
		f->have_limit = true;
	} else if (strcmp(key, "format") == 0 && !f->tail) {
		if (strcmp(val, "json") == 0)
			f->format = AUDITQUERY_JSON;
		else if (strcmp(val, "ndjson") == 0)
			f->format = AUDITQUERY_NDJSON;
		else if (strcmp(val, "csv") == 0)
			f->format = AUDITQUERY_CSV;
		else {
			snprintf(msg, msg_len, "format: json, ndjson or csv");
			return -1;
		}
	} else if (strcmp(key, "order") == 0 && !f->tail) {
		if (strcmp(val, "asc") != 0 && strcmp(val, "desc") != 0) {
			snprintf(msg, msg_len, "order: asc or desc");
			return -1;
		}
		f->q.ascending = val[0] == 'a';
		f->asc_set = true;
	} else {
		snprintf(msg, msg_len, "unknown query parameter '%.32s'", key);
		return -1;
	}
	if (dst)
		snprintf(dst, AUDITQUERY_PARAM_BYTES + 1, "%s", val);
	return 0;
}

int
auditquery_finish(struct auditquery *f, char *msg, size_t msg_len)
{
	if (f->have_from && f->have_to &&
	    !auditquery_range_ok(f->q.from_ms, f->q.to_ms, msg, msg_len))
		return -1;
	if (f->format != AUDITQUERY_JSON) {
		if (!f->have_limit)
			f->q.limit = 0; /* an export has everything that matches */
		if (!f->asc_set)
			f->q.ascending = true; /* oldest first */
	}
	return 0;
}
