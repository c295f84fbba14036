/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "demo.h"
#include "auth_local.h"
#include "ab_json.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define DEMO_SLOTS_MAX 4096

const struct demo_config demo_defaults = {
    .max_concurrent = 10,
    .per_ip_max = 3,
    .per_ip_window_ms = 3600 * 1000LL,
    .ttl_ms = 0,
    .warn_before_ms = {600000, 300000, 60000, 0},
    .uid_base = 20000,
};

static const char *const end_names[DEMO_END_REASON_MAX] = {"ttl",     "logout", "admin",
                                                           "evicted", "failed", "idle"};

struct recent_start {
	char source[64];
	int64_t at_ms;
};

struct demo {
	const struct users_db *db;
	struct demo_config cfg;
	demo_warn_fn warn;
	demo_expire_fn expire;
	void *data;
	struct demo_identity **ids; /* by slot; NULL = free */
	size_t n_ids;
	struct recent_start *recent;
	size_t n_recent, cap_recent;
	struct ab_loop *loop;
	struct ab_timer *timer;
	bool in_timer, rearm_pending;
	demo_change_fn on_change;
	void *on_change_data;
	struct demo_pool_hooks pool;
	void *pool_data;
};

const char *
demo_end_reason_name(enum demo_end_reason why)
{
	return why < DEMO_END_REASON_MAX ? end_names[why] : "unknown";
}

struct demo *
demo_new(const struct users_db *db, const struct demo_config *cfg, demo_warn_fn warn,
         demo_expire_fn expire, void *data)
{
	struct demo *d = ab_xcalloc(1, sizeof(*d));
	d->db = db;
	d->cfg = cfg ? *cfg : demo_defaults;
	d->cfg.max_concurrent = AB_MAX(0, AB_MIN(d->cfg.max_concurrent, DEMO_SLOTS_MAX));
	d->cfg.warn_before_ms[DEMO_MAX_WARNINGS] = 0;
	if (d->cfg.uid_base == 0)
		d->cfg.uid_base = demo_defaults.uid_base;
	d->warn = warn;
	d->expire = expire;
	d->data = data;
	d->ids = ab_xcalloc((size_t)d->cfg.max_concurrent + 1, sizeof(*d->ids));
	return d;
}

void
demo_free(struct demo *d)
{
	if (!d)
		return;
	if (d->loop && d->timer)
		ab_loop_timer_cancel(d->loop, d->timer);
	for (int i = 0; i < d->cfg.max_concurrent; i++)
		free(d->ids[i]);
	free(d->ids);
	free(d->recent);
	free(d);
}

static json_t *
detail(const char *reason, const struct demo_identity *id)
{
	json_t *o = json_pack("{s:s}", "reason", reason);
	if (id) {
		json_object_set_new(o, "profile", json_string(id->profile->name));
		json_object_set_new(o, "uid", json_integer(id->uid));
	}
	return o;
}

static int
recent_count(struct demo *d, const char *source, int64_t now_ms)
{
	int n = 0;
	for (size_t i = d->n_recent; i-- > 0;) {
		if (now_ms - d->recent[i].at_ms >= d->cfg.per_ip_window_ms) {
			d->recent[i] = d->recent[--d->n_recent];
			continue;
		}
		if (strcmp(d->recent[i].source, source) == 0)
			n++;
	}
	return n;
}

static void rearm(struct demo *d);

static void
recent_add(struct demo *d, const char *source, int64_t at_ms)
{
	if (d->n_recent == d->cap_recent) {
		d->cap_recent = d->cap_recent ? 2 * d->cap_recent : 16;
		d->recent = ab_xrealloc(d->recent, d->cap_recent * sizeof(*d->recent));
	}
	snprintf(d->recent[d->n_recent].source, sizeof(d->recent[0].source), "%s", source);
	d->recent[d->n_recent++].at_ms = at_ms;
}

void
demo_on_change(struct demo *d, demo_change_fn fn, void *data)
{
	d->on_change = fn;
	d->on_change_data = data;
}

json_t *
demo_recent_json(struct demo *d, int64_t now_ms)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->n_recent; i++)
		if (now_ms - d->recent[i].at_ms < d->cfg.per_ip_window_ms)
			json_array_append_new(
			    list, json_pack("{s:s, s:I}", "source", d->recent[i].source, "age_ms",
			                    (json_int_t)(now_ms - d->recent[i].at_ms)));
	json_t *o = ab_json_snapshot_new();
	json_object_set_new(o, "recent", list);
	return o;
}

int
demo_recent_restore(struct demo *d, const json_t *o, int64_t now_ms)
{
	int64_t gone = ab_json_snapshot_age_ms(o);
	if (gone < 0)
		return -EINVAL;
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "recent"), i, e)
	{
		const char *src = json_string_value(json_object_get(e, "source"));
		json_int_t age = json_integer_value(json_object_get(e, "age_ms")) + gone;
		if (!src || strlen(src) >= sizeof(d->recent[0].source) || age < 0 ||
		    age >= d->cfg.per_ip_window_ms)
			continue;
		recent_add(d, src, now_ms - age);
		n++;
	}
	return n;
}

