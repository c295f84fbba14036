/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * services: health checks, state, recovery and the API (services.h).
 *
 * Every service has one `struct svc`: a timer for its next check, at most one check in
 * flight (an httpc call, or a non-blocking TCP connect watched on the loop with a timer of
 * its own), a ring of its last results, and its recovery state. Nothing here blocks: a
 * restart command is posix_spawn()ed into its own session and watched through a pidfd; it
 * is killed (its whole process group) when it outlives its timeout.
 *
 * State (hysteresis): `failures` consecutive failed checks make a service "down"; fewer make
 * an "up" one "degraded"; from "down" it takes `successes` passing checks to come back. A
 * passing but slow answer (> slow_ms) or four ok<->fail flips in the last ten results
 * (flapping) is "degraded".
 *
 * Recovery: on "down", a service with a restart method is restarted at once; after the
 * restart it must be up within verify_ms (checked every second meanwhile), else the next
 * attempt follows after backoff_ms, doubling up to backoff_max_ms, until max_attempts:
 * then "service.escalate" and a critical notification, and no more automatic restarts until
 * the service is up again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "httpc.h"
#include "kv.h"
#include "server.h"
#include "services.h"

extern char **environ;

#define DEFAULT_HISTORY 64
#define API_HISTORY     20
#define FLAP_WINDOW     10
#define FLAP_FLIPS      4
/* checks a cycle starts per loop round: a large registry does not hold the loop at once */
#define START_BATCH 16
/* the last 24 h, in 5-minute buckets: a bounded ring per service */
#define DAY_MS         (24 * 3600 * 1000LL)
#define BUCKET_MS      (5 * 60 * 1000LL)
#define BUCKETS        ((int)(DAY_MS / BUCKET_MS))
#define KV_SUMMARY_FMT "services/%s/summary"
#define DIAG_KEEP      10

struct svc_result {
	int64_t time_ms; /* wall clock */
	bool ok;
	bool slow;
	int64_t latency_us;
	long status; /* HTTP status, 0 for TCP or a transport error */
	char error[120];
};

/* One 5-minute slice of a service's last 24 h. */
struct svc_bucket {
	int64_t start_ms; /* wall clock, a multiple of BUCKET_MS; 0: empty */
	uint32_t checks, oks;
	int64_t sum_latency_us, max_latency_us;
	uint8_t worst; /* enum services_state: the worst state seen in it */
};

struct svc;

/* A non-blocking TCP connect watched on the loop, bounded by a timer. */
struct tcp_probe {
	struct svc *s;
	int fd;
	struct ab_watch *watch;
	struct ab_timer *timer;
	void (*done)(struct svc *s, int soerr); /* 0, or the errno (ETIMEDOUT at the timer) */
};

struct svc {
	struct services *svc;
	const struct services_entry *e;
	char *check_url; /* http(s) */
	char *ca_pem;    /* check.ca_file's contents, read once at start */
	size_t ca_pem_len;
	enum services_state state;
	int64_t since_ms;
	char reason[128];
	unsigned fails, oks; /* consecutive */
	struct svc_result *hist;
	unsigned hist_n, hist_next;
	struct svc_bucket day[BUCKETS]; /* ring, slot = (start_ms / BUCKET_MS) % BUCKETS */
	int64_t cert_expiry_s;          /* https: the certificate's notAfter, 0 unknown */
	bool cert_warn;                 /* the last answer's certificate expires too soon */
	/* diagnostics: one at a time, the last DIAG_KEEP results (newest last) */
	struct httpc_call *diag_call;
	struct tcp_probe diag_tcp;
	int64_t diag_started_us;
	unsigned diag_seq;
	json_t *diags;
	json_t *stored;   /* the summary the kv store had at start (an earlier run's), or NULL */
	bool stored_read; /* the kv store answered (before that, nothing is written over it) */
	bool kv_dirty;    /* the state changed: write the summary after this check */
	/* the check */
	struct ab_timer *next;
	bool in_flight, in_cycle;
	int64_t started_us;
	struct httpc_call *call;
	struct tcp_probe tcp;
	/* recovery */
	unsigned attempts;
	bool restarting, verifying, escalated;
	pid_t pid;
	int pidfd;
	struct ab_watch *pid_watch;
	struct ab_timer *kill_timer;
	bool killed;
	struct httpc_call *api_call;
	struct ab_timer *restart_timer; /* backoff before the next attempt */
	int64_t verify_until_ms;
	char last_restart[160];
};

struct services {
	struct ab_loop *loop;
	struct httpc *http;
	struct services_registry *reg;
	struct services_params p;
	struct svc **s; /* one allocation each: callbacks hold them across a reload */
	size_t n;
	services_reload_fn reload; /* re-reads the registry (main.c), or NULL */
	void *reload_data;
	json_t *last_reload; /* what the last reload changed */
	int64_t cycle_start_us;
	unsigned cycle_pending;
	size_t start_next;        /* the cycle's next service to start */
	struct ab_timer *starter; /* starts START_BATCH checks per loop round */
	int64_t last_cycle_us;
};

static void check_start(struct svc *s);
static void kv_summary_put(struct svc *s);
static struct svc *find(struct services *svc, const char *name);
static void restart_start(struct svc *s, const char *by);
static int64_t next_check(struct ab_loop *loop, void *data);

/* --- notifications ------------------------------------------------------------------- */

/* Tells the service's owner and the admins, on their running desktops. Audited. */
static void
notify(struct svc *s, const char *urgency, const char *title, const char *body)
{
	struct services *svc = s->svc;
	json_t *delivered = json_array(), *absent = json_array();
	const char *to[64];
	size_t n = 0;
	if (s->e->owner)
		to[n++] = s->e->owner;
	if (svc->p.users) {
		for (size_t i = 0; i < users_count(svc->p.users) && n < AB_ARRAY_SIZE(to); i++) {
			const struct users_user *u = users_at(svc->p.users, i);
			if (u->role == USERS_ROLE_ADMIN &&
			    !(s->e->owner && !strcmp(u->name, s->e->owner)))
				to[n++] = u->name;
		}
	} else if (!s->e->owner || strcmp(s->e->owner, "local") != 0) {
		to[n++] = "local"; /* no users table: the loopback user is the admin */
	}
	for (size_t i = 0; i < n; i++) {
		int r = -ENOENT;
		if (svc->p.desktops)
			r = desktop_send(
			    svc->p.desktops, to[i],
			    ab_proto_msg("notify", json_pack("{ssssssss}", "title", title, "body",
			                                     body, "urgency", urgency, "action",
			                                     "app:argobox-services.desktop")));
		json_array_append_new(r == 0 ? delivered : absent, json_string(to[i]));
	}
	audit_log("service.notify", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{sssssssoso}", "service", s->e->name, "title", title, "urgency",
	                    urgency, "delivered", delivered, "no_desktop", absent));
}

/* --- state ----------------------------------------------------------------------------- */

static const struct svc_result *
hist_at(const struct svc *s, unsigned back) /* 0 = newest */
{
	if (back >= s->hist_n)
		return NULL;
	unsigned cap = s->svc->p.history;
	return &s->hist[(s->hist_next + cap - 1 - back) % cap];
}

static bool
flapping(const struct svc *s)
{
	unsigned flips = 0;
	for (unsigned i = 0; i + 1 < FLAP_WINDOW && i + 1 < s->hist_n; i++)
		if (hist_at(s, i)->ok != hist_at(s, i + 1)->ok)
			flips++;
	return flips >= FLAP_FLIPS;
}

