/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * isolation: config validation (session.launcher, runtime, netpol) and the
 * mapping from users/profiles to container profiles (isolation_profile_for),
 * on an isolation built with the process launcher (no root needed).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ab_loop.h"
#include "audit.h"
#include "broker_config.h"
#include "isolation.h"

static const char *users_json =
    "{\"session\": {\"launcher\": \"process\"},"
    " \"netpol\": {\"services\": {\"gitea\": \"tcp:192.168.77.10:3000\"}},"
    " \"users\": ["
    "  {\"name\": \"ada\", \"role\": \"admin\", \"profile\": \"adm\", \"uid\": 1000, \"gid\": "
    "1000},"
    "  {\"name\": \"bea\", \"role\": \"member\", \"profile\": \"dev\", \"uid\": 1003, \"gid\": "
    "1004}],"
    " \"profiles\": {"
    "  \"adm\": {\"title\": \"A\", \"apps\": [], \"limits\": {\"cpu_millis\": 4000, \"memory_mb\": "
    "2048, \"pids\": 2048}, \"network\": {\"egress\": \"any\", \"lan\": [], \"services\": []},"
    "    \"services\": [], \"read_only_root\": false, \"persistent\": true, \"ttl_minutes\": 0},"
    "  \"dev\": {\"title\": \"D\", \"apps\": [], \"limits\": {\"cpu_millis\": 1500, \"memory_mb\": "
    "768, \"pids\": 300}, \"network\": {\"egress\": \"lan\", \"lan\": [\"192.168.77.0/24\", "
    "\"fd00::/8\"], \"services\": [\"gitea\", \"nowhere\"]},"
    "    \"services\": [], \"read_only_root\": true, \"persistent\": true, \"ttl_minutes\": 0}}}";

struct fixture {
	struct broker_config cfg;
	struct ab_loop *loop;
	struct isolation *iso;
};

static int
load(struct broker_config *cfg, const char *text, struct ab_err *err)
{
	ab_config_init(broker_config_fields, cfg, &broker_config_defaults, sizeof(*cfg));
	json_t *root = json_loads(text, 0, NULL);
	assert_non_null(root);
	int r = ab_config_apply_json(broker_config_fields, cfg, root, err);
	json_decref(root);
	return r;
}

static void
expect_check_error(const char *text, const char *needle)
{
	struct broker_config cfg;
	struct ab_err err = {0};
	int r = load(&cfg, text, &err);
	if (r >= 0)
		r = isolation_check_config(&cfg, &err);
	assert_true(r < 0);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	ab_config_free(broker_config_fields, &cfg);
}

