/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * httpc against a tiny HTTP/1.1 server on loopback that runs on the same
 * ab_loop_poll loop: routes /hello, /echo, /big, /slow, /status/N. Built twice: the
 * plain client (transfers on that loop) and, with HTTPC_THREADED, httpc_new_threaded()
 * (transfers on the client's own thread, callbacks on that loop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "httpc.h"

/* --- the server ------------------------------------------------------------------------ */

struct conn {
	int fd;
	struct ab_watch *w;
	char buf[65536];
	size_t len;
	bool used;
};

struct server {
	struct ab_loop *loop;
	int lfd;
	int port;
	struct ab_watch *lw;
	struct conn conns[8];
	int requests;
};

static void
conn_close(struct server *s, struct conn *c)
{
	ab_loop_unwatch(s->loop, c->w);
	close(c->fd);
	c->used = false;
}

static void
reply(struct conn *c, int status, const char *extra_headers, const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                 status, len, extra_headers);
	/* a client that cancelled may be gone: EPIPE or ECONNRESET, nothing else */
	int r = ab_write_all(c->fd, head, (size_t)n);
	if (r == 0 && len)
		r = ab_write_all(c->fd, body, len);
	assert_true(r == 0 || r == -EPIPE || r == -ECONNRESET);
}

/* Returns true once a whole request was handled. */
static bool
handle(struct server *s, struct conn *c)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!end)
		return false;
	size_t hlen = (size_t)(end - c->buf) + 4;
	size_t clen = 0;
	char *cl = strcasestr(c->buf, "Content-Length:");
	if (cl && cl < end)
		clen = strtoul(cl + 15, NULL, 10);
	if (c->len < hlen + clen)
		return false;
	char method[16], path[256];
	assert_int_equal(sscanf(c->buf, "%15s %255s", method, path), 2);
	s->requests++;
	if (strcmp(path, "/hello") == 0) {
		reply(c, 200, "X-Test:  yes \r\n", "hello", 5);
	} else if (strcmp(path, "/echo") == 0) {
		char out[70000];
		const char *xa = strcasestr(c->buf, "\r\nX-A: ");
		char xav[64] = "";
		if (xa && xa < end)
			sscanf(xa + 7, "%63[^\r]", xav);
		int n = snprintf(out, sizeof(out), "%s|%s|", method, xav);
		memcpy(out + n, c->buf + hlen, clen);
		reply(c, 201, "", out, (size_t)n + clen);
	} else if (strcmp(path, "/big") == 0) {
		static char big[5000];
		memset(big, 'b', sizeof(big));
		reply(c, 200, "", big, sizeof(big));
	} else if (strcmp(path, "/slow") == 0) {
		return true; /* never answers; the client times out */
	} else if (strncmp(path, "/status/", 8) == 0) {
		reply(c, atoi(path + 8), "Retry-After: 7\r\n", "no", 2);
	} else {
		reply(c, 404, "", "", 0);
	}
	return true;
}