static void
set_state(struct svc *s, enum services_state to, const char *reason, int64_t latency_us)
{
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	if (to == s->state)
		return;
	enum services_state from = s->state;
	s->state = to;
	s->since_ms = ab_wall_ms();
	char event[32];
	snprintf(event, sizeof(event), "service.%s", services_state_name(to));
	audit_log(event, to == SERVICES_DOWN ? AUDIT_FAILURE : AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{sssssssssI}", "service", s->e->name, "from",
	                    services_state_name(from), "to", services_state_name(to), "reason",
	                    reason, "latency_ms", (json_int_t)(latency_us / 1000)));
	ab_info("service '%s': %s -> %s (%s)", s->e->name, services_state_name(from),
	        services_state_name(to), reason);
	s->kv_dirty = true; /* the summary goes to the kv once the result is counted */
	char title[160], body[320];
	if (to == SERVICES_DOWN) {
		snprintf(title, sizeof(title), "Service %s is down", s->e->title);
		snprintf(body, sizeof(body), "%s%s", reason,
		         s->e->restart.kind != SERVICES_RESTART_NONE && !s->escalated
		             ? " — restarting it"
		             : "");
		notify(s, "critical", title, body);
		if (s->e->restart.kind != SERVICES_RESTART_NONE && !s->restarting &&
		    !s->verifying && !s->restart_timer && !s->escalated)
			restart_start(s, NULL);
	} else if (to == SERVICES_UP && from == SERVICES_DOWN) {
		snprintf(title, sizeof(title), "Service %s is back up", s->e->title);
		notify(s, "normal", title, reason);
	}
}

static int64_t
cert_days_left(const struct svc *s)
{
	int64_t left = s->cert_expiry_s - ab_wall_ms() / 1000;
	return left < 0 ? -1 : left / 86400;
}

/* Adds a result to its 5-minute bucket (a bucket older than 24 h is reused). */
static void
day_record(struct svc *s, const struct svc_result *r)
{
	int64_t start = r->time_ms - r->time_ms % BUCKET_MS;
	struct svc_bucket *b = &s->day[(start / BUCKET_MS) % BUCKETS];
	if (b->start_ms != start) {
		bool rolled = b->start_ms != 0 || s->hist_n > 1;
		*b = (struct svc_bucket){.start_ms = start};
		if (rolled)
			kv_summary_put(s); /* a bucket closed: the day's summary goes to the kv */
	}
	b->checks++;
	b->oks += r->ok;
	b->sum_latency_us += r->latency_us;
	b->max_latency_us = AB_MAX(b->max_latency_us, r->latency_us);
	b->worst = (uint8_t)AB_MAX((int)b->worst, (int)s->state);
}

/* The last 24 h of `s`: {checks, availability, mean_latency_ms, max_latency_ms, down_buckets}. */
static json_t *
day_summary(const struct svc *s, json_t *buckets)
{
	int64_t now = ab_wall_ms(), checks = 0, oks = 0, sum = 0, max = 0, down = 0;
	for (int i = 0; i < BUCKETS; i++) {
		/* oldest first: the slot after the current one */
		int64_t start = now - now % BUCKET_MS - (int64_t)(BUCKETS - 1 - i) * BUCKET_MS;
		const struct svc_bucket *b = &s->day[(start / BUCKET_MS) % BUCKETS];
		if (b->start_ms != start || b->checks == 0)
			continue;
		checks += b->checks;
		oks += b->oks;
		sum += b->sum_latency_us;
		max = AB_MAX(max, b->max_latency_us);
		down += b->worst == SERVICES_DOWN;
		if (buckets)
			json_array_append_new(
			    buckets,
			    json_pack("{sIsIsIsfsfss}", "start_ms", (json_int_t)b->start_ms,
			              "checks", (json_int_t)b->checks, "ok", (json_int_t)b->oks,
			              "mean_latency_ms", b->sum_latency_us / 1000.0 / b->checks,
			              "max_latency_ms", b->max_latency_us / 1000.0, "worst",
			              services_state_name((enum services_state)b->worst)));
	}
	return json_pack("{sssIsososo?sI}", "service", s->e->name, "checks", (json_int_t)checks,
	                 "availability", checks ? json_real((double)oks / checks) : json_null(),
	                 "mean_latency_ms", checks ? json_real(sum / 1000.0 / checks) : json_null(),
	                 "max_latency_ms", checks ? json_real(max / 1000.0) : NULL, "down_buckets",
	                 (json_int_t)down);
}

static void
kv_put_done(int error, const char *errmsg, void *data)
{
	if (error < 0)
		ab_warn("services: writing a summary to the kv store: %s", errmsg);
}

/* A kv_get in flight: the service is found again by name (a reload may have freed it). */
struct kv_load {
	struct services *svc;
	char name[USERS_NAME_MAX + 1];
};

static void
kv_got(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct kv_load *l = data;
	struct svc *s = find(l->svc, l->name);
	if (s)
		s->stored_read = true;
	if (s && error == 0) {
		json_decref(s->stored);
		s->stored = json_loadb(v->data, v->len, 0, NULL);
	} else if (error < 0 && error != -ENOENT) {
		ab_warn("services: reading the summary of '%s': %s", l->name, errmsg);
	}
	free(l);
}

/* What an earlier run left in the kv store for `s` (exposed as "stored_summary"). */
static void
kv_summary_get(struct svc *s)
{
	if (!s->svc->p.kv)
		return;
	struct kv_load *l = ab_xcalloc(1, sizeof(*l));
	l->svc = s->svc;
	snprintf(l->name, sizeof(l->name), "%s", s->e->name);
	char key[96];
	snprintf(key, sizeof(key), KV_SUMMARY_FMT, s->e->name);
	struct ab_err err = {0};
	if (kv_get(s->svc->p.kv, key, kv_got, l, &err) < 0) {
		ab_warn("services: %s", err.msg);
		free(l);
	}
}

/* The day's summary to the kv store ("services/<name>/summary"), when there is one. */
static void
kv_summary_put(struct svc *s)
{
	if (!s->svc->p.kv || !s->stored_read)
		return;
	json_t *sum = day_summary(s, NULL);
	json_object_set_new(sum, "state", json_string(services_state_name(s->state)));
	json_object_set_new(sum, "time_ms", json_integer(ab_wall_ms()));
	_cleanup_free_ char *text = json_dumps(sum, JSON_COMPACT);
	json_decref(sum);
	char key[96];
	snprintf(key, sizeof(key), KV_SUMMARY_FMT, s->e->name);
	struct ab_err err = {0};
	if (text &&
	    kv_put(s->svc->p.kv, key, text, strlen(text), NULL, kv_put_done, NULL, &err) < 0)
		ab_warn("services: %s", err.msg);
}

