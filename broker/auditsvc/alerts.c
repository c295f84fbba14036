/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alerts: audit rules and the webhook (see alerts.h). */
#include "alerts.h"
#include "ab_log.h"
#include "ab_util.h"
#include "httpc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <time.h>

#define MAX_RULES              64
#define MAX_KEYS               1024 /* tracked keys per rule; the oldest goes first */
#define MAX_PENDING            256  /* webhook deliveries waiting or in flight */
#define MAX_RETRY_MS           60000
#define MAX_THRESHOLD          10000
#define STORE_FAILING_EVERY_MS 60000 /* the built-in audit-failing alert, at most */

enum per { PER_ALL, PER_USER, PER_SOURCE };

struct counter {
	char key[128];
	int64_t *times; /* ring of `threshold` */
	unsigned n, head;
	int64_t last_seen;
};

struct rule {
	char name[64];
	char event[128];
	int outcome; /* -1 any */
	char reason[256];
	enum per per;
	unsigned threshold;
	int64_t window_ms;
	struct counter *counters;
	unsigned n_counters;
	uint64_t fired;
};

struct delivery {
	struct delivery *next;
	struct alerts *a;
	char *body;
	int attempt;
	struct ab_timer *timer;
	struct httpc_call *call;
};

struct alerts {
	struct ab_loop *loop;
	struct httpc *httpc;
	char *url, *secret;
	long timeout_ms;
	int max_attempts;
	int64_t first_retry_ms;
	struct rule rules[MAX_RULES];
	unsigned n_rules;
	struct delivery *pending;
	unsigned n_pending;
	uint64_t fired, delivered, failed, dropped;
	bool firing; /* no rule sees the events an alert logs */
	alerts_notify_fn notify;
	void *notify_data;
	struct rule store_failing;    /* built in: the audit's own failures */
	int64_t store_failing_ms;     /* when it last fired (monotonic): at most once a minute */
	unsigned store_failing_quiet; /* failures since, not fired for */
};

void
alerts_set_notify(struct alerts *a, alerts_notify_fn fn, void *data)
{
	if (!a)
		return;
	a->notify = fn;
	a->notify_data = data;
}