static void
on_conn(struct ab_loop *loop, int fd, unsigned ev, void *data)
{
	struct server *s = data;
	struct conn *c = NULL;
	for (size_t i = 0; i < AB_ARRAY_SIZE(s->conns); i++)
		if (s->conns[i].used && s->conns[i].fd == fd)
			c = &s->conns[i];
	assert_non_null(c);
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n <= 0) {
		conn_close(s, c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (handle(s, c))
		ab_loop_watch_update(loop, c->w, 0); /* done reading; closed at teardown */
}

static void
on_accept(struct ab_loop *loop, int fd, unsigned ev, void *data)
{
	struct server *s = data;
	int cfd = accept(fd, NULL, NULL);
	assert_true(cfd >= 0);
	for (size_t i = 0; i < AB_ARRAY_SIZE(s->conns); i++) {
		struct conn *c = &s->conns[i];
		if (c->used)
			continue;
		c->used = true;
		c->fd = cfd;
		c->len = 0;
		c->w = ab_loop_watch(loop, cfd, AB_LOOP_READ, on_conn, s);
		return;
	}
	close(cfd); /* too many: the client sees a reset */
}

static int
tcp_listen(int *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(listen(fd, 16), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

struct fixture {
	struct ab_loop *loop;
	struct server srv;
	struct httpc *c;
};

static struct httpc *
new_client(struct ab_loop *loop)
{
#ifdef HTTPC_THREADED
	struct ab_err err = {0};
	struct httpc *c = httpc_new_threaded(loop, &err);
	assert_non_null(c);
	return c;
#else
	return httpc_new(loop);
#endif
}

static int
setup(void **state)
{
	struct fixture *f = ab_xcalloc(1, sizeof(*f));
	signal(SIGPIPE, SIG_IGN); /* the server answers clients that cancelled */
	f->loop = ab_loop_poll_new();
	f->srv.loop = f->loop;
	f->srv.lfd = tcp_listen(&f->srv.port);
	f->srv.lw = ab_loop_watch(f->loop, f->srv.lfd, AB_LOOP_READ, on_accept, &f->srv);
	f->c = new_client(f->loop);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	httpc_free(f->c);
	for (size_t i = 0; i < AB_ARRAY_SIZE(f->srv.conns); i++)
		if (f->srv.conns[i].used)
			conn_close(&f->srv, &f->srv.conns[i]);
	ab_loop_unwatch(f->loop, f->srv.lw);
	close(f->srv.lfd);
	ab_loop_poll_free(f->loop);
	free(f);
	return 0;
}

/* --- client side ----------------------------------------------------------------------- */

struct result {
	bool done;
	int calls;
	long status;
	int error;
	char body[8192];
	size_t body_len;
	char xtest[64];
	char retry_after[16];
	char errmsg[256];
};

static void
on_done(const struct httpc_resp *r, void *data)
{
	struct result *res = data;
	res->done = true;
	res->calls++;
	res->status = r->status;
	res->error = r->error;
	res->body_len = r->body_len;
	assert_non_null(r->body);
	assert_int_equal(r->body[r->body_len], '\0');
	memcpy(res->body, r->body, AB_MIN(r->body_len + 1, sizeof(res->body)));
	const char *h = httpc_resp_header(r, "x-TEST");
	snprintf(res->xtest, sizeof(res->xtest), "%s", h ? h : "");
	h = httpc_resp_header(r, "retry-after");
	snprintf(res->retry_after, sizeof(res->retry_after), "%s", h ? h : "");
	snprintf(res->errmsg, sizeof(res->errmsg), "%s", r->errmsg);
}

static void
run_until(struct fixture *f, bool *flag)
{
	int64_t deadline = ab_now_ms() + 20000;
	while (!*flag && ab_now_ms() < deadline)
		assert_int_equal(ab_loop_poll_once(f->loop, 100), 0);
	assert_true(*flag);
}

static char *
url(struct fixture *f, const char *path)
{
	return ab_xasprintf("http://127.0.0.1:%d%s", f->srv.port, path);
}

static void
test_get(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/hello");
	struct result res = {0};
	struct httpc_req req = {.url = u};
	struct httpc_call *call = NULL;
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, &call, NULL), 0);
	assert_non_null(call);
	assert_false(res.done); /* never inside httpc_request */
	assert_int_equal(httpc_pending(f->c), 1);
	run_until(f, &res.done);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.error, 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, "hello");
	assert_string_equal(res.xtest, "yes");
	assert_int_equal(httpc_pending(f->c), 0);
}

static void
test_put_body_headers(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/echo");
	struct result res = {0};
	const char *hdrs[] = {"X-A: value-a", "Content-Type: application/octet-stream", NULL};
	char body[3] = {'a', '\0', 'z'}; /* binary, with a NUL */
	struct httpc_req req = {
	    .method = "PUT", .url = u, .headers = hdrs, .body = body, .body_len = 3};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.status, 201);
	assert_int_equal(res.body_len, strlen("PUT|value-a|") + 3);
	assert_memory_equal(res.body, "PUT|value-a|a\0z", res.body_len);
}

