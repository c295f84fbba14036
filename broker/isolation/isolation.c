/* SPDX-License-Identifier: GPL-2.0-or-later */
/* isolation: the launcher choice, the runtime/netpol config and users' container profiles. */
#include "isolation.h"
#include "ab_config.h"
#include "ab_log.h"
#include "ab_paths.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AB_ISOLATION_SOURCE_DIR
#define AB_ISOLATION_SOURCE_DIR ""
#endif
#ifndef AB_ISOLATION_DATA_DIR
#define AB_ISOLATION_DATA_DIR "/usr/share/argobox"
#endif

#define MAX_LAN          32
#define MAX_SERVICES     1024 /* reachable services per desktop */
#define MAX_EPHEMERAL    1024 /* demo identities at once */
#define MAX_DESKTOP_BINS 4
#define MAX_RO_BINDS     (MAX_DESKTOP_BINS + 2) /* + the assets and apps directories */

/* The "runtime" subtree. */
struct iso_runtime_cfg {
	char runtime[8];
	char runtime_path[256];
	char state_root[256];
	char bundle_root[256];
	char id_prefix[32];
	long long ready_timeout_ms;
	long long stop_timeout_ms;
	char seccomp_listener[256];
	bool seccomp_audit;
	char seccomp_profile[PATH_MAX];
	long long host_id_base;
	char image[PATH_MAX];
	long long poll_interval_ms;
	char cgroup_parent[64];
	long long tmp_home_mb;
};

/* The "netpol" subtree. */
struct iso_netpol_cfg {
	struct netpol_config np; /* handed to netpol_new() as it is */
	json_t *services;        /* {"name": "tcp:a.b.c.d:port", ...} */
};

static const char *const runtime_names[] = {"auto", "runc", "crun", NULL};

static const struct iso_runtime_cfg rt_defaults = {
    .runtime = "auto",
    .bundle_root = "", /* <data.dir>/bundles */
    .id_prefix = "argobox-",
    .ready_timeout_ms = 30000,
    .stop_timeout_ms = 5000,
    .seccomp_audit = true,
    .host_id_base = 100000,
    .poll_interval_ms = 1000,
    .cgroup_parent = "argobox",
    .tmp_home_mb = 256,
};

#define R struct iso_runtime_cfg
static const struct ab_cfg_field rt_fields[] = {
    AB_CFG_ENUM("runtime", R, runtime, runtime_names, "auto (runc, then crun), runc or crun"),
    AB_CFG_STR("runtime_path", R, runtime_path, "explicit runtime binary (\"\": from $PATH)"),
    AB_CFG_STR("state_root", R, state_root, "the runtime's --root (\"\": its default)"),
    AB_CFG_STR("bundle_root", R, bundle_root, "OCI bundles (\"\": <data.dir>/bundles)"),
    AB_CFG_STR("id_prefix", R, id_prefix, "container id = <id_prefix><user>"),
    AB_CFG_INT("ready_timeout_ms", R, ready_timeout_ms, 100, 600000, "create -> READY"),
    AB_CFG_INT("stop_timeout_ms", R, stop_timeout_ms, 100, 600000, "SIGTERM -> SIGKILL"),
    AB_CFG_BOOL("seccomp_audit", R, seccomp_audit,
                "audit denied syscalls: a per-container argobox-seccomp-shim answers them "
                "(EPERM) and logs them, also across broker restarts (false: plain EPERM)"),
    AB_CFG_STR("seccomp_listener", R, seccomp_listener,
               "one shared in-process listener socket instead of the shims (\"\": shims)"),
    AB_CFG_STR("seccomp_profile", R, seccomp_profile,
               "OCI seccomp JSON (\"\": containers/seccomp/default.json of the source or "
               "install dir)"),
    AB_CFG_INT("host_id_base", R, host_id_base, 65536, 1LL << 31,
               "first host id of slot 0; slot n maps 65536 ids from base + n*65536"),
    AB_CFG_STR("image", R, image, "root filesystem replacing the host view (\"\": host /usr)"),
    AB_CFG_INT("poll_interval_ms", R, poll_interval_ms, 100, 60000,
               "network drop counters and cgroup limit hits are audited this often"),
    AB_CFG_STR("cgroup_parent", R, cgroup_parent, "cgroup v1 parent: /<parent>/<user>"),
    AB_CFG_INT("tmp_home_mb", R, tmp_home_mb, 1, 1 << 20,
               "size of an ephemeral home (demo desktops, profiles without a persistent home): "
               "a tmpfs in the container, full at this size (ENOSPC), gone with the desktop"),
    {0},
};
#undef R

