/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv_tool: drives the kv store from the command line for the integration
 * tests and the benchmark.
 *
 *   kv_tool suite CONFIG               the backend-independent conformance suite
 *   kv_tool cf-suite CONFIG CONTROL    Workers KV only: coalescing, 429s, outage, queue bound
 *   kv_tool writer CONFIG              writes c/<i> = v<i> forever, prints "ack <i>" once durable
 *   kv_tool verify CONFIG ACKS         checks every acknowledged c/<i> (exit 1 if one is lost)
 *   kv_tool bench-durable CONFIG N     change -> durable latency, prints p50/p99 in ms
 *   kv_tool bench-rate CONFIG CONTROL SECONDS  updates one key every 20 ms; prints PUTs sent
 *
 * CONFIG is a kv configuration file (see broker/state/kv.h); the suites derive
 * variants of it (other directories, bounds). CONTROL is the simulator
 * worker's control URL (tests/integration/kv/worker.js).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "httpc.h"
#include "kv.h"

static struct ab_loop *loop;
static int failures;
static const char *current;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s: %s:%d: %s\n", current, __FILE__, __LINE__,       \
			        #cond);                                                            \
			failures++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void
run_until(bool *flag, int64_t timeout_ms)
{
	int64_t deadline = ab_now_ms() + timeout_ms;
	while (!*flag && ab_now_ms() < deadline)
		ab_loop_poll_once(loop, 50);
}

/* --- synchronous wrappers -------------------------------------------------------------- */

struct res {
	bool done;
	int error;
	char msg[512];
	char *val;
	size_t len;
	char *meta;
	int64_t exp;
	struct kv_list_entry *ents;
	size_t n;
	char *cursor;
};

static void
res_free(struct res *r)
{
	free(r->val);
	free(r->meta);
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->ents[i].name);
		free((char *)r->ents[i].metadata);
	}
	free(r->ents);
	free(r->cursor);
	memset(r, 0, sizeof(*r));
}