static const struct users_profile *
default_profile(const struct demo *d)
{
	for (size_t i = 0; i < users_count(d->db); i++)
		if (users_at(d->db, i)->role == USERS_ROLE_DEMO)
			return users_at(d->db, i)->profile;
	return NULL;
}

const struct users_profile *
demo_default_profile(const struct demo *d)
{
	return default_profile(d);
}

int
demo_max_concurrent(const struct demo *d)
{
	return d->cfg.max_concurrent;
}

void
demo_set_pool(struct demo *d, const struct demo_pool_hooks *hooks, void *data)
{
	d->pool = hooks ? *hooks : (struct demo_pool_hooks){0};
	d->pool_data = data;
}

static int
free_slot(const struct demo *d)
{
	for (int i = 0; i < d->cfg.max_concurrent; i++)
		if (!d->ids[i])
			return i;
	return -1;
}

/* A new identity of profile p in the free slot `slot`: new random name, the slot's uid. */
static struct demo_identity *
new_identity(struct demo *d, const struct users_profile *p, int slot)
{
	struct demo_identity *id = ab_xcalloc(1, sizeof(*id));
	unsigned char rnd[4];
	char hex[9];
	AB_ASSERT(ab_random_bytes(rnd, sizeof(rnd)) == 0);
	ab_hex(rnd, sizeof(rnd), hex);
	snprintf(id->name, sizeof(id->name), "demo-%s", hex);
	id->profile = p;
	id->slot = (unsigned)slot;
	id->uid = (uid_t)(d->cfg.uid_base + (unsigned)slot);
	id->gid = (gid_t)id->uid;
	d->ids[slot] = id;
	d->n_ids++;
	return id;
}

/* The identity becomes a visitor's from `now_ms`: source, TTL, warnings, rate counter. */
static int64_t
claim(struct demo *d, struct demo_identity *id, const char *src, int64_t now_ms)
{
	id->pooled = false;
	snprintf(id->source, sizeof(id->source), "%s", src);
	id->started_ms = now_ms;
	int64_t ttl =
	    d->cfg.ttl_ms > 0
	        ? d->cfg.ttl_ms
	        : (id->profile->ttl_minutes > 0 ? id->profile->ttl_minutes : 60) * 60000LL;
	id->expires_ms = now_ms + ttl;
	id->next_warning = 0;
	/* skip warnings that would already be due (TTL shorter than the warning) */
	while (d->cfg.warn_before_ms[id->next_warning] &&
	       d->cfg.warn_before_ms[id->next_warning] >= ttl)
		id->next_warning++;
	recent_add(d, src, now_ms);
	if (d->on_change)
		d->on_change(d->on_change_data);
	return ttl;
}

int
demo_reserve(struct demo *d, const struct users_profile *p, const struct demo_identity **ret,
             struct ab_err *err)
{
	if (!p || !p->demo)
		return ab_err_set(err, EINVAL, "not a demo profile");
	int slot = free_slot(d);
	if (slot < 0)
		return ab_err_set(err, EUSERS, "every demo slot is taken");
	struct demo_identity *id = new_identity(d, p, slot);
	id->pooled = true;
	audit_log("demo.pool", AUDIT_INFO, id->name, "demo", NULL,
	          detail("reserved for the warm pool", id));
	*ret = id;
	return 0;
}

/* A pooled identity of p for a visitor, or NULL. */
static struct demo_identity *
pool_take(struct demo *d, const struct users_profile *p)
{
	const char *name = d->pool.take ? d->pool.take(d->pool_data, p) : NULL;
	for (int i = 0; name && i < d->cfg.max_concurrent; i++)
		if (d->ids[i] && d->ids[i]->pooled && strcmp(d->ids[i]->name, name) == 0)
			return d->ids[i];
	return NULL;
}

