/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo_pool: the warm pool of demo desktops (see demo_pool.h, docs/auth.md). */
#include "demo_pool.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <string.h>

#define POOL_SIZE_MAX     64
#define POOL_PERIOD_MS    1000
#define POOL_FAIL_WAIT_MS 5000
/*
 * After a take, the replacement starts this much later: starting a session (fork, Xvfb, the
 * window manager's first screen) on the same cores as the visitor's first frame made that
 * frame wait (bench/README.md "Demo pool benchmark").
 */
#define POOL_REFILL_DELAY_MS 2000
/* A session that never says its shell is up (an older argobox-session) is warm after this. */
#define POOL_SHELL_WAIT_MS 15000

struct pool_entry {
	struct demo_pool *pool;
	char name[USERS_NAME_MAX + 1];
	const struct users_profile *profile;
	struct desktop_waiter *waiter; /* while starting */
	bool started;                  /* the session serves (desktop ready) */
	bool ready; /* and its shell is up ("wm_ready"): warm, handed over first */
	int64_t since_ms, started_ms;
	struct pool_entry *next;
};

struct demo_pool {
	struct ab_loop *loop;
	struct demo *demo;
	const struct users_db *db;
	struct desktop_manager *desktops;
	int *size; /* by users_profile_at() index */
	struct pool_entry *entries;
	struct ab_timer *timer;
	bool in_timer, kick_pending;
	int64_t pause_until_ms;
	int64_t
	    refill_after_ms; /* no new pool desktop before (POOL_REFILL_DELAY_MS after a take) */
	char taken[USERS_NAME_MAX + 1]; /* the name take() returned */
};

int
demo_pool_sizes_check(const struct users_db *db, const json_t *sizes, struct ab_err *err)
{
	if (sizes && !json_is_object(sizes))
		return ab_err_set(err, EINVAL, "auth.demo.pool: not an object");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)sizes, k, v)
	{
		const struct users_profile *p = users_profile(db, k);
		if (!p || !p->demo)
			return ab_err_set(err, EINVAL, "auth.demo.pool.%.64s: not a demo profile",
			                  k);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > POOL_SIZE_MAX)
			return ab_err_set(err, EINVAL,
			                  "auth.demo.pool.%.64s: not an integer in 0..%d", k,
			                  POOL_SIZE_MAX);
	}
	return 0;
}

static void
entry_unlink(struct pool_entry *e)
{
	struct pool_entry **pp = &e->pool->entries;
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	desktop_waiter_cancel(e->waiter);
	free(e);
}

static json_t *
entry_detail(const struct pool_entry *e, const char *reason)
{
	return json_pack("{ssss}", "reason", reason, "profile", e->profile->name);
}

static void
entry_ready(struct desktop *d, int status, void *data)
{
	struct pool_entry *e = data;
	struct demo_pool *p = e->pool;
	e->waiter = NULL; /* freed after this call */
	if (status < 0) {
		char name[sizeof(e->name)];
		snprintf(name, sizeof(name), "%s", e->name);
		json_t *det = entry_detail(e, "pool desktop did not start");
		json_object_set_new(det, "error", json_string(strerror(-status)));
		audit_log("demo.pool", AUDIT_INFO, name, "demo", NULL, det);
		ab_warn("warm pool: desktop '%s' did not start: %s", name, strerror(-status));
		entry_unlink(e);
		p->pause_until_ms = ab_now_ms() + POOL_FAIL_WAIT_MS;
		demo_end(p->demo, name, DEMO_END_FAILED);
		return;
	}
	e->started = true;
	e->started_ms = ab_now_ms();
}

/* The pool desktop's shell is up (or never said so): warm from now on. */
static void
entry_warm(struct pool_entry *e, const char *why)
{
	if (e->ready)
		return;
	e->ready = true;
	int64_t now = ab_now_ms();
	json_t *det = entry_detail(e, "pool desktop ready");
	json_object_set_new(det, "start_ms", json_integer(now - e->since_ms));
	json_object_set_new(det, "shell_ms", json_integer(now - e->started_ms));
	json_object_set_new(det, "shell", json_string(why));
	audit_log("demo.pool", AUDIT_INFO, e->name, "demo", NULL, det);
}