static const struct iso_netpol_cfg np_defaults = {.np = NETPOL_DEFAULT_CONFIG};

#define N struct iso_netpol_cfg
static const struct ab_cfg_field np_fields[] = {
    AB_CFG_STR("pool", N, np.pool, "users' subnets: pool + 4n /30"),
    AB_CFG_STR("netns_dir", N, np.netns_dir, "where the network namespaces are pinned"),
    AB_CFG_STR("netns_prefix", N, np.netns_prefix, "namespace name = <prefix><user>"),
    AB_CFG_STR("table", N, np.table, "nftables table (inet)"),
    AB_CFG_STR("resolver", N, np.resolver, "DNS resolver non-admins may use (\"\": none)"),
    AB_CFG_BOOL("enable_forwarding", N, np.enable_forwarding, "set net.ipv4.ip_forward=1"),
    AB_CFG_BOOL("masquerade", N, np.masquerade, "NAT the users' subnets on egress"),
    AB_CFG_JSON("services", N, services, JSON_OBJECT, "{}",
                "service name -> \"tcp:a.b.c.d:port\" (profiles name services)"),
    {0},
};
#undef N

struct isolation {
	struct ab_loop *loop;
	const struct users_db *users;
	struct users_db *own_users;                   /* loaded from the config's users/profiles */
	const struct services_registry *services_reg; /* network.services addresses, or NULL */
	isolation_resolve_fn resolve;
	void *resolve_data;
	isolation_home_fn home_hook;
	void *home_data;
	isolation_image_fn image_hook;
	void *image_data;
	char ephemeral[MAX_EPHEMERAL][USERS_NAME_MAX + 1]; /* slot -> demo identity */
	bool oci;
	struct launcher *launcher;
	struct runtime *rt;
	struct netpol *np;
	struct ab_timer *poll_timer;
	struct iso_runtime_cfg rc;
	struct iso_netpol_cfg nc;
	char home_base[PATH_MAX];
	char seccomp_path[PATH_MAX];
	/*
	 * Executables named by desktop_command outside /usr ([0], and any later argument
	 * that is an executable file, e.g. `sh -c '...' /opt/wm`), bound read-only at the
	 * same path inside.
	 */
	char desktop_bins[MAX_DESKTOP_BINS][PATH_MAX];
	unsigned n_desktop_bins;
	/* ArgoBox's apps (apps/) of a build tree, bound read-only and put first on the PATH */
	char apps_dir[PATH_MAX];
	/*
	 * ArgoBox's assets (applications/ (.desktop files), wallpapers/) when they live
	 * outside /usr (a source checkout): the window manager reads them by the
	 * path it was built with, so they are bound read-only at that path. ""
	 * when they are under /usr or absent.
	 */
	char assets_dir[PATH_MAX];
	/* profile_for's answer (valid until the next call) */
	char user[USERS_NAME_MAX + 1];
	char home[PATH_MAX + USERS_NAME_MAX + 2];
	char apparmor[32];
	struct runtime_mount mounts[MAX_RO_BINDS];
	struct netpol_cidr lan[MAX_LAN];
	struct netpol_service services[MAX_SERVICES];
	const char *service_names[MAX_SERVICES]; /* fill_net's: the name of each services[i] */
	json_t *services_denied;                 /* fill_net's: registry services not visible */
	/* adoption */
	struct desktop_manager *desktops;
	bool adopt_pending;
};

static int
parse_subtrees(const struct broker_config *cfg, struct iso_runtime_cfg *rc,
               struct iso_netpol_cfg *nc, struct ab_err *err)
{
	ab_config_init(rt_fields, rc, &rt_defaults, sizeof(*rc));
	ab_config_init(np_fields, nc, &np_defaults, sizeof(*nc));
	int r = ab_config_apply_json(rt_fields, rc, cfg->runtime, err);
	if (r < 0)
		return ab_err_wrap(err, "runtime");
	r = ab_config_apply_json(np_fields, nc, cfg->netpol, err);
	if (r < 0)
		return ab_err_wrap(err, "netpol");
	struct netpol_cidr c;
	if (netpol_parse_cidr(nc->np.pool, &c, err) < 0)
		return ab_err_wrap(err, "netpol.pool");
	if (c.prefix > 24)
		return ab_err_set(err, EINVAL, "netpol.pool: '%s' is too small (at most /24)",
		                  nc->np.pool);
	if (nc->np.resolver[0] && netpol_parse_cidr(nc->np.resolver, &c, err) < 0)
		return ab_err_wrap(err, "netpol.resolver");
	const char *k;
	json_t *v;
	json_object_foreach(nc->services, k, v)
	{
		struct netpol_service s;
		if (!json_is_string(v))
			return ab_err_set(err, EINVAL, "netpol.services.%s: not a string", k);
		if (netpol_parse_service(json_string_value(v), &s, err) < 0)
			return ab_err_wrap(err, "netpol.services.%s", k);
	}
	if (rc->id_prefix[0] == '\0')
		return ab_err_set(err, EINVAL, "runtime.id_prefix: must not be empty");
	return 0;
}