static void
test_delete(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/echo");
	struct result res = {0};
	struct httpc_req req = {.method = "DELETE", .url = u};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.status, 201);
	assert_string_equal(res.body, "DELETE||");
}

static void
test_status_and_header(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/status/503");
	struct result res = {0};
	struct httpc_req req = {.url = u};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.error, 0);
	assert_int_equal(res.status, 503);
	assert_string_equal(res.retry_after, "7");
}

static void
test_too_big(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/big");
	struct result res = {0};
	struct httpc_req req = {.url = u, .max_response = 1000};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.error, -EFBIG);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.body_len, 0);
	assert_non_null(strstr(res.errmsg, "1000"));

	/* the same response fits under a larger cap */
	struct result ok = {0};
	req.max_response = 5000;
	assert_int_equal(httpc_request(f->c, &req, on_done, &ok, NULL, NULL), 0);
	run_until(f, &ok.done);
	assert_int_equal(ok.error, 0);
	assert_int_equal(ok.body_len, 5000);
}

static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/slow");
	struct result res = {0};
	struct httpc_req req = {.url = u, .timeout_ms = 300};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.error, -ETIMEDOUT);
}

static void
test_refused(void **state)
{
	struct fixture *f = *state;
	int port;
	int fd = tcp_listen(&port);
	close(fd); /* nothing listens there now */
	_cleanup_free_ char *u = ab_xasprintf("http://127.0.0.1:%d/", port);
	struct result res = {0};
	struct httpc_req req = {.url = u};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.error, -ECONNREFUSED);
	assert_true(res.errmsg[0] != '\0');
}

static void
test_invalid(void **state)
{
	struct fixture *f = *state;
	struct result res = {0};
	struct ab_err err = {0};
	struct httpc_req req = {.url = "file:///etc/passwd"};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "file:///etc/passwd"));
	const char *bad[] = {"X-Evil: a\r\nInjected: b", NULL};
	struct httpc_req req2 = {.url = "http://127.0.0.1:1/", .headers = bad};
	assert_int_equal(httpc_request(f->c, &req2, on_done, &res, NULL, &err), -EINVAL);
	struct httpc_req req3 = {.url = NULL};
	assert_int_equal(httpc_request(f->c, &req3, on_done, &res, NULL, &err), -EINVAL);
	assert_int_equal(httpc_pending(f->c), 0);
}

static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *slow = url(f, "/slow");
	_cleanup_free_ char *hello = url(f, "/hello");
	struct result cancelled = {0}, res = {0};
	struct httpc_req req = {.url = slow};
	struct httpc_call *call = NULL;
	assert_int_equal(httpc_request(f->c, &req, on_done, &cancelled, &call, NULL), 0);
	/* let it connect and send, then cancel it */
	while (f->srv.requests == 0)
		assert_int_equal(ab_loop_poll_once(f->loop, 100), 0);
	httpc_cancel(f->c, call);
	struct httpc_req req2 = {.url = hello};
	assert_int_equal(httpc_request(f->c, &req2, on_done, &res, NULL, NULL), 0);
	run_until(f, &res.done);
	assert_int_equal(res.status, 200);
	assert_false(cancelled.done);
	assert_int_equal(httpc_pending(f->c), 0);
}

static void
test_many_parallel(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/hello");
	struct result res[6] = {0};
	struct httpc_req req = {.url = u};
	for (size_t i = 0; i < AB_ARRAY_SIZE(res); i++)
		assert_int_equal(httpc_request(f->c, &req, on_done, &res[i], NULL, NULL), 0);
	for (size_t i = 0; i < AB_ARRAY_SIZE(res); i++) {
		run_until(f, &res[i].done);
		assert_int_equal(res[i].status, 200);
		assert_int_equal(res[i].calls, 1);
	}
}

