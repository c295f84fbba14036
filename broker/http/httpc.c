/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * httpc: libcurl multi interface on an ab_loop (see httpc.h).
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * call it back (CURLMOPT_TIMERFUNCTION); we map those onto ab_loop watches
 * and one timer, and after every curl_multi_socket_action() drain finished
 * transfers with curl_multi_info_read(). Because curl_multi_add_handle() only
 * arms a 0 ms timer, a request never completes inside httpc_request().
 *
 * httpc_new_threaded(): the same multi handle and glue run on a worker thread's
 * own ab_loop_poll. The caller's loop only hands requests over (an inbox and an
 * eventfd the worker watches) and runs the callbacks of finished ones (an outbox
 * and an eventfd the caller's loop watches). Name resolution, connecting, TLS
 * handshakes and reading bodies, and curl's bookkeeping over many sockets, then
 * cost the caller's loop nothing. A call belongs to the worker from hand-over
 * until it reaches the outbox, and to the caller's thread before and after.
 */
#include "httpc.h"
#include "ab_log.h"
#include "ab_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct httpc_sock {
	struct ab_watch *watch;
	struct httpc_sock *next, *prev;
};

struct httpc_call {
	struct httpc *c;
	CURL *easy;
	struct curl_slist *hdrs;
	httpc_done_fn done;
	void *data;
	size_t max_response;
	char *body;
	size_t body_len, body_cap;
	bool too_big;
	struct httpc_header *rh; /* response headers; strings owned in rh_raw */
	char **rh_raw;
	size_t n_rh, cap_rh;
	char errbuf[CURL_ERROR_SIZE];
	/* filled when the transfer finished, on the thread that ran it */
	struct httpc_resp resp;
	char errmsg[CURL_ERROR_SIZE + 64];
	char *primary_ip;
	/* threaded: where the call is (under the worker's mu once handed over) */
	enum { CALL_QUEUED, CALL_RUNNING, CALL_OUTBOX, CALL_FINISHED_CANCELLED } state;
	bool cancelled;                 /* the caller cancelled it: its callback never runs */
	struct httpc_call *qnext;       /* in the inbox or the outbox */
	struct httpc_call *cnext;       /* in the cancel list */
	struct httpc_call *next, *prev; /* in the list of the client running the transfer */
};

/* The worker thread of httpc_new_threaded(). */
struct httpc_worker {
	pthread_t thread;
	struct ab_loop *loop; /* the worker's own */
	struct httpc *c;      /* the worker's plain client on that loop */
	int in_fd, out_fd;    /* eventfds: work for the worker, results for the caller */
	struct ab_watch *in_watch, *out_watch;
	pthread_mutex_t mu;
	struct httpc_call *inbox, *cancels, *outbox; /* under mu, LIFO (reversed when taken) */
	bool quit;                                   /* under mu */
};

struct httpc {
	struct ab_loop *loop;
	CURLM *multi;
	struct ab_timer *timer;
	struct httpc_call *calls;
	struct httpc_sock *socks;
	size_t n_calls;
	bool closing;
	struct httpc_worker *w; /* threaded: the caller's side; multi is the worker's */
	struct httpc *owner;    /* the worker's client: the caller's threaded client */
};

static void
curl_init_once(void)
{
	static bool done;
	if (!done) {
		AB_ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
		done = true;
	}
}

static void call_free(struct httpc_call *call);
static void check_done(struct httpc *c);
static void worker_finished(struct httpc *wc, struct httpc_call *call);

/* --- loop glue ------------------------------------------------------------------------- */

static void
on_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct httpc *c = data;
	int ev = 0;
	if (events & AB_LOOP_READ)
		ev |= CURL_CSELECT_IN;
	if (events & AB_LOOP_WRITE)
		ev |= CURL_CSELECT_OUT;
	if (events & AB_LOOP_ERROR)
		ev |= CURL_CSELECT_ERR;
	int running;
	curl_multi_socket_action(c->multi, fd, ev, &running);
	check_done(c);
}

