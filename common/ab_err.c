/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Records `code` (sign ignored; 0 becomes EIO) and the formatted message, with
 * ": strerror(code)" appended when `with_errno`. Returns -code. */
static int
err_vset(struct ab_err *err, int code, bool with_errno, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err) {
		int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		if (with_errno && n >= 0 && (size_t)n < sizeof(err->msg))
			snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s",
			         strerror(code));
		err->code = code;
	}
	return -code;
}

int
ab_err_set(struct ab_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = err_vset(err, code, false, fmt, ap);
	va_end(ap);
	return rc;
}

int
ab_err_errno(struct ab_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = err_vset(err, code, true, fmt, ap);
	va_end(ap);
	return rc;
}

int
ab_err_wrap(struct ab_err *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (err->code == 0)
		err->code = EIO;
	char ctx[AB_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	char old[AB_ERR_MSG_MAX];
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	size_t n = strlen(ctx);
	if (n > sizeof(err->msg) - 1)
		n = sizeof(err->msg) - 1;
	memcpy(err->msg, ctx, n);
	if (old[0] && n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		size_t m = strlen(old);
		if (m > sizeof(err->msg) - 1 - n)
			m = sizeof(err->msg) - 1 - n;
		memcpy(err->msg + n, old, m);
		n += m;
	}
	err->msg[n] = '\0';
	return -err->code;
}

void
ab_err_clear(struct ab_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
