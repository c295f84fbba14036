/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry: the config's "services" array -> an immutable registry (services.h). Strict:
 * unknown keys, wrong types, out-of-range numbers and malformed URLs are errors that name
 * the JSON path; nothing is guessed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ab_config.h"
#include "ab_util.h"
#include "ab_json.h"
#include "broker_config.h"
#include "services.h"

#define PATH_LEN 96

/* A string member, copied: NULL when absent (and not required); 1..max bytes, no controls. */
static int
get_str(json_t *obj, const char *path, const char *key, bool required, size_t max, char **ret,
        struct ab_err *err)
{
	const char *s = NULL;
	int r = ab_json_get_str(obj, path, key, required, &s, err);
	if (r < 0 || !s)
		return r;
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return ab_err_set(err, EINVAL, "%s.%s: must be 1..%zu characters without NUL", path,
		                  key, max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return ab_err_set(err, EINVAL, "%s.%s: contains a control character", path,
			                  key);
	*ret = ab_xstrdup(s);
	return 0;
}

static int
get_int(json_t *obj, const char *path, const char *key, long long lo, long long hi, long long *ret,
        struct ab_err *err)
{
	return ab_json_get_int(obj, path, key, lo, hi, false, ret, err);
}

/* An optional list of at most 256 strings (`names`: each a user-style name). */
static int
get_list(json_t *obj, const char *path, const char *key, bool names, char ***ret, size_t *ret_n,
         struct ab_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_array(v) && json_array_size(v) > 256)
		return ab_err_set(err, EINVAL, "%s.%s: more than 256 items", path, key);
	return ab_json_get_strv(obj, path, key, names ? users_name_valid : NULL, ret, ret_n, err);
}

static bool
host_name_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	return true;
}

static bool
is_ip(const char *h)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/*
 * Parses "http[s]://host[:port][/path]" or "tcp://host:port" (or "tcp:host:port"). Fills
 * scheme, host, port; *ret_path (owned) is the URL's path or NULL.
 */
static int
parse_url(const char *path, const char *url, struct services_entry *e, char **ret_path,
          struct ab_err *err)
{
	const char *rest;
	if (strncmp(url, "http://", 7) == 0) {
		e->scheme = SERVICES_HTTP;
		rest = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		e->scheme = SERVICES_HTTPS;
		rest = url + 8;
	} else if (strncmp(url, "tcp://", 6) == 0) {
		e->scheme = SERVICES_TCP;
		rest = url + 6;
	} else if (strncmp(url, "tcp:", 4) == 0) {
		e->scheme = SERVICES_TCP;
		rest = url + 4;
	} else {
		return ab_err_set(err, EINVAL,
		                  "%s.url: '%s' is not http://, https:// or tcp://HOST:PORT", path,
		                  url);
	}
	for (const char *p = url; *p; p++)
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
			return ab_err_set(err, EINVAL, "%s.url: '%s' contains white space", path,
			                  url);
	size_t auth_len = strcspn(rest, "/?#");
	if (memchr(rest, '@', auth_len))
		return ab_err_set(err, EINVAL, "%s.url: '%s': credentials in URLs are not allowed",
		                  path, url);
	char host[256];
	const char *port_s = NULL;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', auth_len);
		if (!close || (size_t)(close - rest - 1) >= sizeof(host))
			return ab_err_set(err, EINVAL, "%s.url: '%s': unterminated [IPv6] host",
			                  path, url);
		memcpy(host, rest + 1, (size_t)(close - rest - 1));
		host[close - rest - 1] = '\0';
		unsigned char b[16];
		if (inet_pton(AF_INET6, host, b) != 1)
			return ab_err_set(err, EINVAL, "%s.url: '%s' is not an IPv6 address", path,
			                  host);
		if (close + 1 < rest + auth_len) {
			if (close[1] != ':')
				return ab_err_set(err, EINVAL, "%s.url: '%s': junk after ']'", path,
				                  url);
			port_s = close + 2;
		}
	} else {
		const char *colon = memchr(rest, ':', auth_len);
		size_t hl = colon ? (size_t)(colon - rest) : auth_len;
		if (hl >= sizeof(host))
			return ab_err_set(err, EINVAL, "%s.url: host name too long", path);
		memcpy(host, rest, hl);
		host[hl] = '\0';
		if (!host_name_ok(host))
			return ab_err_set(err, EINVAL, "%s.url: '%s': '%s' is not a host name",
			                  path, url, host);
		if (colon)
			port_s = colon + 1;
	}
	long port = e->scheme == SERVICES_HTTP ? 80 : e->scheme == SERVICES_HTTPS ? 443 : -1;
	if (port_s) {
		char *end;
		errno = 0;
		port = strtol(port_s, &end, 10);
		if (end == port_s || errno || (end != rest + auth_len) || port < 1 || port > 65535)
			return ab_err_set(err, EINVAL, "%s.url: '%s': the port must be 1..65535",
			                  path, url);
	}
	if (port < 0)
		return ab_err_set(err, EINVAL, "%s.url: '%s': tcp needs a port (tcp://HOST:PORT)",
		                  path, url);
	const char *upath = rest + auth_len;
	if (e->scheme == SERVICES_TCP) {
		if (*upath)
			return ab_err_set(err, EINVAL, "%s.url: '%s': a tcp URL has no path", path,
			                  url);
		/* checked by a non-blocking connect: no name resolution on the loop */
		if (!is_ip(host) && strcmp(host, "localhost") != 0)
			return ab_err_set(err, EINVAL,
			                  "%s.url: '%s': a tcp service needs an IP address (or "
			                  "localhost), not a host name",
			                  path, url);
	} else if (*upath && *upath != '/') {
		return ab_err_set(err, EINVAL, "%s.url: '%s': the path must begin with '/'", path,
		                  url);
	}
	e->host = ab_xstrdup(host);
	e->port = (unsigned)port;
	*ret_path = *upath ? ab_xstrdup(upath) : NULL;
	return 0;
}

