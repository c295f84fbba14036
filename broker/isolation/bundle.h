/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bundle: turns a user's desktop profile (struct runtime_spec) into an OCI
 * bundle: config.json plus a tiny rootfs skeleton and a generated /etc.
 *
 * The root filesystem is a read-only view of the host: rootfs/ is an empty
 * directory holding only mount points and the usr-merge symlinks (bin, lib,
 * lib64, sbin -> usr/...); /usr is bind-mounted read-only, /etc is generated
 * per user into <bundle>/etc and bind-mounted read-only, /tmp and /run are
 * tmpfs, /home/<user> is the user's storage (rw bind) or a tmpfs (demo).
 *
 * Isolation written into config.json (docs/isolation.md):
 *   - user namespace: container ids 0..65535 map to host ids
 *     host_id_base + index * 65536 .. + 65535, so no two users share a host id;
 *   - pid, ipc, uts, mount, cgroup namespaces; the network namespace is the
 *     one netpol created (netns_path) or a fresh, empty one;
 *   - cgroup v1 limits (memory, cpu quota, pids) under /argobox/<user>;
 *   - capabilities: exactly `caps` (default none), noNewPrivileges,
 *     the seccomp profile (OCI JSON) from `seccomp_path`, the AppArmor profile
 *     when the kernel has AppArmor, maskedPaths and readonlyPaths, /sys
 *     read-only (recursive read-only bind), read-only root for demo.
 */
#ifndef BROKER_BUNDLE_H
#define BROKER_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"

#define BUNDLE_IDS_PER_USER 65536u
#define BUNDLE_USER_MAX     32

enum runtime_role {
	RUNTIME_ROLE_ADMIN,
	RUNTIME_ROLE_MEMBER,
	RUNTIME_ROLE_DEMO,
	RUNTIME_ROLE_MAX,
};

/* An extra bind mount (read-only unless rw). Strings are borrowed. */
struct runtime_mount {
	const char *source; /* host path */
	const char *dest;   /* absolute path inside */
	bool rw;
};

/*
 * Everything needed to start one user's desktop. All pointers are borrowed
 * for the duration of the call that receives the spec (runtime_start copies
 * what it keeps).
 */
struct runtime_spec {
	const char *user;       /* [a-z_][a-z0-9_-]{0,31} */
	enum runtime_role role; /* admin, member, demo */
	unsigned index;         /* the user's slot: host id range and network subnet */
	uid_t uid;              /* inside, e.g. daniel = 1000 */
	gid_t gid;
	uid_t host_id_base; /* host ids start at host_id_base + index * 65536 (e.g. 100000) */

	int64_t memory_bytes; /* 0: no limit */
	int64_t cpu_millis;   /* 1000 = one core; 0: no limit */
	int64_t pids_max;     /* 0: no limit */

	const char *const *caps;      /* NULL-terminated "CAP_..." list; NULL = none */
	bool read_only_root;          /* demo: true */
	const char *home_dir;         /* host dir bound rw at /home/<user>; NULL: tmpfs home */
	int64_t tmp_home_mb;          /* that tmpfs home's size; 0: 256 MiB */
	const char *runtime_dir;      /* host dir bound rw at /run/argobox (sockets) */
	const char *netns_path;       /* NULL: a new, empty network namespace */
	const char *seccomp_path;     /* OCI seccomp JSON (containers/seccomp/default.json) */
	const char *seccomp_listener; /* unix socket: EPERM rules become audited NOTIFY rules */
	const char *apparmor_profile; /* applied only where AppArmor is enabled; may be NULL */
	const char *image;            /* a root filesystem (containers/rootfs/) whose /usr and /etc
	                                 entries replace the host's; NULL: the host view */
	const char *hostname;         /* NULL: "argobox-<user>" */
	const char *path_prepend;     /* a directory put before /usr/local/bin on PATH, or NULL */
	const char *cgroup_parent;    /* NULL: "argobox" */

	const char *const *argv;            /* NULL-terminated command */
	const char *const *env;             /* NULL-terminated extra "K=V"; may be NULL */
	const struct runtime_mount *mounts; /* extra read-only binds (tests, apps) */
	size_t n_mounts;
	unsigned preserve_fds; /* fds 3.. passed in (runc --preserve-fds), e.g. the ready fd */
};

/* Validates a spec at the boundary (user name, ids, paths, command). */
int bundle_spec_validate(const struct runtime_spec *spec, struct ab_err *err);

/* The first host uid/gid of the user's range. */
uid_t bundle_host_id(const struct runtime_spec *spec);

/* true where /sys/module/apparmor/parameters/enabled says Y. */
bool bundle_apparmor_enabled(void);

/*
 * Builds the OCI config.json object for `spec` (new reference). `etc_dir` is
 * the host directory bound at /etc. Fails on an unreadable seccomp profile.
 */
int bundle_config(const struct runtime_spec *spec, const char *etc_dir, json_t **ret_config,
                  struct ab_err *err);

/* The generated /etc files: passwd, group, hosts, hostname, nsswitch.conf, resolv.conf. */
int bundle_write_etc(const struct runtime_spec *spec, const char *etc_dir, struct ab_err *err);

/*
 * Writes the whole bundle into `dir` (created 0711): dir/config.json
 * (atomically), dir/rootfs (skeleton), dir/etc. Existing content is replaced.
 */
int bundle_write(const struct runtime_spec *spec, const char *dir, struct ab_err *err);

/* Removes a bundle directory written by bundle_write(). Missing is fine. */
int bundle_remove(const char *dir, struct ab_err *err);

const char *runtime_role_name(enum runtime_role role);
/* Parses "admin", "member", "demo"; -EINVAL otherwise. */
int runtime_role_from_string(const char *s);

#endif