/* Records one check result and moves the state machine. */
static void
check_done(struct svc *s, bool ok, long status, const char *error)
{
	struct services *svc = s->svc;
	int64_t latency = ab_now_us() - s->started_us;
	const struct services_check *c = &s->e->check;
	bool slow = ok && latency > c->slow_ms * 1000;
	struct svc_result *r = &s->hist[s->hist_next];
	*r = (struct svc_result){.time_ms = ab_wall_ms(),
	                         .ok = ok,
	                         .slow = slow,
	                         .latency_us = latency,
	                         .status = status};
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
	s->hist_next = (s->hist_next + 1) % svc->p.history;
	if (s->hist_n < svc->p.history)
		s->hist_n++;
	s->in_flight = false;
	s->call = NULL;

	char why[160];
	if (ok) {
		s->oks++;
		s->fails = 0;
		bool flap = flapping(s);
		if (s->state == SERVICES_DOWN && s->oks < c->successes) {
			snprintf(why, sizeof(why), "recovering (%u/%u passing checks)", s->oks,
			         c->successes);
			set_state(s, SERVICES_DOWN, why, latency);
		} else if (slow || flap || s->cert_warn) {
			if (slow)
				snprintf(why, sizeof(why), "slow: %lld ms > %lld ms",
				         (long long)(latency / 1000), (long long)c->slow_ms);
			else if (flap)
				snprintf(why, sizeof(why),
				         "flapping: >= %d changes in the last %d checks",
				         FLAP_FLIPS, FLAP_WINDOW);
			else
				snprintf(
				    why, sizeof(why),
				    "the TLS certificate expires in %lld day(s) (warning below "
				    "%u)",
				    (long long)cert_days_left(s), c->cert_warn_days);
			set_state(s, SERVICES_DEGRADED, why, latency);
		} else {
			set_state(s, SERVICES_UP, status ? "answering" : "accepting connections",
			          latency);
		}
	} else {
		s->fails++;
		s->oks = 0;
		snprintf(why, sizeof(why), "%s (%u/%u failed checks)", error ? error : "failed",
		         s->fails, c->failures);
		if (s->fails >= c->failures)
			set_state(s, SERVICES_DOWN, why, latency);
		else if (s->state != SERVICES_DOWN)
			set_state(s, SERVICES_DEGRADED, why, latency);
		else
			set_state(s, SERVICES_DOWN, why, latency);
	}

	day_record(s, r);
	if (s->kv_dirty) {
		s->kv_dirty = false;
		kv_summary_put(s);
	}

	/* recovery verification */
	if (s->verifying && s->state == SERVICES_UP) {
		s->verifying = false;
		ab_loop_timer_cancel(svc->loop, s->restart_timer); /* the verify deadline */
		s->restart_timer = NULL;
		audit_log("service.recovered", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssI}", "service", s->e->name, "attempts",
		                    (json_int_t)s->attempts));
		s->attempts = 0;
	}
	if (s->state == SERVICES_UP) {
		s->escalated = false;
		s->attempts = 0;
	}

	if (s->in_cycle) {
		s->in_cycle = false;
		if (svc->cycle_pending && --svc->cycle_pending == 0)
			svc->last_cycle_us = ab_now_us() - svc->cycle_start_us;
	}
	ab_loop_timer_cancel(svc->loop, s->next);
	s->next = NULL;
	int64_t delay = c->interval_ms;
	if (s->verifying || s->restarting)
		delay = AB_MIN(delay, (int64_t)1000);
	s->next = ab_loop_timer(svc->loop, delay, next_check, s);
}

static int64_t
next_check(struct ab_loop *loop, void *data)
{
	struct svc *s = data;
	s->next = NULL;
	check_start(s);
	return AB_TIMER_STOP;
}

/* --- HTTP checks ----------------------------------------------------------------------- */

static void
http_done(const struct httpc_resp *resp, void *data)
{
	struct svc *s = data;
	const struct services_check *c = &s->e->check;
	s->call = NULL;
	if (resp->cert_expiry_s > 0)
		s->cert_expiry_s =
		    resp->cert_expiry_s; /* 0: a reused connection, keep what we know */
	s->cert_warn = s->e->scheme == SERVICES_HTTPS && c->cert_warn_days && s->cert_expiry_s &&
	               cert_days_left(s) < (int64_t)c->cert_warn_days;
	if (resp->error < 0) {
		check_done(s, false, 0, resp->errmsg);
		return;
	}
	char why[120];
	bool ok = c->expect_status ? resp->status == c->expect_status
	                           : resp->status >= 200 && resp->status < 400;
	if (!ok) {
		snprintf(why, sizeof(why), "HTTP %ld%s", resp->status,
		         c->expect_status ? " (expected another status)" : "");
		check_done(s, false, resp->status, why);
		return;
	}
	if (c->expect_body &&
	    !memmem(resp->body, resp->body_len, c->expect_body, strlen(c->expect_body))) {
		check_done(s, false, resp->status, "the body does not contain the expected text");
		return;
	}
	check_done(s, true, resp->status, NULL);
}

/* --- TCP checks ------------------------------------------------------------------------ */

/* A tcp service's address (the registry allows only IP addresses and localhost). */
static int
tcp_addr(const struct svc *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	const char *host = strcmp(s->e->host, "localhost") == 0 ? "127.0.0.1" : s->e->host;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)s->e->port);
		*sl = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)s->e->port);
		*sl = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static void
probe_end(struct tcp_probe *p)
{
	ab_loop_unwatch(p->s->svc->loop, p->watch);
	p->watch = NULL;
	ab_loop_timer_cancel(p->s->svc->loop, p->timer);
	p->timer = NULL;
	ab_closep(&p->fd);
}

static void
probe_ready(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct tcp_probe *p = data;
	int soerr = 0;
	socklen_t l = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
		soerr = errno;
	probe_end(p);
	p->done(p->s, soerr);
}

static int64_t
probe_timeout(struct ab_loop *loop, void *data)
{
	struct tcp_probe *p = data;
	p->timer = NULL;
	probe_end(p);
	p->done(p->s, ETIMEDOUT);
	return AB_TIMER_STOP;
}

/* Connects to the service's address; p->done runs from the loop, or at once on an error. */
static void
probe_start(struct tcp_probe *p)
{
	struct svc *s = p->s;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (tcp_addr(s, &ss, &sl) < 0) {
		p->done(s, EADDRNOTAVAIL);
		return;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		p->done(s, e);
		return;
	}
	/* connected or in progress: writable (or an error) tells, from the loop */
	p->fd = fd;
	p->watch = ab_loop_watch(s->svc->loop, fd, AB_LOOP_WRITE, probe_ready, p);
	p->timer = ab_loop_timer(s->svc->loop, s->e->check.timeout_ms, probe_timeout, p);
}

static void
tcp_checked(struct svc *s, int soerr)
{
	check_done(s, soerr == 0, 0,
	           soerr == ETIMEDOUT ? "connect timed out"
	           : soerr            ? strerror(soerr)
	                              : NULL);
}

/* The request of an http(s) check (and of a diagnostic): bounded in time and size. */
static struct httpc_req
check_req(const struct svc *s)
{
	return (struct httpc_req){
	    .url = s->check_url,
	    .timeout_ms = s->e->check.timeout_ms,
	    .max_response = s->e->check.max_body,
	    .ca_pem = s->ca_pem,
	    .ca_pem_len = s->ca_pem_len,
	    .cert_expiry = s->e->scheme == SERVICES_HTTPS,
	};
}

static void
check_start(struct svc *s)
{
	if (s->in_flight)
		return;
	s->in_flight = true;
	s->started_us = ab_now_us();
	if (s->e->scheme == SERVICES_TCP) {
		probe_start(&s->tcp);
		return;
	}
	struct httpc_req req = check_req(s);
	struct ab_err err = {0};
	if (httpc_request(s->svc->http, &req, http_done, s, &s->call, &err) < 0)
		check_done(s, false, 0, err.msg);
}

static int64_t
cycle_starter(struct ab_loop *loop, void *data)
{
	struct services *svc = data;
	unsigned started = 0;
	while (svc->start_next < svc->n && started < START_BATCH) {
		struct svc *s = svc->s[svc->start_next++];
		if (s->in_cycle && !s->in_flight) {
			check_start(s);
			started++;
		}
	}
	if (svc->start_next < svc->n)
		return 0; /* the next batch on the next round */
	svc->starter = NULL;
	return AB_TIMER_STOP;
}

void
services_poll_all(struct services *svc)
{
	svc->cycle_start_us = ab_now_us();
	svc->cycle_pending = 0;
	for (size_t i = 0; i < svc->n; i++) {
		struct svc *s = svc->s[i];
		if (s->in_flight)
			continue;
		ab_loop_timer_cancel(svc->loop, s->next);
		s->next = NULL;
		s->in_cycle = true;
		svc->cycle_pending++;
	}
	svc->start_next = 0;
	if (svc->cycle_pending == 0)
		svc->last_cycle_us = ab_now_us() - svc->cycle_start_us;
	else if (!svc->starter)
		svc->starter = ab_loop_timer(svc->loop, 0, cycle_starter, svc);
}

