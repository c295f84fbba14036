// SPDX-License-Identifier: GPL-2.0-or-later
/* Audit capture for the cmocka tests: see ab_test_audit.h. */
#include "ab_test_audit.h"

#include <string.h>

#include "ab_test.h"
#include "audit.h"

static json_t *events;

static void
on_audit(json_t *ev, void *data)
{
	(void)data;
	json_array_append(events, ev);
}

void
ab_test_audit_start(void)
{
	json_decref(events);
	events = json_array();
	assert_int_equal(audit_open("/dev/null", NULL), 0);
	audit_set_listener(on_audit, NULL);
}

json_t *
ab_test_audit_events(void)
{
	return events;
}

static bool
str_is(json_t *ev, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(ev, key));
	return v && strcmp(v, want) == 0;
}

int
ab_test_audit_count(const char *event, const char *outcome)
{
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(events, i, e)
	{
		if (str_is(e, "event", event) && (!outcome || str_is(e, "outcome", outcome)))
			n++;
	}
	return n;
}

void
ab_test_audit_stop(void)
{
	audit_set_listener(NULL, NULL);
	json_decref(events);
	events = NULL;
}