static int64_t
on_timer(struct ab_loop *loop, void *data)
{
	struct httpc *c = data;
	/* This timer is done; curl re-arms through timer_cb if it needs to. */
	c->timer = NULL;
	int running;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
	return AB_TIMER_STOP;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *c = userp;
	if (c->closing)
		return 0;
	ab_loop_timer_cancel(c->loop, c->timer);
	c->timer = NULL;
	if (timeout_ms >= 0)
		c->timer = ab_loop_timer(c->loop, timeout_ms, on_timer, c);
	return 0;
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct httpc *c = userp;
	struct httpc_sock *hs = socketp;
	if (c->closing)
		return 0;
	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			ab_loop_unwatch(c->loop, hs->watch);
			if (hs->prev)
				hs->prev->next = hs->next;
			else
				c->socks = hs->next;
			if (hs->next)
				hs->next->prev = hs->prev;
			free(hs);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	unsigned ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= AB_LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= AB_LOOP_WRITE;
	if (!hs) {
		hs = ab_xcalloc(1, sizeof(*hs));
		hs->watch = ab_loop_watch(c->loop, s, ev, on_io, c);
		hs->next = c->socks;
		if (c->socks)
			c->socks->prev = hs;
		c->socks = hs;
		curl_multi_assign(c->multi, s, hs);
	} else {
		ab_loop_watch_update(c->loop, hs->watch, ev);
	}
	return 0;
}

/* --- per-transfer callbacks ----------------------------------------------------------- */

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct httpc_call *call = userdata;
	size_t n = size * nmemb;
	if (call->body_len + n > call->max_response) {
		call->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (call->body_len + n + 1 > call->body_cap) {
		call->body_cap = AB_MAX(call->body_cap * 2, call->body_len + n + 1);
		call->body_cap = AB_MAX(call->body_cap, (size_t)256);
		call->body = ab_xrealloc(call->body, call->body_cap);
	}
	memcpy(call->body + call->body_len, ptr, n);
	call->body_len += n;
	call->body[call->body_len] = '\0';
	return n;
}

static void
headers_reset(struct httpc_call *call)
{
	for (size_t i = 0; i < call->n_rh; i++)
		free(call->rh_raw[i]);
	call->n_rh = 0;
}

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct httpc_call *call = userdata;
	size_t n = size * nitems;
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response starts (after 100 Continue, say): keep only the final one's. */
		headers_reset(call);
		return n;
	}
	const char *colon = memchr(buf, ':', n);
	if (!colon || call->n_rh >= 256)
		return n;
	char *raw = ab_xstrndup(buf, n);
	char *value = raw + (colon - buf) + 1;
	raw[colon - buf] = '\0';
	while (*value == ' ' || *value == '\t')
		value++;
	size_t vl = strlen(value);
	while (vl && (value[vl - 1] == '\r' || value[vl - 1] == '\n' || value[vl - 1] == ' ' ||
	              value[vl - 1] == '\t'))
		value[--vl] = '\0';
	if (call->n_rh == call->cap_rh) {
		call->cap_rh = AB_MAX(call->cap_rh * 2, (size_t)16);
		call->rh = ab_xrealloc(call->rh, call->cap_rh * sizeof(*call->rh));
		call->rh_raw = ab_xrealloc(call->rh_raw, call->cap_rh * sizeof(*call->rh_raw));
	}
	call->rh_raw[call->n_rh] = raw;
	call->rh[call->n_rh].name = raw;
	call->rh[call->n_rh].value = value;
	call->n_rh++;
	return n;
}

/* --- completion ------------------------------------------------------------------------ */

