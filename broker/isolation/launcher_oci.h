/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * launcher_oci: the desktop manager's `struct launcher` (desktop.h) on top of
 * runtime.c, so every session runs in its own OCI container instead of a
 * plain child process:
 *
 *   struct launcher *l = launcher_oci_new(loop, rt, cfg.session_binary, profile_for, users);
 *   desktop_manager_new(loop, l, ...);      (instead of launcher_process_new)
 *
 * For each start it asks `profile_for(user)` for the user's container profile
 * (role, slot index, uid inside, limits, caps, home, seccomp/AppArmor, network
 * policy), then runs
 *   argobox-session --runtime-dir /run/argobox --geometry WxH --ready-fd 3 -- CMD...
 * in the container (the session binary is bind-mounted read-only at
 * /opt/argobox/argobox-session unless it lives under /usr, which the
 * container sees anyway). LAUNCH_READY when the session says READY;
 * LAUNCH_EXITED exactly once: after a stop, a failed start or the container
 * dying. shutdown() leaves the containers running: desktops persist and a
 * restarted broker finds them again with runtime_adopt().
 */
#ifndef BROKER_LAUNCHER_OCI_H
#define BROKER_LAUNCHER_OCI_H

#include <stdbool.h>

#include "desktop.h"
#include "netpol.h"
#include "runtime.h"

/* What the broker knows about a user; pointers must stay valid until runtime_start returns. */
struct launcher_oci_profile {
	struct runtime_spec spec; /* user, runtime_dir and argv are filled by the launcher */
	struct netpol_user net;   /* .user/.role/.index filled by the launcher from spec */
	bool has_net;             /* false: an empty network namespace, no veth */
};

typedef int (*launcher_oci_profile_fn)(const char *user, struct launcher_oci_profile *ret,
                                       void *data, struct ab_err *err);

/* `rt` stays the caller's (free it after the launcher). */
struct launcher *launcher_oci_new(struct ab_loop *loop, struct runtime *rt,
                                  const char *session_binary, launcher_oci_profile_fn profile_for,
                                  void *data);

/*
 * Forgets the runtime (broker shutdown: before runtime_free and the loop go).
 * Afterwards stop and pid do nothing; release and free still work.
 */
void launcher_oci_detach(struct launcher *l);

#endif
