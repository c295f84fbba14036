/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo: profiles, cap, per-address rate limit, warnings at 10/5/1 min, TTL expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "audit.h"
#include "demo.h"
#include "users.h"

#include "sample_users.h"

struct log {
	char lines[64][96];
	int n;
	int expired;
};

static void
on_warn(const struct demo_identity *id, int64_t left_ms, void *data)
{
	struct log *l = data;
	if (l->n < 64)
		snprintf(l->lines[l->n++], sizeof(l->lines[0]), "warn %s %lld", id->name,
		         (long long)(left_ms / 60000));
}

static void
on_expire(const struct demo_identity *id, enum demo_end_reason why, void *data)
{
	struct log *l = data;
	l->expired++;
	if (l->n < 64)
		snprintf(l->lines[l->n++], sizeof(l->lines[0]), "end %s %s", id->name,
		         demo_end_reason_name(why));
}

static void
test_profiles_and_limits(void **state)
{
	struct demo_config cfg = demo_defaults;
	cfg.max_concurrent = 3;
	cfg.per_ip_max = 2;
	cfg.per_ip_window_ms = 1000;
	struct log l = {0};
	struct demo *d = demo_new(db, &cfg, on_warn, on_expire, &l);
	const struct demo_identity *id = NULL, *id2 = NULL;
	struct ab_err err = {0};

	/* only demo profiles may be picked */
	assert_int_equal(demo_start(d, "admin", "10.0.0.1", 0, &id, &err), -EINVAL);
	assert_int_equal(demo_start(d, "nope", "10.0.0.1", 0, &id, &err), -EINVAL);
	assert_null(id);

	assert_int_equal(demo_start(d, "demo-homelab", "10.0.0.1", 0, &id, &err), 0);
	assert_string_equal(id->profile->title, "Homelab");
	assert_int_equal(strncmp(id->name, "demo-", 5), 0);
	assert_true(users_name_valid(id->name));
	assert_int_equal(id->uid, 20000);
	assert_int_equal(id->expires_ms, 60 * 60000);
	/* no profile: the demo user's ("demo") */
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 0, &id2, &err), 0);
	assert_string_equal(id2->profile->name, "demo");
	assert_int_equal(id2->uid, 20001);
	assert_string_not_equal(id->name, id2->name);
	/* per-address rate limit: a third start from the same address */
	assert_int_equal(demo_start(d, "demo-media", "10.0.0.1", 10, &id, &err), -EAGAIN);
	/* another address is fine; then the cap is reached */
	assert_int_equal(demo_start(d, "demo-ai", "10.0.0.2", 10, &id, &err), 0);
	assert_string_equal(id->profile->title, "AI Operations");
	char name[USERS_NAME_MAX + 1];
	strcpy(name, id->name);
	assert_int_equal(demo_start(d, "demo-media", "10.0.0.3", 10, &id, &err), -EUSERS);
	assert_int_equal(demo_count(d), 3);
	/* ending one frees its slot (and its uid) */
	assert_int_equal(demo_end(d, name, DEMO_END_LOGOUT), 0);
	assert_int_equal(l.expired, 1);
	assert_null(demo_find(d, name));
	assert_int_equal(demo_end(d, name, DEMO_END_LOGOUT), -ENOENT);
	assert_int_equal(demo_start(d, "demo-media", "10.0.0.3", 10, &id, &err), 0);
	assert_int_equal(id->uid, 20002);
	/* the rate window passes */
	assert_int_equal(demo_end(d, id->name, DEMO_END_ADMIN), 0);
	assert_int_equal(demo_start(d, "demo-media", "10.0.0.1", 1001, &id, &err), 0);

	json_t *pj = demo_profiles_json(db);
	assert_int_equal(json_array_size(pj), 4);
	json_decref(pj);
	demo_free(d);
}

static void
count_change(void *data)
{
	(*(int *)data)++;
}

