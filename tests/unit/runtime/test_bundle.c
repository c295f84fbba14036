/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bundle: spec validation, the generated config.json, /etc, and the seccomp profile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ab_test.h"

#include "ab_util.h"
#include "bundle.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROFILE AB_SOURCE_DIR "/containers/seccomp/default.json"

static const char *const cmd[] = {"/usr/bin/argobox-session", "--ready-fd", "3", NULL};

static struct runtime_spec
member(void)
{
	return (struct runtime_spec){
	    .user = "daniel",
	    .role = RUNTIME_ROLE_MEMBER,
	    .index = 2,
	    .uid = 1000,
	    .gid = 1000,
	    .host_id_base = 100000,
	    .memory_bytes = 512 << 20,
	    .cpu_millis = 1500,
	    .pids_max = 256,
	    .home_dir = "/srv/argobox/home/daniel",
	    .runtime_dir = "/run/argobox/users/daniel",
	    .netns_path = "/run/netns/argobox-daniel",
	    .seccomp_path = PROFILE,
	    .apparmor_profile = "argobox-member",
	    .argv = cmd,
	};
}

static json_t *
find_mount(json_t *config, const char *dest)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(config, "mounts"), i, m)
	{
		if (!strcmp(json_string_value(json_object_get(m, "destination")), dest))
			return m;
	}
	return NULL;
}

static bool
has_option(json_t *mount, const char *opt)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(mount, "options"), i, o)
	{
		if (!strcmp(json_string_value(o), opt))
			return true;
	}
	return false;
}

static void
test_validate(void **state)
{
	struct runtime_spec s = member();
	struct ab_err err = {0};
	assert_int_equal(bundle_spec_validate(&s, &err), 0);

	const char *bad_names[] = {
	    "", "Daniel", "../x", "a/b", "1abc", "x y", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad_names); i++) {
		s = member();
		s.user = bad_names[i];
		assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "invalid user name"));
	}
	s = member();
	s.uid = 0;
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
	s = member();
	s.host_id_base = 1000; /* would overlap the host's own ids */
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
	s = member();
	s.runtime_dir = "relative/dir";
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
	s = member();
	s.home_dir = "/srv/../etc";
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
	s = member();
	s.index = 70000; /* beyond the 32-bit id space */
	assert_int_equal(bundle_spec_validate(&s, &err), -ERANGE);
	s = member();
	s.argv = NULL;
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
	const char *caps[] = {"NET_ADMIN", NULL};
	s = member();
	s.caps = caps;
	assert_int_equal(bundle_spec_validate(&s, &err), -EINVAL);
}

