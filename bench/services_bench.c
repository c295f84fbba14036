/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab-services-bench: poll cycles of the services area (broker/services/) on an ab_loop, as the
 * broker runs them, and how late the loop gets meanwhile.
 *
 *   ab-services-bench SERVICES.json CYCLES [thread|loop]
 *
 * thread (the default, as the broker runs them): the checks' transfers run on httpc's own
 * thread (httpc_new_threaded); loop: on the measured loop itself (httpc_new), for comparison.
 * SERVICES.json is a "services" array (the broker config's). Each cycle is
 * services_poll_all() until every check is done; a 1 ms timer measures the loop's lateness
 * (the time a websocket message would wait) during the cycles and, before them, idle.
 * Prints one line of JSON: cycles_ms (each), lag_idle_ms / lag_busy_ms (p50, p99, max),
 * cpu_ms_per_cycle (user + system).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ab_util.h"
#include "httpc.h"
#include "services.h"

struct lag {
	int64_t due_us;
	double *v;
	size_t n, cap;
};

static int64_t
tick(struct ab_loop *loop, void *data)
{
	struct lag *l = data;
	int64_t now = ab_now_us();
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = ab_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = (double)(now - l->due_us) / 1000.0;
	l->due_us = now + 1000;
	return 1;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int64_t
cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

int
main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: ab-services-bench SERVICES.json CYCLES [thread|loop]\n");
		return 2;
	}
	bool on_loop = argc == 4 && strcmp(argv[3], "loop") == 0;
	int cycles = atoi(argv[2]);
	json_error_t je;
	json_t *arr = json_load_file(argv[1], 0, &je);
	struct ab_err err = {0};
	struct services_registry *reg = NULL;
	if (!arr || services_registry_load(arr, &reg, &err) < 0) {
		fprintf(stderr, "ab-services-bench: %s\n", arr ? err.msg : je.text);
		return 1;
	}
	json_decref(arr);
	/* intervals long enough that only the cycles we start run */
	for (size_t i = 0; i < reg->n; i++)
		reg->entries[i].check.interval_ms = 3600000;
	struct ab_loop *loop = ab_loop_poll_new();
	struct httpc *http = on_loop ? httpc_new(loop) : httpc_new_threaded(loop, &err);
	if (!http) {
		fprintf(stderr, "ab-services-bench: %s\n", err.msg);
		return 1;
	}

	/* idle lateness first */
	struct lag idle = {.due_us = ab_now_us() + 1000}, busy = {0};
	struct ab_timer *t = ab_loop_timer(loop, 1, tick, &idle);
	for (int64_t end = ab_now_ms() + 1000; ab_now_ms() < end;)
		ab_loop_poll_once(loop, 10);
	ab_loop_timer_cancel(loop, t);

	struct services *svc = NULL;
	struct services_params p = {0};
	int64_t cpu0 = cpu_us();
	if (services_new(loop, http, reg, &p, &svc, &err) < 0) { /* starts the first cycle */
		fprintf(stderr, "ab-services-bench: %s\n", err.msg);
		return 1;
	}
	busy.due_us = ab_now_us() + 1000;
	t = ab_loop_timer(loop, 1, tick, &busy);
	double *cyc = ab_xcalloc((size_t)cycles, sizeof(*cyc));
	for (int c = 0; c < cycles; c++) {
		if (c > 0)
			services_poll_all(svc);
		while (services_cycle_running(svc))
			ab_loop_poll_once(loop, 10);
		cyc[c] = (double)services_last_cycle_us(svc) / 1000.0;
	}
	int64_t cpu = cpu_us() - cpu0;
	ab_loop_timer_cancel(loop, t);
	printf("{\"services\":%zu,\"client\":\"%s\",\"cycles_ms\":[", services_registry(svc)->n,
	       on_loop ? "loop" : "thread");
	for (int c = 0; c < cycles; c++)
		printf("%s%.1f", c ? "," : "", cyc[c]);
	printf("],\"cpu_ms_per_cycle\":%.2f,", (double)cpu / 1000.0 / cycles);
	size_t ni = idle.n, nb = busy.n;
	printf("\"lag_idle_ms\":[%.3f,%.3f,%.3f],", pct(idle.v, ni, 0.5), pct(idle.v, ni, 0.99),
	       pct(idle.v, ni, 1.0));
	printf("\"lag_busy_ms\":[%.3f,%.3f,%.3f]}\n", pct(busy.v, nb, 0.5), pct(busy.v, nb, 0.99),
	       pct(busy.v, nb, 1.0));
	services_free(svc);
	httpc_free(http);
	ab_loop_poll_free(loop);
	free(cyc);
	free(idle.v);
	free(busy.v);
	return 0;
}