static void
free_subtrees(struct iso_runtime_cfg *rc, struct iso_netpol_cfg *nc)
{
	ab_config_free(rt_fields, rc);
	ab_config_free(np_fields, nc);
}

int
isolation_check_config(const struct broker_config *cfg, struct ab_err *err)
{
	struct iso_runtime_cfg rc;
	struct iso_netpol_cfg nc;
	int r = parse_subtrees(cfg, &rc, &nc, err);
	free_subtrees(&rc, &nc);
	return r;
}

static bool
executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool
on_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	_cleanup_free_ char *copy = ab_xstrdup(path);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = ab_xasprintf("%s/%s", d, name);
		if (executable(p))
			return true;
	}
	return false;
}

static bool
runtime_available(const struct iso_runtime_cfg *rc)
{
	if (rc->runtime_path[0])
		return executable(rc->runtime_path);
	if (!strcmp(rc->runtime, "auto"))
		return on_path("runc") || on_path("crun");
	return on_path(rc->runtime);
}

/* The seccomp profile: configured, else the source tree's, else the install dir's. */
static int
find_seccomp(struct isolation *iso, struct ab_err *err)
{
	if (iso->rc.seccomp_profile[0]) {
		if (access(iso->rc.seccomp_profile, R_OK) < 0)
			return ab_err_errno(err, errno, "runtime.seccomp_profile: '%s'",
			                    iso->rc.seccomp_profile);
		snprintf(iso->seccomp_path, sizeof(iso->seccomp_path), "%s",
		         iso->rc.seccomp_profile);
		return 0;
	}
	const char *candidates[] = {
	    AB_ISOLATION_SOURCE_DIR "/containers/seccomp/default.json",
	    AB_ISOLATION_DATA_DIR "/containers/seccomp/default.json",
	    "/usr/share/argobox/containers/seccomp/default.json",
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(candidates); i++)
		if (candidates[i][0] == '/' && access(candidates[i], R_OK) == 0) {
			snprintf(iso->seccomp_path, sizeof(iso->seccomp_path), "%s", candidates[i]);
			return 0;
		}
	return ab_err_set(err, ENOENT,
	                  "no seccomp profile (containers/seccomp/default.json) found; set "
	                  "runtime.seccomp_profile");
}

/* Replaces a path by its canonical form (the bundle takes no "..") when it exists. */
static void canonicalise(char *path, size_t size);

/*
 * The apps of the build this broker belongs to (<build>/apps/bin beside <build>/broker/), when
 * they live outside /usr: an installed ArgoBox puts them in <prefix>/bin, which containers
 * see on the host /usr view. Without this a container desktop's launcher would offer apps it
 * cannot start.
 */