static void
test_config_member(void **state)
{
	struct runtime_spec s = member();
	json_t *c = NULL;
	struct ab_err err = {0};
	assert_int_equal(bundle_config(&s, "/b/etc", &c, &err), 0);

	/* Layer 1: ids map to the user's own host range; all namespaces. */
	json_t *um = json_array_get(json_object_get(json_object_get(c, "linux"), "uidMappings"), 0);
	assert_int_equal(json_integer_value(json_object_get(um, "hostID")), 100000 + 2 * 65536);
	assert_int_equal(json_integer_value(json_object_get(um, "size")), 65536);
	json_t *ns = json_object_get(json_object_get(c, "linux"), "namespaces");
	const char *want[] = {"pid", "ipc", "uts", "mount", "cgroup", "user", "network"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(want); i++) {
		bool found = false;
		size_t j;
		json_t *n;
		json_array_foreach(ns, j, n)
		{
			if (!strcmp(json_string_value(json_object_get(n, "type")), want[i])) {
				found = true;
				if (!strcmp(want[i], "network"))
					assert_string_equal(
					    json_string_value(json_object_get(n, "path")),
					    "/run/netns/argobox-daniel");
			}
		}
		assert_true(found);
	}
	json_t *res = json_object_get(json_object_get(c, "linux"), "resources");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")),
	                 256);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
	    512 << 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
	                 150000);

	/* Layer 3: no capabilities, no_new_privs, seccomp, masked /proc. */
	json_t *proc = json_object_get(c, "process");
	json_t *caps = json_object_get(proc, "capabilities");
	const char *sets[] = {"bounding", "effective", "permitted", "inheritable", "ambient"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(sets); i++)
		assert_int_equal(json_array_size(json_object_get(caps, sets[i])), 0);
	assert_true(json_is_true(json_object_get(proc, "noNewPrivileges")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")),
	                 1000);
	json_t *sc = json_object_get(json_object_get(c, "linux"), "seccomp");
	assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")),
	                    "SCMP_ACT_ALLOW");
	assert_null(json_object_get(sc, "comment"));
	assert_null(json_object_get(sc, "listenerPath"));
	bool kcore = false;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(json_object_get(c, "linux"), "maskedPaths"), i, p)
	{
		kcore |= !strcmp(json_string_value(p), "/proc/kcore");
	}
	assert_true(kcore);
	if (!bundle_apparmor_enabled())
		assert_null(json_object_get(proc, "apparmorProfile"));

	/* Mounts: /sys and /usr recursively read-only, home rw from storage, etc read-only. */
	json_t *m = find_mount(c, "/sys");
	assert_non_null(m);
	assert_true(has_option(m, "rro"));
	assert_true(has_option(find_mount(c, "/usr"), "rro"));
	assert_true(has_option(find_mount(c, "/usr"), "nosuid"));
	m = find_mount(c, "/home/daniel");
	assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
	assert_string_equal(json_string_value(json_object_get(m, "source")),
	                    "/srv/argobox/home/daniel");
	assert_true(has_option(m, "rw"));
	assert_true(has_option(find_mount(c, "/etc"), "ro"));
	assert_string_equal(
	    json_string_value(json_object_get(find_mount(c, "/run/argobox"), "source")),
	    "/run/argobox/users/daniel");
	assert_false(json_is_true(json_object_get(json_object_get(c, "root"), "readonly")));
	json_t *ann = json_object_get(c, "annotations");
	assert_string_equal(json_string_value(json_object_get(ann, "org.argobox.user")), "daniel");
	assert_string_equal(json_string_value(json_object_get(ann, "org.argobox.index")), "2");
	json_decref(c);
}

static void
test_config_demo(void **state)
{
	struct runtime_spec s = member();
	s.user = "guest7";
	s.role = RUNTIME_ROLE_DEMO;
	s.read_only_root = true;
	s.home_dir = NULL;
	s.netns_path = NULL;
	json_t *c = NULL;
	assert_int_equal(bundle_config(&s, "/b/etc", &c, NULL), 0);
	assert_true(json_is_true(json_object_get(json_object_get(c, "root"), "readonly")));
	json_t *m = find_mount(c, "/home/guest7");
	assert_string_equal(json_string_value(json_object_get(m, "type")), "tmpfs");
	assert_true(has_option(m, "uid=1000,gid=1000"));
	assert_true(has_option(m, "size=256m")); /* the default size */
	json_decref(c);
	s.tmp_home_mb = 64; /* runtime.tmp_home_mb */
	assert_int_equal(bundle_config(&s, "/b/etc", &c, NULL), 0);
	m = find_mount(c, "/home/guest7");
	assert_true(has_option(m, "size=64m"));
	assert_false(has_option(m, "size=256m"));
	/* No netns path: a fresh, empty network namespace. */
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(json_object_get(c, "linux"), "namespaces"), i, n)
	{
		assert_null(json_object_get(n, "path"));
	}
	json_decref(c);
}

