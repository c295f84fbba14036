/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bundle: OCI config.json and rootfs skeleton for one user's desktop (see bundle.h). */
#include "bundle.h"
#include "ab_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const role_names[RUNTIME_ROLE_MAX] = {"admin", "member", "demo"};

const char *
runtime_role_name(enum runtime_role role)
{
	return role < RUNTIME_ROLE_MAX ? role_names[role] : "unknown";
}

int
runtime_role_from_string(const char *s)
{
	for (int i = 0; i < RUNTIME_ROLE_MAX; i++)
		if (s && strcmp(s, role_names[i]) == 0)
			return i;
	return -EINVAL;
}

static bool
user_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > BUNDLE_USER_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
abs_path_ok(const char *p)
{
	return p && p[0] == '/' && !strstr(p, "/../") && strlen(p) < 4096 && !strchr(p, '\n');
}

int
bundle_spec_validate(const struct runtime_spec *spec, struct ab_err *err)
{
	if (!user_name_valid(spec->user))
		return ab_err_set(err, EINVAL, "invalid user name '%s'",
		                  spec->user ? spec->user : "(null)");
	if (spec->role >= RUNTIME_ROLE_MAX)
		return ab_err_set(err, EINVAL, "user '%s': invalid role %d", spec->user,
		                  (int)spec->role);
	if (spec->uid == 0 || spec->uid >= BUNDLE_IDS_PER_USER || spec->gid == 0 ||
	    spec->gid >= BUNDLE_IDS_PER_USER)
		return ab_err_set(err, EINVAL,
		                  "user '%s': uid/gid inside must be in 1..65535 (got %u/%u)",
		                  spec->user, (unsigned)spec->uid, (unsigned)spec->gid);
	if (spec->host_id_base < BUNDLE_IDS_PER_USER)
		return ab_err_set(err, EINVAL,
		                  "user '%s': host id base %u overlaps host ids < 65536",
		                  spec->user, (unsigned)spec->host_id_base);
	uint64_t top = (uint64_t)spec->host_id_base +
	               ((uint64_t)spec->index + 1) * (uint64_t)BUNDLE_IDS_PER_USER;
	if (top > 0xfffffffeULL)
		return ab_err_set(err, ERANGE, "user '%s': slot %u is beyond the host id space",
		                  spec->user, spec->index);
	if (!spec->argv || !spec->argv[0])
		return ab_err_set(err, EINVAL, "user '%s': no command", spec->user);
	if (!abs_path_ok(spec->runtime_dir))
		return ab_err_set(err, EINVAL, "user '%s': runtime dir must be an absolute path",
		                  spec->user);
	if (spec->home_dir && !abs_path_ok(spec->home_dir))
		return ab_err_set(err, EINVAL, "user '%s': home dir '%s' must be an absolute path",
		                  spec->user, spec->home_dir);
	if (spec->image && !abs_path_ok(spec->image))
		return ab_err_set(err, EINVAL, "user '%s': image must be an absolute path",
		                  spec->user);
	if (spec->netns_path && !abs_path_ok(spec->netns_path))
		return ab_err_set(err, EINVAL, "user '%s': bad netns path", spec->user);
	if (spec->memory_bytes < 0 || spec->cpu_millis < 0 || spec->pids_max < 0)
		return ab_err_set(err, EINVAL, "user '%s': negative limit", spec->user);
	if (spec->memory_bytes && spec->memory_bytes < (4 << 20))
		return ab_err_set(err, EINVAL, "user '%s': memory limit below 4 MiB", spec->user);
	for (size_t i = 0; spec->caps && spec->caps[i]; i++)
		if (strncmp(spec->caps[i], "CAP_", 4) != 0 || strlen(spec->caps[i]) > 32)
			return ab_err_set(err, EINVAL, "user '%s': bad capability '%s'", spec->user,
			                  spec->caps[i]);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (!abs_path_ok(spec->mounts[i].source) || !abs_path_ok(spec->mounts[i].dest))
			return ab_err_set(err, EINVAL, "user '%s': bad extra mount #%zu",
			                  spec->user, i);
	if (spec->preserve_fds > 16)
		return ab_err_set(err, EINVAL, "user '%s': too many preserved fds", spec->user);
	return 0;
}

