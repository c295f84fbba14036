/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * landlock: confines the desktop command (the window manager and every
 * program it launches) with the kernel's Landlock LSM, without privilege.
 *
 * The session builds a policy once (landlock_policy_default()): which paths
 * may be read and executed, which may also be written, plus signal scoping.
 * The supervisor applies it in the forked child right before execvp
 * (landlock_apply()); everything the desktop starts inherits the domain.
 *
 * Best effort across kernels: landlock_abi() reports the running ABI and the
 * access masks are cut down to what it knows (REFER needs ABI 2, TRUNCATE 3,
 * IOCTL_DEV 5, signal scoping 6). Paths that do not exist are skipped.
 * Abstract unix sockets are never scoped: X clients reach the X server there.
 */
#ifndef SESSION_LANDLOCK_H
#define SESSION_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"

/* Landlock access rights (uapi values; the build's headers may predate some). */
#define LANDLOCK_FS_EXECUTE     (1ULL << 0)
#define LANDLOCK_FS_WRITE_FILE  (1ULL << 1)
#define LANDLOCK_FS_READ_FILE   (1ULL << 2)
#define LANDLOCK_FS_READ_DIR    (1ULL << 3)
#define LANDLOCK_FS_REMOVE_DIR  (1ULL << 4)
#define LANDLOCK_FS_REMOVE_FILE (1ULL << 5)
#define LANDLOCK_FS_MAKE_CHAR   (1ULL << 6)
#define LANDLOCK_FS_MAKE_DIR    (1ULL << 7)
#define LANDLOCK_FS_MAKE_REG    (1ULL << 8)
#define LANDLOCK_FS_MAKE_SOCK   (1ULL << 9)
#define LANDLOCK_FS_MAKE_FIFO   (1ULL << 10)
#define LANDLOCK_FS_MAKE_BLOCK  (1ULL << 11)
#define LANDLOCK_FS_MAKE_SYM    (1ULL << 12)
#define LANDLOCK_FS_REFER       (1ULL << 13) /* ABI 2 */
#define LANDLOCK_FS_TRUNCATE    (1ULL << 14) /* ABI 3 */
#define LANDLOCK_FS_IOCTL_DEV   (1ULL << 15) /* ABI 5 */
#define LANDLOCK_SCOPE_SIG      (1ULL << 1)  /* ABI 6 (scoped): LANDLOCK_SCOPE_SIGNAL */

/* What a read-only rule grants. */
#define LANDLOCK_FS_RO (LANDLOCK_FS_EXECUTE | LANDLOCK_FS_READ_FILE | LANDLOCK_FS_READ_DIR)
/* What a read-write rule grants: everything (the handled set cuts it down). */
#define LANDLOCK_FS_RW ((LANDLOCK_FS_IOCTL_DEV << 1) - 1)
/* /dev: read and write existing device nodes (null, zero, pts, dri...), create nothing. */
#define LANDLOCK_FS_DEV                                                                            \
	(LANDLOCK_FS_READ_FILE | LANDLOCK_FS_WRITE_FILE | LANDLOCK_FS_READ_DIR |                   \
	 LANDLOCK_FS_TRUNCATE | LANDLOCK_FS_IOCTL_DEV)
/* The rights that make sense on a non-directory (others make add_rule fail). */
#define LANDLOCK_FS_FILE_ONLY                                                                      \
	(LANDLOCK_FS_EXECUTE | LANDLOCK_FS_WRITE_FILE | LANDLOCK_FS_READ_FILE |                    \
	 LANDLOCK_FS_TRUNCATE | LANDLOCK_FS_IOCTL_DEV)

enum landlock_mode {
	LANDLOCK_MODE_AUTO, /* apply when the kernel has Landlock */
	LANDLOCK_MODE_ON,   /* failing to apply is fatal for the desktop command */
	LANDLOCK_MODE_OFF,
	LANDLOCK_MODE_MAX,
};

struct landlock_rule {
	char *path; /* owned, absolute */
	uint64_t access;
};

struct landlock_policy {
	struct landlock_rule *rules; /* owned */
	size_t n, cap;
	bool scope_signals;
};

/* What the default policy is built from (all borrowed; NULL = none). */
struct landlock_paths {
	const char *home;            /* $HOME: read-write ("/" is refused) */
	const char *runtime_dir;     /* the session's runtime dir: read-write */
	const char *xdg_runtime;     /* $XDG_RUNTIME_DIR: read-write */
	const char *const *extra_rw; /* NULL-terminated */
	const char *const *extra_ro; /* NULL-terminated */
	const char *const *own_ro;   /* NULL-terminated: the command, ArgoBox's own files */
};

/* "auto", "on", "off" -> mode; -EINVAL for anything else. */
int landlock_mode_from_string(const char *s);

/*
 * The running kernel's Landlock ABI version (>= 1), or -errno: -ENOSYS (not
 * built in), -EOPNOTSUPP (built in but disabled at boot).
 */
int landlock_abi(void);

/* The filesystem rights a ruleset handles under `abi` (0 if abi < 1). */
uint64_t landlock_fs_handled(int abi);
/* The scopes (LANDLOCK_SCOPE_*) a ruleset handles under `abi`, limited to signals. */
uint64_t landlock_scoped(int abi);
/* `access` cut down to what `abi` knows. */
uint64_t landlock_downgrade(uint64_t access, int abi);

void landlock_policy_init(struct landlock_policy *p);
void landlock_policy_free(struct landlock_policy *p);
/*
 * Adds `path` with `access`. A path that does not exist is skipped (returns
 * 0); added: 1. A path that is not absolute: -EINVAL. A path already in the
 * policy gets the union of both rights.
 */
int landlock_policy_add(struct landlock_policy *p, const char *path, uint64_t access,
                        struct ab_err *err);
/*
 * The desktop's policy: read+exec on /usr, /etc, /lib*, /bin, /sbin, /opt,
 * /var, /run, /proc, /sys; /dev read+write (no creation); read-write on $HOME,
 * /tmp, /var/tmp, /dev/shm, /run/user/<uid>, $XDG_RUNTIME_DIR, the runtime dir;
 * `own_ro`, `extra_rw` and `extra_ro`; signals scoped. Missing paths are skipped.
 */
int landlock_policy_default(struct landlock_policy *p, const struct landlock_paths *in,
                            struct ab_err *err);
/* `cmd` as execvp would find it (through $PATH when it has no '/'), malloc'ed, or NULL. */
char *landlock_which(const char *cmd);
/* One line describing the policy ("rw: /home/a /tmp; ro: /usr ..."), malloc'ed. */
char *landlock_policy_describe(const struct landlock_policy *p);

/*
 * Confines the calling process (and its future children) with `p` under
 * `abi`: creates the ruleset, adds each rule (rights cut to the ABI and, for
 * non-directories, to file rights), sets no_new_privs, restricts self.
 * Meant for a forked child: allocates nothing. Returns 0 or -errno with `err`
 * naming the step (and the path) that failed.
 */
int landlock_apply(const struct landlock_policy *p, int abi, struct ab_err *err);

#endif