static void
on_done(int error, const char *msg, void *data)
{
	struct res *r = data;
	r->done = true;
	r->error = error;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void
on_get(int error, const char *msg, const struct kv_value *v, void *data)
{
	struct res *r = data;
	on_done(error, msg, data);
	if (v) {
		r->val = ab_xmalloc(v->len + 1);
		memcpy(r->val, v->data, v->len + 1);
		r->len = v->len;
		r->meta = v->metadata ? ab_xstrdup(v->metadata) : NULL;
		r->exp = v->expiration;
	}
}

static void
on_list(int error, const char *msg, const struct kv_list_result *l, void *data)
{
	struct res *r = data;
	on_done(error, msg, data);
	if (l) {
		r->ents = ab_xcalloc(l->n + 1, sizeof(*r->ents));
		for (size_t i = 0; i < l->n; i++) {
			r->ents[i].name = ab_xstrdup(l->entries[i].name);
			r->ents[i].expiration = l->entries[i].expiration;
			r->ents[i].metadata =
			    l->entries[i].metadata ? ab_xstrdup(l->entries[i].metadata) : NULL;
		}
		r->n = l->n;
		r->cursor = l->cursor ? ab_xstrdup(l->cursor) : NULL;
	}
}

static int
put(struct kv *kv, const char *key, const void *val, size_t len, int64_t ttl, const char *meta)
{
	struct res r = {0};
	struct kv_put_opts o = {ttl, meta};
	struct ab_err err = {0};
	int rc = kv_put(kv, key, val, len, &o, on_done, &r, &err);
	if (rc < 0)
		return rc;
	run_until(&r.done, 30000);
	return r.done ? r.error : -ETIMEDOUT;
}

static int
put_s(struct kv *kv, const char *key, const char *val)
{
	return put(kv, key, val, strlen(val), 0, NULL);
}

static int
del(struct kv *kv, const char *key)
{
	struct res r = {0};
	struct ab_err err = {0};
	int rc = kv_delete(kv, key, on_done, &r, &err);
	if (rc < 0)
		return rc;
	run_until(&r.done, 30000);
	return r.done ? r.error : -ETIMEDOUT;
}

static int
get(struct kv *kv, const char *key, struct res *r)
{
	memset(r, 0, sizeof(*r));
	struct ab_err err = {0};
	int rc = kv_get(kv, key, on_get, r, &err);
	if (rc < 0)
		return rc;
	run_until(&r->done, 30000);
	return r->done ? r->error : -ETIMEDOUT;
}

static int
sync_kv(struct kv *kv, int64_t timeout_ms)
{
	struct res r = {0};
	kv_sync(kv, on_done, &r, NULL);
	run_until(&r.done, timeout_ms);
	return r.done ? r.error : -ETIMEDOUT;
}

/* value of key equals s */
static bool
has(struct kv *kv, const char *key, const char *s)
{
	struct res r;
	int rc = get(kv, key, &r);
	bool ok = rc == 0 && r.len == strlen(s) && memcmp(r.val, s, r.len) == 0;
	if (!ok)
		fprintf(stderr, "  '%s': rc %d value '%s' (wanted '%s')\n", key, rc,
		        r.val ? r.val : "(none)", s);
	res_free(&r);
	return ok;
}

static json_t *config_base;

/* Opens the configured store, with `dir_suffix` appended to its dir and overrides merged in. */
static struct kv *
open_kv(const char *dir_suffix, const char *overrides)
{
	json_t *c = json_deep_copy(config_base);
	if (dir_suffix) {
		const char *d = json_string_value(json_object_get(c, "dir"));
		_cleanup_free_ char *nd = ab_xasprintf("%s%s", d ? d : ".", dir_suffix);
		json_object_set_new(c, "dir", json_string(nd));
	}
	if (overrides) {
		json_t *o = json_loads(overrides, 0, NULL);
		AB_ASSERT(o);
		json_t *cf = json_object_get(o, "cf");
		if (cf) {
			json_t *ccf = json_object_get(c, "cf");
			if (!ccf)
				json_object_set_new(c, "cf", ccf = json_object());
			json_object_update(ccf, cf);
			json_object_del(o, "cf");
		}
		json_object_update(c, o);
		json_decref(o);
	}
	struct kv *kv = NULL;
	struct ab_err err = {0};
	if (kv_open(c, loop, &kv, &err) < 0) {
		fprintf(stderr, "kv_open: %s\n", err.msg);
		exit(2);
	}
	json_decref(c);
	return kv;
}

static bool
is_cf(void)
{
	const char *b = json_string_value(json_object_get(config_base, "backend"));
	return b && strcmp(b, "cfkv") == 0;
}

/* A reader that does not share this process's queue or cache: for embedded a copy of
 * the directory's log as it is on disk now (the store directory itself is locked by its
 * owner), for cfkv an empty queue directory (so reads go to the service). */
static struct kv *
open_reader(void)
{
	if (is_cf())
		return open_kv("-reader", NULL);
	const char *d = json_string_value(json_object_get(config_base, "dir"));
	_cleanup_free_ char *src = ab_xasprintf("%s/store.log", d ? d : ".");
	_cleanup_free_ char *dir = ab_xasprintf("%s-reader", d ? d : ".");
	_cleanup_free_ char *dst = ab_xasprintf("%s/store.log", dir);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct ab_err err = {0};
	if (ab_read_file(src, 1u << 30, &data, &len, &err) < 0 || ab_mkdir_p(dir, 0700, &err) < 0 ||
	    ab_write_file_atomic(dst, data, len, 0600, &err) < 0) {
		fprintf(stderr, "copying the store for a reader: %s\n", err.msg);
		exit(2);
	}
	return open_kv("-reader", NULL);
}

/* --- the conformance suite ------------------------------------------------------------- */

static void
t_put_get(struct kv *kv)
{
	current = "put/get/overwrite/binary";
	CHECK(put_s(kv, "user/bea/state", "{\"v\":1}") == 0);
	CHECK(has(kv, "user/bea/state", "{\"v\":1}"));
	CHECK(put_s(kv, "user/bea/state", "{\"v\":2}") == 0);
	CHECK(has(kv, "user/bea/state", "{\"v\":2}"));
	char bin[5] = {'a', 0, 'b', (char)0xff, 'c'};
	CHECK(put(kv, "bin", bin, sizeof(bin), 0, NULL) == 0);
	struct res r;
	CHECK(get(kv, "bin", &r) == 0);
	CHECK(r.len == 5 && memcmp(r.val, bin, 5) == 0);
	res_free(&r);
	CHECK(put(kv, "empty", "", 0, 0, NULL) == 0);
	CHECK(has(kv, "empty", ""));
	CHECK(get(kv, "missing/key", &r) == -ENOENT);
	res_free(&r);
}

static void
t_delete(struct kv *kv)
{
	current = "delete";
	struct res r;
	CHECK(put_s(kv, "gone", "x") == 0);
	CHECK(del(kv, "gone") == 0);
	CHECK(get(kv, "gone", &r) == -ENOENT);
	CHECK(del(kv, "never-existed") == 0);
}

static void
t_meta_ttl(struct kv *kv)
{
	current = "metadata+expiration_ttl";
	int64_t now = ab_wall_ms() / 1000;
	CHECK(put(kv, "meta/one", "m", 1, 120, "{\"owner\":\"bea\",\"n\":3}") == 0);
	struct res r = {0};
	struct ab_err err = {0};
	CHECK(kv_list(kv, "meta/", NULL, 10, on_list, &r, &err) == 0);
	run_until(&r.done, 30000);
	CHECK(r.error == 0 && r.n == 1);
	CHECK(strcmp(r.ents[0].name, "meta/one") == 0);
	CHECK(r.ents[0].expiration >= now + 100 && r.ents[0].expiration <= now + 200);
	json_t *m = r.ents[0].metadata ? json_loads(r.ents[0].metadata, 0, NULL) : NULL;
	CHECK(m && strcmp(json_string_value(json_object_get(m, "owner")), "bea") == 0);
	CHECK(json_integer_value(json_object_get(m, "n")) == 3);
	json_decref(m);
	res_free(&r);
	CHECK(has(kv, "meta/one", "m"));
	/* bad metadata and ttl are refused up front */
	struct kv_put_opts o = {0, "[1,2]"};
	CHECK(kv_put(kv, "meta/bad", "x", 1, &o, on_done, &r, &err) == -EINVAL);
	struct kv_put_opts o2 = {-5, NULL};
	CHECK(kv_put(kv, "meta/bad", "x", 1, &o2, on_done, &r, &err) == -EINVAL);
}

static void
t_list(struct kv *kv)
{
	current = "list prefix+cursor";
	for (int i = 0; i < 25; i++) {
		char k[32];
		snprintf(k, sizeof(k), "list/k%02d", i);
		CHECK(put_s(kv, k, "v") == 0);
	}
	CHECK(put_s(kv, "lisu", "outside") == 0);
	CHECK(put_s(kv, "lis", "outside") == 0);
	CHECK(del(kv, "list/k07") == 0);
	char *cursor = NULL;
	int seen = 0, pages = 0;
	char last[64] = "";
	do {
		struct res r = {0};
		struct ab_err err = {0};
		CHECK(kv_list(kv, "list/", cursor, 10, on_list, &r, &err) == 0);
		run_until(&r.done, 30000);
		CHECK(r.error == 0);
		free(cursor);
		cursor = r.cursor ? ab_xstrdup(r.cursor) : NULL;
		for (size_t i = 0; i < r.n; i++) {
			CHECK(strncmp(r.ents[i].name, "list/", 5) == 0);
			CHECK(strcmp(r.ents[i].name, last) > 0); /* sorted, no duplicates */
			CHECK(strcmp(r.ents[i].name, "list/k07") != 0);
			snprintf(last, sizeof(last), "%s", r.ents[i].name);
			seen++;
		}
		res_free(&r);
		pages++;
	} while (cursor && pages < 10);
	CHECK(seen == 24);
	CHECK(pages >= 3 || is_cf()); /* cfkv pages hold the local overlay too */
}

static void
t_keys(struct kv *kv)
{
	current = "key validation";
	struct res r = {0};
	struct ab_err err = {0};
	char big[KV_KEY_MAX + 2];
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *bad[] = {"", ".", "..", "a\nb", "tab\tkey", big, "\xff\xfe"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++)
		CHECK(kv_put(kv, bad[i], "x", 1, NULL, on_done, &r, &err) == -EINVAL);
	CHECK(kv_get(kv, "..", on_get, &r, &err) == -EINVAL);
	/* path-like keys are just keys */
	CHECK(put_s(kv, "../../etc/passwd", "not a file") == 0);
	CHECK(has(kv, "../../etc/passwd", "not a file"));
	CHECK(put_s(kv, "/abs/path", "y") == 0);
	CHECK(has(kv, "/abs/path", "y"));
	CHECK(put_s(kv, "ünïcode key ✓", "z") == 0);
	CHECK(has(kv, "ünïcode key ✓", "z"));
	big[KV_KEY_MAX] = '\0'; /* exactly the limit */
	CHECK(put_s(kv, big, "long") == 0);
	CHECK(has(kv, big, "long"));
	CHECK(kv_put(kv, "too-big", "x", (2u << 20), NULL, on_done, &r, &err) == -E2BIG);
}

static void
t_durable_reader(struct kv *kv)
{
	current = "durable: a fresh reader sees the writes";
	CHECK(sync_kv(kv, 60000) == 0);
	struct kv *r = open_reader();
	bool ok = has(r, "user/bea/state", "{\"v\":2}") && has(r, "../../etc/passwd", "not a file");
	struct res g;
	int gone = get(r, "gone", &g);
	res_free(&g);
	kv_close(r);
	CHECK(ok);
	CHECK(gone == -ENOENT);
}

static int
cmd_suite(void)
{
	struct kv *kv = open_kv(NULL, NULL);
	printf("backend: %s\n", kv_backend(kv));
	void (*tests[])(struct kv *) = {t_put_get, t_delete, t_meta_ttl,
	                                t_list,    t_keys,   t_durable_reader};
	int passed = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(tests); i++) {
		int before = failures;
		tests[i](kv);
		printf("%s %s\n", failures == before ? "ok  " : "FAIL", current);
		passed += failures == before;
	}
	kv_close(kv);
	printf("%d passed, %d failed\n", passed, (int)AB_ARRAY_SIZE(tests) - passed);
	return failures ? 1 : 0;
}