uid_t
bundle_host_id(const struct runtime_spec *spec)
{
	return spec->host_id_base + spec->index * BUNDLE_IDS_PER_USER;
}

bool
bundle_apparmor_enabled(void)
{
	char c = 0;
	int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, &c, 1);
	close(fd);
	return n == 1 && c == 'Y';
}

static json_t *
str_array(const char *const *list)
{
	json_t *a = json_array();
	for (size_t i = 0; list && list[i]; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

static void
add_mount(json_t *mounts, const char *dest, const char *type, const char *source,
          const char *const *options)
{
	json_t *m =
	    json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);
	json_object_set_new(m, "options", str_array(options));
	json_array_append_new(mounts, m);
}

/* Host /etc entries shared read-only with every desktop (when they exist). */
static const char *const etc_shared[] = {
    "ld.so.cache", "alternatives", "fonts", "ssl", "X11", "localtime",
    "mime.types",  "gtk-3.0",      "xdg",   "vim", NULL,
};

static json_t *
build_mounts(const struct runtime_spec *spec, const char *etc_dir)
{
	json_t *mounts = json_array();
	static const char *const proc_o[] = {"nosuid", "noexec", "nodev", NULL};
	static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k",
	                                    NULL};
	static const char *const pts_o[] = {"nosuid",        "noexec",    "newinstance",
	                                    "ptmxmode=0666", "mode=0620", NULL};
	static const char *const mq_o[] = {"nosuid", "noexec", "nodev", NULL};
	/* rro: recursively read-only (mount_setattr), so no submount of /sys is writable. */
	static const char *const sys_o[] = {"rbind", "rro", "nosuid", "noexec", "nodev", NULL};
	static const char *const usr_o[] = {"rbind", "rro", "nosuid", "nodev", NULL};
	static const char *const ro_o[] = {"bind", "ro", "nosuid", "nodev", NULL};
	static const char *const rw_o[] = {"bind", "rw", "nosuid", "nodev", NULL};
	static const char *const tmp_o[] = {"nosuid", "nodev", "mode=1777", "size=512m", NULL};
	static const char *const run_o[] = {"nosuid", "nodev", "mode=755", "size=64m", NULL};

	add_mount(mounts, "/proc", "proc", "proc", proc_o);
	add_mount(mounts, "/dev", "tmpfs", "tmpfs", dev_o);
	add_mount(mounts, "/dev/pts", "devpts", "devpts", pts_o);
	/* runc resets a tmpfs root's mode to its mount point's (0755 under /dev): own it instead.
	 */
	_cleanup_free_ char *owner =
	    ab_xasprintf("uid=%u,gid=%u", (unsigned)spec->uid, (unsigned)spec->gid);
	const char *shm_o[] = {"nosuid",      "noexec", "nodev", "mode=1777",
	                       "size=65536k", owner,    NULL};
	add_mount(mounts, "/dev/shm", "tmpfs", "shm", shm_o);
	add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", mq_o);
	add_mount(mounts, "/sys", "bind", "/sys", sys_o);
	/* The programs: the host's /usr, or a standalone image's (containers/rootfs/). */
	const char *img = spec->image ? spec->image : "";
	_cleanup_free_ char *usr = ab_xasprintf("%s/usr", img);
	add_mount(mounts, "/usr", "bind", usr, usr_o);
	add_mount(mounts, "/etc", "bind", etc_dir, ro_o);
	for (size_t i = 0; etc_shared[i]; i++) {
		_cleanup_free_ char *src = ab_xasprintf("%s/etc/%s", img, etc_shared[i]);
		_cleanup_free_ char *dst = ab_xasprintf("/etc/%s", etc_shared[i]);
		if (access(src, F_OK) == 0)
			add_mount(mounts, dst, "bind", src, ro_o);
	}
	add_mount(mounts, "/tmp", "tmpfs", "tmpfs", tmp_o);
	/* X servers want this directory and cannot create it as the user. */
	const char *x11_o[] = {"nosuid", "nodev", "noexec", "mode=1777", "size=1m", owner, NULL};
	add_mount(mounts, "/tmp/.X11-unix", "tmpfs", "tmpfs", x11_o);
	add_mount(mounts, "/run", "tmpfs", "tmpfs", run_o);
	add_mount(mounts, "/run/argobox", "bind", spec->runtime_dir, rw_o);

	_cleanup_free_ char *home = ab_xasprintf("/home/%s", spec->user);
	if (spec->home_dir) {
		add_mount(mounts, home, "bind", spec->home_dir, rw_o);
	} else {
		_cleanup_free_ char *mode =
		    ab_xasprintf("uid=%u,gid=%u", (unsigned)spec->uid, (unsigned)spec->gid);
		_cleanup_free_ char *size = ab_xasprintf(
		    "size=%lldm", (long long)(spec->tmp_home_mb > 0 ? spec->tmp_home_mb : 256));
		const char *home_o[] = {"nosuid", "nodev", "mode=700", size, mode, NULL};
		add_mount(mounts, home, "tmpfs", "tmpfs", home_o);
	}
	for (size_t i = 0; i < spec->n_mounts; i++)
		add_mount(mounts, spec->mounts[i].dest, "bind", spec->mounts[i].source,
		          spec->mounts[i].rw ? rw_o : ro_o);
	return mounts;
}

