/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-broker: one process, one libwebsockets event loop.
 *
 * It serves the web pages and a websocket that it splices to the RFB socket
 * of the user's desktop (an argobox-session it starts on demand), and stops
 * every desktop when it is told to stop (SIGINT/SIGTERM).
 *
 * The broker is one folder per area, each a library that uses only the areas below it
 * (broker/CMakeLists.txt lists them bottom up; docs/architecture.md is the map):
 *   http/       server.c: lws context, routes, static files, the websocket endpoint and
 *               its authorize hook; loop_lws.c: common/ab_loop.h on the lws loop; httpc.c;
 *   desktops/   desktop.c: lifecycle, launchers, re-adoption, checked socket connects;
 *   files/      files.c: the files API over homes, files_upload.c (tus), files_usage.c;
 *               desktop_control.c: the session's control channel (hello, heartbeat);
 *   gateway/    proxy.c (websocket <-> rfb.sock), vncgw.c (native VNC), rfbflow.c (pacing);
 *   state/      deskstate_sync.c (desktop state <-> kv), kv*.c (the store);
 *   auditsvc/   the audit store, GET /api/admin/audit, alerts (fed by audit/ through a sink);
 *   auth/       authn.c (sign-in wired into the server), authz.c (the table), ...;
 *   isolation/  containers, network policy, seccomp notify;
 *   services/   registry.c (the "services" config), services.c (health, recovery, API);
 *   admin/      admin_socket.c (argoboxctl's peer), admin_api.c (the admin console's API),
 *               metrics.c (GET /metrics);
 *   broker_config.c here: the configuration table.
 * main() below opens them bottom up and closes them top down.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ab_config.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_paths.h"
#include "ab_util.h"
#include "audit.h"
#include "auditsvc.h"
#include "authn.h"
#include "broker_config.h"
#include "admin_api.h"
#include "admin_socket.h"
#include "users_admin.h"
#include "users_store.h"
#include "desktop.h"
#include "deskstate_sync.h"
#include "files.h"
#include "images.h"
#ifdef AB_HAVE_ISOLATION
#include "isolation.h"
#endif
#include "httpc.h"
#include "kv.h"
#include "metrics.h"
#include "thumbs.h"
#include "messages.h"
#include "share.h"
#include "proxy.h"
#include "server.h"
#include "services.h"
#include "users.h"
#include "vncgw.h"

static bool stop_requested;

/*
 * Reloading the services registry (SIGHUP, POST /api/admin/services/reload, argoboxctl
 * services reload): the config file is read again and its "services" validated as
 * --check-config does (against the file's users, profiles and netpol.services); the running
 * services take the new registry (services_reload) and every running desktop's network set
 * follows it (isolation_refresh_services). Nothing else in the file is applied.
 */
struct reload_ctx {
	const char *config_path; /* NULL: started without --config */
	struct services *services;
#ifdef AB_HAVE_ISOLATION
	struct isolation *iso;
#endif
};

static int
reload_services(void *data, const char *by, struct ab_err *err)
{
	struct reload_ctx *rc = data;
	if (!rc->config_path)
		return ab_err_set(err, EOPNOTSUPP,
		                  "the broker was started without --config: nothing to reload");
	if (!rc->services)
		return ab_err_set(err, EAGAIN, "the services are not running yet");
	struct broker_config cfg;
	ab_config_init(broker_config_fields, &cfg, &broker_config_defaults, sizeof(cfg));
	struct services_registry *reg = NULL;
	int r = ab_config_load_file(broker_config_fields, &cfg, rc->config_path, err);
	if (r >= 0)
		r = services_check_config(&cfg, err);
	if (r >= 0)
		r = services_registry_load(cfg.services, &reg, err);
	ab_config_free(broker_config_fields, &cfg);
	if (r < 0)
		return ab_err_wrap(err, "reloading '%s'", rc->config_path);
	if ((r = services_reload(rc->services, reg, by, err)) < 0)
		return r;
#ifdef AB_HAVE_ISOLATION
	isolation_set_services(rc->iso, services_registry(rc->services));
	r = isolation_refresh_services(rc->iso, err);
	if (r < 0)
		return ab_err_wrap(err, "updating the desktops' network rules");
	ab_info("services reload: the network rules of %d running desktop(s) changed", r);
#endif
	return 0;
}

static void
on_signal(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		struct reload_ctx *rc = data;
		if (si.ssi_signo == SIGHUP && !rc->services) {
			ab_warn("SIGHUP before the services run: nothing reloaded");
			continue;
		}
		if (si.ssi_signo == SIGHUP) {
			struct ab_err err = {0};
			ab_info("signal %u: reloading the services registry", si.ssi_signo);
			json_t *d = services_reload_request(rc->services, "SIGHUP", &err);
			if (!d)
				ab_error("services reload: %s", err.msg);
			json_decref(d);
			continue;
		}
		ab_info("signal %u: shutting down", si.ssi_signo);
		stop_requested = true;
	}
}

/*
 * broker_config_validate, the VNC gateway's settings, plus the container subtrees (runtime,
 * netpol) when built.
 */
