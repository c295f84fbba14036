/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * demo_pool: the warm pool of demo desktops (docs/auth.md "Warm demo pool").
 *
 * For each demo profile with a pool size > 0 the pool keeps that many demo
 * identities reserved (demo_reserve(): a new name and uid in a free slot of
 * the concurrent cap) with their desktops started, in the background, on the
 * broker's loop. A visitor's demo sign-in takes one (demo_start() through the
 * hooks): the desktop is already serving, the visitor's browser session is
 * created for its identity, and a new one is started in its place. A pool
 * desktop was never anyone's, so it is as fresh as a cold one: nothing of an
 * earlier visitor is ever in it (a used desktop ends with its demo and is
 * destroyed, never returned). When every slot is taken and a visitor has no
 * pool desktop of their profile, one pool desktop is evicted (demo_end
 * "evicted") so the visitor gets a slot: the pool never refuses anyone.
 *
 * Refill runs from a timer: at once after a take or an eviction, then every
 * second while a profile is short (a slot may free up), with a 5 s pause after
 * a pool desktop failed to start. Audited: "demo.pool" (reserve, ready,
 * failed), "demo.start" (warm: true), "demo.end" (evicted, failed).
 */
#ifndef BROKER_DEMO_POOL_H
#define BROKER_DEMO_POOL_H

#include <jansson.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "demo.h"
#include "desktop.h"
#include "users.h"

struct demo_pool;

/*
 * sizes: the config's pool sizes, {"<profile>": n, ...} (borrowed for the call, may be
 * NULL); `size_default` applies to every demo profile not named there. Unknown or non-demo
 * profile names and sizes outside 0..64 are errors naming auth.demo.pool.<name>.
 */
int demo_pool_sizes_check(const struct users_db *db, const json_t *sizes, struct ab_err *err);

/*
 * Starts filling at once (from the loop). `demo`, `db`, `desktops` and `loop` are borrowed
 * and must outlive it; it installs itself as the demo's pool hooks. *ret is NULL (and 0
 * returned) when every size is 0.
 */
int demo_pool_new(struct ab_loop *loop, struct demo *demo, const struct users_db *db,
                  struct desktop_manager *desktops, long long size_default, const json_t *sizes,
                  struct demo_pool **ret, struct ab_err *err);
/* Forgets the pool (its desktops stop with the desktop manager). Accepts NULL. */
void demo_pool_free(struct demo_pool *p);

/* {"<profile>": {"size": n, "ready": r, "starting": s}, ...} (new reference) */
json_t *demo_pool_json(const struct demo_pool *p);

#endif