static void
find_apps(struct isolation *iso)
{
	char exe[PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	iso->apps_dir[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	_cleanup_free_ char *dir = ab_xasprintf("%s/../apps/bin", exe);
	struct stat st;
	if (!realpath(dir, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    strncmp(real, "/usr/", 5) == 0)
		return;
	memcpy(iso->apps_dir, real, sizeof(real));
}

/*
 * The source tree's assets/ (the path argobox-wm was built with), when it
 * exists outside /usr: containers on the host's /usr view would not see it
 * otherwise, and the launcher would list no apps and wallpapers would not load.
 */
static void
find_assets(struct isolation *iso)
{
	char real[PATH_MAX];
	struct stat st;

	iso->assets_dir[0] = '\0';
	snprintf(real, sizeof(real), "%s", ab_assets_dir());
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	canonicalise(real, sizeof(real));
	if (strncmp(real, "/usr/", 5) == 0)
		return;
	memcpy(iso->assets_dir, real, sizeof(real));
}

static void
canonicalise(char *path, size_t size)
{
	char buf[PATH_MAX];
	if (path[0] == '/' && realpath(path, buf))
		snprintf(path, size, "%s", buf);
}

static int64_t
poll_timer(struct ab_loop *loop, void *data)
{
	struct isolation *iso = data;
	struct ab_err err = {0};
	if (netpol_poll(iso->np, &err) < 0)
		ab_warn("network policy poll: %s", err.msg);
	runtime_poll_limits(iso->rt);
	return iso->rc.poll_interval_ms;
}

int
isolation_new(struct ab_loop *loop, struct broker_config *cfg, const struct users_db *users,
              struct isolation **ret, struct ab_err *err)
{
	struct isolation *iso = ab_xcalloc(1, sizeof(*iso));
	iso->loop = loop;
	iso->users = users;
	int r = parse_subtrees(cfg, &iso->rc, &iso->nc, err);
	if (r < 0)
		goto fail;
	if (!users && json_array_size(cfg->users) > 0) {
		r = users_load(cfg->users, cfg->profiles, &iso->own_users, err);
		if (r < 0)
			goto fail;
		iso->users = iso->own_users;
	}
	const char *want = cfg->session_launcher;
	bool root = geteuid() == 0;
	if (!strcmp(want, "auto")) {
		iso->oci = root && runtime_available(&iso->rc);
		if (!iso->oci)
			ab_warn("session.launcher auto: %s: desktops run as plain processes of the "
			        "broker's user and are NOT isolated (run as root with runc or crun "
			        "installed, or set session.launcher)",
			        root ? "no runc or crun found" : "not running as root");
	} else if (!strcmp(want, "oci")) {
		if (!root) {
			r = ab_err_set(err, EPERM,
			               "session.launcher oci: the broker must run as root (user "
			               "namespaces, cgroups, network namespaces)");
			goto fail;
		}
		iso->oci = true;
	}
	if (!iso->oci) {
		iso->launcher =
		    launcher_process_new(loop, cfg->session_binary, cfg->session_stop_timeout_ms);
		*ret = iso;
		return 0;
	}

	if (cfg->storage_home_base[0])
		snprintf(iso->home_base, sizeof(iso->home_base), "%s", cfg->storage_home_base);
	else
		snprintf(iso->home_base, sizeof(iso->home_base), "%.4000s/home", cfg->data_dir);
	if ((r = ab_mkdir_p(iso->home_base, 0711, err)) < 0) {
		ab_err_wrap(err, "storage.home_base");
		goto fail;
	}
	if ((r = find_seccomp(iso, err)) < 0)
		goto fail;
	canonicalise(cfg->session_binary, sizeof(cfg->session_binary));
	if (cfg->session_binary[0] != '/') {
		r = ab_err_set(err, EINVAL,
		               "session.binary: '%s' must be an absolute path for containers",
		               cfg->session_binary);
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(cfg->session_desktop_command); i++) {
		const char *arg =
		    json_string_value(json_array_get(cfg->session_desktop_command, i));
		struct stat st;
		if (!arg || arg[0] != '/' || stat(arg, &st) < 0 || !S_ISREG(st.st_mode) ||
		    access(arg, X_OK) < 0)
			continue;
		char real[PATH_MAX];
		snprintf(real, sizeof(real), "%s", arg);
		canonicalise(real, sizeof(real));
		json_array_set_new(cfg->session_desktop_command, i, json_string(real));
		if (strncmp(real, "/usr/", 5) == 0 || iso->n_desktop_bins >= MAX_DESKTOP_BINS)
			continue;
		memcpy(iso->desktop_bins[iso->n_desktop_bins++], real, sizeof(real));
	}
	find_assets(iso);
	find_apps(iso);

	if ((r = netpol_new(&iso->nc.np, &iso->np, err)) < 0) {
		ab_err_wrap(err, "network policy");
		goto fail;
	}

	struct runtime_config rc = runtime_default_config;
	snprintf(rc.runtime, sizeof(rc.runtime), "%s", iso->rc.runtime);
	snprintf(rc.runtime_path, sizeof(rc.runtime_path), "%s", iso->rc.runtime_path);
	snprintf(rc.state_root, sizeof(rc.state_root), "%s", iso->rc.state_root);
	if (iso->rc.bundle_root[0])
		snprintf(rc.bundle_root, sizeof(rc.bundle_root), "%s", iso->rc.bundle_root);
	else
		snprintf(rc.bundle_root, sizeof(rc.bundle_root), "%.200s/bundles", cfg->data_dir);
	snprintf(rc.id_prefix, sizeof(rc.id_prefix), "%s", iso->rc.id_prefix);
	rc.ready_timeout_ms = (int)iso->rc.ready_timeout_ms;
	rc.stop_timeout_ms = (int)iso->rc.stop_timeout_ms;
	snprintf(rc.seccomp_listener, sizeof(rc.seccomp_listener), "%s", iso->rc.seccomp_listener);
	if (iso->rc.seccomp_audit && !rc.seccomp_listener[0]) {
		_cleanup_free_ char *dir = broker_exe_dir();
		_cleanup_free_ char *shim =
		    dir ? ab_xasprintf("%s/argobox-seccomp-shim", dir) : NULL;
		if (shim && access(shim, X_OK) == 0) {
			snprintf(rc.seccomp_shim, sizeof(rc.seccomp_shim), "%s", shim);
			snprintf(rc.audit_path, sizeof(rc.audit_path), "%s", cfg->audit_path);
		} else {
			ab_warn(
			    "argobox-seccomp-shim not found next to the broker: denied syscalls "
			    "are refused (EPERM) but not audited");
		}
	}
	if ((r = runtime_new(loop, &rc, iso->np, &iso->rt, err)) < 0) {
		ab_err_wrap(err, "container runtime");
		goto fail;
	}
	iso->launcher =
	    launcher_oci_new(loop, iso->rt, cfg->session_binary, isolation_profile_for, iso);
	iso->poll_timer = ab_loop_timer(loop, iso->rc.poll_interval_ms, poll_timer, iso);
	ab_info("desktops run in %s containers (bundles %s, homes %s, seccomp %s)",
	        runtime_name(iso->rt), rc.bundle_root, iso->home_base, iso->seccomp_path);
	*ret = iso;
	return 0;
fail:
	isolation_free(iso);
	return r;
}

void
isolation_set_users(struct isolation *iso, const struct users_db *users)
{
	iso->users = users;
}

void
isolation_set_services(struct isolation *iso, const struct services_registry *reg)
{
	iso->services_reg = reg;
}

void
isolation_set_resolver(struct isolation *iso, isolation_resolve_fn fn, void *data)
{
	iso->resolve = fn;
	iso->resolve_data = data;
}

void
isolation_set_image_hook(struct isolation *iso, isolation_image_fn fn, void *data)
{
	iso->image_hook = fn;
	iso->image_data = data;
}

void
isolation_set_home_hook(struct isolation *iso, isolation_home_fn fn, void *data)
{
	iso->home_hook = fn;
	iso->home_data = data;
}

/*
 * A slot for an identity outside the users table: its own, else the first
 * free one (or one whose owner has no container any more). -ENOSPC when full.
 */
static int
ephemeral_slot(struct isolation *iso, const char *user)
{
	int free_slot = -1;
	for (int i = 0; i < MAX_EPHEMERAL; i++) {
		if (!strcmp(iso->ephemeral[i], user))
			return i;
		if (free_slot < 0 && (!iso->ephemeral[i][0] ||
		                      (iso->rt && !runtime_has(iso->rt, iso->ephemeral[i]))))
			free_slot = i;
	}
	if (free_slot >= 0)
		snprintf(iso->ephemeral[free_slot], sizeof(iso->ephemeral[free_slot]), "%s", user);
	return free_slot < 0 ? -ENOSPC : free_slot;
}

void
isolation_shutdown(struct isolation *iso)
{
	if (!iso)
		return;
	ab_loop_timer_cancel(iso->loop, iso->poll_timer);
	iso->poll_timer = NULL;
	if (iso->oci && iso->launcher)
		launcher_oci_detach(iso->launcher);
	runtime_free(iso->rt);
	iso->rt = NULL;
}

void
isolation_free(struct isolation *iso)
{
	if (!iso)
		return;
	isolation_shutdown(iso);
	if (iso->launcher)
		iso->launcher->ops->free(iso->launcher);
	netpol_free(iso->np);
	free_subtrees(&iso->rc, &iso->nc);
	json_decref(iso->services_denied);
	users_free(iso->own_users);
	free(iso);
}

struct launcher *
isolation_launcher(struct isolation *iso)
{
	return iso->launcher;
}

bool
isolation_is_oci(const struct isolation *iso)
{
	return iso->oci;
}

bool
isolation_images_used(const struct isolation *iso)
{
	return iso->oci && !iso->rc.image[0];
}

const char *
isolation_launcher_name(const struct isolation *iso)
{
	return iso->oci ? (iso->rt ? runtime_name(iso->rt) : "oci") : "process";
}

/* Appends a reachable service (deduplicated by name) to iso->services; false when full. */
static bool
add_service(struct isolation *iso, size_t *n, const char *name, const char *spec)
{
	struct ab_err e = {0};
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(iso->service_names[i], name))
			return true;
	if (*n >= MAX_SERVICES)
		return false;
	if (netpol_parse_service(spec, &iso->services[*n], &e) < 0)
		return true;
	iso->service_names[(*n)++] = name;
	return true;
}

/*
 * The netpol part of a profile: LAN ranges (IPv4) and the services the user may reach.
 * Egress follows visibility: every service of the registry that `user` may see
 * (services_visible: admin all, members their own, their profile's and those whose access
 * names them, demo identities their whitelist) whose host is an IPv4 address; plus the names
 * the profile's network.services lists that the registry does not have, from netpol.services.
 * Services of the registry the user may not see are listed in iso->services_denied.
 */
static void
fill_net(struct isolation *iso, const char *user, enum users_role role,
         const struct users_profile *prof, struct launcher_oci_profile *p)
{
	json_decref(iso->services_denied);
	iso->services_denied = json_array();
	p->has_net = true;
	if (prof && prof->egress == USERS_EGRESS_NONE) {
		p->has_net = false;
		return;
	}
	size_t n = 0;
	for (size_t i = 0;
	     prof && prof->egress >= USERS_EGRESS_LAN && i < prof->n_lan && n < MAX_LAN; i++) {
		const struct users_cidr *c = &prof->lan[i];
		if (c->family != AF_INET) {
			ab_warn("profile '%s': LAN range '%s' is not IPv4: not reachable",
			        prof->name, c->text);
			continue;
		}
		memcpy(&iso->lan[n].addr, c->addr, 4);
		iso->lan[n].prefix = (uint8_t)c->prefix;
		n++;
	}
	p->net.lan = iso->lan;
	p->net.n_lan = n;
	n = 0;
	const struct services_registry *reg = iso->services_reg;
	for (size_t i = 0; reg && i < reg->n; i++) {
		const struct services_entry *e = &reg->entries[i];
		char spec[128];
		if (!services_visible(e, user, role, prof)) {
			json_array_append_new(iso->services_denied, json_string(e->name));
			continue;
		}
		if (services_net_spec(e, spec, sizeof(spec)) < 0)
			continue; /* a host name: the rules cannot name it */
		if (!add_service(iso, &n, e->name, spec))
			ab_warn("'%s' may reach more than %d services: the rest are not reachable",
			        user, MAX_SERVICES);
	}
	for (size_t i = 0; prof && i < prof->n_net_services; i++) {
		const char *name = prof->net_services[i];
		if (reg && services_registry_find(reg, name))
			continue; /* the registry's visibility decided */
		json_t *v = json_object_get(iso->nc.services, name);
		if (!v) {
			ab_warn("profile '%s': service '%s' has no address (netpol.services): not "
			        "reachable",
			        prof->name, name);
			continue;
		}
		add_service(iso, &n, name, json_string_value(v));
	}
	p->net.services = iso->services;
	p->net.n_services = n;
}

/* The names of fill_net's services, as a JSON array. */
static json_t *
service_names_json(struct isolation *iso, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(iso->service_names[i]));
	return a;
}

/* Audits what fill_net decided for `user`: a grant (what it may reach), a deny (what not). */
static void
audit_egress(struct isolation *iso, const char *user, enum runtime_role role,
             const struct launcher_oci_profile *p, json_t *change)
{
	const char *rn = runtime_role_name(role);
	json_t *d = json_pack("{sosb}", "reachable",
	                      service_names_json(iso, p->has_net ? p->net.n_services : 0),
	                      "network", p->has_net);
	if (change) {
		json_object_update(d, change);
		json_decref(change);
	}
	audit_log("service.egress", AUDIT_GRANT, user, rn, NULL, d);
	if (json_array_size(iso->services_denied) > 0)
		audit_log("service.egress", AUDIT_DENY, user, rn, NULL,
		          json_pack("{sOss}", "unreachable", iso->services_denied, "reason",
		                    "not visible to this user"));
}

static int
profile_for(struct isolation *iso, const char *user, bool audit_it,
            struct launcher_oci_profile *ret, struct ab_err *err)
{
	const struct users_user *u = NULL;
	size_t index = 0;
	if (iso->users) {
		size_t n = users_count(iso->users);
		for (index = 0; index < n; index++)
			if (!strcmp(users_at(iso->users, index)->name, user)) {
				u = users_at(iso->users, index);
				break;
			}
	}
	bool local = !iso->users && !strcmp(user, "local");
	/* Identities outside the table (demo-<hex>): authn's resolver, else demo defaults. */
	struct isolation_identity id = {.role = USERS_ROLE_DEMO, .uid = 1000, .gid = 1000};
	bool ephemeral = false;
	if (!u && !local) {
		if (iso->resolve)
			ephemeral = iso->resolve(user, &id, iso->resolve_data) == 0;
		else
			ephemeral = !strncmp(user, "demo-", 5);
		if (!ephemeral) {
			audit_log("container.start", AUDIT_DENY, user, NULL, NULL,
			          json_pack("{ss}", "reason", "no such user"));
			return ab_err_set(err, EPERM, "'%s' is not in the users table", user);
		}
		int slot = ephemeral_slot(iso, user);
		if (slot < 0) {
			audit_log("container.start", AUDIT_DENY, user, NULL, NULL,
			          json_pack("{ss}", "reason", "no free slot"));
			return ab_err_set(err, ENOSPC, "no free container slot for '%s'", user);
		}
		index = (iso->users ? users_count(iso->users) : 1) + (size_t)slot;
	}
	const struct users_profile *prof = u ? u->profile : ephemeral ? id.profile : NULL;
	struct launcher_oci_profile p = {0};
	snprintf(iso->user, sizeof(iso->user), "%s", user);
	p.spec.user = iso->user;
	p.spec.role = u           ? (enum runtime_role)u->role
	              : ephemeral ? (enum runtime_role)id.role
	                          : RUNTIME_ROLE_ADMIN;
	p.spec.index = (unsigned)index;
	p.spec.uid = u ? u->uid : id.uid;
	p.spec.gid = u ? u->gid : id.gid;
	p.spec.host_id_base = (uid_t)iso->rc.host_id_base;
	if (prof) {
		p.spec.memory_bytes = (int64_t)prof->memory_mb << 20;
		p.spec.cpu_millis = prof->cpu_millis;
		p.spec.pids_max = prof->pids;
	} else if (ephemeral) {
		/* A demo identity without a profile: the tightest box. */
		p.spec.memory_bytes = 1024LL << 20;
		p.spec.cpu_millis = 1000;
		p.spec.pids_max = 512;
	} else {
		/* The loopback "local" user: admin-like, bounded like a generous profile. */
		p.spec.memory_bytes = 4096LL << 20;
		p.spec.pids_max = 4096;
	}
	p.spec.caps = NULL; /* no capabilities: profiles have no capability list */
	bool demo = p.spec.role == RUNTIME_ROLE_DEMO;
	p.spec.read_only_root = demo || (prof && prof->read_only_root);
	if (!demo && (!prof || prof->persistent)) {
		snprintf(iso->home, sizeof(iso->home), "%s/%s", iso->home_base, user);
		p.spec.home_dir = iso->home;
		int r = audit_it && iso->home_hook ? iso->home_hook(iso->home_data, user, err) : 0;
		if (r < 0) {
			audit_log("container.start", AUDIT_DENY, user, NULL, NULL,
			          json_pack("{ss}", "reason", "home storage not ready"));
			return ab_err_wrap(err, "home of '%s'", user);
		}
	}
	p.spec.tmp_home_mb = iso->rc.tmp_home_mb;
	p.spec.seccomp_path = iso->seccomp_path;
	p.spec.seccomp_listener = iso->rc.seccomp_listener[0] ? iso->rc.seccomp_listener : NULL;
	snprintf(iso->apparmor, sizeof(iso->apparmor), "argobox-%s",
	         runtime_role_name(p.spec.role));
	p.spec.apparmor_profile = iso->apparmor;
	p.spec.image = iso->rc.image[0] ? iso->rc.image : NULL;
	if (!p.spec.image && audit_it && iso->image_hook) {
		/* the profile's desktop image (broker/desktops/images.c), or NULL: host /usr */
		if (iso->image_hook(iso->image_data, user, prof, &p.spec.image, err) < 0) {
			audit_log("container.start", AUDIT_DENY, user, NULL, NULL,
			          json_pack("{ss}", "reason", "desktop image not ready"));
			return ab_err_wrap(err, "desktop of '%s'", user);
		}
	}
	p.spec.cgroup_parent = iso->rc.cgroup_parent;
	unsigned n = 0;
	for (unsigned i = 0; i < iso->n_desktop_bins; i++)
		iso->mounts[n++] =
		    (struct runtime_mount){iso->desktop_bins[i], iso->desktop_bins[i], false};
	if (iso->assets_dir[0])
		iso->mounts[n++] = (struct runtime_mount){iso->assets_dir, iso->assets_dir, false};
	if (iso->apps_dir[0]) {
		iso->mounts[n++] = (struct runtime_mount){iso->apps_dir, iso->apps_dir, false};
		p.spec.path_prepend = iso->apps_dir;
	}
	if (n) {
		p.spec.mounts = iso->mounts;
		p.spec.n_mounts = n;
	}
	fill_net(iso, user, u ? u->role : ephemeral ? id.role : USERS_ROLE_ADMIN, prof, &p);
	if (ephemeral && !prof)
		p.net.n_lan = p.net.n_services = 0;
	if (audit_it)
		audit_egress(iso, user, p.spec.role, &p, NULL);
	p.net.user = iso->user;
	p.net.role = p.spec.role;
	p.net.index = p.spec.index;
	*ret = p;
	return 0;
}

int
isolation_profile_for(const char *user, struct launcher_oci_profile *ret, void *data,
                      struct ab_err *err)
{
	return profile_for(data, user, true, ret, err);
}

static json_t *
specs_json(const struct netpol_service *l, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char spec[48];
		netpol_service_format(&l[i], spec, sizeof(spec));
		json_array_append_new(a, json_string(spec));
	}
	return a;
}

