/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * isolation: chooses and configures the broker's session launcher, and when
 * it is the OCI one, owns what it runs on (runtime.c, netpol.c) and turns
 * users and profiles (users.h) into container profiles.
 *
 *   struct isolation *iso;
 *   isolation_new(loop, &cfg, users_db_or_NULL, &iso, &err);   before desktop_manager_new
 *   desktops = desktop_manager_new(loop, isolation_launcher(iso), &dp);
 *   isolation_adopt(iso, desktops, &err);                       once, at start-up
 *   ... loop ... (a 1 s timer polls netpol_poll + runtime_poll_limits)
 *   desktop_manager_shutdown(); isolation_shutdown(iso); server_close(); ...; server_free();
 *   desktop_manager_free(); isolation_free(iso);
 *
 * Config (broker config.c): session.launcher "auto" | "oci" | "process";
 * storage.home_base; the "runtime" and "netpol" JSON subtrees (validated
 * here, every error names its JSON path; defaults in docs/isolation.md).
 * "auto" picks OCI when the broker runs as root and runc or crun is found,
 * else the process launcher with a loud warning that desktops are not
 * isolated. With the OCI launcher, containers outlive the broker and are
 * adopted by the next one.
 */
#ifndef BROKER_ISOLATION_H
#define BROKER_ISOLATION_H

#include <stdbool.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "broker_config.h"
#include "desktop.h"
#include "launcher_oci.h"
#include "services.h"
#include "users.h"

struct isolation;

/*
 * Validates the `runtime` and `netpol` subtrees and session.launcher
 * without touching the machine (for --check-config). 0 or -EINVAL.
 */
int isolation_check_config(const struct broker_config *cfg, struct ab_err *err);

/*
 * Chooses the launcher and, for OCI, creates the network policy and the
 * runtime driver. May canonicalise cfg->session_binary and
 * cfg->session_desktop_command[0] (the container needs real paths).
 * `users` (borrowed, must outlive the isolation) may be NULL: then the
 * config's users/profiles subtrees are loaded here, and with no users only
 * the loopback user "local" (admin-like, slot 0) may have a desktop.
 */
int isolation_new(struct ab_loop *loop, struct broker_config *cfg, const struct users_db *users,
                  struct isolation **ret, struct ab_err *err);
void isolation_set_users(struct isolation *iso, const struct users_db *users);
/*
 * The services registry (borrowed, must outlive the isolation; NULL: none). Egress follows
 * visibility: a desktop may reach every service of the registry its user may see
 * (services_visible) at the address of its URL (one source of truth), and the names of its
 * profile's network.services that the registry does not have, from netpol.services. Each
 * desktop start audits service.egress: a grant with what it may reach, a deny with what not.
 */
void isolation_set_services(struct isolation *iso, const struct services_registry *reg);
/*
 * After the registry changed (isolation_set_services with the reloaded one): every running
 * desktop's service set is made to match what its user may now see, in place (no restart,
 * no chain flushed). Each change is audited (service.egress, step "reload", with what was
 * added and removed). Returns how many desktops changed, or the first -errno (the others
 * are still updated).
 */
int isolation_refresh_services(struct isolation *iso, struct ab_err *err);

/*
 * Identities outside the users table (demo-<hex>, docs/auth.md): authn
 * answers who they are. Without a resolver, "demo-*" names get the demo role
 * with the tightest defaults (no LAN, no services, 1 CPU, 1 GiB, 512 pids)
 * and every other unknown name is refused. Such identities get a slot after
 * the table's; their containers are not adopted after a restart (stopped).
 */
struct isolation_identity {
	enum users_role role;
	const struct users_profile *profile; /* may be NULL */
	uid_t uid, gid;                      /* inside the container */
};
typedef int (*isolation_resolve_fn)(const char *user, struct isolation_identity *ret, void *data);
void isolation_set_resolver(struct isolation *iso, isolation_resolve_fn fn, void *data);
/*
 * Called before a container that mounts `user`'s home starts (and when a running one is
 * adopted): makes the home ready (files/: an SMB home is mounted). A failure stops the start.
 */
typedef int (*isolation_home_fn)(void *data, const char *user, struct ab_err *err);
void isolation_set_home_hook(struct isolation *iso, isolation_home_fn fn, void *data);
/*
 * Called before a container starts when runtime.image is unset: the root of the desktop image
 * for `user`'s profile (`prof` may be NULL) in *ret_root (borrowed until the next call), or
 * NULL for the host's /usr. A failure (image not built yet) stops the start, audited.
 */
typedef int (*isolation_image_fn)(void *data, const char *user, const struct users_profile *prof,
                                  const char **ret_root, struct ab_err *err);
void isolation_set_image_hook(struct isolation *iso, isolation_image_fn fn, void *data);
/*
 * Before the loop goes (server_close): stops the poll timer and lets go of
 * the runtime's watches; containers keep running. The launcher stays usable
 * for desktop_manager_free (release), then isolation_free frees it.
 */
void isolation_shutdown(struct isolation *iso);
void isolation_free(struct isolation *iso);

/* The launcher to hand to desktop_manager_new (owned by the isolation). */
struct launcher *isolation_launcher(struct isolation *iso);
/* true when desktops run in containers. */
bool isolation_is_oci(const struct isolation *iso);
/* true when a container's image comes from the image hook (OCI, no fixed runtime.image). */
bool isolation_images_used(const struct isolation *iso);
/* "runc", "crun" or "process". */
const char *isolation_launcher_name(const struct isolation *iso);

/*
 * Starts adopting the containers a previous broker left running (OCI only;
 * no-op otherwise): running ones become ready desktops of `m`, stopped
 * leftovers are removed. Asynchronous; isolation_adopt_pending() tells
 * when it is over.
 */
int isolation_adopt(struct isolation *iso, struct desktop_manager *m, struct ab_err *err);
bool isolation_adopt_pending(const struct isolation *iso);

/*
 * The container profile of `user` (the launcher_oci_profile_fn). Pointers
 * in *ret point into `iso` and stay valid until the next call.
 * -EPERM (audited) for a user that is not in the users table.
 */
int isolation_profile_for(const char *user, struct launcher_oci_profile *ret, void *iso,
                          struct ab_err *err);

#endif
