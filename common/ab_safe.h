/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_safe: reaching things in directories someone else can write
 * (docs/isolation.md, "what the broker trusts").
 *
 * A user's runtime dir and home are writable from inside the user's
 * container, so any name in them may be swapped for a symlink, a hard link or
 * a socket of the user's own at any time. Files there are opened with
 * ab_open_beneath() (no symlink in any component, never above the directory);
 * a unix socket cannot be connected without following a symlink, so
 * ab_unix_connect_peer() returns who actually answered (SO_PEERCRED) and the
 * caller checks that it is the process it meant to reach before a byte goes
 * either way.
 */
#ifndef AB_SAFE_H
#define AB_SAFE_H

#include <sys/socket.h>
#include <sys/types.h>

/*
 * openat2(dirfd, name, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS); where openat2 is missing, each component is
 * opened with O_NOFOLLOW (".." refused). O_CLOEXEC is always added. Returns
 * the fd or -errno (-ELOOP: a symlink on the way, -EXDEV: outside dirfd).
 */
int ab_open_beneath(int dirfd, const char *name, int flags, mode_t mode);

/*
 * Connects a non-blocking, close-on-exec unix stream socket to `path` and
 * reads the peer's credentials (pid in our pid namespace, uid, gid; pid 0
 * when the listener is gone). Nothing is sent. Returns the fd or -errno.
 */
int ab_unix_connect_peer(const char *path, struct ucred *ret_peer);

/*
 * What is at `path`, without following it, for an audit line: "socket",
 * "symlink to '<target>'", "regular file", "directory", "missing", ...
 * (malloc'ed, never NULL).
 */
char *ab_path_describe(const char *path);

/* The executable of `pid` as /proc shows it, or "?" (malloc'ed, never NULL). */
char *ab_pid_exe(pid_t pid);

#endif
