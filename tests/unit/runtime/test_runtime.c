/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * runtime: the start/ready/stop/exit/adopt state machine on a real poll loop, against
 * fake-runtime.sh (runc's CLI subset) so it runs without a real container. Needs root only
 * because bundle_write() chowns the user's directories to their mapped host uid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ab_test.h"
#include "ab_test_audit.h"

#include "ab_loop.h"
#include "ab_util.h"
#include "audit.h"
#include "launcher_oci.h"
#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAKE AB_SOURCE_DIR "/tests/unit/runtime/fake-runtime.sh"

static char tmp[] = "/tmp/ab-runtime-unit.XXXXXX";
static char rundir[256], bundles[256];
static struct ab_loop *loop;

struct result {
	bool done;
	int status;
	char msg[512];
};

static void
on_done(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	struct result *r = data;
	assert_false(r->done); /* exactly once */
	r->done = true;
	r->status = status;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

static void
run_until(bool *flag)
{
	int64_t end = ab_now_ms() + 20000;
	while (!*flag && ab_now_ms() < end)
		ab_loop_poll_once(loop, 100);
	assert_true(*flag);
	ab_loop_poll_once(loop, 0); /* deferred frees */
}

static struct runtime *
new_runtime(void)
{
	struct runtime_config cfg = runtime_default_config;
	snprintf(cfg.runtime_path, sizeof(cfg.runtime_path), "%s", FAKE);
	snprintf(cfg.bundle_root, sizeof(cfg.bundle_root), "%s", bundles);
	snprintf(cfg.id_prefix, sizeof(cfg.id_prefix), "abu-");
	cfg.stop_timeout_ms = 2000;
	cfg.ready_timeout_ms = 10000;
	struct runtime *rt = NULL;
	struct ab_err err = {0};
	assert_int_equal(runtime_new(loop, &cfg, NULL, &rt, &err), 0);
	return rt;
}

static const char *const cmd[] = {"/bin/true", NULL};

static struct runtime_spec
spec(const char *user)
{
	return (struct runtime_spec){
	    .user = user,
	    .role = RUNTIME_ROLE_MEMBER,
	    .index = 3,
	    .uid = 1000,
	    .gid = 1000,
	    .host_id_base = 100000,
	    .runtime_dir = rundir,
	    .argv = cmd,
	};
}

static int
setup(void **state)
{
	if (geteuid() != 0)
		return 0;
	assert_non_null(mkdtemp(tmp));
	snprintf(rundir, sizeof(rundir), "%s/run", tmp);
	snprintf(bundles, sizeof(bundles), "%s/bundles", tmp);
	setenv("FAKE_RT_DIR", tmp, 1);
	loop = ab_loop_poll_new();
	ab_test_audit_start();
	return 0;
}

static int
teardown(void **state)
{
	if (geteuid() != 0)
		return 0;
	ab_test_audit_stop();
	ab_loop_poll_free(loop);
	bundle_remove(tmp, NULL);
	return 0;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (geteuid() != 0)                                                                \
			skip();                                                                    \
	} while (0)

static void
test_start_stop(void **state)
{
	NEED_ROOT();
	struct runtime *rt = new_runtime();
	struct result r = {0};
	struct runtime_spec s = spec("ana");
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, NULL), 0);
	struct ab_err err = {0};
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, &err), -EBUSY);
	run_until(&r.done);
	assert_int_equal(r.status, 0);
	pid_t pid = runtime_pid(rt, "ana");
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(ab_test_audit_count("container.start", "grant"), 1);
	assert_int_equal(ab_test_audit_count("container.privileges", "info"), 1);
	assert_int_equal(ab_test_audit_count("container.ready", "info"), 1);
	/* One runtime command started it (run --detach), and ready says where the time went. */
	_cleanup_free_ char *calls_path = ab_xasprintf("%s/calls", tmp);
	_cleanup_free_ char *calls = NULL;
	size_t calls_len;
	assert_int_equal(ab_read_file(calls_path, 1 << 16, &calls, &calls_len, NULL), 0);
	assert_non_null(strstr(calls, "run --detach --bundle "));
	assert_null(strstr(calls, "create "));
	assert_null(strstr(calls, "\nstart "));
	json_t *ev, *ready = NULL;
	size_t i;
	json_array_foreach(ab_test_audit_events(), i, ev)
	{
		if (!strcmp(json_string_value(json_object_get(ev, "event")), "container.ready"))
			ready = ev;
	}
	assert_non_null(ready);
	json_t *steps = json_object_get(json_object_get(ready, "detail"), "steps_us");
	assert_true(json_is_object(steps));
	assert_true(json_integer_value(json_object_get(steps, "runtime")) > 0);
	assert_true(json_is_integer(json_object_get(steps, "net")));
	assert_true(json_is_integer(json_object_get(steps, "bundle")));
	assert_true(json_is_integer(json_object_get(steps, "session")));
	/* The user's runtime dir belongs to their mapped uid. */
	struct stat st;
	assert_int_equal(stat(rundir, &st), 0);
	assert_int_equal(st.st_uid, 100000 + 3 * 65536 + 1000);
	assert_int_equal(st.st_mode & 0777, 0700);

	struct result d = {0};
	assert_int_equal(runtime_stop(rt, "ana", on_done, &d, NULL), 0);
	run_until(&d.done);
	assert_int_equal(d.status, 0);
	assert_false(runtime_has(rt, "ana"));
	_cleanup_free_ char *b = ab_xasprintf("%s/ana", bundles);
	assert_int_equal(access(b, F_OK), -1);
	assert_int_equal(ab_test_audit_count("container.stop", "info"), 1);
	assert_int_equal(runtime_stop(rt, "ana", on_done, &d, &err), -ENOENT);
	runtime_free(rt);
}

