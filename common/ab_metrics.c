/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_metrics: process-wide counters, gauges and histograms (see ab_metrics.h). */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "ab_metrics.h"
#include "ab_util.h"

const double ab_metrics_bounds[AB_METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.5,   2.5};

struct series {
	char *name, *labels;
	struct ab_metric_sample s;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series table[AB_METRICS_MAX];
static size_t n_series;
static uint64_t dropped;

/* The series (name, labels) of `kind`, created when new; NULL when the table is full. */
static struct ab_metric_sample *
series_get(const char *name, const char *labels, enum ab_metric_kind kind)
{
	if (!labels)
		labels = "";
	for (size_t i = 0; i < n_series; i++)
		if (strcmp(table[i].name, name) == 0 && strcmp(table[i].labels, labels) == 0)
			return table[i].s.kind == kind ? &table[i].s : NULL;
	if (n_series == AB_METRICS_MAX) {
		dropped++;
		return NULL;
	}
	struct series *e = &table[n_series++];
	e->name = ab_xstrdup(name);
	e->labels = ab_xstrdup(labels);
	e->s = (struct ab_metric_sample){.name = e->name, .labels = e->labels, .kind = kind};
	return &e->s;
}

static void
update(const char *name, const char *labels, enum ab_metric_kind kind, double v, bool set)
{
	pthread_mutex_lock(&lock);
	struct ab_metric_sample *s = series_get(name, labels, kind);
	if (s)
		s->value = set ? v : s->value + v;
	pthread_mutex_unlock(&lock);
}

void
ab_metrics_count(const char *name, const char *labels, double v)
{
	if (v >= 0)
		update(name, labels, AB_METRIC_COUNTER, v, false);
}

void
ab_metrics_gauge_add(const char *name, const char *labels, double v)
{
	update(name, labels, AB_METRIC_GAUGE, v, false);
}

void
ab_metrics_gauge_set(const char *name, const char *labels, double v)
{
	update(name, labels, AB_METRIC_GAUGE, v, true);
}

void
ab_metrics_observe(const char *name, const char *labels, double seconds)
{
	pthread_mutex_lock(&lock);
	struct ab_metric_sample *s = series_get(name, labels, AB_METRIC_HISTOGRAM);
	if (s) {
		for (size_t b = 0; b < AB_METRICS_BUCKETS; b++)
			if (seconds <= ab_metrics_bounds[b])
				s->buckets[b]++;
		s->buckets[AB_METRICS_BUCKETS]++;
		s->sum += seconds;
	}
	pthread_mutex_unlock(&lock);
}

static void
series_free(struct series *e)
{
	free(e->name);
	free(e->labels);
}

void
ab_metrics_clear(const char *name)
{
	pthread_mutex_lock(&lock);
	size_t j = 0;
	for (size_t i = 0; i < n_series; i++) {
		if (strcmp(table[i].name, name) == 0) {
			series_free(&table[i]);
			continue;
		}
		table[j++] = table[i];
	}
	n_series = j;
	pthread_mutex_unlock(&lock);
}

void
ab_metrics_foreach(ab_metrics_fn fn, void *data)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_series; i++)
		fn(&table[i].s, data);
	pthread_mutex_unlock(&lock);
}

uint64_t
ab_metrics_dropped(void)
{
	pthread_mutex_lock(&lock);
	uint64_t d = dropped;
	pthread_mutex_unlock(&lock);
	return d;
}

void
ab_metrics_reset(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_series; i++)
		series_free(&table[i]);
	n_series = 0;
	dropped = 0;
	pthread_mutex_unlock(&lock);
}

char *
ab_metrics_label(char *buf, size_t size, const char *key, const char *value)
{
	size_t o = 0;
	int n = snprintf(buf, size, "%s=\"", key);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	o = (size_t)n;
	for (const char *p = value ? value : ""; *p && o + 4 < size; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[o++] = '\\';
			buf[o++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