static const char *const entry_keys[] = {"name",  "title",  "icon", "url",     "check",
                                         "owner", "access", "tags", "restart", NULL};
static const char *const check_keys_[] = {
    "path",     "expect_status", "expect_body", "interval_ms", "timeout_ms",     "slow_ms",
    "failures", "successes",     "ca_file",     "max_body",    "cert_warn_days", NULL};
static const char *const access_keys[] = {"roles", "profiles", "users", NULL};
static const char *const restart_keys[] = {"command",        "container",    "socket",
                                           "timeout_ms",     "max_attempts", "backoff_ms",
                                           "backoff_max_ms", "verify_ms",    NULL};

static int
parse_check(const char *epath, json_t *o, struct services_entry *e, char *url_path,
            struct ab_err *err)
{
	struct services_check *c = &e->check;
	c->interval_ms = 30000;
	c->timeout_ms = 5000;
	c->slow_ms = 2000;
	c->failures = 3;
	c->successes = 2;
	c->max_body = 64 << 10;
	c->cert_warn_days = 14;
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "%.80s.check", epath);
	int r;
	if (o) {
		if (!json_is_object(o))
			return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
			                  ab_json_type(o));
		if ((r = ab_json_check_keys(o, path, check_keys_, err)) < 0)
			return r;
		if (e->scheme == SERVICES_TCP) {
			static const char *const http_only[] = {"path",        "expect_status",
			                                        "expect_body", "ca_file",
			                                        "max_body",    "cert_warn_days"};
			for (size_t i = 0; i < AB_ARRAY_SIZE(http_only); i++)
				if (json_object_get(o, http_only[i]))
					return ab_err_set(err, EINVAL,
					                  "%s.%s: only for http(s) services (%s is "
					                  "tcp)",
					                  path, http_only[i], e->url);
		}
		long long st = 0, iv = c->interval_ms, to = c->timeout_ms, sl = c->slow_ms,
		          fa = c->failures, su = c->successes, mb = (long long)c->max_body,
		          cw = c->cert_warn_days;
		if ((r = get_str(o, path, "path", false, 1024, &c->path, err)) < 0 ||
		    (r = get_str(o, path, "expect_body", false, 1024, &c->expect_body, err)) < 0 ||
		    (r = get_str(o, path, "ca_file", false, 4096, &c->ca_file, err)) < 0 ||
		    (r = get_int(o, path, "expect_status", 100, 599, &st, err)) < 0 ||
		    (r = get_int(o, path, "interval_ms", 100, 86400000, &iv, err)) < 0 ||
		    (r = get_int(o, path, "timeout_ms", 10, 120000, &to, err)) < 0 ||
		    (r = get_int(o, path, "slow_ms", 1, 120000, &sl, err)) < 0 ||
		    (r = get_int(o, path, "failures", 1, 100, &fa, err)) < 0 ||
		    (r = get_int(o, path, "successes", 1, 100, &su, err)) < 0 ||
		    (r = get_int(o, path, "max_body", 256, 1 << 20, &mb, err)) < 0 ||
		    (r = get_int(o, path, "cert_warn_days", 0, 3650, &cw, err)) < 0)
			return r;
		if (json_object_get(o, "cert_warn_days") && e->scheme != SERVICES_HTTPS)
			return ab_err_set(err, EINVAL, "%s.cert_warn_days: only for https services",
			                  path);
		if (c->path && c->path[0] != '/')
			return ab_err_set(err, EINVAL, "%s.path: '%s' must begin with '/'", path,
			                  c->path);
		if (c->ca_file && c->ca_file[0] != '/')
			return ab_err_set(err, EINVAL, "%s.ca_file: '%s' must be an absolute path",
			                  path, c->ca_file);
		if (c->ca_file && e->scheme != SERVICES_HTTPS)
			return ab_err_set(err, EINVAL, "%s.ca_file: only for https services", path);
		c->expect_status = (long)st;
		c->interval_ms = iv;
		c->timeout_ms = to;
		c->slow_ms = sl;
		c->failures = (unsigned)fa;
		c->successes = (unsigned)su;
		c->max_body = (size_t)mb;
		c->cert_warn_days = (unsigned)cw;
	}
	if (!c->path && e->scheme != SERVICES_TCP)
		c->path = ab_xstrdup(url_path ? url_path : "/");
	return 0;
}