int
demo_start(struct demo *d, const char *profile, const char *source, int64_t now_ms,
           const struct demo_identity **ret, struct ab_err *err)
{
	const char *src = source ? source : "";
	const struct users_profile *p = NULL;
	if (profile) {
		p = users_profile(d->db, profile);
		if (!p || !p->demo) {
			audit_log("demo.start", AUDIT_DENY, NULL, "demo", source,
			          detail("not a demo profile", NULL));
			auth_local_signin_count("demo", false);
			return ab_err_set(err, EINVAL, "'%.64s' is not a demo profile", profile);
		}
	} else if (!(p = default_profile(d))) {
		audit_log("demo.start", AUDIT_DENY, NULL, "demo", source,
		          detail("demo link disabled: no demo user in the config", NULL));
		auth_local_signin_count("demo", false);
		return ab_err_set(err, EINVAL, "the demo link is not enabled");
	}
	if (d->cfg.per_ip_max > 0 && recent_count(d, src, now_ms) >= d->cfg.per_ip_max) {
		audit_log("demo.start", AUDIT_DENY, NULL, "demo", source,
		          detail("too many demos started from this address", NULL));
		auth_local_signin_count("demo", false);
		return ab_err_set(err, EAGAIN, "too many demos from this address, try again later");
	}
	struct demo_identity *id = pool_take(d, p);
	bool warm = id != NULL;
	if (!id) {
		int slot = free_slot(d);
		/* the pool never keeps a visitor out: a pool desktop gives its slot up */
		while (slot < 0 && d->pool.evict && d->pool.evict(d->pool_data))
			slot = free_slot(d);
		if (slot < 0) {
			audit_log("demo.start", AUDIT_DENY, NULL, "demo", source,
			          detail("concurrent demo cap reached", NULL));
			auth_local_signin_count("demo", false);
			return ab_err_set(err, EUSERS,
			                  "all %d demo desktops are in use, try again later",
			                  d->cfg.max_concurrent);
		}
		id = new_identity(d, p, slot);
	}
	int64_t ttl = claim(d, id, src, now_ms);
	json_t *det = detail("demo started", id);
	json_object_set_new(det, "ttl_s", json_integer(ttl / 1000));
	json_object_set_new(det, "warm", json_boolean(warm));
	audit_log("demo.start", AUDIT_GRANT, id->name, "demo", source, det);
	auth_local_signin_count("demo", true);
	rearm(d);
	*ret = id;
	return 0;
}

static void
end_slot(struct demo *d, unsigned slot, enum demo_end_reason why)
{
	struct demo_identity copy = *d->ids[slot];
	free(d->ids[slot]);
	d->ids[slot] = NULL;
	d->n_ids--;
	audit_log("demo.end", AUDIT_INFO, copy.name, "demo", copy.source,
	          detail(demo_end_reason_name(why), &copy));
	if (d->expire)
		d->expire(&copy, why, d->data);
}

int
demo_end(struct demo *d, const char *name, enum demo_end_reason why)
{
	for (int i = 0; name && i < d->cfg.max_concurrent; i++) {
		if (d->ids[i] && strcmp(d->ids[i]->name, name) == 0) {
			end_slot(d, (unsigned)i, why);
			return 0;
		}
	}
	return -ENOENT;
}

int64_t
demo_tick(struct demo *d, int64_t now_ms)
{
	int64_t next = -1;
	for (int i = 0; i < d->cfg.max_concurrent; i++) {
		struct demo_identity *id = d->ids[i];
		if (!id || id->pooled)
			continue;
		if (now_ms >= id->expires_ms) {
			end_slot(d, (unsigned)i, DEMO_END_TTL);
			continue;
		}
		/* fire at most the latest due warning (a late tick does not replay old ones) */
		int64_t left = id->expires_ms - now_ms;
		int64_t w;
		bool due = false;
		while ((w = d->cfg.warn_before_ms[id->next_warning]) && left <= w) {
			id->next_warning++;
			due = true;
		}
		if (due) {
			json_t *det = detail("time running out", id);
			json_object_set_new(det, "left_s", json_integer((left + 999) / 1000));
			audit_log("demo.warn", AUDIT_INFO, id->name, "demo", id->source, det);
			if (d->warn)
				d->warn(id, left, d->data);
			/* the callback may have ended this demo */
			if (d->ids[i] != id)
				continue;
		}
		w = d->cfg.warn_before_ms[id->next_warning];
		int64_t at = w ? id->expires_ms - w : id->expires_ms;
		int64_t delay = AB_MAX(0, at - now_ms);
		if (next < 0 || delay < next)
			next = delay;
	}
	return next;
}

static int64_t
on_timer(struct ab_loop *loop, void *data)
{
	struct demo *d = data;
	d->in_timer = true;
	d->rearm_pending = false;
	int64_t next = demo_tick(d, ab_now_ms());
	d->in_timer = false;
	if (d->rearm_pending)
		next = 0; /* a callback started a demo: look again right away */
	if (next < 0) {
		d->timer = NULL;
		return AB_TIMER_STOP;
	}
	return next;
}

static void
rearm(struct demo *d)
{
	if (!d->loop)
		return;
	if (d->in_timer) {
		d->rearm_pending = true;
		return;
	}
	ab_loop_timer_cancel(d->loop, d->timer);
	d->timer = ab_loop_timer(d->loop, 0, on_timer, d);
}

void
demo_attach_loop(struct demo *d, struct ab_loop *loop)
{
	d->loop = loop;
	rearm(d);
}

const struct demo_identity *
demo_find(const struct demo *d, const char *name)
{
	for (int i = 0; name && i < d->cfg.max_concurrent; i++)
		if (d->ids[i] && strcmp(d->ids[i]->name, name) == 0)
			return d->ids[i];
	return NULL;
}

size_t
demo_count(const struct demo *d)
{
	return d->n_ids;
}

json_t *
demo_profiles_json(const struct users_db *db)
{
	json_t *a = json_array();
	for (size_t i = 0; i < users_profile_count(db); i++) {
		const struct users_profile *p = users_profile_at(db, i);
		if (p->demo)
			json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "name", p->name,
			                                   "title", p->title, "ttl_minutes",
			                                   (json_int_t)p->ttl_minutes));
	}
	return a;
}