/* {"type":"wm_ready"} from a desktop (session/control.c): a pool desktop's shell is up. */
static void
pool_on_wm_ready(void *data, const char *user, json_t *msg)
{
	struct demo_pool *p = data;
	for (struct pool_entry *e = p->entries; e; e = e->next)
		if (e->started && strcmp(e->name, user) == 0)
			entry_warm(e, "wm_ready");
}

/* Reserves an identity of `prof` and starts its desktop. -EUSERS: no slot. */
static int
entry_start(struct demo_pool *p, const struct users_profile *prof)
{
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	int r = demo_reserve(p->demo, prof, &id, &err);
	if (r < 0)
		return r;
	struct pool_entry *e = ab_xcalloc(1, sizeof(*e));
	e->pool = p;
	e->profile = prof;
	e->since_ms = ab_now_ms();
	snprintf(e->name, sizeof(e->name), "%s", id->name);
	e->next = p->entries;
	p->entries = e;
	if (desktop_acquire(p->desktops, e->name, entry_ready, e, &e->waiter, &err) < 0) {
		ab_warn("warm pool: starting '%s': %s", e->name, err.msg);
		char name[sizeof(e->name)];
		snprintf(name, sizeof(name), "%s", e->name);
		entry_unlink(e);
		p->pause_until_ms = ab_now_ms() + POOL_FAIL_WAIT_MS;
		demo_end(p->demo, name, DEMO_END_FAILED);
		return -EIO;
	}
	return 0;
}

static unsigned
count_of(const struct demo_pool *p, const struct users_profile *prof, unsigned *ready)
{
	unsigned n = 0, r = 0;
	for (const struct pool_entry *e = p->entries; e; e = e->next)
		if (e->profile == prof) {
			n++;
			r += e->ready;
		}
	/* (started but not warm yet counts as starting) */
	if (ready)
		*ready = r;
	return n;
}

/* Starts what is missing, round robin over the profiles so a small cap is shared. */
static void
pool_fill(struct demo_pool *p)
{
	if (ab_now_ms() < p->pause_until_ms || ab_now_ms() < p->refill_after_ms)
		return;
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < users_profile_count(p->db); i++) {
			const struct users_profile *prof = users_profile_at(p->db, i);
			if (count_of(p, prof, NULL) >= (unsigned)p->size[i])
				continue;
			if (entry_start(p, prof) < 0)
				return; /* no slot, or a failure (paused) */
			more = true;
		}
	}
}

/* Pool desktops that died while waiting are ended (the next fill replaces them). */
static void
pool_reap_dead(struct demo_pool *p)
{
	for (struct pool_entry *e = p->entries, *next; e; e = next) {
		next = e->next;
		if (e->started && !e->ready && ab_now_ms() - e->started_ms >= POOL_SHELL_WAIT_MS)
			entry_warm(e, "no wm_ready: assumed");
		if (!e->started || desktop_exists(p->desktops, e->name))
			continue;
		char name[sizeof(e->name)];
		snprintf(name, sizeof(name), "%s", e->name);
		audit_log("demo.pool", AUDIT_INFO, name, "demo", NULL,
		          entry_detail(e, "pool desktop gone"));
		entry_unlink(e);
		demo_end(p->demo, name, DEMO_END_FAILED);
	}
}

static int64_t
pool_tick(struct ab_loop *loop, void *data)
{
	struct demo_pool *p = data;
	p->in_timer = true;
	p->kick_pending = false;
	pool_reap_dead(p);
	pool_fill(p);
	p->in_timer = false;
	int64_t wait = p->refill_after_ms - ab_now_ms();
	if (p->kick_pending)
		return wait > 0 ? wait : 0;
	return wait > 0 && wait < POOL_PERIOD_MS ? wait : POOL_PERIOD_MS;
}

static void
pool_kick(struct demo_pool *p)
{
	if (p->in_timer) {
		p->kick_pending = true;
		return;
	}
	ab_loop_timer_cancel(p->loop, p->timer);
	p->timer = ab_loop_timer(p->loop, 0, pool_tick, p);
}

