/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the broker core's pure parts: path checks, MIME types, config rules, names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ab_test.h"

#include "broker_config.h"
#include "desktop.h"
#include "server.h"

static int
check(const char *p)
{
	return server_path_check(p, strlen(p));
}

static void
test_path_check(void **state)
{
	assert_int_equal(check("/"), 0);
	assert_int_equal(check("/index.html"), 0);
	assert_int_equal(check("/vendor/novnc/core/rfb.js"), 0);
	assert_int_equal(check("/sub/"), 0);
	assert_int_equal(check(""), -EACCES);
	assert_int_equal(check("index.html"), -EACCES);
	assert_int_equal(check("/../etc/passwd"), -EACCES);
	assert_int_equal(check("/a/../b"), -EACCES);
	assert_int_equal(check("/a/./b"), -EACCES);
	assert_int_equal(check("/a/.."), -EACCES);
	assert_int_equal(check("/.git/config"), -EACCES);
	assert_int_equal(check("//etc/passwd"), -EACCES);
	assert_int_equal(check("/a\\..\\b"), -EACCES);
	/* an embedded NUL */
	assert_int_equal(server_path_check("/a\0.png", 7), -EACCES);
}

static void
test_mime(void **state)
{
	assert_string_equal(server_mime_type("/x/index.html"), "text/html; charset=utf-8");
	assert_string_equal(server_mime_type("a.JS"), "text/javascript; charset=utf-8");
	assert_string_equal(server_mime_type("a.mjs"), "text/javascript; charset=utf-8");
	assert_string_equal(server_mime_type("a.svg"), "image/svg+xml");
	assert_string_equal(server_mime_type("a.woff2"), "font/woff2");
	assert_string_equal(server_mime_type("noext"), "application/octet-stream");
	assert_string_equal(server_mime_type("dir.js/file"), "application/octet-stream");
}

static void
test_user_names(void **state)
{
	AB_ASSERT_EACH(desktop_user_valid, true, "local", "bea_2.x-y");
	AB_ASSERT_EACH(desktop_user_valid, false, "", "..", "a/b", "-rf", "Bea",
	               "012345678901234567890123456789012");
}

static void
test_loopback(void **state)
{
	AB_ASSERT_EACH(broker_addr_is_loopback, true, "127.0.0.1", "127.1.2.3", "::1", "localhost");
	AB_ASSERT_EACH(broker_addr_is_loopback, false, "0.0.0.0", "192.168.1.1",
	               "::", "example.com");
}

static int
validate_json(const char *text, struct ab_err *err)
{
	struct broker_config cfg;
	ab_config_init(broker_config_fields, &cfg, &broker_config_defaults, sizeof(cfg));
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	int r = ab_config_apply_json(broker_config_fields, &cfg, j, err);
	json_decref(j);
	if (r >= 0)
		r = broker_config_validate(&cfg, err);
	ab_config_free(broker_config_fields, &cfg);
	return r;
}

static void
test_config(void **state)
{
	struct ab_err err = {0};
	assert_int_equal(validate_json("{}", &err), 0);
	assert_int_equal(validate_json("{\"listen\":{\"address\":\"::1\",\"port\":0}}", &err), 0);
	assert_int_equal(validate_json("{\"listen\":{\"address\":\"0.0.0.0\"}}", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "listen.address"));
	assert_int_equal(validate_json("{\"tls\":{\"cert\":\"/c.pem\"}}", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "tls.key"));
	assert_int_equal(validate_json("{\"session\":{\"geometry\":\"12x\"}}", &err), -EINVAL);
	assert_int_equal(validate_json("{\"session\":{\"desktop_command\":[1]}}", &err), -EINVAL);
	assert_true(validate_json("{\"proxy\":{\"ping_interval_s\":31}}", &err) < 0);
	assert_non_null(strstr(err.msg, "proxy.ping_interval_s"));
	assert_int_equal(
	    validate_json("{\"proxy\":{\"buffer_bytes\":65536,\"chunk_bytes\":65536}}", &err),
	    -EINVAL);
	assert_true(validate_json("{\"nope\":1}", &err) < 0);
}

static void
test_resolve(void **state)
{
	struct broker_config cfg;
	ab_config_init(broker_config_fields, &cfg, &broker_config_defaults, sizeof(cfg));
	broker_config_resolve(&cfg, "/nonexistent/broker");
	assert_string_equal(cfg.session_binary, "argobox-session");
	assert_true(cfg.session_runtime_base[0] == '/');
	assert_non_null(strstr(cfg.admin_socket, "/broker.sock"));
	assert_int_equal(json_array_size(cfg.session_desktop_command), 1);
	assert_string_equal(json_string_value(json_array_get(cfg.session_desktop_command, 0)),
	                    "xterm");
	ab_config_free(broker_config_fields, &cfg);
}

AB_TEST_MAIN(NULL, NULL, test_path_check, test_mime, test_user_names, test_loopback, test_config,
             test_resolve);