static int
validate_config(void *cfg, struct ab_err *err)
{
	int r = broker_config_validate(cfg, err);
	if (r >= 0)
		r = vncgw_check_config(cfg, err);
	if (r >= 0)
		r = authn_check_config(cfg, err);
	if (r >= 0)
		r = files_check_config(((struct broker_config *)cfg)->files, err);
	if (r >= 0)
		r = messages_check_config(((struct broker_config *)cfg)->messages, err);
	if (r >= 0)
		r = share_check_config(((struct broker_config *)cfg)->share, err);
	if (r >= 0)
		r = services_check_config(cfg, err);
	if (r >= 0)
		r = auditsvc_check_config(cfg, err);
#ifdef AB_HAVE_ISOLATION
	if (r >= 0)
		r = isolation_check_config(cfg, err);
#endif
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: argobox-broker [--config FILE] [--web-root DIR] [--check-config]\n"
	           "                      [--print-default-config]\n");
}

#ifdef AB_HAVE_ISOLATION
static int
resolve_demo(const char *user, struct isolation_identity *ret, void *data)
{
	const struct demo_identity *id = authn_demo_find(data, user);
	if (!id)
		return -ENOENT;
	ret->role = USERS_ROLE_DEMO;
	ret->profile = id->profile;
	ret->uid = id->uid;
	ret->gid = id->gid;
	return 0;
}
#endif

/*
 * ARGOBOX_APPS of a user's session (desktop_params.apps; the window manager's
 * launcher is deny-by-default): admins and the loopback "local" user (no users
 * table) get every app, members and demo identities their profile's apps,
 * anyone else none.
 */
struct apps_ctx {
	const struct users_db *db; /* NULL: no users table; replaced by the admin console */
	struct authn *authn;       /* demo identities, or NULL */
};

static char *
apps_for(void *data, const char *user)
{
	const struct apps_ctx *c = data;
	const struct users_user *u = c->db ? users_find(c->db, user) : NULL;
	const struct users_profile *p = NULL;
	if (u && u->role == USERS_ROLE_ADMIN)
		return ab_xstrdup("*");
	if (u) {
		p = u->profile;
	} else if (!c->db && strcmp(user, "local") == 0) {
		return ab_xstrdup("*");
	} else if (c->authn) {
		const struct demo_identity *id = authn_demo_find(c->authn, user);
		p = id ? id->profile : NULL;
	}
	size_t len = 1;
	for (size_t i = 0; p && i < p->n_apps; i++)
		len += strlen(p->apps[i]) + 1;
	char *s = ab_xcalloc(len, 1);
	for (size_t i = 0; p && i < p->n_apps; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, p->apps[i]);
	}
	return s;
}

#ifdef AB_HAVE_ISOLATION
static const struct users_profile *profile_of(void *data, const char *user);

/* GET /api/image: the state of the caller's desktop image, for the boot screen (images.h). */
struct image_route {
	struct apps_ctx *apps;
	struct images *images;
};

static int
route_image(struct http_request *req, struct http_response *resp, void *data)
{
	const struct image_route *r = data;
	if (!req->user[0]) {
		http_response_error(resp, 401, "not signed in");
		return 0;
	}
	http_response_json(resp, 200, images_status(r->images, profile_of(r->apps, req->user)));
	return 0;
}

/* isolation's image hook: the profile's desktop image (images.c) */
static int
image_for(void *data, const char *user, const struct users_profile *prof, const char **ret_root,
          struct ab_err *err)
{
	return images_for(data, user, prof, ret_root, err);
}

/* the desktop manager's hold: a desktop whose image is being built waits for it (images.c) */
static int
image_hold(void *data, const char *user, desktop_hold_done_fn done, void *token)
{
	const struct image_route *r = data;
	return images_hold(r->images, user, profile_of(r->apps, user), done, token);
}

static void
image_hold_cancel(void *data, void *token)
{
	const struct image_route *r = data;
	images_hold_cancel(r->images, token);
}
#endif

/* Native VNC clients: registered admins and members (no users table: "local"). */
static bool
vnc_user_ok(void *data, const char *user)
{
	const struct apps_ctx *c = data;
	if (!c->db)
		return strcmp(user, "local") == 0;
	const struct users_user *u = users_find(c->db, user);
	return u && !u->disabled && (u->role == USERS_ROLE_ADMIN || u->role == USERS_ROLE_MEMBER);
}

/* A user's profile for the services' visibility: the users table's, or a demo identity's. */
static const struct users_profile *
profile_of(void *data, const char *user)
{
	const struct apps_ctx *c = data;
	const struct users_user *u = c->db ? users_find(c->db, user) : NULL;
	if (u)
		return u->profile;
	const struct demo_identity *id = c->authn ? authn_demo_find(c->authn, user) : NULL;
	return id ? id->profile : NULL;
}

/* The role of a desktop's owner, as the broker knows them; NULL when it does not (or they are
 * disabled). */
static const char *
role_of(const struct apps_ctx *c, const char *user)
{
	const struct users_user *u = c->db ? users_find(c->db, user) : NULL;
	if (u) /* a disabled user's desktop asks for nothing */
		return u->disabled ? NULL : users_role_name(u->role);
	if (!c->db && strcmp(user, "local") == 0)
		return users_role_name(USERS_ROLE_ADMIN); /* as authn treats the loopback user */
	if (c->authn && authn_demo_find(c->authn, user))
		return users_role_name(USERS_ROLE_DEMO);
	return NULL;
}