static int
parse_access(const char *epath, json_t *o, struct services_entry *e, struct ab_err *err)
{
	if (!o)
		return 0;
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "%.80s.access", epath);
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
		                  ab_json_type(o));
	int r;
	char **roles = NULL;
	size_t n_roles = 0;
	if ((r = ab_json_check_keys(o, path, access_keys, err)) < 0 ||
	    (r = get_list(o, path, "profiles", true, &e->profiles, &e->n_profiles, err)) < 0 ||
	    (r = get_list(o, path, "users", true, &e->users, &e->n_users, err)) < 0 ||
	    (r = get_list(o, path, "roles", false, &roles, &n_roles, err)) < 0)
		return r;
	for (size_t i = 0; i < n_roles && r >= 0; i++) {
		int role = users_role_from_string(roles[i]);
		if (role < 0)
			r = ab_err_set(err, EINVAL,
			               "%s.roles[%zu]: '%s' is not one of admin, member, demo",
			               path, i, roles[i]);
		else
			e->roles |= 1u << role;
	}
	for (size_t i = 0; i < n_roles; i++)
		free(roles[i]);
	free(roles);
	return r;
}

static int
parse_restart(const char *epath, json_t *o, struct services_entry *e, struct ab_err *err)
{
	struct services_restart *rs = &e->restart;
	rs->timeout_ms = 30000;
	rs->max_attempts = 3;
	rs->backoff_ms = 5000;
	rs->backoff_max_ms = 300000;
	rs->verify_ms = 30000;
	if (!o)
		return 0;
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "%.80s.restart", epath);
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
		                  ab_json_type(o));
	int r;
	size_t argc = 0;
	long long to = rs->timeout_ms, ma = rs->max_attempts, bo = rs->backoff_ms,
	          bm = rs->backoff_max_ms, ve = rs->verify_ms;
	if ((r = ab_json_check_keys(o, path, restart_keys, err)) < 0 ||
	    (r = get_list(o, path, "command", false, &rs->argv, &argc, err)) < 0 ||
	    (r = get_str(o, path, "container", false, 128, &rs->container, err)) < 0 ||
	    (r = get_str(o, path, "socket", false, 4096, &rs->socket, err)) < 0 ||
	    (r = get_int(o, path, "timeout_ms", 100, 600000, &to, err)) < 0 ||
	    (r = get_int(o, path, "max_attempts", 1, 100, &ma, err)) < 0 ||
	    (r = get_int(o, path, "backoff_ms", 10, 3600000, &bo, err)) < 0 ||
	    (r = get_int(o, path, "backoff_max_ms", 10, 86400000, &bm, err)) < 0 ||
	    (r = get_int(o, path, "verify_ms", 100, 3600000, &ve, err)) < 0)
		return r;
	rs->timeout_ms = to;
	rs->max_attempts = (unsigned)ma;
	rs->backoff_ms = bo;
	rs->backoff_max_ms = AB_MAX(bm, bo);
	rs->verify_ms = ve;
	if (!!rs->argv == !!rs->container)
		return ab_err_set(err, EINVAL, "%s: give exactly one of 'command' and 'container'",
		                  path);
	if (rs->argv) {
		if (argc == 0)
			return ab_err_set(err, EINVAL, "%s.command: must not be empty", path);
		if (rs->argv[0][0] != '/')
			return ab_err_set(err, EINVAL,
			                  "%s.command[0]: '%s' must be an absolute path (no $PATH "
			                  "search, no shell)",
			                  path, rs->argv[0]);
		if (rs->socket)
			return ab_err_set(err, EINVAL, "%s.socket: only with 'container'", path);
		rs->kind = SERVICES_RESTART_COMMAND;
	} else {
		for (const char *p = rs->container; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
				return ab_err_set(
				    err, EINVAL, "%s.container: '%s' is not a container name or id",
				    path, rs->container);
		if (!rs->socket)
			rs->socket = ab_xstrdup("/run/podman/podman.sock");
		if (rs->socket[0] != '/')
			return ab_err_set(err, EINVAL, "%s.socket: '%s' must be an absolute path",
			                  path, rs->socket);
		rs->kind = SERVICES_RESTART_CONTAINER;
	}
	return 0;
}