static int
parse_rule(json_t *j, size_t i, struct rule *r, struct ab_err *err)
{
	if (!json_is_object(j))
		return ab_err_set(err, EINVAL, "audit.alerts.rules[%zu]: not an object", i);
	static const char *const known[] = {"name",      "event",    "outcome", "reason",
	                                    "threshold", "window_s", "per"};
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v)
	{
		bool ok = false;
		for (size_t x = 0; x < AB_ARRAY_SIZE(known); x++)
			ok = ok || strcmp(k, known[x]) == 0;
		if (!ok)
			return ab_err_set(err, EINVAL,
			                  "audit.alerts.rules[%zu]: unknown key '%s' (name, event, "
			                  "outcome, reason, per, threshold, window_s)",
			                  i, k);
	}
	*r = (struct rule){.outcome = -1, .threshold = 1, .window_ms = 60000};
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *event = json_string_value(json_object_get(j, "event"));
	if (!name || !name[0] || strlen(name) >= sizeof(r->name))
		return ab_err_set(err, EINVAL,
		                  "audit.alerts.rules[%zu].name: a string of 1 to 63 bytes", i);
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (!event || !event[0] || strlen(event) >= sizeof(r->event))
		return ab_err_set(err, EINVAL,
		                  "audit.alerts.rules[%zu].event: an event name or prefix (e.g. "
		                  "\"auth.login\", \"admin.\"), 1 to 127 bytes",
		                  i);
	if (strncmp(event, "audit.", 6) == 0)
		return ab_err_set(
		    err, EINVAL,
		    "audit.alerts.rules[%zu].event: '%s': the audit area's own events "
		    "cannot raise alerts (an alert is one)",
		    i, event);
	snprintf(r->event, sizeof(r->event), "%s", event);
	json_t *o = json_object_get(j, "outcome");
	if (o) {
		r->outcome = audit_outcome_from_name(json_string_value(o));
		if (r->outcome < 0)
			return ab_err_set(err, EINVAL,
			                  "audit.alerts.rules[%zu].outcome: grant, deny, info or "
			                  "failure",
			                  i);
	}
	json_t *reason = json_object_get(j, "reason");
	if (reason) {
		if (!json_is_string(reason) || json_string_length(reason) >= sizeof(r->reason))
			return ab_err_set(
			    err, EINVAL, "audit.alerts.rules[%zu].reason: a string under 256 bytes",
			    i);
		snprintf(r->reason, sizeof(r->reason), "%s", json_string_value(reason));
	}
	json_t *t = json_object_get(j, "threshold");
	if (t) {
		if (!json_is_integer(t) || json_integer_value(t) < 1 ||
		    json_integer_value(t) > MAX_THRESHOLD)
			return ab_err_set(
			    err, EINVAL,
			    "audit.alerts.rules[%zu].threshold: an integer from 1 to %d", i,
			    MAX_THRESHOLD);
		r->threshold = (unsigned)json_integer_value(t);
	}
	json_t *w = json_object_get(j, "window_s");
	if (w) {
		if (!json_is_integer(w) || json_integer_value(w) < 1 ||
		    json_integer_value(w) > 7 * 86400)
			return ab_err_set(err, EINVAL,
			                  "audit.alerts.rules[%zu].window_s: an integer from 1 to "
			                  "604800 (7 days)",
			                  i);
		r->window_ms = json_integer_value(w) * 1000;
	}
	json_t *per = json_object_get(j, "per");
	if (per) {
		const char *p = json_string_value(per);
		if (p && strcmp(p, "user") == 0)
			r->per = PER_USER;
		else if (p && strcmp(p, "source") == 0)
			r->per = PER_SOURCE;
		else if (p && strcmp(p, "all") == 0)
			r->per = PER_ALL;
		else
			return ab_err_set(err, EINVAL,
			                  "audit.alerts.rules[%zu].per: \"user\", \"source\" or "
			                  "\"all\"",
			                  i);
	}
	return 0;
}

static int
check_webhook(const struct alerts_webhook *wh, struct ab_err *err)
{
	if (!wh || !wh->url || !wh->url[0])
		return 0;
	if (strncmp(wh->url, "http://", 7) != 0 && strncmp(wh->url, "https://", 8) != 0)
		return ab_err_set(
		    err, EINVAL, "audit.alerts.webhook.url: '%s' is not an http:// or https:// URL",
		    wh->url);
	if (!wh->secret || strlen(wh->secret) < 16)
		return ab_err_set(err, EINVAL,
		                  "audit.alerts.webhook.secret: at least 16 characters (the "
		                  "receiver checks the HMAC-SHA256 signature with it)");
	return 0;
}

void
alerts_free(struct alerts *a)
{
	if (!a)
		return;
	while (a->pending) {
		struct delivery *d = a->pending;
		a->pending = d->next;
		ab_loop_timer_cancel(a->loop, d->timer);
		httpc_cancel(a->httpc, d->call);
		free(d->body);
		free(d);
	}
	for (unsigned i = 0; i < a->n_rules; i++) {
		for (unsigned k = 0; k < a->rules[i].n_counters; k++)
			free(a->rules[i].counters[k].times);
		free(a->rules[i].counters);
	}
	free(a->url);
	free(a->secret);
	free(a);
}

