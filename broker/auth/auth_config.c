/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "auth_config.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>

const struct auth_config auth_config_defaults = {
    .local_enabled = true,
    .local_session_ttl_minutes = 720,
    .local_max_failures_user = 5,
    .local_max_failures_ip = 20,
    .local_failure_window_minutes = 15,
    .local_lockout_minutes = 15,
    .access_enabled = false,
    .access_skew_s = 60,
    .access_fetch_timeout_ms = 5000,
    .access_min_refetch_s = 30,
    .access_refresh_s = 300,
    .demo_enabled = true,
    .demo_max_concurrent = 10,
    .demo_per_ip_max = 3,
    .demo_per_ip_window_minutes = 60,
    .demo_ttl_minutes = 0,
    .demo_uid_base = 20000,
    .demo_pool_size = 0,
    .preview_enabled = true,
    /* one upstream connection serves every viewer (gateway/fanout.h): a bound on memory */
    .preview_max_viewers = 500,
    .preview_per_ip_per_minute = 20,
    .preview_grace_seconds = 30,
};

#define C struct auth_config
const struct ab_cfg_field auth_config_fields[] = {
    AB_CFG_BOOL("local.enabled", C, local_enabled, "username + password sign-in"),
    AB_CFG_INT("local.session_ttl_minutes", C, local_session_ttl_minutes, 1, 43200,
               "lifetime of a sign-in session"),
    AB_CFG_INT("local.max_failures_user", C, local_max_failures_user, 1, 1000,
               "failed sign-ins per user name before a lockout"),
    AB_CFG_INT("local.max_failures_ip", C, local_max_failures_ip, 1, 100000,
               "failed sign-ins per address before a lockout"),
    AB_CFG_INT("local.failure_window_minutes", C, local_failure_window_minutes, 1, 1440,
               "window in which failures are counted"),
    AB_CFG_INT("local.lockout_minutes", C, local_lockout_minutes, 1, 1440,
               "how long a lockout lasts"),
    AB_CFG_BOOL("access.enabled", C, access_enabled, "Cloudflare Access JWTs"),
    AB_CFG_STR("access.team", C, access_team, "team name: <team>.cloudflareaccess.com"),
    AB_CFG_STR("access.aud", C, access_aud, "the Access application's AUD tag"),
    AB_CFG_STR("access.certs_url", C, access_certs_url,
               "JWKS URL (\"\": https://<team>.cloudflareaccess.com/cdn-cgi/access/certs)"),
    AB_CFG_INT("access.skew_s", C, access_skew_s, 0, 60, "clock skew allowed for exp/nbf/iat"),
    AB_CFG_INT("access.fetch_timeout_ms", C, access_fetch_timeout_ms, 100, 60000,
               "JWKS fetch timeout"),
    AB_CFG_INT("access.min_refetch_s", C, access_min_refetch_s, 1, 86400,
               "at most one refetch per this many seconds for unknown kids"),
    AB_CFG_INT("access.refresh_s", C, access_refresh_s, 10, 86400,
               "refetch the keys at least this often (sooner if the certs endpoint's "
               "Cache-Control max-age says so)"),
    AB_CFG_BOOL("demo.enabled", C, demo_enabled, "the landing page's demo link"),
    AB_CFG_INT("demo.max_concurrent", C, demo_max_concurrent, 0, 4096,
               "demo desktops running at once"),
    AB_CFG_INT("demo.per_ip_max", C, demo_per_ip_max, 0, 10000,
               "demos one address may start per window (0: no limit)"),
    AB_CFG_INT("demo.per_ip_window_minutes", C, demo_per_ip_window_minutes, 1, 10080,
               "window of demo.per_ip_max"),
    AB_CFG_INT("demo.ttl_minutes", C, demo_ttl_minutes, 0, 1440,
               "demo lifetime (0: the profile's ttl_minutes)"),
    AB_CFG_INT("demo.uid_base", C, demo_uid_base, 1000, 4000000000LL,
               "uid/gid of demo slot i is uid_base + i"),
    AB_CFG_INT("demo.pool_size", C, demo_pool_size, 0, 64,
               "warm demo desktops kept ready per demo profile (0: none; "
               "auth.demo.pool {\"<profile>\": n} sets one profile's)"),
    AB_CFG_BOOL("demo.preview.enabled", C, preview_enabled,
                "the landing page's live preview (GET /ws/preview, view-only, anonymous)"),
    AB_CFG_STR("demo.preview.profile", C, preview_profile,
               "demo profile of the showcase desktop (\"\": the first demo profile)"),
    AB_CFG_INT("demo.preview.max_viewers", C, preview_max_viewers, 1, 100000,
               "preview viewers at once (one upstream connection serves them all: fan-out)"),
    AB_CFG_INT("demo.preview.per_ip_per_minute", C, preview_per_ip_per_minute, 1, 10000,
               "preview websockets one address may open per minute"),
    AB_CFG_INT("demo.preview.grace_seconds", C, preview_grace_seconds, 1, 3600,
               "the showcase desktop ends after this long without a viewer"),
    {0},
};
#undef C

