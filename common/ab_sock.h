/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_sock: unix stream sockets. */
#ifndef AB_SOCK_H
#define AB_SOCK_H

#include <sys/types.h>

#include "ab_err.h"

/*
 * Creates a listening unix stream socket at `path` (an existing socket file
 * there is replaced), with mode `mode`, non-blocking and close-on-exec.
 * Returns the fd or -errno.
 */
int ab_unix_listen(const char *path, mode_t mode, struct ab_err *err);

/* Connects to the unix stream socket at `path`; blocking, close-on-exec. */
int ab_unix_connect(const char *path, struct ab_err *err);

#endif