bool
services_cycle_running(const struct services *svc)
{
	return svc->cycle_pending > 0;
}

int64_t
services_last_cycle_us(const struct services *svc)
{
	return svc->last_cycle_us;
}

/* --- diagnostics ----------------------------------------------------------------------- */

/*
 * One diagnostic run, step by step: for http(s) a request through httpc (libcurl's threaded
 * resolver, so name resolution never blocks the loop) whose timings say how far it got
 * (DNS, TCP connect, TLS handshake, first byte, total), the address, the HTTP status and
 * the certificate's expiry; for tcp a non-blocking connect. The result is kept (the last
 * DIAG_KEEP) with the step that failed, if one did.
 */
static void
diag_keep(struct svc *s, json_t *res)
{
	json_object_set_new(res, "id", json_integer(s->diag_seq));
	json_object_set_new(res, "time_ms", json_integer(ab_wall_ms()));
	if (!s->diags)
		s->diags = json_array();
	audit_log("service.diag", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{sssOsO}", "service", s->e->name, "ok", json_object_get(res, "ok"),
	                    "failed_step", json_object_get(res, "failed_step")));
	json_array_append_new(s->diags, res);
	while (json_array_size(s->diags) > DIAG_KEEP)
		json_array_remove(s->diags, 0);
}

static void
diag_http_done(const struct httpc_resp *resp, void *data)
{
	struct svc *s = data;
	s->diag_call = NULL;
	const struct httpc_timing *t = &resp->timing;
	bool https = s->e->scheme == SERVICES_HTTPS;
	const char *failed = NULL;
	if (resp->error < 0) {
		unsigned char a[16];
		bool ip = inet_pton(AF_INET, s->e->host, a) == 1 ||
		          inet_pton(AF_INET6, s->e->host, a) == 1;
		failed = !ip && t->dns_ms <= 0     ? "dns"
		         : t->connect_ms <= 0      ? "tcp"
		         : https && t->tls_ms <= 0 ? "tls"
		                                   : "http";
	} else if (s->e->check.expect_status ? resp->status != s->e->check.expect_status
	                                     : resp->status < 200 || resp->status >= 400) {
		failed = "http";
	}
	bool dns_ok = !failed || strcmp(failed, "dns") != 0;
	bool tcp_ok = dns_ok && (!failed || strcmp(failed, "tcp") != 0);
	bool tls_ok = tcp_ok && (!failed || strcmp(failed, "tls") != 0);
	json_t *steps = json_pack("{s:{s:b,s:f}, s:{s:b,s:f}}", "dns", "ok", dns_ok, "ms",
	                          t->dns_ms, "tcp", "ok", tcp_ok, "ms", t->connect_ms);
	if (https)
		json_object_set_new(steps, "tls",
		                    json_pack("{s:b,s:f}", "ok", tls_ok, "ms", t->tls_ms));
	json_object_set_new(steps, "http",
	                    json_pack("{s:b,s:I,s:f,s:f}", "ok", !failed, "status",
	                              (json_int_t)resp->status, "first_byte_ms", t->first_byte_ms,
	                              "total_ms", t->total_ms));
	json_t *res = json_pack("{s:b,s:s?,s:s,s:s,s:o}", "ok", !failed, "failed_step", failed,
	                        "address", resp->primary_ip, "error", resp->errmsg, "steps", steps);
	if (https && resp->cert_expiry_s > 0)
		json_object_set_new(res, "cert_expires_ms",
		                    json_integer((json_int_t)resp->cert_expiry_s * 1000));
	diag_keep(s, res);
}

static void
diag_tcp_result(struct svc *s, int soerr)
{
	double ms = (double)(ab_now_us() - s->diag_started_us) / 1000.0;
	diag_keep(s, json_pack("{s:b,s:s?,s:s,s:s,s:{s:{s:b,s:f}}}", "ok", soerr == 0,
	                       "failed_step", soerr ? "tcp" : NULL, "address", s->e->host, "error",
	                       soerr ? strerror(soerr) : "", "steps", "tcp", "ok", soerr == 0, "ms",
	                       ms));
}

int
services_diag_start(struct services *svc, const char *name, struct ab_err *err)
{
	struct svc *s = find(svc, name);
	if (!s)
		return ab_err_set(err, ENOENT, "no service named '%s'", name);
	if (s->diag_call || s->diag_tcp.watch)
		return ab_err_set(err, EBUSY, "a diagnostic of '%s' is running", name);
	s->diag_seq++;
	s->diag_started_us = ab_now_us();
	if (s->e->scheme != SERVICES_TCP) {
		struct httpc_req req = check_req(s);
		return httpc_request(svc->http, &req, diag_http_done, s, &s->diag_call, err);
	}
	probe_start(&s->diag_tcp);
	return 0;
}

json_t *
services_diag_json(struct services *svc, const char *name)
{
	struct svc *s = find(svc, name);
	if (!s)
		return NULL;
	return json_pack("{sssbsIso}", "service", s->e->name, "running",
	                 s->diag_call != NULL || s->diag_tcp.watch != NULL, "last_id",
	                 (json_int_t)s->diag_seq, "results",
	                 s->diags ? json_incref(s->diags) : json_array());
}

/* --- recovery -------------------------------------------------------------------------- */

static void restart_finished(struct svc *s, bool ok, const char *msg);

static int64_t
restart_retry(struct ab_loop *loop, void *data)
{
	struct svc *s = data;
	s->restart_timer = NULL;
	if (s->state == SERVICES_UP)
		return AB_TIMER_STOP;
	restart_start(s, NULL);
	return AB_TIMER_STOP;
}

/* The attempt failed (or the service did not come back): retry after backoff, or escalate. */
static void
attempt_failed(struct svc *s, const char *why)
{
	const struct services_restart *rs = &s->e->restart;
	if (s->attempts >= rs->max_attempts) {
		s->escalated = true;
		audit_log("service.escalate", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssIss}", "service", s->e->name, "attempts",
		                    (json_int_t)s->attempts, "reason", why));
		char title[160], body[320];
		snprintf(title, sizeof(title), "Service %s could not be recovered", s->e->title);
		snprintf(body, sizeof(body), "%u restart(s) failed; last: %s. It needs a person.",
		         s->attempts, why);
		notify(s, "critical", title, body);
		return;
	}
	int64_t delay = rs->backoff_ms;
	for (unsigned i = 1; i < s->attempts && delay < rs->backoff_max_ms; i++)
		delay *= 2;
	delay = AB_MIN(delay, rs->backoff_max_ms);
	ab_info("service '%s': restart attempt %u failed (%s); next in %lld ms", s->e->name,
	        s->attempts, why, (long long)delay);
	s->restart_timer = ab_loop_timer(s->svc->loop, delay, restart_retry, s);
}

static int64_t
verify_deadline(struct ab_loop *loop, void *data)
{
	struct svc *s = data;
	s->restart_timer = NULL;
	if (!s->verifying)
		return AB_TIMER_STOP;
	s->verifying = false;
	char why[200];
	snprintf(why, sizeof(why), "still %s %lld ms after the restart",
	         services_state_name(s->state), (long long)s->e->restart.verify_ms);
	audit_log("service.restart", AUDIT_FAILURE, NULL, NULL, NULL,
	          json_pack("{sssIss}", "service", s->e->name, "attempt", (json_int_t)s->attempts,
	                    "reason", why));
	attempt_failed(s, why);
	return AB_TIMER_STOP;
}

