/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_metrics: counters, gauges, histograms, clearing, the table's bound, label escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ab_metrics.h"

struct found {
	const char *name, *labels;
	const struct ab_metric_sample *s;
	struct ab_metric_sample copy;
	int n;
};

static void
find(const struct ab_metric_sample *s, void *data)
{
	struct found *f = data;
	f->n++;
	if (strcmp(s->name, f->name) == 0 && strcmp(s->labels, f->labels) == 0)
		f->copy = *s, f->s = &f->copy;
}

static const struct ab_metric_sample *
get(struct found *f, const char *name, const char *labels)
{
	*f = (struct found){.name = name, .labels = labels};
	ab_metrics_foreach(find, f);
	return f->s;
}

static int
reset(void **state)
{
	ab_metrics_reset();
	return 0;
}

static void
counts_and_gauges(void **state)
{
	struct found f;
	ab_metrics_count("c_total", "a=\"1\"", 2);
	ab_metrics_count("c_total", "a=\"1\"", 3);
	ab_metrics_count("c_total", "a=\"1\"", -1); /* a counter never goes down */
	ab_metrics_count("c_total", "a=\"2\"", 1);
	assert_int_equal((int)get(&f, "c_total", "a=\"1\"")->value, 5);
	assert_int_equal(f.copy.kind, AB_METRIC_COUNTER);
	assert_int_equal((int)get(&f, "c_total", "a=\"2\"")->value, 1);
	ab_metrics_gauge_add("g", NULL, 1);
	ab_metrics_gauge_add("g", "", -3);
	assert_int_equal((int)get(&f, "g", "")->value, -2);
	ab_metrics_gauge_set("g", "", 9);
	assert_int_equal((int)get(&f, "g", "")->value, 9);
	/* the same series as another kind is left alone */
	ab_metrics_observe("g", "", 1);
	assert_int_equal(get(&f, "g", "")->kind, AB_METRIC_GAUGE);
	ab_metrics_clear("c_total");
	assert_null(get(&f, "c_total", "a=\"1\""));
	assert_int_equal(f.n, 1);
}

static void
histogram_buckets_are_cumulative(void **state)
{
	struct found f;
	ab_metrics_observe("h_seconds", "op=\"get\"", 0.0001);
	ab_metrics_observe("h_seconds", "op=\"get\"", 0.003);
	ab_metrics_observe("h_seconds", "op=\"get\"", 10);
	const struct ab_metric_sample *s = get(&f, "h_seconds", "op=\"get\"");
	assert_non_null(s);
	assert_int_equal(s->buckets[0], 1);                      /* <= 0.5 ms */
	assert_int_equal(s->buckets[4], 2);                      /* <= 10 ms */
	assert_int_equal(s->buckets[AB_METRICS_BUCKETS - 1], 2); /* <= 2.5 s */
	assert_int_equal(s->buckets[AB_METRICS_BUCKETS], 3);     /* +Inf */
	assert_true(s->sum > 10.003 && s->sum < 10.0032);
}

static void
table_is_bounded(void **state)
{
	char name[32];
	for (int i = 0; i < AB_METRICS_MAX + 5; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		ab_metrics_count(name, "", 1);
	}
	assert_int_equal(ab_metrics_dropped(), 5);
}

static void
labels_are_escaped(void **state)
{
	char b[64];
	assert_string_equal(ab_metrics_label(b, sizeof(b), "service", "a\"b\\c\nd"),
	                    "service=\"a\\\"b\\\\c\\nd\"");
	/* cut, but still closed */
	assert_string_equal(ab_metrics_label(b, 12, "k", "abcdefghijkl"), "k=\"abcde\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(counts_and_gauges, reset),
	    cmocka_unit_test_setup(histogram_buckets_are_cumulative, reset),
	    cmocka_unit_test_setup(table_is_bounded, reset),
	    cmocka_unit_test_setup(labels_are_escaped, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
