/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics: GET /metrics, the broker's figures in the Prometheus text exposition format
 * (version 0.0.4; docs/metrics.md lists every family, docs/grafana-argobox.json draws them).
 *
 * Two kinds of figures: the counters and histograms the areas keep where their events happen
 * (common/ab_metrics.h: sign-ins, kv operations, audit events, VNC clients and bytes), and
 * the state read at each scrape from the areas' own tables (desktops by state and profile,
 * websocket clients and bytes, kv queue, audit store, services up/down).
 *
 * Who may scrape: a signed-in admin (session cookie or Cloudflare Access), a bearer token
 * equal to the one in the file named by `metrics.token_file` (Authorization: Bearer ...,
 * compared in constant time), or a peer on the loopback interface whose request carries no
 * forwarding header (Forwarded, X-Forwarded-For, X-Real-Ip, Cf-Connecting-Ip,
 * Cf-Access-Jwt-Assertion: a reverse proxy on the same host is not a local scraper). Anyone
 * else gets 403 and an "metrics.access" deny line in the audit log; grants are audited once
 * per client and hour (a scraper asks every few seconds).
 */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include <stddef.h>

#include "ab_err.h"

struct server;
struct desktop_manager;
struct services;
struct auditsvc;
struct kv;

/* A user's profile name for the desktops gauge (NULL: "none"). */
typedef const char *(*metrics_profile_fn)(void *data, const char *user);

struct metrics_params {
	struct desktop_manager *desktops; /* borrowed; each may be NULL */
	struct services *services;
	struct auditsvc *auditsvc;
	struct kv *kv;
	metrics_profile_fn profile_of;
	void *profile_data;
	const char *token_file; /* "" or NULL: no token */
};

struct metrics;

/* Adds GET /metrics to srv. The params' pointers are borrowed until metrics_free. */
int metrics_new(struct server *srv, const struct metrics_params *p, struct metrics **ret,
                struct ab_err *err);
/* The exposition text (owned by the caller, NUL-terminated; *len its length). */
char *metrics_render(struct metrics *m, size_t *len);
/* Accepts NULL. */
void metrics_free(struct metrics *m);

#endif