static void
test_check_config(void **state)
{
	struct broker_config cfg;
	struct ab_err err = {0};
	assert_int_equal(load(&cfg, "{}", &err), 0);
	assert_string_equal(cfg.session_launcher, "auto");
	assert_int_equal(isolation_check_config(&cfg, &err), 0);
	ab_config_free(broker_config_fields, &cfg);
	expect_check_error("{\"runtime\": {\"runtime\": \"podman\"}}", "runtime");
	expect_check_error("{\"runtime\": {\"nope\": 1}}", "nope");
	expect_check_error("{\"runtime\": {\"id_prefix\": \"\"}}", "runtime.id_prefix");
	expect_check_error("{\"netpol\": {\"pool\": \"10.0.0.0/28\"}}", "netpol.pool");
	expect_check_error("{\"netpol\": {\"resolver\": \"x\"}}", "netpol.resolver");
	expect_check_error("{\"netpol\": {\"services\": {\"a\": 5}}}", "netpol.services.a");
	expect_check_error("{\"session\": {\"launcher\": \"lxc\"}}", "session.launcher");
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ab_err err = {0};
	assert_int_equal(load(&f->cfg, users_json, &err), 0);
	f->loop = ab_loop_poll_new();
	assert_int_equal(isolation_new(f->loop, &f->cfg, NULL, &f->iso, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	isolation_free(f->iso);
	ab_loop_poll_free(f->loop);
	ab_config_free(broker_config_fields, &f->cfg);
	free(f);
	return 0;
}

static void
test_process_launcher(void **state)
{
	struct fixture *f = *state;
	assert_false(isolation_is_oci(f->iso));
	assert_string_equal(isolation_launcher_name(f->iso), "process");
	assert_non_null(isolation_launcher(f->iso));
	struct ab_err err = {0};
	assert_int_equal(isolation_adopt(f->iso, NULL, &err), 0); /* nothing to adopt */
	assert_false(isolation_adopt_pending(f->iso));
}

static void
test_member_profile(void **state)
{
	struct fixture *f = *state;
	struct launcher_oci_profile p;
	struct ab_err err = {0};
	assert_int_equal(isolation_profile_for("bea", &p, f->iso, &err), 0);
	assert_string_equal(p.spec.user, "bea");
	assert_int_equal(p.spec.role, RUNTIME_ROLE_MEMBER);
	assert_int_equal(p.spec.index, 1); /* second in the table */
	assert_int_equal(p.spec.uid, 1003);
	assert_int_equal(p.spec.gid, 1004);
	assert_int_equal(p.spec.host_id_base, 100000);
	assert_int_equal(p.spec.memory_bytes, 768LL << 20);
	assert_int_equal(p.spec.cpu_millis, 1500);
	assert_int_equal(p.spec.pids_max, 300);
	assert_null(p.spec.caps);
	assert_true(p.spec.read_only_root);
	assert_non_null(p.spec.home_dir);
	assert_non_null(strstr(p.spec.home_dir, "/bea"));
	assert_string_equal(p.spec.apparmor_profile, "argobox-member");
	assert_true(p.has_net);
	assert_int_equal(p.net.role, RUNTIME_ROLE_MEMBER);
	assert_int_equal(p.net.n_lan, 1); /* the IPv6 range is left out */
	assert_int_equal(p.net.lan[0].addr, htonl(0xc0a84d00));
	assert_int_equal(p.net.lan[0].prefix, 24);
	assert_int_equal(p.net.n_services, 1); /* "nowhere" has no address */
	assert_int_equal(p.net.services[0].addr, htonl(0xc0a84d0a));
	assert_int_equal(p.net.services[0].port, 3000);
	assert_int_equal(p.net.services[0].proto, IPPROTO_TCP);

	assert_int_equal(isolation_profile_for("ada", &p, f->iso, &err), 0);
	assert_int_equal(p.spec.role, RUNTIME_ROLE_ADMIN);
	assert_int_equal(p.spec.index, 0);
	assert_false(p.spec.read_only_root);
}

static void
test_unknown_and_demo(void **state)
{
	struct fixture *f = *state;
	struct launcher_oci_profile p;
	struct ab_err err = {0};
	/* Not in the table: refused, and with users configured "local" is nobody either. */
	assert_int_equal(isolation_profile_for("mallory", &p, f->iso, &err), -EPERM);
	assert_non_null(strstr(err.msg, "mallory"));
	assert_int_equal(isolation_profile_for("local", &p, f->iso, &err), -EPERM);
	/* Demo identities: slots after the table's, stable per name, tightest box. */
	assert_int_equal(isolation_profile_for("demo-00000001", &p, f->iso, &err), 0);
	assert_int_equal(p.spec.role, RUNTIME_ROLE_DEMO);
	assert_int_equal(p.spec.index, 2);
	assert_true(p.spec.read_only_root);
	assert_null(p.spec.home_dir);
	assert_int_equal(p.net.n_lan + p.net.n_services, 0);
	assert_int_equal(isolation_profile_for("demo-00000002", &p, f->iso, &err), 0);
	assert_int_equal(p.spec.index, 3);
	assert_int_equal(isolation_profile_for("demo-00000001", &p, f->iso, &err), 0);
	assert_int_equal(p.spec.index, 2);
}

static int
resolve(const char *user, struct isolation_identity *ret, void *data)
{
	if (strcmp(user, "demo-cafe"))
		return -ENOENT;
	ret->role = USERS_ROLE_DEMO;
	ret->profile = NULL;
	ret->uid = ret->gid = 20007;
	return 0;
}

static void
test_resolver(void **state)
{
	struct fixture *f = *state;
	struct launcher_oci_profile p;
	struct ab_err err = {0};
	isolation_set_resolver(f->iso, resolve, NULL);
	assert_int_equal(isolation_profile_for("demo-cafe", &p, f->iso, &err), 0);
	assert_int_equal(p.spec.uid, 20007);
	/* With a resolver, only what it knows is let in. */
	assert_int_equal(isolation_profile_for("demo-beef", &p, f->iso, &err), -EPERM);
}

static void
test_local_without_users(void **state)
{
	struct broker_config cfg;
	struct ab_err err = {0};
	assert_int_equal(load(&cfg, "{\"session\": {\"launcher\": \"process\"}}", &err), 0);
	struct ab_loop *loop = ab_loop_poll_new();
	struct isolation *iso = NULL;
	assert_int_equal(isolation_new(loop, &cfg, NULL, &iso, &err), 0);
	struct launcher_oci_profile p;
	assert_int_equal(isolation_profile_for("local", &p, iso, &err), 0);
	assert_int_equal(p.spec.role, RUNTIME_ROLE_ADMIN);
	assert_int_equal(p.spec.index, 0);
	assert_int_equal(p.spec.uid, 1000);
	assert_true(p.spec.pids_max > 0);
	assert_int_equal(isolation_profile_for("bob", &p, iso, &err), -EPERM);
	isolation_free(iso);
	ab_loop_poll_free(loop);
	ab_config_free(broker_config_fields, &cfg);
}

int
main(void)
{
	audit_open("/dev/null", NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_config),
	    cmocka_unit_test_setup_teardown(test_process_launcher, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_member_profile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_and_demo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolver, setup, teardown),
	    cmocka_unit_test(test_local_without_users),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