/* One running desktop's service set made to match its current policy; 1 if it changed. */
static int
refresh_one(struct isolation *iso, const char *user, struct ab_err *err)
{
	struct launcher_oci_profile p = {0};
	if (!runtime_has(iso->rt, user) || profile_for(iso, user, false, &p, err) < 0 || !p.has_net)
		return 0;
	struct netpol_set_change ch = {0};
	int r = netpol_set_services(iso->np, user, p.net.services, p.net.n_services, &ch, err);
	if (r == -ENOENT) {
		ab_err_clear(err);
		return 0; /* started by a broker from before the service sets: next start */
	}
	if (r < 0)
		return r;
	bool changed = ch.n_added || ch.n_removed;
	if (changed)
		audit_egress(iso, user, p.spec.role, &p,
		             json_pack("{s:s, s:o, s:o}", "step", "reload", "added",
		                       specs_json(ch.added, ch.n_added), "removed",
		                       specs_json(ch.removed, ch.n_removed)));
	netpol_set_change_free(&ch);
	return changed;
}

int
isolation_refresh_services(struct isolation *iso, struct ab_err *err)
{
	if (!iso->oci || !iso->rt || !iso->np)
		return 0;
	int changed = 0, first = 0;
	struct ab_err e = {0};
	size_t n = iso->users ? users_count(iso->users) : 0;
	for (size_t i = 0; i <= n + MAX_EPHEMERAL; i++) {
		const char *user = i < n                   ? users_at(iso->users, i)->name
		                   : i == n && !iso->users ? "local"
		                   : i > n                 ? iso->ephemeral[i - n - 1]
		                                           : "";
		if (!user[0])
			continue;
		int r = refresh_one(iso, user, &e);
		if (r < 0 && !first) {
			first = r;
			ab_err_set(err, -r, "%s", e.msg);
		} else if (r < 0) {
			ab_warn("%s", e.msg);
		}
		ab_err_clear(&e);
		changed += r > 0;
	}
	return first < 0 ? first : changed;
}

