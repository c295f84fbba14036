/* SPDX-License-Identifier: GPL-2.0-or-later */
/* users + auth_config: the shipped sample loads; every bad input names its JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ab_util.h"
#include "auth_config.h"
#include "users.h"

static void
test_sample(void **state)
{
	struct users_db *db = NULL;
	struct ab_err err = {0};
	int r = users_load_file(AB_SOURCE_DIR "/config/argobox.sample.json", &db, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	struct {
		const char *name;
		enum users_role role;
		const char *profile;
		unsigned uid;
	} want[] = {
	    {"daniel", USERS_ROLE_ADMIN, "admin", 1000},
	    {"bogie", USERS_ROLE_MEMBER, "homelabber", 1001},
	    {"mauve", USERS_ROLE_MEMBER, "homelabber", 1002},
	    {"bea", USERS_ROLE_MEMBER, "developer", 1003},
	    {"demo", USERS_ROLE_DEMO, "demo", 1999},
	};
	assert_int_equal(users_count(db), AB_ARRAY_SIZE(want));
	for (size_t i = 0; i < AB_ARRAY_SIZE(want); i++) {
		const struct users_user *u = users_find(db, want[i].name);
		assert_non_null(u);
		assert_int_equal(u->role, want[i].role);
		assert_string_equal(u->profile->name, want[i].profile);
		assert_int_equal(u->uid, want[i].uid);
		assert_int_equal(u->gid, want[i].uid);
	}
	assert_non_null(users_find(db, "bea")->password_hash);
	assert_null(users_find(db, "demo")->password_hash);
	assert_ptr_equal(users_find_email(db, "BEA@argobox.example"), users_find(db, "bea"));
	assert_null(users_find_email(db, "nobody@argobox.example"));
	assert_null(users_find(db, "root"));
	/* every sample profile names its desktop image (containers/rootfs/recipes) */
	assert_string_equal(users_find(db, "daniel")->profile->image, "homelab");
	assert_string_equal(users_find(db, "bea")->profile->image, "developer");
	assert_string_equal(users_find(db, "demo")->profile->image, "demo");
	for (size_t i = 0; i < users_profile_count(db); i++) {
		const struct users_profile *p = users_profile_at(db, i);
		assert_non_null(p->image);
		char recipe[512];
		snprintf(recipe, sizeof(recipe),
		         AB_SOURCE_DIR "/containers/rootfs/recipes/%s.recipe", p->image);
		assert_int_equal(access(recipe, R_OK), 0);
	}

	/* the four demo profiles of the landing page */
	const char *titles[] = {"Homelab", "Developer", "Media", "AI Operations"};
	size_t demos = 0;
	for (size_t i = 0; i < users_profile_count(db); i++) {
		const struct users_profile *p = users_profile_at(db, i);
		if (!p->demo)
			continue;
		assert_string_equal(p->title, titles[demos]);
		assert_true(p->read_only_root);
		assert_false(p->persistent);
		assert_int_equal(p->ttl_minutes, 60);
		demos++;
	}
	assert_int_equal(demos, 4);
	const struct users_profile *hl = users_profile(db, "homelabber");
	assert_int_equal(hl->egress, USERS_EGRESS_LAN);
	assert_int_equal(hl->n_lan, 1);
	assert_string_equal(hl->lan[0].text, "192.168.20.0/24");
	assert_int_equal(hl->lan[0].prefix, 24);
	json_t *j = users_profile_to_json(hl);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "title")), "Homelabber");
	json_decref(j);
	users_free(db);

	/* the sample's auth section is valid too */
	json_t *root = json_load_file(AB_SOURCE_DIR "/config/argobox.sample.json", 0, NULL);
	struct auth_config cfg;
	assert_int_equal(auth_config_load(json_object_get(root, "auth"), &cfg, &err), 0);
	assert_true(cfg.local_enabled);
	assert_false(cfg.access_enabled);
	assert_string_equal(cfg.access_certs_url,
	                    "https://example.cloudflareaccess.com/cdn-cgi/access/certs");
	json_decref(root);
}

