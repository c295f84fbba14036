/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit store: events land in order with a hash chain; verify finds an edited,
 * deleted, reordered or truncated record and names it; retention prunes and seals the
 * prune point; a full store keeps the caller running and counts what it dropped; a
 * corrupt file is refused with a clear message; queries page with a cursor; CSV renders
 * hostile strings inert.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ab_test.h"
#include "ab_util.h"
#include "auditdb.h"

struct fx {
	char dir[64];
	char db[128];
	char key[128];
	char pub[140];
};

static int
setup(void **state)
{
	struct fx *f = ab_xcalloc(1, sizeof(*f));
	ab_test_tmpdir(f->dir, sizeof(f->dir), "ab-auditdb");
	snprintf(f->db, sizeof(f->db), "%s/audit/audit.db", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/audit/signing.key", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s.pub", f->key);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct auditdb *
open_db(struct fx *f, int64_t retention_ms, int64_t max_bytes, unsigned queue_max)
{
	struct auditdb_params p = {
	    .path = f->db,
	    .key_path = f->key,
	    .retention_ms = retention_ms,
	    .queue_max = queue_max,
	    .prune_batch = 100,
	    .max_db_bytes = max_bytes,
	    .max_detail_bytes = 4096,
	    .retry_ms = 50,
	};
	struct auditdb *db = NULL;
	struct ab_err err = {0};
	int r = auditdb_open(&p, &db, &err);
	if (r < 0)
		fprintf(stderr, "open: %s\n", err.msg);
	assert_int_equal(r, 0);
	return db;
}

/* n events, users u0..u2, one in 5 a denial, timestamps 1 s apart from t0 */
static void
fill(struct auditdb *db, int n, int64_t t0)
{
	for (int i = 0; i < n; i++) {
		char user[8], detail[64];
		snprintf(user, sizeof(user), "u%d", i % 3);
		snprintf(detail, sizeof(detail), "{\"reason\":\"event %d\",\"n\":%d}", i, i);
		assert_true(auditdb_submit(db, t0 + i * 1000, user, "member", "127.0.0.1",
		                           i % 5 == 0 ? "auth.login" : "desktop.start",
		                           i % 5 == 0 ? 1 : 0, detail));
	}
	assert_int_equal(auditdb_flush(db, 10000), 0);
}

static char *
verify(struct fx *f, int *ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	struct auditdb_verify_result res;
	struct ab_err err = {0};
	*ret = auditdb_verify(f->db, f->pub, m, 20, &res, &err);
	if (*ret < 0)
		fprintf(m, "ERROR %s\n", err.msg);
	fclose(m);
	if (out[0])
		fprintf(stderr, "verify: %s", out);
	return out;
}

static void
sql(struct fx *f, const char *q)
{
	sqlite3 *h;
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(h, q, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", q, msg);
	assert_int_equal(rc, SQLITE_OK);
	sqlite3_close(h);
}

static void
test_chain_and_verify(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 50, now_ms() - 100000);
	struct auditdb_stats st;
	auditdb_stats(db, &st);
	assert_int_equal(st.stored, 50);
	assert_int_equal(st.last_seq, 50);
	auditdb_close(db);
	struct stat kst;
	assert_int_equal(stat(f->key, &kst), 0);
	assert_int_equal(kst.st_mode & 0777, 0600);
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 0);
	assert_string_equal(out, "");
	/* reopened, the chain goes on */
	db = open_db(f, 0, 0, 0);
	fill(db, 10, now_ms());
	auditdb_close(db);
	free(verify(f, &r));
	assert_int_equal(r, 0);
}

static void
test_tamper_edit(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 20, now_ms() - 100000);
	auditdb_close(db);
	sql(f, "UPDATE events SET detail = '{\"reason\":\"nothing happened\"}' WHERE seq = 7");
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "record 8 does not follow record 7"));
}

static void
test_tamper_edit_last(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 20, now_ms() - 100000);
	auditdb_close(db);
	sql(f, "UPDATE events SET user = 'mallory' WHERE seq = 20");
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "record 20 does not match the signed head"));
}

static void
test_tamper_delete(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 20, now_ms() - 100000);
	auditdb_close(db);
	sql(f, "DELETE FROM events WHERE seq IN (11, 12)");
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "records 11..12 are missing (deleted)"));
	/* renumbered to hide the gap: the chain breaks there instead */
	sql(f, "UPDATE events SET seq = seq - 2 WHERE seq > 12");
	free(out);
	out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "records 11..18 do not follow the records before them"));
}

static void
test_tamper_reorder(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 20, now_ms() - 100000);
	auditdb_close(db);
	/* swap records 5 and 6 (their contents, keeping the sequence numbers) */
	sql(f, "UPDATE events SET seq = -5 WHERE seq = 5; UPDATE events SET seq = 5 WHERE seq = 6;"
	       "UPDATE events SET seq = 6 WHERE seq = -5;");
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "records 5..7 do not follow the records before them"));
}