/*
 * Every control message of a ready desktop: the desktop state (deskstate_sync), and the
 * desktop's own requests to the broker (services_request; op "vnc_password" goes to the VNC
 * gateway), answered on the same channel for the desktop's owner.
 */
struct desktop_msg_ctx {
	struct deskstate_sync *dsync;
	struct desktop_manager *desktops;
	struct services *services; /* set once they exist */
	struct vncgw *vncgw;       /* likewise */
	struct apps_ctx *apps;
};

/*
 * The session's desktop command (the window manager) exited while the desktop runs: the
 * session restarts it (with backoff); audited as desktop.command, a failure when it was
 * killed by a signal or exited non-zero, with what the session says: status, signal,
 * restarting.
 */
static void
desktop_exit_audit(const char *user, json_t *msg)
{
	json_t *st = json_object_get(msg, "status");
	json_t *sig = json_object_get(msg, "signal");
	bool restarting = json_is_true(json_object_get(msg, "restarting"));
	bool bad = json_is_integer(sig) || (json_is_integer(st) && json_integer_value(st) != 0);
	json_t *f = json_pack("{sOsb}", "status", st ? st : json_null(), "restarting", restarting);
	if (json_is_integer(sig) && json_integer_value(sig) > 0 && json_integer_value(sig) < 65) {
		const char *name = sigabbrev_np((int)json_integer_value(sig));
		json_object_set_new(f, "signal", json_string(name ? name : "?"));
	}
	ab_warn("desktop '%s': its desktop command exited (%s)%s", user,
	        json_is_integer(sig) ? "killed by a signal" : "exited",
	        restarting ? "; the session restarts it" : "");
	audit_log("desktop.command", bad ? AUDIT_FAILURE : AUDIT_INFO, user, NULL, "session", f);
}

static void
desktop_message(void *data, const char *user, json_t *msg)
{
	struct desktop_msg_ctx *c = data;
	const char *type = ab_proto_type(msg);
	if (type && strcmp(type, "desktop_exit") == 0) {
		desktop_exit_audit(user, msg);
		return;
	}
	if (!type || strcmp(type, "services_request") != 0) {
		deskstate_sync_on_message(c->dsync, user, msg);
		return;
	}
	const char *op = json_string_value(json_object_get(msg, "op"));
	json_t *a = NULL;
	if (op && strcmp(op, "vnc_password") == 0 && c->vncgw)
		a = vncgw_desktop_request(c->vncgw, user, role_of(c->apps, user), msg);
	else if (c->services)
		a = services_desktop_request(c->services, user, role_of(c->apps, user), msg);
	if (!a)
		return;
	if (desktop_send(c->desktops, user, a) < 0)
		ab_warn("desktop '%s': cannot answer its services request", user);
}

/* The desktops gauge's profile label (GET /metrics). */
static const char *
profile_name_of(void *data, const char *user)
{
	const struct users_profile *p = profile_of(data, user);
	return p ? p->name : NULL;
}

/*
 * files: a user's home and the host ids that own what the files API creates there. Only
 * users of the table (or "local" without one) have a home on the host; demo identities keep
 * theirs inside the container. The ids are the container mapping's (the uid the desktop
 * sees as its user), also with the process launcher, so ownership checks mean the same.
 */
struct files_ctx {
	const struct broker_config *cfg;
	struct apps_ctx *apps;
};

static int
files_home_for(void *data, const char *user, struct files_home *ret)
{
	const struct files_ctx *c = data;
	const struct users_user *u = NULL;
	size_t index = 0, n = c->apps->db ? users_count(c->apps->db) : 0;
	for (index = 0; index < n; index++)
		if (strcmp(users_at(c->apps->db, index)->name, user) == 0) {
			u = users_at(c->apps->db, index);
			break;
		}
	if (!u && (c->apps->db || strcmp(user, "local") != 0))
		return -ENOENT;
	if (u && (u->role == USERS_ROLE_DEMO || (u->profile && !u->profile->persistent)))
		return -ENOENT; /* no home is mounted for them either (isolation.c) */
	/* isolation.c's mapping: slot `index` maps 65536 ids from runtime.host_id_base */
	json_t *base = json_object_get(c->cfg->runtime, "host_id_base");
	uint64_t host = (uint64_t)(base ? json_integer_value(base) : 100000) + index * 65536u;
	ret->uid = (uid_t)(host + (u ? u->uid : 1000));
	ret->gid = (gid_t)(host + (u ? u->gid : 1000));
	/* where isolation puts it (storage.home_base, else <data.dir>/home), with any launcher */
	if (c->cfg->storage_home_base[0])
		snprintf(ret->dir, sizeof(ret->dir), "%.3000s/%s", c->cfg->storage_home_base, user);
	else
		snprintf(ret->dir, sizeof(ret->dir), "%.3000s/home/%s", c->cfg->data_dir, user);
	snprintf(ret->profile, sizeof(ret->profile), "%s", u && u->profile ? u->profile->name : "");
	return 0;
}

/* An ended demo's stored state goes through the state area, whose copy the state API reads. */
static int
forget_state(void *data, const char *user, struct ab_err *err)
{
	return deskstate_sync_forget(data, user, err);
}

