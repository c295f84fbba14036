/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ab_log.h"
#include "ab_util.h"

/* Captures stderr into a file for the duration of fn. */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/ab-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	char *data = NULL;
	assert_int_equal(ab_read_file(path, 1 << 20, &data, NULL, NULL), 0);
	unlink(path);
	return data;
}

static void
log_json(void)
{
	ab_log_init("tester");
	ab_log_set_format(AB_LOG_JSON);
	ab_log_set_level(AB_LOG_INFO);
	ab_debug("hidden");
	ab_warn("user '%s' \"quoted\"", "bea");
}

static void
log_text(void)
{
	ab_log_set_format(AB_LOG_TEXT);
	ab_error("plain %d", 42);
}

static void
test_json_lines(void **state)
{
	_cleanup_free_ char *out = capture(log_json);
	assert_null(strstr(out, "hidden"));
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "component")), "tester");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "user 'bea' \"quoted\"");
	assert_non_null(json_object_get(j, "time"));
	json_decref(j);
}

static void
test_text_line(void **state)
{
	_cleanup_free_ char *out = capture(log_text);
	assert_non_null(strstr(out, "error tester["));
	assert_non_null(strstr(out, "plain 42\n"));
}

static void
test_parse_names(void **state)
{
	assert_int_equal(ab_log_level_from_string("warn"), AB_LOG_WARN);
	assert_int_equal(ab_log_level_from_string("loud"), -EINVAL);
	assert_int_equal(ab_log_format_from_string("json"), AB_LOG_JSON);
	assert_int_equal(ab_log_format_from_string(NULL), -EINVAL);
}

AB_TEST_MAIN(NULL, NULL, test_json_lines, test_text_line, test_parse_names);
