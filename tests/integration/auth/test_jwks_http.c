/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JWKS over real HTTP on loopback (jwks_server.py): first fetch, key rotation,
 * the refetch rate limit, a server that hangs, returns junk or errors (old
 * keys kept, the loop never blocked), and the attack tokens through the full
 * path, each rejected with a reason in the audit log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_test_audit.h"
#include "ab_util.h"
#include "audit.h"
#include "auth_request.h"
#include "httpc.h"
#include "jwks.h"
#include "testkeys.h"

static char dir[] = "/tmp/ab-jwks-XXXXXX";
static pid_t server = -1;
static int server_stdin = -1, server_stdout = -1;
static int port;
static struct ab_loop *loop;
static struct httpc *http;
static EVP_PKEY *key_a, *key_b;

static void
write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(ab_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static void
set_keys(int which) /* 1: A, 2: B, 3: A and B */
{
	EVP_PKEY *keys[2];
	const char *kids[2];
	size_t n = 0;
	if (which & 1) {
		keys[n] = key_a;
		kids[n++] = "kA";
	}
	if (which & 2) {
		keys[n] = key_b;
		kids[n++] = "kB";
	}
	char *js = tk_jwks(keys, kids, n);
	write_file("certs.json", js);
	free(js);
}

static char *
url(const char *path)
{
	return ab_xasprintf("http://127.0.0.1:%d%s", port, path);
}

static int
hits(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/hits", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

struct result {
	bool done;
	struct jwt *jwt;
	char why[1024];
};

static void
on_done(struct jwt *jwt, const struct ab_err *err, void *data)
{
	struct result *r = data;
	r->done = true;
	r->jwt = jwt;
	snprintf(r->why, sizeof(r->why), "%s", err ? err->msg : "");
}

static void
run_until(bool *flag, int64_t max_ms)
{
	int64_t deadline = ab_now_ms() + max_ms;
	while (!*flag && ab_now_ms() < deadline)
		assert_int_equal(ab_loop_poll_once(loop, 20), 0);
	assert_true(*flag);
}

static bool fetched_flag;
static void
wait_fetches(struct jwks *j, unsigned ok, unsigned fail)
{
	int64_t deadline = ab_now_ms() + 15000;
	struct jwks_stats st;
	for (;;) {
		jwks_get_stats(j, &st);
		if ((st.fetch_ok >= ok && st.fetch_fail >= fail && !st.fetching) ||
		    ab_now_ms() > deadline)
			break;
		assert_int_equal(ab_loop_poll_once(loop, 20), 0);
	}
	assert_true(st.fetch_ok >= ok);
	assert_true(st.fetch_fail >= fail);
	fetched_flag = true;
}

static struct jwks *
make(const char *path, long timeout_ms, int64_t min_refetch_ms)
{
	char *u = url(path);
	struct jwks_config cfg = {
	    .url = u,
	    .policy = {.aud = TK_AUD, .iss = TK_ISS, .skew_s = 60},
	    .timeout_ms = timeout_ms,
	    .min_refetch_ms = min_refetch_ms,
	    .refresh_ms = -1,
	};
	struct jwks *j = jwks_new(loop, http, &cfg);
	free(u);
	return j;
}

/* Verifies; completes pending ones by running the loop. Returns 0 or <0, reason in why. */
static int
verify(struct jwks *j, const char *tok, char *why, size_t why_len, bool *was_pending)
{
	struct result res = {0};
	struct jwt *t = NULL;
	struct ab_err err = {0};
	int r = jwks_verify(j, tok, strlen(tok), "127.0.0.1", time(NULL), on_done, &res, NULL, &t,
	                    &err);
	if (was_pending)
		*was_pending = r == JWKS_PENDING;
	if (r == JWKS_PENDING) {
		run_until(&res.done, 20000);
		snprintf(why, why_len, "%s", res.why);
		r = res.jwt ? 0 : -EACCES;
		jwt_free(res.jwt);
		return r;
	}
	snprintf(why, why_len, "%s", err.msg);
	if (r == 0) {
		assert_non_null(t);
		assert_string_equal(jwt_claim_string(t, "email"), "bea@argobox.example");
	}
	jwt_free(t);
	return r;
}

static char *
token(EVP_PKEY *k, const char *kid)
{
	time_t now = time(NULL);
	return tk_token(k, kid, NULL, NULL, now - 5, now + 600, "bea@argobox.example");
}

static int
setup(void **state)
{
	AB_ASSERT(mkdtemp(dir));
	key_a = tk_rsa(2048);
	key_b = tk_rsa(2048);
	write_file("mode", "ok");
	set_keys(1);
	int in[2], out[2];
	AB_ASSERT(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	server = fork();
	AB_ASSERT(server >= 0);
	if (server == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("python3", "python3", JWKS_SERVER, dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	server_stdin = in[1];
	/* read the port line; keep the pipe open until teardown so the server never gets EPIPE */
	server_stdout = out[0];
	char buf[32] = "";
	size_t got = 0;
	int64_t deadline = ab_now_ms() + 15000;
	while (!memchr(buf, '\n', got) && got < sizeof(buf) - 1 && ab_now_ms() < deadline) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, 1000) != 1)
			continue;
		ssize_t n = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	port = atoi(buf);
	AB_ASSERT(port > 0);
	loop = ab_loop_poll_new();
	http = httpc_new(loop);
	ab_test_audit_start();
	return 0;
}

static int
teardown(void **state)
{
	httpc_free(http);
	ab_loop_poll_free(loop);
	if (server > 0) {
		close(server_stdin);
		close(server_stdout);
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	ab_test_audit_stop();
	return 0;
}

static void
test_fetch_and_rotation(void **state)
{
	write_file("mode", "ok");
	set_keys(1);
	struct jwks *j = make("/certs", 5000, 1);
	char why[1024];
	bool pending = false;
	char *ta = token(key_a, "kA"), *tb = token(key_b, "kB");

	/* the first token waits for the first fetch */
	assert_int_equal(verify(j, ta, why, sizeof(why), &pending), 0);
	assert_true(pending);
	/* then it is immediate */
	assert_int_equal(verify(j, ta, why, sizeof(why), &pending), 0);
	assert_false(pending);
	struct jwks_stats st;
	jwks_get_stats(j, &st);
	assert_int_equal(st.keys, 1);
	assert_int_equal(st.fetches, 1);

	/* rotation: key B appears; a kB token triggers a refetch and passes */
	set_keys(3);
	int r;
	int64_t deadline = ab_now_ms() + 5000;
	do {
		/* min_refetch_ms is 1: wait (bounded) until the rate limit allows a refetch */
		r = verify(j, tb, why, sizeof(why), &pending);
		if (r < 0 && strstr(why, "refetched recently"))
			ab_loop_poll_once(loop, 2);
		else
			break;
	} while (ab_now_ms() < deadline);
	if (r != 0)
		fail_msg("kB after rotation: %s", why);
	assert_true(pending);
	jwks_get_stats(j, &st);
	assert_int_equal(st.keys, 2);

	/* key A retired: after a refresh its tokens are refused */
	set_keys(2);
	jwks_refresh(j);
	wait_fetches(j, 3, 0);
	jwks_get_stats(j, &st);
	assert_int_equal(st.keys, 1);
	deadline = ab_now_ms() + 5000;
	do {
		r = verify(j, ta, why, sizeof(why), &pending);
		if (!strstr(why, "refetched recently"))
			break;
		ab_loop_poll_once(loop, 2);
	} while (ab_now_ms() < deadline);
	assert_true(r < 0);
	assert_non_null(strstr(why, "unknown kid 'kA'"));
	assert_int_equal(verify(j, tb, why, sizeof(why), &pending), 0);
	free(ta);
	free(tb);
	jwks_free(j);
}

static void
test_rate_limit(void **state)
{
	write_file("mode", "ok");
	set_keys(1);
	struct jwks *j = make("/certs", 5000, 60000);
	wait_fetches(j, 1, 0);
	int before = hits();
	char why[1024];
	bool pending;
	/* a flood of made-up kids costs no request at all */
	for (int i = 0; i < 50; i++) {
		char kid[32];
		snprintf(kid, sizeof(kid), "made-up-%d", i);
		char *t = token(key_a, kid);
		assert_true(verify(j, t, why, sizeof(why), &pending) < 0);
		assert_false(pending);
		assert_non_null(strstr(why, "refetched recently"));
		free(t);
	}
	struct jwks_stats st;
	jwks_get_stats(j, &st);
	assert_int_equal(st.fetches, 1);
	assert_int_equal(hits(), before);
	jwks_free(j);
}

/*
 * N1 (issue 12): the periodic refresh follows the certs endpoint's Cache-Control within
 * [max(min_refetch, 1 s), refresh_ms], so a key taken out of the set stops being trusted
 * within max-age without any unknown-kid token forcing a refetch.
 */
static void
test_cache_control(void **state)
{
	write_file("mode", "ok");
	write_file("cache_control", "public, max-age=1");
	set_keys(3); /* A and B */
	char *u = url("/certs");
	struct jwks_config cfg = {
	    .url = u,
	    .policy = {.aud = TK_AUD, .iss = TK_ISS, .skew_s = 60},
	    .timeout_ms = 5000,
	    .min_refetch_ms = 1,
	    .refresh_ms = 60000,
	};
	struct jwks *j = jwks_new(loop, http, &cfg);
	free(u);
	wait_fetches(j, 1, 0);
	struct jwks_stats st;
	jwks_get_stats(j, &st);
	assert_int_equal(st.keys, 2);
	assert_int_equal(st.refresh_in_ms, 1000);
	char why[1024];
	char *ta = token(key_a, "kA");
	assert_int_equal(verify(j, ta, why, sizeof(why), NULL), 0);

	/* key A leaves the set: the next periodic fetch (about 1 s) drops it */
	set_keys(2);
	int64_t t0 = ab_now_ms();
	wait_fetches(j, 2, 0);
	int64_t took = ab_now_ms() - t0;
	assert_true(took < 3000);
	jwks_get_stats(j, &st);
	assert_int_equal(st.keys, 1);
	assert_true(verify(j, ta, why, sizeof(why), NULL) < 0);

	/* a long max-age is bounded by refresh_ms; no-store by the 1 s floor; none: refresh_ms */
	static const struct {
		const char *cc;
		int64_t want;
	} cases[] = {
	    {"max-age=86400", 60000}, {"no-store", 1000},    {"max-age=0", 1000},
	    {"max-age=7", 7000},      {"s-maxage=5", 60000}, {"", 60000},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(cases); i++) {
		write_file("cache_control", cases[i].cc);
		jwks_get_stats(j, &st);
		jwks_refresh(j);
		wait_fetches(j, st.fetch_ok + 1, 0);
		/* a periodic fetch already in flight may have read the previous header */
		int64_t deadline = ab_now_ms() + 3000;
		for (;;) {
			jwks_get_stats(j, &st);
			if (st.refresh_in_ms == cases[i].want || ab_now_ms() > deadline)
				break;
			jwks_refresh(j);
			assert_int_equal(ab_loop_poll_once(loop, 20), 0);
		}
		if (st.refresh_in_ms != cases[i].want)
			fail_msg("Cache-Control '%s': next refresh in %lld ms, want %lld",
			         cases[i].cc, (long long)st.refresh_in_ms,
			         (long long)cases[i].want);
	}
	write_file("cache_control", "");
	free(ta);
	jwks_free(j);

	/* the default interval is minutes, not an hour */
	cfg.url = "http://127.0.0.1:9/certs";
	cfg.refresh_ms = 0;
	j = jwks_new(loop, http, &cfg);
	jwks_get_stats(j, &st);
	assert_int_equal(st.refresh_in_ms, 300000);
	jwks_free(j);
}

static int64_t
tick(struct ab_loop *l, void *data)
{
	(*(int *)data)++;
	return 10;
}

static void
test_hang_junk_error(void **state)
{
	char why[1024];
	bool pending;
	char *ta = token(key_a, "kA");
	static int ticks; /* static: the timer outlives a failed assertion */
	ticks = 0;
	struct ab_timer *t = ab_loop_timer(loop, 10, tick, &ticks);

	/* a server that never answers: the waiter is released by the timeout */
	struct jwks *j = make("/hang", 300, 60000);
	assert_true(verify(j, ta, why, sizeof(why), &pending) < 0);
	assert_true(pending);
	assert_non_null(strstr(why, "unknown kid 'kA'"));
	assert_non_null(strstr(why, "fetch failed"));
	assert_true(ticks > 0); /* the loop kept running meanwhile */
	jwks_free(j);

	/* junk at first: nothing usable */
	j = make("/junk", 2000, 60000);
	assert_true(verify(j, ta, why, sizeof(why), &pending) < 0);
	assert_non_null(strstr(why, "not JSON"));
	jwks_free(j);

	/* a working server that turns bad: the cached keys stay */
	write_file("mode", "ok");
	set_keys(1);
	j = make("/certs", 300, 60000);
	wait_fetches(j, 1, 0);
	const char *modes[] = {"hang", "junk", "500"};
	for (unsigned i = 0; i < AB_ARRAY_SIZE(modes); i++) {
		write_file("mode", modes[i]);
		jwks_refresh(j);
		wait_fetches(j, 1, i + 1);
		struct jwks_stats st;
		jwks_get_stats(j, &st);
		assert_int_equal(st.keys, 1);
		assert_true(st.last_error[0] != '\0');
		assert_int_equal(verify(j, ta, why, sizeof(why), &pending), 0);
		assert_false(pending);
	}
	write_file("mode", "ok");
	jwks_free(j);
	ab_loop_timer_cancel(loop, t);
	free(ta);
}

static void
test_attacks_audited(void **state)
{
	write_file("mode", "ok");
	set_keys(1);
	struct jwks *j = make("/certs", 5000, 60000);
	wait_fetches(j, 1, 0);
	time_t now = time(NULL);
	char *pem = tk_pubkey_pem(key_a);
	char *payload = ab_xasprintf("{\"aud\":[\"%s\"],\"iss\":\"%s\",\"exp\":%lld,"
	                             "\"email\":\"bea@argobox.example\"}",
	                             TK_AUD, TK_ISS, (long long)now + 600);
	char *none_h = NULL, *none_p = NULL;
	const char *nh = "{\"alg\":\"none\",\"kid\":\"kA\"}";
	jwt_b64url_encode(nh, strlen(nh), &none_h);
	jwt_b64url_encode(payload, strlen(payload), &none_p);
	char *big = ab_xmalloc((1 << 20) + 1);
	memset(big, 'e', 1 << 20);
	big[1 << 20] = '\0';
	char *good = token(key_a, "kA");
	char *flipped = ab_xstrdup(good);
	/* change one signature character, staying inside the base64url alphabet */
	flipped[strlen(flipped) - 3] = flipped[strlen(flipped) - 3] == 'A' ? 'B' : 'A';
	struct {
		const char *name;
		char *tok;
		const char *reason;
	} attacks[] = {
	    {"alg none", ab_xasprintf("%s.%s.", none_h, none_p), "unsigned"},
	    {"alg none signed", ab_xasprintf("%s.%s.AAAA", none_h, none_p), "alg 'none'"},
	    {"HS256 with the public key",
	     tk_sign_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"kA\"}", payload),
	     "alg 'HS256'"},
	    {"wrong aud", tk_token(key_a, "kA", "other-app", NULL, now, now + 600, "bea@x"),
	     "wrong audience"},
	    {"wrong iss",
	     tk_token(key_a, "kA", NULL, "https://evil.cloudflareaccess.com", now, now + 600,
	              "b@x"),
	     "wrong issuer"},
	    {"expired", tk_token(key_a, "kA", NULL, NULL, now - 7200, now - 3600, "b@x"),
	     "expired"},
	    {"not yet valid", tk_token(key_a, "kA", NULL, NULL, now + 3600, now + 7200, "b@x"),
	     "not valid yet"},
	    {"bad signature", flipped, "bad signature"},
	    {"other key", tk_token(key_b, "kA", NULL, NULL, now, now + 600, "b@x"),
	     "bad signature"},
	    {"unknown kid", token(key_b, "kZ"), "unknown kid 'kZ'"},
	    {"truncated", ab_xstrndup(good, (size_t)(strchr(good, '.') - good) + 10), "malformed"},
	    {"truncated signature", ab_xstrndup(good, strlen(good) - 10), "bad signature"},
	    {"garbage", ab_xstrdup("\x01\x02garbage\xff"), "malformed"},
	    {"1 MB", big, "more than the 16384 allowed"},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(attacks); i++) {
		char why[1024];
		bool pending;
		size_t before = json_array_size(ab_test_audit_events());
		int r = verify(j, attacks[i].tok, why, sizeof(why), &pending);
		if (r >= 0 || !strstr(why, attacks[i].reason))
			fail_msg("%s: got %d '%s', want '%s'", attacks[i].name, r, why,
			         attacks[i].reason);
		/* exactly one audit line, a denial with the same reason */
		assert_int_equal(json_array_size(ab_test_audit_events()), before + 1);
		json_t *ev = json_array_get(ab_test_audit_events(), before);
		assert_string_equal(json_string_value(json_object_get(ev, "event")), "auth.access");
		assert_string_equal(json_string_value(json_object_get(ev, "outcome")), "deny");
		assert_string_equal(json_string_value(json_object_get(ev, "source")), "127.0.0.1");
		const char *reason =
		    json_string_value(json_object_get(json_object_get(ev, "detail"), "reason"));
		assert_non_null(reason);
		assert_non_null(strstr(reason, attacks[i].reason));
		free(attacks[i].tok);
	}
	/* and the good token still passes, audited as a grant with the email */
	char why[1024];
	assert_int_equal(verify(j, good, why, sizeof(why), NULL), 0);
	json_t *ev =
	    json_array_get(ab_test_audit_events(), json_array_size(ab_test_audit_events()) - 1);
	assert_string_equal(json_string_value(json_object_get(ev, "outcome")), "grant");
	assert_string_equal(json_string_value(json_object_get(ev, "user")), "bea@argobox.example");
	struct jwks_stats st;
	jwks_get_stats(j, &st);
	assert_int_equal(st.fetches, 1); /* the unknown kid was rate-limited, not fetched */
	free(good);
	free(pem);
	free(payload);
	free(none_h);
	free(none_p);
	jwks_free(j);
}

static void
test_access_requests(void **state)
{
	/* the broker-facing path: Access identities found by email in the sample's user table */
	write_file("mode", "ok");
	set_keys(1);
	struct jwks *j = make("/certs", 5000, 60000);
	wait_fetches(j, 1, 0);
	struct users_db *db = NULL;
	struct ab_err err = {0};
	if (users_load_file(AB_SOURCE_DIR "/config/argobox.sample.json", &db, &err) < 0)
		fail_msg("%s", err.msg);
	struct auth_ctx ctx = {.db = db, .local = auth_local_new(db, NULL), .jwks = j};
	time_t now = time(NULL);
	char *bea = token(key_a, "kA");
	char *ghost = tk_token(key_a, "kA", NULL, NULL, now, now + 600, "ghost@argobox.example");
	char *expired =
	    tk_token(key_a, "kA", NULL, NULL, now - 7200, now - 3600, "bea@argobox.example");
	char *newkid = token(key_b, "kB");
	char *cookie = ab_xasprintf("a=1; CF_Authorization=%s", bea);
	struct auth_decision d;
	struct auth_request rq = {.method = "GET",
	                          .path = "/api/me",
	                          .peer = "127.0.0.1",
	                          .host = "box",
	                          .cf_assertion = bea};
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 0);
	assert_string_equal(d.id.user, "bea");
	assert_int_equal(d.id.via, AUTH_VIA_ACCESS);
	assert_string_equal(d.id.email, "bea@argobox.example");
	/* cookie fallback, on the websocket upgrade too */
	rq.cf_assertion = NULL;
	rq.cookie = cookie;
	rq.path = "/websockify";
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 0);
	assert_string_equal(d.id.user, "bea");
	/* a valid token for nobody in the table */
	rq.cookie = NULL;
	rq.cf_assertion = ghost;
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 403);
	rq.cf_assertion = expired;
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 401);
	/* a state-changing request with an Access identity must come with our Origin */
	rq.cf_assertion = bea;
	rq.method = "PUT";
	rq.path = "/api/state";
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 403);
	rq.origin = "http://box";
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 0);
	/* a new kid: 503 + Retry-After while the hook cannot wait; after the fetch it passes */
	set_keys(3);
	jwks_free(j);
	j = make("/certs", 5000, 60000);
	ctx.jwks = j;
	wait_fetches(j, 1, 0);
	set_keys(3);
	rq.method = "GET";
	rq.path = "/api/me";
	rq.cf_assertion = newkid;
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 0); /* kB was in the first fetch */
	jwks_free(j);
	set_keys(1);
	j = make("/certs", 5000, 1);
	ctx.jwks = j;
	wait_fetches(j, 1, 0);
	set_keys(3);
	int64_t deadline = ab_now_ms() + 5000;
	do {
		auth_request_check(&ctx, &rq, ab_now_ms(), &d);
		if (d.status == 503)
			break;
		ab_loop_poll_once(loop, 2);
	} while (ab_now_ms() < deadline);
	assert_int_equal(d.status, 503);
	assert_int_equal(d.retry_after_s, 1);
	wait_fetches(j, 2, 0);
	auth_request_check(&ctx, &rq, ab_now_ms(), &d);
	assert_int_equal(d.status, 0);
	assert_string_equal(d.id.user, "bea");
	free(bea);
	free(ghost);
	free(expired);
	free(newkid);
	free(cookie);
	auth_local_free(ctx.local);
	users_free(db);
	jwks_free(j);
}

int
main(void)
{
	if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
		printf("skipping: python3 is not installed\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_and_rotation), cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_hang_junk_error),    cmocka_unit_test(test_attacks_audited),
	    cmocka_unit_test(test_access_requests),    cmocka_unit_test(test_cache_control),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
