/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nsexec: runs a command inside a running desktop container, as `argoboxctl exec` (root on
 * the host) does, with everything the container's first process has and nothing of the
 * host's (docs/argoboxctl.md):
 *
 *   - the process is named by a pidfd, checked against the start time the broker reported
 *     (a reused pid is refused);
 *   - its cgroups (every v1 hierarchy and the unified one: /proc/PID/cgroup), joined first,
 *     while the host's /sys is still in view;
 *   - all of its namespaces that differ from ours, joined at once through the pidfd (user,
 *     mount, pid, network, ipc, uts, cgroup, time); then a fork, so the command is inside
 *     the pid namespace;
 *   - its credentials (uid, gid, supplementary groups, mapped to the ids inside), its
 *     capability sets (bounding, permitted, effective, inheritable, ambient) and
 *     no_new_privs;
 *   - its seccomp filters, read from the process itself (PTRACE_SECCOMP_GET_FILTER) and
 *     installed in the same order: the exact filter, not a copy of the profile;
 *   - and, through the container's own argobox-session binary (`--exec`), the Landlock
 *     policy its desktop command gets.
 * stdin, stdout and stderr pass through; when stdin or stdout is a terminal, the command gets
 * a new pseudo-terminal instead (raw mode relay), so it never holds the admin's host
 * terminal (TIOCSTI). Anything that cannot be joined or applied is an error: nothing runs
 * half-confined.
 */
#ifndef BROKER_NSEXEC_H
#define BROKER_NSEXEC_H

#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"

/* A process's credentials and capabilities as /proc/PID/status gives them (host ids). */
struct nsexec_creds {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int n_groups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	int seccomp; /* 0 none, 1 strict, 2 filter */
};

/* Parses the text of /proc/PID/status. 0 or -EINVAL (a line missing or malformed). */
int nsexec_parse_status(const char *text, struct nsexec_creds *ret, struct ab_err *err);

/*
 * Maps `id` (seen from outside) through the text of a uid_map/gid_map ("inside outside
 * count" lines) to the id inside. 0 with *ret set, -ERANGE when no line maps it.
 */
int nsexec_map_id(const char *map, uint32_t id, uint32_t *ret);

/*
 * Runs argv inside the container whose first process is `pid` (started at `starttime`,
 * /proc/PID/stat field 22) and waits for it. *ret_status: its exit status (128 + signal
 * when it was killed). Returns 0, or -errno with err naming the step that failed (nothing
 * ran).
 */
int nsexec_run(pid_t pid, unsigned long long starttime, char *const argv[], int *ret_status,
               struct ab_err *err);

/* /proc/PID/stat's start time (field 22), or 0 when it cannot be read. */
unsigned long long nsexec_starttime(pid_t pid);

#endif
