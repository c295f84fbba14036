/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * demo: ephemeral identities for the landing page's demo link.
 *
 * A visitor picks a demo profile (Homelab, Developer, Media, AI Operations:
 * the profiles with "demo": true) and gets an identity "demo-<8 hex>" with its
 * own uid/gid from a reserved range. Limits: a cap on concurrent demos and a
 * per-address rate limit on starts. Each identity lives cfg.ttl_ms; the warn
 * callback runs at each entry of cfg.warn_before_ms (10, 5 and 1 minutes
 * before the end by default) and the expire callback when the TTL is over or
 * demo_end() is called; the caller then destroys the desktop and deletes its
 * data and sessions (auth_local_logout_user()).
 *
 * Time is driven by the caller: demo_tick(now) fires what is due and returns
 * the delay to the next event; demo_attach_loop() does that on an ab_loop
 * timer. Everything is audited ("demo.start", "demo.warn", "demo.end").
 */
#ifndef BROKER_DEMO_H
#define BROKER_DEMO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "users.h"

#define DEMO_MAX_WARNINGS 8

struct demo_config {
	int max_concurrent;       /* default 10 */
	int per_ip_max;           /* starts per address per window; default 3 */
	int64_t per_ip_window_ms; /* default 1 h */
	int64_t ttl_ms; /* default: the profile's ttl_minutes, else 60 min; > 0 overrides */
	/* ms before the end; 0-terminated, descending; default {600000, 300000, 60000} */
	int64_t warn_before_ms[DEMO_MAX_WARNINGS + 1];
	unsigned uid_base; /* uid/gid of slot i is uid_base + i; default 20000 */
};

extern const struct demo_config demo_defaults;

struct demo_identity {
	char name[USERS_NAME_MAX + 1];
	const struct users_profile *profile;
	uid_t uid;
	gid_t gid;
	char source[64];
	int64_t started_ms, expires_ms;
	unsigned next_warning; /* index into warn_before_ms */
	unsigned slot;
	bool pooled; /* reserved by the warm pool, no visitor yet: no TTL, no source */
};

enum demo_end_reason {
	DEMO_END_TTL,    /* "ttl" */
	DEMO_END_LOGOUT, /* "logout" */
	DEMO_END_ADMIN,  /* "admin" */
	DEMO_END_EVICT,  /* "evicted": a pool desktop gave its slot to a visitor */
	DEMO_END_FAILED, /* "failed": a pool desktop did not start or died */
	DEMO_END_IDLE,   /* "idle": the landing page's showcase desktop, nobody watching */
	DEMO_END_REASON_MAX,
};

/* Borrowed identity, valid during the call. `left_ms` is the time left. */
typedef void (*demo_warn_fn)(const struct demo_identity *id, int64_t left_ms, void *data);
/* The identity is already removed; destroy its desktop, data and sessions. */
typedef void (*demo_expire_fn)(const struct demo_identity *id, enum demo_end_reason why,
                               void *data);

struct demo;

/* `db` must outlive it; cfg may be NULL (defaults). Callbacks may be NULL. */
struct demo *demo_new(const struct users_db *db, const struct demo_config *cfg, demo_warn_fn warn,
                      demo_expire_fn expire, void *data);
/* Frees without calling callbacks (broker shutdown: demos are reaped on the next start). */
void demo_free(struct demo *d);

/*
 * POST /api/demo {"profile": "homelab"}: starts a demo identity (profile NULL:
 * the demo user's profile from the user table). Returns 0 and a borrowed
 * identity; -EINVAL for an unknown or non-demo profile (400); -EUSERS when
 * the concurrent cap is reached (503); -EAGAIN when the address started too
 * many demos recently (429). Audited "demo.start".
 */
int demo_start(struct demo *d, const char *profile, const char *source, int64_t now_ms,
               const struct demo_identity **ret, struct ab_err *err);

/* Ends a demo now (logout, admin). Calls the expire callback. Returns 0 or -ENOENT. */
int demo_end(struct demo *d, const char *name, enum demo_end_reason why);

/* Fires due warnings and expiries. Returns ms until the next event, -1 when none. */
int64_t demo_tick(struct demo *d, int64_t now_ms);

/* Runs demo_tick() from a timer on `loop` (using ab_now_ms()) until demo_free(). */
void demo_attach_loop(struct demo *d, struct ab_loop *loop);

/*
 * The per-address start counter (per_ip_max within per_ip_window_ms) across a broker
 * restart or crash: demo_recent_json() is a new object with every start still inside its
 * window (ages relative to `now_ms`, plus the wall-clock time); demo_recent_restore() adds
 * such an object's starts back, counting the time the broker was down, and returns how
 * many. `fn(data)` runs after every counted start (the broker saves right there); NULL
 * stops it.
 */
json_t *demo_recent_json(struct demo *d, int64_t now_ms);
int demo_recent_restore(struct demo *d, const json_t *o, int64_t now_ms);
typedef void (*demo_change_fn)(void *data);
void demo_on_change(struct demo *d, demo_change_fn fn, void *data);

/*
 * The warm pool (demo_pool.h) reserves identities ahead of visitors: demo_reserve() takes a
 * free slot for profile `p` and returns a pooled identity (new name and uid, no TTL, not
 * counted against any address), audited "demo.pool" reserve; -EUSERS when every slot is
 * taken. Such identities count against max_concurrent like any demo.
 *
 * With pool hooks set, demo_start() first asks take(data, profile) for a pooled identity of
 * that profile to hand over (its name, or NULL): the identity becomes the visitor's (source,
 * start, TTL and warnings from now; audited "demo.start" grant with "warm": true). Without
 * one and with every slot taken, it calls evict(data) (which ends one pooled identity with
 * demo_end(..., DEMO_END_EVICT) and returns true, or returns false when the pool holds
 * none) and retries, so a visitor is never refused because the pool holds slots.
 */
struct demo_pool_hooks {
	const char *(*take)(void *data, const struct users_profile *p);
	bool (*evict)(void *data);
};
int demo_reserve(struct demo *d, const struct users_profile *p, const struct demo_identity **ret,
                 struct ab_err *err);
void demo_set_pool(struct demo *d, const struct demo_pool_hooks *hooks, void *data);
/* The demo user's profile (the default of demo_start(profile NULL)) or NULL. */
const struct users_profile *demo_default_profile(const struct demo *d);
/* max_concurrent as configured (0 when demos are disabled). */
int demo_max_concurrent(const struct demo *d);

const struct demo_identity *demo_find(const struct demo *d, const char *name);
size_t demo_count(const struct demo *d);

/* [{"name":"homelab","title":"Homelab","ttl_minutes":60}, ...] for the landing page. */
json_t *demo_profiles_json(const struct users_db *db);

const char *demo_end_reason_name(enum demo_end_reason why);

#endif
