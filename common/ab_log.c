/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[AB_LOG_LEVEL_MAX] = {"debug", "info", "warn", "error"};
static const char *const format_names[AB_LOG_FORMAT_MAX] = {"text", "json"};

static struct {
	char component[32];
	enum ab_log_level level;
	enum ab_log_format format;
} logger = {"argobox", AB_LOG_INFO, AB_LOG_TEXT};

void
ab_log_init(const char *component)
{
	snprintf(logger.component, sizeof(logger.component), "%s", component);
}

void
ab_log_set_level(enum ab_log_level level)
{
	if (level < AB_LOG_LEVEL_MAX)
		logger.level = level;
}

void
ab_log_set_format(enum ab_log_format format)
{
	if (format < AB_LOG_FORMAT_MAX)
		logger.format = format;
}

int
ab_log_level_from_string(const char *s)
{
	for (int i = 0; i < AB_LOG_LEVEL_MAX; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -EINVAL;
}

int
ab_log_format_from_string(const char *s)
{
	for (int i = 0; i < AB_LOG_FORMAT_MAX; i++)
		if (s && strcmp(s, format_names[i]) == 0)
			return i;
	return -EINVAL;
}

bool
ab_log_enabled(enum ab_log_level level)
{
	return level >= logger.level;
}

void
ab_log_timestamp(char *buf, unsigned len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

void
ab_log(enum ab_log_level level, const char *fmt, ...)
{
	if (!ab_log_enabled(level) || level >= AB_LOG_LEVEL_MAX)
		return;
	int saved = errno;
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char ts[40];
	ab_log_timestamp(ts, sizeof(ts));

	if (logger.format == AB_LOG_JSON) {
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:i, s:s}", "time", ts, "level", level_names[level],
		              "component", logger.component, "pid", (int)getpid(), "msg", msg);
		/* A message with invalid UTF-8 cannot go into JSON as is. */
		if (!o)
			o = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level",
			              level_names[level], "component", logger.component, "msg",
			              "(message was not valid UTF-8)");
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line) {
			fprintf(stderr, "%s\n", line);
			free(line);
		}
		json_decref(o);
	} else {
		fprintf(stderr, "%s %-5s %s[%d]: %s\n", ts, level_names[level], logger.component,
		        (int)getpid(), msg);
	}
	fflush(stderr);
	errno = saved;
}