int
alerts_new(json_t *rules, const struct alerts_webhook *wh, struct ab_loop *loop,
           struct httpc *httpc, struct alerts **ret, struct ab_err *err)
{
	if (rules && !json_is_array(rules))
		return ab_err_set(err, EINVAL, "audit.alerts.rules: must be an array");
	if (json_array_size(rules) > MAX_RULES)
		return ab_err_set(err, EINVAL, "audit.alerts.rules: at most %d rules", MAX_RULES);
	int r = check_webhook(wh, err);
	if (r < 0)
		return r;
	struct alerts *a = ab_xcalloc(1, sizeof(*a));
	size_t i;
	json_t *j;
	json_array_foreach(rules, i, j)
	{
		if ((r = parse_rule(j, i, &a->rules[a->n_rules], err)) < 0) {
			alerts_free(a);
			return r;
		}
		for (unsigned k = 0; k < a->n_rules; k++)
			if (strcmp(a->rules[k].name, a->rules[a->n_rules].name) == 0) {
				alerts_free(a);
				return ab_err_set(
				    err, EINVAL, "audit.alerts.rules[%zu].name: '%s' is used twice",
				    i, a->rules[k].name);
			}
		a->n_rules++;
	}
	if (!ret) {
		alerts_free(a);
		return 0;
	}
	a->loop = loop;
	a->httpc = httpc;
	a->store_failing = (struct rule){.name = "audit-failing",
	                                 .outcome = -1,
	                                 .threshold = 1,
	                                 .window_ms = STORE_FAILING_EVERY_MS};
	if (wh && wh->url && wh->url[0]) {
		a->url = ab_xstrdup(wh->url);
		a->secret = ab_xstrdup(wh->secret);
	}
	a->timeout_ms = wh && wh->timeout_ms > 0 ? wh->timeout_ms : 5000;
	a->max_attempts = wh && wh->max_attempts > 0 ? wh->max_attempts : 6;
	a->first_retry_ms = wh && wh->first_retry_ms > 0 ? wh->first_retry_ms : 1000;
	*ret = a;
	return 0;
}

void
alerts_signature(const char *secret, const char *timestamp, const char *body, char out[80])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	_cleanup_free_ char *msg = ab_xasprintf("%s.%s", timestamp, body);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg),
	     mac, &len);
	static const char hx[] = "0123456789abcdef";
	strcpy(out, "sha256=");
	for (unsigned i = 0; i < len && i < 32; i++) {
		out[7 + 2 * i] = hx[mac[i] >> 4];
		out[8 + 2 * i] = hx[mac[i] & 15];
	}
	out[7 + 2 * AB_MIN(len, 32u)] = '\0';
}

/* ---- webhook ---- */

static void delivery_send(struct delivery *d);

static void
delivery_done(struct delivery *d, bool ok, const char *why)
{
	struct alerts *a = d->a;
	for (struct delivery **p = &a->pending; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	a->n_pending--;
	if (ok) {
		a->delivered++;
	} else {
		a->failed++;
		ab_warn("audit alert webhook: gave up after %d attempts: %s", d->attempt, why);
		json_t *body = json_loads(d->body, 0, NULL);
		a->firing = true;
		audit_log("audit.webhook", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{sssssiso}", "reason", "alert not delivered", "error", why,
		                    "attempts", d->attempt, "alert",
		                    json_incref(json_object_get(body, "alert"))));
		a->firing = false;
		json_decref(body);
	}
	free(d->body);
	free(d);
}

static int64_t
delivery_retry(struct ab_loop *loop, void *data)
{
	struct delivery *d = data;
	d->timer = NULL;
	delivery_send(d);
	return AB_TIMER_STOP;
}

static void
delivery_answer(const struct httpc_resp *resp, void *data)
{
	struct delivery *d = data;
	struct alerts *a = d->a;
	d->call = NULL;
	if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
		delivery_done(d, true, NULL);
		return;
	}
	char why[192];
	if (resp->error < 0)
		snprintf(why, sizeof(why), "%.160s", resp->errmsg);
	else
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	if (d->attempt >= a->max_attempts) {
		delivery_done(d, false, why);
		return;
	}
	int64_t wait = a->first_retry_ms;
	for (int i = 1; i < d->attempt && wait < MAX_RETRY_MS; i++)
		wait *= 2;
	wait = AB_MIN(wait, (int64_t)MAX_RETRY_MS);
	ab_debug("audit alert webhook: attempt %d failed (%s), again in %lld ms", d->attempt, why,
	         (long long)wait);
	d->timer = ab_loop_timer(a->loop, wait, delivery_retry, d);
}

