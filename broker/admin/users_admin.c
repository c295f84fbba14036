/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * users_admin: the admin console's user management (see users_admin.h). Start at
 * users_admin_do(): each action edits a copy of the table (edit_*), commit() validates,
 * stores and applies it, then the action's side effects run (sign-out, desktop stop, home).
 */
#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "authn.h"
#include "users_admin.h"
#include "users_store.h"
#include "vncgw.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 256
#define HOME_WAIT_MS 30000
#define HOME_POLL_MS 200
#define UID_FIRST    1000
#define UID_LAST     60000

struct retired {
	struct retired *next;
	struct users_db *db;
};

struct home_rm {
	struct home_rm *next;
	struct users_admin *ua;
	char user[USERS_NAME_MAX + 1];
	char path[4096];
	int64_t deadline_ms;
	struct ab_timer *timer;
};

struct users_admin {
	struct ab_loop *loop;
	struct users_admin_params p;
	json_t *users;             /* the table in use */
	const struct users_db *db; /* in use: p.db, or one of `mine` */
	struct retired *mine;      /* tables made here, freed at the end (areas borrow them) */
	struct home_rm *homes;
};

/* ---- the table ---- */

/* Index of `name` in `users` (deleted too when `deleted`), or -1. */
static ssize_t
find(json_t *users, const char *name, bool deleted)
{
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		const char *n = json_string_value(json_object_get(u, "name"));
		bool gone = json_is_true(json_object_get(u, "deleted"));
		if (n && strcmp(n, name) == 0 && (deleted || !gone))
			return (ssize_t)i;
	}
	return -1;
}

/* Validates `next` (stolen), stores it, and applies it. Nothing changes on failure. */
static int
commit(struct users_admin *ua, json_t *next, struct ab_err *err)
{
	struct users_db *db = NULL;
	int r = users_load(next, ua->p.profiles, &db, err);
	if (r < 0) {
		json_decref(next);
		return -EINVAL;
	}
	if ((r = users_store_save(ua->p.store_path, next, err)) < 0) {
		users_free(db);
		json_decref(next);
		ab_err_wrap(err, "storing the user table");
		return -EIO;
	}
	json_decref(ua->users);
	ua->users = next;
	struct retired *t = ab_xcalloc(1, sizeof(*t));
	t->db = db;
	t->next = ua->mine;
	ua->mine = t;
	ua->db = db;
	if (ua->p.apply)
		ua->p.apply(ua->p.apply_data, db);
	return 0;
}

static char *
hash_password(const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return NULL;
	_cleanup_free_ struct crypt_data *cd = ab_xcalloc(1, sizeof(*cd));
	const char *h = crypt_rn(pw, salt, cd, sizeof(*cd));
	char *out = h && h[0] != '*' ? ab_xstrdup(h) : NULL;
	explicit_bzero(cd, sizeof(*cd));
	return out;
}

static int
password_check(json_t *body, const char **ret, struct ab_err *err)
{
	const char *pw = json_string_value(json_object_get(body, "password"));
	if (!pw || strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX)
		return ab_err_set(err, EINVAL, "password: %d to %d characters", PASSWORD_MIN,
		                  PASSWORD_MAX);
	*ret = pw;
	return 0;
}

static int
role_check(const char *role, struct ab_err *err)
{
	if (!role || (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0))
		return ab_err_set(err, EINVAL, "role: \"admin\" or \"member\"");
	return 0;
}

/* A uid no entry (deleted ones included) has. */
static long long
free_uid(json_t *users)
{
	long long max = UID_FIRST - 1;
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		long long v = json_integer_value(json_object_get(u, "uid"));
		if (v > max)
			max = v;
	}
	return max + 1;
}

/*
 * Containers take host id slots by position: the table's users first, then the desktops of
 * identities outside it (demo links) in the slots right after (broker/isolation). A user
 * appended to the table takes the first of those: refused while any such desktop runs, so two
 * containers never share an id range. (A deleted user's place is reused without this.)
 */