static void
restart_finished(struct svc *s, bool ok, const char *msg)
{
	struct services *svc = s->svc;
	s->restarting = false;
	snprintf(s->last_restart, sizeof(s->last_restart), "%s", msg);
	if (!ok) {
		audit_log("service.restart", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssIss}", "service", s->e->name, "attempt",
		                    (json_int_t)s->attempts, "reason", msg));
		attempt_failed(s, msg);
		return;
	}
	audit_log("service.restart", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{sssIssss}", "service", s->e->name, "attempt", (json_int_t)s->attempts,
	                    "result", msg, "step", "verifying"));
	/* verify: check now and every second until up or verify_ms passed */
	s->verifying = true;
	s->restart_timer = ab_loop_timer(svc->loop, s->e->restart.verify_ms, verify_deadline, s);
	if (!s->in_flight) {
		ab_loop_timer_cancel(svc->loop, s->next);
		s->next = NULL;
		check_start(s);
	}
}

static void
child_end(struct svc *s)
{
	ab_loop_unwatch(s->svc->loop, s->pid_watch);
	s->pid_watch = NULL;
	ab_loop_timer_cancel(s->svc->loop, s->kill_timer);
	s->kill_timer = NULL;
	ab_closep(&s->pidfd);
	s->pid = 0;
}

static void
child_exited(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct svc *s = data;
	int st = 0;
	pid_t r = waitpid(s->pid, &st, WNOHANG);
	if (r == 0)
		return;
	bool killed = s->killed;
	child_end(s);
	char msg[160];
	if (killed)
		snprintf(msg, sizeof(msg), "the restart command hung: killed after %lld ms",
		         (long long)s->e->restart.timeout_ms);
	else if (r < 0)
		snprintf(msg, sizeof(msg), "waitpid: %s", strerror(errno));
	else if (WIFEXITED(st))
		snprintf(msg, sizeof(msg), "the restart command exited with status %d",
		         WEXITSTATUS(st));
	else
		snprintf(msg, sizeof(msg), "the restart command died of signal %d", WTERMSIG(st));
	restart_finished(s, !killed && r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, msg);
}

static int64_t
child_timeout(struct ab_loop *loop, void *data)
{
	struct svc *s = data;
	s->kill_timer = NULL;
	s->killed = true;
	kill(-s->pid, SIGKILL); /* its whole process group: it may have forked */
	kill(s->pid, SIGKILL);
	return AB_TIMER_STOP;
}

static int
spawn_command(struct svc *s, struct ab_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ab_spawnattr_init_clean(&at);
	char env_svc[64];
	snprintf(env_svc, sizeof(env_svc), "ARGOBOX_SERVICE=%s", s->e->name);
	char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                env_svc, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, s->e->restart.argv[0], &fa, &at, s->e->restart.argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0)
		return ab_err_set(err, r, "running '%s': %s", s->e->restart.argv[0], strerror(r));
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return ab_err_set(err, e, "pidfd_open: %s", strerror(e));
	}
	s->pid = pid;
	s->pidfd = pfd;
	s->killed = false;
	s->pid_watch = ab_loop_watch(s->svc->loop, pfd, AB_LOOP_READ, child_exited, s);
	s->kill_timer = ab_loop_timer(s->svc->loop, s->e->restart.timeout_ms, child_timeout, s);
	return 0;
}

static void
api_done(const struct httpc_resp *resp, void *data)
{
	struct svc *s = data;
	s->api_call = NULL;
	char msg[160];
	if (resp->error < 0) {
		snprintf(msg, sizeof(msg), "Engine API at '%s': %s", s->e->restart.socket,
		         resp->errmsg);
		restart_finished(s, false, msg);
		return;
	}
	/* 204: restarted; 404: no such container; 500: the engine failed */
	snprintf(msg, sizeof(msg), "Engine API: HTTP %ld %.100s", resp->status,
	         resp->status == 204 ? "(restarted)" : resp->body);
	restart_finished(s, resp->status == 204, msg);
}

static int
call_engine(struct svc *s, struct ab_err *err)
{
	const struct services_restart *rs = &s->e->restart;
	_cleanup_free_ char *url =
	    ab_xasprintf("http://localhost/v1.41/containers/%s/restart?t=%lld", rs->container,
	                 (long long)AB_MAX((int64_t)1, rs->timeout_ms / 2000));
	struct httpc_req req = {
	    .method = "POST", .url = url, .timeout_ms = rs->timeout_ms, .unix_socket = rs->socket};
	return httpc_request(s->svc->http, &req, api_done, s, &s->api_call, err);
}

/* Starts one restart attempt; `by` is who asked (NULL: automatic). */
static void
restart_start(struct svc *s, const char *by)
{
	struct ab_err err = {0};
	s->attempts++;
	s->restarting = true;
	s->verifying = false;
	const char *method =
	    s->e->restart.kind == SERVICES_RESTART_COMMAND ? "command" : "container";
	audit_log("service.restart", AUDIT_INFO, by, NULL, by ? "api" : NULL,
	          json_pack("{sssIssss}", "service", s->e->name, "attempt", (json_int_t)s->attempts,
	                    "method", method, "step", "started"));
	int r = s->e->restart.kind == SERVICES_RESTART_COMMAND ? spawn_command(s, &err)
	                                                       : call_engine(s, &err);
	if (r < 0)
		restart_finished(s, false, err.msg);
}

int
services_restart_now(struct services *svc, const char *name, const char *by, struct ab_err *err)
{
	struct svc *s = find(svc, name);
	if (!s)
		return ab_err_set(err, ENOENT, "no service named '%s'", name);
	if (s->e->restart.kind == SERVICES_RESTART_NONE)
		return ab_err_set(err, EOPNOTSUPP, "service '%s' has no restart method", name);
	if (s->restarting)
		return ab_err_set(err, EBUSY, "service '%s' is being restarted", name);
	ab_loop_timer_cancel(svc->loop, s->restart_timer);
	s->restart_timer = NULL;
	s->attempts = 0;
	s->escalated = false;
	restart_start(s, by ? by : "manual");
	return 0;
}

/* --- JSON ------------------------------------------------------------------------------ */

static json_t *
str_list(char *const *l, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(l[i]));
	return a;
}

static size_t
argv_len(const struct services_entry *e)
{
	size_t n = 0;
	while (e->restart.argv && e->restart.argv[n])
		n++;
	return n;
}

static struct svc *
find(struct services *svc, const char *name)
{
	for (size_t i = 0; name && i < svc->n; i++)
		if (strcmp(svc->s[i]->e->name, name) == 0)
			return svc->s[i];
	return NULL;
}

