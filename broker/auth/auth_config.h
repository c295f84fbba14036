/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auth_config: the "auth" section of the broker's configuration, validated
 * with the table-driven loader (ab_config.h) and turned into the configs of
 * auth_local, jwks and demo. The broker keeps "auth" (object), "users"
 * (array) and "profiles" (object) as AB_CFG_JSON subtrees and hands them to
 * auth_config_load() and users_load().
 *
 *   "auth": {
 *     "local":  {"enabled": true, "session_ttl_minutes": 720,
 *                "max_failures_user": 5, "max_failures_ip": 20,
 *                "failure_window_minutes": 15, "lockout_minutes": 15},
 *     "access": {"enabled": false, "team": "example", "aud": "<AUD tag>",
 *                "certs_url": "", "skew_s": 60, "fetch_timeout_ms": 5000,
 *                "min_refetch_s": 30},
 *     "demo":   {"enabled": true, "max_concurrent": 10, "per_ip_max": 3,
 *                "per_ip_window_minutes": 60, "ttl_minutes": 0, "uid_base": 20000,
 *                "pool_size": 0, "pool": {"demo-homelab": 2},   (pool: taken out by authn.c)
 *                "preview": {"enabled": true, "profile": "", "max_viewers": 500,
 *                            "per_ip_per_minute": 20, "grace_seconds": 30}}
 *   }
 */
#ifndef BROKER_AUTH_CONFIG_H
#define BROKER_AUTH_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "ab_config.h"
#include "auth_local.h"
#include "demo.h"
#include "jwks.h"

struct auth_config {
	bool local_enabled;
	long long local_session_ttl_minutes;
	long long local_max_failures_user;
	long long local_max_failures_ip;
	long long local_failure_window_minutes;
	long long local_lockout_minutes;
	bool access_enabled;
	char access_team[64];
	char access_aud[128];
	char access_certs_url[512]; /* "": https://<team>.cloudflareaccess.com/cdn-cgi/access/certs
	                             */
	long long access_skew_s;
	long long access_fetch_timeout_ms;
	long long access_min_refetch_s;
	long long access_refresh_s;
	bool demo_enabled;
	long long demo_max_concurrent;
	long long demo_per_ip_max;
	long long demo_per_ip_window_minutes;
	long long demo_ttl_minutes; /* 0: the profile's ttl_minutes */
	long long demo_uid_base;
	long long demo_pool_size; /* warm pool per demo profile (auth.demo.pool overrides) */
	bool preview_enabled;     /* the landing page's showcase (showcase.h) */
	char preview_profile[64];
	long long preview_max_viewers;
	long long preview_per_ip_per_minute;
	long long preview_grace_seconds;
	/* derived by auth_config_load() */
	char access_iss[160];
};

extern const struct ab_cfg_field auth_config_fields[];
extern const struct auth_config auth_config_defaults;

/*
 * Loads the "auth" object (NULL or {}: defaults) into *cfg, with cross-field
 * checks (Access needs team and aud). Errors name the path ("auth.access.aud: ...").
 */
int auth_config_load(json_t *auth, struct auth_config *cfg, struct ab_err *err);

/* The module configs derived from it. */
void auth_config_local(const struct auth_config *cfg, struct auth_local_config *ret);
void auth_config_jwks(const struct auth_config *cfg, struct jwks_config *ret);
void auth_config_demo(const struct auth_config *cfg, struct demo_config *ret);

#endif
