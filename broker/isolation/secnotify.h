/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * secnotify: the broker's seccomp user-notification listener.
 *
 * With a listener configured, bundle.c turns the seccomp profile's EPERM
 * rules (mount, ptrace, module loading, unshare/setns, bpf, keyctl,
 * namespace-creating clone, ...) into SCMP_ACT_NOTIFY and points the OCI
 * runtime at `path` (linux.seccomp.listenerPath). At container creation the
 * runtime connects and hands over the notification fd with the container
 * state; from then on each attempt of a denied call by anything in the
 * container reaches the broker's loop, which audits it ("container.seccomp",
 * deny, {syscall, nr, pid}) and answers EPERM. Nothing is ever allowed here.
 *
 * The broker runs one listener per container in its own process,
 * argobox-seccomp-shim (seccomp_shim.c), so that auditing outlives a broker
 * restart; the shim exits when the container's last task is gone. With a
 * shared in-process listener (runtime.seccomp_listener) the fd closes with
 * the broker and the kernel fails those calls with ENOSYS instead: still
 * denied, no longer audited (docs/isolation.md).
 * Audit volume is bounded: at most SECNOTIFY_BURST events per container per
 * second; the rest are counted and reported in the next event.
 */
#ifndef BROKER_SECNOTIFY_H
#define BROKER_SECNOTIFY_H

#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"

#define SECNOTIFY_BURST 20

struct secnotify;

/* Listens on the unix socket `path` (replaced if present, mode 0600). */
int secnotify_new(struct ab_loop *loop, const char *path, struct secnotify **ret,
                  struct ab_err *err);
/* Same on an already listening socket, which it takes over (argobox-seccomp-shim). */
int secnotify_new_fd(struct ab_loop *loop, int listen_fd, struct secnotify **ret,
                     struct ab_err *err);
void secnotify_free(struct secnotify *sn);

/* Closes the listening socket (no further runtime can hand over an fd). */
void secnotify_stop_listening(struct secnotify *sn);

/* Containers whose notify fd is served now / was ever attached. */
unsigned secnotify_attached(struct secnotify *sn);
unsigned secnotify_attached_total(struct secnotify *sn);
/* Denied calls answered so far (all containers). */
int64_t secnotify_denied(struct secnotify *sn);

#endif