/* freeing the client with calls in flight: no callback, no leak (ASan checks) */
static void
test_free_pending(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = url(f, "/slow");
	struct result res = {0};
	struct httpc_req req = {.url = u};
	assert_int_equal(httpc_request(f->c, &req, on_done, &res, NULL, NULL), 0);
	while (f->srv.requests == 0)
		assert_int_equal(ab_loop_poll_once(f->loop, 100), 0);
	httpc_free(f->c);
	f->c = new_client(f->loop);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ab_loop_poll_once(f->loop, 10), 0);
	assert_false(res.done);
}

/* Cancelling calls in every state at once (handed over, running, finished and waiting to
 * be delivered), and from a callback: no cancelled callback runs, the others each run once,
 * nothing leaks (ASan), nothing is pending afterwards. */
struct duel {
	struct fixture *f;
	struct httpc_call *call[2];
	struct result res[2];
};

/* Two calls; whichever finishes first cancels the other (which may have finished too and
 * wait in the same delivery round). */
static void
duel_done(struct duel *d, int me, const struct httpc_resp *r)
{
	on_done(r, &d->res[me]);
	d->call[me] = NULL;
	if (d->call[!me]) {
		httpc_cancel(d->f->c, d->call[!me]);
		d->call[!me] = NULL;
	}
}
static void
duel_0(const struct httpc_resp *r, void *data)
{
	duel_done(data, 0, r);
}
static void
duel_1(const struct httpc_resp *r, void *data)
{
	duel_done(data, 1, r);
}

static void
test_cancel_storm(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *hello = url(f, "/hello");
	enum { N = 6 }; /* within the server's 8 connections */
	struct result res[N];
	struct httpc_call *calls[N];
	for (int round = 0; round < 60; round++) {
		memset(res, 0, sizeof(res));
		struct httpc_req req = {.url = hello};
		for (int i = 0; i < N; i++)
			assert_int_equal(
			    httpc_request(f->c, &req, on_done, &res[i], &calls[i], NULL), 0);
		/* a third at once (still handed over), a third after a few rounds of the loop
		 * (connecting, answered, or finished and waiting to be delivered) */
		for (int i = 0; i < N; i += 3)
			httpc_cancel(f->c, calls[i]);
		for (int k = 0; k < round % 6; k++)
			assert_int_equal(ab_loop_poll_once(f->loop, round % 2), 0);
		bool late[N] = {0};
		for (int i = 1; i < N; i += 3)
			if (!res[i].done) {
				httpc_cancel(f->c, calls[i]);
				late[i] = true;
			}
		int64_t deadline = ab_now_ms() + 20000;
		while (httpc_pending(f->c) > 0 && ab_now_ms() < deadline)
			assert_int_equal(ab_loop_poll_once(f->loop, 50), 0);
		assert_int_equal(httpc_pending(f->c), 0);
		for (int i = 0; i < N; i++)
			assert_int_equal(res[i].calls, i % 3 == 0 || late[i] ? 0 : 1);
	}
	for (int round = 0; round < 20; round++) {
		struct duel d = {.f = f};
		struct httpc_req req = {.url = hello};
		assert_int_equal(httpc_request(f->c, &req, duel_0, &d, &d.call[0], NULL), 0);
		assert_int_equal(httpc_request(f->c, &req, duel_1, &d, &d.call[1], NULL), 0);
		int64_t deadline = ab_now_ms() + 20000;
		while (httpc_pending(f->c) > 0 && ab_now_ms() < deadline)
			assert_int_equal(ab_loop_poll_once(f->loop, 50), 0);
		assert_int_equal(httpc_pending(f->c), 0);
		assert_int_equal(d.res[0].calls + d.res[1].calls, 1);
	}
}

AB_TEST_MAIN_FIXTURE(setup, teardown, test_get, test_put_body_headers, test_delete,
                     test_status_and_header, test_too_big, test_timeout, test_refused, test_invalid,
                     test_cancel, test_many_parallel, test_free_pending, test_cancel_storm);
