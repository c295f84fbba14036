/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_err: the one error type carried up the call chain.
 *
 * A fallible function returns >= 0 on success and -errno on failure, and
 * takes `struct ab_err *err` as its last argument. The function that fails
 * first calls ab_err_set(); callers on the way up add context with
 * ab_err_wrap(). The message is logged once, where the error is handled.
 * `err` may be NULL: then nothing is recorded but the return value stands.
 */
#ifndef AB_ERR_H
#define AB_ERR_H

#include <stddef.h>

#define AB_ERR_MSG_MAX 1024

struct ab_err {
	int code;                 /* positive errno value, 0 when unset */
	char msg[AB_ERR_MSG_MAX]; /* human readable, context first */
};

/* Records `code` (a positive errno) and a formatted message. Returns -code. */
int ab_err_set(struct ab_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ab_err_set() and appends ": strerror(code)". Returns -code. */
int ab_err_errno(struct ab_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prepends "context: " to the recorded message. Returns -err->code (or
 * -EIO when no error was recorded), so `return ab_err_wrap(err, ...)` reads well.
 */
int ab_err_wrap(struct ab_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the error. */
void ab_err_clear(struct ab_err *err);

#endif