static int
map_curl_error(CURLcode rc, bool too_big)
{
	if (too_big)
		return -EFBIG;
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static void
call_unlink(struct httpc_call *call)
{
	struct httpc *c = call->c;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	c->n_calls--;
}

/* "Expire date:Jan  5 12:00:00 2027 GMT" of the first (the peer's) certificate; 0 unknown. */
static int64_t
cert_expiry(CURL *easy)
{
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		return 0;
	for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next) {
		if (strncmp(l->data, "Expire date:", 12) != 0)
			continue;
		struct tm tm = {0};
		const char *end = strptime(l->data + 12, "%b %d %H:%M:%S %Y GMT", &tm);
		return end ? (int64_t)timegm(&tm) : 0;
	}
	return 0;
}

static void
fill_timing(CURL *easy, struct httpc_resp *resp)
{
	curl_off_t t[5] = {0};
	static const CURLINFO keys[5] = {CURLINFO_NAMELOOKUP_TIME_T, CURLINFO_CONNECT_TIME_T,
	                                 CURLINFO_APPCONNECT_TIME_T, CURLINFO_STARTTRANSFER_TIME_T,
	                                 CURLINFO_TOTAL_TIME_T};
	for (int i = 0; i < 5; i++)
		curl_easy_getinfo(easy, keys[i], &t[i]);
	resp->timing =
	    (struct httpc_timing){t[0] / 1e3, t[1] / 1e3, t[2] / 1e3, t[3] / 1e3, t[4] / 1e3};
	char *ip = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip);
	resp->primary_ip = ip ? ip : "";
	resp->cert_expiry_s = cert_expiry(easy);
}

static void
check_done(struct httpc *c)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct httpc_call *call = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
		AB_ASSERT(call && call->easy == easy);
		curl_multi_remove_handle(c->multi, easy);
		call_unlink(call);

		struct httpc_resp *resp = &call->resp;
		*resp = (struct httpc_resp){
		    .body = call->body ? call->body : "",
		    .body_len = call->body_len,
		    .errmsg = "",
		};
		resp->error = map_curl_error(rc, call->too_big);
		if (resp->error < 0) {
			if (call->too_big)
				snprintf(call->errmsg, sizeof(call->errmsg),
				         "response larger than %zu bytes", call->max_response);
			else
				snprintf(call->errmsg, sizeof(call->errmsg), "%s",
				         call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
			resp->errmsg = call->errmsg;
			resp->body = "";
			resp->body_len = 0;
		} else {
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
			resp->headers = call->rh;
			resp->n_headers = call->n_rh;
		}
		fill_timing(easy, resp);
		/* the easy handle's own string lives only as long as the handle's next use */
		call->primary_ip = ab_xstrdup(resp->primary_ip);
		resp->primary_ip = call->primary_ip;
		if (c->owner) {
			worker_finished(c, call);
			continue;
		}
		call->done(resp, call->data);
		call_free(call);
	}
}

/* --- public API ------------------------------------------------------------------------ */

struct httpc *
httpc_new(struct ab_loop *loop)
{
	curl_init_once();
	struct httpc *c = ab_xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->multi = curl_multi_init();
	AB_ASSERT(c->multi);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

static void
call_free(struct httpc_call *call)
{
	if (!call)
		return;
	curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->hdrs);
	headers_reset(call);
	free(call->rh);
	free(call->rh_raw);
	free(call->body);
	free(call->primary_ip);
	free(call);
}

static void worker_free(struct httpc *tc);

void
httpc_free(struct httpc *c)
{
	if (!c)
		return;
	if (c->w) {
		worker_free(c);
		return;
	}
	while (c->calls) {
		struct httpc_call *call = c->calls;
		curl_multi_remove_handle(c->multi, call->easy);
		call_unlink(call);
		call_free(call);
	}
	c->closing = true;
	curl_multi_cleanup(c->multi);
	while (c->socks) {
		struct httpc_sock *hs = c->socks;
		c->socks = hs->next;
		ab_loop_unwatch(c->loop, hs->watch);
		free(hs);
	}
	ab_loop_timer_cancel(c->loop, c->timer);
	free(c);
}

const char *
httpc_resp_header(const struct httpc_resp *r, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			found = r->headers[i].value;
	return found;
}