/* --- Workers KV specific --------------------------------------------------------------- */

static const char *control_url;
static struct httpc *hc;

struct hres {
	bool done;
	long status;
	char body[4096];
};

static void
on_http(const struct httpc_resp *r, void *data)
{
	struct hres *h = data;
	h->done = true;
	h->status = r->status;
	snprintf(h->body, sizeof(h->body), "%.*s", (int)r->body_len, r->body);
}

static json_t *
control(const char *json)
{
	struct hres h = {0};
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	struct httpc_req req = {.method = json ? "POST" : "GET",
	                        .url = control_url,
	                        .headers = hdrs,
	                        .body = json,
	                        .body_len = json ? strlen(json) : 0};
	if (!hc)
		hc = httpc_new(loop);
	AB_ASSERT(httpc_request(hc, &req, on_http, &h, NULL, NULL) == 0);
	run_until(&h.done, 10000);
	AB_ASSERT(h.done && h.status == 200);
	return json_loads(h.body, 0, NULL);
}

static long
remote_puts(const char *key)
{
	json_t *st = control(NULL);
	long n = (long)json_integer_value(json_object_get(json_object_get(st, "puts"), key));
	json_decref(st);
	return n;
}

static void
t_coalesce(void)
{
	current = "per-key write coalescing (<= 1 write/s/key)";
	json_decref(control("{\"reset\":true}"));
	struct kv *kv = open_kv("-coalesce", NULL);
	int64_t start = ab_now_ms();
	char v[32];
	int i = 0;
	while (ab_now_ms() - start < 3000) {
		snprintf(v, sizeof(v), "drag-%d", i++);
		CHECK(put_s(kv, "hot", v) == 0);
		int64_t t = ab_now_ms();
		while (ab_now_ms() - t < 20)
			ab_loop_poll_once(loop, 20);
	}
	int64_t elapsed = ab_now_ms() - start;
	CHECK(sync_kv(kv, 30000) == 0);
	elapsed = ab_now_ms() - start;
	struct kv_stats st;
	kv_get_stats(kv, &st);
	kv_close(kv);
	long puts = remote_puts("hot");
	printf("  %d writes in %lld ms -> %ld PUTs to the service, %llu coalesced\n", i,
	       (long long)elapsed, puts, (unsigned long long)st.coalesced);
	CHECK(i > 50);
	CHECK(puts >= 2 && puts <= elapsed / 1000 + 1);
	CHECK(st.coalesced > 0);
	struct kv *r = open_reader();
	CHECK(has(r, "hot", v)); /* the last write won */
	kv_close(r);
}

