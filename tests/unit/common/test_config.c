/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ab_config.h"
#include "ab_util.h"

struct cfg {
	long long port;
	char address[16];
	char format[8];
	bool tls;
	json_t *users;
};

static const char *const formats[] = {"text", "json", NULL};

static const struct cfg defaults = {
    .port = 8080,
    .address = "127.0.0.1",
    .format = "text",
    .tls = false,
};

static const struct ab_cfg_field fields[] = {
    AB_CFG_INT("listen.port", struct cfg, port, 1, 65535, "port"),
    AB_CFG_STR("listen.address", struct cfg, address, "address"),
    AB_CFG_ENUM("log.format", struct cfg, format, formats, "log format"),
    AB_CFG_BOOL("tls.enabled", struct cfg, tls, "tls"),
    AB_CFG_JSON("users", struct cfg, users, JSON_ARRAY, "[{\"name\":\"daniel\"}]", "users"),
    {0},
};

static int
apply(struct cfg *c, const char *text, struct ab_err *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	int r = ab_config_apply_json(fields, c, j, err);
	json_decref(j);
	return r;
}

AB_TEST_CONFIG_FIXTURE(struct cfg, fields, &defaults)

static void
test_defaults(void **state)
{
	struct cfg c;
	ab_config_init(fields, &c, &defaults, sizeof(c));
	assert_int_equal(c.port, 8080);
	assert_string_equal(c.address, "127.0.0.1");
	assert_int_equal(json_array_size(c.users), 1);
	ab_config_free(fields, &c);
	assert_null(c.users);
}

static void
test_apply_values(void **state)
{
	struct cfg *c = *state;
	struct ab_err err = {0};
	assert_int_equal(apply(c,
	                       "{\"listen\":{\"port\":9000,\"address\":\"::1\"},"
	                       "\"log\":{\"format\":\"json\"},\"tls\":{\"enabled\":true},"
	                       "\"users\":[]}",
	                       &err),
	                 0);
	assert_int_equal(c->port, 9000);
	assert_string_equal(c->address, "::1");
	assert_string_equal(c->format, "json");
	assert_true(c->tls);
	assert_int_equal(json_array_size(c->users), 0);
}

static void
test_errors_name_the_path(void **state)
{
	struct cfg *c = *state;
	struct ab_err err = {0};
	assert_int_equal(apply(c, "{\"listen\":{\"prot\":1}}", &err), -EINVAL);
	assert_string_equal(err.msg, "unknown key 'listen.prot'");
	assert_int_equal(apply(c, "{\"listen\":{\"port\":70000}}", &err), -ERANGE);
	assert_string_equal(err.msg, "'listen.port' is 70000, outside [1, 65535]");
	assert_int_equal(apply(c, "{\"listen\":{\"port\":\"80\"}}", &err), -EINVAL);
	assert_string_equal(err.msg, "'listen.port' must be an integer, not a string");
	assert_int_equal(apply(c, "{\"listen\":{\"address\":\"0123456789abcdef\"}}", &err),
	                 -ERANGE);
	assert_non_null(strstr(err.msg, "'listen.address' is 16 bytes long"));
	assert_int_equal(apply(c, "{\"log\":{\"format\":\"xml\"}}", &err), -EINVAL);
	assert_string_equal(err.msg, "'log.format' is 'xml', expected one of: text, json");
	assert_int_equal(apply(c, "{\"listen\":5}", &err), -EINVAL);
	assert_string_equal(err.msg, "'listen' must be an object, not an integer");
	assert_int_equal(apply(c, "{\"users\":{}}", &err), -EINVAL);
	assert_string_equal(err.msg, "'users' must be an array, not an object");
	/* failed applications left the values in place */
	assert_int_equal(c->port, 8080);
	assert_string_equal(c->address, "127.0.0.1");
}

static void
test_file_errors(void **state)
{
	struct cfg *c = *state;
	struct ab_err err = {0};
	char path[] = "/tmp/ab-cfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"listen\": {\"port\": 1,}}", 24), 24);
	close(fd);
	assert_int_equal(ab_config_load_file(fields, c, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "line 1"));
	assert_int_equal(ab_config_load_file(fields, c, "/nonexistent/x.json", &err), -ENOENT);
	unlink(path);
}

static void
test_print_round_trips(void **state)
{
	struct cfg *c = *state, d;
	struct ab_err err = {0};
	ab_config_init(fields, &d, &defaults, sizeof(d));
	assert_int_equal(apply(c, "{\"listen\":{\"port\":1234}}", &err), 0);
	json_t *j = ab_config_to_json(fields, c);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "listen"), "port")),
	                 1234);
	assert_int_equal(ab_config_apply_json(fields, &d, j, &err), 0);
	assert_int_equal(d.port, 1234);
	json_decref(j);
	ab_config_free(fields, &d);
}

static void
test_reference_lists_every_field(void **state)
{
	struct cfg *c = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ab_config_print_reference(fields, c, f);
	fclose(f);
	assert_non_null(strstr(buf, "| `listen.port` | integer | `8080` | 1 … 65535 | port |"));
	assert_non_null(
	    strstr(buf, "| `log.format` | string | `\"text\"` | text, json | log format |"));
	assert_non_null(strstr(buf, "| `users` | array | `[{\"name\":\"daniel\"}]` |"));
	assert_non_null(strstr(buf, "| `tls.enabled` | boolean | `false` |"));
	free(buf);
}

AB_TEST_MAIN_FIXTURE(ab_test_config_setup, ab_test_config_teardown, test_defaults,
                     test_apply_values, test_errors_name_the_path, test_file_errors,
                     test_print_round_trips, test_reference_lists_every_field);