static bool
header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	return colon && colon != h && !strpbrk(h, "\r\n");
}

/* A call with its easy handle set up for req; NULL with err set for an unusable request. */
static struct httpc_call *
call_new(const struct httpc_req *req, httpc_done_fn done, void *data, struct ab_err *err)
{
	if (!req->url)
		return ab_err_set(err, EINVAL, "HTTP request without a URL"), NULL;
	if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0)
		return ab_err_set(err, EINVAL, "URL '%s' is not http:// or https://", req->url),
		       NULL;
	const char *method = req->method ? req->method : "GET";
	if (!*method || strpbrk(method, " \r\n\t"))
		return ab_err_set(err, EINVAL, "invalid HTTP method '%s'", method), NULL;
	if (req->headers)
		for (const char *const *h = req->headers; *h; h++)
			if (!header_ok(*h))
				return ab_err_set(err, EINVAL, "invalid HTTP header '%s'", *h),
				       NULL;

	struct httpc_call *call = ab_xcalloc(1, sizeof(*call));
	call->done = done;
	call->data = data;
	call->max_response = req->max_response ? req->max_response : HTTPC_DEFAULT_MAX_RESPONSE;
	call->easy = curl_easy_init();
	AB_ASSERT(call->easy);
	CURL *e = call->easy;
	if (req->headers)
		for (const char *const *h = req->headers; *h; h++)
			call->hdrs = curl_slist_append(call->hdrs, *h);
	/* No "Expect: 100-continue" round trip before bodies. */
	call->hdrs = curl_slist_append(call->hdrs, "Expect:");

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	                 req->timeout_ms > 0 ? req->timeout_ms : (long)HTTPC_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->hdrs);
	/*
	 * Verify against one CA file, never a CA directory: libcurl (OpenSSL) caches a parsed CA
	 * file in the multi handle (CURLOPT_CA_CACHE_TIMEOUT, 24 h) but re-reads the system
	 * bundle for every transfer when a CA path is set too (Debian's default), which costs
	 * the loop hundreds of milliseconds per HTTPS request under load (bench/services_bench.sh).
	 */
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (req->ca_pem) {
		/* in memory: never evicts the cached system store (a CA file would replace it) */
		struct curl_blob blob = {
		    .data = (void *)req->ca_pem, .len = req->ca_pem_len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (req->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (req->cert_expiry)
		curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0 || req->body) {
		if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}

	return call;
}

/* Starts call on c's multi handle (on the thread that runs c). */
static int
call_start(struct httpc *c, struct httpc_call *call, struct ab_err *err)
{
	call->c = c;
	CURLMcode mc = curl_multi_add_handle(c->multi, call->easy);
	if (mc != CURLM_OK) {
		char *url = NULL;
		curl_easy_getinfo(call->easy, CURLINFO_EFFECTIVE_URL, &url);
		return ab_err_set(err, EIO, "starting HTTP request to '%s': %s", url ? url : "?",
		                  curl_multi_strerror(mc));
	}
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->n_calls++;
	return 0;
}

static void worker_submit(struct httpc *tc, struct httpc_call *call);

int
httpc_request(struct httpc *c, const struct httpc_req *req, httpc_done_fn done, void *data,
              struct httpc_call **ret_call, struct ab_err *err)
{
	AB_ASSERT(c && req && done);
	struct ab_err local;
	if (!err)
		err = &local;
	struct httpc_call *call = call_new(req, done, data, err);
	if (!call)
		return -err->code;
	if (c->w) {
		worker_submit(c, call);
	} else if (call_start(c, call, err) < 0) {
		call_free(call);
		return -err->code;
	}
	if (ret_call)
		*ret_call = call;
	return 0;
}

static void worker_cancel(struct httpc *tc, struct httpc_call *call);

void
httpc_cancel(struct httpc *c, struct httpc_call *call)
{
	if (!call)
		return;
	if (c->w) {
		worker_cancel(c, call);
		return;
	}
	curl_multi_remove_handle(c->multi, call->easy);
	call_unlink(call);
	call_free(call);
}

size_t
httpc_pending(const struct httpc *c)
{
	return c->n_calls;
}

/* --- the worker thread of httpc_new_threaded() ------------------------------------------- */

static void
wake(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is already non-zero, the reader wakes anyway */
}

static void
drain(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)n;
}

