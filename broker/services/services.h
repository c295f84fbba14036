/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * services: the homelab services the broker knows about (docs/services.md).
 *
 * What this area owns:
 *   - the registry (registry.c): the config's "services" array, validated strictly (every
 *     error names its JSON path), immutable once loaded but replaced whole by a reload
 *     (services_reload); it is also where the desktops' network rules take a service's
 *     address from (services_net_spec), for exactly the services their user may see;
 *   - who may see a service (services_visible: admin all; others their own, their
 *     profile's, and those whose access lists name their role, profile or name);
 *   - health (services.c): every service checked concurrently on the broker's loop, HTTP(S)
 *     through the libcurl multi client (http/httpc.h), plain TCP through a non-blocking
 *     connect; up / degraded / down with hysteresis; the last results in memory;
 *   - recovery: a service that goes down is restarted (a command, or a container through a
 *     Docker-compatible Engine API on a unix socket) with exponential backoff and a limit,
 *     verified, and escalated when it does not come back; owners and admins are told on
 *     their running desktops (a `notify` on the control channel);
 *   - GET /api/services[/<name>], POST /api/services/<name>/restart,
 *     POST /api/admin/services/reload (services_reload: the registry changes in place).
 *
 * Start reading at services_registry_load() (registry.c), then services_new() and
 * check_start() (services.c). Every grant, denial and state change is audited.
 */
#ifndef BROKER_SERVICES_H
#define BROKER_SERVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "users.h"

struct broker_config;
struct desktop_manager;
struct httpc;
struct kv;
struct server;

enum services_scheme {
	SERVICES_HTTP,
	SERVICES_HTTPS,
	SERVICES_TCP,
	SERVICES_SCHEME_MAX,
};

enum services_state {
	SERVICES_UNKNOWN, /* not checked yet */
	SERVICES_UP,
	SERVICES_DEGRADED, /* answering, but slow, failing now and then, or flapping */
	SERVICES_DOWN,
	SERVICES_STATE_MAX,
};

enum services_restart_kind {
	SERVICES_RESTART_NONE,
	SERVICES_RESTART_COMMAND,   /* argv, run without a shell */
	SERVICES_RESTART_CONTAINER, /* POST /containers/<id>/restart on an Engine API socket */
	SERVICES_RESTART_KIND_MAX,
};

struct services_check {
	char *path;              /* HTTP: request path, "/" by default */
	long expect_status;      /* HTTP: 0 = any 2xx or 3xx */
	char *expect_body;       /* HTTP: substring the body must contain, or NULL */
	int64_t interval_ms;     /* between checks */
	int64_t timeout_ms;      /* one check, connect to last byte */
	int64_t slow_ms;         /* answers slower than this are "degraded" */
	unsigned failures;       /* consecutive failures before "down" */
	unsigned successes;      /* consecutive successes before "down" becomes "up" */
	char *ca_file;           /* HTTPS: PEM CA to verify the certificate with (NULL: system) */
	size_t max_body;         /* HTTP: bodies larger than this fail the check */
	unsigned cert_warn_days; /* HTTPS: a certificate expiring sooner is "degraded" (0: never) */
};

struct services_restart {
	enum services_restart_kind kind;
	char **argv;            /* command: NULL-terminated */
	char *socket;           /* container: Engine API unix socket */
	char *container;        /* container: name or id */
	int64_t timeout_ms;     /* the command (or API call) is killed after this */
	unsigned max_attempts;  /* then escalate */
	int64_t backoff_ms;     /* before the 2nd attempt; doubles each time */
	int64_t backoff_max_ms; /* cap */
	int64_t verify_ms;      /* the service must be up within this after a restart */
};

struct services_entry {
	char *name; /* [a-z_][a-z0-9_-]{0,31} */
	char *title;
	char *icon; /* may be NULL */
	char *url;  /* as configured */
	enum services_scheme scheme;
	char *host; /* without brackets */
	unsigned port;
	char *owner;     /* a user name, or NULL */
	unsigned roles;  /* access: bit (1 << users_role) */
	char **profiles; /* access: profile names */
	size_t n_profiles;
	char **users; /* access: user names */
	size_t n_users;
	char **tags;
	size_t n_tags;
	struct services_check check;
	struct services_restart restart;
};

struct services_registry {
	struct services_entry *entries;
	size_t n;
};

/*
 * Validates the config's "services" array and builds the registry. The reference is not
 * stolen. Returns 0 or -EINVAL with the JSON path of the first problem in err
 * ("services[2].url: ...", "services[0].check: unknown key 'intervall'").
 */
int services_registry_load(json_t *services, struct services_registry **ret, struct ab_err *err);
void services_registry_free(struct services_registry *reg);
const struct services_entry *services_registry_find(const struct services_registry *reg,
                                                    const char *name);

/*
 * --check-config: the registry, and the one-source-of-truth rule with netpol.services (a
 * name in both with a different address is an error naming both paths).
 */
int services_check_config(const struct broker_config *cfg, struct ab_err *err);

/*
 * The netpol spec of a service ("tcp:a.b.c.d:port") when its host is an IPv4 address:
 * 0, or -EADDRNOTAVAIL (a host name or IPv6: the network rules cannot name it).
 */
int services_net_spec(const struct services_entry *e, char *buf, size_t len);

/*
 * Whether `user` (with `role` and `profile`, which may be NULL) may see and reach `e`.
 * Not audited (the callers audit what they decide with it).
 */
bool services_visible(const struct services_entry *e, const char *user, enum users_role role,
                      const struct users_profile *profile);

const char *services_state_name(enum services_state s);

/* ------------------------------------------------------------------------------------- */

struct services;

/* Who a user is, for visibility: their profile (members, demo identities), or NULL. */
typedef const struct users_profile *(*services_profile_fn)(void *data, const char *user);

struct services_params {
	struct desktop_manager *desktops; /* notifications; may be NULL */
	struct kv *kv;                    /* the day's summary per service; may be NULL */
	const struct users_db *users;     /* admins to notify, roles; may be NULL */
	services_profile_fn profile_of;   /* may be NULL */
	void *profile_data;
	unsigned history; /* results kept per service (default 64) */
};

/*
 * The running side: takes the registry (owned from now on, also on failure), checks every
 * service on `loop` through `http`, both borrowed and outliving the services. Polling
 * starts at once.
 */
int services_new(struct ab_loop *loop, struct httpc *http, struct services_registry *reg,
                 const struct services_params *p, struct services **ret, struct ab_err *err);
/* Cancels checks and restarts (a running restart command is killed). Accepts NULL. */
void services_free(struct services *svc);
const struct services_registry *services_registry(const struct services *svc);

/* The routes: GET /api/services, GET /api/services/<name>, POST .../<name>/restart. */
int services_add_routes(struct services *svc, struct server *srv);
/* /healthz: {"services": {"up":n,"degraded":n,"down":n,"unknown":n,"last_cycle_ms":n}} */
void services_health(json_t *out, void *svc);

/* Starts one check of every service now (those not already in flight); a "cycle". */
void services_poll_all(struct services *svc);
/* true while checks of the current cycle are in flight. */
bool services_cycle_running(const struct services *svc);
/* Duration of the last complete cycle in microseconds, -1 before the first. */
int64_t services_last_cycle_us(const struct services *svc);

/*
 * A service as JSON (new reference): registry fields, state, latency, the last results
 * (`history` of them), restart status. `admin` adds the restart method's details.
 */
json_t *services_entry_json(struct services *svc, const char *name, bool admin);
/* Every service as a JSON array, for argoboxctl (admin view). */
json_t *services_list_json(struct services *svc);

/*
 * Starts a restart of `name` now (manual: resets the attempt counter). `by` names who
 * asked, for the audit log. 0, -ENOENT (no such service), -EOPNOTSUPP (no restart
 * method), -EBUSY (one is running).
 */
int services_restart_now(struct services *svc, const char *name, const char *by,
                         struct ab_err *err);

enum services_state services_state_of(struct services *svc, const char *name);

/*
 * A desktop's `services_request` (docs/control-channel.md: `id`, `op` "list" or "restart",
 * `name`), asked for `user` with `role` ("admin"/"member"/"demo", as the broker knows the
 * desktop's owner; NULL: unknown, refused) — never anything the message says about who asks.
 * Returns the `services_answer` to send back (new reference): `id`, `op`, `status` as the HTTP
 * API would answer (list: 200 with exactly GET /api/services's `services`, or 403; restart:
 * 202, 400, 403, 404 or 409 as POST /api/services/<name>/restart) and `error` unless 2xx.
 * Audited like the API (service.access endpoint "desktop", service.restart), peer "desktop".
 */
json_t *services_desktop_request(struct services *svc, const char *user, const char *role,
                                 json_t *msg);

/*
 * Diagnostics of `name`, on the loop (never blocking it): DNS resolution, TCP connect, TLS
 * handshake, HTTP status, each with its timing, the address and the step that failed; the
 * last 10 results are kept. 0 once started, -ENOENT, -EBUSY (one is running).
 */
int services_diag_start(struct services *svc, const char *name, struct ab_err *err);
/*
 * {"service","running","last_id","results":[{id,time_ms,ok,failed_step,address,error,
 * steps:{dns,tcp,tls,http}},...]} (new reference), NULL for an unknown name.
 */
json_t *services_diag_json(struct services *svc, const char *name);

/*
 * Reload (SIGHUP, POST /api/admin/services/reload, argoboxctl services reload): takes `reg`
 * (owned from now on, also on failure) in place of the running registry without stopping
 * anything else. A service whose check is the same (URL, path, expectations, CA) keeps its
 * state, history and recovery; a new or changed one starts over and is checked at once; a
 * removed one is cancelled (a running restart command is killed). Audited (service.reload:
 * added, removed, changed, kept, by). The previous registry is freed: whoever borrowed it
 * (isolation_set_services) must be handed services_registry() again at once.
 */
int services_reload(struct services *svc, struct services_registry *reg, const char *by,
                    struct ab_err *err);

/*
 * Who re-reads the registry from the configuration (main.c: the config file, validated as
 * --check-config does, then services_reload and the desktops' network sets): 0 or -errno.
 */
typedef int (*services_reload_fn)(void *data, const char *by, struct ab_err *err);
void services_set_reload(struct services *svc, services_reload_fn fn, void *data);
/* The users table changed (the admin console): notifications go to its admins from now on.
 * Borrowed, like services_params.users. */
void services_set_users(struct services *svc, const struct users_db *users);
/*
 * Runs the reload hook for `by`; on success a new reference to what changed (the
 * service.reload detail), else NULL with err set (audited as a service.reload failure).
 */
json_t *services_reload_request(struct services *svc, const char *by, struct ab_err *err);

#endif