static json_t *
build_resources(const struct runtime_spec *spec)
{
	json_t *res = json_object();
	json_t *devices = json_array();
	json_array_append_new(devices, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
	json_object_set_new(res, "devices", devices);
	if (spec->memory_bytes)
		json_object_set_new(res, "memory",
		                    json_pack("{s:I, s:I}", "limit", (json_int_t)spec->memory_bytes,
		                              "swap", (json_int_t)spec->memory_bytes));
	if (spec->cpu_millis)
		json_object_set_new(res, "cpu",
		                    json_pack("{s:I, s:I}", "quota",
		                              (json_int_t)spec->cpu_millis * 100, "period",
		                              (json_int_t)100000));
	if (spec->pids_max)
		json_object_set_new(res, "pids",
		                    json_pack("{s:I}", "limit", (json_int_t)spec->pids_max));
	return res;
}

static json_t *
build_namespaces(const struct runtime_spec *spec)
{
	json_t *ns = json_array();
	static const char *const types[] = {"pid", "ipc", "uts", "mount", "cgroup", "user"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(types); i++)
		json_array_append_new(ns, json_pack("{s:s}", "type", types[i]));
	if (spec->netns_path)
		json_array_append_new(
		    ns, json_pack("{s:s, s:s}", "type", "network", "path", spec->netns_path));
	else
		json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	return ns;
}

/*
 * The EPERM rules become SCMP_ACT_NOTIFY rules answered (EPERM) and audited by
 * the broker's listener (secnotify.c); other errno rules stay as they are.
 */
static void
seccomp_to_notify(json_t *seccomp, const char *listener)
{
	size_t i;
	json_t *rule;
	json_array_foreach(json_object_get(seccomp, "syscalls"), i, rule)
	{
		const char *action = json_string_value(json_object_get(rule, "action"));
		json_t *ret = json_object_get(rule, "errnoRet");
		if (action && !strcmp(action, "SCMP_ACT_ERRNO") &&
		    (!ret || json_integer_value(ret) == EPERM)) {
			json_object_set_new(rule, "action", json_string("SCMP_ACT_NOTIFY"));
			json_object_del(rule, "errnoRet");
		}
	}
	json_object_set_new(seccomp, "listenerPath", json_string(listener));
}

int
bundle_config(const struct runtime_spec *spec, const char *etc_dir, json_t **ret_config,
              struct ab_err *err)
{
	int r = bundle_spec_validate(spec, err);
	if (r < 0)
		return r;

	json_t *seccomp = NULL;
	if (spec->seccomp_path) {
		json_error_t jerr;
		seccomp = json_load_file(spec->seccomp_path, 0, &jerr);
		if (!seccomp || !json_is_object(seccomp)) {
			json_decref(seccomp);
			return ab_err_set(err, EINVAL, "seccomp profile '%s': %s (line %d)",
			                  spec->seccomp_path, jerr.text, jerr.line);
		}
		/* Our own annotation, not part of the OCI schema. */
		json_object_del(seccomp, "comment");
		if (spec->seccomp_listener)
			seccomp_to_notify(seccomp, spec->seccomp_listener);
	}

	_cleanup_free_ char *home = ab_xasprintf("/home/%s", spec->user);
	_cleanup_free_ char *hostname =
	    spec->hostname ? ab_xstrdup(spec->hostname) : ab_xasprintf("argobox-%s", spec->user);
	_cleanup_free_ char *cgroup = ab_xasprintf(
	    "/%s/%s", spec->cgroup_parent ? spec->cgroup_parent : "argobox", spec->user);

	json_t *env = json_array();
	if (spec->path_prepend)
		json_array_append_new(
		    env, json_sprintf("PATH=%s:/usr/local/bin:/usr/bin:/bin", spec->path_prepend));
	else
		json_array_append_new(env, json_string("PATH=/usr/local/bin:/usr/bin:/bin"));
	json_array_append_new(env, json_sprintf("HOME=%s", home));
	json_array_append_new(env, json_sprintf("USER=%s", spec->user));
	json_array_append_new(env, json_sprintf("LOGNAME=%s", spec->user));
	json_array_append_new(env, json_string("SHELL=/bin/bash"));
	json_array_append_new(env, json_string("LANG=C.UTF-8"));
	json_array_append_new(env, json_string("XDG_RUNTIME_DIR=/run/argobox"));
	json_array_append_new(env, json_sprintf("ARGOBOX_ROLE=%s", runtime_role_name(spec->role)));
	for (size_t i = 0; spec->env && spec->env[i]; i++)
		json_array_append_new(env, json_string(spec->env[i]));

	json_t *caps = str_array(spec->caps);
	json_t *capabilities =
	    json_pack("{s:O, s:O, s:O, s:O, s:O}", "bounding", caps, "effective", caps, "permitted",
	              caps, "inheritable", caps, "ambient", caps);
	json_decref(caps);

	json_t *process = json_pack(
	    "{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:b, s:[{s:s, s:i, s:i}], s:i}", "terminal", 0,
	    "user", "uid", (int)spec->uid, "gid", (int)spec->gid, "args", str_array(spec->argv),
	    "env", env, "cwd", home, "capabilities", capabilities, "noNewPrivileges", 1, "rlimits",
	    "type", "RLIMIT_NOFILE", "hard", 4096, "soft", 4096, "oomScoreAdj", 500);
	if (spec->apparmor_profile && bundle_apparmor_enabled())
		json_object_set_new(process, "apparmorProfile",
		                    json_string(spec->apparmor_profile));

	uid_t host = bundle_host_id(spec);
	static const char *const masked[] = {"/proc/acpi",
	                                     "/proc/asound",
	                                     "/proc/kcore",
	                                     "/proc/keys",
	                                     "/proc/latency_stats",
	                                     "/proc/timer_list",
	                                     "/proc/timer_stats",
	                                     "/proc/sched_debug",
	                                     "/proc/scsi",
	                                     "/proc/kallsyms",
	                                     "/sys/firmware",
	                                     "/sys/kernel/debug",
	                                     "/sys/kernel/security",
	                                     "/sys/devices/virtual/powercap",
	                                     NULL};
	static const char *const ro_paths[] = {
	    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

	json_t *linux_ = json_pack(
	    "{s:[{s:i, s:I, s:i}], s:[{s:i, s:I, s:i}], s:o, s:s, s:o, s:o, s:o}", "uidMappings",
	    "containerID", 0, "hostID", (json_int_t)host, "size", (int)BUNDLE_IDS_PER_USER,
	    "gidMappings", "containerID", 0, "hostID", (json_int_t)host, "size",
	    (int)BUNDLE_IDS_PER_USER, "namespaces", build_namespaces(spec), "cgroupsPath", cgroup,
	    "resources", build_resources(spec), "maskedPaths", str_array(masked), "readonlyPaths",
	    str_array(ro_paths));
	if (seccomp)
		json_object_set_new(linux_, "seccomp", seccomp);

	_cleanup_free_ char *index = ab_xasprintf("%u", spec->index);
	json_t *config = json_pack(
	    "{s:s, s:{s:s, s:b}, s:o, s:s, s:o, s:o, s:{s:s, s:s, s:s}}", "ociVersion", "1.0.2",
	    "root", "path", "rootfs", "readonly", spec->read_only_root, "process", process,
	    "hostname", hostname, "mounts", build_mounts(spec, etc_dir), "linux", linux_,
	    "annotations", "org.argobox.user", spec->user, "org.argobox.role",
	    runtime_role_name(spec->role), "org.argobox.index", index);
	AB_ASSERT(config);
	*ret_config = config;
	return 0;
}

static int
write_text(const char *dir, const char *name, const char *text, struct ab_err *err)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/%s", dir, name);
	return ab_write_file_atomic(path, text, strlen(text), 0644, err);
}

int
bundle_write_etc(const struct runtime_spec *spec, const char *etc_dir, struct ab_err *err)
{
	int r = ab_mkdir_p(etc_dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *passwd = ab_xasprintf(
	    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	    "%s:x:%u:%u:%s:/home/%s:/bin/bash\n",
	    spec->user, (unsigned)spec->uid, (unsigned)spec->gid, spec->user, spec->user);
	_cleanup_free_ char *group = ab_xasprintf(
	    "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n%s:x:%u:\n", spec->user, (unsigned)spec->gid);
	_cleanup_free_ char *hostname = spec->hostname ? ab_xasprintf("%s\n", spec->hostname)
	                                               : ab_xasprintf("argobox-%s\n", spec->user);
	_cleanup_free_ char *hosts =
	    ab_xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s", hostname);
	if ((r = write_text(etc_dir, "passwd", passwd, err)) < 0 ||
	    (r = write_text(etc_dir, "group", group, err)) < 0 ||
	    (r = write_text(etc_dir, "hostname", hostname, err)) < 0 ||
	    (r = write_text(etc_dir, "hosts", hosts, err)) < 0 ||
	    (r = write_text(etc_dir, "nsswitch.conf",
	                    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
	                    err)) < 0 ||
	    (r = write_text(etc_dir, "shells", "/bin/sh\n/bin/bash\n", err)) < 0)
		return ab_err_wrap(err, "writing /etc for '%s'", spec->user);
	/* Mount points for the host /etc entries shared read-only (see build_mounts). */
	for (size_t i = 0; etc_shared[i]; i++) {
		_cleanup_free_ char *src =
		    ab_xasprintf("%s/etc/%s", spec->image ? spec->image : "", etc_shared[i]);
		_cleanup_free_ char *dst = ab_xasprintf("%s/%s", etc_dir, etc_shared[i]);
		struct stat st;
		if (stat(src, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0 && errno != EEXIST)
				return ab_err_errno(err, errno, "creating '%s'", dst);
		} else {
			_cleanup_close_ int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				return ab_err_errno(err, errno, "creating '%s'", dst);
		}
	}
	/* resolv.conf: the container asks the allowed resolver on its gateway. */
	if (access("/etc/resolv.conf", R_OK) == 0) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (ab_read_file("/etc/resolv.conf", 65536, &data, &len, NULL) >= 0)
			return write_text(etc_dir, "resolv.conf", data, err);
	}
	return write_text(etc_dir, "resolv.conf", "", err);
}

static int
skeleton(const struct runtime_spec *spec, const char *rootfs, struct ab_err *err)
{
	static const char *const dirs[] = {"usr", "etc",  "proc", "dev", "sys", "tmp",
	                                   "run", "home", "root", "var", NULL};
	static const char *const links[][2] = {{"bin", "usr/bin"},
	                                       {"lib", "usr/lib"},
	                                       {"lib64", "usr/lib64"},
	                                       {"sbin", "usr/sbin"},
	                                       {"var/tmp", "../tmp"}};
	int r = ab_mkdir_p(rootfs, 0755, err);
	if (r < 0)
		return r;
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = ab_xasprintf("%s/%s", rootfs, dirs[i]);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return ab_err_errno(err, errno, "creating '%s'", p);
	}
	/* runc gives a tmpfs the mode of its mount point. */
	_cleanup_free_ char *tmp = ab_xasprintf("%s/tmp", rootfs);
	if (chmod(tmp, 01777) < 0)
		return ab_err_errno(err, errno, "chmod '%s'", tmp);
	_cleanup_free_ char *home = ab_xasprintf("%s/home/%s", rootfs, spec->user);
	if (mkdir(home, 0755) < 0 && errno != EEXIST)
		return ab_err_errno(err, errno, "creating '%s'", home);
	for (size_t i = 0; i < AB_ARRAY_SIZE(links); i++) {
		_cleanup_free_ char *p = ab_xasprintf("%s/%s", rootfs, links[i][0]);
		if (symlink(links[i][1], p) < 0 && errno != EEXIST)
			return ab_err_errno(err, errno, "creating '%s'", p);
	}
	/* Mount points for extra binds must exist in a read-only root. */
	for (size_t i = 0; i < spec->n_mounts; i++) {
		_cleanup_free_ char *p = ab_xasprintf("%s%s", rootfs, spec->mounts[i].dest);
		struct stat st;
		if (stat(spec->mounts[i].source, &st) < 0)
			return ab_err_errno(err, errno, "extra mount '%s'", spec->mounts[i].source);
		_cleanup_free_ char *parent = ab_xstrdup(p);
		*strrchr(parent, '/') = '\0';
		if ((r = ab_mkdir_p(parent, 0755, err)) < 0)
			return r;
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return ab_err_errno(err, errno, "creating '%s'", p);
		} else {
			_cleanup_close_ int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				return ab_err_errno(err, errno, "creating '%s'", p);
		}
	}
	return 0;
}