static void
test_tamper_truncate(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	fill(db, 20, now_ms() - 100000);
	auditdb_close(db);
	sql(f, "DELETE FROM events WHERE seq > 15");
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(
	    strstr(out, "truncated: the signed head names record 20, the last is 15 (records "
	                "16..20 deleted)"));
	/* and a forged head (signature by another key) does not pass either */
	sql(f, "UPDATE seals SET seq = 15 WHERE kind = 'head'");
	free(out);
	out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "signed head (record 15) has a bad signature"));
}

static void
test_retention(void **state)
{
	struct fx *f = *state;
	int64_t day = 86400000;
	struct auditdb *db = open_db(f, 30 * day, 0, 0);
	fill(db, 250, now_ms() - 40 * day); /* expired */
	fill(db, 20, now_ms() - 1000);      /* kept */
	struct auditdb_stats st = {0};
	for (int i = 0; i < 400 && st.pruned < 250; i++) {
		usleep(50000);
		auditdb_stats(db, &st);
	}
	assert_int_equal(st.pruned, 250);
	auditdb_close(db);
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 0);
	/* deleting the oldest kept record looks like pruning, but the prune seal says no */
	sql(f, "DELETE FROM events WHERE seq = 251");
	free(out);
	out = verify(f, &r);
	assert_int_equal(r, 1);
	assert_non_null(strstr(out, "records 251..251 are missing"));
}

static void
test_disk_full(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 256 << 10, 1000);
	char detail[2048];
	memset(detail, 0, sizeof(detail));
	strcpy(detail, "{\"reason\":\"");
	memset(detail + strlen(detail), 'x', 1500);
	strcat(detail, "\"}");
	int64_t t0 = now_ms();
	unsigned ok = 0, dropped = 0;
	for (int i = 0; i < 3000; i++) {
		if (auditdb_submit(db, t0, "bea", "member", NULL, "desktop.start", 0, detail))
			ok++;
		else
			dropped++;
		if (i % 100 == 0)
			usleep(10000);
	}
	/* submit never waits on the disk */
	assert_true(now_ms() - t0 < 15000);
	struct auditdb_stats st = {0};
	for (int i = 0; i < 500 && !st.failing; i++) {
		usleep(20000);
		auditdb_stats(db, &st);
	}
	assert_true(st.failing);
	assert_non_null(strstr(st.error, "full"));
	assert_true(dropped > 0);
	assert_int_equal(st.dropped, dropped);
	assert_true(st.stored > 0 && st.stored < 3000);
	assert_int_equal(auditdb_flush(db, 100), -EIO);
	auditdb_close(db);
	/* what was stored is intact */
	int r;
	_cleanup_free_ char *out = verify(f, &r);
	assert_int_equal(r, 0);
}

static void
test_corrupt_file(void **state)
{
	struct fx *f = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/audit", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	int fd = open(f->db, O_WRONLY | O_CREAT, 0600);
	char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	struct auditdb_params p = {.path = f->db, .key_path = f->key};
	struct auditdb *db = NULL;
	struct ab_err err = {0};
	assert_int_equal(auditdb_open(&p, &db, &err), -EBADMSG);
	assert_null(db);
	assert_non_null(strstr(err.msg, "not a usable audit database"));
	assert_non_null(strstr(err.msg, f->db));
	/* the file is left as it was, for the admin to look at */
	struct stat st;
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_size, sizeof(junk));
}

