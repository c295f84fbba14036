/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_metrics: the process's counters, gauges and histograms, kept where the events happen
 * (a sign-in, a kv operation, an audit event, a VNC client) and read by the broker's
 * GET /metrics (broker/admin/metrics.c renders them in the Prometheus text format, with the
 * HELP and TYPE of each family; docs/metrics.md lists them).
 *
 * A series is a metric name ("argobox_signins_total") and its labels, written as in the
 * exposition format without braces ("method=\"local\",result=\"ok\"", "" for none; values
 * escaped with ab_metrics_label). Series are created on first use; there are at most
 * AB_METRICS_MAX of them (beyond that an update is dropped and counted in
 * ab_metrics_dropped()). Updates take a mutex, so any thread may make them.
 */
#ifndef AB_METRICS_H
#define AB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define AB_METRICS_MAX     512
#define AB_METRICS_BUCKETS 10

/* The upper bounds (seconds) of every histogram's buckets; +Inf is implicit. */
extern const double ab_metrics_bounds[AB_METRICS_BUCKETS];

enum ab_metric_kind {
	AB_METRIC_COUNTER,
	AB_METRIC_GAUGE,
	AB_METRIC_HISTOGRAM,
	AB_METRIC_KIND_MAX,
};

struct ab_metric_sample {
	const char *name;
	const char *labels;
	enum ab_metric_kind kind;
	double value;                             /* counter, gauge */
	uint64_t buckets[AB_METRICS_BUCKETS + 1]; /* histogram: cumulative counts, last +Inf */
	double sum;                               /* histogram */
};

/* Adds v (>= 0 for counters) to a counter or a gauge. */
void ab_metrics_count(const char *name, const char *labels, double v);
void ab_metrics_gauge_add(const char *name, const char *labels, double v);
void ab_metrics_gauge_set(const char *name, const char *labels, double v);
/* Records one observation (seconds) in a histogram. */
void ab_metrics_observe(const char *name, const char *labels, double seconds);
/* Removes every series of `name` (gauges recomputed at each scrape). */
void ab_metrics_clear(const char *name);

/* Calls fn for each series, in creation order, under the lock (fn must not update metrics). */
typedef void (*ab_metrics_fn)(const struct ab_metric_sample *s, void *data);
void ab_metrics_foreach(ab_metrics_fn fn, void *data);
uint64_t ab_metrics_dropped(void);
/* Forgets every series (tests). */
void ab_metrics_reset(void);

/*
 * Writes key="value" into buf (size bytes), the value escaped as the exposition format
 * wants (\\, \", \n). Returns buf; a value that does not fit is cut.
 */
char *ab_metrics_label(char *buf, size_t size, const char *key, const char *value);

#endif
