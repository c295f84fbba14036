/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab-auditbench: the audit store's numbers (bench/audit_bench.sh prints them as a table).
 *
 *   ab-auditbench DIR [--events N] [--seconds S] [--rate R]
 *
 * 1. sustained: audit_log() at R events/s for S seconds on a poll loop, the store fed by a
 *    sink exactly as broker/auditsvc does (JSON line to a file, then the queue); the loop's
 *    latency is how late a 10 ms timer fires while it ingests;
 * 2. burst: as many audit_log() calls as the loop can make for 2 s, then until stored;
 * 3. N events (default 1 000 000) spread over 29 days for 1 000 users, then: queries by one
 *    user and a one-day / seven-day range (p50, p99 of 200), `audit verify` over all of them,
 *    and the database's bytes per event.
 * Prints "key value" lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "audit.h"
#include "auditdb.h"
#include "auditreport.h"

static struct auditdb *db;

static void
sink(const struct audit_event *ev, void *data)
{
	auditdb_submit(db, ev->time_ms, ev->user, ev->role, ev->source, ev->event, (int)ev->outcome,
	               ev->detail);
}

static int64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

struct pace {
	int rate;
	int64_t start_us, end_us, next_us;
	uint64_t sent;
	int64_t *late;
	size_t n_late, cap_late;
	bool done;
};

static void
emit(uint64_t i)
{
	char user[16], src[32];
	snprintf(user, sizeof(user), "u%llu", (unsigned long long)(i % 1000));
	snprintf(src, sizeof(src), "10.0.%llu.%llu", (unsigned long long)(i / 250 % 250),
	         (unsigned long long)(i % 250));
	audit_log(
	    i % 7 == 0 ? "auth.login" : "desktop.connect", i % 7 == 0 ? AUDIT_DENY : AUDIT_GRANT,
	    user, "member", src,
	    json_pack("{sssssb}", "reason", "bench event", "path", "/ws/desktop", "view_only", 0));
}

static int64_t
tick(struct ab_loop *loop, void *data)
{
	struct pace *p = data;
	int64_t now = mono_us();
	if (p->n_late == p->cap_late) {
		p->cap_late = p->cap_late ? 2 * p->cap_late : 4096;
		p->late = ab_xrealloc(p->late, p->cap_late * sizeof(int64_t));
	}
	p->late[p->n_late++] = now - p->next_us;
	/* catch up to where the rate says we should be */
	uint64_t due = (uint64_t)((now - p->start_us) * (int64_t)p->rate / 1000000);
	while (p->sent < due)
		emit(p->sent++);
	if (now >= p->end_us) {
		p->done = true;
		return AB_TIMER_STOP;
	}
	p->next_us = now + 10000;
	return 10;
}