static void
delivery_send(struct delivery *d)
{
	struct alerts *a = d->a;
	d->attempt++;
	char ts[32], sig[80], h_ts[64], h_sig[112], h_try[48];
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	alerts_signature(a->secret, ts, d->body, sig);
	snprintf(h_ts, sizeof(h_ts), "X-ArgoBox-Timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "X-ArgoBox-Signature: %s", sig);
	snprintf(h_try, sizeof(h_try), "X-ArgoBox-Attempt: %d", d->attempt);
	const char *headers[] = {"Content-Type: application/json", h_ts, h_sig, h_try, NULL};
	struct httpc_req req = {
	    .method = "POST",
	    .url = a->url,
	    .headers = headers,
	    .body = d->body,
	    .body_len = strlen(d->body),
	    .timeout_ms = a->timeout_ms,
	    .max_response = 64 << 10,
	};
	struct ab_err err = {0};
	if (httpc_request(a->httpc, &req, delivery_answer, d, &d->call, &err) < 0)
		delivery_done(d, false, err.msg);
}

static void
webhook_post(struct alerts *a, json_t *alert)
{
	if (!a->url || !a->httpc)
		return;
	if (a->n_pending >= MAX_PENDING) {
		a->dropped++;
		return;
	}
	struct delivery *d = ab_xcalloc(1, sizeof(*d));
	d->a = a;
	d->body = json_dumps(alert, JSON_COMPACT | JSON_PRESERVE_ORDER);
	d->next = a->pending;
	a->pending = d;
	a->n_pending++;
	delivery_send(d);
}

/* ---- rules ---- */

static struct counter *
counter_for(struct rule *r, const char *key, int64_t now)
{
	struct counter *oldest = NULL;
	for (unsigned i = 0; i < r->n_counters; i++) {
		struct counter *c = &r->counters[i];
		if (strcmp(c->key, key) == 0)
			return c;
		if (!oldest || c->last_seen < oldest->last_seen)
			oldest = c;
	}
	struct counter *c;
	if (r->n_counters < MAX_KEYS) {
		r->counters = ab_xrealloc(r->counters, (r->n_counters + 1) * sizeof(*c));
		c = &r->counters[r->n_counters++];
		c->times = ab_xcalloc(r->threshold, sizeof(int64_t));
	} else {
		c = oldest; /* forget the key seen longest ago */
	}
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->n = c->head = 0;
	c->last_seen = now;
	return c;
}

static bool
rule_matches(const struct rule *r, const struct audit_event *ev)
{
	if (strncmp(ev->event, r->event, strlen(r->event)) != 0)
		return false;
	if (r->outcome >= 0 && (int)ev->outcome != r->outcome)
		return false;
	if (r->reason[0]) {
		const char *reason = json_string_value(
		    json_object_get(json_object_get(ev->object, "detail"), "reason"));
		if (!reason || !strstr(reason, r->reason))
			return false;
	}
	return true;
}

static void
fire(struct alerts *a, struct rule *r, const struct audit_event *ev, const char *key,
     unsigned count)
{
	r->fired++;
	a->fired++;
	ab_warn("audit alert '%s': %s%s%s (%u in %lld s)", r->name, ev->event, key[0] ? " by " : "",
	        key, count, (long long)(r->window_ms / 1000));
	json_t *alert = json_pack("{sssssisIsssO}", "alert", r->name, "time", ev->time, "count",
	                          count, "window_s", (json_int_t)(r->window_ms / 1000), "key", key,
	                          "event", ev->object);
	if (alert)
		webhook_post(a, alert);
	a->firing = true;
	json_t *detail =
	    json_pack("{sssssisIss}", "rule", r->name, "event", ev->event, "count", count,
	              "window_s", (json_int_t)(r->window_ms / 1000), "key", key);
	if (a->notify) {
		char title[96], body[512];
		snprintf(title, sizeof(title), "Audit alert: %s", r->name);
		snprintf(body, sizeof(body), "%u '%.128s' event%s%s%.128s within %lld s", count,
		         ev->event, count == 1 ? "" : "s", key[0] ? " by " : "", key,
		         (long long)(r->window_ms / 1000));
		json_t *delivered = json_array(), *absent = json_array();
		a->notify(a->notify_data, title, body, delivered, absent);
		json_object_set_new(detail, "notified", delivered);
		json_object_set_new(detail, "no_desktop", absent);
	}
	audit_log("audit.alert", AUDIT_INFO, ev->user, ev->role, ev->source, detail);
	a->firing = false;
	json_decref(alert);
}

void
alerts_event(struct alerts *a, const struct audit_event *ev)
{
	if (!a || a->firing)
		return;
	if (strncmp(ev->event, "audit.", 6) == 0) {
		/* no rule sees the audit's own events; its failures raise the built-in alert */
		if (ev->outcome != AUDIT_FAILURE || (strcmp(ev->event, "audit.store") != 0 &&
		                                     strcmp(ev->event, "audit.mirror") != 0))
			return;
		int64_t now = ab_now_ms();
		if (a->store_failing_ms && now - a->store_failing_ms < STORE_FAILING_EVERY_MS) {
			a->store_failing_quiet++;
			return;
		}
		unsigned count = 1 + a->store_failing_quiet;
		a->store_failing_ms = now;
		a->store_failing_quiet = 0;
		fire(a, &a->store_failing, ev, "", count);
		return;
	}
	for (unsigned i = 0; i < a->n_rules; i++) {
		struct rule *r = &a->rules[i];
		if (!rule_matches(r, ev))
			continue;
		const char *key = r->per == PER_USER     ? ev->user
		                  : r->per == PER_SOURCE ? ev->source
		                                         : "";
		if (!key)
			continue; /* per user/source, and the event has none */
		if (r->threshold <= 1) {
			fire(a, r, ev, key, 1);
			continue;
		}
		int64_t now = ev->time_ms;
		struct counter *c = counter_for(r, key, now);
		c->last_seen = now;
		/* drop what fell out of the window, then add this one */
		while (c->n && c->times[(c->head + r->threshold - c->n) % r->threshold] <=
		                   now - r->window_ms)
			c->n--;
		c->times[c->head] = now;
		c->head = (c->head + 1) % r->threshold;
		if (c->n < r->threshold)
			c->n++;
		if (c->n >= r->threshold) {
			unsigned n = c->n;
			c->n = 0; /* counted again from here */
			fire(a, r, ev, key, n);
		}
	}
}

json_t *
alerts_status(struct alerts *a)
{
	json_t *rules = json_array();
	for (unsigned i = 0; a && i < a->n_rules; i++)
		json_array_append_new(rules, json_pack("{sssI}", "name", a->rules[i].name, "fired",
		                                       (json_int_t)a->rules[i].fired));
	if (a)
		json_array_append_new(rules,
		                      json_pack("{sssIsb}", "name", a->store_failing.name, "fired",
		                                (json_int_t)a->store_failing.fired, "builtin", 1));
	return json_pack(
	    "{sosIsIsIsisIsb}", "rules", rules, "fired", (json_int_t)(a ? a->fired : 0),
	    "delivered", (json_int_t)(a ? a->delivered : 0), "failed",
	    (json_int_t)(a ? a->failed : 0), "pending", a ? (int)a->n_pending : 0, "dropped",
	    (json_int_t)(a ? a->dropped : 0), "webhook", a && a->url ? 1 : 0);
}