/* demo_start's take hook: a ready desktop of `prof` first, else one still starting. */
static const char *
pool_take(void *data, const struct users_profile *prof)
{
	struct demo_pool *p = data;
	struct pool_entry *best = NULL;
	for (struct pool_entry *e = p->entries; e; e = e->next) {
		if (e->profile != prof)
			continue;
		if (e->started && !desktop_exists(p->desktops, e->name))
			continue; /* died: ended by the next fill's check */
		if (!best || e->ready > best->ready ||
		    (e->ready == best->ready && e->started && !best->started))
			best = e;
	}
	if (!best)
		return NULL;
	snprintf(p->taken, sizeof(p->taken), "%s", best->name);
	ab_info("warm pool: '%s' handed over (%s)", best->name,
	        best->ready     ? "ready"
	        : best->started ? "serving, its shell still starting"
	                        : "still starting");
	entry_unlink(best);
	p->refill_after_ms = ab_now_ms() + POOL_REFILL_DELAY_MS;
	pool_kick(p);
	return p->taken;
}

/* demo_start's evict hook: a desktop of the profile holding the most, starting ones first. */
static bool
pool_evict(void *data)
{
	struct demo_pool *p = data;
	struct pool_entry *victim = NULL;
	unsigned most = 0;
	for (struct pool_entry *e = p->entries; e; e = e->next) {
		unsigned n = count_of(p, e->profile, NULL);
		if (!victim || n > most || (n == most && victim->ready && !e->ready)) {
			victim = e;
			most = n;
		}
	}
	if (!victim)
		return false;
	char name[sizeof(victim->name)];
	snprintf(name, sizeof(name), "%s", victim->name);
	ab_info("warm pool: evicting '%s' to make room for a visitor", name);
	entry_unlink(victim);
	demo_end(p->demo, name, DEMO_END_EVICT);
	return true;
}

int
demo_pool_new(struct ab_loop *loop, struct demo *demo, const struct users_db *db,
              struct desktop_manager *desktops, long long size_default, const json_t *sizes,
              struct demo_pool **ret, struct ab_err *err)
{
	*ret = NULL;
	int r = demo_pool_sizes_check(db, sizes, err);
	if (r < 0)
		return r;
	size_t n = users_profile_count(db);
	int *size = ab_xcalloc(n + 1, sizeof(*size));
	long long total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct users_profile *prof = users_profile_at(db, i);
		json_t *v = json_object_get(sizes, prof->name);
		if (prof->demo)
			size[i] = (int)(v ? json_integer_value(v) : size_default);
		total += size[i];
	}
	if (total == 0) {
		free(size);
		return 0;
	}
	struct demo_pool *p = ab_xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->demo = demo;
	p->db = db;
	p->desktops = desktops;
	p->size = size;
	static const struct demo_pool_hooks hooks = {.take = pool_take, .evict = pool_evict};
	demo_set_pool(demo, &hooks, p);
	if (desktop_manager_on_message(desktops, "wm_ready", pool_on_wm_ready, p) < 0)
		ab_warn("warm pool: no hook for 'wm_ready' left: pool desktops are warm %d s after "
		        "they serve",
		        POOL_SHELL_WAIT_MS / 1000);
	if (total > demo_max_concurrent(demo))
		ab_warn("warm pool: %lld desktop(s) asked for, the demo cap is %d: the pool fills "
		        "what the cap leaves",
		        total, demo_max_concurrent(demo));
	p->timer = ab_loop_timer(loop, 0, pool_tick, p);
	ab_info("warm pool: %lld demo desktop(s) kept ready", total);
	*ret = p;
	return 0;
}

void
demo_pool_free(struct demo_pool *p)
{
	if (!p)
		return;
	demo_set_pool(p->demo, NULL, NULL);
	desktop_manager_on_message(p->desktops, "wm_ready", NULL, NULL);
	ab_loop_timer_cancel(p->loop, p->timer);
	while (p->entries)
		entry_unlink(p->entries);
	free(p->size);
	free(p);
}

json_t *
demo_pool_json(const struct demo_pool *p)
{
	json_t *o = json_object();
	for (size_t i = 0; p && i < users_profile_count(p->db); i++) {
		const struct users_profile *prof = users_profile_at(p->db, i);
		if (!p->size[i])
			continue;
		unsigned ready = 0, n = count_of(p, prof, &ready);
		json_object_set_new(o, prof->name,
		                    json_pack("{sisisi}", "size", p->size[i], "ready", (int)ready,
		                              "starting", (int)(n - ready)));
	}
	return o;
}