static int
demo_slots_free(struct users_admin *ua, struct ab_err *err)
{
	_cleanup_(json_decrefp) json_t *all = desktop_manager_list(ua->p.desktops);
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		const char *user = json_string_value(json_object_get(d, "user"));
		if (user && !users_find(ua->db, user))
			return ab_err_set(
			    err, EBUSY,
			    "a desktop outside the user table is running ('%s'): a new user "
			    "takes the container slot after the table's, where such desktops "
			    "run; add the user when none runs",
			    user);
	}
	return 0;
}

static int
edit_add(struct users_admin *ua, json_t *next, json_t *body, struct ab_err *err)
{
	static const char *const keys[] = {"name", "email", "role", "profile", "password"};
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		bool known = false;
		for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
			known = known || strcmp(key, keys[k]) == 0;
		if (!known)
			return ab_err_set(err, EINVAL, "unknown field '%.64s'", key);
	}
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *email = json_string_value(json_object_get(body, "email"));
	const char *role = json_string_value(json_object_get(body, "role"));
	const char *profile = json_string_value(json_object_get(body, "profile"));
	const char *pw = NULL;
	int r;
	if (!name || !users_name_valid(name))
		return ab_err_set(err, EINVAL, "name: [a-z_][a-z0-9_-]*, at most %d",
		                  USERS_NAME_MAX);
	if (find(next, name, false) >= 0)
		return ab_err_set(err, EEXIST, "a user '%s' exists already", name);
	if ((r = role_check(role, err)) < 0 || (r = password_check(body, &pw, err)) < 0)
		return r;
	if (!profile || !json_object_get(ua->p.profiles, profile))
		return ab_err_set(err, EINVAL, "profile: no profile named '%.64s'",
		                  profile ? profile : "");
	_cleanup_free_ char *hash = hash_password(pw);
	if (!hash)
		return ab_err_set(err, EIO, "password: crypt(3) failed");
	ssize_t gone = find(next, name, true);
	if (gone < 0 && ua->p.id_slots && (r = demo_slots_free(ua, err)) < 0)
		return r;
	/* a deleted user's place (and ids) are taken again: their kept home comes back */
	long long uid = gone >= 0
	                    ? json_integer_value(json_object_get(json_array_get(next, gone), "uid"))
	                    : free_uid(next);
	if (uid > UID_LAST)
		return ab_err_set(err, ENOSPC, "no free uid left");
	json_t *u = json_pack("{s:s, s:s, s:s, s:I, s:s}", "name", name, "role", role, "profile",
	                      profile, "uid", (json_int_t)uid, "password_hash", hash);
	if (email)
		json_object_set_new(u, "email", json_string(email));
	if (gone >= 0)
		json_array_set_new(next, (size_t)gone, u);
	else
		json_array_append_new(next, u);
	return 0;
}

/* A deleted user: a place holder keeping the slot (users.h "deleted"). */
static json_t *
tombstone(json_t *u)
{
	return json_pack("{s:O, s:s, s:O, s:O, s:O, s:b, s:b}", "name", json_object_get(u, "name"),
	                 "role", "member", "profile", json_object_get(u, "profile"), "uid",
	                 json_object_get(u, "uid"), "gid",
	                 json_object_get(u, "gid") ?: json_object_get(u, "uid"), "disabled", true,
	                 "deleted", true);
}