static void
test_run_fails(void **state)
{
	NEED_ROOT();
	setenv("FAKE_RT_FAIL", "run", 1);
	struct runtime *rt = new_runtime();
	struct result r = {0};
	struct runtime_spec s = spec("bob");
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, NULL), 0);
	run_until(&r.done);
	unsetenv("FAKE_RT_FAIL");
	assert_true(r.status < 0);
	assert_non_null(strstr(r.msg, "run refused"));
	assert_false(runtime_has(rt, "bob"));
	_cleanup_free_ char *b = ab_xasprintf("%s/bob", bundles);
	assert_int_equal(access(b, F_OK), -1);
	assert_true(ab_test_audit_count("container.start", "failure") >= 1);
	runtime_free(rt);
}

static void
test_closed_without_ready(void **state)
{
	NEED_ROOT();
	setenv("FAKE_RT_INIT", "exec 3>&-; exec sleep 60", 1);
	struct runtime *rt = new_runtime();
	struct result r = {0};
	struct runtime_spec s = spec("cid");
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, NULL), 0);
	run_until(&r.done);
	unsetenv("FAKE_RT_INIT");
	assert_int_equal(r.status, -EPIPE);
	assert_non_null(strstr(r.msg, "without READY"));
	assert_false(runtime_has(rt, "cid"));
	runtime_free(rt);
}

static void
test_ready_file(void **state)
{
	NEED_ROOT();
	_cleanup_free_ char *init =
	    ab_xasprintf("exec 3>&-; touch %s/rfb.sock; exec sleep 60", rundir);
	setenv("FAKE_RT_INIT", init, 1);
	struct runtime *rt = new_runtime();
	struct result r = {0};
	struct runtime_spec s = spec("dan");
	assert_int_equal(runtime_start(rt, &s, NULL, "rfb.sock", on_done, &r, NULL), 0);
	run_until(&r.done);
	unsetenv("FAKE_RT_INIT");
	assert_int_equal(r.status, 0);
	struct result d = {0};
	assert_int_equal(runtime_stop(rt, "dan", on_done, &d, NULL), 0);
	run_until(&d.done);
	runtime_free(rt);
}

static void
test_exit_detected(void **state)
{
	NEED_ROOT();
	setenv("FAKE_RT_INIT", "echo READY >&3; exec 3>&-; read x < /dev/null; exit 3", 1);
	struct runtime *rt = new_runtime();
	struct result exited = {0};
	runtime_set_exit_handler(rt, on_done, &exited);
	struct result r = {0};
	struct runtime_spec s = spec("eve");
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, NULL), 0);
	run_until(&r.done);
	unsetenv("FAKE_RT_INIT");
	/* It may die before or after it was seen ready; either way it is reported once. */
	if (r.status == 0) {
		run_until(&exited.done);
		assert_int_equal(exited.status, -ECHILD);
		assert_int_equal(ab_test_audit_count("container.exit", "failure"), 1);
	} else {
		assert_int_equal(r.status, -ECHILD);
	}
	assert_false(runtime_has(rt, "eve"));
	runtime_free(rt);
}

