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

/*
 * Sends what the stream socket `fd` takes now of the `len` (> 0) bytes at buf, without
 * blocking and without SIGPIPE, retrying on EINTR. Returns the bytes sent, 0 when the
 * socket's buffer is full (EAGAIN), or -errno (EPIPE and friends: the peer is gone).
 */
ssize_t ab_sock_send_some(int fd, const void *buf, size_t len);

#endif