/* The edit of one existing user's entry `u` (in `next`) for `action`. */
static int
edit_user(struct users_admin *ua, json_t *next, size_t idx, const char *action, json_t *body,
          const struct admin_who *who, struct ab_err *err)
{
	json_t *u = json_array_get(next, idx);
	const char *name = json_string_value(json_object_get(u, "name"));
	bool self = strcmp(name, who->user) == 0;
	int r;
	if (strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0) {
		if (self)
			return ab_err_set(err, EPERM, "you cannot disable your own account");
		if (strcmp(action, "enable") == 0)
			json_object_del(u, "disabled");
		else
			json_object_set_new(u, "disabled", json_true());
		return 0;
	}
	if (strcmp(action, "password") == 0) {
		const char *pw = NULL;
		if ((r = password_check(body, &pw, err)) < 0)
			return r;
		if (json_is_string(json_object_get(u, "role")) &&
		    strcmp(json_string_value(json_object_get(u, "role")), "demo") == 0)
			return ab_err_set(err, EINVAL, "demo identities have no password");
		_cleanup_free_ char *hash = hash_password(pw);
		if (!hash)
			return ab_err_set(err, EIO, "password: crypt(3) failed");
		json_object_set_new(u, "password_hash", json_string(hash));
		return 0;
	}
	if (strcmp(action, "role") == 0) {
		const char *role = json_string_value(json_object_get(body, "role"));
		if ((r = role_check(role, err)) < 0)
			return r;
		if (self && strcmp(role, "admin") != 0)
			return ab_err_set(err, EPERM,
			                  "you cannot take the admin role from yourself");
		json_object_set_new(u, "role", json_string(role));
		return 0;
	}
	if (strcmp(action, "profile") == 0) {
		const char *profile = json_string_value(json_object_get(body, "profile"));
		if (!profile || !json_object_get(ua->p.profiles, profile))
			return ab_err_set(err, EINVAL, "profile: no profile named '%.64s'",
			                  profile ? profile : "");
		json_object_set_new(u, "profile", json_string(profile));
		return 0;
	}
	if (strcmp(action, "delete") == 0) {
		const char *home = json_string_value(json_object_get(body, "home"));
		if (!home || (strcmp(home, "keep") != 0 && strcmp(home, "remove") != 0))
			return ab_err_set(
			    err, EINVAL,
			    "home: say what happens to the home, \"keep\" or \"remove\"");
		if (self)
			return ab_err_set(err, EPERM, "you cannot delete your own account");
		json_array_set_new(next, idx, tombstone(u));
		return 0;
	}
	return ab_err_set(err, ENOENT, "unknown action '%.32s'", action);
}

/* ---- the home of a deleted user ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		ab_warn("removing %s: %m", path);
	return 0;
}

static void
home_rm_free(struct home_rm *h)
{
	struct users_admin *ua = h->ua;
	for (struct home_rm **p = &ua->homes; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	free(h);
}

/*
 * Removes the home once the desktop is gone (its container holds it until then). FTW_PHYS:
 * links are removed, never followed; FTW_MOUNT: no other file system is entered.
 */