static void
t_429(void)
{
	current = "429 with Retry-After is retried";
	json_decref(control("{\"reset\":true,\"fail429\":3}"));
	struct kv *kv = open_kv("-429", NULL);
	CHECK(put_s(kv, "rate/limited", "eventually") == 0);
	CHECK(sync_kv(kv, 60000) == 0);
	struct kv_stats st;
	kv_get_stats(kv, &st);
	kv_close(kv);
	CHECK(st.remote_retries >= 3);
	json_t *s = control(NULL);
	long n429 = (long)json_integer_value(json_object_get(s, "rejected429"));
	json_decref(s);
	CHECK(n429 == 3);
	struct kv *r = open_reader();
	CHECK(has(r, "rate/limited", "eventually"));
	kv_close(r);
}

static void
t_outage(void)
{
	current = "outage: queue, survive restart, flush on recovery";
	json_decref(control("{\"reset\":true,\"outage\":true}"));
	struct kv *kv = open_kv("-outage", NULL);
	char k[32], v[32];
	for (int i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "out/%d", i);
		snprintf(v, sizeof(v), "val-%d", i);
		CHECK(put_s(kv, k, v) == 0); /* acknowledged: durable in the local queue */
		CHECK(has(kv, k, v));        /* read-your-own-writes during the outage */
	}
	CHECK(del(kv, "out/4") == 0);
	/* wait until the backend noticed the outage */
	for (int64_t t = ab_now_ms(); ab_now_ms() - t < 10000;) {
		struct kv_stats st;
		kv_get_stats(kv, &st);
		if (!st.online && st.remote_retries > 0)
			break;
		ab_loop_poll_once(loop, 50);
	}
	struct kv_stats st;
	kv_get_stats(kv, &st);
	CHECK(!st.online);
	CHECK(st.queued == 5);
	/* a broker restart during the outage */
	kv_close(kv);
	kv = open_kv("-outage", NULL);
	kv_get_stats(kv, &st);
	CHECK(st.queued == 5);
	CHECK(has(kv, "out/2", "val-2"));
	/* queue bound: new keys are refused (not acknowledged) when the queue is full */
	struct kv *small = open_kv("-outage-small", "{\"cf\":{\"queue_max_keys\":2}}");
	CHECK(put_s(small, "q/1", "a") == 0);
	CHECK(put_s(small, "q/2", "b") == 0);
	CHECK(put_s(small, "q/3", "c") == -ENOSPC);
	CHECK(put_s(small, "q/2", "b2") == 0); /* coalescing into a queued key is fine */
	json_decref(control("{\"outage\":false}"));
	CHECK(sync_kv(small, 60000) == 0);
	kv_close(small);
	CHECK(sync_kv(kv, 60000) == 0);
	kv_get_stats(kv, &st);
	CHECK(st.online && st.queued == 0);
	kv_close(kv);
	struct kv *r = open_reader();
	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "out/%d", i);
		snprintf(v, sizeof(v), "val-%d", i);
		CHECK(has(r, k, v));
	}
	struct res g;
	CHECK(get(r, "out/4", &g) == -ENOENT);
	res_free(&g);
	CHECK(has(r, "q/2", "b2"));
	kv_close(r);
}

