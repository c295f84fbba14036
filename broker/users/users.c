/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "users.h"
#include "ab_config.h"
#include "ab_json.h"
#include "ab_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct users_db {
	struct users_profile *profiles;
	size_t n_profiles;
	struct users_user *users;
	size_t n_users;
};

static const char *const role_names[USERS_ROLE_MAX] = {"admin", "member", "demo"};
static const char *const egress_names[USERS_EGRESS_MAX] = {"none", "services", "lan", "any"};

const char *
users_role_name(enum users_role role)
{
	return role < USERS_ROLE_MAX ? role_names[role] : "unknown";
}

int
users_role_from_string(const char *s)
{
	for (int i = 0; i < USERS_ROLE_MAX; i++)
		if (s && strcmp(s, role_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *
users_egress_name(enum users_egress e)
{
	return e < USERS_EGRESS_MAX ? egress_names[e] : "unknown";
}

bool
users_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > USERS_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* --- typed field access with JSON paths in errors ------------------------------------ */

static bool
item_name_valid(const char *s)
{
	/* app and service names: [A-Za-z0-9._-] */
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int
parse_cidr(const char *text, struct users_cidr *c)
{
	char buf[64];
	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	char *end;
	errno = 0;
	long prefix = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1)
		return -EINVAL;
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		if (prefix < 0 || prefix > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		if (prefix < 0 || prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	c->prefix = (unsigned)prefix;
	c->text = ab_xstrdup(text);
	return 0;
}

/* --- profiles ------------------------------------------------------------------------ */

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		free(v[i]);
	free(v);
}

static void
profile_clear(struct users_profile *p)
{
	free(p->name);
	free(p->title);
	free(p->image);
	strv_free(p->apps, p->n_apps);
	strv_free(p->net_services, p->n_net_services);
	strv_free(p->services, p->n_services);
	for (size_t i = 0; i < p->n_lan; i++)
		free(p->lan[i].text);
	free(p->lan);
}

static int
profile_parse(const char *name, json_t *o, struct users_profile *p, struct ab_err *err)
{
	static const char *const keys[] = {
	    "title",      "apps",        "limits", "network", "services", "read_only_root",
	    "persistent", "ttl_minutes", "demo",   "image",   NULL};
	static const char *const limit_keys[] = {"cpu_millis", "memory_mb", "pids", NULL};
	static const char *const net_keys[] = {"egress", "lan", "services", NULL};
	char path[80];
	snprintf(path, sizeof(path), "profiles.%s", name);
	int r;

	/* defaults: a small, locked-down desktop */
	p->name = ab_xstrdup(name);
	p->cpu_millis = 1000;
	p->memory_mb = 1024;
	p->pids = 512;
	p->egress = USERS_EGRESS_NONE;
	p->persistent = true;

	if (!users_name_valid(name))
		return ab_err_set(err, EINVAL,
		                  "profiles: '%s' is not a valid profile name ([a-z_][a-z0-9_-]*, "
		                  "at most 32)",
		                  name);
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
		                  ab_json_type(o));
	if ((r = ab_json_check_keys(o, path, keys, err)) < 0)
		return r;
	const char *title = name;
	if ((r = ab_json_get_str(o, path, "title", false, &title, err)) < 0)
		return r;
	p->title = ab_xstrdup(title);
	/* the desktop image (containers/rootfs/recipes/<image>.recipe), or "host" */
	const char *image = NULL;
	if ((r = ab_json_get_str(o, path, "image", false, &image, err)) < 0)
		return r;
	if (image && strcmp(image, "host") != 0 && !users_name_valid(image))
		return ab_err_set(err, EINVAL,
		                  "%s.image: '%s' is not a recipe name ([a-z_][a-z0-9_-]*) or "
		                  "\"host\"",
		                  path, image);
	p->image = image ? ab_xstrdup(image) : NULL;
	if ((r = ab_json_get_strv(o, path, "apps", item_name_valid, &p->apps, &p->n_apps, err)) < 0)
		return r;
	if ((r = ab_json_get_strv(o, path, "services", item_name_valid, &p->services,
	                          &p->n_services, err)) < 0)
		return r;
	json_t *lim = json_object_get(o, "limits");
	if (lim) {
		char lpath[96];
		snprintf(lpath, sizeof(lpath), "%s.limits", path);
		if (!json_is_object(lim))
			return ab_err_set(err, EINVAL, "%s: must be an object, not %s", lpath,
			                  ab_json_type(lim));
		if ((r = ab_json_check_keys(lim, lpath, limit_keys, err)) < 0 ||
		    (r = ab_json_get_int(lim, lpath, "cpu_millis", 10, 256000, false,
		                         &p->cpu_millis, err)) < 0 ||
		    (r = ab_json_get_int(lim, lpath, "memory_mb", 64, 1048576, false, &p->memory_mb,
		                         err)) < 0 ||
		    (r = ab_json_get_int(lim, lpath, "pids", 16, 1000000, false, &p->pids, err)) <
		        0)
			return r;
	}
	json_t *net = json_object_get(o, "network");
	if (net) {
		char npath[96];
		snprintf(npath, sizeof(npath), "%s.network", path);
		if (!json_is_object(net))
			return ab_err_set(err, EINVAL, "%s: must be an object, not %s", npath,
			                  ab_json_type(net));
		if ((r = ab_json_check_keys(net, npath, net_keys, err)) < 0)
			return r;
		const char *eg = NULL;
		if ((r = ab_json_get_str(net, npath, "egress", false, &eg, err)) < 0)
			return r;
		if (eg) {
			int e = -1;
			for (int i = 0; i < USERS_EGRESS_MAX; i++)
				if (strcmp(eg, egress_names[i]) == 0)
					e = i;
			if (e < 0)
				return ab_err_set(
				    err, EINVAL,
				    "%s.egress: '%s' is not one of none, services, lan, any", npath,
				    eg);
			p->egress = e;
		}
		if ((r = ab_json_get_strv(net, npath, "services", item_name_valid, &p->net_services,
		                          &p->n_net_services, err)) < 0)
			return r;
		json_t *lan = json_object_get(net, "lan");
		if (lan) {
			if (!json_is_array(lan))
				return ab_err_set(err, EINVAL, "%s.lan: must be an array, not %s",
				                  npath, ab_json_type(lan));
			p->lan = ab_xcalloc(json_array_size(lan) + 1, sizeof(*p->lan));
			for (size_t i = 0; i < json_array_size(lan); i++) {
				json_t *s = json_array_get(lan, i);
				if (!json_is_string(s) ||
				    parse_cidr(json_string_value(s), &p->lan[i]) < 0)
					return ab_err_set(err, EINVAL,
					                  "%s.lan[%zu]: must be a CIDR range such "
					                  "as '192.168.20.0/24'",
					                  npath, i);
				p->n_lan++;
			}
		}
	}
	if ((r = ab_json_get_bool(o, path, "read_only_root", &p->read_only_root, err)) < 0 ||
	    (r = ab_json_get_bool(o, path, "persistent", &p->persistent, err)) < 0 ||
	    (r = ab_json_get_bool(o, path, "demo", &p->demo, err)) < 0 ||
	    (r = ab_json_get_int(o, path, "ttl_minutes", 0, 10080, false, &p->ttl_minutes, err)) <
	        0)
		return r;
	if (p->demo && (p->persistent || p->ttl_minutes == 0))
		return ab_err_set(err, EINVAL,
		                  "%s: a demo profile must have \"persistent\": false and a "
		                  "\"ttl_minutes\" above 0",
		                  path);
	return 0;
}

/* --- users --------------------------------------------------------------------------- */

static bool
email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>')
			return false;
	return true;
}

static bool
hash_supported(const char *h)
{
	/* yescrypt, sha512-crypt; the rest of the string is checked by crypt(3) itself */
	return (strncmp(h, "$y$", 3) == 0 || strncmp(h, "$6$", 3) == 0) && strlen(h) < 512;
}

static void
user_clear(struct users_user *u)
{
	free(u->name);
	free(u->email);
	free(u->password_hash);
}

static int
user_parse(const struct users_db *db, size_t idx, json_t *o, struct users_user *u,
           struct ab_err *err)
{
	static const char *const keys[] = {"name", "email",         "role",     "profile", "uid",
	                                   "gid",  "password_hash", "disabled", "deleted", NULL};
	char path[32];
	snprintf(path, sizeof(path), "users[%zu]", idx);
	int r;
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
		                  ab_json_type(o));
	if ((r = ab_json_check_keys(o, path, keys, err)) < 0)
		return r;
	const char *name = NULL, *email = NULL, *role = NULL, *profile = NULL, *hash = NULL;
	if ((r = ab_json_get_str(o, path, "name", true, &name, err)) < 0 ||
	    (r = ab_json_get_str(o, path, "email", false, &email, err)) < 0 ||
	    (r = ab_json_get_str(o, path, "role", true, &role, err)) < 0 ||
	    (r = ab_json_get_str(o, path, "profile", true, &profile, err)) < 0 ||
	    (r = ab_json_get_str(o, path, "password_hash", false, &hash, err)) < 0)
		return r;
	if (!users_name_valid(name))
		return ab_err_set(err, EINVAL,
		                  "%s.name: '%s' is not a valid user name ([a-z_][a-z0-9_-]*, at "
		                  "most 32)",
		                  path, name);
	u->name = ab_xstrdup(name);
	if (email && !email_valid(email))
		return ab_err_set(err, EINVAL, "%s.email: '%s' is not an email address", path,
		                  email);
	if (email)
		u->email = ab_xstrdup(email);
	r = users_role_from_string(role);
	if (r < 0)
		return ab_err_set(err, EINVAL, "%s.role: '%s' is not one of admin, member, demo",
		                  path, role);
	u->role = r;
	u->profile = users_profile(db, profile);
	if (!u->profile)
		return ab_err_set(err, EINVAL, "%s.profile: no profile named '%s'", path, profile);
	if (u->role == USERS_ROLE_DEMO && !(u->profile->ttl_minutes > 0 && !u->profile->persistent))
		return ab_err_set(err, EINVAL,
		                  "%s.profile: the demo role needs a non-persistent profile with a "
		                  "TTL, '%s' is not",
		                  path, profile);
	long long uid = -1, gid = -1;
	if ((r = ab_json_get_int(o, path, "uid", 1000, 60000, true, &uid, err)) < 0 ||
	    (r = ab_json_get_int(o, path, "gid", 1000, 60000, false, &gid, err)) < 0)
		return r;
	u->uid = (uid_t)uid;
	u->gid = (gid_t)(gid < 0 ? uid : gid);
	if ((r = ab_json_get_bool(o, path, "disabled", &u->disabled, err)) < 0 ||
	    (r = ab_json_get_bool(o, path, "deleted", &u->deleted, err)) < 0)
		return r;
	if (hash) {
		if (u->role == USERS_ROLE_DEMO)
			return ab_err_set(err, EINVAL,
			                  "%s.password_hash: demo identities cannot sign in with a "
			                  "password",
			                  path);
		if (!hash_supported(hash))
			return ab_err_set(err, EINVAL,
			                  "%s.password_hash: only yescrypt ('$y$...') and "
			                  "sha512-crypt ('$6$...') hashes are accepted",
			                  path);
		u->password_hash = ab_xstrdup(hash);
	}
	return 0;
}

int
users_load(json_t *users, json_t *profiles, struct users_db **ret_db, struct ab_err *err)
{
	if (!json_is_object(profiles))
		return ab_err_set(err, EINVAL, "profiles: must be an object, not %s",
		                  profiles ? ab_json_type(profiles) : "missing");
	if (!json_is_array(users))
		return ab_err_set(err, EINVAL, "users: must be an array, not %s",
		                  users ? ab_json_type(users) : "missing");
	struct users_db *db = ab_xcalloc(1, sizeof(*db));
	db->profiles = ab_xcalloc(json_object_size(profiles) + 1, sizeof(*db->profiles));
	db->users = ab_xcalloc(json_array_size(users) + 1, sizeof(*db->users));
	int r = 0;
	const char *key;
	json_t *v;
	json_object_foreach(profiles, key, v)
	{
		r = profile_parse(key, v, &db->profiles[db->n_profiles], err);
		db->n_profiles++;
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < json_array_size(users); i++) {
		struct users_user *u = &db->users[db->n_users];
		r = user_parse(db, i, json_array_get(users, i), u, err);
		db->n_users++;
		if (r < 0)
			goto fail;
		for (size_t k = 0; k < i; k++) {
			const struct users_user *o = &db->users[k];
			if (strcmp(o->name, u->name) == 0) {
				r = ab_err_set(err, EINVAL,
				               "users[%zu].name: '%s' is also users[%zu]", i,
				               u->name, k);
				goto fail;
			}
			if (o->email && u->email && strcasecmp(o->email, u->email) == 0) {
				r = ab_err_set(err, EINVAL,
				               "users[%zu].email: '%s' is also used by users[%zu]",
				               i, u->email, k);
				goto fail;
			}
			if (o->uid == u->uid) {
				r = ab_err_set(err, EINVAL,
				               "users[%zu].uid: %u is also users[%zu]'s", i,
				               (unsigned)u->uid, k);
				goto fail;
			}
		}
	}
	*ret_db = db;
	return 0;
fail:
	users_free(db);
	return r;
}

int
users_load_file(const char *path, struct users_db **ret_db, struct ab_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ab_err_set(err, EINVAL, "'%s' line %d: %s", path, je.line, je.text);
	int r = users_load(json_object_get(root, "users"), json_object_get(root, "profiles"),
	                   ret_db, err);
	json_decref(root);
	if (r < 0)
		return ab_err_wrap(err, "'%s'", path);
	return 0;
}

void
users_free(struct users_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_users; i++)
		user_clear(&db->users[i]);
	for (size_t i = 0; i < db->n_profiles; i++)
		profile_clear(&db->profiles[i]);
	free(db->users);
	free(db->profiles);
	free(db);
}

