/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the broker core's pure parts: path checks, MIME types, config rules, names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- a desktop held for its image (desktop_params.hold): a launcher that only counts ---- */

struct fake_launcher {
	struct launcher base;
	int starts, stops;
};

static int
fake_start(struct launcher *l, const struct launch_request *req, launch_event_fn fn, void *data,
           struct launch **ret, struct ab_err *err)
{
	struct fake_launcher *f = (struct fake_launcher *)l;
	(void)req, (void)fn, (void)data, (void)err;
	f->starts++;
	*ret = (struct launch *)f; /* never dereferenced by the manager */
	return 0;
}

static void
fake_stop(struct launcher *l, struct launch *la)
{
	(void)la;
	((struct fake_launcher *)l)->stops++;
}

static void
fake_nop(struct launcher *l, struct launch *la)
{
	(void)l, (void)la;
}

static pid_t
fake_pid(struct launcher *l, struct launch *la)
{
	(void)l, (void)la;
	return 0;
}

static void
fake_shutdown(struct launcher *l, int64_t timeout_ms)
{
	(void)l, (void)timeout_ms;
}

static int
fake_check_peer(struct launcher *l, struct launch *la, const struct ucred *peer, struct ab_err *err)
{
	(void)l, (void)la, (void)peer;
	return ab_err_set(err, EPERM, "fake");
}

static const struct launcher_ops fake_ops = {
    .start = fake_start,
    .stop = fake_stop,
    .release = fake_nop,
    .pid = fake_pid,
    .shutdown = fake_shutdown,
    .check_peer = fake_check_peer,
};

struct hold {
	int ret, holds, cancels;
	desktop_hold_done_fn done;
	void *token;
};

static int
hold_fn(void *data, const char *user, desktop_hold_done_fn done, void *token)
{
	struct hold *h = data;
	(void)user;
	h->holds++;
	h->done = done;
	h->token = token;
	return h->ret;
}

static void
hold_cancel_fn(void *data, void *token)
{
	struct hold *h = data;
	assert_ptr_equal(token, h->token);
	h->cancels++;
}

static void
ready_fn(struct desktop *d, int status, void *data)
{
	(void)d;
	*(int *)data = status;
}

static void
spin(struct ab_loop *loop)
{
	for (int i = 0; i < 5; i++)
		ab_loop_poll_once(loop, 0);
}

static const char *
waiting_for(struct desktop_manager *m, const char *user)
{
	json_t *l = desktop_manager_list(m);
	const char *r = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(l, i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, "user")), user) == 0)
			r = json_object_get(o, "waiting_for") ? "image" : "";
	}
	json_decref(l);
	return r;
}

/*
 * Every start of a desktop whose image is being built waits on the hold: nothing is launched,
 * every caller waits on the one desktop, the launch follows the hold's answer; a failed hold
 * ends the start for every waiter; a stop lets go of the hold.
 */
static void
test_desktop_hold(void **state)
{
	(void)state;
	char base[] = "/tmp/ab-hold-XXXXXX";
	assert_non_null(mkdtemp(base));
	struct ab_loop *loop = ab_loop_poll_new();
	struct fake_launcher fl = {.base = {.ops = &fake_ops}};
	struct hold h = {.ret = 1};
	json_t *cmd = json_pack("[s]", "xterm");
	struct desktop_params p = {
	    .runtime_base = base,
	    .geometry = "800x600",
	    .desktop_command = cmd,
	    .start_timeout_ms = 20,
	    .heartbeat_ms = 1000,
	    .control_timeout_ms = 1000,
	    .hold = hold_fn,
	    .hold_cancel = hold_cancel_fn,
	    .hold_data = &h,
	};
	struct desktop_manager *m = desktop_manager_new(loop, &fl.base, &p);
	struct ab_err err = {0};
	struct desktop_waiter *w1, *w2, *w3, *w4;
	int s1 = 1, s2 = 1, s3 = 1, s4 = 1;

	/* two sign-ins during the build: one desktop, one hold, nothing launched, nobody answered
	 */
	assert_int_equal(desktop_acquire(m, "ann", ready_fn, &s1, &w1, &err), 0);
	assert_int_equal(desktop_acquire(m, "ann", ready_fn, &s2, &w2, &err), 0);
	assert_int_equal(h.holds, 1);
	assert_int_equal(fl.starts, 0);
	assert_string_equal(waiting_for(m, "ann"), "image");
	usleep(40 * 1000); /* longer than start_timeout_ms: no timer runs while held */
	spin(loop);
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 1);
	/* the image is ready: launched once, the start timer from now on */
	h.done(h.token, 0, NULL);
	assert_int_equal(fl.starts, 1);
	assert_string_equal(waiting_for(m, "ann"), "");
	usleep(40 * 1000);
	spin(loop);
	assert_int_equal(s1, -ETIMEDOUT); /* the fake never gets ready */
	assert_int_equal(s2, -ETIMEDOUT);

	/* the build fails: the waiter hears it, nothing is launched, the desktop is gone */
	assert_int_equal(desktop_acquire(m, "bob", ready_fn, &s3, &w3, &err), 0);
	h.done(h.token, -EIO, "the desktop image 'x' could not be built: boom");
	spin(loop);
	assert_true(s3 < 0);
	assert_int_equal(fl.starts, 1);
	assert_false(desktop_exists(m, "bob"));

	/* stopped while held: the hold is let go of, the waiter answered */
	assert_int_equal(desktop_acquire(m, "cy", ready_fn, &s4, &w4, &err), 0);
	assert_int_equal(desktop_stop(m, "cy"), 0);
	assert_int_equal(h.cancels, 1);
	spin(loop);
	assert_true(s4 < 0);
	assert_false(desktop_exists(m, "cy"));
	assert_int_equal(fl.starts, 1);

	/* no build: started at once */
	h.ret = 0;
	struct desktop_waiter *w5;
	int s5 = 1;
	assert_int_equal(desktop_acquire(m, "dee", ready_fn, &s5, &w5, &err), 0);
	assert_int_equal(fl.starts, 2);
	desktop_waiter_cancel(w5);

	desktop_manager_shutdown(m, 0);
	desktop_manager_free(m);
	json_decref(cmd);
	ab_loop_poll_free(loop);
	char rm[64];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", base);
	assert_int_equal(system(rm), 0);
}

AB_TEST_MAIN(NULL, NULL, test_path_check, test_mime, test_user_names, test_loopback, test_config,
             test_resolve, test_desktop_hold);