static void
t_auth(void)
{
	current = "bad API token is refused by the service";
	json_decref(control("{\"reset\":true}"));
	struct kv *kv = open_kv("-auth", "{\"cf\":{\"api_token\":\"wrong-token\"}}");
	struct res g;
	int rc = get(kv, "user/bea/state", &g);
	kv_close(kv);
	CHECK(rc == -EIO);
}

static int
cmd_cf_suite(void)
{
	void (*tests[])(void) = {t_coalesce, t_429, t_outage, t_auth};
	int passed = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(tests); i++) {
		int before = failures;
		tests[i]();
		printf("%s %s\n", failures == before ? "ok  " : "FAIL", current);
		passed += failures == before;
	}
	printf("%d passed, %d failed\n", passed, (int)AB_ARRAY_SIZE(tests) - passed);
	return failures ? 1 : 0;
}

/* --- crash safety ---------------------------------------------------------------------- */

struct wctx {
	struct kv *kv;
	long next;
};

static void start_write(struct wctx *w);

static void
on_write_ack(int error, const char *msg, void *data)
{
	long i = (long)(intptr_t)data;
	if (error) {
		fprintf(stderr, "write %ld failed: %s\n", i, msg);
		exit(1);
	}
	printf("ack %ld\n", i);
	fflush(stdout);
}