const struct users_user *
users_find(const struct users_db *db, const char *name)
{
	for (size_t i = 0; name && i < db->n_users; i++)
		if (!db->users[i].deleted && strcmp(db->users[i].name, name) == 0)
			return &db->users[i];
	return NULL;
}

const struct users_user *
users_find_email(const struct users_db *db, const char *email)
{
	for (size_t i = 0; email && i < db->n_users; i++)
		if (!db->users[i].deleted && db->users[i].email &&
		    strcasecmp(db->users[i].email, email) == 0)
			return &db->users[i];
	return NULL;
}

const struct users_profile *
users_profile(const struct users_db *db, const char *name)
{
	for (size_t i = 0; name && i < db->n_profiles; i++)
		if (db->profiles[i].name && strcmp(db->profiles[i].name, name) == 0)
			return &db->profiles[i];
	return NULL;
}

size_t
users_count(const struct users_db *db)
{
	return db->n_users;
}

const struct users_user *
users_at(const struct users_db *db, size_t i)
{
	return i < db->n_users ? &db->users[i] : NULL;
}

size_t
users_profile_count(const struct users_db *db)
{
	return db->n_profiles;
}

const struct users_profile *
users_profile_at(const struct users_db *db, size_t i)
{
	return i < db->n_profiles ? &db->profiles[i] : NULL;
}

static json_t *
strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *
users_profile_to_json(const struct users_profile *p)
{
	json_t *lan = json_array();
	for (size_t i = 0; i < p->n_lan; i++)
		json_array_append_new(lan, json_string(p->lan[i].text));
	json_t *o = json_pack(
	    "{s:s, s:s, s:o, s:{s:I, s:I, s:I}, s:{s:s, s:o, s:o}, s:o, s:b, s:b, "
	    "s:I, s:b}",
	    "name", p->name, "title", p->title, "apps", strv_json(p->apps, p->n_apps), "limits",
	    "cpu_millis", (json_int_t)p->cpu_millis, "memory_mb", (json_int_t)p->memory_mb, "pids",
	    (json_int_t)p->pids, "network", "egress", users_egress_name(p->egress), "lan", lan,
	    "services", strv_json(p->net_services, p->n_net_services), "services",
	    strv_json(p->services, p->n_services), "read_only_root", p->read_only_root,
	    "persistent", p->persistent, "ttl_minutes", (json_int_t)p->ttl_minutes, "demo",
	    p->demo);
	if (p->image)
		json_object_set_new(o, "image", json_string(p->image));
	return o;
}