/* The user's host directories belong to the user's mapped uid, 0700. */
static int
own_host_dir(const struct runtime_spec *spec, const char *dir, struct ab_err *err)
{
	uid_t host = bundle_host_id(spec);
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	/* Through the directory itself, never a symlink put in its place. */
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ab_err_errno(err, errno, "opening '%s'", dir);
	if (fchown(fd, host + spec->uid, host + spec->gid) < 0)
		return ab_err_errno(err, errno, "chown '%s'", dir);
	if (fchmod(fd, 0700) < 0)
		return ab_err_errno(err, errno, "chmod '%s'", dir);
	return 0;
}

int
bundle_write(const struct runtime_spec *spec, const char *dir, struct ab_err *err)
{
	int r = bundle_spec_validate(spec, err);
	if (r < 0)
		return r;
	if ((r = ab_mkdir_p(dir, 0711, err)) < 0)
		return r;
	chmod(dir, 0711);
	_cleanup_free_ char *rootfs = ab_xasprintf("%s/rootfs", dir);
	_cleanup_free_ char *etc = ab_xasprintf("%s/etc", dir);
	_cleanup_free_ char *path = ab_xasprintf("%s/config.json", dir);
	if ((r = skeleton(spec, rootfs, err)) < 0 || (r = bundle_write_etc(spec, etc, err)) < 0)
		return ab_err_wrap(err, "bundle for '%s'", spec->user);
	if ((r = own_host_dir(spec, spec->runtime_dir, err)) < 0 ||
	    (spec->home_dir && (r = own_host_dir(spec, spec->home_dir, err)) < 0))
		return ab_err_wrap(err, "bundle for '%s'", spec->user);

	json_t *config = NULL;
	if ((r = bundle_config(spec, etc, &config, err)) < 0)
		return ab_err_wrap(err, "bundle for '%s'", spec->user);
	_cleanup_free_ char *text = json_dumps(config, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(config);
	AB_ASSERT(text);
	r = ab_write_file_atomic(path, text, strlen(text), 0644, err);
	if (r < 0)
		return ab_err_wrap(err, "bundle for '%s'", spec->user);
	return 0;
}

/* Removes name under dfd; never crosses into another filesystem (a mount left behind). */
static int
rm_rf_at(int dfd, const char *name, dev_t dev)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int q = rm_rf_at(dirfd(d), de->d_name, dev);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int
bundle_remove(const char *dir, struct ab_err *err)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : ab_err_errno(err, errno, "removing bundle '%s'", dir);
	int r = rm_rf_at(AT_FDCWD, dir, st.st_dev);
	if (r < 0)
		return ab_err_errno(err, -r, "removing bundle '%s'", dir);
	return 0;
}