static int64_t
writer_tick(struct ab_loop *l, void *data)
{
	struct wctx *w = data;
	for (int k = 0; k < 4; k++)
		start_write(w);
	return 1;
}

static void
start_write(struct wctx *w)
{
	char key[32], val[64];
	long i = w->next++;
	snprintf(key, sizeof(key), "c/%ld", i);
	snprintf(val, sizeof(val), "v%ld-%0*d", i, (int)(i % 40), 0);
	struct ab_err err = {0};
	if (kv_put(w->kv, key, val, strlen(val), NULL, on_write_ack, (void *)(intptr_t)i, &err) <
	    0) {
		fprintf(stderr, "put: %s\n", err.msg);
		exit(1);
	}
}

static int
cmd_writer(void)
{
	struct wctx w = {open_kv(NULL, NULL), 0};
	ab_loop_timer(loop, 0, writer_tick, &w);
	ab_loop_poll_run(loop);
	return 0;
}

static int
cmd_verify(const char *acks)
{
	FILE *f = fopen(acks, "r");
	if (!f) {
		perror(acks);
		return 2;
	}
	struct kv *kv = open_kv(NULL, NULL);
	long i, n = 0, lost = 0;
	char line[64];
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "ack %ld", &i) != 1)
			continue; /* a torn last line from kill -9 */
		char key[32], val[64];
		snprintf(key, sizeof(key), "c/%ld", i);
		snprintf(val, sizeof(val), "v%ld-%0*d", i, (int)(i % 40), 0);
		if (!has(kv, key, val))
			lost++;
		n++;
	}
	fclose(f);
	if (is_cf()) {
		/* and they reach the service */
		int rc = sync_kv(kv, 120000);
		printf("sync after restart: %d\n", rc);
		if (rc)
			lost++;
	}
	kv_close(kv);
	printf("verified %ld acknowledged writes, %ld lost\n", n, lost);
	return lost || n == 0 ? 1 : 0;
}