#ifdef AB_HAVE_ISOLATION
static int
home_ready(void *data, const char *user, struct ab_err *err)
{
	return files_home_ready(data, user, err);
}
#endif

/* The landing page's showcase desktop starts with a layout of demo apps (showcase.h). */
static int
seed_state(void *data, const char *user, json_t *state)
{
	int r = deskstate_sync_publish(data, user, state);
	json_decref(state);
	return r;
}

/*
 * The admin console changed the user table: every area that reads users takes the new one
 * (sign-in and sessions, the apps and VNC checks here, the containers' identities, who may
 * receive messages). The
 * services' and the audit alerts' admin lists keep the start's table until a restart.
 */
struct users_apply_ctx {
	struct apps_ctx *apps;
	struct authn *authn;
	struct messages *messages;
	struct services *services;
	struct auditsvc *auditsvc;
#ifdef AB_HAVE_ISOLATION
	struct isolation *iso;
#endif
};

static void
users_apply(void *data, const struct users_db *db)
{
	struct users_apply_ctx *c = data;
	c->apps->db = db;
	authn_set_users(c->authn, db);
	messages_set_users(c->messages, db);
	/* who gets service and audit alerts on their desktop: an admin removed or demoted must
	 * stop receiving them at once, a new one start */
	services_set_users(c->services, db);
	auditsvc_set_users(c->auditsvc, db);
#ifdef AB_HAVE_ISOLATION
	isolation_set_users(c->iso, db);
#endif
}

/* A user's home on the host, for the console's "delete with the home". */
static int
users_home(void *data, const char *user, char *buf, size_t len)
{
	struct files_home h;
	int r = files_home_for(data, user, &h);
	if (r < 0)
		return r;
	snprintf(buf, len, "%s", h.dir);
	return 0;
}

#define RUN_MARKER_FILE "broker.running"

/*
 * <data.dir>/broker.running says a broker runs on this data dir: written (atomically) at
 * start with its pid and start time, removed once it has stopped cleanly. Found at start,
 * the previous run ended without stopping (kill -9, a crash, the machine going down):
 * returns a new object for broker.start's detail — {"previous_run": "unclean",
 * "previous_pid", "previous_started"} — or {"previous_run": "clean"}; then writes this
 * run's marker. A marker that cannot be written (disk full) is a warning, not a refusal.
 */
static json_t *
run_marker_begin(const char *data_dir)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/%s", data_dir, RUN_MARKER_FILE);
	json_t *out = json_object();
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct ab_err err = {0};
	if (ab_read_file(path, 4096, &text, &len, &err) == 0) {
		_cleanup_(json_decrefp) json_t *prev = json_loadb(text, len, 0, NULL);
		json_object_set_new(out, "previous_run", json_string("unclean"));
		json_t *pid = json_object_get(prev, "pid");
		json_t *started = json_object_get(prev, "started");
		if (json_is_integer(pid))
			json_object_set(out, "previous_pid", pid);
		if (json_is_string(started))
			json_object_set(out, "previous_started", started);
		ab_warn("the previous broker on this data dir (pid %lld) did not stop cleanly: "
		        "recovering (desktops are re-adopted, unfinished uploads resume)",
		        json_is_integer(pid) ? (long long)json_integer_value(pid) : -1LL);
	} else {
		json_object_set_new(out, "previous_run", json_string("clean"));
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_(json_decrefp) json_t *me =
	    json_pack("{sIss}", "pid", (json_int_t)getpid(), "started", stamp);
	_cleanup_free_ char *mine = json_dumps(me, JSON_COMPACT | JSON_SORT_KEYS);
	struct ab_err werr = {0};
	if (!mine || ab_write_file_atomic(path, mine, strlen(mine), 0600, &werr) < 0)
		ab_warn("cannot record the running broker in '%s': %s (a crash of this run will "
		        "not be reported at the next start)",
		        path, werr.code ? werr.msg : "out of memory");
	return out;
}

/*
 * The clock watch: every second, the wall clock's distance from CLOCK_MONOTONIC. When it moves
 * by more than CLOCK_JUMP_MS (an admin's `date -s`, a first NTP sync, a resumed VM) the jump is
 * logged and audited ("clock.jump") and the share links are stored again with their expiry on
 * the new wall clock. Nothing else needs to hear of it: timers, sessions, lockouts and demo
 * lifetimes run on CLOCK_MONOTONIC (docs/faults.md, "The clock jumping").
 */
#define CLOCK_JUMP_MS 2000

struct clock_watch {
	int64_t offset_ms; /* wall - monotonic at the last look */
	struct share *share;
	struct ab_timer *timer;
};

static int64_t
clock_watch_tick(struct ab_loop *loop, void *data)
{
	struct clock_watch *cw = data;
	int64_t wall = ab_wall_ms(), offset = wall - ab_now_ms();
	int64_t delta = offset - cw->offset_ms;
	if (delta > CLOCK_JUMP_MS || delta < -CLOCK_JUMP_MS) {
		ab_warn("the wall clock jumped %s by %lld ms: timers, sessions and lockouts keep "
		        "their time; share links are stored with their expiry on the new clock",
		        delta > 0 ? "forward" : "back", (long long)(delta > 0 ? delta : -delta));
		audit_log("clock.jump", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sIsIsI}", "delta_ms", (json_int_t)delta, "wall_before_ms",
		                    (json_int_t)(wall - delta), "wall_ms", (json_int_t)wall));
		share_clock_jumped(cw->share);
	}
	cw->offset_ms = offset;
	return 1000;
}