static void
free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

static void
entry_free(struct services_entry *e)
{
	free(e->name);
	free(e->title);
	free(e->icon);
	free(e->url);
	free(e->host);
	free(e->owner);
	free_list(e->profiles);
	free_list(e->users);
	free_list(e->tags);
	free(e->check.path);
	free(e->check.expect_body);
	free(e->check.ca_file);
	free_list(e->restart.argv);
	free(e->restart.socket);
	free(e->restart.container);
}

static int
entry_parse(size_t idx, json_t *o, struct services_entry *e, struct ab_err *err)
{
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "services[%zu]", idx);
	if (!json_is_object(o))
		return ab_err_set(err, EINVAL, "%s: must be an object, not %s", path,
		                  ab_json_type(o));
	int r;
	if ((r = ab_json_check_keys(o, path, entry_keys, err)) < 0 ||
	    (r = get_str(o, path, "name", true, USERS_NAME_MAX, &e->name, err)) < 0)
		return r;
	if (!users_name_valid(e->name))
		return ab_err_set(err, EINVAL, "%s.name: '%s' is not [a-z_][a-z0-9_-]{0,31}", path,
		                  e->name);
	snprintf(path, sizeof(path), "services[%zu] ('%s')", idx, e->name);
	_cleanup_free_ char *url_path = NULL;
	if ((r = get_str(o, path, "title", false, 128, &e->title, err)) < 0 ||
	    (r = get_str(o, path, "icon", false, 256, &e->icon, err)) < 0 ||
	    (r = get_str(o, path, "url", true, 2048, &e->url, err)) < 0 ||
	    (r = get_str(o, path, "owner", false, USERS_NAME_MAX, &e->owner, err)) < 0 ||
	    (r = get_list(o, path, "tags", false, &e->tags, &e->n_tags, err)) < 0)
		return r;
	if (e->owner && !users_name_valid(e->owner))
		return ab_err_set(err, EINVAL, "%s.owner: '%s' is not a user name", path, e->owner);
	if (!e->title)
		e->title = ab_xstrdup(e->name);
	if ((r = parse_url(path, e->url, e, &url_path, err)) < 0 ||
	    (r = parse_check(path, json_object_get(o, "check"), e, url_path, err)) < 0 ||
	    (r = parse_access(path, json_object_get(o, "access"), e, err)) < 0 ||
	    (r = parse_restart(path, json_object_get(o, "restart"), e, err)) < 0)
		return r;
	return 0;
}

int
services_registry_load(json_t *services, struct services_registry **ret, struct ab_err *err)
{
	if (services && !json_is_array(services))
		return ab_err_set(err, EINVAL, "services: must be an array, not %s",
		                  ab_json_type(services));
	size_t n = json_array_size(services);
	if (n > 4096)
		return ab_err_set(err, EINVAL, "services: more than 4096 services");
	struct services_registry *reg = ab_xcalloc(1, sizeof(*reg));
	reg->entries = ab_xcalloc(n + 1, sizeof(*reg->entries));
	for (size_t i = 0; i < n; i++) {
		int r = entry_parse(i, json_array_get(services, i), &reg->entries[i], err);
		reg->n = i + 1;
		if (r >= 0 && services_registry_find(reg, reg->entries[i].name) != &reg->entries[i])
			r = ab_err_set(err, EINVAL, "services[%zu].name: '%s' is already taken", i,
			               reg->entries[i].name);
		if (r < 0) {
			services_registry_free(reg);
			return r;
		}
	}
	*ret = reg;
	return 0;
}

