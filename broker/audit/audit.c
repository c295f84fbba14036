/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audit.h"
#include "ab_metrics.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const outcome_names[AUDIT_OUTCOME_MAX] = {"grant", "deny", "info", "failure"};

struct pending {
	struct pending *next;
	json_t *object;
	char *line;
	size_t line_len;
	int64_t time_ms;
	enum audit_outcome outcome;
};

static struct {
	int fd; /* -1: stderr */
	struct {
		audit_sink_fn fn;
		void *data;
	} sinks[AUDIT_MAX_SINKS];
	unsigned nsinks;
	unsigned depth;          /* > 0 while sinks run */
	struct pending *pending; /* events logged by a sink, dispatched after it */
	struct pending **pending_tail;
} audit = {.fd = -1};

const char *
audit_outcome_name(enum audit_outcome o)
{
	return o < AUDIT_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

int
audit_outcome_from_name(const char *name)
{
	for (int i = 0; name && i < AUDIT_OUTCOME_MAX; i++)
		if (strcmp(name, outcome_names[i]) == 0)
			return i;
	return -1;
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

int
audit_add_sink(audit_sink_fn fn, void *data)
{
	if (audit.nsinks >= AUDIT_MAX_SINKS)
		return -ENOSPC;
	audit.sinks[audit.nsinks].fn = fn;
	audit.sinks[audit.nsinks].data = data;
	audit.nsinks++;
	return 0;
}

void
audit_remove_sink(audit_sink_fn fn, void *data)
{
	for (unsigned i = 0; i < audit.nsinks; i++) {
		if (audit.sinks[i].fn == fn && audit.sinks[i].data == data) {
			memmove(&audit.sinks[i], &audit.sinks[i + 1],
			        (audit.nsinks - i - 1) * sizeof(audit.sinks[0]));
			audit.nsinks--;
			return;
		}
	}
}

static struct {
	audit_listener_fn fn;
	void *data;
} listener;

static void
listener_sink(const struct audit_event *ev, void *data)
{
	if (listener.fn)
		listener.fn(ev->object, listener.data);
}

static struct {
	audit_gate_fn fn;
	void *data;
} gate;

void
audit_set_admin_gate(audit_gate_fn fn, void *data)
{
	gate.fn = fn;
	gate.data = data;
}

bool
audit_admin_allowed(char *why, size_t len)
{
	if (len)
		why[0] = '\0';
	return !gate.fn || gate.fn(gate.data, why, len);
}

void
audit_set_listener(audit_listener_fn fn, void *data)
{
	audit_remove_sink(listener_sink, NULL);
	listener.fn = fn;
	listener.data = data;
	if (fn)
		audit_add_sink(listener_sink, NULL);
}

static json_t *
str_or_null(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	return j ? j : json_string("(invalid UTF-8)");
}

static void
dispatch(json_t *o, const char *line, size_t line_len, int64_t time_ms, enum audit_outcome outcome)
{
	json_t *detail = json_object_get(o, "detail");
	_cleanup_free_ char *dtext = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct audit_event ev = {
	    .time_ms = time_ms,
	    .time = json_string_value(json_object_get(o, "time")),
	    .user = json_string_value(json_object_get(o, "user")),
	    .role = json_string_value(json_object_get(o, "role")),
	    .source = json_string_value(json_object_get(o, "source")),
	    .event = json_string_value(json_object_get(o, "event")),
	    .outcome = outcome,
	    .detail = dtext ? dtext : "{}",
	    .object = o,
	    .line = line,
	    .line_len = line_len,
	};
	if (!ev.event)
		ev.event = "(invalid UTF-8)";
	audit.depth++;
	for (unsigned i = 0; i < audit.nsinks; i++)
		audit.sinks[i].fn(&ev, audit.sinks[i].data);
	audit.depth--;
}

void
audit_log(const char *event, enum audit_outcome outcome, const char *user, const char *role,
          const char *source, json_t *detail)
{
	struct timespec now;
	struct tm tm;
	char base[32], ts[64];
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%.30s.%03dZ", base, (int)(now.tv_nsec / 1000000));
	int64_t time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (outcome >= AUDIT_OUTCOME_MAX)
		outcome = AUDIT_INFO;
	char labels[48];
	snprintf(labels, sizeof(labels), "outcome=\"%s\"", audit_outcome_name(outcome));
	ab_metrics_count("argobox_audit_events_total", labels, 1);
	json_t *o = json_object();
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "user", str_or_null(user));
	json_object_set_new(o, "role", str_or_null(role));
	json_object_set_new(o, "source", str_or_null(source));
	json_object_set_new(o, "event", str_or_null(event));
	json_object_set_new(o, "outcome", json_string(audit_outcome_name(outcome)));
	json_object_set_new(o, "detail", json_is_object(detail) ? detail : json_object());
	if (detail && !json_is_object(detail))
		json_decref(detail);
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		json_decref(o);
		return;
	}
	size_t n = strlen(line);
	line = ab_xrealloc(line, n + 2);
	line[n] = '\n';
	line[n + 1] = '\0';
	/* The file first: it stays complete whatever a sink (the store) does. */
	int r = ab_write_all(audit.fd >= 0 ? audit.fd : 2, line, n + 1);
	if (r < 0)
		ab_error("writing the audit log: %s", strerror(-r));
	line[n] = '\0';
	if (audit.depth > 0) {
		/* logged by a sink: the other sinks see it once the current event is done */
		struct pending *p = ab_xcalloc(1, sizeof(*p));
		*p = (struct pending){NULL, o, line, n, time_ms, outcome};
		if (!audit.pending)
			audit.pending_tail = &audit.pending;
		*audit.pending_tail = p;
		audit.pending_tail = &p->next;
		return;
	}
	dispatch(o, line, n, time_ms, outcome);
	free(line);
	json_decref(o);
	while (audit.pending) {
		struct pending *p = audit.pending;
		audit.pending = p->next;
		dispatch(p->object, p->line, p->line_len, p->time_ms, p->outcome);
		json_decref(p->object);
		free(p->line);
		free(p);
	}
}

bool
audit_seen_due(struct audit_seen *slots, size_t n, const char *key, int64_t now_ms,
               int64_t every_ms)
{
	size_t slot = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(slots[i].key, key) == 0) {
			if (now_ms - slots[i].at_ms < every_ms)
				return false;
			slot = i;
			break;
		}
		if (slots[i].at_ms < slots[slot].at_ms)
			slot = i;
	}
	snprintf(slots[slot].key, sizeof(slots[slot].key), "%s", key);
	slots[slot].at_ms = now_ms;
	return true;
}