static void
test_query_cursor(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	int64_t t0 = now_ms() - 1000000;
	fill(db, 300, t0);
	auditdb_close(db);
	struct auditdb_reader *rd = NULL;
	struct ab_err err = {0};
	assert_int_equal(auditdb_reader_open(f->db, 1000, &rd, &err), 0);
	/* u1 between t0+100 s and t0+200 s: i = 100..199 with i % 3 == 1 -> 34 rows */
	struct auditdb_query q = {
	    .from_ms = t0 + 100000, .to_ms = t0 + 200000, .user = "u1", .outcome = -1, .limit = 10};
	int total = 0, pages = 0;
	int64_t last_ts = INT64_MAX;
	for (;;) {
		struct auditdb_cursor *c = NULL;
		assert_int_equal(auditdb_query(rd, &q, &c, &err), 0);
		struct auditdb_record row;
		int n = 0, r;
		while ((r = auditdb_cursor_next(c, &row, &err)) == 1) {
			assert_string_equal(row.user, "u1");
			assert_true(row.ts_ms < last_ts); /* newest first, no repeats */
			last_ts = row.ts_ms;
			q.after_ts = row.ts_ms;
			q.after_seq = row.seq;
			n++;
		}
		assert_int_equal(r, 0);
		auditdb_cursor_free(c);
		total += n;
		pages++;
		if (n < 10)
			break;
	}
	assert_int_equal(total, 34);
	assert_int_equal(pages, 4);
	/* event prefix + outcome + text */
	q = (struct auditdb_query){.event_prefix = "auth.", .outcome = 1, .text = "EVENT 10"};
	struct auditdb_cursor *c = NULL;
	assert_int_equal(auditdb_query(rd, &q, &c, &err), 0);
	struct auditdb_record row;
	int n = 0;
	while (auditdb_cursor_next(c, &row, &err) == 1) {
		assert_string_equal(row.event, "auth.login");
		assert_non_null(strstr(row.detail, "event 10"));
		n++;
	}
	auditdb_cursor_free(c);
	assert_int_equal(n, 3); /* i % 5 == 0 with "event 10" in it: 10, 100, 105 */
	/* the LIKE wildcards in the text are literal */
	q = (struct auditdb_query){.text = "%", .outcome = -1};
	assert_int_equal(auditdb_query(rd, &q, &c, &err), 0);
	assert_int_equal(auditdb_cursor_next(c, &row, &err), 0);
	auditdb_cursor_free(c);
	auditdb_reader_close(rd);
}

static void
test_csv_hostile(void **state)
{
	struct auditdb_buf b = {0};
	auditdb_csv_field(&b, "=HYPERLINK(\"http://x\")");
	assert_string_equal(b.data, "\"'=HYPERLINK(\"\"http://x\"\")\"");
	b.len = 0;
	auditdb_csv_field(&b, "+1");
	auditdb_csv_field(&b, "-2");
	auditdb_csv_field(&b, "@SUM(A1)");
	auditdb_csv_field(&b, "\tx");
	assert_string_equal(b.data, "\"'+1\"\"'-2\"\"'@SUM(A1)\"\"'\\x09x\"");
	b.len = 0;
	auditdb_csv_field(&b, "a\r\nb\x1b[31mc\x7f");
	assert_string_equal(b.data, "\"a\\x0d\\x0ab\\x1b[31mc\\x7f\"");
	b.len = 0;
	auditdb_csv_field(&b, "caf\xc3\xa9 \xff\xfe ok \xe2\x82");
	assert_string_equal(b.data, "\"caf\xc3\xa9 \\xff\\xfe ok \\xe2\\x82\"");
	b.len = 0;
	struct auditdb_record r = {.seq = 3,
	                           .ts_ms = 0,
	                           .user = "=cmd|' /C calc'!A0",
	                           .event = "auth.login",
	                           .outcome = 1,
	                           .detail = "{\"reason\":\"a,b\"}"};
	auditdb_csv_row(&b, &r);
	assert_string_equal(b.data,
	                    "3,\"1970-01-01T00:00:00.000Z\",\"'=cmd|' /C calc'!A0\",\"\","
	                    "\"\",\"auth.login\",\"deny\",\"{\"\"reason\"\":\"\"a,b\"\"}\"\r\n");
	free(b.data);
}

static void
test_huge_detail(void **state)
{
	struct fx *f = *state;
	struct auditdb *db = open_db(f, 0, 0, 0);
	size_t n = 1 << 20;
	char *big = ab_xmalloc(n + 32);
	strcpy(big, "{\"reason\":\"");
	memset(big + 11, 'y', n);
	strcpy(big + 11 + n, "\"}");
	assert_true(auditdb_submit(db, now_ms(), "bea", NULL, NULL, "files.upload", 2, big));
	free(big);
	assert_int_equal(auditdb_flush(db, 5000), 0);
	auditdb_close(db);
	struct auditdb_reader *rd = NULL;
	struct ab_err err = {0};
	assert_int_equal(auditdb_reader_open(f->db, 1000, &rd, &err), 0);
	struct auditdb_query q = {.outcome = -1};
	struct auditdb_cursor *c = NULL;
	assert_int_equal(auditdb_query(rd, &q, &c, &err), 0);
	struct auditdb_record row;
	assert_int_equal(auditdb_cursor_next(c, &row, &err), 1);
	assert_true(strlen(row.detail) < 1024);
	assert_non_null(strstr(row.detail, "\"truncated\":true"));
	_cleanup_free_ char *js = auditdb_record_json(&row);
	assert_non_null(strstr(js, "\"detail\":{\"truncated\":true"));
	auditdb_cursor_free(c);
	auditdb_reader_close(rd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_chain_and_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_edit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_edit_last, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_reorder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_truncate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_cursor, setup, teardown),
	    cmocka_unit_test(test_csv_hostile),
	    cmocka_unit_test_setup_teardown(test_huge_detail, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