void
services_registry_free(struct services_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		entry_free(&reg->entries[i]);
	free(reg->entries);
	free(reg);
}

const struct services_entry *
services_registry_find(const struct services_registry *reg, const char *name)
{
	for (size_t i = 0; reg && name && i < reg->n; i++)
		if (reg->entries[i].name && strcmp(reg->entries[i].name, name) == 0)
			return &reg->entries[i];
	return NULL;
}

int
services_net_spec(const struct services_entry *e, char *buf, size_t len)
{
	struct in_addr a;
	if (inet_pton(AF_INET, e->host, &a) != 1)
		return -EADDRNOTAVAIL;
	snprintf(buf, len, "tcp:%s:%u", e->host, e->port);
	return 0;
}

static bool
in_list(char *const *l, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(l[i], s) == 0)
			return true;
	return false;
}

bool
services_visible(const struct services_entry *e, const char *user, enum users_role role,
                 const struct users_profile *profile)
{
	if (role == USERS_ROLE_ADMIN)
		return true;
	if (!user)
		return false;
	if (e->owner && strcmp(e->owner, user) == 0)
		return true;
	if (role < USERS_ROLE_MAX && (e->roles & (1u << role)))
		return true;
	if (in_list(e->users, e->n_users, user))
		return true;
	if (profile && (in_list(e->profiles, e->n_profiles, profile->name) ||
	                in_list(profile->services, profile->n_services, e->name)))
		return true;
	return false;
}

/* true when the config's users array has a user called `name` */
static bool
config_has_user(const struct broker_config *cfg, const char *name)
{
	size_t i;
	json_t *u;
	json_array_foreach(cfg->users, i, u)
	{
		const char *n = json_string_value(json_object_get(u, "name"));
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

int
services_check_config(const struct broker_config *cfg, struct ab_err *err)
{
	struct services_registry *reg = NULL;
	int r = services_registry_load(cfg->services, &reg, err);
	if (r < 0)
		return r;
	bool have_users = json_array_size(cfg->users) > 0;
	for (size_t i = 0; i < reg->n && r >= 0; i++) {
		const struct services_entry *e = &reg->entries[i];
		if (have_users && e->owner && !config_has_user(cfg, e->owner))
			r = ab_err_set(err, EINVAL, "services[%zu].owner: no user named '%s'", i,
			               e->owner);
		for (size_t k = 0; r >= 0 && have_users && k < e->n_users; k++)
			if (!config_has_user(cfg, e->users[k]))
				r = ab_err_set(
				    err, EINVAL,
				    "services[%zu].access.users[%zu]: no user named '%s'", i, k,
				    e->users[k]);
		for (size_t k = 0; r >= 0 && k < e->n_profiles; k++)
			if (!json_object_get(cfg->profiles, e->profiles[k]))
				r = ab_err_set(
				    err, EINVAL,
				    "services[%zu].access.profiles[%zu]: no profile named "
				    "'%s'",
				    i, k, e->profiles[k]);
		/* one source of truth: a name in netpol.services too must agree */
		json_t *np = json_object_get(json_object_get(cfg->netpol, "services"), e->name);
		char spec[300];
		if (r >= 0 && json_is_string(np)) {
			if (services_net_spec(e, spec, sizeof(spec)) < 0 ||
			    strcmp(spec, json_string_value(np)) != 0)
				r = ab_err_set(
				    err, EINVAL,
				    "netpol.services.%s: '%s' disagrees with services[%zu].url "
				    "'%s'; name the address in one place (the services "
				    "registry)",
				    e->name, json_string_value(np), i, e->url);
		}
	}
	services_registry_free(reg);
	return r;
}

const char *
services_state_name(enum services_state s)
{
	static const char *const names[SERVICES_STATE_MAX] = {"unknown", "up", "degraded", "down"};
	return s < SERVICES_STATE_MAX ? names[s] : "unknown";
}