static json_t *
svc_json(struct svc *s, bool admin)
{
	const struct services_entry *e = s->e;
	json_t *o = json_pack("{ssssssss*so}", "name", e->name, "title", e->title, "url", e->url,
	                      "icon", e->icon, "tags", str_list(e->tags, e->n_tags));
	json_object_set_new(o, "owner", e->owner ? json_string(e->owner) : json_null());
	json_object_set_new(o, "state", json_string(services_state_name(s->state)));
	json_object_set_new(o, "since_ms", json_integer(s->since_ms));
	json_object_set_new(o, "reason", json_string(s->reason));
	json_t *hist = json_array();
	int64_t sum = 0;
	unsigned ok = 0;
	for (unsigned i = 0; i < s->hist_n; i++) {
		const struct svc_result *r = hist_at(s, i);
		sum += r->latency_us;
		ok += r->ok;
		if (i >= API_HISTORY)
			continue;
		json_t *h = json_pack("{sIsbsf}", "time_ms", (json_int_t)r->time_ms, "ok", r->ok,
		                      "latency_ms", (double)r->latency_us / 1000.0);
		if (r->status)
			json_object_set_new(h, "status", json_integer(r->status));
		if (r->error[0])
			json_object_set_new(h, "error", json_string(r->error));
		json_array_append_new(hist, h);
	}
	const struct svc_result *last = hist_at(s, 0);
	json_object_set_new(o, "latency_ms",
	                    last ? json_real((double)last->latency_us / 1000.0) : json_null());
	json_object_set_new(o, "checks", json_integer(s->hist_n));
	json_object_set_new(o, "availability",
	                    s->hist_n ? json_real((double)ok / s->hist_n) : json_null());
	json_object_set_new(o, "mean_latency_ms",
	                    s->hist_n ? json_real((double)sum / s->hist_n / 1000.0) : json_null());
	json_object_set_new(o, "history", hist);
	if (e->scheme == SERVICES_HTTPS)
		json_object_set_new(
		    o, "tls",
		    s->cert_expiry_s
		        ? json_pack("{sIsIsIsb}", "expires_ms", (json_int_t)s->cert_expiry_s * 1000,
		                    "days_left", (json_int_t)cert_days_left(s), "warn_days",
		                    (json_int_t)e->check.cert_warn_days, "warning", s->cert_warn)
		        : json_pack("{sn}", "expires_ms"));
	json_t *day = day_summary(s, NULL);
	json_object_del(day, "service");
	json_object_set_new(o, "day", day);
	json_object_set_new(o, "stored_summary", s->stored ? json_incref(s->stored) : json_null());
	const char *method = e->restart.kind == SERVICES_RESTART_COMMAND     ? "command"
	                     : e->restart.kind == SERVICES_RESTART_CONTAINER ? "container"
	                                                                     : NULL;
	json_t *rs = json_pack("{s:s?, s:I, s:b, s:b, s:b, s:s}", "method", method, "attempts",
	                       (json_int_t)s->attempts, "running", s->restarting, "verifying",
	                       s->verifying, "escalated", s->escalated, "last", s->last_restart);
	if (admin && e->restart.kind == SERVICES_RESTART_COMMAND)
		json_object_set_new(rs, "command", str_list(e->restart.argv, argv_len(e)));
	if (admin && e->restart.kind == SERVICES_RESTART_CONTAINER)
		json_object_set_new(
		    rs, "container",
		    json_pack("{ssss}", "name", e->restart.container, "socket", e->restart.socket));
	json_object_set_new(o, "restart", rs);
	json_object_set_new(
	    o, "check",
	    json_pack("{sIsIsIsIsI}", "interval_ms", (json_int_t)e->check.interval_ms, "timeout_ms",
	              (json_int_t)e->check.timeout_ms, "slow_ms", (json_int_t)e->check.slow_ms,
	              "failures", (json_int_t)e->check.failures, "successes",
	              (json_int_t)e->check.successes));
	return o;
}

json_t *
services_entry_json(struct services *svc, const char *name, bool admin)
{
	struct svc *s = find(svc, name);
	return s ? svc_json(s, admin) : NULL;
}

json_t *
services_list_json(struct services *svc)
{
	json_t *a = json_array();
	for (size_t i = 0; i < svc->n; i++)
		json_array_append_new(a, svc_json(svc->s[i], true));
	return a;
}

enum services_state
services_state_of(struct services *svc, const char *name)
{
	struct svc *s = find(svc, name);
	return s ? s->state : SERVICES_UNKNOWN;
}

void
services_health(json_t *out, void *data)
{
	struct services *svc = data;
	unsigned count[SERVICES_STATE_MAX] = {0};
	for (size_t i = 0; i < svc->n; i++)
		count[svc->s[i]->state]++;
	json_t *o = json_object();
	for (int k = 0; k < SERVICES_STATE_MAX; k++)
		json_object_set_new(o, services_state_name((enum services_state)k),
		                    json_integer(count[k]));
	json_object_set_new(o, "last_cycle_ms",
	                    svc->last_cycle_us < 0 ? json_null()
	                                           : json_real(svc->last_cycle_us / 1000.0));
	json_object_set_new(out, "services", o);
}

/* --- HTTP API -------------------------------------------------------------------------- */

/* Who asks: the HTTP API's authenticated caller, or a desktop's user (services_desktop_request).
 */
struct who {
	const char *user, *role, *peer;
};

static struct who
who_of(const struct http_request *req)
{
	return (struct who){req->user, req->role, req->peer};
}

/* The caller as the registry sees them; false when the role is not one we know. */
static bool
caller(struct services *svc, const struct who *w, enum users_role *role,
       const struct users_profile **profile)
{
	int r = users_role_from_string(w->role);
	if (r < 0 || !w->user[0])
		return false;
	*role = (enum users_role)r;
	*profile = svc->p.profile_of ? svc->p.profile_of(svc->p.profile_data, w->user) : NULL;
	return true;
}

/* The services `w` may see ({"services": [...]}, new reference), audited; NULL: 403. */
static json_t *
list_for(struct services *svc, const struct who *w, const char *endpoint)
{
	enum users_role role;
	const struct users_profile *profile;
	if (!caller(svc, w, &role, &profile)) {
		audit_log("service.access", AUDIT_DENY, w->user[0] ? w->user : NULL, w->role,
		          w->peer,
		          json_pack("{ssss}", "endpoint", endpoint, "reason", "unknown role"));
		return NULL;
	}
	json_t *list = json_array(), *shown = json_array();
	unsigned hidden = 0;
	for (size_t i = 0; i < svc->n; i++) {
		if (!services_visible(svc->s[i]->e, w->user, role, profile)) {
			hidden++;
			continue;
		}
		json_array_append_new(list, svc_json(svc->s[i], role == USERS_ROLE_ADMIN));
		json_array_append_new(shown, json_string(svc->s[i]->e->name));
	}
	audit_log("service.access", AUDIT_GRANT, w->user, w->role, w->peer,
	          json_pack("{sssosI}", "endpoint", endpoint, "visible", shown, "hidden",
	                    (json_int_t)hidden));
	return json_pack("{so}", "services", list);
}

static int
api_list(struct http_request *req, struct http_response *resp, void *data)
{
	struct who w = who_of(req);
	json_t *body = list_for(data, &w, "list");
	if (body)
		http_response_json(resp, 200, body);
	else
		http_response_error(resp, 403, "forbidden");
	return 0;
}

/*
 * A manual restart of `name` asked by `w` (admins, and the owner if a member), audited as
 * service.restart: the HTTP status (202 started, 400 no restart method, 403 not allowed, 404
 * not visible or no such service, alike, 409 one running) and, unless 202, why in `why`.
 */
static int
restart_for(struct services *svc, const struct who *w, const char *name, char *why, size_t len)
{
	enum users_role role = USERS_ROLE_MAX;
	const struct users_profile *profile = NULL;
	bool known = caller(svc, w, &role, &profile);
	struct svc *s = find(svc, name);
	if (!known || !s || !services_visible(s->e, w->user, role, profile)) {
		/* not visible and not there answer alike: the name's existence is not leaked */
		audit_log("service.restart", AUDIT_DENY, w->user[0] ? w->user : NULL, w->role,
		          w->peer,
		          json_pack("{ssss}", "service", name, "reason",
		                    s ? "not visible to this user" : "no such service"));
		snprintf(why, len, "no such service");
		return 404;
	}
	bool owner = s->e->owner && strcmp(s->e->owner, w->user) == 0;
	if (role != USERS_ROLE_ADMIN && !(owner && role == USERS_ROLE_MEMBER)) {
		snprintf(why, len, "only admins and the service's owner may restart it");
		audit_log("service.restart", AUDIT_DENY, w->user, w->role, w->peer,
		          json_pack("{ssss}", "service", name, "reason", why));
		return 403;
	}
	struct ab_err err = {0};
	int r = services_restart_now(svc, name, w->user, &err);
	audit_log("service.restart", r < 0 ? AUDIT_DENY : AUDIT_GRANT, w->user, w->role, w->peer,
	          json_pack("{ssss}", "service", name, "reason",
	                    r < 0 ? err.msg : (owner ? "owner" : "admin")));
	if (r < 0) {
		snprintf(why, len, "%s", err.msg);
		return r == -EBUSY ? 409 : 400;
	}
	return 202;
}