/* The per-address counter survives a restart (saved on each start, restored with ages). */
static void
test_recent_persistence(void **state)
{
	struct demo_config cfg = demo_defaults;
	cfg.per_ip_max = 2;
	cfg.per_ip_window_ms = 10000;
	struct demo *d = demo_new(db, &cfg, NULL, NULL, NULL);
	int changes = 0;
	demo_on_change(d, count_change, &changes);
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 0, &id, &err), 0);
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 4000, &id, &err), 0);
	assert_int_equal(demo_start(d, NULL, "10.0.0.2", 4000, &id, &err), 0);
	assert_int_equal(changes, 3);
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 5000, &id, &err), -EAGAIN);
	assert_int_equal(changes, 3); /* a refusal changes nothing */
	json_t *o = demo_recent_json(d, 5000);
	assert_int_equal(json_array_size(json_object_get(o, "recent")), 3);
	demo_free(d);

	/* a new process with another monotonic clock: 10.0.0.1 is still at its cap */
	d = demo_new(db, &cfg, NULL, NULL, NULL);
	assert_int_equal(demo_recent_restore(d, o, 100000), 3);
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 100000, &id, &err), -EAGAIN);
	assert_int_equal(demo_start(d, NULL, "10.0.0.2", 100000, &id, &err), 0);
	/* the first start's window ends 10 s after it (5 s before the save): one slot back */
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 105001, &id, &err), 0);
	assert_int_equal(demo_start(d, NULL, "10.0.0.1", 105001, &id, &err), -EAGAIN);
	json_decref(o);
	o = json_pack("{s:i}", "v", 2);
	assert_int_equal(demo_recent_restore(d, o, 0), -EINVAL);
	json_decref(o);
	demo_free(d);
}

static void
test_ttl_schedule(void **state)
{
	struct log l = {0};
	struct demo *d = demo_new(db, NULL, on_warn, on_expire, &l);
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	assert_int_equal(demo_start(d, "demo-developer", "10.0.0.1", 0, &id, &err), 0);
	char name[USERS_NAME_MAX + 1];
	strcpy(name, id->name);
	/* step the clock by what demo_tick asks for */
	int64_t now = 0, next;
	int steps = 0;
	while ((next = demo_tick(d, now)) >= 0 && steps++ < 100)
		now += next;
	assert_int_equal(l.n, 4);
	char want[4][96];
	snprintf(want[0], 96, "warn %s 10", name);
	snprintf(want[1], 96, "warn %s 5", name);
	snprintf(want[2], 96, "warn %s 1", name);
	snprintf(want[3], 96, "end %s ttl", name);
	for (int i = 0; i < 4; i++)
		assert_string_equal(l.lines[i], want[i]);
	assert_int_equal(now, 60 * 60000);
	assert_int_equal(demo_count(d), 0);

	/* a late tick fires only the latest warning, then the end */
	l.n = 0;
	assert_int_equal(demo_start(d, "demo-developer", "10.0.0.2", 0, &id, &err), 0);
	demo_tick(d, 59 * 60000 + 30000);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.lines[0], " 0")); /* 30 s left */
	demo_tick(d, 60 * 60000);
	assert_int_equal(l.n, 2);
	assert_non_null(strstr(l.lines[1], "ttl"));
	demo_free(d);
}

struct loop_ctx {
	struct log l;
	struct ab_loop *loop;
};

static void
on_expire_stop(const struct demo_identity *id, enum demo_end_reason why, void *data)
{
	struct loop_ctx *c = data;
	on_expire(id, why, &c->l);
}

static void
on_warn_loop(const struct demo_identity *id, int64_t left_ms, void *data)
{
	struct loop_ctx *c = data;
	on_warn(id, left_ms, &c->l);
}

static void
test_short_ttl_on_loop(void **state)
{
	struct loop_ctx c = {0};
	c.loop = ab_loop_poll_new();
	struct demo_config cfg = demo_defaults;
	cfg.ttl_ms = 150;
	cfg.warn_before_ms[0] = 100;
	cfg.warn_before_ms[1] = 50;
	cfg.warn_before_ms[2] = 0;
	struct demo *d = demo_new(db, &cfg, on_warn_loop, on_expire_stop, &c);
	demo_attach_loop(d, c.loop);
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	assert_int_equal(demo_start(d, "demo-homelab", "10.0.0.1", ab_now_ms(), &id, &err), 0);
	/* bounded wait for the expiry */
	int64_t deadline = ab_now_ms() + 10000;
	while (c.l.expired == 0 && ab_now_ms() < deadline)
		assert_int_equal(ab_loop_poll_once(c.loop, 50), 0);
	assert_int_equal(c.l.expired, 1);
	assert_int_equal(demo_count(d), 0);
	/* warnings (a slow machine may merge or skip them), then the end */
	assert_true(c.l.n >= 1);
	for (int i = 0; i < c.l.n - 1; i++)
		assert_int_equal(strncmp(c.l.lines[i], "warn ", 5), 0);
	assert_non_null(strstr(c.l.lines[c.l.n - 1], "ttl"));
	demo_free(d);
	ab_loop_poll_free(c.loop);
}