static int64_t
home_rm_tick(struct ab_loop *loop, void *data)
{
	struct home_rm *h = data;
	bool running = desktop_exists(h->ua->p.desktops, h->user);
	if (running && ab_now_ms() < h->deadline_ms)
		return HOME_POLL_MS;
	bool ok = !running && nftw(h->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0;
	audit_log("admin.user.home", ok ? AUDIT_INFO : AUDIT_FAILURE, h->user, NULL, NULL,
	          json_pack("{s:s, s:s}", "path", h->path, "reason",
	                    ok        ? "home removed"
	                    : running ? "the desktop did not stop in time"
	                              : "the home could not be removed"));
	home_rm_free(h);
	return AB_TIMER_STOP;
}

static const char *
home_remove(struct users_admin *ua, const char *user)
{
	char path[4096];
	if (!ua->p.home || ua->p.home(ua->p.home_data, user, path, sizeof(path)) < 0)
		return "no home on the host";
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return "no home on the host";
	struct home_rm *h = ab_xcalloc(1, sizeof(*h));
	h->ua = ua;
	snprintf(h->user, sizeof(h->user), "%s", user);
	snprintf(h->path, sizeof(h->path), "%s", path);
	h->deadline_ms = ab_now_ms() + HOME_WAIT_MS;
	h->next = ua->homes;
	ua->homes = h;
	h->timer = ab_loop_timer(ua->loop, 0, home_rm_tick, h);
	return "removing";
}

/* ---- actions ---- */

static void
audit_action(const char *action, const struct admin_who *who, const char *target, int r,
             const char *why, json_t *extra)
{
	_cleanup_free_ char *event = ab_xasprintf("admin.user.%s", action);
	json_t *d = json_pack("{s:s?, s:s?}", "target", target, "reason", why);
	if (extra)
		json_object_update(d, extra);
	audit_log(event, r < 0 ? AUDIT_DENY : AUDIT_GRANT, who->user, who->role, who->source, d);
}

static bool
table_action(const char *action)
{
	static const char *const edits[] = {"add",  "disable", "enable", "password",
	                                    "role", "profile", "delete", NULL};
	for (size_t i = 0; edits[i]; i++)
		if (strcmp(action, edits[i]) == 0)
			return true;
	return false;
}

/* What follows a stored change: sign-outs, desktops stopped, the home. */
static void
after_commit(struct users_admin *ua, const char *action, const char *name, json_t *body,
             json_t *out)
{
	bool ends = strcmp(action, "disable") == 0 || strcmp(action, "delete") == 0 ||
	            strcmp(action, "role") == 0;
	if (ends) {
		size_t n = authn_logout_user(ua->p.authn, name);
		json_object_set_new(out, "sessions_ended", json_integer((json_int_t)n));
	}
	if (strcmp(action, "disable") == 0 || strcmp(action, "delete") == 0) {
		int r = ua->p.stop ? ua->p.stop(ua->p.stop_data, name)
		                   : desktop_stop(ua->p.desktops, name);
		json_object_set_new(out, "desktop", json_string(r == 0 ? "stopping" : "none"));
		if (ua->p.vncgw)
			vncgw_revoke(ua->p.vncgw, name, &(struct ab_err){0});
	}
	if (strcmp(action, "delete") == 0) {
		const char *home = json_string_value(json_object_get(body, "home"));
		json_object_set_new(
		    out, "home",
		    json_string(strcmp(home, "remove") == 0 ? home_remove(ua, name) : "kept"));
	}
}

static int
side_action(struct users_admin *ua, const char *action, const char *name, json_t *out,
            struct ab_err *err)
{
	if (strcmp(action, "unlock") == 0) {
		json_object_set_new(out, "was_locked",
		                    json_boolean(authn_unlock_user(ua->p.authn, name)));
		return 0;
	}
	if (strcmp(action, "vnc-reset") == 0) {
		if (!ua->p.vncgw)
			return ab_err_set(err, ENOENT, "there is no VNC gateway");
		int r = vncgw_revoke(ua->p.vncgw, name, err);
		if (r < 0)
			return -EIO;
		json_object_set_new(out, "revoked", json_boolean(r > 0));
		return 0;
	}
	return ab_err_set(err, ENOENT, "unknown action '%.32s'", action);
}

int
users_admin_do(struct users_admin *ua, const char *action, const char *name, json_t *body,
               const struct admin_who *who, json_t **ret, struct ab_err *err)
{
	bool add = strcmp(action, "add") == 0;
	const char *target = add ? json_string_value(json_object_get(body, "name")) : name;
	int r = 0;
	json_t *out = json_pack("{s:s?, s:s}", "user", target, "action", action);
	ssize_t idx = add ? -1 : find(ua->users, name, false);
	if (!json_is_object(body)) {
		r = ab_err_set(err, EINVAL, "the body must be a JSON object");
	} else if (!add && idx < 0) {
		r = ab_err_set(err, ENOENT, "no user '%.32s'", name);
	} else if (table_action(action)) {
		json_t *next = json_deep_copy(ua->users);
		r = add ? edit_add(ua, next, body, err)
		        : edit_user(ua, next, (size_t)idx, action, body, who, err);
		if (r < 0)
			json_decref(next);
		else
			r = commit(ua, next, err);
		if (r == 0)
			after_commit(ua, action, target, body, out);
	} else {
		r = side_action(ua, action, name, out, err);
	}
	audit_action(action, who, target, r, r < 0 ? err->msg : NULL, r < 0 ? NULL : out);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	ab_info("user '%s': %s by '%s'", target, action, who->user);
	*ret = out;
	return 0;
}

json_t *
users_admin_list(struct users_admin *ua)
{
	json_t *users = json_array();
	for (size_t i = 0; ua->db && i < users_count(ua->db); i++) {
		const struct users_user *u = users_at(ua->db, i);
		if (u->deleted)
			continue;
		json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:b, s:b, s:b}", "name", u->name,
		                      "email", u->email, "role", users_role_name(u->role),
		                      "profile", u->profile->name, "disabled", u->disabled,
		                      "password", u->password_hash != NULL, "running",
		                      desktop_exists(ua->p.desktops, u->name));
		json_object_set_new(
		    o, "locked_s",
		    json_integer((json_int_t)authn_locked_for(ua->p.authn, u->name)));
		json_array_append_new(users, o);
	}
	json_t *profiles = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(ua->p.profiles, key, v)
	{
		if (!json_is_true(json_object_get(v, "demo")))
			json_array_append_new(profiles, json_string(key));
	}
	return json_pack("{s:o, s:o}", "users", users, "profiles", profiles);
}