/* GET/POST /api/services/<name>/diag: admins and the owner (a member) only; audited. */
static int
api_diag(struct services *svc, struct svc *s, bool post, bool may, struct http_request *req,
         struct http_response *resp)
{
	const char *name = s->e->name;
	if (!may) {
		audit_log("service.diag", AUDIT_DENY, req->user, req->role, req->peer,
		          json_pack("{ssss}", "service", name, "reason",
		                    "only admins and the service's owner may run diagnostics"));
		http_response_error(resp, 403,
		                    "only admins and the service's owner may run diagnostics");
		return 0;
	}
	struct ab_err err = {0};
	int r = post ? services_diag_start(svc, name, &err) : 0;
	audit_log("service.diag", r < 0 ? AUDIT_DENY : AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{sssssi}", "service", name, "step", post ? "start" : "read", "id",
	                    (int)s->diag_seq));
	if (r < 0) {
		http_response_error(resp, r == -EBUSY ? 409 : 400, err.msg);
		return 0;
	}
	http_response_json(resp, post ? 202 : 200, services_diag_json(svc, name));
	return 0;
}

/*
 * routes:
 *   GET    /api/services/{user}
 *   GET    /api/services/{user}/history
 *   GET    /api/services/{user}/diag
 *   POST   /api/services/{user}/diag
 *   POST   /api/services/{user}/restart
 * end routes
 * ({user}: a service name, same grammar as user names.)
 */