static int
open_store(const char *dir, const char *name)
{
	char path[4096], key[4096];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	snprintf(key, sizeof(key), "%s/signing.key", dir);
	struct auditdb_params p = {.path = path,
	                           .key_path = key,
	                           .retention_ms = 30LL * 86400000,
	                           .queue_max = 2000000,
	                           .prune_batch = 500,
	                           .max_detail_bytes = 16384};
	struct ab_err err = {0};
	if (auditdb_open(&p, &db, &err) < 0) {
		fprintf(stderr, "ab-auditbench: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ab-auditbench DIR [--events N] [--seconds S] [--rate R]\n");
		return 2;
	}
	const char *dir = argv[1];
	long n_events = 1000000, seconds = 10, rate = 2000;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--events") == 0)
			n_events = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = atol(argv[i + 1]);
	}
	char logpath[4096];
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	struct ab_err err = {0};
	if (audit_open(logpath, &err) < 0 || open_store(dir, "sustained") < 0)
		return 1;
	audit_add_sink(sink, NULL);

	/* 1. sustained */
	struct ab_loop *loop = ab_loop_poll_new();
	struct pace p = {.rate = (int)rate};
	p.start_us = mono_us();
	p.end_us = p.start_us + seconds * 1000000;
	p.next_us = p.start_us + 10000;
	ab_loop_timer(loop, 10, tick, &p);
	while (!p.done)
		ab_loop_poll_once(loop, 100);
	int64_t sent_us = mono_us() - p.start_us;
	auditdb_flush(db, 60000);
	int64_t stored_us = mono_us() - p.start_us;
	struct auditdb_stats st;
	auditdb_stats(db, &st);
	qsort(p.late, p.n_late, sizeof(int64_t), cmp64);
	printf("sustained_target %ld\n", rate);
	printf("sustained_sent_per_s %.0f\n", p.sent * 1e6 / sent_us);
	printf("sustained_stored_per_s %.0f\n", st.stored * 1e6 / stored_us);
	printf("sustained_dropped %llu\n", (unsigned long long)st.dropped);
	printf("loop_late_p50_ms %.2f\n", p.late[p.n_late / 2] / 1000.0);
	printf("loop_late_p99_ms %.2f\n", p.late[p.n_late * 99 / 100] / 1000.0);
	printf("loop_late_max_ms %.2f\n", p.late[p.n_late - 1] / 1000.0);
	printf("max_commit_ms %lld\n", (long long)st.max_batch_ms);
	free(p.late);

	/* 2. burst: the loop logs flat out for 2 s */
	uint64_t before = st.stored;
	int64_t t0 = mono_us();
	uint64_t n = 0;
	while (mono_us() - t0 < 2000000)
		for (int k = 0; k < 100; k++)
			emit(n++);
	int64_t burst_send = mono_us() - t0;
	auditdb_flush(db, 120000);
	int64_t burst_all = mono_us() - t0;
	auditdb_stats(db, &st);
	printf("burst_logged_per_s %.0f\n", n * 1e6 / burst_send);
	printf("burst_stored_per_s %.0f\n", (st.stored - before) * 1e6 / burst_all);
	audit_remove_sink(sink, NULL);
	auditdb_close(db);
	db = NULL;
	ab_loop_poll_free(loop);
	audit_close();

	/* 3. N events over 29 days, then queries, verify, size */
	if (open_store(dir, "million") < 0)
		return 1;
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int64_t span = 29LL * 86400000;
	t0 = mono_us();
	for (long i = 0; i < n_events; i++) {
		char user[16], src[32], detail[128];
		snprintf(user, sizeof(user), "u%ld", i % 1000);
		snprintf(src, sizeof(src), "10.0.%ld.%ld", i / 250 % 250, i % 250);
		snprintf(
		    detail, sizeof(detail),
		    "{\"reason\":\"bench event %ld\",\"path\":\"/ws/desktop\",\"view_only\":false}",
		    i);
		int64_t ts = now_ms - span + span * i / n_events;
		while (!auditdb_submit(db, ts, user, "member", src,
		                       i % 7 == 0 ? "auth.login" : "desktop.connect",
		                       i % 7 == 0 ? 1 : 0, detail))
			usleep(1000); /* the queue is full: wait for the writer */
	}
	auditdb_flush(db, 600000);
	int64_t fill_us = mono_us() - t0;
	auditdb_stats(db, &st);
	printf("fill_events %llu\n", (unsigned long long)st.stored);
	printf("fill_per_s %.0f\n", st.stored * 1e6 / fill_us);
	char path[4096];
	snprintf(path, sizeof(path), "%s/million.db", dir);
	auditdb_close(db);
	db = NULL;
	struct stat sb;
	if (stat(path, &sb) == 0)
		printf("bytes_per_event %.0f\n", (double)sb.st_size / (double)n_events);

	struct auditdb_reader *rd = NULL;
	if (auditdb_reader_open(path, 5000, &rd, &err) < 0) {
		fprintf(stderr, "ab-auditbench: %s\n", err.msg);
		return 1;
	}
	for (int days = 1; days <= 7; days += 6) {
		int64_t lat[200];
		unsigned rows = 0;
		for (int q = 0; q < 200; q++) {
			char user[16];
			snprintf(user, sizeof(user), "u%d", (q * 37) % 1000);
			int64_t from = now_ms - span + (int64_t)(q % 20) * 86400000;
			struct auditdb_query qq = {.from_ms = from,
			                           .to_ms = from + days * 86400000LL,
			                           .user = user,
			                           .outcome = -1,
			                           .limit = 100};
			int64_t q0 = mono_us();
			struct auditdb_cursor *c = NULL;
			struct auditdb_record row;
			if (auditdb_query(rd, &qq, &c, &err) < 0)
				return 1;
			while (auditdb_cursor_next(c, &row, &err) == 1) {
				_cleanup_free_ char *js = auditdb_record_json(&row);
				rows++;
			}
			auditdb_cursor_free(c);
			lat[q] = mono_us() - q0;
		}
		qsort(lat, 200, sizeof(int64_t), cmp64);
		printf("query_%dd_p50_ms %.2f\n", days, lat[100] / 1000.0);
		printf("query_%dd_p99_ms %.2f\n", days, lat[198] / 1000.0);
		printf("query_%dd_rows %.0f\n", days, rows / 200.0);
	}
	/* 4. the compliance report (it runs on the broker's loop): one user's day, everyone's day
	 */
	for (int who = 0; who < 2; who++) {
		int64_t lat[20];
		for (int q = 0; q < 20; q++) {
			char user[16];
			snprintf(user, sizeof(user), "u%d", (q * 37) % 1000);
			int64_t from = now_ms - span + (int64_t)(q % 20) * 86400000;
			struct auditreport_params rp = {.from_ms = from,
			                                .to_ms = from + 86400000LL,
			                                .user = who == 0 ? user : NULL,
			                                .max_items = 100};
			json_t *rep = NULL;
			int64_t q0 = mono_us();
			if (auditreport_build(rd, &rp, &rep, &err) < 0) {
				fprintf(stderr, "ab-auditbench: report: %s\n", err.msg);
				return 1;
			}
			size_t len;
			free(auditreport_render(rep, AUDITREPORT_HTML, &len));
			lat[q] = mono_us() - q0;
			json_decref(rep);
		}
		qsort(lat, 20, sizeof(int64_t), cmp64);
		printf("report_%s_p50_ms %.2f\n", who == 0 ? "user" : "all", lat[10] / 1000.0);
		printf("report_%s_max_ms %.2f\n", who == 0 ? "user" : "all", lat[19] / 1000.0);
	}
	auditdb_reader_close(rd);
	char pub[4096];
	snprintf(pub, sizeof(pub), "%s/signing.key.pub", dir);
	struct auditdb_verify_result vr;
	t0 = mono_us();
	int r = auditdb_verify(path, pub, stderr, 5, &vr, &err);
	printf("verify_records %llu\n", (unsigned long long)vr.records);
	printf("verify_s %.2f\n", (mono_us() - t0) / 1e6);
	printf("verify_result %s\n", r == 0 ? "OK" : "TAMPERED");
	fflush(stdout);
	return r == 0 ? 0 : 1;
}
