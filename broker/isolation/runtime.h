/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * runtime: starts, watches, stops and re-adopts users' desktop containers
 * by driving an OCI runtime (runc or crun) through its command line, without
 * ever blocking the caller's event loop.
 *
 * Every runtime command (run --detach, kill, delete, list) is a child
 * process whose pidfd is watched on the loop; each step's completion starts
 * the next. The container's first process gets the write end of a pipe as
 * fd 3 (`--preserve-fds 1`); it is ready when it writes "READY\n" there
 * (argobox-session --ready-fd 3) or, when spec->ready_file is set, when that
 * file appears in the runtime dir. Its init pid is watched through a pidfd,
 * so a container that dies on its own is noticed at once.
 *
 * crun on this machine's hybrid cgroup layout: each crun command runs in a
 * private mount namespace where /sys/fs/cgroup/unified is unmounted.
 *
 * Ownership: the runtime owns its container records; callbacks receive
 * borrowed strings valid during the call. A callback may call any runtime_*
 * function, including runtime_free() is NOT allowed from a callback.
 *
 * Audit (event, outcome): container.start grant/failure, container.ready
 * info, container.stop info, container.exit failure (died unexpectedly),
 * container.adopt info, container.privileges info (caps, seccomp, apparmor,
 * userns range), container.limit deny (pids limit hit / OOM kill, from
 * runtime_poll_limits()).
 */
#ifndef BROKER_RUNTIME_H
#define BROKER_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "bundle.h"
#include "netpol.h"

struct runtime_config {
	char runtime[8];            /* "auto" (runc, then crun), "runc", "crun" */
	char runtime_path[256];     /* explicit binary; "" = found on PATH */
	char state_root[256];       /* the runtime's --root; "" = its default */
	char bundle_root[256];      /* bundles: <bundle_root>/<user> */
	char id_prefix[32];         /* container id = <id_prefix><user> */
	int ready_timeout_ms;       /* start -> ready */
	int stop_timeout_ms;        /* SIGTERM -> SIGKILL */
	char seccomp_listener[256]; /* shared in-process listener socket ("": none, see below) */
	/*
	 * Without a shared listener: argobox-seccomp-shim, started per container
	 * on <bundle>/seccomp.sock, audits denied calls and outlives the broker
	 * ("": plain EPERM, not audited). audit_path: the shim's audit log ("": stderr).
	 */
	char seccomp_shim[PATH_MAX];
	char audit_path[PATH_MAX];
};

extern const struct runtime_config runtime_default_config;

struct runtime;

/*
 * Completion of runtime_start (status 0: ready) / runtime_stop (0: gone), or
 * the exit handler (status: the exit code, or -signal). `message` explains
 * a failure (NULL on success).
 */
typedef void (*runtime_cb)(struct runtime *rt, const char *user, int status, const char *message,
                           void *data);

struct runtime_info {
	char user[BUNDLE_USER_MAX + 1];
	char status[16]; /* "running", "created", "stopped", ... */
	char role[8];
	unsigned index;
	pid_t pid;
};

/* Completion of runtime_adopt: the containers found (borrowed). */
typedef void (*runtime_list_cb)(struct runtime *rt, const struct runtime_info *list, size_t n,
                                int status, void *data);

/*
 * Creates the launcher. `np` (may be NULL) is used for each start that has
 * a `net` policy: namespace + rules before the container, removed after it.
 */
int runtime_new(struct ab_loop *loop, const struct runtime_config *cfg, struct netpol *np,
                struct runtime **ret, struct ab_err *err);
/* Forgets (does not stop) the containers; cancels pending commands' watches. */
void runtime_free(struct runtime *rt);

/* "runc" or "crun": the runtime chosen. */
const char *runtime_name(struct runtime *rt);

/* Called when a running container's init exits without runtime_stop(). */
void runtime_set_exit_handler(struct runtime *rt, runtime_cb fn, void *data);

/*
 * Starts user's desktop: (network policy) -> bundle -> run --detach ->
 * ready. `net` may be NULL (no network: an empty namespace). `ready` runs
 * exactly once, with 0 when the desktop is ready or -errno and a message;
 * on failure everything started is torn down before it runs. Returns -EBUSY
 * when the user already has a container here.
 */
int runtime_start(struct runtime *rt, const struct runtime_spec *spec,
                  const struct netpol_user *net, const char *ready_file, runtime_cb ready,
                  void *data, struct ab_err *err);

/*
 * Stops the user's container: SIGTERM, SIGKILL after stop_timeout_ms,
 * delete, network policy and bundle removed. `done` runs once. -ENOENT when
 * the runtime knows no such container.
 */
int runtime_stop(struct runtime *rt, const char *user, runtime_cb done, void *data,
                 struct ab_err *err);

/*
 * After a broker restart: lists the runtime's containers with our prefix,
 * takes the running ones back under watch (and their network policy via
 * netpol_adopt when a policy is given by `policy_for`), and reports them
 * all; stopped leftovers are reported so the caller can runtime_stop() them.
 */
typedef const struct netpol_user *(*runtime_policy_fn)(const char *user, void *data);
int runtime_adopt(struct runtime *rt, runtime_policy_fn policy_for, runtime_list_cb done,
                  void *data, struct ab_err *err);

/* true when the user has a container the runtime is watching. */
bool runtime_has(struct runtime *rt, const char *user);
/* The container's init pid on the host, or -ENOENT. */
pid_t runtime_pid(struct runtime *rt, const char *user);

struct runtime_limits {
	int64_t pids_max_hits; /* fork refused by the pids limit */
	int64_t oom_kills;     /* processes killed by the memory limit */
	int64_t memory_bytes;  /* current usage */
};

/* Reads the container's cgroup v1 counters. */
int runtime_limits(struct runtime *rt, const char *user, struct runtime_limits *ret,
                   struct ab_err *err);
/* Audits container.limit deny for every new pids-limit hit / OOM kill since the last call. */
int runtime_poll_limits(struct runtime *rt);

#endif