static bool
team_valid(const char *t)
{
	if (!t[0])
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

int
auth_config_load(json_t *auth, struct auth_config *cfg, struct ab_err *err)
{
	ab_config_init(auth_config_fields, cfg, &auth_config_defaults, sizeof(*cfg));
	if (auth && !json_is_null(auth)) {
		if (!json_is_object(auth))
			return ab_err_set(err, EINVAL, "auth: must be an object");
		int r = ab_config_apply_json(auth_config_fields, cfg, auth, err);
		if (r < 0)
			return ab_err_wrap(err, "auth");
	}
	if (cfg->access_enabled) {
		if (!team_valid(cfg->access_team))
			return ab_err_set(err, EINVAL,
			                  "auth.access.team: '%s' is not a team name ([a-z0-9-]+)",
			                  cfg->access_team);
		if (!cfg->access_aud[0])
			return ab_err_set(err, EINVAL,
			                  "auth.access.aud: the application AUD tag is required");
		if (cfg->access_certs_url[0] &&
		    strncmp(cfg->access_certs_url, "https://", 8) != 0 &&
		    strncmp(cfg->access_certs_url, "http://127.", 11) != 0 &&
		    strncmp(cfg->access_certs_url, "http://localhost", 16) != 0)
			return ab_err_set(err, EINVAL,
			                  "auth.access.certs_url: must be https:// (or http:// on "
			                  "loopback for tests)");
	}
	snprintf(cfg->access_iss, sizeof(cfg->access_iss), "https://%s.cloudflareaccess.com",
	         cfg->access_team);
	if (!cfg->access_certs_url[0] && cfg->access_team[0])
		snprintf(cfg->access_certs_url, sizeof(cfg->access_certs_url),
		         "%s/cdn-cgi/access/certs", cfg->access_iss);
	return 0;
}

void
auth_config_local(const struct auth_config *cfg, struct auth_local_config *ret)
{
	*ret = auth_local_defaults;
	ret->session_ttl_ms = cfg->local_session_ttl_minutes * 60000;
	ret->user_max_failures = (int)cfg->local_max_failures_user;
	ret->ip_max_failures = (int)cfg->local_max_failures_ip;
	ret->failure_window_ms = cfg->local_failure_window_minutes * 60000;
	ret->lockout_ms = cfg->local_lockout_minutes * 60000;
}

void
auth_config_jwks(const struct auth_config *cfg, struct jwks_config *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->url = cfg->access_certs_url;
	ret->policy.aud = cfg->access_aud;
	ret->policy.iss = cfg->access_iss;
	ret->policy.skew_s = cfg->access_skew_s;
	ret->timeout_ms = (long)cfg->access_fetch_timeout_ms;
	ret->min_refetch_ms = cfg->access_min_refetch_s * 1000;
	ret->refresh_ms = cfg->access_refresh_s * 1000;
}

void
auth_config_demo(const struct auth_config *cfg, struct demo_config *ret)
{
	*ret = demo_defaults;
	ret->max_concurrent = cfg->demo_enabled ? (int)cfg->demo_max_concurrent : 0;
	ret->per_ip_max = (int)cfg->demo_per_ip_max;
	ret->per_ip_window_ms = cfg->demo_per_ip_window_minutes * 60000;
	ret->ttl_ms = cfg->demo_ttl_minutes * 60000;
	ret->uid_base = (unsigned)cfg->demo_uid_base;
}
