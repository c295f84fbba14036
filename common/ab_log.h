/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_log: one logger per process, writing to stderr either as human text
 * ("2026-11-28T12:00:00.123Z warn  broker: message") or as JSON lines
 * ({"time":..., "level":..., "component":..., "msg":...}).
 */
#ifndef AB_LOG_H
#define AB_LOG_H

#include <stdbool.h>

enum ab_log_level {
	AB_LOG_DEBUG,
	AB_LOG_INFO,
	AB_LOG_WARN,
	AB_LOG_ERROR,
	AB_LOG_LEVEL_MAX,
};

enum ab_log_format {
	AB_LOG_TEXT,
	AB_LOG_JSON,
	AB_LOG_FORMAT_MAX,
};

/* Sets the component name printed with every line (copied). */
void ab_log_init(const char *component);
void ab_log_set_level(enum ab_log_level level);
void ab_log_set_format(enum ab_log_format format);
/* Parses "debug", "info", "warn", "error"; returns -EINVAL for anything else. */
int ab_log_level_from_string(const char *s);
/* Parses "text" or "json"; returns -EINVAL for anything else. */
int ab_log_format_from_string(const char *s);
bool ab_log_enabled(enum ab_log_level level);

void ab_log(enum ab_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ab_debug(...) ab_log(AB_LOG_DEBUG, __VA_ARGS__)
#define ab_info(...)  ab_log(AB_LOG_INFO, __VA_ARGS__)
#define ab_warn(...)  ab_log(AB_LOG_WARN, __VA_ARGS__)
#define ab_error(...) ab_log(AB_LOG_ERROR, __VA_ARGS__)

/* Formats the current wall-clock time as RFC 3339 UTC with milliseconds. */
void ab_log_timestamp(char *buf, unsigned len);

#endif
