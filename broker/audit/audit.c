/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audit.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *const outcome_names[AUDIT_OUTCOME_MAX] = {"grant", "deny", "info", "failure"};

static struct {
	int fd; /* -1: stderr */
	audit_listener_fn listener;
	void *listener_data;
} audit = {-1, NULL, NULL};

const char *
audit_outcome_name(enum audit_outcome o)
{
	return o < AUDIT_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

int
audit_open(const char *path, struct ab_err *err)
{
	int fd = -1;
	if (path && strcmp(path, "-") != 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return ab_err_errno(err, errno, "opening audit log '%s'", path);
	}
	audit_close();
	audit.fd = fd;
	return 0;
}

void
audit_close(void)
{
	if (audit.fd >= 0)
		close(audit.fd);
	audit.fd = -1;
}

void
audit_set_listener(audit_listener_fn fn, void *data)
{
	audit.listener = fn;
	audit.listener_data = data;
}

static json_t *
str_or_null(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	return j ? j : json_string("(invalid UTF-8)");
}

void
audit_log(const char *event, enum audit_outcome outcome, const char *user, const char *role,
          const char *source, json_t *detail)
{
	char ts[40];
	ab_log_timestamp(ts, sizeof(ts));
	json_t *o = json_object();
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "user", str_or_null(user));
	json_object_set_new(o, "role", str_or_null(role));
	json_object_set_new(o, "source", str_or_null(source));
	json_object_set_new(o, "event", str_or_null(event));
	json_object_set_new(o, "outcome", json_string(audit_outcome_name(outcome)));
	json_object_set_new(o, "detail", detail ? detail : json_object());
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		size_t n = strlen(line);
		line = ab_xrealloc(line, n + 2);
		line[n] = '\n';
		line[n + 1] = '\0';
		int r = ab_write_all(audit.fd >= 0 ? audit.fd : 2, line, n + 1);
		if (r < 0)
			ab_error("writing the audit log: %s", strerror(-r));
		free(line);
	}
	if (audit.listener)
		audit.listener(o, audit.listener_data);
	json_decref(o);
}