/* {users, profiles} with one bad spot → error mentioning `path_part` */
static const struct bad_case {
	const char *json;
	const char *path_part;
} bad_cases[] = {
    {"{\"users\":[], \"profiles\":[]}", "profiles: must be an object"},
    {"{\"users\":{}, \"profiles\":{}}", "users: must be an array"},
    {"{\"users\":[1], \"profiles\":{}}", "users[0]: must be an object"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000}], "
     "\"profiles\":{}}",
     "users[0].profile: no profile named 'p'"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"root\",\"profile\":\"p\",\"uid\":1000}], "
     "\"profiles\":{\"p\":{}}}",
     "users[0].role: 'root' is not one of"},
    {"{\"users\":[{\"name\":\"A b\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000}], "
     "\"profiles\":{\"p\":{}}}",
     "users[0].name: 'A b' is not a valid user name"},
    {"{\"users\":[{\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000}], \"profiles\":{\"p\":{}}}",
     "users[0].name: missing"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":0}], "
     "\"profiles\":{\"p\":{}}}",
     "users[0].uid: 0 is outside"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000,"
     "\"shell\":\"/bin/sh\"}], \"profiles\":{\"p\":{}}}",
     "users[0]: unknown key 'shell'"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000,"
     "\"email\":\"nope\"}], \"profiles\":{\"p\":{}}}",
     "users[0].email: 'nope' is not an email address"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000,"
     "\"password_hash\":\"$1$md5$xx\"}], \"profiles\":{\"p\":{}}}",
     "users[0].password_hash: only yescrypt"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000},"
     "{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1001}], "
     "\"profiles\":{\"p\":{}}}",
     "users[1].name: 'a' is also users[0]"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000},"
     "{\"name\":\"b\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000}], "
     "\"profiles\":{\"p\":{}}}",
     "users[1].uid: 1000 is also"},
    {"{\"users\":[{\"name\":\"a\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1000,"
     "\"email\":\"x@y\"},{\"name\":\"b\",\"role\":\"admin\",\"profile\":\"p\",\"uid\":1001,"
     "\"email\":\"X@y\"}], \"profiles\":{\"p\":{}}}",
     "users[1].email: 'X@y' is also used"},
    {"{\"users\":[{\"name\":\"d\",\"role\":\"demo\",\"profile\":\"p\",\"uid\":1000}], "
     "\"profiles\":{\"p\":{}}}",
     "users[0].profile: the demo role needs a non-persistent profile"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"limits\":{\"memory_mb\":1}}}}",
     "profiles.p.limits.memory_mb: 1 is outside"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"limits\":{\"gpus\":1}}}}",
     "profiles.p.limits: unknown key 'gpus'"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"network\":{\"lan\":[\"10.0.0.0/33\"]}}}}",
     "profiles.p.network.lan[0]: must be a CIDR"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"network\":{\"egress\":\"all\"}}}}",
     "profiles.p.network.egress: 'all' is not one of"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"apps\":[\"ok\", 3]}}}",
     "profiles.p.apps[1]: must be a string"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"apps\":[\"../x\"]}}}",
     "profiles.p.apps[0]: '../x' is not a valid name"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"image\":\"../x\"}}}",
     "profiles.p.image: '../x' is not a recipe name"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"image\":7}}}", "profiles.p.image: must be a string"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"read_only_root\":\"yes\"}}}",
     "profiles.p.read_only_root: must be a boolean"},
    {"{\"users\":[], \"profiles\":{\"p\":{\"demo\":true}}}",
     "profiles.p: a demo profile must have"},
    {"{\"users\":[], \"profiles\":{\"Bad Name\":{}}}", "'Bad Name' is not a valid profile name"},
    {"{\"users\":[], \"profiles\":{\"p\":[]}}", "profiles.p: must be an object"},
};

static void
test_bad_configs(void **state)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad_cases); i++) {
		json_error_t je;
		json_t *root = json_loads(bad_cases[i].json, 0, &je);
		if (!root)
			fail_msg("case %zu is not JSON: %s", i, je.text);
		struct users_db *db = NULL;
		struct ab_err err = {0};
		int r = users_load(json_object_get(root, "users"),
		                   json_object_get(root, "profiles"), &db, &err);
		if (r >= 0 || !strstr(err.msg, bad_cases[i].path_part))
			fail_msg("case %zu: expected '%s', got %d '%s'", i, bad_cases[i].path_part,
			         r, err.msg);
		assert_null(db);
		json_decref(root);
	}
}

static void
test_auth_config(void **state)
{
	struct auth_config cfg;
	struct ab_err err = {0};
	assert_int_equal(auth_config_load(NULL, &cfg, &err), 0);
	assert_int_equal(cfg.local_max_failures_user, 5);
	const struct {
		const char *json;
		const char *msg;
	} bad[] = {
	    {"{\"local\":{\"lockout_minutes\":0}}", "auth: 'local.lockout_minutes' is 0"},
	    {"{\"access\":{\"enabled\":true,\"team\":\"\",\"aud\":\"x\"}}", "auth.access.team"},
	    {"{\"access\":{\"enabled\":true,\"team\":\"t\"}}", "auth.access.aud"},
	    {"{\"access\":{\"enabled\":true,\"team\":\"t\",\"aud\":\"x\",\"certs_url\":"
	     "\"http://evil.example/certs\"}}",
	     "auth.access.certs_url"},
	    {"{\"access\":{\"skew_s\":600}}", "'access.skew_s' is 600"},
	    {"{\"demo\":{\"bogus\":1}}", "unknown key 'demo.bogus'"},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		json_t *j = json_loads(bad[i].json, 0, NULL);
		assert_non_null(j);
		int r = auth_config_load(j, &cfg, &err);
		if (r >= 0 || !strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: expected '%s', got %d '%s'", i, bad[i].msg, r, err.msg);
		json_decref(j);
	}
	json_t *j = json_loads("{\"access\":{\"enabled\":true,\"team\":\"argotest\",\"aud\":\"A\"},"
	                       "\"demo\":{\"ttl_minutes\":2}}",
	                       0, NULL);
	assert_int_equal(auth_config_load(j, &cfg, &err), 0);
	json_decref(j);
	struct jwks_config jc;
	auth_config_jwks(&cfg, &jc);
	assert_string_equal(jc.url, "https://argotest.cloudflareaccess.com/cdn-cgi/access/certs");
	assert_string_equal(jc.policy.iss, "https://argotest.cloudflareaccess.com");
	assert_string_equal(jc.policy.aud, "A");
	struct demo_config dc;
	auth_config_demo(&cfg, &dc);
	assert_int_equal(dc.ttl_ms, 120000);
	struct auth_local_config lc;
	auth_config_local(&cfg, &lc);
	assert_int_equal(lc.lockout_ms, 15 * 60000);
}

AB_TEST_MAIN(NULL, NULL, test_sample, test_bad_configs, test_auth_config);