/* A stand-in for demo_pool.c: hands out its reserved names, evicts them on demand. */
struct fake_pool {
	struct demo *d;
	char names[4][USERS_NAME_MAX + 1];
	int n, takes, evictions;
};

static const char *
fake_take(void *data, const struct users_profile *p)
{
	struct fake_pool *f = data;
	for (int i = 0; i < f->n; i++) {
		const struct demo_identity *id = demo_find(f->d, f->names[i]);
		if (id && id->profile == p) {
			f->takes++;
			static char name[USERS_NAME_MAX + 1];
			strcpy(name, f->names[i]);
			memmove(f->names[i], f->names[i + 1],
			        (size_t)(f->n - i - 1) * sizeof(f->names[0]));
			f->n--;
			return name;
		}
	}
	return NULL;
}

static bool
fake_evict(void *data)
{
	struct fake_pool *f = data;
	if (!f->n)
		return false;
	f->evictions++;
	char name[USERS_NAME_MAX + 1];
	strcpy(name, f->names[--f->n]);
	assert_int_equal(demo_end(f->d, name, DEMO_END_EVICT), 0);
	return true;
}

/* Pooled identities: slots of the cap, no TTL, handed over warm; evicted for a visitor. */
static void
test_pool_hooks(void **state)
{
	struct demo_config cfg = demo_defaults;
	cfg.max_concurrent = 3;
	cfg.per_ip_max = 0;
	struct log l = {0};
	struct demo *d = demo_new(db, &cfg, on_warn, on_expire, &l);
	struct fake_pool f = {.d = d};
	static const struct demo_pool_hooks hooks = {.take = fake_take, .evict = fake_evict};
	demo_set_pool(d, &hooks, &f);
	const struct demo_identity *id = NULL;
	struct ab_err err = {0};
	const struct users_profile *homelab = users_profile(db, "demo-homelab");
	const struct users_profile *media = users_profile(db, "demo-media");
	assert_int_equal(demo_reserve(d, users_profile(db, "admin"), &id, &err), -EINVAL);
	assert_int_equal(demo_reserve(d, homelab, &id, &err), 0);
	assert_true(id->pooled);
	assert_int_equal(id->uid, 20000);
	strcpy(f.names[f.n++], id->name);
	assert_int_equal(demo_reserve(d, media, &id, &err), 0);
	strcpy(f.names[f.n++], id->name);
	char pooled_homelab[USERS_NAME_MAX + 1];
	strcpy(pooled_homelab, f.names[0]);
	/* pooled identities never expire, however late the clock */
	assert_int_equal(demo_tick(d, 1000LL * 86400000), -1);
	assert_int_equal(demo_count(d), 2);

	/* a homelab visitor gets the pooled identity, TTL from the click */
	assert_int_equal(demo_start(d, "demo-homelab", "10.0.0.1", 5000, &id, &err), 0);
	assert_string_equal(id->name, pooled_homelab);
	assert_false(id->pooled);
	assert_string_equal(id->source, "10.0.0.1");
	assert_int_equal(id->expires_ms, 5000 + 60 * 60000);
	assert_int_equal(f.takes, 1);
	/* a developer visitor: no pooled one, a free slot: cold, no eviction */
	assert_int_equal(demo_start(d, "demo-developer", "10.0.0.2", 5000, &id, &err), 0);
	assert_int_equal(f.evictions, 0);
	/* the cap is full (2 visitors + the media pool one): the pool gives its slot up */
	assert_int_equal(demo_start(d, "demo-ai", "10.0.0.3", 5000, &id, &err), 0);
	assert_int_equal(f.evictions, 1);
	assert_int_equal(id->uid, 20001); /* the evicted identity's slot */
	assert_non_null(strstr(l.lines[l.n - 1], " evicted"));
	/* nothing left to evict: refused */
	assert_int_equal(demo_start(d, "demo-media", "10.0.0.4", 5000, &id, &err), -EUSERS);
	assert_int_equal(demo_count(d), 3);
	/* no slot left for the pool either */
	assert_int_equal(demo_reserve(d, media, &id, &err), -EUSERS);
	demo_set_pool(d, NULL, NULL);
	demo_free(d);
}

AB_TEST_MAIN(sample_users_setup, sample_users_teardown, test_profiles_and_limits,
             test_recent_persistence, test_ttl_schedule, test_short_ttl_on_loop, test_pool_hooks);