/* runtime_adopt's question: the current policy of a running container's user. */
static const struct netpol_user *
policy_for(const char *user, void *data)
{
	struct isolation *iso = data;
	static struct launcher_oci_profile p;
	struct ab_err err = {0};
	if (isolation_profile_for(user, &p, iso, &err) < 0 || !p.has_net)
		return NULL;
	return &p.net;
}

static void
on_leftover_stopped(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	if (status < 0)
		ab_warn("removing the stopped container of '%s': %s", user, msg ? msg : "");
}

static void
on_adopted(struct runtime *rt, const struct runtime_info *list, size_t n, int status, void *data)
{
	struct isolation *iso = data;
	iso->adopt_pending = false;
	if (status < 0) {
		ab_warn("adopting running desktops: %s", strerror(-status));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct ab_err err = {0};
		bool known = iso->users ? users_find(iso->users, list[i].user) != NULL
		                        : !strcmp(list[i].user, "local");
		if (known && !strcmp(list[i].status, "running") && runtime_has(rt, list[i].user)) {
			if (desktop_adopt(iso->desktops, list[i].user, &err) < 0)
				ab_warn("%s", err.msg);
			else
				ab_info("adopted the running desktop of '%s' (pid %d)",
				        list[i].user, (int)list[i].pid);
			continue;
		}
		ab_info("removing the %s container of '%s'%s", list[i].status, list[i].user,
		        known ? "" : " (not in the users table)");
		if (runtime_stop(rt, list[i].user, on_leftover_stopped, iso, &err) < 0)
			ab_warn("%s", err.msg);
	}
	/* what was left mounted for desktops that no longer run */
	desktop_manager_release_stale(iso->desktops);
}

int
isolation_adopt(struct isolation *iso, struct desktop_manager *m, struct ab_err *err)
{
	if (!iso->oci)
		return 0;
	iso->desktops = m;
	int r = runtime_adopt(iso->rt, policy_for, on_adopted, iso, err);
	if (r < 0)
		return ab_err_wrap(err, "adopting running desktops");
	iso->adopt_pending = true;
	return 0;
}

bool
isolation_adopt_pending(const struct isolation *iso)
{
	return iso->adopt_pending;
}