/* Lists are pushed LIFO; this gives them back in the order they were pushed. */
static struct httpc_call *
reversed(struct httpc_call *l, bool cancel_list)
{
	struct httpc_call *r = NULL;
	while (l) {
		struct httpc_call *n = cancel_list ? l->cnext : l->qnext;
		if (cancel_list)
			l->cnext = r;
		else
			l->qnext = r;
		r = l;
		l = n;
	}
	return r;
}

/* Puts call on the inbox or the outbox (under the worker's lock). */
static void
push(struct httpc_call **list, struct httpc_call *call, int state)
{
	call->state = state;
	call->qnext = *list;
	*list = call;
}

/* Worker thread: a transfer of the worker's client wc finished (check_done). */
static void
worker_finished(struct httpc *wc, struct httpc_call *call)
{
	struct httpc_worker *w = wc->owner->w;
	pthread_mutex_lock(&w->mu);
	if (call->cancelled) {
		/* on the cancel list already: freed when the worker takes that list */
		call->state = CALL_FINISHED_CANCELLED;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	push(&w->outbox, call, CALL_OUTBOX);
	pthread_mutex_unlock(&w->mu);
	wake(w->out_fd);
}

/* Worker thread: a cancelled call leaves the transfer it may still be in, and is freed. */
static void
worker_drop(struct httpc *wc, struct httpc_call *call)
{
	if (call->state == CALL_RUNNING) {
		curl_multi_remove_handle(wc->multi, call->easy);
		call_unlink(call);
	}
	call_free(call);
}

/* Worker thread: new requests, cancellations, or the order to quit. */
static void
worker_on_inbox(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct httpc_worker *w = data;
	drain(fd);
	pthread_mutex_lock(&w->mu);
	struct httpc_call *in = reversed(w->inbox, false), *cancels = w->cancels;
	w->inbox = w->cancels = NULL;
	bool quit = w->quit;
	for (struct httpc_call *call = in; call; call = call->qnext)
		call->state = CALL_RUNNING; /* from here a cancel goes through the cancel list */
	pthread_mutex_unlock(&w->mu);
	while (in) {
		struct httpc_call *call = in;
		in = call->qnext;
		struct ab_err err = {0};
		if (call_start(w->c, call, &err) < 0) {
			/* finished at once with the error, like any failed transfer */
			call->c = w->c;
			call->resp = (struct httpc_resp){.error = -EIO, .errmsg = call->errmsg};
			snprintf(call->errmsg, sizeof(call->errmsg), "%.300s", err.msg);
			call->resp.body = "";
			call->resp.primary_ip = "";
			worker_finished(w->c, call);
		}
	}
	while (cancels) {
		struct httpc_call *call = cancels;
		cancels = call->cnext;
		worker_drop(w->c, call);
	}
	if (quit)
		ab_loop_poll_stop(loop);
}

static void *
worker_main(void *arg)
{
	struct httpc_worker *w = arg;
	ab_loop_poll_run(w->loop);
	return NULL;
}

/* Caller's thread: runs the callbacks of finished calls. */
static void
owner_on_outbox(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct httpc *tc = data;
	struct httpc_worker *w = tc->w;
	drain(fd);
	pthread_mutex_lock(&w->mu);
	struct httpc_call *out = reversed(w->outbox, false);
	w->outbox = NULL;
	pthread_mutex_unlock(&w->mu);
	/* A callback may cancel a call further down this list: that only marks it (it is in the
	 * outbox), so look at the mark under the lock as each one comes up. */
	while (out) {
		struct httpc_call *call = out;
		out = call->qnext;
		pthread_mutex_lock(&w->mu);
		bool cancelled = call->cancelled;
		pthread_mutex_unlock(&w->mu);
		if (!cancelled) {
			tc->n_calls--;
			call->done(&call->resp, call->data);
		}
		call_free(call);
	}
}

static void
worker_submit(struct httpc *tc, struct httpc_call *call)
{
	struct httpc_worker *w = tc->w;
	tc->n_calls++; /* the threaded client lists nothing: the worker and its lists own calls */
	pthread_mutex_lock(&w->mu);
	push(&w->inbox, call, CALL_QUEUED);
	pthread_mutex_unlock(&w->mu);
	wake(w->in_fd);
}

static void
worker_cancel(struct httpc *tc, struct httpc_call *call)
{
	struct httpc_worker *w = tc->w;
	tc->n_calls--;
	pthread_mutex_lock(&w->mu);
	call->cancelled = true;
	bool worker_frees = call->state != CALL_OUTBOX; /* else owner_on_outbox frees it */
	if (worker_frees) {
		call->cnext = w->cancels;
		w->cancels = call;
	}
	pthread_mutex_unlock(&w->mu);
	if (worker_frees)
		wake(w->in_fd);
}

/* Frees the worker's loop, client, fds and the threaded client, its thread gone (or never
 * started) and no call left in its lists. */
static void
worker_teardown(struct httpc *tc)
{
	struct httpc_worker *w = tc->w;
	ab_loop_unwatch(w->loop, w->in_watch);
	httpc_free(w->c);
	ab_loop_unwatch(tc->loop, w->out_watch);
	ab_loop_poll_free(w->loop);
	close(w->in_fd);
	close(w->out_fd);
	pthread_mutex_destroy(&w->mu);
	free(w);
	free(tc);
}

static void
worker_free(struct httpc *tc)
{
	struct httpc_worker *w = tc->w;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_mutex_unlock(&w->mu);
	wake(w->in_fd);
	pthread_join(w->thread, NULL);
	/* The worker has stopped: everything is this thread's now. The cancel list first (some
	 * of its calls are still in transfers), then the rest of the transfers, then what never
	 * started and what finished but was not delivered. */
	while (w->cancels) {
		struct httpc_call *call = w->cancels;
		w->cancels = call->cnext;
		worker_drop(w->c, call);
	}
	struct httpc_call *lists[2] = {w->inbox, w->outbox};
	for (int i = 0; i < 2; i++)
		while (lists[i]) {
			struct httpc_call *call = lists[i];
			lists[i] = call->qnext;
			call_free(call);
		}
	worker_teardown(tc);
}

struct httpc *
httpc_new_threaded(struct ab_loop *loop, struct ab_err *err)
{
	curl_init_once();
	struct httpc_worker *w = ab_xcalloc(1, sizeof(*w));
	w->in_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->out_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->in_fd < 0 || w->out_fd < 0) {
		int e = errno;
		if (w->in_fd >= 0)
			close(w->in_fd);
		if (w->out_fd >= 0)
			close(w->out_fd);
		free(w);
		return ab_err_errno(err, e, "httpc: eventfd"), NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	w->loop = ab_loop_poll_new();
	w->c = httpc_new(w->loop);
	struct httpc *tc = ab_xcalloc(1, sizeof(*tc));
	tc->loop = loop;
	tc->w = w;
	w->c->owner = tc;
	w->in_watch = ab_loop_watch(w->loop, w->in_fd, AB_LOOP_READ, worker_on_inbox, w);
	w->out_watch = ab_loop_watch(loop, w->out_fd, AB_LOOP_READ, owner_on_outbox, tc);
	int e = pthread_create(&w->thread, NULL, worker_main, w);
	if (e != 0) {
		worker_teardown(tc);
		return ab_err_errno(err, e, "httpc: starting its thread"), NULL;
	}
	return tc;
}
