/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <string.h>

#include "config.h"
#include "vnc.h"

AB_TEST_CONFIG_FIXTURE(struct session_config, session_config_fields, &session_config_defaults)

static void
test_geometry(void **state)
{
	long long w = 0, h = 0;
	assert_int_equal(session_parse_geometry("1280x800", &w, &h), 0);
	assert_int_equal(w, 1280);
	assert_int_equal(h, 800);
	assert_int_equal(session_parse_geometry("640X480", &w, &h), 0);
	assert_int_equal(w, 640);
	w = h = 7;
	assert_int_equal(session_parse_geometry("12x", &w, &h), -EINVAL);
	assert_int_equal(session_parse_geometry("x12", &w, &h), -EINVAL);
	assert_int_equal(session_parse_geometry("0x12", &w, &h), -EINVAL);
	assert_int_equal(session_parse_geometry("12x12junk", &w, &h), -EINVAL);
	assert_int_equal(session_parse_geometry("-5x12", &w, &h), -EINVAL);
	assert_int_equal(w, 7); /* untouched on failure */
}

static void
test_defaults_valid(void **state)
{
	struct session_config *c = *state;
	struct ab_err err = {0};
	assert_int_equal(session_config_validate(c, &err), 0);
	assert_true(c->desktop_restart);
	assert_string_equal(c->fbdir, "/dev/shm");
}

static void
test_validate_limits(void **state)
{
	struct session_config *c = *state;
	struct ab_err err = {0};
	c->width = c->max_width + 1;
	assert_int_equal(session_config_validate(c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "display.width"));
	c->width = 1280;
	c->min_height = 3000;
	assert_int_equal(session_config_validate(c, &err), -EINVAL);
}

static void
test_json_errors_name_path(void **state)
{
	struct session_config *c = *state;
	struct ab_err err = {0};
	json_t *j = json_loads("{\"vnc\":{\"jpeg_quality\":12}}", 0, NULL);
	assert_true(ab_config_apply_json(session_config_fields, c, j, &err) < 0);
	assert_non_null(strstr(err.msg, "vnc.jpeg_quality"));
	json_decref(j);
	j = json_loads("{\"desktop\":{\"restart\":false},\"xvfb\":{\"fbdir\":\"/tmp\"}}", 0, NULL);
	assert_int_equal(ab_config_apply_json(session_config_fields, c, j, &err), 0);
	assert_false(c->desktop_restart);
	assert_string_equal(c->fbdir, "/tmp");
	json_decref(j);
}

static void
test_clamp(void **state)
{
	struct session_config c = session_config_defaults;
	int w = 10, h = 100000;
	vnc_clamp_size(&c, &w, &h);
	assert_int_equal(w, c.min_width);
	assert_int_equal(h, c.max_height);
	w = 1000;
	h = 700;
	vnc_clamp_size(&c, &w, &h);
	assert_int_equal(w, 1000);
	assert_int_equal(h, 700);
}

AB_TEST_MAIN_FIXTURE(ab_test_config_setup, ab_test_config_teardown, test_geometry,
                     test_defaults_valid, test_validate_limits, test_json_errors_name_path,
                     test_clamp);