static void
test_seccomp_listener(void **state)
{
	struct runtime_spec s = member();
	s.seccomp_listener = "/run/argobox/seccomp.sock";
	json_t *c = NULL;
	assert_int_equal(bundle_config(&s, "/b/etc", &c, NULL), 0);
	json_t *sc = json_object_get(json_object_get(c, "linux"), "seccomp");
	assert_string_equal(json_string_value(json_object_get(sc, "listenerPath")),
	                    "/run/argobox/seccomp.sock");
	size_t i;
	json_t *rule;
	int notify = 0, enosys = 0;
	json_array_foreach(json_object_get(sc, "syscalls"), i, rule)
	{
		const char *a = json_string_value(json_object_get(rule, "action"));
		if (!strcmp(a, "SCMP_ACT_NOTIFY"))
			notify++;
		else if (!strcmp(a, "SCMP_ACT_ERRNO"))
			enosys += json_integer_value(json_object_get(rule, "errnoRet")) == ENOSYS;
		else
			fail_msg("unexpected action %s", a);
	}
	assert_true(notify >= 2);
	assert_int_equal(enosys, 1); /* clone3 keeps ENOSYS so libc falls back to clone */
	json_decref(c);
}

static void
test_seccomp_profile(void **state)
{
	/* Every name in the profile is a real syscall and the dangerous ones are denied. */
	json_error_t jerr;
	json_t *p = json_load_file(PROFILE, 0, &jerr);
	assert_non_null(p);
	const char *must[] = {
	    "mount",           "ptrace",      "kexec_load",        "bpf",          "keyctl",
	    "unshare",         "setns",       "init_module",       "finit_module", "delete_module",
	    "perf_event_open", "userfaultfd", "open_by_handle_at", "pivot_root"};
	json_t *names = json_object_get(json_array_get(json_object_get(p, "syscalls"), 0), "names");
	for (size_t i = 0; i < AB_ARRAY_SIZE(must); i++) {
		bool found = false;
		size_t j;
		json_t *n;
		json_array_foreach(names, j, n)
		{
			found |= !strcmp(json_string_value(n), must[i]);
		}
		if (!found)
			fail_msg("'%s' is not denied", must[i]);
	}
	size_t j;
	json_t *n;
	json_array_foreach(names, j, n)
	{
		const char *name = json_string_value(n);
		if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) == __NR_SCMP_ERROR &&
		    seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name) == __NR_SCMP_ERROR)
			fail_msg("unknown syscall '%s' in the profile", name);
	}
	/* clone with each namespace flag is denied. */
	int clone_rules = 0;
	json_t *rule;
	json_array_foreach(json_object_get(p, "syscalls"), j, rule)
	{
		json_t *nm = json_object_get(rule, "names");
		if (json_array_size(nm) == 1 &&
		    !strcmp(json_string_value(json_array_get(nm, 0)), "clone"))
			clone_rules++;
	}
	assert_true(clone_rules >= 7);
	json_decref(p);
}

static void
test_etc(void **state)
{
	char dir[] = "/tmp/ab-bundle-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *etc = ab_xasprintf("%s/etc", dir);
	struct runtime_spec s = member();
	assert_int_equal(bundle_write_etc(&s, etc, NULL), 0);
	_cleanup_free_ char *passwd_path = ab_xasprintf("%s/passwd", etc);
	_cleanup_free_ char *group_path = ab_xasprintf("%s/group", etc);
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	size_t len;
	assert_int_equal(ab_read_file(passwd_path, 65536, &passwd, &len, NULL), 0);
	assert_non_null(strstr(passwd, "daniel:x:1000:1000:daniel:/home/daniel:/bin/bash\n"));
	assert_null(strstr(passwd, "bogie"));
	assert_int_equal(ab_read_file(group_path, 65536, &group, &len, NULL), 0);
	assert_non_null(strstr(group, "daniel:x:1000:\n"));
	assert_int_equal(bundle_remove(dir, NULL), 0);
	assert_int_equal(access(dir, F_OK), -1);
}

static void
test_roles(void **state)
{
	assert_int_equal(runtime_role_from_string("admin"), RUNTIME_ROLE_ADMIN);
	assert_int_equal(runtime_role_from_string("demo"), RUNTIME_ROLE_DEMO);
	assert_int_equal(runtime_role_from_string("root"), -EINVAL);
	assert_string_equal(runtime_role_name(RUNTIME_ROLE_MEMBER), "member");
}

AB_TEST_MAIN(NULL, NULL, test_validate, test_config_member, test_config_demo, test_seccomp_listener,
             test_seccomp_profile, test_etc, test_roles);