/* The broker stopped cleanly: its marker goes. */
static void
run_marker_end(const char *data_dir)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/%s", data_dir, RUN_MARKER_FILE);
	if (unlink(path) < 0 && errno != ENOENT)
		ab_warn("cannot remove '%s': %m (the next start will report an unclean stop)",
		        path);
}

/* /healthz: the desktop state store; with Workers KV whether it answers and what waits */
static void
kv_health(json_t *out, void *data)
{
	struct kv_stats st;
	kv_get_stats(data, &st);
	json_t *o = json_pack("{ss}", "backend", kv_backend(data));
	if (strcmp(kv_backend(data), "cfkv") == 0) {
		json_object_set_new(o, "online", json_boolean(st.online));
		json_object_set_new(o, "queued", json_integer((json_int_t)st.queued));
	}
	json_object_set_new(out, "kv", o);
}

/* /healthz: how many desktops the broker holds */
static void
desktops_health(json_t *out, void *data)
{
	json_object_set_new(out, "desktops", json_integer((json_int_t)desktop_manager_count(data)));
}

int
main(int argc, char **argv)
{
	ab_log_init("broker");
	const char *web_root = NULL;
	struct reload_ctx reload = {0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--web-root") == 0 && i + 1 < argc) {
			web_root = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			reload.config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			reload.config_path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--check-config") != 0 &&
		           strcmp(argv[i], "--print-default-config") != 0 &&
		           strcmp(argv[i], "--print-config-reference") != 0 &&
		           strncmp(argv[i], "--config=", 9) != 0) {
			fprintf(stderr, "argobox-broker: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	struct broker_config cfg;
	ab_config_init(broker_config_fields, &cfg, &broker_config_defaults, sizeof(cfg));
	int exit_code = -1;
	ab_config_cli(broker_config_fields, &cfg, argc, argv, validate_config, &exit_code);
	if (exit_code >= 0) {
		ab_config_free(broker_config_fields, &cfg);
		return exit_code;
	}
	if (web_root)
		snprintf(cfg.web_root, sizeof(cfg.web_root), "%s", web_root);
	ab_log_set_format(ab_log_format_from_string(cfg.log_format));
	ab_log_set_level(ab_log_level_from_string(cfg.log_level));
	_cleanup_free_ char *exe_dir = broker_exe_dir();
	broker_config_resolve(&cfg, exe_dir);

	struct ab_err err = {0};
	if (audit_open(cfg.audit_path[0] ? cfg.audit_path : NULL, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	/*
	 * The data dir is traversable (0711), not listable: containers run in user
	 * namespaces whose root is an unprivileged host uid, and runc must reach their
	 * bundles and homes beneath it. What is private inside it (kv, sessions) is 0700/0600.
	 */
	struct stat dst;
	if (ab_mkdir_p(cfg.data_dir, 0711, &err) < 0 || stat(cfg.data_dir, &dst) < 0 ||
	    ((dst.st_mode & 0011) != 0011 &&
	     chmod(cfg.data_dir, (dst.st_mode & 07777) | 0011) < 0)) {
		ab_error("data.dir '%s': %s", cfg.data_dir, err.code ? err.msg : strerror(errno));
		return 1;
	}
	/* the user table as the admin console left it replaces the config's (docs/admin.md) */
	_cleanup_free_ char *users_path = ab_xasprintf("%s/%s", cfg.data_dir, USERS_STORE_FILE);
	json_t *stored_users = NULL;
	if (users_store_load(users_path, cfg.profiles, &stored_users, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	if (stored_users) {
		ab_info("user table: %s (changed in the admin console)", users_path);
		json_decref(cfg.users);
		cfg.users = stored_users;
	}
	if (ab_mkdir_p(cfg.session_runtime_base, 0700, &err) < 0) {
		ab_error("session.runtime_base: %s", err.msg);
		return 1;
	}

	/* Signals arrive through the loop; children get a clean mask back before exec. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP); /* reloads the services registry */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		ab_error("signalfd: %m");
		return 1;
	}

	struct server *srv = NULL;
	if (server_new(&cfg, &srv, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	struct ab_loop *loop = server_loop(srv);
	struct ab_watch *sigw = ab_loop_watch(loop, sfd, AB_LOOP_READ, on_signal, &reload);
	/* The audit store, API and alerts first, so every event after this reaches them. */
	struct auditsvc *auditsvc = NULL;
	if (auditsvc_new(&cfg, loop, srv, &auditsvc, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	/* The services registry before isolation: the network rules take service addresses from it.
	 */
	struct services_registry *svc_reg = NULL;
	if (services_registry_load(cfg.services, &svc_reg, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
#ifdef AB_HAVE_ISOLATION
	/* session.launcher: containers (OCI) or plain processes; see isolation.h. */
	struct isolation *iso = NULL;
	if (isolation_new(loop, &cfg, NULL, &iso, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	struct launcher *launcher = isolation_launcher(iso);
	isolation_set_services(iso, svc_reg);
	/* per-profile desktop images (docs/images.md): built on first use under the data dir */
	_cleanup_free_ char *images_dir = cfg.images_dir[0]
	                                      ? ab_xstrdup(cfg.images_dir)
	                                      : ab_xasprintf("%s/images", cfg.data_dir);
	_cleanup_free_ char *image_builder =
	    ab_xasprintf("%s/containers/rootfs/image-build", ab_share_dir());
	/* the programs whose libraries an image needs: the session, the desktop command, apps */
	_cleanup_free_ char *image_programs =
	    ab_xasprintf("%s:%s:%s/../apps/bin", cfg.session_binary,
	                 json_string_value(json_array_get(cfg.session_desktop_command, 0)),
	                 exe_dir ? exe_dir : "/nonexistent");
	struct images_config icfg = {
	    .enabled = cfg.images_enabled,
	    .dir = images_dir,
	    .builder = image_builder,
	    .programs = image_programs,
	    .fallback = cfg.images_fallback,
	};
	struct images *images = images_new(loop, &icfg);
	isolation_set_image_hook(iso, image_for, images);
	if (!cfg.images_enabled && isolation_is_oci(iso))
		ab_warn(
		    "desktop images are off: containers run on the HOST's /usr (set \"images\": "
		    "{\"enabled\": true}; docs/images.md)");
#else
	struct launcher *launcher =
	    launcher_process_new(loop, cfg.session_binary, cfg.session_stop_timeout_ms);
#endif
	struct kv *kv = NULL;
	struct deskstate_sync *dsync = NULL;
	if (kv_open(cfg.kv, loop, &kv, &err) < 0 ||
	    deskstate_sync_new(loop, kv, &dsync, &err) < 0) {
		ab_error("kv: %s", err.msg);
		return 1;
	}
	ab_info("desktop state store: %s", kv_backend(kv));
	struct apps_ctx apps = {0};
	struct users_db *users_initial = NULL; /* the start's table; the console's are its own */
	if (json_array_size(cfg.users) > 0 &&
	    users_load(cfg.users, cfg.profiles, &users_initial, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	apps.db = users_initial;
#ifdef AB_HAVE_ISOLATION
	struct image_route image_route = {.apps = &apps, .images = images};
#endif
	struct desktop_msg_ctx dmsg = {.dsync = dsync, .apps = &apps};
	struct desktop_params dp = {
	    .runtime_base = cfg.session_runtime_base,
	    .geometry = cfg.session_geometry,
	    .desktop_command = cfg.session_desktop_command,
	    .start_timeout_ms = cfg.session_start_timeout_ms,
	    .heartbeat_ms = cfg.control_heartbeat_ms,
	    .control_timeout_ms = cfg.control_timeout_ms,
	    .prepare = deskstate_sync_prepare,
	    .prepare_data = dsync,
	    .on_message = desktop_message,
	    .message_data = &dmsg,
	    .apps = apps_for,
	    .apps_data = &apps,
#ifdef AB_HAVE_ISOLATION
	    .runtime_tmpfs = isolation_is_oci(iso),
	    .hold = isolation_images_used(iso) && cfg.images_enabled ? image_hold : NULL,
	    .hold_cancel = image_hold_cancel,
	    .hold_data = &image_route,
#endif
	};
	struct desktop_manager *desktops = desktop_manager_new(loop, launcher, &dp);
	dmsg.desktops = desktops;
	deskstate_sync_set_desktops(dsync, desktops);
#ifdef AB_HAVE_ISOLATION
	/* Containers a previous broker left running become this broker's desktops first. */
	if (isolation_adopt(iso, desktops, &err) < 0) {
		ab_warn("%s", err.msg);
		ab_err_clear(&err);
	}
	for (int64_t end = ab_now_ms() + 10000; isolation_adopt_pending(iso) && ab_now_ms() < end;)
		server_service(srv, 50);
#endif
	/* Process sessions a previous broker left running (session.stop_on_shutdown false). */
	launcher_process_keep_running(launcher, !cfg.session_stop_on_shutdown);
	int adopted = desktop_manager_adopt_running(desktops);
	if (adopted > 0)
		ab_info("adopting %d running desktop(s)", adopted);
	struct admin_socket *ctl = NULL;
	if (admin_socket_open(loop, cfg.admin_socket, srv, desktops, &ctl, &err) < 0) {
		ab_warn("%s: argoboxctl will not work", err.msg);
		ab_err_clear(&err);
	}
	admin_socket_set_stop(ctl, deskstate_sync_end, dsync);
	admin_socket_set_audit(ctl, auditsvc);
	admin_socket_set_profiles(ctl, profile_name_of, &apps);
	proxy_serve(srv, loop, desktops, &cfg);
	server_add_health(srv, desktops_health, desktops);
	server_add_health(srv, kv_health, kv);
	struct authn *authn = NULL;
	if (authn_new(&cfg, srv, desktops, kv, &authn, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	apps.authn = authn;
	authn_set_state_forget(authn, forget_state, dsync);
	authn_set_showcase_seed(authn, seed_state, dsync);
#ifdef AB_HAVE_ISOLATION
	/* Demo identities live in authn: their containers get their demo profile. */
	isolation_set_resolver(iso, resolve_demo, authn);
#endif
	if (deskstate_sync_add_routes(dsync, srv) < 0)
		ab_warn("cannot add the desktop state routes");
#ifdef AB_HAVE_ISOLATION
	if (server_route_add(srv, "GET", "/api/image", route_image, &image_route) < 0)
		ab_warn("cannot add the image route");
#endif
	struct files_ctx fctx = {
	    .cfg = &cfg,
	    .apps = &apps,
	};
	_cleanup_free_ char *smbfs = exe_dir ? ab_xasprintf("%s/argobox-smbfs", exe_dir) : NULL;
	struct files_params fp = {
	    .config = cfg.files,
	    .data_dir = cfg.data_dir,
	    .home = files_home_for,
	    .home_data = &fctx,
	    .desktops = desktops,
	    .smbfs = smbfs && access(smbfs, X_OK) == 0 ? smbfs : NULL,
	    .audit_path = cfg.audit_path[0] ? cfg.audit_path : NULL,
	    .config_path = reload.config_path,
	};
	struct files *files = NULL;
	if (files_new(loop, &fp, &files, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	if (files_add_routes(files, srv) < 0)
		ab_warn("cannot add the files routes");
	struct messages *messages = NULL;
	struct messages_params msgp = {
	    .config = cfg.messages, .kv = kv, .desktops = desktops, .users = users_initial};
	if (messages_new(loop, &msgp, &messages, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	if (messages_add_routes(messages, srv) < 0)
		ab_warn("cannot add the messages routes");
	struct share *share = NULL;
	struct share_params shp = {.config = cfg.share, .kv = kv, .desktops = desktops, .srv = srv};
	if (share_new(loop, &shp, &share, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	if (share_add_routes(share, srv) < 0)
		ab_warn("cannot add the share routes");
	authn_set_share(authn, share);
#ifdef AB_HAVE_ISOLATION
	/* an SMB home is mounted (argobox-smbfs) before the container bind-mounts it */
	isolation_set_home_hook(iso, home_ready, files);
#endif
	/* services: health checks through one libcurl multi client on a thread of its own
	 * (name resolution, connects, TLS handshakes and bodies of many services cost this loop
	 * nothing but the hand-over and the callbacks: bench/services_bench.sh) */
	struct httpc *svc_http = httpc_new_threaded(loop, &err);
	if (!svc_http) {
		ab_error("services: %s", err.msg);
		return 1;
	}
	struct services *services = NULL;
	struct services_params sp = {
	    .desktops = desktops,
	    .kv = kv,
	    .users = users_initial,
	    .profile_of = profile_of,
	    .profile_data = &apps,
	};
	if (services_new(loop, svc_http, TAKE_PTR(svc_reg), &sp, &services, &err) < 0) {
		ab_error("services: %s", err.msg);
		return 1;
	}
	if (services_add_routes(services, srv) < 0)
		ab_warn("cannot add the services routes");
	dmsg.services = services;
	server_add_health(srv, services_health, services);
	admin_socket_set_services(ctl, services);
	reload.services = services;
#ifdef AB_HAVE_ISOLATION
	reload.iso = iso;
#endif
	services_set_reload(services, reload_services, &reload);
	auditsvc_attach(auditsvc, desktops, users_initial, kv);
	struct metrics_params mp = {
	    .desktops = desktops,
	    .services = services,
	    .auditsvc = auditsvc,
	    .kv = kv,
	    .profile_of = profile_name_of,
	    .profile_data = &apps,
	    .token_file = cfg.metrics_token_file,
	};
	struct metrics *metrics = NULL;
	struct thumbs *thumbs = NULL;
	if (metrics_new(srv, &mp, &metrics, &err) < 0 ||
	    thumbs_new(loop, srv, desktops, &thumbs, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	struct vncgw_params vp = {
	    .listen = cfg.vnc_listen,
	    .public_host = cfg.vnc_public_host,
	    .data_dir = cfg.data_dir,
	    .password_ttl_s = cfg.vnc_password_ttl_s,
	    .max_failures = (int)cfg.vnc_max_failures,
	    .lockout_s = cfg.vnc_lockout_s,
	    .max_pending = (int)cfg.vnc_max_pending,
	    .max_pending_per_source = (int)cfg.vnc_max_pending_per_source,
	    .handshake_timeout_ms = cfg.vnc_handshake_timeout_ms,
	    .buffer_bytes = (size_t)cfg.vnc_buffer_bytes,
	    .user_ok = vnc_user_ok,
	    .user_ok_data = &apps,
	};
	struct vncgw *vncgw = NULL;
	if (vncgw_new(loop, &vp, desktops, &vncgw, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	if (vncgw_add_routes(vncgw, srv) < 0)
		ab_warn("cannot add the VNC access password routes");
	dmsg.vncgw = vncgw;
	/* the admin console's backend (docs/admin.md) */
	struct admin_api_params ap = {
	    .desktops = desktops,
	    .stop = deskstate_sync_end,
	    .restart = deskstate_sync_restart,
	    .sync_data = dsync,
	    .profile_of = profile_of,
	    .profile_data = &apps,
	};
	struct admin_api *admin = NULL;
	if (admin_api_new(loop, &ap, &admin, &err) < 0) {
		ab_error("%s", err.msg);
		return 1;
	}
	admin_socket_set_admin_api(ctl, admin);
	if (admin_api_add_routes(admin, srv) < 0)
		ab_warn("cannot add the admin console routes");
	struct users_apply_ctx uctx = {
	    .apps = &apps,
	    .authn = authn,
	    .messages = messages,
	    .services = services,
	    .auditsvc = auditsvc,
#ifdef AB_HAVE_ISOLATION
	    .iso = iso,
#endif
	};
	struct files_ctx hctx = {.cfg = &cfg, .apps = &apps};
	struct users_admin_params up = {
	    .store_path = users_path,
	    .users = cfg.users,
	    .profiles = cfg.profiles,
	    .db = users_initial,
	    .apply = users_apply,
	    .apply_data = &uctx,
	    .home = users_home,
	    .home_data = &hctx,
	    .desktops = desktops,
	    .stop = deskstate_sync_end,
	    .stop_data = dsync,
	    .authn = authn,
	    .vncgw = vncgw,
#ifdef AB_HAVE_ISOLATION
	    .id_slots = isolation_is_oci(iso),
#endif
	};
	struct users_admin *uadmin = NULL;
	if (users_initial && users_admin_new(loop, &up, &uadmin, &err) == 0 &&
	    users_admin_add_routes(uadmin, srv) < 0)
		ab_warn("cannot add the user management routes");
	admin_socket_set_users(ctl, uadmin);

	const char *scheme = cfg.tls_cert[0] ? "https" : "http";
	bool v6 = strchr(cfg.listen_address, ':') != NULL;
	if (!authn)
		ab_warn(
		    "NO AUTHENTICATION (no users configured): serving loopback only (%s), every "
		    "visitor is user 'local' with the admin role",
		    cfg.listen_address);
	if (!cfg.web_root[0])
		ab_warn("web.root is not set: no pages are served (use --web-root DIR)");
	ab_info("session: %s, runtime %s", cfg.session_binary, cfg.session_runtime_base);
#ifdef AB_HAVE_ISOLATION
	ab_info("session launcher: %s", isolation_launcher_name(iso));
#endif
	ab_info("shared files: %s%s", ab_share_dir(), ab_installed() ? " (installed)" : "");
	ab_info("listening on %s://%s%s%s:%d/ (admin socket %s)", scheme, v6 ? "[" : "",
	        cfg.listen_address, v6 ? "]" : "", server_port(srv), cfg.admin_socket);
	json_t *start_detail = run_marker_begin(cfg.data_dir);
	json_object_set_new(start_detail, "address", json_string(cfg.listen_address));
	json_object_set_new(start_detail, "port", json_integer(server_port(srv)));
	audit_log("broker.start", AUDIT_INFO, NULL, NULL, NULL, start_detail);
	struct clock_watch cwatch = {.offset_ms = ab_wall_ms() - ab_now_ms(), .share = share};
	cwatch.timer = ab_loop_timer(loop, 1000, clock_watch_tick, &cwatch);

	while (!stop_requested)
		if (server_service(srv, 1000) < 0)
			break;

	/* Desktop states received so far become durable before the sessions go. */
	for (int64_t end = ab_now_ms() + 5000; !deskstate_sync_idle(dsync) && ab_now_ms() < end;)
		server_service(srv, 50);
	admin_socket_close(ctl); /* before users_admin_free: it borrows the users admin */
	dmsg.vncgw = NULL;       /* the desktops' last requests no longer reach it */
	vncgw_free(vncgw);
	authn_free(authn);
	apps.authn = NULL;
	ab_loop_unwatch(loop, sigw);
	ab_loop_timer_cancel(loop, cwatch.timer);
	desktop_manager_shutdown(desktops, cfg.session_stop_timeout_ms + 1000);
	auditsvc_detach(auditsvc); /* before the desktops, users and kv it borrows go */
#ifdef AB_HAVE_ISOLATION
	isolation_shutdown(iso); /* its watches and timer go before the loop does */
#endif
	server_close(srv);     /* websockets close while the desktops are there */
	metrics_free(metrics); /* its route is served no more */
	thumbs_free(thumbs);   /* no stream left; before the desktops go */
	admin_api_free(admin); /* its live streams closed with the server */
	desktop_manager_free(desktops);
#ifdef AB_HAVE_ISOLATION
	isolation_free(iso);
	images_free(images);
#else
	launcher->ops->free(launcher);
#endif
	files_free(files);
	deskstate_sync_free(dsync);
	services_free(services); /* after isolation_free: the registry is borrowed there */
	httpc_free(svc_http);
	messages_free(messages);
	share_free(share);
	users_admin_free(uadmin); /* after every area that borrowed its tables */
	users_free(users_initial);
	kv_close(kv);
	audit_log("broker.stop", AUDIT_INFO, NULL, NULL, NULL, NULL);
	run_marker_end(cfg.data_dir);
	auditsvc_free(auditsvc); /* flushes the store (bounded) */
	server_free(srv);        /* the loop goes last: everything above cancels its timers on it */
	audit_close();
	ab_config_free(broker_config_fields, &cfg);
	ab_info("stopped");
	return 0;
}