static bool listed;
static char list_status[16];
static void
on_list(struct runtime *rt, const struct runtime_info *l, size_t n, int status, void *data)
{
	assert_int_equal(status, 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].user, "fay")) {
			snprintf(list_status, sizeof(list_status), "%s", l[i].status);
			assert_string_equal(l[i].role, "member");
			assert_int_equal(l[i].index, 3);
		}
	listed = true;
}

static void
test_adopt(void **state)
{
	NEED_ROOT();
	struct runtime *rt = new_runtime();
	struct result r = {0};
	struct runtime_spec s = spec("fay");
	assert_int_equal(runtime_start(rt, &s, NULL, NULL, on_done, &r, NULL), 0);
	run_until(&r.done);
	assert_int_equal(r.status, 0);
	runtime_free(rt); /* the broker goes away; the container stays */

	rt = new_runtime();
	assert_false(runtime_has(rt, "fay"));
	assert_int_equal(runtime_adopt(rt, NULL, on_list, NULL, NULL), 0);
	run_until(&listed);
	assert_string_equal(list_status, "running");
	assert_true(runtime_has(rt, "fay"));
	assert_true(ab_test_audit_count("container.adopt", "info") >= 1);
	struct result d = {0};
	assert_int_equal(runtime_stop(rt, "fay", on_done, &d, NULL), 0);
	run_until(&d.done);
	assert_int_equal(d.status, 0);
	runtime_free(rt);
}

struct lev {
	int ready, exited, status;
};

static void
on_launch(struct launch *la, enum launch_event ev, int status, void *data)
{
	struct lev *e = data;
	if (ev == LAUNCH_READY)
		e->ready++;
	else {
		e->exited++;
		e->status = status;
	}
}

static int
profile_for(const char *user, struct launcher_oci_profile *ret, void *data, struct ab_err *err)
{
	if (!strcmp(user, "nobody-known"))
		return ab_err_set(err, ENOENT, "no such user");
	ret->spec = spec(user);
	ret->has_net = false;
	return 0;
}

static void
test_launcher(void **state)
{
	NEED_ROOT();
	struct runtime *rt = new_runtime();
	struct launcher *l = launcher_oci_new(loop, rt, "/usr/bin/true", profile_for, NULL);
	const char *desk[] = {"/usr/bin/xterm", NULL};
	struct launch_request req = {
	    .user = "gus", .runtime_dir = rundir, .geometry = "800x600", .desktop_command = desk};
	struct lev e = {0};
	struct launch *la = NULL;
	struct ab_err err = {0};
	assert_int_equal(l->ops->start(l, &req, on_launch, &e, &la, &err), 0);
	int64_t end = ab_now_ms() + 20000;
	while (!e.ready && ab_now_ms() < end)
		ab_loop_poll_once(loop, 100);
	assert_int_equal(e.ready, 1);
	assert_true(l->ops->pid(l, la) > 0);
	/* The session command line the container runs. */
	_cleanup_free_ char *cfgpath = ab_xasprintf("%s/gus/config.json", bundles);
	json_t *cfg = json_load_file(cfgpath, 0, NULL);
	json_t *args = json_object_get(json_object_get(cfg, "process"), "args");
	assert_string_equal(json_string_value(json_array_get(args, 0)), "/usr/bin/true");
	assert_string_equal(json_string_value(json_array_get(args, 4)), "800x600");
	assert_string_equal(json_string_value(json_array_get(args, 8)), "/usr/bin/xterm");
	json_decref(cfg);
	l->ops->stop(l, la);
	l->ops->stop(l, la); /* twice is harmless */
	end = ab_now_ms() + 20000;
	while (!e.exited && ab_now_ms() < end)
		ab_loop_poll_once(loop, 100);
	assert_int_equal(e.exited, 1);
	assert_int_equal(e.status, 0);
	l->ops->release(l, la);

	req.user = "nobody-known";
	assert_int_equal(l->ops->start(l, &req, on_launch, &e, &la, &err), -ENOENT);
	l->ops->free(l);
	runtime_free(rt);
}

AB_TEST_MAIN(setup, teardown, test_start_stop, test_run_fails, test_closed_without_ready,
             test_ready_file, test_exit_detected, test_adopt, test_launcher);