/* ---- routes ---- */

static int
status_of(int r)
{
	switch (r) {
	case -EINVAL:
		return 400;
	case -EPERM:
		return 403;
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -EBUSY:
	case -ENOSPC:
		return 409;
	default:
		return 500;
	}
}

/*
 * routes:
 *   GET  /api/admin/users
 *   POST /api/admin/users
 *   POST /api/admin/users/{user}/disable
 *   POST /api/admin/users/{user}/enable
 *   POST /api/admin/users/{user}/password
 *   POST /api/admin/users/{user}/role
 *   POST /api/admin/users/{user}/profile
 *   POST /api/admin/users/{user}/unlock
 *   POST /api/admin/users/{user}/vnc-reset
 *   POST /api/admin/users/{user}/delete
 * end routes
 */
static int
route_users(struct http_request *req, struct http_response *resp, void *data)
{
	struct users_admin *ua = data;
	if (strcmp(req->role, "admin") != 0) {
		audit_log("admin.api", AUDIT_DENY, req->user[0] ? req->user : NULL,
		          req->role[0] ? req->role : NULL, req->peer,
		          json_pack("{s:s, s:s, s:s}", "path", req->path, "method", req->method,
		                    "reason", "not an admin"));
		http_response_error(resp, 403, "admins only");
		return 0;
	}
	if (strcmp(req->method, "GET") == 0) {
		http_response_json(resp, 200, users_admin_list(ua));
		http_response_add_header(resp, "Cache-Control", "no-store");
		return 0;
	}
	char name[USERS_NAME_MAX + 1] = "";
	const char *action = "add";
	const char *rest = req->path + strlen("/api/admin/users");
	if (rest[0] == '/') {
		const char *slash = strchr(rest + 1, '/');
		if (!slash || (size_t)(slash - rest - 1) > USERS_NAME_MAX ||
		    strchr(slash + 1, '/')) {
			http_response_error(resp, 404, "not found");
			return 0;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(slash - rest - 1), rest + 1);
		action = slash + 1;
	}
	json_error_t je;
	_cleanup_(json_decrefp) json_t *body =
	    req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
	                  : json_object();
	struct admin_who who = {.user = req->user, .role = req->role, .source = req->peer};
	struct ab_err err = {0};
	json_t *out = NULL;
	int r = users_admin_do(ua, action, name[0] ? name : NULL, body, &who, &out, &err);
	if (r < 0) {
		http_response_error(resp, status_of(r), err.msg);
		return 0;
	}
	http_response_json(resp, 200, out);
	return 0;
}

int
users_admin_add_routes(struct users_admin *ua, struct server *srv)
{
	static const struct server_route_def routes[] = {
	    {"GET", "/api/admin/users", route_users},
	    {"POST", "/api/admin/users", route_users},
	    {"POST", "/api/admin/users/", route_users},
	};
	return SERVER_ROUTES_ADD(srv, routes, ua);
}

int
users_admin_new(struct ab_loop *loop, const struct users_admin_params *p, struct users_admin **ret,
                struct ab_err *err)
{
	if (!p->users || !p->profiles || !p->db || !p->store_path)
		return ab_err_set(err, EINVAL, "user management needs a user table");
	struct users_admin *ua = ab_xcalloc(1, sizeof(*ua));
	ua->loop = loop;
	ua->p = *p;
	ua->users = json_deep_copy(p->users);
	ua->db = p->db;
	*ret = ua;
	return 0;
}

void
users_admin_free(struct users_admin *ua)
{
	if (!ua)
		return;
	while (ua->homes) {
		ab_loop_timer_cancel(ua->loop, ua->homes->timer);
		home_rm_free(ua->homes);
	}
	while (ua->mine) {
		struct retired *t = ua->mine;
		ua->mine = t->next;
		users_free(t->db);
		free(t);
	}
	json_decref(ua->users);
	free(ua);
}