static int
api_one(struct http_request *req, struct http_response *resp, void *data)
{
	struct services *svc = data;
	const char *rest = req->path + strlen("/api/services/");
	char name[USERS_NAME_MAX + 1];
	size_t n = strcspn(rest, "/");
	const char *tail = rest + n;
	bool post = strcmp(req->method, "POST") == 0;
	bool diag = strcmp(tail, "/diag") == 0;
	bool restart = post && !diag;
	bool history = !post && strcmp(tail, "/history") == 0;
	if (n == 0 || n > USERS_NAME_MAX ||
	    (restart ? strcmp(tail, "/restart") != 0 : *tail != '\0' && !history && !diag)) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	struct who w = who_of(req);
	if (restart) {
		char why[AB_ERR_MSG_MAX];
		int status = restart_for(svc, &w, name, why, sizeof(why));
		if (status == 202)
			http_response_json(
			    resp, 202, json_pack("{ssss}", "service", name, "restart", "started"));
		else
			http_response_error(resp, status, why);
		return 0;
	}
	enum users_role role = USERS_ROLE_MAX;
	const struct users_profile *profile = NULL;
	bool known = caller(svc, &w, &role, &profile);
	struct svc *s = find(svc, name);
	bool visible = known && s && services_visible(s->e, req->user, role, profile);
	const char *event = diag ? "service.diag" : "service.access";
	if (!visible) {
		/* not visible and not there answer alike: the name's existence is not leaked */
		audit_log(event, AUDIT_DENY, req->user[0] ? req->user : NULL, req->role, req->peer,
		          json_pack("{ssss}", "service", name, "reason",
		                    s ? "not visible to this user" : "no such service"));
		http_response_error(resp, 404, "no such service");
		return 0;
	}
	bool owner = s->e->owner && strcmp(s->e->owner, req->user) == 0;
	if (diag)
		return api_diag(svc, s, post,
		                role == USERS_ROLE_ADMIN || (owner && role == USERS_ROLE_MEMBER),
		                req, resp);
	audit_log(event, AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{ssss}", "service", name, "endpoint", history ? "history" : "one"));
	if (history) {
		json_t *buckets = json_array();
		json_t *d = day_summary(s, buckets);
		json_object_set_new(d, "bucket_ms", json_integer(BUCKET_MS));
		json_object_set_new(d, "buckets", buckets);
		http_response_json(resp, 200, d);
		return 0;
	}
	http_response_json(resp, 200, svc_json(s, role == USERS_ROLE_ADMIN));
	return 0;
}

/* --- desktops: services_request on the control channel (docs/control-channel.md) ---- */

static json_t *
answer(json_int_t id, const char *op, int status, const char *error)
{
	json_t *f = json_pack("{sIsssi}", "id", id, "op", op, "status", status);
	if (error)
		json_object_set_new(f, "error", json_string(error));
	return ab_proto_msg("services_answer", f);
}

json_t *
services_desktop_request(struct services *svc, const char *user, const char *role, json_t *msg)
{
	json_t *jid = json_object_get(msg, "id");
	json_int_t id = json_is_integer(jid) ? json_integer_value(jid) : -1;
	const char *op = json_string_value(json_object_get(msg, "op"));
	const char *name = json_string_value(json_object_get(msg, "name"));
	struct who w = {user, role ? role : "", "desktop"};
	if (id < 0 || !op || (strcmp(op, "list") && strcmp(op, "restart")))
		return answer(id, op && strlen(op) <= 16 ? op : "?", 400,
		              "a services_request needs an integer 'id' >= 0 and 'op' list or "
		              "restart");
	if (strcmp(op, "list") == 0) {
		json_t *body = list_for(svc, &w, "desktop");
		if (!body)
			return answer(id, op, 403, "forbidden");
		json_t *a = answer(id, op, 200, NULL);
		json_object_set(a, "services", json_object_get(body, "services"));
		json_decref(body);
		return a;
	}
	if (!name || !users_name_valid(name))
		return answer(id, op, 400, "restart needs the service's 'name'");
	char why[AB_ERR_MSG_MAX];
	int status = restart_for(svc, &w, name, why, sizeof(why));
	json_t *a = answer(id, op, status, status == 202 ? NULL : why);
	json_object_set_new(a, "service", json_string(name));
	return a;
}

/* POST /api/admin/services/reload: admins only (authz admin.write; checked again here). */
static int
api_reload(struct http_request *req, struct http_response *resp, void *data)
{
	struct services *svc = data;
	if (users_role_from_string(req->role) != USERS_ROLE_ADMIN) {
		audit_log("service.reload", AUDIT_DENY, req->user[0] ? req->user : NULL, req->role,
		          req->peer, json_pack("{ss}", "reason", "admins only"));
		http_response_error(resp, 403, "only admins may reload the services registry");
		return 0;
	}
	struct ab_err err = {0};
	json_t *d = services_reload_request(svc, req->user, &err);
	if (!d) {
		http_response_error(resp, err.code == EOPNOTSUPP ? 409 : 400, err.msg);
		return 0;
	}
	http_response_json(resp, 200, d);
	return 0;
}

int
services_add_routes(struct services *svc, struct server *srv)
{
	static const struct server_route_def routes[] = {
	    {"POST", "/api/admin/services/reload", api_reload},
	    {"GET", "/api/services", api_list},
	    {"GET", "/api/services/", api_one},
	    {"POST", "/api/services/", api_one},
	};
	return SERVER_ROUTES_ADD(srv, routes, svc);
}

/* --- life ------------------------------------------------------------------------------ */

/* A service's running side, for entry `e` (borrowed from the registry). */
static int
svc_new(struct services *svc, const struct services_entry *e, size_t idx, struct svc **ret,
        struct ab_err *err)
{
	struct svc *s = ab_xcalloc(1, sizeof(*s));
	s->svc = svc;
	s->pidfd = -1;
	s->tcp = (struct tcp_probe){.s = s, .fd = -1, .done = tcp_checked};
	s->diag_tcp = (struct tcp_probe){.s = s, .fd = -1, .done = diag_tcp_result};
	s->e = e;
	s->since_ms = ab_wall_ms();
	snprintf(s->reason, sizeof(s->reason), "not checked yet");
	s->hist = ab_xcalloc(svc->p.history, sizeof(*s->hist));
	if (e->check.ca_file &&
	    ab_read_file(e->check.ca_file, 1 << 20, &s->ca_pem, &s->ca_pem_len, err) < 0) {
		free(s->hist);
		free(s);
		return ab_err_wrap(err, "services[%zu] ('%s').check.ca_file", idx, e->name);
	}
	if (e->scheme != SERVICES_TCP) {
		bool v6 = strchr(e->host, ':') != NULL;
		s->check_url =
		    ab_xasprintf("%s://%s%s%s:%u%s", e->scheme == SERVICES_HTTPS ? "https" : "http",
		                 v6 ? "[" : "", e->host, v6 ? "]" : "", e->port, e->check.path);
	}
	kv_summary_get(s);
	*ret = s;
	return 0;
}

/* Cancels what runs for `s` (a restart command is killed with its group) and frees it. */
static void
svc_free(struct svc *s)
{
	struct services *svc = s->svc;
	ab_loop_timer_cancel(svc->loop, s->next);
	ab_loop_timer_cancel(svc->loop, s->restart_timer);
	httpc_cancel(svc->http, s->call);
	httpc_cancel(svc->http, s->api_call);
	httpc_cancel(svc->http, s->diag_call);
	probe_end(&s->tcp);
	probe_end(&s->diag_tcp);
	if (s->pid > 0) {
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	child_end(s);
	if (s->in_cycle && svc->cycle_pending && --svc->cycle_pending == 0)
		svc->last_cycle_us = ab_now_us() - svc->cycle_start_us;
	free(s->hist);
	free(s->check_url);
	free(s->ca_pem);
	json_decref(s->stored);
	json_decref(s->diags);
	free(s);
}

int
services_new(struct ab_loop *loop, struct httpc *http, struct services_registry *reg,
             const struct services_params *p, struct services **ret, struct ab_err *err)
{
	struct services *svc = ab_xcalloc(1, sizeof(*svc));
	svc->loop = loop;
	svc->http = http;
	svc->reg = reg;
	if (p)
		svc->p = *p;
	if (!svc->p.history)
		svc->p.history = DEFAULT_HISTORY;
	svc->last_cycle_us = -1;
	svc->s = ab_xcalloc(reg->n + 1, sizeof(*svc->s));
	for (size_t i = 0; i < reg->n; i++) {
		if (svc_new(svc, &reg->entries[i], i, &svc->s[i], err) < 0) {
			services_free(svc);
			return -EINVAL;
		}
		svc->n++;
	}
	if (reg->n)
		services_poll_all(svc);
	*ret = svc;
	return 0;
}

const struct services_registry *
services_registry(const struct services *svc)
{
	return svc->reg;
}

/* Whether the running side of `a` must start over for `b` (what it checks changed). */
static bool
entry_check_changed(const struct services_entry *a, const struct services_entry *b)
{
	return strcmp(a->url, b->url) != 0 ||
	       strcmp(a->check.path ? a->check.path : "", b->check.path ? b->check.path : "") !=
	           0 ||
	       a->check.expect_status != b->check.expect_status ||
	       strcmp(a->check.expect_body ? a->check.expect_body : "",
	              b->check.expect_body ? b->check.expect_body : "") != 0 ||
	       strcmp(a->check.ca_file ? a->check.ca_file : "",
	              b->check.ca_file ? b->check.ca_file : "") != 0;
}

int
services_reload(struct services *svc, struct services_registry *reg, const char *by,
                struct ab_err *err)
{
	/* everything that can fail first: the running side changes all at once or not at all */
	struct svc **next = ab_xcalloc(reg->n + 1, sizeof(*next));
	bool *fresh = ab_xcalloc(reg->n + 1, sizeof(*fresh));
	for (size_t i = 0; i < reg->n; i++) {
		const struct services_entry *e = &reg->entries[i];
		struct svc *old = find(svc, e->name);
		if (old && !entry_check_changed(old->e, e))
			continue;
		if (svc_new(svc, e, i, &next[i], err) < 0) {
			for (size_t k = 0; k < i; k++)
				if (next[k])
					svc_free(next[k]);
			free(next);
			free(fresh);
			services_registry_free(reg);
			return -EINVAL;
		}
		fresh[i] = true;
	}
	json_t *added = json_array(), *removed = json_array(), *changed = json_array(),
	       *kept = json_array();
	for (size_t i = 0; i < reg->n; i++) {
		const struct services_entry *e = &reg->entries[i];
		struct svc *old = find(svc, e->name);
		if (fresh[i]) {
			json_array_append_new(old ? changed : added, json_string(e->name));
			continue;
		}
		next[i] = old;
		old->e = e; /* same check: state, history and recovery carry over */
		json_array_append_new(kept, json_string(e->name));
	}
	for (size_t i = 0; i < svc->n; i++) {
		struct svc *s = svc->s[i];
		bool stays = false;
		for (size_t k = 0; k < reg->n && !stays; k++)
			stays = next[k] == s;
		if (stays)
			continue;
		if (!services_registry_find(reg, s->e->name))
			json_array_append_new(removed, json_string(s->e->name));
		svc_free(s);
	}
	free(svc->s);
	svc->s = next;
	svc->n = reg->n;
	services_registry_free(svc->reg);
	svc->reg = reg;
	for (size_t i = 0; i < svc->n; i++) {
		struct svc *s = svc->s[i];
		if (fresh[i]) {
			s->next = ab_loop_timer(svc->loop, 0, next_check, s); /* checked at once */
			continue;
		}
		/* the interval may have changed: the next check follows the new one */
		if (s->next && !s->in_flight) {
			ab_loop_timer_cancel(svc->loop, s->next);
			s->next = ab_loop_timer(svc->loop, s->e->check.interval_ms, next_check, s);
		}
	}
	free(fresh);
	json_t *d = json_pack("{sososososI}", "added", added, "removed", removed, "changed",
	                      changed, "kept", kept, "services", (json_int_t)svc->n);
	audit_log("service.reload", AUDIT_INFO, by, NULL, NULL, json_deep_copy(d));
	ab_info("services: registry reloaded (%zu services; %zu added, %zu removed, %zu changed)",
	        svc->n, json_array_size(added), json_array_size(removed), json_array_size(changed));
	json_decref(svc->last_reload);
	svc->last_reload = d;
	return 0;
}

void
services_set_users(struct services *svc, const struct users_db *users)
{
	if (svc)
		svc->p.users = users;
}

void
services_set_reload(struct services *svc, services_reload_fn fn, void *data)
{
	svc->reload = fn;
	svc->reload_data = data;
}

json_t *
services_reload_request(struct services *svc, const char *by, struct ab_err *err)
{
	if (!svc->reload) {
		ab_err_set(err, EOPNOTSUPP,
		           "the registry cannot be reloaded (no configuration file)");
		return NULL;
	}
	if (svc->reload(svc->reload_data, by, err) < 0) {
		audit_log("service.reload", AUDIT_FAILURE, by, NULL, NULL,
		          json_pack("{ss}", "reason", err->msg));
		return NULL;
	}
	return json_deep_copy(svc->last_reload);
}

void
services_free(struct services *svc)
{
	if (!svc)
		return;
	for (size_t i = 0; i < svc->n; i++)
		svc_free(svc->s[i]);
	ab_loop_timer_cancel(svc->loop, svc->starter);
	free(svc->s);
	json_decref(svc->last_reload);
	services_registry_free(svc->reg);
	free(svc);
}