/* --- benchmarks ------------------------------------------------------------------------ */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int
cmd_bench_durable(int n)
{
	struct kv *kv = open_kv(NULL, NULL);
	int64_t *lat = ab_xcalloc((size_t)n, sizeof(*lat));
	/* a desktop-state-sized JSON document (~2 KiB) */
	char val[2048];
	for (int i = 0; i < n; i++) {
		int len = snprintf(val, sizeof(val), "{\"version\":1,\"seq\":%d,\"windows\":[", i);
		for (int w = 0; w < 20 && len < 1900; w++)
			len +=
			    snprintf(val + len, sizeof(val) - (size_t)len,
			             "%s{\"app\":\"term\",\"x\":%d,\"y\":%d,\"w\":640,\"h\":480}",
			             w ? "," : "", i + w, w);
		len += snprintf(val + len, sizeof(val) - (size_t)len, "]}");
		int64_t t0 = ab_now_us();
		if (put(kv, "user/bench/desktop", val, (size_t)len, 0, NULL) != 0) {
			fprintf(stderr, "put failed\n");
			return 1;
		}
		lat[i] = ab_now_us() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	struct kv_stats st;
	kv_get_stats(kv, &st);
	printf("durable_p50_ms=%.3f durable_p99_ms=%.3f n=%d fsyncs=%llu\n", lat[n / 2] / 1000.0,
	       lat[(n * 99) / 100] / 1000.0, n, (unsigned long long)st.fsyncs);
	free(lat);
	kv_close(kv);
	return 0;
}

static int
cmd_bench_rate(int seconds)
{
	json_decref(control("{\"reset\":true}"));
	struct kv *kv = open_kv("-bench", NULL);
	int64_t start = ab_now_ms();
	long updates = 0;
	char v[64];
	while (ab_now_ms() - start < seconds * 1000LL) {
		snprintf(v, sizeof(v), "{\"x\":%ld}", updates++);
		put_s(kv, "user/bench/desktop", v);
		int64_t t = ab_now_ms();
		while (ab_now_ms() - t < 20)
			ab_loop_poll_once(loop, 20);
	}
	/* PUTs the service received while the updates went on, then the final flush. */
	long during = remote_puts("user/bench/desktop");
	sync_kv(kv, 30000);
	kv_close(kv);
	long puts = remote_puts("user/bench/desktop");
	printf("updates=%ld seconds=%d puts=%ld puts_total=%ld puts_per_minute=%.1f\n", updates,
	       seconds, during, puts, during * 60.0 / seconds);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: kv_tool suite|cf-suite|writer|verify|bench-durable|"
		                "bench-rate CONFIG [ARG]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	json_error_t je;
	config_base = json_load_file(argv[2], 0, &je);
	if (!config_base) {
		fprintf(stderr, "%s: %s\n", argv[2], je.text);
		return 2;
	}
	loop = ab_loop_poll_new();
	int rc;
	const char *cmd = argv[1];
	if (strcmp(cmd, "suite") == 0)
		rc = cmd_suite();
	else if (strcmp(cmd, "cf-suite") == 0 && argc > 3)
		control_url = argv[3], rc = cmd_cf_suite();
	else if (strcmp(cmd, "writer") == 0)
		rc = cmd_writer();
	else if (strcmp(cmd, "verify") == 0 && argc > 3)
		rc = cmd_verify(argv[3]);
	else if (strcmp(cmd, "bench-durable") == 0 && argc > 3)
		rc = cmd_bench_durable(atoi(argv[3]));
	else if (strcmp(cmd, "bench-rate") == 0 && argc > 4)
		control_url = argv[3], rc = cmd_bench_rate(atoi(argv[4]));
	else {
		fprintf(stderr, "unknown command '%s'\n", cmd);
		rc = 2;
	}
	httpc_free(hc);
	ab_loop_poll_free(loop);
	json_decref(config_base);
	return rc;
}
